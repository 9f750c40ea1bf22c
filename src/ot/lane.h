/* A lane: one channel plus the OT state used on it (docs/ARCHITECTURE.md), and
 * the OT back-ends behind it.
 *
 * Each lane holds OT in both directions, so either party can be sender, on
 * one back-end chosen at set-up and fixed for the lane's life: an
 * operations table (ot_backend), as libsodium picks an implementation
 * struct once. Everything that differs between back-ends -- their set-up,
 * how a task's chunks are stepped, how a schedule of chunks runs, what a
 * job costs on the wire, what it consumes -- is an entry of the table;
 * code above src/ot asks the lane's table (or, for costs, the table of a
 * back-end id) and never branches on which back-end it is. Protocols that
 * want a flavour only some back-ends offer ask for its capability
 * (OT_CAP_*) and choose their algorithm by it.
 *
 *   iknp    IKNP senders and receivers (w = 128) and KK13 ones (w = 256).
 *           Set-up: 128 Chou-Orlandi base OTs each way; the KK13 base OTs
 *           (256 each way) come from IKNP random OTs, so public-key work
 *           is paid once. (ot/lane_iknp.c)
 *   silent  IKNP (the streamed COTs of src/lin/ot use it) and, for every
 *           other OT, a pool of random COTs per direction (ot/cotpool.h)
 *           filled by Ferret (ot/ferret.h), consumed by the flavours of
 *           ot/silent.h. Set-up: the same base OTs, with bit 0 of each
 *           IKNP sender's secret row set, since that row is also Ferret's
 *           Delta; then ferret_first_rows raw IKNP COTs each way (16
 *           bytes per COT) make one FERRET_BOOT batch each way, whose
 *           outputs seed the first batch (ot/ferret.h), made at the
 *           first use, and each
 *           party's 16-byte code seed keys the LPN code of both directions
 *           (ot/lane_silent.c).
 *
 * Adding a back-end: a table in its own file, its id in the enum and in
 * ot_backend_get; nothing outside src/ot changes.
 *
 * Both parties call ot_lane_setup with the same role-independent sequence
 * and the same options. */
#ifndef PARLEY_OT_LANE_H
#define PARLEY_OT_LANE_H

#include "net/frame.h"
#include "ot/cotpool.h"
#include "ot/ferret.h"
#include "ot/vole4.h"
#include "ot/ot.h"
#include "ot/silent.h"

/* Back-end ids: what the session's hello carries (byte 12). */
enum { OT_BACKEND_IKNP = 0, OT_BACKEND_SILENT = 1 };
/* The backend of sessions and benchmarks when not asked for another
 * (docs/BENCHMARKS.md, "Silent OT": fewer bytes, and faster on a network). */
#define OT_BACKEND_DEFAULT OT_BACKEND_SILENT

/* "iknp" / "silent"; -1 for anything else. */
int ot_backend_parse(const char *s);
const char *ot_backend_name(int backend);

typedef struct ot_lane_opts {
    int backend;                 /* OT_BACKEND_* */
    const ferret_params *ferret; /* silent: NULL = FERRET_DEFAULT (tests pass FERRET_TOY) */
    /* silent: a pool of 4-bit VOLE correlations per direction (ot/vole4.h)
     * for the (4 < N <= 16 choose 1)-OTs (vole4_takes); NULL = none. Sessions
     * whose server asks for it (serve --leaves vole4: nn/hello.h,
     * LEAVES_VOLE4) use VOLE4_H10K18; the cost and flight models count it
     * (cost_opts.vole4, fsim_new4). */
    const vole4_params *vole4;
} ot_lane_opts;

/* What a session's consumers will take from each lane's pools, as the
 * flight model walks the inference (nn/cost.h, cost_session_budgets):
 * takes[i][d][k] on lane i in the direction whose COT sender is party d
 * (0 the server, 1 the client), k 0 for COTs and 1 for 4-bit VOLE
 * correlations (cot_pool_set_budget). */
typedef struct ot_budgets {
    uint64_t takes[LANES_MAX][2][2];
} ot_budgets;

typedef struct ot_backend ot_backend;

typedef struct ot_lane {
    chan *ch;
    prg rng;
    const ot_backend *be; /* chosen at set-up, for the lane's life */
    ote_sender iknp_s;    /* both back-ends: we send, peer receives */
    ote_receiver iknp_r;  /* we receive, peer sends */
    void *st;             /* the back-end's own state (be->setup makes it) */
} ot_lane;

/* Capabilities. RANDOM_OT: the task kinds OT_TASK_ROT and OT_TASK_RROT
 * (random OTs from random COTs; RROT with no wire bits at all). KK_IMPLIED:
 * KK tasks with `implied` set (ot.h). */
enum { OT_CAP_RANDOM_OT = 1, OT_CAP_KK_IMPLIED = 2 };

/* What ot_backend.instance returns: the instances behind the back-end, for
 * whole calls on one lane (tests, benchmarks, fuzzing); NULL if it has
 * none of that kind. */
enum { OT_INST_KK_SEND, OT_INST_KK_RECV, OT_INST_COTS_SEND, OT_INST_COTS_RECV };

struct ot_backend {
    const char *name; /* as --ot spells it */
    int id;           /* OT_BACKEND_* */
    unsigned caps;    /* OT_CAP_* */
    int row_lsb_set;  /* bit 0 of each IKNP sender's row s is set (silent: s is Delta) */

    /* ---- a lane ---- */
    /* After the base OTs (iknp_s, iknp_r ready): the back-end's own
     * set-up, both parties in the same sequence; makes ln->st. */
    int (*setup)(ot_lane *ln, const ot_lane_opts *o);
    /* Wipe and free ln->st (also after a failed setup). */
    void (*clear)(ot_lane *ln);
    /* Bind a task of a kind in caps to this lane: its steps and the
     * instance of the direction it runs in (we_send: this party sends). */
    void (*bind)(ot_lane *ln, ot_task *t, int we_send);
    /* Run bound chunks as one exchange (ot_steps_run's contract; a
     * back-end may add flights of its own, e.g. silent refills). */
    int (*run)(ot_lane *ln, const ot_chunk *R, size_t nr, const ot_chunk *S, size_t ns);
    /* What making COTs has cost on this lane (zero where nothing is made). */
    void (*stats)(const ot_lane *ln, silent_stats *out);
    void *(*instance)(ot_lane *ln, int which);
    /* The pools' budgets (cot_pool_set_budget): what the consumers will
     * take in the direction we send and in the one we receive, [0] COTs,
     * [1] 4-bit VOLE correlations. NULL on a back-end without pools. */
    void (*budget)(ot_lane *ln, const uint64_t send[2], const uint64_t recv[2]);

    /* ---- costs, from public shapes only (o may be NULL: defaults) ---- */
    uint64_t (*setup_bytes)(const ot_lane_opts *o);
    /* Bytes a lane keeps allocated after its set-up for its instances'
     * pools, bases and batch buffers (IKNP: none of note). */
    uint64_t (*memory)(const ot_lane_opts *o);
    /* Exact bytes of a job of n OTs of kind (OT_TASK_*; N messages for KK)
     * with `per` sender bits per OT, without the making of the COTs it
     * consumes: what the OT receiver sends and what the sender sends. */
    void (*job_bytes)(int kind, size_t n, unsigned N, uint64_t per, uint64_t *by_receiver,
                      uint64_t *by_sender);
    /* The random COTs it consumes (0 where none are). */
    uint64_t (*job_cots)(int kind, size_t n, unsigned N);
    /* Wire bits per OT beyond the sender's messages (IKNP: the extension
     * matrix row; silent: the receiver's choice bits). */
    double (*ot_bits)(int kind, unsigned N);
    /* Making `cots` COTs, amortised over whole batches (rounded up), and
     * per COT in bits. */
    uint64_t (*gen_bytes)(const ot_lane_opts *o, uint64_t cots);
    double (*gen_bits_per_cot)(const ot_lane_opts *o);
};

extern const ot_backend ot_backend_iknp, ot_backend_silent;
/* The table of a back-end id; NULL for an unknown id. */
const ot_backend *ot_backend_get(int id);

/* Set up OT in both directions over ch (not owned). seed: all randomness of
 * this party on this lane derives from it. ot_lane_setup is the IKNP
 * backend; o = NULL in ot_lane_setup_ex as well. */
int ot_lane_setup(ot_lane *ln, chan *ch, block seed) WUR;
int ot_lane_setup_ex(ot_lane *ln, chan *ch, block seed, const ot_lane_opts *o) WUR;
void ot_lane_clear(ot_lane *ln);
/* Bytes of one lane's set-up, both parties, with options o (NULL: IKNP):
 * per party one base-OT sender key (32) and 128 receiver points (32 each),
 * then the back-end's (IKNP: the extension matrix of 256 random OTs, 256 *
 * 128 bits; silent: the first ferret_m base COTs, 16 bytes each, per chunk
 * of OTE_CHUNK rounded up to 128, and the 16-byte code seed). */
uint64_t ot_lane_setup_bytes(const ot_lane_opts *o);
/* What a lane with options o keeps allocated, per party (ot_backend.memory). */
uint64_t ot_lane_memory(const ot_lane_opts *o);

/* Run tasks on the lane as one exchange, both directions: this party sends
 * in task i iff we_send[i]; both parties pass the same tasks in the same
 * order (the peer's we_send negated), filled as for the whole calls (the
 * fields of one kind and side). Binds every task to the lane's back-end,
 * runs their chunks (ot_steps_run, or the back-end's schedule with its
 * refills), and frees the tasks' buffers. Tasks with n == 0 send nothing. */
int ot_run(ot_lane *ln, ot_task *tasks, const uint8_t *we_send, size_t ntasks) WUR;

/* The lane's instances (ot_backend.instance). */
static inline ote_sender *ot_lane_kk_sender(ot_lane *ln) {
    return ln->be->instance(ln, OT_INST_KK_SEND);
}
static inline ote_receiver *ot_lane_kk_receiver(ot_lane *ln) {
    return ln->be->instance(ln, OT_INST_KK_RECV);
}
static inline cot_pool *ot_lane_cots(ot_lane *ln, int we_send) {
    return ln->be->instance(ln, we_send ? OT_INST_COTS_SEND : OT_INST_COTS_RECV);
}

#endif
