/* Private to the vae sampler plugin (not installed): the network and its training
 * (vae_net.c) and the checksummed cache file (vae_file.c). Nothing here is exported: the
 * plugin is built with hidden visibility and exports only lp_plugin_entry. */
#ifndef LP_VAE_H
#define LP_VAE_H

#include <litepred/nn.h>
#include <litepred/sampler.h>

/** Rows per training step (LitePred's batch_size). */
#define VAE_BATCH 16
/** Training steps per epoch: LitePred's ceil(10000 / batch). */
#define VAE_ITERS 625
/** KL weight until the first re-set. */
#define VAE_BETA0 0.02
/** Training steps between re-sets of the KL weight. */
#define VAE_BETA_EVERY 50
/** Largest latent or hidden width the options accept. */
#define VAE_MAX_WIDTH 4096
/** Most dense layers per half (encoder or decoder). */
#define VAE_MAX_LAYERS 16

/** One modelled dim: the kernel dim, whether log2 applies, and its range over the prior
 *  (after log2) that min-max scaling maps to [0, 1]. */
typedef struct vae_dim {
    uint32_t dim;  /**< index into the kernel's dims */
    uint32_t log2; /**< 1: modelled as log2(v) */
    double lo, hi; /**< prior's min and max (lo < hi) */
} vae_dim;

/** A VAE: its shape, the input mapping and both halves. */
typedef struct vae_net {
    size_t n_in;                     /**< modelled dims (inputs and outputs) */
    vae_dim map[LP_KCFG_MAX_DIMS];   /**< modelled dims in kernel-dim order */
    int latent, hidden, layers;      /**< latent width, hidden width, dense layers per half */
    lp_mlp *enc; /**< n_in -> hidden (layers - 1 of them, ReLU) -> 2 latent (mean, log-variance) */
    lp_mlp *dec; /**< latent -> hidden (layers - 1 of them, ReLU) -> n_in, sigmoid */
} vae_net;

/** Training settings. */
typedef struct vae_train_opts {
    int64_t epochs; /**< passes of VAE_ITERS steps */
    double lr;      /**< Adam learning rate */
    uint64_t seed;  /**< weights, batch draws and reparameterisation noise */
} vae_train_opts;

/** What training did; per-row means over an epoch's steps. */
typedef struct vae_stats {
    int64_t epochs;         /**< epochs run */
    double recon_first;     /**< squared reconstruction error per row (sum over dims), 1st epoch */
    double recon_last;      /**< the same, last epoch */
    double kl_first;        /**< KL(q(z|x) || N(0, I)) per row, first epoch */
    double kl_last;         /**< the same, last epoch */
    double beta_last;       /**< the KL weight at the end */
    double seconds;         /**< wall time */
} vae_stats;

/** Allocates enc and dec for net's n_in, latent, hidden and layers (parameters zero). */
int vae_net_create(vae_net *net, lp_err *err);
/** Frees enc and dec (the rest of net is plain data). */
void vae_net_free(vae_net *net);
/** Maps the modelled dims of c to [0, 1] (log2, then min-max): n_in floats into u. */
void vae_to_unit(const vae_net *net, const lp_kcfg *c, float *u);
/** He-initialises net from o->seed and trains it on rows [n x n_in] (unit space), drawing
 *  each batch row with probability proportional to its weight (cum: cumulative weights). */
int vae_train(vae_net *net, const float *rows, const double *cum, size_t n,
              const vae_train_opts *o, vae_stats *st, lp_err *err);
/** Sets and restores the x86 flush-to-zero and denormals-are-zero modes (no-op elsewhere). */
unsigned vae_fp_enter(void);
/** Restores what vae_fp_enter returned. */
void vae_fp_leave(unsigned old);

/** 64-bit FNV-1a of n bytes, continuing from h (VAE_FNV_INIT to start). */
uint64_t vae_fnv(uint64_t h, const void *p, size_t n);
/** FNV-1a's offset basis. */
#define VAE_FNV_INIT 0xcbf29ce484222325ull
/** Writes net (shape, mapping, both halves), key and info text to path atomically. */
int vae_save(const char *path, const vae_net *net, uint64_t key, const char *info, lp_err *err);
/** Loads path into net, whose shape, mapping, enc and dec are already set up: any
 *  mismatch with them or with key, a bad checksum or a truncation is LP_ECORRUPT;
 *  a missing file is LP_ENOTFOUND. info (cap bytes) gets the stored info text. */
int vae_load(const char *path, vae_net *net, uint64_t key, char *info, size_t cap, lp_err *err);
/** Resolves the cache option ("" = $XDG_CACHE_HOME/litepred/vae, else
 *  $HOME/.cache/litepred/vae) into out and creates the directory with its parents. */
int vae_cache_dir(const char *opt, char *out, size_t cap, lp_err *err);

#endif
