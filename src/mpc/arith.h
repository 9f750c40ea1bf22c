/* Shares across Z_2 and Z_{2^l}: wrap/carry, MSB, DReLU, MSB-to-wrap, B2A
 * and MUX (docs/PROTOCOLS.md §3, §5.1). Arithmetic shares are uint64_t mod 2^l
 * (1 <= l <= 64), Boolean shares one byte per bit.
 *
 *   function        rounds (flights per party)   wire bits per element
 *   wrap, k bits    mill(k)                      mill(k)
 *   MSB / DReLU     mill(l-1)                    mill(l-1)
 *   MSB-to-wrap     2                            256 + 4 (one (4 choose 1)-OT_1)
 *   B2A into k      2 (silent: 1, mpc_cot1)      128 + k (one COT_k); k = 1 is free
 *   MUX, l bits     2 (silent: 1, mpc_cot1)      2 * (128 + l) (one COT_l each way)
 *
 * mill(k) is the millionaire on k bits (mill.h: 2 + ceil(log2 ceil(k/m))
 * flights, 3828 bits at k = 31). The MUX improves on CrypTFlow2's two
 * chosen-message OTs (2 * (128 + 2l), docs/PROTOCOLS.md §3.4): each party P is COT sender with
 * correlation x_P * (1 - 2 b_P), so the peer with choice b_O receives
 * r + b_O x_P (1 - 2 b_P) and x_P * (b_P ^ b_O) = (x_P b_P - r) + that. */
#ifndef PARLEY_MPC_ARITH_H
#define PARLEY_MPC_ARITH_H

#include "mpc/otb.h"

/* Millionaire digits: 0 = automatic (mill.h), the lane's mill_m if set. */
#define MPC_MILL_AUTO 0
#define MPC_MILL_M MPC_MILL_AUTO
static inline unsigned mpc_m(const mpc_lane *L) { return L->mill_m ? L->mill_m : MPC_MILL_M; }

/* The millionaire input that turns "x_S + x_C >= 2^k" into "v_S > v_C":
 * S: x mod 2^k, C: 2^k - 1 - (x mod 2^k). */
void mpc_wrap_input(uint64_t *v, const uint64_t *x, size_t n, unsigned k, int role);

/* w = [x_S + x_C >= 2^k] over the low k bits (0 <= k <= 64). */
int mpc_wrap(mpc_lane *L, uint8_t *w, const uint64_t *x, size_t n, unsigned k) WUR;
/* b = MSB(x) over Z_{2^l}; DReLU = 1 ^ MSB = [signed(x) >= 0]. */
int mpc_msb(mpc_lane *L, uint8_t *b, const uint64_t *x, size_t n, unsigned l) WUR;
int mpc_drelu(mpc_lane *L, uint8_t *b, const uint64_t *x, size_t n, unsigned l) WUR;
/* Given b = MSB(x) shared, w = [x_S + x_C >= 2^l]: with m_P = msb(x_P),
 * w = m_S ^ m_C ? !MSB : m_S & m_C; one (4 choose 1)-OT_1 (S sends,
 * indexed by C's (b_C, m_C)). */
int mpc_msb_to_wrap(mpc_lane *L, uint8_t *w, const uint8_t *msb, const uint64_t *x, size_t n,
                    unsigned l) WUR;
/* y = b mod 2^k (1 <= k <= 64). */
int mpc_b2a(mpc_lane *L, uint64_t *y, const uint8_t *b, size_t n, unsigned k) WUR;
/* y[j] = b * x[j] mod 2^ls[j] for j < M vectors (one COT of M widths each
 * way). */
int mpc_mux(mpc_lane *L, uint64_t *const *y, const uint8_t *b, const uint64_t *const *x,
            const unsigned *ls, size_t M, size_t n) WUR;

/* Exact wire bytes, both parties, of one call of the lane-level functions
 * above on n elements (m: millionaire digit bits, mpc_m), on oc's backend
 * (otb.h: without the silent COTs' making; their count goes to oc). For
 * the flight model, wrap, MSB, B2A and MUX are whole protocols
 * (mpc/flights.h): each marks its own exchange, and a caller's otb_cost_run
 * after one finds no jobs left. mpc_b2a_bytes_by and mux_prep_bytes only
 * add the OT jobs of b2a_prep and mux_prep: the caller marks the otb_run
 * they are part of. */
uint64_t mpc_wrap_bytes(const ot_costing *oc, size_t n, unsigned k, unsigned m);
uint64_t mpc_msb_bytes(const ot_costing *oc, size_t n, unsigned l, unsigned m); /* = DReLU */
uint64_t mpc_b2a_bytes(const ot_costing *oc, size_t n, unsigned k);
/* The same with the COT sender given (b2a_prep's `sender`; mpc_b2a's is S). */
uint64_t mpc_b2a_bytes_by(const ot_costing *oc, size_t n, unsigned k, int sender);
/* One whole mpc_mux call, its exchange marked for the flight model (the
 * caller's otb_cost_run after it finds no jobs left). */
uint64_t mpc_mux_bytes(const ot_costing *oc, const unsigned *ls, size_t M, size_t n);
/* mux_prep's two COT jobs, for the caller's otb_run (below). */
uint64_t mux_prep_bytes(const ot_costing *oc, const unsigned *ls, size_t M, size_t n);

/* ---- COTs in one flight (back-ends with OT_CAP_RANDOM_OT) ----
 *
 * Each job gives the two parties additive shares mod 2^w of b * u, where
 * the sender holds u (w <= 63 bits) and the receiver the bit b, both known
 * only now. A random OT per element (OTB_RROT: no wire bits; the sender
 * gets R0, R1, the receiver e and R_e) is derandomized with both messages
 * at once, so the whole call is one flight per party
 * (docs/PROTOCOLS.md §5.4): the receiver sends f = b ^ e (1 bit), the
 * sender z = u - (R1 - R0) (w bits). Then e u has shares -R0 (sender) and
 * R_e + e z = R0 + e u (receiver), and b u = e u + f u - 2 f e u: the
 * sender's share is (1 - 2f)(-R0) + f u, the receiver's (1 - 2f)(R_e + e z).
 * f is uniform (e is the hidden choice of a fresh COT), and so is z (R_{1-e}
 * is unknown to the receiver). Wire bits per element: 1 + w, one flight;
 * one COT consumed. */
#define MPC_COT1_MAXW 63 /* RROT's widest messages */
typedef struct cot1_job {
    int sender;        /* MPC_SERVER or MPC_CLIENT */
    size_t n;
    unsigned w;        /* 1..MPC_COT1_MAXW */
    const uint64_t *u; /* sender: n correlations (bits above w ignored) */
    const uint8_t *b;  /* receiver: n choices (bit 0) */
    uint64_t *out;     /* both: n shares mod 2^w */
} cot1_job;
/* Whether a backend can run mpc_cot1 jobs of width w (random OTs, 1 <= w
 * <= MPC_COT1_MAXW): what every one-flight form asks before it runs. */
int mpc_cot1_ok(int backend, unsigned w);
/* Run the jobs (the same shapes, in the same order, on both sides) in one
 * flight each way, after one otb_run of their random OTs (no flight but
 * where a silent batch runs out). */
int mpc_cot1(mpc_lane *L, const cot1_job *jobs, size_t nj) WUR;
/* Exact wire bytes, both parties, of one mpc_cot1 call on these shapes
 * (sender, n, w); marks the random OTs' otb_run and the flight for the
 * flight model. */
uint64_t mpc_cot1_bytes(const ot_costing *oc, const cot1_job *jobs, size_t nj);

/* mpc_cot1 in parts, for a caller that runs the random OTs in its own
 * otb_run and sends the messages inside another exchange (the millionaire's
 * AND rounds, mill.c): cot1_prep appends the jobs' random OTs to rj[*nr..]
 * (at most nj); after that otb_run, cot1_put writes this party's message
 * (cot1_msg_bits of it) and cot1_take reads the peer's and writes the
 * outputs. cot1_free wipes the random OTs (after take, or on error). */
struct bitw;
struct bitr;
typedef struct cot1_state {
    uint64_t *rot;
    size_t words;
} cot1_state;
int cot1_prep(mpc_lane *L, cot1_state *st, const cot1_job *jobs, size_t nj, otb_job *rj,
              size_t *nr) WUR;
uint64_t cot1_msg_bits(const cot1_job *jobs, size_t nj, int role);
void cot1_put(const cot1_state *st, const cot1_job *jobs, size_t nj, int role, struct bitw *w);
void cot1_take(const cot1_state *st, const cot1_job *jobs, size_t nj, int role, struct bitr *r);
void cot1_free(cot1_state *st);
/* The random OTs' jobs of cot1_prep, for the cost functions (otb_job_cost
 * each, in order); returns how many (at most nj). */
size_t cot1_rot_jobs(const cot1_job *jobs, size_t nj, otb_job *rj);

/* ---- composable halves: prepare OT jobs, otb_run them together with
 * others, then finish. A *_state owns its buffers until finish/free. ---- */

typedef struct b2a_state {
    size_t n;
    unsigned k;
    int sender;
    const uint8_t *b;
    uint64_t *buf;  /* sender: x; receiver: out */
    uint64_t *delta;
} b2a_state;
/* Adds one COT job (sender: `sender`) to jobs[*nj]. */
int b2a_prep(mpc_lane *L, b2a_state *s, const uint8_t *b, size_t n, unsigned k, int sender,
             otb_job *jobs, size_t *nj) WUR;
/* y = this party's share of b mod 2^k; frees the state. */
void b2a_finish(mpc_lane *L, b2a_state *s, uint64_t *y);
void b2a_free(b2a_state *s);

typedef struct mux_state {
    size_t n, M;
    unsigned ls[4];
    const uint8_t *b;
    const uint64_t *x[4];
    uint64_t *xs, *delta, *out;
} mux_state;
/* Adds two COT jobs (one each way). M <= 4. */
int mux_prep(mpc_lane *L, mux_state *s, const uint8_t *b, const uint64_t *const *x,
             const unsigned *ls, size_t M, size_t n, otb_job *jobs, size_t *nj) WUR;
/* y[j] (+)= b * x[j]: with add set, adds to y instead of writing. */
void mux_finish(mpc_lane *L, mux_state *s, uint64_t *const *y, int add);
void mux_free(mux_state *s);

#endif
