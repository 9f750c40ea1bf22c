/* Run both parties of a protocol in one process: two threads over an
 * in-process channel (socketpair) or loopback TCP on an ephemeral port. */
#ifndef PARLEY_TESTS_TWOPARTY_H
#define PARLEY_TESTS_TWOPARTY_H

#include "mpc/party.h"
#include "net/link.h"

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

/* Run a protocol between two parties with `nlanes` lanes each over one
 * in-process link (its streams 1..nlanes, as a session has them): both sides call party_setup_ex with fixed seeds
 * derived from the run's seed (harness_block) and the OT backend of the run
 * (test_backend), then fn(p, arg) with p->role 0 (S) and 1 (C) on two
 * threads. run2_party_stats gets each side's party_stats after fn, set-up
 * excluded; run2_party_sil what the silent backend spent making COTs in fn
 * (each side's batches are checked to cost exactly ferret_batch_bytes).
 * Returns 0 if both returned 0. */
typedef int (*party2_fn)(party *p, void *arg);
int run2_party(party2_fn fn, void *arg, unsigned nlanes);
extern chan_stats run2_party_stats[2];
/* Each side's bytes of the set-up (party_setup) of the last run2_party. */
extern chan_stats run2_party_setup_stats[2];
extern silent_stats run2_party_sil[2];
/* Bytes both parties sent to make silent COTs in the last run2_party. */
uint64_t run2_party_gen_bytes(void);

/* The OT backend of this test run: PARLEY_TEST_OT=iknp (default) or
 * silent. Silent runs use FERRET_TOY, so batches run out and refill in the
 * middle of the protocols, unless a test sets run2_party_ferret (NULL:
 * FERRET_TOY) for the runs that follow, as one that needs the production
 * set's batch sizes does. */
int test_backend(void);
extern const ferret_params *run2_party_ferret;
/* Non-NULL: the runs that follow are on the silent back-end with 4-bit
 * VOLE pools of this set for the (N <= 16 choose 1)-OTs (ot_lane_opts.vole4),
 * whatever PARLEY_TEST_OT says; their batches are not checked against
 * ferret_batch_bytes. */
extern const vole4_params *run2_party_vole4;

#endif
