/* nn: .npy files, the ONNX importer's errors, quantization and the
 * reference on hand-made graphs against hand-computed integers, the public
 * model encoding, and tensor buffers. */
#include "harness.h"
#include "nl/act2.h"
#include "onnx_build.h"

#include "nn/model.h"
#include "nn/npy.h"
#include "nn/ref.h"
#include "util/bits.h"
#include "util/mem.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#define DATA PARLEY_SOURCE_DIR "/tests/data/"
#define F ONNX__TENSOR_PROTO__DATA_TYPE__FLOAT

static mb B; /* large: one builder shared by the cases */

/* ---- .npy ---------------------------------------------------------------- */

/* A .npy file from a header dict and raw data (v1.0, padded to 64). */
static uint8_t *npy_make(size_t *len, const char *dict, const void *data, size_t dlen) {
    size_t dl = strlen(dict), total = (10 + dl + 1 + 63) / 64 * 64;
    uint8_t *b = malloc(total + dlen);
    memcpy(b, "\x93NUMPY\x01\x00", 8);
    b[8] = (uint8_t)(total - 10);
    b[9] = (uint8_t)((total - 10) >> 8);
    memcpy(b + 10, dict, dl);
    memset(b + 10 + dl, ' ', total - 10 - dl - 1);
    b[total - 1] = '\n';
    memcpy(b + total, data, dlen);
    *len = total + dlen;
    return b;
}

TEST(npy_roundtrip) {
    prg p;
    harness_prg(&p, 1);
    const nn_shape shapes[] = {{0, {0}},    {1, {1}},          {1, {7}},
                               {2, {3, 5}}, {4, {2, 3, 4, 5}}, {8, {1, 2, 1, 2, 1, 2, 1, 3}}};
    for (size_t k = 0; k < sizeof shapes / sizeof *shapes; k++) {
        size_t n = nn_shape_count(&shapes[k]);
        float *v = malloc(n * sizeof *v);
        for (size_t i = 0; i < n; i++)
            v[i] = (float)((double)(int32_t)prg_u64(&p) / 1e6);
        if (n > 2) v[0] = -0.0f, v[1] = INFINITY;
        uint8_t *buf;
        size_t len;
        REQUIRE_OK(npy_encode_f32(&buf, &len, &shapes[k], v));
        CHECK_EQ((buf[8] | buf[9] << 8) % 64, 54); /* header padded to 64 bytes in all */
        nn_tensor t;
        REQUIRE_OK(npy_parse(&t, buf, len));
        CHECK(nn_shape_eq(&t.shape, &shapes[k]));
        CHECK(memcmp(t.data, v, n * sizeof *v) == 0);
        nn_tensor_free(&t);
        mem_free(buf);
        free(v);
    }
    prg_clear(&p);
}

TEST(npy_numpy_bytes) {
    /* A file numpy wrote: parley reads it and writes the same bytes back. */
    uint8_t *file, *again;
    size_t len, len2;
    REQUIRE_OK(nn_read_file(&file, &len, PARLEY_SOURCE_DIR "/examples/digit-0.npy", 1 << 20));
    nn_tensor t;
    REQUIRE_OK(npy_parse(&t, file, len));
    CHECK_EQ(t.shape.rank, 4);
    CHECK_EQ(t.n, 64);
    REQUIRE_OK(npy_encode_f32(&again, &len2, &t.shape, t.data));
    CHECK_EQ(len2, len);
    CHECK(len2 == len && memcmp(again, file, len) == 0);
    nn_tensor_free(&t);
    mem_free(file);
    mem_free(again);
}

TEST(npy_dtypes) {
    static const struct {
        const char *descr;
        uint8_t bytes[16];
        size_t size;
        float want[2];
    } cases[] = {
        {"<f8", {0, 0, 0, 0, 0, 0, 0xf8, 0x3f, 0, 0, 0, 0, 0, 0, 0, 0xc0}, 16, {1.5f, -2.0f}},
        {">f4", {0x3f, 0xc0, 0, 0, 0xc0, 0, 0, 0}, 8, {1.5f, -2.0f}},
        {"<i8",
         {0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 7, 0, 0, 0, 0, 0, 0, 0},
         16,
         {-1, 7}},
        {">i4", {0xff, 0xff, 0xff, 0xfe, 0, 0, 1, 0}, 8, {-2, 256}},
        {"<i2", {0x00, 0x80, 0x05, 0x00}, 4, {-32768, 5}},
        {"|i1", {0x80, 0x7f}, 2, {-128, 127}},
        {"|u1", {0xff, 0x01}, 2, {255, 1}},
        {"<u2", {0xff, 0xff, 0x01, 0x00}, 4, {65535, 1}},
        {"<u4", {0, 0, 0, 0x80, 3, 0, 0, 0}, 8, {2147483648.0f, 3}},
        {"|b1", {1, 0}, 2, {1, 0}},
    };
    for (size_t k = 0; k < sizeof cases / sizeof *cases; k++) {
        char dict[128];
        snprintf(dict, sizeof dict, "{'descr': '%s', 'fortran_order': False, 'shape': (2,), }",
                 cases[k].descr);
        size_t len;
        uint8_t *b = npy_make(&len, dict, cases[k].bytes, cases[k].size);
        nn_tensor t;
        int rc = npy_parse(&t, b, len);
        CHECK_MSG(rc == 0, "%s: %s", cases[k].descr, err_msg());
        if (rc == 0) {
            CHECK_MSG(t.data[0] == cases[k].want[0] && t.data[1] == cases[k].want[1], "%s: %g %g",
                      cases[k].descr, t.data[0], t.data[1]);
            nn_tensor_free(&t);
        }
        free(b);
    }
}

TEST(npy_bad_headers) {
    static const struct {
        const char *dict; /* NULL: raw bytes below */
        size_t data;      /* data bytes after the header */
        const char *why;  /* a word of the expected message */
    } cases[] = {
        {"{'descr': '<f4', 'fortran_order': False, 'shape': (2,), }", 4, "data holds"},
        {"{'descr': '<f4', 'fortran_order': False, 'shape': (2,), }", 12, "data holds"},
        {"{'descr': '<f4', 'fortran_order': False, 'shape': (2), }", 8, "trailing comma"},
        {"{'descr': '<f4', 'fortran_order': False, 'shape': (2, 0), }", 8, "empty"},
        {"{'descr': '<f4', 'fortran_order': False, 'shape': (99999999999999,), }", 8, "too large"},
        {"{'descr': '<f4', 'fortran_order': False, 'shape': (1,1,1,1,1,1,1,1,1), }", 4,
         "dimensions"},
        {"{'descr': '<f4', 'fortran_order': False, 'shape': (65536, 65536), }", 8, "elements"},
        {"{'descr': '<f4', 'fortran_order': False, }", 8, "lacks"},
        {"{'descr': '<f4', 'descr': '<f4', 'fortran_order': False, 'shape': (2,), }", 8, "twice"},
        {"{'descr': '<f4', 'fortran_order': False, 'shape': (2,), 'x': 1, }", 8, "unknown key"},
        {"{'descr': '<f4', 'fortran_order': Maybe, 'shape': (2,), }", 8, "True or False"},
        {"{'descr': '<f4', 'fortran_order': True, 'shape': (2, 2), }", 16, "Fortran"},
        {"{'descr': '<c8', 'fortran_order': False, 'shape': (2,), }", 16, "not supported"},
        {"{'descr': '<U4', 'fortran_order': False, 'shape': (2,), }", 32, "not supported"},
        {"{'descr': '|f4', 'fortran_order': False, 'shape': (2,), }", 8, "byte order"},
        {"{'descr': '<f4', 'fortran_order': False, 'shape': [2], }", 8, "tuple"},
        {"{'descr': '<f4' 'fortran_order': False, 'shape': (2,), }", 8, "expected"},
        {"{'descr': '<f4', 'fortran_order': False, 'shape': (2,), } x", 8, "trailing"},
        {"['descr']", 8, "dict"},
        {"{'descr': '<f\\4', 'fortran_order': False, 'shape': (2,), }", 8, "character"},
    };
    float data[8] = {0};
    for (size_t k = 0; k < sizeof cases / sizeof *cases; k++) {
        size_t len;
        uint8_t *b = npy_make(&len, cases[k].dict, data, cases[k].data);
        nn_tensor t;
        int rc = npy_parse(&t, b, len);
        CHECK_MSG((rc == PARLEY_E_FORMAT || rc == PARLEY_E_UNSUPPORTED) &&
                      strstr(err_msg(), cases[k].why),
                  "case %zu: %d %s", k, rc, err_msg());
        free(b);
    }
    /* Raw corruptions of a good file: every prefix, and damaged magic/version/length/newline. */
    nn_shape s = {2, {2, 3}};
    float v[6] = {1, 2, 3, 4, 5, 6};
    uint8_t *good;
    size_t glen;
    REQUIRE_OK(npy_encode_f32(&good, &glen, &s, v));
    for (size_t cut = 0; cut < glen; cut++) {
        nn_tensor t;
        CHECK_EQ(npy_parse(&t, good, cut), PARLEY_E_FORMAT);
    }
    const size_t at[] = {0, 5, 6, 7, 8, 9, 63};
    for (size_t k = 0; k < sizeof at / sizeof *at; k++) {
        uint8_t *b = malloc(glen);
        memcpy(b, good, glen);
        b[at[k]] ^= 0x40;
        nn_tensor t;
        int rc = npy_parse(&t, b, glen);
        CHECK_MSG(rc == PARLEY_E_FORMAT || rc == PARLEY_E_UNSUPPORTED, "byte %zu: %d", at[k], rc);
        free(b);
    }
    mem_free(good);
    nn_tensor t;
    CHECK_EQ(npy_load(&t, "/nonexistent/x.npy"), PARLEY_E_IO);
    CHECK(strstr(err_msg(), "/nonexistent/x.npy") != NULL);
}

/* ---- models built in C --------------------------------------------------- */

static int import(fgraph **g, unsigned batch) {
    size_t len;
    uint8_t *buf = mb_pack(&B, &len);
    onnx_opts o = {.batch = batch};
    int rc = onnx_import(g, buf, len, &o);
    free(buf);
    return rc;
}

/* Import B and quantize at (l, s) with weight width wbits (0: the policy). */
static int load_w(qnet **net, unsigned l, unsigned s, unsigned wbits) {
    fgraph *g;
    *net = NULL;
    TRY(import(&g, 1));
    int rc = quant_net(net, g, l, s, wbits);
    fgraph_free(g);
    return rc;
}

static int load(qnet **net, unsigned l, unsigned s) {
    return load_w(net, l, s, 0);
}

/* Run on float input values; ring outputs into out (n elements). */
static int run(const qnet *net, uint64_t *out, const float *x) {
    nn_tensor t = {
        .shape = net->t[net->input].shape, .n = net->t[net->input].size, .data = (float *)x};
    uint64_t *in = mem_alloc(t.n, sizeof *in), *y;
    TRY(qnet_encode_input(net, in, &t));
    int rc = ref_run(net, &y, NULL, in);
    mem_free(in);
    if (rc < 0) return rc;
    memcpy(out, y, net->t[net->output].size * sizeof *y);
    mem_free(y);
    return 0;
}

static const int64_t d1133[] = {1, 1, 3, 3}, d1122[] = {1, 1, 2, 2}, d1[] = {1};
static const float xv[9] = {0.5f, -1, 1.5f, 2, -0.25f, 0, 1, 1, -2};
static const float wv[4] = {0.3f, -0.6f, 0.9f, 0.05f}, bv[1] = {0.1f};

/* A 1x1x3x3 input through a 2x2 Conv with weights w and bias bv, then a
 * Relu if asked. */
static void hand_conv(const float *w, int relu) {
    mb_init(&B, 13);
    mb_input(&B, "x", F, 4, d1133);
    mb_init_f(&B, "W", 4, d1122, w);
    mb_init_f(&B, "B", 1, d1, bv);
    mb_node(&B, "Conv", "x,W,B", relu ? "c" : "y");
    if (relu) mb_node(&B, "Relu", "c", "y");
    mb_output(&B, "y");
}

/* x (s = 4): 8 -16 24 / 32 -4 0 / 16 16 -32; w: 5 -10 14 1; b (2s): 26.
 * Conv at scale 8: 670 -350 466 198; floor by 2^4: 41 -22 29 12. */
TEST(ref_conv_hand) {
    for (int relu = 0; relu < 2; relu++) {
        hand_conv(wv, relu);
        qnet *net;
        REQUIRE_OK(load(&net, 16, 4));
        REQUIRE(net->nlayers == 2);
        CHECK_EQ(net->layers[0].op, QOP_CONV);
        CHECK_EQ(net->layers[1].op, relu ? QOP_RELU_TRUNC : QOP_TRUNC);
        CHECK_EQ(net->layers[0].w[0], 5);
        CHECK_EQ(net->layers[0].w[1], (uint64_t)-10 & 0xffff);
        CHECK_EQ(net->layers[0].b[0], 26);
        /* The policy (|w| < 8 at s = 4), not the 5 bits these weights need. */
        CHECK_EQ(net->layers[0].p.lin.conv.wbits, quant_wbits(16, 4, QOP_CONV));
        CHECK_EQ(quant_wbits(16, 4, QOP_CONV), 8);
        uint64_t y[4];
        REQUIRE_OK(run(net, y, xv));
        const int64_t want[4] = {41, relu ? 0 : -22, 29, 12};
        for (int i = 0; i < 4; i++)
            CHECK_EQ(y[i], (uint64_t)want[i] & 0xffff);
        qnet_free(net);
    }
}

/* The conv of ref_conv_hand with weights w, at (16, 4) and wbits. */
static int conv_w(qnet **net, const float *w, unsigned wbits) {
    hand_conv(w, 0);
    return load_w(net, 16, 4, wbits);
}

/* wbits is public: a policy of (l, s), never a statistic of the weights.
 * Two models that differ only in their weights have the same public model;
 * weights beyond the policy are refused, naming the node and the weight's
 * index (not its value); the server may choose a wider bound. */
TEST(wbits_is_a_policy) {
    static const float small[4] = {0.0625f, -0.0625f, 0, 0.0625f}; /* 1 bit at s = 4 */
    static const float large[4] = {7.9f, -8.0f, 3.0f, -0.5f};      /* 8 bits */
    static const float over[4] = {0.5f, -1.0f, 8.0f, 0};           /* 128: 9 bits */
    qnet *a, *b;
    REQUIRE_OK(conv_w(&a, small, 0));
    REQUIRE_OK(conv_w(&b, large, 0));
    CHECK_EQ(a->layers[0].p.lin.conv.wbits, quant_wbits(16, 4, QOP_CONV));
    uint8_t *ea, *eb;
    size_t na, nb;
    REQUIRE_OK(qnet_public_encode(a, &ea, &na));
    REQUIRE_OK(qnet_public_encode(b, &eb, &nb));
    CHECK(na == nb && memcmp(ea, eb, na) == 0);
    mem_free(ea);
    mem_free(eb);
    qnet_free(a);
    qnet_free(b);
    /* Over the policy: refused, with the node and the index. */
    CHECK_EQ(conv_w(&a, over, 0), PARLEY_E_UNSUPPORTED);
    CHECK_MSG(strstr(err_msg(), "weight 2 does not fit the public weight width wbits = 8") &&
                  strstr(err_msg(), "Conv") && !strstr(err_msg(), "128"),
              "%s", err_msg());
    CHECK(a == NULL);
    /* A wider bound by choice; one above l is a bad argument. */
    REQUIRE_OK(conv_w(&a, over, 9));
    CHECK_EQ(a->layers[0].p.lin.conv.wbits, 9);
    qnet_free(a);
    CHECK_EQ(conv_w(&a, small, 17), PARLEY_E_ARG);
    /* The policy: s + 4 bits for weights, s + 12 for per-channel scales, at
     * most l. */
    CHECK_EQ(quant_wbits(37, 12, QOP_CONV), 16);
    CHECK_EQ(quant_wbits(37, 12, QOP_FC), 16);
    CHECK_EQ(quant_wbits(37, 12, QOP_SCALE), 24);
    CHECK_EQ(quant_wbits(8, 3, QOP_CONV), 7);
    CHECK_EQ(quant_wbits(8, 0, QOP_FC), 4);
    CHECK_EQ(quant_wbits(20, 9, QOP_SCALE), 20);
    CHECK_EQ(quant_wbits(64, 31, QOP_CONV), 35);
}

/* Average pooling divides by floor (also of negative sums), with the
 * divisor ONNX prescribes with and without count_include_pad. */
TEST(ref_avgpool_floor) {
    static const int64_t d[] = {1, 1, 1, 4}, k[] = {1, 2}, st[] = {1, 2}, pads[] = {0, 1, 0, 0};
    static const float x[4] = {3.0f / 16, -2.0f / 16, 1.0f / 16, 4.0f / 16};
    for (int cip = 0; cip < 2; cip++) {
        mb_init(&B, 13);
        mb_input(&B, "x", F, 4, d);
        Onnx__NodeProto *n = mb_node(&B, "AveragePool", "x", "y");
        mb_attr_ints(&B, n, "kernel_shape", 2, k);
        mb_attr_ints(&B, n, "strides", 2, st);
        mb_attr_ints(&B, n, "pads", 4, pads);
        mb_attr_i(&B, n, "count_include_pad", cip);
        mb_attr_i(&B, n, "ceil_mode", 1); /* a third window over x3 and the right edge */
        mb_output(&B, "y");
        qnet *net;
        REQUIRE_OK(load(&net, 16, 4));
        REQUIRE(net->t[net->output].size == 3);
        uint64_t y[3];
        REQUIRE_OK(run(net, y, x));
        /* Windows [pad, 3], [-2, 1], [4, past the edge] (integers at s = 4). */
        CHECK_EQ(bits_signed(y[0], 16), cip ? 1 : 3); /* floor(3 / 2) with the pad counted */
        CHECK_EQ(bits_signed(y[1], 16), -1);          /* floor(-1 / 2) = -1, not 0 */
        CHECK_EQ(bits_signed(y[2], 16), 4); /* 4 / 1: the window is clipped to the padded image */
        qnet_free(net);
    }
}

/* Folding: Pad -> Conv -> BatchNormalization -> Relu -> MatMul -> Add(bias)
 * becomes CONV, RELU_TRUNC, FC, TRUNC with folded weights and biases. */
TEST(quant_folds) {
    static const int64_t dx[] = {1, 1, 2, 2}, dw[] = {2, 1, 1, 1}, d2[] = {2},
                         pads[] = {0, 0, 1, 1, 0, 0, 0, 0}, dm[] = {18, 3}, d3[] = {3}, ds[] = {2},
                         shp[] = {1, 18};
    static const float w[2] = {1.0f, -0.5f}, g[2] = {2, 1}, be[2] = {0.5f, -1}, mu[2] = {0.25f, 0},
                       var[2] = {4 - 1e-5f, 1 - 1e-5f}, mat[54] = {0.5f}, bias[3] = {1, 2, 3};
    mb_init(&B, 13);
    mb_input(&B, "x", F, 4, dx);
    mb_init_i(&B, "pads", 1, (int64_t[]){8}, pads);
    mb_init_f(&B, "W", 4, dw, w);
    mb_init_f(&B, "g", 1, d2, g);
    mb_init_f(&B, "be", 1, d2, be);
    mb_init_f(&B, "mu", 1, d2, mu);
    mb_init_f(&B, "var", 1, d2, var);
    mb_init_f(&B, "M", 2, dm, mat);
    mb_init_f(&B, "bias", 1, d3, bias);
    mb_init_i(&B, "shape", 1, ds, shp);
    mb_node(&B, "Pad", "x,pads", "p");
    mb_node(&B, "Conv", "p,W", "c");
    mb_node(&B, "BatchNormalization", "c,g,be,mu,var", "bn");
    mb_node(&B, "Relu", "bn", "r");
    mb_node(&B, "Reshape", "r,shape", "f");
    mb_node(&B, "MatMul", "f,M", "mm");
    mb_node(&B, "Add", "mm,bias", "y");
    mb_output(&B, "y");
    qnet *net;
    REQUIRE_OK(load(&net, 37, 12));
    const qop want[] = {QOP_CONV, QOP_RELU_TRUNC, QOP_RESHAPE, QOP_FC, QOP_TRUNC};
    REQUIRE(net->nlayers == 5);
    for (unsigned i = 0; i < 5; i++)
        CHECK_EQ(net->layers[i].op, want[i]);
    const lin_conv *c = &net->layers[0].p.lin.conv;
    CHECK(c->H == 2 && c->W == 2 && c->pt == 1 && c->pl == 1 && c->pb == 0 && c->pr == 0);
    /* gamma' = g / sqrt(var + eps) = (1, 1); w' = (1, -0.5); b' = be - gamma' mu = (0.25, -1). */
    CHECK_EQ(net->layers[0].w[0], 4096);
    CHECK_EQ(net->layers[0].w[1], bits_mask(37) + 1 - 2048);
    CHECK_EQ(net->layers[0].b[0], 1u << 22);                       /* 0.25 at scale 24 */
    CHECK_EQ(net->layers[0].b[1], bits_mask(37) + 1 - (1u << 24)); /* -1 at scale 24 */
    CHECK_EQ(net->layers[3].b[2], 3u << 24); /* the Add folded into the FC bias */
    CHECK_EQ(net->layers[3].w[0], 2048);     /* W^T[0][0] = 0.5 */
    CHECK_EQ(net->layers[3].w[1], 0);
    qnet_free(net);
}

/* Add of two computed tensors, Concat with a constant, ArgMax. */
TEST(ref_add_concat_argmax) {
    static const int64_t dx[] = {1, 3}, dc[] = {1, 2};
    static const float cv[2] = {0.75f, -3};
    mb_init(&B, 13);
    mb_input(&B, "x", F, 2, dx);
    mb_init_f(&B, "c", 2, dc, cv);
    mb_node(&B, "Relu", "x", "r");
    mb_node(&B, "Add", "x,r", "a"); /* 2x for x > 0, x otherwise */
    mb_node(&B, "Concat", "a,c", "k");
    mb_attr_i(&B, &B.nodes[2], "axis", 1);
    mb_node(&B, "ArgMax", "k", "y");
    mb_attr_i(&B, &B.nodes[3], "axis", 1);
    mb_output(&B, "y");
    qnet *net;
    REQUIRE_OK(load(&net, 16, 4));
    REQUIRE(net->nlayers == 5);
    CHECK_EQ(net->layers[3].op, QOP_CONCAT);
    CHECK_EQ(net->layers[2].op, QOP_CONST);
    CHECK_EQ(net->t[net->output].scale, 0);
    const float in[3][3] = {{0.25f, 0.125f, -4}, {-1, -2, -0.5f}, {0.375f, 0.25f, 0.375f}};
    uint64_t y;
    REQUIRE_OK(run(net, &y, in[0])); /* [0.5, 0.25, -4, 0.75, -3] */
    CHECK_EQ(y, 3);
    REQUIRE_OK(run(net, &y, in[1])); /* [-1, -2, -0.5, 0.75, -3] */
    CHECK_EQ(y, 3);
    REQUIRE_OK(run(net, &y, in[2])); /* [0.75, 0.5, 0.75, 0.75, -3]: the first maximum */
    CHECK_EQ(y, 0);
    qnet_free(net);
}

/* Run the checked reference on float input values. */
static int run_checked(const qnet *net, uint64_t *out, const float *x) {
    nn_tensor t = {
        .shape = net->t[net->input].shape, .n = net->t[net->input].size, .data = (float *)x};
    uint64_t *in = mem_alloc(t.n, sizeof *in), *y;
    TRY(qnet_encode_input(net, in, &t));
    int rc = ref_run_checked(net, &y, in);
    mem_free(in);
    if (rc < 0) return rc;
    memcpy(out, y, net->t[net->output].size * sizeof *y);
    mem_free(y);
    return 0;
}

/* Values that leave the ring are refused by the checked reference, naming
 * the layer and the --bits needed, where the plain reference wraps: a conv
 * output, a sum of two computed tensors, an average pool's window sum (its
 * output fits; the sum before the division does not). In range, the two
 * agree. */
TEST(ref_checked_refuses_wrap) {
    /* The hand conv at (16, 4): in range as in ref_conv_hand; with x * 64
     * the input fits (|x| <= 2048 at s = 4) but the first output at 2s,
     * 670 * 64 = 42880, does not (> 2^15 - 1). */
    hand_conv(wv, 0);
    qnet *net;
    REQUIRE_OK(load(&net, 16, 4));
    uint64_t y[4], y2[4];
    REQUIRE_OK(run(net, y, xv));
    REQUIRE_OK(run_checked(net, y2, xv));
    CHECK(memcmp(y, y2, sizeof y) == 0);
    float big[9];
    for (int i = 0; i < 9; i++)
        big[i] = xv[i] * 64; /* |x| <= 128 at s = 4: 2^11, in range */
    REQUIRE_OK(run(net, y, big)); /* the plain reference wraps without a word */
    CHECK(bits_signed(y[0], 16) != 670 * 64 / 16);
    CHECK_EQ(run_checked(net, y2, big), PARLEY_E_RANGE);
    CHECK_MSG(strstr(err_msg(), "layer 0 'Conv' (conv)") && strstr(err_msg(), "wrap around") &&
                  strstr(err_msg(), "at l = 16") && strstr(err_msg(), "--bits 17 or more"),
              "%s", err_msg());
    qnet_free(net);

    /* Add of two computed tensors (x + relu(x)) at (16, 4): 2 * 1500 * 16
     * = 48000 > 2^15 - 1, though each operand fits. */
    static const int64_t dx[] = {1, 3};
    mb_init(&B, 13);
    mb_input(&B, "x", F, 2, dx);
    mb_node(&B, "Relu", "x", "r");
    mb_node(&B, "Add", "x,r", "y");
    mb_output(&B, "y");
    REQUIRE_OK(load(&net, 16, 4));
    const float ok[3] = {1000, -2000, 0.5f}, over[3] = {1, -2000, 1500};
    uint64_t a[3];
    REQUIRE_OK(run_checked(net, a, ok));
    CHECK_EQ(bits_signed(a[0], 16), 32000);
    CHECK_EQ(bits_signed(a[1], 16), -32000);
    CHECK_EQ(run_checked(net, a, over), PARLEY_E_RANGE);
    CHECK_MSG(strstr(err_msg(), "(add)") && strstr(err_msg(), "48000"), "%s", err_msg());
    qnet_free(net);

    /* A 2x2 average pool of 1000s at (16, 4): the window sum 64000 does
     * not fit, the average 16000 would. */
    static const int64_t d4[] = {1, 1, 2, 2}, k2[] = {2, 2};
    mb_init(&B, 13);
    mb_input(&B, "x", F, 4, d4);
    Onnx__NodeProto *n = mb_node(&B, "AveragePool", "x", "y");
    mb_attr_ints(&B, n, "kernel_shape", 2, k2);
    mb_output(&B, "y");
    REQUIRE_OK(load(&net, 16, 4));
    const float p_ok[4] = {500, 500, 500, 500}, p_over[4] = {1000, 1000, 1000, 1000};
    REQUIRE_OK(run_checked(net, a, p_ok));
    CHECK_EQ(bits_signed(a[0], 16), 8000);
    REQUIRE_OK(run(net, a, p_over));
    CHECK(bits_signed(a[0], 16) != 16000); /* wrapped */
    CHECK_EQ(run_checked(net, a, p_over), PARLEY_E_RANGE);
    CHECK_MSG(strstr(err_msg(), "(avgpool)") && strstr(err_msg(), "a window sum reaches 64000"),
              "%s", err_msg());
    qnet_free(net);
}

/* On a real network (conv, BN folded, residual Add with SHL, fire module
 * Concat, pools, Gemm) the checked reference equals the plain one, at the
 * default ring and at l = 64. */
TEST(ref_checked_equals_ref) {
    nn_tensor x;
    REQUIRE_OK(npy_load(&x, DATA "cnn.input.npy"));
    const unsigned ls[][2] = {{37, 12}, {64, 20}, {32, 9}};
    for (size_t k = 0; k < 3; k++) {
        qnet *net;
        REQUIRE_OK(nn_model_load(&net, NULL, DATA "cnn.onnx", ls[k][0], ls[k][1], x.shape.d[0]));
        uint64_t *in = mem_alloc(x.n, sizeof *in), *y1, *y2;
        REQUIRE_OK(qnet_encode_input(net, in, &x));
        REQUIRE_OK(ref_run(net, &y1, NULL, in));
        REQUIRE_OK(ref_run_checked(net, &y2, in));
        size_t n = net->t[net->output].size;
        CHECK_MSG(memcmp(y1, y2, n * sizeof *y1) == 0, "l = %u", ls[k][0]);
        mem_free(in);
        mem_free(y1);
        mem_free(y2);
        qnet_free(net);
    }
    nn_tensor_free(&x);
}

/* One activation node on a 1 x 4 input at (16, 4); y gets the ring output. */
static int act_model(uint64_t *y, const float *x, const char *op, int64_t opset, int how) {
    static const int64_t d14[] = {1, 4}, d4[] = {4};
    static const float lo[1] = {0}, hi[1] = {6}, slope[1] = {0.25f}, slopes[4] = {0.25f, 0.5f, 1, 1};
    mb_init(&B, opset);
    mb_input(&B, "x", F, 2, d14);
    Onnx__NodeProto *n;
    if (!strcmp(op, "Clip") && opset >= 11) {
        mb_init_f(&B, "lo", 0, d1, lo);
        mb_init_f(&B, "hi", 0, d1, hi);
        n = mb_node(&B, "Clip", how ? "x,,hi" : "x,lo,hi", "y");
    } else if (!strcmp(op, "PRelu")) {
        if (how) mb_init_f(&B, "a", 1, d4, slopes);
        else mb_init_f(&B, "a", 1, d1, slope);
        n = mb_node(&B, "PRelu", "x,a", "y");
    } else {
        n = mb_node(&B, op, "x", "y");
    }
    if (!strcmp(op, "Clip") && opset < 11) {
        mb_attr_f(&B, n, "min", how ? 7 : 0);
        mb_attr_f(&B, n, "max", 6);
    }
    if (!strcmp(op, "LeakyRelu")) mb_attr_f(&B, n, "alpha", 0.25f);
    mb_output(&B, "y");
    qnet *net;
    TRY(load(&net, 16, 4));
    int rc = run_checked(net, y, x);
    qnet_free(net);
    return rc;
}

/* The activations' fixed-point values by hand (docs/MODELS.md): Clip with
 * its bounds at scale s, from inputs (opset 13) or attributes (opset 6),
 * one bound absent; LeakyRelu and a one-slope PRelu as
 * relu(x) + floor(alpha_q * min(x, 0) / 2^s); HardSigmoid as
 * clip(floor(alpha_q x / 2^s) + beta, 0, 1). Refusals name the node. */
TEST(activations_hand) {
    const float x[4] = {-1, 0.5f, 6, 7.25f}, lx[4] = {-1, -0.0625f, 2, 0};
    const float hx[4] = {1, -4, 3, 0};
    uint64_t y[4];
    const int64_t clip[4] = {0, 8, 96, 96}, clip_hi[4] = {-16, 8, 96, 96};
    for (int opset = 6; opset <= 13; opset += 7) {
        REQUIRE_OK(act_model(y, x, "Clip", opset, 0));
        for (int i = 0; i < 4; i++)
            CHECK_EQ(bits_signed(y[i], 16), clip[i]);
    }
    REQUIRE_OK(act_model(y, x, "Clip", 13, 1)); /* no min */
    for (int i = 0; i < 4; i++)
        CHECK_EQ(bits_signed(y[i], 16), clip_hi[i]);
    const int64_t leaky[4] = {-4, -1, 32, 0}; /* floor: -1/16 * 1/4 -> -1/16 */
    REQUIRE_OK(act_model(y, lx, "LeakyRelu", 13, 0));
    for (int i = 0; i < 4; i++)
        CHECK_EQ(bits_signed(y[i], 16), leaky[i]);
    REQUIRE_OK(act_model(y, lx, "PRelu", 13, 0));
    for (int i = 0; i < 4; i++)
        CHECK_EQ(bits_signed(y[i], 16), leaky[i]);
    const int64_t hs[4] = {11, 0, 16, 8}; /* alpha 0.2 -> 3/16, beta 8, hi 16 */
    REQUIRE_OK(act_model(y, hx, "HardSigmoid", 13, 0));
    for (int i = 0; i < 4; i++)
        CHECK_EQ(bits_signed(y[i], 16), hs[i]);
    /* slopes 1/4, 1/2, 1, 1 by channel: floor((a_q x + (16 - a_q) relu(x)) / 16) */
    const int64_t prelu[4] = {-4, 8, 96, 116};
    REQUIRE_OK(act_model(y, x, "PRelu", 13, 1));
    for (int i = 0; i < 4; i++)
        CHECK_EQ(bits_signed(y[i], 16), prelu[i]);
    CHECK_EQ(act_model(y, x, "Clip", 6, 1), PARLEY_E_UNSUPPORTED);
    CHECK_MSG(strstr(err_msg(), "(Clip): min 7 exceeds max 6"), "%s", err_msg());
}

/* The range check runs the net at l = 64 with the activations' constants
 * sign-extended: a Clip with a negative bound (Hardtanh's -1, 1) is
 * checked, not refused as a wrap-around, and so is a negative slope. */
TEST(activations_negative_constants_checked) {
    static const int64_t d14[] = {1, 4};
    static const float lo[1] = {-1}, hi[1] = {1};
    const float x[4] = {-2, -0.5f, 0.5f, 2};
    const int64_t clip[4] = {-16, -8, 8, 16}, leaky[4] = {16, 4, 8, 32};
    uint64_t y[4];
    mb_init(&B, 13);
    mb_input(&B, "x", F, 2, d14);
    mb_init_f(&B, "lo", 0, d1, lo);
    mb_init_f(&B, "hi", 0, d1, hi);
    mb_node(&B, "Clip", "x,lo,hi", "y");
    mb_output(&B, "y");
    qnet *net;
    REQUIRE_OK(load(&net, 16, 4));
    REQUIRE_OK(run_checked(net, y, x));
    for (int i = 0; i < 4; i++)
        CHECK_EQ(bits_signed(y[i], 16), clip[i]);
    qnet_free(net);
    mb_init(&B, 13);
    mb_input(&B, "x", F, 2, d14);
    Onnx__NodeProto *n = mb_node(&B, "LeakyRelu", "x", "y");
    mb_attr_f(&B, n, "alpha", -0.5f);
    mb_output(&B, "y");
    REQUIRE_OK(load(&net, 16, 4));
    REQUIRE_OK(run_checked(net, y, x));
    for (int i = 0; i < 4; i++)
        CHECK_EQ(bits_signed(y[i], 16), leaky[i]);
    qnet_free(net);
}

/* HardSwish, the product of two computed tensors (broadcast, either
 * order) and their refusals, by hand at (16, 4) (docs/MODELS.md). */
TEST(products_hand) {
    static const int64_t d14[] = {1, 4}, dx[] = {1, 2, 1, 2}, d3[] = {1, 2, 2}, d2[] = {2};
    uint64_t y[4];
    /* HardSwish: t = clip(x + 48, 0, 96), y = floor(x t / 96) */
    const float hx[4] = {-4, -1, 1, 4};
    const int64_t hs[4] = {0, -6, 10, 64};
    mb_init(&B, 14);
    mb_input(&B, "x", F, 2, d14);
    mb_node(&B, "HardSwish", "x", "y");
    mb_output(&B, "y");
    qnet *net;
    REQUIRE_OK(load(&net, 16, 4));
    REQUIRE_OK(run_checked(net, y, hx));
    for (int i = 0; i < 4; i++)
        CHECK_EQ(bits_signed(y[i], 16), hs[i]);
    qnet_free(net);

    /* Squeeze-and-excitation's product, the pooled operand first:
     * pool = 32, -12 (at 4); y = floor(pool x / 16). Past the ring, the
     * checked reference names the layer. */
    mb_init(&B, 13);
    mb_input(&B, "x", F, 4, dx);
    mb_node(&B, "GlobalAveragePool", "x", "p");
    mb_node(&B, "Mul", "p,x", "y");
    mb_output(&B, "y");
    REQUIRE_OK(load(&net, 16, 4));
    const float mx[4] = {1, 3, -2, 0.5f}, over[4] = {100, 100, 1, 1};
    const int64_t my[4] = {32, 96, 24, -6};
    REQUIRE_OK(run_checked(net, y, mx));
    for (int i = 0; i < 4; i++)
        CHECK_EQ(bits_signed(y[i], 16), my[i]);
    CHECK_EQ(run_checked(net, y, over), PARLEY_E_RANGE);
    CHECK_MSG(strstr(err_msg(), "(mul)") && strstr(err_msg(), "2560000"), "%s", err_msg());
    qnet_free(net);

    /* Operands that do not broadcast, and a slope that varies along the
     * last axis rather than by channel. */
    static const int64_t shp[4] = {1, 4, 1, 1};
    mb_init(&B, 13);
    mb_input(&B, "x", F, 4, dx);
    mb_init_i(&B, "s", 1, (const int64_t[]){4}, shp);
    mb_node(&B, "Reshape", "x,s", "r");
    mb_node(&B, "Mul", "x,r", "y");
    mb_output(&B, "y");
    CHECK_EQ(load(&net, 16, 4), PARLEY_E_UNSUPPORTED);
    CHECK_MSG(strstr(err_msg(), "(Mul): operands [1,2,1,2] and [1,4,1,1] do not broadcast"), "%s",
              err_msg());
    static const float sl[2] = {0.25f, 0.5f};
    mb_init(&B, 13);
    mb_input(&B, "x", F, 3, d3);
    mb_init_f(&B, "a", 1, d2, sl);
    mb_node(&B, "PRelu", "x,a", "y");
    mb_output(&B, "y");
    CHECK_EQ(load(&net, 16, 4), PARLEY_E_UNSUPPORTED);
    CHECK_MSG(strstr(err_msg(), "(PRelu): slopes that vary other than per channel"), "%s",
              err_msg());
}

/* A model of one element-wise node op on x, 1 x 4 floats. */
static void one_node(const char *op) {
    static const int64_t d14[] = {1, 4};
    mb_init(&B, 13);
    mb_input(&B, "x", F, 2, d14);
    mb_node(&B, op, "x", "y");
    mb_output(&B, "y");
}

/* Sigmoid imports by name: sigmoid(0) = 1/2 and sigmoid(-x) = 1 -
 * sigmoid(x) exactly at (16, 4), its values within nl/act2.h's bound; a
 * scale below 2 is refused naming the layer. */
TEST(sigmoid_hand) {
    const float x[4] = {0, 1.5f, -1.5f, 40};
    uint64_t y[4];
    one_node("Sigmoid");
    qnet *net;
    REQUIRE_OK(load(&net, 16, 4));
    REQUIRE_OK(run_checked(net, y, x));
    CHECK_EQ(bits_signed(y[0], 16), 8);
    CHECK_EQ(bits_signed(y[1], 16) + bits_signed(y[2], 16), 16);
    CHECK_EQ(bits_signed(y[3], 16), 16);
    for (int i = 0; i < 4; i++)
        CHECK(fabs(bits_signed(y[i], 16) / 16.0 - 1 / (1 + exp(-x[i]))) <= 1.7e-5 + 1.91 / 16);
    qnet_free(net);
    one_node("Sigmoid");
    CHECK_EQ(load(&net, 8, 1), PARLEY_E_UNSUPPORTED);
    CHECK_MSG(strstr(err_msg(), "(sigmoid") && strstr(err_msg(), "Sigmoid needs a scale s >= 2"),
              "%s", err_msg());
}

/* Exp imports by name: exp(0) and exp(-x) within nl/act2.h's bound at
 * (24, 8); a positive input is outside its domain: the checked reference
 * refuses it naming the layer, the plain one gives exp(0). */
TEST(exp_hand) {
    const float x[4] = {0, -1.5f, -7.25f, -40}, xp[4] = {0, 0.5f, -1, -2};
    uint64_t y[4];
    one_node("Exp");
    qnet *net;
    REQUIRE_OK(load(&net, 24, 8));
    REQUIRE_OK(run_checked(net, y, x));
    for (int i = 0; i < 4; i++)
        CHECK_MSG(fabs(bits_signed(y[i], 24) / 256.0 - exp(x[i])) <= 1.2e-4 + 1.75 / 256,
                  "exp(%g) = %g", x[i], bits_signed(y[i], 24) / 256.0);
    CHECK_EQ(run_checked(net, y, xp), PARLEY_E_RANGE);
    CHECK_MSG(strstr(err_msg(), "layer 0") && strstr(err_msg(), "(exp)") &&
                  strstr(err_msg(), "input of Exp is positive (0.5)"),
              "%s", err_msg());
    REQUIRE_OK(run(net, y, xp));
    CHECK_EQ(y[1], y[0]);
    qnet_free(net);
    one_node("Exp");
    CHECK_EQ(load(&net, 8, 1), PARLEY_E_UNSUPPORTED);
    CHECK_MSG(strstr(err_msg(), "(exp") && strstr(err_msg(), "Exp needs a scale s >= 2"), "%s",
              err_msg());
}

/* Softmax in the middle of a network is a layer: over one axis (opset
 * 13, default the last) or over all dimensions from the axis on (opset
 * 11, default 1), each row within its bound of float softmax; a final
 * Softmax is still dropped; a row whose range does not fit the ring is
 * refused by the checked reference naming the layer. */
static void softmax_model(int64_t opset, unsigned rank, const int64_t *d, int axis) {
    mb_init(&B, opset);
    mb_input(&B, "x", F, rank, d);
    Onnx__NodeProto *n = mb_node(&B, "Softmax", "x", "s");
    if (axis >= 0) mb_attr_i(&B, n, "axis", axis);
    mb_node(&B, "Relu", "s", "y");
    mb_output(&B, "y");
}

TEST(softmax_hand) {
    static const int64_t d[] = {1, 2, 3};
    const float x[6] = {0.5f, -1, 2, 0, 3, -2};
    for (int k = 0; k < 3; k++) {
        softmax_model(k == 2 ? 11 : 13, 3, d, k == 1 ? 1 : -1);
        qnet *net;
        REQUIRE_OK(load(&net, 37, 12));
        CHECK_EQ(net->layers[0].op, QOP_SOFTMAX);
        uint64_t y[6];
        REQUIRE_OK(run_checked(net, y, x));
        /* rows: the last axis (3 of 3), axis 1 (3 of 2, stride 3), all 6 */
        for (int i = 0; i < 6; i++) {
            double sum = 0;
            for (int j = 0; j < 6; j++) {
                int same = k == 0 ? j / 3 == i / 3 : k == 1 ? j % 3 == i % 3 : 1;
                if (same) sum += exp(x[j]);
            }
            double p = exp(x[i]) / sum, got = bits_signed(y[i], 37) / 4096.0;
            CHECK_MSG(fabs(got - p) <= 2.5e-4 * p + (6 * p + 4) * 1.75 / 4096,
                      "case %d element %d: %g, float %g", k, i, got, p);
        }
        qnet_free(net);
    }
    /* a row's range beyond the ring at (16, 6): 300 - (-300) > 2^9 */
    softmax_model(13, 3, d, -1);
    qnet *net;
    REQUIRE_OK(load(&net, 16, 6));
    const float wide[6] = {300, -300, 0, 1, 2, 3};
    uint64_t y[6];
    CHECK_EQ(run_checked(net, y, wide), PARLEY_E_RANGE);
    CHECK_MSG(strstr(err_msg(), "(softmax)") && strstr(err_msg(), "row's maximum"), "%s",
              err_msg());
    qnet_free(net);
    /* too long a row for the ring: 2^10 elements at (16, 6) need l >= 19 */
    static const int64_t dl[] = {1, 1024};
    softmax_model(13, 2, dl, -1);
    CHECK_EQ(load(&net, 16, 6), PARLEY_E_UNSUPPORTED);
    CHECK_MSG(strstr(err_msg(), "Softmax over 1024 elements needs a scale s >= 6 and l >= s + 13"),
              "%s", err_msg());
}

/* A symbolic batch dimension takes the batch size given at load. */
TEST(batch_dimension) {
    static const int64_t dx[] = {0, 2}, dw[] = {2, 2};
    static const float w[4] = {1, 0, 0, -1};
    mb_init(&B, 13);
    mb_input(&B, "x", F, 2, dx);
    mb_init_f(&B, "W", 2, dw, w);
    mb_node(&B, "MatMul", "x,W", "y");
    mb_output(&B, "y");
    fgraph *g;
    REQUIRE_OK(import(&g, 3));
    qnet *net;
    int rc = quant_net(&net, g, 37, 12, 0);
    fgraph_free(g);
    REQUIRE_OK(rc);
    CHECK_EQ(net->t[net->input].shape.d[0], 3);
    CHECK_EQ(net->layers[0].p.lin.fc.N, 3);
    const float x[6] = {1, 2, 3, 4, -5, 6};
    uint64_t y[6];
    REQUIRE_OK(run(net, y, x));
    const int64_t want[6] = {1, -2, 3, -4, -5, -6};
    for (int i = 0; i < 6; i++)
        CHECK_EQ(bits_signed(y[i], 37), want[i] * 4096);
    qnet_free(net);
}

/* Buffers are freed after their last reader: a chain keeps two alive. */
TEST(ref_frees_buffers) {
    static const int64_t dx[] = {1, 8, 16, 16};
    mb_init(&B, 13);
    mb_input(&B, "x", F, 4, dx);
    char a[8], b[8];
    for (int i = 0; i < 20; i++) {
        snprintf(a, sizeof a, i ? "t%d" : "x", i);
        snprintf(b, sizeof b, i == 19 ? "y" : "t%d", i + 1);
        mb_node(&B, "Relu", a, b);
    }
    mb_output(&B, "y");
    qnet *net;
    REQUIRE_OK(load(&net, 37, 12));
    size_t n = net->t[net->input].size;
    uint64_t *x = mem_calloc(n, sizeof *x), *y, peak;
    REQUIRE_OK(ref_run(net, &y, &peak, x));
    CHECK_EQ(peak, 2 * n);
    qnet_stats st;
    qnet_stats_get(&st, net);
    CHECK_EQ(st.peak_elems, 2 * n);
    CHECK_EQ(st.relus, 20 * n);
    mem_free(x);
    mem_free(y);
    qnet_free(net);
}

/* ---- importer errors ----------------------------------------------------- */

typedef void (*build_fn)(void);
static const int64_t dimg[] = {1, 1, 4, 4}, dk[] = {1, 1, 2, 2};
static const float k4[4] = {1, 2, 3, 4};

static void conv_model(const char *attr, int64_t v) {
    mb_init(&B, 13);
    mb_input(&B, "x", F, 4, dimg);
    mb_init_f(&B, "W", 4, dk, k4);
    Onnx__NodeProto *n = mb_node(&B, "Conv", "x,W", "y");
    if (attr) mb_attr_i(&B, n, attr, v);
    mb_output(&B, "y");
}
static void e_unsupported_op(void) {
    mb_init(&B, 13);
    mb_input(&B, "x", F, 4, dimg);
    mb_node(&B, "Erf", "x", "y");
    mb_output(&B, "y");
}
static void e_unknown_attr(void) {
    conv_model("foo", 1);
}
static void e_group_zero(void) {
    conv_model("group", 0);
}
static void e_stride_zero(void) {
    conv_model(NULL, 0);
    mb_attr_ints(&B, &B.nodes[0], "strides", 2, (int64_t[]){0, 1});
}
static void e_dynamic_weights(void) {
    mb_init(&B, 13);
    mb_input(&B, "x", F, 4, dimg);
    mb_node(&B, "Relu", "x", "r");
    mb_node(&B, "Conv", "x,r", "y");
    mb_output(&B, "y");
}
static void e_symbolic_dim(void) {
    mb_init(&B, 13);
    mb_input(&B, "x", F, 4, (int64_t[]){1, 1, 0, 4});
    mb_node(&B, "Relu", "x", "y");
    mb_output(&B, "y");
}
static void e_two_inputs(void) {
    mb_init(&B, 13);
    mb_input(&B, "x", F, 4, dimg);
    mb_input(&B, "z", F, 4, dimg);
    mb_node(&B, "Add", "x,z", "y");
    mb_output(&B, "y");
}
static void e_two_outputs(void) {
    mb_init(&B, 13);
    mb_input(&B, "x", F, 4, dimg);
    mb_node(&B, "Relu", "x", "y");
    mb_output(&B, "y");
    mb_output(&B, "x");
}
static void e_opset(void) {
    conv_model(NULL, 0);
    B.opset.version = 18;
}
static void e_order(void) {
    mb_init(&B, 13);
    mb_input(&B, "x", F, 4, dimg);
    mb_node(&B, "Relu", "r", "y");
    mb_node(&B, "Relu", "x", "r");
    mb_output(&B, "y");
}
static void e_twice(void) {
    mb_init(&B, 13);
    mb_input(&B, "x", F, 4, dimg);
    mb_node(&B, "Relu", "x", "y");
    mb_node(&B, "Relu", "x", "y");
    mb_output(&B, "y");
}
static void e_softmax_const(void) {
    static const float c[16] = {0};
    mb_init(&B, 13);
    mb_input(&B, "x", F, 4, dimg);
    mb_init_f(&B, "c", 4, dimg, c);
    mb_node(&B, "Softmax", "c", "s");
    mb_node(&B, "Add", "x,s", "y");
    mb_output(&B, "y");
}
static void e_pool_pad(void) {
    mb_init(&B, 13);
    mb_input(&B, "x", F, 4, dimg);
    Onnx__NodeProto *n = mb_node(&B, "MaxPool", "x", "y");
    mb_attr_ints(&B, n, "kernel_shape", 2, (int64_t[]){2, 2});
    mb_attr_ints(&B, n, "pads", 4, (int64_t[]){2, 0, 0, 0});
    mb_output(&B, "y");
}
static void e_matmul_values(void) {
    mb_init(&B, 13);
    mb_input(&B, "x", F, 2, (int64_t[]){4, 4});
    mb_node(&B, "Relu", "x", "r");
    mb_node(&B, "MatMul", "x,r", "y");
    mb_output(&B, "y");
}
static void e_concat_shapes(void) {
    mb_init(&B, 13);
    mb_input(&B, "x", F, 2, (int64_t[]){2, 4});
    mb_node(&B, "Reshape", "x,s", "r");
    mb_init_i(&B, "s", 1, (int64_t[]){2}, (int64_t[]){4, 2});
    mb_node(&B, "Concat", "x,r", "y");
    mb_attr_i(&B, &B.nodes[1], "axis", 0);
    mb_output(&B, "y");
}
static void e_int_input(void) {
    mb_init(&B, 13);
    mb_input(&B, "x", ONNX__TENSOR_PROTO__DATA_TYPE__INT64, 4, dimg);
    mb_node(&B, "Relu", "x", "y");
    mb_output(&B, "y");
}
static void e_bad_raw(void) {
    conv_model(NULL, 0);
    B.inits[0].n_float_data = 3; /* 4 elements announced */
}
static void e_external(void) {
    conv_model(NULL, 0);
    B.inits[0].has_data_location = 1;
    B.inits[0].data_location = ONNX__TENSOR_PROTO__DATA_LOCATION__EXTERNAL;
}
static void e_domain(void) {
    conv_model(NULL, 0);
    B.nodes[0].domain = "com.microsoft";
}
static void e_constant_output(void) {
    mb_init(&B, 13);
    mb_input(&B, "x", F, 4, dimg);
    mb_node(&B, "Identity", "W", "y");
    mb_init_f(&B, "W", 4, dk, k4);
    mb_output(&B, "y");
}
static void e_3d_conv(void) {
    mb_init(&B, 13);
    mb_input(&B, "x", F, 5, (int64_t[]){1, 1, 2, 2, 2});
    mb_init_f(&B, "W", 5, (int64_t[]){1, 1, 1, 1, 1}, k4);
    mb_node(&B, "Conv", "x,W", "y");
    mb_output(&B, "y");
}
static void e_argmax_last(void) {
    mb_init(&B, 13);
    mb_input(&B, "x", F, 2, (int64_t[]){1, 4});
    mb_node(&B, "ArgMax", "x", "y");
    mb_attr_i(&B, &B.nodes[0], "select_last_index", 1);
    mb_output(&B, "y");
}
static void e_dropout_training(void) {
    mb_init(&B, 13);
    mb_input(&B, "x", F, 2, (int64_t[]){1, 4});
    mb_init_f(&B, "r", 0, NULL, k4);
    B.inits[0].data_type = ONNX__TENSOR_PROTO__DATA_TYPE__FLOAT;
    mb_node(&B, "Dropout", "x,r,t", "y");
    mb_init_i(&B, "t", 0, NULL, (int64_t[]){1});
    mb_output(&B, "y");
}

TEST(importer_errors) {
    static const struct {
        build_fn build;
        int code;
        const char *why;
    } cases[] = {
        {e_unsupported_op, PARLEY_E_UNSUPPORTED,
         "node 'Erf' (Erf): operator is not supported"},
        {e_unknown_attr, PARLEY_E_UNSUPPORTED,
         "node 'Conv' (Conv): attribute 'foo' is not supported"},
        {e_group_zero, PARLEY_E_UNSUPPORTED, "group = 0 is outside"},
        {e_stride_zero, PARLEY_E_UNSUPPORTED, "strides[0] = 0 is outside"},
        {e_dynamic_weights, PARLEY_E_UNSUPPORTED, "input 1 ('r') must be a constant"},
        {e_symbolic_dim, PARLEY_E_UNSUPPORTED, "symbolic dimension 2"},
        {e_two_inputs, PARLEY_E_UNSUPPORTED, "2 inputs"},
        {e_two_outputs, PARLEY_E_UNSUPPORTED, "2 outputs"},
        {e_opset, PARLEY_E_UNSUPPORTED, "opset 18"},
        {e_order, PARLEY_E_FORMAT, "not defined before"},
        {e_twice, PARLEY_E_FORMAT, "defined twice"},
        {e_softmax_const, PARLEY_E_UNSUPPORTED, "Softmax of a constant"},
        {e_pool_pad, PARLEY_E_UNSUPPORTED, "padding must be smaller than the window"},
        {e_matmul_values, PARLEY_E_UNSUPPORTED, "exactly one operand must be a constant"},
        {e_concat_shapes, PARLEY_E_FORMAT, "do not fit together"},
        {e_int_input, PARLEY_E_UNSUPPORTED, "element type int64"},
        {e_bad_raw, PARLEY_E_FORMAT, "holds 3 values for 4 elements"},
        {e_external, PARLEY_E_UNSUPPORTED, "external file"},
        {e_domain, PARLEY_E_UNSUPPORTED, "domain 'com.microsoft'"},
        {e_constant_output, PARLEY_E_UNSUPPORTED, "is a constant"},
        {e_3d_conv, PARLEY_E_UNSUPPORTED, "3-D convolutions"},
        {e_argmax_last, PARLEY_E_UNSUPPORTED, "select_last_index"},
        {e_dropout_training, PARLEY_E_UNSUPPORTED, "training mode"},
    };
    for (size_t k = 0; k < sizeof cases / sizeof *cases; k++) {
        cases[k].build();
        fgraph *g = NULL;
        int rc = import(&g, 1);
        CHECK_MSG(rc == cases[k].code && strstr(err_msg(), cases[k].why),
                  "case %zu: %d '%s', expected '%s'", k, rc, err_msg(), cases[k].why);
        fgraph_free(g);
    }
}

TEST(importer_bad_bytes) {
    fgraph *g;
    const uint8_t junk[] = {0xff, 0xff, 0xff, 0xff, 0x0f, 0x42};
    CHECK_EQ(onnx_import(&g, junk, sizeof junk, NULL), PARLEY_E_FORMAT);
    CHECK(strstr(err_msg(), "not an ONNX model") != NULL);
    CHECK_EQ(onnx_import(&g, junk, 0, NULL), PARLEY_E_FORMAT); /* an empty file, named as such */
    CHECK_MSG(strstr(err_msg(), "the file is empty (0 bytes)") != NULL, "'%s'", err_msg());
    /* model.graph(7) > node(1) > attribute(5) > g(6) > node(1) > ... 120 deep,
     * built from the inside out with two-byte lengths. */
    const uint8_t cycle[3] = {0x0a, 0x2a, 0x32};
    uint8_t buf[1024], tmp[1024];
    size_t len = 0;
    for (int lvl = 119; lvl >= 0; lvl--) {
        size_t t = 0;
        tmp[t++] = lvl == 0 ? 0x3a : cycle[(lvl - 1) % 3];
        tmp[t++] = (uint8_t)(0x80 | (len & 0x7f));
        tmp[t++] = (uint8_t)(len >> 7);
        memcpy(tmp + t, buf, len);
        len += t;
        memcpy(buf, tmp, len);
    }
    CHECK_EQ(onnx_import(&g, buf, len, NULL), PARLEY_E_FORMAT);
    CHECK_MSG(strstr(err_msg(), "deeper") != NULL, "%s", err_msg());
    nn_tensor t;
    CHECK_EQ(onnx_tensor_parse(&t, junk, sizeof junk), PARLEY_E_FORMAT);
}

TEST(quant_errors) {
    conv_model(NULL, 0);
    qnet *net;
    CHECK_EQ(load(&net, 16, 8), PARLEY_E_ARG);
    CHECK(strstr(err_msg(), "head-room") != NULL);
    CHECK_EQ(load(&net, 65, 12), PARLEY_E_ARG);
    static const float big[4] = {1e9f, 0, 0, 0};
    mb_init(&B, 13);
    mb_input(&B, "x", F, 4, dimg);
    mb_init_f(&B, "W", 4, dk, big);
    mb_node(&B, "Conv", "x,W", "y");
    mb_output(&B, "y");
    CHECK_EQ(load(&net, 37, 12), PARLEY_E_UNSUPPORTED);
    CHECK_MSG(strstr(err_msg(), "node 'Conv': weight 0 is not finite or does not fit"), "%s",
              err_msg());
}

/* The (l, s) domain is one rule: 8 <= l <= 64 and 1 <= s <= (l - 2) / 2,
 * for the quantizer and for a public model a client receives; refusals
 * give the ranges. */
TEST(quant_domain) {
    for (unsigned l = 0; l <= 70; l++)
        for (unsigned s = 0; s <= 40; s++) {
            int ok = l >= 8 && l <= 64 && s >= 1 && 2 * s + 2 <= l;
            int rc = quant_check_ls(l, s);
            CHECK_MSG((rc == 0) == ok, "(%u, %u): %d", l, s, rc);
            if (!ok) {
                CHECK_EQ(rc, PARLEY_E_ARG);
                CHECK_MSG(strstr(err_msg(), l < 8 || l > 64 ? "outside 8..64" : "is outside 1.."),
                          "%s", err_msg());
            }
        }
    CHECK_EQ(quant_check_ls(8, 4), PARLEY_E_ARG);
    CHECK_MSG(strstr(err_msg(), "scale s = 4 (--scale) is outside 1..3, the range at l = 8"), "%s",
              err_msg());
    CHECK_EQ(quant_check_ls(37, 0), PARLEY_E_ARG);
    CHECK_MSG(strstr(err_msg(), "s = 0 keeps no fraction"), "%s", err_msg());
    conv_model(NULL, 0);
    qnet *net;
    CHECK_EQ(load(&net, 37, 0), PARLEY_E_ARG);
    CHECK(net == NULL);
    REQUIRE_OK(load(&net, 64, 31));
    qnet_free(net);
}

/* Weights that all round to 0 are refused (the layer would output its bias
 * alone), naming the node and the scale that keeps them; weights that lose
 * much to rounding get a note. */
TEST(quant_weights_vanish) {
    static const float tiny[4] = {0.01f, -0.005f, 0.0078125f, 0};
    hand_conv(tiny, 0);
    qnet *net;
    CHECK_EQ(load(&net, 16, 4), PARLEY_E_UNSUPPORTED);
    CHECK_MSG(strstr(err_msg(), "node 'Conv': every weight rounds to 0 at scale s = 4") &&
                  strstr(err_msg(), "it needs s >= 6"),
              "%s", err_msg());
    REQUIRE_OK(load(&net, 16, 6)); /* 0.01 * 64 = 0.64 rounds to 1 */
    CHECK_EQ(net->layers[0].w[0], 1);
    qnet_free(net);
    static const float zero[4] = {0, 0, 0, 0};
    hand_conv(zero, 0); /* all zero in the model itself: nothing lost, accepted */
    REQUIRE_OK(load(&net, 16, 4));
    qnet_free(net);
    /* Notes: 0.3 -0.6 0.9 0.05 at s = 2 lose about 13%; at s = 12 nothing. */
    fgraph *g;
    hand_conv(wv, 0);
    REQUIRE_OK(import(&g, 1));
    REQUIRE_OK(quant_precision_notes(g, 12));
    CHECK(g->notes == NULL);
    REQUIRE_OK(quant_precision_notes(g, 2));
    CHECK_MSG(g->notes && strstr(g->notes, "node 'Conv': its weights lose") &&
                  strstr(g->notes, "at scale s = 2; a larger --scale"),
              "%s", g->notes ? g->notes : "(none)");
    fgraph_free(g);
}

TEST(encode_input_errors) {
    conv_model(NULL, 0);
    qnet *net;
    REQUIRE_OK(load(&net, 16, 4));
    uint64_t x[16];
    float v[16] = {0};
    nn_tensor t = {.shape = {4, {1, 1, 4, 4}}, .n = 16, .data = v};
    REQUIRE_OK(qnet_encode_input(net, x, &t));
    v[3] = NAN;
    CHECK_EQ(qnet_encode_input(net, x, &t), PARLEY_E_ARG);
    CHECK(strstr(err_msg(), "element 3") != NULL);
    v[3] = 2048; /* 2048 * 16 = 2^15: just outside 16 signed bits */
    CHECK_EQ(qnet_encode_input(net, x, &t), PARLEY_E_ARG);
    v[3] = -2048; /* -2^15 fits */
    REQUIRE_OK(qnet_encode_input(net, x, &t));
    CHECK_EQ(x[3], 0x8000);
    v[3] = 0.03125f; /* 0.5 at scale 4: rounds away from zero */
    REQUIRE_OK(qnet_encode_input(net, x, &t));
    CHECK_EQ(x[3], 1);
    v[3] = -0.03125f;
    REQUIRE_OK(qnet_encode_input(net, x, &t));
    CHECK_EQ(x[3], 0xffff);
    t.shape.d[3] = 2;
    t.n = 8;
    CHECK_EQ(qnet_encode_input(net, x, &t), PARLEY_E_ARG);
    CHECK(strstr(err_msg(), "[1,1,4,2] does not match the model's input [1,1,4,4]") != NULL);
    qnet_free(net);
}

/* ---- the public model ---------------------------------------------------- */

static qnet *cnn(void) {
    qnet *net;
    if (nn_model_load(&net, NULL, DATA "cnn.onnx", 37, 12, 2) < 0) return NULL;
    return net;
}

TEST(public_roundtrip) {
    qnet *net = cnn();
    REQUIRE(net);
    uint8_t *a, *b;
    size_t alen, blen;
    REQUIRE_OK(qnet_public_encode(net, &a, &alen));
    qnet *pub;
    REQUIRE_OK(qnet_public_decode(&pub, a, alen));
    CHECK(!pub->has_weights);
    CHECK_EQ(pub->nlayers, net->nlayers);
    for (unsigned i = 0; i < pub->nlayers; i++) {
        CHECK(pub->layers[i].w == NULL && pub->layers[i].b == NULL);
        CHECK_EQ(pub->layers[i].op, net->layers[i].op);
        CHECK(memcmp(&pub->layers[i].p, &net->layers[i].p, sizeof net->layers[i].p) == 0);
        size_t pw, pb, nw, nb;
        qlayer_private(pub, &pub->layers[i], &pw, &pb);
        qlayer_private(net, &net->layers[i], &nw, &nb);
        CHECK_EQ(pw, nw);
        CHECK_EQ(pb, nb);
    }
    for (unsigned i = 0; i < pub->ntensors; i++) {
        CHECK(nn_shape_eq(&pub->t[i].shape, &net->t[i].shape));
        CHECK_EQ(pub->t[i].last_use, net->t[i].last_use);
    }
    REQUIRE_OK(qnet_public_encode(pub, &b, &blen));
    CHECK(alen == blen && memcmp(a, b, alen) == 0);
    /* No weight value reaches the encoding: zero them and encode again. */
    for (unsigned i = 0; i < net->nlayers; i++) {
        qlayer *L = &net->layers[i];
        size_t nw, nb;
        qlayer_private(net, L, &nw, &nb);
        if (L->w) memset(L->w, 0, nw * 8);
        if (L->b) memset(L->b, 0, nb * 8);
    }
    mem_free(b);
    REQUIRE_OK(qnet_public_encode(net, &b, &blen));
    CHECK(alen == blen && memcmp(a, b, alen) == 0);
    /* The reference refuses a model without weights. */
    uint64_t *y, x[1] = {0};
    CHECK_EQ(ref_run(pub, &y, NULL, x), PARLEY_E_ARG);
    mem_free(a);
    mem_free(b);
    qnet_free(pub);
    qnet_free(net);
}

/* A batch norm folded forward (bnrelu.onnx): the BN_RELU layer's public
 * parameters round-trip, its private signs and addends never reach the
 * encoding (other signs, the same bytes: the fold is structural), and a
 * peer's shape that does not match the input is refused naming it. */
TEST(public_bn_relu) {
    qnet *net;
    REQUIRE_OK(nn_model_load(&net, NULL, DATA "bnrelu.onnx", 37, 12, 1));
    qlayer *BN = NULL;
    for (unsigned i = 0; i < net->nlayers; i++)
        if (net->layers[i].op == QOP_BN_RELU) BN = &net->layers[i];
    REQUIRE(BN);
    CHECK_EQ(BN->p.lin.scale.C, 9);
    CHECK_EQ(BN->p.lin.scale.S, 63);
    unsigned neg = 0;
    for (unsigned c = 0; c < 9; c++) neg += (unsigned)BN->w[c];
    CHECK_EQ(neg, 3); /* the factors -0.8, -1.5 and -0.3 */
    uint8_t *a, *b;
    size_t alen, blen;
    REQUIRE_OK(qnet_public_encode(net, &a, &alen));
    for (unsigned c = 0; c < 9; c++) BN->w[c] ^= 1, BN->b[c] = c;
    REQUIRE_OK(qnet_public_encode(net, &b, &blen));
    CHECK(alen == blen && memcmp(a, b, alen) == 0);
    mem_free(b);
    qnet *pub;
    REQUIRE_OK(qnet_public_decode(&pub, a, alen));
    unsigned bi = (unsigned)(BN - net->layers);
    CHECK_EQ(pub->layers[bi].op, QOP_BN_RELU);
    CHECK(memcmp(&pub->layers[bi].p, &BN->p, sizeof BN->p) == 0);
    size_t nw, nb;
    qlayer_private(pub, &pub->layers[bi], &nw, &nb);
    CHECK(nw == 9 && nb == 9);
    for (int k = 0; k < 3; k++) {
        lin_scale keep = pub->layers[bi].p.lin.scale;
        if (k == 0) pub->layers[bi].p.lin.scale.C = 8;
        if (k == 1) pub->layers[bi].p.lin.scale.S = 64;
        if (k == 2) pub->layers[bi].p.lin.scale.wbits = 0;
        CHECK_EQ(qnet_check(pub), PARLEY_E_FORMAT);
        CHECK_MSG(strstr(err_msg(), "layer") != NULL, "case %d: %s", k, err_msg());
        pub->layers[bi].p.lin.scale = keep;
    }
    REQUIRE_OK(qnet_check(pub));
    mem_free(a);
    qnet_free(pub);
    qnet_free(net);
}

/* The products and the smooth functions in the public model: a round trip
 * re-encodes to the same bytes, and parameters a peer could send that do
 * not fit their kind are refused naming the layer (a product whose shift
 * is not its operands' scale, a HardSwish whose clip does not start at 0,
 * a Sigmoid or Tanh at a scale its table cannot take). */
TEST(public_products_checked) {
    static const char *const models[] = {DATA "act2.onnx", DATA "sig.onnx", DATA "mlp_tanh.onnx",
                                         DATA "exp.onnx", DATA "softmax.onnx"};
    unsigned seen[QOP_END_] = {0};
    for (int k = 0; k < 5; k++) {
        qnet *net, *pub;
        REQUIRE_OK(nn_model_load(&net, NULL, models[k], 37, 12, k == 2 ? 3 : 2));
        uint8_t *a, *b;
        size_t alen, blen;
        REQUIRE_OK(qnet_public_encode(net, &a, &alen));
        REQUIRE_OK(qnet_public_decode(&pub, a, alen));
        REQUIRE_OK(qnet_public_encode(pub, &b, &blen));
        CHECK(alen == blen && memcmp(a, b, alen) == 0);
        mem_free(a);
        mem_free(b);
        for (unsigned i = 0; i < pub->nlayers; i++) {
            qlayer *L = &pub->layers[i];
            qparams keep = L->p;
            const char *why = NULL;
            if (L->op == QOP_MUL) {
                L->p.shift = 11;
                why = "the shift is not the operands' scale";
            } else if (L->op == QOP_HARD_SWISH) {
                nl_act_set(L->p.act.lo, 1);
                why = "from 0 to a positive bound";
            } else if (L->op == QOP_SIGMOID || L->op == QOP_TANH || L->op == QOP_EXP) {
                L->p.shift = 11;
                why = "the scale is not the input's";
            } else if (L->op == QOP_SOFTMAX) {
                L->p.softmax.shift = 11;
                why = "the scale is not the input's";
            }
            if (!why) continue;
            seen[L->op]++;
            CHECK_EQ(qnet_check(pub), PARLEY_E_FORMAT);
            CHECK_MSG(strstr(err_msg(), why) && strstr(err_msg(), L->name), "%s", err_msg());
            L->p = keep;
            REQUIRE_OK(qnet_check(pub));
        }
        qnet_free(pub);
        qnet_free(net);
    }
    CHECK(seen[QOP_MUL] && seen[QOP_HARD_SWISH] && seen[QOP_SIGMOID] && seen[QOP_TANH] &&
          seen[QOP_EXP] && seen[QOP_SOFTMAX]);
    /* A Sigmoid's table needs l >= s + 5: at (8, 3), a Tanh's s >= 3. */
    CHECK_EQ(nl_sigmoid_check(8, 3), 0);
    CHECK_EQ(nl_sigmoid_check(8, 4), PARLEY_E_ARG);
    CHECK_EQ(nl_tanh_check(16, 2), PARLEY_E_ARG);
}

static void put32(uint8_t *p, uint32_t v) {
    p[0] = (uint8_t)v, p[1] = (uint8_t)(v >> 8), p[2] = (uint8_t)(v >> 16),
    p[3] = (uint8_t)(v >> 24);
}

TEST(public_bad_input) {
    qnet *net = cnn();
    REQUIRE(net);
    uint8_t *a;
    size_t alen;
    REQUIRE_OK(qnet_public_encode(net, &a, &alen));
    qnet_free(net);
    qnet *q;
    /* Every truncation fails. */
    for (size_t cut = 0; cut < alen; cut++)
        CHECK_EQ(qnet_public_decode(&q, a, cut), PARLEY_E_FORMAT);
    /* Every single-byte change either fails or gives a net that passes the
     * checks and re-encodes to the changed bytes. */
    uint8_t *b = malloc(alen);
    unsigned accepted = 0;
    for (size_t i = 0; i < alen; i++)
        for (int bit = 0; bit < 8; bit += 3) {
            memcpy(b, a, alen);
            b[i] ^= (uint8_t)(1 << bit);
            int rc = qnet_public_decode(&q, b, alen);
            CHECK_MSG(rc == 0 || rc == PARLEY_E_FORMAT, "byte %zu: %d", i, rc);
            if (rc == 0) {
                uint8_t *c;
                size_t clen;
                REQUIRE_OK(qnet_public_encode(q, &c, &clen));
                CHECK(clen == alen && memcmp(c, b, alen) == 0);
                mem_free(c);
                qnet_free(q);
                accepted++;
            }
        }
    printf("  %u of %zu one-bit changes decode to another valid net\n", accepted, 3 * alen);
    /* Crafted headers: counts, indices. */
    static const struct {
        size_t off;
        uint32_t v;
        const char *why;
    } cases[] = {
        {9, 0xffffffffu, "tensor count"}, {9, 0, "tensor count"},
        {13, 0xffffffffu, "layer count"}, {17, 1u << 30, "out of range"},
        {21, 1u << 30, "out of range"},
    };
    for (size_t k = 0; k < sizeof cases / sizeof *cases; k++) {
        memcpy(b, a, alen);
        put32(b + cases[k].off, cases[k].v);
        CHECK_EQ(qnet_public_decode(&q, b, alen), PARLEY_E_FORMAT);
        CHECK_MSG(strstr(err_msg(), cases[k].why) != NULL, "case %zu: %s", k, err_msg());
    }
    memcpy(b, a, alen);
    b[0] = 'X';
    CHECK_EQ(qnet_public_decode(&q, b, alen), PARLEY_E_FORMAT);
    b[0] = 'P';
    b[4] = 3;
    CHECK_EQ(qnet_public_decode(&q, b, alen), PARLEY_E_FORMAT);
    CHECK(strstr(err_msg(), "version 3") != NULL);
    b[4] = 2;
    b[8] = 0x80; /* the flags byte: only bit 0 is defined */
    CHECK_EQ(qnet_public_decode(&q, b, alen), PARLEY_E_FORMAT);
    CHECK_MSG(strstr(err_msg(), "unknown flags 0x80") != NULL, "%s", err_msg());
    uint8_t *longer = malloc(alen + 1);
    memcpy(longer, a, alen);
    longer[alen] = 0;
    CHECK_EQ(qnet_public_decode(&q, longer, alen + 1), PARLEY_E_FORMAT);
    CHECK(strstr(err_msg(), "trailing") != NULL);
    free(longer);
    free(b);
    mem_free(a);
}

/* The checks the decoder relies on, on a net built by hand. */
TEST(qnet_check_rejects) {
    conv_model(NULL, 0);
    qnet *net;
    REQUIRE_OK(load(&net, 16, 4));
    REQUIRE(net->nlayers == 2);
    net->has_weights = 0;
    const char *why[] = {"output size", "shift", "reads a tensor", "scale s", "weight width"};
    for (int k = 0; k < 5; k++) {
        qnet_free(net);
        conv_model(NULL, 0);
        REQUIRE_OK(load(&net, 16, 4));
        switch (k) {
        case 0:
            net->layers[0].p.lin.conv.OW++;
            break;
        case 1:
            net->layers[1].p.shift = 5;
            break;
        case 2:
            net->layers[0].in[0] = net->layers[1].out;
            break;
        case 3:
            net->t[net->input].scale = 3;
            break;
        case 4:
            net->layers[0].p.lin.conv.wbits = 17;
            break;
        }
        CHECK_EQ(qnet_check(net), PARLEY_E_FORMAT);
        CHECK_MSG(strstr(err_msg(), why[k]) != NULL, "case %d: %s", k, err_msg());
    }
    qnet_free(net);
    /* Weights wider than their declared wbits. */
    conv_model(NULL, 0);
    REQUIRE_OK(load(&net, 16, 4));
    net->layers[0].w[0] = 0x7fff;
    CHECK_EQ(qnet_check(net), PARLEY_E_FORMAT);
    CHECK(strstr(err_msg(), "wider") != NULL);
    qnet_free(net);
}

/* ---- opsets 7 to 17 ------------------------------------------------------ */

/* One network in the form each opset writes it: Pad's pads an attribute
 * before 11 and an input after; Dropout's ratio an attribute before 12 and
 * an input after; Squeeze/Unsqueeze axes attributes before 13 and inputs
 * after; BatchNormalization with `spatial` at 7; MaxPool's ceil_mode and
 * dilations from 10. Every form must import to the same layers and give the
 * same ring output, and that output must be the float network's within the
 * fixed-point error. x [1,2,5,5] -> Pad 1 -> Conv 3x3 (3 out, bias) -> BN ->
 * Relu -> MaxPool 2x2 s2 -> Dropout -> Flatten -> Unsqueeze 1 -> Squeeze 1
 * -> Gemm (transB, 4 out). */
static float ov_x[50], ov_w[54], ov_b[3], ov_g[3], ov_be[3], ov_mu[3], ov_var[3], ov_fw[48],
    ov_fb[4];
static const float ov_ratio[1] = {0.5f};

static void opset_model(int64_t v) {
    static const int64_t dx[] = {1, 2, 5, 5}, dw[] = {3, 2, 3, 3}, d3[] = {3}, dfw[] = {4, 12},
                         d4[] = {4}, d8[] = {8}, k2[] = {2, 2};
    static const int64_t pads[8] = {0, 0, 1, 1, 0, 0, 1, 1}, one[1] = {1};
    mb_init(&B, v);
    mb_input(&B, "x", F, 4, dx);
    mb_init_f(&B, "W", 4, dw, ov_w);
    mb_init_f(&B, "Bc", 1, d3, ov_b);
    mb_init_f(&B, "g", 1, d3, ov_g);
    mb_init_f(&B, "be", 1, d3, ov_be);
    mb_init_f(&B, "mu", 1, d3, ov_mu);
    mb_init_f(&B, "var", 1, d3, ov_var);
    mb_init_f(&B, "FW", 2, dfw, ov_fw);
    mb_init_f(&B, "FB", 1, d4, ov_fb);
    Onnx__NodeProto *n;
    if (v < 11) {
        n = mb_node(&B, "Pad", "x", "p");
        mb_attr_ints(&B, n, "pads", 8, pads);
        mb_attr_s(&B, n, "mode", "constant");
        mb_attr_f(&B, n, "value", 0);
    } else {
        mb_init_i(&B, "pads", 1, d8, pads);
        mb_node(&B, "Pad", "x,pads", "p");
    }
    mb_node(&B, "Conv", "p,W,Bc", "c");
    n = mb_node(&B, "BatchNormalization", "c,g,be,mu,var", "bn");
    mb_attr_f(&B, n, "epsilon", 1e-5f);
    if (v < 9) mb_attr_i(&B, n, "spatial", 1);
    mb_node(&B, "Relu", "bn", "r");
    n = mb_node(&B, "MaxPool", "r", "mp");
    mb_attr_ints(&B, n, "kernel_shape", 2, k2);
    mb_attr_ints(&B, n, "strides", 2, k2);
    if (v >= 10) {
        mb_attr_i(&B, n, "ceil_mode", 0);
        mb_attr_ints(&B, n, "dilations", 2, (int64_t[]){1, 1});
    }
    if (v < 12) {
        n = mb_node(&B, "Dropout", "mp", "d");
        mb_attr_f(&B, n, "ratio", 0.5f);
    } else {
        mb_init_f(&B, "ratio", 0, NULL, ov_ratio);
        mb_node(&B, "Dropout", "mp,ratio", "d");
    }
    mb_node(&B, "Flatten", "d", "f");
    if (v < 13) {
        mb_attr_ints(&B, mb_node(&B, "Unsqueeze", "f", "u"), "axes", 1, one);
        mb_attr_ints(&B, mb_node(&B, "Squeeze", "u", "s"), "axes", 1, one);
    } else {
        mb_init_i(&B, "axes", 1, d1, one);
        mb_node(&B, "Unsqueeze", "f,axes", "u");
        mb_node(&B, "Squeeze", "u,axes", "s");
    }
    n = mb_node(&B, "Gemm", "s,FW,FB", "y");
    mb_attr_i(&B, n, "transB", 1);
    mb_output(&B, "y");
}

/* The float network, in double. */
static void opset_float(double y[4]) {
    double c[3][5][5], m[12];
    for (int o = 0; o < 3; o++) {
        double k = ov_g[o] / sqrt((double)ov_var[o] + 1e-5);
        for (int i = 0; i < 5; i++)
            for (int j = 0; j < 5; j++) {
                double a = ov_b[o];
                for (int ch = 0; ch < 2; ch++)
                    for (int u = 0; u < 3; u++)
                        for (int w = 0; w < 3; w++) {
                            int yy = i + u - 1, xx = j + w - 1;
                            if (yy >= 0 && yy < 5 && xx >= 0 && xx < 5)
                                a += (double)ov_w[((o * 2 + ch) * 3 + u) * 3 + w] *
                                     ov_x[(ch * 5 + yy) * 5 + xx];
                        }
                a = (a - ov_mu[o]) * k + ov_be[o];
                c[o][i][j] = a > 0 ? a : 0;
            }
        for (int i = 0; i < 2; i++)
            for (int j = 0; j < 2; j++)
                m[(o * 2 + i) * 2 + j] =
                    fmax(fmax(c[o][2 * i][2 * j], c[o][2 * i][2 * j + 1]),
                         fmax(c[o][2 * i + 1][2 * j], c[o][2 * i + 1][2 * j + 1]));
    }
    for (int o = 0; o < 4; o++) {
        y[o] = ov_fb[o];
        for (int k = 0; k < 12; k++)
            y[o] += (double)ov_fw[o * 12 + k] * m[k];
    }
}

TEST(opsets_7_to_17_agree) {
    uint64_t st = 0x5eed0f5e7;
#define OV_FILL(a, lo, hi)                                                                         \
    for (size_t i = 0; i < sizeof a / sizeof *a; i++)                                              \
        a[i] = (float)((lo) +                                                                      \
                       ((hi) - (lo)) *                                                             \
                           (double)((st = st * 6364136223846793005ULL + 1442695040888963407ULL) >> \
                                    11) /                                                          \
                           9007199254740992.0);
    OV_FILL(ov_x, -2, 2);
    OV_FILL(ov_w, -0.5, 0.5);
    OV_FILL(ov_b, -0.2, 0.2);
    OV_FILL(ov_g, 0.5, 1.5);
    OV_FILL(ov_be, -0.3, 0.3);
    OV_FILL(ov_mu, -0.2, 0.2);
    OV_FILL(ov_var, 0.5, 2);
    OV_FILL(ov_fw, -0.5, 0.5);
    OV_FILL(ov_fb, -0.1, 0.1);
#undef OV_FILL
    double want[4];
    opset_float(want);
    const unsigned l = 37, s = 12;
    static const int64_t versions[] = {7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17};
    uint64_t first[4] = {0};
    unsigned first_layers = 0;
    for (size_t k = 0; k < sizeof versions / sizeof *versions; k++) {
        opset_model(versions[k]);
        qnet *net;
        int rc = load(&net, l, s);
        CHECK_MSG(rc == 0, "opset %lld: %s", (long long)versions[k], err_msg());
        if (rc < 0) continue;
        uint64_t y[4];
        REQUIRE_OK(run(net, y, ov_x));
        if (k == 0) {
            memcpy(first, y, sizeof y);
            first_layers = net->nlayers;
        }
        CHECK_MSG(net->nlayers == first_layers && memcmp(y, first, sizeof y) == 0,
                  "opset %lld differs from opset 7", (long long)versions[k]);
        for (int o = 0; o < 4; o++) {
            double got = ldexp((double)bits_signed(y[o], l), -(int)net->t[net->output].scale);
            CHECK_MSG(fabs(got - want[o]) < 0.01, "opset %lld, output %d: %f, float %f",
                      (long long)versions[k], o, got, want[o]);
        }
        qnet_free(net);
    }
    /* The new forms are refused at the old opsets and the other way round. */
    opset_model(13);
    B.opset.version = 10; /* Pad with a pads input, read as Pad-2 */
    fgraph *g = NULL;
    CHECK_EQ(import(&g, 1), PARLEY_E_FORMAT);
    CHECK_MSG(strstr(err_msg(), "pads") != NULL, "%s", err_msg());
    fgraph_free(g);
}

/* ---- every unsupported node at once; data movement and sums (ops-move) -- */

/* A model with several unsupported nodes: one load lists them all,
 * grouped by operator and reason with the node names, an unknown operator
 * behind another one included, and counts the supported nodes it could not
 * check. */
TEST(importer_lists_every_unsupported_node) {
    mb_init(&B, 13);
    mb_input(&B, "x", F, 4, d1122);
    mb_init_i(&B, "pads", 1, (int64_t[]){8}, (int64_t[]){0, 0, 1, 1, 0, 0, 1, 1});
    mb_node(&B, "Round", "x", "a")->name = "r1";
    mb_node(&B, "Relu", "a", "b"); /* behind r1: not checked */
    mb_node(&B, "Round", "x", "c")->name = "r2";
    Onnx__NodeProto *p = mb_node(&B, "Pad", "x,pads", "d"); /* a form parley does not take */
    mb_attr_s(&B, p, "mode", "reflect");
    mb_node(&B, "Hardmax", "b", "e")->name = "h"; /* unknown, behind r1 */
    mb_node(&B, "Add", "c,e", "y");               /* behind both: not checked */
    mb_output(&B, "y");
    fgraph *g = NULL;
    CHECK_EQ(import(&g, 1), PARLEY_E_UNSUPPORTED);
    const char *e = err_msg();
    CHECK_MSG(strstr(e, "4 nodes of the model are not supported") &&
                  strstr(e, "Round x 2 ('r1', 'r2'): operator is not supported") &&
                  strstr(e, "Pad x 1 ('Pad'): mode 'reflect' is not supported") &&
                  strstr(e, "Hardmax x 1 ('h'): operator is not supported") &&
                  strstr(e, "(2 supported nodes reading their results were not checked)"),
              "%s", e);
    fgraph_free(g);
    /* One unsupported node: its own message, as before. */
    mb_init(&B, 13);
    mb_input(&B, "x", F, 4, d1122);
    mb_node(&B, "Round", "x", "a");
    mb_node(&B, "Relu", "a", "y");
    mb_output(&B, "y");
    CHECK_EQ(import(&g, 1), PARLEY_E_UNSUPPORTED);
    CHECK_MSG(strstr(err_msg(), "node 'Round' (Round): operator is not supported (the nodes") ==
                  err_msg(),
              "%s", err_msg());
    /* A malformed model is still refused at once, as malformed. */
    mb_init(&B, 13);
    mb_input(&B, "x", F, 4, d1122);
    mb_node(&B, "Round", "x", "a");
    mb_node(&B, "Relu", "q", "y");
    mb_output(&B, "y");
    CHECK_EQ(import(&g, 1), PARLEY_E_FORMAT);
    CHECK_MSG(strstr(err_msg(), "not defined before"), "%s", err_msg());
}

/* Load B at (16, 4), run x, compare the real outputs with want[n]; also
 * the public model round trip (what a client receives) of the net. */
static void run_expect(const float *x, const float *want, size_t n, const char *what) {
    qnet *net;
    int rc = load(&net, 16, 4);
    CHECK_MSG(rc == 0, "%s: %s", what, err_msg());
    if (rc < 0) return;
    CHECK_MSG(net->t[net->output].size == n, "%s: %zu outputs", what, net->t[net->output].size);
    uint64_t y[64];
    REQUIRE(n <= 64);
    CHECK_MSG(run_checked(net, y, x) == 0, "%s: %s", what, err_msg());
    unsigned sc = net->t[net->output].scale;
    for (size_t i = 0; i < n && i < net->t[net->output].size; i++)
        CHECK_MSG(ldexp((double)bits_signed(y[i], 16), -(int)sc) == want[i],
                  "%s: output %zu is %g, expected %g", what, i,
                  ldexp((double)bits_signed(y[i], 16), -(int)sc), (double)want[i]);
    uint8_t *buf;
    size_t len;
    qnet *pub = NULL;
    REQUIRE_OK(qnet_public_encode(net, &buf, &len));
    CHECK_MSG(qnet_public_decode(&pub, buf, len) == 0, "%s: %s", what, err_msg());
    mem_free(buf);
    qnet_free(pub);
    qnet_free(net);
}

/* Split (sizes 1, 3 on the channels), Slice with a step, Resize nearest
 * by 2 (scales, PyTorch's attributes), ReduceSum and ReduceMean over the
 * spatial axes, keepdims 0 and 1, by hand (docs/MODELS.md): each value
 * moves unchanged; a mean is the floor of sum / count at the input's
 * scale. */
TEST(ref_data_movement_hand) {
    static const float x4[16] = {1, 2, 3, 4, 0.5f, -1, 2, 1.5f, -2, -2, 0.25f, 0, 8, 1, 1, 1};
    /* x: 1 x 4 x 2 x 2; Split [1, 3] -> a (channel 0), b (channels 1..3);
     * y = ReduceSum(b, axes 2, 3, keepdims 0) + the Split's first part
     * through ReduceMean as a column: concat on axis 1. */
    mb_init(&B, 13);
    mb_input(&B, "x", F, 4, (int64_t[]){1, 4, 2, 2});
    mb_init_i(&B, "sp", 1, (int64_t[]){2}, (int64_t[]){1, 3});
    mb_init_i(&B, "ax", 1, (int64_t[]){2}, (int64_t[]){2, 3});
    Onnx__NodeProto *n = mb_node(&B, "Split", "x,sp", "a,b");
    mb_attr_i(&B, n, "axis", 1);
    n = mb_node(&B, "ReduceSum", "b,ax", "s");
    mb_attr_i(&B, n, "keepdims", 0);
    n = mb_node(&B, "ReduceMean", "a", "m");
    mb_attr_ints(&B, n, "axes", 2, (int64_t[]){-1, -2});
    mb_attr_i(&B, n, "keepdims", 0);
    n = mb_node(&B, "Concat", "m,s", "y");
    mb_attr_i(&B, n, "axis", 1);
    mb_output(&B, "y");
    run_expect(x4, (const float[]){2.5f, 3, -3.75f, 11}, 4, "split/reduce");

    /* A mean that is not exact: floor((1 + 2 + 3 + 4 + 0.0625 * 3) * 16 / 4) / 16. */
    static const float xm[4] = {1, 2, 3, 4.1875f};
    mb_init(&B, 13);
    mb_input(&B, "x", F, 4, d1122);
    mb_node(&B, "ReduceMean", "x", "y"); /* all axes is refused; give them */
    mb_attr_ints(&B, &B.nodes[0], "axes", 2, (int64_t[]){2, 3});
    mb_output(&B, "y");
    run_expect(xm, (const float[]){2.5f}, 1, "mean floor"); /* (16+32+48+67)/4 = 40.75 -> 40 */

    /* Slice rows 1.. and columns 0, 2 of a 1 x 1 x 2 x 3 input, then Resize
     * nearest x 2 (opset 13: roi empty, scales 1, 1, 2, 2). */
    static const float xs[6] = {1, 2, 3, 4, 5, 6};
    mb_init(&B, 13);
    mb_input(&B, "x", F, 4, (int64_t[]){1, 1, 2, 3});
    mb_init_i(&B, "st", 1, (int64_t[]){2}, (int64_t[]){1, 0});
    mb_init_i(&B, "en", 1, (int64_t[]){2}, (int64_t[]){2, 3});
    mb_init_i(&B, "ax", 1, (int64_t[]){2}, (int64_t[]){2, 3});
    mb_init_i(&B, "sp", 1, (int64_t[]){2}, (int64_t[]){1, 2});
    mb_init_f(&B, "sc", 1, (int64_t[]){4}, (const float[]){1, 1, 2, 2});
    mb_node(&B, "Slice", "x,st,en,ax,sp", "s");
    n = mb_node(&B, "Resize", "s,,sc", "y");
    mb_attr_s(&B, n, "mode", "nearest");
    mb_attr_s(&B, n, "coordinate_transformation_mode", "asymmetric");
    mb_attr_s(&B, n, "nearest_mode", "floor");
    mb_output(&B, "y");
    run_expect(xs, (const float[]){4, 4, 6, 6, 4, 4, 6, 6}, 8, "slice/resize");

    /* ConvTranspose, stride 2, no padding: y[2i + a][2j + b] = x[i][j] w[a][b]
     * (+ 0.5, the bias). */
    static const float xc[4] = {1, -2, 0.5f, 3}, wc[4] = {0.25f, -0.5f, 1, 2};
    mb_init(&B, 13);
    mb_input(&B, "x", F, 4, d1122);
    mb_init_f(&B, "W", 4, (int64_t[]){1, 1, 2, 2}, wc);
    mb_init_f(&B, "b", 1, d1, (const float[]){0.5f});
    n = mb_node(&B, "ConvTranspose", "x,W,b", "y");
    mb_attr_ints(&B, n, "strides", 2, (int64_t[]){2, 2});
    mb_output(&B, "y");
    float want[16];
    for (int i = 0; i < 2; i++)
        for (int j = 0; j < 2; j++)
            for (int a = 0; a < 2; a++)
                for (int b = 0; b < 2; b++)
                    want[(2 * i + a) * 4 + 2 * j + b] = xc[i * 2 + j] * wc[a * 2 + b] + 0.5f;
    run_expect(xc, want, 16, "convtranspose");
}

/* What parley does not take of these operators is refused naming it. */
TEST(data_movement_refusals) {
    static const struct {
        const char *op, *attr, *val, *why;
    } cases[] = {
        {"Resize", "mode", "cubic", "mode 'cubic' is not supported (only nearest and linear)"},
        {"Resize", "coordinate_transformation_mode", "tf_crop_and_resize", "is not supported"},
        {"ReduceMean", "axes", NULL, "over the spatial axes"},
        {"Slice", NULL, NULL, "a negative step on a computed tensor"},
        {"ConvTranspose", "auto_pad", "SAME_ALL", "auto_pad 'SAME_ALL' is not supported"},
    };
    /* The builder keeps pointers to these until it packs the model. */
    static const int64_t one[] = {1}, d4[] = {4}, dw[] = {1, 1, 2, 2};
    static const int64_t st[] = {-1}, en[] = {-3}, ax[] = {3}, sp[] = {-1};
    static const float sc[4] = {1, 1, 2, 2};
    for (size_t k = 0; k < sizeof cases / sizeof *cases; k++) {
        mb_init(&B, 13);
        mb_input(&B, "x", F, 4, d1122);
        Onnx__NodeProto *n;
        if (!strcmp(cases[k].op, "Resize")) {
            mb_init_f(&B, "sc", 1, d4, sc);
            n = mb_node(&B, "Resize", "x,,sc", "y");
            mb_attr_s(&B, n, cases[k].attr, cases[k].val);
        } else if (!strcmp(cases[k].op, "ReduceMean")) {
            n = mb_node(&B, "ReduceMean", "x", "y");
            mb_attr_ints(&B, n, "axes", 1, (int64_t[]){1});
        } else if (!strcmp(cases[k].op, "Slice")) {
            mb_init_i(&B, "st", 1, one, st);
            mb_init_i(&B, "en", 1, one, en);
            mb_init_i(&B, "ax", 1, one, ax);
            mb_init_i(&B, "sp", 1, one, sp);
            n = mb_node(&B, "Slice", "x,st,en,ax,sp", "y");
        } else {
            mb_init_f(&B, "W", 4, dw, wv);
            n = mb_node(&B, "ConvTranspose", "x,W", "y");
            mb_attr_s(&B, n, cases[k].attr, cases[k].val);
        }
        mb_output(&B, "y");
        fgraph *g = NULL;
        int rc = import(&g, 1);
        CHECK_MSG(rc == PARLEY_E_UNSUPPORTED && strstr(err_msg(), cases[k].why),
                  "case %zu: %d '%s', expected '%s'", k, rc, err_msg(), cases[k].why);
        fgraph_free(g);
    }
}

/* ---- bilinear Resize, Gather, Tile, Expand, MatMul (ops-move3) ----------- */

/* A Resize mode linear of x (1 x 1 x h x w) with coordinate mode ct, by
 * scales sc (4 values) or to sizes sz (4 values, when sc is NULL). */
static void resize_model(unsigned h, unsigned w, const char *ct, const float *sc,
                         const int64_t *sz) {
    mb_init(&B, 13);
    mb_input(&B, "x", F, 4, (int64_t[]){1, 1, h, w});
    Onnx__NodeProto *n;
    if (sc) {
        mb_init_f(&B, "sc", 1, (int64_t[]){4}, sc);
        n = mb_node(&B, "Resize", "x,,sc", "y");
    } else {
        mb_init_i(&B, "sz", 1, (int64_t[]){4}, sz);
        n = mb_node(&B, "Resize", "x,,,sz", "y");
    }
    mb_attr_s(&B, n, "mode", "linear");
    mb_attr_s(&B, n, "coordinate_transformation_mode", ct);
    mb_output(&B, "y");
}

/* Bilinear Resize by hand at (16, 4): coefficients on a grid of 1/16 give
 * the exact interpolation (ONNX's own upsample_scales_linear case, the
 * asymmetric, align_corners and non-whole forms); coefficients that are not
 * (thirds) are rounded at s, then one floor: 16/3 at s = 4 is 5/16, so
 * (0, 16) at 1/3 gives floor(5 * 256 / 16) / 16 = 5, at 2/3 11. */
TEST(resize_linear_hand) {
    static const float x4[4] = {1, 2, 3, 4}, x3[3] = {1, 2, 4}, x2[2] = {0, 4}, xt[2] = {0, 16};
    static const float s22[4] = {1, 1, 2, 2}, s12[4] = {1, 1, 1, 2}, s115[4] = {1, 1, 1, 1.5f},
                       s13[4] = {1, 1, 1, 3};
    resize_model(2, 2, "half_pixel", s22, NULL);
    run_expect(x4,
               (const float[]){1, 1.25f, 1.75f, 2, 1.5f, 1.75f, 2.25f, 2.5f, 2.5f, 2.75f, 3.25f,
                               3.5f, 3, 3.25f, 3.75f, 4},
               16, "half_pixel x2");
    resize_model(1, 3, "asymmetric", s12, NULL);
    run_expect(x3, (const float[]){1, 1.5f, 2, 3, 4, 4}, 6, "asymmetric x2");
    resize_model(1, 3, "align_corners", NULL, (const int64_t[]){1, 1, 1, 5});
    run_expect(x3, (const float[]){1, 1.5f, 2, 3, 4}, 5, "align_corners sizes");
    resize_model(1, 2, "pytorch_half_pixel", s115, NULL); /* 2 -> 3: -1/6, 1/2, 7/6 */
    run_expect(x2, (const float[]){0, 2, 4}, 3, "pytorch_half_pixel x1.5");
    resize_model(1, 2, "half_pixel", s13, NULL); /* -1/3, 0, 1/3, 2/3, 1, 4/3 */
    run_expect(xt, (const float[]){0, 0, 5, 11, 16, 16}, 6, "rounded thirds");
    /* Upsample-9 and Resize-10, mode linear: scales as input 1, asymmetric. */
    for (int64_t opset = 9; opset <= 10; opset++) {
        mb_init(&B, opset);
        mb_input(&B, "x", F, 4, (int64_t[]){1, 1, 1, 3});
        mb_init_f(&B, "sc", 1, (int64_t[]){4}, s12);
        Onnx__NodeProto *n = mb_node(&B, opset == 9 ? "Upsample" : "Resize", "x,sc", "y");
        mb_attr_s(&B, n, "mode", "linear");
        mb_output(&B, "y");
        run_expect(x3, (const float[]){1, 1.5f, 2, 3, 4, 4}, 6, "opset 9, 10");
    }
}

/* The source coordinate of ONNX Resize (opset 11-17), in doubles: an
 * independent statement of what qlocal_resize_src computes exactly. */
static double resize_coord(const char *ct, double o, double in, double out) {
    double sc = out / in;
    if (!strcmp(ct, "align_corners")) return out == 1 ? 0 : o * (in - 1) / (out - 1);
    if (!strcmp(ct, "asymmetric")) return o / sc;
    if (!strcmp(ct, "pytorch_half_pixel") && out == 1) return 0;
    return (o + 0.5) / sc - 0.5;
}

static double lerp_axis(const char *ct, unsigned o, unsigned in, unsigned out, unsigned *i0) {
    double v = resize_coord(ct, o, in, out);
    if (v < 0) v = 0;
    if (v > in - 1) v = in - 1;
    *i0 = (unsigned)floor(v);
    if (*i0 >= in - 1) {
        *i0 = in - 1;
        return 0;
    }
    return v - *i0;
}

/* Random sizes (up and down, odd, 1), each coordinate mode, random s: the
 * reference's RESIZE_LINEAR + TRUNC is within the stated bound of the
 * exact bilinear interpolation of the (quantized) input: each of the 4
 * coefficients rounds by at most 2^-(s+1), then one floor (under 2^-s). */
TEST(resize_linear_vs_exact) {
    static const char *const modes[] = {"half_pixel", "pytorch_half_pixel", "align_corners",
                                        "asymmetric"};
    prg p;
    harness_prg(&p, 0x3e51);
    float x[81];
    unsigned trials = harness_iters(24);
    for (unsigned t = 0; t < trials; t++) {
        unsigned h = 1 + prg_u64(&p) % 9, w = 1 + prg_u64(&p) % 9, oh = 1 + prg_u64(&p) % 13,
                 ow = 1 + prg_u64(&p) % 13, s = 4 + prg_u64(&p) % 17, l = 2 * s + 12;
        const char *ct = modes[t % 4];
        for (unsigned i = 0; i < h * w; i++)
            x[i] = (float)ldexp((double)(int)(prg_u64(&p) % 2001) - 1000, -6); /* |x| < 16 */
        resize_model(h, w, ct, NULL, (const int64_t[]){1, 1, oh, ow});
        qnet *net;
        int rc = load(&net, l, s);
        CHECK_MSG(rc == 0, "trial %u: %s", t, err_msg());
        if (rc < 0) continue;
        uint64_t y[169];
        REQUIRE_OK(run_checked(net, y, x));
        double bound = 4 * ldexp(1.0, -(int)s - 1) * 16 + ldexp(1.0, -(int)s), worst = 0;
        for (unsigned a = 0; a < oh; a++)
            for (unsigned b = 0; b < ow; b++) {
                unsigned i0, j0;
                double la = lerp_axis(ct, a, h, oh, &i0), lb = lerp_axis(ct, b, w, ow, &j0);
                unsigned i1 = i0 + (la > 0), j1 = j0 + (lb > 0);
                /* The input as the net holds it (x is on a grid of 2^-6, s >= 4: exact
                 * when s >= 6, else rounded). */
#define XQ(i, j) (round(ldexp(x[(i) * w + (j)], (int)s)) / ldexp(1.0, (int)s))
                double want = (1 - la) * ((1 - lb) * XQ(i0, j0) + lb * XQ(i0, j1)) +
                              la * ((1 - lb) * XQ(i1, j0) + lb * XQ(i1, j1));
#undef XQ
                double got = ldexp((double)bits_signed(y[a * ow + b], l),
                                   -(int)net->t[net->output].scale);
                worst = fmax(worst, fabs(got - want));
            }
        CHECK_MSG(worst <= bound, "trial %u: %ux%u -> %ux%u %s at s = %u: error %g > %g", t, h, w,
                  oh, ow, ct, s, worst, bound);
        qnet_free(net);
    }
}

/* Gather (a 2-D list of indices with a negative one), Tile, Expand (the
 * rank grows), MatMul with a constant on the left and with a constant
 * vector on the right, by hand on x = 1 x 1 x 2 x 3 = 1..6. */
TEST(gather_tile_matmul_hand) {
    static const float x6[6] = {1, 2, 3, 4, 5, 6};
    static const int64_t d1123[] = {1, 1, 2, 3};
    mb_init(&B, 13);
    mb_input(&B, "x", F, 4, d1123);
    mb_init_i(&B, "i", 2, (int64_t[]){2, 2}, (int64_t[]){2, 0, -1, 1});
    Onnx__NodeProto *n = mb_node(&B, "Gather", "x,i", "y");
    mb_attr_i(&B, n, "axis", -1);
    mb_output(&B, "y");
    run_expect(x6, (const float[]){3, 1, 3, 2, 6, 4, 6, 5}, 8, "gather 2-D indices");

    mb_init(&B, 13); /* a scalar index: the axis goes */
    mb_input(&B, "x", F, 4, d1123);
    mb_init_i(&B, "i", 0, NULL, (int64_t[]){-2});
    n = mb_node(&B, "Gather", "x,i", "y");
    mb_attr_i(&B, n, "axis", 2);
    mb_output(&B, "y");
    run_expect(x6, (const float[]){1, 2, 3}, 3, "gather scalar");

    mb_init(&B, 13);
    mb_input(&B, "x", F, 4, d1123);
    mb_init_i(&B, "r", 1, (int64_t[]){4}, (int64_t[]){1, 2, 1, 2});
    mb_node(&B, "Tile", "x,r", "y");
    mb_output(&B, "y");
    float want[24];
    for (unsigned c = 0; c < 2; c++)
        for (unsigned i = 0; i < 2; i++)
            for (unsigned j = 0; j < 6; j++)
                want[(c * 2 + i) * 6 + j] = x6[i * 3 + j % 3];
    run_expect(x6, want, 24, "tile");

    mb_init(&B, 13);
    mb_input(&B, "x", F, 4, d1123);
    mb_init_i(&B, "s", 1, (int64_t[]){5}, (int64_t[]){2, 1, 1, 1, 3});
    mb_node(&B, "Expand", "x,s", "y");
    mb_output(&B, "y");
    run_expect(x6, (const float[]){1, 2, 3, 4, 5, 6, 1, 2, 3, 4, 5, 6}, 12, "expand");

    static const float a22[4] = {1, 0.5f, 0, -1}, b3[3] = {0.5f, 0, 1};
    mb_init(&B, 13);
    mb_input(&B, "x", F, 4, d1123);
    mb_init_f(&B, "A", 2, (int64_t[]){2, 2}, a22);
    mb_node(&B, "MatMul", "A,x", "y");
    mb_output(&B, "y");
    run_expect(x6, (const float[]){3, 4.5f, 6, -4, -5, -6}, 6, "constant left, rank 4");

    mb_init(&B, 13);
    mb_input(&B, "x", F, 4, d1123);
    mb_init_f(&B, "b", 1, (int64_t[]){3}, b3);
    mb_node(&B, "MatMul", "x,b", "y");
    mb_output(&B, "y");
    run_expect(x6, (const float[]){3.5f, 8}, 2, "constant vector right");
}

/* What these operators do not take is refused naming the node and the reason. */
TEST(move3_refusals) {
    static const float a8[8] = {1, 2, 3, 4, 5, 6, 7, 8}, s4[4] = {1, 1, 2, 2},
                       s3ax[4] = {1, 2, 2, 2};
    static const int64_t d1122b[] = {1, 1, 2, 2};
    struct {
        const char *why;
    } c[] = {
        {"node 'g' (Gather): the indices (input 1, 'am') must be a constant"},
        {"node 'g' (Gather): index 5 (element 1 of 'i') is out of range for axis 3 of size 2"},
        {"node 't' (Tile): repeat 0 of axis 2 is not supported"},
        {"node 'r' (Resize): mode 'cubic' is not supported"},
        {"node 'r' (Resize): linear interpolation along more than 2 axes"},
        {"node 'r' (Resize): coordinate_transformation_mode 'tf_half_pixel_for_nearest' is not "
         "supported with mode linear"},
        {"node 'in' (InstanceNormalization): InstanceNormalization is not supported: it divides"},
        {"node 'mm' (MatMul): the constant operand [2,2,2] differs per batch"},
    };
    for (size_t k = 0; k < sizeof c / sizeof *c; k++) {
        mb_init(&B, 13);
        mb_input(&B, "x", F, 4, d1122b);
        Onnx__NodeProto *n = NULL;
        switch (k) {
        case 0:
            n = mb_node(&B, "ArgMax", "x", "am");
            mb_attr_i(&B, n, "axis", 3);
            n = mb_node(&B, "Gather", "x,am", "y");
            break;
        case 1:
            mb_init_i(&B, "i", 1, (int64_t[]){2}, (int64_t[]){1, 5});
            n = mb_node(&B, "Gather", "x,i", "y");
            mb_attr_i(&B, n, "axis", 3);
            break;
        case 2:
            mb_init_i(&B, "r", 1, (int64_t[]){4}, (int64_t[]){1, 1, 0, 1});
            n = mb_node(&B, "Tile", "x,r", "y");
            break;
        case 3:
        case 4:
        case 5:
            mb_init_f(&B, "sc", 1, (int64_t[]){4}, k == 4 ? s3ax : s4);
            n = mb_node(&B, "Resize", "x,,sc", "y");
            mb_attr_s(&B, n, "mode", k == 3 ? "cubic" : "linear");
            if (k == 5) mb_attr_s(&B, n, "coordinate_transformation_mode", "tf_half_pixel_for_nearest");
            break;
        case 6:
            mb_init_f(&B, "g", 1, (int64_t[]){1}, a8);
            mb_init_f(&B, "b", 1, (int64_t[]){1}, a8);
            n = mb_node(&B, "InstanceNormalization", "x,g,b", "y");
            break;
        default:
            mb_init_f(&B, "W", 3, (int64_t[]){2, 2, 2}, a8);
            n = mb_node(&B, "MatMul", "x,W", "y");
            break;
        }
        n->name = (char *)(k == 0 || k == 1 ? "g" : k == 2 ? "t" : k < 6 ? "r" : k == 6 ? "in" : "mm");
        mb_output(&B, "y");
        fgraph *g = NULL;
        int rc = import(&g, 1);
        /* An index out of range is a malformed model; the rest unsupported. */
        CHECK_MSG(rc == (k == 1 ? PARLEY_E_FORMAT : PARLEY_E_UNSUPPORTED) &&
                      strstr(err_msg(), c[k].why),
                  "case %zu: %d '%s', expected '%s'", k, rc, err_msg(), c[k].why);
        fgraph_free(g);
    }
}

/* qnet_check (and so the public-model decoder) refuses RESIZE_LINEAR
 * parameters that do not describe the shapes: an unknown mode, a zero
 * scale, a third interpolated axis, entries past the rank. */
TEST(resize_linear_checked) {
    static const float s4[4] = {1, 1, 2, 2};
    resize_model(2, 2, "half_pixel", s4, NULL);
    qnet *net;
    REQUIRE_OK(load(&net, 20, 6));
    qlayer *L = NULL;
    for (unsigned i = 0; i < net->nlayers; i++)
        if (net->layers[i].op == QOP_RESIZE_LINEAR) L = &net->layers[i];
    REQUIRE(L);
    CHECK_EQ(qnet_check(net), 0);
    qparams keep = L->p;
    L->p.resize.mode = QRESIZE_MODES_;
    CHECK_EQ(qnet_check(net), PARLEY_E_FORMAT);
    L->p = keep;
    L->p.resize.num[2] = 0;
    CHECK_EQ(qnet_check(net), PARLEY_E_FORMAT);
    L->p = keep;
    L->p.resize.num[1] = 3, L->p.resize.den[1] = 2; /* 1 channel -> floor(1.5) = 1: a third axis */
    CHECK_EQ(qnet_check(net), PARLEY_E_FORMAT);
    CHECK_MSG(strstr(err_msg(), "more than 2 axes"), "%s", err_msg());
    L->p = keep;
    L->p.resize.num[5] = 1;
    CHECK_EQ(qnet_check(net), PARLEY_E_FORMAT);
    L->p = keep;
    L->p.resize.num[3] = 3; /* 2 * 3 / 1 = 6, not 4 */
    CHECK_EQ(qnet_check(net), PARLEY_E_FORMAT);
    L->p = keep;
    CHECK_EQ(qnet_check(net), 0);
    qnet_free(net);
}

/* Refusals of these operators join the one message that lists every
 * unsupported node of the model. */
TEST(move3_refusals_listed_together) {
    static const float s4[4] = {1, 1, 2, 2}, g1[1] = {1};
    mb_init(&B, 13);
    mb_input(&B, "x", F, 4, d1122);
    mb_init_f(&B, "sc", 1, (int64_t[]){4}, s4);
    mb_init_f(&B, "g", 1, d1, g1);
    mb_init_i(&B, "r", 1, (int64_t[]){4}, (int64_t[]){1, 1, 0, 1});
    Onnx__NodeProto *n = mb_node(&B, "Resize", "x,,sc", "a");
    mb_attr_s(&B, n, "mode", "cubic");
    n->name = "cub";
    mb_node(&B, "InstanceNormalization", "x,g,g", "b")->name = "in";
    mb_node(&B, "Tile", "x,r", "c")->name = "t";
    mb_node(&B, "Concat", "a,b,c", "y")->name = "cat";
    mb_attr_i(&B, &B.nodes[B.nnodes - 1], "axis", 1);
    mb_output(&B, "y");
    fgraph *g = NULL;
    CHECK_EQ(import(&g, 1), PARLEY_E_UNSUPPORTED);
    const char *e = err_msg();
    CHECK_MSG(strstr(e, "3 nodes of the model are not supported") &&
                  strstr(e, "Resize x 1 ('cub'): mode 'cubic' is not supported") &&
                  strstr(e, "InstanceNormalization x 1 ('in'): InstanceNormalization is not") &&
                  strstr(e, "Tile x 1 ('t'): repeat 0 of axis 2") &&
                  strstr(e, "(1 supported node reading their results"),
              "%s", e);
    fgraph_free(g);
}
