/* Several OT extensions in both directions as one exchange.
 *
 * A protocol step often needs OTs with S as sender and others with C as
 * sender (docs/PROTOCOLS.md §2.6: both directions run in one exchange).
 * otb_run takes the list of jobs, identical on both sides,
 * and runs them on the lane's OT back-end (ot_run, ot/lane.h) as two
 * message flights per party: the extension matrices (or choice bits) of
 * every job in which this party receives, then the corrections of every
 * job in which it sends. The two directions are interleaved chunk by chunk
 * (ot_task) with a bounded look-ahead, so each side consumes the peer's
 * matrices as they arrive instead of buffering them whole; latency is still
 * that of two flights. The jobs of one direction share that direction's OT
 * instance in list order, so both parties must build the same list. On the
 * silent backend the exchange pauses where a direction's COTs run out: the
 * steps so far finish, both directions that need it make a batch (one
 * flight per party that makes one), and the exchange goes on
 * (silent_steps_run). Which back-end, and what each job costs there, comes
 * from the back-end's table (ot_backend): nothing here branches on it.
 *
 * Wire bits per OT, both directions:
 *                                IKNP backend        silent backend
 *   OTB_KK   (N choose 1)-OT_l   256 + N*l           L + N*l, L = ceil(log2 N)
 *   OTB_OT   (2 choose 1)-OT_l   128 + 2l            1 + 2l
 *   OTB_COT  COT, M widths       128 + sum ls[k]     1 + sum ls[k]
 *   OTB_RROT random OT_l         -                   0
 * IKNP rounds n up to 128 per chunk of OTE_CHUNK. The silent backend
 * consumes L (KK) or 1 COT per OT, whose making costs
 * ferret_batch_bytes(p) per ferret_usable(p) COTs (otb_gen_bits_per_cot):
 * those bytes go over the wire in a refill flight inside the otb_run that
 * runs short, and the lane counts them (party_silent_stats). Jobs with
 * n == 0 are skipped on both sides. */
#ifndef PARLEY_MPC_OTB_H
#define PARLEY_MPC_OTB_H

#include "mpc/party.h"

/* OTB_RROT (back-ends with OT_CAP_RANDOM_OT only, ot/lane.h): random OTs,
 * the receiver's choice its COT's random bit, l <= 63-bit messages; no wire
 * bits. The sender gets x[i] = m0 | m1 << l (l <= 32) or x[2i] = m0,
 * x[2i + 1] = m1 (l > 32), the receiver out[i] = m_b | b << l; with l <= 3
 * the job may give x8 and out8, the same values one byte per OT. On such
 * back-ends KK jobs with l <= 8 may do the same (out8, and x8 where message
 * 0 is implied). */
enum { OTB_KK = 1, OTB_OT = 2, OTB_COT = 3, OTB_RROT = 4 };

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
    uint64_t *x;          /* COT: sender's outputs, n*M; RROT: n (2n if l > 32); KK implied: n */
    uint8_t *x8;           /* RROT, l <= 3; KK implied, l <= 8: bytes instead of x */
    const uint64_t *delta; /* COT: correlations, n*M */
    /* receiver side */
    const uint8_t *choices; /* n choices (KK: < N; OT, COT: 0/1) */
    uint64_t *out;          /* n (KK, OT, RROT) or n*M (COT) */
    uint8_t *out8;          /* RROT, l <= 3; KK, l <= 8: bytes instead of out */
    /* KK, both sides: message 0 implied (ot/ot.h; only where the backend
     * has OT_CAP_KK_IMPLIED, otb_kk_implied): gen gives unmasked f, the
     * sender's shares go to x, the receiver gets f(c) ^ x. */
    int implied;
} otb_job;

/* Whether KK jobs on a backend can have message 0 implied. */
int otb_kk_implied(int backend);

/* How the byte functions of src/mpc and src/nl cost OT jobs (they take it
 * first): the backend, and where to add the COTs the silent backend
 * consumes (NULL: nowhere). Their bytes leave out the COTs' making, which
 * the lane counts where a batch runs out (party_silent_stats): on a lane,
 * one direction that has consumed C COTs has made exactly
 * ceil(C / ferret_usable) batches of ferret_batch_bytes each. */
typedef struct ot_costing {
    int backend;
    uint64_t *cots;  /* COTs the jobs take (not the 4-bit VOLE correlations) */
    int vole4;       /* silent: the lanes' (4 < N <= 16 choose 1)-OTs on 4-bit VOLE */
    uint64_t *corrs; /* vole4: the correlations those jobs take, or NULL */
    struct fsim *fs; /* the flight model to feed (mpc/flights.h), or NULL */
    int leaf_sender; /* the lanes' mpc_lane.leaf_sender (0: MPC_SERVER) */
} ot_costing;
/* otb_job_bytes(oc->backend, j), adding the job's COTs to *oc->cots and
 * the job to the flight model's next otb_run. */
uint64_t otb_job_cost(const ot_costing *oc, const otb_job *j);

/* Per-OT wire bits on a backend, without the silent COTs' making: a COT
 * with correlations of `width` bits in all, a (N choose 1)-OT_l. */
double otb_cot_bits(int backend, unsigned width);
double otb_kk_bits(int backend, unsigned N, unsigned l);
/* The amortised wire bits of making one COT on a backend (its default
 * parameters; 0 where COTs are not made). */
double otb_gen_bits_per_cot(int backend);

/* Run the jobs (see above); 0 or a negative status. */
int otb_run(mpc_lane *L, const otb_job *jobs, size_t njobs) WUR;

/* Exact bytes of one job on the wire (both directions) on a backend. IKNP:
 * per chunk of OTE_CHUNK OTs, the extension matrix (n rounded up to 128)
 * and the packed corrections. Silent: the receiver's bits and the sender's
 * messages, packed per job, without the COTs' making (see above). */
uint64_t otb_job_bytes(int backend, const otb_job *j);
/* The same, by direction: what the OT receiver sends and what the sender
 * sends. */
void otb_job_bytes_split(int backend, const otb_job *j, uint64_t *by_receiver,
                         uint64_t *by_sender);
/* COTs a job consumes on a backend (0 where none are). */
uint64_t otb_job_cots(int backend, const otb_job *j);
/* Whether job j runs on a 4-bit VOLE pool where the lane has them (a
 * (4 < N <= 16 choose 1)-OT: vole4_takes), and then the receiver's bytes: 4
 * bits per OT. */
int otb_job_on_vole4(const otb_job *j);
uint64_t otb_vole4_choice_bytes(const otb_job *j);

#endif
