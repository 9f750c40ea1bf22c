/* A lane: one channel plus the OT state used on it (ARCHITECTURE.md).
 *
 * Each lane holds OT in both directions, so either party can be sender, on
 * one of two backends fixed at set-up:
 *
 *   OT_BACKEND_IKNP    IKNP senders and receivers (w = 128) and KK13 ones
 *                      (w = 256). Set-up: 128 Chou-Orlandi base OTs each
 *                      way; the KK13 base OTs (256 each way) come from IKNP
 *                      random OTs, so public-key work is paid once.
 *   OT_BACKEND_SILENT  IKNP (the streamed COTs of src/lin/ot use it) and a
 *                      Ferret silent-COT sender and receiver (ot/ferret.h)
 *                      for every other OT (ot/silent.h). Set-up: the same
 *                      base OTs, with bit 0 of each IKNP sender's secret
 *                      row set, since that row is also Ferret's Delta; then
 *                      ferret_m raw IKNP COTs each way seed the first batch
 *                      (16 bytes per COT: 2.3 MB each way for FERRET_B11),
 *                      made at the first use.
 *
 * Both parties call ot_lane_setup with the same role-independent sequence
 * and the same options. */
#ifndef PARLEY_OT_LANE_H
#define PARLEY_OT_LANE_H

#include "ot/ot.h"
#include "ot/silent.h"

enum { OT_BACKEND_IKNP = 0, OT_BACKEND_SILENT = 1 };
/* The backend of sessions and benchmarks when not asked for another
 * (docs/BENCHMARKS.md, "Silent OT": fewer bytes, and faster on a network). */
#define OT_BACKEND_DEFAULT OT_BACKEND_SILENT

/* "iknp" / "silent"; -1 for anything else. */
int ot_backend_parse(const char *s);
const char *ot_backend_name(int backend);

typedef struct ot_lane_opts {
    int backend;                 /* OT_BACKEND_* */
    const ferret_params *ferret; /* silent: NULL = FERRET_B11 (tests pass FERRET_TOY) */
} ot_lane_opts;

typedef struct ot_lane {
    chan *ch;
    prg rng;
    int backend;
    ote_sender iknp_s;   /* we send, peer receives */
    ote_receiver iknp_r; /* we receive, peer sends */
    ote_sender kk_s;     /* IKNP backend */
    ote_receiver kk_r;
    ferret fer_s; /* silent backend: we are the COT sender (Delta ours) */
    ferret fer_r;
    silent_stats sil; /* silent backend: what making COTs cost */
} ot_lane;

/* Set up OT in both directions over ch (not owned). seed: all randomness of
 * this party on this lane derives from it. ot_lane_setup is the IKNP
 * backend; o = NULL in ot_lane_setup_ex as well. */
int ot_lane_setup(ot_lane *ln, chan *ch, block seed) WUR;
int ot_lane_setup_ex(ot_lane *ln, chan *ch, block seed, const ot_lane_opts *o) WUR;
void ot_lane_clear(ot_lane *ln);
/* Bytes of one lane's set-up, both parties, with options o (NULL: IKNP):
 * per party one base-OT sender key (32) and 128 receiver points (32 each),
 * then the extension matrix of 256 random OTs (IKNP: 256 * 128 bits) or of
 * the first ferret_m silent base COTs (16 bytes each, per chunk of
 * OTE_CHUNK rounded up to 128). */
uint64_t ot_lane_setup_bytes(const ot_lane_opts *o);

#endif
