/* The native engine's private declarations: instance state, the BLAS
 * backends, the thread pool and the prepared steps every kernel runs from. */
#ifndef LP_NATIVE_H
#define LP_NATIVE_H

#include <litepred/engine.h>

#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>

/* ---- BLAS backends (blas.c) ------------------------------------------ */

/** Which BLAS the instance multiplies with; the index of the `blas` choice. */
typedef enum lp_nblas_kind { LP_NBLAS_OPENBLAS = 0, LP_NBLAS_BLIS = 1 } lp_nblas_kind;

/* BLIS's typed API takes 64-bit dims and strides (dim_t, inc_t) and enums
 * for trans/conj; declared here so building does not need blis.h. */
typedef void (*lp_bli_sgemm_fn)(int transa, int transb, int64_t m, int64_t n, int64_t k,
                                const float *alpha, const float *a, int64_t rsa, int64_t csa,
                                const float *b, int64_t rsb, int64_t csb, const float *beta,
                                float *c, int64_t rsc, int64_t csc);
typedef void (*lp_bli_sgemv_fn)(int transa, int conjx, int64_t m, int64_t n, const float *alpha,
                                const float *a, int64_t rsa, int64_t csa, const float *x,
                                int64_t incx, const float *beta, float *y, int64_t incy);

/** A loaded BLAS: OpenBLAS is linked; BLIS is dlopen'ed privately. */
typedef struct lp_nblas {
    lp_nblas_kind kind;
    void *handle;                           /**< dlopen handle (BLIS) */
    lp_bli_sgemm_fn bli_sgemm;
    lp_bli_sgemv_fn bli_sgemv;
    void (*bli_set_threads)(int64_t n);
    int64_t (*bli_get_threads)(void);
    const char *(*bli_version)(void);
    int (*bli_arch_id)(void);              /**< arch_t is an enum */
    const char *(*bli_arch_name)(int id);
} lp_nblas;

/** Loads the BLAS of that kind; BLIS missing fails naming the Debian package. */
int lp_nblas_open(lp_nblas *b, lp_nblas_kind kind, lp_err *err);
/** Releases what lp_nblas_open acquired. */
void lp_nblas_close(lp_nblas *b);
/** Makes every BLAS call run on its calling thread alone (the pool splits GEMMs). */
void lp_nblas_single_thread(const lp_nblas *b);
/** Writes "OpenBLAS 0.3.21, core Haswell" or "BLIS 0.9.0, arch zen3" into buf. */
void lp_nblas_describe(const lp_nblas *b, char *buf, size_t size);

/** Row-major C[m,n] = alpha * A[m,k] . op(B) + beta * C; op(B) is B[k,n], or B[n,k]^T
 *  when trans_b. */
void lp_nblas_sgemm(const lp_nblas *b, int trans_b, int64_t m, int64_t n, int64_t k, float alpha,
                    const float *a, int64_t lda, const float *bm, int64_t ldb, float beta,
                    float *c, int64_t ldc);
/** y[n] = W[n,k] . x[k] (row-major W). */
void lp_nblas_sgemv(const lp_nblas *b, int64_t n, int64_t k, const float *w, const float *x,
                    float *y);

/* ---- instance state ------------------------------------------------- */

/** Private state of a native instance; options are written at their offsets. */
typedef struct lp_native {
    int64_t threads;  /**< option `threads` */
    int blas_choice;  /**< option `blas`: an lp_nblas_kind */
    lp_nblas blas;    /**< loaded at init */
    char version[160];
} lp_native;

/* ---- thread pool (threadpool.c) ------------------------------------- */

/** Work over [begin, end) of a range split between the pool's threads. */
typedef void (*lp_tp_fn)(void *ctx, int64_t begin, int64_t end);

/** A fixed set of workers plus the calling thread; no allocation per dispatch. */
typedef struct lp_tpool {
    int n;                 /**< threads, the caller included */
    pthread_t *workers;    /**< n - 1 workers */
    pthread_mutex_t mu;
    pthread_cond_t go, done;
    atomic_uint_fast64_t gen; /**< bumped once per dispatch */
    atomic_int pending;       /**< workers still busy with this dispatch */
    atomic_int stop;
    lp_tp_fn fn;
    void *ctx;
    int64_t total;
} lp_tpool;

/** Starts n - 1 workers (n >= 1). */
int lp_tpool_init(lp_tpool *tp, int n, lp_err *err);
/** Stops and joins the workers. */
void lp_tpool_destroy(lp_tpool *tp);
/** Runs fn over [0, total) split in equal parts; single-threaded below grain items.
 *  Not reentrant: fn must not dispatch on the pool itself. */
void lp_tpool_for(lp_tpool *tp, int64_t total, int64_t grain, lp_tp_fn fn, void *ctx);

/* ---- prepared steps --------------------------------------------------- */

/** How a conv is computed. */
typedef enum lp_conv_mode {
    LP_CONV_DEPTHWISE = 1, /**< direct loop, weights repacked [Kh, Kw, C] */
    LP_CONV_POINTWISE,     /**< 1x1 stride 1: GEMM straight on the input */
    LP_CONV_IM2COL         /**< im2col then GEMM, per group */
} lp_conv_mode;

/** Conv geometry resolved at prepare. */
typedef struct lp_conv_geom {
    int64_t n, h, w, cin, oh, ow, cout;
    int kh, kw, sh, sw, pad_t, pad_l, groups;
    lp_conv_mode mode;
} lp_conv_geom;

struct lp_nrun;

/** One prepared node: its parameters, resolved buffers and executor. */
typedef struct lp_nstep {
    lp_node node;                      /**< copy of the graph node */
    const float *in[LP_NODE_MAX_IN];   /**< input buffers */
    lp_shape in_shape[LP_NODE_MAX_IN];
    float *out;
    lp_shape out_shape;
    float *packed;                     /**< engine-owned packed weights, or NULL */
    lp_conv_geom conv;                 /**< conv only */
    void (*exec)(struct lp_nrun *r, const struct lp_nstep *s);
} lp_nstep;

/** A prepared graph. */
typedef struct lp_nrun {
    const lp_native *eng;
    lp_tpool pool;
    int pool_ok;
    float **bufs;        /**< per tensor; aliases for reshape outputs */
    unsigned char *owns; /**< per tensor: 1 when bufs[i] is ours to free */
    size_t n_tensors;
    float *scratch;      /**< im2col buffer, sized for the largest conv */
    size_t scratch_n;
    lp_nstep *steps;
    size_t n_steps;
    int *outputs;
    size_t n_outputs;
    int64_t *output_n;   /**< element count of each output */
} lp_nrun;

/* ---- validation and executors ------------------------------------------ */

/** Checks a node against the engine's abilities and its shapes; LP_EUNSUPPORTED / LP_EINVAL. */
int lp_native_check(const lp_graph *g, const lp_node *node, lp_err *err);
/** Same padding (TF convention): out = ceil(in / s), pad_before = pad_total / 2. */
void lp_native_same_pad(int64_t in, int k, int s, int64_t *out, int *pad_before);

/** An axis counted from the end when negative (-1: last). */
static inline int lp_native_axis(int axis, int rank)
{
    return axis < 0 ? axis + rank : axis;
}

/** Fills s->conv and picks the conv mode; returns the im2col scratch floats needed. */
size_t lp_conv_plan(lp_nstep *s);
/** Repacks conv weights when the mode wants it (depthwise); LP_ENOMEM. */
int lp_conv_pack(lp_nstep *s, lp_err *err);

void lp_exec_conv2d(lp_nrun *r, const lp_nstep *s);
void lp_exec_dense(lp_nrun *r, const lp_nstep *s);
void lp_exec_matmul(lp_nrun *r, const lp_nstep *s);
void lp_exec_pool(lp_nrun *r, const lp_nstep *s);
void lp_exec_act(lp_nrun *r, const lp_nstep *s);
void lp_exec_add(lp_nrun *r, const lp_nstep *s);
void lp_exec_mul(lp_nrun *r, const lp_nstep *s);
void lp_exec_softmax(lp_nrun *r, const lp_nstep *s);
void lp_exec_layernorm(lp_nrun *r, const lp_nstep *s);
void lp_exec_concat(lp_nrun *r, const lp_nstep *s);
void lp_exec_reshape(lp_nrun *r, const lp_nstep *s);
void lp_exec_transpose(lp_nrun *r, const lp_nstep *s);
void lp_exec_slice(lp_nrun *r, const lp_nstep *s);

/** Like lp_nblas_sgemm with beta = 0, split over the pool's threads (gemm.c). */
void lp_par_sgemm(lp_nrun *r, int trans_b, int64_t m, int64_t n, int64_t k, float alpha,
                  const float *a, int64_t lda, const float *b, int64_t ldb, float *c, int64_t ldc);

/** Applies act in place to n floats. */
void lp_act_apply(lp_act act, float *x, int64_t n);
/** rows x cols in place: x[r, c] = act(x[r, c] + bias[c]) (bias may be NULL), threaded
 *  over rows. */
void lp_bias_act_rows(lp_nrun *r, float *x, int64_t rows, int64_t cols, const float *bias,
                      lp_act act);

#endif
