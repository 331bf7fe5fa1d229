/* Activations, add, mul, softmax and layernorm. Each activation is its own
 * loop (the switch sits outside) so the simple ones vectorise. */
#include "native.h"

#include <math.h>
#include <string.h>

/* Below this many floats a loop is not worth waking the pool for. */
#define LP_EW_GRAIN 16384

static inline float lp_relu6(float v)
{
    return v < 0.0f ? 0.0f : (v > 6.0f ? 6.0f : v);
}

/* y = act(x); x and y may be the same array. */
static void lp_act_map(lp_act act, const float *x, float *y, int64_t n)
{
    int64_t i;
    switch (act) {
    case LP_ACT_RELU:
        for (i = 0; i < n; i++)
            y[i] = x[i] > 0.0f ? x[i] : 0.0f;
        break;
    case LP_ACT_RELU6:
        for (i = 0; i < n; i++)
            y[i] = lp_relu6(x[i]);
        break;
    case LP_ACT_HSWISH:
        for (i = 0; i < n; i++)
            y[i] = x[i] * lp_relu6(x[i] + 3.0f) * (1.0f / 6.0f);
        break;
    case LP_ACT_HSIGMOID:
        for (i = 0; i < n; i++)
            y[i] = lp_relu6(x[i] + 3.0f) * (1.0f / 6.0f);
        break;
    case LP_ACT_SWISH:
        for (i = 0; i < n; i++)
            y[i] = x[i] / (1.0f + expf(-x[i]));
        break;
    case LP_ACT_SIGMOID:
        for (i = 0; i < n; i++)
            y[i] = 1.0f / (1.0f + expf(-x[i]));
        break;
    case LP_ACT_GELU:
        for (i = 0; i < n; i++)
            y[i] = 0.5f * x[i] * (1.0f + erff(x[i] * 0.70710678118654752f));
        break;
    default:
        if (x != y)
            memcpy(y, x, (size_t)n * sizeof *y);
        break;
    }
}

void lp_act_apply(lp_act act, float *x, int64_t n)
{
    if (act != LP_ACT_NONE)
        lp_act_map(act, x, x, n);
}

/* ---- bias + activation over GEMM rows ------------------------------- */

typedef struct lp_rows_ctx {
    float *x;
    const float *bias;
    int64_t cols;
    lp_act act;
} lp_rows_ctx;

static void lp_bias_act_part(void *ctxp, int64_t begin, int64_t end)
{
    const lp_rows_ctx *c = ctxp;
    if (!c->bias) {
        lp_act_apply(c->act, c->x + begin * c->cols, (end - begin) * c->cols);
        return;
    }
    for (int64_t r = begin; r < end; r++) {
        float *restrict row = c->x + r * c->cols;
        const float *restrict b = c->bias;
        for (int64_t j = 0; j < c->cols; j++)
            row[j] += b[j];
        lp_act_apply(c->act, row, c->cols);
    }
}

void lp_bias_act_rows(lp_nrun *r, float *x, int64_t rows, int64_t cols, const float *bias,
                      lp_act act)
{
    if (!bias && act == LP_ACT_NONE)
        return;
    lp_rows_ctx ctx = {x, bias, cols, act};
    int64_t grain = cols >= LP_EW_GRAIN ? 1 : LP_EW_GRAIN / cols;
    lp_tpool_for(&r->pool, rows, grain, lp_bias_act_part, &ctx);
}

/* ---- act, add, mul: chunks of a flat range ------------------------------ */

static void lp_act_part(void *ctxp, int64_t b, int64_t e)
{
    const lp_nstep *s = ctxp;
    lp_act_map(s->node.p.act.act, s->in[0] + b, s->out + b, e - b);
}

void lp_exec_act(lp_nrun *r, const lp_nstep *s)
{
    lp_tpool_for(&r->pool, lp_shape_numel(&s->out_shape), LP_EW_GRAIN, lp_act_part, (void *)s);
}

static void lp_add_part(void *ctxp, int64_t b, int64_t e)
{
    const lp_nstep *s = ctxp;
    const float *restrict x = s->in[0] + b, *restrict y = s->in[1] + b;
    float *restrict o = s->out + b;
    for (int64_t i = 0; i < e - b; i++)
        o[i] = x[i] + y[i];
    lp_act_apply(s->node.p.add.act, o, e - b);
}

void lp_exec_add(lp_nrun *r, const lp_nstep *s)
{
    lp_tpool_for(&r->pool, lp_shape_numel(&s->out_shape), LP_EW_GRAIN, lp_add_part, (void *)s);
}

static void lp_mul_part(void *ctxp, int64_t b, int64_t e)
{
    const lp_nstep *s = ctxp;
    const float *restrict x = s->in[0] + b, *restrict y = s->in[1] + b;
    float *restrict o = s->out + b;
    for (int64_t i = 0; i < e - b; i++)
        o[i] = x[i] * y[i];
}

/* Broadcast b over a's rows of C (the squeeze-excite scale): ranges are rows. */
static void lp_mul_bcast_part(void *ctxp, int64_t b, int64_t e)
{
    const lp_nstep *s = ctxp;
    int64_t c = s->in_shape[0].d[s->in_shape[0].rank - 1];
    const float *restrict y = s->in[1];
    for (int64_t r = b; r < e; r++) {
        const float *restrict x = s->in[0] + r * c;
        float *restrict o = s->out + r * c;
        for (int64_t j = 0; j < c; j++)
            o[j] = x[j] * y[j];
    }
}

void lp_exec_mul(lp_nrun *r, const lp_nstep *s)
{
    int64_t n = lp_shape_numel(&s->out_shape);
    if (lp_shape_numel(&s->in_shape[1]) == n) {
        lp_tpool_for(&r->pool, n, LP_EW_GRAIN, lp_mul_part, (void *)s);
        return;
    }
    int64_t c = s->in_shape[0].d[s->in_shape[0].rank - 1];
    lp_tpool_for(&r->pool, n / c, c >= LP_EW_GRAIN ? 1 : LP_EW_GRAIN / c, lp_mul_bcast_part,
                 (void *)s);
}

/* ---- softmax, layernorm: ranges are rows of the last axis ------------------ */

static int64_t lp_last(const lp_shape *s)
{
    return s->d[s->rank - 1];
}

static void lp_softmax_rows(void *ctxp, int64_t b, int64_t e)
{
    const lp_nstep *s = ctxp;
    int64_t c = lp_last(&s->out_shape);
    for (int64_t r = b; r < e; r++) {
        const float *x = s->in[0] + r * c;
        float *y = s->out + r * c;
        /* Subtracting the row max keeps expf from overflowing. */
        float mx = x[0];
        for (int64_t j = 1; j < c; j++)
            mx = x[j] > mx ? x[j] : mx;
        float sum = 0.0f;
        for (int64_t j = 0; j < c; j++) {
            y[j] = expf(x[j] - mx);
            sum += y[j];
        }
        float inv = 1.0f / sum;
        for (int64_t j = 0; j < c; j++)
            y[j] *= inv;
    }
}

void lp_exec_softmax(lp_nrun *r, const lp_nstep *s)
{
    int64_t c = lp_last(&s->out_shape);
    lp_tpool_for(&r->pool, lp_shape_numel(&s->out_shape) / c, c >= 4096 ? 1 : 4096 / c,
                 lp_softmax_rows, (void *)s);
}

static void lp_layernorm_rows(void *ctxp, int64_t b, int64_t e)
{
    const lp_nstep *s = ctxp;
    int64_t c = lp_last(&s->out_shape);
    const float *gamma = s->in[1], *beta = s->in[2];
    for (int64_t r = b; r < e; r++) {
        const float *x = s->in[0] + r * c;
        float *y = s->out + r * c;
        /* Two passes: the one-pass E[x^2] - E[x]^2 cancels badly in fp32. */
        float mean = 0.0f, var = 0.0f;
        for (int64_t j = 0; j < c; j++)
            mean += x[j];
        mean /= (float)c;
        for (int64_t j = 0; j < c; j++)
            var += (x[j] - mean) * (x[j] - mean);
        float inv = 1.0f / sqrtf(var / (float)c + s->node.p.layernorm.eps);
        for (int64_t j = 0; j < c; j++)
            y[j] = (x[j] - mean) * inv * gamma[j] + beta[j];
    }
}

void lp_exec_layernorm(lp_nrun *r, const lp_nstep *s)
{
    int64_t c = lp_last(&s->out_shape);
    lp_tpool_for(&r->pool, lp_shape_numel(&s->out_shape) / c, c >= 4096 ? 1 : 4096 / c,
                 lp_layernorm_rows, (void *)s);
}
