/* Session hello and control messages; see hello.h. */
#include "nn/hello.h"

#include "net/frame.h"
#include "net/link.h"
#include "ot/lane.h"
#include "util/mem.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

static const uint8_t magic[4] = {'P', 'R', 'L', 'Y'};

void hello_encode(uint8_t out[HELLO_BYTES], const session_hello *h) {
    hello_head_put(out, HELLO_BYTES, magic, h->version, h->kind);
    out[7] = (uint8_t)h->mode;
    out[8] = (uint8_t)h->l;
    out[9] = (uint8_t)h->s;
    out[10] = (uint8_t)h->lanes;
    out[11] = (uint8_t)h->reveal;
    out[12] = (uint8_t)h->ot;
    unsigned n = h->batch == 1 ? 0 : h->batch; /* batch 1 as before batches */
    out[13] = (uint8_t)n;
    out[14] = (uint8_t)(n >> 8);
    out[15] = (uint8_t)h->leaves;
}

int hello_parse(session_hello *out, const uint8_t *buf, size_t len) {
    if (len != HELLO_BYTES)
        return err_set(PARLEY_E_PROTO, "hello: expected %d bytes, got %zu", HELLO_BYTES, len);
    if (memcmp(buf, magic, 4) != 0)
        return err_set(PARLEY_E_PROTO, "hello: the peer is not a parley session (bad magic)");
    session_hello h = {.version = buf[4] | (unsigned)buf[5] << 8,
                       .kind = buf[6],
                       .mode = buf[7],
                       .l = buf[8],
                       .s = buf[9],
                       .lanes = buf[10],
                       .reveal = buf[11],
                       .ot = buf[12],
                       .batch = buf[13] | (unsigned)buf[14] << 8,
                       .leaves = buf[15]};
    *out = h;
    if (h.version != SESSION_VERSION) return 0; /* the caller names both versions */
    if (h.kind == HELLO_CLIENT) {
        if (h.mode || h.l || h.s || h.lanes || h.reveal || h.ot || h.leaves)
            return err_set(PARLEY_E_PROTO, "hello: a client hello carries parameters");
        return 0;
    }
    if (h.kind != HELLO_SERVER) return err_set(PARLEY_E_PROTO, "hello: unknown kind %u", h.kind);
    if (h.mode > MODE_HE) return err_set(PARLEY_E_PROTO, "hello: unknown mode %u", h.mode);
    if (h.l < 2 || h.l > 64)
        return err_set(PARLEY_E_PROTO, "hello: ring width %u outside 2..64", h.l);
    if (h.s >= h.l)
        return err_set(PARLEY_E_PROTO, "hello: scale %u not below the width %u", h.s, h.l);
    if (h.lanes < 1 || h.lanes > LANES_MAX)
        return err_set(PARLEY_E_PROTO, "hello: %u lanes outside 1..%d", h.lanes, LANES_MAX);
    if (h.reveal > REVEAL_LABEL)
        return err_set(PARLEY_E_PROTO, "hello: unknown reveal %u", h.reveal);
    if (h.ot != OT_BACKEND_IKNP && h.ot != OT_BACKEND_SILENT)
        return err_set(PARLEY_E_PROTO, "hello: unknown OT backend %u", h.ot);
    if (h.leaves > LEAVES_VOLE4)
        return err_set(PARLEY_E_PROTO, "hello: unknown leaves' OT %u", h.leaves);
    if (h.leaves == LEAVES_VOLE4 && h.ot != OT_BACKEND_SILENT)
        return err_set(PARLEY_E_PROTO, "hello: leaves on 4-bit VOLE without the silent backend");
    return 0;
}

static size_t ctl_cap(unsigned type) {
    switch (type) {
    case CTL_HELLO:
        return HELLO_BYTES;
    case CTL_REJECT:
        return CTL_MAX_REJECT;
    case CTL_MODEL:
        return CTL_MAX_MODEL;
    case CTL_REPORT:
        return CTL_REPORT_BYTES;
    default: /* CTL_READY */
        return 0;
    }
}

int ctl_header_parse(unsigned *type, size_t *len, const uint8_t hdr[8]) {
    uint32_t t = 0, n = 0;
    for (int i = 0; i < 4; i++) {
        t |= (uint32_t)hdr[i] << (8 * i);
        n |= (uint32_t)hdr[4 + i] << (8 * i);
    }
    if (t < CTL_HELLO || t > CTL_REPORT)
        return err_set(PARLEY_E_PROTO, "control message of unknown type %u", t);
    if (n > ctl_cap(t))
        return err_set(PARLEY_E_PROTO,
                       "control message of type %u is %u bytes, more than its limit %zu", t, n,
                       ctl_cap(t));
    *type = t;
    *len = n;
    return 0;
}

int ctl_send(chan *ch, unsigned type, const void *payload, size_t len) {
    PARLEY_CHECK(len <= ctl_cap(type));
    uint8_t hdr[8];
    for (int i = 0; i < 4; i++) {
        hdr[i] = (uint8_t)(type >> (8 * i));
        hdr[4 + i] = (uint8_t)((uint32_t)len >> (8 * i));
    }
    TRY(chan_send(ch, hdr, sizeof hdr));
    if (len) TRY(chan_send(ch, payload, len));
    return chan_flush(ch);
}

int ctl_reject(chan *ch, const char *fmt, ...) {
    char line[CTL_MAX_REJECT];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(line, sizeof line, fmt, ap);
    va_end(ap);
    return ctl_send(ch, CTL_REJECT, line, strlen(line));
}

int ctl_recv(chan *ch, unsigned want, size_t cap, uint8_t **payload, size_t *len) {
    *payload = NULL;
    *len = 0;
    uint8_t hdr[8];
    TRY(chan_recv(ch, hdr, sizeof hdr));
    unsigned type;
    size_t n;
    TRY(ctl_header_parse(&type, &n, hdr));
    if (type != want && type != CTL_REJECT)
        return err_set(PARLEY_E_PROTO, "expected control message %u, got %u", want, type);
    if (type == want && cap && n > cap)
        return err_set(PARLEY_E_LIMIT, "control message %u of %zu bytes, over this side's cap of "
                                       "%zu", type, n, cap);
    uint8_t *p = mem_alloc(n + 1, 1);
    if (!p) return PARLEY_E_NOMEM;
    int rc = n ? chan_recv(ch, p, n) : 0;
    if (rc < 0) {
        mem_free(p);
        return rc;
    }
    p[n] = 0;
    if (type == CTL_REJECT) {
        /* Print only what is printable: the line is the peer's. */
        for (size_t i = 0; i < n; i++)
            if (p[i] < 0x20 || p[i] > 0x7e) p[i] = '?';
        rc = err_set(PARLEY_E_MISMATCH, CTL_REFUSED "%s", (char *)p);
        mem_free(p);
        return rc;
    }
    *payload = p;
    *len = n;
    return 0;
}
