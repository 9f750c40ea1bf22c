/* The session's control messages: the versioned hello and the messages
 * of the control stream (stream 0 of the session's link, net/link.h).
 *
 *   C -> S  HELLO (kind client: version, the batch it brings)
 *   S -> C  HELLO (kind server: version, mode, l, s, lanes, reveal, OT
 *           backend, the batch agreed) or REJECT (a batch the model or
 *           the server's limit does not take; a busy server)
 *   S -> C  MODEL (the public model), C -> S  READY or REJECT
 *   (the lanes' streams carry the inference)
 *   S -> C  REPORT (the server's flights, bytes sent and seconds, so the
 *           client can report the costs of both sides)
 * A control message is [type u32][length u32][payload], little-endian; each
 * type has a cap on its length, checked before anything is allocated. A
 * REJECT carries one printable line naming what is wrong, which the other
 * side prints. (Control messages are not the link's frames: those carry
 * every stream, this stream included.) */
#ifndef PARLEY_NN_HELLO_H
#define PARLEY_NN_HELLO_H

#include "net/chan.h"

#include <stddef.h>
#include <stdint.h>

/* 2: one connection per session (net/link.h); 3: the silent set-up's boot
 * batch (ot/ferret.h) and sibling layers side by side (exec_group_end);
 * 4: sibling convolutions merged (exec_lin_group_end); 5: a projection
 * shortcut's two convolutions merged (EXEC_LIN_SUM); 6: HE output packing
 * (the set-up's Galois keys, packed plans); 7: the HE planner's exchange
 * rate 16 bytes/us (other plans); 8: small sessions on FERRET_BOOT's set
 * (cost_session_ferret); 9: the server's choice of the millionaire's
 * leaves (byte 15, hello.leaves): peers of different versions would run
 * different messages, so they refuse each other at the hello. */
#define SESSION_VERSION 9
#define HELLO_BYTES 16

enum { HELLO_CLIENT = 1, HELLO_SERVER = 2 };
enum { MODE_OT = 0, MODE_HE = 1 };
enum { REVEAL_LOGITS = 0, REVEAL_LABEL = 1 };
/* The OT of the millionaire's leaves on the silent backend: the COT
 * pools, or a 4-bit VOLE pool per lane direction (ot/vole4.h; faster,
 * more memory: docs/PROTOCOLS.md §2.7). */
enum { LEAVES_COT = 0, LEAVES_VOLE4 = 1 };

typedef struct session_hello {
    unsigned kind;    /* HELLO_CLIENT or HELLO_SERVER */
    unsigned version; /* SESSION_VERSION of the sender */
    unsigned mode;    /* server: MODE_OT or MODE_HE */
    unsigned l, s;    /* server: ring width 1..64, scale 0..l-1 */
    unsigned lanes;   /* server: 1..LANES_MAX */
    unsigned reveal;  /* server: REVEAL_LOGITS or REVEAL_LABEL */
    unsigned ot;      /* server: OT_BACKEND_IKNP or OT_BACKEND_SILENT (byte 12; 0, what
                       * peers before the silent backend sent, is IKNP) */
    unsigned batch;   /* bytes 13-14: the client's inputs in this session; the
                       * server's hello repeats the batch agreed. 0 (what
                       * peers before batches sent) means 1: hello_batch */
    unsigned leaves;  /* server, byte 15: LEAVES_COT, or LEAVES_VOLE4 on the silent backend */
} session_hello;

#define HELLO_MAX_BATCH 65535u /* what the batch field holds */

static inline unsigned hello_batch(const session_hello *h) {
    return h->batch ? h->batch : 1;
}

void hello_encode(uint8_t out[HELLO_BYTES], const session_hello *h);
/* Parse peer bytes. A hello of another version parses (so the caller can
 * name both versions); every other field is checked for its kind.
 * PARLEY_E_PROTO with a message on bad input. */
int hello_parse(session_hello *out, const uint8_t *buf, size_t len) WUR;

enum { CTL_HELLO = 1, CTL_REJECT = 2, CTL_MODEL = 3, CTL_READY = 4, CTL_REPORT = 5 };
#define CTL_REPORT_BYTES 24 /* server's flights, bytes sent, microseconds (u64 each) */
#define CTL_MAX_REJECT 512
#define CTL_REFUSED "the peer refused: " /* what a REJECT's line follows in ctl_recv's error */
#define CTL_MAX_MODEL (64u << 20)

/* Send one control message and flush. */
int ctl_send(chan *ch, unsigned type, const void *payload, size_t len) WUR;
/* Receive one control message whose type must be `want` or CTL_REJECT. On
 * a REJECT returns PARLEY_E_MISMATCH with CTL_REFUSED "<its line>".
 * cap (0: the type's own cap) bounds the payload further, before anything
 * is allocated. The payload (NULL if empty) is the caller's to mem_free. */
int ctl_recv(chan *ch, unsigned want, size_t cap, uint8_t **payload, size_t *len) WUR;
/* Send a REJECT with a printf-style line (cut to CTL_MAX_REJECT). */
int ctl_reject(chan *ch, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Check a control message's header (8 bytes) from the peer: known type,
 * length within that type's cap. */
int ctl_header_parse(unsigned *type, size_t *len, const uint8_t hdr[8]) WUR;

#endif
