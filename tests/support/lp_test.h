/* Helpers shared by the Criterion tests. */
#ifndef LP_TEST_H
#define LP_TEST_H

#include <stddef.h>
#include <stdint.h>
#include <litepred/litepred.h>
#include <litepred/predictor.h>

/** Asserts only on failure: ctest runs with --full-stats, which records every passing
 *  assertion, and a loop of cr_assert over thousands of rows floods that record. */
#define LP_CHECK(cond, ...)              \
    do {                                 \
        if (!(cond))                     \
            cr_assert_fail(__VA_ARGS__); \
    } while (0)

/* ---- processes, files and directories ------------------------------------------------ */

/** Runs a shell command; returns its exit status (or -1) and stdout+stderr in *out (malloc'd). */
int lp_test_run(const char *cmd, char **out);
/** Runs the litepred CLI with args (a shell fragment); like lp_test_run. */
int lp_test_cli(const char *args, char **out);
/** Runs the litepred CLI with args, asserts its exit code and returns its output (malloc'd). */
char *lp_test_cli_expect(int code, const char *args);
/** Creates a fresh temporary directory and returns its malloc'd path. */
char *lp_test_tmpdir(void);
/** Writes text to dir/name; returns the malloc'd path. */
char *lp_test_write(const char *dir, const char *name, const char *text);
/** A whole file's bytes (malloc'd, *n of them); aborts the test when it cannot be read. */
unsigned char *lp_test_slurp(const char *path, size_t *n);
/** Writes n bytes to path, replacing it; aborts the test on failure. */
void lp_test_spit(const char *path, const void *b, size_t n);
/** Removes a directory tree (best effort). */
void lp_test_rmtree(const char *dir);

/* ---- model file images (little-endian, a CRC-32 in the last 4 bytes) ---------------------- */

/** The little-endian u32 at b. */
uint32_t lp_test_get_u32(const unsigned char *b);
/** Stores v little-endian at b. */
void lp_test_put_u32(unsigned char *b, uint32_t v);
/** Recomputes the trailing checksum of an n-byte image after an edit, so that only the
 *  edit is wrong with it. */
void lp_test_reseal(unsigned char *b, size_t n);
/** Stores v at b + off, reseals the n-byte image and writes it to path: a well-formed file
 *  whose only fault is that field. */
void lp_test_spit_patched(const char *path, unsigned char *b, size_t n, size_t off, uint32_t v);

/** Checks one load that must fail: the callee loads path into an instance holding a good
 *  model and asserts the code, exactly msg, and that the held model survived. */
typedef void (*lp_test_refusal_fn)(void *ctx, const char *path, int code, const char *msg);

/** Damages copies of the model file good in every way the shared envelope check
 *  (lp_nn_file_check) refuses, and hands each copy to expect with its code and exact
 *  message: cut short, cut inside the header (header bytes long), a flipped byte in the
 *  middle, a bad magic, not a model at all, a newer format version. what names the format
 *  as the plugin does ("mlp predictor"). The copies go to lp_test_dir (lp_test_setup). */
void lp_test_envelope_damage(const char *good, const char *what, unsigned header,
                             lp_test_refusal_fn expect, void *ctx);

/* ---- registries, plugins and instances -------------------------------------------------- */

/** Opens a registry over the built plugins (aborts the test on failure). */
lp_registry *lp_test_registry(void);

/** The registry that lp_test_setup opens. */
extern lp_registry *lp_test_reg;
/** The temporary directory that lp_test_setup creates (NULL after lp_test_setup_registry). */
extern char *lp_test_dir;
/** Suite .init: opens lp_test_reg over the built plugins and creates lp_test_dir. */
void lp_test_setup(void);
/** Suite .init for suites without files: opens lp_test_reg only. */
void lp_test_setup_registry(void);
/** Suite .fini of both: removes lp_test_dir and closes lp_test_reg. */
void lp_test_teardown(void);
/** lp_test_dir/name as a malloc'd path. */
char *lp_test_file(const char *name);

/** An instance of plugin kind/name in lp_test_reg with options kv; aborts the test when
 *  either fails. */
lp_instance *lp_test_instance(lp_kind kind, const char *name, const char *kv);
/** The ops of kernel type name in lp_test_reg; aborts the test when it is not loaded. */
const lp_kernel_ops *lp_test_kernel(const char *name);
/** The index of the dim called name in o's dims; aborts the test when there is none. */
size_t lp_test_dim(const lp_kernel_ops *o, const char *name);
/** Asserts that every one of want[0..n) is part of some message of diag. */
void lp_test_expect_diag(const lp_diag *diag, const char *const *want, size_t n);

/* ---- engines ----------------------------------------------------------------------------- */

/** An engine instance with its own registry. */
typedef struct lp_test_engine {
    lp_registry *reg;         /**< opened for this engine */
    lp_instance *inst;        /**< the engine */
    const lp_engine_ops *ops; /**< its ops */
} lp_test_engine;

/** Opens engine name with options kv into *e; returns the instance's code (err filled), so
 *  a test can expect a refusal. The plugin itself must be loaded. */
int lp_test_engine_try(const char *name, const char *kv, lp_test_engine *e, lp_err *err);
/** Opens engine name with options kv; aborts the test on failure. */
lp_test_engine lp_test_engine_open(const char *name, const char *kv);
/** Destroys the instance and closes the registry. */
void lp_test_engine_close(lp_test_engine *e);
/** Prepares g, runs it `runs` times (a repeated run must not change anything) and returns
 *  output i (malloc'd, *n elements). */
float *lp_test_engine_eval(lp_test_engine *e, const lp_graph *g, size_t i, int runs, int64_t *n);

/* ---- predictor data ---------------------------------------------------------------------- */

/** Features of lp_test_rows: hw, cin, cout, k and a FLOPs-like product / 1e6. */
#define LP_TEST_NF 5
/** Most rows an lp_test_rows holds. */
#define LP_TEST_ROWS 2000

/** A conv-like latency data set. */
typedef struct lp_test_rows {
    float x[LP_TEST_ROWS * LP_TEST_NF]; /**< features, row-major */
    float y[LP_TEST_ROWS];              /**< latencies in ms */
    size_t n;                           /**< rows filled */
} lp_test_rows;

/** Fills n rows drawn from seed: conv dims and y = scale * (base + 0.003 * product / 1e6) ms,
 *  so y grows with the FLOPs-like feature (base 0.01, scale 1: 0.01..1.4 ms). */
void lp_test_synth(lp_test_rows *r, size_t n, uint64_t seed, double base, double scale);
/** Rows from..from+n of r as a "conv-bn-relu" data set. */
lp_dataset lp_test_set_of(const lp_test_rows *r, size_t from, size_t n);

/* ---- predictor instances (each aborts the test when the call fails) ---------------------- */

/** Trains a predictor instance on tr (val and ctl may be NULL); rep may be NULL. */
void lp_test_train(lp_instance *inst, const lp_dataset *tr, const lp_dataset *val,
                   const lp_train_ctl *ctl, lp_train_report *rep);
/** Predicts n rows of x into out. */
void lp_test_predict(lp_instance *inst, const float *x, size_t n, float *out);
/** Saves a predictor instance's model to path. */
void lp_test_save(lp_instance *inst, const char *path);
/** Loads path into a predictor instance. */
void lp_test_load(lp_instance *inst, const char *path);
/** Predictor plugin name with options kv, trained on rows 0..400 of r (which this fills with
 *  lp_test_synth(r, 2000, 1, 0.01, 1)) and saved as lp_test_dir/file; returns the path. */
char *lp_test_trained_file(const char *name, const char *kv, const char *file, lp_test_rows *r);
/** Loads path into inst, which holds a model, expecting code and exactly msg; the held
 *  model must survive: its predictions on n rows of x do not change (n <= LP_TEST_ROWS). */
void lp_test_refused_load(lp_instance *inst, const float *x, size_t n, const char *path,
                          int code, const char *msg);
/** Entries in directory dir other than . and .. (a leftover temporary file shows up). */
int lp_test_count_files(const char *dir);

#endif
