/* The timing harness: statistics on known samples, the stop rules on a real
 * engine, zero/negative times rejected. */
#include <criterion/criterion.h>
#include <math.h>
#include <sched.h>
#include <string.h>

#include <litepred/harness.h>
#include <litepred/litepred.h>
#include "lp_test.h"

Test(harness, rejects_zero_negative_and_nan_times)
{
    lp_samples s = {0};
    lp_err err = {0};
    cr_assert_eq(lp_samples_add(&s, 0.0, &err), LP_EINVAL);
    cr_assert_str_eq(err.msg, "a timed run took 0 ns: a run must take a positive, finite time "
                              "(broken clock or an engine that did no work)");
    cr_assert_eq(lp_samples_add(&s, -5.0, &err), LP_EINVAL);
    cr_assert_eq(lp_samples_add(&s, NAN, &err), LP_EINVAL);
    cr_assert_eq(lp_samples_add(&s, INFINITY, &err), LP_EINVAL);
    cr_assert_eq(s.n, 0);
    cr_assert_eq(lp_samples_add(&s, 1.0, &err), 0);
    cr_assert_eq(s.n, 1);
    lp_samples_free(&s);
}

Test(harness, statistics_of_known_samples)
{
    lp_samples s = {0};
    lp_err err = {0};
    /* 1..9 ms with one wild outlier: the median and IQR must not care. */
    double v[] = {5, 3, 9, 1, 7, 2, 8, 4, 6, 400};
    for (size_t i = 0; i < sizeof v / sizeof v[0]; i++)
        cr_assert_eq(lp_samples_add(&s, v[i] * 1e6, &err), 0);
    lp_timing t;
    cr_assert_eq(lp_samples_stats(&s, &t, &err), 0);
    cr_assert_float_eq(t.median_ms, 5.5, 1e-9);
    cr_assert_float_eq(t.mean_ms, 44.5, 1e-9);
    cr_assert_float_eq(t.min_ms, 1.0, 1e-9);
    /* numpy.percentile(v, [25, 75]) = 3.25, 7.75 */
    cr_assert_float_eq(t.spread, (7.75 - 3.25) / 5.5, 1e-9);
    cr_assert_eq(t.runs, 10);
    cr_assert(t.ci_rel > 0 && isfinite(t.ci_rel));
    lp_samples_free(&s);
}

/* lp_median: the middle value, the mean of the middle two for an even count, NaN for none;
 * the array is left sorted (callers read quantiles from it afterwards). */
Test(harness, median_odd_even_empty)
{
    double odd[] = {5, 1, 4, 2, 3}, even[] = {8, 2, 6, 4}, none[1] = {7};
    cr_assert_float_eq(lp_median(odd, 5), 3.0, 1e-12);
    for (int i = 1; i < 5; i++)
        cr_assert_leq(odd[i - 1], odd[i], "not sorted at %d", i);
    cr_assert_float_eq(lp_median(even, 4), 5.0, 1e-12);
    cr_assert_float_eq(lp_median(even + 1, 1), 4.0, 1e-12);
    cr_assert(isnan(lp_median(none, 0)));
    cr_assert_float_eq(none[0], 7.0, 0, "an empty range is not touched");
}

Test(harness, constant_samples_have_zero_ci)
{
    lp_samples s = {0};
    lp_err err = {0};
    for (int i = 0; i < 20; i++)
        lp_samples_add(&s, 1234.0, &err);
    lp_timing t;
    cr_assert_eq(lp_samples_stats(&s, &t, &err), 0);
    cr_assert_float_eq(t.ci_rel, 0.0, 1e-12);
    cr_assert_float_eq(t.spread, 0.0, 1e-12);
    lp_samples_free(&s);
}

/* A real conv on the native engine, prepared once. */
typedef struct {
    lp_registry *reg;
    lp_instance *eng;
    const lp_engine_ops *ops;
    lp_graph g;
    void *run;
} real_conv;

static void real_conv_open(real_conv *rc)
{
    lp_err err = {0};
    rc->reg = lp_test_registry();
    const lp_plugin *p = lp_registry_find(rc->reg, LP_KIND_ENGINE, "native");
    cr_assert_not_null(p, "native engine plugin not built");
    cr_assert_eq(lp_instance_create_kv(p, "threads=1", &rc->eng, &err), 0, "%s", err.msg);
    rc->ops = lp_instance_ops(rc->eng);
    lp_graph_init(&rc->g);
    int x = lp_graph_input(&rc->g, lp_shape_make(4, 1, 28, 28, 16), &err);
    int y = lp_graph_conv2d(&rc->g, x, 32, 3, 1, 1, 1, LP_ACT_RELU, &err);
    cr_assert_geq(y, 0, "%s", err.msg);
    cr_assert_eq(lp_graph_mark_output(&rc->g, y, &err), 0);
    cr_assert_eq(lp_graph_fill(&rc->g, 7, &err), 0);
    cr_assert_eq(rc->ops->prepare(rc->eng->priv, &rc->g, &rc->run, &err), 0, "%s", err.msg);
}

static void real_conv_close(real_conv *rc)
{
    rc->ops->release(rc->run);
    lp_graph_free(&rc->g);
    lp_instance_destroy(rc->eng);
    lp_registry_close(rc->reg);
}

static lp_harness_opts opts(double ci, int64_t min_runs, int64_t max_runs, double max_s)
{
    lp_harness_opts h;
    lp_err err = {0};
    cr_assert_eq(lp_options_defaults(lp_harness_options, &h, &err), 0);
    h.warmup = 2;
    h.ci = ci;
    h.min_runs = min_runs;
    h.max_runs = max_runs;
    h.max_seconds = max_s;
    return h;
}

Test(harness, stops_on_a_stable_median)
{
    real_conv rc;
    real_conv_open(&rc);
    lp_harness_opts h = opts(0.05, 10, 100000, 60.0);
    lp_timing t;
    lp_err err = {0};
    cr_assert_eq(lp_harness_time(rc.ops, rc.run, &h, &t, &err), 0, "%s", err.msg);
    cr_assert_eq(t.stable, 1);
    cr_assert_leq(t.ci_rel, 0.05);
    cr_assert(t.runs >= 10 && t.runs < 100000, "runs %lld", (long long)t.runs);
    cr_assert(t.median_ms > 0 && t.min_ms <= t.median_ms && t.median_ms <= t.p95_ms);
    real_conv_close(&rc);
}

Test(harness, run_cap_and_time_cap)
{
    real_conv rc;
    real_conv_open(&rc);
    lp_timing t;
    lp_err err = {0};
    lp_harness_opts h = opts(0.000001, 5, 15, 60.0); /* unreachable CI: the run cap stops it */
    cr_assert_eq(lp_harness_time(rc.ops, rc.run, &h, &t, &err), 0, "%s", err.msg);
    cr_assert_eq(t.runs, 15);
    cr_assert_eq(t.stable, 0);
    h = opts(0.000001, 5, 100000000, 0.05); /* the time cap stops it */
    uint64_t t0 = lp_now_ns();
    cr_assert_eq(lp_harness_time(rc.ops, rc.run, &h, &t, &err), 0, "%s", err.msg);
    double took = (double)(lp_now_ns() - t0) / 1e9;
    cr_assert(took < 2.0, "time cap ignored: %.2f s", took);
    cr_assert(t.runs >= 3 && t.runs < 100000000);
    real_conv_close(&rc);
}

Test(harness, pinning_and_background_load)
{
    lp_harness_opts h = opts(0.01, 10, 100, 1.0);
    lp_harness_env env;
    lp_err err = {0};
    h.cpu = 0;
    h.background = 1;
    cr_assert_eq(lp_harness_enter(&h, &env, &err), 0, "%s", err.msg);
    cpu_set_t set;
    cr_assert_eq(sched_getaffinity(0, sizeof set, &set), 0);
    cr_assert_eq(CPU_COUNT(&set), 1);
    cr_assert(CPU_ISSET(0, &set));
    cr_assert_eq(env.n_busy, 1);
    lp_harness_leave(&env);
    cr_assert_eq(sched_getaffinity(0, sizeof set, &set), 0);
    cr_assert_geq(CPU_COUNT(&set), 1);
    h.cpu = 4095;
    cr_assert_eq(lp_harness_enter(&h, &env, &err), LP_EINVAL);
    cr_assert(strstr(err.msg, "cannot pin to CPU 4095") != NULL, "%s", err.msg);
}

/* Seconds to dirty n bytes once, the way the harness flush does. */
static double dirty_seconds(size_t n)
{
    volatile unsigned char *b = calloc(1, n);
    cr_assert_not_null((void *)b);
    for (size_t i = 0; i < n; i += 64)
        b[i] = 1;
    uint64_t t0 = lp_now_ns();
    for (size_t i = 0; i < n; i += 64)
        b[i] = (unsigned char)(b[i] + 1);
    double s = (double)(lp_now_ns() - t0) / 1e9;
    free((void *)b);
    return s;
}

Test(harness, cache_flush_runs_before_every_run_untimed)
{
    real_conv rc;
    real_conv_open(&rc);
    lp_timing t;
    lp_err err = {0};
    lp_harness_opts h = opts(0.000001, 10, 10, 60.0); /* exactly 2 warm-up + 10 timed runs */
    h.flush_kib = 64 * 1024;
    double one = dirty_seconds((size_t)h.flush_kib * 1024);
    uint64_t t0 = lp_now_ns();
    cr_assert_eq(lp_harness_time(rc.ops, rc.run, &h, &t, &err), 0, "%s", err.msg);
    double took = (double)(lp_now_ns() - t0) / 1e9;
    cr_assert_eq(t.runs, 10);
    /* 12 flushes happened, and none of them is inside a timed run */
    cr_assert(took >= 12 * one * 0.5, "12 flushes of %.4f s each, but the call took %.4f s", one, took);
    cr_assert(t.median_ms / 1e3 < one, "a timed run (%.4f s) includes the flush (%.4f s)",
              t.median_ms / 1e3, one);
    real_conv_close(&rc);
}

Test(harness, cache_flush_is_part_of_the_platform_identity)
{
    char *dir = lp_test_tmpdir(), *path;
    lp_registry *reg = lp_test_registry();
    lp_platform *pf = NULL;
    lp_diag d = {0};
    lp_err err = {0};
    path = lp_test_write(dir, "p.yaml", "platform: p\nengine: {plugin: native, threads: 1}\n"
                                        "harness: {flush_kib: 8192}\n");
    cr_assert_eq(lp_platform_load(reg, path, &pf, &d, &err), 0, "%s", err.msg);
    cr_assert_eq(pf->harness.flush_kib, 8192);
    cr_assert(strstr(pf->engine_options, "flush_kib=8192"), "%s", pf->engine_options);
    lp_platform_free(pf);
    free(path);
    path = lp_test_write(dir, "q.yaml", "platform: q\nengine: {plugin: native, threads: 1}\n");
    cr_assert_eq(lp_platform_load(reg, path, &pf, &d, &err), 0, "%s", err.msg);
    cr_assert_null(strstr(pf->engine_options, "flush"), "off by default: %s", pf->engine_options);
    lp_platform_free(pf);
    free(path);
    lp_diag_free(&d);
    lp_registry_close(reg);
    lp_test_rmtree(dir);
    free(dir);
}
