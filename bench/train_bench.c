/* Trains the mlp predictor on synthetic conv-bn-relu rows (the kernel plugin's real
 * features, a made-up roofline latency) and times it, then times prediction in batches
 * of 1024 and one row at a time. bench/train.sh sets the environment (one core, one
 * OpenBLAS thread, the right OpenBLAS core type) and prints the command. */
#include <litepred/litepred.h>
#include <litepred/predictor.h>
#include <litepred/space.h>

#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench_args.h"

typedef struct bench_args {
    size_t rows, predict_rows;
    int runs;
    const char *options, *plugin_path;
} bench_args;

static const char train_usage[] =
    "usage: train_bench [--rows N] [--runs N] [--options k=v,...] [--predict-rows N] "
    "[--plugin-path DIRS]\n";

/* 1 for -h, -1 after the one-line error: main prints the usage for both, to stdout for help
 * (asked for) and to stderr under the error. */
static int parse_args(int argc, char **argv, bench_args *a)
{
    static const struct option longs[] = {
        {"rows", required_argument, 0, 'r'},        {"runs", required_argument, 0, 'R'},
        {"options", required_argument, 0, 'o'},     {"predict-rows", required_argument, 0, 'p'},
        {"plugin-path", required_argument, 0, 'P'}, {"help", no_argument, 0, 'h'},
        {0, 0, 0, 0}};
    const char *me = "train_bench";
    long long v;
    int c;
    *a = (bench_args){.rows = 2000, .predict_rows = 200000, .runs = 3, .options = "seed=1"};
    opterr = 0;
    while ((c = getopt_long(argc, argv, ":h", longs, NULL)) != -1) {
        switch (c) {
        case 'r':
            if (bench_arg_long(me, "--rows", optarg, 1, BENCH_ARG_COUNT_MAX, &v))
                return -1;
            a->rows = (size_t)v;
            break;
        case 'R':
            if (bench_arg_long(me, "--runs", optarg, 1, INT_MAX, &v))
                return -1;
            a->runs = (int)v;
            break;
        case 'p':
            if (bench_arg_long(me, "--predict-rows", optarg, 1, BENCH_ARG_COUNT_MAX, &v))
                return -1;
            a->predict_rows = (size_t)v;
            break;
        case 'o': a->options = optarg; break;
        case 'P': a->plugin_path = optarg; break;
        case 'h': return 1;
        default: bench_arg_bad_option(me, c, argv); return -1;
        }
    }
    if (optind < argc) {
        fprintf(stderr, "%s: unexpected argument '%s'\n", me, argv[optind]);
        return -1;
    }
    return 0;
}

static int pick(lp_rng *rng, const int *v, int n)
{
    return v[lp_rng_below(rng, (uint64_t)n)];
}

/* A NAS-like conv config: channels grow as the map shrinks, as in the mobile spaces
 * (base..4 x base channels in multiples of 8 at each resolution). */
static int draw_config(const lp_kernel_ops *ops, lp_rng *rng, lp_kcfg *cfg, lp_err *err)
{
    static const int hw[] = {112, 56, 28, 14, 7}, base[] = {16, 24, 40, 80, 160};
    static const int k[] = {1, 3, 5, 7}, s[] = {1, 2};
    char text[256];
    int level = (int)lp_rng_below(rng, 5), b = base[level];
    int cin = b + 8 * (int)lp_rng_below(rng, (uint64_t)(3 * b / 8 + 1));
    int cout = b + 8 * (int)lp_rng_below(rng, (uint64_t)(3 * b / 8 + 1));
    snprintf(text, sizeof text, "hw=%d,cin=%d,cout=%d,k=%d,s=%d,act=relu", hw[level], cin, cout,
             pick(rng, k, 4), pick(rng, s, 2));
    int rc = lp_kcfg_parse(ops->dims, ops->n_dims, text, cfg, err);
    return rc ? rc : ops->valid(cfg, err);
}

/* A roofline-ish latency in ms: 25 GFLOP/s compute (worse for 1x1 and odd channel
 * counts), 12 GB/s memory, 10 us of launch overhead. */
static float synth_latency(const lp_kcfg *cfg, const lp_cost *c)
{
    double eff = (cfg->v[3] == 1 ? 0.7 : 1.0) * (cfg->v[1] % 32 ? 0.85 : 1.0);
    return (float)(0.01 + c->flops / (25e9 * eff) * 1e3 + c->bytes / 12e9 * 1e3);
}

static int make_data(const lp_kernel_ops *ops, size_t rows, float *x, float *y, lp_err *err)
{
    lp_rng rng;
    lp_rng_seed(&rng, 42);
    for (size_t r = 0; r < rows; r++) {
        lp_kcfg cfg;
        lp_cost c;
        int rc = draw_config(ops, &rng, &cfg, err);
        if (rc)
            return rc;
        ops->cost(&cfg, &c);
        ops->features(&cfg, x + r * ops->n_features);
        y[r] = synth_latency(&cfg, &c);
    }
    return 0;
}

static int train_runs(const lp_plugin *pred, const bench_args *a, const lp_dataset *d,
                      lp_instance **keep, lp_err *err)
{
    double *secs = calloc((size_t)a->runs, sizeof *secs);
    int rc = secs ? 0 : lp_err_set(err, LP_ENOMEM, "out of memory");
    for (int i = 0; rc == 0 && i < a->runs; i++) {
        lp_instance *inst = NULL;
        lp_train_report rep;
        if ((rc = lp_instance_create_kv(pred, a->options, &inst, err)))
            break;
        const lp_predictor_ops *ops = lp_instance_ops(inst);
        uint64_t t0 = lp_now_ns();
        rc = ops->train(inst->priv, d, NULL, NULL, &rep, err);
        secs[i] = (double)(lp_now_ns() - t0) * 1e-9;
        if (rc == 0)
            printf("run %d: %.2f s, %lld epochs, first-epoch MAPE %.4f, last-epoch MAPE %.4f, "
                   "train MAPE %.4f\n", i + 1, secs[i], (long long)rep.epochs, rep.first_loss,
                   rep.final_loss, rep.train_mape);
        fflush(stdout);
        if (rc == 0 && i == a->runs - 1)
            *keep = inst;
        else
            lp_instance_destroy(inst);
    }
    if (rc == 0) {
        printf("train: median %.2f s of %d runs (%zu rows x %zu features, options '%s')\n",
               lp_median(secs, (size_t)a->runs), a->runs, d->n, d->n_features, a->options);
    }
    free(secs);
    return rc;
}

/* Held-out accuracy of the last trained model: MAPE and the share within +-10%. */
static int held_out(lp_instance *inst, const float *x, const float *y, size_t n, lp_err *err)
{
    const lp_predictor_ops *ops = lp_instance_ops(inst);
    float *pred = malloc(n * sizeof *pred);
    int rc = pred ? ops->predict(inst->priv, x, n, pred, err)
                  : lp_err_set(err, LP_ENOMEM, "out of memory");
    double sum = 0;
    size_t within = 0;
    for (size_t i = 0; rc == 0 && i < n; i++) {
        double e = fabs(pred[i] - y[i]) / y[i];
        sum += e;
        within += e <= 0.10;
    }
    if (rc == 0)
        printf("held-out: %zu rows, MAPE %.2f%%, %.1f%% within +-10%%\n", n, 100 * sum / (double)n,
               100.0 * (double)within / (double)n);
    free(pred);
    return rc;
}

static int predict_rates(lp_instance *inst, const bench_args *a, const lp_dataset *d, lp_err *err)
{
    const lp_predictor_ops *ops = lp_instance_ops(inst);
    size_t chunk = 1024, n = a->predict_rows, f = d->n_features;
    float *x = malloc(chunk * f * sizeof *x), *out = malloc(chunk * sizeof *out);
    int rc = x && out ? 0 : lp_err_set(err, LP_ENOMEM, "out of memory");
    for (size_t i = 0; rc == 0 && i < chunk; i++)
        memcpy(x + i * f, d->x + (i % d->n) * f, f * sizeof *x);
    uint64_t t0 = lp_now_ns();
    for (size_t done = 0; rc == 0 && done < n; done += chunk)
        rc = ops->predict(inst->priv, x, chunk, out, err);
    double tb = (double)(lp_now_ns() - t0) * 1e-9;
    size_t n1 = n / 10;
    t0 = lp_now_ns();
    for (size_t i = 0; rc == 0 && i < n1; i++)
        rc = ops->predict(inst->priv, x + (i % chunk) * f, 1, out, err);
    double t1 = (double)(lp_now_ns() - t0) * 1e-9;
    if (rc == 0)
        printf("predict: %.0f rows/s in batches of %zu (%zu rows), %.0f rows/s one at a time "
               "(%zu rows)\n", (double)((n + chunk - 1) / chunk * chunk) / tb, chunk,
               (n + chunk - 1) / chunk * chunk, (double)n1 / t1, n1);
    free(x);
    free(out);
    return rc;
}

int main(int argc, char **argv)
{
    bench_args a;
    lp_err err = {0};
    lp_registry *reg = NULL;
    lp_instance *inst = NULL;
    float *x = NULL, *y = NULL;
    int prc = parse_args(argc, argv, &a);
    if (prc) {
        fputs(train_usage, prc > 0 ? stdout : stderr);
        return prc > 0 ? 0 : 2;
    }
    int rc = lp_registry_open_default(&reg, a.plugin_path, &err);
    const lp_plugin *kp = rc ? NULL : lp_registry_find(reg, LP_KIND_KERNEL, "conv-bn-relu");
    const lp_plugin *pp = rc ? NULL : lp_registry_find(reg, LP_KIND_PREDICTOR, "mlp");
    if (rc == 0 && (!kp || !pp))
        rc = lp_err_set(&err, LP_ENOTFOUND, "kernel conv-bn-relu or predictor mlp not loaded");
    if (rc)
        goto done;
    const lp_kernel_ops *kops = lp_plugin_descriptor(kp)->ops;
    size_t hold = 1000, f = kops->n_features;
    x = malloc((a.rows + hold) * f * sizeof *x);
    y = malloc((a.rows + hold) * sizeof *y);
    if (!x || !y) {
        rc = lp_err_set(&err, LP_ENOMEM, "out of memory");
        goto done;
    }
    lp_dataset d = {.kernel_type = "conv-bn-relu", .n = a.rows, .n_features = kops->n_features,
                    .x = x, .y = y};
    if ((rc = make_data(kops, a.rows + hold, x, y, &err)) ||
        (rc = train_runs(pp, &a, &d, &inst, &err)) ||
        (rc = held_out(inst, x + a.rows * f, y + a.rows, hold, &err)) ||
        (rc = predict_rates(inst, &a, &d, &err)))
        goto done;
done:
    if (rc)
        fprintf(stderr, "train_bench: %s\n", err.msg);
    lp_instance_destroy(inst);
    lp_registry_close(reg);
    free(x);
    free(y);
    return rc ? 1 : 0;
}
