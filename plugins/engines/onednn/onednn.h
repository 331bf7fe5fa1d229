/* The oneDNN engine's private declarations: instance state, the prepared
 * graph (one dnnl primitive per node, memories bound once) and the builders
 * that both supports() and prepare() go through, so that what supports()
 * accepts is exactly what prepare() can build. */
#ifndef LP_ONEDNN_H
#define LP_ONEDNN_H

#include <litepred/engine.h>

#include <oneapi/dnnl/dnnl.h>
#include <stdint.h>

/** Index of the `precision` choice. */
typedef enum lp_dn_prec { LP_DN_FP32 = 0, LP_DN_INT8 = 1 } lp_dn_prec;

/** Private state of an instance; options are written at their offsets. */
typedef struct lp_dnnl {
    int64_t threads;     /**< option `threads` */
    int precision;       /**< option `precision`: an lp_dn_prec */
    dnnl_engine_t eng;   /**< CPU engine, created at init */
    char version[96];    /**< "oneDNN 2.6.3 (OpenMP, avx512_core_bf16)" */
} lp_dnnl;

/** Most arguments one primitive takes (layernorm: src, dst, scale, shift, mean, variance,
 *  scratchpad). */
#define LP_DN_MAX_ARGS 8

/** One node ready to execute: the primitive and its bound arguments. */
typedef struct lp_dstep {
    dnnl_primitive_t prim;                /**< NULL for a reshape (an alias) */
    int nargs;
    dnnl_exec_arg_t args[LP_DN_MAX_ARGS];
    dnnl_memory_t scratch;                /**< scratchpad view on the shared buffer, or NULL */
} lp_dstep;

/** Storage of one graph tensor: a plain row-major buffer. */
typedef struct lp_dten {
    void *buf;            /**< row-major data; aliases the input for a reshape output */
    int owns;             /**< 1 when buf is ours to free */
    int64_t numel;        /**< element count */
    dnnl_data_type_t dt;  /**< f32, or u8 / s8 in the int8 path */
    float scale;          /**< int8: real value = q * scale */
    float lo, hi;         /**< range seen in the fp32 calibration run */
} lp_dten;

/** A prepared graph. */
typedef struct lp_drun {
    const lp_dnnl *eng;
    int int8;                 /**< built with quantised activations */
    dnnl_stream_t stream;
    lp_dten *ten;
    size_t n_tensors;
    lp_dstep *steps;
    size_t n_steps;
    dnnl_memory_t *mems;      /**< every memory object made at prepare, destroyed at release */
    size_t n_mems, cap_mems;
    void *scratch;            /**< one scratchpad shared by all steps (they run in turn) */
    size_t scratch_bytes;
    int *outputs;
    size_t n_outputs;
} lp_drun;

/** What building one node needs. With r == NULL only the primitive descriptor is made
 *  (supports); with r set the primitive is created and its memories bound (prepare). */
typedef struct lp_dbuild {
    const lp_dnnl *e;
    const lp_graph *g;
    const lp_node *nd;
    lp_drun *r;              /**< NULL when only checking */
    lp_dstep *step;          /**< where the arguments go (prepare only) */
    int int8;                /**< quantised path */
    dnnl_data_type_t dt[LP_NODE_MAX_IN]; /**< activation types of the inputs (int8 path) */
    dnnl_data_type_t dt_out;
    float scale[LP_NODE_MAX_IN], scale_out; /**< int8 scales (dummies when checking) */
    dnnl_primitive_desc_t pd;               /**< the node's primitive descriptor */
    lp_err *err;
} lp_dbuild;

/* ---- errors (onednn.c) --------------------------------------------------------- */

/** 0 when st is dnnl_success, else an LP_E* code with "onednn: <prim>: <call>: <status>" in err. */
int lp_dn_check(dnnl_status_t st, lp_err *err, const char *prim, const char *call);

/* ---- shape checks (check.c) ---------------------------------------------------- */

/** Checks a node with lp_graph_node_check (LP_EINVAL), then what oneDNN cannot tell (LP_EUNSUPPORTED). */
int lp_dn_check_node(const lp_graph *g, const lp_node *nd, lp_err *err);
/** Same padding (TF): out = ceil(in / s), pad_l = total / 2, pad_r = total - pad_l. */
void lp_dn_same_pad(int64_t in, int k, int s, int64_t *out, int64_t *pad_l, int64_t *pad_r);
/** An axis counted from the end when negative. */
static inline int lp_dn_axis(int axis, int rank)
{
    return axis < 0 ? axis + rank : axis;
}

/* ---- builders (prims.c, layout.c) ----------------------------------------------- */

/** Makes b->pd for b->nd and, when b->r is set, the primitive and its bound memories. */
int lp_dn_build(lp_dbuild *b);
/** True when the int8 path quantises this primitive. */
int lp_dn_int8_prim(lp_prim p);
/** True when, in the int8 path, the primitive's output keeps its input's type and scale
 *  (it only moves or selects values, so nothing is requantised). */
int lp_dn_int8_keeps_scale(lp_prim p);

/** Row-major memory desc of a shape. */
int lp_dn_md_plain(dnnl_memory_desc_t *md, const lp_shape *s, dnnl_data_type_t dt);
/** A memory object over buf (or DNNL_MEMORY_ALLOCATE), owned by the runnable. */
int lp_dn_mem(lp_dbuild *b, const dnnl_memory_desc_t *md, void *buf, dnnl_memory_t *out);
/** Appends an execution argument to the step. */
void lp_dn_arg(lp_dbuild *b, int arg, dnnl_memory_t mem);
/** Creates the primitive from b->pd and binds its scratchpad; prepare only. */
int lp_dn_finish(lp_dbuild *b);
/** Attributes with a user scratchpad (so run() never allocates); free with dnnl_primitive_attr_destroy. */
int lp_dn_attr(dnnl_primitive_attr_t *attr, lp_err *err, const char *prim);
/** act as eltwise steps (hsigmoid takes two); returns their count (0 for none). */
int lp_dn_act_algs(lp_act act, dnnl_alg_kind_t alg[2], float alpha[2], float beta[2]);
/** Appends act's steps from the skip-th on (and, when post_scale != 1, a final multiply)
 *  as eltwise post-ops to attr. */
int lp_dn_post_ops(dnnl_primitive_attr_t attr, lp_act act, int skip, float post_scale,
                   lp_err *err, const char *prim);

int lp_dn_build_concat(lp_dbuild *b);
int lp_dn_build_transpose(lp_dbuild *b);
int lp_dn_build_slice(lp_dbuild *b);

/* ---- prepared graphs (run.c) ------------------------------------------------------ */

/** supports(): the node's shapes, then its primitive descriptor made as prepare() would. */
int lp_dn_supports_node(const lp_dnnl *e, const lp_graph *g, const lp_node *nd, lp_err *err);
int lp_dn_prepare(void *priv, const lp_graph *g, void **runnable, lp_err *err);
int lp_dn_run(void *runnable, lp_err *err);
int lp_dn_output(void *runnable, size_t i, float *dst, size_t n, lp_err *err);
void lp_dn_release(void *runnable);

/* ---- int8 (quant.c) -------------------------------------------------------------- */

/** Picks u8 (range >= 0) or s8 and the scale for a tensor's calibrated range. */
void lp_dq_choose(lp_dten *t);
/** Quantises n floats to t's type and scale into dst. */
void lp_dq_quantize(const lp_dten *t, const float *src, void *dst, int64_t n);
/** Per-output-channel s8 weights: rows of `inner` floats, scales[o] = absmax / 127. */
void lp_dq_weights(const float *w, int64_t rows, int64_t inner, int8_t *q, float *scales);
/** Dequantises n values of t into dst. */
void lp_dq_dequantize(const lp_dten *t, float *dst, int64_t n);
/** Records lo/hi of n floats into t. */
void lp_dq_range(lp_dten *t, const float *x, int64_t n);

#endif
