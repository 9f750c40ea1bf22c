/* Fuzz everything parley reads from an OT peer: the input plays the peer's
 * side of the lane set-up (base-OT group elements, the IKNP matrix) and of
 * a correlated OT and a KK13 OT. Whatever it is, the honest side must end
 * with ok or a clean error — never a crash, a hang or an out-of-bounds read.
 * The first byte picks which side the honest party plays. */
#include "ot/lane.h"

#include <stdlib.h>

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
    int rc = ot_lane_setup(&ln, me, block_make(1, 2));
    if (rc == 0) {
        enum { N = 300 };
        static uint64_t x[N * 16], out[N];
        static uint8_t choices[N];
        unsigned l = 32;
        for (int i = 0; i < N; i++) choices[i] = (uint8_t)(i % 16);
        if (role == 0) {
            rc = iknp_cot_send(&ln.iknp_s, me, x, x, N, &l, 1);
            if (rc == 0) rc = kkot_send(&ln.kk_s, me, x, N, 16, 4);
        } else {
            uint8_t bits[N];
            for (int i = 0; i < N; i++) bits[i] = choices[i] & 1;
            rc = iknp_cot_recv(&ln.iknp_r, me, out, bits, N, &l, 1);
            if (rc == 0) rc = kkot_recv(&ln.kk_r, me, out, choices, N, 16, 4);
        }
        ot_lane_clear(&ln);
    }
    if (rc > 0) abort();
    chan_close(me);
    chan_close(peer);
    return 0;
}
