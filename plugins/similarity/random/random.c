/* random: the baseline that shows what similarity detection is worth. Each candidate gets
 * an independent uniform score from the seeded stream and the highest wins, which picks
 * every candidate with equal probability; the vectors are never read. The stream is
 * seeded once per instance, so a fresh instance with the same seed makes the same picks
 * (on every machine: the core's xoshiro256**), and successive picks of one instance
 * continue the stream rather than repeating the first. */
#include <litepred/similarity.h>
#include <litepred/space.h>

#include <stddef.h>

typedef struct random_state {
    int64_t seed; /* option */
    lp_rng rng;
} random_state;

static const lp_option options[] = {
    {.name = "seed", .help = "stream seed: the same seed gives the same picks",
     .type = LP_OPT_INT, .offset = offsetof(random_state, seed), .def_i = 0, .min = 0,
     .max = 9007199254740992.0 /* 2^53: every value is exact in the double bounds */},
    LP_OPT_END};

static int random_init(void *priv, lp_err *err)
{
    (void)err;
    random_state *st = priv;
    lp_rng_seed(&st->rng, (uint64_t)st->seed);
    return 0;
}

static int random_score(void *priv, const double *measured, const double *predicted, size_t n,
                        double *score, lp_err *err)
{
    (void)measured;
    (void)predicted;
    (void)n;
    (void)err;
    random_state *st = priv;
    *score = (double)(lp_rng_next(&st->rng) >> 11) * 0x1p-53; /* uniform in [0, 1) */
    return 0;
}

static const lp_similarity_ops ops = {
    .size = sizeof(lp_similarity_ops),
    .direction = LP_SIM_HIGHER_IS_BETTER,
    .score = random_score,
};

static const lp_plugin_desc desc = {
    LP_PLUGIN_ABI,
    .kind = LP_KIND_SIMILARITY,
    .name = "random",
    .summary = "seeded random pick, ignoring the vectors (baseline)",
    .options = options,
    .priv_size = sizeof(random_state),
    .ops = &ops,
    .init = random_init,
};

LP_PLUGIN_DEFINE(desc)
