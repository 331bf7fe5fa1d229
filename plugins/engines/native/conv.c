/* conv2d: depthwise as a direct loop over NHWC (channels innermost, blocks of
 * 32 channels accumulated in registers over the taps, which vectorises); 1x1
 * stride-1 convs as one GEMM straight on the input; everything else as
 * im2col + GEMM, one GEMM per group writing its channel slice of the output. */
#include "native.h"

#include <stdlib.h>
#include <string.h>

size_t lp_conv_plan(lp_nstep *s)
{
    const lp_shape *x = &s->in_shape[0], *w = &s->in_shape[1];
    lp_conv_geom *c = &s->conv;
    c->n = x->d[0];
    c->h = x->d[1];
    c->w = x->d[2];
    c->cin = x->d[3];
    c->cout = w->d[0];
    c->kh = s->node.p.conv.kh;
    c->kw = s->node.p.conv.kw;
    c->sh = s->node.p.conv.sh;
    c->sw = s->node.p.conv.sw;
    c->groups = s->node.p.conv.groups;
    lp_native_same_pad(c->h, c->kh, c->sh, &c->oh, &c->pad_t);
    lp_native_same_pad(c->w, c->kw, c->sw, &c->ow, &c->pad_l);
    if (c->groups == c->cin && c->groups == c->cout) {
        c->mode = LP_CONV_DEPTHWISE;
        return 0;
    }
    if (c->kh == 1 && c->kw == 1 && c->sh == 1 && c->sw == 1) {
        c->mode = LP_CONV_POINTWISE;
        return 0;
    }
    c->mode = LP_CONV_IM2COL;
    /* One group's columns at a time: the buffer is reused across groups. */
    return (size_t)(c->n * c->oh * c->ow) * (size_t)(c->kh * c->kw) * (size_t)(c->cin / c->groups);
}

int lp_conv_pack(lp_nstep *s, lp_err *err)
{
    const lp_conv_geom *c = &s->conv;
    if (c->mode != LP_CONV_DEPTHWISE)
        return 0;
    /* OHWI with I = 1 is [C, Kh, Kw]; the direct loop wants [Kh, Kw, C] so that each tap's
     * weights line up with the input's channel vector. */
    int64_t taps = (int64_t)c->kh * c->kw, ch = c->cout;
    size_t bytes = ((size_t)(taps * ch) * sizeof(float) + 63) / 64 * 64;
    s->packed = aligned_alloc(64, bytes);
    if (!s->packed)
        return lp_err_set(err, LP_ENOMEM, "native: conv2d: out of memory packing %lld weights",
                          (long long)(taps * ch));
    const float *w = s->in[1];
    for (int64_t o = 0; o < ch; o++)
        for (int64_t t = 0; t < taps; t++)
            s->packed[t * ch + o] = w[o * taps + t];
    return 0;
}

/* ---- depthwise ------------------------------------------------------ */

typedef struct lp_conv_ctx {
    lp_nrun *r;
    const lp_nstep *s;
    float *col;
    int group;
} lp_conv_ctx;

/* Channels accumulated in registers per pass: one pass reads each tap once
 * and writes the output once, instead of a load/store of the output per tap. */
#define LP_DW_BLOCK 32

typedef struct lp_dw_px {
    const float *x;  /* input at (ih0 + ki_lo, iw0 + kj_lo), channel 0 */
    const float *w;  /* packed weights at tap (ki_lo, kj_lo), channel 0 */
    int64_t row_x;   /* input row stride (floats) */
    int64_t row_w;   /* packed-weight row stride (floats) */
    int nki, nkj;    /* valid taps */
    int64_t ch;
} lp_dw_px;

static void lp_dw_block(const lp_dw_px *p, int64_t c0, const float *bias, float *o)
{
    float acc[LP_DW_BLOCK];
    for (int j = 0; j < LP_DW_BLOCK; j++)
        acc[j] = bias ? bias[c0 + j] : 0.0f;
    for (int ki = 0; ki < p->nki; ki++) {
        const float *xr = p->x + ki * p->row_x + c0, *wr = p->w + ki * p->row_w + c0;
        for (int kj = 0; kj < p->nkj; kj++)
            for (int j = 0; j < LP_DW_BLOCK; j++)
                acc[j] += xr[kj * p->ch + j] * wr[kj * p->ch + j];
    }
    for (int j = 0; j < LP_DW_BLOCK; j++)
        o[c0 + j] = acc[j];
}

/* The channels past the last whole block. */
static void lp_dw_tail(const lp_dw_px *p, int64_t c0, const float *bias, float *o)
{
    for (int64_t c = c0; c < p->ch; c++) {
        float acc = bias ? bias[c] : 0.0f;
        for (int ki = 0; ki < p->nki; ki++)
            for (int kj = 0; kj < p->nkj; kj++)
                acc += p->x[ki * p->row_x + kj * p->ch + c] * p->w[ki * p->row_w + kj * p->ch + c];
        o[c] = acc;
    }
}

/* Valid taps [lo, hi) of a window starting at `start` over an axis of `size`. */
static void lp_tap_range(int64_t start, int k, int64_t size, int *lo, int *hi)
{
    *lo = start < 0 ? (int)-start : 0;
    *hi = start + k > size ? (int)(size - start) : k;
}

static void lp_dw_rows(void *ctxp, int64_t begin, int64_t end)
{
    const lp_conv_ctx *ctx = ctxp;
    const lp_nstep *s = ctx->s;
    const lp_conv_geom *c = &s->conv;
    const float *x = s->in[0], *bias = s->node.n_in > 2 ? s->in[2] : NULL;
    int64_t ch = c->cin;
    for (int64_t row = begin; row < end; row++) {
        int64_t n = row / c->oh, ih0 = (row % c->oh) * c->sh - c->pad_t;
        int ki_lo, ki_hi;
        lp_tap_range(ih0, c->kh, c->h, &ki_lo, &ki_hi);
        for (int64_t ow = 0; ow < c->ow; ow++) {
            float *o = s->out + (row * c->ow + ow) * ch;
            int64_t iw0 = ow * c->sw - c->pad_l;
            int kj_lo, kj_hi;
            lp_tap_range(iw0, c->kw, c->w, &kj_lo, &kj_hi);
            lp_dw_px p = {
                .x = x + ((n * c->h + ih0 + ki_lo) * c->w + iw0 + kj_lo) * ch,
                .w = s->packed + ((int64_t)ki_lo * c->kw + kj_lo) * ch,
                .row_x = c->w * ch, .row_w = (int64_t)c->kw * ch,
                .nki = ki_hi - ki_lo, .nkj = kj_hi - kj_lo, .ch = ch};
            int64_t c0 = 0;
            for (; c0 + LP_DW_BLOCK <= ch; c0 += LP_DW_BLOCK)
                lp_dw_block(&p, c0, bias, o);
            lp_dw_tail(&p, c0, bias, o);
            lp_act_apply(s->node.p.conv.act, o, ch);
        }
    }
}

/* ---- im2col + GEMM ------------------------------------------------------- */

/* Rows are (n, oh); each writes OW rows of Kh*Kw*Cg columns in OHWI order (ki, kj, c). */
static void lp_im2col_rows(void *ctxp, int64_t begin, int64_t end)
{
    const lp_conv_ctx *ctx = ctxp;
    const lp_conv_geom *c = &ctx->s->conv;
    const float *x = ctx->s->in[0];
    int64_t cg = c->cin / c->groups, coff = ctx->group * cg;
    int64_t kcols = (int64_t)c->kh * c->kw * cg;
    size_t chunk = (size_t)cg * sizeof(float);
    for (int64_t row = begin; row < end; row++) {
        int64_t n = row / c->oh, ih0 = (row % c->oh) * c->sh - c->pad_t;
        for (int64_t ow = 0; ow < c->ow; ow++) {
            float *dst = ctx->col + (row * c->ow + ow) * kcols;
            int64_t iw0 = ow * c->sw - c->pad_l;
            for (int ki = 0; ki < c->kh; ki++) {
                int64_t ih = ih0 + ki;
                for (int kj = 0; kj < c->kw; kj++, dst += cg) {
                    int64_t iw = iw0 + kj;
                    if (ih < 0 || ih >= c->h || iw < 0 || iw >= c->w)
                        memset(dst, 0, chunk);
                    else
                        memcpy(dst, x + ((n * c->h + ih) * c->w + iw) * c->cin + coff, chunk);
                }
            }
        }
    }
}

static void lp_conv_gemm(lp_nrun *r, const lp_nstep *s)
{
    const lp_conv_geom *c = &s->conv;
    int64_t m = c->n * c->oh * c->ow, cg = c->cin / c->groups, og = c->cout / c->groups;
    int64_t k = (int64_t)c->kh * c->kw * cg;
    lp_conv_ctx ctx = {r, s, r->scratch, 0};
    for (int g = 0; g < c->groups; g++) {
        const float *a = s->in[0] + g * cg;
        int64_t lda = c->cin;
        if (c->mode == LP_CONV_IM2COL) {
            ctx.group = g;
            lp_tpool_for(&r->pool, c->n * c->oh, 2, lp_im2col_rows, &ctx);
            a = r->scratch;
            lda = k;
        }
        /* OHWI rows of group g are [og, k]: multiply by their transpose. */
        lp_par_sgemm(r, 1, m, og, k, 1.0f, a, lda, s->in[1] + g * og * k, k, s->out + g * og,
                     c->cout);
    }
    lp_bias_act_rows(r, s->out, m, c->cout, s->node.n_in > 2 ? s->in[2] : NULL,
                     s->node.p.conv.act);
}

void lp_exec_conv2d(lp_nrun *r, const lp_nstep *s)
{
    if (s->conv.mode == LP_CONV_DEPTHWISE) {
        lp_conv_ctx ctx = {r, s, NULL, 0};
        lp_tpool_for(&r->pool, s->conv.n * s->conv.oh, 2, lp_dw_rows, &ctx);
        return;
    }
    lp_conv_gemm(r, s);
}
