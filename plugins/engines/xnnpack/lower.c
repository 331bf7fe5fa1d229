/* Lowering: each graph node becomes one or more XNNPACK steps. The same code
 * answers supports() (no plan: it only decides) and builds the plan at
 * prepare, so supports() and prepare() can never disagree. */
#include "xnn.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Which step kinds exist at qs8 in this snapshot: no qs8 average pooling,
 * hardswish or softmax (those are qu8 or f32 only). */
static const struct {
    const char *name;
    int qs8;
} lp_xkinds[LP_XK_COUNT_] = {
    [LP_XK_CONV] = {"convolution2d_nhwc", 1},  [LP_XK_FC] = {"fully_connected_nc", 1},
    [LP_XK_MAXPOOL] = {"max_pooling2d_nhwc", 1}, [LP_XK_AVGPOOL] = {"average_pooling2d_nhwc", 0},
    [LP_XK_GAP] = {"global_average_pooling_nwc", 1}, [LP_XK_CLAMP] = {"clamp_nc", 1},
    [LP_XK_HSWISH] = {"hardswish_nc", 0},      [LP_XK_SIGMOID] = {"sigmoid_nc", 1},
    [LP_XK_ADD] = {"add_nd", 1},               [LP_XK_MUL] = {"multiply_nd", 1},
    [LP_XK_SOFTMAX] = {"softmax_nc", 0},       [LP_XK_COPY] = {"copy_nc", 1},
    [LP_XK_SHUFFLE] = {"channel_shuffle_nc", 1}};

const char *lp_xkind_name(lp_xkind k)
{
    return (k >= 1 && k < LP_XK_COUNT_) ? lp_xkinds[k].name : "unknown";
}

/* State of lowering one node. */
typedef struct lp_xlw {
    const lp_graph *g;
    const lp_node *nd;
    int node;
    lp_xprec prec;
    lp_xplan *plan; /* NULL: decide only */
    char what[64];  /* the node for messages: "conv2d with fused hswish" */
    lp_err *err;
} lp_xlw;

/* ---- plan storage ------------------------------------------------------ */

static int lp_grow(void **arr, size_t *cap, size_t need, size_t item, lp_err *err)
{
    if (need <= *cap)
        return 0;
    size_t n = *cap ? *cap * 2 : 16;
    while (n < need)
        n *= 2;
    void *p = realloc(*arr, n * item);
    if (!p)
        return lp_err_set(err, LP_ENOMEM, "xnnpack: out of memory for the plan");
    *arr = p;
    *cap = n;
    return 0;
}

static int lp_xplan_buf(lp_xplan *p, int64_t numel, lp_err *err)
{
    int rc = lp_grow((void **)&p->bufs, &p->cap_bufs, p->n_bufs + 1, sizeof *p->bufs, err);
    if (rc)
        return rc;
    lp_xbuf *b = &p->bufs[p->n_bufs];
    memset(b, 0, sizeof *b);
    b->numel = numel;
    b->parent = (int)p->n_bufs;
    return (int)p->n_bufs++;
}

int lp_xplan_init(lp_xplan *p, const lp_graph *g, lp_err *err)
{
    memset(p, 0, sizeof *p);
    p->n_tensors = g->n_tensors;
    p->tbuf = malloc((g->n_tensors ? g->n_tensors : 1) * sizeof *p->tbuf);
    if (!p->tbuf)
        return lp_err_set(err, LP_ENOMEM, "xnnpack: out of memory for %zu tensors", g->n_tensors);
    for (size_t i = 0; i < g->n_tensors; i++)
        p->tbuf[i] = -1;
    return 0;
}

int lp_xplan_tensor(lp_xplan *p, const lp_graph *g, int t, lp_err *err)
{
    if (p->tbuf[t] >= 0)
        return p->tbuf[t];
    const lp_tensor *ts = &g->tensors[t];
    int b = lp_xplan_buf(p, lp_shape_numel(&ts->shape), err);
    if (b < 0)
        return b;
    if (ts->role != LP_TENSOR_VALUE) {
        if (!ts->data)
            return lp_err_set(err, LP_EINVAL, "xnnpack: tensor %d (%s) has no data: call "
                              "lp_graph_fill before prepare", t,
                              ts->role == LP_TENSOR_INPUT ? "input" : "weight");
        p->bufs[b].src = ts->data;
    }
    p->tbuf[t] = b;
    return b;
}

void lp_xplan_free(lp_xplan *p)
{
    for (size_t i = 0; p->steps && i < p->n_steps; i++)
        free(p->steps[i].owned_w);
    lp_xbufs_free_f32(p);
    for (size_t i = 0; p->bufs && i < p->n_bufs; i++)
        free(p->bufs[i].q);
    free(p->steps);
    free(p->bufs);
    free(p->tbuf);
    memset(p, 0, sizeof *p);
}

/* ---- emitting ----------------------------------------------------------- */

static int lp_xemit(lp_xlw *lw, lp_xstep *s)
{
    if (lw->prec == LP_XPREC_QS8 && !lp_xkinds[s->kind].qs8)
        return lp_err_set(lw->err, LP_EUNSUPPORTED,
                          "xnnpack: %s needs %s, which has no qs8 variant in %s (precision=qs8)",
                          lw->what, lp_xkinds[s->kind].name, LP_XNN_SNAPSHOT);
    if (!lw->plan)
        return 0;
    lp_xplan *p = lw->plan;
    int rc = lp_grow((void **)&p->steps, &p->cap_steps, p->n_steps + 1, sizeof *p->steps, lw->err);
    if (rc)
        return rc;
    s->node = lw->node;
    p->steps[p->n_steps++] = *s;
    /* The step now owns the buffer; the caller's copy must not free it. */
    s->owned_w = NULL;
    return 0;
}

/* Buffer ids are only real with a plan; deciding needs none. */
static int lp_xtensor(lp_xlw *lw, int t, int *buf)
{
    *buf = 0;
    if (!lw->plan)
        return 0;
    int b = lp_xplan_tensor(lw->plan, lw->g, t, lw->err);
    if (b < 0)
        return b;
    *buf = b;
    return 0;
}

static int lp_xtemp(lp_xlw *lw, int64_t numel, int *buf)
{
    *buf = 0;
    if (!lw->plan)
        return 0;
    int b = lp_xplan_buf(lw->plan, numel, lw->err);
    if (b < 0)
        return b;
    *buf = b;
    return 0;
}

static int lp_xconst(lp_xlw *lw, float v, int *buf)
{
    int rc = lp_xtemp(lw, 1, buf);
    if (rc || !lw->plan)
        return rc;
    lw->plan->bufs[*buf].is_const = 1;
    lw->plan->bufs[*buf].cval = v;
    return 0;
}

static lp_xref lp_at(int buf, int64_t off)
{
    return (lp_xref){buf, off};
}

/* ---- activations ---------------------------------------------------------- */

/* relu and relu6 are an output clamp XNNPACK fuses into the producing op. */
static int lp_xclamp_of(lp_act act, float *lo, float *hi)
{
    *lo = -INFINITY;
    *hi = INFINITY;
    if (act == LP_ACT_RELU || act == LP_ACT_RELU6)
        *lo = 0.0f;
    if (act == LP_ACT_RELU6)
        *hi = 6.0f;
    return act == LP_ACT_NONE || act == LP_ACT_RELU || act == LP_ACT_RELU6;
}

static int lp_xgelu(lp_xlw *lw)
{
    return lp_err_set(lw->err, LP_EUNSUPPORTED,
                      "xnnpack: %s is not supported by %s (no gelu or erf operator)", lw->what,
                      LP_XNN_SNAPSHOT);
}

static lp_xstep lp_xbinary(lp_xkind kind, lp_xref a, lp_xref b, lp_xref out, int64_t na, int64_t nb)
{
    lp_xstep s = {.kind = kind, .in = {a, b}, .out = out, .lo = -INFINITY, .hi = INFINITY};
    s.nd[0] = s.nd[1] = 1;
    s.dims[0][0] = (size_t)na;
    s.dims[1][0] = (size_t)nb;
    return s;
}

/* swish = x * sigmoid(x); hsigmoid = clamp(x / 6 + 1/2, 0, 1): both from operators
 * this XNNPACK has, since it has neither as one operator. */
static int lp_xswish(lp_xlw *lw, lp_xref in, lp_xref out, int64_t n)
{
    int t, rc = lp_xtemp(lw, n, &t);
    if (rc)
        return rc;
    lp_xstep s = {.kind = LP_XK_SIGMOID, .in = {in}, .out = lp_at(t, 0), .rows = 1, .chan = n};
    if ((rc = lp_xemit(lw, &s)))
        return rc;
    s = lp_xbinary(LP_XK_MUL, in, lp_at(t, 0), out, n, n);
    return lp_xemit(lw, &s);
}

static int lp_xhsigmoid(lp_xlw *lw, lp_xref in, lp_xref out, int64_t n)
{
    int sixth, half, t, rc;
    if ((rc = lp_xconst(lw, 1.0f / 6.0f, &sixth)) || (rc = lp_xconst(lw, 0.5f, &half)) ||
        (rc = lp_xtemp(lw, n, &t)))
        return rc;
    lp_xstep s = lp_xbinary(LP_XK_MUL, in, lp_at(sixth, 0), lp_at(t, 0), n, 1);
    if ((rc = lp_xemit(lw, &s)))
        return rc;
    s = lp_xbinary(LP_XK_ADD, lp_at(t, 0), lp_at(half, 0), out, n, 1);
    s.lo = 0.0f;
    s.hi = 1.0f;
    return lp_xemit(lw, &s);
}

/* out = act(in) over n elements. */
static int lp_xact(lp_xlw *lw, lp_xref in, lp_xref out, int64_t n, lp_act act)
{
    lp_xstep s = {.in = {in}, .out = out, .rows = 1, .chan = n, .in_stride = n, .out_stride = n};
    switch (act) {
    case LP_ACT_NONE:
        s.kind = LP_XK_COPY;
        return lp_xemit(lw, &s);
    case LP_ACT_RELU:
    case LP_ACT_RELU6:
        s.kind = LP_XK_CLAMP;
        lp_xclamp_of(act, &s.lo, &s.hi);
        return lp_xemit(lw, &s);
    case LP_ACT_HSWISH:
        s.kind = LP_XK_HSWISH;
        return lp_xemit(lw, &s);
    case LP_ACT_SIGMOID:
        s.kind = LP_XK_SIGMOID;
        return lp_xemit(lw, &s);
    case LP_ACT_SWISH:
        return lp_xswish(lw, in, out, n);
    case LP_ACT_HSIGMOID:
        return lp_xhsigmoid(lw, in, out, n);
    case LP_ACT_GELU:
        return lp_xgelu(lw);
    default:
        return lp_err_set(lw->err, LP_EINVAL, "xnnpack: %s: unknown activation %d", lw->what,
                          (int)act);
    }
}

/* Emits s producing the node's output through act: fused as the operator's
 * output clamp when it is one, else through a temporary and activation steps. */
static int lp_xwith_act(lp_xlw *lw, lp_xstep *s, lp_act act)
{
    if (act == LP_ACT_GELU)
        return lp_xgelu(lw);
    int ob, rc = lp_xtensor(lw, lw->nd->out, &ob);
    if (rc)
        return rc;
    if (lp_xclamp_of(act, &s->lo, &s->hi)) {
        s->out = lp_at(ob, 0);
        return lp_xemit(lw, s);
    }
    int64_t n = lp_shape_numel(&lw->g->tensors[lw->nd->out].shape);
    int t;
    if ((rc = lp_xtemp(lw, n, &t)))
        return rc;
    s->out = lp_at(t, 0);
    if ((rc = lp_xemit(lw, s)))
        return rc;
    return lp_xact(lw, lp_at(t, 0), lp_at(ob, 0), n, act);
}

/* ---- nodes ---------------------------------------------------------------- */

static const lp_shape *lp_in_shape(const lp_xlw *lw, int i)
{
    return &lw->g->tensors[lw->nd->in[i]].shape;
}

/* XNNPACK packs conv and fully-connected weights when the operator is created,
 * so they must be constants of the graph. */
static int lp_xconstant(lp_xlw *lw, int i, const float **data)
{
    const lp_tensor *t = &lw->g->tensors[lw->nd->in[i]];
    *data = NULL;
    if (t->role != LP_TENSOR_WEIGHT)
        return lp_err_set(lw->err, LP_EUNSUPPORTED,
                          "xnnpack: %s: input %d must be a constant weight tensor: %s packs "
                          "weights when an operator is created", lw->what, i, LP_XNN_SNAPSHOT);
    if (lw->plan && !t->data)
        return lp_err_set(lw->err, LP_EINVAL, "xnnpack: %s: weights have no data: call "
                          "lp_graph_fill before prepare", lw->what);
    *data = t->data;
    return 0;
}

/* TensorFlow SAME padding: pad_before = total / 2, the rest after. */
static void lp_xsame_pad(int64_t in, int k, int s, int *before, int *after)
{
    int64_t out = (in + s - 1) / s, total = (out - 1) * s + k - in;
    if (total < 0)
        total = 0;
    *before = (int)(total / 2);
    *after = (int)(total - total / 2);
}

static int lp_xconv(lp_xlw *lw)
{
    const lp_node *nd = lw->nd;
    const lp_shape *x = lp_in_shape(lw, 0), *w = lp_in_shape(lw, 1);
    lp_xstep s = {.kind = LP_XK_CONV, .n = x->d[0], .h = x->d[1], .w = x->d[2], .c = x->d[3],
                  .k = {nd->p.conv.kh, nd->p.conv.kw}, .s = {nd->p.conv.sh, nd->p.conv.sw},
                  .groups = nd->p.conv.groups};
    s.gic = x->d[3] / s.groups;
    s.goc = w->d[0] / s.groups;
    lp_xsame_pad(s.h, s.k[0], s.s[0], &s.pad[0], &s.pad[2]);
    lp_xsame_pad(s.w, s.k[1], s.s[1], &s.pad[3], &s.pad[1]);
    int rc = lp_xconstant(lw, 1, &s.wgt);
    if (!rc && nd->n_in > 2)
        rc = lp_xconstant(lw, 2, &s.bias);
    if (!rc)
        rc = lp_xtensor(lw, nd->in[0], &s.in[0].buf);
    return rc ? rc : lp_xwith_act(lw, &s, nd->p.conv.act);
}

static int lp_xdense(lp_xlw *lw)
{
    const lp_node *nd = lw->nd;
    const lp_shape *x = lp_in_shape(lw, 0), *w = lp_in_shape(lw, 1);
    lp_xstep s = {.kind = LP_XK_FC, .chan = w->d[1], .goc = w->d[0]};
    s.rows = lp_shape_numel(x) / s.chan;
    int rc = lp_xconstant(lw, 1, &s.wgt);
    if (!rc && nd->n_in > 2)
        rc = lp_xconstant(lw, 2, &s.bias);
    if (!rc)
        rc = lp_xtensor(lw, nd->in[0], &s.in[0].buf);
    return rc ? rc : lp_xwith_act(lw, &s, nd->p.dense.act);
}

/* alpha is folded into a private copy of the (constant) weights. */
static int lp_xscaled(lp_xlw *lw, const float *w, int64_t n, float alpha, float **out)
{
    *out = NULL;
    if (!lw->plan || alpha == 1.0f)
        return 0;
    *out = malloc((size_t)n * sizeof **out);
    if (!*out)
        return lp_err_set(lw->err, LP_ENOMEM, "xnnpack: matmul: out of memory for weights");
    for (int64_t i = 0; i < n; i++)
        (*out)[i] = w[i] * alpha;
    return 0;
}

/* This XNNPACK has no batched matmul; with a constant b each batch is a fully
 * connected layer (b [N, K] as is, or [K, N] with transposed weights). A b
 * computed at run time (attention) cannot be: fully connected packs its
 * weights at creation, and re-creating operators in run() is not a kernel. */
static int lp_xmatmul(lp_xlw *lw)
{
    const lp_node *nd = lw->nd;
    const lp_shape *a = lp_in_shape(lw, 0), *b = lp_in_shape(lw, 1);
    if (lw->g->tensors[nd->in[1]].role != LP_TENSOR_WEIGHT)
        return lp_err_set(lw->err, LP_EUNSUPPORTED,
                          "xnnpack: matmul with a computed right operand (attention) is not "
                          "supported by %s: no batched matmul, and fully connected packs its "
                          "weights when created", LP_XNN_SNAPSHOT);
    int64_t batch = a->d[0], m = a->d[1], k = a->d[2], n = lp_shape_numel(b) / b->d[0] / k;
    int shared = b->d[0] == 1;
    lp_xstep s = {.kind = LP_XK_FC, .chan = k, .goc = n, .rows = shared ? batch * m : m,
                  .trans_w = !nd->p.matmul.trans_b};
    int ab, ob, rc;
    const float *w;
    if ((rc = lp_xconstant(lw, 1, &w)) || (rc = lp_xtensor(lw, nd->in[0], &ab)) ||
        (rc = lp_xtensor(lw, nd->out, &ob)))
        return rc;
    float *scaled;
    if ((rc = lp_xscaled(lw, w, lp_shape_numel(b), nd->p.matmul.alpha, &scaled)))
        return rc;
    w = scaled ? scaled : w;
    s.owned_w = scaled;
    for (int64_t i = 0; i < (shared ? 1 : batch) && !rc; i++) {
        s.in[0] = lp_at(ab, i * m * k);
        s.out = lp_at(ob, i * m * n);
        s.wgt = w ? w + i * k * n : NULL;
        s.lo = -INFINITY;
        s.hi = INFINITY;
        rc = lp_xemit(lw, &s);
    }
    free(s.owned_w); /* only when the first emit failed */
    return rc;
}

static int lp_xpool(lp_xlw *lw)
{
    const lp_node *nd = lw->nd;
    const lp_shape *x = lp_in_shape(lw, 0);
    lp_pool_kind kind = nd->p.pool.kind;
    lp_xstep s = {.n = x->d[0], .h = x->d[1], .w = x->d[2], .c = x->d[3],
                  .k = {nd->p.pool.k, nd->p.pool.k}, .s = {nd->p.pool.s, nd->p.pool.s},
                  .lo = -INFINITY, .hi = INFINITY};
    s.kind = kind == LP_POOL_GLOBAL_AVG ? LP_XK_GAP : kind == LP_POOL_MAX ? LP_XK_MAXPOOL
                                                                          : LP_XK_AVGPOOL;
    if (kind != LP_POOL_GLOBAL_AVG && nd->p.pool.k == 1 && nd->p.pool.s == 1) {
        int ib, ob, rc; /* an identity, which TFLite's delegate also runs as a copy */
        if ((rc = lp_xtensor(lw, nd->in[0], &ib)) || (rc = lp_xtensor(lw, nd->out, &ob)))
            return rc;
        return lp_xact(lw, lp_at(ib, 0), lp_at(ob, 0), lp_shape_numel(x), LP_ACT_NONE);
    }
    if (kind != LP_POOL_GLOBAL_AVG && nd->p.pool.k == 1)
        return lp_err_set(lw->err, LP_EUNSUPPORTED,
                          "xnnpack: %s with a 1x1 window and stride %d is not supported by %s "
                          "(it rejects 1x1 pooling)", lw->what, nd->p.pool.s, LP_XNN_SNAPSHOT);
    if (kind != LP_POOL_GLOBAL_AVG) { /* global pools have k = s = 0 */
        lp_xsame_pad(s.h, s.k[0], s.s[0], &s.pad[0], &s.pad[2]);
        lp_xsame_pad(s.w, s.k[1], s.s[1], &s.pad[3], &s.pad[1]);
    }
    int rc = lp_xtensor(lw, nd->in[0], &s.in[0].buf);
    if (!rc)
        rc = lp_xtensor(lw, nd->out, &s.out.buf);
    return rc ? rc : lp_xemit(lw, &s);
}

static int lp_xact_node(lp_xlw *lw)
{
    int ib, ob, rc;
    if ((rc = lp_xtensor(lw, lw->nd->in[0], &ib)) || (rc = lp_xtensor(lw, lw->nd->out, &ob)))
        return rc;
    return lp_xact(lw, lp_at(ib, 0), lp_at(ob, 0), lp_shape_numel(lp_in_shape(lw, 0)),
                   lw->nd->p.act.act);
}

static int lp_xadd_mul(lp_xlw *lw)
{
    const lp_node *nd = lw->nd;
    const lp_shape *a = lp_in_shape(lw, 0), *b = lp_in_shape(lw, 1);
    int ab, bb, rc;
    if ((rc = lp_xtensor(lw, nd->in[0], &ab)) || (rc = lp_xtensor(lw, nd->in[1], &bb)))
        return rc;
    int64_t na = lp_shape_numel(a), nb = lp_shape_numel(b), c = b->d[b->rank - 1];
    lp_xstep s = lp_xbinary(nd->prim == LP_PRIM_ADD ? LP_XK_ADD : LP_XK_MUL, lp_at(ab, 0),
                            lp_at(bb, 0), lp_at(0, 0), na, nb);
    if (na != nb) { /* [rows, C] times [C]: XNNPACK broadcasts like numpy */
        s.nd[0] = 2;
        s.dims[0][0] = (size_t)(na / c);
        s.dims[0][1] = (size_t)c;
    }
    return lp_xwith_act(lw, &s, nd->prim == LP_PRIM_ADD ? nd->p.add.act : LP_ACT_NONE);
}

static int lp_xsoftmax(lp_xlw *lw)
{
    const lp_shape *x = lp_in_shape(lw, 0);
    lp_xstep s = {.kind = LP_XK_SOFTMAX, .chan = x->d[x->rank - 1]};
    s.rows = lp_shape_numel(x) / s.chan;
    int rc = lp_xtensor(lw, lw->nd->in[0], &s.in[0].buf);
    if (!rc)
        rc = lp_xtensor(lw, lw->nd->out, &s.out.buf);
    return rc ? rc : lp_xemit(lw, &s);
}

static int64_t lp_prod(const lp_shape *s, int from, int to)
{
    int64_t p = 1;
    for (int i = from; i < to; i++)
        p *= s->d[i];
    return p;
}

/* Concat: each input is copied into its column block of the output rows. */
static int lp_xconcat(lp_xlw *lw)
{
    const lp_shape *a = lp_in_shape(lw, 0), *b = lp_in_shape(lw, 1);
    int axis = lw->nd->p.concat.axis, ab, bb, ob, rc;
    if ((rc = lp_xtensor(lw, lw->nd->in[0], &ab)) || (rc = lp_xtensor(lw, lw->nd->in[1], &bb)) ||
        (rc = lp_xtensor(lw, lw->nd->out, &ob)))
        return rc;
    int64_t rows = lp_prod(a, 0, axis), ca = lp_prod(a, axis, a->rank), cb = lp_prod(b, axis, b->rank);
    lp_xstep s = {.kind = LP_XK_COPY, .in = {lp_at(ab, 0)}, .out = lp_at(ob, 0), .rows = rows,
                  .chan = ca, .in_stride = ca, .out_stride = ca + cb};
    if ((rc = lp_xemit(lw, &s)))
        return rc;
    s.in[0] = lp_at(bb, 0);
    s.out = lp_at(ob, ca);
    s.chan = s.in_stride = cb;
    return lp_xemit(lw, &s);
}

static int lp_xslice(lp_xlw *lw)
{
    const lp_shape *x = lp_in_shape(lw, 0);
    const lp_node *nd = lw->nd;
    int axis = nd->p.slice.axis, ib, ob, rc;
    if ((rc = lp_xtensor(lw, nd->in[0], &ib)) || (rc = lp_xtensor(lw, nd->out, &ob)))
        return rc;
    int64_t inner = lp_prod(x, axis + 1, x->rank);
    lp_xstep s = {.kind = LP_XK_COPY, .in = {lp_at(ib, nd->p.slice.start * inner)},
                  .out = lp_at(ob, 0), .rows = lp_prod(x, 0, axis),
                  .chan = nd->p.slice.len * inner, .in_stride = x->d[axis] * inner};
    s.out_stride = s.chan;
    return lp_xemit(lw, &s);
}

/* Reshape moves no data: the output is the input's buffer. */
static int lp_xreshape(lp_xlw *lw)
{
    int ib, rc = lp_xtensor(lw, lw->nd->in[0], &ib);
    if (rc || !lw->plan)
        return rc;
    if (lw->plan->tbuf[lw->nd->out] >= 0)
        return lp_err_set(lw->err, LP_EINVAL, "xnnpack: reshape: output tensor %d is written twice",
                          lw->nd->out);
    lw->plan->tbuf[lw->nd->out] = ib;
    return 0;
}

/* One suffix rotation [P][A][B] -> [P][B][A] is one channel shuffle. */
typedef struct lp_xrot {
    int64_t rows, groups, chans;
} lp_xrot;

/* Sorts the axes into perm by suffix rotations; rotations that move no data
 * (a block of extent 1) are dropped. Returns how many remain (<= rank - 1). */
static int lp_xrotations(const lp_shape *x, const int *perm, lp_xrot *rot)
{
    int cur[LP_MAX_RANK], r = x->rank, n = 0;
    for (int i = 0; i < r; i++)
        cur[i] = i;
    for (int i = 0; i < r; i++) {
        int j = i;
        while (cur[j] != perm[i])
            j++;
        if (j == i)
            continue;
        int64_t rows = 1, ga = 1, cb = 1;
        for (int t = 0; t < r; t++)
            *(t < i ? &rows : t < j ? &ga : &cb) *= x->d[cur[t]];
        int next[LP_MAX_RANK], m = 0;
        for (int t = 0; t < i; t++)
            next[m++] = cur[t];
        for (int t = j; t < r; t++)
            next[m++] = cur[t];
        for (int t = i; t < j; t++)
            next[m++] = cur[t];
        memcpy(cur, next, sizeof cur);
        if (ga > 1 && cb > 1)
            rot[n++] = (lp_xrot){rows, ga, cb};
    }
    return n;
}

/* This XNNPACK has no transpose operator; a permutation is a chain of channel
 * shuffles (each a 2-D transpose of row blocks), one pass per rotation. */
static int lp_xtranspose(lp_xlw *lw)
{
    const lp_shape *x = lp_in_shape(lw, 0);
    int64_t n = lp_shape_numel(x);
    int ib, ob, rc;
    if ((rc = lp_xtensor(lw, lw->nd->in[0], &ib)) || (rc = lp_xtensor(lw, lw->nd->out, &ob)))
        return rc;
    lp_xrot rot[LP_MAX_RANK];
    int nrot = lp_xrotations(x, lw->nd->p.transpose.perm, rot);
    if (nrot == 0)
        return lp_xact(lw, lp_at(ib, 0), lp_at(ob, 0), n, LP_ACT_NONE);
    lp_xref src = lp_at(ib, 0);
    for (int i = 0; i < nrot; i++) {
        int dst = ob;
        if (i + 1 < nrot && (rc = lp_xtemp(lw, n, &dst)))
            return rc;
        lp_xstep s = {.kind = LP_XK_SHUFFLE, .in = {src}, .out = lp_at(dst, 0),
                      .rows = rot[i].rows, .groups = rot[i].groups, .gic = rot[i].chans};
        if ((rc = lp_xemit(lw, &s)))
            return rc;
        src = lp_at(dst, 0);
    }
    return 0;
}

static void lp_xdescribe(lp_xlw *lw)
{
    const lp_node *nd = lw->nd;
    const char *nm = lp_prim_name(nd->prim);
    lp_act act = LP_ACT_NONE;
    if (nd->prim == LP_PRIM_CONV2D)
        act = nd->p.conv.act;
    else if (nd->prim == LP_PRIM_DENSE)
        act = nd->p.dense.act;
    else if (nd->prim == LP_PRIM_ADD)
        act = nd->p.add.act;
    static const char *const pools[] = {"", "max", "avg", "global avg"};
    if (nd->prim == LP_PRIM_ACT)
        snprintf(lw->what, sizeof lw->what, "act %s", lp_act_name(nd->p.act.act));
    else if (nd->prim == LP_PRIM_POOL && nd->p.pool.kind >= 1 && nd->p.pool.kind <= 3)
        snprintf(lw->what, sizeof lw->what, "pool (%s)", pools[nd->p.pool.kind]);
    else if (act != LP_ACT_NONE)
        snprintf(lw->what, sizeof lw->what, "%s with fused %s", nm, lp_act_name(act));
    else
        snprintf(lw->what, sizeof lw->what, "%s", nm);
}

int lp_xlower_node(const lp_graph *g, const lp_node *nd, lp_xprec prec, lp_xplan *plan,
                   lp_err *err)
{
    int rc = lp_xcheck_node(g, nd, err);
    if (rc)
        return rc;
    lp_xlw lw = {.g = g, .nd = nd, .prec = prec, .plan = plan, .err = err};
    lw.node = (nd >= g->nodes && nd < g->nodes + g->n_nodes) ? (int)(nd - g->nodes) : -1;
    lp_xdescribe(&lw);
    switch (nd->prim) {
    case LP_PRIM_CONV2D:
        return lp_xconv(&lw);
    case LP_PRIM_DENSE:
        return lp_xdense(&lw);
    case LP_PRIM_MATMUL:
        return lp_xmatmul(&lw);
    case LP_PRIM_POOL:
        return lp_xpool(&lw);
    case LP_PRIM_ACT:
        return lp_xact_node(&lw);
    case LP_PRIM_ADD:
    case LP_PRIM_MUL:
        return lp_xadd_mul(&lw);
    case LP_PRIM_SOFTMAX:
        return lp_xsoftmax(&lw);
    case LP_PRIM_LAYERNORM:
        return lp_err_set(err, LP_EUNSUPPORTED, "xnnpack: layernorm is not supported by %s (no "
                          "layer normalisation operator)", LP_XNN_SNAPSHOT);
    case LP_PRIM_CONCAT:
        return lp_xconcat(&lw);
    case LP_PRIM_RESHAPE:
        return lp_xreshape(&lw);
    case LP_PRIM_TRANSPOSE:
        return lp_xtranspose(&lw);
    case LP_PRIM_SLICE:
        return lp_xslice(&lw);
    default:
        break;
    }
    return lp_err_set(err, LP_EUNSUPPORTED, "xnnpack: %s is not supported", lp_prim_name(nd->prim));
}
