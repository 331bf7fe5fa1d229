/* Half-precision mlp files (weights=f16): the core's binary16 conversions against IEEE
 * 754 (exact values, every tie, overflow, subnormals, NaN), then the plugin: an f16 file
 * is about half an f32 one, the saving instance and a reloading one predict bit-identically
 * and re-save the same bytes, predictions stay within a measured bound of the f32 model's,
 * unknown flag bits are refused, and damaged f16 files fail as f32 ones do. */
#include <criterion/criterion.h>
#include <float.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <litepred/litepred.h>
#include <litepred/nn.h>
#include <litepred/predictor.h>
#include <litepred/space.h>

#include "lp_test.h"

#define SMALL "layers=32x32x32,epochs=100,lr=0.003,seed=1"
#define ROWS 2000

TestSuite(mlp_f16, .init = lp_test_setup, .fini = lp_test_teardown, .timeout = 120);

/* ---- the core's conversions ------------------------------------------------------------ */

static uint32_t bits_of(float f)
{
    uint32_t b;
    memcpy(&b, &f, sizeof b);
    return b;
}

Test(mlp_f16, conversion_exact_values)
{
    static const struct {
        float f;
        uint16_t h;
    } exact[] = {
        {0.0f, 0x0000},        {-0.0f, 0x8000},        {1.0f, 0x3c00},
        {-2.0f, 0xc000},       {0.5f, 0x3800},         {65504.0f, 0x7bff},
        {-65504.0f, 0xfbff},   {0x1p-24f, 0x0001},     {-0x1p-24f, 0x8001},
        {0x3ffp-24f, 0x03ff},  {0x1p-14f, 0x0400},     {INFINITY, 0x7c00},
        {-INFINITY, 0xfc00},   {1.0f + 0x1p-10f, 0x3c01}};
    for (size_t i = 0; i < sizeof exact / sizeof *exact; i++) {
        uint16_t h = lp_nn_f32_to_f16(exact[i].f);
        cr_assert_eq(h, exact[i].h, "%a -> 0x%04x, want 0x%04x", (double)exact[i].f, h,
                     exact[i].h);
        float back = lp_nn_f16_to_f32(h);
        cr_assert_eq(bits_of(back), bits_of(exact[i].f), "0x%04x -> %a, want %a", h,
                     (double)back, (double)exact[i].f);
    }
    /* NaN stays NaN both ways, whatever its sign and payload. */
    float nans[] = {NAN, -NAN, 0};
    uint32_t payload = 0x7f800001; /* a signalling NaN whose payload is all below f16's bits */
    memcpy(&nans[2], &payload, sizeof payload);
    for (size_t i = 0; i < 3; i++) {
        uint16_t h = lp_nn_f32_to_f16(nans[i]);
        cr_assert((h & 0x7c00) == 0x7c00 && (h & 0x3ff), "NaN %08x -> 0x%04x, not a NaN",
                  bits_of(nans[i]), h);
        cr_assert(isnan(lp_nn_f16_to_f32(h)));
    }
    /* Every one of the 65536 patterns survives f16 -> f32 -> f16 (NaNs as NaNs). */
    for (uint32_t h = 0; h <= 0xffff; h++) {
        float f = lp_nn_f16_to_f32((uint16_t)h);
        int nan16 = (h & 0x7c00) == 0x7c00 && (h & 0x3ff);
        LP_CHECK(nan16 == !!isnan(f), "0x%04x -> %a", h, (double)f);
        if (!nan16)
            LP_CHECK(lp_nn_f32_to_f16(f) == h, "0x%04x -> %a -> 0x%04x", h, (double)f,
                     lp_nn_f32_to_f16(f));
    }
}

/* Round to nearest, ties to even, at every boundary between neighbouring binary16 values:
 * the midpoint goes to the even one, a float either side of it to the nearer one. */
Test(mlp_f16, conversion_rounds_to_nearest_even)
{
    cr_assert_eq(lp_nn_f32_to_f16(1.0f + 0x1p-11f), 0x3c00, "tie between 0x3c00 and 0x3c01");
    cr_assert_eq(lp_nn_f32_to_f16(1.0f + 0x3p-11f), 0x3c02, "tie between 0x3c01 and 0x3c02");
    cr_assert_eq(lp_nn_f32_to_f16(1.0f + 0x1p-11f + 0x1p-20f), 0x3c01);
    cr_assert_eq(lp_nn_f32_to_f16(0x1p-25f), 0x0000, "tie between 0 and the smallest subnormal");
    cr_assert_eq(lp_nn_f32_to_f16(0x3p-25f), 0x0002, "subnormal tie");
    cr_assert_eq(lp_nn_f32_to_f16(-0x1.0001p-25f), 0x8001);
    cr_assert_eq(lp_nn_f32_to_f16(0x7ffp-25f), 0x0400, "largest subnormal + half rounds up");
    for (uint32_t h = 0; h < 0x7c00; h++) {
        double lo = lp_nn_f16_to_f32((uint16_t)h), hi = lp_nn_f16_to_f32((uint16_t)(h + 1));
        if (h == 0x7bff)
            hi = 65536.0; /* where the next binary16 would be; its midpoint 65520 is inf's */
        float mid = (float)((lo + hi) / 2); /* 12 significant bits: exact in a float */
        uint16_t even = (uint16_t)(h & 1 ? h + 1 : h);
        LP_CHECK(lp_nn_f32_to_f16(mid) == even, "tie %a -> 0x%04x, want 0x%04x", (double)mid,
                 lp_nn_f32_to_f16(mid), even);
        LP_CHECK(lp_nn_f32_to_f16(nextafterf(mid, 0)) == h, "below %a", (double)mid);
        LP_CHECK(lp_nn_f32_to_f16(nextafterf(mid, INFINITY)) == h + 1, "above %a", (double)mid);
        LP_CHECK(lp_nn_f32_to_f16(-nextafterf(mid, 0)) == (h | 0x8000), "below -%a", (double)mid);
    }
}

Test(mlp_f16, conversion_overflow_and_underflow)
{
    cr_assert_eq(lp_nn_f32_to_f16(65519.0f), 0x7bff);
    cr_assert_eq(lp_nn_f32_to_f16(65520.0f), 0x7c00, "the tie above 65504 rounds to inf");
    cr_assert_eq(lp_nn_f32_to_f16(1e6f), 0x7c00);
    cr_assert_eq(lp_nn_f32_to_f16(-1e6f), 0xfc00);
    cr_assert_eq(lp_nn_f32_to_f16(FLT_MAX), 0x7c00);
    cr_assert_eq(lp_nn_f32_to_f16(1e-10f), 0x0000);
    cr_assert_eq(lp_nn_f32_to_f16(-1e-10f), 0x8000, "underflow keeps the sign");
    cr_assert_eq(lp_nn_f32_to_f16(0x1p-149f), 0x0000, "a float subnormal");
    float v[] = {0.1f, -3.14159f, 70000.0f, 0x1p-30f};
    lp_nn_round_f16(v, 4);
    cr_assert_eq(bits_of(v[0]), bits_of(0x1.998p-4f), "%a", (double)v[0]);
    cr_assert_eq(bits_of(v[1]), bits_of(-0x1.92p+1f), "%a", (double)v[1]);
    cr_assert(isinf(v[2]) && v[2] > 0);
    cr_assert_eq(bits_of(v[3]), 0);
}

/* ---- the plugin ------------------------------------------------------------------------ */

static lp_instance *make(const char *kv)
{
    return lp_test_instance(LP_KIND_PREDICTOR, "mlp", kv);
}

static const lp_predictor_ops *ops_of(lp_instance *inst)
{
    return lp_instance_ops(inst);
}

/* Median and max relative difference of p16 from p32 over all rows, and the MAPE of each
 * on the last 400 rows (the validation rows of the tests here); logs them. */
static void compare(const lp_test_rows *r, const float *p32, const float *p16, double *median,
                    double *max, double *mape32, double *mape16)
{
    static double rel[ROWS];
    *mape32 = *mape16 = 0;
    for (size_t i = 0; i < ROWS; i++) {
        rel[i] = fabs((double)p16[i] - p32[i]) / fabs((double)p32[i]);
        if (i >= ROWS - 400) {
            *mape32 += fabs((double)p32[i] - r->y[i]) / r->y[i] / 400;
            *mape16 += fabs((double)p16[i] - r->y[i]) / r->y[i] / 400;
        }
    }
    *median = lp_median(rel, ROWS); /* sorts rel: p99 and max below read it */
    *max = rel[ROWS - 1];
    cr_log_info("f16 vs f32 predictions: median relative difference %.6f, p99 %.6f, max %.6f; "
                "validation MAPE %.5f (f32) %.5f (f16)", *median, rel[ROWS * 99 / 100], *max,
                *mape32, *mape16);
}

/* A small model, quick to train, saved in lp_test_dir as f32 (name32) and as f16 (name16). */
static void small_files(lp_test_rows *r, const char *name32, const char *name16)
{
    lp_test_synth(r, ROWS, 1, 0.01, 1.0);
    lp_instance *inst = make("layers=16x16,epochs=3,seed=2");
    lp_dataset tr = lp_test_set_of(r, 0, 400);
    lp_train_report rep;
    lp_test_train(inst, &tr, NULL, NULL, &rep);
    char *a = lp_test_file(name32), *h = lp_test_file(name16);
    lp_test_save(inst, a);
    lp_instance *half = make("weights=f16");
    lp_test_load(half, a);
    lp_test_save(half, h);
    free(a);
    free(h);
    lp_instance_destroy(inst);
    lp_instance_destroy(half);
}

Test(mlp_f16, option)
{
    const lp_plugin *p = lp_registry_find(lp_test_reg, LP_KIND_PREDICTOR, "mlp");
    cr_assert_not_null(p);
    const lp_option *o = lp_plugin_descriptor(p)->options;
    while (o->name && strcmp(o->name, "weights"))
        o++;
    cr_assert_str_eq(o->name, "weights");
    cr_assert_eq(o->type, LP_OPT_CHOICE);
    char buf[64];
    cr_assert_str_eq(lp_option_default_str(o, buf, sizeof buf), "f32");
    lp_instance *inst = NULL;
    lp_err err = {0};
    cr_assert_eq(lp_instance_create_kv(p, "weights=f64", &inst, &err), LP_EINVAL);
    cr_assert(strstr(err.msg, "weights"), "%s", err.msg);
    inst = make("weights=f16");
    cr_assert_str_eq(lp_option_value_str(o, inst->priv, buf, sizeof buf), "f16");
    lp_instance_destroy(inst);
}

/* The contract on a trained model: half the bytes, bit-identical reload and re-save, and
 * predictions within a stated distance of the f32 model's. */
Test(mlp_f16, half_size_same_contract)
{
    static lp_test_rows r;
    static float p32[ROWS], p16[ROWS], again[ROWS];
    lp_test_synth(&r, ROWS, 1, 0.01, 1.0);
    lp_instance *full = make(SMALL);
    lp_dataset tr = lp_test_set_of(&r, 0, 1600), val = lp_test_set_of(&r, 1600, 400);
    lp_train_report rep;
    lp_test_train(full, &tr, &val, NULL, &rep);
    lp_test_predict(full, r.x, ROWS, p32);
    char *a = lp_test_file("a.mlp"), *h = lp_test_file("h.mlp"), *h2 = lp_test_file("h2.mlp"),
         *w = lp_test_file("w.mlp");
    lp_test_save(full, a);

    /* The f16 saver holds the f32 weights until it saves, then their rounded values. */
    lp_instance *half = make(SMALL ",weights=f16");
    lp_test_load(half, a);
    lp_test_predict(half, r.x, ROWS, p16);
    cr_assert_eq(memcmp(p16, p32, sizeof p16), 0, "loading an f32 file is bit-exact");
    lp_test_save(half, h);
    lp_test_predict(half, r.x, ROWS, p16);
    cr_assert_neq(memcmp(p16, p32, sizeof p16), 0, "saving f16 did not round the held weights");

    size_t na, nh;
    unsigned char *ba = lp_test_slurp(a, &na), *bh = lp_test_slurp(h, &nh);
    double ratio = (double)nh / (double)na;
    cr_log_info("f32 file %zu bytes, f16 file %zu bytes: %.3fx", na, nh, ratio);
    cr_assert_eq(lp_test_get_u32(ba + 8), 1, "f16 files keep format version 1");
    cr_assert_eq(lp_test_get_u32(bh + 8), 1);
    cr_assert_eq(lp_test_get_u32(ba + 12), 0, "an f32 file has no flags");
    cr_assert_eq(lp_test_get_u32(bh + 12), 1, "an f16 file has flag bit 0");
    cr_assert_lt(ratio, 0.55, "f16 file is %.3fx the f32 one", ratio);

    /* Another f16 instance loads it, predicts the saver's bits and re-saves its bytes. */
    lp_instance *re = make("layers=8,weights=f16");
    lp_test_load(re, h);
    lp_test_predict(re, r.x, ROWS, again);
    cr_assert_eq(memcmp(again, p16, sizeof again), 0, "predictions differ after reload");
    lp_test_save(re, h2);
    size_t n2;
    unsigned char *b2 = lp_test_slurp(h2, &n2);
    cr_assert(n2 == nh && !memcmp(b2, bh, nh), "re-saved f16 file differs");
    free(b2);
    /* A second f16 save of the saver itself changes nothing either. */
    lp_test_save(half, h2);
    b2 = lp_test_slurp(h2, &n2);
    cr_assert(n2 == nh && !memcmp(b2, bh, nh), "second f16 save differs");
    free(b2);

    /* An f32 instance loading the f16 file saves f32: the same values in twice the bytes. */
    lp_instance *wide = make("epochs=1");
    lp_test_load(wide, h);
    lp_test_save(wide, w);
    b2 = lp_test_slurp(w, &n2);
    cr_assert_eq(n2, na);
    cr_assert_eq(lp_test_get_u32(b2 + 12), 0);
    free(b2);
    lp_instance *wide2 = make("epochs=1");
    lp_test_load(wide2, w);
    lp_test_predict(wide2, r.x, ROWS, again);
    cr_assert_eq(memcmp(again, p16, sizeof again), 0, "f16 -> f32 re-save changed values");

    /* Distance from the f32 model. Binary16 keeps 11 significant bits: each weight moves
     * by at most 2^-12 = 0.024% of itself, and the moves of ~2300 weights partly cancel.
     * Measured on this model (x86-64, OpenBLAS): median 0.020%, p99 0.12%, max 0.22%,
     * validation MAPE 1.36% either way. The bounds leave 10-25x room for other BLAS
     * kernels and compilers while still catching a wrong rounding (an off-by-one exponent
     * or a truncated mantissa moves predictions by whole percents). */
    double median, max, mape32, mape16;
    compare(&r, p32, p16, &median, &max, &mape32, &mape16);
    cr_assert_gt(median, 0, "the predictions did not change at all");
    cr_assert_lt(median, 0.005, "median relative difference %.5f", median);
    cr_assert_lt(max, 0.05, "max relative difference %.5f", max);
    cr_assert_lt(fabs(mape16 - mape32), 0.005, "validation MAPE %.4f -> %.4f", mape32, mape16);

    free(ba);
    free(bh);
    free(a);
    free(h);
    free(h2);
    free(w);
    lp_instance_destroy(full);
    lp_instance_destroy(half);
    lp_instance_destroy(re);
    lp_instance_destroy(wide);
    lp_instance_destroy(wide2);
}

/* LitePred's default net, the size of a real pool file (~0.5M parameters, 16 layers for
 * the rounding to compound through), trained for 10 epochs. */
Test(mlp_f16, default_net_halves)
{
    static lp_test_rows r;
    static float p32[ROWS], p16[ROWS];
    lp_test_synth(&r, ROWS, 1, 0.01, 1.0);
    lp_instance *full = make("epochs=10,seed=3");
    lp_dataset tr = lp_test_set_of(&r, 0, 1600);
    lp_train_report rep;
    lp_test_train(full, &tr, NULL, NULL, &rep);
    lp_test_predict(full, r.x, ROWS, p32);
    char *a = lp_test_file("a.mlp"), *h = lp_test_file("h.mlp");
    lp_test_save(full, a);
    lp_instance *half = make("weights=f16");
    lp_test_load(half, a);
    lp_test_save(half, h);
    lp_test_predict(half, r.x, ROWS, p16);
    size_t na, nh;
    free(lp_test_slurp(a, &na));
    free(lp_test_slurp(h, &nh));
    double ratio = (double)nh / (double)na;
    cr_log_info("default net: f32 file %zu bytes, f16 file %zu bytes: %.4fx", na, nh, ratio);
    cr_assert_lt(ratio, 0.501, "%.4f", ratio);
    /* Measured: median 0.042%, p99 0.23%, max 0.53%, validation MAPE 9.27% either way:
     * twice the small net's spread over 5x the depth; the bounds still leave ~10-20x. */
    double median, max, mape32, mape16;
    compare(&r, p32, p16, &median, &max, &mape32, &mape16);
    cr_assert_lt(median, 0.01, "median relative difference %.5f", median);
    cr_assert_lt(max, 0.05, "max relative difference %.5f", max);
    free(a);
    free(h);
    lp_instance_destroy(full);
    lp_instance_destroy(half);
}

/* The good model that a refused load must leave held, and the rows to compare it on. */
typedef struct held {
    const lp_test_rows *r;
    const char *good;
} held;

/* Loads path into an instance holding ctx's good model; checks code and message and that
 * the held model survived (an lp_test_refusal_fn). */
static void expect_load_error(void *ctx, const char *path, int code, const char *msg)
{
    const held *k = ctx;
    lp_instance *inst = make("epochs=1");
    lp_test_load(inst, k->good);
    lp_test_refused_load(inst, k->r->x, ROWS, path, code, msg);
    lp_instance_destroy(inst);
}

Test(mlp_f16, unknown_flags_rejected)
{
    static lp_test_rows r;
    small_files(&r, "a.mlp", "h.mlp");
    char *a = lp_test_file("a.mlp"), *h = lp_test_file("h.mlp"), *t = lp_test_file("t.mlp");
    char msg[1024];
    held k = {&r, a};
    static const uint32_t bad[] = {0x2, 0x80000000u, 0x80000001u};
    for (size_t i = 0; i < 3; i++) {
        size_t n;
        unsigned char *b = lp_test_slurp(i == 2 ? h : a, &n);
        lp_test_spit_patched(t, b, n, 12, bad[i]); /* a well-formed file of a newer writer */
        snprintf(msg, sizeof msg,
                 "%s: unknown flags 0x%08x (this build reads 0x00000001: f16 parameters): "
                 "written by a newer litepred", t, bad[i] & ~1u);
        expect_load_error(&k, t, LP_EUNSUPPORTED, msg);
        free(b);
    }
    free(a);
    free(h);
    free(t);
}

Test(mlp_f16, damaged_f16_files)
{
    static lp_test_rows r;
    small_files(&r, "a.mlp", "h.mlp");
    char *a = lp_test_file("a.mlp"), *h = lp_test_file("h.mlp"), *t = lp_test_file("t.mlp");
    char msg[1024];
    held k = {&r, a};
    /* The envelope's damages, the flipped byte inside the binary16 parameters. */
    lp_test_envelope_damage(h, "mlp predictor", 24, expect_load_error, &k);
    size_t n;
    unsigned char *b = lp_test_slurp(h, &n);
    /* The flag and the parameter block disagree, checksum valid: either way the fields do
     * not fill the file. */
    lp_test_spit_patched(t, b, n, 12, 0);
    snprintf(msg, sizeof msg, "%s: the fields do not fill the file exactly", t);
    expect_load_error(&k, t, LP_ECORRUPT, msg);
    free(b);
    b = lp_test_slurp(a, &n);
    lp_test_spit_patched(t, b, n, 12, 1);
    expect_load_error(&k, t, LP_ECORRUPT, msg);
    free(b);
    free(a);
    free(h);
    free(t);
}

/* A weight beyond binary16's range would load as inf: the f16 save refuses, writes nothing
 * and leaves the held weights as they were. */
Test(mlp_f16, out_of_range_weight_refused)
{
    static lp_test_rows r;
    small_files(&r, "a.mlp", "h.mlp");
    char *a = lp_test_file("a.mlp"), *big = lp_test_file("big.mlp"), *t = lp_test_file("t.mlp");
    char msg[1024];
    size_t n;
    unsigned char *b = lp_test_slurp(a, &n);
    uint32_t v = bits_of(1e6f); /* the output bias, the last parameter */
    lp_test_spit_patched(big, b, n, n - 8, v);
    free(b);
    lp_instance *half = make("weights=f16");
    lp_test_load(half, big);
    static float before[ROWS], after[ROWS];
    lp_test_predict(half, r.x, ROWS, before);
    lp_err err = {0};
    cr_assert_eq(ops_of(half)->save(half->priv, t, &err), LP_EINVAL, "%s", err.msg);
    /* The last of 16x16's 5*16+16 + 16*16+16 + 16+1 = 385 parameters. */
    snprintf(msg, sizeof msg,
             "mlp: %s: parameter 384 is 1e+06, beyond binary16's +-65504: save with "
             "weights=f32", t);
    cr_assert_str_eq(err.msg, msg);
    cr_assert_neq(access(t, F_OK), 0, "a refused save wrote %s", t);
    lp_test_predict(half, r.x, ROWS, after);
    cr_assert_eq(memcmp(before, after, sizeof before), 0, "a refused save changed the model");
    free(a);
    free(big);
    free(t);
    lp_instance_destroy(half);
}
