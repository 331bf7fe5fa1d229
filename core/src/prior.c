/* The prior of a kernel type: how often each of its configs occurs in models drawn from
 * the NAS spaces. `litepred space configs` prints it for one space; samplers draw from it
 * (pooled over every space). Occurrences are appended raw and collapsed on finish, so
 * counting stays a sort, with no hashing and no cache. */
#include <litepred/sampler.h>

#include <stdlib.h>
#include <string.h>

static int cmp_cfg(const void *x, const void *y)
{
    const lp_kcfg *a = x, *b = y;
    for (int i = 0; i < LP_KCFG_MAX_DIMS; i++)
        if (a->v[i] != b->v[i])
            return a->v[i] < b->v[i] ? -1 : 1;
    return 0;
}

typedef struct cfg_count {
    lp_kcfg cfg;
    uint64_t count;
} cfg_count;

static int cmp_row_cfg(const void *x, const void *y)
{
    return cmp_cfg(&((const cfg_count *)x)->cfg, &((const cfg_count *)y)->cfg);
}

static int cmp_row_count(const void *x, const void *y)
{
    const cfg_count *a = x, *b = y;
    if (a->count != b->count)
        return a->count > b->count ? -1 : 1;
    return cmp_cfg(&a->cfg, &b->cfg);
}

void lp_prior_free(lp_prior *p)
{
    if (!p)
        return;
    free(p->cfgs);
    free(p->counts);
    free(p->weights);
    free(p->pending);
    memset(p, 0, sizeof *p);
}

static int push_pending(lp_prior *p, const lp_kcfg *c, lp_err *err)
{
    if (p->n_pending == p->cap_pending) {
        size_t cap = p->cap_pending ? p->cap_pending * 2 : 1024;
        lp_kcfg *v = realloc(p->pending, cap * sizeof *v);
        if (!v)
            return lp_err_set(err, LP_ENOMEM, "out of memory counting kernel configs");
        p->pending = v;
        p->cap_pending = cap;
    }
    p->pending[p->n_pending++] = *c;
    return 0;
}

int lp_prior_add_model(lp_prior *p, const lp_model *m, const char *kernel_type, lp_err *err)
{
    if (!m->resolved)
        return lp_err_set(err, LP_EINVAL, "model '%s' is not resolved", m->name);
    for (size_t j = 0; j < m->n; j++) {
        if (m->k[j].op != LP_MOP_KERNEL || strcmp(m->k[j].type, kernel_type))
            continue;
        int rc = push_pending(p, &m->k[j].cfg, err);
        if (rc < 0)
            return rc;
        p->total++;
    }
    p->n_models++;
    return 0;
}

/* Existing rows and pending occurrences go into one array, sorted by config, so equal
 * configs are runs whose counts add up; the runs are then ordered by count. */
static int merge_rows(lp_prior *p, cfg_count **rows, size_t *n_rows, lp_err *err)
{
    size_t n = p->n + p->n_pending, k = 0;
    cfg_count *all = malloc((n ? n : 1) * sizeof *all);
    if (!all)
        return lp_err_set(err, LP_ENOMEM, "out of memory counting kernel configs");
    for (size_t i = 0; i < p->n; i++)
        all[i] = (cfg_count){p->cfgs[i], p->counts[i]};
    for (size_t i = 0; i < p->n_pending; i++)
        all[p->n + i] = (cfg_count){p->pending[i], 1};
    qsort(all, n, sizeof *all, cmp_row_cfg);
    for (size_t i = 0; i < n; i++) {
        if (k && !cmp_cfg(&all[k - 1].cfg, &all[i].cfg))
            all[k - 1].count += all[i].count;
        else
            all[k++] = all[i];
    }
    qsort(all, k, sizeof *all, cmp_row_count);
    *rows = all;
    *n_rows = k;
    return 0;
}

int lp_prior_finish(lp_prior *p, lp_err *err)
{
    cfg_count *rows = NULL;
    size_t n = 0;
    int rc = merge_rows(p, &rows, &n, err);
    if (rc < 0)
        return rc;
    size_t cap = n ? n : 1;
    lp_kcfg *cfgs = malloc(cap * sizeof *cfgs);
    uint64_t *counts = malloc(cap * sizeof *counts);
    double *weights = malloc(cap * sizeof *weights);
    if (!cfgs || !counts || !weights) {
        rc = lp_err_set(err, LP_ENOMEM, "out of memory counting kernel configs");
        goto fail;
    }
    for (size_t i = 0; i < n; i++) {
        cfgs[i] = rows[i].cfg;
        counts[i] = rows[i].count;
        weights[i] = p->total ? (double)rows[i].count / (double)p->total : 0.0;
    }
    free(p->cfgs);
    free(p->counts);
    free(p->weights);
    p->cfgs = cfgs;
    p->counts = counts;
    p->weights = weights;
    p->n = n;
    p->n_pending = 0;
    free(rows);
    return 0;
fail:
    free(cfgs);
    free(counts);
    free(weights);
    free(rows);
    return rc;
}

int lp_prior_add_space(lp_prior *p, const lp_registry *reg, const lp_space *s,
                       const char *kernel_type, uint64_t n_models, uint64_t seed, lp_err *err)
{
    for (uint64_t i = 0; i < n_models; i++) {
        lp_model *m = NULL;
        int rc = lp_space_sample_checked(s, reg, seed, i, &m, err);
        if (rc == 0)
            rc = lp_prior_add_model(p, m, kernel_type, err);
        lp_model_free(m);
        if (rc < 0)
            return rc;
    }
    return lp_prior_finish(p, err);
}

int lp_prior_build(const lp_registry *reg, const char *spaces_dir, const char *kernel_type,
                   size_t models_per_space, uint64_t seed, lp_prior *out, lp_err *err)
{
    char **files = NULL;
    size_t n_files = 0;
    lp_space *s = NULL;
    int rc;
    memset(out, 0, sizeof *out);
    if (!kernel_type || !lp_registry_find(reg, LP_KIND_KERNEL, kernel_type)) {
        char names[1024];
        return lp_err_set(err, LP_ENOTFOUND, "unknown kernel type '%s' (available: %s)",
                          kernel_type ? kernel_type : "(null)",
                          lp_registry_names(reg, LP_KIND_KERNEL, names, sizeof names));
    }
    if (!spaces_dir)
        spaces_dir = lp_spaces_dir_default();
    if ((rc = lp_space_files(spaces_dir, &files, &n_files, err)) < 0)
        return rc;
    if (n_files == 0) {
        rc = lp_err_set(err, LP_ENOTFOUND, "no space files (*.yaml) in %s", spaces_dir);
        goto fail;
    }
    for (size_t i = 0; i < n_files; i++) {
        if ((rc = lp_space_load(files[i], &s, err)) < 0 ||
            (rc = lp_prior_add_space(out, reg, s, kernel_type, models_per_space, seed, err)) < 0)
            goto fail;
        lp_space_free(s);
        s = NULL;
    }
    lp_strv_free(files, n_files);
    return 0;
fail:
    lp_err_prefix(err, "prior of %s: ", kernel_type);
    lp_space_free(s);
    lp_strv_free(files, n_files);
    lp_prior_free(out);
    return rc;
}
