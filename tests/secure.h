/* The secure executor as an interpreter for tests: both parties in this
 * process (two threads, in-process lanes, fixed seeds). The server gets the
 * net with its weights; the client gets what the session would send it, the
 * public model (qnet_public_encode, then decode). */
#ifndef PARLEY_TESTS_SECURE_H
#define PARLEY_TESTS_SECURE_H

#include "ot/ferret.h"
#include "ot/vole4.h"
#include "nn/exec.h"
#include "nn/qnet.h"

/* What a run cost, as the channels counted it. */
typedef struct secure_costs {
    exec_report rep;   /* the server's report: per layer and in all (exec_report_free) */
    uint64_t setup;    /* both parties' bytes of party_setup (the base OTs) */
    uint64_t he_setup; /* both parties' bytes of lin_he_setup (HE mode) */
    uint64_t he_sent[2];
    uint64_t cots; /* silent OT: the COTs both directions used */
    uint64_t corrs; /* silent OT, cfg.vole4: the 4-bit VOLE correlations used */
    double he_stat_bits[2]; /* HE: each party's lin_he_stat_bits after the inference */
    uint64_t he_cache_polys; /* HE: weight polynomials the server read from cfg's prep */
} secure_costs;

typedef struct secure_cfg {
    int mode;       /* MODE_OT or MODE_HE */
    unsigned lanes; /* 1..LANES_MAX */
    int reveal_label;
    secure_costs *costs; /* optional: filled in by secure_run */
    const void *prep;    /* the server's lin_use_prepared (HE: nn/prep.h's cache), or NULL */
    const ferret_params *ferret; /* silent: the Ferret set of the run and of the
                                  * prediction (NULL: FERRET_TOY) */
    const vole4_params *vole4;   /* silent: the leaves on 4-bit VOLE pools of this set
                                  * (NULL: on COTs) */
} secure_cfg;

/* Run the whole inference (share, layers, reveal) on the encoded input x;
 * *out gets what the client learns (mem_free), *nout its element count. */
int secure_run(uint64_t **out, size_t *nout, const qnet *net, const uint64_t *x,
               const secure_cfg *cfg);

/* 0 if nn/cost's prediction for cfg equals every figure of c (each layer,
 * the whole inference, the set-up); else PARLEY_E_MISMATCH naming the
 * first difference. */
int secure_check_costs(const qnet *net, const secure_cfg *cfg, const secure_costs *c);

/* conf_interp form (ctx: a secure_cfg). */
int conf_interp_secure(void *ctx, uint64_t **out, const qnet *net, const uint64_t *x);

#endif
