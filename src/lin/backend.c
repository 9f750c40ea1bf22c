/* The rules every linear back-end shares; see backend.h. */
#include "lin/backend.h"

#include <string.h>

int lin_setup(lin_backend *be, const lin_ops *ops, party *p) {
    PARLEY_CHECK(ops);
    memset(be, 0, sizeof *be);
    void *ctx = NULL;
    if (ops->setup) TRY(ops->setup(p, &ctx));
    be->ops = ops;
    be->ctx = ctx;
    return 0;
}

void lin_teardown(lin_backend *be) {
    if (be->ops && be->ops->teardown) be->ops->teardown(be->ctx);
    memset(be, 0, sizeof *be);
}

uint64_t lin_setup_cost(const lin_ops *ops, fsim *fs) {
    return ops->setup_cost ? ops->setup_cost(fs) : 0;
}

void lin_set_outputs(lin_backend *be, uint64_t outs) {
    be->outs = outs;
    if (be->ctx && be->ops->set_outputs) be->ops->set_outputs(be->ctx, outs);
}

void lin_use_prepared(lin_backend *be, const void *prep) {
    if (be->ctx && be->ops->use_prepared) be->ops->use_prepared(be->ctx, prep);
}

double lin_stat_bits(const lin_backend *be) {
    return be->ctx && be->ops->stat_bits ? be->ops->stat_bits(be->ctx) : 0;
}

int lin_run_plan(const lin_backend *be, party *p, const lin_plan *pl, uint64_t *y,
                 const uint64_t *x, const uint64_t *w) {
    PARLEY_CHECK(p && y && x);
    PARLEY_CHECK((p->role == MPC_SERVER) == (w != NULL));
    size_t bad;
    /* OT orientation B and the HE flood are sized for wbits: a weight
     * beyond it would give a wrong result or leak. */
    if (p->role == MPC_SERVER && !lin_weights_fit(&pl->s, w, pl->l, &bad))
        return party_fail(p, err_set(PARLEY_E_ARG,
                                     "%s: weight %zu needs more than the declared %u bits",
                                     lin_kind_name(pl->s.kind), bad, lin_wbits(&pl->s)));
    return be->ops->run(be->ctx, p, pl, y, x, w);
}

int lin_run_keyed(const lin_backend *be, party *p, uint64_t *y, const uint64_t *x,
                  const lin_shape *s, const uint64_t *w, const uint64_t *key, unsigned l) {
    lin_plan *pl;
    int rc = be->ops->plan(be->ctx, be->outs, &pl, s, l);
    /* A bad shape fails on both sides alike; memory runs out on one. */
    if (rc == PARLEY_E_NOMEM) return party_fail(p, rc);
    TRY(rc);
    pl->wkey = key;
    rc = lin_run_plan(be, p, pl, y, x, w);
    be->ops->free(pl);
    return rc;
}

int lin_run(const lin_backend *be, party *p, uint64_t *y, const uint64_t *x, const lin_shape *s,
            const uint64_t *w, unsigned l) {
    lin_plan *pl;
    int rc = be->ops->plan(be->ctx, be->outs, &pl, s, l);
    /* A bad shape fails on both sides alike; memory runs out on one. */
    if (rc == PARLEY_E_NOMEM) return party_fail(p, rc);
    TRY(rc);
    rc = lin_run_plan(be, p, pl, y, x, w);
    be->ops->free(pl);
    return rc;
}

int lin_cost(const lin_backend *be, uint64_t *bytes, double *h2, const lin_shape *s, unsigned l,
             unsigned lanes, fsim *fs) {
    lin_plan *pl;
    *bytes = 0;
    if (h2) *h2 = 0;
    TRY(be->ops->plan(be->ctx, be->outs, &pl, s, l));
    *bytes = pl->bytes;
    if (h2) *h2 = pl->h2;
    if (fs) be->ops->flights(pl, lanes, fs);
    be->ops->free(pl);
    return 0;
}

int lin_bytes(const lin_backend *be, uint64_t *bytes, double *h2, const lin_shape *s,
              unsigned l) {
    return lin_cost(be, bytes, h2, s, l, 1, NULL);
}
