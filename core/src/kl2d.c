/* 2-D histogram KL between two weighted config sets: how a generative sampler (the VAE) is
 * checked against held-out real configs, as LitePred does over (HW, CIN) per (k, s).
 * Cells are keyed by the two bin indices and the grouped dims' values; both sets go into
 * one array sorted by key, so occupied cells are runs and no grid is allocated. */
#include <litepred/sampler.h>

#include <math.h>
#include <stdlib.h>
#include <string.h>

#define KL_KEYS (2 + LP_KCFG_MAX_DIMS)

typedef struct kl_item {
    int32_t key[KL_KEYS];
    double w[2]; /* normalised mass in P, in Q */
    size_t idx;  /* position in its set: sums in a fixed order, so identical sets give 0 */
} kl_item;

static int cmp_key(const kl_item *a, const kl_item *b)
{
    for (int i = 0; i < KL_KEYS; i++)
        if (a->key[i] != b->key[i])
            return a->key[i] < b->key[i] ? -1 : 1;
    return 0;
}

static int cmp_item(const void *x, const void *y)
{
    const kl_item *a = x, *b = y;
    int c = cmp_key(a, b);
    return c ? c : (a->idx > b->idx) - (a->idx < b->idx);
}

static int set_total(const lp_kcfg *c, const double *w, size_t n, size_t dx, size_t dy,
                     const char *which, double *total, lp_err *err)
{
    *total = 0;
    if (n == 0)
        return lp_err_set(err, LP_EINVAL, "kl2d: the %s set is empty", which);
    for (size_t i = 0; i < n; i++) {
        double wi = w ? w[i] : 1.0;
        if (!isfinite(wi) || wi < 0)
            return lp_err_set(err, LP_EINVAL, "kl2d: %s weight %zu is %g (must be finite, >= 0)",
                              which, i, wi);
        if (c[i].v[dx] < 0 || c[i].v[dy] < 0)
            return lp_err_set(err, LP_EINVAL, "kl2d: %s config %zu has a negative value on a "
                              "histogram dim", which, i);
        *total += wi;
    }
    if (!(*total > 0))
        return lp_err_set(err, LP_EINVAL, "kl2d: the %s set's weights sum to 0", which);
    return 0;
}

static void fill(kl_item *it, const lp_kcfg *c, const double *w, size_t n, double total, int src,
                 size_t dx, size_t dy, double bpo, unsigned mask)
{
    for (size_t i = 0; i < n; i++) {
        memset(it[i].key, 0, sizeof it[i].key);
        it[i].key[0] = (int32_t)floor(log2((double)c[i].v[dx] + 1.0) * bpo);
        it[i].key[1] = (int32_t)floor(log2((double)c[i].v[dy] + 1.0) * bpo);
        for (int d = 0; d < LP_KCFG_MAX_DIMS; d++)
            if (mask >> d & 1u)
                it[i].key[2 + d] = c[i].v[d];
        it[i].w[src] = (w ? w[i] : 1.0) / total;
        it[i].w[!src] = 0;
        it[i].idx = i;
    }
}

/* Sums the runs of equal keys in place; returns the number of cells. */
static size_t merge_cells(kl_item *it, size_t n)
{
    size_t k = 0;
    for (size_t i = 0; i < n; i++) {
        if (k && !cmp_key(&it[k - 1], &it[i])) {
            it[k - 1].w[0] += it[i].w[0];
            it[k - 1].w[1] += it[i].w[1];
        } else {
            it[k++] = it[i];
        }
    }
    return k;
}

int lp_kl2d(const lp_kcfg *p, const double *pw, size_t np, const lp_kcfg *q, const double *qw,
            size_t nq, size_t dx, size_t dy, const lp_kl2d_opts *o, double *kl, lp_err *err)
{
    double bpo = o && o->bins_per_octave ? o->bins_per_octave : 2.0;
    double eps = o && o->eps ? o->eps : 1e-6, tp, tq;
    unsigned mask = o ? o->group_mask : 0;
    *kl = NAN;
    if (dx >= LP_KCFG_MAX_DIMS || dy >= LP_KCFG_MAX_DIMS)
        return lp_err_set(err, LP_EINVAL, "kl2d: dims %zu and %zu (valid: 0..%d)", dx, dy,
                          LP_KCFG_MAX_DIMS - 1);
    if (!(bpo > 0) || !isfinite(bpo) || !(eps > 0) || !isfinite(eps))
        return lp_err_set(err, LP_EINVAL, "kl2d: bins_per_octave %g and eps %g must be finite "
                          "and > 0", bpo, eps);
    int rc = set_total(p, pw, np, dx, dy, "first", &tp, err);
    if (rc || (rc = set_total(q, qw, nq, dx, dy, "second", &tq, err)))
        return rc;
    kl_item *it = malloc((np + nq) * sizeof *it);
    if (!it)
        return lp_err_set(err, LP_ENOMEM, "kl2d: out of memory for %zu configs", np + nq);
    fill(it, p, pw, np, tp, 0, dx, dy, bpo, mask);
    fill(it + np, q, qw, nq, tq, 1, dx, dy, bpo, mask);
    qsort(it, np + nq, sizeof *it, cmp_item);
    size_t cells = merge_cells(it, np + nq);
    double sum = 0, norm = 1.0 + eps * (double)cells;
    for (size_t c = 0; c < cells; c++) {
        double a = (it[c].w[0] + eps) / norm, b = (it[c].w[1] + eps) / norm;
        sum += a * log(a / b);
    }
    free(it);
    /* Rounding can leave a hair below 0 for near-identical sets; KL is never negative. */
    *kl = sum > 0 ? sum : 0.0;
    return 0;
}
