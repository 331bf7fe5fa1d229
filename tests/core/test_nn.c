/* The core's nn: gradients of dense layers, activations and losses against central
 * finite differences; Adam on a quadratic; the cosine schedule; bit-identical training
 * from a seed; the trainer's guards; normalisation; CRC-32, atomic files and the
 * checksummed-file writer against the reader. */
#include <criterion/criterion.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <litepred/litepred.h>
#include <litepred/nn.h>
#include <litepred/space.h>

#include "lp_test.h"

static lp_mlp *make_net(size_t n_layers, const int *sizes, const lp_nn_act *act,
                        const float *slope, uint64_t seed)
{
    lp_mlp *m = NULL;
    lp_err err = {0};
    cr_assert_eq(lp_mlp_create(&m, n_layers, sizes, act, slope, &err), 0, "%s", err.msg);
    lp_mlp_init_he(m, seed);
    /* Non-zero biases, so their gradients are exercised away from the init. */
    lp_rng rng;
    lp_rng_seed(&rng, seed + 1);
    for (size_t l = 0; l < n_layers; l++)
        for (int j = 0; j < sizes[l + 1]; j++)
            lp_mlp_bias(m, l, 0)[j] = (float)(0.2 * lp_nn_randn(&rng));
    return m;
}

/* The network in double precision, from the float parameters in w (same layout). */
static void ref_forward(const lp_mlp *m, const double *w, const double *x, int batch, double *out)
{
    double cur[64 * 8], nxt[64 * 8];
    int width = m->sizes[0];
    memcpy(cur, x, sizeof(double) * (size_t)(batch * width));
    for (size_t l = 0; l < m->n_layers; l++) {
        int ni = m->sizes[l], no = m->sizes[l + 1];
        const double *W = w + m->w_off[l], *b = W + no * ni;
        for (int r = 0; r < batch; r++)
            for (int j = 0; j < no; j++) {
                double z = b[j];
                for (int k = 0; k < ni; k++)
                    z += W[j * ni + k] * cur[r * ni + k];
                switch (m->act[l]) {
                case LP_NN_RELU: z = z > 0 ? z : 0; break;
                case LP_NN_LEAKY: z = z > 0 ? z : m->slope[l] * z; break;
                case LP_NN_SIGMOID: z = 1 / (1 + exp(-z)); break;
                default: break;
                }
                nxt[r * no + j] = z;
            }
        memcpy(cur, nxt, sizeof(double) * (size_t)(batch * no));
    }
    memcpy(out, cur, sizeof(double) * (size_t)batch);
}

static double ref_loss(const lp_mlp *m, const double *w, const double *x, const double *y,
                       int batch, lp_nn_loss loss)
{
    double out[64], sum = 0;
    ref_forward(m, w, x, batch, out);
    for (int r = 0; r < batch; r++)
        sum += loss == LP_NN_MAPE ? fabs(out[r] - y[r]) / fabs(y[r])
                                  : (out[r] - y[r]) * (out[r] - y[r]);
    return sum / batch;
}

/* Central differences of a double-precision copy of the network (h = 1e-6, so truncation
 * and rounding errors are both ~1e-10) against the float backward pass: agreement within
 * 1e-4 absolute + 1e-3 relative is float rounding. The data keep every |.| away from its
 * kink (targets far above the outputs); a ReLU kink within h of a pre-activation would
 * show as a mismatch, and none is hit with these seeds. */
static void gradcheck(lp_nn_loss loss, const lp_nn_act *act, const float *slope)
{
    enum { B = 5, L = 4 };
    const int sizes[L + 1] = {3, 7, 6, 5, 1};
    lp_mlp *m = make_net(L, sizes, act, slope, 11);
    lp_mlp_ws *ws = NULL;
    lp_err err = {0};
    cr_assert_eq(lp_mlp_ws_create(m, B, &ws, &err), 0, "%s", err.msg);
    float x[B * 3], y[B], grad[B], dx[B * 3];
    double xd[B * 3], yd[B], out_d[B], *w = malloc(m->n_params * sizeof *w);
    lp_rng rng;
    lp_rng_seed(&rng, 5);
    for (int i = 0; i < B * 3; i++)
        xd[i] = x[i] = (float)lp_nn_randn(&rng);
    for (int i = 0; i < B; i++)
        yd[i] = y[i] = (float)(4.0 + lp_nn_uniform(&rng)); /* far above the outputs */
    for (size_t i = 0; i < m->n_params; i++)
        w[i] = m->params[i];
    const float *out = lp_mlp_forward(m, ws, x, B);
    ref_forward(m, w, xd, B, out_d);
    for (int r = 0; r < B; r++)
        LP_CHECK(fabs(out[r] - out_d[r]) <= 1e-5 * (1 + fabs(out_d[r])), "forward row %d: %g vs %g",
                 r, (double)out[r], out_d[r]);
    lp_nn_loss_eval(loss, out, y, B, grad);
    lp_mlp_backward(m, ws, grad, dx);
    const double h = 1e-6;
    for (size_t i = 0; i < m->n_params; i++) {
        double keep = w[i];
        w[i] = keep + h;
        double lp = ref_loss(m, w, xd, yd, B, loss);
        w[i] = keep - h;
        double lm = ref_loss(m, w, xd, yd, B, loss);
        w[i] = keep;
        double num = (lp - lm) / (2 * h), ana = m->grads[i];
        LP_CHECK(fabs(num - ana) <= 1e-4 + 1e-3 * fabs(num),
                 "%s: param %zu: analytic %g, numeric %g",
                 lp_nn_loss_name(loss), i, ana, num);
    }
    for (int i = 0; i < B * 3; i++) {
        double keep = xd[i];
        xd[i] = keep + h;
        double lp = ref_loss(m, w, xd, yd, B, loss);
        xd[i] = keep - h;
        double lm = ref_loss(m, w, xd, yd, B, loss);
        xd[i] = keep;
        double num = (lp - lm) / (2 * h);
        LP_CHECK(fabs(num - dx[i]) <= 1e-4 + 1e-3 * fabs(num), "input %d: analytic %g, numeric %g",
                 i, (double)dx[i], num);
    }
    free(w);
    lp_mlp_ws_free(ws);
    lp_mlp_free(m);
}

Test(nn, gradcheck_relu_leaky_mape)
{
    const lp_nn_act act[4] = {LP_NN_RELU, LP_NN_LEAKY, LP_NN_RELU, LP_NN_LINEAR};
    const float slope[4] = {0, 0.3f, 0, 0};
    gradcheck(LP_NN_MAPE, act, slope);
}

Test(nn, gradcheck_relu_leaky_mse)
{
    const lp_nn_act act[4] = {LP_NN_LEAKY, LP_NN_RELU, LP_NN_LEAKY, LP_NN_LINEAR};
    const float slope[4] = {0.3f, 0, 0.1f, 0};
    gradcheck(LP_NN_MSE, act, slope);
}

Test(nn, gradcheck_sigmoid_output)
{
    const lp_nn_act act[4] = {LP_NN_RELU, LP_NN_SIGMOID, LP_NN_LEAKY, LP_NN_SIGMOID};
    const float slope[4] = {0, 0, 0.3f, 0};
    gradcheck(LP_NN_MSE, act, slope);
}

/* Wide layers take the vector path (16 floats at a time) plus a scalar tail. */
Test(nn, gradcheck_wide_layers)
{
    enum { B = 3, L = 3 };
    const int sizes[L + 1] = {2, 37, 20, 1};
    const lp_nn_act act[L] = {LP_NN_RELU, LP_NN_LEAKY, LP_NN_LINEAR};
    const float slope[L] = {0, 0.3f, 0};
    lp_mlp *m = make_net(L, sizes, act, slope, 3);
    lp_mlp_ws *ws = NULL;
    cr_assert_eq(lp_mlp_ws_create(m, B, &ws, NULL), 0);
    float x[B * 2] = {0.5f, -1.0f, 1.5f, 0.25f, -0.75f, 2.0f}, y[B] = {5, 6, 7}, grad[B];
    double xd[B * 2], yd[B] = {5, 6, 7}, *w = malloc(m->n_params * sizeof *w);
    for (int i = 0; i < B * 2; i++)
        xd[i] = x[i];
    for (size_t i = 0; i < m->n_params; i++)
        w[i] = m->params[i];
    lp_nn_loss_eval(LP_NN_MAPE, lp_mlp_forward(m, ws, x, B), y, B, grad);
    lp_mlp_backward(m, ws, grad, NULL);
    for (size_t i = 0; i < m->n_params; i++) {
        double keep = w[i];
        w[i] = keep + 1e-6;
        double lp = ref_loss(m, w, xd, yd, B, LP_NN_MAPE);
        w[i] = keep - 1e-6;
        double lm = ref_loss(m, w, xd, yd, B, LP_NN_MAPE);
        w[i] = keep;
        double num = (lp - lm) / 2e-6;
        LP_CHECK(fabs(num - m->grads[i]) <= 1e-4 + 1e-3 * fabs(num), "param %zu: %g vs %g", i,
                 (double)m->grads[i], num);
    }
    free(w);
    lp_mlp_ws_free(ws);
    lp_mlp_free(m);
}

Test(nn, loss_values_and_gradients)
{
    const float pred[4] = {1.5f, 2.0f, 0.5f, 3.0f}, y[4] = {1.0f, 4.0f, 0.5f, 2.0f};
    float g[4];
    double mape = lp_nn_loss_eval(LP_NN_MAPE, pred, y, 4, g);
    cr_assert_float_eq(mape, (0.5 + 0.5 + 0 + 0.5) / 4, 1e-7);
    cr_assert_float_eq(g[0], 1.0 / (4 * 1.0), 1e-7);
    cr_assert_float_eq(g[1], -1.0 / (4 * 4.0), 1e-7);
    cr_assert_eq(g[2], 0.0f, "zero subgradient at pred == y");
    double mse = lp_nn_loss_eval(LP_NN_MSE, pred, y, 4, g);
    cr_assert_float_eq(mse, (0.25 + 4 + 0 + 1) / 4, 1e-7);
    cr_assert_float_eq(g[1], 2 * (2.0 - 4.0) / 4, 1e-7);
}

Test(nn, adam_first_step_and_quadratic)
{
    enum { N = 37 };
    lp_adam a;
    cr_assert_eq(lp_adam_init(&a, N, NULL), 0);
    float p[N], t[N], g[N];
    for (int i = 0; i < N; i++) {
        p[i] = 0;
        t[i] = (float)(i % 7) - 3.0f + 0.5f;
    }
    /* Adam's first step moves each coordinate by lr against the gradient's sign. */
    for (int i = 0; i < N; i++)
        g[i] = 2 * (p[i] - t[i]);
    lp_adam_step(&a, p, g, 0.01);
    for (int i = 0; i < N; i++)
        cr_assert_float_eq(p[i], t[i] > 0 ? 0.01f : -0.01f, 1e-6, "coordinate %d", i);
    for (int s = 0; s < 3000; s++) {
        for (int i = 0; i < N; i++)
            g[i] = 2 * (p[i] - t[i]);
        lp_adam_step(&a, p, g, lp_nn_cosine_lr(0.05, s, 3000));
    }
    for (int i = 0; i < N; i++)
        cr_assert_float_eq(p[i], t[i], 1e-3, "coordinate %d: %g, minimum %g", i, p[i], t[i]);
    cr_assert_eq(a.t, 3001);
    lp_adam_free(&a);
}

Test(nn, cosine_schedule)
{
    cr_assert_eq(lp_nn_cosine_lr(1e-3, 0, 350), 1e-3);
    cr_assert_float_eq(lp_nn_cosine_lr(1e-3, 175, 350), 5e-4, 1e-15);
    cr_assert_float_eq(lp_nn_cosine_lr(1e-3, 350, 350), 0.0, 1e-15);
    /* PyTorch's value for the last epoch (T_max = 350, epoch 349). */
    cr_assert_float_eq(lp_nn_cosine_lr(1e-3, 349, 350), 1e-3 * 0.5 * (1 + cos(M_PI * 349 / 350)),
                       1e-18);
    for (int e = 1; e <= 350; e++)
        LP_CHECK(lp_nn_cosine_lr(1e-3, e, 350) < lp_nn_cosine_lr(1e-3, e - 1, 350),
                 "not decreasing at %d", e);
}

/* y = 0.05 + x0 * x1 + x2^2 on x in [0.2, 1]^3. */
static void toy_data(size_t n, float *x, float *y, uint64_t seed)
{
    lp_rng rng;
    lp_rng_seed(&rng, seed);
    for (size_t r = 0; r < n; r++) {
        for (int j = 0; j < 3; j++)
            x[r * 3 + j] = (float)(0.2 + 0.8 * lp_nn_uniform(&rng));
        y[r] = 0.05f + x[r * 3] * x[r * 3 + 1] + x[r * 3 + 2] * x[r * 3 + 2];
    }
}

static lp_mlp *toy_net(void)
{
    const int sizes[4] = {3, 16, 16, 1};
    const lp_nn_act act[3] = {LP_NN_RELU, LP_NN_LEAKY, LP_NN_LINEAR};
    const float slope[3] = {0, 0.3f, 0};
    lp_mlp *m = NULL;
    cr_assert_eq(lp_mlp_create(&m, 3, sizes, act, slope, NULL), 0);
    lp_mlp_init_he(m, 7);
    return m;
}

static int toy_fit(lp_mlp *m, uint64_t seed, lp_nn_fit_stats *st, lp_err *err)
{
    enum { N = 300 };
    float x[N * 3], y[N];
    toy_data(N, x, y, 1);
    lp_nn_norm nm;
    cr_assert_eq(lp_nn_norm_init(&nm, 3, NULL), 0);
    lp_nn_norm_fit(&nm, x, N, y);
    lp_nn_fit_opts o = {.epochs = 30, .lr = 3e-3, .batch = 32, .loss = LP_NN_MAPE, .seed = seed};
    int rc = lp_nn_fit(m, &nm, x, y, N, x, y, 50, &o, st, err);
    lp_nn_norm_free(&nm);
    return rc;
}

Test(nn, same_seed_bit_identical)
{
    lp_mlp *a = toy_net(), *b = toy_net(), *c = toy_net();
    lp_nn_fit_stats sa, sb, sc;
    lp_err err = {0};
    cr_assert_eq(toy_fit(a, 3, &sa, &err), 0, "%s", err.msg);
    cr_assert_eq(toy_fit(b, 3, &sb, &err), 0, "%s", err.msg);
    cr_assert_eq(toy_fit(c, 4, &sc, &err), 0, "%s", err.msg);
    cr_assert_eq(memcmp(a->params, b->params, a->n_params * sizeof(float)), 0,
                 "same seed, different weights");
    cr_assert_neq(memcmp(a->params, c->params, a->n_params * sizeof(float)), 0,
                  "the shuffling seed changed nothing");
    cr_assert_eq(sa.last_loss, sb.last_loss);
    cr_assert_lt(sa.last_loss, sa.first_loss);
    cr_assert_lt(sa.val_mape, 0.10, "toy validation MAPE %g", sa.val_mape);
    cr_assert_eq(sa.epochs, 30);
    lp_mlp_free(a);
    lp_mlp_free(b);
    lp_mlp_free(c);
}

Test(nn, fit_guards)
{
    lp_mlp *m = toy_net();
    lp_nn_norm nm;
    cr_assert_eq(lp_nn_norm_init(&nm, 3, NULL), 0);
    float x[4 * 3] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 1, 1, 1}, y[4] = {1, 2, 0, 3};
    lp_nn_fit_opts o = {.epochs = 2, .lr = 1e-3, .batch = 2, .loss = LP_NN_MAPE};
    lp_err err = {0};
    cr_assert_eq(lp_nn_fit(m, &nm, x, y, 4, NULL, NULL, 0, &o, NULL, &err), LP_EINVAL);
    cr_assert_str_eq(err.msg, "row 2: latency 0 is not > 0 (the MAPE loss divides by it)");
    y[2] = 2;
    x[4] = NAN;
    cr_assert_eq(lp_nn_fit(m, &nm, x, y, 4, NULL, NULL, 0, &o, NULL, &err), LP_EINVAL);
    cr_assert_str_eq(err.msg, "row 1: feature 1 is nan (must be finite)");
    x[4] = 5;
    /* A step this large overflows the weights: training stops, it does not go on with NaNs. */
    o.lr = 1e30;
    o.loss = LP_NN_MSE;
    cr_assert_eq(lp_nn_fit(m, &nm, x, y, 4, NULL, NULL, 0, &o, NULL, &err), LP_EINVAL);
    cr_assert(strstr(err.msg, "training diverged: the loss is"), "%s", err.msg);
    lp_nn_norm_free(&nm);
    lp_mlp_free(m);
}

static int stop_at_two(void *ctx, int64_t epoch, int64_t epochs, double loss, double val)
{
    (void)epochs;
    (void)loss;
    cr_assert(isnan(val));
    *(int64_t *)ctx = epoch;
    return epoch == 2;
}

Test(nn, progress_stops_training)
{
    lp_mlp *m = toy_net();
    lp_nn_norm nm;
    cr_assert_eq(lp_nn_norm_init(&nm, 3, NULL), 0);
    float x[8 * 3], y[8];
    toy_data(8, x, y, 2);
    int64_t seen = 0;
    lp_nn_fit_opts o = {.epochs = 5, .lr = 1e-3, .batch = 3, .on_epoch = stop_at_two, .ctx = &seen};
    lp_nn_fit_stats st;
    lp_err err = {0};
    cr_assert_eq(lp_nn_fit(m, &nm, x, y, 8, NULL, NULL, 0, &o, &st, &err), LP_EINTERRUPTED);
    cr_assert_eq(seen, 2);
    cr_assert_eq(st.epochs, 2);
    cr_assert_str_eq(err.msg, "nn: training stopped after epoch 2 of 5");
    lp_nn_norm_free(&nm);
    lp_mlp_free(m);
}

Test(nn, create_rejects_bad_specs)
{
    lp_mlp *m = NULL;
    lp_err err = {0};
    const int sizes[3] = {4, 0, 1};
    const lp_nn_act act[2] = {LP_NN_RELU, LP_NN_LINEAR};
    cr_assert_eq(lp_mlp_create(&m, 2, sizes, act, NULL, &err), LP_EINVAL);
    cr_assert_str_eq(err.msg, "nn: width 1 is 0 (valid: 1..65536)");
    const int ok[3] = {4, 8, 1};
    const lp_nn_act leaky[2] = {LP_NN_LEAKY, LP_NN_LINEAR};
    cr_assert_eq(lp_mlp_create(&m, 2, ok, leaky, NULL, &err), LP_EINVAL);
    cr_assert_null(m);
}

Test(nn, he_init_scale_and_layout)
{
    const int sizes[3] = {256, 256, 1};
    const lp_nn_act act[2] = {LP_NN_RELU, LP_NN_LINEAR};
    lp_mlp *m = NULL;
    cr_assert_eq(lp_mlp_create(&m, 2, sizes, act, NULL, NULL), 0);
    cr_assert_eq(m->n_params, 256 * 256 + 256 + 256 + 1);
    cr_assert_eq(lp_mlp_bias(m, 0, 0), m->params + 256 * 256);
    cr_assert_eq(lp_mlp_weights(m, 1, 1), m->grads + 256 * 256 + 256);
    lp_mlp_init_he(m, 1);
    double ss = 0;
    for (int i = 0; i < 256 * 256; i++)
        ss += (double)m->params[i] * m->params[i];
    /* Var = 2 / fan_in for ReLU layers. */
    cr_assert_float_eq(ss / (256 * 256), 2.0 / 256, 2.0 / 256 * 0.03);
    cr_assert_eq(lp_mlp_bias(m, 0, 0)[5], 0.0f);
    lp_mlp_free(m);
}

Test(nn, normalisation)
{
    const float x[3 * 2] = {1, 5, 2, 5, 3, 5}, y[3] = {1, 2, 6};
    lp_nn_norm nm;
    cr_assert_eq(lp_nn_norm_init(&nm, 2, NULL), 0);
    lp_nn_norm_fit(&nm, x, 3, y);
    cr_assert_float_eq(nm.mean[0], 2.0f, 1e-6);
    cr_assert_float_eq(nm.std[0], sqrtf(2.0f / 3), 1e-6);
    cr_assert_eq(nm.std[1], 1.0f, "a constant feature keeps std 1");
    cr_assert_float_eq(nm.y_scale, 3.0f, 1e-6);
    float out[6];
    lp_nn_norm_apply(&nm, x, 3, out);
    cr_assert_float_eq(out[0], -1.0f / sqrtf(2.0f / 3), 1e-6);
    cr_assert_eq(out[1], 0.0f);
    lp_nn_norm_free(&nm);
}

Test(nn, predict_matches_forward_in_chunks)
{
    lp_mlp *m = toy_net();
    lp_nn_norm nm;
    cr_assert_eq(lp_nn_norm_init(&nm, 3, NULL), 0);
    nm.y_scale = 2.0f;
    lp_mlp_ws *small = NULL, *big = NULL;
    cr_assert_eq(lp_mlp_ws_create(m, 3, &small, NULL), 0);
    cr_assert_eq(lp_mlp_ws_create(m, 64, &big, NULL), 0);
    float x[10 * 3], y[10], a[10], b[10];
    toy_data(10, x, y, 9);
    lp_nn_predict(m, &nm, small, x, 10, a);
    lp_nn_predict(m, &nm, big, x, 10, b);
    for (int i = 0; i < 10; i++)
        cr_assert_float_eq(a[i], b[i], 1e-6 * fabsf(b[i]) + 1e-7, "row %d", i);
    /* sgemm may round a row differently in batches of other sizes: close, not equal. */
    const float *o = lp_mlp_forward(m, big, x, 1);
    cr_assert_float_eq(o[0] * 2.0f, b[0], 1e-6 * fabsf(b[0]) + 1e-7);
    lp_mlp_ws_free(small);
    lp_mlp_ws_free(big);
    lp_nn_norm_free(&nm);
    lp_mlp_free(m);
}

Test(nn, crc32_known_value)
{
    cr_assert_eq(lp_nn_crc32(0, "123456789", 9), 0xCBF43926u);
    uint32_t part = lp_nn_crc32(0, "1234", 4);
    cr_assert_eq(lp_nn_crc32(part, "56789", 5), 0xCBF43926u, "continues from a previous crc");
    cr_assert_eq(lp_nn_crc32(0, "", 0), 0u);
}

Test(nn, atomic_write_and_read)
{
    char *dir = lp_test_tmpdir(), path[512];
    snprintf(path, sizeof path, "%s/model.bin", dir);
    lp_err err = {0};
    cr_assert_eq(lp_nn_write_atomic(path, "old", 3, &err), 0, "%s", err.msg);
    cr_assert_eq(lp_nn_write_atomic(path, "new bytes", 9, &err), 0, "%s", err.msg);
    unsigned char *buf = NULL;
    size_t n = 0;
    cr_assert_eq(lp_nn_read_file(path, &buf, &n, &err), 0, "%s", err.msg);
    cr_assert_eq(n, 9);
    cr_assert_eq(memcmp(buf, "new bytes", 9), 0);
    free(buf);
    cr_assert_eq(lp_test_count_files(dir), 1, "a temporary file was left behind");
    char missing[600];
    snprintf(missing, sizeof missing, "%s/none.bin", dir);
    cr_assert_eq(lp_nn_read_file(missing, &buf, &n, &err), LP_ENOTFOUND);
    cr_assert(strstr(err.msg, "none.bin: cannot open"), "%s", err.msg);
    snprintf(missing, sizeof missing, "%s/no/such/dir/x.bin", dir);
    cr_assert_eq(lp_nn_write_atomic(missing, "x", 1, &err), LP_EIO);
    lp_test_rmtree(dir);
    free(dir);
}

/* ---- checksummed files: the writer against the reader ---------------------------------- */

static const unsigned char demo_magic[4] = {'D', 'E', 'M', 'O'};
/* magic 4, version 4, flags 4, size 8: the envelope lp_nn_wr_head writes */
#define DEMO_HEADER 20u
/* the envelope, a text "ab" (u16 length, 2 bytes), u16, u32, u64, f32, f64, 3 raw bytes,
 * the checksum */
#define DEMO_SIZE (DEMO_HEADER + 2 + 2 + 2 + 4 + 8 + 4 + 8 + 3 + 4)

/* Every field kind once; *path gets the file in dir. */
static int demo_write(const char *dir, size_t size, char *path, size_t cap, lp_err *err)
{
    snprintf(path, cap, "%s/demo.bin", dir);
    lp_nn_wr w;
    int rc = lp_nn_wr_open(&w, size, path, err);
    cr_assert_eq(rc, 0, "%s", err->msg);
    lp_nn_wr_head(&w, demo_magic, sizeof demo_magic, 3, 0x5);
    lp_nn_wr_text(&w, "ab");
    lp_nn_wr_u16(&w, 0xbeef);
    lp_nn_wr_u32(&w, 0x01020304u);
    lp_nn_wr_u64(&w, 0x1122334455667788ull);
    lp_nn_wr_f32(&w, -1.5f);
    lp_nn_wr_f64(&w, 0.1);
    lp_nn_wr_bytes(&w, "xyz", 3);
    return lp_nn_wr_commit(&w, path, err);
}

Test(nn, file_writer_round_trips_through_reader)
{
    char *dir = lp_test_tmpdir(), path[512], text[8];
    lp_err err = {0};
    cr_assert_eq(demo_write(dir, DEMO_SIZE, path, sizeof path, &err), 0, "%s", err.msg);
    unsigned char *buf = NULL;
    size_t n = 0;
    cr_assert_eq(lp_nn_read_file(path, &buf, &n, &err), 0, "%s", err.msg);
    cr_assert_eq(n, DEMO_SIZE);
    cr_assert_eq(lp_nn_file_check(buf, n, demo_magic, sizeof demo_magic, DEMO_HEADER, 3, "demo",
                                  path, &err), 0, "%s", err.msg);
    static const unsigned char le[] = {0xef, 0xbe, 0x04, 0x03, 0x02, 0x01};
    cr_assert_eq(memcmp(buf + DEMO_HEADER + 4, le, sizeof le), 0, "little-endian fields");
    lp_nn_rd r = {.p = buf, .n = n - 4, .off = sizeof demo_magic};
    cr_assert_eq(lp_nn_rd_uint(&r, 4), 3);
    cr_assert_eq(lp_nn_rd_uint(&r, 4), 0x5);
    cr_assert_eq(lp_nn_rd_uint(&r, 8), DEMO_SIZE);
    cr_assert_eq(lp_nn_rd_text(&r, text, sizeof text), 0);
    cr_assert_str_eq(text, "ab");
    cr_assert_eq(lp_nn_rd_uint(&r, 2), 0xbeef);
    cr_assert_eq(lp_nn_rd_uint(&r, 4), 0x01020304u);
    cr_assert_eq(lp_nn_rd_uint(&r, 8), 0x1122334455667788ull);
    cr_assert_eq(lp_nn_rd_f32(&r), -1.5f);
    cr_assert_eq(lp_nn_rd_f64(&r), 0.1);
    cr_assert_eq(memcmp(lp_nn_rd_bytes(&r, 3), "xyz", 3), 0);
    cr_assert(!r.bad && r.off == r.n, "the fields fill the file");
    cr_assert_null(lp_nn_rd_bytes(&r, 1));
    cr_assert(r.bad, "reading past the end");
    buf[0] = 'X';
    cr_assert_eq(lp_nn_file_check(buf, n, demo_magic, sizeof demo_magic, DEMO_HEADER, 3, "demo",
                                  path, &err), LP_EPARSE);
    cr_assert(strstr(err.msg, "bad magic: not a litepred demo file"), "%s", err.msg);
    free(buf);
    lp_test_rmtree(dir);
    free(dir);
}

/* A size computed wrong either way is refused before anything reaches the disk. */
Test(nn, file_writer_refuses_a_wrong_size)
{
    char *dir = lp_test_tmpdir(), path[512], says[64];
    lp_err err = {0};
    cr_assert_eq(demo_write(dir, DEMO_SIZE - 1, path, sizeof path, &err), LP_EINVAL);
    snprintf(says, sizeof says, "overrun the %u bytes", DEMO_SIZE - 1);
    cr_assert(strstr(err.msg, says), "%s", err.msg);
    cr_assert_eq(demo_write(dir, DEMO_SIZE + 2, path, sizeof path, &err), LP_EINVAL);
    snprintf(says, sizeof says, "fill %u of the %u bytes", DEMO_SIZE, DEMO_SIZE + 2);
    cr_assert(strstr(err.msg, says), "%s", err.msg);
    cr_assert_neq(access(path, F_OK), 0, "a file was written");
    lp_test_rmtree(dir);
    free(dir);
}

/* The fused backward + Adam gives exactly the bits of backward, then a separate step. */
Test(nn, fused_backward_adam_is_exact)
{
    const int sizes[4] = {3, 40, 17, 1};
    const lp_nn_act act[3] = {LP_NN_RELU, LP_NN_LEAKY, LP_NN_LINEAR};
    const float slope[3] = {0, 0.3f, 0};
    lp_mlp *a = make_net(3, sizes, act, slope, 4), *b = make_net(3, sizes, act, slope, 4);
    lp_mlp_ws *wa = NULL, *wb = NULL;
    lp_adam da, db;
    cr_assert_eq(lp_mlp_ws_create(a, 8, &wa, NULL), 0);
    cr_assert_eq(lp_mlp_ws_create(b, 8, &wb, NULL), 0);
    cr_assert_eq(lp_adam_init(&da, a->n_params, NULL), 0);
    cr_assert_eq(lp_adam_init(&db, b->n_params, NULL), 0);
    float x[8 * 3], y[8], g[8];
    toy_data(8, x, y, 4);
    for (int step = 0; step < 5; step++) {
        lp_nn_loss_eval(LP_NN_MAPE, lp_mlp_forward(a, wa, x, 8), y, 8, g);
        lp_mlp_backward(a, wa, g, NULL);
        lp_adam_step(&da, a->params, a->grads, 1e-2);
        lp_nn_loss_eval(LP_NN_MAPE, lp_mlp_forward(b, wb, x, 8), y, 8, g);
        lp_mlp_backward_adam(b, wb, g, &db, 1e-2);
    }
    cr_assert_eq(memcmp(a->params, b->params, a->n_params * sizeof(float)), 0);
    cr_assert_eq(memcmp(da.v, db.v, a->n_params * sizeof(float)), 0);
    lp_adam_free(&da);
    lp_adam_free(&db);
    lp_mlp_ws_free(wa);
    lp_mlp_ws_free(wb);
    lp_mlp_free(a);
    lp_mlp_free(b);
}
