/* Engine conformance (the ggml test-backend-ops pattern): every engine plugin
 * in the registry, at every precision its option table declares, runs every
 * primitive on small shapes and is compared with the `native` engine, the
 * numerical reference. An engine is covered by merely existing.
 *
 * For each (engine, precision, case):
 *  - supports() is asked about every node; a node it refuses must fail with
 *    exactly LP_EUNSUPPORTED and a message naming the primitive, and prepare()
 *    must then fail the same way (supports() and prepare() agree);
 *  - otherwise prepare() must succeed, and two runs must both match the
 *    reference within the precision's tolerance.
 * A matrix of the outcomes is logged so coverage is visible. */
#include <criterion/criterion.h>
#include <criterion/hooks.h>
#include <criterion/logging.h>
#include <criterion/options.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lp_test.h"

#define SEED 20240611u

/* fp32: the engine sums in another order (blocked GEMM, FMA) than native;
 * 1e-4 of the output magnitude is far above that rounding and far below any
 * real bug. */
#define TOL_FP32 1e-4
/* Reduced precision (int8): per-tensor int8 has 255 steps over each tensor's
 * range, so input, weight and output rounding are each <= 0.2% of a range, and
 * a K-term dot product grows the sum of independent rounding errors as sqrt(K);
 * chains such as conv -> sigmoid -> mul add a few more steps. Measured worst
 * cases are ~1% of the range; 3% (~8 output steps) holds that with margin for
 * other data, while a wrong scale, layout or a zero point off by more than a
 * few steps errs by far more. */
#define TOL_REDUCED 0.03

/* The coverage matrix is the point of this program: show info logs without
 * --verbose (but leave --quiet alone). */
ReportHook(PRE_ALL)(struct criterion_test_set *set)
{
    (void)set;
    if (criterion_options.logging_threshold == CRITERION_IMPORTANT)
        criterion_options.logging_threshold = CRITERION_INFO;
}

/* ---- cases ------------------------------------------------------------------- */

typedef struct lp_case lp_case;
struct lp_case {
    const char *name;
    lp_prim prim;           /* the primitive under test (the matrix's label) */
    lp_shape in;            /* first graph input */
    lp_shape in2;           /* second input, matmul b, or reshape target */
    int n, k, s, groups, bias, trans_b, const_b, axis;
    lp_act act;
    lp_pool_kind pool;
    float alpha;
    int perm[LP_MAX_RANK];
    int64_t start, len;
    float scale;            /* graph inputs are scaled by this after the fill (0: 1) */
    int (*custom)(lp_graph *g, int x, lp_err *err); /* multi-node cases */
};

/* Brace shapes, not lp_shape_make: the case table is a static initialiser. */
#define NHWC(h, w, c) {.rank = 4, .d = {1, h, w, c}}
#define S2(a, b) {.rank = 2, .d = {a, b}}
#define S3(a, b, c) {.rank = 3, .d = {a, b, c}}
#define S4(d0, d1, d2, d3) {.rank = 4, .d = {d0, d1, d2, d3}}
#define CONV(nm, h, w, c, cout, kk, ss, g, b, a)                                            \
    {.name = nm, .prim = LP_PRIM_CONV2D, .in = NHWC(h, w, c), .n = cout, .k = kk, .s = ss, \
     .groups = g, .bias = b, .act = a, .scale = 2}
#define ACT(nm, a) {.name = nm, .prim = LP_PRIM_ACT, .in = NHWC(5, 5, 12), .act = a, .scale = 8}

/* An inverted-residual block: expand 1x1, depthwise 3x3, project 1x1, residual add. */
static int lp_mbconv(lp_graph *g, int x, lp_err *err)
{
    int t = lp_graph_conv2d(g, x, 48, 1, 1, 1, 1, LP_ACT_RELU6, err);
    if (t >= 0)
        t = lp_graph_conv2d(g, t, 48, 3, 1, 48, 1, LP_ACT_RELU6, err);
    if (t >= 0)
        t = lp_graph_conv2d(g, t, 16, 1, 1, 1, 1, LP_ACT_NONE, err);
    return t < 0 ? t : lp_graph_add(g, x, t, LP_ACT_NONE, err);
}

/* Squeeze-excite: global average, two dense layers, channel-wise scale. */
static int lp_se(lp_graph *g, int x, lp_err *err)
{
    int64_t c = g->tensors[x].shape.d[3];
    int t = lp_graph_pool(g, x, LP_POOL_GLOBAL_AVG, 0, 0, err);
    if (t >= 0)
        t = lp_graph_reshape(g, t, lp_shape_make(2, 1, c, 0, 0), err);
    if (t >= 0)
        t = lp_graph_dense(g, t, (int)c / 4, 1, LP_ACT_RELU, err);
    if (t >= 0)
        t = lp_graph_dense(g, t, (int)c, 1, LP_ACT_HSIGMOID, err);
    if (t >= 0)
        t = lp_graph_reshape(g, t, lp_shape_nhwc(1, 1, c), err);
    return t < 0 ? t : lp_graph_mul(g, x, t, err);
}

/* Attention scores: q and k projections, q.k^T / sqrt(d), softmax. */
static int lp_attention(lp_graph *g, int x, lp_err *err)
{
    int q = lp_graph_dense(g, x, 16, 1, LP_ACT_NONE, err);
    int k = q < 0 ? q : lp_graph_dense(g, x, 16, 1, LP_ACT_NONE, err);
    int s = k < 0 ? k : lp_graph_matmul(g, q, k, 1, 0.25f, err);
    return s < 0 ? s : lp_graph_softmax(g, s, err);
}

static const lp_case lp_cases[] = {
    CONV("conv3x3_s1", 10, 10, 8, 16, 3, 1, 1, 1, LP_ACT_NONE),
    CONV("conv3x3_s2_odd", 11, 11, 8, 16, 3, 2, 1, 1, LP_ACT_NONE),
    CONV("conv3x3_s2_even", 12, 10, 8, 16, 3, 2, 1, 0, LP_ACT_NONE),
    CONV("conv1x1", 7, 7, 16, 24, 1, 1, 1, 0, LP_ACT_NONE),
    CONV("conv1x1_s2", 8, 8, 16, 24, 1, 2, 1, 1, LP_ACT_NONE),
    CONV("dwconv3x3", 9, 9, 16, 16, 3, 1, 16, 1, LP_ACT_NONE),
    CONV("dwconv5x5_s2", 12, 12, 16, 16, 5, 2, 16, 1, LP_ACT_NONE),
    CONV("grouped3x3_g4", 8, 8, 16, 32, 3, 1, 4, 1, LP_ACT_NONE),
    CONV("conv+relu", 8, 8, 8, 16, 3, 1, 1, 1, LP_ACT_RELU),
    CONV("conv+relu6", 8, 8, 8, 16, 3, 1, 1, 1, LP_ACT_RELU6),
    CONV("conv+hswish", 8, 8, 8, 16, 3, 1, 1, 1, LP_ACT_HSWISH),
    CONV("conv+hsigmoid", 8, 8, 8, 16, 3, 1, 1, 1, LP_ACT_HSIGMOID),
    CONV("conv+swish", 8, 8, 8, 16, 3, 1, 1, 1, LP_ACT_SWISH),
    CONV("conv+sigmoid", 8, 8, 8, 16, 3, 1, 1, 1, LP_ACT_SIGMOID),
    CONV("conv+gelu", 8, 8, 8, 16, 3, 1, 1, 1, LP_ACT_GELU),
    CONV("dwconv3x3+relu6", 8, 8, 24, 24, 3, 2, 24, 1, LP_ACT_RELU6),
    {.name = "dense_bias", .prim = LP_PRIM_DENSE, .in = S2(4, 32), .n = 24, .bias = 1},
    {.name = "dense_nobias", .prim = LP_PRIM_DENSE, .in = S2(4, 32), .n = 24},
    {.name = "dense_1row+relu", .prim = LP_PRIM_DENSE, .in = S2(1, 64), .n = 10, .bias = 1,
     .act = LP_ACT_RELU},
    {.name = "dense_rank3+hswish", .prim = LP_PRIM_DENSE, .in = S3(2, 5, 16), .n = 8, .bias = 1,
     .act = LP_ACT_HSWISH, .scale = 4},
    {.name = "matmul", .prim = LP_PRIM_MATMUL, .in = S3(2, 5, 8), .in2 = S3(2, 8, 6), .alpha = 1},
    {.name = "matmul_trans_b", .prim = LP_PRIM_MATMUL, .in = S3(2, 5, 8), .in2 = S3(2, 6, 8),
     .trans_b = 1, .alpha = 0.5f},
    {.name = "matmul_const_b", .prim = LP_PRIM_MATMUL, .in = S3(3, 4, 8), .in2 = S3(3, 8, 6),
     .const_b = 1, .alpha = 0.125f},
    {.name = "matmul_const_b_trans", .prim = LP_PRIM_MATMUL, .in = S3(2, 4, 8),
     .in2 = S3(2, 6, 8), .const_b = 1, .trans_b = 1, .alpha = 1},
    {.name = "maxpool3x3_s2", .prim = LP_PRIM_POOL, .in = NHWC(9, 9, 8), .pool = LP_POOL_MAX,
     .k = 3, .s = 2},
    {.name = "maxpool2x2_s2_edge", .prim = LP_PRIM_POOL, .in = NHWC(7, 7, 8), .pool = LP_POOL_MAX,
     .k = 2, .s = 2},
    {.name = "maxpool1x1_s1", .prim = LP_PRIM_POOL, .in = NHWC(5, 5, 8), .pool = LP_POOL_MAX,
     .k = 1, .s = 1},
    {.name = "maxpool1x1_s2", .prim = LP_PRIM_POOL, .in = NHWC(6, 6, 8), .pool = LP_POOL_MAX,
     .k = 1, .s = 2},
    {.name = "avgpool3x3_s1_pad", .prim = LP_PRIM_POOL, .in = NHWC(6, 6, 8), .pool = LP_POOL_AVG,
     .k = 3, .s = 1},
    {.name = "avgpool3x3_s2_edge", .prim = LP_PRIM_POOL, .in = NHWC(8, 8, 8), .pool = LP_POOL_AVG,
     .k = 3, .s = 2},
    {.name = "global_avgpool", .prim = LP_PRIM_POOL, .in = NHWC(7, 7, 16),
     .pool = LP_POOL_GLOBAL_AVG},
    ACT("relu", LP_ACT_RELU),
    ACT("relu6", LP_ACT_RELU6),
    ACT("hswish", LP_ACT_HSWISH),
    ACT("hsigmoid", LP_ACT_HSIGMOID),
    ACT("swish", LP_ACT_SWISH),
    ACT("sigmoid", LP_ACT_SIGMOID),
    ACT("gelu", LP_ACT_GELU),
    {.name = "add", .prim = LP_PRIM_ADD, .in = NHWC(6, 6, 8), .in2 = NHWC(6, 6, 8)},
    {.name = "add+relu", .prim = LP_PRIM_ADD, .in = NHWC(6, 6, 8), .in2 = NHWC(6, 6, 8),
     .act = LP_ACT_RELU},
    {.name = "mul", .prim = LP_PRIM_MUL, .in = NHWC(4, 4, 16), .in2 = NHWC(4, 4, 16)},
    {.name = "mul_broadcast", .prim = LP_PRIM_MUL, .in = NHWC(4, 5, 16), .in2 = NHWC(1, 1, 16)},
    {.name = "softmax", .prim = LP_PRIM_SOFTMAX, .in = S2(3, 10), .scale = 4},
    {.name = "softmax_rank3", .prim = LP_PRIM_SOFTMAX, .in = S3(2, 4, 17), .scale = 4},
    {.name = "layernorm", .prim = LP_PRIM_LAYERNORM, .in = S2(4, 32)},
    {.name = "concat_channels", .prim = LP_PRIM_CONCAT, .in = NHWC(4, 4, 8),
     .in2 = NHWC(4, 4, 4), .axis = 3},
    {.name = "concat_axis1", .prim = LP_PRIM_CONCAT, .in = S3(2, 3, 5), .in2 = S3(2, 4, 5),
     .axis = 1},
    {.name = "reshape", .prim = LP_PRIM_RESHAPE, .in = NHWC(4, 4, 8), .in2 = S3(1, 16, 8)},
    {.name = "transpose_0213", .prim = LP_PRIM_TRANSPOSE, .in = S4(2, 3, 4, 5),
     .perm = {0, 2, 1, 3}},
    {.name = "transpose_0312", .prim = LP_PRIM_TRANSPOSE, .in = S4(2, 3, 4, 5),
     .perm = {0, 3, 1, 2}},
    {.name = "transpose_3210", .prim = LP_PRIM_TRANSPOSE, .in = S4(2, 3, 4, 5),
     .perm = {3, 2, 1, 0}},
    {.name = "transpose_2d", .prim = LP_PRIM_TRANSPOSE, .in = S2(6, 10), .perm = {1, 0}},
    {.name = "slice_channels", .prim = LP_PRIM_SLICE, .in = NHWC(6, 6, 10), .axis = 3,
     .start = 2, .len = 5},
    {.name = "slice_rows", .prim = LP_PRIM_SLICE, .in = NHWC(6, 6, 10), .axis = 1, .start = 1,
     .len = 3},
    {.name = "mbconv_block", .prim = LP_PRIM_CONV2D, .in = NHWC(8, 8, 16), .custom = lp_mbconv},
    {.name = "se_block", .prim = LP_PRIM_MUL, .in = NHWC(6, 6, 24), .custom = lp_se},
    {.name = "attention_scores", .prim = LP_PRIM_MATMUL, .in = S3(1, 6, 16),
     .custom = lp_attention},
};
#define N_CASES (sizeof lp_cases / sizeof lp_cases[0])

static int lp_second(lp_graph *g, const lp_case *c, lp_err *err)
{
    return c->const_b ? lp_graph_weight(g, c->in2, err) : lp_graph_input(g, c->in2, err);
}

static int lp_case_node(lp_graph *g, const lp_case *c, int x, lp_err *err)
{
    int b;
    switch (c->prim) {
    case LP_PRIM_CONV2D:
        return lp_graph_conv2d(g, x, c->n, c->k, c->s, c->groups, c->bias, c->act, err);
    case LP_PRIM_DENSE:
        return lp_graph_dense(g, x, c->n, c->bias, c->act, err);
    case LP_PRIM_MATMUL:
        return (b = lp_second(g, c, err)) < 0 ? b
                                              : lp_graph_matmul(g, x, b, c->trans_b, c->alpha, err);
    case LP_PRIM_POOL:
        return lp_graph_pool(g, x, c->pool, c->k, c->s, err);
    case LP_PRIM_ACT:
        return lp_graph_act(g, x, c->act, err);
    case LP_PRIM_ADD:
        return (b = lp_second(g, c, err)) < 0 ? b : lp_graph_add(g, x, b, c->act, err);
    case LP_PRIM_MUL:
        return (b = lp_second(g, c, err)) < 0 ? b : lp_graph_mul(g, x, b, err);
    case LP_PRIM_SOFTMAX:
        return lp_graph_softmax(g, x, err);
    case LP_PRIM_LAYERNORM:
        return lp_graph_layernorm(g, x, 1e-5f, err);
    case LP_PRIM_CONCAT:
        return (b = lp_second(g, c, err)) < 0 ? b : lp_graph_concat(g, x, b, c->axis, err);
    case LP_PRIM_RESHAPE:
        return lp_graph_reshape(g, x, c->in2, err);
    case LP_PRIM_TRANSPOSE:
        return lp_graph_transpose(g, x, c->perm, err);
    case LP_PRIM_SLICE:
        return lp_graph_slice(g, x, c->axis, c->start, c->len, err);
    default:
        return lp_err_set(err, LP_EINVAL, "case %s: no builder for %s", c->name,
                          lp_prim_name(c->prim));
    }
}

/* Builds and fills the case's graph; inputs scaled so activations see their knees. */
static void lp_case_graph(const lp_case *c, lp_graph *g)
{
    lp_err err = {0};
    lp_graph_init(g);
    int x = lp_graph_input(g, c->in, &err);
    cr_assert_geq(x, 0, "case %s: %s", c->name, err.msg);
    int y = c->custom ? c->custom(g, x, &err) : lp_case_node(g, c, x, &err);
    cr_assert_geq(y, 0, "case %s: %s", c->name, err.msg);
    cr_assert_eq(lp_graph_mark_output(g, y, &err), 0, "case %s: %s", c->name, err.msg);
    cr_assert_eq(lp_graph_fill(g, SEED, &err), 0, "case %s: %s", c->name, err.msg);
    float scale = c->scale ? c->scale : 1.0f;
    for (size_t i = 0; i < g->n_tensors; i++) {
        lp_tensor *t = &g->tensors[i];
        for (int64_t j = 0; t->role == LP_TENSOR_INPUT && j < lp_shape_numel(&t->shape); j++)
            t->data[j] *= scale;
    }
}

/* ---- running ------------------------------------------------------------------ */

/* Prepares, runs `runs` times and copies output 0 into out (numel floats). */
static int lp_exec(const lp_instance *inst, const lp_graph *g, float *out, int runs, lp_err *err)
{
    const lp_engine_ops *ops = lp_instance_ops(inst);
    void *r = NULL;
    int rc = ops->prepare(inst->priv, g, &r, err);
    for (int i = 0; !rc && i < runs; i++)
        rc = ops->run(r, err);
    if (!rc)
        rc = ops->output(r, 0, out, (size_t)lp_shape_numel(&g->tensors[g->outputs[0]].shape), err);
    if (r)
        ops->release(r);
    return rc;
}

static lp_instance *lp_make(const lp_plugin *p, const char *kv)
{
    lp_instance *inst = NULL;
    lp_err err = {0};
    cr_assert_eq(lp_instance_create_kv(p, kv, &inst, &err), 0, "%s (%s): %s",
                 lp_plugin_descriptor(p)->name, kv, err.msg);
    return inst;
}

static const lp_option *lp_find_opt(const lp_plugin_desc *d, const char *name)
{
    for (const lp_option *o = d->options; o && o->name; o++)
        if (!strcmp(o->name, name))
            return o;
    return NULL;
}

/* One column of the matrix: an engine at one precision. */
typedef struct lp_col {
    const lp_plugin *plugin;
    char label[48];
    char kv[96];
    int reduced; /* precision below fp32: int8 tolerance */
} lp_col;

#define MAX_COLS 32

/* The engine's precision choices (or its one default) become columns. */
static size_t lp_columns(const lp_registry *reg, lp_col *cols)
{
    size_t n = 0;
    for (size_t i = 0; i < lp_registry_count(reg); i++) {
        const lp_plugin *p = lp_registry_at(reg, i);
        const lp_plugin_desc *d = lp_plugin_descriptor(p);
        if (d->kind != LP_KIND_ENGINE || !strcmp(d->name, "native"))
            continue;
        const char *thr = lp_find_opt(d, "threads") ? "threads=1" : "";
        const lp_option *prec = lp_find_opt(d, "precision");
        const char *const none[] = {"default", NULL};
        const char *const *choices = prec && prec->type == LP_OPT_CHOICE ? prec->choices : none;
        for (size_t c = 0; choices[c] && n < MAX_COLS; c++, n++) {
            lp_col *col = &cols[n];
            col->plugin = p;
            snprintf(col->label, sizeof col->label, "%s/%s", d->name, choices[c]);
            if (choices == none)
                snprintf(col->kv, sizeof col->kv, "%s", thr);
            else
                snprintf(col->kv, sizeof col->kv, "%s%sprecision=%s", thr, *thr ? "," : "",
                         choices[c]);
            col->reduced = choices != none && strncmp(choices[c], "fp32", 4) != 0;
        }
    }
    return n;
}

/* The first node the engine refuses, or -1; checks each refusal's error. */
static int lp_refused(const lp_col *col, const lp_instance *inst, const lp_graph *g,
                      const lp_case *c)
{
    const lp_engine_ops *ops = lp_instance_ops(inst);
    int first = -1;
    for (size_t i = 0; i < g->n_nodes; i++) {
        lp_err err = {0};
        int rc = ops->supports(inst->priv, g, &g->nodes[i], &err);
        if (rc == 0)
            continue;
        const char *prim = lp_prim_name(g->nodes[i].prim);
        cr_expect_eq(rc, LP_EUNSUPPORTED, "%s %s: supports(node %zu, %s) returned %s, not "
                     "LP_EUNSUPPORTED: %s", col->label, c->name, i, prim, lp_strerror(rc), err.msg);
        cr_expect(strstr(err.msg, prim) != NULL, "%s %s: supports() refusal does not name '%s': %s",
                  col->label, c->name, prim, err.msg);
        if (first < 0)
            first = (int)i;
    }
    return first;
}

static double lp_max_abs(const float *v, int64_t n, double *lo, double *hi)
{
    double m = 0;
    *lo = *hi = n ? v[0] : 0;
    for (int64_t i = 0; i < n; i++) {
        m = fmax(m, fabs(v[i]));
        *lo = fmin(*lo, v[i]);
        *hi = fmax(*hi, v[i]);
    }
    return m;
}

/* Runs one case on one column; writes the matrix cell. */
static void lp_check(const lp_col *col, const lp_instance *inst, const lp_case *c,
                     const lp_graph *g, const float *ref, char *cell, size_t size)
{
    int64_t n = lp_shape_numel(&g->tensors[g->outputs[0]].shape);
    int refused = lp_refused(col, inst, g, c);
    lp_err err = {0};
    float *out = calloc((size_t)n, sizeof *out);
    cr_assert_not_null(out);
    int rc = lp_exec(inst, g, out, 2, &err);
    if (refused >= 0) {
        const char *prim = lp_prim_name(g->nodes[refused].prim);
        cr_expect_eq(rc, LP_EUNSUPPORTED, "%s %s: supports() refused node %d (%s) but prepare "
                     "returned %s: %s", col->label, c->name, refused, prim, lp_strerror(rc), err.msg);
        cr_expect(strstr(err.msg, prim) != NULL, "%s %s: prepare's refusal does not name '%s': %s",
                  col->label, c->name, prim, err.msg);
        snprintf(cell, size, rc == LP_EUNSUPPORTED ? "unsup(%s)" : "FAIL(%s)", prim);
        free(out);
        return;
    }
    cr_expect_eq(rc, 0, "%s %s: every node is supported but prepare/run failed: %s", col->label,
                 c->name, err.msg);
    double lo, hi, amax = lp_max_abs(ref, n, &lo, &hi), worst = 0;
    double tol = col->reduced ? TOL_REDUCED * fmax(hi - lo, 1e-6) : TOL_FP32 * fmax(1.0, amax);
    for (int64_t i = 0; !rc && i < n; i++)
        worst = fmax(worst, isfinite(out[i]) ? fabs((double)out[i] - ref[i]) : INFINITY);
    cr_expect(!rc && worst <= tol, "%s %s: max abs error %.3g > tolerance %.3g", col->label,
              c->name, worst, tol);
    const char *verdict = rc ? "FAIL" : worst <= tol ? "ok" : "BAD";
    if (col->reduced) /* int8 error as a share of the output range, the tolerance's unit */
        snprintf(cell, size, "%s %.2f%%", verdict, 100.0 * worst / fmax(hi - lo, 1e-6));
    else
        snprintf(cell, size, "%s %.1e", verdict, worst);
    free(out);
}

/* The reference output of a case on native. */
static float *lp_reference(const lp_instance *native, const lp_graph *g, const lp_case *c)
{
    int64_t n = lp_shape_numel(&g->tensors[g->outputs[0]].shape);
    float *ref = calloc((size_t)n, sizeof *ref);
    cr_assert_not_null(ref);
    lp_err err = {0};
    cr_assert_eq(lp_exec(native, g, ref, 1, &err), 0, "native %s: %s", c->name, err.msg);
    return ref;
}

static void lp_log_matrix(const lp_col *cols, size_t n_cols, char (*cells)[MAX_COLS][40])
{
    char line[2048];
    int at = snprintf(line, sizeof line, "%-22s %-10s", "case", "primitive");
    for (size_t j = 0; j < n_cols; j++)
        at += snprintf(line + at, sizeof line - (size_t)at, " %-20s", cols[j].label);
    cr_log_info("%s", line);
    for (size_t i = 0; i < N_CASES; i++) {
        at = snprintf(line, sizeof line, "%-22s %-10s", lp_cases[i].name,
                      lp_prim_name(lp_cases[i].prim));
        for (size_t j = 0; j < n_cols && at < (int)sizeof line; j++)
            at += snprintf(line + at, sizeof line - (size_t)at, " %-20s", cells[i][j]);
        cr_log_info("%s", line);
    }
}

Test(conformance, every_engine_matches_native_on_every_primitive, .timeout = 300)
{
    lp_registry *reg = lp_test_registry();
    const lp_plugin *native_p = lp_registry_find(reg, LP_KIND_ENGINE, "native");
    cr_assert_not_null(native_p, "the native reference engine is not in the registry");
    lp_instance *native = lp_make(native_p, "threads=1");
    lp_col cols[MAX_COLS];
    size_t n_cols = lp_columns(reg, cols);
    lp_instance *inst[MAX_COLS];
    for (size_t j = 0; j < n_cols; j++) {
        inst[j] = lp_make(cols[j].plugin, cols[j].kv);
        const lp_engine_ops *ops = lp_instance_ops(inst[j]);
        const char *v = LP_OPS_HAS(ops, lp_engine_ops, version) ? ops->version(inst[j]->priv) : NULL;
        cr_expect(v && *v, "%s: version() must name the engine library", cols[j].label);
        if (strstr(cols[j].kv, "threads=1") && LP_OPS_HAS(ops, lp_engine_ops, threads))
            cr_expect_eq(ops->threads(inst[j]->priv), 1, "%s: threads() with threads=1",
                         cols[j].label);
    }
    char (*cells)[MAX_COLS][40] = calloc(N_CASES, sizeof *cells);
    cr_assert_not_null(cells);
    for (size_t i = 0; i < N_CASES; i++) {
        lp_graph g;
        lp_case_graph(&lp_cases[i], &g);
        float *ref = lp_reference(native, &g, &lp_cases[i]);
        for (size_t j = 0; j < n_cols; j++)
            lp_check(&cols[j], inst[j], &lp_cases[i], &g, ref, cells[i][j], sizeof cells[i][j]);
        free(ref);
        lp_graph_free(&g);
    }
    cr_log_info("engines checked against native: %zu column(s); cells: max abs error (fp32, "
                "tolerance %g * max(1, max|ref|)) or error in %% of the output range (reduced "
                "precision, tolerance %g%%); unsup(p): refused primitive p", n_cols, TOL_FP32,
                100 * TOL_REDUCED);
    lp_log_matrix(cols, n_cols, cells);
    free(cells);
    for (size_t j = 0; j < n_cols; j++)
        lp_instance_destroy(inst[j]);
    lp_instance_destroy(native);
    lp_registry_close(reg);
}

static const lp_case *lp_case_named(const char *name)
{
    for (size_t i = 0; i < N_CASES; i++)
        if (!strcmp(lp_cases[i].name, name))
            return &lp_cases[i];
    cr_assert_fail("no case named %s", name);
    return NULL;
}

/* Engines' own thread pools: a multi-node block at 2 threads must still match. */
Test(conformance, two_threads_match_native, .timeout = 120)
{
    lp_registry *reg = lp_test_registry();
    lp_instance *native = lp_make(lp_registry_find(reg, LP_KIND_ENGINE, "native"), "threads=1");
    const lp_case *blocks[] = {lp_case_named("mbconv_block"), lp_case_named("se_block")};
    for (size_t i = 0; i < lp_registry_count(reg); i++) {
        const lp_plugin *p = lp_registry_at(reg, i);
        const lp_plugin_desc *d = lp_plugin_descriptor(p);
        if (d->kind != LP_KIND_ENGINE || !strcmp(d->name, "native") || !lp_find_opt(d, "threads"))
            continue;
        lp_instance *e = lp_make(p, "threads=2");
        lp_col col = {.plugin = p};
        snprintf(col.label, sizeof col.label, "%s/2 threads", d->name);
        for (size_t b = 0; b < sizeof blocks / sizeof blocks[0]; b++) {
            lp_graph g;
            char cell[40];
            lp_case_graph(blocks[b], &g);
            float *ref = lp_reference(native, &g, blocks[b]);
            lp_check(&col, e, blocks[b], &g, ref, cell, sizeof cell);
            cr_log_info("%s %s: %s", col.label, blocks[b]->name, cell);
            free(ref);
            lp_graph_free(&g);
        }
        lp_instance_destroy(e);
    }
    lp_instance_destroy(native);
    lp_registry_close(reg);
}
