/* dwconv-bn-relu: a depthwise k x k convolution (cout = cin, one filter per
 * channel) with folded batch norm and a fused activation. nn-Meter's dwconv cost. */
#include <litepred/kernel.h>

enum { HW, CIN, K, S, ACT, N_DIMS };

/* MBConv depthwise kernels are 3, 5 or 7 and strides 1 or 2 in all six spaces;
 * k = 1 or s = 4 would only spend measurements on configs no model has. */
static const int32_t k_values[] = {3, 5, 7};
static const int32_t s_values[] = {1, 2};

/* Channels up to LP_KDIM_CH_MAX: the widest MBConv middle is BigNAS's 352*6 = 2112. */
static const lp_dim dims[N_DIMS] = {
    LP_DIM_RANGE("hw", "input height = width", 1, LP_KDIM_HW_MAX, 1),
    LP_DIM_RANGE("cin", "channels (in = out)", 1, LP_KDIM_CH_MAX, 1),
    LP_DIM_SET("k", "kernel size", k_values),
    LP_DIM_SET("s", "stride", s_values),
    LP_DIM_ACT("fused activation (a feature, as for conv)"),
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

/* groups = cin turns the conv formula into nn-Meter's params = cout * (k^2 + 1). */
static void cost(const lp_kcfg *cfg, lp_cost *out)
{
    lp_kernel_cost_conv(cfg->v[HW], cfg->v[CIN], cfg->v[CIN], cfg->v[K], cfg->v[S], cfg->v[CIN], out);
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
    *out = lp_shape_nhwc(o, o, cfg->v[CIN]);
    *n_in = 1;
    return 0;
}

static int build(const lp_kcfg *cfg, lp_graph *g, const int *in, int *out, lp_err *err)
{
    int rc = lp_kernel_build_check(&ops, cfg, g, in, err);
    if (rc < 0)
        return rc;
    rc = lp_graph_conv2d(g, in[0], cfg->v[CIN], cfg->v[K], cfg->v[S], cfg->v[CIN], 1,
                         lp_kact_to_act(cfg->v[ACT]), err);
    if (rc < 0)
        return rc;
    *out = rc;
    return 0;
}

/* Features: hw, cin, k, s, act, FLOPs/2e6, params/1e6 (nn-Meter's vector less its redundant
 * cout, plus the activation as for conv). */
static const lp_kernel_ops ops = {
    .size = sizeof(lp_kernel_ops),
    .dims = dims,
    .n_dims = N_DIMS,
    .n_features = 7,
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
    .name = "dwconv-bn-relu",
    .summary = "depthwise k x k conv + folded BN + fused activation on NHWC [1, hw, hw, cin]",
    .ops = &ops,
};

LP_PLUGIN_DEFINE(desc)
