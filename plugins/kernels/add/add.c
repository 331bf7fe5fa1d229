/* add: the residual add of two equal tensors, with ReLU fused for ResNet's
 * addrelu. layout=tokens covers the transformer residual add on [n, c] token rows
 * (AutoFormer's add [N, E]); there hw is the token count. */
#include <litepred/kernel.h>

enum { HW, C, ACT, LAYOUT, N_DIMS };

static const char *const layout_labels[] = {"nhwc", "tokens", NULL};
enum { LAYOUT_NHWC, LAYOUT_TOKENS };

/* hw reaches LP_KDIM_TOKENS_MAX so token rows fit; an NHWC map stays within
 * LP_KDIM_HW_MAX (see valid()). c up to LP_KDIM_FEAT_MAX covers both conv widths and
 * embed dims. act is a feature: add and addrelu are separate kernels in nn-Meter. */
static const lp_dim dims[N_DIMS] = {
    LP_DIM_RANGE("hw", "input height = width (nhwc) or token count (tokens)", 1, LP_KDIM_TOKENS_MAX, 1),
    LP_DIM_RANGE("c", "channels", 1, LP_KDIM_FEAT_MAX, 1),
    LP_DIM_ENUM("act", "fused activation (relu: addrelu)", lp_kact_labels, 2),
    LP_DIM_ENUM("layout", "nhwc [1, hw, hw, c] or tokens [hw, c]", layout_labels, 2),
};

static const lp_kernel_ops ops;

static int valid(const lp_kcfg *cfg, lp_err *err)
{
    int rc = lp_kcfg_check(dims, N_DIMS, cfg, err);
    if (rc < 0)
        return rc;
    if (cfg->v[LAYOUT] == LAYOUT_NHWC && (cfg->v[HW] > LP_KDIM_HW_MAX || cfg->v[C] > LP_KDIM_CH_MAX))
        return lp_err_set(err, LP_EINVAL, "hw=%d, c=%d is out of range for layout=nhwc (hw 1..%d, c 1..%d)",
                          cfg->v[HW], cfg->v[C], LP_KDIM_HW_MAX, LP_KDIM_CH_MAX);
    return 0;
}

static void repair(lp_kcfg *cfg)
{
    lp_kcfg_snap(dims, N_DIMS, cfg);
    if (cfg->v[LAYOUT] == LAYOUT_NHWC) {
        cfg->v[HW] = cfg->v[HW] > LP_KDIM_HW_MAX ? LP_KDIM_HW_MAX : cfg->v[HW];
        cfg->v[C] = cfg->v[C] > LP_KDIM_CH_MAX ? LP_KDIM_CH_MAX : cfg->v[C];
    }
}

static lp_shape shape(const lp_kcfg *cfg)
{
    if (cfg->v[LAYOUT] == LAYOUT_TOKENS)
        return lp_shape_make(2, cfg->v[HW], cfg->v[C], 0, 0);
    return lp_shape_nhwc(cfg->v[HW], cfg->v[HW], cfg->v[C]);
}

/* No MACs; FLOPs count one add per output element (the fused ReLU is free). */
static void cost(const lp_kcfg *cfg, lp_cost *out)
{
    lp_shape s = shape(cfg);
    double n = (double)lp_shape_numel(&s);
    *out = (lp_cost){.flops = n, .bytes = 12 * n};
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
    in[0] = in[1] = *out = shape(cfg);
    *n_in = 2;
    return 0;
}

static int build(const lp_kcfg *cfg, lp_graph *g, const int *in, int *out, lp_err *err)
{
    int rc = lp_kernel_build_check(&ops, cfg, g, in, err);
    if (rc < 0 || (rc = lp_graph_add(g, in[0], in[1], lp_kact_to_act(cfg->v[ACT]), err)) < 0)
        return rc;
    *out = rc;
    return 0;
}

/* Features: hw, c, act, layout (0/1 each), FLOPs/2e6; no params. */
static const lp_kernel_ops ops = {
    .size = sizeof(lp_kernel_ops),
    .dims = dims,
    .n_dims = N_DIMS,
    .n_features = 5,
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
    .name = "add",
    .summary = "residual add of two equal tensors (NHWC or tokens), optional fused ReLU (addrelu)",
    .ops = &ops,
};

LP_PLUGIN_DEFINE(desc)
