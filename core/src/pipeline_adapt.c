/* build-pool (several warm-up platforms into one pool) and adapt (LitePred's transfer:
 * representative set -> similarity pick per kernel type -> fine-tune with sampled target
 * configs -> evaluate), with leave-one-out over several targets and nested budgets. */
#include <litepred/sampler.h>
#include <litepred/similarity.h>

#include <dirent.h>
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "pipeline_int.h"

int pl_run_build_pool(const lp_registry *reg, lp_pipeline *p, const lp_run_opts *o, lp_err *err)
{
    for (size_t i = 0; i < p->n_platforms; i++) {
        if (!o->quiet)
            fprintf(stderr, "==== build-pool: platform %zu of %zu: %s\n", i + 1, p->n_platforms,
                    p->platforms[i]);
        int rc = pl_run_build(reg, p, p->platforms[i], o, err);
        if (rc < 0)
            return lp_err_prefix(err, "%s: platform %s: ", p->path, p->platforms[i]);
    }
    return 0;
}

/* ---- candidates: the pool platforms a target may pick from ---------------------- */

typedef struct cand {
    char *name;   /* pool platform (directory name) */
    lp_pool *pool;
} cand;

static void cands_free(cand *c, size_t n)
{
    for (size_t i = 0; c && i < n; i++) {
        free(c[i].name);
        lp_pool_close(c[i].pool);
    }
    free(c);
}

/* Names of pool/<P>/ directories holding a pool.yaml, sorted. */
static int scan_pool(const char *root, char ***names, size_t *n, lp_err *err)
{
    DIR *d = opendir(root);
    struct dirent *e;
    *names = NULL;
    *n = 0;
    if (!d)
        return lp_err_set(err, errno == ENOENT ? LP_ENOTFOUND : LP_EIO, "pool %s: %s", root,
                          strerror(errno));
    int rc = 0;
    while (rc == 0 && (e = readdir(d))) {
        char *meta = NULL;
        struct stat sb;
        if (e->d_name[0] == '.' || asprintf(&meta, "%s/%s/pool.yaml", root, e->d_name) < 0)
            continue;
        if (stat(meta, &sb) == 0) {
            char **nv = realloc(*names, (*n + 1) * sizeof *nv);
            if (!nv || !(nv[*n] = strdup(e->d_name)))
                rc = lp_err_set(err, LP_ENOMEM, "out of memory");
            if (nv)
                *names = nv;
            if (rc == 0)
                (*n)++;
        }
        free(meta);
    }
    closedir(d);
    if (*n)
        qsort(*names, *n, sizeof **names, pl_cmp_str);
    return rc;
}

/* Opens the candidate pools for target (engine `engine`), honouring leave_out. */
static int open_candidates(const lp_registry *reg, const lp_pipeline *p, const char *target,
                           const char *engine, cand **out, size_t *n_out, lp_err *err)
{
    char **names = NULL;
    size_t n = 0;
    int rc = 0;
    if (p->n_candidates) {
        if (!(names = calloc(p->n_candidates, sizeof *names)))
            return lp_err_set(err, LP_ENOMEM, "out of memory");
        for (; n < p->n_candidates && (names[n] = strdup(p->candidates[n])); n++)
            ;
        if (n < p->n_candidates)
            rc = lp_err_set(err, LP_ENOMEM, "out of memory");
    } else {
        rc = scan_pool(p->pool, &names, &n, err);
    }
    cand *c = calloc(n ? n : 1, sizeof *c);
    size_t k = 0;
    if (rc == 0 && !c)
        rc = lp_err_set(err, LP_ENOMEM, "out of memory");
    for (size_t i = 0; rc == 0 && i < n; i++) {
        if (p->leave_out != LP_LEAVE_NONE && !strcmp(names[i], target))
            continue;
        char *dir = NULL;
        if (asprintf(&dir, "%s/%s", p->pool, names[i]) < 0)
            rc = lp_err_set(err, LP_ENOMEM, "out of memory");
        else
            rc = lp_pool_open(reg, dir, &c[k].pool, err);
        free(dir);
        if (rc < 0)
            break;
        if (p->leave_out == LP_LEAVE_ENGINE && !strcmp(c[k].pool->engine, engine)) {
            lp_pool_close(c[k].pool);
            c[k].pool = NULL;
            continue;
        }
        c[k++].name = names[i];
        names[i] = NULL;
    }
    lp_strv_free(names, n);
    if (rc < 0) {
        cands_free(c, k);
        return rc;
    }
    *out = c;
    *n_out = k;
    return 0;
}

/* ---- one target ------------------------------------------------------------------ */

typedef struct adapt_ctx {
    pl_env env;
    cand *c;
    size_t nc;
    char **dirs;           /* per budget: output/<target>/b<budget> */
    lp_pool_meta **meta;   /* per budget: per kernel type */
    size_t n_meta;         /* kernel types adapted so far */
    double *cost_s;        /* per budget: profiling seconds (representative + sampled) */
    int64_t *configs;      /* per budget: target configs measured */
    char (*source)[LP_STORE_NAME_MAX]; /* per kernel type: picked pool platform or "scratch" */
    FILE *picks;           /* report picks.csv (or NULL) */
    double measure_wall;   /* seconds spent measuring in this run */
} adapt_ctx;

static int measure_set(adapt_ctx *a, pl_kset *s, double **lat, lp_err *err)
{
    uint64_t t0 = lp_now_ns();
    int rc = pl_kset_measure(a->env.reg, a->env.pf, a->env.st, s, 0, a->env.o, err);
    a->measure_wall += (double)(lp_now_ns() - t0) / 1e9;
    return rc < 0 ? rc : pl_kset_collect(a->env.st, a->env.pid, s, lat, err);
}

static char *repr_path(const lp_pipeline *p, const char *type, lp_err *err)
{
    char *path = NULL;
    if (!p->representative)
        return lp_representative_path(type, err);
    if (asprintf(&path, "%s/%s.yaml", p->representative, type) < 0) {
        lp_err_set(err, LP_ENOMEM, "out of memory");
        return NULL;
    }
    return path;
}

/* Step 1 and 2: measures the representative set and picks a pool predictor (index into
 * a->c, or -1 when no candidate has this kernel type). */
static int pick(adapt_ctx *a, const char *type, const lp_kernel_ops *kops, pl_kset *r,
                double **rlat, long *picked, lp_err *err)
{
    char *path = repr_path(a->env.p, type, err), *ktype = NULL;
    lp_kcfg *cfgs = NULL;
    size_t n = 0;
    int rc = path ? lp_representative_load(a->env.reg, path, &ktype, &cfgs, &n, err) : err->code;
    if (rc == 0 && strcmp(ktype, type))
        rc = lp_err_set(err, LP_EINVAL, "%s: a representative set of %s, not %s", path, ktype, type);
    for (size_t i = 0; rc == 0 && i < n; i++)
        if (pl_kset_add(r, type, kops, &cfgs[i]) < 0)
            rc = lp_err_set(err, LP_ENOMEM, "out of memory");
    if (rc == 0)
        rc = measure_set(a, r, rlat, err);
    if (rc == 0 && r->n < 2)
        rc = lp_err_set(err, LP_EUNSUPPORTED, "%s: %zu of %zu representative configs run on %s; "
                        "cannot adapt", type, r->n, n, a->env.pf->name);
    *picked = -1;
    double **pred = calloc(a->nc ? a->nc : 1, sizeof *pred), *scores = calloc(a->nc ? a->nc : 1, sizeof *scores);
    lp_instance *sim = NULL;
    size_t n_with = 0, best = 0;
    if (rc == 0 && (!pred || !scores))
        rc = lp_err_set(err, LP_ENOMEM, "out of memory");
    for (size_t c = 0; rc == 0 && c < a->nc; c++) {
        lp_pool_entry *e = lp_pool_find(a->c[c].pool, type);
        if (!e)
            continue;
        if (!(pred[c] = malloc(r->n * sizeof **pred)))
            rc = lp_err_set(err, LP_ENOMEM, "out of memory");
        else if ((rc = lp_pool_predict_kernels(e, r->cfgs, r->n, pred[c], err)) == 0)
            n_with++;
    }
    if (rc == 0 && n_with)
        rc = pl_instance_of(a->env.p, &a->env.p->similarity, pl_plugin_skip, &sim, err);
    if (rc == 0 && n_with)
        rc = lp_similarity_pick(sim, *rlat, (const double *const *)pred, a->nc, r->n, &best, scores, err);
    if (rc == 0 && n_with)
        *picked = (long)best;
    for (size_t c = 0; rc == 0 && c < a->nc; c++) {
        if (!pred[c])
            continue;
        if (!a->env.o->quiet)
            fprintf(stderr, "%s: %-24s %s = %.6g%s\n", type, a->c[c].name, sim->desc->name,
                    scores[c], (long)c == *picked ? "  <- picked" : "");
        if (a->picks)
            fprintf(a->picks, "%s,%s,%s,%s,%.9g,%d\n", a->env.pf->name, type, a->c[c].name,
                    sim->desc->name, scores[c], (long)c == *picked);
    }
    if (rc == 0 && !n_with && !a->env.o->quiet)
        fprintf(stderr, "%s: no pool platform has a predictor for it: trained from scratch\n", type);
    for (size_t c = 0; pred && c < a->nc; c++)
        free(pred[c]);
    free(pred);
    free(scores);
    lp_instance_destroy(sim);
    free(cfgs);
    free(ktype);
    free(path);
    return rc;
}

/* A sampler instance for this kernel type, set up on the spaces' prior (kept in *prior). */
static int sampler_open(adapt_ctx *a, const char *type, const lp_kernel_ops *kops, lp_prior *prior,
                        lp_instance **smp, lp_err *err)
{
    const lp_pipeline *p = a->env.p;
    lp_sampler_ctx ctx;
    int rc = lp_prior_build(a->env.reg, NULL, type, (size_t)p->prior_models, (uint64_t)p->seed, prior, err);
    if (rc == 0)
        rc = pl_instance_of(p, &p->sampler, pl_sampler_skip, smp, err);
    if (rc == 0) {
        lp_sampler_ctx_init(&ctx, type, kops, (uint64_t)p->seed, prior);
        rc = lp_sampler_setup(*smp, &ctx, err);
    }
    return rc;
}

/* Adds sampler configs to s until it holds `want` configs that are distinct and not in r.
 * Budgets count distinct configs, so samplers that repeat themselves (a prior draws popular
 * configs often) are asked again, until a round of draws brings nothing new (the space
 * has fewer configs than the budget). */
static int draw(lp_instance *smp, const char *type, const lp_kernel_ops *kops, const pl_kset *r,
                pl_kset *s, size_t want, lp_err *err)
{
    lp_kcfg *drawn = want > s->n ? malloc((want - s->n) * sizeof *drawn) : NULL;
    int rc = drawn || want <= s->n ? 0 : lp_err_set(err, LP_ENOMEM, "out of memory");
    for (int round = 0; rc == 0 && s->n < want && round < 50; round++) {
        size_t need = want - s->n, before = s->n;
        rc = lp_sampler_sample(smp, kops, need, drawn, err);
        for (size_t i = 0; rc == 0 && i < need && s->n < want; i++) {
            int dup = 0;
            for (size_t j = 0; j < r->n && !dup; j++)
                dup = !memcmp(r->cfgs[j].v, drawn[i].v, sizeof drawn[i].v);
            if (!dup && pl_kset_add(s, type, kops, &drawn[i]) < 0)
                rc = lp_err_set(err, LP_ENOMEM, "out of memory");
        }
        if (s->n == before)
            break;
    }
    free(drawn);
    return rc;
}

/* Training rows: the representative set, then the first n_s sampled configs. */
static int join(const pl_kset *r, const double *rlat, const pl_kset *s, const double *slat,
                size_t n_s, pl_kset *out, double **lat, lp_err *err)
{
    size_t n = r->n + n_s;
    out->jobs = malloc((n ? n : 1) * sizeof *out->jobs);
    out->cfgs = malloc((n ? n : 1) * sizeof *out->cfgs);
    *lat = malloc((n ? n : 1) * sizeof **lat);
    if (!out->jobs || !out->cfgs || !*lat)
        return lp_err_set(err, LP_ENOMEM, "out of memory");
    memcpy(out->jobs, r->jobs, r->n * sizeof *r->jobs);
    memcpy(out->cfgs, r->cfgs, r->n * sizeof *r->cfgs);
    memcpy(*lat, rlat, r->n * sizeof *rlat);
    if (n_s) { /* s may be empty (and its arrays NULL) when the sampler found nothing new */
        memcpy(out->jobs + r->n, s->jobs, n_s * sizeof *s->jobs);
        memcpy(out->cfgs + r->n, s->cfgs, n_s * sizeof *s->cfgs);
        memcpy(*lat + r->n, slat, n_s * sizeof *slat);
    }
    out->n = out->cap = n;
    return 0;
}

/* Step 3: fine-tunes the picked predictor (or trains one from scratch) on rows and saves it
 * into the budget's directory. */
static int fit(adapt_ctx *a, size_t bi, const char *type, const lp_kernel_ops *kops, long picked,
               const pl_kset *t, const double *lat, lp_pool_meta *meta, lp_err *err)
{
    const lp_pipeline *p = a->env.p;
    lp_instance *pred = NULL;
    pl_rows tr = {0}, va = {0};
    size_t *idx = malloc((t->n ? t->n : 1) * sizeof *idx);
    size_t n_val = (size_t)((double)t->n * p->validation);
    int finetune = p->finetune && picked >= 0;
    int rc = idx ? pl_instance_of(p, &p->predictor, pl_plugin_skip, &pred, err)
                 : lp_err_set(err, LP_ENOMEM, "out of memory");
    const lp_predictor_ops *po = pred ? lp_instance_ops(pred) : NULL;
    if (rc == 0) {
        pl_split(idx, t->n, (uint64_t)p->seed + bi);
        rc = pl_rows_from(t, idx + n_val, t->n - n_val, lat, kops, &tr, err);
    }
    if (rc == 0)
        rc = pl_rows_from(t, idx, n_val, lat, kops, &va, err);
    if (rc == 0 && finetune) {
        lp_pool_entry *e = lp_pool_find(a->c[picked].pool, type);
        char *file = NULL;
        if (asprintf(&file, "%s/%s", a->c[picked].pool->dir, e->meta.file) < 0)
            rc = lp_err_set(err, LP_ENOMEM, "out of memory");
        else if (strcmp(e->meta.predictor, pred->desc->name))
            rc = lp_err_set(err, LP_EINVAL, "%s was written by predictor %s; this pipeline "
                            "fine-tunes with %s", file, e->meta.predictor, pred->desc->name);
        else
            rc = po->load(pred->priv, file, err);
        free(file);
    }
    lp_train_report rep = {0};
    if (rc == 0) {
        lp_dataset dtr = {.kernel_type = type, .n = tr.n, .n_features = kops->n_features, .x = tr.x, .y = tr.y};
        lp_dataset dva = {.kernel_type = type, .n = va.n, .n_features = kops->n_features, .x = va.x, .y = va.y};
        lp_train_ctl ctl = {.finetune = finetune};
        rc = po->train(pred->priv, &dtr, va.n ? &dva : NULL, &ctl, &rep, err);
        if (rc == LP_EUNSUPPORTED && finetune)
            lp_err_prefix(err, "predictor %s cannot fine-tune (set finetune: false): ", pred->desc->name);
    }
    if (rc == 0)
        rc = pl_write_configs(a->dirs[bi], type, t, err);
    if (rc == 0) {
        memset(meta, 0, sizeof *meta);
        snprintf(meta->kernel_type, sizeof meta->kernel_type, "%s", type);
        snprintf(meta->predictor, sizeof meta->predictor, "%s", pred->desc->name);
        snprintf(meta->sampler, sizeof meta->sampler, "%s", lp_plugin_descriptor(p->sampler.plugin)->name);
        snprintf(meta->file, sizeof meta->file, "%s.%s", type, pred->desc->name);
        meta->samples = (int64_t)t->n;
        meta->train_seconds = rep.seconds;
        meta->val_mape = rep.val_mape;
        meta->val_acc10 = NAN;
        char *path = NULL;
        if (asprintf(&path, "%s/%s", a->dirs[bi], meta->file) < 0)
            rc = lp_err_set(err, LP_ENOMEM, "out of memory");
        else
            rc = po->save(pred->priv, path, err);
        free(path);
    }
    pl_rows_free(&tr);
    pl_rows_free(&va);
    lp_instance_destroy(pred);
    free(idx);
    return rc;
}

/* A budget drawn with feedback (samplers such as adaptive): half the budget from the
 * sampler, then up to `rounds` rounds in which the configs the current predictor gets most
 * wrong spawn neighbours, then plain draws up to the budget if the rounds stop early. The
 * representative set takes part in fitting but not in the budget. */
static int with_feedback(adapt_ctx *a, const char *type, const lp_kernel_ops *kops, const pl_kset *r,
                         const double *rlat, size_t budget, pl_kset *s, double **slat, lp_err *err)
{
    lp_prior prior = {0};
    lp_instance *smp = NULL;
    int rc = sampler_open(a, type, kops, &prior, &smp, err);
    if (rc == 0)
        rc = draw(smp, type, kops, r, s, (budget + 1) / 2, err);
    for (int64_t round = 0; rc == 0 && round < a->env.p->rounds && s->n < budget; round++) {
        pl_kset t = {0};
        double *lat = NULL, *rel = NULL;
        lp_kcfg *tc = NULL;
        size_t n_test = 0;
        free(*slat);
        *slat = NULL;
        rc = measure_set(a, s, slat, err);
        if (rc == 0)
            rc = join(r, rlat, s, *slat, s->n, &t, &lat, err);
        if (rc == 0)
            rc = pl_test_errors(&a->env, type, kops, &t, lat,
                                (uint64_t)a->env.p->seed + 1000 + (uint64_t)round, &tc, &rel, &n_test, err);
        int queued = rc == 0 ? lp_sampler_feedback(smp, tc, rel, n_test, err) : rc;
        size_t before = s->n;
        if (queued > 0)
            rc = draw(smp, type, kops, r, s, s->n + (size_t)queued < budget ? s->n + (size_t)queued : budget, err);
        else if (queued < 0)
            rc = queued;
        if (rc == 0 && !a->env.o->quiet)
            fprintf(stderr, "%s: budget %zu: round %lld: %zu test configs, %d spawned, %zu new\n",
                    type, budget, (long long)round + 1, n_test, queued, s->n - before);
        free(t.jobs);
        free(t.cfgs);
        free(lat);
        free(rel);
        free(tc);
        if (rc < 0 || queued == 0)
            break;
    }
    if (rc == 0)
        rc = draw(smp, type, kops, r, s, budget, err);
    free(*slat);
    *slat = NULL;
    if (rc == 0)
        rc = measure_set(a, s, slat, err);
    lp_instance_destroy(smp);
    lp_prior_free(&prior);
    return rc;
}

static int adapt_kernel(adapt_ctx *a, const char *type, lp_err *err)
{
    const lp_plugin *kp = lp_registry_find(a->env.reg, LP_KIND_KERNEL, type);
    const lp_kernel_ops *kops = lp_plugin_descriptor(kp)->ops;
    const lp_pipeline *p = a->env.p;
    pl_kset r = {0}, s = {0};
    double *rlat = NULL, *slat = NULL, rcost = 0;
    long picked = -1;
    lp_prior prior = {0};
    lp_instance *smp = NULL;
    int rc = pick(a, type, kops, &r, &rlat, &picked, err);
    if (rc == 0 && p->rounds == 0)
        rc = sampler_open(a, type, kops, &prior, &smp, err);
    if (rc == 0 && p->rounds == 0)
        rc = draw(smp, type, kops, &r, &s, (size_t)p->budgets[p->n_budgets - 1], err);
    if (rc == 0 && p->rounds == 0)
        rc = measure_set(a, &s, &slat, err);
    if (rc == 0)
        rc = pl_profiling_seconds(a->env.st, a->env.pid, a->env.pf, &r, r.n, &rcost, err);
    size_t k = a->n_meta;
    snprintf(a->source[k], sizeof a->source[k], "%s",
             picked < 0 ? "scratch (no pool predictor)" : !p->finetune ? "scratch" : a->c[picked].name);
    for (size_t bi = 0; rc == 0 && bi < p->n_budgets; bi++) {
        if (p->rounds > 0) { /* feedback: each budget draws its own configs */
            pl_kset_free(&s);
            free(slat);
            slat = NULL;
            rc = with_feedback(a, type, kops, &r, rlat, (size_t)p->budgets[bi], &s, &slat, err);
            if (rc < 0)
                break;
        }
        size_t n_s = (size_t)p->budgets[bi] < s.n ? (size_t)p->budgets[bi] : s.n;
        pl_kset t = {0};
        double *lat = NULL, cost = rcost;
        rc = pl_profiling_seconds(a->env.st, a->env.pid, a->env.pf, &s, n_s, &cost, err);
        if (rc == 0)
            rc = join(&r, rlat, &s, slat, n_s, &t, &lat, err);
        if (rc == 0)
            rc = fit(a, bi, type, kops, p->finetune ? picked : -1, &t, lat, &a->meta[bi][k], err);
        if (rc == 0) {
            a->meta[bi][k].measure_seconds = cost;
            a->cost_s[bi] += cost;
            a->configs[bi] += (int64_t)t.n;
            if (!a->env.o->quiet)
            {
                char val[48] = "no validation rows";
                if (!isnan(a->meta[bi][k].val_mape))
                    snprintf(val, sizeof val, "validation MAPE %.2f%%", 100 * a->meta[bi][k].val_mape);
                fprintf(stderr, "%s: budget %lld: %zu representative + %zu sampled configs, %s "
                        "(%.1f s), %s\n", type, (long long)p->budgets[bi], r.n, n_s, a->source[k],
                        a->meta[bi][k].train_seconds, val);
            }
        }
        free(t.jobs);
        free(t.cfgs);
        free(lat);
    }
    if (rc == 0)
        a->n_meta++;
    lp_instance_destroy(smp);
    lp_prior_free(&prior);
    pl_kset_free(&r);
    pl_kset_free(&s);
    free(rlat);
    free(slat);
    return rc;
}

/* adapt.csv: one row per target, budget and space (then "all"). */
static void write_summary(FILE *f, const adapt_ctx *a, size_t bi, const pl_eval_result *res)
{
    const lp_pipeline *p = a->env.p;
    for (size_t si = 0; si <= p->n_spaces; si++) {
        const pl_acc *x = &res->per_space[si];
        fprintf(f, "%s,%lld,%d,%s,%s,%s,%lld,%.3f,%s,%zu,%.6f,%.4f,%.2f,%.2f\n", a->env.pf->name,
                (long long)p->budgets[bi], p->finetune, lp_plugin_descriptor(p->similarity.plugin)->name,
                lp_plugin_descriptor(p->sampler.plugin)->name,
                lp_plugin_descriptor(p->predictor.plugin)->name, (long long)a->configs[bi],
                a->cost_s[bi], si < p->n_spaces ? p->spaces[si] : "all", x->n, pl_acc_rmse(x),
                pl_acc_rmspe(x), pl_acc_p5(x), pl_acc_p10(x));
    }
}

static void write_kernels(FILE *f, const adapt_ctx *a, size_t bi, const pl_eval_result *res)
{
    for (size_t i = 0; i < res->n_kernel; i++) {
        const char *src = "?";
        for (size_t k = 0; k < a->n_meta; k++)
            if (!strcmp(a->meta[bi][k].kernel_type, res->ktype[i]))
                src = a->source[k];
        const pl_acc *x = &res->per_kernel[i];
        fprintf(f, "%s,%lld,%s,%s,%zu,%.4f,%.2f,%.2f\n", a->env.pf->name, (long long)a->env.p->budgets[bi],
                res->ktype[i], src, x->n, pl_acc_rmspe(x), pl_acc_p5(x), pl_acc_p10(x));
    }
}

static void adapt_free(adapt_ctx *a)
{
    for (size_t bi = 0; bi < a->env.p->n_budgets; bi++) {
        free(a->dirs ? a->dirs[bi] : NULL);
        free(a->meta ? a->meta[bi] : NULL);
    }
    free(a->dirs);
    free(a->meta);
    free(a->cost_s);
    free(a->configs);
    free(a->source);
    cands_free(a->c, a->nc);
    pl_env_close(&a->env);
}

static int adapt_alloc(adapt_ctx *a, const char *target, lp_err *err)
{
    const lp_pipeline *p = a->env.p;
    size_t nb = p->n_budgets, nk = p->n_kernels;
    a->dirs = calloc(nb, sizeof *a->dirs);
    a->meta = calloc(nb, sizeof *a->meta);
    a->cost_s = calloc(nb, sizeof *a->cost_s);
    a->configs = calloc(nb, sizeof *a->configs);
    a->source = calloc(nk, sizeof *a->source);
    if (!a->dirs || !a->meta || !a->cost_s || !a->configs || !a->source)
        return lp_err_set(err, LP_ENOMEM, "out of memory");
    for (size_t bi = 0; bi < nb; bi++) {
        if (!(a->meta[bi] = calloc(nk, sizeof **a->meta)) ||
            asprintf(&a->dirs[bi], "%s/%s/b%lld", p->output, target, (long long)p->budgets[bi]) < 0) {
            a->dirs[bi] = NULL;
            return lp_err_set(err, LP_ENOMEM, "out of memory");
        }
        int rc = pl_make_dirs(a->dirs[bi], err);
        if (rc < 0)
            return rc;
    }
    return 0;
}

typedef struct adapt_files {
    FILE *picks, *summary, *kernels;
    FILE *md;
} adapt_files;

static int adapt_target(const lp_registry *reg, const lp_pipeline *p, const char *target,
                        const lp_run_opts *o, adapt_files *f, lp_err *err)
{
    adapt_ctx a = {.picks = f->picks};
    int rc = pl_env_open(&a.env, reg, p, o, target, err);
    if (rc == 0)
        rc = adapt_alloc(&a, a.env.pf->name, err);
    if (rc == 0)
        rc = open_candidates(reg, p, a.env.pf->name, a.env.pf->engine->desc->name, &a.c, &a.nc, err);
    if (rc == 0 && !o->quiet) {
        fprintf(stderr, "==== adapt to %s (engine %s): %zu pool platform%s:", a.env.pf->name,
                a.env.pf->engine->desc->name, a.nc, a.nc == 1 ? "" : "s");
        for (size_t i = 0; i < a.nc; i++)
            fprintf(stderr, " %s", a.c[i].name);
        fprintf(stderr, "\n");
    }
    char skipped[2048] = "";
    for (size_t k = 0; rc == 0 && k < p->n_kernels; k++) {
        rc = adapt_kernel(&a, p->kernels[k], err);
        if (rc == LP_EUNSUPPORTED && !strstr(err->msg, "fine-tune")) {
            size_t len = strlen(skipped);
            snprintf(skipped + len, sizeof skipped - len, "  %s\n", err->msg);
            rc = 0;
        } else if (rc < 0) {
            lp_err_prefix(err, "adapt %s to %s: ", p->kernels[k], a.env.pf->name);
        }
    }
    if (rc == 0 && skipped[0])
        fprintf(stderr, "kernel types left out (unsupported by the engine):\n%s", skipped);
    for (size_t bi = 0; rc == 0 && bi < p->n_budgets; bi++)
        rc = lp_pool_write_meta(a.dirs[bi], a.env.pf->name, a.env.pf->engine->desc->name, a.meta[bi], a.n_meta, err);
    if (rc == 0) {
        printf("adapted %s: %.1f s measuring in this run\n%-10s %10s %12s  %s\n", a.env.pf->name,
               a.measure_wall, "BUDGET", "CONFIGS", "PROFILING_S", "DIRECTORY");
        for (size_t bi = 0; bi < p->n_budgets; bi++)
            printf("%-10lld %10lld %12.1f  %s\n", (long long)p->budgets[bi], (long long)a.configs[bi],
                   a.cost_s[bi], a.dirs[bi]);
        if (f->md) {
            fprintf(f->md, "\n## %s\n\nPool platforms considered: ", a.env.pf->name);
            for (size_t i = 0; i < a.nc; i++)
                fprintf(f->md, "%s%s", i ? ", " : "", a.c[i].name);
            fprintf(f->md, "%s.\n\n| kernel | source |\n|---|---|\n", a.nc ? "" : "none");
            for (size_t k = 0; k < a.n_meta; k++)
                fprintf(f->md, "| %s | %s |\n", a.meta[0][k].kernel_type, a.source[k]);
            fprintf(f->md, "\n| budget | target configs | profiling (s) |\n|---|---|---|\n");
            for (size_t bi = 0; bi < p->n_budgets; bi++)
                fprintf(f->md, "| %lld | %lld | %.1f |\n", (long long)p->budgets[bi],
                        (long long)a.configs[bi], a.cost_s[bi]);
        }
    }
    for (size_t bi = 0; rc == 0 && p->n_spaces && bi < p->n_budgets; bi++) {
        char *rdir = NULL;
        pl_eval_result res = {0};
        if (p->report && asprintf(&rdir, "%s/%s/b%lld", p->report, a.env.pf->name, (long long)p->budgets[bi]) < 0)
            rc = lp_err_set(err, LP_ENOMEM, "out of memory");
        if (rc == 0) {
            printf("\n== %s, budget %lld (%lld target configs)\n", a.env.pf->name,
                   (long long)p->budgets[bi], (long long)a.configs[bi]);
            rc = pl_evaluate(reg, p, target, a.dirs[bi], rdir, o, &res, err);
        }
        if (rc == 0 && f->summary)
            write_summary(f->summary, &a, bi, &res);
        if (rc == 0 && f->kernels)
            write_kernels(f->kernels, &a, bi, &res);
        if (rc == 0 && f->md)
            fprintf(f->md, "\n%s, budget %lld: +-10%% accuracy %.1f%%, +-5%% %.1f%%, RMSPE %.2f%% "
                    "over %zu models ([report](%s/b%lld/report.md))\n", a.env.pf->name,
                    (long long)p->budgets[bi], pl_acc_p10(&res.per_space[p->n_spaces]),
                    pl_acc_p5(&res.per_space[p->n_spaces]), pl_acc_rmspe(&res.per_space[p->n_spaces]),
                    res.per_space[p->n_spaces].n, a.env.pf->name, (long long)p->budgets[bi]);
        if (rc == 0 && f->md && res.per_space_cal)
            fprintf(f->md, "  calibrated with %lld whole models per space: +-10%% %.1f%%, +-5%% %.1f%%, "
                    "RMSPE %.2f%%; one scale for every space: +-10%% %.1f%%, +-5%% %.1f%%, RMSPE %.2f%%\n",
                    (long long)p->eval_calibrate, pl_acc_p10(&res.per_space_cal[p->n_spaces]),
                    pl_acc_p5(&res.per_space_cal[p->n_spaces]), pl_acc_rmspe(&res.per_space_cal[p->n_spaces]),
                    pl_acc_p10(&res.cal_one), pl_acc_p5(&res.cal_one), pl_acc_rmspe(&res.cal_one));
        pl_eval_result_free(&res);
        free(rdir);
    }
    if (f->picks)
        fflush(f->picks);
    adapt_free(&a);
    return rc;
}

int pl_run_adapt(const lp_registry *reg, lp_pipeline *p, const lp_run_opts *o, lp_err *err)
{
    adapt_files f = {0};
    int rc = 0;
    if (p->report && (rc = pl_make_dirs(p->report, err)) == 0 &&
        (f.picks = pl_report_file(p->report, "picks.csv", err)) &&
        (f.summary = pl_report_file(p->report, "adapt.csv", err)) &&
        (f.kernels = pl_report_file(p->report, "kernels.csv", err)) &&
        (f.md = pl_report_file(p->report, "adapt.md", err))) {
        /* Whole lines only: a run killed mid-way leaves tables that `litepred report` reads
         * (fully buffered, a kill could cut a row where the 4 KiB buffer happened to end). */
        FILE *tables[] = {f.picks, f.summary, f.kernels};
        for (size_t i = 0; i < 3; i++)
            setvbuf(tables[i], NULL, _IOLBF, 0);
        fprintf(f.picks, "target,kernel_type,candidate,similarity,score,picked\n");
        fprintf(f.summary, "target,budget,finetune,similarity,sampler,predictor,target_configs,"
                           "profiling_s,space,models,rmse_ms,rmspe,acc5,acc10\n");
        fprintf(f.kernels, "target,budget,kernel_type,source,configs,rmspe,acc5,acc10\n");
        fprintf(f.md, "# Adaptation: `%s`\n\nSimilarity %s, sampler %s, predictor %s (%s), "
                      "leave_out %s. Profiling seconds = (warm-up + timed runs) x mean latency of "
                      "every target config used (representative set + sampled).\n", p->path,
                lp_plugin_descriptor(p->similarity.plugin)->name,
                lp_plugin_descriptor(p->sampler.plugin)->name,
                lp_plugin_descriptor(p->predictor.plugin)->name,
                p->finetune ? "fine-tuned from the picked pool predictor" : "trained from scratch",
                p->leave_out == LP_LEAVE_TARGET ? "target" : p->leave_out == LP_LEAVE_ENGINE ? "engine" : "none");
    } else if (p->report) {
        rc = rc < 0 ? rc : err->code;
    }
    for (size_t t = 0; rc == 0 && t < p->n_targets; t++)
        rc = adapt_target(reg, p, p->targets[t], o, &f, err);
    if (rc == 0 && p->report)
        printf("\nadapt report: %s/adapt.md (tables: adapt.csv, kernels.csv, picks.csv)\n", p->report);
    FILE *all[] = {f.picks, f.summary, f.kernels, f.md};
    for (size_t i = 0; i < 4; i++)
        if (all[i] && fclose(all[i]) != 0 && rc == 0)
            rc = lp_err_set(err, LP_EIO, "%s: write failed", p->report);
    return rc;
}
