/* The VAE cache file and its directory.
 *
 * File format, version 1 (every integer and float little-endian):
 *   0   8   magic "LPVAE\r\n\x1a" (a text-mode transfer or a truncated copy breaks it)
 *   8   4   u32 format version (1)
 *   12  4   u32 flags (0; reserved)
 *   16  8   u64 file size in bytes, checksum included
 *   24  8   u64 key: FNV-1a of everything training depends on (see vae.c)
 *   32  2   u16 info length I, then I bytes: how it was trained and how it went
 *           ("kernel=conv-bn-relu,epochs=...,recon_first=...,recon_last=...")
 *   .   16  u32 modelled dims N, u32 latent, u32 hidden width, u32 dense layers per half
 *   .   24N per modelled dim: u32 kernel dim, u32 log2 flag, f64 min, f64 max
 *   .   8   u64 encoder parameter count E, then 4E f32 (W_0, b_0, W_1, ...)
 *   .   8   u64 decoder parameter count D, then 4D f32
 *   .   4   u32 CRC-32 (zlib's) of every byte before it
 * The key is also in the file name; checking it again catches a renamed or copied file. */
#include "vae.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#define VAE_VERSION 1u
#define VAE_HEADER 32u
#define VAE_INFO_MAX 1024u

static const unsigned char vae_magic[8] = {'L', 'P', 'V', 'A', 'E', '\r', '\n', 0x1a};

uint64_t vae_fnv(uint64_t h, const void *p, size_t n)
{
    const unsigned char *b = p;
    for (size_t i = 0; i < n; i++) {
        h ^= b[i];
        h *= 0x100000001b3ull;
    }
    return h;
}

/* ---- writing ------------------------------------------------------------------- */

static size_t file_size(const vae_net *net, size_t info_len)
{
    return VAE_HEADER + 2 + info_len + 16 + 24 * net->n_in + 8 + 4 * net->enc->n_params + 8 +
           4 * net->dec->n_params + 4;
}

static void encode(const vae_net *net, uint64_t key, const char *info, lp_nn_wr *w)
{
    lp_nn_wr_head(w, vae_magic, sizeof vae_magic, VAE_VERSION, 0);
    lp_nn_wr_u64(w, key);
    lp_nn_wr_text(w, info);
    lp_nn_wr_u32(w, (uint32_t)net->n_in);
    lp_nn_wr_u32(w, (uint32_t)net->latent);
    lp_nn_wr_u32(w, (uint32_t)net->hidden);
    lp_nn_wr_u32(w, (uint32_t)net->layers);
    for (size_t j = 0; j < net->n_in; j++) {
        lp_nn_wr_u32(w, net->map[j].dim);
        lp_nn_wr_u32(w, net->map[j].log2);
        lp_nn_wr_f64(w, net->map[j].lo);
        lp_nn_wr_f64(w, net->map[j].hi);
    }
    const lp_mlp *half[2] = {net->enc, net->dec};
    for (int h = 0; h < 2; h++) {
        lp_nn_wr_u64(w, half[h]->n_params);
        for (size_t i = 0; i < half[h]->n_params; i++)
            lp_nn_wr_f32(w, half[h]->params[i]);
    }
}

int vae_save(const char *path, const vae_net *net, uint64_t key, const char *info, lp_err *err)
{
    size_t info_len = strlen(info);
    if (info_len >= VAE_INFO_MAX)
        return lp_err_set(err, LP_EINVAL, "vae: %s: info text of %zu bytes (at most %u)", path,
                          info_len, VAE_INFO_MAX - 1);
    lp_nn_wr w;
    if (lp_nn_wr_open(&w, file_size(net, info_len), path, err))
        return lp_err_prefix(err, "vae: ");
    encode(net, key, info, &w);
    return lp_nn_wr_commit(&w, path, err);
}

/* ---- reading ------------------------------------------------------------------- */

/* Magic, version, size and checksum, before any field is trusted. The file is always the
 * plugin's own cache: a foreign magic or a newer version there means it was overwritten,
 * so every failure is LP_ECORRUPT (setup refuses it rather than retrain over it). */
static int check_envelope(const unsigned char *buf, size_t n, const char *path, lp_err *err)
{
    if (!lp_nn_file_check(buf, n, vae_magic, sizeof vae_magic, VAE_HEADER, VAE_VERSION, "VAE",
                          path, err))
        return 0;
    lp_err_prefix(err, "vae cache ");
    if (err)
        err->code = LP_ECORRUPT;
    return LP_ECORRUPT;
}

/* The stored info text, cut to cap bytes with its NUL (cap 0: skipped). */
static int get_info(lp_nn_rd *r, char *info, size_t cap)
{
    char text[VAE_INFO_MAX];
    if (lp_nn_rd_text(r, text, sizeof text))
        return -1;
    if (cap)
        snprintf(info, cap, "%s", text);
    return 0;
}

/* Shape and mapping must be exactly what the caller computed from the same inputs. */
static int check_shape(lp_nn_rd *r, const vae_net *net)
{
    if (lp_nn_rd_uint(r, 4) != net->n_in || lp_nn_rd_uint(r, 4) != (uint64_t)net->latent ||
        lp_nn_rd_uint(r, 4) != (uint64_t)net->hidden ||
        lp_nn_rd_uint(r, 4) != (uint64_t)net->layers)
        return -1;
    for (size_t j = 0; j < net->n_in; j++) {
        const vae_dim *m = &net->map[j];
        uint64_t dim = lp_nn_rd_uint(r, 4), lg = lp_nn_rd_uint(r, 4);
        double lo = lp_nn_rd_f64(r), hi = lp_nn_rd_f64(r);
        if (dim != m->dim || lg != m->log2 || memcmp(&lo, &m->lo, sizeof lo) ||
            memcmp(&hi, &m->hi, sizeof hi))
            return -1;
    }
    return r->bad ? -1 : 0;
}

static int get_params(lp_nn_rd *r, lp_mlp *m)
{
    if (lp_nn_rd_uint(r, 8) != m->n_params)
        return -1;
    for (size_t i = 0; i < m->n_params; i++)
        m->params[i] = lp_nn_rd_f32(r);
    return r->bad ? -1 : 0;
}

static int decode(const unsigned char *buf, size_t n, const char *path, vae_net *net,
                  uint64_t key, char *info, size_t cap, lp_err *err)
{
    lp_nn_rd r = {.p = buf, .n = n - 4, .off = 24};
    uint64_t stored = lp_nn_rd_uint(&r, 8);
    if (stored != key)
        return lp_err_set(err, LP_ECORRUPT, "vae cache %s: trained for other inputs (key "
                          "%016llx, expected %016llx): renamed or copied over", path,
                          (unsigned long long)stored, (unsigned long long)key);
    if (get_info(&r, info, cap) || check_shape(&r, net))
        return lp_err_set(err, LP_ECORRUPT, "vae cache %s: its shape or dim mapping differs "
                          "from the one its key promises", path);
    if (get_params(&r, net->enc) || get_params(&r, net->dec) || r.off != r.n)
        return lp_err_set(err, LP_ECORRUPT, "vae cache %s: the parameters do not fill the file "
                          "exactly", path);
    return 0;
}

int vae_load(const char *path, vae_net *net, uint64_t key, char *info, size_t cap, lp_err *err)
{
    unsigned char *buf = NULL;
    size_t n = 0;
    int rc = lp_nn_read_file(path, &buf, &n, err);
    if (rc == 0 && (rc = check_envelope(buf, n, path, err)) == 0)
        rc = decode(buf, n, path, net, key, info, cap, err);
    free(buf);
    return rc;
}

/* ---- the directory ------------------------------------------------------------- */

static int mkdir_p(char *path, lp_err *err)
{
    for (char *s = path + 1;; s++) {
        if (*s != '/' && *s != '\0')
            continue;
        char keep = *s;
        *s = '\0';
        int bad = mkdir(path, 0755) < 0 && errno != EEXIST;
        int saved = errno;
        *s = keep;
        if (bad)
            return lp_err_set(err, LP_EIO, "vae: cannot create the cache directory %s: %s", path,
                              strerror(saved));
        if (!keep)
            break;
    }
    struct stat sb;
    if (stat(path, &sb) < 0 || !S_ISDIR(sb.st_mode))
        return lp_err_set(err, LP_EIO, "vae: cache %s is not a directory", path);
    return 0;
}

int vae_cache_dir(const char *opt, char *out, size_t cap, lp_err *err)
{
    const char *xdg = getenv("XDG_CACHE_HOME"), *home = getenv("HOME");
    int len;
    if (opt && *opt)
        len = snprintf(out, cap, "%s", opt);
    else if (xdg && *xdg == '/')
        len = snprintf(out, cap, "%s/litepred/vae", xdg);
    else if (home && *home)
        len = snprintf(out, cap, "%s/.cache/litepred/vae", home);
    else
        return lp_err_set(err, LP_EINVAL, "vae: no cache directory: neither XDG_CACHE_HOME nor "
                          "HOME is set (give cache=DIR, or cache=none to train every time)");
    if (len < 0 || (size_t)len >= cap)
        return lp_err_set(err, LP_EINVAL, "vae: cache directory path too long");
    return mkdir_p(out, err);
}
