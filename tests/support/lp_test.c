#include "lp_test.h"

#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

int lp_test_run(const char *cmd, char **out)
{
    char *full = NULL;
    if (asprintf(&full, "%s 2>&1", cmd) < 0)
        return -1;
    FILE *p = popen(full, "r");
    free(full);
    if (!p)
        return -1;
    size_t cap = 4096, len = 0;
    char *buf = malloc(cap);
    size_t got;
    while (buf && (got = fread(buf + len, 1, cap - len - 1, p)) > 0) {
        len += got;
        if (cap - len < 1024) {
            char *nb = realloc(buf, cap * 2);
            if (!nb) { free(buf); buf = NULL; break; }
            buf = nb;
            cap *= 2;
        }
    }
    if (buf)
        buf[len] = '\0';
    int st = pclose(p);
    if (out)
        *out = buf;
    else
        free(buf);
    return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

int lp_test_cli(const char *args, char **out)
{
    char *cmd = NULL;
    if (asprintf(&cmd, "%s --plugin-path %s %s", LP_TEST_CLI, LP_TEST_PLUGIN_DIR, args) < 0)
        return -1;
    int rc = lp_test_run(cmd, out);
    free(cmd);
    return rc;
}

char *lp_test_tmpdir(void)
{
    char *t = strdup("/tmp/litepred-test-XXXXXX");
    cr_assert_not_null(t);
    cr_assert_not_null(mkdtemp(t), "mkdtemp failed");
    return t;
}

char *lp_test_write(const char *dir, const char *name, const char *text)
{
    char *path = NULL;
    cr_assert_geq(asprintf(&path, "%s/%s", dir, name), 0);
    FILE *f = fopen(path, "w");
    cr_assert_not_null(f, "cannot write %s", path);
    fputs(text, f);
    fclose(f);
    return path;
}

void lp_test_rmtree(const char *dir)
{
    char *cmd = NULL;
    if (dir && asprintf(&cmd, "rm -rf '%s'", dir) >= 0) {
        int rc = system(cmd);
        (void)rc;
    }
    free(cmd);
}

lp_registry *lp_test_registry(void)
{
    char *dirs[] = {(char *)LP_TEST_PLUGIN_DIR};
    lp_registry *reg = NULL;
    lp_err err = {0};
    int rc = lp_registry_open(&reg, dirs, 1, &err);
    cr_assert_eq(rc, 0, "registry: %s", err.msg);
    return reg;
}
