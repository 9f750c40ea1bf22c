/* `parley-bench ot`: OT extension between two processes over 127.0.0.1.
 * The server is the OT sender, the client the receiver; --ot picks IKNP /
 * KK13 or the silent backend (Ferret COTs, whose batches are made inside
 * the measured time and counted in its bytes). */
#include "bench_common.h"

#include "ot/lane.h"
#include "ot/vole4.h"
#include "util/bits.h"
#include "util/mem.h"
#include "util/opt.h"
#include "util/timer.h"

#include <stdlib.h>
#include <string.h>

#define BENCH_BATCH (1u << 20) /* OTs per call: bounds the message arrays */

typedef struct ot_bench {
    const char *kind;
    uint64_t n;
    unsigned bits, N;
    int backend;
} ot_bench;

/* --kind vole4 and kkot4: a 4-bit VOLE pool per side of the server's
 * sending direction (its first base from 4 m COTs: part of the set-up).
 * vole4 makes whole batches directly (b->n a multiple of the usable
 * correlations per batch); kkot4 runs (N choose 1)-OTs on the pool. */
typedef struct v4_run {
    vole4 f;
    cot_pool pool;
    block *c, *out;
    uint8_t *outu;
} v4_run;

static void v4_free(v4_run *r) {
    vole4_pool_clear(&r->f, &r->pool);
    mem_free(r->c);
    mem_free(r->out);
    mem_free(r->outu);
}

static int v4_setup(int who, ot_lane *ln, chan *ch, v4_run *r) {
    const vole4_params *vp = &VOLE4_H10K18;
    memset(r, 0, sizeof *r);
    r->c = mem_alloc(vole4_cots(vp), sizeof(block));
    r->out = mem_alloc(vole4_n(vp), sizeof(block));
    r->outu = mem_alloc(vole4_n(vp), 1);
    if (!r->c || !r->out || !r->outu) return PARLEY_E_NOMEM;
    block code = block_make(0x766f6c6534, 0), seed; /* the bench's fixed code key */
    rand_os(&seed, sizeof seed);
    TRY(vole4_pool_setup(&r->f, &r->pool, vp, ot_lane_cots(ln, who == 0), ch, seed, code));
    return chan_flush(ch);
}

static int v4_batches(int who, ot_lane *ln, chan *ch, v4_run *r, uint64_t count) {
    const vole4_params *vp = &VOLE4_H10K18;
    cot_pool *pool = ot_lane_cots(ln, who == 0);
    size_t nc = vole4_cots(vp);
    for (uint64_t b = 0; b < count / vole4_usable(vp); b++) {
        if (who == 0) {
            TRY(silent_rcot_send(pool, ch, r->c, nc));
            TRY(vole4_send_trees(&r->f, ch, r->c, r->out));
            TRY(chan_flush(ch));
            vole4_send_finish(&r->f, r->out);
        } else {
            TRY(silent_rcot_recv(pool, ch, r->c, nc));
            TRY(vole4_recv_batch(&r->f, ch, r->c, r->out, r->outu));
        }
    }
    return 0;
}

static int ot_bench_party(int who, chan *ch, void *arg, bench_side *side) {
    ot_bench *b = arg;
    double t0 = time_now();
    block seed;
    rand_os(&seed, sizeof seed);
    ot_lane ln;
    ot_lane_opts o = {.backend = b->backend};
    TRY(ot_lane_setup_ex(&ln, ch, seed, &o));
    int v4 = strcmp(b->kind, "vole4") == 0, kk4 = strcmp(b->kind, "kkot4") == 0;
    v4_run vr;
    memset(&vr, 0, sizeof vr);
    if (v4 || kk4) {
        int src = v4_setup(who, &ln, ch, &vr);
        if (src < 0) {
            v4_free(&vr);
            ot_lane_clear(&ln);
            return src;
        }
    }
    side->setup_seconds = time_now() - t0;
    side->setup_bytes = chan_get_stats(ch)->bytes_sent;
    chan_reset_stats(ch);

    size_t batch = b->n < BENCH_BATCH ? (size_t)b->n : BENCH_BATCH;
    size_t per = strcmp(b->kind, "kkot") == 0 || strcmp(b->kind, "kkot4") == 0 ? b->N : 2;
    uint64_t *msgs = mem_alloc(batch * per, 8), *out = mem_alloc(batch * per, 8);
    uint8_t *choices = mem_alloc(batch, 1);
    block(*r2)[2] = mem_alloc(batch, 32);
    int rc = (!msgs || !out || !choices || !r2) ? PARLEY_E_NOMEM : 0;
    if (rc == 0) {
        prg_ring(&ln.rng, msgs, batch * per, b->bits);
        prg_bytes(&ln.rng, choices, batch);
        for (size_t i = 0; i < batch; i++)
            choices[i] = (uint8_t)(per == 2 ? choices[i] & 1 : choices[i] % b->N);
        rc = bench_barrier(ch, who);
    }
    double t1 = time_now();
    if (v4 && rc == 0) rc = v4_batches(who, &ln, ch, &vr, b->n);
    for (uint64_t done = 0; done < b->n && rc == 0 && !v4; done += batch) {
        size_t m = b->n - done < batch ? (size_t)(b->n - done) : batch;
        if (kk4) {
            rc = who == 0 ? silent_kkot_send(&vr.pool, ch, msgs, m, b->N, b->bits)
                          : silent_kkot_recv(&vr.pool, ch, out, choices, m, b->N, b->bits);
        } else if (b->backend == OT_BACKEND_SILENT) {
            if (strcmp(b->kind, "rcot") == 0)
                rc = who == 0 ? silent_rcot_send(ot_lane_cots(&ln, 1), ch, (block *)r2, m)
                              : silent_rcot_recv(ot_lane_cots(&ln, 0), ch, (block *)r2, m);
            else if (strcmp(b->kind, "rot") == 0)
                rc = who == 0 ? silent_rot_send(ot_lane_cots(&ln, 1), ch, r2, m)
                              : silent_rot_recv(ot_lane_cots(&ln, 0), ch, (block *)r2, choices, m);
            else if (strcmp(b->kind, "cot") == 0)
                rc = who == 0 ? silent_cot_send(ot_lane_cots(&ln, 1), ch, out, msgs, m, &b->bits, 1)
                              : silent_cot_recv(ot_lane_cots(&ln, 0), ch, out, choices, m, &b->bits, 1);
            else if (strcmp(b->kind, "ot") == 0)
                rc = who == 0 ? silent_ot_send(ot_lane_cots(&ln, 1), ch, msgs, m, b->bits)
                              : silent_ot_recv(ot_lane_cots(&ln, 0), ch, out, choices, m, b->bits);
            else
                rc = who == 0 ? silent_kkot_send(ot_lane_cots(&ln, 1), ch, msgs, m, b->N, b->bits)
                              : silent_kkot_recv(ot_lane_cots(&ln, 0), ch, out, choices, m, b->N, b->bits);
        } else if (strcmp(b->kind, "rot") == 0)
            rc = who == 0 ? iknp_rot_send(&ln.iknp_s, ch, r2, m)
                            : iknp_rot_recv(&ln.iknp_r, ch, (block *)r2, choices, m);
        else if (strcmp(b->kind, "cot") == 0)
            rc = who == 0 ? iknp_cot_send(&ln.iknp_s, ch, out, msgs, m, &b->bits, 1)
                            : iknp_cot_recv(&ln.iknp_r, ch, out, choices, m, &b->bits, 1);
        else if (strcmp(b->kind, "ot") == 0)
            rc = who == 0 ? iknp_ot_send(&ln.iknp_s, ch, msgs, m, b->bits)
                            : iknp_ot_recv(&ln.iknp_r, ch, out, choices, m, b->bits);
        else
            rc = who == 0 ? kkot_send(ot_lane_kk_sender(&ln), ch, msgs, m, b->N, b->bits)
                            : kkot_recv(ot_lane_kk_receiver(&ln), ch, out, choices, m, b->N, b->bits);
    }
    side->bytes_sent = chan_get_stats(ch)->bytes_sent;
    side->flights = chan_get_stats(ch)->flights;
    if (rc == 0) rc = bench_barrier(ch, who);
    side->seconds = time_now() - t1;
    mem_free(msgs);
    mem_free(out);
    mem_free(choices);
    mem_free(r2);
    v4_free(&vr);
    ot_lane_clear(&ln);
    return rc;
}

static void ot_usage(FILE *f) {
    fprintf(f, "usage: parley-bench ot --kind rot|cot|ot|kkot|rcot|vole4|kkot4 [--N 16] [--n COUNT] [--bits L]\n"
               "                       [--ot iknp|silent]\n"
               "\n"
               "Runs the OT sender (server) and receiver (client) as two processes over\n"
               "127.0.0.1 and prints one JSON line: seconds (set-up excluded), bytes each\n"
               "party sent, bits_per_item (both directions), items_per_second, rounds.\n"
               "  --kind   rot: random OT; cot: correlated OT; ot: chosen-message OT;\n"
               "           kkot: 1-out-of-N OT (KK13, or from log2 N silent COTs);\n"
               "           rcot: raw random COTs (silent only);\n"
               "           vole4: 4-bit VOLE correlations (silent only; whole\n"
               "           batches, the first base made in the set-up);\n"
               "           kkot4: kkot on 4-bit VOLE correlations, N <= 16 (silent\n"
               "           only)  (default cot)\n"
               "  --ot     iknp or silent (Ferret COTs)         (default iknp)\n"
               "  --n      number of OTs                       (default 4194304)\n"
               "  --bits   message / correlation width, 1..64  (default 32; rot: 128)\n"
               "  --N      messages per kkot, 2..256           (default 16)\n");
}

/* argv[1] is "ot". */
int bench_ot_main(int argc, char **argv) {
    ot_bench b = {"cot", 1u << 22, 32, 16, OT_BACKEND_IKNP};
    int bits_given = 0;
    for (int i = 2; i < argc; i++) {
        const char *a = argv[i];
        if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
            ot_usage(stdout);
            return 0;
        }
        if (i + 1 >= argc) {
            fprintf(stderr, "parley-bench ot: option %s needs a value\n", a);
            return 2;
        }
        const char *v = argv[++i];
        uint64_t x = 0;
        if (strcmp(a, "--kind") == 0) {
            if (strcmp(v, "rot") && strcmp(v, "cot") && strcmp(v, "ot") && strcmp(v, "kkot") &&
                strcmp(v, "rcot") && strcmp(v, "vole4") && strcmp(v, "kkot4")) {
                fprintf(stderr,
                        "parley-bench ot: --kind must be rot, cot, ot, kkot, rcot, vole4 or kkot4\n");
                return 2;
            }
            b.kind = v;
        } else if (strcmp(a, "--ot") == 0) {
            if ((b.backend = ot_backend_parse(v)) < 0) {
                fprintf(stderr, "parley-bench ot: --ot must be iknp or silent\n");
                return 2;
            }
        } else if (opt_u64(v, 0, UINT64_MAX, &x) < 0) {
            fprintf(stderr, "parley-bench ot: %s needs a non-negative integer, got '%s'\n", a, v);
            return 2;
        } else if (strcmp(a, "--n") == 0) {
            b.n = x;
        } else if (strcmp(a, "--bits") == 0) {
            if (x < 1 || x > 128) {
                fprintf(stderr, "parley-bench ot: --bits must be 1..64 (rot: 128)\n");
                return 2;
            }
            b.bits = (unsigned)x;
            bits_given = 1;
        } else if (strcmp(a, "--N") == 0) {
            if (x < 2 || x > 256) {
                fprintf(stderr, "parley-bench ot: --N must be 2..256\n");
                return 2;
            }
            b.N = (unsigned)x;
        } else {
            fprintf(stderr, "parley-bench ot: unknown option %s\n", a);
            ot_usage(stderr);
            return 2;
        }
    }
    int is_v4 = strcmp(b.kind, "vole4") == 0, is_kk4 = strcmp(b.kind, "kkot4") == 0;
    if (is_kk4 && b.N > 16) {
        fprintf(stderr, "parley-bench ot: --kind kkot4 needs --N 2..16\n");
        return 2;
    }
    if ((strcmp(b.kind, "rcot") == 0 || is_v4 || is_kk4) && b.backend != OT_BACKEND_SILENT) {
        fprintf(stderr, "parley-bench ot: --kind %s needs --ot silent\n", b.kind);
        return 2;
    }
    if (is_v4) { /* whole batches */
        uint64_t u = vole4_usable(&VOLE4_H10K18);
        b.n = (b.n + u - 1) / u * u;
    }
    int is_rot = strcmp(b.kind, "rot") == 0 || strcmp(b.kind, "rcot") == 0 || is_v4;
    if (is_rot && !bits_given) b.bits = 128;
    if (is_rot ? b.bits != 128 : b.bits > 64) {
        fprintf(stderr, "parley-bench ot: --bits must be 1..64 (rot: 128)\n");
        return 2;
    }
    bench_side s[2];
    int rc = bench_fork(ot_bench_party, &b, s);
    if (rc != 0) {
        fprintf(stderr, "parley-bench ot: %s\n", err_msg());
        return 1;
    }
    char extra[128];
    snprintf(extra, sizeof extra, ",\"kind\":\"%s\",\"N\":%u,\"threads\":1,\"ot\":\"%s\"", b.kind,
             strcmp(b.kind, "kkot") == 0 || is_kk4 ? b.N : 2, ot_backend_name(b.backend));
    bench_print(stdout, "ot", b.n, b.bits, s, extra);
    return 0;
}
