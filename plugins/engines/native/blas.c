/* BLAS backends of the native engine. OpenBLAS comes linked through the core
 * library. BLIS also exports cblas_sgemm/sgemm_, so linking it would clash
 * with OpenBLAS in one process: it is dlopen'ed RTLD_LOCAL and only its
 * bli_* typed API (which no other library exports) is called. */
#include "native.h"

#include <cblas.h>
#include <dlfcn.h>
#include <stdio.h>
#include <string.h>

/* Debian 12: libblis4 (pulled in by libblis-dev) installs it through alternatives. */
#define LP_BLIS_SONAME "libblis.so.4"
#define LP_BLIS_PACKAGE "libblis4 (apt-get install libblis-dev)"

/* BLIS enum values (blis.h: BLIS_NO_TRANSPOSE = 0, BLIS_NO_CONJUGATE = 0). */
enum { LP_BLI_NO_TRANSPOSE = 0, LP_BLI_NO_CONJUGATE = 0 };

static int lp_blis_sym(void *handle, const char *name, void *fnp, lp_err *err)
{
    void *sym = dlsym(handle, name);
    if (!sym)
        return lp_err_set(err, LP_EPLUGIN, "native: %s lacks %s; is it BLIS 0.9 or later?",
                          LP_BLIS_SONAME, name);
    /* Object-to-function pointer conversion through memcpy: dlsym's documented idiom. */
    memcpy(fnp, &sym, sizeof sym);
    return 0;
}

static int lp_blis_open(lp_nblas *b, lp_err *err)
{
    /* NODELETE: BLIS keeps an OpenMP runtime and global state that must not be unmapped
     * under a later instance; reopening is then just a refcount. */
    b->handle = dlopen(LP_BLIS_SONAME, RTLD_NOW | RTLD_LOCAL | RTLD_NODELETE);
    if (!b->handle)
        return lp_err_set(err, LP_EPLUGIN, "native: blas=blis needs %s from Debian package %s: %s",
                          LP_BLIS_SONAME, LP_BLIS_PACKAGE, dlerror());
    int rc = lp_blis_sym(b->handle, "bli_sgemm", &b->bli_sgemm, err);
    if (!rc)
        rc = lp_blis_sym(b->handle, "bli_sgemv", &b->bli_sgemv, err);
    if (!rc)
        rc = lp_blis_sym(b->handle, "bli_thread_set_num_threads", &b->bli_set_threads, err);
    if (!rc)
        rc = lp_blis_sym(b->handle, "bli_thread_get_num_threads", &b->bli_get_threads, err);
    if (!rc)
        rc = lp_blis_sym(b->handle, "bli_info_get_version_str", &b->bli_version, err);
    if (!rc)
        rc = lp_blis_sym(b->handle, "bli_arch_query_id", &b->bli_arch_id, err);
    if (!rc)
        rc = lp_blis_sym(b->handle, "bli_arch_string", &b->bli_arch_name, err);
    if (rc) {
        dlclose(b->handle);
        b->handle = NULL;
    }
    return rc;
}

int lp_nblas_open(lp_nblas *b, lp_nblas_kind kind, lp_err *err)
{
    memset(b, 0, sizeof *b);
    b->kind = kind;
    if (kind == LP_NBLAS_OPENBLAS)
        return 0;
    if (kind == LP_NBLAS_BLIS)
        return lp_blis_open(b, err);
    return lp_err_set(err, LP_EINVAL, "native: unknown blas index %d", (int)kind);
}

void lp_nblas_close(lp_nblas *b)
{
    if (b->handle)
        dlclose(b->handle);
    memset(b, 0, sizeof *b);
}

/* OpenBLAS starts nproc - 1 workers when it loads; idle, they spin on sched_yield for
 * ~0.1 s after the load and after every threaded call, and on a 2-core machine that
 * tripled the time of the pool's depthwise loop. openblas_set_num_threads(1) leaves them
 * spinning; blas_thread_shutdown_ (exported, what OpenBLAS's own fork handler calls)
 * joins them, and OpenBLAS restarts them by itself if the process later asks for more. */
static void lp_openblas_park_workers(void)
{
    void *sym = dlsym(RTLD_DEFAULT, "blas_thread_shutdown_");
    int (*shutdown)(void) = NULL;
    memcpy(&shutdown, &sym, sizeof sym);
    if (shutdown)
        shutdown();
}

void lp_nblas_single_thread(const lp_nblas *b)
{
    /* Both libraries keep the count process-wide; asking first keeps run() cheap. */
    if (b->kind == LP_NBLAS_BLIS) {
        if (b->bli_get_threads() != 1)
            b->bli_set_threads(1);
    } else if (openblas_get_num_threads() != 1) {
        openblas_set_num_threads(1);
        lp_openblas_park_workers();
    }
}

void lp_nblas_describe(const lp_nblas *b, char *buf, size_t size)
{
    if (b->kind == LP_NBLAS_BLIS) {
        /* The sub-configuration BLIS picked at run time decides its kernels. */
        snprintf(buf, size, "BLIS %s, arch %s", b->bli_version(),
                 b->bli_arch_name(b->bli_arch_id()));
        return;
    }
    /* openblas_get_config(): "OpenBLAS 0.3.21 NO_LAPACKE DYNAMIC_ARCH ..."; the kernel
     * core DYNAMIC_ARCH picked decides speed, so it belongs in the fingerprint. */
    const char *cfg = openblas_get_config();
    size_t len = strcspn(cfg, " ");
    len += cfg[len] ? strcspn(cfg + len + 1, " ") + 1 : 0;
    snprintf(buf, size, "%.*s, core %s", (int)len, cfg, openblas_get_corename());
}

void lp_nblas_sgemm(const lp_nblas *b, int trans_b, int64_t m, int64_t n, int64_t k, float alpha,
                    const float *a, int64_t lda, const float *bm, int64_t ldb, float beta,
                    float *c, int64_t ldc)
{
    if (b->kind == LP_NBLAS_BLIS) {
        /* BLIS takes both strides: a transposed B is B read column-wise. */
        int64_t rsb = trans_b ? 1 : ldb, csb = trans_b ? ldb : 1;
        b->bli_sgemm(LP_BLI_NO_TRANSPOSE, LP_BLI_NO_TRANSPOSE, m, n, k, &alpha, a, lda, 1, bm, rsb,
                     csb, &beta, c, ldc, 1);
        return;
    }
    cblas_sgemm(CblasRowMajor, CblasNoTrans, trans_b ? CblasTrans : CblasNoTrans, (int)m, (int)n,
                (int)k, alpha, a, (int)lda, bm, (int)ldb, beta, c, (int)ldc);
}

void lp_nblas_sgemv(const lp_nblas *b, int64_t n, int64_t k, const float *w, const float *x,
                    float *y)
{
    const float one = 1.0f, zero = 0.0f;
    if (b->kind == LP_NBLAS_BLIS) {
        b->bli_sgemv(LP_BLI_NO_TRANSPOSE, LP_BLI_NO_CONJUGATE, n, k, &one, w, k, 1, x, 1, &zero, y,
                     1);
        return;
    }
    cblas_sgemv(CblasRowMajor, CblasNoTrans, (int)n, (int)k, one, w, (int)k, x, 1, zero, y, 1);
}
