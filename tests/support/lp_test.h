/* Helpers shared by the Criterion tests. */
#ifndef LP_TEST_H
#define LP_TEST_H

#include <stddef.h>
#include <litepred/litepred.h>

/** Runs a shell command; returns its exit status (or -1) and stdout+stderr in *out (malloc'd). */
int lp_test_run(const char *cmd, char **out);
/** Runs the litepred CLI with args (a shell fragment); like lp_test_run. */
int lp_test_cli(const char *args, char **out);
/** Creates a fresh temporary directory and returns its malloc'd path. */
char *lp_test_tmpdir(void);
/** Writes text to dir/name; returns the malloc'd path. */
char *lp_test_write(const char *dir, const char *name, const char *text);
/** Removes a directory tree (best effort). */
void lp_test_rmtree(const char *dir);
/** Opens a registry over the built plugins (aborts the test on failure). */
lp_registry *lp_test_registry(void);

#endif
