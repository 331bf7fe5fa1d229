/* Buffers and qs8 post-training quantisation.
 *
 * qs8 is static, per-tensor quantisation calibrated on the graph's own data:
 * the plan runs once in fp32 and every buffer's [min, max] (widened to hold 0,
 * so zero padding is exact) maps onto [-128, 127] with a zero point. Weights
 * are symmetric (XNNPACK's qs8 kernels take no weight zero point), scale
 * max|w| / 127, and the bias is int32 at input scale * weight scale. Steps
 * that move int8 values without requantising (copy, shuffle, max pooling,
 * clamp) force one quantisation on both sides; sigmoid's output quantisation
 * is fixed by XNNPACK (1/256, -128). */
#include "xnn.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* XNNPACK's micro-kernels may read up to XNN_EXTRA_BYTES past an input. */
static void *lp_xalloc(size_t bytes)
{
    return aligned_alloc(64, (bytes + XNN_EXTRA_BYTES + 63) / 64 * 64);
}

int lp_xbufs_alloc_f32(lp_xplan *p, lp_err *err)
{
    for (size_t i = 0; i < p->n_bufs; i++) {
        lp_xbuf *b = &p->bufs[i];
        size_t bytes = (size_t)b->numel * sizeof(float);
        if (!(b->f = lp_xalloc(bytes)))
            return lp_err_set(err, LP_ENOMEM, "xnnpack: out of memory for buffer %zu (%lld floats)",
                              i, (long long)b->numel);
        memset(b->f, 0, bytes);
        if (b->src)
            memcpy(b->f, b->src, bytes);
        else if (b->is_const)
            b->f[0] = b->cval;
    }
    return 0;
}

void lp_xbufs_free_f32(lp_xplan *p)
{
    for (size_t i = 0; p->bufs && i < p->n_bufs; i++) {
        free(p->bufs[i].f);
        p->bufs[i].f = NULL;
    }
}

void lp_xcalibrate(lp_xplan *p)
{
    for (size_t i = 0; i < p->n_bufs; i++) {
        lp_xbuf *b = &p->bufs[i];
        b->lo = b->hi = b->f[0];
        for (int64_t j = 1; j < b->numel; j++) {
            b->lo = fminf(b->lo, b->f[j]);
            b->hi = fmaxf(b->hi, b->f[j]);
        }
    }
}

static int lp_xroot(lp_xplan *p, int b)
{
    while (p->bufs[b].parent != b) {
        p->bufs[b].parent = p->bufs[p->bufs[b].parent].parent;
        b = p->bufs[b].parent;
    }
    return b;
}

static void lp_xunion(lp_xplan *p, int a, int b)
{
    a = lp_xroot(p, a);
    b = lp_xroot(p, b);
    if (a != b)
        p->bufs[b].parent = a;
}

static void lp_xparams(float lo, float hi, int fixed, float *scale, int *zp)
{
    if (fixed) {
        *scale = 1.0f / 256.0f;
        *zp = -128;
        return;
    }
    lo = fminf(lo, 0.0f);
    hi = fmaxf(hi, 0.0f);
    if (!(hi - lo > 1e-20f)) { /* all zeros: any scale represents them */
        *scale = 1.0f;
        *zp = 0;
        return;
    }
    *scale = (hi - lo) / 255.0f;
    long z = lroundf(-128.0f - lo / *scale);
    /* At most 126: a relu clamp's lower bound is the zero point and XNNPACK
     * wants it strictly below the upper bound 127. */
    *zp = (int)(z < -128 ? -128 : z > 126 ? 126 : z);
}

void lp_xquant_assign(lp_xplan *p)
{
    for (size_t i = 0; i < p->n_steps; i++) {
        const lp_xstep *s = &p->steps[i];
        if (s->kind == LP_XK_COPY || s->kind == LP_XK_SHUFFLE || s->kind == LP_XK_MAXPOOL ||
            s->kind == LP_XK_CLAMP)
            lp_xunion(p, s->in[0].buf, s->out.buf);
        if (s->kind == LP_XK_SIGMOID)
            p->bufs[s->out.buf].fixed = 1;
    }
    for (size_t i = 0; i < p->n_bufs; i++) {
        lp_xbuf *r = &p->bufs[lp_xroot(p, (int)i)];
        r->lo = fminf(r->lo, p->bufs[i].lo);
        r->hi = fmaxf(r->hi, p->bufs[i].hi);
        r->fixed |= p->bufs[i].fixed;
    }
    for (size_t i = 0; i < p->n_bufs; i++) {
        const lp_xbuf *r = &p->bufs[lp_xroot(p, (int)i)];
        lp_xparams(r->lo, r->hi, r->fixed, &p->bufs[i].scale, &p->bufs[i].zp);
    }
}

int8_t lp_xquant(const lp_xbuf *b, float v)
{
    if (v == INFINITY)
        return INT8_MAX;
    if (v == -INFINITY)
        return INT8_MIN;
    long q = lrintf(v / b->scale) + b->zp;
    return (int8_t)(q < INT8_MIN ? INT8_MIN : q > INT8_MAX ? INT8_MAX : q);
}

int lp_xbufs_alloc_q8(lp_xplan *p, lp_err *err)
{
    for (size_t i = 0; i < p->n_bufs; i++) {
        lp_xbuf *b = &p->bufs[i];
        if (!(b->q = lp_xalloc((size_t)b->numel)))
            return lp_err_set(err, LP_ENOMEM, "xnnpack: out of memory for buffer %zu (%lld bytes)",
                              i, (long long)b->numel);
        memset(b->q, b->zp, (size_t)b->numel);
        if (!b->src && !b->is_const)
            continue;
        for (int64_t j = 0; j < b->numel; j++)
            b->q[j] = lp_xquant(b, b->f[j]);
    }
    return 0;
}
