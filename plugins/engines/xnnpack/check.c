/* Structural checks of a node before it is lowered: XNNPACK trusts the sizes
 * it is given, so a malformed graph must fail here with LP_EINVAL instead of
 * reading or writing out of bounds at run. */
#include "xnn.h"

#include <stdio.h>

static int lp_bad(lp_err *err, const char *prim, const char *why)
{
    return lp_err_set(err, LP_EINVAL, "xnnpack: %s: %s", prim, why);
}

static int lp_xinputs_ok(const lp_graph *g, const lp_node *nd, const char *nm, lp_err *err)
{
    static const signed char lim[LP_PRIM_COUNT_][2] = {
        [LP_PRIM_CONV2D] = {2, 3}, [LP_PRIM_DENSE] = {2, 3},   [LP_PRIM_MATMUL] = {2, 2},
        [LP_PRIM_POOL] = {1, 1},   [LP_PRIM_ACT] = {1, 1},     [LP_PRIM_ADD] = {2, 2},
        [LP_PRIM_MUL] = {2, 2},    [LP_PRIM_SOFTMAX] = {1, 1}, [LP_PRIM_LAYERNORM] = {3, 3},
        [LP_PRIM_CONCAT] = {2, 2}, [LP_PRIM_RESHAPE] = {1, 1}, [LP_PRIM_TRANSPOSE] = {1, 1},
        [LP_PRIM_SLICE] = {1, 1}};
    if (nd->n_in < lim[nd->prim][0] || nd->n_in > lim[nd->prim][1])
        return lp_err_set(err, LP_EINVAL, "xnnpack: %s: %d inputs, expected %d..%d", nm, nd->n_in,
                          lim[nd->prim][0], lim[nd->prim][1]);
    for (int i = 0; i < nd->n_in; i++) {
        if (nd->in[i] < 0 || (size_t)nd->in[i] >= g->n_tensors)
            return lp_err_set(err, LP_EINVAL, "xnnpack: %s: input %d is tensor %d of %zu", nm, i,
                              nd->in[i], g->n_tensors);
        int rank = g->tensors[nd->in[i]].shape.rank;
        if (rank < 1 || rank > LP_MAX_RANK)
            return lp_err_set(err, LP_EINVAL, "xnnpack: %s: input %d has rank %d", nm, i, rank);
    }
    if (nd->out < 0 || (size_t)nd->out >= g->n_tensors)
        return lp_err_set(err, LP_EINVAL, "xnnpack: %s: output is tensor %d of %zu", nm, nd->out,
                          g->n_tensors);
    return 0;
}

static int64_t lp_same_out(int64_t in, int s)
{
    return (in + s - 1) / s;
}

static int lp_xconv_shape(const lp_shape *const *in, const lp_node *nd, lp_shape *out, lp_err *err)
{
    const lp_shape *x = in[0], *w = in[1];
    int grp = nd->p.conv.groups;
    if (x->rank != 4 || w->rank != 4 || grp < 1 || x->d[3] % grp || w->d[0] % grp)
        return lp_bad(err, "conv2d", "x must be NHWC, w OHWI, groups dividing Cin and Cout");
    if (w->d[3] != x->d[3] / grp || w->d[1] != nd->p.conv.kh || w->d[2] != nd->p.conv.kw ||
        nd->p.conv.sh < 1 || nd->p.conv.sw < 1 || nd->p.conv.kh < 1 || nd->p.conv.kw < 1)
        return lp_bad(err, "conv2d", "weights are not [Cout, Kh, Kw, Cin/groups] or a stride < 1");
    if (nd->n_in > 2 && lp_shape_numel(in[2]) != w->d[0])
        return lp_bad(err, "conv2d", "bias must have Cout elements");
    *out = lp_shape_make(4, x->d[0], lp_same_out(x->d[1], nd->p.conv.sh),
                         lp_same_out(x->d[2], nd->p.conv.sw), w->d[0]);
    return 0;
}

static int lp_xdense_shape(const lp_shape *const *in, const lp_node *nd, lp_shape *out, lp_err *err)
{
    const lp_shape *x = in[0], *w = in[1];
    if (w->rank != 2 || w->d[1] != x->d[x->rank - 1])
        return lp_bad(err, "dense", "w must be [N, K] with K the last extent of x");
    if (nd->n_in > 2 && lp_shape_numel(in[2]) != w->d[0])
        return lp_bad(err, "dense", "bias must have N elements");
    *out = *x;
    out->d[x->rank - 1] = w->d[0];
    return 0;
}

static int lp_xmatmul_shape(const lp_shape *const *in, const lp_node *nd, lp_shape *out,
                            lp_err *err)
{
    const lp_shape *a = in[0], *b = in[1];
    if (a->rank != 3 || b->rank != 3 || (b->d[0] != a->d[0] && b->d[0] != 1))
        return lp_bad(err, "matmul", "a and b must be [B, M, K] and [B or 1, K, N]");
    int tb = nd->p.matmul.trans_b;
    if ((tb ? b->d[2] : b->d[1]) != a->d[2])
        return lp_bad(err, "matmul", "inner extents of a and b differ");
    *out = lp_shape_make(3, a->d[0], a->d[1], tb ? b->d[1] : b->d[2], 0);
    return 0;
}

static int lp_xpool_shape(const lp_shape *x, const lp_node *nd, lp_shape *out, lp_err *err)
{
    if (x->rank != 4)
        return lp_bad(err, "pool", "x must be NHWC (rank 4)");
    *out = *x;
    if (nd->p.pool.kind == LP_POOL_GLOBAL_AVG) {
        out->d[1] = out->d[2] = 1;
        return 0;
    }
    if (nd->p.pool.kind != LP_POOL_MAX && nd->p.pool.kind != LP_POOL_AVG)
        return lp_bad(err, "pool", "unknown pooling kind");
    if (nd->p.pool.k < 1 || nd->p.pool.s < 1)
        return lp_bad(err, "pool", "window and stride must be >= 1");
    out->d[1] = lp_same_out(x->d[1], nd->p.pool.s);
    out->d[2] = lp_same_out(x->d[2], nd->p.pool.s);
    return 0;
}

static int lp_xconcat_shape(const lp_shape *a, const lp_shape *b, int axis, lp_shape *out,
                            lp_err *err)
{
    if (a->rank != b->rank || axis < 0 || axis >= a->rank)
        return lp_bad(err, "concat", "ranks differ or axis out of range");
    for (int i = 0; i < a->rank; i++)
        if (i != axis && a->d[i] != b->d[i])
            return lp_bad(err, "concat", "extents off the axis differ");
    *out = *a;
    out->d[axis] += b->d[axis];
    return 0;
}

static int lp_xtranspose_shape(const lp_shape *x, const int *perm, lp_shape *out, lp_err *err)
{
    int seen[LP_MAX_RANK] = {0};
    *out = *x;
    for (int i = 0; i < x->rank; i++) {
        if (perm[i] < 0 || perm[i] >= x->rank || seen[perm[i]]++)
            return lp_bad(err, "transpose", "perm is not a permutation of the axes");
        out->d[i] = x->d[perm[i]];
    }
    return 0;
}

static int lp_xslice_shape(const lp_shape *x, const lp_node *nd, lp_shape *out, lp_err *err)
{
    int axis = nd->p.slice.axis;
    if (axis < 0 || axis >= x->rank || nd->p.slice.start < 0 || nd->p.slice.len < 1 ||
        nd->p.slice.start + nd->p.slice.len > x->d[axis])
        return lp_bad(err, "slice", "axis or window outside the input");
    *out = *x;
    out->d[axis] = nd->p.slice.len;
    return 0;
}

static int lp_xmul_shape(const lp_shape *a, const lp_shape *b, lp_shape *out, lp_err *err)
{
    *out = *a;
    if (lp_shape_equal(a, b))
        return 0;
    for (int i = 0; i < b->rank - 1; i++)
        if (b->d[i] != 1)
            return lp_bad(err, "mul", "b must have a's shape or be [1, ..., 1, C]");
    return b->d[b->rank - 1] == a->d[a->rank - 1]
               ? 0 : lp_bad(err, "mul", "b must have a's shape or be [1, ..., 1, C]");
}

/* The output shape the node must have, or LP_EINVAL. */
static int lp_xexpect(const lp_graph *g, const lp_node *nd, const lp_shape *const *in,
                      lp_shape *out, lp_err *err)
{
    const lp_shape *x = in[0];
    *out = *x;
    switch (nd->prim) {
    case LP_PRIM_CONV2D:
        return lp_xconv_shape(in, nd, out, err);
    case LP_PRIM_DENSE:
        return lp_xdense_shape(in, nd, out, err);
    case LP_PRIM_MATMUL:
        return lp_xmatmul_shape(in, nd, out, err);
    case LP_PRIM_POOL:
        return lp_xpool_shape(x, nd, out, err);
    case LP_PRIM_ADD:
        return lp_shape_equal(x, in[1]) ? 0 : lp_bad(err, "add", "a and b must have one shape");
    case LP_PRIM_MUL:
        return lp_xmul_shape(x, in[1], out, err);
    case LP_PRIM_LAYERNORM:
        return lp_shape_numel(in[1]) == x->d[x->rank - 1] && lp_shape_numel(in[2]) == x->d[x->rank - 1]
                   ? 0 : lp_bad(err, "layernorm", "gamma and beta must have C elements");
    case LP_PRIM_CONCAT:
        return lp_xconcat_shape(x, in[1], nd->p.concat.axis, out, err);
    case LP_PRIM_RESHAPE:
        *out = g->tensors[nd->out].shape;
        return lp_shape_numel(out) == lp_shape_numel(x)
                   ? 0 : lp_bad(err, "reshape", "element counts differ");
    case LP_PRIM_TRANSPOSE:
        return lp_xtranspose_shape(x, nd->p.transpose.perm, out, err);
    case LP_PRIM_SLICE:
        return lp_xslice_shape(x, nd, out, err);
    default: /* act, softmax: the input's shape */
        return 0;
    }
}

int lp_xcheck_node(const lp_graph *g, const lp_node *nd, lp_err *err)
{
    if ((int)nd->prim < 1 || nd->prim >= LP_PRIM_COUNT_)
        return lp_err_set(err, LP_EUNSUPPORTED, "xnnpack: unknown primitive #%d", (int)nd->prim);
    const char *nm = lp_prim_name(nd->prim);
    int rc = lp_xinputs_ok(g, nd, nm, err);
    if (rc)
        return rc;
    const lp_shape *in[LP_NODE_MAX_IN] = {0};
    for (int i = 0; i < nd->n_in; i++)
        in[i] = &g->tensors[nd->in[i]].shape;
    lp_shape want;
    if ((rc = lp_xexpect(g, nd, in, &want, err)))
        return rc;
    const lp_shape *got = &g->tensors[nd->out].shape;
    if (!lp_shape_equal(&want, got)) {
        char a[64], b[64];
        return lp_err_set(err, LP_EINVAL, "xnnpack: %s: output is %s, the inputs give %s", nm,
                          lp_shape_str(got, a, sizeof a), lp_shape_str(&want, b, sizeof b));
    }
    return 0;
}
