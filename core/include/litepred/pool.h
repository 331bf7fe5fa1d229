/* Predictor pools: a directory per platform holding one trained predictor file
 * per kernel type and a pool.yaml that says which predictor plugin wrote each
 * file and how it was trained. Predicting a model = the sum of its kernels'
 * predictions; predictions are batched per kernel type and cached per config,
 * because sampled models of one space share most of their kernels. */
#ifndef LITEPRED_POOL_H
#define LITEPRED_POOL_H

#include <litepred/model.h>
#include <litepred/predictor.h>
#include <litepred/store.h>

#ifdef __cplusplus
extern "C" {
#endif

/** What pool.yaml records for one kernel type. */
typedef struct lp_pool_meta {
    char kernel_type[LP_STORE_NAME_MAX]; /**< kernel plugin name */
    char file[256];                      /**< predictor file, relative to the pool dir */
    char predictor[64];                  /**< predictor plugin that reads the file */
    char sampler[64];                    /**< sampler that chose the training configs */
    int64_t samples;                     /**< measured configs trained on (train + validation) */
    double measure_seconds;              /**< profiling time: (warm-up + timed runs) x mean latency, from the store */
    double train_seconds;                /**< training time */
    double val_mape;                     /**< validation MAPE (NAN when none) */
    double val_acc10;                    /**< share of validation configs within +-10% */
} lp_pool_meta;

/** One loaded kernel-type predictor with its cache. */
typedef struct lp_pool_entry {
    lp_pool_meta meta;             /**< as recorded */
    const lp_kernel_ops *kops;     /**< the kernel type */
    lp_instance *pred;             /**< predictor instance holding the loaded model */
    const lp_predictor_ops *pops;  /**< its ops */
    void *cache;                   /**< config -> prediction (opaque) */
} lp_pool_entry;

/** A loaded pool for one platform. */
typedef struct lp_pool {
    char *dir;              /**< the platform's pool directory */
    char *platform;         /**< platform name recorded in pool.yaml */
    char *engine;           /**< engine plugin name recorded */
    lp_pool_entry *e;       /**< one per kernel type */
    size_t n;               /**< count */
} lp_pool;

/** Writes dir/pool.yaml (atomically) for platform with engine and entries. */
int lp_pool_write_meta(const char *dir, const char *platform, const char *engine,
                       const lp_pool_meta *entries, size_t n, lp_err *err);
/** Reads dir/pool.yaml and loads every predictor it names. */
int lp_pool_open(const lp_registry *reg, const char *dir, lp_pool **out, lp_err *err);
/** Validates a pool.yaml document (`litepred check`): opens the pool it describes, which
 *  loads and checksums every predictor file; the first problem goes to diag. */
int lp_pool_check_doc(const lp_registry *reg, const lp_ydoc *doc, lp_diag *diag);
/** Frees a pool. NULL is fine. */
void lp_pool_close(lp_pool *p);
/** The entry of a kernel type, or NULL. */
lp_pool_entry *lp_pool_find(lp_pool *p, const char *kernel_type);
/** Predicts n configs of one kernel type (ms), batched, from and into the cache. */
int lp_pool_predict_kernels(lp_pool_entry *e, const lp_kcfg *cfgs, size_t n, double *out,
                            lp_err *err);
/** Predicts a resolved model: per-entry predictions into per (m->n, may be NULL; 0 for
 *  structural ops) and their sum into *total. A kernel type with no predictor is an error
 *  naming it. */
int lp_pool_predict_model(lp_pool *p, const lp_model *m, double *per, double *total, lp_err *err);

#ifdef __cplusplus
}
#endif
#endif
