/* Piecewise-linear activations with public constants: Clip (ReLU6),
 * LeakyRelu, HardSigmoid (docs/MODELS.md). Built from the ReLU and
 * truncation protocols and local arithmetic on shares; the steps are those
 * of nl_act_plain, so the result is the same ring element for every input.
 * A public constant is added by the server's share alone. */
#include "nl/nl.h"

#include "util/bits.h"
#include "util/mem.h"

static unsigned nclip(const nl_actp *a) {
    return (a->has & NL_ACT_LO ? 1u : 0u) + (a->has & NL_ACT_HI ? 1u : 0u);
}

int nl_act(party *p, uint64_t *y, const uint64_t *x, size_t n, unsigned l, const nl_actp *a) {
    TRY(nl_act_check(a, l));
    if (n == 0) return 0;
    uint64_t m = bits_mask(l), al = nl_act_get(a->alpha), be = nl_act_get(a->beta);
    uint64_t lo = nl_act_get(a->lo), hi = nl_act_get(a->hi);
    int srv = p->role == MPC_SERVER;
    size_t bytes = 4 * n * sizeof(uint64_t);
    uint64_t *z = mem_alloc(4 * n, sizeof *z);
    if (!z) return err_set(PARLEY_E_NOMEM, "out of memory for an activation");
    uint64_t *r = z + n, *d = z + 2 * n; /* d: 2n */
    int rc = 0;
    for (size_t i = 0; i < n; i++)
        z[i] = x[i] & m;
    if (a->op == NL_ACT_LEAKY) { /* z = r + trunc(alpha (x - r)) */
        rc = nl_relu(p, r, z, n, l);
        for (size_t i = 0; rc == 0 && i < n; i++)
            d[i] = (al * (z[i] - r[i])) & m;
        if (rc == 0) rc = nl_trunc(p, d + n, d, n, l, a->shift);
        for (size_t i = 0; rc == 0 && i < n; i++)
            z[i] = (r[i] + d[n + i]) & m;
    } else if (a->op == NL_ACT_HSIG) { /* z = trunc(alpha x) + beta */
        for (size_t i = 0; i < n; i++)
            d[i] = (al * z[i]) & m;
        rc = nl_trunc(p, r, d, n, l, a->shift);
        for (size_t i = 0; rc == 0 && i < n; i++)
            z[i] = (r[i] + (srv ? be : 0)) & m;
    }
    /* The clip: relu(z - lo) and relu(z - hi) in one batch. */
    size_t k = 0;
    if (a->has & NL_ACT_LO) {
        for (size_t i = 0; i < n; i++)
            d[i] = (z[i] - (srv ? lo : 0)) & m;
        k += n;
    }
    if (a->has & NL_ACT_HI) {
        for (size_t i = 0; i < n; i++)
            d[k + i] = (z[i] - (srv ? hi : 0)) & m;
        k += n;
    }
    uint64_t *e = mem_alloc(k ? k : 1, sizeof *e);
    if (!e) rc = rc ? rc : err_set(PARLEY_E_NOMEM, "out of memory for an activation");
    if (rc == 0 && k) rc = nl_relu(p, e, d, k, l);
    for (size_t i = 0; rc == 0 && i < n; i++) {
        uint64_t v = z[i];
        size_t j = 0;
        if (a->has & NL_ACT_LO) v = ((srv ? lo : 0) + e[i]) & m, j = n;
        if (a->has & NL_ACT_HI) v = (v - e[j + i]) & m;
        y[i] = v;
    }
    if (e) mem_free_wipe(e, (k ? k : 1) * sizeof *e);
    mem_free_wipe(z, bytes);
    return rc;
}

uint64_t nl_act_bytes(const ot_costing *oc, size_t n, unsigned l, const nl_actp *a,
                      unsigned lanes) {
    if (nl_act_check(a, l) < 0 || n == 0) return 0;
    uint64_t b = 0;
    if (a->op == NL_ACT_LEAKY) b += nl_relu_bytes(oc, n, l, lanes);
    if (a->op != NL_ACT_CLIP) b += nl_trunc_bytes(oc, n, l, a->shift, lanes);
    if (nclip(a)) b += nl_relu_bytes(oc, nclip(a) * n, l, lanes);
    return b;
}
