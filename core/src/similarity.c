/* Core side of similarity metrics: the one place where candidates are scored and the
 * best is chosen, so the adaptation pipeline, reports and tests all pick the same way
 * (in particular the smallest KL, not the reference code's largest). */
#include <litepred/similarity.h>

#include <math.h>

int lp_similarity_better(lp_sim_direction dir, double a, double b)
{
    return dir == LP_SIM_LOWER_IS_BETTER ? a < b : a > b;
}

static int sim_ops(const lp_instance *sim, const lp_similarity_ops **out, lp_err *err)
{
    if (!sim || sim->desc->kind != LP_KIND_SIMILARITY)
        return lp_err_set(err, LP_EINVAL, "'%s' is not a similarity plugin",
                          sim ? sim->desc->name : "(null)");
    const lp_similarity_ops *ops = sim->desc->ops;
    if (!LP_OPS_HAS(ops, lp_similarity_ops, score))
        return lp_err_set(err, LP_EABI, "similarity '%s' lacks score()", sim->desc->name);
    if (ops->direction != LP_SIM_LOWER_IS_BETTER && ops->direction != LP_SIM_HIGHER_IS_BETTER)
        return lp_err_set(err, LP_EABI, "similarity '%s' declares no direction (%d)",
                          sim->desc->name, (int)ops->direction);
    *out = ops;
    return 0;
}

/* Measurements are shared by every candidate, so a bad one is the caller's bug. */
static int check_measured(const double *measured, size_t n, lp_err *err)
{
    for (size_t i = 0; i < n; i++)
        if (!isfinite(measured[i]) || !(measured[i] > 0))
            return lp_err_set(err, LP_EINVAL, "measured latency %zu is %g (must be finite and > 0)",
                              i, measured[i]);
    return 0;
}

static int all_finite(const double *v, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (!isfinite(v[i]))
            return 0;
    return 1;
}

int lp_similarity_pick(lp_instance *sim, const double *measured, const double *const *predicted,
                       size_t n_candidates, size_t n, size_t *best, double *scores, lp_err *err)
{
    const lp_similarity_ops *ops = NULL;
    int rc = sim_ops(sim, &ops, err);
    if (rc < 0)
        return rc;
    if (n == 0 || n_candidates == 0)
        return lp_err_set(err, LP_EINVAL, "similarity '%s': %zu candidates over %zu configs "
                          "(need at least one of each)", sim->desc->name, n_candidates, n);
    if ((rc = check_measured(measured, n, err)) < 0)
        return lp_err_prefix(err, "similarity '%s': ", sim->desc->name);
    size_t pick = n_candidates;
    double best_score = NAN;
    for (size_t c = 0; c < n_candidates; c++) {
        double s = NAN;
        /* One broken pool predictor should not block adaptation: it just cannot win. */
        if (predicted[c] && all_finite(predicted[c], n)) {
            if ((rc = ops->score(sim->priv, measured, predicted[c], n, &s, err)) < 0)
                return lp_err_prefix(err, "similarity '%s', candidate %zu: ", sim->desc->name, c);
            if (!isfinite(s))
                return lp_err_set(err, LP_EPLUGIN, "similarity '%s' scored candidate %zu as %g "
                                  "(scores must be finite)", sim->desc->name, c, s);
            if (pick == n_candidates || lp_similarity_better(ops->direction, s, best_score)) {
                pick = c;
                best_score = s;
            }
        }
        if (scores)
            scores[c] = s;
    }
    if (pick == n_candidates)
        return lp_err_set(err, LP_EINVAL, "similarity '%s': every one of the %zu candidates has "
                          "a non-finite prediction", sim->desc->name, n_candidates);
    *best = pick;
    return 0;
}
