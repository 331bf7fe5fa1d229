/* The oneDNN engine's own contract, beside what the shared conformance test
 * checks (every primitive against native): thread counts agree, int8 stays
 * close to fp32, weights really go through oneDNN's blocked layouts and
 * optimised kernels (a plain weight tag silently picks a reference kernel
 * ~600x slower), and what the engine cannot do is refused by name. */
#include "lp_test.h"

#include <criterion/criterion.h>
#include <fcntl.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define ENGINE "onednn"
/* Runs of each prepared graph: a second run must not change anything. */
#define RUNS 2

static void must(int rc, const lp_err *err)
{
    cr_assert_geq(rc, 0, "graph: %s", err->msg);
}

/* A small net touching conv, depthwise, pool, dense and add: the int8 path's whole set. */
static void net_build(lp_graph *g)
{
    lp_err err = {0};
    lp_graph_init(g);
    int x = lp_graph_input(g, lp_shape_nhwc(28, 28, 16), &err);
    must(x, &err);
    int c = lp_graph_conv2d(g, x, 32, 3, 1, 1, 1, LP_ACT_RELU, &err);
    must(c, &err);
    int d = lp_graph_conv2d(g, c, 32, 5, 2, 32, 1, LP_ACT_RELU6, &err);
    must(d, &err);
    int p = lp_graph_conv2d(g, d, 32, 1, 1, 1, 1, LP_ACT_NONE, &err);
    must(p, &err);
    int a = lp_graph_add(g, p, d, LP_ACT_NONE, &err);
    must(a, &err);
    int gp = lp_graph_pool(g, a, LP_POOL_GLOBAL_AVG, 0, 0, &err);
    must(gp, &err);
    int r = lp_graph_reshape(g, gp, lp_shape_make(2, 1, 32, 0, 0), &err);
    must(r, &err);
    int y = lp_graph_dense(g, r, 10, 1, LP_ACT_NONE, &err);
    must(y, &err);
    must(lp_graph_mark_output(g, y, &err), &err);
    must(lp_graph_fill(g, 42, &err), &err);
}

static void conv_build(lp_graph *g, int cin, int cout, int k, int s, int groups, lp_act act)
{
    lp_err err = {0};
    lp_graph_init(g);
    int x = lp_graph_input(g, lp_shape_nhwc(28, 28, cin), &err);
    must(x, &err);
    int y = lp_graph_conv2d(g, x, cout, k, s, groups, 1, act, &err);
    must(y, &err);
    must(lp_graph_mark_output(g, y, &err), &err);
    must(lp_graph_fill(g, 3, &err), &err);
}

static double max_abs(const float *x, int64_t n)
{
    double m = 0.0;
    for (int64_t i = 0; i < n; i++)
        m = fmax(m, fabs(x[i]));
    return m;
}

Test(onednn, describes_itself)
{
    lp_test_engine e = lp_test_engine_open(ENGINE, "threads=2,precision=int8");
    cr_assert_eq(e.ops->threads(e.inst->priv), 2);
    const char *v = e.ops->version(e.inst->priv);
    cr_assert(strncmp(v, "oneDNN 2.", 9) == 0, "version '%s'", v);
    lp_test_engine_close(&e);
}

/* The thread count only splits work: results agree to rounding (1e-5 of the output scale;
 * a reduction split across threads may add in another order). */
Test(onednn, two_threads_equal_one)
{
    lp_graph g;
    net_build(&g);
    lp_test_engine e1 = lp_test_engine_open(ENGINE, "threads=1");
    lp_test_engine e2 = lp_test_engine_open(ENGINE, "threads=2");
    int64_t n1, n2;
    float *a = lp_test_engine_eval(&e1, &g, 0, RUNS, &n1);
    float *b = lp_test_engine_eval(&e2, &g, 0, RUNS, &n2);
    cr_assert_eq(n1, n2);
    double scale = fmax(1.0, max_abs(a, n1));
    for (int64_t i = 0; i < n1; i++)
        cr_assert_leq(fabs(a[i] - b[i]), 1e-5 * scale, "[%lld]: %g vs %g", (long long)i, a[i], b[i]);
    free(a);
    free(b);
    lp_test_engine_close(&e1);
    lp_test_engine_close(&e2);
    lp_graph_free(&g);
}

/* Per-tensor u8/s8 activations and per-channel s8 weights lose under a percent per layer:
 * a 3x3 conv stays within 2% of the fp32 output's scale at worst and 0.5% on average. */
static void int8_close(lp_graph *g, double worst_tol, double mean_tol)
{
    lp_test_engine f = lp_test_engine_open(ENGINE, "threads=1,precision=fp32");
    lp_test_engine q = lp_test_engine_open(ENGINE, "threads=1,precision=int8");
    int64_t n, nq;
    float *ref = lp_test_engine_eval(&f, g, 0, RUNS, &n);
    float *got = lp_test_engine_eval(&q, g, 0, RUNS, &nq);
    cr_assert_eq(n, nq);
    double scale = max_abs(ref, n), worst = 0.0, sum = 0.0;
    cr_assert_gt(scale, 0.0);
    for (int64_t i = 0; i < n; i++) {
        double d = fabs((double)got[i] - ref[i]);
        worst = fmax(worst, d);
        sum += d;
    }
    cr_expect_leq(worst, worst_tol * scale, "worst int8 error %g of scale %g", worst, scale);
    cr_expect_leq(sum / (double)n, mean_tol * scale, "mean int8 error %g of scale %g",
                  sum / (double)n, scale);
    free(ref);
    free(got);
    lp_test_engine_close(&f);
    lp_test_engine_close(&q);
}

Test(onednn, int8_conv_close_to_fp32)
{
    lp_act acts[] = {LP_ACT_NONE, LP_ACT_RELU, LP_ACT_HSWISH, LP_ACT_HSIGMOID};
    for (size_t i = 0; i < sizeof acts / sizeof acts[0]; i++) {
        lp_graph g;
        conv_build(&g, 16, 32, 3, 1, 1, acts[i]);
        int8_close(&g, 0.02, 0.005);
        lp_graph_free(&g);
    }
    lp_graph g;
    conv_build(&g, 32, 32, 5, 2, 32, LP_ACT_RELU6); /* u8 depthwise after the u8 input */
    int8_close(&g, 0.02, 0.005);
    lp_graph_free(&g);
}

/* Errors compound through layers: a 5-layer net stays within 5% (worst) and 1.5% (mean). */
Test(onednn, int8_net_close_to_fp32)
{
    lp_graph g;
    net_build(&g);
    int8_close(&g, 0.05, 0.015);
    lp_graph_free(&g);
}

/* ---- which kernels and weight layouts oneDNN picked ------------------------------ */

/* oneDNN's verbose mode prints one line per executed primitive naming its kernel and its
 * memory layouts; the engine never prints, the library does because the test asks it to. */
static char *verbose_log(const lp_graph *g, const char *kv)
{
    setenv("ONEDNN_VERBOSE", "1", 1);
    char path[] = "/tmp/lp_onednn_verbose_XXXXXX";
    int fd = mkstemp(path);
    cr_assert_geq(fd, 0);
    fflush(stdout);
    int saved = dup(1);
    dup2(fd, 1);
    lp_test_engine e = lp_test_engine_open(ENGINE, kv);
    int64_t n;
    free(lp_test_engine_eval(&e, g, 0, RUNS, &n));
    lp_test_engine_close(&e);
    fflush(stdout);
    dup2(saved, 1);
    close(saved);
    off_t size = lseek(fd, 0, SEEK_END);
    char *text = calloc((size_t)size + 1, 1);
    cr_assert_eq(pread(fd, text, (size_t)size, 0), size);
    close(fd);
    unlink(path);
    return text;
}

/* The kernel and the weights' layout of the last executed `kind` primitive in the log (the
 * int8 path runs an fp32 calibration first). */
static void find_exec(const char *log, const char *kind, char *impl, char *wei, size_t size)
{
    char key[64];
    snprintf(key, sizeof key, "onednn_verbose,exec,cpu,%s,", kind);
    const char *line = NULL;
    for (const char *p = strstr(log, key); p; p = strstr(p + 1, key))
        line = p;
    cr_assert_not_null(line, "no '%s' line in oneDNN's verbose log:\n%s", key, log);
    line += strlen(key);
    size_t len = strcspn(line, ",");
    snprintf(impl, size, "%.*s", (int)len, line);
    const char *w = strstr(line, " wei_");
    cr_assert_not_null(w, "no weights in '%.*s'", (int)strcspn(line, "\n"), line);
    w = strstr(w, "blocked:"); /* wei_f32:<extra>:blocked:<layout>:f0 */
    cr_assert_not_null(w);
    w += strlen("blocked:");
    snprintf(wei, size, "%.*s", (int)strcspn(w, ":"), w);
}

static void expect_fast(const lp_graph *g, const char *kv, const char *kind, const char *plain)
{
    char *log = verbose_log(g, kv);
    char impl[128], wei[128];
    find_exec(log, kind, impl, wei, sizeof impl);
    cr_expect(strncmp(impl, "ref", 3) != 0, "%s (%s) ran oneDNN's reference kernel '%s'", kind,
              kv, impl);
    cr_expect_str_neq(wei, plain, "%s (%s) kept plain weights '%s' (kernel %s)", kind, kv, wei,
                      impl);
    free(log);
}

Test(onednn, conv_weights_reordered_into_blocked_layout)
{
    lp_graph g;
    conv_build(&g, 32, 64, 3, 1, 1, LP_ACT_RELU);
    /* OHWI as oneDNN's logical [O, I, H, W] is "acdb". */
    expect_fast(&g, "threads=1", "convolution", "acdb");
    expect_fast(&g, "threads=1,precision=int8", "convolution", "acdb");
    lp_graph_free(&g);
}

Test(onednn, depthwise_weights_reordered_into_blocked_layout)
{
    lp_graph g;
    conv_build(&g, 96, 96, 5, 2, 96, LP_ACT_RELU);
    /* OHWI with groups as [G, O/G, I/G, H, W] is "abdec". */
    expect_fast(&g, "threads=1", "convolution", "abdec");
    expect_fast(&g, "threads=1,precision=int8", "convolution", "abdec");
    lp_graph_free(&g);
}

Test(onednn, dense_weights_reordered_into_blocked_layout)
{
    lp_graph g;
    lp_err err = {0};
    lp_graph_init(&g);
    int x = lp_graph_input(&g, lp_shape_make(2, 1, 1280, 0, 0), &err);
    int y = lp_graph_dense(&g, x, 1000, 1, LP_ACT_NONE, &err);
    must(y, &err);
    must(lp_graph_mark_output(&g, y, &err), &err);
    must(lp_graph_fill(&g, 5, &err), &err);
    expect_fast(&g, "threads=1", "inner_product", "ab");
    expect_fast(&g, "threads=1,precision=int8", "inner_product", "ab");
    lp_graph_free(&g);
}

/* ---- refusals name the primitive ------------------------------------------------- */

static void expect_unsupported(lp_test_engine *e, const lp_graph *g, const char *prim)
{
    lp_err err = {0};
    const lp_node *nd = &g->nodes[g->n_nodes - 1];
    cr_assert_eq(e->ops->supports(e->inst->priv, g, nd, &err), LP_EUNSUPPORTED, "%s: %s", prim,
                 err.msg);
    cr_expect(strstr(err.msg, prim) != NULL, "supports() message '%s' does not name %s", err.msg,
              prim);
    void *run = (void *)1;
    lp_err_clear(&err);
    cr_assert_eq(e->ops->prepare(e->inst->priv, g, &run, &err), LP_EUNSUPPORTED, "%s: %s", prim,
                 err.msg);
    cr_expect_null(run);
    cr_expect(strstr(err.msg, prim) != NULL, "prepare() message '%s' does not name %s", err.msg,
              prim);
}

Test(onednn, int8_refuses_what_it_cannot_quantise)
{
    lp_test_engine e = lp_test_engine_open(ENGINE, "threads=1,precision=int8");
    lp_err err = {0};
    const char *names[] = {"softmax", "layernorm", "matmul", "act", "concat"};
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        lp_graph g;
        lp_graph_init(&g);
        int x = lp_graph_input(&g, lp_shape_make(3, 2, 8, 8, 0), &err), y = -1;
        if (i == 0)
            y = lp_graph_softmax(&g, x, &err);
        else if (i == 1)
            y = lp_graph_layernorm(&g, x, 1e-5f, &err);
        else if (i == 2)
            y = lp_graph_matmul(&g, x, x, 0, 1.0f, &err);
        else if (i == 3)
            y = lp_graph_act(&g, x, LP_ACT_GELU, &err);
        else
            y = lp_graph_concat(&g, x, x, 2, &err);
        must(y, &err);
        must(lp_graph_mark_output(&g, y, &err), &err);
        must(lp_graph_fill(&g, 1, &err), &err);
        expect_unsupported(&e, &g, names[i]);
        lp_graph_free(&g);
    }
    lp_test_engine_close(&e);
}

Test(onednn, unknown_primitive_refused)
{
    lp_test_engine e = lp_test_engine_open(ENGINE, "threads=1");
    lp_graph g;
    lp_err err = {0};
    lp_graph_init(&g);
    int x = lp_graph_input(&g, lp_shape_nhwc(4, 4, 8), &err);
    must(lp_graph_act(&g, x, LP_ACT_RELU, &err), &err);
    must(lp_graph_fill(&g, 1, &err), &err);
    g.nodes[0].prim = LP_PRIM_COUNT_;
    cr_assert_eq(e.ops->supports(e.inst->priv, &g, &g.nodes[0], &err), LP_EUNSUPPORTED);
    char want[32];
    snprintf(want, sizeof want, "#%d", (int)LP_PRIM_COUNT_);
    cr_expect(strstr(err.msg, want) != NULL, "'%s' does not name primitive %s", err.msg, want);
    g.nodes[0].prim = LP_PRIM_ACT;
    lp_graph_free(&g);
    lp_test_engine_close(&e);
}

Test(onednn, prepare_without_data_fails)
{
    lp_test_engine e = lp_test_engine_open(ENGINE, "threads=1");
    lp_graph g;
    lp_err err = {0};
    lp_graph_init(&g);
    int x = lp_graph_input(&g, lp_shape_nhwc(4, 4, 8), &err);
    must(lp_graph_mark_output(&g, lp_graph_act(&g, x, LP_ACT_RELU, &err), &err), &err);
    void *run = NULL;
    cr_assert_eq(e.ops->prepare(e.inst->priv, &g, &run, &err), LP_EINVAL);
    cr_expect(strstr(err.msg, "lp_graph_fill") != NULL, "%s", err.msg);
    lp_graph_free(&g);
    lp_test_engine_close(&e);
}
