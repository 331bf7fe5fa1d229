/* What the native engine accepts: every node the core calls well-formed
 * (lp_graph_node_check, so a malformed graph fails at prepare instead of
 * writing out of bounds at run), less the mul broadcasts its kernel lacks. */
#include "native.h"

void lp_native_same_pad(int64_t in, int k, int s, int64_t *out, int *pad_before)
{
    int64_t o = (in + s - 1) / s;
    int64_t total = (o - 1) * s + k - in;
    if (total < 0)
        total = 0;
    *out = o;
    *pad_before = (int)(total / 2);
}

int lp_native_check(const lp_graph *g, const lp_node *nd, lp_err *err)
{
    /* A primitive past the enum may come from a newer core: beyond this engine, not malformed. */
    if ((int)nd->prim < 1 || nd->prim >= LP_PRIM_COUNT_)
        return lp_err_set(err, LP_EUNSUPPORTED, "native: unsupported primitive #%d", (int)nd->prim);
    int rc = lp_graph_node_check(g, nd, NULL, err);
    if (rc) {
        lp_err_prefix(err, "native: ");
        return rc;
    }
    /* The mul kernel walks b once per row of a's last axis: no other broadcast. */
    if (nd->prim == LP_PRIM_MUL &&
        !lp_shape_bcast_last(&g->tensors[nd->in[0]].shape, &g->tensors[nd->in[1]].shape))
        return lp_err_set(err, LP_EUNSUPPORTED,
                          "native: mul: b must have a's shape or broadcast over the last axis "
                          "([1,...,1,C])");
    return 0;
}
