/* conv-bn-relu: a dense k x k convolution with its batch norm folded into the
 * weights and bias and its activation fused (the activation is a config value).
 * nn-Meter's conv cost and LitePred's 7-wide conv feature vector. */
#include <litepred/kernel.h>

enum { HW, CIN, COUT, K, S, ACT, N_DIMS };

/* Kernel sizes of every CNN space ({1, 3, 5, 7}) plus 16 for AutoFormer's patch
 * embedding conv [224, 3, E, 16, 16]; strides {1, 2, 4} as nn-Meter samples them plus
 * 16 for the same patch conv. k = 16 and s = 16 go together (see valid()), so samplers
 * never draw a 16x16 window at stride 1 or a 3x3 at stride 16. */
static const int32_t k_values[] = {1, 3, 5, 7, 16};
static const int32_t s_values[] = {1, 2, 4, 16};

/* hw: BigNAS's 320 stem input is the largest; channels: up to LP_KDIM_CH_MAX (ResNet-50
 * 2048, BigNAS mid 2112, FBNetV3's 1x1 head 1344 -> 1984); cin 3 for the stems. */
static const lp_dim dims[N_DIMS] = {
    LP_DIM_RANGE("hw", "input height = width", 1, LP_KDIM_HW_MAX, 1),
    LP_DIM_RANGE("cin", "input channels", 1, LP_KDIM_CH_MAX, 1),
    LP_DIM_RANGE("cout", "output channels", 1, LP_KDIM_CH_MAX, 1),
    LP_DIM_SET("k", "kernel size (16 only for a patch-embedding conv with s=16)", k_values),
    LP_DIM_SET("s", "stride (16 only with k=16)", s_values),
    LP_DIM_ACT("fused activation (a feature: LitePred's per-activation kernel types are one here)"),
};

static const lp_kernel_ops ops;

static int valid(const lp_kcfg *cfg, lp_err *err)
{
    int rc = lp_kcfg_check(dims, N_DIMS, cfg, err);
    if (rc < 0)
        return rc;
    if ((cfg->v[K] == 16) != (cfg->v[S] == 16))
        return lp_err_set(err, LP_EINVAL, "k=%d with s=%d: k=16 and s=16 go together (patch embedding)",
                          cfg->v[K], cfg->v[S]);
    return 0;
}

/* A patch-sized window decides: k=16 pulls s to 16; otherwise s=16 falls back to 4. */
static void repair(lp_kcfg *cfg)
{
    lp_kcfg_snap(dims, N_DIMS, cfg);
    if (cfg->v[K] == 16)
        cfg->v[S] = 16;
    else if (cfg->v[S] == 16)
        cfg->v[S] = 4;
}

static void cost(const lp_kcfg *cfg, lp_cost *out)
{
    lp_kernel_cost_conv(cfg->v[HW], cfg->v[CIN], cfg->v[COUT], cfg->v[K], cfg->v[S], 1, out);
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
    int64_t o = lp_out_size(cfg->v[HW], cfg->v[S]);
    in[0] = lp_shape_nhwc(cfg->v[HW], cfg->v[HW], cfg->v[CIN]);
    *out = lp_shape_nhwc(o, o, cfg->v[COUT]);
    *n_in = 1;
    return 0;
}

static int build(const lp_kcfg *cfg, lp_graph *g, const int *in, int *out, lp_err *err)
{
    int rc = lp_kernel_build_check(&ops, cfg, g, in, err);
    if (rc < 0)
        return rc;
    rc = lp_graph_conv2d(g, in[0], cfg->v[COUT], cfg->v[K], cfg->v[S], 1, 1, lp_kact_to_act(cfg->v[ACT]), err);
    if (rc < 0)
        return rc;
    *out = rc;
    return 0;
}

/* Features: hw, cin, cout, k, s, act, FLOPs/2e6, params/1e6 (LitePred's and nn-Meter's 7
 * plus the activation, which they encode as the kernel type). */
static const lp_kernel_ops ops = {
    .size = sizeof(lp_kernel_ops),
    .dims = dims,
    .n_dims = N_DIMS,
    .n_features = 8,
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
    .name = "conv-bn-relu",
    .summary = "dense k x k conv + folded BN + fused activation on NHWC [1, hw, hw, cin]",
    .ops = &ops,
};

LP_PLUGIN_DEFINE(desc)
