/* The planner of HE convolutions; see plan.h.
 *
 * The search visits every tile size that gives a distinct number of tiles,
 * every channel-block size that gives a distinct number of blocks, and the
 * most output channels per polynomial that fit (and that the noise budget
 * allows), with the most input bits the budget then lets the client drop
 * (drop_max), and keeps the cheapest by a cost that adds the exact wire
 * bytes and the estimated compute converted at PLAN_BYTES_PER_US. Integer
 * arithmetic but for the budget's, first minimum wins: both parties pick
 * the same plan. */
#include "lin/he/plan.h"

#include "util/bits.h"
#include "util/mem.h"

#include <string.h>

/* Compute estimates (ns of CPU, both parties, with the AVX2 tier; first
 * measured with perf at N = 4096 and two primes, then scaled by the
 * kernels' measured ratios at N = 8192 and three primes: an NTT 2.75x, a
 * row of products 2.3x per prime, modulus switching 4.6x): a weight
 * polynomial is three forward NTTs; a product multiply-accumulates six
 * rows; an input ciphertext is the client's encryption and packing and the
 * server's parsing, share addition, NTTs and expansion of a; an output
 * ciphertext the server's re-randomisation, inverse NTTs, noise, flooding,
 * modulus switching and the client's decryption. */
#define PLAN_NS_WPOLY 86000ULL
#define PLAN_NS_PRODUCT 56000ULL
#define PLAN_NS_IN 1900000ULL
#define PLAN_NS_OUT 2300000ULL
/* Packed outputs: a key switch (he_pack: 12 transforms and the digits'
 * products; `parley-bench he-pack`: 0.94 ms per switch in a tree of 8,
 * 1.10 ms in one of 64 on this host), and a packed member's own share of
 * an output ciphertext's work (re-randomisation, inverse transforms,
 * noise), from perf profiles of HE layers. */
#define PLAN_NS_KS 1000000ULL
#define PLAN_NS_MEMBER 900000ULL
/* One microsecond of the estimated (AVX2) compute is worth this many bytes
 * on the wire: 16 MB/s, a slow link's rate, so that where compute buys
 * bytes (packed outputs, narrower tiles) the planner mostly buys them. On a
 * CPU with AVX-512 IFMA the same compute takes about a third less (he/
 * ntt_ifma.c), so the actual rate is nearer 25 MB/s. At 50 bytes/us (until
 * 2026-12-06) SqueezeNet's HE inference took 0.257 GiB and ResNet50's
 * 1.078; at 16, 0.246 and 0.966, and ResNet50 ran 34-35 s on loopback with
 * IFMA against 50-52 s before it (docs/BENCHMARKS.md, "The planner's
 * exchange rate"). Both parties plan alike: a change here changes the
 * session's messages (SESSION_VERSION). */
#define PLAN_BYTES_PER_US 16ULL

uint64_t lin_he_wpoly_ns(int flat, uint64_t owcw) {
    /* a pruned transform costs its stages (plus a little for the copies) */
    return flat ? PLAN_NS_WPOLY * (bits_ceil_log2(owcw) + 1) / HE_LOGN : PLAN_NS_WPOLY;
}

static int plan_force_pk; /* lin_he_plan_force_pack */

void lin_he_plan_force_pack(int k) {
    PARLEY_CHECK(k >= -1 && k <= HE_PACK_MAX_LOG);
    plan_force_pk = k;
}

static uint64_t cdiv(uint64_t a, uint64_t b) {
    return (a + b - 1) / b;
}

static int unsupported(const char *why) {
    return err_set(PARLEY_E_UNSUPPORTED, "HE convolution: %s", why);
}

/* Residues of the taps a*d mod s for a < k; tap[ir*E + u] = a. */
static int decompose(unsigned k, unsigned d, unsigned s, unsigned *nres, unsigned **res,
                     unsigned *E, int **tap) {
    uint64_t e = ((uint64_t)(k - 1) * d) / s + 1;
    if (e > HE_N) return unsupported("kernel window after the stride decomposition exceeds N");
    unsigned *r = mem_alloc(k, sizeof *r);
    if (!r) return PARLEY_E_NOMEM;
    unsigned n = 0;
    for (unsigned a = 0; a < k; a++) {
        unsigned v = (unsigned)(((uint64_t)a * d) % s), f = 0;
        for (unsigned i = 0; i < n && !f; i++)
            f = r[i] == v;
        if (!f) r[n++] = v;
    }
    /* sorted, so the channel order is canonical */
    for (unsigned i = 1; i < n; i++)
        for (unsigned j = i; j > 0 && r[j - 1] > r[j]; j--) {
            unsigned t = r[j];
            r[j] = r[j - 1];
            r[j - 1] = t;
        }
    int *t = mem_alloc((size_t)n * e, sizeof *t);
    if (!t) {
        mem_free(r);
        return PARLEY_E_NOMEM;
    }
    for (size_t i = 0; i < (size_t)n * e; i++)
        t[i] = -1;
    for (unsigned a = 0; a < k; a++) {
        uint64_t off = (uint64_t)a * d;
        unsigned v = (unsigned)(off % s), u = (unsigned)(off / s), ir = 0;
        while (r[ir] != v)
            ir++;
        t[(size_t)ir * e + u] = (int)a;
    }
    *nres = n;
    *res = r;
    *E = (unsigned)e;
    *tap = t;
    return 0;
}

/* Channel blocks read by output group og (groups: only those sharing a group). */
static void og_range(const lin_he_plan *pl, unsigned Cw, unsigned Ow, unsigned og, unsigned *lo,
                     unsigned *hi) {
    const lin_conv *c = &pl->c;
    if (c->groups == 1) {
        *lo = 0;
        *hi = (unsigned)cdiv(pl->Cp, Cw) - 1;
        return;
    }
    uint64_t o_lo = (uint64_t)og * Ow, o_hi = o_lo + Ow - 1;
    if (o_hi >= c->O) o_hi = c->O - 1;
    uint64_t g_lo = o_lo / pl->opg, g_hi = o_hi / pl->opg;
    uint64_t c_lo = g_lo * pl->cpg * pl->R, c_hi = (g_hi + 1) * pl->cpg * pl->R - 1;
    *lo = (unsigned)(c_lo / Cw);
    *hi = (unsigned)(c_hi / Cw);
}

/* Largest Ow (<= cap) the noise budget allows; 0 if none. */
static unsigned ow_budget_max(const lin_he_plan *pl, unsigned cap) {
    he_budget b;
    if (he_budget_for(&b, pl->l, pl->c.wbits, pl->taps, pl->outs, 0) < 0) return 0;
    unsigned lo = 1, hi = cap;
    while (lo < hi) {
        unsigned mid = lo + (hi - lo + 1) / 2;
        if (he_budget_for(&b, pl->l, pl->c.wbits, pl->taps * mid, pl->outs, 0) == 0)
            lo = mid;
        else
            hi = mid - 1;
    }
    err_clear();
    return lo;
}

/* The most low bits of the input ciphertexts' b that may stay off the wire
 * when each output sums `taps` weights and the outputs are packed 2^pk to a
 * ciphertext: the budget must still leave PLAN_DROP_MARGIN bits of
 * decryption margin. Monotone in taps. PLAN_DROP_NONE if even no drop
 * leaves the budget (only with pk > 0: ow_budget_max keeps pk = 0 in it). */
#define PLAN_DROP_MARGIN 1.0
#define PLAN_DROP_NONE 0xfe
static unsigned drop_max(const lin_he_plan *pl, uint64_t taps, unsigned pk) {
    he_budget b;
    if (pk && he_budget_for_pack(&b, pl->l, pl->c.wbits, taps, pl->outs, 0, pk) < 0) {
        err_clear();
        return PLAN_DROP_NONE;
    }
    unsigned lo = 0, hi = HE_DROP_MAX;
    while (lo < hi) {
        unsigned mid = lo + (hi - lo + 1) / 2;
        if (he_budget_for_pack(&b, pl->l, pl->c.wbits, taps, pl->outs, mid, pk) == 0 &&
            b.margin_bits >= PLAN_DROP_MARGIN)
            lo = mid;
        else
            hi = mid - 1;
    }
    err_clear();
    return lo;
}

/* Kept coefficients of output group og on tile (ti, tj). */
static uint64_t tile_targets(const lin_he_plan *pl, unsigned og, unsigned ti, unsigned tj) {
    const lin_conv *c = &pl->c;
    uint64_t no = c->O - (uint64_t)og * pl->Ow < pl->Ow ? c->O - (uint64_t)og * pl->Ow : pl->Ow;
    if (pl->flat) {
        uint64_t hw = (uint64_t)c->OH * c->OW, p0 = (uint64_t)tj * pl->ow;
        return no * (hw - p0 < pl->ow ? hw - p0 : pl->ow);
    }
    uint64_t rows = c->OH - (uint64_t)ti * pl->oh < pl->oh ? c->OH - (uint64_t)ti * pl->oh : pl->oh;
    uint64_t cols = c->OW - (uint64_t)tj * pl->ow < pl->ow ? c->OW - (uint64_t)tj * pl->ow : pl->ow;
    return no * rows * cols;
}

/* Exact bytes server -> client: every returned ciphertext of every unit. */
static uint64_t s2c_bytes(const lin_he_plan *pl) {
    uint64_t total = 0;
    if (pl->pk) {
        const unsigned Cw = 1u << pl->pk;
        for (unsigned bk = 0; bk < pl->nbk; bk++)
            for (unsigned ti = 0; ti < pl->th; ti++)
                for (unsigned tj = 0; tj < pl->tw; tj++) {
                    uint64_t kept = 0;
                    for (unsigned og = bk * Cw; og < pl->nog && og < (bk + 1) * Cw; og++)
                        kept += tile_targets(pl, og, ti, tj);
                    total += he_out_bytes(kept, pl->bud.ka, pl->bud.kb);
                }
        return total * pl->c.N;
    }
    for (unsigned og = 0; og < pl->nog; og++)
        for (unsigned ti = 0; ti < pl->th; ti++)
            for (unsigned tj = 0; tj < pl->tw; tj++)
                total += he_out_bytes(tile_targets(pl, og, ti, tj), pl->bud.ka, pl->bud.kb);
    return total * pl->c.N;
}

/* Distinct tile extents: for every tile count, the smallest extent giving
 * it, among extents whose window fits in N. */
static unsigned tile_candidates(unsigned *out, unsigned n_out, unsigned E) {
    unsigned cnt = 0;
    uint64_t t = 1;
    while (t <= n_out) {
        uint64_t o = cdiv(n_out, t);
        if (o + E - 1 <= HE_N) out[cnt++] = (unsigned)o;
        if (o == 1) break;
        t = cdiv(n_out, o - 1); /* the next count with a smaller extent */
    }
    return cnt;
}

typedef struct search {
    const lin_he_plan *pl;
    unsigned ow_cap;
    uint8_t *drop; /* drop_max by pk and Ow, [pk * (ow_cap + 1) + Ow] (0xff: not computed yet) */
    uint64_t best;
    int flat;
    unsigned pk;
    unsigned Cw, Hw, Ww, Ow, oh, ow;
} search;

/* Every channel-block size giving a distinct number of blocks, with the most
 * output channels per polynomial that fit; keep the cheapest. */
static void consider(search *sr, int flat, unsigned Hw, unsigned Ww, unsigned oh, unsigned ow,
                     uint64_t units, unsigned pk) {
    const lin_he_plan *pl = sr->pl;
    const lin_conv *c = &pl->c;
    if (plan_force_pk && (plan_force_pk < 0 ? pk != 0 : pk != (unsigned)plan_force_pk)) return;
    const uint64_t ka = pl->l + HE_KA_EXTRA, kb = pl->l + HE_KB_EXTRA;
    uint64_t maxC = HE_N / ((uint64_t)Hw * Ww), prev = 0;
    /* packed: the one block size 2^pk (while it fits); else every size */
    uint64_t Cw0 = pk ? 1ull << pk : 1, Cw1 = pk ? Cw0 : pl->Cp;
    for (uint64_t Cw = Cw0; Cw <= maxC && Cw <= Cw1; Cw++) {
        uint64_t ncb = cdiv(pl->Cp, Cw);
        if (ncb == prev) continue;
        prev = ncb;
        uint64_t Ow = HE_N / (Cw * Hw * Ww);
        if (pk && flat) { /* the outputs of group o' sit one group further on */
            if (Ow < 2) continue;
            Ow--;
        }
        if (Ow > sr->ow_cap) Ow = sr->ow_cap;
        uint64_t nog = cdiv(c->O, Ow);
        Ow = cdiv(c->O, nog);
        uint64_t wp = 0;
        if (c->groups == 1) {
            wp = nog * ncb;
        } else {
            for (unsigned og = 0; og < nog; og++) {
                unsigned lo, hi;
                og_range(pl, (unsigned)Cw, (unsigned)Ow, og, &lo, &hi);
                wp += hi - lo + 1;
            }
        }
        uint8_t *dr = &sr->drop[(size_t)pk * (sr->ow_cap + 1) + Ow];
        if (*dr == 0xff) *dr = (uint8_t)drop_max(pl, pl->taps * Ow, pk);
        if (*dr == PLAN_DROP_NONE) continue;
        const unsigned drop = *dr;
        uint64_t nin = units * ncb, nout = units * nog;
        uint64_t bytes, ns;
        if (pk) {
            /* blocks of Cw output groups on a tile return as one ciphertext;
             * the weights are transformed per tile (a lane runs one block
             * on one tile at a time) */
            uint64_t nbk = cdiv(nog, Cw), last = nog - (nbk - 1) * Cw;
            uint64_t outputs = (uint64_t)c->N * c->O * c->OH * c->OW;
            uint64_t ks = units * ((nbk - 1) * he_pack_switches(Cw) + he_pack_switches(last));
            bytes = nin * he_in_bytes(drop) + units * nbk * (HE_N * ka / 8) +
                    outputs * kb / 8;
            ns = wp * units * (lin_he_wpoly_ns(flat, Ow * Cw + 1) + PLAN_NS_PRODUCT) + nin * PLAN_NS_IN +
                 units * nbk * PLAN_NS_OUT + nout * PLAN_NS_MEMBER + ks * PLAN_NS_KS;
        } else {
            bytes = nin * he_in_bytes(drop) + nout * (HE_N * ka / 8);
            uint64_t wns = lin_he_wpoly_ns(flat, Ow * Cw);
            ns = wp * wns + wp * units * PLAN_NS_PRODUCT + nin * PLAN_NS_IN + nout * PLAN_NS_OUT;
        }
        uint64_t cost = bytes * 1000 + ns * PLAN_BYTES_PER_US;
        if (cost < sr->best) {
            sr->best = cost;
            sr->flat = flat;
            sr->pk = pk;
            sr->Cw = (unsigned)Cw;
            sr->Hw = Hw;
            sr->Ww = Ww;
            sr->Ow = (unsigned)Ow;
            sr->oh = oh;
            sr->ow = ow;
        }
    }
}

int lin_he_plan_make(lin_he_plan *pl, const lin_conv *cin, unsigned l, uint64_t outs) {
    memset(pl, 0, sizeof *pl);
    pl->c = *cin;
    pl->outs = outs;
    lin_conv *c = &pl->c;
    TRY(lin_conv_check(c));
    if (l < 1 || l > HE_L_MAX)
        return err_set(PARLEY_E_UNSUPPORTED, "HE convolution: ring width l = %u outside 1..%d", l,
                       HE_L_MAX);
    if (c->wbits > l)
        return err_set(PARLEY_E_ARG, "HE convolution: weight width %u exceeds l = %u", c->wbits, l);
    pl->l = l;
    int rc = decompose(c->kh, c->dh, c->sh, &pl->nrh, &pl->rh, &pl->Eh, &pl->tap_h);
    if (rc == 0) rc = decompose(c->kw, c->dw, c->sw, &pl->nrw, &pl->rw, &pl->Ew, &pl->tap_w);
    if (rc < 0) goto fail;
    if ((uint64_t)pl->Eh * pl->Ew > HE_N) {
        rc = unsupported("kernel window after the stride decomposition exceeds N");
        goto fail;
    }
    pl->R = pl->nrh * pl->nrw;
    if ((uint64_t)c->C * pl->R > UINT32_MAX) {
        rc = unsupported("too many channels after the stride decomposition");
        goto fail;
    }
    pl->Cp = c->C * pl->R;
    pl->Hi = c->OH + pl->Eh - 1;
    pl->Wi = c->OW + pl->Ew - 1;
    pl->cpg = c->C / c->groups;
    pl->opg = c->O / c->groups;
    pl->taps = (uint64_t)pl->cpg * c->kh * c->kw;

    unsigned ow_cap = ow_budget_max(pl, c->O < HE_N ? c->O : HE_N);
    if (ow_cap == 0) {
        he_budget b;
        rc = he_budget_for(&b, l, c->wbits, pl->taps, outs, 0);
        goto fail;
    }

    search sr = {.pl = pl, .ow_cap = ow_cap, .best = UINT64_MAX};
    const size_t ndrop = (size_t)(HE_PACK_MAX_LOG + 1) * (ow_cap + 1);
    sr.drop = mem_alloc(ndrop, 1);
    if (!sr.drop) {
        rc = PARLEY_E_NOMEM;
        goto fail;
    }
    memset(sr.drop, 0xff, ndrop);
    unsigned hc[HE_N + 1], wc[HE_N + 1]; /* distinct extents <= N */
    unsigned nh = tile_candidates(hc, c->OH, pl->Eh), nw = tile_candidates(wc, c->OW, pl->Ew);
    for (unsigned a = 0; a < nh; a++)
        for (unsigned b = 0; b < nw; b++) {
            uint64_t Hw = hc[a] + pl->Eh - 1, Ww = wc[b] + pl->Ew - 1;
            if (Hw * Ww > HE_N) continue;
            uint64_t units = (uint64_t)c->N * cdiv(c->OH, hc[a]) * cdiv(c->OW, wc[b]);
            for (unsigned pk = 0; pk <= HE_PACK_MAX_LOG; pk++)
                consider(&sr, 0, (unsigned)Hw, (unsigned)Ww, hc[a], wc[b], units, pk);
        }
    if (pl->Eh == 1 && pl->Ew == 1) { /* flat blocks of Pu positions, odd stride */
        uint64_t hw = (uint64_t)c->OH * c->OW;
        unsigned pc[HE_N + 1];
        unsigned np = tile_candidates(pc, hw > UINT32_MAX ? UINT32_MAX : (unsigned)hw, 1);
        for (unsigned a = 0; a < np; a++) {
            unsigned P = pc[a] | 1u;
            uint64_t units = (uint64_t)c->N * cdiv(hw, pc[a]);
            if (P > HE_N) continue;
            for (unsigned pk = 0; pk <= HE_PACK_MAX_LOG; pk++)
                consider(&sr, 1, 1, P, 1, pc[a], units, pk);
        }
    }
    uint64_t best = sr.best;
    mem_free(sr.drop);
    pl->flat = sr.flat;
    pl->pk = sr.pk;
    pl->Cw = sr.Cw;
    pl->Hw = sr.Hw;
    pl->Ww = sr.Ww;
    pl->Ow = sr.Ow;
    pl->oh = sr.oh;
    pl->ow = sr.ow;
    if (best == UINT64_MAX) {
        rc = unsupported("no block of the input fits in N coefficients");
        goto fail;
    }
    if (pl->flat) {
        pl->th = 1;
        pl->tw = (unsigned)cdiv((uint64_t)c->OH * c->OW, pl->ow);
        /* compact weights, inputs in the automorphism's order; packed:
         * W~ has degree <= Ow*Cw */
        pl->logm = bits_ceil_log2((uint64_t)pl->Ow * pl->Cw + (pl->pk ? 1 : 0));
        pl->perm = mem_alloc(HE_N, sizeof *pl->perm);
        if (!pl->perm) {
            rc = PARLEY_E_NOMEM;
            goto fail;
        }
        he_auto_perm(pl->perm, pl->Ww);
    } else {
        pl->th = (unsigned)cdiv(c->OH, pl->oh);
        pl->tw = (unsigned)cdiv(c->OW, pl->ow);
    }
    pl->ncb = (unsigned)cdiv(pl->Cp, pl->Cw);
    pl->nog = (unsigned)cdiv(c->O, pl->Ow);
    pl->nbk = pl->pk ? (unsigned)cdiv(pl->nog, pl->Cw) : pl->nog;
    pl->units = (uint64_t)c->N * pl->th * pl->tw;
    pl->S = pl->Cw * pl->Hw * pl->Ww;
    if (pl->pk && pl->flat) /* outputs at Cw*(P'*(o'+1) + j) */
        pl->Off = pl->Cw * pl->Ww;
    else if (pl->pk) /* in units of X; the outputs' offset, = 0 mod Cw */
        pl->Off = pl->Cw * ((pl->Eh - 1) * pl->Ww + (pl->Ew - 1));
    else
        pl->Off = (pl->Cw - 1) * pl->Hw * pl->Ww + (pl->Eh - 1) * pl->Ww + (pl->Ew - 1);
    pl->drop = drop_max(pl, pl->taps * pl->Ow, pl->pk);
    PARLEY_CHECK(pl->drop != PLAN_DROP_NONE); /* the search skipped those */
    rc = he_budget_for_pack(&pl->bud, l, c->wbits, pl->taps * pl->Ow, outs, pl->drop, pl->pk);
    if (rc < 0) goto fail;
    pl->cb_lo = mem_alloc(pl->nog, sizeof *pl->cb_lo);
    pl->cb_hi = mem_alloc(pl->nog, sizeof *pl->cb_hi);
    if (!pl->cb_lo || !pl->cb_hi) {
        rc = PARLEY_E_NOMEM;
        goto fail;
    }
    pl->wpolys = 0;
    for (unsigned og = 0; og < pl->nog; og++) {
        og_range(pl, pl->Cw, pl->Ow, og, &pl->cb_lo[og], &pl->cb_hi[og]);
        pl->wpolys += pl->cb_hi[og] - pl->cb_lo[og] + 1;
    }
    pl->in_cts = pl->units * pl->ncb;
    pl->out_cts = pl->units * pl->nbk;
    pl->products = pl->wpolys * pl->units;
    pl->bytes_c2s = pl->in_cts * he_in_bytes(pl->drop);
    pl->bytes_s2c = s2c_bytes(pl);
    return 0;
fail:
    lin_he_plan_free(pl);
    return rc;
}

void lin_he_plan_free(lin_he_plan *pl) {
    mem_free(pl->rh);
    mem_free(pl->rw);
    mem_free(pl->tap_h);
    mem_free(pl->tap_w);
    mem_free(pl->cb_lo);
    mem_free(pl->cb_hi);
    mem_free(pl->perm);
    pl->perm = NULL;
    pl->rh = pl->rw = NULL;
    pl->tap_h = pl->tap_w = NULL;
    pl->cb_lo = pl->cb_hi = NULL;
}

static void unit_split(const lin_he_plan *pl, uint64_t unit, uint64_t *n, unsigned *ti,
                       unsigned *tj) {
    uint64_t per = (uint64_t)pl->th * pl->tw, t = unit % per;
    *n = unit / per;
    *ti = (unsigned)(t / pl->tw);
    *tj = (unsigned)(t % pl->tw);
}

void lin_he_plan_gather(const lin_he_plan *pl, uint64_t *m, const uint64_t *x, uint64_t unit,
                        unsigned cb) {
    const lin_conv *c = &pl->c;
    uint64_t n;
    unsigned ti, tj;
    unit_split(pl, unit, &n, &ti, &tj);
    memset(m, 0, HE_N * sizeof *m);
    const size_t hw = (size_t)pl->Hw * pl->Ww, hw_blk = hw; /* flat: hw_blk = P' */
    for (unsigned ci = 0; ci < pl->Cw; ci++) {
        uint64_t cp = (uint64_t)cb * pl->Cw + ci;
        if (cp >= pl->Cp) break;
        unsigned c0 = (unsigned)(cp / pl->R), r = (unsigned)(cp % pl->R);
        unsigned rh = pl->rh[r / pl->nrw], rw = pl->rw[r % pl->nrw];
        const uint64_t *xc = x + ((size_t)n * c->C + c0) * c->H * c->W;
        if (pl->flat) { /* positions tj*Pu .. +Pu of the row-major sub-image */
            uint64_t npos = (uint64_t)pl->Hi * pl->Wi;
            for (unsigned j = 0; j < pl->ow; j++) {
                uint64_t p = (uint64_t)tj * pl->ow + j;
                if (p >= npos) break;
                uint64_t prow = (p / pl->Wi) * c->sh + rh, pcol = (p % pl->Wi) * c->sw + rw;
                if (prow < c->pt || prow - c->pt >= c->H || pcol < c->pl || pcol - c->pl >= c->W)
                    continue;
                uint64_t v = xc[(size_t)(prow - c->pt) * c->W + (pcol - c->pl)];
                if (pl->pk) { /* P'*c + Cw*j, past N with the sign of X^N = -1 */
                    size_t at = (size_t)pl->Ww * ci + (size_t)pl->Cw * j;
                    if (at >= HE_N) { /* public: the position alone decides */
                        at -= HE_N;
                        v = (0 - v) & bits_mask(pl->l);
                    }
                    m[at] = v;
                } else {
                    m[ci * hw_blk + j] = v;
                }
            }
            continue;
        }
        for (unsigned i = 0; i < pl->Hw; i++) {
            uint64_t si = (uint64_t)ti * pl->oh + i;
            if (si >= pl->Hi) break;
            uint64_t prow = si * c->sh + rh;
            if (prow < c->pt || prow - c->pt >= c->H) continue;
            const uint64_t *xr = xc + (size_t)(prow - c->pt) * c->W;
            /* unpacked: channel blocks of Hw*Ww; packed: channels interleaved */
            uint64_t *mr = pl->pk ? m + ci + (size_t)pl->Cw * i * pl->Ww
                                  : m + ci * hw + (size_t)i * pl->Ww;
            const size_t step = pl->pk ? pl->Cw : 1;
            for (unsigned j = 0; j < pl->Ww; j++) {
                uint64_t sj = (uint64_t)tj * pl->ow + j;
                if (sj >= pl->Wi) break;
                uint64_t pcol = sj * c->sw + rw;
                if (pcol < c->pl || pcol - c->pl >= c->W) continue;
                mr[j * step] = xr[pcol - c->pl];
            }
        }
    }
}

/* The kernel (kh x kw weights) that output oi of group og takes from
 * channel position ci of block cb, with that position's index cp in the
 * padded channel order; NULL where there is none (past the channels or
 * the outputs, or another convolution group). Public shape arithmetic
 * only: the weights themselves are read by the callers, without branches
 * (docs/SECURITY-HE.md). */
static const uint64_t *wpoly_kernel(const lin_he_plan *pl, const uint64_t *w, unsigned og,
                                    unsigned cb, unsigned oi, unsigned ci, uint64_t *cp) {
    const lin_conv *c = &pl->c;
    uint64_t o = (uint64_t)og * pl->Ow + oi;
    *cp = (uint64_t)cb * pl->Cw + ci;
    if (o >= c->O || *cp >= pl->Cp) return NULL;
    uint64_t g = o / pl->opg, c0 = *cp / pl->R;
    if (c0 / pl->cpg != g) return NULL;
    return w + (o * pl->cpg + (c0 - g * pl->cpg)) * c->kh * c->kw;
}

void lin_he_plan_wpoly(const lin_he_plan *pl, he_poly *wp, const uint64_t *w, unsigned og,
                       unsigned cb) {
    const lin_conv *c = &pl->c;
    const he_params *P = he_params_get();
    memset(wp, 0, sizeof *wp);
    const size_t hw = (size_t)pl->Hw * pl->Ww;
    for (unsigned oi = 0; oi < pl->Ow; oi++)
        for (unsigned ci = 0; ci < pl->Cw; ci++) {
            uint64_t cp;
            const uint64_t *wo = wpoly_kernel(pl, w, og, cb, oi, ci, &cp);
            if (!wo) continue;
            unsigned r = (unsigned)(cp % pl->R), ih = r / pl->nrw, iw = r % pl->nrw;
            size_t base = (size_t)oi * pl->S + pl->Off - ci * hw;
            for (unsigned u = 0; u < pl->Eh; u++) {
                int a = pl->tap_h[(size_t)ih * pl->Eh + u];
                if (a < 0) continue;
                for (unsigned v = 0; v < pl->Ew; v++) {
                    int b = pl->tap_w[(size_t)iw * pl->Ew + v];
                    if (b < 0) continue;
                    int64_t wv = bits_signed(wo[(size_t)a * c->kw + (size_t)b], pl->l);
                    size_t at;
                    if (pl->pk) { /* Cw*(o'*Hw*Ww + off - u*Ww - v) - c; below 0: -X^(N + e) */
                        int64_t e = (int64_t)oi * pl->S + pl->Off -
                                    (int64_t)pl->Cw * ((int64_t)u * pl->Ww + v) - ci;
                        if (e < 0) { /* only the first output channel's last tap (public) */
                            e += HE_N;
                            wv = -wv;
                        }
                        at = (size_t)e;
                    } else {
                        at = base - ((size_t)u * pl->Ww + v);
                    }
                    for (int i = 0; i < HE_L; i++)
                        wp->c[i][at] = he_from_signed(wv, P->p[i].q);
                }
            }
        }
}

void lin_he_plan_wpoly_compact(const lin_he_plan *pl, he_poly *wp, const uint64_t *w, unsigned og,
                               unsigned cb) {
    PARLEY_CHECK(pl->flat);
    const lin_conv *c = &pl->c;
    const he_params *P = he_params_get();
    size_t len = (size_t)1 << pl->logm;
    for (int i = 0; i < HE_L; i++)
        memset(wp->c[i], 0, len * sizeof wp->c[i][0]);
    for (unsigned oi = 0; oi < pl->Ow; oi++)
        for (unsigned ci = 0; ci < pl->Cw; ci++) {
            uint64_t cp;
            const uint64_t *wo = wpoly_kernel(pl, w, og, cb, oi, ci, &cp);
            if (!wo) continue;
            /* 1x1 window: the only tap is (0, 0) */
            int a = pl->tap_h[(size_t)((cp % pl->R) / pl->nrw) * pl->Eh];
            int b = pl->tap_w[(size_t)((cp % pl->R) % pl->nrw) * pl->Ew];
            if (a < 0 || b < 0) continue;
            int64_t wv = bits_signed(wo[(size_t)a * c->kw + (size_t)b], pl->l);
            /* packed: W~ at o'*Cw + Cw - c (X^(P'*(o'*Cw + Cw - c)) meets X^(P'*c)) */
            size_t at = (size_t)oi * pl->Cw + (pl->pk ? pl->Cw - ci : pl->Cw - 1 - ci);
            for (int i = 0; i < HE_L; i++)
                wp->c[i][at] = he_from_signed(wv, P->p[i].q);
        }
}

size_t lin_he_plan_targets(const lin_he_plan *pl, uint32_t *pos, size_t *yidx, unsigned og,
                           uint64_t unit) {
    const lin_conv *c = &pl->c;
    uint64_t n;
    unsigned ti, tj;
    unit_split(pl, unit, &n, &ti, &tj);
    size_t k = 0;
    for (unsigned oi = 0; oi < pl->Ow; oi++) {
        uint64_t o = (uint64_t)og * pl->Ow + oi;
        if (o >= c->O) break;
        if (pl->flat) {
            uint64_t hw = (uint64_t)c->OH * c->OW;
            for (unsigned j = 0; j < pl->ow; j++) {
                uint64_t p = (uint64_t)tj * pl->ow + j;
                if (p >= hw) break;
                pos[k] = pl->pk ? (uint32_t)((size_t)pl->Cw * ((size_t)pl->Ww * oi + j) + pl->Off)
                                : (uint32_t)((size_t)oi * pl->S + pl->Off + j);
                yidx[k] = (size_t)((n * c->O + o) * hw + p);
                k++;
            }
            continue;
        }
        for (unsigned i = 0; i < pl->oh; i++) {
            uint64_t row = (uint64_t)ti * pl->oh + i;
            if (row >= c->OH) break;
            for (unsigned j = 0; j < pl->ow; j++) {
                uint64_t col = (uint64_t)tj * pl->ow + j;
                if (col >= c->OW) break;
                size_t in_blk = (size_t)i * pl->Ww + j;
                pos[k] = (uint32_t)((size_t)oi * pl->S + pl->Off + (pl->pk ? pl->Cw * in_blk : in_blk));
                yidx[k] = (size_t)(((n * c->O + o) * c->OH + row) * c->OW + col);
                k++;
            }
        }
    }
    return k;
}

size_t lin_he_plan_block_targets(const lin_he_plan *pl, uint32_t *pos, size_t *yidx, unsigned bk,
                                 uint64_t unit) {
    PARLEY_CHECK(pl->pk);
    size_t k = 0;
    for (unsigned i = 0; i < pl->Cw; i++) {
        unsigned og = bk * pl->Cw + i;
        if (og >= pl->nog) break;
        size_t n = lin_he_plan_targets(pl, pos + k, yidx + k, og, unit);
        for (size_t j = 0; j < n; j++)
            pos[k + j] += i;
        k += n;
    }
    return k;
}
