/* Data movement: concat, reshape, transpose, slice. Reshape costs nothing:
 * prepare makes its output an alias of its input buffer (row-major data
 * does not change under a reshape), as TFLite and XNNPACK do. */
#include "native.h"

#include <string.h>

static int64_t lp_prod(const lp_shape *s, int from, int to)
{
    int64_t p = 1;
    for (int i = from; i < to; i++)
        p *= s->d[i];
    return p;
}

void lp_exec_concat(lp_nrun *r, const lp_nstep *s)
{
    (void)r;
    int axis = lp_native_axis(s->node.p.concat.axis, s->out_shape.rank);
    const lp_shape *a = &s->in_shape[0], *b = &s->in_shape[1];
    int64_t outer = lp_prod(a, 0, axis);
    size_t ca = (size_t)lp_prod(a, axis, a->rank), cb = (size_t)lp_prod(b, axis, b->rank);
    float *o = s->out;
    for (int64_t i = 0; i < outer; i++) {
        memcpy(o, s->in[0] + i * ca, ca * sizeof *o);
        memcpy(o + ca, s->in[1] + i * cb, cb * sizeof *o);
        o += ca + cb;
    }
}

void lp_exec_reshape(lp_nrun *r, const lp_nstep *s)
{
    (void)r;
    (void)s;
}

void lp_exec_slice(lp_nrun *r, const lp_nstep *s)
{
    (void)r;
    const lp_shape *x = &s->in_shape[0];
    int axis = lp_native_axis(s->node.p.slice.axis, x->rank);
    int64_t outer = lp_prod(x, 0, axis), inner = lp_prod(x, axis + 1, x->rank);
    int64_t len = s->node.p.slice.len * inner;
    const float *src = s->in[0] + s->node.p.slice.start * inner;
    for (int64_t i = 0; i < outer; i++)
        memcpy(s->out + i * len, src + i * x->d[axis] * inner, (size_t)len * sizeof(float));
}

/* A transpose seen as rank 4: leading axes of extent 1 pad lower ranks. */
typedef struct lp_tr_ctx {
    const lp_nstep *s;
    int64_t od[4];     /* output extents */
    int64_t stride[4]; /* input stride of the axis each output axis reads */
} lp_tr_ctx;

static void lp_tr_rows(void *ctxp, int64_t b, int64_t e)
{
    const lp_tr_ctx *c = ctxp;
    const float *x = c->s->in[0];
    int contiguous = c->stride[3] == 1;
    for (int64_t row = b; row < e; row++) {
        int64_t i0 = row / c->od[1], i1 = row % c->od[1];
        float *o = c->s->out + row * c->od[2] * c->od[3];
        const float *xr = x + i0 * c->stride[0] + i1 * c->stride[1];
        for (int64_t i2 = 0; i2 < c->od[2]; i2++, o += c->od[3]) {
            const float *xp = xr + i2 * c->stride[2];
            if (contiguous) {
                memcpy(o, xp, (size_t)c->od[3] * sizeof *o);
                continue;
            }
            for (int64_t i3 = 0; i3 < c->od[3]; i3++)
                o[i3] = xp[i3 * c->stride[3]];
        }
    }
}

void lp_exec_transpose(lp_nrun *r, const lp_nstep *s)
{
    const lp_shape *x = &s->in_shape[0];
    int pad = 4 - x->rank;
    int64_t id[4], istride[4];
    for (int i = 0; i < 4; i++)
        id[i] = i < pad ? 1 : x->d[i - pad];
    istride[3] = 1;
    for (int i = 2; i >= 0; i--)
        istride[i] = istride[i + 1] * id[i + 1];
    lp_tr_ctx ctx = {.s = s};
    for (int i = 0; i < 4; i++) {
        int src = i < pad ? i : s->node.p.transpose.perm[i - pad] + pad;
        ctx.od[i] = id[src];
        ctx.stride[i] = istride[src];
    }
    int64_t row = ctx.od[2] * ctx.od[3];
    lp_tpool_for(&r->pool, ctx.od[0] * ctx.od[1], row >= 16384 ? 2 : 32768 / (row + 1),
                 lp_tr_rows, &ctx);
}
