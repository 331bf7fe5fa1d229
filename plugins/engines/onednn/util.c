/* Pieces every builder shares: memory descriptors and objects, attributes
 * (user scratchpad, activation post-ops) and finishing a step. */
#include "onednn.h"

#include <oneapi/dnnl/dnnl_debug.h>
#include <stdlib.h>

int lp_dn_check(dnnl_status_t st, lp_err *err, const char *prim, const char *call)
{
    if (st == dnnl_success)
        return 0;
    /* oneDNN answers "unimplemented" (or rejects the arguments) when it has no kernel for a
     * configuration: that is this engine not supporting it, not a bug. */
    int code = LP_EPLUGIN;
    if (st == dnnl_unimplemented || st == dnnl_invalid_arguments)
        code = LP_EUNSUPPORTED;
    else if (st == dnnl_out_of_memory)
        code = LP_ENOMEM;
    return lp_err_set(err, code, "onednn: %s: %s: %s", prim, call, dnnl_status2str(st));
}

int lp_dn_md_plain(dnnl_memory_desc_t *md, const lp_shape *s, dnnl_data_type_t dt)
{
    static const dnnl_format_tag_t tags[LP_MAX_RANK + 1] = {dnnl_format_tag_undef, dnnl_a,
                                                            dnnl_ab, dnnl_abc, dnnl_abcd};
    dnnl_dims_t dims = {0};
    for (int i = 0; i < s->rank; i++)
        dims[i] = s->d[i];
    return dnnl_memory_desc_init_by_tag(md, s->rank, dims, dt, tags[s->rank]) == dnnl_success
               ? 0 : LP_EINVAL;
}

static int lp_dn_track(lp_drun *r, dnnl_memory_t m, lp_err *err)
{
    if (r->n_mems == r->cap_mems) {
        size_t cap = r->cap_mems ? 2 * r->cap_mems : 32;
        dnnl_memory_t *p = realloc(r->mems, cap * sizeof *p);
        if (!p) {
            dnnl_memory_destroy(m);
            return lp_err_set(err, LP_ENOMEM, "onednn: out of memory for memory objects");
        }
        r->mems = p;
        r->cap_mems = cap;
    }
    r->mems[r->n_mems++] = m;
    return 0;
}

int lp_dn_mem(lp_dbuild *b, const dnnl_memory_desc_t *md, void *buf, dnnl_memory_t *out)
{
    int rc = lp_dn_check(dnnl_memory_create(out, md, b->e->eng, buf), b->err,
                         lp_prim_name(b->nd->prim), "dnnl_memory_create");
    return rc ? rc : lp_dn_track(b->r, *out, b->err);
}

void lp_dn_arg(lp_dbuild *b, int arg, dnnl_memory_t mem)
{
    /* LP_DN_MAX_ARGS covers the largest primitive built here; overflowing it is a bug. */
    if (b->step->nargs < LP_DN_MAX_ARGS)
        b->step->args[b->step->nargs++] = (dnnl_exec_arg_t){arg, mem};
}

int lp_dn_attr(dnnl_primitive_attr_t *attr, lp_err *err, const char *prim)
{
    int rc = lp_dn_check(dnnl_primitive_attr_create(attr), err, prim, "dnnl_primitive_attr_create");
    if (rc)
        return rc;
    /* A user scratchpad is bound once at prepare; the library's own would be allocated
     * behind our back. */
    rc = lp_dn_check(dnnl_primitive_attr_set_scratchpad_mode(*attr, dnnl_scratchpad_mode_user),
                     err, prim, "dnnl_primitive_attr_set_scratchpad_mode");
    if (rc) {
        dnnl_primitive_attr_destroy(*attr);
        *attr = NULL;
    }
    return rc;
}

/* oneDNN 2.6 has no hardsigmoid: relu6(x + 3) / 6 = clip(x / 6 + 0.5, 0, 1). */
int lp_dn_act_algs(lp_act act, dnnl_alg_kind_t alg[2], float alpha[2], float beta[2])
{
    switch (act) {
    case LP_ACT_RELU:
        alg[0] = dnnl_eltwise_relu, alpha[0] = 0.0f, beta[0] = 0.0f;
        return 1;
    case LP_ACT_RELU6:
        alg[0] = dnnl_eltwise_clip_v2, alpha[0] = 0.0f, beta[0] = 6.0f;
        return 1;
    case LP_ACT_HSWISH:
        alg[0] = dnnl_eltwise_hardswish, alpha[0] = 0.0f, beta[0] = 0.0f;
        return 1;
    case LP_ACT_HSIGMOID:
        alg[0] = dnnl_eltwise_linear, alpha[0] = 1.0f / 6.0f, beta[0] = 0.5f;
        alg[1] = dnnl_eltwise_clip_v2, alpha[1] = 0.0f, beta[1] = 1.0f;
        return 2;
    case LP_ACT_SWISH:
        alg[0] = dnnl_eltwise_swish, alpha[0] = 1.0f, beta[0] = 0.0f;
        return 1;
    case LP_ACT_SIGMOID:
        alg[0] = dnnl_eltwise_logistic, alpha[0] = 0.0f, beta[0] = 0.0f;
        return 1;
    case LP_ACT_GELU:
        alg[0] = dnnl_eltwise_gelu_erf, alpha[0] = 0.0f, beta[0] = 0.0f;
        return 1;
    default:
        return 0;
    }
}

int lp_dn_post_ops(dnnl_primitive_attr_t attr, lp_act act, int skip, float post_scale,
                   lp_err *err, const char *prim)
{
    dnnl_alg_kind_t alg[3];
    float alpha[3], beta[3];
    int n = lp_dn_act_algs(act, alg, alpha, beta);
    if (act == LP_ACT_HSIGMOID && skip == 0) {
        /* Piecewise linear, so the scale folds into both steps; oneDNN 2.6's int8 conv
         * kernels computed the three-step chain linear, clip, linear wrongly. */
        alpha[0] *= post_scale, beta[0] *= post_scale, beta[1] *= post_scale;
        post_scale = 1.0f;
    }
    if (post_scale != 1.0f)
        alg[n] = dnnl_eltwise_linear, alpha[n] = post_scale, beta[n] = 0.0f, n++;
    if (n <= skip)
        return 0;
    dnnl_post_ops_t po = NULL;
    int rc = lp_dn_check(dnnl_post_ops_create(&po), err, prim, "dnnl_post_ops_create");
    for (int i = skip; !rc && i < n; i++)
        rc = lp_dn_check(dnnl_post_ops_append_eltwise(po, 1.0f, alg[i], alpha[i], beta[i]), err,
                         prim, "dnnl_post_ops_append_eltwise");
    if (!rc)
        rc = lp_dn_check(dnnl_primitive_attr_set_post_ops(attr, po), err, prim,
                         "dnnl_primitive_attr_set_post_ops");
    if (po)
        dnnl_post_ops_destroy(po);
    return rc;
}

/* Normalisation stats and workspaces some primitives write even for inference. */
static int lp_dn_bind_extras(lp_dbuild *b)
{
    static const int extras[] = {DNNL_ARG_MEAN, DNNL_ARG_VARIANCE, DNNL_ARG_WORKSPACE};
    for (size_t i = 0; i < sizeof extras / sizeof extras[0]; i++) {
        const dnnl_memory_desc_t *md = dnnl_primitive_desc_query_md(
            b->pd, dnnl_query_exec_arg_md, extras[i]);
        if (!md || dnnl_memory_desc_get_size(md) == 0)
            continue;
        dnnl_memory_t m;
        int rc = lp_dn_mem(b, md, DNNL_MEMORY_ALLOCATE, &m);
        if (rc)
            return rc;
        lp_dn_arg(b, extras[i], m);
    }
    return 0;
}

int lp_dn_finish(lp_dbuild *b)
{
    const char *nm = lp_prim_name(b->nd->prim);
    const dnnl_memory_desc_t *sp = dnnl_primitive_desc_query_md(b->pd, dnnl_query_scratchpad_md, 0);
    size_t bytes = sp ? dnnl_memory_desc_get_size(sp) : 0;
    if (bytes) {
        /* Bound to the shared buffer once every step's size is known. */
        int rc = lp_dn_mem(b, sp, NULL, &b->step->scratch);
        if (rc)
            return rc;
        lp_dn_arg(b, DNNL_ARG_SCRATCHPAD, b->step->scratch);
        if (bytes > b->r->scratch_bytes)
            b->r->scratch_bytes = bytes;
    }
    int rc = lp_dn_bind_extras(b);
    if (rc)
        return rc;
    return lp_dn_check(dnnl_primitive_create(&b->step->prim, b->pd), b->err, nm,
                       "dnnl_primitive_create");
}
