/* Lane set-up; see lanes.h. */
#include "net/lanes.h"

#include "crypto/prg.h"

#include <string.h>
#include <time.h>

static const uint8_t lane_magic[4] = {'P', 'R', 'L', 'N'};

void lane_hello_encode(uint8_t out[LANE_HELLO_BYTES], const lane_hello *h) {
    memcpy(out, lane_magic, 4);
    out[4] = LANE_WIRE_VERSION;
    out[5] = (uint8_t)h->index;
    out[6] = (uint8_t)h->count;
    out[7] = 0;
    for (int i = 0; i < 8; i++)
        out[8 + i] = (uint8_t)(h->tag >> (8 * i));
}

int lane_hello_parse(lane_hello *out, const uint8_t *buf, size_t len) {
    if (len != LANE_HELLO_BYTES)
        return err_set(PARLEY_E_PROTO, "lane hello: expected %d bytes, got %zu", LANE_HELLO_BYTES,
                       len);
    if (memcmp(buf, lane_magic, 4) != 0)
        return err_set(PARLEY_E_PROTO, "lane hello: not a parley peer (bad magic)");
    if (buf[4] != LANE_WIRE_VERSION)
        return err_set(PARLEY_E_PROTO, "lane hello: peer speaks wire version %u, we speak %u",
                       buf[4], LANE_WIRE_VERSION);
    if (buf[7] != 0) return err_set(PARLEY_E_PROTO, "lane hello: reserved byte is not zero");
    unsigned idx = buf[5], cnt = buf[6];
    if (cnt == 0 || cnt > LANES_MAX)
        return err_set(PARLEY_E_PROTO, "lane hello: lane count %u outside 1..%d", cnt, LANES_MAX);
    if (idx >= cnt)
        return err_set(PARLEY_E_PROTO, "lane hello: lane index %u not below count %u", idx, cnt);
    out->index = idx;
    out->count = cnt;
    out->tag = 0;
    for (int i = 0; i < 8; i++)
        out->tag |= (uint64_t)buf[8 + i] << (8 * i);
    return 0;
}

void lanes_close(chan **lanes, unsigned n) {
    for (unsigned i = 0; i < n; i++) {
        chan_close(lanes[i]);
        lanes[i] = NULL;
    }
}

int lanes_accept(chan **lanes, unsigned n, chan_listener *l, int timeout_ms) {
    PARLEY_CHECK(n >= 1 && n <= LANES_MAX);
    for (unsigned i = 0; i < n; i++)
        lanes[i] = NULL;
    uint64_t tag = 0;
    int rc = 0;
    for (unsigned got = 0; got < n; got++) {
        chan *c;
        rc = chan_accept(l, &c, timeout_ms);
        if (rc < 0) break;
        chan_set_timeout(c, timeout_ms);
        uint8_t buf[LANE_HELLO_BYTES];
        lane_hello h;
        rc = chan_recv(c, buf, sizeof buf);
        if (rc == 0) rc = lane_hello_parse(&h, buf, sizeof buf);
        if (rc == 0 && h.count != n)
            rc = err_set(PARLEY_E_MISMATCH, "the client opened %u lanes, the server expects %u",
                         h.count, n);
        if (rc == 0 && got > 0 && h.tag != tag)
            rc = err_set(PARLEY_E_PROTO, "lane %u belongs to another session", h.index);
        if (rc == 0 && lanes[h.index])
            rc = err_set(PARLEY_E_PROTO, "lane %u opened twice", h.index);
        if (rc < 0) {
            chan_close(c);
            break;
        }
        tag = h.tag;
        chan_reset_stats(c);
        chan_set_timeout(c, CHAN_DEFAULT_TIMEOUT_MS);
        lanes[h.index] = c;
    }
    if (rc < 0) lanes_close(lanes, n);
    return rc;
}

int lanes_connect(chan **lanes, unsigned n, const char *host, int port, int timeout_ms) {
    uint64_t tag;
    rand_os(&tag, sizeof tag);
    return lanes_connect_tag(lanes, n, host, port, timeout_ms, tag);
}

int lanes_connect_tag(chan **lanes, unsigned n, const char *host, int port, int timeout_ms,
                      uint64_t tag) {
    PARLEY_CHECK(n >= 1 && n <= LANES_MAX);
    for (unsigned i = 0; i < n; i++)
        lanes[i] = NULL;
    lane_hello h = {.count = n, .tag = tag};
    int rc = 0;
    for (unsigned i = 0; i < n && rc == 0; i++) {
        rc = chan_connect(&lanes[i], host, port, timeout_ms);
        if (rc < 0) break;
        uint8_t buf[LANE_HELLO_BYTES];
        h.index = i;
        lane_hello_encode(buf, &h);
        rc = chan_send(lanes[i], buf, sizeof buf);
        if (rc == 0) rc = chan_flush(lanes[i]);
        chan_reset_stats(lanes[i]);
    }
    if (rc < 0) lanes_close(lanes, n);
    return rc;
}

#define LANE_QUIET_MS 5000 /* a new connection must say what it is within this */

int lanes_accept_session(chan **lanes, unsigned n, chan_listener *l, int timeout_ms, uint64_t tag,
                         lanes_other_fn other, void *ctx) {
    PARLEY_CHECK(n >= 1 && n <= LANES_MAX);
    for (unsigned i = 0; i < n; i++)
        lanes[i] = NULL;
    struct timespec t0;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    unsigned got = 0;
    int rc = 0;
    while (got < n) {
        struct timespec t1;
        clock_gettime(CLOCK_MONOTONIC, &t1);
        long spent = (t1.tv_sec - t0.tv_sec) * 1000 + (t1.tv_nsec - t0.tv_nsec) / 1000000;
        if (spent >= timeout_ms) {
            rc = err_set(PARLEY_E_TIMEOUT, "the client opened %u of %u lanes in %d ms", got, n,
                         timeout_ms);
            break;
        }
        chan *c;
        rc = chan_accept(l, &c, (int)(timeout_ms - spent));
        if (rc < 0) {
            if (rc == PARLEY_E_TIMEOUT)
                rc = err_set(PARLEY_E_TIMEOUT, "the client opened %u of %u lanes in %d ms", got, n,
                             timeout_ms);
            break;
        }
        chan_set_timeout(c, LANE_QUIET_MS);
        uint8_t buf[LANE_HELLO_BYTES];
        if (chan_peek(c, buf, 4) < 0) { /* silent or gone: not ours */
            chan_close(c);
            continue;
        }
        if (memcmp(buf, lane_magic, 4) != 0) {
            if (other)
                other(ctx, c);
            else
                chan_close(c);
            continue;
        }
        lane_hello h;
        if (chan_recv(c, buf, sizeof buf) < 0 || lane_hello_parse(&h, buf, sizeof buf) < 0 ||
            h.tag != tag || h.count != n || lanes[h.index]) {
            chan_close(c); /* another session's lane, or a broken one */
            continue;
        }
        chan_reset_stats(c);
        chan_set_timeout(c, CHAN_DEFAULT_TIMEOUT_MS);
        lanes[h.index] = c;
        got++;
    }
    if (rc < 0) lanes_close(lanes, n);
    return rc;
}
