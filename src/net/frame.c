/* Frame headers and link hellos; see frame.h. */
#include "net/frame.h"

#include <string.h>

static const uint8_t link_magic[4] = {'P', 'R', 'L', 'X'};

static void put32(uint8_t *p, uint32_t v) {
    for (int i = 0; i < 4; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

static uint32_t get32(const uint8_t *p) {
    uint32_t v = 0;
    for (int i = 0; i < 4; i++)
        v |= (uint32_t)p[i] << (8 * i);
    return v;
}

void frame_encode(uint8_t out[FRAME_HEADER_BYTES], const frame_hdr *f) {
    out[0] = (uint8_t)f->kind;
    out[1] = (uint8_t)f->stream;
    out[2] = out[3] = 0;
    put32(out + 4, f->len);
    for (int i = 0; i < 8; i++)
        out[8 + i] = (uint8_t)(f->arg >> (8 * i));
}

int frame_parse(frame_hdr *f, const uint8_t h[FRAME_HEADER_BYTES]) {
    unsigned kind = h[0], stream = h[1];
    uint32_t len = get32(h + 4);
    uint64_t arg = 0;
    for (int i = 0; i < 8; i++)
        arg |= (uint64_t)h[8 + i] << (8 * i);
    if (kind < FRAME_DATA || kind > FRAME_ABORT)
        return err_set(PARLEY_E_PROTO, "frame of unknown kind %u", kind);
    if (stream >= LINK_STREAMS_MAX)
        return err_set(PARLEY_E_PROTO, "frame for stream %u, past the last stream %d", stream,
                       LINK_STREAMS_MAX - 1);
    if (h[2] || h[3]) return err_set(PARLEY_E_PROTO, "frame with reserved bytes set");
    switch (kind) {
    case FRAME_DATA:
        if (len < 1 || len > FRAME_PAYLOAD_MAX)
            return err_set(PARLEY_E_PROTO, "data frame of %u bytes, outside 1..%u", len,
                           FRAME_PAYLOAD_MAX);
        break;
    case FRAME_CREDIT:
        if (len < 1 || len > FRAME_CREDIT_MAX || arg)
            return err_set(PARLEY_E_PROTO, "credit frame of %u bytes, outside 1..%u", len,
                           FRAME_CREDIT_MAX);
        break;
    case FRAME_BLOCKED:
        if (len) return err_set(PARLEY_E_PROTO, "blocked frame with a length");
        break;
    default:
        if (len || arg)
            return err_set(PARLEY_E_PROTO, "frame of kind %u with a length or argument", kind);
    }
    f->kind = kind;
    f->stream = stream;
    f->len = len;
    f->arg = arg;
    return 0;
}

void hello_head_put(uint8_t *out, size_t n, const uint8_t magic[4], unsigned version,
                    unsigned kind) {
    memset(out, 0, n);
    memcpy(out, magic, 4);
    out[4] = (uint8_t)version;
    out[5] = (uint8_t)(version >> 8);
    out[6] = (uint8_t)kind;
}

void link_hello_encode(uint8_t out[LINK_HELLO_BYTES], const link_hello *h) {
    hello_head_put(out, LINK_HELLO_BYTES, link_magic, h->version, h->kind);
    out[7] = h->kind == LINK_HELLO_CLIENT    ? (h->has_token ? 1 : 0)
             : h->kind == LINK_HELLO_REFUSAL ? (uint8_t)(-h->status & 63)
                                             : 0;
    put32(out + 8, h->kind == LINK_HELLO_REFUSAL ? h->refusal_len : h->window);
    if (out[7]) memcpy(out + 16, h->token, LINK_TOKEN_BYTES);
}

int link_hello_parse(link_hello *h, const uint8_t b[LINK_HELLO_BYTES]) {
    memset(h, 0, sizeof *h);
    if (memcmp(b, link_magic, 4) != 0)
        return err_set(PARLEY_E_PROTO, "the peer is not a parley peer of this version (bad magic)");
    h->version = b[4] | (unsigned)b[5] << 8;
    if (h->version != LINK_VERSION) return 0; /* the caller names both versions */
    h->kind = b[6];
    if (h->kind < LINK_HELLO_CLIENT || h->kind > LINK_HELLO_REFUSAL)
        return err_set(PARLEY_E_PROTO, "link hello of unknown kind %u", h->kind);
    if (h->kind == LINK_HELLO_REFUSAL ? b[7] < 1 || b[7] > 63
                                      : b[7] > (h->kind == LINK_HELLO_CLIENT ? 1 : 0))
        return err_set(PARLEY_E_PROTO, "link hello with unknown flags %u", b[7]);
    h->has_token = h->kind == LINK_HELLO_CLIENT && (b[7] & 1);
    uint32_t v = get32(b + 8);
    if (get32(b + 12)) return err_set(PARLEY_E_PROTO, "link hello with reserved bytes set");
    int zero_tail = 1;
    for (int i = 16; i < LINK_HELLO_BYTES; i++)
        zero_tail &= b[i] == 0;
    if (!h->has_token && !zero_tail)
        return err_set(PARLEY_E_PROTO, "link hello with reserved bytes set");
    if (h->kind == LINK_HELLO_REFUSAL) {
        if (v < 1 || v > LINK_REFUSAL_MAX)
            return err_set(PARLEY_E_PROTO, "link refusal of %u bytes, outside 1..%d", v,
                           LINK_REFUSAL_MAX);
        h->refusal_len = v;
        h->status = -(int)b[7];
        return 0;
    }
    if (v < LINK_WINDOW_MIN || v > LINK_WINDOW_MAX)
        return err_set(PARLEY_E_PROTO, "link window of %u bytes, outside %u..%u", v,
                       LINK_WINDOW_MIN, LINK_WINDOW_MAX);
    h->window = v;
    if (h->has_token) memcpy(h->token, b + 16, LINK_TOKEN_BYTES);
    return 0;
}
