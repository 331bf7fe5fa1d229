/* Pipelines: YAML files that wire plugins into a job (configs/pipelines/).
 *
 *   pipeline: build            # build | evaluate | build-pool | adapt
 *   platform: native-fp32-1t   # build, evaluate: a name in configs/platforms/ or a path
 *   platforms: [a, b]          # build-pool: the warm-up platforms, each built as `build` does
 *   target: native-fp32-1t     # adapt: the new platform, or a list of them (leave-one-out)
 *   store: litepred.db         # measurement store (default litepred.db)
 *   pool: pool/                # pool root: predictors of platform P are in pool/P/
 *   kernels: [conv-bn-relu, dwconv-bn-relu, fc]
 *   sampler: {plugin: prior, count: 2000, seed: 7, rounds: 0, prior_models: 200}
 *   predictor: {plugin: mlp, epochs: 350}
 *   validation: 0.2            # share of the measured configs held out for validation
 *   evaluate: {spaces: [ofa-mbv3-w1.0, ...], models: 100, seed: 11, kernels: true, calibrate: 0}
 *   report: reports/x/         # Markdown + CSV results
 *
 * adapt only:
 *   similarity: kl             # picks one pool predictor per kernel type
 *   leave_out: target          # pool platforms never picked: target (the target's own entry),
 *                              # engine (every platform of the target's engine: the paper's
 *                              # harder setting) or none
 *   candidates: [a, b]         # pool platforms to consider (default: every pool/<P>/pool.yaml)
 *   budgets: [50, 100, 200]    # sampled target configs per kernel type, each adapted and
 *                              # evaluated (nested: a smaller budget is a prefix of a larger);
 *                              # default [sampler count]
 *   finetune: true             # false: train from scratch on the same target configs (baseline)
 *   output: adapted/x          # adapted predictors: output/<target>/b<budget>/
 *                              # (default adapted/<file stem>; report: reports/<file stem>)
 *   representative: DIR        # representative sets (default configs/representative)
 *
 * In `sampler:`, count (configs per kernel type), seed, rounds (feedback rounds for samplers
 * that use feedback) and prior_models (models per space drawn to build the prior) belong to
 * the pipeline; every other key is the sampler plugin's option. Relative paths are relative
 * to the current directory. */
#ifndef LITEPRED_PIPELINE_H
#define LITEPRED_PIPELINE_H

#include <litepred/litepred.h>

#ifdef __cplusplus
extern "C" {
#endif

/** Pipeline kinds. */
typedef enum lp_pipeline_kind {
    LP_PIPE_BUILD = 1, /**< sample, measure, train, write a pool */
    LP_PIPE_EVALUATE,  /**< sample models, measure them whole, predict from a pool, report */
    LP_PIPE_BUILD_POOL,/**< build for several warm-up platforms */
    LP_PIPE_ADAPT      /**< transfer a pool to new platforms */
} lp_pipeline_kind;

/** Which pool platforms an adapt run may not pick for a target. */
typedef enum lp_leave_out {
    LP_LEAVE_TARGET = 0, /**< the target's own pool entry (default) */
    LP_LEAVE_ENGINE,     /**< every pool platform whose engine is the target's */
    LP_LEAVE_NONE        /**< nothing: the target's own predictors compete (an oracle check) */
} lp_leave_out;

/** A plugin named in a pipeline: the plugin and the YAML node holding its options. */
typedef struct lp_plugin_ref {
    const lp_plugin *plugin; /**< NULL when the key is absent */
    const lp_ynode *node;    /**< scalar name or mapping with plugin: and options */
} lp_plugin_ref;

/** A parsed pipeline; option nodes point into doc, which it owns. */
typedef struct lp_pipeline {
    lp_pipeline_kind kind;       /**< what it does */
    lp_ydoc *doc;                /**< the parsed file */
    const char *path;            /**< file name (doc->path) */
    const char *store;           /**< store path */
    const char *pool;            /**< pool root */
    const char *platform;        /**< build/evaluate: platform */
    char **targets;              /**< adapt: target platforms */
    size_t n_targets;            /**< count */
    lp_leave_out leave_out;      /**< adapt: excluded pool platforms */
    char **candidates;           /**< adapt: pool platforms considered (NULL: all) */
    size_t n_candidates;         /**< count */
    int64_t *budgets;            /**< adapt: sampled configs per kernel type, ascending */
    size_t n_budgets;            /**< count */
    int finetune;                /**< adapt: start from the picked predictor (else scratch) */
    const char *output;          /**< adapt: adapted pool root */
    const char *representative;  /**< adapt: representative-set directory (NULL: default) */
    char *own_output;            /**< adapt: default output this struct owns */
    char *own_report;            /**< adapt: default report this struct owns */
    const char *report;          /**< report directory or NULL */
    char **platforms;            /**< build-pool: platforms */
    size_t n_platforms;          /**< count */
    char **kernels;              /**< kernel types */
    size_t n_kernels;            /**< count */
    lp_plugin_ref sampler;       /**< data sampler */
    lp_plugin_ref similarity;    /**< similarity metric */
    lp_plugin_ref predictor;     /**< predictor */
    int64_t count;               /**< configs per kernel type */
    int64_t seed;                /**< sampler seed */
    int64_t rounds;              /**< feedback rounds */
    int64_t prior_models;        /**< models per space for the prior */
    double validation;           /**< held-out share */
    char **spaces;               /**< evaluate: spaces */
    size_t n_spaces;             /**< count */
    int64_t eval_models;         /**< evaluate: models per space */
    int64_t eval_seed;           /**< evaluate: model seed */
    int eval_kernels;            /**< evaluate: also kernel-level accuracy */
    int64_t eval_calibrate;      /**< evaluate: calibration models per space (0: off) */
} lp_pipeline;

/** Parses and validates a pipeline document; every problem goes to diag. */
int lp_pipeline_parse(const lp_registry *reg, lp_ydoc *doc, lp_pipeline **out, lp_diag *diag);
/** Loads a pipeline file (see lp_pipeline_parse). */
int lp_pipeline_load(const lp_registry *reg, const char *path, lp_pipeline **out, lp_diag *diag,
                     lp_err *err);
/** Frees a pipeline and its document. */
void lp_pipeline_free(lp_pipeline *p);
/** Name of a kind ("build"). */
const char *lp_pipeline_kind_name(lp_pipeline_kind k);

/** How to run. */
typedef struct lp_run_opts {
    int quiet;               /**< no progress */
    const char *plugin_path; /**< for measuring workers */
    int replay;              /**< read every measurement from the store; measure nothing */
} lp_run_opts;

/** Runs a pipeline. */
int lp_pipeline_run(const lp_registry *reg, lp_pipeline *p, const lp_run_opts *o, lp_err *err);

#ifdef __cplusplus
}
#endif
#endif
