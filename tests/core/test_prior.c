/* lp_prior: the frequency-weighted configs of a kernel type over the shipped spaces.
 * Weights, ordering, determinism, agreement with `litepred space configs`, errors and speed. */
#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <litepred/sampler.h>
#include "lp_test.h"

#define SPACES LP_TEST_SOURCE_DIR "/configs/spaces"

TestSuite(prior, .init = lp_test_setup_registry, .fini = lp_test_teardown);

static lp_prior build(const char *dir, const char *kernel, size_t per_space, uint64_t seed)
{
    lp_prior p;
    lp_err err = {0};
    int rc = lp_prior_build(lp_test_reg, dir, kernel, per_space, seed, &p, &err);
    cr_assert_eq(rc, 0, "%s: %s", kernel, err.msg);
    return p;
}

static size_t n_space_files(void)
{
    char **files = NULL;
    size_t n = 0;
    lp_err err = {0};
    cr_assert_eq(lp_space_files(SPACES, &files, &n, &err), 0, "%s", err.msg);
    lp_strv_free(files, n);
    return n;
}

Test(prior, weights_sum_to_one_and_rows_are_sorted)
{
    static const char *const kernels[] = {"conv-bn-relu", "dwconv-bn-relu", "se", "fc", "linear", "mhsa"};
    for (size_t t = 0; t < sizeof kernels / sizeof *kernels; t++) {
        lp_prior p = build(SPACES, kernels[t], 40, 1);
        const lp_kernel_ops *o = lp_test_kernel(kernels[t]);
        cr_assert_gt(p.n, 0, "%s has no configs", kernels[t]);
        cr_assert_eq(p.n_models, 40 * n_space_files());
        double wsum = 0;
        uint64_t csum = 0;
        for (size_t i = 0; i < p.n; i++) {
            wsum += p.weights[i];
            csum += p.counts[i];
            cr_assert_eq(o->valid(&p.cfgs[i], NULL), 0, "%s row %zu invalid", kernels[t], i);
            if (i)
                cr_assert_geq(p.counts[i - 1], p.counts[i], "%s rows not sorted by count", kernels[t]);
            if (i && p.counts[i - 1] == p.counts[i])
                cr_assert_neq(memcmp(&p.cfgs[i - 1], &p.cfgs[i], sizeof p.cfgs[i]), 0,
                              "%s: duplicate row %zu", kernels[t], i);
        }
        cr_assert_float_eq(wsum, 1.0, 1e-9, "%s weights sum to %.12f", kernels[t], wsum);
        cr_assert_eq(csum, p.total);
        lp_prior_free(&p);
        cr_assert_eq(p.n, 0);
    }
}

Test(prior, deterministic_per_seed)
{
    lp_prior a = build(SPACES, "conv-bn-relu", 30, 7), b = build(SPACES, "conv-bn-relu", 30, 7);
    lp_prior c = build(SPACES, "conv-bn-relu", 30, 8);
    cr_assert_eq(a.n, b.n);
    cr_assert_eq(a.total, b.total);
    cr_assert_eq(memcmp(a.cfgs, b.cfgs, a.n * sizeof *a.cfgs), 0);
    cr_assert_eq(memcmp(a.counts, b.counts, a.n * sizeof *a.counts), 0);
    int differs = a.n != c.n || memcmp(a.cfgs, c.cfgs, a.n * sizeof *a.cfgs) ||
                  memcmp(a.counts, c.counts, a.n * sizeof *a.counts);
    cr_assert(differs, "seeds 7 and 8 gave the same prior");
    lp_prior_free(&a);
    lp_prior_free(&b);
    lp_prior_free(&c);
}

/* The CSV `space configs` prints, rebuilt from a prior. */
static char *to_csv(const lp_kernel_ops *o, const lp_prior *p)
{
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    cr_assert_not_null(f);
    for (size_t d = 0; d < o->n_dims; d++)
        fprintf(f, "%s,", o->dims[d].name);
    fprintf(f, "count,weight\n");
    for (size_t r = 0; r < p->n; r++) {
        for (size_t d = 0; d < o->n_dims; d++) {
            int32_t v = p->cfgs[r].v[d];
            if (o->dims[d].labels)
                fprintf(f, "%s,", o->dims[d].labels[v]);
            else
                fprintf(f, "%d,", v);
        }
        fprintf(f, "%llu,%.6f\n", (unsigned long long)p->counts[r], (double)p->counts[r] / p->total);
    }
    fclose(f);
    return buf;
}

static void expect_matches_cli(const char *space, const char *kernel, int n, int seed)
{
    char *dir = lp_test_tmpdir(), *src = NULL, *dst = NULL, args[512], *out = NULL;
    cr_assert_geq(asprintf(&src, "%s/%s.yaml", SPACES, space), 0);
    cr_assert_geq(asprintf(&dst, "%s/%s.yaml", dir, space), 0);
    cr_assert_eq(symlink(src, dst), 0);
    /* lp_prior_build over a directory holding just this space. */
    lp_prior p = build(dir, kernel, (size_t)n, (uint64_t)seed);
    snprintf(args, sizeof args, "--quiet space configs %s --kernel %s -n %d --seed %d", src, kernel,
             n, seed);
    cr_assert_eq(lp_test_cli(args, &out), 0, "%s", out);
    char *mine = to_csv(lp_test_kernel(kernel), &p);
    cr_assert_str_eq(mine, out, "%s %s: prior and `space configs` differ", space, kernel);
    cr_assert_eq(p.n_models, (uint64_t)n);
    free(mine);
    free(out);
    lp_prior_free(&p);
    free(src);
    free(dst);
    lp_test_rmtree(dir);
    free(dir);
}

Test(prior, counts_match_space_configs_cli)
{
    expect_matches_cli("ofa-mbv3-w1.0", "conv-bn-relu", 60, 3);
    expect_matches_cli("ofa-mbv3-w1.0", "se", 60, 3);
    expect_matches_cli("autoformer-tiny", "linear", 25, 9);
}

Test(prior, pooling_spaces_adds_their_counts)
{
    lp_err err = {0};
    lp_prior pooled = {0}, one = {0};
    char *paths[2] = {SPACES "/ofa-mbv3-w1.0.yaml", SPACES "/ofa-proxyless.yaml"};
    uint64_t total = 0;
    for (int i = 0; i < 2; i++) {
        lp_space *s = NULL;
        cr_assert_eq(lp_space_load(paths[i], &s, &err), 0, "%s", err.msg);
        cr_assert_eq(lp_prior_add_space(&pooled, lp_test_reg, s, "dwconv-bn-relu", 20, 4, &err), 0,
                     "%s", err.msg);
        cr_assert_eq(lp_prior_add_space(&one, lp_test_reg, s, "dwconv-bn-relu", 20, 4, &err), 0,
                     "%s", err.msg);
        total += one.total;
        lp_prior_free(&one);
        lp_space_free(s);
    }
    cr_assert_eq(pooled.total, total);
    cr_assert_eq(pooled.n_models, 40);
    lp_prior_free(&pooled);
}

Test(prior, errors_and_absent_kernels)
{
    lp_prior p;
    lp_err err = {0};
    cr_assert_eq(lp_prior_build(lp_test_reg, SPACES, "no-such-kernel", 5, 0, &p, &err),
                 LP_ENOTFOUND);
    cr_assert(strstr(err.msg, "no-such-kernel") && strstr(err.msg, "conv-bn-relu"), "%s", err.msg);
    char *dir = lp_test_tmpdir();
    cr_assert_eq(lp_prior_build(lp_test_reg, dir, "fc", 5, 0, &p, &err), LP_ENOTFOUND);
    cr_assert(strstr(err.msg, "no space files"), "%s", err.msg);
    lp_test_rmtree(dir);
    free(dir);
    /* grouped-conv (ShuffleNet's) occurs in none of the six spaces: an empty prior, not an error. */
    cr_assert_eq(lp_prior_build(lp_test_reg, SPACES, "grouped-conv", 5, 0, &p, &err), 0, "%s",
                 err.msg);
    cr_assert_eq(p.n, 0);
    cr_assert_eq(p.total, 0);
    lp_prior_free(&p);
}

/* A few hundred models per space must be cheap enough to build on every pipeline run. */
Test(prior, builds_fast)
{
    uint64_t t0 = lp_now_ns();
    lp_prior p = build(SPACES, "conv-bn-relu", 300, 0);
    double s = (double)(lp_now_ns() - t0) / 1e9;
    cr_assert_gt(p.n, 1000);
    cr_assert_lt(s, 10.0, "300 models per space took %.2f s", s);
    fprintf(stderr, "prior: conv-bn-relu over %llu models: %zu configs in %.3f s\n",
            (unsigned long long)p.n_models, p.n, s);
    lp_prior_free(&p);
}
