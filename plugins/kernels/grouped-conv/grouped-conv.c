/* grouped-conv: ShuffleNet's grouped 1x1 convolution (folded BN, fused
 * activation) followed by a channel shuffle. An example of a kernel type outside
 * the built-in vocabulary: it is written purely with core primitives (conv2d with
 * groups, reshape, transpose), so every engine runs it with no engine or core
 * change; dropping this folder into plugins/kernels/ is all it takes. */
#include <litepred/kernel.h>

enum { HW, CIN, COUT, GROUPS, ACT, N_DIMS };

/* ShuffleNet v1's group counts; channels within the shared conv range. groups must
 * divide cin and cout (see valid()). */
static const int32_t group_values[] = {1, 2, 3, 4, 8};

static const lp_dim dims[N_DIMS] = {
    LP_DIM_RANGE("hw", "input height = width", 1, LP_KDIM_HW_MAX, 1),
    LP_DIM_RANGE("cin", "input channels (a multiple of groups)", 1, LP_KDIM_CH_MAX, 1),
    LP_DIM_RANGE("cout", "output channels (a multiple of groups)", 1, LP_KDIM_CH_MAX, 1),
    LP_DIM_SET("groups", "conv groups, also the shuffle's group count", group_values),
    LP_DIM_ACT("fused activation (a feature, as for conv)"),
};

static const lp_kernel_ops ops;

static int valid(const lp_kcfg *cfg, lp_err *err)
{
    int rc = lp_kcfg_check(dims, N_DIMS, cfg, err);
    if (rc < 0)
        return rc;
    if (cfg->v[CIN] % cfg->v[GROUPS] || cfg->v[COUT] % cfg->v[GROUPS])
        return lp_err_set(err, LP_EINVAL, "groups=%d must divide cin=%d and cout=%d", cfg->v[GROUPS],
                          cfg->v[CIN], cfg->v[COUT]);
    return 0;
}

/* The nearest multiple of g within 1..LP_KDIM_CH_MAX. */
static int32_t snap_multiple(int32_t v, int32_t g)
{
    int32_t m = (v + g / 2) / g * g;
    if (m < g)
        m = g;
    return m > LP_KDIM_CH_MAX ? LP_KDIM_CH_MAX / g * g : m;
}

static void repair(lp_kcfg *cfg)
{
    lp_kcfg_snap(dims, N_DIMS, cfg);
    cfg->v[CIN] = snap_multiple(cfg->v[CIN], cfg->v[GROUPS]);
    cfg->v[COUT] = snap_multiple(cfg->v[COUT], cfg->v[GROUPS]);
}

/* nn-Meter's conv formulas with cin/groups inputs per filter; the shuffle moves data only. */
static void cost(const lp_kcfg *cfg, lp_cost *out)
{
    lp_kernel_cost_conv(cfg->v[HW], cfg->v[CIN], cfg->v[COUT], 1, 1, cfg->v[GROUPS], out);
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
    in[0] = lp_shape_nhwc(cfg->v[HW], cfg->v[HW], cfg->v[CIN]);
    *out = lp_shape_nhwc(cfg->v[HW], cfg->v[HW], cfg->v[COUT]);
    *n_in = 1;
    return 0;
}

/* Shuffle: [hw*hw, g, cout/g] -> transpose -> [hw*hw, cout/g, g], so channel j of group i
 * moves to position j*g + i, as ShuffleNet's reshape-transpose-flatten. */
static int build(const lp_kcfg *cfg, lp_graph *g, const int *in, int *out, lp_err *err)
{
    static const int perm[3] = {0, 2, 1};
    int64_t hw = cfg->v[HW], cout = cfg->v[COUT], grp = cfg->v[GROUPS];
    int t;
    int rc = lp_kernel_build_check(&ops, cfg, g, in, err);
    if (rc < 0)
        return rc;
    if ((t = lp_graph_conv2d(g, in[0], (int)cout, 1, 1, (int)grp, 1, lp_kact_to_act(cfg->v[ACT]), err)) < 0 ||
        (t = lp_graph_reshape(g, t, lp_shape_make(3, hw * hw, grp, cout / grp, 0), err)) < 0 ||
        (t = lp_graph_transpose(g, t, perm, err)) < 0 ||
        (t = lp_graph_reshape(g, t, lp_shape_nhwc(hw, hw, cout), err)) < 0)
        return t;
    *out = t;
    return 0;
}

/* Features: hw, cin, cout, groups, act, FLOPs/2e6, params/1e6. */
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
    .name = "grouped-conv",
    .summary = "example third-party kernel: grouped 1x1 conv + BN + act, then channel shuffle (ShuffleNet)",
    .ops = &ops,
};

LP_PLUGIN_DEFINE(desc)
