/* `parley-bench relu|trunc|relu-trunc|mill|maxpool|avgpool|argmax`: the
 * non-linear protocols between two processes over 127.0.0.1, each a whole
 * party with --threads lanes. Inputs are random shares drawn by each side;
 * what is timed is one call of the layer function. The JSON line carries
 * the standard fields plus expected_bits (the formula of nl.h / mill.h for
 * these parameters) and the per-party flights ("rounds" sums both). */
#include "bench_common.h"

#include "mpc/arith.h"
#include "mpc/mill.h"
#include "nl/lane.h"
#include "nl/nl.h"
#include "util/bits.h"
#include "util/mem.h"

#include <string.h>

typedef struct nl_bench {
    const char *name;
    bench_opts o;
    nl_pool P; /* pools */
    size_t nin, nout;
} nl_bench;

/* The formulas' pieces on the benchmark's backend; silent COTs carry
 * their amortised making (otb_gen_bits_per_cot). */
static int g_backend;

static double gen_bits(void) { return otb_gen_bits_per_cot(g_backend); }

static double mill_bits(unsigned k, unsigned m) {
    mill_cost c;
    mill_cost_of(&c, g_backend, k, m, 1, 0);
    return c.bits + c.cots * gen_bits();
}

/* MSB(x) and the carry of the low s bits (relu.c's msb_and_carry). */
static double msb_carry_bits(unsigned l, unsigned s, unsigned m) {
    unsigned split = nl_carry_split(g_backend, l, s, m);
    if (!split) return mill_bits(l - 1, m) + mill_bits(s, m);
    mill_cost c;
    mill_cost_split(&c, g_backend, l - 1, m, split);
    return c.bits + c.cots * gen_bits();
}

static double cot(unsigned w) { return otb_cot_bits(g_backend, w) + gen_bits(); }

static double kk(unsigned N, unsigned l) {
    return otb_kk_bits(g_backend, N, l) + silent_cots_per_ot(OT_TASK_KK, N) * gen_bits();
}

/* Truncation's correction (nl.h): three one-flight COTs of s bits where
 * the backend has random OTs, else a (4 choose 1)-OT_s. */
static double trunc_corr(unsigned l, unsigned s) {
    return nl_trunc_one_flight(g_backend, l, s) ? 3 * cot(s) : kk(4, s);
}

/* Bits per item by the formulas of nl.h (items: elements, comparisons,
 * pool outputs, argmax rows). */
static double expected_bits(const nl_bench *b) {
    unsigned l = b->o.bits, s = b->o.scale, m = b->o.m;
    if (s > l) s = l;
    const char *n = b->name;
    g_backend = b->o.backend;
    if (!strcmp(n, "relu")) return mill_bits(l - 1, m) + 2 * cot(l);
    if (!strcmp(n, "trunc")) return msb_carry_bits(l, s, m) + cot(l) + trunc_corr(l, s);
    if (!strcmp(n, "relu-trunc")) {
        if (s && nl_relu_trunc_narrow(g_backend, l, s)) /* one-flight COTs: 1 + w bits each */
            return msb_carry_bits(l, s, m) + 4 * cot(l - s) + cot(s);
        return msb_carry_bits(l, s, m) + 4 * cot(l) + 2 * cot(s);
    }
    if (!strcmp(n, "mill")) return mill_bits(l, m);
    size_t K = (size_t)b->o.window * b->o.window;
    if (!strcmp(n, "maxpool")) {
        int nonneg = b->o.kind && !strcmp(b->o.kind, "nonneg");
        int bounded = b->o.kind && !strcmp(b->o.kind, "bounded");
        if (bounded && s < l && nl_maxpool_narrow(g_backend, l, NL_POOL_NONNEG, l - s))
            return (double)(K - 1) * (mill_bits(l - s - 1, m) + 2 * cot(l - s)) + cot(s);
        if (nonneg || bounded) return (double)(K - 1) * (mill_bits(l - 1, m) + 2 * cot(l));
        return ((double)b->nin * mill_bits(l, m) +
                (double)b->nout * (double)(K - 1) * (mill_bits(l, m) + 2 * cot(l + 1))) /
               (double)b->nout;
    }
    if (!strcmp(n, "avgpool")) {
        if ((K & (K - 1)) == 0) {
            unsigned t = (unsigned)__builtin_ctzll(K);
            if (t > l) t = l;
            return msb_carry_bits(l, t, m) + cot(l) + trunc_corr(l, t);
        }
        unsigned e = nl_div_width(K), w = l > e ? l : e;
        return mill_bits(l - 1, m) + kk(4, w) + 3 * mill_bits(e - 1, m) + 3 * cot(l);
    }
    /* argmax, per row of `window` columns */
    size_t cols = b->o.window;
    return (double)cols * mill_bits(l, m) + (double)(cols - 1) * (mill_bits(l, m) + 2 * cot(2 * l + 1));
}

typedef struct mill_job_args {
    uint8_t *gt;
    const uint64_t *x;
    unsigned k, m;
} mill_job_args;

static int mill_job(mpc_lane *L, void *ctx, size_t first, size_t count) {
    const mill_job_args *a = ctx;
    return mpc_mill_gt(L, a->gt + first, NULL, a->x + first, count, a->k, a->m);
}

/* One call of the protocol measured (x: inputs, y / gt: outputs). */
static int run_once(party *p, const nl_bench *b, const uint64_t *x, size_t nin, uint64_t *y,
                    uint8_t *gt, unsigned wb) {
    const bench_opts *o = &b->o;
    const char *n = b->name;
    int bounded = o->kind && !strcmp(o->kind, "bounded");
    if (!strcmp(n, "relu")) return nl_relu(p, y, x, nin, o->bits);
    if (!strcmp(n, "trunc")) return nl_trunc(p, y, x, nin, o->bits, o->scale);
    if (!strcmp(n, "relu-trunc")) return nl_relu_trunc(p, y, x, nin, o->bits, o->scale);
    if (!strcmp(n, "mill")) {
        mill_job_args a = {gt, x, o->bits, o->m};
        return party_run(p, nin, 128, mill_job, &a);
    }
    if (!strcmp(n, "maxpool"))
        return nl_maxpool_ex(p, y, x, &b->P, o->bits,
                             (!o->kind || strcmp(o->kind, "linear") ? NL_POOL_TREE : 0) |
                                 (o->kind && (!strcmp(o->kind, "nonneg") || bounded)
                                      ? NL_POOL_NONNEG
                                      : 0),
                             wb);
    if (!strcmp(n, "avgpool")) return nl_avgpool(p, y, x, &b->P, o->bits);
    return nl_argmax(p, y, x, o->n, o->window, o->bits);
}

static int nl_bench_party(party *p, void *arg, bench_clock *clk) {
    nl_bench *b = arg;
    const bench_opts *o = &b->o;
    for (unsigned i = 0; i < p->nlanes; i++) p->lanes[i].mill_m = o->m;
    int pool = !strcmp(b->name, "maxpool") || !strcmp(b->name, "avgpool");
    int am = !strcmp(b->name, "argmax");
    size_t nin = pool ? b->nin : am ? (size_t)o->n * o->window : (size_t)o->n;
    size_t nout = pool ? b->nout : (size_t)o->n;
    uint64_t *x = mem_alloc(nin ? nin : 1, 8), *y = mem_alloc(nout ? nout : 1, 8);
    uint8_t *gt = mem_alloc(nout ? nout : 1, 1);
    if (!x || !y || !gt) {
        mem_free(x);
        mem_free(y);
        mem_free(gt);
        return err_set(PARLEY_E_NOMEM, "out of memory for the benchmark inputs");
    }
    int bounded = o->kind && !strcmp(o->kind, "bounded");
    unsigned wb = bounded && o->scale < o->bits ? o->bits - o->scale : 0;
    /* bounded: a ReLU-truncation's outputs, below 2^(l-s-1) */
    prg_ring(&p->lanes[0].ot.rng, x, nin, bounded ? (wb ? wb - 1 : 0) : o->bits);
    /* Call 0 is what "seconds" and the bytes report; with --calls C the
     * same inputs run C - 1 more times on the same lanes, whose pools are
     * then warm as in a session's later layers. */
    int rc = 0;
    for (unsigned c = 0; c < o->calls && rc == 0; c++) {
        bench_side later = {0};
        bench_clock lc = {.p = p, .side = &later};
        bench_clock *k = c == 0 ? clk : &lc;
        rc = bench_begin(k);
        if (rc == 0) rc = run_once(p, b, x, nin, y, gt, wb);
        if (rc == 0) rc = bench_end(k);
        if (rc == 0) {
            clk->side->call_seconds[c] = k->side->seconds;
            clk->side->call_cpu[c] = k->side->cpu_seconds;
        }
    }
    mem_free(x);
    mem_free(y);
    mem_free(gt);
    return rc;
}

#define LEAVES_HELP                                                                                \
    "  --leaves vole4 (silent): the millionaire's leaves on 4-bit VOLE correlations\n"             \
    "  (docs/PROTOCOLS.md 2.7); expected_bits stays the COT form's formula (the cost\n"           \
    "  model prices the 4-bit VOLE form: parley inspect --leaves vole4).\n"

#define CALLS_HELP                                                                                 \
    "  --calls C (1..16): C calls on the same lanes, each timed (call_seconds, and\n"              \
    "  call_cpu_seconds for both processes); the later ones find the pools warm, as\n"           \
    "  a session's later layers do. seconds, bytes and cpu_seconds are the first's.\n"

static const char *usage_of(const char *name) {
    if (!strcmp(name, "mill"))
        return "usage: parley-bench mill [--n N] [--bits K] [--m M] [--threads T] [--ot iknp|silent]\n"
               "         [--leaves cot|vole4]\n"
               "  Millionaire [x > y] on K-bit values (default N = 2^20, K = 31, M = 4).\n"
               LEAVES_HELP CALLS_HELP;
    if (!strcmp(name, "maxpool") || !strcmp(name, "avgpool"))
        return "usage: parley-bench maxpool|avgpool [--n OUTPUTS] [--bits L] [--window K]\n"
               "         [--stride S] [--kind tree|linear|nonneg|bounded] [--scale S]\n"
               "         [--threads T] [--m M] [--ot iknp|silent] [--leaves cot|vole4]\n"
               "  Pools K x K windows (default 3, stride = K) over an input of 16 x 16 output\n"
               "  positions per channel; OUTPUTS (default 2^18) is rounded up to whole channels.\n"
               "  nonneg: inputs known >= 0 (after a ReLU); bounded: below 2^(L-S-1) (after a\n"
               "  ReLU-truncation by S).\n" LEAVES_HELP CALLS_HELP;
    if (!strcmp(name, "argmax"))
        return "usage: parley-bench argmax [--n ROWS] [--bits L] [--window COLS] [--threads T]\n"
               "         [--ot iknp|silent] [--leaves cot|vole4]\n"
               "  Index of the first maximum of each row (default 1024 rows of 1000).\n"
               LEAVES_HELP CALLS_HELP;
    return "usage: parley-bench relu|trunc|relu-trunc [--n N] [--bits L] [--scale S]\n"
           "         [--threads T] [--m M] [--ot iknp|silent] [--leaves cot|vole4]\n"
           "         [--calls C]\n"
           "  Default N = 2^20, L = 32 (relu) or 37, S = 12, T = 1, M = 4.\n" LEAVES_HELP
               CALLS_HELP;
}

int bench_nl_main(int argc, char **argv) {
    nl_bench b;
    memset(&b, 0, sizeof b);
    b.name = argv[1];
    int pool = !strcmp(b.name, "maxpool") || !strcmp(b.name, "avgpool"), am = !strcmp(b.name, "argmax");
    b.o.n = pool ? 1u << 18 : am ? 1024 : 1u << 20;
    b.o.bits = !strcmp(b.name, "relu") || !strcmp(b.name, "mill") ? (!strcmp(b.name, "mill") ? 31 : 32) : 37;
    b.o.scale = 12;
    b.o.window = am ? 1000 : 3;
    b.o.threads = 1;
    b.o.m = 0; /* automatic digits (mill.h) */
    b.o.backend = OT_BACKEND_DEFAULT;
    b.o.calls = 1;
    int r = bench_parse(&b.o, argc, argv, 2, b.name, usage_of(b.name));
    if (r) return r == 1 ? 0 : 2;
    if (b.o.kind && strcmp(b.o.kind, "tree") && strcmp(b.o.kind, "linear") &&
        strcmp(b.o.kind, "nonneg") && strcmp(b.o.kind, "bounded")) {
        fprintf(stderr, "parley-bench %s: --kind must be tree, linear, nonneg or bounded\n",
                b.name);
        return 2;
    }
    if (pool) {
        unsigned K = b.o.window, S = b.o.stride ? b.o.stride : K, O = 16;
        size_t C = (b.o.n + (size_t)O * O - 1) / ((size_t)O * O);
        if (C > UINT32_MAX) C = UINT32_MAX;
        nl_pool P = {.N = 1, .C = (unsigned)C, .H = (O - 1) * S + K, .W = (O - 1) * S + K, .kh = K,
                     .kw = K, .sh = S, .sw = S, .dh = 1, .dw = 1};
        if (nl_pool_check(&P) < 0) {
            fprintf(stderr, "parley-bench %s: %s\n", b.name, err_msg());
            return 2;
        }
        b.P = P;
        b.nin = nl_pool_in_size(&P);
        b.nout = nl_pool_out_size(&P);
        b.o.n = b.nout;
    }
    bench_side s[2];
    int rc = bench_fork_party(nl_bench_party, &b, b.o.threads, b.o.backend, s);
    if (rc != 0) {
        fprintf(stderr, "parley-bench %s: %s\n", b.name, err_msg());
        return 1;
    }
    char extra[256 + 48 * BENCH_CALLS_MAX];
    int e = snprintf(extra, 256,
                     ",\"threads\":%u,\"scale\":%u,\"window\":%u,\"m\":%u,\"kind\":\"%s\","
                     "\"flights_server\":%llu,\"flights_client\":%llu,\"expected_bits\":%.1f,"
                     "\"cpu_seconds\":%.3f",
                     b.o.threads, b.o.scale, b.o.window, b.o.m, b.o.kind ? b.o.kind : "tree",
                     (unsigned long long)s[0].flights, (unsigned long long)s[1].flights,
                     expected_bits(&b), s[0].cpu_seconds + s[1].cpu_seconds);
    if (b.o.calls > 1) /* each call: the slower party's seconds, both parties' CPU */
        for (int f = 0; f < 2; f++) {
            size_t room = sizeof extra - (size_t)e;
            e += f ? snprintf(extra + e, room, ",\"call_cpu_seconds\":[")
                   : snprintf(extra + e, room, ",\"calls\":%u,\"call_seconds\":[", b.o.calls);
            for (unsigned c = 0; c < b.o.calls; c++) {
                double v = f ? s[0].call_cpu[c] + s[1].call_cpu[c]
                             : s[0].call_seconds[c] > s[1].call_seconds[c] ? s[0].call_seconds[c]
                                                                           : s[1].call_seconds[c];
                e += snprintf(extra + e, sizeof extra - (size_t)e, "%s%.3f", c ? "," : "", v);
            }
            e += snprintf(extra + e, sizeof extra - (size_t)e, "]");
        }
    bench_print(stdout, b.name, b.o.n, b.o.bits, s, extra);
    return 0;
}
