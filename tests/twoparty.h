/* Run both parties of a protocol in one process: two threads over an
 * in-process channel (socketpair) or loopback TCP on an ephemeral port. */
#ifndef PARLEY_TESTS_TWOPARTY_H
#define PARLEY_TESTS_TWOPARTY_H

#include "net/chan.h"

/* party: 0 = server, 1 = client. Returns 0 or a negative status. */
typedef int (*party_fn)(int party, chan *ch, void *arg);

/* Runs fn(0, ...) and fn(1, ...) concurrently; returns 0 if both returned
 * 0, else the first failure (and its message is printed). */
int run2(party_fn fn, void *arg);
int run2_tcp(party_fn fn, void *arg);
/* Like run2, but party 1's channel is closed as soon as its fn returns, so
 * party 0 sees a peer that went away. */
int run2_drop(party_fn fn, void *arg);
/* Stats of each side's channel from the last run2 call. */
extern chan_stats run2_stats[2];

#endif
