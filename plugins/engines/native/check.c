/* What the native engine accepts: every primitive, with its shapes checked
 * against the node's output so that a malformed graph fails at prepare
 * instead of writing out of bounds at run. */
#include "native.h"

#include <stdio.h>

/* The primitive's name, or its number when the value is out of the enum. */
static const char *lp_prim_label(lp_prim p, char *buf, size_t size)
{
    const char *name = (p >= 1 && p < LP_PRIM_COUNT_) ? lp_prim_name(p) : NULL;
    if (name)
        return name;
    snprintf(buf, size, "#%d", (int)p);
    return buf;
}

void lp_native_same_pad(int64_t in, int k, int s, int64_t *out, int *pad_before)
{
    int64_t o = (in + s - 1) / s;
    int64_t total = (o - 1) * s + k - in;
    if (total < 0)
        total = 0;
    *out = o;
    *pad_before = (int)(total / 2);
}

static int lp_act_ok(lp_act a)
{
    return (int)a >= LP_ACT_NONE && (int)a < LP_ACT_COUNT_;
}

static int lp_bad(lp_err *err, const char *prim, const char *why)
{
    return lp_err_set(err, LP_EINVAL, "native: %s: %s", prim, why);
}

static int lp_check_conv(const lp_shape *x, const lp_shape *w, const lp_shape *b, const lp_node *nd,
                         lp_shape *out, lp_err *err)
{
    const char *nm = "conv2d";
    int grp = nd->p.conv.groups;
    if (x->rank != 4 || w->rank != 4)
        return lp_bad(err, nm, "x must be NHWC and w OHWI (rank 4)");
    if (grp < 1 || x->d[3] % grp || w->d[0] % grp)
        return lp_bad(err, nm, "groups must divide Cin and Cout");
    if (w->d[3] != x->d[3] / grp || w->d[1] != nd->p.conv.kh || w->d[2] != nd->p.conv.kw)
        return lp_bad(err, nm, "weights are not [Cout, Kh, Kw, Cin/groups]");
    if (nd->p.conv.sh < 1 || nd->p.conv.sw < 1 || nd->p.conv.kh < 1 || nd->p.conv.kw < 1)
        return lp_bad(err, nm, "kernel and stride must be >= 1");
    if (b && lp_shape_numel(b) != w->d[0])
        return lp_bad(err, nm, "bias must have Cout elements");
    if (!lp_act_ok(nd->p.conv.act))
        return lp_bad(err, nm, "unknown fused activation");
    int pad;
    *out = *x;
    lp_native_same_pad(x->d[1], nd->p.conv.kh, nd->p.conv.sh, &out->d[1], &pad);
    lp_native_same_pad(x->d[2], nd->p.conv.kw, nd->p.conv.sw, &out->d[2], &pad);
    out->d[3] = w->d[0];
    return 0;
}

static int lp_check_dense(const lp_shape *x, const lp_shape *w, const lp_shape *b,
                          const lp_node *nd, lp_shape *out, lp_err *err)
{
    if (w->rank != 2 || w->d[1] != x->d[x->rank - 1])
        return lp_bad(err, "dense", "w must be [N, K] with K the last extent of x");
    if (b && lp_shape_numel(b) != w->d[0])
        return lp_bad(err, "dense", "bias must have N elements");
    if (!lp_act_ok(nd->p.dense.act))
        return lp_bad(err, "dense", "unknown fused activation");
    *out = *x;
    out->d[x->rank - 1] = w->d[0];
    return 0;
}

static int64_t lp_batch(const lp_shape *s)
{
    int64_t b = 1;
    for (int i = 0; i < s->rank - 2; i++)
        b *= s->d[i];
    return b;
}

static int lp_check_matmul(const lp_shape *a, const lp_shape *b, const lp_node *nd, lp_shape *out,
                           lp_err *err)
{
    if (a->rank < 2 || b->rank < 2)
        return lp_bad(err, "matmul", "a and b need rank >= 2");
    int ra = a->rank, rb = b->rank;
    int64_t k = a->d[ra - 1];
    int64_t bk = nd->p.matmul.trans_b ? b->d[rb - 1] : b->d[rb - 2];
    int64_t n = nd->p.matmul.trans_b ? b->d[rb - 2] : b->d[rb - 1];
    if (bk != k)
        return lp_bad(err, "matmul", "inner extents of a and b differ");
    int64_t bb = lp_batch(b);
    if (bb != 1 && bb != lp_batch(a))
        return lp_err_set(err, LP_EUNSUPPORTED,
                          "native: matmul: b's batch must be 1 or a's batch (no other broadcast)");
    *out = *a;
    out->d[ra - 1] = n;
    return 0;
}

static int lp_check_pool(const lp_shape *x, const lp_node *nd, lp_shape *out, lp_err *err)
{
    if (x->rank != 4)
        return lp_bad(err, "pool", "x must be NHWC (rank 4)");
    *out = *x;
    lp_pool_kind kind = nd->p.pool.kind;
    if (kind == LP_POOL_GLOBAL_AVG) {
        out->d[1] = out->d[2] = 1;
        return 0;
    }
    if (kind != LP_POOL_MAX && kind != LP_POOL_AVG)
        return lp_err_set(err, LP_EUNSUPPORTED, "native: pool: unknown pooling kind %d", (int)kind);
    if (nd->p.pool.k < 1 || nd->p.pool.s < 1)
        return lp_bad(err, "pool", "window and stride must be >= 1");
    int pad;
    lp_native_same_pad(x->d[1], nd->p.pool.k, nd->p.pool.s, &out->d[1], &pad);
    lp_native_same_pad(x->d[2], nd->p.pool.k, nd->p.pool.s, &out->d[2], &pad);
    return 0;
}

static int lp_check_mul(const lp_shape *a, const lp_shape *b, lp_shape *out, lp_err *err)
{
    *out = *a;
    if (lp_shape_equal(a, b))
        return 0;
    int leading_ones = 1;
    for (int i = 0; i < b->rank - 1; i++)
        leading_ones &= b->d[i] == 1;
    if (leading_ones && b->rank >= 1 && b->d[b->rank - 1] == a->d[a->rank - 1])
        return 0;
    return lp_err_set(err, LP_EUNSUPPORTED,
                      "native: mul: b must have a's shape or broadcast over the last axis "
                      "([1,...,1,C])");
}

static int lp_check_concat(const lp_shape *a, const lp_shape *b, int axis, lp_shape *out,
                           lp_err *err)
{
    axis = lp_native_axis(axis, a->rank);
    if (a->rank != b->rank || axis < 0 || axis >= a->rank)
        return lp_bad(err, "concat", "ranks differ or axis out of range");
    for (int i = 0; i < a->rank; i++)
        if (i != axis && a->d[i] != b->d[i])
            return lp_bad(err, "concat", "extents off the axis differ");
    *out = *a;
    out->d[axis] += b->d[axis];
    return 0;
}

static int lp_check_transpose(const lp_shape *x, const int *perm, lp_shape *out, lp_err *err)
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

static int lp_check_slice(const lp_shape *x, const lp_node *nd, lp_shape *out, lp_err *err)
{
    int axis = lp_native_axis(nd->p.slice.axis, x->rank);
    if (axis < 0 || axis >= x->rank)
        return lp_bad(err, "slice", "axis out of range");
    if (nd->p.slice.start < 0 || nd->p.slice.len < 1 ||
        nd->p.slice.start + nd->p.slice.len > x->d[axis])
        return lp_bad(err, "slice", "window outside the axis");
    *out = *x;
    out->d[axis] = nd->p.slice.len;
    return 0;
}

static int lp_expected_inputs(lp_prim p, int *lo, int *hi)
{
    static const signed char n[LP_PRIM_COUNT_][2] = {
        [LP_PRIM_CONV2D] = {2, 3}, [LP_PRIM_DENSE] = {2, 3},   [LP_PRIM_MATMUL] = {2, 2},
        [LP_PRIM_POOL] = {1, 1},   [LP_PRIM_ACT] = {1, 1},     [LP_PRIM_ADD] = {2, 2},
        [LP_PRIM_MUL] = {2, 2},    [LP_PRIM_SOFTMAX] = {1, 1}, [LP_PRIM_LAYERNORM] = {3, 3},
        [LP_PRIM_CONCAT] = {2, 2}, [LP_PRIM_RESHAPE] = {1, 1}, [LP_PRIM_TRANSPOSE] = {1, 1},
        [LP_PRIM_SLICE] = {1, 1}};
    *lo = n[p][0];
    *hi = n[p][1];
    return *lo > 0;
}

/* Output shape the node must have, or an error. */
static int lp_check_shapes(const lp_graph *g, const lp_node *nd, const lp_shape *const *in,
                           lp_shape *out, lp_err *err)
{
    const lp_shape *x = in[0], *y = nd->n_in > 1 ? in[1] : NULL;
    switch (nd->prim) {
    case LP_PRIM_CONV2D:
        return lp_check_conv(x, y, nd->n_in > 2 ? in[2] : NULL, nd, out, err);
    case LP_PRIM_DENSE:
        return lp_check_dense(x, y, nd->n_in > 2 ? in[2] : NULL, nd, out, err);
    case LP_PRIM_MATMUL:
        return lp_check_matmul(x, y, nd, out, err);
    case LP_PRIM_POOL:
        return lp_check_pool(x, nd, out, err);
    case LP_PRIM_ACT:
        *out = *x;
        return lp_act_ok(nd->p.act.act) ? 0 : lp_bad(err, "act", "unknown activation");
    case LP_PRIM_ADD:
        *out = *x;
        if (!lp_shape_equal(x, y))
            return lp_err_set(err, LP_EUNSUPPORTED, "native: add: a and b must have one shape");
        return lp_act_ok(nd->p.add.act) ? 0 : lp_bad(err, "add", "unknown fused activation");
    case LP_PRIM_MUL:
        return lp_check_mul(x, y, out, err);
    case LP_PRIM_SOFTMAX:
        *out = *x;
        return 0;
    case LP_PRIM_LAYERNORM:
        *out = *x;
        if (lp_shape_numel(y) != x->d[x->rank - 1] || lp_shape_numel(in[2]) != x->d[x->rank - 1])
            return lp_bad(err, "layernorm", "gamma and beta must have C elements");
        return 0;
    case LP_PRIM_CONCAT:
        return lp_check_concat(x, y, nd->p.concat.axis, out, err);
    case LP_PRIM_RESHAPE:
        *out = g->tensors[nd->out].shape;
        return lp_shape_numel(out) == lp_shape_numel(x)
                   ? 0 : lp_bad(err, "reshape", "element counts differ");
    case LP_PRIM_TRANSPOSE:
        return lp_check_transpose(x, nd->p.transpose.perm, out, err);
    case LP_PRIM_SLICE:
        return lp_check_slice(x, nd, out, err);
    default:
        return lp_err_set(err, LP_EUNSUPPORTED, "native: unsupported primitive #%d", (int)nd->prim);
    }
}

static int lp_check_ids(const lp_graph *g, const lp_node *nd, const char *nm, lp_err *err)
{
    int lo, hi;
    lp_expected_inputs(nd->prim, &lo, &hi);
    if (nd->n_in < lo || nd->n_in > hi)
        return lp_err_set(err, LP_EINVAL, "native: %s: %d inputs, expected %d..%d", nm, nd->n_in,
                          lo, hi);
    for (int i = 0; i < nd->n_in; i++) {
        if (nd->in[i] < 0 || (size_t)nd->in[i] >= g->n_tensors)
            return lp_err_set(err, LP_EINVAL, "native: %s: input %d is tensor %d of %zu", nm, i,
                              nd->in[i], g->n_tensors);
        const lp_shape *s = &g->tensors[nd->in[i]].shape;
        if (s->rank < 1 || s->rank > LP_MAX_RANK)
            return lp_err_set(err, LP_EUNSUPPORTED, "native: %s: input %d has rank %d (1..%d)",
                              nm, i, s->rank, LP_MAX_RANK);
    }
    if (nd->out < 0 || (size_t)nd->out >= g->n_tensors)
        return lp_err_set(err, LP_EINVAL, "native: %s: output is tensor %d of %zu", nm, nd->out,
                          g->n_tensors);
    return 0;
}

int lp_native_check(const lp_graph *g, const lp_node *nd, lp_err *err)
{
    char buf[32];
    const char *nm = lp_prim_label(nd->prim, buf, sizeof buf);
    if ((int)nd->prim < 1 || nd->prim >= LP_PRIM_COUNT_)
        return lp_err_set(err, LP_EUNSUPPORTED, "native: unsupported primitive %s", nm);
    int rc = lp_check_ids(g, nd, nm, err);
    if (rc)
        return rc;
    const lp_shape *in[LP_NODE_MAX_IN] = {0};
    for (int i = 0; i < nd->n_in; i++)
        in[i] = &g->tensors[nd->in[i]].shape;
    lp_shape want = {0};
    rc = lp_check_shapes(g, nd, in, &want, err);
    if (rc)
        return rc;
    const lp_shape *got = &g->tensors[nd->out].shape;
    if (!lp_shape_equal(&want, got)) {
        char a[64], b[64];
        return lp_err_set(err, LP_EINVAL, "native: %s: output is %s, the inputs give %s", nm,
                          lp_shape_str(got, a, sizeof a), lp_shape_str(&want, b, sizeof b));
    }
    return 0;
}
