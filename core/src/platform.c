/* Platforms: an engine with its settings plus timing settings, from YAML. */
#include "check.h"

#include <libgen.h>
#include <stdlib.h>
#include <string.h>

#define HOPT(field) offsetof(lp_harness_opts, field)

const lp_option lp_harness_options[] = {
    {.name = "warmup", .help = "untimed runs before timing", .type = LP_OPT_INT,
     .offset = HOPT(warmup), .def_i = 5, .min = 0, .max = 100000},
    {.name = "min_runs", .help = "timed runs before the median may be declared stable",
     .type = LP_OPT_INT, .offset = HOPT(min_runs), .def_i = 10, .min = 3, .max = 1000000},
    {.name = "max_runs", .help = "cap on timed runs per measurement", .type = LP_OPT_INT,
     .offset = HOPT(max_runs), .def_i = 300, .min = 3, .max = 10000000},
    {.name = "max_seconds", .help = "cap on timed seconds per measurement", .type = LP_OPT_DOUBLE,
     .offset = HOPT(max_seconds), .def_d = 2.0, .min = 0.001, .max = 3600},
    {.name = "ci", .help = "stop when the median's 95% confidence half-width is within this fraction",
     .type = LP_OPT_DOUBLE, .offset = HOPT(ci), .def_d = 0.01, .min = 0.0001, .max = 1},
    {.name = "cpu", .help = "CPU to pin the measuring thread to (-1: no pinning)", .type = LP_OPT_INT,
     .offset = HOPT(cpu), .def_i = -1, .min = -1, .max = 4095},
    {.name = "background", .help = "busy threads running beside the measurement (contention)",
     .type = LP_OPT_INT, .offset = HOPT(background), .def_i = 0, .min = 0, .max = 256},
    {.name = "launches", .help = "process launches whose medians are pooled (multi-thread platforms)",
     .type = LP_OPT_INT, .offset = HOPT(launches), .def_i = 1, .min = 1, .max = 100},
    {.name = "flush_kib", .help = "KiB written before every run to evict the private caches, as a "
     "kernel inside a model finds them (0: off; about twice the L2 size)", .type = LP_OPT_INT,
     .offset = HOPT(flush_kib), .def_i = 0, .min = 0, .max = 4194304},
    LP_OPT_END};

static const char *const platform_keys[] = {"platform", "summary", "engine", "harness", NULL};

void lp_platform_free(lp_platform *p)
{
    if (!p)
        return;
    lp_instance_destroy(p->engine);
    free(p->name);
    free(p->summary);
    free(p->path);
    free(p->engine_options);
    free(p);
}

char *lp_instance_options_str(const lp_instance *inst)
{
    size_t cap = 64, len = 0;
    char *s = calloc(1, cap), val[512];
    for (const lp_option *o = inst->desc->options; s && o && o->name; o++) {
        lp_option_value_str(o, inst->priv, val, sizeof val);
        size_t need = len + strlen(o->name) + strlen(val) + 3;
        if (need > cap) {
            char *ns = realloc(s, cap = need * 2);
            if (!ns) {
                free(s);
                return NULL;
            }
            s = ns;
        }
        len += (size_t)sprintf(s + len, "%s%s=%s", len ? "," : "", o->name, val);
    }
    return s;
}

/* The platform name is how pipelines refer to the file, so it must equal the file's stem. */
static void check_name(const lp_ynode *name, const char *path, lp_diag *diag)
{
    char *copy = strdup(path);
    if (!copy)
        return;
    char *base = basename(copy), *dot = strrchr(base, '.');
    if (dot && (!strcmp(dot, ".yaml") || !strcmp(dot, ".yml")))
        *dot = '\0';
    if (strcmp(base, name->str))
        lp_diag_add(diag, path, name, "platform name '%s' must equal the file name '%s'",
                    name->str, base);
    free(copy);
}

/* The store's identity of a platform: every engine option, plus the harness settings that
 * change what a measurement means (a cache flush does; run counts do not). */
static char *platform_options_str(const lp_instance *engine, const lp_harness_opts *h)
{
    char *s = lp_instance_options_str(engine), *t = NULL;
    if (!s || h->flush_kib <= 0)
        return s;
    if (asprintf(&t, "%s%sflush_kib=%lld", s, *s ? "," : "", (long long)h->flush_kib) < 0)
        t = NULL;
    free(s);
    return t;
}

static int platform_fill(const lp_registry *reg, const lp_ydoc *doc, lp_platform *p, lp_diag *diag)
{
    size_t before = diag->n;
    const lp_ynode *root = doc->root, *n;
    lp_check_keys(root, platform_keys, doc->path, diag);
    n = lp_ymap_get(root, "platform");
    if (n->type != LP_Y_SCALAR || !n->str[0])
        lp_diag_add(diag, doc->path, n, "'platform' must be a non-empty name");
    else {
        check_name(n, doc->path, diag);
        p->name = strdup(n->str);
    }
    if ((n = lp_ymap_get(root, "summary"))) {
        if (n->type != LP_Y_SCALAR)
            lp_diag_add(diag, doc->path, n, "'summary' must be a string, got %s",
                        lp_ytype_name(n->type));
        else
            p->summary = strdup(n->str);
    }
    lp_err err = {0};
    if (lp_options_defaults(lp_harness_options, &p->harness, &err) < 0)
        lp_diag_add(diag, doc->path, root, "%s", err.msg);
    else if ((n = lp_ymap_get(root, "harness")))
        lp_options_apply(lp_harness_options, &p->harness, n, NULL, doc->path, diag);
    if (p->harness.min_runs > p->harness.max_runs)
        lp_diag_add(diag, doc->path, lp_ymap_get(root, "harness"),
                    "harness min_runs (%lld) exceeds max_runs (%lld)",
                    (long long)p->harness.min_runs, (long long)p->harness.max_runs);
    if (!(n = lp_ymap_get(root, "engine")))
        lp_diag_add(diag, doc->path, root, "missing required key 'engine' (the engine plugin and "
                                           "its options, e.g. engine: {plugin: native, threads: 1})");
    else if (lp_check_plugin_ref(reg, LP_KIND_ENGINE, n, doc->path, diag, &p->engine) == 0 &&
             !(p->engine_options = platform_options_str(p->engine, &p->harness)))
        lp_diag_add(diag, doc->path, n, "out of memory");
    return diag->n > before ? LP_EINVAL : 0;
}

static int platform_from_doc(const lp_registry *reg, const lp_ydoc *doc, lp_platform **out,
                             lp_diag *diag)
{
    lp_platform *p = calloc(1, sizeof *p);
    if (out)
        *out = NULL;
    if (!p || !(p->path = strdup(doc->path))) {
        free(p);
        lp_diag_add(diag, doc->path, doc->root, "out of memory");
        return LP_ENOMEM;
    }
    int rc = platform_fill(reg, doc, p, diag);
    if (rc < 0 || !out)
        lp_platform_free(p);
    else
        *out = p;
    return rc;
}

int lp_platform_check_doc(const lp_registry *reg, const lp_ydoc *doc, lp_diag *diag)
{
    return platform_from_doc(reg, doc, NULL, diag);
}

int lp_platform_load(const lp_registry *reg, const char *path, lp_platform **out, lp_diag *diag,
                     lp_err *err)
{
    lp_ydoc *doc = NULL;
    *out = NULL;
    int rc = lp_yaml_load(path, &doc, err);
    if (rc < 0)
        return rc;
    if (!doc->root || doc->root->type != LP_Y_MAP || !lp_ymap_get(doc->root, "platform")) {
        lp_diag_add(diag, path, doc->root, "not a platform file: expected a mapping with a "
                                           "top-level 'platform:' key");
        lp_ydoc_free(doc);
        return lp_err_set(err, LP_EINVAL, "%s: not a platform file", path);
    }
    rc = platform_from_doc(reg, doc, out, diag);
    lp_ydoc_free(doc);
    if (rc < 0)
        return lp_err_set(err, rc, "%s: invalid platform (%zu problem%s)", path, diag->n,
                          diag->n == 1 ? "" : "s");
    return 0;
}
