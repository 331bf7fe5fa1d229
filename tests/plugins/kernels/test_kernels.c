/* Every kernel plugin through the registry: loading and tables, nn-Meter costs
 * (hand-computed), validation messages, repair, canonical strings, io() against
 * the built graph, and the build-time input checks. */
#include <criterion/criterion.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "lp_test.h"

/* Each kernel type with a representative config drawn from the six spaces. */
static const struct {
    const char *name, *cfg;
} kernels[] = {
    {"conv-bn-relu", "hw=56,cin=32,cout=64,k=3,s=1,act=relu"},
    {"dwconv-bn-relu", "hw=112,cin=96,k=5,s=2,act=relu6"},
    {"fc", "cin=1280,cout=1000"},
    {"se", "hw=28,c=72,cse=24,act=relu"},
    {"hswish", "hw=56,c=120"},
    {"swish", "hw=14,c=480"},
    {"gelu", "n=197,c=768"},
    {"add", "hw=28,c=40,act=none,layout=nhwc"},
    {"global-avgpool", "hw=7,c=960"},
    {"maxpool", "hw=112,cin=64,k=3,s=2"},
    {"avgpool", "hw=56,cin=256,k=2,s=2"},
    {"layernorm", "n=197,c=192"},
    {"linear", "n=197,cin=192,cout=576"},
    {"mhsa", "n=197,e=192,h=3,d=64"},
    {"grouped-conv", "hw=28,cin=240,cout=240,groups=3,act=relu"},
};
#define N_KERNELS (sizeof kernels / sizeof kernels[0])

TestSuite(kernels, .init = lp_test_setup_registry, .fini = lp_test_teardown);

static lp_kcfg parse(const lp_kernel_ops *o, const char *text)
{
    lp_kcfg c;
    lp_err err = {0};
    LP_CHECK(lp_kcfg_parse(o->dims, o->n_dims, text, &c, &err) == 0, "%s: %s", text, err.msg);
    LP_CHECK(o->valid(&c, &err) == 0, "%s: %s", text, err.msg);
    return c;
}

static uint64_t next(uint64_t *s)
{
    uint64_t z = (*s += UINT64_C(0x9E3779B97F4A7C15));
    z = (z ^ (z >> 30)) * UINT64_C(0xBF58476D1CE4E5B9);
    z = (z ^ (z >> 27)) * UINT64_C(0x94D049BB133111EB);
    return z ^ (z >> 31);
}

/* Random values around and beyond each dim's range, including the extremes. */
static lp_kcfg random_cfg(const lp_kernel_ops *o, uint64_t *s)
{
    lp_kcfg c = {{0}};
    for (size_t i = 0; i < o->n_dims; i++) {
        uint64_t r = next(s);
        switch (r % 8) {
        case 0: c.v[i] = INT32_MIN + (int32_t)(r >> 40); break;
        case 1: c.v[i] = INT32_MAX - (int32_t)(r >> 40); break;
        default: c.v[i] = (int32_t)((r >> 16) % 6000) - 500; break;
        }
    }
    return c;
}

/* A random valid config that keeps graphs small enough to build quickly. */
static lp_kcfg random_valid(const lp_kernel_ops *o, uint64_t *s)
{
    lp_kcfg c = {{0}};
    for (size_t i = 0; i < o->n_dims; i++) {
        const lp_dim *d = &o->dims[i];
        uint64_t r = next(s);
        if (d->values)
            c.v[i] = d->values[r % d->n_values];
        else
            c.v[i] = d->min + (int32_t)(r % (uint64_t)(d->max - d->min + 1));
    }
    o->repair(&c);
    return c;
}

Test(kernels, every_builtin_loads_with_consistent_tables)
{
    for (size_t i = 0; i < N_KERNELS; i++) {
        const lp_plugin *p = lp_registry_find(lp_test_reg, LP_KIND_KERNEL, kernels[i].name);
        cr_assert_not_null(p, "kernel '%s' is not loaded", kernels[i].name);
        const lp_plugin_desc *d = lp_plugin_descriptor(p);
        cr_assert_eq(d->kind, LP_KIND_KERNEL);
        cr_assert_str_eq(d->name, kernels[i].name);
        cr_assert(d->summary && strlen(d->summary) > 10, "%s: summary", d->name);
        cr_assert_eq(d->abi_major, LP_ABI_MAJOR);
        const lp_kernel_ops *o = d->ops;
        lp_err err = {0};
        cr_assert_eq(o->size, sizeof(lp_kernel_ops));
        cr_assert_eq(lp_kernel_ops_check(o, &err), 0, "%s: %s", d->name, err.msg);
        /* features() writes exactly n_features finite values */
        lp_kcfg c = parse(o, kernels[i].cfg);
        float f[LP_KERNEL_MAX_FEATURES + 4];
        for (size_t j = 0; j < sizeof f / sizeof f[0]; j++)
            f[j] = -12345.0f;
        o->features(&c, f);
        for (size_t j = 0; j < o->n_features; j++)
            cr_assert(isfinite(f[j]) && f[j] != -12345.0f, "%s: feature %zu (%s) unset", d->name, j,
                      lp_kernel_feature_name(o, j));
        for (size_t j = o->n_features; j < sizeof f / sizeof f[0]; j++)
            cr_assert_eq(f[j], -12345.0f, "%s: features() wrote past n_features", d->name);
    }
}

Test(kernels, every_loaded_kernel_passes_the_table_check)
{
    size_t n = 0;
    for (size_t i = 0; i < lp_registry_count(lp_test_reg); i++) {
        const lp_plugin_desc *d = lp_plugin_descriptor(lp_registry_at(lp_test_reg, i));
        if (d->kind != LP_KIND_KERNEL)
            continue;
        lp_err err = {0};
        cr_assert_eq(lp_kernel_ops_check(d->ops, &err), 0, "%s: %s", d->name, err.msg);
        n++;
    }
    cr_assert_geq(n, N_KERNELS);
}

Test(kernels, feature_vectors)
{
    /* LitePred's conv vector hw, cin, cout, k, s, FLOPs/2e6, params/1e6, plus the fused
     * activation's value (hswish = 3), which LitePred encodes as the kernel type */
    const lp_kernel_ops *o = lp_test_kernel("conv-bn-relu");
    lp_kcfg c = parse(o, "hw=56,cin=32,cout=64,k=3,s=1,act=hswish");
    float f[8];
    o->features(&c, f);
    const float want[8] = {56, 32, 64, 3, 1, 3, 116006912 / 2e6f, 18496 / 1e6f};
    for (int i = 0; i < 8; i++)
        cr_assert_float_eq(f[i], want[i], 1e-5 * fabs(want[i]), "feature %d: %g", i, (double)f[i]);
    cr_assert_eq(o->n_features, 8);
    const char *names = "hw cin cout k s act flops params";
    char got[128] = "";
    for (size_t i = 0; i < o->n_features; i++)
        snprintf(got + strlen(got), sizeof got - strlen(got), "%s%s", i ? " " : "", lp_kernel_feature_name(o, i));
    cr_assert_str_eq(got, names);
    cr_assert_eq(lp_test_kernel("dwconv-bn-relu")->n_features, 7);
    cr_assert_eq(lp_test_kernel("se")->n_features, 6);
    cr_assert_eq(lp_test_kernel("fc")->n_features, 4);
    /* add: act and layout are features (add vs addrelu are different kernels in nn-Meter) */
    o = lp_test_kernel("add");
    lp_kcfg a = parse(o, "hw=197,c=192,act=relu,layout=tokens");
    float fa[5];
    o->features(&a, fa);
    cr_assert_eq(fa[2], 1);
    cr_assert_eq(fa[3], 1);
}

/* One expected cost of a kernel config; a negative value is not checked. */
typedef struct cost_case {
    const char *cfg;
    double params, flops, macs, true_params;
} cost_case;

static void expect_costs(const char *kernel, const cost_case *cases, size_t n)
{
    const lp_kernel_ops *o = lp_test_kernel(kernel);
    for (size_t i = 0; i < n; i++) {
        const cost_case *e = &cases[i];
        lp_kcfg c = parse(o, e->cfg);
        lp_cost k;
        o->cost(&c, &k);
        cr_assert(e->params < 0 || k.params == e->params, "%s: params %g", e->cfg, k.params);
        cr_assert(e->flops < 0 || k.flops == e->flops, "%s: flops %g", e->cfg, k.flops);
        cr_assert(e->macs < 0 || k.macs == e->macs, "%s: macs %g", e->cfg, k.macs);
        cr_assert(e->true_params < 0 || k.true_params == e->true_params, "%s: true params %g",
                  e->cfg, k.true_params);
    }
}

/* conv-bn-relu against nn-Meter's formulas: params = cout*(k^2*cin+1), FLOPs = 2*(hw/s)^2*params;
 * conv plus bias holds exactly those params. */
Test(kernels, conv_cost_matches_nn_meter)
{
    static const cost_case cases[] = {
        {"hw=56,cin=32,cout=64,k=3,s=1,act=relu", 18496, 116006912, 57802752, 18496},
        {"hw=224,cin=3,cout=16,k=3,s=2,act=hswish", 448, 11239424, 5419008, 448},
        {"hw=7,cin=96,cout=24,k=3,s=2,act=none", 20760, 508620, 331776, 20760},
        {"hw=28,cin=40,cout=240,k=1,s=1,act=relu6", 9840, 15429120, 7526400, 9840},
        {"hw=224,cin=3,cout=192,k=16,s=16,act=none", 147648, 57878016, 28901376, 147648},
    };
    expect_costs("conv-bn-relu", cases, sizeof cases / sizeof cases[0]);
}

/* dwconv-bn-relu: params = cout*(k^2+1) with cout = cin; FLOPs likewise. */
Test(kernels, dwconv_cost_matches_nn_meter)
{
    static const cost_case cases[] = {
        {"hw=112,cin=32,k=3,s=1,act=relu", 320, 8028160, 3612672, -1},
        {"hw=56,cin=144,k=5,s=2,act=relu6", 3744, 5870592, 2822400, -1},
        {"hw=15,cin=240,k=7,s=2,act=hswish", 12000, 1350000, 752640, -1},
    };
    expect_costs("dwconv-bn-relu", cases, sizeof cases / sizeof cases[0]);
}

/* fc: params = FLOPs = (2*cin+1)*cout (nn-Meter's convention). */
Test(kernels, fc_cost_matches_nn_meter)
{
    static const cost_case cases[] = {
        {"cin=1280,cout=1000", 2561000, 2561000, 1280000, 1281000},
        {"cin=1984,cout=1000", 3969000, 3969000, 1984000, 1985000},
        {"cin=16,cout=24", 792, 792, 384, 408},
    };
    expect_costs("fc", cases, sizeof cases / sizeof cases[0]);
}

/* Every invalid value of every dim is rejected with a message naming the dim. */
Test(kernels, valid_names_each_bad_dim)
{
    for (size_t i = 0; i < N_KERNELS; i++) {
        const lp_kernel_ops *o = lp_test_kernel(kernels[i].name);
        lp_kcfg base = parse(o, kernels[i].cfg);
        for (size_t d = 0; d < o->n_dims; d++) {
            const lp_dim *dim = &o->dims[d];
            int32_t bad[3] = {dim->min - 1, dim->max + 1, INT32_MIN};
            if (dim->values) {
                bad[0] = dim->values[0] - 1;
                bad[1] = dim->values[dim->n_values - 1] + 1;
                for (size_t j = 0; j + 1 < dim->n_values; j++) /* a gap inside the set, if any */
                    if (dim->values[j + 1] - dim->values[j] > 1)
                        bad[2] = dim->values[j] + 1;
            }
            for (int b = 0; b < 3; b++) {
                lp_kcfg c = base;
                lp_err err = {0};
                c.v[d] = bad[b];
                char needle[64];
                snprintf(needle, sizeof needle, "%s=", dim->name);
                LP_CHECK(o->valid(&c, &err) == LP_EINVAL, "%s: %s=%d accepted", kernels[i].name, dim->name, bad[b]);
                LP_CHECK(strstr(err.msg, needle) && strstr(err.msg, "valid:"), "%s: '%s'", kernels[i].name, err.msg);
                lp_shape in[LP_KERNEL_MAX_IN], out;
                int n_in;
                LP_CHECK(o->io(&c, in, &n_in, &out, &err) == LP_EINVAL, "%s: io accepts a bad cfg", kernels[i].name);
            }
        }
    }
}

Test(kernels, cross_dim_rules)
{
    lp_err err = {0};
    const struct {
        const char *kernel, *cfg, *needle;
    } cases[] = {
        {"conv-bn-relu", "hw=224,cin=3,cout=192,k=16,s=1,act=none", "k=16 and s=16"},
        {"conv-bn-relu", "hw=224,cin=3,cout=192,k=3,s=16,act=none", "k=16 and s=16"},
        {"se", "hw=28,c=24,cse=32,act=relu", "cse=32 is wider than c=24"},
        {"add", "hw=400,c=64,act=none,layout=nhwc", "layout=nhwc"},
        {"grouped-conv", "hw=28,cin=240,cout=250,groups=3,act=relu", "groups=3 must divide"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        const lp_kernel_ops *o = lp_test_kernel(cases[i].kernel);
        lp_kcfg c;
        cr_assert_eq(lp_kcfg_parse(o->dims, o->n_dims, cases[i].cfg, &c, &err), 0, "%s", err.msg);
        cr_assert_eq(o->valid(&c, &err), LP_EINVAL, "%s accepted", cases[i].cfg);
        cr_assert(strstr(err.msg, cases[i].needle), "'%s' not in '%s'", cases[i].needle, err.msg);
        o->repair(&c);
        cr_assert_eq(o->valid(&c, &err), 0, "repair of %s: %s", cases[i].cfg, err.msg);
    }
    const lp_kernel_ops *add = lp_test_kernel("add");
    lp_kcfg t = parse(add, "hw=577,c=768,act=none,layout=tokens"); /* tokens may exceed a map's side */
    cr_assert_eq(t.v[0], 577);
}

Test(kernels, repair_always_gives_valid_configs)
{
    uint64_t seed = 42;
    for (size_t i = 0; i < N_KERNELS; i++) {
        const lp_kernel_ops *o = lp_test_kernel(kernels[i].name);
        for (int n = 0; n < 3000; n++) {
            lp_kcfg c = random_cfg(o, &seed), again;
            lp_err err = {0};
            o->repair(&c);
            LP_CHECK(o->valid(&c, &err) == 0, "%s: repair left an invalid cfg: %s", kernels[i].name, err.msg);
            again = c;
            o->repair(&again);
            LP_CHECK(!memcmp(&c, &again, sizeof c), "%s: repair moved a valid cfg",
                     kernels[i].name);
        }
        lp_kcfg rep = parse(o, kernels[i].cfg), keep = rep;
        o->repair(&rep);
        cr_assert_eq(memcmp(&rep, &keep, sizeof rep), 0, "%s: repair moved its representative", kernels[i].name);
    }
    /* snapping is to the nearest valid value */
    const lp_kernel_ops *o = lp_test_kernel("conv-bn-relu");
    lp_kcfg c = {{400, 0, 3000, 4, 3, 9}};
    o->repair(&c);
    char b[128];
    lp_kcfg_format(o->dims, o->n_dims, &c, b, sizeof b);
    cr_assert_str_eq(b, "hw=320,cin=1,cout=2560,k=3,s=2,act=swish");
}

Test(kernels, format_parse_round_trip)
{
    uint64_t seed = 7;
    for (size_t i = 0; i < N_KERNELS; i++) {
        const lp_kernel_ops *o = lp_test_kernel(kernels[i].name);
        char b[256], b2[256];
        lp_kcfg rep = parse(o, kernels[i].cfg);
        lp_kcfg_format(o->dims, o->n_dims, &rep, b, sizeof b);
        cr_assert_str_eq(b, kernels[i].cfg, "canonical form of the representative");
        for (int n = 0; n < 500; n++) {
            lp_kcfg c = random_valid(o, &seed), p;
            lp_err err = {0};
            lp_kcfg_format(o->dims, o->n_dims, &c, b, sizeof b);
            LP_CHECK(lp_kcfg_parse(o->dims, o->n_dims, b, &p, &err) == 0, "%s: %s", b, err.msg);
            LP_CHECK(!memcmp(&c, &p, sizeof c), "%s: round trip changed the cfg", b);
            lp_kcfg_format(o->dims, o->n_dims, &p, b2, sizeof b2);
            LP_CHECK(!strcmp(b, b2), "%s formats back as %s", b, b2);
        }
    }
    lp_err err = {0};
    lp_kcfg c;
    const lp_kernel_ops *o = lp_test_kernel("conv-bn-relu");
    cr_assert_eq(lp_kcfg_parse(o->dims, o->n_dims, "hw=56,cin=32,cout=64,k=3,stride=1,act=relu", &c, &err), LP_EINVAL);
    cr_assert(strstr(err.msg, "unknown key 'stride' (valid keys: hw, cin, cout, k, s, act)"), "%s", err.msg);
    cr_assert_eq(lp_kcfg_parse(o->dims, o->n_dims, "hw=56,cin=32,cout=64,k=3,s=1,act=mish", &c, &err), LP_EINVAL);
    cr_assert(strstr(err.msg, "act: unknown value 'mish' (valid: none, relu, relu6, hswish, swish)"), "%s", err.msg);
    o = lp_test_kernel("add");
    cr_assert_eq(lp_kcfg_parse(o->dims, o->n_dims, "hw=56,c=32,act=swish,layout=nhwc", &c, &err), 0);
    cr_assert_eq(o->valid(&c, &err), LP_EINVAL);
    cr_assert(strstr(err.msg, "act=swish is out of range (valid: none, relu)"), "%s", err.msg);
}

/* Builds cfg alone and checks the graph against io() and cost(). */
static void check_graph(const char *name, const lp_kernel_ops *o, const lp_kcfg *c)
{
    lp_graph g;
    lp_err err = {0};
    lp_shape in[LP_KERNEL_MAX_IN], want;
    char cs[256], s1[64], s2[64];
    int n_in = 0, out = -1;
    lp_kcfg_format(o->dims, o->n_dims, c, cs, sizeof cs);
    LP_CHECK(o->io(c, in, &n_in, &want, &err) == 0, "%s %s: %s", name, cs, err.msg);
    LP_CHECK(n_in >= 1 && n_in <= LP_KERNEL_MAX_IN, "%s: n_in %d", name, n_in);
    lp_graph_init(&g);
    LP_CHECK(lp_kernel_graph(o, c, &g, &out, &err) == 0, "%s %s: %s", name, cs, err.msg);
    lp_shape got = g.tensors[out].shape;
    LP_CHECK(lp_shape_equal(&got, &want), "%s %s: graph output %s, io() says %s", name, cs,
             lp_shape_str(&got, s1, sizeof s1), lp_shape_str(&want, s2, sizeof s2));
    LP_CHECK(g.n_outputs == 1, "%s: %zu outputs", name, g.n_outputs);
    for (int i = 0; i < n_in; i++)
        LP_CHECK(lp_shape_equal(&g.tensors[i].shape, &in[i]), "%s %s: input %d", name, cs, i);
    lp_cost k;
    o->cost(c, &k);
    double weights = (double)lp_graph_numel(&g, LP_TENSOR_WEIGHT);
    double inputs = (double)lp_graph_numel(&g, LP_TENSOR_INPUT);
    LP_CHECK(k.macs == lp_graph_macs(&g), "%s %s: cost macs %g, graph %g", name, cs, k.macs, lp_graph_macs(&g));
    LP_CHECK(k.true_params == weights, "%s %s: true params %g, graph weights %g", name, cs, k.true_params, weights);
    double bytes = 4 * (inputs + weights + (double)lp_shape_numel(&want));
    LP_CHECK(k.bytes == bytes, "%s %s: bytes %g, graph %g", name, cs, k.bytes, bytes);
    LP_CHECK(k.flops > 0 && k.params >= 0, "%s %s", name, cs);
    lp_graph_free(&g);
}

Test(kernels, io_matches_built_graph)
{
    uint64_t seed = 99;
    for (size_t i = 0; i < N_KERNELS; i++) {
        const lp_kernel_ops *o = lp_test_kernel(kernels[i].name);
        lp_kcfg rep = parse(o, kernels[i].cfg);
        check_graph(kernels[i].name, o, &rep);
        for (int n = 0; n < 200; n++) {
            lp_kcfg c = random_valid(o, &seed);
            check_graph(kernels[i].name, o, &c);
        }
    }
}

Test(kernels, spot_graphs)
{
    lp_graph g;
    lp_err err = {0};
    int out;
    /* SE: pool, squeeze conv (relu), excite conv (hsigmoid), broadcast multiply */
    const lp_kernel_ops *o = lp_test_kernel("se");
    lp_kcfg c = parse(o, "hw=28,c=72,cse=24,act=relu");
    lp_graph_init(&g);
    cr_assert_eq(lp_kernel_graph(o, &c, &g, &out, &err), 0, "%s", err.msg);
    const lp_prim se_prims[] = {LP_PRIM_POOL, LP_PRIM_CONV2D, LP_PRIM_CONV2D, LP_PRIM_MUL};
    cr_assert_eq(g.n_nodes, 4);
    for (int i = 0; i < 4; i++)
        cr_assert_eq(g.nodes[i].prim, se_prims[i], "se node %d is %s", i, lp_prim_name(g.nodes[i].prim));
    cr_assert_eq(g.nodes[1].p.conv.act, LP_ACT_RELU);
    cr_assert_eq(g.nodes[2].p.conv.act, LP_ACT_HSIGMOID);
    cr_assert_eq(g.nodes[3].in[0], 0, "the gate multiplies the block input");
    lp_graph_free(&g);

    /* mhsa: q.k^T scaled by 1/sqrt(d), softmax, .v, back to [n, h*d] */
    o = lp_test_kernel("mhsa");
    c = parse(o, "n=197,e=192,h=3,d=64");
    lp_graph_init(&g);
    cr_assert_eq(lp_kernel_graph(o, &c, &g, &out, &err), 0, "%s", err.msg);
    int mm = 0;
    for (size_t i = 0; i < g.n_nodes; i++) {
        if (g.nodes[i].prim != LP_PRIM_MATMUL)
            continue;
        if (mm++ == 0) {
            cr_assert_eq(g.nodes[i].p.matmul.trans_b, 1);
            cr_assert_float_eq(g.nodes[i].p.matmul.alpha, 0.125f, 1e-7);
            cr_assert(lp_shape_equal(&g.tensors[g.nodes[i].out].shape, &(lp_shape){3, {3, 197, 197, 0}}));
        }
    }
    cr_assert_eq(mm, 2);
    cr_assert_eq(lp_graph_fill(&g, 1, &err), 0);
    lp_graph_free(&g);

    /* dwconv is a conv with groups = channels; conv folds BN into its bias */
    o = lp_test_kernel("dwconv-bn-relu");
    c = parse(o, "hw=112,cin=96,k=5,s=2,act=relu6");
    lp_graph_init(&g);
    cr_assert_eq(lp_kernel_graph(o, &c, &g, &out, &err), 0, "%s", err.msg);
    cr_assert_eq(g.nodes[0].p.conv.groups, 96);
    cr_assert_eq(g.nodes[0].n_in, 3);
    cr_assert_eq(g.nodes[0].p.conv.act, LP_ACT_RELU6);
    lp_graph_free(&g);
}

Test(kernels, build_rejects_mismatched_inputs)
{
    lp_graph g;
    lp_err err = {0};
    int out = -1;
    lp_graph_init(&g);
    const lp_kernel_ops *o = lp_test_kernel("conv-bn-relu");
    lp_kcfg c = parse(o, "hw=56,cin=32,cout=64,k=3,s=1,act=relu");
    int x = lp_graph_input(&g, lp_shape_nhwc(28, 28, 32), &err);
    cr_assert_eq(o->build(&c, &g, &x, &out, &err), LP_EINVAL);
    cr_assert(strstr(err.msg, "input 0 is 1x28x28x32, but hw=56,cin=32,cout=64,k=3,s=1,act=relu needs 1x56x56x32"),
              "%s", err.msg);
    int bad = 17;
    cr_assert_eq(o->build(&c, &g, &bad, &out, &err), LP_EINVAL);
    cr_assert(strstr(err.msg, "tensor 17 does not exist"), "%s", err.msg);
    lp_kcfg inv = c;
    inv.v[3] = 4;
    cr_assert_eq(o->build(&inv, &g, &x, &out, &err), LP_EINVAL);
    cr_assert(strstr(err.msg, "k=4"), "%s", err.msg);
    cr_assert_eq(g.n_nodes, 0, "failed builds add nothing");

    o = lp_test_kernel("add");
    c = parse(o, "hw=28,c=40,act=relu,layout=nhwc");
    int a = lp_graph_input(&g, lp_shape_nhwc(28, 28, 40), &err);
    int b = lp_graph_input(&g, lp_shape_make(2, 784, 40, 0, 0), &err);
    int ab[2] = {a, b};
    cr_assert_eq(o->build(&c, &g, ab, &out, &err), LP_EINVAL);
    cr_assert(strstr(err.msg, "input 1 is 784x40"), "%s", err.msg);
    ab[1] = a;
    cr_assert_eq(o->build(&c, &g, ab, &out, &err), 0, "%s", err.msg);
    cr_assert_eq(g.nodes[0].p.add.act, LP_ACT_RELU);
    lp_graph_free(&g);
}

/* Kernels chain like an MBConv block in one graph: conv -> dwconv -> se -> conv -> add. */
Test(kernels, kernels_chain_into_one_graph)
{
    const char *seq[][2] = {
        {"conv-bn-relu", "hw=28,cin=40,cout=240,k=1,s=1,act=hswish"},
        {"dwconv-bn-relu", "hw=28,cin=240,k=5,s=1,act=hswish"},
        {"se", "hw=28,c=240,cse=64,act=relu"},
        {"conv-bn-relu", "hw=28,cin=240,cout=40,k=1,s=1,act=none"},
    };
    lp_graph g;
    lp_err err = {0};
    lp_graph_init(&g);
    int x = lp_graph_input(&g, lp_shape_nhwc(28, 28, 40), &err), t = x;
    double macs = 0;
    for (int i = 0; i < 4; i++) {
        const lp_kernel_ops *o = lp_test_kernel(seq[i][0]);
        lp_kcfg c = parse(o, seq[i][1]);
        lp_cost k;
        o->cost(&c, &k);
        macs += k.macs;
        cr_assert_eq(o->build(&c, &g, &t, &t, &err), 0, "%s: %s", seq[i][0], err.msg);
    }
    const lp_kernel_ops *add = lp_test_kernel("add");
    lp_kcfg ac = parse(add, "hw=28,c=40,act=none,layout=nhwc");
    int in[2] = {t, x};
    cr_assert_eq(add->build(&ac, &g, in, &t, &err), 0, "%s", err.msg);
    cr_assert_eq(lp_graph_mark_output(&g, t, &err), 0);
    cr_assert_eq(lp_graph_macs(&g), macs);
    cr_assert_eq(lp_graph_fill(&g, 3, &err), 0);
    lp_graph_free(&g);
}

/* Runs a built, filled graph on the native engine; returns its output (malloc'd), or NULL
 * when the engine is not built. */
static float *run_native(const lp_graph *g, int out)
{
    const lp_plugin *p = lp_registry_find(lp_test_reg, LP_KIND_ENGINE, "native");
    if (!p)
        return NULL;
    lp_instance *inst = NULL;
    lp_err err = {0};
    void *run = NULL;
    cr_assert_eq(lp_instance_create_kv(p, "threads=1", &inst, &err), 0, "%s", err.msg);
    const lp_engine_ops *e = lp_instance_ops(inst);
    size_t n = (size_t)lp_shape_numel(&g->tensors[out].shape);
    float *y = malloc(n * sizeof *y);
    cr_assert_not_null(y);
    cr_assert_eq(e->prepare(inst->priv, g, &run, &err), 0, "%s", err.msg);
    cr_assert_eq(e->run(run, &err), 0, "%s", err.msg);
    cr_assert_eq(e->output(run, 0, y, n, &err), 0, "%s", err.msg);
    e->release(run);
    lp_instance_destroy(inst);
    return y;
}

/* mhsa's layout: qkv columns are [q | k | v], each h heads of d (timm, AutoFormer). */
Test(kernels, mhsa_matches_reference_attention)
{
    enum { T = 5, H = 2, D = 4, HD = H * D };
    const lp_kernel_ops *o = lp_test_kernel("mhsa");
    lp_kcfg c = parse(o, "n=5,e=8,h=2,d=4");
    lp_graph g;
    lp_err err = {0};
    int out;
    lp_graph_init(&g);
    cr_assert_eq(lp_kernel_graph(o, &c, &g, &out, &err), 0, "%s", err.msg);
    cr_assert_eq(lp_graph_fill(&g, 11, &err), 0);
    float *y = run_native(&g, out);
    if (!y)
        cr_skip_test("the native engine is not built");
    const float *x = g.tensors[0].data;
    for (int h = 0; h < H; h++)
        for (int t = 0; t < T; t++) {
            double sc[T], mx = -1e30, sum = 0;
            for (int u = 0; u < T; u++) {
                sc[u] = 0;
                for (int i = 0; i < D; i++)
                    sc[u] += x[t * 3 * HD + h * D + i] * x[u * 3 * HD + HD + h * D + i];
                sc[u] /= sqrt((double)D);
                mx = sc[u] > mx ? sc[u] : mx;
            }
            for (int u = 0; u < T; u++)
                sum += (sc[u] = exp(sc[u] - mx));
            for (int i = 0; i < D; i++) {
                double ref = 0;
                for (int u = 0; u < T; u++)
                    ref += sc[u] / sum * x[u * 3 * HD + 2 * HD + h * D + i];
                cr_assert_float_eq(y[t * HD + h * D + i], ref, 1e-4, "token %d head %d dim %d: %g vs %g", t, h,
                                   i, (double)y[t * HD + h * D + i], ref);
            }
        }
    free(y);
    lp_graph_free(&g);
}

/* grouped-conv: output channel j of group i lands at j * groups + i (ShuffleNet's shuffle). */
Test(kernels, grouped_conv_matches_reference_shuffle)
{
    enum { HW = 3, CIN = 6, COUT = 12, G = 3, CPG = CIN / G, OPG = COUT / G };
    const lp_kernel_ops *o = lp_test_kernel("grouped-conv");
    lp_kcfg c = parse(o, "hw=3,cin=6,cout=12,groups=3,act=relu");
    lp_graph g;
    lp_err err = {0};
    int out;
    lp_graph_init(&g);
    cr_assert_eq(lp_kernel_graph(o, &c, &g, &out, &err), 0, "%s", err.msg);
    cr_assert_eq(lp_graph_fill(&g, 13, &err), 0);
    float *y = run_native(&g, out);
    if (!y)
        cr_skip_test("the native engine is not built");
    const lp_node *conv = &g.nodes[0];
    const float *x = g.tensors[conv->in[0]].data, *w = g.tensors[conv->in[1]].data, *b = g.tensors[conv->in[2]].data;
    for (int p = 0; p < HW * HW; p++)
        for (int oc = 0; oc < COUT; oc++) {
            int grp = oc / OPG, j = oc % OPG;
            double ref = b[oc];
            for (int k = 0; k < CPG; k++)
                ref += w[oc * CPG + k] * x[p * CIN + grp * CPG + k];
            ref = ref > 0 ? ref : 0;
            float got = y[p * COUT + j * G + grp];
            cr_assert_float_eq(got, ref, 1e-5, "pixel %d channel %d: %g vs %g", p, oc, (double)got, ref);
        }
    free(y);
    lp_graph_free(&g);
}

/* Kernel types describe, engines execute: every kernel's graph, the third-party
 * grouped-conv included, runs on the native engine with finite outputs. */
Test(kernels, every_kernel_runs_on_the_native_engine)
{
    const lp_plugin *p = lp_registry_find(lp_test_reg, LP_KIND_ENGINE, "native");
    if (!p)
        cr_skip_test("the native engine is not built");
    lp_instance *inst = NULL;
    lp_err err = {0};
    cr_assert_eq(lp_instance_create_kv(p, "threads=1", &inst, &err), 0, "%s", err.msg);
    const lp_engine_ops *e = lp_instance_ops(inst);
    for (size_t i = 0; i < N_KERNELS; i++) {
        const lp_kernel_ops *o = lp_test_kernel(kernels[i].name);
        lp_kcfg c = parse(o, kernels[i].cfg);
        lp_graph g;
        int out = -1;
        void *run = NULL;
        lp_graph_init(&g);
        cr_assert_eq(lp_kernel_graph(o, &c, &g, &out, &err), 0, "%s: %s", kernels[i].name, err.msg);
        cr_assert_eq(lp_graph_fill(&g, 5, &err), 0, "%s", err.msg);
        for (size_t n = 0; n < g.n_nodes; n++)
            cr_assert_eq(e->supports(inst->priv, &g, &g.nodes[n], &err), 0, "%s: %s", kernels[i].name, err.msg);
        cr_assert_eq(e->prepare(inst->priv, &g, &run, &err), 0, "%s: %s", kernels[i].name, err.msg);
        cr_assert_eq(e->run(run, &err), 0, "%s: %s", kernels[i].name, err.msg);
        size_t n = (size_t)lp_shape_numel(&g.tensors[out].shape);
        float *y = malloc(n * sizeof *y);
        cr_assert_not_null(y);
        cr_assert_eq(e->output(run, 0, y, n, &err), 0, "%s: %s", kernels[i].name, err.msg);
        size_t bad = 0;
        for (size_t j = 0; j < n; j++)
            bad += !isfinite(y[j]);
        cr_assert_eq(bad, 0, "%s: %zu of %zu outputs are not finite", kernels[i].name, bad, n);
        free(y);
        e->release(run);
        lp_graph_free(&g);
    }
    lp_instance_destroy(inst);
}
