/* The XNNPACK engine: litepred primitive graphs run through XNNPACK's
 * operator API (TFLite's CPU backend), the Debian 12 snapshot of 2022-02.
 * Every XNNPACK operator is created and set up at prepare; run() only calls
 * xnn_run_operator, so it allocates nothing and times the kernels alone.
 * What this snapshot lacks (layernorm, gelu, batched matmul on computed
 * operands, and at qs8 softmax, average pooling and hardswish) is reported as
 * LP_EUNSUPPORTED: operator fallback is the core's decision, not ours. */
#include "xnn.h"

#include <stddef.h>
#include <stdlib.h>
#include <string.h>

static const char *const lp_xnn_precisions[] = {"fp32", "qs8", NULL};

static const lp_option lp_xnn_options[] = {
    {.name = "threads", .help = "threads of XNNPACK's pthreadpool (1: no pool, runs inline)",
     .type = LP_OPT_INT, .offset = offsetof(lp_xnn, threads), .def_i = 1, .min = 1, .max = 256},
    {.name = "precision",
     .help = "fp32, or qs8: int8 conv/fc/add/mul/pooling calibrated per tensor on the graph's data",
     .type = LP_OPT_CHOICE, .offset = offsetof(lp_xnn, precision), .def_s = "fp32",
     .choices = lp_xnn_precisions},
    LP_OPT_END};

static const char *lp_xnn_status_name(enum xnn_status st)
{
    switch (st) {
    case xnn_status_out_of_memory:
        return "out of memory";
    case xnn_status_unsupported_hardware:
        return "unsupported hardware (XNNPACK needs SSE2 or NEON)";
    default:
        return "failed";
    }
}

/* xnn_initialize is idempotent (pthread_once inside); it is never undone
 * because deinitialising would pull the library from under other instances. */
static int lp_xnn_probe(lp_err *err)
{
    enum xnn_status st = xnn_initialize(NULL);
    if (st != xnn_status_success)
        return lp_err_set(err, LP_EPLUGIN, "xnnpack: xnn_initialize: %s (status %d)",
                          lp_xnn_status_name(st), (int)st);
    return 0;
}

static int lp_xnn_init(void *priv, lp_err *err)
{
    lp_xnn *e = priv;
    int rc = lp_xnn_probe(err);
    if (rc)
        return rc;
    if (e->threads > 1 && !(e->pool = pthreadpool_create((size_t)e->threads)))
        return lp_err_set(err, LP_ENOMEM, "xnnpack: pthreadpool_create(%lld) failed",
                          (long long)e->threads);
    return 0;
}

static void lp_xnn_fini(void *priv)
{
    lp_xnn *e = priv;
    if (e->pool)
        pthreadpool_destroy(e->pool);
    e->pool = NULL;
}

static const char *lp_xnn_version(void *priv)
{
    (void)priv;
    return LP_XNN_VERSION;
}

static int lp_xnn_threads(void *priv)
{
    return (int)((lp_xnn *)priv)->threads;
}

static int lp_xnn_supports(void *priv, const lp_graph *g, const lp_node *node, lp_err *err)
{
    return lp_xlower_node(g, node, (lp_xprec)((lp_xnn *)priv)->precision, NULL, err);
}

/* ---- prepare ----------------------------------------------------------------- */

/* Every node is decided before anything is built, so an unsupported primitive
 * fails with its name and not with an XNNPACK status later. */
static int lp_xnn_check_graph(const lp_xnn *e, const lp_graph *g, lp_err *err)
{
    for (size_t i = 0; i < g->n_nodes; i++) {
        const lp_node *nd = &g->nodes[i];
        if (lp_xlower_node(g, nd, (lp_xprec)e->precision, NULL, err))
            return lp_err_prefix(err, "node %zu: ", i);
        for (int k = 0; k < nd->n_in; k++) {
            const lp_tensor *t = &g->tensors[nd->in[k]];
            if (t->role == LP_TENSOR_VALUE && (t->producer < 0 || (size_t)t->producer >= i))
                return lp_err_set(err, LP_EINVAL,
                                  "xnnpack: node %zu (%s) reads tensor %d before it is produced",
                                  i, lp_prim_name(nd->prim), nd->in[k]);
        }
    }
    for (size_t i = 0; i < g->n_outputs; i++)
        if (g->outputs[i] < 0 || (size_t)g->outputs[i] >= g->n_tensors)
            return lp_err_set(err, LP_EINVAL, "xnnpack: graph output %zu is tensor %d of %zu", i,
                              g->outputs[i], g->n_tensors);
    return 0;
}

static int lp_xnn_build_plan(lp_xrun *r, const lp_graph *g, lp_err *err)
{
    int rc = lp_xplan_init(&r->plan, g, err);
    for (size_t i = 0; !rc && i < g->n_nodes; i++)
        if ((rc = lp_xlower_node(g, &g->nodes[i], r->prec, &r->plan, err)))
            rc = lp_err_prefix(err, "node %zu: ", i);
    if (rc)
        return rc;
    r->n_outputs = g->n_outputs;
    r->out_buf = calloc(g->n_outputs ? g->n_outputs : 1, sizeof *r->out_buf);
    if (!r->out_buf)
        return lp_err_set(err, LP_ENOMEM, "xnnpack: out of memory for %zu outputs", g->n_outputs);
    for (size_t i = 0; i < g->n_outputs; i++) {
        int b = lp_xplan_tensor(&r->plan, g, g->outputs[i], err);
        if (b < 0)
            return b;
        r->out_buf[i] = b;
    }
    return 0;
}

/* qs8: one fp32 run calibrates every buffer's range, then the int8 operators
 * replace the fp32 ones and the fp32 buffers go. */
static int lp_xnn_quantize(lp_xrun *r, lp_err *err)
{
    int rc = lp_xops_run(r, err);
    if (rc)
        return rc;
    lp_xcalibrate(&r->plan);
    lp_xops_delete(r);
    lp_xquant_assign(&r->plan);
    if ((rc = lp_xbufs_alloc_q8(&r->plan, err)) || (rc = lp_xops_create(r, LP_XPREC_QS8, err)))
        return rc;
    lp_xbufs_free_f32(&r->plan);
    return 0;
}

static void lp_xnn_release(void *runnable)
{
    lp_xrun *r = runnable;
    if (!r)
        return;
    lp_xops_delete(r);
    lp_xplan_free(&r->plan);
    free(r->out_buf);
    free(r);
}

static int lp_xnn_prepare(void *priv, const lp_graph *g, void **runnable, lp_err *err)
{
    const lp_xnn *e = priv;
    *runnable = NULL;
    int rc = lp_xnn_check_graph(e, g, err);
    if (rc)
        return rc;
    lp_xrun *r = calloc(1, sizeof *r);
    if (!r)
        return lp_err_set(err, LP_ENOMEM, "xnnpack: out of memory");
    r->eng = e;
    r->prec = (lp_xprec)e->precision;
    if ((rc = lp_xnn_build_plan(r, g, err)) || (rc = lp_xbufs_alloc_f32(&r->plan, err)) ||
        (rc = lp_xops_create(r, LP_XPREC_FP32, err)))
        goto fail;
    if (r->prec == LP_XPREC_QS8 && (rc = lp_xnn_quantize(r, err)))
        goto fail;
    *runnable = r;
    return 0;
fail:
    lp_xnn_release(r);
    return rc;
}

/* ---- run ------------------------------------------------------------------------ */

static int lp_xnn_run(void *runnable, lp_err *err)
{
    if (!runnable)
        return lp_err_set(err, LP_EINVAL, "xnnpack: run without a prepared graph");
    return lp_xops_run(runnable, err);
}

static int lp_xnn_output(void *runnable, size_t i, float *dst, size_t n, lp_err *err)
{
    const lp_xrun *r = runnable;
    if (!r || i >= r->n_outputs)
        return lp_err_set(err, LP_EINVAL, "xnnpack: output %zu of %zu", i, r ? r->n_outputs : 0);
    const lp_xbuf *b = &r->plan.bufs[r->out_buf[i]];
    if ((int64_t)n != b->numel)
        return lp_err_set(err, LP_EINVAL, "xnnpack: output %zu has %lld elements, not %zu", i,
                          (long long)b->numel, n);
    if (r->prec == LP_XPREC_FP32) {
        memcpy(dst, b->f, n * sizeof *dst);
        return 0;
    }
    for (size_t j = 0; j < n; j++)
        dst[j] = (float)(b->q[j] - b->zp) * b->scale;
    return 0;
}

/* ---- descriptor ------------------------------------------------------------------ */

static const lp_engine_ops lp_xnn_ops = {
    .size = sizeof(lp_engine_ops),
    .supports = lp_xnn_supports,
    .prepare = lp_xnn_prepare,
    .run = lp_xnn_run,
    .output = lp_xnn_output,
    .release = lp_xnn_release,
    .version = lp_xnn_version,
    .threads = lp_xnn_threads,
};

static const lp_plugin_desc lp_xnn_desc = {
    LP_PLUGIN_ABI,
    .kind = LP_KIND_ENGINE,
    .name = "xnnpack",
    .summary = "XNNPACK 2022-02 operators (TFLite's CPU backend): fp32 and qs8",
    .options = lp_xnn_options,
    .priv_size = sizeof(lp_xnn),
    .ops = &lp_xnn_ops,
    .probe = lp_xnn_probe,
    .init = lp_xnn_init,
    .fini = lp_xnn_fini,
};

LP_PLUGIN_DEFINE(lp_xnn_desc)
