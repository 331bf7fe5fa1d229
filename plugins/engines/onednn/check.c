/* Structural checks of a node: ids, input counts and shapes, with the output
 * shape the inputs imply compared to the node's own, so a malformed graph
 * fails at prepare rather than letting oneDNN read or write out of bounds.
 * What oneDNN itself can do is decided later by creating the primitive. */
#include "onednn.h"

#include <stdio.h>

void lp_dn_same_pad(int64_t in, int k, int s, int64_t *out, int64_t *pad_l, int64_t *pad_r)
{
    int64_t o = (in + s - 1) / s;
    int64_t total = (o - 1) * s + k - in;
    if (total < 0)
        total = 0;
    *out = o;
    *pad_l = total / 2;
    *pad_r = total - total / 2;
}

static int lp_bad(lp_err *err, const char *prim, const char *why)
{
    return lp_err_set(err, LP_EINVAL, "onednn: %s: %s", prim, why);
}

static int lp_act_ok(lp_act a)
{
    return (int)a >= LP_ACT_NONE && (int)a < LP_ACT_COUNT_;
}

static int lp_conv_shape(const lp_shape *const *in, int n_in, const lp_node *nd, lp_shape *out,
                         lp_err *err)
{
    const lp_shape *x = in[0], *w = in[1];
    int grp = nd->p.conv.groups;
    if (x->rank != 4 || w->rank != 4)
        return lp_bad(err, "conv2d", "x must be NHWC and w OHWI (rank 4)");
    if (nd->p.conv.kh < 1 || nd->p.conv.kw < 1 || nd->p.conv.sh < 1 || nd->p.conv.sw < 1)
        return lp_bad(err, "conv2d", "kernel and stride must be >= 1");
    if (grp < 1 || x->d[3] % grp || w->d[0] % grp)
        return lp_bad(err, "conv2d", "groups must divide Cin and Cout");
    if (w->d[1] != nd->p.conv.kh || w->d[2] != nd->p.conv.kw || w->d[3] != x->d[3] / grp)
        return lp_bad(err, "conv2d", "weights are not [Cout, Kh, Kw, Cin/groups]");
    if (n_in > 2 && lp_shape_numel(in[2]) != w->d[0])
        return lp_bad(err, "conv2d", "bias must have Cout elements");
    if (!lp_act_ok(nd->p.conv.act))
        return lp_bad(err, "conv2d", "unknown fused activation");
    int64_t pl, pr;
    *out = *x;
    lp_dn_same_pad(x->d[1], nd->p.conv.kh, nd->p.conv.sh, &out->d[1], &pl, &pr);
    lp_dn_same_pad(x->d[2], nd->p.conv.kw, nd->p.conv.sw, &out->d[2], &pl, &pr);
    out->d[3] = w->d[0];
    return 0;
}

static int lp_dense_shape(const lp_shape *const *in, int n_in, const lp_node *nd, lp_shape *out,
                          lp_err *err)
{
    const lp_shape *x = in[0], *w = in[1];
    if (w->rank != 2 || w->d[1] != x->d[x->rank - 1])
        return lp_bad(err, "dense", "w must be [N, K] with K the last extent of x");
    if (n_in > 2 && lp_shape_numel(in[2]) != w->d[0])
        return lp_bad(err, "dense", "bias must have N elements");
    if (!lp_act_ok(nd->p.dense.act))
        return lp_bad(err, "dense", "unknown fused activation");
    *out = *x;
    out->d[x->rank - 1] = w->d[0];
    return 0;
}

static int lp_matmul_shape(const lp_shape *a, const lp_shape *b, const lp_node *nd, lp_shape *out,
                           lp_err *err)
{
    if (a->rank != 3 || b->rank != 3)
        return lp_err_set(err, LP_EUNSUPPORTED, "onednn: matmul: needs rank-3 [B, M, K] operands");
    int64_t k = nd->p.matmul.trans_b ? b->d[2] : b->d[1];
    int64_t n = nd->p.matmul.trans_b ? b->d[1] : b->d[2];
    if (k != a->d[2])
        return lp_bad(err, "matmul", "inner extents of a and b differ");
    if (b->d[0] != a->d[0] && b->d[0] != 1)
        return lp_err_set(err, LP_EUNSUPPORTED,
                          "onednn: matmul: b's batch must be 1 or a's batch (no other broadcast)");
    *out = *a;
    out->d[2] = n;
    return 0;
}

static int lp_pool_shape(const lp_shape *x, const lp_node *nd, lp_shape *out, lp_err *err)
{
    if (x->rank != 4)
        return lp_bad(err, "pool", "x must be NHWC (rank 4)");
    *out = *x;
    if (nd->p.pool.kind == LP_POOL_GLOBAL_AVG) {
        out->d[1] = out->d[2] = 1;
        return 0;
    }
    if (nd->p.pool.kind != LP_POOL_MAX && nd->p.pool.kind != LP_POOL_AVG)
        return lp_err_set(err, LP_EUNSUPPORTED, "onednn: pool: unknown pooling kind %d",
                          (int)nd->p.pool.kind);
    if (nd->p.pool.k < 1 || nd->p.pool.s < 1)
        return lp_bad(err, "pool", "window and stride must be >= 1");
    int64_t pl, pr;
    lp_dn_same_pad(x->d[1], nd->p.pool.k, nd->p.pool.s, &out->d[1], &pl, &pr);
    lp_dn_same_pad(x->d[2], nd->p.pool.k, nd->p.pool.s, &out->d[2], &pl, &pr);
    return 0;
}

/* b is a's shape, or [1, ..., 1, C] broadcast over a's last axis. */
static int lp_mul_shape(const lp_shape *a, const lp_shape *b, lp_shape *out, lp_err *err)
{
    *out = *a;
    if (lp_shape_equal(a, b))
        return 0;
    int ones = b->rank <= a->rank;
    for (int i = 0; i < b->rank - 1; i++)
        ones &= b->d[i] == 1;
    if (ones && b->d[b->rank - 1] == a->d[a->rank - 1])
        return 0;
    return lp_err_set(err, LP_EUNSUPPORTED, "onednn: mul: b must have a's shape or be "
                      "[1,...,1,C] broadcast over a's last axis");
}

static int lp_concat_shape(const lp_shape *a, const lp_shape *b, int axis, lp_shape *out,
                           lp_err *err)
{
    axis = lp_dn_axis(axis, a->rank);
    if (a->rank != b->rank || axis < 0 || axis >= a->rank)
        return lp_bad(err, "concat", "ranks differ or axis out of range");
    for (int i = 0; i < a->rank; i++)
        if (i != axis && a->d[i] != b->d[i])
            return lp_bad(err, "concat", "extents off the axis differ");
    *out = *a;
    out->d[axis] += b->d[axis];
    return 0;
}

static int lp_transpose_shape(const lp_shape *x, const int *perm, lp_shape *out, lp_err *err)
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

static int lp_slice_shape(const lp_shape *x, const lp_node *nd, lp_shape *out, lp_err *err)
{
    int axis = lp_dn_axis(nd->p.slice.axis, x->rank);
    if (axis < 0 || axis >= x->rank)
        return lp_bad(err, "slice", "axis out of range");
    if (nd->p.slice.start < 0 || nd->p.slice.len < 1 ||
        nd->p.slice.start + nd->p.slice.len > x->d[axis])
        return lp_bad(err, "slice", "window outside the axis");
    *out = *x;
    out->d[axis] = nd->p.slice.len;
    return 0;
}

/* The output shape the inputs imply. */
static int lp_implied_shape(const lp_graph *g, const lp_node *nd, const lp_shape *const *in,
                            lp_shape *out, lp_err *err)
{
    const lp_shape *x = in[0], *y = in[1];
    *out = *x;
    switch (nd->prim) {
    case LP_PRIM_CONV2D:
        return lp_conv_shape(in, nd->n_in, nd, out, err);
    case LP_PRIM_DENSE:
        return lp_dense_shape(in, nd->n_in, nd, out, err);
    case LP_PRIM_MATMUL:
        return lp_matmul_shape(x, y, nd, out, err);
    case LP_PRIM_POOL:
        return lp_pool_shape(x, nd, out, err);
    case LP_PRIM_ACT:
        return lp_act_ok(nd->p.act.act) ? 0 : lp_bad(err, "act", "unknown activation");
    case LP_PRIM_ADD:
        if (!lp_shape_equal(x, y))
            return lp_err_set(err, LP_EUNSUPPORTED, "onednn: add: a and b must have one shape");
        return lp_act_ok(nd->p.add.act) ? 0 : lp_bad(err, "add", "unknown fused activation");
    case LP_PRIM_MUL:
        return lp_mul_shape(x, y, out, err);
    case LP_PRIM_SOFTMAX:
        return 0;
    case LP_PRIM_LAYERNORM:
        if (lp_shape_numel(y) != x->d[x->rank - 1] || lp_shape_numel(in[2]) != x->d[x->rank - 1])
            return lp_bad(err, "layernorm", "gamma and beta must have C elements");
        return 0;
    case LP_PRIM_CONCAT:
        return lp_concat_shape(x, y, nd->p.concat.axis, out, err);
    case LP_PRIM_RESHAPE:
        *out = g->tensors[nd->out].shape;
        return lp_shape_numel(out) == lp_shape_numel(x) ? 0
                                                         : lp_bad(err, "reshape", "element counts differ");
    case LP_PRIM_TRANSPOSE:
        return lp_transpose_shape(x, nd->p.transpose.perm, out, err);
    case LP_PRIM_SLICE:
        return lp_slice_shape(x, nd, out, err);
    default:
        return lp_err_set(err, LP_EUNSUPPORTED, "onednn: unsupported primitive #%d", (int)nd->prim);
    }
}

static int lp_check_ids(const lp_graph *g, const lp_node *nd, lp_err *err)
{
    static const signed char n[LP_PRIM_COUNT_][2] = {
        [LP_PRIM_CONV2D] = {2, 3}, [LP_PRIM_DENSE] = {2, 3},   [LP_PRIM_MATMUL] = {2, 2},
        [LP_PRIM_POOL] = {1, 1},   [LP_PRIM_ACT] = {1, 1},     [LP_PRIM_ADD] = {2, 2},
        [LP_PRIM_MUL] = {2, 2},    [LP_PRIM_SOFTMAX] = {1, 1}, [LP_PRIM_LAYERNORM] = {3, 3},
        [LP_PRIM_CONCAT] = {2, 2}, [LP_PRIM_RESHAPE] = {1, 1}, [LP_PRIM_TRANSPOSE] = {1, 1},
        [LP_PRIM_SLICE] = {1, 1}};
    const char *nm = lp_prim_name(nd->prim);
    int lo = n[nd->prim][0], hi = n[nd->prim][1];
    if (nd->n_in < lo || nd->n_in > hi)
        return lp_err_set(err, LP_EINVAL, "onednn: %s: %d inputs, expected %d..%d", nm, nd->n_in,
                          lo, hi);
    for (int i = 0; i < nd->n_in; i++) {
        if (nd->in[i] < 0 || (size_t)nd->in[i] >= g->n_tensors)
            return lp_err_set(err, LP_EINVAL, "onednn: %s: input %d is tensor %d of %zu", nm, i,
                              nd->in[i], g->n_tensors);
        int rank = g->tensors[nd->in[i]].shape.rank;
        if (rank < 1 || rank > LP_MAX_RANK)
            return lp_err_set(err, LP_EINVAL, "onednn: %s: input %d has rank %d (1..%d)", nm, i,
                              rank, LP_MAX_RANK);
    }
    if (nd->out < 0 || (size_t)nd->out >= g->n_tensors)
        return lp_err_set(err, LP_EINVAL, "onednn: %s: output is tensor %d of %zu", nm, nd->out,
                          g->n_tensors);
    return 0;
}

int lp_dn_check_node(const lp_graph *g, const lp_node *nd, lp_err *err)
{
    if ((int)nd->prim < 1 || nd->prim >= LP_PRIM_COUNT_)
        return lp_err_set(err, LP_EUNSUPPORTED, "onednn: unsupported primitive #%d", (int)nd->prim);
    int rc = lp_check_ids(g, nd, err);
    if (rc)
        return rc;
    const lp_shape *in[LP_NODE_MAX_IN] = {0};
    for (int i = 0; i < nd->n_in; i++)
        in[i] = &g->tensors[nd->in[i]].shape;
    lp_shape want = {0};
    if ((rc = lp_implied_shape(g, nd, in, &want, err)))
        return rc;
    const lp_shape *got = &g->tensors[nd->out].shape;
    if (!lp_shape_equal(&want, got)) {
        char a[64], b[64];
        return lp_err_set(err, LP_EINVAL, "onednn: %s: output is %s, the inputs give %s",
                          lp_prim_name(nd->prim), lp_shape_str(got, a, sizeof a),
                          lp_shape_str(&want, b, sizeof b));
    }
    return 0;
}
