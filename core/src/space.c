/* Search spaces: parsing the space YAML (every problem with its position), and
 * walking a space to draw (or replay) an architecture and build its model. */
#include "blocks.h"
#include "check.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* ---- random numbers: splitmix64 seeding xoshiro256** ----------------- */

uint64_t lp_splitmix64(uint64_t *state)
{
    uint64_t z = (*state += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

void lp_rng_seed(lp_rng *rng, uint64_t seed)
{
    uint64_t st = seed;
    for (int i = 0; i < 4; i++)
        rng->s[i] = lp_splitmix64(&st);
}

static uint64_t rotl(uint64_t x, int k)
{
    return (x << k) | (x >> (64 - k));
}

uint64_t lp_rng_next(lp_rng *rng)
{
    uint64_t *s = rng->s;
    uint64_t result = rotl(s[1] * 5, 7) * 9, t = s[1] << 17;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = rotl(s[3], 45);
    return result;
}

uint64_t lp_rng_below(lp_rng *rng, uint64_t n)
{
    /* The modulo bias is below n / 2^64: irrelevant for choice lists, and exact integer
     * arithmetic keeps every machine on the same sequence. */
    return n ? lp_rng_next(rng) % n : 0;
}

/* ---- channel arithmetic ---------------------------------------------------- */

int lp_round_width(lp_round rule, double v)
{
    switch (rule) {
    case LP_ROUND_GET_DIVISIBLE_BY: return (int)lp_get_divisible_by(v, 8);
    case LP_ROUND_RINT: return (int)rint(v);
    default: return (int)lp_make_divisible(v, 8);
    }
}

int lp_mbconv_mid(lp_round rule, int cin, double e)
{
    switch (rule) {
    case LP_ROUND_GET_DIVISIBLE_BY: return (int)lp_get_divisible_by(cin * e, 8);
    case LP_ROUND_RINT: return (int)rint(cin * e);
    default: return (int)lp_make_divisible(rint(cin * e), 8);
    }
}

int lp_se_width(lp_se_rule rule, int cmid, double e)
{
    return (int)(rule == LP_SE_FBNET ? lp_se_width_fbnet(cmid, e) : lp_se_width_ofa(cmid));
}

/* ---- the parsed space -------------------------------------------------- */

/* A value of the space: fixed (n == 1), a choice, or one fixed value per block (each). */
typedef struct choice {
    double *v;
    size_t n;
    int each;
} choice;

enum layer_op { L_CONV, L_RES_CONV, L_MAXPOOL, L_POOL, L_FC, L_CLASSIFIER, L_PATCH,
                L_LAYERNORM, L_TOKEN_POOL, L_COUNT };
static const char *const layer_ops[] = {"conv", "res-conv", "maxpool", "pool", "fc",
                                        "classifier", "patch", "layernorm", "token-pool", NULL};

typedef struct layer {
    int op;
    choice c, k, d;
    int s;
    double mult; /* conv: cout = round(cin * mult) when > 0 */
    lp_act act;
    lp_token_pool mode;
} layer;

enum block_kind { B_MBCONV, B_BOTTLENECK, B_TRANSFORMER, B_COUNT };
static const char *const block_kinds[] = {"mbconv", "bottleneck", "transformer", NULL};

/* Fields that may be drawn per block slot. */
enum { F_K = 1, F_E = 2, F_HEADS = 4, F_MLP = 8 };

typedef struct stage {
    int block;
    choice c, d, k, e, heads, mlp;
    int s, se, residual, zero, head_dim;
    lp_act act;
    lp_shortcut shortcut;
} stage;

struct lp_space {
    char *name, *summary;
    choice res;
    int classes;
    lp_round rounding;
    double width_mult;
    int has_width_mult;
    unsigned per_block;
    lp_se_rule se_rule;
    lp_act se_act;
    layer *stem, *head;
    size_t n_stem, n_head;
    stage *stages;
    size_t n_stages;
};

static void choice_free(choice *c)
{
    free(c->v);
    c->v = NULL;
    c->n = 0;
}

void lp_space_free(lp_space *s)
{
    if (!s)
        return;
    layer *lists[2] = {s->stem, s->head};
    size_t counts[2] = {s->n_stem, s->n_head};
    for (int l = 0; l < 2; l++) {
        for (size_t i = 0; i < counts[l]; i++) {
            choice_free(&lists[l][i].c);
            choice_free(&lists[l][i].k);
            choice_free(&lists[l][i].d);
        }
        free(lists[l]);
    }
    for (size_t i = 0; i < s->n_stages; i++) {
        stage *st = &s->stages[i];
        choice *cs[] = {&st->c, &st->d, &st->k, &st->e, &st->heads, &st->mlp};
        for (size_t j = 0; j < sizeof cs / sizeof cs[0]; j++)
            choice_free(cs[j]);
    }
    free(s->stages);
    choice_free(&s->res);
    free(s->name);
    free(s->summary);
    free(s);
}

const char *lp_space_name(const lp_space *s)
{
    return s->name;
}

const char *lp_space_summary(const lp_space *s)
{
    return s->summary ? s->summary : "";
}

/* ---- parsing ---------------------------------------------------------------- */

typedef struct pctx {
    const char *file;
    lp_diag *diag;
    int nomem;
} pctx;

/* Limits keep a typo like {min: 1, max: 1e9} from allocating gigabytes. */
#define MAX_CHOICES 4096

static int choice_push(pctx *p, choice *c, double v)
{
    double *nv = realloc(c->v, (c->n + 1) * sizeof *nv);
    if (!nv) {
        p->nomem = 1;
        return LP_ENOMEM;
    }
    c->v = nv;
    c->v[c->n++] = v;
    return 0;
}

/* Checks one number against the field's kind; reports at node. */
static int number(pctx *p, const lp_ynode *n, const char *key, int integer, double min,
                  double *out)
{
    double v;
    if (!n || n->type != LP_Y_SCALAR || lp_yscalar_double(n, &v) < 0) {
        lp_diag_add(p->diag, p->file, n, "'%s' values must be numbers, got %s", key,
                    n && n->type == LP_Y_SCALAR ? n->str : n ? lp_ytype_name(n->type) : "nothing");
        return LP_EINVAL;
    }
    if (integer && v != floor(v)) {
        lp_diag_add(p->diag, p->file, n, "'%s' values must be integers, got %s", key, n->str);
        return LP_EINVAL;
    }
    if (v < min) {
        lp_diag_add(p->diag, p->file, n, "'%s' values must be at least %g, got %s", key, min,
                    n->str);
        return LP_EINVAL;
    }
    *out = v;
    return 0;
}

static int parse_range(pctx *p, const lp_ynode *n, const char *key, int integer, double min,
                       choice *out)
{
    static const char *const keys[] = {"min", "max", "step", NULL};
    double lo, hi, step = 1;
    lp_check_keys(n, keys, p->file, p->diag);
    const lp_ynode *nlo = lp_ymap_get(n, "min"), *nhi = lp_ymap_get(n, "max");
    const lp_ynode *nst = lp_ymap_get(n, "step");
    if (!nlo || !nhi) {
        lp_diag_add(p->diag, p->file, n, "a '%s' range needs 'min' and 'max' (and optional 'step')",
                    key);
        return LP_EINVAL;
    }
    if (number(p, nlo, key, integer, min, &lo) < 0 || number(p, nhi, key, integer, min, &hi) < 0 ||
        (nst && number(p, nst, key, integer, 1e-9, &step) < 0))
        return LP_EINVAL;
    if (hi < lo || (hi - lo) / step >= MAX_CHOICES) {
        lp_diag_add(p->diag, p->file, n, "'%s' range %g..%g step %g is empty or has more than %d "
                    "values", key, lo, hi, step, MAX_CHOICES);
        return LP_EINVAL;
    }
    /* Counting steps (not accumulating) keeps 0.1-style steps exact at the ends. */
    size_t cnt = (size_t)floor((hi - lo) / step + 1e-9) + 1;
    for (size_t i = 0; i < cnt; i++)
        if (choice_push(p, out, lo + (double)i * step) < 0)
            return LP_ENOMEM;
    return 0;
}

static int parse_list(pctx *p, const lp_ynode *n, const char *key, int integer, double min,
                      choice *out)
{
    if (n->n == 0 || n->n > MAX_CHOICES) {
        lp_diag_add(p->diag, p->file, n, "'%s' must list 1 to %d values", key, MAX_CHOICES);
        return LP_EINVAL;
    }
    int rc = 0;
    for (size_t i = 0; i < n->n; i++) {
        double v;
        if (number(p, n->items[i], key, integer, min, &v) < 0)
            rc = LP_EINVAL;
        else if (choice_push(p, out, v) < 0)
            return LP_ENOMEM;
    }
    return rc;
}

/* A value: number (fixed), list (choice), {min,max,step} (choice), {each: [...]} (per block). */
static int parse_choice(pctx *p, const lp_ynode *map, const char *key, int integer, double min,
                        int allow_each, double def, choice *out)
{
    const lp_ynode *n = lp_ymap_get(map, key);
    if (!n)
        return def >= 0 ? choice_push(p, out, def) : 0;
    if (n->type == LP_Y_SCALAR) {
        double v;
        if (number(p, n, key, integer, min, &v) < 0)
            return LP_EINVAL;
        return choice_push(p, out, v);
    }
    if (n->type == LP_Y_SEQ)
        return parse_list(p, n, key, integer, min, out);
    const lp_ynode *each = lp_ymap_get(n, "each");
    if (each) {
        if (!allow_each || n->n != 1 || each->type != LP_Y_SEQ) {
            lp_diag_add(p->diag, p->file, n, allow_each ? "'%s: {each: [...]}' takes one list"
                                                        : "'%s' cannot be given per block here",
                        key);
            return LP_EINVAL;
        }
        out->each = 1;
        return parse_list(p, each, key, integer, min, out);
    }
    return parse_range(p, n, key, integer, min, out);
}

static int parse_enum(pctx *p, const lp_ynode *map, const char *key, const char *const *names,
                      int def)
{
    const lp_ynode *n = lp_ymap_get(map, key);
    if (!n)
        return def;
    for (int i = 0; names[i] && n->type == LP_Y_SCALAR; i++)
        if (!strcmp(n->str, names[i]))
            return i;
    char valid[256];
    size_t len = 0;
    valid[0] = '\0';
    for (int i = 0; names[i]; i++)
        len += (size_t)snprintf(valid + len, sizeof valid - len, "%s%s", i ? ", " : "", names[i]);
    lp_diag_add(p->diag, p->file, n, "'%s' must be one of: %s; got %s", key, valid,
                n->type == LP_Y_SCALAR ? n->str : lp_ytype_name(n->type));
    return def;
}

static lp_act parse_act(pctx *p, const lp_ynode *map, const char *key, lp_act def)
{
    const lp_ynode *n = lp_ymap_get(map, key);
    if (!n)
        return def;
    int a = n->type == LP_Y_SCALAR ? lp_act_parse(n->str) : -1;
    if (a < 0 || a == LP_ACT_SIGMOID || a == LP_ACT_HSIGMOID) {
        lp_diag_add(p->diag, p->file, n, "'%s' must be an activation (none, relu, relu6, hswish, "
                    "swish, gelu); got %s", key, n->type == LP_Y_SCALAR ? n->str : "a non-scalar");
        return def;
    }
    return (lp_act)a;
}

static int parse_bool(pctx *p, const lp_ynode *map, const char *key, int def)
{
    const lp_ynode *n = lp_ymap_get(map, key);
    int v;
    if (!n)
        return def;
    if (lp_yscalar_bool(n, &v) < 0) {
        lp_diag_add(p->diag, p->file, n, "'%s' must be true or false", key);
        return def;
    }
    return v;
}

static int parse_int(pctx *p, const lp_ynode *map, const char *key, int64_t min, int64_t max,
                     int def)
{
    const lp_ynode *n = lp_ymap_get(map, key);
    int64_t v;
    if (!n)
        return def;
    if (lp_yscalar_int(n, &v) < 0 || v < min || v > max) {
        lp_diag_add(p->diag, p->file, n, "'%s' must be an integer in %lld..%lld", key,
                    (long long)min, (long long)max);
        return def;
    }
    return (int)v;
}

static void require(pctx *p, const lp_ynode *map, const char *key, const char *what)
{
    if (!lp_ymap_get(map, key))
        lp_diag_add(p->diag, p->file, map, "missing required key '%s' (%s)", key, what);
}

/* Keys each layer op accepts. */
static const char *const layer_keys[L_COUNT][7] = {
    [L_CONV] = {"op", "c", "mult", "k", "s", "act", NULL},
    [L_RES_CONV] = {"op", "d", "k", "act", NULL},
    [L_MAXPOOL] = {"op", "k", "s", NULL},
    [L_POOL] = {"op", NULL},
    [L_FC] = {"op", "c", "act", NULL},
    [L_CLASSIFIER] = {"op", NULL},
    [L_PATCH] = {"op", "c", "k", NULL},
    [L_LAYERNORM] = {"op", NULL},
    [L_TOKEN_POOL] = {"op", "mode", NULL},
};

/* Window when `k` is not given: 3x3 pools and residual convs, 16x16 patches, else 1x1. */
static double default_k(int op)
{
    return op == L_MAXPOOL || op == L_RES_CONV ? 3 : op == L_PATCH ? 16 : 1;
}

static void parse_layer(pctx *p, const lp_ynode *n, layer *l)
{
    static const char *const modes[] = {"mean", "cls", NULL};
    if (n->type != LP_Y_MAP) {
        lp_diag_add(p->diag, p->file, n, "a layer must be a mapping with 'op', got %s",
                    lp_ytype_name(n->type));
        return;
    }
    require(p, n, "op", "conv, res-conv, maxpool, pool, fc, classifier, patch, layernorm, token-pool");
    l->op = parse_enum(p, n, "op", layer_ops, -1);
    if (l->op < 0)
        return;
    lp_check_keys(n, layer_keys[l->op], p->file, p->diag);
    const lp_ynode *mult = lp_ymap_get(n, "mult");
    if (mult && number(p, mult, "mult", 0, 1e-9, &l->mult) < 0)
        l->mult = 0;
    if ((l->op == L_CONV && !mult) || l->op == L_FC || l->op == L_PATCH)
        require(p, n, "c", "output width");
    if (l->op == L_RES_CONV)
        require(p, n, "d", "0 drops the residual conv");
    if (l->op == L_CONV && mult && lp_ymap_get(n, "c"))
        lp_diag_add(p->diag, p->file, mult, "give either 'c' or 'mult', not both");
    parse_choice(p, n, "c", 1, 1, 0, -1, &l->c);
    parse_choice(p, n, "k", 1, 1, 0, default_k(l->op), &l->k);
    parse_choice(p, n, "d", 1, 0, 0, -1, &l->d);
    l->s = parse_int(p, n, "s", 1, 64, l->op == L_MAXPOOL ? 2 : 1);
    l->act = parse_act(p, n, "act", l->op == L_RES_CONV ? LP_ACT_RELU : LP_ACT_NONE);
    l->mode = (lp_token_pool)parse_enum(p, n, "mode", modes, 0);
}

static const char *const stage_keys[B_COUNT][12] = {
    [B_MBCONV] = {"block", "c", "d", "k", "e", "s", "act", "se", "residual", "zero", NULL},
    [B_BOTTLENECK] = {"block", "c", "d", "e", "s", "act", "shortcut", NULL},
    [B_TRANSFORMER] = {"block", "d", "heads", "mlp", "head_dim", NULL}, /* width: the patch's c */
};

/* Per-block values ({each}) must agree with the stage depth. */
static void check_each(pctx *p, const lp_ynode *n, stage *st, const choice *c, const char *key)
{
    if (!c->each)
        return;
    if (!lp_ymap_get(n, "d")) {
        choice_push(p, &st->d, (double)c->n);
        return;
    }
    if (st->d.n != 1 || st->d.v[0] != (double)c->n)
        lp_diag_add(p->diag, p->file, lp_ymap_get(n, key),
                    "'%s: {each}' lists %zu values but the stage depth is not fixed at %zu", key,
                    c->n, c->n);
}

static void parse_stage(pctx *p, const lp_space *s, const lp_ynode *n, stage *st)
{
    static const char *const residuals[] = {"auto", "none", NULL};
    static const char *const shortcuts[] = {"avgpool-conv", "conv", NULL};
    if (n->type != LP_Y_MAP) {
        lp_diag_add(p->diag, p->file, n, "a stage must be a mapping with 'block', got %s",
                    lp_ytype_name(n->type));
        st->block = -1;
        return;
    }
    require(p, n, "block", "mbconv, bottleneck or transformer");
    st->block = parse_enum(p, n, "block", block_kinds, -1);
    if (st->block < 0)
        return;
    lp_check_keys(n, stage_keys[st->block], p->file, p->diag);
    if (st->block != B_TRANSFORMER)
        require(p, n, "c", "output width");
    if (!lp_ymap_get(n, "d") && !lp_ymap_get(lp_ymap_get(n, "e"), "each") &&
        !lp_ymap_get(lp_ymap_get(n, "k"), "each"))
        require(p, n, "d", "depth");
    parse_choice(p, n, "c", 1, 1, 0, -1, &st->c);
    parse_choice(p, n, "d", 1, 1, 0, -1, &st->d);
    parse_choice(p, n, "k", 1, 1, 1, 3, &st->k);
    parse_choice(p, n, "e", 0, 1e-9, 1, st->block == B_BOTTLENECK ? 0.25 : 6, &st->e);
    parse_choice(p, n, "heads", 1, 1, 1, st->block == B_TRANSFORMER ? -1 : 1, &st->heads);
    parse_choice(p, n, "mlp", 0, 1e-9, 1, 4, &st->mlp);
    if (st->block == B_TRANSFORMER)
        require(p, n, "heads", "attention heads");
    check_each(p, n, st, &st->k, "k");
    check_each(p, n, st, &st->e, "e");
    check_each(p, n, st, &st->heads, "heads");
    check_each(p, n, st, &st->mlp, "mlp");
    st->s = parse_int(p, n, "s", 1, 64, 1);
    st->act = parse_act(p, n, "act", LP_ACT_RELU);
    st->se = parse_bool(p, n, "se", 0);
    st->residual = parse_enum(p, n, "residual", residuals, 0) == 0;
    st->zero = parse_bool(p, n, "zero", 0);
    st->shortcut = (lp_shortcut)parse_enum(p, n, "shortcut", shortcuts, 0);
    st->head_dim = parse_int(p, n, "head_dim", 1, 4096, 64);
    if (st->zero && (!(s->per_block & F_K) || !(s->per_block & F_E)))
        lp_diag_add(p->diag, p->file, lp_ymap_get(n, "zero"),
                    "'zero: true' needs k and e drawn per block (per_block: [k, e])");
}

static void parse_per_block(pctx *p, const lp_ynode *n, lp_space *s)
{
    static const char *const names[] = {"k", "e", "heads", "mlp", NULL};
    if (!n)
        return;
    if (n->type != LP_Y_SEQ) {
        lp_diag_add(p->diag, p->file, n, "'per_block' must be a list of: k, e, heads, mlp");
        return;
    }
    for (size_t i = 0; i < n->n; i++) {
        int found = 0;
        for (int j = 0; names[j]; j++)
            if (n->items[i]->type == LP_Y_SCALAR && !strcmp(n->items[i]->str, names[j])) {
                s->per_block |= 1u << j;
                found = 1;
            }
        if (!found)
            lp_diag_add(p->diag, p->file, n->items[i], "'per_block' entries must be one of: k, e, "
                        "heads, mlp");
    }
}

static void parse_se(pctx *p, const lp_ynode *n, lp_space *s)
{
    static const char *const keys[] = {"rule", "act", NULL};
    static const char *const rules[] = {"ofa", "fbnet", NULL};
    s->se_act = LP_ACT_RELU;
    if (!n)
        return;
    if (n->type != LP_Y_MAP) {
        lp_diag_add(p->diag, p->file, n, "'se' must be a mapping {rule, act}");
        return;
    }
    lp_check_keys(n, keys, p->file, p->diag);
    s->se_rule = (lp_se_rule)parse_enum(p, n, "rule", rules, 0);
    s->se_act = parse_act(p, n, "act", LP_ACT_RELU);
}

static int parse_layers(pctx *p, const lp_ynode *root, const char *key, layer **out, size_t *n)
{
    const lp_ynode *seq = lp_ymap_get(root, key);
    if (!seq)
        return 0;
    if (seq->type != LP_Y_SEQ) {
        lp_diag_add(p->diag, p->file, seq, "'%s' must be a list of layers", key);
        return 0;
    }
    if (!(*out = calloc(seq->n ? seq->n : 1, sizeof **out)))
        return LP_ENOMEM;
    *n = seq->n;
    for (size_t i = 0; i < seq->n; i++)
        parse_layer(p, seq->items[i], &(*out)[i]);
    return 0;
}

static int parse_top(pctx *p, const lp_ynode *root, lp_space *s)
{
    static const char *const keys[] = {"space", "summary", "resolution", "classes", "rounding",
                                       "width_mult", "per_block", "se", "stem", "stages", "head",
                                       NULL};
    static const char *const roundings[] = {"make_divisible", "get_divisible_by", "rint", NULL};
    lp_check_keys(root, keys, p->file, p->diag);
    const lp_ynode *name = lp_ymap_get(root, "space"), *sum = lp_ymap_get(root, "summary");
    if (!name || name->type != LP_Y_SCALAR || !name->str[0] || strchr(name->str, '/'))
        lp_diag_add(p->diag, p->file, name ? name : root, "'space' must be a name (no '/')");
    else if (!(s->name = strdup(name->str)))
        return LP_ENOMEM;
    if (sum && sum->type != LP_Y_SCALAR)
        lp_diag_add(p->diag, p->file, sum, "'summary' must be one line of text");
    else if (sum && !(s->summary = strdup(sum->str)))
        return LP_ENOMEM;
    if (parse_choice(p, root, "resolution", 1, 8, 0, 224, &s->res) == LP_ENOMEM)
        return LP_ENOMEM;
    s->classes = parse_int(p, root, "classes", 1, 1000000, 1000);
    s->rounding = (lp_round)parse_enum(p, root, "rounding", roundings, 0);
    const lp_ynode *wm = lp_ymap_get(root, "width_mult");
    if (wm && number(p, wm, "width_mult", 0, 1e-6, &s->width_mult) == 0)
        s->has_width_mult = 1;
    parse_per_block(p, lp_ymap_get(root, "per_block"), s);
    parse_se(p, lp_ymap_get(root, "se"), s);
    return 0;
}

int lp_space_parse(const lp_ydoc *doc, lp_space **out, lp_diag *diag)
{
    pctx p = {doc->path, diag, 0};
    size_t before = diag->n;
    const lp_ynode *root = doc->root;
    *out = NULL;
    if (!root || root->type != LP_Y_MAP) {
        lp_diag_add(diag, doc->path, root, "a space file must be a mapping with 'space:'");
        return LP_EINVAL;
    }
    lp_space *s = calloc(1, sizeof *s);
    if (!s || parse_top(&p, root, s) < 0)
        goto nomem;
    const lp_ynode *stages = lp_ymap_get(root, "stages");
    require(&p, root, "stages", "the list of stages");
    if (stages && (stages->type != LP_Y_SEQ || stages->n == 0))
        lp_diag_add(diag, doc->path, stages, "'stages' must be a non-empty list of stages");
    else if (stages) {
        if (!(s->stages = calloc(stages->n, sizeof *s->stages)))
            goto nomem;
        s->n_stages = stages->n;
        for (size_t i = 0; i < stages->n; i++)
            parse_stage(&p, s, stages->items[i], &s->stages[i]);
    }
    if (parse_layers(&p, root, "stem", &s->stem, &s->n_stem) < 0 ||
        parse_layers(&p, root, "head", &s->head, &s->n_head) < 0 || p.nomem)
        goto nomem;
    if (diag->n > before) {
        lp_space_free(s);
        return LP_EINVAL;
    }
    *out = s;
    return 0;
nomem:
    lp_space_free(s);
    lp_diag_add(diag, doc->path, NULL, "out of memory");
    return LP_ENOMEM;
}

int lp_space_load(const char *path, lp_space **out, lp_err *err)
{
    lp_ydoc *doc = NULL;
    lp_diag diag = {0};
    *out = NULL;
    int rc = lp_yaml_load(path, &doc, err);
    if (rc < 0)
        return rc;
    rc = lp_space_parse(doc, out, &diag);
    if (rc < 0)
        lp_err_set(err, rc, "%s%s", diag.n ? diag.msgs[0] : "invalid space",
                   diag.n > 1 ? " (and more problems: run `litepred check`)" : "");
    lp_diag_free(&diag);
    lp_ydoc_free(doc);
    return rc;
}

/* ---- widths ---------------------------------------------------------------- */

static double choice_max(const choice *c)
{
    double m = 0;
    for (size_t i = 0; i < c->n; i++)
        if (c->v[i] > m)
            m = c->v[i];
    return m;
}

static int scale_width(const lp_space *s, double c)
{
    return s->has_width_mult ? lp_round_width(s->rounding, c * s->width_mult) : (int)c;
}

static void widths_of(const lp_space *s, const layer *l, size_t n, int *out, size_t max,
                      size_t *cnt)
{
    for (size_t i = 0; i < n; i++, (*cnt)++) {
        if (!l[i].c.n) {
            (*cnt)--;
            continue;
        }
        if (*cnt < max)
            out[*cnt] = scale_width(s, choice_max(&l[i].c));
    }
}

size_t lp_space_widths(const lp_space *s, int *out, size_t max)
{
    size_t n = 0;
    widths_of(s, s->stem, s->n_stem, out, max, &n);
    for (size_t i = 0; i < s->n_stages; i++)
        if (s->stages[i].c.n) {
            if (n < max)
                out[n] = scale_width(s, choice_max(&s->stages[i].c));
            n++;
        }
    widths_of(s, s->head, s->n_head, out, max, &n);
    return n;
}

/* ---- walking a space: draw or replay choices, build the model ------------- */

#define MAX_KEYS 8

typedef struct enc_acc {
    const char *key;
    double *v;
    size_t n, cap, cursor;
    int is_list;
} enc_acc;

typedef struct walker {
    const lp_space *s;
    lp_rng rng;
    const lp_model *replay; /* NULL: draw */
    enc_acc acc[MAX_KEYS];
    size_t n_acc;
    lp_bld b;
    lp_err *err;
} walker;

static enc_acc *acc_get(walker *w, const char *key, int is_list)
{
    for (size_t i = 0; i < w->n_acc; i++)
        if (!strcmp(w->acc[i].key, key))
            return &w->acc[i];
    if (w->n_acc == MAX_KEYS)
        return NULL;
    enc_acc *a = &w->acc[w->n_acc++];
    memset(a, 0, sizeof *a);
    a->key = key;
    a->is_list = is_list;
    return a;
}

static int acc_push(walker *w, enc_acc *a, double v)
{
    if (a->n == a->cap) {
        size_t cap = a->cap ? a->cap * 2 : 16;
        double *nv = realloc(a->v, cap * sizeof *nv);
        if (!nv)
            return lp_err_set(w->err, LP_ENOMEM, "out of memory");
        a->v = nv;
        a->cap = cap;
    }
    a->v[a->n++] = v;
    return 0;
}

/* The next replayed value of key, checked against the choice. */
static int replay_value(walker *w, enc_acc *a, const choice *c, double *out)
{
    const lp_menc *e = NULL;
    for (size_t i = 0; i < w->replay->n_enc && !e; i++)
        if (!strcmp(w->replay->enc[i].key, a->key))
            e = &w->replay->enc[i];
    if (!e || a->cursor >= e->n)
        return lp_err_set(w->err, LP_EINVAL, "encoding has too few '%s' values for space %s",
                          a->key, w->s->name);
    char *end;
    double v = strtod(e->vals[a->cursor++], &end);
    if (*end)
        return lp_err_set(w->err, LP_EINVAL, "encoding '%s' value '%s' is not a number", a->key,
                          e->vals[a->cursor - 1]);
    for (size_t i = 0; i < c->n; i++)
        if (fabs(c->v[i] - v) < 1e-9) {
            *out = c->v[i];
            return 0;
        }
    return lp_err_set(w->err, LP_EINVAL, "encoding '%s' value %g (entry %zu) is not a choice of "
                      "space %s", a->key, v, a->cursor - 1, w->s->name);
}

/* Takes a value of a choice: fixed values are not recorded; choices are drawn (or read
 * back from the replayed encoding) and appended to the encoding under key. */
static int pick(walker *w, const char *key, const choice *c, double *out)
{
    if (c->n == 1 && !c->each) {
        *out = c->v[0];
        return 0;
    }
    enc_acc *a = acc_get(w, key, strcmp(key, "r") != 0);
    if (!a)
        return lp_err_set(w->err, LP_EINVAL, "too many encoding keys");
    if (w->replay) {
        int rc = replay_value(w, a, c, out);
        if (rc < 0)
            return rc;
    } else {
        *out = c->v[lp_rng_below(&w->rng, c->n)];
    }
    return acc_push(w, a, *out);
}

static int pick_int(walker *w, const char *key, const choice *c, int *out)
{
    double v;
    int rc = pick(w, key, c, &v);
    *out = (int)v;
    return rc;
}

static int walk_layer(walker *w, const layer *l)
{
    const lp_space *s = w->s;
    lp_bld *b = &w->b;
    int c = 0, k = 0, d = 0, rc = 0;
    if (l->c.n && (rc = pick_int(w, "c", &l->c, &c)) < 0)
        return rc;
    if (l->k.n && (rc = pick_int(w, "k", &l->k, &k)) < 0)
        return rc;
    if (l->d.n && (rc = pick_int(w, "d", &l->d, &d)) < 0)
        return rc;
    switch (l->op) {
    case L_CONV:
        c = l->mult > 0 ? lp_round_width(s->rounding, b->c * l->mult) : scale_width(s, c);
        return lp_bld_conv(b, c, k, l->s, l->act);
    case L_RES_CONV: return d > 0 ? lp_bld_res_conv(b, k, l->act) : 0;
    case L_MAXPOOL: return lp_bld_maxpool(b, k, l->s);
    case L_POOL: return lp_bld_global_pool(b);
    case L_FC: return lp_bld_fc(b, scale_width(s, c), l->act);
    case L_CLASSIFIER: return lp_bld_fc(b, s->classes, LP_ACT_NONE);
    case L_PATCH: return lp_bld_patch(b, scale_width(s, c), k);
    case L_LAYERNORM: return lp_bld_layernorm(b);
    case L_TOKEN_POOL: return lp_bld_token_pool(b, l->mode);
    }
    return lp_err_set(w->err, LP_EINVAL, "unknown layer op %d", l->op);
}

/* The per-block values of one block slot (k, e, heads, mlp). */
typedef struct slot {
    double k, e, heads, mlp;
    int zero;
} slot;

static int pick_field(walker *w, unsigned bit, const char *key, const choice *c, size_t j,
                      double stage_v, double *out)
{
    if (c->each) {
        *out = c->v[j < c->n ? j : c->n - 1];
        return 0;
    }
    if (!(w->s->per_block & bit)) {
        *out = stage_v;
        return 0;
    }
    return pick(w, key, c, out);
}

/* ProxylessNAS cells choose uniformly among the k x e MBConvs and Zero. */
static int pick_cell(walker *w, const stage *st, slot *sl)
{
    enc_acc *ak = acc_get(w, "k", 1), *ae = acc_get(w, "e", 1);
    if (!ak || !ae)
        return lp_err_set(w->err, LP_EINVAL, "too many encoding keys");
    size_t nk = st->k.n, ne = st->e.n;
    if (w->replay) {
        choice zk = {0}, ze = {0};
        double kv[64], ev[64];
        if (nk >= 63 || ne >= 63)
            return lp_err_set(w->err, LP_EINVAL, "too many k/e choices for a zero stage");
        memcpy(kv, st->k.v, nk * sizeof *kv);
        memcpy(ev, st->e.v, ne * sizeof *ev);
        kv[nk] = 0;
        ev[ne] = 0;
        zk.v = kv, zk.n = nk + 1, ze.v = ev, ze.n = ne + 1;
        int rc = replay_value(w, ak, &zk, &sl->k);
        if (rc < 0 || (rc = replay_value(w, ae, &ze, &sl->e)) < 0)
            return rc;
    } else {
        uint64_t u = lp_rng_below(&w->rng, nk * ne + 1);
        sl->k = u < nk * ne ? st->k.v[u / ne] : 0;
        sl->e = u < nk * ne ? st->e.v[u % ne] : 0;
    }
    sl->zero = sl->k == 0;
    int rc = acc_push(w, ak, sl->k);
    return rc < 0 ? rc : acc_push(w, ae, sl->e);
}

static int build_block(walker *w, const stage *st, const slot *sl, int out_c, int stride)
{
    const lp_space *s = w->s;
    switch (st->block) {
    case B_MBCONV: {
        lp_mbconv_args a = {.cout = out_c, .k = (int)sl->k, .s = stride, .e = sl->e,
                            .act = st->act, .se = st->se, .se_rule = s->se_rule,
                            .se_act = s->se_act,
                            .residual = st->residual, .rounding = s->rounding};
        return lp_bld_mbconv(&w->b, &a);
    }
    case B_BOTTLENECK:
        return lp_bld_bottleneck(&w->b, out_c, sl->e, stride, st->act, st->shortcut,
                                 s->rounding);
    default:
        return lp_bld_transformer(&w->b, (int)sl->heads, st->head_dim, sl->mlp);
    }
}

static int walk_stage(walker *w, const stage *st)
{
    int c = 0, d = 0, rc;
    double k = 0, e = 0, heads = 0, mlp = 0;
    if (st->c.n && (rc = pick_int(w, "c", &st->c, &c)) < 0)
        return rc;
    if ((rc = pick_int(w, "d", &st->d, &d)) < 0)
        return rc;
    /* Per-stage draws happen once, before the block slots. */
    unsigned pb = w->s->per_block;
    if ((!(pb & F_K) && !st->k.each && (rc = pick(w, "k", &st->k, &k)) < 0) ||
        (!(pb & F_E) && !st->e.each && (rc = pick(w, "e", &st->e, &e)) < 0) ||
        (!(pb & F_HEADS) && !st->heads.each && st->heads.n && (rc = pick(w, "heads", &st->heads, &heads)) < 0) ||
        (!(pb & F_MLP) && !st->mlp.each && (rc = pick(w, "mlp", &st->mlp, &mlp)) < 0))
        return rc;
    int out_c = st->c.n ? scale_width(w->s, c) : w->b.c;
    size_t slots = (size_t)choice_max(&st->d);
    for (size_t j = 0; j < slots; j++) {
        slot sl = {0};
        if (st->zero && j > 0) {
            if ((rc = pick_cell(w, st, &sl)) < 0)
                return rc;
        } else if ((rc = pick_field(w, F_K, "k", &st->k, j, k, &sl.k)) < 0 ||
                   (rc = pick_field(w, F_E, "e", &st->e, j, e, &sl.e)) < 0 ||
                   (st->heads.n && (rc = pick_field(w, F_HEADS, "heads", &st->heads, j, heads, &sl.heads)) < 0) ||
                   (rc = pick_field(w, F_MLP, "mlp", &st->mlp, j, mlp, &sl.mlp)) < 0) {
            return rc;
        }
        if (j >= (size_t)d || sl.zero)
            continue;
        if ((rc = build_block(w, st, &sl, out_c, j == 0 ? st->s : 1)) < 0)
            return rc;
    }
    return 0;
}

static void walker_free(walker *w)
{
    for (size_t i = 0; i < w->n_acc; i++)
        free(w->acc[i].v);
}

static int walk(walker *w, const char *name, lp_model **out)
{
    const lp_space *s = w->s;
    lp_model *m = NULL;
    double r;
    int rc = pick(w, "r", &s->res, &r);
    if (rc < 0 || (rc = lp_model_new(name, s->name, (int64_t)r, 3, &m, w->err)) < 0)
        goto fail;
    lp_bld_init(&w->b, m, w->err);
    for (size_t i = 0; i < s->n_stem; i++)
        if ((rc = walk_layer(w, &s->stem[i])) < 0)
            goto fail;
    for (size_t i = 0; i < s->n_stages; i++)
        if ((rc = walk_stage(w, &s->stages[i])) < 0)
            goto fail;
    for (size_t i = 0; i < s->n_head; i++)
        if ((rc = walk_layer(w, &s->head[i])) < 0)
            goto fail;
    for (size_t i = 0; i < w->n_acc; i++)
        if ((rc = lp_model_add_enc(m, w->acc[i].key, w->acc[i].v, w->acc[i].n,
                                   w->acc[i].is_list, w->err)) < 0)
            goto fail;
    if (s->summary && (rc = lp_model_set_summary(m, s->summary, w->err)) < 0)
        goto fail;
    walker_free(w);
    *out = m;
    return 0;
fail:
    walker_free(w);
    lp_model_free(m);
    return rc;
}

int lp_space_sample(const lp_space *s, uint64_t seed, uint64_t index, lp_model **out,
                    lp_err *err)
{
    walker w = {.s = s, .err = err};
    char name[512];
    /* Model i depends only on (space, seed, i), so -n 10 is a prefix of -n 100; the
     * space's name (FNV-1a) keeps spaces sampled with one seed from sharing draws. */
    uint64_t fnv = 0xCBF29CE484222325ull;
    for (const char *c = s->name; *c; c++)
        fnv = (fnv ^ (unsigned char)*c) * 0x100000001B3ull;
    uint64_t st = seed ^ fnv;
    uint64_t h = lp_splitmix64(&st);
    st = h ^ index;
    lp_rng_seed(&w.rng, lp_splitmix64(&st));
    snprintf(name, sizeof name, "%s-s%llu-%04llu", s->name, (unsigned long long)seed,
             (unsigned long long)index);
    *out = NULL;
    int rc = walk(&w, name, out);
    /* A space without choices is a named network: its one model takes the space's name. */
    if (rc == 0 && (*out)->n_enc == 0) {
        char *n = strdup(s->name);
        if (!n) {
            lp_model_free(*out);
            *out = NULL;
            return lp_err_set(err, LP_ENOMEM, "out of memory");
        }
        free((*out)->name);
        (*out)->name = n;
    }
    return rc;
}

int lp_space_build(const lp_space *s, const lp_model *enc, const char *name, lp_model **out,
                   lp_err *err)
{
    walker w = {.s = s, .replay = enc, .err = err};
    *out = NULL;
    int rc = walk(&w, name, out);
    if (rc < 0)
        return rc;
    /* Every replayed value must have been used. */
    for (size_t i = 0; i < enc->n_enc; i++) {
        size_t used = 0;
        for (size_t j = 0; j < (*out)->n_enc; j++)
            if (!strcmp((*out)->enc[j].key, enc->enc[i].key))
                used = (*out)->enc[j].n;
        if (used != enc->enc[i].n) {
            lp_model_free(*out);
            *out = NULL;
            return lp_err_set(err, LP_EINVAL, "encoding '%s' has %zu values; space %s uses %zu",
                              enc->enc[i].key, enc->enc[i].n, s->name, used);
        }
    }
    return 0;
}

int lp_space_sample_checked(const lp_space *s, const lp_registry *reg, uint64_t seed,
                            uint64_t index, lp_model **out, lp_err *err)
{
    lp_model *m = NULL;
    int rc = lp_space_sample(s, seed, index, &m, err);
    if (rc < 0 || (rc = lp_model_resolve(m, reg, err)) < 0 || (rc = lp_model_check(m, err)) < 0) {
        if (m)
            lp_err_prefix(err, "%s: ", m->name);
        lp_model_free(m);
        *out = NULL;
        return rc;
    }
    *out = m;
    return 0;
}
