/* `litepred measure`: kernels, whole models, or sampled models of a space,
 * measured on a platform into the store; resumable, with progress. */
#include "cli.h"

#include <getopt.h>
#include <stdlib.h>
#include <string.h>

#include <litepred/measure.h>
#include <litepred/space.h>

static const char usage_text[] =
    "usage: litepred measure --platform P [--db FILE] WHAT [--batch N]\n"
    "\n"
    "Measures on platform P (a name in configs/platforms/ or a path) and stores the results\n"
    "in the SQLite store (default litepred.db). What is stored already is skipped, so an\n"
    "interrupted run resumes where it stopped. Prints a table of what it measured.\n"
    "\n"
    "WHAT is one of:\n"
    "  --kernel K --config \"hw=56,cin=32,cout=64,k=3,s=1,act=relu\"   one kernel configuration\n"
    "  --model FILE                      a whole model, run as one graph\n"
    "  --space S -n N [--seed S]         N models sampled from space S, each run whole;\n"
    "      --kernels                     ...or instead every distinct kernel of those models\n"
    "\n"
    "options:\n"
    "  --db FILE      measurement store (default litepred.db)\n"
    "  --batch N      jobs per committed batch (default 32): a kill loses at most one batch\n"
    "  --quiet        no progress output\n"
    "\n"
    "Jobs the engine cannot run (an unsupported primitive: operator fallback) are reported\n"
    "and not stored; the exit status is then 1.\n";

typedef struct measure_args {
    const char *platform, *db, *kernel, *config, *model, *space, *worker_jobs, *worker_out;
    long n, seed, batch;
    int kernels;
} measure_args;

static int parse_args(int argc, char **argv, measure_args *a)
{
    static const struct option longs[] = {
        {"platform", required_argument, 0, 'p'}, {"db", required_argument, 0, 'd'},
        {"kernel", required_argument, 0, 'k'},   {"config", required_argument, 0, 'c'},
        {"model", required_argument, 0, 'm'},    {"space", required_argument, 0, 's'},
        {"seed", required_argument, 0, 'S'},     {"kernels", no_argument, 0, 'K'},
        {"batch", required_argument, 0, 'b'},    {"worker", required_argument, 0, 'w'},
        {"help", no_argument, 0, 'h'},           {0, 0, 0, 0}};
    char *end;
    int c;
    *a = (measure_args){.db = "litepred.db", .n = -1, .seed = 1, .batch = 32};
    optind = 1;
    opterr = 0;
    while ((c = getopt_long(argc, argv, "n:h", longs, NULL)) != -1) {
        switch (c) {
        case 'p': a->platform = optarg; break;
        case 'd': a->db = optarg; break;
        case 'k': a->kernel = optarg; break;
        case 'c': a->config = optarg; break;
        case 'm': a->model = optarg; break;
        case 's': a->space = optarg; break;
        case 'K': a->kernels = 1; break;
        case 'w': a->worker_jobs = optarg; break;
        case 'n':
        case 'S':
        case 'b': {
            long v = strtol(optarg, &end, 10);
            if (*end || v < (c == 'S' ? 0 : 1))
                return lp_cli_usage_error("measure", "-%s needs a %s integer, got '%s'",
                                          c == 'n' ? "n" : c == 'S' ? "-seed" : "-batch",
                                          c == 'S' ? "non-negative" : "positive", optarg);
            *(c == 'n' ? &a->n : c == 'S' ? &a->seed : &a->batch) = v;
            break;
        }
        case 'h': return -1;
        default:
            return lp_cli_usage_error("measure", "unknown or incomplete option '%s'", argv[optind - 1]);
        }
    }
    if (a->worker_jobs) {
        if (optind != argc - 1)
            return lp_cli_usage_error("measure", "--worker needs JOBS and OUT files");
        a->worker_out = argv[optind];
        return a->platform ? 0 : lp_cli_usage_error("measure", "--worker needs --platform");
    }
    if (optind < argc)
        return lp_cli_usage_error("measure", "unexpected argument '%s'", argv[optind]);
    if (!a->platform)
        return lp_cli_usage_error("measure", "--platform is required");
    int what = !!a->kernel + !!a->model + !!a->space;
    if (what != 1)
        return lp_cli_usage_error("measure", "give exactly one of --kernel, --model, --space");
    if (a->kernel && !a->config)
        return lp_cli_usage_error("measure", "--kernel needs --config");
    if (a->space && a->n < 0)
        return lp_cli_usage_error("measure", "--space needs -n N");
    if ((a->config && !a->kernel) || (a->kernels && !a->space) || (a->n >= 0 && !a->space))
        return lp_cli_usage_error("measure", "--config goes with --kernel; -n and --kernels with --space");
    return 0;
}

/* Jobs and the models they point into, freed together. */
typedef struct job_list {
    lp_job *v;
    size_t n, cap;
    lp_model **models;
    size_t n_models;
} job_list;

static lp_job *job_push(job_list *l)
{
    if (l->n == l->cap) {
        size_t cap = l->cap ? l->cap * 2 : 64;
        lp_job *nv = realloc(l->v, cap * sizeof *nv);
        if (!nv)
            return NULL;
        l->v = nv;
        l->cap = cap;
    }
    memset(&l->v[l->n], 0, sizeof l->v[0]);
    return &l->v[l->n++];
}

static void job_list_free(job_list *l)
{
    for (size_t i = 0; i < l->n_models; i++)
        lp_model_free(l->models[i]);
    free(l->models);
    free(l->v);
}

static int add_kernel_job(job_list *l, const char *type, const lp_kernel_ops *ops,
                          const lp_kcfg *cfg, lp_err *err)
{
    char canon[256];
    lp_kcfg_format(ops->dims, ops->n_dims, cfg, canon, sizeof canon);
    for (size_t i = 0; i < l->n; i++) /* a model repeats configs: measure each once */
        if (!strcmp(l->v[i].kernel_type, type) && !strcmp(l->v[i].config, canon))
            return 0;
    lp_job *j = job_push(l);
    if (!j)
        return lp_err_set(err, LP_ENOMEM, "out of memory");
    snprintf(j->kernel_type, sizeof j->kernel_type, "%s", type);
    snprintf(j->config, sizeof j->config, "%s", canon);
    return 0;
}

static int keep_model(job_list *l, lp_model *m, int kernels, lp_err *err)
{
    lp_model **nm = realloc(l->models, (l->n_models + 1) * sizeof *nm);
    if (!nm) {
        lp_model_free(m);
        return lp_err_set(err, LP_ENOMEM, "out of memory");
    }
    l->models = nm;
    l->models[l->n_models++] = m;
    if (!kernels) {
        lp_job *j = job_push(l);
        if (!j)
            return lp_err_set(err, LP_ENOMEM, "out of memory");
        j->model = m;
        return 0;
    }
    for (size_t i = 0; i < m->n; i++) {
        int rc;
        if (m->k[i].op == LP_MOP_KERNEL &&
            (rc = add_kernel_job(l, m->k[i].type, m->k[i].ops, &m->k[i].cfg, err)) < 0)
            return rc;
    }
    return 0;
}

static int build_jobs(const lp_registry *reg, const measure_args *a, job_list *l, lp_err *err)
{
    if (a->kernel) {
        const lp_plugin *p = lp_registry_find(reg, LP_KIND_KERNEL, a->kernel);
        char names[1024];
        if (!p)
            return lp_err_set(err, LP_ENOTFOUND, "unknown kernel type '%s' (available: %s)",
                              a->kernel, lp_registry_names(reg, LP_KIND_KERNEL, names, sizeof names));
        const lp_kernel_ops *ops = lp_plugin_descriptor(p)->ops;
        lp_kcfg cfg;
        int rc = lp_kcfg_parse(ops->dims, ops->n_dims, a->config, &cfg, err);
        if (rc == 0)
            rc = ops->valid(&cfg, err);
        if (rc < 0)
            return lp_err_prefix(err, "%s --config: ", a->kernel);
        return add_kernel_job(l, a->kernel, ops, &cfg, err);
    }
    if (a->model) {
        lp_model *m = NULL;
        int rc = lp_model_load(reg, a->model, &m, err);
        return rc < 0 ? rc : keep_model(l, m, 0, err);
    }
    char *path = NULL;
    lp_space *sp = NULL;
    int rc = lp_space_find(lp_spaces_dir_default(), a->space, &path, err);
    if (rc == 0)
        rc = lp_space_load(path, &sp, err);
    for (long i = 0; rc == 0 && i < a->n; i++) {
        lp_model *m = NULL;
        if ((rc = lp_space_sample_checked(sp, reg, (uint64_t)a->seed, (uint64_t)i, &m, err)) == 0)
            rc = keep_model(l, m, a->kernels, err);
    }
    lp_space_free(sp);
    free(path);
    return rc;
}

static const char *state_name(lp_job_state s)
{
    switch (s) {
    case LP_JOB_MEASURED: return "measured";
    case LP_JOB_STORED: return "stored";
    case LP_JOB_FAILED: return "FAILED";
    default: return "pending";
    }
}

/* Stored jobs print the stored numbers, so the table always shows every job's latency. */
static void print_table(lp_store *st, const lp_platform *pf, const job_list *l)
{
    lp_platform_info info;
    lp_err err = {0};
    int have_pf = lp_store_platform_get(st, pf->name, &info, &err) == 0;
    printf("%-16s %-52s %10s %7s %6s  %s\n", "KIND", "CONFIG / MODEL", "MEDIAN_MS", "SPREAD",
           "RUNS", "STATUS");
    for (size_t i = 0; i < l->n; i++) {
        const lp_job *j = &l->v[i];
        lp_measure m = {.median_ms = j->timing.median_ms, .spread = j->timing.spread,
                        .runs = j->timing.runs};
        if (j->state == LP_JOB_STORED && have_pf && !j->model)
            lp_store_get_kernel(st, info.id, j->kernel_type, j->config, &m, &err);
        const char *kind = j->model ? "model" : j->kernel_type;
        const char *what = j->model ? j->model->name : j->config;
        if (j->state == LP_JOB_FAILED)
            printf("%-16s %-52s %10s %7s %6s  FAILED: %s\n", kind, what, "-", "-", "-", j->err);
        else if (j->state == LP_JOB_STORED && j->model)
            printf("%-16s %-52s %10s %7s %6s  %s\n", kind, what, "-", "-", "-", state_name(j->state));
        else
            printf("%-16s %-52s %10.4f %6.2f%% %6lld  %s\n", kind, what, m.median_ms,
                   100 * m.spread, (long long)m.runs, state_name(j->state));
    }
}

int lp_cli_measure(lp_cli *cli, int argc, char **argv)
{
    measure_args a;
    int rc = parse_args(argc, argv, &a);
    if (rc < 0 || lp_cli_wants_help(argc, argv)) {
        fputs(usage_text, stdout);
        return LP_EXIT_OK;
    }
    if (rc > 0)
        return rc;
    lp_registry *reg = lp_cli_registry(cli);
    if (!reg)
        return LP_EXIT_FAIL;
    lp_err err = {0};
    lp_diag diag = {0};
    lp_platform *pf = NULL;
    lp_store *st = NULL;
    job_list jobs = {0};
    int status = LP_EXIT_FAIL;
    char *pf_path = lp_platform_path(a.platform, &err);
    if (!pf_path)
        goto fail;
    if (lp_platform_load(reg, pf_path, &pf, &diag, &err) < 0) {
        lp_diag_print(&diag, stderr);
        status = LP_EXIT_USAGE;
        goto fail;
    }
    if (a.worker_jobs) {
        status = lp_campaign_worker(reg, pf, a.worker_jobs, a.worker_out, &err) < 0 ? LP_EXIT_FAIL
                                                                                    : LP_EXIT_OK;
        goto fail;
    }
    if (build_jobs(reg, &a, &jobs, &err) < 0 || lp_store_open(a.db, 0, &st, &err) < 0)
        goto fail;
    lp_campaign_opts o = {.quiet = cli->quiet, .batch = (size_t)a.batch, .plugin_path = cli->plugin_path};
    if (lp_campaign_run(reg, pf, st, jobs.v, jobs.n, &o, &err) < 0)
        goto fail;
    print_table(st, pf, &jobs);
    size_t failed = 0;
    for (size_t i = 0; i < jobs.n; i++)
        failed += jobs.v[i].state == LP_JOB_FAILED;
    if (failed)
        fprintf(stderr, "litepred measure: %zu of %zu jobs failed on %s (not stored)\n", failed,
                jobs.n, pf->name);
    status = failed ? LP_EXIT_FAIL : LP_EXIT_OK;
    err.code = 0;
fail:
    if (err.code && err.msg[0])
        fprintf(stderr, "litepred measure: %s\n", err.msg);
    lp_store_close(st);
    job_list_free(&jobs);
    lp_platform_free(pf);
    lp_diag_free(&diag);
    free(pf_path);
    return status;
}
