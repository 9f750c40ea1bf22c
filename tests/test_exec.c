/* exec: the secure executor on whole models made by real tools, bit-exact
 * against the plaintext reference: OT and HE mode, several (l, s), 1 and 3
 * lanes, batches, reveal of the label only, and a party that stops in the
 * middle (the other side ends with an error, no hang); the bytes of every
 * run equal nn/cost's prediction. */
#include "harness.h"
#include "secure.h"
#include "twoparty.h"

#include "he/he.h"
#include "lin/he/lin_he.h"
#include "lin/he/plan.h"
#include "lin/ot/lin_ot.h"
#include "mpc/flights.h"
#include "nl/nl.h"
#include "nn/cost.h"
#include "nn/exec.h"
#include "nn/hello.h"
#include "nn/model.h"
#include "nn/npy.h"
#include "nn/prep.h"
#include "nn/ref.h"
#include "util/bits.h"
#include "util/mem.h"

#include <string.h>

#define DATA PARLEY_SOURCE_DIR "/tests/data/"
#define EXAMPLES PARLEY_SOURCE_DIR "/examples/"

/* Load model and input at (l, s); the encoded input in *x. */
static int load(qnet **net, uint64_t **x, const char *model, const char *input, unsigned l,
                unsigned s) {
    nn_tensor t;
    TRY(npy_load(&t, input));
    int rc = nn_model_load(net, NULL, model, l, s, t.shape.d[0]);
    if (rc == 0) {
        *x = mem_alloc((*net)->t[(*net)->input].size, sizeof **x);
        rc = *x ? qnet_encode_input(*net, *x, &t) : PARLEY_E_NOMEM;
    }
    nn_tensor_free(&t);
    return rc;
}

/* Secure (mode, lanes; the leaves on 4-bit VOLE pools of set vp, or on
 * COTs for NULL) equals the reference on model/input at (l, s), with
 * every byte, COT and correlation, and the critical flights, as nn/cost
 * predicts. */
static void same_as_ref_v4(const char *model, const char *input, unsigned l, unsigned s, int mode,
                           unsigned lanes, const vole4_params *vp) {
    qnet *net = NULL;
    uint64_t *x = NULL, *want = NULL, *got = NULL;
    size_t n = 0;
    REQUIRE_OK(load(&net, &x, model, input, l, s));
    REQUIRE_OK(ref_run(net, &want, NULL, x));
    secure_costs costs;
    secure_cfg cfg = {.mode = mode, .lanes = lanes, .costs = &costs, .vole4 = vp};
    int rc = secure_run(&got, &n, net, x, &cfg);
    CHECK_MSG(rc == 0, "%s (%s, l=%u, %u lanes): %s", model, mode ? "he" : "ot", l, lanes,
              err_msg());
    if (rc == 0) /* and every byte as nn/cost predicts */
        CHECK_MSG(secure_check_costs(net, &cfg, &costs) == 0, "%s (%s, l=%u, %u lanes): %s", model,
                  mode ? "he" : "ot", l, lanes, err_msg());
    if (rc == 0) {
        cost_opts o = {.mode = mode,
                       .lanes = lanes,
                       .ot = vp ? OT_BACKEND_SILENT : test_backend(),
                       .ferret = &FERRET_TOY,
                       .vole4 = vp};
        cost_report r;
        REQUIRE_OK(cost_predict(&r, net, &o));
        CHECK_MSG(costs.rep.critical_flights == r.flights,
                  "%s (%s, l=%u, %u lanes): %llu critical flights, predicted %llu", model,
                  mode ? "he" : "ot", l, lanes, (unsigned long long)costs.rep.critical_flights,
                  (unsigned long long)r.flights);
        if (vp) {
            CHECK(costs.corrs > 0);
            printf("  %s, %u lanes: %llu correlations, %llu COTs, %llu bytes of batches\n",
                   mode ? "he" : "ot", lanes, (unsigned long long)costs.corrs,
                   (unsigned long long)costs.cots, (unsigned long long)r.gen_made);
        }
        cost_report_free(&r);
    }
    exec_report_free(&costs.rep);
    if (rc == 0) {
        CHECK_EQ(n, net->t[net->output].size);
        size_t bad = 0;
        for (size_t i = 0; i < n; i++)
            bad += got[i] != want[i];
        CHECK_MSG(bad == 0, "%s (%s, l=%u, %u lanes): %zu of %zu outputs differ from the reference",
                  model, mode ? "he" : "ot", l, lanes, bad, n);
        printf("  %-40s %s l=%u s=%u lanes=%u: %zu outputs bit-exact\n",
               model + strlen(PARLEY_SOURCE_DIR), mode ? "he" : "ot", l, s, lanes, n);
    }
    mem_free(x);
    mem_free(want);
    mem_free(got);
    qnet_free(net);
}

static void same_as_ref(const char *model, const char *input, unsigned l, unsigned s, int mode,
                        unsigned lanes) {
    same_as_ref_v4(model, input, l, s, mode, lanes, NULL);
}

/* The leaves on 4-bit VOLE (toy sets) through whole models: the
 * convolutional model with its max pools and sibling ReLU-truncations,
 * the projection shortcuts at three widths, both modes, one and two
 * lanes; each run as the reference, with every figure predicted. */
TEST(leaves_on_vole4_models) {
    for (int mode = MODE_OT; mode <= MODE_HE; mode++)
        for (unsigned lanes = 1; lanes <= 2; lanes++) {
            same_as_ref_v4(DATA "cnn.onnx", DATA "cnn.input.npy", 37, 12, mode, lanes, &VOLE4_TOY);
            same_as_ref_v4(DATA "resproj.onnx", DATA "resproj.input.npy", mode ? 32 : 17, 6, mode,
                           lanes, &VOLE4_TOY);
        }
}

/* The server's weight polynomials made before the session (nn/prep.h):
 * with the whole model's cache and with a cap that holds only some layers,
 * the inference is the reference bit for bit with the predicted bytes, and
 * the server reads exactly the cached polynomials; a cap below one
 * polynomial holds none (the inference without a cache is every other HE
 * test). */
/* An HE-mode run whose server reads its weights from the cache wc (made by
 * prep_he_wcache with stats st): the reference bit for bit, the cost
 * model's bytes and flights, and every cached polynomial read. */
static void cached_run(qnet *net, const uint64_t *x, const uint64_t *want, lin_he_wcache *wc,
                       const prep_stats *st, unsigned lanes) {
    secure_costs costs;
    secure_cfg cfg = {.mode = MODE_HE, .lanes = lanes, .costs = &costs, .prep = wc};
    uint64_t *got = NULL;
    size_t n = 0;
    int rc = secure_run(&got, &n, net, x, &cfg);
    CHECK_MSG(rc == 0, "cache of %llu bytes: %s", (unsigned long long)st->bytes, err_msg());
    if (rc == 0) {
        CHECK(secure_check_costs(net, &cfg, &costs) == 0);
        CHECK_EQ(costs.he_cache_polys, st->bytes / sizeof(he_poly));
        REQUIRE(n == net->t[net->output].size);
        CHECK(memcmp(got, want, n * sizeof *got) == 0);
    }
    exec_report_free(&costs.rep);
    mem_free(got);
}

TEST(he_weight_cache) {
    qnet *net = NULL;
    uint64_t *x = NULL, *want = NULL;
    REQUIRE_OK(load(&net, &x, DATA "cnn.onnx", DATA "cnn.input.npy", 37, 12));
    REQUIRE_OK(ref_run(net, &want, NULL, x));
    prep_stats all;
    lin_he_wcache *wc = NULL;
    REQUIRE_OK(prep_he_wcache(net, 0, &wc, &all)); /* cap 0: the totals, nothing made */
    CHECK(wc == NULL);
    CHECK(all.layers >= 2 && all.cached == 0 && all.bytes == 0 && all.total > 0);
    uint64_t caps[] = {all.total, all.total / 2, sizeof(he_poly) - 1};
    for (size_t k = 0; k < sizeof caps / sizeof *caps; k++) {
        prep_stats st;
        REQUIRE_OK(prep_he_wcache(net, caps[k], &wc, &st));
        CHECK(st.total == all.total && st.layers == all.layers);
        CHECK(st.bytes <= caps[k]);
        CHECK_EQ(lin_he_wcache_bytes(wc), st.bytes);
        CHECK_EQ(lin_he_wcache_layers(wc), st.cached);
        if (k == 0) CHECK(st.cached == st.layers && st.bytes == st.total);
        if (k == 1) CHECK(st.cached > 0 && st.cached < st.layers);
        if (k == 2) {
            CHECK(st.cached == 0);
            lin_he_wcache_free(wc);
            continue;
        }
        cached_run(net, x, want, wc, &st, 1 + (unsigned)k % 2);
        lin_he_wcache_free(wc);
    }
    mem_free(x);
    mem_free(want);
    qnet_free(net);
}

/* A model, its input and reference output, and the two linear back-ends
 * priced for its declared outputs: what the merge tests below share. */
typedef struct merge_fix {
    qnet *net;
    uint64_t *x, *want;
    lin_backend he, ot;
} merge_fix;

static void fix_open(merge_fix *f, const char *model, const char *input) {
    REQUIRE_OK(load(&f->net, &f->x, model, input, 37, 12));
    REQUIRE_OK(ref_run(f->net, &f->want, NULL, f->x));
    const uint64_t outs = cost_he_outputs(f->net);
    f->he = (lin_backend){.ops = exec_lin_ops(MODE_HE)};
    f->ot = (lin_backend){.ops = exec_lin_ops(MODE_OT)};
    lin_set_outputs(&f->he, outs);
    lin_set_outputs(&f->ot, outs);
}

static void fix_close(merge_fix *f) {
    mem_free(f->want);
    mem_free(f->x);
    qnet_free(f->net);
}

/* Both modes, 2 lanes: the reference bit for bit, bytes and flights as the
 * cost model says; layers first[q] and first[q] + 1 are merged pairs in HE
 * (the traffic on the first: he_bytes[q], both directions; none on the
 * second) and apart over OT. *total: the HE run's bytes. */
static void runs_merged(const merge_fix *f, const unsigned *first, unsigned n_pairs,
                        uint64_t *he_bytes, uint64_t *total) {
    for (int mode = MODE_OT; mode <= MODE_HE; mode++) {
        secure_costs costs;
        secure_cfg cfg = {.mode = mode, .lanes = 2, .costs = &costs};
        uint64_t *got;
        size_t n;
        int rc = secure_run(&got, &n, f->net, f->x, &cfg);
        CHECK_MSG(rc == 0, "%s", err_msg());
        if (rc < 0) continue;
        CHECK_MSG(secure_check_costs(f->net, &cfg, &costs) == 0, "%s", err_msg());
        REQUIRE(n == f->net->t[f->net->output].size);
        CHECK(memcmp(got, f->want, n * sizeof *got) == 0);
        for (unsigned q = 0; q < n_pairs; q++) {
            const exec_layer_stat *a = &costs.rep.layers[first[q]];
            const exec_layer_stat *b = &costs.rep.layers[first[q] + 1];
            CHECK(a->bytes > 0 && a->critical_flights > 0);
            if (mode == MODE_HE) {
                CHECK(b->bytes == 0 && b->bytes_recv == 0 && b->critical_flights == 0);
                he_bytes[q] = a->bytes + a->bytes_recv;
            } else {
                CHECK(b->bytes > 0);
            }
        }
        if (mode == MODE_HE) *total = costs.rep.bytes_sent + costs.rep.bytes_recv;
        exec_report_free(&costs.rep);
        mem_free(got);
    }
}

/* The HE bytes of a merge m of layers i and i + 1 (*bm) and of the two
 * apart (printed); the merge must cost less (*saved adds the difference). */
static void merge_saves(const merge_fix *f, unsigned i, const lin_shape *m, uint64_t *bm_out,
                        uint64_t *saved) {
    lin_shape sa = qlayer_lin(&f->net->layers[i]), sb = qlayer_lin(&f->net->layers[i + 1]);
    uint64_t ba = 0, bb = 0, bm = 0;
    REQUIRE_OK(lin_bytes(&f->he, &ba, NULL, &sa, f->net->l));
    REQUIRE_OK(lin_bytes(&f->he, &bb, NULL, &sb, f->net->l));
    REQUIRE_OK(lin_bytes(&f->he, &bm, NULL, m, f->net->l));
    printf("  HE: layers %u and %u: %llu bytes merged, %llu + %llu apart\n", i + 1, i + 2,
           (unsigned long long)bm, (unsigned long long)ba, (unsigned long long)bb);
    CHECK(bm < ba + bb);
    if (bm < ba + bb) *saved += ba + bb - bm;
    *bm_out = bm;
}

/* Sibling convolutions (a fire module's 1x1 and 3x3 expands, cnn.onnx)
 * merge where the back-end prices the merge below the two (HE) and not
 * where it does not (OT, which pays for the embedded 1x1's zero taps);
 * merged, the inference is the reference bit for bit, its bytes and
 * flights are the cost model's, the group's traffic is on its first layer,
 * and it moves fewer bytes and flights than the two apart. With packed
 * outputs cnn's small fire module costs less apart (at (37, 12)), so the
 * merged run uses the planner's unpacked plans (lin_he_plan_force_pack),
 * where merging pays as it does in SqueezeNet's larger fire modules; with
 * the default plans the pair merges exactly where the price says so. */
TEST(sibling_convs_merged) {
    merge_fix f;
    fix_open(&f, DATA "cnn.onnx", DATA "cnn.input.npy");
    const qnet *net = f.net;
    lin_shape m;
    int kind;
    unsigned sib = net->nlayers;
    for (unsigned i = 0; i + 1 < net->nlayers && sib == net->nlayers; i++) {
        if (!qop_is_linear(net->layers[i].op) || !qop_is_linear(net->layers[i + 1].op) ||
            net->layers[i].in[0] != net->layers[i + 1].in[0])
            continue;
        lin_shape a = qlayer_lin(&net->layers[i]), b = qlayer_lin(&net->layers[i + 1]);
        if (lin_check(&a) < 0 || lin_check(&b) < 0 || !lin_merge(&m, &a, &b)) continue;
        sib = i;
        uint64_t ba = 0, bb = 0, bm = 0;
        REQUIRE_OK(lin_bytes(&f.he, &ba, NULL, &a, net->l));
        REQUIRE_OK(lin_bytes(&f.he, &bb, NULL, &b, net->l));
        REQUIRE_OK(lin_bytes(&f.he, &bm, NULL, &m, net->l));
        printf("  HE, default plans: layers %u and %u: %llu bytes merged, %llu + %llu apart\n",
               i + 1, i + 2, (unsigned long long)bm, (unsigned long long)ba,
               (unsigned long long)bb);
        CHECK_EQ(exec_lin_group_end(net, i, &f.he, &m, &kind), bm < ba + bb ? i + 1 : i);
    }
    REQUIRE(sib < net->nlayers);
    lin_he_plan_force_pack(-1);
    unsigned pair = net->nlayers;
    for (unsigned i = 0; i < net->nlayers; i++) {
        unsigned j = exec_lin_group_end(net, i, &f.he, &m, &kind);
        if (j == i) continue;
        CHECK_EQ(kind, EXEC_LIN_SIBLINGS);
        CHECK(pair == net->nlayers && j == i + 1); /* the one pair */
        pair = i;
        for (unsigned g = i; g <= j; g++) {
            CHECK(qop_is_linear(net->layers[g].op));
            CHECK(net->layers[g].in[0] == net->layers[i].in[0]);
        }
    }
    REQUIRE(pair < net->nlayers);
    for (unsigned i = 0; i < net->nlayers; i++)
        CHECK(exec_lin_group_end(net, i, &f.ot, &m, &kind) == i);
    lin_shape sa = qlayer_lin(&net->layers[pair]), sb = qlayer_lin(&net->layers[pair + 1]);
    REQUIRE(exec_lin_group_end(net, pair, &f.he, &m, &kind) == pair + 1);
    CHECK(sa.p.conv.kh == 1 && sb.p.conv.kh == 3 && m.p.conv.kh == 3);
    CHECK(m.p.conv.N == 2); /* cnn.input.npy holds two images: each one's channels cut apart */
    CHECK_EQ(m.p.conv.O, sa.p.conv.O + sb.p.conv.O);
    uint64_t saved = 0, he_bytes = 0, total = 0, bm = 0;
    merge_saves(&f, pair, &m, &bm, &saved);
    runs_merged(&f, &pair, 1, &he_bytes, &total);
    CHECK_EQ(he_bytes, bm);
    CHECK_EQ(pair, sib);
    lin_he_plan_force_pack(0);
    fix_close(&f);
}

/* resproj.onnx's blocks end in a projection shortcut: in its two
 * bottlenecks the last 1x1 convolution and the shortcut's (stride 1, then
 * stride 2) feed one Add, in its basic block a 3x3 convolution and the
 * shortcut's 1x1 of stride 2. In HE mode they run as one convolution over
 * both inputs (exec_lin_group_end, EXEC_LIN_SUM), priced below the two
 * apart (one set of output ciphertexts instead of two); over OT, where that
 * saves nothing, they run apart. Either way the inference is the reference
 * bit for bit, its bytes and flights are the cost model's, and a merged
 * pair's traffic is on its first layer; the server's weight cache keeps
 * the merges' polynomials. */
TEST(shortcut_sum_merged) {
    merge_fix f;
    fix_open(&f, DATA "resproj.onnx", DATA "resproj.input.npy");
    const qnet *net = f.net;
    unsigned pairs[3], np = 0;
    uint64_t merged[3], saved = 0;
    lin_shape m;
    int kind;
    for (unsigned i = 0; i < net->nlayers; i++) {
        unsigned j = exec_lin_group_end(net, i, &f.he, &m, &kind);
        if (j == i) continue;
        REQUIRE(np < 3 && kind == EXEC_LIN_SUM && j == i + 1);
        const qlayer *A = &net->layers[i], *B = &net->layers[j], *S = &net->layers[j + 1];
        CHECK(S->op == QOP_ADD && A->in[0] != B->in[0]);
        lin_shape sa = qlayer_lin(A), sb = qlayer_lin(B);
        pairs[np++] = i;
        CHECK(sa.p.conv.kh == (np == 3 ? 3u : 1u) && sb.p.conv.kh == 1 && sa.p.conv.sh == 1);
        CHECK_EQ(sb.p.conv.sh, np == 1 ? 1u : 2u); /* the first shortcut at stride 1 */
        CHECK_EQ(m.p.conv.C, sa.p.conv.C + sb.p.conv.C);
        CHECK_EQ(m.p.conv.kh, sa.p.conv.kh);
        merge_saves(&f, i, &m, &merged[np - 1], &saved);
        i = j;
    }
    REQUIRE(np == 3);
    for (unsigned i = 0; i < net->nlayers; i++)
        CHECK(exec_lin_group_end(net, i, &f.ot, &m, &kind) == i);
    uint64_t he_bytes[3] = {0, 0, 0}, total = 0;
    runs_merged(&f, pairs, np, he_bytes, &total);
    for (unsigned q = 0; q < np; q++) CHECK_EQ(he_bytes[q], merged[q]);
    printf("  HE: %llu bytes in all, %llu fewer than the pairs apart\n",
           (unsigned long long)total, (unsigned long long)saved);
    /* The server's weight cache keeps the merges' polynomials (known by
     * the first layer's weights), and the run reads every one it keeps. */
    prep_stats st;
    lin_he_wcache *wc = NULL;
    REQUIRE_OK(prep_he_wcache(f.net, UINT64_MAX, &wc, &st));
    CHECK(st.cached == st.layers && st.bytes == st.total && st.bytes > 0);
    cached_run(f.net, f.x, f.want, wc, &st, 2);
    lin_he_wcache_free(wc);
    fix_close(&f);
}

/* The one place a mode becomes a linear back-end. */
TEST(lin_ops_by_mode) {
    CHECK(exec_lin_ops(MODE_OT) == &lin_ot_ops);
    CHECK(exec_lin_ops(MODE_HE) == &lin_he_ops);
    CHECK(exec_lin_ops(MODE_HE + 1) == NULL);
    CHECK(exec_lin_ops(-1) == NULL);
}

TEST(cnn_ot) {
    same_as_ref(DATA "cnn.onnx", DATA "cnn.input.npy", 37, 12, MODE_OT, 1);
    same_as_ref(DATA "cnn.onnx", DATA "cnn.input.npy", 32, 9, MODE_OT, 3);
    same_as_ref(DATA "cnn.onnx", DATA "cnn.input.npy", 64, 20, MODE_OT, 2);
    same_as_ref(DATA "cnn_bn.onnx", DATA "cnn.input.npy", 37, 12, MODE_OT, 2);
}

TEST(cnn_he) {
    same_as_ref(DATA "cnn.onnx", DATA "cnn.input.npy", 37, 12, MODE_HE, 1);
    same_as_ref(DATA "cnn.onnx", DATA "cnn.input.npy", 32, 9, MODE_HE, 2);
    same_as_ref(DATA "cnn_bn.onnx", DATA "cnn.input.npy", 37, 12, MODE_HE, 3);
}

/* The piecewise-linear activations (ReLU6 in an inverted residual block,
 * LeakyRelu, HardSigmoid, a one-slope PRelu; scripts/make-act-model) in
 * both modes, at several rings, bytes as predicted. */
TEST(activations_both_modes) {
    same_as_ref(DATA "act.onnx", DATA "act.input.npy", 37, 12, MODE_OT, 2);
    same_as_ref(DATA "act.onnx", DATA "act.input.npy", 64, 20, MODE_OT, 3);
    same_as_ref(DATA "act.onnx", DATA "act.input.npy", 24, 8, MODE_OT, 1);
    same_as_ref(DATA "act.onnx", DATA "act.input.npy", 37, 12, MODE_HE, 2);
}

/* Data movement on shares (a ShuffleNetV2 unit's split and shuffle, a
 * slice, nearest Upsample), ConvTranspose and spatial mean and sum
 * (scripts/make-move-model) in both modes. */
TEST(data_movement_both_modes) {
    same_as_ref(DATA "move.onnx", DATA "move.input.npy", 37, 12, MODE_OT, 2);
    same_as_ref(DATA "move.onnx", DATA "move.input.npy", 64, 20, MODE_OT, 1);
    same_as_ref(DATA "move.onnx", DATA "move.input.npy", 37, 12, MODE_HE, 2);
}

/* Bilinear Resize (RESIZE_LINEAR, then a truncation), Gather, Tile,
 * Expand, MatMul with a constant on either side, Concat on a negative
 * axis, a standalone BatchNorm (scripts/make-move3-model) in both modes. */
TEST(move3_both_modes) {
    same_as_ref(DATA "move3.onnx", DATA "move3.input.npy", 37, 12, MODE_OT, 2);
    same_as_ref(DATA "move3.onnx", DATA "move3.input.npy", 64, 20, MODE_OT, 1);
    same_as_ref(DATA "move3.onnx", DATA "move3.input.npy", 24, 8, MODE_OT, 1);
    same_as_ref(DATA "move3.onnx", DATA "move3.input.npy", 37, 12, MODE_HE, 2);
}

/* Batch norms before a Relu, one folded into the convolutions after it
 * (a BN_RELU with private signs), two not (scripts/make-bn-model), in both
 * modes, at several rings. */
/* The shortcut merges at other ring widths and lane counts (HE runs them
 * merged wherever its budget allows the width). */
TEST(resproj_widths) {
    same_as_ref(DATA "resproj.onnx", DATA "resproj.input.npy", 32, 9, MODE_HE, 3);
    same_as_ref(DATA "resproj.onnx", DATA "resproj.input.npy", 44, 16, MODE_HE, 1);
    same_as_ref(DATA "resproj.onnx", DATA "resproj.input.npy", 64, 20, MODE_OT, 1);
}

TEST(bnrelu_both_modes) {
    same_as_ref(DATA "bnrelu.onnx", DATA "bnrelu.input.npy", 37, 12, MODE_OT, 2);
    same_as_ref(DATA "bnrelu.onnx", DATA "bnrelu.input.npy", 64, 20, MODE_OT, 1);
    same_as_ref(DATA "bnrelu.onnx", DATA "bnrelu.input.npy", 32, 9, MODE_OT, 1);
    same_as_ref(DATA "bnrelu.onnx", DATA "bnrelu.input.npy", 37, 12, MODE_HE, 2);
}

/* The batch norm's ReLU takes its DReLU at its input's public width plus
 * one, the server clamping its addend to that range: addends at and around
 * the clamp, and the largest the quantizer allows (l - 1 bits), of both
 * signs and with both sign bits, give the reference's output bit for bit
 * (any sign taken wrongly moves a logit by the addend itself). */
TEST(bnrelu_clamped_addends) {
    static const int modes[] = {MODE_OT, MODE_HE};
    for (int mi = 0; mi < 2; mi++) {
        qnet *net = NULL;
        uint64_t *x = NULL, *want = NULL, *got = NULL;
        size_t n = 0;
        REQUIRE_OK(load(&net, &x, DATA "bnrelu.onnx", DATA "bnrelu.input.npy", 37, 12));
        qlayer *B = NULL;
        for (unsigned i = 0; i < net->nlayers; i++)
            if (net->layers[i].op == QOP_BN_RELU) B = &net->layers[i];
        REQUIRE(B && B->p.lin.scale.C == 9);
        uint8_t *w = exec_width_tensors(net);
        REQUIRE(w);
        unsigned wx = w[B->in[0]];
        mem_free(w);
        CHECK_MSG(wx == 37 - 12, "the batch norm's input width is %u", wx);
        uint64_t m = bits_mask(37), lim = 1ULL << (wx - 1), top = (1ULL << 35) - 1;
        const uint64_t b[9] = {lim - 1, lim, lim + 1, 0 - lim, 0 - lim - 1, top, 0 - top,
                               0 - lim + 1, 3 * lim};
        for (unsigned c = 0; c < 9; c++) {
            B->b[c] = b[c] & m;
            B->w[c] = (c * 5 + (unsigned)mi) % 3 == 0; /* both sign bits for both kinds */
        }
        REQUIRE_OK(ref_run(net, &want, NULL, x));
        secure_costs costs;
        secure_cfg cfg = {.mode = modes[mi], .lanes = 2, .costs = &costs};
        int rc = secure_run(&got, &n, net, x, &cfg);
        CHECK_MSG(rc == 0, "%s", err_msg());
        if (rc == 0) CHECK(secure_check_costs(net, &cfg, &costs) == 0);
        exec_report_free(&costs.rep);
        for (size_t i = 0; rc == 0 && i < n; i++)
            CHECK_MSG(got[i] == want[i], "mode %d output %zu: 0x%llx, the reference 0x%llx", mi, i,
                      (unsigned long long)got[i], (unsigned long long)want[i]);
        mem_free(x);
        mem_free(want);
        mem_free(got);
        qnet_free(net);
    }
}

/* HardSwish (the operator, opset 14, and HardSigmoid then Mul, opset 13),
 * a squeeze-and-excitation product N x C x H x W times N x C x 1 x 1, a
 * PRelu with a slope per channel (scripts/make-act2-model), in both modes,
 * at several rings, bytes as predicted. */
TEST(products_both_modes) {
    same_as_ref(DATA "act2.onnx", DATA "act2.input.npy", 37, 12, MODE_OT, 2);
    same_as_ref(DATA "act2.onnx", DATA "act2.input.npy", 64, 20, MODE_OT, 3);
    same_as_ref(DATA "act2.onnx", DATA "act2.input.npy", 24, 8, MODE_OT, 1);
    same_as_ref(DATA "act2.onnx", DATA "act2.input.npy", 37, 12, MODE_HE, 2);
    same_as_ref(DATA "act2_13.onnx", DATA "act2.input.npy", 37, 12, MODE_OT, 1);
    same_as_ref(DATA "act2_13.onnx", DATA "act2.input.npy", 37, 12, MODE_HE, 1);
}

/* Sigmoid, SiLU (Sigmoid then Mul) and a Sigmoid-gated
 * squeeze-and-excitation block; an MLP with Tanh and Sigmoid
 * (scripts/make-sig-model), both modes. */
TEST(sigmoid_both_modes) {
    same_as_ref(DATA "sig.onnx", DATA "sig.input.npy", 37, 12, MODE_OT, 2);
    same_as_ref(DATA "sig.onnx", DATA "sig.input.npy", 64, 20, MODE_OT, 1);
    same_as_ref(DATA "sig.onnx", DATA "sig.input.npy", 37, 12, MODE_HE, 1);
    same_as_ref(DATA "mlp_tanh.onnx", DATA "mlp_tanh.input.npy", 37, 12, MODE_OT, 1);
    same_as_ref(DATA "mlp_tanh.onnx", DATA "mlp_tanh.input.npy", 24, 8, MODE_OT, 2);
    same_as_ref(DATA "mlp_tanh.onnx", DATA "mlp_tanh.input.npy", 37, 12, MODE_HE, 2);
}

/* Exp of a non-positive tensor (scripts/make-smooth-model), both modes. */
TEST(exp_both_modes) {
    same_as_ref(DATA "exp.onnx", DATA "exp.input.npy", 37, 12, MODE_OT, 2);
    same_as_ref(DATA "exp.onnx", DATA "exp.input.npy", 64, 20, MODE_OT, 1);
    same_as_ref(DATA "exp.onnx", DATA "exp.input.npy", 37, 12, MODE_HE, 1);
}

/* Softmax over the channels of a feature map (a stride between the
 * row's elements) gating it, and over an MLP's features; opset 11's form
 * too (scripts/make-smooth-model), both modes. */
TEST(softmax_both_modes) {
    same_as_ref(DATA "softmax.onnx", DATA "softmax.input.npy", 37, 12, MODE_OT, 2);
    same_as_ref(DATA "softmax.onnx", DATA "softmax.input.npy", 64, 20, MODE_OT, 1);
    same_as_ref(DATA "softmax.onnx", DATA "softmax.input.npy", 37, 12, MODE_HE, 1);
    same_as_ref(DATA "softmax_11.onnx", DATA "softmax.input.npy", 37, 12, MODE_OT, 1);
}

TEST(mlp_both_modes) {
    same_as_ref(DATA "mlp.onnx", DATA "mlp.input.npy", 37, 12, MODE_OT, 1);
    same_as_ref(DATA "mlp.onnx", DATA "mlp.input.npy", 37, 12, MODE_HE, 2);
    same_as_ref(DATA "mlp.onnx", DATA "mlp.input.npy", 16, 6, MODE_OT, 2);
}

TEST(example_digits_all_inputs) {
    for (int k = 0; k < 5; k++) {
        char in[512];
        snprintf(in, sizeof in, EXAMPLES "digit-%d.npy", k);
        same_as_ref(EXAMPLES "digits.onnx", in, 37, 12, k % 2 ? MODE_HE : MODE_OT,
                    1 + (unsigned)k % 3);
    }
}

/* --reveal label: the client learns only the index of the first maximum of
 * each row, equal to the reference's. */
TEST(reveal_label_only) {
    qnet *net = NULL;
    uint64_t *x = NULL, *want = NULL, *got = NULL;
    size_t n = 0;
    REQUIRE_OK(load(&net, &x, DATA "mlp.onnx", DATA "mlp.input.npy", 37, 12));
    REQUIRE_OK(ref_run(net, &want, NULL, x));
    const qtensor *ot = &net->t[net->output];
    size_t cols = ot->shape.d[ot->shape.rank - 1], rows = ot->size / cols;
    uint64_t *lab = mem_alloc(rows, sizeof *lab);
    nl_argmax_plain(lab, want, rows, cols, net->l);
    for (int mode = MODE_OT; mode <= MODE_HE; mode++) {
        secure_cfg cfg = {.mode = mode, .lanes = 2, .reveal_label = 1};
        REQUIRE_OK(secure_run(&got, &n, net, x, &cfg));
        CHECK_EQ(n, rows);
        for (size_t r = 0; r < rows && r < n; r++)
            CHECK_EQ(got[r], lab[r]);
        mem_free(got);
    }
    mem_free(lab);
    mem_free(x);
    mem_free(want);
    qnet_free(net);
}

/* One side cancels after layer 3: both sides fail (no hang), with the
 * cancelling side's reason on its side. */
typedef struct cancel_job {
    const qnet *net[2];
    const uint64_t *x;
    int who; /* the side that cancels */
    int rc[2];
} cancel_job;

static int cancel_after_3(void *ctx, const qnet *net, unsigned layer, const exec_layer_stat *st,
                          double elapsed, uint64_t bytes) {
    (void)ctx, (void)net, (void)st, (void)elapsed, (void)bytes;
    return layer >= 2;
}

static int cancel_party(party *p, void *arg) {
    cancel_job *j = arg;
    exec_opts o = {.lin = NULL /* OT */, .progress = p->role == j->who ? cancel_after_3 : NULL};
    uint64_t *y = NULL;
    size_t ny;
    int rc = exec_infer(p, j->net[p->role], &o, p->role == MPC_CLIENT ? j->x : NULL, &y, &ny, NULL);
    mem_free(y);
    j->rc[p->role] = rc;
    return rc;
}

TEST(a_party_stops_midway) {
    qnet *net = NULL;
    uint64_t *x = NULL;
    REQUIRE_OK(load(&net, &x, DATA "cnn.onnx", DATA "cnn.input.npy", 37, 12));
    for (int who = 0; who < 2; who++) {
        cancel_job j = {{net, net}, x, who, {0, 0}};
        int rc = run2_party(cancel_party, &j, 2);
        CHECK(rc < 0);
        CHECK(j.rc[0] < 0 && j.rc[1] < 0);
        CHECK_EQ(j.rc[who], PARLEY_E_ARG);
    }
    mem_free(x);
    qnet_free(net);
}

/* A residual Add after a convolution truncates once: the convolution's 2s
 * output goes straight to the Add, the other operand is lifted to 2s (SHL),
 * and the Add's Relu is fused with the single truncation. */
TEST(residual_add_truncates_once) {
    qnet *net;
    REQUIRE_OK(nn_model_load(&net, NULL, EXAMPLES "digits.onnx", 37, 12, 1));
    int adds = 0;
    for (unsigned i = 0; i < net->nlayers; i++) {
        const qlayer *L = &net->layers[i];
        if (L->op != QOP_ADD) continue;
        adds++;
        const qtensor *a = &net->t[L->in[0]], *b = &net->t[L->in[1]];
        CHECK_EQ(a->scale, 24);
        CHECK_EQ(b->scale, 24);
        CHECK_EQ(net->t[L->out].scale, 24);
        int conv = 0, shl = 0;
        for (unsigned k = 0; k < 2; k++) {
            qop op = net->layers[net->t[L->in[k]].producer].op;
            conv += op == QOP_CONV;
            shl += op == QOP_SHL;
        }
        CHECK(conv == 1 && shl == 1);
        REQUIRE(i + 1 < net->nlayers);
        CHECK_EQ(net->layers[i + 1].op, QOP_RELU_TRUNC);
    }
    CHECK_EQ(adds, 1);
    qnet_free(net);
}

/* Sibling element-wise layers run side by side (exec_group_end): cnn.onnx
 * has two branches whose ReLU-truncations feed one Concat. The quantizer
 * puts them next to each other, the executor runs them as one call, and
 * the cost model prices them so: their bytes and flights are reported on
 * the first, nothing on the second, the outputs are the reference's, and
 * the whole run's critical flights are the model's and fewer than the two
 * layers apart would take (their cost priced one after the other). */
TEST(siblings_run_side_by_side) {
    qnet *net;
    uint64_t *x;
    REQUIRE_OK(load(&net, &x, DATA "cnn.onnx", DATA "cnn.input.npy", 37, 12));
    unsigned pair = net->nlayers;
    for (unsigned i = 0; i + 1 < net->nlayers && pair == net->nlayers; i++)
        if (exec_group_end(net, i, NULL) == i + 1) pair = i;
    REQUIRE(pair < net->nlayers);
    const qlayer *A = &net->layers[pair], *B = &net->layers[pair + 1];
    CHECK_EQ(A->op, QOP_RELU_TRUNC);
    CHECK_EQ(B->op, QOP_RELU_TRUNC);
    CHECK(exec_group_end(net, pair + 1, NULL) == pair + 1);
    CHECK(net->layers[pair + 2].op == QOP_CONCAT);
    /* Not grouped: layers of another kind, or reading the group's output. */
    for (unsigned i = 0; i < net->nlayers; i++) {
        unsigned j = exec_group_end(net, i, NULL);
        for (unsigned g = i + 1; g <= j; g++) {
            CHECK_EQ(net->layers[g].op, net->layers[i].op);
            for (unsigned h = i; h < g; h++) CHECK(net->layers[g].in[0] != net->layers[h].out);
        }
    }
    uint64_t *want, *got;
    size_t n;
    REQUIRE_OK(ref_run(net, &want, NULL, x));
    for (int mode = MODE_OT; mode <= MODE_HE; mode++) {
        secure_costs costs;
        secure_cfg cfg = {.mode = mode, .lanes = 2, .costs = &costs};
        int rc = secure_run(&got, &n, net, x, &cfg);
        CHECK_MSG(rc == 0, "%s", err_msg());
        if (rc < 0) continue;
        CHECK_MSG(secure_check_costs(net, &cfg, &costs) == 0, "%s", err_msg());
        CHECK(memcmp(got, want, n * sizeof *got) == 0);
        const exec_layer_stat *a = &costs.rep.layers[pair], *b = &costs.rep.layers[pair + 1];
        CHECK(a->bytes > 0 && a->critical_flights > 0);
        CHECK(b->bytes == 0 && b->bytes_recv == 0 && b->critical_flights == 0);
        cost_opts o = {.mode = mode, .lanes = 2, .ot = test_backend(), .ferret = &FERRET_TOY};
        cost_report r;
        REQUIRE_OK(cost_predict(&r, net, &o));
        CHECK_EQ(costs.rep.critical_flights, r.flights);
        /* The two apart: the group's flights against each layer's own. */
        fsim *fs;
        REQUIRE_OK(fsim_new(&fs, test_backend(), 2, &FERRET_TOY));
        ot_costing oc = {.backend = test_backend(), .fs = fs};
        (void)nl_relu_trunc_bytes(&oc, net->t[A->out].size, net->l, A->p.shift, 2);
        (void)nl_relu_trunc_bytes(&oc, net->t[B->out].size, net->l, B->p.shift, 2);
        uint64_t apart = fsim_flights(fs);
        fsim_free(fs);
        printf("  %s: siblings %u and %u: %llu critical flights together, %llu apart\n",
               mode ? "he" : "ot", pair + 1, pair + 2, (unsigned long long)r.layer_flights[pair],
               (unsigned long long)apart);
        CHECK(r.layer_flights[pair] < apart);
        cost_report_free(&r);
        exec_report_free(&costs.rep);
        mem_free(got);
    }
    mem_free(want);
    mem_free(x);
    qnet_free(net);
}
