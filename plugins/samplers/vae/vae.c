/* vae: LitePred's VAE data sampler (NSDI 2024; microsoft/Moonlit, LitePred/vae/). One VAE
 * per kernel type learns the joint distribution of the prior (the kernel type's configs in
 * the NAS spaces, frequency-weighted) and generates configs like them, including ones the
 * spaces never produced.
 *
 * Modelled dims: the kernel type's numeric dims (ranges and explicit sets; not enums such
 * as act) whose value varies over the prior. Range dims with min >= 1 (spatial sizes,
 * channels, widths, tokens, heads) are modelled as log2(v), explicit sets (k, s) as v; each
 * is min-max scaled to [0, 1] over the prior.
 *
 * Network (defaults as LitePred's): encoder in -> 256 -> 256 -> 256 -> 256 (ReLU) -> mean
 * and log-variance of a 128-dim latent; decoder 128 -> 256 x 4 (ReLU) -> in, sigmoid;
 * `layers` (5) counts the dense layers of each half, as LitePred's encoder_layers does.
 * (LitePred's decoder omits the ReLU before its output layer; this one has it.)
 *
 * Training: batches of 16 prior configs drawn with probability equal to their frequency,
 * 625 steps per epoch, Adam (lr 1e-3). Loss = sum of squared reconstruction errors + beta *
 * KL(q(z|x) || N(0, I)) over the batch, with the closed-form Gaussian KL (LitePred's code
 * computes sum(sigma^2 + mu^2 - log sigma - 1/2), which is not that KL; fixed here). beta
 * starts at 0.02 and every 50 steps becomes 0.1 / (1 + exp(2 (ln r + 8))), r the mean
 * per-row reconstruction error of those 50 steps. Weights, batches and noise come from
 * `train_seed`, not from the pipeline's seed: the trained VAE depends only on the prior
 * and the options, so every pipeline seed shares one cached model.
 * epochs = 50 by default: the beta schedule settles at its fixed point (r ~ 0.003, beta
 * ~ 1e-3) by epoch ~20 (LitePred's checkpoint is vae_ep20) and bench/vae.sh's held-out KL
 * keeps improving to ~50 (conv, LitePred's check: 0.24-0.27 at 20, 0.17-0.18 at 50,
 * 0.17 at 150); 50 epochs take ~35 s on one core (OpenBLAS SkylakeX kernels; ~70 s with
 * OpenBLAS 0.3.21's generic fallback on AVX-512 CPUs).
 *
 * Cache: a trained VAE is written to <cache>/<kernel type>-<key>.vae, key = FNV-1a of
 * everything training depends on (kernel dims, prior configs and weights, options, format
 * version); the same prior and options load it instead of training. cache="" (default)
 * means $XDG_CACHE_HOME/litepred/vae, else $HOME/.cache/litepred/vae; cache=none trains at
 * every setup and writes nothing. A cache file that fails its checksum, is truncated or
 * does not match its key FAILS setup with LP_ECORRUPT naming the file: it is never
 * silently retrained over, since a corrupt file written atomically points at a disk or a
 * tampering problem; delete it to retrain. A cache directory that cannot be created or
 * written fails setup too (LP_EIO); cache=none is the explicit way to go without one.
 *
 * Generation (stream from the pipeline's seed): z ~ N(0, spread^2 I) (spread = 1: LitePred)
 * in blocks of VS_BLOCK rows (so the stream does not depend on how sample() calls split
 * it); or, with draw=posterior, z ~ q(z|x) of prior configs x drawn by frequency (noise
 * times spread), which does not rely on the aggregate posterior matching N(0, I): with
 * LitePred's small beta it does not, and decoding N(0, I) draws blurs the distribution
 * (bench/vae.sh: dwconv, LitePred's check, 0.065 with prior draws, 0.008 with posterior
 * draws, 0.005 between halves of the real data). Then decode; clip to
 * [0, 1]; undo scaling and log2; round; with round8 (default on), a dim whose prior
 * values are channel-like (at least VS_ROUND8_SHARE of the weight on multiples of 8 or
 * values <= 3) goes to the nearest multiple of 8 when > 3, as LitePred's generator does
 * (it rounds up; nearest keeps the distribution unbiased); snap each dim to its valid
 * values; dims not modelled (act, constant dims) are copied from the prior config nearest
 * to the decoded point in the [0, 1] space, which keeps their correlation with the others
 * (conv's act is "none" on projection convs); then the kernel's repair() (dwconv has no
 * cout: it is cin; conv's k=16 goes with s=16; se's cse <= c) and valid().
 *
 * Kernel types with at most 2 modelled dims (fc: cin, cout; linear, mhsa over the
 * AutoFormer spaces) get no VAE, by LitePred's scope (conv-like kernels): small=prior
 * (default) draws the prior's configs by frequency, as the prior sampler does; small=error
 * fails setup naming the dims. */
#include "vae.h"
#include "../sampler_util.h"

#include <ctype.h>
#include <limits.h>
#include <math.h>
#include <stddef.h>
#include <stdio.h>

/* Latent rows decoded at once: a fixed block keeps the stream split-independent. */
#define VS_BLOCK 64
/* Share of prior weight on multiples of 8 (or <= 3) that makes a dim channel-like. */
#define VS_ROUND8_SHARE 0.9

enum { SMALL_PRIOR = 0, SMALL_ERROR };
static const char *const small_names[] = {"prior", "error", NULL};
enum { DRAW_PRIOR = 0, DRAW_POSTERIOR };
static const char *const draw_names[] = {"prior", "posterior", NULL};

typedef struct vs_state {
    /* options */
    int64_t epochs, latent, hidden, layers, train_seed;
    double lr;
    char *cache;
    int small;
    int round8;
    double spread;
    int draw;
    /* set up */
    const lp_kernel_ops *k;
    lp_rng rng;
    su_prior prior;
    int use_vae;
    vae_net net;
    unsigned round8_mask; /* bit j: modelled dim j is channel-like */
    int copy_nearest;     /* some dims vary but are not modelled */
    float *prior_u;       /* prior configs in [0, 1] space, [prior.n x n_in] */
    lp_mlp_ws *ws;        /* decoder workspace, VS_BLOCK rows */
    lp_mlp_ws *ews;       /* encoder workspace (draw=posterior), VS_BLOCK rows */
    float *z;             /* [VS_BLOCK x latent] */
    lp_kcfg block[VS_BLOCK];
    size_t pos, len;      /* next and end of block */
} vs_state;

static const lp_option options[] = {
    {.name = "epochs", .help = "training epochs of 625 batches of 16 (LitePred's checkpoint: 20; "
                               "50 converges)",
     .type = LP_OPT_INT, .offset = offsetof(vs_state, epochs), .def_i = 50, .min = 1,
     .max = 100000},
    {.name = "latent", .help = "latent dims", .type = LP_OPT_INT,
     .offset = offsetof(vs_state, latent), .def_i = 128, .min = 1, .max = VAE_MAX_WIDTH},
    {.name = "hidden", .help = "width of the hidden layers", .type = LP_OPT_INT,
     .offset = offsetof(vs_state, hidden), .def_i = 256, .min = 1, .max = VAE_MAX_WIDTH},
    {.name = "layers", .help = "dense layers of the encoder and of the decoder, output included",
     .type = LP_OPT_INT, .offset = offsetof(vs_state, layers), .def_i = 5, .min = 2,
     .max = VAE_MAX_LAYERS},
    {.name = "lr", .help = "Adam learning rate", .type = LP_OPT_DOUBLE,
     .offset = offsetof(vs_state, lr), .def_d = 1e-3, .min = 1e-9, .max = 1},
    {.name = "train_seed", .help = "seed of the weights and of training (the pipeline's seed "
                                   "drives generation only)",
     .type = LP_OPT_INT, .offset = offsetof(vs_state, train_seed), .def_i = 0, .min = 0,
     .max = 9007199254740992.0},
    {.name = "cache", .help = "directory of trained VAEs (\"\": $XDG_CACHE_HOME/litepred/vae or "
                              "~/.cache/litepred/vae; none: train every time, save nothing)",
     .type = LP_OPT_STRING, .offset = offsetof(vs_state, cache), .def_s = ""},
    {.name = "small", .help = "kernel types with <= 2 varying numeric dims: draw the prior's "
                              "configs, or fail",
     .type = LP_OPT_CHOICE, .offset = offsetof(vs_state, small), .def_s = "prior",
     .choices = small_names},
    {.name = "round8", .help = "channel-like dims to the nearest multiple of 8 when > 3 "
                               "(LitePred's generator)",
     .type = LP_OPT_BOOL, .offset = offsetof(vs_state, round8), .def_i = 1},
    {.name = "spread", .help = "standard deviation of the latent draws z ~ N(0, spread^2 I) "
                               "(LitePred: 1)",
     .type = LP_OPT_DOUBLE, .offset = offsetof(vs_state, spread), .def_d = 1, .min = 0, .max = 100},
    {.name = "draw", .help = "latent draws: prior N(0, spread^2 I) (LitePred), or posterior: "
                             "q(z|x) of a prior config drawn by frequency (noise times spread)",
     .type = LP_OPT_CHOICE, .offset = offsetof(vs_state, draw), .def_s = "prior",
     .choices = draw_names},
    LP_OPT_END};

static void vs_release(vs_state *st)
{
    su_prior_free(&st->prior);
    vae_net_free(&st->net);
    lp_mlp_ws_free(st->ws);
    lp_mlp_ws_free(st->ews);
    free(st->prior_u);
    free(st->z);
    st->ws = st->ews = NULL;
    st->prior_u = st->z = NULL;
    st->k = NULL;
    st->use_vae = st->copy_nearest = 0;
    st->round8_mask = 0;
    st->pos = st->len = 0;
}

static int vs_init(void *priv, lp_err *err)
{
    (void)priv;
    (void)err;
    return 0;
}

static void vs_fini(void *priv)
{
    vs_release(priv);
}

/* ---- what is modelled --------------------------------------------------------- */

static void prior_range(const su_prior *p, size_t d, int32_t *mn, int32_t *mx)
{
    *mn = *mx = p->cfgs[0].v[d];
    for (size_t i = 1; i < p->n; i++) {
        *mn = p->cfgs[i].v[d] < *mn ? p->cfgs[i].v[d] : *mn;
        *mx = p->cfgs[i].v[d] > *mx ? p->cfgs[i].v[d] : *mx;
    }
}

/* Numeric dims that vary over the prior, in kernel order; notes whether other dims vary. */
static void choose_dims(vs_state *st, const lp_kernel_ops *k)
{
    vae_net *net = &st->net;
    net->n_in = 0;
    for (size_t d = 0; d < k->n_dims; d++) {
        const lp_dim *dim = &k->dims[d];
        int32_t mn, mx;
        prior_range(&st->prior, d, &mn, &mx);
        if (mn == mx)
            continue;
        if (dim->labels) {
            st->copy_nearest = 1;
            continue;
        }
        int lg = !dim->values && mn >= 1;
        net->map[net->n_in++] = (vae_dim){(uint32_t)d, (uint32_t)lg, lg ? log2(mn) : mn,
                                          lg ? log2(mx) : mx};
    }
}

/* Channel-like: at least VS_ROUND8_SHARE of the prior's weight on multiples of 8 or <= 3. */
static void choose_round8(vs_state *st, const lp_kernel_ops *k)
{
    for (size_t j = 0; st->round8 && j < st->net.n_in; j++) {
        size_t d = st->net.map[j].dim;
        double on = 0;
        if (k->dims[d].values)
            continue;
        for (size_t i = 0; i < st->prior.n; i++) {
            int32_t v = st->prior.cfgs[i].v[d];
            double w = st->prior.cum[i] - (i ? st->prior.cum[i - 1] : 0.0);
            on += v <= 3 || v % 8 == 0 ? w : 0.0;
        }
        if (on >= VS_ROUND8_SHARE * st->prior.cum[st->prior.n - 1])
            st->round8_mask |= 1u << j;
    }
}

/* ---- the cache key --------------------------------------------------------------- */

static uint64_t fnv_u64(uint64_t h, uint64_t v)
{
    unsigned char b[8];
    for (int i = 0; i < 8; i++)
        b[i] = (unsigned char)(v >> (8 * i));
    return vae_fnv(h, b, sizeof b);
}

static uint64_t fnv_f64(uint64_t h, double v)
{
    uint64_t u;
    memcpy(&u, &v, sizeof u);
    return fnv_u64(h, u);
}

static uint64_t fnv_str(uint64_t h, const char *s)
{
    return vae_fnv(h, s, strlen(s) + 1);
}

static uint64_t key_of_kernel(uint64_t h, const char *type, const lp_kernel_ops *k)
{
    h = fnv_str(fnv_str(h, "litepred-vae-key-1"), type);
    h = fnv_u64(h, k->n_dims);
    for (size_t d = 0; d < k->n_dims; d++) {
        const lp_dim *dim = &k->dims[d];
        h = fnv_str(h, dim->name);
        h = fnv_u64(fnv_u64(h, (uint64_t)dim->min), (uint64_t)dim->max);
        h = fnv_u64(h, (uint64_t)dim->step);
        h = fnv_u64(h, dim->n_values);
        for (size_t i = 0; dim->values && i < dim->n_values; i++)
            h = fnv_u64(h, (uint64_t)dim->values[i]);
    }
    return h;
}

static uint64_t cache_key(const vs_state *st, const char *type, const lp_kernel_ops *k)
{
    uint64_t h = key_of_kernel(VAE_FNV_INIT, type, k);
    h = fnv_u64(h, st->prior.n);
    for (size_t i = 0; i < st->prior.n; i++) {
        for (size_t d = 0; d < k->n_dims; d++)
            h = fnv_u64(h, (uint64_t)st->prior.cfgs[i].v[d]);
        h = fnv_f64(h, st->prior.cum[i]);
    }
    const int64_t ints[] = {st->epochs, st->latent, st->hidden, st->layers, st->train_seed,
                            VAE_BATCH,  VAE_ITERS,  VAE_BETA_EVERY};
    for (size_t i = 0; i < sizeof ints / sizeof *ints; i++)
        h = fnv_u64(h, (uint64_t)ints[i]);
    return fnv_f64(fnv_f64(h, st->lr), VAE_BETA0);
}

/* <dir>/<kernel type>-<key>.vae; "" when caching is off. */
static int cache_path(const vs_state *st, const char *type, uint64_t key, char *out, size_t cap,
                      lp_err *err)
{
    char dir[PATH_MAX], name[128];
    out[0] = '\0';
    if (st->cache && !strcmp(st->cache, "none"))
        return 0;
    int rc = vae_cache_dir(st->cache, dir, sizeof dir, err);
    if (rc)
        return rc;
    size_t i = 0;
    for (; type[i] && i < 64; i++) /* a kernel name is a plugin name; keep the file name plain */
        name[i] = isalnum((unsigned char)type[i]) || type[i] == '-' || type[i] == '_' ? type[i]
                                                                                      : '_';
    name[i] = '\0';
    int len = snprintf(out, cap, "%s/%s-%016llx.vae", dir, name, (unsigned long long)key);
    if (len < 0 || (size_t)len >= cap)
        return lp_err_set(err, LP_EINVAL, "vae: cache file path too long under %s", dir);
    return 0;
}

/* ---- training or loading ------------------------------------------------------- */

static int train(vs_state *st, const char *type, vae_stats *stats, lp_err *err)
{
    size_t n = st->prior.n, n_in = st->net.n_in;
    float *rows = malloc(n * n_in * sizeof *rows);
    if (!rows)
        return lp_err_set(err, LP_ENOMEM, "vae: out of memory for %zu training rows", n);
    for (size_t i = 0; i < n; i++)
        vae_to_unit(&st->net, &st->prior.cfgs[i], rows + i * n_in);
    vae_train_opts o = {.epochs = st->epochs, .lr = st->lr, .seed = (uint64_t)st->train_seed};
    int rc = vae_train(&st->net, rows, st->prior.cum, n, &o, stats, err);
    free(rows);
    if (rc)
        lp_err_prefix(err, "%s: ", type);
    return rc;
}

static void info_text(const vs_state *st, const char *type, const vae_stats *s, char *buf,
                      size_t cap)
{
    snprintf(buf, cap,
             "kernel=%.64s,prior=%zu,dims=%zu,epochs=%lld,latent=%lld,hidden=%lld,layers=%lld,"
             "lr=%g,train_seed=%lld,seconds=%.3f,recon_first=%.6g,recon_last=%.6g,"
             "kl_first=%.6g,kl_last=%.6g,beta_last=%.6g",
             type, st->prior.n, st->net.n_in, (long long)st->epochs, (long long)st->latent,
             (long long)st->hidden, (long long)st->layers, st->lr, (long long)st->train_seed,
             s->seconds, s->recon_first, s->recon_last, s->kl_first, s->kl_last, s->beta_last);
}

/* The cached VAE when there is one, else a freshly trained one (then cached). */
static int load_or_train(vs_state *st, const char *type, const lp_kernel_ops *k, lp_err *err)
{
    char path[PATH_MAX], info[1024];
    uint64_t key = cache_key(st, type, k);
    int rc = cache_path(st, type, key, path, sizeof path, err);
    if (rc)
        return rc;
    if (path[0]) {
        rc = vae_load(path, &st->net, key, info, sizeof info, err);
        if (rc != LP_ENOTFOUND)
            return rc;
        lp_err_clear(err);
    }
    vae_stats stats;
    if ((rc = train(st, type, &stats, err)))
        return rc;
    info_text(st, type, &stats, info, sizeof info);
    return path[0] ? vae_save(path, &st->net, key, info, err) : 0;
}

static int prepare_generation(vs_state *st, lp_err *err)
{
    size_t n = st->prior.n, n_in = st->net.n_in;
    int rc = lp_mlp_ws_create(st->net.dec, VS_BLOCK, &st->ws, err);
    if (rc || (st->draw == DRAW_POSTERIOR &&
               (rc = lp_mlp_ws_create(st->net.enc, VS_BLOCK, &st->ews, err))))
        return rc;
    st->z = malloc((size_t)VS_BLOCK * (size_t)st->latent * sizeof *st->z);
    st->prior_u = malloc(n * n_in * sizeof *st->prior_u);
    if (!st->z || !st->prior_u)
        return lp_err_set(err, LP_ENOMEM, "vae: out of memory for generation buffers");
    for (size_t i = 0; i < n; i++)
        vae_to_unit(&st->net, &st->prior.cfgs[i], st->prior_u + i * n_in);
    return 0;
}

static int small_kernel(vs_state *st, const lp_sampler_ctx *ctx, lp_err *err)
{
    char names[256] = "";
    for (size_t j = 0; j < st->net.n_in; j++) {
        size_t len = strlen(names);
        snprintf(names + len, sizeof names - len, "%s%s", j ? ", " : "",
                 ctx->kernel->dims[st->net.map[j].dim].name);
    }
    if (st->small == SMALL_ERROR)
        return lp_err_set(err, LP_EINVAL, "%s varies in %zu numeric dim(s) over the prior (%s): "
                          "a VAE needs more than 2 (small=prior draws the prior's configs)",
                          ctx->kernel_type, st->net.n_in, st->net.n_in ? names : "none");
    return 0;
}

static int vs_setup(void *priv, const lp_sampler_ctx *ctx, lp_err *err)
{
    vs_state *st = priv;
    vs_release(st);
    int rc = su_prior_copy(&st->prior, ctx, err);
    if (rc)
        return rc;
    if (st->prior.n == 0)
        return lp_err_set(err, LP_EINVAL, "%s has no configs in the spaces: the VAE learns "
                          "their distribution", ctx->kernel_type);
    lp_nn_single_thread(); /* deterministic sgemm for training and decoding */
    choose_dims(st, ctx->kernel);
    if (st->net.n_in <= 2) {
        if ((rc = small_kernel(st, ctx, err)))
            goto fail;
    } else {
        st->use_vae = 1;
        choose_round8(st, ctx->kernel);
        st->net.latent = (int)st->latent;
        st->net.hidden = (int)st->hidden;
        st->net.layers = (int)st->layers;
        if ((rc = vae_net_create(&st->net, err)) ||
            (rc = load_or_train(st, ctx->kernel_type, ctx->kernel, err)) ||
            (rc = prepare_generation(st, err)))
            goto fail;
    }
    lp_rng_seed(&st->rng, ctx->seed);
    st->k = ctx->kernel;
    return 0;
fail:
    vs_release(st);
    return rc;
}

/* ---- generation ------------------------------------------------------------------ */

static size_t nearest_prior(const vs_state *st, const float *u)
{
    size_t n_in = st->net.n_in, best = 0;
    double best_d = INFINITY;
    for (size_t i = 0; i < st->prior.n; i++) {
        const float *p = st->prior_u + i * n_in;
        double d = 0;
        for (size_t j = 0; j < n_in; j++)
            d += ((double)p[j] - u[j]) * ((double)p[j] - u[j]);
        if (d < best_d) {
            best_d = d;
            best = i;
        }
    }
    return best;
}

static int32_t decode_dim(const vs_state *st, size_t j, float u)
{
    const vae_dim *m = &st->net.map[j];
    double t = m->lo + (double)u * (m->hi - m->lo);
    long long v = llround(m->log2 ? exp2(t) : t);
    if ((st->round8_mask >> j & 1u) && v > 3)
        v = (v + 4) / 8 * 8;
    return lp_dim_snap(&st->k->dims[m->dim], v);
}

static int decode_row(vs_state *st, const float *out, lp_kcfg *c, lp_err *err)
{
    float u[LP_KCFG_MAX_DIMS];
    for (size_t j = 0; j < st->net.n_in; j++)
        u[j] = out[j] < 0.0f ? 0.0f : out[j] > 1.0f ? 1.0f : out[j];
    /* Constant dims are the same in every prior config; varying enums follow the nearest. */
    *c = st->prior.cfgs[st->copy_nearest ? nearest_prior(st, u) : 0];
    for (size_t j = 0; j < st->net.n_in; j++)
        c->v[st->net.map[j].dim] = decode_dim(st, j, u[j]);
    st->k->repair(c);
    lp_err verr = {0};
    if (st->k->valid(c, &verr) < 0) {
        char text[256];
        lp_kcfg_format(st->k->dims, st->k->n_dims, c, text, sizeof text);
        return lp_err_set(err, LP_EINVAL, "decoded config %s is not valid after repair(): %s",
                          text, verr.msg);
    }
    return 0;
}

static void draw_prior(vs_state *st)
{
    size_t nz = (size_t)VS_BLOCK * (size_t)st->latent;
    for (size_t i = 0; i < nz; i++)
        st->z[i] = (float)(st->spread * lp_nn_randn(&st->rng));
}

/* z ~ q(z|x) for prior configs x drawn by frequency: the decoder's view of the data
 * without relying on the aggregate posterior matching N(0, I). */
static void draw_posterior(vs_state *st)
{
    size_t n_in = st->net.n_in, L = (size_t)st->latent;
    float *x = lp_mlp_ws_input(st->ews);
    for (size_t r = 0; r < VS_BLOCK; r++)
        memcpy(x + r * n_in, st->prior_u + su_prior_draw(&st->prior, &st->rng) * n_in,
               n_in * sizeof *x);
    const float *eo = lp_mlp_forward(st->net.enc, st->ews, x, VS_BLOCK);
    for (size_t r = 0; r < VS_BLOCK; r++)
        for (size_t j = 0; j < L; j++) {
            const float *mu = eo + r * 2 * L, *lv = mu + L;
            double e = st->spread * lp_nn_randn(&st->rng);
            st->z[r * L + j] = mu[j] + expf(0.5f * lv[j]) * (float)e;
        }
}

static int refill(vs_state *st, lp_err *err)
{
    unsigned fp = vae_fp_enter();
    if (st->draw == DRAW_POSTERIOR)
        draw_posterior(st);
    else
        draw_prior(st);
    const float *out = lp_mlp_forward(st->net.dec, st->ws, st->z, VS_BLOCK);
    vae_fp_leave(fp);
    for (size_t i = 0; i < VS_BLOCK; i++) {
        int rc = decode_row(st, out + i * st->net.n_in, &st->block[i], err);
        if (rc)
            return rc;
    }
    st->pos = 0;
    st->len = VS_BLOCK;
    return 0;
}

static int vs_sample(void *priv, size_t n, lp_kcfg *out, lp_err *err)
{
    vs_state *st = priv;
    if (!st->k)
        return lp_err_set(err, LP_EINVAL, "sample() before a successful setup()");
    for (size_t i = 0; i < n; i++) {
        if (!st->use_vae) {
            out[i] = st->prior.cfgs[su_prior_draw(&st->prior, &st->rng)];
            continue;
        }
        int rc = st->pos == st->len ? refill(st, err) : 0;
        if (rc)
            return rc;
        out[i] = st->block[st->pos++];
    }
    return 0;
}

static const lp_sampler_ops ops = {
    .size = sizeof(lp_sampler_ops),
    .setup = vs_setup,
    .sample = vs_sample,
};

static const lp_plugin_desc desc = {
    LP_PLUGIN_ABI,
    .kind = LP_KIND_SAMPLER,
    .name = "vae",
    .summary = "LitePred: a VAE per kernel type learns the spaces' configs (cached)",
    .options = options,
    .priv_size = sizeof(vs_state),
    .ops = &ops,
    .init = vs_init,
    .fini = vs_fini,
};

LP_PLUGIN_DEFINE(desc)
