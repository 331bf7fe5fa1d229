/* linear: a token-wise fully connected layer with bias, [n, cin] -> [n, cout]
 * (nn-Meter's fc3d: the transformer's qkv, projection, fc1 and fc2). */
#include <litepred/kernel.h>

enum { N, CIN, COUT, N_DIMS };

/* Widths: AutoFormer-B's qkv is 3*64*10 = 1920 wide and its MLP 624*4 = 2496. */
static const lp_dim dims[N_DIMS] = {
    LP_DIM_RANGE("n", "tokens (rows)", 1, LP_KDIM_TOKENS_MAX, 1),
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

/* FLOPs follow fc's (2 * cin + 1) * cout per token; params are the true weight count. */
static void cost(const lp_kcfg *cfg, lp_cost *out)
{
    double n = cfg->v[N], cin = cfg->v[CIN], cout = cfg->v[COUT];
    out->macs = n * cin * cout;
    out->flops = n * (2 * cin + 1) * cout;
    out->true_params = out->params = cin * cout + cout;
    out->bytes = 4 * (n * cin + out->true_params + n * cout);
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
    in[0] = lp_shape_make(2, cfg->v[N], cfg->v[CIN], 0, 0);
    *out = lp_shape_make(2, cfg->v[N], cfg->v[COUT], 0, 0);
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

/* Features: n, cin, cout, FLOPs/2e6, params/1e6. */
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
    .name = "linear",
    .summary = "token-wise linear layer with bias, tokens [n, cin] -> [n, cout]",
    .ops = &ops,
};

LP_PLUGIN_DEFINE(desc)
