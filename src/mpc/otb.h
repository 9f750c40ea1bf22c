/* Several OT extensions in both directions as one exchange.
 *
 * A protocol step often needs OTs with S as sender and others with C as
 * sender (PROTOCOLS.md §2: "a protocol that needs OTs both ways runs them
 * concurrently"). otb_run takes the list of jobs, identical on both sides,
 * and runs them as two message flights per party: the extension matrices
 * of every job in which this party receives, then the corrections of every
 * job in which it sends. The two directions are interleaved chunk by chunk
 * (ot_task) with a bounded look-ahead, so each side consumes the peer's
 * matrices as they arrive instead of buffering them whole; latency is still
 * that of two flights. The jobs of one direction share that direction's OT
 * instance in list order, so both parties must build the same list.
 *
 * Wire bits per OT, both directions, n rounded up to 128 per job:
 *   OTB_KK   (N choose 1)-OT_l   256 + N*l
 *   OTB_OT   (2 choose 1)-OT_l   128 + 2l
 *   OTB_COT  COT, M widths       128 + sum ls[k]
 * Jobs with n == 0 are skipped on both sides. */
#ifndef PARLEY_MPC_OTB_H
#define PARLEY_MPC_OTB_H

#include "mpc/party.h"

enum { OTB_KK = 1, OTB_OT = 2, OTB_COT = 3 };

typedef struct otb_job {
    int kind;
    int sender; /* MPC_SERVER or MPC_CLIENT: who sends in this job */
    size_t n;
    unsigned N, l;       /* KK: N messages of l bits; OT: l */
    const unsigned *ls;  /* COT: M widths */
    size_t M;
    /* sender side */
    kk_gen_fn gen;       /* KK: messages made per chunk ... */
    kk_genw_fn genw;     /* ... or packed per OT (N*l <= 64; preferred) */
    void *gen_ctx;
    const uint64_t *msgs; /* ... or given: KK n*N, OT n*2 */
    uint64_t *x;          /* COT: sender's outputs, n*M */
    const uint64_t *delta; /* COT: correlations, n*M */
    /* receiver side */
    const uint8_t *choices; /* n choices (KK: < N; OT, COT: 0/1) */
    uint64_t *out;          /* n (KK, OT) or n*M (COT) */
} otb_job;

/* Run the jobs (see above); 0 or a negative status. */
int otb_run(mpc_lane *L, const otb_job *jobs, size_t njobs) WUR;

/* Exact bytes of one job on the wire (both directions): per chunk of
 * OTE_CHUNK OTs, the extension matrix (n rounded up to 128) and the packed
 * corrections. */
uint64_t otb_job_bytes(const otb_job *j);

#endif
