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

/* Asserts only on failure: ctest runs with --full-stats, which records every passing assertion. */
#define CHECK(cond, ...)                 \
    do {                                 \
        if (!(cond))                     \
            cr_assert_fail(__VA_ARGS__); \
    } while (0)

#define SMALL "layers=32x32x32,epochs=100,lr=0.003,seed=1"
#define NF 5
#define ROWS 2000

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

TestSuite(mlp_f16, .init = setup, .fini = teardown, .timeout = 120);

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
        CHECK(nan16 == !!isnan(f), "0x%04x -> %a", h, (double)f);
        if (!nan16)
            CHECK(lp_nn_f32_to_f16(f) == h, "0x%04x -> %a -> 0x%04x", h, (double)f,
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
        CHECK(lp_nn_f32_to_f16(mid) == even, "tie %a -> 0x%04x, want 0x%04x", (double)mid,
              lp_nn_f32_to_f16(mid), even);
        CHECK(lp_nn_f32_to_f16(nextafterf(mid, 0)) == h, "below %a", (double)mid);
        CHECK(lp_nn_f32_to_f16(nextafterf(mid, INFINITY)) == h + 1, "above %a", (double)mid);
        CHECK(lp_nn_f32_to_f16(-nextafterf(mid, 0)) == (h | 0x8000), "below -%a", (double)mid);
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

typedef struct rows {
    float x[ROWS * NF], y[ROWS];
} rows;

/* The conv-like latency of test_mlp.c: y = 0.01 + 0.003 * FLOPs-like product / 1e6 ms. */
static void synth(rows *r, uint64_t seed)
{
    static const int hw[] = {7, 14, 28, 56}, k[] = {1, 3, 5};
    lp_rng rng;
    lp_rng_seed(&rng, seed);
    for (size_t i = 0; i < ROWS; i++) {
        float *f = r->x + i * NF;
        f[0] = (float)hw[lp_rng_below(&rng, 4)];
        f[1] = (float)(16 + 8 * lp_rng_below(&rng, 15));
        f[2] = (float)(16 + 8 * lp_rng_below(&rng, 15));
        f[3] = (float)k[lp_rng_below(&rng, 3)];
        double prod = (double)f[0] * f[0] * f[1] * f[2] * f[3] * f[3];
        f[4] = (float)(prod / 1e6);
        r->y[i] = (float)(0.01 + 0.003 * prod / 1e6);
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

static void train(lp_instance *inst, const lp_dataset *tr, const lp_dataset *val,
                  lp_train_report *rep)
{
    lp_err err = {0};
    cr_assert_eq(ops_of(inst)->train(inst->priv, tr, val, NULL, rep, &err), 0, "%s", err.msg);
}

static void save(lp_instance *inst, const char *path)
{
    lp_err err = {0};
    cr_assert_eq(ops_of(inst)->save(inst->priv, path, &err), 0, "%s", err.msg);
}

static void load(lp_instance *inst, const char *path)
{
    lp_err err = {0};
    cr_assert_eq(ops_of(inst)->load(inst->priv, path, &err), 0, "%s", err.msg);
}

static void predict(lp_instance *inst, const rows *r, float *out)
{
    lp_err err = {0};
    cr_assert_eq(ops_of(inst)->predict(inst->priv, r->x, ROWS, out, &err), 0, "%s", err.msg);
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

static uint32_t get_u32(const unsigned char *b)
{
    return (uint32_t)b[0] | (uint32_t)b[1] << 8 | (uint32_t)b[2] << 16 | (uint32_t)b[3] << 24;
}

static void put_u32(unsigned char *b, uint32_t v)
{
    for (int i = 0; i < 4; i++)
        b[i] = (unsigned char)(v >> (8 * i));
}

/* A file image with a valid checksum again after an edit. */
static void reseal(unsigned char *b, size_t n)
{
    put_u32(b + n - 4, lp_nn_crc32(0, b, n - 4));
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* Median and max relative difference of p16 from p32 over all rows, and the MAPE of each
 * on the last 400 rows (the validation rows of the tests here); logs them. */
static void compare(const rows *r, const float *p32, const float *p16, double *median,
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
    qsort(rel, ROWS, sizeof *rel, cmp_double);
    *median = (rel[ROWS / 2 - 1] + rel[ROWS / 2]) / 2;
    *max = rel[ROWS - 1];
    cr_log_info("f16 vs f32 predictions: median relative difference %.6f, p99 %.6f, max %.6f; "
                "validation MAPE %.5f (f32) %.5f (f16)", *median, rel[ROWS * 99 / 100], *max,
                *mape32, *mape16);
}

/* A small model, quick to train, saved as f32 (dir/name32) and as f16 (dir/name16). */
static void small_files(rows *r, const char *name32, const char *name16)
{
    synth(r, 1);
    lp_instance *inst = make("layers=16x16,epochs=3,seed=2");
    lp_dataset tr = set_of(r, 0, 400);
    lp_train_report rep;
    train(inst, &tr, NULL, &rep);
    char *a = path_in(name32), *h = path_in(name16);
    save(inst, a);
    lp_instance *half = make("weights=f16");
    load(half, a);
    save(half, h);
    free(a);
    free(h);
    lp_instance_destroy(inst);
    lp_instance_destroy(half);
}

Test(mlp_f16, option)
{
    const lp_plugin *p = lp_registry_find(reg, LP_KIND_PREDICTOR, "mlp");
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
    static rows r;
    static float p32[ROWS], p16[ROWS], again[ROWS];
    synth(&r, 1);
    lp_instance *full = make(SMALL);
    lp_dataset tr = set_of(&r, 0, 1600), val = set_of(&r, 1600, 400);
    lp_train_report rep;
    train(full, &tr, &val, &rep);
    predict(full, &r, p32);
    char *a = path_in("a.mlp"), *h = path_in("h.mlp"), *h2 = path_in("h2.mlp"),
         *w = path_in("w.mlp");
    save(full, a);

    /* The f16 saver holds the f32 weights until it saves, then their rounded values. */
    lp_instance *half = make(SMALL ",weights=f16");
    load(half, a);
    predict(half, &r, p16);
    cr_assert_eq(memcmp(p16, p32, sizeof p16), 0, "loading an f32 file is bit-exact");
    save(half, h);
    predict(half, &r, p16);
    cr_assert_neq(memcmp(p16, p32, sizeof p16), 0, "saving f16 did not round the held weights");

    size_t na, nh;
    unsigned char *ba = slurp(a, &na), *bh = slurp(h, &nh);
    double ratio = (double)nh / (double)na;
    cr_log_info("f32 file %zu bytes, f16 file %zu bytes: %.3fx", na, nh, ratio);
    cr_assert_eq(get_u32(ba + 8), 1, "f16 files keep format version 1");
    cr_assert_eq(get_u32(bh + 8), 1);
    cr_assert_eq(get_u32(ba + 12), 0, "an f32 file has no flags");
    cr_assert_eq(get_u32(bh + 12), 1, "an f16 file has flag bit 0");
    cr_assert_lt(ratio, 0.55, "f16 file is %.3fx the f32 one", ratio);

    /* Another f16 instance loads it, predicts the saver's bits and re-saves its bytes. */
    lp_instance *re = make("layers=8,weights=f16");
    load(re, h);
    predict(re, &r, again);
    cr_assert_eq(memcmp(again, p16, sizeof again), 0, "predictions differ after reload");
    save(re, h2);
    size_t n2;
    unsigned char *b2 = slurp(h2, &n2);
    cr_assert(n2 == nh && !memcmp(b2, bh, nh), "re-saved f16 file differs");
    free(b2);
    /* A second f16 save of the saver itself changes nothing either. */
    save(half, h2);
    b2 = slurp(h2, &n2);
    cr_assert(n2 == nh && !memcmp(b2, bh, nh), "second f16 save differs");
    free(b2);

    /* An f32 instance loading the f16 file saves f32: the same values in twice the bytes. */
    lp_instance *wide = make("epochs=1");
    load(wide, h);
    save(wide, w);
    b2 = slurp(w, &n2);
    cr_assert_eq(n2, na);
    cr_assert_eq(get_u32(b2 + 12), 0);
    free(b2);
    lp_instance *wide2 = make("epochs=1");
    load(wide2, w);
    predict(wide2, &r, again);
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
    static rows r;
    static float p32[ROWS], p16[ROWS];
    synth(&r, 1);
    lp_instance *full = make("epochs=10,seed=3");
    lp_dataset tr = set_of(&r, 0, 1600);
    lp_train_report rep;
    train(full, &tr, NULL, &rep);
    predict(full, &r, p32);
    char *a = path_in("a.mlp"), *h = path_in("h.mlp");
    save(full, a);
    lp_instance *half = make("weights=f16");
    load(half, a);
    save(half, h);
    predict(half, &r, p16);
    size_t na, nh;
    free(slurp(a, &na));
    free(slurp(h, &nh));
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

/* Loads path into an instance holding a good model; checks code and message and that the
 * held model survived. */
static void expect_load_error(const rows *r, const char *good, const char *path, int code,
                              const char *msg)
{
    lp_instance *inst = make("epochs=1");
    load(inst, good);
    static float before[ROWS], after[ROWS];
    predict(inst, r, before);
    lp_err err = {0};
    cr_assert_eq(ops_of(inst)->load(inst->priv, path, &err), code, "%s", err.msg);
    cr_assert_str_eq(err.msg, msg);
    predict(inst, r, after);
    cr_assert_eq(memcmp(before, after, sizeof before), 0, "a failed load changed the model");
    lp_instance_destroy(inst);
}

Test(mlp_f16, unknown_flags_rejected)
{
    static rows r;
    small_files(&r, "a.mlp", "h.mlp");
    char *a = path_in("a.mlp"), *h = path_in("h.mlp"), *t = path_in("t.mlp"), msg[1024];
    static const uint32_t bad[] = {0x2, 0x80000000u, 0x80000001u};
    for (size_t i = 0; i < 3; i++) {
        size_t n;
        unsigned char *b = slurp(i == 2 ? h : a, &n);
        put_u32(b + 12, bad[i]);
        reseal(b, n); /* a well-formed file of a newer writer */
        spit(t, b, n);
        snprintf(msg, sizeof msg,
                 "%s: unknown flags 0x%08x (this build reads 0x00000001: f16 parameters): "
                 "written by a newer litepred", t, bad[i] & ~1u);
        expect_load_error(&r, a, t, LP_EUNSUPPORTED, msg);
        free(b);
    }
    free(a);
    free(h);
    free(t);
}

Test(mlp_f16, damaged_f16_files)
{
    static rows r;
    small_files(&r, "a.mlp", "h.mlp");
    char *a = path_in("a.mlp"), *h = path_in("h.mlp"), *t = path_in("t.mlp"), msg[1024];
    size_t n;
    unsigned char *b = slurp(h, &n);

    spit(t, b, n - 100);
    snprintf(msg, sizeof msg, "%s: truncated at byte %zu of %zu", t, n - 100, n);
    expect_load_error(&r, a, t, LP_ECORRUPT, msg);
    spit(t, b, 10);
    snprintf(msg, sizeof msg, "%s: truncated at byte 10 (the header alone is 24)", t);
    expect_load_error(&r, a, t, LP_ECORRUPT, msg);

    b[n - 20] ^= 0x10; /* inside the binary16 parameters */
    spit(t, b, n);
    snprintf(msg, sizeof msg,
             "%s: checksum mismatch (stored %08x, computed %08x): the file is corrupt", t,
             get_u32(b + n - 4), lp_nn_crc32(0, b, n - 4));
    expect_load_error(&r, a, t, LP_ECORRUPT, msg);
    b[n - 20] ^= 0x10;

    /* The flag and the parameter block disagree, checksum valid: either way the fields do
     * not fill the file. */
    put_u32(b + 12, 0);
    reseal(b, n);
    spit(t, b, n);
    snprintf(msg, sizeof msg, "%s: the fields do not fill the file exactly", t);
    expect_load_error(&r, a, t, LP_ECORRUPT, msg);
    free(b);
    b = slurp(a, &n);
    put_u32(b + 12, 1);
    reseal(b, n);
    spit(t, b, n);
    expect_load_error(&r, a, t, LP_ECORRUPT, msg);
    free(b);
    free(a);
    free(h);
    free(t);
}

/* A weight beyond binary16's range would load as inf: the f16 save refuses, writes nothing
 * and leaves the held weights as they were. */
Test(mlp_f16, out_of_range_weight_refused)
{
    static rows r;
    small_files(&r, "a.mlp", "h.mlp");
    char *a = path_in("a.mlp"), *big = path_in("big.mlp"), *t = path_in("t.mlp"), msg[1024];
    size_t n;
    unsigned char *b = slurp(a, &n);
    uint32_t v = bits_of(1e6f); /* the output bias, the last parameter */
    put_u32(b + n - 8, v);
    reseal(b, n);
    spit(big, b, n);
    free(b);
    lp_instance *half = make("weights=f16");
    load(half, big);
    static float before[ROWS], after[ROWS];
    predict(half, &r, before);
    lp_err err = {0};
    cr_assert_eq(ops_of(half)->save(half->priv, t, &err), LP_EINVAL, "%s", err.msg);
    /* The last of 16x16's 5*16+16 + 16*16+16 + 16+1 = 385 parameters. */
    snprintf(msg, sizeof msg,
             "mlp: %s: parameter 384 is 1e+06, beyond binary16's +-65504: save with "
             "weights=f32", t);
    cr_assert_str_eq(err.msg, msg);
    cr_assert_neq(access(t, F_OK), 0, "a refused save wrote %s", t);
    predict(half, &r, after);
    cr_assert_eq(memcmp(before, after, sizeof before), 0, "a refused save changed the model");
    free(a);
    free(big);
    free(t);
    lp_instance_destroy(half);
}
