/* Small dense neural networks on the CPU, for the MLP predictor and the VAE sampler.
 *
 * A network is a stack of dense layers y = x W^T + b (W is [out x in], row-major),
 * each followed by an activation. Mini-batches go through OpenBLAS sgemm. All
 * parameters live in one flat array (W_0, b_0, W_1, b_1, ...) with a gradient array
 * of the same layout, so the optimiser and the model file see one vector.
 *
 * Determinism: a fixed seed gives bit-identical weights. OpenBLAS sgemm is
 * deterministic when it runs on one thread, so lp_nn_fit() and lp_nn_single_thread()
 * set OpenBLAS to one thread (process-wide; the tiny per-layer GEMMs of batch 32 only
 * lose from threading anyway). The same binary on the same CPU core type reproduces
 * weights exactly; another OpenBLAS core type (OPENBLAS_CORETYPE) may round differently.
 *
 * Subnormal floats: lp_nn_fit and lp_nn_predict flush them to zero (x86 MXCSR FTZ + DAZ,
 * restored on return): they made the default 350-epoch training 4.4x slower.
 *
 * Speed: the elementwise loops (Adam, bias + activation and their gradients) have an
 * AVX-512 path picked at run time that gives the same bits as the scalar one.
 *
 * Memory: lp_mlp_ws holds every activation and gradient for one batch size, so the
 * training loop and prediction never allocate.
 */
#ifndef LITEPRED_NN_H
#define LITEPRED_NN_H

#include <stddef.h>
#include <stdint.h>
#include <litepred/plugin.h>

#ifdef __cplusplus
extern "C" {
#endif

/* The project's PRNG (xoshiro256**, seeded by splitmix64) is declared in space.h. */
typedef struct lp_rng lp_rng;

/* ---- building blocks ------------------------------------------------- */

/** Activation after a dense layer. */
typedef enum lp_nn_act {
    LP_NN_LINEAR = 0, /**< none (output layers) */
    LP_NN_RELU,       /**< max(z, 0) */
    LP_NN_LEAKY,      /**< z > 0 ? z : slope * z, slope >= 0 */
    LP_NN_SIGMOID,    /**< 1 / (1 + exp(-z)) (the VAE decoder's output) */
    LP_NN_ACT_COUNT_  /**< number of activations */
} lp_nn_act;

/** Name of an activation ("relu"), or NULL when out of range. */
const char *lp_nn_act_name(lp_nn_act act);

/** Regression loss over a batch; both are means over the rows. */
typedef enum lp_nn_loss {
    LP_NN_MAPE = 0, /**< mean |pred - y| / |y| (LitePred's loss; y must be > 0) */
    LP_NN_MSE       /**< mean (pred - y)^2 */
} lp_nn_loss;

/** Name of a loss ("mape", "mse"), or NULL when out of range. */
const char *lp_nn_loss_name(lp_nn_loss loss);

/** Mean loss of pred against y over n rows; writes dLoss/dpred into grad when not NULL. */
double lp_nn_loss_eval(lp_nn_loss loss, const float *pred, const float *y, size_t n, float *grad);

/** Cosine annealing to 0 over `epochs` (PyTorch CosineAnnealingLR, T_max = epochs, stepped
 *  once per epoch): lr0 * (1 + cos(pi * epoch / epochs)) / 2. Epoch 0 gets lr0. */
double lp_nn_cosine_lr(double lr0, int64_t epoch, int64_t epochs);

/** A standard normal draw (Box-Muller on two 53-bit uniforms of rng). */
double lp_nn_randn(lp_rng *rng);

/** A uniform double in [0, 1) from the top 53 bits of rng. */
double lp_nn_uniform(lp_rng *rng);

/** Fisher-Yates shuffle of idx[0..n) drawn from rng. */
void lp_nn_shuffle(lp_rng *rng, uint32_t *idx, size_t n);

/** Sets OpenBLAS to one thread (when it is not already) so sgemm is deterministic. */
void lp_nn_single_thread(void);

/* ---- dense layer stacks ------------------------------------------------ */

/** Largest width of one layer. */
#define LP_NN_MAX_WIDTH 65536
/** Most dense layers in one stack. */
#define LP_NN_MAX_LAYERS 256

/** A stack of dense layers; parameters and gradients are flat arrays of n_params floats. */
typedef struct lp_mlp {
    size_t n_layers;  /**< dense layers */
    int *sizes;       /**< n_layers + 1 widths: sizes[0] inputs, sizes[n_layers] outputs */
    lp_nn_act *act;   /**< activation after each layer */
    float *slope;     /**< LeakyReLU slope of each layer (ignored for the others) */
    size_t *w_off;    /**< offset of layer l's W in params; its b follows W at w_off[l] + out*in */
    size_t n_params;  /**< weights plus biases */
    float *params;    /**< W_0, b_0, W_1, b_1, ... */
    float *grads;     /**< same layout; written by lp_mlp_backward */
} lp_mlp;

/** Allocates a stack of n_layers layers with widths sizes[0..n_layers] and zero parameters;
 *  slope may be NULL (no leaky layers). Fails on a width outside 1..LP_NN_MAX_WIDTH. */
int lp_mlp_create(lp_mlp **out, size_t n_layers, const int *sizes, const lp_nn_act *act,
                  const float *slope, lp_err *err);

/** Frees a stack (NULL is fine). */
void lp_mlp_free(lp_mlp *m);

/** He/Kaiming normal init from seed: W ~ N(0, gain^2 / fan_in) with gain^2 = 2 (ReLU),
 *  2 / (1 + slope^2) (leaky), 1 (linear, sigmoid); biases 0. */
void lp_mlp_init_he(lp_mlp *m, uint64_t seed);

/** Layer l's weights [sizes[l+1] x sizes[l]] inside params (or grads when grad is set). */
float *lp_mlp_weights(const lp_mlp *m, size_t l, int grad);

/** Layer l's biases [sizes[l+1]] inside params (or grads when grad is set). */
float *lp_mlp_bias(const lp_mlp *m, size_t l, int grad);

/** Activations and gradients of one stack for batches of up to max_batch rows (opaque). */
typedef struct lp_mlp_ws lp_mlp_ws;

/** Allocates a workspace for m and batches of 1..max_batch rows. */
int lp_mlp_ws_create(const lp_mlp *m, int max_batch, lp_mlp_ws **out, lp_err *err);

/** Frees a workspace (NULL is fine). */
void lp_mlp_ws_free(lp_mlp_ws *ws);

/** Largest batch of a workspace. */
int lp_mlp_ws_batch(const lp_mlp_ws *ws);

/** A [max_batch x sizes[0]] input buffer owned by ws, for callers that stage rows. */
float *lp_mlp_ws_input(lp_mlp_ws *ws);

/** Forward pass of batch rows of x ([batch x sizes[0]]); returns the [batch x outputs]
 *  output inside ws. x must stay unchanged until lp_mlp_backward. */
const float *lp_mlp_forward(const lp_mlp *m, lp_mlp_ws *ws, const float *x, int batch);

/** Backward pass of the last forward: dout is dLoss/doutput [batch x outputs]; writes
 *  (not accumulates) m->grads, and dLoss/dx into dx ([batch x sizes[0]]) when not NULL. */
void lp_mlp_backward(lp_mlp *m, lp_mlp_ws *ws, const float *dout, float *dx);

/* ---- Adam --------------------------------------------------------------- */

/** Adam state (PyTorch's torch.optim.Adam, L2 weight decay added to the gradient). */
typedef struct lp_adam {
    size_t n;            /**< parameters */
    float *m, *v;        /**< first and second moments */
    double beta1;        /**< 0.9 */
    double beta2;        /**< 0.999 */
    double eps;          /**< 1e-8 */
    double weight_decay; /**< 0: none */
    int64_t t;           /**< steps taken */
} lp_adam;

/** Allocates zero moments for n parameters with the default betas and eps. */
int lp_adam_init(lp_adam *a, size_t n, lp_err *err);

/** One step of learning rate lr: params -= lr * mhat / (sqrt(vhat) + eps). */
void lp_adam_step(lp_adam *a, float *params, const float *grads, double lr);

/** Frees the moments. */
void lp_adam_free(lp_adam *a);

/** lp_mlp_backward (no dx) then lp_adam_step on m's parameters, with each layer's update
 *  done as soon as its gradient is (same bits, less memory traffic); a->n == m->n_params. */
void lp_mlp_backward_adam(lp_mlp *m, lp_mlp_ws *ws, const float *dout, lp_adam *a, double lr);

/* ---- input normalisation -------------------------------------------- */

/** Per-feature standardisation x' = (x - mean) / std fitted on training rows, plus the
 *  target scale: the network predicts y / y_scale. Stored with the model. */
typedef struct lp_nn_norm {
    size_t n;      /**< features */
    float *mean;   /**< per-feature mean */
    float *std;    /**< per-feature standard deviation (1 for a constant feature) */
    float y_scale; /**< mean training target (1 when fitted without targets) */
} lp_nn_norm;

/** Allocates an identity normalisation of n features (mean 0, std 1, y_scale 1). */
int lp_nn_norm_init(lp_nn_norm *nm, size_t n, lp_err *err);

/** Fits mean and std of rows x [rows x nm->n] and y_scale from y (may be NULL). */
void lp_nn_norm_fit(lp_nn_norm *nm, const float *x, size_t rows, const float *y);

/** Writes normalised rows of x into out (both [rows x nm->n]).
 *  Mean/std rather than min-max: He init assumes unit-variance inputs, and a min-max
 *  range is set by the two most extreme rows (FLOPs are heavy-tailed), squeezing the rest. */
void lp_nn_norm_apply(const lp_nn_norm *nm, const float *x, size_t rows, float *out);

/** Frees the arrays. */
void lp_nn_norm_free(lp_nn_norm *nm);

/* ---- regression training and prediction ------------------------------ */

/** Called after each epoch (epoch counts from 1); val_mape is NAN without a validation set.
 *  Returning nonzero stops training with LP_EINTERRUPTED. */
typedef int (*lp_nn_epoch_fn)(void *ctx, int64_t epoch, int64_t epochs, double train_loss,
                              double val_mape);

/** Settings of lp_nn_fit. */
typedef struct lp_nn_fit_opts {
    int64_t epochs;      /**< passes over the data; the cosine schedule spans them all */
    double lr;           /**< initial Adam learning rate */
    int batch;           /**< rows per step (the last batch of an epoch may be smaller) */
    lp_nn_loss loss;     /**< training loss */
    uint64_t seed;       /**< shuffling seed */
    double weight_decay; /**< Adam L2 weight decay (0: none) */
    lp_nn_epoch_fn on_epoch; /**< progress, may be NULL */
    void *ctx;               /**< passed to on_epoch */
} lp_nn_fit_opts;

/** What lp_nn_fit did. Losses are means over rows in the targets' units (MSE in ms^2). */
typedef struct lp_nn_fit_stats {
    int64_t epochs;    /**< epochs run */
    double first_loss; /**< mean training loss during the first epoch */
    double last_loss;  /**< mean training loss during the last epoch */
    double val_mape;   /**< MAPE on the validation rows after training (NAN without them) */
    double seconds;    /**< wall time */
} lp_nn_fit_stats;

/** Checks rows for training: every feature finite, every target finite and, for MAPE, > 0.
 *  The message names the first bad row. */
int lp_nn_check_data(const float *x, const float *y, size_t rows, size_t cols, lp_nn_loss loss,
                     lp_err *err);

/** Trains m (one output) on raw rows x [n x nm->n] with targets y, normalised by nm (which
 *  the caller fits or keeps), from m's current parameters with fresh Adam state: Adam,
 *  cosine annealing per epoch, shuffled mini-batches. vx/vy (vn rows, may be 0) give the
 *  validation MAPE reported to on_epoch and in st. A non-finite loss stops with LP_EINVAL. */
int lp_nn_fit(lp_mlp *m, const lp_nn_norm *nm, const float *x, const float *y, size_t n,
              const float *vx, const float *vy, size_t vn, const lp_nn_fit_opts *o,
              lp_nn_fit_stats *st, lp_err *err);

/** Predicts n rows of raw features x through nm and m into out (times y_scale), in chunks of
 *  the workspace's batch. Uses ws's input buffer; no allocation. */
void lp_nn_predict(const lp_mlp *m, const lp_nn_norm *nm, lp_mlp_ws *ws, const float *x,
                   size_t n, float *out);

/* ---- model files ------------------------------------------------------ */

/** CRC-32 (IEEE 802.3, as zlib's crc32) of n bytes, continuing from crc (0 to start). */
uint32_t lp_nn_crc32(uint32_t crc, const void *buf, size_t n);

/** Writes n bytes to path atomically: a temporary file in the same directory, fsync, rename. */
int lp_nn_write_atomic(const char *path, const void *buf, size_t n, lp_err *err);

/* Half-precision parameters (IEEE 754 binary16) for smaller model files. Done in integer
 * arithmetic, so the result does not depend on the FPU's rounding mode or FTZ/DAZ. */

/** Largest finite binary16 value; anything at or above 65520 in magnitude rounds to inf. */
#define LP_NN_F16_MAX 65504.0f

/** Binary16 bits of f, rounded to nearest, ties to even: too large gives inf, too small
 *  gives a subnormal or a signed zero, NaN stays a (quiet) NaN. */
uint16_t lp_nn_f32_to_f16(float f);

/** The value of binary16 bits h (exact: every binary16 value is a float). */
float lp_nn_f16_to_f32(uint16_t h);

/** Rounds n floats in place to their nearest binary16 values (what an f16 file holds). */
void lp_nn_round_f16(float *v, size_t n);

/* ---- checksummed model files (mlp, rf, vae) -------------------------------------- */

/* Every format shares one envelope: magic, u32 version, u32 flags, u64 total size after
 * the magic, the format's own fields, then a u32 CRC-32 of every byte before it. */

/** A little-endian cursor over a file image whose size and checksum are verified; reading
 *  past the end sets bad (a broken writer, not a broken disk). */
typedef struct lp_nn_rd {
    const unsigned char *p; /**< the image */
    size_t n;               /**< its size */
    size_t off;             /**< read position */
    int bad;                /**< a read ran past the end */
} lp_nn_rd;

/** The next n bytes, or NULL (and bad set) past the end. */
const unsigned char *lp_nn_rd_bytes(lp_nn_rd *r, size_t n);
/** The next little-endian unsigned integer of 1..8 bytes (0 past the end). */
uint64_t lp_nn_rd_uint(lp_nn_rd *r, int bytes);
/** The next little-endian float32. */
float lp_nn_rd_f32(lp_nn_rd *r);
/** The next little-endian float64. */
double lp_nn_rd_f64(lp_nn_rd *r);
/** A u16-length printable string into dst (cap bytes with its NUL); -1 when it does not fit. */
int lp_nn_rd_text(lp_nn_rd *r, char *dst, size_t cap);
/** Checks a model file's envelope before any field is trusted: magic, then u32 version,
 *  u32 flags, u64 total size after the magic, and a CRC-32 of everything before the last 4
 *  bytes. `what` names the format in messages ("mlp predictor": "not a litepred mlp
 *  predictor file"). A foreign magic is LP_EPARSE, a newer version LP_EUNSUPPORTED, the
 *  rest LP_ECORRUPT. */
int lp_nn_file_check(const unsigned char *buf, size_t n, const unsigned char *magic,
                     size_t magic_len, unsigned header, uint32_t version, const char *what,
                     const char *path, lp_err *err);

/** A little-endian cursor filling a file image whose size was computed beforehand;
 *  writing past the end sets bad instead (the size and the fields disagree: a bug). */
typedef struct lp_nn_wr {
    unsigned char *p; /**< the image (malloc'd by lp_nn_wr_open) */
    size_t n;         /**< its size, checksum included */
    size_t off;       /**< write position */
    int bad;          /**< a write ran past the end */
} lp_nn_wr;

/** Allocates an image of n bytes (the whole file, checksum included); errors name path. */
int lp_nn_wr_open(lp_nn_wr *w, size_t n, const char *path, lp_err *err);
/** Writes the envelope lp_nn_file_check reads: magic, u32 version, u32 flags, u64 w->n. */
void lp_nn_wr_head(lp_nn_wr *w, const unsigned char *magic, size_t magic_len,
                   uint32_t version, uint32_t flags);
/** Writes n bytes. */
void lp_nn_wr_bytes(lp_nn_wr *w, const void *b, size_t n);
/** Writes a little-endian u16. */
void lp_nn_wr_u16(lp_nn_wr *w, uint16_t v);
/** Writes a little-endian u32. */
void lp_nn_wr_u32(lp_nn_wr *w, uint32_t v);
/** Writes a little-endian u64. */
void lp_nn_wr_u64(lp_nn_wr *w, uint64_t v);
/** Writes a little-endian float32. */
void lp_nn_wr_f32(lp_nn_wr *w, float f);
/** Writes a little-endian float64. */
void lp_nn_wr_f64(lp_nn_wr *w, double f);
/** Writes s as lp_nn_rd_text reads it: u16 length, then the bytes without a NUL. */
void lp_nn_wr_text(lp_nn_wr *w, const char *s);
/** Appends the CRC-32 of everything written, checks that the fields filled the image
 *  exactly, writes it to path with lp_nn_write_atomic and frees it (also on failure). */
int lp_nn_wr_commit(lp_nn_wr *w, const char *path, lp_err *err);

/** Reads a whole file into a malloc'd buffer (*buf, *n); errors name the path. */
int lp_nn_read_file(const char *path, unsigned char **buf, size_t *n, lp_err *err);

#ifdef __cplusplus
}
#endif
#endif
