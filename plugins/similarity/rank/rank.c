/* rank: the OneProxy-style baseline. A candidate is as good as its predictions ORDER the
 * representative configs the way the target platform does, whatever their scale: the
 * score is Kendall's tau-b (default) or Spearman's rho between measured and predicted.
 * Higher is better (1: same order, -1: reversed).
 *
 * Ties: tau-b divides by sqrt((n0 - tx)(n0 - ty)) so tied pairs neither help nor hurt;
 * Spearman gives tied values their average rank. A predictor whose predictions are all
 * equal ranks nothing: it scores 0 (no agreement). Measurements that are all equal give
 * nothing to agree with, which would make every candidate tie: that is refused. */
#include <litepred/similarity.h>

#include <math.h>
#include <stddef.h>
#include <stdlib.h>

enum { METHOD_KENDALL = 0, METHOD_SPEARMAN };
static const char *const method_names[] = {"kendall", "spearman", NULL};

typedef struct rank_state {
    int method; /* option: METHOD_* */
} rank_state;

static const lp_option options[] = {
    {.name = "method", .help = "rank correlation: kendall (tau-b, O(n^2)) or spearman (rho on "
                               "average ranks)",
     .type = LP_OPT_CHOICE, .offset = offsetof(rank_state, method), .def_s = "kendall",
     .choices = method_names},
    LP_OPT_END};

static int sign(double d)
{
    return (d > 0) - (d < 0);
}

static double kendall_tau_b(const double *x, const double *y, size_t n, int *x_const)
{
    double n0 = (double)n * (double)(n - 1) / 2, tx = 0, ty = 0, s = 0;
    for (size_t i = 0; i < n; i++)
        for (size_t j = i + 1; j < n; j++) {
            int a = sign(x[i] - x[j]), b = sign(y[i] - y[j]);
            tx += a == 0;
            ty += b == 0;
            s += a * b; /* +1 concordant, -1 discordant, 0 tied in either */
        }
    *x_const = tx == n0;
    return tx == n0 || ty == n0 ? 0 : s / sqrt((n0 - tx) * (n0 - ty));
}

typedef struct ranked {
    double v;
    size_t i;
} ranked;

static int cmp_ranked(const void *a, const void *b)
{
    double x = ((const ranked *)a)->v, y = ((const ranked *)b)->v;
    return (x > y) - (x < y);
}

/* Average ranks (1-based) of v into r, using tmp[n] as scratch. */
static void average_ranks(const double *v, size_t n, ranked *tmp, double *r)
{
    for (size_t i = 0; i < n; i++)
        tmp[i] = (ranked){v[i], i};
    qsort(tmp, n, sizeof *tmp, cmp_ranked);
    for (size_t a = 0, b; a < n; a = b) {
        for (b = a + 1; b < n && tmp[b].v == tmp[a].v; b++)
            ;
        double avg = (double)(a + 1 + b) / 2; /* mean of ranks a+1 .. b */
        for (size_t k = a; k < b; k++)
            r[tmp[k].i] = avg;
    }
}

static double pearson(const double *x, const double *y, size_t n, int *x_const)
{
    double mx = 0, my = 0, sxy = 0, sxx = 0, syy = 0;
    for (size_t i = 0; i < n; i++) {
        mx += x[i];
        my += y[i];
    }
    mx /= (double)n;
    my /= (double)n;
    for (size_t i = 0; i < n; i++) {
        sxy += (x[i] - mx) * (y[i] - my);
        sxx += (x[i] - mx) * (x[i] - mx);
        syy += (y[i] - my) * (y[i] - my);
    }
    *x_const = sxx == 0;
    return sxx == 0 || syy == 0 ? 0 : sxy / sqrt(sxx * syy);
}

static int spearman_rho(const double *x, const double *y, size_t n, double *rho, int *x_const,
                        lp_err *err)
{
    ranked *tmp = malloc(n * sizeof *tmp);
    double *rx = malloc(n * sizeof *rx), *ry = malloc(n * sizeof *ry);
    int rc = 0;
    if (!tmp || !rx || !ry) {
        rc = lp_err_set(err, LP_ENOMEM, "out of memory ranking %zu configs", n);
        goto fail;
    }
    average_ranks(x, n, tmp, rx);
    average_ranks(y, n, tmp, ry);
    *rho = pearson(rx, ry, n, x_const);
fail:
    free(tmp);
    free(rx);
    free(ry);
    return rc;
}

static int rank_score(void *priv, const double *measured, const double *predicted, size_t n,
                      double *score, lp_err *err)
{
    const rank_state *st = priv;
    if (n < 2)
        return lp_err_set(err, LP_EINVAL, "a rank correlation needs at least 2 configs, got %zu", n);
    for (size_t i = 0; i < n; i++)
        if (!isfinite(measured[i]) || !isfinite(predicted[i]))
            return lp_err_set(err, LP_EINVAL, "config %zu: measured %g, predicted %g (must be "
                              "finite)", i, measured[i], predicted[i]);
    int x_const = 0, rc = 0;
    double r = 0;
    if (st->method == METHOD_KENDALL)
        r = kendall_tau_b(measured, predicted, n, &x_const);
    else if ((rc = spearman_rho(measured, predicted, n, &r, &x_const, err)) < 0)
        return rc;
    if (x_const)
        return lp_err_set(err, LP_EINVAL, "all %zu measured latencies are equal (%g): there is "
                          "no ranking to agree with", n, measured[0]);
    /* Rounding can overshoot +-1 by an ulp; the range is part of the contract. */
    *score = r > 1 ? 1 : r < -1 ? -1 : r;
    return 0;
}

static const lp_similarity_ops ops = {
    .size = sizeof(lp_similarity_ops),
    .direction = LP_SIM_HIGHER_IS_BETTER,
    .score = rank_score,
};

static const lp_plugin_desc desc = {
    LP_PLUGIN_ABI,
    .kind = LP_KIND_SIMILARITY,
    .name = "rank",
    .summary = "Kendall tau-b or Spearman rank agreement; largest wins",
    .options = options,
    .priv_size = sizeof(rank_state),
    .ops = &ops,
};

LP_PLUGIN_DEFINE(desc)
