/* random: the baseline sampler. Each dim is drawn uniformly over its valid values (a
 * range by step, an explicit set, or enum labels), independently of the others.
 *
 * Cross-dim rules (conv's k=16 only with s=16, se's cse <= c, grouped-conv's groups
 * dividing the channels) reject some draws. A rejected draw is redrawn whole rather than
 * repaired: repair() would pile mass onto the values it snaps to (every k=16 draw onto
 * s=16, every cse > c draw onto the diagonal cse = c), while redrawing keeps the accepted
 * configs uniform over the valid ones. Only after max_tries rejections in a row is the
 * last draw repaired, so a kernel type whose valid share is tiny still gets configs. */
#include "../sampler_util.h"

#include <stddef.h>

/** Where each dim ranges: the kernel's whole valid set, or the prior's [min, max] of it. */
enum { BOUNDS_KERNEL = 0, BOUNDS_PRIOR };
static const char *const bounds_names[] = {"kernel", "prior", NULL};

typedef struct rs_state {
    int bounds;        /* option: BOUNDS_* */
    int64_t max_tries; /* option: whole redraws before falling back to repair() */
    const lp_kernel_ops *k;
    lp_rng rng;
    size_t lo[LP_KCFG_MAX_DIMS], hi[LP_KCFG_MAX_DIMS]; /* index bounds (inclusive) into each dim's values */
} rs_state;

static const lp_option options[] = {
    {.name = "bounds", .help = "each dim ranges over the kernel's valid values, or only those "
                               "within the prior's [min, max] (avoids giant configs)",
     .type = LP_OPT_CHOICE, .offset = offsetof(rs_state, bounds), .def_s = "kernel",
     .choices = bounds_names},
    {.name = "max_tries", .help = "redraws of a config that breaks a cross-dim rule before "
                                  "it is repaired instead",
     .type = LP_OPT_INT, .offset = offsetof(rs_state, max_tries), .def_i = 1000, .min = 1,
     .max = 1000000},
    LP_OPT_END};

/* Index of the first valid value >= v (or count when none). */
static size_t index_at_least(const lp_dim *d, int32_t v)
{
    size_t lo = 0, hi = su_dim_count(d);
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (su_dim_at(d, mid) < v)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

/* Narrows dim d to the valid values within the prior's [min, max] of it. */
static int prior_bounds(rs_state *st, size_t d, const lp_sampler_ctx *ctx, lp_err *err)
{
    const lp_dim *dim = &ctx->kernel->dims[d];
    int32_t mn = ctx->prior[0].v[d], mx = mn;
    for (size_t i = 1; i < ctx->n_prior; i++) {
        int32_t v = ctx->prior[i].v[d];
        mn = v < mn ? v : mn;
        mx = v > mx ? v : mx;
    }
    size_t lo = index_at_least(dim, mn), hi = index_at_least(dim, mx + 1);
    if (lo >= hi)
        return lp_err_set(err, LP_EINVAL, "no valid %s value within the prior's [%d, %d]",
                          dim->name, mn, mx);
    st->lo[d] = lo;
    st->hi[d] = hi - 1;
    return 0;
}

static int rs_setup(void *priv, const lp_sampler_ctx *ctx, lp_err *err)
{
    rs_state *st = priv;
    const lp_kernel_ops *k = ctx->kernel;
    st->k = NULL; /* set last: a failed setup leaves nothing to sample from */
    lp_rng_seed(&st->rng, ctx->seed);
    if (st->bounds == BOUNDS_PRIOR && ctx->n_prior == 0)
        return lp_err_set(err, LP_EINVAL, "bounds=prior needs a prior, and %s has no configs in "
                                          "the spaces (use bounds=kernel)", ctx->kernel_type);
    for (size_t d = 0; d < k->n_dims; d++) {
        size_t count = su_dim_count(&k->dims[d]);
        if (count == 0)
            return lp_err_set(err, LP_EINVAL, "dim %s has no valid values", k->dims[d].name);
        st->lo[d] = 0;
        st->hi[d] = count - 1;
        int rc = st->bounds == BOUNDS_PRIOR ? prior_bounds(st, d, ctx, err) : 0;
        if (rc < 0)
            return rc;
    }
    st->k = k;
    return 0;
}

static void draw(rs_state *st, lp_kcfg *c)
{
    memset(c, 0, sizeof *c);
    for (size_t d = 0; d < st->k->n_dims; d++) {
        size_t i = st->lo[d] + (size_t)lp_rng_below(&st->rng, st->hi[d] - st->lo[d] + 1);
        c->v[d] = su_dim_at(&st->k->dims[d], i);
    }
}

static int draw_valid(rs_state *st, lp_kcfg *c, lp_err *err)
{
    for (int64_t t = 0; t < st->max_tries; t++) {
        draw(st, c);
        if (st->k->valid(c, NULL) == 0)
            return 0;
    }
    st->k->repair(c);
    lp_err verr = {0};
    if (st->k->valid(c, &verr) < 0)
        return lp_err_set(err, LP_EINVAL, "no valid config after %lld draws and a repair: %s",
                          (long long)st->max_tries, verr.msg);
    return 0;
}

static int rs_sample(void *priv, size_t n, lp_kcfg *out, lp_err *err)
{
    rs_state *st = priv;
    if (!st->k)
        return lp_err_set(err, LP_EINVAL, "sample() before setup()");
    for (size_t i = 0; i < n; i++) {
        int rc = draw_valid(st, &out[i], err);
        if (rc < 0)
            return rc;
    }
    return 0;
}

static const lp_sampler_ops ops = {
    .size = sizeof(lp_sampler_ops),
    .setup = rs_setup,
    .sample = rs_sample,
};

static const lp_plugin_desc desc = {
    LP_PLUGIN_ABI,
    .kind = LP_KIND_SAMPLER,
    .name = "random",
    .summary = "uniform over each dim's valid values (baseline)",
    .options = options,
    .priv_size = sizeof(rs_state),
    .ops = &ops,
};

LP_PLUGIN_DEFINE(desc)
