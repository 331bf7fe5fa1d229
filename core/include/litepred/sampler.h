/* Sampler plugins: draw kernel configurations of one kernel type for measuring.
 *
 * Life of a sampler instance (one kernel type at a time):
 *   1. the core creates the instance (options applied, init called; see litepred.h);
 *   2. the core builds an lp_sampler_ctx (kernel type, its ops, seed, and the PRIOR: that
 *      kernel type's configs in models drawn from the NAS spaces, frequency-weighted; see
 *      lp_prior_build) and calls setup();
 *   3. sample() as often as it likes: every emitted config is valid per the kernel's valid(),
 *      and the stream depends only on the options, the context and the calls made so far
 *      (the same seed and calls give the same configs on every machine);
 *   4. optionally, between rounds, feedback() with the relative errors a predictor made on
 *      measured configs (adaptive samplers refine where it is wrong);
 *   5. the core destroys the instance: the plugin's fini frees what setup() allocated
 *      (fini runs for every instance that was created, whether or not it has an init).
 *
 * A sampler never prints; it returns negative LP_E* codes with a message in err. */
#ifndef LITEPRED_SAMPLER_H
#define LITEPRED_SAMPLER_H

#include <litepred/space.h>

#ifdef __cplusplus
extern "C" {
#endif

/* ---- the prior: a kernel type's configs in the NAS spaces ------------ */

/** Frequency of each distinct config of one kernel type over models drawn from search
 *  spaces. Rows are sorted by count (most frequent first), then by config (dims compared
 *  in order), the order `litepred space configs` prints. */
typedef struct lp_prior {
    lp_kcfg *cfgs;     /**< distinct configs, n of them */
    uint64_t *counts;  /**< occurrences of each config */
    double *weights;   /**< counts[i] / total; they sum to 1 (all 0 when total is 0) */
    size_t n;          /**< distinct configs */
    uint64_t total;    /**< occurrences over every model counted */
    uint64_t n_models; /**< models counted */
    lp_kcfg *pending;  /**< internal: occurrences added since the last lp_prior_finish */
    size_t n_pending;  /**< internal */
    size_t cap_pending; /**< internal */
} lp_prior;

/** Builds kernel_type's prior from every space file in spaces_dir (lp_space_files; NULL:
 *  lp_spaces_dir_default()): models 0..models_per_space-1 of stream `seed` of each space,
 *  pooled (a config that appears more often weighs more). *out is overwritten (free it
 *  with lp_prior_free). LP_ENOTFOUND for an unknown kernel type or a directory without
 *  spaces; a space that kernel_type does not occur in simply adds nothing. */
int lp_prior_build(const lp_registry *reg, const char *spaces_dir, const char *kernel_type,
                   size_t models_per_space, uint64_t seed, lp_prior *out, lp_err *err);
/** Adds the kernel_type entries of models [0, n_models) of stream `seed` of space s to p
 *  (zero-initialised, or holding earlier spaces' counts), then calls lp_prior_finish. */
int lp_prior_add_space(lp_prior *p, const lp_registry *reg, const lp_space *s,
                       const char *kernel_type, uint64_t n_models, uint64_t seed, lp_err *err);
/** Records the kernel_type entries of one resolved model (counted at the next finish). */
int lp_prior_add_model(lp_prior *p, const lp_model *m, const char *kernel_type, lp_err *err);
/** Merges what was added into the distinct rows, re-sorts them and recomputes weights. */
int lp_prior_finish(lp_prior *p, lp_err *err);
/** Frees the arrays of p and zeroes it. NULL is fine. */
void lp_prior_free(lp_prior *p);

/* ---- the sampler plugin interface ------------------------------------- */

/** What the core tells a sampler about the kernel type it samples. kernel_type and kernel
 *  stay valid while the registry is open; the prior arrays only during setup(), so a
 *  sampler copies what it keeps of them. Members are only appended; a plugin reads a
 *  member past `size` as absent. */
typedef struct lp_sampler_ctx {
    size_t size;                   /**< sizeof(lp_sampler_ctx) the core was built with */
    const char *kernel_type;       /**< kernel plugin name ("conv-bn-relu") */
    const lp_kernel_ops *kernel;   /**< its ops: dims, valid(), repair() */
    uint64_t seed;                 /**< stream seed (the pipeline's `seed:`) */
    const lp_kcfg *prior;          /**< distinct prior configs, most frequent first; NULL when none */
    const double *prior_weights;   /**< their weights, summing to 1 */
    size_t n_prior;                /**< number of prior configs (0: no prior) */
} lp_sampler_ctx;

/** Operations of a sampler. Only ever appended; check size before using a member. */
typedef struct lp_sampler_ops {
    size_t size; /**< sizeof(lp_sampler_ops) at build time */
    /** Prepares to sample ctx->kernel_type; may be called again to start over (a new kernel
     *  type or seed), releasing what the previous call allocated. Samplers that need a prior
     *  fail with LP_EINVAL when ctx->n_prior is 0; the others ignore it. */
    int (*setup)(void *priv, const lp_sampler_ctx *ctx, lp_err *err);
    /** Writes the next n configs of the stream to out; each passes the kernel's valid(). */
    int (*sample)(void *priv, size_t n, lp_kcfg *out, lp_err *err);
    /** Optional (NULL: the sampler ignores feedback). Tells the sampler the relative errors
     *  |pred - meas| / meas a predictor made on n measured configs (valid configs of the
     *  kernel type; errors finite and >= 0). Returns how many configs it queued for the
     *  next sample() calls (>= 0), or a negative LP_E*. */
    int (*feedback)(void *priv, const lp_kcfg *cfgs, const double *rel_err, size_t n, lp_err *err);
} lp_sampler_ops;

/* ---- core helpers (core/src/sampler.c) --------------------------------- */

/** Fills ctx for kernel_type (whose ops are kops) with seed and prior (may be NULL). */
void lp_sampler_ctx_init(lp_sampler_ctx *ctx, const char *kernel_type, const lp_kernel_ops *kops,
                         uint64_t seed, const lp_prior *prior);
/** Calls the sampler instance's setup(); LP_EINVAL when inst is not a sampler. */
int lp_sampler_setup(lp_instance *inst, const lp_sampler_ctx *ctx, lp_err *err);
/** Calls sample() and checks every config with kops->valid(); an invalid one is a plugin
 *  bug and fails with LP_EPLUGIN naming the sampler and the config. */
int lp_sampler_sample(lp_instance *inst, const lp_kernel_ops *kops, size_t n, lp_kcfg *out,
                      lp_err *err);
/** Calls feedback() when the sampler has one (else returns 0): configs queued, or LP_E*. */
int lp_sampler_feedback(lp_instance *inst, const lp_kcfg *cfgs, const double *rel_err, size_t n,
                        lp_err *err);

/* ---- distribution check (core/src/kl2d.c) ------------------------------------ */

/** Settings of lp_kl2d; a zero member takes its default. */
typedef struct lp_kl2d_opts {
    double bins_per_octave; /**< cells per doubling of v + 1 on each axis (0: 2) */
    double eps;             /**< mass added to each occupied cell of both histograms (0: 1e-6) */
    unsigned group_mask;    /**< bit d: dim d's value also keys the cells (k, s): KL over the joint */
} lp_kl2d_opts;

/** KL(P || Q) in nats between 2-D histograms of dims dx and dy (values >= 0, binned on
 *  log2(v + 1)) of two weighted config sets (weights NULL: 1 each; each set is normalised to
 *  1). Cells are those occupied by either set; eps keeps a cell P has and Q lacks finite.
 *  0 for identical sets; LP_EINVAL for a bad dim, value, weight or setting. */
int lp_kl2d(const lp_kcfg *p, const double *pw, size_t np, const lp_kcfg *q, const double *qw,
            size_t nq, size_t dx, size_t dy, const lp_kl2d_opts *o, double *kl, lp_err *err);

#ifdef __cplusplus
}
#endif
#endif
