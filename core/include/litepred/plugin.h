/* litepred plugin ABI: errors, option tables and the plugin descriptor.
 * A plugin .so includes this header (and its kind's header) and nothing else
 * of the project's internals. */
#ifndef LITEPRED_PLUGIN_H
#define LITEPRED_PLUGIN_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/** Major ABI version: a plugin loads only when its major equals the core's. */
#define LP_ABI_MAJOR 1
/** Minor ABI version: a plugin loads only when its minor is <= the core's. */
#define LP_ABI_MINOR 0

/** Marks a symbol exported from a hidden-visibility plugin or the core. */
#define LP_EXPORT __attribute__((visibility("default")))

/* ---- errors ---------------------------------------------------------- */

/** Error codes: every fallible function returns 0 or one of these (negative). */
enum {
    LP_OK = 0,
    LP_EINVAL = -1,       /**< invalid argument or configuration value */
    LP_ENOMEM = -2,       /**< out of memory */
    LP_EIO = -3,          /**< file or system I/O failed */
    LP_ENOTFOUND = -4,    /**< a named thing (file, plugin, key) does not exist */
    LP_EABI = -5,         /**< plugin ABI mismatch or malformed descriptor */
    LP_EUNSUPPORTED = -6, /**< an engine lacks a primitive or configuration */
    LP_EEXIST = -7,       /**< duplicate (plugin kind/name, key, ...) */
    LP_EPARSE = -8,       /**< malformed input file */
    LP_ESTORE = -9,       /**< the measurement store failed */
    LP_EPLUGIN = -10,     /**< a plugin's own initialisation failed */
    LP_ECORRUPT = -11,    /**< a file failed its checksum or is truncated */
    LP_EINTERRUPTED = -12 /**< work was interrupted (signal) */
};

/** An error: the code and a message that carries its context. */
typedef struct lp_err {
    int code;       /**< 0 or a negative LP_E* code */
    char msg[1024]; /**< human-readable message, empty when code is 0 */
} lp_err;

/** Sets err (when not NULL) to code and a printf-style message; returns code. */
int lp_err_set(lp_err *err, int code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/** Prefixes err's message with a printf-style context ("file.yaml:3: ..."); returns err->code. */
int lp_err_prefix(lp_err *err, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/** Clears err to LP_OK and an empty message. */
void lp_err_clear(lp_err *err);

/** Short name of an error code ("LP_EINVAL"). */
const char *lp_strerror(int code);

/* ---- option tables (FFmpeg AVOption style) ----------------------------- */

/** Value type of an option; decides how the YAML scalar is parsed and stored. */
typedef enum lp_opt_type {
    LP_OPT_INT = 1, /**< int64_t at offset */
    LP_OPT_DOUBLE,  /**< double at offset */
    LP_OPT_BOOL,    /**< int (0/1) at offset */
    LP_OPT_STRING,  /**< char * at offset, owned by the core (freed with the instance) */
    LP_OPT_CHOICE   /**< int index into choices at offset; YAML gives the name */
} lp_opt_type;

/** Option flags. */
enum {
    LP_OPT_REQUIRED = 1u << 0 /**< must be given in YAML; there is no default */
};

/** One option of a plugin (or of a core schema); a table ends with LP_OPT_END. */
typedef struct lp_option {
    const char *name;               /**< YAML key */
    const char *help;               /**< one line for `litepred help` */
    lp_opt_type type;               /**< value type */
    size_t offset;                  /**< offset of the value in the private state */
    int64_t def_i;                  /**< default for INT and BOOL */
    double def_d;                   /**< default for DOUBLE */
    const char *def_s;              /**< default for STRING and CHOICE (a choice name) */
    double min, max;                /**< inclusive range for INT and DOUBLE; ignored when min > max */
    const char *const *choices;     /**< NULL-terminated names for CHOICE */
    unsigned flags;                 /**< LP_OPT_* flags */
} lp_option;

/** Terminates an option table. */
#define LP_OPT_END {0}

/* ---- the plugin descriptor ------------------------------------------- */

/** What a plugin provides; selects the ops struct type. */
typedef enum lp_kind {
    LP_KIND_ENGINE = 1, /**< runs primitive graphs (lp_engine_ops) */
    LP_KIND_KERNEL,     /**< describes a fused kernel type (lp_kernel_ops) */
    LP_KIND_SAMPLER,    /**< draws kernel configurations (lp_sampler_ops) */
    LP_KIND_SIMILARITY, /**< scores pool predictors against measurements (lp_similarity_ops) */
    LP_KIND_PREDICTOR   /**< learns latency from features (lp_predictor_ops) */
} lp_kind;

/** Number of plugin kinds (kinds are 1..LP_KIND_COUNT). */
#define LP_KIND_COUNT 5

/** Static descriptor returned by a plugin's lp_plugin_entry(). Members are only appended. */
typedef struct lp_plugin_desc {
    uint16_t abi_major;            /**< LP_ABI_MAJOR the plugin was built against */
    uint16_t abi_minor;            /**< LP_ABI_MINOR the plugin was built against */
    uint32_t struct_size;          /**< sizeof(lp_plugin_desc) the plugin was built with */
    lp_kind kind;                  /**< plugin kind */
    const char *name;              /**< the YAML `plugin:` value, unique per kind */
    const char *summary;           /**< one line for `litepred plugins` */
    const lp_option *options;      /**< option table ending with LP_OPT_END, or NULL */
    size_t priv_size;              /**< bytes of private state the core allocates per instance */
    const void *ops;               /**< const lp_<kind>_ops * */
    /** Optional: called once after load; fails when a runtime dependency is unusable. */
    int (*probe)(lp_err *err);
    /** Optional: called after options are applied, for cross-field checks and setup. */
    int (*init)(void *priv, lp_err *err);
    /** Optional: releases what init acquired (the core frees the state and strings). */
    void (*fini)(void *priv);
} lp_plugin_desc;

/** Fills the ABI fields of a descriptor initialiser. */
#define LP_PLUGIN_ABI .abi_major = LP_ABI_MAJOR, .abi_minor = LP_ABI_MINOR, \
                      .struct_size = sizeof(lp_plugin_desc)

/** Name of the one symbol every plugin exports. */
#define LP_PLUGIN_ENTRY_SYMBOL "lp_plugin_entry"

/** Type of the entry point. */
typedef const lp_plugin_desc *(*lp_plugin_entry_fn)(void);

/** Defines the plugin's exported entry point returning &desc. */
#define LP_PLUGIN_DEFINE(desc) \
    LP_EXPORT const lp_plugin_desc *lp_plugin_entry(void) { return &(desc); }

/** True when a versioned ops struct (first member `size_t size`) has member m. */
#define LP_OPS_HAS(ops, type, m) \
    ((ops) != NULL && (ops)->size >= offsetof(type, m) + sizeof((ops)->m) && (ops)->m != NULL)

/** Name of a kind ("engine", "kernel", ...), or NULL when out of range. */
const char *lp_kind_name(lp_kind kind);

/** Parses a kind name (singular or plural: "engine", "engines"); returns 0 when unknown. */
lp_kind lp_kind_parse(const char *name);

#ifdef __cplusplus
}
#endif
#endif
