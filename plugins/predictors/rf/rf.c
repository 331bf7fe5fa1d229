/* rf: nn-Meter's latency predictor, a random forest of CART regression trees, as
 * scikit-learn's RandomForestRegressor fits it: bootstrap samples (as per-row counts, so a
 * tree sees each drawn row once with its count as weight), max_features features drawn
 * without replacement at each node (more while all drawn are constant there), the
 * squared-error criterion, the split threshold halfway between two neighbouring values
 * (values within 1e-7 count as equal), a node a leaf at max depth, below 2 rows
 * (min_samples_split) or 2 * min_leaf rows, or when its targets are all equal. Rows left
 * out of a tree's bootstrap sample give the out-of-bag (OOB) error in the training report,
 * as oob_score=True does. Without bootstrap and with every feature per split, one tree
 * predicts what scikit-learn 1.2's DecisionTreeRegressor does, to the bit (test_rf.c);
 * bootstrap draws come from lp_rng, so forests agree with scikit-learn's in distribution
 * only (nn-Meter's conv settings on two draws of 2,000 noisy conv rows: OOB R^2 0.9974 and
 * 0.9959 here, 0.9974 and 0.9960 there; held-out MAPE 2.34% and 2.47%, 2.36% and 2.47%).
 *
 * Speed: every feature's rows are sorted once per forest; each tree filters those orders
 * to its bootstrap rows and keeps them partitioned node by node (a stable partition per
 * split), so the best-split search is one linear scan per feature and no tree sorts.
 * Trees grow from an explicit stack (no recursion, any depth) into flat arrays of 12-byte
 * nodes whose two children sit side by side.
 *
 * A forest does not fine-tune: train() with ctl->finetune fails with LP_EUNSUPPORTED
 * rather than silently growing a new forest. progress(), when given, runs after each tree
 * with epoch = trees grown, loss = the OOB squared error so far (ms^2; NAN without
 * bootstrap) and the validation MAPE of the trees so far. The report's epochs are the
 * trees, first_loss and final_loss the training rows' squared error (ms^2) of the first
 * tree alone and of the forest, and oob_* the OOB error (oob_rows 0 without bootstrap).
 *
 * File format, version 1 (every integer and float little-endian):
 *   0   8   magic "LPRF\r\n\x1a\n" (a text-mode transfer or a truncated copy breaks it)
 *   8   4   u32 format version (1)
 *   12  4   u32 flags (0; reserved)
 *   16  8   u64 file size in bytes, checksum included (truncation is caught before parsing)
 *   24  2   u16 kernel type length K, then K bytes (no NUL; K = 0: unnamed)
 *   .   2   u16 info length I, then I bytes: how it was trained ("trees=320,depth=70,...")
 *   .   4   u32 features F
 *   .   4   u32 target (0: latency in ms; 1: log latency, predictions are exp of the mean)
 *   .   4   u32 trees T
 *   .   4T  u32 node count of each tree
 *   .   12N nodes, tree after tree: i32 feature (-1: leaf), f32 threshold (right when
 *           x > threshold) or the leaf's value, u32 left child's index in its tree (the
 *           right child follows it; 0 for a leaf)
 *   .   4   u32 CRC-32 (zlib's) of every byte before it
 */
#include <litepred/nn.h>
#include <litepred/predictor.h>
#include <litepred/space.h>

#include <ctype.h>
#include <float.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define LP_RF_VERSION 1u
#define LP_RF_HEADER 24u
#define LP_RF_NAME_MAX 255
#define LP_RF_INFO_MAX 1024
#define LP_RF_MAX_FEATURES 65536
#define LP_RF_MAX_TREES 100000
/* Row and node indices are u32; a tree on m rows has at most 2m - 1 nodes. */
#define LP_RF_MAX_ROWS (UINT32_MAX / 2)
/* Rows per prediction block: a tree (tens of KB) stays in cache for the whole block. */
#define LP_RF_BLOCK 256
#define LP_RF_NODE_BYTES 12u

static const unsigned char lp_rf_magic[8] = {'L', 'P', 'R', 'F', '\r', '\n', 0x1a, '\n'};
static const char *const lp_rf_targets[] = {"raw", "log", NULL};
static const char *const lp_rf_presets[] = {"cpu", "gpu", "vpu", NULL};

/* ---- nn-Meter's per-kernel settings ---------------------------------------------------- */

/* nn-Meter's __PREDICTOR_ZOO__ (nn_meter/builder/kernel_predictor_builder/predictor_builder/
 * predictor_lib.py): max_depth, n_estimators and max_features per kernel type and backend
 * (tflite_cpu, tflite_gpu, openvino_vpu); every entry also has min_samples_leaf 1,
 * min_samples_split 2, oob_score and random_state 10. Names are nn-Meter's, which are the
 * kernel plugins' names where both exist. */
typedef struct lp_rf_zoo {
    const char *kernel;
    short depth[3], trees[3], max_features[3]; /* per preset; 0: no entry */
} lp_rf_zoo;

static const lp_rf_zoo lp_rf_zoo_table[] = {
    {"conv-bn-relu", {70, 80, 100}, {320, 550, 500}, {6, 5, 5}},
    {"dwconv-bn-relu", {50, 40, 100}, {240, 240, 650}, {6, 7, 5}},
    {"fc", {50, 70, 70}, {370, 330, 330}, {2, 4, 4}},
    {"channelshuffle", {50, 0, 50}, {370, 0, 370}, {2, 0, 2}},
    {"se", {20, 50, 50}, {290, 190, 110}, {2, 2, 2}},
    {"maxpool", {50, 50, 50}, {210, 370, 370}, {5, 5, 5}},
    {"global-avgpool", {70, 0, 0}, {370, 0, 0}, {2, 0, 0}},
    {"hswish", {50, 50, 50}, {190, 190, 110}, {2, 2, 2}},
    {"avgpool", {50, 50, 50}, {370, 370, 390}, {5, 5, 5}},
    {"bnrelu", {50, 50, 50}, {370, 190, 570}, {2, 2, 2}},
    {"relu", {50, 50, 50}, {370, 190, 190}, {2, 2, 2}},
    {"bn", {50, 50, 50}, {370, 190, 390}, {2, 2, 2}},
    {"concat", {100, 100, 0}, {690, 690, 0}, {5, 5, 0}},
    {"addrelu", {50, 50, 50}, {570, 570, 570}, {3, 3, 3}},
    {"add", {50, 50, 50}, {570, 570, 570}, {3, 3, 3}},
    {"split", {50, 0, 0}, {190, 0, 0}, {2, 0, 0}},
};

/* nn-Meter's init_predictor() fallback for a kernel type without an entry: depth 50,
 * 370 trees, max_features "auto" (every feature, for a regressor). */
#define LP_RF_FALLBACK_DEPTH 50
#define LP_RF_FALLBACK_TREES 370

/* ---- state --------------------------------------------------------------------------- */

/* One tree node. Children are allocated in pairs, so one index finds both. */
typedef struct lp_rf_node {
    int32_t feature; /* -1: leaf */
    float value;     /* threshold (x > value goes right), or the leaf's prediction */
    uint32_t left;   /* left child's index in the tree; right = left + 1 */
} lp_rf_node;

typedef struct lp_rf_forest {
    size_t n_features;
    size_t n_trees;
    size_t n_nodes;
    size_t *start; /* n_trees + 1 offsets into nodes */
    lp_rf_node *nodes;
    int log_target;
} lp_rf_forest;

typedef struct lp_rf_pred {
    /* options (written by the core) */
    int64_t trees;
    int64_t depth;
    int64_t max_features;
    int64_t min_leaf;
    int64_t seed;
    int bootstrap;
    int target;
    int preset;
    /* the held model; forest == NULL: untrained */
    lp_rf_forest *forest;
    char kernel[LP_RF_NAME_MAX + 1];
    char info[LP_RF_INFO_MAX];
} lp_rf_pred;

static const lp_option lp_rf_options[] = {
    {.name = "trees",
     .help = "trees in the forest (0: nn-Meter's value for the kernel type and preset; "
             "conv-bn-relu on cpu: 320)",
     .type = LP_OPT_INT, .offset = offsetof(lp_rf_pred, trees), .def_i = 0, .min = 0,
     .max = LP_RF_MAX_TREES},
    {.name = "depth",
     .help = "maximum depth, the root at 0 (0: nn-Meter's value for the kernel type and "
             "preset; conv-bn-relu on cpu: 70)",
     .type = LP_OPT_INT, .offset = offsetof(lp_rf_pred, depth), .def_i = 0, .min = 0,
     .max = 1000000},
    {.name = "max_features",
     .help = "features tried per split, at most the feature count (0: nn-Meter's value for "
             "the kernel type and preset; conv-bn-relu on cpu: 6)",
     .type = LP_OPT_INT, .offset = offsetof(lp_rf_pred, max_features), .def_i = 0, .min = 0,
     .max = LP_RF_MAX_FEATURES},
    {.name = "min_leaf", .help = "fewest training rows in a leaf (scikit-learn's min_samples_leaf)",
     .type = LP_OPT_INT, .offset = offsetof(lp_rf_pred, min_leaf), .def_i = 1, .min = 1,
     .max = 1000000},
    {.name = "seed", .help = "seed of the bootstrap samples and feature draws (nn-Meter: 10)",
     .type = LP_OPT_INT, .offset = offsetof(lp_rf_pred, seed), .def_i = 10, .min = 0,
     .max = 9007199254740992.0},
    {.name = "bootstrap",
     .help = "grow each tree on a bootstrap sample (off: every tree sees every row once; no "
             "out-of-bag error)",
     .type = LP_OPT_BOOL, .offset = offsetof(lp_rf_pred, bootstrap), .def_i = 1},
    /* raw, as nn-Meter: its forests and the accuracy it reports are fitted on ms; log
     * trades squared error in ms for relative error, which is a different predictor. */
    {.name = "target",
     .help = "fit latency in ms (raw, as nn-Meter) or its log (predictions are then exp of "
             "the trees' mean)",
     .type = LP_OPT_CHOICE, .offset = offsetof(lp_rf_pred, target), .def_s = "raw",
     .choices = lp_rf_targets},
    {.name = "preset",
     .help = "nn-Meter's per-kernel table for trees, depth and max_features left at 0: "
             "tflite_cpu, tflite_gpu or openvino_vpu",
     .type = LP_OPT_CHOICE, .offset = offsetof(lp_rf_pred, preset), .def_s = "cpu",
     .choices = lp_rf_presets},
    LP_OPT_END};

static void lp_rf_forest_free(lp_rf_forest *f)
{
    if (!f)
        return;
    free(f->start);
    free(f->nodes);
    free(f);
}

static void lp_rf_drop_model(lp_rf_pred *p)
{
    lp_rf_forest_free(p->forest);
    p->forest = NULL;
    p->kernel[0] = p->info[0] = '\0';
}

/* Nothing to check across options; it exists because the core calls fini (which frees
 * the held forest) only for an instance whose init succeeded. */
static int lp_rf_init(void *priv, lp_err *err)
{
    (void)priv;
    (void)err;
    return 0;
}

static void lp_rf_fini(void *priv)
{
    lp_rf_drop_model(priv);
}

static uint64_t lp_rf_now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* ---- prediction ---------------------------------------------------------------------- */

static float lp_rf_tree_eval(const lp_rf_node *tree, const float *x)
{
    const lp_rf_node *nd = tree;
    while (nd->feature >= 0)
        nd = tree + nd->left + (x[nd->feature] > nd->value);
    return nd->value;
}

/* Rows walked through one tree together: their independent chains of loads overlap in the
 * CPU instead of each row waiting on its own. */
#define LP_RF_LANES 8

/* Adds the tree's prediction of LP_RF_LANES rows (x, nf floats apart) to acc. A lane at a
 * leaf stays there by a branch-free select, so the loop ends at the deepest lane's leaf. */
static void lp_rf_tree_lanes(const lp_rf_node *tree, const float *x, size_t nf, double *acc)
{
    uint32_t at[LP_RF_LANES] = {0};
    for (int live = 1; live;) {
        live = 0;
        for (size_t k = 0; k < LP_RF_LANES; k++) {
            const lp_rf_node *nd = tree + at[k];
            int inner = nd->feature >= 0;
            uint32_t f = inner ? (uint32_t)nd->feature : 0;
            uint32_t next = nd->left + (x[k * nf + f] > nd->value);
            at[k] = inner ? next : at[k];
            live |= inner;
        }
    }
    for (size_t k = 0; k < LP_RF_LANES; k++)
        acc[k] += tree[at[k]].value;
}

/* One row through every tree, LP_RF_LANES trees in lockstep (the same overlap for a row that
 * has no neighbours in its batch); sums in tree order, as the blocked path does. */
static double lp_rf_row_sum(const lp_rf_forest *f, const float *x)
{
    double sum = 0;
    size_t t = 0;
    for (; t + LP_RF_LANES <= f->n_trees; t += LP_RF_LANES) {
        const lp_rf_node *tree[LP_RF_LANES];
        const lp_rf_node *at[LP_RF_LANES];
        for (size_t k = 0; k < LP_RF_LANES; k++)
            at[k] = tree[k] = f->nodes + f->start[t + k];
        for (int live = 1; live;) {
            live = 0;
            for (size_t k = 0; k < LP_RF_LANES; k++) {
                int inner = at[k]->feature >= 0;
                uint32_t j = inner ? (uint32_t)at[k]->feature : 0;
                const lp_rf_node *next = tree[k] + at[k]->left + (x[j] > at[k]->value);
                at[k] = inner ? next : at[k];
                live |= inner;
            }
        }
        for (size_t k = 0; k < LP_RF_LANES; k++)
            sum += at[k]->value;
    }
    for (; t < f->n_trees; t++)
        sum += lp_rf_tree_eval(f->nodes + f->start[t], x);
    return sum;
}

/* Trees outer over blocks of rows, 8 rows in lockstep per tree. Measured on 2,000 conv rows
 * (320 trees of ~2,500 nodes, 9.6 MB), best of 15 on one core: rows outer (every row walks
 * the whole forest out of cache) 14.8k-19.4k rows/s, trees outer one row at a time
 * 26k-32k, this 53k-59k. The sum runs in tree order in double, so a row's prediction does
 * not depend on its batch or lane. */
static void lp_rf_forest_predict(const lp_rf_forest *f, const float *x, size_t n, float *out)
{
    double acc[LP_RF_BLOCK];
    size_t nf = f->n_features;
    for (size_t i0 = 0; i0 < n; i0 += LP_RF_BLOCK) {
        size_t b = n - i0 < LP_RF_BLOCK ? n - i0 : LP_RF_BLOCK;
        const float *xb = x + i0 * nf;
        size_t lanes = b / LP_RF_LANES * LP_RF_LANES;
        for (size_t r = 0; r < lanes; r++)
            acc[r] = 0;
        for (size_t t = 0; t < f->n_trees; t++) {
            const lp_rf_node *tree = f->nodes + f->start[t];
            for (size_t r = 0; r < lanes; r += LP_RF_LANES)
                lp_rf_tree_lanes(tree, xb + r * nf, nf, acc + r);
        }
        for (size_t r = lanes; r < b; r++)
            acc[r] = lp_rf_row_sum(f, xb + r * nf);
        for (size_t r = 0; r < b; r++) {
            double m = acc[r] / (double)f->n_trees;
            out[i0 + r] = (float)(f->log_target ? exp(m) : m);
        }
    }
}

static int lp_rf_predict(void *priv, const float *x, size_t n, float *out, lp_err *err)
{
    lp_rf_pred *p = priv;
    if (!p->forest)
        return lp_err_set(err, LP_EINVAL, "rf: the predictor is untrained: train or load first");
    lp_rf_forest_predict(p->forest, x, n, out);
    return 0;
}

static const char *lp_rf_kernel_type(void *priv)
{
    lp_rf_pred *p = priv;
    return p->forest && p->kernel[0] ? p->kernel : NULL;
}

static size_t lp_rf_n_features(void *priv)
{
    lp_rf_pred *p = priv;
    return p->forest ? p->forest->n_features : 0;
}

/* ---- settings ------------------------------------------------------------------------ */

/* What one training run uses: the options with nn-Meter's values filled in. */
typedef struct lp_rf_params {
    size_t trees, depth, max_features, min_leaf;
    uint64_t seed;
    int bootstrap, log_target;
} lp_rf_params;

static const lp_rf_zoo *lp_rf_zoo_find(const char *kernel, int preset)
{
    for (size_t i = 0; kernel && i < sizeof lp_rf_zoo_table / sizeof *lp_rf_zoo_table; i++)
        if (!strcmp(lp_rf_zoo_table[i].kernel, kernel) && lp_rf_zoo_table[i].trees[preset])
            return &lp_rf_zoo_table[i];
    return NULL;
}

static lp_rf_params lp_rf_resolve(const lp_rf_pred *p, const char *kernel, size_t n_features)
{
    const lp_rf_zoo *z = lp_rf_zoo_find(kernel, p->preset);
    size_t depth = z ? (size_t)z->depth[p->preset] : LP_RF_FALLBACK_DEPTH;
    size_t trees = z ? (size_t)z->trees[p->preset] : LP_RF_FALLBACK_TREES;
    size_t mf = z ? (size_t)z->max_features[p->preset] : n_features;
    lp_rf_params r = {.trees = p->trees ? (size_t)p->trees : trees,
                      .depth = p->depth ? (size_t)p->depth : depth,
                      .max_features = p->max_features ? (size_t)p->max_features : mf,
                      .min_leaf = (size_t)p->min_leaf, .seed = (uint64_t)p->seed,
                      .bootstrap = p->bootstrap, .log_target = p->target == 1};
    if (r.max_features > n_features)
        r.max_features = n_features;
    return r;
}

static void lp_rf_set_info(lp_rf_pred *p, const lp_rf_params *r)
{
    snprintf(p->info, sizeof p->info,
             "trees=%zu,depth=%zu,max_features=%zu,min_leaf=%zu,seed=%llu,bootstrap=%d,"
             "target=%s,preset=%s",
             r->trees, r->depth, r->max_features, r->min_leaf, (unsigned long long)r->seed,
             r->bootstrap, lp_rf_targets[r->log_target], lp_rf_presets[p->preset]);
}

/* ---- data checks --------------------------------------------------------------------- */

static int lp_rf_check_set(const char *what, const lp_dataset *d, lp_err *err)
{
    if (!d->x || !d->y || d->n == 0)
        return lp_err_set(err, LP_EINVAL, "rf: the %s set is empty", what);
    if (d->n > LP_RF_MAX_ROWS)
        return lp_err_set(err, LP_EINVAL, "rf: the %s set has %zu rows (at most %u)", what, d->n,
                          (unsigned)LP_RF_MAX_ROWS);
    if (d->n_features < 1 || d->n_features > LP_RF_MAX_FEATURES)
        return lp_err_set(err, LP_EINVAL, "rf: the %s set has %zu features (valid: 1..%d)", what,
                          d->n_features, LP_RF_MAX_FEATURES);
    if (d->kernel_type && strlen(d->kernel_type) > LP_RF_NAME_MAX)
        return lp_err_set(err, LP_EINVAL, "rf: kernel type name longer than %d bytes",
                          LP_RF_NAME_MAX);
    int rc = lp_nn_check_data(d->x, d->y, d->n, d->n_features, LP_NN_MSE, err);
    if (rc)
        return lp_err_prefix(err, "rf: %s set: ", what);
    for (size_t i = 0; i < d->n; i++)
        if (!(d->y[i] > 0))
            return lp_err_set(err, LP_EINVAL, "rf: %s set: row %zu: latency %g is not > 0", what,
                              i, (double)d->y[i]);
    return 0;
}

static int lp_rf_check_sets(const lp_dataset *train, const lp_dataset *val, lp_err *err)
{
    int rc = lp_rf_check_set("training", train, err);
    if (rc || (val && (rc = lp_rf_check_set("validation", val, err))))
        return rc;
    if (val && val->n_features != train->n_features)
        return lp_err_set(err, LP_EINVAL, "rf: validation rows have %zu features, training rows %zu",
                          val->n_features, train->n_features);
    return 0;
}

/* ---- growing one tree ---------------------------------------------------------------- */

/* A node waiting to be grown: its index and its rows [lo, hi) of every feature order. */
typedef struct lp_rf_todo {
    uint32_t node, lo, hi, depth;
} lp_rf_todo;

/* Buffers for growing the trees of one forest, allocated once. */
typedef struct lp_rf_ws {
    size_t n, nf;
    float *xt;           /* [nf x n] features, column by column */
    double *y;           /* [n] targets (log latency with the log target) */
    uint32_t *sorted;    /* [nf x n] every row, sorted by each feature (once per forest) */
    uint32_t *order;     /* [nf x n] the tree's bootstrap rows, sorted by each feature */
    uint32_t *tmp;       /* [n] partition scratch */
    uint32_t *w;         /* [n] bootstrap count of each row (0: out of bag) */
    unsigned char *goes_left; /* [n] marks of the split being applied */
    uint32_t *feats;     /* [nf] features in draw order */
    lp_rf_todo *todo;    /* [n + 2] the explicit stack */
    lp_rf_node *nodes;   /* [2n] the tree being grown */
    size_t n_nodes;
} lp_rf_ws;

static void lp_rf_ws_free(lp_rf_ws *ws)
{
    free(ws->xt);
    free(ws->y);
    free(ws->sorted);
    free(ws->order);
    free(ws->tmp);
    free(ws->w);
    free(ws->goes_left);
    free(ws->feats);
    free(ws->todo);
    free(ws->nodes);
}

typedef struct lp_rf_keyed {
    float x;
    uint32_t row;
} lp_rf_keyed;

static int lp_rf_cmp_keyed(const void *a, const void *b)
{
    const lp_rf_keyed *p = a, *q = b;
    if (p->x != q->x)
        return p->x < q->x ? -1 : 1;
    return (p->row > q->row) - (p->row < q->row); /* a total order: runs repeat */
}

/* Sorts every feature's rows once per forest (the trees only filter these orders). */
static int lp_rf_presort(lp_rf_ws *ws, lp_err *err)
{
    size_t n = ws->n;
    lp_rf_keyed *k = malloc(n * sizeof *k);
    if (!k)
        return lp_err_set(err, LP_ENOMEM, "rf: out of memory for sorting %zu rows", n);
    for (size_t j = 0; j < ws->nf; j++) {
        for (size_t i = 0; i < n; i++)
            k[i] = (lp_rf_keyed){.x = ws->xt[j * n + i], .row = (uint32_t)i};
        qsort(k, n, sizeof *k, lp_rf_cmp_keyed);
        for (size_t i = 0; i < n; i++)
            ws->sorted[j * n + i] = k[i].row;
    }
    free(k);
    return 0;
}

static int lp_rf_ws_init(lp_rf_ws *ws, const lp_dataset *d, int log_target, lp_err *err)
{
    size_t n = d->n, nf = d->n_features;
    *ws = (lp_rf_ws){.n = n, .nf = nf};
    ws->xt = malloc(nf * n * sizeof *ws->xt);
    ws->y = malloc(n * sizeof *ws->y);
    ws->sorted = malloc(nf * n * sizeof *ws->sorted);
    ws->order = malloc(nf * n * sizeof *ws->order);
    ws->tmp = malloc(n * sizeof *ws->tmp);
    ws->w = malloc(n * sizeof *ws->w);
    ws->goes_left = malloc(n);
    ws->feats = malloc(nf * sizeof *ws->feats);
    ws->todo = malloc((n + 2) * sizeof *ws->todo);
    ws->nodes = malloc(2 * n * sizeof *ws->nodes);
    if (!ws->xt || !ws->y || !ws->sorted || !ws->order || !ws->tmp || !ws->w ||
        !ws->goes_left || !ws->feats || !ws->todo || !ws->nodes)
        return lp_err_set(err, LP_ENOMEM, "rf: out of memory for %zu rows x %zu features", n, nf);
    for (size_t i = 0; i < n; i++) {
        ws->y[i] = log_target ? log((double)d->y[i]) : (double)d->y[i];
        for (size_t j = 0; j < nf; j++)
            ws->xt[j * n + i] = d->x[i * nf + j];
    }
    return lp_rf_presort(ws, err);
}

/* Draws the bootstrap counts (n rows with replacement, as scikit-learn) and filters every
 * feature's sorted rows to the drawn ones; returns how many distinct rows were drawn. */
static size_t lp_rf_sample(lp_rf_ws *ws, lp_rng *rng, int bootstrap)
{
    size_t n = ws->n, m = 0;
    for (size_t i = 0; i < n; i++)
        ws->w[i] = bootstrap ? 0 : 1;
    for (size_t i = 0; bootstrap && i < n; i++)
        ws->w[lp_rng_below(rng, n)]++;
    for (size_t j = 0; j < ws->nf; j++) {
        const uint32_t *s = ws->sorted + j * n;
        uint32_t *o = ws->order + j * n;
        m = 0;
        for (size_t i = 0; i < n; i++)
            if (ws->w[s[i]])
                o[m++] = s[i];
    }
    return m;
}

typedef struct lp_rf_split {
    double proxy;  /* sum_l^2 / w_l + sum_r^2 / w_r: larger is a lower squared error */
    uint32_t feature, pos; /* rows order[feature][lo..pos] go left */
} lp_rf_split;

/* scikit-learn's FEATURE_THRESHOLD: values closer than this count as equal, so no split
 * falls between them and a feature whose node range is narrower is constant. */
#define LP_RF_FEATURE_EPS 1e-7

static int lp_rf_same(float a, float b)
{
    return (double)b <= (double)a + LP_RF_FEATURE_EPS;
}

/* Scans feature j's rows [lo, hi) for its best split; returns 0 when the feature is
 * constant there. */
static int lp_rf_scan(const lp_rf_ws *ws, size_t j, size_t lo, size_t hi, double wsum,
                      double ysum, size_t min_leaf, lp_rf_split *best)
{
    const uint32_t *o = ws->order + j * ws->n;
    const float *x = ws->xt + j * ws->n;
    if (lp_rf_same(x[o[lo]], x[o[hi - 1]]))
        return 0;
    double wl = 0, sl = 0;
    for (size_t i = lo; i + 1 < hi; i++) {
        uint32_t r = o[i];
        wl += ws->w[r];
        sl += ws->w[r] * ws->y[r];
        size_t nl = i + 1 - lo;
        if (nl < min_leaf || lp_rf_same(x[r], x[o[i + 1]]))
            continue;
        if (hi - lo - nl < min_leaf)
            break;
        double wr = wsum - wl, sr = ysum - sl;
        double proxy = sl * sl / wl + sr * sr / wr;
        if (proxy > best->proxy)
            *best = (lp_rf_split){.proxy = proxy, .feature = (uint32_t)j, .pos = (uint32_t)i};
    }
    return 1;
}

/* The best split of rows [lo, hi) over randomly drawn features, as scikit-learn's
 * BestSplitter draws them: without replacement, max_features of them, constant ones
 * included, but on past max_features until one that is not constant. */
static int lp_rf_best_split(lp_rf_ws *ws, lp_rng *rng, const lp_rf_params *pr, size_t lo,
                            size_t hi, double wsum, double ysum, lp_rf_split *best)
{
    size_t nf = ws->nf, usable = 0;
    *best = (lp_rf_split){.proxy = -1};
    for (size_t j = 0; j < nf; j++)
        ws->feats[j] = (uint32_t)j;
    for (size_t k = 0; k < nf && (k < pr->max_features || usable == 0); k++) {
        size_t pick = k + (size_t)lp_rng_below(rng, nf - k);
        uint32_t j = ws->feats[pick];
        ws->feats[pick] = ws->feats[k];
        ws->feats[k] = j;
        usable += (size_t)lp_rf_scan(ws, j, lo, hi, wsum, ysum, pr->min_leaf, best);
    }
    return best->proxy >= 0;
}

/* The threshold halfway between the two values, as scikit-learn, rounded down to a float
 * so `x > threshold` decides exactly as scikit-learn's double threshold does; the lower
 * value when the midpoint rounds to the upper one. */
static float lp_rf_threshold(float a, float b)
{
    double mid = (double)a / 2.0 + (double)b / 2.0;
    float t = (float)mid;
    if ((double)t > mid)
        t = nextafterf(t, -INFINITY);
    return t >= b ? a : t;
}

/* Moves rows [lo, hi) of every feature order but the split's into left rows then right
 * rows, keeping each side sorted. */
static void lp_rf_partition(lp_rf_ws *ws, const lp_rf_split *s, size_t lo, size_t hi)
{
    size_t n = ws->n;
    const uint32_t *so = ws->order + (size_t)s->feature * n;
    for (size_t i = lo; i < hi; i++)
        ws->goes_left[so[i]] = i <= s->pos;
    for (size_t j = 0; j < ws->nf; j++) {
        if (j == s->feature)
            continue;
        uint32_t *o = ws->order + j * n;
        size_t l = lo, r = 0;
        for (size_t i = lo; i < hi; i++) {
            if (ws->goes_left[o[i]])
                o[l++] = o[i];
            else
                ws->tmp[r++] = o[i];
        }
        memcpy(o + l, ws->tmp, r * sizeof *o);
    }
}

/* Weighted sums of rows [lo, hi), and whether their targets leave nothing to split: all
 * equal, or a weighted variance within scikit-learn's EPSILON (its leaf test). */
static void lp_rf_node_stats(const lp_rf_ws *ws, size_t lo, size_t hi, double *wsum,
                             double *ysum, int *pure)
{
    const uint32_t *o = ws->order;
    double w = 0, s = 0, sq = 0, y0 = ws->y[o[lo]];
    int same = 1;
    for (size_t i = lo; i < hi; i++) {
        uint32_t r = o[i];
        double wy = ws->w[r] * ws->y[r];
        w += ws->w[r];
        s += wy;
        sq += wy * ws->y[r];
        same &= ws->y[r] == y0;
    }
    *wsum = w;
    *ysum = s;
    *pure = same || sq / w - (s / w) * (s / w) <= DBL_EPSILON;
}

/* Grows one tree on the m drawn rows into ws->nodes, depth-first from an explicit stack. */
static void lp_rf_grow(lp_rf_ws *ws, lp_rng *rng, const lp_rf_params *pr, size_t m)
{
    size_t top = 0;
    ws->n_nodes = 1;
    ws->todo[top++] = (lp_rf_todo){.node = 0, .lo = 0, .hi = (uint32_t)m, .depth = 0};
    while (top) {
        lp_rf_todo t = ws->todo[--top];
        size_t rows = t.hi - t.lo;
        double wsum, ysum;
        int pure;
        lp_rf_split s;
        lp_rf_node *nd = ws->nodes + t.node;
        lp_rf_node_stats(ws, t.lo, t.hi, &wsum, &ysum, &pure);
        int leaf = rows < 2 || rows < 2 * pr->min_leaf || t.depth >= pr->depth || pure ||
                   !lp_rf_best_split(ws, rng, pr, t.lo, t.hi, wsum, ysum, &s);
        if (leaf) {
            *nd = (lp_rf_node){.feature = -1, .value = (float)(ysum / wsum), .left = 0};
            continue;
        }
        const uint32_t *so = ws->order + (size_t)s.feature * ws->n;
        const float *x = ws->xt + (size_t)s.feature * ws->n;
        uint32_t left = (uint32_t)ws->n_nodes;
        *nd = (lp_rf_node){.feature = (int32_t)s.feature,
                           .value = lp_rf_threshold(x[so[s.pos]], x[so[s.pos + 1]]),
                           .left = left};
        ws->n_nodes += 2;
        lp_rf_partition(ws, &s, t.lo, t.hi);
        /* Right pushed first so the left subtree is grown (and laid out) first. */
        ws->todo[top++] = (lp_rf_todo){left + 1, s.pos + 1, t.hi, t.depth + 1};
        ws->todo[top++] = (lp_rf_todo){left, t.lo, s.pos + 1, t.depth + 1};
    }
}

/* ---- growing the forest -------------------------------------------------------------- */

/* Running sums of the per-tree predictions of rows a tree did not see (OOB) and of the
 * validation rows; they turn into the report's OOB and validation errors. */
typedef struct lp_rf_acc {
    double *oob_sum;
    uint32_t *oob_n;
    double *val_sum;
    float *pred;
} lp_rf_acc;

static void lp_rf_acc_free(lp_rf_acc *a)
{
    free(a->oob_sum);
    free(a->oob_n);
    free(a->val_sum);
    free(a->pred);
}

static int lp_rf_acc_init(lp_rf_acc *a, size_t n, size_t vn, lp_err *err)
{
    size_t most = n > vn ? n : vn;
    a->oob_sum = calloc(n, sizeof *a->oob_sum);
    a->oob_n = calloc(n, sizeof *a->oob_n);
    a->val_sum = calloc(vn ? vn : 1, sizeof *a->val_sum);
    a->pred = malloc(most * sizeof *a->pred);
    if (!a->oob_sum || !a->oob_n || !a->val_sum || !a->pred)
        return lp_err_set(err, LP_ENOMEM, "rf: out of memory for %zu out-of-bag sums", n);
    return 0;
}

static double lp_rf_untransform(double m, int log_target)
{
    return log_target ? exp(m) : m;
}

/* Adds the new tree's predictions of its out-of-bag rows and of the validation rows. */
static void lp_rf_accumulate(const lp_rf_ws *ws, const lp_rf_node *tree, const lp_dataset *train,
                             const lp_dataset *val, lp_rf_acc *a)
{
    size_t nf = ws->nf;
    for (size_t i = 0; i < ws->n; i++)
        if (ws->w[i] == 0) {
            a->oob_sum[i] += lp_rf_tree_eval(tree, train->x + i * nf);
            a->oob_n[i]++;
        }
    for (size_t i = 0; val && i < val->n; i++)
        a->val_sum[i] += lp_rf_tree_eval(tree, val->x + i * nf);
}

/* Squared error (ms^2) of the OOB predictions so far, NAN when no row has one. */
static double lp_rf_oob_mse(const lp_rf_acc *a, const lp_dataset *train, int log_target)
{
    double se = 0;
    size_t k = 0;
    for (size_t i = 0; i < train->n; i++)
        if (a->oob_n[i]) {
            double e = lp_rf_untransform(a->oob_sum[i] / a->oob_n[i], log_target) - train->y[i];
            se += e * e;
            k++;
        }
    return k ? se / (double)k : NAN;
}

static double lp_rf_val_mape(const lp_rf_acc *a, const lp_dataset *val, size_t trees,
                             int log_target)
{
    if (!val)
        return NAN;
    double s = 0;
    for (size_t i = 0; i < val->n; i++)
        s += fabs(lp_rf_untransform(a->val_sum[i] / (double)trees, log_target) - val->y[i]) /
             val->y[i];
    return s / (double)val->n;
}

/* Appends the tree in ws to the forest. */
static int lp_rf_append(lp_rf_forest *f, const lp_rf_ws *ws, size_t *cap, lp_err *err)
{
    size_t need = f->n_nodes + ws->n_nodes;
    if (need > *cap) {
        size_t c = *cap ? *cap : 1024;
        while (c < need)
            c *= 2;
        lp_rf_node *nodes = realloc(f->nodes, c * sizeof *nodes);
        if (!nodes)
            return lp_err_set(err, LP_ENOMEM, "rf: out of memory for %zu tree nodes", c);
        f->nodes = nodes;
        *cap = c;
    }
    memcpy(f->nodes + f->n_nodes, ws->nodes, ws->n_nodes * sizeof *ws->nodes);
    f->n_nodes = need;
    f->start[++f->n_trees] = need;
    return 0;
}

/* Each tree has its own stream seeded from (seed, tree), so tree t does not depend on how
 * the others were drawn (and trees could be grown in parallel with the same result). */
static void lp_rf_tree_rng(lp_rng *rng, uint64_t seed, size_t t)
{
    uint64_t s = seed ^ 0x9e3779b97f4a7c15ull * (uint64_t)(t + 1);
    lp_rng_seed(rng, lp_splitmix64(&s));
}

static int lp_rf_grow_forest(const lp_rf_params *pr, const lp_dataset *train,
                             const lp_dataset *val, const lp_train_ctl *ctl, lp_rf_forest *f,
                             lp_rf_acc *a, lp_err *err)
{
    lp_rf_ws ws;
    size_t cap = 0;
    int rc = lp_rf_ws_init(&ws, train, pr->log_target, err);
    for (size_t t = 0; rc == 0 && t < pr->trees; t++) {
        lp_rng rng;
        lp_rf_tree_rng(&rng, pr->seed, t);
        size_t m = lp_rf_sample(&ws, &rng, pr->bootstrap);
        lp_rf_grow(&ws, &rng, pr, m);
        if ((rc = lp_rf_append(f, &ws, &cap, err)))
            break;
        lp_rf_accumulate(&ws, f->nodes + f->start[t], train, val, a);
        if (ctl && ctl->progress &&
            ctl->progress(ctl->ctx, (int64_t)t + 1, (int64_t)pr->trees,
                          lp_rf_oob_mse(a, train, pr->log_target),
                          lp_rf_val_mape(a, val, t + 1, pr->log_target)))
            rc = lp_err_set(err, LP_EINTERRUPTED, "rf: training stopped after tree %zu of %zu",
                            t + 1, pr->trees);
    }
    lp_rf_ws_free(&ws);
    return rc;
}

/* ---- the training report ------------------------------------------------------------- */

static double lp_rf_mape(const float *pred, const float *y, size_t n)
{
    double s = 0;
    for (size_t i = 0; i < n; i++)
        s += fabs((double)pred[i] - y[i]) / y[i];
    return s / (double)n;
}

static double lp_rf_mse(const float *pred, const float *y, size_t n)
{
    double s = 0;
    for (size_t i = 0; i < n; i++)
        s += ((double)pred[i] - y[i]) * ((double)pred[i] - y[i]);
    return s / (double)n;
}

/* OOB MAPE, RMSE and R^2 (scikit-learn's oob_score_) over the rows some tree left out. */
static void lp_rf_report_oob(const lp_rf_acc *a, const lp_dataset *train, int log_target,
                             lp_train_report *r)
{
    double mean = 0, ape = 0, se = 0, ss = 0;
    size_t k = 0;
    for (size_t i = 0; i < train->n; i++)
        if (a->oob_n[i]) {
            mean += train->y[i];
            k++;
        }
    r->oob_rows = (int64_t)k;
    r->oob_mape = r->oob_rmse = r->oob_r2 = NAN;
    if (!k)
        return;
    mean /= (double)k;
    for (size_t i = 0; i < train->n; i++)
        if (a->oob_n[i]) {
            double y = train->y[i];
            double e = lp_rf_untransform(a->oob_sum[i] / a->oob_n[i], log_target) - y;
            ape += fabs(e) / y;
            se += e * e;
            ss += (y - mean) * (y - mean);
        }
    r->oob_mape = ape / (double)k;
    r->oob_rmse = sqrt(se / (double)k);
    r->oob_r2 = ss > 0 ? 1 - se / ss : NAN;
}

static void lp_rf_report(const lp_rf_forest *f, const lp_dataset *train, const lp_dataset *val,
                         lp_rf_acc *a, lp_train_report *r)
{
    lp_rf_forest first = *f;
    first.n_trees = 1;
    lp_rf_forest_predict(&first, train->x, train->n, a->pred);
    r->first_loss = lp_rf_mse(a->pred, train->y, train->n);
    lp_rf_forest_predict(f, train->x, train->n, a->pred);
    r->final_loss = lp_rf_mse(a->pred, train->y, train->n);
    r->train_mape = lp_rf_mape(a->pred, train->y, train->n);
    if (val) {
        lp_rf_forest_predict(f, val->x, val->n, a->pred);
        r->val_mape = lp_rf_mape(a->pred, val->y, val->n);
    }
    r->epochs = (int64_t)f->n_trees;
    lp_rf_report_oob(a, train, f->log_target, r);
}

/* ---- training ------------------------------------------------------------------------ */

static int lp_rf_forest_new(lp_rf_forest **out, const lp_rf_params *pr, size_t nf, lp_err *err)
{
    lp_rf_forest *f = calloc(1, sizeof *f);
    if (f)
        f->start = calloc(pr->trees + 1, sizeof *f->start);
    if (!f || !f->start) {
        lp_rf_forest_free(f);
        return lp_err_set(err, LP_ENOMEM, "rf: out of memory for %zu trees", pr->trees);
    }
    f->n_features = nf;
    f->log_target = pr->log_target;
    *out = f;
    return 0;
}

/* A new forest; it replaces the held model only when training succeeds. */
static int lp_rf_fit(lp_rf_pred *p, const lp_dataset *train, const lp_dataset *val,
                     const lp_train_ctl *ctl, lp_train_report *r, lp_err *err)
{
    lp_rf_params pr = lp_rf_resolve(p, train->kernel_type, train->n_features);
    lp_rf_forest *f = NULL;
    lp_rf_acc a = {0};
    int rc = lp_rf_forest_new(&f, &pr, train->n_features, err);
    if (rc || (rc = lp_rf_acc_init(&a, train->n, val ? val->n : 0, err)) ||
        (rc = lp_rf_grow_forest(&pr, train, val, ctl, f, &a, err)))
        goto fail;
    lp_rf_report(f, train, val, &a, r);
    lp_rf_drop_model(p);
    p->forest = f;
    f = NULL;
    snprintf(p->kernel, sizeof p->kernel, "%s", train->kernel_type ? train->kernel_type : "");
    lp_rf_set_info(p, &pr);
fail:
    lp_rf_forest_free(f);
    lp_rf_acc_free(&a);
    return rc;
}

static int lp_rf_train(void *priv, const lp_dataset *train, const lp_dataset *val,
                       const lp_train_ctl *ctl, lp_train_report *report, lp_err *err)
{
    lp_rf_pred *p = priv;
    uint64_t t0 = lp_rf_now_ns();
    lp_train_report r = {.val_mape = NAN, .train_mape = NAN, .oob_mape = NAN,
                         .oob_rmse = NAN, .oob_r2 = NAN};
    int rc;
    if (ctl && ctl->finetune)
        rc = lp_err_set(err, LP_EUNSUPPORTED,
                        "rf: a random forest cannot be fine-tuned; train from scratch");
    else if ((rc = lp_rf_check_sets(train, val, err)) == 0)
        rc = lp_rf_fit(p, train, val, ctl, &r, err);
    r.seconds = (double)(lp_rf_now_ns() - t0) * 1e-9;
    if (report)
        *report = r;
    return rc;
}

/* ---- the file ------------------------------------------------------------------------ */

static size_t lp_rf_file_size(const lp_rf_pred *p)
{
    const lp_rf_forest *f = p->forest;
    return LP_RF_HEADER + 2 + strlen(p->kernel) + 2 + strlen(p->info) + 4 + 4 + 4 +
           4 * f->n_trees + LP_RF_NODE_BYTES * f->n_nodes + 4;
}

static void lp_rf_encode(const lp_rf_pred *p, lp_nn_wr *w)
{
    const lp_rf_forest *f = p->forest;
    lp_nn_wr_head(w, lp_rf_magic, sizeof lp_rf_magic, LP_RF_VERSION, 0);
    lp_nn_wr_text(w, p->kernel);
    lp_nn_wr_text(w, p->info);
    lp_nn_wr_u32(w, (uint32_t)f->n_features);
    lp_nn_wr_u32(w, (uint32_t)f->log_target);
    lp_nn_wr_u32(w, (uint32_t)f->n_trees);
    for (size_t t = 0; t < f->n_trees; t++)
        lp_nn_wr_u32(w, (uint32_t)(f->start[t + 1] - f->start[t]));
    for (size_t i = 0; i < f->n_nodes; i++) {
        lp_nn_wr_u32(w, (uint32_t)f->nodes[i].feature);
        lp_nn_wr_f32(w, f->nodes[i].value);
        lp_nn_wr_u32(w, f->nodes[i].left);
    }
}

static int lp_rf_save(void *priv, const char *path, lp_err *err)
{
    lp_rf_pred *p = priv;
    if (!p->forest)
        return lp_err_set(err, LP_EINVAL, "rf: %s: nothing to save: the predictor is untrained",
                          path);
    lp_nn_wr w;
    if (lp_nn_wr_open(&w, lp_rf_file_size(p), path, err))
        return lp_err_prefix(err, "rf: ");
    lp_rf_encode(p, &w);
    return lp_nn_wr_commit(&w, path, err);
}

/* Magic, version, size and checksum, before any field is trusted. */
static int lp_rf_check_envelope(const unsigned char *buf, size_t n, const char *path,
                                lp_err *err)
{
    return lp_nn_file_check(buf, n, lp_rf_magic, sizeof lp_rf_magic, LP_RF_HEADER, LP_RF_VERSION,
                            "rf predictor", path, err);
}

/* Every node of a tree in bounds, and every child after its parent, so prediction can
 * neither read outside the tree nor loop. */
static int lp_rf_tree_ok(const lp_rf_node *tree, size_t count, size_t nf)
{
    for (size_t i = 0; i < count; i++) {
        const lp_rf_node *nd = tree + i;
        if (!isfinite(nd->value))
            return 0;
        if (nd->feature < 0 ? nd->feature != -1 || nd->left != 0
                            : (size_t)nd->feature >= nf || nd->left <= i ||
                                  (size_t)nd->left + 1 >= count)
            return 0;
    }
    return 1;
}

/* Tree sizes: *f gets the offsets, checked against what the rest of the file holds. */
static int lp_rf_decode_sizes(lp_nn_rd *r, const char *path, lp_rf_forest *f, lp_err *err)
{
    uint32_t trees = (uint32_t)lp_nn_rd_uint(r, 4);
    if (r->bad || trees < 1 || trees > LP_RF_MAX_TREES)
        return lp_err_set(err, LP_ECORRUPT, "%s: %u trees (valid: 1..%d)", path, trees,
                          LP_RF_MAX_TREES);
    if (!(f->start = calloc((size_t)trees + 1, sizeof *f->start)))
        return lp_err_set(err, LP_ENOMEM, "%s: out of memory for %u trees", path, trees);
    f->n_trees = trees;
    for (size_t t = 0; t < trees; t++) {
        uint32_t c = (uint32_t)lp_nn_rd_uint(r, 4);
        if (c < 1 || c > LP_RF_MAX_ROWS * 2u)
            r->bad = 1;
        f->start[t + 1] = f->start[t] + c;
    }
    f->n_nodes = f->start[trees];
    if (r->bad || f->n_nodes * LP_RF_NODE_BYTES != r->n - r->off)
        return lp_err_set(err, LP_ECORRUPT, "%s: the fields do not fill the file exactly", path);
    return 0;
}

static int lp_rf_decode_forest(lp_nn_rd *r, const char *path, lp_rf_forest *f, lp_err *err)
{
    uint32_t nf = (uint32_t)lp_nn_rd_uint(r, 4), target = (uint32_t)lp_nn_rd_uint(r, 4);
    if (r->bad || nf < 1 || nf > LP_RF_MAX_FEATURES || target > 1)
        return lp_err_set(err, LP_ECORRUPT, "%s: %u features, target %u (valid: 1..%d, 0 or 1)",
                          path, nf, target, LP_RF_MAX_FEATURES);
    f->n_features = nf;
    f->log_target = (int)target;
    int rc = lp_rf_decode_sizes(r, path, f, err);
    if (rc)
        return rc;
    if (!(f->nodes = malloc(f->n_nodes * sizeof *f->nodes)))
        return lp_err_set(err, LP_ENOMEM, "%s: out of memory for %zu tree nodes", path,
                          f->n_nodes);
    for (size_t i = 0; i < f->n_nodes; i++) {
        f->nodes[i].feature = (int32_t)(uint32_t)lp_nn_rd_uint(r, 4);
        f->nodes[i].value = lp_nn_rd_f32(r);
        f->nodes[i].left = (uint32_t)lp_nn_rd_uint(r, 4);
    }
    for (size_t t = 0; t < f->n_trees; t++)
        if (!lp_rf_tree_ok(f->nodes + f->start[t], f->start[t + 1] - f->start[t], nf))
            return lp_err_set(err, LP_ECORRUPT, "%s: tree %zu has a malformed node", path, t);
    if (r->bad || r->off != r->n)
        return lp_err_set(err, LP_ECORRUPT, "%s: the fields do not fill the file exactly", path);
    return 0;
}

/* Everything after the envelope, into a fresh forest (the held model is untouched). */
static int lp_rf_decode(lp_nn_rd *r, const char *path, lp_rf_forest **out, char *kernel, char *info,
                        lp_err *err)
{
    r->off = LP_RF_HEADER;
    r->n -= 4; /* the checksum */
    if (lp_nn_rd_text(r, kernel, LP_RF_NAME_MAX + 1) || lp_nn_rd_text(r, info, LP_RF_INFO_MAX))
        return lp_err_set(err, LP_ECORRUPT, "%s: bad kernel type or info text", path);
    lp_rf_forest *f = calloc(1, sizeof *f);
    if (!f)
        return lp_err_set(err, LP_ENOMEM, "%s: out of memory", path);
    int rc = lp_rf_decode_forest(r, path, f, err);
    if (rc)
        lp_rf_forest_free(f);
    else
        *out = f;
    return rc;
}

static int lp_rf_load(void *priv, const char *path, lp_err *err)
{
    lp_rf_pred *p = priv;
    unsigned char *buf = NULL;
    size_t n = 0;
    lp_rf_forest *f = NULL;
    char kernel[LP_RF_NAME_MAX + 1], info[LP_RF_INFO_MAX];
    int rc = lp_nn_read_file(path, &buf, &n, err);
    if (rc || (rc = lp_rf_check_envelope(buf, n, path, err)))
        goto fail;
    lp_nn_rd r = {.p = buf, .n = n};
    if ((rc = lp_rf_decode(&r, path, &f, kernel, info, err)))
        goto fail;
    lp_rf_drop_model(p);
    p->forest = f;
    memcpy(p->kernel, kernel, sizeof kernel);
    memcpy(p->info, info, sizeof info);
fail:
    free(buf);
    return rc;
}

/* ---- descriptor --------------------------------------------------------------------- */

static const lp_predictor_ops lp_rf_ops = {
    .size = sizeof(lp_predictor_ops),
    .train = lp_rf_train,
    .predict = lp_rf_predict,
    .save = lp_rf_save,
    .load = lp_rf_load,
    .kernel_type = lp_rf_kernel_type,
    .n_features = lp_rf_n_features,
};

static const lp_plugin_desc lp_rf_desc = {
    LP_PLUGIN_ABI,
    .kind = LP_KIND_PREDICTOR,
    .name = "rf",
    .summary = "nn-Meter's random forest of CART regression trees (bootstrap, out-of-bag error)",
    .options = lp_rf_options,
    .priv_size = sizeof(lp_rf_pred),
    .ops = &lp_rf_ops,
    .init = lp_rf_init,
    .fini = lp_rf_fini,
};

LP_PLUGIN_DEFINE(lp_rf_desc)
