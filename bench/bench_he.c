/* `parley-bench he-conv | he-fc | he-net`: HE-mode linear layers between
 * two processes over 127.0.0.1 (server = weights, client = input).
 *
 * he-conv / he-fc measure one layer; he-net measures every distinct linear
 * layer of SqueezeNet 1.1, ResNet50 or DenseNet121 once (a fresh pair of
 * processes each) and prints one line per layer with its multiplicity, then
 * a total line that weights each layer by how often the network uses it:
 * the linear part of the network. Time is from the client's first byte to
 * its last decrypted output, both parties synchronised; HE key set-up is
 * excluded (setup_bytes counts the OT base and the HE key message). */
#include "bench_common.h"

#include "he/he.h"
#include "lin/he/lin_he.h"
#include "util/bits.h"
#include "util/mem.h"
#include "util/timer.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

enum { HB_CONV, HB_FC, HB_SCALE };

typedef struct he_layer {
    int kind;
    lin_conv c;
    lin_fc f;
    lin_scale s;
    unsigned count; /* occurrences in the network */
    char name[32];
} he_layer;

typedef struct he_bench {
    he_layer ly;
    unsigned l;
    uint64_t outs; /* coefficients of the whole session (network) the flood covers */
    unsigned cache; /* S's weight polynomials transformed before bench_begin (lin_he_wcache) */
    uint64_t cache_bytes; /* S: what they took */
} he_bench;

static uint64_t layer_macs(const he_layer *y) {
    if (y->kind == HB_CONV) {
        lin_conv c = y->c;
        if (lin_conv_check(&c) < 0) return 0;
        return lin_conv_macs(&c);
    }
    if (y->kind == HB_FC) return (uint64_t)y->f.N * y->f.K * y->f.O;
    return (uint64_t)y->s.N * y->s.C * y->s.S;
}

static uint64_t layer_outputs(const he_layer *y) {
    if (y->kind == HB_CONV) {
        lin_conv c = y->c;
        if (lin_conv_check(&c) < 0) return 0;
        return lin_conv_out_size(&c);
    }
    if (y->kind == HB_FC) return (uint64_t)y->f.N * y->f.O;
    return (uint64_t)y->s.N * y->s.C * y->s.S;
}

static lin_shape layer_shape(const he_layer *y) {
    if (y->kind == HB_CONV) return (lin_shape){LIN_CONV, .p.conv = y->c};
    if (y->kind == HB_FC) return (lin_shape){LIN_FC, .p.fc = y->f};
    return (lin_shape){LIN_SCALE, .p.scale = y->s};
}

/* Exact bytes in a session returning outs coefficients (h2: the layer's
 * squared Hellinger bound, he.h); 0 if the planner refuses the layer. */
static uint64_t layer_bytes(const he_layer *y, unsigned l, uint64_t outs, double *h2) {
    lin_backend be = lin_he_backend(NULL, outs);
    lin_shape s = layer_shape(y);
    uint64_t b;
    return lin_bytes(&be, &b, h2, &s, l) == 0 ? b : 0;
}

static int he_layer_party(party *p, void *arg, bench_clock *clk) {
    he_bench *b = arg;
    const he_layer *y = &b->ly;
    size_t nx, nw, ny;
    unsigned wbits;
    if (y->kind == HB_CONV) {
        lin_conv c = y->c;
        TRY(lin_conv_check(&c));
        nx = lin_conv_in_size(&c);
        nw = lin_conv_weight_size(&c);
        ny = lin_conv_out_size(&c);
        wbits = c.wbits;
    } else if (y->kind == HB_FC) {
        nx = (size_t)y->f.N * y->f.K;
        nw = (size_t)y->f.O * y->f.K;
        ny = (size_t)y->f.N * y->f.O;
        wbits = y->f.wbits;
    } else {
        nx = ny = (size_t)y->s.N * y->s.C * y->s.S;
        nw = y->s.C;
        wbits = y->s.wbits;
    }
    lin_he *h;
    lin_he_wcache *wc = NULL;
    TRY(lin_he_setup(p, &h));
    lin_he_set_outputs(h, b->outs);
    clk->side->setup_bytes += p->role == MPC_CLIENT ? lin_he_setup_bytes() : 0;
    uint64_t *x = mem_alloc(nx, 8), *w = mem_alloc(nw, 8), *out = mem_alloc(ny, 8);
    int rc = (!x || !w || !out) ? PARLEY_E_NOMEM : 0;
    if (rc == 0) {
        prg *g = &p->lanes[0].ot.rng;
        prg_ring(g, x, nx, b->l);
        for (size_t i = 0; i < nw; i++) /* uniform signed wbits-bit weights */
            w[i] = (prg_u64(g) & bits_mask(wbits)) - (1ULL << (wbits - 1));
        for (size_t i = 0; i < nw; i++)
            w[i] &= bits_mask(b->l);
        const uint64_t *wp = p->role == MPC_SERVER ? w : NULL;
        lin_shape s = layer_shape(y);
        if (b->cache && wp) { /* before the input: not timed */
            rc = lin_he_wcache_new(&wc);
            if (rc == 0) rc = lin_he_wcache_add(wc, &s, b->l, b->outs, wp);
            if (rc == 0) b->cache_bytes = lin_he_wcache_bytes(wc);
            lin_he_use_wcache(h, wc);
        }
        if (rc < 0) rc = party_fail(p, rc);
        if (rc == 0) rc = bench_begin(clk);
        if (rc == 0) {
            lin_backend be = lin_he_backend(h, 0); /* the flood: lin_he_set_outputs above */
            rc = lin_run(&be, p, out, x, &s, wp, b->l);
        }
        if (rc == 0) rc = bench_end(clk);
        if (rc == 0 && wc && lin_he_wcache_polys_used(h) * sizeof(he_poly) != b->cache_bytes)
            rc = err_set(PARLEY_E_MISMATCH, "the layer did not read its cached weights");
    }
    lin_he_wcache_free(wc);
    mem_free(x);
    mem_free(w);
    mem_free(out);
    lin_he_free(h);
    return rc;
}

/* Run one layer; print its line; add count-weighted figures to tot. */
typedef struct he_total {
    double seconds, h2, server_cpu;
    uint64_t cache_bytes;
    uint64_t bytes, macs, outputs, rounds;
    unsigned layers;
} he_total;

/* outs: the coefficients of the whole network (the session the layer is
 * part of), which the flood of every layer covers. */
static int run_layer(const he_layer *y, unsigned l, uint64_t outs, unsigned threads,
                     unsigned cache, const char *bench, he_total *tot) {
    he_bench b = {*y, l, outs, cache, 0};
    bench_side s[2];
    int rc = bench_fork_party(he_layer_party, &b, threads, OT_BACKEND_DEFAULT, s);
    if (rc != 0) {
        fprintf(stderr, "parley-bench %s: layer %s: %s\n", bench, y->name, err_msg());
        return rc;
    }
    uint64_t macs = layer_macs(y), bytes = s[0].bytes_sent + s[1].bytes_sent;
    double h2 = 0;
    uint64_t predicted = layer_bytes(y, l, outs, &h2);
    lin_he_info info = {0};
    lin_conv as_conv = y->c;
    if (y->kind == HB_FC)
        as_conv = lin_he_fc_as_conv(&y->f);
    else if (y->kind == HB_SCALE)
        as_conv = lin_he_scale_as_conv(&y->s);
    if (lin_he_conv_info(&info, &as_conv, l, outs) < 0) memset(&info, 0, sizeof info);
    char extra[768];
    snprintf(extra, sizeof extra,
             ",\"layer\":\"%s\",\"count\":%u,\"macs\":%llu,\"bits_per_mac\":%.4f,"
             "\"predicted_bytes\":%llu,\"threads\":%u,\"in_cts\":%llu,\"out_cts\":%llu,"
             "\"products\":%llu,\"block\":\"Cw%u Hw%u Ww%u Ow%u\",\"beta\":%u,"
             "\"margin_bits\":%.1f,\"log2_h2\":%.2f,\"drop\":%u,\"bytes_c2s\":%llu,"
             "\"bytes_s2c\":%llu,\"server_cpu\":%.4f,\"he_cache\":%u,\"cache_bytes\":%llu",
             y->name, y->count, (unsigned long long)macs,
             macs ? (double)bytes * 8.0 / (double)macs : 0.0, (unsigned long long)predicted,
             threads, (unsigned long long)info.in_cts, (unsigned long long)info.out_cts,
             (unsigned long long)info.products, info.Cw, info.Hw, info.Ww, info.Ow, info.beta,
             info.margin_bits, info.log2_h2, info.drop, (unsigned long long)info.bytes_c2s,
             (unsigned long long)info.bytes_s2c, s[0].cpu_seconds, cache,
             (unsigned long long)b.cache_bytes);
    bench_print(stdout, bench, layer_outputs(y), l, s, extra);
    if (tot) {
        double sec = s[0].seconds > s[1].seconds ? s[0].seconds : s[1].seconds;
        tot->seconds += sec * y->count;
        tot->server_cpu += s[0].cpu_seconds * y->count;
        tot->cache_bytes += b.cache_bytes * y->count;
        tot->bytes += bytes * y->count;
        tot->macs += macs * y->count;
        tot->outputs += layer_outputs(y) * y->count;
        tot->rounds += (s[0].flights + s[1].flights) * y->count;
        tot->h2 += h2 * y->count;
        tot->layers += y->count;
    }
    return 0;
}

/* ---- the networks ---- */

#define NET_MAX 256
typedef struct net {
    he_layer ly[NET_MAX];
    unsigned n;
} net;

static void net_add(net *nt, he_layer y) {
    for (unsigned i = 0; i < nt->n; i++) {
        he_layer *z = &nt->ly[i];
        if (z->kind == y.kind && (y.kind == HB_CONV ? memcmp(&z->c, &y.c, sizeof y.c) == 0
                                  : y.kind == HB_FC ? memcmp(&z->f, &y.f, sizeof y.f) == 0
                                                    : memcmp(&z->s, &y.s, sizeof y.s) == 0)) {
            z->count++;
            return;
        }
    }
    if (nt->n < NET_MAX) {
        y.count = 1;
        nt->ly[nt->n++] = y;
    }
}

static void add_conv(net *nt, const char *name, unsigned C, unsigned H, unsigned O, unsigned k,
                     unsigned s, unsigned p, unsigned wb) {
    he_layer y = {.kind = HB_CONV};
    y.c = (lin_conv){.N = 1,
                     .C = C,
                     .H = H,
                     .W = H,
                     .O = O,
                     .kh = k,
                     .kw = k,
                     .sh = s,
                     .sw = s,
                     .pt = p,
                     .pl = p,
                     .pb = p,
                     .pr = p,
                     .dh = 1,
                     .dw = 1,
                     .groups = 1,
                     .wbits = wb};
    snprintf(y.name, sizeof y.name, "%s", name);
    net_add(nt, y);
}

static void add_scale(net *nt, const char *name, unsigned C, unsigned S, unsigned wb) {
    he_layer y = {.kind = HB_SCALE, .s = {1, C, S, wb}};
    snprintf(y.name, sizeof y.name, "%s", name);
    net_add(nt, y);
}

static void add_fc(net *nt, const char *name, unsigned K, unsigned O, unsigned wb) {
    he_layer y = {.kind = HB_FC, .f = {1, K, O, wb}};
    snprintf(y.name, sizeof y.name, "%s", name);
    net_add(nt, y);
}

static void net_squeezenet(net *nt, unsigned wb) {
    add_conv(nt, "conv1", 3, 224, 64, 3, 2, 0, wb);
    static const unsigned fire[][4] = {{64, 16, 64, 55},   {128, 16, 64, 55},  {128, 32, 128, 27},
                                       {256, 32, 128, 27}, {256, 48, 192, 13}, {384, 48, 192, 13},
                                       {384, 64, 256, 13}, {512, 64, 256, 13}};
    for (unsigned i = 0; i < 8; i++) {
        char nm[32];
        unsigned cin = fire[i][0], sq = fire[i][1], e = fire[i][2], h = fire[i][3];
        snprintf(nm, sizeof nm, "fire%u.squeeze", i + 2);
        add_conv(nt, nm, cin, h, sq, 1, 1, 0, wb);
        snprintf(nm, sizeof nm, "fire%u.expand1x1", i + 2);
        add_conv(nt, nm, sq, h, e, 1, 1, 0, wb);
        snprintf(nm, sizeof nm, "fire%u.expand3x3", i + 2);
        add_conv(nt, nm, sq, h, e, 3, 1, 1, wb);
    }
    add_conv(nt, "conv10", 512, 13, 1000, 1, 1, 0, wb);
}

/* torchvision ResNet50 (v1.5: the stride in the 3x3 conv) */
static void net_resnet50(net *nt, unsigned wb) {
    add_conv(nt, "conv1", 3, 224, 64, 7, 2, 3, wb);
    unsigned H = 56, cin = 64;
    static const unsigned st[4][2] = {{64, 3}, {128, 4}, {256, 6}, {512, 3}};
    for (unsigned s = 0; s < 4; s++)
        for (unsigned b = 0; b < st[s][1]; b++) {
            unsigned w = st[s][0], str = (b == 0 && s > 0) ? 2 : 1, Ho = (H - 1) / str + 1;
            char nm[32];
            snprintf(nm, sizeof nm, "layer%u.%u.conv1", s + 1, b);
            add_conv(nt, nm, cin, H, w, 1, 1, 0, wb);
            snprintf(nm, sizeof nm, "layer%u.%u.conv2", s + 1, b);
            add_conv(nt, nm, w, H, w, 3, str, 1, wb);
            snprintf(nm, sizeof nm, "layer%u.%u.conv3", s + 1, b);
            add_conv(nt, nm, w, Ho, 4 * w, 1, 1, 0, wb);
            if (b == 0) {
                snprintf(nm, sizeof nm, "layer%u.0.downsample", s + 1);
                add_conv(nt, nm, cin, H, 4 * w, 1, str, 0, wb);
            }
            cin = 4 * w;
            H = Ho;
        }
    add_fc(nt, "fc", 2048, 1000, wb);
}

static void net_densenet121(net *nt, unsigned wb) {
    add_conv(nt, "conv0", 3, 224, 64, 7, 2, 3, wb);
    unsigned H = 56, c = 64;
    static const unsigned blocks[4] = {6, 12, 24, 16};
    for (unsigned bi = 0; bi < 4; bi++) {
        for (unsigned j = 0; j < blocks[bi]; j++) {
            char nm[32];
            snprintf(nm, sizeof nm, "block%u.%u.norm1", bi + 1, j + 1);
            add_scale(nt, nm, c, H * H, wb);
            snprintf(nm, sizeof nm, "block%u.%u.conv1", bi + 1, j + 1);
            add_conv(nt, nm, c, H, 128, 1, 1, 0, wb);
            snprintf(nm, sizeof nm, "block%u.%u.conv2", bi + 1, j + 1);
            add_conv(nt, nm, 128, H, 32, 3, 1, 1, wb);
            c += 32;
        }
        char nm[32];
        snprintf(nm, sizeof nm, bi < 3 ? "transition%u.norm" : "norm5", bi + 1);
        add_scale(nt, nm, c, H * H, wb);
        if (bi < 3) {
            snprintf(nm, sizeof nm, "transition%u.conv", bi + 1);
            add_conv(nt, nm, c, H, c / 2, 1, 1, 0, wb);
            c /= 2;
            H /= 2;
        }
    }
    add_fc(nt, "classifier", 1024, 1000, wb);
}

/* ---- options ---- */

static const char conv_usage[] =
    "usage: parley-bench he-conv [--C 64] [--H 56] [--W H] [--O 64] [--k 3] [--stride 1]\n"
    "                            [--pad k/2] [--dil 1] [--groups 1] [--batch 1]\n"
    "                            [--wbits 14] [--bits 37] [--threads 2] [--he-cache 0|1]\n"
    "\n"
    "One HE-mode convolution between two local processes (server: random weights of\n"
    "--wbits signed bits; client: a random share). Prints the standard JSON line with\n"
    "n = outputs, plus macs, bits_per_mac, the block the planner chose and the\n"
    "server's CPU seconds (server_cpu). --he-cache 1: the server transforms its\n"
    "weight polynomials before the input (lin_he_wcache; cache_bytes), untimed.\n";

static const char fc_usage[] =
    "usage: parley-bench he-fc [--K 2048] [--O 1000] [--batch 1] [--wbits 14] [--bits 37]\n"
    "                          [--threads 2] [--he-cache 0|1]\n"
    "\n"
    "One HE-mode fully-connected layer between two local processes.\n";

static const char net_usage[] =
    "usage: parley-bench he-net --net squeezenet|resnet50|densenet121 [--bits L]\n"
    "                           [--wbits B] [--threads 2] [--he-cache 0|1]\n"
    "\n"
    "Every distinct linear layer of the network (one pair of processes each), one\n"
    "JSON line per layer with its multiplicity (count), then a total line for the\n"
    "linear part of the network. Defaults: squeezenet l = 32, wbits = 11 (s = 9);\n"
    "resnet50 l = 37, wbits = 15 (s = 12); densenet121 l = 32, wbits = 14 (s = 11).\n";

int bench_he_conv_main(int argc, char **argv) {
    bench_opts o = {.C = 64,
                    .H = 56,
                    .O = 64,
                    .window = 3,
                    .stride = 1,
                    .dil = 1,
                    .groups = 1,
                    .batch = 1,
                    .wbits = 14,
                    .bits = 37,
                    .threads = 2};
    int r = bench_parse(&o, argc, argv, 2, "he-conv", conv_usage);
    if (r) return r == 1 ? 0 : 2;
    he_layer y = {.kind = HB_CONV, .count = 1};
    unsigned pad = bench_given(&o, "--pad") ? o.pad : (o.window - 1) * o.dil / 2;
    y.c = (lin_conv){.N = o.batch,
                     .C = o.C,
                     .H = o.H,
                     .W = bench_given(&o, "--W") ? o.W : o.H,
                     .O = o.O,
                     .kh = o.window,
                     .kw = o.window,
                     .sh = o.stride,
                     .sw = o.stride,
                     .pt = pad,
                     .pl = pad,
                     .pb = pad,
                     .pr = pad,
                     .dh = o.dil,
                     .dw = o.dil,
                     .groups = o.groups,
                     .wbits = o.wbits};
    snprintf(y.name, sizeof y.name, "C%u H%u O%u k%u s%u", o.C, o.H, o.O, o.window, o.stride);
    lin_he_info info;
    uint64_t outs = layer_outputs(&y);
    if (lin_he_conv_info(&info, &y.c, o.bits, outs) < 0) {
        fprintf(stderr, "parley-bench he-conv: %s\n", err_msg());
        return 2;
    }
    return run_layer(&y, o.bits, outs, o.threads, o.he_cache, "he-conv", NULL) == 0 ? 0 : 1;
}

int bench_he_fc_main(int argc, char **argv) {
    bench_opts o = {.K = 2048, .O = 1000, .batch = 1, .wbits = 14, .bits = 37, .threads = 2};
    int r = bench_parse(&o, argc, argv, 2, "he-fc", fc_usage);
    if (r) return r == 1 ? 0 : 2;
    he_layer y = {.kind = HB_FC, .count = 1, .f = {o.batch, o.K, o.O, o.wbits}};
    snprintf(y.name, sizeof y.name, "fc K%u O%u", o.K, o.O);
    uint64_t outs = layer_outputs(&y);
    if (layer_bytes(&y, o.bits, outs, NULL) == 0) {
        fprintf(stderr, "parley-bench he-fc: shape or parameters not supported\n");
        return 2;
    }
    return run_layer(&y, o.bits, outs, o.threads, o.he_cache, "he-fc", NULL) == 0 ? 0 : 1;
}

int bench_he_net_main(int argc, char **argv) {
    bench_opts o = {.threads = 2};
    int r = bench_parse(&o, argc, argv, 2, "he-net", net_usage);
    if (r) return r == 1 ? 0 : 2;
    net *nt = calloc(1, sizeof *nt);
    if (!nt) return 1;
    unsigned l, wb;
    if (o.net && strcmp(o.net, "squeezenet") == 0) {
        l = 32;
        wb = 11;
    } else if (o.net && strcmp(o.net, "resnet50") == 0) {
        l = 37;
        wb = 15;
    } else if (o.net && strcmp(o.net, "densenet121") == 0) {
        l = 32;
        wb = 14;
    } else {
        fprintf(stderr, "parley-bench he-net: --net must be squeezenet, resnet50 or densenet121\n");
        free(nt);
        return 2;
    }
    if (bench_given(&o, "--bits")) l = o.bits;
    if (bench_given(&o, "--wbits")) wb = o.wbits;
    if (o.net[0] == 's')
        net_squeezenet(nt, wb);
    else if (o.net[0] == 'r')
        net_resnet50(nt, wb);
    else
        net_densenet121(nt, wb);
    he_total tot = {0};
    int rc = 0;
    uint64_t outs = 0; /* the network's returned coefficients: what every flood covers */
    for (unsigned i = 0; i < nt->n; i++)
        outs += layer_outputs(&nt->ly[i]) * nt->ly[i].count;
    for (unsigned i = 0; i < nt->n && rc == 0; i++)
        rc = run_layer(&nt->ly[i], l, outs, o.threads, o.he_cache, "he-net-layer", &tot);
    if (rc == 0)
        printf("{\"bench\":\"he-net\",\"net\":\"%s\",\"bits\":%u,\"wbits\":%u,\"threads\":%u,"
               "\"layers\":%u,\"distinct\":%u,\"outputs\":%llu,\"macs\":%llu,\"seconds\":%.3f,"
               "\"bytes\":%llu,\"gib\":%.4f,\"bits_per_mac\":%.4f,\"rounds\":%llu,"
               "\"statistical_bits\":%.2f,\"server_cpu\":%.3f,\"he_cache\":%u,"
               "\"cache_bytes\":%llu}\n",
               o.net, l, wb, o.threads, tot.layers, nt->n, (unsigned long long)tot.outputs,
               (unsigned long long)tot.macs, tot.seconds, (unsigned long long)tot.bytes,
               (double)tot.bytes / (1024.0 * 1024.0 * 1024.0),
               tot.macs ? (double)tot.bytes * 8.0 / (double)tot.macs : 0.0,
               (unsigned long long)tot.rounds, tot.h2 > 0 ? he_stat_bits_of(tot.h2) : 0.0, tot.server_cpu,
               o.he_cache, (unsigned long long)tot.cache_bytes);
    free(nt);
    return rc == 0 ? 0 : 1;
}

static const char pack_usage[] =
    "usage: parley-bench he-pack [--K 6] [--n 5]\n"
    "\n"
    "Output packing on one core: he_pack of 2^K level-q0*q1 ciphertexts with\n"
    "the client's Galois keys, best of --n runs; one JSON line with the\n"
    "seconds per pack and per key switch (2^K - 1 of them).\n";

int bench_he_pack_main(int argc, char **argv) {
    bench_opts o = {.K = HE_PACK_MAX_LOG, .n = 5};
    int r = bench_parse(&o, argc, argv, 2, "he-pack", pack_usage);
    if (r) return r == 1 ? 0 : 2;
    if (o.K < 1 || o.K > HE_PACK_MAX_LOG || o.n < 1) {
        fprintf(stderr, "parley-bench he-pack: --K must be 1..%d, --n at least 1\n",
                HE_PACK_MAX_LOG);
        return 2;
    }
    const size_t cnt = (size_t)1 << o.K;
    prg g;
    prg_seed(&g, block_make(0x70616b, 1)); /* a benchmark: fixed, printed seed */
    he_sk *sk = mem_alloc(1, sizeof *sk);
    he_gkey *keys = mem_alloc(o.K, sizeof *keys);
    he_poly *bs = mem_alloc(cnt, sizeof *bs), *as = mem_alloc(cnt, sizeof *as);
    he_pack_work *w = he_pack_work_new();
    if (!sk || !keys || !bs || !as || !w) {
        fprintf(stderr, "parley-bench he-pack: out of memory\n");
        return 1;
    }
    he_sk_gen(&g, sk);
    double t0 = time_now();
    for (unsigned m = 0; m < o.K; m++)
        he_gkey_gen(&g, &keys[m], sk, he_pack_galois(m));
    double keygen = (time_now() - t0) / o.K;
    double best = INFINITY;
    he_encoder enc;
    he_encoder_init(&enc, 37);
    for (uint64_t run = 0; run < o.n; run++) {
        for (size_t i = 0; i < cnt; i++) { /* fresh encryptions of zero at q0*q1 */
            uint8_t seed[HE_SEED_BYTES];
            prg_bytes(&g, seed, sizeof seed);
            he_encrypt_sk(&g, &bs[i], sk, seed, &enc, NULL);
            he_expand_a(&as[i], seed);
            he_poly_intt(&as[i]);
            he_rescale01(&bs[i], &as[i]);
        }
        t0 = time_now();
        he_pack(bs, as, cnt, o.K, keys, w);
        double t = time_now() - t0;
        if (t < best) best = t;
    }
    printf("{\"bench\":\"he-pack\",\"k\":%u,\"ciphertexts\":%zu,\"key_switches\":%llu,"
           "\"seconds\":%.6f,\"ms_per_switch\":%.4f,\"keygen_ms\":%.3f,\"key_bytes\":%zu}\n",
           o.K, cnt, (unsigned long long)he_pack_switches(cnt), best,
           best * 1e3 / (double)he_pack_switches(cnt), keygen * 1e3, he_gkey_bytes());
    he_pack_work_free(w);
    he_sk_clear(sk);
    mem_free(sk);
    mem_free(keys);
    mem_free(bs);
    mem_free(as);
    prg_clear(&g);
    return 0;
}
