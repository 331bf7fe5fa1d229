/* The measurement store: one SQLite file (WAL mode) holding platforms, kernel
 * measurements keyed by (platform, kernel type, canonical config), models and
 * model measurements. Writes go in explicit batches, one transaction each, so a
 * campaign killed half-way keeps every committed batch and nothing of the
 * others; re-inserting a stored key is a no-op, which is what makes a campaign
 * resumable. An lp_store is not thread-safe: use one per thread. */
#ifndef LITEPRED_STORE_H
#define LITEPRED_STORE_H

#include <stddef.h>
#include <stdint.h>
#include <litepred/plugin.h>

#ifdef __cplusplus
extern "C" {
#endif

/** Schema version this library writes (PRAGMA user_version); newer files are refused. */
#define LP_STORE_SCHEMA_VERSION 1
/** Marks a SQLite file as a litepred store (PRAGMA application_id, "LPRD"). */
#define LP_STORE_APPLICATION_ID 0x4c505244
/** Size of name buffers (platform, engine, kernel type, model name, space, engine version). */
#define LP_STORE_NAME_MAX 128
/** Size of the platform options buffer ("k=v,k=v"). */
#define LP_STORE_OPTIONS_MAX 1024
/** Size of a model key buffer (fits a hex SHA-256 and its NUL). */
#define LP_STORE_KEY_MAX 65

/** Flags of lp_store_open. */
enum {
    LP_STORE_READONLY = 1u << 0 /**< open an existing store read-only; never creates a file */
};

/** An open store (opaque). */
typedef struct lp_store lp_store;

/** A machine fingerprint: what a measurement was taken on. */
typedef struct lp_machine {
    char cpu_model[256]; /**< /proc/cpuinfo model name (or the closest field the CPU has) */
    char kernel[512];    /**< uname -r and uname -v, space-separated */
    char hostname[256];  /**< uname -n, or "" when not recorded */
} lp_machine;

/** Statistics of one measurement (kernel or model). */
typedef struct lp_measure {
    double median_ms;   /**< median latency, milliseconds */
    double mean_ms;     /**< mean latency, milliseconds */
    double spread;      /**< robust relative spread (e.g. IQR / median), >= 0 */
    int64_t runs;       /**< timed runs, >= 1 */
    int64_t measured_at; /**< Unix time in seconds; 0 on insert means "now" */
    int64_t machine_id; /**< id from lp_store_machine_id */
    char engine_version[LP_STORE_NAME_MAX]; /**< the engine's version string */
} lp_measure;

/** A stored platform. */
typedef struct lp_platform_info {
    int64_t id;                           /**< row id, used as platform_id */
    char name[LP_STORE_NAME_MAX];         /**< unique platform name */
    char engine[LP_STORE_NAME_MAX];       /**< engine plugin name */
    char options[LP_STORE_OPTIONS_MAX];   /**< canonical "k=v,k=v" engine options */
    int64_t created_at;                   /**< Unix time in seconds */
} lp_platform_info;

/** A stored model; free text with lp_model_info_free. */
typedef struct lp_model_info {
    int64_t id;                     /**< row id, used as model_id */
    char key[LP_STORE_KEY_MAX];     /**< unique key (hash of the model text by default) */
    char name[LP_STORE_NAME_MAX];   /**< model name */
    char space[LP_STORE_NAME_MAX];  /**< search space it was drawn from, or "" */
    char *text;                     /**< the model's text or encoding (malloc'd) */
    int64_t created_at;             /**< Unix time in seconds */
} lp_model_info;

/** Measurement count of one platform. */
typedef struct lp_store_platform_count {
    char name[LP_STORE_NAME_MAX];   /**< platform name */
    char engine[LP_STORE_NAME_MAX]; /**< engine plugin name */
    int64_t kernels;                /**< kernel measurements */
    int64_t model_measurements;     /**< model measurements */
} lp_store_platform_count;

/** Kernel measurement count of one (platform, kernel type). */
typedef struct lp_store_kernel_count {
    char platform[LP_STORE_NAME_MAX];    /**< platform name */
    char kernel_type[LP_STORE_NAME_MAX]; /**< kernel type */
    int64_t count;                       /**< kernel measurements */
} lp_store_kernel_count;

/** Summary of a store; free with lp_store_stats_free. */
typedef struct lp_store_stats {
    int schema_version;       /**< PRAGMA user_version */
    char journal_mode[16];    /**< "wal" for a store this library wrote */
    int64_t file_bytes;       /**< size of the database file */
    int64_t wal_bytes;        /**< size of the -wal file (0 when absent) */
    int64_t machines;         /**< rows of machines */
    int64_t platforms;        /**< rows of platforms */
    int64_t kernels;          /**< rows of kernel_measurements */
    int64_t models;           /**< rows of models */
    int64_t model_measurements; /**< rows of model_measurements */
    lp_store_platform_count *per_platform; /**< one per platform, by name */
    size_t n_per_platform;    /**< entries of per_platform */
    lp_store_kernel_count *per_kernel; /**< one per (platform, kernel type) with rows, sorted */
    size_t n_per_kernel;      /**< entries of per_kernel */
} lp_store_stats;

/** What lp_store_export writes. */
typedef enum lp_store_table {
    LP_STORE_KERNELS = 1, /**< kernel measurements joined with platform and machine */
    LP_STORE_MODELS       /**< model measurements joined with platform, model and machine */
} lp_store_table;

/** Export callback: first called once with values == NULL (the header), then once per row;
 *  a NULL value is SQL NULL. A negative return stops the export and is returned. */
typedef int (*lp_store_row_fn)(void *ctx, int ncol, const char *const *names,
                               const char *const *values);

/* ---- machines ------------------------------------------------------ */

/** Reads this machine's CPU model, kernel and (when with_hostname) host name. */
int lp_machine_fingerprint(lp_machine *m, int with_hostname, lp_err *err);

/* ---- opening ---------------------------------------------------------- */

/** Opens (creating when absent, unless LP_STORE_READONLY) the store at path; refuses files
 *  that are not litepred stores or were written by a newer schema version. */
int lp_store_open(const char *path, unsigned flags, lp_store **out, lp_err *err);
/** Rolls back an uncommitted batch and closes; NULL is fine. */
void lp_store_close(lp_store *s);
/** The path the store was opened with. */
const char *lp_store_path(const lp_store *s);

/* ---- batches ---------------------------------------------------------- */

/** Starts a batch (one write transaction); writes outside a batch commit one by one. */
int lp_store_begin(lp_store *s, lp_err *err);
/** Commits the open batch durably; on failure the batch is rolled back. */
int lp_store_commit(lp_store *s, lp_err *err);
/** Discards the open batch. */
int lp_store_rollback(lp_store *s, lp_err *err);
/** True while a batch is open. */
int lp_store_in_batch(const lp_store *s);

/* ---- machines and platforms -------------------------------------------- */

/** Stores m (or finds it stored) and writes its id. */
int lp_store_machine_id(lp_store *s, const lp_machine *m, int64_t *id, lp_err *err);
/** Reads machine id into m; LP_ENOTFOUND when absent. */
int lp_store_machine_get(lp_store *s, int64_t id, lp_machine *m, lp_err *err);
/** Stores a platform (or finds the same one stored) and writes its id; LP_EEXIST when the
 *  name is stored with another engine or options. options may be NULL (none). */
int lp_store_platform_add(lp_store *s, const char *name, const char *engine, const char *options,
                          int64_t *id, lp_err *err);
/** Reads the platform called name; LP_ENOTFOUND when absent. */
int lp_store_platform_get(lp_store *s, const char *name, lp_platform_info *out, lp_err *err);
/** Canonical form of "k=v,k=v" options (pairs sorted by key, blanks trimmed) into *out (malloc'd). */
int lp_store_canonical_options(const char *kv, char **out, lp_err *err);

/* ---- kernel measurements ----------------------------------------------- */

/** Stores a kernel measurement; a stored key is left as it is and *is_new (may be NULL) says which. */
int lp_store_put_kernel(lp_store *s, int64_t platform_id, const char *kernel_type,
                        const char *config, const lp_measure *m, int *is_new, lp_err *err);
/** 1 when (platform, kernel type, config) is stored, 0 when not, negative LP_E* on error. */
int lp_store_has_kernel(lp_store *s, int64_t platform_id, const char *kernel_type,
                        const char *config, lp_err *err);
/** Reads a kernel measurement; LP_ENOTFOUND when absent. */
int lp_store_get_kernel(lp_store *s, int64_t platform_id, const char *kernel_type,
                        const char *config, lp_measure *out, lp_err *err);
/** Number of kernel measurements of a platform (kernel_type NULL: every type). */
int lp_store_count_kernels(lp_store *s, int64_t platform_id, const char *kernel_type,
                           int64_t *count, lp_err *err);

/* ---- models and model measurements ------------------------------------- */

/** Hex FNV-1a 64 of text into key (17 bytes at least); the default model key. */
void lp_store_model_key(const char *text, char key[LP_STORE_KEY_MAX]);
/** Stores a model (or finds the same one stored) and writes its id; key NULL means
 *  lp_store_model_key(text); LP_EEXIST when the key is stored with another model. */
int lp_store_model_add(lp_store *s, const char *key, const char *name, const char *space,
                       const char *text, int64_t *id, lp_err *err);
/** Reads the model with key; LP_ENOTFOUND when absent. */
int lp_store_model_get(lp_store *s, const char *key, lp_model_info *out, lp_err *err);
/** Frees a model's text. */
void lp_model_info_free(lp_model_info *m);
/** Stores a model measurement; a stored (platform, model) is left as it is, *is_new says which. */
int lp_store_put_model(lp_store *s, int64_t platform_id, int64_t model_id, const lp_measure *m,
                       int *is_new, lp_err *err);
/** 1 when (platform, model) is stored, 0 when not, negative LP_E* on error. */
int lp_store_has_model(lp_store *s, int64_t platform_id, int64_t model_id, lp_err *err);
/** Reads a model measurement; LP_ENOTFOUND when absent. */
int lp_store_get_model(lp_store *s, int64_t platform_id, int64_t model_id, lp_measure *out,
                       lp_err *err);

/* ---- inspection ---------------------------------------------------------- */

/** Counts rows per table, per platform and per (platform, kernel type); sizes; journal mode. */
int lp_store_get_stats(lp_store *s, lp_store_stats *out, lp_err *err);
/** Frees the arrays of a stats summary. */
void lp_store_stats_free(lp_store_stats *st);
/** Streams a table's rows (as text, joined with names) to fn; see lp_store_row_fn. */
int lp_store_export(lp_store *s, lp_store_table table, lp_store_row_fn fn, void *ctx,
                    lp_err *err);

#ifdef __cplusplus
}
#endif
#endif
