/* Helpers shared by the sampler plugins, included by their sources (static, so each
 * plugin keeps its one exported symbol): a dim's valid values by index, uniform
 * draws from the core's xoshiro stream, and an owned copy of the prior. */
#ifndef LP_SAMPLER_UTIL_H
#define LP_SAMPLER_UTIL_H

#include <litepred/sampler.h>

#include <stdlib.h>
#include <string.h>

/** Number of valid values of a dim (explicit set, or min..max by step; enums are ranges). */
static inline size_t su_dim_count(const lp_dim *d)
{
    if (d->values)
        return d->n_values;
    int64_t step = d->step > 0 ? d->step : 1;
    return d->max < d->min ? 0 : (size_t)(((int64_t)d->max - d->min) / step + 1);
}

/** The i-th valid value of a dim in ascending order (i < su_dim_count). */
static inline int32_t su_dim_at(const lp_dim *d, size_t i)
{
    if (d->values)
        return d->values[i];
    int64_t step = d->step > 0 ? d->step : 1;
    return (int32_t)(d->min + (int64_t)i * step);
}

/** True for a plain numeric range (not an explicit set, not an enum of labels). */
static inline int su_dim_is_range(const lp_dim *d)
{
    return !d->values && !d->labels;
}

/** Uniform double in [0, 1) with 53 random bits. */
static inline double su_uniform(lp_rng *rng)
{
    return (double)(lp_rng_next(rng) >> 11) * 0x1p-53;
}

/** Index of the first entry of the ascending cumulative array cum[0..n) above u (u < cum[n-1]). */
static inline size_t su_cum_find(const double *cum, size_t n, double u)
{
    size_t lo = 0, hi = n - 1;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (cum[mid] > u)
            hi = mid;
        else
            lo = mid + 1;
    }
    return lo;
}

/** An owned copy of the context's prior with cumulative weights (cum[n-1] is the total). */
typedef struct su_prior {
    lp_kcfg *cfgs; /**< distinct configs */
    double *cum;   /**< cumulative weights */
    size_t n;      /**< count */
} su_prior;

/** Frees a copied prior and zeroes it. */
static inline void su_prior_free(su_prior *p)
{
    free(p->cfgs);
    free(p->cum);
    memset(p, 0, sizeof *p);
}

/** Copies ctx's prior (reads as empty when the context predates the prior members). */
static inline int su_prior_copy(su_prior *p, const lp_sampler_ctx *ctx, lp_err *err)
{
    memset(p, 0, sizeof *p);
    if (ctx->size < offsetof(lp_sampler_ctx, n_prior) + sizeof ctx->n_prior || ctx->n_prior == 0 ||
        !ctx->prior || !ctx->prior_weights)
        return 0;
    size_t n = ctx->n_prior;
    p->cfgs = malloc(n * sizeof *p->cfgs);
    p->cum = malloc(n * sizeof *p->cum);
    if (!p->cfgs || !p->cum) {
        su_prior_free(p);
        return lp_err_set(err, LP_ENOMEM, "out of memory copying the prior (%zu configs)", n);
    }
    double acc = 0;
    for (size_t i = 0; i < n; i++) {
        if (!(ctx->prior_weights[i] >= 0)) {
            su_prior_free(p);
            return lp_err_set(err, LP_EINVAL, "prior weight %zu is %g (weights must be >= 0)", i,
                              ctx->prior_weights[i]);
        }
        p->cfgs[i] = ctx->prior[i];
        p->cum[i] = acc += ctx->prior_weights[i];
    }
    p->n = n;
    if (!(acc > 0)) {
        su_prior_free(p);
        return lp_err_set(err, LP_EINVAL, "the prior's weights sum to 0");
    }
    return 0;
}

/** Index of a prior config drawn with probability proportional to its weight. */
static inline size_t su_prior_draw(const su_prior *p, lp_rng *rng)
{
    return su_cum_find(p->cum, p->n, su_uniform(rng) * p->cum[p->n - 1]);
}

#endif
