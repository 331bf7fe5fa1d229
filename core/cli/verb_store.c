/* litepred store: inspect a measurement store (stats, CSV export). Opens the
 * store read-only, so it never creates a file and can run beside a campaign. */
#include "cli.h"

#include <litepred/store.h>

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

static const char usage_stats[] =
    "usage: litepred store stats DB\n"
    "\n"
    "Prints the schema version, journal mode, file size, row counts per table,\n"
    "measurement counts per platform and per (platform, kernel type) of the\n"
    "store DB. DB is opened read-only; it must exist.\n";

static const char usage_export[] =
    "usage: litepred store export DB --csv [--table kernels|models] [--out FILE]\n"
    "\n"
    "Writes one table of the store DB as CSV (RFC 4180 quoting, header row).\n"
    "\n"
    "  --csv             output format (CSV is the only one)\n"
    "  --table TABLE     kernels (default): kernel measurements, or\n"
    "                    models: model measurements\n"
    "  --out FILE        write to FILE instead of standard output\n";

static void usage_all(FILE *f)
{
    fprintf(f,
            "usage: litepred store stats DB\n"
            "       litepred store export DB --csv [--table kernels|models] [--out FILE]\n"
            "\n"
            "Inspects a litepred measurement store (a SQLite file). The store is opened\n"
            "read-only and never created.\n"
            "\n"
            "  stats    counts per table, per platform and per kernel type; size; journal mode\n"
            "  export   one table as CSV\n"
            "\n"
            "`litepred store stats --help` and `litepred store export --help` say more.\n");
}

/* ---- stats ------------------------------------------------------------ */

static void print_stats(const char *path, const lp_store_stats *st)
{
    printf("store:           %s\n", path);
    printf("schema version:  %d\n", st->schema_version);
    printf("journal mode:    %s\n", st->journal_mode);
    printf("file size:       %lld bytes (+ %lld bytes WAL)\n", (long long)st->file_bytes,
           (long long)st->wal_bytes);
    printf("\ntables:\n");
    printf("  machines            %lld\n", (long long)st->machines);
    printf("  platforms           %lld\n", (long long)st->platforms);
    printf("  kernel_measurements %lld\n", (long long)st->kernels);
    printf("  models              %lld\n", (long long)st->models);
    printf("  model_measurements  %lld\n", (long long)st->model_measurements);
    printf("\nper platform:\n");
    printf("  %-24s %-16s %10s %10s\n", "PLATFORM", "ENGINE", "KERNELS", "MODELS");
    for (size_t i = 0; i < st->n_per_platform; i++) {
        const lp_store_platform_count *c = &st->per_platform[i];
        printf("  %-24s %-16s %10lld %10lld\n", c->name, c->engine, (long long)c->kernels,
               (long long)c->model_measurements);
    }
    printf("\nper platform and kernel type:\n");
    printf("  %-24s %-24s %10s\n", "PLATFORM", "KERNEL TYPE", "COUNT");
    for (size_t i = 0; i < st->n_per_kernel; i++) {
        const lp_store_kernel_count *c = &st->per_kernel[i];
        printf("  %-24s %-24s %10lld\n", c->platform, c->kernel_type, (long long)c->count);
    }
}

static int store_stats(int argc, char **argv)
{
    const char *db = NULL;
    for (int i = 1; i < argc; i++) {
        if (argv[i][0] == '-' && argv[i][1])
            return lp_cli_usage_error("store stats", "unknown option '%s'", argv[i]);
        if (db)
            return lp_cli_usage_error("store stats", "unexpected argument '%s' (one DB only)", argv[i]);
        db = argv[i];
    }
    if (!db)
        return lp_cli_usage_error("store stats", "missing DB (the store file)");
    lp_err err = {0};
    lp_store *s = NULL;
    lp_store_stats st;
    if (lp_store_open(db, LP_STORE_READONLY, &s, &err) < 0)
        return lp_cli_fail(&err);
    int rc = lp_store_get_stats(s, &st, &err);
    lp_store_close(s);
    if (rc < 0)
        return lp_cli_fail(&err);
    print_stats(db, &st);
    lp_store_stats_free(&st);
    if (fflush(stdout) != 0 || ferror(stdout)) {
        lp_err_set(&err, LP_EIO, "store stats: writing output: %s", strerror(errno));
        return lp_cli_fail(&err);
    }
    return LP_EXIT_OK;
}

/* ---- export ----------------------------------------------------------- */

typedef struct csv_out {
    FILE *f;
    const char *name; /* for messages */
    lp_err *err;
    long rows;
} csv_out;

/* RFC 4180: quote a field holding a separator, quote, line break or edge blank. */
static void csv_field(FILE *f, const char *v)
{
    if (!v)
        return;
    size_t n = strlen(v);
    int quote = strpbrk(v, ",\"\r\n") != NULL || (n && (v[0] == ' ' || v[n - 1] == ' '));
    if (!quote) {
        fputs(v, f);
        return;
    }
    fputc('"', f);
    for (const char *p = v; *p; p++) {
        if (*p == '"')
            fputc('"', f);
        fputc(*p, f);
    }
    fputc('"', f);
}

static int csv_row(void *ctx, int ncol, const char *const *names, const char *const *values)
{
    csv_out *o = ctx;
    for (int i = 0; i < ncol; i++) {
        if (i)
            fputc(',', o->f);
        csv_field(o->f, values ? values[i] : names[i]);
    }
    fputc('\n', o->f);
    if (values)
        o->rows++;
    if (ferror(o->f))
        return lp_err_set(o->err, LP_EIO, "%s: write failed: %s", o->name, strerror(errno));
    return 0;
}

typedef struct export_args {
    const char *db, *out;
    lp_store_table table;
    int csv;
} export_args;

/* Takes the value of --opt VALUE or --opt=VALUE; NULL when absent. */
static const char *opt_value(int argc, char **argv, int *i, const char *opt, int *bad)
{
    size_t n = strlen(opt);
    if (strncmp(argv[*i], opt, n))
        return NULL;
    if (argv[*i][n] == '=')
        return argv[*i] + n + 1;
    if (argv[*i][n])
        return NULL;
    if (*i + 1 >= argc) {
        *bad = 1;
        return NULL;
    }
    return argv[++*i];
}

static int parse_table(const char *v, lp_store_table *t)
{
    if (!strcmp(v, "kernels"))
        *t = LP_STORE_KERNELS;
    else if (!strcmp(v, "models"))
        *t = LP_STORE_MODELS;
    else
        return lp_cli_usage_error("store export", "unknown table '%s' (valid: kernels, models)", v);
    return 0;
}

static int parse_export(int argc, char **argv, export_args *a)
{
    a->table = LP_STORE_KERNELS;
    for (int i = 1; i < argc; i++) {
        const char *v;
        int bad = 0;
        if (!strcmp(argv[i], "--csv")) {
            a->csv = 1;
        } else if ((v = opt_value(argc, argv, &i, "--table", &bad)) || bad) {
            if (bad)
                return lp_cli_usage_error("store export", "--table needs a value (kernels or models)");
            if (parse_table(v, &a->table))
                return LP_EXIT_USAGE;
        } else if ((v = opt_value(argc, argv, &i, "--out", &bad)) || bad) {
            if (bad || !*v)
                return lp_cli_usage_error("store export", "--out needs a file name");
            a->out = v;
        } else if (argv[i][0] == '-' && argv[i][1]) {
            return lp_cli_usage_error("store export", "unknown option '%s'", argv[i]);
        } else if (a->db) {
            return lp_cli_usage_error("store export", "unexpected argument '%s' (one DB only)", argv[i]);
        } else {
            a->db = argv[i];
        }
    }
    if (!a->db)
        return lp_cli_usage_error("store export", "missing DB (the store file)");
    if (!a->csv)
        return lp_cli_usage_error("store export", "missing --csv (the only output format)");
    return 0;
}

/* Writes to FILE.tmp and renames, so a failed export never leaves a truncated FILE. */
static int export_to(lp_store *s, const export_args *a, lp_err *err)
{
    char tmp[4096];
    csv_out o = {stdout, "standard output", err, 0};
    if (a->out) {
        if (snprintf(tmp, sizeof tmp, "%s.tmp", a->out) >= (int)sizeof tmp)
            return lp_err_set(err, LP_EINVAL, "%s: file name too long", a->out);
        if (!(o.f = fopen(tmp, "w")))
            return lp_err_set(err, LP_EIO, "%s: cannot write: %s", a->out, strerror(errno));
        o.name = a->out;
    }
    int rc = lp_store_export(s, a->table, csv_row, &o, err);
    if (rc == 0 && (fflush(o.f) != 0 || ferror(o.f)))
        rc = lp_err_set(err, LP_EIO, "%s: write failed: %s", o.name, strerror(errno));
    if (!a->out)
        return rc;
    if (fclose(o.f) != 0 && rc == 0)
        rc = lp_err_set(err, LP_EIO, "%s: write failed: %s", a->out, strerror(errno));
    if (rc == 0 && rename(tmp, a->out) < 0)
        rc = lp_err_set(err, LP_EIO, "%s: cannot rename %s: %s", a->out, tmp, strerror(errno));
    if (rc < 0)
        unlink(tmp);
    return rc;
}

static int store_export(int argc, char **argv)
{
    export_args a = {0};
    int rc = parse_export(argc, argv, &a);
    if (rc)
        return rc;
    lp_err err = {0};
    lp_store *s = NULL;
    if (lp_store_open(a.db, LP_STORE_READONLY, &s, &err) < 0)
        return lp_cli_fail(&err);
    rc = export_to(s, &a, &err);
    lp_store_close(s);
    return rc < 0 ? lp_cli_fail(&err) : LP_EXIT_OK;
}

int lp_cli_store(lp_cli *cli, int argc, char **argv)
{
    (void)cli;
    const char *sub = argc > 1 ? argv[1] : NULL;
    int help = lp_cli_wants_help(argc, argv);
    if (sub && !strcmp(sub, "stats")) {
        if (help)
            return fputs(usage_stats, stdout), LP_EXIT_OK;
        return store_stats(argc - 1, argv + 1);
    }
    if (sub && !strcmp(sub, "export")) {
        if (help)
            return fputs(usage_export, stdout), LP_EXIT_OK;
        return store_export(argc - 1, argv + 1);
    }
    if (help) {
        usage_all(stdout);
        return LP_EXIT_OK;
    }
    if (!sub)
        return lp_cli_usage_error("store", "missing subcommand (stats or export)");
    return lp_cli_usage_error("store", "unknown subcommand '%s' (valid: stats, export)", sub);
}
