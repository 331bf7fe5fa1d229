/* NAS search spaces: YAML files (configs/spaces/NAME.yaml) that list the choices of a
 * space; the core expands a drawn architecture into a model with a small set of block
 * builders, so a new space of a known block family is a new YAML file and no code.
 *
 * Space file format (one example; every key is described below it):
 *
 *   space: ofa-mbv3-w1.0                     # name (required; `litepred space sample NAME`)
 *   summary: OFA MobileNetV3 w1.0            # one line for `litepred space list`
 *   resolution: {min: 128, max: 224, step: 4}
 *   rounding: make_divisible                 # make_divisible | get_divisible_by | rint
 *   width_mult: 1.0                          # widths become round(c * width_mult)
 *   per_block: [k, e]                        # drawn per block slot; other choices per stage
 *   se: {rule: ofa, act: relu}               # squeeze-excite width rule and inner act
 *   stem:
 *     - {op: conv, c: 16, k: 3, s: 2, act: hswish}
 *   stages:
 *     - {block: mbconv, c: 16, d: 1, k: 3, e: 1, s: 1, act: relu}
 *     - {block: mbconv, c: 24, d: [2, 3, 4], k: [3, 5, 7], e: [3, 4, 6], s: 2, act: relu}
 *     - {block: mbconv, c: 40, d: [2, 3, 4], k: [3, 5, 7], e: [3, 4, 6], s: 2, act: relu, se: true}
 *   head:
 *     - {op: conv, c: 960, act: hswish}
 *     - {op: pool}
 *     - {op: fc, c: 1280, act: hswish}
 *     - {op: classifier}
 *
 * Values: a number is fixed; a list is a choice (uniform over its entries, so a repeated
 * entry weighs more); {min, max, step} is a choice over the range; {each: [...]} (stages
 * only) gives one fixed value per block, and the stage depth is the list's length.
 *
 * Top level: space, summary, resolution (default 224), classes (default 1000), rounding
 * (mid-width and width rule, default make_divisible), width_mult (when given, every width
 * except the classifier's becomes round(c * width_mult) by the rounding rule), per_block
 * (any of k, e, heads, mlp), se ({rule: ofa|fbnet, act: relu}), stem, stages, head.
 *
 * Layers (stem and head, `op:`):
 *   conv        conv-bn-relu 1x1..kxk: c (or mult: cout = round(cin * mult)), k (1), s (1), act
 *   res-conv    kxk conv (c unchanged) plus identity add; present when its choice d > 0
 *   maxpool     k, s
 *   pool        global average pool
 *   fc          fully connected to c, then a standalone activation kernel when act is given
 *   classifier  fc to `classes`
 *   patch       ViT patch embedding: conv k x k stride k to c (no activation), then tokens
 *   layernorm   over the channel/embedding dim
 *   token-pool  mode: mean (patch tokens) | cls (class token)
 *
 * Stages (`block:`), each with d blocks where only the first uses the stride s:
 *   mbconv      c, d, k, e, s, act, se (bool), residual (auto: s == 1 and cin == cout; none),
 *               zero (bool: a non-first block may be skipped, ProxylessNAS's Zero op)
 *   bottleneck  c, d, e (mid = round(cout * e)), s, act, shortcut (avgpool-conv: ResNet-D;
 *               conv: 1x1 strided conv)
 *   transformer d, heads, mlp (ratio), head_dim (64); width = the embedding dim
 *
 * Encoding (written into each sampled model): `r` when the resolution is a choice, then
 * one list per choice name (c, d, k, e, heads, mlp) in the order the space is walked (stem,
 * stages, head). A per-stage choice adds one value per stage that has it; a per_block
 * choice adds one value per block slot up to the stage's largest depth (inactive slots
 * included, as OFA does), so every model of a space has an encoding of the same length.
 */
#ifndef LITEPRED_SPACE_H
#define LITEPRED_SPACE_H

#include <litepred/model.h>

#ifdef __cplusplus
extern "C" {
#endif

/* ---- deterministic random numbers (same on every machine) ----------- */

/** xoshiro256** state. */
typedef struct lp_rng {
    uint64_t s[4]; /**< state words */
} lp_rng;

/** Advances a splitmix64 state and returns the next output. */
uint64_t lp_splitmix64(uint64_t *state);
/** Seeds rng from a 64-bit seed (through splitmix64). */
void lp_rng_seed(lp_rng *rng, uint64_t seed);
/** Next 64 random bits. */
uint64_t lp_rng_next(lp_rng *rng);
/** Uniform integer in [0, n) (n > 0). */
uint64_t lp_rng_below(lp_rng *rng, uint64_t n);

/* ---- channel arithmetic ------------------------------------------------ */

/** Width rounding rules. */
typedef enum lp_round {
    LP_ROUND_MAKE_DIVISIBLE = 0, /**< OFA make_divisible(v, 8) */
    LP_ROUND_GET_DIVISIBLE_BY,   /**< FBNet get_divisible_by(v, 8) */
    LP_ROUND_RINT                /**< rint(v) (original ProxylessNAS) */
} lp_round;

/** Squeeze-excite width rules. */
typedef enum lp_se_rule {
    LP_SE_OFA = 0, /**< lp_se_width_ofa: make_divisible(cmid / 4 (integer division), 8) */
    LP_SE_FBNET    /**< lp_se_width_fbnet: get_divisible_by((int)(cmid * 0.25 / e), 8) */
} lp_se_rule;

/* make_divisible and get_divisible_by themselves are kernel.h's lp_make_divisible and
 * lp_get_divisible_by (shared with the kernel plugins). */

/** A width v rounded by rule: make_divisible(v, 8), get_divisible_by(v, 8) or rint(v). */
int lp_round_width(lp_round rule, double v);
/** MBConv middle width: make_divisible(rint(cin*e)), get_divisible_by(cin*e) or rint(cin*e). */
int lp_mbconv_mid(lp_round rule, int cin, double e);
/** Squeeze-excite width of a block with middle width cmid and expand ratio e. */
int lp_se_width(lp_se_rule rule, int cmid, double e);

/* ---- spaces ----------------------------------------------------------- */

/** A parsed search space (opaque). */
typedef struct lp_space lp_space;

/** Parses a space document; every problem goes to diag. 0 or LP_EINVAL (or LP_ENOMEM). */
int lp_space_parse(const lp_ydoc *doc, lp_space **out, lp_diag *diag);
/** Loads a space file; the first problem fails with its file:line:col. */
int lp_space_load(const char *path, lp_space **out, lp_err *err);
/** Frees a space. NULL is fine. */
void lp_space_free(lp_space *s);
/** The space's name. */
const char *lp_space_name(const lp_space *s);
/** The space's one-line summary ("" when none). */
const char *lp_space_summary(const lp_space *s);
/** Largest width of each stem layer, stage and head layer with a width, in order
 *  (classifier excluded); returns how many there are (only max are written). */
size_t lp_space_widths(const lp_space *s, int *out, size_t max);

/** Draws model `index` of the stream `seed`: model name "<space>-s<seed>-<index:04>" (the
 *  space's name when it has no choices: a named network). Depends only on the space's
 *  name, seed and index, never on how many models are drawn. Built, not yet resolved. */
int lp_space_sample(const lp_space *s, uint64_t seed, uint64_t index, lp_model **out,
                    lp_err *err);
/** Rebuilds a model of the space from an encoding (enc->enc), e.g. a model file's. */
int lp_space_build(const lp_space *s, const lp_model *enc, const char *name, lp_model **out,
                   lp_err *err);
/** Samples, resolves and shape-checks model `index` of stream `seed`. */
int lp_space_sample_checked(const lp_space *s, const lp_registry *reg, uint64_t seed,
                            uint64_t index, lp_model **out, lp_err *err);

/** Default spaces directory: $LITEPRED_SPACES_PATH, else <exe>/../share/litepred/configs/spaces
 *  when it exists, else the source tree's configs/spaces. */
const char *lp_spaces_dir_default(void);
/** Finds a space: a path (contains '/' or ends in .yaml) as is, else dir/NAME.yaml, else the
 *  file in dir whose `space:` is NAME. Writes a malloc'd path. */
int lp_space_find(const char *dir, const char *name, char **path, lp_err *err);
/** Every *.yaml in dir, sorted by file name; malloc'd paths (free with lp_strv_free). */
int lp_space_files(const char *dir, char ***paths, size_t *n, lp_err *err);

/** Validates a parsed space document, then samples a few models from it and shape-checks
 *  them against the registry; every problem goes to diag with file:line:col. */
int lp_space_check_doc(const lp_registry *reg, const lp_ydoc *doc, lp_diag *diag);

#ifdef __cplusplus
}
#endif
#endif
