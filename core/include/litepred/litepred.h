/* litepred application API: plugin registry, plugin instances, YAML trees
 * with positions, config diagnostics and progress reporting. */
#ifndef LITEPRED_LITEPRED_H
#define LITEPRED_LITEPRED_H

#include <stdio.h>
#include <litepred/plugin.h>
#include <litepred/graph.h>
#include <litepred/kernel.h>
#include <litepred/engine.h>

#ifdef __cplusplus
extern "C" {
#endif

/** Version string of the core library. */
#define LP_VERSION "0.1.0"

/* ---- YAML trees (libyaml documents with 1-based line/column) --------- */

/** YAML node type. */
typedef enum lp_ytype { LP_Y_SCALAR = 1, LP_Y_SEQ, LP_Y_MAP } lp_ytype;

/** A YAML node; maps keep key order and each key's position. */
typedef struct lp_ynode {
    lp_ytype type;              /**< scalar, sequence or mapping */
    char *str;                  /**< scalar text (SCALAR only) */
    int quoted;                 /**< scalar was quoted (never a number or bool) */
    int line, col;              /**< 1-based position of the node */
    size_t n;                   /**< items (SEQ) or pairs (MAP) */
    struct lp_ynode **items;    /**< SEQ items, or MAP values */
    struct lp_ynode **keys;     /**< MAP keys (scalars), else NULL */
} lp_ynode;

/** A parsed YAML file. */
typedef struct lp_ydoc {
    char *path;     /**< file the document came from (for messages) */
    lp_ynode *root; /**< root node; NULL for an empty file */
} lp_ydoc;

/** Parses a YAML file; malformed YAML fails with "file:line:col: malformed YAML: ...". */
int lp_yaml_load(const char *path, lp_ydoc **out, lp_err *err);
/** Parses YAML text; name is used in messages in place of a path. */
int lp_yaml_parse(const char *text, size_t len, const char *name, lp_ydoc **out, lp_err *err);
/** Frees a document. */
void lp_ydoc_free(lp_ydoc *doc);
/** Value of key in a mapping, or NULL when absent or map is not a mapping. */
const lp_ynode *lp_ymap_get(const lp_ynode *map, const char *key);
/** Name of a node type for messages ("a mapping"). */
const char *lp_ytype_name(lp_ytype t);
/** Parses a scalar as int64 (decimal, no junk); 0 or LP_EINVAL. */
int lp_yscalar_int(const lp_ynode *n, int64_t *out);
/** Parses a scalar as a finite double; 0 or LP_EINVAL. */
int lp_yscalar_double(const lp_ynode *n, double *out);
/** Parses a scalar as a YAML 1.1 bool (true/false/yes/no/on/off); 0 or LP_EINVAL. */
int lp_yscalar_bool(const lp_ynode *n, int *out);

/* ---- diagnostics: every problem of a file, each with file:line:col ---- */

/** A list of problems found while validating. */
typedef struct lp_diag {
    char **msgs;  /**< "file:line:col: message" each */
    size_t n;     /**< count */
    size_t cap;   /**< allocated */
} lp_diag;

/** Appends a problem at node's position in file (node may be NULL: line 1). */
void lp_diag_add(lp_diag *d, const char *file, const lp_ynode *node, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
/** Appends a problem whose message already carries its position. */
void lp_diag_add_raw(lp_diag *d, const char *msg);
/** Prints every problem, one per line. */
void lp_diag_print(const lp_diag *d, FILE *f);
/** Frees the messages and empties the list. */
void lp_diag_free(lp_diag *d);

/* ---- plugin registry ----------------------------------------------- */

/** A loaded plugin (opaque). */
typedef struct lp_plugin lp_plugin;
/** A set of loaded plugins (opaque). */
typedef struct lp_registry lp_registry;

/** Directories to search, in order: cli_path (colon-separated, may be NULL),
 *  then $LITEPRED_PLUGIN_PATH, then the install directory. Never ".". Free with lp_strv_free. */
int lp_plugin_search_path(const char *cli_path, char ***dirs, size_t *n, lp_err *err);
/** Frees a string vector of n entries. */
void lp_strv_free(char **v, size_t n);
/** The install plugin directory: <exe dir>/../lib/litepred/plugins when it exists, else the configured prefix. */
const char *lp_install_plugin_dir(void);

/** Loads every *.so in dirs; fails on the first bad plugin with the file and the reason. */
int lp_registry_open(lp_registry **out, char *const *dirs, size_t n_dirs, lp_err *err);
/** Loads the default search path (see lp_plugin_search_path). */
int lp_registry_open_default(lp_registry **out, const char *cli_path, lp_err *err);
/** Unloads everything. */
void lp_registry_close(lp_registry *reg);
/** Number of loaded plugins. */
size_t lp_registry_count(const lp_registry *reg);
/** The i-th plugin, sorted by kind then name. */
const lp_plugin *lp_registry_at(const lp_registry *reg, size_t i);
/** The plugin of that kind and name, or NULL. */
const lp_plugin *lp_registry_find(const lp_registry *reg, lp_kind kind, const char *name);
/** Comma-separated names of every plugin of a kind into buf ("none" when empty); returns buf. */
char *lp_registry_names(const lp_registry *reg, lp_kind kind, char *buf, size_t size);
/** A plugin's descriptor. */
const lp_plugin_desc *lp_plugin_descriptor(const lp_plugin *p);
/** The file a plugin was loaded from. */
const char *lp_plugin_path(const lp_plugin *p);

/* ---- options and instances ----------------------------------------- */

/** Writes every option default into base (strings duplicated). 0 or LP_EABI for a bad table. */
int lp_options_defaults(const lp_option *table, void *base, lp_err *err);
/** Applies a YAML mapping to base, skipping the keys in `skip` (NULL-terminated, may be NULL);
 *  every problem (unknown key listing valid ones, wrong type, out of range, missing required) goes to diag. */
int lp_options_apply(const lp_option *table, void *base, const lp_ynode *map,
                     const char *const *skip, const char *file, lp_diag *diag);
/** Parses "k=v,k=v" into base against table; the first problem fails with its message. */
int lp_options_parse_kv(const lp_option *table, void *base, const char *kv, lp_err *err);
/** Frees the strings an option table stored in base. */
void lp_options_free(const lp_option *table, void *base);
/** Formats an option's current value in base into buf; returns buf. */
char *lp_option_value_str(const lp_option *o, const void *base, char *buf, size_t size);
/** Formats an option's default into buf; returns buf. */
char *lp_option_default_str(const lp_option *o, char *buf, size_t size);
/** Name of an option type ("int"). */
const char *lp_opt_type_name(lp_opt_type t);

/** A plugin instance: the plugin and its private state with options applied. */
typedef struct lp_instance {
    const lp_plugin *plugin;     /**< what it is */
    const lp_plugin_desc *desc;  /**< the plugin's descriptor */
    void *priv;                  /**< private state (desc->priv_size bytes, options written in) */
    int inited;                  /**< created (init, if any, succeeded): fini is owed */
} lp_instance;

/** Creates an instance: defaults, then the YAML mapping `opts` (may be NULL; its `plugin`
 *  key is skipped), then the plugin's init. Problems go to diag (file may be NULL). */
int lp_instance_create(const lp_plugin *p, const lp_ynode *opts, const char *file,
                       lp_instance **out, lp_diag *diag, lp_err *err);
/** Like lp_instance_create, skipping the keys in skip (NULL-terminated; "plugin" included
 *  by the caller when wanted): for mappings that mix core keys with plugin options. */
int lp_instance_create_skip(const lp_plugin *p, const lp_ynode *opts, const char *const *skip,
                            const char *file, lp_instance **out, lp_diag *diag, lp_err *err);
/** Creates an instance from "k=v,k=v" options (may be NULL or empty). */
int lp_instance_create_kv(const lp_plugin *p, const char *kv, lp_instance **out, lp_err *err);
/** Calls fini, frees option strings and state. */
void lp_instance_destroy(lp_instance *inst);
/** The kind-specific ops of an instance's plugin. */
const void *lp_instance_ops(const lp_instance *inst);

/* ---- platforms ------------------------------------------------------- */

/** Timing-harness settings of a platform (the `harness:` mapping). */
typedef struct lp_harness_opts {
    int64_t warmup;     /**< untimed runs before timing */
    int64_t min_runs;   /**< timed runs before the stability test may stop */
    int64_t max_runs;   /**< cap on timed runs */
    double max_seconds; /**< cap on timed seconds per measurement */
    double ci;          /**< stop when the 95% CI half-width of the median is within this fraction */
    int64_t cpu;        /**< CPU to pin the measuring thread to; -1: no pinning */
    int64_t background; /**< busy threads running beside the measurement (contention platforms) */
    int64_t launches;   /**< process launches whose medians are pooled (multi-thread platforms) */
    int64_t flush_kib;  /**< before every run, write this many KiB to evict the private caches (0: off) */
} lp_harness_opts;

/** Option table of lp_harness_opts (drives defaults, validation and help). */
extern const lp_option lp_harness_options[];

/** A platform: an engine instance with its settings, plus harness settings. */
typedef struct lp_platform {
    char *name;            /**< the `platform:` value (equals the file's stem) */
    char *summary;         /**< optional one line */
    char *path;            /**< file it came from */
    lp_instance *engine;   /**< engine instance, options applied and initialised */
    char *engine_options;  /**< canonical "k=v,k=v" of every engine option, for the store */
    lp_harness_opts harness; /**< timing settings */
} lp_platform;

/** Loads and validates a platform file; every problem goes to diag (LP_EINVAL when any). */
int lp_platform_load(const lp_registry *reg, const char *path, lp_platform **out, lp_diag *diag,
                     lp_err *err);
/** Frees a platform and its engine instance. */
void lp_platform_free(lp_platform *p);
/** Canonical "k=v,k=v" of every option of an instance (all options, defaults included); malloc'd. */
char *lp_instance_options_str(const lp_instance *inst);

/* ---- config files ---------------------------------------------------- */

/** Validates a config file (platform, pipeline, space or model, told apart by its top-level
 *  key) against the registry; every problem goes to diag. 0 when clean, LP_EINVAL when diag
 *  got problems, another LP_E* when the file could not be read. */
int lp_check_file(const lp_registry *reg, const char *path, lp_diag *diag, lp_err *err);

/* ---- progress --------------------------------------------------------- */

/** Progress of long work (opaque). */
typedef struct lp_progress lp_progress;
/** Starts progress for total steps (0: unknown) on stderr; quiet prints nothing. */
lp_progress *lp_progress_start(const char *label, uint64_t total, int quiet);
/** Reports that done steps are finished. */
void lp_progress_update(lp_progress *p, uint64_t done);
/** Ends progress (prints the final line) and frees it; NULL is fine. */
void lp_progress_end(lp_progress *p);

/* ---- misc --------------------------------------------------------- */

/** The configs directory (platforms/, pipelines/, spaces/, models/): $LITEPRED_CONFIG_DIR,
 *  else <exe dir>/../share/litepred/configs when installed, else the source tree's configs/. */
const char *lp_config_dir(void);
/** Resolves a platform argument: a path (contains '/' or ends in .yaml) as is, else
 *  <config dir>/platforms/NAME.yaml. Returns a malloc'd path, or NULL with err set. */
char *lp_platform_path(const char *arg, lp_err *err);

/** Monotonic clock in nanoseconds. */
uint64_t lp_now_ns(void);

/** Median of v[0..n), the mean of the middle two when n is even; sorts v in place (NaN when n is 0). */
double lp_median(double *v, size_t n);

#ifdef __cplusplus
}
#endif
#endif
