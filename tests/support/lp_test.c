/* Helpers shared by the Criterion tests (see lp_test.h). */
#include "lp_test.h"

#include <criterion/criterion.h>
#include <dirent.h>
#include <litepred/nn.h>
#include <litepred/space.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

int lp_test_run(const char *cmd, char **out)
{
    char *full = NULL;
    if (asprintf(&full, "%s 2>&1", cmd) < 0)
        return -1;
    FILE *p = popen(full, "r");
    free(full);
    if (!p)
        return -1;
    size_t cap = 4096, len = 0;
    char *buf = malloc(cap);
    size_t got;
    while (buf && (got = fread(buf + len, 1, cap - len - 1, p)) > 0) {
        len += got;
        if (cap - len < 1024) {
            char *nb = realloc(buf, cap * 2);
            if (!nb) { free(buf); buf = NULL; break; }
            buf = nb;
            cap *= 2;
        }
    }
    if (buf)
        buf[len] = '\0';
    int st = pclose(p);
    if (out)
        *out = buf;
    else
        free(buf);
    return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

int lp_test_cli(const char *args, char **out)
{
    char *cmd = NULL;
    if (asprintf(&cmd, "%s --plugin-path %s %s", LP_TEST_CLI, LP_TEST_PLUGIN_DIR, args) < 0)
        return -1;
    int rc = lp_test_run(cmd, out);
    free(cmd);
    return rc;
}

char *lp_test_tmpdir(void)
{
    char *t = strdup("/tmp/litepred-test-XXXXXX");
    cr_assert_not_null(t);
    cr_assert_not_null(mkdtemp(t), "mkdtemp failed");
    return t;
}

char *lp_test_write(const char *dir, const char *name, const char *text)
{
    char *path = NULL;
    cr_assert_geq(asprintf(&path, "%s/%s", dir, name), 0);
    FILE *f = fopen(path, "w");
    cr_assert_not_null(f, "cannot write %s", path);
    fputs(text, f);
    fclose(f);
    return path;
}

void lp_test_rmtree(const char *dir)
{
    char *cmd = NULL;
    if (dir && asprintf(&cmd, "rm -rf '%s'", dir) >= 0) {
        int rc = system(cmd);
        (void)rc;
    }
    free(cmd);
}

lp_registry *lp_test_registry(void)
{
    char *dirs[] = {(char *)LP_TEST_PLUGIN_DIR};
    lp_registry *reg = NULL;
    lp_err err = {0};
    int rc = lp_registry_open(&reg, dirs, 1, &err);
    cr_assert_eq(rc, 0, "registry: %s", err.msg);
    return reg;
}

char *lp_test_cli_expect(int code, const char *args)
{
    char *out = NULL;
    int rc = lp_test_cli(args, &out);
    cr_assert_not_null(out);
    cr_assert_eq(rc, code, "litepred %s: exit %d, expected %d; output:\n%s", args, rc, code, out);
    return out;
}

unsigned char *lp_test_slurp(const char *path, size_t *n)
{
    FILE *f = fopen(path, "rb");
    cr_assert_not_null(f, "cannot open %s", path);
    fseek(f, 0, SEEK_END);
    *n = (size_t)ftell(f);
    fseek(f, 0, SEEK_SET);
    unsigned char *b = malloc(*n ? *n : 1);
    cr_assert_not_null(b);
    cr_assert_eq(fread(b, 1, *n, f), *n, "cannot read %s", path);
    fclose(f);
    return b;
}

void lp_test_spit(const char *path, const void *b, size_t n)
{
    FILE *f = fopen(path, "wb");
    cr_assert_not_null(f, "cannot write %s", path);
    cr_assert_eq(fwrite(b, 1, n, f), n, "cannot write %s", path);
    fclose(f);
}

uint32_t lp_test_get_u32(const unsigned char *b)
{
    return (uint32_t)b[0] | (uint32_t)b[1] << 8 | (uint32_t)b[2] << 16 | (uint32_t)b[3] << 24;
}

void lp_test_put_u32(unsigned char *b, uint32_t v)
{
    for (int i = 0; i < 4; i++)
        b[i] = (unsigned char)(v >> (8 * i));
}

void lp_test_reseal(unsigned char *b, size_t n)
{
    lp_test_put_u32(b + n - 4, lp_nn_crc32(0, b, n - 4));
}

void lp_test_spit_patched(const char *path, unsigned char *b, size_t n, size_t off, uint32_t v)
{
    cr_assert_leq(off + 4, n - 4, "patch at %zu overlaps the checksum of %zu bytes", off, n);
    lp_test_put_u32(b + off, v);
    lp_test_reseal(b, n);
    lp_test_spit(path, b, n);
}

/* ---- damaged model files ------------------------------------------------------------ */

static void lp_test_damage_length(unsigned char *b, size_t n, const char *t, unsigned header,
                                  lp_test_refusal_fn expect, void *ctx)
{
    char msg[1024];
    lp_test_spit(t, b, n - 100);
    snprintf(msg, sizeof msg, "%s: truncated at byte %zu of %zu", t, n - 100, n);
    expect(ctx, t, LP_ECORRUPT, msg);
    lp_test_spit(t, b, 10);
    snprintf(msg, sizeof msg, "%s: truncated at byte 10 (the header alone is %u)", t, header);
    expect(ctx, t, LP_ECORRUPT, msg);
}

static void lp_test_damage_byte(unsigned char *b, size_t n, const char *t,
                                lp_test_refusal_fn expect, void *ctx)
{
    char msg[1024];
    b[n / 2] ^= 0x10;
    lp_test_spit(t, b, n);
    snprintf(msg, sizeof msg,
             "%s: checksum mismatch (stored %08x, computed %08x): the file is corrupt", t,
             lp_test_get_u32(b + n - 4), lp_nn_crc32(0, b, n - 4));
    expect(ctx, t, LP_ECORRUPT, msg);
    b[n / 2] ^= 0x10;
}

static void lp_test_damage_header(unsigned char *b, size_t n, const char *t, const char *what,
                                  lp_test_refusal_fn expect, void *ctx)
{
    char msg[1024];
    unsigned char first = b[0];
    b[0] = 'X';
    lp_test_spit(t, b, n);
    snprintf(msg, sizeof msg, "%s: bad magic: not a litepred %s file", t, what);
    expect(ctx, t, LP_EPARSE, msg);
    lp_test_spit(t, "hello", 5);
    expect(ctx, t, LP_EPARSE, msg);
    b[0] = first;
    lp_test_put_u32(b + 8, 2);
    lp_test_reseal(b, n); /* a well-formed file of a newer writer */
    lp_test_spit(t, b, n);
    snprintf(msg, sizeof msg, "%s: format version 2 is newer than this build reads (1)", t);
    expect(ctx, t, LP_EUNSUPPORTED, msg);
}

void lp_test_envelope_damage(const char *good, const char *what, unsigned header,
                             lp_test_refusal_fn expect, void *ctx)
{
    size_t n;
    unsigned char *b = lp_test_slurp(good, &n);
    char *t = lp_test_file("damaged");
    cr_assert_gt(n, 100, "%s: too small to damage", good);
    lp_test_damage_length(b, n, t, header, expect, ctx);
    lp_test_damage_byte(b, n, t, expect, ctx);
    lp_test_damage_header(b, n, t, what, expect, ctx);
    free(t);
    free(b);
}

/* ---- registries, plugins and instances ---------------------------------------------- */

lp_registry *lp_test_reg;
char *lp_test_dir;

void lp_test_setup_registry(void)
{
    lp_test_reg = lp_test_registry();
}

void lp_test_setup(void)
{
    lp_test_reg = lp_test_registry();
    lp_test_dir = lp_test_tmpdir();
}

void lp_test_teardown(void)
{
    if (lp_test_dir)
        lp_test_rmtree(lp_test_dir);
    free(lp_test_dir);
    lp_test_dir = NULL;
    lp_registry_close(lp_test_reg);
    lp_test_reg = NULL;
}

char *lp_test_file(const char *name)
{
    char *p = NULL;
    cr_assert_not_null(lp_test_dir, "lp_test_file needs the lp_test_setup fixture");
    cr_assert_geq(asprintf(&p, "%s/%s", lp_test_dir, name), 0);
    return p;
}

lp_instance *lp_test_instance(lp_kind kind, const char *name, const char *kv)
{
    const lp_plugin *p = lp_registry_find(lp_test_reg, kind, name);
    cr_assert_not_null(p, "plugin '%s' is not loaded", name);
    lp_instance *inst = NULL;
    lp_err err = {0};
    cr_assert_eq(lp_instance_create_kv(p, kv, &inst, &err), 0, "%s %s: %s", name, kv ? kv : "",
                 err.msg);
    return inst;
}

const lp_kernel_ops *lp_test_kernel(const char *name)
{
    const lp_plugin *p = lp_registry_find(lp_test_reg, LP_KIND_KERNEL, name);
    LP_CHECK(p, "kernel '%s' is not loaded", name);
    return lp_plugin_descriptor(p)->ops;
}

size_t lp_test_dim(const lp_kernel_ops *o, const char *name)
{
    for (size_t d = 0; d < o->n_dims; d++)
        if (!strcmp(o->dims[d].name, name))
            return d;
    cr_assert_fail("no dim %s", name);
    return 0;
}

void lp_test_expect_diag(const lp_diag *diag, const char *const *want, size_t n)
{
    for (size_t w = 0; w < n; w++) {
        int found = 0;
        for (size_t i = 0; i < diag->n && !found; i++)
            found = strstr(diag->msgs[i], want[w]) != NULL;
        cr_assert(found, "no problem \"%s\" among %zu", want[w], diag->n);
    }
}

/* ---- engines ------------------------------------------------------------------------ */

int lp_test_engine_try(const char *name, const char *kv, lp_test_engine *e, lp_err *err)
{
    *e = (lp_test_engine){.reg = lp_test_registry()};
    const lp_plugin *p = lp_registry_find(e->reg, LP_KIND_ENGINE, name);
    cr_assert_not_null(p, "the %s engine plugin is not in the registry (its library was "
                          "missing at build time?)", name);
    int rc = lp_instance_create_kv(p, kv, &e->inst, err);
    if (rc == 0)
        e->ops = lp_instance_ops(e->inst);
    return rc;
}

lp_test_engine lp_test_engine_open(const char *name, const char *kv)
{
    lp_test_engine e;
    lp_err err = {0};
    int rc = lp_test_engine_try(name, kv, &e, &err);
    cr_assert_eq(rc, 0, "%s with '%s': %s", name, kv ? kv : "", err.msg);
    return e;
}

void lp_test_engine_close(lp_test_engine *e)
{
    lp_instance_destroy(e->inst);
    lp_registry_close(e->reg);
}

float *lp_test_engine_eval(lp_test_engine *e, const lp_graph *g, size_t i, int runs, int64_t *n)
{
    lp_err err = {0};
    void *run = NULL;
    cr_assert_eq(e->ops->prepare(e->inst->priv, g, &run, &err), 0, "prepare: %s", err.msg);
    for (int r = 0; r < runs; r++)
        cr_assert_eq(e->ops->run(run, &err), 0, "run %d: %s", r + 1, err.msg);
    *n = lp_shape_numel(&g->tensors[g->outputs[i]].shape);
    float *out = malloc((size_t)*n * sizeof *out);
    cr_assert_not_null(out);
    cr_assert_eq(e->ops->output(run, i, out, (size_t)*n, &err), 0, "output: %s", err.msg);
    e->ops->release(run);
    return out;
}

/* ---- predictor data ------------------------------------------------------------------ */

void lp_test_synth(lp_test_rows *r, size_t n, uint64_t seed, double base, double scale)
{
    static const int hw[] = {7, 14, 28, 56}, k[] = {1, 3, 5};
    cr_assert_leq(n, LP_TEST_ROWS);
    lp_rng rng;
    lp_rng_seed(&rng, seed);
    r->n = n;
    for (size_t i = 0; i < n; i++) {
        float *f = r->x + i * LP_TEST_NF;
        f[0] = (float)hw[lp_rng_below(&rng, 4)];
        f[1] = (float)(16 + 8 * lp_rng_below(&rng, 15));
        f[2] = (float)(16 + 8 * lp_rng_below(&rng, 15));
        f[3] = (float)k[lp_rng_below(&rng, 3)];
        double prod = (double)f[0] * f[0] * f[1] * f[2] * f[3] * f[3];
        f[4] = (float)(prod / 1e6);
        r->y[i] = (float)(scale * (base + 0.003 * prod / 1e6));
    }
}

lp_dataset lp_test_set_of(const lp_test_rows *r, size_t from, size_t n)
{
    return (lp_dataset){.kernel_type = "conv-bn-relu", .n = n, .n_features = LP_TEST_NF,
                        .x = r->x + from * LP_TEST_NF, .y = r->y + from};
}

/* ---- predictor instances ------------------------------------------------------------- */

static const lp_predictor_ops *lp_test_pred_ops(const lp_instance *inst)
{
    cr_assert_eq(inst->desc->kind, LP_KIND_PREDICTOR, "%s is not a predictor", inst->desc->name);
    return lp_instance_ops(inst);
}

void lp_test_train(lp_instance *inst, const lp_dataset *tr, const lp_dataset *val,
                   const lp_train_ctl *ctl, lp_train_report *rep)
{
    lp_err err = {0};
    int rc = lp_test_pred_ops(inst)->train(inst->priv, tr, val, ctl, rep, &err);
    cr_assert_eq(rc, 0, "%s: train: %s", inst->desc->name, err.msg);
}

void lp_test_predict(lp_instance *inst, const float *x, size_t n, float *out)
{
    lp_err err = {0};
    int rc = lp_test_pred_ops(inst)->predict(inst->priv, x, n, out, &err);
    cr_assert_eq(rc, 0, "%s: predict: %s", inst->desc->name, err.msg);
}

void lp_test_save(lp_instance *inst, const char *path)
{
    lp_err err = {0};
    int rc = lp_test_pred_ops(inst)->save(inst->priv, path, &err);
    cr_assert_eq(rc, 0, "%s: save: %s", inst->desc->name, err.msg);
}

void lp_test_load(lp_instance *inst, const char *path)
{
    lp_err err = {0};
    int rc = lp_test_pred_ops(inst)->load(inst->priv, path, &err);
    cr_assert_eq(rc, 0, "%s: load: %s", inst->desc->name, err.msg);
}

char *lp_test_trained_file(const char *name, const char *kv, const char *file, lp_test_rows *r)
{
    lp_test_synth(r, 2000, 1, 0.01, 1.0);
    lp_instance *inst = lp_test_instance(LP_KIND_PREDICTOR, name, kv);
    lp_dataset tr = lp_test_set_of(r, 0, 400);
    lp_test_train(inst, &tr, NULL, NULL, NULL);
    char *path = lp_test_file(file);
    lp_test_save(inst, path);
    lp_instance_destroy(inst);
    return path;
}

void lp_test_refused_load(lp_instance *inst, const float *x, size_t n, const char *path,
                          int code, const char *msg)
{
    static float before[LP_TEST_ROWS], after[LP_TEST_ROWS];
    cr_assert_leq(n, LP_TEST_ROWS);
    lp_test_predict(inst, x, n, before);
    lp_err err = {0};
    cr_assert_eq(lp_test_pred_ops(inst)->load(inst->priv, path, &err), code, "%s", err.msg);
    cr_assert_str_eq(err.msg, msg);
    lp_test_predict(inst, x, n, after);
    cr_assert_eq(memcmp(before, after, n * sizeof *before), 0, "a failed load changed the model");
}

int lp_test_count_files(const char *dir)
{
    DIR *d = opendir(dir);
    cr_assert_not_null(d, "cannot open %s", dir);
    int entries = 0;
    for (struct dirent *e; (e = readdir(d));)
        entries += strcmp(e->d_name, ".") && strcmp(e->d_name, "..");
    closedir(d);
    return entries;
}
