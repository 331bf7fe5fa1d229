/* Compares predictor plugins on the same data: training time (median of --runs), prediction
 * throughput in batches of 1024 rows and one row at a time (median of --runs), model file
 * size and held-out accuracy, one table row per predictor. The data is train_bench.c's:
 * conv-bn-relu's own features() of NAS-like configs and a synthetic roofline latency.
 * bench/predictors.sh sets the environment (one core, one OpenBLAS thread, the OpenBLAS
 * core type) and prints the command.
 *
 *   predictors_bench [--rows N] [--runs N] [--predict-rows N] [--plugin-path DIRS]
 *                    [--dir DIR] NAME[:k=v,k=v] ...
 */
#include <litepred/litepred.h>
#include <litepred/predictor.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "bench_args.h"

/* train_bench.c's data generation (make_data and the config and latency it draws), taken
 * whole so both benchmarks time the same rows; its main() is renamed out of the way. */
#define main lp_train_bench_main
#include "train_bench.c"
#undef main

#define PB_MAX_PREDICTORS 16
#define PB_CHUNK 1024
#define PB_MAX_RUNS 64

typedef struct pb_args {
    size_t rows, predict_rows;
    int runs; /* 1..PB_MAX_RUNS (pb_parse refuses more): the per-run arrays are that long */
    const char *plugin_path, *dir;
    const char *names[PB_MAX_PREDICTORS];
    size_t n_names;
} pb_args;

typedef struct pb_row {
    double train_s, batch_rps, single_rps, held_mape, oob_mape;
    long long file_bytes;
} pb_row;

static void pb_usage(FILE *f)
{
    fprintf(f, "usage: predictors_bench [--rows N] [--runs N<=%d] [--predict-rows N>=%d] "
               "[--plugin-path DIRS] [--dir DIR] NAME[:k=v,...] ...\n", PB_MAX_RUNS, PB_CHUNK);
}

/* As train_bench's parse_args: 1 for -h, -1 after the one-line error. --runs is capped
 * rather than clamped later, so the table's "medians of N runs" is what ran; the batched
 * timing needs at least one whole chunk of rows. */
static int pb_parse(int argc, char **argv, pb_args *a)
{
    static const struct option longs[] = {
        {"rows", required_argument, 0, 'r'},         {"runs", required_argument, 0, 'R'},
        {"predict-rows", required_argument, 0, 'p'}, {"plugin-path", required_argument, 0, 'P'},
        {"dir", required_argument, 0, 'd'},          {"help", no_argument, 0, 'h'},
        {0, 0, 0, 0}};
    const char *me = "predictors_bench";
    long long v;
    int c;
    *a = (pb_args){.rows = 2000, .predict_rows = 100000, .runs = 3, .dir = "/tmp"};
    opterr = 0;
    while ((c = getopt_long(argc, argv, ":h", longs, NULL)) != -1) {
        switch (c) {
        case 'r':
            if (bench_arg_long(me, "--rows", optarg, 1, BENCH_ARG_COUNT_MAX, &v))
                return -1;
            a->rows = (size_t)v;
            break;
        case 'R':
            if (bench_arg_long(me, "--runs", optarg, 1, PB_MAX_RUNS, &v))
                return -1;
            a->runs = (int)v;
            break;
        case 'p':
            if (bench_arg_long(me, "--predict-rows", optarg, PB_CHUNK, BENCH_ARG_COUNT_MAX, &v))
                return -1;
            a->predict_rows = (size_t)v;
            break;
        case 'P': a->plugin_path = optarg; break;
        case 'd': a->dir = optarg; break;
        case 'h': return 1;
        default: bench_arg_bad_option(me, c, argv); return -1;
        }
    }
    for (; optind < argc && a->n_names < PB_MAX_PREDICTORS; optind++)
        a->names[a->n_names++] = argv[optind];
    if (!a->n_names)
        fprintf(stderr, "%s: no predictor NAME given\n", me);
    else if (optind < argc)
        fprintf(stderr, "%s: at most %d predictor NAMEs, got '%s' after them\n", me,
                PB_MAX_PREDICTORS, argv[optind]);
    return a->n_names && optind == argc ? 0 : -1;
}

/* Trains --runs fresh instances; keeps the last one. */
static int pb_train(const lp_plugin *pp, const char *opts, const pb_args *a, const lp_dataset *d,
                    lp_instance **keep, pb_row *row, lp_err *err)
{
    double secs[PB_MAX_RUNS];
    int runs = a->runs, rc = 0;
    for (int i = 0; rc == 0 && i < runs; i++) {
        lp_instance *inst = NULL;
        lp_train_report rep;
        if ((rc = lp_instance_create_kv(pp, opts, &inst, err)))
            break;
        const lp_predictor_ops *ops = lp_instance_ops(inst);
        uint64_t t0 = lp_now_ns();
        rc = ops->train(inst->priv, d, NULL, NULL, &rep, err);
        secs[i] = (double)(lp_now_ns() - t0) * 1e-9;
        row->oob_mape = rep.oob_rows > 0 ? rep.oob_mape : NAN;
        if (rc == 0 && i == runs - 1)
            *keep = inst;
        else
            lp_instance_destroy(inst);
    }
    if (rc == 0)
        row->train_s = lp_median(secs, (size_t)runs);
    return rc;
}

/* Rows per second, batched and one at a time, each the median of --runs passes. */
static int pb_predict(lp_instance *inst, const pb_args *a, const lp_dataset *d, pb_row *row,
                      lp_err *err)
{
    const lp_predictor_ops *ops = lp_instance_ops(inst);
    size_t f = d->n_features, n = a->predict_rows / PB_CHUNK * PB_CHUNK, n1 = n / 10;
    float *x = malloc(PB_CHUNK * f * sizeof *x), *out = malloc(PB_CHUNK * sizeof *out);
    double rb[PB_MAX_RUNS], r1[PB_MAX_RUNS];
    int runs = a->runs;
    int rc = x && out ? 0 : lp_err_set(err, LP_ENOMEM, "out of memory");
    for (size_t i = 0; rc == 0 && i < PB_CHUNK; i++)
        memcpy(x + i * f, d->x + (i % d->n) * f, f * sizeof *x);
    for (int k = 0; rc == 0 && k < runs; k++) {
        uint64_t t0 = lp_now_ns();
        for (size_t done = 0; rc == 0 && done < n; done += PB_CHUNK)
            rc = ops->predict(inst->priv, x, PB_CHUNK, out, err);
        rb[k] = (double)n / ((double)(lp_now_ns() - t0) * 1e-9);
        t0 = lp_now_ns();
        for (size_t i = 0; rc == 0 && i < n1; i++)
            rc = ops->predict(inst->priv, x + (i % PB_CHUNK) * f, 1, out, err);
        r1[k] = (double)n1 / ((double)(lp_now_ns() - t0) * 1e-9);
    }
    if (rc == 0) {
        row->batch_rps = lp_median(rb, (size_t)runs);
        row->single_rps = lp_median(r1, (size_t)runs);
    }
    free(x);
    free(out);
    return rc;
}

static int pb_file_and_accuracy(lp_instance *inst, const char *name, const pb_args *a,
                                const float *hx, const float *hy, size_t hn, pb_row *row,
                                lp_err *err)
{
    const lp_predictor_ops *ops = lp_instance_ops(inst);
    char path[4096];
    struct stat st;
    snprintf(path, sizeof path, "%s/predictors_bench.%s", a->dir, name);
    int rc = ops->save(inst->priv, path, err);
    if (rc == 0 && stat(path, &st))
        rc = lp_err_set(err, LP_EIO, "%s: cannot stat", path);
    row->file_bytes = rc ? -1 : (long long)st.st_size;
    remove(path);
    float *pred = malloc(hn * sizeof *pred);
    if (rc == 0 && !pred)
        rc = lp_err_set(err, LP_ENOMEM, "out of memory");
    if (rc == 0 && (rc = ops->predict(inst->priv, hx, hn, pred, err)) == 0) {
        double s = 0;
        for (size_t i = 0; i < hn; i++)
            s += fabs(pred[i] - hy[i]) / hy[i];
        row->held_mape = s / (double)hn;
    }
    free(pred);
    return rc;
}

static void pb_print(const char *name, const char *opts, const pb_row *row)
{
    char oob[32] = "-"; /* predictors without bagging have no OOB error */
    if (!isnan(row->oob_mape))
        snprintf(oob, sizeof oob, "%.2f%%", 100 * row->oob_mape);
    printf("| %-4s | %-22s | %8.2f | %11.0f | %11.0f | %10lld | %6.2f%% | %7s |\n", name,
           *opts ? opts : "(defaults)", row->train_s, row->batch_rps, row->single_rps,
           row->file_bytes, 100 * row->held_mape, oob);
}

/* One predictor, "name" or "name:k=v,k=v": one table row. */
static int pb_one(const lp_registry *reg, const char *spec, const pb_args *a, const lp_dataset *d,
                  const float *hx, const float *hy, size_t hn, lp_err *err)
{
    char name[128];
    const char *colon = strchr(spec, ':'), *opts = colon ? colon + 1 : "";
    snprintf(name, sizeof name, "%.*s", (int)(colon ? (size_t)(colon - spec) : strlen(spec)),
             spec);
    const lp_plugin *pp = lp_registry_find(reg, LP_KIND_PREDICTOR, name);
    if (!pp)
        return lp_err_set(err, LP_ENOTFOUND, "predictor '%s' is not loaded", name);
    lp_instance *inst = NULL;
    pb_row row = {0};
    int rc = pb_train(pp, opts, a, d, &inst, &row, err);
    if (rc == 0 && (rc = pb_predict(inst, a, d, &row, err)) == 0 &&
        (rc = pb_file_and_accuracy(inst, name, a, hx, hy, hn, &row, err)) == 0)
        pb_print(name, opts, &row);
    fflush(stdout);
    lp_instance_destroy(inst);
    return rc;
}

int main(int argc, char **argv)
{
    pb_args a;
    lp_err err = {0};
    lp_registry *reg = NULL;
    float *x = NULL, *y = NULL;
    int prc = pb_parse(argc, argv, &a);
    if (prc) {
        pb_usage(prc > 0 ? stdout : stderr);
        return prc > 0 ? 0 : 2;
    }
    int rc = lp_registry_open_default(&reg, a.plugin_path, &err);
    const lp_plugin *kp = rc ? NULL : lp_registry_find(reg, LP_KIND_KERNEL, "conv-bn-relu");
    if (rc == 0 && !kp)
        rc = lp_err_set(&err, LP_ENOTFOUND, "kernel conv-bn-relu is not loaded");
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
    if ((rc = make_data(kops, a.rows + hold, x, y, &err)))
        goto done;
    lp_dataset d = {.kernel_type = "conv-bn-relu", .n = a.rows, .n_features = f, .x = x, .y = y};
    printf("%zu training rows x %zu conv-bn-relu features, %zu held-out rows; medians of %d "
           "runs; predict: %zu rows in batches of %d, %zu one at a time\n\n",
           a.rows, f, hold, a.runs, a.predict_rows / PB_CHUNK * PB_CHUNK, PB_CHUNK,
           a.predict_rows / PB_CHUNK * PB_CHUNK / 10);
    printf("| predictor | options | train s | rows/s batched | rows/s one | file bytes | "
           "held-out MAPE | OOB MAPE |\n|---|---|---:|---:|---:|---:|---:|---:|\n");
    for (size_t i = 0; rc == 0 && i < a.n_names; i++)
        rc = pb_one(reg, a.names[i], &a, &d, x + a.rows * f, y + a.rows, hold, &err);
done:
    if (rc)
        fprintf(stderr, "predictors_bench: %s\n", err.msg);
    lp_registry_close(reg);
    free(x);
    free(y);
    return rc ? 1 : 0;
}
