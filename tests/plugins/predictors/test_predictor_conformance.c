/* Every predictor plugin in the registry honours the predictor contract: it trains on a
 * small latency-like data set, predicts finite positive latencies, saves, reloads into a
 * fresh instance that predicts bit-identically and re-saves the same bytes, rejects a
 * corrupted or truncated file with LP_ECORRUPT and a foreign one with LP_EPARSE, refuses
 * misuse, and prints its option table. Small settings are picked from each plugin's own
 * option table (epochs only where there is an `epochs`, trees only where there are `trees`),
 * so a new predictor is covered without touching this file. */
#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <litepred/litepred.h>
#include <litepred/predictor.h>
#include <litepred/space.h>

#include "lp_test.h"

#define ROWS 300

TestSuite(predictor_conformance, .init = lp_test_setup, .fini = lp_test_teardown, .timeout = 300);

/* Small settings for options some predictors have; the rest keep their defaults. */
static const char *const small_settings[][2] = {
    {"epochs", "200"}, {"layers", "32x32"}, {"lr", "0.003"}, {"trees", "10"}, {"seed", "3"}};

/* "k=v,..." for the options of this table that small_settings names. */
static void small_kv(const lp_option *table, char *kv, size_t size)
{
    kv[0] = '\0';
    for (const lp_option *o = table; o && o->name; o++)
        for (size_t i = 0; i < sizeof small_settings / sizeof *small_settings; i++)
            if (!strcmp(o->name, small_settings[i][0])) {
                size_t len = strlen(kv);
                snprintf(kv + len, size - len, "%s%s=%s", len ? "," : "", o->name,
                         small_settings[i][1]);
            }
}

static lp_instance *make(const lp_plugin *p, const char *name)
{
    char kv[256];
    small_kv(lp_plugin_descriptor(p)->options, kv, sizeof kv);
    return lp_test_instance(LP_KIND_PREDICTOR, name, kv);
}

/* Loading a damaged copy of good fails with code and leaves the held model as it was. */
static void expect_rejected(const char *name, lp_instance *inst, const char *path,
                            const unsigned char *b, size_t n, int code, const float *x,
                            const float *held)
{
    const lp_predictor_ops *ops = lp_instance_ops(inst);
    lp_err err = {0};
    float now[ROWS];
    lp_test_spit(path, b, n);
    cr_assert_eq(ops->load(inst->priv, path, &err), code, "%s: load gave %d (%s), want %s", name,
                 err.code, err.msg, lp_strerror(code));
    cr_assert(strstr(err.msg, path), "%s: the message does not name the file: %s", name, err.msg);
    cr_assert_eq(ops->predict(inst->priv, x, ROWS, now, &err), 0, "%s: %s", name, err.msg);
    cr_assert_eq(memcmp(now, held, sizeof now), 0, "%s: a failed load changed the model", name);
}

static void check_files(const char *name, const lp_plugin *p, lp_instance *inst, const float *x,
                        const float *pred)
{
    const lp_predictor_ops *ops = lp_instance_ops(inst);
    lp_err err = {0};
    char a[1024], b[1024], bad[1024];
    snprintf(a, sizeof a, "%s/%s.a", lp_test_dir, name);
    snprintf(b, sizeof b, "%s/%s.b", lp_test_dir, name);
    snprintf(bad, sizeof bad, "%s/%s.bad", lp_test_dir, name);
    cr_assert_eq(ops->save(inst->priv, a, &err), 0, "%s: %s", name, err.msg);

    lp_instance *other = make(p, name);
    const lp_predictor_ops *oops = lp_instance_ops(other);
    static float again[ROWS];
    cr_assert_eq(oops->load(other->priv, a, &err), 0, "%s: %s", name, err.msg);
    cr_assert_eq(oops->predict(other->priv, x, ROWS, again, &err), 0, "%s: %s", name, err.msg);
    cr_assert_eq(memcmp(again, pred, sizeof again), 0, "%s: predictions differ after load", name);
    cr_assert_eq(oops->n_features(other->priv), LP_TEST_NF, "%s", name);
    cr_assert_str_eq(oops->kernel_type(other->priv), "conv-bn-relu", "%s", name);
    cr_assert_eq(oops->save(other->priv, b, &err), 0, "%s: %s", name, err.msg);
    size_t na, nb;
    unsigned char *fa = lp_test_slurp(a, &na), *fb = lp_test_slurp(b, &nb);
    cr_assert(na == nb && !memcmp(fa, fb, na), "%s: re-saved file differs", name);

    fb[na / 2] ^= 0x40;
    expect_rejected(name, other, bad, fb, na, LP_ECORRUPT, x, pred);
    expect_rejected(name, other, bad, fa, na - 7, LP_ECORRUPT, x, pred);
    expect_rejected(name, other, bad, (const unsigned char *)"not a model at all", 18,
                    LP_EPARSE, x, pred);
    free(fa);
    free(fb);
    lp_instance_destroy(other);
}

static void check_predictor(const lp_plugin *p)
{
    const char *name = lp_plugin_descriptor(p)->name;
    static lp_test_rows r;
    static float pred[ROWS];
    lp_test_synth(&r, ROWS, 9, 0.02, 1.0);
    const float *x = r.x;
    lp_instance *inst = make(p, name);
    const lp_predictor_ops *ops = lp_instance_ops(inst);
    lp_err err = {0};
    float out;
    cr_assert(LP_OPS_HAS(ops, lp_predictor_ops, n_features), "%s: incomplete ops", name);
    cr_assert_eq(ops->n_features(inst->priv), 0, "%s: untrained", name);
    cr_assert_eq(ops->predict(inst->priv, x, 1, &out, &err), LP_EINVAL, "%s", name);

    lp_dataset tr = lp_test_set_of(&r, 0, 250), val = lp_test_set_of(&r, 250, 50);
    lp_train_report rep;
    cr_assert_eq(ops->train(inst->priv, &tr, &val, NULL, &rep, &err), 0, "%s: %s", name, err.msg);
    cr_log_info("%s: train MAPE %.4f, validation MAPE %.4f, %.2f s", name, rep.train_mape,
                rep.val_mape, rep.seconds);
    cr_assert(rep.epochs > 0 && rep.seconds >= 0 && rep.finetuned == 0, "%s", name);
    cr_assert(isfinite(rep.train_mape) && isfinite(rep.val_mape), "%s", name);
    /* Even small settings learn something: within 50% on held-out rows. */
    cr_assert_lt(rep.val_mape, 0.5, "%s: validation MAPE %.3f", name, rep.val_mape);
    cr_assert_eq(ops->n_features(inst->priv), LP_TEST_NF, "%s", name);
    cr_assert_str_eq(ops->kernel_type(inst->priv), "conv-bn-relu", "%s", name);
    cr_assert_eq(ops->predict(inst->priv, x, ROWS, pred, &err), 0, "%s: %s", name, err.msg);
    for (size_t i = 0; i < ROWS; i++)
        cr_assert(isfinite(pred[i]), "%s: row %zu predicts %g", name, i, (double)pred[i]);
    check_files(name, p, inst, x, pred);
    lp_instance_destroy(inst);
}

Test(predictor_conformance, every_predictor)
{
    size_t found = 0;
    int mlp = 0, rf = 0;
    for (size_t i = 0; i < lp_registry_count(lp_test_reg); i++) {
        const lp_plugin *p = lp_registry_at(lp_test_reg, i);
        const lp_plugin_desc *d = lp_plugin_descriptor(p);
        if (d->kind != LP_KIND_PREDICTOR)
            continue;
        found++;
        mlp |= !strcmp(d->name, "mlp");
        rf |= !strcmp(d->name, "rf");
        check_predictor(p);
    }
    cr_log_info("%zu predictor plugins checked", found);
    cr_assert(mlp && rf, "the mlp and rf predictors must be among them");
}

/* Every option of every predictor formats its default, and `litepred help` lists them all. */
Test(predictor_conformance, options_printable)
{
    for (size_t i = 0; i < lp_registry_count(lp_test_reg); i++) {
        const lp_plugin_desc *d = lp_plugin_descriptor(lp_registry_at(lp_test_reg, i));
        if (d->kind != LP_KIND_PREDICTOR)
            continue;
        char args[256], buf[256], *out = NULL;
        snprintf(args, sizeof args, "help predictor/%s", d->name);
        cr_assert_eq(lp_test_cli(args, &out), 0, "%s: %s", args, out);
        for (const lp_option *o = d->options; o && o->name; o++) {
            cr_assert(o->help && *o->help, "%s: option %s has no help", d->name, o->name);
            lp_option_default_str(o, buf, sizeof buf);
            cr_assert(o->flags & LP_OPT_REQUIRED || *buf, "%s: option %s prints no default",
                      d->name, o->name);
            cr_assert(strstr(out, o->name), "%s: help does not list %s:\n%s", d->name, o->name,
                      out);
        }
        free(out);
    }
}
