/* The vae sampler: training lowers the loss, samples are valid, the stream is deterministic
 * per seed, a trained VAE round-trips through its cache (a second setup loads, does not
 * retrain, and samples identically), a corrupt or mismatched cache file fails setup, small
 * kernel types follow the `small` option; and the core's 2-D histogram KL helper. Networks
 * are tiny (options) so the file stays fast under the sanitizers. */
#include <criterion/criterion.h>
#include <glob.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <litepred/sampler.h>
#include "lp_test.h"

#define SPACES LP_TEST_SOURCE_DIR "/configs/spaces"
#define PER_SPACE 20
/* Small enough for the sanitizer build; big enough for the loss to move. */
#define TINY "epochs=3,hidden=32,latent=8,layers=3"

TestSuite(vae, .init = lp_test_setup, .fini = lp_test_teardown);

static void prior_of(const char *kernel, lp_prior *p)
{
    lp_err err = {0};
    cr_assert_eq(lp_prior_build(lp_test_reg, SPACES, kernel, PER_SPACE, 0, p, &err), 0, "%s",
                 err.msg);
    cr_assert_gt(p->n, 0);
}

/* "<TINY>,cache=<lp_test_dir>" plus extra ("" for none). */
static char *opts(const char *extra)
{
    char *kv = NULL;
    cr_assert_geq(asprintf(&kv, TINY ",cache=%s%s%s", lp_test_dir, *extra ? "," : "", extra), 0);
    return kv;
}

/* Creates and sets up a vae instance; returns setup's code (err filled), *out the instance. */
static int try_make(const char *kv, const char *kernel, uint64_t seed, const lp_prior *prior,
                    lp_instance **out, lp_err *err)
{
    const lp_plugin *p = lp_registry_find(lp_test_reg, LP_KIND_SAMPLER, "vae");
    cr_assert_not_null(p, "sampler 'vae' is not loaded");
    cr_assert_eq(lp_instance_create_kv(p, kv, out, err), 0, "%s: %s", kv, err->msg);
    lp_sampler_ctx ctx;
    lp_sampler_ctx_init(&ctx, kernel, lp_test_kernel(kernel), seed, prior);
    return lp_sampler_setup(*out, &ctx, err);
}

static lp_instance *make(const char *kv, const char *kernel, uint64_t seed, const lp_prior *prior)
{
    lp_instance *inst = NULL;
    lp_err err = {0};
    int rc = try_make(kv, kernel, seed, prior, &inst, &err);
    cr_assert_eq(rc, 0, "vae for %s (%s): %s", kernel, kv, err.msg);
    return inst;
}

static lp_kcfg *draw(lp_instance *inst, const char *kernel, size_t n)
{
    lp_kcfg *out = calloc(n, sizeof *out);
    lp_err err = {0};
    cr_assert_not_null(out);
    cr_assert_eq(lp_sampler_sample(inst, lp_test_kernel(kernel), n, out, &err), 0, "%s", err.msg);
    return out;
}

/* The one cache file of kernel in lp_test_dir (malloc'd path). */
static char *cache_file(const char *kernel)
{
    char pattern[1024];
    glob_t g;
    snprintf(pattern, sizeof pattern, "%s/%s-*.vae", lp_test_dir, kernel);
    cr_assert_eq(glob(pattern, 0, NULL, &g), 0, "no cache file %s", pattern);
    cr_assert_eq(g.gl_pathc, 1, "%zu cache files for %s", g.gl_pathc, kernel);
    char *path = strdup(g.gl_pathv[0]);
    globfree(&g);
    return path;
}

/* A number from the info text the plugin keeps in the file ("recon_first=0.04,..."). */
static double info_value(const char *path, const char *key)
{
    size_t n;
    unsigned char *b = lp_test_slurp(path, &n);
    cr_assert_gt(n, 34);
    size_t len = (size_t)b[32] | (size_t)b[33] << 8;
    char info[1100], pat[64];
    cr_assert_lt(len, sizeof info);
    memcpy(info, b + 34, len);
    info[len] = '\0';
    free(b);
    snprintf(pat, sizeof pat, "%s=", key);
    const char *at = strstr(info, pat);
    cr_assert_not_null(at, "no %s in '%s'", key, info);
    return atof(at + strlen(pat));
}

/* ---- training -------------------------------------------------------------------- */

Test(vae, reconstruction_loss_falls_over_training)
{
    lp_prior p = {0};
    prior_of("conv-bn-relu", &p);
    char *kv = opts("");
    lp_instance_destroy(make(kv, "conv-bn-relu", 1, &p));
    char *path = cache_file("conv-bn-relu");
    double first = info_value(path, "recon_first"), last = info_value(path, "recon_last");
    cr_assert_eq(info_value(path, "epochs"), 3);
    cr_assert(isfinite(first) && isfinite(last) && last > 0, "%g -> %g", first, last);
    cr_assert_lt(last, 0.8 * first, "reconstruction error per row: first epoch %g, last %g", first,
                 last);
    cr_assert(isfinite(info_value(path, "kl_last")), "KL");
    free(path);
    free(kv);
    lp_prior_free(&p);
}

/* ---- samples --------------------------------------------------------------------- */

/* Every kernel type that gets a VAE: valid configs; channel dims on multiples of 8 (or
 * <= 3, conv's stem input) with round8; not only prior configs (it generalises). */
Test(vae, samples_are_valid_and_channels_round_to_8)
{
    static const struct {
        const char *kernel, *channels;
    } cases[] = {{"conv-bn-relu", "cin,cout"}, {"dwconv-bn-relu", "cin"}, {"se", "c,cse"},
                 {"avgpool", "cin"}};
    const size_t n = 3000;
    for (size_t t = 0; t < sizeof cases / sizeof *cases; t++) {
        const lp_kernel_ops *o = lp_test_kernel(cases[t].kernel);
        lp_prior p = {0};
        prior_of(cases[t].kernel, &p);
        char *kv = opts("");
        lp_instance *inst = make(kv, cases[t].kernel, 2, &p);
        lp_kcfg *x = draw(inst, cases[t].kernel, n);
        size_t novel = 0;
        for (size_t i = 0; i < n; i++) {
            lp_err err = {0};
            LP_CHECK(o->valid(&x[i], &err) == 0, "%s: %s", cases[t].kernel, err.msg);
            int seen = 0;
            for (size_t r = 0; r < p.n && !seen; r++)
                seen = !memcmp(&p.cfgs[r], &x[i], sizeof x[i]);
            novel += !seen;
        }
        char list[64];
        snprintf(list, sizeof list, "%s", cases[t].channels);
        for (char *tok = strtok(list, ","); tok; tok = strtok(NULL, ",")) {
            size_t d = lp_test_dim(o, tok);
            for (size_t i = 0; i < n; i++)
                LP_CHECK(x[i].v[d] <= 3 || x[i].v[d] % 8 == 0, "%s %s=%d", cases[t].kernel, tok,
                         x[i].v[d]);
        }
        cr_assert_gt(novel, 0, "%s: every sample is a prior config", cases[t].kernel);
        free(x);
        free(kv);
        lp_instance_destroy(inst);
        lp_prior_free(&p);
    }
}

/* round8=false leaves channels as decoded (some are not multiples of 8). */
Test(vae, round8_off_keeps_decoded_channels)
{
    lp_prior p = {0};
    prior_of("conv-bn-relu", &p);
    char *kv = opts("round8=false");
    lp_instance *inst = make(kv, "conv-bn-relu", 3, &p);
    lp_kcfg *x = draw(inst, "conv-bn-relu", 2000);
    size_t cin = lp_test_dim(lp_test_kernel("conv-bn-relu"), "cin"), odd = 0;
    for (size_t i = 0; i < 2000; i++)
        odd += x[i].v[cin] > 3 && x[i].v[cin] % 8 != 0;
    cr_assert_gt(odd, 0);
    free(x);
    free(kv);
    lp_instance_destroy(inst);
    lp_prior_free(&p);
}

/* draw=posterior decodes q(z|x) of prior configs: valid, deterministic. spread=0 with
 * draw=prior decodes z = 0 only: one config, over and over. */
Test(vae, latent_draw_options)
{
    lp_prior p = {0};
    prior_of("conv-bn-relu", &p);
    const lp_kernel_ops *o = lp_test_kernel("conv-bn-relu");
    char *kv = opts("draw=posterior");
    lp_instance *a = make(kv, "conv-bn-relu", 11, &p), *b = make(kv, "conv-bn-relu", 11, &p);
    lp_kcfg *x = draw(a, "conv-bn-relu", 1000), *y = draw(b, "conv-bn-relu", 1000);
    cr_assert_eq(memcmp(x, y, 1000 * sizeof *x), 0, "draw=posterior: same seed, different configs");
    for (size_t i = 0; i < 1000; i++) {
        lp_err err = {0};
        LP_CHECK(o->valid(&x[i], &err) == 0, "%s", err.msg);
    }
    free(x);
    free(y);
    free(kv);
    lp_instance_destroy(a);
    lp_instance_destroy(b);
    kv = opts("spread=0");
    a = make(kv, "conv-bn-relu", 11, &p);
    x = draw(a, "conv-bn-relu", 200);
    for (size_t i = 1; i < 200; i++)
        LP_CHECK(!memcmp(&x[0], &x[i], sizeof *x), "spread=0: config %zu differs from the first",
                 i);
    free(x);
    free(kv);
    lp_instance_destroy(a);
    lp_prior_free(&p);
}

/* The same seed gives the same stream however sample() calls split it; another seed differs. */
Test(vae, deterministic_per_seed)
{
    lp_prior p = {0};
    prior_of("dwconv-bn-relu", &p);
    char *kv = opts("");
    lp_instance *a = make(kv, "dwconv-bn-relu", 7, &p), *b = make(kv, "dwconv-bn-relu", 7, &p);
    lp_instance *c = make(kv, "dwconv-bn-relu", 8, &p);
    lp_kcfg *x = draw(a, "dwconv-bn-relu", 500), *z = draw(c, "dwconv-bn-relu", 500);
    lp_kcfg *y = calloc(500, sizeof *y);
    static const size_t chunks[] = {1, 63, 64, 65, 307};
    for (size_t i = 0, at = 0; i < 5; at += chunks[i++]) {
        lp_kcfg *part = draw(b, "dwconv-bn-relu", chunks[i]);
        memcpy(y + at, part, chunks[i] * sizeof *part);
        free(part);
    }
    cr_assert_eq(memcmp(x, y, 500 * sizeof *x), 0, "same seed, different configs");
    cr_assert_neq(memcmp(x, z, 500 * sizeof *x), 0, "seeds 7 and 8 gave the same configs");
    free(x);
    free(y);
    free(z);
    free(kv);
    lp_instance_destroy(a);
    lp_instance_destroy(b);
    lp_instance_destroy(c);
    lp_prior_free(&p);
}

/* ---- the cache ---------------------------------------------------------------------- */

static double seconds_to_setup(const char *kv, const char *kernel, const lp_prior *p,
                               lp_instance **out)
{
    uint64_t t0 = lp_now_ns();
    *out = make(kv, kernel, 5, p);
    return (double)(lp_now_ns() - t0) * 1e-9;
}

/* A second setup with the same prior and options loads the file (same inode: not rewritten),
 * fast, and samples exactly as the trained one; training again without the cache
 * reproduces the same weights, so cached and fresh VAEs are interchangeable. */
Test(vae, cache_round_trip)
{
    lp_prior p = {0};
    prior_of("conv-bn-relu", &p);
    char *kv = NULL, *none = NULL;
    cr_assert_geq(asprintf(&kv, "epochs=2,hidden=64,latent=16,layers=4,cache=%s", lp_test_dir), 0);
    none = strdup("epochs=2,hidden=64,latent=16,layers=4,cache=none");
    lp_instance *a, *b, *c;
    double t_train = seconds_to_setup(kv, "conv-bn-relu", &p, &a);
    char *path = cache_file("conv-bn-relu");
    struct stat s1, s2;
    cr_assert_eq(stat(path, &s1), 0);
    double t_load = seconds_to_setup(kv, "conv-bn-relu", &p, &b);
    cr_assert_eq(stat(path, &s2), 0);
    cr_assert_eq(s1.st_ino, s2.st_ino, "the second setup rewrote the cache file");
    cr_assert_lt(t_load * 5, t_train, "loading took %.3f s, training %.3f s", t_load, t_train);
    (void)seconds_to_setup(none, "conv-bn-relu", &p, &c);
    lp_kcfg *x = draw(a, "conv-bn-relu", 300), *y = draw(b, "conv-bn-relu", 300);
    lp_kcfg *z = draw(c, "conv-bn-relu", 300);
    cr_assert_eq(memcmp(x, y, 300 * sizeof *x), 0, "loaded VAE samples differently");
    cr_assert_eq(memcmp(x, z, 300 * sizeof *x), 0, "retraining gave another VAE");
    free(x);
    free(y);
    free(z);
    free(path);
    free(kv);
    free(none);
    lp_instance_destroy(a);
    lp_instance_destroy(b);
    lp_instance_destroy(c);
    lp_prior_free(&p);
}

/* Other options or another prior: another key, another file. */
Test(vae, options_and_prior_key_the_file)
{
    lp_prior p = {0}, q = {0};
    prior_of("se", &p);
    lp_err err = {0};
    cr_assert_eq(lp_prior_build(lp_test_reg, SPACES, "se", PER_SPACE, 1, &q, &err), 0, "%s",
                 err.msg);
    char *k1 = opts(""), *k2 = opts("train_seed=1");
    lp_instance_destroy(make(k1, "se", 0, &p));
    lp_instance_destroy(make(k2, "se", 0, &p));
    lp_instance_destroy(make(k1, "se", 0, &q));
    lp_instance_destroy(make(k1, "se", 9, &p)); /* the sampling seed is not part of the key */
    char pattern[1024];
    glob_t g;
    snprintf(pattern, sizeof pattern, "%s/se-*.vae", lp_test_dir);
    cr_assert_eq(glob(pattern, 0, NULL, &g), 0);
    cr_assert_eq(g.gl_pathc, 3, "%zu cache files", g.gl_pathc);
    globfree(&g);
    free(k1);
    free(k2);
    lp_prior_free(&p);
    lp_prior_free(&q);
}

/* Corruption fails setup with LP_ECORRUPT naming the file (never a silent retrain), and
 * leaves the file for the user to inspect or delete; deleting it retrains. */
Test(vae, corrupt_cache_fails_setup)
{
    lp_prior p = {0};
    prior_of("dwconv-bn-relu", &p);
    char *kv = opts("");
    lp_instance_destroy(make(kv, "dwconv-bn-relu", 0, &p));
    char *path = cache_file("dwconv-bn-relu");
    size_t n;
    unsigned char *good = lp_test_slurp(path, &n), *bad = malloc(n);
    static const struct {
        size_t at;   /* byte flipped (n: truncate by 10 bytes instead) */
        const char *says;
    } cases[] = {{200, "checksum mismatch"},
                 {0, "not a litepred VAE file"},
                 {SIZE_MAX, "truncated at byte"}};
    for (size_t t = 0; t < 3; t++) {
        size_t len = n;
        memcpy(bad, good, n);
        if (cases[t].at == SIZE_MAX)
            len -= 10;
        else
            bad[cases[t].at] ^= 0x40;
        lp_test_spit(path, bad, len);
        lp_instance *inst = NULL;
        lp_err err = {0};
        cr_assert_eq(try_make(kv, "dwconv-bn-relu", 0, &p, &inst, &err), LP_ECORRUPT, "case %zu",
                     t);
        cr_assert(strstr(err.msg, path) && strstr(err.msg, cases[t].says), "%s", err.msg);
        lp_kcfg c;
        cr_assert_lt(lp_sampler_sample(inst, lp_test_kernel("dwconv-bn-relu"), 1, &c, &err), 0);
        lp_instance_destroy(inst);
    }
    /* A valid file under another key's name (copied over) is refused as well. */
    char *other = opts("train_seed=5");
    lp_instance_destroy(make(other, "dwconv-bn-relu", 0, &p));
    lp_test_spit(path, good, n); /* restore, then plant it under the train_seed=5 name */
    glob_t g;
    char pattern[1024];
    snprintf(pattern, sizeof pattern, "%s/dwconv-bn-relu-*.vae", lp_test_dir);
    cr_assert_eq(glob(pattern, 0, NULL, &g), 0);
    cr_assert_eq(g.gl_pathc, 2);
    const char *planted = strcmp(g.gl_pathv[0], path) ? g.gl_pathv[0] : g.gl_pathv[1];
    lp_test_spit(planted, good, n);
    lp_instance *inst = NULL;
    lp_err err = {0};
    cr_assert_eq(try_make(other, "dwconv-bn-relu", 0, &p, &inst, &err), LP_ECORRUPT);
    cr_assert(strstr(err.msg, "trained for other inputs"), "%s", err.msg);
    lp_instance_destroy(inst);
    globfree(&g);
    /* Deleting the file retrains. */
    cr_assert_eq(remove(path), 0);
    lp_instance_destroy(make(kv, "dwconv-bn-relu", 0, &p));
    free(other);
    free(good);
    free(bad);
    free(path);
    free(kv);
    lp_prior_free(&p);
}

/* ---- small kernel types and errors ---------------------------------------------------- */

/* fc varies in cin and cout only: small=prior draws prior configs, small=error refuses. */
Test(vae, small_kernel_types_follow_the_option)
{
    lp_prior p = {0};
    prior_of("fc", &p);
    char *kv = opts("");
    lp_instance *inst = make(kv, "fc", 4, &p);
    lp_kcfg *x = draw(inst, "fc", 500);
    for (size_t i = 0; i < 500; i++) {
        int seen = 0;
        for (size_t r = 0; r < p.n && !seen; r++)
            seen = !memcmp(&p.cfgs[r], &x[i], sizeof x[i]);
        LP_CHECK(seen, "fc draw %zu is not a prior config", i);
    }
    free(x);
    lp_instance_destroy(inst);
    char *strict = opts("small=error");
    lp_err err = {0};
    cr_assert_eq(try_make(strict, "fc", 4, &p, &inst, &err), LP_EINVAL);
    cr_assert(strstr(err.msg, "fc") && strstr(err.msg, "cin, cout") &&
                  strstr(err.msg, "small=prior"),
              "%s", err.msg);
    lp_instance_destroy(inst);
    glob_t g;
    char pattern[1024];
    snprintf(pattern, sizeof pattern, "%s/*.vae", lp_test_dir);
    cr_assert_eq(glob(pattern, 0, NULL, &g), GLOB_NOMATCH, "a small kernel type was cached");
    free(kv);
    free(strict);
    lp_prior_free(&p);
}

Test(vae, needs_a_prior_and_a_writable_cache)
{
    lp_instance *inst = NULL;
    lp_err err = {0};
    char *kv = opts("");
    cr_assert_eq(try_make(kv, "conv-bn-relu", 0, NULL, &inst, &err), LP_EINVAL);
    cr_assert(strstr(err.msg, "conv-bn-relu") && strstr(err.msg, "no configs"), "%s", err.msg);
    lp_instance_destroy(inst);
    /* A cache path under a regular file cannot be a directory. */
    char *file = lp_test_write(lp_test_dir, "plain", "x"), *bad = NULL;
    cr_assert_geq(asprintf(&bad, TINY ",cache=%s/sub", file), 0);
    lp_prior p = {0};
    prior_of("se", &p);
    cr_assert_eq(try_make(bad, "se", 0, &p, &inst, &err), LP_EIO);
    cr_assert(strstr(err.msg, "cache directory"), "%s", err.msg);
    lp_instance_destroy(inst);
    free(file);
    free(bad);
    free(kv);
    lp_prior_free(&p);
}

/* ---- lp_kl2d -------------------------------------------------------------------------- */

Test(vae, kl2d_is_zero_for_identical_sets_and_positive_otherwise)
{
    lp_prior p = {0};
    prior_of("conv-bn-relu", &p);
    const lp_kernel_ops *o = lp_test_kernel("conv-bn-relu");
    size_t hw = lp_test_dim(o, "hw"), cin = lp_test_dim(o, "cin"), k = lp_test_dim(o, "k");
    lp_kl2d_opts opt = {.group_mask = 1u << k};
    lp_err err = {0};
    double v = -1;
    cr_assert_eq(lp_kl2d(p.cfgs, p.weights, p.n, p.cfgs, p.weights, p.n, hw, cin, &opt, &v, &err),
                 0, "%s", err.msg);
    cr_assert_eq(v, 0.0, "KL of a set with itself is %g", v);
    /* The top half of the rows against the whole: different, so > 0; and unweighted differs. */
    double w2;
    cr_assert_eq(lp_kl2d(p.cfgs, p.weights, p.n, p.cfgs, p.weights, p.n / 2, hw, cin, &opt, &v,
                         &err), 0);
    cr_assert_gt(v, 0.0);
    cr_assert_eq(lp_kl2d(p.cfgs, p.weights, p.n, p.cfgs, NULL, p.n, hw, cin, NULL, &w2, &err), 0);
    cr_assert_gt(w2, 0.0);
    /* A set that misses a cell costs about p * ln(p / eps), so more with a smaller eps. */
    lp_kcfg a[2] = {{{8, 8}}, {{64, 64}}}, b[1] = {{{8, 8}}};
    double big, small;
    lp_kl2d_opts e1 = {.eps = 1e-3}, e2 = {.eps = 1e-9};
    cr_assert_eq(lp_kl2d(a, NULL, 2, b, NULL, 1, 0, 1, &e1, &big, &err), 0);
    cr_assert_eq(lp_kl2d(a, NULL, 2, b, NULL, 1, 0, 1, &e2, &small, &err), 0);
    cr_assert(big > 0 && small > big, "eps 1e-3: %g, 1e-9: %g", big, small);
    cr_assert_float_eq(small, 0.5 * log(0.5 / 1e-9) + 0.5 * log(0.5), 1e-6);
    /* Errors. */
    cr_assert_eq(lp_kl2d(a, NULL, 2, b, NULL, 0, 0, 1, NULL, &v, &err), LP_EINVAL);
    cr_assert(strstr(err.msg, "empty"), "%s", err.msg);
    cr_assert_eq(lp_kl2d(a, NULL, 2, b, NULL, 1, 0, LP_KCFG_MAX_DIMS, NULL, &v, &err), LP_EINVAL);
    double negw[1] = {-1};
    cr_assert_eq(lp_kl2d(a, NULL, 2, b, negw, 1, 0, 1, NULL, &v, &err), LP_EINVAL);
    cr_assert(strstr(err.msg, "weight"), "%s", err.msg);
    lp_prior_free(&p);
}
