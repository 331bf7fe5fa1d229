/* The litepred command: thin verbs over the core library. */
#ifndef LP_CLI_H
#define LP_CLI_H

#include <litepred/litepred.h>

/** Exit codes shared by every verb. */
enum { LP_EXIT_OK = 0, LP_EXIT_FAIL = 1, LP_EXIT_USAGE = 2 };

/** State shared by verbs: global options and the lazily opened registry. */
typedef struct lp_cli {
    const char *plugin_path; /**< --plugin-path value, or NULL */
    int quiet;               /**< --quiet: no progress output */
    lp_registry *reg;        /**< opened on first use */
} lp_cli;

/** A verb: name, one-line summary, and its entry point (argv[0] is the verb). */
typedef struct lp_verb {
    const char *name;    /**< "plugins" */
    const char *summary; /**< one line for `litepred --help` */
    int (*run)(lp_cli *cli, int argc, char **argv);
} lp_verb;

/** Opens the registry on first use; prints the load error and returns NULL on failure. */
lp_registry *lp_cli_registry(lp_cli *cli);
/** True when argv has -h or --help. */
int lp_cli_wants_help(int argc, char **argv);
/** Prints "litepred VERB: message" to stderr and returns LP_EXIT_USAGE. */
int lp_cli_usage_error(const char *verb, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/** Prints "litepred: <err.msg>" to stderr and returns LP_EXIT_FAIL. */
int lp_cli_fail(const lp_err *err);

/* Verbs (one file each). */
int lp_cli_plugins(lp_cli *cli, int argc, char **argv);
int lp_cli_help(lp_cli *cli, int argc, char **argv);
int lp_cli_check(lp_cli *cli, int argc, char **argv);
int lp_cli_store(lp_cli *cli, int argc, char **argv);
int lp_cli_measure(lp_cli *cli, int argc, char **argv);
int lp_cli_run(lp_cli *cli, int argc, char **argv);
int lp_cli_predict(lp_cli *cli, int argc, char **argv);
int lp_cli_model(lp_cli *cli, int argc, char **argv);
int lp_cli_space(lp_cli *cli, int argc, char **argv);
int lp_cli_representative(lp_cli *cli, int argc, char **argv);

#endif
