/* Similarity plugins: pick, for one kernel type, the knowledge-pool predictor whose
 * predictions look most like the target platform's measurements (LitePred step 2).
 *
 * The data: a kernel type's REPRESENTATIVE SET (configs/representative/<kernel>.yaml, a
 * fixed list of ~50-100 configs chosen to span the type's space; see the file format
 * below) is measured on the new platform, giving measured[n] (ms); every pool predictor
 * of that kernel type predicts the same n configs, giving predicted[c][n] (ms). A metric
 * scores each candidate c against the measurements, and lp_similarity_pick chooses the
 * best score, so the pipeline never re-implements the choice.
 *
 * Direction: a score is written as the metric computes it (a KL divergence, a rank
 * correlation), never negated, so reports show real values; the metric declares in its
 * ops whether lower or higher is better, and lp_similarity_pick honours it.
 *
 * The shipped metrics:
 *   kl      KL(measured || predicted) of the two vectors, each normalised to sum 1; lower
 *           is better. The reference code (Moonlit/LitePred) sorts the KLs descending and
 *           takes the LARGEST, which picks the least similar predictor: a defect, not the
 *           method (which picks the smallest). This project picks the smallest.
 *   rank    Kendall tau-b (or Spearman) between the two vectors (OneProxy-style); higher is
 *           better.
 *   random  a seeded uniform score per candidate, ignoring the vectors: a random pick.
 *
 * Representative file format (every problem is reported as file:line:col):
 *
 *   # how the set was chosen, and the exact command that wrote it
 *   representative: conv-bn-relu        # kernel type (a kernel plugin's name)
 *   summary: one line                   # optional
 *   configs:                            # at least 2 distinct configs, each valid
 *     - "hw=56,cin=24,cout=72,k=1,s=1,act=relu6"
 *
 * Metrics never print; they return negative LP_E* codes with a message in err. */
#ifndef LITEPRED_SIMILARITY_H
#define LITEPRED_SIMILARITY_H

#include <litepred/litepred.h>

#ifdef __cplusplus
extern "C" {
#endif

/** Which way a metric's scores improve. 0 is not a direction, so a metric that forgets to
 *  declare one is refused rather than silently taken as lower-is-better. */
typedef enum lp_sim_direction {
    LP_SIM_LOWER_IS_BETTER = 1, /**< a distance or divergence (kl) */
    LP_SIM_HIGHER_IS_BETTER = 2 /**< an agreement or correlation (rank, random) */
} lp_sim_direction;

/** Operations of a similarity metric. Only ever appended; test members with LP_OPS_HAS. */
typedef struct lp_similarity_ops {
    size_t size;                /**< sizeof(lp_similarity_ops) at build time */
    lp_sim_direction direction; /**< how the scores of score() compare */
    /** Scores one candidate: measured[n] are the target platform's latencies (ms, finite,
     *  > 0) and predicted[n] the candidate's predictions for the same configs (ms, finite;
     *  possibly <= 0 from a poor regressor). Writes a finite *score. A metric with state
     *  (random) advances it per call, so a pick depends only on the options and the calls
     *  made so far. */
    int (*score)(void *priv, const double *measured, const double *predicted, size_t n,
                 double *score, lp_err *err);
} lp_similarity_ops;

/* ---- core helpers (core/src/similarity.c) -------------------------------- */

/** Scores every candidate (predicted[c][0..n) for c < n_candidates) against measured[n]
 *  with the metric instance sim, writes each score to scores[c] (when scores is not NULL)
 *  and the best candidate's index to *best (ties: the first). A candidate whose vector is
 *  NULL or holds a non-finite prediction is not scored (scores[c] = NAN) and cannot be
 *  picked, so one broken pool predictor does not block adaptation. LP_EINVAL
 *  for a bad call (n or n_candidates 0, a measured latency not finite and > 0, no
 *  candidate left), LP_EPLUGIN when the metric returns a non-finite score. */
int lp_similarity_pick(lp_instance *sim, const double *measured, const double *const *predicted,
                       size_t n_candidates, size_t n, size_t *best, double *scores, lp_err *err);

/** True when score a is strictly better than score b for a metric of direction dir. */
int lp_similarity_better(lp_sim_direction dir, double a, double b);

/* ---- representative sets (core/src/representative.c) ------------------- */

/** Default number of configs `litepred representative` chooses per kernel type. */
#define LP_REPR_DEFAULT_N 64
/** Smallest and largest set lp_representative_generate accepts (the check accepts >= 2). */
#define LP_REPR_MIN_N 8
/** See LP_REPR_MIN_N. */
#define LP_REPR_MAX_N 512
/** Models drawn per space for the prior the generator stratifies. */
#define LP_REPR_MODELS_PER_SPACE 100

/** Where each chosen config came from (for the generator's comments). */
typedef enum lp_repr_source {
    LP_REPR_COVER = 1, /**< picked to cover a categorical dim's value */
    LP_REPR_PRIOR,     /**< a FLOPs quantile of the prior (configs in NAS-space models) */
    LP_REPR_SPREAD     /**< a FLOPs quantile of configs drawn around the prior */
} lp_repr_source;

/** A chosen representative set: configs sorted by FLOPs, with their origin. */
typedef struct lp_repr_set {
    lp_kcfg *cfgs;            /**< n configs, each valid, distinct */
    lp_repr_source *sources;  /**< why each was chosen */
    size_t n;                 /**< count */
    size_t n_prior_distinct;  /**< distinct prior configs the choice started from */
} lp_repr_set;

/** Chooses n configs of kernel_type that span its space (the algorithm is described in
 *  core/src/representative.c and in every shipped file's header): the prior is built from
 *  every space in spaces_dir (NULL: lp_spaces_dir_default()), LP_REPR_MODELS_PER_SPACE
 *  models each, stream `seed`; the same arguments give the same set on every machine.
 *  Free *out with lp_repr_set_free. */
int lp_representative_generate(const lp_registry *reg, const char *spaces_dir,
                               const char *kernel_type, size_t n, uint64_t seed,
                               lp_repr_set *out, lp_err *err);
/** Frees the arrays of a set and zeroes it; NULL is fine. */
void lp_repr_set_free(lp_repr_set *s);

/** Resolves a representative argument: a path (contains '/' or ends in .yaml) as is, else
 *  <lp_config_dir()>/representative/<kernel>.yaml. malloc'd, or NULL with err set
 *  (LP_ENOTFOUND when the file does not exist). */
char *lp_representative_path(const char *path_or_kernel, lp_err *err);

/** Loads a representative set by kernel type name or path (lp_representative_path) and
 *  validates it: every config parses and passes its kernel's valid(), no duplicates, at
 *  least 2 configs; resolved by name, the file's kernel type must be that name. The first
 *  problem fails as "file:line:col: message" (LP_EINVAL), LP_ENOTFOUND / LP_EIO when the
 *  file cannot be read. *kernel_type (when not NULL) gets the kernel type (malloc'd);
 *  *cfgs (malloc'd) the n configs in file order. */
int lp_representative_load(const lp_registry *reg, const char *path_or_kernel, char **kernel_type,
                           lp_kcfg **cfgs, size_t *n, lp_err *err);

/** Validates a parsed representative document (`litepred check`); every problem goes to
 *  diag. 0 or LP_EINVAL. */
int lp_representative_check_doc(const lp_registry *reg, const lp_ydoc *doc, lp_diag *diag);

#ifdef __cplusplus
}
#endif
#endif
