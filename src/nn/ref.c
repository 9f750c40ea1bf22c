/* The plaintext reference interpreter; see ref.h. */
#include "nn/ref.h"

#include "nn/kind.h"

#include "util/bits.h"
#include "util/mem.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

int ref_layer(const qnet *net, qstore *st, unsigned i) {
    const qlayer *L = &net->layers[i];
    uint64_t *y;
    TRY(qstore_out(st, &y, L->out));
    const uint64_t *one[2], **xs = L->nin <= 2 ? one : mem_alloc(L->nin, sizeof *xs);
    if (!xs) return PARLEY_E_NOMEM;
    for (unsigned k = 0; k < L->nin; k++)
        xs[k] = st->buf[L->in[k]];
    qctx c = {
        .net = net, .L = L, .n = net->t[L->out].size, .l = net->l, .y = y, .x = xs, .owner = 1};
    int rc = qkind_step(&c);
    if (xs != one) mem_free(xs);
    return rc;
}

int ref_run(const qnet *net, uint64_t **out, uint64_t *peak, const uint64_t *x) {
    *out = NULL;
    if (!net->has_weights) return err_set(PARLEY_E_ARG, "the reference needs a model with weights");
    qstore st;
    TRY(qstore_init(&st, net));
    uint64_t *in;
    int rc = qstore_out(&st, &in, net->input);
    if (rc == 0) memcpy(in, x, net->t[net->input].size * sizeof *in);
    for (unsigned i = 0; i < net->nlayers && rc == 0; i++) {
        rc = ref_layer(net, &st, i);
        qstore_done(&st, i);
    }
    if (rc == 0) {
        if (peak) *peak = st.peak;
        *out = qstore_take(&st, net->output);
    }
    qstore_free(&st);
    return rc;
}

/* ---- the range check ---- */

/* The wide twin of net: the same tensors and layers at l = 64, with the
 * private arrays and the activations' public constants sign-extended
 * (layers and arrays owned by *w). */
static int wide_make(qnet *w, const qnet *net) {
    *w = *net;
    w->l = 64;
    w->layers = mem_calloc(net->nlayers ? net->nlayers : 1, sizeof *w->layers);
    if (!w->layers) return PARLEY_E_NOMEM;
    for (unsigned i = 0; i < net->nlayers; i++) {
        const qlayer *L = &net->layers[i];
        qlayer *W = &w->layers[i];
        *W = *L;
        W->w = W->b = NULL;
        if (qkind_of(L->op)->ew_act.run) { /* an activation's constants, sign-extended too */
            uint32_t *c[4] = {W->p.act.alpha, W->p.act.beta, W->p.act.lo, W->p.act.hi};
            for (int k = 0; k < 4; k++)
                nl_act_set(c[k], (uint64_t)bits_signed(nl_act_get(c[k]), net->l));
        }
        size_t n[2];
        qlayer_private(net, L, &n[0], &n[1]);
        const uint64_t *src[2] = {L->w, L->b};
        uint64_t **dst[2] = {&W->w, &W->b};
        for (int k = 0; k < 2; k++) {
            if (!src[k]) continue;
            if (!(*dst[k] = mem_alloc(n[k] ? n[k] : 1, sizeof(uint64_t)))) return PARLEY_E_NOMEM;
            for (size_t j = 0; j < n[k]; j++)
                (*dst[k])[j] = (uint64_t)bits_signed(src[k][j], net->l);
        }
    }
    return 0;
}

static void wide_free(qnet *w, const qnet *net) {
    for (unsigned i = 0; w->layers && i < net->nlayers; i++) {
        size_t nw, nb;
        qlayer_private(net, &net->layers[i], &nw, &nb);
        if (w->layers[i].w) mem_free_wipe(w->layers[i].w, (nw ? nw : 1) * sizeof(uint64_t));
        if (w->layers[i].b) mem_free_wipe(w->layers[i].b, (nb ? nb : 1) * sizeof(uint64_t));
    }
    mem_free(w->layers);
}

/* The bits a magnitude needs, for messages: log2 m. */
static double lg(double m) {
    return m > 0 ? log2(m) : 0;
}

static int range_err(const qnet *net, unsigned i, double m, const char *what) {
    const qlayer *L = &net->layers[i];
    unsigned sc = net->t[L->out].scale, l = net->l;
    double over = lg(m) - (l - 1);
    unsigned need = (unsigned)floor(lg(m)) + 2; /* a sign bit and the bits of m */
    char bits[64], mag[40];
    snprintf(mag, sizeof mag, m < 1e15 ? "%.0f" : "%.4g", m);
    if (need <= 64)
        snprintf(bits, sizeof bits, "--bits %u or more", need);
    else
        snprintf(bits, sizeof bits, "more than 64 bits");
    return err_set(PARLEY_E_RANGE,
                   "layer %u '%s' (%s): %s reaches %s = 2^%.1f at scale %u (%.4g as a real "
                   "number), beyond the signed range of the ring (|v| < 2^%u at l = %u) by %.2f "
                   "bits: the result would wrap around. Needs %s, or a smaller --scale (each "
                   "step down halves values at scale s and quarters them at 2s), or a smaller "
                   "input",
                   i, L->name ? L->name : "", qop_name(L->op), what, mag, lg(m), sc,
                   ldexp(m, -(int)sc), l - 1, l, over > 0 ? over : 0.0, bits);
}

uint64_t ref_wide_max(const uint64_t *v, size_t n) {
    uint64_t m = 0;
    for (size_t i = 0; i < n; i++) {
        int64_t a = (int64_t)v[i];
        uint64_t u = a < 0 ? -(uint64_t)a : (uint64_t)a;
        if (u > m) m = u;
    }
    return m;
}

/* Whether every value fits l signed bits: -2^(l-1) <= v < 2^(l-1). */
static int wide_fits(const uint64_t *v, size_t n, unsigned l) {
    if (l >= 64) return 1;
    int64_t lo = -((int64_t)1 << (l - 1)), hi = ((int64_t)1 << (l - 1)) - 1;
    for (size_t i = 0; i < n; i++)
        if ((int64_t)v[i] < lo || (int64_t)v[i] > hi) return 0;
    return 1;
}

/* One layer of the wide run, checked. */
static int wide_layer(const qnet *net, const qnet *w, qstore *st, unsigned i) {
    const qlayer *L = &w->layers[i];
    const qkind *k = qkind_of(L->op);
    double inmax[2] = {0, 0}, bound = 0; /* kinds with a reach hook have at most 2 inputs */
    uint64_t inner = 0;
    for (unsigned j = 0; j < L->nin; j++) {
        double m = (double)ref_wide_max(st->buf[L->in[j]], w->t[L->in[j]].size);
        if (j < 2) inmax[j] = m;
        if (m > bound) bound = m;
    }
    if (k->reach || k->domain) {
        const uint64_t *one[2] = {L->nin > 0 ? st->buf[L->in[0]] : NULL,
                                  L->nin > 1 ? st->buf[L->in[1]] : NULL};
        qctx c = {.net = w, .L = L, .n = w->t[L->out].size, .l = 64, .x = one, .owner = 1};
        PARLEY_CHECK(L->nin <= 2);
        char why[256];
        if (k->domain && k->domain(&c, why, sizeof why))
            return err_set(PARLEY_E_RANGE, "layer %u '%s' (%s): %s", i, L->name ? L->name : "",
                           qop_name(L->op), why);
        if (k->reach) k->reach(&c, inmax, &bound, &inner);
    }
    /* Below 2^62 (with room for the bound's rounding), the 64-bit step is
     * exact. */
    if (!(bound < ldexp(1.0, 62)))
        return err_set(PARLEY_E_RANGE,
                       "layer %u '%s' (%s): its values may reach 2^%.1f (a bound from its "
                       "largest inputs and weights), more than parley can check exactly (2^62) "
                       "and likely beyond the ring (|v| < 2^%u at l = %u): use a smaller --scale "
                       "or a smaller input",
                       i, L->name ? L->name : "", qop_name(L->op), lg(bound), net->l - 1,
                       net->l);
    if (net->l < 64 && inner >= (uint64_t)1 << (net->l - 1))
        return range_err(net, i, (double)inner, k->inner_what ? k->inner_what : "a window sum");
    TRY(ref_layer(w, st, i));
    const uint64_t *y = st->buf[L->out];
    size_t n = w->t[L->out].size;
    if (!wide_fits(y, n, net->l)) return range_err(net, i, (double)ref_wide_max(y, n), "a value");
    return 0;
}

int ref_run_checked(const qnet *net, uint64_t **out, const uint64_t *x) {
    *out = NULL;
    if (!net->has_weights) return err_set(PARLEY_E_ARG, "the reference needs a model with weights");
    qnet w;
    int rc = wide_make(&w, net);
    qstore st;
    int have_st = 0;
    if (rc == 0 && (rc = qstore_init(&st, &w)) == 0) have_st = 1;
    uint64_t *in;
    if (rc == 0 && (rc = qstore_out(&st, &in, w.input)) == 0)
        for (size_t j = 0; j < w.t[w.input].size; j++)
            in[j] = (uint64_t)bits_signed(x[j], net->l);
    for (unsigned i = 0; i < net->nlayers && rc == 0; i++) {
        rc = wide_layer(net, &w, &st, i);
        qstore_done(&st, i);
    }
    if (rc == 0) {
        size_t n = w.t[w.output].size;
        *out = qstore_take(&st, w.output);
        for (size_t j = 0; j < n; j++)
            (*out)[j] &= bits_mask(net->l);
    }
    if (have_st) qstore_free(&st);
    wide_free(&w, net);
    return rc;
}

int ref_run_float_ex(const qnet *net, nn_tensor *y, const nn_tensor *x, int checked) {
    memset(y, 0, sizeof *y);
    uint64_t *in = mem_alloc(net->t[net->input].size, sizeof *in), *out;
    if (!in) return PARLEY_E_NOMEM;
    int rc = qnet_encode_input(net, in, x);
    if (rc == 0) rc = checked ? ref_run_checked(net, &out, in) : ref_run(net, &out, NULL, in);
    mem_free_wipe(in, net->t[net->input].size * sizeof *in);
    if (rc < 0) return rc;
    const qtensor *T = &net->t[net->output];
    rc = nn_tensor_alloc(y, &T->shape);
    if (rc == 0) qnet_decode(net, y->data, net->output, out);
    mem_free_wipe(out, T->size * sizeof *out);
    return rc;
}

int ref_run_float(const qnet *net, nn_tensor *y, const nn_tensor *x) {
    return ref_run_float_ex(net, y, x, 0);
}
