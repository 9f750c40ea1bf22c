/* The secure executor for tests; see secure.h. */
#include "secure.h"

#include "lin/he/lin_he.h"
#include "nn/exec.h"
#include "nn/hello.h"
#include "twoparty.h"
#include "util/mem.h"

typedef struct secure_job {
    const qnet *net[2]; /* server's (weights), client's (public) */
    const uint64_t *x;
    const secure_cfg *cfg;
    uint64_t *out;
    size_t nout;
} secure_job;

static int secure_party(party *p, void *arg) {
    secure_job *j = arg;
    lin_he *he = NULL;
    if (j->cfg->mode == MODE_HE) TRY(lin_he_setup(p, &he));
    exec_opts o = {.mode = j->cfg->mode, .he = he, .reveal_label = j->cfg->reveal_label};
    uint64_t *y = NULL;
    size_t ny = 0;
    int rc = exec_infer(p, j->net[p->role], &o, p->role == MPC_CLIENT ? j->x : NULL, &y, &ny, NULL);
    if (rc == 0 && p->role == MPC_CLIENT) {
        j->out = y;
        j->nout = ny;
    } else {
        mem_free(y);
    }
    lin_he_free(he);
    return rc;
}

int secure_run(uint64_t **out, size_t *nout, const qnet *net, const uint64_t *x,
               const secure_cfg *cfg) {
    *out = NULL;
    *nout = 0;
    uint8_t *buf;
    size_t len;
    TRY(qnet_public_encode(net, &buf, &len));
    qnet *pub = NULL;
    int rc = qnet_public_decode(&pub, buf, len);
    mem_free(buf);
    if (rc < 0) return rc;
    secure_job j = {{net, pub}, x, cfg, NULL, 0};
    rc = run2_party(secure_party, &j, cfg->lanes);
    qnet_free(pub);
    if (rc < 0) {
        mem_free(j.out);
        return rc;
    }
    *out = j.out;
    *nout = j.nout;
    return 0;
}

int conf_interp_secure(void *ctx, uint64_t **out, const qnet *net, const uint64_t *x) {
    size_t n;
    return secure_run(out, &n, net, x, ctx);
}
