/* The wire format of a link (net/link.h): the link hello, then frames.
 *
 * One connection per session carries every stream of it: stream 0 is the
 * session's control stream, streams 1..LANES_MAX the lanes' streams. After
 * an optional TLS 1.3 handshake, each side sends a link hello; then both
 * sides send frames, each a 16-byte header (little-endian) and, for DATA,
 * a payload:
 *
 *   offset size
 *   0      1    kind: DATA, CREDIT, BLOCKED, END or ABORT
 *   1      1    stream: 0..LINK_STREAMS_MAX-1
 *   2      2    reserved, zero
 *   4      4    DATA: payload bytes, 1..FRAME_PAYLOAD_MAX;
 *               CREDIT: bytes of window granted, 1..FRAME_CREDIT_MAX;
 *               others: zero
 *   8      8    DATA: the depth of the flight the bytes belong to (below);
 *               BLOCKED: all credit the sender has received on the stream
 *               (the window included), so a BLOCKED that crossed a CREDIT
 *               is known to be stale; others: zero
 *
 *   DATA     payload bytes of the stream, in order.
 *   CREDIT   the receiver lets the sender send this many more bytes on the
 *            stream (flow control: every stream starts with the window the
 *            receiver announced in its hello; no side ever buffers more
 *            than it granted).
 *   BLOCKED  the sender has bytes for the stream but no credit left. When
 *            both sides are blocked sending on one stream, each grants the
 *            other more (up to its receive-stash cap): the exchange goes
 *            on, as two parties sending large messages at once must.
 *   END      the sender will send nothing more on the stream.
 *   ABORT    the sender gave up on the stream: it neither sends nor reads.
 *
 * Depth (the chain counter of a stream): a flight's bytes carry 1 + the
 * deepest depth the sending lane had consumed when it sent them, so the
 * deepest depth a party sees is the number of one-way messages on the
 * longest chain of waits of the computation ("critical flights"). It
 * costs no payload byte.
 *
 * Link hello (48 bytes):
 *   0  "PRLX"   4  u16 link version   6  u8 kind (client, server, refusal)
 *   7  u8 client: flags (bit 0: it carries a token); refusal: the
 *        parley_status of the refusal, negated (1..63); server: zero
 *   8  u32 window (client, server: the window it grants every stream;
 *                  refusal: the length of the line that follows, 1..512)
 *   12 u32 reserved, zero
 *   16 32 bytes: a client's token digest (zero without a token)
 * A refusal is followed by one printable line saying why. */
#ifndef PARLEY_NET_FRAME_H
#define PARLEY_NET_FRAME_H

#include "util/err.h"

#include <stddef.h>
#include <stdint.h>

/* The most lanes a session runs; the link has one stream more (control). */
#define LANES_MAX 64
#define LINK_STREAMS_MAX (LANES_MAX + 1)

#define FRAME_HEADER_BYTES 16
#define FRAME_PAYLOAD_MAX (256u << 10)
#define FRAME_CREDIT_MAX (1u << 30)

enum frame_kind {
    FRAME_DATA = 1,
    FRAME_CREDIT = 2,
    FRAME_BLOCKED = 3,
    FRAME_END = 4,
    FRAME_ABORT = 5,
};

typedef struct frame_hdr {
    unsigned kind;
    unsigned stream;
    uint32_t len; /* DATA: payload bytes; CREDIT: bytes granted */
    uint64_t arg; /* DATA: depth; BLOCKED: credit received in all */
} frame_hdr;

void frame_encode(uint8_t out[FRAME_HEADER_BYTES], const frame_hdr *f);
/* Parse and check a header from the peer: known kind, stream in range,
 * reserved bytes zero, length within the kind's bounds. PARLEY_E_PROTO with
 * a message naming what is wrong. */
int frame_parse(frame_hdr *f, const uint8_t hdr[FRAME_HEADER_BYTES]) WUR;

#define LINK_HELLO_BYTES 48
#define LINK_VERSION 1
#define LINK_TOKEN_BYTES 32
#define LINK_REFUSAL_MAX 512
#define LINK_WINDOW_MIN (64u << 10)
#define LINK_WINDOW_MAX (64u << 20)

enum { LINK_HELLO_CLIENT = 1, LINK_HELLO_SERVER = 2, LINK_HELLO_REFUSAL = 3 };

typedef struct link_hello {
    unsigned version;
    unsigned kind;
    uint32_t window;      /* client, server */
    uint32_t refusal_len; /* refusal */
    int status;           /* refusal: a negative parley_status */
    int has_token;
    uint8_t token[LINK_TOKEN_BYTES];
} link_hello;

void link_hello_encode(uint8_t out[LINK_HELLO_BYTES], const link_hello *h);
/* The head every hello starts with (the link's, and the session's of
 * nn/hello.h): 4 bytes of magic, the version (16 bits, little-endian),
 * the kind; the other n - 7 bytes of out zero. */
void hello_head_put(uint8_t *out, size_t n, const uint8_t magic[4], unsigned version,
                    unsigned kind);
/* Parse peer bytes. A hello of another link version parses (version set,
 * nothing else checked) so the caller can name both versions; otherwise
 * every field is checked. PARLEY_E_PROTO with a message on bad input. */
int link_hello_parse(link_hello *h, const uint8_t buf[LINK_HELLO_BYTES]) WUR;

#endif
