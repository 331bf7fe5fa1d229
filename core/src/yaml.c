/* YAML trees with positions, built from libyaml's document API so every
 * config problem can be reported as file:line:column. */
#include <litepred/litepred.h>

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <yaml.h>

static void ynode_free(lp_ynode *n)
{
    if (!n)
        return;
    for (size_t i = 0; i < n->n; i++) {
        ynode_free(n->items[i]);
        if (n->keys)
            ynode_free(n->keys[i]);
    }
    free(n->items);
    free(n->keys);
    free(n->str);
    free(n);
}

void lp_ydoc_free(lp_ydoc *doc)
{
    if (!doc)
        return;
    ynode_free(doc->root);
    free(doc->path);
    free(doc);
}

/* Aliases are not followed: a config never needs them and cycles would recurse forever. */
static lp_ynode *convert(yaml_document_t *yd, yaml_node_t *src, int depth, const char *name,
                         lp_err *err)
{
    if (depth > 64) {
        lp_err_set(err, LP_EPARSE, "%s:%zu:%zu: nesting deeper than 64 levels", name,
                   src->start_mark.line + 1, src->start_mark.column + 1);
        return NULL;
    }
    lp_ynode *n = calloc(1, sizeof *n);
    if (!n) {
        lp_err_set(err, LP_ENOMEM, "out of memory reading %s", name);
        return NULL;
    }
    n->line = (int)src->start_mark.line + 1;
    n->col = (int)src->start_mark.column + 1;
    switch (src->type) {
    case YAML_SCALAR_NODE:
        n->type = LP_Y_SCALAR;
        n->str = strndup((const char *)src->data.scalar.value, src->data.scalar.length);
        n->quoted = src->data.scalar.style == YAML_SINGLE_QUOTED_SCALAR_STYLE ||
                    src->data.scalar.style == YAML_DOUBLE_QUOTED_SCALAR_STYLE;
        if (!n->str)
            goto nomem;
        return n;
    case YAML_SEQUENCE_NODE: {
        n->type = LP_Y_SEQ;
        size_t cnt = (size_t)(src->data.sequence.items.top - src->data.sequence.items.start);
        n->items = calloc(cnt ? cnt : 1, sizeof *n->items);
        if (!n->items)
            goto nomem;
        for (size_t i = 0; i < cnt; i++) {
            yaml_node_t *c = yaml_document_get_node(yd, src->data.sequence.items.start[i]);
            if (!(n->items[i] = convert(yd, c, depth + 1, name, err)))
                goto fail;
            n->n++;
        }
        return n;
    }
    case YAML_MAPPING_NODE: {
        n->type = LP_Y_MAP;
        size_t cnt = (size_t)(src->data.mapping.pairs.top - src->data.mapping.pairs.start);
        n->items = calloc(cnt ? cnt : 1, sizeof *n->items);
        n->keys = calloc(cnt ? cnt : 1, sizeof *n->keys);
        if (!n->items || !n->keys)
            goto nomem;
        for (size_t i = 0; i < cnt; i++) {
            yaml_node_pair_t *pr = &src->data.mapping.pairs.start[i];
            yaml_node_t *k = yaml_document_get_node(yd, pr->key);
            yaml_node_t *v = yaml_document_get_node(yd, pr->value);
            if (k->type != YAML_SCALAR_NODE) {
                lp_err_set(err, LP_EPARSE, "%s:%zu:%zu: mapping keys must be plain scalars", name,
                           k->start_mark.line + 1, k->start_mark.column + 1);
                goto fail;
            }
            if (!(n->keys[i] = convert(yd, k, depth + 1, name, err)))
                goto fail;
            if (!(n->items[i] = convert(yd, v, depth + 1, name, err))) {
                ynode_free(n->keys[i]);
                n->keys[i] = NULL;
                goto fail;
            }
            n->n++;
        }
        /* A repeated key would silently shadow the first: reject it. */
        for (size_t i = 0; i < n->n; i++)
            for (size_t j = 0; j < i; j++)
                if (!strcmp(n->keys[i]->str, n->keys[j]->str)) {
                    lp_err_set(err, LP_EPARSE, "%s:%d:%d: duplicate key '%s' (first at line %d)",
                               name, n->keys[i]->line, n->keys[i]->col, n->keys[i]->str,
                               n->keys[j]->line);
                    goto fail;
                }
        return n;
    }
    default:
        lp_err_set(err, LP_EPARSE, "%s:%d:%d: unsupported YAML node", name, n->line, n->col);
        goto fail;
    }
nomem:
    lp_err_set(err, LP_ENOMEM, "out of memory reading %s", name);
fail:
    ynode_free(n);
    return NULL;
}

static int parser_error(yaml_parser_t *p, const char *name, lp_err *err)
{
    const yaml_mark_t *m = p->problem ? &p->problem_mark : &p->mark;
    if (p->context)
        return lp_err_set(err, LP_EPARSE, "%s:%zu:%zu: malformed YAML: %s %s (line %zu)", name,
                          m->line + 1, m->column + 1, p->problem ? p->problem : "error",
                          p->context, p->context_mark.line + 1);
    return lp_err_set(err, LP_EPARSE, "%s:%zu:%zu: malformed YAML: %s", name, m->line + 1,
                      m->column + 1, p->problem ? p->problem : "error");
}

int lp_yaml_parse(const char *text, size_t len, const char *name, lp_ydoc **out, lp_err *err)
{
    yaml_parser_t parser;
    yaml_document_t yd;
    int rc = 0, have_doc = 0;
    lp_ydoc *doc = calloc(1, sizeof *doc);
    *out = NULL;
    if (!doc || !(doc->path = strdup(name))) {
        free(doc);
        return lp_err_set(err, LP_ENOMEM, "out of memory reading %s", name);
    }
    if (!yaml_parser_initialize(&parser)) {
        lp_ydoc_free(doc);
        return lp_err_set(err, LP_ENOMEM, "cannot initialise the YAML parser");
    }
    yaml_parser_set_input_string(&parser, (const unsigned char *)text, len);
    if (!yaml_parser_load(&parser, &yd)) {
        rc = parser_error(&parser, name, err);
        goto fail;
    }
    have_doc = 1;
    yaml_node_t *root = yaml_document_get_root_node(&yd);
    if (root && !(doc->root = convert(&yd, root, 0, name, err))) {
        rc = err ? err->code : LP_EPARSE;
        goto fail;
    }
    yaml_document_delete(&yd);
    have_doc = 0;
    /* A second document in a config file is almost always a mistake. */
    if (!yaml_parser_load(&parser, &yd)) {
        rc = parser_error(&parser, name, err);
        goto fail;
    }
    have_doc = 1;
    if (yaml_document_get_root_node(&yd)) {
        rc = lp_err_set(err, LP_EPARSE, "%s:%zu:%zu: more than one YAML document in the file",
                        name, yd.start_mark.line + 1, yd.start_mark.column + 1);
        goto fail;
    }
    yaml_document_delete(&yd);
    yaml_parser_delete(&parser);
    *out = doc;
    return 0;
fail:
    if (have_doc)
        yaml_document_delete(&yd);
    yaml_parser_delete(&parser);
    lp_ydoc_free(doc);
    return rc;
}

int lp_yaml_load(const char *path, lp_ydoc **out, lp_err *err)
{
    FILE *f = fopen(path, "rb");
    char *buf = NULL;
    size_t len = 0, cap = 0;
    *out = NULL;
    if (!f)
        return lp_err_set(err, errno == ENOENT ? LP_ENOTFOUND : LP_EIO, "%s: cannot open: %s",
                          path, strerror(errno));
    for (;;) {
        if (cap - len < 4096) {
            char *nb = realloc(buf, cap ? cap * 2 : 8192);
            if (!nb) {
                free(buf);
                fclose(f);
                return lp_err_set(err, LP_ENOMEM, "%s: out of memory", path);
            }
            buf = nb;
            cap = cap ? cap * 2 : 8192;
        }
        size_t got = fread(buf + len, 1, cap - len, f);
        len += got;
        if (got == 0)
            break;
    }
    int bad = ferror(f);
    fclose(f);
    if (bad) {
        free(buf);
        return lp_err_set(err, LP_EIO, "%s: read error", path);
    }
    int rc = lp_yaml_parse(buf, len, path, out, err);
    free(buf);
    return rc;
}

const lp_ynode *lp_ymap_get(const lp_ynode *map, const char *key)
{
    if (!map || map->type != LP_Y_MAP)
        return NULL;
    for (size_t i = 0; i < map->n; i++)
        if (!strcmp(map->keys[i]->str, key))
            return map->items[i];
    return NULL;
}

const char *lp_ytype_name(lp_ytype t)
{
    switch (t) {
    case LP_Y_SCALAR: return "a scalar";
    case LP_Y_SEQ: return "a list";
    case LP_Y_MAP: return "a mapping";
    }
    return "a node";
}

int lp_yscalar_int(const lp_ynode *n, int64_t *out)
{
    if (!n || n->type != LP_Y_SCALAR || n->quoted || !n->str[0])
        return LP_EINVAL;
    char *end;
    errno = 0;
    long long v = strtoll(n->str, &end, 10);
    if (errno || *end)
        return LP_EINVAL;
    *out = v;
    return 0;
}

int lp_yscalar_double(const lp_ynode *n, double *out)
{
    if (!n || n->type != LP_Y_SCALAR || n->quoted || !n->str[0])
        return LP_EINVAL;
    char *end;
    errno = 0;
    double v = strtod(n->str, &end);
    if (errno || *end || !isfinite(v))
        return LP_EINVAL;
    *out = v;
    return 0;
}

int lp_yscalar_bool(const lp_ynode *n, int *out)
{
    static const char *const yes[] = {"true", "yes", "on"};
    static const char *const no[] = {"false", "no", "off"};
    if (!n || n->type != LP_Y_SCALAR || n->quoted)
        return LP_EINVAL;
    for (int i = 0; i < 3; i++) {
        if (!strcasecmp(n->str, yes[i])) {
            *out = 1;
            return 0;
        }
        if (!strcasecmp(n->str, no[i])) {
            *out = 0;
            return 0;
        }
    }
    return LP_EINVAL;
}
