/* Fuzz the session's control parsing: the hello parser and the control
 * message reader fed by a peer that sends these bytes. Any input gives ok or a clean error;
 * an accepted hello re-encodes to the same bytes. */
#include "nn/hello.h"
#include "util/mem.h"

#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    session_hello h;
    int rc = hello_parse(&h, data, size);
    if (rc == 0 && h.version == SESSION_VERSION) {
        uint8_t again[HELLO_BYTES];
        hello_encode(again, &h);
        if (memcmp(again, data, HELLO_BYTES) != 0) abort();
    } else if (rc != 0 && rc != PARLEY_E_PROTO) {
        abort();
    }
    /* The same bytes as a stream of control messages from a peer. */
    chan *me, *peer;
    if (chan_pair(&me, &peer) != 0) return 0;
    if (size > (1u << 20)) size = 1u << 20;
    if (chan_send(peer, data, size) != 0 || chan_shutdown(peer) != 0) abort();
    chan_set_timeout(me, 2000);
    for (int i = 0; i < 8; i++) {
        uint8_t *p;
        size_t n;
        static const unsigned want[] = {CTL_HELLO, CTL_MODEL, CTL_READY};
        rc = ctl_recv(me, want[i % 3], 0, &p, &n);
        if (rc > 0) abort();
        if (rc < 0) break;
        mem_free(p);
    }
    chan_close(me);
    chan_close(peer);
    return 0;
}
