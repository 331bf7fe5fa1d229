/* The mlp predictor through the registry: options, training to a stated accuracy on a
 * latency-like function, bit-exact save/load, every file corruption with its exact
 * error, fine-tuning from saved weights, and misuse. The nets here are small (3 hidden
 * layers of 32, 100 epochs) so the suite stays fast under ASan; one test runs the
 * default 16-layer net for 25 epochs. */
#include <criterion/criterion.h>
#include <dirent.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <litepred/litepred.h>
#include <litepred/predictor.h>
#include <litepred/nn.h>
#include <litepred/space.h>

#include "lp_test.h"

#define SMALL "layers=32x32x32,epochs=100,lr=0.003,seed=1"
#define NF 5

static lp_registry *reg;
static char *dir;

static void setup(void)
{
    reg = lp_test_registry();
    dir = lp_test_tmpdir();
}

static void teardown(void)
{
    lp_test_rmtree(dir);
    free(dir);
    lp_registry_close(reg);
}

TestSuite(mlp, .init = setup, .fini = teardown, .timeout = 120);

typedef struct rows {
    float x[2000 * NF], y[2000];
    size_t n;
} rows;

/* A conv-like latency: features hw, cin, cout, k and the FLOPs-like product/1e6;
 * y = scale * (0.01 + 0.003 * product / 1e6) ms, spanning 0.01..1.4 ms. */
static void synth(rows *r, size_t n, uint64_t seed, float scale)
{
    static const int hw[] = {7, 14, 28, 56}, k[] = {1, 3, 5};
    lp_rng rng;
    lp_rng_seed(&rng, seed);
    r->n = n;
    for (size_t i = 0; i < n; i++) {
        float *f = r->x + i * NF;
        f[0] = (float)hw[lp_rng_below(&rng, 4)];
        f[1] = (float)(16 + 8 * lp_rng_below(&rng, 15));
        f[2] = (float)(16 + 8 * lp_rng_below(&rng, 15));
        f[3] = (float)k[lp_rng_below(&rng, 3)];
        double prod = (double)f[0] * f[0] * f[1] * f[2] * f[3] * f[3];
        f[4] = (float)(prod / 1e6);
        r->y[i] = (float)(scale * (0.01 + 0.003 * prod / 1e6));
    }
}

static lp_dataset set_of(const rows *r, size_t from, size_t n)
{
    return (lp_dataset){.kernel_type = "conv-bn-relu", .n = n, .n_features = NF,
                        .x = r->x + from * NF, .y = r->y + from};
}

static lp_instance *make(const char *kv)
{
    const lp_plugin *p = lp_registry_find(reg, LP_KIND_PREDICTOR, "mlp");
    cr_assert_not_null(p, "predictor mlp is not loaded");
    lp_instance *inst = NULL;
    lp_err err = {0};
    cr_assert_eq(lp_instance_create_kv(p, kv, &inst, &err), 0, "%s", err.msg);
    return inst;
}

static const lp_predictor_ops *ops_of(lp_instance *inst)
{
    return lp_instance_ops(inst);
}

static void train(lp_instance *inst, const lp_dataset *tr, const lp_dataset *val, int finetune,
                  lp_train_report *rep)
{
    lp_err err = {0};
    lp_train_ctl ctl = {.finetune = finetune};
    cr_assert_eq(ops_of(inst)->train(inst->priv, tr, val, &ctl, rep, &err), 0, "%s", err.msg);
}

static char *path_in(const char *name)
{
    char *p = NULL;
    cr_assert_geq(asprintf(&p, "%s/%s", dir, name), 0);
    return p;
}

static unsigned char *slurp(const char *path, size_t *n)
{
    FILE *f = fopen(path, "rb");
    cr_assert_not_null(f, "cannot open %s", path);
    fseek(f, 0, SEEK_END);
    *n = (size_t)ftell(f);
    fseek(f, 0, SEEK_SET);
    unsigned char *b = malloc(*n);
    cr_assert_eq(fread(b, 1, *n, f), *n);
    fclose(f);
    return b;
}

static void spit(const char *path, const unsigned char *b, size_t n)
{
    FILE *f = fopen(path, "wb");
    cr_assert_not_null(f);
    cr_assert_eq(fwrite(b, 1, n, f), n);
    fclose(f);
}

/* A trained small model saved to dir/name; returns its path. */
static char *trained_file(const char *name, rows *r)
{
    synth(r, 2000, 1, 1.0f);
    lp_instance *inst = make("layers=16x16,epochs=3,seed=2");
    lp_dataset tr = set_of(r, 0, 400);
    lp_train_report rep;
    train(inst, &tr, NULL, 0, &rep);
    char *path = path_in(name);
    lp_err err = {0};
    cr_assert_eq(ops_of(inst)->save(inst->priv, path, &err), 0, "%s", err.msg);
    lp_instance_destroy(inst);
    return path;
}

/* ---- options ------------------------------------------------------------------------- */

Test(mlp, options_and_defaults)
{
    const lp_plugin *p = lp_registry_find(reg, LP_KIND_PREDICTOR, "mlp");
    cr_assert_not_null(p);
    lp_err err = {0};
    lp_instance *inst = NULL;
    cr_assert_eq(lp_instance_create_kv(p, "layers=16x0x8", &inst, &err), LP_EINVAL);
    cr_assert_str_eq(err.msg, "predictor 'mlp': layers '16x0x8': item 2 is not a width in "
                              "1..65536 (write widths like 16x32x64)");
    cr_assert_eq(lp_instance_create_kv(p, "layers=16x32;64", &inst, &err), LP_EINVAL);
    cr_assert_str_eq(err.msg, "predictor 'mlp': layers '16x32;64': unexpected ';' after item 2 "
                              "(separate widths with 'x' or ',')");
    cr_assert_eq(lp_instance_create_kv(p, "layers=", &inst, &err), LP_EINVAL);
    cr_assert(strstr(err.msg, "layers '': item 1 is not a width"), "%s", err.msg);
    cr_assert_eq(lp_instance_create_kv(p, "loss=mae", &inst, &err), LP_EINVAL);
    cr_assert_eq(lp_instance_create_kv(p, "epochs=0", &inst, &err), LP_EINVAL);
    /* The default is LitePred's net: 15 hidden layers, 16 linear layers, ~0.5M weights. */
    inst = make(NULL);
    char buf[128];
    const lp_option *o = lp_plugin_descriptor(p)->options;
    cr_assert_str_eq(o[0].name, "layers");
    cr_assert_str_eq(lp_option_value_str(&o[0], inst->priv, buf, sizeof buf),
                     "16x32x64x128x128x256x256x256x256x256x256x256x128x64x16");
    cr_assert_eq(ops_of(inst)->n_features(inst->priv), 0, "untrained");
    cr_assert_null(ops_of(inst)->kernel_type(inst->priv));
    lp_instance_destroy(inst);
    /* In YAML the widths may be separated by commas too. */
    lp_ydoc *doc = NULL;
    const char *yaml = "layers: 8, 4,2\nepochs: 3\n";
    cr_assert_eq(lp_yaml_parse(yaml, strlen(yaml), "p.yaml", &doc, &err), 0, "%s", err.msg);
    lp_diag diag = {0};
    cr_assert_eq(lp_instance_create(p, doc->root, "p.yaml", &inst, &diag, &err), 0, "%s",
                 diag.n ? diag.msgs[0] : err.msg);
    static rows r;
    synth(&r, 50, 3, 1.0f);
    lp_dataset tr = set_of(&r, 0, 50);
    lp_train_report rep;
    train(inst, &tr, NULL, 0, &rep);
    cr_assert_eq(rep.epochs, 3);
    lp_instance_destroy(inst);
    lp_ydoc_free(doc);
}

Test(mlp, misuse_is_an_error)
{
    lp_instance *inst = make("layers=8,epochs=1");
    const lp_predictor_ops *ops = ops_of(inst);
    lp_err err = {0};
    float x[NF] = {1, 2, 3, 4, 5}, out;
    cr_assert_eq(ops->predict(inst->priv, x, 1, &out, &err), LP_EINVAL);
    cr_assert_str_eq(err.msg, "mlp: the predictor is untrained: train or load first");
    char *path = path_in("none.mlp");
    cr_assert_eq(ops->save(inst->priv, path, &err), LP_EINVAL);
    cr_assert(strstr(err.msg, "nothing to save"), "%s", err.msg);
    static rows r;
    synth(&r, 100, 3, 1.0f);
    lp_dataset tr = set_of(&r, 0, 100);
    lp_train_ctl ctl = {.finetune = 1};
    cr_assert_eq(ops->train(inst->priv, &tr, NULL, &ctl, NULL, &err), LP_EINVAL);
    cr_assert_str_eq(err.msg, "mlp: fine-tuning needs held weights: train or load first");
    r.y[7] = -1;
    cr_assert_eq(ops->train(inst->priv, &tr, NULL, NULL, NULL, &err), LP_EINVAL);
    cr_assert_str_eq(err.msg, "mlp: row 7: latency -1 is not > 0 (the MAPE loss divides by it)");
    cr_assert_eq(ops->n_features(inst->priv), 0, "a failed training leaves it untrained");
    cr_assert_eq(ops->load(inst->priv, path, &err), LP_ENOTFOUND);
    cr_assert(strstr(err.msg, "none.mlp: cannot open"), "%s", err.msg);
    free(path);
    lp_instance_destroy(inst);
}

/* ---- training ------------------------------------------------------------------------ */

Test(mlp, mape_training_reaches_accuracy)
{
    static rows r;
    synth(&r, 2000, 1, 1.0f);
    lp_instance *inst = make(SMALL);
    lp_dataset tr = set_of(&r, 0, 1600), val = set_of(&r, 1600, 400);
    lp_train_report rep;
    train(inst, &tr, &val, 0, &rep);
    cr_log_info("validation MAPE %.4f after %.2f s", rep.val_mape, rep.seconds);
    cr_assert_eq(rep.epochs, 100);
    cr_assert_eq(rep.finetuned, 0);
    cr_assert_lt(rep.final_loss, rep.first_loss);
    cr_assert_lt(rep.val_mape, 0.05, "validation MAPE %.4f (stated: < 5%%)", rep.val_mape);
    cr_assert_lt(rep.seconds, 20, "took %.1f s", rep.seconds);
    /* The report's validation MAPE is the model's, recomputed here through predict. */
    float pred[400];
    lp_err err = {0};
    cr_assert_eq(ops_of(inst)->predict(inst->priv, val.x, 400, pred, &err), 0, "%s", err.msg);
    double sum = 0;
    for (int i = 0; i < 400; i++)
        sum += fabs(pred[i] - val.y[i]) / val.y[i];
    cr_assert_float_eq(sum / 400, rep.val_mape, 1e-6);
    cr_assert_str_eq(ops_of(inst)->kernel_type(inst->priv), "conv-bn-relu");
    cr_assert_eq(ops_of(inst)->n_features(inst->priv), NF);
    lp_instance_destroy(inst);
}

/* LitePred's architecture itself (ReLU, LeakyReLU(0.3) at layers 13 and 14) for a few epochs. */
Test(mlp, default_net_trains)
{
    static rows r;
    synth(&r, 2000, 1, 1.0f);
    lp_instance *inst = make("epochs=25,seed=3");
    lp_dataset tr = set_of(&r, 0, 1600), val = set_of(&r, 1600, 400);
    lp_train_report rep;
    train(inst, &tr, &val, 0, &rep);
    cr_log_info("default net, 25 epochs: validation MAPE %.4f after %.2f s", rep.val_mape,
                rep.seconds);
    cr_assert_lt(rep.val_mape, 0.08, "validation MAPE %.4f (stated: < 8%%)", rep.val_mape);
    lp_instance_destroy(inst);
}

Test(mlp, mse_loss_trains)
{
    static rows r;
    synth(&r, 600, 4, 1.0f);
    lp_instance *inst = make("layers=32x32,epochs=40,loss=mse,lr=0.003");
    lp_dataset tr = set_of(&r, 0, 500), val = set_of(&r, 500, 100);
    lp_train_report rep;
    train(inst, &tr, &val, 0, &rep);
    cr_assert_lt(rep.final_loss, rep.first_loss / 10, "MSE %g -> %g", rep.first_loss,
                 rep.final_loss);
    lp_instance_destroy(inst);
}

/* ---- files ----------------------------------------------------------------------------- */

Test(mlp, save_load_bit_exact)
{
    static rows r;
    char *a = trained_file("a.mlp", &r), *b = path_in("b.mlp");
    lp_instance *one = make("layers=16x16,epochs=3,seed=2");
    lp_dataset tr = set_of(&r, 0, 400);
    lp_train_report rep;
    train(one, &tr, NULL, 0, &rep); /* the same training as the saved file's */
    float p1[2000], p2[2000];
    lp_err err = {0};
    cr_assert_eq(ops_of(one)->predict(one->priv, r.x, 2000, p1, &err), 0, "%s", err.msg);
    /* Another architecture in the options: the file's wins. */
    lp_instance *two = make("layers=64,epochs=1");
    cr_assert_eq(ops_of(two)->load(two->priv, a, &err), 0, "%s", err.msg);
    cr_assert_eq(ops_of(two)->predict(two->priv, r.x, 2000, p2, &err), 0, "%s", err.msg);
    cr_assert_eq(memcmp(p1, p2, sizeof p1), 0, "predictions differ after reload");
    cr_assert_str_eq(ops_of(two)->kernel_type(two->priv), "conv-bn-relu");
    cr_assert_eq(ops_of(two)->n_features(two->priv), NF);
    cr_assert_eq(ops_of(two)->save(two->priv, b, &err), 0, "%s", err.msg);
    size_t na, nb;
    unsigned char *ba = slurp(a, &na), *bb = slurp(b, &nb);
    cr_assert_eq(na, nb);
    cr_assert_eq(memcmp(ba, bb, na), 0, "re-saved file differs");
    cr_assert_eq(memcmp(ba, "LPMLP\r\n\x1a", 8), 0);
    /* Atomic: nothing but the two files in the directory. */
    DIR *d = opendir(dir);
    int entries = 0;
    for (struct dirent *e; (e = readdir(d));)
        entries += e->d_name[0] != '.';
    closedir(d);
    cr_assert_eq(entries, 2);
    free(ba);
    free(bb);
    free(a);
    free(b);
    lp_instance_destroy(one);
    lp_instance_destroy(two);
}

/* Loads path into a trained instance; checks code and message; checks the held model survived. */
static void expect_load_error(const char *path, int code, const char *msg)
{
    static rows r;
    char *good = trained_file("good.mlp", &r);
    lp_instance *inst = make("epochs=1");
    lp_err err = {0};
    cr_assert_eq(ops_of(inst)->load(inst->priv, good, &err), 0, "%s", err.msg);
    float before[8], after[8];
    cr_assert_eq(ops_of(inst)->predict(inst->priv, r.x, 8, before, &err), 0);
    cr_assert_eq(ops_of(inst)->load(inst->priv, path, &err), code, "%s", err.msg);
    cr_assert_str_eq(err.msg, msg);
    cr_assert_eq(ops_of(inst)->predict(inst->priv, r.x, 8, after, &err), 0);
    cr_assert_eq(memcmp(before, after, sizeof before), 0, "a failed load changed the model");
    free(good);
    lp_instance_destroy(inst);
}

static void put_u32(unsigned char *b, uint32_t v)
{
    for (int i = 0; i < 4; i++)
        b[i] = (unsigned char)(v >> (8 * i));
}

Test(mlp, truncated_file)
{
    static rows r;
    char *a = trained_file("a.mlp", &r), *t = path_in("t.mlp"), msg[1024];
    size_t n;
    unsigned char *b = slurp(a, &n);
    spit(t, b, n - 100);
    snprintf(msg, sizeof msg, "%s: truncated at byte %zu of %zu", t, n - 100, n);
    expect_load_error(t, LP_ECORRUPT, msg);
    spit(t, b, 10);
    snprintf(msg, sizeof msg, "%s: truncated at byte 10 (the header alone is 24)", t);
    expect_load_error(t, LP_ECORRUPT, msg);
    free(b);
    free(a);
    free(t);
}

Test(mlp, flipped_byte_fails_checksum)
{
    static rows r;
    char *a = trained_file("a.mlp", &r), *t = path_in("t.mlp"), msg[1024];
    size_t n;
    unsigned char *b = slurp(a, &n);
    uint32_t stored = (uint32_t)b[n - 4] | (uint32_t)b[n - 3] << 8 | (uint32_t)b[n - 2] << 16 |
                      (uint32_t)b[n - 1] << 24;
    b[n / 2] ^= 0x10;
    spit(t, b, n);
    char computed[16];
    snprintf(computed, sizeof computed, "%08x", lp_nn_crc32(0, b, n - 4));
    snprintf(msg, sizeof msg,
             "%s: checksum mismatch (stored %08x, computed %s): the file is corrupt", t, stored,
             computed);
    expect_load_error(t, LP_ECORRUPT, msg);
    free(b);
    free(a);
    free(t);
}

Test(mlp, bad_magic)
{
    static rows r;
    char *a = trained_file("a.mlp", &r), *t = path_in("t.mlp"), msg[1024];
    size_t n;
    unsigned char *b = slurp(a, &n);
    b[0] = 'X';
    spit(t, b, n);
    snprintf(msg, sizeof msg, "%s: bad magic: not a litepred mlp predictor file", t);
    expect_load_error(t, LP_EPARSE, msg);
    spit(t, (const unsigned char *)"hello", 5);
    expect_load_error(t, LP_EPARSE, msg);
    free(b);
    free(a);
    free(t);
}

Test(mlp, newer_version)
{
    static rows r;
    char *a = trained_file("a.mlp", &r), *t = path_in("t.mlp"), msg[1024];
    size_t n;
    unsigned char *b = slurp(a, &n);
    put_u32(b + 8, 2);
    put_u32(b + n - 4, lp_nn_crc32(0, b, n - 4)); /* a well-formed file of a newer writer */
    spit(t, b, n);
    snprintf(msg, sizeof msg, "%s: format version 2 is newer than this build reads (1)", t);
    expect_load_error(t, LP_EUNSUPPORTED, msg);
    free(b);
    free(a);
    free(t);
}

Test(mlp, inconsistent_header_with_valid_checksum)
{
    static rows r;
    char *a = trained_file("a.mlp", &r), *t = path_in("t.mlp"), msg[1024];
    size_t n;
    unsigned char *b = slurp(a, &n);
    /* kernel type "conv-bn-relu" (12 bytes) at 26, info length at 38, then its text, then
     * the feature count: make the feature count disagree with the widths. */
    size_t info = (size_t)b[38] | (size_t)b[39] << 8, feat = 40 + info;
    cr_assert_eq(b[feat], NF);
    put_u32(b + feat, 6);
    put_u32(b + n - 4, lp_nn_crc32(0, b, n - 4));
    spit(t, b, n);
    snprintf(msg, sizeof msg, "%s: layer widths do not fit 6 features and 1 output", t);
    expect_load_error(t, LP_ECORRUPT, msg);
    free(b);
    free(a);
    free(t);
}

/* ---- fine-tuning ------------------------------------------------------------------- */

Test(mlp, finetune_starts_from_saved_weights)
{
    static rows old, fresh;
    synth(&old, 2000, 1, 1.0f);
    synth(&fresh, 300, 7, 1.3f); /* a slower platform: same shape, 30% more */
    lp_instance *src = make(SMALL);
    lp_dataset tr = set_of(&old, 0, 2000);
    lp_train_report rep;
    train(src, &tr, NULL, 0, &rep);
    char *path = path_in("pool.mlp");
    lp_err err = {0};
    cr_assert_eq(ops_of(src)->save(src->priv, path, &err), 0, "%s", err.msg);

    lp_dataset ft = set_of(&fresh, 0, 200), val = set_of(&fresh, 200, 100);
    lp_instance *tuned = make("layers=32x32x32,epochs=30,lr=0.001,seed=1");
    cr_assert_eq(ops_of(tuned)->load(tuned->priv, path, &err), 0, "%s", err.msg);
    lp_train_report rt, rs;
    train(tuned, &ft, &val, 1, &rt);
    lp_instance *scratch = make("layers=32x32x32,epochs=30,lr=0.001,seed=1");
    train(scratch, &ft, &val, 0, &rs);
    cr_log_info("first-epoch MAPE: fine-tuned %.4f, scratch %.4f; val MAPE %.4f vs %.4f",
                rt.first_loss, rs.first_loss, rt.val_mape, rs.val_mape);
    cr_assert_eq(rt.finetuned, 1);
    cr_assert_lt(rt.first_loss, rs.first_loss / 2, "first-epoch MAPE: fine-tuned %.4f, scratch %.4f",
                 rt.first_loss, rs.first_loss);
    cr_assert_lt(rt.val_mape, rs.val_mape, "val MAPE: fine-tuned %.4f, scratch %.4f", rt.val_mape,
                 rs.val_mape);
    /* The pool model's first epoch on the new data starts near its error there (~23%). */
    cr_assert_lt(rt.first_loss, 0.35, "%.4f", rt.first_loss);

    /* Fine-tuning data must match the held model. */
    lp_dataset wrong = ft;
    wrong.kernel_type = "dwconv-bn-relu";
    lp_train_ctl ctl = {.finetune = 1};
    cr_assert_eq(ops_of(tuned)->train(tuned->priv, &wrong, NULL, &ctl, NULL, &err), LP_EINVAL);
    cr_assert_str_eq(err.msg, "mlp: the held model predicts 'conv-bn-relu', the data is "
                              "'dwconv-bn-relu'");
    wrong = ft;
    wrong.n_features = 4;
    cr_assert_eq(ops_of(tuned)->train(tuned->priv, &wrong, NULL, &ctl, NULL, &err), LP_EINVAL);
    cr_assert_str_eq(err.msg, "mlp: the held model takes 5 features, the data has 4");
    free(path);
    lp_instance_destroy(src);
    lp_instance_destroy(tuned);
    lp_instance_destroy(scratch);
}

static int stop_now(void *ctx, int64_t epoch, int64_t epochs, double loss, double val)
{
    (void)ctx;
    (void)epochs;
    (void)loss;
    (void)val;
    return epoch >= 1;
}

Test(mlp, interrupted_finetune_keeps_weights)
{
    static rows r;
    char *a = trained_file("a.mlp", &r);
    lp_instance *inst = make("layers=8,epochs=5");
    lp_err err = {0};
    cr_assert_eq(ops_of(inst)->load(inst->priv, a, &err), 0, "%s", err.msg);
    float before[16], after[16];
    cr_assert_eq(ops_of(inst)->predict(inst->priv, r.x, 16, before, &err), 0);
    lp_dataset tr = set_of(&r, 400, 300);
    lp_train_ctl ctl = {.finetune = 1, .progress = stop_now};
    cr_assert_eq(ops_of(inst)->train(inst->priv, &tr, NULL, &ctl, NULL, &err), LP_EINTERRUPTED);
    cr_assert_str_eq(err.msg, "mlp: nn: training stopped after epoch 1 of 5");
    cr_assert_eq(ops_of(inst)->predict(inst->priv, r.x, 16, after, &err), 0);
    cr_assert_eq(memcmp(before, after, sizeof before), 0, "the weights were not put back");
    free(a);
    lp_instance_destroy(inst);
}
