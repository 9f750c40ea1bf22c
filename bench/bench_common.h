/* Shared pieces of the `parley-bench` subcommands: a fork into server and
 * client over 127.0.0.1, the timing barrier, and the JSON line. */
#ifndef PARLEY_BENCH_COMMON_H
#define PARLEY_BENCH_COMMON_H

#include "mpc/party.h"
#include "net/chan.h"

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#define BENCH_CALLS_MAX 16 /* --calls */

/* What the client process reports back to the server process. */
typedef struct bench_side {
    double seconds, setup_seconds;
    double cpu_seconds; /* party benchmarks: the process's CPU between begin and end */
    uint64_t bytes_sent, flights, setup_bytes;
    int rc;
    int ot; /* party benchmarks: the OT backend + 1 (printed as "ot"); 0 otherwise */
    /* protocol benchmarks with --calls C: each call's seconds and CPU
     * seconds (call 0 is seconds and cpu_seconds above) */
    double call_seconds[BENCH_CALLS_MAX], call_cpu[BENCH_CALLS_MAX];
} bench_side;

/* who: 0 = server, 1 = client. fills *side; returns 0 or a status. */
typedef int (*bench_chan_fn)(int who, chan *ch, void *arg, bench_side *side);

/* Fork: the parent is the server, the child the client. Returns 0 and both
 * sides' reports, or a negative status with the message set. */
int bench_fork(bench_chan_fn fn, void *arg, bench_side out[2]);
/* Both parties call this: a 1-byte exchange each way, not counted. */
int bench_barrier(chan *ch, int who);

/* Protocol benchmarks on a whole party with `lanes` lanes (threads). The
 * harness forks, connects the lanes over 127.0.0.1, sets up the party (timed
 * as set-up) and calls fn in each process. fn prepares its inputs, calls
 * bench_begin, runs what is measured, calls bench_end; time and bytes are
 * taken between the two (both parties synchronised by a barrier). */
typedef struct bench_clock {
    party *p;
    double t0, cpu0;
    chan_stats s0;
    bench_side *side;
} bench_clock;
typedef int (*bench_party_fn)(party *p, void *arg, bench_clock *clk);
/* --leaves vole4 (silent back-end): the lanes make 4-bit VOLE pools, and
 * the (N <= 16 choose 1)-OTs (the millionaire's leaves) draw on them
 * (ot_lane_opts.vole4). expected_bits stays the COT form's formula; the
 * cost model (nn/cost.c, cost_opts.vole4) prices the 4-bit VOLE form. */
extern int bench_leaves_vole4;
/* backend: the lanes' OT backend (OT_BACKEND_*). */
int bench_fork_party(bench_party_fn fn, void *arg, unsigned lanes, int backend, bench_side out[2]);
int bench_begin(bench_clock *clk);
int bench_end(bench_clock *clk);

/* Print the standard fields; extra is a JSON fragment ("" or ,"k":v...). */
void bench_print(FILE *f, const char *bench, uint64_t n, unsigned bits, const bench_side s[2],
                 const char *extra);

/* Options shared by the protocol benchmarks: --n, --bits, --scale, --window,
 * --threads, --ot and a few more; each benchmark reads what it needs.
 * Unknown options are an error naming them. */
typedef struct bench_opts {
    uint64_t n;
    unsigned bits, scale, window, stride, threads, d, m;
    unsigned calls; /* protocol benchmarks: calls on the same lanes (1..BENCH_CALLS_MAX) */
    int backend;    /* --ot iknp|silent (default OT_BACKEND_DEFAULT) */
    /* layer shapes (bench conv, bench fc) */
    unsigned C, H, W, O, K, batch, pad, groups, wbits, dil;
    const char *kind, *net;
    unsigned he_cache; /* he-*: S's weight polynomials transformed before the input (0/1) */
    uint64_t given;    /* bit k: the k-th option of bench_parse's table was given */
} bench_opts;
/* Whether the numeric option `flag` (e.g. "--pad") was on the command line. */
int bench_given(const bench_opts *o, const char *flag);
/* Parse argv[first..argc-1] into *o (keeping its defaults). Returns 0, 1 if
 * --help was asked (usage printed to stdout), or 2 on an error (printed). */
int bench_parse(bench_opts *o, int argc, char **argv, int first, const char *name,
                const char *usage);
/* Each benchmark's entry point (argv[1] is its name). */
int bench_ot_main(int argc, char **argv);
int bench_nl_main(int argc, char **argv);
int bench_conv_main(int argc, char **argv);
int bench_fc_main(int argc, char **argv);
int bench_he_conv_main(int argc, char **argv);
int bench_he_fc_main(int argc, char **argv);
int bench_he_net_main(int argc, char **argv);
int bench_he_pack_main(int argc, char **argv);

#endif
