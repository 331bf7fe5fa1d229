/* Template of a windowed pool kernel (maxpool, avgpool), included by exactly one
 * plugin source after it defines:
 *   LP_PK_NAME     kernel type name ("maxpool")
 *   LP_PK_SUMMARY  one-line summary
 *   LP_PK_KIND     LP_POOL_MAX or LP_POOL_AVG
 * Same padding, ceil mode: out = ceil(hw / s). */
#include <litepred/kernel.h>

enum { PK_HW, PK_CIN, PK_K, PK_S, PK_DIMS };

/* Strides as nn-Meter samples them; ResNet-50's stem pool is k3 s2, its ResNet-D
 * shortcut avgpool k=s in {1, 2}. Windows up to 7 cover every classic pool. */
static const int32_t pk_strides[] = {1, 2, 4};

static const lp_dim pk_dims[PK_DIMS] = {
    LP_DIM_RANGE("hw", "input height = width", 1, LP_KDIM_HW_MAX, 1),
    LP_DIM_RANGE("cin", "channels", 1, LP_KDIM_CH_MAX, 1),
    LP_DIM_RANGE("k", "window size", 1, 7, 1),
    LP_DIM_SET("s", "stride", pk_strides),
};

static const lp_kernel_ops pk_ops;

static int pk_valid(const lp_kcfg *cfg, lp_err *err)
{
    return lp_kcfg_check(pk_dims, PK_DIMS, cfg, err);
}

static void pk_repair(lp_kcfg *cfg)
{
    lp_kcfg_snap(pk_dims, PK_DIMS, cfg);
}

/* No MACs; FLOPs count one compare or add per window element of every output. */
static void pk_cost(const lp_kcfg *cfg, lp_cost *out)
{
    double hw = cfg->v[PK_HW], c = cfg->v[PK_CIN], k = cfg->v[PK_K];
    double o = (double)lp_out_size(cfg->v[PK_HW], cfg->v[PK_S]);
    *out = (lp_cost){.flops = o * o * c * k * k, .bytes = 4 * (hw * hw * c + o * o * c)};
}

static void pk_features(const lp_kcfg *cfg, float *out)
{
    lp_cost c;
    pk_cost(cfg, &c);
    lp_kernel_features(&pk_ops, cfg, &c, out);
}

static int pk_io(const lp_kcfg *cfg, lp_shape *in, int *n_in, lp_shape *out, lp_err *err)
{
    int rc = pk_valid(cfg, err);
    if (rc < 0)
        return rc;
    int64_t o = lp_out_size(cfg->v[PK_HW], cfg->v[PK_S]);
    in[0] = lp_shape_nhwc(cfg->v[PK_HW], cfg->v[PK_HW], cfg->v[PK_CIN]);
    *out = lp_shape_nhwc(o, o, cfg->v[PK_CIN]);
    *n_in = 1;
    return 0;
}

static int pk_build(const lp_kcfg *cfg, lp_graph *g, const int *in, int *out, lp_err *err)
{
    int rc = lp_kernel_build_check(&pk_ops, cfg, g, in, err);
    if (rc < 0 || (rc = lp_graph_pool(g, in[0], LP_PK_KIND, cfg->v[PK_K], cfg->v[PK_S], err)) < 0)
        return rc;
    *out = rc;
    return 0;
}

/* Features: hw, cin, k, s (nn-Meter's pool vector less its redundant cout) and FLOPs/2e6. */
static const lp_kernel_ops pk_ops = {
    .size = sizeof(lp_kernel_ops),
    .dims = pk_dims,
    .n_dims = PK_DIMS,
    .n_features = PK_DIMS + 1,
    .valid = pk_valid,
    .repair = pk_repair,
    .cost = pk_cost,
    .features = pk_features,
    .io = pk_io,
    .build = pk_build,
};

static const lp_plugin_desc pk_desc = {
    LP_PLUGIN_ABI,
    .kind = LP_KIND_KERNEL,
    .name = LP_PK_NAME,
    .summary = LP_PK_SUMMARY,
    .ops = &pk_ops,
};

LP_PLUGIN_DEFINE(pk_desc)
