/* Models: an ordered DAG of kernel instances, loaded from and saved to YAML.
 *
 * Model file format (configs/models/NAME.yaml, and what `litepred space sample` writes):
 *
 *   # MobileNetV2 1.0 (torchvision) at 224x224          <- comments are free
 *   model: mobilenetv2-1.0                               # name (required)
 *   space: mobilenetv2-1.0                               # space it came from (optional)
 *   summary: MobileNetV2 1.0 @224                        # one line (optional)
 *   input: {hw: 224, c: 3}                               # NHWC image [1, hw, hw, c] (required)
 *   encoding: {r: 224, d: [2, 3, 4, 2, 3], k: [3, 5, 7, ...], e: [3, 4, 6, ...]}
 *   kernels:                                             # in execution order (required)
 *     - {type: conv-bn-relu, config: "hw=224,cin=3,cout=32,k=3,s=2,act=relu6", in: [input]}  # 0
 *     - {type: dwconv-bn-relu, config: "hw=112,cin=32,k=3,s=1,act=relu6", in: [0]}           # 1
 *     - {type: add, config: "hw=56,c=24,act=none", in: [7, 4]}                              # 8
 *     - {op: tokens, cls: 1, in: [0]}                                                        # n
 *     - {op: token-pool, mode: mean, in: [n]}
 *
 * - `encoding` (optional) holds the choices the space drew, in the space's order: `r` is the
 *   resolution, every other key is a list over the space's stages or block slots (see space.h).
 *   A model therefore traces back to its place in its space.
 * - Each entry of `kernels` is either a kernel instance, `type` (a kernel plugin name) plus
 *   `config` (that kernel's "dim=value" list; every dim of the type, in any order), or a
 *   structural op that no kernel type covers (`op:`, no latency of its own):
 *     tokens      NHWC [1,h,w,c] -> tokens [1, h*w + cls, c]: flatten, prepend `cls` class
 *                 tokens, add the position embedding (ViT patch embedding glue).
 *     token-pool  tokens [1,n,c] -> [1,c]: `mode: mean` over the patch tokens (all but the
 *                 first) or `mode: cls` (the class token).
 * - `in` lists the producers of the entry's inputs: `input` (the model input) or the index
 *   of an earlier entry (0-based over all entries, ops included). An entry may read an
 *   input whose shape differs from the expected one only by extents of 1 ([1,1,1,c] feeds
 *   [1,c]): that is a free reshape. Any other difference is an error naming the entry's
 *   index, its type, the expected shape and the shape fed to it.
 * - Saving writes exactly this layout: canonical kernel configs (dims in the type's order),
 *   one flow mapping per entry with its index as a comment, numbers printed with %.10g,
 *   so the same model always gives the same bytes.
 */
#ifndef LITEPRED_MODEL_H
#define LITEPRED_MODEL_H

#include <litepred/litepred.h>

#ifdef __cplusplus
extern "C" {
#endif

/** `in` value naming the model input. */
#define LP_MODEL_INPUT (-1)

/** What a model entry is: a kernel instance or a structural op. */
typedef enum lp_mop {
    LP_MOP_KERNEL = 0,  /**< a kernel plugin instance */
    LP_MOP_TOKENS,      /**< NHWC -> tokens with class tokens and position embedding */
    LP_MOP_TOKEN_POOL   /**< tokens -> one vector (mean of patch tokens or class token) */
} lp_mop;

/** token-pool modes. */
typedef enum lp_token_pool { LP_TOKEN_POOL_MEAN = 0, LP_TOKEN_POOL_CLS = 1 } lp_token_pool;

/** One entry of a model. */
typedef struct lp_mnode {
    lp_mop op;                      /**< kernel or structural op */
    char *type;                     /**< kernel type name, or the op name ("tokens") */
    char *config;                   /**< kernel config text (canonical once resolved); NULL for ops */
    int in[LP_KERNEL_MAX_IN];       /**< producers: LP_MODEL_INPUT or an earlier index */
    int n_in;                       /**< number of inputs */
    int arg;                        /**< tokens: class tokens; token-pool: lp_token_pool */
    const lp_plugin *plugin;        /**< kernel plugin (after lp_model_resolve) */
    const lp_kernel_ops *ops;       /**< its ops (after lp_model_resolve) */
    lp_kcfg cfg;                    /**< parsed config (after lp_model_resolve) */
    lp_shape out;                   /**< output shape (after lp_model_check) */
    int line, col;                  /**< position in the file it was loaded from, else 0 */
    int has_fields;                 /**< read from a file with both type and config */
} lp_mnode;

/** One encoding entry: a key and its values as written ("224", "3.5"). */
typedef struct lp_menc {
    char *key;    /**< choice name ("r", "d", "k", "e", "c", "heads", "mlp") */
    char **vals;  /**< values as text */
    size_t n;     /**< number of values */
    int is_list;  /**< written as a list (else a scalar, n == 1) */
} lp_menc;

/** A model: header fields, encoding, entries. */
typedef struct lp_model {
    char *name;        /**< model name */
    char *space;       /**< space name, or NULL */
    char *summary;     /**< one line, or NULL */
    char *path;        /**< file it was loaded from, or NULL */
    int64_t input_hw;  /**< input height = width */
    int64_t input_c;   /**< input channels */
    lp_menc *enc;      /**< encoding entries in order */
    size_t n_enc;      /**< count */
    lp_mnode *k;       /**< entries in execution order */
    size_t n;          /**< count */
    size_t cap;        /**< allocated */
    int resolved;      /**< lp_model_resolve succeeded */
} lp_model;

/** Model totals: true MACs and parameters (model summaries), nn-Meter FLOPs. */
typedef struct lp_model_totals {
    double macs;        /**< sum of kernel cost().macs */
    double flops;       /**< sum of kernel cost().flops */
    double params;      /**< sum of kernel cost().true_params plus op params (embeddings) */
    size_t n_kernels;   /**< kernel entries (ops not counted) */
} lp_model_totals;

/** Creates an empty model; space may be NULL. */
int lp_model_new(const char *name, const char *space, int64_t input_hw, int64_t input_c,
                 lp_model **out, lp_err *err);
/** Frees a model. NULL is fine. */
void lp_model_free(lp_model *m);
/** Appends a kernel entry; returns its index (>= 0) or a negative LP_E*. */
int lp_model_add_kernel(lp_model *m, const char *type, const char *config, const int *in,
                        int n_in, lp_err *err);
/** Appends a structural op reading entry `in`; returns its index or a negative LP_E*. */
int lp_model_add_op(lp_model *m, lp_mop op, int arg, int in, lp_err *err);
/** Appends an encoding entry of n numbers (printed with %.10g); a scalar when !is_list. */
int lp_model_add_enc(lp_model *m, const char *key, const double *v, size_t n, int is_list,
                     lp_err *err);
/** Sets the summary line (copied). */
int lp_model_set_summary(lp_model *m, const char *summary, lp_err *err);

/** Resolves every kernel entry through its plugin: type lookup, config parse, validity;
 *  rewrites configs in canonical form. The first problem fails with the entry's index. */
int lp_model_resolve(lp_model *m, const lp_registry *reg, lp_err *err);
/** Shape check of a resolved model; fills each entry's output shape. The first mismatch
 *  fails with the entry's index, type, expected shape and the shape fed to it. */
int lp_model_check(lp_model *m, lp_err *err);
/** Reads a model file, resolves and shape-checks it. Problems fail with file:line. */
int lp_model_load(const lp_registry *reg, const char *path, lp_model **out, lp_err *err);
/** Reads a model file without resolving or checking it (structure only). */
int lp_model_read(const char *path, lp_model **out, lp_err *err);
/** Validates a parsed model document: every problem goes to diag with file:line:col. */
int lp_model_check_doc(const lp_registry *reg, const lp_ydoc *doc, lp_diag *diag);

/** Writes the model's YAML text (deterministic) into a malloc'd string. */
int lp_model_to_yaml(const lp_model *m, char **out, lp_err *err);
/** Saves the model's YAML to path (written to a temporary file, then renamed). */
int lp_model_save(const lp_model *m, const char *path, lp_err *err);

/** Cost of entry i of a resolved model (zero for ops except embedding params). */
void lp_model_entry_cost(const lp_model *m, size_t i, lp_cost *out);
/** Totals of a resolved model. */
void lp_model_totals_get(const lp_model *m, lp_model_totals *t);

/** Builds the whole model's primitive graph (kernels' build() plus op glue and free
 *  reshapes); the model input is the graph input and the last entry the output. */
int lp_model_build(const lp_model *m, lp_graph *g, lp_err *err);

/** Name of a structural op ("tokens"); "kernel" for LP_MOP_KERNEL. */
const char *lp_mop_name(lp_mop op);

#ifdef __cplusplus
}
#endif
#endif
