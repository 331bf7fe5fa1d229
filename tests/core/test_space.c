/* Search spaces: the spec's channel arithmetic, every space's sampled models
 * passing the shape check, determinism of sampling, space file diagnostics and
 * the `space` verbs. */
#include <criterion/criterion.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <litepred/space.h>
#include "lp_test.h"

#define SPACES LP_TEST_SOURCE_DIR "/configs/spaces"
#define FIX LP_TEST_FIXTURE_DIR "/spaces/"

/* Models drawn per space: enough to reach every choice, a fraction of a second each. */
#define PER_SPACE 300

static const char *const all_spaces[] = {
    "ofa-mbv3-w1.0", "ofa-mbv3-w1.2", "ofa-proxyless", "proxylessnas", "ofa-resnet",
    "bignas",        "fbnetv3",       "autoformer-tiny", "autoformer-small", "autoformer-base"};
#define N_SPACES (sizeof all_spaces / sizeof all_spaces[0])

static lp_space *load(const char *name)
{
    char *path = NULL;
    lp_space *s = NULL;
    lp_err err = {0};
    cr_assert_eq(lp_space_find(SPACES, name, &path, &err), 0, "%s", err.msg);
    cr_assert_eq(lp_space_load(path, &s, &err), 0, "%s", err.msg);
    free(path);
    return s;
}

static lp_model *sample(const lp_space *s, lp_registry *reg, uint64_t seed, uint64_t i)
{
    lp_model *m = NULL;
    lp_err err = {0};
    int rc = lp_space_sample_checked(s, reg, seed, i, &m, &err);
    cr_assert_eq(rc, 0, "%s model %llu: %s", lp_space_name(s), (unsigned long long)i, err.msg);
    return m;
}

static char *yaml(const lp_model *m)
{
    char *t = NULL;
    lp_err err = {0};
    cr_assert_eq(lp_model_to_yaml(m, &t, &err), 0, "%s", err.msg);
    return t;
}

static const lp_menc *enc(const lp_model *m, const char *key)
{
    for (size_t i = 0; i < m->n_enc; i++)
        if (!strcmp(m->enc[i].key, key))
            return &m->enc[i];
    return NULL;
}

static int enc_int(const lp_menc *e, size_t i)
{
    return atoi(e->vals[i]);
}

/* Value of dim `name` in a kernel entry's canonical config. */
static int dim(const lp_mnode *k, const char *name)
{
    for (size_t d = 0; d < k->ops->n_dims; d++)
        if (!strcmp(k->ops->dims[d].name, name))
            return k->cfg.v[d];
    cr_assert_fail("%s has no dim %s", k->type, name);
    return -1;
}

static size_t count_type(const lp_model *m, const char *type)
{
    size_t n = 0;
    for (size_t i = 0; i < m->n; i++)
        n += !strcmp(m->k[i].type, type);
    return n;
}

/* ---- arithmetic ------------------------------------------------------------ */

Test(space, rng_is_pinned_and_bounded)
{
    uint64_t st = 0;
    cr_assert_eq(lp_splitmix64(&st), 0xE220A8397B1DCDAFull); /* splitmix64's reference output */
    lp_rng a, b;
    lp_rng_seed(&a, 42);
    lp_rng_seed(&b, 42);
    for (int i = 0; i < 1000; i++) {
        cr_assert_eq(lp_rng_next(&a), lp_rng_next(&b));
        cr_assert_lt(lp_rng_below(&a, 7), 7u);
        lp_rng_below(&b, 7);
    }
    lp_rng_seed(&a, 1);
    lp_rng_seed(&b, 2);
    cr_assert_neq(lp_rng_next(&a), lp_rng_next(&b));
}

Test(space, rounding_rules)
{
    /* make_divisible (OFA) */
    cr_assert_eq(lp_round_width(LP_ROUND_MAKE_DIVISIBLE, 16 * 1.2), 24); /* 16 < 0.9 * 19.2 */
    cr_assert_eq(lp_round_width(LP_ROUND_MAKE_DIVISIBLE, 112 * 1.2), 136);
    cr_assert_eq(lp_round_width(LP_ROUND_MAKE_DIVISIBLE, 192 * 1.3), 248);
    cr_assert_eq(lp_round_width(LP_ROUND_MAKE_DIVISIBLE, 3), 8);
    /* get_divisible_by (FBNet): round half up, +8 below 0.95 n, at least 8 */
    cr_assert_eq(lp_round_width(LP_ROUND_GET_DIVISIBLE_BY, 18), 24);
    cr_assert_eq(lp_round_width(LP_ROUND_GET_DIVISIBLE_BY, 20), 24);
    cr_assert_eq(lp_round_width(LP_ROUND_GET_DIVISIBLE_BY, 12), 16);
    cr_assert_eq(lp_round_width(LP_ROUND_GET_DIVISIBLE_BY, 3), 8);
    cr_assert_eq(lp_round_width(LP_ROUND_GET_DIVISIBLE_BY, 40), 40);
    /* rint rounds halves to even, like Python's round() */
    cr_assert_eq(lp_round_width(LP_ROUND_RINT, 2.5), 2);
    cr_assert_eq(lp_round_width(LP_ROUND_RINT, 3.5), 4);
    cr_assert_eq(lp_mbconv_mid(LP_ROUND_RINT, 25, 4.5), 112); /* 112.5 -> 112 */
    cr_assert_eq(lp_mbconv_mid(LP_ROUND_GET_DIVISIBLE_BY, 22, 1), 24);
}

Test(space, ofa_mid_and_se_check_values)
{
    const double e[] = {3, 4, 6};
    const int mid24[] = {72, 96, 144}, se24[] = {24, 24, 40};
    const int mid112[] = {336, 448, 672}, se112[] = {88, 112, 168};
    for (int i = 0; i < 3; i++) {
        int m = lp_mbconv_mid(LP_ROUND_MAKE_DIVISIBLE, 24, e[i]);
        cr_assert_eq(m, mid24[i], "Cin=24 e=%g: mid %d", e[i], m);
        cr_assert_eq(lp_se_width(LP_SE_OFA, m, e[i]), se24[i]);
        m = lp_mbconv_mid(LP_ROUND_MAKE_DIVISIBLE, 112, e[i]);
        cr_assert_eq(m, mid112[i], "Cin=112 e=%g: mid %d", e[i], m);
        cr_assert_eq(lp_se_width(LP_SE_OFA, m, e[i]), se112[i]);
    }
    /* FBNet: get_divisible_by(int(cmid * 0.25 / e), 8) */
    cr_assert_eq(lp_se_width(LP_SE_FBNET, 1272, 6), 56);
}

Test(space, resnet_mid_widths)
{
    const double e[] = {0.2, 0.25, 0.35};
    const int want[] = {408, 512, 720};
    for (int i = 0; i < 3; i++)
        cr_assert_eq(lp_mbconv_mid(LP_ROUND_MAKE_DIVISIBLE, 2048, e[i]), want[i]);
}

static void expect_widths(const char *name, const int *want, size_t n)
{
    lp_space *s = load(name);
    int got[32];
    size_t k = lp_space_widths(s, got, 32);
    cr_assert_eq(k, n, "%s: %zu widths", name, k);
    for (size_t i = 0; i < n; i++)
        cr_assert_eq(got[i], want[i], "%s width %zu: %d, expected %d", name, i, got[i], want[i]);
    lp_space_free(s);
}

Test(space, scaled_widths)
{
    const int w10[] = {16, 16, 24, 40, 80, 112, 160, 960, 1280};
    const int w12[] = {24, 24, 32, 48, 96, 136, 192, 1152, 1536};
    const int px[] = {40, 24, 32, 56, 104, 128, 248, 416, 1664};
    expect_widths("ofa-mbv3-w1.0", w10, 9);
    expect_widths("ofa-mbv3-w1.2", w12, 9);
    expect_widths("ofa-proxyless", px, 9);
}

/* ---- every space ------------------------------------------------------------ */

/* Samples PER_SPACE models: each passes resolve and the shape check, has the space's
 * encoding length, and rebuilds byte-identically from its encoding. */
static void sample_space(lp_registry *reg, const char *name)
{
    lp_space *s = load(name);
    size_t enc_len = 0;
    for (uint64_t i = 0; i < PER_SPACE; i++) {
        lp_model *m = sample(s, reg, 7, i), *r = NULL;
        size_t len = 0;
        for (size_t j = 0; j < m->n_enc; j++)
            len += m->enc[j].n;
        if (i == 0)
            enc_len = len;
        cr_assert_eq(len, enc_len, "%s: encoding length differs between models", name);
        lp_err err = {0};
        cr_assert_eq(lp_space_build(s, m, m->name, &r, &err), 0, "%s: %s", name, err.msg);
        char *a = yaml(m), *b = yaml(r);
        cr_assert_str_eq(a, b, "%s model %llu does not rebuild from its encoding", name,
                         (unsigned long long)i);
        cr_assert_eq(m->input_hw, (int64_t)dim(&m->k[0], "hw"));
        if (i < 3) {
            /* The whole-model graph builds and does the kernels' multiply-accumulates. */
            lp_graph g;
            lp_model_totals t;
            lp_graph_init(&g);
            cr_assert_eq(lp_model_build(m, &g, &err), 0, "%s: %s", name, err.msg);
            lp_model_totals_get(m, &t);
            cr_assert_float_eq(lp_graph_macs(&g), t.macs, t.macs * 1e-9, "%s", name);
            lp_graph_free(&g);
        }
        free(a);
        free(b);
        lp_model_free(r);
        lp_model_free(m);
    }
    lp_space_free(s);
}

Test(space, every_space_samples_consistent_models)
{
    lp_registry *reg = lp_test_registry();
    for (size_t i = 0; i < N_SPACES; i++)
        sample_space(reg, all_spaces[i]);
    lp_registry_close(reg);
}

Test(space, same_seed_same_bytes)
{
    lp_registry *reg = lp_test_registry();
    for (size_t i = 0; i < N_SPACES; i++) {
        lp_space *s = load(all_spaces[i]);
        lp_model *a = sample(s, reg, 11, 3), *b = sample(s, reg, 11, 3), *c = sample(s, reg, 12, 3);
        char *ta = yaml(a), *tb = yaml(b), *tc = yaml(c);
        cr_assert_str_eq(ta, tb);
        cr_assert_str_neq(strstr(ta, "\ninput:"), strstr(tc, "\ninput:"),
                          "%s: seeds 11 and 12 gave the same model", all_spaces[i]);
        free(ta), free(tb), free(tc);
        lp_model_free(a), lp_model_free(b), lp_model_free(c);
        lp_space_free(s);
    }
    lp_registry_close(reg);
}

/* OFA MobileNetV3: blocks follow d; SE only in stages 2, 4, 5 with the OFA width. */
Test(space, ofa_mbv3_structure)
{
    lp_registry *reg = lp_test_registry();
    lp_space *s = load("ofa-mbv3-w1.0");
    for (uint64_t i = 0; i < 100; i++) {
        lp_model *m = sample(s, reg, 3, i);
        const lp_menc *d = enc(m, "d"), *k = enc(m, "k"), *e = enc(m, "e");
        cr_assert(d && k && e && d->n == 5 && k->n == 20 && e->n == 20);
        size_t blocks = 1, se = 0, adds = 1;
        for (int st = 0; st < 5; st++) {
            blocks += (size_t)enc_int(d, st);
            adds += (size_t)enc_int(d, st) - 1;
            if (st == 1 || st == 3 || st == 4)
                se += (size_t)enc_int(d, st);
        }
        cr_assert_eq(count_type(m, "dwconv-bn-relu"), blocks);
        cr_assert_eq(count_type(m, "se"), se);
        cr_assert_eq(count_type(m, "add"), adds);
        for (size_t j = 0; j < m->n; j++)
            if (!strcmp(m->k[j].type, "se"))
                cr_assert_eq(dim(&m->k[j], "cse"), lp_se_width(LP_SE_OFA, dim(&m->k[j], "c"), 0));
        lp_model_free(m);
    }
    lp_space_free(s);
    lp_registry_close(reg);
}

/* OFA ResNet: last-stage mids come from {408, 512, 720} when the width is 2048; every
 * shape-changing block has an avgpool shortcut. */
Test(space, ofa_resnet_structure)
{
    lp_registry *reg = lp_test_registry();
    lp_space *s = load("ofa-resnet");
    int seen[3] = {0};
    for (uint64_t i = 0; i < 200; i++) {
        lp_model *m = sample(s, reg, 5, i);
        const lp_menc *c = enc(m, "c"), *d = enc(m, "d");
        cr_assert(c && c->n == 6 && d && d->n == 5);
        cr_assert_eq(count_type(m, "avgpool"), 4u);
        cr_assert_eq(count_type(m, "maxpool"), 1u);
        for (size_t j = 0; j < m->n && enc_int(c, 5) == 2048; j++) {
            const lp_mnode *k = &m->k[j];
            if (strcmp(k->type, "conv-bn-relu") || dim(k, "cout") != 2048 || dim(k, "k") != 1)
                continue;
            int cin = dim(k, "cin");
            seen[0] |= cin == 408, seen[1] |= cin == 512, seen[2] |= cin == 720;
            cr_assert(cin == 408 || cin == 512 || cin == 720 || cin == enc_int(c, 4),
                      "unexpected mid %d", cin);
        }
        lp_model_free(m);
    }
    cr_assert(seen[0] && seen[1] && seen[2], "mids 408/512/720 not all drawn");
    lp_space_free(s);
    lp_registry_close(reg);
}

/* AutoFormer: 197 tokens, head dim 64, one embed dim for every layer. */
Test(space, autoformer_tokens_and_heads)
{
    lp_registry *reg = lp_test_registry();
    const char *names[] = {"autoformer-tiny", "autoformer-small", "autoformer-base"};
    for (int n = 0; n < 3; n++) {
        lp_space *s = load(names[n]);
        for (uint64_t i = 0; i < 50; i++) {
            lp_model *m = sample(s, reg, 9, i);
            int e = enc_int(enc(m, "c"), 0), layers = enc_int(enc(m, "d"), 0);
            cr_assert_eq(count_type(m, "mhsa"), (size_t)layers);
            for (size_t j = 0; j < m->n; j++) {
                const lp_mnode *k = &m->k[j];
                if (k->op == LP_MOP_TOKENS)
                    cr_assert_eq(k->out.d[0], 197);
                if (!strcmp(k->type, "mhsa")) {
                    cr_assert_eq(dim(k, "n"), 197);
                    cr_assert_eq(dim(k, "d"), 64);
                    cr_assert_eq(dim(k, "e"), e);
                    cr_assert_eq(dim(&m->k[j - 1], "cout"), 3 * 64 * dim(k, "h"));
                }
                if (!strcmp(k->type, "layernorm"))
                    cr_assert_eq(dim(k, "c"), e);
            }
            lp_model_free(m);
        }
        lp_space_free(s);
    }
    lp_registry_close(reg);
}

/* Original ProxylessNAS: Zero cells skip blocks (written k 0, e 0). */
Test(space, proxylessnas_zero_cells)
{
    lp_registry *reg = lp_test_registry();
    lp_space *s = load("proxylessnas");
    int zeros = 0;
    for (uint64_t i = 0; i < 50; i++) {
        lp_model *m = sample(s, reg, 1, i);
        const lp_menc *k = enc(m, "k");
        size_t active = 1;
        cr_assert_eq(k->n, 21u);
        for (size_t j = 0; j < k->n; j++) {
            zeros += enc_int(k, j) == 0;
            active += enc_int(k, j) != 0;
        }
        cr_assert_eq(count_type(m, "dwconv-bn-relu"), active);
        lp_model_free(m);
    }
    cr_assert_gt(zeros, 0);
    lp_space_free(s);
    lp_registry_close(reg);
}

/* ---- space files ----------------------------------------------------------- */

Test(space, shipped_space_files_check_clean)
{
    lp_registry *reg = lp_test_registry();
    char **files = NULL;
    size_t n = 0;
    lp_err err = {0};
    cr_assert_eq(lp_space_files(SPACES, &files, &n, &err), 0, "%s", err.msg);
    cr_assert_geq(n, N_SPACES);
    for (size_t i = 0; i < n; i++) {
        lp_diag diag = {0};
        int rc = lp_check_file(reg, files[i], &diag, &err);
        cr_assert_eq(rc, 0, "%s: %s", files[i], diag.n ? diag.msgs[0] : err.msg);
        lp_diag_free(&diag);
    }
    lp_strv_free(files, n);
    lp_registry_close(reg);
}

Test(space, bad_space_reports_every_problem_with_position)
{
    lp_registry *reg = lp_test_registry();
    lp_diag diag = {0};
    lp_err err = {0};
    cr_assert_eq(lp_check_file(reg, FIX "bad-space.yaml", &diag, &err), LP_EINVAL);
    const char *want[] = {"bad-space.yaml:3:13: 'resolution' range",
                          "bad-space.yaml:4:11: 'rounding' must be one of",
                          "bad-space.yaml:6:40: 'act' must be an activation",
                          "bad-space.yaml:7:10: 'op' must be one of",
                          "bad-space.yaml:9:29: 'c' values must be numbers",
                          "unknown key 'colour'",
                          "missing required key 'heads'"};
    lp_test_expect_diag(&diag, want, sizeof want / sizeof want[0]);
    lp_diag_free(&diag);
    lp_registry_close(reg);
}

Test(space, find_by_name_file_and_path)
{
    char *path = NULL;
    lp_err err = {0};
    cr_assert_eq(lp_space_find(SPACES, "bignas", &path, &err), 0);
    cr_assert(strstr(path, "bignas.yaml"));
    free(path);
    cr_assert_eq(lp_space_find(SPACES, FIX "tiny.yaml", &path, &err), 0);
    free(path);
    cr_assert_eq(lp_space_find(SPACES, "no-such-space", &path, &err), LP_ENOTFOUND);
    cr_assert(strstr(err.msg, "available: "), "%s", err.msg);
}

/* ---- the space verbs --------------------------------------------------------- */

Test(space_cli, list_names_every_space)
{
    char *out = lp_test_cli_expect(0, "space list --spaces " SPACES);
    for (size_t i = 0; i < N_SPACES; i++)
        cr_assert(strstr(out, all_spaces[i]), "%s missing from:\n%s", all_spaces[i], out);
    free(out);
}

Test(space_cli, sample_twice_gives_identical_files)
{
    char *dir = lp_test_tmpdir(), cmd[1024], *out = NULL;
    snprintf(cmd, sizeof cmd, "--quiet space sample ofa-mbv3-w1.2 -n 20 --seed 5 --out %s/a "
             "--spaces " SPACES, dir);
    free(lp_test_cli_expect(0, cmd));
    snprintf(cmd, sizeof cmd, "--quiet space sample ofa-mbv3-w1.2 --seed 5 -n 20 --out %s/b "
             "--spaces " SPACES, dir);
    free(lp_test_cli_expect(0, cmd));
    snprintf(cmd, sizeof cmd, "diff -r %s/a %s/b && ls %s/a | wc -l", dir, dir, dir);
    cr_assert_eq(lp_test_run(cmd, &out), 0, "%s", out);
    cr_assert_eq(atoi(out), 20, "%s", out);
    free(out);
    snprintf(cmd, sizeof cmd, "check %s/a/ofa-mbv3-w1.2-s5-0007.yaml", dir);
    free(lp_test_cli_expect(0, cmd));
    lp_test_rmtree(dir);
    free(dir);
}

Test(space_cli, configs_csv_counts_kernels)
{
    char *out = lp_test_cli_expect(0, "--quiet space configs " FIX
                                      "tiny.yaml --kernel se -n 40 --seed 2");
    const char *head = "hw,c,cse,act,count,weight\n";
    cr_assert(!strncmp(out, head, strlen(head)), "%s", out);
    double wsum = 0;
    int rows = 0;
    char *save = NULL;
    for (char *line = strtok_r(out + strlen(head), "\n", &save); line;
         line = strtok_r(NULL, "\n", &save), rows++) {
        const char *w = strrchr(line, ',');
        cr_assert_not_null(w);
        wsum += atof(w + 1);
    }
    cr_assert_gt(rows, 1);
    cr_assert_float_eq(wsum, 1.0, 1e-4, "weights sum to %g:\n%s", wsum, out);
    free(out);
}

Test(space_cli, usage_errors_exit_2)
{
    free(lp_test_cli_expect(0, "space --help"));
    free(lp_test_cli_expect(2, "space"));
    free(lp_test_cli_expect(2, "space frobnicate"));
    free(lp_test_cli_expect(2, "space sample ofa-resnet -n 2 --spaces " SPACES));   /* no --out */
    free(lp_test_cli_expect(2, "space sample ofa-resnet -n x --out /tmp --spaces " SPACES));
    free(lp_test_cli_expect(2, "space configs ofa-resnet --spaces " SPACES));      /* no --kernel */
    free(lp_test_cli_expect(2, "space configs ofa-resnet --kernel nope --spaces " SPACES));
    free(lp_test_cli_expect(2, "space configs no-such-space --kernel se --spaces " SPACES));
    free(lp_test_cli_expect(2, "space list --bogus"));
}
