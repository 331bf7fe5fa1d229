/* Pipeline files: one parser serves `litepred check` and `litepred run`. */
#include <litepred/pipeline.h>
#include <litepred/space.h>

#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "pipeline_int.h"

static const char *const kind_names[] = {NULL, "build", "evaluate", "build-pool", "adapt"};

const char *lp_pipeline_kind_name(lp_pipeline_kind k)
{
    return k >= LP_PIPE_BUILD && k <= LP_PIPE_ADAPT ? kind_names[k] : "?";
}

/* Keys of the top level, per kind (bit k-1 set: kind k accepts it). */
enum { B = 1, E = 2, BP = 4, A = 8, ALL = 15 };
typedef struct key_rule {
    const char *key;
    unsigned allowed, required;
    const char *help;
} key_rule;

static const key_rule rules[] = {
    {"pipeline", ALL, ALL, "pipeline kind: build, evaluate, build-pool, adapt"},
    {"store", ALL, 0, "SQLite measurement store (default litepred.db)"},
    {"pool", ALL, ALL, "predictor pool root directory"},
    {"platform", B | E, B | E, "platform name or file"},
    {"platforms", BP, BP, "warm-up platform names"},
    {"target", A, A, "target platform name, or a list of them"},
    {"leave_out", A, 0, "pool platforms never picked: target (default), engine or none"},
    {"candidates", A, 0, "pool platforms to consider (default: all in the pool)"},
    {"budgets", A, 0, "sampled target configs per kernel type, e.g. [50, 100, 200, 500]"},
    {"finetune", A, 0, "start from the picked pool predictor (default true; false: from scratch)"},
    {"output", A, 0, "adapted predictors root (default adapted)"},
    {"representative", A, 0, "representative-set directory (default configs/representative)"},
    {"kernels", B | BP | A, B | BP | A, "kernel types"},
    {"sampler", B | BP | A, B | BP | A, "data sampler: {plugin: NAME, count: N, seed: S, ...}"},
    {"similarity", A, A, "similarity metric"},
    {"predictor", B | BP | A, B | BP | A, "predictor: {plugin: mlp|rf, ...}"},
    {"validation", B | BP | A, 0, "held-out share of measured configs (default 0.2)"},
    {"evaluate", E | A, E, "evaluation: {spaces: [...], models: N, seed: S, kernels: bool}"},
    {"report", ALL, 0, "report directory"},
    {NULL, 0, 0, NULL}};

/* Pipeline-level keys inside the sampler mapping; the rest are the plugin's options. */
typedef struct { int64_t count, seed, rounds, prior_models; } sampler_core;
static const lp_option sampler_core_opts[] = {
    {.name = "count", .help = "configs per kernel type", .type = LP_OPT_INT,
     .offset = offsetof(sampler_core, count), .def_i = 1000, .min = 1, .max = 10000000},
    {.name = "seed", .help = "sampler seed", .type = LP_OPT_INT,
     .offset = offsetof(sampler_core, seed), .def_i = 1, .min = 0, .max = 9.2e18},
    {.name = "rounds", .help = "feedback rounds", .type = LP_OPT_INT,
     .offset = offsetof(sampler_core, rounds), .def_i = 0, .min = 0, .max = 100},
    {.name = "prior_models", .help = "models per space drawn to build the prior",
     .type = LP_OPT_INT, .offset = offsetof(sampler_core, prior_models), .def_i = 200,
     .min = 1, .max = 100000},
    LP_OPT_END};
static const char *const plugin_skip[] = {"plugin", NULL};

typedef struct { int64_t models, seed, calibrate; int kernels; } eval_opts;
static const lp_option eval_core_opts[] = {
    {.name = "models", .help = "models per space", .type = LP_OPT_INT,
     .offset = offsetof(eval_opts, models), .def_i = 100, .min = 1, .max = 1000000},
    {.name = "seed", .help = "model sampling seed", .type = LP_OPT_INT,
     .offset = offsetof(eval_opts, seed), .def_i = 11, .min = 0, .max = 9.2e18},
    {.name = "kernels", .help = "also report kernel-level accuracy", .type = LP_OPT_BOOL,
     .offset = offsetof(eval_opts, kernels), .def_i = 1},
    {.name = "calibrate", .help = "whole models per space (not among the evaluated ones) measured "
     "to fit a per-space scale on the sum of kernel predictions; 0: off", .type = LP_OPT_INT,
     .offset = offsetof(eval_opts, calibrate), .def_i = 0, .min = 0, .max = 100000},
    LP_OPT_END};
static const char *const eval_skip[] = {"spaces", NULL};

void lp_pipeline_free(lp_pipeline *p)
{
    if (!p)
        return;
    free(p->platforms);
    free(p->targets);
    free(p->candidates);
    free(p->budgets);
    free(p->own_output);
    free(p->own_report);
    free(p->kernels);
    free(p->spaces);
    lp_ydoc_free(p->doc);
    free(p);
}

/* A list of names: the strings stay in the document. */
static char **names(const lp_ynode *v, size_t *n, const char *key, const char *file, lp_diag *d)
{
    *n = 0;
    if (!v || v->type != LP_Y_SEQ || v->n == 0) {
        lp_diag_add(d, file, v, "'%s' must be a non-empty list of names", key);
        return NULL;
    }
    char **out = calloc(v->n, sizeof *out);
    for (size_t i = 0; out && i < v->n; i++) {
        if (v->items[i]->type != LP_Y_SCALAR)
            lp_diag_add(d, file, v->items[i], "'%s' entries must be names, got %s", key,
                        lp_ytype_name(v->items[i]->type));
        else
            out[(*n)++] = v->items[i]->str;
    }
    return out;
}

static const char *scalar(const lp_ynode *v, const char *key, const char *file, lp_diag *d)
{
    if (!v)
        return NULL;
    if (v->type != LP_Y_SCALAR || !v->str[0]) {
        lp_diag_add(d, file, v, "'%s' must be a non-empty string, got %s", key, lp_ytype_name(v->type));
        return NULL;
    }
    return v->str;
}

static lp_pipeline_kind parse_kind(const lp_ynode *v, const char *file, lp_diag *d)
{
    for (int k = LP_PIPE_BUILD; k <= LP_PIPE_ADAPT; k++)
        if (v && v->type == LP_Y_SCALAR && !strcmp(v->str, kind_names[k]))
            return (lp_pipeline_kind)k;
    lp_diag_add(d, file, v, "'pipeline' must be one of: build, evaluate, build-pool, adapt; got '%s'",
                v && v->type == LP_Y_SCALAR ? v->str : "a non-scalar");
    return 0;
}

static void check_top_keys(const lp_ynode *root, unsigned bit, const char *file, lp_diag *d)
{
    const char *keys[sizeof rules / sizeof rules[0]];
    size_t nk = 0;
    for (const key_rule *r = rules; r->key; r++)
        if (!bit || (r->allowed & bit))
            keys[nk++] = r->key;
    keys[nk] = NULL;
    lp_check_keys(root, keys, file, d);
    for (const key_rule *r = rules; r->key; r++)
        if ((r->required & bit) && !lp_ymap_get(root, r->key))
            lp_diag_add(d, file, root, "missing required key '%s' (%s)", r->key, r->help);
}

/* A plugin reference: validated by creating (and dropping) an instance. */
static void plugin_ref(const lp_registry *reg, lp_kind kind, const lp_ynode *v, const char *const *skip,
                       lp_plugin_ref *out, const char *file, lp_diag *d)
{
    const lp_ynode *name = v && v->type == LP_Y_MAP ? lp_ymap_get(v, "plugin") : v;
    if (!v)
        return;
    if (v->type == LP_Y_MAP && !name) {
        lp_diag_add(d, file, v, "missing required key 'plugin' (the %s plugin's name)",
                    lp_kind_name(kind));
        return;
    }
    const lp_plugin *p = lp_check_plugin_name(reg, kind, name, file, d);
    if (!p)
        return;
    lp_err err = {0};
    const lp_plugin_desc *desc = lp_plugin_descriptor(p);
    void *scratch = calloc(1, desc->priv_size ? desc->priv_size : 1);
    /* Options are checked here with the pipeline keys skipped; init runs at use. */
    if (scratch && lp_options_defaults(desc->options, scratch, &err) == 0)
        lp_options_apply(desc->options, scratch, v->type == LP_Y_MAP ? v : NULL, skip, file, d);
    if (scratch)
        lp_options_free(desc->options, scratch);
    free(scratch);
    out->plugin = p;
    out->node = v;
}

static void parse_sampler(const lp_registry *reg, lp_pipeline *p, const lp_ynode *v, lp_diag *d)
{
    sampler_core sc;
    lp_err err = {0};
    lp_options_defaults(sampler_core_opts, &sc, &err);
    if (v && v->type == LP_Y_MAP) {
        /* apply only the pipeline keys: build a view of them */
        for (size_t i = 0; i < v->n; i++)
            for (const lp_option *o = sampler_core_opts; o->name; o++)
                if (!strcmp(v->keys[i]->str, o->name)) {
                    lp_ynode one = {.type = LP_Y_MAP, .n = 1, .line = v->line, .col = v->col,
                                    .items = &v->items[i], .keys = &v->keys[i]};
                    lp_options_apply(sampler_core_opts, &sc, &one, NULL, p->path, d);
                }
    }
    p->count = sc.count;
    p->seed = sc.seed;
    p->rounds = sc.rounds;
    p->prior_models = sc.prior_models;
    plugin_ref(reg, LP_KIND_SAMPLER, v, pl_sampler_skip, &p->sampler, p->path, d);
}

static void parse_evaluate(lp_pipeline *p, const lp_ynode *v, lp_diag *d)
{
    eval_opts eo;
    lp_err err = {0};
    lp_options_defaults(eval_core_opts, &eo, &err);
    if (v && v->type != LP_Y_MAP) {
        lp_diag_add(d, p->path, v, "'evaluate' must be a mapping, got %s", lp_ytype_name(v->type));
        return;
    }
    if (v) {
        lp_options_apply(eval_core_opts, &eo, v, eval_skip, p->path, d);
        p->spaces = names(lp_ymap_get(v, "spaces"), &p->n_spaces, "spaces", p->path, d);
        for (size_t i = 0; i < p->n_spaces; i++) {
            char *path = NULL;
            lp_err e2 = {0};
            if (lp_space_find(lp_spaces_dir_default(), p->spaces[i], &path, &e2) < 0)
                lp_diag_add(d, p->path, lp_ymap_get(v, "spaces")->items[i], "%s", e2.msg);
            free(path);
        }
    }
    p->eval_models = eo.models;
    p->eval_seed = eo.seed;
    p->eval_kernels = eo.kernels;
    p->eval_calibrate = eo.calibrate;
}

static void parse_validation(lp_pipeline *p, const lp_ynode *v, lp_diag *d)
{
    p->validation = 0.2;
    if (v && (lp_yscalar_double(v, &p->validation) < 0 || p->validation < 0 || p->validation >= 0.9))
        lp_diag_add(d, p->path, v, "'validation' must be a number in [0, 0.9), got '%s'",
                    v->type == LP_Y_SCALAR ? v->str : lp_ytype_name(v->type));
}

/* root/<stem of path>, malloc'd (NULL when out of memory: the caller's default then fails). */
static char *stem_dir(const char *root, const char *path)
{
    const char *base = strrchr(path, '/') ? strrchr(path, '/') + 1 : path;
    size_t n = strlen(base);
    if (n > 5 && !strcmp(base + n - 5, ".yaml"))
        n -= 5;
    char *out = NULL;
    return asprintf(&out, "%s/%.*s", root, (int)n, base) < 0 ? NULL : out;
}

/* adapt's keys: targets, leave_out, candidates, budgets, finetune, output, representative. */
static void parse_adapt(lp_pipeline *p, const lp_ynode *root, lp_diag *d)
{
    const lp_ynode *v = lp_ymap_get(root, "target");
    if (v && v->type == LP_Y_SCALAR) {
        const char *t = scalar(v, "target", p->path, d);
        if (t && (p->targets = malloc(sizeof *p->targets))) {
            p->targets[0] = (char *)t;
            p->n_targets = 1;
        }
    } else if (v) {
        p->targets = names(v, &p->n_targets, "target", p->path, d);
    }
    if ((v = lp_ymap_get(root, "leave_out"))) {
        static const char *const modes[] = {"target", "engine", "none"};
        size_t i = 0;
        while (i < 3 && !(v->type == LP_Y_SCALAR && !strcmp(v->str, modes[i])))
            i++;
        if (i == 3)
            lp_diag_add(d, p->path, v, "'leave_out' must be one of: target, engine, none; got '%s'",
                        v->type == LP_Y_SCALAR ? v->str : lp_ytype_name(v->type));
        else
            p->leave_out = (lp_leave_out)i;
    }
    if ((v = lp_ymap_get(root, "candidates")))
        p->candidates = names(v, &p->n_candidates, "candidates", p->path, d);
    p->finetune = 1;
    if ((v = lp_ymap_get(root, "finetune")) && lp_yscalar_bool(v, &p->finetune) < 0)
        lp_diag_add(d, p->path, v, "'finetune' must be true or false, got '%s'",
                    v->type == LP_Y_SCALAR ? v->str : lp_ytype_name(v->type));
    /* Defaults keyed by the file's stem, so ablation files differ only in the swapped line. */
    p->output = scalar(lp_ymap_get(root, "output"), "output", p->path, d);
    if (!p->output)
        p->output = p->own_output = stem_dir("adapted", p->path);
    if (!p->report)
        p->report = p->own_report = stem_dir("reports", p->path);
    p->representative = scalar(lp_ymap_get(root, "representative"), "representative", p->path, d);
    if (!(v = lp_ymap_get(root, "budgets")))
        return;
    if (v->type != LP_Y_SEQ || !v->n) {
        lp_diag_add(d, p->path, v, "'budgets' must be a non-empty list of config counts");
        return;
    }
    if (!(p->budgets = calloc(v->n, sizeof *p->budgets)))
        return;
    for (size_t i = 0; i < v->n; i++) {
        const lp_ynode *b = v->items[i];
        if (lp_yscalar_int(b, &p->budgets[i]) < 0 || p->budgets[i] < 1 || p->budgets[i] > 10000000)
            lp_diag_add(d, p->path, b, "budgets: '%s' is not a config count in [1, 10000000]",
                        b->type == LP_Y_SCALAR ? b->str : lp_ytype_name(b->type));
        else if (i && p->budgets[i] <= p->budgets[i - 1])
            lp_diag_add(d, p->path, b, "budgets must be strictly ascending (%lld after %lld)",
                        (long long)p->budgets[i], (long long)p->budgets[i - 1]);
    }
    p->n_budgets = v->n;
}

int lp_pipeline_parse(const lp_registry *reg, lp_ydoc *doc, lp_pipeline **out, lp_diag *d)
{
    size_t before = d->n;
    lp_pipeline *p = calloc(1, sizeof *p);
    if (!p)
        return LP_ENOMEM;
    p->path = doc->path;
    const lp_ynode *root = doc->root;
    p->kind = parse_kind(lp_ymap_get(root, "pipeline"), p->path, d);
    check_top_keys(root, p->kind ? 1u << (p->kind - 1) : 0, p->path, d);
    p->store = scalar(lp_ymap_get(root, "store"), "store", p->path, d);
    if (!p->store)
        p->store = "litepred.db";
    p->pool = scalar(lp_ymap_get(root, "pool"), "pool", p->path, d);
    p->platform = scalar(lp_ymap_get(root, "platform"), "platform", p->path, d);
    p->report = scalar(lp_ymap_get(root, "report"), "report", p->path, d);
    const lp_ynode *v;
    if ((v = lp_ymap_get(root, "platforms")))
        p->platforms = names(v, &p->n_platforms, "platforms", p->path, d);
    if ((v = lp_ymap_get(root, "kernels"))) {
        p->kernels = names(v, &p->n_kernels, "kernels", p->path, d);
        for (size_t i = 0; i < v->n; i++)
            if (v->items[i]->type == LP_Y_SCALAR)
                lp_check_plugin_name(reg, LP_KIND_KERNEL, v->items[i], p->path, d);
    }
    if ((v = lp_ymap_get(root, "sampler")))
        parse_sampler(reg, p, v, d);
    plugin_ref(reg, LP_KIND_SIMILARITY, lp_ymap_get(root, "similarity"), plugin_skip, &p->similarity, p->path, d);
    plugin_ref(reg, LP_KIND_PREDICTOR, lp_ymap_get(root, "predictor"), plugin_skip, &p->predictor, p->path, d);
    parse_validation(p, lp_ymap_get(root, "validation"), d);
    parse_evaluate(p, lp_ymap_get(root, "evaluate"), d);
    if (p->kind == LP_PIPE_ADAPT)
        parse_adapt(p, root, d);
    if (p->kind == LP_PIPE_ADAPT && !p->n_budgets && p->count > 0 &&
        (p->budgets = malloc(sizeof *p->budgets))) {
        p->budgets[0] = p->count;
        p->n_budgets = 1;
    }
    if (d->n > before) {
        p->doc = NULL; /* the caller keeps the document */
        lp_pipeline_free(p);
        return LP_EINVAL;
    }
    p->doc = doc;
    *out = p;
    return 0;
}

int lp_pipeline_check_doc(const lp_registry *reg, const lp_ydoc *doc, lp_diag *diag)
{
    lp_pipeline *p = NULL;
    int rc = lp_pipeline_parse(reg, (lp_ydoc *)doc, &p, diag);
    if (p)
        p->doc = NULL; /* borrowed */
    lp_pipeline_free(p);
    return rc;
}

int lp_pipeline_load(const lp_registry *reg, const char *path, lp_pipeline **out, lp_diag *diag,
                     lp_err *err)
{
    lp_ydoc *doc = NULL;
    *out = NULL;
    int rc = lp_yaml_load(path, &doc, err);
    if (rc < 0)
        return rc;
    if (!doc->root || doc->root->type != LP_Y_MAP || !lp_ymap_get(doc->root, "pipeline")) {
        lp_ydoc_free(doc);
        return lp_err_set(err, LP_EINVAL, "%s: not a pipeline file (no top-level 'pipeline:' key)", path);
    }
    if ((rc = lp_pipeline_parse(reg, doc, out, diag)) < 0) {
        lp_ydoc_free(doc);
        return lp_err_set(err, rc, "%s: invalid pipeline (%zu problem%s)", path, diag->n,
                          diag->n == 1 ? "" : "s");
    }
    return 0;
}
