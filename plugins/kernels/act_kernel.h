/* Template of a standalone activation kernel (hswish, swish, gelu), included by
 * exactly one plugin source after it defines:
 *   LP_AK_NAME     kernel type name ("hswish")
 *   LP_AK_SUMMARY  one-line summary
 *   LP_AK_ACT      the lp_act it applies
 *   LP_AK_TOKENS   1: tokens [n, c] (dims n, c); 0: NHWC [1, hw, hw, c] (dims hw, c)
 * The kernels differ only in these constants, so one body keeps them in step. */
#include <litepred/kernel.h>

enum { AK_N, AK_C, AK_DIMS };

static const lp_dim ak_dims[AK_DIMS] = {
#if LP_AK_TOKENS
    /* Token rows: AutoFormer has 197; the MLP hidden width reaches 624*4 = 2496. */
    LP_DIM_RANGE("n", "tokens (rows)", 1, LP_KDIM_TOKENS_MAX, 1),
    LP_DIM_RANGE("c", "channels per token", 1, LP_KDIM_FEAT_MAX, 1),
#else
    /* Spatial maps: an unfused activation follows a conv, so it shares the conv ranges. */
    LP_DIM_RANGE("hw", "input height = width", 1, LP_KDIM_HW_MAX, 1),
    LP_DIM_RANGE("c", "channels", 1, LP_KDIM_CH_MAX, 1),
#endif
};

static const lp_kernel_ops ak_ops;

static int ak_valid(const lp_kcfg *cfg, lp_err *err)
{
    return lp_kcfg_check(ak_dims, AK_DIMS, cfg, err);
}

static void ak_repair(lp_kcfg *cfg)
{
    lp_kcfg_snap(ak_dims, AK_DIMS, cfg);
}

static lp_shape ak_shape(const lp_kcfg *cfg)
{
#if LP_AK_TOKENS
    return lp_shape_make(2, cfg->v[AK_N], cfg->v[AK_C], 0, 0);
#else
    return lp_shape_nhwc(cfg->v[AK_N], cfg->v[AK_N], cfg->v[AK_C]);
#endif
}

/* No MACs; FLOPs count one evaluation per element so the feature tracks the work. */
static void ak_cost(const lp_kcfg *cfg, lp_cost *out)
{
    lp_shape s = ak_shape(cfg);
    double n = (double)lp_shape_numel(&s);
    *out = (lp_cost){.macs = 0, .flops = n, .params = 0, .bytes = 8 * n, .true_params = 0};
}

static void ak_features(const lp_kcfg *cfg, float *out)
{
    lp_cost c;
    ak_cost(cfg, &c);
    lp_kernel_features(&ak_ops, cfg, &c, out);
}

static int ak_io(const lp_kcfg *cfg, lp_shape *in, int *n_in, lp_shape *out, lp_err *err)
{
    int rc = ak_valid(cfg, err);
    if (rc < 0)
        return rc;
    in[0] = *out = ak_shape(cfg);
    *n_in = 1;
    return 0;
}

static int ak_build(const lp_kcfg *cfg, lp_graph *g, const int *in, int *out, lp_err *err)
{
    int rc = lp_kernel_build_check(&ak_ops, cfg, g, in, err);
    if (rc < 0 || (rc = lp_graph_act(g, in[0], LP_AK_ACT, err)) < 0)
        return rc;
    *out = rc;
    return 0;
}

/* Features: the two dims and FLOPs/2e6; no params (a constant 0 would only upset a normaliser). */
static const lp_kernel_ops ak_ops = {
    .size = sizeof(lp_kernel_ops),
    .dims = ak_dims,
    .n_dims = AK_DIMS,
    .n_features = AK_DIMS + 1,
    .valid = ak_valid,
    .repair = ak_repair,
    .cost = ak_cost,
    .features = ak_features,
    .io = ak_io,
    .build = ak_build,
};

static const lp_plugin_desc ak_desc = {
    LP_PLUGIN_ABI,
    .kind = LP_KIND_KERNEL,
    .name = LP_AK_NAME,
    .summary = LP_AK_SUMMARY,
    .ops = &ak_ops,
};

LP_PLUGIN_DEFINE(ak_desc)
