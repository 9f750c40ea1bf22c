/* Shared pieces of the `parley bench` subcommands: a fork into server and
 * client over 127.0.0.1, the timing barrier, and the JSON line. */
#ifndef PARLEY_BENCH_COMMON_H
#define PARLEY_BENCH_COMMON_H

#include "net/chan.h"

#include <stdint.h>
#include <stdio.h>

/* What the client process reports back to the server process. */
typedef struct bench_side {
    double seconds, setup_seconds;
    uint64_t bytes_sent, flights, setup_bytes;
    int rc;
} bench_side;

/* party 0 = server, 1 = client. fills *side; returns 0 or a status. */
typedef int (*bench_party_fn)(int party, chan *ch, void *arg, bench_side *side);

/* Fork: the parent is the server, the child the client. Returns 0 and both
 * sides' reports, or a negative status with the message set. */
int bench_fork(bench_party_fn fn, void *arg, bench_side out[2]);
/* Both parties call this: a 1-byte exchange each way, not counted. */
int bench_barrier(chan *ch, int party);

/* Print the standard fields; extra is a JSON fragment ("" or ,"k":v...). */
void bench_print(FILE *f, const char *bench, uint64_t n, unsigned bits, const bench_side s[2],
                 const char *extra);

#endif
