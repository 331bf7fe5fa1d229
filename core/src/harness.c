/* Timing harness. The median is the statistic: rare outliers push the plain
 * coefficient of variation to 15-20% on this class of machine while the
 * median moves < 1% (shared/spec/engines.md). */
#include <litepred/harness.h>

#include <math.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "util.h"

int lp_samples_add(lp_samples *s, double ns, lp_err *err)
{
    if (!(ns > 0) || !isfinite(ns))
        return lp_err_set(err, LP_EINVAL, "a timed run took %g ns: a run must take a positive, "
                                          "finite time (broken clock or an engine that did no work)",
                          ns);
    if (s->n == s->cap) {
        size_t cap = s->cap ? s->cap * 2 : 64;
        double *nv = realloc(s->ns, cap * sizeof *nv);
        if (!nv)
            return lp_err_set(err, LP_ENOMEM, "out of memory");
        s->ns = nv;
        s->cap = cap;
    }
    s->ns[s->n++] = ns;
    return 0;
}

void lp_samples_free(lp_samples *s)
{
    free(s->ns);
    memset(s, 0, sizeof *s);
}

/* Linear-interpolated quantile of sorted v (type 7, as numpy's default). */
static double quantile(const double *v, size_t n, double q)
{
    double pos = q * (double)(n - 1);
    size_t lo = (size_t)floor(pos);
    size_t hi = lo + 1 < n ? lo + 1 : lo;
    return v[lo] + (pos - (double)lo) * (v[hi] - v[lo]);
}

/* Distribution-free CI of the median: order statistics at ranks
 * n/2 -+ 1.96 sqrt(n)/2 (normal approximation to the binomial). */
static double median_ci_rel(const double *v, size_t n, double median)
{
    if (n < 3)
        return INFINITY;
    double h = 1.96 * sqrt((double)n) / 2.0;
    long j = (long)floor((double)n / 2.0 - h), k = (long)ceil((double)n / 2.0 + h);
    if (j < 0)
        j = 0;
    if (k > (long)n - 1)
        k = (long)n - 1;
    return (v[k] - v[j]) / (2.0 * median);
}

int lp_samples_stats(const lp_samples *s, lp_timing *out, lp_err *err)
{
    if (s->n == 0)
        return lp_err_set(err, LP_EINVAL, "no timed runs");
    double *v = malloc(s->n * sizeof *v);
    if (!v)
        return lp_err_set(err, LP_ENOMEM, "out of memory");
    memcpy(v, s->ns, s->n * sizeof *v);
    qsort(v, s->n, sizeof *v, lp_cmp_double);
    double sum = 0;
    for (size_t i = 0; i < s->n; i++)
        sum += v[i];
    double med = quantile(v, s->n, 0.5);
    out->median_ms = med / 1e6;
    out->mean_ms = sum / (double)s->n / 1e6;
    out->min_ms = v[0] / 1e6;
    out->p95_ms = quantile(v, s->n, 0.95) / 1e6;
    out->spread = (quantile(v, s->n, 0.75) - quantile(v, s->n, 0.25)) / med;
    out->ci_rel = median_ci_rel(v, s->n, med);
    out->runs = (int64_t)s->n;
    free(v);
    return 0;
}

/* ---- environment: pinning and background load ------------------------ */

typedef struct busy_state {
    atomic_int stop;
    pthread_t *threads;
} busy_state;

static void *busy_loop(void *arg)
{
    busy_state *b = arg;
    volatile double x = 1.0;
    while (!atomic_load_explicit(&b->stop, memory_order_relaxed))
        for (int i = 0; i < 10000; i++)
            x = x * 1.0000001 + 1e-9;
    return NULL;
}

static int start_busy(lp_harness_env *env, int n, lp_err *err)
{
    busy_state *b = calloc(1, sizeof *b);
    if (!b || !(b->threads = calloc((size_t)n, sizeof *b->threads))) {
        free(b);
        return lp_err_set(err, LP_ENOMEM, "out of memory");
    }
    env->busy = b;
    for (int i = 0; i < n; i++) {
        if (pthread_create(&b->threads[i], NULL, busy_loop, b) != 0) {
            lp_harness_leave(env);
            return lp_err_set(err, LP_EIO, "cannot start background load thread %d of %d", i + 1, n);
        }
        env->n_busy++;
    }
    return 0;
}

int lp_harness_enter(const lp_harness_opts *h, lp_harness_env *env, lp_err *err)
{
    memset(env, 0, sizeof *env);
    _Static_assert(sizeof(cpu_set_t) <= sizeof env->saved, "cpu_set_t does not fit");
    if (h->cpu >= 0) {
        cpu_set_t set;
        if (sched_getaffinity(0, sizeof(cpu_set_t), (cpu_set_t *)env->saved) != 0)
            return lp_err_set(err, LP_EIO, "cannot read the CPU affinity");
        CPU_ZERO(&set);
        CPU_SET((int)h->cpu, &set);
        if (sched_setaffinity(0, sizeof set, &set) != 0)
            return lp_err_set(err, LP_EINVAL, "cannot pin to CPU %lld (this machine has %ld online)",
                              (long long)h->cpu, sysconf(_SC_NPROCESSORS_ONLN));
        env->pinned = 1;
    }
    if (h->background > 0) {
        int rc = start_busy(env, (int)h->background, err);
        if (rc < 0) {
            lp_harness_leave(env);
            return rc;
        }
    }
    return 0;
}

void lp_harness_leave(lp_harness_env *env)
{
    busy_state *b = env->busy;
    if (b) {
        atomic_store(&b->stop, 1);
        for (int i = 0; i < env->n_busy; i++)
            pthread_join(b->threads[i], NULL);
        free(b->threads);
        free(b);
    }
    if (env->pinned)
        sched_setaffinity(0, sizeof(cpu_set_t), (cpu_set_t *)env->saved);
    memset(env, 0, sizeof *env);
}

/* ---- the timing loop ------------------------------------------------------ */

/* Dirties every cache line of buf so that the next run finds weights and activations
 * where a kernel inside a whole model finds them: not in the private caches, which the
 * model's other kernels have just filled. Kernels timed warm in a loop otherwise run
 * 4-44% faster than inside a model (bench/additivity.sh). */
void lp_harness_flush(volatile unsigned char *buf, size_t n)
{
    for (size_t i = 0; i < n; i += 64)
        buf[i] = (unsigned char)(buf[i] + 1);
}

static int run_once(const lp_engine_ops *ops, void *runnable, unsigned char *flush, size_t n_flush,
                    double *ns, lp_err *err)
{
    if (flush)
        lp_harness_flush(flush, n_flush);
    uint64_t t0 = lp_now_ns();
    int rc = ops->run(runnable, err);
    uint64_t t1 = lp_now_ns();
    *ns = (double)(t1 - t0);
    return rc;
}

int lp_harness_time(const lp_engine_ops *ops, void *runnable, const lp_harness_opts *h,
                    lp_timing *out, lp_err *err)
{
    lp_samples s = {0};
    double ns;
    int rc = 0;
    size_t n_flush = h->flush_kib > 0 ? (size_t)h->flush_kib * 1024 : 0;
    unsigned char *flush = n_flush ? calloc(1, n_flush) : NULL;
    memset(out, 0, sizeof *out);
    if (n_flush && !flush)
        return lp_err_set(err, LP_ENOMEM, "cannot allocate the %lld KiB cache-flush buffer",
                          (long long)h->flush_kib);
    for (int64_t i = 0; i < h->warmup; i++)
        if ((rc = run_once(ops, runnable, flush, n_flush, &ns, err)) < 0)
            goto done;
    uint64_t start = lp_now_ns(), cap_ns = (uint64_t)(h->max_seconds * 1e9);
    int64_t next_check = h->min_runs;
    while ((int64_t)s.n < h->max_runs) {
        if ((rc = run_once(ops, runnable, flush, n_flush, &ns, err)) < 0 ||
            (rc = lp_samples_add(&s, ns, err)) < 0)
            goto done;
        int capped = lp_now_ns() - start >= cap_ns;
        /* Checking every ~10% more runs keeps the sorting cost amortised O(log n) per run. */
        if ((int64_t)s.n >= next_check || capped) {
            if ((rc = lp_samples_stats(&s, out, err)) < 0)
                goto done;
            if (out->ci_rel <= h->ci) {
                out->stable = 1;
                goto done;
            }
            if (capped && (int64_t)s.n >= 3)
                goto done;
            next_check = (int64_t)s.n + ((int64_t)s.n / 10 > 0 ? (int64_t)s.n / 10 : 1);
        }
    }
    rc = lp_samples_stats(&s, out, err);
    out->stable = out->ci_rel <= h->ci;
done:
    lp_samples_free(&s);
    free(flush);
    return rc;
}
