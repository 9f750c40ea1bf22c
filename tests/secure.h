/* The secure executor as an interpreter for tests: both parties in this
 * process (two threads, in-process lanes, fixed seeds). The server gets the
 * net with its weights; the client gets what the session would send it, the
 * public model (qnet_public_encode, then decode). */
#ifndef PARLEY_TESTS_SECURE_H
#define PARLEY_TESTS_SECURE_H

#include "nn/qnet.h"

typedef struct secure_cfg {
    int mode;       /* MODE_OT or MODE_HE */
    unsigned lanes; /* 1..LANES_MAX */
    int reveal_label;
} secure_cfg;

/* Run the whole inference (share, layers, reveal) on the encoded input x;
 * *out gets what the client learns (mem_free), *nout its element count. */
int secure_run(uint64_t **out, size_t *nout, const qnet *net, const uint64_t *x,
               const secure_cfg *cfg);

/* conf_interp form (ctx: a secure_cfg). */
int conf_interp_secure(void *ctx, uint64_t **out, const qnet *net, const uint64_t *x);

#endif
