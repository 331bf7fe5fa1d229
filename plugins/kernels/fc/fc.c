/* fc: a fully connected layer with bias on one vector (the classifier, or a 1x1
 * conv on a 1x1 map). nn-Meter's fc cost, where params equals FLOPs. */
#include <litepred/kernel.h>

enum { CIN, COUT, N_DIMS };

/* Widths up to LP_KDIM_FEAT_MAX: heads read 1280 (OFA), 1664 (Proxyless), 1984 (FBNetV3),
 * 2048 (ResNet-50) and write 1000 classes. An activation after it is its own kernel. */
static const lp_dim dims[N_DIMS] = {
    LP_DIM_RANGE("cin", "input features", 1, LP_KDIM_FEAT_MAX, 1),
    LP_DIM_RANGE("cout", "output features", 1, LP_KDIM_FEAT_MAX, 1),
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

/* nn-Meter: params = FLOPs = (2 * cin + 1) * cout (its own convention, kept for the features). */
static void cost(const lp_kcfg *cfg, lp_cost *out)
{
    double cin = cfg->v[CIN], cout = cfg->v[COUT];
    out->flops = out->params = (2 * cin + 1) * cout;
    out->macs = cin * cout;
    out->true_params = cin * cout + cout;
    out->bytes = 4 * (cin + out->true_params + cout);
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
    in[0] = lp_shape_make(2, 1, cfg->v[CIN], 0, 0);
    *out = lp_shape_make(2, 1, cfg->v[COUT], 0, 0);
    *n_in = 1;
    return 0;
}

static int build(const lp_kcfg *cfg, lp_graph *g, const int *in, int *out, lp_err *err)
{
    int rc = lp_kernel_build_check(&ops, cfg, g, in, err);
    if (rc < 0 || (rc = lp_graph_dense(g, in[0], cfg->v[COUT], 1, LP_ACT_NONE, err)) < 0)
        return rc;
    *out = rc;
    return 0;
}

/* Features: cin, cout, FLOPs/2e6, params/1e6 (nn-Meter's fc vector). */
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
    .name = "fc",
    .summary = "fully connected layer with bias on a vector [1, cin] -> [1, cout]",
    .ops = &ops,
};

LP_PLUGIN_DEFINE(desc)
