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
    char args[2048], path[1024], *out = NULL;
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
    snprintf(text, sizeof text, "pipeline: adapt\ntarget: x\npool: p\nkernels: [fc]\nsampler: prior\n"
                                "similarity: kl\npredictor: mlp\n");
    free(lp_test_write(dir, "later.yaml", text));
    snprintf(args, sizeof args, "run %s/later.yaml", dir);
    int rc = lp_test_cli(args, &out);
    /* adapt needs the similarity plugins (issue 6); until they load, the file is invalid */
    cr_assert(rc == 1 || rc == 2, "%s", out);
    free(out);
}
