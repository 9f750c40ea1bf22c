/* Lane set-up: base OTs both ways, then KK13 seeds from IKNP or the first
 * silent-OT base COTs from raw IKNP rows; see lane.h. */
#include "ot/lane.h"

#include "crypto/baseot.h"
#include "util/mem.h"

#include <string.h>

int ot_backend_parse(const char *s) {
    if (!strcmp(s, "iknp")) return OT_BACKEND_IKNP;
    if (!strcmp(s, "silent")) return OT_BACKEND_SILENT;
    return -1;
}

const char *ot_backend_name(int backend) {
    return backend == OT_BACKEND_SILENT ? "silent" : "iknp";
}

/* KK13 base OTs: 256 random OTs each way over IKNP. Our KK sender needs
 * keys for its secret s' as OT receiver; our KK receiver needs key pairs as
 * OT sender. Both parties receive first, then send. */
static int setup_kk(ot_lane *ln, uint8_t *sbits, block *keys_r, block (*keys_s)[2]) {
    chan *ch = ln->ch;
    prg_bits(&ln->rng, sbits, 256);
    TRY(iknp_rot_recv(&ln->iknp_r, ch, keys_r, sbits, 256));
    TRY(iknp_rot_send(&ln->iknp_s, ch, keys_s, 256));
    TRY(ote_sender_init(&ln->kk_s, 256, sbits, keys_r));
    return ote_receiver_init(&ln->kk_r, 256, (const block(*)[2])keys_s);
}

/* The first base COTs of both Ferret instances: m raw IKNP rows each way
 * (one flight per party). Rows are COTs with Delta = s, whose bit 0 is
 * set: the sender clears bit 0 of its q, the receiver sets bit 0 of its t
 * to its choice (t ^ q = c * s keeps holding, as bit 0 of q is bit 0 of t
 * xor c). */
static int setup_silent(ot_lane *ln, const ferret_params *fp) {
    size_t m = ferret_m(fp);
    block *t = mem_alloc(m, sizeof(block)), *q = mem_alloc(m, sizeof(block));
    uint8_t *c = mem_alloc(m, 1);
    int rc = (!t || !q || !c) ? err_set(PARLEY_E_NOMEM, "out of memory for silent-OT set-up") : 0;
    if (rc == 0) {
        prg_bits(&ln->rng, c, m);
        rc = iknp_raw_recv(&ln->iknp_r, ln->ch, t, c, m);
    }
    if (rc == 0) rc = chan_flush(ln->ch);
    if (rc == 0) rc = iknp_raw_send(&ln->iknp_s, ln->ch, q, m);
    if (rc == 0) {
        for (size_t i = 0; i < m; i++) {
            t[i].w[0] = (t[i].w[0] & ~(uint64_t)1) | c[i];
            q[i].w[0] &= ~(uint64_t)1;
        }
        rc = ferret_init(&ln->fer_r, fp, 0, block_make(0, 0), t, block_make(0, 0));
    }
    if (rc == 0) rc = ferret_init(&ln->fer_s, fp, 1, ln->iknp_s.s[0], q, prg_block(&ln->rng));
    if (t) mem_free_wipe(t, m * sizeof(block));
    if (q) mem_free_wipe(q, m * sizeof(block));
    if (c) mem_free_wipe(c, m);
    return rc;
}

int ot_lane_setup(ot_lane *ln, chan *ch, block seed) { return ot_lane_setup_ex(ln, ch, seed, NULL); }

int ot_lane_setup_ex(ot_lane *ln, chan *ch, block seed, const ot_lane_opts *o) {
    memset(ln, 0, sizeof *ln);
    ln->ch = ch;
    ln->backend = o ? o->backend : OT_BACKEND_IKNP;
    PARLEY_CHECK(ln->backend == OT_BACKEND_IKNP || ln->backend == OT_BACKEND_SILENT);
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
    if (ln->backend == OT_BACKEND_SILENT) sbits[0] = 1; /* Delta's bit 0 (ferret.h) */
    rc = baseot_send_begin(&bs, ch, &ln->rng);
    if (rc == 0) rc = chan_flush(ch);
    if (rc == 0) rc = baseot_recv(ch, keys_r, sbits, 128, &ln->rng);
    if (rc == 0) rc = chan_flush(ch);
    if (rc == 0) rc = baseot_send_finish(&bs, ch, keys_s, 128);
    if (rc == 0) rc = ote_sender_init(&ln->iknp_s, 128, sbits, keys_r);
    if (rc == 0) rc = ote_receiver_init(&ln->iknp_r, 128, (const block(*)[2])keys_s);

    /* 2. KK13, or the silent backend's first base COTs. */
    if (rc == 0 && ln->backend == OT_BACKEND_IKNP) rc = setup_kk(ln, sbits, keys_r, keys_s);
    if (rc == 0 && ln->backend == OT_BACKEND_SILENT)
        rc = setup_silent(ln, o->ferret ? o->ferret : &FERRET_B11);

    mem_wipe(sbits, sizeof sbits);
    mem_wipe(keys_r, sizeof keys_r);
    mem_free_wipe(keys_s, 256 * sizeof *keys_s);
    mem_wipe(&bs, sizeof bs);
    if (rc < 0) ot_lane_clear(ln);
    return rc;
}

uint64_t ot_lane_setup_bytes(const ot_lane_opts *o) {
    uint64_t ext = 256 * 128 / 8;
    if (o && o->backend == OT_BACKEND_SILENT) {
        size_t m = ferret_m(o->ferret ? o->ferret : &FERRET_B11);
        ext = 0;
        for (size_t i0 = 0; i0 < m; i0 += OTE_CHUNK)
            ext += 16 * ote_padded(m - i0 < OTE_CHUNK ? m - i0 : OTE_CHUNK);
    }
    return 2 * (32 + 32 * 128 + ext);
}

void ot_lane_clear(ot_lane *ln) {
    if (ln->iknp_s.keys) ote_sender_clear(&ln->iknp_s);
    if (ln->iknp_r.k0) ote_receiver_clear(&ln->iknp_r);
    if (ln->kk_s.keys) ote_sender_clear(&ln->kk_s);
    if (ln->kk_r.k0) ote_receiver_clear(&ln->kk_r);
    ferret_clear(&ln->fer_s);
    ferret_clear(&ln->fer_r);
    prg_clear(&ln->rng);
    ln->ch = NULL;
}
