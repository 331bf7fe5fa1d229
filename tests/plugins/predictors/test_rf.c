/* The rf predictor through the registry: nn-Meter's settings, exact fits, agreement with
 * scikit-learn's trees, determinism, the out-of-bag error, bit-exact save/load, every file
 * corruption with its exact error, fine-tuning refused, and misuse. */
#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <litepred/litepred.h>
#include <litepred/predictor.h>
#include <litepred/nn.h>
#include <litepred/space.h>

#include "lp_test.h"

TestSuite(rf, .init = lp_test_setup, .fini = lp_test_teardown, .timeout = 120);

static lp_instance *make(const char *kv)
{
    return lp_test_instance(LP_KIND_PREDICTOR, "rf", kv);
}

static const lp_predictor_ops *ops_of(lp_instance *inst)
{
    return lp_instance_ops(inst);
}

/* Offsets inside a saved file (see rf.c's format): the info text and the tree counts. */
typedef struct layout {
    size_t info, info_len, features, trees, counts, nodes;
} layout;

static layout layout_of(const unsigned char *b)
{
    layout l;
    size_t k = (size_t)b[24] | (size_t)b[25] << 8;
    l.info = 26 + k + 2;
    l.info_len = (size_t)b[26 + k] | (size_t)b[27 + k] << 8;
    l.features = l.info + l.info_len;
    l.trees = l.features + 8;
    l.counts = l.trees + 4;
    l.nodes = l.counts + 4 * lp_test_get_u32(b + l.trees);
    return l;
}

/* The "how it was trained" text of a saved file. */
static char *info_of(const char *path)
{
    size_t n;
    unsigned char *b = lp_test_slurp(path, &n);
    layout l = layout_of(b);
    char *s = strndup((const char *)b + l.info, l.info_len);
    free(b);
    return s;
}

/* A small trained forest saved to lp_test_dir/name; returns its path. */
static char *trained_file(const char *name, lp_test_rows *r)
{
    return lp_test_trained_file("rf", "trees=12,seed=2", name, r);
}

/* ---- options and nn-Meter's settings ------------------------------------------------- */

Test(rf, options_and_defaults)
{
    const lp_plugin *p = lp_registry_find(lp_test_reg, LP_KIND_PREDICTOR, "rf");
    cr_assert_not_null(p);
    static const char *const want[][2] = {
        {"trees", "0"}, {"depth", "0"}, {"max_features", "0"}, {"min_leaf", "1"},
        {"seed", "10"}, {"bootstrap", "true"}, {"target", "raw"}, {"preset", "cpu"}};
    const lp_option *o = lp_plugin_descriptor(p)->options;
    char buf[64];
    for (size_t i = 0; i < sizeof want / sizeof *want; i++) {
        cr_assert_str_eq(o[i].name, want[i][0]);
        cr_assert_str_eq(lp_option_default_str(&o[i], buf, sizeof buf), want[i][1], "%s",
                         o[i].name);
    }
    cr_assert_null(o[8].name, "8 options");
    lp_instance *inst = NULL;
    lp_err err = {0};
    cr_assert_eq(lp_instance_create_kv(p, "target=exp", &inst, &err), LP_EINVAL);
    cr_assert(strstr(err.msg, "raw, log"), "%s", err.msg);
    cr_assert_eq(lp_instance_create_kv(p, "trees=-1", &inst, &err), LP_EINVAL);
    cr_assert_eq(lp_instance_create_kv(p, "min_leaf=0", &inst, &err), LP_EINVAL);
    inst = make(NULL);
    cr_assert_eq(ops_of(inst)->n_features(inst->priv), 0, "untrained");
    cr_assert_null(ops_of(inst)->kernel_type(inst->priv));
    lp_instance_destroy(inst);
}

/* Trains on 60 rows labelled `kernel` with options kv; returns the file's info text. */
static char *settings_for(const char *kv, const char *kernel, int64_t *trees)
{
    static lp_test_rows r;
    lp_test_synth(&r, 60, 5, 0.01, 1.0f);
    lp_dataset tr = lp_test_set_of(&r, 0, 60);
    tr.kernel_type = kernel;
    lp_instance *inst = make(kv);
    lp_train_report rep;
    lp_test_train(inst, &tr, NULL, NULL, &rep);
    *trees = rep.epochs;
    char *path = lp_test_file("settings.rf");
    lp_test_save(inst, path);
    lp_instance_destroy(inst);
    char *info = info_of(path);
    free(path);
    return info;
}

/* nn-Meter's predictor_lib.py values per kernel type, max_features clamped to the 5 features. */
Test(rf, nn_meter_settings_per_kernel)
{
    static const struct {
        const char *kv, *kernel, *info;
        int64_t trees;
    } cases[] = {
        {NULL, "conv-bn-relu", "trees=320,depth=70,max_features=5,min_leaf=1,seed=10,"
                               "bootstrap=1,target=raw,preset=cpu", 320},
        {NULL, "dwconv-bn-relu", "trees=240,depth=50,max_features=5,", 240},
        {NULL, "fc", "trees=370,depth=50,max_features=2,", 370},
        {NULL, "se", "trees=290,depth=20,max_features=2,", 290},
        {NULL, "global-avgpool", "trees=370,depth=70,max_features=2,", 370},
        /* No entry: nn-Meter's fallback, 370 trees of depth 50 over every feature. */
        {NULL, "mhsa", "trees=370,depth=50,max_features=5,", 370},
        {NULL, NULL, "trees=370,depth=50,max_features=5,", 370},
        {"preset=gpu", "conv-bn-relu", "trees=550,depth=80,max_features=5,", 550},
        {"preset=vpu", "dwconv-bn-relu", "trees=650,depth=100,max_features=5,", 650},
        {"preset=gpu", "global-avgpool", "trees=370,depth=50,max_features=5,", 370},
        {"trees=7,depth=3,max_features=2,target=log", "conv-bn-relu",
         "trees=7,depth=3,max_features=2,min_leaf=1,seed=10,bootstrap=1,target=log,", 7},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        int64_t trees = 0;
        char *info = settings_for(cases[i].kv, cases[i].kernel, &trees);
        cr_assert_eq(strncmp(info, cases[i].info, strlen(cases[i].info)), 0,
                     "%s on %s: '%s'", cases[i].kv ? cases[i].kv : "defaults",
                     cases[i].kernel ? cases[i].kernel : "(unnamed)", info);
        cr_assert_eq(trees, cases[i].trees);
        free(info);
    }
}

/* ---- fitting --------------------------------------------------------------------------- */

/* y is constant on each cell of a 2-D grid cut at x0 = 2.5, 5.5 and x1 = 3.5. */
static float step2d(float a, float b)
{
    return 1.0f + (a > 2.5f) * 2.0f + (a > 5.5f) * 4.0f + (b > 3.5f) * 0.5f;
}

Test(rf, fits_piecewise_constant_exactly)
{
    static float x[8 * 8 * 2], y[64];
    size_t n = 0;
    for (int a = 0; a < 8; a++)
        for (int b = 0; b < 8; b++, n++) {
            x[2 * n] = (float)a;
            x[2 * n + 1] = (float)b;
            y[n] = step2d((float)a, (float)b);
        }
    lp_dataset tr = {.kernel_type = "toy", .n = n, .n_features = 2, .x = x, .y = y};
    float pred[64];
    /* One feature per split, drawn at random: still an exact fit once trees grow deep. */
    const char *settings[] = {"bootstrap=false,trees=3,depth=1000,max_features=1",
                              "bootstrap=false,trees=1,depth=1000,min_leaf=8",
                              "bootstrap=false,trees=2,depth=3,target=log"};
    for (size_t s = 0; s < 3; s++) {
        lp_instance *inst = make(settings[s]);
        lp_train_report rep;
        lp_test_train(inst, &tr, NULL, NULL, &rep);
        lp_test_predict(inst, x, n, pred);
        double tol = s == 2 ? 1e-6 : 0; /* exp(log y) may round */
        for (size_t i = 0; i < n; i++)
            cr_assert_leq(fabs(pred[i] - y[i]), tol * y[i], "%s: row %zu: %g, want %g",
                          settings[s], i, (double)pred[i], (double)y[i]);
        cr_assert_leq(rep.train_mape, tol, "%s", settings[s]);
        /* Thresholds lie halfway between grid values: off-grid points get their cell's value. */
        float q[4] = {2.4f, 3.6f, 2.6f, 3.4f}, out[2];
        lp_test_predict(inst, q, 2, out);
        cr_assert_float_eq(out[0], step2d(2.4f, 3.6f), tol * 8);
        cr_assert_float_eq(out[1], step2d(2.6f, 3.4f), tol * 8);
        lp_instance_destroy(inst);
    }
    /* Depth 1 cannot cut three times: the depth limit holds. */
    lp_instance *inst = make("bootstrap=false,trees=1,depth=1");
    lp_train_report rep;
    lp_test_train(inst, &tr, NULL, NULL, &rep);
    cr_assert_gt(rep.train_mape, 0.05);
    lp_instance_destroy(inst);
}

static float unit(lp_rng *r)
{
    return (float)(lp_rng_next(r) >> 40) / 16777216.0f;
}

/* Two continuous features and a discrete one (ties), y smooth. */
static void sk_rows(float *x, float *y, size_t n, uint64_t seed)
{
    lp_rng rng;
    lp_rng_seed(&rng, seed);
    for (size_t i = 0; i < n; i++) {
        float *f = x + i * 3;
        f[0] = unit(&rng);
        f[1] = unit(&rng);
        f[2] = (float)lp_rng_below(&rng, 10);
        y[i] = (float)(2 + sin(6 * f[0]) + f[1] * f[1] + 0.3 * f[2]);
    }
}

/* One tree without bootstrap over every feature is scikit-learn's DecisionTreeRegressor.
 * The expected values are scikit-learn 1.2.1's predictions on the same float32 rows
 * (DecisionTreeRegressor(max_depth=6, min_samples_leaf=5) and (min_samples_leaf=3), fitted
 * on the 300 rows of sk_rows(.., 11), predicting the 16 of sk_rows(.., 12); every
 * random_state gives the same values). */
Test(rf, matches_scikit_learn_tree)
{
    static const float want[2][16] = {
        {3.91189957f, 2.68578959f, 4.05813503f, 1.90087664f, 2.13288808f, 4.5988636f,
         4.5988636f, 2.13288808f, 2.73464847f, 3.13555431f, 1.90087664f, 1.62651813f,
         2.13288808f, 3.13555431f, 4.00328588f, 5.00378942f},
        {4.17506123f, 2.59985042f, 4.05813503f, 1.97038352f, 1.83240056f, 4.61843252f,
         4.61843252f, 2.02838755f, 2.73464847f, 2.88909769f, 1.81399298f, 1.75515056f,
         1.83240056f, 2.88909769f, 3.91841078f, 4.98484087f}};
    static const char *const kv[2] = {"bootstrap=false,trees=1,max_features=3,depth=6,min_leaf=5",
                                      "bootstrap=false,trees=1,max_features=3,depth=1000,min_leaf=3"};
    static float x[300 * 3], y[300], tx[16 * 3], ty[16], out[16];
    sk_rows(x, y, 300, 11);
    sk_rows(tx, ty, 16, 12);
    lp_dataset tr = {.n = 300, .n_features = 3, .x = x, .y = y};
    for (int c = 0; c < 2; c++) {
        lp_instance *inst = make(kv[c]);
        lp_train_report rep;
        lp_test_train(inst, &tr, NULL, NULL, &rep);
        lp_test_predict(inst, tx, 16, out);
        for (int i = 0; i < 16; i++)
            cr_assert_eq(out[i], want[c][i], "%s: row %d: %.9g, scikit-learn %.9g", kv[c], i,
                         (double)out[i], (double)want[c][i]);
        lp_instance_destroy(inst);
    }
}

/* A chain deeper than any of nn-Meter's depths: with y growing 2.5-fold per row, each best
 * split peels off the largest latency, so 110 rows make a tree 109 deep; it grows from the
 * explicit stack and predicts every row exactly. */
#define CHAIN 110
Test(rf, deep_chain_without_recursion)
{
    static float x[CHAIN], y[CHAIN], pred[CHAIN];
    for (int i = 0; i < CHAIN; i++) {
        x[i] = (float)i;
        y[i] = (float)(pow(2.5, i) * 1e-7);
    }
    lp_dataset tr = {.n = CHAIN, .n_features = 1, .x = x, .y = y};
    lp_instance *inst = make("bootstrap=false,trees=1,depth=100000");
    lp_train_report rep;
    lp_test_train(inst, &tr, NULL, NULL, &rep);
    lp_test_predict(inst, x, CHAIN, pred);
    cr_assert_eq(memcmp(pred, y, sizeof y), 0, "not an exact fit");
    char *path = lp_test_file("deep.rf");
    lp_test_save(inst, path);
    size_t n;
    unsigned char *b = lp_test_slurp(path, &n);
    layout l = layout_of(b);
    /* Depth of the one tree, from its node array (children come after their parent). */
    uint32_t count = lp_test_get_u32(b + l.counts), depth[2 * CHAIN] = {0}, deepest = 0;
    cr_assert_eq(count, 2 * CHAIN - 1);
    for (uint32_t i = 0; i < count; i++) {
        const unsigned char *nd = b + l.nodes + 12 * i;
        if ((int32_t)lp_test_get_u32(nd) >= 0) {
            uint32_t left = lp_test_get_u32(nd + 8);
            depth[left] = depth[left + 1] = depth[i] + 1;
        }
        deepest = depth[i] > deepest ? depth[i] : deepest;
    }
    cr_assert_eq(deepest, CHAIN - 1, "depth %u", deepest);
    /* The depth limit cuts the same chain. */
    lp_instance *cut = make("bootstrap=false,trees=1,depth=70");
    lp_test_train(cut, &tr, NULL, NULL, &rep);
    lp_test_save(cut, path);
    free(b);
    b = lp_test_slurp(path, &n);
    cr_assert_eq(lp_test_get_u32(b + layout_of(b).counts), 2 * 70 + 1, "a chain 70 deep");
    free(b);
    free(path);
    lp_instance_destroy(inst);
    lp_instance_destroy(cut);
}

Test(rf, deterministic_per_seed)
{
    static lp_test_rows r;
    lp_test_synth(&r, 1000, 3, 0.01, 1.0f);
    lp_dataset tr = lp_test_set_of(&r, 0, 1000);
    char *a = lp_test_file("a.rf"), *b = lp_test_file("b.rf"), *c = lp_test_file("c.rf");
    const char *kv[3] = {"trees=40,seed=7", "trees=40,seed=7", "trees=40,seed=8"};
    char *paths[3] = {a, b, c};
    for (int i = 0; i < 3; i++) {
        lp_instance *inst = make(kv[i]);
        lp_train_report rep;
        lp_test_train(inst, &tr, NULL, NULL, &rep);
        lp_test_save(inst, paths[i]);
        lp_instance_destroy(inst);
    }
    size_t na, nb, nc;
    unsigned char *ba = lp_test_slurp(a, &na), *bb = lp_test_slurp(b, &nb);
    unsigned char *bc = lp_test_slurp(c, &nc);
    cr_assert(na == nb && memcmp(ba, bb, na) == 0, "same seed, different forests");
    cr_assert(na != nc || memcmp(ba, bc, na) != 0, "another seed, the same forest");
    free(ba);
    free(bb);
    free(bc);
    free(a);
    free(b);
    free(c);
}

/* ---- out-of-bag error ------------------------------------------------------------------ */

/* nn-Meter's conv settings on a smooth conv-like latency: the OOB error estimates the
 * held-out error. Measured: OOB MAPE 0.19%, validation 0.14%, OOB R^2 0.9996. */
Test(rf, oob_error_reported)
{
    static lp_test_rows r;
    lp_test_synth(&r, 2000, 1, 0.01, 1.0f);
    lp_dataset tr = lp_test_set_of(&r, 0, 1600), val = lp_test_set_of(&r, 1600, 400);
    lp_instance *inst = make(NULL);
    lp_train_report rep;
    lp_test_train(inst, &tr, &val, NULL, &rep);
    cr_log_info("OOB: %lld rows, MAPE %.4f, RMSE %.5f ms, R^2 %.5f; validation MAPE %.4f; "
                "train MAPE %.4f; %.2f s", (long long)rep.oob_rows, rep.oob_mape, rep.oob_rmse,
                rep.oob_r2, rep.val_mape, rep.train_mape, rep.seconds);
    cr_assert_eq(rep.epochs, 320);
    cr_assert_eq(rep.finetuned, 0);
    /* 320 trees each leave out ~37% of the rows: every row is out of bag somewhere. */
    cr_assert_eq(rep.oob_rows, 1600);
    cr_assert_lt(rep.oob_mape, 0.01, "OOB MAPE %.4f (stated: < 1%%)", rep.oob_mape);
    cr_assert_gt(rep.oob_r2, 0.99, "OOB R^2 %.5f", rep.oob_r2);
    cr_assert(rep.oob_rmse > 0 && rep.oob_rmse < 0.02, "OOB RMSE %.5f ms", rep.oob_rmse);
    cr_assert(rep.oob_mape > rep.val_mape / 2 && rep.oob_mape < rep.val_mape * 2,
              "OOB MAPE %.4f vs validation %.4f", rep.oob_mape, rep.val_mape);
    /* Training rows were seen by most trees: their error is well below the OOB error. */
    cr_assert_lt(rep.train_mape, rep.oob_mape / 1.5);
    cr_assert_leq(rep.final_loss, rep.first_loss, "forest MSE %g, first tree %g",
                  rep.final_loss, rep.first_loss);
    /* The report's validation MAPE is the model's, recomputed here through predict. */
    static float pred[400];
    lp_test_predict(inst, val.x, 400, pred);
    double sum = 0;
    for (int i = 0; i < 400; i++)
        sum += fabs(pred[i] - val.y[i]) / val.y[i];
    cr_assert_float_eq(sum / 400, rep.val_mape, 1e-9);
    cr_assert_str_eq(ops_of(inst)->kernel_type(inst->priv), "conv-bn-relu");
    cr_assert_eq(ops_of(inst)->n_features(inst->priv), LP_TEST_NF);
    lp_instance_destroy(inst);

    /* Without bootstrap no row is out of bag. */
    inst = make("bootstrap=false,trees=3");
    lp_test_train(inst, &tr, NULL, NULL, &rep);
    cr_assert_eq(rep.oob_rows, 0);
    cr_assert(isnan(rep.oob_mape) && isnan(rep.oob_r2) && isnan(rep.oob_rmse));
    cr_assert(isnan(rep.val_mape));
    lp_instance_destroy(inst);
}

Test(rf, log_target_trains)
{
    static lp_test_rows r;
    lp_test_synth(&r, 2000, 1, 0.01, 1.0f);
    lp_dataset tr = lp_test_set_of(&r, 0, 1600), val = lp_test_set_of(&r, 1600, 400);
    lp_instance *inst = make("trees=100,target=log");
    lp_train_report rep;
    lp_test_train(inst, &tr, &val, NULL, &rep);
    cr_log_info("log target: OOB MAPE %.4f, validation MAPE %.4f", rep.oob_mape, rep.val_mape);
    cr_assert_lt(rep.val_mape, 0.01, "%.4f (stated: < 1%%)", rep.val_mape);
    cr_assert_lt(rep.oob_mape, 0.01, "%.4f (stated: < 1%%)", rep.oob_mape);
    lp_instance_destroy(inst);
}

/* A row's prediction is the same alone, in a batch, and at any place in it. */
Test(rf, batch_equals_one_at_a_time)
{
    static lp_test_rows r;
    static float all[2000], one[2000], chunked[2000];
    lp_test_synth(&r, 2000, 4, 0.01, 1.0f);
    lp_instance *inst = make("trees=21");
    lp_dataset tr = lp_test_set_of(&r, 0, 1000);
    lp_train_report rep;
    lp_test_train(inst, &tr, NULL, NULL, &rep);
    lp_test_predict(inst, r.x, 2000, all);
    for (size_t i = 0; i < 2000; i++)
        lp_test_predict(inst, r.x + i * LP_TEST_NF, 1, one + i);
    for (size_t i = 0; i < 2000; i += 13)
        lp_test_predict(inst, r.x + i * LP_TEST_NF, i + 13 <= 2000 ? 13 : 2000 - i, chunked + i);
    cr_assert_eq(memcmp(all, one, sizeof all), 0);
    cr_assert_eq(memcmp(all, chunked, sizeof all), 0);
    lp_instance_destroy(inst);
}

/* ---- misuse and fine-tuning -------------------------------------------------------------- */

Test(rf, misuse_is_an_error)
{
    lp_instance *inst = make("trees=3");
    const lp_predictor_ops *ops = ops_of(inst);
    lp_err err = {0};
    float x[LP_TEST_NF] = {1, 2, 3, 4, 5}, out;
    cr_assert_eq(ops->predict(inst->priv, x, 1, &out, &err), LP_EINVAL);
    cr_assert_str_eq(err.msg, "rf: the predictor is untrained: train or load first");
    char *path = lp_test_file("none.rf");
    cr_assert_eq(ops->save(inst->priv, path, &err), LP_EINVAL);
    char msg[1024];
    snprintf(msg, sizeof msg, "rf: %s: nothing to save: the predictor is untrained", path);
    cr_assert_str_eq(err.msg, msg);
    static lp_test_rows r;
    lp_test_synth(&r, 100, 3, 0.01, 1.0f);
    lp_dataset tr = lp_test_set_of(&r, 0, 80), val = lp_test_set_of(&r, 80, 20);
    val.n_features = 4;
    cr_assert_eq(ops->train(inst->priv, &tr, &val, NULL, NULL, &err), LP_EINVAL);
    cr_assert_str_eq(err.msg, "rf: validation rows have 4 features, training rows 5");
    r.y[7] = -1;
    cr_assert_eq(ops->train(inst->priv, &tr, NULL, NULL, NULL, &err), LP_EINVAL);
    cr_assert_str_eq(err.msg, "rf: training set: row 7: latency -1 is not > 0");
    r.x[3 * LP_TEST_NF + 2] = NAN;
    cr_assert_eq(ops->train(inst->priv, &tr, NULL, NULL, NULL, &err), LP_EINVAL);
    cr_assert_str_eq(err.msg, "rf: training set: row 3: feature 2 is nan (must be finite)");
    tr.n = 0;
    cr_assert_eq(ops->train(inst->priv, &tr, NULL, NULL, NULL, &err), LP_EINVAL);
    cr_assert_str_eq(err.msg, "rf: the training set is empty");
    cr_assert_eq(ops->n_features(inst->priv), 0, "a failed training leaves it untrained");
    cr_assert_eq(ops->load(inst->priv, path, &err), LP_ENOTFOUND);
    cr_assert(strstr(err.msg, "none.rf: cannot open"), "%s", err.msg);
    free(path);
    lp_instance_destroy(inst);
}

Test(rf, finetune_is_refused)
{
    static lp_test_rows r;
    char *a = trained_file("a.rf", &r);
    lp_instance *inst = make("trees=5");
    const lp_predictor_ops *ops = ops_of(inst);
    lp_err err = {0};
    lp_dataset tr = lp_test_set_of(&r, 400, 300);
    lp_train_ctl ctl = {.finetune = 1};
    lp_train_report rep;
    /* Untrained or holding a forest, the answer is the same, and nothing changes. */
    cr_assert_eq(ops->train(inst->priv, &tr, NULL, &ctl, &rep, &err), LP_EUNSUPPORTED);
    cr_assert_str_eq(err.msg, "rf: a random forest cannot be fine-tuned; train from scratch");
    cr_assert_eq(ops->n_features(inst->priv), 0);
    cr_assert_eq(ops->load(inst->priv, a, &err), 0, "%s", err.msg);
    float before[16], after[16];
    lp_test_predict(inst, r.x, 16, before);
    lp_err err2 = {0};
    cr_assert_eq(ops->train(inst->priv, &tr, NULL, &ctl, &rep, &err2), LP_EUNSUPPORTED);
    cr_assert_str_eq(err2.msg, "rf: a random forest cannot be fine-tuned; train from scratch");
    cr_assert_eq(rep.finetuned, 0);
    cr_assert_eq(rep.epochs, 0);
    lp_test_predict(inst, r.x, 16, after);
    cr_assert_eq(memcmp(before, after, sizeof before), 0, "a refused fine-tune changed the model");
    free(a);
    lp_instance_destroy(inst);
}

typedef struct seen {
    int64_t calls;
    double last_loss, last_val;
} seen;

static int stop_at_3(void *ctx, int64_t epoch, int64_t epochs, double loss, double val)
{
    seen *s = ctx;
    cr_assert_eq(epochs, 10);
    s->calls++;
    s->last_loss = loss;
    s->last_val = val;
    return epoch >= 3;
}

Test(rf, interrupted_training_keeps_the_model)
{
    static lp_test_rows r;
    char *a = trained_file("a.rf", &r);
    lp_instance *inst = make("trees=10");
    lp_err err = {0};
    lp_test_load(inst, a);
    float before[16], after[16];
    lp_test_predict(inst, r.x, 16, before);
    lp_dataset tr = lp_test_set_of(&r, 400, 300), val = lp_test_set_of(&r, 700, 100);
    seen s = {0};
    lp_train_ctl ctl = {.progress = stop_at_3, .ctx = &s};
    cr_assert_eq(ops_of(inst)->train(inst->priv, &tr, &val, &ctl, NULL, &err), LP_EINTERRUPTED);
    cr_assert_str_eq(err.msg, "rf: training stopped after tree 3 of 10");
    cr_assert_eq(s.calls, 3);
    cr_assert(isfinite(s.last_loss) && s.last_loss > 0, "OOB MSE so far %g", s.last_loss);
    cr_assert(isfinite(s.last_val) && s.last_val > 0, "validation MAPE so far %g", s.last_val);
    lp_test_predict(inst, r.x, 16, after);
    cr_assert_eq(memcmp(before, after, sizeof before), 0, "an interrupted training changed it");
    free(a);
    lp_instance_destroy(inst);
}

/* ---- files --------------------------------------------------------------------------------- */

Test(rf, save_load_bit_exact)
{
    static lp_test_rows r;
    static float p1[2000], p2[2000];
    char *a = trained_file("a.rf", &r), *b = lp_test_file("b.rf");
    lp_instance *one = make("trees=12,seed=2");
    lp_dataset tr = lp_test_set_of(&r, 0, 400);
    lp_train_report rep;
    lp_test_train(one, &tr, NULL, NULL, &rep); /* the same training as the saved file's */
    lp_test_predict(one, r.x, 2000, p1);
    /* Other settings in the options: the file's forest wins. */
    lp_instance *two = make("trees=3,target=log");
    lp_test_load(two, a);
    lp_test_predict(two, r.x, 2000, p2);
    cr_assert_eq(memcmp(p1, p2, sizeof p1), 0, "predictions differ after reload");
    cr_assert_str_eq(ops_of(two)->kernel_type(two->priv), "conv-bn-relu");
    cr_assert_eq(ops_of(two)->n_features(two->priv), LP_TEST_NF);
    lp_test_save(two, b);
    size_t na, nb;
    unsigned char *ba = lp_test_slurp(a, &na), *bb = lp_test_slurp(b, &nb);
    cr_assert_eq(na, nb);
    cr_assert_eq(memcmp(ba, bb, na), 0, "re-saved file differs");
    cr_assert_eq(memcmp(ba, "LPRF\r\n\x1a\n", 8), 0);
    cr_assert_eq(lp_test_get_u32(ba + 8), 1, "format version");
    layout l = layout_of(ba);
    cr_assert_eq(lp_test_get_u32(ba + l.features), LP_TEST_NF);
    cr_assert_eq(lp_test_get_u32(ba + l.trees), 12);
    /* Atomic: nothing but the two files in the directory. */
    cr_assert_eq(lp_test_count_files(lp_test_dir), 2);
    free(ba);
    free(bb);
    free(a);
    free(b);
    lp_instance_destroy(one);
    lp_instance_destroy(two);
}

/* Loads path into a trained instance; checks code and message; checks the held model survived.
 * (ctx is unused: the shape of an lp_test_refusal_fn.) */
static void expect_load_error(void *ctx, const char *path, int code, const char *msg)
{
    (void)ctx;
    static lp_test_rows r;
    char *good = trained_file("good.rf", &r);
    lp_instance *inst = make(NULL);
    lp_test_load(inst, good);
    lp_test_refused_load(inst, r.x, 8, path, code, msg);
    free(good);
    lp_instance_destroy(inst);
}

/* Every damage the shared envelope check refuses, each with its exact message. */
Test(rf, damaged_files)
{
    static lp_test_rows r;
    char *a = trained_file("a.rf", &r);
    lp_test_envelope_damage(a, "rf predictor", 24, expect_load_error, NULL);
    free(a);
}

/* Another predictor's file is foreign: its magic differs. */
Test(rf, another_predictors_file)
{
    char *m = lp_test_file("m.mlp"), msg[1024];
    lp_test_spit(m, "LPMLP\r\n\x1a\x01\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0", 24);
    snprintf(msg, sizeof msg, "%s: bad magic: not a litepred rf predictor file", m);
    expect_load_error(NULL, m, LP_EPARSE, msg);
    free(m);
}

/* Re-checksummed files whose fields disagree: each is caught before any tree is walked. */
Test(rf, inconsistent_fields_with_valid_checksum)
{
    static lp_test_rows r;
    char *a = trained_file("a.rf", &r), *t = lp_test_file("t.rf"), msg[1024];
    size_t n;
    unsigned char *orig = lp_test_slurp(a, &n), *b = malloc(n);
    layout l = layout_of(orig);
    struct {
        size_t off;
        uint32_t v;
        const char *msg;
    } cases[] = {
        {l.features, 0, "%s: 0 features, target 0 (valid: 1..65536, 0 or 1)"},
        {l.features + 4, 7, "%s: 5 features, target 7 (valid: 1..65536, 0 or 1)"},
        {l.trees, 0, "%s: 0 trees (valid: 1..100000)"},
        {l.counts, lp_test_get_u32(orig + l.counts) + 1,
         "%s: the fields do not fill the file exactly"},
        {l.nodes, LP_TEST_NF, "%s: tree 0 has a malformed node"}, /* feature out of range */
        {l.nodes + 8, 0, "%s: tree 0 has a malformed node"},      /* a child loops back */
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        memcpy(b, orig, n);
        lp_test_spit_patched(t, b, n, cases[i].off, cases[i].v);
        snprintf(msg, sizeof msg, cases[i].msg, t);
        expect_load_error(NULL, t, LP_ECORRUPT, msg);
    }
    free(orig);
    free(b);
    free(a);
    free(t);
}
