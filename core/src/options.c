/* Option tables drive defaults, validation and help text, so help can never
 * drift from what is accepted. */
#include <litepred/litepred.h>

#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

/* ---- diagnostics ---------------------------------------------------- */

/* Takes ownership of msg. */
static void diag_push(lp_diag *d, char *msg)
{
    if (d->n == d->cap) {
        size_t cap = d->cap ? d->cap * 2 : 8;
        char **nm = realloc(d->msgs, cap * sizeof *nm);
        if (!nm) {
            free(msg); /* out of memory: the caller still sees the earlier problems */
            return;
        }
        d->msgs = nm;
        d->cap = cap;
    }
    d->msgs[d->n++] = msg;
}

void lp_diag_add_raw(lp_diag *d, const char *msg)
{
    char *copy = strdup(msg);
    if (copy)
        diag_push(d, copy);
}

void lp_diag_add(lp_diag *d, const char *file, const lp_ynode *node, const char *fmt, ...)
{
    char body[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(body, sizeof body, fmt, ap);
    va_end(ap);
    char *msg = NULL;
    if (asprintf(&msg, "%s:%d:%d: %s", file ? file : "<options>", node ? node->line : 1,
                 node ? node->col : 1, body) >= 0)
        diag_push(d, msg);
}

void lp_diag_print(const lp_diag *d, FILE *f)
{
    for (size_t i = 0; i < d->n; i++)
        fprintf(f, "%s\n", d->msgs[i]);
}

void lp_diag_free(lp_diag *d)
{
    for (size_t i = 0; i < d->n; i++)
        free(d->msgs[i]);
    free(d->msgs);
    d->msgs = NULL;
    d->n = d->cap = 0;
}

/* ---- typed access ---------------------------------------------------- */

#define FIELD(base, o, type) ((type *)((char *)(base) + (o)->offset))

const char *lp_opt_type_name(lp_opt_type t)
{
    switch (t) {
    case LP_OPT_INT: return "int";
    case LP_OPT_DOUBLE: return "float";
    case LP_OPT_BOOL: return "bool";
    case LP_OPT_STRING: return "string";
    case LP_OPT_CHOICE: return "choice";
    }
    return "?";
}

static int has_range(const lp_option *o) { return o->min <= o->max && (o->min != 0 || o->max != 0); }

static int choice_index(const lp_option *o, const char *name)
{
    for (int i = 0; o->choices && o->choices[i]; i++)
        if (!strcmp(o->choices[i], name))
            return i;
    return -1;
}

static char *choices_str(const lp_option *o, char *buf, size_t size)
{
    size_t len = 0;
    buf[0] = '\0';
    for (int i = 0; o->choices && o->choices[i] && len < size; i++)
        len += (size_t)snprintf(buf + len, size - len, "%s%s", i ? ", " : "", o->choices[i]);
    return buf;
}

static char *keys_str(const lp_option *table, char *buf, size_t size)
{
    size_t len = 0;
    buf[0] = '\0';
    for (const lp_option *o = table; o && o->name && len < size; o++)
        len += (size_t)snprintf(buf + len, size - len, "%s%s", o == table ? "" : ", ", o->name);
    if (!table || !table->name)
        snprintf(buf, size, "none: this plugin has no options");
    return buf;
}

static const lp_option *find_option(const lp_option *table, const char *name)
{
    for (const lp_option *o = table; o && o->name; o++)
        if (!strcmp(o->name, name))
            return o;
    return NULL;
}

char *lp_option_default_str(const lp_option *o, char *buf, size_t size)
{
    if (o->flags & LP_OPT_REQUIRED) {
        snprintf(buf, size, "(required)");
        return buf;
    }
    switch (o->type) {
    case LP_OPT_INT: snprintf(buf, size, "%" PRId64, o->def_i); break;
    case LP_OPT_DOUBLE: snprintf(buf, size, "%g", o->def_d); break;
    case LP_OPT_BOOL: snprintf(buf, size, "%s", o->def_i ? "true" : "false"); break;
    case LP_OPT_STRING:
    case LP_OPT_CHOICE: snprintf(buf, size, "%s", o->def_s ? o->def_s : ""); break;
    }
    return buf;
}

char *lp_option_value_str(const lp_option *o, const void *base, char *buf, size_t size)
{
    switch (o->type) {
    case LP_OPT_INT: snprintf(buf, size, "%" PRId64, *FIELD(base, o, const int64_t)); break;
    case LP_OPT_DOUBLE: snprintf(buf, size, "%.17g", *FIELD(base, o, const double)); break;
    case LP_OPT_BOOL: snprintf(buf, size, "%s", *FIELD(base, o, const int) ? "true" : "false"); break;
    case LP_OPT_STRING: {
        const char *s = *FIELD(base, o, char *const);
        snprintf(buf, size, "%s", s ? s : "");
        break;
    }
    case LP_OPT_CHOICE: snprintf(buf, size, "%s", o->choices[*FIELD(base, o, const int)]); break;
    }
    return buf;
}

/* ---- defaults ------------------------------------------------------- */

/* A table is checked as it is applied so a plugin with a broken table fails at load. */
static int check_option(const lp_option *o, lp_err *err)
{
    if (o->type < LP_OPT_INT || o->type > LP_OPT_CHOICE)
        return lp_err_set(err, LP_EABI, "option '%s' has unknown type %d", o->name, (int)o->type);
    if (o->type == LP_OPT_CHOICE) {
        if (!o->choices || !o->choices[0])
            return lp_err_set(err, LP_EABI, "choice option '%s' has no choices", o->name);
        if (!(o->flags & LP_OPT_REQUIRED) && (!o->def_s || choice_index(o, o->def_s) < 0))
            return lp_err_set(err, LP_EABI, "choice option '%s' default '%s' is not a choice",
                              o->name, o->def_s ? o->def_s : "(null)");
    }
    if (!(o->flags & LP_OPT_REQUIRED) && has_range(o)) {
        double v = o->type == LP_OPT_INT ? (double)o->def_i : o->def_d;
        if ((o->type == LP_OPT_INT || o->type == LP_OPT_DOUBLE) && (v < o->min || v > o->max))
            return lp_err_set(err, LP_EABI, "option '%s' default %g is outside [%g, %g]", o->name,
                              v, o->min, o->max);
    }
    return 0;
}

int lp_options_defaults(const lp_option *table, void *base, lp_err *err)
{
    for (const lp_option *o = table; o && o->name; o++) {
        int rc = check_option(o, err);
        if (rc < 0)
            return rc;
        switch (o->type) {
        case LP_OPT_INT: *FIELD(base, o, int64_t) = o->def_i; break;
        case LP_OPT_DOUBLE: *FIELD(base, o, double) = o->def_d; break;
        case LP_OPT_BOOL: *FIELD(base, o, int) = o->def_i != 0; break;
        case LP_OPT_CHOICE:
            *FIELD(base, o, int) = o->def_s ? choice_index(o, o->def_s) : 0;
            if (*FIELD(base, o, int) < 0)
                *FIELD(base, o, int) = 0;
            break;
        case LP_OPT_STRING: {
            char **slot = FIELD(base, o, char *);
            free(*slot);
            *slot = NULL;
            if (o->def_s && !(*slot = strdup(o->def_s)))
                return lp_err_set(err, LP_ENOMEM, "out of memory");
            break;
        }
        }
    }
    return 0;
}

void lp_options_free(const lp_option *table, void *base)
{
    for (const lp_option *o = table; o && o->name; o++)
        if (o->type == LP_OPT_STRING) {
            free(*FIELD(base, o, char *));
            *FIELD(base, o, char *) = NULL;
        }
}

/* ---- setting one value ------------------------------------------------ */

/* Sets o from text (YAML scalar or k=v value); on failure writes the reason into why. */
static int set_value(const lp_option *o, void *base, const lp_ynode *node, char *why, size_t wsz)
{
    char buf[512];
    switch (o->type) {
    case LP_OPT_INT: {
        int64_t v;
        if (lp_yscalar_int(node, &v) < 0) {
            snprintf(why, wsz, "'%s' must be an integer, got '%s'", o->name, node->str);
            return LP_EINVAL;
        }
        if (has_range(o) && (v < o->min || v > o->max)) {
            snprintf(why, wsz, "'%s' = %" PRId64 " is out of range [%.0f, %.0f]", o->name, v,
                     o->min, o->max);
            return LP_EINVAL;
        }
        *FIELD(base, o, int64_t) = v;
        return 0;
    }
    case LP_OPT_DOUBLE: {
        double v;
        if (lp_yscalar_double(node, &v) < 0) {
            snprintf(why, wsz, "'%s' must be a number, got '%s'", o->name, node->str);
            return LP_EINVAL;
        }
        if (has_range(o) && (v < o->min || v > o->max)) {
            snprintf(why, wsz, "'%s' = %g is out of range [%g, %g]", o->name, v, o->min, o->max);
            return LP_EINVAL;
        }
        *FIELD(base, o, double) = v;
        return 0;
    }
    case LP_OPT_BOOL: {
        int v;
        if (lp_yscalar_bool(node, &v) < 0) {
            snprintf(why, wsz, "'%s' must be true or false, got '%s'", o->name, node->str);
            return LP_EINVAL;
        }
        *FIELD(base, o, int) = v;
        return 0;
    }
    case LP_OPT_CHOICE: {
        int i = choice_index(o, node->str);
        if (i < 0) {
            snprintf(why, wsz, "'%s' must be one of: %s; got '%s'", o->name,
                     choices_str(o, buf, sizeof buf), node->str);
            return LP_EINVAL;
        }
        *FIELD(base, o, int) = i;
        return 0;
    }
    case LP_OPT_STRING: {
        char *s = strdup(node->str);
        if (!s) {
            snprintf(why, wsz, "out of memory");
            return LP_ENOMEM;
        }
        free(*FIELD(base, o, char *));
        *FIELD(base, o, char *) = s;
        return 0;
    }
    }
    snprintf(why, wsz, "'%s' has an unknown type", o->name);
    return LP_EINVAL;
}

static int in_list(const char *const *list, const char *s)
{
    for (size_t i = 0; list && list[i]; i++)
        if (!strcmp(list[i], s))
            return 1;
    return 0;
}

int lp_options_apply(const lp_option *table, void *base, const lp_ynode *map,
                     const char *const *skip, const char *file, lp_diag *diag)
{
    size_t before = diag->n;
    char why[1024], keys[1024];
    if (map && map->type != LP_Y_MAP) {
        lp_diag_add(diag, file, map, "expected a mapping of options, got %s",
                    lp_ytype_name(map->type));
        return LP_EINVAL;
    }
    for (size_t i = 0; map && i < map->n; i++) {
        const lp_ynode *k = map->keys[i], *v = map->items[i];
        if (in_list(skip, k->str))
            continue;
        const lp_option *o = find_option(table, k->str);
        if (!o) {
            lp_diag_add(diag, file, k, "unknown key '%s' (valid keys: %s)", k->str,
                        keys_str(table, keys, sizeof keys));
            continue;
        }
        if (v->type != LP_Y_SCALAR) {
            lp_diag_add(diag, file, v, "'%s' must be a %s scalar, got %s", o->name,
                        lp_opt_type_name(o->type), lp_ytype_name(v->type));
            continue;
        }
        if (set_value(o, base, v, why, sizeof why) < 0)
            lp_diag_add(diag, file, v, "%s", why);
    }
    for (const lp_option *o = table; o && o->name; o++)
        if ((o->flags & LP_OPT_REQUIRED) && !lp_ymap_get(map, o->name))
            lp_diag_add(diag, file, map, "missing required key '%s' (%s)", o->name,
                        o->help ? o->help : lp_opt_type_name(o->type));
    return diag->n > before ? LP_EINVAL : 0;
}

int lp_options_parse_kv(const lp_option *table, void *base, const char *kv, lp_err *err)
{
    char *copy = kv ? strdup(kv) : NULL, *save = NULL, why[1024], keys[1024];
    uint64_t seen = 0; /* options given, by table index */
    int rc = 0;
    if (kv && !copy)
        return lp_err_set(err, LP_ENOMEM, "out of memory");
    for (char *tok = copy ? strtok_r(copy, ",", &save) : NULL; tok; tok = strtok_r(NULL, ",", &save)) {
        char *eq = strchr(tok, '=');
        if (!eq) {
            rc = lp_err_set(err, LP_EINVAL, "option '%s' must be written key=value", tok);
            break;
        }
        *eq = '\0';
        const lp_option *o = find_option(table, tok);
        if (!o) {
            rc = lp_err_set(err, LP_EINVAL, "unknown option '%s' (valid keys: %s)", tok,
                            keys_str(table, keys, sizeof keys));
            break;
        }
        lp_ynode node = {.type = LP_Y_SCALAR, .str = eq + 1, .line = 1, .col = 1};
        if ((rc = set_value(o, base, &node, why, sizeof why)) < 0) {
            lp_err_set(err, rc, "%s", why);
            break;
        }
        if (o - table < 64)
            seen |= 1ull << (o - table);
    }
    free(copy);
    for (const lp_option *o = table; rc == 0 && o && o->name; o++)
        if ((o->flags & LP_OPT_REQUIRED) && (o - table >= 64 || !(seen & (1ull << (o - table)))))
            rc = lp_err_set(err, LP_EINVAL, "missing required option '%s' (%s)", o->name,
                            o->help ? o->help : lp_opt_type_name(o->type));
    return rc;
}
