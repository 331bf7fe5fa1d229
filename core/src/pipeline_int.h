/* Internals shared by the pipeline runners (pipeline_run.c: build, evaluate;
 * pipeline_adapt.c: build-pool, adapt). Not installed. */
#ifndef LITEPRED_PIPELINE_INT_H
#define LITEPRED_PIPELINE_INT_H

#include <litepred/measure.h>
#include <litepred/pipeline.h>
#include <litepred/pool.h>
#include <stdio.h>

/* A set of distinct kernel configs of one type with their measuring jobs. */
typedef struct pl_kset {
    lp_job *jobs;   /* kernel jobs: type + canonical config; state and timing after measuring */
    lp_kcfg *cfgs;  /* parsed configs, parallel to jobs */
    size_t n, cap;
} pl_kset;

/* Rows (features, latency) of the measured configs listed in idx. */
typedef struct pl_rows {
    float *x, *y;
    lp_kcfg *cfgs;
    size_t n;
} pl_rows;

/** Accuracy of predictions against measurements. */
typedef struct pl_acc {
    size_t n;
    double se, spe, within5, within10; /* sums */
} pl_acc;

/* What a pipeline step on one platform works with: the platform loaded, the store open,
 * the platform's store id. */
typedef struct pl_env {
    const lp_registry *reg;
    const lp_pipeline *p;
    const lp_run_opts *o;
    lp_platform *pf;
    lp_store *st;
    int64_t pid;
} pl_env;

/* Loads platform (a name or path), opens p's store and registers the platform in it. */
int pl_env_open(pl_env *e, const lp_registry *reg, const lp_pipeline *p, const lp_run_opts *o,
                const char *platform, lp_err *err);
/* Closes the store and frees the platform. */
void pl_env_close(pl_env *e);

/* Options a plugin reference holds that are the pipeline's, not the plugin's. */
extern const char *const pl_plugin_skip[];
/* The same for `sampler:`, whose count, seed, rounds and prior_models are the pipeline's. */
extern const char *const pl_sampler_skip[];
/* strcmp over an array of char * (qsort, bsearch). */
int pl_cmp_str(const void *a, const void *b);

/* mkdir -p */
int pl_make_dirs(const char *path, lp_err *err);
/* A plugin instance from a pipeline reference; option problems become err. */
int pl_instance_of(const lp_pipeline *p, const lp_plugin_ref *ref, const char *const *skip,
                   lp_instance **out, lp_err *err);
/* Loads a platform by name or path; the first problem becomes err. */
int pl_load_platform(const lp_registry *reg, const char *name, lp_platform **pf, lp_err *err);
/* Frees a set's arrays and zeroes it. */
void pl_kset_free(pl_kset *s);
/* Adds cfg unless an equal config is in the set: 1 added, 0 present, LP_ENOMEM. */
int pl_kset_add(pl_kset *s, const char *type, const lp_kernel_ops *kops, const lp_kcfg *cfg);
/* Measures the jobs from index `from` on (stored ones are read back). */
int pl_kset_measure(const lp_registry *reg, const lp_platform *pf, lp_store *st, pl_kset *s,
                    size_t from, const lp_run_opts *o, lp_err *err);
/* Stored median latency (ms) of a measured kernel job. */
int pl_job_latency(lp_store *st, int64_t platform_id, const lp_job *j, double *ms, lp_err *err);
/* Reads the latency (ms) of every measured job into *lat (malloc'd); jobs the engine could
 * not run are dropped from s, keeping the order of the rest. */
int pl_kset_collect(lp_store *st, int64_t pid, pl_kset *s, double **lat, lp_err *err);
/* Adds the profiling time of the first n jobs of s to *sec: (warm-up + timed runs) x mean
 * latency, read from the store, so it is the same whether they were measured now or by an
 * earlier run. */
int pl_profiling_seconds(lp_store *st, int64_t pid, const lp_platform *pf, const pl_kset *s,
                         size_t n, double *sec, lp_err *err);
/* nn-Meter's fine-grained step: a predictor trained from scratch on 80% of t (split by
 * seed) predicts the other 20%; their configs go to *tc and their relative errors to *rel
 * (both malloc'd, *n_test of them). */
int pl_test_errors(const pl_env *e, const char *type, const lp_kernel_ops *kops, const pl_kset *t,
                   const double *lat, uint64_t seed, lp_kcfg **tc, double **rel, size_t *n_test,
                   lp_err *err);
/* Frees rows. */
void pl_rows_free(pl_rows *r);
/* Rows of the configs s->cfgs[idx[i]] with latencies lat[idx[i]]. */
int pl_rows_from(const pl_kset *s, const size_t *idx, size_t n, const double *lat,
                 const lp_kernel_ops *kops, pl_rows *r, lp_err *err);
/* Adds one (measured, predicted) pair. */
void pl_acc_add(pl_acc *a, double meas, double pred);
/* RMSE (ms); NAN when empty. */
double pl_acc_rmse(const pl_acc *a);
/* RMSPE (%); NAN when empty. */
double pl_acc_rmspe(const pl_acc *a);
/* Share within +-5% (%); NAN when empty. */
double pl_acc_p5(const pl_acc *a);
/* Share within +-10% (%); NAN when empty. */
double pl_acc_p10(const pl_acc *a);
/* A seeded shuffle of 0..n-1 into idx. */
void pl_split(size_t *idx, size_t n, uint64_t seed);
/* One accuracy row, as a Markdown table row (md) or aligned text. */
void pl_print_acc_row(FILE *f, const char *name, const pl_acc *a, int md);
/* dir/name opened for writing, or NULL with err set. */
FILE *pl_report_file(const char *dir, const char *name, lp_err *err);
/* The sorted lines of dir/<type>.configs (none when absent). */
int pl_read_configs(const char *dir, const char *type, char ***v, size_t *n, lp_err *err);
/* Writes dir/<type>.configs: every config of s (the ones a predictor saw). */
int pl_write_configs(const char *dir, const char *type, const pl_kset *s, lp_err *err);

/* What an evaluation found: per space (n_spaces entries, then "all") and per kernel type. */
typedef struct pl_eval_result {
    pl_acc *per_space;    /* n_spaces + 1 */
    pl_acc *per_space_cal; /* calibrated, n_spaces + 1 (NULL without calibrate) */
    pl_acc cal_one;       /* calibrated with one scale for every space (empty without calibrate) */
    size_t n_failed;      /* models the engine could not run */
    char (*ktype)[LP_STORE_NAME_MAX]; /* kernel-level: type names */
    pl_acc *per_kernel;   /* kernel-level accuracy, parallel to ktype */
    size_t n_kernel;      /* count */
} pl_eval_result;

/* Frees an evaluation result's arrays. */
void pl_eval_result_free(pl_eval_result *r);
/* Evaluates the pool in pool_dir (NULL: <p->pool>/<platform's name>) on platform (p's evaluate settings): models measured whole
 * vs predicted; prints the tables and, when report_dir is set, writes report.md and
 * models.csv there. res (may be NULL) receives the figures. */
int pl_evaluate(const lp_registry *reg, const lp_pipeline *p, const char *platform,
                const char *pool_dir, const char *report_dir, const lp_run_opts *o,
                pl_eval_result *res, lp_err *err);

/* build-pool and adapt (pipeline_adapt.c). */
int pl_run_build_pool(const lp_registry *reg, lp_pipeline *p, const lp_run_opts *o, lp_err *err);
/* See pl_run_build_pool. */
int pl_run_adapt(const lp_registry *reg, lp_pipeline *p, const lp_run_opts *o, lp_err *err);
/* Builds predictors for one platform into <p->pool>/<platform> (the build pipeline). */
int pl_run_build(const lp_registry *reg, const lp_pipeline *p, const char *platform,
                 const lp_run_opts *o, lp_err *err);

#endif
