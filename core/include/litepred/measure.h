/* Measuring kernels and whole models on a platform into the store. A campaign
 * skips what is stored, commits in batches (a kill loses at most the batch in
 * flight), and, for platforms with launches > 1, measures each batch in that
 * many fresh worker processes and pools their medians. */
#ifndef LITEPRED_MEASURE_H
#define LITEPRED_MEASURE_H

#include <litepred/harness.h>
#include <litepred/model.h>
#include <litepred/store.h>

#ifdef __cplusplus
extern "C" {
#endif

/** Job states. */
typedef enum lp_job_state {
    LP_JOB_PENDING = 0, /**< not yet measured */
    LP_JOB_MEASURED,    /**< measured and stored by this campaign */
    LP_JOB_STORED,      /**< already in the store: skipped */
    LP_JOB_FAILED       /**< the engine could not run it (message in err) */
} lp_job_state;

/** One thing to measure: a kernel configuration or a whole model. */
typedef struct lp_job {
    char kernel_type[LP_STORE_NAME_MAX]; /**< kernel type, or "" for a model job */
    char config[256];                    /**< canonical kernel config */
    const lp_model *model;               /**< model job: the resolved model (not owned) */
    lp_job_state state;                  /**< outcome */
    lp_timing timing;                    /**< result when measured */
    int err_code;                        /**< LP_E* when failed (LP_EUNSUPPORTED: operator fallback) */
    char err[1024];                      /**< message when failed */
} lp_job;

/** Campaign settings. */
typedef struct lp_campaign_opts {
    int quiet;                 /**< no progress output */
    size_t batch;              /**< jobs per committed batch (0: 32) */
    const char *plugin_path;   /**< passed to worker processes (may be NULL) */
    const char *exe;           /**< litepred executable for workers (NULL: /proc/self/exe) */
    int replay;                /**< never measure: a job missing from the store is an error */
} lp_campaign_opts;

/** Times graph g (filled) on the platform's engine under its harness settings. */
int lp_measure_graph(const lp_platform *pf, const lp_graph *g, lp_timing *t, lp_err *err);
/** Builds kernel cfg alone (inputs of io()'s shapes, deterministic data) and times it. */
int lp_measure_kernel(const lp_platform *pf, const lp_kernel_ops *ops, const lp_kcfg *cfg,
                      lp_timing *t, lp_err *err);
/** Builds the whole model as one graph and times it. */
int lp_measure_model(const lp_platform *pf, const lp_model *m, lp_timing *t, lp_err *err);

/** Measures every job not yet stored for the platform and stores it; fills each job's state.
 *  Jobs the engine cannot run are marked failed, not fatal. Returns 0 or the first fatal error. */
int lp_campaign_run(const lp_registry *reg, const lp_platform *pf, lp_store *st, lp_job *jobs,
                    size_t n, const lp_campaign_opts *o, lp_err *err);

/** Worker side of a pooled campaign: measures the jobs listed in jobs_path, writes results to
 *  out_path (the protocol is private to measure.c). */
int lp_campaign_worker(const lp_registry *reg, const lp_platform *pf, const char *jobs_path,
                       const char *out_path, lp_err *err);

#ifdef __cplusplus
}
#endif
#endif
