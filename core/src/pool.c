/* Predictor pools on disk and cached, batched prediction from them. */
#include <litepred/pool.h>

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

/* ---- per-config prediction cache (open addressing) ---------------------- */

typedef struct cache_slot {
    lp_kcfg cfg;
    float value;
    int used;
} cache_slot;

typedef struct cache {
    cache_slot *slots;
    size_t cap, n; /* cap is a power of two */
} cache;

static uint64_t cfg_hash(const lp_kcfg *c)
{
    uint64_t h = 1469598103934665603ull; /* FNV-1a over the dims */
    const unsigned char *b = (const unsigned char *)c->v;
    for (size_t i = 0; i < sizeof c->v; i++)
        h = (h ^ b[i]) * 1099511628211ull;
    return h;
}

static cache_slot *cache_lookup(cache *c, const lp_kcfg *cfg)
{
    if (!c->cap)
        return NULL;
    for (size_t i = cfg_hash(cfg) & (c->cap - 1);; i = (i + 1) & (c->cap - 1)) {
        if (!c->slots[i].used || !memcmp(c->slots[i].cfg.v, cfg->v, sizeof cfg->v))
            return &c->slots[i];
    }
}

static int cache_put(cache *c, const lp_kcfg *cfg, float v)
{
    if ((c->n + 1) * 2 > c->cap) { /* keep the load under 1/2 */
        cache nc = {.cap = c->cap ? c->cap * 2 : 1024};
        if (!(nc.slots = calloc(nc.cap, sizeof *nc.slots)))
            return LP_ENOMEM;
        for (size_t i = 0; i < c->cap; i++)
            if (c->slots[i].used) {
                *cache_lookup(&nc, &c->slots[i].cfg) = c->slots[i];
                nc.n++;
            }
        free(c->slots);
        *c = nc;
    }
    cache_slot *s = cache_lookup(c, cfg);
    if (!s->used)
        c->n++;
    *s = (cache_slot){.cfg = *cfg, .value = v, .used = 1};
    return 0;
}

/* ---- metadata ------------------------------------------------------------- */

int lp_pool_write_meta(const char *dir, const char *platform, const char *engine,
                       const lp_pool_meta *e, size_t n, lp_err *err)
{
    char *path = NULL, *tmp = NULL;
    if (asprintf(&path, "%s/pool.yaml", dir) < 0 || asprintf(&tmp, "%s/.pool.yaml.tmp", dir) < 0) {
        free(path);
        return lp_err_set(err, LP_ENOMEM, "out of memory");
    }
    FILE *f = fopen(tmp, "w");
    int rc = 0;
    if (!f) {
        rc = lp_err_set(err, LP_EIO, "%s: %s", tmp, strerror(errno));
        goto done;
    }
    char when[32];
    time_t now = time(NULL);
    strftime(when, sizeof when, "%Y-%m-%dT%H:%M:%SZ", gmtime(&now));
    fprintf(f, "# litepred predictor pool (written by a build pipeline; see README)\n"
               "pool: %s\nplatform: %s\nengine: %s\ncreated: %s\nkernels:\n",
            platform, platform, engine, when);
    for (size_t i = 0; i < n; i++)
        fprintf(f, "  - {type: %s, file: %s, predictor: %s, sampler: %s, samples: %lld, "
                   "measure_seconds: %.3f, train_seconds: %.3f, val_mape: %.6g, val_acc10: %.6g}\n",
                e[i].kernel_type, e[i].file, e[i].predictor, e[i].sampler,
                (long long)e[i].samples, e[i].measure_seconds, e[i].train_seconds,
                isnan(e[i].val_mape) ? -1.0 : e[i].val_mape,
                isnan(e[i].val_acc10) ? -1.0 : e[i].val_acc10);
    if (fflush(f) != 0 || fsync(fileno(f)) != 0)
        rc = lp_err_set(err, LP_EIO, "%s: write failed: %s", tmp, strerror(errno));
    if (fclose(f) != 0 && rc == 0)
        rc = lp_err_set(err, LP_EIO, "%s: write failed", tmp);
    if (rc == 0 && rename(tmp, path) != 0)
        rc = lp_err_set(err, LP_EIO, "%s: %s", path, strerror(errno));
done:
    free(path);
    free(tmp);
    return rc;
}

static const char *yget(const lp_ynode *m, const char *key)
{
    const lp_ynode *v = lp_ymap_get(m, key);
    return v && v->type == LP_Y_SCALAR ? v->str : NULL;
}

static double yget_d(const lp_ynode *m, const char *key)
{
    double d;
    const lp_ynode *v = lp_ymap_get(m, key);
    if (!v || lp_yscalar_double(v, &d) < 0 || d < 0)
        return NAN;
    return d;
}

/* Reads one kernels[] entry and loads its predictor file. */
static int load_entry(const lp_registry *reg, const char *dir, const char *file,
                      const lp_ynode *m, lp_pool_entry *e, lp_err *err)
{
    const char *type = yget(m, "type"), *pfile = yget(m, "file"), *pred = yget(m, "predictor");
    char names[1024];
    if (!type || !pfile || !pred)
        return lp_err_set(err, LP_EPARSE, "%s:%d:%d: a kernels entry needs type, file and "
                          "predictor", file, m->line, m->col);
    snprintf(e->meta.kernel_type, sizeof e->meta.kernel_type, "%s", type);
    snprintf(e->meta.file, sizeof e->meta.file, "%s", pfile);
    snprintf(e->meta.predictor, sizeof e->meta.predictor, "%s", pred);
    snprintf(e->meta.sampler, sizeof e->meta.sampler, "%s", yget(m, "sampler") ? yget(m, "sampler") : "");
    int64_t samples = 0;
    const lp_ynode *sn = lp_ymap_get(m, "samples");
    if (sn)
        lp_yscalar_int(sn, &samples);
    e->meta.samples = samples;
    e->meta.measure_seconds = yget_d(m, "measure_seconds");
    e->meta.train_seconds = yget_d(m, "train_seconds");
    e->meta.val_mape = yget_d(m, "val_mape");
    e->meta.val_acc10 = yget_d(m, "val_acc10");
    const lp_plugin *kp = lp_registry_find(reg, LP_KIND_KERNEL, type);
    if (!kp)
        return lp_err_set(err, LP_ENOTFOUND, "%s:%d:%d: unknown kernel type '%s' (available: %s)",
                          file, m->line, m->col, type,
                          lp_registry_names(reg, LP_KIND_KERNEL, names, sizeof names));
    e->kops = lp_plugin_descriptor(kp)->ops;
    const lp_plugin *pp = lp_registry_find(reg, LP_KIND_PREDICTOR, pred);
    if (!pp)
        return lp_err_set(err, LP_ENOTFOUND, "%s:%d:%d: unknown predictor plugin '%s' (available: %s)",
                          file, m->line, m->col, pred,
                          lp_registry_names(reg, LP_KIND_PREDICTOR, names, sizeof names));
    int rc = lp_instance_create_kv(pp, NULL, &e->pred, err);
    if (rc < 0)
        return rc;
    e->pops = lp_instance_ops(e->pred);
    char *path = NULL;
    if (asprintf(&path, "%s/%s", dir, pfile) < 0)
        return lp_err_set(err, LP_ENOMEM, "out of memory");
    rc = e->pops->load(e->pred->priv, path, err);
    if (rc == 0 && e->pops->n_features(e->pred->priv) != e->kops->n_features)
        rc = lp_err_set(err, LP_EINVAL, "%s: has %zu features, kernel type '%s' has %zu", path,
                        e->pops->n_features(e->pred->priv), type, e->kops->n_features);
    free(path);
    if (rc == 0 && !(e->cache = calloc(1, sizeof(cache))))
        rc = lp_err_set(err, LP_ENOMEM, "out of memory");
    return rc;
}

int lp_pool_open(const lp_registry *reg, const char *dir, lp_pool **out, lp_err *err)
{
    char *file = NULL;
    lp_ydoc *doc = NULL;
    lp_pool *p = calloc(1, sizeof *p);
    int rc;
    *out = NULL;
    if (!p || asprintf(&file, "%s/pool.yaml", dir) < 0) {
        free(p);
        return lp_err_set(err, LP_ENOMEM, "out of memory");
    }
    if ((rc = lp_yaml_load(file, &doc, err)) < 0)
        goto fail;
    const lp_ynode *ks = lp_ymap_get(doc->root, "kernels");
    const char *plat = yget(doc->root, "platform"), *eng = yget(doc->root, "engine");
    if (!plat || !eng || !ks || ks->type != LP_Y_SEQ) {
        rc = lp_err_set(err, LP_EPARSE, "%s: not a pool file (needs platform, engine and a "
                        "kernels list)", file);
        goto fail;
    }
    p->dir = strdup(dir);
    p->platform = strdup(plat);
    p->engine = strdup(eng);
    if (!(p->e = calloc(ks->n ? ks->n : 1, sizeof *p->e)) || !p->dir || !p->platform || !p->engine) {
        rc = lp_err_set(err, LP_ENOMEM, "out of memory");
        goto fail;
    }
    for (size_t i = 0; i < ks->n; i++, p->n++)
        if ((rc = load_entry(reg, dir, file, ks->items[i], &p->e[i], err)) < 0) {
            p->n++; /* the half-loaded entry is freed with the rest */
            goto fail;
        }
    lp_ydoc_free(doc);
    free(file);
    *out = p;
    return 0;
fail:
    lp_ydoc_free(doc);
    free(file);
    lp_pool_close(p);
    return rc;
}

void lp_pool_close(lp_pool *p)
{
    if (!p)
        return;
    for (size_t i = 0; i < p->n; i++) {
        lp_instance_destroy(p->e[i].pred);
        cache *c = p->e[i].cache;
        if (c)
            free(c->slots);
        free(c);
    }
    free(p->e);
    free(p->dir);
    free(p->platform);
    free(p->engine);
    free(p);
}

lp_pool_entry *lp_pool_find(lp_pool *p, const char *kernel_type)
{
    for (size_t i = 0; p && i < p->n; i++)
        if (!strcmp(p->e[i].meta.kernel_type, kernel_type))
            return &p->e[i];
    return NULL;
}

/* ---- prediction -------------------------------------------------------------- */

int lp_pool_predict_kernels(lp_pool_entry *e, const lp_kcfg *cfgs, size_t n, double *out,
                            lp_err *err)
{
    cache *c = e->cache;
    size_t nf = e->kops->n_features, n_miss = 0;
    size_t *miss = malloc((n ? n : 1) * sizeof *miss);
    float *x = malloc((n ? n : 1) * nf * sizeof *x), *y = malloc((n ? n : 1) * sizeof *y);
    int rc = 0;
    if (!miss || !x || !y) {
        rc = lp_err_set(err, LP_ENOMEM, "out of memory");
        goto done;
    }
    for (size_t i = 0; i < n; i++) {
        cache_slot *s = cache_lookup(c, &cfgs[i]);
        if (s && s->used) {
            out[i] = s->value;
            continue;
        }
        /* a config repeated inside this batch is predicted once */
        size_t j = 0;
        while (j < n_miss && memcmp(cfgs[miss[j]].v, cfgs[i].v, sizeof cfgs[i].v))
            j++;
        if (j == n_miss) {
            e->kops->features(&cfgs[i], x + n_miss * nf);
            miss[n_miss++] = i;
        }
    }
    if (n_miss && (rc = e->pops->predict(e->pred->priv, x, n_miss, y, err)) < 0)
        goto done;
    for (size_t j = 0; j < n_miss; j++)
        if (cache_put(c, &cfgs[miss[j]], y[j]) < 0) {
            rc = lp_err_set(err, LP_ENOMEM, "out of memory");
            goto done;
        }
    for (size_t i = 0; i < n; i++) {
        cache_slot *s = cache_lookup(c, &cfgs[i]);
        out[i] = s->value;
    }
done:
    free(miss);
    free(x);
    free(y);
    return rc;
}

/* Batches the model's kernels per kernel type: one predict() call per type at most. */
int lp_pool_predict_model(lp_pool *p, const lp_model *m, double *per, double *total, lp_err *err)
{
    lp_kcfg *cfgs = malloc((m->n ? m->n : 1) * sizeof *cfgs);
    size_t *idx = malloc((m->n ? m->n : 1) * sizeof *idx);
    double *vals = malloc((m->n ? m->n : 1) * sizeof *vals), sum = 0;
    int rc = 0;
    if (!cfgs || !idx || !vals) {
        rc = lp_err_set(err, LP_ENOMEM, "out of memory");
        goto done;
    }
    for (size_t i = 0; i < m->n; i++) {
        if (per)
            per[i] = 0;
        if (m->k[i].op == LP_MOP_KERNEL && !lp_pool_find(p, m->k[i].type)) {
            rc = lp_err_set(err, LP_ENOTFOUND, "model %s: entry %zu: no predictor for kernel type "
                            "'%s' in pool %s", m->name, i, m->k[i].type, p->dir);
            goto done;
        }
    }
    for (size_t t = 0; t < p->n; t++) {
        size_t k = 0;
        for (size_t i = 0; i < m->n; i++)
            if (m->k[i].op == LP_MOP_KERNEL && !strcmp(m->k[i].type, p->e[t].meta.kernel_type)) {
                cfgs[k] = m->k[i].cfg;
                idx[k++] = i;
            }
        if (k && (rc = lp_pool_predict_kernels(&p->e[t], cfgs, k, vals, err)) < 0)
            goto done;
        for (size_t j = 0; j < k; j++) {
            sum += vals[j];
            if (per)
                per[idx[j]] = vals[j];
        }
    }
    *total = sum;
done:
    free(cfgs);
    free(idx);
    free(vals);
    return rc;
}

int lp_pool_check_doc(const lp_registry *reg, const lp_ydoc *doc, lp_diag *diag)
{
    lp_err err = {0};
    lp_pool *pool = NULL;
    const char *slash = strrchr(doc->path, '/');
    char *dir = slash ? strndup(doc->path, (size_t)(slash - doc->path)) : strdup(".");
    int rc = dir ? lp_pool_open(reg, dir, &pool, &err) : lp_err_set(&err, LP_ENOMEM, "out of memory");
    if (rc == 0 && slash && strcmp(slash + 1, "pool.yaml"))
        rc = lp_err_set(&err, LP_EINVAL, "a pool description must be named pool.yaml (the pool "
                        "directory is found by it)");
    if (rc < 0)
        lp_diag_add(diag, doc->path, doc->root, "%s", err.msg);
    lp_pool_close(pool);
    free(dir);
    return rc < 0 ? LP_EINVAL : 0;
}
