/* Kernel-type plugins: a fused kernel's configuration space, its arithmetic,
 * and how to write it as a graph of core primitives. Kernel types describe;
 * engines execute. Plugins implement lp_kernel_ops with the helpers below
 * (validation, snapping, canonical strings, features, cost) rather than
 * re-implementing them, so every kernel type behaves the same way. */
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
/** Most predictor features of one kernel type (every dim, FLOPs and params). */
#define LP_KERNEL_MAX_FEATURES (LP_KCFG_MAX_DIMS + 2)

/** Dim flags. */
enum {
    LP_DIM_NOFEAT = 1u << 0 /**< the dim is not a predictor feature (it does not move latency) */
};

/** One configuration dimension. Valid values are `values` when set, else min..max by step.
 *  An enum dim (labels set) ranges over min..max with min >= 0 and is written as labels[v]. */
typedef struct lp_dim {
    const char *name;            /**< key in config strings and model files ("hw") */
    const char *help;            /**< one line */
    int32_t min, max, step;      /**< range when values is NULL */
    const int32_t *values;       /**< explicit ascending valid set, or NULL */
    size_t n_values;             /**< entries in values */
    const char *const *labels;   /**< enum dim: value i is written labels[i] (NULL-terminated), or NULL */
    unsigned flags;              /**< LP_DIM_* flags */
} lp_dim;

/** A range dim initialiser. */
#define LP_DIM_RANGE(nm, hl, lo, hi, st) \
    { .name = (nm), .help = (hl), .min = (lo), .max = (hi), .step = (st) }
/** An explicit-set dim initialiser; arr is a static int32_t array (ascending). */
#define LP_DIM_SET(nm, hl, arr) \
    { .name = (nm), .help = (hl), .values = (arr), .n_values = sizeof(arr) / sizeof((arr)[0]) }
/** An enum dim initialiser over labels[0..count). */
#define LP_DIM_ENUM(nm, hl, lbl, count) \
    { .name = (nm), .help = (hl), .min = 0, .max = (count) - 1, .step = 1, .labels = (lbl) }

/* Shared ranges, so kernels that chain (conv -> dwconv -> se -> add) accept
 * the same shapes. Each bound is the largest the six NAS spaces need, plus headroom. */
/** Largest spatial side: BigNAS feeds its stem a 320x320 image. */
#define LP_KDIM_HW_MAX 320
/** Largest conv/dwconv/pool channel count: BigNAS mb7 mid is 352*6 = 2112, ResNet-50 2048; 2560 leaves headroom. */
#define LP_KDIM_CH_MAX 2560
/** Largest fc/linear/token width: AutoFormer-B's MLP is 624*4 = 2496, FBNetV3's head 1984. */
#define LP_KDIM_FEAT_MAX 4096
/** Largest token count: AutoFormer has 14*14+1 = 197; 1024 covers larger ViT inputs. */
#define LP_KDIM_TOKENS_MAX 1024

/** Labels of the shared activation enum dim, in value order: none, relu, relu6, hswish, swish. */
extern const char *const lp_kact_labels[];
/** Number of labels in lp_kact_labels. */
#define LP_KACT_COUNT 5
/** The shared fused-activation enum dim "act" (none, relu, relu6, hswish, swish), a feature
 *  (its value, in that order: roughly the cost per element). nn-Meter and LitePred make
 *  conv-bn-relu, conv-bn-hswish, ... separate kernel types with 7-wide vectors; here one
 *  type covers every fused activation, so the activation must reach the predictor: a swish
 *  costs an exp per output element, as much as a small depthwise conv itself. */
#define LP_DIM_ACT(hl) \
    { .name = "act", .help = (hl), .min = 0, .max = LP_KACT_COUNT - 1, .step = 1, \
      .labels = lp_kact_labels }
/** The primitive activation of a shared activation enum value (LP_ACT_NONE when out of range). */
lp_act lp_kact_to_act(int32_t v);

/** A kernel configuration: dims in the kernel type's order. */
typedef struct lp_kcfg {
    int32_t v[LP_KCFG_MAX_DIMS]; /**< values; unused entries are 0 */
} lp_kcfg;

/** Arithmetic of one kernel configuration. */
typedef struct lp_cost {
    double macs;   /**< true multiply-accumulates of conv/dense/matmul (model summaries) */
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
    size_t n_features;           /**< length of features() output: feature dims + 1 (FLOPs) or + 2 (FLOPs, params) */
    /** 0 when cfg is valid, else LP_EINVAL with the offending dim in err. */
    int (*valid)(const lp_kcfg *cfg, lp_err *err);
    /** Snaps cfg to the nearest valid configuration. */
    void (*repair)(lp_kcfg *cfg);
    /** Computes MACs, FLOPs, params and bytes. */
    void (*cost)(const lp_kcfg *cfg, lp_cost *out);
    /** Writes n_features predictor features (dims, FLOPs/2e6, params/1e6). */
    void (*features)(const lp_kcfg *cfg, float *out);
    /** Input shapes (n_in of them, in[] holds LP_KERNEL_MAX_IN) and output shape of cfg. */
    int (*io)(const lp_kcfg *cfg, lp_shape *in, int *n_in, lp_shape *out, lp_err *err);
    /** Appends cfg's primitives to g reading tensors in[]; writes the output tensor id. */
    int (*build)(const lp_kcfg *cfg, lp_graph *g, const int *in, int *out, lp_err *err);
} lp_kernel_ops;

/* ---- helpers for kernel plugins (core/src/kernel_util.c) ------------- */

/** True when v is one of dim's valid values. */
int lp_dim_accepts(const lp_dim *dim, int64_t v);
/** The valid value of dim nearest to v (ties go to the smaller value). */
int32_t lp_dim_snap(const lp_dim *dim, int64_t v);
/** Describes dim's valid set into buf ("1..320", "8..2048 step 8", "1, 3, 5, 7", "none, relu"); returns buf. */
char *lp_dim_describe(const lp_dim *dim, char *buf, size_t size);
/** 0 when every dim of cfg is valid, else LP_EINVAL: "k=4 is not valid (valid: 1, 3, 5, 7)". */
int lp_kcfg_check(const lp_dim *dims, size_t n_dims, const lp_kcfg *cfg, lp_err *err);
/** Snaps every dim of cfg to its nearest valid value and zeroes unused entries. */
void lp_kcfg_snap(const lp_dim *dims, size_t n_dims, lp_kcfg *cfg);
/** Writes cfg canonically ("hw=56,cin=32,cout=64,k=3,s=1,act=relu": dims in order, labels
 *  for enum dims) into buf; returns the length it needs, like snprintf. */
int lp_kcfg_format(const lp_dim *dims, size_t n_dims, const lp_kcfg *cfg, char *buf, size_t size);
/** Parses "key=value,..." (every dim exactly once, any order, spaces allowed around items,
 *  labels for enum dims). Errors name the bad key or value and list the valid keys or labels.
 *  Checks syntax only: call valid() for ranges. */
int lp_kcfg_parse(const lp_dim *dims, size_t n_dims, const char *text, lp_kcfg *cfg, lp_err *err);

/** Checks a kernel type's tables: dims count, names unique, ranges and sets well formed,
 *  labels cover enum ranges, n_features = feature dims + 1 or + 2, every member set. */
int lp_kernel_ops_check(const lp_kernel_ops *ops, lp_err *err);
/** Number of dims of ops that are predictor features (no LP_DIM_NOFEAT). */
size_t lp_kernel_feature_dims(const lp_kernel_ops *ops);
/** Writes ops->n_features features: feature dims in order, FLOPs/2e6, then params/1e6 when
 *  n_features leaves room for it (nn-Meter's scaling). */
void lp_kernel_features(const lp_kernel_ops *ops, const lp_kcfg *cfg, const lp_cost *cost, float *out);
/** Name of feature i ("hw", "flops", "params"), or NULL when i >= n_features. */
const char *lp_kernel_feature_name(const lp_kernel_ops *ops, size_t i);

/** Cost of a same-padded conv (groups divide cin and cout) with fused BN: nn-Meter's
 *  params = cout * (k^2 * cin/groups + 1) and FLOPs = 2 * (hw / s)^2 * params (float division),
 *  true MACs and params, and fp32 bytes of input, weights and output. */
void lp_kernel_cost_conv(int64_t hw, int64_t cin, int64_t cout, int k, int s, int groups, lp_cost *out);
/** Start of every build(): ops->valid(cfg), then in[] must be tensors of g with ops->io()'s
 *  input shapes (the message names the input, its shape and the expected one). */
int lp_kernel_build_check(const lp_kernel_ops *ops, const lp_kcfg *cfg, const lp_graph *g,
                          const int *in, lp_err *err);
/** Builds cfg alone into g: graph inputs of io()'s shapes, build(), output marked; *out gets
 *  the output tensor id when out is not NULL. */
int lp_kernel_graph(const lp_kernel_ops *ops, const lp_kcfg *cfg, lp_graph *g, int *out, lp_err *err);

/** OFA's make_divisible(v, divisor): max(divisor, (int)(v + divisor/2) / divisor * divisor), plus
 *  divisor when that is below 0.9 v. */
int64_t lp_make_divisible(double v, int divisor);
/** FBNet's get_divisible_by(n, divisor): n when divisible, else round-half-up(n/divisor)*divisor,
 *  plus divisor when below 0.95 n; at least divisor. */
int64_t lp_get_divisible_by(double n, int divisor);
/** OFA's (and BigNAS's) squeeze width for an SE block on c channels: make_divisible(c / 4, 8), c/4 an integer division. */
int64_t lp_se_width_ofa(int64_t c);
/** FBNetV3's squeeze width: get_divisible_by(int(cmid * 0.25 / e), 8) for expansion e. */
int64_t lp_se_width_fbnet(int64_t cmid, double e);

#ifdef __cplusplus
}
#endif
#endif
