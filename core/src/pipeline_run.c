/* Running pipelines: build (sample, measure, train, write a pool) and
 * evaluate (sample models, measure them whole, predict, report). */
#include <litepred/measure.h>
#include <litepred/pipeline.h>
#include <litepred/pool.h>
#include <litepred/sampler.h>
#include <litepred/space.h>

#include <errno.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "pipeline_int.h"

const char *const pl_sampler_skip[] = {"plugin", "count", "seed", "rounds", "prior_models", NULL};
const char *const pl_plugin_skip[] = {"plugin", NULL};

/* mkdir -p */
int pl_make_dirs(const char *path, lp_err *err)
{
    char buf[4096];
    if (snprintf(buf, sizeof buf, "%s", path) >= (int)sizeof buf)
        return lp_err_set(err, LP_EINVAL, "path too long: %s", path);
    for (char *s = buf + 1;; s++) {
        char c = *s;
        if (c == '/' || c == '\0') {
            *s = '\0';
            if (mkdir(buf, 0777) != 0 && errno != EEXIST)
                return lp_err_set(err, LP_EIO, "cannot create directory %s: %s", buf, strerror(errno));
            *s = c;
        }
        if (!c)
            return 0;
    }
}

/* A plugin instance from a pipeline reference; option problems are printed as diagnostics. */
int pl_instance_of(const lp_pipeline *p, const lp_plugin_ref *ref, const char *const *skip,
                       lp_instance **out, lp_err *err)
{
    lp_diag d = {0};
    const lp_ynode *opts = ref->node && ref->node->type == LP_Y_MAP ? ref->node : NULL;
    int rc = lp_instance_create_skip(ref->plugin, opts, skip, p->path, out, &d, err);
    if (rc < 0 && d.n)
        lp_err_set(err, rc, "%s", d.msgs[0]);
    lp_diag_free(&d);
    return rc;
}

int pl_load_platform(const lp_registry *reg, const char *name, lp_platform **pf, lp_err *err)
{
    lp_diag d = {0};
    char *path = lp_platform_path(name, err);
    if (!path)
        return err->code;
    int rc = lp_platform_load(reg, path, pf, &d, err);
    if (rc < 0 && d.n)
        lp_err_set(err, rc, "%s", d.msgs[0]);
    lp_diag_free(&d);
    free(path);
    return rc;
}

int pl_env_open(pl_env *e, const lp_registry *reg, const lp_pipeline *p, const lp_run_opts *o,
                const char *platform, lp_err *err)
{
    *e = (pl_env){.reg = reg, .p = p, .o = o};
    int rc = pl_load_platform(reg, platform, &e->pf, err);
    if (rc == 0)
        rc = lp_store_open(p->store, 0, &e->st, err);
    if (rc == 0)
        rc = lp_store_platform_add(e->st, e->pf->name, e->pf->engine->desc->name,
                                   e->pf->engine_options, &e->pid, err);
    return rc;
}

void pl_env_close(pl_env *e)
{
    lp_store_close(e->st);
    lp_platform_free(e->pf);
    e->st = NULL;
    e->pf = NULL;
}

/* ---- a set of kernel configs with their measurements ------------------------ */


void pl_kset_free(pl_kset *s)
{
    free(s->jobs);
    free(s->cfgs);
    memset(s, 0, sizeof *s);
}

/* Adds cfg unless an equal config is in the set; returns 1 when added. */
int pl_kset_add(pl_kset *s, const char *type, const lp_kernel_ops *kops, const lp_kcfg *cfg)
{
    for (size_t i = 0; i < s->n; i++)
        if (!memcmp(s->cfgs[i].v, cfg->v, sizeof cfg->v))
            return 0;
    if (s->n == s->cap) {
        size_t cap = s->cap ? s->cap * 2 : 256;
        lp_job *nj = realloc(s->jobs, cap * sizeof *nj);
        if (nj)
            s->jobs = nj;
        lp_kcfg *nc = realloc(s->cfgs, cap * sizeof *nc);
        if (nc)
            s->cfgs = nc;
        if (!nj || !nc)
            return LP_ENOMEM;
        s->cap = cap;
    }
    memset(&s->jobs[s->n], 0, sizeof s->jobs[0]);
    snprintf(s->jobs[s->n].kernel_type, sizeof s->jobs[s->n].kernel_type, "%s", type);
    lp_kcfg_format(kops->dims, kops->n_dims, cfg, s->jobs[s->n].config, sizeof s->jobs[s->n].config);
    s->cfgs[s->n++] = *cfg;
    return 1;
}

/* Measures every config of s not yet measured (stored ones are read back). */
int pl_kset_measure(const lp_registry *reg, const lp_platform *pf, lp_store *st, pl_kset *s,
                        size_t from, const lp_run_opts *o, lp_err *err)
{
    lp_campaign_opts co = {.quiet = o->quiet, .plugin_path = o->plugin_path, .replay = o->replay};
    return lp_campaign_run(reg, pf, st, s->jobs + from, s->n - from, &co, err);
}

/* Latency of job i in ms from the store (works for measured and already-stored jobs). */
int pl_job_latency(lp_store *st, int64_t platform_id, const lp_job *j, double *ms, lp_err *err)
{
    lp_measure m;
    int rc = lp_store_get_kernel(st, platform_id, j->kernel_type, j->config, &m, err);
    if (rc == 0)
        *ms = m.median_ms;
    return rc;
}


void pl_rows_free(pl_rows *r)
{
    free(r->x);
    free(r->y);
    free(r->cfgs);
    memset(r, 0, sizeof *r);
}

int pl_rows_from(const pl_kset *s, const size_t *idx, size_t n, const double *lat,
                     const lp_kernel_ops *kops, pl_rows *r, lp_err *err)
{
    size_t nf = kops->n_features;
    r->x = malloc((n ? n : 1) * nf * sizeof *r->x);
    r->y = malloc((n ? n : 1) * sizeof *r->y);
    r->cfgs = malloc((n ? n : 1) * sizeof *r->cfgs);
    r->n = n;
    if (!r->x || !r->y || !r->cfgs)
        return lp_err_set(err, LP_ENOMEM, "out of memory");
    for (size_t i = 0; i < n; i++) {
        kops->features(&s->cfgs[idx[i]], r->x + i * nf);
        r->y[i] = (float)lat[idx[i]];
        r->cfgs[i] = s->cfgs[idx[i]];
    }
    return 0;
}

/* ---- accuracy ------------------------------------------------------------------ */


void pl_acc_add(pl_acc *a, double meas, double pred)
{
    double e = pred - meas, r = e / meas;
    a->n++;
    a->se += e * e;
    a->spe += r * r;
    a->within5 += fabs(r) <= 0.05;
    a->within10 += fabs(r) <= 0.10;
}

double pl_acc_rmse(const pl_acc *a) { return a->n ? sqrt(a->se / (double)a->n) : NAN; }
double pl_acc_rmspe(const pl_acc *a) { return a->n ? 100 * sqrt(a->spe / (double)a->n) : NAN; }
double pl_acc_p5(const pl_acc *a) { return a->n ? 100 * a->within5 / (double)a->n : NAN; }
double pl_acc_p10(const pl_acc *a) { return a->n ? 100 * a->within10 / (double)a->n : NAN; }

/* ---- build ------------------------------------------------------------------------- */

typedef struct build_ctx {
    pl_env env;
    char *pool_dir;
} build_ctx;

/* Shuffled index pl_split: the first n_val indices validate. */
void pl_split(size_t *idx, size_t n, uint64_t seed)
{
    lp_rng rng;
    lp_rng_seed(&rng, seed);
    for (size_t i = 0; i < n; i++)
        idx[i] = i;
    for (size_t i = n; i > 1; i--) {
        size_t j = (size_t)lp_rng_below(&rng, i);
        size_t t = idx[i - 1];
        idx[i - 1] = idx[j];
        idx[j] = t;
    }
}

/* Trains a fresh predictor on the listed pl_rows; validates on the others. */
static int train_on(build_ctx *b, const char *type, const lp_kernel_ops *kops, const pl_kset *s,
                    const double *lat, const size_t *idx, size_t n, size_t n_val,
                    lp_instance **pred, lp_train_report *rep, double *acc10, lp_err *err)
{
    pl_rows tr = {0}, va = {0};
    int rc = pl_instance_of(b->env.p, &b->env.p->predictor, pl_plugin_skip, pred, err);
    if (rc == 0)
        rc = pl_rows_from(s, idx + n_val, n - n_val, lat, kops, &tr, err);
    if (rc == 0)
        rc = pl_rows_from(s, idx, n_val, lat, kops, &va, err);
    if (rc < 0)
        goto done;
    lp_dataset dtr = {.kernel_type = type, .n = tr.n, .n_features = kops->n_features, .x = tr.x, .y = tr.y};
    lp_dataset dva = {.kernel_type = type, .n = va.n, .n_features = kops->n_features, .x = va.x, .y = va.y};
    const lp_predictor_ops *po = lp_instance_ops(*pred);
    if ((rc = po->train((*pred)->priv, &dtr, va.n ? &dva : NULL, NULL, rep, err)) < 0)
        goto done;
    *acc10 = NAN;
    if (va.n) {
        float *out = malloc(va.n * sizeof *out);
        if (!out || (rc = po->predict((*pred)->priv, va.x, va.n, out, err)) < 0) {
            free(out);
            rc = rc < 0 ? rc : lp_err_set(err, LP_ENOMEM, "out of memory");
            goto done;
        }
        size_t ok = 0;
        for (size_t i = 0; i < va.n; i++)
            ok += fabs(out[i] - va.y[i]) / va.y[i] <= 0.10;
        *acc10 = (double)ok / (double)va.n;
        free(out);
    }
done:
    pl_rows_free(&tr);
    pl_rows_free(&va);
    return rc;
}

int pl_kset_collect(lp_store *st, int64_t pid, pl_kset *s, double **lat, lp_err *err)
{
    size_t k = 0;
    *lat = malloc((s->n ? s->n : 1) * sizeof **lat);
    if (!*lat)
        return lp_err_set(err, LP_ENOMEM, "out of memory");
    for (size_t i = 0; i < s->n; i++) {
        if (s->jobs[i].state == LP_JOB_FAILED)
            continue;
        int rc = pl_job_latency(st, pid, &s->jobs[i], &(*lat)[k], err);
        if (rc < 0)
            return rc;
        s->jobs[k] = s->jobs[i];
        s->cfgs[k++] = s->cfgs[i];
    }
    s->n = k;
    return 0;
}

int pl_profiling_seconds(lp_store *st, int64_t pid, const lp_platform *pf, const pl_kset *s,
                         size_t n, double *sec, lp_err *err)
{
    for (size_t i = 0; i < n; i++) {
        lp_measure m;
        int rc = lp_store_get_kernel(st, pid, s->jobs[i].kernel_type, s->jobs[i].config, &m, err);
        if (rc < 0)
            return rc;
        *sec += (double)(m.runs + pf->harness.warmup) * m.mean_ms / 1e3;
    }
    return 0;
}

static int collect(build_ctx *b, pl_kset *s, double **lat, lp_err *err)
{
    return pl_kset_collect(b->env.st, b->env.pid, s, lat, err);
}

/* nn-Meter's fine-grained rounds: fit on 80%, feed the 20% test errors back, measure what
 * the sampler spawns. */
int pl_test_errors(const pl_env *e, const char *type, const lp_kernel_ops *kops, const pl_kset *t,
                   const double *lat, uint64_t seed, lp_kcfg **tc, double **rel, size_t *n_test,
                   lp_err *err)
{
    size_t n = t->n, nt = n / 5;
    size_t *idx = malloc((n ? n : 1) * sizeof *idx);
    lp_instance *pred = NULL;
    pl_rows tr = {0}, te = {0};
    float *y = malloc((nt ? nt : 1) * sizeof *y);
    *tc = malloc((nt ? nt : 1) * sizeof **tc);
    *rel = malloc((nt ? nt : 1) * sizeof **rel);
    *n_test = nt;
    int rc = idx && y && *tc && *rel ? pl_instance_of(e->p, &e->p->predictor, pl_plugin_skip, &pred, err)
                                     : lp_err_set(err, LP_ENOMEM, "out of memory");
    if (rc == 0) {
        pl_split(idx, n, seed);
        rc = pl_rows_from(t, idx + nt, n - nt, lat, kops, &tr, err);
    }
    if (rc == 0)
        rc = pl_rows_from(t, idx, nt, lat, kops, &te, err);
    const lp_predictor_ops *po = pred ? lp_instance_ops(pred) : NULL;
    if (rc == 0) {
        lp_dataset d = {.kernel_type = type, .n = tr.n, .n_features = kops->n_features, .x = tr.x, .y = tr.y};
        rc = po->train(pred->priv, &d, NULL, NULL, NULL, err);
    }
    if (rc == 0 && nt)
        rc = po->predict(pred->priv, te.x, nt, y, err);
    for (size_t i = 0; rc == 0 && i < nt; i++) {
        (*tc)[i] = te.cfgs[i];
        (*rel)[i] = fabs(y[i] - lat[idx[i]]) / lat[idx[i]];
    }
    pl_rows_free(&tr);
    pl_rows_free(&te);
    lp_instance_destroy(pred);
    free(idx);
    free(y);
    return rc;
}

/* nn-Meter's fine-grained rounds: fit on 80%, feed the 20% test errors back, measure what
 * the sampler spawns. */
static int feedback_rounds(build_ctx *b, const char *type, const lp_kernel_ops *kops,
                           lp_instance *smp, pl_kset *s, lp_err *err)
{
    for (int64_t r = 0; r < b->env.p->rounds; r++) {
        double *lat = NULL, *rel = NULL;
        lp_kcfg *tc = NULL;
        size_t n_test = 0;
        int rc = collect(b, s, &lat, err);
        if (rc == 0)
            rc = pl_test_errors(&b->env, type, kops, s, lat, (uint64_t)b->env.p->seed + 1000 + (uint64_t)r,
                                &tc, &rel, &n_test, err);
        int queued = rc == 0 ? lp_sampler_feedback(smp, tc, rel, n_test, err) : rc;
        size_t from = s->n;
        if (queued > 0) {
            lp_kcfg *more = malloc((size_t)queued * sizeof *more);
            rc = more ? lp_sampler_sample(smp, kops, (size_t)queued, more, err)
                      : lp_err_set(err, LP_ENOMEM, "out of memory");
            for (int i = 0; rc == 0 && i < queued; i++)
                if (pl_kset_add(s, type, kops, &more[i]) < 0)
                    rc = lp_err_set(err, LP_ENOMEM, "out of memory");
            free(more);
            if (rc == 0)
                rc = pl_kset_measure(b->env.reg, b->env.pf, b->env.st, s, from, b->env.o, err);
        } else if (queued < 0) {
            rc = queued;
        }
        if (!b->env.o->quiet && rc == 0)
            fprintf(stderr, "%s: round %lld: %zu test configs, %d spawned, %zu measured in all\n",
                    type, (long long)r + 1, n_test, queued, s->n);
        free(lat);
        free(rel);
        free(tc);
        if (rc < 0)
            return rc;
        if (queued == 0)
            break;
    }
    return 0;
}

/* <pool>/<type>.configs lists every config the predictor saw (training and validation), so
 * an evaluation can hold them out. */
int pl_write_configs(const char *dir, const char *type, const pl_kset *s, lp_err *err)
{
    char *path = NULL;
    if (asprintf(&path, "%s/%s.configs", dir, type) < 0)
        return lp_err_set(err, LP_ENOMEM, "out of memory");
    FILE *f = fopen(path, "w");
    int rc = 0;
    if (!f)
        rc = lp_err_set(err, LP_EIO, "%s: %s", path, strerror(errno));
    for (size_t i = 0; f && i < s->n; i++)
        fprintf(f, "%s\n", s->jobs[i].config);
    if (f && fclose(f) != 0)
        rc = lp_err_set(err, LP_EIO, "%s: write failed", path);
    free(path);
    return rc;
}

static int build_kernel(build_ctx *b, const char *type, lp_pool_meta *meta, lp_err *err)
{
    const lp_plugin *kp = lp_registry_find(b->env.reg, LP_KIND_KERNEL, type);
    const lp_kernel_ops *kops = lp_plugin_descriptor(kp)->ops;
    lp_prior prior = {0};
    lp_instance *smp = NULL, *pred = NULL;
    pl_kset s = {0};
    lp_kcfg *drawn = malloc((size_t)b->env.p->count * sizeof *drawn);
    double *lat = NULL;
    size_t *idx = NULL;
    int rc = drawn ? 0 : lp_err_set(err, LP_ENOMEM, "out of memory");
    if (rc == 0)
        rc = lp_prior_build(b->env.reg, NULL, type, (size_t)b->env.p->prior_models, (uint64_t)b->env.p->seed,
                            &prior, err);
    if (rc == 0)
        rc = pl_instance_of(b->env.p, &b->env.p->sampler, pl_sampler_skip, &smp, err);
    lp_sampler_ctx ctx;
    if (rc == 0) {
        lp_sampler_ctx_init(&ctx, type, kops, (uint64_t)b->env.p->seed, &prior);
        rc = lp_sampler_setup(smp, &ctx, err);
    }
    if (rc == 0)
        rc = lp_sampler_sample(smp, kops, (size_t)b->env.p->count, drawn, err);
    for (int64_t i = 0; rc == 0 && i < b->env.p->count; i++)
        if (pl_kset_add(&s, type, kops, &drawn[i]) < 0)
            rc = lp_err_set(err, LP_ENOMEM, "out of memory");
    uint64_t t0 = lp_now_ns();
    if (rc == 0)
        rc = pl_kset_measure(b->env.reg, b->env.pf, b->env.st, &s, 0, b->env.o, err);
    if (rc == 0)
        rc = feedback_rounds(b, type, kops, smp, &s, err);
    double wall = (double)(lp_now_ns() - t0) / 1e9;
    size_t drawn_distinct = s.n;
    if (rc == 0)
        rc = collect(b, &s, &lat, err);
    meta->measure_seconds = 0;
    if (rc == 0)
        rc = pl_profiling_seconds(b->env.st, b->env.pid, b->env.pf, &s, s.n, &meta->measure_seconds, err);
    if (rc == 0 && !b->env.o->quiet)
        fprintf(stderr, "%s: %zu configs measured (%.1f s in this run), profiling %.1f s\n", type,
                s.n, wall, meta->measure_seconds);
    /* A kernel type the spaces use in only a few shapes (a prior sampler then draws only
     * those) still gets a predictor for exactly those shapes; below 2 there is nothing to fit. */
    if (rc == 0 && s.n < 2)
        rc = lp_err_set(err, LP_EUNSUPPORTED, "%s: %zu distinct configs drawn, %zu measurable on "
                        "%s (the rest use primitives the engine lacks); cannot train", type,
                        drawn_distinct, s.n, b->env.pf->name);
    if (rc == 0 && !(idx = malloc(s.n * sizeof *idx)))
        rc = lp_err_set(err, LP_ENOMEM, "out of memory");
    lp_train_report rep = {0};
    if (rc == 0) {
        pl_split(idx, s.n, (uint64_t)b->env.p->seed);
        size_t n_val = (size_t)((double)s.n * b->env.p->validation);
        rc = train_on(b, type, kops, &s, lat, idx, s.n, n_val, &pred, &rep, &meta->val_acc10, err);
    }
    if (rc == 0)
        rc = pl_write_configs(b->pool_dir, type, &s, err);
    if (rc == 0) {
        snprintf(meta->kernel_type, sizeof meta->kernel_type, "%s", type);
        snprintf(meta->predictor, sizeof meta->predictor, "%s", pred->desc->name);
        snprintf(meta->sampler, sizeof meta->sampler, "%s", smp->desc->name);
        snprintf(meta->file, sizeof meta->file, "%s.%s", type, pred->desc->name);
        meta->samples = (int64_t)s.n;
        meta->train_seconds = rep.seconds;
        meta->val_mape = rep.val_mape;
        char *path = NULL;
        if (asprintf(&path, "%s/%s", b->pool_dir, meta->file) < 0)
            rc = lp_err_set(err, LP_ENOMEM, "out of memory");
        else
            rc = ((const lp_predictor_ops *)lp_instance_ops(pred))->save(pred->priv, path, err);
        free(path);
    }
    if (rc < 0)
        lp_err_prefix(err, "build %s on %s: ", type, b->env.pf->name);
    lp_instance_destroy(pred);
    lp_instance_destroy(smp);
    lp_prior_free(&prior);
    pl_kset_free(&s);
    free(drawn);
    free(lat);
    free(idx);
    return rc;
}

/* A build into a pool directory that already has a pool.yaml (of the same platform) adds
 * or replaces the kernel types it built and keeps the others, so one kernel type can be
 * rebuilt, or minor types built with other predictor options, without redoing the rest. */
static int keep_other_types(const lp_registry *reg, build_ctx *b, lp_pool_meta **meta,
                            size_t n_meta, size_t *n_kept, lp_err *err)
{
    char *path = NULL;
    lp_pool *old = NULL;
    struct stat sb;
    *n_kept = 0;
    if (asprintf(&path, "%s/pool.yaml", b->pool_dir) < 0)
        return lp_err_set(err, LP_ENOMEM, "out of memory");
    int exists = stat(path, &sb) == 0, rc = 0;
    free(path);
    if (!exists)
        return 0;
    if ((rc = lp_pool_open(reg, b->pool_dir, &old, err)) < 0)
        return lp_err_prefix(err, "cannot add to the existing pool: ");
    if (strcmp(old->platform, b->env.pf->name))
        rc = lp_err_set(err, LP_EINVAL, "%s/pool.yaml belongs to platform %s, not %s",
                        b->pool_dir, old->platform, b->env.pf->name);
    lp_pool_meta *m = rc == 0 ? realloc(*meta, (n_meta + old->n + 1) * sizeof *m) : NULL;
    if (rc == 0 && !m)
        rc = lp_err_set(err, LP_ENOMEM, "out of memory");
    if (m)
        *meta = m;
    for (size_t i = 0; rc == 0 && i < old->n; i++) {
        int rebuilt = 0;
        for (size_t j = 0; j < n_meta && !rebuilt; j++)
            rebuilt = !strcmp(m[j].kernel_type, old->e[i].meta.kernel_type);
        if (!rebuilt)
            m[n_meta + (*n_kept)++] = old->e[i].meta;
    }
    lp_pool_close(old);
    return rc;
}

int pl_run_build(const lp_registry *reg, const lp_pipeline *p, const char *platform,
                 const lp_run_opts *o, lp_err *err)
{
    build_ctx b = {0};
    lp_pool_meta *meta = calloc(p->n_kernels, sizeof *meta);
    int rc = meta ? pl_env_open(&b.env, reg, p, o, platform, err) : lp_err_set(err, LP_ENOMEM, "out of memory");
    if (rc == 0 && asprintf(&b.pool_dir, "%s/%s", p->pool, b.env.pf->name) < 0)
        rc = lp_err_set(err, LP_ENOMEM, "out of memory");
    if (rc == 0)
        rc = pl_make_dirs(b.pool_dir, err);
    size_t n_meta = 0;
    char skipped[2048] = "";
    for (size_t i = 0; rc == 0 && i < p->n_kernels; i++) {
        if (!o->quiet)
            fprintf(stderr, "== %s on %s: %lld configs from sampler %s\n", p->kernels[i],
                    b.env.pf->name, (long long)p->count, lp_plugin_descriptor(p->sampler.plugin)->name);
        rc = build_kernel(&b, p->kernels[i], &meta[n_meta], err);
        if (rc == 0) {
            n_meta++;
        } else if (rc == LP_EUNSUPPORTED) {
            /* Operator fallback: the engine lacks a primitive of this kernel type. The pool
             * goes without it and says so; predicting a model that needs it is an error. */
            size_t len = strlen(skipped);
            snprintf(skipped + len, sizeof skipped - len, "  %s\n", err->msg);
            rc = 0;
        }
    }
    size_t n_kept = 0;
    if (rc == 0)
        rc = keep_other_types(reg, &b, &meta, n_meta, &n_kept, err);
    if (rc == 0)
        rc = lp_pool_write_meta(b.pool_dir, b.env.pf->name, b.env.pf->engine->desc->name, meta,
                                n_meta + n_kept, err);
    if (rc == 0 && n_kept && !o->quiet)
        fprintf(stderr, "kept %zu kernel type%s already in %s/pool.yaml\n", n_kept,
                n_kept == 1 ? "" : "s", b.pool_dir);
    if (rc == 0) {
        printf("pool %s\n%-16s %8s %10s %10s %9s %9s\n", b.pool_dir, "KERNEL", "SAMPLES",
               "PROFILE_S", "TRAIN_S", "VAL_MAPE", "VAL_10%");
        if (skipped[0])
            fprintf(stderr, "kernel types left out of the pool (unsupported by the engine):\n%s", skipped);
        for (size_t i = 0; i < n_meta; i++) {
            char mape[16] = "-", a10[16] = "-"; /* no validation rows: nothing to show */
            if (!isnan(meta[i].val_mape))
                snprintf(mape, sizeof mape, "%.2f%%", 100 * meta[i].val_mape);
            if (!isnan(meta[i].val_acc10))
                snprintf(a10, sizeof a10, "%.1f%%", 100 * meta[i].val_acc10);
            printf("%-16s %8lld %10.1f %10.1f %9s %9s\n", meta[i].kernel_type,
                   (long long)meta[i].samples, meta[i].measure_seconds, meta[i].train_seconds,
                   mape, a10);
        }
    }
    pl_env_close(&b.env);
    free(b.pool_dir);
    free(meta);
    return rc;
}

/* ---- evaluate --------------------------------------------------------------------- */

typedef struct eval_row {
    const char *space;
    size_t si;              /* index of space */
    int cal;                /* a calibration model, not evaluated */
    lp_model *model;
    double measured, predicted;
    int ok;
} eval_row;

static int model_measured(lp_store *st, int64_t platform_id, const lp_model *m, double *ms, lp_err *err)
{
    char *text = NULL, key[LP_STORE_KEY_MAX];
    lp_model_info info = {0};
    lp_measure meas;
    int rc = lp_model_to_yaml(m, &text, err);
    if (rc == 0) {
        lp_store_model_key(text, key);
        rc = lp_store_model_get(st, key, &info, err);
    }
    if (rc == 0)
        rc = lp_store_get_model(st, platform_id, info.id, &meas, err);
    if (rc == 0)
        *ms = meas.median_ms;
    lp_model_info_free(&info);
    free(text);
    return rc;
}

FILE *pl_report_file(const char *dir, const char *name, lp_err *err)
{
    char *path = NULL;
    if (asprintf(&path, "%s/%s", dir, name) < 0) {
        lp_err_set(err, LP_ENOMEM, "out of memory");
        return NULL;
    }
    FILE *f = fopen(path, "w");
    if (!f)
        lp_err_set(err, LP_EIO, "%s: %s", path, strerror(errno));
    free(path);
    return f;
}

/* The RMSE, RMSPE, +-5% and +-10% cells of a table row, ending it; "-" for a row with no
 * models (a space the engine cannot run), where the metrics would print as nan. */
static void print_acc_cells(FILE *f, const pl_acc *a, int md)
{
    if (a->n == 0)
        fputs(md ? " - | - | - | - |\n" : "          -          -        -        -\n", f);
    else if (md)
        fprintf(f, " %.3f | %.2f | %.1f | %.1f |\n", pl_acc_rmse(a), pl_acc_rmspe(a), pl_acc_p5(a),
                pl_acc_p10(a));
    else
        fprintf(f, " %10.3f %9.2f%% %7.1f%% %7.1f%%\n", pl_acc_rmse(a), pl_acc_rmspe(a), pl_acc_p5(a),
                pl_acc_p10(a));
}

void pl_print_acc_row(FILE *f, const char *name, const pl_acc *a, int md)
{
    if (md)
        fprintf(f, "| %s | %zu |", name, a->n);
    else
        fprintf(f, "%-18s %6zu", name, a->n);
    print_acc_cells(f, a, md);
}

int pl_cmp_str(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

/* The sorted config lines of <pool>/<type>.configs (none when the file is absent). */
int pl_read_configs(const char *dir, const char *type, char ***v, size_t *n, lp_err *err)
{
    char *path = NULL, line[512];
    *v = NULL;
    *n = 0;
    if (asprintf(&path, "%s/%s.configs", dir, type) < 0)
        return lp_err_set(err, LP_ENOMEM, "out of memory");
    FILE *f = fopen(path, "r");
    free(path);
    if (!f)
        return 0;
    while (fgets(line, sizeof line, f)) {
        line[strcspn(line, "\n")] = '\0';
        char **nv = realloc(*v, (*n + 1) * sizeof *nv);
        if (!nv || !(nv[*n] = strdup(line))) {
            free(nv ? NULL : *v);
            fclose(f);
            return lp_err_set(err, LP_ENOMEM, "out of memory");
        }
        *v = nv;
        (*n)++;
    }
    fclose(f);
    if (*n)
        qsort(*v, *n, sizeof **v, pl_cmp_str);
    return 0;
}

/* Kernel-level accuracy of one pool entry on the evaluated models' configs it never saw. */
static int eval_kernel_type(const lp_registry *reg, const lp_platform *pf, lp_store *st,
                            int64_t pid, lp_pool_entry *e, const char *pool_dir,
                            lp_model *const *models, size_t n_models, const lp_run_opts *o,
                            pl_acc *a, size_t *n_seen, lp_err *err)
{
    char **seen = NULL;
    size_t ns = 0;
    pl_kset s = {0};
    int rc = pl_read_configs(pool_dir, e->meta.kernel_type, &seen, &ns, err);
    for (size_t m = 0; rc == 0 && m < n_models; m++)
        for (size_t i = 0; models[m] && rc == 0 && i < models[m]->n; i++) {
            const lp_mnode *k = &models[m]->k[i];
            if (k->op != LP_MOP_KERNEL || strcmp(k->type, e->meta.kernel_type))
                continue;
            char canon[256], *key = canon;
            lp_kcfg_format(e->kops->dims, e->kops->n_dims, &k->cfg, canon, sizeof canon);
            if (ns && bsearch(&key, seen, ns, sizeof *seen, pl_cmp_str))
                continue;
            if (pl_kset_add(&s, e->meta.kernel_type, e->kops, &k->cfg) < 0)
                rc = lp_err_set(err, LP_ENOMEM, "out of memory");
        }
    *n_seen = ns;
    if (rc == 0 && s.n)
        rc = pl_kset_measure(reg, pf, st, &s, 0, o, err);
    for (size_t i = 0; rc == 0 && i < s.n; i++) {
        double meas, pred;
        if (s.jobs[i].state == LP_JOB_FAILED)
            continue;
        if ((rc = pl_job_latency(st, pid, &s.jobs[i], &meas, err)) == 0 &&
            (rc = lp_pool_predict_kernels(e, &s.cfgs[i], 1, &pred, err)) == 0)
            pl_acc_add(a, meas, pred);
    }
    lp_strv_free(seen, ns);
    pl_kset_free(&s);
    return rc;
}

static int eval_kernels(const lp_registry *reg, const lp_platform *pf, lp_store *st, int64_t pid,
                        lp_pool *pool, const eval_row *rows, size_t n_rows, const lp_run_opts *o,
                        FILE *md, pl_eval_result *res, lp_err *err)
{
    lp_model **ms = calloc(n_rows ? n_rows : 1, sizeof *ms);
    int rc = ms ? 0 : lp_err_set(err, LP_ENOMEM, "out of memory");
    if (rc == 0 && res && (!(res->ktype = calloc(pool->n + 1, sizeof *res->ktype)) ||
                           !(res->per_kernel = calloc(pool->n + 1, sizeof *res->per_kernel))))
        rc = lp_err_set(err, LP_ENOMEM, "out of memory");
    for (size_t i = 0; ms && i < n_rows; i++)
        ms[i] = rows[i].model;
    printf("\nkernel level (configs of the evaluated models that the predictors never saw):\n"
           "%-18s %6s %10s %10s %8s %8s\n", "KERNEL", "CONFIGS", "RMSE_MS", "RMSPE", "ACC5", "ACC10");
    if (md)
        fprintf(md, "\n## Kernel level\n\nEvery distinct config of the evaluated models' kernels that "
                    "the pool's predictor did not train or validate on, measured alone.\n\n| kernel | "
                    "configs | RMSE (ms) | RMSPE (%%) | +-5%% acc (%%) | +-10%% acc (%%) |\n"
                    "|---|---|---|---|---|---|\n");
    for (size_t t = 0; rc == 0 && t < pool->n; t++) {
        pl_acc a = {0};
        size_t n_seen;
        rc = eval_kernel_type(reg, pf, st, pid, &pool->e[t], pool->dir, ms, n_rows, o, &a,
                              &n_seen, err);
        if (rc == 0 && a.n && res) {
            snprintf(res->ktype[res->n_kernel], sizeof res->ktype[0], "%s", pool->e[t].meta.kernel_type);
            res->per_kernel[res->n_kernel++] = a;
        }
        if (rc == 0 && a.n) {
            pl_print_acc_row(stdout, pool->e[t].meta.kernel_type, &a, 0);
            if (md)
                pl_print_acc_row(md, pool->e[t].meta.kernel_type, &a, 1);
        }
    }
    free(ms);
    return rc;
}

/* Median of measured / predicted over the calibration rows of space si (SIZE_MAX: every
 * space); NAN when there are none. r is scratch for k values. */
static double cal_scale(const eval_row *rows, size_t k, size_t si, double *r)
{
    size_t n = 0;
    for (size_t i = 0; i < k; i++)
        if (rows[i].ok && rows[i].cal && (si == SIZE_MAX || rows[i].si == si) && rows[i].predicted > 0)
            r[n++] = rows[i].measured / rows[i].predicted;
    return lp_median(r, n);
}

/* Per-space scale = median of measured / predicted over the calibration models (the sum of
 * kernel predictions misses what whole models add: caches, memory traffic between kernels;
 * bench/additivity.sh, bench/inmodel.sh), applied to the evaluated models of that space into
 * percal; scale[n_spaces] is one scale from every space's calibration models, applied to
 * all evaluated models into *one: whether a platform-wide factor would do. */
static int calibrate(const lp_pipeline *p, const eval_row *rows, size_t k, double *scale,
                     pl_acc *percal, pl_acc *one, lp_err *err)
{
    double *r = malloc((k ? k : 1) * sizeof *r);
    if (!r)
        return lp_err_set(err, LP_ENOMEM, "out of memory");
    for (size_t si = 0; si < p->n_spaces; si++)
        scale[si] = cal_scale(rows, k, si, r);
    scale[p->n_spaces] = cal_scale(rows, k, SIZE_MAX, r);
    free(r);
    for (size_t i = 0; i < k; i++) {
        if (!rows[i].ok || rows[i].cal)
            continue;
        if (!isnan(scale[p->n_spaces]))
            pl_acc_add(one, rows[i].measured, rows[i].predicted * scale[p->n_spaces]);
        if (isnan(scale[rows[i].si]))
            continue;
        pl_acc_add(&percal[rows[i].si], rows[i].measured, rows[i].predicted * scale[rows[i].si]);
        pl_acc_add(&percal[p->n_spaces], rows[i].measured, rows[i].predicted * scale[rows[i].si]);
    }
    return 0;
}

/* One calibrated row: a space (or a total) with its scale, "-" when it has none (NULL or no
 * calibration model ran). */
static void print_cal_row(FILE *f, const char *name, const double *scale, const pl_acc *a, int md)
{
    char sc[16] = "-";
    if (scale && !isnan(*scale))
        snprintf(sc, sizeof sc, "%.3f", *scale);
    if (md)
        fprintf(f, "| %s | %s | %zu |", name, sc, a->n);
    else
        fprintf(f, "%-18s %6s %6zu", name, sc, a->n);
    print_acc_cells(f, a, md);
}

static void print_calibrated(FILE *f, const lp_pipeline *p, const double *scale,
                             const pl_acc *percal, const pl_acc *one, int md)
{
    if (md)
        fprintf(f, "\n## Calibrated\n\nThe same models, each space's sum of kernel predictions "
                   "scaled by the median measured/predicted ratio of %lld other whole models of that "
                   "space (measured too: part of the target's cost); the last row uses one scale, the "
                   "median over every space's calibration models.\n\n| space | scale | models | "
                   "RMSE (ms) | RMSPE (%%) | +-5%% acc (%%) | +-10%% acc (%%) |\n"
                   "|---|---|---|---|---|---|---|\n", (long long)p->eval_calibrate);
    else
        fprintf(f, "\ncalibrated (per-space scale from %lld other whole models per space; last row: "
                   "one scale for all):\n%-18s %6s %6s %10s %10s %8s %8s\n", (long long)p->eval_calibrate,
                "SPACE", "SCALE", "MODELS", "RMSE_MS", "RMSPE", "ACC5", "ACC10");
    for (size_t si = 0; si < p->n_spaces; si++)
        print_cal_row(f, p->spaces[si], &scale[si], &percal[si], md);
    print_cal_row(f, md ? "**all**" : "all", NULL, &percal[p->n_spaces], md);
    print_cal_row(f, md ? "**all, one scale**" : "all-one-scale", &scale[p->n_spaces], one, md);
}

/* report_dir/calibration.csv: the calibration models, measured and predicted, so that other
 * calibrations (per platform, leaving a space out) can be computed from a finished run. */
static int write_calibration(const char *report_dir, const eval_row *rows, size_t k, lp_err *err)
{
    FILE *f = pl_report_file(report_dir, "calibration.csv", err);
    if (!f)
        return err->code;
    fprintf(f, "space,model,measured_ms,predicted_ms\n");
    for (size_t i = 0; i < k; i++)
        if (rows[i].ok && rows[i].cal)
            fprintf(f, "%s,%s,%.6f,%.6f\n", rows[i].space, rows[i].model->name, rows[i].measured,
                    rows[i].predicted);
    if (fclose(f) != 0)
        return lp_err_set(err, LP_EIO, "%s/calibration.csv: write failed", report_dir);
    return 0;
}

void pl_eval_result_free(pl_eval_result *r)
{
    if (!r)
        return;
    free(r->per_space);
    free(r->per_space_cal);
    free(r->ktype);
    free(r->per_kernel);
    memset(r, 0, sizeof *r);
}

int pl_evaluate(const lp_registry *reg, const lp_pipeline *p, const char *platform,
                const char *pool_dir, const char *report_dir, const lp_run_opts *o,
                pl_eval_result *res, lp_err *err)
{
    pl_env env = {0};
    lp_pool *pool = NULL;
    size_t per_space = (size_t)(p->eval_models + p->eval_calibrate);
    size_t n_rows = p->n_spaces * per_space;
    eval_row *rows = calloc(n_rows ? n_rows : 1, sizeof *rows);
    lp_job *jobs = calloc(n_rows ? n_rows : 1, sizeof *jobs);
    pl_acc *per = calloc(p->n_spaces + 1, sizeof *per), *percal = calloc(p->n_spaces + 1, sizeof *per);
    double *scale = calloc(p->n_spaces + 1, sizeof *scale);
    pl_acc one = {0};
    FILE *csv = NULL, *md = NULL;
    char *own_dir = NULL;
    int rc = rows && jobs && per && percal && scale ? pl_env_open(&env, reg, p, o, platform, err)
                                 : lp_err_set(err, LP_ENOMEM, "out of memory");
    if (rc == 0 && !pool_dir && asprintf(&own_dir, "%s/%s", p->pool, env.pf->name) < 0)
        rc = lp_err_set(err, LP_ENOMEM, "out of memory");
    if (!pool_dir)
        pool_dir = own_dir;
    if (rc == 0)
        rc = lp_pool_open(reg, pool_dir, &pool, err);
    size_t k = 0;
    for (size_t si = 0; rc == 0 && si < p->n_spaces; si++) {
        char *path = NULL;
        lp_space *sp = NULL;
        rc = lp_space_find(lp_spaces_dir_default(), p->spaces[si], &path, err);
        if (rc == 0)
            rc = lp_space_load(path, &sp, err);
        /* calibration models continue the evaluated ones' stream: never the same models */
        for (int64_t i = 0; rc == 0 && i < (int64_t)per_space; i++, k++) {
            rows[k].space = p->spaces[si];
            rows[k].si = si;
            rows[k].cal = i >= p->eval_models;
            rc = lp_space_sample_checked(sp, reg, (uint64_t)p->eval_seed, (uint64_t)i, &rows[k].model, err);
            jobs[k].model = rows[k].model;
        }
        lp_space_free(sp);
        free(path);
    }
    if (rc == 0) {
        lp_campaign_opts co = {.quiet = o->quiet, .plugin_path = o->plugin_path, .batch = 8,
                               .replay = o->replay};
        rc = lp_campaign_run(reg, env.pf, env.st, jobs, k, &co, err);
    }
    size_t failed = 0;
    for (size_t i = 0; rc == 0 && i < k; i++) {
        if (jobs[i].state == LP_JOB_FAILED) {
            failed++;
            continue;
        }
        if ((rc = model_measured(env.st, env.pid, rows[i].model, &rows[i].measured, err)) < 0 ||
            (rc = lp_pool_predict_model(pool, rows[i].model, NULL, &rows[i].predicted, err)) < 0)
            break;
        rows[i].ok = 1;
        if (rows[i].cal)
            continue;
        pl_acc_add(&per[rows[i].si], rows[i].measured, rows[i].predicted);
        pl_acc_add(&per[p->n_spaces], rows[i].measured, rows[i].predicted);
    }
    if (rc == 0 && p->eval_calibrate)
        rc = calibrate(p, rows, k, scale, percal, &one, err);
    if (rc == 0 && report_dir) {
        if ((rc = pl_make_dirs(report_dir, err)) == 0 && (csv = pl_report_file(report_dir, "models.csv", err)) &&
            (md = pl_report_file(report_dir, "report.md", err))) {
            fprintf(csv, "space,model,measured_ms,predicted_ms,rel_error\n");
            for (size_t i = 0; i < k; i++)
                if (rows[i].ok && !rows[i].cal)
                    fprintf(csv, "%s,%s,%.6f,%.6f,%.6f\n", rows[i].space, rows[i].model->name,
                            rows[i].measured, rows[i].predicted,
                            (rows[i].predicted - rows[i].measured) / rows[i].measured);
            if (p->eval_calibrate)
                rc = write_calibration(report_dir, rows, k, err);
            fprintf(md, "# Evaluation of pool %s on %s\n\nPipeline: `%s`. Models per space: %lld "
                        "(seed %lld), measured whole on the platform; predicted as the sum of the "
                        "pool's kernel predictions.\n\n| space | models | RMSE (ms) | RMSPE (%%) | "
                        "+-5%% acc (%%) | +-10%% acc (%%) |\n|---|---|---|---|---|---|\n",
                    pool_dir, env.pf->name, p->path, (long long)p->eval_models, (long long)p->eval_seed);
            for (size_t si = 0; si <= p->n_spaces; si++)
                pl_print_acc_row(md, si < p->n_spaces ? p->spaces[si] : "**all**", &per[si], 1);
            if (p->eval_calibrate)
                print_calibrated(md, p, scale, percal, &one, 1);
            if (failed)
                fprintf(md, "\n%zu models could not run on this engine (unsupported primitives).\n", failed);
        } else if (rc == 0) {
            rc = err->code;
        }
    }
    if (rc == 0) {
        printf("%-18s %6s %10s %10s %8s %8s\n", "SPACE", "MODELS", "RMSE_MS", "RMSPE", "ACC5",
               "ACC10");
        for (size_t si = 0; si <= p->n_spaces; si++)
            pl_print_acc_row(stdout, si < p->n_spaces ? p->spaces[si] : "all", &per[si], 0);
        if (p->eval_calibrate)
            print_calibrated(stdout, p, scale, percal, &one, 0);
        if (failed)
            printf("(%zu models could not run on %s: unsupported primitives)\n", failed, env.pf->name);
    }
    if (rc == 0 && p->eval_kernels)
        rc = eval_kernels(reg, env.pf, env.st, env.pid, pool, rows, k, o, md, res, err);
    if (rc == 0 && report_dir)
        printf("report: %s/report.md\n", report_dir);
    if (csv)
        fclose(csv);
    if (md)
        fclose(md);
    for (size_t i = 0; rows && i < n_rows; i++)
        lp_model_free(rows[i].model);
    free(rows);
    free(jobs);
    if (rc == 0 && res) {
        res->per_space = per;
        res->n_failed = failed;
        per = NULL;
        if (p->eval_calibrate) {
            res->per_space_cal = percal;
            percal = NULL;
            res->cal_one = one;
        }
    }
    free(per);
    free(percal);
    free(scale);
    lp_pool_close(pool);
    pl_env_close(&env);
    free(own_dir);
    return rc;
}

int lp_pipeline_run(const lp_registry *reg, lp_pipeline *p, const lp_run_opts *o, lp_err *err)
{
    switch (p->kind) {
    case LP_PIPE_BUILD: return pl_run_build(reg, p, p->platform, o, err);
    case LP_PIPE_EVALUATE: return pl_evaluate(reg, p, p->platform, NULL, p->report, o, NULL, err);
    case LP_PIPE_BUILD_POOL: return pl_run_build_pool(reg, p, o, err);
    case LP_PIPE_ADAPT: return pl_run_adapt(reg, p, o, err);
    }
    return lp_err_set(err, LP_EINVAL, "%s: unknown pipeline kind", p->path);
}
