/* se: a whole squeeze-excite block: global average pool, 1x1 conv C -> Cse with
 * bias and activation, 1x1 conv Cse -> C with bias and a hard-sigmoid gate, and
 * the channel-wise multiply of the input by the gate.
 * cse is a dim rather than derived from c because the spaces disagree on it: OFA
 * and BigNAS use make_divisible(c / 4, 8) (lp_se_width_ofa), FBNetV3 a rule that
 * also depends on the expand ratio (lp_se_width_fbnet). Likewise act: ReLU in
 * OFA/BigNAS, hswish in FBNetV3. */
#include <litepred/kernel.h>

enum { HW, C, CSE, ACT, N_DIMS };

/* An SE block sits on an MBConv middle: same ranges as dwconv; cse <= c (see valid()). */
static const lp_dim dims[N_DIMS] = {
    LP_DIM_RANGE("hw", "input height = width", 1, LP_KDIM_HW_MAX, 1),
    LP_DIM_RANGE("c", "channels", 1, LP_KDIM_CH_MAX, 1),
    LP_DIM_RANGE("cse", "squeeze width (OFA: make_divisible(c/4, 8)), at most c", 1, LP_KDIM_CH_MAX, 1),
    LP_DIM_ACT("activation after the squeeze conv (relu: OFA, BigNAS; hswish: FBNetV3)"),
};

static const lp_kernel_ops ops;

static int valid(const lp_kcfg *cfg, lp_err *err)
{
    int rc = lp_kcfg_check(dims, N_DIMS, cfg, err);
    if (rc < 0)
        return rc;
    if (cfg->v[CSE] > cfg->v[C])
        return lp_err_set(err, LP_EINVAL, "cse=%d is wider than c=%d (a squeeze cannot expand)",
                          cfg->v[CSE], cfg->v[C]);
    return 0;
}

static void repair(lp_kcfg *cfg)
{
    lp_kcfg_snap(dims, N_DIMS, cfg);
    if (cfg->v[CSE] > cfg->v[C])
        cfg->v[CSE] = cfg->v[C];
}

/* MACs: the two 1x1 convs (pool and multiply are not multiply-accumulates, as in published
 * counts). FLOPs add the pool's and the gate's one operation per input element. */
static void cost(const lp_kcfg *cfg, lp_cost *out)
{
    double hw = cfg->v[HW], c = cfg->v[C], cse = cfg->v[CSE], map = hw * hw * c;
    out->macs = 2 * c * cse;
    out->true_params = c * cse + cse + cse * c + c;
    out->params = out->true_params;
    out->flops = 2 * out->macs + 2 * map;
    out->bytes = 4 * (2 * map + out->true_params);
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
    in[0] = *out = lp_shape_nhwc(cfg->v[HW], cfg->v[HW], cfg->v[C]);
    *n_in = 1;
    return 0;
}

static int build(const lp_kcfg *cfg, lp_graph *g, const int *in, int *out, lp_err *err)
{
    int rc = lp_kernel_build_check(&ops, cfg, g, in, err);
    int t = in ? in[0] : -1;
    if (rc < 0 || (t = lp_graph_pool(g, t, LP_POOL_GLOBAL_AVG, 0, 0, err)) < 0 ||
        (t = lp_graph_conv2d(g, t, cfg->v[CSE], 1, 1, 1, 1, lp_kact_to_act(cfg->v[ACT]), err)) < 0 ||
        (t = lp_graph_conv2d(g, t, cfg->v[C], 1, 1, 1, 1, LP_ACT_HSIGMOID, err)) < 0 ||
        (t = lp_graph_mul(g, in[0], t, err)) < 0)
        return rc < 0 ? rc : t;
    *out = t;
    return 0;
}

/* Features: hw, c, cse, act, FLOPs/2e6, params/1e6 (act as for conv). */
static const lp_kernel_ops ops = {
    .size = sizeof(lp_kernel_ops),
    .dims = dims,
    .n_dims = N_DIMS,
    .n_features = 6,
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
    .name = "se",
    .summary = "squeeze-excite: global pool, 1x1 c->cse + act, 1x1 cse->c + hsigmoid, multiply",
    .ops = &ops,
};

LP_PLUGIN_DEFINE(desc)
