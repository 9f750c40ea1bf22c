/* The session's control messages: the versioned hello and framed messages.
 *
 * Control traffic runs on a connection of its own before the lanes open:
 *   C -> S  HELLO (kind client: version)
 *   S -> C  HELLO (kind server: version, mode, l, s, lanes, reveal, OT
 *           backend) or REJECT
 *   S -> C  MODEL (the public model), C -> S  READY or REJECT
 *   S -> C  LANES (a random tag the client's lanes must carry, so lanes of
 *           this session are told from other clients' connections)
 *   (the lanes open and the inference runs)
 *   S -> C  REPORT (the server's flights, bytes sent and seconds, so the
 *           client can report the costs of both sides)
 * A frame is [type u32][length u32][payload], little-endian; each type has a
 * cap on its length, checked before anything is allocated. A REJECT carries
 * one printable line naming what is wrong, which the other side prints. */
#ifndef PARLEY_NN_HELLO_H
#define PARLEY_NN_HELLO_H

#include "net/chan.h"

#include <stddef.h>
#include <stdint.h>

#define SESSION_VERSION 1
#define HELLO_BYTES 16

enum { HELLO_CLIENT = 1, HELLO_SERVER = 2 };
enum { MODE_OT = 0, MODE_HE = 1 };
enum { REVEAL_LOGITS = 0, REVEAL_LABEL = 1 };

typedef struct session_hello {
    unsigned kind;    /* HELLO_CLIENT or HELLO_SERVER */
    unsigned version; /* SESSION_VERSION of the sender */
    unsigned mode;    /* server: MODE_OT or MODE_HE */
    unsigned l, s;    /* server: ring width 1..64, scale 0..l-1 */
    unsigned lanes;   /* server: 1..LANES_MAX */
    unsigned reveal;  /* server: REVEAL_LOGITS or REVEAL_LABEL */
    unsigned ot;      /* server: OT_BACKEND_IKNP or OT_BACKEND_SILENT (byte 12; 0, what
                       * peers before the silent backend sent, is IKNP) */
} session_hello;

void hello_encode(uint8_t out[HELLO_BYTES], const session_hello *h);
/* Parse peer bytes. A hello of another version parses (so the caller can
 * name both versions); every other field is checked for its kind.
 * PARLEY_E_PROTO with a message on bad input. */
int hello_parse(session_hello *out, const uint8_t *buf, size_t len) WUR;

enum {
    FRAME_HELLO = 1,
    FRAME_REJECT = 2,
    FRAME_MODEL = 3,
    FRAME_READY = 4,
    FRAME_REPORT = 5,
    FRAME_LANES = 6
};
#define FRAME_LANES_BYTES 8   /* the session's lane tag (u64) */
#define FRAME_REPORT_BYTES 24 /* server's flights, bytes sent, microseconds (u64 each) */
#define FRAME_MAX_REJECT 512
#define FRAME_MAX_MODEL (64u << 20)

/* Send one frame and flush. */
int frame_send(chan *ch, unsigned type, const void *payload, size_t len) WUR;
/* Receive one frame whose type must be `want` or FRAME_REJECT. On a REJECT
 * returns PARLEY_E_MISMATCH with "the peer refused: <its line>". The payload
 * (NULL if empty) is the caller's to mem_free. */
int frame_recv(chan *ch, unsigned want, uint8_t **payload, size_t *len) WUR;
/* Send a REJECT with a printf-style line (cut to FRAME_MAX_REJECT). */
int frame_reject(chan *ch, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Check a frame header (8 bytes) from the peer: known type, length within
 * that type's cap. */
int frame_header_parse(unsigned *type, size_t *len, const uint8_t hdr[8]) WUR;

#endif
