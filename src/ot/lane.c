/* Lane set-up: base OTs both ways, then KK13 seeds from IKNP; see lane.h. */
#include "ot/lane.h"

#include "crypto/baseot.h"
#include "util/mem.h"

int ot_lane_setup(ot_lane *ln, chan *ch, block seed) {
    memset(ln, 0, sizeof *ln);
    ln->ch = ch;
    prg_seed(&ln->rng, seed);

    baseot_sender bs;
    uint8_t sbits[256];
    block keys_r[256];        /* base-OT receiver keys (for our OT senders) */
    block(*keys_s)[2] = NULL; /* base-OT sender keys (for our OT receivers) */
    int rc = 0;
    keys_s = mem_alloc(256, sizeof *keys_s);
    if (!keys_s) return PARLEY_E_NOMEM;

    /* 1. Chou-Orlandi, both directions at once: 2 flights each way. */
    prg_bits(&ln->rng, sbits, 128);
    rc = baseot_send_begin(&bs, ch, &ln->rng);
    if (rc == 0) rc = chan_flush(ch);
    if (rc == 0) rc = baseot_recv(ch, keys_r, sbits, 128, &ln->rng);
    if (rc == 0) rc = chan_flush(ch);
    if (rc == 0) rc = baseot_send_finish(&bs, ch, keys_s, 128);
    if (rc == 0) rc = ote_sender_init(&ln->iknp_s, 128, sbits, keys_r);
    if (rc == 0) rc = ote_receiver_init(&ln->iknp_r, 128, (const block(*)[2])keys_s);

    /* 2. KK13 base OTs: 256 random OTs each way over IKNP. Our KK sender
     * needs keys for its secret s' as OT receiver; our KK receiver needs
     * key pairs as OT sender. Both parties receive first, then send. */
    if (rc == 0) {
        prg_bits(&ln->rng, sbits, 256);
        rc = iknp_rot_recv(&ln->iknp_r, ch, keys_r, sbits, 256);
    }
    if (rc == 0) rc = iknp_rot_send(&ln->iknp_s, ch, keys_s, 256);
    if (rc == 0) rc = ote_sender_init(&ln->kk_s, 256, sbits, keys_r);
    if (rc == 0) rc = ote_receiver_init(&ln->kk_r, 256, (const block(*)[2])keys_s);

    mem_wipe(sbits, sizeof sbits);
    mem_wipe(keys_r, sizeof keys_r);
    mem_free_wipe(keys_s, 256 * sizeof *keys_s);
    mem_wipe(&bs, sizeof bs);
    if (rc < 0) ot_lane_clear(ln);
    return rc;
}

uint64_t ot_lane_setup_bytes(void) { return 2 * (32 + 32 * 128 + 256 * 128 / 8); }

void ot_lane_clear(ot_lane *ln) {
    if (ln->iknp_s.keys) ote_sender_clear(&ln->iknp_s);
    if (ln->iknp_r.k0) ote_receiver_clear(&ln->iknp_r);
    if (ln->kk_s.keys) ote_sender_clear(&ln->kk_s);
    if (ln->kk_r.k0) ote_receiver_clear(&ln->kk_r);
    prg_clear(&ln->rng);
    ln->ch = NULL;
}
