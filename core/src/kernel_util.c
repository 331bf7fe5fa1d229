/* Helpers every kernel plugin uses: dim validation and snapping, canonical
 * config strings, nn-Meter features and conv cost, build checks, and the
 * channel-rounding rules of the NAS spaces. Kept here so kernel types cannot
 * drift apart in how they accept, write or describe a configuration. */
#include <litepred/kernel.h>

#include <ctype.h>
#include <stdarg.h>
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const char *const lp_kact_labels[LP_KACT_COUNT + 1] = {"none", "relu", "relu6", "hswish", "swish", NULL};

lp_act lp_kact_to_act(int32_t v)
{
    static const lp_act acts[LP_KACT_COUNT] = {LP_ACT_NONE, LP_ACT_RELU, LP_ACT_RELU6, LP_ACT_HSWISH,
                                               LP_ACT_SWISH};
    return v >= 0 && v < LP_KACT_COUNT ? acts[v] : LP_ACT_NONE;
}

/* ---- one dim ---------------------------------------------------------- */

static int32_t dim_step(const lp_dim *d)
{
    return d->step > 0 ? d->step : 1;
}

int lp_dim_accepts(const lp_dim *dim, int64_t v)
{
    if (dim->values) {
        for (size_t i = 0; i < dim->n_values; i++)
            if (dim->values[i] == v)
                return 1;
        return 0;
    }
    return v >= dim->min && v <= dim->max && (v - dim->min) % dim_step(dim) == 0;
}

int32_t lp_dim_snap(const lp_dim *dim, int64_t v)
{
    if (dim->values) {
        if (dim->n_values == 0)
            return 0;
        int32_t best = dim->values[0];
        for (size_t i = 1; i < dim->n_values; i++) /* ascending: strict < keeps the smaller on ties */
            if (llabs(dim->values[i] - v) < llabs(best - v))
                best = dim->values[i];
        return best;
    }
    if (v <= dim->min)
        return dim->min;
    if (v >= dim->max)
        v = dim->max;
    int64_t step = dim_step(dim), q = (v - dim->min) / step, r = (v - dim->min) % step;
    if (2 * r > step)
        q++;
    if (dim->min + q * step > dim->max)
        q--;
    return (int32_t)(dim->min + q * step);
}

/* Appends printf-style text to buf at *len without overrunning size. */
static void append(char *buf, size_t size, size_t *len, const char *fmt, ...) __attribute__((format(printf, 4, 5)));
static void append(char *buf, size_t size, size_t *len, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(*len < size ? buf + *len : NULL, *len < size ? size - *len : 0, fmt, ap);
    va_end(ap);
    if (n > 0)
        *len += (size_t)n;
}

char *lp_dim_describe(const lp_dim *dim, char *buf, size_t size)
{
    if (!buf || size == 0)
        return buf;
    buf[0] = '\0';
    size_t len = 0;
    if (dim->values) {
        for (size_t i = 0; i < dim->n_values; i++)
            append(buf, size, &len, "%s%d", i ? ", " : "", dim->values[i]);
    } else if (dim->labels) {
        for (int32_t v = dim->min; v <= dim->max && dim->labels[v]; v++)
            append(buf, size, &len, "%s%s", v > dim->min ? ", " : "", dim->labels[v]);
    } else if (dim_step(dim) > 1) {
        append(buf, size, &len, "%d..%d step %d", dim->min, dim->max, dim_step(dim));
    } else {
        append(buf, size, &len, "%d..%d", dim->min, dim->max);
    }
    return buf;
}

/* labels[v] when the NULL-terminated list reaches v (a shared list may outrun the dim's range). */
static const char *label_of(const lp_dim *d, int32_t v)
{
    if (!d->labels || v < 0)
        return NULL;
    for (int32_t i = 0; d->labels[i]; i++)
        if (i == v)
            return d->labels[i];
    return NULL;
}

/* Writes one value as the config string shows it: its label for enum dims. */
static void append_value(const lp_dim *d, int32_t v, char *buf, size_t size, size_t *len)
{
    const char *l = label_of(d, v);
    if (l)
        append(buf, size, len, "%s", l);
    else
        append(buf, size, len, "%d", v);
}

/* ---- whole configs ------------------------------------------------------ */

int lp_kcfg_check(const lp_dim *dims, size_t n_dims, const lp_kcfg *cfg, lp_err *err)
{
    for (size_t i = 0; i < n_dims; i++) {
        const lp_dim *d = &dims[i];
        int32_t v = cfg->v[i];
        if (lp_dim_accepts(d, v))
            continue;
        char val[64], valid[512];
        size_t len = 0;
        append_value(d, v, val, sizeof val, &len);
        int outside = d->values ? (d->n_values == 0 || v < d->values[0] || v > d->values[d->n_values - 1])
                                : (v < d->min || v > d->max);
        return lp_err_set(err, LP_EINVAL, "%s=%s is %s (valid: %s)", d->name, val,
                          outside ? "out of range" : "not a valid value", lp_dim_describe(d, valid, sizeof valid));
    }
    return 0;
}

void lp_kcfg_snap(const lp_dim *dims, size_t n_dims, lp_kcfg *cfg)
{
    for (size_t i = 0; i < LP_KCFG_MAX_DIMS; i++)
        cfg->v[i] = i < n_dims ? lp_dim_snap(&dims[i], cfg->v[i]) : 0;
}

int lp_kcfg_format(const lp_dim *dims, size_t n_dims, const lp_kcfg *cfg, char *buf, size_t size)
{
    size_t len = 0;
    if (buf && size)
        buf[0] = '\0';
    for (size_t i = 0; i < n_dims; i++) {
        append(buf, size, &len, "%s%s=", i ? "," : "", dims[i].name);
        append_value(&dims[i], cfg->v[i], buf, size, &len);
    }
    return (int)len;
}

static char *key_list(const lp_dim *dims, size_t n_dims, char *buf, size_t size)
{
    size_t len = 0;
    buf[0] = '\0';
    for (size_t i = 0; i < n_dims; i++)
        append(buf, size, &len, "%s%s", i ? ", " : "", dims[i].name);
    return buf;
}

/* Trims spaces from both ends of [*s, *e). */
static void trim(const char **s, const char **e)
{
    while (*s < *e && isspace((unsigned char)**s))
        (*s)++;
    while (*e > *s && isspace((unsigned char)(*e)[-1]))
        (*e)--;
}

/* Parses one value of dim d from [s, e) into *out. */
static int parse_value(const lp_dim *d, const char *s, const char *e, int32_t *out, lp_err *err)
{
    int n = (int)(e - s);
    if (d->labels) {
        for (int32_t v = 0; d->labels[v]; v++)
            if ((int)strlen(d->labels[v]) == n && !strncmp(d->labels[v], s, (size_t)n)) {
                *out = v;
                return 0;
            }
        char valid[512];
        return lp_err_set(err, LP_EINVAL, "%s: unknown value '%.*s' (valid: %s)", d->name, n, s,
                          lp_dim_describe(d, valid, sizeof valid));
    }
    char tmp[32], *end = NULL;
    if (n == 0 || n >= (int)sizeof tmp)
        return lp_err_set(err, LP_EINVAL, "%s: '%.*s' is not an integer", d->name, n, s);
    memcpy(tmp, s, (size_t)n);
    tmp[n] = '\0';
    errno = 0;
    long long v = strtoll(tmp, &end, 10);
    if (*end || errno || v < INT32_MIN || v > INT32_MAX)
        return lp_err_set(err, LP_EINVAL, "%s: '%s' is not a 32-bit integer", d->name, tmp);
    *out = (int32_t)v;
    return 0;
}

/* Parses one "key=value" item [s, e) into cfg, recording the key in seen. */
static int parse_item(const lp_dim *dims, size_t n_dims, const char *s, const char *e, lp_kcfg *cfg,
                      int *seen, lp_err *err)
{
    char keys[512];
    trim(&s, &e);
    const char *eq = memchr(s, '=', (size_t)(e - s));
    if (s == e)
        return lp_err_set(err, LP_EINVAL, "empty item (expected key=value; keys: %s)",
                          key_list(dims, n_dims, keys, sizeof keys));
    if (!eq)
        return lp_err_set(err, LP_EINVAL, "'%.*s' is not key=value (keys: %s)", (int)(e - s), s,
                          key_list(dims, n_dims, keys, sizeof keys));
    const char *ks = s, *ke = eq, *vs = eq + 1, *ve = e;
    trim(&ks, &ke);
    trim(&vs, &ve);
    for (size_t i = 0; i < n_dims; i++) {
        if (strlen(dims[i].name) != (size_t)(ke - ks) || strncmp(dims[i].name, ks, (size_t)(ke - ks)))
            continue;
        if (seen[i])
            return lp_err_set(err, LP_EINVAL, "key '%s' is given twice", dims[i].name);
        seen[i] = 1;
        return parse_value(&dims[i], vs, ve, &cfg->v[i], err);
    }
    return lp_err_set(err, LP_EINVAL, "unknown key '%.*s' (valid keys: %s)", (int)(ke - ks), ks,
                      key_list(dims, n_dims, keys, sizeof keys));
}

int lp_kcfg_parse(const lp_dim *dims, size_t n_dims, const char *text, lp_kcfg *cfg, lp_err *err)
{
    if (!text)
        return lp_err_set(err, LP_EINVAL, "config string is NULL");
    lp_kcfg tmp = {{0}};
    int seen[LP_KCFG_MAX_DIMS] = {0};
    const char *s = text, *end = text + strlen(text);
    const char *ts = s, *te = end;
    trim(&ts, &te);
    while (ts < te) { /* an empty string has no items and fails on the first missing key */
        const char *comma = memchr(s, ',', (size_t)(end - s));
        const char *e = comma ? comma : end;
        int rc = parse_item(dims, n_dims, s, e, &tmp, seen, err);
        if (rc < 0)
            return rc;
        if (!comma)
            break;
        s = comma + 1;
    }
    char keys[512];
    for (size_t i = 0; i < n_dims; i++)
        if (!seen[i])
            return lp_err_set(err, LP_EINVAL, "missing key '%s' (keys: %s)", dims[i].name,
                              key_list(dims, n_dims, keys, sizeof keys));
    *cfg = tmp;
    return 0;
}

/* ---- kernel types ------------------------------------------------------ */

static int check_name(const char *name)
{
    if (!name || !*name)
        return 0;
    for (const char *p = name; *p; p++)
        if (!islower((unsigned char)*p) && !isdigit((unsigned char)*p) && *p != '_')
            return 0;
    return 1;
}

static int check_dim(const lp_dim *d, size_t i, lp_err *err)
{
    if (!check_name(d->name))
        return lp_err_set(err, LP_EABI, "dim %zu: name '%s' must be non-empty [a-z0-9_]", i,
                          d->name ? d->name : "(null)");
    if (d->values) {
        if (d->n_values == 0 || d->labels)
            return lp_err_set(err, LP_EABI, "dim '%s': a value set must be non-empty and unlabelled", d->name);
        for (size_t j = 1; j < d->n_values; j++)
            if (d->values[j] <= d->values[j - 1])
                return lp_err_set(err, LP_EABI, "dim '%s': values must be strictly ascending", d->name);
        return 0;
    }
    if (d->min > d->max || d->step < 1)
        return lp_err_set(err, LP_EABI, "dim '%s': range %d..%d step %d is empty", d->name, d->min, d->max,
                          d->step);
    if (d->labels) {
        if (d->min < 0)
            return lp_err_set(err, LP_EABI, "dim '%s': an enum dim cannot start below 0", d->name);
        for (int32_t v = 0; v <= d->max; v++)
            if (!d->labels[v] || !check_name(d->labels[v]))
                return lp_err_set(err, LP_EABI, "dim '%s': label %d is missing or not [a-z0-9_]", d->name, v);
    }
    return 0;
}

size_t lp_kernel_feature_dims(const lp_kernel_ops *ops)
{
    size_t n = 0;
    for (size_t i = 0; i < ops->n_dims; i++)
        n += !(ops->dims[i].flags & LP_DIM_NOFEAT);
    return n;
}

int lp_kernel_ops_check(const lp_kernel_ops *ops, lp_err *err)
{
    if (!ops)
        return lp_err_set(err, LP_EABI, "kernel ops are NULL");
    if (!LP_OPS_HAS(ops, lp_kernel_ops, valid) || !LP_OPS_HAS(ops, lp_kernel_ops, repair) ||
        !LP_OPS_HAS(ops, lp_kernel_ops, cost) || !LP_OPS_HAS(ops, lp_kernel_ops, features) ||
        !LP_OPS_HAS(ops, lp_kernel_ops, io) || !LP_OPS_HAS(ops, lp_kernel_ops, build))
        return lp_err_set(err, LP_EABI, "kernel ops lack a member (valid, repair, cost, features, io and build are required)");
    if (!ops->dims || ops->n_dims < 1 || ops->n_dims > LP_KCFG_MAX_DIMS)
        return lp_err_set(err, LP_EABI, "kernel declares %zu dims (1..%d allowed)", ops->n_dims, LP_KCFG_MAX_DIMS);
    for (size_t i = 0; i < ops->n_dims; i++) {
        int rc = check_dim(&ops->dims[i], i, err);
        if (rc < 0)
            return rc;
        for (size_t j = 0; j < i; j++)
            if (!strcmp(ops->dims[i].name, ops->dims[j].name))
                return lp_err_set(err, LP_EABI, "dim '%s' is declared twice", ops->dims[i].name);
    }
    size_t fd = lp_kernel_feature_dims(ops);
    if (ops->n_features != fd + 1 && ops->n_features != fd + 2)
        return lp_err_set(err, LP_EABI, "n_features is %zu, but %zu feature dims allow %zu (FLOPs) or %zu (FLOPs, params)",
                          ops->n_features, fd, fd + 1, fd + 2);
    return 0;
}

void lp_kernel_features(const lp_kernel_ops *ops, const lp_kcfg *cfg, const lp_cost *cost, float *out)
{
    size_t j = 0;
    for (size_t i = 0; i < ops->n_dims; i++)
        if (!(ops->dims[i].flags & LP_DIM_NOFEAT))
            out[j++] = (float)cfg->v[i];
    out[j++] = (float)(cost->flops / 2e6);
    if (j < ops->n_features)
        out[j++] = (float)(cost->params / 1e6);
}

const char *lp_kernel_feature_name(const lp_kernel_ops *ops, size_t i)
{
    if (i >= ops->n_features)
        return NULL;
    for (size_t d = 0; d < ops->n_dims; d++)
        if (!(ops->dims[d].flags & LP_DIM_NOFEAT) && i-- == 0)
            return ops->dims[d].name;
    return i == 0 ? "flops" : "params";
}

void lp_kernel_cost_conv(int64_t hw, int64_t cin, int64_t cout, int k, int s, int groups, lp_cost *out)
{
    double cpg = (double)(cin / (groups > 0 ? groups : 1)), kk = (double)k * k;
    double ratio = (double)hw / s, o = (double)lp_out_size(hw, s);
    out->params = (double)cout * (kk * cpg + 1);
    out->flops = 2 * ratio * ratio * out->params;
    out->macs = o * o * (double)cout * kk * cpg;
    out->true_params = (double)cout * kk * cpg + (double)cout;
    out->bytes = 4 * ((double)hw * hw * cin + out->true_params + o * o * cout);
}

int lp_kernel_build_check(const lp_kernel_ops *ops, const lp_kcfg *cfg, const lp_graph *g, const int *in,
                          lp_err *err)
{
    lp_shape want[LP_KERNEL_MAX_IN], out;
    int n_in = 0;
    int rc = ops->valid(cfg, err);
    if (rc < 0 || (rc = ops->io(cfg, want, &n_in, &out, err)) < 0)
        return rc;
    if (!g || (n_in > 0 && !in))
        return lp_err_set(err, LP_EINVAL, "build: graph or inputs are NULL");
    for (int i = 0; i < n_in; i++) {
        char c[256], s1[64], s2[64];
        if (in[i] < 0 || (size_t)in[i] >= g->n_tensors)
            return lp_err_set(err, LP_EINVAL, "input %d: tensor %d does not exist (the graph has %zu tensors)", i,
                              in[i], g->n_tensors);
        if (!lp_shape_equal(&g->tensors[in[i]].shape, &want[i])) {
            lp_kcfg_format(ops->dims, ops->n_dims, cfg, c, sizeof c);
            return lp_err_set(err, LP_EINVAL, "input %d is %s, but %s needs %s", i,
                              lp_shape_str(&g->tensors[in[i]].shape, s1, sizeof s1), c,
                              lp_shape_str(&want[i], s2, sizeof s2));
        }
    }
    return 0;
}

int lp_kernel_graph(const lp_kernel_ops *ops, const lp_kcfg *cfg, lp_graph *g, int *out, lp_err *err)
{
    lp_shape ins[LP_KERNEL_MAX_IN], os;
    int n_in = 0, ids[LP_KERNEL_MAX_IN], o = -1;
    int rc = ops->io(cfg, ins, &n_in, &os, err);
    if (rc < 0)
        return rc;
    for (int i = 0; i < n_in; i++)
        if ((ids[i] = lp_graph_input(g, ins[i], err)) < 0)
            return ids[i];
    if ((rc = ops->build(cfg, g, ids, &o, err)) < 0 || (rc = lp_graph_mark_output(g, o, err)) < 0)
        return rc;
    if (out)
        *out = o;
    return 0;
}

/* ---- channel rounding of the NAS spaces ---------------------------------- */

int64_t lp_make_divisible(double v, int divisor)
{
    int64_t nv = (int64_t)(v + divisor / 2.0) / divisor * divisor;
    if (nv < divisor)
        nv = divisor;
    if ((double)nv < 0.9 * v)
        nv += divisor;
    return nv;
}

int64_t lp_get_divisible_by(double n, int divisor)
{
    int64_t ret = (int64_t)n;
    if (fmod(n, divisor) != 0) {
        ret = (int64_t)floor(n / divisor + 0.5) * divisor; /* Python 2 round: halves away from zero */
        if ((double)ret < 0.95 * n)
            ret += divisor;
    }
    return ret < divisor ? divisor : ret;
}

int64_t lp_se_width_ofa(int64_t c)
{
    return lp_make_divisible((double)(c / 4), 8);
}

int64_t lp_se_width_fbnet(int64_t cmid, double e)
{
    return lp_get_divisible_by((double)(int64_t)((double)cmid * 0.25 / e), 8);
}
