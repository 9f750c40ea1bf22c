/* A model's input-independent work; see prep.h. */
#include "nn/prep.h"

#include "nn/cost.h"
#include "nn/exec.h"
#include "nn/kind.h"
#include "util/mem.h"
#include "util/timer.h"

#include <string.h>

typedef struct cand {
    unsigned layer, last; /* layers layer .. last: merged (exec_lin_group_end) */
    int kind;             /* how they merge */
    lin_shape s;          /* what runs: the layer's, or the merge's */
    uint64_t bytes;
    double ns;
} cand;

/* Most CPU saved per byte first; ties in layer order (a stable choice). */
static int denser(const cand *a, const cand *b) {
    double da = a->ns * (double)b->bytes, db = b->ns * (double)a->bytes;
    if (da != db) return da > db;
    return a->layer < b->layer;
}

int prep_he_wcache(const qnet *net, uint64_t cap, lin_he_wcache **out, prep_stats *st) {
    PARLEY_CHECK(net->has_weights);
    *out = NULL;
    memset(st, 0, sizeof *st);
    double t0 = time_now();
    const uint64_t outs = cost_he_outputs(net); /* what exec_infer declares */
    cand *c = mem_alloc(net->nlayers ? net->nlayers : 1, sizeof *c);
    if (!c) return PARLEY_E_NOMEM;
    unsigned n = 0;
    lin_backend he = {.ops = &lin_he_ops}; /* pricing, as the session's */
    lin_set_outputs(&he, outs);
    for (unsigned i = 0; i < net->nlayers; i++) {
        const qlayer *L = &net->layers[i];
        if (!qop_is_linear(L->op) || !L->w) continue;
        cand k = {.layer = i, .s = qlayer_lin(L)};
        k.last = exec_lin_group_end(net, i, &he, &k.s, &k.kind);
        i = k.last;
        if (lin_he_wcache_cost(&k.s, net->l, outs, &k.bytes, &k.ns) < 0) {
            err_clear(); /* HE cannot run it: the session says so */
            continue;
        }
        if (k.bytes == 0) continue; /* runs over OT (a SCALE or FC, lin_he.h): nothing to keep */
        st->layers++;
        st->total += k.bytes;
        st->ns_total += k.ns;
        c[n++] = k;
    }
    /* insertion sort: a few hundred layers */
    for (unsigned i = 1; i < n; i++)
        for (unsigned j = i; j > 0 && denser(&c[j], &c[j - 1]); j--) {
            cand t = c[j];
            c[j] = c[j - 1];
            c[j - 1] = t;
        }
    int rc = 0;
    lin_he_wcache *wc = NULL;
    if (cap) rc = lin_he_wcache_new(&wc);
    for (unsigned i = 0; i < n && rc == 0 && wc; i++) {
        if (c[i].bytes > cap - st->bytes) continue; /* the next may fit */
        const qlayer *L = &net->layers[c[i].layer];
        if (c[i].last == c[i].layer) {
            rc = lin_he_wcache_add(wc, &c[i].s, net->l, outs, L->w);
        } else { /* the merged weights, known by the first layer's */
            uint64_t *wm;
            size_t nw;
            rc = exec_lin_group_weights(net, c[i].layer, c[i].last, &c[i].s, c[i].kind, &wm, &nw);
            if (rc == 0) {
                rc = lin_he_wcache_add_keyed(wc, &c[i].s, net->l, outs, wm, L->w);
                mem_free_wipe(wm, (nw ? nw : 1) * sizeof *wm);
            }
        }
        if (rc < 0) {
            err_wrap(rc, "the HE weight cache, layer %u (%s)", c[i].layer + 1, L->name);
            break;
        }
        st->bytes += c[i].bytes;
        st->ns_saved += c[i].ns;
        st->cached++;
    }
    mem_free(c);
    if (rc < 0) {
        lin_he_wcache_free(wc);
        return rc;
    }
    PARLEY_CHECK(lin_he_wcache_bytes(wc) == st->bytes);
    st->seconds = cap ? time_now() - t0 : 0;
    *out = wc;
    return 0;
}
