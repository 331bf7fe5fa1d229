/* The measurement store: round trips, idempotent inserts, batches, crash
 * safety under SIGKILL, resume, schema/identity checks and the `store` verb.
 *
 * Every latency stored here is SYNTHETIC: a fixed function of the row's index
 * (see synth()). These tests check the store, not an engine or the harness;
 * the function lets a test tell an intact row from a damaged or foreign one. */
#include <criterion/criterion.h>
#include <litepred/store.h>

#include <errno.h>
#include <signal.h>
#include <stdarg.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "lp_test.h"

static char *tmp;
static char *db_path;

static void setup(void)
{
    tmp = lp_test_tmpdir();
    cr_assert_geq(asprintf(&db_path, "%s/measure.db", tmp), 0);
}

static void teardown(void)
{
    lp_test_rmtree(tmp);
    free(tmp);
    free(db_path);
}

TestSuite(store, .init = setup, .fini = teardown);

/* ---- helpers ---------------------------------------------------------- */

static lp_store *open_store(unsigned flags)
{
    lp_store *s = NULL;
    lp_err err = {0};
    int rc = lp_store_open(db_path, flags, &s, &err);
    cr_assert_eq(rc, 0, "open %s: %s", db_path, err.msg);
    cr_assert_not_null(s);
    return s;
}

/* Synthetic measurement of row i: exact binary fractions, so equality is exact. */
static lp_measure synth(int i, int64_t machine_id)
{
    lp_measure m = {0};
    m.median_ms = 0.5 + 0.25 * i;
    m.mean_ms = m.median_ms + 0.125;
    m.spread = 0.015625 * (i % 7);
    m.runs = 10 + i;
    m.measured_at = 1700000000 + i;
    m.machine_id = machine_id;
    snprintf(m.engine_version, sizeof m.engine_version, "synthetic-%d", i % 3);
    return m;
}

static void cfg(int i, char *buf, size_t size)
{
    snprintf(buf, size, "cin=%d,cout=%d,hw=%d,k=3,s=1", 8 + i % 16, 16 + i, 7 + i % 5);
}

static void assert_measure_eq(const lp_measure *got, const lp_measure *want)
{
    cr_assert_eq(got->median_ms, want->median_ms, "median %g != %g", got->median_ms, want->median_ms);
    cr_assert_eq(got->mean_ms, want->mean_ms, "mean %g != %g", got->mean_ms, want->mean_ms);
    cr_assert_eq(got->spread, want->spread, "spread %g != %g", got->spread, want->spread);
    cr_assert_eq(got->runs, want->runs);
    cr_assert_eq(got->measured_at, want->measured_at);
    cr_assert_eq(got->machine_id, want->machine_id);
    cr_assert_str_eq(got->engine_version, want->engine_version);
}

static const lp_machine test_machine = {"Synthetic CPU @ 1.00GHz", "6.1.0-test #1 SMP", ""};

/* Adds the synthetic machine and a platform; writes their ids. */
static void add_platform(lp_store *s, const char *name, int64_t *machine, int64_t *platform)
{
    lp_err err = {0};
    cr_assert_eq(lp_store_machine_id(s, &test_machine, machine, &err), 0, "%s", err.msg);
    cr_assert_eq(lp_store_platform_add(s, name, "native", "threads=1", platform, &err), 0, "%s",
                 err.msg);
}

static int64_t count_kernels(lp_store *s, int64_t platform)
{
    int64_t n = -1;
    lp_err err = {0};
    cr_assert_eq(lp_store_count_kernels(s, platform, NULL, &n, &err), 0, "%s", err.msg);
    return n;
}

/* Runs SQL on the file directly, bypassing the store (to forge foreign or newer files). */
static void raw_exec(const char *path, const char *sql)
{
    sqlite3 *db = NULL;
    cr_assert_eq(sqlite3_open(path, &db), SQLITE_OK);
    char *msg = NULL;
    int rc = sqlite3_exec(db, sql, NULL, NULL, &msg);
    cr_assert_eq(rc, SQLITE_OK, "%s: %s", sql, msg ? msg : "");
    sqlite3_close(db);
}

static int64_t raw_int(const char *path, const char *sql)
{
    sqlite3 *db = NULL;
    sqlite3_stmt *st = NULL;
    cr_assert_eq(sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
    cr_assert_eq(sqlite3_prepare_v2(db, sql, -1, &st, NULL), SQLITE_OK, "%s", sqlite3_errmsg(db));
    cr_assert_eq(sqlite3_step(st), SQLITE_ROW, "%s", sqlite3_errmsg(db));
    int64_t v = sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
    sqlite3_close(db);
    return v;
}

static int file_exists(const char *path)
{
    struct stat sb;
    return stat(path, &sb) == 0;
}

/* ---- round trips -------------------------------------------------------- */

Test(store, round_trip_all_fields)
{
    lp_err err = {0};
    lp_store *s = open_store(0);
    int64_t t0 = time(NULL);

    int64_t mid = 0, mid2 = 0;
    cr_assert_eq(lp_store_machine_id(s, &test_machine, &mid, &err), 0, "%s", err.msg);
    cr_assert_eq(lp_store_machine_id(s, &test_machine, &mid2, &err), 0, "%s", err.msg);
    cr_assert_gt(mid, 0);
    cr_assert_eq(mid, mid2, "the same machine must map to one row");

    int64_t pid = 0, pid2 = 0;
    cr_assert_eq(lp_store_platform_add(s, "native-fp32-1t", "native", " threads = 1, affinity=0 ",
                                       &pid, &err), 0, "%s", err.msg);
    cr_assert_eq(lp_store_platform_add(s, "native-fp32-1t", "native", "affinity=0,threads=1", &pid2,
                                       &err), 0, "%s", err.msg);
    cr_assert_eq(pid, pid2, "options differing only in order and blanks are the same platform");
    cr_assert_eq(lp_store_platform_add(s, "native-fp32-1t", "native", "threads=4", NULL, &err), LP_EEXIST);
    cr_assert(strstr(err.msg, "native-fp32-1t") && strstr(err.msg, "threads=4"), "%s", err.msg);

    const char *model_text = "model: \"m, 1\"\nkernels:\n  - conv-bn-relu {cin: 3, cout: 16}\n";
    int64_t model_id = 0;
    cr_assert_eq(lp_store_model_add(s, NULL, "mbv3-0007", "ofa-mbv3", model_text, &model_id, &err), 0,
                 "%s", err.msg);
    cr_assert_eq(lp_store_model_add(s, NULL, "other-name", "ofa-mbv3", model_text, NULL, &err),
                 LP_EEXIST, "a key stored for another model must be refused");

    lp_measure km = synth(3, mid), mm = synth(11, mid);
    int is_new = -1;
    cr_assert_eq(lp_store_put_kernel(s, pid, "conv-bn-relu", "cin=8,cout=16,hw=14,k=3,s=1", &km,
                                     &is_new, &err), 0, "%s", err.msg);
    cr_assert_eq(is_new, 1);
    is_new = -1;
    cr_assert_eq(lp_store_put_model(s, pid, model_id, &mm, &is_new, &err), 0, "%s", err.msg);
    cr_assert_eq(is_new, 1);
    lp_store_close(s);

    /* Everything must come back from the file, not from the connection. */
    s = open_store(LP_STORE_READONLY);
    lp_machine m;
    cr_assert_eq(lp_store_machine_get(s, mid, &m, &err), 0, "%s", err.msg);
    cr_assert_str_eq(m.cpu_model, test_machine.cpu_model);
    cr_assert_str_eq(m.kernel, test_machine.kernel);
    cr_assert_str_eq(m.hostname, "");

    lp_platform_info p;
    cr_assert_eq(lp_store_platform_get(s, "native-fp32-1t", &p, &err), 0, "%s", err.msg);
    cr_assert_eq(p.id, pid);
    cr_assert_str_eq(p.name, "native-fp32-1t");
    cr_assert_str_eq(p.engine, "native");
    cr_assert_str_eq(p.options, "affinity=0,threads=1");
    cr_assert(p.created_at >= t0 && p.created_at <= time(NULL) + 1, "created_at %lld",
              (long long)p.created_at);

    lp_measure got;
    cr_assert_eq(lp_store_get_kernel(s, pid, "conv-bn-relu", "cin=8,cout=16,hw=14,k=3,s=1", &got,
                                     &err), 0, "%s", err.msg);
    assert_measure_eq(&got, &km);

    char key[LP_STORE_KEY_MAX];
    lp_store_model_key(model_text, key);
    cr_assert_eq(strlen(key), 16);
    lp_model_info mi;
    cr_assert_eq(lp_store_model_get(s, key, &mi, &err), 0, "%s", err.msg);
    cr_assert_eq(mi.id, model_id);
    cr_assert_str_eq(mi.key, key);
    cr_assert_str_eq(mi.name, "mbv3-0007");
    cr_assert_str_eq(mi.space, "ofa-mbv3");
    cr_assert_str_eq(mi.text, model_text);
    cr_assert(mi.created_at >= t0);
    lp_model_info_free(&mi);

    cr_assert_eq(lp_store_get_model(s, pid, model_id, &got, &err), 0, "%s", err.msg);
    assert_measure_eq(&got, &mm);

    cr_assert_eq(lp_store_get_kernel(s, pid, "conv-bn-relu", "cin=9", &got, &err), LP_ENOTFOUND);
    cr_assert_eq(lp_store_get_model(s, pid, model_id + 1, &got, &err), LP_ENOTFOUND);
    cr_assert_eq(lp_store_platform_get(s, "nope", &p, &err), LP_ENOTFOUND);
    cr_assert_eq(lp_store_put_kernel(s, pid, "fc", "cin=1", &km, NULL, &err), LP_EINVAL,
                 "a read-only store must refuse writes");
    cr_assert(strstr(err.msg, "read-only"), "%s", err.msg);
    lp_store_close(s);
}

Test(store, measured_at_zero_means_now)
{
    lp_err err = {0};
    lp_store *s = open_store(0);
    int64_t mid, pid;
    add_platform(s, "p", &mid, &pid);
    lp_measure m = synth(0, mid), got;
    m.measured_at = 0;
    int64_t t0 = time(NULL);
    cr_assert_eq(lp_store_put_kernel(s, pid, "fc", "cin=1,cout=2", &m, NULL, &err), 0, "%s", err.msg);
    cr_assert_eq(lp_store_get_kernel(s, pid, "fc", "cin=1,cout=2", &got, &err), 0, "%s", err.msg);
    cr_assert(got.measured_at >= t0 && got.measured_at <= time(NULL) + 1);
    lp_store_close(s);
}

Test(store, idempotent_reinsert)
{
    lp_err err = {0};
    lp_store *s = open_store(0);
    int64_t mid, pid, model;
    add_platform(s, "p", &mid, &pid);
    cr_assert_eq(lp_store_model_add(s, "k1", "m1", "", "text", &model, &err), 0, "%s", err.msg);

    lp_measure first = synth(1, mid), second = synth(2, mid), got;
    int is_new = -1;
    cr_assert_eq(lp_store_put_kernel(s, pid, "fc", "cin=4,cout=8", &first, &is_new, &err), 0, "%s", err.msg);
    cr_assert_eq(is_new, 1);
    cr_assert_eq(lp_store_put_kernel(s, pid, "fc", "cin=4,cout=8", &second, &is_new, &err), 0, "%s", err.msg);
    cr_assert_eq(is_new, 0, "a stored key must report not new");
    cr_assert_eq(lp_store_get_kernel(s, pid, "fc", "cin=4,cout=8", &got, &err), 0, "%s", err.msg);
    assert_measure_eq(&got, &first); /* the first measurement stays */
    cr_assert_eq(lp_store_has_kernel(s, pid, "fc", "cin=4,cout=8", &err), 1);
    cr_assert_eq(lp_store_has_kernel(s, pid, "fc", "cin=4,cout=9", &err), 0);
    cr_assert_eq(lp_store_has_kernel(s, pid, "conv", "cin=4,cout=8", &err), 0);

    cr_assert_eq(lp_store_put_model(s, pid, model, &first, &is_new, &err), 0, "%s", err.msg);
    cr_assert_eq(is_new, 1);
    cr_assert_eq(lp_store_put_model(s, pid, model, &second, &is_new, &err), 0, "%s", err.msg);
    cr_assert_eq(is_new, 0);
    cr_assert_eq(lp_store_has_model(s, pid, model, &err), 1);
    cr_assert_eq(lp_store_get_model(s, pid, model, &got, &err), 0, "%s", err.msg);
    assert_measure_eq(&got, &first);
    lp_store_close(s);

    cr_assert_eq(raw_int(db_path, "SELECT count(*) FROM kernel_measurements"), 1);
    cr_assert_eq(raw_int(db_path, "SELECT count(*) FROM model_measurements"), 1);
    cr_assert_eq(raw_int(db_path, "SELECT count(*) FROM machines"), 1);
    cr_assert_eq(raw_int(db_path, "SELECT count(*) FROM platforms"), 1);
}

Test(store, bad_measurements_are_refused)
{
    lp_err err = {0};
    lp_store *s = open_store(0);
    int64_t mid, pid;
    add_platform(s, "p", &mid, &pid);
    lp_measure m = synth(0, mid);
    m.median_ms = 0.0 / 0.0;
    cr_assert_eq(lp_store_put_kernel(s, pid, "fc", "a=1", &m, NULL, &err), LP_EINVAL);
    m = synth(0, mid);
    m.runs = 0;
    cr_assert_eq(lp_store_put_kernel(s, pid, "fc", "a=1", &m, NULL, &err), LP_EINVAL);
    cr_assert(strstr(err.msg, "run count"), "%s", err.msg);
    m = synth(0, mid);
    cr_assert_eq(lp_store_put_kernel(s, pid + 100, "fc", "a=1", &m, NULL, &err), LP_EINVAL,
                 "an unknown platform id must fail the foreign key");
    cr_assert(strstr(err.msg, "FOREIGN KEY"), "%s", err.msg);
    m.machine_id = mid + 100;
    cr_assert_eq(lp_store_put_kernel(s, pid, "fc", "a=1", &m, NULL, &err), LP_EINVAL);
    m = synth(0, mid);
    cr_assert_eq(lp_store_put_kernel(s, pid, "", "a=1", &m, NULL, &err), LP_EINVAL);
    cr_assert_eq(count_kernels(s, pid), 0);
    lp_store_close(s);
}

Test(store, canonical_options)
{
    lp_err err = {0};
    char *out = NULL;
    cr_assert_eq(lp_store_canonical_options(" threads = 4 ,affinity=0-3,load=2", &out, &err), 0, "%s", err.msg);
    cr_assert_str_eq(out, "affinity=0-3,load=2,threads=4");
    free(out);
    cr_assert_eq(lp_store_canonical_options(NULL, &out, &err), 0);
    cr_assert_str_eq(out, "");
    free(out);
    cr_assert_eq(lp_store_canonical_options("a=1,a=2", &out, &err), LP_EINVAL);
    cr_assert(strstr(err.msg, "'a' given twice"), "%s", err.msg);
    cr_assert_eq(lp_store_canonical_options("a=1,junk", &out, &err), LP_EINVAL);
    cr_assert(strstr(err.msg, "junk"), "%s", err.msg);
    cr_assert_null(out);
}

Test(store, machine_fingerprint)
{
    lp_machine m;
    lp_err err = {0};
    struct utsname u;
    cr_assert_eq(uname(&u), 0);
    cr_assert_eq(lp_machine_fingerprint(&m, 1, &err), 0, "%s", err.msg);
    cr_assert_neq(m.cpu_model[0], '\0');
    cr_assert_eq(strncmp(m.kernel, u.release, strlen(u.release)), 0, "%s", m.kernel);
    cr_assert(strstr(m.kernel, u.version), "%s", m.kernel);
    cr_assert_str_eq(m.hostname, u.nodename);

    /* On x86 the model is /proc/cpuinfo's "model name" line. */
    char *want = NULL;
    if (lp_test_run("grep -m1 '^model name' /proc/cpuinfo | sed 's/^[^:]*: *//; s/ *$//' | tr -d '\\n'",
                    &want) == 0 && want && *want)
        cr_assert_str_eq(m.cpu_model, want);
    free(want);

    cr_assert_eq(lp_machine_fingerprint(&m, 0, &err), 0, "%s", err.msg);
    cr_assert_str_eq(m.hostname, "");
}

/* ---- batches ------------------------------------------------------------ */

Test(store, uncommitted_batch_leaves_nothing)
{
    lp_err err = {0};
    char c[128];
    lp_store *s = open_store(0);
    int64_t mid, pid;
    add_platform(s, "p", &mid, &pid);

    cr_assert_eq(lp_store_begin(s, &err), 0, "%s", err.msg);
    cr_assert_eq(lp_store_begin(s, &err), LP_EINVAL, "nested batches are refused");
    for (int i = 0; i < 10; i++) {
        cfg(i, c, sizeof c);
        lp_measure m = synth(i, mid);
        cr_assert_eq(lp_store_put_kernel(s, pid, "conv", c, &m, NULL, &err), 0, "%s", err.msg);
    }
    cr_assert_eq(lp_store_has_kernel(s, pid, "conv", c, &err), 1, "a batch sees its own rows");
    cr_assert(lp_store_in_batch(s));
    lp_store_close(s); /* no commit */

    s = open_store(0);
    cr_assert_eq(count_kernels(s, pid), 0);
    cr_assert_eq(lp_store_has_kernel(s, pid, "conv", c, &err), 0);

    cr_assert_eq(lp_store_begin(s, &err), 0, "%s", err.msg);
    lp_measure m = synth(0, mid);
    cr_assert_eq(lp_store_put_kernel(s, pid, "conv", c, &m, NULL, &err), 0, "%s", err.msg);
    cr_assert_eq(lp_store_rollback(s, &err), 0, "%s", err.msg);
    cr_assert_eq(count_kernels(s, pid), 0, "a rolled-back batch leaves nothing");
    cr_assert_eq(lp_store_commit(s, &err), LP_EINVAL, "commit without a batch is refused");

    cr_assert_eq(lp_store_begin(s, &err), 0, "%s", err.msg);
    for (int i = 0; i < 10; i++) {
        cfg(i, c, sizeof c);
        m = synth(i, mid);
        cr_assert_eq(lp_store_put_kernel(s, pid, "conv", c, &m, NULL, &err), 0, "%s", err.msg);
    }
    cr_assert_eq(lp_store_commit(s, &err), 0, "%s", err.msg);
    lp_store_close(s);
    cr_assert_eq(raw_int(db_path, "SELECT count(*) FROM kernel_measurements"), 10);
}

/* ---- crash safety --------------------------------------------------------- */

#define CAMPAIGN_N 600
#define CAMPAIGN_BATCH 7

typedef struct campaign {
    int inserted, skipped;
} campaign;

/* A campaign: measures (synthetically) every config not yet stored, committing a
 * batch every CAMPAIGN_BATCH rows and writing the stored row count to report_fd
 * after each commit. With hang_at >= 0 it stops, mid-batch, after that many
 * inserts: writes -1 and waits to be killed. */
static int run_campaign(int report_fd, unsigned delay_us, int hang_at, campaign *c, lp_err *err)
{
    lp_store *s = NULL;
    int64_t mid, pid, n;
    int rc, pending = 0;
    char key[128];
    memset(c, 0, sizeof *c);
    if ((rc = lp_store_open(db_path, 0, &s, err)) < 0)
        return rc;
    if ((rc = lp_store_machine_id(s, &test_machine, &mid, err)) < 0 ||
        (rc = lp_store_platform_add(s, "p", "native", "threads=1", &pid, err)) < 0)
        goto done;
    for (int i = 0; i < CAMPAIGN_N; i++) {
        cfg(i, key, sizeof key);
        if ((rc = lp_store_has_kernel(s, pid, "conv", key, err)) < 0)
            goto done;
        if (rc == 1) {
            c->skipped++;
            continue;
        }
        if (!lp_store_in_batch(s) && (rc = lp_store_begin(s, err)) < 0)
            goto done;
        lp_measure m = synth(i, mid);
        int is_new = 0;
        if ((rc = lp_store_put_kernel(s, pid, "conv", key, &m, &is_new, err)) < 0)
            goto done;
        if (!is_new) {
            rc = lp_err_set(err, LP_EINVAL, "row %d was stored although has_kernel said no", i);
            goto done;
        }
        c->inserted++;
        if (delay_us)
            usleep(delay_us);
        if (c->inserted == hang_at) {
            int64_t marker = -1;
            if (write(report_fd, &marker, sizeof marker) != sizeof marker)
                _exit(3);
            for (;;)
                pause();
        }
        if (++pending == CAMPAIGN_BATCH) {
            pending = 0;
            if ((rc = lp_store_commit(s, err)) < 0 ||
                (rc = lp_store_count_kernels(s, pid, NULL, &n, err)) < 0)
                goto done;
            if (report_fd >= 0 && write(report_fd, &n, sizeof n) != sizeof n)
                _exit(3);
        }
    }
    if (lp_store_in_batch(s))
        rc = lp_store_commit(s, err);
    else
        rc = 0;
done:
    lp_store_close(s);
    return rc < 0 ? rc : 0;
}

static pid_t start_campaign(int fds[2], unsigned delay_us, int hang_at)
{
    cr_assert_eq(pipe(fds), 0);
    pid_t child = fork();
    /* The child must not touch Criterion: with --full-stats even a passing
     * assertion sends an event, from a PID the runner does not know. */
    if (child == 0) {
        close(fds[0]);
        campaign c;
        lp_err err = {0};
        int rc = run_campaign(fds[1], delay_us, hang_at, &c, &err);
        if (rc < 0)
            fprintf(stderr, "campaign: %s\n", err.msg);
        _exit(rc < 0 ? 1 : 0);
    }
    cr_assert_geq(child, 0, "fork: %s", strerror(errno));
    close(fds[1]);
    return child;
}

static void kill_campaign(pid_t child)
{
    int st = 0;
    cr_assert_eq(kill(child, SIGKILL), 0);
    cr_assert_eq(waitpid(child, &st, 0), child);
    cr_assert(WIFSIGNALED(st) && WTERMSIG(st) == SIGKILL,
              "the campaign must die by SIGKILL mid-way (status %#x)", st);
}

/* Every row below n is present and exactly what the campaign wrote; none at or above n. */
static void assert_prefix_intact(lp_store *s, int64_t pid, int64_t mid, int n)
{
    lp_err err = {0};
    char key[128];
    cr_assert_eq(count_kernels(s, pid), n);
    for (int i = 0; i < CAMPAIGN_N; i++) {
        cfg(i, key, sizeof key);
        if (i < n) {
            lp_measure got, want = synth(i, mid);
            cr_assert_eq(lp_store_get_kernel(s, pid, "conv", key, &got, &err), 0, "row %d: %s", i, err.msg);
            assert_measure_eq(&got, &want);
        } else {
            cr_assert_eq(lp_store_has_kernel(s, pid, "conv", key, &err), 0, "row %d of an unfinished batch", i);
        }
    }
}

/* Resumes in-process: must skip exactly the stored rows and finish the set. */
static void resume_and_check(int stored)
{
    campaign c;
    lp_err err = {0};
    cr_assert_eq(run_campaign(-1, 0, -1, &c, &err), 0, "%s", err.msg);
    cr_assert_eq(c.skipped, stored, "resume skipped %d, %d were stored", c.skipped, stored);
    cr_assert_eq(c.inserted, CAMPAIGN_N - stored);
    lp_store *s = open_store(0);
    int64_t mid, pid;
    add_platform(s, "p", &mid, &pid);
    assert_prefix_intact(s, pid, mid, CAMPAIGN_N);
    lp_store_close(s);
    cr_assert_eq(raw_int(db_path, "SELECT count(*) FROM kernel_measurements"), CAMPAIGN_N);
}

static void reopen_after_kill(int64_t *pid, int64_t *mid)
{
    lp_store *s = open_store(0); /* a writer open runs WAL recovery */
    add_platform(s, "p", mid, pid);
    lp_store_close(s);
    cr_assert_eq(raw_int(db_path, "SELECT count(*) FROM pragma_integrity_check WHERE integrity_check <> 'ok'"), 0);
}

Test(store, sigkill_mid_campaign_keeps_committed_rows_and_resumes)
{
    int fds[2];
    /* Slow enough (> 0.2 s for the whole set) that the kill lands mid-way. */
    pid_t child = start_campaign(fds, 400, -1);
    int64_t v, reported = 0;
    while (read(fds[0], &v, sizeof v) == sizeof v) {
        cr_assert_geq(v, reported);
        reported = v;
        if (reported >= 120)
            break;
    }
    kill_campaign(child);
    while (read(fds[0], &v, sizeof v) == sizeof v) /* commits reported just before the kill */
        reported = v;
    close(fds[0]);
    cr_assert_geq(reported, 120, "the campaign died before committing anything");

    int64_t pid, mid;
    reopen_after_kill(&pid, &mid);
    lp_store *s = open_store(LP_STORE_READONLY);
    int64_t stored = count_kernels(s, pid);
    cr_assert_geq(stored, reported, "a committed batch was lost: %lld < %lld", (long long)stored,
                  (long long)reported);
    cr_assert_eq(stored % CAMPAIGN_BATCH, 0, "a partial batch survived: %lld rows", (long long)stored);
    cr_assert_lt(stored, CAMPAIGN_N);
    assert_prefix_intact(s, pid, mid, (int)stored);
    lp_store_close(s);

    resume_and_check((int)stored);
}

Test(store, sigkill_inside_open_batch_loses_only_that_batch)
{
    int fds[2];
    const int committed = 3 * CAMPAIGN_BATCH;
    pid_t child = start_campaign(fds, 0, committed + 4); /* 4 rows into the 4th batch */
    int64_t v = 0, reported = 0;
    while (read(fds[0], &v, sizeof v) == sizeof v && v >= 0)
        reported = v;
    cr_assert_eq(v, -1, "the campaign never reached its mid-batch stop");
    kill_campaign(child);
    close(fds[0]);
    cr_assert_eq(reported, committed);

    int64_t pid, mid;
    reopen_after_kill(&pid, &mid);
    lp_store *s = open_store(LP_STORE_READONLY);
    assert_prefix_intact(s, pid, mid, committed);
    lp_store_close(s);

    resume_and_check(committed);
}

/* ---- identity and schema version ----------------------------------------- */

Test(store, newer_schema_is_refused)
{
    lp_store_close(open_store(0));
    raw_exec(db_path, "PRAGMA user_version = 99");
    lp_store *s = NULL;
    lp_err err = {0};
    cr_assert_eq(lp_store_open(db_path, 0, &s, &err), LP_ESTORE);
    cr_assert_null(s);
    cr_assert(strstr(err.msg, db_path) && strstr(err.msg, "99") && strstr(err.msg, "newer"), "%s", err.msg);
    cr_assert_eq(lp_store_open(db_path, LP_STORE_READONLY, &s, &err), LP_ESTORE);
    cr_assert(strstr(err.msg, "newer"), "%s", err.msg);
    cr_assert_eq(raw_int(db_path, "PRAGMA user_version"), 99, "the newer file must be left alone");
}

Test(store, foreign_files_are_refused_untouched)
{
    raw_exec(db_path, "CREATE TABLE notes(x TEXT); INSERT INTO notes VALUES('hi')");
    lp_store *s = NULL;
    lp_err err = {0};
    cr_assert_eq(lp_store_open(db_path, 0, &s, &err), LP_ESTORE);
    cr_assert(strstr(err.msg, db_path) && strstr(err.msg, "not a litepred store"), "%s", err.msg);
    cr_assert_eq(raw_int(db_path, "SELECT count(*) FROM sqlite_master"), 1, "no tables were added");
    cr_assert_eq(raw_int(db_path, "PRAGMA application_id"), 0);

    char *text = lp_test_write(tmp, "notes.txt", "this is not a database, just text\n");
    cr_assert_eq(lp_store_open(text, 0, &s, &err), LP_ESTORE);
    cr_assert(strstr(err.msg, text) && strstr(err.msg, "not a database"), "%s", err.msg);
    char *out = NULL, *cmd = NULL;
    cr_assert_geq(asprintf(&cmd, "cat '%s'", text), 0);
    cr_assert_eq(lp_test_run(cmd, &out), 0);
    cr_assert_str_eq(out, "this is not a database, just text\n");
    free(out);
    free(cmd);
    free(text);
}

Test(store, readonly_open_never_creates)
{
    lp_store *s = NULL;
    lp_err err = {0};
    cr_assert_eq(lp_store_open(db_path, LP_STORE_READONLY, &s, &err), LP_ENOTFOUND);
    cr_assert(strstr(err.msg, db_path), "%s", err.msg);
    cr_assert_not(file_exists(db_path));
    cr_assert_eq(lp_store_open(tmp, LP_STORE_READONLY, &s, &err), LP_EIO);
    cr_assert(strstr(err.msg, "directory"), "%s", err.msg);
}

Test(store, writer_sets_wal_and_version)
{
    lp_store_close(open_store(0));
    cr_assert_eq(raw_int(db_path, "PRAGMA user_version"), LP_STORE_SCHEMA_VERSION);
    cr_assert_eq(raw_int(db_path, "PRAGMA application_id"), LP_STORE_APPLICATION_ID);
    sqlite3 *db = NULL;
    sqlite3_stmt *st = NULL;
    cr_assert_eq(sqlite3_open_v2(db_path, &db, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
    cr_assert_eq(sqlite3_prepare_v2(db, "PRAGMA journal_mode", -1, &st, NULL), SQLITE_OK);
    cr_assert_eq(sqlite3_step(st), SQLITE_ROW);
    cr_assert_str_eq((const char *)sqlite3_column_text(st, 0), "wal");
    sqlite3_finalize(st);
    sqlite3_close(db);
}

/* ---- the `store` verb ------------------------------------------------------ */

/* Writes two platforms: p1 (conv x3, fc x2, one model measurement) and p2 (conv x1). */
static void write_cli_store(void)
{
    lp_err err = {0};
    lp_store *s = open_store(0);
    int64_t mid, p1, p2, model;
    add_platform(s, "p1", &mid, &p1);
    cr_assert_eq(lp_store_platform_add(s, "p2", "xnnpack", "threads=4", &p2, &err), 0, "%s", err.msg);
    cr_assert_eq(lp_store_begin(s, &err), 0, "%s", err.msg);
    const char *confs[] = {"cin=8,cout=16", "cin=16,cout=32", "cin=32,cout=64"};
    for (int i = 0; i < 3; i++) {
        lp_measure m = synth(i, mid);
        cr_assert_eq(lp_store_put_kernel(s, p1, "conv", confs[i], &m, NULL, &err), 0, "%s", err.msg);
    }
    for (int i = 0; i < 2; i++) {
        lp_measure m = synth(i, mid);
        strcpy(m.engine_version, "v\"2\"");
        cr_assert_eq(lp_store_put_kernel(s, p1, "fc", confs[i], &m, NULL, &err), 0, "%s", err.msg);
    }
    lp_measure m = synth(4, mid);
    cr_assert_eq(lp_store_put_kernel(s, p2, "conv", "cin=8,cout=16", &m, NULL, &err), 0, "%s", err.msg);
    cr_assert_eq(lp_store_model_add(s, "key1", "net-a", "space-x", "line one\nline \"two\"", &model,
                                    &err), 0, "%s", err.msg);
    m = synth(8, mid);
    cr_assert_eq(lp_store_put_model(s, p1, model, &m, NULL, &err), 0, "%s", err.msg);
    cr_assert_eq(lp_store_commit(s, &err), 0, "%s", err.msg);
    lp_store_close(s);
}

static char *cli(int want_rc, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static char *cli(int want_rc, const char *fmt, ...)
{
    va_list ap;
    char *args = NULL, *out = NULL;
    va_start(ap, fmt);
    cr_assert_geq(vasprintf(&args, fmt, ap), 0);
    va_end(ap);
    int rc = lp_test_cli(args, &out);
    cr_assert_eq(rc, want_rc, "litepred %s: exit %d, want %d:\n%s", args, rc, want_rc, out ? out : "");
    free(args);
    return out;
}

static void assert_has(const char *out, const char *want)
{
    cr_assert(strstr(out, want), "missing '%s' in:\n%s", want, out);
}

Test(store, cli_stats)
{
    write_cli_store();
    struct stat sb;
    cr_assert_eq(stat(db_path, &sb), 0);
    char *out = cli(0, "store stats '%s'", db_path);
    char line[256];
    assert_has(out, "schema version:  1\n");
    assert_has(out, "journal mode:    wal\n");
    snprintf(line, sizeof line, "file size:       %lld bytes", (long long)sb.st_size);
    assert_has(out, line);
    assert_has(out, "  machines            1\n");
    assert_has(out, "  platforms           2\n");
    assert_has(out, "  kernel_measurements 6\n");
    assert_has(out, "  models              1\n");
    assert_has(out, "  model_measurements  1\n");
    snprintf(line, sizeof line, "  %-24s %-16s %10d %10d\n", "p1", "native", 5, 1);
    assert_has(out, line);
    snprintf(line, sizeof line, "  %-24s %-16s %10d %10d\n", "p2", "xnnpack", 1, 0);
    assert_has(out, line);
    snprintf(line, sizeof line, "  %-24s %-24s %10d\n", "p1", "conv", 3);
    assert_has(out, line);
    snprintf(line, sizeof line, "  %-24s %-24s %10d\n", "p1", "fc", 2);
    assert_has(out, line);
    snprintf(line, sizeof line, "  %-24s %-24s %10d\n", "p2", "conv", 1);
    assert_has(out, line);
    free(out);
    struct stat after;
    cr_assert_eq(stat(db_path, &after), 0);
    cr_assert_eq(after.st_size, sb.st_size, "stats must not write the store");
    cr_assert_eq(after.st_mtime, sb.st_mtime);
}

static const char kernels_csv[] =
    "platform,engine,kernel_type,config,median_ms,mean_ms,spread,runs,measured_at,cpu_model,"
    "os_kernel,hostname,engine_version\n"
    "p1,native,conv,\"cin=8,cout=16\",0.5,0.625,0.0,10,2023-11-14T22:13:20Z,Synthetic CPU @ 1.00GHz,6.1.0-test #1 SMP,,synthetic-0\n"
    "p1,native,conv,\"cin=16,cout=32\",0.75,0.875,0.015625,11,2023-11-14T22:13:21Z,Synthetic CPU @ 1.00GHz,6.1.0-test #1 SMP,,synthetic-1\n"
    "p1,native,conv,\"cin=32,cout=64\",1.0,1.125,0.03125,12,2023-11-14T22:13:22Z,Synthetic CPU @ 1.00GHz,6.1.0-test #1 SMP,,synthetic-2\n"
    "p1,native,fc,\"cin=8,cout=16\",0.5,0.625,0.0,10,2023-11-14T22:13:20Z,Synthetic CPU @ 1.00GHz,6.1.0-test #1 SMP,,\"v\"\"2\"\"\"\n"
    "p1,native,fc,\"cin=16,cout=32\",0.75,0.875,0.015625,11,2023-11-14T22:13:21Z,Synthetic CPU @ 1.00GHz,6.1.0-test #1 SMP,,\"v\"\"2\"\"\"\n"
    "p2,xnnpack,conv,\"cin=8,cout=16\",1.5,1.625,0.0625,14,2023-11-14T22:13:24Z,Synthetic CPU @ 1.00GHz,6.1.0-test #1 SMP,,synthetic-1\n";

Test(store, cli_export_csv)
{
    write_cli_store();
    char *out = cli(0, "store export '%s' --csv", db_path);
    cr_assert_str_eq(out, kernels_csv);
    free(out);

    out = cli(0, "store export --table=models --csv '%s'", db_path);
    cr_assert_str_eq(out,
                     "platform,engine,model_key,model,space,median_ms,mean_ms,spread,runs,measured_at,"
                     "cpu_model,os_kernel,hostname,engine_version,model_text\n"
                     "p1,native,key1,net-a,space-x,2.5,2.625,0.015625,18,2023-11-14T22:13:28Z,"
                     "Synthetic CPU @ 1.00GHz,6.1.0-test #1 SMP,,synthetic-2,\"line one\nline \"\"two\"\"\"\n");
    free(out);

    char *file = NULL;
    cr_assert_geq(asprintf(&file, "%s/kernels.csv", tmp), 0);
    out = cli(0, "store export '%s' --csv --table kernels --out '%s'", db_path, file);
    cr_assert_str_eq(out, "", "nothing on the terminal with --out");
    free(out);
    char *cmd = NULL;
    cr_assert_geq(asprintf(&cmd, "cat '%s'", file), 0);
    cr_assert_eq(lp_test_run(cmd, &out), 0);
    cr_assert_str_eq(out, kernels_csv);
    free(out);
    free(cmd);
    char tmpfile[4200];
    snprintf(tmpfile, sizeof tmpfile, "%s.tmp", file);
    cr_assert_not(file_exists(tmpfile));
    free(file);
}

Test(store, cli_export_empty_store_has_header)
{
    lp_store_close(open_store(0));
    char *out = cli(0, "store export '%s' --csv --table models", db_path);
    cr_assert_str_eq(out, "platform,engine,model_key,model,space,median_ms,mean_ms,spread,runs,measured_at,"
                          "cpu_model,os_kernel,hostname,engine_version,model_text\n");
    free(out);
}

Test(store, cli_errors)
{
    char *out = cli(1, "store stats '%s'", db_path);
    assert_has(out, db_path);
    assert_has(out, "No such file");
    free(out);
    cr_assert_not(file_exists(db_path), "stats must not create a store");
    out = cli(1, "store export '%s' --csv", db_path);
    assert_has(out, db_path);
    free(out);
    cr_assert_not(file_exists(db_path), "export must not create a store");

    char *text = lp_test_write(tmp, "junk.db", "not sqlite at all, but long enough to have a header......\n");
    out = cli(1, "store stats '%s'", text);
    assert_has(out, text);
    assert_has(out, "not a database");
    free(out);
    free(text);

    lp_store_close(open_store(0));
    raw_exec(db_path, "PRAGMA user_version = 7");
    out = cli(1, "store stats '%s'", db_path);
    assert_has(out, "newer");
    free(out);

    raw_exec(db_path, "PRAGMA user_version = 1");
    out = cli(1, "store export '%s' --csv --out '%s/no/such/dir/x.csv'", db_path, tmp);
    assert_has(out, "no/such/dir/x.csv");
    free(out);
}

Test(store, cli_usage)
{
    const char *bad[] = {
        "store", "store frob", "store stats", "store stats a.db b.db", "store stats --frob a.db",
        "store export a.db", "store export --csv", "store export a.db --csv --table bogus",
        "store export a.db --csv --out", "store export a.db --csv --table", "store export a.db b.db --csv",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        char *out = cli(2, "%s", bad[i]);
        assert_has(out, "litepred store");
        assert_has(out, "--help");
        free(out);
    }
    char *out = cli(2, "store export a.db --csv --table bogus");
    assert_has(out, "unknown table 'bogus' (valid: kernels, models)");
    free(out);
    out = cli(2, "store export a.db");
    assert_has(out, "--csv");
    free(out);

    out = cli(0, "store --help");
    assert_has(out, "usage: litepred store stats DB\n");
    assert_has(out, "litepred store export DB --csv [--table kernels|models] [--out FILE]");
    free(out);
    out = cli(0, "store stats --help");
    assert_has(out, "usage: litepred store stats DB\n");
    free(out);
    out = cli(0, "store export --help");
    assert_has(out, "--table TABLE");
    assert_has(out, "--out FILE");
    free(out);
    cr_assert_not(file_exists("a.db"));
}
