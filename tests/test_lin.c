/* lin: the OT-mode linear layers against the plaintext reference, on
 * random shares and weights (extremes included), in both orientations and
 * the automatic one, on one and three lanes, with the wire bytes equal to
 * the cost model; the server's local product against the reference. */
#include "harness.h"
#include "twoparty.h"

#include "lin/ot/lin_ot.h"
#include "lin/ot/local.h"
#include "util/bits.h"
#include "util/mem.h"

#include <string.h>

enum { K_CONV, K_FC, K_SCALE };

/* One layer call inside a session: both parties' inputs, outputs and
 * what each side measured. */
typedef struct sub {
    int kind;
    lin_conv cv;
    lin_fc fc;
    lin_scale sc;
    unsigned l;
    int orient;
    size_t nin, nout, nw;
    uint64_t *x, *xs[2], *w, *y[2], *expect;
    uint64_t sent[2], flights[2];
    int rc[2];
    char msg[2][256]; /* each side's message when rc < 0 */
} sub;

typedef struct session {
    sub *subs;
    size_t n, cap;
    int keep_going; /* run every call even after one failed (error tests) */
} session;

static lin_shape sub_shape(const sub *s) {
    lin_shape sh = {.kind = s->kind == K_CONV ? LIN_CONV : s->kind == K_FC ? LIN_FC : LIN_SCALE};
    if (s->kind == K_CONV) sh.p.conv = s->cv;
    if (s->kind == K_FC) sh.p.fc = s->fc;
    if (s->kind == K_SCALE) sh.p.scale = s->sc;
    return sh;
}

/* The layer in the sub's orientation: plan it, run it (lin_run_plan checks
 * the server's weights first, as every caller gets them checked). */
static int call_sub(party *p, sub *s) {
    const uint64_t *w = p->role == MPC_SERVER ? s->w : NULL;
    lin_shape sh = sub_shape(s);
    lin_plan *pl;
    TRY(lin_ot_plan(&pl, &sh, s->l, s->orient));
    lin_backend be = lin_ot_backend();
    int rc = lin_run_plan(&be, p, pl, s->y[p->role], s->xs[p->role], w);
    lin_ot_ops.free(pl);
    return rc;
}

/* Exact bytes of a layer in an orientation; 0 if the plan is refused. */
static uint64_t ot_bytes(lin_shape sh, unsigned l, int orient) {
    lin_plan *pl;
    if (lin_ot_plan(&pl, &sh, l, orient) < 0) {
        err_clear();
        return 0;
    }
    uint64_t b = pl->bytes;
    lin_ot_ops.free(pl);
    return b;
}

/* The orientation the automatic plan picks. */
static int ot_pick(lin_shape sh, unsigned l) {
    lin_plan *pl;
    if (lin_ot_plan(&pl, &sh, l, LIN_OT_AUTO) < 0) return -1;
    int o = lin_ot_plan_orientation(pl);
    lin_ot_ops.free(pl);
    return o;
}

#define CONV(c) ((lin_shape){LIN_CONV, .p.conv = (c)})
#define FC(f) ((lin_shape){LIN_FC, .p.fc = (f)})

static int session_party(party *p, void *arg) {
    session *S = arg;
    for (size_t i = 0; i < S->n; i++) {
        sub *s = &S->subs[i];
        chan_stats a, b;
        party_stats(p, &a);
        s->rc[p->role] = call_sub(p, s);
        if (s->rc[p->role] < 0) snprintf(s->msg[p->role], sizeof s->msg[0], "%s", err_msg());
        party_stats(p, &b);
        s->sent[p->role] = b.bytes_sent - a.bytes_sent;
        s->flights[p->role] = b.flights - a.flights;
        if (s->rc[p->role] && !S->keep_going) return s->rc[p->role];
    }
    return 0;
}

/* Signed weights in [-2^(wbits-1), 2^(wbits-1)) mod 2^l, the extremes first. */
static void gen_weights(prg *p, uint64_t *w, size_t n, unsigned wbits, unsigned l) {
    uint64_t mask = bits_mask(l), half = (uint64_t)1 << (wbits - 1);
    uint64_t ext[] = {0 - half, half - 1, 0, 0 - (uint64_t)1, 1};
    for (size_t i = 0; i < n; i++) {
        uint64_t v = prg_u64(p);
        v = wbits == 64 ? v : (v & bits_mask(wbits)) - half; /* uniform in range */
        if (i < 5 && (i != 4 || wbits >= 2)) v = ext[i];
        w[i] = v & mask;
    }
    /* shuffle the extremes to random places */
    for (size_t i = 0; i < n && i < 5; i++) {
        size_t j = prg_u64(p) % n;
        uint64_t t = w[i];
        w[i] = w[j];
        w[j] = t;
    }
}

static sub *add_sub(session *S, int kind, const void *shape, unsigned l, unsigned wbits, int orient,
                    prg *p) {
    if (S->n == S->cap) {
        size_t cap = S->cap ? 2 * S->cap : 16;
        sub *ns = mem_calloc(cap, sizeof *ns);
        if (S->n) memcpy(ns, S->subs, S->n * sizeof *ns);
        mem_free(S->subs);
        S->subs = ns;
        S->cap = cap;
    }
    sub *s = &S->subs[S->n++];
    memset(s, 0, sizeof *s);
    s->kind = kind;
    s->l = l;
    s->orient = orient;
    if (kind == K_CONV) {
        s->cv = *(const lin_conv *)shape;
        s->cv.wbits = wbits;
        PARLEY_CHECK(lin_conv_check(&s->cv) == 0);
        s->nin = lin_conv_in_size(&s->cv);
        s->nout = lin_conv_out_size(&s->cv);
        s->nw = lin_conv_weight_size(&s->cv);
    } else if (kind == K_FC) {
        s->fc = *(const lin_fc *)shape;
        s->fc.wbits = wbits;
        s->nin = (size_t)s->fc.N * s->fc.K;
        s->nout = (size_t)s->fc.N * s->fc.O;
        s->nw = (size_t)s->fc.O * s->fc.K;
    } else {
        s->sc = *(const lin_scale *)shape;
        s->sc.wbits = wbits;
        s->nin = s->nout = (size_t)s->sc.N * s->sc.C * s->sc.S;
        s->nw = s->sc.C;
    }
    uint64_t mask = bits_mask(l);
    s->x = mem_alloc(s->nin, 8);
    s->xs[0] = mem_alloc(s->nin, 8);
    s->xs[1] = mem_alloc(s->nin, 8);
    s->w = mem_alloc(s->nw, 8);
    s->y[0] = mem_alloc(s->nout, 8);
    s->y[1] = mem_alloc(s->nout, 8);
    s->expect = mem_alloc(s->nout, 8);
    prg_ring(p, s->x, s->nin, l);
    uint64_t xe[] = {0, mask, mask >> 1, (mask >> 1) + 1, 1};
    for (size_t i = 0; i < 5 && i < s->nin; i++)
        s->x[prg_u64(p) % s->nin] = xe[i] & mask;
    prg_ring(p, s->xs[0], s->nin, l);
    for (size_t i = 0; i < s->nin; i++)
        s->xs[1][i] = (s->x[i] - s->xs[0][i]) & mask;
    gen_weights(p, s->w, s->nw, wbits, l);
    if (kind == K_CONV)
        lin_conv_plain(s->expect, s->x, &s->cv, s->w, l);
    else if (kind == K_FC)
        lin_fc_plain(s->expect, s->x, &s->fc, s->w, l);
    else
        lin_scale_plain(s->expect, s->x, &s->sc, s->w, l);
    return s;
}

static uint64_t sub_bytes(const sub *s, int orient) {
    return ot_bytes(sub_shape(s), s->l, orient);
}

static void session_free(session *S) {
    for (size_t i = 0; i < S->n; i++) {
        sub *s = &S->subs[i];
        mem_free(s->x);
        mem_free(s->xs[0]);
        mem_free(s->xs[1]);
        mem_free(s->w);
        mem_free(s->y[0]);
        mem_free(s->y[1]);
        mem_free(s->expect);
    }
    mem_free(S->subs);
    memset(S, 0, sizeof *S);
}

static const char *sub_name(const sub *s, char *buf, size_t n) {
    if (s->kind == K_CONV)
        snprintf(buf, n,
                 "conv N%u C%u %ux%u O%u k%ux%u s%u,%u p%u,%u,%u,%u d%u,%u g%u wb%u l%u or%d",
                 s->cv.N, s->cv.C, s->cv.H, s->cv.W, s->cv.O, s->cv.kh, s->cv.kw, s->cv.sh,
                 s->cv.sw, s->cv.pt, s->cv.pl, s->cv.pb, s->cv.pr, s->cv.dh, s->cv.dw, s->cv.groups,
                 s->cv.wbits, s->l, s->orient);
    else if (s->kind == K_FC)
        snprintf(buf, n, "fc N%u K%u O%u wb%u l%u or%d", s->fc.N, s->fc.K, s->fc.O, s->fc.wbits,
                 s->l, s->orient);
    else
        snprintf(buf, n, "scale N%u C%u S%u wb%u l%u or%d", s->sc.N, s->sc.C, s->sc.S, s->sc.wbits,
                 s->l, s->orient);
    return buf;
}

/* Run the session on `lanes` lanes and check every call. */
static void session_check(session *S, unsigned lanes) {
    int rc = run2_party(session_party, S, lanes);
    CHECK_MSG(rc == 0, "session on %u lanes: %s", lanes, err_msg());
    if (rc) return;
    char name[256];
    for (size_t i = 0; i < S->n; i++) {
        sub *s = &S->subs[i];
        uint64_t mask = bits_mask(s->l);
        size_t bad = 0, unreduced = 0;
        for (size_t k = 0; k < s->nout; k++) {
            if (s->y[0][k] > mask || s->y[1][k] > mask) unreduced++;
            if (((s->y[0][k] + s->y[1][k]) & mask) != s->expect[k]) bad++;
        }
        uint64_t bytes = sub_bytes(s, s->orient), total = s->sent[0] + s->sent[1];
        CHECK_MSG(bad == 0 && unreduced == 0, "%s, %u lanes: %zu wrong, %zu unreduced of %zu",
                  sub_name(s, name, sizeof name), lanes, bad, unreduced, s->nout);
        CHECK_MSG(total == bytes, "%s, %u lanes: %llu bytes on the wire, model %llu",
                  sub_name(s, name, sizeof name), lanes, (unsigned long long)total,
                  (unsigned long long)bytes);
        /* One flight each way (the lanes in parallel), none if no OT. */
        uint64_t fl = bytes ? 1 : 0;
        CHECK_MSG(s->flights[0] == fl && s->flights[1] == fl, "%s: flights %llu/%llu",
                  sub_name(s, name, sizeof name), (unsigned long long)s->flights[0],
                  (unsigned long long)s->flights[1]);
        if (harness_failed()) return;
    }
}

/* Per l: A and AUTO with a middling wbits, B with wbits 1, 2, l and the
 * middling one. */
static void add_orientations(session *S, int kind, const void *shape, unsigned l, prg *p) {
    unsigned mid = l < 6 ? l : 6;
    add_sub(S, kind, shape, l, mid, LIN_OT_A, p);
    add_sub(S, kind, shape, l, mid, LIN_OT_AUTO, p);
    unsigned wbs[] = {1, 2, l, mid};
    for (int k = 0; k < 4; k++) {
        if (wbs[k] > l) continue;
        int dup = 0;
        for (int j = 0; j < k; j++)
            dup |= wbs[j] == wbs[k];
        if (!dup) add_sub(S, kind, shape, l, wbs[k], LIN_OT_B, p);
    }
}

static lin_conv conv_shape(unsigned N, unsigned C, unsigned H, unsigned W, unsigned O, unsigned kh,
                           unsigned kw, unsigned s, unsigned pad, unsigned d, unsigned groups) {
    lin_conv c = {.N = N,
                  .C = C,
                  .H = H,
                  .W = W,
                  .O = O,
                  .kh = kh,
                  .kw = kw,
                  .sh = s,
                  .sw = s,
                  .pt = pad,
                  .pl = pad,
                  .pb = pad,
                  .pr = pad,
                  .dh = d,
                  .dw = d,
                  .groups = groups,
                  .wbits = 1};
    return c;
}

static lin_conv conv_shapes[14];
static size_t nconv_shapes;

static void make_conv_shapes(void) {
    size_t k = 0;
    conv_shapes[k++] = conv_shape(1, 3, 5, 4, 2, 1, 1, 1, 0, 1, 1); /* 1x1 */
    conv_shapes[k++] = conv_shape(1, 2, 5, 5, 3, 3, 3, 1, 1, 1, 1); /* 3x3 pad 1 */
    conv_shapes[k++] = conv_shape(1, 2, 7, 7, 3, 3, 3, 2, 1, 1, 1); /* stride 2 */
    conv_shapes[k++] = conv_shape(1, 2, 6, 6, 2, 3, 3, 1, 2, 2, 1); /* dilation 2 */
    conv_shapes[k++] = conv_shape(1, 4, 5, 5, 6, 3, 3, 1, 1, 1, 2); /* groups 2 */
    conv_shapes[k++] = conv_shape(1, 3, 6, 5, 3, 3, 3, 1, 1, 1, 3); /* depthwise */
    conv_shapes[k++] = conv_shape(1, 2, 9, 9, 2, 7, 7, 2, 3, 1, 1); /* 7x7 s2 p3 */
    conv_shapes[k++] = conv_shape(2, 2, 4, 5, 3, 3, 3, 1, 1, 1, 1); /* batch of 2 */
    conv_shapes[k++] = conv_shape(1, 1, 5, 5, 2, 1, 1, 2, 0, 1, 1); /* unread inputs */
    conv_shapes[k++] = conv_shape(1, 2, 1, 1, 2, 1, 1, 2, 1, 1, 1); /* only padding read */
    lin_conv odd = {.N = 1,
                    .C = 2,
                    .H = 6,
                    .W = 7,
                    .O = 2,
                    .kh = 2,
                    .kw = 3,
                    .sh = 1,
                    .sw = 2,
                    .pt = 0,
                    .pl = 1,
                    .pb = 2,
                    .pr = 0,
                    .dh = 2,
                    .dw = 1,
                    .groups = 1};
    conv_shapes[k++] = odd;                                         /* asymmetric everything */
    conv_shapes[k++] = conv_shape(1, 2, 3, 3, 2, 5, 5, 1, 3, 1, 1); /* taps that see only padding */
    conv_shapes[k++] = conv_shape(2, 4, 4, 4, 4, 3, 3, 2, 1, 1, 4); /* depthwise, s2, batch */
    nconv_shapes = k;
}

static void conv_case(const unsigned *ls, size_t nls, uint64_t label) {
    make_conv_shapes();
    for (unsigned lanes = 1; lanes <= 3; lanes += 2) {
        prg p;
        harness_prg(&p, label + lanes);
        session S = {0};
        for (size_t a = 0; a < nconv_shapes; a++)
            for (size_t b = 0; b < nls; b++)
                add_orientations(&S, K_CONV, &conv_shapes[a], ls[b], &p);
        session_check(&S, lanes);
        session_free(&S);
        prg_clear(&p);
        if (harness_failed()) return;
    }
}

TEST(conv_small_rings) {
    static const unsigned ls[] = {1, 2, 8};
    conv_case(ls, 3, 100);
}

TEST(conv_16_32) {
    static const unsigned ls[] = {16, 32};
    conv_case(ls, 2, 110);
}

TEST(conv_37_64) {
    static const unsigned ls[] = {37, 64};
    conv_case(ls, 2, 120);
}

TEST(fc_all_rings) {
    static const unsigned ls[] = {1, 2, 8, 16, 32, 37, 64};
    static const lin_fc shapes[] = {{1, 1, 1, 1}, {2, 17, 5, 1}, {3, 130, 2, 1}, {1, 40, 10, 1}};
    for (unsigned lanes = 1; lanes <= 3; lanes += 2) {
        prg p;
        harness_prg(&p, 200 + lanes);
        session S = {0};
        for (size_t a = 0; a < 4; a++)
            for (size_t b = 0; b < 7; b++)
                add_orientations(&S, K_FC, &shapes[a], ls[b], &p);
        session_check(&S, lanes);
        session_free(&S);
        prg_clear(&p);
    }
}

TEST(scale_all_rings) {
    static const unsigned ls[] = {1, 2, 8, 16, 32, 37, 64};
    static const lin_scale shapes[] = {{1, 1, 1, 1}, {2, 3, 7, 1}, {1, 5, 100, 1}, {3, 2, 1, 1}};
    for (unsigned lanes = 1; lanes <= 3; lanes += 2) {
        prg p;
        harness_prg(&p, 300 + lanes);
        session S = {0};
        for (size_t a = 0; a < 4; a++)
            for (size_t b = 0; b < 7; b++)
                add_orientations(&S, K_SCALE, &shapes[a], ls[b], &p);
        session_check(&S, lanes);
        session_free(&S);
        prg_clear(&p);
    }
}

/* Enough OTs for several extension chunks per lane, cut both by the OT
 * count and by the corrections budget. */
TEST(conv_several_chunks) {
    lin_conv c = conv_shape(1, 8, 10, 10, 8, 3, 3, 1, 1, 1, 1);
    lin_conv d = conv_shape(1, 2, 40, 40, 4, 3, 3, 1, 1, 1, 1);
    for (unsigned lanes = 1; lanes <= 3; lanes += 2) {
        prg p;
        harness_prg(&p, 400 + lanes);
        session S = {0};
        add_sub(&S, K_CONV, &c, 37, 12, LIN_OT_A, &p);
        add_sub(&S, K_CONV, &c, 37, 12, LIN_OT_B, &p);
        add_sub(&S, K_CONV, &d, 32, 9, LIN_OT_B, &p); /* 3200 correlations per OT */
        session_check(&S, lanes);
        session_free(&S);
        prg_clear(&p);
    }
}

/* Random small shapes, auto orientation. */
TEST(conv_random_shapes) {
    prg p;
    harness_prg(&p, 500);
    session S = {0};
    for (int t = 0; t < 40; t++) {
        lin_conv c = {0};
        c.groups = 1 + (unsigned)(prg_u64(&p) % 3);
        c.C = c.groups * (1 + (unsigned)(prg_u64(&p) % 2));
        c.O = c.groups * (1 + (unsigned)(prg_u64(&p) % 3));
        c.N = 1 + (unsigned)(prg_u64(&p) % 2);
        c.kh = 1 + (unsigned)(prg_u64(&p) % 4);
        c.kw = 1 + (unsigned)(prg_u64(&p) % 4);
        c.sh = 1 + (unsigned)(prg_u64(&p) % 3);
        c.sw = 1 + (unsigned)(prg_u64(&p) % 3);
        c.dh = 1 + (unsigned)(prg_u64(&p) % 2);
        c.dw = 1 + (unsigned)(prg_u64(&p) % 2);
        c.pt = (unsigned)(prg_u64(&p) % 3);
        c.pl = (unsigned)(prg_u64(&p) % 3);
        c.pb = (unsigned)(prg_u64(&p) % 3);
        c.pr = (unsigned)(prg_u64(&p) % 3);
        c.H = 1 + (unsigned)(prg_u64(&p) % 8);
        c.W = 1 + (unsigned)(prg_u64(&p) % 8);
        c.wbits = 1;
        if (lin_conv_check(&c) < 0) {
            t--;
            continue;
        }
        unsigned l = 1 + (unsigned)(prg_u64(&p) % 64);
        unsigned wb = 1 + (unsigned)(prg_u64(&p) % (l < 12 ? l : 12));
        int orient = (int)(prg_u64(&p) % 3);
        add_sub(&S, K_CONV, &c, l, wb, orient, &p);
    }
    session_check(&S, 2);
    session_free(&S);
    prg_clear(&p);
}

/* Sibling convolutions merged (lin_merge, lin_merge_weights): wherever
 * two random convolutions over one input merge, the merged convolution's
 * output is theirs, channel for channel and bit for bit; the pairs that
 * must merge (a 1x1 inside a 3x3 or a 3x3 inside a 5x5 at "same" padding,
 * two 1x1s, at strides 1 and 2) do, and those that must not (groups,
 * dilation, another stride, another output size) do not. */
static void merge_case(prg *p, const lin_conv *ca, const lin_conv *cb, int want, int *merged) {
    lin_shape sa = {.kind = LIN_CONV, .p.conv = *ca}, sb = {.kind = LIN_CONV, .p.conv = *cb}, m;
    REQUIRE_OK(lin_check(&sa));
    REQUIRE_OK(lin_check(&sb));
    const lin_conv *a = &sa.p.conv, *b = &sb.p.conv; /* with OH, OW */
    int got = lin_merge(&m, &sa, &sb);
    if (want >= 0)
        CHECK_MSG(got == want, "%ux%u pad %u,%u stride %u and %ux%u pad %u,%u stride %u: %d", a->kh,
                  a->kw, a->pt, a->pl, a->sh, b->kh, b->kw, b->pt, b->pl, b->sh, got);
    if (!got) return;
    (*merged)++;
    const lin_conv *c = &m.p.conv;
    CHECK(c->O == a->O + b->O && c->OH == a->OH && c->OW == a->OW && c->groups == 1);
    CHECK(c->wbits == (a->wbits > b->wbits ? a->wbits : b->wbits));
    unsigned l = 1 + (unsigned)(prg_u64(p) % 64);
    size_t nx = lin_in_size(&sa), na = lin_weight_count(&sa), nb = lin_weight_count(&sb);
    size_t nm = lin_weight_count(&m), ya = lin_out_size(&sa), yb = lin_out_size(&sb);
    uint64_t *x = mem_alloc(nx, 8), *wa = mem_alloc(na, 8), *wb = mem_alloc(nb, 8);
    uint64_t *wm = mem_calloc(nm, 8), *oa = mem_alloc(ya, 8), *ob = mem_alloc(yb, 8);
    uint64_t *om = mem_alloc(ya + yb, 8);
    REQUIRE(x && wa && wb && wm && oa && ob && om);
    prg_ring(p, x, nx, l);
    prg_ring(p, wa, na, l);
    prg_ring(p, wb, nb, l);
    lin_merge_weights(wm, &m, 0, &sa, wa);
    lin_merge_weights(wm, &m, a->O, &sb, wb);
    lin_conv_plain(oa, x, a, wa, l);
    lin_conv_plain(ob, x, b, wb, l);
    lin_conv_plain(om, x, c, wm, l);
    size_t per = (size_t)c->OH * c->OW;
    for (size_t n = 0; n < c->N; n++) {
        CHECK(memcmp(om + n * c->O * per, oa + n * a->O * per, a->O * per * 8) == 0);
        CHECK(memcmp(om + (n * c->O + a->O) * per, ob + n * b->O * per, b->O * per * 8) == 0);
    }
    mem_free(x);
    mem_free(wa);
    mem_free(wb);
    mem_free(wm);
    mem_free(oa);
    mem_free(ob);
    mem_free(om);
}

TEST(merge_sibling_convs) {
    prg p;
    harness_prg(&p, 510);
    int merged = 0;
    for (unsigned st = 1; st <= 2; st++) {
        lin_conv k1 = {.N = 2, .C = 3, .H = 7, .W = 6, .O = 2, .kh = 1, .kw = 1, .sh = st,
                       .sw = st, .dh = 1, .dw = 1, .groups = 1, .wbits = 5};
        lin_conv k3 = k1, k5 = k1;
        k3.kh = k3.kw = 3;
        k3.pt = k3.pl = k3.pb = k3.pr = 1;
        k3.O = 3;
        k3.wbits = 9;
        k5.kh = k5.kw = 5;
        k5.pt = k5.pl = k5.pb = k5.pr = 2;
        merge_case(&p, &k1, &k3, 1, &merged);
        merge_case(&p, &k3, &k1, 1, &merged);
        merge_case(&p, &k3, &k5, 1, &merged);
        merge_case(&p, &k1, &k1, 1, &merged);
        lin_conv g = k1;
        g.groups = g.C = g.O = 3;
        lin_conv k1g = k1;
        k1g.C = 3;
        merge_case(&p, &g, &k1g, 0, &merged);
        lin_conv d = k3;
        d.dh = d.dw = 2;
        d.pt = d.pl = d.pb = d.pr = 2;
        merge_case(&p, &k1, &d, 0, &merged);
        lin_conv s2 = k1;
        s2.sh = s2.sw = st + 1;
        merge_case(&p, &k1, &s2, 0, &merged);
        lin_conv valid = k3; /* no padding: a smaller output */
        valid.pt = valid.pl = valid.pb = valid.pr = 0;
        merge_case(&p, &k1, &valid, 0, &merged);
    }
    CHECK_EQ(merged, 8);
    /* random pairs over one input: whatever merges computes the same */
    int tried = 0;
    merged = 0;
    while (tried < 200) {
        lin_conv a = {.N = 1 + (unsigned)(prg_u64(&p) % 2), .C = 1 + (unsigned)(prg_u64(&p) % 3),
                      .H = 1 + (unsigned)(prg_u64(&p) % 7), .W = 1 + (unsigned)(prg_u64(&p) % 7),
                      .sh = 1 + (unsigned)(prg_u64(&p) % 2), .sw = 1 + (unsigned)(prg_u64(&p) % 2),
                      .dh = 1, .dw = 1, .groups = 1};
        lin_conv b = a;
        lin_conv *v[2] = {&a, &b};
        for (int k = 0; k < 2; k++) {
            v[k]->O = 1 + (unsigned)(prg_u64(&p) % 3);
            v[k]->kh = 1 + (unsigned)(prg_u64(&p) % 4);
            v[k]->kw = 1 + (unsigned)(prg_u64(&p) % 4);
            v[k]->pt = (unsigned)(prg_u64(&p) % 3);
            v[k]->pl = (unsigned)(prg_u64(&p) % 3);
            v[k]->pb = (unsigned)(prg_u64(&p) % 3);
            v[k]->pr = (unsigned)(prg_u64(&p) % 3);
            v[k]->wbits = 1 + (unsigned)(prg_u64(&p) % 20);
        }
        if (prg_u64(&p) % 2) { /* b's window around a's: the same output */
            unsigned d[4];
            for (int k = 0; k < 4; k++) d[k] = (unsigned)(prg_u64(&p) % 2);
            b.kh = a.kh + d[0] + d[1];
            b.pt = a.pt + d[0];
            b.pb = a.pb + d[1];
            b.kw = a.kw + d[2] + d[3];
            b.pl = a.pl + d[2];
            b.pr = a.pr + d[3];
        }
        if (lin_conv_check(&a) < 0 || lin_conv_check(&b) < 0) {
            err_clear();
            continue;
        }
        tried++;
        merge_case(&p, &a, &b, -1, &merged);
    }
    printf("  %d of %d random pairs merged\n", merged, tried);
    CHECK(merged >= tried / 3);
    prg_clear(&p);
}

/* A projection shortcut's two 1x1 convolutions over different inputs as
 * one over both inputs side by side (lin_sum_merge): what merges computes
 * a(xa) + b(xb) exactly at a random ring width (every value of it, the
 * subsampling by each layer's strides included), and what must not merge
 * (another kernel, padding, groups, dilation, output channels or output
 * size) does not. */
static void sum_case(prg *p, const lin_conv *ca, const lin_conv *cb, int want, int *merged) {
    lin_shape sa = {.kind = LIN_CONV, .p.conv = *ca}, sb = {.kind = LIN_CONV, .p.conv = *cb}, m;
    REQUIRE_OK(lin_check(&sa));
    REQUIRE_OK(lin_check(&sb));
    const lin_conv *a = &sa.p.conv, *b = &sb.p.conv;
    int got = lin_sum_merge(&m, &sa, &sb);
    if (want >= 0)
        CHECK_MSG(got == want, "%ux%u %ux%u stride %u and %ux%u %ux%u stride %u: %d", a->H, a->W,
                  a->kh, a->kw, a->sh, b->H, b->W, b->kh, b->kw, b->sh, got);
    if (!got) return;
    (*merged)++;
    const lin_conv *c = &m.p.conv;
    CHECK(c->C == a->C + b->C && c->O == a->O && c->OH == a->OH && c->OW == a->OW);
    CHECK(c->kh >= a->kh && c->kh >= b->kh && c->kw >= a->kw && c->kw >= b->kw);
    CHECK(c->wbits == (a->wbits > b->wbits ? a->wbits : b->wbits));
    unsigned l = 1 + (unsigned)(prg_u64(p) % 64);
    size_t nxa = lin_in_size(&sa), nxb = lin_in_size(&sb), nxm = lin_in_size(&m);
    size_t na = lin_weight_count(&sa), nb = lin_weight_count(&sb), nm = lin_weight_count(&m);
    size_t ny = lin_out_size(&sa);
    REQUIRE(ny == lin_out_size(&sb) && ny == lin_out_size(&m));
    CHECK(nm >= na + nb);
    uint64_t *buf[9] = {mem_alloc(nxa, 8), mem_alloc(nxb, 8), mem_alloc(nxm, 8),
                        mem_alloc(na, 8),  mem_alloc(nb, 8),  mem_calloc(nm, 8),
                        mem_alloc(ny, 8),  mem_alloc(ny, 8),  mem_alloc(ny, 8)};
    uint64_t *xa = buf[0], *xb = buf[1], *xm = buf[2], *wa = buf[3], *wb = buf[4], *wm = buf[5];
    uint64_t *oa = buf[6], *ob = buf[7], *om = buf[8];
    for (int k = 0; k < 9; k++) REQUIRE(buf[k]);
    prg_ring(p, xa, nxa, l);
    prg_ring(p, xb, nxb, l);
    prg_ring(p, wa, na, l);
    prg_ring(p, wb, nb, l);
    lin_sum_input(xm, &m, &sa, xa, &sb, xb);
    lin_sum_weights(wm, &m, &sa, wa, &sb, wb);
    lin_conv_plain(oa, xa, a, wa, l);
    lin_conv_plain(ob, xb, b, wb, l);
    lin_conv_plain(om, xm, c, wm, l);
    size_t bad = 0;
    for (size_t k = 0; k < ny; k++) bad += om[k] != ((oa[k] + ob[k]) & bits_mask(l));
    CHECK_MSG(bad == 0, "%zu of %zu wrong at l = %u", bad, ny, l);
    for (int k = 0; k < 9; k++) mem_free(buf[k]);
}

TEST(sum_merge_shortcut) {
    prg p;
    harness_prg(&p, 520);
    int merged = 0;
    /* ResNet's: the last 1x1 (stride 1) and the shortcut's (stride 1 or 2) */
    lin_conv c3 = {.N = 2, .C = 3, .H = 6, .W = 5, .O = 4, .kh = 1, .kw = 1, .sh = 1, .sw = 1,
                   .dh = 1, .dw = 1, .groups = 1, .wbits = 7};
    lin_conv ds = c3;
    ds.C = 5;
    ds.wbits = 11;
    sum_case(&p, &c3, &ds, 1, &merged);
    sum_case(&p, &ds, &c3, 1, &merged);
    lin_conv ds2 = ds; /* stride 2 over 11 x 9 (odd: its last row and column unread) */
    ds2.H = 11;
    ds2.W = 9;
    ds2.sh = ds2.sw = 2;
    sum_case(&p, &c3, &ds2, 1, &merged);
    lin_conv ds3 = ds2; /* strides 3 and 2 over 16 x 10: 6 x 5 too */
    ds3.H = 16;
    ds3.W = 10;
    ds3.sh = 3;
    sum_case(&p, &ds3, &c3, 1, &merged);
    /* ResNet18's: a 3x3 "same" convolution and the shortcut's 1x1 (stride 1
     * or 2), which sits at the 3x3's centre tap; two "same" kernels over
     * inputs of one size */
    lin_conv k3 = c3;
    k3.kh = k3.kw = 3;
    k3.pt = k3.pl = k3.pb = k3.pr = 1;
    sum_case(&p, &k3, &ds, 1, &merged);
    sum_case(&p, &k3, &ds2, 1, &merged);
    sum_case(&p, &ds2, &k3, 1, &merged);
    lin_conv k5 = k3;
    k5.C = 2;
    k5.kh = k5.kw = 5;
    k5.pt = k5.pl = k5.pb = k5.pr = 2;
    sum_case(&p, &k3, &k5, 1, &merged);
    /* must not merge */
    lin_conv k3s2 = k3; /* a strided 3x3 reads another geometry than a subsampled 1x1 */
    k3s2.H = 11;
    k3s2.W = 9;
    k3s2.sh = k3s2.sw = 2;
    sum_case(&p, &k3s2, &ds2, 0, &merged);
    lin_conv pad = c3;
    pad.H = 4;
    pad.W = 3;
    pad.pt = pad.pl = pad.pb = pad.pr = 1;
    sum_case(&p, &pad, &c3, 0, &merged);
    lin_conv grp = c3;
    grp.C = grp.groups = 4;
    sum_case(&p, &grp, &ds, 0, &merged);
    lin_conv dil = ds2;
    dil.dh = dil.dw = 2;
    sum_case(&p, &c3, &dil, 0, &merged);
    lin_conv o5 = ds;
    o5.O = 5;
    sum_case(&p, &c3, &o5, 0, &merged);
    lin_conv small = ds2; /* 5 x 4 out */
    small.H = 10;
    small.W = 7;
    sum_case(&p, &c3, &small, 0, &merged);
    CHECK_EQ(merged, 8);
    /* random pairs of one output size: 1x1s of any stride and "same"
     * convolutions of stride 1 */
    int tried = 0;
    merged = 0;
    while (tried < 200) {
        lin_conv a = {.N = 1 + (unsigned)(prg_u64(&p) % 2), .O = 1 + (unsigned)(prg_u64(&p) % 4),
                      .kh = 1, .kw = 1, .dh = 1, .dw = 1, .groups = 1};
        lin_conv b = a;
        unsigned oh = 1 + (unsigned)(prg_u64(&p) % 6), ow = 1 + (unsigned)(prg_u64(&p) % 6);
        lin_conv *v[2] = {&a, &b};
        for (int k = 0; k < 2; k++) {
            v[k]->C = 1 + (unsigned)(prg_u64(&p) % 4);
            v[k]->sh = 1 + (unsigned)(prg_u64(&p) % 3);
            v[k]->sw = 1 + (unsigned)(prg_u64(&p) % 3);
            /* any input size with that output: (o - 1) s + 1 .. o s */
            v[k]->H = (oh - 1) * v[k]->sh + 1 + (unsigned)(prg_u64(&p) % v[k]->sh);
            v[k]->W = (ow - 1) * v[k]->sw + 1 + (unsigned)(prg_u64(&p) % v[k]->sw);
            v[k]->wbits = 1 + (unsigned)(prg_u64(&p) % 20);
            if (prg_u64(&p) % 3 == 0) { /* a "same" kh x kw convolution over oh x ow */
                unsigned rh = (unsigned)(prg_u64(&p) % 3), rw = (unsigned)(prg_u64(&p) % 3);
                v[k]->kh = 2 * rh + 1;
                v[k]->kw = 2 * rw + 1;
                v[k]->pt = v[k]->pb = rh;
                v[k]->pl = v[k]->pr = rw;
                v[k]->sh = v[k]->sw = 1;
                v[k]->H = oh;
                v[k]->W = ow;
            }
        }
        if (prg_u64(&p) % 4 == 0) b.H += b.sh; /* one output row more: must not merge */
        if (lin_conv_check(&a) < 0 || lin_conv_check(&b) < 0) {
            err_clear();
            continue;
        }
        tried++;
        sum_case(&p, &a, &b, b.OH == a.OH, &merged);
    }
    printf("  %d of %d random pairs merged\n", merged, tried);
    CHECK(merged >= tried / 2 && merged < tried);
    prg_clear(&p);
}

/* Adding a bias is all the server has to do afterwards. */
TEST(bias_added_by_the_server) {
    lin_conv c = conv_shape(1, 3, 6, 6, 4, 3, 3, 1, 1, 1, 1);
    prg p;
    harness_prg(&p, 600);
    for (int orient = LIN_OT_A; orient <= LIN_OT_B; orient++) {
        session S = {0};
        sub *s = add_sub(&S, K_CONV, &c, 37, 9, orient, &p);
        REQUIRE_OK(run2_party(session_party, &S, 1));
        uint64_t bias[4], mask = bits_mask(37);
        prg_ring(&p, bias, 4, 37);
        size_t P = (size_t)s->cv.OH * s->cv.OW;
        for (size_t k = 0; k < s->nout; k++) {
            uint64_t ys = (s->y[0][k] + bias[k / P]) & mask; /* the server's share + b */
            CHECK_EQ((ys + s->y[1][k]) & mask, (s->expect[k] + bias[k / P]) & mask);
        }
        session_free(&S);
    }
    prg_clear(&p);
}

/* The byte model agrees with docs/PROTOCOLS.md §6 where its formula is exact. */
TEST(cost_model_formulas) {
    /* fc, A: per input entry l*128 + M*l(l+1)/2 bits; 128 x 37 OTs and
     * every group's bits a multiple of 8 (M = 64), so no rounding at all. */
    lin_fc f = {1, 128, 64, 12};
    CHECK_EQ(ot_bytes(FC(f), 37, LIN_OT_A), (128ull * 37 * 128 + 128ull * 64 * 703) / 8);
    /* fc, B: per weight wbits*128 + N*(wbits*l - wbits(wbits-1)/2) bits. */
    lin_fc g = {8, 16, 8, 12};
    CHECK_EQ(ot_bytes(FC(g), 37, LIN_OT_B), (128ull * 12 * 128 + 128ull * 8 * (12 * 37 - 66)) / 8);
    /* 703 bits per multiply-accumulate at l = 37 for A, plus the OTs'
     * 128 bits shared by the M outputs of an entry. */
    lin_conv c = conv_shape(1, 64, 56, 56, 64, 1, 1, 1, 0, 1, 1);
    c.wbits = 12;
    REQUIRE(lin_conv_check(&c) == 0);
    double macs = (double)lin_conv_macs(&c);
    double a = 8.0 * (double)ot_bytes(CONV(c), 37, LIN_OT_A) / macs;
    CHECK(a > 703 + 37 * 2 - 0.01 && a < 703 + 37 * 2 + 0.01); /* 37*128/64 = 74 */
    /* AUTO is the cheaper one, and B wins at small wbits. */
    CHECK_EQ(ot_bytes(CONV(c), 37, LIN_OT_AUTO), ot_bytes(CONV(c), 37, LIN_OT_B));
    CHECK_EQ(ot_pick(CONV(c), 37), LIN_OT_B);
    /* With wbits = l both cost l(l+1)/2 bits per product; then the count
     * of OTs decides: 25088 input entries against 2.4 M weights. */
    lin_conv d = conv_shape(1, 512, 7, 7, 512, 3, 3, 1, 1, 1, 1);
    d.wbits = 37;
    REQUIRE(lin_conv_check(&d) == 0);
    CHECK_EQ(ot_pick(CONV(d), 37), LIN_OT_A);
    c.wbits = 37;
    CHECK_EQ(ot_pick(CONV(c), 37), LIN_OT_B);
    /* fc with a batch of one: B pays 128 bits per weight bit for one
     * product, A shares them over the outputs. */
    lin_fc h = {1, 100, 10, 8};
    CHECK_EQ(ot_pick(FC(h), 32), LIN_OT_A);
    /* Invalid: 0. */
    CHECK_EQ(ot_bytes(FC(h), 0, LIN_OT_A), 0);
    CHECK_EQ(ot_bytes(FC(h), 7, LIN_OT_A), 0); /* wbits 8 > l 7 */
    CHECK_EQ(ot_bytes(FC(h), 32, 9), 0);
    /* Lanes do not change the bytes: covered by the sessions above. */
}

/* A weight outside the declared width: the server refuses, the client
 * stops instead of waiting. Bad public arguments fail on both sides
 * without a byte sent. */
static int bad_weight_party(party *p, void *arg) {
    session *S = arg;
    return session_party(p, S);
}

TEST(bad_arguments) {
    prg p;
    harness_prg(&p, 700);
    lin_fc f = {1, 8, 3, 4};
    for (int orient = LIN_OT_A; orient <= LIN_OT_B; orient++) {
        session S = {0};
        sub *s = add_sub(&S, K_FC, &f, 16, 4, orient, &p);
        s->w[3] = 8; /* needs 5 bits */
        int rc = run2_party(bad_weight_party, &S, 2);
        CHECK(rc < 0);
        CHECK_EQ(s->rc[0], PARLEY_E_ARG);
        CHECK(s->rc[1] < 0);
        /* The server says why (its lanes' abort must not replace the reason). */
        CHECK_MSG(strstr(s->msg[0], "weight 3 needs more than the declared 4 bits") != NULL,
                  "server: %s", s->msg[0]);
        session_free(&S);
    }
    /* wbits > l, l = 0, l = 65, unknown orientation: PARLEY_E_ARG, no bytes. */
    session S = {.keep_going = 1};
    sub *s1 = add_sub(&S, K_FC, &f, 16, 4, LIN_OT_A, &p);
    s1->fc.wbits = 17;
    sub *s2 = add_sub(&S, K_FC, &f, 16, 4, LIN_OT_A, &p);
    s2->l = 0;
    add_sub(&S, K_FC, &f, 16, 4, 7, &p); /* orientation 7 */
    sub *s4 = add_sub(&S, K_SCALE, &(lin_scale){1, 2, 3, 4}, 16, 4, LIN_OT_B, &p);
    s4->l = 65;
    lin_conv c = conv_shape(1, 3, 4, 4, 2, 3, 3, 1, 0, 1, 1);
    sub *s5 = add_sub(&S, K_CONV, &c, 16, 4, LIN_OT_B, &p);
    s5->cv.groups = 2; /* C = 3 is not a multiple */
    REQUIRE_OK(run2_party(session_party, &S, 1));
    for (size_t i = 0; i < S.n; i++) {
        CHECK_EQ(S.subs[i].rc[0], PARLEY_E_ARG);
        CHECK_EQ(S.subs[i].rc[1], PARLEY_E_ARG);
        CHECK_EQ(S.subs[i].sent[0] + S.subs[i].sent[1], 0);
    }
    session_free(&S);
    prg_clear(&p);
}

/* The executor's plaintext product (lin_plain: the register-blocked
 * products, reduced) against the reference loops: every test shape, odd
 * and wide kernels, fully connected and scale layers, at widths from 8 to
 * 64, inputs of every bit and weights of either sign. */
TEST(plain_product_matches_reference) {
    prg p;
    harness_prg(&p, 801);
    make_conv_shapes();
    const unsigned ls[] = {8, 13, 32, 37, 63, 64};
    for (size_t li = 0; li < sizeof ls / sizeof *ls; li++) {
        unsigned l = ls[li];
        for (size_t a = 0; a < nconv_shapes + 3; a++) {
            lin_shape sh = {.kind = LIN_CONV};
            if (a < nconv_shapes)
                sh.p.conv = conv_shapes[a];
            else if (a == nconv_shapes)
                sh = (lin_shape){.kind = LIN_FC, .p.fc = {3, 33, 7, l}};
            else if (a == nconv_shapes + 1)
                sh = (lin_shape){.kind = LIN_SCALE, .p.scale = {2, 3, 5, l}};
            else
                sh.p.conv = conv_shape(1, 37, 6, 5, 9, 3, 3, 1, 1, 1, 1); /* 4 x 2 blocks and tails */
            if (sh.kind == LIN_CONV) {
                sh.p.conv.wbits = l;
                REQUIRE(lin_conv_check(&sh.p.conv) == 0);
            }
            size_t ni = lin_in_size(&sh), no = lin_out_size(&sh), nw = lin_weight_count(&sh);
            uint64_t *x = mem_alloc(ni, 8), *w = mem_alloc(nw, 8), *y = mem_alloc(no, 8),
                     *e = mem_alloc(no, 8);
            REQUIRE(x && w && y && e);
            prg_ring(&p, x, ni, l);
            prg_ring(&p, w, nw, l);
            memset(y, 0xa5, no * 8); /* every output written */
            REQUIRE_OK(lin_plain(y, x, &sh, w, l));
            if (sh.kind == LIN_CONV)
                lin_conv_plain(e, x, &sh.p.conv, w, l);
            else if (sh.kind == LIN_FC)
                lin_fc_plain(e, x, &sh.p.fc, w, l);
            else
                lin_scale_plain(e, x, &sh.p.scale, w, l);
            if (memcmp(y, e, no * 8) != 0) {
                fprintf(stderr, "l = %u, shape %zu\n", l, a);
                CHECK(0);
            }
            mem_free(x);
            mem_free(w);
            mem_free(y);
            mem_free(e);
        }
    }
    prg_clear(&p);
}

/* The server's local product against the reference, including tiles that
 * split the output positions and grouped kernels. */
TEST(local_product_matches_reference) {
    prg p;
    harness_prg(&p, 800);
    lin_conv shapes[] = {
        conv_shape(1, 3, 40, 40, 5, 3, 3, 1, 1, 1, 1), /* 1600 positions: two tiles */
        conv_shape(2, 6, 9, 8, 9, 3, 2, 2, 1, 2, 3),   conv_shape(1, 5, 5, 5, 5, 5, 5, 1, 2, 1, 5),
        conv_shape(1, 600, 3, 3, 2, 3, 3, 1, 1, 1, 1), /* K = 5400: 16-position tiles */
        conv_shape(1, 1, 1, 1, 7, 1, 1, 1, 0, 1, 1),
    };
    for (size_t a = 0; a < sizeof shapes / sizeof *shapes; a++) {
        lin_conv c = shapes[a];
        REQUIRE(lin_conv_check(&c) == 0);
        size_t ni = lin_conv_in_size(&c), no = lin_conv_out_size(&c), nw = lin_conv_weight_size(&c);
        uint64_t *x = mem_alloc(ni, 8), *w = mem_alloc(nw, 8), *y = mem_alloc(no, 8),
                 *e = mem_alloc(no, 8);
        prg_ring(&p, x, ni, 64);
        prg_ring(&p, w, nw, 64);
        REQUIRE_OK(lin_local_conv(y, x, &c, w));
        lin_conv_plain(e, x, &c, w, 64);
        CHECK(memcmp(y, e, no * 8) == 0);
        mem_free(x);
        mem_free(w);
        mem_free(y);
        mem_free(e);
    }
    lin_fc fs[] = {{1, 1, 1, 64}, {3, 33, 7, 64}, {5, 4, 9, 64}};
    for (size_t a = 0; a < 3; a++) {
        lin_fc f = fs[a];
        size_t ni = (size_t)f.N * f.K, no = (size_t)f.N * f.O, nw = (size_t)f.O * f.K;
        uint64_t *x = mem_alloc(ni, 8), *w = mem_alloc(nw, 8), *y = mem_alloc(no, 8),
                 *e = mem_alloc(no, 8);
        prg_ring(&p, x, ni, 64);
        prg_ring(&p, w, nw, 64);
        lin_local_fc(y, x, &f, w);
        lin_fc_plain(e, x, &f, w, 64);
        CHECK(memcmp(y, e, no * 8) == 0);
        mem_free(x);
        mem_free(w);
        mem_free(y);
        mem_free(e);
    }
    prg_clear(&p);
}
