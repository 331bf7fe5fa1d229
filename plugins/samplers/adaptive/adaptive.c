/* adaptive: nn-Meter's adaptive data sampler (MobiSys 2021; microsoft/nn-Meter,
 * nn_meter/builder/kernel_predictor_builder/data_sampler/), for any kernel type.
 *
 * Prior sampling. Each dim is drawn independently by inverse CDF from a histogram (`bins`,
 * 40) of the prior's values of that dim, weighted by frequency; the CDF is piecewise
 * linear, so a draw is uniform within its bin. For conv-like kernel types (dims hw, k and
 * s all present: conv, dwconv, pools) hw, k and s each come from the prior with
 * probability prior_share (0.7) and otherwise from nn-Meter's frequent values (hw 112/56/28
 * at 20/40/40%, k 5/7 at 40/60%, s 2/1 at 40/60%); the choice is made per dim, as
 * nn-Meter shuffles each dim's list on its own. nn-Meter fills exact shares of a batch
 * (int(count * 0.7) ...); per-draw probabilities keep the stream independent of how it is
 * split into sample() calls. Each drawn value is rounded (nn-Meter truncates with int(),
 * which moves small-integer dims down a value: a k = 7 draw lies in [6.85, 7] and becomes
 * 6, halfway between 5 and 7), then snapped:
 *   hw (spatial)          to {1,3,7,8,13,14,27,28,32,56,112,224} within the kernel's valid hw;
 *   k, s (window)         to {1,3,5,7} and {1,2,4} within the kernel's valid values;
 *   every other dim       to the nearest of the kernel's own valid values (channels, tokens,
 *                         heads, enums such as act: a histogram over a small integer range
 *                         gives each value its own bins, so it reproduces the marginal).
 * A config that breaks a cross-dim rule (se's cse <= c) is redrawn whole, as the random
 * sampler does, and repaired only after AD_TRIES redraws.
 *
 * Fine-grained rounds. feedback() gets the relative errors of measured configs; each config
 * whose error exceeds `threshold` (0.1) spawns `per_config` (10) configs in which every
 * width dim is drawn uniformly from the integers in [0.5 v, 1.2 v) (clipped to the dim's
 * range), without replacement while the range lasts as nn-Meter's random.sample does, and
 * every other dim is kept. Width dims are the plain range dims other than hw,
 * k, s and n: cin/cout of conv, fc and linear, dwconv's and pools' cin, se's c and cse,
 * mhsa's e, h and d, activations' and layernorm's c. Spatial, window, token-count, set and
 * enum dims are kept, as nn-Meter keeps HW, K and S. nn-Meter's range(int(0.5 C),
 * int(1.2 C)) holds 0 for C = 1 and excludes C itself for small C; the integer bounds
 * here follow the interval as written. Queued configs come out of sample() first, in the
 * order they were spawned; then prior sampling resumes. */
#include "../sampler_util.h"

#include <limits.h>
#include <math.h>
#include <stddef.h>

/* Whole redraws of a config that breaks a cross-dim rule before it is repaired. */
#define AD_TRIES 1000

/* What a dim is, by name (see the header comment). */
typedef enum ad_role { AD_OTHER = 0, AD_HW, AD_K, AD_S, AD_TOKENS, AD_WIDTH } ad_role;

static const int32_t hw_set[] = {1, 3, 7, 8, 13, 14, 27, 28, 32, 56, 112, 224};
static const int32_t k_set[] = {1, 3, 5, 7};
static const int32_t s_set[] = {1, 2, 4};

/* nn-Meter's frequent conv values for the (1 - prior_share) share of hw, k and s. */
typedef struct ad_fixed {
    int32_t v[3];
    double p[3];
    size_t n;
} ad_fixed;
static const ad_fixed hw_fixed = {{112, 56, 28}, {0.2, 0.4, 0.4}, 3};
static const ad_fixed k_fixed = {{5, 7}, {0.4, 0.6}, 2};
static const ad_fixed s_fixed = {{2, 1}, {0.4, 0.6}, 2};

typedef struct ad_dim {
    ad_role role;
    int32_t snap[12];   /* hw, k, s: nn-Meter's valid set within the kernel's; else empty */
    size_t n_snap;
    double lo, width;   /* histogram: first edge and bin width (0: one value) */
    double *cum;        /* cumulative bin weights */
} ad_dim;

typedef struct ad_state {
    double threshold;    /* option */
    int64_t per_config;  /* option */
    double prior_share;  /* option */
    int64_t bins;        /* option */
    const lp_kernel_ops *k;
    lp_rng rng;
    int conv_like;
    ad_dim dims[LP_KCFG_MAX_DIMS];
    lp_kcfg *queue;      /* fine-grained configs not yet sampled: [q_head, q_len) */
    size_t q_head, q_len, q_cap;
} ad_state;

static const lp_option options[] = {
    {.name = "threshold", .help = "relative error above which a config spawns fine-grained configs",
     .type = LP_OPT_DOUBLE, .offset = offsetof(ad_state, threshold), .def_d = 0.1, .min = 0,
     .max = 1e9},
    {.name = "per_config", .help = "fine-grained configs spawned per high-error config (nn-Meter's N)",
     .type = LP_OPT_INT, .offset = offsetof(ad_state, per_config), .def_i = 10, .min = 1,
     .max = 100000},
    {.name = "prior_share", .help = "conv-like kernels: share of hw, k and s drawn from the prior "
                                    "(the rest from nn-Meter's frequent values)",
     .type = LP_OPT_DOUBLE, .offset = offsetof(ad_state, prior_share), .def_d = 0.7, .min = 0,
     .max = 1},
    {.name = "bins", .help = "histogram bins per dim for the inverse-CDF draws",
     .type = LP_OPT_INT, .offset = offsetof(ad_state, bins), .def_i = 40, .min = 1, .max = 100000},
    LP_OPT_END};

static void ad_release(ad_state *st)
{
    for (size_t d = 0; d < LP_KCFG_MAX_DIMS; d++)
        free(st->dims[d].cum);
    memset(st->dims, 0, sizeof st->dims);
    free(st->queue);
    st->queue = NULL;
    st->q_head = st->q_len = st->q_cap = 0;
}

static int ad_init(void *priv, lp_err *err)
{
    (void)priv;
    (void)err;
    return 0;
}

static void ad_fini(void *priv)
{
    ad_release(priv);
}

static ad_role role_of(const lp_dim *d)
{
    if (!strcmp(d->name, "hw"))
        return AD_HW;
    if (!strcmp(d->name, "k"))
        return AD_K;
    if (!strcmp(d->name, "s"))
        return AD_S;
    if (!strcmp(d->name, "n"))
        return AD_TOKENS;
    return su_dim_is_range(d) ? AD_WIDTH : AD_OTHER;
}

/* nn-Meter's valid set for the role, less the values the kernel does not accept. */
static void build_snap(ad_dim *ad, const lp_dim *dim)
{
    const int32_t *set = ad->role == AD_HW ? hw_set : ad->role == AD_K ? k_set : s_set;
    size_t n = ad->role == AD_HW ? sizeof hw_set / sizeof *hw_set
             : ad->role == AD_K  ? sizeof k_set / sizeof *k_set
                                 : sizeof s_set / sizeof *s_set;
    ad->n_snap = 0;
    for (size_t i = 0; i < n; i++)
        if (lp_dim_accepts(dim, set[i]))
            ad->snap[ad->n_snap++] = set[i];
}

/* The frequency-weighted histogram of dim d over the prior, as cumulative bin weights. */
static int build_hist(ad_state *st, size_t d, const su_prior *p, lp_err *err)
{
    ad_dim *ad = &st->dims[d];
    size_t bins = (size_t)st->bins;
    int32_t mn = p->cfgs[0].v[d], mx = mn;
    for (size_t i = 1; i < p->n; i++) {
        mn = p->cfgs[i].v[d] < mn ? p->cfgs[i].v[d] : mn;
        mx = p->cfgs[i].v[d] > mx ? p->cfgs[i].v[d] : mx;
    }
    if (!(ad->cum = calloc(bins, sizeof *ad->cum)))
        return lp_err_set(err, LP_ENOMEM, "out of memory (%zu bins)", bins);
    ad->lo = mn;
    ad->width = (double)(mx - mn) / (double)bins;
    for (size_t i = 0; i < p->n; i++) {
        double w = p->cum[i] - (i ? p->cum[i - 1] : 0.0);
        /* numpy's histogram: the last bin is closed, so the maximum lands in it. */
        size_t b = ad->width > 0 ? (size_t)((p->cfgs[i].v[d] - ad->lo) / ad->width) : 0;
        ad->cum[b < bins ? b : bins - 1] += w;
    }
    for (size_t b = 1; b < bins; b++)
        ad->cum[b] += ad->cum[b - 1];
    return 0;
}

static int ad_setup(void *priv, const lp_sampler_ctx *ctx, lp_err *err)
{
    ad_state *st = priv;
    su_prior p = {0};
    int rc, has[AD_WIDTH + 1] = {0};
    ad_release(st);
    st->k = ctx->kernel;
    lp_rng_seed(&st->rng, ctx->seed);
    if ((rc = su_prior_copy(&p, ctx, err)) < 0)
        return rc;
    if (p.n == 0)
        return lp_err_set(err, LP_EINVAL, "%s has no configs in the spaces: the adaptive sampler "
                                          "draws from their histograms", ctx->kernel_type);
    for (size_t d = 0; d < st->k->n_dims; d++) {
        ad_dim *ad = &st->dims[d];
        ad->role = role_of(&st->k->dims[d]);
        has[ad->role] = 1;
        if (ad->role == AD_HW || ad->role == AD_K || ad->role == AD_S)
            build_snap(ad, &st->k->dims[d]);
        if ((rc = build_hist(st, d, &p, err)) < 0)
            goto fail;
    }
    st->conv_like = has[AD_HW] && has[AD_K] && has[AD_S];
    su_prior_free(&p);
    return 0;
fail:
    su_prior_free(&p);
    ad_release(st);
    return rc;
}

/* ---- prior sampling ------------------------------------------------------ */

static double hist_draw(const ad_dim *ad, size_t bins, lp_rng *rng)
{
    double total = ad->cum[bins - 1], u = su_uniform(rng) * total;
    size_t b = su_cum_find(ad->cum, bins, u);
    double prev = b ? ad->cum[b - 1] : 0.0, mass = ad->cum[b] - prev;
    double frac = mass > 0 ? (u - prev) / mass : 0.5;
    return ad->lo + ((double)b + frac) * ad->width;
}

static int32_t fixed_draw(const ad_fixed *f, lp_rng *rng)
{
    double u = su_uniform(rng), acc = 0;
    for (size_t i = 0; i + 1 < f->n; i++)
        if (u < (acc += f->p[i]))
            return f->v[i];
    return f->v[f->n - 1];
}

/* The nearest value of the dim's snap set (ties to the smaller), else of the dim itself. */
static int32_t snap(const ad_dim *ad, const lp_dim *dim, int64_t v)
{
    if (ad->n_snap == 0)
        return lp_dim_snap(dim, v);
    int32_t best = ad->snap[0];
    for (size_t i = 1; i < ad->n_snap; i++)
        if (llabs(ad->snap[i] - v) < llabs(best - v))
            best = ad->snap[i];
    return best;
}

static int32_t draw_dim(ad_state *st, size_t d)
{
    const ad_dim *ad = &st->dims[d];
    const ad_fixed *f = ad->role == AD_HW ? &hw_fixed : ad->role == AD_K ? &k_fixed
                      : ad->role == AD_S  ? &s_fixed : NULL;
    /* The coin is thrown even when prior_share is 1, so the stream's shape does not
     * depend on the option's value. */
    if (st->conv_like && f && su_uniform(&st->rng) >= st->prior_share)
        return snap(ad, &st->k->dims[d], fixed_draw(f, &st->rng));
    return snap(ad, &st->k->dims[d], llround(hist_draw(ad, (size_t)st->bins, &st->rng)));
}

static int prior_draw(ad_state *st, lp_kcfg *c, lp_err *err)
{
    for (int t = 0; t < AD_TRIES; t++) {
        memset(c, 0, sizeof *c);
        for (size_t d = 0; d < st->k->n_dims; d++)
            c->v[d] = draw_dim(st, d);
        if (st->k->valid(c, NULL) == 0)
            return 0;
    }
    st->k->repair(c);
    lp_err verr = {0};
    if (st->k->valid(c, &verr) < 0)
        return lp_err_set(err, LP_EINVAL, "no valid config after %d draws and a repair: %s",
                          AD_TRIES, verr.msg);
    return 0;
}

static int ad_sample(void *priv, size_t n, lp_kcfg *out, lp_err *err)
{
    ad_state *st = priv;
    if (!st->k || !st->dims[0].cum)
        return lp_err_set(err, LP_EINVAL, "sample() before a successful setup()");
    for (size_t i = 0; i < n; i++) {
        if (st->q_head < st->q_len) {
            out[i] = st->queue[st->q_head++];
            continue;
        }
        st->q_head = st->q_len = 0; /* drained: reuse the buffer */
        int rc = prior_draw(st, &out[i], err);
        if (rc < 0)
            return rc;
    }
    return 0;
}

/* ---- fine-grained rounds --------------------------------------------------- */

/* The width values one high-error config deals for one dim: the integers of [0.5 v, 1.2 v)
 * within the dim's range, without replacement (nn-Meter's random.sample). A deck that runs
 * out is dealt again in a new order, so a narrow range still yields per_config configs
 * (nn-Meter returns fewer). A range wider than AD_DECK_MAX is dealt with replacement. */
#define AD_DECK_MAX (1u << 20)

typedef struct ad_deck {
    int32_t *v;     /* the values, dealt from the front; NULL: with replacement */
    int64_t lo;     /* first value */
    size_t n, pos;  /* values, and how many of this round were dealt */
} ad_deck;

/* 2x >= v and 5x < 6v: the integers of [0.5 v, 1.2 v), exactly. */
static int deck_init(ad_deck *dk, const lp_dim *dim, int32_t v, lp_err *err)
{
    int64_t lo = ((int64_t)v + 1) / 2, hi = (6 * (int64_t)v + 4) / 5; /* hi exclusive */
    lo = lo > dim->min ? lo : dim->min;
    hi = hi < (int64_t)dim->max + 1 ? hi : (int64_t)dim->max + 1;
    if (hi <= lo) { /* nothing around v within the range: keep v */
        lo = v;
        hi = (int64_t)v + 1;
    }
    *dk = (ad_deck){.lo = lo, .n = (size_t)(hi - lo)};
    if (dk->n > AD_DECK_MAX)
        return 0;
    if (!(dk->v = malloc(dk->n * sizeof *dk->v)))
        return lp_err_set(err, LP_ENOMEM, "out of memory (%zu values)", dk->n);
    for (size_t i = 0; i < dk->n; i++)
        dk->v[i] = (int32_t)(lo + (int64_t)i);
    return 0;
}

/* One step of a Fisher-Yates shuffle per value dealt; restarting it over the already
 * shuffled deck gives a fresh uniform order. */
static int32_t deck_deal(ad_deck *dk, const lp_dim *dim, lp_rng *rng)
{
    if (!dk->v)
        return lp_dim_snap(dim, dk->lo + (int64_t)lp_rng_below(rng, dk->n));
    if (dk->pos == dk->n)
        dk->pos = 0;
    size_t j = dk->pos + (size_t)lp_rng_below(rng, dk->n - dk->pos);
    int32_t t = dk->v[j];
    dk->v[j] = dk->v[dk->pos];
    dk->v[dk->pos++] = t;
    return lp_dim_snap(dim, t);
}

static void decks_free(ad_deck *decks)
{
    for (size_t d = 0; d < LP_KCFG_MAX_DIMS; d++)
        free(decks[d].v);
    memset(decks, 0, LP_KCFG_MAX_DIMS * sizeof *decks);
}

static int decks_init(ad_state *st, ad_deck *decks, const lp_kcfg *base, lp_err *err)
{
    memset(decks, 0, LP_KCFG_MAX_DIMS * sizeof *decks);
    for (size_t d = 0; d < st->k->n_dims; d++) {
        int rc = st->dims[d].role == AD_WIDTH ? deck_init(&decks[d], &st->k->dims[d], base->v[d], err) : 0;
        if (rc < 0) {
            decks_free(decks);
            return rc;
        }
    }
    return 0;
}

static int spawn(ad_state *st, ad_deck *decks, const lp_kcfg *base, lp_kcfg *c, lp_err *err)
{
    for (int t = 0; t < AD_TRIES; t++) {
        *c = *base;
        for (size_t d = 0; d < st->k->n_dims; d++)
            if (st->dims[d].role == AD_WIDTH)
                c->v[d] = deck_deal(&decks[d], &st->k->dims[d], &st->rng);
        if (st->k->valid(c, NULL) == 0)
            return 0;
    }
    st->k->repair(c);
    lp_err verr = {0};
    if (st->k->valid(c, &verr) < 0)
        return lp_err_set(err, LP_EINVAL, "no valid fine-grained config after %d draws: %s",
                          AD_TRIES, verr.msg);
    return 0;
}

/* Appends per_config configs spawned around base to the queue (room reserved). */
static int spawn_all(ad_state *st, const lp_kcfg *base, lp_err *err)
{
    ad_deck decks[LP_KCFG_MAX_DIMS];
    int rc = decks_init(st, decks, base, err);
    for (int64_t j = 0; rc == 0 && j < st->per_config; j++)
        if ((rc = spawn(st, decks, base, &st->queue[st->q_len], err)) == 0)
            st->q_len++;
    decks_free(decks);
    return rc;
}

static int reserve(ad_state *st, size_t more, lp_err *err)
{
    size_t need = st->q_len + more;
    if (need <= st->q_cap)
        return 0;
    size_t cap = st->q_cap ? st->q_cap : 64;
    while (cap < need)
        cap *= 2;
    lp_kcfg *q = realloc(st->queue, cap * sizeof *q);
    if (!q)
        return lp_err_set(err, LP_ENOMEM, "out of memory queueing %zu configs", need);
    st->queue = q;
    st->q_cap = cap;
    return 0;
}

/* Every input is checked before anything is queued, so a bad call leaves the queue as it was. */
static int check_feedback(ad_state *st, const lp_kcfg *cfgs, const double *rel_err, size_t n,
                          size_t *n_high, lp_err *err)
{
    *n_high = 0;
    for (size_t i = 0; i < n; i++) {
        lp_err verr = {0};
        if (!isfinite(rel_err[i]) || rel_err[i] < 0)
            return lp_err_set(err, LP_EINVAL, "feedback %zu: relative error %g is not finite and >= 0",
                              i, rel_err[i]);
        if (st->k->valid(&cfgs[i], &verr) < 0)
            return lp_err_set(err, LP_EINVAL, "feedback %zu: %s", i, verr.msg);
        *n_high += rel_err[i] > st->threshold;
    }
    if (*n_high > (size_t)INT_MAX / (size_t)st->per_config)
        return lp_err_set(err, LP_EINVAL, "feedback: %zu high-error configs x %lld is too many",
                          *n_high, (long long)st->per_config);
    return 0;
}

static int ad_feedback(void *priv, const lp_kcfg *cfgs, const double *rel_err, size_t n,
                       lp_err *err)
{
    ad_state *st = priv;
    size_t n_high, per = (size_t)st->per_config;
    if (!st->k || !st->dims[0].cum)
        return lp_err_set(err, LP_EINVAL, "feedback() before a successful setup()");
    int rc = check_feedback(st, cfgs, rel_err, n, &n_high, err);
    if (rc < 0 || (rc = reserve(st, n_high * per, err)) < 0)
        return rc;
    size_t q0 = st->q_len;
    for (size_t i = 0; i < n; i++)
        if (rel_err[i] > st->threshold && (rc = spawn_all(st, &cfgs[i], err)) < 0) {
            st->q_len = q0; /* all or nothing */
            return rc;
        }
    return (int)(n_high * per);
}

static const lp_sampler_ops ops = {
    .size = sizeof(lp_sampler_ops),
    .setup = ad_setup,
    .sample = ad_sample,
    .feedback = ad_feedback,
};

static const lp_plugin_desc desc = {
    LP_PLUGIN_ABI,
    .kind = LP_KIND_SAMPLER,
    .name = "adaptive",
    .summary = "nn-Meter: prior histograms, then configs near high-error ones",
    .options = options,
    .priv_size = sizeof(ad_state),
    .ops = &ops,
    .init = ad_init,
    .fini = ad_fini,
};

LP_PLUGIN_DEFINE(desc)
