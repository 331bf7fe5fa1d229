/* A small fork-join pool for the engine's own loops (depthwise, im2col,
 * elementwise). Workers spin briefly before sleeping: a graph dispatches
 * many short loops back to back, and a futex wake per loop would dominate
 * them on a 2-thread platform. */
#include "native.h"

#include <stdlib.h>
#include <string.h>

/* ~tens of microseconds of polling before a worker sleeps on the condvar. */
#define LP_TP_SPIN 4000

static inline void lp_cpu_relax(void)
{
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_pause();
#endif
}

typedef struct lp_tp_worker_arg {
    lp_tpool *tp;
    int index;
} lp_tp_worker_arg;

static void lp_tp_slice(const lp_tpool *tp, int part, int64_t *begin, int64_t *end)
{
    *begin = tp->total * part / tp->n;
    *end = tp->total * (part + 1) / tp->n;
}

static uint64_t lp_tp_wait_gen(lp_tpool *tp, uint64_t seen)
{
    uint64_t g;
    for (int i = 0; i < LP_TP_SPIN; i++) {
        g = atomic_load_explicit(&tp->gen, memory_order_acquire);
        if (g != seen)
            return g;
        lp_cpu_relax();
    }
    pthread_mutex_lock(&tp->mu);
    while ((g = atomic_load_explicit(&tp->gen, memory_order_acquire)) == seen)
        pthread_cond_wait(&tp->go, &tp->mu);
    pthread_mutex_unlock(&tp->mu);
    return g;
}

static void *lp_tp_worker(void *argp)
{
    lp_tp_worker_arg arg = *(lp_tp_worker_arg *)argp;
    free(argp);
    lp_tpool *tp = arg.tp;
    uint64_t seen = 0;
    for (;;) {
        seen = lp_tp_wait_gen(tp, seen);
        if (atomic_load(&tp->stop))
            return NULL;
        int64_t b, e;
        lp_tp_slice(tp, arg.index, &b, &e);
        if (e > b)
            tp->fn(tp->ctx, b, e);
        if (atomic_fetch_sub_explicit(&tp->pending, 1, memory_order_acq_rel) == 1) {
            /* Signalled under the mutex so a caller about to wait cannot miss it. */
            pthread_mutex_lock(&tp->mu);
            pthread_cond_signal(&tp->done);
            pthread_mutex_unlock(&tp->mu);
        }
    }
}

static void lp_tp_kick(lp_tpool *tp)
{
    pthread_mutex_lock(&tp->mu);
    atomic_fetch_add_explicit(&tp->gen, 1, memory_order_release);
    pthread_cond_broadcast(&tp->go);
    pthread_mutex_unlock(&tp->mu);
}

static void lp_tp_join_pending(lp_tpool *tp)
{
    for (int i = 0; i < LP_TP_SPIN; i++) {
        if (atomic_load_explicit(&tp->pending, memory_order_acquire) == 0)
            return;
        lp_cpu_relax();
    }
    pthread_mutex_lock(&tp->mu);
    while (atomic_load_explicit(&tp->pending, memory_order_acquire) != 0)
        pthread_cond_wait(&tp->done, &tp->mu);
    pthread_mutex_unlock(&tp->mu);
}

static void lp_tp_stop(lp_tpool *tp, int started)
{
    atomic_store(&tp->stop, 1);
    lp_tp_kick(tp);
    for (int i = 0; i < started; i++)
        pthread_join(tp->workers[i], NULL);
}

int lp_tpool_init(lp_tpool *tp, int n, lp_err *err)
{
    memset(tp, 0, sizeof *tp);
    tp->n = n < 1 ? 1 : n;
    pthread_mutex_init(&tp->mu, NULL);
    pthread_cond_init(&tp->go, NULL);
    pthread_cond_init(&tp->done, NULL);
    atomic_init(&tp->gen, 0);
    atomic_init(&tp->pending, 0);
    atomic_init(&tp->stop, 0);
    if (tp->n == 1)
        return 0;
    tp->workers = calloc((size_t)tp->n - 1, sizeof *tp->workers);
    if (!tp->workers)
        goto nomem;
    for (int i = 0; i < tp->n - 1; i++) {
        lp_tp_worker_arg *arg = malloc(sizeof *arg);
        if (!arg) {
            lp_tp_stop(tp, i);
            goto nomem;
        }
        *arg = (lp_tp_worker_arg){tp, i + 1};
        int rc = pthread_create(&tp->workers[i], NULL, lp_tp_worker, arg);
        if (rc) {
            free(arg);
            lp_tp_stop(tp, i);
            lp_tpool_destroy(tp);
            return lp_err_set(err, LP_EPLUGIN, "native: cannot start worker thread %d of %d: %s",
                              i + 1, tp->n - 1, strerror(rc));
        }
    }
    return 0;
nomem:
    lp_tpool_destroy(tp);
    return lp_err_set(err, LP_ENOMEM, "native: out of memory for a %d-thread pool", n);
}

void lp_tpool_destroy(lp_tpool *tp)
{
    if (tp->workers && !atomic_load(&tp->stop))
        lp_tp_stop(tp, tp->n - 1);
    free(tp->workers);
    tp->workers = NULL;
    pthread_cond_destroy(&tp->done);
    pthread_cond_destroy(&tp->go);
    pthread_mutex_destroy(&tp->mu);
}

void lp_tpool_for(lp_tpool *tp, int64_t total, int64_t grain, lp_tp_fn fn, void *ctx)
{
    if (total <= 0)
        return;
    if (tp->n == 1 || total < grain || total < tp->n) {
        fn(ctx, 0, total);
        return;
    }
    tp->fn = fn;
    tp->ctx = ctx;
    tp->total = total;
    atomic_store_explicit(&tp->pending, tp->n - 1, memory_order_relaxed);
    lp_tp_kick(tp);
    int64_t b, e;
    lp_tp_slice(tp, 0, &b, &e);
    fn(ctx, b, e);
    lp_tp_join_pending(tp);
}
