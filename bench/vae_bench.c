/* How well the vae sampler learns a kernel type's config distribution (bench/vae.sh runs it).
 *
 * For each kernel type: the prior (configs of `--models` models per NAS space, frequency-
 * weighted) is split by distinct config into train (1 - test_share) and test; the VAE is
 * trained on train only (through the plugin, as a pipeline would) and generates `--samples`
 * configs. Printed per pair of range dims: 2-D histogram KL (lp_kl2d, cells keyed also by
 * the explicit-set dims k and s, as LitePred's check splits by (k, s)) of
 *   KL(test || VAE)        the VAE against configs it never saw;
 *   KL(test || train)      the training configs themselves (what the prior sampler draws);
 *   KL(test || random)     the random sampler within the prior's bounds (a floor to beat);
 *   KL(half A || half B)   two random halves of all the real configs (LitePred's yardstick).
 * Then the same four with LitePred's own check (a port of calc_divergence in its
 * vae/utils.py: coarse (hw, cin) grids per (k, s), box-smoothed; the sets normalised here),
 * setup seconds (training, or loading when the cache has the VAE) and the training record
 * the plugin stored in its cache file. */
#include <litepred/litepred.h>
#include <litepred/sampler.h>

#include <glob.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench_args.h"

#define MAX_KERNELS 16

typedef struct bench_opts {
    const char *kernels[MAX_KERNELS];
    size_t n_kernels;
    size_t models, samples;
    double test_share;
    uint64_t seed;
    char options[2048];  /* vae options, k=v,...: every --options joined */
    const char *cache;   /* the cache option's directory, for reading the training record */
    const char *dump;    /* directory for CSVs of the test, train and generated sets, or NULL */
    double bins;
} bench_opts;

/* A weighted config set. */
typedef struct cset {
    lp_kcfg *c;
    double *w;
    size_t n;
} cset;

static void cset_free(cset *s)
{
    free(s->c);
    free(s->w);
    memset(s, 0, sizeof *s);
}

static int cset_alloc(cset *s, size_t cap)
{
    s->c = malloc((cap ? cap : 1) * sizeof *s->c);
    s->w = malloc((cap ? cap : 1) * sizeof *s->w);
    s->n = 0;
    return s->c && s->w ? 0 : -1;
}

static void cset_add(cset *s, const lp_kcfg *c, double w)
{
    s->c[s->n] = *c;
    s->w[s->n++] = w;
}

static double uniform(lp_rng *rng)
{
    return (double)(lp_rng_next(rng) >> 11) * 0x1p-53;
}

/* Each distinct config goes to `a` with probability share, else to `b`. */
static int split(const lp_prior *p, double share, uint64_t seed, cset *a, cset *b)
{
    lp_rng rng;
    lp_rng_seed(&rng, seed);
    if (cset_alloc(a, p->n) || cset_alloc(b, p->n))
        return -1;
    for (size_t i = 0; i < p->n; i++)
        cset_add(uniform(&rng) < share ? a : b, &p->cfgs[i], p->weights[i]);
    return a->n && b->n ? 0 : -1;
}

static const lp_kernel_ops *kernel_ops(lp_registry *reg, const char *name)
{
    const lp_plugin *p = lp_registry_find(reg, LP_KIND_KERNEL, name);
    return p ? lp_plugin_descriptor(p)->ops : NULL;
}

/* n configs of `sampler` (options kv) set up on the weighted set `prior`; *secs: setup's time. */
static int draw(lp_registry *reg, const char *sampler, const char *kv, const char *kernel,
                const cset *prior, uint64_t seed, size_t n, cset *out, double *secs, lp_err *err)
{
    const lp_kernel_ops *k = kernel_ops(reg, kernel);
    lp_instance *inst = NULL;
    lp_sampler_ctx ctx;
    lp_prior pr = {.cfgs = prior->c, .weights = prior->w, .n = prior->n, .total = 1};
    int rc = lp_instance_create_kv(lp_registry_find(reg, LP_KIND_SAMPLER, sampler), kv, &inst, err);
    if (rc)
        return rc;
    lp_sampler_ctx_init(&ctx, kernel, k, seed, &pr);
    uint64_t t0 = lp_now_ns();
    rc = lp_sampler_setup(inst, &ctx, err);
    *secs = (double)(lp_now_ns() - t0) * 1e-9;
    if (rc == 0 && cset_alloc(out, n))
        rc = lp_err_set(err, LP_ENOMEM, "out of memory");
    if (rc == 0 && (rc = lp_sampler_sample(inst, k, n, out->c, err)) == 0) {
        out->n = n;
        for (size_t i = 0; i < n; i++)
            out->w[i] = 1.0;
    }
    lp_instance_destroy(inst);
    return rc;
}

static double kl(const cset *p, const cset *q, size_t dx, size_t dy, const lp_kl2d_opts *o)
{
    double v;
    lp_err err = {0};
    if (lp_kl2d(p->c, p->w, p->n, q->c, q->w, q->n, dx, dy, o, &v, &err)) {
        fprintf(stderr, "vae_bench: %s\n", err.msg);
        exit(1);
    }
    return v;
}

/* The info text the plugin stored in the newest cache file of this kernel type. */
static void print_record(const char *cache, const char *kernel)
{
    char pattern[4096];
    glob_t g;
    snprintf(pattern, sizeof pattern, "%s/%s-*.vae", cache, kernel);
    if (!cache || glob(pattern, 0, NULL, &g) != 0)
        return;
    for (size_t i = 0; i < g.gl_pathc; i++) {
        unsigned char head[34 + 1024];
        FILE *f = fopen(g.gl_pathv[i], "rb");
        size_t got = f ? fread(head, 1, sizeof head, f) : 0;
        if (f)
            fclose(f);
        if (got < 34)
            continue;
        size_t len = (size_t)head[32] | (size_t)head[33] << 8;
        if (34 + len <= got)
            printf("- training record (%s): `%.*s`\n", g.gl_pathv[i], (int)len, (char *)head + 34);
    }
    globfree(&g);
}

/* dir/<kernel>-<what>.csv: dims, then weight. */
static void dump(const char *dir, const char *kernel, const char *what, const lp_kernel_ops *k,
                 const cset *s)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/%s-%s.csv", dir, kernel, what);
    FILE *f = fopen(path, "w");
    if (!f) {
        fprintf(stderr, "vae_bench: cannot write %s\n", path);
        return;
    }
    for (size_t d = 0; d < k->n_dims; d++)
        fprintf(f, "%s,", k->dims[d].name);
    fprintf(f, "weight\n");
    for (size_t i = 0; i < s->n; i++) {
        for (size_t d = 0; d < k->n_dims; d++)
            fprintf(f, "%d,", s->c[i].v[d]);
        fprintf(f, "%.9g\n", s->w[i]);
    }
    fclose(f);
}

static size_t dim_named(const lp_kernel_ops *k, const char *name)
{
    for (size_t d = 0; d < k->n_dims; d++)
        if (!strcmp(k->dims[d].name, name))
            return d;
    return SIZE_MAX;
}

#define LPK_GRID 49
#define LPK_OUT 10

/* LitePred's get_distribution: configs of window k and stride s on a 49 x 49 grid of
 * (ceil(5 log2(hw + 1)), ceil(log2(cin + 1))), convolved with an 11 x 11 box of value 25/121
 * at stride 5 with padding 5 (10 x 10 out), plus 1e-10; *mass gets the (k, s) slice's weight. */
static void litepred_grid(const cset *c, const size_t *dim, int k, int s,
                          double out[LPK_OUT][LPK_OUT], double *mass)
{
    static double x[LPK_GRID][LPK_GRID];
    double total = 0, slice = 0;
    memset(x, 0, sizeof x);
    for (size_t i = 0; i < c->n; i++) {
        total += c->w[i];
        if (c->c[i].v[dim[2]] != k || c->c[i].v[dim[3]] != s)
            continue;
        int r = (int)ceil(log2(c->c[i].v[dim[0]] + 1.0) * 5);
        int q = (int)ceil(log2(c->c[i].v[dim[1]] + 1.0));
        if (r < LPK_GRID && q < LPK_GRID)
            x[r][q] += c->w[i];
        slice += c->w[i];
    }
    for (int i = 0; i < LPK_OUT; i++)
        for (int j = 0; j < LPK_OUT; j++) {
            double acc = 0;
            for (int a = 0; a < 11; a++)
                for (int b = 0; b < 11; b++) {
                    int r = 5 * i + a - 5, q = 5 * j + b - 5;
                    if (r >= 0 && r < LPK_GRID && q >= 0 && q < LPK_GRID)
                        acc += x[r][q];
                }
            out[i][j] = acc * 25.0 / 121.0 / total + 1e-10;
        }
    *mass = slice / total;
}

/* LitePred's calc_divergence(p, q): sum over k in 1..7, s in {1, 2}; NAN without hw, cin, k, s. */
static double litepred_kl(const cset *p, const cset *q, const lp_kernel_ops *kops)
{
    size_t dim[4] = {dim_named(kops, "hw"), dim_named(kops, "cin"), dim_named(kops, "k"),
                     dim_named(kops, "s")};
    double gp[LPK_OUT][LPK_OUT], gq[LPK_OUT][LPK_OUT], mp, mq, sum = 0;
    for (int i = 0; i < 4; i++)
        if (dim[i] == SIZE_MAX)
            return NAN;
    for (int k = 1; k <= 7; k++)
        for (int s = 1; s <= 2; s++) {
            litepred_grid(p, dim, k, s, gp, &mp);
            litepred_grid(q, dim, k, s, gq, &mq);
            for (int i = 0; i < LPK_OUT; i++)
                for (int j = 0; j < LPK_OUT; j++)
                    sum += gp[i][j] * log(gp[i][j] / gq[i][j]) * mp;
        }
    return sum;
}

static void print_pairs(const lp_kernel_ops *k, const cset *test, const cset *vae,
                        const cset *train, const cset *rnd, const cset *ha, const cset *hb,
                        double bins)
{
    lp_kl2d_opts o = {.bins_per_octave = bins};
    for (size_t d = 0; d < k->n_dims; d++)
        if (k->dims[d].values)
            o.group_mask |= 1u << d;
    printf("\n| dims | KL(test\\|\\|VAE) | KL(test\\|\\|train) | KL(test\\|\\|random) "
           "| KL(half A\\|\\|half B) |\n");
    printf("|---|---|---|---|---|\n");
    for (size_t x = 0; x < k->n_dims; x++)
        for (size_t y = x + 1; y < k->n_dims; y++) {
            if (k->dims[x].values || k->dims[x].labels || k->dims[y].values || k->dims[y].labels)
                continue;
            printf("| %s, %s | %.4f | %.4f | %.4f | %.4f |\n", k->dims[x].name, k->dims[y].name,
                   kl(test, vae, x, y, &o), kl(test, train, x, y, &o), kl(test, rnd, x, y, &o),
                   kl(ha, hb, x, y, &o));
        }
    if (!isnan(litepred_kl(test, vae, k)))
        printf("| LitePred's check (hw, cin per k, s) | %.4f | %.4f | %.4f | %.4f |\n",
               litepred_kl(test, vae, k), litepred_kl(test, train, k), litepred_kl(test, rnd, k),
               litepred_kl(ha, hb, k));
}

static int bench_kernel(lp_registry *reg, const bench_opts *bo, const char *kernel)
{
    lp_prior prior = {0};
    cset train = {0}, test = {0}, ha = {0}, hb = {0}, vae = {0}, rnd = {0};
    lp_err err = {0};
    double secs, rsecs;
    int rc = lp_prior_build(reg, NULL, kernel, bo->models, 0, &prior, &err);
    if (rc == 0 && (split(&prior, bo->test_share, bo->seed, &test, &train) ||
                    split(&prior, 0.5, bo->seed + 1, &ha, &hb)))
        rc = lp_err_set(&err, LP_EINVAL, "%s: too few distinct configs (%zu) to split", kernel,
                        prior.n);
    if (rc == 0)
        rc = draw(reg, "vae", bo->options, kernel, &train, bo->seed, bo->samples, &vae, &secs,
                  &err);
    if (rc == 0)
        rc = draw(reg, "random", "bounds=prior", kernel, &train, bo->seed, bo->samples, &rnd,
                  &rsecs, &err);
    if (rc == 0) {
        printf("\n## %s\n\n", kernel);
        printf("- prior: %zu distinct configs (%llu occurrences in %llu models); train %zu, "
               "test %zu; halves %zu / %zu\n", prior.n, (unsigned long long)prior.total,
               (unsigned long long)prior.n_models, train.n, test.n, ha.n, hb.n);
        printf("- vae setup (training, or loading from the cache): %.2f s; %zu configs generated\n",
               secs, vae.n);
        print_record(bo->cache, kernel);
        if (bo->dump) {
            dump(bo->dump, kernel, "test", kernel_ops(reg, kernel), &test);
            dump(bo->dump, kernel, "train", kernel_ops(reg, kernel), &train);
            dump(bo->dump, kernel, "vae", kernel_ops(reg, kernel), &vae);
        }
        print_pairs(kernel_ops(reg, kernel), &test, &vae, &train, &rnd, &ha, &hb, bo->bins);
    } else {
        fprintf(stderr, "vae_bench: %s: %s\n", kernel, err.msg);
    }
    lp_prior_free(&prior);
    cset_free(&train);
    cset_free(&test);
    cset_free(&ha);
    cset_free(&hb);
    cset_free(&vae);
    cset_free(&rnd);
    return rc;
}

static const char vae_usage[] =
    "usage: vae_bench [--kernel K]... [--models N] [--samples N] [--test-share F]\n"
    "                 [--seed S] [--bins B] [--cache DIR] [--dump DIR]\n"
    "                 [--options K=V,...]\n";

/* The numeric options of parse (c is their getopt val): a bad value stops here, not after the
 * prior is built and a VAE trained. */
static int parse_number(int c, const char *v, bench_opts *bo)
{
    const char *me = "vae_bench";
    long long n;
    switch (c) {
    case 'm':
    case 'n':
        if (bench_arg_long(me, c == 'm' ? "--models" : "--samples", v, 1, BENCH_ARG_COUNT_MAX, &n))
            return -1;
        *(c == 'm' ? &bo->models : &bo->samples) = (size_t)n;
        return 0;
    case 't': return bench_arg_double(me, "--test-share", v, 0, 1, &bo->test_share);
    case 'S': return bench_arg_u64(me, "--seed", v, &bo->seed);
    case 'b': return bench_arg_double(me, "--bins", v, 0.01, 100, &bo->bins);
    default: return -1;
    }
}

/* As train_bench's parse_args: 1 for -h, -1 after the one-line error. */
static int parse(int argc, char **argv, bench_opts *bo)
{
    static const struct option longs[] = {
        {"kernel", required_argument, 0, 'k'},  {"models", required_argument, 0, 'm'},
        {"samples", required_argument, 0, 'n'}, {"test-share", required_argument, 0, 't'},
        {"seed", required_argument, 0, 'S'},    {"bins", required_argument, 0, 'b'},
        {"cache", required_argument, 0, 'c'},   {"dump", required_argument, 0, 'd'},
        {"options", required_argument, 0, 'o'}, {"help", no_argument, 0, 'h'},
        {0, 0, 0, 0}};
    int c;
    opterr = 0;
    while ((c = getopt_long(argc, argv, ":h", longs, NULL)) != -1) {
        switch (c) {
        case 'k':
            if (bo->n_kernels == MAX_KERNELS) {
                fprintf(stderr, "vae_bench: --kernel given more than %d times\n", MAX_KERNELS);
                return -1;
            }
            bo->kernels[bo->n_kernels++] = optarg;
            break;
        case 'm':
        case 'n':
        case 't':
        case 'S':
        case 'b':
            if (parse_number(c, optarg, bo))
                return -1;
            break;
        case 'c': bo->cache = optarg; break;
        case 'd': bo->dump = optarg; break;
        case 'o': {
            size_t len = strlen(bo->options);
            snprintf(bo->options + len, sizeof bo->options - len, "%s%s", len ? "," : "", optarg);
            break;
        }
        case 'h': return 1;
        default: bench_arg_bad_option("vae_bench", c, argv); return -1;
        }
    }
    if (optind < argc) {
        fprintf(stderr, "vae_bench: unexpected argument '%s'\n", argv[optind]);
        return -1;
    }
    return 0;
}

int main(int argc, char **argv)
{
    bench_opts bo = {.models = 100, .samples = 10000, .test_share = 0.2, .seed = 1, .bins = 2};
    int prc = parse(argc, argv, &bo);
    if (prc) {
        fputs(vae_usage, prc > 0 ? stdout : stderr);
        return prc > 0 ? 0 : 2;
    }
    if (!bo.n_kernels) {
        bo.kernels[0] = "conv-bn-relu";
        bo.kernels[1] = "dwconv-bn-relu";
        bo.n_kernels = 2;
    }
    size_t len = strlen(bo.options);
    snprintf(bo.options + len, sizeof bo.options - len, "%scache=%s", len ? "," : "",
             bo.cache ? bo.cache : "none");
    lp_registry *reg = NULL;
    lp_err err = {0};
    if (lp_registry_open_default(&reg, NULL, &err)) {
        fprintf(stderr, "vae_bench: %s\n", err.msg);
        return 1;
    }
    printf("vae options: %s; %zu models per space; test share %.2f; %zu generated; "
           "%.3g bins per octave\n", bo.options, bo.models, bo.test_share, bo.samples, bo.bins);
    int rc = 0;
    for (size_t i = 0; i < bo.n_kernels; i++)
        rc |= bench_kernel(reg, &bo, bo.kernels[i]) != 0;
    lp_registry_close(reg);
    return rc;
}
