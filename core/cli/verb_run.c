/* `litepred run PIPELINE.yaml` and `litepred predict`. */
#include "cli.h"

#include <getopt.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

#include <litepred/pipeline.h>
#include <litepred/pool.h>
#include <litepred/space.h>

static const char run_usage[] =
    "usage: litepred run [--replay] PIPELINE.yaml\n\n"
    "Runs a pipeline (configs/pipelines/; keys in README and pipeline.h):\n"
    "  build       samples configs per kernel type, measures them (skipping what the\n"
    "              store has), trains one predictor per type into <pool>/<platform>/\n"
    "  build-pool  build for each of `platforms:` into one pool root\n"
    "  evaluate    samples models of each space, measures them whole, predicts them\n"
    "              from the pool; RMSE, RMSPE, +-5%/+-10% accuracy per space\n"
    "  adapt       per target and kernel type: measures the representative set,\n"
    "              picks a pool predictor with the similarity plugin, fine-tunes it\n"
    "              (or trains from scratch) at each budget, evaluates; reports go\n"
    "              to adapt.md/adapt.csv/kernels.csv/picks.csv (see litepred report)\n"
    "Interrupted runs resume: every committed measurement is kept in the store.\n\n"
    "  --replay    measure nothing: every kernel and model must already be in the\n"
    "              store (else an error names the first missing one). Re-runs training\n"
    "              and reports from a store made elsewhere, or beside a measuring run\n"
    "              without disturbing it.\n";

int lp_cli_run(lp_cli *cli, int argc, char **argv)
{
    static const struct option longs[] = {
        {"replay", no_argument, 0, 'r'}, {"help", no_argument, 0, 'h'}, {0, 0, 0, 0}};
    int replay = 0, c;
    optind = 1;
    opterr = 0;
    while ((c = getopt_long(argc, argv, "h", longs, NULL)) != -1) {
        switch (c) {
        case 'r': replay = 1; break;
        case 'h': fputs(run_usage, stdout); return LP_EXIT_OK;
        default: return lp_cli_usage_error("run", "unknown option '%s'", argv[optind - 1]);
        }
    }
    if (optind != argc - 1) {
        fputs(run_usage, stderr);
        return LP_EXIT_USAGE;
    }
    const char *file = argv[optind];
    lp_registry *reg = lp_cli_registry(cli);
    if (!reg)
        return LP_EXIT_FAIL;
    lp_pipeline *p = NULL;
    lp_diag diag = {0};
    lp_err err = {0};
    if (lp_pipeline_load(reg, file, &p, &diag, &err) < 0) {
        lp_diag_print(&diag, stderr);
        lp_diag_free(&diag);
        fprintf(stderr, "litepred run: %s\n", err.msg);
        return err.code == LP_EINVAL ? LP_EXIT_USAGE : LP_EXIT_FAIL;
    }
    lp_run_opts o = {.quiet = cli->quiet, .plugin_path = cli->plugin_path, .replay = replay};
    int rc = lp_pipeline_run(reg, p, &o, &err);
    lp_pipeline_free(p);
    if (rc < 0) {
        fprintf(stderr, "litepred run: %s\n", err.msg);
        return LP_EXIT_FAIL;
    }
    return LP_EXIT_OK;
}

static const char predict_usage[] =
    "usage: litepred predict --pool DIR --platform P (--model FILE | --space S -n N [--seed S])\n"
    "                        [--per-kernel]\n\n"
    "Predicts latency from the predictors in DIR/P (written by a build pipeline): one row per\n"
    "model with the predicted total in ms, or with --per-kernel one row per kernel of a\n"
    "--model. A kernel type with no predictor in the pool is an error naming it.\n";

static int predict_model_rows(lp_pool *pool, lp_model *m, int per_kernel, lp_err *err)
{
    double total, *per = calloc(m->n ? m->n : 1, sizeof *per);
    int rc = per ? lp_pool_predict_model(pool, m, per, &total, err)
                 : lp_err_set(err, LP_ENOMEM, "out of memory");
    if (rc == 0 && per_kernel) {
        printf("%-5s %-16s %-52s %12s\n", "#", "KERNEL", "CONFIG", "PRED_MS");
        for (size_t i = 0; i < m->n; i++)
            if (m->k[i].op == LP_MOP_KERNEL)
                printf("%-5zu %-16s %-52s %12.4f\n", i, m->k[i].type, m->k[i].config, per[i]);
    }
    if (rc == 0)
        printf("%-40s %12.4f ms\n", m->name, total);
    free(per);
    return rc;
}

/* Samples every model first, then predicts them all: the timing printed is prediction
 * alone (what NAS loops pay per candidate), with the process's peak memory. */
static int predict_space(const lp_registry *reg, lp_pool *pool, const char *space, uint64_t seed,
                         long n, int quiet, lp_err *err)
{
    char *path = NULL;
    lp_space *sp = NULL;
    lp_model **ms = calloc((size_t)n, sizeof *ms);
    double *pred = calloc((size_t)n, sizeof *pred);
    int rc = ms && pred ? lp_space_find(lp_spaces_dir_default(), space, &path, err)
                        : lp_err_set(err, LP_ENOMEM, "out of memory");
    if (rc == 0)
        rc = lp_space_load(path, &sp, err);
    uint64_t t0 = lp_now_ns();
    for (long i = 0; rc == 0 && i < n; i++)
        rc = lp_space_sample_checked(sp, reg, seed, (uint64_t)i, &ms[i], err);
    uint64_t t1 = lp_now_ns();
    for (long i = 0; rc == 0 && i < n; i++)
        rc = lp_pool_predict_model(pool, ms[i], NULL, &pred[i], err);
    uint64_t t2 = lp_now_ns();
    for (long i = 0; rc == 0 && i < n; i++)
        printf("%-40s %12.4f ms\n", ms[i]->name, pred[i]);
    if (rc == 0 && !quiet) {
        struct rusage ru;
        getrusage(RUSAGE_SELF, &ru);
        double pt = (double)(t2 - t1) / 1e9;
        fprintf(stderr, "%ld models: sampled in %.3f s; predicted in %.4f s (%.0f models/s); "
                        "peak RSS %.1f MiB\n", n, (double)(t1 - t0) / 1e9, pt,
                pt > 0 ? (double)n / pt : 0.0, (double)ru.ru_maxrss / 1024.0);
    }
    for (long i = 0; ms && i < n; i++)
        lp_model_free(ms[i]);
    free(ms);
    free(pred);
    lp_space_free(sp);
    free(path);
    return rc;
}

int lp_cli_predict(lp_cli *cli, int argc, char **argv)
{
    static const struct option longs[] = {
        {"pool", required_argument, 0, 'P'},  {"platform", required_argument, 0, 'p'},
        {"model", required_argument, 0, 'm'}, {"space", required_argument, 0, 's'},
        {"seed", required_argument, 0, 'S'},  {"per-kernel", no_argument, 0, 'k'},
        {"help", no_argument, 0, 'h'},        {0, 0, 0, 0}};
    const char *pool_root = NULL, *platform = NULL, *model = NULL, *space = NULL;
    long n = -1, seed = 1;
    int per_kernel = 0, c;
    char *end;
    optind = 1;
    opterr = 0;
    while ((c = getopt_long(argc, argv, "n:h", longs, NULL)) != -1) {
        switch (c) {
        case 'P': pool_root = optarg; break;
        case 'p': platform = optarg; break;
        case 'm': model = optarg; break;
        case 's': space = optarg; break;
        case 'k': per_kernel = 1; break;
        case 'n':
        case 'S':
            *(c == 'n' ? &n : &seed) = strtol(optarg, &end, 10);
            if (*end || *(c == 'n' ? &n : &seed) < 0)
                return lp_cli_usage_error("predict", "-%s needs a non-negative integer, got '%s'",
                                          c == 'n' ? "n" : "-seed", optarg);
            break;
        case 'h': fputs(predict_usage, stdout); return LP_EXIT_OK;
        default: return lp_cli_usage_error("predict", "unknown or incomplete option '%s'", argv[optind - 1]);
        }
    }
    if (optind < argc)
        return lp_cli_usage_error("predict", "unexpected argument '%s'", argv[optind]);
    if (!pool_root || !platform)
        return lp_cli_usage_error("predict", "--pool and --platform are required");
    if (!!model + !!space != 1 || (space && n < 1) || (per_kernel && !model))
        return lp_cli_usage_error("predict", "give --model FILE [--per-kernel], or --space S -n N");
    lp_registry *reg = lp_cli_registry(cli);
    if (!reg)
        return LP_EXIT_FAIL;
    lp_err err = {0};
    lp_pool *pool = NULL;
    char *dir = NULL;
    int rc = asprintf(&dir, "%s/%s", pool_root, platform) < 0 ? lp_err_set(&err, LP_ENOMEM, "out of memory")
                                                              : lp_pool_open(reg, dir, &pool, &err);
    if (rc == 0 && model) {
        lp_model *m = NULL;
        if ((rc = lp_model_load(reg, model, &m, &err)) == 0)
            rc = predict_model_rows(pool, m, per_kernel, &err);
        lp_model_free(m);
    } else if (rc == 0) {
        rc = predict_space(reg, pool, space, (uint64_t)seed, n, cli->quiet, &err);
    }
    lp_pool_close(pool);
    free(dir);
    if (rc < 0) {
        fprintf(stderr, "litepred predict: %s\n", err.msg);
        return LP_EXIT_FAIL;
    }
    return LP_EXIT_OK;
}
