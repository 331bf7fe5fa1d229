/* The VAE's network and its training loop, on the core's dense layers and Adam.
 *
 * The encoder's last layer is linear and writes the mean and the log-variance side by
 * side; the decoder ends in a sigmoid. The core's backward pass writes gradients rather
 * than accumulating them, which is all this needs: the decoder's backward hands dLoss/dz
 * to the reparameterisation, which turns it into dLoss/d(mean, log-variance) for the
 * encoder's own backward pass. */
#include "vae.h"
#include "../sampler_util.h"

#include <litepred/litepred.h>

#include <math.h>
#include <stdlib.h>
#include <string.h>
#if defined(__SSE__)
#include <xmmintrin.h>
#endif

unsigned vae_fp_enter(void)
{
#if defined(__SSE__)
    /* Subnormals cost ~100x per operation; Adam's moments decay into them (see nn.h). */
    unsigned old = _mm_getcsr();
    _mm_setcsr(old | 0x8040u);
    return old;
#else
    return 0;
#endif
}

void vae_fp_leave(unsigned old)
{
#if defined(__SSE__)
    _mm_setcsr(old);
#else
    (void)old;
#endif
}

/* in -> hidden x (layers - 1), ReLU -> out with the given last activation. */
static int make_half(lp_mlp **out, int in, int hidden, int layers, int n_out, lp_nn_act last,
                     lp_err *err)
{
    int sizes[VAE_MAX_LAYERS + 1];
    lp_nn_act act[VAE_MAX_LAYERS];
    sizes[0] = in;
    for (int l = 0; l < layers; l++) {
        sizes[l + 1] = l + 1 < layers ? hidden : n_out;
        act[l] = l + 1 < layers ? LP_NN_RELU : last;
    }
    return lp_mlp_create(out, (size_t)layers, sizes, act, NULL, err);
}

int vae_net_create(vae_net *net, lp_err *err)
{
    net->enc = net->dec = NULL;
    if (net->layers < 2 || net->layers > VAE_MAX_LAYERS)
        return lp_err_set(err, LP_EINVAL, "vae: %d layers (valid: 2..%d)", net->layers,
                          VAE_MAX_LAYERS);
    int rc = make_half(&net->enc, (int)net->n_in, net->hidden, net->layers, 2 * net->latent,
                       LP_NN_LINEAR, err);
    if (rc == 0)
        rc = make_half(&net->dec, net->latent, net->hidden, net->layers, (int)net->n_in,
                       LP_NN_SIGMOID, err);
    if (rc)
        vae_net_free(net);
    return rc;
}

void vae_net_free(vae_net *net)
{
    lp_mlp_free(net->enc);
    lp_mlp_free(net->dec);
    net->enc = net->dec = NULL;
}

void vae_to_unit(const vae_net *net, const lp_kcfg *c, float *u)
{
    for (size_t j = 0; j < net->n_in; j++) {
        const vae_dim *m = &net->map[j];
        double v = c->v[m->dim];
        double t = m->log2 ? log2(v) : v;
        u[j] = (float)((t - m->lo) / (m->hi - m->lo));
    }
}

/* ---- training ------------------------------------------------------------------ */

/* Every buffer of a run, allocated before the first step. */
typedef struct vae_buf {
    lp_mlp_ws *ews, *dws;
    lp_adam ea, da;
    float *x;    /* [B x n_in] batch */
    float *eps;  /* [B x latent] reparameterisation noise */
    float *z;    /* [B x latent] */
    float *dout; /* [B x n_in] dLoss/dx_hat */
    float *dz;   /* [B x latent] */
    float *denc; /* [B x 2 latent] dLoss/d(mean, log-variance) */
} vae_buf;

static void buf_free(vae_buf *b)
{
    lp_mlp_ws_free(b->ews);
    lp_mlp_ws_free(b->dws);
    lp_adam_free(&b->ea);
    lp_adam_free(&b->da);
    free(b->x);
    free(b->eps);
    free(b->z);
    free(b->dout);
    free(b->dz);
    free(b->denc);
}

static int buf_alloc(vae_buf *b, const vae_net *net, lp_err *err)
{
    size_t B = VAE_BATCH, L = (size_t)net->latent, n_in = net->n_in;
    int rc = lp_mlp_ws_create(net->enc, VAE_BATCH, &b->ews, err);
    if (rc || (rc = lp_mlp_ws_create(net->dec, VAE_BATCH, &b->dws, err)) ||
        (rc = lp_adam_init(&b->ea, net->enc->n_params, err)) ||
        (rc = lp_adam_init(&b->da, net->dec->n_params, err)))
        return rc;
    b->x = malloc(B * n_in * sizeof *b->x);
    b->eps = malloc(B * L * sizeof *b->eps);
    b->z = malloc(B * L * sizeof *b->z);
    b->dout = malloc(B * n_in * sizeof *b->dout);
    b->dz = malloc(B * L * sizeof *b->dz);
    b->denc = malloc(B * 2 * L * sizeof *b->denc);
    if (!b->x || !b->eps || !b->z || !b->dout || !b->dz || !b->denc)
        return lp_err_set(err, LP_ENOMEM, "vae: out of memory for training buffers");
    return 0;
}

/* z = mean + exp(logvar / 2) * eps; returns the batch's KL(q(z|x) || N(0, I)) summed over
 * rows and latent dims. PyTorch's reference takes exp of its output as sigma and computes
 * sum(sigma^2 + mu^2 - log(sigma) - 1/2), which is not that KL; this is the closed form. */
static double reparameterise(const vae_net *net, vae_buf *b, const float *enc_out, lp_rng *rng)
{
    size_t L = (size_t)net->latent;
    double kl = 0;
    for (size_t r = 0; r < VAE_BATCH; r++) {
        const float *mu = enc_out + r * 2 * L, *lv = mu + L;
        for (size_t j = 0; j < L; j++) {
            float e = (float)lp_nn_randn(rng);
            b->eps[r * L + j] = e;
            b->z[r * L + j] = mu[j] + expf(0.5f * lv[j]) * e;
            kl += 0.5 * ((double)mu[j] * mu[j] + exp((double)lv[j]) - 1.0 - lv[j]);
        }
    }
    return kl;
}

/* Sum of squared errors over the batch; dout = its gradient 2 (x_hat - x). */
static double reconstruction(const vae_net *net, vae_buf *b, const float *x_hat)
{
    double sum = 0;
    for (size_t i = 0; i < VAE_BATCH * net->n_in; i++) {
        float d = x_hat[i] - b->x[i];
        sum += (double)d * d;
        b->dout[i] = 2.0f * d;
    }
    return sum;
}

/* dLoss/dmean = dz + beta mean;
 * dLoss/dlogvar = dz eps exp(logvar / 2) / 2 + beta (exp(logvar) - 1) / 2. */
static void encoder_grad(const vae_net *net, vae_buf *b, const float *enc_out, double beta)
{
    size_t L = (size_t)net->latent;
    float bt = (float)beta;
    for (size_t r = 0; r < VAE_BATCH; r++) {
        const float *mu = enc_out + r * 2 * L, *lv = mu + L;
        float *dmu = b->denc + r * 2 * L, *dlv = dmu + L;
        const float *dz = b->dz + r * L, *eps = b->eps + r * L;
        for (size_t j = 0; j < L; j++) {
            float sd = expf(0.5f * lv[j]);
            dmu[j] = dz[j] + bt * mu[j];
            dlv[j] = 0.5f * dz[j] * eps[j] * sd + 0.5f * bt * (sd * sd - 1.0f);
        }
    }
}

static void draw_batch(const vae_net *net, vae_buf *b, const float *rows, const double *cum,
                       size_t n, lp_rng *rng)
{
    for (size_t r = 0; r < VAE_BATCH; r++) {
        size_t i = su_cum_find(cum, n, su_uniform(rng) * cum[n - 1]);
        memcpy(b->x + r * net->n_in, rows + i * net->n_in, net->n_in * sizeof(float));
    }
}

/* One step; *recon and *kl get the batch sums. */
static void train_step(vae_net *net, vae_buf *b, const float *rows, const double *cum, size_t n,
                       lp_rng *rng, double beta, double lr, double *recon, double *kl)
{
    draw_batch(net, b, rows, cum, n, rng);
    const float *enc_out = lp_mlp_forward(net->enc, b->ews, b->x, VAE_BATCH);
    *kl = reparameterise(net, b, enc_out, rng);
    const float *x_hat = lp_mlp_forward(net->dec, b->dws, b->z, VAE_BATCH);
    *recon = reconstruction(net, b, x_hat);
    lp_mlp_backward(net->dec, b->dws, b->dout, b->dz);
    lp_adam_step(&b->da, net->dec->params, net->dec->grads, lr);
    encoder_grad(net, b, enc_out, beta);
    lp_mlp_backward_adam(net->enc, b->ews, b->denc, &b->ea, lr);
}

/* LitePred's schedule: the KL weight follows the mean per-row reconstruction error of the
 * last VAE_BETA_EVERY steps, rising towards 0.1 as that error falls below e^-8. */
static double next_beta(double recon_per_row)
{
    if (!(recon_per_row > 0))
        return 0.1;
    return 0.1 / (1.0 + exp(2.0 * (log(recon_per_row) + 8.0)));
}

static int run_epochs(vae_net *net, vae_buf *b, const float *rows, const double *cum, size_t n,
                      const vae_train_opts *o, vae_stats *st, lp_err *err)
{
    lp_rng rng;
    lp_rng_seed(&rng, o->seed ^ 0x7661655f74726e00ull); /* "vae_trn": apart from the init stream */
    double beta = VAE_BETA0, window = 0;
    int64_t step = 0;
    for (int64_t e = 0; e < o->epochs; e++) {
        double sum_recon = 0, sum_kl = 0;
        for (int i = 0; i < VAE_ITERS; i++, step++) {
            double recon, kl;
            train_step(net, b, rows, cum, n, &rng, beta, o->lr, &recon, &kl);
            if (!isfinite(recon) || !isfinite(kl))
                return lp_err_set(err, LP_EINVAL, "vae: training diverged at epoch %lld, step %d "
                                  "(reconstruction %g, KL %g): try a lower lr",
                                  (long long)(e + 1), i + 1, recon, kl);
            sum_recon += recon;
            sum_kl += kl;
            window += recon;
            if ((step + 1) % VAE_BETA_EVERY == 0) {
                beta = next_beta(window / (VAE_BETA_EVERY * VAE_BATCH));
                window = 0;
            }
        }
        double rows_seen = (double)VAE_ITERS * VAE_BATCH;
        st->recon_last = sum_recon / rows_seen;
        st->kl_last = sum_kl / rows_seen;
        if (e == 0) {
            st->recon_first = st->recon_last;
            st->kl_first = st->kl_last;
        }
        st->epochs = e + 1;
    }
    st->beta_last = beta;
    return 0;
}

int vae_train(vae_net *net, const float *rows, const double *cum, size_t n,
              const vae_train_opts *o, vae_stats *st, lp_err *err)
{
    uint64_t t0 = lp_now_ns();
    vae_buf b = {0};
    *st = (vae_stats){0};
    if (n == 0 || !(cum[n - 1] > 0))
        return lp_err_set(err, LP_EINVAL, "vae: no training rows with weight");
    int rc = buf_alloc(&b, net, err);
    if (rc == 0) {
        lp_nn_single_thread(); /* deterministic sgemm */
        lp_mlp_init_he(net->enc, o->seed);
        lp_mlp_init_he(net->dec, o->seed + 1);
        unsigned fp = vae_fp_enter();
        rc = run_epochs(net, &b, rows, cum, n, o, st, err);
        vae_fp_leave(fp);
    }
    buf_free(&b);
    st->seconds = (double)(lp_now_ns() - t0) * 1e-9;
    return rc;
}
