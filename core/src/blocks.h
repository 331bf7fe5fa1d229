/* Internal: block builders that append the fused kernels of a network part to a
 * model, tracking the current tensor's shape. Used by the space expander. */
#ifndef LP_BLOCKS_H
#define LP_BLOCKS_H

#include <litepred/space.h>

/** Builder state: the model being written and the shape of its current tensor. */
typedef struct lp_bld {
    lp_model *m;  /**< model appended to */
    int cur;      /**< entry producing the current tensor (LP_MODEL_INPUT at first) */
    int hw;       /**< spatial size of the current NHWC tensor (1 after a global pool) */
    int c;        /**< channels (embedding dim in token mode) */
    int ntok;     /**< tokens when in token mode, else 0 */
    lp_err *err;  /**< where failures are described */
} lp_bld;

/** MBConv (inverted residual) arguments. */
typedef struct lp_mbconv_args {
    int cout, k, s;        /**< output width, depthwise kernel, stride */
    double e;              /**< expand ratio */
    lp_act act;            /**< activation of the expand and depthwise convs */
    int se;                /**< squeeze-excite on the depthwise output */
    lp_se_rule se_rule;    /**< its width rule */
    lp_act se_act;         /**< activation inside it */
    int residual;          /**< identity add allowed (taken when s == 1 and cin == cout) */
    lp_round rounding;     /**< middle-width rule */
} lp_mbconv_args;

/** ResNet shortcut variants for a block that changes shape. */
typedef enum lp_shortcut {
    LP_SHORTCUT_AVGPOOL_CONV = 0, /**< ResNet-D: avgpool k=s,s then 1x1 conv-bn */
    LP_SHORTCUT_CONV              /**< 1x1 conv-bn with stride s */
} lp_shortcut;

/** Starts a builder on model m (whose input is hw x hw x c). */
void lp_bld_init(lp_bld *b, lp_model *m, lp_err *err);
/** Dense conv + BN + act to cout channels, k x k, stride s. */
int lp_bld_conv(lp_bld *b, int cout, int k, int s, lp_act act);
/** k x k conv (width unchanged) plus identity add (ResNet-D input stem). */
int lp_bld_res_conv(lp_bld *b, int k, lp_act act);
/** Max pool k x k, stride s. */
int lp_bld_maxpool(lp_bld *b, int k, int s);
/** Global average pool (NHWC -> 1x1). */
int lp_bld_global_pool(lp_bld *b);
/** Fully connected to cout, then a standalone activation kernel unless act is none. */
int lp_bld_fc(lp_bld *b, int cout, lp_act act);
/** MBConv: [expand 1x1] -> depthwise kxk/s -> [SE] -> project 1x1 -> [add]. */
int lp_bld_mbconv(lp_bld *b, const lp_mbconv_args *a);
/** ResNet bottleneck with mid = round(cout * e) by rule, stride on the 3x3, add+ReLU. */
int lp_bld_bottleneck(lp_bld *b, int cout, double e, int s, lp_act act, lp_shortcut sc,
                      lp_round rule);
/** ViT patch embedding: conv k=p, s=p to dim (no act), then tokens with one class token. */
int lp_bld_patch(lp_bld *b, int dim, int p);
/** Pre-norm transformer layer: heads of head_dim, MLP hidden int(dim * mlp) with GELU. */
int lp_bld_transformer(lp_bld *b, int heads, int head_dim, double mlp);
/** Layer norm over the embedding dim (token mode). */
int lp_bld_layernorm(lp_bld *b);
/** Token pooling: mean of patch tokens or the class token (token mode -> vector). */
int lp_bld_token_pool(lp_bld *b, lp_token_pool mode);

#endif
