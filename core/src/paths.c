/* Where shipped configs live: one rule for every verb that names a platform,
 * space or pipeline by name. */
#include <litepred/litepred.h>

#include <libgen.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#ifndef LP_CONFIG_SUBDIR
#define LP_CONFIG_SUBDIR "share/litepred/configs"
#endif
#ifndef LP_SOURCE_CONFIG_DIR
#define LP_SOURCE_CONFIG_DIR "configs"
#endif

static int is_dir(const char *p)
{
    struct stat st;
    return stat(p, &st) == 0 && S_ISDIR(st.st_mode);
}

const char *lp_config_dir(void)
{
    static char dir[PATH_MAX];
    const char *env = getenv("LITEPRED_CONFIG_DIR");
    if (env && *env)
        return env;
    char exe[PATH_MAX];
    ssize_t len = readlink("/proc/self/exe", exe, sizeof exe - 1);
    if (len > 0) {
        exe[len] = '\0';
        char *prefix = dirname(dirname(exe));
        if (snprintf(dir, sizeof dir, "%s/%s", prefix, LP_CONFIG_SUBDIR) < (int)sizeof dir &&
            is_dir(dir))
            return dir;
    }
    /* A build tree has no share/ dir: its configs are the source tree's. */
    return LP_SOURCE_CONFIG_DIR;
}

char *lp_platform_path(const char *arg, lp_err *err)
{
    char *path = NULL;
    size_t n = strlen(arg);
    int is_path = strchr(arg, '/') || (n > 5 && !strcmp(arg + n - 5, ".yaml"));
    if (is_path ? !(path = strdup(arg))
                : asprintf(&path, "%s/platforms/%s.yaml", lp_config_dir(), arg) < 0) {
        lp_err_set(err, LP_ENOMEM, "out of memory");
        return NULL;
    }
    if (access(path, R_OK) != 0) {
        lp_err_set(err, LP_ENOTFOUND, "platform '%s': no file %s", arg, path);
        free(path);
        return NULL;
    }
    return path;
}
