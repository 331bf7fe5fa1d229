/* `litepred report DIR... [-o OUT]`: one Markdown page with tables and gnuplot-drawn PNG
 * plots over the CSV files that adapt and evaluate pipelines write (adapt.csv, kernels.csv,
 * picks.csv, models.csv). Reading, aggregation, plotting and writing are separate passes so
 * that nothing is written unless every input parsed. */
#include "cli.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <math.h>
#include <spawn.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

extern char **environ;

static const char report_usage[] =
    "usage: litepred report DIR [DIR...] [-o OUT]\n"
    "\n"
    "Turns pipeline results into one Markdown page, OUT/report.md, with tables and PNG\n"
    "plots in OUT/plots/ drawn by gnuplot (Debian package gnuplot-nox). gnuplot is\n"
    "required: without it the verb fails rather than write a report without plots.\n"
    "\n"
    "Inputs, found by scanning every DIR recursively (hidden directories skipped):\n"
    "  adapt.csv    adapt: accuracy per target, budget and space (and space \"all\")\n"
    "  kernels.csv  adapt: kernel-level accuracy per target and budget\n"
    "  picks.csv    adapt: similarity score of every pool candidate, and the pick\n"
    "  models.csv   evaluate (adapt: per target and budget): measured and predicted ms\n"
    "A series is one directory's adapt.csv rows with the same similarity, sampler,\n"
    "predictor and finetune; it is labelled \"similarity/sampler/predictor fine-tune\"\n"
    "(or \"from scratch\"), plus [its directory] where two series would share a label.\n"
    "\n"
    "Output (OUT defaults to the first DIR; paths in report.md are relative to OUT):\n"
    "  report.md                        series; accuracy per budget averaged over\n"
    "                                   targets (space \"all\" rows); per-target rows;\n"
    "                                   picks; kernel-level accuracy; models.csv accuracy\n"
    "  plots/acc-vs-budget.png          +-10% accuracy vs budget (log x), per series\n"
    "  plots/acc5-vs-budget.png         the same for +-5%\n"
    "  plots/profiling-vs-accuracy.png  +-10% accuracy vs profiling seconds (log x):\n"
    "                                   the profiling-cost ratio at equal accuracy\n"
    "  plots/models-PATH-SPACE.png      predicted vs measured, one per models.csv and\n"
    "                                   space (log-log, y = x and +-10% lines)\n"
    "Means leave out nan values (targets with no evaluated models). An existing\n"
    "OUT/report.md that `litepred report` did not write (evaluate writes one) is not\n"
    "overwritten: pick another OUT.\n"
    "\n"
    "options:\n"
    "  -o, --output OUT  write report.md and plots/ under OUT (created if missing)\n"
    "  --no-model-plots  no models-*.png (a leave-one-out report has one per target,\n"
    "                    budget and space: 10-20 MB); their tables stay\n"
    "\n"
    "Exit status: 0 ok; 2 usage error or a malformed CSV (FILE:LINE and what was\n"
    "expected); 1 unreadable input, nothing found, or gnuplot missing or failing.\n";

/* First line of every report.md this verb writes: how it recognises its own output. */
static const char report_marker[] = "<!-- written by `litepred report`; rerun it rather than edit -->";

enum { K_ADAPT, K_KERNELS, K_PICKS, K_MODELS, K_COUNT };
static const char *const kind_file[K_COUNT] = {"adapt.csv", "kernels.csv", "picks.csv", "models.csv"};
static const char *const kind_header[K_COUNT] = {
    "target,budget,finetune,similarity,sampler,predictor,target_configs,profiling_s,space,models,"
    "rmse_ms,rmspe,acc5,acc10",
    "target,budget,kernel_type,source,configs,rmspe,acc5,acc10",
    "target,kernel_type,candidate,similarity,score,picked",
    "space,model,measured_ms,predicted_ms,rel_error",
};

typedef struct rp_file {
    int kind;
    char *path; /* canonical */
    char *dir;  /* canonical directory holding it */
} rp_file;

typedef struct rp_series {
    const char *dir, *path; /* directory and adapt.csv holding it */
    const char *sim, *sampler, *pred;
    int finetune;
    char *label;
} rp_series;

typedef struct rp_adapt {
    size_t series;
    long line;
    const char *target, *space;
    long long budget, configs, models;
    double prof_s, rmse, rmspe, acc5, acc10;
} rp_adapt;

typedef struct rp_kernel {
    size_t file;
    const char *target, *ktype, *source;
    long long budget, configs;
    double rmspe, acc5, acc10;
} rp_kernel;

typedef struct rp_pick {
    size_t file;
    const char *target, *ktype, *cand, *sim;
    double score;
    long long picked;
} rp_pick;

typedef struct rp_mrow {
    size_t file;
    const char *space;
    double meas, pred;
} rp_mrow;

/* One plot: its PNG file name under OUT/plots. */
typedef struct rp_plot {
    char *name;
} rp_plot;

/* A scanned directory's identity. */
typedef struct rp_seen {
    dev_t dev;
    ino_t ino;
} rp_seen;

/* Growable arrays: pointer, count, capacity. */
#define RP_VEC(T, name) \
    T *name;            \
    size_t n_##name, cap_##name

typedef struct rp_ctx {
    int quiet;
    int no_model_plots; /* --no-model-plots: tables only for models.csv */
    char **strs; /* every string the rows point into, freed at the end */
    size_t n_strs, cap_strs;
    char *base;  /* common directory of the DIR arguments: display paths are relative to it */
    RP_VEC(rp_file, files);
    RP_VEC(rp_series, series);
    RP_VEC(rp_adapt, adapt);
    RP_VEC(rp_kernel, kern);
    RP_VEC(rp_pick, picks);
    RP_VEC(rp_mrow, mrows);
    RP_VEC(rp_plot, plots);
    rp_seen *seen; /* directories already scanned (symlink loops) */
    size_t n_seen, cap_seen;
} rp_ctx;

/* Makes room for one more element; returns the new element (zeroed) or NULL. */
static void *grow(void **arr, size_t *n, size_t *cap, size_t size)
{
    if (*n == *cap) {
        size_t nc = *cap ? *cap * 2 : 16;
        void *p = realloc(*arr, nc * size);
        if (!p)
            return NULL;
        *arr = p;
        *cap = nc;
    }
    void *e = (char *)*arr + (*n)++ * size;
    memset(e, 0, size);
    return e;
}
#define RP_PUSH(ctx, name) \
    grow((void **)&(ctx)->name, &(ctx)->n_##name, &(ctx)->cap_##name, sizeof *(ctx)->name)

static int oom(lp_err *err) { return lp_err_set(err, LP_ENOMEM, "out of memory"); }

/* Keeps s (malloc'd, may be NULL) until the context is freed; returns it. */
static char *keep(rp_ctx *c, char *s)
{
    if (!s)
        return NULL;
    char **slot = RP_PUSH(c, strs);
    if (!slot) {
        free(s);
        return NULL;
    }
    *slot = s;
    return s;
}

static char *keep_dup(rp_ctx *c, const char *s) { return keep(c, strdup(s)); }

static char *keep_fmt(rp_ctx *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static char *keep_fmt(rp_ctx *c, const char *fmt, ...)
{
    va_list ap;
    char *s = NULL;
    va_start(ap, fmt);
    int n = vasprintf(&s, fmt, ap);
    va_end(ap);
    return n < 0 ? NULL : keep(c, s);
}

static void ctx_free(rp_ctx *c)
{
    for (size_t i = 0; i < c->n_strs; i++)
        free(c->strs[i]);
    for (size_t i = 0; i < c->n_files; i++) {
        free(c->files[i].path);
        free(c->files[i].dir);
    }
    for (size_t i = 0; i < c->n_plots; i++)
        free(c->plots[i].name);
    free(c->strs);
    free(c->base);
    free(c->files);
    free(c->series);
    free(c->adapt);
    free(c->kern);
    free(c->picks);
    free(c->mrows);
    free(c->plots);
    free(c->seen);
}

/* ---- paths --------------------------------------------------------------------------- */

/* Length of the longest common whole-component prefix of two canonical paths. */
static size_t common_prefix(const char *a, const char *b)
{
    size_t i = 0, last = 0;
    for (;; i++) {
        int ea = a[i] == '/' || !a[i], eb = b[i] == '/' || !b[i];
        if (ea && eb)
            last = i;
        if (!a[i] || !b[i] || a[i] != b[i])
            break;
    }
    return last;
}

/* How a directory is named in the report: relative to the common directory of the DIR
 * arguments, or that directory's own name when it is the directory itself. */
static const char *disp(const rp_ctx *c, const char *dir)
{
    size_t n = strlen(c->base);
    if (!strcmp(dir, c->base)) {
        const char *s = strrchr(c->base, '/');
        return s && s[1] ? s + 1 : c->base;
    }
    if (n == 1 && dir[0] == '/')
        return dir + 1;
    if (!strncmp(dir, c->base, n) && dir[n] == '/')
        return dir + n + 1;
    return dir;
}

/* Path of `to` relative to directory `from` (both canonical), malloc'd. */
static char *relpath(const char *from, const char *to)
{
    size_t l = common_prefix(from, to);
    const char *rest_from = from + l, *rest_to = to + l;
    size_t ups = 0;
    for (const char *s = rest_from; *s; s++)
        if (*s == '/' && s[1])
            ups++;
    if (*rest_to == '/')
        rest_to++;
    char *out = malloc(ups * 3 + strlen(rest_to) + 2);
    if (!out)
        return NULL;
    out[0] = '\0';
    for (size_t i = 0; i < ups; i++)
        strcat(out, "../");
    if (*rest_to)
        strcat(out, rest_to);
    else if (ups)
        out[strlen(out) - 1] = '\0'; /* "../.." rather than "../../" */
    else
        strcat(out, ".");
    return out;
}

/* mkdir -p. */
static int make_dirs(const char *path, lp_err *err)
{
    char buf[PATH_MAX];
    if (snprintf(buf, sizeof buf, "%s", path) >= (int)sizeof buf)
        return lp_err_set(err, LP_EINVAL, "path too long: %s", path);
    for (char *s = buf + 1;; s++) {
        char ch = *s;
        if (ch == '/' || ch == '\0') {
            *s = '\0';
            if (mkdir(buf, 0777) != 0 && errno != EEXIST)
                return lp_err_set(err, LP_EIO, "cannot create directory %s: %s", buf, strerror(errno));
            *s = ch;
        }
        if (!ch)
            return 0;
    }
}

/* ---- scanning ------------------------------------------------------------------------ */

/* Version order (b5 before b10): budget directories then read in budget order. */
static int cmp_str(const void *a, const void *b)
{
    return strverscmp(*(char *const *)a, *(char *const *)b);
}

static int cmp_file(const void *a, const void *b)
{
    return strverscmp(((const rp_file *)a)->path, ((const rp_file *)b)->path);
}

static int add_file(rp_ctx *c, int kind, const char *path, lp_err *err)
{
    char *real = realpath(path, NULL);
    if (!real)
        return lp_err_set(err, LP_EIO, "%s: cannot resolve: %s", path, strerror(errno));
    char *slash = strrchr(real, '/');
    char *dir = slash == real ? strdup("/") : strndup(real, (size_t)(slash - real));
    rp_file *f = dir ? RP_PUSH(c, files) : NULL;
    if (!f) {
        free(real);
        free(dir);
        return oom(err);
    }
    f->kind = kind;
    f->path = real;
    f->dir = dir;
    return 0;
}

/* Collects the input CSV files under dir, in name order so the report is reproducible. */
static int scan(rp_ctx *c, const char *dir, lp_err *err)
{
    struct stat st;
    if (stat(dir, &st) != 0)
        return lp_err_set(err, LP_EIO, "%s: %s", dir, strerror(errno));
    for (size_t i = 0; i < c->n_seen; i++)
        if (c->seen[i].dev == st.st_dev && c->seen[i].ino == st.st_ino)
            return 0; /* reached again through a symlink */
    rp_seen *s = grow((void **)&c->seen, &c->n_seen, &c->cap_seen, sizeof *c->seen);
    if (!s)
        return oom(err);
    s->dev = st.st_dev;
    s->ino = st.st_ino;
    DIR *d = opendir(dir);
    if (!d)
        return lp_err_set(err, LP_EIO, "cannot read directory %s: %s", dir, strerror(errno));
    char **names = NULL;
    size_t n = 0, cap = 0;
    int rc = 0;
    struct dirent *e;
    while (rc == 0 && (e = readdir(d))) {
        if (e->d_name[0] == '.') /* ., .. and hidden directories (.git) */
            continue;
        char **slot = grow((void **)&names, &n, &cap, sizeof *names);
        if (!slot || !(*slot = strdup(e->d_name))) {
            if (slot)
                n--;
            rc = oom(err);
        }
    }
    closedir(d);
    if (n)
        qsort(names, n, sizeof *names, cmp_str);
    for (size_t i = 0; rc == 0 && i < n; i++) {
        char *path = NULL;
        if (asprintf(&path, "%s%s%s", dir, strcmp(dir, "/") ? "/" : "", names[i]) < 0) {
            rc = oom(err);
            break;
        }
        if (stat(path, &st) != 0) {
            /* a dangling symlink is not an input; anything else unreadable is an error */
            if (errno != ENOENT)
                rc = lp_err_set(err, LP_EIO, "%s: %s", path, strerror(errno));
        } else if (S_ISDIR(st.st_mode)) {
            rc = scan(c, path, err);
        } else if (S_ISREG(st.st_mode)) {
            for (int k = 0; k < K_COUNT; k++)
                if (!strcmp(names[i], kind_file[k]))
                    rc = add_file(c, k, path, err);
        }
        free(path);
    }
    for (size_t i = 0; i < n; i++)
        free(names[i]);
    free(names);
    return rc;
}

/* ---- CSV ----------------------------------------------------------------------------- */

enum { CSV_MAX_FIELDS = 16 };

typedef struct rp_csv {
    const char *path;
    const char *header;
    FILE *f;
    char *line;
    size_t cap;
    long lineno;
    char *fld[CSV_MAX_FIELDS];
    int n;
} rp_csv;

static void strip_eol(char *s)
{
    size_t n = strlen(s);
    while (n && (s[n - 1] == '\n' || s[n - 1] == '\r'))
        s[--n] = '\0';
}

static int csv_open(rp_csv *v, const char *path, const char *header, lp_err *err)
{
    memset(v, 0, sizeof *v);
    v->path = path;
    v->header = header;
    if (!(v->f = fopen(path, "r")))
        return lp_err_set(err, LP_EIO, "%s: cannot open: %s", path, strerror(errno));
    errno = 0;
    if (getline(&v->line, &v->cap, v->f) < 0)
        return errno ? lp_err_set(err, LP_EIO, "%s: cannot read: %s", path, strerror(errno))
                     : lp_err_set(err, LP_EPARSE, "%s:1: empty file, expected the header line '%s'",
                                  path, header);
    v->lineno = 1;
    strip_eol(v->line);
    if (strcmp(v->line, header))
        return lp_err_set(err, LP_EPARSE, "%s:1: expected the header line '%s', got '%.200s'", path,
                          header, v->line);
    return 0;
}

static void csv_close(rp_csv *v)
{
    if (v->f)
        fclose(v->f);
    free(v->line);
}

/* Reads the next non-empty line into fields; returns 1, 0 at the end, or an error. */
static int csv_next(rp_csv *v, lp_err *err)
{
    int want = 1;
    for (const char *s = v->header; *s; s++)
        want += *s == ',';
    for (;;) {
        errno = 0;
        if (getline(&v->line, &v->cap, v->f) < 0) {
            if (ferror(v->f))
                return lp_err_set(err, LP_EIO, "%s:%ld: cannot read: %s", v->path, v->lineno + 1,
                                  strerror(errno));
            return 0;
        }
        v->lineno++;
        strip_eol(v->line);
        if (v->line[0])
            break;
    }
    v->n = 0;
    for (char *s = v->line;;) {
        char *comma = strchr(s, ',');
        if (v->n < CSV_MAX_FIELDS)
            v->fld[v->n] = s;
        v->n++;
        if (!comma)
            break;
        *comma = '\0';
        s = comma + 1;
    }
    if (v->n != want)
        return lp_err_set(err, LP_EPARSE, "%s:%ld: expected %d comma-separated fields (%s), got %d",
                          v->path, v->lineno, want, v->header, v->n);
    return 1;
}

/* Name of field i, from the header, for messages. */
static const char *csv_name(const rp_csv *v, int i, char *buf, size_t size)
{
    const char *s = v->header;
    for (int k = 0; k < i && s; k++)
        if ((s = strchr(s, ',')))
            s++;
    size_t n = s ? strcspn(s, ",") : 0;
    snprintf(buf, size, "%.*s", (int)n, s ? s : "");
    return buf;
}

static int csv_int(const rp_csv *v, int i, long long *out, lp_err *err)
{
    char *end, name[64];
    errno = 0;
    *out = strtoll(v->fld[i], &end, 10);
    if (!v->fld[i][0] || *end || errno)
        return lp_err_set(err, LP_EPARSE, "%s:%ld: field '%s' must be an integer, got '%.100s'", v->path,
                          v->lineno, csv_name(v, i, name, sizeof name), v->fld[i]);
    return 0;
}

/* Numbers may be nan (no models evaluated): the pipelines print it as such. */
static int csv_num(const rp_csv *v, int i, double *out, lp_err *err)
{
    char *end, name[64];
    *out = strtod(v->fld[i], &end);
    if (!v->fld[i][0] || *end)
        return lp_err_set(err, LP_EPARSE, "%s:%ld: field '%s' must be a number (or nan), got '%.100s'",
                          v->path, v->lineno, csv_name(v, i, name, sizeof name), v->fld[i]);
    return 0;
}

static const char *csv_str(rp_ctx *c, const rp_csv *v, int i, lp_err *err)
{
    char name[64];
    if (!v->fld[i][0]) {
        lp_err_set(err, LP_EPARSE, "%s:%ld: field '%s' is empty", v->path, v->lineno,
                   csv_name(v, i, name, sizeof name));
        return NULL;
    }
    const char *s = keep_dup(c, v->fld[i]);
    if (!s)
        oom(err);
    return s;
}

/* ---- reading ------------------------------------------------------------------------- */

static size_t series_of(rp_ctx *c, const rp_file *f, const char *sim, const char *sampler,
                        const char *pred, int finetune, lp_err *err)
{
    for (size_t i = 0; i < c->n_series; i++) {
        rp_series *s = &c->series[i];
        if (!strcmp(s->dir, f->dir) && !strcmp(s->sim, sim) && !strcmp(s->sampler, sampler) &&
            !strcmp(s->pred, pred) && s->finetune == finetune)
            return i;
    }
    rp_series *s = RP_PUSH(c, series);
    if (!s) {
        oom(err);
        return (size_t)-1;
    }
    *s = (rp_series){.dir = f->dir, .path = f->path, .sim = sim, .sampler = sampler, .pred = pred,
                     .finetune = finetune};
    return c->n_series - 1;
}

static int read_adapt(rp_ctx *c, const rp_file *f, rp_csv *v, lp_err *err)
{
    int rc;
    while ((rc = csv_next(v, err)) == 1) {
        long long ft;
        rp_adapt r = {.line = v->lineno};
        const char *sim, *sampler, *pred;
        if (!(r.target = csv_str(c, v, 0, err)) || csv_int(v, 1, &r.budget, err) < 0 ||
            csv_int(v, 2, &ft, err) < 0 || !(sim = csv_str(c, v, 3, err)) ||
            !(sampler = csv_str(c, v, 4, err)) || !(pred = csv_str(c, v, 5, err)) ||
            csv_int(v, 6, &r.configs, err) < 0 || csv_num(v, 7, &r.prof_s, err) < 0 ||
            !(r.space = csv_str(c, v, 8, err)) || csv_int(v, 9, &r.models, err) < 0 ||
            csv_num(v, 10, &r.rmse, err) < 0 || csv_num(v, 11, &r.rmspe, err) < 0 ||
            csv_num(v, 12, &r.acc5, err) < 0 || csv_num(v, 13, &r.acc10, err) < 0)
            return err->code;
        if (ft != 0 && ft != 1)
            return lp_err_set(err, LP_EPARSE, "%s:%ld: field 'finetune' must be 0 or 1, got %lld",
                              v->path, v->lineno, ft);
        if ((r.series = series_of(c, f, sim, sampler, pred, (int)ft, err)) == (size_t)-1)
            return err->code;
        /* a repeated row would be averaged twice: refuse rather than guess which is right */
        for (size_t i = 0; i < c->n_adapt; i++) {
            const rp_adapt *o = &c->adapt[i];
            if (o->series == r.series && o->budget == r.budget && !strcmp(o->target, r.target) &&
                !strcmp(o->space, r.space))
                return lp_err_set(err, LP_EPARSE,
                                  "%s:%ld: duplicate row for target %s, budget %lld, space %s "
                                  "(first at line %ld)",
                                  v->path, v->lineno, r.target, r.budget, r.space, o->line);
        }
        rp_adapt *slot = RP_PUSH(c, adapt);
        if (!slot)
            return oom(err);
        *slot = r;
    }
    return rc;
}

static int read_kernels(rp_ctx *c, size_t fi, rp_csv *v, lp_err *err)
{
    int rc;
    while ((rc = csv_next(v, err)) == 1) {
        rp_kernel r = {.file = fi};
        if (!(r.target = csv_str(c, v, 0, err)) || csv_int(v, 1, &r.budget, err) < 0 ||
            !(r.ktype = csv_str(c, v, 2, err)) || !(r.source = csv_str(c, v, 3, err)) ||
            csv_int(v, 4, &r.configs, err) < 0 || csv_num(v, 5, &r.rmspe, err) < 0 ||
            csv_num(v, 6, &r.acc5, err) < 0 || csv_num(v, 7, &r.acc10, err) < 0)
            return err->code;
        rp_kernel *slot = RP_PUSH(c, kern);
        if (!slot)
            return oom(err);
        *slot = r;
    }
    return rc;
}

static int read_picks(rp_ctx *c, size_t fi, rp_csv *v, lp_err *err)
{
    int rc;
    while ((rc = csv_next(v, err)) == 1) {
        rp_pick r = {.file = fi};
        if (!(r.target = csv_str(c, v, 0, err)) || !(r.ktype = csv_str(c, v, 1, err)) ||
            !(r.cand = csv_str(c, v, 2, err)) || !(r.sim = csv_str(c, v, 3, err)) ||
            csv_num(v, 4, &r.score, err) < 0 || csv_int(v, 5, &r.picked, err) < 0)
            return err->code;
        if (r.picked != 0 && r.picked != 1)
            return lp_err_set(err, LP_EPARSE, "%s:%ld: field 'picked' must be 0 or 1, got %lld",
                              v->path, v->lineno, r.picked);
        rp_pick *slot = RP_PUSH(c, picks);
        if (!slot)
            return oom(err);
        *slot = r;
    }
    return rc;
}

static int read_models(rp_ctx *c, size_t fi, rp_csv *v, lp_err *err)
{
    int rc;
    while ((rc = csv_next(v, err)) == 1) {
        rp_mrow r = {.file = fi};
        double rel;
        if (!(r.space = csv_str(c, v, 0, err)) || !csv_str(c, v, 1, err) ||
            csv_num(v, 2, &r.meas, err) < 0 || csv_num(v, 3, &r.pred, err) < 0 ||
            csv_num(v, 4, &rel, err) < 0)
            return err->code;
        rp_mrow *slot = RP_PUSH(c, mrows);
        if (!slot)
            return oom(err);
        *slot = r;
    }
    return rc;
}

static int read_all(rp_ctx *c, lp_err *err)
{
    for (size_t i = 0; i < c->n_files; i++) {
        rp_file *f = &c->files[i];
        rp_csv v;
        int rc = csv_open(&v, f->path, kind_header[f->kind], err);
        if (rc == 0) {
            switch (f->kind) {
            case K_ADAPT: rc = read_adapt(c, f, &v, err); break;
            case K_KERNELS: rc = read_kernels(c, i, &v, err); break;
            case K_PICKS: rc = read_picks(c, i, &v, err); break;
            default: rc = read_models(c, i, &v, err); break;
            }
        }
        csv_close(&v);
        if (rc < 0)
            return rc;
    }
    return 0;
}

/* Labels: "sim/sampler/predictor fine-tune", with the directory where two would collide. */
static int label_series(rp_ctx *c, lp_err *err)
{
    for (size_t i = 0; i < c->n_series; i++) {
        rp_series *s = &c->series[i];
        if (!(s->label = keep_fmt(c, "%s/%s/%s %s", s->sim, s->sampler, s->pred,
                                  s->finetune ? "fine-tune" : "from scratch")))
            return oom(err);
    }
    for (size_t i = 0; i < c->n_series; i++) {
        int clash = 0;
        for (size_t j = 0; j < c->n_series && !clash; j++)
            clash = j != i && !strcmp(c->series[j].sim, c->series[i].sim) &&
                    !strcmp(c->series[j].sampler, c->series[i].sampler) &&
                    !strcmp(c->series[j].pred, c->series[i].pred) &&
                    c->series[j].finetune == c->series[i].finetune;
        if (clash && !(c->series[i].label = keep_fmt(c, "%s [%s]", c->series[i].label,
                                                     disp(c, c->series[i].dir))))
            return oom(err);
    }
    return 0;
}

/* ---- aggregation --------------------------------------------------------------------- */

/* Mean over finite values: nan marks a target with no evaluated models. */
typedef struct rp_mean {
    double sum;
    size_t n;
} rp_mean;

static void mean_add(rp_mean *m, double v)
{
    if (isfinite(v)) {
        m->sum += v;
        m->n++;
    }
}

static double mean_get(const rp_mean *m) { return m->n ? m->sum / (double)m->n : NAN; }

/* One series at one budget: the space "all" rows averaged over targets. */
typedef struct rp_point {
    long long budget;
    size_t targets;
    double acc10, acc5, rmspe, configs, prof_s;
} rp_point;

static int cmp_ll(const void *a, const void *b)
{
    long long x = *(const long long *)a, y = *(const long long *)b;
    return (x > y) - (x < y);
}

/* The series' points in ascending budget order (malloc'd, *n of them). */
static rp_point *series_points(const rp_ctx *c, size_t si, size_t *n)
{
    long long *b = malloc((c->n_adapt + 1) * sizeof *b);
    size_t nb = 0;
    if (!b)
        return NULL;
    for (size_t i = 0; i < c->n_adapt; i++)
        if (c->adapt[i].series == si && !strcmp(c->adapt[i].space, "all")) {
            size_t k = 0;
            while (k < nb && b[k] != c->adapt[i].budget)
                k++;
            if (k == nb)
                b[nb++] = c->adapt[i].budget;
        }
    qsort(b, nb, sizeof *b, cmp_ll);
    rp_point *p = calloc(nb + 1, sizeof *p);
    for (size_t k = 0; p && k < nb; k++) {
        rp_mean a10 = {0}, a5 = {0}, e = {0}, cf = {0}, pr = {0};
        p[k].budget = b[k];
        for (size_t i = 0; i < c->n_adapt; i++) {
            const rp_adapt *r = &c->adapt[i];
            if (r->series != si || r->budget != b[k] || strcmp(r->space, "all"))
                continue;
            p[k].targets++;
            mean_add(&a10, r->acc10);
            mean_add(&a5, r->acc5);
            mean_add(&e, r->rmspe);
            mean_add(&cf, (double)r->configs);
            mean_add(&pr, r->prof_s);
        }
        p[k].acc10 = mean_get(&a10);
        p[k].acc5 = mean_get(&a5);
        p[k].rmspe = mean_get(&e);
        p[k].configs = mean_get(&cf);
        p[k].prof_s = mean_get(&pr);
    }
    free(b);
    *n = nb;
    return p;
}

/* Accuracy of one models.csv over one space (NULL: every row). */
typedef struct rp_macc {
    size_t n, within10, within5, plotted;
    double spe;
    double lo, hi; /* positive latency range, for the plot's axes */
} rp_macc;

static rp_macc models_acc(const rp_ctx *c, size_t fi, const char *space)
{
    rp_macc a = {.lo = INFINITY, .hi = 0};
    for (size_t i = 0; i < c->n_mrows; i++) {
        const rp_mrow *r = &c->mrows[i];
        if (r->file != fi || (space && strcmp(r->space, space)))
            continue;
        /* the same definition as the pipelines' accuracy: |pred - meas| / meas <= 10% */
        double rel = (r->pred - r->meas) / r->meas;
        a.n++;
        a.spe += rel * rel;
        a.within10 += fabs(rel) <= 0.10;
        a.within5 += fabs(rel) <= 0.05;
        if (r->meas > 0 && r->pred > 0 && isfinite(r->meas) && isfinite(r->pred)) {
            a.plotted++;
            a.lo = fmin(a.lo, fmin(r->meas, r->pred));
            a.hi = fmax(a.hi, fmax(r->meas, r->pred));
        }
    }
    return a;
}

/* Distinct spaces of one models.csv in first-seen order (malloc'd array of borrowed names). */
static const char **models_spaces(const rp_ctx *c, size_t fi, size_t *n)
{
    const char **sp = malloc((c->n_mrows + 1) * sizeof *sp);
    *n = 0;
    for (size_t i = 0; sp && i < c->n_mrows; i++) {
        if (c->mrows[i].file != fi)
            continue;
        size_t k = 0;
        while (k < *n && strcmp(sp[k], c->mrows[i].space))
            k++;
        if (k == *n)
            sp[(*n)++] = c->mrows[i].space;
    }
    return sp;
}

/* ---- gnuplot ------------------------------------------------------------------------- */

/* gnuplot from PATH; NULL (with the package named in err) when it is not installed. */
static char *find_gnuplot(lp_err *err)
{
    const char *path = getenv("PATH");
    if (!path || !*path)
        path = "/usr/local/bin:/usr/bin:/bin";
    for (const char *s = path; *s;) {
        size_t n = strcspn(s, ":");
        char *cand = NULL;
        if (asprintf(&cand, "%.*s/gnuplot", (int)n, n ? s : ".") < 0) {
            oom(err);
            return NULL;
        }
        struct stat st;
        if (stat(cand, &st) == 0 && S_ISREG(st.st_mode) && access(cand, X_OK) == 0)
            return cand;
        free(cand);
        s += n;
        if (*s == ':')
            s++;
    }
    lp_err_set(err, LP_ENOTFOUND,
               "gnuplot not found in PATH (%s): the report's plots need it; install the Debian "
               "package gnuplot-nox (apt-get install gnuplot-nox; scripts/deps.sh installs it)",
               path);
    return NULL;
}

/* Writes s as a gnuplot single-quoted string (where only ' needs escaping, as ''). */
static void gp_str(FILE *f, const char *s)
{
    fputc('\'', f);
    for (; *s; s++) {
        if (*s == '\'')
            fputc('\'', f);
        fputc(*s, f);
    }
    fputc('\'', f);
}

/* PNG file name part: letters, digits, '.', '-' kept; anything else becomes '_'. */
static void sanitize(char *s)
{
    for (; *s; s++)
        if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') || (*s >= '0' && *s <= '9') ||
              *s == '.' || *s == '-'))
            *s = '_';
}

/* Registers a plot named name (made unique); returns its index or -1. */
static long add_plot(rp_ctx *c, const char *name, lp_err *err)
{
    char *n = strdup(name);
    for (int k = 2; n; k++) {
        size_t i = 0;
        while (i < c->n_plots && strcmp(c->plots[i].name, n))
            i++;
        if (i == c->n_plots)
            break;
        free(n);
        /* two directories or spaces that sanitise alike: keep both, numbered */
        size_t len = strlen(name) - 4; /* ".png" */
        if (asprintf(&n, "%.*s-%d.png", (int)len, name, k) < 0)
            n = NULL;
    }
    rp_plot *p = n ? RP_PUSH(c, plots) : NULL;
    if (!p) {
        free(n);
        oom(err);
        return -1;
    }
    p->name = n;
    return (long)(c->n_plots - 1);
}

/* Log-axis tics at 1-2-5 (or 1..9) x 10^k within [lo, hi]: over less than a few decades
 * gnuplot labels only the powers of ten, which may leave an axis with one label. */
static void gp_log_tics(FILE *s, const char *axis, double lo, double hi)
{
    static const double fine[] = {1, 2, 3, 4, 5, 6, 7, 8, 9}, coarse[] = {1, 2, 5};
    fprintf(s, "set format %s '%%g'\n", axis);
    for (int pass = 0; pass < 2; pass++) {
        const double *m = pass ? coarse : fine;
        size_t nm = pass ? 3 : 9, n = 0;
        for (double d = pow(10, floor(log10(lo))); d <= hi; d *= 10)
            for (size_t k = 0; k < nm; k++)
                n += m[k] * d >= lo && m[k] * d <= hi;
        if (n > 12) /* too dense: try coarser, or keep gnuplot's powers of ten */
            continue;
        const char *sep = "";
        fprintf(s, "set %stics (", axis);
        for (double d = pow(10, floor(log10(lo))); d <= hi; d *= 10)
            for (size_t k = 0; k < nm; k++)
                if (m[k] * d >= lo && m[k] * d <= hi) {
                    fprintf(s, "%s%.6g", sep, m[k] * d);
                    sep = ", ";
                }
        fprintf(s, ")\n");
        return;
    }
}

typedef struct rp_gp {
    FILE *script;
    const char *tmp;     /* temp directory for the script and data files */
    const char *plotdir; /* OUT/plots, canonical */
    int n_data;
} rp_gp;

/* A fresh data file in the temp directory; its path in *path (malloc'd). */
static FILE *gp_data(rp_gp *g, char **path, lp_err *err)
{
    if (asprintf(path, "%s/d%d.dat", g->tmp, g->n_data++) < 0) {
        *path = NULL;
        oom(err);
        return NULL;
    }
    FILE *f = fopen(*path, "w");
    if (!f) {
        lp_err_set(err, LP_EIO, "cannot write %s: %s", *path, strerror(errno));
        free(*path);
        *path = NULL;
    }
    return f;
}

static void gp_begin(rp_gp *g, const rp_ctx *c, long plot, const char *title)
{
    FILE *s = g->script;
    fprintf(s, "\nreset\nset output ");
    char *out = NULL;
    if (asprintf(&out, "%s/%s", g->plotdir, c->plots[plot].name) >= 0)
        gp_str(s, out);
    free(out);
    fprintf(s, "\nset title ");
    gp_str(s, title);
    fprintf(s, "\nset grid\n");
}

/* Tics at the budgets themselves when there are few; returns 0 when there are too many. */
static int budget_tics(const rp_ctx *c, FILE *s)
{
    long long b[13];
    size_t n = 0;
    for (size_t i = 0; i < c->n_adapt; i++) {
        size_t k = 0;
        while (k < n && b[k] != c->adapt[i].budget)
            k++;
        if (k < n || c->adapt[i].budget <= 0)
            continue;
        if (n == 12)
            return 0;
        b[n++] = c->adapt[i].budget;
    }
    qsort(b, n, sizeof *b, cmp_ll);
    fprintf(s, "set format x '%%g'\nset xtics (");
    for (size_t k = 0; k < n; k++)
        fprintf(s, "%s%lld", k ? ", " : "", b[k]);
    fprintf(s, ")\n");
    return 1;
}

/* Which series metric a line plot shows. */
enum { M_ACC10, M_ACC5, M_PROF };

/* Accuracy (y) against budget or profiling seconds (x, log), one line per series. Returns
 * the plot index, -1 on error, or -2 when no series has a finite point (nothing drawn). */
static long plot_lines(rp_ctx *c, rp_gp *g, const char *name, int metric, lp_err *err)
{
    char **files = calloc(c->n_series + 1, sizeof *files);
    double lo = INFINITY, hi = 0;
    long idx = -2;
    if (!files) {
        oom(err);
        return -1;
    }
    for (size_t si = 0; si < c->n_series; si++) {
        size_t np = 0;
        rp_point *p = series_points(c, si, &np);
        if (!p) {
            idx = -1;
            oom(err);
            break;
        }
        FILE *f = NULL;
        for (size_t k = 0; k < np; k++) {
            double x = metric == M_PROF ? p[k].prof_s : (double)p[k].budget;
            double y = metric == M_ACC5 ? p[k].acc5 : p[k].acc10;
            if (!isfinite(x) || !isfinite(y) || x <= 0) /* log x: non-positive x has no place */
                continue;
            if (!f && !(f = gp_data(g, &files[si], err))) {
                idx = -1;
                break;
            }
            fprintf(f, "%.17g %.17g\n", x, y);
            lo = fmin(lo, x);
            hi = fmax(hi, x);
        }
        free(p);
        if (f)
            fclose(f);
        if (idx == -1)
            break;
    }
    if (idx == -2 && hi > 0 && (idx = add_plot(c, name, err)) >= 0) {
        FILE *s = g->script;
        gp_begin(g, c, idx,
                 metric == M_PROF ? "+-10% accuracy vs profiling cost (mean over targets)"
                 : metric == M_ACC5 ? "+-5% accuracy vs budget (mean over targets)"
                                    : "+-10% accuracy vs budget (mean over targets)");
        fprintf(s, "set logscale x\nset xrange [%.17g:%.17g]\nset yrange [0:100]\n", lo / 1.5, hi * 1.5);
        if (metric == M_PROF || !budget_tics(c, s))
            gp_log_tics(s, "x", lo / 1.5, hi * 1.5);
        fprintf(s, "set xlabel '%s'\nset ylabel 'models within %s (%%)'\nset key below height 1\n",
                metric == M_PROF ? "profiling seconds on the target (log)"
                                 : "budget: sampled target configs per kernel type (log)",
                metric == M_ACC5 ? "+-5%" : "+-10%");
        fprintf(s, "plot");
        int first = 1;
        for (size_t si = 0; si < c->n_series; si++) {
            if (!files[si])
                continue;
            fprintf(s, "%s ", first ? "" : ",");
            gp_str(s, files[si]);
            fprintf(s, " using 1:2 with linespoints lw 2 pt 7 title ");
            gp_str(s, c->series[si].label);
            first = 0;
        }
        fprintf(s, "\n");
    }
    for (size_t si = 0; si < c->n_series; si++)
        free(files[si]);
    free(files);
    return idx;
}

/* Plot index of a models.csv space left undrawn by --no-model-plots (-1: error, -2: nothing
 * positive to plot). */
#define RP_LEFT_OUT (-3)

/* Predicted vs measured for one models.csv and space: log-log, y = x and +-10% lines. */
static long plot_models(rp_ctx *c, rp_gp *g, size_t fi, const char *space, lp_err *err)
{
    rp_macc a = models_acc(c, fi, space);
    if (!a.plotted)
        return -2;
    char *name = NULL;
    if (asprintf(&name, "models-%s-%s.png", disp(c, c->files[fi].dir), space) < 0) {
        oom(err);
        return -1;
    }
    sanitize(name);
    long idx = add_plot(c, name, err);
    free(name);
    if (idx < 0)
        return -1;
    char *data = NULL;
    FILE *f = gp_data(g, &data, err);
    if (!f)
        return -1;
    for (size_t i = 0; i < c->n_mrows; i++) {
        const rp_mrow *r = &c->mrows[i];
        if (r->file == fi && !strcmp(r->space, space) && r->meas > 0 && r->pred > 0 &&
            isfinite(r->meas) && isfinite(r->pred))
            fprintf(f, "%.17g %.17g\n", r->meas, r->pred);
    }
    fclose(f);
    char *title = NULL;
    if (asprintf(&title, "%s, space %s: %zu models, %.1f%% within +-10%%", disp(c, c->files[fi].dir),
                 space, a.n, 100.0 * (double)a.within10 / (double)a.n) < 0) {
        free(data);
        oom(err);
        return -1;
    }
    FILE *s = g->script;
    gp_begin(g, c, idx, title);
    free(title);
    /* equal ranges on both axes so y = x is the diagonal */
    double lo = a.lo / 1.3, hi = a.hi * 1.3;
    fprintf(s, "set logscale xy\nset xrange [%.17g:%.17g]\nset yrange [%.17g:%.17g]\n"
               "set size square\nset samples 400\n"
               "set xlabel 'measured latency (ms)'\nset ylabel 'predicted latency (ms)'\n"
               "set key top left opaque\n",
            lo, hi, lo, hi);
    gp_log_tics(s, "x", lo, hi);
    gp_log_tics(s, "y", lo, hi);
    fprintf(s, "plot x with lines lc rgb 'black' title 'y = x', "
               "1.1*x with lines dt 2 lc rgb 'gray50' title '+-10%%', "
               "0.9*x with lines dt 2 lc rgb 'gray50' notitle, ");
    gp_str(s, data);
    fprintf(s, " using 1:2 with points pt 7 ps 1 lc rgb '#1f77b4' title 'models'\n");
    free(data);
    return idx;
}

/* Runs gnuplot on the script; its output goes to a file so a failure can quote it. */
static int run_gnuplot(const char *gnuplot, const char *script, const char *tmp, int quiet,
                       lp_err *err)
{
    char *log = NULL;
    if (asprintf(&log, "%s/gnuplot.log", tmp) < 0)
        return oom(err);
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
    posix_spawn_file_actions_addopen(&fa, 1, log, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    posix_spawn_file_actions_adddup2(&fa, 1, 2);
    char *argv[] = {(char *)"gnuplot", (char *)script, NULL};
    pid_t pid;
    int rc = posix_spawn(&pid, gnuplot, &fa, NULL, argv, environ);
    posix_spawn_file_actions_destroy(&fa);
    if (rc != 0) {
        free(log);
        return lp_err_set(err, LP_EIO, "cannot start %s: %s", gnuplot, strerror(rc));
    }
    int st = 0;
    while (waitpid(pid, &st, 0) < 0 && errno == EINTR)
        ;
    char text[800] = "";
    FILE *f = fopen(log, "r");
    if (f) {
        /* gnuplot stops at its first error, so the end of its output is what matters */
        if (fseek(f, -(long)(sizeof text - 1), SEEK_END) != 0)
            rewind(f);
        size_t n = fread(text, 1, sizeof text - 1, f);
        text[n] = '\0';
        fclose(f);
    }
    free(log);
    strip_eol(text);
    if (!WIFEXITED(st) || WEXITSTATUS(st) != 0) {
        if (WIFSIGNALED(st))
            return lp_err_set(err, LP_EIO, "%s %s was killed by signal %d: %s", gnuplot, script,
                              WTERMSIG(st), text[0] ? text : "(no output)");
        return lp_err_set(err, LP_EIO, "%s %s failed (exit %d): %s", gnuplot, script,
                          WEXITSTATUS(st), text[0] ? text : "(no output)");
    }
    if (text[0] && !quiet) /* warnings: the plots exist, but say what gnuplot said */
        fprintf(stderr, "litepred report: gnuplot: %s\n", text);
    return 0;
}

static void rm_tmp(const char *tmp)
{
    DIR *d = opendir(tmp);
    if (d) {
        struct dirent *e;
        while ((e = readdir(d))) {
            if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
                continue;
            char *p = NULL;
            if (asprintf(&p, "%s/%s", tmp, e->d_name) >= 0)
                unlink(p);
            free(p);
        }
        closedir(d);
    }
    rmdir(tmp);
}

/* Every plot gnuplot was asked for must now be a PNG: a missing one is a failure. */
static int check_pngs(const rp_ctx *c, const char *plotdir, lp_err *err)
{
    for (size_t i = 0; i < c->n_plots; i++) {
        char *p = NULL;
        if (asprintf(&p, "%s/%s", plotdir, c->plots[i].name) < 0)
            return oom(err);
        unsigned char sig[8] = {0};
        FILE *f = fopen(p, "rb");
        size_t n = f ? fread(sig, 1, sizeof sig, f) : 0;
        if (f)
            fclose(f);
        int ok = n == 8 && !memcmp(sig, "\x89PNG\r\n\x1a\n", 8);
        if (!ok) {
            lp_err_set(err, LP_EIO, "gnuplot exited 0 but %s is %s", p,
                       f ? "not a PNG file" : "missing");
            free(p);
            return err->code;
        }
        free(p);
    }
    return 0;
}

/* ---- Markdown ------------------------------------------------------------------------ */

/* Table cell text: '|' would end the cell. */
static void md_cell(FILE *f, const char *s)
{
    for (; *s; s++) {
        if (*s == '|')
            fputc('\\', f);
        fputc(*s, f);
    }
}

/* Link target relative to OUT; angle brackets keep spaces and parentheses intact. */
static void md_target(FILE *f, const char *out, const char *path)
{
    char *r = relpath(out, path);
    const char *t = r ? r : path;
    int wrap = strpbrk(t, " ()<>") != NULL;
    fprintf(f, "%s%s%s", wrap ? "<" : "", t, wrap ? ">" : "");
    free(r);
}

static const char *num(double v, const char *fmt, char *buf, size_t size)
{
    if (!isfinite(v))
        return "n/a";
    snprintf(buf, size, fmt, v);
    return buf;
}

typedef struct rp_md {
    FILE *f;
    const char *out;     /* OUT, canonical */
    long acc10, acc5, prof; /* plot indexes, or < 0 when not drawn */
    long *mplot;         /* per models row group: see write_models */
} rp_md;

static size_t count_kind(const rp_ctx *c, int kind)
{
    size_t n = 0;
    for (size_t i = 0; i < c->n_files; i++)
        n += c->files[i].kind == kind;
    return n;
}

static void md_image(const rp_ctx *c, FILE *f, long plot, const char *alt)
{
    if (plot >= 0)
        fprintf(f, "![%s](plots/%s)\n\n", alt, c->plots[plot].name);
}

static void write_inputs(const rp_ctx *c, const rp_md *m)
{
    FILE *f = m->f;
    fprintf(f, "## Inputs\n\n");
    for (size_t i = 0; i < c->n_files; i++) {
        fprintf(f, "- [%s/%s](", disp(c, c->files[i].dir), kind_file[c->files[i].kind]);
        md_target(f, m->out, c->files[i].path);
        fprintf(f, ")\n");
    }
    fprintf(f, "\n");
}

static void write_adapt(const rp_ctx *c, const rp_md *m)
{
    FILE *f = m->f;
    char b[6][32];
    if (!c->n_series) {
        fprintf(f, "No adapt.csv found: no budget or profiling-cost tables.\n\n");
        return;
    }
    fprintf(f, "## Series\n\nA series is one directory's adapt.csv rows with the same similarity, "
               "sampler, predictor and fine-tuning.\n\n"
               "| series | directory | similarity | sampler | predictor | fine-tune |\n"
               "|---|---|---|---|---|---|\n");
    for (size_t si = 0; si < c->n_series; si++) {
        const rp_series *s = &c->series[si];
        fprintf(f, "| ");
        md_cell(f, s->label);
        fprintf(f, " | [");
        md_cell(f, disp(c, s->dir));
        fprintf(f, "](");
        md_target(f, m->out, s->path);
        fprintf(f, ") | %s | %s | %s | %s |\n", s->sim, s->sampler, s->pred, s->finetune ? "yes" : "no");
    }
    fprintf(f, "\n## Accuracy vs budget\n\nSpace `all` rows of adapt.csv, averaged over targets "
               "(nan values left out). Accuracy: share of models whose predicted latency is within "
               "+-10%% (+-5%%) of the measured one.\n\n");
    md_image(c, f, m->acc10, "+-10% accuracy vs budget");
    md_image(c, f, m->acc5, "+-5% accuracy vs budget");
    fprintf(f, "| series | budget | targets | +-10%% acc (%%) | +-5%% acc (%%) | RMSPE (%%) | "
               "target configs | profiling (s) |\n|---|---|---|---|---|---|---|---|\n");
    for (size_t si = 0; si < c->n_series; si++) {
        size_t np = 0;
        rp_point *p = series_points(c, si, &np);
        for (size_t k = 0; p && k < np; k++) {
            fprintf(f, "| ");
            md_cell(f, c->series[si].label);
            fprintf(f, " | %lld | %zu | %s | %s | %s | %s | %s |\n", p[k].budget, p[k].targets,
                    num(p[k].acc10, "%.2f", b[0], 32), num(p[k].acc5, "%.2f", b[1], 32),
                    num(p[k].rmspe, "%.2f", b[2], 32), num(p[k].configs, "%.1f", b[3], 32),
                    num(p[k].prof_s, "%.2f", b[4], 32));
        }
        if (p && !np) {
            fprintf(f, "| ");
            md_cell(f, c->series[si].label);
            fprintf(f, " | no `all` rows | | | | | | |\n");
        }
        free(p);
    }
    fprintf(f, "\n## Profiling cost vs accuracy\n\nEach point is one budget: mean profiling seconds "
               "on the target against mean +-10%% accuracy. At equal accuracy (a horizontal line), "
               "the ratio of two series' x values is their profiling-cost ratio.\n\n");
    md_image(c, f, m->prof, "+-10% accuracy vs profiling seconds");
    if (m->acc10 < 0 || m->prof < 0)
        fprintf(f, "(Some plots were not drawn: no finite, positive values to plot.)\n\n");

    fprintf(f, "## Per target\n\n| series | target | budget | space | models | target configs | "
               "profiling (s) | +-10%% acc (%%) | +-5%% acc (%%) | RMSPE (%%) | RMSE (ms) |\n"
               "|---|---|---|---|---|---|---|---|---|---|---|\n");
    for (size_t si = 0; si < c->n_series; si++) {
        /* target, then budget, then file order: the rows of one target stay together */
        size_t n = 0;
        const rp_adapt **rows = malloc((c->n_adapt + 1) * sizeof *rows);
        for (size_t i = 0; rows && i < c->n_adapt; i++)
            if (c->adapt[i].series == si)
                rows[n++] = &c->adapt[i];
        for (size_t i = 1; rows && i < n; i++) /* stable insertion sort */
            for (size_t j = i; j > 0; j--) {
                int t = strcmp(rows[j - 1]->target, rows[j]->target);
                if (t < 0 || (t == 0 && rows[j - 1]->budget <= rows[j]->budget))
                    break;
                const rp_adapt *x = rows[j];
                rows[j] = rows[j - 1];
                rows[j - 1] = x;
            }
        for (size_t i = 0; rows && i < n; i++) {
            const rp_adapt *r = rows[i];
            fprintf(f, "| ");
            md_cell(f, c->series[si].label);
            fprintf(f, " | %s | %lld | %s | %lld | %lld | %s | %s | %s | %s | %s |\n", r->target,
                    r->budget, r->space, r->models, r->configs, num(r->prof_s, "%.2f", b[0], 32),
                    num(r->acc10, "%.2f", b[1], 32), num(r->acc5, "%.2f", b[2], 32),
                    num(r->rmspe, "%.2f", b[3], 32), num(r->rmse, "%.4f", b[4], 32));
        }
        free(rows);
    }
    fprintf(f, "\n");
}

static void write_picks(const rp_ctx *c, const rp_md *m)
{
    FILE *f = m->f;
    int many = count_kind(c, K_PICKS) > 1;
    if (!c->n_picks)
        return;
    fprintf(f, "## Kernel predictor picks\n\nFrom picks.csv: per target and kernel type, the pool "
               "platform whose predictor was picked and every candidate's similarity score "
               "(the pick in bold).\n\n|%s target | kernel type | similarity | picked | scores |\n"
               "|%s---|---|---|---|---|\n",
            many ? " directory |" : "", many ? "---|" : "");
    for (size_t i = 0; i < c->n_picks; i++) {
        const rp_pick *p = &c->picks[i];
        size_t j = 0; /* first row of this (file, target, kernel type) group */
        while (j < i && !(c->picks[j].file == p->file && !strcmp(c->picks[j].target, p->target) &&
                          !strcmp(c->picks[j].ktype, p->ktype)))
            j++;
        if (j < i)
            continue;
        fprintf(f, "|");
        if (many) {
            fprintf(f, " ");
            md_cell(f, disp(c, c->files[p->file].dir));
            fprintf(f, " |");
        }
        fprintf(f, " %s | %s | %s | ", p->target, p->ktype, p->sim);
        int any = 0;
        for (size_t k = i; k < c->n_picks; k++) {
            const rp_pick *q = &c->picks[k];
            if (q->file == p->file && !strcmp(q->target, p->target) && !strcmp(q->ktype, p->ktype) &&
                q->picked) {
                fprintf(f, "%s%s", any ? ", " : "", q->cand);
                any = 1;
            }
        }
        fprintf(f, "%s | ", any ? "" : "none");
        int first = 1;
        for (size_t k = i; k < c->n_picks; k++) {
            const rp_pick *q = &c->picks[k];
            if (q->file != p->file || strcmp(q->target, p->target) || strcmp(q->ktype, p->ktype))
                continue;
            fprintf(f, "%s%s%s %.4g%s", first ? "" : ", ", q->picked ? "**" : "", q->cand, q->score,
                    q->picked ? "**" : "");
            first = 0;
        }
        fprintf(f, " |\n");
    }
    fprintf(f, "\n");
}

static void write_kernels(const rp_ctx *c, const rp_md *m)
{
    FILE *f = m->f;
    char b[3][32];
    int many = count_kind(c, K_KERNELS) > 1;
    if (!c->n_kern)
        return;
    fprintf(f, "## Kernel-level accuracy\n\nFrom kernels.csv: each kernel type's predictor on the "
               "target's measured configs; source is the pool platform it was fine-tuned from "
               "(or scratch).\n\n|%s target | budget | kernel type | source | configs | "
               "RMSPE (%%) | +-5%% acc (%%) | +-10%% acc (%%) |\n|%s---|---|---|---|---|---|---|---|\n",
            many ? " directory |" : "", many ? "---|" : "");
    for (size_t i = 0; i < c->n_kern; i++) {
        const rp_kernel *k = &c->kern[i];
        fprintf(f, "|");
        if (many) {
            fprintf(f, " ");
            md_cell(f, disp(c, c->files[k->file].dir));
            fprintf(f, " |");
        }
        fprintf(f, " %s | %lld | %s | %s | %lld | %s | %s | %s |\n", k->target, k->budget, k->ktype,
                k->source, k->configs, num(k->rmspe, "%.2f", b[0], 32), num(k->acc5, "%.2f", b[1], 32),
                num(k->acc10, "%.2f", b[2], 32));
    }
    fprintf(f, "\n");
}

static void models_row(FILE *f, const char *space, const rp_macc *a, const char *plot)
{
    char b[3][32];
    double n = (double)a->n;
    fprintf(f, "| ");
    md_cell(f, space);
    fprintf(f, " | %zu | %s | %s | %s | %s |\n", a->n,
            num(a->n ? 100.0 * (double)a->within10 / n : NAN, "%.1f", b[0], 32),
            num(a->n ? 100.0 * (double)a->within5 / n : NAN, "%.1f", b[1], 32),
            num(a->n ? 100.0 * sqrt(a->spe / n) : NAN, "%.2f", b[2], 32), plot);
}

/* models.csv sections; m->mplot holds each (file, space)'s plot index in reading order. */
static void write_models(const rp_ctx *c, const rp_md *m)
{
    FILE *f = m->f;
    size_t pi = 0;
    if (!count_kind(c, K_MODELS))
        return;
    fprintf(f, "## Model predictions\n\nFrom each models.csv: whole models measured on the "
               "platform and predicted as the sum of their kernels' predictions. Plots are "
               "log-log with y = x (exact) and +-10%% lines.\n\n");
    for (size_t fi = 0; fi < c->n_files; fi++) {
        if (c->files[fi].kind != K_MODELS)
            continue;
        size_t ns = 0;
        const char **sp = models_spaces(c, fi, &ns);
        fprintf(f, "### %s\n\n[models.csv](", disp(c, c->files[fi].dir));
        md_target(f, m->out, c->files[fi].path);
        fprintf(f, ")\n\n| space | models | within +-10%% (%%) | within +-5%% (%%) | RMSPE (%%) | "
                   "plot |\n|---|---|---|---|---|---|\n");
        for (size_t k = 0; sp && k < ns; k++) {
            rp_macc a = models_acc(c, fi, sp[k]);
            long p = m->mplot[pi + k];
            char *link = NULL;
            if (p >= 0 && asprintf(&link, "[%s](plots/%s)", c->plots[p].name, c->plots[p].name) < 0)
                link = NULL;
            models_row(f, sp[k], &a, link ? link : p == RP_LEFT_OUT ? "not drawn (--no-model-plots)"
                                                                    : "no positive latencies to plot");
            free(link);
        }
        rp_macc all = models_acc(c, fi, NULL);
        models_row(f, "**all**", &all, "");
        fprintf(f, "\n");
        if (!ns)
            fprintf(f, "(no rows)\n\n");
        for (size_t k = 0; sp && k < ns; k++) {
            long p = m->mplot[pi + k];
            if (p >= 0) {
                rp_macc a = models_acc(c, fi, sp[k]);
                fprintf(f, "![%s, %s: %.1f%% within +-10%%](plots/%s)\n\n", disp(c, c->files[fi].dir),
                        sp[k], 100.0 * (double)a.within10 / (double)a.n, c->plots[p].name);
            }
        }
        pi += ns;
        free(sp);
    }
}

/* An existing report.md is replaced only when this verb wrote it (evaluate writes its own). */
static int check_foreign_report(const char *path, lp_err *err)
{
    FILE *f = fopen(path, "r");
    if (!f)
        return 0;
    char line[256] = "";
    if (!fgets(line, sizeof line, f))
        line[0] = '\0';
    fclose(f);
    strip_eol(line);
    if (strcmp(line, report_marker))
        return lp_err_set(err, LP_EEXIST,
                          "%s exists and was not written by `litepred report` (an evaluate "
                          "pipeline writes its own report.md): not overwriting it; choose another "
                          "output directory with -o OUT",
                          path);
    return 0;
}

/* ---- the verb ------------------------------------------------------------------------ */

typedef struct rp_args {
    const char **dirs;
    size_t n_dirs;
    const char *out;
    int no_model_plots;
} rp_args;

static int parse_args(int argc, char **argv, rp_args *a)
{
    for (int i = 1; i < argc; i++) {
        const char *s = argv[i];
        if (!strcmp(s, "-o") || !strcmp(s, "--output")) {
            if (i + 1 >= argc)
                return lp_cli_usage_error("report", "%s needs a directory", s);
            a->out = argv[++i];
        } else if (!strncmp(s, "--output=", 9)) {
            a->out = s + 9;
        } else if (!strcmp(s, "--no-model-plots")) {
            a->no_model_plots = 1;
        } else if (s[0] == '-' && s[1]) {
            return lp_cli_usage_error("report", "unknown option '%s'", s);
        } else {
            a->dirs[a->n_dirs++] = s;
        }
    }
    if (!a->n_dirs)
        return lp_cli_usage_error("report", "give at least one DIR to scan");
    if (a->out && !*a->out)
        return lp_cli_usage_error("report", "-o needs a non-empty directory");
    if (!a->out)
        a->out = a->dirs[0];
    return 0;
}

/* Draws every plot with gnuplot (NULL: nothing to draw); fills m's plot indexes. */
static int render(rp_ctx *c, rp_md *m, const char *gnuplot, const char *out_real, lp_err *err)
{
    if (!(m->mplot = calloc(c->n_mrows + 1, sizeof *m->mplot))) /* (file, space) pairs <= rows */
        return oom(err);
    if (!gnuplot)
        return 0;
    const char *tdir = getenv("TMPDIR");
    char *tmp = NULL, *plotdir = NULL, *script = NULL;
    int rc = 0, made_tmp = 0;
    if (asprintf(&tmp, "%s/litepred-report-XXXXXX", tdir && *tdir ? tdir : "/tmp") < 0)
        tmp = NULL;
    if (asprintf(&plotdir, "%s/plots", out_real) < 0)
        plotdir = NULL;
    if (!tmp || !plotdir)
        rc = oom(err);
    else if (!mkdtemp(tmp))
        rc = lp_err_set(err, LP_EIO, "cannot create a temporary directory %s: %s", tmp, strerror(errno));
    else
        made_tmp = 1;
    if (rc == 0)
        rc = make_dirs(plotdir, err);
    if (rc == 0 && asprintf(&script, "%s/plots.gp", tmp) < 0) {
        script = NULL;
        rc = oom(err);
    }
    rp_gp g = {.tmp = tmp, .plotdir = plotdir};
    if (rc == 0 && !(g.script = fopen(script, "w")))
        rc = lp_err_set(err, LP_EIO, "cannot write %s: %s", script, strerror(errno));
    if (rc == 0) {
        /* pngcairo draws antialiased text and lines; gnuplot-nox builds without it fall back
         * to libgd's png, which is still a PNG */
        fprintf(g.script, "# generated by litepred report\n"
                          "if (strstrt(GPVAL_TERMINALS, 'pngcairo') > 0) {\n"
                          "  set terminal pngcairo size 960,640 noenhanced\n"
                          "} else {\n"
                          "  set terminal png size 960,640 noenhanced\n"
                          "}\n");
        m->acc10 = m->acc5 = m->prof = -2;
        if (c->n_series &&
            ((m->acc10 = plot_lines(c, &g, "acc-vs-budget.png", M_ACC10, err)) == -1 ||
             (m->acc5 = plot_lines(c, &g, "acc5-vs-budget.png", M_ACC5, err)) == -1 ||
             (m->prof = plot_lines(c, &g, "profiling-vs-accuracy.png", M_PROF, err)) == -1))
            rc = err->code;
        size_t pi = 0;
        for (size_t fi = 0; rc == 0 && fi < c->n_files; fi++) {
            if (c->files[fi].kind != K_MODELS)
                continue;
            size_t ns = 0;
            const char **sp = models_spaces(c, fi, &ns);
            if (!sp)
                rc = oom(err);
            for (size_t k = 0; rc == 0 && k < ns; k++)
                if ((m->mplot[pi++] = c->no_model_plots ? RP_LEFT_OUT : plot_models(c, &g, fi, sp[k], err)) == -1)
                    rc = err->code;
            free(sp);
        }
        fprintf(g.script, "\nset output\n");
        if (fclose(g.script) != 0 && rc == 0)
            rc = lp_err_set(err, LP_EIO, "cannot write %s: %s", script, strerror(errno));
    }
    if (rc == 0 && c->n_plots) {
        if (!c->quiet)
            fprintf(stderr, "litepred report: drawing %zu plot%s with %s\n", c->n_plots,
                    c->n_plots == 1 ? "" : "s", gnuplot);
        /* a PNG left by an earlier run must not pass for one gnuplot failed to draw now */
        for (size_t i = 0; i < c->n_plots; i++) {
            char *p = NULL;
            if (asprintf(&p, "%s/%s", plotdir, c->plots[i].name) >= 0)
                unlink(p);
            free(p);
        }
        rc = run_gnuplot(gnuplot, script, tmp, c->quiet, err);
        if (rc == 0)
            rc = check_pngs(c, plotdir, err);
    }
    if (made_tmp)
        rm_tmp(tmp);
    free(tmp);
    free(plotdir);
    free(script);
    return rc;
}

static int write_report(rp_ctx *c, rp_md *m, const char *path, lp_err *err)
{
    char *tmp = NULL;
    if (asprintf(&tmp, "%s.tmp", path) < 0)
        return oom(err);
    /* written aside, then renamed: a failed run leaves the previous report whole */
    FILE *f = fopen(tmp, "w");
    if (!f) {
        lp_err_set(err, LP_EIO, "cannot write %s: %s", tmp, strerror(errno));
        free(tmp);
        return err->code;
    }
    m->f = f;
    fprintf(f, "%s\n# litepred report\n\n", report_marker);
    /* relative, like every path on the page: the report moves with its inputs */
    char *base = relpath(m->out, c->base);
    fprintf(f, "%zu adapt.csv (%zu series, %zu rows), %zu kernels.csv, %zu picks.csv, "
               "%zu models.csv; directories are named relative to `%s` (from this file).\n\n",
            count_kind(c, K_ADAPT), c->n_series, c->n_adapt, count_kind(c, K_KERNELS),
            count_kind(c, K_PICKS), count_kind(c, K_MODELS), base ? base : c->base);
    free(base);
    write_adapt(c, m);
    write_picks(c, m);
    write_kernels(c, m);
    write_models(c, m);
    write_inputs(c, m);
    int bad = ferror(f);
    if (fclose(f) != 0 || bad) {
        unlink(tmp);
        lp_err_set(err, LP_EIO, "cannot write %s", tmp);
        free(tmp);
        return err->code;
    }
    if (rename(tmp, path) != 0) {
        lp_err_set(err, LP_EIO, "cannot rename %s to %s: %s", tmp, path, strerror(errno));
        unlink(tmp);
        free(tmp);
        return err->code;
    }
    free(tmp);
    return 0;
}

static int report(rp_ctx *c, const rp_args *a, lp_err *err)
{
    int rc = 0;
    for (size_t i = 0; rc == 0 && i < a->n_dirs; i++) {
        struct stat st;
        if (stat(a->dirs[i], &st) != 0)
            return lp_err_set(err, LP_EIO, "%s: %s", a->dirs[i], strerror(errno));
        if (!S_ISDIR(st.st_mode))
            return lp_err_set(err, LP_EINVAL, "%s is not a directory (give the directories to scan)",
                              a->dirs[i]);
        char *real = realpath(a->dirs[i], NULL);
        if (!real)
            return lp_err_set(err, LP_EIO, "%s: cannot resolve: %s", a->dirs[i], strerror(errno));
        if (!c->base) {
            c->base = real;
        } else {
            size_t l = common_prefix(c->base, real);
            c->base[l ? l : 1] = '\0';
            free(real);
        }
        rc = scan(c, a->dirs[i], err);
    }
    if (rc < 0)
        return rc;
    /* the same file reached from two DIRs (or through a symlink) is read once */
    if (c->n_files)
        qsort(c->files, c->n_files, sizeof *c->files, cmp_file);
    size_t w = 0;
    for (size_t i = 0; i < c->n_files; i++) {
        if (w && !strcmp(c->files[w - 1].path, c->files[i].path)) {
            free(c->files[i].path);
            free(c->files[i].dir);
            continue;
        }
        c->files[w++] = c->files[i];
    }
    c->n_files = w;
    if (!c->n_files) {
        char dirs[512] = "";
        for (size_t i = 0, len = 0; i < a->n_dirs && len < sizeof dirs; i++)
            len += (size_t)snprintf(dirs + len, sizeof dirs - len, "%s%s", i ? ", " : "", a->dirs[i]);
        return lp_err_set(err, LP_ENOTFOUND,
                          "no adapt.csv, kernels.csv, picks.csv or models.csv under %s", dirs);
    }
    if ((rc = read_all(c, err)) < 0 || (rc = label_series(c, err)) < 0)
        return rc;
    if (!c->quiet)
        fprintf(stderr, "litepred report: read %zu adapt.csv (%zu series), %zu kernels.csv, "
                        "%zu picks.csv, %zu models.csv under %s\n",
                count_kind(c, K_ADAPT), c->n_series, count_kind(c, K_KERNELS),
                count_kind(c, K_PICKS), count_kind(c, K_MODELS), c->base);

    /* looked for before anything is created: a missing gnuplot leaves no half-made OUT */
    char *gnuplot = NULL;
    if ((c->n_series || c->n_mrows) && !(gnuplot = find_gnuplot(err)))
        return err->code;
    struct stat st;
    if ((rc = make_dirs(a->out, err)) < 0 ||
        (stat(a->out, &st) == 0 && !S_ISDIR(st.st_mode) &&
         (rc = lp_err_set(err, LP_EINVAL, "-o %s is not a directory", a->out)) < 0)) {
        free(gnuplot);
        return rc;
    }
    char *out_real = realpath(a->out, NULL), *md_path = NULL;
    if (!out_real) {
        free(gnuplot);
        return lp_err_set(err, LP_EIO, "%s: cannot resolve: %s", a->out, strerror(errno));
    }
    rp_md m = {.out = out_real, .acc10 = -2, .acc5 = -2, .prof = -2};
    if (asprintf(&md_path, "%s/report.md", out_real) < 0)
        rc = oom(err);
    if (rc == 0)
        rc = check_foreign_report(md_path, err);
    if (rc == 0)
        rc = render(c, &m, gnuplot, out_real, err);
    if (rc == 0)
        rc = write_report(c, &m, md_path, err);
    if (rc == 0)
        printf("report: %s/report.md (%zu plot%s in %s/plots)\n", a->out, c->n_plots,
               c->n_plots == 1 ? "" : "s", a->out);
    free(m.mplot);
    free(gnuplot);
    free(md_path);
    free(out_real);
    return rc;
}

int lp_cli_report(lp_cli *cli, int argc, char **argv)
{
    if (lp_cli_wants_help(argc, argv)) {
        fputs(report_usage, stdout);
        return LP_EXIT_OK;
    }
    if (argc < 2) {
        fputs(report_usage, stderr);
        return LP_EXIT_USAGE;
    }
    rp_args a = {.dirs = calloc((size_t)argc, sizeof *a.dirs)};
    if (!a.dirs) {
        fprintf(stderr, "litepred report: out of memory\n");
        return LP_EXIT_FAIL;
    }
    int rc = parse_args(argc, argv, &a);
    if (rc != 0) {
        free(a.dirs);
        return rc;
    }
    rp_ctx c = {.quiet = cli->quiet, .no_model_plots = a.no_model_plots};
    lp_err err = {0};
    rc = report(&c, &a, &err);
    ctx_free(&c);
    free(a.dirs);
    if (rc < 0) {
        fprintf(stderr, "litepred report: %s\n", err.msg);
        return rc == LP_EPARSE || rc == LP_EINVAL ? LP_EXIT_USAGE : LP_EXIT_FAIL;
    }
    return LP_EXIT_OK;
}
