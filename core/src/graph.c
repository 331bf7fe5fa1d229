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

/* Appends node (inputs in node->in, parameters set) with n_w new weights of the given
 * shapes appended to its inputs, then its output tensor. All shapes are already valid. */
static int push_node(lp_graph *g, lp_node *node, const lp_shape *w, int n_w, lp_shape out, lp_err *err)
{
    char what[64];
    snprintf(what, sizeof what, "%s: output", lp_prim_name(node->prim));
    int rc = shape_ok(&out, what, err);
    for (int i = 0; rc == 0 && i < n_w; i++) {
        snprintf(what, sizeof what, "%s: weight %d", lp_prim_name(node->prim), i);
        rc = shape_ok(&w[i], what, err);
    }
    if (rc < 0)
        return rc;
    if ((rc = reserve(g, (size_t)n_w + 1, 1, err)) < 0)
        return rc;
    for (int i = 0; i < n_w; i++)
        node->in[node->n_in++] = push_tensor(g, w[i], LP_TENSOR_WEIGHT, -1);
    node->out = push_tensor(g, out, LP_TENSOR_VALUE, (int)g->n_nodes);
    g->nodes[g->n_nodes++] = *node;
    return node->out;
}

static lp_node node_of(lp_prim prim, int n_in, int a, int b)
{
    lp_node n;
    memset(&n, 0, sizeof n);
    n.prim = prim;
    n.n_in = n_in;
    n.in[0] = a;
    n.in[1] = n_in > 1 ? b : -1; /* -1 marks unused slots so a stray read fails loudly */
    n.in[2] = -1;
    return n;
}

/* ---- builders --------------------------------------------------------- */

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
    lp_shape xs;
    char b[64];
    int rc = get_shape(g, x, "conv2d", &xs, err);
    if (rc < 0)
        return rc;
    if (xs.rank != 4)
        return lp_err_set(err, LP_EINVAL, "conv2d: input %s is rank %d, needs NHWC (rank 4)",
                          lp_shape_str(&xs, b, sizeof b), xs.rank);
    if (cout < 1 || k < 1 || s < 1 || groups < 1)
        return lp_err_set(err, LP_EINVAL, "conv2d: cout=%d, k=%d, s=%d, groups=%d must all be >= 1",
                          cout, k, s, groups);
    int64_t cin = xs.d[3];
    if (cin % groups || cout % groups)
        return lp_err_set(err, LP_EINVAL,
                          "conv2d: groups=%d must divide the input channels (%lld, input %s) and cout (%d)",
                          groups, (long long)cin, lp_shape_str(&xs, b, sizeof b), cout);
    if ((rc = check_act(act, "conv2d", err)) < 0)
        return rc;
    lp_node n = node_of(LP_PRIM_CONV2D, 1, x, 0);
    n.p.conv.kh = n.p.conv.kw = k;
    n.p.conv.sh = n.p.conv.sw = s;
    n.p.conv.groups = groups;
    n.p.conv.act = act;
    lp_shape w[2] = {lp_shape_make(4, cout, k, k, cin / groups), lp_shape_make(1, cout, 0, 0, 0)};
    lp_shape out = lp_shape_make(4, xs.d[0], lp_out_size(xs.d[1], s), lp_out_size(xs.d[2], s), cout);
    return push_node(g, &n, w, bias ? 2 : 1, out, err);
}

int lp_graph_dense(lp_graph *g, int x, int n_out, int bias, lp_act act, lp_err *err)
{
    lp_shape xs;
    int rc = get_shape(g, x, "dense", &xs, err);
    if (rc < 0)
        return rc;
    if (n_out < 1)
        return lp_err_set(err, LP_EINVAL, "dense: %d outputs, must be >= 1", n_out);
    if ((rc = check_act(act, "dense", err)) < 0)
        return rc;
    int64_t kin = xs.d[xs.rank - 1];
    lp_node n = node_of(LP_PRIM_DENSE, 1, x, 0);
    n.p.dense.act = act;
    lp_shape w[2] = {lp_shape_make(2, n_out, kin, 0, 0), lp_shape_make(1, n_out, 0, 0, 0)};
    lp_shape out = xs;
    out.d[xs.rank - 1] = n_out;
    return push_node(g, &n, w, bias ? 2 : 1, out, err);
}

int lp_graph_matmul(lp_graph *g, int a, int b, int trans_b, float alpha, lp_err *err)
{
    lp_shape as, bs;
    char s1[64], s2[64];
    int rc = get_shape(g, a, "matmul", &as, err);
    if (rc < 0 || (rc = get_shape(g, b, "matmul", &bs, err)) < 0)
        return rc;
    if (as.rank != 3 || bs.rank != 3)
        return lp_err_set(err, LP_EINVAL, "matmul: needs rank-3 [B, M, K] operands, got %s and %s",
                          lp_shape_str(&as, s1, sizeof s1), lp_shape_str(&bs, s2, sizeof s2));
    int64_t kb = trans_b ? bs.d[2] : bs.d[1], nb = trans_b ? bs.d[1] : bs.d[2];
    if (as.d[0] != bs.d[0] || as.d[2] != kb)
        return lp_err_set(err, LP_EINVAL,
                          "matmul: shapes %s and %s%s do not match (batch %lld vs %lld, K %lld vs %lld)",
                          lp_shape_str(&as, s1, sizeof s1), lp_shape_str(&bs, s2, sizeof s2),
                          trans_b ? " (transposed)" : "", (long long)as.d[0], (long long)bs.d[0],
                          (long long)as.d[2], (long long)kb);
    if (!isfinite(alpha))
        return lp_err_set(err, LP_EINVAL, "matmul: alpha is not finite");
    lp_node n = node_of(LP_PRIM_MATMUL, 2, a, b);
    n.p.matmul.trans_b = trans_b ? 1 : 0;
    n.p.matmul.alpha = alpha;
    return push_node(g, &n, NULL, 0, lp_shape_make(3, as.d[0], as.d[1], nb, 0), err);
}

int lp_graph_pool(lp_graph *g, int x, lp_pool_kind kind, int k, int s, lp_err *err)
{
    lp_shape xs;
    char b[64];
    int rc = get_shape(g, x, "pool", &xs, err);
    if (rc < 0)
        return rc;
    if (xs.rank != 4)
        return lp_err_set(err, LP_EINVAL, "pool: input %s is rank %d, needs NHWC (rank 4)",
                          lp_shape_str(&xs, b, sizeof b), xs.rank);
    lp_node n = node_of(LP_PRIM_POOL, 1, x, 0);
    n.p.pool.kind = kind;
    if (kind == LP_POOL_GLOBAL_AVG)
        return push_node(g, &n, NULL, 0, lp_shape_make(4, xs.d[0], 1, 1, xs.d[3]), err);
    if (kind != LP_POOL_MAX && kind != LP_POOL_AVG)
        return lp_err_set(err, LP_EINVAL, "pool: kind %d is not an lp_pool_kind", (int)kind);
    if (k < 1 || s < 1)
        return lp_err_set(err, LP_EINVAL, "pool: k=%d and s=%d must be >= 1", k, s);
    n.p.pool.k = k;
    n.p.pool.s = s;
    lp_shape out = lp_shape_make(4, xs.d[0], lp_out_size(xs.d[1], s), lp_out_size(xs.d[2], s), xs.d[3]);
    return push_node(g, &n, NULL, 0, out, err);
}

int lp_graph_act(lp_graph *g, int x, lp_act act, lp_err *err)
{
    lp_shape xs;
    int rc = get_shape(g, x, "act", &xs, err);
    if (rc < 0 || (rc = check_act(act, "act", err)) < 0)
        return rc;
    if (act == LP_ACT_NONE)
        return lp_err_set(err, LP_EINVAL, "act: a standalone activation cannot be 'none'");
    lp_node n = node_of(LP_PRIM_ACT, 1, x, 0);
    n.p.act.act = act;
    return push_node(g, &n, NULL, 0, xs, err);
}

int lp_graph_add(lp_graph *g, int a, int b, lp_act act, lp_err *err)
{
    lp_shape as, bs;
    char s1[64], s2[64];
    int rc = get_shape(g, a, "add", &as, err);
    if (rc < 0 || (rc = get_shape(g, b, "add", &bs, err)) < 0 || (rc = check_act(act, "add", err)) < 0)
        return rc;
    if (!lp_shape_equal(&as, &bs))
        return lp_err_set(err, LP_EINVAL, "add: shapes %s and %s differ",
                          lp_shape_str(&as, s1, sizeof s1), lp_shape_str(&bs, s2, sizeof s2));
    lp_node n = node_of(LP_PRIM_ADD, 2, a, b);
    n.p.add.act = act;
    return push_node(g, &n, NULL, 0, as, err);
}

int lp_graph_mul(lp_graph *g, int a, int b, lp_err *err)
{
    lp_shape as, bs;
    char s1[64], s2[64];
    int rc = get_shape(g, a, "mul", &as, err);
    if (rc < 0 || (rc = get_shape(g, b, "mul", &bs, err)) < 0)
        return rc;
    int bcast = as.rank == 4 && bs.rank == 4 && bs.d[0] == 1 && bs.d[1] == 1 && bs.d[2] == 1 &&
                bs.d[3] == as.d[3];
    if (!bcast && !lp_shape_equal(&as, &bs))
        return lp_err_set(err, LP_EINVAL, "mul: %s does not match or broadcast ([1,1,1,C]) over %s",
                          lp_shape_str(&bs, s2, sizeof s2), lp_shape_str(&as, s1, sizeof s1));
    lp_node n = node_of(LP_PRIM_MUL, 2, a, b);
    return push_node(g, &n, NULL, 0, as, err);
}

int lp_graph_softmax(lp_graph *g, int x, lp_err *err)
{
    lp_shape xs;
    int rc = get_shape(g, x, "softmax", &xs, err);
    if (rc < 0)
        return rc;
    lp_node n = node_of(LP_PRIM_SOFTMAX, 1, x, 0);
    return push_node(g, &n, NULL, 0, xs, err);
}

int lp_graph_layernorm(lp_graph *g, int x, float eps, lp_err *err)
{
    lp_shape xs;
    int rc = get_shape(g, x, "layernorm", &xs, err);
    if (rc < 0)
        return rc;
    if (!isfinite(eps) || eps <= 0)
        return lp_err_set(err, LP_EINVAL, "layernorm: eps %g must be finite and > 0", (double)eps);
    int64_t c = xs.d[xs.rank - 1];
    lp_node n = node_of(LP_PRIM_LAYERNORM, 1, x, 0);
    n.p.layernorm.eps = eps;
    lp_shape w[2] = {lp_shape_make(1, c, 0, 0, 0), lp_shape_make(1, c, 0, 0, 0)};
    return push_node(g, &n, w, 2, xs, err);
}

int lp_graph_concat(lp_graph *g, int a, int b, int axis, lp_err *err)
{
    lp_shape as, bs;
    char s1[64], s2[64];
    int rc = get_shape(g, a, "concat", &as, err);
    if (rc < 0 || (rc = get_shape(g, b, "concat", &bs, err)) < 0)
        return rc;
    if (as.rank != bs.rank || axis < 0 || axis >= as.rank)
        return lp_err_set(err, LP_EINVAL, "concat: cannot join %s and %s along axis %d",
                          lp_shape_str(&as, s1, sizeof s1), lp_shape_str(&bs, s2, sizeof s2), axis);
    for (int i = 0; i < as.rank; i++)
        if (i != axis && as.d[i] != bs.d[i])
            return lp_err_set(err, LP_EINVAL, "concat: %s and %s differ on axis %d (joining along %d)",
                              lp_shape_str(&as, s1, sizeof s1), lp_shape_str(&bs, s2, sizeof s2), i, axis);
    lp_node n = node_of(LP_PRIM_CONCAT, 2, a, b);
    n.p.concat.axis = axis;
    lp_shape out = as;
    out.d[axis] += bs.d[axis];
    return push_node(g, &n, NULL, 0, out, err);
}

int lp_graph_reshape(lp_graph *g, int x, lp_shape shape, lp_err *err)
{
    lp_shape xs;
    char s1[64], s2[64];
    int rc = get_shape(g, x, "reshape", &xs, err);
    if (rc < 0 || (rc = shape_ok(&shape, "reshape: target", err)) < 0)
        return rc;
    if (lp_shape_numel(&xs) != lp_shape_numel(&shape))
        return lp_err_set(err, LP_EINVAL, "reshape: %s (%lld elements) cannot become %s (%lld elements)",
                          lp_shape_str(&xs, s1, sizeof s1), (long long)lp_shape_numel(&xs),
                          lp_shape_str(&shape, s2, sizeof s2), (long long)lp_shape_numel(&shape));
    lp_node n = node_of(LP_PRIM_RESHAPE, 1, x, 0);
    return push_node(g, &n, NULL, 0, shape, err);
}

int lp_graph_transpose(lp_graph *g, int x, const int *perm, lp_err *err)
{
    lp_shape xs;
    char b[64];
    int rc = get_shape(g, x, "transpose", &xs, err);
    if (rc < 0)
        return rc;
    if (!perm)
        return lp_err_set(err, LP_EINVAL, "transpose: perm is NULL");
    int seen[LP_MAX_RANK] = {0};
    lp_node n = node_of(LP_PRIM_TRANSPOSE, 1, x, 0);
    lp_shape out = xs;
    for (int i = 0; i < LP_MAX_RANK; i++)
        n.p.transpose.perm[i] = i;
    for (int i = 0; i < xs.rank; i++) {
        if (perm[i] < 0 || perm[i] >= xs.rank || seen[perm[i]]++)
            return lp_err_set(err, LP_EINVAL, "transpose: perm is not a permutation of the %d axes of %s",
                              xs.rank, lp_shape_str(&xs, b, sizeof b));
        n.p.transpose.perm[i] = perm[i];
        out.d[i] = xs.d[perm[i]];
    }
    return push_node(g, &n, NULL, 0, out, err);
}

int lp_graph_slice(lp_graph *g, int x, int axis, int64_t start, int64_t len, lp_err *err)
{
    lp_shape xs;
    char b[64];
    int rc = get_shape(g, x, "slice", &xs, err);
    if (rc < 0)
        return rc;
    if (axis < 0 || axis >= xs.rank)
        return lp_err_set(err, LP_EINVAL, "slice: axis %d is not an axis of %s", axis,
                          lp_shape_str(&xs, b, sizeof b));
    if (start < 0 || len < 1 || start > xs.d[axis] - len)
        return lp_err_set(err, LP_EINVAL, "slice: [%lld, %lld) is not inside axis %d (extent %lld) of %s",
                          (long long)start, (long long)(start + len), axis, (long long)xs.d[axis],
                          lp_shape_str(&xs, b, sizeof b));
    lp_node n = node_of(LP_PRIM_SLICE, 1, x, 0);
    n.p.slice.axis = axis;
    n.p.slice.start = start;
    n.p.slice.len = len;
    lp_shape out = xs;
    out.d[axis] = len;
    return push_node(g, &n, NULL, 0, out, err);
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
