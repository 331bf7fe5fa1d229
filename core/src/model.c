/* Models: building, YAML load/save (byte-deterministic), resolving kernel
 * configs through their plugins, shape checking, totals and the whole-model
 * primitive graph. */
#include <litepred/model.h>

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* ---- building ------------------------------------------------------------ */

int lp_model_new(const char *name, const char *space, int64_t input_hw, int64_t input_c,
                 lp_model **out, lp_err *err)
{
    lp_model *m = calloc(1, sizeof *m);
    *out = NULL;
    if (!m || !(m->name = strdup(name)) || (space && !(m->space = strdup(space)))) {
        lp_model_free(m);
        return lp_err_set(err, LP_ENOMEM, "out of memory");
    }
    m->input_hw = input_hw;
    m->input_c = input_c;
    *out = m;
    return 0;
}

void lp_model_free(lp_model *m)
{
    if (!m)
        return;
    for (size_t i = 0; i < m->n; i++) {
        free(m->k[i].type);
        free(m->k[i].config);
    }
    for (size_t i = 0; i < m->n_enc; i++) {
        for (size_t j = 0; j < m->enc[i].n; j++)
            free(m->enc[i].vals[j]);
        free(m->enc[i].vals);
        free(m->enc[i].key);
    }
    free(m->enc);
    free(m->k);
    free(m->name);
    free(m->space);
    free(m->summary);
    free(m->path);
    free(m);
}

static lp_mnode *push_node(lp_model *m, lp_err *err)
{
    if (m->n == m->cap) {
        size_t cap = m->cap ? m->cap * 2 : 64;
        lp_mnode *nk = realloc(m->k, cap * sizeof *nk);
        if (!nk) {
            lp_err_set(err, LP_ENOMEM, "out of memory");
            return NULL;
        }
        m->k = nk;
        m->cap = cap;
    }
    lp_mnode *n = &m->k[m->n];
    memset(n, 0, sizeof *n);
    return n;
}

static int check_inputs(const lp_model *m, const int *in, int n_in, lp_err *err)
{
    if (n_in < 1 || n_in > LP_KERNEL_MAX_IN)
        return lp_err_set(err, LP_EINVAL, "entry %zu: %d inputs (1..%d)", m->n, n_in,
                          LP_KERNEL_MAX_IN);
    for (int j = 0; j < n_in; j++)
        if (in[j] < LP_MODEL_INPUT || in[j] >= (int)m->n)
            return lp_err_set(err, LP_EINVAL, "entry %zu: input %d is not an earlier entry", m->n,
                              in[j]);
    return 0;
}

int lp_model_add_kernel(lp_model *m, const char *type, const char *config, const int *in,
                        int n_in, lp_err *err)
{
    int rc = check_inputs(m, in, n_in, err);
    if (rc < 0)
        return rc;
    lp_mnode *n = push_node(m, err);
    if (!n)
        return LP_ENOMEM;
    if (!(n->type = strdup(type)) || !(n->config = strdup(config))) {
        free(n->type);
        return lp_err_set(err, LP_ENOMEM, "out of memory");
    }
    memcpy(n->in, in, (size_t)n_in * sizeof *in);
    n->n_in = n_in;
    m->resolved = 0;
    return (int)m->n++;
}

int lp_model_add_op(lp_model *m, lp_mop op, int arg, int in, lp_err *err)
{
    int rc = check_inputs(m, &in, 1, err);
    if (rc < 0)
        return rc;
    if (op != LP_MOP_TOKENS && op != LP_MOP_TOKEN_POOL)
        return lp_err_set(err, LP_EINVAL, "unknown model op %d", (int)op);
    lp_mnode *n = push_node(m, err);
    if (!n)
        return LP_ENOMEM;
    if (!(n->type = strdup(lp_mop_name(op))))
        return lp_err_set(err, LP_ENOMEM, "out of memory");
    n->op = op;
    n->arg = arg;
    n->in[0] = in;
    n->n_in = 1;
    return (int)m->n++;
}

/* Appends an encoding entry taking ownership of vals (freed on failure). */
static int push_enc(lp_model *m, const char *key, char **vals, size_t n, int is_list,
                    lp_err *err)
{
    lp_menc *ne = realloc(m->enc, (m->n_enc + 1) * sizeof *ne);
    char *k = strdup(key);
    if (!ne || !k) {
        if (ne)
            m->enc = ne;
        free(k);
        for (size_t i = 0; i < n; i++)
            free(vals[i]);
        free(vals);
        return lp_err_set(err, LP_ENOMEM, "out of memory");
    }
    m->enc = ne;
    m->enc[m->n_enc++] = (lp_menc){.key = k, .vals = vals, .n = n, .is_list = is_list};
    return 0;
}

int lp_model_add_enc(lp_model *m, const char *key, const double *v, size_t n, int is_list,
                     lp_err *err)
{
    char **vals = calloc(n ? n : 1, sizeof *vals);
    if (!vals)
        return lp_err_set(err, LP_ENOMEM, "out of memory");
    for (size_t i = 0; i < n; i++) {
        char buf[64];
        snprintf(buf, sizeof buf, "%.10g", v[i]);
        if (!(vals[i] = strdup(buf))) {
            for (size_t j = 0; j < i; j++)
                free(vals[j]);
            free(vals);
            return lp_err_set(err, LP_ENOMEM, "out of memory");
        }
    }
    return push_enc(m, key, vals, n, is_list || n != 1, err);
}

int lp_model_set_summary(lp_model *m, const char *summary, lp_err *err)
{
    char *s = strdup(summary);
    if (!s)
        return lp_err_set(err, LP_ENOMEM, "out of memory");
    free(m->summary);
    m->summary = s;
    return 0;
}

const char *lp_mop_name(lp_mop op)
{
    switch (op) {
    case LP_MOP_TOKENS: return "tokens";
    case LP_MOP_TOKEN_POOL: return "token-pool";
    default: return "kernel";
    }
}

/* ---- problems: to a diag list (check) or the first one to err (load) ------ */

typedef struct sink {
    const char *file; /* NULL for models built in memory */
    lp_diag *diag;    /* every problem, or NULL */
    lp_err *err;      /* first problem, when diag is NULL */
    int bad;
} sink;

static void report(sink *s, int line, int col, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static void report(sink *s, int line, int col, const char *fmt, ...)
{
    char msg[900];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    s->bad++;
    if (s->diag) {
        lp_ynode at = {.line = line > 0 ? line : 1, .col = col > 0 ? col : 1};
        lp_diag_add(s->diag, s->file, &at, "%s", msg);
    } else if (s->bad == 1) {
        if (s->file && line > 0)
            lp_err_set(s->err, LP_EINVAL, "%s:%d:%d: %s", s->file, line, col, msg);
        else
            lp_err_set(s->err, LP_EINVAL, "%s", msg);
    }
}

static void report_at(sink *s, const lp_ynode *n, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void report_at(sink *s, const lp_ynode *n, const char *fmt, ...)
{
    char msg[900];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    report(s, n ? n->line : 1, n ? n->col : 1, "%s", msg);
}

/* ---- resolving kernel configs -------------------------------------------- */

static void resolve_node(lp_mnode *k, size_t i, const lp_registry *reg, sink *s)
{
    lp_err e = {0};
    char names[1024], canon[512];
    const lp_plugin *p = lp_registry_find(reg, LP_KIND_KERNEL, k->type);
    if (!p) {
        report(s, k->line, k->col, "kernel %zu: unknown kernel type '%s' (available: %s)", i,
               k->type, lp_registry_names(reg, LP_KIND_KERNEL, names, sizeof names));
        return;
    }
    const lp_kernel_ops *ops = lp_plugin_descriptor(p)->ops;
    if (lp_kcfg_parse(ops->dims, ops->n_dims, k->config, &k->cfg, &e) < 0 ||
        ops->valid(&k->cfg, &e) < 0) {
        report(s, k->line, k->col, "kernel %zu (%s): config \"%s\": %s", i, k->type, k->config,
               e.msg);
        return;
    }
    int len = lp_kcfg_format(ops->dims, ops->n_dims, &k->cfg, canon, sizeof canon);
    char *c = len >= 0 && (size_t)len < sizeof canon ? strdup(canon) : NULL;
    if (!c) {
        report(s, k->line, k->col, "kernel %zu (%s): cannot format its config", i, k->type);
        return;
    }
    free(k->config);
    k->config = c;
    k->plugin = p;
    k->ops = ops;
}

static int resolve(lp_model *m, const lp_registry *reg, sink *s)
{
    int before = s->bad;
    for (size_t i = 0; i < m->n; i++)
        if (m->k[i].op == LP_MOP_KERNEL)
            resolve_node(&m->k[i], i, reg, s);
    m->resolved = s->bad == before;
    return m->resolved ? 0 : LP_EINVAL;
}

int lp_model_resolve(lp_model *m, const lp_registry *reg, lp_err *err)
{
    sink s = {.file = m->path, .err = err};
    return resolve(m, reg, &s);
}

/* ---- shape check ------------------------------------------------------------ */

/* Shapes that differ only by extents of 1 are one tensor (a free reshape). */
static int squeeze_equal(const lp_shape *a, const lp_shape *b)
{
    int64_t x[LP_MAX_RANK], y[LP_MAX_RANK];
    int nx = 0, ny = 0;
    for (int i = 0; i < a->rank; i++)
        if (a->d[i] != 1)
            x[nx++] = a->d[i];
    for (int i = 0; i < b->rank; i++)
        if (b->d[i] != 1)
            y[ny++] = b->d[i];
    return nx == ny && !memcmp(x, y, (size_t)nx * sizeof *x);
}

static lp_shape input_shape(const lp_model *m)
{
    return lp_shape_make(4, 1, m->input_hw, m->input_hw, m->input_c);
}

/* The output shape of a structural op reading `in` (rank 0 when in does not fit). */
static lp_shape op_out(const lp_mnode *k, const lp_shape *in)
{
    lp_shape bad = {0};
    if (k->op == LP_MOP_TOKENS) {
        if (in->rank != 4 || in->d[0] != 1 || k->arg < 0)
            return bad;
        return lp_shape_make(2, in->d[1] * in->d[2] + k->arg, in->d[3], 0, 0);
    }
    lp_shape t = *in;
    if (t.rank == 3 && t.d[0] == 1) /* [1, n, c] is [n, c] */
        t = lp_shape_make(2, t.d[1], t.d[2], 0, 0);
    if (t.rank != 2 || t.d[0] < (k->arg == LP_TOKEN_POOL_MEAN ? 2 : 1))
        return bad;
    return lp_shape_make(2, 1, t.d[1], 0, 0);
}

static void check_node(lp_model *m, size_t i, const int *known, sink *s)
{
    lp_mnode *k = &m->k[i];
    lp_shape fed[LP_KERNEL_MAX_IN], want[LP_KERNEL_MAX_IN] = {{0}};
    lp_shape in0 = input_shape(m);
    char a[64], b[64];
    for (int j = 0; j < k->n_in; j++) {
        if (k->in[j] != LP_MODEL_INPUT && !known[k->in[j]])
            return; /* its producer already failed: one report per root cause */
        fed[j] = k->in[j] == LP_MODEL_INPUT ? in0 : m->k[k->in[j]].out;
    }
    if (k->op != LP_MOP_KERNEL) {
        k->out = op_out(k, &fed[0]);
        if (!k->out.rank)
            report(s, k->line, k->col, "entry %zu (%s): cannot take %s from %s%s: expected %s",
                   i, k->type, lp_shape_str(&fed[0], a, sizeof a),
                   k->in[0] == LP_MODEL_INPUT ? "the model input" : "entry ",
                   k->in[0] == LP_MODEL_INPUT ? "" : (snprintf(b, sizeof b, "%d", k->in[0]), b),
                   k->op == LP_MOP_TOKENS ? "an NHWC map 1xHxWxC" : "tokens NxC");
        return;
    }
    int n_in = 0;
    lp_err e = {0};
    if (!k->ops || k->ops->io(&k->cfg, want, &n_in, &k->out, &e) < 0) {
        report(s, k->line, k->col, "kernel %zu (%s): %s", i, k->type,
               k->ops ? e.msg : "not resolved");
        k->out.rank = 0;
        return;
    }
    if (n_in != k->n_in) {
        report(s, k->line, k->col, "kernel %zu (%s): takes %d input%s, the model gives %d", i,
               k->type, n_in, n_in == 1 ? "" : "s", k->n_in);
        return;
    }
    for (int j = 0; j < n_in; j++) {
        char from[96];
        if (squeeze_equal(&want[j], &fed[j]))
            continue;
        if (k->in[j] == LP_MODEL_INPUT)
            snprintf(from, sizeof from, "the model input");
        else
            snprintf(from, sizeof from, "entry %d (%s)", k->in[j], m->k[k->in[j]].type);
        report(s, k->line, k->col, "kernel %zu (%s): input %d expects %s but %s gives %s", i,
               k->type, j, lp_shape_str(&want[j], a, sizeof a), from,
               lp_shape_str(&fed[j], b, sizeof b));
    }
}

static int check_shapes(lp_model *m, sink *s)
{
    int before = s->bad;
    int *known = calloc(m->n ? m->n : 1, sizeof *known);
    if (!known) {
        report(s, 0, 0, "out of memory");
        return LP_ENOMEM;
    }
    for (size_t i = 0; i < m->n; i++) {
        m->k[i].out.rank = 0;
        check_node(m, i, known, s);
        known[i] = m->k[i].out.rank > 0;
    }
    free(known);
    return s->bad == before ? 0 : LP_EINVAL;
}

int lp_model_check(lp_model *m, lp_err *err)
{
    if (!m->resolved)
        return lp_err_set(err, LP_EINVAL, "model %s: resolve it before the shape check", m->name);
    if (m->n == 0)
        return lp_err_set(err, LP_EINVAL, "model %s has no kernels", m->name);
    sink s = {.file = m->path, .err = err};
    int rc = check_shapes(m, &s);
    if (rc < 0 && !m->path)
        lp_err_prefix(err, "model %s: ", m->name);
    return rc;
}

/* ---- reading YAML ---------------------------------------------------------- */

static int dup_scalar(sink *s, const lp_ynode *n, const char *key, char **out)
{
    if (!n)
        return 0;
    if (n->type != LP_Y_SCALAR || !n->str[0]) {
        report_at(s, n, "'%s' must be a non-empty string", key);
        return 0;
    }
    if (!(*out = strdup(n->str)))
        return LP_ENOMEM;
    return 0;
}

static void read_input(sink *s, lp_model *m, const lp_ynode *root)
{
    static const char *const keys[] = {"hw", "c"};
    const lp_ynode *n = lp_ymap_get(root, "input");
    int64_t *dst[] = {&m->input_hw, &m->input_c};
    if (!n) {
        report_at(s, root, "missing required key 'input' ({hw: 224, c: 3})");
        return;
    }
    if (n->type != LP_Y_MAP) {
        report_at(s, n, "'input' must be a mapping {hw: H, c: C}");
        return;
    }
    for (size_t i = 0; i < n->n; i++)
        if (strcmp(n->keys[i]->str, "hw") && strcmp(n->keys[i]->str, "c"))
            report_at(s, n->keys[i], "unknown key '%s' in 'input' (valid keys: hw, c)",
                      n->keys[i]->str);
    for (int i = 0; i < 2; i++) {
        const lp_ynode *v = lp_ymap_get(n, keys[i]);
        if (!v)
            report_at(s, n, "'input' needs '%s'", keys[i]);
        else if (lp_yscalar_int(v, dst[i]) < 0 || *dst[i] < 1 || *dst[i] > 65536)
            report_at(s, v, "'input.%s' must be an integer in 1..65536", keys[i]);
    }
}

/* One encoding entry: a number or a list of numbers, kept as written. */
static int read_enc_entry(sink *s, lp_model *m, const lp_ynode *key, const lp_ynode *v)
{
    int is_list = v->type == LP_Y_SEQ;
    size_t cnt = is_list ? v->n : 1;
    const lp_ynode *const *items = is_list ? (const lp_ynode *const *)v->items : &v;
    lp_err e = {0};
    if (v->type == LP_Y_MAP) {
        report_at(s, v, "encoding '%s' must be a number or a list of numbers", key->str);
        return 0;
    }
    char **vals = calloc(cnt ? cnt : 1, sizeof *vals);
    if (!vals)
        return LP_ENOMEM;
    for (size_t j = 0; j < cnt; j++) {
        double d;
        int ok = lp_yscalar_double(items[j], &d) == 0;
        if (!ok)
            report_at(s, items[j], "encoding '%s' values must be numbers", key->str);
        if (!(vals[j] = strdup(ok ? items[j]->str : "0"))) {
            for (size_t q = 0; q < j; q++)
                free(vals[q]);
            free(vals);
            return LP_ENOMEM;
        }
    }
    return push_enc(m, key->str, vals, cnt, is_list, &e);
}

static int read_encoding(sink *s, lp_model *m, const lp_ynode *n)
{
    if (!n)
        return 0;
    if (n->type != LP_Y_MAP) {
        report_at(s, n, "'encoding' must be a mapping of choice names to values");
        return 0;
    }
    for (size_t i = 0; i < n->n; i++)
        if (read_enc_entry(s, m, n->keys[i], n->items[i]) < 0)
            return LP_ENOMEM;
    return 0;
}

/* `in: [input, 3]`: producers must be earlier entries. */
static void read_in(sink *s, const lp_ynode *in, size_t i, lp_mnode *k)
{
    if (!in || in->type != LP_Y_SEQ || in->n < 1 || in->n > LP_KERNEL_MAX_IN) {
        report_at(s, in, "entry %zu: 'in' must list 1 to %d producers (input or an earlier "
                         "index)", i, LP_KERNEL_MAX_IN);
        k->n_in = 0;
        return;
    }
    k->n_in = (int)in->n;
    for (size_t j = 0; j < in->n; j++) {
        const lp_ynode *v = in->items[j];
        int64_t x;
        if (v->type == LP_Y_SCALAR && !strcmp(v->str, "input"))
            k->in[j] = LP_MODEL_INPUT;
        else if (lp_yscalar_int(v, &x) == 0 && x >= 0 && x < (int64_t)i)
            k->in[j] = (int)x;
        else {
            report_at(s, v, "entry %zu: input '%s' must be 'input' or the index of an earlier "
                      "entry (0..%zd)", i, v->type == LP_Y_SCALAR ? v->str : "?", (ssize_t)i - 1);
            k->n_in = 0;
        }
    }
}

static int read_entry(sink *s, const lp_ynode *n, size_t i, lp_mnode *k)
{
    static const char *const kernel_keys[] = {"type", "config", "in", NULL};
    static const char *const op_keys[] = {"op", "in", "cls", "mode", NULL};
    k->line = n->line;
    k->col = n->col;
    if (n->type != LP_Y_MAP) {
        report_at(s, n, "entry %zu must be a mapping {type, config, in} or {op, in}", i);
        return 0;
    }
    const lp_ynode *type = lp_ymap_get(n, "type"), *op = lp_ymap_get(n, "op");
    const char *const *keys = op ? op_keys : kernel_keys;
    for (size_t q = 0; q < n->n; q++) {
        int ok = 0;
        for (size_t j = 0; keys[j] && !ok; j++)
            ok = !strcmp(n->keys[q]->str, keys[j]);
        if (!ok)
            report_at(s, n->keys[q], "entry %zu: unknown key '%s' (valid keys: %s)", i,
                      n->keys[q]->str, op ? "op, in, cls, mode" : "type, config, in");
    }
    read_in(s, lp_ymap_get(n, "in"), i, k);
    if (op) {
        int64_t cls = 1;
        const lp_ynode *c = lp_ymap_get(n, "cls"), *mode = lp_ymap_get(n, "mode");
        if (op->type == LP_Y_SCALAR && !strcmp(op->str, "tokens")) {
            k->op = LP_MOP_TOKENS;
            if (c && (lp_yscalar_int(c, &cls) < 0 || cls < 0 || cls > 16))
                report_at(s, c, "entry %zu: 'cls' must be an integer in 0..16", i);
            k->arg = (int)cls;
        } else if (op->type == LP_Y_SCALAR && !strcmp(op->str, "token-pool")) {
            k->op = LP_MOP_TOKEN_POOL;
            if (mode && mode->type == LP_Y_SCALAR && !strcmp(mode->str, "cls"))
                k->arg = LP_TOKEN_POOL_CLS;
            else if (mode && !(mode->type == LP_Y_SCALAR && !strcmp(mode->str, "mean")))
                report_at(s, mode, "entry %zu: 'mode' must be mean or cls", i);
        } else {
            report_at(s, op, "entry %zu: 'op' must be tokens or token-pool", i);
            k->op = LP_MOP_TOKENS;
        }
        return (k->type = strdup(lp_mop_name(k->op))) ? 0 : LP_ENOMEM;
    }
    const lp_ynode *cfg = lp_ymap_get(n, "config");
    if (!type || type->type != LP_Y_SCALAR || !type->str[0])
        report_at(s, type ? type : n, "entry %zu: needs 'type' (a kernel type name) or 'op'", i);
    if (!cfg || cfg->type != LP_Y_SCALAR)
        report_at(s, cfg ? cfg : n, "entry %zu: needs 'config' (\"dim=value,...\")", i);
    int have_type = type && type->type == LP_Y_SCALAR && type->str[0];
    int have_cfg = cfg && cfg->type == LP_Y_SCALAR;
    k->has_fields = have_type && have_cfg;
    k->type = strdup(have_type ? type->str : "?");
    k->config = strdup(have_cfg ? cfg->str : "");
    return k->type && k->config ? 0 : LP_ENOMEM;
}

static int read_kernels(sink *s, lp_model *m, const lp_ynode *root)
{
    const lp_ynode *ks = lp_ymap_get(root, "kernels");
    lp_err e = {0};
    if (!ks || ks->type != LP_Y_SEQ || ks->n == 0) {
        report_at(s, ks ? ks : root, "'kernels' must be a non-empty list of entries");
        return 0;
    }
    for (size_t i = 0; i < ks->n; i++) {
        lp_mnode *k = push_node(m, &e);
        if (!k)
            return LP_ENOMEM;
        m->n++;
        if (read_entry(s, ks->items[i], i, k) < 0)
            return LP_ENOMEM;
    }
    return 0;
}

/* Builds the model structure from a document; problems go to the sink. */
static int model_from_doc(const lp_ydoc *doc, sink *s, lp_model **out)
{
    static const char *const keys[] = {"model", "space", "summary", "input", "encoding",
                                       "kernels", NULL};
    const lp_ynode *root = doc->root;
    lp_model *m = calloc(1, sizeof *m);
    *out = NULL;
    if (!m || !(m->path = strdup(doc->path)))
        goto nomem;
    if (!root || root->type != LP_Y_MAP) {
        report_at(s, root, "a model file must be a mapping with 'model:'");
        *out = m;
        return 0;
    }
    for (size_t i = 0; i < root->n; i++) {
        int ok = 0;
        for (size_t j = 0; keys[j] && !ok; j++)
            ok = !strcmp(root->keys[i]->str, keys[j]);
        if (!ok)
            report_at(s, root->keys[i], "unknown key '%s' (valid keys: model, space, summary, "
                      "input, encoding, kernels)", root->keys[i]->str);
    }
    if (!lp_ymap_get(root, "model"))
        report_at(s, root, "missing required key 'model' (the model's name)");
    if (dup_scalar(s, lp_ymap_get(root, "model"), "model", &m->name) < 0 ||
        dup_scalar(s, lp_ymap_get(root, "space"), "space", &m->space) < 0 ||
        dup_scalar(s, lp_ymap_get(root, "summary"), "summary", &m->summary) < 0)
        goto nomem;
    if (!m->name && !(m->name = strdup("?")))
        goto nomem;
    read_input(s, m, root);
    if (read_encoding(s, m, lp_ymap_get(root, "encoding")) < 0 || read_kernels(s, m, root) < 0)
        goto nomem;
    *out = m;
    return 0;
nomem:
    lp_model_free(m);
    report(s, 0, 0, "out of memory");
    return LP_ENOMEM;
}

int lp_model_read(const char *path, lp_model **out, lp_err *err)
{
    lp_ydoc *doc = NULL;
    *out = NULL;
    int rc = lp_yaml_load(path, &doc, err);
    if (rc < 0)
        return rc;
    sink s = {.file = path, .err = err};
    lp_model *m = NULL;
    rc = model_from_doc(doc, &s, &m);
    lp_ydoc_free(doc);
    if (rc == 0 && s.bad)
        rc = LP_EINVAL;
    if (rc < 0) {
        lp_model_free(m);
        return rc;
    }
    *out = m;
    return 0;
}

int lp_model_load(const lp_registry *reg, const char *path, lp_model **out, lp_err *err)
{
    lp_model *m = NULL;
    int rc = lp_model_read(path, &m, err);
    if (rc < 0 || (rc = lp_model_resolve(m, reg, err)) < 0 || (rc = lp_model_check(m, err)) < 0) {
        lp_model_free(m);
        *out = NULL;
        return rc;
    }
    *out = m;
    return 0;
}

int lp_model_check_doc(const lp_registry *reg, const lp_ydoc *doc, lp_diag *diag)
{
    sink s = {.file = doc->path, .diag = diag};
    lp_model *m = NULL;
    int rc = model_from_doc(doc, &s, &m);
    if (rc == 0 && !s.bad && resolve(m, reg, &s) == 0)
        check_shapes(m, &s);
    else if (rc == 0 && m && m->n) {
        /* Structure problems: still report unknown types and bad configs of the entries
         * that have both (a missing one was reported already). */
        for (size_t i = 0; i < m->n; i++)
            if (m->k[i].op == LP_MOP_KERNEL && m->k[i].has_fields)
                resolve_node(&m->k[i], i, reg, &s);
    }
    lp_model_free(m);
    return rc < 0 ? rc : s.bad ? LP_EINVAL : 0;
}

/* ---- writing YAML ------------------------------------------------------------- */

typedef struct sbuf {
    char *p;
    size_t len, cap;
    int oom;
} sbuf;

static void sb_printf(sbuf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void sb_printf(sbuf *b, const char *fmt, ...)
{
    va_list ap;
    for (;;) {
        if (b->oom)
            return;
        va_start(ap, fmt);
        int n = vsnprintf(b->p ? b->p + b->len : NULL, b->p ? b->cap - b->len : 0, fmt, ap);
        va_end(ap);
        if (n < 0) {
            b->oom = 1;
            return;
        }
        if (b->p && b->len + (size_t)n < b->cap) {
            b->len += (size_t)n;
            return;
        }
        size_t cap = b->cap ? b->cap : 4096;
        while (cap <= b->len + (size_t)n)
            cap *= 2;
        char *np = realloc(b->p, cap);
        if (!np) {
            b->oom = 1;
            return;
        }
        b->p = np;
        b->cap = cap;
    }
}

/* Plain scalars for names made of safe characters, double quotes otherwise. */
static void sb_scalar(sbuf *b, const char *s)
{
    int plain = s[0] != '\0' && s[0] != '-';
    for (const char *c = s; *c && plain; c++)
        plain = (*c >= 'a' && *c <= 'z') || (*c >= 'A' && *c <= 'Z') || (*c >= '0' && *c <= '9') ||
                *c == '-' || *c == '_' || *c == '.';
    if (plain) {
        sb_printf(b, "%s", s);
        return;
    }
    sb_printf(b, "\"");
    for (const char *c = s; *c; c++) {
        if (*c == '"' || *c == '\\')
            sb_printf(b, "\\%c", *c);
        else if ((unsigned char)*c < 0x20)
            sb_printf(b, "\\x%02x", (unsigned char)*c);
        else
            sb_printf(b, "%c", *c);
    }
    sb_printf(b, "\"");
}

static void write_encoding(sbuf *b, const lp_model *m)
{
    if (!m->n_enc)
        return;
    sb_printf(b, "encoding: {");
    for (size_t i = 0; i < m->n_enc; i++) {
        const lp_menc *e = &m->enc[i];
        sb_printf(b, "%s%s: %s", i ? ", " : "", e->key, e->is_list ? "[" : "");
        for (size_t j = 0; j < e->n; j++)
            sb_printf(b, "%s%s", j ? ", " : "", e->vals[j]);
        sb_printf(b, "%s", e->is_list ? "]" : "");
    }
    sb_printf(b, "}\n");
}

static void write_entry(sbuf *b, const lp_mnode *k, size_t i)
{
    if (k->op == LP_MOP_KERNEL) {
        sb_printf(b, "  - {type: ");
        sb_scalar(b, k->type);
        sb_printf(b, ", config: \"%s\", in: [", k->config);
    } else if (k->op == LP_MOP_TOKENS) {
        sb_printf(b, "  - {op: tokens, cls: %d, in: [", k->arg);
    } else {
        sb_printf(b, "  - {op: token-pool, mode: %s, in: [",
                  k->arg == LP_TOKEN_POOL_CLS ? "cls" : "mean");
    }
    for (int j = 0; j < k->n_in; j++) {
        if (k->in[j] == LP_MODEL_INPUT)
            sb_printf(b, "%sinput", j ? ", " : "");
        else
            sb_printf(b, "%s%d", j ? ", " : "", k->in[j]);
    }
    sb_printf(b, "]}  # %zu\n", i);
}

int lp_model_to_yaml(const lp_model *m, char **out, lp_err *err)
{
    sbuf b = {0};
    *out = NULL;
    sb_printf(&b, "# litepred model file (format: core/include/litepred/model.h)\n");
    sb_printf(&b, "model: ");
    sb_scalar(&b, m->name);
    sb_printf(&b, "\n");
    if (m->space) {
        sb_printf(&b, "space: ");
        sb_scalar(&b, m->space);
        sb_printf(&b, "\n");
    }
    if (m->summary) {
        sb_printf(&b, "summary: \"");
        for (const char *c = m->summary; *c; c++)
            sb_printf(&b, *c == '"' || *c == '\\' ? "\\%c" : "%c", *c);
        sb_printf(&b, "\"\n");
    }
    sb_printf(&b, "input: {hw: %lld, c: %lld}\n", (long long)m->input_hw, (long long)m->input_c);
    write_encoding(&b, m);
    sb_printf(&b, "kernels:\n");
    for (size_t i = 0; i < m->n; i++) {
        if (m->k[i].config && strchr(m->k[i].config, '"')) {
            free(b.p);
            return lp_err_set(err, LP_EINVAL, "kernel %zu: config contains a quote", i);
        }
        write_entry(&b, &m->k[i], i);
    }
    if (b.oom) {
        free(b.p);
        return lp_err_set(err, LP_ENOMEM, "out of memory");
    }
    *out = b.p;
    return 0;
}

int lp_model_save(const lp_model *m, const char *path, lp_err *err)
{
    char *text = NULL, *tmp = NULL;
    int rc = lp_model_to_yaml(m, &text, err);
    if (rc < 0)
        return rc;
    if (asprintf(&tmp, "%s.tmp.%ld", path, (long)getpid()) < 0) {
        free(text);
        return lp_err_set(err, LP_ENOMEM, "out of memory");
    }
    FILE *f = fopen(tmp, "wb");
    if (!f) {
        rc = lp_err_set(err, LP_EIO, "%s: cannot write: %s", tmp, strerror(errno));
        goto out;
    }
    size_t len = strlen(text);
    int bad = fwrite(text, 1, len, f) != len;
    bad |= fclose(f) != 0;
    if (bad || rename(tmp, path) < 0) {
        rc = lp_err_set(err, LP_EIO, "%s: cannot write: %s", path, strerror(errno));
        unlink(tmp);
    }
out:
    free(tmp);
    free(text);
    return rc;
}

/* ---- totals ----------------------------------------------------------------- */

void lp_model_entry_cost(const lp_model *m, size_t i, lp_cost *out)
{
    const lp_mnode *k = &m->k[i];
    memset(out, 0, sizeof *out);
    if (k->op == LP_MOP_KERNEL && k->ops) {
        k->ops->cost(&k->cfg, out);
    } else if (k->op == LP_MOP_TOKENS && k->out.rank == 2) {
        /* Learned class tokens and one position embedding per token. */
        out->true_params = (double)(k->arg + k->out.d[0]) * (double)k->out.d[1];
    }
}

void lp_model_totals_get(const lp_model *m, lp_model_totals *t)
{
    memset(t, 0, sizeof *t);
    for (size_t i = 0; i < m->n; i++) {
        lp_cost c;
        lp_model_entry_cost(m, i, &c);
        t->macs += c.macs;
        t->flops += c.flops;
        t->params += c.true_params;
        t->n_kernels += m->k[i].op == LP_MOP_KERNEL;
    }
}

/* ---- whole-model primitive graph ----------------------------------------------- */

/* Reshapes tensor t to want when they differ (only by extents of 1, checked before). */
static int fit(lp_graph *g, int t, const lp_shape *want, lp_err *err)
{
    if (lp_shape_equal(&g->tensors[t].shape, want))
        return t;
    return lp_graph_reshape(g, t, *want, err);
}

static int build_tokens(lp_graph *g, int x, const lp_mnode *k, lp_err *err)
{
    const lp_shape *s = &g->tensors[x].shape;
    int64_t c = s->d[3], hw = s->d[1] * s->d[2], n = hw + k->arg;
    int t = lp_graph_reshape(g, x, lp_shape_make(3, 1, hw, c, 0), err);
    if (t >= 0 && k->arg > 0) {
        int cls = lp_graph_weight(g, lp_shape_make(3, 1, k->arg, c, 0), err);
        t = cls < 0 ? cls : lp_graph_concat(g, cls, t, 1, err);
    }
    int pos = t < 0 ? t : lp_graph_weight(g, lp_shape_make(3, 1, n, c, 0), err);
    if (pos < 0)
        return pos;
    t = lp_graph_add(g, t, pos, LP_ACT_NONE, err);
    return t < 0 ? t : lp_graph_reshape(g, t, k->out, err);
}

static int build_token_pool(lp_graph *g, int x, const lp_mnode *k, lp_err *err)
{
    lp_shape s2 = lp_shape_make(2, 0, 0, 0, 0);
    const lp_shape *s = &g->tensors[x].shape;
    int64_t n = s->d[s->rank - 2], c = s->d[s->rank - 1];
    s2.d[0] = n;
    s2.d[1] = c;
    int t = fit(g, x, &s2, err);
    if (t < 0)
        return t;
    if (k->arg == LP_TOKEN_POOL_CLS)
        return lp_graph_slice(g, t, 0, 0, 1, err);
    /* Mean over the patch tokens: a global average pool over an (n-1) x 1 map. */
    if ((t = lp_graph_slice(g, t, 0, 1, n - 1, err)) < 0 ||
        (t = lp_graph_reshape(g, t, lp_shape_make(4, 1, n - 1, 1, c), err)) < 0 ||
        (t = lp_graph_pool(g, t, LP_POOL_GLOBAL_AVG, 0, 0, err)) < 0)
        return t;
    return lp_graph_reshape(g, t, k->out, err);
}

static int build_kernel(lp_graph *g, const int *tid, const lp_mnode *k, lp_err *err)
{
    lp_shape want[LP_KERNEL_MAX_IN], out;
    int n_in = 0, in[LP_KERNEL_MAX_IN], o = -1;
    int rc = k->ops->io(&k->cfg, want, &n_in, &out, err);
    for (int j = 0; rc >= 0 && j < n_in; j++)
        rc = in[j] = fit(g, tid[k->in[j] + 1], &want[j], err);
    if (rc < 0 || (rc = k->ops->build(&k->cfg, g, in, &o, err)) < 0)
        return rc;
    return o;
}

int lp_model_build(const lp_model *m, lp_graph *g, lp_err *err)
{
    if (!m->resolved || !m->n || !m->k[m->n - 1].out.rank)
        return lp_err_set(err, LP_EINVAL, "model %s: resolve and check it before building",
                          m->name);
    /* tid[0] is the model input, tid[i + 1] entry i's output. */
    int *tid = calloc(m->n + 1, sizeof *tid);
    if (!tid)
        return lp_err_set(err, LP_ENOMEM, "out of memory");
    int rc = tid[0] = lp_graph_input(g, input_shape(m), err);
    for (size_t i = 0; rc >= 0 && i < m->n; i++) {
        const lp_mnode *k = &m->k[i];
        int x = tid[k->in[0] + 1];
        if (k->op == LP_MOP_TOKENS)
            rc = build_tokens(g, x, k, err);
        else if (k->op == LP_MOP_TOKEN_POOL)
            rc = build_token_pool(g, x, k, err);
        else
            rc = build_kernel(g, tid, k, err);
        if (rc < 0)
            lp_err_prefix(err, "model %s entry %zu (%s): ", m->name, i, k->type);
        tid[i + 1] = rc;
    }
    if (rc >= 0)
        rc = lp_graph_mark_output(g, tid[m->n], err);
    free(tid);
    return rc < 0 ? rc : 0;
}
