/* prior: draws configs from the prior (the kernel type's configs in the NAS spaces),
 * each with probability equal to its frequency there.
 *
 * unique: draws without replacement among the distinct configs, still favouring frequent
 * ones (each pass is a weighted random order, Efraimidis-Spirakis keys -ln(u) / w); once
 * every distinct config was drawn, a new pass starts, so n may exceed the prior's size.
 *
 * jitter: scales every plain range dim (hw, channels, tokens; not explicit sets such as
 * k or s, nor enums such as act) by an independent factor uniform in [1 - j, 1 + j], then
 * snaps it to the dim's valid values. A jittered config that breaks a cross-dim rule is
 * jittered again (up to 16 times, then the unjittered config is used) rather than
 * repaired, for the same reason the random sampler redraws. */
#include "../sampler_util.h"

#include <math.h>
#include <stddef.h>

/* Jitters of one config tried before keeping the prior's own config. */
#define PS_JITTER_TRIES 16

typedef struct ps_state {
    double jitter; /* option: relative jitter of range dims */
    int unique;    /* option: without replacement while possible */
    const lp_kernel_ops *k;
    lp_rng rng;
    su_prior prior;
    size_t *order; /* unique: this pass's order of prior indices */
    size_t pos;    /* unique: next entry of order; == prior.n when a new pass is due */
} ps_state;

static const lp_option options[] = {
    {.name = "jitter", .help = "scale each range dim by a uniform factor in [1 - jitter, 1 + jitter] "
                               "(0: configs exactly as in the spaces)",
     .type = LP_OPT_DOUBLE, .offset = offsetof(ps_state, jitter), .def_d = 0, .min = 0, .max = 1},
    {.name = "unique", .help = "draw distinct configs (without replacement) until all were drawn",
     .type = LP_OPT_BOOL, .offset = offsetof(ps_state, unique), .def_i = 0},
    LP_OPT_END};

static void ps_release(ps_state *st)
{
    su_prior_free(&st->prior);
    free(st->order);
    st->order = NULL;
    st->pos = 0;
}

static int ps_init(void *priv, lp_err *err)
{
    (void)priv;
    (void)err;
    return 0;
}

static void ps_fini(void *priv)
{
    ps_release(priv);
}

static int ps_setup(void *priv, const lp_sampler_ctx *ctx, lp_err *err)
{
    ps_state *st = priv;
    ps_release(st);
    st->k = ctx->kernel;
    lp_rng_seed(&st->rng, ctx->seed);
    int rc = su_prior_copy(&st->prior, ctx, err);
    if (rc < 0)
        return rc;
    if (st->prior.n == 0)
        return lp_err_set(err, LP_EINVAL, "%s has no configs in the spaces: nothing to draw from",
                          ctx->kernel_type);
    if (st->unique && !(st->order = malloc(st->prior.n * sizeof *st->order))) {
        ps_release(st);
        return lp_err_set(err, LP_ENOMEM, "out of memory (%zu configs)", st->prior.n);
    }
    st->pos = st->prior.n;
    return 0;
}

typedef struct ps_key {
    double key;
    size_t idx;
} ps_key;

static int cmp_key(const void *x, const void *y)
{
    const ps_key *a = x, *b = y;
    if (a->key != b->key)
        return a->key < b->key ? -1 : 1;
    return a->idx < b->idx ? -1 : a->idx > b->idx;
}

/* Sorting by -ln(u) / w gives the order of weighted draws without replacement; zero-weight
 * configs go last (key infinity), ties broken by index so the order is deterministic. */
static int new_pass(ps_state *st, lp_err *err)
{
    size_t n = st->prior.n;
    ps_key *keys = malloc(n * sizeof *keys);
    if (!keys)
        return lp_err_set(err, LP_ENOMEM, "out of memory (%zu configs)", n);
    for (size_t i = 0; i < n; i++) {
        double w = st->prior.cum[i] - (i ? st->prior.cum[i - 1] : 0.0);
        double u = su_uniform(&st->rng);
        keys[i] = (ps_key){w > 0 ? -log1p(-u) / w : INFINITY, i};
    }
    qsort(keys, n, sizeof *keys, cmp_key);
    for (size_t i = 0; i < n; i++)
        st->order[i] = keys[i].idx;
    free(keys);
    st->pos = 0;
    return 0;
}

static void jitter_once(ps_state *st, const lp_kcfg *base, lp_kcfg *c)
{
    *c = *base;
    for (size_t d = 0; d < st->k->n_dims; d++) {
        const lp_dim *dim = &st->k->dims[d];
        if (!su_dim_is_range(dim))
            continue;
        double f = 1.0 + st->jitter * (2.0 * su_uniform(&st->rng) - 1.0);
        c->v[d] = lp_dim_snap(dim, llround(base->v[d] * f));
    }
}

static void jitter(ps_state *st, lp_kcfg *c)
{
    lp_kcfg base = *c;
    for (int t = 0; t < PS_JITTER_TRIES; t++) {
        jitter_once(st, &base, c);
        if (st->k->valid(c, NULL) == 0)
            return;
    }
    *c = base;
}

static int ps_sample(void *priv, size_t n, lp_kcfg *out, lp_err *err)
{
    ps_state *st = priv;
    if (!st->k || st->prior.n == 0)
        return lp_err_set(err, LP_EINVAL, "sample() before a successful setup()");
    for (size_t i = 0; i < n; i++) {
        size_t idx;
        if (st->unique) {
            int rc = st->pos == st->prior.n ? new_pass(st, err) : 0;
            if (rc < 0)
                return rc;
            idx = st->order[st->pos++];
        } else {
            idx = su_prior_draw(&st->prior, &st->rng);
        }
        out[i] = st->prior.cfgs[idx];
        if (st->jitter > 0)
            jitter(st, &out[i]);
        lp_err verr = {0};
        if (st->k->valid(&out[i], &verr) < 0)
            return lp_err_set(err, LP_EINVAL, "prior config %zu is not valid: %s", idx, verr.msg);
    }
    return 0;
}

static const lp_sampler_ops ops = {
    .size = sizeof(lp_sampler_ops),
    .setup = ps_setup,
    .sample = ps_sample,
};

static const lp_plugin_desc desc = {
    LP_PLUGIN_ABI,
    .kind = LP_KIND_SAMPLER,
    .name = "prior",
    .summary = "the spaces' configs by frequency; distinct, jittered",
    .options = options,
    .priv_size = sizeof(ps_state),
    .ops = &ops,
    .init = ps_init,
    .fini = ps_fini,
};

LP_PLUGIN_DEFINE(desc)
