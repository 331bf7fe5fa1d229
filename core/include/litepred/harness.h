/* The timing harness: every engine is timed the same way. Warm-up runs, then
 * timed runs on the monotonic clock until the median is stable (its
 * distribution-free 95% confidence interval within a set fraction) or a run
 * or time cap is hit. */
#ifndef LITEPRED_HARNESS_H
#define LITEPRED_HARNESS_H

#include <litepred/litepred.h>

#ifdef __cplusplus
extern "C" {
#endif

/** Result of timing one prepared graph. */
typedef struct lp_timing {
    double median_ms; /**< median of the timed runs */
    double mean_ms;   /**< mean (reported, never used for decisions: outliers skew it) */
    double min_ms;    /**< fastest run */
    double p95_ms;    /**< 95th percentile run */
    double spread;    /**< robust relative spread: interquartile range / median */
    double ci_rel;    /**< 95% CI half-width of the median / median */
    int64_t runs;     /**< timed runs */
    int stable;       /**< 1 when the CI target stopped the loop, 0 when a cap did */
} lp_timing;

/** Growing list of run times in nanoseconds. */
typedef struct lp_samples {
    double *ns;  /**< run times */
    size_t n;    /**< count */
    size_t cap;  /**< allocated */
} lp_samples;

/** Appends one run time; rejects zero, negative and non-finite times with LP_EINVAL. */
int lp_samples_add(lp_samples *s, double ns, lp_err *err);
/** Median, mean, min, p95, IQR spread and median CI of the samples (n >= 1). */
int lp_samples_stats(const lp_samples *s, lp_timing *out, lp_err *err);
/** Frees the samples. */
void lp_samples_free(lp_samples *s);

/** Pins the calling thread and starts background load as h says; undo with lp_harness_leave. */
typedef struct lp_harness_env {
    int pinned;              /**< affinity was changed */
    unsigned char saved[128];/**< previous cpu_set_t (opaque) */
    int n_busy;              /**< background threads running */
    void *busy;              /**< their state (opaque) */
} lp_harness_env;

/** Applies h's CPU pinning and background load to the calling thread. */
int lp_harness_enter(const lp_harness_opts *h, lp_harness_env *env, lp_err *err);
/** Stops the background load and restores the affinity. */
void lp_harness_leave(lp_harness_env *env);

/** Dirties every cache line of buf (n bytes): the eviction flush_kib runs before each timed run. */
void lp_harness_flush(volatile unsigned char *buf, size_t n);
/** Times a prepared runnable of engine ops under h; every run computes the real output. */
int lp_harness_time(const lp_engine_ops *ops, void *runnable, const lp_harness_opts *h,
                    lp_timing *out, lp_err *err);

#ifdef __cplusplus
}
#endif
#endif
