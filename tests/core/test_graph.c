/* Primitive graphs: shape helpers, names, every builder's shape rules and error
 * messages, atomic failure, deterministic fill, MAC accounting. */
#include <criterion/criterion.h>
#include <math.h>
#include <string.h>

#include "lp_test.h"

#define NHWC(h, w, c) lp_shape_nhwc(h, w, c)
#define S2(a, b) lp_shape_make(2, a, b, 0, 0)
#define S3(a, b, c) lp_shape_make(3, a, b, c, 0)

static lp_shape shape_of(const lp_graph *g, int t)
{
    cr_assert(t >= 0 && (size_t)t < g->n_tensors, "tensor %d out of range", t);
    return g->tensors[t].shape;
}

static void assert_shape(const lp_graph *g, int t, lp_shape want)
{
    char a[64], b[64];
    lp_shape s = shape_of(g, t);
    cr_assert(lp_shape_equal(&s, &want), "shape %s, want %s", lp_shape_str(&s, a, sizeof a),
              lp_shape_str(&want, b, sizeof b));
}

/* Asserts rc is LP_EINVAL with every needle in the message, and g did not change. */
static void assert_fails(lp_graph *g, int rc, const lp_err *err, size_t nt, size_t nn, const char *n1,
                         const char *n2)
{
    cr_assert_eq(rc, LP_EINVAL, "rc %d (%s)", rc, err->msg);
    cr_assert(strstr(err->msg, n1), "'%s' not in '%s'", n1, err->msg);
    cr_assert(!n2 || strstr(err->msg, n2), "'%s' not in '%s'", n2, err->msg);
    cr_assert_eq(g->n_tensors, nt, "a failed builder added tensors");
    cr_assert_eq(g->n_nodes, nn, "a failed builder added nodes");
}

Test(graph, shape_helpers)
{
    char b[64];
    lp_shape s = NHWC(56, 56, 32);
    cr_assert_eq(lp_shape_numel(&s), 56 * 56 * 32);
    cr_assert_str_eq(lp_shape_str(&s, b, sizeof b), "1x56x56x32");
    lp_shape t = S2(197, 192);
    cr_assert_str_eq(lp_shape_str(&t, b, sizeof b), "197x192");
    cr_assert_eq(t.d[2], 0);
    cr_assert(!lp_shape_equal(&s, &t));
    cr_assert(lp_shape_equal(&s, &(lp_shape){4, {1, 56, 56, 32}}));
    cr_assert_eq(lp_out_size(7, 2), 4);
    cr_assert_eq(lp_out_size(224, 16), 14);
    cr_assert_eq(lp_out_size(56, 1), 56);
    lp_shape tiny = NHWC(7, 7, 1);
    cr_assert_str_eq(lp_shape_str(&tiny, b, 4), "1x7"); /* truncates, stays terminated */
}

Test(graph, names)
{
    cr_assert_str_eq(lp_prim_name(LP_PRIM_CONV2D), "conv2d");
    cr_assert_str_eq(lp_prim_name(LP_PRIM_SLICE), "slice");
    cr_assert_str_eq(lp_prim_name((lp_prim)99), "unknown");
    for (int p = 1; p < LP_PRIM_COUNT_; p++)
        cr_assert(lp_prim_name((lp_prim)p) && strcmp(lp_prim_name((lp_prim)p), "unknown"), "prim %d", p);
    for (int a = 0; a < LP_ACT_COUNT_; a++)
        cr_assert_eq(lp_act_parse(lp_act_name((lp_act)a)), a, "act %d", a);
    cr_assert_str_eq(lp_act_name(LP_ACT_NONE), "none");
    cr_assert_str_eq(lp_act_name(LP_ACT_RELU6), "relu6");
    cr_assert_eq(lp_act_parse("hsigmoid"), LP_ACT_HSIGMOID);
    cr_assert_eq(lp_act_parse("mish"), -1);
    cr_assert_eq(lp_act_parse(NULL), -1);
}

Test(graph, conv2d_shapes_and_weights)
{
    lp_graph g;
    lp_err err = {0};
    lp_graph_init(&g);
    int x = lp_graph_input(&g, NHWC(7, 7, 96), &err);
    cr_assert_eq(x, 0);
    int y = lp_graph_conv2d(&g, x, 24, 3, 2, 1, 1, LP_ACT_RELU, &err);
    cr_assert_geq(y, 0, "%s", err.msg);
    assert_shape(&g, y, NHWC(4, 4, 24)); /* same padding, ceil(7 / 2) */
    const lp_node *n = &g.nodes[0];
    cr_assert_eq(n->prim, LP_PRIM_CONV2D);
    cr_assert_eq(n->n_in, 3);
    assert_shape(&g, n->in[1], lp_shape_make(4, 24, 3, 3, 96)); /* OHWI */
    assert_shape(&g, n->in[2], lp_shape_make(1, 24, 0, 0, 0));
    cr_assert_eq(g.tensors[n->in[1]].role, LP_TENSOR_WEIGHT);
    cr_assert_eq(g.tensors[y].producer, 0);
    cr_assert_eq(g.tensors[x].producer, -1);
    cr_assert_eq(n->p.conv.act, LP_ACT_RELU);
    cr_assert_eq(lp_graph_macs(&g), 4.0 * 4 * 24 * 9 * 96);

    /* depthwise: weights [C, k, k, 1]; no bias */
    int d = lp_graph_conv2d(&g, y, 24, 5, 1, 24, 0, LP_ACT_NONE, &err);
    cr_assert_geq(d, 0, "%s", err.msg);
    cr_assert_eq(g.nodes[1].n_in, 2);
    assert_shape(&g, g.nodes[1].in[1], lp_shape_make(4, 24, 5, 5, 1));
    lp_graph_free(&g);
    cr_assert_eq(g.n_tensors, 0);
}

Test(graph, conv2d_rejects_bad_inputs)
{
    lp_graph g;
    lp_err err = {0};
    lp_graph_init(&g);
    int x = lp_graph_input(&g, NHWC(56, 56, 30), &err);
    int t = lp_graph_input(&g, S2(197, 192), &err);
    size_t nt = g.n_tensors;
    assert_fails(&g, lp_graph_conv2d(&g, x, 64, 3, 1, 4, 1, LP_ACT_NONE, &err), &err, nt, 0, "groups=4",
                 "1x56x56x30");
    assert_fails(&g, lp_graph_conv2d(&g, t, 64, 3, 1, 1, 1, LP_ACT_NONE, &err), &err, nt, 0, "197x192",
                 "rank 4");
    assert_fails(&g, lp_graph_conv2d(&g, x, 0, 3, 1, 1, 1, LP_ACT_NONE, &err), &err, nt, 0, "cout=0", NULL);
    assert_fails(&g, lp_graph_conv2d(&g, x, 8, 3, 0, 1, 1, LP_ACT_NONE, &err), &err, nt, 0, "s=0", NULL);
    assert_fails(&g, lp_graph_conv2d(&g, 42, 8, 3, 1, 1, 1, LP_ACT_NONE, &err), &err, nt, 0, "tensor 42",
                 "does not exist");
    assert_fails(&g, lp_graph_conv2d(&g, x, 8, 3, 1, 1, 1, (lp_act)77, &err), &err, nt, 0, "activation 77",
                 NULL);
    lp_graph_free(&g);
}

Test(graph, dense_matmul)
{
    lp_graph g;
    lp_err err = {0};
    lp_graph_init(&g);
    int x = lp_graph_input(&g, S2(197, 192), &err);
    int y = lp_graph_dense(&g, x, 576, 1, LP_ACT_NONE, &err);
    assert_shape(&g, y, S2(197, 576));
    assert_shape(&g, g.nodes[0].in[1], S2(576, 192));
    int v = lp_graph_input(&g, NHWC(1, 1, 960), &err);
    int w = lp_graph_dense(&g, v, 1280, 0, LP_ACT_HSWISH, &err);
    assert_shape(&g, w, NHWC(1, 1, 1280));

    int a = lp_graph_input(&g, S3(3, 197, 64), &err);
    int b = lp_graph_input(&g, S3(3, 197, 64), &err);
    int s = lp_graph_matmul(&g, a, b, 1, 0.125f, &err);
    cr_assert_geq(s, 0, "%s", err.msg);
    assert_shape(&g, s, S3(3, 197, 197));
    int o = lp_graph_matmul(&g, s, b, 0, 1.0f, &err);
    assert_shape(&g, o, S3(3, 197, 64));
    double macs = 197.0 * 192 * 576 + 960.0 * 1280 + 2 * 3.0 * 197 * 197 * 64;
    cr_assert_eq(lp_graph_macs(&g), macs);

    size_t nt = g.n_tensors, nn = g.n_nodes;
    assert_fails(&g, lp_graph_matmul(&g, a, b, 0, 1.0f, &err), &err, nt, nn, "3x197x64", "do not match");
    assert_fails(&g, lp_graph_matmul(&g, x, b, 1, 1.0f, &err), &err, nt, nn, "rank-3", "197x192");
    int c = lp_graph_input(&g, S3(4, 197, 64), &err);
    nt = g.n_tensors;
    assert_fails(&g, lp_graph_matmul(&g, a, c, 1, 1.0f, &err), &err, nt, nn, "batch 3 vs 4", NULL);
    assert_fails(&g, lp_graph_matmul(&g, a, b, 1, NAN, &err), &err, nt, nn, "alpha", NULL);
    assert_fails(&g, lp_graph_dense(&g, x, 0, 1, LP_ACT_NONE, &err), &err, nt, nn, "0 outputs", NULL);
    lp_graph_free(&g);
}

Test(graph, pool_act_add_mul)
{
    lp_graph g;
    lp_err err = {0};
    lp_graph_init(&g);
    int x = lp_graph_input(&g, NHWC(112, 112, 64), &err);
    assert_shape(&g, lp_graph_pool(&g, x, LP_POOL_MAX, 3, 2, &err), NHWC(56, 56, 64));
    int gp = lp_graph_pool(&g, x, LP_POOL_GLOBAL_AVG, 7, 7, &err);
    assert_shape(&g, gp, NHWC(1, 1, 64));
    cr_assert_eq(g.nodes[1].p.pool.k, 0);
    int h = lp_graph_act(&g, x, LP_ACT_HSWISH, &err);
    assert_shape(&g, h, NHWC(112, 112, 64));
    assert_shape(&g, lp_graph_add(&g, x, h, LP_ACT_RELU, &err), NHWC(112, 112, 64));
    assert_shape(&g, lp_graph_mul(&g, x, gp, &err), NHWC(112, 112, 64)); /* SE broadcast */
    assert_shape(&g, lp_graph_mul(&g, x, h, &err), NHWC(112, 112, 64));

    int y = lp_graph_input(&g, NHWC(56, 56, 64), &err);
    int z = lp_graph_input(&g, NHWC(1, 1, 32), &err);
    size_t nt = g.n_tensors, nn = g.n_nodes;
    assert_fails(&g, lp_graph_add(&g, x, y, LP_ACT_NONE, &err), &err, nt, nn, "1x112x112x64", "1x56x56x64");
    assert_fails(&g, lp_graph_mul(&g, x, z, &err), &err, nt, nn, "1x1x1x32", "1x112x112x64");
    assert_fails(&g, lp_graph_act(&g, x, LP_ACT_NONE, &err), &err, nt, nn, "none", NULL);
    assert_fails(&g, lp_graph_pool(&g, x, LP_POOL_AVG, 0, 1, &err), &err, nt, nn, "k=0", NULL);
    assert_fails(&g, lp_graph_pool(&g, x, (lp_pool_kind)9, 3, 1, &err), &err, nt, nn, "kind 9", NULL);
    int t = lp_graph_input(&g, S2(4, 4), &err);
    nt = g.n_tensors;
    assert_fails(&g, lp_graph_pool(&g, t, LP_POOL_MAX, 3, 1, &err), &err, nt, nn, "4x4", "rank 4");
    lp_graph_free(&g);
}

Test(graph, token_ops)
{
    lp_graph g;
    lp_err err = {0};
    lp_graph_init(&g);
    int x = lp_graph_input(&g, S2(197, 576), &err);
    int ln = lp_graph_layernorm(&g, x, 1e-5f, &err);
    assert_shape(&g, ln, S2(197, 576));
    cr_assert_eq(g.nodes[0].n_in, 3);
    assert_shape(&g, g.nodes[0].in[1], lp_shape_make(1, 576, 0, 0, 0));
    assert_shape(&g, lp_graph_softmax(&g, x, &err), S2(197, 576));
    int r = lp_graph_reshape(&g, x, lp_shape_make(4, 197, 3, 3, 64), &err);
    assert_shape(&g, r, lp_shape_make(4, 197, 3, 3, 64));
    int tr = lp_graph_transpose(&g, r, (int[]){1, 2, 0, 3}, &err);
    assert_shape(&g, tr, lp_shape_make(4, 3, 3, 197, 64));
    cr_assert_eq(g.nodes[g.n_nodes - 1].p.transpose.perm[2], 0);
    int s = lp_graph_slice(&g, x, 1, 192, 192, &err);
    assert_shape(&g, s, S2(197, 192));
    int c = lp_graph_input(&g, S2(1, 576), &err);
    assert_shape(&g, lp_graph_concat(&g, c, x, 0, &err), S2(198, 576));

    size_t nt = g.n_tensors, nn = g.n_nodes;
    assert_fails(&g, lp_graph_reshape(&g, x, S2(197, 575), &err), &err, nt, nn, "197x576", "197x575");
    assert_fails(&g, lp_graph_transpose(&g, r, (int[]){0, 1, 1, 3}, &err), &err, nt, nn, "permutation", NULL);
    assert_fails(&g, lp_graph_transpose(&g, r, (int[]){0, 1, 2, 4}, &err), &err, nt, nn, "permutation", NULL);
    assert_fails(&g, lp_graph_slice(&g, x, 1, 500, 100, &err), &err, nt, nn, "[500, 600)", "extent 576");
    assert_fails(&g, lp_graph_slice(&g, x, 2, 0, 1, &err), &err, nt, nn, "axis 2", NULL);
    assert_fails(&g, lp_graph_concat(&g, c, s, 0, &err), &err, nt, nn, "1x576", "197x192");
    assert_fails(&g, lp_graph_concat(&g, c, x, 3, &err), &err, nt, nn, "axis 3", NULL);
    assert_fails(&g, lp_graph_layernorm(&g, x, 0.0f, &err), &err, nt, nn, "eps", NULL);
    lp_graph_free(&g);
}

Test(graph, tensors_and_outputs)
{
    lp_graph g;
    lp_err err = {0};
    lp_graph_init(&g);
    cr_assert_eq(lp_graph_input(&g, lp_shape_make(5, 1, 1, 1, 1), &err), LP_EINVAL);
    cr_assert(strstr(err.msg, "rank 5"), "%s", err.msg);
    cr_assert_eq(lp_graph_input(&g, NHWC(0, 3, 3), &err), LP_EINVAL);
    cr_assert(strstr(err.msg, "extent 1 is 0"), "%s", err.msg);
    cr_assert_eq(lp_graph_weight(&g, S2(INT64_C(1) << 20, INT64_C(1) << 20), &err), LP_EINVAL);
    cr_assert(strstr(err.msg, "elements"), "%s", err.msg);
    cr_assert_eq(g.n_tensors, 0);
    int x = lp_graph_input(&g, S2(2, 3), &err);
    int w = lp_graph_weight(&g, S2(2, 3), &err);
    cr_assert_eq(g.tensors[w].role, LP_TENSOR_WEIGHT);
    int y = lp_graph_add(&g, x, w, LP_ACT_NONE, &err);
    cr_assert_eq(lp_graph_mark_output(&g, y, &err), 0);
    cr_assert_eq(lp_graph_mark_output(&g, y, &err), 0);
    cr_assert_eq(g.n_outputs, 1);
    cr_assert_eq(lp_graph_mark_output(&g, 99, &err), LP_EINVAL);
    cr_assert_eq(lp_graph_numel(&g, LP_TENSOR_WEIGHT), 6);
    cr_assert_eq(lp_graph_numel(&g, LP_TENSOR_VALUE), 6);
    /* many appends: storage grows and ids stay dense */
    for (int i = 0; i < 1000; i++)
        y = lp_graph_act(&g, y, LP_ACT_RELU, &err);
    cr_assert_eq(y, 1002);
    cr_assert_eq(g.n_nodes, 1001);
    lp_graph_free(&g);
    lp_graph_free(&g);
}

/* A small conv net; identical builds must fill identically. */
static void build_net(lp_graph *g)
{
    lp_err err = {0};
    lp_graph_init(g);
    int x = lp_graph_input(g, NHWC(16, 16, 8), &err);
    x = lp_graph_conv2d(g, x, 32, 3, 2, 1, 1, LP_ACT_RELU6, &err);
    x = lp_graph_conv2d(g, x, 32, 3, 1, 32, 1, LP_ACT_RELU6, &err);
    x = lp_graph_layernorm(g, x, 1e-5f, &err);
    cr_assert_geq(x, 0, "%s", err.msg);
}

Test(graph, fill_is_deterministic)
{
    lp_graph a, b;
    lp_err err = {0};
    build_net(&a);
    build_net(&b);
    cr_assert_eq(lp_graph_fill(&a, 7, &err), 0);
    cr_assert_eq(lp_graph_fill(&b, 7, &err), 0);
    int differ = 0;
    for (size_t i = 0; i < a.n_tensors; i++) {
        lp_tensor *t = &a.tensors[i];
        if (t->role == LP_TENSOR_VALUE) {
            cr_assert_null(t->data, "value tensors stay empty");
            continue;
        }
        int64_t n = lp_shape_numel(&t->shape);
        cr_assert_not_null(t->data);
        cr_assert_eq(memcmp(t->data, b.tensors[i].data, (size_t)n * sizeof(float)), 0, "tensor %zu", i);
        double bound = t->role == LP_TENSOR_WEIGHT && t->shape.rank >= 2
                           ? 1.0 / sqrt((double)(n / t->shape.d[0]))
                           : 1.0;
        double sum = 0;
        for (int64_t j = 0; j < n; j++) {
            cr_assert(t->data[j] >= -bound && t->data[j] < bound, "tensor %zu[%lld] = %g", i, (long long)j,
                      (double)t->data[j]);
            sum += fabs(t->data[j]);
        }
        cr_assert_gt(sum / n, 0.2 * bound, "tensor %zu looks constant", i);
        /* independent streams: no two tensors start alike */
        if (i > 0 && a.tensors[i - 1].data)
            differ += a.tensors[i - 1].data[0] != t->data[0];
    }
    cr_assert_gt(differ, 0);
    cr_assert_eq(lp_graph_fill(&b, 8, &err), 0);
    cr_assert_neq(memcmp(a.tensors[0].data, b.tensors[0].data, 16 * sizeof(float)), 0, "seed ignored");
    cr_assert_eq(lp_graph_fill(&b, 7, &err), 0); /* refilling restores the seed's data */
    cr_assert_eq(memcmp(a.tensors[0].data, b.tensors[0].data, 16 * 16 * 8 * sizeof(float)), 0);
    lp_graph_free(&a);
    lp_graph_free(&b);
}
