/* The command line: help everywhere, plugin listings, and `check` over
 * broken config files (message, line and column, exit code 2). */
#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>

#include "lp_test.h"

#define CFG LP_TEST_FIXTURE_DIR "/configs/"

static void expect_line(const char *out, const char *line)
{
    cr_assert(strstr(out, line) != NULL, "expected \"%s\" in:\n%s", line, out);
}

Test(cli, top_level_help_lists_verbs)
{
    char *out = lp_test_cli_expect(0, "--help");
    expect_line(out, "usage: litepred");
    expect_line(out, "  plugins");
    expect_line(out, "  check");
    expect_line(out, "  store");
    expect_line(out, "  report");
    free(out);
    free(lp_test_cli_expect(2, ""));
    out = lp_test_cli_expect(2, "frobnicate");
    expect_line(out, "unknown verb 'frobnicate'");
    free(out);
}

Test(cli, every_verb_has_help)
{
    static const char *const verbs[] = {"plugins", "help", "check", "store", "measure", "model",
                                        "space", "report"};
    for (size_t i = 0; i < sizeof verbs / sizeof verbs[0]; i++) {
        char args[64];
        snprintf(args, sizeof args, "%s --help", verbs[i]);
        char *out = lp_test_cli_expect(0, args);
        expect_line(out, "usage: litepred ");
        free(out);
    }
}

Test(cli, plugins_lists_fixture_plugins_with_files)
{
    char *out = NULL;
    int rc = lp_test_run(LP_TEST_CLI " --plugin-path " LP_TEST_FIXTURE_PLUGIN_DIR "/good plugins", &out);
    cr_assert_eq(rc, 0, "%s", out);
    expect_line(out, "kernel     optdemo");
    expect_line(out, "fixture with every option type");
    expect_line(out, LP_TEST_FIXTURE_PLUGIN_DIR "/good/optdemo.so");
    /* --plugin-path comes first, but the install directory is still searched. */
    expect_line(out, "engine     native");
    free(out);
    rc = lp_test_run(LP_TEST_CLI " --plugin-path " LP_TEST_FIXTURE_PLUGIN_DIR "/good plugins engine", &out);
    cr_assert_eq(rc, 0);
    cr_assert_null(strstr(out, "optdemo"), "engine filter must hide kernels");
    cr_assert_null(strstr(out, "kernel "), "engine filter must hide kernels");
    expect_line(out, "engine     native");
    free(out);
    out = lp_test_cli_expect(2, "plugins gadgets");
    expect_line(out, "unknown kind 'gadgets'");
    free(out);
}

Test(cli, help_prints_the_option_table)
{
    char *out = NULL;
    int rc = lp_test_run(LP_TEST_CLI " --plugin-path " LP_TEST_FIXTURE_PLUGIN_DIR
                         "/good help kernel/optdemo", &out);
    cr_assert_eq(rc, 0, "%s", out);
    expect_line(out, "kernel/optdemo: fixture with every option type");
    expect_line(out, "  count          int     4            [1, 64]                how many");
    expect_line(out, "  mode           choice  exact        fast|exact             how");
    expect_line(out, "  ratio          float   0.5          [0, 1]                 a fraction");
    free(out);
    rc = lp_test_run(LP_TEST_CLI " --plugin-path " LP_TEST_FIXTURE_PLUGIN_DIR
                     "/good help kernel/optdemox", &out);
    cr_assert_eq(rc, 2);
    expect_line(out, "unknown kernel plugin 'optdemox' (available: ");
    expect_line(out, "optdemo, reqdemo");
    free(out);
    free(lp_test_cli_expect(2, "help kernel"));
    free(lp_test_cli_expect(2, "help widget/x"));
}

Test(cli, check_good_platform)
{
    char *out = lp_test_cli_expect(0, "check " CFG "good.yaml");
    expect_line(out, CFG "good.yaml: ok");
    free(out);
}

Test(cli, check_reports_each_problem_with_position)
{
    struct {
        const char *file, *line;
    } cases[] = {
        {"unknown-key.yaml", CFG "unknown-key.yaml:3:1: unknown key 'harnes' (valid keys: platform, summary, engine, harness)"},
        {"bad-type.yaml", CFG "bad-type.yaml:4:12: 'threads' must be an integer, got 'two'"},
        {"out-of-range.yaml", CFG "out-of-range.yaml:4:12: 'threads' = 0 is out of range [1, 256]"},
        {"out-of-range.yaml", CFG "out-of-range.yaml:6:7: 'ci' = 2.5 is out of range [0.0001, 1]"},
        {"missing-engine.yaml", CFG "missing-engine.yaml:1:1: missing required key 'engine'"},
        {"unknown-plugin.yaml", CFG "unknown-plugin.yaml:2:18: unknown engine plugin 'tensorrt' (available: native"},
        {"malformed.yaml", CFG "malformed.yaml:3:"},
        {"malformed.yaml", "malformed YAML: did not find expected ',' or '}'"},
        {"name-mismatch.yaml", CFG "name-mismatch.yaml:1:11: platform name 'some-other-name' must equal the file name 'name-mismatch'"},
        {"pipeline-bad.yaml", CFG "pipeline-bad.yaml:1:1: missing required key 'pool' (predictor pool root directory)"},
        {"pipeline-bad.yaml", CFG "pipeline-bad.yaml:3:25: unknown kernel plugin 'conv-bn-relux' (available: "},
        {"pipeline-kind.yaml", CFG "pipeline-kind.yaml:1:11: 'pipeline' must be one of: build, evaluate, build-pool, adapt; got 'train'"},
        {"unknown-kind.yaml", CFG "unknown-kind.yaml:1:1: cannot tell what this file is: expected one of the top-level keys pipeline, pool, platform, model, space"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char args[512];
        snprintf(args, sizeof args, "check %s%s", CFG, cases[i].file);
        char *out = lp_test_cli_expect(2, args);
        expect_line(out, cases[i].line);
        free(out);
    }
}

Test(cli, check_counts_failures_and_keeps_going)
{
    char *out = lp_test_cli_expect(2, "check " CFG "good.yaml " CFG "bad-type.yaml " CFG
                                      "unknown-key.yaml");
    expect_line(out, CFG "good.yaml: ok");
    expect_line(out, "2 of 3 files failed");
    free(out);
    out = lp_test_cli_expect(1, "check /nonexistent/platform.yaml");
    expect_line(out, "/nonexistent/platform.yaml: cannot open: No such file or directory");
    free(out);
}

Test(cli, shipped_configs_all_pass_check)
{
    char *out = NULL;
    int rc = lp_test_run("cd " LP_TEST_SOURCE_DIR " && find configs -name '*.yaml' | sort | xargs -r "
                         LP_TEST_CLI " --plugin-path " LP_TEST_PLUGIN_DIR " check", &out);
    cr_assert_eq(rc, 0, "%s", out);
    cr_assert_null(strstr(out, "failed"), "%s", out);
    free(out);
}
