/* The native engine: the project's own C kernels over OpenBLAS or BLIS.
 * It is the embedded default engine and the numerical reference the other
 * engines are compared with, so every primitive of graph.h is implemented.
 * prepare() allocates every buffer once; run() never allocates. */
#include "native.h"

#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *const lp_native_blas_names[] = {"openblas", "blis", NULL};

static const lp_option lp_native_options[] = {
    {.name = "threads",
     .help = "threads of the engine's pool (GEMMs are split over it; the BLAS runs 1-thread)",
     .type = LP_OPT_INT, .offset = offsetof(lp_native, threads), .def_i = 1, .min = 1, .max = 256},
    {.name = "blas",
     .help = "BLAS for GEMM-based ops; blis is loaded at run time (Debian libblis4)",
     .type = LP_OPT_CHOICE, .offset = offsetof(lp_native, blas_choice), .def_s = "openblas",
     .choices = lp_native_blas_names},
    LP_OPT_END};

typedef void (*lp_exec_fn)(lp_nrun *r, const lp_nstep *s);

static const lp_exec_fn lp_native_exec[LP_PRIM_COUNT_] = {
    [LP_PRIM_CONV2D] = lp_exec_conv2d,       [LP_PRIM_DENSE] = lp_exec_dense,
    [LP_PRIM_MATMUL] = lp_exec_matmul,       [LP_PRIM_POOL] = lp_exec_pool,
    [LP_PRIM_ACT] = lp_exec_act,             [LP_PRIM_ADD] = lp_exec_add,
    [LP_PRIM_MUL] = lp_exec_mul,             [LP_PRIM_SOFTMAX] = lp_exec_softmax,
    [LP_PRIM_LAYERNORM] = lp_exec_layernorm, [LP_PRIM_CONCAT] = lp_exec_concat,
    [LP_PRIM_RESHAPE] = lp_exec_reshape,     [LP_PRIM_TRANSPOSE] = lp_exec_transpose,
    [LP_PRIM_SLICE] = lp_exec_slice};

/* ---- instance ----------------------------------------------------------- */

static int lp_native_init(void *priv, lp_err *err)
{
    lp_native *e = priv;
    int rc = lp_nblas_open(&e->blas, (lp_nblas_kind)e->blas_choice, err);
    if (rc)
        return rc;
    /* The engine's pool splits GEMMs itself (see gemm.c); the BLAS stays single-threaded. */
    lp_nblas_single_thread(&e->blas);
    char lib[128];
    lp_nblas_describe(&e->blas, lib, sizeof lib);
    snprintf(e->version, sizeof e->version, "native (%s)", lib);
    return 0;
}

static void lp_native_fini(void *priv)
{
    lp_nblas_close(&((lp_native *)priv)->blas);
}

static const char *lp_native_version(void *priv)
{
    return ((lp_native *)priv)->version;
}

static int lp_native_threads(void *priv)
{
    return (int)((lp_native *)priv)->threads;
}

static int lp_native_supports(void *priv, const lp_graph *g, const lp_node *node, lp_err *err)
{
    (void)priv;
    return lp_native_check(g, node, err);
}

/* ---- prepare ----------------------------------------------------------------- */

static void *lp_falloc(int64_t n)
{
    /* aligned_alloc wants a size that is a multiple of the alignment. */
    size_t bytes = ((size_t)(n > 0 ? n : 1) * sizeof(float) + 63) / 64 * 64;
    return aligned_alloc(64, bytes);
}

static int lp_check_order(const lp_graph *g, lp_err *err)
{
    for (size_t i = 0; i < g->n_nodes; i++) {
        int rc = lp_native_check(g, &g->nodes[i], err);
        if (rc)
            return lp_err_prefix(err, "node %zu: ", i);
        for (int k = 0; k < g->nodes[i].n_in; k++) {
            const lp_tensor *t = &g->tensors[g->nodes[i].in[k]];
            if (t->role == LP_TENSOR_VALUE && (t->producer < 0 || (size_t)t->producer >= i))
                return lp_err_set(err, LP_EINVAL,
                                  "native: node %zu (%s) reads tensor %d before it is produced",
                                  i, lp_prim_name(g->nodes[i].prim), g->nodes[i].in[k]);
        }
    }
    for (size_t i = 0; i < g->n_outputs; i++)
        if (g->outputs[i] < 0 || (size_t)g->outputs[i] >= g->n_tensors)
            return lp_err_set(err, LP_EINVAL, "native: graph output %zu is tensor %d of %zu", i,
                              g->outputs[i], g->n_tensors);
    return 0;
}

/* One buffer per tensor, filled from the graph for inputs and weights; reshape
 * outputs alias their input instead. */
static int lp_alloc_tensors(lp_nrun *r, const lp_graph *g, lp_err *err)
{
    r->n_tensors = g->n_tensors;
    r->bufs = calloc(g->n_tensors ? g->n_tensors : 1, sizeof *r->bufs);
    r->owns = calloc(g->n_tensors ? g->n_tensors : 1, 1);
    if (!r->bufs || !r->owns)
        return lp_err_set(err, LP_ENOMEM, "native: out of memory for %zu tensors", g->n_tensors);
    memset(r->owns, 1, g->n_tensors);
    for (size_t i = 0; i < g->n_nodes; i++)
        if (g->nodes[i].prim == LP_PRIM_RESHAPE)
            r->owns[g->nodes[i].out] = 0;
    for (size_t t = 0; t < g->n_tensors; t++) {
        if (!r->owns[t])
            continue;
        const lp_tensor *ts = &g->tensors[t];
        int64_t n = lp_shape_numel(&ts->shape);
        r->bufs[t] = lp_falloc(n);
        if (!r->bufs[t])
            return lp_err_set(err, LP_ENOMEM, "native: out of memory for tensor %zu (%lld floats)",
                              t, (long long)n);
        if (ts->role == LP_TENSOR_VALUE)
            continue;
        if (!ts->data)
            return lp_err_set(err, LP_EINVAL, "native: tensor %zu (%s) has no data: call "
                              "lp_graph_fill before prepare", t,
                              ts->role == LP_TENSOR_INPUT ? "input" : "weight");
        memcpy(r->bufs[t], ts->data, (size_t)n * sizeof(float));
    }
    for (size_t i = 0; i < g->n_nodes; i++)
        if (g->nodes[i].prim == LP_PRIM_RESHAPE)
            r->bufs[g->nodes[i].out] = r->bufs[g->nodes[i].in[0]];
    return 0;
}

static int lp_plan_steps(lp_nrun *r, const lp_graph *g, lp_err *err)
{
    r->steps = calloc(g->n_nodes ? g->n_nodes : 1, sizeof *r->steps);
    if (!r->steps)
        return lp_err_set(err, LP_ENOMEM, "native: out of memory for %zu nodes", g->n_nodes);
    r->n_steps = g->n_nodes;
    for (size_t i = 0; i < g->n_nodes; i++) {
        lp_nstep *s = &r->steps[i];
        const lp_node *nd = &g->nodes[i];
        s->node = *nd;
        for (int k = 0; k < nd->n_in; k++) {
            s->in[k] = r->bufs[nd->in[k]];
            s->in_shape[k] = g->tensors[nd->in[k]].shape;
        }
        s->out = r->bufs[nd->out];
        s->out_shape = g->tensors[nd->out].shape;
        s->exec = lp_native_exec[nd->prim];
        if (nd->prim != LP_PRIM_CONV2D)
            continue;
        size_t need = lp_conv_plan(s);
        r->scratch_n = need > r->scratch_n ? need : r->scratch_n;
        int rc = lp_conv_pack(s, err);
        if (rc)
            return lp_err_prefix(err, "node %zu: ", i);
    }
    if (r->scratch_n) {
        r->scratch = lp_falloc((int64_t)r->scratch_n);
        if (!r->scratch)
            return lp_err_set(err, LP_ENOMEM, "native: out of memory for %zu im2col floats",
                              r->scratch_n);
    }
    return 0;
}

static int lp_plan_outputs(lp_nrun *r, const lp_graph *g, lp_err *err)
{
    r->n_outputs = g->n_outputs;
    r->outputs = calloc(g->n_outputs ? g->n_outputs : 1, sizeof *r->outputs);
    r->output_n = calloc(g->n_outputs ? g->n_outputs : 1, sizeof *r->output_n);
    if (!r->outputs || !r->output_n)
        return lp_err_set(err, LP_ENOMEM, "native: out of memory for %zu outputs", g->n_outputs);
    for (size_t i = 0; i < g->n_outputs; i++) {
        r->outputs[i] = g->outputs[i];
        r->output_n[i] = lp_shape_numel(&g->tensors[g->outputs[i]].shape);
    }
    return 0;
}

static void lp_native_release(void *runnable)
{
    lp_nrun *r = runnable;
    if (!r)
        return;
    if (r->pool_ok)
        lp_tpool_destroy(&r->pool);
    for (size_t i = 0; r->steps && i < r->n_steps; i++)
        free(r->steps[i].packed);
    for (size_t t = 0; r->bufs && t < r->n_tensors; t++)
        if (r->owns[t])
            free(r->bufs[t]);
    free(r->bufs);
    free(r->owns);
    free(r->steps);
    free(r->scratch);
    free(r->outputs);
    free(r->output_n);
    free(r);
}

static int lp_native_prepare(void *priv, const lp_graph *g, void **runnable, lp_err *err)
{
    lp_native *e = priv;
    *runnable = NULL;
    int rc = lp_check_order(g, err);
    if (rc)
        return rc;
    lp_nrun *r = calloc(1, sizeof *r);
    if (!r)
        return lp_err_set(err, LP_ENOMEM, "native: out of memory");
    r->eng = e;
    rc = lp_alloc_tensors(r, g, err);
    if (!rc)
        rc = lp_plan_steps(r, g, err);
    if (!rc)
        rc = lp_plan_outputs(r, g, err);
    if (!rc)
        rc = lp_tpool_init(&r->pool, (int)e->threads, err);
    if (rc)
        goto fail;
    r->pool_ok = 1;
    *runnable = r;
    return 0;
fail:
    lp_native_release(r);
    return rc;
}

/* ---- run ----------------------------------------------------------------------- */

static int lp_native_run(void *runnable, lp_err *err)
{
    lp_nrun *r = runnable;
    if (!r)
        return lp_err_set(err, LP_EINVAL, "native: run without a prepared graph");
    /* Something else in the process may have raised the BLAS's process-wide count. */
    lp_nblas_single_thread(&r->eng->blas);
    for (size_t i = 0; i < r->n_steps; i++)
        r->steps[i].exec(r, &r->steps[i]);
    return 0;
}

static int lp_native_output(void *runnable, size_t i, float *dst, size_t n, lp_err *err)
{
    const lp_nrun *r = runnable;
    if (!r || i >= r->n_outputs)
        return lp_err_set(err, LP_EINVAL, "native: output %zu of %zu", i, r ? r->n_outputs : 0);
    if ((int64_t)n != r->output_n[i])
        return lp_err_set(err, LP_EINVAL, "native: output %zu has %lld elements, not %zu", i,
                          (long long)r->output_n[i], n);
    memcpy(dst, r->bufs[r->outputs[i]], n * sizeof *dst);
    return 0;
}

/* ---- descriptor ------------------------------------------------------------------ */

static const lp_engine_ops lp_native_ops = {
    .size = sizeof(lp_engine_ops),
    .supports = lp_native_supports,
    .prepare = lp_native_prepare,
    .run = lp_native_run,
    .output = lp_native_output,
    .release = lp_native_release,
    .version = lp_native_version,
    .threads = lp_native_threads,
};

static const lp_plugin_desc lp_native_desc = {
    LP_PLUGIN_ABI,
    .kind = LP_KIND_ENGINE,
    .name = "native",
    .summary = "the project's own C kernels: im2col + OpenBLAS/BLIS GEMM, direct depthwise",
    .options = lp_native_options,
    .priv_size = sizeof(lp_native),
    .ops = &lp_native_ops,
    .init = lp_native_init,
    .fini = lp_native_fini,
};

LP_PLUGIN_DEFINE(lp_native_desc)
