/* nn: models made by real tools, through the importer and the reference,
 * against PyTorch's float outputs (committed by scripts/make-models) and the
 * example's labels.
 *
 * Tolerance. conf_error_bound gives a rigorous bound on what fixed point
 * loses against exact arithmetic, but it multiplies by fan-in x max|w| at
 * every layer (the worst case, where every rounding error has the same
 * sign), so past a few layers it is astronomically loose (4e8 for the CNN)
 * and only checked as a sanity bound. The real error scales as 2^-s: on
 * the CNN it is 14.4, 15.4 and 16.6 x 2^-s at s = 12, 20 and 9 (measured;
 * the constant is large because a standalone BatchNorm multiplies a
 * near-dead channel by ~500). The test allows 64 x 2^-s: four times the
 * measured constant, while a wrong layer (a wrong pad, window, bias or
 * fold) gives errors of the order of the logits themselves (~1), and the
 * labels must agree. */
#include "conf.h"
#include "harness.h"
#include "he_oracle.h"
#include "secure.h"
#include "twoparty.h"

#include "nn/cost.h"
#include "nn/exec.h"
#include "nn/hello.h"
#include "nn/model.h"
#include "nn/npy.h"
#include "nn/ref.h"
#include "util/mem.h"

#include <math.h>
#include <string.h>

#define DATA PARLEY_SOURCE_DIR "/tests/data/"

/* Run `model` on `input` at (l, s); compare with `torch` (shifted so each
 * row's maximum is 0 when `shift`, for a model whose final Softmax parley
 * drops and whose reference output is log-softmax). */
static void against_torch(const char *model, const char *input, const char *torch, unsigned l,
                          unsigned s, int shift, double *err_out) {
    nn_tensor x, want, y;
    REQUIRE_OK(npy_load(&x, input));
    REQUIRE_OK(npy_load(&want, torch));
    qnet *net;
    char *notes;
    REQUIRE_OK(nn_model_load(&net, &notes, model, l, s, x.shape.d[0]));
    CHECK(!shift || (notes && strstr(notes, "Softmax")));
    mem_free(notes);
    REQUIRE_OK(ref_run_float(net, &y, &x));
    REQUIRE(nn_shape_eq(&y.shape, &want.shape));
    size_t rows = y.shape.d[0], cols = y.n / rows;
    double err = 0, big = 0;
    for (size_t r = 0; r < rows; r++) {
        double my = -INFINITY, mw = -INFINITY;
        size_t ay = 0, aw = 0;
        for (size_t c = 0; c < cols; c++) {
            if (y.data[r * cols + c] > my) my = y.data[r * cols + c], ay = c;
            if (want.data[r * cols + c] > mw) mw = want.data[r * cols + c], aw = c;
        }
        CHECK_MSG(ay == aw, "%s row %zu: label %zu, torch %zu", model, r, ay, aw);
        for (size_t c = 0; c < cols; c++) {
            double a = y.data[r * cols + c] - (shift ? my : 0),
                   b = want.data[r * cols + c] - (shift ? mw : 0);
            err = fmax(err, fabs(a - b));
            big = fmax(big, fabs(b));
        }
    }
    uint64_t *in = mem_alloc(x.n, sizeof *in);
    double bound = 0;
    REQUIRE_OK(qnet_encode_input(net, in, &x));
    REQUIRE_OK(conf_error_bound(&bound, net, in));
    printf("  %s at (%u, %u): max |ref - torch| = %.3g (largest %.3g), rigorous bound %.3g\n",
           model, l, s, err, big, bound);
    double tol = 64 * ldexp(1.0, -(int)s);
    printf("  error = %.1f x 2^-%u, tolerance 64 x 2^-%u\n", err / ldexp(1.0, -(int)s), s, s);
    CHECK_MSG(err <= tol, "%s: error %g above %g", model, err, tol);
    CHECK(err <= bound * (shift ? 2 : 1) + 1e-5 * big);
    if (err_out) *err_out = err;
    mem_free(in);
    nn_tensor_free(&x);
    nn_tensor_free(&want);
    nn_tensor_free(&y);
    qnet_free(net);
}

TEST(cnn_vs_torch) {
    /* conv/bn/relu/maxpool/residual add/fire concat/standalone bn/avgpool
     * (ceil, no pad count)/global pool/gemm, batch 2 through a symbolic N. */
    against_torch(DATA "cnn.onnx", DATA "cnn.input.npy", DATA "cnn.torch.npy", 37, 12, 0, NULL);
}

TEST(cnn_bn_vs_torch) {
    /* The same network exported with its BatchNormalization nodes (opset
     * 11): parley folds them itself. */
    against_torch(DATA "cnn_bn.onnx", DATA "cnn.input.npy", DATA "cnn.torch.npy", 37, 12, 0, NULL);
}

TEST(cnn_precision) {
    /* More fractional bits, less error: (64, 20) against (32, 9). */
    double fine, coarse;
    against_torch(DATA "cnn.onnx", DATA "cnn.input.npy", DATA "cnn.torch.npy", 64, 20, 0, &fine);
    against_torch(DATA "cnn.onnx", DATA "cnn.input.npy", DATA "cnn.torch.npy", 32, 9, 0, &coarse);
    CHECK(fine < coarse / 16);
}

TEST(act_vs_torch) {
    /* ReLU6 (Clip) in an inverted residual block, LeakyRelu, HardSigmoid,
     * a one-slope PRelu (scripts/make-act-model). */
    double e12, e20;
    against_torch(DATA "act.onnx", DATA "act.input.npy", DATA "act.torch.npy", 37, 12, 0, &e12);
    against_torch(DATA "act.onnx", DATA "act.input.npy", DATA "act.torch.npy", 64, 20, 0, &e20);
    CHECK_MSG(e20 < e12 / 16, "error %g at s = 20, %g at s = 12", e20, e12);
}

TEST(act2_vs_torch) {
    /* HardSwish, squeeze-and-excitation (a product of two computed
     * tensors), a per-channel PRelu (scripts/make-act2-model); at opset 13
     * HardSwish is HardSigmoid then Mul, with the HardSigmoid's rounded
     * slope: no closer to PyTorch than opset 14's exact HardSwish. */
    double e12, e20, e13;
    against_torch(DATA "act2.onnx", DATA "act2.input.npy", DATA "act2.torch.npy", 37, 12, 0, &e12);
    against_torch(DATA "act2.onnx", DATA "act2.input.npy", DATA "act2.torch.npy", 64, 20, 0, &e20);
    against_torch(DATA "act2_13.onnx", DATA "act2.input.npy", DATA "act2.torch.npy", 37, 12, 0,
                  &e13);
    printf("  act2: error %g at (37, 12), %g at (64, 20)\n", e12, e20);
    CHECK_MSG(e20 < e12 / 16, "error %g at s = 20, %g at s = 12", e20, e12);
    CHECK_MSG(e12 <= e13, "error %g at opset 14, %g at opset 13", e12, e13);
}

TEST(sig_vs_torch) {
    /* Sigmoid, SiLU, a Sigmoid-gated squeeze-and-excitation block
     * (scripts/make-sig-model): more fractional bits, less error, down to
     * the Sigmoid's fit (1.6e-5). */
    double e12, e20;
    against_torch(DATA "sig.onnx", DATA "sig.input.npy", DATA "sig.torch.npy", 37, 12, 0, &e12);
    against_torch(DATA "sig.onnx", DATA "sig.input.npy", DATA "sig.torch.npy", 64, 20, 0, &e20);
    CHECK_MSG(e20 < e12 / 8, "error %g at s = 20, %g at s = 12", e20, e12);
}

TEST(exp_vs_torch) {
    /* Exp of -0.75 relu(z) (scripts/make-smooth-model): more fractional
     * bits, less error, down to the table's fit (1.2e-4). */
    double e12, e20;
    against_torch(DATA "exp.onnx", DATA "exp.input.npy", DATA "exp.torch.npy", 37, 12, 0, &e12);
    against_torch(DATA "exp.onnx", DATA "exp.input.npy", DATA "exp.torch.npy", 64, 20, 0, &e20);
    CHECK_MSG(e20 < e12 / 2, "error %g at s = 20, %g at s = 12", e20, e12);
}

TEST(softmax_vs_torch) {
    /* Softmax over channels gating them, Softmax over features
     * (scripts/make-smooth-model), at opsets 13 and 11. */
    double e12, e20, e11;
    against_torch(DATA "softmax.onnx", DATA "softmax.input.npy", DATA "softmax.torch.npy", 37, 12,
                  0, &e12);
    against_torch(DATA "softmax.onnx", DATA "softmax.input.npy", DATA "softmax.torch.npy", 64, 20,
                  0, &e20);
    against_torch(DATA "softmax_11.onnx", DATA "softmax.input.npy", DATA "softmax.torch.npy", 37,
                  12, 0, &e11);
    CHECK_MSG(e20 < e12 / 4, "error %g at s = 20, %g at s = 12", e20, e12);
    CHECK_EQ(e11, e12);
}

TEST(mlp_tanh_vs_torch) {
    /* Linear, Tanh, Linear, Sigmoid, Linear (scripts/make-sig-model). */
    double e12, e20;
    against_torch(DATA "mlp_tanh.onnx", DATA "mlp_tanh.input.npy", DATA "mlp_tanh.torch.npy", 37,
                  12, 0, &e12);
    against_torch(DATA "mlp_tanh.onnx", DATA "mlp_tanh.input.npy", DATA "mlp_tanh.torch.npy", 64,
                  20, 0, &e20);
    CHECK_MSG(e20 < e12 / 8, "error %g at s = 20, %g at s = 12", e20, e12);
}

TEST(mlp_vs_torch) {
    /* MatMul + Add on N x 28 x 28 (Linear on the last axis), flatten, gemm,
     * a final Softmax dropped with a note; opset 9. */
    against_torch(DATA "mlp.onnx", DATA "mlp.input.npy", DATA "mlp.torch.npy", 37, 12, 1, NULL);
}

TEST(example_digits) {
    /* The trained example model gives the held-out labels. */
    static const unsigned labels[5] = {6, 0, 5, 9, 2}; /* examples/LABELS */
    qnet *net;
    REQUIRE_OK(nn_model_load(&net, NULL, PARLEY_SOURCE_DIR "/examples/digits.onnx", 37, 12, 1));
    for (int k = 0; k < 5; k++) {
        char path[512];
        snprintf(path, sizeof path, PARLEY_SOURCE_DIR "/examples/digit-%d.npy", k);
        nn_tensor x, y;
        REQUIRE_OK(npy_load(&x, path));
        REQUIRE_OK(ref_run_float(net, &y, &x));
        unsigned best = 0;
        for (unsigned c = 1; c < y.n; c++)
            if (y.data[c] > y.data[best]) best = c;
        CHECK_MSG(best == labels[k], "digit-%d: label %u, expected %u", k, best, labels[k]);
        nn_tensor_free(&x);
        nn_tensor_free(&y);
    }
    qnet_free(net);
}

/* ---- predicted traffic (nn/cost) against the secure executor ----
 *
 * The models through the secure executor (both parties in this process) in
 * OT and HE mode, on one lane revealing the logits and on two revealing the
 * label: the output equals the reference and the bytes of every layer, of
 * the whole inference and of the set-up equal nn/cost's prediction. */
static void predicted_bytes(const char *model, const char *input) {
    nn_tensor x;
    REQUIRE_OK(npy_load(&x, input));
    qnet *net;
    REQUIRE_OK(nn_model_load(&net, NULL, model, 37, 12, x.shape.d[0]));
    uint64_t *in = mem_alloc(x.n, sizeof *in), *want = NULL;
    REQUIRE_OK(qnet_encode_input(net, in, &x));
    REQUIRE_OK(conf_interp_ref(NULL, &want, net, in));
    for (int mode = MODE_OT; mode <= MODE_HE; mode++)
        for (unsigned lanes = 1; lanes <= 2; lanes++) {
            secure_costs costs;
            secure_cfg cfg = {.mode = mode, .lanes = lanes, .reveal_label = lanes == 2,
                              .costs = &costs};
            uint64_t *got = NULL;
            size_t ngot = 0;
            int rc = secure_run(&got, &ngot, net, in, &cfg);
            CHECK_MSG(rc == 0, "%s: %s", model, err_msg());
            if (rc == 0 && !cfg.reveal_label) CHECK(conf_same(net, want, got));
            if (rc == 0) {
                CHECK_MSG(secure_check_costs(net, &cfg, &costs) == 0, "%s, %s mode, %u lanes: %s",
                          model, mode == MODE_HE ? "HE" : "OT", lanes, err_msg());
                printf("  %s, %s mode, %u lane%s: %llu bytes, as predicted\n", strrchr(model, '/') + 1,
                       mode == MODE_HE ? "HE" : "OT", lanes, lanes > 1 ? "s (label)" : "",
                       (unsigned long long)(costs.rep.bytes_sent + costs.rep.bytes_recv));
            }
            exec_report_free(&costs.rep);
            mem_free(got);
        }
    mem_free(in);
    mem_free(want);
    nn_tensor_free(&x);
    qnet_free(net);
}

TEST(predicted_bytes_digits) {
    predicted_bytes(PARLEY_SOURCE_DIR "/examples/digits.onnx",
                    PARLEY_SOURCE_DIR "/examples/digit-0.npy");
}

/* The Ferret set a session runs (cost_session_ferret): the example model
 * needs at most one batch of the small set per lane direction, so its
 * sessions run on FERRET_BOOT's set, and cost_predict prices that set. On
 * it (the silent backend: the case registered with PARLEY_TEST_OT=silent)
 * the run is bit-exact and every figure (each layer, the batches, the
 * set-up) is the prediction's. A batch of 64 through batch.onnx needs ten
 * small batches (the walk rules the small set out), cnn.onnx with a batch
 * of 8 has more ReLU elements than the bound (ruled out without a walk),
 * and IKNP has no set to choose. */
static void session_set(const char *model, unsigned batch, const ferret_params *want) {
    qnet *net;
    REQUIRE_OK(nn_model_load(&net, NULL, model, 37, 12, batch));
    for (int mode = MODE_OT; mode <= MODE_HE; mode++) {
        cost_opts o = {.mode = mode, .lanes = 2, .ot = OT_BACKEND_SILENT};
        const ferret_params *fp = cost_session_ferret(net, &o);
        CHECK_MSG(fp == want, "%s, batch %u, %s mode: %s", strrchr(model, '/') + 1, batch,
                  mode == MODE_HE ? "HE" : "OT", fp ? fp->name : "the default set");
        cost_report r0, r1;
        REQUIRE_OK(cost_predict(&r0, net, &o)); /* the session's set ... */
        o.ferret = want ? want : &FERRET_DEFAULT;
        REQUIRE_OK(cost_predict(&r1, net, &o)); /* ... priced */
        CHECK_EQ(r0.setup, r1.setup);
        CHECK_EQ(r0.gen_made, r1.gen_made);
        CHECK_EQ(r0.gen, r1.gen);
        cost_report_free(&r0);
        cost_report_free(&r1);
        o.ot = OT_BACKEND_IKNP;
        o.ferret = NULL;
        CHECK(cost_session_ferret(net, &o) == NULL);
    }
    qnet_free(net);
}

TEST(small_session_set) {
    session_set(PARLEY_SOURCE_DIR "/examples/digits.onnx", 1, &FERRET_BOOT);
    session_set(DATA "batch.onnx", 64, NULL);
    session_set(DATA "cnn.onnx", 8, NULL);
    if (test_backend() != OT_BACKEND_SILENT) return;
    nn_tensor x;
    REQUIRE_OK(npy_load(&x, PARLEY_SOURCE_DIR "/examples/digit-0.npy"));
    qnet *net;
    REQUIRE_OK(nn_model_load(&net, NULL, PARLEY_SOURCE_DIR "/examples/digits.onnx", 37, 12, 1));
    uint64_t *in = mem_alloc(x.n, sizeof *in), *want = NULL;
    REQUIRE_OK(qnet_encode_input(net, in, &x));
    REQUIRE_OK(conf_interp_ref(NULL, &want, net, in));
    for (int mode = MODE_OT; mode <= MODE_HE; mode++) {
        secure_costs costs;
        secure_cfg cfg = {.mode = mode, .lanes = 2, .costs = &costs, .ferret = &FERRET_BOOT};
        uint64_t *got = NULL;
        size_t ngot = 0;
        int rc = secure_run(&got, &ngot, net, in, &cfg);
        CHECK_MSG(rc == 0, "%s", err_msg());
        if (rc == 0) {
            CHECK(conf_same(net, want, got));
            CHECK_MSG(secure_check_costs(net, &cfg, &costs) == 0, "%s mode: %s",
                      mode == MODE_HE ? "HE" : "OT", err_msg());
            /* one batch per lane direction */
            CHECK_EQ(costs.rep.gen_sent + costs.rep.gen_recv, 4 * ferret_batch_bytes(&FERRET_BOOT));
        }
        exec_report_free(&costs.rep);
        mem_free(got);
    }
    mem_free(in);
    mem_free(want);
    qnet_free(net);
    nn_tensor_free(&x);
}

TEST(move_vs_torch) {
    /* A ShuffleNetV2 unit (channel split, branch, concat, channel shuffle),
     * a slice, nearest Upsample, ConvTranspose2d, spatial mean and sum
     * (scripts/make-move-model). */
    double e12, e20;
    against_torch(DATA "move.onnx", DATA "move.input.npy", DATA "move.torch.npy", 37, 12, 0, &e12);
    against_torch(DATA "move.onnx", DATA "move.input.npy", DATA "move.torch.npy", 64, 20, 0, &e20);
    CHECK_MSG(e20 < e12 / 16, "error %g at s = 20, %g at s = 12", e20, e12);
}

TEST(predicted_bytes_move) { predicted_bytes(DATA "move.onnx", DATA "move.input.npy"); }

TEST(move3_vs_torch) {
    /* Bilinear Resize (by 2, to sizes with align_corners, by 1.5), a
     * standalone BatchNorm, Gather, Tile, MatMul with a constant on either
     * side, Concat on axis -2 (scripts/make-move3-model). */
    double e12, e20;
    against_torch(DATA "move3.onnx", DATA "move3.input.npy", DATA "move3.torch.npy", 37, 12, 0,
                  &e12);
    against_torch(DATA "move3.onnx", DATA "move3.input.npy", DATA "move3.torch.npy", 64, 20, 0,
                  &e20);
    CHECK_MSG(e20 < e12 / 16, "error %g at s = 20, %g at s = 12", e20, e12);
}

TEST(resproj_vs_torch) {
    /* Bottlenecks with projection shortcuts (scripts/make-resproj-model):
     * the reference follows PyTorch, closer at a finer scale. */
    double e12, e20;
    against_torch(DATA "resproj.onnx", DATA "resproj.input.npy", DATA "resproj.torch.npy", 37, 12,
                  0, &e12);
    against_torch(DATA "resproj.onnx", DATA "resproj.input.npy", DATA "resproj.torch.npy", 64, 20,
                  0, &e20);
    CHECK_MSG(e20 < e12 / 16, "error %g at s = 20, %g at s = 12", e20, e12);
}

TEST(bnrelu_vs_torch) {
    /* Batch norms before a Relu (scripts/make-bn-model). The first, its
     * factors of both signs and one exactly 0, folds into the two unpadded
     * convolutions after it (one plain, one grouped with stride 2): one
     * BN_RELU, those convolutions keep the convolutions' weight policy;
     * the ones before a padded convolution and before a pool stay SCALEs. */
    qnet *net;
    REQUIRE_OK(nn_model_load(&net, NULL, DATA "bnrelu.onnx", 37, 12, 1));
    unsigned bn = 0, sc = 0, convs = 0;
    for (unsigned i = 0; i < net->nlayers; i++) {
        const qlayer *L = &net->layers[i];
        bn += L->op == QOP_BN_RELU;
        sc += L->op == QOP_SCALE;
        if (L->op != QOP_CONV) continue;
        CHECK_MSG(L->p.lin.conv.wbits == 12 + 3 + 1, "%s: wbits %u", L->name, L->p.lin.conv.wbits);
        convs++;
    }
    CHECK_EQ(bn, 1);
    CHECK_EQ(sc, 2);
    CHECK_EQ(convs, 5);
    qnet_free(net);
    double e12, e20;
    against_torch(DATA "bnrelu.onnx", DATA "bnrelu.input.npy", DATA "bnrelu.torch.npy", 37, 12, 0,
                  &e12);
    against_torch(DATA "bnrelu.onnx", DATA "bnrelu.input.npy", DATA "bnrelu.torch.npy", 64, 20, 0,
                  &e20);
    CHECK_MSG(e20 < e12 / 16, "error %g at s = 20, %g at s = 12", e20, e12);
}

TEST(predicted_bytes_bnrelu) { predicted_bytes(DATA "bnrelu.onnx", DATA "bnrelu.input.npy"); }

TEST(predicted_bytes_move3) { predicted_bytes(DATA "move3.onnx", DATA "move3.input.npy"); }

TEST(predicted_bytes_cnn) { predicted_bytes(DATA "cnn.onnx", DATA "cnn.input.npy"); }

TEST(predicted_bytes_act) { predicted_bytes(DATA "act.onnx", DATA "act.input.npy"); }
TEST(predicted_bytes_act2) { predicted_bytes(DATA "act2.onnx", DATA "act2.input.npy"); }
TEST(predicted_bytes_sig) { predicted_bytes(DATA "sig.onnx", DATA "sig.input.npy"); }
TEST(predicted_bytes_exp) { predicted_bytes(DATA "exp.onnx", DATA "exp.input.npy"); }
TEST(predicted_bytes_softmax) { predicted_bytes(DATA "softmax.onnx", DATA "softmax.input.npy"); }
TEST(predicted_bytes_mlp_tanh) {
    predicted_bytes(DATA "mlp_tanh.onnx", DATA "mlp_tanh.input.npy");
}
TEST(predicted_bytes_mlp) { predicted_bytes(DATA "mlp.onnx", DATA "mlp.input.npy"); }

/* ---- statistical security of an HE-mode inference ----
 *
 * For each model, the coefficients its linear layers return, and their
 * squared Hellinger bounds added up from the planner's flood by an
 * independent statement of the bound (he_oracle.h): at least 40 bits, as
 * nn/cost predicts it; with the first version's per-coefficient uniform
 * flood the union bound falls below 40 bits. */
static void he_security(const char *model, unsigned l, unsigned s, unsigned batch,
                        unsigned *by_ot) {
    qnet *net;
    REQUIRE_OK(nn_model_load(&net, NULL, model, l, s, batch));
    uint64_t outs = cost_he_outputs(net), sum = 0;
    double h2_new = 0, sd_old = 0, h2_code = 0;
    for (unsigned i = 0; i < net->nlayers; i++) {
        const qlayer *L = &net->layers[i];
        if (!qop_is_linear(L->op)) continue;
        lin_shape sh = qlayer_lin(L);
        /* A SCALE or FC that runs over OT (lin_he.h) returns nothing
         * flooded; the declared outputs still count it (an upper bound). */
        lin_backend be = lin_he_backend(NULL, outs);
        /* sibling convolutions and a projection shortcut's two run merged
         * (exec_lin_group_end): their coefficients are the merge's, under
         * its budget (a shortcut's merge returns one layer's: the declared
         * outputs, both layers', are an upper bound) */
        int kind;
        unsigned j = exec_lin_group_end(net, i, &be, &sh, &kind);
        for (unsigned g = i; g <= j; g++) sum += net->t[net->layers[g].out].size;
        i = j;
        uint64_t by;
        double h2;
        REQUIRE_OK(lin_cost(&be, &by, &h2, &sh, l, 1, NULL));
        if (h2 == 0) {
            (*by_ot)++;
            continue;
        }
        lin_conv c = lin_he_as_conv(&sh);
        REQUIRE_OK(oracle_layer(&c, l, outs, 1, &h2_new, &sd_old, &h2_code));
    }
    CHECK_EQ(sum, outs);
    cost_opts o = {.mode = MODE_HE, .lanes = 1, .ot = OT_BACKEND_IKNP};
    cost_report r;
    REQUIRE_OK(cost_predict(&r, net, &o));
    double bits = oracle_bits(h2_new), old = -log2(sd_old);
    printf("  %s, batch %u: %llu coefficients; %.2f bits (predicted %.2f), per coefficient %.2f\n",
           strrchr(model, '/') + 1, batch, (unsigned long long)outs, bits, r.he_stat_bits, old);
    CHECK(bits >= HE_STAT_BITS);
    CHECK(fabs(r.he_stat_bits - bits) < 1e-6);
    CHECK_EQ(r.he_outputs, outs);
    CHECK(old < HE_STAT_BITS);
    cost_report_free(&r);
    qnet_free(net);
}

TEST(he_statistical_security) {
    unsigned by_ot = 0;
    he_security(PARLEY_SOURCE_DIR "/examples/digits.onnx", 37, 12, 1, &by_ot);
    he_security(DATA "cnn.onnx", 37, 12, 1, &by_ot);
    he_security(DATA "cnn.onnx", 37, 12, 64, &by_ot); /* the batch counts */
    he_security(DATA "cnn_bn.onnx", 32, 11, 1, &by_ot);
    he_security(DATA "mlp.onnx", 37, 12, 4, &by_ot);
    he_security(DATA "resproj.onnx", 37, 12, 2, &by_ot);
    CHECK(by_ot > 0); /* some layers ran over OT, and the bound held without them */
}

/* A dropped final Softmax is public and travels in the public model (flags
 * bit 0), so the client's report can say its output is logits; a model
 * without one says nothing; an unknown flag is refused by name. */
TEST(public_model_softmax_flag) {
    qnet *net, *pub;
    uint8_t *buf;
    size_t len;
    REQUIRE_OK(nn_model_load(&net, NULL, DATA "mlp.onnx", 37, 12, 0));
    CHECK_EQ(net->softmax_dropped, 1u);
    REQUIRE_OK(qnet_public_encode(net, &buf, &len));
    REQUIRE(len > 9);
    CHECK_EQ(buf[8], 1);
    REQUIRE_OK(qnet_public_decode(&pub, buf, len));
    CHECK_EQ(pub->softmax_dropped, 1u);
    qnet_free(pub);
    buf[8] = 2;
    CHECK_EQ(qnet_public_decode(&pub, buf, len), PARLEY_E_FORMAT);
    CHECK_MSG(strstr(err_msg(), "unknown flags 0x02") != NULL, "'%s'", err_msg());
    mem_free(buf);
    qnet_free(net);
    REQUIRE_OK(nn_model_load(&net, NULL, DATA "cnn.onnx", 37, 12, 0));
    CHECK_EQ(net->softmax_dropped, 0u);
    REQUIRE_OK(qnet_public_encode(net, &buf, &len));
    CHECK_EQ(buf[8], 0);
    mem_free(buf);
    qnet_free(net);
}
