/* Structural checks of a node: the core's rules (lp_graph_node_check) decide
 * whether it is well-formed, so a malformed graph fails at prepare rather than
 * letting oneDNN read or write out of bounds. What oneDNN itself can do is
 * decided later by creating the primitive; only what that cannot tell is here. */
#include "onednn.h"

void lp_dn_same_pad(int64_t in, int k, int s, int64_t *out, int64_t *pad_l, int64_t *pad_r)
{
    int64_t o = (in + s - 1) / s;
    int64_t total = (o - 1) * s + k - in;
    if (total < 0)
        total = 0;
    *out = o;
    *pad_l = total / 2;
    *pad_r = total - total / 2;
}

int lp_dn_check_node(const lp_graph *g, const lp_node *nd, lp_err *err)
{
    /* A primitive past the enum may come from a newer core: beyond this engine, not malformed. */
    if ((int)nd->prim < 1 || nd->prim >= LP_PRIM_COUNT_)
        return lp_err_set(err, LP_EUNSUPPORTED, "onednn: unsupported primitive #%d", (int)nd->prim);
    int rc = lp_graph_node_check(g, nd, NULL, err);
    if (rc) {
        lp_err_prefix(err, "onednn: ");
        return rc;
    }
    /* lp_dn_binary pads a lower-rank b with leading ones, which is right only for [.., C];
     * oneDNN would accept other broadcasts and compute something else. */
    if (nd->prim == LP_PRIM_MUL &&
        !lp_shape_bcast_last(&g->tensors[nd->in[0]].shape, &g->tensors[nd->in[1]].shape))
        return lp_err_set(err, LP_EUNSUPPORTED, "onednn: mul: b must have a's shape or be "
                          "[1,...,1,C] broadcast over a's last axis");
    return 0;
}
