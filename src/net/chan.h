/* A channel: one stream of a link (net/link.h) between the two parties —
 * buffered, counted, with timeouts.
 *
 * chan_send appends to a send buffer (handed to the link when full);
 * chan_flush hands everything over and ends a message flight. A party never
 * deadlocks when both sides send large messages at once: the link keeps
 * reading while a write waits (net/link.h). chan_recv first pushes out
 * pending sends (without counting a flight), so a party that waits for an
 * answer has always sent its question.
 *
 * Counters are exact: bytes_sent / bytes_recv are payload bytes, flights the
 * number of chan_flush calls that carried data (one message flight each);
 * the link's framing is counted apart (link_stats). depth is the stream's
 * chain counter (net/frame.h): the deepest flight it has sent or consumed;
 * it is not reset by chan_reset_stats.
 *
 * Every failure (peer closed, short read, timeout, refused) returns a
 * negative parley_status with a message, and is sticky: later calls on the
 * same channel fail at once with the same status. A channel is used by one
 * thread at a time (chan_abort may come from another). */
#ifndef PARLEY_NET_CHAN_H
#define PARLEY_NET_CHAN_H

#include "util/err.h"

#include <stddef.h>
#include <stdint.h>

typedef struct chan chan;
typedef struct chan_listener chan_listener;

typedef struct chan_stats {
    uint64_t bytes_sent;
    uint64_t bytes_recv;
    uint64_t flights;
    uint64_t depth;
} chan_stats;

#define CHAN_DEFAULT_TIMEOUT_MS 300000

/* Listen on host:port (port 0: the kernel picks one; read it back with
 * chan_listener_port). */
int chan_listen(chan_listener **out, const char *host, int port) WUR;
int chan_listener_port(const chan_listener *l);
int chan_listener_fd(const chan_listener *l);
void chan_listener_close(chan_listener *l);
/* One plaintext link with one stream, returned as its channel (chan_close
 * closes the link). chan_accept waits up to timeout_ms for a connection;
 * chan_connect retries refused attempts until timeout_ms has passed;
 * chan_pair makes two connected channels in this process (a socketpair). */
int chan_accept(chan_listener *l, chan **out, int timeout_ms) WUR;
int chan_connect(chan **out, const char *host, int port, int timeout_ms) WUR;
int chan_pair(chan **a, chan **b) WUR;

void chan_set_timeout(chan *c, int timeout_ms);
int chan_send(chan *c, const void *buf, size_t n) WUR;
int chan_recv(chan *c, void *buf, size_t n) WUR;
int chan_flush(chan *c) WUR;
/* The next n (<= 64 KiB) bytes the peer sends, without consuming them (a
 * later chan_recv returns them) and without counting them. */
int chan_peek(chan *c, void *buf, size_t n) WUR;
/* 0, or the sticky error of the channel. */
int chan_status(const chan *c);
const char *chan_error(const chan *c);

const chan_stats *chan_get_stats(const chan *c);
void chan_reset_stats(chan *c);
/* The chain counter of the stream: the deepest flight its lane has
 * consumed (what the next flight's depth is one more than). A party's join
 * raises every lane to the deepest of them (mpc/party.c). */
uint64_t chan_depth(const chan *c);
void chan_depth_raise(chan *c, uint64_t depth);
/* Flush, then close our sending side: the peer reads what was sent, then
 * sees the end of the stream. The channel can still receive. */
int chan_shutdown(chan *c) WUR;
/* Stop both directions at once without flushing (after a local failure, so
 * the peer sees the end instead of waiting for a timeout). The channel fails
 * every later call. */
void chan_abort(chan *c);
/* A channel from chan_accept, chan_connect or chan_pair: close its link. A
 * stream of a link made otherwise: nothing (link_close frees it). NULL is
 * fine. */
void chan_close(chan *c);

/* Convenience for fixed-width integers (little-endian on the wire). */
int chan_send_u64(chan *c, uint64_t v) WUR;
int chan_recv_u64(chan *c, uint64_t *v) WUR;

#endif
