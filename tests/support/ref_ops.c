/* Naive reference loops for every primitive of graph.h (see ref_ops.h).
 * Tests compile this into their executable with #include "ref_ops.c". */
#include "ref_ops.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* Row-major multi-index helpers over rank <= 4 shapes. */
static void ref_unravel(int64_t flat, const lp_shape *s, int64_t *idx)
{
    for (int i = s->rank - 1; i >= 0; i--) {
        idx[i] = flat % s->d[i];
        flat /= s->d[i];
    }
}

static int64_t ref_ravel(const int64_t *idx, const lp_shape *s)
{
    int64_t flat = 0;
    for (int i = 0; i < s->rank; i++)
        flat = flat * s->d[i] + idx[i];
    return flat;
}

double lp_ref_act(lp_act act, double x)
{
    double r6 = fmin(fmax(x + 3.0, 0.0), 6.0);
    switch (act) {
    case LP_ACT_RELU: return x > 0 ? x : 0;
    case LP_ACT_RELU6: return fmin(fmax(x, 0.0), 6.0);
    case LP_ACT_HSWISH: return x * r6 / 6.0;
    case LP_ACT_HSIGMOID: return r6 / 6.0;
    case LP_ACT_SWISH: return x / (1.0 + exp(-x));
    case LP_ACT_SIGMOID: return 1.0 / (1.0 + exp(-x));
    case LP_ACT_GELU: return 0.5 * x * (1.0 + erf(x / sqrt(2.0)));
    default: return x;
    }
}

/* TF "same" padding: out = ceil(in / s), pad_before = max((out-1)*s + k - in, 0) / 2. */
static int64_t ref_pad_before(int64_t in, int k, int s)
{
    int64_t out = (in + s - 1) / s;
    int64_t total = (out - 1) * s + k - in;
    return total > 0 ? total / 2 : 0;
}

static void ref_conv(const lp_graph *g, const lp_node *nd, float **t)
{
    const lp_shape *xs = &g->tensors[nd->in[0]].shape, *os = &g->tensors[nd->out].shape;
    const float *x = t[nd->in[0]], *w = t[nd->in[1]], *b = nd->n_in > 2 ? t[nd->in[2]] : NULL;
    int kh = nd->p.conv.kh, kw = nd->p.conv.kw, sh = nd->p.conv.sh, sw = nd->p.conv.sw;
    int64_t cin = xs->d[3], cout = os->d[3], cg = cin / nd->p.conv.groups;
    int64_t og = cout / nd->p.conv.groups;
    int64_t pt = ref_pad_before(xs->d[1], kh, sh), pl = ref_pad_before(xs->d[2], kw, sw);
    for (int64_t o = 0; o < lp_shape_numel(os); o++) {
        int64_t i[4];
        ref_unravel(o, os, i); /* n, oh, ow, co */
        int64_t grp = i[3] / og;
        double acc = b ? b[i[3]] : 0.0;
        for (int ki = 0; ki < kh; ki++)
            for (int kj = 0; kj < kw; kj++)
                for (int64_t c = 0; c < cg; c++) {
                    int64_t ih = i[1] * sh - pt + ki, iw = i[2] * sw - pl + kj;
                    if (ih < 0 || ih >= xs->d[1] || iw < 0 || iw >= xs->d[2])
                        continue;
                    int64_t xi[4] = {i[0], ih, iw, grp * cg + c};
                    acc += (double)x[ref_ravel(xi, xs)] *
                           w[((i[3] * kh + ki) * kw + kj) * cg + c];
                }
        t[nd->out][o] = (float)lp_ref_act(nd->p.conv.act, acc);
    }
}

static void ref_dense(const lp_graph *g, const lp_node *nd, float **t)
{
    const lp_shape *os = &g->tensors[nd->out].shape, *ws = &g->tensors[nd->in[1]].shape;
    int64_t n = ws->d[0], k = ws->d[1], m = lp_shape_numel(os) / n;
    const float *b = nd->n_in > 2 ? t[nd->in[2]] : NULL;
    for (int64_t r = 0; r < m; r++)
        for (int64_t j = 0; j < n; j++) {
            double acc = b ? b[j] : 0.0;
            for (int64_t q = 0; q < k; q++)
                acc += (double)t[nd->in[0]][r * k + q] * t[nd->in[1]][j * k + q];
            t[nd->out][r * n + j] = (float)lp_ref_act(nd->p.dense.act, acc);
        }
}

static void ref_matmul(const lp_graph *g, const lp_node *nd, float **t)
{
    const lp_shape *as = &g->tensors[nd->in[0]].shape, *os = &g->tensors[nd->out].shape;
    int64_t batch = as->d[0], m = as->d[1], k = as->d[2], n = os->d[2];
    for (int64_t bi = 0; bi < batch; bi++)
        for (int64_t i = 0; i < m; i++)
            for (int64_t j = 0; j < n; j++) {
                double acc = 0.0;
                for (int64_t q = 0; q < k; q++) {
                    double bv = nd->p.matmul.trans_b ? t[nd->in[1]][(bi * n + j) * k + q]
                                                     : t[nd->in[1]][(bi * k + q) * n + j];
                    acc += t[nd->in[0]][(bi * m + i) * k + q] * bv;
                }
                t[nd->out][(bi * m + i) * n + j] = (float)(nd->p.matmul.alpha * acc);
            }
}

static void ref_pool(const lp_graph *g, const lp_node *nd, float **t)
{
    const lp_shape *xs = &g->tensors[nd->in[0]].shape, *os = &g->tensors[nd->out].shape;
    int global = nd->p.pool.kind == LP_POOL_GLOBAL_AVG;
    int k = nd->p.pool.k, s = nd->p.pool.s;
    int64_t pt = global ? 0 : ref_pad_before(xs->d[1], k, s);
    int64_t pl = global ? 0 : ref_pad_before(xs->d[2], k, s);
    for (int64_t o = 0; o < lp_shape_numel(os); o++) {
        int64_t i[4];
        ref_unravel(o, os, i);
        int64_t h0 = global ? 0 : i[1] * s - pt, w0 = global ? 0 : i[2] * s - pl;
        int64_t kh = global ? xs->d[1] : k, kw = global ? xs->d[2] : k;
        double acc = nd->p.pool.kind == LP_POOL_MAX ? -INFINITY : 0.0;
        int count = 0;
        for (int64_t ih = h0; ih < h0 + kh; ih++)
            for (int64_t iw = w0; iw < w0 + kw; iw++) {
                if (ih < 0 || ih >= xs->d[1] || iw < 0 || iw >= xs->d[2])
                    continue;
                int64_t xi[4] = {i[0], ih, iw, i[3]};
                double v = t[nd->in[0]][ref_ravel(xi, xs)];
                acc = nd->p.pool.kind == LP_POOL_MAX ? fmax(acc, v) : acc + v;
                count++;
            }
        t[nd->out][o] = (float)(nd->p.pool.kind == LP_POOL_MAX ? acc : acc / count);
    }
}

static void ref_rows(const lp_graph *g, const lp_node *nd, float **t)
{
    const lp_shape *os = &g->tensors[nd->out].shape;
    int64_t c = os->d[os->rank - 1], rows = lp_shape_numel(os) / c;
    for (int64_t r = 0; r < rows; r++) {
        const float *x = t[nd->in[0]] + r * c;
        float *y = t[nd->out] + r * c;
        if (nd->prim == LP_PRIM_SOFTMAX) {
            double mx = -INFINITY, sum = 0.0;
            for (int64_t j = 0; j < c; j++)
                mx = fmax(mx, x[j]);
            for (int64_t j = 0; j < c; j++)
                sum += exp(x[j] - mx);
            for (int64_t j = 0; j < c; j++)
                y[j] = (float)(exp(x[j] - mx) / sum);
            continue;
        }
        double mean = 0.0, var = 0.0;
        for (int64_t j = 0; j < c; j++)
            mean += x[j];
        mean /= c;
        for (int64_t j = 0; j < c; j++)
            var += (x[j] - mean) * (x[j] - mean);
        var /= c;
        for (int64_t j = 0; j < c; j++)
            y[j] = (float)((x[j] - mean) / sqrt(var + nd->p.layernorm.eps) * t[nd->in[1]][j] +
                           t[nd->in[2]][j]);
    }
}

static void ref_elementwise(const lp_graph *g, const lp_node *nd, float **t)
{
    int64_t n = lp_shape_numel(&g->tensors[nd->out].shape);
    int64_t nb = nd->n_in > 1 ? lp_shape_numel(&g->tensors[nd->in[1]].shape) : 0;
    for (int64_t i = 0; i < n; i++) {
        double a = t[nd->in[0]][i];
        switch (nd->prim) {
        case LP_PRIM_ACT: t[nd->out][i] = (float)lp_ref_act(nd->p.act.act, a); break;
        case LP_PRIM_ADD:
            t[nd->out][i] = (float)lp_ref_act(nd->p.add.act, a + t[nd->in[1]][i]);
            break;
        default: t[nd->out][i] = (float)(a * t[nd->in[1]][i % nb]); break; /* mul */
        }
    }
}

/* Concat, transpose and slice: each output element found from its multi-index. */
static void ref_layout(const lp_graph *g, const lp_node *nd, float **t)
{
    const lp_shape *xs = &g->tensors[nd->in[0]].shape, *os = &g->tensors[nd->out].shape;
    for (int64_t o = 0; o < lp_shape_numel(os); o++) {
        int64_t i[4], src[4];
        ref_unravel(o, os, i);
        memcpy(src, i, sizeof src);
        const float *from = t[nd->in[0]];
        const lp_shape *fs = xs;
        if (nd->prim == LP_PRIM_CONCAT && i[nd->p.concat.axis] >= xs->d[nd->p.concat.axis]) {
            src[nd->p.concat.axis] -= xs->d[nd->p.concat.axis];
            from = t[nd->in[1]];
            fs = &g->tensors[nd->in[1]].shape;
        } else if (nd->prim == LP_PRIM_TRANSPOSE) {
            for (int a = 0; a < os->rank; a++)
                src[nd->p.transpose.perm[a]] = i[a];
        } else if (nd->prim == LP_PRIM_SLICE) {
            src[nd->p.slice.axis] += nd->p.slice.start;
        }
        t[nd->out][o] = from[ref_ravel(src, fs)];
    }
}

static int ref_node(const lp_graph *g, const lp_node *nd, float **t)
{
    switch (nd->prim) {
    case LP_PRIM_CONV2D: ref_conv(g, nd, t); return 0;
    case LP_PRIM_DENSE: ref_dense(g, nd, t); return 0;
    case LP_PRIM_MATMUL: ref_matmul(g, nd, t); return 0;
    case LP_PRIM_POOL: ref_pool(g, nd, t); return 0;
    case LP_PRIM_SOFTMAX:
    case LP_PRIM_LAYERNORM: ref_rows(g, nd, t); return 0;
    case LP_PRIM_ACT:
    case LP_PRIM_ADD:
    case LP_PRIM_MUL: ref_elementwise(g, nd, t); return 0;
    case LP_PRIM_RESHAPE:
        memcpy(t[nd->out], t[nd->in[0]],
               (size_t)lp_shape_numel(&g->tensors[nd->out].shape) * sizeof(float));
        return 0;
    case LP_PRIM_CONCAT:
    case LP_PRIM_TRANSPOSE:
    case LP_PRIM_SLICE: ref_layout(g, nd, t); return 0;
    default: return -1;
    }
}

float **lp_ref_run(const lp_graph *g)
{
    float **t = calloc(g->n_tensors, sizeof *t);
    if (!t)
        return NULL;
    for (size_t i = 0; i < g->n_tensors; i++) {
        size_t n = (size_t)lp_shape_numel(&g->tensors[i].shape);
        t[i] = calloc(n ? n : 1, sizeof(float));
        if (!t[i]) {
            lp_ref_free(g, t);
            return NULL;
        }
        if (g->tensors[i].data)
            memcpy(t[i], g->tensors[i].data, n * sizeof(float));
    }
    for (size_t i = 0; i < g->n_nodes; i++)
        if (ref_node(g, &g->nodes[i], t)) {
            lp_ref_free(g, t);
            return NULL;
        }
    return t;
}

void lp_ref_free(const lp_graph *g, float **t)
{
    for (size_t i = 0; t && i < g->n_tensors; i++)
        free(t[i]);
    free(t);
}
