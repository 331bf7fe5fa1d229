/* Kernel helpers: dim checks and snapping, canonical config strings, ops-table
 * checks, feature layout, nn-Meter conv cost, and the spaces' channel rounding. */
#include <criterion/criterion.h>
#include <math.h>
#include <string.h>

#include "lp_test.h"

static const int32_t kset[] = {1, 3, 5, 7};
static const lp_dim dims[] = {
    LP_DIM_RANGE("hw", "side", 1, 320, 1),
    LP_DIM_RANGE("cin", "channels", 8, 2048, 8),
    LP_DIM_SET("k", "kernel", kset),
    /* An enum dim kept out of the features (the shared LP_DIM_ACT is a feature). */
    {.name = "act", .help = "activation", .min = 0, .max = LP_KACT_COUNT - 1, .step = 1,
     .labels = lp_kact_labels, .flags = LP_DIM_NOFEAT},
};
#define ND (sizeof dims / sizeof dims[0])

static void expect_err(int rc, const lp_err *err, const char *needle)
{
    cr_assert_eq(rc, LP_EINVAL, "rc %d", rc);
    cr_assert(strstr(err->msg, needle), "'%s' not in '%s'", needle, err->msg);
}

Test(kernel_util, accepts_and_snaps)
{
    cr_assert(lp_dim_accepts(&dims[0], 1) && lp_dim_accepts(&dims[0], 320));
    cr_assert(!lp_dim_accepts(&dims[0], 0) && !lp_dim_accepts(&dims[0], 321));
    cr_assert(lp_dim_accepts(&dims[1], 16) && !lp_dim_accepts(&dims[1], 12));
    cr_assert(!lp_dim_accepts(&dims[2], 4));
    cr_assert_eq(lp_dim_snap(&dims[0], -5), 1);
    cr_assert_eq(lp_dim_snap(&dims[0], 9999), 320);
    cr_assert_eq(lp_dim_snap(&dims[1], 12), 8);   /* tie goes to the smaller */
    cr_assert_eq(lp_dim_snap(&dims[1], 13), 16);
    cr_assert_eq(lp_dim_snap(&dims[1], 2047), 2048);
    cr_assert_eq(lp_dim_snap(&dims[1], INT64_MAX / 4), 2048);
    cr_assert_eq(lp_dim_snap(&dims[2], 4), 3);    /* tie goes to the smaller */
    cr_assert_eq(lp_dim_snap(&dims[2], 6), 5);
    cr_assert_eq(lp_dim_snap(&dims[2], 100), 7);
    cr_assert_eq(lp_dim_snap(&dims[2], -100), 1);
    cr_assert_eq(lp_dim_snap(&dims[3], 17), LP_KACT_COUNT - 1);
    const lp_dim odd = LP_DIM_RANGE("x", "", 1, 10, 4); /* 1, 5, 9: 10 snaps down into range */
    cr_assert_eq(lp_dim_snap(&odd, 10), 9);
    cr_assert_eq(lp_dim_snap(&odd, 7), 5);
    char b[128];
    cr_assert_str_eq(lp_dim_describe(&dims[0], b, sizeof b), "1..320");
    cr_assert_str_eq(lp_dim_describe(&dims[1], b, sizeof b), "8..2048 step 8");
    cr_assert_str_eq(lp_dim_describe(&dims[2], b, sizeof b), "1, 3, 5, 7");
    cr_assert_str_eq(lp_dim_describe(&dims[3], b, sizeof b), "none, relu, relu6, hswish, swish");
}

Test(kernel_util, check_names_the_dim)
{
    lp_err err = {0};
    lp_kcfg c = {{56, 32, 3, 1}};
    cr_assert_eq(lp_kcfg_check(dims, ND, &c, &err), 0);
    c.v[0] = 400;
    expect_err(lp_kcfg_check(dims, ND, &c, &err), &err, "hw=400 is out of range (valid: 1..320)");
    c.v[0] = 56;
    c.v[1] = 12;
    expect_err(lp_kcfg_check(dims, ND, &c, &err), &err, "cin=12 is not a valid value (valid: 8..2048 step 8)");
    c.v[1] = 32;
    c.v[2] = 4;
    expect_err(lp_kcfg_check(dims, ND, &c, &err), &err, "k=4 is not a valid value (valid: 1, 3, 5, 7)");
    c.v[2] = 3;
    c.v[3] = 9;
    expect_err(lp_kcfg_check(dims, ND, &c, &err), &err, "act=9 is out of range (valid: none, relu");
}

Test(kernel_util, format_and_parse)
{
    lp_err err = {0};
    lp_kcfg c = {{56, 32, 3, 1}}, p;
    char b[128];
    int n = lp_kcfg_format(dims, ND, &c, b, sizeof b);
    cr_assert_str_eq(b, "hw=56,cin=32,k=3,act=relu");
    cr_assert_eq(n, (int)strlen(b));
    cr_assert_eq(lp_kcfg_format(dims, ND, &c, b, 8), n, "needed length is returned when truncated");
    cr_assert_eq(strlen(b), 7);
    cr_assert_eq(lp_kcfg_parse(dims, ND, "hw=56,cin=32,k=3,act=relu", &p, &err), 0, "%s", err.msg);
    cr_assert_eq(memcmp(&p, &c, sizeof c), 0);
    cr_assert_eq(lp_kcfg_parse(dims, ND, " act = relu , k=3,cin=32,  hw=56 ", &p, &err), 0, "%s", err.msg);
    cr_assert_eq(memcmp(&p, &c, sizeof c), 0);

    lp_kcfg keep = p;
    expect_err(lp_kcfg_parse(dims, ND, "hw=56,cin=32,kk=3,act=relu", &p, &err), &err,
               "unknown key 'kk' (valid keys: hw, cin, k, act)");
    cr_assert_eq(memcmp(&p, &keep, sizeof p), 0, "a failed parse leaves cfg alone");
    expect_err(lp_kcfg_parse(dims, ND, "hw=56,cin=32,k=3,act=gelu", &p, &err), &err,
               "act: unknown value 'gelu' (valid: none, relu, relu6, hswish, swish)");
    expect_err(lp_kcfg_parse(dims, ND, "hw=56,cin=32,k=3", &p, &err), &err, "missing key 'act'");
    expect_err(lp_kcfg_parse(dims, ND, "hw=56,hw=5,cin=32,k=3,act=relu", &p, &err), &err,
               "key 'hw' is given twice");
    expect_err(lp_kcfg_parse(dims, ND, "hw=5x6,cin=32,k=3,act=relu", &p, &err), &err, "hw: '5x6' is not");
    expect_err(lp_kcfg_parse(dims, ND, "hw=,cin=32,k=3,act=relu", &p, &err), &err, "hw: '' is not");
    expect_err(lp_kcfg_parse(dims, ND, "hw=99999999999,cin=32,k=3,act=relu", &p, &err), &err, "32-bit");
    expect_err(lp_kcfg_parse(dims, ND, "hw56,cin=32,k=3,act=relu", &p, &err), &err, "'hw56' is not key=value");
    expect_err(lp_kcfg_parse(dims, ND, "hw=56,,cin=32,k=3,act=relu", &p, &err), &err, "empty item");
    expect_err(lp_kcfg_parse(dims, ND, "", &p, &err), &err, "missing key 'hw'");
    expect_err(lp_kcfg_parse(dims, ND, NULL, &p, &err), &err, "NULL");
    /* parse is syntax only: ranges are valid()'s business */
    cr_assert_eq(lp_kcfg_parse(dims, ND, "hw=-4,cin=32,k=4,act=relu", &p, &err), 0);
    cr_assert_eq(p.v[0], -4);
}

static int ok_valid(const lp_kcfg *c, lp_err *e) { (void)c; (void)e; return 0; }
static void ok_repair(lp_kcfg *c) { (void)c; }
static void ok_cost(const lp_kcfg *c, lp_cost *o) { (void)c; memset(o, 0, sizeof *o); }
static void ok_features(const lp_kcfg *c, float *o) { (void)c; (void)o; }
static int ok_io(const lp_kcfg *c, lp_shape *i, int *n, lp_shape *o, lp_err *e)
{
    (void)c; (void)i; (void)n; (void)o; (void)e;
    return 0;
}
static int ok_build(const lp_kcfg *c, lp_graph *g, const int *i, int *o, lp_err *e)
{
    (void)c; (void)g; (void)i; (void)o; (void)e;
    return 0;
}

static lp_kernel_ops good_ops(void)
{
    return (lp_kernel_ops){.size = sizeof(lp_kernel_ops), .dims = dims, .n_dims = ND, .n_features = 5,
                           .valid = ok_valid, .repair = ok_repair, .cost = ok_cost,
                           .features = ok_features, .io = ok_io, .build = ok_build};
}

Test(kernel_util, ops_check)
{
    lp_err err = {0};
    lp_kernel_ops o = good_ops();
    cr_assert_eq(lp_kernel_ops_check(&o, &err), 0, "%s", err.msg);
    cr_assert_eq(lp_kernel_feature_dims(&o), 3, "act is not a feature");
    o.n_features = 4;
    cr_assert_eq(lp_kernel_ops_check(&o, &err), 0, "%s", err.msg);
    o.n_features = 6;
    cr_assert_eq(lp_kernel_ops_check(&o, &err), LP_EABI);
    cr_assert(strstr(err.msg, "n_features is 6"), "%s", err.msg);
    o = good_ops();
    o.build = NULL;
    cr_assert_eq(lp_kernel_ops_check(&o, &err), LP_EABI);
    o = good_ops();
    o.size = offsetof(lp_kernel_ops, io); /* an older, shorter struct lacks io and build */
    cr_assert_eq(lp_kernel_ops_check(&o, &err), LP_EABI);
    const lp_dim dup[] = {LP_DIM_RANGE("hw", "", 1, 2, 1), LP_DIM_RANGE("hw", "", 1, 2, 1)};
    o = good_ops();
    o.dims = dup;
    o.n_dims = 2;
    o.n_features = 3;
    cr_assert_eq(lp_kernel_ops_check(&o, &err), LP_EABI);
    cr_assert(strstr(err.msg, "'hw' is declared twice"), "%s", err.msg);
    static const int32_t desc_set[] = {3, 1};
    const lp_dim bad[] = {LP_DIM_SET("k", "", desc_set)};
    o.dims = bad;
    o.n_dims = 1;
    o.n_features = 2;
    cr_assert_eq(lp_kernel_ops_check(&o, &err), LP_EABI);
    cr_assert(strstr(err.msg, "ascending"), "%s", err.msg);
    static const char *const short_labels[] = {"a", NULL};
    const lp_dim badenum[] = {LP_DIM_ENUM("m", "", short_labels, 2)};
    o.dims = badenum;
    cr_assert_eq(lp_kernel_ops_check(&o, &err), LP_EABI);
    const lp_dim badname[] = {LP_DIM_RANGE("h w", "", 1, 2, 1)};
    o.dims = badname;
    cr_assert_eq(lp_kernel_ops_check(&o, &err), LP_EABI);
    cr_assert_eq(lp_kernel_ops_check(NULL, &err), LP_EABI);
}

Test(kernel_util, features_layout)
{
    lp_kernel_ops o = good_ops();
    lp_kcfg c = {{56, 32, 3, 4}};
    lp_cost cost = {.flops = 4e6, .params = 3e6};
    float f[8] = {-1, -1, -1, -1, -1, -1, -1, -1};
    lp_kernel_features(&o, &c, &cost, f);
    float want[] = {56, 32, 3, 2, 3};
    for (int i = 0; i < 5; i++)
        cr_assert_eq(f[i], want[i], "feature %d = %g", i, (double)f[i]);
    cr_assert_eq(f[5], -1, "wrote past n_features");
    const char *names[] = {"hw", "cin", "k", "flops", "params"};
    for (size_t i = 0; i < 5; i++)
        cr_assert_str_eq(lp_kernel_feature_name(&o, i), names[i]);
    cr_assert_null(lp_kernel_feature_name(&o, 5));
    o.n_features = 4;
    f[4] = -1;
    lp_kernel_features(&o, &c, &cost, f);
    cr_assert_eq(f[3], 2);
    cr_assert_eq(f[4], -1, "no params feature when n_features leaves no room");
}

Test(kernel_util, conv_cost)
{
    lp_cost c;
    lp_kernel_cost_conv(56, 32, 64, 3, 1, 1, &c);
    cr_assert_eq(c.params, 18496.0);
    cr_assert_eq(c.flops, 116006912.0);
    cr_assert_eq(c.macs, 57802752.0);
    cr_assert_eq(c.true_params, 18496.0);
    cr_assert_eq(c.bytes, 1278208.0);
    lp_kernel_cost_conv(7, 96, 24, 3, 2, 1, &c); /* nn-Meter divides as floats: (7/2)^2 */
    cr_assert_eq(c.params, 20760.0);
    cr_assert_eq(c.flops, 508620.0);
    cr_assert_eq(c.macs, 331776.0); /* true output is 4x4 */
    lp_kernel_cost_conv(56, 144, 144, 5, 2, 144, &c);
    cr_assert_eq(c.params, 3744.0);
    cr_assert_eq(c.flops, 5870592.0);
}

Test(kernel_util, channel_rounding)
{
    /* OFA-MobileNetV3 SE: Cse = make_divisible(Cmid / 4, 8) (search-spaces.md check values) */
    const int64_t mid[] = {72, 96, 144, 336, 448, 672}, cse[] = {24, 24, 40, 88, 112, 168};
    for (int i = 0; i < 6; i++)
        cr_assert_eq(lp_se_width_ofa(mid[i]), cse[i], "c=%lld -> %lld", (long long)mid[i],
                     (long long)lp_se_width_ofa(mid[i]));
    /* OFA w1.2 and Proxyless w1.3 widths */
    const double base12[] = {16, 24, 40, 80, 112, 160, 960, 1280};
    const int64_t w12[] = {24, 32, 48, 96, 136, 192, 1152, 1536};
    for (int i = 0; i < 8; i++)
        cr_assert_eq(lp_make_divisible(base12[i] * 1.2, 8), w12[i], "%g", base12[i]);
    const double base13[] = {32, 16, 24, 40, 80, 96, 192, 320, 1280};
    const int64_t w13[] = {40, 24, 32, 56, 104, 128, 248, 416, 1664};
    for (int i = 0; i < 9; i++)
        cr_assert_eq(lp_make_divisible(base13[i] * 1.3, 8), w13[i], "%g", base13[i]);
    /* ResNet-50 mid for Cout 2048, e in {0.2, 0.25, 0.35}: {408, 512, 720} */
    cr_assert_eq(lp_make_divisible(rint(2048 * 0.2), 8), 408);
    cr_assert_eq(lp_make_divisible(rint(2048 * 0.25), 8), 512);
    cr_assert_eq(lp_make_divisible(rint(2048 * 0.35), 8), 720);
    cr_assert_eq(lp_make_divisible(3, 8), 8);
    /* FBNet get_divisible_by */
    cr_assert_eq(lp_get_divisible_by(1344, 8), 1344);
    cr_assert_eq(lp_get_divisible_by(20, 8), 24);
    cr_assert_eq(lp_get_divisible_by(12, 8), 16); /* 1.5 rounds half up */
    cr_assert_eq(lp_get_divisible_by(9.6, 8), 16); /* 8 < 0.95 * 9.6 */
    cr_assert_eq(lp_get_divisible_by(3, 8), 8);
    cr_assert_eq(lp_se_width_fbnet(96, 4), 8);
    cr_assert_eq(lp_se_width_fbnet(720, 5), 40); /* int(36) -> 40 */
}

Test(kernel_util, activation_labels)
{
    cr_assert_eq(lp_kact_to_act(0), LP_ACT_NONE);
    cr_assert_eq(lp_kact_to_act(2), LP_ACT_RELU6);
    cr_assert_eq(lp_kact_to_act(4), LP_ACT_SWISH);
    cr_assert_eq(lp_kact_to_act(9), LP_ACT_NONE);
    for (int i = 0; i < LP_KACT_COUNT; i++)
        cr_assert_str_eq(lp_kact_labels[i], lp_act_name(lp_kact_to_act(i)), "labels match lp_act names");
    cr_assert_null(lp_kact_labels[LP_KACT_COUNT]);
}
