/* Fuzz everything parley reads from an OT peer: the input plays the peer's
 * side of the lane set-up (base-OT group elements, the IKNP matrix) and of
 * a correlated OT, a KK13 OT and a streamed COT; or, on the silent backend,
 * of its set-up (raw IKNP rows), the Ferret batches (tree messages) and
 * correlated, 1-out-of-N and raw random COTs across several batches.
 * Whatever it is, the honest side must end with ok or a clean error —
 * never a crash, a hang or an out-of-bounds read. Bit 0 of the first byte
 * picks which side the honest party plays, bit 1 the silent backend (with
 * FERRET_TOY, so a few batches fit the input). */
#include "ot/lane.h"

#include <stdlib.h>

/* A small streamed-COT layout: OT i has i % 5 correlations of 1 + i % 64 bits. */
static uint64_t fz_vals[8];
static void fz_shape(void *ctx, size_t i, size_t *M, unsigned *b) {
    *M = i % 5;
    *b = 1 + (unsigned)(i % 64);
}
static const uint64_t *fz_delta(void *ctx, size_t i, size_t M) { return fz_vals; }
static void fz_choices(void *ctx, size_t first, size_t count, uint8_t *c) {
    for (size_t k = 0; k < count; k++) c[k] = (uint8_t)((first + k) & 1);
}
static void fz_out(void *ctx, size_t i, const uint64_t *v, size_t M, unsigned b) {}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size < 1) return 0;
    int role = data[0] & 1;
    chan *me, *peer;
    if (chan_pair(&me, &peer) != 0) return 0;
    /* The peer's bytes are all there at once; then the peer stops sending
     * (but keeps its end open, so our own sends still go through). */
    if (size > (1u << 20)) size = 1u << 20;
    if (chan_send(peer, data + 1, size - 1) != 0 || chan_shutdown(peer) != 0) abort();
    chan_set_timeout(me, 2000);
    ot_lane ln;
    int silent = (data[0] >> 1) & 1;
    ot_lane_opts o = {.backend = silent ? OT_BACKEND_SILENT : OT_BACKEND_IKNP, .ferret = &FERRET_TOY};
    int rc = ot_lane_setup_ex(&ln, me, block_make(1, 2), &o);
    if (rc == 0 && silent) {
        enum { N = 300, R = 150000 };
        static uint64_t x[N * 16], out[N * 16];
        static uint8_t choices[N];
        static block cots[R];
        unsigned l = 32;
        for (int i = 0; i < N; i++) choices[i] = (uint8_t)(i % 16);
        if (role == 0) {
            rc = silent_cot_send(ot_lane_cots(&ln, 1), me, x, x, N, &l, 1);
            if (rc == 0) rc = silent_kkot_send(ot_lane_cots(&ln, 1), me, x, N, 16, 4);
            if (rc == 0) rc = silent_rcot_send(ot_lane_cots(&ln, 1), me, cots, R); /* a second batch */
        } else {
            rc = silent_cot_recv(ot_lane_cots(&ln, 0), me, out, choices, N, &l, 1);
            if (rc == 0) rc = silent_kkot_recv(ot_lane_cots(&ln, 0), me, out, choices, N, 16, 4);
            if (rc == 0) rc = silent_rcot_recv(ot_lane_cots(&ln, 0), me, cots, R);
        }
        ot_lane_clear(&ln);
    } else if (rc == 0) {
        enum { N = 300 };
        static uint64_t x[N * 16], out[N];
        static uint8_t choices[N];
        unsigned l = 32;
        cotv_io io = {NULL, 4, fz_shape, fz_delta, fz_choices, fz_out};
        for (int i = 0; i < N; i++) choices[i] = (uint8_t)(i % 16);
        if (role == 0) {
            rc = iknp_cot_send(&ln.iknp_s, me, x, x, N, &l, 1);
            if (rc == 0) rc = kkot_send(ot_lane_kk_sender(&ln), me, x, N, 16, 4);
            if (rc == 0) rc = iknp_cotv_send(&ln.iknp_s, me, N, &io);
        } else {
            uint8_t bits[N];
            for (int i = 0; i < N; i++) bits[i] = choices[i] & 1;
            rc = iknp_cot_recv(&ln.iknp_r, me, out, bits, N, &l, 1);
            if (rc == 0) rc = kkot_recv(ot_lane_kk_receiver(&ln), me, out, choices, N, 16, 4);
            if (rc == 0) rc = iknp_cotv_recv(&ln.iknp_r, me, N, &io);
        }
        ot_lane_clear(&ln);
    }
    if (rc > 0) abort();
    chan_close(me);
    chan_close(peer);
    return 0;
}
