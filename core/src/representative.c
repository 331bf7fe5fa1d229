/* Representative sets: the fixed configs of one kernel type that a new platform measures
 * so that similarity detection can compare pool predictors with it.
 *
 * How a set is chosen (lp_representative_generate; `litepred representative` prints it).
 * A set has to (a) look like what models contain, since the picked predictor will
 * predict models, (b) reach somewhat past it, since pool predictors were trained on
 * sampled configs and the target may differ from the warm-up platforms anywhere, and
 * (c) contain every value of every categorical dim, since engines switch code paths on
 * them (k=1 GEMM vs k>=3 im2col, strided vs not, each fused activation):
 *
 *   prior   the kernel type's configs in LP_REPR_MODELS_PER_SPACE models drawn from every
 *           NAS space, frequency-weighted (lp_prior_build);
 *   spread  32 n configs near the prior (the way nn-Meter's fine-grained sampling varies
 *           channels around a config): a prior config drawn by weight, each numeric dim
 *           scaled by a log-uniform factor in [1/2, 2] (kept a multiple of 8 when it was
 *           one and the dim's prior values above 8 mostly are: channels), each categorical
 *           dim redrawn uniformly over its valid values (a draw that repair() would give
 *           other categorical values is dropped); repaired, and kept when valid, not in
 *           the prior, and within 2x the prior's largest FLOPs and bytes, so no config
 *           is unmeasurably large. Without a prior (a kernel type no space uses) numeric
 *           dims are log-uniform over [max / 64, max] of their range, under 1 GFLOP and
 *           64 MiB.
 *
 *   1. cover:  for each categorical dim (explicit value set, enum, or at most 8 values) and
 *              each of its values not yet in the set, the prior config with that value
 *              nearest (in log FLOPs) to the prior's weighted median, else the spread one
 *              nearest to the spread's median;
 *   2. prior:  60% of the remaining slots (at most the unchosen prior configs): the
 *              weighted FLOPs quantiles (j + 0.5) / m of the prior, the nearest unchosen
 *              config when one is taken;
 *   3. spread: the rest: FLOPs quantiles of the spread configs, likewise; when one pool
 *              runs out the other fills in.
 *
 * The set is sorted by FLOPs. The same arguments give the same set (given the same libm:
 * the log-uniform draws use log and exp). */
#include "check.h"

#include <litepred/sampler.h>
#include <litepred/similarity.h>

#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* ---- generation --------------------------------------------------------------- */

/* Dims with at most this many valid values are stratified value by value. */
#define CATEGORICAL_MAX 8
#define SPREAD_PER_SLOT 32
#define SPREAD_TRIES_PER_SLOT 400
#define PRIOR_SHARE 0.6
#define SPREAD_FACTOR 2.0
#define ROUND8_SHARE 0.8
#define FREE_OCTAVES 6
#define NO_PRIOR_MAX_FLOPS 1e9
#define NO_PRIOR_MAX_BYTES (64.0 * 1024 * 1024)

typedef struct cand {
    lp_kcfg cfg;
    double key;    /* nn-Meter FLOPs (bytes for a kernel without arithmetic) */
    double weight; /* prior weight; 1 for spread configs */
    int taken;
} cand;

typedef struct pool {
    cand *c;
    size_t n;
    double median; /* key at the weighted median */
} pool;

typedef struct gen {
    const lp_kernel_ops *k;
    pool prior, spread;
    int categorical[LP_KCFG_MAX_DIMS];
    int round8[LP_KCFG_MAX_DIMS];
    double max_flops, max_bytes;
    lp_rng rng;
    lp_repr_set *out;
    size_t target;
} gen;

static size_t dim_count(const lp_dim *d)
{
    if (d->values)
        return d->n_values;
    int64_t step = d->step > 0 ? d->step : 1;
    return d->max < d->min ? 0 : (size_t)(((int64_t)d->max - d->min) / step + 1);
}

static int32_t dim_at(const lp_dim *d, size_t i)
{
    int64_t step = d->step > 0 ? d->step : 1;
    return d->values ? d->values[i] : (int32_t)(d->min + (int64_t)i * step);
}

static int cmp_cfg(const lp_kcfg *a, const lp_kcfg *b)
{
    for (int i = 0; i < LP_KCFG_MAX_DIMS; i++)
        if (a->v[i] != b->v[i])
            return a->v[i] < b->v[i] ? -1 : 1;
    return 0;
}

static int cmp_cand_key(const void *x, const void *y)
{
    const cand *a = x, *b = y;
    if (a->key != b->key)
        return a->key < b->key ? -1 : 1;
    return cmp_cfg(&a->cfg, &b->cfg);
}

static int cmp_cand_cfg(const void *x, const void *y)
{
    return cmp_cfg(&((const cand *)x)->cfg, &((const cand *)y)->cfg);
}

static double key_of(const lp_kernel_ops *k, const lp_kcfg *c, lp_cost *cost)
{
    k->cost(c, cost);
    return cost->flops > 0 ? cost->flops : cost->bytes;
}

/* Sorts by key and records the weighted median. */
static void pool_finish(pool *p)
{
    qsort(p->c, p->n, sizeof *p->c, cmp_cand_key);
    double total = 0, acc = 0;
    for (size_t i = 0; i < p->n; i++)
        total += p->c[i].weight;
    p->median = 0;
    for (size_t i = 0; i < p->n; i++) {
        p->median = p->c[i].key;
        if ((acc += p->c[i].weight) >= total / 2)
            break;
    }
}

static int prior_pool(gen *g, const lp_prior *pr, lp_err *err)
{
    if (pr->n == 0)
        return 0;
    if (!(g->prior.c = calloc(pr->n, sizeof *g->prior.c)))
        return lp_err_set(err, LP_ENOMEM, "out of memory copying %zu prior configs", pr->n);
    g->max_flops = g->max_bytes = 0;
    for (size_t i = 0; i < pr->n; i++) {
        lp_cost cost;
        cand *c = &g->prior.c[g->prior.n];
        c->cfg = pr->cfgs[i];
        c->key = key_of(g->k, &c->cfg, &cost);
        c->weight = pr->weights[i];
        g->max_flops = cost.flops > g->max_flops ? cost.flops : g->max_flops;
        g->max_bytes = cost.bytes > g->max_bytes ? cost.bytes : g->max_bytes;
        /* A prior config a kernel rejects would fail the set's own check. */
        g->prior.n += g->k->valid(&c->cfg, NULL) == 0;
    }
    g->max_flops *= 2;
    g->max_bytes *= 2;
    pool_finish(&g->prior);
    return 0;
}

/* Which dims are categorical, and which numeric dims keep the prior's multiples of 8
 * (channels: engines' vector paths care; hw and token counts do not follow the rule). */
static void dim_kinds(gen *g, const lp_prior *pr)
{
    for (size_t d = 0; d < g->k->n_dims; d++) {
        const lp_dim *dim = &g->k->dims[d];
        g->categorical[d] = dim->values || dim->labels || dim_count(dim) <= CATEGORICAL_MAX;
        double above8 = 0, mult8 = 0;
        for (size_t i = 0; !g->categorical[d] && i < pr->n; i++) {
            int32_t v = pr->cfgs[i].v[d];
            above8 += v > 8 ? pr->weights[i] : 0;
            mult8 += v > 8 && v % 8 == 0 ? pr->weights[i] : 0;
        }
        g->round8[d] = above8 > 0 && mult8 >= ROUND8_SHARE * above8;
    }
}

static double uniform(lp_rng *rng)
{
    return (double)(lp_rng_next(rng) >> 11) * 0x1p-53;
}

static int32_t draw_categorical(gen *g, size_t d)
{
    const lp_dim *dim = &g->k->dims[d];
    return dim_at(dim, (size_t)lp_rng_below(&g->rng, dim_count(dim)));
}

/* Without a prior: log-uniform over the top FREE_OCTAVES octaves of the dim's range, where
 * real layers live (a 1x1 map of 3 channels measures only call overhead); +1 keeps a 0
 * bound finite. */
static int32_t draw_free(gen *g, size_t d)
{
    const lp_dim *dim = &g->k->dims[d];
    int32_t lo = dim->max >> FREE_OCTAVES > dim->min ? dim->max >> FREE_OCTAVES : dim->min;
    double a = log((double)lo + 1), b = log((double)dim->max + 2);
    return lp_dim_snap(dim, (int64_t)floor(exp(a + (b - a) * uniform(&g->rng))) - 1);
}

/* Around a prior value: scaled by a log-uniform factor in [1/SPREAD_FACTOR, SPREAD_FACTOR]. */
static int32_t draw_near(gen *g, size_t d, int32_t base)
{
    double f = exp(log(SPREAD_FACTOR) * (2 * uniform(&g->rng) - 1));
    int64_t v = (int64_t)floor((double)base * f + 0.5);
    if (g->round8[d] && base % 8 == 0 && v > 8)
        v = (v + 4) / 8 * 8;
    return lp_dim_snap(&g->k->dims[d], v);
}

/* A prior config drawn by weight (the pool is sorted by key; weights need not be). */
static const lp_kcfg *draw_prior(gen *g)
{
    double u = uniform(&g->rng), acc = 0;
    for (size_t i = 0; i < g->prior.n; i++)
        if ((acc += g->prior.c[i].weight) > u)
            return &g->prior.c[i].cfg;
    return &g->prior.c[g->prior.n - 1].cfg;
}

/* 0 when the draw is usable. A draw whose categorical values repair() would change is
 * dropped rather than repaired: repairing piles the rejected combinations onto the value
 * repair snaps to (conv's s=16 without k=16 onto s=4), skewing the categorical mix. */
static int draw_spread(gen *g, lp_kcfg *c)
{
    const lp_kcfg *base = g->prior.n ? draw_prior(g) : NULL;
    memset(c, 0, sizeof *c);
    for (size_t d = 0; d < g->k->n_dims; d++)
        c->v[d] = g->categorical[d] ? draw_categorical(g, d)
                  : base            ? draw_near(g, d, base->v[d])
                                    : draw_free(g, d);
    lp_kcfg drawn = *c;
    g->k->repair(c);
    for (size_t d = 0; d < g->k->n_dims; d++)
        if (g->categorical[d] && c->v[d] != drawn.v[d])
            return -1;
    return 0;
}

static int in_prior(const gen *g, const cand *sorted_prior, const lp_kcfg *c)
{
    cand key = {.cfg = *c};
    return g->prior.n && bsearch(&key, sorted_prior, g->prior.n, sizeof key, cmp_cand_cfg);
}

/* Drops repeats and configs the prior holds (they belong to the prior pool). */
static void spread_dedupe(gen *g, const cand *sorted_prior)
{
    pool *s = &g->spread;
    qsort(s->c, s->n, sizeof *s->c, cmp_cand_cfg);
    size_t w = 0;
    for (size_t i = 0; i < s->n; i++)
        if ((w == 0 || cmp_cfg(&s->c[w - 1].cfg, &s->c[i].cfg)) && !in_prior(g, sorted_prior, &s->c[i].cfg))
            s->c[w++] = s->c[i];
    s->n = w;
}

static int spread_pool(gen *g, lp_err *err)
{
    size_t want = g->target * SPREAD_PER_SLOT, tries = g->target * SPREAD_TRIES_PER_SLOT;
    cand *sorted_prior = NULL;
    int rc = 0;
    g->spread.c = calloc(want, sizeof *g->spread.c);
    if (!g->spread.c || (g->prior.n && !(sorted_prior = malloc(g->prior.n * sizeof *sorted_prior)))) {
        rc = lp_err_set(err, LP_ENOMEM, "out of memory drawing %zu spread configs", want);
        goto fail;
    }
    if (g->prior.n) {
        memcpy(sorted_prior, g->prior.c, g->prior.n * sizeof *sorted_prior);
        qsort(sorted_prior, g->prior.n, sizeof *sorted_prior, cmp_cand_cfg);
    }
    for (size_t t = 0; t < tries && g->spread.n < want; t++) {
        cand c = {.weight = 1};
        lp_cost cost;
        if (draw_spread(g, &c.cfg) < 0)
            continue;
        c.key = key_of(g->k, &c.cfg, &cost);
        if (g->k->valid(&c.cfg, NULL) == 0 && cost.flops <= g->max_flops && cost.bytes <= g->max_bytes)
            g->spread.c[g->spread.n++] = c;
    }
    spread_dedupe(g, sorted_prior);
    pool_finish(&g->spread);
fail:
    free(sorted_prior);
    return rc;
}

static void take(gen *g, cand *c, lp_repr_source src)
{
    c->taken = 1;
    g->out->cfgs[g->out->n] = c->cfg;
    g->out->sources[g->out->n++] = src;
}

/* The untaken config of p with dim d = v nearest the pool's median in log key. */
static cand *nearest_with(pool *p, size_t d, int32_t v)
{
    cand *best = NULL;
    double best_dist = INFINITY;
    for (size_t i = 0; i < p->n; i++) {
        cand *c = &p->c[i];
        double dist = fabs(log(c->key / p->median));
        if (!c->taken && c->cfg.v[d] == v && dist < best_dist) {
            best = c;
            best_dist = dist;
        }
    }
    return best;
}

static int set_has(const lp_repr_set *s, size_t d, int32_t v)
{
    for (size_t i = 0; i < s->n; i++)
        if (s->cfgs[i].v[d] == v)
            return 1;
    return 0;
}

static void pick_cover(gen *g)
{
    for (size_t d = 0; d < g->k->n_dims; d++) {
        const lp_dim *dim = &g->k->dims[d];
        for (size_t i = 0; g->categorical[d] && i < dim_count(dim) && g->out->n < g->target; i++) {
            int32_t v = dim_at(dim, i);
            if (set_has(g->out, d, v))
                continue;
            cand *c = nearest_with(&g->prior, d, v);
            if (!c)
                c = nearest_with(&g->spread, d, v);
            if (c)
                take(g, c, LP_REPR_COVER);
        }
    }
}

static size_t untaken(const pool *p)
{
    size_t n = 0;
    for (size_t i = 0; i < p->n; i++)
        n += !p->c[i].taken;
    return n;
}

/* Index of the first config whose cumulative weight passes fraction q of the total. */
static size_t quantile_index(const pool *p, double q)
{
    double total = 0, acc = 0;
    for (size_t i = 0; i < p->n; i++)
        total += p->c[i].weight;
    for (size_t i = 0; i < p->n; i++)
        if ((acc += p->c[i].weight) > q * total)
            return i;
    return p->n - 1;
}

/* The untaken config nearest index i in key order (the lower one on a tie). */
static cand *nearest_untaken(pool *p, size_t i)
{
    for (size_t off = 0; off < p->n; off++) {
        if (i >= off && !p->c[i - off].taken)
            return &p->c[i - off];
        if (i + off < p->n && !p->c[i + off].taken)
            return &p->c[i + off];
    }
    return NULL;
}

static void pick_quantiles(gen *g, pool *p, size_t m, lp_repr_source src)
{
    for (size_t j = 0; j < m && g->out->n < g->target; j++) {
        cand *c = nearest_untaken(p, quantile_index(p, ((double)j + 0.5) / (double)m));
        if (c)
            take(g, c, src);
    }
}

static void pick_all(gen *g)
{
    pick_cover(g);
    size_t rest = g->target - g->out->n, free_prior = untaken(&g->prior);
    size_t m = (size_t)floor(PRIOR_SHARE * (double)rest + 0.5);
    m = m < free_prior ? m : free_prior;
    if (rest - m > untaken(&g->spread)) /* too few spread configs: the prior fills in */
        m = rest - untaken(&g->spread) < free_prior ? rest - untaken(&g->spread) : free_prior;
    pick_quantiles(g, &g->prior, m, LP_REPR_PRIOR);
    pick_quantiles(g, &g->spread, g->target - g->out->n, LP_REPR_SPREAD);
    /* Quantiles of a small pool collide; whatever is left fills the remaining slots. */
    pick_quantiles(g, &g->prior, g->target - g->out->n, LP_REPR_PRIOR);
}

typedef struct out_row {
    lp_kcfg cfg;
    lp_repr_source src;
    double key;
} out_row;

static int cmp_row(const void *x, const void *y)
{
    const out_row *a = x, *b = y;
    if (a->key != b->key)
        return a->key < b->key ? -1 : 1;
    return cmp_cfg(&a->cfg, &b->cfg);
}

static int sort_set(const lp_kernel_ops *k, lp_repr_set *s, lp_err *err)
{
    out_row *rows = malloc(s->n * sizeof *rows);
    if (!rows)
        return lp_err_set(err, LP_ENOMEM, "out of memory sorting %zu configs", s->n);
    for (size_t i = 0; i < s->n; i++) {
        lp_cost cost;
        rows[i] = (out_row){s->cfgs[i], s->sources[i], key_of(k, &s->cfgs[i], &cost)};
    }
    qsort(rows, s->n, sizeof *rows, cmp_row);
    for (size_t i = 0; i < s->n; i++) {
        s->cfgs[i] = rows[i].cfg;
        s->sources[i] = rows[i].src;
    }
    free(rows);
    return 0;
}

void lp_repr_set_free(lp_repr_set *s)
{
    if (!s)
        return;
    free(s->cfgs);
    free(s->sources);
    memset(s, 0, sizeof *s);
}

int lp_representative_generate(const lp_registry *reg, const char *spaces_dir,
                               const char *kernel_type, size_t n, uint64_t seed,
                               lp_repr_set *out, lp_err *err)
{
    memset(out, 0, sizeof *out);
    const lp_plugin *p = lp_registry_find(reg, LP_KIND_KERNEL, kernel_type);
    char names[1024];
    if (!p)
        return lp_err_set(err, LP_ENOTFOUND, "unknown kernel type '%s' (available: %s)", kernel_type,
                          lp_registry_names(reg, LP_KIND_KERNEL, names, sizeof names));
    if (n < LP_REPR_MIN_N || n > LP_REPR_MAX_N)
        return lp_err_set(err, LP_EINVAL, "a representative set has %d..%d configs, not %zu",
                          LP_REPR_MIN_N, LP_REPR_MAX_N, n);
    gen g = {.k = lp_plugin_descriptor(p)->ops, .max_flops = NO_PRIOR_MAX_FLOPS,
             .max_bytes = NO_PRIOR_MAX_BYTES, .out = out, .target = n};
    lp_prior prior = {0};
    lp_rng_seed(&g.rng, seed);
    int rc = lp_prior_build(reg, spaces_dir, kernel_type, LP_REPR_MODELS_PER_SPACE, seed, &prior, err);
    if (rc < 0 || (rc = prior_pool(&g, &prior, err)) < 0)
        goto fail;
    dim_kinds(&g, &prior);
    if ((rc = spread_pool(&g, err)) < 0)
        goto fail;
    out->cfgs = calloc(n, sizeof *out->cfgs);
    out->sources = calloc(n, sizeof *out->sources);
    if (!out->cfgs || !out->sources) {
        rc = lp_err_set(err, LP_ENOMEM, "out of memory");
        goto fail;
    }
    out->n_prior_distinct = g.prior.n;
    pick_all(&g);
    if (out->n < n) {
        rc = lp_err_set(err, LP_EINVAL, "%s: only %zu distinct configs found for a set of %zu "
                        "(ask for fewer)", kernel_type, out->n, n);
        goto fail;
    }
    rc = sort_set(g.k, out, err);
fail:
    if (rc < 0)
        lp_repr_set_free(out);
    free(g.prior.c);
    free(g.spread.c);
    lp_prior_free(&prior);
    return rc;
}

/* ---- files ------------------------------------------------------------------------ */

static const char *const repr_keys[] = {"representative", "summary", "configs", NULL};

/* A parsed document: the kernel type and its configs (NULL / 0 when not resolvable). */
typedef struct repr_doc {
    const lp_kernel_ops *k;
    const char *kernel;
    lp_kcfg *cfgs;
    size_t n;
} repr_doc;

/* Parses and validates one config entry; on success appends it to r. */
static void check_config(repr_doc *r, const lp_ynode *item, const lp_ynode *const *seen_at,
                         const char *file, lp_diag *diag)
{
    if (item->type != LP_Y_SCALAR) {
        lp_diag_add(diag, file, item, "a config must be a string like \"%s=...,...\", got %s",
                    r->k->dims[0].name, lp_ytype_name(item->type));
        return;
    }
    lp_kcfg c;
    lp_err e = {0};
    if (lp_kcfg_parse(r->k->dims, r->k->n_dims, item->str, &c, &e) < 0 || r->k->valid(&c, &e) < 0) {
        lp_diag_add(diag, file, item, "%s config '%s': %s", r->kernel, item->str, e.msg);
        return;
    }
    for (size_t i = 0; i < r->n; i++)
        if (!cmp_cfg(&r->cfgs[i], &c)) {
            lp_diag_add(diag, file, item, "duplicate config '%s' (first at line %d): a set "
                        "measures each config once", item->str, seen_at[i]->line);
            return;
        }
    r->cfgs[r->n++] = c;
}

static int check_configs(repr_doc *r, const lp_ynode *v, const char *file, lp_diag *diag)
{
    if (!v) {
        lp_diag_add(diag, file, NULL, "missing required key 'configs' (the list of config strings)");
        return 0;
    }
    if (v->type != LP_Y_SEQ) {
        lp_diag_add(diag, file, v, "'configs' must be a list of config strings, got %s",
                    lp_ytype_name(v->type));
        return 0;
    }
    if (v->n < 2)
        lp_diag_add(diag, file, v, "'configs' has %zu entr%s: a set needs at least 2 (a rank "
                    "correlation of fewer is undefined)", v->n, v->n == 1 ? "y" : "ies");
    if (!r->k || v->n == 0)
        return 0;
    const lp_ynode **seen_at = malloc(v->n * sizeof *seen_at);
    if (!(r->cfgs = malloc(v->n * sizeof *r->cfgs)) || !seen_at) {
        free(seen_at);
        return LP_ENOMEM;
    }
    for (size_t i = 0; i < v->n; i++) {
        size_t before = r->n;
        check_config(r, v->items[i], seen_at, file, diag);
        if (r->n > before)
            seen_at[before] = v->items[i];
    }
    free(seen_at);
    return 0;
}

/* Every problem of doc goes to diag; r gets what could be resolved. */
static int parse_doc(const lp_registry *reg, const lp_ydoc *doc, lp_diag *diag, repr_doc *r)
{
    const lp_ynode *root = doc->root;
    memset(r, 0, sizeof *r);
    if (!root || root->type != LP_Y_MAP) {
        lp_diag_add(diag, doc->path, root, "expected a mapping with 'representative:' and "
                    "'configs:', got %s", root ? lp_ytype_name(root->type) : "an empty file");
        return 0;
    }
    lp_check_keys(root, repr_keys, doc->path, diag);
    const lp_ynode *name = lp_ymap_get(root, "representative"), *summary = lp_ymap_get(root, "summary");
    if (!name)
        lp_diag_add(diag, doc->path, root, "missing required key 'representative' (the kernel type)");
    const lp_plugin *p = name ? lp_check_plugin_name(reg, LP_KIND_KERNEL, name, doc->path, diag) : NULL;
    if (p) {
        r->k = lp_plugin_descriptor(p)->ops;
        r->kernel = name->str;
    }
    if (summary && summary->type != LP_Y_SCALAR)
        lp_diag_add(diag, doc->path, summary, "'summary' must be one line of text, got %s",
                    lp_ytype_name(summary->type));
    return check_configs(r, lp_ymap_get(root, "configs"), doc->path, diag);
}

int lp_representative_check_doc(const lp_registry *reg, const lp_ydoc *doc, lp_diag *diag)
{
    size_t before = diag->n;
    repr_doc r;
    int rc = parse_doc(reg, doc, diag, &r);
    free(r.cfgs);
    if (rc < 0)
        lp_diag_add(diag, doc->path, NULL, "out of memory");
    return rc < 0 || diag->n > before ? LP_EINVAL : 0;
}

static int is_path(const char *arg)
{
    size_t n = strlen(arg);
    return strchr(arg, '/') || (n > 5 && !strcmp(arg + n - 5, ".yaml"));
}

static int resolve(const char *path_or_kernel, char **out, lp_err *err)
{
    char *path = NULL;
    *out = NULL;
    if (is_path(path_or_kernel) ? !(path = strdup(path_or_kernel))
                                : asprintf(&path, "%s/representative/%s.yaml", lp_config_dir(),
                                           path_or_kernel) < 0)
        return lp_err_set(err, LP_ENOMEM, "out of memory");
    if (access(path, R_OK) != 0) {
        int rc = lp_err_set(err, LP_ENOTFOUND, "representative set '%s': no file %s",
                            path_or_kernel, path);
        free(path);
        return rc;
    }
    *out = path;
    return 0;
}

char *lp_representative_path(const char *path_or_kernel, lp_err *err)
{
    char *path = NULL;
    resolve(path_or_kernel, &path, err);
    return path;
}

/* The first problem becomes the error; the count of the others tells there is more. */
static int diag_to_err(const lp_diag *d, lp_err *err)
{
    if (d->n == 1)
        return lp_err_set(err, LP_EINVAL, "%s", d->msgs[0]);
    return lp_err_set(err, LP_EINVAL, "%s (and %zu more problems: run `litepred check`)",
                      d->msgs[0], d->n - 1);
}

int lp_representative_load(const lp_registry *reg, const char *path_or_kernel, char **kernel_type,
                           lp_kcfg **cfgs, size_t *n, lp_err *err)
{
    lp_ydoc *doc = NULL;
    lp_diag diag = {0};
    repr_doc r = {0};
    *cfgs = NULL;
    *n = 0;
    if (kernel_type)
        *kernel_type = NULL;
    char *path = NULL;
    int rc = resolve(path_or_kernel, &path, err);
    if (rc < 0 || (rc = lp_yaml_load(path, &doc, err)) < 0 ||
        (rc = parse_doc(reg, doc, &diag, &r)) < 0) {
        if (rc == LP_ENOMEM)
            lp_err_set(err, rc, "%s: out of memory", path);
        goto fail;
    }
    if (diag.n) {
        rc = diag_to_err(&diag, err);
        goto fail;
    }
    const lp_ynode *name = lp_ymap_get(doc->root, "representative");
    if (!is_path(path_or_kernel) && strcmp(r.kernel, path_or_kernel)) {
        rc = lp_err_set(err, LP_EINVAL, "%s:%d:%d: the set is for '%s', but was looked up as "
                        "the set of '%s'", path, name->line, name->col, r.kernel, path_or_kernel);
        goto fail;
    }
    if (kernel_type && !(*kernel_type = strdup(r.kernel))) {
        rc = lp_err_set(err, LP_ENOMEM, "out of memory");
        goto fail;
    }
    *cfgs = r.cfgs;
    *n = r.n;
    r.cfgs = NULL;
fail:
    free(r.cfgs);
    lp_diag_free(&diag);
    lp_ydoc_free(doc);
    free(path);
    return rc;
}
