/* `litepred check`: tells a config file's kind by its top-level key and runs
 * that kind's validator, collecting every problem with its position. */
#include "check.h"

#include <litepred/space.h>

#include <stdlib.h>
#include <string.h>

/* ---- shared validation helpers ------------------------------------ */

void lp_check_keys(const lp_ynode *map, const char *const *keys, const char *file, lp_diag *diag)
{
    char valid[1024];
    size_t len = 0;
    valid[0] = '\0';
    for (size_t i = 0; keys[i] && len < sizeof valid; i++)
        len += (size_t)snprintf(valid + len, sizeof valid - len, "%s%s", i ? ", " : "", keys[i]);
    for (size_t i = 0; map && map->type == LP_Y_MAP && i < map->n; i++) {
        int known = 0;
        for (size_t j = 0; keys[j] && !known; j++)
            known = !strcmp(map->keys[i]->str, keys[j]);
        if (!known)
            lp_diag_add(diag, file, map->keys[i], "unknown key '%s' (valid keys: %s)",
                        map->keys[i]->str, valid);
    }
}

const lp_plugin *lp_check_plugin_name(const lp_registry *reg, lp_kind kind, const lp_ynode *node,
                                      const char *file, lp_diag *diag)
{
    char names[1024];
    if (!node || node->type != LP_Y_SCALAR) {
        lp_diag_add(diag, file, node, "expected the name of a %s plugin, got %s",
                    lp_kind_name(kind), node ? lp_ytype_name(node->type) : "nothing");
        return NULL;
    }
    const lp_plugin *p = lp_registry_find(reg, kind, node->str);
    if (!p)
        lp_diag_add(diag, file, node, "unknown %s plugin '%s' (available: %s)", lp_kind_name(kind),
                    node->str, lp_registry_names(reg, kind, names, sizeof names));
    return p;
}

int lp_check_plugin_ref(const lp_registry *reg, lp_kind kind, const lp_ynode *node,
                        const char *file, lp_diag *diag, lp_instance **out)
{
    const lp_ynode *opts = NULL, *name = node;
    if (out)
        *out = NULL;
    if (node && node->type == LP_Y_MAP) {
        opts = node;
        if (!(name = lp_ymap_get(node, "plugin"))) {
            lp_diag_add(diag, file, node, "missing required key 'plugin' (the %s plugin's name)",
                        lp_kind_name(kind));
            return LP_EINVAL;
        }
    }
    const lp_plugin *p = lp_check_plugin_name(reg, kind, name, file, diag);
    if (!p)
        return LP_EINVAL;
    lp_instance *inst = NULL;
    lp_err err = {0};
    if (lp_instance_create(p, opts, file, &inst, diag, &err) < 0)
        return LP_EINVAL;
    if (out)
        *out = inst;
    else
        lp_instance_destroy(inst);
    return 0;
}

/* ---- pipelines -------------------------------------------------------- */

/* Pipeline kinds as bits, so one field table serves all kinds. */
enum { P_BUILD = 1, P_EVALUATE = 2, P_BUILD_POOL = 4, P_ADAPT = 8, P_ALL = 15 };

static const char *const pipeline_kinds[] = {"build", "evaluate", "build-pool", "adapt", NULL};

typedef enum { F_KIND, F_STRING, F_NAMES, F_PLUGIN, F_MAP, F_STRINGS } field_type;

typedef struct pipeline_field {
    const char *key;
    field_type type;
    lp_kind kind;        /* F_NAMES / F_PLUGIN: plugin kind */
    unsigned allowed;    /* pipeline kinds that accept the key */
    unsigned required;   /* pipeline kinds that need the key */
    const char *help;
} pipeline_field;

static const pipeline_field pipeline_fields[] = {
    {"pipeline", F_KIND, 0, P_ALL, P_ALL, "pipeline kind: build, evaluate, build-pool, adapt"},
    {"store", F_STRING, 0, P_ALL, 0, "SQLite measurement store (default litepred.db)"},
    {"pool", F_STRING, 0, P_ALL, P_ALL, "predictor pool directory"},
    {"platform", F_STRING, 0, P_BUILD | P_EVALUATE, P_BUILD | P_EVALUATE, "platform name"},
    {"platforms", F_STRINGS, 0, P_BUILD_POOL, P_BUILD_POOL, "warm-up platform names"},
    {"target", F_STRING, 0, P_ADAPT, P_ADAPT, "target platform name"},
    {"kernels", F_NAMES, LP_KIND_KERNEL, P_ALL, P_BUILD | P_BUILD_POOL | P_ADAPT, "kernel types"},
    {"sampler", F_PLUGIN, LP_KIND_SAMPLER, P_BUILD | P_BUILD_POOL | P_ADAPT, 0, "data sampler"},
    {"similarity", F_PLUGIN, LP_KIND_SIMILARITY, P_ADAPT, 0, "similarity metric"},
    {"predictor", F_PLUGIN, LP_KIND_PREDICTOR, P_BUILD | P_BUILD_POOL | P_ADAPT, 0, "predictor"},
    {"evaluate", F_MAP, 0, P_EVALUATE | P_ADAPT, 0, "evaluation: spaces, models, seed"},
    {"report", F_STRING, 0, P_ALL, 0, "report directory"},
    {NULL, 0, 0, 0, 0, NULL}};

static void check_names(const lp_registry *reg, const pipeline_field *f, const lp_ynode *v,
                        const char *file, lp_diag *diag)
{
    if (v->type != LP_Y_SEQ || v->n == 0) {
        lp_diag_add(diag, file, v, "'%s' must be a non-empty list of %s names", f->key,
                    f->kind ? lp_kind_name(f->kind) : "platform");
        return;
    }
    for (size_t i = 0; i < v->n; i++) {
        if (f->type == F_NAMES)
            lp_check_plugin_name(reg, f->kind, v->items[i], file, diag);
        else if (v->items[i]->type != LP_Y_SCALAR)
            lp_diag_add(diag, file, v->items[i], "'%s' entries must be names, got %s", f->key,
                        lp_ytype_name(v->items[i]->type));
    }
}

static void check_field(const lp_registry *reg, const pipeline_field *f, const lp_ynode *v,
                        const char *file, lp_diag *diag)
{
    switch (f->type) {
    case F_KIND:
    case F_STRING:
        if (v->type != LP_Y_SCALAR || !v->str[0])
            lp_diag_add(diag, file, v, "'%s' must be a non-empty string (%s), got %s", f->key,
                        f->help, lp_ytype_name(v->type));
        break;
    case F_NAMES:
    case F_STRINGS:
        check_names(reg, f, v, file, diag);
        break;
    case F_PLUGIN:
        lp_check_plugin_ref(reg, f->kind, v, file, diag, NULL);
        break;
    case F_MAP:
        if (v->type != LP_Y_MAP)
            lp_diag_add(diag, file, v, "'%s' must be a mapping (%s), got %s", f->key, f->help,
                        lp_ytype_name(v->type));
        break;
    }
}

static unsigned pipeline_kind_bit(const lp_ynode *v, const char *file, lp_diag *diag)
{
    for (unsigned i = 0; pipeline_kinds[i]; i++)
        if (v->type == LP_Y_SCALAR && !strcmp(v->str, pipeline_kinds[i]))
            return 1u << i;
    lp_diag_add(diag, file, v, "'pipeline' must be one of: build, evaluate, build-pool, adapt; got '%s'",
                v->type == LP_Y_SCALAR ? v->str : lp_ytype_name(v->type));
    return 0;
}

int lp_pipeline_check_doc(const lp_registry *reg, const lp_ydoc *doc, lp_diag *diag)
{
    size_t before = diag->n;
    const lp_ynode *root = doc->root;
    unsigned kind = pipeline_kind_bit(lp_ymap_get(root, "pipeline"), doc->path, diag);
    const char *keys[sizeof pipeline_fields / sizeof pipeline_fields[0]];
    size_t nk = 0;
    for (const pipeline_field *f = pipeline_fields; f->key; f++)
        if (!kind || (f->allowed & kind))
            keys[nk++] = f->key;
    keys[nk] = NULL;
    lp_check_keys(root, keys, doc->path, diag);
    for (const pipeline_field *f = pipeline_fields; f->key; f++) {
        const lp_ynode *v = lp_ymap_get(root, f->key);
        if (v && (!kind || (f->allowed & kind)) && f->type != F_KIND)
            check_field(reg, f, v, doc->path, diag);
        else if (!v && (f->required & kind))
            lp_diag_add(diag, doc->path, root, "missing required key '%s' (%s)", f->key, f->help);
    }
    return diag->n > before ? LP_EINVAL : 0;
}

/* ---- dispatch ------------------------------------------------------------ */

typedef struct check_kind {
    const char *key; /* top-level key that identifies the file kind */
    lp_check_fn fn;
} check_kind;

/* One entry per config file kind; add a kind here. The first key found wins, so a kind
 * whose files may also carry a later kind's key comes first: a pipeline names its
 * platform, a model names its space. */
static const check_kind check_kinds[] = {
    {"pipeline", lp_pipeline_check_doc},
    {"platform", lp_platform_check_doc},
    {"model", lp_model_check_doc},
    {"space", lp_space_check_doc},
};

int lp_check_file(const lp_registry *reg, const char *path, lp_diag *diag, lp_err *err)
{
    lp_ydoc *doc = NULL;
    int rc = lp_yaml_load(path, &doc, err);
    if (rc == LP_EPARSE) {
        lp_diag_add_raw(diag, err->msg); /* the parser's message carries file:line:col */
        return LP_EINVAL;
    }
    if (rc < 0)
        return rc;
    const lp_ynode *root = doc->root;
    if (!root || root->type != LP_Y_MAP) {
        lp_diag_add(diag, path, root, "expected a mapping at the top level, got %s",
                    root ? lp_ytype_name(root->type) : "an empty file");
        lp_ydoc_free(doc);
        return LP_EINVAL;
    }
    char keys[256];
    size_t len = 0;
    for (size_t i = 0; i < sizeof check_kinds / sizeof check_kinds[0]; i++) {
        if (lp_ymap_get(root, check_kinds[i].key)) {
            rc = check_kinds[i].fn(reg, doc, diag);
            lp_ydoc_free(doc);
            return rc < 0 ? LP_EINVAL : 0;
        }
        len += (size_t)snprintf(keys + len, sizeof keys - len, "%s%s", i ? ", " : "",
                                check_kinds[i].key);
    }
    lp_diag_add(diag, path, root, "cannot tell what this file is: expected one of the top-level "
                                  "keys %s", keys);
    lp_ydoc_free(doc);
    return LP_EINVAL;
}
