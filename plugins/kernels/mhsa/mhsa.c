/* mhsa: the attention core of multi-head self-attention. Input is the qkv
 * projection [n, 3*h*d] laid out as timm and AutoFormer do (q, k, v, each h heads of
 * d); output is [n, h*d], ready for the output projection. Per head:
 * softmax(q.k^T / sqrt(d)).v. The projections themselves are linear kernels. */
#include <litepred/kernel.h>

#include <math.h>

enum { N, E, H, D, N_DIMS };

/* e is the layer's embed width: it does not change the graph (the qkv linear already
 * mapped e to 3*h*d) but is kept as the nn-Meter/LitePred feature. AutoFormer: h up to 10,
 * d = 64; 16 heads of up to 128 cover ViT-L-like layers. */
static const lp_dim dims[N_DIMS] = {
    LP_DIM_RANGE("n", "tokens", 1, LP_KDIM_TOKENS_MAX, 1),
    LP_DIM_RANGE("e", "embed dim of the layer (feature only)", 1, LP_KDIM_FEAT_MAX, 1),
    LP_DIM_RANGE("h", "heads", 1, 16, 1),
    LP_DIM_RANGE("d", "head dim", 1, 128, 1),
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

/* MACs: q.k^T and attn.v, h * n * n * d each. FLOPs add about 5 operations per score for
 * the softmax (max, subtract, exp, sum, divide); the 1/sqrt(d) scale rides on the matmul. */
static void cost(const lp_kcfg *cfg, lp_cost *out)
{
    double n = cfg->v[N], h = cfg->v[H], d = cfg->v[D];
    out->macs = 2 * h * n * n * d;
    out->flops = 2 * out->macs + 5 * h * n * n;
    out->params = out->true_params = 0;
    out->bytes = 4 * (n * 3 * h * d + n * h * d);
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
    int64_t hd = (int64_t)cfg->v[H] * cfg->v[D];
    in[0] = lp_shape_make(2, cfg->v[N], 3 * hd, 0, 0);
    *out = lp_shape_make(2, cfg->v[N], hd, 0, 0);
    *n_in = 1;
    return 0;
}

/* [n, 3hd] -> [n, 3, h, d] -> [3, h, n, d] -> [3h, n, d]; q, k, v are slices of h rows. */
static int split_heads(const lp_kcfg *cfg, lp_graph *g, int x, int qkv[3], lp_err *err)
{
    int64_t n = cfg->v[N], h = cfg->v[H], d = cfg->v[D];
    static const int perm[4] = {1, 2, 0, 3};
    int t = lp_graph_reshape(g, x, lp_shape_make(4, n, 3, h, d), err);
    if (t < 0 || (t = lp_graph_transpose(g, t, perm, err)) < 0 ||
        (t = lp_graph_reshape(g, t, lp_shape_make(3, 3 * h, n, d, 0), err)) < 0)
        return t;
    for (int i = 0; i < 3; i++)
        if ((qkv[i] = lp_graph_slice(g, t, 0, i * h, h, err)) < 0)
            return qkv[i];
    return 0;
}

static int build(const lp_kcfg *cfg, lp_graph *g, const int *in, int *out, lp_err *err)
{
    static const int back[3] = {1, 0, 2};
    int qkv[3], t;
    int rc = lp_kernel_build_check(&ops, cfg, g, in, err);
    if (rc < 0 || (rc = split_heads(cfg, g, in[0], qkv, err)) < 0)
        return rc;
    float alpha = (float)(1.0 / sqrt((double)cfg->v[D]));
    if ((t = lp_graph_matmul(g, qkv[0], qkv[1], 1, alpha, err)) < 0 || (t = lp_graph_softmax(g, t, err)) < 0 ||
        (t = lp_graph_matmul(g, t, qkv[2], 0, 1.0f, err)) < 0 || (t = lp_graph_transpose(g, t, back, err)) < 0 ||
        (t = lp_graph_reshape(g, t, lp_shape_make(2, cfg->v[N], (int64_t)cfg->v[H] * cfg->v[D], 0, 0), err)) < 0)
        return t;
    *out = t;
    return 0;
}

/* Features: n, e, h, d, FLOPs/2e6; no params. */
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
    .name = "mhsa",
    .summary = "attention core: qkv [n, 3*h*d] -> softmax(q.k^T/sqrt(d)).v -> [n, h*d]",
    .ops = &ops,
};

LP_PLUGIN_DEFINE(desc)
