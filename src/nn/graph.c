/* The float graph and its folding passes; see graph.h. */
#include "nn/graph.h"

#include "nn/kind.h"

#include "util/mem.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

int fgraph_new(fgraph **out) {
    *out = mem_calloc(1, sizeof(fgraph));
    return *out ? 0 : PARLEY_E_NOMEM;
}

static void node_clear(fnode *n) {
    mem_free(n->name);
    mem_free(n->in);
    mem_free(n->w);
    mem_free(n->b);
    memset(n, 0, sizeof *n);
}

void fgraph_free(fgraph *g) {
    if (!g) return;
    for (unsigned i = 0; i < g->nv; i++)
        mem_free(g->v[i].name);
    for (unsigned i = 0; i < g->nn; i++)
        node_clear(&g->n[i]);
    mem_free(g->v);
    mem_free(g->n);
    mem_free(g->notes);
    mem_free(g);
}

/* A printable copy of at most QNET_MAX_NAME bytes. */
static char *name_dup(const char *s) {
    size_t n = s ? strlen(s) : 0;
    if (n > QNET_MAX_NAME) n = QNET_MAX_NAME;
    char *d = mem_alloc(n + 1, 1);
    if (!d) return NULL;
    for (size_t i = 0; i < n; i++)
        d[i] = (unsigned char)s[i] < 0x20 || (unsigned char)s[i] > 0x7e ? '?' : s[i];
    d[n] = 0;
    return d;
}

static int grow(void **arr, unsigned *cap, unsigned need, size_t elem) {
    if (need <= *cap) return 0;
    if (need > QNET_MAX_LAYERS) return err_set(PARLEY_E_UNSUPPORTED, "graph too large");
    unsigned ncap = *cap ? *cap * 2 : 16;
    while (ncap < need)
        ncap *= 2;
    void *p = mem_calloc(ncap, elem);
    if (!p) return PARLEY_E_NOMEM;
    if (*arr) memcpy(p, *arr, (size_t)*cap * elem);
    mem_free(*arr);
    *arr = p;
    *cap = ncap;
    return 0;
}

int fgraph_reserve(fgraph *g, unsigned values) {
    return grow((void **)&g->v, &g->capv, values, sizeof *g->v);
}

int fgraph_value(fgraph *g, unsigned *id, const char *name, const nn_shape *shape) {
    size_t n;
    nn_shape s = *shape; /* shape may point into g->v, which may move */
    TRY(nn_shape_check(&n, &s));
    TRY(grow((void **)&g->v, &g->capv, g->nv + 1, sizeof *g->v));
    fvalue *v = &g->v[g->nv];
    v->name = name_dup(name);
    if (!v->name) return PARLEY_E_NOMEM;
    v->shape = s;
    v->size = n;
    v->producer = -1;
    *id = g->nv++;
    return 0;
}

int fgraph_node(fgraph *g, fnode **node, qop op, const char *name, const unsigned *in, unsigned nin,
                unsigned out) {
    TRY(grow((void **)&g->n, &g->capn, g->nn + 1, sizeof *g->n));
    fnode *n = &g->n[g->nn];
    memset(n, 0, sizeof *n);
    n->op = op;
    n->name = name_dup(name);
    n->in = mem_alloc(nin ? nin : 1, sizeof *n->in);
    if (!n->name || !n->in) {
        node_clear(n);
        return PARLEY_E_NOMEM;
    }
    if (nin) memcpy(n->in, in, nin * sizeof *in);
    n->nin = nin;
    n->out = out;
    g->v[out].producer = (int)g->nn;
    g->nn++;
    *node = n;
    return 0;
}

int fgraph_note(fgraph *g, const char *fmt, ...) {
    char line[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(line, sizeof line, fmt, ap);
    va_end(ap);
    size_t old = g->notes ? strlen(g->notes) : 0, add = strlen(line);
    char *p = mem_alloc(old + add + 2, 1);
    if (!p) return PARLEY_E_NOMEM;
    if (old) memcpy(p, g->notes, old);
    memcpy(p + old, line, add);
    p[old + add] = '\n';
    p[old + add + 1] = 0;
    mem_free(g->notes);
    g->notes = p;
    return 0;
}

void fnode_private(const fgraph *g, const fnode *n, size_t *nw, size_t *nb) {
    qkind_private(qkind_of(n->op), &n->p, g->v[n->out].size, nw, nb);
}

int fgraph_uses(const fgraph *g, unsigned **uses) {
    unsigned *u = mem_calloc(g->nv ? g->nv : 1, sizeof *u);
    if (!u) return PARLEY_E_NOMEM;
    for (unsigned i = 0; i < g->nn; i++)
        if (!g->n[i].dead)
            for (unsigned k = 0; k < g->n[i].nin; k++)
                u[g->n[i].in[k]]++;
    u[g->output]++;
    *uses = u;
    return 0;
}

/* ---- folding ------------------------------------------------------------- */

/* The node computing value v if it is a live CONV/FC read only by one node
 * (and not the network output), else NULL. */
static fnode *sole_linear_producer(fgraph *g, const unsigned *uses, unsigned v) {
    int p = g->v[v].producer;
    if (p < 0 || uses[v] != 1) return NULL;
    fnode *P = &g->n[p];
    if (P->dead || (P->op != QOP_CONV && P->op != QOP_FC)) return NULL;
    return P;
}

static int ensure_bias(const fgraph *g, fnode *P) {
    if (P->b) return 0;
    size_t nw, nb;
    fnode_private(g, P, &nw, &nb);
    P->b = mem_calloc(nb, sizeof(float));
    return P->b ? 0 : PARLEY_E_NOMEM;
}

/* Channels of P's output: nch, with `per` elements each, repeating every
 * nch*per. */
static void channels(const fnode *P, size_t *nch, size_t *per) {
    lin_shape s = qkind_lin(qkind_of(P->op), &P->p);
    lin_channels(&s, nch, per);
}

/* BatchNormalization (SCALE) after CONV/FC: w' = w * g[o], b' = b * g[o] +
 * beta[o], in double, before any rounding (docs/PROTOCOLS.md §0). */
static int fold_scale(fgraph *g, unsigned *uses, fnode *n) {
    fnode *P = sole_linear_producer(g, uses, n->in[0]);
    if (!P) return 0;
    /* An FC's channels are its last dimension; the SCALE's are dimension 1. */
    if (P->op == QOP_FC && g->v[P->out].shape.rank != 2) return 0;
    TRY(ensure_bias(g, P));
    size_t nch, per, nw, nb, row;
    fnode_private(g, P, &nw, &nb);
    channels(P, &nch, &per);
    row = nw / nch;
    for (size_t o = 0; o < nch; o++) {
        double ga = n->w[o];
        for (size_t k = 0; k < row; k++)
            P->w[o * row + k] = (float)((double)P->w[o * row + k] * ga);
        P->b[o] = (float)((double)P->b[o] * ga + (double)n->b[o]);
    }
    P->out = n->out;
    g->v[n->out].producer = (int)(P - g->n);
    n->dead = 1;
    return 0;
}

/* A SCALE read only by a Relu, read only by convolutions without padding
 * (as their input): relu(g x + beta) = g y with z = x + beta / g and y =
 * [sign(g) z > 0] z for g != 0, so each factor g[c] multiplies the weights
 * of input channel c in every one of those convolutions, and the SCALE and
 * the Relu become one BN_RELU (addend beta / g, sign bit [g < 0]). A
 * channel with |g| < 2^-24 (0 at any scale below 24) is the constant
 * relu(beta): its weights become 0 and each convolution's bias takes
 * relu(beta) times their sum (exact because no tap reads padding). Whether
 * a layer folds depends on the graph's structure only (docs/PROTOCOLS.md
 * §0): the public model tells nothing about the factors. The weights keep
 * the convolution's public policy, as a batch norm folded backwards does. */
static int fold_bn_relu(fgraph *g, const unsigned *uses, fnode *n) {
    unsigned v = n->out, u;
    if (uses[v] != 1 || v == g->output || g->v[v].shape.rank < 2) return 0;
    fnode *R = NULL;
    for (unsigned i = 0; i < g->nn && !R; i++)
        if (!g->n[i].dead && g->n[i].nin == 1 && g->n[i].in[0] == v) R = &g->n[i];
    if (!R || R->op != QOP_RELU) return 0;
    u = R->out;
    if (u == g->output || uses[u] == 0) return 0;
    const lin_scale sc = n->p.lin.scale;
    unsigned readers = 0;
    for (unsigned i = 0; i < g->nn; i++) {
        const fnode *m = &g->n[i];
        for (unsigned k = 0; k < m->nin && !m->dead; k++) {
            if (m->in[k] != u) continue;
            const lin_conv *c = &m->p.lin.conv;
            if (m->op != QOP_CONV || k != 0 || c->pt || c->pl || c->pb || c->pr ||
                c->C != sc.C || !m->w)
                return 0;
            readers++;
        }
    }
    if (readers != uses[u]) return 0;
    for (unsigned i = 0; i < g->nn; i++) {
        fnode *m = &g->n[i];
        if (m->dead || m->in == NULL || m->nin == 0 || m->in[0] != u) continue;
        TRY(ensure_bias(g, m));
        const lin_conv *c = &m->p.lin.conv;
        size_t cg = c->C / c->groups, og = c->O / c->groups, taps = (size_t)c->kh * c->kw;
        for (size_t o = 0; o < c->O; o++)
            for (size_t ci = 0; ci < cg; ci++) {
                size_t ch = (o / og) * cg + ci;
                float *w = &m->w[(o * cg + ci) * taps];
                double ga = n->w[ch];
                if (fabs(ga) < 0x1p-24) {
                    double sum = 0, k = n->b[ch] > 0 ? n->b[ch] : 0;
                    for (size_t t = 0; t < taps; t++) {
                        sum += w[t];
                        w[t] = 0;
                    }
                    m->b[o] = (float)((double)m->b[o] + sum * k);
                } else {
                    for (size_t t = 0; t < taps; t++) w[t] = (float)((double)w[t] * ga);
                }
            }
        m->took_bn = 1;
    }
    for (size_t ch = 0; ch < sc.C; ch++) {
        double ga = n->w[ch];
        int zero = fabs(ga) < 0x1p-24;
        n->b[ch] = zero ? 0.0f : (float)((double)n->b[ch] / ga);
        n->w[ch] = !zero && ga < 0 ? -1.0f : 1.0f;
    }
    n->op = QOP_BN_RELU;
    n->p.lin.scale.wbits = 1;
    n->out = u;
    g->v[u].producer = (int)(n - g->n);
    R->dead = 1; /* v is read by no one now: compact drops it */
    return 0;
}

/* Add of a per-channel constant after CONV/FC: into the bias. */
static int fold_addc(fgraph *g, unsigned *uses, fnode *n) {
    fnode *P = sole_linear_producer(g, uses, n->in[0]);
    if (!P) return 0;
    size_t nch, per, total = g->v[n->out].size;
    channels(P, &nch, &per);
    for (size_t i = 0; i < total; i++)
        if (n->w[i] != n->w[((i / per) % nch) * per]) return 0; /* not per channel */
    TRY(ensure_bias(g, P));
    for (size_t o = 0; o < nch; o++)
        P->b[o] = (float)((double)P->b[o] + (double)n->w[o * per]);
    P->out = n->out;
    g->v[n->out].producer = (int)(P - g->n);
    n->dead = 1;
    return 0;
}

/* A zero Pad of the spatial dimensions that only feeds a Conv. */
static int fold_pad(fgraph *g, unsigned *uses, fnode *n) {
    unsigned v = n->in[0];
    int p = g->v[v].producer;
    if (p < 0 || uses[v] != 1 || g->n[p].dead || g->n[p].op != QOP_PAD) return 0;
    fnode *P = &g->n[p];
    const nn_shape *xs = &g->v[P->in[0]].shape;
    if (P->p.pad.lo[0] || P->p.pad.hi[0] || P->p.pad.lo[1] || P->p.pad.hi[1]) return 0;
    lin_conv c = n->p.lin.conv;
    uint64_t pt = c.pt, pb = c.pb, pl, pr;
    if (xs->rank == 4) {
        pt += P->p.pad.lo[2];
        pb += P->p.pad.hi[2];
        pl = (uint64_t)c.pl + P->p.pad.lo[3];
        pr = (uint64_t)c.pr + P->p.pad.hi[3];
    } else {
        pl = (uint64_t)c.pl + P->p.pad.lo[2];
        pr = (uint64_t)c.pr + P->p.pad.hi[2];
    }
    if (pt > UINT32_MAX || pb > UINT32_MAX || pl > UINT32_MAX || pr > UINT32_MAX) return 0;
    c.pt = (unsigned)pt, c.pb = (unsigned)pb, c.pl = (unsigned)pl, c.pr = (unsigned)pr;
    c.H = xs->rank == 4 ? xs->d[2] : 1;
    c.W = xs->d[xs->rank - 1];
    c.wbits = 1;
    if (lin_conv_check(&c) < 0 || c.OH != n->p.lin.conv.OH || c.OW != n->p.lin.conv.OW) return 0;
    n->p.lin.conv = c;
    n->in[0] = P->in[0];
    P->dead = 1; /* the Pad's input keeps one reader: the Conv */
    return 0;
}

/* Drop dead nodes and the values nothing computes or reads any more. */
static int compact(fgraph *g) {
    unsigned *map = mem_alloc(g->nv ? g->nv : 1, sizeof *map);
    unsigned char *keep = mem_calloc(g->nv ? g->nv : 1, 1);
    if (!map || !keep) {
        mem_free(map);
        mem_free(keep);
        return PARLEY_E_NOMEM;
    }
    keep[g->input] = keep[g->output] = 1;
    for (unsigned i = 0; i < g->nn; i++)
        if (!g->n[i].dead) {
            keep[g->n[i].out] = 1;
            for (unsigned k = 0; k < g->n[i].nin; k++)
                keep[g->n[i].in[k]] = 1;
        }
    unsigned nv = 0;
    for (unsigned i = 0; i < g->nv; i++) {
        if (keep[i]) {
            map[i] = nv;
            g->v[nv++] = g->v[i];
        } else {
            mem_free(g->v[i].name);
        }
    }
    g->nv = nv;
    g->input = map[g->input];
    g->output = map[g->output];
    unsigned nn = 0;
    for (unsigned i = 0; i < g->nn; i++) {
        if (g->n[i].dead) {
            node_clear(&g->n[i]);
            continue;
        }
        fnode *n = &g->n[i];
        for (unsigned k = 0; k < n->nin; k++)
            n->in[k] = map[n->in[k]];
        n->out = map[n->out];
        g->n[nn++] = *n;
    }
    g->nn = nn;
    for (unsigned i = 0; i < g->nv; i++)
        g->v[i].producer = -1;
    for (unsigned i = 0; i < g->nn; i++)
        g->v[g->n[i].out].producer = (int)i;
    mem_free(map);
    mem_free(keep);
    return 0;
}

int fgraph_optimize(fgraph *g) {
    unsigned *uses;
    TRY(fgraph_uses(g, &uses));
    int rc = 0;
    for (unsigned i = 0; i < g->nn && rc == 0; i++) {
        fnode *n = &g->n[i];
        if (n->dead) continue;
        if (n->op == QOP_SCALE) {
            rc = fold_scale(g, uses, n);
            if (rc == 0 && !n->dead) rc = fold_bn_relu(g, uses, n);
        }
        else if (n->op == QOP_ADDC)
            rc = fold_addc(g, uses, n);
        else if (n->op == QOP_CONV)
            rc = fold_pad(g, uses, n);
    }
    mem_free(uses);
    TRY(rc);
    return compact(g);
}
