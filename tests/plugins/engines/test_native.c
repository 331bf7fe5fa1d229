/* The native engine against the naive reference loops of tests/support/ref_ops.c:
 * every primitive over several shapes, strides, kernels and activations, plus
 * the engine's contract (supports, errors, threads, BLIS). */
#include "lp_test.h"
#include "ref_ops.c"

#include <criterion/criterion.h>
#include <dlfcn.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define ENGINE "native"

/* ---- engine and graph helpers ------------------------------------------ */

/* Largest error relative to the output's scale (max(1, max |ref|)). */
static double rel_err(const float *got, const float *want, int64_t n, int64_t *worst)
{
    double scale = 1.0, e = 0.0;
    for (int64_t i = 0; i < n; i++)
        scale = fmax(scale, fabs(want[i]));
    *worst = 0;
    for (int64_t i = 0; i < n; i++) {
        double d = fabs((double)got[i] - want[i]) / scale;
        if (!(d <= e)) { /* NaN counts as the worst */
            e = isnan(d) ? INFINITY : d;
            *worst = i;
        }
    }
    return e;
}

#define TOL 1e-4

/* Checks every graph output of g on the engine against the reference; run twice
 * to see that a prepared graph is reusable and deterministic. */
static void check_graph_on(lp_test_engine *e, const lp_graph *g, const char *what)
{
    float **ref = lp_ref_run(g);
    cr_assert_not_null(ref, "%s: reference failed", what);
    lp_err err = {0};
    void *run = NULL;
    cr_assert_eq(e->ops->prepare(e->inst->priv, g, &run, &err), 0, "%s: prepare: %s", what,
                 err.msg);
    for (int pass = 0; pass < 2; pass++)
        cr_assert_eq(e->ops->run(run, &err), 0, "%s: run: %s", what, err.msg);
    for (size_t i = 0; i < g->n_outputs; i++) {
        int64_t n = lp_shape_numel(&g->tensors[g->outputs[i]].shape), worst;
        float *got = malloc((size_t)n * sizeof *got);
        cr_assert_eq(e->ops->output(run, i, got, (size_t)n, &err), 0, "%s: %s", what, err.msg);
        const float *want = ref[g->outputs[i]];
        double d = rel_err(got, want, n, &worst);
        cr_expect_leq(d, TOL, "%s: output %zu element %lld: got %.7g, want %.7g (rel err %.3g)",
                      what, i, (long long)worst, got[worst], want[worst], d);
        free(got);
    }
    e->ops->release(run);
    lp_ref_free(g, ref);
}

static void check_graph(lp_graph *g, const char *what)
{
    lp_test_engine e = lp_test_engine_open(ENGINE, "threads=1");
    check_graph_on(&e, g, what);
    lp_test_engine_close(&e);
}

static int must(int id, const lp_err *err)
{
    cr_assert_geq(id, 0, "builder: %s", err->msg);
    return id;
}

static void fill(lp_graph *g, uint64_t seed)
{
    lp_err err = {0};
    cr_assert_eq(lp_graph_fill(g, seed, &err), 0, "fill: %s", err.msg);
}

/* Spreads an input beyond [-1, 1) so clipping activations and softmax see large values. */
static void scale_tensor(lp_graph *g, int t, float by)
{
    int64_t n = lp_shape_numel(&g->tensors[t].shape);
    for (int64_t i = 0; i < n; i++)
        g->tensors[t].data[i] *= by;
}

static lp_shape nhwc(int64_t n, int64_t h, int64_t w, int64_t c)
{
    return lp_shape_make(4, n, h, w, c);
}

/* ---- conv2d ------------------------------------------------------------------ */

typedef struct conv_case {
    int n, h, w, cin, cout, k, s, groups, bias;
    lp_act act;
} conv_case;

static void check_conv(const conv_case *c)
{
    lp_graph g;
    lp_err err = {0};
    lp_graph_init(&g);
    int x = must(lp_graph_input(&g, nhwc(c->n, c->h, c->w, c->cin), &err), &err);
    int y = must(lp_graph_conv2d(&g, x, c->cout, c->k, c->s, c->groups, c->bias, c->act, &err),
                 &err);
    lp_graph_mark_output(&g, y, &err);
    fill(&g, 42);
    scale_tensor(&g, x, 4.0f);
    char what[160];
    snprintf(what, sizeof what, "conv %dx%dx%dx%d -> %d k%d s%d g%d bias %d %s", c->n, c->h, c->w,
             c->cin, c->cout, c->k, c->s, c->groups, c->bias, lp_act_name(c->act));
    check_graph(&g, what);
    lp_graph_free(&g);
}

Test(native, conv_dense)
{
    static const conv_case cases[] = {
        {1, 7, 7, 3, 8, 3, 1, 1, 1, LP_ACT_RELU},      /* odd sizes, RGB stem */
        {1, 9, 11, 5, 6, 3, 2, 1, 0, LP_ACT_NONE},     /* stride 2, non-square, no bias */
        {1, 8, 8, 4, 4, 1, 1, 1, 1, LP_ACT_RELU6},     /* pointwise: plain GEMM */
        {1, 9, 9, 6, 10, 1, 2, 1, 1, LP_ACT_HSWISH},   /* strided 1x1: im2col */
        {1, 10, 10, 8, 8, 5, 2, 1, 1, LP_ACT_SWISH},   /* k5 s2, even input */
        {1, 13, 13, 4, 5, 7, 1, 1, 1, LP_ACT_GELU},    /* k7 */
        {1, 6, 6, 4, 6, 7, 2, 1, 1, LP_ACT_SIGMOID},   /* kernel wider than the input */
        {1, 5, 5, 3, 4, 3, 3, 1, 1, LP_ACT_HSIGMOID},  /* stride 3 */
        {2, 7, 6, 3, 5, 3, 2, 1, 1, LP_ACT_RELU},      /* batch 2 */
        {1, 1, 1, 16, 8, 3, 1, 1, 1, LP_ACT_NONE},     /* 1x1 image, all padding */
        {1, 56, 56, 32, 64, 3, 1, 1, 1, LP_ACT_RELU},  /* the engines.md conv */
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
        check_conv(&cases[i]);
}

Test(native, conv_grouped)
{
    static const conv_case cases[] = {
        {1, 8, 8, 8, 12, 3, 1, 4, 1, LP_ACT_RELU},
        {1, 9, 7, 6, 9, 1, 1, 3, 1, LP_ACT_NONE},      /* grouped pointwise */
        {1, 9, 9, 6, 4, 3, 2, 2, 0, LP_ACT_RELU6},
        {1, 11, 11, 8, 16, 5, 2, 8, 1, LP_ACT_HSWISH}, /* 1 input channel per group, 2 out */
        {2, 6, 6, 4, 8, 1, 2, 2, 1, LP_ACT_NONE},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
        check_conv(&cases[i]);
}

Test(native, conv_depthwise)
{
    static const conv_case cases[] = {
        {1, 10, 10, 16, 16, 3, 1, 16, 1, LP_ACT_RELU6},
        {1, 11, 11, 24, 24, 5, 2, 24, 1, LP_ACT_HSWISH},
        {1, 7, 7, 8, 8, 7, 2, 8, 1, LP_ACT_RELU},
        {1, 9, 8, 4, 4, 3, 2, 4, 0, LP_ACT_NONE},
        {1, 5, 5, 1, 1, 3, 1, 1, 1, LP_ACT_SWISH},     /* C = 1: groups == cin == cout == 1 */
        {2, 6, 6, 5, 5, 5, 1, 5, 1, LP_ACT_GELU},
        {1, 3, 3, 7, 7, 7, 1, 7, 1, LP_ACT_SIGMOID},   /* window covers the image */
        {1, 56, 56, 96, 96, 5, 2, 96, 1, LP_ACT_NONE}, /* the engines.md depthwise */
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
        check_conv(&cases[i]);
}

Test(native, conv_every_activation)
{
    for (int a = LP_ACT_NONE; a < LP_ACT_COUNT_; a++) {
        conv_case dense = {1, 6, 5, 4, 6, 3, 1, 1, 1, (lp_act)a};
        conv_case dw = {1, 6, 5, 6, 6, 3, 2, 6, 1, (lp_act)a};
        check_conv(&dense);
        check_conv(&dw);
    }
}

/* ---- dense and matmul ---------------------------------------------------------- */

static void check_dense(lp_shape xs, int n, int bias, lp_act act)
{
    lp_graph g;
    lp_err err = {0};
    lp_graph_init(&g);
    int x = must(lp_graph_input(&g, xs, &err), &err);
    int y = must(lp_graph_dense(&g, x, n, bias, act, &err), &err);
    lp_graph_mark_output(&g, y, &err);
    fill(&g, 7);
    scale_tensor(&g, x, 3.0f);
    char what[128], sb[64];
    snprintf(what, sizeof what, "dense %s -> %d bias %d %s", lp_shape_str(&xs, sb, sizeof sb), n,
             bias, lp_act_name(act));
    check_graph(&g, what);
    lp_graph_free(&g);
}

Test(native, dense)
{
    check_dense(lp_shape_make(2, 1, 37, 0, 0), 11, 1, LP_ACT_NONE);       /* gemv */
    check_dense(lp_shape_make(2, 5, 37, 0, 0), 11, 1, LP_ACT_RELU);       /* gemm */
    check_dense(lp_shape_make(3, 2, 3, 16, 0), 9, 0, LP_ACT_GELU);        /* token rows */
    check_dense(lp_shape_make(4, 1, 1, 1, 24), 6, 1, LP_ACT_HSIGMOID);    /* SE squeeze */
    check_dense(lp_shape_make(2, 1, 1280, 0, 0), 1000, 1, LP_ACT_NONE);  /* the engines.md FC */
    for (int a = LP_ACT_NONE; a < LP_ACT_COUNT_; a++)
        check_dense(lp_shape_make(2, 3, 10, 0, 0), 7, 1, (lp_act)a);
}

static void check_matmul(int b, int m, int k, int n, int trans_b, float alpha)
{
    lp_graph g;
    lp_err err = {0};
    lp_graph_init(&g);
    int x = must(lp_graph_input(&g, lp_shape_make(3, b, m, k, 0), &err), &err);
    lp_shape bs = trans_b ? lp_shape_make(3, b, n, k, 0) : lp_shape_make(3, b, k, n, 0);
    int y = must(lp_graph_input(&g, bs, &err), &err);
    int z = must(lp_graph_matmul(&g, x, y, trans_b, alpha, &err), &err);
    lp_graph_mark_output(&g, z, &err);
    fill(&g, 11);
    char what[96];
    snprintf(what, sizeof what, "matmul b%d m%d k%d n%d trans_b %d alpha %g", b, m, k, n, trans_b,
             (double)alpha);
    check_graph(&g, what);
    lp_graph_free(&g);
}

Test(native, matmul)
{
    check_matmul(2, 5, 7, 3, 0, 1.0f);
    check_matmul(3, 4, 8, 6, 1, 0.125f);
    check_matmul(1, 1, 9, 1, 0, -2.0f);
    check_matmul(4, 13, 16, 13, 1, 0.25f); /* attention scores: q.k^T */
    check_matmul(4, 13, 13, 16, 0, 1.0f);  /* attention output: p.v */
}

/* ---- pooling ----------------------------------------------------------------------- */

static void check_pool(int n, int h, int w, int c, lp_pool_kind kind, int k, int s)
{
    lp_graph g;
    lp_err err = {0};
    lp_graph_init(&g);
    int x = must(lp_graph_input(&g, nhwc(n, h, w, c), &err), &err);
    int y = must(lp_graph_pool(&g, x, kind, k, s, &err), &err);
    lp_graph_mark_output(&g, y, &err);
    fill(&g, 5);
    /* All-negative inputs: a max pool that counted padding as 0 would be caught. */
    if (kind == LP_POOL_MAX)
        for (int64_t i = 0; i < lp_shape_numel(&g.tensors[x].shape); i++)
            g.tensors[x].data[i] = -2.0f - fabsf(g.tensors[x].data[i]);
    char what[96];
    snprintf(what, sizeof what, "pool kind %d %dx%dx%dx%d k%d s%d", (int)kind, n, h, w, c, k, s);
    check_graph(&g, what);
    lp_graph_free(&g);
}

Test(native, pool)
{
    check_pool(1, 7, 7, 5, LP_POOL_MAX, 3, 2);  /* padding on both sides */
    check_pool(1, 8, 8, 3, LP_POOL_MAX, 2, 2);  /* no padding */
    check_pool(1, 6, 6, 3, LP_POOL_MAX, 3, 2);  /* padding only after */
    check_pool(2, 5, 4, 4, LP_POOL_MAX, 3, 1);
    check_pool(1, 5, 6, 4, LP_POOL_AVG, 3, 1);  /* corners average 4 values, not 9 */
    check_pool(1, 7, 7, 6, LP_POOL_AVG, 3, 2);
    check_pool(1, 4, 4, 2, LP_POOL_AVG, 5, 3);  /* window wider than the input */
    check_pool(1, 9, 9, 3, LP_POOL_AVG, 2, 2);  /* odd input, even window */
    check_pool(1, 7, 7, 10, LP_POOL_GLOBAL_AVG, 0, 0);
    check_pool(2, 3, 5, 70, LP_POOL_GLOBAL_AVG, 0, 0);
    check_pool(1, 14, 14, 96, LP_POOL_GLOBAL_AVG, 0, 0);
}

/* ---- elementwise, softmax, layernorm ------------------------------------------------ */

Test(native, activations)
{
    for (int a = LP_ACT_RELU; a < LP_ACT_COUNT_; a++) {
        lp_graph g;
        lp_err err = {0};
        lp_graph_init(&g);
        int x = must(lp_graph_input(&g, nhwc(1, 5, 7, 9), &err), &err);
        int y = must(lp_graph_act(&g, x, (lp_act)a, &err), &err);
        lp_graph_mark_output(&g, y, &err);
        fill(&g, (uint64_t)a);
        scale_tensor(&g, x, 9.0f); /* past relu6's 6 and hswish's -3 / +3 */
        check_graph(&g, lp_act_name((lp_act)a));
        lp_graph_free(&g);
    }
}

Test(native, activation_values)
{
    /* Spot values from the definitions, independent of the reference loops. */
    static const struct { lp_act act; float x, y; } v[] = {
        {LP_ACT_RELU6, 7.0f, 6.0f},          {LP_ACT_RELU6, -1.0f, 0.0f},
        {LP_ACT_HSWISH, -3.0f, 0.0f},        {LP_ACT_HSWISH, 3.0f, 3.0f},
        {LP_ACT_HSWISH, 1.0f, 4.0f / 6.0f},  {LP_ACT_HSIGMOID, 0.0f, 0.5f},
        {LP_ACT_SIGMOID, 0.0f, 0.5f},        {LP_ACT_SWISH, 1.0f, 0.7310586f},
        {LP_ACT_GELU, 1.0f, 0.8413447f},     {LP_ACT_GELU, -1.0f, -0.1586553f},
    };
    lp_test_engine e = lp_test_engine_open(ENGINE, "threads=1");
    for (size_t i = 0; i < sizeof v / sizeof v[0]; i++) {
        lp_graph g;
        lp_err err = {0};
        lp_graph_init(&g);
        int x = must(lp_graph_input(&g, lp_shape_make(1, 1, 0, 0, 0), &err), &err);
        int y = must(lp_graph_act(&g, x, v[i].act, &err), &err);
        lp_graph_mark_output(&g, y, &err);
        fill(&g, 1);
        g.tensors[x].data[0] = v[i].x;
        int64_t n;
        float *out = lp_test_engine_eval(&e, &g, 0, 1, &n);
        cr_expect_float_eq(out[0], v[i].y, 1e-6, "%s(%g) = %g, want %g", lp_act_name(v[i].act),
                           (double)v[i].x, (double)out[0], (double)v[i].y);
        free(out);
        lp_graph_free(&g);
    }
    lp_test_engine_close(&e);
}

Test(native, add_mul)
{
    for (int a = LP_ACT_NONE; a < LP_ACT_COUNT_; a++) {
        lp_graph g;
        lp_err err = {0};
        lp_graph_init(&g);
        int x = must(lp_graph_input(&g, nhwc(1, 6, 5, 7), &err), &err);
        int y = must(lp_graph_input(&g, nhwc(1, 6, 5, 7), &err), &err);
        int z = must(lp_graph_add(&g, x, y, (lp_act)a, &err), &err);
        lp_graph_mark_output(&g, z, &err);
        fill(&g, 3);
        scale_tensor(&g, x, 5.0f);
        char what[64];
        snprintf(what, sizeof what, "add %s", lp_act_name((lp_act)a));
        check_graph(&g, what);
        lp_graph_free(&g);
    }
    lp_shape bshapes[] = {nhwc(1, 6, 5, 7), nhwc(1, 1, 1, 7)};
    for (int i = 0; i < 2; i++) {
        lp_graph g;
        lp_err err = {0};
        lp_graph_init(&g);
        int x = must(lp_graph_input(&g, nhwc(1, 6, 5, 7), &err), &err);
        int y = must(lp_graph_input(&g, bshapes[i], &err), &err);
        int z = must(lp_graph_mul(&g, x, y, &err), &err);
        lp_graph_mark_output(&g, z, &err);
        fill(&g, 4);
        check_graph(&g, i ? "mul broadcast [1,1,1,C]" : "mul same shape");
        lp_graph_free(&g);
    }
}

static void check_rows(lp_prim prim, lp_shape xs, float spread)
{
    lp_graph g;
    lp_err err = {0};
    lp_graph_init(&g);
    int x = must(lp_graph_input(&g, xs, &err), &err);
    int y = prim == LP_PRIM_SOFTMAX ? lp_graph_softmax(&g, x, &err)
                                    : lp_graph_layernorm(&g, x, 1e-5f, &err);
    lp_graph_mark_output(&g, must(y, &err), &err);
    fill(&g, 9);
    scale_tensor(&g, x, spread);
    char what[96], sb[64];
    snprintf(what, sizeof what, "%s %s x%g", lp_prim_name(prim), lp_shape_str(&xs, sb, sizeof sb),
             (double)spread);
    check_graph(&g, what);
    lp_graph_free(&g);
}

Test(native, softmax_layernorm)
{
    check_rows(LP_PRIM_SOFTMAX, lp_shape_make(3, 1, 7, 13, 0), 1.0f);
    /* x200: expf overflows unless the row max is subtracted first. */
    check_rows(LP_PRIM_SOFTMAX, lp_shape_make(2, 4, 1000, 0, 0), 200.0f);
    check_rows(LP_PRIM_SOFTMAX, lp_shape_make(1, 1, 0, 0, 0), 1.0f);
    check_rows(LP_PRIM_SOFTMAX, nhwc(1, 3, 3, 5), 4.0f);
    check_rows(LP_PRIM_LAYERNORM, lp_shape_make(3, 2, 5, 48, 0), 1.0f);
    check_rows(LP_PRIM_LAYERNORM, lp_shape_make(2, 3, 192, 0, 0), 50.0f);
    check_rows(LP_PRIM_LAYERNORM, nhwc(1, 2, 2, 7), 1.0f);
}

/* ---- data movement --------------------------------------------------------------------- */

Test(native, concat)
{
    static const struct { lp_shape a, b; int axis; } c[] = {
        {{4, {2, 3, 4, 5}}, {4, {1, 3, 4, 5}}, 0}, {{4, {1, 3, 4, 5}}, {4, {1, 2, 4, 5}}, 1},
        {{4, {1, 3, 4, 5}}, {4, {1, 3, 6, 5}}, 2}, {{4, {1, 3, 4, 5}}, {4, {1, 3, 4, 3}}, 3},
        {{2, {7, 3}}, {2, {7, 9}}, 1},             {{3, {1, 5, 8}}, {3, {1, 1, 8}}, 1},
    };
    for (size_t i = 0; i < sizeof c / sizeof c[0]; i++) {
        lp_graph g;
        lp_err err = {0};
        lp_graph_init(&g);
        int x = must(lp_graph_input(&g, c[i].a, &err), &err);
        int y = must(lp_graph_input(&g, c[i].b, &err), &err);
        int z = must(lp_graph_concat(&g, x, y, c[i].axis, &err), &err);
        lp_graph_mark_output(&g, z, &err);
        fill(&g, 2);
        char what[64];
        snprintf(what, sizeof what, "concat case %zu axis %d", i, c[i].axis);
        check_graph(&g, what);
        lp_graph_free(&g);
    }
}

/* Every permutation of rank r in lexicographic order, through perm_next. */
static int perm_next(int *p, int r)
{
    int i = r - 2;
    while (i >= 0 && p[i] > p[i + 1])
        i--;
    if (i < 0)
        return 0;
    int j = r - 1;
    while (p[j] < p[i])
        j--;
    int t = p[i];
    p[i] = p[j];
    p[j] = t;
    for (int a = i + 1, b = r - 1; a < b; a++, b--) {
        t = p[a];
        p[a] = p[b];
        p[b] = t;
    }
    return 1;
}

Test(native, transpose_every_perm)
{
    static const lp_shape shapes[] = {{2, {5, 3}}, {3, {2, 3, 5}}, {4, {2, 3, 4, 5}},
                                      {4, {1, 7, 1, 3}}};
    lp_test_engine e = lp_test_engine_open(ENGINE, "threads=1");
    for (size_t si = 0; si < sizeof shapes / sizeof shapes[0]; si++) {
        int r = shapes[si].rank, p[LP_MAX_RANK] = {0, 1, 2, 3};
        do {
            lp_graph g;
            lp_err err = {0};
            lp_graph_init(&g);
            int x = must(lp_graph_input(&g, shapes[si], &err), &err);
            int y = must(lp_graph_transpose(&g, x, p, &err), &err);
            lp_graph_mark_output(&g, y, &err);
            fill(&g, 8);
            char what[64];
            snprintf(what, sizeof what, "transpose rank %d perm %d%d%d%d", r, p[0], p[1],
                     r > 2 ? p[2] : 9, r > 3 ? p[3] : 9);
            check_graph_on(&e, &g, what);
            lp_graph_free(&g);
        } while (perm_next(p, r));
    }
    lp_test_engine_close(&e);
}

Test(native, slice_reshape)
{
    lp_test_engine e = lp_test_engine_open(ENGINE, "threads=1");
    lp_shape xs = {4, {2, 5, 6, 7}};
    for (int axis = 0; axis < 4; axis++) {
        lp_graph g;
        lp_err err = {0};
        lp_graph_init(&g);
        int x = must(lp_graph_input(&g, xs, &err), &err);
        int64_t start = axis == 0 ? 1 : 2, len = axis == 0 ? 1 : 3;
        int y = must(lp_graph_slice(&g, x, axis, start, len, &err), &err);
        lp_graph_mark_output(&g, y, &err);
        fill(&g, 6);
        char what[48];
        snprintf(what, sizeof what, "slice axis %d", axis);
        check_graph_on(&e, &g, what);
        lp_graph_free(&g);
    }
    /* A reshape both as a graph output and feeding another node (its buffer is an alias). */
    lp_graph g;
    lp_err err = {0};
    lp_graph_init(&g);
    int x = must(lp_graph_input(&g, nhwc(1, 4, 6, 8), &err), &err);
    int r1 = must(lp_graph_reshape(&g, x, lp_shape_make(3, 4, 6, 8, 0), &err), &err);
    int r2 = must(lp_graph_reshape(&g, r1, lp_shape_make(2, 24, 8, 0, 0), &err), &err);
    int y = must(lp_graph_act(&g, r2, LP_ACT_RELU, &err), &err);
    lp_graph_mark_output(&g, r1, &err);
    lp_graph_mark_output(&g, y, &err);
    fill(&g, 6);
    check_graph_on(&e, &g, "reshape chain");
    lp_graph_free(&g);
    lp_test_engine_close(&e);
}

/* ---- whole blocks ------------------------------------------------------------------------- */

/* An MBConv block with squeeze-excite: every CNN primitive in one prepared graph. */
static void build_mbconv(lp_graph *g, int h, int c, int e)
{
    lp_err err = {0};
    lp_graph_init(g);
    int x = must(lp_graph_input(g, nhwc(1, h, h, c), &err), &err);
    int t = must(lp_graph_conv2d(g, x, c * e, 1, 1, 1, 1, LP_ACT_HSWISH, &err), &err);
    t = must(lp_graph_conv2d(g, t, c * e, 5, 1, c * e, 1, LP_ACT_HSWISH, &err), &err);
    int s = must(lp_graph_pool(g, t, LP_POOL_GLOBAL_AVG, 0, 0, &err), &err);
    s = must(lp_graph_dense(g, s, c, 1, LP_ACT_RELU, &err), &err);
    s = must(lp_graph_dense(g, s, c * e, 1, LP_ACT_HSIGMOID, &err), &err);
    t = must(lp_graph_mul(g, t, s, &err), &err);
    t = must(lp_graph_conv2d(g, t, c, 1, 1, 1, 1, LP_ACT_NONE, &err), &err);
    t = must(lp_graph_add(g, t, x, LP_ACT_NONE, &err), &err);
    t = must(lp_graph_pool(g, t, LP_POOL_MAX, 3, 2, &err), &err);
    lp_graph_mark_output(g, t, &err);
    fill(g, 21);
}

/* Multi-head self-attention on [1, T, D] with H heads, split by reshape/transpose/slice. */
static void build_mhsa(lp_graph *g, int tk, int d, int heads)
{
    lp_err err = {0};
    int hd = d / heads;
    lp_graph_init(g);
    int x = must(lp_graph_input(g, lp_shape_make(3, 1, tk, d, 0), &err), &err);
    int ln = must(lp_graph_layernorm(g, x, 1e-6f, &err), &err);
    int qkv = must(lp_graph_dense(g, ln, 3 * d, 1, LP_ACT_NONE, &err), &err);
    qkv = must(lp_graph_reshape(g, qkv, lp_shape_make(4, tk, 3, heads, hd), &err), &err);
    static const int perm[4] = {1, 2, 0, 3}; /* [3, H, T, hd] */
    qkv = must(lp_graph_transpose(g, qkv, perm, &err), &err);
    qkv = must(lp_graph_reshape(g, qkv, lp_shape_make(3, 3 * heads, tk, hd, 0), &err), &err);
    int q = must(lp_graph_slice(g, qkv, 0, 0, heads, &err), &err);
    int k = must(lp_graph_slice(g, qkv, 0, heads, heads, &err), &err);
    int v = must(lp_graph_slice(g, qkv, 0, 2 * heads, heads, &err), &err);
    int s = must(lp_graph_matmul(g, q, k, 1, 1.0f / sqrtf((float)hd), &err), &err);
    s = must(lp_graph_softmax(g, s, &err), &err);
    int o = must(lp_graph_matmul(g, s, v, 0, 1.0f, &err), &err);
    static const int back[3] = {1, 0, 2}; /* [T, H, hd] */
    o = must(lp_graph_transpose(g, o, back, &err), &err);
    o = must(lp_graph_reshape(g, o, lp_shape_make(3, 1, tk, d, 0), &err), &err);
    o = must(lp_graph_dense(g, o, d, 1, LP_ACT_NONE, &err), &err);
    int y = must(lp_graph_add(g, o, x, LP_ACT_NONE, &err), &err);
    int z = must(lp_graph_concat(g, y, x, 2, &err), &err);
    lp_graph_mark_output(g, y, &err);
    lp_graph_mark_output(g, z, &err);
    fill(g, 31);
}

Test(native, blocks)
{
    lp_graph g;
    build_mbconv(&g, 9, 8, 3);
    check_graph(&g, "mbconv 9x9x8 e3");
    lp_graph_free(&g);
    build_mhsa(&g, 11, 24, 3);
    check_graph(&g, "mhsa T11 D24 H3");
    lp_graph_free(&g);
}

/* ---- threads and BLIS ------------------------------------------------------------------ */

/* Shapes large enough that every threaded loop really splits. */
static void build_big(lp_graph *g)
{
    lp_err err = {0};
    lp_graph_init(g);
    int x = must(lp_graph_input(g, nhwc(1, 32, 32, 32), &err), &err);
    int t = must(lp_graph_conv2d(g, x, 48, 3, 1, 1, 1, LP_ACT_RELU6, &err), &err);
    t = must(lp_graph_conv2d(g, t, 48, 3, 2, 48, 1, LP_ACT_SWISH, &err), &err);
    t = must(lp_graph_conv2d(g, t, 64, 3, 1, 4, 1, LP_ACT_GELU, &err), &err);
    int p = must(lp_graph_pool(g, t, LP_POOL_AVG, 3, 1, &err), &err);
    t = must(lp_graph_add(g, t, p, LP_ACT_HSWISH, &err), &err);
    int s = must(lp_graph_pool(g, t, LP_POOL_GLOBAL_AVG, 0, 0, &err), &err);
    t = must(lp_graph_mul(g, t, s, &err), &err);
    t = must(lp_graph_act(g, t, LP_ACT_SIGMOID, &err), &err);
    static const int perm[4] = {0, 3, 1, 2};
    t = must(lp_graph_transpose(g, t, perm, &err), &err);
    t = must(lp_graph_reshape(g, t, lp_shape_make(3, 1, 64, 256, 0), &err), &err);
    t = must(lp_graph_layernorm(g, t, 1e-5f, &err), &err);
    t = must(lp_graph_softmax(g, t, &err), &err);
    t = must(lp_graph_dense(g, t, 40, 1, LP_ACT_NONE, &err), &err);
    lp_graph_mark_output(g, t, &err);
    fill(g, 77);
}

static void compare_engines(const char *kv_a, const char *kv_b, double tol)
{
    lp_graph g;
    build_big(&g);
    lp_test_engine a = lp_test_engine_open(ENGINE, kv_a), b = lp_test_engine_open(ENGINE, kv_b);
    check_graph_on(&a, &g, kv_a);
    check_graph_on(&b, &g, kv_b);
    int64_t na, nb, worst;
    float *oa = lp_test_engine_eval(&a, &g, 0, 1, &na);
    float *ob = lp_test_engine_eval(&b, &g, 0, 1, &nb);
    cr_assert_eq(na, nb);
    double d = rel_err(ob, oa, na, &worst);
    cr_expect_leq(d, tol, "%s vs %s: element %lld: %g vs %g", kv_a, kv_b, (long long)worst,
                  oa[worst], ob[worst]);
    free(oa);
    free(ob);
    lp_test_engine_close(&a);
    lp_test_engine_close(&b);
    lp_graph_free(&g);
}

Test(native, threads_match_single_thread)
{
    compare_engines("threads=1", "threads=2", 1e-6);
    compare_engines("threads=1", "threads=3", 1e-6);
    lp_test_engine e = lp_test_engine_open(ENGINE, "threads=2");
    cr_expect_eq(e.ops->threads(e.inst->priv), 2);
    lp_test_engine_close(&e);
}

static int have_blis(void)
{
    /* NODELETE as the engine does: unloading BLIS leaks what its constructor allocated. */
    void *h = dlopen("libblis.so.4", RTLD_NOW | RTLD_LOCAL | RTLD_NODELETE);
    if (h)
        dlclose(h);
    return h != NULL;
}

Test(native, blis_matches_openblas)
{
    if (!have_blis()) {
        /* No silent fallback: creating the instance must fail and name the package. */
        lp_test_engine e;
        lp_err err = {0};
        cr_assert_neq(lp_test_engine_try(ENGINE, "blas=blis", &e, &err), 0,
                      "blas=blis created without BLIS");
        cr_expect(strstr(err.msg, "libblis") != NULL, "message does not name libblis: %s", err.msg);
        lp_registry_close(e.reg);
        cr_skip_test("libblis.so.4 absent (apt-get install libblis-dev): checked the error only");
    }
    compare_engines("blas=openblas", "blas=blis", 1e-4);
    compare_engines("blas=blis,threads=1", "blas=blis,threads=2", 1e-4);
    lp_test_engine e = lp_test_engine_open(ENGINE, "blas=blis");
    const char *v = e.ops->version(e.inst->priv);
    cr_expect(strncmp(v, "native (BLIS ", 13) == 0, "version %s", v);
    lp_test_engine_close(&e);
}

/* ---- contract: supports, errors, version ----------------------------------------------- */

Test(native, version_and_options)
{
    lp_test_engine e = lp_test_engine_open(ENGINE, NULL);
    const char *v = e.ops->version(e.inst->priv);
    cr_expect(strncmp(v, "native (OpenBLAS ", 17) == 0, "version %s", v);
    cr_expect(strstr(v, "core ") != NULL, "version %s lacks OpenBLAS's kernel core", v);
    cr_expect_eq(e.ops->threads(e.inst->priv), 1, "threads default");
    lp_test_engine_close(&e);
    lp_err err = {0};
    cr_expect_neq(lp_test_engine_try(ENGINE, "threads=0", &e, &err), 0, "threads=0 accepted");
    lp_registry_close(e.reg);
    cr_expect_neq(lp_test_engine_try(ENGINE, "blas=mkl", &e, &err), 0, "blas=mkl accepted");
    lp_registry_close(e.reg);
}

Test(native, supports_every_builder_primitive)
{
    lp_graph g;
    build_mhsa(&g, 5, 12, 2);
    lp_test_engine e = lp_test_engine_open(ENGINE, NULL);
    lp_err err = {0};
    for (size_t i = 0; i < g.n_nodes; i++)
        cr_expect_eq(e.ops->supports(e.inst->priv, &g, &g.nodes[i], &err), 0, "node %zu: %s", i,
                     err.msg);
    lp_graph_free(&g);
    build_mbconv(&g, 5, 4, 2);
    for (size_t i = 0; i < g.n_nodes; i++)
        cr_expect_eq(e.ops->supports(e.inst->priv, &g, &g.nodes[i], &err), 0, "node %zu: %s", i,
                     err.msg);
    lp_graph_free(&g);
    lp_test_engine_close(&e);
}

Test(native, unsupported_is_reported)
{
    lp_test_engine e = lp_test_engine_open(ENGINE, NULL);
    lp_graph g;
    lp_err err = {0};
    lp_graph_init(&g);
    int x = must(lp_graph_input(&g, nhwc(1, 4, 4, 3), &err), &err);
    int y = must(lp_graph_act(&g, x, LP_ACT_RELU, &err), &err);
    lp_graph_mark_output(&g, y, &err);
    fill(&g, 1);

    /* A primitive value the engine does not know. */
    g.nodes[0].prim = (lp_prim)99;
    cr_expect_eq(e.ops->supports(e.inst->priv, &g, &g.nodes[0], &err), LP_EUNSUPPORTED);
    cr_expect(strstr(err.msg, "primitive #99") != NULL, "message: %s", err.msg);
    void *run = NULL;
    cr_expect_eq(e.ops->prepare(e.inst->priv, &g, &run, &err), LP_EUNSUPPORTED);
    cr_expect_null(run);
    cr_expect(strstr(err.msg, "node 0") && strstr(err.msg, "#99"), "message: %s", err.msg);

    /* A known primitive in a configuration the engine lacks: mul broadcasting over H. */
    lp_graph_free(&g);
    lp_graph_init(&g);
    x = must(lp_graph_input(&g, nhwc(1, 4, 4, 3), &err), &err);
    int b = must(lp_graph_input(&g, nhwc(1, 4, 4, 3), &err), &err);
    y = must(lp_graph_mul(&g, x, b, &err), &err);
    lp_graph_mark_output(&g, y, &err);
    fill(&g, 1);
    g.tensors[b].shape = nhwc(1, 4, 1, 1);
    cr_expect_eq(e.ops->supports(e.inst->priv, &g, &g.nodes[0], &err), LP_EUNSUPPORTED);
    cr_expect(strstr(err.msg, "mul") != NULL, "message: %s", err.msg);
    lp_graph_free(&g);
    lp_test_engine_close(&e);
}

Test(native, errors)
{
    lp_test_engine e = lp_test_engine_open(ENGINE, NULL);
    lp_graph g;
    lp_err err = {0};
    lp_graph_init(&g);
    int x = must(lp_graph_input(&g, nhwc(1, 4, 4, 3), &err), &err);
    int y = must(lp_graph_conv2d(&g, x, 4, 3, 1, 1, 1, LP_ACT_RELU, &err), &err);
    lp_graph_mark_output(&g, y, &err);

    void *run = NULL;
    cr_expect_eq(e.ops->prepare(e.inst->priv, &g, &run, &err), LP_EINVAL, "unfilled graph");
    cr_expect(strstr(err.msg, "lp_graph_fill") != NULL, "message: %s", err.msg);

    fill(&g, 1);
    /* A malformed node: its output shape disagrees with its inputs. */
    g.tensors[y].shape = nhwc(1, 4, 4, 5);
    cr_expect_eq(e.ops->prepare(e.inst->priv, &g, &run, &err), LP_EINVAL);
    cr_expect(strstr(err.msg, "conv2d") != NULL, "message: %s", err.msg);
    g.tensors[y].shape = nhwc(1, 4, 4, 4);

    cr_assert_eq(e.ops->prepare(e.inst->priv, &g, &run, &err), 0, "%s", err.msg);
    cr_assert_eq(e.ops->run(run, &err), 0, "%s", err.msg);
    float out[64];
    cr_expect_eq(e.ops->output(run, 0, out, 63, &err), LP_EINVAL, "wrong element count");
    cr_expect_eq(e.ops->output(run, 1, out, 64, &err), LP_EINVAL, "no output 1");
    cr_expect_eq(e.ops->output(run, 0, out, 64, &err), 0, "%s", err.msg);
    e.ops->release(run);
    e.ops->release(NULL);
    lp_graph_free(&g);
    lp_test_engine_close(&e);
}
