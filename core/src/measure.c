/* Measurement campaigns: build, prepare, time, store; resumable and crash-safe. */
#include <litepred/measure.h>

#include <errno.h>
#include <math.h>
#include <spawn.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

extern char **environ;

/* Inputs and weights get the same data on every engine, so outputs compare. */
#define LP_MEASURE_SEED 1

int lp_measure_graph(const lp_platform *pf, const lp_graph *g, lp_timing *t, lp_err *err)
{
    const lp_engine_ops *ops = lp_instance_ops(pf->engine);
    void *run = NULL;
    int rc = ops->prepare(pf->engine->priv, g, &run, err);
    if (rc < 0)
        return rc;
    rc = lp_harness_time(ops, run, &pf->harness, t, err);
    ops->release(run);
    return rc;
}

/* Times a graph the caller has just built (built: the builder's result, negative on
 * failure) with the fixed fill, then frees it either way. With t NULL the engine only
 * prepares and releases it: whether it can run, without timing anything (replay). */
static int measure_built(const lp_platform *pf, lp_graph *g, int built, lp_timing *t,
                         lp_err *err)
{
    int rc = built;
    if (rc >= 0)
        rc = lp_graph_fill(g, LP_MEASURE_SEED, err);
    if (rc >= 0 && t) {
        rc = lp_measure_graph(pf, g, t, err);
    } else if (rc >= 0) {
        const lp_engine_ops *ops = lp_instance_ops(pf->engine);
        void *run = NULL;
        if ((rc = ops->prepare(pf->engine->priv, g, &run, err)) >= 0)
            ops->release(run);
    }
    lp_graph_free(g);
    return rc < 0 ? rc : 0;
}

int lp_measure_kernel(const lp_platform *pf, const lp_kernel_ops *ops, const lp_kcfg *cfg,
                      lp_timing *t, lp_err *err)
{
    lp_graph g;
    lp_graph_init(&g);
    return measure_built(pf, &g, lp_kernel_graph(ops, cfg, &g, NULL, err), t, err);
}

int lp_measure_model(const lp_platform *pf, const lp_model *m, lp_timing *t, lp_err *err)
{
    lp_graph g;
    lp_graph_init(&g);
    return measure_built(pf, &g, lp_model_build(m, &g, err), t, err);
}

/* Resolves a kernel job's type and parses its config. */
static int kernel_job_cfg(const lp_registry *reg, const lp_job *j, const lp_kernel_ops **ops,
                          lp_kcfg *cfg, lp_err *err)
{
    const lp_plugin *p = lp_registry_find(reg, LP_KIND_KERNEL, j->kernel_type);
    if (!p)
        return lp_err_set(err, LP_ENOTFOUND, "unknown kernel type '%s'", j->kernel_type);
    *ops = lp_plugin_descriptor(p)->ops;
    int rc = lp_kcfg_parse((*ops)->dims, (*ops)->n_dims, j->config, cfg, err);
    if (rc < 0)
        return rc;
    return (*ops)->valid(cfg, err);
}

/* Builds a job's graph: the whole model, or the kernel alone with io()'s inputs. */
static int job_graph(const lp_registry *reg, const lp_job *j, lp_graph *g, lp_err *err)
{
    const lp_kernel_ops *ops = NULL;
    lp_kcfg cfg;
    if (j->model)
        return lp_model_build(j->model, g, err);
    int rc = kernel_job_cfg(reg, j, &ops, &cfg, err);
    return rc < 0 ? rc : lp_kernel_graph(ops, &cfg, g, NULL, err);
}

/* Measures one job in this process (or with time_it 0 only checks that the engine can
 * prepare it, leaving it pending); an engine failure marks the job, it is not fatal. */
static void run_job(const lp_registry *reg, const lp_platform *pf, lp_job *j, int time_it)
{
    lp_err err = {0};
    lp_graph g;
    lp_graph_init(&g);
    int rc = measure_built(pf, &g, job_graph(reg, j, &g, &err), time_it ? &j->timing : NULL, &err);
    if (rc < 0) {
        j->state = LP_JOB_FAILED;
        j->err_code = rc;
        snprintf(j->err, sizeof j->err, "%s", err.msg);
    } else {
        j->state = time_it ? LP_JOB_MEASURED : LP_JOB_PENDING;
    }
}

static void measure_job(const lp_registry *reg, const lp_platform *pf, lp_job *j)
{
    run_job(reg, pf, j, 1);
}

/* ---- pooled launches: worker processes ------------------------------------ */

/* Job file lines: "K\t<type>\t<config>" or "M\t<model file>". Result lines: "OK <median>
 * <mean> <min> <p95> <spread> <ci> <runs> <stable>" or "ERR <code> <message>". */

static int write_jobs(const char *dir, lp_job **jobs, size_t n, char **path, lp_err *err)
{
    if (asprintf(path, "%s/jobs.txt", dir) < 0)
        return lp_err_set(err, LP_ENOMEM, "out of memory");
    FILE *f = fopen(*path, "w");
    if (!f)
        return lp_err_set(err, LP_EIO, "%s: %s", *path, strerror(errno));
    int rc = 0;
    for (size_t i = 0; i < n && rc == 0; i++) {
        if (!jobs[i]->model) {
            fprintf(f, "K\t%s\t%s\n", jobs[i]->kernel_type, jobs[i]->config);
            continue;
        }
        char *mp = NULL;
        if (asprintf(&mp, "%s/model-%zu.yaml", dir, i) < 0)
            rc = lp_err_set(err, LP_ENOMEM, "out of memory");
        else if ((rc = lp_model_save(jobs[i]->model, mp, err)) == 0)
            fprintf(f, "M\t%s\n", mp);
        free(mp);
    }
    if (fclose(f) != 0 && rc == 0)
        rc = lp_err_set(err, LP_EIO, "%s: write failed", *path);
    return rc;
}

static int spawn_worker(const lp_campaign_opts *o, const lp_platform *pf, const char *jobs,
                        const char *out, lp_err *err)
{
    const char *exe = o->exe ? o->exe : "/proc/self/exe";
    char *argv[12];
    int a = 0;
    argv[a++] = (char *)"litepred";
    if (o->plugin_path) {
        argv[a++] = (char *)"--plugin-path";
        argv[a++] = (char *)o->plugin_path;
    }
    argv[a++] = (char *)"--quiet";
    argv[a++] = (char *)"measure";
    argv[a++] = (char *)"--platform";
    argv[a++] = pf->path;
    argv[a++] = (char *)"--worker";
    argv[a++] = (char *)jobs;
    argv[a++] = (char *)out;
    argv[a] = NULL;
    pid_t pid;
    int st, rc = posix_spawn(&pid, exe, NULL, NULL, argv, environ);
    if (rc != 0)
        return lp_err_set(err, LP_EIO, "cannot start a measuring worker (%s): %s", exe, strerror(rc));
    while (waitpid(pid, &st, 0) < 0)
        if (errno != EINTR)
            return lp_err_set(err, LP_EIO, "waiting for a measuring worker: %s", strerror(errno));
    if (!WIFEXITED(st) || WEXITSTATUS(st) != 0)
        return lp_err_set(err, LP_EIO, "a measuring worker failed (%s %d); its jobs are not stored",
                          WIFEXITED(st) ? "exit status" : "signal",
                          WIFEXITED(st) ? WEXITSTATUS(st) : WTERMSIG(st));
    return 0;
}

/* Reads one launch's results into per-job slots res[i * launches + launch]. */
static int read_results(const char *out, lp_job **jobs, size_t n, lp_timing *res, size_t launch,
                        size_t launches, lp_err *err)
{
    FILE *f = fopen(out, "r");
    if (!f)
        return lp_err_set(err, LP_EIO, "%s: %s", out, strerror(errno));
    char line[1024];
    size_t i = 0;
    int rc = 0;
    for (; i < n && fgets(line, sizeof line, f); i++) {
        lp_timing *t = &res[i * launches + launch];
        long long runs;
        int code, off = 0;
        if (sscanf(line, "OK %lf %lf %lf %lf %lf %lf %lld %d", &t->median_ms, &t->mean_ms, &t->min_ms,
                   &t->p95_ms, &t->spread, &t->ci_rel, &runs, &t->stable) == 8) {
            t->runs = runs;
        } else if (sscanf(line, "ERR %d %n", &code, &off) == 1 && off > 0) {
            line[strcspn(line, "\n")] = '\0';
            jobs[i]->state = LP_JOB_FAILED;
            jobs[i]->err_code = code;
            snprintf(jobs[i]->err, sizeof jobs[i]->err, "%s", line + off);
        } else {
            rc = lp_err_set(err, LP_EPARSE, "%s:%zu: malformed worker result", out, i + 1);
            break;
        }
    }
    fclose(f);
    if (rc == 0 && i != n)
        rc = lp_err_set(err, LP_EPARSE, "%s: %zu results for %zu jobs", out, i, n);
    return rc;
}

/* Pooled median = median of the launch medians (2-thread medians jump between launches);
 * spread = the larger of the typical within-launch spread and the between-launch range. */
static void pool(const lp_timing *t, size_t launches, lp_timing *out)
{
    double med[64], spr[64], mean = 0, mn = INFINITY, p95 = 0, ci = 0;
    int64_t runs = 0;
    int stable = 1;
    for (size_t l = 0; l < launches; l++) {
        med[l] = t[l].median_ms;
        spr[l] = t[l].spread;
        mean += t[l].mean_ms / (double)launches;
        mn = fmin(mn, t[l].min_ms);
        p95 = fmax(p95, t[l].p95_ms);
        ci = fmax(ci, t[l].ci_rel);
        runs += t[l].runs;
        stable &= t[l].stable;
    }
    double m = lp_median(med, launches), s = lp_median(spr, launches); /* med is sorted now */
    *out = (lp_timing){.median_ms = m, .mean_ms = mean, .min_ms = mn, .p95_ms = p95,
                       .spread = fmax(s, (med[launches - 1] - med[0]) / m), .ci_rel = ci,
                       .runs = runs, .stable = stable};
}

static int measure_pooled(const lp_platform *pf, lp_job **jobs, size_t n,
                          const lp_campaign_opts *o, lp_err *err)
{
    size_t launches = (size_t)pf->harness.launches;
    char dir[] = "/tmp/litepred-campaign-XXXXXX";
    char *jobs_path = NULL, *out = NULL;
    lp_timing *res = calloc(n * launches, sizeof *res);
    int rc = 0;
    if (!res)
        return lp_err_set(err, LP_ENOMEM, "out of memory");
    if (!mkdtemp(dir)) {
        free(res);
        return lp_err_set(err, LP_EIO, "cannot create a temporary directory: %s", strerror(errno));
    }
    if ((rc = write_jobs(dir, jobs, n, &jobs_path, err)) < 0)
        goto fail;
    if (asprintf(&out, "%s/results.txt", dir) < 0) {
        rc = lp_err_set(err, LP_ENOMEM, "out of memory");
        goto fail;
    }
    for (size_t l = 0; l < launches; l++)
        if ((rc = spawn_worker(o, pf, jobs_path, out, err)) < 0 ||
            (rc = read_results(out, jobs, n, res, l, launches, err)) < 0)
            goto fail;
    for (size_t i = 0; i < n; i++)
        if (jobs[i]->state != LP_JOB_FAILED) {
            pool(&res[i * launches], launches, &jobs[i]->timing);
            jobs[i]->state = LP_JOB_MEASURED;
        }
fail:
    if (jobs_path || out) {
        char *cmd = NULL;
        if (asprintf(&cmd, "rm -rf '%s'", dir) >= 0 && system(cmd) != 0)
            rc = rc ? rc : 0; /* a leftover temp dir is not worth failing a campaign over */
        free(cmd);
    } else {
        rmdir(dir);
    }
    free(jobs_path);
    free(out);
    free(res);
    return rc;
}

int lp_campaign_worker(const lp_registry *reg, const lp_platform *pf, const char *jobs_path,
                       const char *out_path, lp_err *err)
{
    FILE *in = fopen(jobs_path, "r"), *out = NULL;
    char line[2048];
    int rc = 0;
    lp_harness_env env;
    if (!in)
        return lp_err_set(err, LP_EIO, "%s: %s", jobs_path, strerror(errno));
    if (!(out = fopen(out_path, "w"))) {
        fclose(in);
        return lp_err_set(err, LP_EIO, "%s: %s", out_path, strerror(errno));
    }
    if ((rc = lp_harness_enter(&pf->harness, &env, err)) < 0)
        goto done;
    while (rc == 0 && fgets(line, sizeof line, in)) {
        line[strcspn(line, "\n")] = '\0';
        lp_job j = {0};
        lp_model *m = NULL;
        char *tab = strchr(line, '\t'), *tab2 = tab ? strchr(tab + 1, '\t') : NULL;
        if (line[0] == 'K' && tab && tab2) {
            *tab2 = '\0';
            snprintf(j.kernel_type, sizeof j.kernel_type, "%s", tab + 1);
            snprintf(j.config, sizeof j.config, "%s", tab2 + 1);
        } else if (line[0] == 'M' && tab) {
            if ((rc = lp_model_load(reg, tab + 1, &m, err)) < 0)
                break;
            j.model = m;
        } else {
            rc = lp_err_set(err, LP_EPARSE, "%s: malformed job line '%s'", jobs_path, line);
            break;
        }
        measure_job(reg, pf, &j);
        lp_model_free(m);
        if (j.state == LP_JOB_FAILED)
            fprintf(out, "ERR %d %s\n", j.err_code, j.err);
        else
            fprintf(out, "OK %.9g %.9g %.9g %.9g %.9g %.9g %lld %d\n", j.timing.median_ms,
                    j.timing.mean_ms, j.timing.min_ms, j.timing.p95_ms, j.timing.spread,
                    j.timing.ci_rel, (long long)j.timing.runs, j.timing.stable);
        fflush(out);
    }
    lp_harness_leave(&env);
done:
    fclose(in);
    if (fclose(out) != 0 && rc == 0)
        rc = lp_err_set(err, LP_EIO, "%s: write failed", out_path);
    return rc;
}

/* ---- the campaign -------------------------------------------------------- */

typedef struct campaign {
    const lp_platform *pf;
    lp_store *st;
    int64_t platform_id;
    lp_measure proto; /* machine id and engine version shared by every row */
} campaign;

static int campaign_open(campaign *c, const lp_platform *pf, lp_store *st, lp_err *err)
{
    lp_machine mach;
    const lp_engine_ops *ops = lp_instance_ops(pf->engine);
    memset(c, 0, sizeof *c);
    c->pf = pf;
    c->st = st;
    int rc = lp_machine_fingerprint(&mach, 0, err);
    if (rc == 0)
        rc = lp_store_machine_id(st, &mach, &c->proto.machine_id, err);
    if (rc == 0)
        rc = lp_store_platform_add(st, pf->name, pf->engine->desc->name, pf->engine_options,
                                   &c->platform_id, err);
    if (rc == 0)
        snprintf(c->proto.engine_version, sizeof c->proto.engine_version, "%s",
                 LP_OPS_HAS(ops, lp_engine_ops, version) ? ops->version(pf->engine->priv)
                                                         : pf->engine->desc->name);
    return rc;
}

/* Model rows are keyed by their text, so a re-sampled identical model is the same row. */
static int model_id(campaign *c, const lp_model *m, int64_t *id, lp_err *err)
{
    char *text = NULL;
    int rc = lp_model_to_yaml(m, &text, err);
    if (rc == 0)
        rc = lp_store_model_add(c->st, NULL, m->name, m->space ? m->space : "", text, id, err);
    free(text);
    return rc;
}

static int job_stored(campaign *c, lp_job *j, lp_err *err)
{
    int64_t id;
    if (!j->model)
        return lp_store_has_kernel(c->st, c->platform_id, j->kernel_type, j->config, err);
    int rc = model_id(c, j->model, &id, err);
    return rc < 0 ? rc : lp_store_has_model(c->st, c->platform_id, id, err);
}

static int store_batch(campaign *c, lp_job **b, size_t n, lp_err *err)
{
    int rc = lp_store_begin(c->st, err);
    for (size_t i = 0; rc == 0 && i < n; i++) {
        if (b[i]->state != LP_JOB_MEASURED)
            continue;
        lp_measure m = c->proto;
        m.median_ms = b[i]->timing.median_ms;
        m.mean_ms = b[i]->timing.mean_ms;
        m.spread = b[i]->timing.spread;
        m.runs = b[i]->timing.runs;
        int64_t id;
        if (!b[i]->model)
            rc = lp_store_put_kernel(c->st, c->platform_id, b[i]->kernel_type, b[i]->config, &m,
                                     NULL, err);
        else if ((rc = model_id(c, b[i]->model, &id, err)) == 0)
            rc = lp_store_put_model(c->st, c->platform_id, id, &m, NULL, err);
    }
    if (rc < 0) {
        lp_store_rollback(c->st, NULL);
        return rc;
    }
    return lp_store_commit(c->st, err);
}

/* Replaying results on another machine, or beside a measuring run, must not time anything.
 * Failures are not stored, so each unstored job is prepared (not run) to tell a job the
 * engine cannot run, failed as in a measuring run, from one that is missing; the first
 * missing job is named so the user can see which part of a pipeline changed. */
static int replay_unstored(const lp_registry *reg, const lp_platform *pf, lp_job **todo,
                           size_t n_todo, size_t n, lp_err *err)
{
    const lp_job *first = NULL;
    size_t missing = 0;
    for (size_t i = 0; i < n_todo; i++) {
        run_job(reg, pf, todo[i], 0);
        if (todo[i]->state != LP_JOB_FAILED && !missing++)
            first = todo[i];
    }
    if (!missing)
        return 0;
    return lp_err_set(err, LP_ENOTFOUND,
                      "platform %s: %zu of %zu %s are not in the store (first: %s %s); "
                      "replay measures nothing", pf->name, missing, n, first->model ? "models" : "kernels",
                      first->model ? "model" : first->kernel_type,
                      first->model ? first->model->name : first->config);
}

int lp_campaign_run(const lp_registry *reg, const lp_platform *pf, lp_store *st, lp_job *jobs,
                    size_t n, const lp_campaign_opts *o, lp_err *err)
{
    campaign c;
    lp_job **todo = calloc(n ? n : 1, sizeof *todo);
    size_t n_todo = 0, batch = o->batch ? o->batch : 32, done = 0;
    lp_harness_env env = {0};
    int rc, pooled = pf->harness.launches > 1, entered = 0;
    if (!todo)
        return lp_err_set(err, LP_ENOMEM, "out of memory");
    if ((rc = campaign_open(&c, pf, st, err)) < 0)
        goto done;
    for (size_t i = 0; i < n; i++) {
        if ((rc = job_stored(&c, &jobs[i], err)) < 0)
            goto done;
        jobs[i].state = rc ? LP_JOB_STORED : LP_JOB_PENDING;
        if (!rc)
            todo[n_todo++] = &jobs[i];
    }
    rc = 0;
    if (n_todo == 0)
        goto done;
    if (o->replay) {
        rc = replay_unstored(reg, pf, todo, n_todo, n, err);
        goto done;
    }
    /* Workers pin themselves; pinning this process too would squeeze them onto one core. */
    if (!pooled && (rc = lp_harness_enter(&pf->harness, &env, err)) < 0)
        goto done;
    entered = !pooled;
    lp_progress *prog = lp_progress_start(pf->name, n_todo, o->quiet);
    for (size_t s = 0; s < n_todo && rc == 0; s += batch) {
        size_t k = n_todo - s < batch ? n_todo - s : batch;
        if (pooled) {
            rc = measure_pooled(pf, todo + s, k, o, err);
        } else {
            for (size_t i = 0; i < k; i++) {
                measure_job(reg, pf, todo[s + i]);
                lp_progress_update(prog, ++done);
            }
        }
        if (rc == 0)
            rc = store_batch(&c, todo + s, k, err);
        if (pooled)
            lp_progress_update(prog, done += k);
    }
    lp_progress_end(prog);
done:
    if (entered)
        lp_harness_leave(&env);
    free(todo);
    return rc;
}
