/* `parley-bench conv` and `parley-bench fc`: one OT-mode linear layer
 * (src/lin/ot) between two processes over 127.0.0.1, in orientation A, B
 * or the automatic choice.
 *
 * Weights are drawn like a trained layer's: N(0, 0.1) encoded at scale s
 * (round(w * 2^s)), from a fixed seed both processes share, so both know
 * the public wbits (the smallest width that holds them all, unless --wbits
 * says otherwise). The shares of the input are uniform mod 2^l. Prints the
 * standard JSON line with n = the multiply-accumulates (so bits_per_item is
 * bits per MAC), plus macs, bits_per_mac, the orientation, wbits and the
 * bytes the cost model predicted. */
#include "bench_common.h"

#include "lin/ot/lin_ot.h"
#include "util/bits.h"
#include "util/mem.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

typedef struct lin_bench {
    int is_conv;
    lin_conv cv;
    lin_fc fc;
    unsigned l, scale;
    int orient;
} lin_bench;

static size_t bench_in_size(const lin_bench *b) {
    return b->is_conv ? lin_conv_in_size(&b->cv) : (size_t)b->fc.N * b->fc.K;
}
static size_t bench_out_size(const lin_bench *b) {
    return b->is_conv ? lin_conv_out_size(&b->cv) : (size_t)b->fc.N * b->fc.O;
}
static size_t bench_w_size(const lin_bench *b) {
    return b->is_conv ? lin_conv_weight_size(&b->cv) : (size_t)b->fc.O * b->fc.K;
}

/* N(0, 0.1) at scale s, from a fixed seed (Box-Muller). */
static void bench_weights(uint64_t *w, size_t n, unsigned scale, unsigned l) {
    prg p;
    prg_seed(&p, block_make(0x6c696e, 0x7765696768747321));
    for (size_t i = 0; i < n; i += 2) {
        double u1 = ((double)(prg_u64(&p) >> 11) + 1.0) / 9007199254740993.0;
        double u2 = (double)(prg_u64(&p) >> 11) / 9007199254740992.0;
        double r = sqrt(-2.0 * log(u1)) * 0.1 * ldexp(1.0, (int)scale);
        w[i] = (uint64_t)llround(r * cos(2 * M_PI * u2)) & bits_mask(l);
        if (i + 1 < n) w[i + 1] = (uint64_t)llround(r * sin(2 * M_PI * u2)) & bits_mask(l);
    }
    prg_clear(&p);
}

static int lin_bench_party(party *p, void *arg, bench_clock *clk) {
    lin_bench *b = arg;
    size_t ni = bench_in_size(b), no = bench_out_size(b), nw = bench_w_size(b);
    uint64_t *x = mem_alloc(ni, 8), *y = mem_alloc(no, 8), *w = NULL;
    if (p->role == MPC_SERVER) w = mem_alloc(nw, 8);
    int rc = (!x || !y || (p->role == MPC_SERVER && !w)) ? PARLEY_E_NOMEM : 0;
    if (rc == 0) {
        prg_ring(&p->lanes[0].ot.rng, x, ni, b->l);
        if (w) bench_weights(w, nw, b->scale, b->l);
    }
    if (rc == 0) rc = bench_begin(clk);
    lin_shape sh =
        b->is_conv ? (lin_shape){LIN_CONV, .p.conv = b->cv} : (lin_shape){LIN_FC, .p.fc = b->fc};
    lin_plan *pl = NULL;
    lin_backend be = lin_ot_backend();
    if (rc == 0) rc = lin_ot_plan(&pl, &sh, b->l, b->orient);
    if (rc == 0) rc = lin_run_plan(&be, p, pl, y, x, w);
    lin_ot_ops.free(pl);
    if (rc == 0) rc = bench_end(clk);
    mem_free(x);
    mem_free(y);
    mem_free(w);
    return rc;
}

static const char *conv_usage =
    "usage: parley-bench conv [--kind A|B|auto] [--C 64] [--H 56] [--W H] [--O 64]\n"
    "                         [--window 3] [--stride 1] [--pad 1] [--groups 1] [--batch 1]\n"
    "                         [--bits 37] [--scale 12] [--wbits 0] [--threads 1]\n"
    "\n"
    "One OT-mode convolution (src/lin/ot) between a server and a client process\n"
    "over 127.0.0.1: input batch x C x H x W, O outputs, a window x window kernel.\n"
    "Weights ~ N(0, 0.1) at scale s; wbits = the width they need (or --wbits).\n"
    "  --kind   A: decompose the client's share; B: decompose the weights;\n"
    "           auto: the cheaper by the exact byte count   (default auto)\n"
    "  --bits   ring width l                                 (default 37)\n"
    "  --threads lanes (one thread and connection each)      (default 1)\n"
    "Prints one JSON line; n = multiply-accumulates, so bits_per_item is bits per MAC.\n";

static const char *fc_usage =
    "usage: parley-bench fc [--kind A|B|auto] [--K 1024] [--O 1000] [--batch 1]\n"
    "                       [--bits 37] [--scale 12] [--wbits 0] [--threads 1]\n"
    "\n"
    "One OT-mode fully connected layer (src/lin/ot): batch x K inputs, O outputs.\n"
    "Options as for 'parley-bench conv'.\n";

static int parse_kind(const char *k, int *orient) {
    if (!k || strcmp(k, "auto") == 0)
        *orient = LIN_OT_AUTO;
    else if (strcmp(k, "A") == 0 || strcmp(k, "a") == 0)
        *orient = LIN_OT_A;
    else if (strcmp(k, "B") == 0 || strcmp(k, "b") == 0)
        *orient = LIN_OT_B;
    else
        return -1;
    return 0;
}

static int lin_bench_main(int argc, char **argv, int is_conv) {
    const char *name = is_conv ? "conv" : "fc";
    bench_opts o = {.bits = 37,
                    .scale = 12,
                    .window = 3,
                    .stride = 1,
                    .threads = 1,
                    .C = 64,
                    .H = 56,
                    .O = is_conv ? 64 : 1000,
                    .K = 1024,
                    .batch = 1,
                    .pad = 1,
                    .groups = 1,
                    .backend = OT_BACKEND_DEFAULT,
                    .kind = "auto"};
    int r = bench_parse(&o, argc, argv, 2, name, is_conv ? conv_usage : fc_usage);
    if (r) return r == 1 ? 0 : 2;
    lin_bench b = {.is_conv = is_conv, .l = o.bits, .scale = o.scale};
    if (parse_kind(o.kind, &b.orient) < 0) {
        fprintf(stderr, "parley-bench %s: --kind must be A, B or auto\n", name);
        return 2;
    }
    if (o.scale >= o.bits) {
        fprintf(stderr, "parley-bench %s: --scale must be below --bits\n", name);
        return 2;
    }
    if (is_conv) {
        unsigned W = o.W ? o.W : o.H;
        b.cv = (lin_conv){.N = o.batch,
                          .C = o.C,
                          .H = o.H,
                          .W = W,
                          .O = o.O,
                          .kh = o.window,
                          .kw = o.window,
                          .sh = o.stride,
                          .sw = o.stride,
                          .pt = o.pad,
                          .pl = o.pad,
                          .pb = o.pad,
                          .pr = o.pad,
                          .dh = 1,
                          .dw = 1,
                          .groups = o.groups,
                          .wbits = 1};
        if (lin_conv_check(&b.cv) < 0) {
            fprintf(stderr, "parley-bench conv: %s\n", err_msg());
            return 2;
        }
    } else {
        b.fc = (lin_fc){o.batch, o.K, o.O, 1};
        if (lin_fc_check(&b.fc) < 0) {
            fprintf(stderr, "parley-bench fc: %s\n", err_msg());
            return 2;
        }
    }
    /* The public wbits: what the weights need (both processes draw the
     * same), unless given. */
    size_t nw = bench_w_size(&b);
    unsigned wbits = o.wbits;
    if (!wbits) {
        uint64_t *w = mem_alloc(nw, 8);
        if (!w) {
            fprintf(stderr, "parley-bench %s: out of memory\n", name);
            return 1;
        }
        bench_weights(w, nw, o.scale, o.bits);
        wbits = lin_weight_bits(w, nw, o.bits);
        mem_free(w);
    }
    if (wbits > o.bits) wbits = o.bits;
    if (is_conv)
        b.cv.wbits = wbits;
    else
        b.fc.wbits = wbits;
    lin_shape sh =
        is_conv ? (lin_shape){LIN_CONV, .p.conv = b.cv} : (lin_shape){LIN_FC, .p.fc = b.fc};
    lin_plan *pl;
    if (lin_ot_plan(&pl, &sh, b.l, b.orient) < 0) {
        fprintf(stderr, "parley bench %s: %s\n", name, err_msg());
        return 2;
    }
    uint64_t predicted = pl->bytes, macs = lin_macs(&sh);
    int orient = lin_ot_plan_orientation(pl);
    lin_ot_ops.free(pl);
    b.orient = orient;
    bench_side s[2];
    int rc = bench_fork_party(lin_bench_party, &b, o.threads, o.backend, s);
    if (rc != 0) {
        fprintf(stderr, "parley-bench %s: %s\n", name, err_msg());
        return 1;
    }
    uint64_t total = s[0].bytes_sent + s[1].bytes_sent;
    char extra[512];
    if (is_conv)
        snprintf(extra, sizeof extra,
                 ",\"kind\":\"%s\",\"macs\":%llu,\"bits_per_mac\":%.2f,\"predicted_bytes\":%llu,"
                 "\"wbits\":%u,\"scale\":%u,\"threads\":%u,\"shape\":\"%ux%ux%ux%u->%u k%u s%u "
                 "p%u g%u\"",
                 orient == LIN_OT_A ? "A" : "B", (unsigned long long)macs,
                 macs ? 8.0 * (double)total / (double)macs : 0.0, (unsigned long long)predicted,
                 wbits, o.scale, o.threads, b.cv.N, b.cv.C, b.cv.H, b.cv.W, b.cv.O, o.window,
                 o.stride, o.pad, o.groups);
    else
        snprintf(extra, sizeof extra,
                 ",\"kind\":\"%s\",\"macs\":%llu,\"bits_per_mac\":%.2f,\"predicted_bytes\":%llu,"
                 "\"wbits\":%u,\"scale\":%u,\"threads\":%u,\"shape\":\"%ux%u->%u\"",
                 orient == LIN_OT_A ? "A" : "B", (unsigned long long)macs,
                 macs ? 8.0 * (double)total / (double)macs : 0.0, (unsigned long long)predicted,
                 wbits, o.scale, o.threads, b.fc.N, b.fc.K, b.fc.O);
    bench_print(stdout, name, macs, o.bits, s, extra);
    if (total != predicted) {
        fprintf(stderr, "parley-bench %s: %llu bytes on the wire, the cost model said %llu\n", name,
                (unsigned long long)total, (unsigned long long)predicted);
        return 1;
    }
    return 0;
}

int bench_conv_main(int argc, char **argv) {
    return lin_bench_main(argc, argv, 1);
}
int bench_fc_main(int argc, char **argv) {
    return lin_bench_main(argc, argv, 0);
}
