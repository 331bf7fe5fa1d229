/* The XNNPACK engine's private declarations.
 *
 * A litepred graph is lowered once into a plan: a list of steps, each one
 * XNNPACK operator (conv, fully connected, pooling, elementwise, copy, ...),
 * reading and writing buffers. Graph tensors are buffers; activations that
 * XNNPACK cannot fuse add temporary buffers. The plan is precision-agnostic:
 * fp32 creates f32 operators from it; qs8 first runs it in fp32 once to
 * calibrate every buffer's range, then creates qs8/s8/x8 operators. */
#ifndef LP_XNN_H
#define LP_XNN_H

#include <litepred/engine.h>

#include <pthreadpool.h>
#include <stdint.h>
#include <xnnpack.h>

/** The snapshot Debian 12 ships (libxnnpack0 0.0~git20220216.ae108ef). */
#define LP_XNN_VERSION "XNNPACK 2022-02 (Debian 0.0~git20220216.ae108ef)"
/** Short name of the snapshot for messages. */
#define LP_XNN_SNAPSHOT "XNNPACK 2022-02"

/** Index of the `precision` choice. */
typedef enum lp_xprec { LP_XPREC_FP32 = 0, LP_XPREC_QS8 = 1 } lp_xprec;

/** Private state of an instance; options are written at their offsets. */
typedef struct lp_xnn {
    int64_t threads;     /**< option `threads` */
    int precision;       /**< option `precision`: an lp_xprec */
    pthreadpool_t pool;  /**< NULL for one thread: XNNPACK then runs inline */
} lp_xnn;

/* ---- plan ----------------------------------------------------------- */

/** What a step runs: one XNNPACK operator each. */
typedef enum lp_xkind {
    LP_XK_CONV = 1, /**< convolution2d_nhwc (depthwise and grouped included) */
    LP_XK_FC,       /**< fully_connected_nc */
    LP_XK_MAXPOOL,  /**< max_pooling2d_nhwc */
    LP_XK_AVGPOOL,  /**< average_pooling2d_nhwc (padding excluded from the count) */
    LP_XK_GAP,      /**< global_average_pooling_nwc */
    LP_XK_CLAMP,    /**< clamp_nc (standalone relu, relu6) */
    LP_XK_HSWISH,   /**< hardswish_nc */
    LP_XK_SIGMOID,  /**< sigmoid_nc */
    LP_XK_ADD,      /**< add_nd with an output clamp */
    LP_XK_MUL,      /**< multiply_nd with broadcast */
    LP_XK_SOFTMAX,  /**< softmax_nc */
    LP_XK_COPY,     /**< copy_nc with strides (concat halves, slices, identity) */
    LP_XK_SHUFFLE,  /**< channel_shuffle_nc: [rows, G, C] -> [rows, C, G] (transposes) */
    LP_XK_COUNT_
} lp_xkind;

/** A place in a buffer: buffer id and element offset. */
typedef struct lp_xref {
    int buf;
    int64_t off;
} lp_xref;

/** One step of a plan. Only the members of its kind are meaningful. */
typedef struct lp_xstep {
    lp_xkind kind;
    int node;                 /**< graph node it lowers, for messages */
    lp_xref in[2], out;
    int64_t n, h, w, c;       /**< conv, pools: NHWC input geometry */
    int k[2], s[2], pad[4];   /**< window, stride; padding top, right, bottom, left */
    int64_t groups, gic, goc; /**< conv: groups and channels per group; shuffle: groups, gic */
    int64_t rows, chan;       /**< nc ops: rows of chan elements; fc: rows of K (chan) -> goc */
    int64_t in_stride, out_stride; /**< copy: row strides in elements */
    const float *wgt;         /**< conv, fc: weights (graph data or owned_w) */
    const float *bias;        /**< conv, fc: bias or NULL */
    float *owned_w;           /**< matmul: weights pre-scaled by alpha, owned */
    int trans_w;              /**< fc: weights are [K, N] (XNN_FLAG_TRANSPOSE_WEIGHTS) */
    float lo, hi;             /**< fused output clamp */
    size_t nd[2];             /**< add, mul: ranks of the two operands */
    size_t dims[2][LP_MAX_RANK]; /**< add, mul: their shapes */
} lp_xstep;

/** A buffer: a graph tensor, a temporary or a scalar constant. */
typedef struct lp_xbuf {
    int64_t numel;
    const float *src;   /**< data loaded at prepare (graph inputs, weights read as operands) */
    float cval;         /**< value of a scalar constant */
    int is_const;       /**< scalar constant (hsigmoid's 1/6 and 1/2) */
    float *f;           /**< fp32 storage */
    int8_t *q;          /**< qs8 storage */
    float lo, hi;       /**< range seen by the fp32 calibration run */
    float scale;        /**< qs8 quantisation */
    int zp;
    int fixed;          /**< qs8 parameters fixed by XNNPACK (sigmoid output) */
    int parent;         /**< union-find: buffers that must share one quantisation */
} lp_xbuf;

/** A lowered graph. */
typedef struct lp_xplan {
    lp_xstep *steps;
    size_t n_steps, cap_steps;
    lp_xbuf *bufs;
    size_t n_bufs, cap_bufs;
    int *tbuf;          /**< per graph tensor: its buffer, or -1 */
    size_t n_tensors;
} lp_xplan;

/** A prepared graph. */
typedef struct lp_xrun {
    const lp_xnn *eng;
    lp_xprec prec;
    lp_xplan plan;
    xnn_operator_t *ops;  /**< one per step */
    size_t n_ops;
    int *out_buf;         /**< per graph output: its buffer */
    size_t n_outputs;
} lp_xrun;

/** Name of the XNNPACK operator a step kind runs ("hardswish_nc"). */
const char *lp_xkind_name(lp_xkind k);

/** Checks a node with lp_graph_node_check (LP_EINVAL when malformed), then the broadcasts XNNPACK lowers. */
int lp_xcheck_node(const lp_graph *g, const lp_node *node, lp_err *err);
/** Checks node (ids, input count, shapes) and lowers it: into plan when plan is not
 *  NULL, else only deciding whether the engine can run it at prec. LP_EUNSUPPORTED
 *  names the primitive; LP_EINVAL a malformed node. */
int lp_xlower_node(const lp_graph *g, const lp_node *node, lp_xprec prec, lp_xplan *plan,
                   lp_err *err);
/** Starts an empty plan for g. */
int lp_xplan_init(lp_xplan *p, const lp_graph *g, lp_err *err);
/** The buffer of graph tensor t, created on first use. */
int lp_xplan_tensor(lp_xplan *p, const lp_graph *g, int t, lp_err *err);
/** Frees everything a plan owns. */
void lp_xplan_free(lp_xplan *p);

/** Allocates fp32 storage for every buffer and loads inputs, weights and constants. */
int lp_xbufs_alloc_f32(lp_xplan *p, lp_err *err);
/** Frees the fp32 storage (a qs8 run keeps only int8 buffers). */
void lp_xbufs_free_f32(lp_xplan *p);
/** Records each buffer's range from its fp32 data (after one fp32 run). */
void lp_xcalibrate(lp_xplan *p);
/** Chooses every buffer's qs8 scale and zero point from the calibrated ranges. */
void lp_xquant_assign(lp_xplan *p);
/** Allocates int8 storage and quantises inputs, weights and constants into it. */
int lp_xbufs_alloc_q8(lp_xplan *p, lp_err *err);
/** Quantises one value with a buffer's parameters. */
int8_t lp_xquant(const lp_xbuf *b, float v);

/** Creates and sets up every step's operator in r->ops at precision prec. */
int lp_xops_create(lp_xrun *r, lp_xprec prec, lp_err *err);
/** Deletes every operator of r. */
void lp_xops_delete(lp_xrun *r);
/** Runs every operator once. */
int lp_xops_run(lp_xrun *r, lp_err *err);

#endif
