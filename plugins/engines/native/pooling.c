/* Pooling on NHWC: max and average windows with same padding (padding is
 * never a candidate for max and never counted by average), and global
 * average. Channels are innermost so every window step is a vector op. */
#include "native.h"

#include <math.h>
#include <string.h>

typedef struct lp_pool_geom {
    int64_t h, w, c, oh, ow;
    int k, s, pad_t, pad_l;
} lp_pool_geom;

typedef struct lp_pool_ctx {
    const lp_nstep *s;
    lp_pool_geom g;
} lp_pool_ctx;

static void lp_window(int64_t start, int k, int64_t size, int64_t *lo, int64_t *hi)
{
    *lo = start < 0 ? 0 : start;
    *hi = start + k > size ? size : start + k;
}

static void lp_max_acc(float *restrict o, const float *restrict x, int64_t c)
{
    for (int64_t j = 0; j < c; j++)
        o[j] = x[j] > o[j] ? x[j] : o[j];
}

static void lp_sum_acc(float *restrict o, const float *restrict x, int64_t c)
{
    for (int64_t j = 0; j < c; j++)
        o[j] += x[j];
}

/* One output pixel over its clipped window. */
static void lp_pool_pixel(const lp_pool_ctx *ctx, const float *img, float *o, int64_t ih0,
                          int64_t iw0)
{
    const lp_pool_geom *g = &ctx->g;
    int is_max = ctx->s->node.p.pool.kind == LP_POOL_MAX;
    int64_t h_lo, h_hi, w_lo, w_hi;
    lp_window(ih0, g->k, g->h, &h_lo, &h_hi);
    lp_window(iw0, g->k, g->w, &w_lo, &w_hi);
    for (int64_t j = 0; j < g->c; j++)
        o[j] = is_max ? -INFINITY : 0.0f;
    for (int64_t ih = h_lo; ih < h_hi; ih++)
        for (int64_t iw = w_lo; iw < w_hi; iw++) {
            const float *x = img + (ih * g->w + iw) * g->c;
            if (is_max)
                lp_max_acc(o, x, g->c);
            else
                lp_sum_acc(o, x, g->c);
        }
    if (!is_max) {
        float inv = 1.0f / (float)((h_hi - h_lo) * (w_hi - w_lo));
        for (int64_t j = 0; j < g->c; j++)
            o[j] *= inv;
    }
}

static void lp_pool_rows(void *ctxp, int64_t b, int64_t e)
{
    const lp_pool_ctx *ctx = ctxp;
    const lp_pool_geom *g = &ctx->g;
    for (int64_t row = b; row < e; row++) {
        int64_t n = row / g->oh, oh = row % g->oh;
        const float *img = ctx->s->in[0] + n * g->h * g->w * g->c;
        for (int64_t ow = 0; ow < g->ow; ow++)
            lp_pool_pixel(ctx, img, ctx->s->out + (row * g->ow + ow) * g->c,
                          oh * g->s - g->pad_t, ow * g->s - g->pad_l);
    }
}

/* Global average: ranges are channels, so threads never share an output. */
static void lp_gap_channels(void *ctxp, int64_t b, int64_t e)
{
    const lp_pool_ctx *ctx = ctxp;
    const lp_pool_geom *g = &ctx->g;
    int64_t hw = g->h * g->w, batch = ctx->s->in_shape[0].d[0];
    float inv = 1.0f / (float)hw;
    for (int64_t n = 0; n < batch; n++) {
        const float *x = ctx->s->in[0] + n * hw * g->c + b;
        float *o = ctx->s->out + n * g->c + b;
        memset(o, 0, (size_t)(e - b) * sizeof *o);
        for (int64_t p = 0; p < hw; p++)
            lp_sum_acc(o, x + p * g->c, e - b);
        for (int64_t j = 0; j < e - b; j++)
            o[j] *= inv;
    }
}

void lp_exec_pool(lp_nrun *r, const lp_nstep *s)
{
    const lp_shape *x = &s->in_shape[0];
    lp_pool_ctx ctx = {s, {.h = x->d[1], .w = x->d[2], .c = x->d[3], .k = s->node.p.pool.k,
                           .s = s->node.p.pool.s}};
    if (s->node.p.pool.kind == LP_POOL_GLOBAL_AVG) {
        /* Split channels only when each thread still gets whole cache lines of them. */
        lp_tpool_for(&r->pool, ctx.g.c, ctx.g.h * ctx.g.w >= 64 ? 32 : ctx.g.c + 1,
                     lp_gap_channels, &ctx);
        return;
    }
    lp_native_same_pad(ctx.g.h, ctx.g.k, ctx.g.s, &ctx.g.oh, &ctx.g.pad_t);
    lp_native_same_pad(ctx.g.w, ctx.g.k, ctx.g.s, &ctx.g.ow, &ctx.g.pad_l);
    lp_tpool_for(&r->pool, x->d[0] * ctx.g.oh, 2, lp_pool_rows, &ctx);
}
