/* A lane: one channel plus the OT state used on it (ARCHITECTURE.md).
 *
 * Each lane holds OT extension in both directions, so either party can be
 * sender: an IKNP sender and receiver (w = 128) and a KK13 sender and
 * receiver (w = 256), plus a PRG. Set-up runs 128 Chou-Orlandi base OTs in
 * each direction; the KK13 base OTs (256 each way) come from IKNP random
 * OTs, so public-key work is paid once. Both parties call ot_lane_setup with
 * the same role-independent sequence. */
#ifndef PARLEY_OT_LANE_H
#define PARLEY_OT_LANE_H

#include "ot/ot.h"

typedef struct ot_lane {
    chan *ch;
    prg rng;
    ote_sender iknp_s;   /* we send, peer receives */
    ote_receiver iknp_r; /* we receive, peer sends */
    ote_sender kk_s;
    ote_receiver kk_r;
} ot_lane;

/* Set up OT in both directions over ch (not owned). seed: all randomness of
 * this party on this lane derives from it. */
int ot_lane_setup(ot_lane *ln, chan *ch, block seed) WUR;
void ot_lane_clear(ot_lane *ln);
/* Bytes of one lane's set-up, both parties: per party one base-OT sender
 * key (32) and 128 receiver points (32 each), then the extension matrix of
 * 256 random OTs (256 * 128 bits). */
uint64_t ot_lane_setup_bytes(void);

#endif
