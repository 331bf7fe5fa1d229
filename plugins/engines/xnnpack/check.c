/* Structural checks of a node before it is lowered: XNNPACK trusts the sizes
 * it is given, so a malformed graph must fail here with LP_EINVAL (the core's
 * rules, lp_graph_node_check) instead of reading or writing out of bounds at
 * run. What XNNPACK cannot do is refused in lowering, with LP_EUNSUPPORTED. */
#include "xnn.h"

int lp_xcheck_node(const lp_graph *g, const lp_node *nd, lp_err *err)
{
    /* A primitive past the enum may come from a newer core: beyond this engine, not malformed. */
    if ((int)nd->prim < 1 || nd->prim >= LP_PRIM_COUNT_)
        return lp_err_set(err, LP_EUNSUPPORTED, "xnnpack: unknown primitive #%d", (int)nd->prim);
    int rc = lp_graph_node_check(g, nd, NULL, err);
    if (rc) {
        lp_err_prefix(err, "xnnpack: ");
        return rc;
    }
    /* The binary step is lowered as [rows, C] times [C]; other broadcasts would be misread. */
    if (nd->prim == LP_PRIM_MUL &&
        !lp_shape_bcast_last(&g->tensors[nd->in[0]].shape, &g->tensors[nd->in[1]].shape))
        return lp_err_set(err, LP_EUNSUPPORTED,
                          "xnnpack: mul: b must have a's shape or be [1, ..., 1, C]");
    return 0;
}
