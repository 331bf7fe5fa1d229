/* XNNPACK operators from plan steps: created and set up once at prepare
 * (weights packed, pointers bound), so run() only calls xnn_run_operator. */
#include "xnn.h"

#include <math.h>
#include <stdlib.h>

static const char *lp_xstatus(enum xnn_status st)
{
    static const char *const names[] = {"success", "uninitialized", "invalid_parameter",
                                        "invalid_state", "unsupported_parameter",
                                        "unsupported_hardware", "out_of_memory"};
    return (unsigned)st < sizeof names / sizeof names[0] ? names[st] : "unknown";
}

/* ---- fp32 -------------------------------------------------------------------- */

static enum xnn_status lp_xcreate_f32(const lp_xstep *s, xnn_operator_t *op)
{
    switch (s->kind) {
    case LP_XK_CONV:
        return xnn_create_convolution2d_nhwc_f32(
            s->pad[0], s->pad[1], s->pad[2], s->pad[3], s->k[0], s->k[1], s->s[0], s->s[1], 1, 1,
            s->groups, s->gic, s->goc, s->groups * s->gic, s->groups * s->goc, s->wgt, s->bias,
            s->lo, s->hi, 0, op);
    case LP_XK_FC:
        return xnn_create_fully_connected_nc_f32(s->chan, s->goc, s->chan, s->goc, s->wgt, s->bias,
                                                 s->lo, s->hi,
                                                 s->trans_w ? XNN_FLAG_TRANSPOSE_WEIGHTS : 0, op);
    case LP_XK_MAXPOOL:
        return xnn_create_max_pooling2d_nhwc_f32(s->pad[0], s->pad[1], s->pad[2], s->pad[3], s->k[0],
                                                 s->k[1], s->s[0], s->s[1], 1, 1, s->c, s->c, s->c,
                                                 s->lo, s->hi, 0, op);
    case LP_XK_AVGPOOL:
        return xnn_create_average_pooling2d_nhwc_f32(s->pad[0], s->pad[1], s->pad[2], s->pad[3],
                                                     s->k[0], s->k[1], s->s[0], s->s[1], s->c, s->c,
                                                     s->c, s->lo, s->hi, 0, op);
    case LP_XK_GAP:
        return xnn_create_global_average_pooling_nwc_f32(s->c, s->c, s->c, s->lo, s->hi, 0, op);
    case LP_XK_CLAMP:
        return xnn_create_clamp_nc_f32(s->chan, s->chan, s->chan, s->lo, s->hi, 0, op);
    case LP_XK_HSWISH:
        return xnn_create_hardswish_nc_f32(s->chan, s->chan, s->chan, 0, op);
    case LP_XK_SIGMOID:
        return xnn_create_sigmoid_nc_f32(s->chan, s->chan, s->chan, 0, op);
    case LP_XK_ADD:
        return xnn_create_add_nd_f32(s->lo, s->hi, 0, op);
    case LP_XK_MUL:
        return xnn_create_multiply_nd_f32(s->lo, s->hi, 0, op);
    case LP_XK_SOFTMAX:
        return xnn_create_softmax_nc_f32(s->chan, s->chan, s->chan, 0, op);
    case LP_XK_COPY:
        return xnn_create_copy_nc_x32(s->chan, s->in_stride, s->out_stride, 0, op);
    case LP_XK_SHUFFLE:
        return xnn_create_channel_shuffle_nc_x32(s->groups, s->gic, s->groups * s->gic,
                                                 s->groups * s->gic, 0, op);
    default:
        return xnn_status_invalid_parameter;
    }
}

static enum xnn_status lp_xsetup_f32(const lp_xstep *s, xnn_operator_t op, const float *a,
                                     const float *b, float *o, pthreadpool_t tp)
{
    switch (s->kind) {
    case LP_XK_CONV:
        return xnn_setup_convolution2d_nhwc_f32(op, s->n, s->h, s->w, a, o, tp);
    case LP_XK_FC:
        return xnn_setup_fully_connected_nc_f32(op, s->rows, a, o, tp);
    case LP_XK_MAXPOOL:
        return xnn_setup_max_pooling2d_nhwc_f32(op, s->n, s->h, s->w, a, o, tp);
    case LP_XK_AVGPOOL:
        return xnn_setup_average_pooling2d_nhwc_f32(op, s->n, s->h, s->w, a, o, tp);
    case LP_XK_GAP:
        return xnn_setup_global_average_pooling_nwc_f32(op, s->n, s->h * s->w, a, o, tp);
    case LP_XK_CLAMP:
        return xnn_setup_clamp_nc_f32(op, s->rows, a, o, tp);
    case LP_XK_HSWISH:
        return xnn_setup_hardswish_nc_f32(op, s->rows, a, o, tp);
    case LP_XK_SIGMOID:
        return xnn_setup_sigmoid_nc_f32(op, s->rows, a, o, tp);
    case LP_XK_ADD:
        return xnn_setup_add_nd_f32(op, s->nd[0], s->dims[0], s->nd[1], s->dims[1], a, b, o, tp);
    case LP_XK_MUL:
        return xnn_setup_multiply_nd_f32(op, s->nd[0], s->dims[0], s->nd[1], s->dims[1], a, b, o,
                                         tp);
    case LP_XK_SOFTMAX:
        return xnn_setup_softmax_nc_f32(op, s->rows, a, o, tp);
    case LP_XK_COPY:
        return xnn_setup_copy_nc_x32(op, s->rows, a, o, tp);
    case LP_XK_SHUFFLE:
        return xnn_setup_channel_shuffle_nc_x32(op, s->rows, a, o, tp);
    default:
        return xnn_status_invalid_parameter;
    }
}

/* ---- qs8 ------------------------------------------------------------------ */

/* Symmetric per-tensor weights and an int32 bias at input scale * weight scale;
 * XNNPACK packs both at creation, so they live only for the create call. */
typedef struct lp_xqw {
    int8_t *w;
    int32_t *b;
    float scale;
} lp_xqw;

static int lp_xqweights(const lp_xstep *s, float in_scale, int64_t nw, int64_t nout, lp_xqw *q)
{
    float amax = 0.0f;
    for (int64_t i = 0; i < nw; i++)
        amax = fmaxf(amax, fabsf(s->wgt[i]));
    q->scale = amax > 0.0f ? amax / 127.0f : 1.0f;
    q->w = malloc((size_t)nw);
    q->b = s->bias ? malloc((size_t)nout * sizeof *q->b) : NULL;
    if (!q->w || (s->bias && !q->b))
        return -1;
    for (int64_t i = 0; i < nw; i++)
        q->w[i] = (int8_t)lrintf(s->wgt[i] / q->scale);
    double bscale = (double)in_scale * q->scale;
    for (int64_t i = 0; q->b && i < nout; i++) {
        double v = nearbyint(s->bias[i] / bscale);
        q->b[i] = (int32_t)fmax(fmin(v, (double)INT32_MAX), (double)INT32_MIN);
    }
    return 0;
}

static enum xnn_status lp_xcreate_conv_qs8(const lp_xstep *s, const lp_xbuf *in,
                                           const lp_xbuf *out, xnn_operator_t *op)
{
    int64_t cout = s->groups * s->goc, nw = cout * s->k[0] * s->k[1] * s->gic;
    lp_xqw q = {0};
    enum xnn_status st = xnn_status_out_of_memory;
    if (lp_xqweights(s, in->scale, nw, cout, &q) == 0)
        st = xnn_create_convolution2d_nhwc_qs8(
            s->pad[0], s->pad[1], s->pad[2], s->pad[3], s->k[0], s->k[1], s->s[0], s->s[1], 1, 1,
            s->groups, s->gic, s->goc, s->groups * s->gic, cout, (int8_t)in->zp, in->scale,
            q.scale, q.w, q.b, (int8_t)out->zp, out->scale, lp_xquant(out, s->lo),
            lp_xquant(out, s->hi), 0, op);
    free(q.w);
    free(q.b);
    return st;
}

static enum xnn_status lp_xcreate_fc_qs8(const lp_xstep *s, const lp_xbuf *in, const lp_xbuf *out,
                                         xnn_operator_t *op)
{
    lp_xqw q = {0};
    enum xnn_status st = xnn_status_out_of_memory;
    if (lp_xqweights(s, in->scale, s->chan * s->goc, s->goc, &q) == 0)
        st = xnn_create_fully_connected_nc_qs8(
            s->chan, s->goc, s->chan, s->goc, (int8_t)in->zp, in->scale, q.scale, q.w, q.b,
            (int8_t)out->zp, out->scale, lp_xquant(out, s->lo), lp_xquant(out, s->hi),
            s->trans_w ? XNN_FLAG_TRANSPOSE_WEIGHTS : 0, op);
    free(q.w);
    free(q.b);
    return st;
}

static enum xnn_status lp_xcreate_qs8(const lp_xstep *s, const lp_xplan *p, xnn_operator_t *op)
{
    const lp_xbuf *a = &p->bufs[s->in[0].buf], *o = &p->bufs[s->out.buf];
    const lp_xbuf *b = (s->kind == LP_XK_ADD || s->kind == LP_XK_MUL) ? &p->bufs[s->in[1].buf] : a;
    int8_t lo = lp_xquant(o, s->lo), hi = lp_xquant(o, s->hi);
    switch (s->kind) {
    case LP_XK_CONV:
        return lp_xcreate_conv_qs8(s, a, o, op);
    case LP_XK_FC:
        return lp_xcreate_fc_qs8(s, a, o, op);
    case LP_XK_MAXPOOL:
        return xnn_create_max_pooling2d_nhwc_s8(s->pad[0], s->pad[1], s->pad[2], s->pad[3], s->k[0],
                                                s->k[1], s->s[0], s->s[1], 1, 1, s->c, s->c, s->c,
                                                INT8_MIN, INT8_MAX, 0, op);
    case LP_XK_GAP:
        return xnn_create_global_average_pooling_nwc_qs8(s->c, s->c, s->c, (int8_t)a->zp, a->scale,
                                                         (int8_t)o->zp, o->scale, INT8_MIN,
                                                         INT8_MAX, 0, op);
    case LP_XK_CLAMP:
        return xnn_create_clamp_nc_s8(s->chan, s->chan, s->chan, lo, hi, 0, op);
    case LP_XK_SIGMOID:
        return xnn_create_sigmoid_nc_qs8(s->chan, s->chan, s->chan, (int8_t)a->zp, a->scale,
                                         (int8_t)o->zp, o->scale, INT8_MIN, INT8_MAX, 0, op);
    case LP_XK_ADD:
        return xnn_create_add_nd_qs8((int8_t)a->zp, a->scale, (int8_t)b->zp, b->scale,
                                     (int8_t)o->zp, o->scale, lo, hi, 0, op);
    case LP_XK_MUL:
        return xnn_create_multiply_nd_qs8((int8_t)a->zp, a->scale, (int8_t)b->zp, b->scale,
                                          (int8_t)o->zp, o->scale, lo, hi, 0, op);
    case LP_XK_COPY:
        return xnn_create_copy_nc_x8(s->chan, s->in_stride, s->out_stride, 0, op);
    case LP_XK_SHUFFLE:
        return xnn_create_channel_shuffle_nc_x8(s->groups, s->gic, s->groups * s->gic,
                                                s->groups * s->gic, 0, op);
    default: /* lowering never emits another kind at qs8 */
        return xnn_status_unsupported_parameter;
    }
}

static enum xnn_status lp_xsetup_qs8(const lp_xstep *s, xnn_operator_t op, const int8_t *a,
                                     const int8_t *b, int8_t *o, pthreadpool_t tp)
{
    switch (s->kind) {
    case LP_XK_CONV:
        return xnn_setup_convolution2d_nhwc_qs8(op, s->n, s->h, s->w, a, o, tp);
    case LP_XK_FC:
        return xnn_setup_fully_connected_nc_qs8(op, s->rows, a, o, tp);
    case LP_XK_MAXPOOL:
        return xnn_setup_max_pooling2d_nhwc_s8(op, s->n, s->h, s->w, a, o, tp);
    case LP_XK_GAP:
        return xnn_setup_global_average_pooling_nwc_qs8(op, s->n, s->h * s->w, a, o, tp);
    case LP_XK_CLAMP:
        return xnn_setup_clamp_nc_s8(op, s->rows, a, o, tp);
    case LP_XK_SIGMOID:
        return xnn_setup_sigmoid_nc_qs8(op, s->rows, a, o, tp);
    case LP_XK_ADD:
        return xnn_setup_add_nd_qs8(op, s->nd[0], s->dims[0], s->nd[1], s->dims[1], a, b, o, tp);
    case LP_XK_MUL:
        return xnn_setup_multiply_nd_qs8(op, s->nd[0], s->dims[0], s->nd[1], s->dims[1], a, b, o,
                                         tp);
    case LP_XK_COPY:
        return xnn_setup_copy_nc_x8(op, s->rows, a, o, tp);
    case LP_XK_SHUFFLE:
        return xnn_setup_channel_shuffle_nc_x8(op, s->rows, a, o, tp);
    default:
        return xnn_status_unsupported_parameter;
    }
}

/* ---- plan-wide ---------------------------------------------------------------- */

static int lp_xfail(const lp_xstep *s, const char *what, lp_xprec prec, enum xnn_status st,
                    lp_err *err)
{
    return lp_err_set(err, st == xnn_status_out_of_memory ? LP_ENOMEM : LP_EPLUGIN,
                      "xnnpack: node %d: %s of %s (%s) failed: %s", s->node, what,
                      lp_xkind_name(s->kind), prec == LP_XPREC_QS8 ? "qs8" : "f32",
                      lp_xstatus(st));
}

static int lp_xop_make(lp_xrun *r, const lp_xstep *s, lp_xprec prec, xnn_operator_t *op,
                       lp_err *err)
{
    const lp_xplan *p = &r->plan;
    pthreadpool_t tp = r->eng->pool;
    const lp_xbuf *a = &p->bufs[s->in[0].buf], *b = &p->bufs[s->in[1].buf], *o = &p->bufs[s->out.buf];
    enum xnn_status st = prec == LP_XPREC_QS8 ? lp_xcreate_qs8(s, p, op) : lp_xcreate_f32(s, op);
    if (st != xnn_status_success)
        return lp_xfail(s, "create", prec, st, err);
    if (prec == LP_XPREC_QS8)
        st = lp_xsetup_qs8(s, *op, a->q + s->in[0].off, b->q + s->in[1].off, o->q + s->out.off, tp);
    else
        st = lp_xsetup_f32(s, *op, a->f + s->in[0].off, b->f + s->in[1].off, o->f + s->out.off, tp);
    return st == xnn_status_success ? 0 : lp_xfail(s, "setup", prec, st, err);
}

int lp_xops_create(lp_xrun *r, lp_xprec prec, lp_err *err)
{
    size_t n = r->plan.n_steps;
    r->ops = calloc(n ? n : 1, sizeof *r->ops);
    if (!r->ops)
        return lp_err_set(err, LP_ENOMEM, "xnnpack: out of memory for %zu operators", n);
    r->n_ops = n;
    for (size_t i = 0; i < n; i++) {
        int rc = lp_xop_make(r, &r->plan.steps[i], prec, &r->ops[i], err);
        if (rc)
            return rc;
    }
    return 0;
}

void lp_xops_delete(lp_xrun *r)
{
    for (size_t i = 0; r->ops && i < r->n_ops; i++)
        if (r->ops[i])
            xnn_delete_operator(r->ops[i]);
    free(r->ops);
    r->ops = NULL;
    r->n_ops = 0;
}

int lp_xops_run(lp_xrun *r, lp_err *err)
{
    for (size_t i = 0; i < r->n_ops; i++) {
        enum xnn_status st = xnn_run_operator(r->ops[i], r->eng->pool);
        if (st != xnn_status_success)
            return lp_xfail(&r->plan.steps[i], "run", r->prec, st, err);
    }
    return 0;
}
