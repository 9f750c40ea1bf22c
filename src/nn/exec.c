/* The secure executor; see exec.h. */
#include "nn/exec.h"

#include "lin/he/lin_he.h"
#include "lin/ot/lin_ot.h"
#include "nl/nl.h"
#include "nn/cost.h"
#include "nn/hello.h"
#include "nn/kind.h"
#include "nn/qlocal.h"
#include "util/bits.h"
#include "util/mem.h"
#include "util/timer.h"

#include <stdio.h>
#include <string.h>

/* ---- input sharing and output reveal (lane 0) ---- */

/* One party (`from`) sends n l-bit values, packed, in one flight; the
 * other receives them into `to`. */
static int ring_move(party *p, int from, const uint64_t *vals, uint64_t *to, size_t n, unsigned l) {
    mpc_lane *L = &p->lanes[0];
    size_t nb = bits_bytes(n * (size_t)l);
    uint8_t *buf = mem_alloc(nb ? nb : 1, 1);
    if (!buf) return PARLEY_E_NOMEM;
    int rc;
    if (p->role == from) {
        bits_pack(buf, vals, n, l);
        rc = chan_send(L->ot.ch, buf, nb);
        if (rc == 0) rc = chan_flush(L->ot.ch);
    } else {
        rc = chan_recv(L->ot.ch, buf, nb);
        if (rc == 0) bits_unpack(to, buf, n, l);
    }
    mem_free_wipe(buf, nb ? nb : 1);
    return rc;
}

/* Client: sends a random mask r and keeps x - r; server: its share is r. */
static int share_input(party *p, uint64_t *share, const uint64_t *x, size_t n, unsigned l) {
    if (p->role == MPC_CLIENT) prg_ring(&p->lanes[0].ot.rng, share, n, l); /* r */
    TRY(ring_move(p, MPC_CLIENT, share, share, n, l));
    if (p->role == MPC_CLIENT)
        for (size_t i = 0; i < n; i++)
            share[i] = (x[i] - share[i]) & bits_mask(l);
    return 0;
}

/* The server sends its share; the client adds it to its own into out. */
static int reveal(party *p, uint64_t *out, const uint64_t *share, size_t n, unsigned l) {
    TRY(ring_move(p, MPC_SERVER, share, out, n, l));
    if (p->role == MPC_CLIENT)
        for (size_t i = 0; i < n; i++)
            out[i] = (out[i] + share[i]) & bits_mask(l);
    return 0;
}

/* ---- layers ---- */

const lin_ops *exec_lin_ops(int mode) {
    static const lin_ops *const by_mode[] = {[MODE_OT] = &lin_ot_ops, [MODE_HE] = &lin_he_ops};
    return mode >= 0 && mode < (int)(sizeof by_mode / sizeof *by_mode) ? by_mode[mode] : NULL;
}

uint8_t *exec_nonneg_tensors(const qnet *net) {
    uint8_t *nn = mem_calloc(net->ntensors ? net->ntensors : 1, 1);
    if (!nn) return NULL;
    unsigned l = net->l;
    for (unsigned i = 0; i < net->nlayers; i++) {
        const qlayer *L = &net->layers[i];
        const qkind *k = qkind_of(L->op);
        unsigned v = 0;
        if (k->nonneg == QN_ALWAYS) {
            /* below 2^(l-1), and 2^shift times less after a truncation */
            unsigned sh = k->scale == QS_DOWN ? L->p.shift : 0;
            v = sh < l ? l - sh : 1;
        } else if ((k->nonneg == QN_IF_INPUTS || k->nonneg == QN_SUMS_INPUTS) && L->nin) {
            for (unsigned j = 0; j < L->nin; j++) {
                unsigned w = nn[L->in[j]];
                if (w == 0) {
                    v = 0;
                    break;
                }
                if (w > v) v = w;
            }
            if (v && k->nonneg == QN_SUMS_INPUTS) v = l;
        }
        nn[L->out] = (uint8_t)v;
    }
    return nn;
}

uint8_t *exec_width_tensors(const qnet *net) {
    uint8_t *w = mem_alloc(net->ntensors ? net->ntensors : 1, 1);
    if (!w) return NULL;
    for (unsigned i = 0; i < net->ntensors; i++) w[i] = (uint8_t)net->l;
    for (unsigned i = 0; i < net->nlayers; i++) {
        const qlayer *L = &net->layers[i];
        const qkind *k = qkind_of(L->op);
        unsigned v = k->width ? k->width(L, w, net->l) : net->l;
        w[L->out] = (uint8_t)(v < 1 ? 1 : v > net->l ? net->l : v);
    }
    return w;
}

unsigned exec_group_end(const qnet *net, unsigned i, size_t *elems) {
    const qlayer *A = &net->layers[i];
    const qkind *k = qkind_of(A->op);
    unsigned j = i;
    if (elems) *elems = net->t[A->out].size;
    if (k->cls != QK_ELEMENTWISE || A->nin != 1) return i;
    while (j + 1 < net->nlayers) {
        const qlayer *B = &net->layers[j + 1];
        if (B->op != A->op || B->nin != 1 ||
            memcmp((const char *)&B->p + k->wire_off, (const char *)&A->p + k->wire_off,
                   4u * k->wire_n) != 0)
            break;
        int reads_group = 0;
        for (unsigned g = i; g <= j; g++) reads_group |= B->in[0] == net->layers[g].out;
        if (reads_group) break;
        j++;
        if (elems) *elems += net->t[B->out].size;
    }
    return j;
}

/* Whether tensor t is read by a layer other than `except`, or is the
 * network's output. */
static int read_elsewhere(const qnet *net, unsigned t, unsigned except) {
    if (t == net->output) return 1;
    for (unsigned k = 0; k < net->nlayers; k++)
        if (k != except)
            for (unsigned q = 0; q < net->layers[k].nin; q++)
                if (net->layers[k].in[q] == t) return 1;
    return 0;
}

/* Layers i and i + 1 as one convolution over both inputs where their
 * outputs meet only in the Add of layer i + 2 (exec.h, EXEC_LIN_SUM). */
static unsigned lin_sum_end(const qnet *net, unsigned i, const lin_backend *lin, lin_shape *m) {
    if (i + 2 >= net->nlayers) return i;
    const qlayer *A = &net->layers[i], *B = &net->layers[i + 1], *S = &net->layers[i + 2];
    if (!qop_is_linear(B->op) || B->nin != 1 || S->op != QOP_ADD || S->nin != 2 ||
        A->out == B->out ||
        !((S->in[0] == A->out && S->in[1] == B->out) ||
          (S->in[0] == B->out && S->in[1] == A->out)) ||
        read_elsewhere(net, A->out, i + 2) || read_elsewhere(net, B->out, i + 2))
        return i;
    lin_shape sa = qlayer_lin(A), sb = qlayer_lin(B), cand;
    uint64_t ba, bb, bm;
    if (lin_check(&sa) < 0 || lin_check(&sb) < 0 || !lin_sum_merge(&cand, &sa, &sb) ||
        lin_bytes(lin, &ba, NULL, &sa, net->l) < 0 || lin_bytes(lin, &bb, NULL, &sb, net->l) < 0 ||
        lin_bytes(lin, &bm, NULL, &cand, net->l) < 0) {
        err_clear();
        return i;
    }
    if (bm >= ba + bb) return i;
    *m = cand;
    return i + 1;
}

unsigned exec_lin_group_end(const qnet *net, unsigned i, const lin_backend *lin, lin_shape *m,
                            int *kind) {
    const qlayer *A = &net->layers[i];
    *kind = 0;
    if (!qop_is_linear(A->op) || A->nin != 1) return i;
    lin_shape cur = qlayer_lin(A);
    if (cur.kind != LIN_CONV || lin_check(&cur) < 0) {
        err_clear();
        return i;
    }
    uint64_t bcur;
    if (lin_bytes(lin, &bcur, NULL, &cur, net->l) < 0) {
        err_clear();
        return i;
    }
    unsigned j = i;
    while (j + 1 < net->nlayers) {
        const qlayer *B = &net->layers[j + 1];
        if (!qop_is_linear(B->op) || B->nin != 1 || B->in[0] != A->in[0]) break;
        lin_shape sb = qlayer_lin(B), cand;
        uint64_t bb, bm;
        if (lin_check(&sb) < 0 || !lin_merge(&cand, &cur, &sb) ||
            lin_bytes(lin, &bb, NULL, &sb, net->l) < 0 ||
            lin_bytes(lin, &bm, NULL, &cand, net->l) < 0) {
            err_clear();
            break;
        }
        if (bm >= bcur + bb) break;
        cur = cand;
        bcur = bm;
        j++;
    }
    if (j > i) {
        *m = cur;
        *kind = EXEC_LIN_SIBLINGS;
        return j;
    }
    j = lin_sum_end(net, i, lin, m);
    if (j > i) *kind = EXEC_LIN_SUM;
    return j;
}

unsigned exec_step_end(const qnet *net, unsigned i, const lin_backend *lin, size_t *elems,
                       lin_shape *merged, int *lin_group) {
    unsigned j = exec_group_end(net, i, elems);
    *lin_group = 0;
    if (j == i) j = exec_lin_group_end(net, i, lin, merged, lin_group);
    return j;
}

int exec_lin_group_weights(const qnet *net, unsigned i, unsigned j, const lin_shape *m, int kind,
                           uint64_t **wm, size_t *nw) {
    *nw = lin_weight_count(m);
    *wm = mem_calloc(*nw ? *nw : 1, sizeof **wm);
    if (!*wm) return PARLEY_E_NOMEM;
    if (kind == EXEC_LIN_SUM) {
        PARLEY_CHECK(j == i + 1);
        lin_shape sa = qlayer_lin(&net->layers[i]), sb = qlayer_lin(&net->layers[j]);
        lin_sum_weights(*wm, m, &sa, net->layers[i].w, &sb, net->layers[j].w);
        return 0;
    }
    unsigned off = 0;
    for (unsigned g = i; g <= j; g++) {
        lin_shape sg = qlayer_lin(&net->layers[g]);
        PARLEY_CHECK(lin_check(&sg) == 0); /* exec_lin_group_end checked it */
        lin_merge_weights(*wm, m, off, &sg, net->layers[g].w);
        off += sg.p.conv.O;
    }
    return 0;
}

/* A projection shortcut's two convolutions (EXEC_LIN_SUM) as one over
 * both inputs side by side: layer i's output is the sum with both biases,
 * layer i + 1's zero (the Add after them then gives the sum). */
static int run_lin_sum(qstore *st, const qnet *net, unsigned i, const lin_shape *m,
                       const qctx *proto) {
    const qlayer *A = &net->layers[i], *B = &net->layers[i + 1];
    lin_shape sa = qlayer_lin(A), sb = qlayer_lin(B);
    size_t nw = 0, nx = lin_in_size(m);
    uint64_t *wm = NULL, *xm = mem_alloc(nx ? nx : 1, sizeof *xm);
    uint64_t *ya = NULL, *yb = NULL;
    int rc = xm ? 0 : PARLEY_E_NOMEM;
    if (rc == 0 && proto->owner) rc = exec_lin_group_weights(net, i, i + 1, m, EXEC_LIN_SUM, &wm, &nw);
    if (rc == 0) rc = qstore_out(st, &ya, A->out);
    if (rc == 0) rc = qstore_out(st, &yb, B->out);
    if (rc < 0) rc = party_fail(proto->p, rc);
    if (rc == 0) {
        lin_sum_input(xm, m, &sa, st->buf[A->in[0]], &sb, st->buf[B->in[0]]);
        rc = lin_run_keyed(proto->lin, proto->p, ya, xm, m, wm, A->w, net->l);
    }
    if (rc == 0) {
        qctx c = *proto;
        c.y = ya;
        c.n = net->t[A->out].size;
        c.L = A;
        qlocal_add_private(&c);
        c.L = B;
        qlocal_add_private(&c);
        memset(yb, 0, net->t[B->out].size * sizeof *yb);
    }
    if (wm) mem_free_wipe(wm, (nw ? nw : 1) * sizeof *wm);
    if (xm) mem_free_wipe(xm, (nx ? nx : 1) * sizeof *xm);
    return rc;
}

/* Layers i .. j (exec_lin_group_end) as the one merged layer m: S embeds
 * their weights in m's (each known to the back-end's prepared weights by
 * layer i's), then every layer gets its channels of the output and its
 * own bias. */
static int run_lin_group(qstore *st, const qnet *net, unsigned i, unsigned j, const lin_shape *m,
                         const qctx *proto) {
    const qlayer *A = &net->layers[i];
    const lin_conv *mc = &m->p.conv;
    size_t nw = 0, ny = lin_out_size(m), per = (size_t)mc->OH * mc->OW;
    uint64_t *wm = NULL, *ym = mem_alloc(ny ? ny : 1, sizeof *ym);
    int rc = ym ? 0 : PARLEY_E_NOMEM;
    if (rc == 0 && proto->owner)
        rc = exec_lin_group_weights(net, i, j, m, EXEC_LIN_SIBLINGS, &wm, &nw);
    if (rc < 0) rc = party_fail(proto->p, rc);
    if (rc == 0)
        rc = lin_run_keyed(proto->lin, proto->p, ym, st->buf[A->in[0]], m, wm, A->w, net->l);
    unsigned off = 0;
    for (unsigned g = i; g <= j && rc == 0; g++) {
        const qlayer *L = &net->layers[g];
        unsigned O = qlayer_lin(L).p.conv.O;
        uint64_t *out;
        rc = qstore_out(st, &out, L->out);
        if (rc < 0) break;
        for (size_t n = 0; n < mc->N; n++)
            memcpy(out + n * O * per, ym + (n * mc->O + off) * per, (size_t)O * per * sizeof *out);
        off += O;
        qctx c = *proto;
        c.L = L;
        c.y = out;
        c.n = net->t[L->out].size;
        qlocal_add_private(&c);
    }
    if (wm) mem_free_wipe(wm, (nw ? nw : 1) * sizeof *wm);
    if (ym) mem_free_wipe(ym, (ny ? ny : 1) * sizeof *ym);
    return rc;
}

/* Layers i .. j (exec_group_end) as one element-wise call: the inputs end
 * to end, the outputs cut back into each layer's buffer. */
static int run_group(qstore *st, const qnet *net, unsigned i, unsigned j, size_t total,
                     const qctx *proto) {
    uint64_t *xin = mem_alloc(total ? total : 1, sizeof *xin);
    uint64_t *yout = mem_alloc(total ? total : 1, sizeof *yout);
    int rc = xin && yout ? 0 : PARLEY_E_NOMEM;
    size_t at = 0;
    for (unsigned g = i; g <= j && rc == 0; g++) {
        const qlayer *L = &net->layers[g];
        size_t n = net->t[L->out].size;
        memcpy(xin + at, st->buf[L->in[0]], n * sizeof *xin);
        at += n;
    }
    if (rc == 0) {
        const uint64_t *xs[1] = {xin};
        qctx c = *proto;
        c.n = total;
        c.x = xs;
        c.y = yout;
        rc = qkind_step(&c);
    }
    at = 0;
    for (unsigned g = i; g <= j && rc == 0; g++) {
        const qlayer *L = &net->layers[g];
        size_t n = net->t[L->out].size;
        uint64_t *out;
        rc = qstore_out(st, &out, L->out);
        if (rc == 0) memcpy(out, yout + at, n * sizeof *out);
        at += n;
    }
    if (xin) mem_free_wipe(xin, (total ? total : 1) * sizeof *xin);
    if (yout) mem_free_wipe(yout, (total ? total : 1) * sizeof *yout);
    return rc;
}

void exec_report_free(exec_report *rep) {
    if (!rep) return;
    mem_free(rep->layers);
    memset(rep, 0, sizeof *rep);
}

static void stats_since(exec_layer_stat *st, const party *p, const chan_stats *before,
                        const silent_stats *gbefore, double t0) {
    chan_stats now;
    silent_stats g;
    party_stats(p, &now);
    party_silent_stats(p, &g);
    st->seconds = time_now() - t0;
    st->bytes = now.bytes_sent - before->bytes_sent;
    st->bytes_recv = now.bytes_recv - before->bytes_recv;
    st->flights = now.flights - before->flights;
    st->critical_flights = now.depth - before->depth;
    st->gen_sent = g.gen_bytes - gbefore->gen_bytes;
    st->gen_recv = g.gen_bytes_recv - gbefore->gen_bytes_recv;
}

int exec_infer(party *p, const qnet *net, const exec_opts *o, const uint64_t *x, uint64_t **y,
               size_t *ny, exec_report *rep) {
    PARLEY_CHECK(p->role == MPC_CLIENT ? x != NULL : x == NULL);
    PARLEY_CHECK(p->role == MPC_CLIENT || net->has_weights);
    *y = NULL;
    *ny = 0;
    double t0 = time_now();
    chan_stats s0;
    silent_stats g0;
    party_stats(p, &s0);
    party_silent_stats(p, &g0);
    unsigned maxin = 1;
    for (unsigned i = 0; i < net->nlayers; i++)
        if (net->layers[i].nin > maxin) maxin = net->layers[i].nin;
    exec_layer_stat *ls = mem_calloc(net->nlayers ? net->nlayers : 1, sizeof *ls);
    const uint64_t **xs = mem_calloc(maxin, sizeof *xs);
    uint8_t *nonneg = exec_nonneg_tensors(net), *width = exec_width_tensors(net);
    qstore st;
    if (!ls || !xs || !nonneg || !width) {
        mem_free(ls);
        mem_free(xs);
        mem_free(nonneg);
        mem_free(width);
        return PARLEY_E_NOMEM;
    }
    int rc = qstore_init(&st, net);
    if (rc < 0) {
        mem_free(ls);
        mem_free(xs);
        mem_free(nonneg);
        mem_free(width);
        return rc;
    }
    /* once for the whole run; a back-end that spends statistical security
     * per returned value (HE's flood) sizes it for every output of every
     * linear layer of the model */
    lin_backend lin = o->lin ? *o->lin : lin_ot_backend();
    lin_set_outputs(&lin, cost_he_outputs(net));
    /* the non-linear layers' millionaires: leaves sent by the party whose
     * inputs are ready later after this back-end's layers (lin_ops) */
    int leaf0 = p->nlanes ? p->lanes[0].leaf_sender : MPC_SERVER;
    for (unsigned k = 0; k < p->nlanes; k++) p->lanes[k].leaf_sender = lin.ops->leaf_sender;
    uint64_t *in = NULL;
    rc = qstore_out(&st, &in, net->input);
    if (rc == 0) rc = share_input(p, in, x, net->t[net->input].size, net->l);
    for (unsigned i = 0; i < net->nlayers && rc == 0; i++) {
        const qlayer *L = &net->layers[i];
        size_t total;
        lin_shape merged;
        int lgroup;
        unsigned j = exec_step_end(net, i, &lin, &total, &merged, &lgroup);
        for (unsigned k = 0; k < L->nin; k++)
            xs[k] = st.buf[L->in[k]];
        uint64_t *out = NULL;
        if (j == i) rc = qstore_out(&st, &out, L->out);
        if (rc < 0) break;
        chan_stats b;
        silent_stats gb;
        party_stats(p, &b);
        party_silent_stats(p, &gb);
        double tl = time_now();
        qctx c = {.net = net,
                  .L = L,
                  .n = net->t[L->out].size,
                  .l = net->l,
                  .y = out,
                  .x = xs,
                  .owner = p->role == MPC_SERVER,
                  .p = p,
                  .lin = &lin,
                  .nonneg = nonneg,
                  .width = width};
        rc = j == i                     ? qkind_step(&c)
             : lgroup == EXEC_LIN_SUM   ? run_lin_sum(&st, net, i, &merged, &c)
             : lgroup                   ? run_lin_group(&st, net, i, j, &merged, &c)
                                        : run_group(&st, net, i, j, total, &c);
        if (rc < 0) {
            if (j == i)
                err_wrap(rc, "layer %u (%s %s)", i + 1, qop_name(L->op), L->name);
            else
                err_wrap(rc, "layers %u to %u (%s %s and its siblings)", i + 1, j + 1,
                         qop_name(L->op), L->name);
            break;
        }
        stats_since(&ls[i], p, &b, &gb, tl);
        for (unsigned g = i; g <= j && rc == 0; g++) {
            qstore_done(&st, g);
            if (o->progress) {
                chan_stats now;
                party_stats(p, &now);
                if (o->progress(o->progress_ctx, net, g, &ls[g], time_now() - t0,
                                now.bytes_sent - s0.bytes_sent + now.bytes_recv - s0.bytes_recv))
                    rc = err_set(PARLEY_E_ARG, "cancelled after layer %u", g + 1);
            }
        }
        i = j;
    }
    /* The output, or its ArgMax, goes to the client. */
    uint64_t *res = NULL;
    size_t nres = 0;
    if (rc == 0) {
        const qtensor *ot = &net->t[net->output];
        uint64_t *share = st.buf[net->output];
        uint64_t *lab = NULL;
        nres = ot->size;
        if (o->reveal_label) {
            size_t cols = ot->shape.rank ? ot->shape.d[ot->shape.rank - 1] : 1;
            nres = ot->size / cols;
            lab = mem_alloc(nres, sizeof *lab);
            rc = lab ? nl_argmax(p, lab, share, nres, cols, net->l) : PARLEY_E_NOMEM;
            share = lab;
        }
        if (rc == 0 && p->role == MPC_CLIENT) {
            res = mem_alloc(nres ? nres : 1, sizeof *res);
            if (!res) rc = PARLEY_E_NOMEM;
        }
        if (rc == 0) rc = reveal(p, res, share, nres, net->l);
        if (lab) mem_free_wipe(lab, nres * sizeof *lab);
    }
    if (rc < 0) party_fail(p, rc); /* the peer must not wait for us */
    qstore_free(&st);
    mem_free(xs);
    mem_free(nonneg);
    mem_free(width);
    if (rc == 0 && p->role == MPC_CLIENT) {
        *y = res;
        *ny = nres;
    } else if (res) {
        mem_free_wipe(res, nres * sizeof *res);
    }
    if (rep) {
        chan_stats now;
        party_stats(p, &now);
        rep->nlayers = net->nlayers;
        rep->layers = ls;
        rep->seconds = time_now() - t0;
        rep->bytes_sent = now.bytes_sent - s0.bytes_sent;
        rep->bytes_recv = now.bytes_recv - s0.bytes_recv;
        rep->flights = now.flights - s0.flights;
        rep->critical_flights = now.depth - s0.depth;
        silent_stats g;
        party_silent_stats(p, &g);
        rep->gen_sent = g.gen_bytes - g0.gen_bytes;
        rep->gen_recv = g.gen_bytes_recv - g0.gen_bytes_recv;
        rep->he_stat_bits = lin_stat_bits(&lin);
    } else {
        mem_free(ls);
    }
    for (unsigned k = 0; k < p->nlanes; k++) p->lanes[k].leaf_sender = leaf0;
    return rc;
}
