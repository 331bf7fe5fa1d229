/* Where does a whole model's time go that the sum of its kernels misses? For models sampled
 * from a space, on a `native` platform, times every step (one graph node) of the prepared
 * model twice, in the same buffers:
 *   - in sequence: inside full runs of the model, as a whole-model measurement sees it;
 *   - alone: the step re-run by itself, after writing a flush buffer of F MiB (for each F of
 *     --flush), as a kernel measurement with flush_kib = F * 1024 sees it.
 * The same code on the same data, so any difference is the state the rest of the model
 * leaves the caches in, not a different kernel. Only `native` exposes its steps (the other
 * engines hide their operators), so other engines are refused. bench/inmodel.sh drives it.
 *
 *   inmodel_bench --platform P --space S [-n N] [--seed S] [--runs R] [--reps K]
 *                 [--flush MiB,MiB,...] [--steps FILE] [--plugin-path DIRS]
 *
 * stdout: one CSV row per model: space,model,steps,whole_ms,seq_ms,alone_<F>_ms...
 * (whole: median full-run time; seq: sum over steps of each step's median in sequence;
 * alone_F: sum over steps of each step's median alone after an F MiB flush).
 * --steps FILE: one row per step: space,model,step,prim,seq_us,alone_<F>_us...
 */
#include <litepred/harness.h>
#include <litepred/litepred.h>
#include <litepred/model.h>
#include <litepred/space.h>

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../plugins/engines/native/native.h"
#include "bench_args.h"

#define IB_MAX_FLUSH 8

typedef struct ib_args {
    const char *platform, *space, *steps_path, *plugin_path;
    int n, runs, reps;
    uint64_t seed;
    int flush_mib[IB_MAX_FLUSH];
    int n_flush;
} ib_args;

static const char ib_usage[] =
    "usage: inmodel_bench --platform P --space S [-n N] [--seed S] [--runs R] [--reps K<=256]\n"
    "                     [--flush MiB,MiB,...] [--steps FILE] [--plugin-path DIRS]\n";

/* Each size goes through the strict parser on its own copy, so an empty item ("8,,3", "8,")
 * is an error rather than skipped, and the error says which item was bad. */
static int ib_parse_flush(const char *s, ib_args *a)
{
    char *buf = strdup(s), *item = buf, opt[32];
    int n = 0, rc = buf ? 0 : -1;
    if (!buf)
        fprintf(stderr, "inmodel_bench: out of memory\n");
    for (; rc == 0 && item; n++) {
        char *comma = strchr(item, ',');
        long long v;
        if (comma)
            *comma = '\0';
        snprintf(opt, sizeof opt, "--flush item %d", n + 1);
        if (n == IB_MAX_FLUSH) {
            fprintf(stderr, "inmodel_bench: --flush takes at most %d sizes, got '%s'\n",
                    IB_MAX_FLUSH, s);
            rc = -1;
        } else if ((rc = bench_arg_long("inmodel_bench", opt, item, 0, 4096, &v)) == 0) {
            a->flush_mib[n] = (int)v;
        }
        item = comma ? comma + 1 : NULL;
    }
    if (rc == 0)
        a->n_flush = n;
    free(buf);
    return rc;
}

/* -n, --runs and --reps are ints in ib_args; --reps stops at 256 because ib_time_alone takes
 * its medians over a fixed array of 256. */
static int ib_int(const char *opt, const char *v, long long hi, int *out)
{
    long long x;
    if (bench_arg_long("inmodel_bench", opt, v, 1, hi, &x))
        return -1;
    *out = (int)x;
    return 0;
}

/* 1 for -h, -1 after the one-line error: main prints the usage for both, to stdout for help
 * (asked for) and to stderr under the error. */
static int ib_parse(int argc, char **argv, ib_args *a)
{
    static const struct option longs[] = {
        {"platform", required_argument, 0, 'p'}, {"space", required_argument, 0, 's'},
        {"seed", required_argument, 0, 'S'},     {"runs", required_argument, 0, 'r'},
        {"reps", required_argument, 0, 'k'},     {"flush", required_argument, 0, 'f'},
        {"steps", required_argument, 0, 't'},    {"plugin-path", required_argument, 0, 'P'},
        {"help", no_argument, 0, 'h'},           {0, 0, 0, 0}};
    const char *me = "inmodel_bench";
    int c, bad = 0;
    *a = (ib_args){.n = 3, .seed = 1, .runs = 15, .reps = 9, .n_flush = 3,
                   .flush_mib = {8, 64, 256}};
    opterr = 0;
    while (!bad && (c = getopt_long(argc, argv, ":hn:", longs, NULL)) != -1) {
        switch (c) {
        case 'p': a->platform = optarg; break;
        case 's': a->space = optarg; break;
        case 'n': bad = ib_int("-n", optarg, INT_MAX, &a->n); break;
        case 'S': bad = bench_arg_u64(me, "--seed", optarg, &a->seed); break;
        case 'r': bad = ib_int("--runs", optarg, INT_MAX, &a->runs); break;
        case 'k': bad = ib_int("--reps", optarg, 256, &a->reps); break;
        case 'f': bad = ib_parse_flush(optarg, a); break;
        case 't': a->steps_path = optarg; break;
        case 'P': a->plugin_path = optarg; break;
        case 'h': return 1;
        default: bench_arg_bad_option(me, c, argv); return -1;
        }
    }
    if (bad)
        return -1;
    if (optind < argc) {
        fprintf(stderr, "%s: unexpected argument '%s'\n", me, argv[optind]);
        return -1;
    }
    if (!a->platform || !a->space) {
        fprintf(stderr, "%s: --platform and --space are required\n", me);
        return -1;
    }
    return 0;
}

/* Per step, the median over runs of its time inside full runs; *whole: median run time. */
static int ib_time_seq(lp_nrun *r, int runs, double *seq_us, double *whole_ms)
{
    size_t n = r->n_steps;
    double *v = malloc((size_t)runs * (n + 1) * sizeof *v);
    if (!v)
        return -1;
    for (int k = 0; k < runs; k++) {
        uint64_t start = lp_now_ns(), t = start;
        for (size_t i = 0; i < n; i++) {
            r->steps[i].exec(r, &r->steps[i]);
            uint64_t t1 = lp_now_ns();
            v[i * (size_t)runs + (size_t)k] = (double)(t1 - t) / 1e3;
            t = t1;
        }
        v[n * (size_t)runs + (size_t)k] = (double)(t - start) / 1e6;
    }
    for (size_t i = 0; i < n; i++)
        seq_us[i] = lp_median(v + i * (size_t)runs, (size_t)runs);
    *whole_ms = lp_median(v + n * (size_t)runs, (size_t)runs);
    free(v);
    return 0;
}

/* Per step, the median over reps of the step run alone after a flush of `bytes`. */
static void ib_time_alone(lp_nrun *r, int reps, unsigned char *flush, size_t bytes, double *alone_us)
{
    double v[256];
    if (reps > 256)
        reps = 256;
    for (size_t i = 0; i < r->n_steps; i++) {
        for (int k = 0; k < reps; k++) {
            lp_harness_flush(flush, bytes); /* exactly what flush_kib runs */
            uint64_t t0 = lp_now_ns();
            r->steps[i].exec(r, &r->steps[i]);
            v[k] = (double)(lp_now_ns() - t0) / 1e3;
        }
        alone_us[i] = lp_median(v, (size_t)reps);
    }
}

static double ib_sum(const double *v, size_t n)
{
    double s = 0;
    for (size_t i = 0; i < n; i++)
        s += v[i];
    return s;
}

static int ib_model(const ib_args *a, const lp_platform *pf, const lp_model *m, unsigned char *flush,
                    FILE *steps, lp_err *err)
{
    const lp_engine_ops *ops = lp_instance_ops(pf->engine);
    lp_graph g;
    lp_harness_env env;
    void *run = NULL;
    double *seq = NULL, *alone = NULL, whole = 0;
    lp_graph_init(&g);
    int rc = lp_model_build(m, &g, err);
    if (rc >= 0)
        rc = lp_graph_fill(&g, 1, err);
    if (rc >= 0)
        rc = ops->prepare(pf->engine->priv, &g, &run, err);
    if (rc < 0)
        goto fail;
    lp_nrun *r = run;
    seq = calloc(r->n_steps + 1, sizeof *seq);
    alone = calloc((r->n_steps + 1) * (size_t)a->n_flush, sizeof *alone);
    if (!seq || !alone) {
        rc = lp_err_set(err, LP_ENOMEM, "out of memory");
        goto fail;
    }
    if ((rc = lp_harness_enter(&pf->harness, &env, err)) < 0)
        goto fail;
    for (int k = 0; k < 3; k++) /* first touches, packed weights, branch predictors */
        ops->run(run, err);
    if (ib_time_seq(r, a->runs, seq, &whole) < 0)
        rc = lp_err_set(err, LP_ENOMEM, "out of memory");
    for (int f = 0; rc == 0 && f < a->n_flush; f++)
        ib_time_alone(r, a->reps, flush, (size_t)a->flush_mib[f] << 20, alone + (size_t)f * r->n_steps);
    lp_harness_leave(&env);
    if (rc < 0)
        goto fail;
    printf("%s,%s,%zu,%.4f,%.4f", a->space, m->name, r->n_steps, whole, ib_sum(seq, r->n_steps) / 1e3);
    for (int f = 0; f < a->n_flush; f++)
        printf(",%.4f", ib_sum(alone + (size_t)f * r->n_steps, r->n_steps) / 1e3);
    printf("\n");
    fflush(stdout);
    for (size_t i = 0; steps && i < r->n_steps; i++) {
        fprintf(steps, "%s,%s,%zu,%s,%.3f", a->space, m->name, i, lp_prim_name(r->steps[i].node.prim),
                seq[i]);
        for (int f = 0; f < a->n_flush; f++)
            fprintf(steps, ",%.3f", alone[(size_t)f * r->n_steps + i]);
        fprintf(steps, "\n");
    }
fail:
    if (run)
        ops->release(run);
    free(seq);
    free(alone);
    lp_graph_free(&g);
    return rc;
}

static void ib_header(FILE *f, const ib_args *a, const char *first)
{
    fprintf(f, "%s", first);
    for (int i = 0; i < a->n_flush; i++)
        fprintf(f, ",alone_%d%s", a->flush_mib[i], f == stdout ? "_ms" : "_us");
    fprintf(f, "\n");
}

int main(int argc, char **argv)
{
    ib_args a;
    lp_err err = {0};
    lp_registry *reg = NULL;
    lp_platform *pf = NULL;
    lp_space *sp = NULL;
    lp_diag diag = {0};
    char *pf_path = NULL, *sp_path = NULL;
    unsigned char *flush = NULL;
    FILE *steps = NULL;
    int rc = 0, max_flush = 0;
    int prc = ib_parse(argc, argv, &a);
    if (prc) {
        fputs(ib_usage, prc > 0 ? stdout : stderr);
        return prc > 0 ? 0 : 2;
    }
    for (int f = 0; f < a.n_flush; f++)
        max_flush = a.flush_mib[f] > max_flush ? a.flush_mib[f] : max_flush;
    if (!(flush = calloc(1, ((size_t)max_flush << 20) + 64)))
        rc = lp_err_set(&err, LP_ENOMEM, "cannot allocate the %d MiB flush buffer", max_flush);
    if (rc == 0)
        rc = lp_registry_open_default(&reg, a.plugin_path, &err);
    if (rc == 0 && !(pf_path = lp_platform_path(a.platform, &err)))
        rc = err.code;
    if (rc == 0 && (rc = lp_platform_load(reg, pf_path, &pf, &diag, &err)) < 0 && diag.n)
        lp_err_set(&err, rc, "%s", diag.msgs[0]);
    if (rc == 0 && strcmp(pf->engine->desc->name, "native"))
        rc = lp_err_set(&err, LP_EUNSUPPORTED, "%s runs engine '%s': only native exposes its steps",
                        pf->name, pf->engine->desc->name);
    if (rc == 0 && (rc = lp_space_find(lp_spaces_dir_default(), a.space, &sp_path, &err)) == 0)
        rc = lp_space_load(sp_path, &sp, &err);
    if (rc == 0 && a.steps_path && !(steps = fopen(a.steps_path, "w")))
        rc = lp_err_set(&err, LP_EIO, "cannot write %s", a.steps_path);
    if (rc == 0) {
        ib_header(stdout, &a, "space,model,steps,whole_ms,seq_ms");
        if (steps)
            ib_header(steps, &a, "space,model,step,prim,seq_us");
    }
    for (int i = 0; rc == 0 && i < a.n; i++) {
        lp_model *m = NULL;
        rc = lp_space_sample_checked(sp, reg, a.seed, (uint64_t)i, &m, &err);
        if (rc == 0)
            rc = ib_model(&a, pf, m, flush, steps, &err);
        lp_model_free(m);
        fprintf(stderr, "inmodel_bench: %s: model %d/%d\n", a.space, i + 1, a.n);
    }
    if (rc < 0)
        fprintf(stderr, "inmodel_bench: %s\n", err.msg);
    if (steps)
        fclose(steps);
    lp_space_free(sp);
    free(sp_path);
    lp_platform_free(pf);
    free(pf_path);
    lp_diag_free(&diag);
    lp_registry_close(reg);
    free(flush);
    return rc < 0 ? 1 : 0;
}
