/* The measurement store over SQLite.
 *
 * Durability: WAL with synchronous=FULL, so a committed batch survives a
 * crash of the process and of the machine; a batch is one transaction, so a
 * kill in the middle of it leaves none of it. Inserts use ON CONFLICT(key)
 * DO NOTHING rather than INSERT OR IGNORE: OR IGNORE would also swallow
 * NOT NULL and CHECK violations, hiding bad rows instead of reporting them. */
#include <litepred/store.h>

#include <errno.h>
#include <math.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/utsname.h>
#include <time.h>
#include <unistd.h>

#define LP_STR_(x) #x
#define LP_STR(x) LP_STR_(x)

/* Long enough for a campaign to wait out a concurrent `store stats` or a second writer. */
#define LP_STORE_BUSY_MS 10000

/* Cached statements, prepared on first use. */
enum {
    SQ_MACHINE_INS,
    SQ_MACHINE_ID,
    SQ_MACHINE_GET,
    SQ_PLATFORM_INS,
    SQ_PLATFORM_GET,
    SQ_KERNEL_INS,
    SQ_KERNEL_GET,
    SQ_KERNEL_COUNT,
    SQ_KERNEL_COUNT_ALL,
    SQ_MODEL_INS,
    SQ_MODEL_GET,
    SQ_MRUN_INS,
    SQ_MRUN_GET,
    SQ_COUNT
};

#define MEASURE_COLS "median_ms, mean_ms, spread, runs, measured_at, machine_id, engine_version"

static const char *const sq_text[SQ_COUNT] = {
    [SQ_MACHINE_INS] = "INSERT INTO machines(cpu_model, kernel, hostname, created_at) "
                       "VALUES(?1, ?2, ?3, ?4) ON CONFLICT(cpu_model, kernel, hostname) DO NOTHING",
    [SQ_MACHINE_ID] = "SELECT id FROM machines WHERE cpu_model = ?1 AND kernel = ?2 AND hostname = ?3",
    [SQ_MACHINE_GET] = "SELECT cpu_model, kernel, hostname FROM machines WHERE id = ?1",
    [SQ_PLATFORM_INS] = "INSERT INTO platforms(name, engine, options, created_at) "
                        "VALUES(?1, ?2, ?3, ?4) ON CONFLICT(name) DO NOTHING",
    [SQ_PLATFORM_GET] = "SELECT id, name, engine, options, created_at FROM platforms WHERE name = ?1",
    [SQ_KERNEL_INS] = "INSERT INTO kernel_measurements(platform_id, kernel_type, config, " MEASURE_COLS
                      ") VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10) "
                      "ON CONFLICT(platform_id, kernel_type, config) DO NOTHING",
    [SQ_KERNEL_GET] = "SELECT " MEASURE_COLS " FROM kernel_measurements "
                      "WHERE platform_id = ?1 AND kernel_type = ?2 AND config = ?3",
    [SQ_KERNEL_COUNT] = "SELECT count(*) FROM kernel_measurements WHERE platform_id = ?1 AND kernel_type = ?2",
    [SQ_KERNEL_COUNT_ALL] = "SELECT count(*) FROM kernel_measurements WHERE platform_id = ?1",
    [SQ_MODEL_INS] = "INSERT INTO models(key, name, space, text, created_at) "
                     "VALUES(?1, ?2, ?3, ?4, ?5) ON CONFLICT(key) DO NOTHING",
    [SQ_MODEL_GET] = "SELECT id, key, name, space, text, created_at FROM models WHERE key = ?1",
    [SQ_MRUN_INS] = "INSERT INTO model_measurements(platform_id, model_id, " MEASURE_COLS
                    ") VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9) "
                    "ON CONFLICT(platform_id, model_id) DO NOTHING",
    [SQ_MRUN_GET] = "SELECT " MEASURE_COLS " FROM model_measurements "
                    "WHERE platform_id = ?1 AND model_id = ?2",
};

#define MEASURE_DEF                                                   \
    "  median_ms REAL NOT NULL CHECK(median_ms >= 0),\n"              \
    "  mean_ms REAL NOT NULL CHECK(mean_ms >= 0),\n"                  \
    "  spread REAL NOT NULL CHECK(spread >= 0),\n"                    \
    "  runs INTEGER NOT NULL CHECK(runs >= 1),\n"                     \
    "  measured_at INTEGER NOT NULL,\n"                               \
    "  machine_id INTEGER NOT NULL REFERENCES machines(id),\n"        \
    "  engine_version TEXT NOT NULL DEFAULT '',\n"

static const char schema_sql[] =
    "CREATE TABLE machines(\n"
    "  id INTEGER PRIMARY KEY,\n"
    "  cpu_model TEXT NOT NULL,\n"
    "  kernel TEXT NOT NULL,\n"
    "  hostname TEXT NOT NULL DEFAULT '',\n"
    "  created_at INTEGER NOT NULL,\n"
    "  UNIQUE(cpu_model, kernel, hostname));\n"
    "CREATE TABLE platforms(\n"
    "  id INTEGER PRIMARY KEY,\n"
    "  name TEXT NOT NULL UNIQUE CHECK(name <> ''),\n"
    "  engine TEXT NOT NULL CHECK(engine <> ''),\n"
    "  options TEXT NOT NULL DEFAULT '',\n"
    "  created_at INTEGER NOT NULL);\n"
    "CREATE TABLE kernel_measurements(\n"
    "  id INTEGER PRIMARY KEY,\n"
    "  platform_id INTEGER NOT NULL REFERENCES platforms(id),\n"
    "  kernel_type TEXT NOT NULL CHECK(kernel_type <> ''),\n"
    "  config TEXT NOT NULL,\n" MEASURE_DEF
    "  UNIQUE(platform_id, kernel_type, config));\n"
    "CREATE TABLE models(\n"
    "  id INTEGER PRIMARY KEY,\n"
    "  key TEXT NOT NULL UNIQUE CHECK(key <> ''),\n"
    "  name TEXT NOT NULL,\n"
    "  space TEXT NOT NULL DEFAULT '',\n"
    "  text TEXT NOT NULL,\n"
    "  created_at INTEGER NOT NULL);\n"
    "CREATE TABLE model_measurements(\n"
    "  id INTEGER PRIMARY KEY,\n"
    "  platform_id INTEGER NOT NULL REFERENCES platforms(id),\n"
    "  model_id INTEGER NOT NULL REFERENCES models(id),\n" MEASURE_DEF
    "  UNIQUE(platform_id, model_id));\n"
    "PRAGMA application_id = " LP_STR(LP_STORE_APPLICATION_ID) ";\n"
    "PRAGMA user_version = " LP_STR(LP_STORE_SCHEMA_VERSION) ";\n";

struct lp_store {
    sqlite3 *db;
    char *path;
    int readonly;
    int in_batch;
    sqlite3_stmt *st[SQ_COUNT];
};

/* ---- small helpers ---------------------------------------------------- */

static int db_err(const lp_store *s, const char *what, lp_err *err)
{
    int ext = sqlite3_extended_errcode(s->db);
    /* A violated constraint is the caller's bad argument, not a broken store. */
    int code = (ext & 0xff) == SQLITE_CONSTRAINT ? LP_EINVAL : LP_ESTORE;
    return lp_err_set(err, code, "%s: %s: %s", s->path, what, sqlite3_errmsg(s->db));
}

static int exec_sql(lp_store *s, const char *sql, const char *what, lp_err *err)
{
    if (sqlite3_exec(s->db, sql, NULL, NULL, NULL) != SQLITE_OK)
        return db_err(s, what, err);
    return 0;
}

static int sq_get(lp_store *s, int id, sqlite3_stmt **out, lp_err *err)
{
    if (!s->st[id] && sqlite3_prepare_v3(s->db, sq_text[id], -1, SQLITE_PREPARE_PERSISTENT,
                                         &s->st[id], NULL) != SQLITE_OK) {
        s->st[id] = NULL;
        return db_err(s, "prepare", err);
    }
    *out = s->st[id];
    return 0;
}

/* A cached statement left unreset would hold its read transaction open. */
static void sq_done(sqlite3_stmt *st)
{
    sqlite3_reset(st);
    sqlite3_clear_bindings(st);
}

static void bind_text(sqlite3_stmt *st, int i, const char *v, int *rc)
{
    if (*rc == SQLITE_OK)
        *rc = sqlite3_bind_text(st, i, v, -1, SQLITE_STATIC);
}

static void bind_i64(sqlite3_stmt *st, int i, int64_t v, int *rc)
{
    if (*rc == SQLITE_OK)
        *rc = sqlite3_bind_int64(st, i, v);
}

static void bind_double(sqlite3_stmt *st, int i, double v, int *rc)
{
    if (*rc == SQLITE_OK)
        *rc = sqlite3_bind_double(st, i, v);
}

/* Steps a statement expected to give at most one row: 1 row, 0 none, <0 error. */
static int step_one(lp_store *s, sqlite3_stmt *st, const char *what, lp_err *err)
{
    int rc = sqlite3_step(st);
    if (rc == SQLITE_ROW)
        return 1;
    if (rc == SQLITE_DONE)
        return 0;
    return db_err(s, what, err);
}

static void copy_col(char *dst, size_t size, sqlite3_stmt *st, int col)
{
    const unsigned char *v = sqlite3_column_text(st, col);
    snprintf(dst, size, "%s", v ? (const char *)v : "");
}

static const char *col_str(sqlite3_stmt *st, int col)
{
    const unsigned char *v = sqlite3_column_text(st, col);
    return v ? (const char *)v : "";
}

static int check_str(const lp_store *s, const char *what, const char *v, size_t max,
                     int allow_empty, lp_err *err)
{
    if (!v)
        return lp_err_set(err, LP_EINVAL, "%s: %s is NULL", s->path, what);
    if (!allow_empty && !*v)
        return lp_err_set(err, LP_EINVAL, "%s: %s is empty", s->path, what);
    if (max && strlen(v) >= max)
        return lp_err_set(err, LP_EINVAL, "%s: %s is longer than %zu bytes", s->path, what, max - 1);
    return 0;
}

static int check_writable(const lp_store *s, lp_err *err)
{
    if (s->readonly)
        return lp_err_set(err, LP_EINVAL, "%s: store is open read-only", s->path);
    return 0;
}

static int check_measure(const lp_store *s, const lp_measure *m, lp_err *err)
{
    if (!m)
        return lp_err_set(err, LP_EINVAL, "%s: measurement is NULL", s->path);
    if (!isfinite(m->median_ms) || m->median_ms < 0 || !isfinite(m->mean_ms) || m->mean_ms < 0 ||
        !isfinite(m->spread) || m->spread < 0)
        return lp_err_set(err, LP_EINVAL,
                          "%s: median, mean and spread must be finite and >= 0 (got %g, %g, %g)",
                          s->path, m->median_ms, m->mean_ms, m->spread);
    if (m->runs < 1)
        return lp_err_set(err, LP_EINVAL, "%s: run count must be >= 1 (got %lld)", s->path,
                          (long long)m->runs);
    if (!memchr(m->engine_version, '\0', sizeof m->engine_version))
        return lp_err_set(err, LP_EINVAL, "%s: engine version is not NUL-terminated", s->path);
    return 0;
}

static void bind_measure(sqlite3_stmt *st, int first, const lp_measure *m, int *rc)
{
    bind_double(st, first, m->median_ms, rc);
    bind_double(st, first + 1, m->mean_ms, rc);
    bind_double(st, first + 2, m->spread, rc);
    bind_i64(st, first + 3, m->runs, rc);
    bind_i64(st, first + 4, m->measured_at ? m->measured_at : (int64_t)time(NULL), rc);
    bind_i64(st, first + 5, m->machine_id, rc);
    bind_text(st, first + 6, m->engine_version, rc);
}

static void read_measure(sqlite3_stmt *st, lp_measure *m)
{
    memset(m, 0, sizeof *m);
    m->median_ms = sqlite3_column_double(st, 0);
    m->mean_ms = sqlite3_column_double(st, 1);
    m->spread = sqlite3_column_double(st, 2);
    m->runs = sqlite3_column_int64(st, 3);
    m->measured_at = sqlite3_column_int64(st, 4);
    m->machine_id = sqlite3_column_int64(st, 5);
    copy_col(m->engine_version, sizeof m->engine_version, st, 6);
}

/* ---- machine fingerprint ---------------------------------------------- */

static void trim(char *s)
{
    size_t n = strlen(s);
    while (n && (s[n - 1] == ' ' || s[n - 1] == '\t' || s[n - 1] == '\n' || s[n - 1] == '\r'))
        s[--n] = '\0';
    size_t lead = strspn(s, " \t");
    memmove(s, s + lead, n - lead + 1);
}

/* x86 says "model name"; ARM and RISC-V kernels use other fields, best first. */
static void cpuinfo_model(char *buf, size_t size)
{
    static const char *const keys[] = {"model name", "Hardware", "Model", "cpu model",
                                       "uarch", "Processor", "cpu"};
    const size_t n_keys = sizeof keys / sizeof keys[0];
    size_t best = n_keys;
    FILE *f = fopen("/proc/cpuinfo", "r");
    if (!f)
        return;
    char *line = NULL;
    size_t cap = 0;
    while (getline(&line, &cap, f) > 0) {
        char *colon = strchr(line, ':');
        if (!colon)
            continue;
        *colon = '\0';
        trim(line);
        for (size_t k = 0; k < best; k++) {
            if (!strcmp(line, keys[k])) {
                char *v = colon + 1;
                trim(v);
                if (*v) {
                    snprintf(buf, size, "%s", v);
                    best = k;
                }
                break;
            }
        }
    }
    free(line);
    fclose(f);
}

int lp_machine_fingerprint(lp_machine *m, int with_hostname, lp_err *err)
{
    struct utsname u;
    if (!m)
        return lp_err_set(err, LP_EINVAL, "machine fingerprint: output is NULL");
    memset(m, 0, sizeof *m);
    if (uname(&u) < 0)
        return lp_err_set(err, LP_EIO, "uname: %s", strerror(errno));
    cpuinfo_model(m->cpu_model, sizeof m->cpu_model);
    if (!m->cpu_model[0]) /* no readable /proc/cpuinfo: the architecture is better than nothing */
        snprintf(m->cpu_model, sizeof m->cpu_model, "%s", u.machine);
    snprintf(m->kernel, sizeof m->kernel, "%s %s", u.release, u.version);
    if (with_hostname)
        snprintf(m->hostname, sizeof m->hostname, "%s", u.nodename);
    return 0;
}

/* ---- opening ---------------------------------------------------------- */

typedef struct store_ident {
    int64_t app_id, version, n_objects;
} store_ident;

static int query_int(lp_store *s, const char *sql, const char *what, int64_t *out, lp_err *err)
{
    sqlite3_stmt *st = NULL;
    if (sqlite3_prepare_v2(s->db, sql, -1, &st, NULL) != SQLITE_OK)
        return db_err(s, what, err);
    int rc = step_one(s, st, what, err);
    if (rc > 0)
        *out = sqlite3_column_int64(st, 0);
    else if (rc == 0)
        rc = lp_err_set(err, LP_ESTORE, "%s: %s: no result", s->path, what);
    sqlite3_finalize(st);
    return rc < 0 ? rc : 0;
}

static int read_ident(lp_store *s, store_ident *id, lp_err *err)
{
    static const char what[] = "cannot read store";
    int rc;
    if ((rc = query_int(s, "PRAGMA application_id", what, &id->app_id, err)) < 0 ||
        (rc = query_int(s, "PRAGMA user_version", what, &id->version, err)) < 0 ||
        (rc = query_int(s, "SELECT count(*) FROM sqlite_master", what, &id->n_objects, err)) < 0)
        return rc;
    return 0;
}

static int ident_is_empty(const store_ident *id)
{
    return id->app_id == 0 && id->version == 0 && id->n_objects == 0;
}

/* Refuses foreign databases before anything is written to them. */
static int check_ident(const lp_store *s, const store_ident *id, lp_err *err)
{
    if (ident_is_empty(id)) {
        if (s->readonly)
            return lp_err_set(err, LP_ESTORE, "%s: not a litepred store (empty database)", s->path);
        return 0;
    }
    if (id->app_id != LP_STORE_APPLICATION_ID || id->version < 1)
        return lp_err_set(err, LP_ESTORE, "%s: not a litepred store (SQLite database of another application)",
                          s->path);
    if (id->version > LP_STORE_SCHEMA_VERSION)
        return lp_err_set(err, LP_ESTORE,
                          "%s: store schema version %lld is newer than this litepred supports (%d); "
                          "upgrade litepred",
                          s->path, (long long)id->version, LP_STORE_SCHEMA_VERSION);
    return 0;
}

static int query_text(lp_store *s, const char *sql, char *buf, size_t size, lp_err *err)
{
    sqlite3_stmt *st = NULL;
    if (sqlite3_prepare_v2(s->db, sql, -1, &st, NULL) != SQLITE_OK)
        return db_err(s, sql, err);
    int rc = step_one(s, st, sql, err);
    if (rc > 0)
        copy_col(buf, size, st, 0);
    else if (rc == 0)
        rc = lp_err_set(err, LP_ESTORE, "%s: %s: no result", s->path, sql);
    sqlite3_finalize(st);
    return rc < 0 ? rc : 0;
}

static int setup_writer(lp_store *s, lp_err *err)
{
    char mode[16];
    int rc = query_text(s, "PRAGMA journal_mode=WAL", mode, sizeof mode, err);
    if (rc < 0)
        return rc;
    if (strcmp(mode, "wal"))
        return lp_err_set(err, LP_ESTORE, "%s: cannot switch to WAL mode (journal mode is %s)",
                          s->path, mode);
    /* FULL: NORMAL in WAL mode may lose the last commits on power loss. */
    if ((rc = exec_sql(s, "PRAGMA synchronous=FULL", "set synchronous", err)) < 0)
        return rc;
    return exec_sql(s, "PRAGMA foreign_keys=ON", "enable foreign keys", err);
}

/* Creates the schema in one transaction; a second process racing us finds it made. */
static int create_schema(lp_store *s, lp_err *err)
{
    store_ident id;
    int rc = exec_sql(s, "BEGIN IMMEDIATE", "create schema", err);
    if (rc < 0)
        return rc;
    if ((rc = read_ident(s, &id, err)) < 0 || (rc = check_ident(s, &id, err)) < 0)
        goto fail;
    if (ident_is_empty(&id) && (rc = exec_sql(s, schema_sql, "create schema", err)) < 0)
        goto fail;
    if ((rc = exec_sql(s, "COMMIT", "create schema", err)) < 0)
        goto fail;
    return 0;
fail:
    sqlite3_exec(s->db, "ROLLBACK", NULL, NULL, NULL);
    return rc;
}

static int open_db(lp_store *s, lp_err *err)
{
    struct stat sb;
    if (s->readonly && stat(s->path, &sb) < 0)
        return lp_err_set(err, errno == ENOENT ? LP_ENOTFOUND : LP_EIO, "%s: cannot open store: %s",
                          s->path, strerror(errno));
    if (s->readonly && S_ISDIR(sb.st_mode))
        return lp_err_set(err, LP_EIO, "%s: cannot open store: is a directory", s->path);
    int flags = s->readonly ? SQLITE_OPEN_READONLY : SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE;
    if (sqlite3_open_v2(s->path, &s->db, flags, NULL) != SQLITE_OK)
        return lp_err_set(err, LP_ESTORE, "%s: cannot open store: %s", s->path,
                          s->db ? sqlite3_errmsg(s->db) : "out of memory");
    sqlite3_extended_result_codes(s->db, 1);
    sqlite3_busy_timeout(s->db, LP_STORE_BUSY_MS);
    return 0;
}

int lp_store_open(const char *path, unsigned flags, lp_store **out, lp_err *err)
{
    store_ident id;
    int rc;
    if (!out)
        return lp_err_set(err, LP_EINVAL, "store: output is NULL");
    *out = NULL;
    if (!path || !*path)
        return lp_err_set(err, LP_EINVAL, "store: no path given");
    lp_store *s = calloc(1, sizeof *s);
    if (!s || !(s->path = strdup(path))) {
        free(s);
        return lp_err_set(err, LP_ENOMEM, "%s: out of memory", path);
    }
    s->readonly = (flags & LP_STORE_READONLY) != 0;
    if ((rc = open_db(s, err)) < 0 || (rc = read_ident(s, &id, err)) < 0 ||
        (rc = check_ident(s, &id, err)) < 0)
        goto fail;
    if (!s->readonly && ((rc = setup_writer(s, err)) < 0 || (rc = create_schema(s, err)) < 0))
        goto fail;
    *out = s;
    return 0;
fail:
    lp_store_close(s);
    return rc;
}

void lp_store_close(lp_store *s)
{
    if (!s)
        return;
    if (s->in_batch)
        sqlite3_exec(s->db, "ROLLBACK", NULL, NULL, NULL);
    for (int i = 0; i < SQ_COUNT; i++)
        sqlite3_finalize(s->st[i]);
    sqlite3_close_v2(s->db);
    free(s->path);
    free(s);
}

const char *lp_store_path(const lp_store *s)
{
    return s ? s->path : NULL;
}

/* ---- batches ---------------------------------------------------------- */

int lp_store_begin(lp_store *s, lp_err *err)
{
    int rc = check_writable(s, err);
    if (rc < 0)
        return rc;
    if (s->in_batch)
        return lp_err_set(err, LP_EINVAL, "%s: a batch is already open", s->path);
    /* IMMEDIATE takes the write lock now, where busy_timeout can wait for it, rather
     * than failing with SQLITE_BUSY on the first insert of the batch. */
    if ((rc = exec_sql(s, "BEGIN IMMEDIATE", "begin batch", err)) < 0)
        return rc;
    s->in_batch = 1;
    return 0;
}

int lp_store_commit(lp_store *s, lp_err *err)
{
    if (!s->in_batch)
        return lp_err_set(err, LP_EINVAL, "%s: commit without an open batch", s->path);
    s->in_batch = 0;
    int rc = exec_sql(s, "COMMIT", "commit batch", err);
    if (rc < 0 && !sqlite3_get_autocommit(s->db))
        sqlite3_exec(s->db, "ROLLBACK", NULL, NULL, NULL);
    return rc;
}

int lp_store_rollback(lp_store *s, lp_err *err)
{
    if (!s->in_batch)
        return lp_err_set(err, LP_EINVAL, "%s: rollback without an open batch", s->path);
    s->in_batch = 0;
    return exec_sql(s, "ROLLBACK", "roll back batch", err);
}

int lp_store_in_batch(const lp_store *s)
{
    return s && s->in_batch;
}

/* ---- machines ---------------------------------------------------------- */

static int machine_insert(lp_store *s, const lp_machine *m, lp_err *err)
{
    sqlite3_stmt *st = NULL;
    int rc = sq_get(s, SQ_MACHINE_INS, &st, err);
    if (rc < 0)
        return rc;
    int b = SQLITE_OK;
    bind_text(st, 1, m->cpu_model, &b);
    bind_text(st, 2, m->kernel, &b);
    bind_text(st, 3, m->hostname, &b);
    bind_i64(st, 4, (int64_t)time(NULL), &b);
    rc = b != SQLITE_OK ? db_err(s, "store machine", err) : step_one(s, st, "store machine", err);
    sq_done(st);
    return rc < 0 ? rc : 0;
}

int lp_store_machine_id(lp_store *s, const lp_machine *m, int64_t *id, lp_err *err)
{
    sqlite3_stmt *st = NULL;
    int rc;
    if ((rc = check_writable(s, err)) < 0)
        return rc;
    if (!m || !id)
        return lp_err_set(err, LP_EINVAL, "%s: machine or id is NULL", s->path);
    if (!memchr(m->cpu_model, '\0', sizeof m->cpu_model) || !memchr(m->kernel, '\0', sizeof m->kernel) ||
        !memchr(m->hostname, '\0', sizeof m->hostname))
        return lp_err_set(err, LP_EINVAL, "%s: machine fingerprint is not NUL-terminated", s->path);
    if ((rc = machine_insert(s, m, err)) < 0 || (rc = sq_get(s, SQ_MACHINE_ID, &st, err)) < 0)
        return rc;
    int b = SQLITE_OK;
    bind_text(st, 1, m->cpu_model, &b);
    bind_text(st, 2, m->kernel, &b);
    bind_text(st, 3, m->hostname, &b);
    rc = b != SQLITE_OK ? db_err(s, "find machine", err) : step_one(s, st, "find machine", err);
    if (rc > 0)
        *id = sqlite3_column_int64(st, 0);
    sq_done(st);
    if (rc == 0)
        return lp_err_set(err, LP_ESTORE, "%s: machine vanished after insert", s->path);
    return rc < 0 ? rc : 0;
}

int lp_store_machine_get(lp_store *s, int64_t id, lp_machine *m, lp_err *err)
{
    sqlite3_stmt *st = NULL;
    int rc = sq_get(s, SQ_MACHINE_GET, &st, err);
    if (rc < 0)
        return rc;
    int b = sqlite3_bind_int64(st, 1, id);
    rc = b != SQLITE_OK ? db_err(s, "read machine", err) : step_one(s, st, "read machine", err);
    if (rc > 0) {
        copy_col(m->cpu_model, sizeof m->cpu_model, st, 0);
        copy_col(m->kernel, sizeof m->kernel, st, 1);
        copy_col(m->hostname, sizeof m->hostname, st, 2);
    }
    sq_done(st);
    if (rc == 0)
        return lp_err_set(err, LP_ENOTFOUND, "%s: no machine with id %lld", s->path, (long long)id);
    return rc < 0 ? rc : 0;
}

/* ---- platforms --------------------------------------------------------- */

typedef struct kv_pair {
    char *key, *val;
} kv_pair;

static int kv_cmp(const void *a, const void *b)
{
    return strcmp(((const kv_pair *)a)->key, ((const kv_pair *)b)->key);
}

static int kv_split(char *buf, kv_pair **pairs, size_t *n, lp_err *err)
{
    size_t cap = 1;
    for (const char *p = buf; *p; p++)
        cap += *p == ',';
    kv_pair *v = calloc(cap, sizeof *v);
    if (!v)
        return lp_err_set(err, LP_ENOMEM, "options: out of memory");
    size_t k = 0;
    char *save = NULL;
    for (char *item = strtok_r(buf, ",", &save); item; item = strtok_r(NULL, ",", &save)) {
        char *eq = strchr(item, '=');
        if (!eq) {
            trim(item);
            lp_err_set(err, LP_EINVAL, "options: '%s' is not key=value", item);
            free(v);
            return LP_EINVAL;
        }
        *eq = '\0';
        v[k].key = item;
        v[k].val = eq + 1;
        trim(v[k].key);
        trim(v[k].val);
        if (!*v[k].key) {
            free(v);
            return lp_err_set(err, LP_EINVAL, "options: empty key before '=%s'", eq + 1);
        }
        k++;
    }
    *pairs = v;
    *n = k;
    return 0;
}

int lp_store_canonical_options(const char *kv, char **out, lp_err *err)
{
    kv_pair *pairs = NULL;
    size_t n = 0;
    int rc;
    *out = NULL;
    char *buf = strdup(kv ? kv : "");
    char *res = malloc(strlen(kv ? kv : "") + 1);
    if (!buf || !res) {
        rc = lp_err_set(err, LP_ENOMEM, "options: out of memory");
        goto fail;
    }
    if ((rc = kv_split(buf, &pairs, &n, err)) < 0)
        goto fail;
    qsort(pairs, n, sizeof *pairs, kv_cmp);
    res[0] = '\0';
    for (size_t i = 0; i < n; i++) {
        if (i && !strcmp(pairs[i].key, pairs[i - 1].key)) {
            rc = lp_err_set(err, LP_EINVAL, "options: key '%s' given twice", pairs[i].key);
            goto fail;
        }
        /* Canonical text is never longer than the input: only blanks and commas go. */
        sprintf(res + strlen(res), "%s%s=%s", i ? "," : "", pairs[i].key, pairs[i].val);
    }
    free(pairs);
    free(buf);
    *out = res;
    return 0;
fail:
    free(pairs);
    free(buf);
    free(res);
    return rc;
}

static void read_platform(sqlite3_stmt *st, lp_platform_info *p)
{
    p->id = sqlite3_column_int64(st, 0);
    copy_col(p->name, sizeof p->name, st, 1);
    copy_col(p->engine, sizeof p->engine, st, 2);
    copy_col(p->options, sizeof p->options, st, 3);
    p->created_at = sqlite3_column_int64(st, 4);
}

static int platform_insert(lp_store *s, const char *name, const char *engine, const char *options,
                           lp_err *err)
{
    sqlite3_stmt *st = NULL;
    int rc = sq_get(s, SQ_PLATFORM_INS, &st, err);
    if (rc < 0)
        return rc;
    int b = SQLITE_OK;
    bind_text(st, 1, name, &b);
    bind_text(st, 2, engine, &b);
    bind_text(st, 3, options, &b);
    bind_i64(st, 4, (int64_t)time(NULL), &b);
    rc = b != SQLITE_OK ? db_err(s, "store platform", err) : step_one(s, st, "store platform", err);
    sq_done(st);
    return rc < 0 ? rc : 0;
}

int lp_store_platform_add(lp_store *s, const char *name, const char *engine, const char *options,
                          int64_t *id, lp_err *err)
{
    lp_platform_info have;
    char *canon = NULL;
    int rc;
    if ((rc = check_writable(s, err)) < 0 ||
        (rc = check_str(s, "platform name", name, LP_STORE_NAME_MAX, 0, err)) < 0 ||
        (rc = check_str(s, "engine name", engine, LP_STORE_NAME_MAX, 0, err)) < 0)
        return rc;
    if ((rc = lp_store_canonical_options(options, &canon, err)) < 0)
        return lp_err_prefix(err, "%s: platform %s: ", s->path, name);
    if ((rc = check_str(s, "platform options", canon, LP_STORE_OPTIONS_MAX, 1, err)) < 0 ||
        (rc = platform_insert(s, name, engine, canon, err)) < 0 ||
        (rc = lp_store_platform_get(s, name, &have, err)) < 0)
        goto done;
    if (strcmp(have.engine, engine) || strcmp(have.options, canon)) {
        rc = lp_err_set(err, LP_EEXIST,
                        "%s: platform '%s' is stored with engine %s and options '%s', not %s and '%s'",
                        s->path, name, have.engine, have.options, engine, canon);
        goto done;
    }
    if (id)
        *id = have.id;
done:
    free(canon);
    return rc;
}

int lp_store_platform_get(lp_store *s, const char *name, lp_platform_info *out, lp_err *err)
{
    sqlite3_stmt *st = NULL;
    int rc;
    if ((rc = check_str(s, "platform name", name, 0, 0, err)) < 0 ||
        (rc = sq_get(s, SQ_PLATFORM_GET, &st, err)) < 0)
        return rc;
    int b = SQLITE_OK;
    bind_text(st, 1, name, &b);
    rc = b != SQLITE_OK ? db_err(s, "read platform", err) : step_one(s, st, "read platform", err);
    if (rc > 0)
        read_platform(st, out);
    sq_done(st);
    if (rc == 0)
        return lp_err_set(err, LP_ENOTFOUND, "%s: no platform '%s'", s->path, name);
    return rc < 0 ? rc : 0;
}

/* ---- kernel measurements ------------------------------------------------ */

static int put_finish(lp_store *s, sqlite3_stmt *st, int b, const char *what, int *is_new,
                      lp_err *err)
{
    int rc = b != SQLITE_OK ? db_err(s, what, err) : step_one(s, st, what, err);
    /* A conflicting key inserts nothing, and changes() says so. */
    if (rc >= 0 && is_new)
        *is_new = sqlite3_changes(s->db) == 1;
    sq_done(st);
    return rc < 0 ? rc : 0;
}

int lp_store_put_kernel(lp_store *s, int64_t platform_id, const char *kernel_type,
                        const char *config, const lp_measure *m, int *is_new, lp_err *err)
{
    sqlite3_stmt *st = NULL;
    int rc;
    if ((rc = check_writable(s, err)) < 0 ||
        (rc = check_str(s, "kernel type", kernel_type, LP_STORE_NAME_MAX, 0, err)) < 0 ||
        (rc = check_str(s, "kernel config", config, 0, 1, err)) < 0 ||
        (rc = check_measure(s, m, err)) < 0 || (rc = sq_get(s, SQ_KERNEL_INS, &st, err)) < 0)
        return rc;
    int b = SQLITE_OK;
    bind_i64(st, 1, platform_id, &b);
    bind_text(st, 2, kernel_type, &b);
    bind_text(st, 3, config, &b);
    bind_measure(st, 4, m, &b);
    return put_finish(s, st, b, "store kernel measurement", is_new, err);
}

static int kernel_lookup(lp_store *s, int64_t platform_id, const char *kernel_type,
                         const char *config, lp_measure *out, lp_err *err)
{
    sqlite3_stmt *st = NULL;
    int rc;
    if ((rc = check_str(s, "kernel type", kernel_type, 0, 0, err)) < 0 ||
        (rc = check_str(s, "kernel config", config, 0, 1, err)) < 0 ||
        (rc = sq_get(s, SQ_KERNEL_GET, &st, err)) < 0)
        return rc;
    int b = SQLITE_OK;
    bind_i64(st, 1, platform_id, &b);
    bind_text(st, 2, kernel_type, &b);
    bind_text(st, 3, config, &b);
    rc = b != SQLITE_OK ? db_err(s, "read kernel measurement", err)
                        : step_one(s, st, "read kernel measurement", err);
    if (rc > 0 && out)
        read_measure(st, out);
    sq_done(st);
    return rc;
}

int lp_store_has_kernel(lp_store *s, int64_t platform_id, const char *kernel_type,
                        const char *config, lp_err *err)
{
    return kernel_lookup(s, platform_id, kernel_type, config, NULL, err);
}

int lp_store_get_kernel(lp_store *s, int64_t platform_id, const char *kernel_type,
                        const char *config, lp_measure *out, lp_err *err)
{
    int rc = kernel_lookup(s, platform_id, kernel_type, config, out, err);
    if (rc == 0)
        return lp_err_set(err, LP_ENOTFOUND, "%s: no %s measurement '%s' on platform %lld",
                          s->path, kernel_type, config, (long long)platform_id);
    return rc < 0 ? rc : 0;
}

int lp_store_count_kernels(lp_store *s, int64_t platform_id, const char *kernel_type,
                           int64_t *count, lp_err *err)
{
    sqlite3_stmt *st = NULL;
    int rc = sq_get(s, kernel_type ? SQ_KERNEL_COUNT : SQ_KERNEL_COUNT_ALL, &st, err);
    if (rc < 0)
        return rc;
    int b = SQLITE_OK;
    bind_i64(st, 1, platform_id, &b);
    if (kernel_type)
        bind_text(st, 2, kernel_type, &b);
    rc = b != SQLITE_OK ? db_err(s, "count kernel measurements", err)
                        : step_one(s, st, "count kernel measurements", err);
    if (rc > 0)
        *count = sqlite3_column_int64(st, 0);
    sq_done(st);
    return rc < 0 ? rc : 0;
}

/* ---- models ------------------------------------------------------------ */

void lp_store_model_key(const char *text, char key[LP_STORE_KEY_MAX])
{
    uint64_t h = 14695981039346656037ull;
    for (const unsigned char *p = (const unsigned char *)(text ? text : ""); *p; p++) {
        h ^= *p;
        h *= 1099511628211ull;
    }
    snprintf(key, LP_STORE_KEY_MAX, "%016llx", (unsigned long long)h);
}

static int model_insert(lp_store *s, const char *key, const char *name, const char *space,
                        const char *text, lp_err *err)
{
    sqlite3_stmt *st = NULL;
    int rc = sq_get(s, SQ_MODEL_INS, &st, err);
    if (rc < 0)
        return rc;
    int b = SQLITE_OK;
    bind_text(st, 1, key, &b);
    bind_text(st, 2, name, &b);
    bind_text(st, 3, space, &b);
    bind_text(st, 4, text, &b);
    bind_i64(st, 5, (int64_t)time(NULL), &b);
    rc = b != SQLITE_OK ? db_err(s, "store model", err) : step_one(s, st, "store model", err);
    sq_done(st);
    return rc < 0 ? rc : 0;
}

static int model_check_same(lp_store *s, const lp_model_info *have, const char *name,
                            const char *space, const char *text, lp_err *err)
{
    if (!strcmp(have->name, name) && !strcmp(have->space, space) && !strcmp(have->text, text))
        return 0;
    return lp_err_set(err, LP_EEXIST, "%s: model key %s is stored for another model (%s in '%s')",
                      s->path, have->key, have->name, have->space);
}

int lp_store_model_add(lp_store *s, const char *key, const char *name, const char *space,
                       const char *text, int64_t *id, lp_err *err)
{
    char auto_key[LP_STORE_KEY_MAX];
    lp_model_info have = {0};
    int rc;
    if (!space)
        space = "";
    if (!key && text) {
        lp_store_model_key(text, auto_key);
        key = auto_key;
    }
    if ((rc = check_writable(s, err)) < 0 ||
        (rc = check_str(s, "model text", text, 0, 1, err)) < 0 ||
        (rc = check_str(s, "model key", key, LP_STORE_KEY_MAX, 0, err)) < 0 ||
        (rc = check_str(s, "model name", name, LP_STORE_NAME_MAX, 0, err)) < 0 ||
        (rc = check_str(s, "model space", space, LP_STORE_NAME_MAX, 1, err)) < 0 ||
        (rc = model_insert(s, key, name, space, text, err)) < 0 ||
        (rc = lp_store_model_get(s, key, &have, err)) < 0)
        return rc;
    rc = model_check_same(s, &have, name, space, text, err);
    if (rc == 0 && id)
        *id = have.id;
    lp_model_info_free(&have);
    return rc;
}

int lp_store_model_get(lp_store *s, const char *key, lp_model_info *out, lp_err *err)
{
    sqlite3_stmt *st = NULL;
    int rc;
    if ((rc = check_str(s, "model key", key, 0, 0, err)) < 0 ||
        (rc = sq_get(s, SQ_MODEL_GET, &st, err)) < 0)
        return rc;
    int b = SQLITE_OK;
    bind_text(st, 1, key, &b);
    rc = b != SQLITE_OK ? db_err(s, "read model", err) : step_one(s, st, "read model", err);
    if (rc > 0) {
        memset(out, 0, sizeof *out);
        out->id = sqlite3_column_int64(st, 0);
        copy_col(out->key, sizeof out->key, st, 1);
        copy_col(out->name, sizeof out->name, st, 2);
        copy_col(out->space, sizeof out->space, st, 3);
        out->text = strdup(col_str(st, 4));
        out->created_at = sqlite3_column_int64(st, 5);
        if (!out->text)
            rc = lp_err_set(err, LP_ENOMEM, "%s: out of memory", s->path);
    }
    sq_done(st);
    if (rc == 0)
        return lp_err_set(err, LP_ENOTFOUND, "%s: no model with key %s", s->path, key);
    return rc < 0 ? rc : 0;
}

void lp_model_info_free(lp_model_info *m)
{
    if (m) {
        free(m->text);
        m->text = NULL;
    }
}

int lp_store_put_model(lp_store *s, int64_t platform_id, int64_t model_id, const lp_measure *m,
                       int *is_new, lp_err *err)
{
    sqlite3_stmt *st = NULL;
    int rc;
    if ((rc = check_writable(s, err)) < 0 || (rc = check_measure(s, m, err)) < 0 ||
        (rc = sq_get(s, SQ_MRUN_INS, &st, err)) < 0)
        return rc;
    int b = SQLITE_OK;
    bind_i64(st, 1, platform_id, &b);
    bind_i64(st, 2, model_id, &b);
    bind_measure(st, 3, m, &b);
    return put_finish(s, st, b, "store model measurement", is_new, err);
}

static int model_lookup(lp_store *s, int64_t platform_id, int64_t model_id, lp_measure *out,
                        lp_err *err)
{
    sqlite3_stmt *st = NULL;
    int rc = sq_get(s, SQ_MRUN_GET, &st, err);
    if (rc < 0)
        return rc;
    int b = SQLITE_OK;
    bind_i64(st, 1, platform_id, &b);
    bind_i64(st, 2, model_id, &b);
    rc = b != SQLITE_OK ? db_err(s, "read model measurement", err)
                        : step_one(s, st, "read model measurement", err);
    if (rc > 0 && out)
        read_measure(st, out);
    sq_done(st);
    return rc;
}

int lp_store_has_model(lp_store *s, int64_t platform_id, int64_t model_id, lp_err *err)
{
    return model_lookup(s, platform_id, model_id, NULL, err);
}

int lp_store_get_model(lp_store *s, int64_t platform_id, int64_t model_id, lp_measure *out,
                       lp_err *err)
{
    int rc = model_lookup(s, platform_id, model_id, out, err);
    if (rc == 0)
        return lp_err_set(err, LP_ENOTFOUND, "%s: no measurement of model %lld on platform %lld",
                          s->path, (long long)model_id, (long long)platform_id);
    return rc < 0 ? rc : 0;
}

/* ---- inspection -------------------------------------------------------- */

static int64_t file_size(const char *path, const char *suffix)
{
    char buf[4096];
    struct stat sb;
    snprintf(buf, sizeof buf, "%s%s", path, suffix);
    return stat(buf, &sb) == 0 ? (int64_t)sb.st_size : 0;
}

static int stats_totals(lp_store *s, lp_store_stats *out, lp_err *err)
{
    static const char sql[] =
        "SELECT (SELECT count(*) FROM machines), (SELECT count(*) FROM platforms), "
        "(SELECT count(*) FROM kernel_measurements), (SELECT count(*) FROM models), "
        "(SELECT count(*) FROM model_measurements)";
    sqlite3_stmt *st = NULL;
    int rc = sqlite3_prepare_v2(s->db, sql, -1, &st, NULL) != SQLITE_OK
                 ? db_err(s, "count rows", err)
                 : step_one(s, st, "count rows", err);
    if (rc > 0) {
        out->machines = sqlite3_column_int64(st, 0);
        out->platforms = sqlite3_column_int64(st, 1);
        out->kernels = sqlite3_column_int64(st, 2);
        out->models = sqlite3_column_int64(st, 3);
        out->model_measurements = sqlite3_column_int64(st, 4);
    }
    sqlite3_finalize(st);
    return rc < 0 ? rc : 0;
}

/* Grows *arr (of elem-byte items) so that index n fits. */
static int grow(void **arr, size_t *cap, size_t n, size_t elem)
{
    if (n < *cap)
        return 0;
    size_t nc = *cap ? *cap * 2 : 8;
    void *na = realloc(*arr, nc * elem);
    if (!na)
        return LP_ENOMEM;
    memset((char *)na + *cap * elem, 0, (nc - *cap) * elem);
    *arr = na;
    *cap = nc;
    return 0;
}

/* Fills one array element from the current row. */
typedef void (*row_reader)(sqlite3_stmt *st, void *elem);

/* Runs sql and appends an element of elem bytes per row to *arr (*n of them, grown as
 * needed), each filled in by fill; what names the query in messages. */
static int query_rows(lp_store *s, const char *sql, const char *what, void **arr, size_t *n,
                      size_t elem, row_reader fill, lp_err *err)
{
    sqlite3_stmt *st = NULL;
    size_t cap = 0;
    int rc;
    if (sqlite3_prepare_v2(s->db, sql, -1, &st, NULL) != SQLITE_OK)
        return db_err(s, what, err);
    while ((rc = step_one(s, st, what, err)) > 0) {
        if (grow(arr, &cap, *n, elem)) {
            rc = lp_err_set(err, LP_ENOMEM, "%s: out of memory", s->path);
            break;
        }
        fill(st, (char *)*arr + (*n)++ * elem);
    }
    sqlite3_finalize(st);
    return rc < 0 ? rc : 0;
}

static void read_platform_count(sqlite3_stmt *st, void *elem)
{
    lp_store_platform_count *c = elem;
    copy_col(c->name, sizeof c->name, st, 0);
    copy_col(c->engine, sizeof c->engine, st, 1);
    c->kernels = sqlite3_column_int64(st, 2);
    c->model_measurements = sqlite3_column_int64(st, 3);
}

static int stats_per_platform(lp_store *s, lp_store_stats *out, lp_err *err)
{
    static const char sql[] =
        "SELECT p.name, p.engine, "
        "(SELECT count(*) FROM kernel_measurements k WHERE k.platform_id = p.id), "
        "(SELECT count(*) FROM model_measurements m WHERE m.platform_id = p.id) "
        "FROM platforms p ORDER BY p.name";
    return query_rows(s, sql, "count per platform", (void **)&out->per_platform,
                      &out->n_per_platform, sizeof *out->per_platform, read_platform_count, err);
}

static void read_kernel_count(sqlite3_stmt *st, void *elem)
{
    lp_store_kernel_count *c = elem;
    copy_col(c->platform, sizeof c->platform, st, 0);
    copy_col(c->kernel_type, sizeof c->kernel_type, st, 1);
    c->count = sqlite3_column_int64(st, 2);
}

static int stats_per_kernel(lp_store *s, lp_store_stats *out, lp_err *err)
{
    static const char sql[] =
        "SELECT p.name, k.kernel_type, count(*) FROM kernel_measurements k "
        "JOIN platforms p ON p.id = k.platform_id "
        "GROUP BY k.platform_id, k.kernel_type ORDER BY p.name, k.kernel_type";
    return query_rows(s, sql, "count per kernel type", (void **)&out->per_kernel,
                      &out->n_per_kernel, sizeof *out->per_kernel, read_kernel_count, err);
}

int lp_store_get_stats(lp_store *s, lp_store_stats *out, lp_err *err)
{
    int64_t version = 0;
    int rc;
    memset(out, 0, sizeof *out);
    /* One read transaction, so the counts agree with each other while a campaign writes
     * (inside an open batch they already do). */
    int own_txn = sqlite3_get_autocommit(s->db);
    if (own_txn && (rc = exec_sql(s, "BEGIN", "read stats", err)) < 0)
        return rc;
    if ((rc = query_int(s, "PRAGMA user_version", "read stats", &version, err)) < 0 ||
        (rc = query_text(s, "PRAGMA journal_mode", out->journal_mode, sizeof out->journal_mode, err)) < 0 ||
        (rc = stats_totals(s, out, err)) < 0 || (rc = stats_per_platform(s, out, err)) < 0 ||
        (rc = stats_per_kernel(s, out, err)) < 0)
        goto fail;
    if (own_txn)
        sqlite3_exec(s->db, "COMMIT", NULL, NULL, NULL);
    out->schema_version = (int)version;
    out->file_bytes = file_size(s->path, "");
    out->wal_bytes = file_size(s->path, "-wal");
    return 0;
fail:
    if (own_txn)
        sqlite3_exec(s->db, "ROLLBACK", NULL, NULL, NULL);
    lp_store_stats_free(out);
    return rc;
}

void lp_store_stats_free(lp_store_stats *st)
{
    if (!st)
        return;
    free(st->per_platform);
    free(st->per_kernel);
    st->per_platform = NULL;
    st->per_kernel = NULL;
    st->n_per_platform = st->n_per_kernel = 0;
}

#define EXPORT_MAX_COLS 32
#define ISO_TIME(col) "strftime('%Y-%m-%dT%H:%M:%SZ', " col ", 'unixepoch')"

static const char export_kernels_sql[] =
    "SELECT p.name AS platform, p.engine AS engine, k.kernel_type AS kernel_type, "
    "k.config AS config, k.median_ms AS median_ms, k.mean_ms AS mean_ms, k.spread AS spread, "
    "k.runs AS runs, " ISO_TIME("k.measured_at") " AS measured_at, m.cpu_model AS cpu_model, "
    "m.kernel AS os_kernel, m.hostname AS hostname, k.engine_version AS engine_version "
    "FROM kernel_measurements k JOIN platforms p ON p.id = k.platform_id "
    "JOIN machines m ON m.id = k.machine_id ORDER BY p.name, k.kernel_type, k.id";

static const char export_models_sql[] =
    "SELECT p.name AS platform, p.engine AS engine, d.key AS model_key, d.name AS model, "
    "d.space AS space, r.median_ms AS median_ms, r.mean_ms AS mean_ms, r.spread AS spread, "
    "r.runs AS runs, " ISO_TIME("r.measured_at") " AS measured_at, m.cpu_model AS cpu_model, "
    "m.kernel AS os_kernel, m.hostname AS hostname, r.engine_version AS engine_version, "
    "d.text AS model_text "
    "FROM model_measurements r JOIN platforms p ON p.id = r.platform_id "
    "JOIN models d ON d.id = r.model_id JOIN machines m ON m.id = r.machine_id "
    "ORDER BY p.name, d.space, d.name, r.id";

static int export_rows(lp_store *s, sqlite3_stmt *st, lp_store_row_fn fn, void *ctx, lp_err *err)
{
    const char *names[EXPORT_MAX_COLS], *vals[EXPORT_MAX_COLS];
    int ncol = sqlite3_column_count(st);
    for (int i = 0; i < ncol; i++)
        names[i] = sqlite3_column_name(st, i);
    int rc = fn(ctx, ncol, names, NULL);
    while (rc >= 0 && (rc = step_one(s, st, "export", err)) > 0) {
        for (int i = 0; i < ncol; i++)
            vals[i] = (const char *)sqlite3_column_text(st, i);
        rc = fn(ctx, ncol, names, vals);
    }
    return rc < 0 ? rc : 0;
}

int lp_store_export(lp_store *s, lp_store_table table, lp_store_row_fn fn, void *ctx,
                    lp_err *err)
{
    const char *sql = table == LP_STORE_KERNELS ? export_kernels_sql
                    : table == LP_STORE_MODELS  ? export_models_sql
                                                : NULL;
    sqlite3_stmt *st = NULL;
    if (!sql || !fn)
        return lp_err_set(err, LP_EINVAL, "%s: export: unknown table %d or no callback", s->path,
                          (int)table);
    if (sqlite3_prepare_v2(s->db, sql, -1, &st, NULL) != SQLITE_OK)
        return db_err(s, "export", err);
    if (sqlite3_column_count(st) > EXPORT_MAX_COLS) {
        sqlite3_finalize(st);
        return lp_err_set(err, LP_ESTORE, "%s: export: too many columns", s->path);
    }
    int rc = export_rows(s, st, fn, ctx, err);
    sqlite3_finalize(st);
    return rc;
}
