/* Data movement as oneDNN primitives: concat, and transpose and slice as
 * reorders whose source is a strided or offset view of the input, so each is
 * one pass with no staging copy. (Reshape is an alias made at prepare.) */
#include "onednn.h"

/* Creates a reorder pd from src to dst, then (prepare) binds x viewed through src and the
 * output, and finishes. */
static int lp_dn_reorder(lp_dbuild *b, const dnnl_memory_desc_t *src, const dnnl_memory_desc_t *dst)
{
    const char *nm = lp_prim_name(b->nd->prim);
    dnnl_primitive_attr_t attr = NULL;
    int rc = lp_dn_attr(&attr, b->err, nm);
    if (!rc)
        rc = lp_dn_check(dnnl_reorder_primitive_desc_create(&b->pd, src, b->e->eng, dst,
                                                            b->e->eng, attr),
                         b->err, nm, "dnnl_reorder_primitive_desc_create");
    if (attr)
        dnnl_primitive_attr_destroy(attr);
    if (rc || !b->r)
        return rc;
    dnnl_memory_t from, to;
    rc = lp_dn_mem(b, src, b->r->ten[b->nd->in[0]].buf, &from);
    if (!rc)
        rc = lp_dn_mem(b, dst, b->r->ten[b->nd->out].buf, &to);
    if (rc)
        return rc;
    lp_dn_arg(b, DNNL_ARG_FROM, from);
    lp_dn_arg(b, DNNL_ARG_TO, to);
    return lp_dn_finish(b);
}

int lp_dn_build_concat(lp_dbuild *b)
{
    const char *nm = "concat";
    const lp_shape *y = &b->g->tensors[b->nd->out].shape;
    dnnl_memory_desc_t src[2], dst;
    dnnl_primitive_attr_t attr = NULL;
    int rc = lp_dn_md_plain(&src[0], &b->g->tensors[b->nd->in[0]].shape, dnnl_f32);
    if (!rc)
        rc = lp_dn_md_plain(&src[1], &b->g->tensors[b->nd->in[1]].shape, dnnl_f32);
    if (!rc)
        rc = lp_dn_md_plain(&dst, y, dnnl_f32);
    if (rc)
        return lp_err_set(b->err, rc, "onednn: concat: no memory desc for the operands");
    rc = lp_dn_attr(&attr, b->err, nm);
    if (!rc)
        rc = lp_dn_check(dnnl_concat_primitive_desc_create(&b->pd, &dst, 2,
                                                           lp_dn_axis(b->nd->p.concat.axis, y->rank),
                                                           src, attr, b->e->eng),
                         b->err, nm, "dnnl_concat_primitive_desc_create");
    if (attr)
        dnnl_primitive_attr_destroy(attr);
    if (rc || !b->r)
        return rc;
    dnnl_memory_t m[3];
    for (int i = 0; i < 3 && !rc; i++)
        rc = lp_dn_mem(b, i < 2 ? &src[i] : &dst,
                       b->r->ten[i < 2 ? b->nd->in[i] : b->nd->out].buf, &m[i]);
    if (rc)
        return rc;
    lp_dn_arg(b, DNNL_ARG_MULTIPLE_SRC, m[0]);
    lp_dn_arg(b, DNNL_ARG_MULTIPLE_SRC + 1, m[1]);
    lp_dn_arg(b, DNNL_ARG_DST, m[2]);
    return lp_dn_finish(b);
}

/* The input read in output order: output axis i walks input axis perm[i]. */
int lp_dn_build_transpose(lp_dbuild *b)
{
    const lp_shape *x = &b->g->tensors[b->nd->in[0]].shape;
    const lp_shape *y = &b->g->tensors[b->nd->out].shape;
    dnnl_dims_t xs, dims, strides;
    xs[x->rank - 1] = 1;
    for (int i = x->rank - 2; i >= 0; i--)
        xs[i] = xs[i + 1] * x->d[i + 1];
    for (int i = 0; i < y->rank; i++) {
        dims[i] = y->d[i];
        strides[i] = xs[b->nd->p.transpose.perm[i]];
    }
    dnnl_memory_desc_t src, dst;
    int rc = lp_dn_check(dnnl_memory_desc_init_by_strides(&src, y->rank, dims, b->dt[0], strides),
                         b->err, "transpose", "dnnl_memory_desc_init_by_strides");
    if (!rc && lp_dn_md_plain(&dst, y, b->dt_out))
        rc = lp_err_set(b->err, LP_EINVAL, "onednn: transpose: no memory desc for the output");
    return rc ? rc : lp_dn_reorder(b, &src, &dst);
}

/* The window as a sub-memory (offset view) of the input. */
int lp_dn_build_slice(lp_dbuild *b)
{
    const lp_shape *x = &b->g->tensors[b->nd->in[0]].shape;
    const lp_shape *y = &b->g->tensors[b->nd->out].shape;
    dnnl_dims_t dims = {0}, offs = {0};
    for (int i = 0; i < y->rank; i++)
        dims[i] = y->d[i];
    offs[lp_dn_axis(b->nd->p.slice.axis, x->rank)] = b->nd->p.slice.start;
    dnnl_memory_desc_t parent, src, dst;
    if (lp_dn_md_plain(&parent, x, b->dt[0]) || lp_dn_md_plain(&dst, y, b->dt_out))
        return lp_err_set(b->err, LP_EINVAL, "onednn: slice: no memory desc for the operands");
    int rc = lp_dn_check(dnnl_memory_desc_init_submemory(&src, &parent, dims, offs), b->err,
                         "slice", "dnnl_memory_desc_init_submemory");
    return rc ? rc : lp_dn_reorder(b, &src, &dst);
}
