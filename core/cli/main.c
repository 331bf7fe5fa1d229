/* litepred: entry point and verb dispatch. */
#include "cli.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/** `litepred report DIR... [-o OUT]`: Markdown report with gnuplot plots (verb_report.c). */
int lp_cli_report(lp_cli *cli, int argc, char **argv);

static const lp_verb verbs[] = {
    {"plugins", "list loaded plugins: kind, name, summary, file", lp_cli_plugins},
    {"help", "show a plugin's options (litepred help KIND/NAME) or a verb's usage", lp_cli_help},
    {"check", "validate config files (platforms, pipelines, spaces, models)", lp_cli_check},
    {"store", "inspect a measurement store: stats, export", lp_cli_store},
    {"measure", "measure kernels or whole models on a platform into the store", lp_cli_measure},
    {"run", "run a pipeline: build predictors, evaluate them", lp_cli_run},
    {"predict", "predict model latency from a predictor pool", lp_cli_predict},
    {"model", "show a model file: kernels, configs, MACs, params, shapes", lp_cli_model},
    {"space", "search spaces: list, sample models, kernel config distributions", lp_cli_space},
    {"representative", "print a kernel type's representative set for similarity detection", lp_cli_representative},
    {"report", "turn pipeline results (adapt.csv, models.csv, ...) into a Markdown page with plots", lp_cli_report},
};

static void usage(FILE *f)
{
    fprintf(f,
            "usage: litepred [--plugin-path DIRS] [--quiet] VERB [ARGS...]\n"
            "\n"
            "Predicts neural-network latency per platform from per-kernel predictors.\n"
            "\n"
            "verbs:\n");
    for (size_t i = 0; i < sizeof verbs / sizeof verbs[0]; i++)
        fprintf(f, "  %-15s %s\n", verbs[i].name, verbs[i].summary);
    fprintf(f,
            "\n"
            "global options (anywhere on the line):\n"
            "  --plugin-path DIRS  colon-separated plugin directories searched first\n"
            "  --quiet             no progress output\n"
            "  -h, --help          this text; `litepred VERB --help` for a verb\n"
            "\n"
            "plugins are searched in --plugin-path, then $LITEPRED_PLUGIN_PATH, then\n"
            "%s\n",
            lp_install_plugin_dir());
}

lp_registry *lp_cli_registry(lp_cli *cli)
{
    if (cli->reg)
        return cli->reg;
    lp_err err = {0};
    if (lp_registry_open_default(&cli->reg, cli->plugin_path, &err) < 0) {
        fprintf(stderr, "litepred: %s\n", err.msg);
        cli->reg = NULL;
    }
    return cli->reg;
}

int lp_cli_wants_help(int argc, char **argv)
{
    for (int i = 1; i < argc; i++)
        if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help"))
            return 1;
    return 0;
}

int lp_cli_usage_error(const char *verb, const char *fmt, ...)
{
    va_list ap;
    fprintf(stderr, "litepred %s: ", verb);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fprintf(stderr, "\n(try `litepred %s --help`)\n", verb);
    return LP_EXIT_USAGE;
}

int lp_cli_fail(const lp_err *err)
{
    fprintf(stderr, "litepred: %s\n", err->msg[0] ? err->msg : lp_strerror(err->code));
    return LP_EXIT_FAIL;
}

/* Global options may appear anywhere; they are removed from argv. */
static int take_globals(lp_cli *cli, int *argc, char **argv)
{
    int out = 1;
    for (int i = 1; i < *argc; i++) {
        if (!strcmp(argv[i], "--plugin-path")) {
            if (i + 1 >= *argc) {
                fprintf(stderr, "litepred: --plugin-path needs a value\n");
                return -1;
            }
            cli->plugin_path = argv[++i];
        } else if (!strncmp(argv[i], "--plugin-path=", 14)) {
            cli->plugin_path = argv[i] + 14;
        } else if (!strcmp(argv[i], "--quiet") || !strcmp(argv[i], "-q")) {
            cli->quiet = 1;
        } else {
            argv[out++] = argv[i];
        }
    }
    *argc = out;
    argv[out] = NULL;
    return 0;
}

/* OpenBLAS 0.3.21 does not recognise newer AVX-512 CPUs and falls back to its generic
 * "Prescott" kernels (sgemm 4.4x slower here). It reads OPENBLAS_CORETYPE only when it is
 * loaded, before main(), so the command re-executes itself once with the right core type.
 * An explicit OPENBLAS_CORETYPE is respected; engines report the kernels in use. */
static void openblas_coretype(char **argv)
{
    if (getenv("OPENBLAS_CORETYPE") || getenv("LITEPRED_NO_REEXEC"))
        return;
    __builtin_cpu_init();
    if (!(__builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
          __builtin_cpu_supports("avx512dq") && __builtin_cpu_supports("avx512vl")))
        return;
    setenv("OPENBLAS_CORETYPE", "SkylakeX", 1);
    setenv("LITEPRED_NO_REEXEC", "1", 1);
    execv("/proc/self/exe", argv);
    /* exec failed: carry on with the generic kernels rather than not run at all */
}

int main(int argc, char **argv)
{
    openblas_coretype(argv);
    lp_cli cli = {0};
    if (take_globals(&cli, &argc, argv) < 0)
        return LP_EXIT_USAGE;
    if (argc < 2 || !strcmp(argv[1], "-h") || !strcmp(argv[1], "--help")) {
        usage(argc < 2 ? stderr : stdout);
        return argc < 2 ? LP_EXIT_USAGE : LP_EXIT_OK;
    }
    if (!strcmp(argv[1], "--version")) {
        printf("litepred %s\n", LP_VERSION);
        return LP_EXIT_OK;
    }
    for (size_t i = 0; i < sizeof verbs / sizeof verbs[0]; i++) {
        if (!strcmp(argv[1], verbs[i].name)) {
            int rc = verbs[i].run(&cli, argc - 1, argv + 1);
            lp_registry_close(cli.reg);
            return rc;
        }
    }
    fprintf(stderr, "litepred: unknown verb '%s'\n\n", argv[1]);
    usage(stderr);
    return LP_EXIT_USAGE;
}
