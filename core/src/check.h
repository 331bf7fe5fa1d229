/* Internal: config-file validators dispatched by `litepred check`. */
#ifndef LP_CHECK_H
#define LP_CHECK_H

#include <litepred/litepred.h>

/** Validates a parsed config document; every problem goes to diag. */
typedef int (*lp_check_fn)(const lp_registry *reg, const lp_ydoc *doc, lp_diag *diag);

/** Validates a pipeline document. */
int lp_pipeline_check_doc(const lp_registry *reg, const lp_ydoc *doc, lp_diag *diag);
/** Validates a platform document. */
int lp_platform_check_doc(const lp_registry *reg, const lp_ydoc *doc, lp_diag *diag);

/** Adds a problem when node is not a scalar naming a plugin of kind; returns the plugin or NULL. */
const lp_plugin *lp_check_plugin_name(const lp_registry *reg, lp_kind kind, const lp_ynode *node,
                                      const char *file, lp_diag *diag);
/** Validates a plugin reference (a name, or a mapping with `plugin:` and options); creates
 *  the instance into *out when out is not NULL. Problems go to diag; returns 0 or LP_EINVAL. */
int lp_check_plugin_ref(const lp_registry *reg, lp_kind kind, const lp_ynode *node,
                        const char *file, lp_diag *diag, lp_instance **out);
/** Reports every key of map not in keys (NULL-terminated), listing the valid ones. */
void lp_check_keys(const lp_ynode *map, const char *const *keys, const char *file, lp_diag *diag);

#endif
