/* Small dense networks on OpenBLAS sgemm: layers, backward pass, Adam, losses,
 * normalisation, the regression trainer and model-file helpers. See nn.h. */
#include <ctype.h>
#include <litepred/litepred.h>
#include <litepred/nn.h>
#include <litepred/space.h>

#include <cblas.h>
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#if defined(__SSE__)
#include <xmmintrin.h>
#endif

/* The elementwise loops that run per parameter or activation and step (Adam, bias +
 * activation, activation backward, bias gradient) have an AVX-512 path chosen at run
 * time: the core is built for baseline x86-64, and GCC 12 at -O2 vectorises none of them
 * (sqrtf under -fmath-errno, loops with a remainder). Each path does the same IEEE
 * operations in the same order per element (no FMA), so the results are bit-identical
 * whichever runs. */
#if defined(__x86_64__) && defined(__GNUC__)
#include <immintrin.h>
#define LP_NN_AVX512 1
#define LP_NN_TARGET __attribute__((target("avx512f")))
static int lp_nn_have_avx512(void)
{
    return __builtin_cpu_supports("avx512f");
}
#else
static int lp_nn_have_avx512(void)
{
    return 0;
}
#endif

static const char *const lp_nn_act_names[LP_NN_ACT_COUNT_] = {"linear", "relu", "leaky",
                                                                 "sigmoid"};

const char *lp_nn_act_name(lp_nn_act act)
{
    return (unsigned)act < LP_NN_ACT_COUNT_ ? lp_nn_act_names[act] : NULL;
}

const char *lp_nn_loss_name(lp_nn_loss loss)
{
    return loss == LP_NN_MAPE ? "mape" : loss == LP_NN_MSE ? "mse" : NULL;
}

/* ---- losses, schedule, random numbers -------------------------------------- */

double lp_nn_loss_eval(lp_nn_loss loss, const float *pred, const float *y, size_t n, float *grad)
{
    double sum = 0;
    float inv_n = n ? 1.0f / (float)n : 0.0f;
    for (size_t i = 0; i < n; i++) {
        float d = pred[i] - y[i];
        if (loss == LP_NN_MAPE) {
            float ay = fabsf(y[i]);
            sum += fabsf(d) / ay;
            /* d == 0 takes the zero subgradient, as PyTorch's abs does. */
            if (grad)
                grad[i] = (d > 0 ? 1.0f : d < 0 ? -1.0f : 0.0f) * inv_n / ay;
        } else {
            sum += (double)d * d;
            if (grad)
                grad[i] = 2.0f * d * inv_n;
        }
    }
    return n ? sum / (double)n : 0.0;
}

double lp_nn_cosine_lr(double lr0, int64_t epoch, int64_t epochs)
{
    if (epochs <= 0)
        return lr0;
    return lr0 * 0.5 * (1.0 + cos(M_PI * (double)epoch / (double)epochs));
}

double lp_nn_uniform(lp_rng *rng)
{
    return (double)(lp_rng_next(rng) >> 11) * 0x1.0p-53;
}

double lp_nn_randn(lp_rng *rng)
{
    double u1 = 1.0 - lp_nn_uniform(rng); /* (0, 1]: log stays finite */
    double u2 = lp_nn_uniform(rng);
    return sqrt(-2.0 * log(u1)) * cos(2.0 * M_PI * u2);
}

void lp_nn_shuffle(lp_rng *rng, uint32_t *idx, size_t n)
{
    for (size_t i = n; i > 1; i--) {
        size_t j = (size_t)lp_rng_below(rng, i);
        uint32_t t = idx[i - 1];
        idx[i - 1] = idx[j];
        idx[j] = t;
    }
}

/* Subnormal floats cost ~100x per operation on x86 (microcode assists). They appear as
 * training goes on (Adam's moments and the gradients of dead ReLUs decay), and made the
 * default 350-epoch run 4.4x slower (132 s against 30 s, same final loss); so training
 * and prediction flush them to zero (FTZ + DAZ) and restore the caller's mode afterwards.
 * The flush is deterministic and only changes values below 1.2e-38. */
static unsigned lp_nn_fp_enter(void)
{
#if defined(__SSE__)
    unsigned old = _mm_getcsr();
    _mm_setcsr(old | 0x8040u); /* FTZ (bit 15) | DAZ (bit 6) */
    return old;
#else
    return 0;
#endif
}

static void lp_nn_fp_leave(unsigned old)
{
#if defined(__SSE__)
    _mm_setcsr(old);
#else
    (void)old;
#endif
}

void lp_nn_single_thread(void)
{
    if (openblas_get_num_threads() != 1)
        openblas_set_num_threads(1);
}

/* ---- dense layer stacks ------------------------------------------------ */

static void *lp_nn_falloc(size_t n)
{
    /* aligned_alloc wants a size that is a multiple of the alignment. */
    size_t bytes = ((n ? n : 1) * sizeof(float) + 63) / 64 * 64;
    return aligned_alloc(64, bytes);
}

static int lp_mlp_check_spec(size_t n_layers, const int *sizes, const lp_nn_act *act,
                             const float *slope, lp_err *err)
{
    if (n_layers < 1 || n_layers > LP_NN_MAX_LAYERS)
        return lp_err_set(err, LP_EINVAL, "nn: %zu layers (valid: 1..%d)", n_layers,
                          LP_NN_MAX_LAYERS);
    for (size_t l = 0; l <= n_layers; l++)
        if (sizes[l] < 1 || sizes[l] > LP_NN_MAX_WIDTH)
            return lp_err_set(err, LP_EINVAL, "nn: width %zu is %d (valid: 1..%d)", l, sizes[l],
                              LP_NN_MAX_WIDTH);
    for (size_t l = 0; l < n_layers; l++) {
        if ((unsigned)act[l] >= LP_NN_ACT_COUNT_)
            return lp_err_set(err, LP_EINVAL, "nn: layer %zu has unknown activation %d", l,
                              (int)act[l]);
        if (act[l] == LP_NN_LEAKY && (!slope || !isfinite(slope[l]) || slope[l] < 0))
            return lp_err_set(err, LP_EINVAL, "nn: layer %zu: leaky slope must be finite and >= 0",
                              l);
    }
    return 0;
}

int lp_mlp_create(lp_mlp **out, size_t n_layers, const int *sizes, const lp_nn_act *act,
                  const float *slope, lp_err *err)
{
    *out = NULL;
    int rc = lp_mlp_check_spec(n_layers, sizes, act, slope, err);
    if (rc)
        return rc;
    lp_mlp *m = calloc(1, sizeof *m);
    if (!m)
        return lp_err_set(err, LP_ENOMEM, "nn: out of memory");
    m->n_layers = n_layers;
    m->sizes = malloc((n_layers + 1) * sizeof *m->sizes);
    m->act = malloc(n_layers * sizeof *m->act);
    m->slope = calloc(n_layers, sizeof *m->slope);
    m->w_off = malloc(n_layers * sizeof *m->w_off);
    if (!m->sizes || !m->act || !m->slope || !m->w_off)
        goto nomem;
    memcpy(m->sizes, sizes, (n_layers + 1) * sizeof *sizes);
    memcpy(m->act, act, n_layers * sizeof *act);
    for (size_t l = 0; l < n_layers; l++) {
        m->slope[l] = act[l] == LP_NN_LEAKY ? slope[l] : 0.0f;
        m->w_off[l] = m->n_params;
        m->n_params += (size_t)sizes[l + 1] * (size_t)sizes[l] + (size_t)sizes[l + 1];
    }
    m->params = lp_nn_falloc(m->n_params);
    m->grads = lp_nn_falloc(m->n_params);
    if (!m->params || !m->grads)
        goto nomem;
    memset(m->params, 0, m->n_params * sizeof(float));
    memset(m->grads, 0, m->n_params * sizeof(float));
    *out = m;
    return 0;
nomem:
    lp_mlp_free(m);
    return lp_err_set(err, LP_ENOMEM, "nn: out of memory for %zu layers", n_layers);
}

void lp_mlp_free(lp_mlp *m)
{
    if (!m)
        return;
    free(m->sizes);
    free(m->act);
    free(m->slope);
    free(m->w_off);
    free(m->params);
    free(m->grads);
    free(m);
}

float *lp_mlp_weights(const lp_mlp *m, size_t l, int grad)
{
    return (grad ? m->grads : m->params) + m->w_off[l];
}

float *lp_mlp_bias(const lp_mlp *m, size_t l, int grad)
{
    return lp_mlp_weights(m, l, grad) + (size_t)m->sizes[l + 1] * (size_t)m->sizes[l];
}

void lp_mlp_init_he(lp_mlp *m, uint64_t seed)
{
    lp_rng rng;
    lp_rng_seed(&rng, seed);
    for (size_t l = 0; l < m->n_layers; l++) {
        double gain2 = m->act[l] == LP_NN_RELU    ? 2.0
                       : m->act[l] == LP_NN_LEAKY ? 2.0 / (1.0 + (double)m->slope[l] * m->slope[l])
                                                  : 1.0;
        double sd = sqrt(gain2 / m->sizes[l]);
        size_t nw = (size_t)m->sizes[l + 1] * (size_t)m->sizes[l];
        float *w = lp_mlp_weights(m, l, 0);
        for (size_t i = 0; i < nw; i++)
            w[i] = (float)(lp_nn_randn(&rng) * sd);
        memset(lp_mlp_bias(m, l, 0), 0, (size_t)m->sizes[l + 1] * sizeof(float));
    }
}

struct lp_mlp_ws {
    int max_batch;
    int batch;        /* rows of the last forward */
    size_t n_layers;
    const float *x;   /* input of the last forward */
    float *input;     /* [max_batch x sizes[0]] staging for callers */
    float **a;        /* a[l]: output of layer l, [max_batch x sizes[l + 1]] */
    float *d[2];      /* gradient ping-pong, [max_batch x widest layer] */
    float *mem;       /* one block behind input, a[] and d[] */
};

int lp_mlp_ws_create(const lp_mlp *m, int max_batch, lp_mlp_ws **out, lp_err *err)
{
    *out = NULL;
    if (max_batch < 1)
        return lp_err_set(err, LP_EINVAL, "nn: batch %d must be >= 1", max_batch);
    lp_mlp_ws *ws = calloc(1, sizeof *ws);
    if (!ws || !(ws->a = calloc(m->n_layers, sizeof *ws->a))) {
        free(ws);
        return lp_err_set(err, LP_ENOMEM, "nn: out of memory for a workspace");
    }
    ws->max_batch = max_batch;
    ws->n_layers = m->n_layers;
    /* Each buffer starts on a 64-byte boundary: widths round up to 16 floats. */
    size_t b = (size_t)max_batch, widest = 0, total = 0;
    for (size_t l = 0; l <= m->n_layers; l++) {
        size_t w = ((size_t)m->sizes[l] + 15) / 16 * 16;
        widest = w > widest ? w : widest;
        total += b * w;
    }
    total += 2 * b * widest;
    ws->mem = lp_nn_falloc(total);
    if (!ws->mem) {
        lp_mlp_ws_free(ws);
        return lp_err_set(err, LP_ENOMEM, "nn: out of memory for a workspace of %zu floats",
                          total);
    }
    float *p = ws->mem;
    ws->input = p;
    p += b * (((size_t)m->sizes[0] + 15) / 16 * 16);
    for (size_t l = 0; l < m->n_layers; l++) {
        ws->a[l] = p;
        p += b * (((size_t)m->sizes[l + 1] + 15) / 16 * 16);
    }
    ws->d[0] = p;
    ws->d[1] = p + b * widest;
    *out = ws;
    return 0;
}

void lp_mlp_ws_free(lp_mlp_ws *ws)
{
    if (!ws)
        return;
    free(ws->mem);
    free(ws->a);
    free(ws);
}

int lp_mlp_ws_batch(const lp_mlp_ws *ws)
{
    return ws->max_batch;
}

float *lp_mlp_ws_input(lp_mlp_ws *ws)
{
    return ws->input;
}

/* Scalar bias + activation of one row from column j on. */
static void lp_bias_act_row(float *row, const float *b, int j, int cols, lp_nn_act act,
                            float slope)
{
    for (; j < cols; j++) {
        float v = row[j] + b[j];
        switch (act) {
        case LP_NN_RELU: row[j] = v > 0.0f ? v : 0.0f; break;
        case LP_NN_LEAKY: row[j] = v > 0.0f ? v : slope * v; break;
        case LP_NN_SIGMOID: row[j] = 1.0f / (1.0f + expf(-v)); break;
        default: row[j] = v; break;
        }
    }
}

#ifdef LP_NN_AVX512
/* Columns [0, cols & ~15) of one row; returns where the scalar tail starts. Sigmoid stays
 * scalar (expf). max(v, 0) is exactly v > 0 ? v : 0, NaN and -0 included. */
LP_NN_TARGET static int lp_bias_act_avx512(float *row, const float *b, int cols, lp_nn_act act,
                                           float slope)
{
    if (act == LP_NN_SIGMOID)
        return 0;
    __m512 zero = _mm512_setzero_ps(), sl = _mm512_set1_ps(slope);
    int j = 0;
    for (; j + 16 <= cols; j += 16) {
        __m512 v = _mm512_add_ps(_mm512_loadu_ps(row + j), _mm512_loadu_ps(b + j));
        if (act == LP_NN_RELU)
            v = _mm512_max_ps(v, zero);
        else if (act == LP_NN_LEAKY)
            v = _mm512_mask_blend_ps(_mm512_cmp_ps_mask(v, zero, _CMP_GT_OQ),
                                     _mm512_mul_ps(sl, v), v);
        _mm512_storeu_ps(row + j, v);
    }
    return j;
}
#endif

static void lp_bias_act(float *z, const float *b, int rows, int cols, lp_nn_act act, float slope)
{
    int vec = lp_nn_have_avx512();
    for (int r = 0; r < rows; r++) {
        float *row = z + (size_t)r * cols;
        int j = 0;
#ifdef LP_NN_AVX512
        if (vec)
            j = lp_bias_act_avx512(row, b, cols, act, slope);
#else
        (void)vec;
#endif
        lp_bias_act_row(row, b, j, cols, act, slope);
    }
}

const float *lp_mlp_forward(const lp_mlp *m, lp_mlp_ws *ws, const float *x, int batch)
{
    const float *in = x;
    ws->x = x;
    ws->batch = batch;
    for (size_t l = 0; l < m->n_layers; l++) {
        int ni = m->sizes[l], no = m->sizes[l + 1];
        const float *w = lp_mlp_weights(m, l, 0);
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, batch, no, ni, 1.0f, in, ni, w, ni,
                    0.0f, ws->a[l], no);
        lp_bias_act(ws->a[l], w + (size_t)no * ni, batch, no, m->act[l], m->slope[l]);
        in = ws->a[l];
    }
    return in;
}

/* dA -> dZ in place, from the layer's output a: every activation here has a derivative
 * that the output alone decides (ReLU and leaky with slope >= 0: a > 0 iff z > 0). */
static void lp_act_backward_tail(float *d, const float *a, size_t i, size_t n, lp_nn_act act,
                                 float slope)
{
    for (; i < n; i++) {
        switch (act) {
        case LP_NN_RELU: d[i] = a[i] > 0.0f ? d[i] : 0.0f; break;
        case LP_NN_LEAKY: d[i] = a[i] > 0.0f ? d[i] : slope * d[i]; break;
        case LP_NN_SIGMOID: d[i] = d[i] * (a[i] * (1.0f - a[i])); break;
        default: break;
        }
    }
}

#ifdef LP_NN_AVX512
LP_NN_TARGET static size_t lp_act_backward_avx512(float *d, const float *a, size_t n,
                                                  lp_nn_act act, float slope)
{
    __m512 zero = _mm512_setzero_ps(), one = _mm512_set1_ps(1.0f), sl = _mm512_set1_ps(slope);
    size_t i = 0;
    for (; i + 16 <= n; i += 16) {
        __m512 av = _mm512_loadu_ps(a + i), dv = _mm512_loadu_ps(d + i);
        __mmask16 pos = _mm512_cmp_ps_mask(av, zero, _CMP_GT_OQ);
        if (act == LP_NN_RELU)
            dv = _mm512_maskz_mov_ps(pos, dv);
        else if (act == LP_NN_LEAKY)
            dv = _mm512_mask_blend_ps(pos, _mm512_mul_ps(sl, dv), dv);
        else if (act == LP_NN_SIGMOID)
            dv = _mm512_mul_ps(dv, _mm512_mul_ps(av, _mm512_sub_ps(one, av)));
        _mm512_storeu_ps(d + i, dv);
    }
    return i;
}
#endif

static void lp_act_backward(float *d, const float *a, size_t n, lp_nn_act act, float slope)
{
    size_t i = 0;
    if (act == LP_NN_LINEAR)
        return;
#ifdef LP_NN_AVX512
    if (lp_nn_have_avx512())
        i = lp_act_backward_avx512(d, a, n, act, slope);
#endif
    lp_act_backward_tail(d, a, i, n, act, slope);
}

#ifdef LP_NN_AVX512
LP_NN_TARGET static int lp_bias_grad_avx512(float *db, const float *row, int cols)
{
    int j = 0;
    for (; j + 16 <= cols; j += 16)
        _mm512_storeu_ps(db + j, _mm512_add_ps(_mm512_loadu_ps(db + j), _mm512_loadu_ps(row + j)));
    return j;
}
#endif

/* Column sums of dz, each summed over the rows in order (the same on every path). */
static void lp_bias_grad(float *db, const float *dz, int rows, int cols)
{
    int vec = lp_nn_have_avx512();
    memset(db, 0, (size_t)cols * sizeof *db);
    for (int r = 0; r < rows; r++) {
        const float *row = dz + (size_t)r * cols;
        int j = 0;
#ifdef LP_NN_AVX512
        if (vec)
            j = lp_bias_grad_avx512(db, row, cols);
#else
        (void)vec;
#endif
        for (; j < cols; j++)
            db[j] += row[j];
    }
}

/* ---- Adam ------------------------------------------------------------------- */

int lp_adam_init(lp_adam *a, size_t n, lp_err *err)
{
    memset(a, 0, sizeof *a);
    a->m = lp_nn_falloc(n);
    a->v = lp_nn_falloc(n);
    if (!a->m || !a->v) {
        lp_adam_free(a);
        return lp_err_set(err, LP_ENOMEM, "nn: out of memory for Adam state of %zu", n);
    }
    memset(a->m, 0, n * sizeof(float));
    memset(a->v, 0, n * sizeof(float));
    a->n = n;
    a->beta1 = 0.9;
    a->beta2 = 0.999;
    a->eps = 1e-8;
    return 0;
}

/* One Adam update of element i; the vector path below does exactly these IEEE operations
 * in this order (sqrt and division are correctly rounded), so both give the same bits. */
static inline void lp_adam_one(float *p, const float *g, float *m, float *v, size_t i,
                               const float k[8])
{
    float gi = g[i] + k[2] * p[i];
    float mi = k[0] * m[i] + k[5] * gi;
    float vi = k[1] * v[i] + k[6] * (gi * gi);
    m[i] = mi;
    v[i] = vi;
    p[i] -= k[3] * (mi / (sqrtf(vi) * k[4] + k[7]));
}

#ifdef LP_NN_AVX512
LP_NN_TARGET static size_t lp_adam_avx512(size_t n, float *p, const float *g,
                                                              float *m, float *v, const float k[8])
{
    __m512 b1 = _mm512_set1_ps(k[0]), b2 = _mm512_set1_ps(k[1]), wd = _mm512_set1_ps(k[2]);
    __m512 step = _mm512_set1_ps(k[3]), isb = _mm512_set1_ps(k[4]), c1 = _mm512_set1_ps(k[5]);
    __m512 c2 = _mm512_set1_ps(k[6]), eps = _mm512_set1_ps(k[7]);
    size_t i = 0;
    for (; i + 16 <= n; i += 16) {
        __m512 pi = _mm512_loadu_ps(p + i);
        __m512 gi = _mm512_add_ps(_mm512_loadu_ps(g + i), _mm512_mul_ps(wd, pi));
        __m512 mi = _mm512_add_ps(_mm512_mul_ps(b1, _mm512_loadu_ps(m + i)), _mm512_mul_ps(c1, gi));
        __m512 vi = _mm512_add_ps(_mm512_mul_ps(b2, _mm512_loadu_ps(v + i)),
                                  _mm512_mul_ps(c2, _mm512_mul_ps(gi, gi)));
        _mm512_storeu_ps(m + i, mi);
        _mm512_storeu_ps(v + i, vi);
        __m512 den = _mm512_add_ps(_mm512_mul_ps(_mm512_sqrt_ps(vi), isb), eps);
        _mm512_storeu_ps(p + i, _mm512_sub_ps(pi, _mm512_mul_ps(step, _mm512_div_ps(mi, den))));
    }
    return i;
}
#endif

static void lp_adam_kernel(size_t n, float *p, const float *g, float *m, float *v,
                           const float k[8])
{
    size_t i = 0;
#ifdef LP_NN_AVX512
    if (lp_nn_have_avx512())
        i = lp_adam_avx512(n, p, g, m, v, k);
#endif
    for (; i < n; i++)
        lp_adam_one(p, g, m, v, i, k);
}

/* Advances the step count and writes the step's constants for lp_adam_kernel. */
static void lp_adam_begin(lp_adam *a, double lr, float k[8])
{
    a->t++;
    double bc1 = 1.0 - pow(a->beta1, (double)a->t), bc2 = 1.0 - pow(a->beta2, (double)a->t);
    k[0] = (float)a->beta1;
    k[1] = (float)a->beta2;
    k[2] = (float)a->weight_decay;
    k[3] = (float)(lr / bc1);
    k[4] = (float)(1.0 / sqrt(bc2));
    k[5] = (float)(1.0 - a->beta1);
    k[6] = (float)(1.0 - a->beta2);
    k[7] = (float)a->eps;
}

void lp_adam_step(lp_adam *a, float *params, const float *grads, double lr)
{
    float k[8];
    lp_adam_begin(a, lr, k);
    lp_adam_kernel(a->n, params, grads, a->m, a->v, k);
}

/* The backward pass; with a, each layer's Adam update runs as soon as its gradient and
 * the gradient flowing to the layer below (which reads the old weights) are done, while
 * they are still in cache. */
static void lp_mlp_backward_run(lp_mlp *m, lp_mlp_ws *ws, const float *dout, float *dx,
                                lp_adam *a, const float *k)
{
    int batch = ws->batch, cur = 0;
    size_t last = m->n_layers - 1;
    for (size_t l = m->n_layers; l-- > 0;) {
        int ni = m->sizes[l], no = m->sizes[l + 1];
        const float *dz = ws->d[cur];
        if (l == last && m->act[l] == LP_NN_LINEAR) {
            dz = dout; /* nothing to apply: read the caller's gradient as is */
        } else {
            if (l == last)
                memcpy(ws->d[cur], dout, (size_t)batch * no * sizeof(float));
            lp_act_backward(ws->d[cur], ws->a[l], (size_t)batch * no, m->act[l], m->slope[l]);
        }
        const float *in = l ? ws->a[l - 1] : ws->x;
        cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, no, ni, batch, 1.0f, dz, no, in, ni,
                    0.0f, lp_mlp_weights(m, l, 1), ni);
        lp_bias_grad(lp_mlp_bias(m, l, 1), dz, batch, no);
        float *dst = l ? ws->d[cur ^ 1] : dx;
        if (dst)
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, batch, ni, no, 1.0f, dz, no,
                        lp_mlp_weights(m, l, 0), ni, 0.0f, dst, ni);
        if (a) {
            size_t off = m->w_off[l], len = (size_t)no * ni + (size_t)no;
            lp_adam_kernel(len, m->params + off, m->grads + off, a->m + off, a->v + off, k);
        }
        cur ^= 1;
    }
}

void lp_mlp_backward(lp_mlp *m, lp_mlp_ws *ws, const float *dout, float *dx)
{
    lp_mlp_backward_run(m, ws, dout, dx, NULL, NULL);
}

void lp_mlp_backward_adam(lp_mlp *m, lp_mlp_ws *ws, const float *dout, lp_adam *a, double lr)
{
    float k[8];
    lp_adam_begin(a, lr, k);
    lp_mlp_backward_run(m, ws, dout, NULL, a, k);
}



void lp_adam_free(lp_adam *a)
{
    free(a->m);
    free(a->v);
    a->m = a->v = NULL;
    a->n = 0;
}

/* ---- normalisation ----------------------------------------------------------------- */

int lp_nn_norm_init(lp_nn_norm *nm, size_t n, lp_err *err)
{
    memset(nm, 0, sizeof *nm);
    nm->mean = calloc(n ? n : 1, sizeof *nm->mean);
    nm->std = malloc((n ? n : 1) * sizeof *nm->std);
    if (!nm->mean || !nm->std) {
        lp_nn_norm_free(nm);
        return lp_err_set(err, LP_ENOMEM, "nn: out of memory for normalisation of %zu", n);
    }
    for (size_t j = 0; j < n; j++)
        nm->std[j] = 1.0f;
    nm->n = n;
    nm->y_scale = 1.0f;
    return 0;
}

void lp_nn_norm_fit(lp_nn_norm *nm, const float *x, size_t rows, const float *y)
{
    for (size_t j = 0; j < nm->n; j++) {
        double s = 0, ss = 0;
        for (size_t r = 0; r < rows; r++)
            s += x[r * nm->n + j];
        double mean = rows ? s / (double)rows : 0.0;
        for (size_t r = 0; r < rows; r++) {
            double d = x[r * nm->n + j] - mean;
            ss += d * d;
        }
        double sd = rows ? sqrt(ss / (double)rows) : 0.0;
        nm->mean[j] = (float)mean;
        /* A constant feature carries nothing: leave it centred rather than divide by ~0. */
        nm->std[j] = sd > 1e-12 * (fabs(mean) + 1.0) ? (float)sd : 1.0f;
    }
    double ys = 0;
    for (size_t r = 0; y && r < rows; r++)
        ys += fabs(y[r]);
    nm->y_scale = y && rows && ys > 0 ? (float)(ys / (double)rows) : 1.0f;
}

void lp_nn_norm_apply(const lp_nn_norm *nm, const float *x, size_t rows, float *out)
{
    for (size_t r = 0; r < rows; r++)
        for (size_t j = 0; j < nm->n; j++)
            out[r * nm->n + j] = (x[r * nm->n + j] - nm->mean[j]) / nm->std[j];
}

void lp_nn_norm_free(lp_nn_norm *nm)
{
    free(nm->mean);
    free(nm->std);
    nm->mean = nm->std = NULL;
    nm->n = 0;
}

/* ---- regression training -------------------------------------------------------- */

int lp_nn_check_data(const float *x, const float *y, size_t rows, size_t cols, lp_nn_loss loss,
                     lp_err *err)
{
    for (size_t r = 0; r < rows; r++) {
        for (size_t j = 0; j < cols; j++)
            if (!isfinite(x[r * cols + j]))
                return lp_err_set(err, LP_EINVAL, "row %zu: feature %zu is %g (must be finite)",
                                  r, j, (double)x[r * cols + j]);
        if (!isfinite(y[r]))
            return lp_err_set(err, LP_EINVAL, "row %zu: latency %g is not finite", r,
                              (double)y[r]);
        if (loss == LP_NN_MAPE && !(y[r] > 0))
            return lp_err_set(err, LP_EINVAL,
                              "row %zu: latency %g is not > 0 (the MAPE loss divides by it)", r,
                              (double)y[r]);
    }
    return 0;
}

void lp_nn_predict(const lp_mlp *m, const lp_nn_norm *nm, lp_mlp_ws *ws, const float *x,
                   size_t n, float *out)
{
    size_t f = nm->n, chunk = (size_t)ws->max_batch;
    unsigned fp = lp_nn_fp_enter();
    for (size_t i = 0; i < n; i += chunk) {
        int b = (int)(n - i < chunk ? n - i : chunk);
        lp_nn_norm_apply(nm, x + i * f, (size_t)b, ws->input);
        const float *o = lp_mlp_forward(m, ws, ws->input, b);
        for (int r = 0; r < b; r++)
            out[i + (size_t)r] = o[r] * nm->y_scale;
    }
    lp_nn_fp_leave(fp);
}

static double lp_nn_mape(const float *pred, const float *y, size_t n)
{
    return lp_nn_loss_eval(LP_NN_MAPE, pred, y, n, NULL);
}

static int lp_nn_fit_check(const lp_mlp *m, const lp_nn_norm *nm, size_t n,
                           const lp_nn_fit_opts *o, lp_err *err)
{
    if (m->sizes[m->n_layers] != 1)
        return lp_err_set(err, LP_EINVAL, "nn: fit needs one output, the network has %d",
                          m->sizes[m->n_layers]);
    if ((size_t)m->sizes[0] != nm->n)
        return lp_err_set(err, LP_EINVAL, "nn: the network takes %d inputs, normalisation has %zu",
                          m->sizes[0], nm->n);
    if (n == 0 || n > UINT32_MAX)
        return lp_err_set(err, LP_EINVAL, "nn: %zu training rows (need 1..%u)", n, UINT32_MAX);
    if (o->epochs < 1 || o->batch < 1 || !(o->lr > 0) || !isfinite(o->lr) ||
        !(o->weight_decay >= 0) || (o->loss != LP_NN_MAPE && o->loss != LP_NN_MSE))
        return lp_err_set(err, LP_EINVAL,
                          "nn: bad settings (epochs %lld, batch %d, lr %g, weight decay %g)",
                          (long long)o->epochs, o->batch, o->lr, o->weight_decay);
    return 0;
}

/* Every buffer of a training run, allocated before the first step. */
typedef struct lp_fit_buf {
    float *xn, *yn, *yb, *grad, *vpred;
    uint32_t *idx;
    lp_mlp_ws *ws;
    lp_adam adam;
} lp_fit_buf;

static void lp_fit_buf_free(lp_fit_buf *b)
{
    free(b->xn);
    free(b->yn);
    free(b->yb);
    free(b->grad);
    free(b->vpred);
    free(b->idx);
    lp_mlp_ws_free(b->ws);
    lp_adam_free(&b->adam);
}

static int lp_fit_buf_alloc(lp_fit_buf *b, const lp_mlp *m, size_t n, size_t vn, int batch,
                            lp_err *err)
{
    size_t f = (size_t)m->sizes[0];
    int rc = lp_mlp_ws_create(m, batch, &b->ws, err);
    if (rc || (rc = lp_adam_init(&b->adam, m->n_params, err)))
        return rc;
    b->xn = lp_nn_falloc(n * f);
    b->yn = malloc(n * sizeof *b->yn);
    b->yb = malloc((size_t)batch * sizeof *b->yb);
    b->grad = malloc((size_t)batch * sizeof *b->grad);
    b->vpred = malloc((vn ? vn : 1) * sizeof *b->vpred);
    b->idx = malloc(n * sizeof *b->idx);
    if (!b->xn || !b->yn || !b->yb || !b->grad || !b->vpred || !b->idx)
        return lp_err_set(err, LP_ENOMEM, "nn: out of memory for %zu training rows", n);
    return 0;
}

/* One pass over the shuffled rows; returns the row-weighted mean loss (scaled units). */
static int lp_fit_epoch(lp_mlp *m, lp_fit_buf *b, size_t n, const lp_nn_fit_opts *o,
                        double lr, int64_t epoch, double *loss_out, lp_err *err)
{
    size_t f = (size_t)m->sizes[0], step = 0;
    double sum = 0;
    float *in = lp_mlp_ws_input(b->ws);
    for (size_t i = 0; i < n; i += (size_t)o->batch, step++) {
        int rows = (int)(n - i < (size_t)o->batch ? n - i : (size_t)o->batch);
        for (int r = 0; r < rows; r++) {
            uint32_t k = b->idx[i + (size_t)r];
            memcpy(in + (size_t)r * f, b->xn + (size_t)k * f, f * sizeof(float));
            b->yb[r] = b->yn[k];
        }
        const float *pred = lp_mlp_forward(m, b->ws, in, rows);
        double loss = lp_nn_loss_eval(o->loss, pred, b->yb, (size_t)rows, b->grad);
        if (!isfinite(loss))
            return lp_err_set(err, LP_EINVAL,
                              "nn: training diverged: the loss is %g at epoch %lld, step %zu "
                              "(try a lower lr)", loss, (long long)epoch, step + 1);
        sum += loss * rows;
        lp_mlp_backward_adam(m, b->ws, b->grad, &b->adam, lr);
    }
    *loss_out = sum / (double)n;
    return 0;
}

int lp_nn_fit(lp_mlp *m, const lp_nn_norm *nm, const float *x, const float *y, size_t n,
              const float *vx, const float *vy, size_t vn, const lp_nn_fit_opts *o,
              lp_nn_fit_stats *st, lp_err *err)
{
    uint64_t t0 = lp_now_ns();
    lp_nn_fit_stats s = {.val_mape = NAN};
    lp_fit_buf b = {0};
    size_t f = nm->n;
    unsigned fp = 0;
    int fp_set = 0;
    int rc = lp_nn_fit_check(m, nm, n, o, err);
    if (rc || (rc = lp_nn_check_data(x, y, n, f, o->loss, err)) ||
        (vn && (rc = lp_nn_check_data(vx, vy, vn, f, LP_NN_MAPE, err))) ||
        (rc = lp_fit_buf_alloc(&b, m, n, vn, o->batch, err)))
        goto fail;
    lp_nn_single_thread();
    fp = lp_nn_fp_enter();
    fp_set = 1;
    b.adam.weight_decay = o->weight_decay;
    lp_nn_norm_apply(nm, x, n, b.xn);
    for (size_t r = 0; r < n; r++) {
        b.yn[r] = y[r] / nm->y_scale;
        b.idx[r] = (uint32_t)r;
    }
    /* MSE is computed on y / y_scale; report it in the targets' units. */
    double unit = o->loss == LP_NN_MSE ? (double)nm->y_scale * nm->y_scale : 1.0;
    lp_rng rng;
    lp_rng_seed(&rng, o->seed);
    for (int64_t e = 0; e < o->epochs; e++) {
        double loss = 0;
        lp_nn_shuffle(&rng, b.idx, n);
        rc = lp_fit_epoch(m, &b, n, o, lp_nn_cosine_lr(o->lr, e, o->epochs), e + 1, &loss, err);
        if (rc)
            goto fail;
        s.epochs = e + 1;
        s.last_loss = loss * unit;
        if (e == 0)
            s.first_loss = s.last_loss;
        if (vn) {
            lp_nn_predict(m, nm, b.ws, vx, vn, b.vpred);
            s.val_mape = lp_nn_mape(b.vpred, vy, vn);
        }
        if (o->on_epoch && o->on_epoch(o->ctx, e + 1, o->epochs, s.last_loss, s.val_mape)) {
            rc = lp_err_set(err, LP_EINTERRUPTED, "nn: training stopped after epoch %lld of %lld",
                            (long long)(e + 1), (long long)o->epochs);
            goto fail;
        }
    }
fail:
    if (fp_set)
        lp_nn_fp_leave(fp);
    s.seconds = (double)(lp_now_ns() - t0) * 1e-9;
    if (st)
        *st = s;
    lp_fit_buf_free(&b);
    return rc;
}

/* ---- model files ------------------------------------------------------------------------ */

uint32_t lp_nn_crc32(uint32_t crc, const void *buf, size_t n)
{
    uint32_t table[256];
    for (uint32_t i = 0; i < 256; i++) {
        uint32_t c = i;
        for (int k = 0; k < 8; k++)
            c = c & 1 ? 0xEDB88320u ^ (c >> 1) : c >> 1;
        table[i] = c;
    }
    const unsigned char *p = buf;
    crc = ~crc;
    for (size_t i = 0; i < n; i++)
        crc = table[(crc ^ p[i]) & 0xFF] ^ (crc >> 8);
    return ~crc;
}

/* Drops the low `shift` bits of v (1..31), rounding to nearest with ties to even. */
static uint32_t lp_nn_round_shift(uint32_t v, unsigned shift)
{
    uint32_t q = v >> shift, rem = v & ((1u << shift) - 1), half = 1u << (shift - 1);
    return q + (rem > half || (rem == half && (q & 1)));
}

uint16_t lp_nn_f32_to_f16(float f)
{
    uint32_t x;
    memcpy(&x, &f, sizeof x);
    uint16_t sign = (uint16_t)(x >> 16 & 0x8000);
    uint32_t exp = x >> 23 & 0xff, man = x & 0x7fffff;
    if (exp == 0xff) /* inf, or NaN: keep the payload's top bits and make it quiet */
        return (uint16_t)(sign | 0x7c00 | (man ? 0x200 | man >> 13 : 0));
    int e = (int)exp - 127 + 15; /* the binary16 biased exponent */
    if (e >= 31)
        return (uint16_t)(sign | 0x7c00);
    if (e >= 1) /* a carry out of the mantissa bumps the exponent, up to inf: still right */
        return (uint16_t)(sign | lp_nn_round_shift((uint32_t)e << 23 | man, 13));
    if (e < -10) /* below half the smallest subnormal (2^-25), float subnormals included */
        return sign;
    /* A binary16 subnormal counts units of 2^-24: the 24-bit significand shifted right by
     * 14 - e (14..24); rounding up to 0x400 gives the smallest normal, as it should. */
    return (uint16_t)(sign | lp_nn_round_shift(man | 0x800000, (unsigned)(14 - e)));
}

float lp_nn_f16_to_f32(uint16_t h)
{
    uint32_t sign = (uint32_t)(h & 0x8000) << 16, exp = h >> 10 & 0x1f, man = h & 0x3ff, x;
    if (exp == 0x1f)
        x = sign | 0x7f800000 | man << 13;
    else if (exp)
        x = sign | (exp + 127 - 15) << 23 | man << 13;
    else if (!man)
        x = sign;
    else { /* a subnormal: man * 2^-24, a normal float once its leading bit is found */
        uint32_t e = 127 - 14;
        while (!(man & 0x400)) {
            man <<= 1;
            e--;
        }
        x = sign | e << 23 | (man & 0x3ff) << 13;
    }
    float f;
    memcpy(&f, &x, sizeof f);
    return f;
}

void lp_nn_round_f16(float *v, size_t n)
{
    for (size_t i = 0; i < n; i++)
        v[i] = lp_nn_f16_to_f32(lp_nn_f32_to_f16(v[i]));
}

static int lp_write_all(int fd, const unsigned char *p, size_t n)
{
    while (n) {
        ssize_t w = write(fd, p, n);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return -1;
        p += w;
        n -= (size_t)w;
    }
    return 0;
}

int lp_nn_write_atomic(const char *path, const void *buf, size_t n, lp_err *err)
{
    size_t len = strlen(path);
    char *tmp = malloc(len + 16);
    if (!tmp)
        return lp_err_set(err, LP_ENOMEM, "%s: out of memory", path);
    memcpy(tmp, path, len);
    memcpy(tmp + len, ".tmp.XXXXXX", 12);
    int fd = mkstemp(tmp);
    if (fd < 0) {
        int rc = lp_err_set(err, LP_EIO, "%s: cannot create a temporary file: %s", path,
                            strerror(errno));
        free(tmp);
        return rc;
    }
    int rc = 0;
    if (lp_write_all(fd, buf, n) < 0 || fsync(fd) < 0)
        rc = lp_err_set(err, LP_EIO, "%s: cannot write %s: %s", path, tmp, strerror(errno));
    /* mkstemp makes the file 0600; a model file is as readable as any other output. */
    if (!rc && fchmod(fd, 0644) < 0)
        rc = lp_err_set(err, LP_EIO, "%s: chmod: %s", path, strerror(errno));
    if (close(fd) < 0 && !rc)
        rc = lp_err_set(err, LP_EIO, "%s: cannot close %s: %s", path, tmp, strerror(errno));
    if (!rc && rename(tmp, path) < 0)
        rc = lp_err_set(err, LP_EIO, "%s: cannot rename %s to it: %s", path, tmp,
                        strerror(errno));
    if (rc)
        unlink(tmp);
    free(tmp);
    return rc;
}

int lp_nn_read_file(const char *path, unsigned char **buf, size_t *n, lp_err *err)
{
    *buf = NULL;
    *n = 0;
    FILE *f = fopen(path, "rb");
    if (!f)
        return lp_err_set(err, errno == ENOENT ? LP_ENOTFOUND : LP_EIO, "%s: cannot open: %s",
                          path, strerror(errno));
    struct stat sb;
    if (fstat(fileno(f), &sb) < 0 || !S_ISREG(sb.st_mode)) {
        fclose(f);
        return lp_err_set(err, LP_EIO, "%s: not a regular file", path);
    }
    unsigned char *p = malloc(sb.st_size ? (size_t)sb.st_size : 1);
    if (!p) {
        fclose(f);
        return lp_err_set(err, LP_ENOMEM, "%s: out of memory for %lld bytes", path,
                          (long long)sb.st_size);
    }
    size_t got = fread(p, 1, (size_t)sb.st_size, f);
    int bad = ferror(f);
    fclose(f);
    if (bad || got != (size_t)sb.st_size) {
        free(p);
        return lp_err_set(err, LP_EIO, "%s: read failed", path);
    }
    *buf = p;
    *n = got;
    return 0;
}

/* ---- checksummed model files ----------------------------------------------- */

/* A cursor over a file whose size and checksum are already verified: running past the
 * end or reading a nonsensical value means the writer was broken, not the disk. */
const unsigned char *lp_nn_rd_bytes(lp_nn_rd *r, size_t n)
{
    if (r->bad || n > r->n - r->off) {
        r->bad = 1;
        return NULL;
    }
    r->off += n;
    return r->p + r->off - n;
}

uint64_t lp_nn_rd_uint(lp_nn_rd *r, int bytes)
{
    const unsigned char *b = lp_nn_rd_bytes(r, (size_t)bytes);
    uint64_t v = 0;
    for (int i = 0; b && i < bytes; i++)
        v |= (uint64_t)b[i] << (8 * i);
    return v;
}

float lp_nn_rd_f32(lp_nn_rd *r)
{
    uint32_t v = (uint32_t)lp_nn_rd_uint(r, 4);
    float f;
    memcpy(&f, &v, sizeof f);
    return f;
}

double lp_nn_rd_f64(lp_nn_rd *r)
{
    uint64_t v = lp_nn_rd_uint(r, 8);
    double f;
    memcpy(&f, &v, sizeof f);
    return f;
}

/* Magic, version, size and checksum, before any field is trusted. */
int lp_nn_file_check(const unsigned char *buf, size_t n, const unsigned char *magic,
                     size_t magic_len, unsigned header, uint32_t version_max, const char *what,
                     const char *path, lp_err *err)
{
    size_t head = n < magic_len ? n : magic_len;
    if (memcmp(buf, magic, head))
        return lp_err_set(err, LP_EPARSE, "%s: bad magic: not a litepred %s file", path, what);
    if (n < header)
        return lp_err_set(err, LP_ECORRUPT, "%s: truncated at byte %zu (the header alone is %u)",
                          path, n, header);
    lp_nn_rd r = {.p = buf, .n = n, .off = magic_len};
    uint32_t version = (uint32_t)lp_nn_rd_uint(&r, 4);
    (void)lp_nn_rd_uint(&r, 4); /* flags: each format checks its own */
    uint64_t size = lp_nn_rd_uint(&r, 8);
    if (version > version_max)
        return lp_err_set(err, LP_EUNSUPPORTED,
                          "%s: format version %u is newer than this build reads (%u)", path,
                          version, version_max);
    if (version == 0)
        return lp_err_set(err, LP_ECORRUPT, "%s: format version 0 is not valid", path);
    if (size < header + 4)
        return lp_err_set(err, LP_ECORRUPT, "%s: the header gives a size of %llu bytes", path,
                          (unsigned long long)size);
    if (n < size)
        return lp_err_set(err, LP_ECORRUPT, "%s: truncated at byte %zu of %llu", path, n,
                          (unsigned long long)size);
    if (n > size)
        return lp_err_set(err, LP_ECORRUPT, "%s: %zu stray bytes after the %llu the header gives",
                          path, n - (size_t)size, (unsigned long long)size);
    uint32_t stored = (uint32_t)buf[n - 4] | (uint32_t)buf[n - 3] << 8 |
                      (uint32_t)buf[n - 2] << 16 | (uint32_t)buf[n - 1] << 24;
    uint32_t crc = lp_nn_crc32(0, buf, n - 4);
    if (crc != stored)
        return lp_err_set(err, LP_ECORRUPT,
                          "%s: checksum mismatch (stored %08x, computed %08x): the file is corrupt",
                          path, stored, crc);
    return 0;
}

int lp_nn_rd_text(lp_nn_rd *r, char *dst, size_t cap)
{
    size_t len = (size_t)lp_nn_rd_uint(r, 2);
    const unsigned char *b = len < cap ? lp_nn_rd_bytes(r, len) : NULL;
    if (!b)
        return -1;
    for (size_t i = 0; i < len; i++)
        if (!isprint(b[i]))
            return -1;
    memcpy(dst, b, len);
    dst[len] = '\0';
    return 0;
}

/* The writer mirrors the reader: the image's size is computed first, so a field that
 * would run past it is a bug in that computation; it sets bad rather than overflow, and
 * lp_nn_wr_commit refuses to write such an image. */
int lp_nn_wr_open(lp_nn_wr *w, size_t n, const char *path, lp_err *err)
{
    *w = (lp_nn_wr){.n = n};
    if (!(w->p = malloc(n ? n : 1)))
        return lp_err_set(err, LP_ENOMEM, "%s: out of memory for %zu bytes", path, n);
    return 0;
}

void lp_nn_wr_bytes(lp_nn_wr *w, const void *b, size_t n)
{
    if (w->bad || n > w->n - w->off) {
        w->bad = 1;
        return;
    }
    if (n)
        memcpy(w->p + w->off, b, n);
    w->off += n;
}

static void lp_nn_wr_uint(lp_nn_wr *w, uint64_t v, int bytes)
{
    unsigned char b[8];
    for (int i = 0; i < bytes; i++)
        b[i] = (unsigned char)(v >> (8 * i));
    lp_nn_wr_bytes(w, b, (size_t)bytes);
}

void lp_nn_wr_u16(lp_nn_wr *w, uint16_t v)
{
    lp_nn_wr_uint(w, v, 2);
}

void lp_nn_wr_u32(lp_nn_wr *w, uint32_t v)
{
    lp_nn_wr_uint(w, v, 4);
}

void lp_nn_wr_u64(lp_nn_wr *w, uint64_t v)
{
    lp_nn_wr_uint(w, v, 8);
}

void lp_nn_wr_f32(lp_nn_wr *w, float f)
{
    uint32_t v;
    memcpy(&v, &f, sizeof v);
    lp_nn_wr_uint(w, v, 4);
}

void lp_nn_wr_f64(lp_nn_wr *w, double f)
{
    uint64_t v;
    memcpy(&v, &f, sizeof v);
    lp_nn_wr_uint(w, v, 8);
}

void lp_nn_wr_text(lp_nn_wr *w, const char *s)
{
    size_t len = strlen(s);
    if (len > UINT16_MAX) {
        w->bad = 1;
        return;
    }
    lp_nn_wr_u16(w, (uint16_t)len);
    lp_nn_wr_bytes(w, s, len);
}

void lp_nn_wr_head(lp_nn_wr *w, const unsigned char *magic, size_t magic_len,
                   uint32_t version, uint32_t flags)
{
    lp_nn_wr_bytes(w, magic, magic_len);
    lp_nn_wr_u32(w, version);
    lp_nn_wr_u32(w, flags);
    lp_nn_wr_u64(w, w->n);
}

int lp_nn_wr_commit(lp_nn_wr *w, const char *path, lp_err *err)
{
    lp_nn_wr_u32(w, lp_nn_crc32(0, w->p, w->off));
    int rc;
    if (w->bad)
        rc = lp_err_set(err, LP_EINVAL, "%s: the fields overrun the %zu bytes computed for the "
                        "file (a writer bug): nothing written", path, w->n);
    else if (w->off != w->n)
        rc = lp_err_set(err, LP_EINVAL, "%s: the fields fill %zu of the %zu bytes computed for "
                        "the file (a writer bug): nothing written", path, w->off, w->n);
    else
        rc = lp_nn_write_atomic(path, w->p, w->n, err);
    free(w->p);
    w->p = NULL;
    return rc;
}
