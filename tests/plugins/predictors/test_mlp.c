/* The mlp predictor through the registry: options, training to a stated accuracy on a
 * latency-like function, bit-exact save/load, every file corruption with its exact
 * error, fine-tuning from saved weights, and misuse. The nets here are small (3 hidden
 * layers of 32, 100 epochs) so the suite stays fast under ASan; one test runs the
 * default 16-layer net for 25 epochs. */
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

#define SMALL "layers=32x32x32,epochs=100,lr=0.003,seed=1"

TestSuite(mlp, .init = lp_test_setup, .fini = lp_test_teardown, .timeout = 120);

static lp_instance *make(const char *kv)
{
    return lp_test_instance(LP_KIND_PREDICTOR, "mlp", kv);
}

static const lp_predictor_ops *ops_of(lp_instance *inst)
{
    return lp_instance_ops(inst);
}

/* A trained small model saved to lp_test_dir/name; returns its path. */
static char *trained_file(const char *name, lp_test_rows *r)
{
    return lp_test_trained_file("mlp", "layers=16x16,epochs=3,seed=2", name, r);
}

/* ---- options ------------------------------------------------------------------------- */

Test(mlp, options_and_defaults)
{
    const lp_plugin *p = lp_registry_find(lp_test_reg, LP_KIND_PREDICTOR, "mlp");
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
    static lp_test_rows r;
    lp_test_synth(&r, 50, 3, 0.01, 1.0f);
    lp_dataset tr = lp_test_set_of(&r, 0, 50);
    lp_train_report rep;
    lp_test_train(inst, &tr, NULL, NULL, &rep);
    cr_assert_eq(rep.epochs, 3);
    lp_instance_destroy(inst);
    lp_ydoc_free(doc);
}

Test(mlp, misuse_is_an_error)
{
    lp_instance *inst = make("layers=8,epochs=1");
    const lp_predictor_ops *ops = ops_of(inst);
    lp_err err = {0};
    float x[LP_TEST_NF] = {1, 2, 3, 4, 5}, out;
    cr_assert_eq(ops->predict(inst->priv, x, 1, &out, &err), LP_EINVAL);
    cr_assert_str_eq(err.msg, "mlp: the predictor is untrained: train or load first");
    char *path = lp_test_file("none.mlp");
    cr_assert_eq(ops->save(inst->priv, path, &err), LP_EINVAL);
    cr_assert(strstr(err.msg, "nothing to save"), "%s", err.msg);
    static lp_test_rows r;
    lp_test_synth(&r, 100, 3, 0.01, 1.0f);
    lp_dataset tr = lp_test_set_of(&r, 0, 100);
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
    static lp_test_rows r;
    lp_test_synth(&r, 2000, 1, 0.01, 1.0f);
    lp_instance *inst = make(SMALL);
    lp_dataset tr = lp_test_set_of(&r, 0, 1600), val = lp_test_set_of(&r, 1600, 400);
    lp_train_report rep;
    lp_test_train(inst, &tr, &val, NULL, &rep);
    cr_log_info("validation MAPE %.4f after %.2f s", rep.val_mape, rep.seconds);
    cr_assert_eq(rep.epochs, 100);
    cr_assert_eq(rep.finetuned, 0);
    cr_assert_lt(rep.final_loss, rep.first_loss);
    cr_assert_lt(rep.val_mape, 0.05, "validation MAPE %.4f (stated: < 5%%)", rep.val_mape);
    cr_assert_lt(rep.seconds, 20, "took %.1f s", rep.seconds);
    /* The report's validation MAPE is the model's, recomputed here through predict. */
    float pred[400];
    lp_test_predict(inst, val.x, 400, pred);
    double sum = 0;
    for (int i = 0; i < 400; i++)
        sum += fabs(pred[i] - val.y[i]) / val.y[i];
    cr_assert_float_eq(sum / 400, rep.val_mape, 1e-6);
    cr_assert_str_eq(ops_of(inst)->kernel_type(inst->priv), "conv-bn-relu");
    cr_assert_eq(ops_of(inst)->n_features(inst->priv), LP_TEST_NF);
    lp_instance_destroy(inst);
}

/* LitePred's architecture itself (ReLU, LeakyReLU(0.3) at layers 13 and 14) for a few epochs. */
Test(mlp, default_net_trains)
{
    static lp_test_rows r;
    lp_test_synth(&r, 2000, 1, 0.01, 1.0f);
    lp_instance *inst = make("epochs=25,seed=3");
    lp_dataset tr = lp_test_set_of(&r, 0, 1600), val = lp_test_set_of(&r, 1600, 400);
    lp_train_report rep;
    lp_test_train(inst, &tr, &val, NULL, &rep);
    cr_log_info("default net, 25 epochs: validation MAPE %.4f after %.2f s", rep.val_mape,
                rep.seconds);
    cr_assert_lt(rep.val_mape, 0.08, "validation MAPE %.4f (stated: < 8%%)", rep.val_mape);
    lp_instance_destroy(inst);
}

Test(mlp, mse_loss_trains)
{
    static lp_test_rows r;
    lp_test_synth(&r, 600, 4, 0.01, 1.0f);
    lp_instance *inst = make("layers=32x32,epochs=40,loss=mse,lr=0.003");
    lp_dataset tr = lp_test_set_of(&r, 0, 500), val = lp_test_set_of(&r, 500, 100);
    lp_train_report rep;
    lp_test_train(inst, &tr, &val, NULL, &rep);
    cr_assert_lt(rep.final_loss, rep.first_loss / 10, "MSE %g -> %g", rep.first_loss,
                 rep.final_loss);
    lp_instance_destroy(inst);
}

/* ---- files ----------------------------------------------------------------------------- */

Test(mlp, save_load_bit_exact)
{
    static lp_test_rows r;
    char *a = trained_file("a.mlp", &r), *b = lp_test_file("b.mlp");
    lp_instance *one = make("layers=16x16,epochs=3,seed=2");
    lp_dataset tr = lp_test_set_of(&r, 0, 400);
    lp_train_report rep;
    lp_test_train(one, &tr, NULL, NULL, &rep); /* the same training as the saved file's */
    float p1[2000], p2[2000];
    lp_test_predict(one, r.x, 2000, p1);
    /* Another architecture in the options: the file's wins. */
    lp_instance *two = make("layers=64,epochs=1");
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
    cr_assert_eq(memcmp(ba, "LPMLP\r\n\x1a", 8), 0);
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
    char *good = trained_file("good.mlp", &r);
    lp_instance *inst = make("epochs=1");
    lp_test_load(inst, good);
    lp_test_refused_load(inst, r.x, 8, path, code, msg);
    free(good);
    lp_instance_destroy(inst);
}

/* Every damage the shared envelope check refuses, each with its exact message. */
Test(mlp, damaged_files)
{
    static lp_test_rows r;
    char *a = trained_file("a.mlp", &r);
    lp_test_envelope_damage(a, "mlp predictor", 24, expect_load_error, NULL);
    free(a);
}

Test(mlp, inconsistent_header_with_valid_checksum)
{
    static lp_test_rows r;
    char *a = trained_file("a.mlp", &r), *t = lp_test_file("t.mlp"), msg[1024];
    size_t n;
    unsigned char *b = lp_test_slurp(a, &n);
    /* kernel type "conv-bn-relu" (12 bytes) at 26, info length at 38, then its text, then
     * the feature count: make the feature count disagree with the widths. */
    size_t info = (size_t)b[38] | (size_t)b[39] << 8, feat = 40 + info;
    cr_assert_eq(b[feat], LP_TEST_NF);
    lp_test_spit_patched(t, b, n, feat, 6);
    snprintf(msg, sizeof msg, "%s: layer widths do not fit 6 features and 1 output", t);
    expect_load_error(NULL, t, LP_ECORRUPT, msg);
    free(b);
    free(a);
    free(t);
}

/* ---- fine-tuning ------------------------------------------------------------------- */

Test(mlp, finetune_starts_from_saved_weights)
{
    static lp_test_rows old, fresh;
    lp_test_synth(&old, 2000, 1, 0.01, 1.0f);
    lp_test_synth(&fresh, 300, 7, 0.01, 1.3f); /* a slower platform: same shape, 30% more */
    lp_instance *src = make(SMALL);
    lp_dataset tr = lp_test_set_of(&old, 0, 2000);
    lp_train_report rep;
    lp_test_train(src, &tr, NULL, NULL, &rep);
    char *path = lp_test_file("pool.mlp");
    lp_err err = {0};
    lp_test_save(src, path);

    lp_dataset ft = lp_test_set_of(&fresh, 0, 200), val = lp_test_set_of(&fresh, 200, 100);
    lp_instance *tuned = make("layers=32x32x32,epochs=30,lr=0.001,seed=1");
    lp_test_load(tuned, path);
    lp_train_report rt, rs;
    lp_test_train(tuned, &ft, &val, &(lp_train_ctl){.finetune = 1}, &rt);
    lp_instance *scratch = make("layers=32x32x32,epochs=30,lr=0.001,seed=1");
    lp_test_train(scratch, &ft, &val, NULL, &rs);
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
    static lp_test_rows r;
    char *a = trained_file("a.mlp", &r);
    lp_instance *inst = make("layers=8,epochs=5");
    lp_err err = {0};
    lp_test_load(inst, a);
    float before[16], after[16];
    lp_test_predict(inst, r.x, 16, before);
    lp_dataset tr = lp_test_set_of(&r, 400, 300);
    lp_train_ctl ctl = {.finetune = 1, .progress = stop_now};
    cr_assert_eq(ops_of(inst)->train(inst->priv, &tr, NULL, &ctl, NULL, &err), LP_EINTERRUPTED);
    cr_assert_str_eq(err.msg, "mlp: nn: training stopped after epoch 1 of 5");
    lp_test_predict(inst, r.x, 16, after);
    cr_assert_eq(memcmp(before, after, sizeof before), 0, "the weights were not put back");
    free(a);
    lp_instance_destroy(inst);
}
