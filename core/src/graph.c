/* Primitive graphs: shapes, names, builders with shape checks, deterministic fill.
 * Builders validate everything and reserve room before touching the graph, so a
 * failed builder leaves it exactly as it was. */
#include <litepred/graph.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- shapes ---------------------------------------------------------- */

int64_t lp_shape_numel(const lp_shape *s)
{
    if (!s || s->rank < 1 || s->rank > LP_MAX_RANK)
        return 0;
    int64_t n = 1;
    for (int i = 0; i < s->rank; i++)
        n *= s->d[i];
    return n;
}

lp_shape lp_shape_make(int rank, int64_t d0, int64_t d1, int64_t d2, int64_t d3)
{
    lp_shape s = {.rank = rank, .d = {d0, d1, d2, d3}};
    for (int i = rank < 0 ? 0 : rank; i < LP_MAX_RANK; i++)
        s.d[i] = 0;
    return s;
}

lp_shape lp_shape_nhwc(int64_t h, int64_t w, int64_t c)
{
    return lp_shape_make(4, 1, h, w, c);
}

int64_t lp_out_size(int64_t in, int64_t s)
{
    return s > 0 ? (in + s - 1) / s : 0;
}

int lp_shape_equal(const lp_shape *a, const lp_shape *b)
{
    if (a->rank != b->rank)
        return 0;
    for (int i = 0; i < a->rank && i < LP_MAX_RANK; i++)
        if (a->d[i] != b->d[i])
            return 0;
    return 1;
}

char *lp_shape_str(const lp_shape *s, char *buf, size_t size)
{
    if (!buf || size == 0)
        return buf;
    buf[0] = '\0';
    if (!s || s->rank < 1 || s->rank > LP_MAX_RANK) {
        snprintf(buf, size, "(rank %d)", s ? s->rank : 0);
        return buf;
    }
    size_t len = 0;
    for (int i = 0; i < s->rank && len < size; i++) {
        int n = snprintf(buf + len, size - len, "%s%lld", i ? "x" : "", (long long)s->d[i]);
        if (n < 0)
            break;
        len += (size_t)n;
    }
    return buf;
}

/* A shape a tensor may have: rank 1..4, positive extents, bounded size. */
static int shape_ok(const lp_shape *s, const char *what, lp_err *err)
{
    if (s->rank < 1 || s->rank > LP_MAX_RANK)
        return lp_err_set(err, LP_EINVAL, "%s: rank %d is not in 1..%d", what, s->rank, LP_MAX_RANK);
    int64_t n = 1;
    for (int i = 0; i < s->rank; i++) {
        if (s->d[i] < 1)
            return lp_err_set(err, LP_EINVAL, "%s: extent %d is %lld, must be >= 1", what, i,
                              (long long)s->d[i]);
        if (s->d[i] > LP_MAX_NUMEL || n > LP_MAX_NUMEL / s->d[i])
            return lp_err_set(err, LP_EINVAL, "%s: more than %lld elements", what,
                              (long long)LP_MAX_NUMEL);
        n *= s->d[i];
    }
    return 0;
}

/* ---- names ----------------------------------------------------------- */

static const char *const prim_names[LP_PRIM_COUNT_] = {
    [LP_PRIM_CONV2D] = "conv2d",   [LP_PRIM_DENSE] = "dense",         [LP_PRIM_MATMUL] = "matmul",
    [LP_PRIM_POOL] = "pool",       [LP_PRIM_ACT] = "act",             [LP_PRIM_ADD] = "add",
    [LP_PRIM_MUL] = "mul",         [LP_PRIM_SOFTMAX] = "softmax",     [LP_PRIM_LAYERNORM] = "layernorm",
    [LP_PRIM_CONCAT] = "concat",   [LP_PRIM_RESHAPE] = "reshape",     [LP_PRIM_TRANSPOSE] = "transpose",
    [LP_PRIM_SLICE] = "slice",
};

static const char *const act_names[LP_ACT_COUNT_] = {
    [LP_ACT_NONE] = "none",   [LP_ACT_RELU] = "relu",         [LP_ACT_RELU6] = "relu6",
    [LP_ACT_HSWISH] = "hswish", [LP_ACT_HSIGMOID] = "hsigmoid", [LP_ACT_SWISH] = "swish",
    [LP_ACT_SIGMOID] = "sigmoid", [LP_ACT_GELU] = "gelu",
};

const char *lp_prim_name(lp_prim p)
{
    if ((int)p < 1 || (int)p >= LP_PRIM_COUNT_)
        return "unknown";
    return prim_names[p];
}

const char *lp_act_name(lp_act a)
{
    if ((int)a < 0 || (int)a >= LP_ACT_COUNT_)
        return "unknown";
    return act_names[a];
}

int lp_act_parse(const char *name)
{
    if (!name)
        return -1;
    for (int a = 0; a < LP_ACT_COUNT_; a++)
        if (!strcmp(name, act_names[a]))
            return a;
    return -1;
}

/* ---- graph storage ----------------------------------------------------- */

void lp_graph_init(lp_graph *g)
{
    memset(g, 0, sizeof *g);
}

void lp_graph_free(lp_graph *g)
{
    if (!g)
        return;
    for (size_t i = 0; i < g->n_tensors; i++)
        free(g->tensors[i].data);
    free(g->tensors);
    free(g->nodes);
    free(g->outputs);
    lp_graph_init(g);
}

/* Grows an array so it holds at least need items (doubling, so appends are amortised O(1)). */
static int grow(void **arr, size_t *cap, size_t need, size_t item, lp_err *err)
{
    if (need <= *cap)
        return 0;
    size_t nc = *cap ? *cap : 16;
    while (nc < need)
        nc *= 2;
    void *p = realloc(*arr, nc * item);
    if (!p)
        return lp_err_set(err, LP_ENOMEM, "graph: out of memory growing to %zu items", nc);
    *arr = p;
    *cap = nc;
    return 0;
}

/* Reserves room for extra tensors and nodes so the append that follows cannot fail. */
static int reserve(lp_graph *g, size_t tensors, size_t nodes, lp_err *err)
{
    int rc = grow((void **)&g->tensors, &g->cap_tensors, g->n_tensors + tensors, sizeof(lp_tensor), err);
    if (rc < 0)
        return rc;
    return grow((void **)&g->nodes, &g->cap_nodes, g->n_nodes + nodes, sizeof(lp_node), err);
}

/* Appends a tensor; room must be reserved. */
static int push_tensor(lp_graph *g, lp_shape shape, lp_tensor_role role, int producer)
{
    lp_tensor *t = &g->tensors[g->n_tensors];
    memset(t, 0, sizeof *t);
    t->shape = shape;
    t->role = role;
    t->producer = producer;
    return (int)g->n_tensors++;
}

/* Fetches tensor t's shape, failing with the primitive's name when t is not a tensor of g. */
static int get_shape(const lp_graph *g, int t, const char *what, lp_shape *out, lp_err *err)
{
    if (!g)
        return lp_err_set(err, LP_EINVAL, "%s: graph is NULL", what);
    if (t < 0 || (size_t)t >= g->n_tensors)
        return lp_err_set(err, LP_EINVAL, "%s: input tensor %d does not exist (the graph has %zu tensors)",
                          what, t, g->n_tensors);
    *out = g->tensors[t].shape;
    return 0;
}

static int check_act(lp_act act, const char *what, lp_err *err)
{
    if ((int)act < 0 || (int)act >= LP_ACT_COUNT_)
        return lp_err_set(err, LP_EINVAL, "%s: activation %d is not an lp_act", what, (int)act);
    return 0;
}

static int add_tensor(lp_graph *g, lp_shape shape, lp_tensor_role role, const char *what, lp_err *err)
{
    if (!g)
        return lp_err_set(err, LP_EINVAL, "%s: graph is NULL", what);
    int rc = shape_ok(&shape, what, err);
    if (rc < 0)
        return rc;
    if ((rc = reserve(g, 1, 0, err)) < 0)
        return rc;
    return push_tensor(g, shape, role, -1);
}

/* ---- node checks ------------------------------------------------------- */
/* One set of rules for builders and engines: a builder runs them before it
 * touches the graph, an engine through lp_graph_node_check before it trusts a
 * node's shapes, so the two cannot disagree about what is well-formed. */

/* What the rules see of a node: a builder's weights are shapes, not tensors, yet. */
typedef struct node_view {
    lp_node n;                   /* the node; weight slots of n.in are unset for a builder */
    lp_shape in[LP_NODE_MAX_IN]; /* its input shapes, weights included */
    lp_shape target;             /* reshape's output shape, its only parameter */
    int rc;                      /* a builder's first failure, returned by finish_node */
} node_view;

/* The last extent; 0 for a rank the rules reject anyway. */
static int64_t last_extent(const lp_shape *s)
{
    return s->rank >= 1 && s->rank <= LP_MAX_RANK ? s->d[s->rank - 1] : 0;
}

static int check_bias(const node_view *v, int64_t want, lp_err *err)
{
    char b[64];
    const lp_shape *bias = &v->in[2];
    if (v->n.n_in > 2 && lp_shape_numel(bias) != want)
        return lp_err_set(err, LP_EINVAL, "%s: bias %s has %lld elements, needs %lld",
                          lp_prim_name(v->n.prim), lp_shape_str(bias, b, sizeof b),
                          (long long)lp_shape_numel(bias), (long long)want);
    return 0;
}

static int check_conv_params(const node_view *v, lp_err *err)
{
    const lp_shape *x = &v->in[0], *w = &v->in[1];
    int kh = v->n.p.conv.kh, kw = v->n.p.conv.kw, sh = v->n.p.conv.sh, sw = v->n.p.conv.sw;
    int groups = v->n.p.conv.groups;
    char b[64];
    if (w->d[0] < 1 || kh < 1 || kw < 1 || sh < 1 || sw < 1 || groups < 1)
        return lp_err_set(err, LP_EINVAL, "conv2d: cout=%lld, k=%dx%d, s=%dx%d, groups=%d must all be >= 1",
                          (long long)w->d[0], kh, kw, sh, sw, groups);
    if (x->d[3] % groups || w->d[0] % groups)
        return lp_err_set(err, LP_EINVAL,
                          "conv2d: groups=%d must divide the input channels (%lld, input %s) and cout (%lld)",
                          groups, (long long)x->d[3], lp_shape_str(x, b, sizeof b), (long long)w->d[0]);
    return check_act(v->n.p.conv.act, "conv2d", err);
}

static int check_conv2d(const node_view *v, lp_shape *out, lp_err *err)
{
    const lp_shape *x = &v->in[0], *w = &v->in[1];
    const lp_node *n = &v->n;
    char b[64];
    if (x->rank != 4)
        return lp_err_set(err, LP_EINVAL, "conv2d: input %s is rank %d, needs NHWC (rank 4)",
                          lp_shape_str(x, b, sizeof b), x->rank);
    if (w->rank != 4)
        return lp_err_set(err, LP_EINVAL, "conv2d: weights %s are rank %d, need OHWI (rank 4)",
                          lp_shape_str(w, b, sizeof b), w->rank);
    int rc = check_conv_params(v, err);
    if (rc < 0)
        return rc;
    int64_t cin_g = x->d[3] / n->p.conv.groups;
    if (w->d[1] != n->p.conv.kh || w->d[2] != n->p.conv.kw || w->d[3] != cin_g)
        return lp_err_set(err, LP_EINVAL,
                          "conv2d: weights %s are not [Cout, Kh, Kw, Cin/groups] = [%lld, %d, %d, %lld]",
                          lp_shape_str(w, b, sizeof b), (long long)w->d[0], n->p.conv.kh, n->p.conv.kw,
                          (long long)cin_g);
    if ((rc = check_bias(v, w->d[0], err)) < 0)
        return rc;
    *out = lp_shape_make(4, x->d[0], lp_out_size(x->d[1], n->p.conv.sh), lp_out_size(x->d[2], n->p.conv.sw),
                         w->d[0]);
    return 0;
}

static int check_dense(const node_view *v, lp_shape *out, lp_err *err)
{
    const lp_shape *x = &v->in[0], *w = &v->in[1];
    char s1[64], s2[64];
    if (w->rank != 2)
        return lp_err_set(err, LP_EINVAL, "dense: weights %s are rank %d, need [N, K]",
                          lp_shape_str(w, s1, sizeof s1), w->rank);
    if (w->d[0] < 1)
        return lp_err_set(err, LP_EINVAL, "dense: %lld outputs, must be >= 1", (long long)w->d[0]);
    if (w->d[1] != last_extent(x))
        return lp_err_set(err, LP_EINVAL, "dense: weights %s do not take the last extent of input %s",
                          lp_shape_str(w, s1, sizeof s1), lp_shape_str(x, s2, sizeof s2));
    int rc = check_act(v->n.p.dense.act, "dense", err);
    if (rc < 0 || (rc = check_bias(v, w->d[0], err)) < 0)
        return rc;
    *out = *x;
    out->d[x->rank - 1] = w->d[0];
    return 0;
}

static int check_matmul(const node_view *v, lp_shape *out, lp_err *err)
{
    const lp_shape *a = &v->in[0], *bs = &v->in[1];
    int trans_b = v->n.p.matmul.trans_b;
    char s1[64], s2[64];
    if (a->rank != 3 || bs->rank != 3)
        return lp_err_set(err, LP_EINVAL, "matmul: needs rank-3 [B, M, K] operands, got %s and %s",
                          lp_shape_str(a, s1, sizeof s1), lp_shape_str(bs, s2, sizeof s2));
    int64_t kb = trans_b ? bs->d[2] : bs->d[1], nb = trans_b ? bs->d[1] : bs->d[2];
    if (a->d[0] != bs->d[0] || a->d[2] != kb)
        return lp_err_set(err, LP_EINVAL,
                          "matmul: shapes %s and %s%s do not match (batch %lld vs %lld, K %lld vs %lld)",
                          lp_shape_str(a, s1, sizeof s1), lp_shape_str(bs, s2, sizeof s2),
                          trans_b ? " (transposed)" : "", (long long)a->d[0], (long long)bs->d[0],
                          (long long)a->d[2], (long long)kb);
    if (!isfinite(v->n.p.matmul.alpha))
        return lp_err_set(err, LP_EINVAL, "matmul: alpha is not finite");
    *out = lp_shape_make(3, a->d[0], a->d[1], nb, 0);
    return 0;
}

static int check_pool(const node_view *v, lp_shape *out, lp_err *err)
{
    const lp_shape *x = &v->in[0];
    lp_pool_kind kind = v->n.p.pool.kind;
    int k = v->n.p.pool.k, s = v->n.p.pool.s;
    char b[64];
    if (x->rank != 4)
        return lp_err_set(err, LP_EINVAL, "pool: input %s is rank %d, needs NHWC (rank 4)",
                          lp_shape_str(x, b, sizeof b), x->rank);
    if (kind == LP_POOL_GLOBAL_AVG) {
        *out = lp_shape_make(4, x->d[0], 1, 1, x->d[3]);
        return 0;
    }
    if (kind != LP_POOL_MAX && kind != LP_POOL_AVG)
        return lp_err_set(err, LP_EINVAL, "pool: kind %d is not an lp_pool_kind", (int)kind);
    if (k < 1 || s < 1)
        return lp_err_set(err, LP_EINVAL, "pool: k=%d and s=%d must be >= 1", k, s);
    *out = lp_shape_make(4, x->d[0], lp_out_size(x->d[1], s), lp_out_size(x->d[2], s), x->d[3]);
    return 0;
}

static int check_act_node(const node_view *v, lp_shape *out, lp_err *err)
{
    int rc = check_act(v->n.p.act.act, "act", err);
    if (rc < 0)
        return rc;
    if (v->n.p.act.act == LP_ACT_NONE)
        return lp_err_set(err, LP_EINVAL, "act: a standalone activation cannot be 'none'");
    *out = v->in[0];
    return 0;
}

static int check_add(const node_view *v, lp_shape *out, lp_err *err)
{
    char s1[64], s2[64];
    int rc = check_act(v->n.p.add.act, "add", err);
    if (rc < 0)
        return rc;
    if (!lp_shape_equal(&v->in[0], &v->in[1]))
        return lp_err_set(err, LP_EINVAL, "add: shapes %s and %s differ",
                          lp_shape_str(&v->in[0], s1, sizeof s1), lp_shape_str(&v->in[1], s2, sizeof s2));
    *out = v->in[0];
    return 0;
}

/* Any numpy broadcast of b over a is well-formed (the output is a's shape);
 * which broadcasts an engine runs is its own business. */
static int check_mul(const node_view *v, lp_shape *out, lp_err *err)
{
    const lp_shape *a = &v->in[0], *b = &v->in[1];
    char s1[64], s2[64];
    int ok = b->rank <= a->rank;
    for (int i = 1; ok && i <= b->rank; i++)
        ok = b->d[b->rank - i] == 1 || b->d[b->rank - i] == a->d[a->rank - i];
    if (!ok)
        return lp_err_set(err, LP_EINVAL, "mul: %s does not match or broadcast over %s",
                          lp_shape_str(b, s2, sizeof s2), lp_shape_str(a, s1, sizeof s1));
    *out = *a;
    return 0;
}

static int check_softmax(const node_view *v, lp_shape *out, lp_err *err)
{
    (void)err;
    *out = v->in[0];
    return 0;
}

static int check_layernorm(const node_view *v, lp_shape *out, lp_err *err)
{
    const lp_shape *x = &v->in[0];
    int64_t c = last_extent(x);
    char s1[64], s2[64], s3[64];
    float eps = v->n.p.layernorm.eps;
    if (!isfinite(eps) || eps <= 0)
        return lp_err_set(err, LP_EINVAL, "layernorm: eps %g must be finite and > 0", (double)eps);
    if (lp_shape_numel(&v->in[1]) != c || lp_shape_numel(&v->in[2]) != c)
        return lp_err_set(err, LP_EINVAL,
                          "layernorm: gamma %s and beta %s need %lld elements (the last extent of %s)",
                          lp_shape_str(&v->in[1], s1, sizeof s1), lp_shape_str(&v->in[2], s2, sizeof s2),
                          (long long)c, lp_shape_str(x, s3, sizeof s3));
    *out = *x;
    return 0;
}

static int check_concat(const node_view *v, lp_shape *out, lp_err *err)
{
    const lp_shape *a = &v->in[0], *b = &v->in[1];
    int axis = v->n.p.concat.axis;
    char s1[64], s2[64];
    if (a->rank != b->rank || axis < 0 || axis >= a->rank)
        return lp_err_set(err, LP_EINVAL, "concat: cannot join %s and %s along axis %d",
                          lp_shape_str(a, s1, sizeof s1), lp_shape_str(b, s2, sizeof s2), axis);
    for (int i = 0; i < a->rank; i++)
        if (i != axis && a->d[i] != b->d[i])
            return lp_err_set(err, LP_EINVAL, "concat: %s and %s differ on axis %d (joining along %d)",
                              lp_shape_str(a, s1, sizeof s1), lp_shape_str(b, s2, sizeof s2), i, axis);
    *out = *a;
    out->d[axis] += b->d[axis];
    return 0;
}

static int check_reshape(const node_view *v, lp_shape *out, lp_err *err)
{
    const lp_shape *x = &v->in[0], *t = &v->target;
    char s1[64], s2[64];
    int rc = shape_ok(t, "reshape: target", err);
    if (rc < 0)
        return rc;
    if (lp_shape_numel(x) != lp_shape_numel(t))
        return lp_err_set(err, LP_EINVAL, "reshape: %s (%lld elements) cannot become %s (%lld elements)",
                          lp_shape_str(x, s1, sizeof s1), (long long)lp_shape_numel(x),
                          lp_shape_str(t, s2, sizeof s2), (long long)lp_shape_numel(t));
    *out = *t;
    return 0;
}

static int check_transpose(const node_view *v, lp_shape *out, lp_err *err)
{
    const lp_shape *x = &v->in[0];
    const int *perm = v->n.p.transpose.perm;
    int seen[LP_MAX_RANK] = {0};
    char b[64];
    *out = *x;
    for (int i = 0; i < x->rank; i++) {
        if (perm[i] < 0 || perm[i] >= x->rank || seen[perm[i]]++)
            return lp_err_set(err, LP_EINVAL, "transpose: perm is not a permutation of the %d axes of %s",
                              x->rank, lp_shape_str(x, b, sizeof b));
        out->d[i] = x->d[perm[i]];
    }
    return 0;
}

static int check_slice(const node_view *v, lp_shape *out, lp_err *err)
{
    const lp_shape *x = &v->in[0];
    int axis = v->n.p.slice.axis;
    int64_t start = v->n.p.slice.start, len = v->n.p.slice.len;
    char b[64];
    if (axis < 0 || axis >= x->rank)
        return lp_err_set(err, LP_EINVAL, "slice: axis %d is not an axis of %s", axis,
                          lp_shape_str(x, b, sizeof b));
    /* start > extent - len rather than start + len > extent: no overflow on huge values. */
    if (start < 0 || len < 1 || start > x->d[axis] - len)
        return lp_err_set(err, LP_EINVAL, "slice: [%lld, %lld) is not inside axis %d (extent %lld) of %s",
                          (long long)start, (long long)start + len, axis, (long long)x->d[axis],
                          lp_shape_str(x, b, sizeof b));
    *out = *x;
    out->d[axis] = len;
    return 0;
}

typedef int (*prim_check_fn)(const node_view *v, lp_shape *out, lp_err *err);

/* Per primitive: the input counts (weights included) and the shape rule. */
static const struct {
    int lo, hi;
    prim_check_fn check;
} prim_rules[LP_PRIM_COUNT_] = {
    [LP_PRIM_CONV2D] = {2, 3, check_conv2d},       [LP_PRIM_DENSE] = {2, 3, check_dense},
    [LP_PRIM_MATMUL] = {2, 2, check_matmul},       [LP_PRIM_POOL] = {1, 1, check_pool},
    [LP_PRIM_ACT] = {1, 1, check_act_node},        [LP_PRIM_ADD] = {2, 2, check_add},
    [LP_PRIM_MUL] = {2, 2, check_mul},             [LP_PRIM_SOFTMAX] = {1, 1, check_softmax},
    [LP_PRIM_LAYERNORM] = {3, 3, check_layernorm}, [LP_PRIM_CONCAT] = {2, 2, check_concat},
    [LP_PRIM_RESHAPE] = {1, 1, check_reshape},     [LP_PRIM_TRANSPOSE] = {1, 1, check_transpose},
    [LP_PRIM_SLICE] = {1, 1, check_slice},
};

/* The primitive is known and has a sane input count, so the rest may index by them. */
static int check_head(const lp_node *n, lp_err *err)
{
    if ((int)n->prim < 1 || (int)n->prim >= LP_PRIM_COUNT_)
        return lp_err_set(err, LP_EINVAL, "node: primitive #%d is not an lp_prim", (int)n->prim);
    int lo = prim_rules[n->prim].lo, hi = prim_rules[n->prim].hi;
    if (n->n_in < lo || n->n_in > hi)
        return lp_err_set(err, LP_EINVAL, "%s: %d inputs, expected %d..%d", lp_prim_name(n->prim), n->n_in,
                          lo, hi);
    return 0;
}

/* Ranks first, because the rules index extents by rank; the finer shape checks
 * last, so that a bad builder parameter is named rather than the weight it made. */
static int node_infer(const node_view *v, lp_shape *out, lp_err *err)
{
    const char *nm = lp_prim_name(v->n.prim);
    char what[64];
    for (int i = 0; i < v->n.n_in; i++)
        if (v->in[i].rank < 1 || v->in[i].rank > LP_MAX_RANK)
            return lp_err_set(err, LP_EINVAL, "%s: input %d has rank %d, not in 1..%d", nm, i,
                              v->in[i].rank, LP_MAX_RANK);
    int rc = prim_rules[v->n.prim].check(v, out, err);
    for (int i = 0; rc == 0 && i < v->n.n_in; i++) {
        snprintf(what, sizeof what, "%s: input %d", nm, i);
        rc = shape_ok(&v->in[i], what, err);
    }
    if (rc == 0) {
        snprintf(what, sizeof what, "%s: output", nm);
        rc = shape_ok(out, what, err);
    }
    return rc;
}

int lp_graph_node_check(const lp_graph *g, const lp_node *node, lp_shape *out, lp_err *err)
{
    if (!g || !node)
        return lp_err_set(err, LP_EINVAL, "node: graph or node is NULL");
    int rc = check_head(node, err);
    if (rc < 0)
        return rc;
    const char *nm = lp_prim_name(node->prim);
    node_view v = {.n = *node};
    for (int i = 0; i < node->n_in; i++)
        if ((rc = get_shape(g, node->in[i], nm, &v.in[i], err)) < 0)
            return rc;
    if (node->out < 0 || (size_t)node->out >= g->n_tensors)
        return lp_err_set(err, LP_EINVAL, "%s: output tensor %d does not exist (the graph has %zu tensors)",
                          nm, node->out, g->n_tensors);
    const lp_shape *got = &g->tensors[node->out].shape;
    v.target = *got;
    lp_shape want;
    if ((rc = node_infer(&v, &want, err)) < 0)
        return rc;
    if (!lp_shape_equal(&want, got)) {
        char s1[64], s2[64];
        return lp_err_set(err, LP_EINVAL, "%s: output is %s, the inputs give %s", nm,
                          lp_shape_str(got, s1, sizeof s1), lp_shape_str(&want, s2, sizeof s2));
    }
    if (out)
        *out = want;
    return 0;
}

int lp_shape_bcast_last(const lp_shape *a, const lp_shape *b)
{
    if (lp_shape_equal(a, b))
        return 1;
    if (b->rank < 1 || b->rank > a->rank || a->rank > LP_MAX_RANK)
        return 0;
    for (int i = 0; i < b->rank - 1; i++)
        if (b->d[i] != 1)
            return 0;
    return b->d[b->rank - 1] == a->d[a->rank - 1];
}

/* ---- builders --------------------------------------------------------- */

/* Starts a builder's node on graph inputs a (and b when n_in > 1), fetching their shapes;
 * a failure waits in rc, so builders set parameters unconditionally and finish. */
static node_view begin_node(const lp_graph *g, lp_prim prim, int n_in, int a, int b, lp_err *err)
{
    node_view v;
    memset(&v, 0, sizeof v);
    v.n.prim = prim;
    v.n.n_in = n_in;
    v.n.in[0] = a;
    v.n.in[1] = n_in > 1 ? b : -1; /* -1 marks unused slots so a stray read fails loudly */
    v.n.in[2] = -1;
    v.n.out = -1;
    v.rc = get_shape(g, a, lp_prim_name(prim), &v.in[0], err);
    if (v.rc == 0 && n_in > 1)
        v.rc = get_shape(g, b, lp_prim_name(prim), &v.in[1], err);
    return v;
}

/* Adds a weight of the given shape as the node's next input (created by finish_node). */
static void want_weight(node_view *v, lp_shape shape)
{
    v->in[v->n.n_in++] = shape;
}

/* Checks the node by the engines' rules, then appends its n_w weights (its last
 * inputs), its output and itself; room is reserved first so nothing half-done stays. */
static int finish_node(lp_graph *g, node_view *v, int n_w, lp_err *err)
{
    lp_shape out;
    int rc = v->rc;
    if (rc < 0 || (rc = check_head(&v->n, err)) < 0 || (rc = node_infer(v, &out, err)) < 0 ||
        (rc = reserve(g, (size_t)n_w + 1, 1, err)) < 0)
        return rc;
    for (int i = v->n.n_in - n_w; i < v->n.n_in; i++)
        v->n.in[i] = push_tensor(g, v->in[i], LP_TENSOR_WEIGHT, -1);
    v->n.out = push_tensor(g, out, LP_TENSOR_VALUE, (int)g->n_nodes);
    g->nodes[g->n_nodes++] = v->n;
    return v->n.out;
}

int lp_graph_input(lp_graph *g, lp_shape shape, lp_err *err)
{
    return add_tensor(g, shape, LP_TENSOR_INPUT, "input", err);
}

int lp_graph_weight(lp_graph *g, lp_shape shape, lp_err *err)
{
    return add_tensor(g, shape, LP_TENSOR_WEIGHT, "weight", err);
}

int lp_graph_mark_output(lp_graph *g, int t, lp_err *err)
{
    lp_shape s;
    int rc = get_shape(g, t, "output", &s, err);
    if (rc < 0)
        return rc;
    for (size_t i = 0; i < g->n_outputs; i++)
        if (g->outputs[i] == t)
            return 0;
    int *o = realloc(g->outputs, (g->n_outputs + 1) * sizeof *o);
    if (!o)
        return lp_err_set(err, LP_ENOMEM, "output: out of memory");
    g->outputs = o;
    g->outputs[g->n_outputs++] = t;
    return 0;
}

int lp_graph_conv2d(lp_graph *g, int x, int cout, int k, int s, int groups, int bias, lp_act act, lp_err *err)
{
    node_view v = begin_node(g, LP_PRIM_CONV2D, 1, x, 0, err);
    v.n.p.conv.kh = v.n.p.conv.kw = k;
    v.n.p.conv.sh = v.n.p.conv.sw = s;
    v.n.p.conv.groups = groups;
    v.n.p.conv.act = act;
    /* groups < 1 only needs a divisor here; the rules reject it by name. */
    int64_t cin_g = last_extent(&v.in[0]) / (groups > 0 ? groups : 1);
    want_weight(&v, lp_shape_make(4, cout, k, k, cin_g));
    if (bias)
        want_weight(&v, lp_shape_make(1, cout, 0, 0, 0));
    return finish_node(g, &v, bias ? 2 : 1, err);
}

int lp_graph_dense(lp_graph *g, int x, int n_out, int bias, lp_act act, lp_err *err)
{
    node_view v = begin_node(g, LP_PRIM_DENSE, 1, x, 0, err);
    v.n.p.dense.act = act;
    want_weight(&v, lp_shape_make(2, n_out, last_extent(&v.in[0]), 0, 0));
    if (bias)
        want_weight(&v, lp_shape_make(1, n_out, 0, 0, 0));
    return finish_node(g, &v, bias ? 2 : 1, err);
}

int lp_graph_matmul(lp_graph *g, int a, int b, int trans_b, float alpha, lp_err *err)
{
    node_view v = begin_node(g, LP_PRIM_MATMUL, 2, a, b, err);
    v.n.p.matmul.trans_b = trans_b ? 1 : 0;
    v.n.p.matmul.alpha = alpha;
    return finish_node(g, &v, 0, err);
}

int lp_graph_pool(lp_graph *g, int x, lp_pool_kind kind, int k, int s, lp_err *err)
{
    node_view v = begin_node(g, LP_PRIM_POOL, 1, x, 0, err);
    v.n.p.pool.kind = kind;
    v.n.p.pool.k = kind == LP_POOL_GLOBAL_AVG ? 0 : k;
    v.n.p.pool.s = kind == LP_POOL_GLOBAL_AVG ? 0 : s;
    return finish_node(g, &v, 0, err);
}

int lp_graph_act(lp_graph *g, int x, lp_act act, lp_err *err)
{
    node_view v = begin_node(g, LP_PRIM_ACT, 1, x, 0, err);
    v.n.p.act.act = act;
    return finish_node(g, &v, 0, err);
}

int lp_graph_add(lp_graph *g, int a, int b, lp_act act, lp_err *err)
{
    node_view v = begin_node(g, LP_PRIM_ADD, 2, a, b, err);
    v.n.p.add.act = act;
    return finish_node(g, &v, 0, err);
}

int lp_graph_mul(lp_graph *g, int a, int b, lp_err *err)
{
    char s1[64], s2[64];
    node_view v = begin_node(g, LP_PRIM_MUL, 2, a, b, err);
    const lp_shape *as = &v.in[0], *bs = &v.in[1];
    /* Builders make only the broadcast every engine runs (squeeze-excite's), a
     * subset of the well-formed ones, so that a kernel never builds a mul that
     * engines refuse. */
    int ok = lp_shape_equal(as, bs) || (as->rank == 4 && bs->rank == 4 && lp_shape_bcast_last(as, bs));
    if (v.rc == 0 && !ok)
        return lp_err_set(err, LP_EINVAL, "mul: %s does not match or broadcast ([1,1,1,C]) over %s",
                          lp_shape_str(bs, s2, sizeof s2), lp_shape_str(as, s1, sizeof s1));
    return finish_node(g, &v, 0, err);
}

int lp_graph_softmax(lp_graph *g, int x, lp_err *err)
{
    node_view v = begin_node(g, LP_PRIM_SOFTMAX, 1, x, 0, err);
    return finish_node(g, &v, 0, err);
}

int lp_graph_layernorm(lp_graph *g, int x, float eps, lp_err *err)
{
    node_view v = begin_node(g, LP_PRIM_LAYERNORM, 1, x, 0, err);
    v.n.p.layernorm.eps = eps;
    int64_t c = last_extent(&v.in[0]);
    want_weight(&v, lp_shape_make(1, c, 0, 0, 0));
    want_weight(&v, lp_shape_make(1, c, 0, 0, 0));
    return finish_node(g, &v, 2, err);
}

int lp_graph_concat(lp_graph *g, int a, int b, int axis, lp_err *err)
{
    node_view v = begin_node(g, LP_PRIM_CONCAT, 2, a, b, err);
    v.n.p.concat.axis = axis;
    return finish_node(g, &v, 0, err);
}

int lp_graph_reshape(lp_graph *g, int x, lp_shape shape, lp_err *err)
{
    node_view v = begin_node(g, LP_PRIM_RESHAPE, 1, x, 0, err);
    v.target = shape;
    return finish_node(g, &v, 0, err);
}

int lp_graph_transpose(lp_graph *g, int x, const int *perm, lp_err *err)
{
    node_view v = begin_node(g, LP_PRIM_TRANSPOSE, 1, x, 0, err);
    if (v.rc == 0 && !perm)
        return lp_err_set(err, LP_EINVAL, "transpose: perm is NULL");
    /* The caller's perm has one entry per axis (none when begin_node failed: rank 0);
     * identity fills the slots past the rank. */
    for (int i = 0; i < LP_MAX_RANK; i++)
        v.n.p.transpose.perm[i] = i < v.in[0].rank ? perm[i] : i;
    return finish_node(g, &v, 0, err);
}

int lp_graph_slice(lp_graph *g, int x, int axis, int64_t start, int64_t len, lp_err *err)
{
    node_view v = begin_node(g, LP_PRIM_SLICE, 1, x, 0, err);
    v.n.p.slice.axis = axis;
    v.n.p.slice.start = start;
    v.n.p.slice.len = len;
    return finish_node(g, &v, 0, err);
}

/* ---- deterministic data ------------------------------------------------ */

/* splitmix64: tiny, fast, and good enough that fills look like noise to every engine. */
static uint64_t splitmix64(uint64_t *state)
{
    uint64_t z = (*state += UINT64_C(0x9E3779B97F4A7C15));
    z = (z ^ (z >> 30)) * UINT64_C(0xBF58476D1CE4E5B9);
    z = (z ^ (z >> 27)) * UINT64_C(0x94D049BB133111EB);
    return z ^ (z >> 31);
}

/* Fills one tensor from its own stream so its data depends only on (seed, id, shape). */
static void fill_tensor(lp_tensor *t, uint64_t seed, size_t id, int64_t n)
{
    uint64_t st = seed ^ (UINT64_C(0xD1B54A32D192ED03) * (uint64_t)(id + 1));
    float scale = 1.0f;
    if (t->role == LP_TENSOR_WEIGHT && t->shape.rank >= 2)
        scale = (float)(1.0 / sqrt((double)(n / t->shape.d[0])));
    for (int64_t i = 0; i < n; i++) {
        /* 24 random bits give exactly representable floats in [-1, 1). */
        float u = (float)(splitmix64(&st) >> 40) * (1.0f / 8388608.0f) - 1.0f;
        t->data[i] = u * scale;
    }
}

int lp_graph_fill(lp_graph *g, uint64_t seed, lp_err *err)
{
    if (!g)
        return lp_err_set(err, LP_EINVAL, "fill: graph is NULL");
    for (size_t i = 0; i < g->n_tensors; i++) {
        lp_tensor *t = &g->tensors[i];
        if (t->role != LP_TENSOR_INPUT && t->role != LP_TENSOR_WEIGHT)
            continue;
        int64_t n = lp_shape_numel(&t->shape);
        if (!t->data) {
            t->data = malloc((size_t)n * sizeof(float));
            if (!t->data)
                return lp_err_set(err, LP_ENOMEM, "fill: out of memory for tensor %zu (%lld floats)", i,
                                  (long long)n);
        }
        fill_tensor(t, seed, i, n);
    }
    return 0;
}

/* ---- accounting -------------------------------------------------------- */

static double node_macs(const lp_graph *g, const lp_node *n)
{
    const lp_shape *out = &g->tensors[n->out].shape;
    const lp_shape *w = n->n_in > 1 ? &g->tensors[n->in[1]].shape : NULL;
    switch (n->prim) {
    case LP_PRIM_CONV2D: /* every output element reads k*k*cin/groups weights */
        return (double)lp_shape_numel(out) * (double)(w->d[1] * w->d[2] * w->d[3]);
    case LP_PRIM_DENSE:
        return (double)lp_shape_numel(out) * (double)w->d[1];
    case LP_PRIM_MATMUL: {
        const lp_shape *a = &g->tensors[n->in[0]].shape;
        return (double)lp_shape_numel(out) * (double)a->d[2];
    }
    default:
        return 0;
    }
}

double lp_graph_macs(const lp_graph *g)
{
    double m = 0;
    for (size_t i = 0; i < g->n_nodes; i++)
        m += node_macs(g, &g->nodes[i]);
    return m;
}

int64_t lp_graph_numel(const lp_graph *g, lp_tensor_role role)
{
    int64_t n = 0;
    for (size_t i = 0; i < g->n_tensors; i++)
        if (g->tensors[i].role == role)
            n += lp_shape_numel(&g->tensors[i].shape);
    return n;
}
