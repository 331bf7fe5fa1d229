/* kl: LitePred's similarity metric. The measured vector m and a candidate's predicted
 * vector q over the same representative configs are each normalised to sum 1 (they are
 * latency vectors over one list of configs, not histograms: normalising removes the
 * platform's overall speed, so what is compared is the SHAPE of latency across configs),
 * and the score is KL(p || q) = sum_i p_i ln(p_i / q_i). Lower is better.
 *
 * Reference defect: Moonlit/LitePred sorts the KL values in descending order and takes
 * the first, i.e. the LARGEST divergence, the least similar predictor. The method (and
 * this plugin, through the declared direction and lp_similarity_pick) takes the smallest.
 *
 * Zeros and negatives: measured latencies are > 0 (the core checks). A predicted latency
 * <= 0 is physically impossible, but a regressor can produce one; it is clamped to
 * epsilon times the mean of the candidate's positive predictions. The floor is relative
 * so the score stays scale-free (a candidate in other units, or uniformly 2x slower,
 * scores the same), and it is finite so such a candidate is heavily penalised (about
 * p_i ln(1/epsilon) per clamped config) yet still ranked against other bad candidates,
 * instead of every one of them tying at +inf and the first winning by position. */
#include <litepred/similarity.h>

#include <math.h>
#include <stddef.h>

typedef struct kl_state {
    double epsilon; /* option: floor for predictions, relative to their positive mean */
} kl_state;

static const lp_option options[] = {
    {.name = "epsilon", .help = "a predicted latency <= epsilon * (mean positive prediction) "
                                "is raised to that floor before normalising",
     .type = LP_OPT_DOUBLE, .offset = offsetof(kl_state, epsilon), .def_d = 1e-6, .min = 1e-15,
     .max = 1e-2},
    LP_OPT_END};

/* The clamp floor for predicted; 1 when no prediction is positive (q is then uniform). */
static double floor_of(const double *predicted, size_t n, double epsilon)
{
    double sum = 0;
    size_t pos = 0;
    for (size_t i = 0; i < n; i++)
        if (predicted[i] > 0) {
            sum += predicted[i];
            pos++;
        }
    return pos ? epsilon * sum / (double)pos : 1.0;
}

static int kl_score(void *priv, const double *measured, const double *predicted, size_t n,
                    double *score, lp_err *err)
{
    const kl_state *st = priv;
    if (n == 0)
        return lp_err_set(err, LP_EINVAL, "kl needs at least one config");
    double lo = floor_of(predicted, n, st->epsilon), sum_m = 0, sum_q = 0;
    for (size_t i = 0; i < n; i++) {
        if (!(measured[i] > 0) || !isfinite(measured[i]) || !isfinite(predicted[i]))
            return lp_err_set(err, LP_EINVAL, "config %zu: measured %g, predicted %g (measured "
                              "must be finite and > 0, predicted finite)", i, measured[i],
                              predicted[i]);
        sum_m += measured[i];
        sum_q += predicted[i] > lo ? predicted[i] : lo;
    }
    double kl = 0;
    for (size_t i = 0; i < n; i++) {
        double p = measured[i] / sum_m, q = (predicted[i] > lo ? predicted[i] : lo) / sum_q;
        kl += p * log(p / q);
    }
    /* KL >= 0 (Gibbs); a tiny negative sum is rounding on proportional vectors. */
    *score = kl > 0 ? kl : 0;
    return 0;
}

static const lp_similarity_ops ops = {
    .size = sizeof(lp_similarity_ops),
    .direction = LP_SIM_LOWER_IS_BETTER,
    .score = kl_score,
};

static const lp_plugin_desc desc = {
    LP_PLUGIN_ABI,
    .kind = LP_KIND_SIMILARITY,
    .name = "kl",
    .summary = "KL(measured || predicted) of sum-1 vectors; smallest wins",
    .options = options,
    .priv_size = sizeof(kl_state),
    .ops = &ops,
};

LP_PLUGIN_DEFINE(desc)
