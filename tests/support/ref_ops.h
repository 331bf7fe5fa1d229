/* A naive reference interpreter for primitive graphs: obviously-correct
 * loops in double precision, one multi-index at a time, against which the
 * engines are checked. Slow by design; for small test shapes only. */
#ifndef LP_REF_OPS_H
#define LP_REF_OPS_H

#include <litepred/graph.h>

/** Computes every tensor of a filled graph; returns n_tensors malloc'd arrays
 *  (inputs and weights are copies), or NULL for an unknown primitive. */
float **lp_ref_run(const lp_graph *g);
/** Frees what lp_ref_run returned. */
void lp_ref_free(const lp_graph *g, float **t);
/** Reference value of one activation. */
double lp_ref_act(lp_act act, double x);

#endif
