/* A link emulator: a TCP relay that makes loopback behave like a network
 * link with a one-way delay and a rate in each direction (docs/NETWORK.md).
 *
 * It listens on one address and, for every connection it accepts, opens
 * one to the upstream address and relays bytes both ways. Each direction
 * of the emulated link is shared by all connections (a session's control
 * connection and lanes cross one link, as they would between two hosts):
 *
 *   - pacing: a token bucket of `burst` bytes refilled at `rate` bytes/s;
 *     the bytes read from a sender leave the link in arrival order, in
 *     segments of at most LINKEM_SEGMENT bytes, each when the bucket
 *     holds its size (rate 0: no pacing);
 *   - delay: a segment reaches the receiver `delay` after it has left;
 *   - buffering: the relay reads from a sender only while the bytes
 *     waiting for the pacer stay under `queue` (the bottleneck's buffer;
 *     default one round trip at the rate, at least 64 KiB), so a sender
 *     that outruns the link blocks in its own socket buffer, as on a real
 *     host; bytes in flight (at most rate * delay) are held apart.
 *
 * It also measures what crossed: bytes per direction, and the longest
 * chain of one-way flights (`chain`): every byte read from a side gets
 * depth 1 + the largest depth of the bytes delivered to that side so
 * far, each side being one party (all of its connections), and `chain` is
 * the largest depth seen. A party's consecutive sends with nothing
 * received between them are one flight; a reply to a reply is the next.
 * (Bytes sent just before a delivery but read by the relay just after it
 * count one deeper, so on a busy machine the figure can exceed the
 * protocol's by a little; it never falls below it.)
 *
 * Single-threaded (poll), any number of connections up to max_conns. */
#ifndef PARLEY_TOOLS_LINKEM_H
#define PARLEY_TOOLS_LINKEM_H

#include <stddef.h>
#include <stdint.h>

#define LINKEM_SEGMENT 16384 /* pacing and delivery granularity, bytes */

/* Direction 0 is client -> server (from the listening side to upstream),
 * direction 1 server -> client. */
enum { LINKEM_UP = 0, LINKEM_DOWN = 1 };

typedef struct linkem_cfg {
    const char *listen_host; /* e.g. "127.0.0.1" */
    int listen_port;         /* 0: the kernel picks (linkem_port) */
    const char *up_host;
    int up_port;
    double delay_ms[2]; /* one-way delay per direction, >= 0 */
    double rate_bps[2]; /* bytes per second per direction; 0 = unlimited */
    uint64_t queue[2];  /* bytes ahead of the pacer; 0 = default (above) */
    uint64_t burst[2];  /* token bucket depth; 0 = LINKEM_SEGMENT */
    unsigned max_conns; /* 0 = 1024 */
    void *trace;        /* FILE *: a line per new flight delivered (NULL: none) */
} linkem_cfg;

typedef struct linkem_stats {
    uint64_t conns;         /* connections accepted so far */
    uint64_t active;        /* of them, still open */
    uint64_t bytes[2];      /* delivered, per direction */
    uint64_t chain;         /* longest chain of one-way flights */
    double first_s, last_s; /* seconds (monotonic) of the first and last byte delivered */
} linkem_stats;

typedef struct linkem linkem;

/* Bind the listener and check the configuration. 0, or -1 with a message
 * in err (cap bytes). */
int linkem_open(linkem **out, const linkem_cfg *cfg, char *err, size_t cap);
int linkem_port(const linkem *e);
/* Relay until stop_fd (a pipe or eventfd) becomes readable. 0, or -1 with
 * a message in err if the relay itself fails (a connection that fails is
 * closed, not an error). */
int linkem_run(linkem *e, int stop_fd, char *err, size_t cap);
/* Safe only while linkem_run is not running (or from its thread). */
void linkem_stats_get(const linkem *e, linkem_stats *st);
void linkem_close(linkem *e);

/* The effective queue and burst of direction d (defaults applied). */
uint64_t linkem_queue_of(const linkem_cfg *cfg, int d);
uint64_t linkem_burst_of(const linkem_cfg *cfg, int d);

#endif
