/* layernorm: layer normalisation of each token row over its c channels, with
 * learned gamma and beta (the transformer's pre-norm). */
#include <litepred/kernel.h>

enum { N, C, N_DIMS };

/* PyTorch's nn.LayerNorm default, which AutoFormer keeps. */
#define LN_EPS 1e-5f

/* Rows: AutoFormer's 197 tokens; widths: its embed dims (up to 624) with headroom. */
static const lp_dim dims[N_DIMS] = {
    LP_DIM_RANGE("n", "tokens (rows)", 1, LP_KDIM_TOKENS_MAX, 1),
    LP_DIM_RANGE("c", "channels per token", 1, LP_KDIM_FEAT_MAX, 1),
};

static const lp_kernel_ops ops;

static int valid(const lp_kcfg *cfg, lp_err *err)
{
    return lp_kcfg_check(dims, N_DIMS, cfg, err);
}

static void repair(lp_kcfg *cfg)
{
    lp_kcfg_snap(dims, N_DIMS, cfg);
}

/* No MACs; FLOPs count about 8 operations per element (mean, variance, normalise, scale, shift). */
static void cost(const lp_kcfg *cfg, lp_cost *out)
{
    double n = cfg->v[N], c = cfg->v[C];
    *out = (lp_cost){.flops = 8 * n * c, .params = 2 * c, .true_params = 2 * c,
                     .bytes = 4 * (2 * n * c + 2 * c)};
}

static void features(const lp_kcfg *cfg, float *out)
{
    lp_cost c;
    cost(cfg, &c);
    lp_kernel_features(&ops, cfg, &c, out);
}

static int io(const lp_kcfg *cfg, lp_shape *in, int *n_in, lp_shape *out, lp_err *err)
{
    int rc = valid(cfg, err);
    if (rc < 0)
        return rc;
    in[0] = *out = lp_shape_make(2, cfg->v[N], cfg->v[C], 0, 0);
    *n_in = 1;
    return 0;
}

static int build(const lp_kcfg *cfg, lp_graph *g, const int *in, int *out, lp_err *err)
{
    int rc = lp_kernel_build_check(&ops, cfg, g, in, err);
    if (rc < 0 || (rc = lp_graph_layernorm(g, in[0], LN_EPS, err)) < 0)
        return rc;
    *out = rc;
    return 0;
}

/* Features: n, c, FLOPs/2e6, params/1e6. */
static const lp_kernel_ops ops = {
    .size = sizeof(lp_kernel_ops),
    .dims = dims,
    .n_dims = N_DIMS,
    .n_features = 4,
    .valid = valid,
    .repair = repair,
    .cost = cost,
    .features = features,
    .io = io,
    .build = build,
};

static const lp_plugin_desc desc = {
    LP_PLUGIN_ABI,
    .kind = LP_KIND_KERNEL,
    .name = "layernorm",
    .summary = "layer norm over the last axis of tokens [n, c], with gamma and beta",
    .ops = &ops,
};

LP_PLUGIN_DEFINE(desc)
