/* A party of a two-party computation: its role and its lanes.
 *
 * A lane (mpc_lane) is one channel with the PRG and OT state used on it
 * (docs/ARCHITECTURE.md rule 2) plus the party's role, and is used by one thread
 * at a time. Protocols of src/mpc take an mpc_lane first and run all their
 * n elements on it in a constant number of flights. Layer-level functions
 * (src/nl, src/lin) take the party first and split their elements across
 * its lanes with party_run, one thread per lane; both parties split the
 * same n the same way, so lane i of the server talks to lane i of the
 * client. Results never depend on the number of lanes.
 *
 * Role: MPC_SERVER (0, the model owner S) or MPC_CLIENT (1, the input owner
 * C). Where a protocol is asymmetric, its comment says which role does what. */
#ifndef PARLEY_MPC_PARTY_H
#define PARLEY_MPC_PARTY_H

#include "net/link.h"
#include "ot/lane.h"

#include <stddef.h>
#include <stdint.h>

enum { MPC_SERVER = 0, MPC_CLIENT = 1 };

typedef struct mpc_lane {
    int role; /* MPC_SERVER or MPC_CLIENT */
    unsigned index;
    ot_lane ot;      /* .ch, .rng, the OT instances of its backend in both directions */
    unsigned mill_m; /* millionaire digit bits, 1..8; 0 = the default (automatic, mill.h) */
    int leaf_sender; /* who sends the millionaire's leaf OTs on backends with random OTs:
                      * MPC_SERVER (the default) or MPC_CLIENT (mill.h) */
} mpc_lane;

/* One flight each way on the lane: send mine (nm bytes), then read the
 * peer's (nt bytes) into theirs (AND openings, mpc_cot1). */
int mpc_swap(mpc_lane *L, const void *mine, size_t nm, void *theirs, size_t nt) WUR;

typedef struct party {
    int role;
    unsigned nlanes;
    mpc_lane *lanes;
} party;

/* Set up nlanes lanes over chans[0..nlanes-1] (not owned: the caller closes
 * them after party_clear). seed: all of this party's randomness derives from
 * it (tests pass a fixed one; production draws it from the OS). Base OTs run
 * on all lanes in parallel. party_setup uses OT_BACKEND_DEFAULT;
 * party_setup_ex takes the lane options (the OT backend; NULL = the
 * default), the same on both sides. */
int party_setup(party *p, int role, chan **chans, unsigned nlanes, block seed) WUR;
int party_setup_ex(party *p, int role, chan **chans, unsigned nlanes, block seed,
                   const ot_lane_opts *o) WUR;
/* Each lane's pools get their budgets (b->takes[lane][our role] the
 * direction we send, the other the one we receive; cot_pool_set_budget).
 * After party_setup_ex, before the first OT; nothing on IKNP. */
void party_set_budgets(party *p, const ot_budgets *b);
/* The lanes' OT backend. */
static inline int party_backend(const party *p) { return p->lanes[0].ot.be->id; }
/* What the silent backend spent making COTs, summed over the lanes (zero
 * for IKNP); flights: the largest on any lane. */
void party_silent_stats(const party *p, silent_stats *out);
/* Wipe all OT state and PRGs and free the lanes. */
void party_clear(party *p);

/* Work on elements [first, first + count) on lane L. */
typedef int (*party_job)(mpc_lane *L, void *ctx, size_t first, size_t count);

/* Split [0, n) into one contiguous range per lane (each range a multiple of
 * `grain` elements, except the last), run fn on every non-empty range, lane
 * 0 on the calling thread and the others on their own threads, and return
 * 0 or the first failure. If a lane fails, its channel is shut down so the
 * peer's lane stops too instead of waiting for a timeout. n == 0 runs
 * nothing and sends nothing (on both sides alike). */
int party_run(party *p, size_t n, size_t grain, party_job fn, void *ctx) WUR;
/* The split party_run makes: count[i] elements for lane i (0: the lane has
 * no work), i < nlanes. Cost models use it to predict per-lane padding. */
void party_split(size_t *count, size_t n, size_t grain, unsigned nlanes);

/* A local failure outside party_run (a check, an allocation): abort every
 * lane's channel so that the peer stops at once instead of waiting, and
 * keep this thread's message, the reason, rather than the abort's own.
 * Returns rc. */
int party_fail(party *p, int rc);

/* Bytes both ways summed over the lanes; flights = the largest number of
 * flights on any lane (the lanes run in parallel); depth = the deepest
 * chain counter of any lane (net/frame.h: the one-way messages on the
 * longest chain of waits so far). party_run raises every lane's counter to
 * the deepest at its fork and at its join. */
void party_stats(const party *p, chan_stats *out);

#endif
