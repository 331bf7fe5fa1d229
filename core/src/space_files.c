/* Space files: where configs/spaces lives, finding a space by name, and the
 * `litepred check` validator for space files. */
#include <litepred/space.h>

#include <dirent.h>
#include <libgen.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static int is_dir(const char *p)
{
    struct stat st;
    return stat(p, &st) == 0 && S_ISDIR(st.st_mode);
}

const char *lp_spaces_dir_default(void)
{
    static char dir[PATH_MAX];
    const char *env = getenv("LITEPRED_SPACES_PATH");
    if (env && env[0])
        return env;
    char exe[PATH_MAX];
    ssize_t len = readlink("/proc/self/exe", exe, sizeof exe - 1);
    if (len > 0) {
        exe[len] = '\0';
        char *prefix = dirname(dirname(exe));
        if (snprintf(dir, sizeof dir, "%s/share/litepred/configs/spaces", prefix) <
                (int)sizeof dir && is_dir(dir))
            return dir;
    }
    /* A build tree has no share dir: fall back to the source tree this file came from
     * (CMake compiles with absolute paths: <root>/core/src/space_files.c). */
    const char *src = __FILE__, *tail = strstr(src, "core/src/space_files.c");
    if (src[0] == '/' && tail &&
        snprintf(dir, sizeof dir, "%.*sconfigs/spaces", (int)(tail - src), src) < (int)sizeof dir &&
        is_dir(dir))
        return dir;
    return "configs/spaces";
}

static int ends_with(const char *s, const char *suffix)
{
    size_t a = strlen(s), b = strlen(suffix);
    return a >= b && !strcmp(s + a - b, suffix);
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

int lp_space_files(const char *dir, char ***paths, size_t *n, lp_err *err)
{
    DIR *d = opendir(dir);
    char **v = NULL;
    size_t cnt = 0;
    *paths = NULL;
    *n = 0;
    if (!d)
        return lp_err_set(err, LP_ENOTFOUND, "%s: cannot open the spaces directory (use --spaces "
                          "DIR or LITEPRED_SPACES_PATH)", dir);
    struct dirent *e;
    while ((e = readdir(d))) {
        if (e->d_name[0] == '.' || !ends_with(e->d_name, ".yaml"))
            continue;
        char **nv = realloc(v, (cnt + 1) * sizeof *nv);
        if (!nv || asprintf(&nv[cnt], "%s/%s", dir, e->d_name) < 0) {
            if (nv)
                v = nv;
            closedir(d);
            lp_strv_free(v, cnt);
            return lp_err_set(err, LP_ENOMEM, "out of memory");
        }
        v = nv;
        cnt++;
    }
    closedir(d);
    if (cnt)
        qsort(v, cnt, sizeof *v, cmp_str);
    *paths = v;
    *n = cnt;
    return 0;
}

/* The `space:` value of a file, or NULL. */
static char *space_name_of(const char *path)
{
    lp_ydoc *doc = NULL;
    lp_err err = {0};
    char *name = NULL;
    if (lp_yaml_load(path, &doc, &err) < 0)
        return NULL;
    const lp_ynode *n = lp_ymap_get(doc->root, "space");
    if (n && n->type == LP_Y_SCALAR)
        name = strdup(n->str);
    lp_ydoc_free(doc);
    return name;
}

int lp_space_find(const char *dir, const char *name, char **path, lp_err *err)
{
    *path = NULL;
    if (strchr(name, '/') || ends_with(name, ".yaml")) {
        if (access(name, R_OK) < 0)
            return lp_err_set(err, LP_ENOTFOUND, "%s: no such space file", name);
        return (*path = strdup(name)) ? 0 : lp_err_set(err, LP_ENOMEM, "out of memory");
    }
    char *direct = NULL;
    if (asprintf(&direct, "%s/%s.yaml", dir, name) < 0)
        return lp_err_set(err, LP_ENOMEM, "out of memory");
    if (access(direct, R_OK) == 0) {
        *path = direct;
        return 0;
    }
    free(direct);
    char **files = NULL;
    size_t n = 0;
    int rc = lp_space_files(dir, &files, &n, err);
    if (rc < 0)
        return rc;
    char names[1024];
    size_t len = 0;
    names[0] = '\0';
    for (size_t i = 0; i < n && !*path; i++) {
        char *s = space_name_of(files[i]);
        if (s && !strcmp(s, name))
            *path = strdup(files[i]);
        else if (s && len < sizeof names)
            len += (size_t)snprintf(names + len, sizeof names - len, "%s%s", len ? ", " : "", s);
        free(s);
    }
    lp_strv_free(files, n);
    if (!*path)
        return lp_err_set(err, LP_ENOTFOUND, "no space named '%s' in %s (available: %s)", name,
                          dir, len ? names : "none");
    return 0;
}

/* Models drawn by `litepred check` to catch kernel configs a space can produce but its
 * kernel types reject (a width past a dim's range, a stride a pool does not take). */
#define CHECK_SAMPLES 32

int lp_space_check_doc(const lp_registry *reg, const lp_ydoc *doc, lp_diag *diag)
{
    lp_space *s = NULL;
    int rc = lp_space_parse(doc, &s, diag);
    if (rc < 0)
        return rc;
    for (uint64_t i = 0; i < CHECK_SAMPLES; i++) {
        lp_model *m = NULL;
        lp_err err = {0};
        if (lp_space_sample_checked(s, reg, 0, i, &m, &err) < 0) {
            lp_diag_add(diag, doc->path, doc->root, "sampled model %llu does not build: %s",
                        (unsigned long long)i, err.msg);
            rc = LP_EINVAL;
            break;
        }
        lp_model_free(m);
    }
    lp_space_free(s);
    return rc;
}
