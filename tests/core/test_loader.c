/* Loader tests: deliberately broken plugins, each with its exact error. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lp_test.h"

#define FIX LP_TEST_FIXTURE_PLUGIN_DIR

static int open_dir(const char *dir, lp_registry **reg, lp_err *err)
{
    char *dirs[] = {(char *)dir};
    return lp_registry_open(reg, dirs, 1, err);
}

/* A registry over the broken plugin in FIX/name fails with code and exactly msg, and
 * leaves no registry behind. */
static void expect_refused(const char *name, int code, const char *msg)
{
    char dir[512];
    snprintf(dir, sizeof dir, "%s/%s", FIX, name);
    lp_registry *reg = NULL;
    lp_err err = {0};
    cr_assert_eq(open_dir(dir, &reg, &err), code, "%s: %s", name, err.msg);
    cr_assert_str_eq(err.msg, msg);
    cr_assert_null(reg);
}

Test(loader, good_plugins_load_sorted_with_paths)
{
    lp_registry *reg = NULL;
    lp_err err = {0};
    cr_assert_eq(open_dir(FIX "/good", &reg, &err), 0, "%s", err.msg);
    cr_assert_eq(lp_registry_count(reg), 2);
    const lp_plugin *p = lp_registry_at(reg, 0);
    cr_assert_str_eq(lp_plugin_descriptor(p)->name, "optdemo");
    cr_assert_str_eq(lp_plugin_path(p), FIX "/good/optdemo.so");
    cr_assert_str_eq(lp_plugin_descriptor(lp_registry_at(reg, 1))->name, "reqdemo");
    cr_assert_eq(lp_registry_find(reg, LP_KIND_KERNEL, "optdemo"), p);
    cr_assert_null(lp_registry_find(reg, LP_KIND_ENGINE, "optdemo"));
    char names[128];
    cr_assert_str_eq(lp_registry_names(reg, LP_KIND_KERNEL, names, sizeof names), "optdemo, reqdemo");
    cr_assert_str_eq(lp_registry_names(reg, LP_KIND_ENGINE, names, sizeof names), "none");
    lp_registry_close(reg);
}

Test(loader, missing_entry_symbol)
{
    expect_refused("noentry", LP_EABI,
                   FIX "/noentry/noentry.so: no entry symbol 'lp_plugin_entry' "
                   "(not a litepred plugin)");
}

Test(loader, wrong_abi_major)
{
    expect_refused("abimajor", LP_EABI,
                   FIX "/abimajor/abimajor.so: plugin ABI 2.0 is incompatible with core ABI 1.0");
}

Test(loader, newer_abi_minor)
{
    expect_refused("abiminor", LP_EABI,
                   FIX "/abiminor/abiminor.so: plugin ABI 1.1 is incompatible with core ABI 1.0");
}

Test(loader, duplicate_kind_and_name_names_both_files)
{
    expect_refused("duplicate", LP_EEXIST,
                   "duplicate kernel plugin 'dup': " FIX "/duplicate/dup-a.so and " FIX
                   "/duplicate/dup-b.so");
}

Test(loader, failing_init_carries_the_plugin_message)
{
    expect_refused("initfail", LP_EPLUGIN,
                   FIX "/initfail/initfail.so: kernel plugin 'initfail' init failed: "
                   "libimaginary.so.3: not found");
}

Test(loader, bad_option_table_is_rejected_at_load)
{
    expect_refused("badopts", LP_EABI,
                   FIX "/badopts/badopts.so: bad option table: option 'level' default 99 "
                   "is outside [0, 10]");
}

Test(loader, kernel_ops_checked_at_load)
{
    expect_refused("badkernel", LP_EABI,
                   FIX "/badkernel/badkernel.so: kernel plugin 'badkernel': n_features is 5, "
                   "but 1 feature dims allow 2 (FLOPs) or 3 (FLOPs, params)");
}

Test(loader, engine_ops_checked_at_load)
{
    expect_refused("badengine", LP_EABI,
                   FIX "/badengine/badengine.so: engine plugin 'badengine': ops lack a "
                   "required member (supports, prepare, run, output and release are required)");
}

Test(loader, file_that_is_not_a_shared_object)
{
    char *dir = lp_test_tmpdir();
    free(lp_test_write(dir, "garbage.so", "this is not an ELF file\n"));
    lp_registry *reg = NULL;
    lp_err err = {0};
    cr_assert_eq(open_dir(dir, &reg, &err), LP_EABI);
    char *want = NULL;
    cr_assert_geq(asprintf(&want, "%s/garbage.so: cannot load: ", dir), 0);
    cr_assert(strncmp(err.msg, want, strlen(want)) == 0, "got: %s", err.msg);
    free(want);
    lp_test_rmtree(dir);
    free(dir);
}

Test(loader, same_directory_twice_is_not_a_duplicate)
{
    char *dirs[] = {(char *)FIX "/good", (char *)FIX "/../plugins/good"};
    lp_registry *reg = NULL;
    lp_err err = {0};
    cr_assert_eq(lp_registry_open(&reg, dirs, 2, &err), 0, "%s", err.msg);
    cr_assert_eq(lp_registry_count(reg), 2);
    lp_registry_close(reg);
}

Test(loader, search_path_order_and_missing_dirs)
{
    char **dirs = NULL;
    size_t n = 0;
    lp_err err = {0};
    setenv("LITEPRED_PLUGIN_PATH", FIX "/good:" FIX "/duplicate", 1);
    cr_assert_eq(lp_plugin_search_path(FIX "/initfail", &dirs, &n, &err), 0, "%s", err.msg);
    cr_assert_geq(n, 3);
    cr_assert_str_eq(dirs[0], FIX "/initfail");
    cr_assert_str_eq(dirs[1], FIX "/good");
    cr_assert_str_eq(dirs[2], FIX "/duplicate");
    for (size_t i = 0; i < n; i++)
        cr_assert_str_neq(dirs[i], ".", "the current directory is never searched");
    lp_strv_free(dirs, n);
    cr_assert_eq(lp_plugin_search_path("/nonexistent/plugins", &dirs, &n, &err), LP_ENOTFOUND);
    cr_assert_str_eq(err.msg, "plugin directory '/nonexistent/plugins' (from --plugin-path) does not exist");
    setenv("LITEPRED_PLUGIN_PATH", "/also/missing", 1);
    cr_assert_eq(lp_plugin_search_path(NULL, &dirs, &n, &err), LP_ENOTFOUND);
    cr_assert_str_eq(err.msg, "plugin directory '/also/missing' (from LITEPRED_PLUGIN_PATH) does not exist");
    unsetenv("LITEPRED_PLUGIN_PATH");
}

Test(loader, cli_reports_load_errors_with_exit_1)
{
    char *out = NULL;
    char cmd[1024];
    snprintf(cmd, sizeof cmd, "%s --plugin-path %s plugins", LP_TEST_CLI, FIX "/abimajor");
    cr_assert_eq(lp_test_run(cmd, &out), 1);
    cr_assert(strstr(out, "plugin ABI 2.0 is incompatible with core ABI 1.0"), "%s", out);
    free(out);
}
