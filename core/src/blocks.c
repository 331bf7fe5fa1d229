/* Block builders: the fused-kernel sequences of network parts (search-spaces.md
 * section 1). Every kernel config string is written here, so the dims each kernel
 * type is given live in one file. */
#include "blocks.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>

void lp_bld_init(lp_bld *b, lp_model *m, lp_err *err)
{
    b->m = m;
    b->cur = LP_MODEL_INPUT;
    b->hw = (int)m->input_hw;
    b->c = (int)m->input_c;
    b->ntok = 0;
    b->err = err;
}

/* Same padding everywhere: out = ceil(in / stride). */
static int down(int hw, int s)
{
    return (hw + s - 1) / s;
}

/* Appends one kernel reading in[0..n_in) with a printf-style config; returns its index. */
static int add_kernel(lp_bld *b, const char *type, const int *in, int n_in, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));

static int add_kernel(lp_bld *b, const char *type, const int *in, int n_in, const char *fmt, ...)
{
    char cfg[256];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(cfg, sizeof cfg, fmt, ap);
    va_end(ap);
    return lp_model_add_kernel(b->m, type, cfg, in, n_in, b->err);
}

static int conv_kernel(lp_bld *b, int in, int hw, int cin, int cout, int k, int s, lp_act act)
{
    return add_kernel(b, "conv-bn-relu", &in, 1, "hw=%d,cin=%d,cout=%d,k=%d,s=%d,act=%s", hw,
                      cin, cout, k, s, lp_act_name(act));
}

static int add_add(lp_bld *b, int x, int y, lp_act act)
{
    int in[2] = {x, y};
    if (b->ntok)
        return add_kernel(b, "add", in, 2, "hw=%d,c=%d,act=%s,layout=tokens", b->ntok, b->c,
                          lp_act_name(act));
    return add_kernel(b, "add", in, 2, "hw=%d,c=%d,act=%s,layout=nhwc", b->hw, b->c,
                      lp_act_name(act));
}

/* A standalone activation kernel (fc heads, GELU after a linear layer). */
static int act_kernel(lp_bld *b, int in, lp_act act)
{
    const char *type = act == LP_ACT_HSWISH  ? "hswish"
                       : act == LP_ACT_SWISH ? "swish"
                       : act == LP_ACT_GELU  ? "gelu"
                                             : NULL;
    if (!type)
        return lp_err_set(b->err, LP_EUNSUPPORTED,
                          "no standalone kernel type for activation '%s' (hswish, swish, gelu)",
                          lp_act_name(act));
    if (b->ntok)
        return add_kernel(b, type, &in, 1, "n=%d,c=%d", b->ntok, b->c);
    return add_kernel(b, type, &in, 1, "hw=%d,c=%d", b->hw, b->c);
}

int lp_bld_conv(lp_bld *b, int cout, int k, int s, lp_act act)
{
    int i = conv_kernel(b, b->cur, b->hw, b->c, cout, k, s, act);
    if (i < 0)
        return i;
    b->cur = i;
    b->hw = down(b->hw, s);
    b->c = cout;
    return 0;
}

int lp_bld_res_conv(lp_bld *b, int k, lp_act act)
{
    int x = b->cur;
    int i = conv_kernel(b, x, b->hw, b->c, b->c, k, 1, act);
    if (i < 0 || (i = add_add(b, i, x, LP_ACT_NONE)) < 0)
        return i;
    b->cur = i;
    return 0;
}

int lp_bld_maxpool(lp_bld *b, int k, int s)
{
    int i = add_kernel(b, "maxpool", &b->cur, 1, "hw=%d,cin=%d,k=%d,s=%d", b->hw, b->c, k, s);
    if (i < 0)
        return i;
    b->cur = i;
    b->hw = down(b->hw, s);
    return 0;
}

int lp_bld_global_pool(lp_bld *b)
{
    int i = add_kernel(b, "global-avgpool", &b->cur, 1, "hw=%d,c=%d", b->hw, b->c);
    if (i < 0)
        return i;
    b->cur = i;
    b->hw = 1;
    return 0;
}

int lp_bld_fc(lp_bld *b, int cout, lp_act act)
{
    int i = add_kernel(b, "fc", &b->cur, 1, "cin=%d,cout=%d", b->c, cout);
    if (i < 0)
        return i;
    b->cur = i;
    b->c = cout;
    b->hw = 1;
    if (act != LP_ACT_NONE) {
        if ((i = act_kernel(b, b->cur, act)) < 0)
            return i;
        b->cur = i;
    }
    return 0;
}

int lp_bld_mbconv(lp_bld *b, const lp_mbconv_args *a)
{
    int x = b->cur, cin = b->c, hw = b->hw, hw2 = down(hw, a->s);
    int mid = lp_mbconv_mid(a->rounding, cin, a->e), i = x;
    /* The expand conv exists only when it changes the width (e == 1, FBNet's Cmid == Cin). */
    if (mid != cin && (i = conv_kernel(b, i, hw, cin, mid, 1, 1, a->act)) < 0)
        return i;
    if ((i = add_kernel(b, "dwconv-bn-relu", &i, 1, "hw=%d,cin=%d,k=%d,s=%d,act=%s", hw, mid,
                        a->k, a->s, lp_act_name(a->act))) < 0)
        return i;
    if (a->se) {
        int cse = lp_se_width(a->se_rule, mid, a->e);
        if ((i = add_kernel(b, "se", &i, 1, "hw=%d,c=%d,cse=%d,act=%s", hw2, mid, cse,
                            lp_act_name(a->se_act))) < 0)
            return i;
    }
    if ((i = conv_kernel(b, i, hw2, mid, a->cout, 1, 1, LP_ACT_NONE)) < 0)
        return i;
    b->hw = hw2;
    b->c = a->cout;
    if (a->residual && a->s == 1 && cin == a->cout && (i = add_add(b, i, x, LP_ACT_NONE)) < 0)
        return i;
    b->cur = i;
    return 0;
}

int lp_bld_bottleneck(lp_bld *b, int cout, double e, int s, lp_act act, lp_shortcut sc,
                      lp_round rule)
{
    int x = b->cur, cin = b->c, hw = b->hw, hw2 = down(hw, s);
    int mid = lp_mbconv_mid(rule, cout, e), i, short_in = x;
    if ((i = conv_kernel(b, x, hw, cin, mid, 1, 1, act)) < 0 ||
        (i = conv_kernel(b, i, hw, mid, mid, 3, s, act)) < 0 ||
        (i = conv_kernel(b, i, hw2, mid, cout, 1, 1, LP_ACT_NONE)) < 0)
        return i;
    int main_out = i;
    if (s != 1 || cin != cout) {
        if (sc == LP_SHORTCUT_AVGPOOL_CONV) {
            /* ResNet-D pools before the 1x1 conv; stage 1's first block keeps a 1x1/s1 pool. */
            if ((i = add_kernel(b, "avgpool", &x, 1, "hw=%d,cin=%d,k=%d,s=%d", hw, cin, s, s)) < 0 ||
                (i = conv_kernel(b, i, hw2, cin, cout, 1, 1, LP_ACT_NONE)) < 0)
                return i;
        } else if ((i = conv_kernel(b, x, hw, cin, cout, 1, s, LP_ACT_NONE)) < 0) {
            return i;
        }
        short_in = i;
    }
    b->hw = hw2;
    b->c = cout;
    if ((i = add_add(b, main_out, short_in, LP_ACT_RELU)) < 0)
        return i;
    b->cur = i;
    return 0;
}

int lp_bld_patch(lp_bld *b, int dim, int p)
{
    int i = conv_kernel(b, b->cur, b->hw, b->c, dim, p, p, LP_ACT_NONE);
    if (i < 0)
        return i;
    int g = down(b->hw, p);
    if ((i = lp_model_add_op(b->m, LP_MOP_TOKENS, 1, i, b->err)) < 0)
        return i;
    b->cur = i;
    b->c = dim;
    b->hw = 0;
    b->ntok = g * g + 1;
    return 0;
}

static int linear(lp_bld *b, int in, int cin, int cout)
{
    return add_kernel(b, "linear", &in, 1, "n=%d,cin=%d,cout=%d", b->ntok, cin, cout);
}

static int layernorm(lp_bld *b, int in)
{
    return add_kernel(b, "layernorm", &in, 1, "n=%d,c=%d", b->ntok, b->c);
}

int lp_bld_transformer(lp_bld *b, int heads, int head_dim, double mlp)
{
    int x = b->cur, e = b->c, qkv = heads * head_dim, hidden = (int)(e * mlp), i;
    if (!b->ntok)
        return lp_err_set(b->err, LP_EINVAL, "a transformer block needs tokens (a patch layer)");
    if ((i = layernorm(b, x)) < 0 || (i = linear(b, i, e, 3 * qkv)) < 0 ||
        (i = add_kernel(b, "mhsa", &i, 1, "n=%d,e=%d,h=%d,d=%d", b->ntok, e, heads, head_dim)) < 0 ||
        (i = linear(b, i, qkv, e)) < 0 || (i = add_add(b, i, x, LP_ACT_NONE)) < 0)
        return i;
    int y = i;
    if ((i = layernorm(b, y)) < 0 || (i = linear(b, i, e, hidden)) < 0)
        return i;
    int saved = b->c;
    b->c = hidden;
    i = act_kernel(b, i, LP_ACT_GELU);
    b->c = saved;
    if (i < 0 || (i = linear(b, i, hidden, e)) < 0 || (i = add_add(b, i, y, LP_ACT_NONE)) < 0)
        return i;
    b->cur = i;
    return 0;
}

int lp_bld_layernorm(lp_bld *b)
{
    if (!b->ntok)
        return lp_err_set(b->err, LP_EINVAL, "layernorm needs tokens (a patch layer)");
    int i = layernorm(b, b->cur);
    if (i < 0)
        return i;
    b->cur = i;
    return 0;
}

int lp_bld_token_pool(lp_bld *b, lp_token_pool mode)
{
    if (!b->ntok)
        return lp_err_set(b->err, LP_EINVAL, "token-pool needs tokens (a patch layer)");
    int i = lp_model_add_op(b->m, LP_MOP_TOKEN_POOL, (int)mode, b->cur, b->err);
    if (i < 0)
        return i;
    b->cur = i;
    b->ntok = 0;
    b->hw = 1;
    return 0;
}
