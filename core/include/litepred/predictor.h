/* Predictor plugins: learn one kernel type's latency (ms) from its features.
 *
 * A predictor instance is created with its options (lp_instance_create), then either
 * trained on a data set or loaded from a file; then it predicts, and saves. One instance
 * serves one kernel type; the kernel type and feature count are fixed by the first
 * train() (from the data set) or by load() (from the file), and stored in the file.
 *
 * Fine-tuning (LitePred's adaptation step): load the pool predictor picked for the new
 * platform, then train() with ctl->finetune set: training starts from the held weights
 * (and keeps the held input normalisation, which those weights were learned with), with
 * the same trainer and options and nothing frozen. Without finetune, train() always
 * starts from scratch, discarding any held weights.
 *
 * Threads: an instance is not thread-safe (predict reuses buffers it owns); use one
 * instance per thread, or lock around it. The core wires predictors; a plugin never prints.
 */
#ifndef LITEPRED_PREDICTOR_H
#define LITEPRED_PREDICTOR_H

#include <stddef.h>
#include <stdint.h>
#include <litepred/plugin.h>

#ifdef __cplusplus
extern "C" {
#endif

/** Training or evaluation rows of one kernel type. */
typedef struct lp_dataset {
    const char *kernel_type; /**< kernel plugin name ("conv-bn-relu"); NULL: unnamed */
    size_t n;                /**< rows */
    size_t n_features;       /**< features per row (the kernel plugin's n_features) */
    const float *x;          /**< [n x n_features] row-major: features() of each config */
    const float *y;          /**< [n] measured latencies in ms, finite and > 0 */
} lp_dataset;

/** Called after each epoch (epoch counts from 1); val_mape is NAN without a validation set.
 *  Returning nonzero stops training: train() then fails with LP_EINTERRUPTED. */
typedef int (*lp_train_progress_fn)(void *ctx, int64_t epoch, int64_t epochs, double loss,
                                    double val_mape);

/** How to train (caller-owned; zero-initialise, then set what is needed). */
typedef struct lp_train_ctl {
    int finetune;                  /**< start from the held weights (loaded or trained) */
    lp_train_progress_fn progress; /**< per-epoch progress, may be NULL */
    void *ctx;                     /**< passed to progress */
} lp_train_ctl;

/** What train() did. Fields a predictor cannot fill are 0 (NAN for the MAPEs). */
typedef struct lp_train_report {
    int64_t epochs;     /**< epochs run */
    double first_loss;  /**< mean training loss of the first epoch */
    double final_loss;  /**< mean training loss of the last epoch */
    double train_mape;  /**< MAPE on the training rows after training */
    double val_mape;    /**< MAPE on the validation rows after training (NAN without them) */
    double seconds;     /**< wall time of train() */
    int finetuned;      /**< 1 when training started from held weights */
    /* Out-of-bag error (bagged predictors such as rf): each training row predicted by the
     * models that did not train on it. Appended; read them only when oob_rows > 0. */
    int64_t oob_rows;   /**< training rows with an out-of-bag prediction; 0: no OOB estimate */
    double oob_mape;    /**< MAPE of the out-of-bag predictions over those rows */
    double oob_rmse;    /**< their root mean squared error (ms) */
    double oob_r2;      /**< their coefficient of determination (scikit-learn's oob_score_) */
} lp_train_report;

/** Operations of a predictor. Only ever appended; test members with LP_OPS_HAS. */
typedef struct lp_predictor_ops {
    size_t size; /**< sizeof(lp_predictor_ops) at build time */
    /** Trains on train (val may be NULL: used only for reporting); report may be NULL.
     *  With ctl->finetune (ctl may be NULL) the predictor must hold weights of the same kernel
     *  type and feature count, else LP_EINVAL. Targets must be > 0. */
    int (*train)(void *priv, const lp_dataset *train, const lp_dataset *val,
                 const lp_train_ctl *ctl, lp_train_report *report, lp_err *err);
    /** Predicts n rows of x ([n x n_features]) into out[n] (ms). LP_EINVAL when untrained. */
    int (*predict)(void *priv, const float *x, size_t n, float *out, lp_err *err);
    /** Writes the held model to path atomically (temporary file, then rename); a reloaded
     *  model predicts bit-identically and re-saves to the same bytes. */
    int (*save)(void *priv, const char *path, lp_err *err);
    /** Replaces the held model (architecture, normalisation, weights, kernel type) with the
     *  one in path; the file's architecture wins over the instance's options. Errors name
     *  path and the problem, and leave the held model unchanged: LP_ENOTFOUND / LP_EIO (cannot
     *  read), LP_EPARSE (bad magic: not this predictor's file), LP_EUNSUPPORTED (a newer
     *  format version), LP_ECORRUPT (truncated, checksum mismatch, inconsistent fields). */
    int (*load)(void *priv, const char *path, lp_err *err);
    /** Kernel type of the held model, NULL when untrained or unnamed. */
    const char *(*kernel_type)(void *priv);
    /** Feature count of the held model, 0 when untrained. */
    size_t (*n_features)(void *priv);
} lp_predictor_ops;

#ifdef __cplusplus
}
#endif
#endif
