/* `litepred report`: real CSV files in, report.md and gnuplot PNGs out. gnuplot is a
 * dependency (scripts/deps.sh installs gnuplot-nox): a machine without it fails here. */
#include <criterion/criterion.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/stat.h>

#include "lp_test.h"

#define ADAPT_HEADER                                                                              \
    "target,budget,finetune,similarity,sampler,predictor,target_configs,profiling_s,space,models," \
    "rmse_ms,rmspe,acc5,acc10\n"
#define MODELS_HEADER "space,model,measured_ms,predicted_ms,rel_error\n"

static char *cli_run(int *rc, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static char *cli_run(int *rc, const char *fmt, ...)
{
    char *args = NULL, *out = NULL;
    va_list ap;
    va_start(ap, fmt);
    cr_assert_geq(vasprintf(&args, fmt, ap), 0);
    va_end(ap);
    *rc = lp_test_cli(args, &out);
    cr_assert_not_null(out);
    free(args);
    return out;
}

static char *slurp(const char *path)
{
    FILE *f = fopen(path, "r");
    cr_assert_not_null(f, "cannot read %s", path);
    char *buf = malloc(1 << 20);
    cr_assert_not_null(buf);
    size_t n = fread(buf, 1, (1 << 20) - 1, f);
    buf[n] = '\0';
    fclose(f);
    return buf;
}

static void expect_in(const char *text, const char *want)
{
    cr_assert(strstr(text, want) != NULL, "expected \"%s\" in:\n%s", want, text);
}

static void mkdir_p(const char *root, const char *rel)
{
    char *cmd = NULL;
    cr_assert_geq(asprintf(&cmd, "mkdir -p '%s/%s'", root, rel), 0);
    cr_assert_eq(system(cmd), 0);
    free(cmd);
}

static void expect_png(const char *dir, const char *name)
{
    char *path = NULL;
    cr_assert_geq(asprintf(&path, "%s/plots/%s", dir, name), 0);
    FILE *f = fopen(path, "rb");
    cr_assert_not_null(f, "missing plot %s", path);
    unsigned char sig[8] = {0};
    size_t n = fread(sig, 1, sizeof sig, f);
    fclose(f);
    cr_assert(n == 8 && !memcmp(sig, "\x89PNG\r\n\x1a\n", 8), "%s is not a PNG", path);
    free(path);
}

/* Two series (directories kl and tau) x two targets x three budgets, space s1 and "all". */
enum { NS = 2, NT = 2, NB = 3 };
static const long long budgets[NB] = {10, 20, 40};
static const char *const sim[NS] = {"kl", "tau"};
static const int finetune[NS] = {1, 0};

static double v_acc10(int s, int t, int b) { return 20 + 25 * b + 3.25 * t + 7.5 * s; }
static double v_acc5(int s, int t, int b)
{
    if (s == 1 && t == 1 && b == 2)
        return NAN; /* a target with no evaluated models: left out of the mean */
    return 10 + 12 * b + 1.75 * t + 4 * s;
}
static double v_rmspe(int s, int t, int b) { return 30 - 6 * b + 2.5 * t + s * 1.25; }
static long long v_configs(int s, int t, int b) { return 100 + 60 * b + 7 * t + 3 * s; }
static double v_prof(int s, int t, int b) { return (1.5 + b * b) * (1 + t * 0.25) * (1 + 2 * s); }

static void write_adapt_dirs(const char *root)
{
    for (int s = 0; s < NS; s++) {
        mkdir_p(root, sim[s]);
        char *name = NULL, text[8192];
        size_t len = (size_t)snprintf(text, sizeof text, ADAPT_HEADER);
        for (int t = 0; t < NT; t++)
            for (int b = 0; b < NB; b++)
                for (int sp = 0; sp < 2; sp++) /* the space row, then "all" (worse, to tell apart) */
                    len += (size_t)snprintf(text + len, sizeof text - len,
                                            "t%d,%lld,%d,%s,prior,mlp,%lld,%.3f,%s,5,1.5,%.4f,%.2f,%.2f\n",
                                            t + 1, budgets[b], finetune[s], sim[s], v_configs(s, t, b),
                                            v_prof(s, t, b), sp ? "all" : "s1",
                                            v_rmspe(s, t, b) + (sp ? 0 : 1), v_acc5(s, t, b) - (sp ? 0 : 1),
                                            v_acc10(s, t, b) - (sp ? 0 : 1));
        cr_assert_geq(asprintf(&name, "%s/adapt.csv", sim[s]), 0);
        free(lp_test_write(root, name, text));
        free(name);
    }
}

/* models.csv rows: space, measured, predicted. */
static const struct {
    const char *space;
    double meas, pred;
} mrows[] = {
    {"s1", 10, 10.4}, {"s1", 20, 25}, {"s1", 5, 4.6}, {"s2", 30, 31}, {"s2", 40, 30},
};

static double within10(const char *space)
{
    int n = 0, in = 0;
    for (size_t i = 0; i < sizeof mrows / sizeof mrows[0]; i++)
        if (!space || !strcmp(mrows[i].space, space)) {
            n++;
            in += fabs((mrows[i].pred - mrows[i].meas) / mrows[i].meas) <= 0.10;
        }
    return 100.0 * in / n;
}

static void write_models(const char *root, const char *rel)
{
    char text[2048], *name = NULL;
    size_t len = (size_t)snprintf(text, sizeof text, MODELS_HEADER);
    for (size_t i = 0; i < sizeof mrows / sizeof mrows[0]; i++)
        len += (size_t)snprintf(text + len, sizeof text - len, "%s,m%zu,%.6f,%.6f,%.6f\n", mrows[i].space,
                                i, mrows[i].meas, mrows[i].pred,
                                (mrows[i].pred - mrows[i].meas) / mrows[i].meas);
    mkdir_p(root, rel);
    cr_assert_geq(asprintf(&name, "%s/models.csv", rel), 0);
    free(lp_test_write(root, name, text));
    free(name);
}

Test(report, tables_means_and_plots)
{
    char *root = lp_test_tmpdir();
    write_adapt_dirs(root);
    write_models(root, "kl/t1/b10");
    free(lp_test_write(root, "kl/picks.csv",
                       "target,kernel_type,candidate,similarity,score,picked\n"
                       "t1,conv,pa,kl,0.5,1\nt1,conv,pb,kl,2.25,0\nt2,conv,pb,kl,0.125,1\n"));
    free(lp_test_write(root, "kl/kernels.csv",
                       "target,budget,kernel_type,source,configs,rmspe,acc5,acc10\n"
                       "t1,10,conv,pa,72,12.3456,40.00,61.25\nt2,10,conv,scratch,70,nan,nan,nan\n"));
    mkdir_p(root, "tmp");
    int rc;
    char *out = cli_run(&rc, "report %s/kl %s/tau -o %s/out", root, root, root);
    /* the temporary directory of gnuplot's script and data is removed */
    char *cmd = NULL;
    cr_assert_geq(asprintf(&cmd, "(env TMPDIR=%s/tmp %s --plugin-path %s report %s/kl %s/tau -o %s/out "
                                 "&& test -z \"$(ls -A %s/tmp)\")",
                           root, LP_TEST_CLI, LP_TEST_PLUGIN_DIR, root, root, root, root),
                  0);
    char *out2 = NULL;
    int rc2 = lp_test_run(cmd, &out2);
    cr_assert_eq(rc2, 0, "rerun into its own report, temp dir left empty: %s", out2);
    free(out2);
    free(cmd);
    cr_assert_eq(rc, 0, "litepred report failed:\n%s", out);
    expect_in(out, "/out/report.md (");

    char *md_path = NULL, *out_dir = NULL;
    cr_assert_geq(asprintf(&out_dir, "%s/out", root), 0);
    cr_assert_geq(asprintf(&md_path, "%s/report.md", out_dir), 0);
    char *md = slurp(md_path);

    /* per series and budget: the "all" rows averaged over the two targets */
    const char *label[NS] = {"kl/prior/mlp fine-tune", "tau/prior/mlp from scratch"};
    for (int s = 0; s < NS; s++)
        for (int b = 0; b < NB; b++) {
            double a10 = 0, a5 = 0, e = 0, cf = 0, pr = 0;
            int n5 = 0;
            for (int t = 0; t < NT; t++) {
                a10 += v_acc10(s, t, b) / NT;
                e += v_rmspe(s, t, b) / NT;
                cf += (double)v_configs(s, t, b) / NT;
                /* the CSV holds profiling seconds to 3 decimals: average what was written */
                pr += round(v_prof(s, t, b) * 1000) / 1000 / NT;
                if (!isnan(v_acc5(s, t, b))) {
                    a5 += v_acc5(s, t, b);
                    n5++;
                }
            }
            char row[256];
            snprintf(row, sizeof row, "| %s | %lld | %d | %.2f | %.2f | %.2f | %.1f | %.2f |", label[s],
                     budgets[b], NT, a10, a5 / n5, e, cf, pr);
            expect_in(md, row);
        }
    /* the tau series' third budget has one nan acc5: its mean is the other target's value */
    cr_assert(isnan(v_acc5(1, 1, 2)));

    /* per-target rows keep the space rows too */
    expect_in(md, "| kl/prior/mlp fine-tune | t2 | 40 | s1 | 5 | ");
    /* picks: the picked candidate and every score, the pick in bold */
    expect_in(md, "| t1 | conv | kl | pa | **pa 0.5**, pb 2.25 |");
    expect_in(md, "| t2 | conv | kl | pb | **pb 0.125** |");
    /* kernel-level rows, nan shown as n/a */
    expect_in(md, "| t1 | 10 | conv | pa | 72 | 12.35 | 40.00 | 61.25 |");
    expect_in(md, "| t2 | 10 | conv | scratch | 70 | n/a | n/a | n/a |");

    /* models.csv: accuracy per space with its plot, paths relative to OUT */
    char row[256];
    snprintf(row, sizeof row, "| s1 | 3 | %.1f |", within10("s1"));
    expect_in(md, row);
    snprintf(row, sizeof row, "| s2 | 2 | %.1f |", within10("s2"));
    expect_in(md, row);
    snprintf(row, sizeof row, "| **all** | 5 | %.1f |", within10(NULL));
    expect_in(md, row);
    expect_in(md, "### kl/t1/b10");
    expect_in(md, "(plots/models-kl_t1_b10-s1.png)");
    expect_in(md, "(../kl/t1/b10/models.csv)");
    expect_in(md, "(../kl/adapt.csv)");
    expect_in(md, "![+-10% accuracy vs budget](plots/acc-vs-budget.png)");
    expect_in(md, "(plots/acc5-vs-budget.png)");
    expect_in(md, "(plots/profiling-vs-accuracy.png)");
    cr_assert_null(strstr(md, root), "report.md must not hold absolute input paths:\n%s", md);

    expect_png(out_dir, "acc-vs-budget.png");
    expect_png(out_dir, "acc5-vs-budget.png");
    expect_png(out_dir, "profiling-vs-accuracy.png");
    expect_png(out_dir, "models-kl_t1_b10-s1.png");
    expect_png(out_dir, "models-kl_t1_b10-s2.png");

    /* --no-model-plots: the models tables stay, their PNGs are not drawn */
    free(out);
    out = cli_run(&rc, "report --no-model-plots %s/kl %s/tau -o %s/lean", root, root, root);
    cr_assert_eq(rc, 0, "%s", out);
    char *lean = NULL, *lean_md = NULL, *png = NULL;
    cr_assert_geq(asprintf(&lean, "%s/lean", root), 0);
    cr_assert_geq(asprintf(&lean_md, "%s/report.md", lean), 0);
    cr_assert_geq(asprintf(&png, "%s/plots/models-kl_t1_b10-s1.png", lean), 0);
    char *lmd = slurp(lean_md);
    snprintf(row, sizeof row, "| s1 | 3 | %.1f |", within10("s1"));
    expect_in(lmd, row);
    expect_in(lmd, " | not drawn (--no-model-plots) |");
    cr_assert_null(strstr(lmd, "(plots/models-"), "%s", lmd);
    cr_assert_neq(access(png, F_OK), 0, "%s was drawn", png);
    expect_png(lean, "acc-vs-budget.png");
    free(lmd);
    free(png);
    free(lean_md);
    free(lean);

    free(md);
    free(md_path);
    free(out_dir);
    free(out);
    lp_test_rmtree(root);
    free(root);
}

Test(report, same_settings_in_two_directories_are_labelled_by_directory)
{
    char *root = lp_test_tmpdir();
    const char *row = "t1,10,1,kl,prior,mlp,100,1.000,all,3,1.0,10.0,50.00,70.00\n";
    char text[512];
    snprintf(text, sizeof text, ADAPT_HEADER "%s", row);
    mkdir_p(root, "a/r");
    mkdir_p(root, "b/r");
    free(lp_test_write(root, "a/r/adapt.csv", text));
    free(lp_test_write(root, "b/r/adapt.csv", text));
    int rc;
    /* default OUT: the first DIR */
    char *out = cli_run(&rc, "report %s/a %s/b", root, root);
    cr_assert_eq(rc, 0, "%s", out);
    char *md_path = NULL;
    cr_assert_geq(asprintf(&md_path, "%s/a/report.md", root), 0);
    char *md = slurp(md_path);
    expect_in(md, "| kl/prior/mlp fine-tune [a/r] | 10 | 1 | 70.00 | 50.00 | 10.00 | 100.0 | 1.00 |");
    expect_in(md, "| kl/prior/mlp fine-tune [b/r] | 10 | 1 | 70.00 | 50.00 | 10.00 | 100.0 | 1.00 |");
    expect_in(md, "(r/adapt.csv)");
    expect_in(md, "(../b/r/adapt.csv)");
    free(md);
    free(md_path);
    free(out);
    lp_test_rmtree(root);
    free(root);
}

Test(report, malformed_csv_names_file_and_line)
{
    char *root = lp_test_tmpdir();
    free(lp_test_write(root, "adapt.csv",
                       ADAPT_HEADER "t1,10,1,kl,prior,mlp,100,1.0,all,3,1.0,10.0,50.0,70.0\n"
                                    "t1,20,1,kl,prior,mlp,100,1.0,all,3,1.0,10.0,50.0\n"));
    int rc;
    char *out = cli_run(&rc, "report %s", root);
    cr_assert_neq(rc, 0, "%s", out);
    expect_in(out, "adapt.csv:3: expected 14 comma-separated fields (target,budget,");
    expect_in(out, "got 13");
    free(out);
    char *md = NULL;
    cr_assert_geq(asprintf(&md, "%s/report.md", root), 0);
    struct stat st;
    cr_assert_neq(stat(md, &st), 0, "no report may be written from a malformed input");
    free(md);

    free(lp_test_write(root, "adapt.csv", "target,budget\n"));
    out = cli_run(&rc, "report %s", root);
    cr_assert_neq(rc, 0);
    expect_in(out, "adapt.csv:1: expected the header line 'target,budget,finetune,");
    free(out);

    free(lp_test_write(root, "adapt.csv", ADAPT_HEADER));
    mkdir_p(root, "e");
    free(lp_test_write(root, "e/models.csv", MODELS_HEADER "s1,m0,1.5,1.6,0.1\ns1,m1,fast,1.6,0.1\n"));
    out = cli_run(&rc, "report %s", root);
    cr_assert_neq(rc, 0);
    expect_in(out, "e/models.csv:3: field 'measured_ms' must be a number (or nan), got 'fast'");
    free(out);

    free(lp_test_write(root, "e/models.csv", MODELS_HEADER));
    free(lp_test_write(root, "adapt.csv",
                       ADAPT_HEADER "t1,10,1,kl,prior,mlp,100,1.0,all,3,1.0,10.0,50.0,70.0\n"
                                    "t1,10,1,kl,prior,mlp,100,1.0,all,3,1.0,10.0,50.0,70.0\n"));
    out = cli_run(&rc, "report %s", root);
    cr_assert_neq(rc, 0);
    expect_in(out, "adapt.csv:3: duplicate row for target t1, budget 10, space all (first at line 2)");
    free(out);
    lp_test_rmtree(root);
    free(root);
}

Test(report, usage_errors_and_refusals)
{
    int rc;
    char *out = cli_run(&rc, "report --help");
    cr_assert_eq(rc, 0, "%s", out);
    expect_in(out, "usage: litepred report DIR [DIR...] [-o OUT]");
    expect_in(out, "gnuplot-nox");
    expect_in(out, "plots/acc-vs-budget.png");
    free(out);
    out = cli_run(&rc, "report");
    cr_assert_eq(rc, 2);
    free(out);
    out = cli_run(&rc, "report --frobnicate /tmp");
    cr_assert_eq(rc, 2);
    expect_in(out, "unknown option '--frobnicate'");
    free(out);
    out = cli_run(&rc, "report /nonexistent/results");
    cr_assert_eq(rc, 1);
    expect_in(out, "/nonexistent/results: No such file or directory");
    free(out);

    char *root = lp_test_tmpdir();
    out = cli_run(&rc, "report %s", root);
    cr_assert_eq(rc, 1);
    expect_in(out, "no adapt.csv, kernels.csv, picks.csv or models.csv under ");
    free(out);

    /* an evaluate report directory already has its own report.md: never overwritten */
    write_models(root, "eval");
    free(lp_test_write(root, "eval/report.md", "# Evaluation of pool p on x\n"));
    out = cli_run(&rc, "report %s/eval", root);
    cr_assert_eq(rc, 1, "%s", out);
    expect_in(out, "eval/report.md exists and was not written by `litepred report`");
    free(out);
    char *md_path = NULL;
    cr_assert_geq(asprintf(&md_path, "%s/eval/report.md", root), 0);
    char *md = slurp(md_path);
    cr_assert_str_eq(md, "# Evaluation of pool p on x\n");
    free(md);
    free(md_path);

    /* without gnuplot the verb fails and names the package to install */
    char *cmd = NULL;
    cr_assert_geq(asprintf(&cmd, "env PATH=/nonexistent %s --plugin-path %s report %s/eval -o %s/o",
                           LP_TEST_CLI, LP_TEST_PLUGIN_DIR, root, root),
                  0);
    rc = lp_test_run(cmd, &out);
    cr_assert_eq(rc, 1, "%s", out);
    expect_in(out, "gnuplot not found in PATH (/nonexistent)");
    expect_in(out, "install the Debian package gnuplot-nox");
    free(out);
    free(cmd);
    lp_test_rmtree(root);
    free(root);
}
