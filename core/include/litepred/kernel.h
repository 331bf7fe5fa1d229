/* Kernel-type plugins: a fused kernel's configuration space, its arithmetic,
 * and how to write it as a graph of core primitives. Kernel types describe;
 * engines execute. */
#ifndef LITEPRED_KERNEL_H
#define LITEPRED_KERNEL_H

#include <litepred/graph.h>

#ifdef __cplusplus
extern "C" {
#endif

/** Most configuration dims of one kernel type. */
#define LP_KCFG_MAX_DIMS 8
/** Most inputs of one kernel (add: two). */
#define LP_KERNEL_MAX_IN 2

/** One configuration dimension. Valid values are `values` when set, else min..max by step. */
typedef struct lp_dim {
    const char *name;            /**< key in config strings and model files ("hw") */
    const char *help;            /**< one line */
    int32_t min, max, step;      /**< range when values is NULL */
    const int32_t *values;       /**< explicit ascending valid set, or NULL */
    size_t n_values;             /**< entries in values */
    const char *const *labels;   /**< enum dim: value i is written labels[i] (NULL-terminated), or NULL */
} lp_dim;

/** A kernel configuration: dims in the kernel type's order. */
typedef struct lp_kcfg {
    int32_t v[LP_KCFG_MAX_DIMS]; /**< values; unused entries are 0 */
} lp_kcfg;

/** Arithmetic of one kernel configuration. */
typedef struct lp_cost {
    double macs;   /**< true multiply-accumulates (model summaries) */
    double flops;  /**< nn-Meter FLOPs (feature) */
    double params; /**< nn-Meter params (feature) */
    double bytes;  /**< bytes moved: fp32 inputs + weights + outputs */
    double true_params; /**< true parameter count (weights + biases) for model summaries */
} lp_cost;

/** Operations of a kernel type. Only ever appended; check size before using a member. */
typedef struct lp_kernel_ops {
    size_t size;                 /**< sizeof(lp_kernel_ops) at build time */
    const lp_dim *dims;          /**< configuration dims */
    size_t n_dims;               /**< number of dims (<= LP_KCFG_MAX_DIMS) */
    size_t n_features;           /**< length of features() output */
    /** 0 when cfg is valid, else LP_EINVAL with the offending dim in err. */
    int (*valid)(const lp_kcfg *cfg, lp_err *err);
    /** Snaps cfg to the nearest valid configuration. */
    void (*repair)(lp_kcfg *cfg);
    /** Computes MACs, FLOPs, params and bytes. */
    void (*cost)(const lp_kcfg *cfg, lp_cost *out);
    /** Writes n_features predictor features (dims, FLOPs/2e6, params/1e6). */
    void (*features)(const lp_kcfg *cfg, float *out);
    /** Input shapes (n_in of them) and output shape of cfg. */
    int (*io)(const lp_kcfg *cfg, lp_shape *in, int *n_in, lp_shape *out, lp_err *err);
    /** Appends cfg's primitives to g reading tensors in[]; writes the output tensor id. */
    int (*build)(const lp_kcfg *cfg, lp_graph *g, const int *in, int *out, lp_err *err);
} lp_kernel_ops;

#ifdef __cplusplus
}
#endif
#endif
