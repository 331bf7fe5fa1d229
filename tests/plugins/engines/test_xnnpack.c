/* The XNNPACK engine's own contract, beside what the shared conformance test
 * checks (every primitive against native): its options, its refusals word
 * for word, qs8 staying close to fp32 on a small net, and run() doing real
 * work without allocating (operators are created at prepare, not per run). */
#include "lp_test.h"

#include <criterion/criterion.h>
#include <malloc.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#define ENGINE "xnnpack"
/* Runs of each prepared graph: a second run must not change anything. */
#define RUNS 2

static void must(int rc, const lp_err *err)
{
    cr_assert_geq(rc, 0, "graph: %s", err->msg);
}

/* A small MobileNet-like net: conv, depthwise, projection, residual add,
 * squeeze-excite (hsigmoid), global pool and classifier: all of the qs8 path. */
static void net_build(lp_graph *g)
{
    lp_err err = {0};
    lp_graph_init(g);
    int x = lp_graph_input(g, lp_shape_nhwc(20, 20, 16), &err);
    must(x, &err);
    int c = lp_graph_conv2d(g, x, 32, 3, 2, 1, 1, LP_ACT_RELU, &err);
    must(c, &err);
    int d = lp_graph_conv2d(g, c, 32, 5, 1, 32, 1, LP_ACT_RELU6, &err);
    must(d, &err);
    int s = lp_graph_pool(g, d, LP_POOL_GLOBAL_AVG, 0, 0, &err);
    must(s, &err);
    s = lp_graph_reshape(g, s, lp_shape_make(2, 1, 32, 0, 0), &err);
    must(s, &err);
    s = lp_graph_dense(g, s, 32, 1, LP_ACT_HSIGMOID, &err);
    must(s, &err);
    s = lp_graph_reshape(g, s, lp_shape_nhwc(1, 1, 32), &err);
    must(s, &err);
    int m = lp_graph_mul(g, d, s, &err);
    must(m, &err);
    int p = lp_graph_conv2d(g, m, 32, 1, 1, 1, 1, LP_ACT_NONE, &err);
    must(p, &err);
    int a = lp_graph_add(g, p, c, LP_ACT_NONE, &err);
    must(a, &err);
    int gp = lp_graph_pool(g, a, LP_POOL_GLOBAL_AVG, 0, 0, &err);
    must(gp, &err);
    int r = lp_graph_reshape(g, gp, lp_shape_make(2, 1, 32, 0, 0), &err);
    must(r, &err);
    int y = lp_graph_dense(g, r, 10, 1, LP_ACT_NONE, &err);
    must(y, &err);
    must(lp_graph_mark_output(g, y, &err), &err);
    must(lp_graph_fill(g, 7, &err), &err);
}

Test(xnnpack, options_defaults_and_bad_values)
{
    lp_test_engine e = lp_test_engine_open(ENGINE, NULL);
    char *opts = lp_instance_options_str(e.inst);
    cr_assert_str_eq(opts, "threads=1,precision=fp32");
    free(opts);
    cr_assert_eq(e.ops->threads(e.inst->priv), 1);
    cr_assert_not_null(strstr(e.ops->version(e.inst->priv), "XNNPACK"));
    const lp_plugin *p = lp_registry_find(e.reg, LP_KIND_ENGINE, "xnnpack");
    lp_instance *bad = NULL;
    lp_err err = {0};
    cr_assert_eq(lp_instance_create_kv(p, "precision=int4", &bad, &err), LP_EINVAL);
    cr_assert_not_null(strstr(err.msg, "qs8"), "the valid choices are listed: %s", err.msg);
    cr_assert_eq(lp_instance_create_kv(p, "threads=0", &bad, &err), LP_EINVAL);
    lp_test_engine_close(&e);
    lp_test_engine two = lp_test_engine_open(ENGINE, "threads=2,precision=qs8");
    cr_assert_eq(two.ops->threads(two.inst->priv), 2);
    lp_test_engine_close(&two);
}

/* supports() and prepare() refuse with the primitive's name and the reason. */
static void refuses(lp_test_engine *e, lp_graph *g, const char *msg)
{
    lp_err err = {0};
    const lp_node *last = &g->nodes[g->n_nodes - 1];
    cr_assert_eq(e->ops->supports(e->inst->priv, g, last, &err), LP_EUNSUPPORTED);
    cr_assert_str_eq(err.msg, msg);
    void *run = NULL;
    cr_assert_eq(e->ops->prepare(e->inst->priv, g, &run, &err), LP_EUNSUPPORTED);
    cr_assert_null(run);
    char want[1100];
    snprintf(want, sizeof want, "node %zu: %s", g->n_nodes - 1, msg);
    cr_assert_str_eq(err.msg, want);
}

Test(xnnpack, refusals_name_the_primitive)
{
    lp_test_engine e = lp_test_engine_open(ENGINE, "precision=fp32");
    lp_graph g;
    lp_err err = {0};
    lp_graph_init(&g);
    int t = lp_graph_input(&g, lp_shape_make(3, 2, 6, 16, 0), &err);
    must(lp_graph_layernorm(&g, t, 1e-5f, &err), &err);
    must(lp_graph_fill(&g, 1, &err), &err);
    refuses(&e, &g, "xnnpack: layernorm is not supported by XNNPACK 2022-02 (no layer "
                    "normalisation operator)");
    lp_graph_free(&g);
    lp_graph_init(&g);
    t = lp_graph_input(&g, lp_shape_make(3, 2, 6, 16, 0), &err);
    must(lp_graph_matmul(&g, t, t, 1, 0.25f, &err), &err);
    must(lp_graph_fill(&g, 1, &err), &err);
    refuses(&e, &g, "xnnpack: matmul with a computed right operand (attention) is not supported "
                    "by XNNPACK 2022-02: no batched matmul, and fully connected packs its weights "
                    "when created");
    lp_graph_free(&g);
    lp_graph_init(&g);
    t = lp_graph_input(&g, lp_shape_nhwc(6, 6, 8), &err);
    must(lp_graph_conv2d(&g, t, 8, 3, 1, 1, 1, LP_ACT_GELU, &err), &err);
    must(lp_graph_fill(&g, 1, &err), &err);
    refuses(&e, &g, "xnnpack: conv2d with fused gelu is not supported by XNNPACK 2022-02 (no "
                    "gelu or erf operator)");
    lp_test_engine_close(&e);
    e = lp_test_engine_open(ENGINE, "precision=qs8");
    lp_graph_free(&g);
    lp_graph_init(&g);
    t = lp_graph_input(&g, lp_shape_make(2, 4, 10, 0, 0), &err);
    must(lp_graph_softmax(&g, t, &err), &err);
    must(lp_graph_fill(&g, 1, &err), &err);
    refuses(&e, &g, "xnnpack: softmax needs softmax_nc, which has no qs8 variant in XNNPACK "
                    "2022-02 (precision=qs8)");
    lp_graph_free(&g);
    lp_test_engine_close(&e);
}

Test(xnnpack, unfilled_graph_is_invalid_not_unsupported)
{
    lp_test_engine e = lp_test_engine_open(ENGINE, NULL);
    lp_graph g;
    lp_err err = {0};
    lp_graph_init(&g);
    int x = lp_graph_input(&g, lp_shape_nhwc(6, 6, 8), &err);
    int y = lp_graph_conv2d(&g, x, 8, 3, 1, 1, 1, LP_ACT_NONE, &err);
    must(lp_graph_mark_output(&g, y, &err), &err);
    void *run = NULL;
    cr_assert_eq(e.ops->prepare(e.inst->priv, &g, &run, &err), LP_EINVAL);
    cr_assert_not_null(strstr(err.msg, "lp_graph_fill"), "%s", err.msg);
    lp_graph_free(&g);
    lp_test_engine_close(&e);
}

/* qs8 against fp32 on the same engine: every int8 op in one net, 3% of the
 * output range (see test_conformance.c for why that bound). */
Test(xnnpack, qs8_net_stays_close_to_fp32)
{
    lp_graph g;
    net_build(&g);
    lp_test_engine f = lp_test_engine_open(ENGINE, "precision=fp32");
    lp_test_engine q = lp_test_engine_open(ENGINE, "precision=qs8");
    int64_t n, n8;
    float *ref = lp_test_engine_eval(&f, &g, 0, RUNS, &n);
    float *got = lp_test_engine_eval(&q, &g, 0, RUNS, &n8);
    cr_assert_eq(n, n8);
    double lo = ref[0], hi = ref[0], worst = 0;
    for (int64_t i = 0; i < n; i++) {
        lo = fmin(lo, ref[i]);
        hi = fmax(hi, ref[i]);
        worst = fmax(worst, fabs((double)got[i] - ref[i]));
    }
    cr_assert(hi > lo);
    cr_assert_leq(worst, 0.03 * (hi - lo), "qs8 error %g over range %g", worst, hi - lo);
    free(ref);
    free(got);
    lp_test_engine_close(&f);
    lp_test_engine_close(&q);
    lp_graph_free(&g);
}

/* Operators are built at prepare: a run allocates nothing and still computes
 * (a 3x3 conv 56x56 32->64 is ~1 ms of real work, engines.md). */
Test(xnnpack, run_computes_without_allocating)
{
    lp_test_engine e = lp_test_engine_open(ENGINE, "precision=fp32");
    lp_graph g;
    lp_err err = {0};
    lp_graph_init(&g);
    int x = lp_graph_input(&g, lp_shape_nhwc(56, 56, 32), &err);
    int y = lp_graph_conv2d(&g, x, 64, 3, 1, 1, 1, LP_ACT_RELU, &err);
    must(lp_graph_mark_output(&g, y, &err), &err);
    must(lp_graph_fill(&g, 3, &err), &err);
    void *run = NULL;
    cr_assert_eq(e.ops->prepare(e.inst->priv, &g, &run, &err), 0, "%s", err.msg);
    cr_assert_eq(e.ops->run(run, &err), 0, "%s", err.msg);
    struct mallinfo2 before = mallinfo2();
    uint64_t t0 = lp_now_ns();
    for (int i = 0; i < 5; i++)
        cr_assert_eq(e.ops->run(run, &err), 0, "%s", err.msg);
    double us = (double)(lp_now_ns() - t0) / 5e3;
    struct mallinfo2 after = mallinfo2();
    cr_assert_eq(after.uordblks, before.uordblks, "run() allocated %zu bytes",
                 after.uordblks - before.uordblks);
    cr_assert_gt(us, 20.0, "a 0.23 GMAC conv took %.1f us: nothing was computed", us);
    e.ops->release(run);
    lp_graph_free(&g);
    lp_test_engine_close(&e);
}
