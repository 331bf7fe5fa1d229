/* One builder per primitive. Each makes the oneDNN primitive descriptor and,
 * at prepare (b->r set), binds memories over the tensors' buffers, reorders
 * weights once into the layout oneDNN chose for them (format tag "any": a
 * fixed plain tag makes oneDNN fall back to a reference kernel hundreds of
 * times slower) and creates the primitive. Activations are NHWC. */
#include "onednn.h"

#include <stdlib.h>

static const lp_shape *lp_in(const lp_dbuild *b, int i)
{
    return &b->g->tensors[b->nd->in[i]].shape;
}

static const lp_shape *lp_out(const lp_dbuild *b)
{
    return &b->g->tensors[b->nd->out].shape;
}

static const char *lp_nm(const lp_dbuild *b)
{
    return lp_prim_name(b->nd->prim);
}

static int lp_dn_view(lp_dbuild *b, int t, const dnnl_memory_desc_t *md, int arg)
{
    dnnl_memory_t m;
    int rc = lp_dn_mem(b, md, b->r->ten[t].buf, &m);
    if (!rc)
        lp_dn_arg(b, arg, m);
    return rc;
}

/* One memory binding of a primitive: tensor t as argument arg, described by md. */
typedef struct lp_dn_io {
    int t;
    const dnnl_memory_desc_t *md;
    int arg;
} lp_dn_io;

/* At prepare (b->r set) and after a good descriptor (rc 0): binds the n tensors and creates
 * the primitive. Otherwise passes rc on: describing a graph binds nothing. */
static int lp_dn_bind(lp_dbuild *b, int rc, const lp_dn_io *io, size_t n)
{
    for (size_t i = 0; !rc && b->r && i < n; i++)
        rc = lp_dn_view(b, io[i].t, io[i].md, io[i].arg);
    return rc || !b->r ? rc : lp_dn_finish(b);
}

/* The primitive descriptor of op (a dnnl_*_desc_t) under attr, unless rc already failed;
 * frees attr either way (the descriptor keeps its own copy). */
static int lp_dn_pd(lp_dbuild *b, int rc, const void *op, dnnl_primitive_attr_t attr,
                    const char *nm)
{
    if (!rc)
        rc = lp_dn_check(dnnl_primitive_desc_create(&b->pd, op, attr, b->e->eng, NULL), b->err,
                         nm, "dnnl_primitive_desc_create");
    if (attr)
        dnnl_primitive_attr_destroy(attr);
    return rc;
}

/* A constant vector (bias, gamma, beta) copied in once; divided elementwise by div when set
 * (int8 bias lives in the accumulator's scale). */
static int lp_dn_const(lp_dbuild *b, const float *src, int64_t n, const float *div, int arg)
{
    dnnl_memory_desc_t md;
    dnnl_dims_t d = {n};
    dnnl_memory_t m;
    void *p = NULL;
    int rc = lp_dn_check(dnnl_memory_desc_init_by_tag(&md, 1, d, dnnl_f32, dnnl_a), b->err,
                         lp_nm(b), "dnnl_memory_desc_init_by_tag");
    if (!rc)
        rc = lp_dn_mem(b, &md, DNNL_MEMORY_ALLOCATE, &m);
    if (!rc)
        rc = lp_dn_check(dnnl_memory_get_data_handle(m, &p), b->err, lp_nm(b),
                         "dnnl_memory_get_data_handle");
    if (rc)
        return rc;
    float *dst = p;
    for (int64_t i = 0; i < n; i++)
        dst[i] = div ? src[i] / div[i] : src[i];
    lp_dn_arg(b, arg, m);
    return 0;
}

/* Reorders weights once from their graph layout (user_md over data) into the layout the
 * primitive asked for. */
static int lp_dn_weights(lp_dbuild *b, const dnnl_memory_desc_t *user_md, void *data)
{
    const char *nm = lp_nm(b);
    const dnnl_memory_desc_t *want = dnnl_primitive_desc_query_md(b->pd, dnnl_query_weights_md, 0);
    dnnl_memory_t dst, src = NULL;
    dnnl_primitive_desc_t rpd = NULL;
    dnnl_primitive_t re = NULL;
    int rc = lp_dn_mem(b, want, DNNL_MEMORY_ALLOCATE, &dst);
    if (!rc)
        rc = lp_dn_check(dnnl_memory_create(&src, user_md, b->e->eng, data), b->err, nm,
                         "dnnl_memory_create (weights)");
    if (!rc)
        rc = lp_dn_check(dnnl_reorder_primitive_desc_create(&rpd, user_md, b->e->eng, want,
                                                            b->e->eng, NULL),
                         b->err, nm, "weights reorder: dnnl_reorder_primitive_desc_create");
    if (!rc)
        rc = lp_dn_check(dnnl_primitive_create(&re, rpd), b->err, nm,
                         "weights reorder: dnnl_primitive_create");
    if (rc)
        goto fail;
    dnnl_exec_arg_t args[2] = {{DNNL_ARG_FROM, src}, {DNNL_ARG_TO, dst}};
    rc = lp_dn_check(dnnl_primitive_execute(re, b->r->stream, 2, args), b->err, nm,
                     "weights reorder: dnnl_primitive_execute");
    if (!rc)
        rc = lp_dn_check(dnnl_stream_wait(b->r->stream), b->err, nm, "dnnl_stream_wait");
    if (!rc)
        lp_dn_arg(b, DNNL_ARG_WEIGHTS, dst);
fail:
    if (re)
        dnnl_primitive_destroy(re);
    if (rpd)
        dnnl_primitive_desc_destroy(rpd);
    if (src)
        dnnl_memory_destroy(src);
    return rc;
}

/* ---- int8 weights and scales --------------------------------------------------- */

/* Quantised weights of a conv or dense node: per-output-channel s8 rows. */
typedef struct lp_dq_w {
    int8_t *w;      /* rows x inner, the graph's layout */
    float *acc;     /* scale of the int32 accumulator per row: s_in * s_w[row] */
    float *oscale;  /* oneDNN output scales per row */
} lp_dq_w;

static void lp_dq_w_free(lp_dq_w *q)
{
    free(q->w);
    free(q->acc);
    free(q->oscale);
}

/* Quantises the weights (dummy scales when only checking) and sets output scales and
 * post-ops on attr. relu commutes with a positive scale, so for none and relu the output
 * scale goes straight to the destination's; other activations need the real value and
 * requantise with a final multiply. */
static int lp_dq_conv_attr(lp_dbuild *b, dnnl_primitive_attr_t attr, lp_act act, int64_t rows,
                           int64_t inner, lp_dq_w *q)
{
    const char *nm = lp_nm(b);
    q->acc = malloc((size_t)rows * sizeof *q->acc);
    q->oscale = malloc((size_t)rows * sizeof *q->oscale);
    q->w = b->r ? malloc((size_t)(rows * inner)) : NULL;
    if (!q->acc || !q->oscale || (b->r && !q->w))
        return lp_err_set(b->err, LP_ENOMEM, "onednn: %s: out of memory quantising weights", nm);
    if (b->r)
        lp_dq_weights(b->g->tensors[b->nd->in[1]].data, rows, inner, q->w, q->acc);
    int fold = act == LP_ACT_NONE || act == LP_ACT_RELU;
    for (int64_t o = 0; o < rows; o++) {
        q->acc[o] = b->r ? q->acc[o] * b->scale[0] : 1.0f;
        q->oscale[o] = fold ? q->acc[o] / b->scale_out : q->acc[o];
    }
    int rc = lp_dn_check(dnnl_primitive_attr_set_output_scales(attr, rows, 1 << 1, q->oscale),
                         b->err, nm, "dnnl_primitive_attr_set_output_scales");
    return rc ? rc : lp_dn_post_ops(attr, act, 0, fold ? 1.0f : 1.0f / b->scale_out, b->err, nm);
}

/* Binds src, weights (reordered), bias and dst of a conv or dense node, then finishes. */
static int lp_dn_bind_wb(lp_dbuild *b, const dnnl_memory_desc_t *src,
                         const dnnl_memory_desc_t *dst, const dnnl_memory_desc_t *user,
                         const lp_dq_w *q, int64_t rows)
{
    int rc = lp_dn_view(b, b->nd->in[0], src, DNNL_ARG_SRC);
    if (!rc)
        rc = lp_dn_view(b, b->nd->out, dst, DNNL_ARG_DST);
    if (!rc)
        rc = lp_dn_weights(b, user, b->int8 ? (void *)q->w : b->g->tensors[b->nd->in[1]].data);
    if (!rc && b->nd->n_in > 2)
        rc = lp_dn_const(b, b->g->tensors[b->nd->in[2]].data, rows, b->int8 ? q->acc : NULL,
                         DNNL_ARG_BIAS);
    return rc ? rc : lp_dn_finish(b);
}

/* ---- conv2d ---------------------------------------------------------------------- */

/* Logical weight dims oneDNN wants ([O, I, Kh, Kw], or [G, O/G, I/G, Kh, Kw]) and the
 * strides that read them from the graph's OHWI buffer. Returns the rank. */
static int lp_conv_wdims(const lp_shape *w, int64_t groups, dnnl_dims_t d, dnnl_dims_t s)
{
    int64_t og = w->d[0] / groups, kh = w->d[1], kw = w->d[2], ig = w->d[3];
    dnnl_dims_t d5 = {groups, og, ig, kh, kw};
    dnnl_dims_t s5 = {og * kh * kw * ig, kh * kw * ig, 1, kw * ig, ig};
    int off = groups == 1; /* no groups axis: drop the first entry */
    for (int i = 0; i < 5 - off; i++) {
        d[i] = d5[i + off];
        s[i] = s5[i + off];
    }
    return 5 - off;
}

static int lp_dn_conv(lp_dbuild *b)
{
    const char *nm = "conv2d";
    const lp_node *nd = b->nd;
    const lp_shape *x = lp_in(b, 0), *w = lp_in(b, 1), *y = lp_out(b);
    int64_t oh, ow, rows = w->d[0], inner = w->d[1] * w->d[2] * w->d[3];
    dnnl_dims_t pl, pr, strides = {nd->p.conv.sh, nd->p.conv.sw}, bd = {rows};
    lp_dn_same_pad(x->d[1], nd->p.conv.kh, nd->p.conv.sh, &oh, &pl[0], &pr[0]);
    lp_dn_same_pad(x->d[2], nd->p.conv.kw, nd->p.conv.sw, &ow, &pl[1], &pr[1]);
    dnnl_dims_t sd = {x->d[0], x->d[3], x->d[1], x->d[2]}, dd = {y->d[0], y->d[3], y->d[1], y->d[2]};
    dnnl_dims_t wd, ws;
    int wr = lp_conv_wdims(w, nd->p.conv.groups, wd, ws);
    dnnl_data_type_t wdt = b->int8 ? dnnl_s8 : dnnl_f32;
    dnnl_memory_desc_t src, wei, user, bias, dst;
    dnnl_convolution_desc_t cd;
    dnnl_primitive_attr_t attr = NULL;
    lp_dq_w q = {0};
    int rc = lp_dn_check(dnnl_memory_desc_init_by_tag(&src, 4, sd, b->dt[0], dnnl_nhwc), b->err, nm,
                         "src: dnnl_memory_desc_init_by_tag");
    if (!rc)
        rc = lp_dn_check(dnnl_memory_desc_init_by_tag(&dst, 4, dd, b->dt_out, dnnl_nhwc), b->err,
                         nm, "dst: dnnl_memory_desc_init_by_tag");
    if (!rc)
        rc = lp_dn_check(dnnl_memory_desc_init_by_tag(&wei, wr, wd, wdt, dnnl_format_tag_any),
                         b->err, nm, "weights: dnnl_memory_desc_init_by_tag");
    if (!rc)
        rc = lp_dn_check(dnnl_memory_desc_init_by_strides(&user, wr, wd, wdt, ws), b->err, nm,
                         "weights: dnnl_memory_desc_init_by_strides");
    if (!rc)
        rc = lp_dn_check(dnnl_memory_desc_init_by_tag(&bias, 1, bd, dnnl_f32, dnnl_a), b->err, nm,
                         "bias: dnnl_memory_desc_init_by_tag");
    if (!rc)
        rc = lp_dn_check(dnnl_convolution_forward_desc_init(
                             &cd, dnnl_forward_inference, dnnl_convolution_direct, &src, &wei,
                             nd->n_in > 2 ? &bias : NULL, &dst, strides, pl, pr),
                         b->err, nm, "dnnl_convolution_forward_desc_init");
    if (!rc)
        rc = lp_dn_attr(&attr, b->err, nm);
    if (!rc)
        rc = b->int8 ? lp_dq_conv_attr(b, attr, nd->p.conv.act, rows, inner, &q)
                     : lp_dn_post_ops(attr, nd->p.conv.act, 0, 1.0f, b->err, nm);
    rc = lp_dn_pd(b, rc, &cd, attr, nm);
    if (!rc && b->r)
        rc = lp_dn_bind_wb(b, &src, &dst, &user, &q, rows);
    lp_dq_w_free(&q);
    return rc;
}

/* ---- dense: inner product over the rows of x ------------------------------------ */

static int lp_dn_dense(lp_dbuild *b)
{
    const char *nm = "dense";
    const lp_shape *x = lp_in(b, 0), *w = lp_in(b, 1);
    int64_t n = w->d[0], k = w->d[1], m = lp_shape_numel(x) / k;
    dnnl_dims_t sd = {m, k}, wd = {n, k}, dd = {m, n}, bd = {n};
    dnnl_data_type_t wdt = b->int8 ? dnnl_s8 : dnnl_f32;
    dnnl_memory_desc_t src, wei, user, bias, dst;
    dnnl_inner_product_desc_t ipd;
    dnnl_primitive_attr_t attr = NULL;
    lp_dq_w q = {0};
    int rc = lp_dn_check(dnnl_memory_desc_init_by_tag(&src, 2, sd, b->dt[0], dnnl_ab), b->err, nm,
                         "src: dnnl_memory_desc_init_by_tag");
    if (!rc)
        rc = lp_dn_check(dnnl_memory_desc_init_by_tag(&dst, 2, dd, b->dt_out, dnnl_ab), b->err,
                         nm, "dst: dnnl_memory_desc_init_by_tag");
    if (!rc)
        rc = lp_dn_check(dnnl_memory_desc_init_by_tag(&wei, 2, wd, wdt, dnnl_format_tag_any),
                         b->err, nm, "weights: dnnl_memory_desc_init_by_tag");
    if (!rc)
        rc = lp_dn_check(dnnl_memory_desc_init_by_tag(&user, 2, wd, wdt, dnnl_ab), b->err, nm,
                         "weights: dnnl_memory_desc_init_by_tag");
    if (!rc)
        rc = lp_dn_check(dnnl_memory_desc_init_by_tag(&bias, 1, bd, dnnl_f32, dnnl_a), b->err, nm,
                         "bias: dnnl_memory_desc_init_by_tag");
    if (!rc)
        rc = lp_dn_check(dnnl_inner_product_forward_desc_init(&ipd, dnnl_forward_inference, &src,
                                                              &wei, b->nd->n_in > 2 ? &bias : NULL,
                                                              &dst),
                         b->err, nm, "dnnl_inner_product_forward_desc_init");
    if (!rc)
        rc = lp_dn_attr(&attr, b->err, nm);
    if (!rc)
        rc = b->int8 ? lp_dq_conv_attr(b, attr, b->nd->p.dense.act, n, k, &q)
                     : lp_dn_post_ops(attr, b->nd->p.dense.act, 0, 1.0f, b->err, nm);
    rc = lp_dn_pd(b, rc, &ipd, attr, nm);
    if (!rc && b->r)
        rc = lp_dn_bind_wb(b, &src, &dst, &user, &q, n);
    lp_dq_w_free(&q);
    return rc;
}

/* ---- matmul: batched, b read through strides when transposed (no copy) ---------- */

static int lp_dn_matmul(lp_dbuild *b)
{
    const char *nm = "matmul";
    const lp_shape *a = lp_in(b, 0), *bs = lp_in(b, 1), *y = lp_out(b);
    int tb = b->nd->p.matmul.trans_b;
    int64_t k = a->d[2], n = y->d[2];
    dnnl_dims_t ad = {a->d[0], a->d[1], k}, bd = {bs->d[0], k, n}, yd = {y->d[0], y->d[1], n};
    dnnl_dims_t bstr = {k * n, tb ? 1 : n, tb ? k : 1};
    float alpha = b->nd->p.matmul.alpha;
    dnnl_memory_desc_t amd, bmd, ymd;
    dnnl_matmul_desc_t md;
    dnnl_primitive_attr_t attr = NULL;
    int rc = lp_dn_check(dnnl_memory_desc_init_by_tag(&amd, 3, ad, dnnl_f32, dnnl_abc), b->err, nm,
                         "a: dnnl_memory_desc_init_by_tag");
    if (!rc)
        rc = lp_dn_check(dnnl_memory_desc_init_by_strides(&bmd, 3, bd, dnnl_f32, bstr), b->err, nm,
                         "b: dnnl_memory_desc_init_by_strides");
    if (!rc)
        rc = lp_dn_check(dnnl_memory_desc_init_by_tag(&ymd, 3, yd, dnnl_f32, dnnl_abc), b->err, nm,
                         "dst: dnnl_memory_desc_init_by_tag");
    if (!rc)
        rc = lp_dn_check(dnnl_matmul_desc_init(&md, &amd, &bmd, NULL, &ymd), b->err, nm,
                         "dnnl_matmul_desc_init");
    if (!rc)
        rc = lp_dn_attr(&attr, b->err, nm);
    if (!rc && alpha != 1.0f)
        rc = lp_dn_check(dnnl_primitive_attr_set_output_scales(attr, 1, 0, &alpha), b->err, nm,
                         "dnnl_primitive_attr_set_output_scales");
    rc = lp_dn_pd(b, rc, &md, attr, nm);
    const lp_dn_io io[] = {{b->nd->in[0], &amd, DNNL_ARG_SRC},
                           {b->nd->in[1], &bmd, DNNL_ARG_WEIGHTS},
                           {b->nd->out, &ymd, DNNL_ARG_DST}};
    return lp_dn_bind(b, rc, io, sizeof io / sizeof *io);
}

/* ---- pool: max, average excluding padding, global average as one H x W window ---- */

static int lp_dn_pool(lp_dbuild *b)
{
    const char *nm = "pool";
    const lp_node *nd = b->nd;
    const lp_shape *x = lp_in(b, 0), *y = lp_out(b);
    dnnl_dims_t sd = {x->d[0], x->d[3], x->d[1], x->d[2]}, dd = {y->d[0], y->d[3], y->d[1], y->d[2]};
    dnnl_dims_t kern = {x->d[1], x->d[2]}, str = {1, 1}, pl = {0, 0}, pr = {0, 0};
    int64_t o;
    if (nd->p.pool.kind != LP_POOL_GLOBAL_AVG) {
        kern[0] = kern[1] = nd->p.pool.k;
        str[0] = str[1] = nd->p.pool.s;
        lp_dn_same_pad(x->d[1], nd->p.pool.k, nd->p.pool.s, &o, &pl[0], &pr[0]);
        lp_dn_same_pad(x->d[2], nd->p.pool.k, nd->p.pool.s, &o, &pl[1], &pr[1]);
    }
    dnnl_alg_kind_t alg = nd->p.pool.kind == LP_POOL_MAX ? dnnl_pooling_max
                                                         : dnnl_pooling_avg_exclude_padding;
    dnnl_memory_desc_t src, dst;
    dnnl_pooling_desc_t pd;
    dnnl_primitive_attr_t attr = NULL;
    int rc = lp_dn_check(dnnl_memory_desc_init_by_tag(&src, 4, sd, b->dt[0], dnnl_nhwc), b->err, nm,
                         "src: dnnl_memory_desc_init_by_tag");
    if (!rc)
        rc = lp_dn_check(dnnl_memory_desc_init_by_tag(&dst, 4, dd, b->dt_out, dnnl_nhwc), b->err,
                         nm, "dst: dnnl_memory_desc_init_by_tag");
    if (!rc)
        rc = lp_dn_check(dnnl_pooling_forward_desc_init(&pd, dnnl_forward_inference, alg, &src,
                                                        &dst, str, kern, pl, pr),
                         b->err, nm, "dnnl_pooling_forward_desc_init");
    if (!rc)
        rc = lp_dn_attr(&attr, b->err, nm);
    rc = lp_dn_pd(b, rc, &pd, attr, nm);
    const lp_dn_io io[] = {{nd->in[0], &src, DNNL_ARG_SRC}, {nd->out, &dst, DNNL_ARG_DST}};
    return lp_dn_bind(b, rc, io, sizeof io / sizeof *io);
}

/* ---- standalone activation: an eltwise primitive (hsigmoid's second step as a post-op) ---- */

static int lp_dn_act(lp_dbuild *b)
{
    const char *nm = "act";
    dnnl_alg_kind_t alg[2] = {dnnl_eltwise_linear};
    float alpha[2] = {1.0f}, beta[2] = {0.0f};
    lp_dn_act_algs(b->nd->p.act.act, alg, alpha, beta); /* "none" stays a copy: 1 * x + 0 */
    dnnl_memory_desc_t md;
    dnnl_eltwise_desc_t ed;
    dnnl_primitive_attr_t attr = NULL;
    int rc = lp_dn_md_plain(&md, lp_in(b, 0), dnnl_f32);
    if (rc)
        return lp_err_set(b->err, rc, "onednn: act: no memory desc for the input");
    rc = lp_dn_check(dnnl_eltwise_forward_desc_init(&ed, dnnl_forward_inference, alg[0], &md,
                                                    alpha[0], beta[0]),
                     b->err, nm, "dnnl_eltwise_forward_desc_init");
    if (!rc)
        rc = lp_dn_attr(&attr, b->err, nm);
    if (!rc)
        rc = lp_dn_post_ops(attr, b->nd->p.act.act, 1, 1.0f, b->err, nm);
    rc = lp_dn_pd(b, rc, &ed, attr, nm);
    const lp_dn_io io[] = {{b->nd->in[0], &md, DNNL_ARG_SRC}, {b->nd->out, &md, DNNL_ARG_DST}};
    return lp_dn_bind(b, rc, io, sizeof io / sizeof *io);
}

/* ---- add (fused act) and mul (b broadcast over the last axis): binary ------------- */

/* int8 binary: src scales turn the operands into real values. For add, as for conv, none
 * and relu fold the destination's scale in and other activations requantise with a final
 * multiply; a product takes the destination's scale on one factor. */
static int lp_dq_binary_attr(lp_dbuild *b, dnnl_primitive_attr_t attr, lp_act act)
{
    const char *nm = lp_nm(b);
    int is_add = b->nd->prim == LP_PRIM_ADD;
    int fold = act == LP_ACT_NONE || act == LP_ACT_RELU;
    float s0 = is_add && fold ? b->scale[0] / b->scale_out : b->scale[0];
    float s1 = !is_add || fold ? b->scale[1] / b->scale_out : b->scale[1];
    int rc = lp_dn_check(dnnl_primitive_attr_set_scales(attr, DNNL_ARG_SRC_0, 1, 0, &s0), b->err,
                         nm, "dnnl_primitive_attr_set_scales");
    if (!rc)
        rc = lp_dn_check(dnnl_primitive_attr_set_scales(attr, DNNL_ARG_SRC_1, 1, 0, &s1), b->err,
                         nm, "dnnl_primitive_attr_set_scales");
    if (rc || !is_add)
        return rc;
    return lp_dn_post_ops(attr, act, 0, fold ? 1.0f : 1.0f / b->scale_out, b->err, nm);
}

static int lp_dn_binary(lp_dbuild *b)
{
    const char *nm = lp_nm(b);
    int is_add = b->nd->prim == LP_PRIM_ADD;
    const lp_shape *a = lp_in(b, 0);
    lp_shape bs = *lp_in(b, 1);
    if (bs.rank < a->rank) {
        /* [.., C] against a higher rank: leading ones make oneDNN broadcast it. */
        int64_t c = bs.d[bs.rank - 1];
        bs = *a;
        for (int i = 0; i < bs.rank - 1; i++)
            bs.d[i] = 1;
        bs.d[bs.rank - 1] = c;
    }
    dnnl_memory_desc_t md0, md1, mdy;
    dnnl_binary_desc_t bd;
    dnnl_primitive_attr_t attr = NULL;
    int rc = lp_dn_md_plain(&md0, a, b->dt[0]);
    if (!rc)
        rc = lp_dn_md_plain(&md1, &bs, b->dt[1]);
    if (!rc)
        rc = lp_dn_md_plain(&mdy, lp_out(b), b->dt_out);
    if (rc)
        return lp_err_set(b->err, rc, "onednn: %s: no memory desc for the operands", nm);
    rc = lp_dn_check(dnnl_binary_desc_init(&bd, is_add ? dnnl_binary_add : dnnl_binary_mul, &md0,
                                           &md1, &mdy),
                     b->err, nm, "dnnl_binary_desc_init");
    if (!rc)
        rc = lp_dn_attr(&attr, b->err, nm);
    lp_act act = is_add ? b->nd->p.add.act : LP_ACT_NONE;
    if (!rc)
        rc = b->int8 ? lp_dq_binary_attr(b, attr, act)
                     : lp_dn_post_ops(attr, act, 0, 1.0f, b->err, nm);
    rc = lp_dn_pd(b, rc, &bd, attr, nm);
    const lp_dn_io io[] = {{b->nd->in[0], &md0, DNNL_ARG_SRC_0},
                           {b->nd->in[1], &md1, DNNL_ARG_SRC_1},
                           {b->nd->out, &mdy, DNNL_ARG_DST}};
    return lp_dn_bind(b, rc, io, sizeof io / sizeof *io);
}

/* ---- softmax and layer normalisation over the last axis ------------------------- */

static int lp_dn_softmax(lp_dbuild *b)
{
    const char *nm = "softmax";
    const lp_shape *x = lp_in(b, 0);
    dnnl_memory_desc_t md;
    dnnl_softmax_desc_t sd;
    dnnl_primitive_attr_t attr = NULL;
    int rc = lp_dn_md_plain(&md, x, dnnl_f32);
    if (rc)
        return lp_err_set(b->err, rc, "onednn: softmax: no memory desc for the input");
    rc = lp_dn_check(dnnl_softmax_forward_desc_init(&sd, dnnl_forward_inference, &md, x->rank - 1),
                     b->err, nm, "dnnl_softmax_forward_desc_init");
    if (!rc)
        rc = lp_dn_attr(&attr, b->err, nm);
    rc = lp_dn_pd(b, rc, &sd, attr, nm);
    const lp_dn_io io[] = {{b->nd->in[0], &md, DNNL_ARG_SRC}, {b->nd->out, &md, DNNL_ARG_DST}};
    return lp_dn_bind(b, rc, io, sizeof io / sizeof *io);
}

static int lp_dn_layernorm(lp_dbuild *b)
{
    const char *nm = "layernorm";
    lp_shape x = *lp_in(b, 0);
    int64_t c = x.d[x.rank - 1];
    if (x.rank == 1) /* oneDNN normalises the last axis of a tensor of rank >= 2 */
        x = lp_shape_make(2, 1, c, 0, 0);
    dnnl_memory_desc_t md;
    dnnl_layer_normalization_desc_t ld;
    dnnl_primitive_attr_t attr = NULL;
    int rc = lp_dn_md_plain(&md, &x, dnnl_f32);
    if (rc)
        return lp_err_set(b->err, rc, "onednn: layernorm: no memory desc for the input");
    rc = lp_dn_check(dnnl_layer_normalization_forward_desc_init(
                         &ld, dnnl_forward_inference, &md, NULL, b->nd->p.layernorm.eps,
                         dnnl_use_scale | dnnl_use_shift),
                     b->err, nm, "dnnl_layer_normalization_forward_desc_init");
    if (!rc)
        rc = lp_dn_attr(&attr, b->err, nm);
    rc = lp_dn_pd(b, rc, &ld, attr, nm);
    if (!rc && b->r)
        rc = lp_dn_const(b, b->g->tensors[b->nd->in[1]].data, c, NULL, DNNL_ARG_SCALE);
    if (!rc && b->r)
        rc = lp_dn_const(b, b->g->tensors[b->nd->in[2]].data, c, NULL, DNNL_ARG_SHIFT);
    const lp_dn_io io[] = {{b->nd->in[0], &md, DNNL_ARG_SRC}, {b->nd->out, &md, DNNL_ARG_DST}};
    return lp_dn_bind(b, rc, io, sizeof io / sizeof *io);
}

/* ---- dispatch ---------------------------------------------------------------------- */

int lp_dn_int8_prim(lp_prim p)
{
    return p == LP_PRIM_CONV2D || p == LP_PRIM_DENSE || p == LP_PRIM_POOL || p == LP_PRIM_ADD ||
           p == LP_PRIM_MUL || lp_dn_int8_keeps_scale(p);
}

int lp_dn_int8_keeps_scale(lp_prim p)
{
    return p == LP_PRIM_POOL || p == LP_PRIM_RESHAPE || p == LP_PRIM_TRANSPOSE ||
           p == LP_PRIM_SLICE;
}

static int lp_dn_reshape(lp_dbuild *b)
{
    (void)b; /* the output aliases the input's buffer: nothing to run */
    return 0;
}

int lp_dn_build(lp_dbuild *b)
{
    typedef int (*lp_builder)(lp_dbuild *);
    static const lp_builder builders[LP_PRIM_COUNT_] = {
        [LP_PRIM_CONV2D] = lp_dn_conv,           [LP_PRIM_DENSE] = lp_dn_dense,
        [LP_PRIM_MATMUL] = lp_dn_matmul,         [LP_PRIM_POOL] = lp_dn_pool,
        [LP_PRIM_ACT] = lp_dn_act,               [LP_PRIM_ADD] = lp_dn_binary,
        [LP_PRIM_MUL] = lp_dn_binary,            [LP_PRIM_SOFTMAX] = lp_dn_softmax,
        [LP_PRIM_LAYERNORM] = lp_dn_layernorm,   [LP_PRIM_CONCAT] = lp_dn_build_concat,
        [LP_PRIM_RESHAPE] = lp_dn_reshape,       [LP_PRIM_TRANSPOSE] = lp_dn_build_transpose,
        [LP_PRIM_SLICE] = lp_dn_build_slice};
    b->pd = NULL;
    if (b->int8 && !lp_dn_int8_prim(b->nd->prim))
        return lp_err_set(b->err, LP_EUNSUPPORTED,
                          "onednn: %s: not available with precision=int8 (the int8 path "
                          "quantises conv2d, dense, pool, add, mul, reshape, transpose and "
                          "slice)",
                          lp_prim_name(b->nd->prim));
    return builders[b->nd->prim](b);
}
