/* `litepred check FILE...`: validates config files without running anything. */
#include "cli.h"

#include <stdio.h>

int lp_cli_check(lp_cli *cli, int argc, char **argv)
{
    if (argc < 2 || lp_cli_wants_help(argc, argv)) {
        FILE *f = argc < 2 ? stderr : stdout;
        fprintf(f, "usage: litepred check FILE...\n\n"
                   "Validates platform, pipeline, space and model files (told apart by their\n"
                   "top-level key) against the loaded plugins, without running anything.\n"
                   "Prints one line per problem as file:line:column: message.\n"
                   "Exit status: 0 all clean, 2 a file has problems, 1 a file could not be read.\n");
        return argc < 2 ? LP_EXIT_USAGE : LP_EXIT_OK;
    }
    lp_registry *reg = lp_cli_registry(cli);
    if (!reg)
        return LP_EXIT_FAIL;
    int status = LP_EXIT_OK;
    size_t bad = 0;
    for (int i = 1; i < argc; i++) {
        lp_diag diag = {0};
        lp_err err = {0};
        int rc = lp_check_file(reg, argv[i], &diag, &err);
        if (rc == 0) {
            printf("%s: ok\n", argv[i]);
        } else if (rc == LP_EINVAL) {
            lp_diag_print(&diag, stderr);
            bad++;
            if (status == LP_EXIT_OK)
                status = LP_EXIT_USAGE;
        } else {
            fprintf(stderr, "%s\n", err.msg);
            bad++;
            status = LP_EXIT_FAIL;
        }
        lp_diag_free(&diag);
    }
    if (bad)
        fprintf(stderr, "%zu of %d file%s failed\n", bad, argc - 1, argc == 2 ? "" : "s");
    return status;
}
