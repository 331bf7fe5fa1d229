/* mlp: LitePred's latency predictor, a 16-linear-layer MLP trained with MAPE, Adam and
 * cosine annealing, over the core's nn (OpenBLAS sgemm). Options mirror LitePred's
 * trainer; the model file holds the architecture, the input normalisation and the
 * weights, with a CRC-32, so a pool predictor reloads bit-exactly.
 *
 * File format, version 1 (every integer and float little-endian):
 *   0   8   magic "LPMLP\r\n\x1a" (a text-mode transfer or a truncated copy breaks it)
 *   8   4   u32 format version (1)
 *   12  4   u32 flags: bit 0 (LP_MLP_F16) set: the parameters are binary16; other bits
 *           must be 0 (a reader refuses a file with bits it does not know, LP_EUNSUPPORTED)
 *   16  8   u64 file size in bytes, checksum included (truncation is caught before parsing)
 *   24  2   u16 kernel type length K, then K bytes (no NUL; K = 0: unnamed)
 *   .   2   u16 info length I, then I bytes: how it was trained ("loss=mape,epochs=350,...")
 *   .   4   u32 features F
 *   .   4   u32 dense layers L
 *   .   4   u32 widths, L + 1 of them (widths[0] = F, widths[L] = 1)
 *   .   8   per layer: u32 activation (0 linear, 1 relu, 2 leaky), f32 leaky slope
 *   .   4F  f32 feature means, then 4F f32 feature standard deviations
 *   .   4   f32 target scale (the network predicts latency / scale)
 *   .   8   u64 parameter count P (must equal what the widths give)
 *   .   4P  f32 parameters: W_0 [w1 x w0] row-major, b_0, W_1, b_1, ...
 *           or, with flag LP_MLP_F16, 2P: each an IEEE 754 binary16 as u16
 *   .   4   u32 CRC-32 (zlib's) of every byte before it
 *
 * Precision: option weights=f16 halves a pool file. Only the parameters shrink (the
 * normalisation stays f32: it is small, and the network's inputs hang on it). Saving f16
 * rounds the held parameters to their binary16 values, so the instance that saved, the
 * instance that loads and every later save agree bit for bit. Loading reads either kind;
 * the loader's own `weights` option decides how it saves, so an f16 file loaded by an
 * instance with the default f32 re-saves as f32 (same values, twice the bytes).
 */
#include <litepred/nn.h>
#include <litepred/predictor.h>

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define LP_MLP_VERSION 1u
#define LP_MLP_F16 1u              /* flags bit 0: binary16 parameters */
#define LP_MLP_FLAGS_KNOWN LP_MLP_F16
#define LP_MLP_FLAGS_OFF 12u
#define LP_MLP_HEADER 24u
#define LP_MLP_MAX_HIDDEN (LP_NN_MAX_LAYERS - 1)
#define LP_MLP_PREDICT_BATCH 256
#define LP_MLP_NAME_MAX 255
#define LP_MLP_INFO_MAX 1024

static const unsigned char lp_mlp_magic[8] = {'L', 'P', 'M', 'L', 'P', '\r', '\n', 0x1a};
static const char *const lp_mlp_losses[] = {"mape", "mse", NULL};
/* Indices of the weights option; the order is the option's. */
enum { LP_MLP_W_F32, LP_MLP_W_F16 };
static const char *const lp_mlp_precisions[] = {"f32", "f16", NULL};

typedef struct lp_mlp_pred {
    /* options (written by the core) */
    char *layers;
    int64_t epochs;
    double lr;
    int64_t batch;
    int loss;
    int64_t seed;
    int leaky;
    double leaky_slope;
    double weight_decay;
    int weights; /* LP_MLP_W_*: precision of saved parameters */
    /* parsed layers option */
    int hidden[LP_MLP_MAX_HIDDEN];
    size_t n_hidden;
    /* the held model; net == NULL: untrained */
    lp_mlp *net;
    lp_nn_norm norm;
    char kernel[LP_MLP_NAME_MAX + 1];
    char info[LP_MLP_INFO_MAX];
    lp_mlp_ws *ws; /* prediction workspace, made on first use */
} lp_mlp_pred;

static const lp_option lp_mlp_options[] = {
    {.name = "layers",
     .help = "hidden widths, input to output, separated by 'x' or ','",
     .type = LP_OPT_STRING, .offset = offsetof(lp_mlp_pred, layers),
     .def_s = "16x32x64x128x128x256x256x256x256x256x256x256x128x64x16"},
    {.name = "epochs", .help = "passes over the training rows (the cosine schedule spans them)",
     .type = LP_OPT_INT, .offset = offsetof(lp_mlp_pred, epochs), .def_i = 350, .min = 1,
     .max = 1000000},
    {.name = "lr", .help = "initial Adam learning rate", .type = LP_OPT_DOUBLE,
     .offset = offsetof(lp_mlp_pred, lr), .def_d = 1e-3, .min = 1e-9, .max = 10},
    {.name = "batch", .help = "rows per Adam step", .type = LP_OPT_INT,
     .offset = offsetof(lp_mlp_pred, batch), .def_i = 32, .min = 1, .max = 65536},
    {.name = "loss", .help = "training loss: mean absolute percentage error, or squared error",
     .type = LP_OPT_CHOICE, .offset = offsetof(lp_mlp_pred, loss), .def_s = "mape",
     .choices = lp_mlp_losses},
    {.name = "seed", .help = "seed of the initial weights and of the batch shuffling",
     .type = LP_OPT_INT, .offset = offsetof(lp_mlp_pred, seed), .def_i = 0, .min = 0,
     .max = 9007199254740992.0},
    {.name = "leaky",
     .help = "LeakyReLU instead of ReLU after the third- and second-last hidden layers "
             "(LitePred's layers 13 and 14)",
     .type = LP_OPT_BOOL, .offset = offsetof(lp_mlp_pred, leaky), .def_i = 1},
    {.name = "leaky_slope", .help = "negative slope of those LeakyReLUs", .type = LP_OPT_DOUBLE,
     .offset = offsetof(lp_mlp_pred, leaky_slope), .def_d = 0.3, .min = 0, .max = 1},
    {.name = "weight_decay", .help = "Adam L2 weight decay (0: none, as LitePred)",
     .type = LP_OPT_DOUBLE, .offset = offsetof(lp_mlp_pred, weight_decay), .def_d = 0,
     .min = 0, .max = 1},
    {.name = "weights",
     .help = "precision of the saved weights: f32, or f16 (IEEE binary16: half the file; "
             "saving rounds the held weights too)",
     .type = LP_OPT_CHOICE, .offset = offsetof(lp_mlp_pred, weights), .def_s = "f32",
     .choices = lp_mlp_precisions},
    LP_OPT_END};

/* ---- options ------------------------------------------------------------------------- */

static int lp_mlp_parse_layers(lp_mlp_pred *p, lp_err *err)
{
    const char *s = p->layers ? p->layers : "";
    p->n_hidden = 0;
    for (size_t item = 1;; item++) {
        while (isspace((unsigned char)*s))
            s++;
        char *end = NULL;
        errno = 0;
        long v = isdigit((unsigned char)*s) ? strtol(s, &end, 10) : -1;
        if (v < 1 || v > LP_NN_MAX_WIDTH || errno)
            return lp_err_set(err, LP_EINVAL,
                              "layers '%s': item %zu is not a width in 1..%d (write widths "
                              "like 16x32x64)", p->layers ? p->layers : "", item,
                              LP_NN_MAX_WIDTH);
        if (p->n_hidden == LP_MLP_MAX_HIDDEN)
            return lp_err_set(err, LP_EINVAL, "layers '%s': more than %d hidden layers",
                              p->layers, LP_MLP_MAX_HIDDEN);
        p->hidden[p->n_hidden++] = (int)v;
        s = end;
        while (isspace((unsigned char)*s))
            s++;
        if (!*s)
            return 0;
        if (*s != 'x' && *s != ',')
            return lp_err_set(err, LP_EINVAL,
                              "layers '%s': unexpected '%c' after item %zu (separate widths "
                              "with 'x' or ',')", p->layers, *s, item);
        s++;
    }
}

static int lp_mlp_init(void *priv, lp_err *err)
{
    return lp_mlp_parse_layers(priv, err);
}

static void lp_mlp_drop_model(lp_mlp_pred *p)
{
    lp_mlp_ws_free(p->ws);
    lp_mlp_free(p->net);
    lp_nn_norm_free(&p->norm);
    p->ws = NULL;
    p->net = NULL;
    p->kernel[0] = p->info[0] = '\0';
}

static void lp_mlp_fini(void *priv)
{
    lp_mlp_drop_model(priv);
}

/* ---- training ----------------------------------------------------------------------- */

/* LitePred's net: ReLU after every hidden layer, LeakyReLU after its linear layers 13 and
 * 14 of 16, i.e. the third- and second-last hidden layers; a linear output. */
static int lp_mlp_build(const lp_mlp_pred *p, size_t n_features, uint64_t seed, lp_mlp **out,
                        lp_err *err)
{
    int sizes[LP_NN_MAX_LAYERS + 1];
    lp_nn_act act[LP_NN_MAX_LAYERS];
    float slope[LP_NN_MAX_LAYERS];
    size_t h = p->n_hidden;
    sizes[0] = (int)n_features;
    for (size_t l = 0; l < h; l++) {
        sizes[l + 1] = p->hidden[l];
        int lk = p->leaky && h >= 3 && (l == h - 3 || l == h - 2);
        act[l] = lk ? LP_NN_LEAKY : LP_NN_RELU;
        slope[l] = lk ? (float)p->leaky_slope : 0.0f;
    }
    sizes[h + 1] = 1;
    act[h] = LP_NN_LINEAR;
    slope[h] = 0.0f;
    int rc = lp_mlp_create(out, h + 1, sizes, act, slope, err);
    if (rc == 0)
        lp_mlp_init_he(*out, seed);
    return rc;
}

static int lp_mlp_check_set(const char *what, const lp_dataset *d, lp_err *err)
{
    if (!d->x || !d->y || d->n == 0)
        return lp_err_set(err, LP_EINVAL, "mlp: the %s set is empty", what);
    if (d->n_features < 1 || d->n_features > LP_NN_MAX_WIDTH)
        return lp_err_set(err, LP_EINVAL, "mlp: the %s set has %zu features (valid: 1..%d)", what,
                          d->n_features, LP_NN_MAX_WIDTH);
    if (d->kernel_type && strlen(d->kernel_type) > LP_MLP_NAME_MAX)
        return lp_err_set(err, LP_EINVAL, "mlp: kernel type name longer than %d bytes",
                          LP_MLP_NAME_MAX);
    return 0;
}

static int lp_mlp_check_sets(const lp_mlp_pred *p, const lp_dataset *train, const lp_dataset *val,
                             int finetune, lp_err *err)
{
    int rc = lp_mlp_check_set("training", train, err);
    if (rc || (val && (rc = lp_mlp_check_set("validation", val, err))))
        return rc;
    if (val && val->n_features != train->n_features)
        return lp_err_set(err, LP_EINVAL, "mlp: validation rows have %zu features, training rows %zu",
                          val->n_features, train->n_features);
    if (!finetune)
        return 0;
    if (!p->net)
        return lp_err_set(err, LP_EINVAL, "mlp: fine-tuning needs held weights: train or load first");
    if ((size_t)p->net->sizes[0] != train->n_features)
        return lp_err_set(err, LP_EINVAL, "mlp: the held model takes %d features, the data has %zu",
                          p->net->sizes[0], train->n_features);
    if (p->kernel[0] && train->kernel_type && strcmp(p->kernel, train->kernel_type))
        return lp_err_set(err, LP_EINVAL, "mlp: the held model predicts '%s', the data is '%s'",
                          p->kernel, train->kernel_type);
    return 0;
}

static int lp_mlp_ensure_ws(lp_mlp_pred *p, lp_err *err)
{
    return p->ws ? 0 : lp_mlp_ws_create(p->net, LP_MLP_PREDICT_BATCH, &p->ws, err);
}

static double lp_mlp_set_mape(lp_mlp_pred *p, const lp_dataset *d, float *buf)
{
    lp_nn_predict(p->net, &p->norm, p->ws, d->x, d->n, buf);
    return lp_nn_loss_eval(LP_NN_MAPE, buf, d->y, d->n, NULL);
}

/* Train and validation MAPE of the held model, for the report. */
static int lp_mlp_report(lp_mlp_pred *p, const lp_dataset *train, const lp_dataset *val,
                         lp_train_report *r, lp_err *err)
{
    size_t n = train->n > (val ? val->n : 0) ? train->n : val->n;
    float *buf = malloc(n * sizeof *buf);
    if (!buf)
        return lp_err_set(err, LP_ENOMEM, "mlp: out of memory for %zu predictions", n);
    int rc = lp_mlp_ensure_ws(p, err);
    if (rc == 0) {
        r->train_mape = lp_mlp_set_mape(p, train, buf);
        r->val_mape = val ? lp_mlp_set_mape(p, val, buf) : NAN;
    }
    free(buf);
    return rc;
}

static void lp_mlp_set_info(lp_mlp_pred *p, int finetune)
{
    snprintf(p->info, sizeof p->info,
             "loss=%s,epochs=%lld,lr=%g,batch=%lld,seed=%lld,weight_decay=%g,finetuned=%d",
             lp_mlp_losses[p->loss], (long long)p->epochs, p->lr, (long long)p->batch,
             (long long)p->seed, p->weight_decay, finetune);
}

static uint64_t lp_mlp_now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static int lp_mlp_fit(const lp_mlp_pred *p, lp_mlp *net, const lp_nn_norm *norm,
                      const lp_dataset *train, const lp_dataset *val, const lp_train_ctl *ctl,
                      lp_train_report *r, lp_err *err)
{
    lp_nn_fit_opts o = {.epochs = p->epochs, .lr = p->lr, .batch = (int)p->batch,
                        .loss = (lp_nn_loss)p->loss, .seed = (uint64_t)p->seed,
                        .weight_decay = p->weight_decay,
                        .on_epoch = ctl ? ctl->progress : NULL, .ctx = ctl ? ctl->ctx : NULL};
    lp_nn_fit_stats st;
    int rc = lp_nn_fit(net, norm, train->x, train->y, train->n, val ? val->x : NULL,
                       val ? val->y : NULL, val ? val->n : 0, &o, &st, err);
    r->epochs = st.epochs;
    r->first_loss = st.first_loss;
    r->final_loss = st.last_loss;
    return rc ? lp_err_prefix(err, "mlp: ") : 0;
}

/* A new network and normalisation; they replace the held model only when training succeeds. */
static int lp_mlp_scratch(lp_mlp_pred *p, const lp_dataset *train, const lp_dataset *val,
                          const lp_train_ctl *ctl, lp_train_report *r, lp_err *err)
{
    lp_mlp *net = NULL;
    lp_nn_norm norm = {0};
    int rc = lp_mlp_build(p, train->n_features, (uint64_t)p->seed, &net, err);
    if (rc || (rc = lp_nn_norm_init(&norm, train->n_features, err)))
        goto fail;
    lp_nn_norm_fit(&norm, train->x, train->n, train->y);
    if ((rc = lp_mlp_fit(p, net, &norm, train, val, ctl, r, err)))
        goto fail;
    lp_mlp_drop_model(p);
    p->net = net;
    p->norm = norm;
    snprintf(p->kernel, sizeof p->kernel, "%s", train->kernel_type ? train->kernel_type : "");
    return 0;
fail:
    lp_mlp_free(net);
    lp_nn_norm_free(&norm);
    return rc;
}

/* LitePred's fine-tuning: the held weights and normalisation, the same trainer, nothing
 * frozen. A failure puts the held weights back. */
static int lp_mlp_finetune(lp_mlp_pred *p, const lp_dataset *train, const lp_dataset *val,
                           const lp_train_ctl *ctl, lp_train_report *r, lp_err *err)
{
    size_t bytes = p->net->n_params * sizeof(float);
    float *backup = malloc(bytes);
    if (!backup)
        return lp_err_set(err, LP_ENOMEM, "mlp: out of memory for a weight backup");
    memcpy(backup, p->net->params, bytes);
    int rc = lp_mlp_fit(p, p->net, &p->norm, train, val, ctl, r, err);
    if (rc)
        memcpy(p->net->params, backup, bytes);
    free(backup);
    return rc;
}

static int lp_mlp_train(void *priv, const lp_dataset *train, const lp_dataset *val,
                        const lp_train_ctl *ctl, lp_train_report *report, lp_err *err)
{
    lp_mlp_pred *p = priv;
    uint64_t t0 = lp_mlp_now_ns();
    int finetune = ctl && ctl->finetune;
    lp_train_report r = {.val_mape = NAN, .train_mape = NAN, .finetuned = finetune};
    int rc = lp_mlp_check_sets(p, train, val, finetune, err);
    if (rc == 0)
        rc = finetune ? lp_mlp_finetune(p, train, val, ctl, &r, err)
                      : lp_mlp_scratch(p, train, val, ctl, &r, err);
    if (rc == 0) {
        lp_mlp_set_info(p, finetune);
        rc = lp_mlp_report(p, train, val, &r, err);
    }
    r.seconds = (double)(lp_mlp_now_ns() - t0) * 1e-9;
    if (report)
        *report = r;
    return rc;
}

/* ---- prediction --------------------------------------------------------------------- */

static int lp_mlp_predict(void *priv, const float *x, size_t n, float *out, lp_err *err)
{
    lp_mlp_pred *p = priv;
    if (!p->net)
        return lp_err_set(err, LP_EINVAL, "mlp: the predictor is untrained: train or load first");
    int rc = lp_mlp_ensure_ws(p, err);
    if (rc)
        return rc;
    /* Threads only slow down GEMMs this small, and one thread keeps results repeatable. */
    lp_nn_single_thread();
    lp_nn_predict(p->net, &p->norm, p->ws, x, n, out);
    return 0;
}

static const char *lp_mlp_kernel_type(void *priv)
{
    lp_mlp_pred *p = priv;
    return p->net && p->kernel[0] ? p->kernel : NULL;
}

static size_t lp_mlp_n_features(void *priv)
{
    lp_mlp_pred *p = priv;
    return p->net ? (size_t)p->net->sizes[0] : 0;
}

/* ---- the file ------------------------------------------------------------------------ */

static size_t lp_mlp_file_size(const lp_mlp_pred *p, int f16)
{
    size_t f = (size_t)p->net->sizes[0], l = p->net->n_layers;
    return LP_MLP_HEADER + 2 + strlen(p->kernel) + 2 + strlen(p->info) + 4 + 4 + 4 * (l + 1) +
           8 * l + 8 * f + 4 + 8 + (f16 ? 2 : 4) * p->net->n_params + 4;
}

static void lp_mlp_encode(const lp_mlp_pred *p, int f16, lp_nn_wr *w)
{
    const lp_mlp *m = p->net;
    lp_nn_wr_head(w, lp_mlp_magic, sizeof lp_mlp_magic, LP_MLP_VERSION, f16 ? LP_MLP_F16 : 0);
    lp_nn_wr_text(w, p->kernel);
    lp_nn_wr_text(w, p->info);
    lp_nn_wr_u32(w, (uint32_t)m->sizes[0]);
    lp_nn_wr_u32(w, (uint32_t)m->n_layers);
    for (size_t l = 0; l <= m->n_layers; l++)
        lp_nn_wr_u32(w, (uint32_t)m->sizes[l]);
    for (size_t l = 0; l < m->n_layers; l++) {
        lp_nn_wr_u32(w, (uint32_t)m->act[l]);
        lp_nn_wr_f32(w, m->slope[l]);
    }
    for (size_t j = 0; j < p->norm.n; j++)
        lp_nn_wr_f32(w, p->norm.mean[j]);
    for (size_t j = 0; j < p->norm.n; j++)
        lp_nn_wr_f32(w, p->norm.std[j]);
    lp_nn_wr_f32(w, p->norm.y_scale);
    lp_nn_wr_u64(w, m->n_params);
    for (size_t i = 0; i < m->n_params; i++) {
        if (f16)
            lp_nn_wr_u16(w, lp_nn_f32_to_f16(m->params[i]));
        else
            lp_nn_wr_f32(w, m->params[i]);
    }
}

/* A parameter that binary16 would turn into inf would make every prediction inf or NaN:
 * refuse the save rather than write a file that loads into a broken model. */
static int lp_mlp_check_f16_range(const lp_mlp *m, const char *path, lp_err *err)
{
    for (size_t i = 0; i < m->n_params; i++) {
        uint16_t h = lp_nn_f32_to_f16(m->params[i]);
        if ((h & 0x7c00) == 0x7c00 && isfinite(m->params[i]))
            return lp_err_set(err, LP_EINVAL,
                              "mlp: %s: parameter %zu is %g, beyond binary16's +-%g: save with "
                              "weights=f32", path, i, (double)m->params[i],
                              (double)LP_NN_F16_MAX);
    }
    return 0;
}

static int lp_mlp_save(void *priv, const char *path, lp_err *err)
{
    lp_mlp_pred *p = priv;
    if (!p->net)
        return lp_err_set(err, LP_EINVAL, "mlp: %s: nothing to save: the predictor is untrained",
                          path);
    int f16 = p->weights == LP_MLP_W_F16;
    int rc = f16 ? lp_mlp_check_f16_range(p->net, path, err) : 0;
    if (rc)
        return rc;
    lp_nn_wr w;
    if ((rc = lp_nn_wr_open(&w, lp_mlp_file_size(p, f16), path, err)))
        return lp_err_prefix(err, "mlp: ");
    lp_mlp_encode(p, f16, &w);
    rc = lp_nn_wr_commit(&w, path, err);
    /* The held weights become what the file holds, so this instance predicts exactly as
     * one that loads the file. Only after a good write: a failed save changes nothing
     * (the encoder rounded the same way, so the bytes match either order). */
    if (rc == 0 && f16)
        lp_nn_round_f16(p->net->params, p->net->n_params);
    return rc;
}

/* Magic, version, size and checksum, before any field is trusted; then the flags, which
 * the shared check leaves to each format. */
static int lp_mlp_check_envelope(const unsigned char *buf, size_t n, const char *path,
                                 uint32_t *flags, lp_err *err)
{
    int rc = lp_nn_file_check(buf, n, lp_mlp_magic, sizeof lp_mlp_magic, LP_MLP_HEADER,
                              LP_MLP_VERSION, "mlp predictor", path, err);
    if (rc)
        return rc;
    lp_nn_rd r = {.p = buf, .n = n, .off = LP_MLP_FLAGS_OFF};
    *flags = (uint32_t)lp_nn_rd_uint(&r, 4);
    if (*flags & ~LP_MLP_FLAGS_KNOWN)
        return lp_err_set(err, LP_EUNSUPPORTED,
                          "%s: unknown flags 0x%08x (this build reads 0x%08x: f16 parameters): "
                          "written by a newer litepred", path, *flags & ~LP_MLP_FLAGS_KNOWN,
                          LP_MLP_FLAGS_KNOWN);
    return 0;
}

/* Layer widths and activations; *net gets a zeroed network of that shape. */
static int lp_mlp_decode_shape(lp_nn_rd *r, const char *path, lp_mlp **net, lp_err *err)
{
    int sizes[LP_NN_MAX_LAYERS + 1];
    lp_nn_act act[LP_NN_MAX_LAYERS];
    float slope[LP_NN_MAX_LAYERS];
    uint32_t f = (uint32_t)lp_nn_rd_uint(r, 4), l = (uint32_t)lp_nn_rd_uint(r, 4);
    if (r->bad || l < 1 || l > LP_NN_MAX_LAYERS)
        return lp_err_set(err, LP_ECORRUPT, "%s: %u layers (valid: 1..%d)", path, l,
                          LP_NN_MAX_LAYERS);
    for (uint32_t i = 0; i <= l; i++) {
        uint32_t w = (uint32_t)lp_nn_rd_uint(r, 4);
        sizes[i] = w <= LP_NN_MAX_WIDTH ? (int)w : 0;
    }
    for (uint32_t i = 0; i < l; i++) {
        uint32_t a = (uint32_t)lp_nn_rd_uint(r, 4);
        act[i] = a <= LP_NN_LEAKY ? (lp_nn_act)a : LP_NN_ACT_COUNT_;
        slope[i] = lp_nn_rd_f32(r);
    }
    if (r->bad || (uint32_t)sizes[0] != f || sizes[l] != 1)
        return lp_err_set(err, LP_ECORRUPT, "%s: layer widths do not fit %u features and 1 output",
                          path, f);
    int rc = lp_mlp_create(net, l, sizes, act, slope, err);
    return rc ? lp_err_prefix(err, "%s: ", path) : 0;
}

static int lp_mlp_decode_norm(lp_nn_rd *r, const char *path, lp_nn_norm *nm, lp_err *err)
{
    int ok = 1;
    for (size_t j = 0; j < nm->n; j++)
        ok &= isfinite(nm->mean[j] = lp_nn_rd_f32(r));
    for (size_t j = 0; j < nm->n; j++) {
        nm->std[j] = lp_nn_rd_f32(r);
        ok &= isfinite(nm->std[j]) && nm->std[j] > 0;
    }
    nm->y_scale = lp_nn_rd_f32(r);
    if (r->bad || !ok || !isfinite(nm->y_scale) || !(nm->y_scale > 0))
        return lp_err_set(err, LP_ECORRUPT, "%s: bad normalisation parameters", path);
    return 0;
}

/* Everything after the envelope, into fresh objects (the held model is untouched). */
static int lp_mlp_decode(lp_nn_rd *r, const char *path, uint32_t flags, lp_mlp **net,
                         lp_nn_norm *nm, char *kernel, char *info, lp_err *err)
{
    r->off = LP_MLP_HEADER;
    r->n -= 4; /* the checksum */
    if (lp_nn_rd_text(r, kernel, LP_MLP_NAME_MAX + 1) || lp_nn_rd_text(r, info, LP_MLP_INFO_MAX))
        return lp_err_set(err, LP_ECORRUPT, "%s: bad kernel type or info text", path);
    int rc = lp_mlp_decode_shape(r, path, net, err);
    if (rc || (rc = lp_nn_norm_init(nm, (size_t)(*net)->sizes[0], err)) ||
        (rc = lp_mlp_decode_norm(r, path, nm, err)))
        return rc;
    uint64_t np = lp_nn_rd_uint(r, 8);
    if (np != (*net)->n_params)
        return lp_err_set(err, LP_ECORRUPT, "%s: %llu parameters, the layer widths give %zu", path,
                          (unsigned long long)np, (*net)->n_params);
    int f16 = (flags & LP_MLP_F16) != 0;
    for (size_t i = 0; i < (*net)->n_params; i++)
        (*net)->params[i] = f16 ? lp_nn_f16_to_f32((uint16_t)lp_nn_rd_uint(r, 2))
                                : lp_nn_rd_f32(r);
    if (r->bad || r->off != r->n)
        return lp_err_set(err, LP_ECORRUPT, "%s: the fields do not fill the file exactly", path);
    return 0;
}

static int lp_mlp_load(void *priv, const char *path, lp_err *err)
{
    lp_mlp_pred *p = priv;
    unsigned char *buf = NULL;
    size_t n = 0;
    lp_mlp *net = NULL;
    lp_nn_norm nm = {0};
    char kernel[LP_MLP_NAME_MAX + 1], info[LP_MLP_INFO_MAX];
    uint32_t flags = 0;
    int rc = lp_nn_read_file(path, &buf, &n, err);
    if (rc || (rc = lp_mlp_check_envelope(buf, n, path, &flags, err)))
        goto fail;
    lp_nn_rd r = {.p = buf, .n = n};
    if ((rc = lp_mlp_decode(&r, path, flags, &net, &nm, kernel, info, err)))
        goto fail;
    lp_mlp_drop_model(p);
    p->net = net;
    p->norm = nm;
    memcpy(p->kernel, kernel, sizeof kernel);
    memcpy(p->info, info, sizeof info);
    net = NULL;
    nm = (lp_nn_norm){0};
fail:
    lp_mlp_free(net);
    lp_nn_norm_free(&nm);
    free(buf);
    return rc;
}

/* ---- descriptor --------------------------------------------------------------------- */

static const lp_predictor_ops lp_mlp_ops = {
    .size = sizeof(lp_predictor_ops),
    .train = lp_mlp_train,
    .predict = lp_mlp_predict,
    .save = lp_mlp_save,
    .load = lp_mlp_load,
    .kernel_type = lp_mlp_kernel_type,
    .n_features = lp_mlp_n_features,
};

static const lp_plugin_desc lp_mlp_desc = {
    LP_PLUGIN_ABI,
    .kind = LP_KIND_PREDICTOR,
    .name = "mlp",
    .summary = "LitePred's 16-layer MLP: MAPE loss, Adam, cosine annealing (OpenBLAS)",
    .options = lp_mlp_options,
    .priv_size = sizeof(lp_mlp_pred),
    .ops = &lp_mlp_ops,
    .init = lp_mlp_init,
    .fini = lp_mlp_fini,
};

LP_PLUGIN_DEFINE(lp_mlp_desc)
