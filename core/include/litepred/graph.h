/* Primitive graphs: what kernel types build and engines run.
 * Activations are NHWC (rank 4, batch 1) for spatial ops and [N, C] or
 * [B, M, K] for token ops. Conv weights are OHWI ([Cout, Kh, Kw, Cin/groups]),
 * dense weights [Cout, Cin]. The primitive set is closed; grow it deliberately. */
#ifndef LITEPRED_GRAPH_H
#define LITEPRED_GRAPH_H

#include <litepred/plugin.h>

#ifdef __cplusplus
extern "C" {
#endif

/** Primitive operations every engine is asked about through supports(). */
typedef enum lp_prim {
    LP_PRIM_CONV2D = 1, /**< in: x, w, [b]; groups (depthwise when groups == Cin == Cout), same padding, fused act */
    LP_PRIM_DENSE,      /**< in: x [.., K], w [N, K], [b]; fused act */
    LP_PRIM_MATMUL,     /**< in: a [B, M, K], b [B, K, N] (or [B, N, K] when trans_b); out = alpha * a.b */
    LP_PRIM_POOL,       /**< in: x NHWC; max, avg or global average */
    LP_PRIM_ACT,        /**< in: x; elementwise activation */
    LP_PRIM_ADD,        /**< in: a, b of one shape; fused act */
    LP_PRIM_MUL,        /**< in: a, b where b broadcasts over a (numpy rules); lp_graph_mul makes same shape or [1,1,1,C] over NHWC */
    LP_PRIM_SOFTMAX,    /**< in: x; over the last axis */
    LP_PRIM_LAYERNORM,  /**< in: x, gamma [C], beta [C]; over the last axis */
    LP_PRIM_CONCAT,     /**< in: a, b; along axis */
    LP_PRIM_RESHAPE,    /**< in: x; same element count, new shape (row-major) */
    LP_PRIM_TRANSPOSE,  /**< in: x; permuted axes */
    LP_PRIM_SLICE,      /**< in: x; [start, start + len) along axis */
    LP_PRIM_COUNT_      /**< one past the last primitive */
} lp_prim;

/** Activation functions (fused into conv/dense/add, or standalone via LP_PRIM_ACT). */
typedef enum lp_act {
    LP_ACT_NONE = 0,
    LP_ACT_RELU,
    LP_ACT_RELU6,
    LP_ACT_HSWISH,
    LP_ACT_HSIGMOID,
    LP_ACT_SWISH,
    LP_ACT_SIGMOID,
    LP_ACT_GELU,
    LP_ACT_COUNT_ /**< one past the last activation */
} lp_act;

/** Pooling kinds. */
typedef enum lp_pool_kind {
    LP_POOL_MAX = 1,
    LP_POOL_AVG,       /**< average over the window, padding not counted */
    LP_POOL_GLOBAL_AVG /**< mean over H and W, output [1, 1, 1, C] */
} lp_pool_kind;

/** Largest tensor rank. */
#define LP_MAX_RANK 4
/** Most inputs of one node (conv: x, w, b). */
#define LP_NODE_MAX_IN 3

/** A tensor shape, row-major. */
typedef struct lp_shape {
    int rank;                 /**< 1..LP_MAX_RANK */
    int64_t d[LP_MAX_RANK];   /**< extents; unused trailing entries are 0 */
} lp_shape;

/** Role of a tensor in a graph. */
typedef enum lp_tensor_role {
    LP_TENSOR_INPUT = 1, /**< graph input, data supplied at prepare */
    LP_TENSOR_WEIGHT,    /**< constant (weights, bias, gamma, beta), data supplied at prepare */
    LP_TENSOR_VALUE      /**< produced by a node */
} lp_tensor_role;

/** A tensor of a graph. */
typedef struct lp_tensor {
    lp_shape shape;     /**< extents */
    lp_tensor_role role;/**< input, weight or value */
    int producer;       /**< index of the producing node, -1 for inputs and weights */
    float *data;        /**< owned fp32 data for inputs and weights once filled, else NULL */
} lp_tensor;

/** One primitive node. */
typedef struct lp_node {
    lp_prim prim;               /**< operation */
    int in[LP_NODE_MAX_IN];     /**< input tensor ids */
    int n_in;                   /**< number of inputs */
    int out;                    /**< output tensor id */
    union {
        struct { int kh, kw, sh, sw, groups; lp_act act; } conv; /**< same padding: out = ceil(in / s) */
        struct { lp_act act; } dense;                             /**< bias when n_in == 3 */
        struct { int trans_b; float alpha; } matmul;              /**< batched over the first axis */
        struct { lp_pool_kind kind; int k, s; } pool;             /**< same padding, ceil mode; k = s = 0 for global */
        struct { lp_act act; } act;                               /**< standalone activation */
        struct { lp_act act; } add;                               /**< fused act after the add */
        struct { float eps; } layernorm;                          /**< epsilon */
        struct { int axis; } concat;                              /**< concat axis */
        struct { int perm[LP_MAX_RANK]; } transpose;              /**< out axis i = in axis perm[i]; perm[i] = i past the rank */
        struct { int axis; int64_t start, len; } slice;           /**< slice window */
    } p;                                                          /**< parameters of prim */
} lp_node;

/** A primitive graph: tensors, nodes in execution order, inputs and outputs. */
typedef struct lp_graph {
    lp_tensor *tensors; /**< all tensors */
    size_t n_tensors;   /**< count */
    size_t cap_tensors; /**< allocated */
    lp_node *nodes;     /**< nodes, topologically ordered by construction */
    size_t n_nodes;     /**< count */
    size_t cap_nodes;   /**< allocated */
    int *outputs;       /**< graph output tensor ids */
    size_t n_outputs;   /**< count */
} lp_graph;

/** Initialises an empty graph. */
void lp_graph_init(lp_graph *g);
/** Frees everything a graph owns (tensor data included) and empties it. */
void lp_graph_free(lp_graph *g);

/** Element count of a shape. */
int64_t lp_shape_numel(const lp_shape *s);
/** Makes a shape from rank and extents. */
lp_shape lp_shape_make(int rank, int64_t d0, int64_t d1, int64_t d2, int64_t d3);
/** True when two shapes are identical. */
int lp_shape_equal(const lp_shape *a, const lp_shape *b);
/** Formats a shape as "1x56x56x32" into buf; returns buf. */
char *lp_shape_str(const lp_shape *s, char *buf, size_t size);
/** The NHWC activation shape [1, h, w, c] of spatial kernels. */
lp_shape lp_shape_nhwc(int64_t h, int64_t w, int64_t c);
/** Output side of a same-padded window op: ceil(in / s). */
int64_t lp_out_size(int64_t in, int64_t s);
/** Largest element count of one tensor (keeps sizes far from overflow). */
#define LP_MAX_NUMEL (INT64_C(1) << 34)

/** Name of a primitive ("conv2d"). */
const char *lp_prim_name(lp_prim p);
/** Name of an activation ("relu6"); "none" for LP_ACT_NONE. */
const char *lp_act_name(lp_act a);
/** Parses an activation name; returns -1 when unknown. */
int lp_act_parse(const char *name);

/** True when b is a's shape or [1, ..., 1, C] over a's last axis C: the mul broadcast engines run. */
int lp_shape_bcast_last(const lp_shape *a, const lp_shape *b);

/** Checks a node of g (inputs, shapes, parameters, output); sets *out (may be NULL); else LP_EINVAL naming the prim. */
int lp_graph_node_check(const lp_graph *g, const lp_node *node, lp_shape *out, lp_err *err);

/* Builders: each validates its inputs' shapes with lp_graph_node_check's rules,
 * appends a node (creating its weights), and returns the new output tensor id
 * (>= 0) or a negative LP_E* with a message naming the primitive and the shapes.
 * A failed builder leaves the graph unchanged. Tensor ids are indices into g->tensors. */

/** Adds a graph input of the given shape; returns its tensor id. */
int lp_graph_input(lp_graph *g, lp_shape shape, lp_err *err);
/** Adds a constant tensor (weights) of the given shape; returns its tensor id. */
int lp_graph_weight(lp_graph *g, lp_shape shape, lp_err *err);
/** Marks a tensor as a graph output (marking it again does nothing). */
int lp_graph_mark_output(lp_graph *g, int t, lp_err *err);
/** Square conv on NHWC x: cout filters of k x k, stride s, groups, optional bias, fused act. */
int lp_graph_conv2d(lp_graph *g, int x, int cout, int k, int s, int groups, int bias, lp_act act, lp_err *err);
/** Dense over the last axis of x to n outputs, optional bias, fused act. */
int lp_graph_dense(lp_graph *g, int x, int n, int bias, lp_act act, lp_err *err);
/** Batched matmul alpha * a.b on rank-3 a [B, M, K] and b [B, K, N] ([B, N, K] when trans_b). */
int lp_graph_matmul(lp_graph *g, int a, int b, int trans_b, float alpha, lp_err *err);
/** Pool on NHWC x (k, s ignored for global average and stored as 0). */
int lp_graph_pool(lp_graph *g, int x, lp_pool_kind kind, int k, int s, lp_err *err);
/** Standalone activation (not LP_ACT_NONE). */
int lp_graph_act(lp_graph *g, int x, lp_act act, lp_err *err);
/** Elementwise a + b (same shapes) with a fused activation. */
int lp_graph_add(lp_graph *g, int a, int b, lp_act act, lp_err *err);
/** Elementwise a * b, b of a's shape or [1,1,1,C] broadcast over NHWC a. */
int lp_graph_mul(lp_graph *g, int a, int b, lp_err *err);
/** Softmax over the last axis. */
int lp_graph_softmax(lp_graph *g, int x, lp_err *err);
/** Layer normalisation over the last axis (creates gamma and beta). */
int lp_graph_layernorm(lp_graph *g, int x, float eps, lp_err *err);
/** Concatenation of a and b along axis. */
int lp_graph_concat(lp_graph *g, int a, int b, int axis, lp_err *err);
/** Reshape to shape (same element count). */
int lp_graph_reshape(lp_graph *g, int x, lp_shape shape, lp_err *err);
/** Transpose: output axis i is input axis perm[i]. */
int lp_graph_transpose(lp_graph *g, int x, const int *perm, lp_err *err);
/** Slice [start, start + len) along axis. */
int lp_graph_slice(lp_graph *g, int x, int axis, int64_t start, int64_t len, lp_err *err);

/** Fills every input and weight tensor with deterministic data in [-1, 1) from seed (each
 *  tensor's values depend only on seed, its id and its shape). Weights of rank >= 2 are scaled
 *  by 1/sqrt(fan_in), fan_in = numel / d[0], so activations stay finite through deep graphs. */
int lp_graph_fill(lp_graph *g, uint64_t seed, lp_err *err);

/** Multiply-accumulates of the graph's conv2d, dense and matmul nodes. */
double lp_graph_macs(const lp_graph *g);
/** Sum of the element counts of tensors with the given role. */
int64_t lp_graph_numel(const lp_graph *g, lp_tensor_role role);

#ifdef __cplusplus
}
#endif
#endif
