/* Similarity metrics and representative sets: KL's zero cases, asymmetry and clamping; the
 * smallest-KL pick against the reference code's largest-KL rule; Kendall tau-b and Spearman
 * on hand-computed cases; the random baseline's determinism and coverage; the core pick
 * helper; the shipped representative sets (loadable, valid, sized, covering every k and s,
 * reproducible from their header command) and `litepred check` on a broken one. */
#include <criterion/criterion.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <litepred/similarity.h>
#include "lp_test.h"

#define REPR_DIR LP_TEST_SOURCE_DIR "/configs/representative"

static void setup(void)
{
    /* The loader resolves names through lp_config_dir(): pin it to this source tree. */
    setenv("LITEPRED_CONFIG_DIR", LP_TEST_SOURCE_DIR "/configs", 1);
    unsetenv("LITEPRED_SPACES_PATH");
    lp_test_setup_registry();
}

TestSuite(similarity, .init = setup, .fini = lp_test_teardown);

static lp_instance *make(const char *name, const char *kv)
{
    return lp_test_instance(LP_KIND_SIMILARITY, name, kv);
}

/* One candidate's score through the core helper. */
static double score1(lp_instance *inst, const double *m, const double *q, size_t n)
{
    size_t best = 99;
    double s = NAN;
    lp_err err = {0};
    const double *cands[] = {q};
    LP_CHECK(lp_similarity_pick(inst, m, cands, 1, n, &best, &s, &err) == 0, "%s: %s",
             inst->desc->name, err.msg);
    LP_CHECK(best == 0, "one candidate, best = %zu", best);
    return s;
}

/* ---- kl ------------------------------------------------------------------------- */

Test(similarity, kl_of_identical_and_proportional_vectors_is_zero)
{
    lp_instance *kl = make("kl", NULL);
    double m[] = {0.3, 1.7, 4.2, 0.05, 9.9, 2.5}, q[6];
    cr_assert_eq(score1(kl, m, m, 6), 0.0);
    for (size_t i = 0; i < 6; i++)
        q[i] = 37.5 * m[i]; /* another platform, uniformly slower: same shape */
    cr_assert_float_eq(score1(kl, m, q, 6), 0.0, 1e-12);
    lp_instance_destroy(kl);
}

Test(similarity, kl_is_asymmetric_as_computed_by_hand)
{
    lp_instance *kl = make("kl", NULL);
    /* p = (1, 3) / 4 = (0.25, 0.75), q = (2, 2) / 4 = (0.5, 0.5):
     *   KL(p || q) = 0.25 ln(0.25/0.5) + 0.75 ln(0.75/0.5) = 0.75 ln 3 - ln 2 = 0.1308120
     *   KL(q || p) = 0.5 ln(0.5/0.25) + 0.5 ln(0.5/0.75)   = ln 2 - 0.5 ln 3  = 0.1438410 */
    double a[] = {1, 3}, b[] = {2, 2};
    cr_assert_float_eq(score1(kl, a, b, 2), 0.1308120, 1e-7);
    cr_assert_float_eq(score1(kl, b, a, 2), 0.1438410, 1e-7);
    lp_instance_destroy(kl);
}

Test(similarity, kl_clamps_nonpositive_predictions_scale_free)
{
    lp_instance *kl = make("kl", "epsilon=1e-6");
    double m[] = {1, 2, 3, 4}, q[] = {1, 2, 0, 4}, neg[] = {1, 2, -5, 4}, big[4];
    double s = score1(kl, m, q, 4);
    /* the clamped config alone costs about p ln(1/eps) = 0.3 * 13.8 */
    cr_assert(isfinite(s) && s > 3.0, "KL with a zero prediction = %g", s);
    cr_assert_float_eq(score1(kl, m, neg, 4), s, 1e-12, "a negative is clamped like a zero");
    for (size_t i = 0; i < 4; i++)
        big[i] = 1000 * q[i];
    cr_assert_float_eq(score1(kl, m, big, 4), s, 1e-9, "the floor scales with the predictions");
    lp_instance_destroy(kl);
}

#define N_SHAPE 40

/* A measured vector with structure, and three candidates: [0] the measured shape scaled 3x
 * with +-3% noise (the right pool predictor), [1] the shape reversed, [2] nearly flat. */
static void three_candidates(double *m, double c[3][N_SHAPE])
{
    for (size_t i = 0; i < N_SHAPE; i++) {
        m[i] = 0.2 + 0.9 * (double)(i % 7) + 0.05 * (double)i;
        c[0][i] = 3.0 * m[i] * (1 + 0.03 * sin(17.0 * (double)i));
        c[2][i] = 1.0 + 0.001 * (double)i;
    }
    for (size_t i = 0; i < N_SHAPE; i++)
        c[1][i] = m[N_SHAPE - 1 - i];
}

Test(similarity, kl_picks_the_smallest_where_the_reference_rule_picks_wrong)
{
    lp_instance *kl = make("kl", NULL);
    double m[N_SHAPE], c[3][N_SHAPE], scores[3];
    three_candidates(m, c);
    const double *cands[] = {c[0], c[1], c[2]};
    size_t best = 99;
    lp_err err = {0};
    cr_assert_eq(lp_similarity_pick(kl, m, cands, 3, N_SHAPE, &best, scores, &err), 0, "%s", err.msg);
    cr_assert_eq(best, 0, "kl picked %zu (scores %g %g %g)", best, scores[0], scores[1], scores[2]);
    cr_assert(scores[0] < 1e-3 && scores[1] > 0.05 && scores[2] > 0.05, "scores %g %g %g",
              scores[0], scores[1], scores[2]);
    /* The reference code: sort descending, take the first = the largest KL. */
    size_t ref = 0;
    for (size_t i = 1; i < 3; i++)
        ref = scores[i] > scores[ref] ? i : ref;
    cr_assert_neq(ref, 0, "the largest-KL rule would have picked the right predictor too");
    cr_assert(ref == 1 || ref == 2, "reference pick %zu", ref);
    lp_instance_destroy(kl);
}

/* ---- rank ---------------------------------------------------------------------- */

Test(similarity, kendall_is_one_for_the_same_order_and_minus_one_reversed)
{
    lp_instance *r = make("rank", NULL);
    double m[] = {0.5, 2, 1, 8, 4}, same[] = {5, 20, 10, 80, 40}, rev[] = {8, 2, 4, 0.1, 0.5};
    cr_assert_float_eq(score1(r, m, same, 5), 1.0, 1e-12);
    cr_assert_float_eq(score1(r, m, rev, 5), -1.0, 1e-12);
    lp_instance_destroy(r);
}

Test(similarity, kendall_tau_b_with_ties_as_computed_by_hand)
{
    lp_instance *r = make("rank", "method=kendall");
    /* x = (1, 2, 2, 3, 4), y = (2, 1, 3, 3, 5); of the 10 pairs (1,2) is discordant,
     * (2,3) tied in x only, (3,4) tied in y only, the other 7 concordant:
     *   tau-b = (7 - 1) / sqrt((10 - 1) * (10 - 1)) = 6 / 9 = 0.6667 */
    double x[] = {1, 2, 2, 3, 4}, y[] = {2, 1, 3, 3, 5};
    cr_assert_float_eq(score1(r, x, y, 5), 6.0 / 9.0, 1e-12);
    /* a candidate that predicts one value ranks nothing */
    double flat[] = {3, 3, 3, 3, 3};
    cr_assert_eq(score1(r, x, flat, 5), 0.0);
    lp_instance_destroy(r);
}

Test(similarity, spearman_as_computed_by_hand)
{
    lp_instance *r = make("rank", "method=spearman");
    /* no ties: rho = 1 - 6 sum d^2 / (n (n^2 - 1)); d = (-1, 1, -1, 1, 0), sum d^2 = 4:
     *   rho = 1 - 24 / 120 = 0.8 */
    double x[] = {1, 2, 3, 4, 5}, y[] = {2, 1, 4, 3, 5}, rev[] = {5, 4, 3, 2, 1};
    cr_assert_float_eq(score1(r, x, y, 5), 0.8, 1e-12);
    cr_assert_float_eq(score1(r, x, rev, 5), -1.0, 1e-12);
    /* ties get average ranks: x ranks (1, 2.5, 2.5, 4), y ranks (1, 2, 3, 4):
     *   rho = Pearson = 4.5 / sqrt(4.5 * 5) = 0.9487 */
    double xt[] = {1, 2, 2, 3}, yt[] = {10, 20, 30, 40};
    cr_assert_float_eq(score1(r, xt, yt, 4), 4.5 / sqrt(4.5 * 5.0), 1e-12);
    lp_instance_destroy(r);
}

Test(similarity, rank_refuses_constant_measurements_and_picks_the_right_shape)
{
    lp_instance *r = make("rank", NULL);
    double flat[] = {2, 2, 2}, q[] = {1, 2, 3}, s = 0;
    size_t best = 0;
    lp_err err = {0};
    const double *one[] = {q};
    cr_assert_eq(lp_similarity_pick(r, flat, one, 1, 3, &best, &s, &err), LP_EINVAL);
    cr_assert(strstr(err.msg, "all 3 measured latencies are equal"), "%s", err.msg);
    double m[N_SHAPE], c[3][N_SHAPE], scores[3];
    three_candidates(m, c);
    const double *cands[] = {c[0], c[1], c[2]};
    cr_assert_eq(lp_similarity_pick(r, m, cands, 3, N_SHAPE, &best, scores, &err), 0, "%s", err.msg);
    cr_assert_eq(best, 0, "rank picked %zu (tau %g %g %g)", best, scores[0], scores[1], scores[2]);
    lp_instance_destroy(r);
}

/* ---- random -------------------------------------------------------------------- */

#define N_CAND 5

static size_t random_pick(lp_instance *inst, const double *m, const double *const *cands)
{
    size_t best = 99;
    lp_err err = {0};
    LP_CHECK(lp_similarity_pick(inst, m, cands, N_CAND, 4, &best, NULL, &err) == 0, "%s", err.msg);
    return best;
}

Test(similarity, random_is_deterministic_per_seed_and_ignores_the_vectors)
{
    double m1[] = {1, 2, 3, 4}, m2[] = {9, 0.1, 7, 3}, q1[] = {1, 2, 3, 4}, q2[] = {-1, 5, 0, 2};
    const double *c1[N_CAND] = {q1, q1, q1, q1, q1}, *c2[N_CAND] = {q2, q1, q2, q1, q2};
    lp_instance *a = make("random", "seed=7"), *b = make("random", "seed=7"),
                *c = make("random", "seed=8");
    size_t diff = 0;
    for (int i = 0; i < 50; i++) {
        size_t pa = random_pick(a, m1, c1), pb = random_pick(b, m2, c2), pc = random_pick(c, m1, c1);
        LP_CHECK(pa == pb, "pick %d: seed 7 gave %zu and %zu for other vectors", i, pa, pb);
        diff += pa != pc;
    }
    cr_assert_gt(diff, 0, "seeds 7 and 8 made the same 50 picks");
    lp_instance_destroy(a);
    lp_instance_destroy(b);
    lp_instance_destroy(c);
}

Test(similarity, random_covers_every_candidate_over_seeds)
{
    double m[] = {1, 2, 3, 4}, q[] = {1, 2, 3, 4};
    const double *cands[N_CAND] = {q, q, q, q, q};
    size_t hits[N_CAND] = {0};
    for (int seed = 0; seed < 500; seed++) {
        char kv[32];
        snprintf(kv, sizeof kv, "seed=%d", seed);
        lp_instance *inst = make("random", kv);
        hits[random_pick(inst, m, cands)]++;
        lp_instance_destroy(inst);
    }
    /* 100 expected each; a fair pick falls below 50 with probability ~1e-8 */
    for (size_t i = 0; i < N_CAND; i++)
        cr_assert_gt(hits[i], 50, "candidate %zu picked %zu times of 500", i, hits[i]);
}

/* ---- lp_similarity_pick ------------------------------------------------------------ */

Test(similarity, pick_writes_every_score_and_takes_the_first_of_ties)
{
    double m[N_SHAPE], c[3][N_SHAPE];
    three_candidates(m, c);
    static const char *const metrics[] = {"kl", "rank", "random"};
    for (size_t k = 0; k < 3; k++) {
        lp_instance *inst = make(metrics[k], NULL), *again = make(metrics[k], NULL);
        const double *cands[] = {c[1], c[0], c[2], c[0]};
        double scores[4] = {-777, -777, -777, -777};
        size_t best = 99;
        lp_err err = {0};
        cr_assert_eq(lp_similarity_pick(inst, m, cands, 4, N_SHAPE, &best, scores, &err), 0, "%s",
                     err.msg);
        for (size_t i = 0; i < 4; i++) {
            cr_assert(scores[i] != -777 && isfinite(scores[i]), "%s: score %zu not written",
                      metrics[k], i);
            /* a fresh instance scoring candidates one by one gives the same numbers */
            cr_assert_eq(score1(again, m, cands[i], N_SHAPE), scores[i], "%s: score %zu",
                         metrics[k], i);
        }
        if (k < 2) /* candidates 1 and 3 are the same vector: the first one wins */
            cr_assert_eq(best, 1, "%s picked %zu", metrics[k], best);
        lp_instance_destroy(inst);
        lp_instance_destroy(again);
    }
}

Test(similarity, pick_skips_broken_candidates_and_rejects_bad_calls)
{
    lp_instance *kl = make("kl", NULL);
    double m[] = {1, 2, 3}, good[] = {2, 4, 6}, nan_q[] = {1, NAN, 3}, scores[3];
    const double *cands[] = {nan_q, good, NULL};
    size_t best = 99;
    lp_err err = {0};
    cr_assert_eq(lp_similarity_pick(kl, m, cands, 3, 3, &best, scores, &err), 0, "%s", err.msg);
    cr_assert_eq(best, 1);
    cr_assert(isnan(scores[0]) && isnan(scores[2]) && scores[1] < 1e-12);
    const double *broken[] = {nan_q};
    cr_assert_eq(lp_similarity_pick(kl, m, broken, 1, 3, &best, scores, &err), LP_EINVAL);
    double bad_m[] = {1, 0, 3};
    cr_assert_eq(lp_similarity_pick(kl, bad_m, cands + 1, 1, 3, &best, scores, &err), LP_EINVAL);
    cr_assert(strstr(err.msg, "measured latency 1 is 0"), "%s", err.msg);
    cr_assert_eq(lp_similarity_pick(kl, m, cands + 1, 0, 3, &best, scores, &err), LP_EINVAL);
    cr_assert_eq(lp_similarity_pick(kl, m, cands + 1, 1, 0, &best, scores, &err), LP_EINVAL);
    lp_instance_destroy(kl);
}

Test(similarity, metrics_declare_their_direction)
{
    static const struct {
        const char *name;
        lp_sim_direction dir;
    } want[] = {{"kl", LP_SIM_LOWER_IS_BETTER}, {"rank", LP_SIM_HIGHER_IS_BETTER},
                {"random", LP_SIM_HIGHER_IS_BETTER}};
    for (size_t i = 0; i < 3; i++) {
        const lp_plugin *p = lp_registry_find(lp_test_reg, LP_KIND_SIMILARITY, want[i].name);
        cr_assert_not_null(p, "%s not loaded", want[i].name);
        const lp_similarity_ops *ops = lp_plugin_descriptor(p)->ops;
        cr_assert_eq(ops->direction, want[i].dir, "%s", want[i].name);
    }
    cr_assert(lp_similarity_better(LP_SIM_LOWER_IS_BETTER, 0.1, 0.2));
    cr_assert(lp_similarity_better(LP_SIM_HIGHER_IS_BETTER, 0.2, 0.1));
    cr_assert(!lp_similarity_better(LP_SIM_HIGHER_IS_BETTER, 0.2, 0.2), "a tie is not better");
}

/* ---- representative sets ------------------------------------------------------------ */

static const char *const shipped[] = {
    "conv-bn-relu", "dwconv-bn-relu", "grouped-conv", "fc", "se", "linear", "mhsa", "layernorm",
    "gelu", "add", "hswish", "swish", "global-avgpool", "maxpool", "avgpool"};
#define N_SHIPPED (sizeof shipped / sizeof shipped[0])

Test(similarity, shipped_sets_load_valid_distinct_and_sized)
{
    for (size_t s = 0; s < N_SHIPPED; s++) {
        lp_kcfg *cfgs = NULL;
        size_t n = 0;
        char *kernel = NULL;
        lp_err err = {0};
        LP_CHECK(lp_representative_load(lp_test_reg, shipped[s], &kernel, &cfgs, &n, &err) == 0,
                 "%s: %s",
                 shipped[s], err.msg);
        LP_CHECK(!strcmp(kernel, shipped[s]), "%s: file is for %s", shipped[s], kernel);
        LP_CHECK(n >= 50 && n <= 100, "%s: %zu configs (documented: 50..100)", shipped[s], n);
        const lp_kernel_ops *k = lp_test_kernel(shipped[s]);
        for (size_t i = 0; i < n; i++) {
            LP_CHECK(k->valid(&cfgs[i], &err) == 0, "%s config %zu: %s", shipped[s], i, err.msg);
            for (size_t j = 0; j < i; j++)
                LP_CHECK(memcmp(&cfgs[i], &cfgs[j], sizeof cfgs[i]), "%s: %zu repeats %zu", shipped[s], i, j);
        }
        free(cfgs);
        free(kernel);
    }
}

/* Every valid value of dim `dim` of kernel occurs in its shipped set. */
static void expect_every_value(const char *kernel, const char *dim)
{
    const lp_kernel_ops *k = lp_test_kernel(kernel);
    size_t d = 0;
    while (d < k->n_dims && strcmp(k->dims[d].name, dim))
        d++;
    LP_CHECK(d < k->n_dims, "%s has no dim %s", kernel, dim);
    lp_kcfg *cfgs = NULL;
    size_t n = 0;
    lp_err err = {0};
    LP_CHECK(lp_representative_load(lp_test_reg, kernel, NULL, &cfgs, &n, &err) == 0, "%s",
             err.msg);
    const lp_dim *dm = &k->dims[d];
    size_t count = dm->values ? dm->n_values : (size_t)(dm->max - dm->min) / (size_t)dm->step + 1;
    for (size_t i = 0; i < count; i++) {
        int32_t v = dm->values ? dm->values[i] : dm->min + (int32_t)i * dm->step;
        int seen = 0;
        for (size_t j = 0; j < n && !seen; j++)
            seen = cfgs[j].v[d] == v;
        LP_CHECK(seen, "%s's set has no config with %s=%d", kernel, dim, v);
    }
    free(cfgs);
}

Test(similarity, conv_and_pool_sets_span_every_k_and_s)
{
    static const char *const kernels[] = {"conv-bn-relu", "dwconv-bn-relu", "maxpool", "avgpool"};
    for (size_t i = 0; i < 4; i++) {
        expect_every_value(kernels[i], "k");
        expect_every_value(kernels[i], "s");
    }
    expect_every_value("conv-bn-relu", "act");
    expect_every_value("dwconv-bn-relu", "act");
    expect_every_value("grouped-conv", "groups");
}

/* The header's command reproduces the file byte for byte: the set can be regenerated and a
 * stale one (spaces or kernels changed since) is caught. */
Test(similarity, shipped_sets_are_the_generator_output_of_their_header_command)
{
    for (size_t s = 0; s < N_SHIPPED; s++) {
        char cmd[512], *want = NULL, *got = NULL;
        snprintf(cmd, sizeof cmd, "cat %s/%s.yaml", REPR_DIR, shipped[s]);
        LP_CHECK(lp_test_run(cmd, &want) == 0, "%s", want);
        snprintf(cmd, sizeof cmd, "representative %s -n 64 --seed 0", shipped[s]);
        int rc = lp_test_cli(cmd, &got);
        LP_CHECK(rc == 0, "%s: %s", cmd, got);
        LP_CHECK(strstr(want, "#   litepred representative "), "%s: no command in the header", shipped[s]);
        LP_CHECK(!strcmp(want, got), "configs/representative/%s.yaml is stale: regenerate it with "
                 "`litepred representative %s -n 64 --seed 0`", shipped[s], shipped[s]);
        free(want);
        free(got);
    }
}

Test(similarity, generator_is_deterministic_and_honours_n_and_seed)
{
    lp_repr_set a = {0}, b = {0}, c = {0};
    lp_err err = {0};
    const char *spaces = LP_TEST_SOURCE_DIR "/configs/spaces";
    cr_assert_eq(lp_representative_generate(lp_test_reg, spaces, "se", 50, 3, &a, &err), 0, "%s",
                 err.msg);
    cr_assert_eq(lp_representative_generate(lp_test_reg, spaces, "se", 50, 3, &b, &err), 0, "%s",
                 err.msg);
    cr_assert_eq(lp_representative_generate(lp_test_reg, spaces, "se", 50, 4, &c, &err), 0, "%s",
                 err.msg);
    cr_assert_eq(a.n, 50);
    cr_assert_eq(memcmp(a.cfgs, b.cfgs, a.n * sizeof *a.cfgs), 0, "same seed, different sets");
    cr_assert_neq(memcmp(a.cfgs, c.cfgs, a.n * sizeof *a.cfgs), 0, "seeds 3 and 4 gave the same set");
    lp_repr_set_free(&a);
    lp_repr_set_free(&b);
    lp_repr_set_free(&c); /* generate() overwrites its output: free before reusing it */
    cr_assert_eq(lp_representative_generate(lp_test_reg, spaces, "se", 2, 3, &c, &err), LP_EINVAL);
    cr_assert_eq(lp_representative_generate(lp_test_reg, spaces, "nope", 50, 3, &c, &err),
                 LP_ENOTFOUND);
    cr_assert_null(c.cfgs, "a failed generate leaves nothing allocated");
}

static void expect_in(const char *out, const char *text)
{
    cr_assert(strstr(out, text) != NULL, "expected \"%s\" in:\n%s", text, out);
}

Test(similarity, broken_set_gives_file_line_errors)
{
    char *dir = lp_test_tmpdir();
    char *path = lp_test_write(dir, "bad.yaml",
                               "representative: conv-bn-relu\n"
                               "configs:\n"
                               "  - \"hw=56,cin=24,cout=72,k=1,s=1,act=relu6\"\n"
                               "  - \"hw=56,cin=24,cout=72,k=4,s=1,act=relu6\"\n"
                               "  - \"hw=56,cin=24,cout=72,k=1,s=1,act=relu6\"\n"
                               "  - \"hw=56,cin=24,k=1,s=1,act=relu6\"\n"
                               "  - {hw: 56}\n"
                               "extra: 1\n");
    char args[512], *out = NULL;
    snprintf(args, sizeof args, "check %s", path);
    cr_assert_eq(lp_test_cli(args, &out), 2, "%s", out);
    char want[512];
    snprintf(want, sizeof want, "%s:4:5: conv-bn-relu config", path);
    expect_in(out, want);
    expect_in(out, "k=4 is not a valid value");
    snprintf(want, sizeof want, "%s:5:5: duplicate config", path);
    expect_in(out, want);
    expect_in(out, "(first at line 3)");
    snprintf(want, sizeof want, "%s:6:5: ", path);
    expect_in(out, want);
    expect_in(out, "missing key 'cout'");
    snprintf(want, sizeof want, "%s:7:5: a config must be a string", path);
    expect_in(out, want);
    snprintf(want, sizeof want, "%s:8:1: unknown key 'extra'", path);
    expect_in(out, want);
    free(out);

    /* the loader fails on the first problem, with its position */
    lp_kcfg *cfgs = NULL;
    size_t n = 0;
    lp_err err = {0};
    cr_assert_eq(lp_representative_load(lp_test_reg, path, NULL, &cfgs, &n, &err), LP_EINVAL);
    snprintf(want, sizeof want, "%s:8:1: unknown key", path);
    expect_in(err.msg, want);
    expect_in(err.msg, "more problems");
    cr_assert_null(cfgs);

    /* an unknown kernel type and a set too small to rank */
    char *p2 = lp_test_write(dir, "bad2.yaml", "representative: conv-bn-rel\nconfigs: [\"hw=1\"]\n");
    snprintf(args, sizeof args, "check %s", p2);
    cr_assert_eq(lp_test_cli(args, &out), 2, "%s", out);
    snprintf(want, sizeof want, "%s:1:17: unknown kernel plugin 'conv-bn-rel'", p2);
    expect_in(out, want);
    snprintf(want, sizeof want, "%s:2:10: 'configs' has 1 entry", p2);
    expect_in(out, want);
    free(out);
    free(p2);
    free(path);
    lp_test_rmtree(dir);
    free(dir);
}

Test(similarity, loader_resolves_names_and_reports_missing_sets)
{
    lp_kcfg *cfgs = NULL;
    size_t n = 0;
    lp_err err = {0};
    cr_assert_eq(lp_representative_load(lp_test_reg, "no-such-kernel", NULL, &cfgs, &n, &err), LP_ENOTFOUND);
    expect_in(err.msg, "/representative/no-such-kernel.yaml");
    char *path = lp_representative_path("fc", &err);
    cr_assert_not_null(path, "%s", err.msg);
    cr_assert_str_eq(path, LP_TEST_SOURCE_DIR "/configs/representative/fc.yaml");
    free(path);
    /* a file looked up by one kernel's name must be that kernel's set */
    char *dir = lp_test_tmpdir(), *sub = NULL;
    cr_assert_geq(asprintf(&sub, "%s/representative", dir), 0);
    cr_assert_eq(mkdir(sub, 0777), 0);
    free(lp_test_write(sub, "fc.yaml", "representative: gelu\nconfigs: [\"n=1,c=8\", \"n=2,c=8\"]\n"));
    setenv("LITEPRED_CONFIG_DIR", dir, 1);
    cr_assert_eq(lp_representative_load(lp_test_reg, "fc", NULL, &cfgs, &n, &err), LP_EINVAL);
    expect_in(err.msg, "fc.yaml:1:17: the set is for 'gelu'");
    free(sub);
    lp_test_rmtree(dir);
    free(dir);
}

Test(similarity, cli_verb_rejects_bad_arguments)
{
    char *out = NULL;
    cr_assert_eq(lp_test_cli("representative nope", &out), 2, "%s", out);
    expect_in(out, "unknown kernel type 'nope'");
    free(out);
    cr_assert_eq(lp_test_cli("representative fc -n 3", &out), 2, "%s", out);
    expect_in(out, "-n must be an integer in 8..512");
    free(out);
    cr_assert_eq(lp_test_cli("representative --help", &out), 0, "%s", out);
    expect_in(out, "usage: litepred representative KERNEL");
    free(out);
}
