/* Pipelines end to end on a tiny budget: build writes a pool, evaluate measures
 * models whole and reports, predict reads the pool; errors name what is wrong. */
#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "lp_test.h"

static char *dir;

static void setup(void) { dir = lp_test_tmpdir(); }
static void teardown(void)
{
    lp_test_rmtree(dir);
    free(dir);
}

static char *file_text(const char *path)
{
    FILE *f = fopen(path, "r");
    cr_assert_not_null(f, "missing %s", path);
    char *buf = calloc(1, 1 << 16);
    size_t n = fread(buf, 1, (1 << 16) - 1, f);
    buf[n] = '\0';
    fclose(f);
    return buf;
}

static void write_pipelines(void)
{
    char text[2048];
    /* The kernel types OFA-MobileNetV3 models use; a cheap harness and a small MLP. */
    snprintf(text, sizeof text,
             "pipeline: build\nplatform: %s/configs/fast.yaml\nstore: %s/t.db\npool: %s/pool\n"
             "kernels: [conv-bn-relu, dwconv-bn-relu, se, add, global-avgpool, fc, hswish]\n"
             "sampler: {plugin: prior, count: 40, seed: 3, prior_models: 30}\n"
             "predictor: {plugin: mlp, epochs: 20, layers: 16x16}\n",
             LP_TEST_FIXTURE_DIR, dir, dir);
    free(lp_test_write(dir, "build.yaml", text));
    snprintf(text, sizeof text,
             "pipeline: evaluate\nplatform: %s/configs/fast.yaml\nstore: %s/t.db\npool: %s/pool\n"
             "evaluate: {spaces: [ofa-mbv3-w1.0], models: 4, seed: 11}\nreport: %s/report\n",
             LP_TEST_FIXTURE_DIR, dir, dir, dir);
    free(lp_test_write(dir, "eval.yaml", text));
}

TestSuite(pipeline, .init = setup, .fini = teardown, .timeout = 300);

Test(pipeline, build_evaluate_predict)
{
    char args[2048], path[1024], text[1024], *out = NULL;
    write_pipelines();
    snprintf(args, sizeof args, "--quiet run %s/build.yaml", dir);
    cr_assert_eq(lp_test_cli(args, &out), 0, "%s", out);
    cr_assert(strstr(out, "conv-bn-relu"), "%s", out);
    free(out);
    /* One predictor file per kernel type plus pool.yaml naming them. */
    snprintf(path, sizeof path, "%s/pool/fast/conv-bn-relu.mlp", dir);
    cr_assert_eq(access(path, R_OK), 0, "no %s", path);
    snprintf(path, sizeof path, "%s/pool/fast/pool.yaml", dir);
    char *meta = file_text(path);
    cr_assert(strstr(meta, "{type: dwconv-bn-relu, file: dwconv-bn-relu.mlp, predictor: mlp, sampler: prior"),
              "%s", meta);
    free(meta);

    /* `litepred check` validates a pool.yaml by loading every predictor it names */
    snprintf(args, sizeof args, "check %s/pool/fast/pool.yaml", dir);
    cr_assert_eq(lp_test_cli(args, &out), 0, "%s", out);
    free(out);
    snprintf(path, sizeof path, "%s/pool/fast/hswish.mlp", dir);
    FILE *hf = fopen(path, "r+b");
    cr_assert_not_null(hf);
    fseek(hf, 100, SEEK_SET);
    fputc(0x5a, hf);
    fclose(hf);
    cr_assert_eq(lp_test_cli(args, &out), 2, "a corrupted predictor: %s", out);
    cr_assert(strstr(out, "pool.yaml:") && strstr(out, "hswish.mlp"), "%s", out);
    free(out);
    snprintf(args, sizeof args, "--quiet run %s/build.yaml", dir); /* rebuild it */
    cr_assert_eq(lp_test_cli(args, &out), 0, "%s", out);
    free(out);

    snprintf(args, sizeof args, "--quiet run %s/eval.yaml", dir);
    cr_assert_eq(lp_test_cli(args, &out), 0, "%s", out);
    cr_assert(strstr(out, "ofa-mbv3-w1.0           4 "), "%s", out);
    free(out);
    snprintf(path, sizeof path, "%s/report/models.csv", dir);
    char *csv = file_text(path);
    cr_assert(strncmp(csv, "space,model,measured_ms,predicted_ms,rel_error\n", 47) == 0, "%s", csv);
    size_t lines = 0;
    for (char *c = csv; *c; c++)
        lines += *c == '\n';
    cr_assert_eq(lines, 5, "header + 4 models:\n%s", csv);
    free(csv);
    snprintf(path, sizeof path, "%s/report/report.md", dir);
    char *md = file_text(path);
    cr_assert(strstr(md, "| ofa-mbv3-w1.0 | 4 |"), "%s", md);
    free(md);

    /* calibration: 2 more whole models per space fit a scale; the 4 evaluated stay the same */
    snprintf(text, sizeof text, "%s/eval.yaml", dir);
    char *ev = file_text(text), *cut = strstr(ev, "models: 4, seed: 11}");
    cr_assert_not_null(cut, "%s", ev);
    char ev2[4096];
    snprintf(ev2, sizeof ev2, "%.*smodels: 4, seed: 11, calibrate: 2}%s", (int)(cut - ev), ev,
             cut + strlen("models: 4, seed: 11}"));
    free(ev);
    free(lp_test_write(dir, "eval-cal.yaml", ev2));
    snprintf(args, sizeof args, "--quiet run %s/eval-cal.yaml", dir);
    cr_assert_eq(lp_test_cli(args, &out), 0, "%s", out);
    cr_assert(strstr(out, "calibrated (per-space scale from 2 other whole models per space; last row: "
                          "one scale for all)"), "%s", out);
    cr_assert(strstr(out, "ofa-mbv3-w1.0           4 "), "the raw table still has 4 models: %s", out);
    /* one space: the platform-wide scale is that space's scale, with the same 4 models */
    char space_scale[16] = "", one_scale[16] = "";
    const char *cal = strstr(out, "\ncalibrated ("), *row = cal ? strstr(cal, "\nofa-mbv3-w1.0 ") : NULL;
    const char *one = strstr(out, "\nall-one-scale ");
    cr_assert(row && one, "%s", out);
    cr_assert_eq(sscanf(row, " ofa-mbv3-w1.0 %15s", space_scale), 1, "%s", out);
    cr_assert_eq(sscanf(one, " all-one-scale %15s", one_scale), 1, "%s", out);
    cr_assert_str_eq(space_scale, one_scale, "%s", out);
    cr_assert(strstr(one, " 4 "), "%s", out);
    free(out);
    snprintf(path, sizeof path, "%s/report/calibration.csv", dir);
    csv = file_text(path);
    cr_assert(strncmp(csv, "space,model,measured_ms,predicted_ms\nofa-mbv3-w1.0,", 51) == 0, "%s", csv);
    lines = 0;
    for (char *c = csv; *c; c++)
        lines += *c == '\n';
    cr_assert_eq(lines, 3, "header + 2 calibration models:\n%s", csv);
    free(csv);
    snprintf(path, sizeof path, "%s/report/models.csv", dir);
    csv = file_text(path);
    lines = 0;
    for (char *c = csv; *c; c++)
        lines += *c == '\n';
    cr_assert_eq(lines, 5, "calibration models are not evaluated:\n%s", csv);
    free(csv);
    snprintf(path, sizeof path, "%s/report/report.md", dir);
    md = file_text(path);
    cr_assert(strstr(md, "## Calibrated"), "%s", md);
    free(md);

    /* Predictions are deterministic for a given pool: two runs print the same. */
    char *out2 = NULL;
    snprintf(args, sizeof args, "--quiet predict --pool %s/pool --platform fast --space ofa-mbv3-w1.0 -n 3", dir);
    cr_assert_eq(lp_test_cli(args, &out), 0, "%s", out);
    cr_assert_eq(lp_test_cli(args, &out2), 0);
    cr_assert(strstr(out, "ofa-mbv3-w1.0-s1-0002"), "%s", out);
    cr_assert_str_eq(out, out2);
    free(out);
    free(out2);

    /* A model using a kernel type the pool lacks: the error names it. */
    snprintf(args, sizeof args, "predict --pool %s/pool --platform fast --model %s/configs/models/deit-tiny.yaml",
             dir, LP_TEST_SOURCE_DIR);
    cr_assert_eq(lp_test_cli(args, &out), 1, "%s", out);
    cr_assert(strstr(out, "no predictor for kernel type '"), "%s", out);
    free(out);
}

/* --replay measures nothing: on an empty store it stops at the first kernel with an error
 * naming it and writes no predictor; once the store has everything, it rebuilds the same pool. */
Test(pipeline, replay_never_measures)
{
    char args[2048], path[1024], *out = NULL;
    write_pipelines();
    snprintf(args, sizeof args, "--quiet run --replay %s/build.yaml", dir);
    cr_assert_eq(lp_test_cli(args, &out), 1, "%s", out);
    /* n of n: nothing was measured before the stop (39: the sampler drew one config twice) */
    cr_assert(strstr(out, "platform fast: 39 of 39 kernels are not in the store (first: conv-bn-relu "),
              "%s", out);
    cr_assert(strstr(out, "replay measures nothing"), "%s", out);
    free(out);
    snprintf(path, sizeof path, "%s/pool/fast/conv-bn-relu.mlp", dir);
    cr_assert_neq(access(path, F_OK), 0, "replay wrote %s", path);

    snprintf(args, sizeof args, "--quiet run %s/build.yaml", dir);
    cr_assert_eq(lp_test_cli(args, &out), 0, "%s", out);
    free(out);
    char *first = file_text(path);
    snprintf(args, sizeof args, "--quiet run --replay %s/build.yaml", dir);
    cr_assert_eq(lp_test_cli(args, &out), 0, "%s", out);
    free(out);
    char *again = file_text(path);
    cr_assert(!memcmp(first, again, 1 << 16), "the replayed predictor differs from the built one");
    free(first);
    free(again);

    /* models too: evaluate's whole-model measurements are missing until it has run once */
    snprintf(args, sizeof args, "--quiet run --replay %s/eval.yaml", dir);
    cr_assert_eq(lp_test_cli(args, &out), 1, "%s", out);
    cr_assert(strstr(out, "4 of 4 models are not in the store (first: model ofa-mbv3-w1.0-"), "%s", out);
    free(out);

    snprintf(args, sizeof args, "run --replay");
    cr_assert_eq(lp_test_cli(args, &out), 2, "%s", out);
    cr_assert(strstr(out, "usage: litepred run [--replay] PIPELINE.yaml"), "%s", out);
    free(out);
}

Test(pipeline, errors_are_reported_with_positions)
{
    char text[512], args[1024], *out = NULL;
    snprintf(text, sizeof text, "pipeline: build\nplatform: fast\npool: p\nkernels: [conv-bn-relu]\n"
                                "sampler: {plugin: prior, count: 0}\npredictor: {plugin: mlp, epochz: 3}\n");
    free(lp_test_write(dir, "bad.yaml", text));
    snprintf(args, sizeof args, "run %s/bad.yaml", dir);
    cr_assert_eq(lp_test_cli(args, &out), 2, "%s", out);
    cr_assert(strstr(out, "bad.yaml:5:33: 'count' = 0 is out of range [1, 10000000]"), "%s", out);
    cr_assert(strstr(out, "bad.yaml:6:26: unknown key 'epochz' (valid keys: layers, epochs,"), "%s", out);
    free(out);
}

/* Counts the lines of text that contain needle (end: that end with it). */
static size_t count_lines_at(const char *text, const char *needle, int end)
{
    size_t n = 0;
    for (const char *l = text; l && *l; l = strchr(l, '\n') ? strchr(l, '\n') + 1 : NULL) {
        const char *e = strchr(l, '\n');
        size_t len = e ? (size_t)(e - l) : strlen(l);
        char line[1024];
        snprintf(line, sizeof line, "%.*s", (int)len, l);
        size_t nl = strlen(needle), ll = strlen(line);
        n += end ? ll >= nl && !strcmp(line + ll - nl, needle) : strstr(line, needle) != NULL;
    }
    return n;
}

static size_t count_lines(const char *text, const char *needle) { return count_lines_at(text, needle, 0); }

/* LitePred's transfer on a tiny budget: a pool of two warm-up platforms (fast-xnnpack and a
 * second native one), adapted to the fast native platform. */
static void write_adapt(const char *extra)
{
    char text[4096];
    const char *kernels = "[conv-bn-relu, dwconv-bn-relu, se, add, global-avgpool, fc, hswish]";
    snprintf(text, sizeof text,
             "pipeline: build-pool\nplatforms: [%s/configs/fast-xnnpack.yaml, %s/configs/fast-b.yaml]\n"
             "store: %s/t.db\npool: %s/pool\nkernels: %s\n"
             "sampler: {plugin: prior, count: 30, seed: 3, prior_models: 30}\n"
             "predictor: {plugin: mlp, epochs: 10, layers: 16x16}\n",
             LP_TEST_FIXTURE_DIR, LP_TEST_FIXTURE_DIR, dir, dir, kernels);
    free(lp_test_write(dir, "pool.yaml", text));
    snprintf(text, sizeof text,
             "pipeline: adapt\ntarget: %s/configs/fast.yaml\nstore: %s/t.db\npool: %s/pool\n"
             "kernels: %s\nsimilarity: kl\nsampler: {plugin: prior, seed: 5, prior_models: 30}\n"
             "budgets: [5, 20]\npredictor: {plugin: mlp, epochs: 10}\nvalidation: 0\n"
             "output: %s/adapted\nevaluate: {spaces: [ofa-mbv3-w1.0], models: 3, seed: 11}\n"
             "report: %s/rep\n%s",
             LP_TEST_FIXTURE_DIR, dir, dir, kernels, dir, dir, extra);
    free(lp_test_write(dir, "adapt.yaml", text));
}

Test(pipeline, build_pool_then_adapt)
{
    char args[2048], path[1024], *out = NULL;
    /* fast-b.yaml is fast.yaml under another name: a second native platform in the pool */
    char text[4096];
    snprintf(path, sizeof path, "%s/configs/fast-b.yaml", LP_TEST_FIXTURE_DIR);
    cr_assert_eq(access(path, R_OK), 0, "the fixture %s must exist", path);
    write_adapt("");
    snprintf(args, sizeof args, "--quiet run %s/pool.yaml", dir);
    cr_assert_eq(lp_test_cli(args, &out), 0, "%s", out);
    free(out);
    snprintf(path, sizeof path, "%s/pool/fast-xnnpack/pool.yaml", dir);
    cr_assert_eq(access(path, R_OK), 0, "no %s", path);
    snprintf(path, sizeof path, "%s/pool/fast-b/conv-bn-relu.mlp", dir);
    cr_assert_eq(access(path, R_OK), 0, "no %s", path);

    /* A space the engine cannot run (autoformer needs layernorm; XNNPACK has none) gets a row
     * of "-", raw and calibrated, not nan. */
    snprintf(text, sizeof text,
             "pipeline: evaluate\nplatform: %s/configs/fast-xnnpack.yaml\nstore: %s/t.db\npool: %s/pool\n"
             "evaluate: {spaces: [ofa-mbv3-w1.0, autoformer-tiny], models: 1, seed: 11, calibrate: 1}\n",
             LP_TEST_FIXTURE_DIR, dir, dir);
    free(lp_test_write(dir, "eval-x.yaml", text));
    snprintf(args, sizeof args, "--quiet run %s/eval-x.yaml", dir);
    cr_assert_eq(lp_test_cli(args, &out), 0, "%s", out);
    cr_assert(strstr(out, "\nautoformer-tiny         0          -          -        -        -\n"), "%s", out);
    cr_assert(strstr(out, "\nautoformer-tiny         -      0          -          -        -        -\n"),
              "%s", out);
    cr_assert(strstr(out, "\nofa-mbv3-w1.0           1 "), "%s", out);
    cr_assert_null(strstr(out, "nan"), "%s", out);
    free(out);

    snprintf(args, sizeof args, "run %s/adapt.yaml", dir);
    cr_assert_eq(lp_test_cli(args, &out), 0, "%s", out);
    /* both candidates scored for every kernel type, one picked */
    cr_assert(strstr(out, "conv-bn-relu: fast-b"), "%s", out);
    cr_assert(strstr(out, "conv-bn-relu: fast-xnnpack"), "%s", out);
    cr_assert(strstr(out, "<- picked"), "%s", out);
    cr_assert(strstr(out, "== fast, budget 20"), "%s", out);
    free(out);
    snprintf(path, sizeof path, "%s/rep/picks.csv", dir);
    char *picks = file_text(path);
    cr_assert_eq(count_lines(picks, "fast,conv-bn-relu,"), 2, "%s", picks);
    cr_assert_eq(count_lines_at(picks, ",1", 1), 7, "one pick per kernel type:\n%s", picks);
    free(picks);
    snprintf(path, sizeof path, "%s/rep/adapt.csv", dir);
    char *csv = file_text(path);
    cr_assert(strstr(csv, "target,budget,finetune,similarity,sampler,predictor,target_configs,"), "%s", csv);
    cr_assert_eq(count_lines(csv, "fast,5,1,kl,prior,mlp,"), 2, "space + all rows:\n%s", csv);
    cr_assert_eq(count_lines(csv, "fast,20,1,kl,prior,mlp,"), 2, "%s", csv);
    free(csv);
    /* budgets are nested: the adapted predictors of budget 20 saw more configs */
    snprintf(path, sizeof path, "%s/adapted/fast/b5/conv-bn-relu.configs", dir);
    char *c5 = file_text(path);
    snprintf(path, sizeof path, "%s/adapted/fast/b20/conv-bn-relu.configs", dir);
    char *c20 = file_text(path);
    cr_assert_eq(count_lines(c20, "hw=") - count_lines(c5, "hw="), 15, "5 -> 20 sampled");
    cr_assert_eq(strncmp(c20, c5, strlen(c5)), 0, "b5's configs are a prefix of b20's");
    free(c5);
    free(c20);
    snprintf(path, sizeof path, "%s/adapted/fast/b20/pool.yaml", dir);
    cr_assert_eq(access(path, R_OK), 0, "no %s", path);
    snprintf(path, sizeof path, "%s/rep/fast/b20/models.csv", dir);
    cr_assert_eq(access(path, R_OK), 0, "no %s", path);

    /* leave_out: engine drops fast-b (same native engine as the target) */
    write_adapt("leave_out: engine\n");
    snprintf(args, sizeof args, "run %s/adapt.yaml", dir);
    cr_assert_eq(lp_test_cli(args, &out), 0, "%s", out);
    cr_assert(strstr(out, "1 pool platform: fast-xnnpack"), "%s", out);
    cr_assert_null(strstr(out, "conv-bn-relu: fast-b"), "%s", out);
    free(out);

    /* from scratch on the same configs: no pool predictor is picked to start from */
    write_adapt("finetune: false\n");
    snprintf(args, sizeof args, "run %s/adapt.yaml", dir);
    cr_assert_eq(lp_test_cli(args, &out), 0, "%s", out);
    snprintf(path, sizeof path, "%s/rep/adapt.csv", dir);
    csv = file_text(path);
    cr_assert_eq(count_lines(csv, "fast,20,0,kl,prior,mlp,"), 2, "%s", csv);
    free(csv);
    free(out);

    /* nn-Meter's baseline at the same budgets: adaptive sampler with feedback rounds, a
     * random forest trained from scratch on the target */
    write_adapt("finetune: false\n");
    snprintf(text, sizeof text, "%s/adapt.yaml", dir);
    char *nn = file_text(text);
    char nt[4096], *sp = strstr(nn, "sampler: {plugin: prior, seed: 5, prior_models: 30}"),
                   *pp = strstr(nn, "predictor: {plugin: mlp, epochs: 10}");
    cr_assert(sp && pp && sp < pp);
    snprintf(nt, sizeof nt, "%.*ssampler: {plugin: adaptive, seed: 5, prior_models: 30, rounds: 2}%.*s"
             "predictor: {plugin: rf, trees: 8}%s", (int)(sp - nn), nn,
             (int)(pp - sp - strlen("sampler: {plugin: prior, seed: 5, prior_models: 30}")),
             sp + strlen("sampler: {plugin: prior, seed: 5, prior_models: 30}"),
             pp + strlen("predictor: {plugin: mlp, epochs: 10}"));
    free(nn);
    free(lp_test_write(dir, "nnmeter.yaml", nt));
    snprintf(args, sizeof args, "run %s/nnmeter.yaml", dir);
    cr_assert_eq(lp_test_cli(args, &out), 0, "%s", out);
    cr_assert(strstr(out, "conv-bn-relu: budget 20: round 1: "), "%s", out);
    free(out);
    snprintf(path, sizeof path, "%s/adapted/fast/b5/conv-bn-relu.configs", dir);
    c5 = file_text(path);
    snprintf(path, sizeof path, "%s/adapted/fast/b20/conv-bn-relu.configs", dir);
    c20 = file_text(path);
    cr_assert_eq(count_lines(c20, "hw=") - count_lines(c5, "hw="), 15, "budgets are exact with feedback too");
    free(c5);
    free(c20);
    snprintf(path, sizeof path, "%s/rep/adapt.csv", dir);
    csv = file_text(path);
    cr_assert_eq(count_lines(csv, "fast,20,0,kl,adaptive,rf,"), 2, "%s", csv);
    free(csv);

    /* rf cannot fine-tune: a clear error, not a silent scratch build */
    write_adapt("");
    snprintf(text, sizeof text, "%s/adapt.yaml", dir);
    char *y = file_text(text);
    char *at = strstr(y, "predictor: {plugin: mlp, epochs: 10}");
    cr_assert_not_null(at);
    char t2[4096];
    snprintf(t2, sizeof t2, "%.*spredictor: {plugin: rf, trees: 4}%s", (int)(at - y), y,
             at + strlen("predictor: {plugin: mlp, epochs: 10}"));
    free(y);
    free(lp_test_write(dir, "adapt-rf.yaml", t2));
    snprintf(args, sizeof args, "--quiet run %s/adapt-rf.yaml", dir);
    cr_assert_eq(lp_test_cli(args, &out), 1, "%s", out);
    cr_assert(strstr(out, "was written by predictor mlp; this pipeline fine-tunes with rf"), "%s", out);
    free(out);
}

Test(pipeline, adapt_errors)
{
    char text[2048], args[2048], *out = NULL;
    snprintf(text, sizeof text, "pipeline: adapt\ntarget: [a, 7]\npool: p\nkernels: [fc]\n"
                                "sampler: prior\nsimilarity: kl\npredictor: mlp\nleave_out: all\n"
                                "budgets: [100, 50]\nfinetune: maybe\n");
    free(lp_test_write(dir, "bad-adapt.yaml", text));
    snprintf(args, sizeof args, "check %s/bad-adapt.yaml", dir);
    cr_assert_eq(lp_test_cli(args, &out), 2, "%s", out);
    cr_assert(strstr(out, "bad-adapt.yaml:8:12: 'leave_out' must be one of: target, engine, none; got 'all'"), "%s", out);
    cr_assert(strstr(out, "bad-adapt.yaml:9:16: budgets must be strictly ascending (50 after 100)"), "%s", out);
    cr_assert(strstr(out, "bad-adapt.yaml:10:11: 'finetune' must be true or false, got 'maybe'"), "%s", out);
    free(out);
    /* a pool root with no platform in it */
    snprintf(text, sizeof text, "pipeline: adapt\ntarget: %s/configs/fast.yaml\nstore: %s/t.db\n"
                                "pool: %s/nowhere\nkernels: [fc]\nsampler: prior\nsimilarity: kl\n"
                                "predictor: mlp\n", LP_TEST_FIXTURE_DIR, dir, dir);
    free(lp_test_write(dir, "nopool.yaml", text));
    snprintf(args, sizeof args, "--quiet run %s/nopool.yaml", dir);
    cr_assert_eq(lp_test_cli(args, &out), 1, "%s", out);
    cr_assert(strstr(out, "nowhere: No such file or directory"), "%s", out);
    free(out);
}
