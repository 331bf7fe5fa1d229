/* Symmetric int8 quantisation, scales taken from the fp32 data's range:
 * activations per tensor (u8 when the calibrated range is non-negative, so
 * post-ReLU tensors keep 8 bits of resolution; s8 otherwise), weights per
 * output channel (s8). Zero points are always 0. */
#include "onednn.h"

#include <math.h>

void lp_dq_range(lp_dten *t, const float *x, int64_t n)
{
    float lo = 0.0f, hi = 0.0f;
    for (int64_t i = 0; i < n; i++) {
        lo = x[i] < lo ? x[i] : lo;
        hi = x[i] > hi ? x[i] : hi;
    }
    t->lo = lo;
    t->hi = hi;
}

void lp_dq_choose(lp_dten *t)
{
    float amax = fmaxf(fabsf(t->lo), fabsf(t->hi));
    if (!(amax > 0.0f) || !isfinite(amax))
        amax = 1.0f; /* an all-zero (or broken) tensor: any scale represents it */
    t->dt = t->lo >= 0.0f ? dnnl_u8 : dnnl_s8;
    t->scale = amax / (t->dt == dnnl_u8 ? 255.0f : 127.0f);
}

static float lp_clampf(float v, float lo, float hi)
{
    return v < lo ? lo : (v > hi ? hi : v);
}

void lp_dq_quantize(const lp_dten *t, const float *src, void *dst, int64_t n)
{
    float inv = 1.0f / t->scale;
    if (t->dt == dnnl_u8) {
        uint8_t *q = dst;
        for (int64_t i = 0; i < n; i++)
            q[i] = (uint8_t)lp_clampf(nearbyintf(src[i] * inv), 0.0f, 255.0f);
    } else {
        int8_t *q = dst;
        for (int64_t i = 0; i < n; i++)
            q[i] = (int8_t)lp_clampf(nearbyintf(src[i] * inv), -127.0f, 127.0f);
    }
}

void lp_dq_dequantize(const lp_dten *t, float *dst, int64_t n)
{
    if (t->dt == dnnl_u8) {
        const uint8_t *q = t->buf;
        for (int64_t i = 0; i < n; i++)
            dst[i] = (float)q[i] * t->scale;
    } else {
        const int8_t *q = t->buf;
        for (int64_t i = 0; i < n; i++)
            dst[i] = (float)q[i] * t->scale;
    }
}

void lp_dq_weights(const float *w, int64_t rows, int64_t inner, int8_t *q, float *scales)
{
    for (int64_t r = 0; r < rows; r++) {
        const float *row = w + r * inner;
        float amax = 0.0f;
        for (int64_t i = 0; i < inner; i++)
            amax = fmaxf(amax, fabsf(row[i]));
        scales[r] = amax > 0.0f ? amax / 127.0f : 1.0f;
        float inv = 1.0f / scales[r];
        for (int64_t i = 0; i < inner; i++)
            q[r * inner + i] = (int8_t)lp_clampf(nearbyintf(row[i] * inv), -127.0f, 127.0f);
    }
}
