/* `litepred space list|sample|configs`: NAS search spaces described in YAML. */
#include "cli.h"

#include <errno.h>
#include <litepred/sampler.h>
#include <litepred/space.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

static void space_usage(FILE *f)
{
    fprintf(f,
            "usage: litepred space list [--spaces DIR]\n"
            "       litepred space sample SPACE [-n N] [--seed S] --out DIR [--spaces DIR]\n"
            "       litepred space configs SPACE --kernel K [-n N] [--seed S] [--spaces DIR]\n"
            "\n"
            "A search space is a YAML file listing a NAS space's choices; SPACE is a space\n"
            "name (found in the spaces directory) or the path of a space file.\n"
            "\n"
            "  list     one line per space file: name, summary, file\n"
            "  sample   draws N models (default 10) and writes DIR/<model>.yaml each, after\n"
            "           checking their shapes; model i depends only on (seed, i), so the same\n"
            "           SPACE, N and seed (default 0) give byte-identical files\n"
            "  configs  the distribution of kernel type K's configs over N sampled models\n"
            "           (default 100) as CSV on stdout: one row per distinct config, its dims\n"
            "           as columns, then count (occurrences) and weight (count / total),\n"
            "           most frequent first\n"
            "\n"
            "options:\n"
            "  -n N          number of models\n"
            "  --seed S      stream seed (unsigned 64-bit)\n"
            "  --out DIR     output directory (created when missing)\n"
            "  --kernel K    kernel type (`litepred plugins` lists them)\n"
            "  --spaces DIR  spaces directory; default $LITEPRED_SPACES_PATH, else\n"
            "                <prefix>/share/litepred/configs/spaces, else the source tree's\n"
            "                configs/spaces (now: %s)\n",
            lp_spaces_dir_default());
}

typedef struct space_args {
    const char *sub, *space, *out, *kernel, *dir;
    uint64_t n, seed;
} space_args;

static int parse_u64(const char *s, uint64_t *out)
{
    char *end;
    if (!s || !*s || *s == '-')
        return -1;
    errno = 0;
    unsigned long long v = strtoull(s, &end, 10);
    if (errno || *end)
        return -1;
    *out = v;
    return 0;
}

/* Options may come before or after SPACE; returns LP_EXIT_OK or a usage error. */
static int parse_args(int argc, char **argv, space_args *a)
{
    for (int i = 2; i < argc; i++) {
        const char *o = argv[i];
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;
        int takes = !strcmp(o, "-n") || !strcmp(o, "--seed") || !strcmp(o, "--out") ||
                    !strcmp(o, "--kernel") || !strcmp(o, "--spaces");
        if (takes && !v)
            return lp_cli_usage_error("space", "%s needs a value", o);
        if (!strcmp(o, "-n")) {
            if (parse_u64(v, &a->n) < 0 || a->n == 0 || a->n > 1000000)
                return lp_cli_usage_error("space", "-n must be an integer in 1..1000000, got '%s'", v);
        } else if (!strcmp(o, "--seed")) {
            if (parse_u64(v, &a->seed) < 0)
                return lp_cli_usage_error("space", "--seed must be an unsigned integer, got '%s'", v);
        } else if (!strcmp(o, "--out")) {
            a->out = v;
        } else if (!strcmp(o, "--kernel")) {
            a->kernel = v;
        } else if (!strcmp(o, "--spaces")) {
            a->dir = v;
        } else if (o[0] == '-') {
            return lp_cli_usage_error("space", "unknown option '%s'", o);
        } else if (!a->space) {
            a->space = o;
            continue;
        } else {
            return lp_cli_usage_error("space", "unexpected argument '%s'", o);
        }
        i++;
    }
    return LP_EXIT_OK;
}

static int fail_code(int rc)
{
    return rc == LP_EINVAL || rc == LP_EPARSE || rc == LP_ENOTFOUND ? LP_EXIT_USAGE : LP_EXIT_FAIL;
}

static int load_space(const space_args *a, lp_space **s)
{
    char *path = NULL;
    lp_err err = {0};
    int rc = lp_space_find(a->dir, a->space, &path, &err);
    if (rc == 0)
        rc = lp_space_load(path, s, &err);
    free(path);
    if (rc < 0) {
        fprintf(stderr, "litepred space: %s\n", err.msg);
        return fail_code(rc);
    }
    return LP_EXIT_OK;
}

static int space_list(const space_args *a)
{
    char **files = NULL;
    size_t n = 0;
    lp_err err = {0};
    int status = LP_EXIT_OK;
    if (lp_space_files(a->dir, &files, &n, &err) < 0)
        return lp_cli_fail(&err);
    for (size_t i = 0; i < n; i++) {
        lp_space *s = NULL;
        if (lp_space_load(files[i], &s, &err) < 0) {
            fprintf(stderr, "litepred space: %s\n", err.msg);
            status = LP_EXIT_FAIL;
            continue;
        }
        printf("%-18s %-70s %s\n", lp_space_name(s), lp_space_summary(s), files[i]);
        lp_space_free(s);
    }
    if (n == 0)
        fprintf(stderr, "litepred space: no *.yaml in %s\n", a->dir);
    lp_strv_free(files, n);
    return status;
}

static int make_dir(const char *dir)
{
    char *p = strdup(dir);
    if (!p)
        return -1;
    /* Create the parents too, like mkdir -p. */
    for (char *c = p + 1; *c; c++) {
        if (*c != '/')
            continue;
        *c = '\0';
        if (mkdir(p, 0777) < 0 && errno != EEXIST) {
            free(p);
            return -1;
        }
        *c = '/';
    }
    int rc = mkdir(p, 0777) < 0 && errno != EEXIST ? -1 : 0;
    free(p);
    return rc;
}

static int space_sample(lp_cli *cli, const space_args *a)
{
    if (!a->out)
        return lp_cli_usage_error("space", "sample needs --out DIR");
    lp_registry *reg = lp_cli_registry(cli);
    if (!reg)
        return LP_EXIT_FAIL;
    lp_space *s = NULL;
    int status = load_space(a, &s);
    if (status != LP_EXIT_OK)
        return status;
    if (make_dir(a->out) < 0) {
        fprintf(stderr, "litepred space: cannot create %s: %s\n", a->out, strerror(errno));
        lp_space_free(s);
        return LP_EXIT_FAIL;
    }
    lp_progress *prog = lp_progress_start("sampling models", a->n, cli->quiet);
    for (uint64_t i = 0; i < a->n && status == LP_EXIT_OK; i++) {
        lp_model *m = NULL;
        lp_err err = {0};
        char *path = NULL;
        if (lp_space_sample_checked(s, reg, a->seed, i, &m, &err) < 0 ||
            asprintf(&path, "%s/%s.yaml", a->out, m->name) < 0 ||
            lp_model_save(m, path, &err) < 0)
            status = lp_cli_fail(&err);
        free(path);
        lp_model_free(m);
        lp_progress_update(prog, i + 1);
    }
    lp_progress_end(prog);
    if (status == LP_EXIT_OK)
        printf("wrote %llu model%s of %s to %s\n", (unsigned long long)a->n, a->n == 1 ? "" : "s",
               lp_space_name(s), a->out);
    lp_space_free(s);
    return status;
}

/* ---- configs: frequency of one kernel type's configs ------------------------ */

/* The counting lives in the core (lp_prior, core/src/prior.c) so samplers see exactly
 * the distribution this prints. */
static void print_csv(const lp_kernel_ops *ops, const lp_prior *prior)
{
    for (size_t d = 0; d < ops->n_dims; d++)
        printf("%s,", ops->dims[d].name);
    printf("count,weight\n");
    for (size_t r = 0; r < prior->n; r++) {
        for (size_t d = 0; d < ops->n_dims; d++) {
            int32_t v = prior->cfgs[r].v[d];
            if (ops->dims[d].labels)
                printf("%s,", ops->dims[d].labels[v]);
            else
                printf("%d,", v);
        }
        printf("%llu,%.6f\n", (unsigned long long)prior->counts[r], prior->weights[r]);
    }
}

static int space_configs(lp_cli *cli, const space_args *a)
{
    if (!a->kernel)
        return lp_cli_usage_error("space", "configs needs --kernel K");
    lp_registry *reg = lp_cli_registry(cli);
    if (!reg)
        return LP_EXIT_FAIL;
    const lp_plugin *p = lp_registry_find(reg, LP_KIND_KERNEL, a->kernel);
    char names[1024];
    if (!p)
        return lp_cli_usage_error("space", "unknown kernel type '%s' (available: %s)", a->kernel,
                                  lp_registry_names(reg, LP_KIND_KERNEL, names, sizeof names));
    const lp_kernel_ops *ops = lp_plugin_descriptor(p)->ops;
    lp_space *s = NULL;
    int status = load_space(a, &s);
    if (status != LP_EXIT_OK)
        return status;
    lp_prior prior = {0};
    lp_err err = {0};
    /* Model by model (not lp_prior_add_space) so the progress bar moves. */
    lp_progress *prog = lp_progress_start("sampling models", a->n, cli->quiet);
    for (uint64_t i = 0; i < a->n && status == LP_EXIT_OK; i++) {
        lp_model *m = NULL;
        if (lp_space_sample_checked(s, reg, a->seed, i, &m, &err) < 0 ||
            lp_prior_add_model(&prior, m, a->kernel, &err) < 0)
            status = lp_cli_fail(&err);
        lp_model_free(m);
        lp_progress_update(prog, i + 1);
    }
    lp_progress_end(prog);
    if (status == LP_EXIT_OK && lp_prior_finish(&prior, &err) < 0)
        status = lp_cli_fail(&err);
    if (status == LP_EXIT_OK) {
        print_csv(ops, &prior);
        if (prior.total == 0)
            fprintf(stderr, "litepred space: %s has no %s kernels\n", lp_space_name(s), a->kernel);
    }
    lp_prior_free(&prior);
    lp_space_free(s);
    return status;
}

int lp_cli_space(lp_cli *cli, int argc, char **argv)
{
    if (lp_cli_wants_help(argc, argv)) {
        space_usage(stdout);
        return LP_EXIT_OK;
    }
    if (argc < 2) {
        space_usage(stderr);
        return LP_EXIT_USAGE;
    }
    space_args a = {.sub = argv[1], .dir = lp_spaces_dir_default()};
    int is_list = !strcmp(a.sub, "list"), is_sample = !strcmp(a.sub, "sample");
    if (!is_list && !is_sample && strcmp(a.sub, "configs"))
        return lp_cli_usage_error("space", "unknown subcommand '%s' (expected: list, sample, configs)",
                                  a.sub);
    a.n = is_sample ? 10 : 100;
    int rc = parse_args(argc, argv, &a);
    if (rc != LP_EXIT_OK)
        return rc;
    if (is_list)
        return a.space ? lp_cli_usage_error("space", "list takes no SPACE") : space_list(&a);
    if (!a.space)
        return lp_cli_usage_error("space", "%s needs a SPACE (a name or a file)", a.sub);
    return is_sample ? space_sample(cli, &a) : space_configs(cli, &a);
}
