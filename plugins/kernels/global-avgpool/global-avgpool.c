/* global-avgpool: the mean over the spatial map, NHWC [1, hw, hw, c] -> [1, 1, 1, c]
 * (CNN heads; also AutoFormer's mean of its 14x14 patch tokens). */
#include <litepred/kernel.h>

enum { HW, C, N_DIMS };

/* Heads pool 7x7 (10x10 at BigNAS's 320) maps of up to 2048 channels; any map a conv
 * can write is accepted. */
static const lp_dim dims[N_DIMS] = {
    LP_DIM_RANGE("hw", "input height = width", 1, LP_KDIM_HW_MAX, 1),
    LP_DIM_RANGE("c", "channels", 1, LP_KDIM_CH_MAX, 1),
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

/* No MACs; FLOPs count one add per input element. */
static void cost(const lp_kcfg *cfg, lp_cost *out)
{
    double hw = cfg->v[HW], c = cfg->v[C];
    *out = (lp_cost){.flops = hw * hw * c, .bytes = 4 * (hw * hw * c + c)};
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
    in[0] = lp_shape_nhwc(cfg->v[HW], cfg->v[HW], cfg->v[C]);
    *out = lp_shape_nhwc(1, 1, cfg->v[C]);
    *n_in = 1;
    return 0;
}

static int build(const lp_kcfg *cfg, lp_graph *g, const int *in, int *out, lp_err *err)
{
    int rc = lp_kernel_build_check(&ops, cfg, g, in, err);
    if (rc < 0 || (rc = lp_graph_pool(g, in[0], LP_POOL_GLOBAL_AVG, 0, 0, err)) < 0)
        return rc;
    *out = rc;
    return 0;
}

/* Features: hw, c, FLOPs/2e6 (nn-Meter's [hw, cin] plus FLOPs). */
static const lp_kernel_ops ops = {
    .size = sizeof(lp_kernel_ops),
    .dims = dims,
    .n_dims = N_DIMS,
    .n_features = 3,
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
    .name = "global-avgpool",
    .summary = "global average pool NHWC [1, hw, hw, c] -> [1, 1, 1, c]",
    .ops = &ops,
};

LP_PLUGIN_DEFINE(desc)
