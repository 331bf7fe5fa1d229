/* Measuring through the CLI into a real store: a campaign killed with SIGKILL
 * keeps its committed batches, and running it again measures only the rest. */
#include <criterion/criterion.h>
#include <signal.h>
#include <sqlite3.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <litepred/measure.h>
#include <litepred/store.h>

#include "lp_test.h"

static int64_t count_rows(const char *db, const char *table)
{
    sqlite3 *h = NULL;
    sqlite3_stmt *st = NULL;
    int64_t n = -1;
    char sql[128];
    snprintf(sql, sizeof sql, "SELECT count(*) FROM %s", table);
    if (sqlite3_open_v2(db, &h, SQLITE_OPEN_READONLY, NULL) == SQLITE_OK &&
        sqlite3_prepare_v2(h, sql, -1, &st, NULL) == SQLITE_OK && sqlite3_step(st) == SQLITE_ROW)
        n = sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
    sqlite3_close(h);
    return n;
}

/* Kernels of 2 sampled OFA-MobileNetV3 models, fast harness, batches of 3. */
static const char *campaign_args = "--platform " LP_TEST_FIXTURE_DIR "/configs/fast.yaml "
                                   "--space ofa-mbv3-w1.0 -n 2 --seed 3 --kernels --batch 3";

static pid_t start_campaign(const char *db)
{
    /* The child must make no Criterion call: with --full-stats even a passing assert
     * sends an event, and one from an unknown PID hangs the runner. */
    pid_t pid = fork();
    if (pid == 0) {
        char cmd[2048];
        snprintf(cmd, sizeof cmd, "exec %s --quiet --plugin-path %s measure --db %s %s >/dev/null 2>&1",
                 LP_TEST_CLI, LP_TEST_PLUGIN_DIR, db, campaign_args);
        execl("/bin/sh", "sh", "-c", cmd, (char *)NULL);
        _exit(127);
    }
    cr_assert_neq(pid, -1, "fork failed");
    return pid;
}

Test(measure, killed_campaign_resumes_without_remeasuring, .timeout = 300)
{
    char *dir = lp_test_tmpdir();
    char db[512];
    snprintf(db, sizeof db, "%s/m.db", dir);
    pid_t pid = start_campaign(db);
    /* Kill once a few batches are committed, well before the end. */
    int64_t seen = 0;
    for (int i = 0; i < 12000 && seen < 6; i++) {
        usleep(10000);
        seen = access(db, F_OK) == 0 ? count_rows(db, "kernel_measurements") : 0;
    }
    kill(pid, SIGKILL);
    int st;
    waitpid(pid, &st, 0);
    cr_assert(WIFSIGNALED(st), "the campaign finished before it could be killed");
    int64_t kept = count_rows(db, "kernel_measurements");
    cr_assert_geq(kept, 6, "committed rows were lost");
    cr_assert_eq(kept % 3, 0, "a partial batch was committed: %lld rows", (long long)kept);

    char args[2048], *out = NULL;
    snprintf(args, sizeof args, "--quiet measure --db %s %s", db, campaign_args);
    cr_assert_eq(lp_test_cli(args, &out), 0, "%s", out);
    int64_t total = count_rows(db, "kernel_measurements");
    /* Every row printed is either stored (from the killed run) or measured now. */
    int64_t stored = 0, measured = 0;
    for (char *p = out; (p = strstr(p, "  stored\n")); p++)
        stored++;
    for (char *p = out; (p = strstr(p, "  measured\n")); p++)
        measured++;
    cr_assert_eq(stored, kept, "resume must skip exactly the stored rows (%lld vs %lld)",
                 (long long)stored, (long long)kept);
    cr_assert_eq(stored + measured, total);
    cr_assert_gt(measured, 0);
    free(out);

    /* A third run measures nothing. */
    cr_assert_eq(lp_test_cli(args, &out), 0, "%s", out);
    cr_assert_null(strstr(out, "  measured\n"), "%s", out);
    cr_assert_eq(count_rows(db, "kernel_measurements"), total);
    free(out);
    lp_test_rmtree(dir);
    free(dir);
}

Test(measure, one_kernel_and_its_table_row)
{
    char *dir = lp_test_tmpdir(), args[1024], *out = NULL;
    snprintf(args, sizeof args, "--quiet measure --db %s/k.db --platform %s/configs/fast.yaml "
             "--kernel fc --config \"cin=64,cout=32\"", dir, LP_TEST_FIXTURE_DIR);
    cr_assert_eq(lp_test_cli(args, &out), 0, "%s", out);
    cr_assert(strstr(out, "fc               cin=64,cout=32"), "%s", out);
    cr_assert(strstr(out, "  measured\n"), "%s", out);
    free(out);
    snprintf(args, sizeof args, "measure --db %s/k.db --platform %s/configs/fast.yaml "
             "--kernel fc --config \"cin=64,cout=0\"", dir, LP_TEST_FIXTURE_DIR);
    cr_assert_eq(lp_test_cli(args, &out), 1, "%s", out);
    cr_assert(strstr(out, "fc --config: "), "%s", out);
    free(out);
    snprintf(args, sizeof args, "measure --db %s/k.db --platform nosuchplatform --kernel fc "
             "--config \"cin=64,cout=32\"", dir);
    cr_assert_eq(lp_test_cli(args, &out), 1, "%s", out);
    cr_assert(strstr(out, "platform 'nosuchplatform': no file "), "%s", out);
    free(out);
    cr_assert_eq(lp_test_cli("measure --platform x --kernel fc", &out), 2, "%s", out);
    cr_assert(strstr(out, "--kernel needs --config"), "%s", out);
    free(out);
    lp_test_rmtree(dir);
    free(dir);
}

Test(measure, unsupported_model_is_reported_not_stored)
{
    char *dir = lp_test_tmpdir(), args[1024], *out = NULL;
    snprintf(args, sizeof args, "--quiet measure --db %s/u.db --platform %s/configs/fast-xnnpack.yaml "
             "--space autoformer-tiny -n 1", dir, LP_TEST_FIXTURE_DIR);
    cr_assert_eq(lp_test_cli(args, &out), 1, "%s", out);
    cr_assert(strstr(out, "FAILED: node "), "%s", out);
    cr_assert(strstr(out, "layernorm is not supported"), "%s", out);
    cr_assert(strstr(out, "1 of 1 jobs failed on fast-xnnpack (not stored)"), "%s", out);
    free(out);
    char db[600];
    snprintf(db, sizeof db, "%s/u.db", dir);
    cr_assert_eq(count_rows(db, "model_measurements"), 0);
    lp_test_rmtree(dir);
    free(dir);
}

/* Replay times nothing: an unstored job the engine can run is missing (an error naming it);
 * one it cannot run (layernorm on XNNPACK) is found by preparing it and fails as it would
 * in a measuring run, so a replay of a store whose engine left types out still passes. */
Test(measure, replay_fails_on_missing_but_not_on_unsupported)
{
    char *dir = lp_test_tmpdir(), db[600], path[600];
    snprintf(db, sizeof db, "%s/r.db", dir);
    snprintf(path, sizeof path, "%s/configs/fast-xnnpack.yaml", LP_TEST_FIXTURE_DIR);
    lp_registry *reg = lp_test_registry();
    lp_platform *pf = NULL;
    lp_store *st = NULL;
    lp_diag d = {0};
    lp_err err = {0};
    cr_assert_eq(lp_platform_load(reg, path, &pf, &d, &err), 0, "%s", err.msg);
    cr_assert_eq(lp_store_open(db, 0, &st, &err), 0, "%s", err.msg);
    lp_job jobs[2] = {{.kernel_type = "layernorm", .config = "n=49,c=192"},
                      {.kernel_type = "add", .config = "hw=14,c=96,act=none,layout=nhwc"}};
    lp_campaign_opts replay = {.quiet = 1, .replay = 1}, measure = {.quiet = 1};

    cr_assert_eq(lp_campaign_run(reg, pf, st, jobs, 2, &replay, &err), LP_ENOTFOUND, "%s", err.msg);
    cr_assert(strstr(err.msg, "platform fast-xnnpack: 1 of 2 kernels are not in the store (first: add "
                              "hw=14,c=96,act=none,layout=nhwc); replay measures nothing"), "%s", err.msg);
    cr_assert_eq(jobs[0].state, LP_JOB_FAILED);
    cr_assert(strstr(jobs[0].err, "layernorm is not supported"), "%s", jobs[0].err);
    cr_assert_eq(jobs[1].state, LP_JOB_PENDING);
    cr_assert_eq(jobs[1].timing.runs, 0, "replay timed the kernel");
    cr_assert_eq(count_rows(db, "kernel_measurements"), 0);

    cr_assert_eq(lp_campaign_run(reg, pf, st, jobs, 2, &measure, &err), 0, "%s", err.msg);
    cr_assert_eq(jobs[1].state, LP_JOB_MEASURED);
    cr_assert_eq(count_rows(db, "kernel_measurements"), 1);

    memset(&jobs[1].timing, 0, sizeof jobs[1].timing);
    cr_assert_eq(lp_campaign_run(reg, pf, st, jobs, 2, &replay, &err), 0, "%s", err.msg);
    cr_assert_eq(jobs[0].state, LP_JOB_FAILED);
    cr_assert_eq(jobs[1].state, LP_JOB_STORED);
    cr_assert_eq(count_rows(db, "kernel_measurements"), 1);

    lp_store_close(st);
    lp_platform_free(pf);
    lp_registry_close(reg);
    lp_test_rmtree(dir);
    free(dir);
}
