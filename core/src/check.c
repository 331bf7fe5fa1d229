/* `litepred check`: tells a config file's kind by its top-level key and runs
 * that kind's validator, collecting every problem with its position. */
#include <litepred/pool.h>

#include "check.h"

#include <litepred/similarity.h>
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
    {"pool", lp_pool_check_doc}, /* pool.yaml also names its platform */
    {"platform", lp_platform_check_doc},
    {"model", lp_model_check_doc},
    {"space", lp_space_check_doc},
    /* Last: a representative file carries no other kind's key, while other kinds (an adapt
     * pipeline) may one day name a representative set. */
    {"representative", lp_representative_check_doc},
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
