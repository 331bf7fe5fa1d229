/* Engine plugins: run primitive graphs. The core's harness does the timing so
 * every engine is timed the same way; an engine only prepares and runs. */
#ifndef LITEPRED_ENGINE_H
#define LITEPRED_ENGINE_H

#include <litepred/graph.h>

#ifdef __cplusplus
extern "C" {
#endif

/** Operations of an engine. Only ever appended; check size before using a member. */
typedef struct lp_engine_ops {
    size_t size; /**< sizeof(lp_engine_ops) at build time */
    /** 0 when the engine can run node of g, else LP_EUNSUPPORTED naming the primitive and why. */
    int (*supports)(void *priv, const lp_graph *g, const lp_node *node, lp_err *err);
    /** Allocates tensors and engine objects for g (inputs and weights already filled); writes *runnable. */
    int (*prepare)(void *priv, const lp_graph *g, void **runnable, lp_err *err);
    /** Runs the prepared graph once, computing every output for real. */
    int (*run)(void *runnable, lp_err *err);
    /** Copies graph output i (fp32, dequantised where the engine is int8) into dst of n elements. */
    int (*output)(void *runnable, size_t i, float *dst, size_t n, lp_err *err);
    /** Releases a runnable. */
    void (*release)(void *runnable);
    /** Engine library and version, for the machine fingerprint ("OpenBLAS 0.3.21"). */
    const char *(*version)(void *priv);
    /** Threads the instance runs with (the harness pins 1-thread platforms). */
    int (*threads)(void *priv);
} lp_engine_ops;

#ifdef __cplusplus
}
#endif
#endif
