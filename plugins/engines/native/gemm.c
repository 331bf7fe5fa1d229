/* GEMM-based ops on the instance's BLAS, split over the engine's own pool
 * (rows of C, or columns when C is wide); the BLAS itself runs single-threaded.
 * Measured at 2 threads on the 2-core dev machine: OpenBLAS's own threading
 * took a 3x3 56x56 32->64 conv from 1148 to only 1090 us where the split
 * gives 566 us, and its idle workers spin (sched_yield) ~0.1 s after each
 * call, starving the pool's threads in the depthwise and elementwise loops
 * that follow a GEMM (a 5x5 depthwise went from 88 to 304 us). One pool also
 * keeps a graph's threading the same for OpenBLAS and BLIS. */
#include "native.h"

/* Below this many multiply-adds a fork-join costs more than it saves. */
#define LP_GEMM_PAR_MACS 65536

typedef struct lp_gemm_ctx {
    const lp_nblas *blas;
    int trans_b, split_n;
    int64_t m, n, k;
    float alpha;
    const float *a, *b;
    float *c;
    int64_t lda, ldb, ldc;
} lp_gemm_ctx;

/* Rows [r0, r1) of C, or its columns when split_n. */
static void lp_gemm_part(void *ctxp, int64_t r0, int64_t r1)
{
    const lp_gemm_ctx *g = ctxp;
    if (!g->split_n) {
        lp_nblas_sgemm(g->blas, g->trans_b, r1 - r0, g->n, g->k, g->alpha, g->a + r0 * g->lda,
                       g->lda, g->b, g->ldb, 0.0f, g->c + r0 * g->ldc, g->ldc);
        return;
    }
    /* Columns r0.. of op(B): rows of B when it is stored transposed. */
    const float *b = g->b + (g->trans_b ? r0 * g->ldb : r0);
    lp_nblas_sgemm(g->blas, g->trans_b, g->m, r1 - r0, g->k, g->alpha, g->a, g->lda, b, g->ldb,
                   0.0f, g->c + r0, g->ldc);
}

void lp_par_sgemm(lp_nrun *r, int trans_b, int64_t m, int64_t n, int64_t k, float alpha,
                  const float *a, int64_t lda, const float *b, int64_t ldb, float *c, int64_t ldc)
{
    lp_gemm_ctx g = {&r->eng->blas, trans_b, 0, m, n, k, alpha, a, b, c, lda, ldb, ldc};
    if (r->pool.n == 1 || m * n * k < LP_GEMM_PAR_MACS) {
        lp_gemm_part(&g, 0, m);
        return;
    }
    /* Split the longer side of C so each thread still gets a GEMM-shaped block. */
    g.split_n = n > m;
    lp_tpool_for(&r->pool, g.split_n ? n : m, 1, lp_gemm_part, &g);
}

static void lp_gemv_part(void *ctxp, int64_t r0, int64_t r1)
{
    const lp_gemm_ctx *g = ctxp;
    lp_nblas_sgemv(g->blas, r1 - r0, g->k, g->b + r0 * g->ldb, g->a, g->c + r0);
}

void lp_exec_dense(lp_nrun *r, const lp_nstep *s)
{
    const lp_shape *x = &s->in_shape[0];
    int64_t k = x->d[x->rank - 1], n = s->in_shape[1].d[0];
    int64_t m = lp_shape_numel(x) / k;
    /* One row (the classifier of a CNN) is matrix-vector: gemv streams the weights once,
     * where gemm would pack them first. */
    if (m == 1) {
        lp_gemm_ctx g = {.blas = &r->eng->blas, .k = k, .a = s->in[0], .b = s->in[1], .c = s->out,
                         .ldb = k};
        lp_tpool_for(&r->pool, n, LP_GEMM_PAR_MACS / k + 1, lp_gemv_part, &g);
    } else {
        lp_par_sgemm(r, 1, m, n, k, 1.0f, s->in[0], k, s->in[1], k, s->out, n);
    }
    lp_bias_act_rows(r, s->out, m, n, s->node.n_in > 2 ? s->in[2] : NULL, s->node.p.dense.act);
}

static int64_t lp_leading(const lp_shape *s)
{
    int64_t b = 1;
    for (int i = 0; i < s->rank - 2; i++)
        b *= s->d[i];
    return b;
}

void lp_exec_matmul(lp_nrun *r, const lp_nstep *s)
{
    const lp_shape *a = &s->in_shape[0], *b = &s->in_shape[1];
    int trans_b = s->node.p.matmul.trans_b;
    int64_t m = a->d[a->rank - 2], k = a->d[a->rank - 1];
    int64_t n = trans_b ? b->d[b->rank - 2] : b->d[b->rank - 1];
    int64_t batch = lp_leading(a), b_step = lp_leading(b) == 1 ? 0 : k * n;
    for (int64_t i = 0; i < batch; i++)
        lp_par_sgemm(r, trans_b, m, n, k, s->node.p.matmul.alpha, s->in[0] + i * m * k, k,
                     s->in[1] + i * b_step, trans_b ? k : n, s->out + i * m * n, n);
}
