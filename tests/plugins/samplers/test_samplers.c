/* Every sampler plugin over several kernel types: validity and determinism; then each
 * sampler's own promise: random covers each dim's valid values and redraws rather than
 * repairs; prior reproduces the spaces' frequencies; adaptive reproduces the prior's
 * per-dim marginals, mixes in nn-Meter's frequent conv values, and refines exactly
 * around high-error configs. */
#include <criterion/criterion.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <litepred/sampler.h>
#include "lp_test.h"

#define SPACES LP_TEST_SOURCE_DIR "/configs/spaces"
/* Models per space behind each prior: every choice of every space shows up. */
#define PER_SPACE 60
#define N_SAMPLES 2000

static const char *const kernels[] = {"conv-bn-relu", "dwconv-bn-relu", "fc", "se",
                                      "mhsa", "linear", "avgpool"};
#define N_KERNELS (sizeof kernels / sizeof kernels[0])

static lp_prior priors[N_KERNELS];

static void teardown(void)
{
    for (size_t i = 0; i < N_KERNELS; i++)
        lp_prior_free(&priors[i]);
    lp_test_teardown();
}

TestSuite(samplers, .init = lp_test_setup_registry, .fini = teardown);

/* Built on first use: each test runs in its own process. */
static const lp_prior *prior_of(const char *kernel)
{
    for (size_t i = 0; i < N_KERNELS; i++) {
        if (strcmp(kernels[i], kernel))
            continue;
        if (!priors[i].n) {
            lp_err err = {0};
            int rc = lp_prior_build(lp_test_reg, SPACES, kernel, PER_SPACE, 0, &priors[i], &err);
            LP_CHECK(rc == 0 && priors[i].n > 0, "prior of %s: %s", kernel, err.msg);
        }
        return &priors[i];
    }
    cr_assert_fail("no prior slot for %s", kernel);
    return NULL;
}

/* A sampler instance with options kv, set up for kernel with seed (prior may be NULL). */
static lp_instance *make_with(const char *sampler, const char *kv, const char *kernel,
                              uint64_t seed, const lp_prior *prior)
{
    const lp_plugin *p = lp_registry_find(lp_test_reg, LP_KIND_SAMPLER, sampler);
    LP_CHECK(p, "sampler '%s' is not loaded", sampler);
    /* The VAE trains at setup (test_vae.c covers that); a tiny, uncached net keeps these
     * every-sampler checks fast and leaves no files behind. */
    if (!strcmp(sampler, "vae") && (!kv || !*kv))
        kv = "epochs=2,hidden=32,latent=8,cache=none";
    lp_instance *inst = NULL;
    lp_err err = {0};
    LP_CHECK(lp_instance_create_kv(p, kv, &inst, &err) == 0, "%s %s: %s", sampler, kv, err.msg);
    lp_sampler_ctx ctx;
    lp_sampler_ctx_init(&ctx, kernel, lp_test_kernel(kernel), seed, prior);
    LP_CHECK(lp_sampler_setup(inst, &ctx, &err) == 0, "%s for %s: %s", sampler, kernel, err.msg);
    return inst;
}

static lp_instance *make(const char *sampler, const char *kv, const char *kernel, uint64_t seed)
{
    return make_with(sampler, kv, kernel, seed, prior_of(kernel));
}

/* n configs through the core wrapper (which checks validity), checked again here. */
static lp_kcfg *draw(lp_instance *inst, const char *kernel, size_t n)
{
    const lp_kernel_ops *o = lp_test_kernel(kernel);
    lp_kcfg *out = calloc(n ? n : 1, sizeof *out);
    lp_err err = {0};
    LP_CHECK(out, "out of memory");
    LP_CHECK(lp_sampler_sample(inst, o, n, out, &err) == 0, "%s %s: %s", inst->desc->name, kernel, err.msg);
    for (size_t i = 0; i < n; i++) {
        char text[256];
        lp_kcfg_format(o->dims, o->n_dims, &out[i], text, sizeof text);
        LP_CHECK(o->valid(&out[i], &err) == 0, "%s %s drew %s: %s", inst->desc->name, kernel, text, err.msg);
    }
    return out;
}

/* ---- every sampler -------------------------------------------------------- */

Test(samplers, every_sampler_is_valid_and_deterministic)
{
    size_t n_samplers = 0;
    for (size_t r = 0; r < lp_registry_count(lp_test_reg); r++) {
        const lp_plugin_desc *d = lp_plugin_descriptor(lp_registry_at(lp_test_reg, r));
        if (d->kind != LP_KIND_SAMPLER)
            continue;
        n_samplers++;
        for (size_t k = 0; k < N_KERNELS; k++) {
            lp_instance *a = make(d->name, NULL, kernels[k], 1);
            lp_instance *b = make(d->name, NULL, kernels[k], 1);
            lp_instance *c = make(d->name, NULL, kernels[k], 2);
            lp_kcfg *x = draw(a, kernels[k], N_SAMPLES), *z = draw(c, kernels[k], N_SAMPLES);
            /* The same stream however it is split into calls. */
            static const size_t chunks[] = {1, 7, 992, 1000};
            lp_kcfg *y = calloc(N_SAMPLES, sizeof *y);
            for (size_t i = 0, at = 0; i < 4; at += chunks[i++]) {
                lp_kcfg *part = draw(b, kernels[k], chunks[i]);
                memcpy(y + at, part, chunks[i] * sizeof *part);
                free(part);
            }
            LP_CHECK(!memcmp(x, y, N_SAMPLES * sizeof *x), "%s %s: same seed, different configs",
                     d->name, kernels[k]);
            LP_CHECK(memcmp(x, z, N_SAMPLES * sizeof *x),
                     "%s %s: seeds 1 and 2 gave the same configs",
                     d->name, kernels[k]);
            free(x);
            free(y);
            free(z);
            lp_instance_destroy(a);
            lp_instance_destroy(b);
            lp_instance_destroy(c);
        }
    }
    cr_assert_geq(n_samplers, 3, "random, prior and adaptive should be loaded");
}

Test(samplers, setup_errors)
{
    lp_err err = {0};
    lp_sampler_ctx ctx;
    lp_instance *inst = NULL;
    lp_sampler_ctx_init(&ctx, "conv-bn-relu", lp_test_kernel("conv-bn-relu"), 0, NULL);
    /* prior and adaptive need a prior; random does not, unless bounds=prior. */
    static const char *const need[][2] = {{"prior", NULL}, {"adaptive", NULL}, {"random", "bounds=prior"}};
    for (size_t i = 0; i < 3; i++) {
        const lp_plugin *p = lp_registry_find(lp_test_reg, LP_KIND_SAMPLER, need[i][0]);
        cr_assert_eq(lp_instance_create_kv(p, need[i][1], &inst, &err), 0, "%s", err.msg);
        cr_assert_eq(lp_sampler_setup(inst, &ctx, &err), LP_EINVAL, "%s", need[i][0]);
        cr_assert(strstr(err.msg, "conv-bn-relu"), "%s", err.msg);
        lp_kcfg c;
        cr_assert_lt(lp_sampler_sample(inst, ctx.kernel, 1, &c, &err), 0, "%s sampled unset", need[i][0]);
        lp_instance_destroy(inst);
    }
    lp_instance *r = make_with("random", NULL, "conv-bn-relu", 0, NULL);
    free(draw(r, "conv-bn-relu", 10));
    lp_instance_destroy(r);
    /* The wrappers refuse an instance of another kind. */
    const lp_plugin *k = lp_registry_find(lp_test_reg, LP_KIND_KERNEL, "fc");
    cr_assert_eq(lp_instance_create_kv(k, NULL, &inst, &err), 0, "%s", err.msg);
    cr_assert_eq(lp_sampler_setup(inst, &ctx, &err), LP_EINVAL);
    cr_assert(strstr(err.msg, "not a sampler"), "%s", err.msg);
    lp_instance_destroy(inst);
}

/* ---- random ------------------------------------------------------------------ */

static size_t dim_count(const lp_dim *d)
{
    return d->values ? d->n_values : (size_t)((d->max - d->min) / (d->step > 0 ? d->step : 1) + 1);
}

/* Small dims: every valid value (so min and max) is drawn. Ranges: the mean sits in the
 * middle, within 5% of the range (the mean of 2000 uniform draws is within 0.6% at 1 sigma). */
Test(samplers, random_covers_each_dim)
{
    for (size_t k = 0; k < N_KERNELS; k++) {
        const lp_kernel_ops *o = lp_test_kernel(kernels[k]);
        lp_instance *inst = make("random", NULL, kernels[k], 5);
        lp_kcfg *x = draw(inst, kernels[k], N_SAMPLES);
        for (size_t d = 0; d < o->n_dims; d++) {
            const lp_dim *dim = &o->dims[d];
            /* se's c and cse are coupled (cse <= c): see random_redraws_rather_than_repairs. */
            if (!strcmp(kernels[k], "se") && (!strcmp(dim->name, "c") || !strcmp(dim->name, "cse")))
                continue;
            size_t count = dim_count(dim);
            int32_t mn = INT32_MAX, mx = INT32_MIN;
            double mean = 0;
            for (size_t i = 0; i < N_SAMPLES; i++) {
                mn = x[i].v[d] < mn ? x[i].v[d] : mn;
                mx = x[i].v[d] > mx ? x[i].v[d] : mx;
                mean += x[i].v[d] / (double)N_SAMPLES;
            }
            int32_t lo = dim->values ? dim->values[0] : dim->min;
            int32_t hi = dim->values ? dim->values[dim->n_values - 1] : dim->max;
            if (count <= 32) {
                LP_CHECK(mn == lo && mx == hi, "%s %s: drew [%d, %d] of [%d, %d]", kernels[k], dim->name,
                         mn, mx, lo, hi);
                for (size_t v = 0; v < count; v++) {
                    int32_t want = dim->values ? dim->values[v] : dim->min + (int32_t)v * (dim->step > 0 ? dim->step : 1);
                    size_t hits = 0;
                    for (size_t i = 0; i < N_SAMPLES; i++)
                        hits += x[i].v[d] == want;
                    LP_CHECK(hits > 0, "%s %s=%d never drawn", kernels[k], dim->name, want);
                }
            } else {
                double mid = (lo + hi) / 2.0;
                LP_CHECK(fabs(mean - mid) < 0.05 * (hi - lo), "%s %s: mean %.1f, middle %.1f",
                         kernels[k], dim->name, mean, mid);
            }
        }
        free(x);
        lp_instance_destroy(inst);
    }
}

/* Redrawing keeps the valid configs uniform; repair() would pile mass up. se: with cse <= c,
 * uniform valid pairs have E[c] = 2/3 of the range (repair: 1/2) and almost never cse = c
 * (repair: half the draws). conv: s = 4 is 0.2 / 0.65 = 30.8% of valid (k, s) pairs (repair,
 * which turns s = 16 into 4 unless k = 16: 40%). */
Test(samplers, random_redraws_rather_than_repairs)
{
    lp_instance *se = make("random", NULL, "se", 3);
    const lp_kernel_ops *o = lp_test_kernel("se");
    size_t c = lp_test_dim(o, "c"), cse = lp_test_dim(o, "cse");
    lp_kcfg *x = draw(se, "se", 20000);
    double mean_c = 0, diag = 0, range = o->dims[c].max - o->dims[c].min;
    for (size_t i = 0; i < 20000; i++) {
        mean_c += x[i].v[c] / 20000.0;
        diag += x[i].v[c] == x[i].v[cse];
    }
    cr_assert_float_eq(mean_c, 2.0 / 3.0 * range, 0.02 * range, "E[c] = %.1f", mean_c);
    cr_assert_lt(diag / 20000.0, 0.01, "cse == c in %.0f of 20000 draws", diag);
    free(x);
    lp_instance_destroy(se);

    lp_instance *conv = make("random", NULL, "conv-bn-relu", 3);
    o = lp_test_kernel("conv-bn-relu");
    size_t s = lp_test_dim(o, "s");
    x = draw(conv, "conv-bn-relu", 20000);
    double s4 = 0;
    for (size_t i = 0; i < 20000; i++)
        s4 += x[i].v[s] == 4;
    cr_assert_float_eq(s4 / 20000.0, 0.2 / 0.65, 0.02, "s=4 share %.3f", s4 / 20000.0);
    free(x);
    lp_instance_destroy(conv);
}

Test(samplers, random_prior_bounds_stay_within_the_prior)
{
    for (size_t k = 0; k < N_KERNELS; k++) {
        const lp_kernel_ops *o = lp_test_kernel(kernels[k]);
        const lp_prior *p = prior_of(kernels[k]);
        lp_instance *inst = make("random", "bounds=prior", kernels[k], 4);
        lp_kcfg *x = draw(inst, kernels[k], N_SAMPLES);
        for (size_t d = 0; d < o->n_dims; d++) {
            int32_t mn = INT32_MAX, mx = INT32_MIN;
            for (size_t i = 0; i < p->n; i++) {
                mn = p->cfgs[i].v[d] < mn ? p->cfgs[i].v[d] : mn;
                mx = p->cfgs[i].v[d] > mx ? p->cfgs[i].v[d] : mx;
            }
            for (size_t i = 0; i < N_SAMPLES; i++)
                LP_CHECK(x[i].v[d] >= mn && x[i].v[d] <= mx,
                         "%s %s=%d outside the prior's [%d, %d]",
                         kernels[k], o->dims[d].name, x[i].v[d], mn, mx);
        }
        free(x);
        lp_instance_destroy(inst);
    }
}

/* ---- prior ------------------------------------------------------------------- */

static size_t count_equal(const lp_kcfg *x, size_t n, const lp_kcfg *c)
{
    size_t hits = 0;
    for (size_t i = 0; i < n; i++)
        hits += !memcmp(&x[i], c, sizeof *c);
    return hits;
}

/* The 5 most frequent configs come out with their prior weights, within 5 binomial
 * standard deviations plus 0.002 (the draw is seeded, so this is not flaky). */
Test(samplers, prior_reproduces_the_top_frequencies)
{
    const size_t n = 20000;
    for (size_t k = 0; k < N_KERNELS; k++) {
        const lp_prior *p = prior_of(kernels[k]);
        lp_instance *inst = make("prior", NULL, kernels[k], 6);
        lp_kcfg *x = draw(inst, kernels[k], n);
        for (size_t r = 0; r < 5 && r < p->n; r++) {
            double w = p->weights[r], got = count_equal(x, n, &p->cfgs[r]) / (double)n;
            double tol = 5 * sqrt(w * (1 - w) / n) + 0.002;
            LP_CHECK(fabs(got - w) <= tol, "%s row %zu: drawn %.4f, prior %.4f (tolerance %.4f)",
                     kernels[k], r, got, w, tol);
        }
        for (size_t i = 0; i < n; i += 97) /* every draw is a prior config */
            LP_CHECK(count_equal(p->cfgs, p->n, &x[i]) == 1, "%s draw %zu is not in the prior", kernels[k], i);
        free(x);
        lp_instance_destroy(inst);
    }
}

/* unique: each pass is a permutation of the distinct configs, frequent ones early. */
Test(samplers, prior_unique_draws_without_replacement)
{
    const lp_prior *p = prior_of("se");
    lp_instance *inst = make("prior", "unique=true", "se", 8);
    for (int pass = 0; pass < 2; pass++) {
        lp_kcfg *x = draw(inst, "se", p->n);
        double early = 0, late = 0;
        for (size_t i = 0; i < p->n; i++) {
            LP_CHECK(count_equal(x, p->n, &p->cfgs[i]) == 1,
                     "pass %d: prior row %zu drawn %zu times",
                     pass, i, count_equal(x, p->n, &p->cfgs[i]));
            for (size_t r = 0; r < p->n; r++)
                if (!memcmp(&x[i], &p->cfgs[r], sizeof x[i]))
                    *(i < p->n / 2 ? &early : &late) += p->weights[r];
        }
        cr_assert_gt(early, late, "pass %d: first half weighs %.3f, second %.3f", pass, early, late);
        free(x);
    }
    lp_instance_destroy(inst);
}

/* jitter moves range dims by at most the factor (and a rounding), keeps k, s and act. */
Test(samplers, prior_jitter_stays_near_prior_configs)
{
    const lp_kernel_ops *o = lp_test_kernel("conv-bn-relu");
    const lp_prior *p = prior_of("conv-bn-relu");
    lp_instance *plain = make("prior", NULL, "conv-bn-relu", 9);
    lp_instance *jit = make("prior", "jitter=0.2", "conv-bn-relu", 9);
    lp_kcfg *x = draw(plain, "conv-bn-relu", N_SAMPLES), *y = draw(jit, "conv-bn-relu", N_SAMPLES);
    /* Same seed: both draw the same first base config (jitter's own draws come after it),
     * so y[0] is x[0] jittered; later streams drift apart. */
    size_t moved = 0, in_prior = 0;
    for (size_t i = 0; i < N_SAMPLES; i++) {
        in_prior += count_equal(p->cfgs, p->n, &y[i]) > 0;
        moved += memcmp(&x[i], &y[i], sizeof x[i]) != 0;
    }
    for (size_t d = 0; d < o->n_dims; d++) {
        const lp_dim *dim = &o->dims[d];
        if (dim->values || dim->labels)
            LP_CHECK(y[0].v[d] == x[0].v[d], "jitter moved %s", dim->name);
        else
            LP_CHECK(y[0].v[d] >= floor(0.8 * x[0].v[d]) - 1 && y[0].v[d] <= ceil(1.2 * x[0].v[d]) + 1,
                     "%s: %d jittered to %d", dim->name, x[0].v[d], y[0].v[d]);
    }
    cr_assert_gt(moved, N_SAMPLES / 2, "jitter moved only %zu of %d", moved, N_SAMPLES);
    cr_assert_lt(in_prior, N_SAMPLES / 2, "%zu of %d jittered configs are prior configs", in_prior, N_SAMPLES);
    free(x);
    free(y);
    lp_instance_destroy(plain);
    lp_instance_destroy(jit);
}

/* ---- adaptive ---------------------------------------------------------------- */

#define BINS 40

/* Weighted histogram of dim d over BINS equal bins of [lo, hi] (the last bin closed). */
static void hist(const lp_kcfg *c, const double *w, size_t n, size_t d, double lo, double hi,
                 double *out)
{
    double width = (hi - lo) / BINS, total = 0;
    memset(out, 0, BINS * sizeof *out);
    for (size_t i = 0; i < n; i++) {
        size_t b = width > 0 ? (size_t)((c[i].v[d] - lo) / width) : 0;
        out[b < BINS ? b : BINS - 1] += w ? w[i] : 1.0;
        total += w ? w[i] : 1.0;
    }
    for (size_t b = 0; b < BINS; b++)
        out[b] /= total;
}

/* Per-dim marginals of 20000 draws against the prior's 40-bin histograms: total variation
 * below 0.04 for every dim drawn from the histogram alone (not hw, k or s, which are snapped
 * to nn-Meter's sets). A dim spanning at most 20 values gives each its own bins, so there
 * the check is on exact values. */
Test(samplers, adaptive_histogram_reproduces_prior_marginals)
{
    const size_t n = 20000;
    for (size_t k = 0; k < N_KERNELS; k++) {
        const lp_kernel_ops *o = lp_test_kernel(kernels[k]);
        const lp_prior *p = prior_of(kernels[k]);
        lp_instance *inst = make("adaptive", "prior_share=1", kernels[k], 10);
        lp_kcfg *x = draw(inst, kernels[k], n);
        for (size_t d = 0; d < o->n_dims; d++) {
            const char *name = o->dims[d].name;
            if (!strcmp(name, "hw") || !strcmp(name, "k") || !strcmp(name, "s"))
                continue;
            /* se's cse is redrawn when above c: its marginal is conditioned; c likewise. */
            if (!strcmp(kernels[k], "se") && strcmp(name, "act"))
                continue;
            double lo = INFINITY, hi = -INFINITY, tv = 0, want[BINS], got[BINS];
            for (size_t i = 0; i < p->n; i++) {
                lo = fmin(lo, p->cfgs[i].v[d]);
                hi = fmax(hi, p->cfgs[i].v[d]);
            }
            if (hi - lo <= 20) { /* exact values */
                for (int32_t v = (int32_t)lo; v <= (int32_t)hi; v++) {
                    double pw = 0, sw = 0;
                    for (size_t i = 0; i < p->n; i++)
                        pw += p->cfgs[i].v[d] == v ? p->weights[i] : 0;
                    for (size_t i = 0; i < n; i++)
                        sw += x[i].v[d] == v;
                    tv += fabs(pw - sw / n) / 2;
                }
            } else {
                hist(p->cfgs, p->weights, p->n, d, lo, hi, want);
                hist(x, NULL, n, d, lo, hi, got);
                for (size_t b = 0; b < BINS; b++)
                    tv += fabs(want[b] - got[b]) / 2;
            }
            LP_CHECK(tv < 0.04, "%s %s: total variation %.4f from the prior's histogram",
                     kernels[k],
                     name, tv);
        }
        free(x);
        lp_instance_destroy(inst);
    }
}

static int in_set(int32_t v, const int32_t *set, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (set[i] == v)
            return 1;
    return 0;
}

/* hw, k, s snap to nn-Meter's sets; with prior_share=0 conv-like kernels draw them all from
 * the frequent values (hw 112/56/28 at 20/40/40%, k 5/7 at 40/60%, s 2/1 at 40/60%). */
Test(samplers, adaptive_snaps_and_mixes_nn_meter_values)
{
    static const int32_t hw_set[] = {1, 3, 7, 8, 13, 14, 27, 28, 32, 56, 112, 224};
    static const int32_t k_set[] = {1, 3, 5, 7}, s_set[] = {1, 2, 4};
    static const char *const spatial[] = {"conv-bn-relu", "dwconv-bn-relu", "se", "avgpool"};
    for (size_t t = 0; t < 4; t++) {
        const lp_kernel_ops *o = lp_test_kernel(spatial[t]);
        lp_instance *inst = make("adaptive", NULL, spatial[t], 11);
        lp_kcfg *x = draw(inst, spatial[t], N_SAMPLES);
        size_t hw = lp_test_dim(o, "hw");
        for (size_t i = 0; i < N_SAMPLES; i++)
            LP_CHECK(in_set(x[i].v[hw], hw_set, 12), "%s hw=%d", spatial[t], x[i].v[hw]);
        if (t != 2) { /* se has no window */
            size_t kd = lp_test_dim(o, "k"), sd = lp_test_dim(o, "s");
            for (size_t i = 0; i < N_SAMPLES; i++)
                LP_CHECK(in_set(x[i].v[kd], k_set, 4) && in_set(x[i].v[sd], s_set, 3),
                         "%s k=%d s=%d",
                         spatial[t], x[i].v[kd], x[i].v[sd]);
        }
        free(x);
        lp_instance_destroy(inst);
    }
    const lp_kernel_ops *o = lp_test_kernel("conv-bn-relu");
    lp_instance *inst = make("adaptive", "prior_share=0", "conv-bn-relu", 12);
    const size_t n = 20000;
    lp_kcfg *x = draw(inst, "conv-bn-relu", n);
    static const struct {
        const char *dim;
        int32_t v;
        double p;
    } want[] = {{"hw", 112, 0.2}, {"hw", 56, 0.4}, {"hw", 28, 0.4}, {"k", 5, 0.4},
                {"k", 7, 0.6},    {"s", 2, 0.4},   {"s", 1, 0.6}};
    for (size_t w = 0; w < sizeof want / sizeof *want; w++) {
        size_t d = lp_test_dim(o, want[w].dim), hits = 0;
        for (size_t i = 0; i < n; i++)
            hits += x[i].v[d] == want[w].v;
        cr_assert_float_eq(hits / (double)n, want[w].p, 0.02, "%s=%d: %.3f", want[w].dim, want[w].v,
                           hits / (double)n);
    }
    free(x);
    lp_instance_destroy(inst);
}

/* Feed back errors above 0.1 on exactly the configs whose cin is within 10% of one value:
 * the next per_config * (their number) samples all derive from them, in order. */
Test(samplers, adaptive_refines_around_high_error_configs)
{
    const char *kernel = "conv-bn-relu";
    const lp_kernel_ops *o = lp_test_kernel(kernel);
    size_t cin = lp_test_dim(o, "cin"), cout = lp_test_dim(o, "cout");
    lp_instance *inst = make("adaptive", NULL, kernel, 13);
    lp_kcfg *x = draw(inst, kernel, 1000);
    double *e = malloc(1000 * sizeof *e);
    int32_t c0 = x[0].v[cin];
    size_t n_high = 0, *high = malloc(1000 * sizeof *high);
    for (size_t i = 0; i < 1000; i++) {
        int near = abs(x[i].v[cin] - c0) * 10 <= c0;
        e[i] = near ? 0.25 + 0.001 * (double)(i % 7) : 0.1 * (double)(i % 11) / 10.0;
        if (near)
            high[n_high++] = i;
    }
    cr_assert_gt(n_high, 0);
    lp_err err = {0};
    int queued = lp_sampler_feedback(inst, x, e, 1000, &err);
    cr_assert_eq(queued, (int)(10 * n_high), "queued %d for %zu high-error configs: %s", queued, n_high,
                 err.msg);
    lp_kcfg *y = draw(inst, kernel, (size_t)queued + 200);
    for (size_t j = 0; j < (size_t)queued; j++) {
        const lp_kcfg *base = &x[high[j / 10]], *c = &y[j];
        for (size_t d = 0; d < o->n_dims; d++)
            if (d != cin && d != cout)
                LP_CHECK(c->v[d] == base->v[d], "spawn %zu changed %s", j, o->dims[d].name);
        for (size_t d = cin; d <= cout; d++) /* [0.5 C, 1.2 C): 2v >= C and 5v < 6C */
            LP_CHECK(2 * c->v[d] >= base->v[d] && 5 * c->v[d] < 6 * base->v[d], "spawn %zu: %s=%d from %d",
                     j, o->dims[d].name, c->v[d], base->v[d]);
        /* Without replacement, as nn-Meter: a base with room for 10 values repeats none. */
        int32_t b = base->v[cin];
        if (j % 10 == 0 && (6 * b + 4) / 5 - (b + 1) / 2 >= 10)
            for (size_t u = j; u < j + 10; u++)
                for (size_t w = u + 1; w < j + 10; w++)
                    LP_CHECK(y[u].v[cin] != y[w].v[cin], "spawns %zu and %zu share cin=%d", u, w, y[u].v[cin]);
    }
    /* Then prior sampling again: not all of the next 200 derive from the high-error configs. */
    size_t derived = 0;
    for (size_t j = (size_t)queued; j < (size_t)queued + 200; j++)
        derived += 20 * y[j].v[cin] >= 9 * c0 && 100 * y[j].v[cin] < 132 * c0;
    cr_assert_lt(derived, 200);
    free(x);
    free(y);
    free(e);
    free(high);
    lp_instance_destroy(inst);
}

/* Kernel types without hw/cin/cout: the width dims move within [0.5 v, 1.2 v), the others
 * (hw, tokens, enums) are kept. */
Test(samplers, adaptive_refines_width_dims_of_every_kernel)
{
    static const struct {
        const char *kernel, *widths;
    } cases[] = {{"dwconv-bn-relu", ",cin,"}, {"fc", ",cin,cout,"}, {"se", ",c,cse,"},
                 {"mhsa", ",e,h,d,"},          {"linear", ",cin,cout,"}, {"avgpool", ",cin,"}};
    for (size_t t = 0; t < sizeof cases / sizeof *cases; t++) {
        const lp_kernel_ops *o = lp_test_kernel(cases[t].kernel);
        lp_instance *inst = make("adaptive", "per_config=20", cases[t].kernel, 14);
        lp_kcfg *x = draw(inst, cases[t].kernel, 50);
        double e[50];
        for (size_t i = 0; i < 50; i++)
            e[i] = i % 5 == 0 ? 0.5 : 0.01;
        lp_err err = {0};
        cr_assert_eq(lp_sampler_feedback(inst, x, e, 50, &err), 200, "%s: %s", cases[t].kernel, err.msg);
        lp_kcfg *y = draw(inst, cases[t].kernel, 200);
        for (size_t j = 0; j < 200; j++) {
            const lp_kcfg *base = &x[(j / 20) * 5];
            for (size_t d = 0; d < o->n_dims; d++) {
                char key[32];
                snprintf(key, sizeof key, ",%s,", o->dims[d].name);
                int32_t v = y[j].v[d], b = base->v[d];
                if (!strstr(cases[t].widths, key))
                    LP_CHECK(v == b, "%s spawn %zu changed %s", cases[t].kernel, j,
                             o->dims[d].name);
                else
                    LP_CHECK((2 * v >= b && 5 * v < 6 * b) || v == b, "%s spawn %zu: %s=%d from %d",
                             cases[t].kernel, j, o->dims[d].name, v, b);
            }
        }
        free(x);
        free(y);
        lp_instance_destroy(inst);
    }
}

/* Errors at or below the threshold spawn nothing: the stream goes on exactly as if no
 * feedback had been given. */
Test(samplers, adaptive_low_errors_spawn_nothing)
{
    lp_instance *a = make("adaptive", NULL, "conv-bn-relu", 15);
    lp_instance *b = make("adaptive", NULL, "conv-bn-relu", 15);
    lp_kcfg *x = draw(a, "conv-bn-relu", 500), *x2 = draw(b, "conv-bn-relu", 500);
    double e[500];
    for (size_t i = 0; i < 500; i++)
        e[i] = 0.1 * (double)i / 499.0; /* up to exactly 0.1 */
    lp_err err = {0};
    cr_assert_eq(lp_sampler_feedback(a, x, e, 500, &err), 0, "%s", err.msg);
    lp_kcfg *y = draw(a, "conv-bn-relu", 500), *y2 = draw(b, "conv-bn-relu", 500);
    cr_assert_eq(memcmp(y, y2, 500 * sizeof *y), 0);
    free(x);
    free(x2);
    free(y);
    free(y2);
    lp_instance_destroy(a);
    lp_instance_destroy(b);
}

/* Bad feedback fails whole: nothing is queued. */
Test(samplers, adaptive_rejects_bad_feedback)
{
    lp_instance *a = make("adaptive", NULL, "se", 16);
    lp_instance *b = make("adaptive", NULL, "se", 16);
    lp_kcfg *x = draw(a, "se", 3);
    free(draw(b, "se", 3));
    double e[3] = {0.5, NAN, 0.5};
    lp_err err = {0};
    cr_assert_eq(lp_sampler_feedback(a, x, e, 3, &err), LP_EINVAL);
    cr_assert(strstr(err.msg, "feedback 1"), "%s", err.msg);
    e[1] = 0.5;
    const lp_kernel_ops *se = lp_test_kernel("se");
    x[2].v[lp_test_dim(se, "cse")] = x[2].v[lp_test_dim(se, "c")] + 1;
    cr_assert_eq(lp_sampler_feedback(a, x, e, 3, &err), LP_EINVAL);
    cr_assert(strstr(err.msg, "feedback 2") && strstr(err.msg, "cse"), "%s", err.msg);
    lp_kcfg *y = draw(a, "se", 50), *y2 = draw(b, "se", 50);
    cr_assert_eq(memcmp(y, y2, 50 * sizeof *y), 0, "a rejected feedback changed the stream");
    /* Samplers without feedback() take it as a no-op. */
    lp_instance *r = make("random", NULL, "se", 16);
    cr_assert_eq(lp_sampler_feedback(r, y, e, 3, &err), 0);
    lp_instance_destroy(r);
    free(x);
    free(y);
    free(y2);
    lp_instance_destroy(a);
    lp_instance_destroy(b);
}
