/* Prepare, run, output and release. prepare() checks every node first, then
 * makes one buffer per tensor, one primitive per node with its memories bound
 * and its weights reordered, and one shared scratchpad; run() only executes.
 * The int8 path first runs the graph once in fp32 to calibrate every
 * tensor's range, then builds the quantised graph from those ranges. */
#include "onednn.h"

#include <omp.h>
#include <stdlib.h>
#include <string.h>

static size_t lp_dt_size(dnnl_data_type_t dt)
{
    return dt == dnnl_f32 ? sizeof(float) : 1;
}

static void *lp_dn_alloc(size_t bytes)
{
    /* aligned_alloc wants a multiple of the alignment; 64 suits AVX-512 loads. */
    return aligned_alloc(64, (bytes + 63) / 64 * 64 + 64);
}

void lp_dn_release(void *runnable)
{
    lp_drun *r = runnable;
    if (!r)
        return;
    for (size_t i = 0; r->steps && i < r->n_steps; i++)
        if (r->steps[i].prim)
            dnnl_primitive_destroy(r->steps[i].prim);
    for (size_t i = 0; i < r->n_mems; i++)
        dnnl_memory_destroy(r->mems[i]);
    for (size_t t = 0; r->ten && t < r->n_tensors; t++)
        if (r->ten[t].owns)
            free(r->ten[t].buf);
    if (r->stream)
        dnnl_stream_destroy(r->stream);
    free(r->steps);
    free(r->mems);
    free(r->ten);
    free(r->scratch);
    free(r->outputs);
    free(r);
}

/* ---- checks ------------------------------------------------------------------------ */

/* The int8 path's activation types, tried in every combination a calibration can pick. */
static int lp_dn_try_int8(lp_dbuild *b)
{
    static const dnnl_data_type_t q[2] = {dnnl_u8, dnnl_s8};
    int two = b->nd->prim == LP_PRIM_ADD || b->nd->prim == LP_PRIM_MUL;
    int same = lp_dn_int8_keeps_scale(b->nd->prim);
    int rc = 0;
    for (int i = 0; i < 8 && !rc; i++) {
        if ((!two && (i & 2)) || (same && (i & 4)))
            continue;
        b->dt[0] = q[i & 1];
        b->dt[1] = q[(i >> 1) & 1];
        b->dt_out = same ? b->dt[0] : q[(i >> 2) & 1];
        rc = lp_dn_build(b);
        if (b->pd)
            dnnl_primitive_desc_destroy(b->pd);
        b->pd = NULL;
    }
    return rc;
}

int lp_dn_supports_node(const lp_dnnl *e, const lp_graph *g, const lp_node *nd, lp_err *err)
{
    int rc = lp_dn_check_node(g, nd, err);
    if (rc)
        return rc;
    omp_set_num_threads((int)e->threads);
    lp_dbuild b = {.e = e, .g = g, .nd = nd, .int8 = e->precision == LP_DN_INT8, .err = err,
                   .dt = {dnnl_f32, dnnl_f32, dnnl_f32}, .dt_out = dnnl_f32,
                   .scale = {1.0f, 1.0f, 1.0f}, .scale_out = 1.0f};
    if (b.int8)
        return lp_dn_try_int8(&b);
    rc = lp_dn_build(&b);
    if (b.pd)
        dnnl_primitive_desc_destroy(b.pd);
    return rc;
}

static int lp_dn_check_graph(const lp_dnnl *e, const lp_graph *g, lp_err *err)
{
    for (size_t i = 0; i < g->n_nodes; i++) {
        const lp_node *nd = &g->nodes[i];
        if (lp_dn_supports_node(e, g, nd, err))
            return lp_err_prefix(err, "node %zu: ", i);
        for (int k = 0; k < nd->n_in; k++) {
            const lp_tensor *t = &g->tensors[nd->in[k]];
            if (t->role == LP_TENSOR_VALUE && (t->producer < 0 || (size_t)t->producer >= i))
                return lp_err_set(err, LP_EINVAL, "onednn: node %zu (%s) reads tensor %d before "
                                  "it is produced", i, lp_prim_name(nd->prim), nd->in[k]);
        }
    }
    for (size_t t = 0; t < g->n_tensors; t++)
        if (g->tensors[t].role != LP_TENSOR_VALUE && !g->tensors[t].data)
            return lp_err_set(err, LP_EINVAL, "onednn: tensor %zu (%s) has no data: call "
                              "lp_graph_fill before prepare", t,
                              g->tensors[t].role == LP_TENSOR_INPUT ? "input" : "weight");
    for (size_t i = 0; i < g->n_outputs; i++)
        if (g->outputs[i] < 0 || (size_t)g->outputs[i] >= g->n_tensors)
            return lp_err_set(err, LP_EINVAL, "onednn: graph output %zu is tensor %d of %zu", i,
                              g->outputs[i], g->n_tensors);
    return 0;
}

/* ---- tensors ------------------------------------------------------------------------ */

/* fp32 everywhere, or for int8 the type and scale of each tensor's calibrated range; the
 * outputs of pool and data movement keep their input's, so none needs requantising. */
static void lp_dn_types(lp_drun *r, const lp_graph *g, const lp_drun *calib)
{
    for (size_t t = 0; t < g->n_tensors; t++) {
        r->ten[t].dt = dnnl_f32;
        r->ten[t].scale = 1.0f;
        if (!calib)
            continue;
        r->ten[t].lo = calib->ten[t].lo;
        r->ten[t].hi = calib->ten[t].hi;
        lp_dq_choose(&r->ten[t]);
    }
    for (size_t i = 0; calib && i < g->n_nodes; i++) {
        const lp_node *nd = &g->nodes[i];
        if (lp_dn_int8_keeps_scale(nd->prim)) {
            r->ten[nd->out].dt = r->ten[nd->in[0]].dt;
            r->ten[nd->out].scale = r->ten[nd->in[0]].scale;
        }
    }
}

static int lp_dn_buffers(lp_drun *r, const lp_graph *g, lp_err *err)
{
    for (size_t t = 0; t < g->n_tensors; t++)
        r->ten[t].owns = 1;
    for (size_t i = 0; i < g->n_nodes; i++)
        if (g->nodes[i].prim == LP_PRIM_RESHAPE)
            r->ten[g->nodes[i].out].owns = 0;
    for (size_t t = 0; t < g->n_tensors; t++) {
        lp_dten *d = &r->ten[t];
        const lp_tensor *ts = &g->tensors[t];
        int64_t n = d->numel = lp_shape_numel(&ts->shape);
        if (!d->owns)
            continue;
        d->buf = lp_dn_alloc((size_t)n * lp_dt_size(d->dt));
        if (!d->buf)
            return lp_err_set(err, LP_ENOMEM, "onednn: out of memory for tensor %zu (%lld values)",
                              t, (long long)n);
        if (ts->role == LP_TENSOR_VALUE)
            continue;
        if (d->dt == dnnl_f32)
            memcpy(d->buf, ts->data, (size_t)n * sizeof(float));
        else
            lp_dq_quantize(d, ts->data, d->buf, n);
    }
    /* In node order, so a reshape of a reshape finds its input's buffer already set. */
    for (size_t i = 0; i < g->n_nodes; i++)
        if (g->nodes[i].prim == LP_PRIM_RESHAPE)
            r->ten[g->nodes[i].out].buf = r->ten[g->nodes[i].in[0]].buf;
    return 0;
}

/* ---- steps ------------------------------------------------------------------------ */

static int lp_dn_steps(lp_drun *r, const lp_graph *g, lp_err *err)
{
    r->steps = calloc(g->n_nodes ? g->n_nodes : 1, sizeof *r->steps);
    if (!r->steps)
        return lp_err_set(err, LP_ENOMEM, "onednn: out of memory for %zu nodes", g->n_nodes);
    r->n_steps = g->n_nodes;
    for (size_t i = 0; i < g->n_nodes; i++) {
        const lp_node *nd = &g->nodes[i];
        lp_dbuild b = {.e = r->eng, .g = g, .nd = nd, .r = r, .step = &r->steps[i],
                       .int8 = r->int8, .err = err};
        for (int k = 0; k < nd->n_in; k++) {
            b.dt[k] = r->ten[nd->in[k]].dt;
            b.scale[k] = r->ten[nd->in[k]].scale;
        }
        b.dt_out = r->ten[nd->out].dt;
        b.scale_out = r->ten[nd->out].scale;
        int rc = lp_dn_build(&b);
        if (b.pd)
            dnnl_primitive_desc_destroy(b.pd);
        if (rc)
            return lp_err_prefix(err, "node %zu: ", i);
    }
    if (!r->scratch_bytes)
        return 0;
    r->scratch = lp_dn_alloc(r->scratch_bytes);
    if (!r->scratch)
        return lp_err_set(err, LP_ENOMEM, "onednn: out of memory for a %zu-byte scratchpad",
                          r->scratch_bytes);
    for (size_t i = 0; i < r->n_steps; i++) {
        if (!r->steps[i].scratch)
            continue;
        int rc = lp_dn_check(dnnl_memory_set_data_handle(r->steps[i].scratch, r->scratch), err,
                             lp_prim_name(g->nodes[i].prim), "dnnl_memory_set_data_handle");
        if (rc)
            return rc;
    }
    return 0;
}

static int lp_dn_outputs(lp_drun *r, const lp_graph *g, lp_err *err)
{
    r->n_outputs = g->n_outputs;
    r->outputs = calloc(g->n_outputs ? g->n_outputs : 1, sizeof *r->outputs);
    if (!r->outputs)
        return lp_err_set(err, LP_ENOMEM, "onednn: out of memory for %zu outputs", g->n_outputs);
    memcpy(r->outputs, g->outputs, g->n_outputs * sizeof *r->outputs);
    return 0;
}

/* Builds a runnable of g (checked already): fp32 when calib is NULL, else int8 with the
 * ranges calib recorded. */
static int lp_dn_build_run(const lp_dnnl *e, const lp_graph *g, const lp_drun *calib,
                           lp_drun **out, lp_err *err)
{
    lp_drun *r = calloc(1, sizeof *r);
    if (!r)
        return lp_err_set(err, LP_ENOMEM, "onednn: out of memory");
    r->eng = e;
    r->int8 = calib != NULL;
    r->n_tensors = g->n_tensors;
    r->ten = calloc(g->n_tensors ? g->n_tensors : 1, sizeof *r->ten);
    int rc = r->ten ? 0 : lp_err_set(err, LP_ENOMEM, "onednn: out of memory for tensors");
    if (!rc)
        rc = lp_dn_check(dnnl_stream_create(&r->stream, e->eng, dnnl_stream_default_flags), err,
                         "prepare", "dnnl_stream_create");
    if (rc)
        goto fail;
    lp_dn_types(r, g, calib);
    rc = lp_dn_buffers(r, g, err);
    if (!rc)
        rc = lp_dn_steps(r, g, err);
    if (!rc)
        rc = lp_dn_outputs(r, g, err);
    if (rc)
        goto fail;
    *out = r;
    return 0;
fail:
    lp_dn_release(r);
    return rc;
}

/* ---- run --------------------------------------------------------------------------- */

int lp_dn_run(void *runnable, lp_err *err)
{
    lp_drun *r = runnable;
    if (!r)
        return lp_err_set(err, LP_EINVAL, "onednn: run without a prepared graph");
    /* The primitives were made for this count; another instance may have changed it. */
    omp_set_num_threads((int)r->eng->threads);
    for (size_t i = 0; i < r->n_steps; i++) {
        const lp_dstep *s = &r->steps[i];
        if (!s->prim)
            continue;
        dnnl_status_t st = dnnl_primitive_execute(s->prim, r->stream, s->nargs, s->args);
        if (st != dnnl_success)
            return lp_dn_check(st, err, "run", "dnnl_primitive_execute");
    }
    return lp_dn_check(dnnl_stream_wait(r->stream), err, "run", "dnnl_stream_wait");
}

/* One fp32 run records every tensor's range for the int8 scales. */
static int lp_dn_calibrate(const lp_dnnl *e, const lp_graph *g, lp_drun **calib, lp_err *err)
{
    int rc = lp_dn_build_run(e, g, NULL, calib, err);
    if (!rc)
        rc = lp_dn_run(*calib, err);
    if (rc)
        return lp_err_prefix(err, "int8 calibration: ");
    for (size_t t = 0; t < g->n_tensors; t++)
        lp_dq_range(&(*calib)->ten[t], (*calib)->ten[t].buf, lp_shape_numel(&g->tensors[t].shape));
    return 0;
}

int lp_dn_prepare(void *priv, const lp_graph *g, void **runnable, lp_err *err)
{
    const lp_dnnl *e = priv;
    lp_drun *calib = NULL;
    *runnable = NULL;
    if (!g)
        return lp_err_set(err, LP_EINVAL, "onednn: prepare without a graph");
    /* oneDNN sizes its kernels' work split by the thread count at creation. */
    omp_set_num_threads((int)e->threads);
    int rc = lp_dn_check_graph(e, g, err);
    if (rc)
        return rc;
    if (e->precision == LP_DN_INT8 && (rc = lp_dn_calibrate(e, g, &calib, err)))
        goto fail;
    rc = lp_dn_build_run(e, g, calib, (lp_drun **)runnable, err);
fail:
    lp_dn_release(calib);
    return rc;
}

int lp_dn_output(void *runnable, size_t i, float *dst, size_t n, lp_err *err)
{
    const lp_drun *r = runnable;
    if (!r || i >= r->n_outputs)
        return lp_err_set(err, LP_EINVAL, "onednn: output %zu of %zu", i, r ? r->n_outputs : 0);
    const lp_dten *t = &r->ten[r->outputs[i]];
    if ((int64_t)n != t->numel)
        return lp_err_set(err, LP_EINVAL, "onednn: output %zu has %lld elements, not %zu", i,
                          (long long)t->numel, n);
    if (t->dt == dnnl_f32)
        memcpy(dst, t->buf, n * sizeof *dst);
    else
        lp_dq_dequantize(t, dst, (int64_t)n);
    return 0;
}
