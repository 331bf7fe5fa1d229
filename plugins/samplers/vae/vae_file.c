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

#include <ctype.h>
#include <errno.h>
#include <limits.h>
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

static void put_uint(unsigned char **c, uint64_t v, int bytes)
{
    for (int i = 0; i < bytes; i++)
        (*c)[i] = (unsigned char)(v >> (8 * i));
    *c += bytes;
}

static void put_f32(unsigned char **c, float f)
{
    uint32_t v;
    memcpy(&v, &f, sizeof v);
    put_uint(c, v, 4);
}

static void put_f64(unsigned char **c, double f)
{
    uint64_t v;
    memcpy(&v, &f, sizeof v);
    put_uint(c, v, 8);
}

static size_t file_size(const vae_net *net, size_t info_len)
{
    return VAE_HEADER + 2 + info_len + 16 + 24 * net->n_in + 8 + 4 * net->enc->n_params + 8 +
           4 * net->dec->n_params + 4;
}

static void encode(const vae_net *net, uint64_t key, const char *info, unsigned char *buf,
                   size_t size)
{
    unsigned char *c = buf;
    size_t info_len = strlen(info);
    memcpy(c, vae_magic, sizeof vae_magic);
    c += sizeof vae_magic;
    put_uint(&c, VAE_VERSION, 4);
    put_uint(&c, 0, 4);
    put_uint(&c, size, 8);
    put_uint(&c, key, 8);
    put_uint(&c, info_len, 2);
    memcpy(c, info, info_len);
    c += info_len;
    put_uint(&c, net->n_in, 4);
    put_uint(&c, (uint64_t)net->latent, 4);
    put_uint(&c, (uint64_t)net->hidden, 4);
    put_uint(&c, (uint64_t)net->layers, 4);
    for (size_t j = 0; j < net->n_in; j++) {
        put_uint(&c, net->map[j].dim, 4);
        put_uint(&c, net->map[j].log2, 4);
        put_f64(&c, net->map[j].lo);
        put_f64(&c, net->map[j].hi);
    }
    const lp_mlp *half[2] = {net->enc, net->dec};
    for (int h = 0; h < 2; h++) {
        put_uint(&c, half[h]->n_params, 8);
        for (size_t i = 0; i < half[h]->n_params; i++)
            put_f32(&c, half[h]->params[i]);
    }
    put_uint(&c, lp_nn_crc32(0, buf, (size_t)(c - buf)), 4);
}

int vae_save(const char *path, const vae_net *net, uint64_t key, const char *info, lp_err *err)
{
    size_t info_len = strlen(info);
    if (info_len >= VAE_INFO_MAX)
        return lp_err_set(err, LP_EINVAL, "vae: %s: info text of %zu bytes (at most %u)", path,
                          info_len, VAE_INFO_MAX - 1);
    size_t size = file_size(net, info_len);
    unsigned char *buf = malloc(size);
    if (!buf)
        return lp_err_set(err, LP_ENOMEM, "vae: %s: out of memory for %zu bytes", path, size);
    encode(net, key, info, buf, size);
    int rc = lp_nn_write_atomic(path, buf, size, err);
    free(buf);
    return rc;
}

/* ---- reading ------------------------------------------------------------------- */

/* A cursor over a file whose size and checksum are verified: running past the end or a
 * nonsensical value means the writer was broken or the file was tampered with. */
typedef struct vae_rd {
    const unsigned char *p;
    size_t n, off;
    int bad;
} vae_rd;

static const unsigned char *get(vae_rd *r, size_t n)
{
    if (r->bad || n > r->n - r->off) {
        r->bad = 1;
        return NULL;
    }
    r->off += n;
    return r->p + r->off - n;
}

static uint64_t get_uint(vae_rd *r, int bytes)
{
    const unsigned char *b = get(r, (size_t)bytes);
    uint64_t v = 0;
    for (int i = 0; b && i < bytes; i++)
        v |= (uint64_t)b[i] << (8 * i);
    return v;
}

static double get_f64(vae_rd *r)
{
    uint64_t v = get_uint(r, 8);
    double f;
    memcpy(&f, &v, sizeof f);
    return f;
}

/* Magic, version, size and checksum, before any field is trusted. */
static int check_envelope(const unsigned char *buf, size_t n, const char *path, lp_err *err)
{
    size_t head = n < sizeof vae_magic ? n : sizeof vae_magic;
    if (memcmp(buf, vae_magic, head) || n < VAE_HEADER + 4)
        return lp_err_set(err, LP_ECORRUPT, "vae cache %s: not a litepred VAE file, or truncated "
                          "(%zu bytes)", path, n);
    vae_rd r = {.p = buf, .n = n, .off = sizeof vae_magic};
    uint32_t version = (uint32_t)get_uint(&r, 4);
    (void)get_uint(&r, 4); /* flags: none defined yet */
    uint64_t size = get_uint(&r, 8);
    if (version != VAE_VERSION)
        return lp_err_set(err, LP_ECORRUPT, "vae cache %s: format version %u, this build writes "
                          "and reads %u", path, version, VAE_VERSION);
    if (size != n)
        return lp_err_set(err, LP_ECORRUPT, "vae cache %s: %zu bytes, the header gives %llu "
                          "(truncated or padded)", path, n, (unsigned long long)size);
    uint32_t stored = (uint32_t)(buf[n - 4] | buf[n - 3] << 8 | buf[n - 2] << 16 |
                                 (uint32_t)buf[n - 1] << 24);
    uint32_t crc = lp_nn_crc32(0, buf, n - 4);
    if (crc != stored)
        return lp_err_set(err, LP_ECORRUPT, "vae cache %s: checksum mismatch (stored %08x, "
                          "computed %08x): the file is corrupt", path, stored, crc);
    return 0;
}

static int get_info(vae_rd *r, char *info, size_t cap)
{
    size_t len = (size_t)get_uint(r, 2);
    const unsigned char *b = len < VAE_INFO_MAX ? get(r, len) : NULL;
    if (!b)
        return -1;
    for (size_t i = 0; i < len; i++)
        if (!isprint(b[i]))
            return -1;
    if (cap) {
        size_t k = len < cap - 1 ? len : cap - 1;
        memcpy(info, b, k);
        info[k] = '\0';
    }
    return 0;
}

/* Shape and mapping must be exactly what the caller computed from the same inputs. */
static int check_shape(vae_rd *r, const vae_net *net)
{
    if (get_uint(r, 4) != net->n_in || get_uint(r, 4) != (uint64_t)net->latent ||
        get_uint(r, 4) != (uint64_t)net->hidden || get_uint(r, 4) != (uint64_t)net->layers)
        return -1;
    for (size_t j = 0; j < net->n_in; j++) {
        const vae_dim *m = &net->map[j];
        uint64_t dim = get_uint(r, 4), lg = get_uint(r, 4);
        double lo = get_f64(r), hi = get_f64(r);
        if (dim != m->dim || lg != m->log2 || memcmp(&lo, &m->lo, sizeof lo) ||
            memcmp(&hi, &m->hi, sizeof hi))
            return -1;
    }
    return r->bad ? -1 : 0;
}

static int get_params(vae_rd *r, lp_mlp *m)
{
    if (get_uint(r, 8) != m->n_params)
        return -1;
    const unsigned char *b = get(r, 4 * m->n_params);
    if (!b)
        return -1;
    for (size_t i = 0; i < m->n_params; i++) {
        uint32_t v = (uint32_t)(b[4 * i] | b[4 * i + 1] << 8 | b[4 * i + 2] << 16 |
                                (uint32_t)b[4 * i + 3] << 24);
        memcpy(&m->params[i], &v, sizeof v);
    }
    return 0;
}

static int decode(const unsigned char *buf, size_t n, const char *path, vae_net *net,
                  uint64_t key, char *info, size_t cap, lp_err *err)
{
    vae_rd r = {.p = buf, .n = n - 4, .off = 24};
    uint64_t stored = get_uint(&r, 8);
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
