/* Plugin discovery and loading (ggml backend-registry style): one entry symbol
 * per .so, a versioned descriptor checked before anything else is touched. */
#include <litepred/litepred.h>
#include <litepred/predictor.h>
#include <litepred/sampler.h>
#include <litepred/similarity.h>

#include <dirent.h>
#include <dlfcn.h>
#include <errno.h>
#include <libgen.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#ifndef LP_INSTALL_PLUGIN_DIR
#define LP_INSTALL_PLUGIN_DIR "/usr/local/lib/litepred/plugins"
#endif
#ifndef LP_PLUGIN_SUBDIR
#define LP_PLUGIN_SUBDIR "lib/litepred/plugins"
#endif

struct lp_plugin {
    char *path;
    void *handle;
    const lp_plugin_desc *desc;
};

struct lp_registry {
    lp_plugin *items;
    size_t n, cap;
};

uint64_t lp_now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

void lp_strv_free(char **v, size_t n)
{
    for (size_t i = 0; v && i < n; i++)
        free(v[i]);
    free(v);
}

/* ---- search path ----------------------------------------------------- */

const char *lp_install_plugin_dir(void)
{
    static char dir[PATH_MAX];
    char exe[PATH_MAX];
    ssize_t len = readlink("/proc/self/exe", exe, sizeof exe - 1);
    struct stat st;
    if (len > 0) {
        exe[len] = '\0';
        /* The build tree mirrors the install tree: <prefix>/bin/litepred and <prefix>/<libdir>/litepred/plugins. */
        char *bin = dirname(exe);
        char *prefix = dirname(bin);
        if (snprintf(dir, sizeof dir, "%s/%s", prefix, LP_PLUGIN_SUBDIR) < (int)sizeof dir &&
            stat(dir, &st) == 0 && S_ISDIR(st.st_mode))
            return dir;
        if (snprintf(dir, sizeof dir, "%s/lib/litepred/plugins", prefix) < (int)sizeof dir &&
            stat(dir, &st) == 0 && S_ISDIR(st.st_mode))
            return dir;
    }
    return LP_INSTALL_PLUGIN_DIR;
}

static int strv_push(char ***v, size_t *n, const char *s, lp_err *err)
{
    char **nv = realloc(*v, (*n + 1) * sizeof *nv);
    if (!nv)
        return lp_err_set(err, LP_ENOMEM, "out of memory");
    *v = nv;
    if (!(nv[*n] = strdup(s)))
        return lp_err_set(err, LP_ENOMEM, "out of memory");
    (*n)++;
    return 0;
}

/* Adds each entry of a colon-separated list; empty entries are skipped, never read as ".". */
static int push_list(char ***v, size_t *n, const char *list, const char *origin, lp_err *err)
{
    char *copy = strdup(list), *save = NULL;
    int rc = 0;
    if (!copy)
        return lp_err_set(err, LP_ENOMEM, "out of memory");
    for (char *d = strtok_r(copy, ":", &save); d && rc == 0; d = strtok_r(NULL, ":", &save)) {
        struct stat st;
        if (stat(d, &st) != 0 || !S_ISDIR(st.st_mode))
            rc = lp_err_set(err, LP_ENOTFOUND, "plugin directory '%s' (from %s) does not exist",
                            d, origin);
        else
            rc = strv_push(v, n, d, err);
    }
    free(copy);
    return rc;
}

int lp_plugin_search_path(const char *cli_path, char ***dirs, size_t *n, lp_err *err)
{
    char **v = NULL;
    size_t cnt = 0;
    int rc = 0;
    const char *env = getenv("LITEPRED_PLUGIN_PATH");
    if (cli_path && (rc = push_list(&v, &cnt, cli_path, "--plugin-path", err)) < 0)
        goto fail;
    if (env && *env && (rc = push_list(&v, &cnt, env, "LITEPRED_PLUGIN_PATH", err)) < 0)
        goto fail;
    const char *inst = lp_install_plugin_dir();
    struct stat st;
    if (stat(inst, &st) == 0 && S_ISDIR(st.st_mode)) {
        if ((rc = strv_push(&v, &cnt, inst, err)) < 0)
            goto fail;
    } else if (cnt == 0) {
        rc = lp_err_set(err, LP_ENOTFOUND,
                        "no plugin directory: install directory '%s' does not exist and neither "
                        "--plugin-path nor LITEPRED_PLUGIN_PATH is set", inst);
        goto fail;
    }
    *dirs = v;
    *n = cnt;
    return 0;
fail:
    lp_strv_free(v, cnt);
    return rc;
}

/* ---- loading ---------------------------------------------------------- */

static int ends_with(const char *s, const char *suffix)
{
    size_t a = strlen(s), b = strlen(suffix);
    return a >= b && !strcmp(s + a - b, suffix);
}

static int check_desc(const char *path, const lp_plugin_desc *d, lp_err *err)
{
    if (!d)
        return lp_err_set(err, LP_EABI, "%s: lp_plugin_entry returned NULL", path);
    if (d->abi_major != LP_ABI_MAJOR || d->abi_minor > LP_ABI_MINOR)
        return lp_err_set(err, LP_EABI, "%s: plugin ABI %u.%u is incompatible with core ABI %u.%u",
                          path, d->abi_major, d->abi_minor, LP_ABI_MAJOR, LP_ABI_MINOR);
    if (d->struct_size < offsetof(lp_plugin_desc, probe))
        return lp_err_set(err, LP_EABI, "%s: descriptor size %u is smaller than the minimum %zu",
                          path, d->struct_size, offsetof(lp_plugin_desc, probe));
    if (!lp_kind_name(d->kind))
        return lp_err_set(err, LP_EABI, "%s: unknown plugin kind %d", path, (int)d->kind);
    if (!d->name || !d->name[0])
        return lp_err_set(err, LP_EABI, "%s: plugin has no name", path);
    if (!d->ops || *(const size_t *)d->ops < sizeof(size_t))
        return lp_err_set(err, LP_EABI, "%s: %s plugin '%s' has no ops struct", path,
                          lp_kind_name(d->kind), d->name);
    return 0;
}

/* What a kind's ops must provide, checked at load so a broken plugin is refused with a
 * reason instead of crashing when first used. */
static int check_ops(const char *path, const lp_plugin_desc *d, lp_err *err)
{
    int rc = 0;
    const char *missing = NULL;
    switch (d->kind) {
    case LP_KIND_KERNEL:
        rc = lp_kernel_ops_check(d->ops, err);
        break;
    case LP_KIND_ENGINE: {
        const lp_engine_ops *o = d->ops;
        if (!LP_OPS_HAS(o, lp_engine_ops, supports) || !LP_OPS_HAS(o, lp_engine_ops, prepare) ||
            !LP_OPS_HAS(o, lp_engine_ops, run) || !LP_OPS_HAS(o, lp_engine_ops, output) ||
            !LP_OPS_HAS(o, lp_engine_ops, release))
            missing = "supports, prepare, run, output and release";
        break;
    }
    case LP_KIND_PREDICTOR: {
        const lp_predictor_ops *o = d->ops;
        if (!LP_OPS_HAS(o, lp_predictor_ops, train) || !LP_OPS_HAS(o, lp_predictor_ops, predict) ||
            !LP_OPS_HAS(o, lp_predictor_ops, save) || !LP_OPS_HAS(o, lp_predictor_ops, load))
            missing = "train, predict, save and load";
        break;
    }
    case LP_KIND_SAMPLER: {
        const lp_sampler_ops *o = d->ops;
        if (!LP_OPS_HAS(o, lp_sampler_ops, setup) || !LP_OPS_HAS(o, lp_sampler_ops, sample))
            missing = "setup and sample";
        break;
    }
    case LP_KIND_SIMILARITY: {
        const lp_similarity_ops *o = d->ops;
        if (!LP_OPS_HAS(o, lp_similarity_ops, score) || o->direction == 0)
            missing = "score and a direction";
        break;
    }
    default:
        break;
    }
    if (missing)
        rc = lp_err_set(err, LP_EABI, "ops lack a required member (%s are required)", missing);
    if (rc < 0)
        lp_err_prefix(err, "%s: %s plugin '%s': ", path, lp_kind_name(d->kind), d->name);
    return rc;
}

/* Members appended after the plugin was built read as NULL. */
#define DESC_HAS(d, m) ((d)->struct_size >= offsetof(lp_plugin_desc, m) + sizeof((d)->m) && (d)->m)

static int check_options(const char *path, const lp_plugin_desc *d, lp_err *err)
{
    if (!d->options)
        return 0;
    void *scratch = calloc(1, d->priv_size ? d->priv_size : 1);
    if (!scratch)
        return lp_err_set(err, LP_ENOMEM, "out of memory");
    for (const lp_option *o = d->options; o->name; o++)
        if (o->offset + sizeof(int64_t) > d->priv_size && o->offset + sizeof(int) > d->priv_size) {
            free(scratch);
            return lp_err_set(err, LP_EABI, "%s: option '%s' lies outside the private state (%zu bytes)",
                              path, o->name, d->priv_size);
        }
    int rc = lp_options_defaults(d->options, scratch, err);
    lp_options_free(d->options, scratch);
    free(scratch);
    if (rc < 0)
        lp_err_prefix(err, "%s: bad option table: ", path);
    return rc;
}

static int load_one(lp_registry *reg, const char *path, lp_err *err)
{
    void *h = dlopen(path, RTLD_NOW | RTLD_LOCAL);
    if (!h)
        return lp_err_set(err, LP_EABI, "%s: cannot load: %s", path, dlerror());
    lp_plugin_entry_fn entry;
    *(void **)&entry = dlsym(h, LP_PLUGIN_ENTRY_SYMBOL);
    int rc;
    if (!entry) {
        rc = lp_err_set(err, LP_EABI, "%s: no entry symbol '%s' (not a litepred plugin)", path,
                        LP_PLUGIN_ENTRY_SYMBOL);
        goto fail;
    }
    const lp_plugin_desc *d = entry();
    if ((rc = check_desc(path, d, err)) < 0 || (rc = check_ops(path, d, err)) < 0 ||
        (rc = check_options(path, d, err)) < 0)
        goto fail;
    for (size_t i = 0; i < reg->n; i++)
        if (reg->items[i].desc->kind == d->kind && !strcmp(reg->items[i].desc->name, d->name)) {
            rc = lp_err_set(err, LP_EEXIST, "duplicate %s plugin '%s': %s and %s",
                            lp_kind_name(d->kind), d->name, reg->items[i].path, path);
            goto fail;
        }
    if (DESC_HAS(d, probe)) {
        lp_err perr = {0};
        if ((rc = d->probe(&perr)) < 0) {
            rc = lp_err_set(err, LP_EPLUGIN, "%s: %s plugin '%s' init failed: %s", path,
                            lp_kind_name(d->kind), d->name, perr.msg[0] ? perr.msg : lp_strerror(rc));
            goto fail;
        }
    }
    if (reg->n == reg->cap) {
        size_t cap = reg->cap ? reg->cap * 2 : 32;
        lp_plugin *ni = realloc(reg->items, cap * sizeof *ni);
        if (!ni) {
            rc = lp_err_set(err, LP_ENOMEM, "out of memory");
            goto fail;
        }
        reg->items = ni;
        reg->cap = cap;
    }
    if (!(reg->items[reg->n].path = strdup(path))) {
        rc = lp_err_set(err, LP_ENOMEM, "out of memory");
        goto fail;
    }
    reg->items[reg->n].handle = h;
    reg->items[reg->n].desc = d;
    reg->n++;
    return 0;
fail:
    dlclose(h);
    return rc;
}

static int cmp_names(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Files are loaded in name order so errors and listings are reproducible. */
static int load_dir(lp_registry *reg, const char *dir, lp_err *err)
{
    DIR *dp = opendir(dir);
    if (!dp)
        return lp_err_set(err, LP_ENOTFOUND, "plugin directory '%s': %s", dir, strerror(errno));
    char **names = NULL;
    size_t n = 0;
    int rc = 0;
    for (struct dirent *e; (e = readdir(dp)) != NULL;)
        if (ends_with(e->d_name, ".so") && (rc = strv_push(&names, &n, e->d_name, err)) < 0)
            break;
    closedir(dp);
    if (rc == 0 && n)
        qsort(names, n, sizeof *names, cmp_names);
    for (size_t i = 0; rc == 0 && i < n; i++) {
        char *path = NULL;
        if (asprintf(&path, "%s/%s", dir, names[i]) < 0) {
            rc = lp_err_set(err, LP_ENOMEM, "out of memory");
            break;
        }
        rc = load_one(reg, path, err);
        free(path);
    }
    lp_strv_free(names, n);
    return rc;
}

static int cmp_plugins(const void *a, const void *b)
{
    const lp_plugin *x = a, *y = b;
    if (x->desc->kind != y->desc->kind)
        return (int)x->desc->kind - (int)y->desc->kind;
    return strcmp(x->desc->name, y->desc->name);
}

int lp_registry_open(lp_registry **out, char *const *dirs, size_t n_dirs, lp_err *err)
{
    lp_registry *reg = calloc(1, sizeof *reg);
    char **seen = NULL;
    size_t n_seen = 0;
    int rc = 0;
    *out = NULL;
    if (!reg)
        return lp_err_set(err, LP_ENOMEM, "out of memory");
    for (size_t i = 0; i < n_dirs && rc == 0; i++) {
        /* The same directory named twice (flag and env) is one directory, not duplicates. */
        char real[PATH_MAX];
        const char *key = realpath(dirs[i], real) ? real : dirs[i];
        int dup = 0;
        for (size_t j = 0; j < n_seen; j++)
            dup |= !strcmp(seen[j], key);
        if (dup)
            continue;
        if ((rc = strv_push(&seen, &n_seen, key, err)) == 0)
            rc = load_dir(reg, dirs[i], err);
    }
    lp_strv_free(seen, n_seen);
    if (rc < 0) {
        lp_registry_close(reg);
        return rc;
    }
    if (reg->n)
        qsort(reg->items, reg->n, sizeof *reg->items, cmp_plugins);
    *out = reg;
    return 0;
}

int lp_registry_open_default(lp_registry **out, const char *cli_path, lp_err *err)
{
    char **dirs = NULL;
    size_t n = 0;
    int rc = lp_plugin_search_path(cli_path, &dirs, &n, err);
    if (rc < 0)
        return rc;
    rc = lp_registry_open(out, dirs, n, err);
    lp_strv_free(dirs, n);
    return rc;
}

void lp_registry_close(lp_registry *reg)
{
    if (!reg)
        return;
    for (size_t i = 0; i < reg->n; i++) {
        /* Under ASan, keep plugins mapped so leak reports can still symbolise them. */
#ifndef __SANITIZE_ADDRESS__
        dlclose(reg->items[i].handle);
#endif
        free(reg->items[i].path);
    }
    free(reg->items);
    free(reg);
}

size_t lp_registry_count(const lp_registry *reg) { return reg ? reg->n : 0; }

const lp_plugin *lp_registry_at(const lp_registry *reg, size_t i)
{
    return reg && i < reg->n ? &reg->items[i] : NULL;
}

const lp_plugin *lp_registry_find(const lp_registry *reg, lp_kind kind, const char *name)
{
    for (size_t i = 0; reg && name && i < reg->n; i++)
        if (reg->items[i].desc->kind == kind && !strcmp(reg->items[i].desc->name, name))
            return &reg->items[i];
    return NULL;
}

char *lp_registry_names(const lp_registry *reg, lp_kind kind, char *buf, size_t size)
{
    size_t len = 0;
    buf[0] = '\0';
    for (size_t i = 0; reg && i < reg->n && len < size; i++)
        if (reg->items[i].desc->kind == kind)
            len += (size_t)snprintf(buf + len, size - len, "%s%s", len ? ", " : "",
                                    reg->items[i].desc->name);
    if (!buf[0])
        snprintf(buf, size, "none");
    return buf;
}

const lp_plugin_desc *lp_plugin_descriptor(const lp_plugin *p) { return p->desc; }
const char *lp_plugin_path(const lp_plugin *p) { return p->path; }

/* ---- instances -------------------------------------------------------- */

static int instance_alloc(const lp_plugin *p, lp_instance **out, lp_err *err)
{
    lp_instance *inst = calloc(1, sizeof *inst);
    if (!inst || !(inst->priv = calloc(1, p->desc->priv_size ? p->desc->priv_size : 1))) {
        free(inst);
        return lp_err_set(err, LP_ENOMEM, "out of memory");
    }
    inst->plugin = p;
    inst->desc = p->desc;
    int rc = lp_options_defaults(p->desc->options, inst->priv, err);
    if (rc < 0) {
        lp_instance_destroy(inst);
        return rc;
    }
    *out = inst;
    return 0;
}

static int instance_init(lp_instance *inst, lp_err *err)
{
    const lp_plugin_desc *d = inst->desc;
    if (!DESC_HAS(d, init)) {
        inst->inited = 1; /* nothing to check, but fini is still owed */
        return 0;
    }
    lp_err perr = {0};
    int rc = d->init(inst->priv, &perr);
    if (rc < 0)
        return lp_err_set(err, rc, "%s '%s': %s", lp_kind_name(d->kind), d->name,
                          perr.msg[0] ? perr.msg : lp_strerror(rc));
    inst->inited = 1;
    return 0;
}

int lp_instance_create(const lp_plugin *p, const lp_ynode *opts, const char *file,
                       lp_instance **out, lp_diag *diag, lp_err *err)
{
    static const char *const skip[] = {"plugin", NULL};
    return lp_instance_create_skip(p, opts, skip, file, out, diag, err);
}

int lp_instance_create_skip(const lp_plugin *p, const lp_ynode *opts, const char *const *skip,
                            const char *file, lp_instance **out, lp_diag *diag, lp_err *err)
{
    lp_instance *inst = NULL;
    *out = NULL;
    int rc = instance_alloc(p, &inst, err);
    if (rc < 0)
        return rc;
    if (lp_options_apply(p->desc->options, inst->priv, opts, skip, file, diag) < 0) {
        lp_instance_destroy(inst);
        return lp_err_set(err, LP_EINVAL, "invalid options for %s '%s'",
                          lp_kind_name(p->desc->kind), p->desc->name);
    }
    if ((rc = instance_init(inst, err)) < 0) {
        lp_diag_add(diag, file, opts, "%s", err->msg);
        lp_instance_destroy(inst);
        return rc;
    }
    *out = inst;
    return 0;
}

int lp_instance_create_kv(const lp_plugin *p, const char *kv, lp_instance **out, lp_err *err)
{
    lp_instance *inst = NULL;
    *out = NULL;
    int rc = instance_alloc(p, &inst, err);
    if (rc < 0)
        return rc;
    if ((rc = lp_options_parse_kv(p->desc->options, inst->priv, kv, err)) < 0) {
        lp_err_prefix(err, "%s '%s': ", lp_kind_name(p->desc->kind), p->desc->name);
        goto fail;
    }
    if ((rc = instance_init(inst, err)) < 0)
        goto fail;
    *out = inst;
    return 0;
fail:
    lp_instance_destroy(inst);
    return rc;
}

void lp_instance_destroy(lp_instance *inst)
{
    if (!inst)
        return;
    if (inst->inited && DESC_HAS(inst->desc, fini))
        inst->desc->fini(inst->priv);
    lp_options_free(inst->desc->options, inst->priv);
    free(inst->priv);
    free(inst);
}

const void *lp_instance_ops(const lp_instance *inst) { return inst->desc->ops; }
