/* The public model on the wire: qnet_public_encode / qnet_public_decode.
 *
 * Layout (little-endian):
 *   "PQNT"  u16 version (2)  u8 l  u8 s  u8 flags (bit 0: the model's final
 *   Softmax was dropped, the output is its logits; other bits 0)
 *   u32 ntensors  u32 nlayers  u32 input  u32 output
 *   per tensor: u8 name length, name, u8 rank, rank x u32 dims, u8 scale
 *   per layer:  u8 kind, u8 name length, name, u32 nin, nin x u32 inputs,
 *               u32 output, then the kind's public parameters as u32s
 *               (the kind's run of fields, nn/kinds.c: conv 19, fc 4,
 *               scale 4, trunc 1, pool 18, concat 1,
 *               pad 16, transpose 8, argmax 2, others none)
 * Weights and biases are never encoded. The decoder reads every count
 * against the bytes that remain before allocating, then hands the result to
 * qnet_check; an accepted message re-encodes to the same bytes. */
#include "nn/kind.h"

#include "util/mem.h"

#include <string.h>

#define QNET_MAGIC "PQNT"
#define QNET_WIRE_VERSION 2

typedef struct wbuf {
    uint8_t *p;
    size_t n, cap;
    int oom;
} wbuf;

static void put(wbuf *b, const void *v, size_t n) {
    if (b->oom) return;
    if (b->n + n > b->cap) {
        size_t ncap = b->cap ? b->cap * 2 : 4096;
        while (ncap < b->n + n)
            ncap *= 2;
        uint8_t *np = mem_alloc(ncap, 1);
        if (!np) {
            b->oom = 1;
            return;
        }
        if (b->n) memcpy(np, b->p, b->n);
        mem_free(b->p);
        b->p = np;
        b->cap = ncap;
    }
    memcpy(b->p + b->n, v, n);
    b->n += n;
}

static void put8(wbuf *b, unsigned v) {
    uint8_t x = (uint8_t)v;
    put(b, &x, 1);
}

static void put32(wbuf *b, uint32_t v) {
    uint8_t x[4] = {(uint8_t)v, (uint8_t)(v >> 8), (uint8_t)(v >> 16), (uint8_t)(v >> 24)};
    put(b, x, 4);
}

static void put_name(wbuf *b, const char *s) {
    size_t n = strlen(s);
    if (n > QNET_MAX_NAME) n = QNET_MAX_NAME;
    put8(b, (unsigned)n);
    put(b, s, n);
}

/* The public parameters of a layer: its kind's run of u32 fields of
 * qparams (kind.h), at most QKIND_MAX_WIRE. */
static unsigned params(const qlayer *L, uint32_t *v) {
    const qkind *k = qkind_of(L->op);
    memcpy(v, (const uint8_t *)&L->p + k->wire_off, k->wire_n * sizeof *v);
    return k->wire_n;
}

static void set_params(qlayer *L, const uint32_t *v) {
    const qkind *k = qkind_of(L->op);
    memcpy((uint8_t *)&L->p + k->wire_off, v, k->wire_n * sizeof *v);
}

int qnet_public_encode(const qnet *net, uint8_t **buf, size_t *len) {
    *buf = NULL;
    *len = 0;
    wbuf b = {0};
    put(&b, QNET_MAGIC, 4);
    put8(&b, QNET_WIRE_VERSION & 0xff);
    put8(&b, QNET_WIRE_VERSION >> 8);
    put8(&b, net->l);
    put8(&b, net->s);
    put8(&b, net->softmax_dropped ? 1 : 0);
    put32(&b, net->ntensors);
    put32(&b, net->nlayers);
    put32(&b, net->input);
    put32(&b, net->output);
    for (unsigned i = 0; i < net->ntensors; i++) {
        const qtensor *T = &net->t[i];
        put_name(&b, T->name);
        put8(&b, T->shape.rank);
        for (unsigned d = 0; d < T->shape.rank; d++)
            put32(&b, T->shape.d[d]);
        put8(&b, T->scale);
    }
    for (unsigned i = 0; i < net->nlayers; i++) {
        const qlayer *L = &net->layers[i];
        uint32_t v[QKIND_MAX_WIRE];
        put8(&b, L->op);
        put_name(&b, L->name);
        put32(&b, L->nin);
        for (unsigned k = 0; k < L->nin; k++)
            put32(&b, L->in[k]);
        put32(&b, L->out);
        unsigned np = params(L, v);
        for (unsigned k = 0; k < np; k++)
            put32(&b, v[k]);
    }
    if (b.oom) {
        mem_free(b.p);
        return PARLEY_E_NOMEM;
    }
    *buf = b.p;
    *len = b.n;
    return 0;
}

typedef struct rbuf {
    const uint8_t *p, *end;
} rbuf;

static int need(rbuf *r, size_t n) {
    if ((size_t)(r->end - r->p) < n) return err_set(PARLEY_E_FORMAT, "public model: truncated");
    return 0;
}

static int get8(rbuf *r, unsigned *v) {
    TRY(need(r, 1));
    *v = *r->p++;
    return 0;
}

static int get32(rbuf *r, uint32_t *v) {
    TRY(need(r, 4));
    *v = (uint32_t)r->p[0] | (uint32_t)r->p[1] << 8 | (uint32_t)r->p[2] << 16 |
         (uint32_t)r->p[3] << 24;
    r->p += 4;
    return 0;
}

static int get_name(rbuf *r, char **out) {
    unsigned n;
    TRY(get8(r, &n));
    TRY(need(r, n));
    char *s = mem_alloc(n + 1, 1);
    if (!s) return PARLEY_E_NOMEM;
    memcpy(s, r->p, n);
    s[n] = 0;
    r->p += n;
    *out = s;
    for (unsigned i = 0; i < n; i++)
        if ((unsigned char)s[i] < 0x20 || (unsigned char)s[i] > 0x7e)
            return err_set(PARLEY_E_FORMAT, "public model: a name is not printable");
    return 0;
}

static int decode(qnet *net, rbuf *r) {
    unsigned v8, lo, hi;
    TRY(need(r, 8));
    if (memcmp(r->p, QNET_MAGIC, 4) != 0)
        return err_set(PARLEY_E_FORMAT, "public model: bad magic");
    r->p += 4;
    TRY(get8(r, &lo));
    TRY(get8(r, &hi));
    if ((lo | hi << 8) != QNET_WIRE_VERSION)
        return err_set(PARLEY_E_FORMAT, "public model: version %u, expected %d", lo | hi << 8,
                       QNET_WIRE_VERSION);
    TRY(get8(r, &net->l));
    TRY(get8(r, &net->s));
    unsigned flags;
    TRY(get8(r, &flags));
    if (flags > 1) return err_set(PARLEY_E_FORMAT, "public model: unknown flags 0x%02x", flags);
    net->softmax_dropped = flags;
    uint32_t nt, nl;
    TRY(get32(r, &nt));
    TRY(get32(r, &nl));
    TRY(get32(r, &net->input));
    TRY(get32(r, &net->output));
    size_t left = (size_t)(r->end - r->p);
    /* A tensor takes at least 3 bytes, a layer at least 10. */
    if (nt < 1 || nt > QNET_MAX_TENSORS || nt > left / 3)
        return err_set(PARLEY_E_FORMAT, "public model: bad tensor count %u", nt);
    if (nl > QNET_MAX_LAYERS || nl > left / 10)
        return err_set(PARLEY_E_FORMAT, "public model: bad layer count %u", nl);
    net->t = mem_calloc(nt, sizeof *net->t);
    net->layers = mem_calloc(nl ? nl : 1, sizeof *net->layers);
    if (!net->t || !net->layers) return PARLEY_E_NOMEM;
    for (uint32_t i = 0; i < nt; i++) {
        qtensor *T = &net->t[i];
        net->ntensors = i + 1;
        TRY(get_name(r, &T->name));
        TRY(get8(r, &T->shape.rank));
        if (T->shape.rank > NN_MAX_RANK)
            return err_set(PARLEY_E_FORMAT, "public model: tensor %u has rank %u", i,
                           T->shape.rank);
        for (unsigned d = 0; d < T->shape.rank; d++)
            TRY(get32(r, &T->shape.d[d]));
        TRY(get8(r, &T->scale));
        if (nn_shape_check(&T->size, &T->shape) < 0)
            return err_wrap(PARLEY_E_FORMAT, "public model: tensor %u", i);
    }
    for (uint32_t i = 0; i < nl; i++) {
        qlayer *L = &net->layers[i];
        net->nlayers = i + 1;
        TRY(get8(r, &v8));
        if (!qkind_find((int)v8))
            return err_set(PARLEY_E_FORMAT, "public model: layer %u has unknown kind %u", i, v8);
        L->op = (qop)v8;
        TRY(get_name(r, &L->name));
        uint32_t nin;
        TRY(get32(r, &nin));
        if (nin > QNET_MAX_INPUTS || nin > (size_t)(r->end - r->p) / 4)
            return err_set(PARLEY_E_FORMAT, "public model: layer %u has %u inputs", i, nin);
        L->in = mem_alloc(nin ? nin : 1, sizeof *L->in);
        if (!L->in) return PARLEY_E_NOMEM;
        L->nin = nin;
        for (uint32_t k = 0; k < nin; k++)
            TRY(get32(r, &L->in[k]));
        TRY(get32(r, &L->out));
        uint32_t v[QKIND_MAX_WIRE];
        unsigned np = params(L, v);
        for (unsigned k = 0; k < np; k++)
            TRY(get32(r, &v[k]));
        set_params(L, v);
    }
    if (r->p != r->end) return err_set(PARLEY_E_FORMAT, "public model: trailing bytes");
    net->has_weights = 0;
    int rc = qnet_check(net);
    return rc < 0 ? err_wrap(rc, "public model") : 0;
}

int qnet_public_decode(qnet **out, const uint8_t *buf, size_t len) {
    *out = NULL;
    qnet *net = mem_calloc(1, sizeof *net);
    if (!net) return PARLEY_E_NOMEM;
    rbuf r = {buf, buf + len};
    int rc = decode(net, &r);
    if (rc < 0) {
        qnet_free(net);
        return rc;
    }
    *out = net;
    return 0;
}
