/* The secure executor for tests; see secure.h. */
#include "secure.h"

#include "he/he.h"
#include "lin/he/lin_he.h"
#include "nn/cost.h"
#include "nn/exec.h"
#include "nn/hello.h"
#include "twoparty.h"
#include "util/mem.h"

#include <math.h>
#include <string.h>

typedef struct secure_job {
    const qnet *net[2]; /* server's (weights), client's (public) */
    const uint64_t *x;
    const secure_cfg *cfg;
    uint64_t *out;
    size_t nout;
} secure_job;

/* The cost model's options for a run of cfg (as run2_party sets it up). */
static cost_opts opts_of(const secure_cfg *cfg) {
    return (cost_opts){.mode = cfg->mode,
                       .lanes = cfg->lanes,
                       .reveal_label = cfg->reveal_label,
                       .ot = cfg->vole4 ? OT_BACKEND_SILENT : test_backend(), /* as run2_party */
                       .ferret = cfg->ferret ? cfg->ferret : &FERRET_TOY,
                       .vole4 = cfg->vole4};
}

static int secure_party(party *p, void *arg) {
    secure_job *j = arg;
    lin_backend lin;
    secure_costs *c = j->cfg->costs;
    chan_stats s0, s1;
    /* the pools' budgets, as a session sets them after its set-up */
    cost_opts co = opts_of(j->cfg);
    if (co.ot == OT_BACKEND_SILENT) {
        ot_budgets *b = mem_alloc(1, sizeof *b);
        if (!b) return PARLEY_E_NOMEM;
        int rc = cost_session_budgets(j->net[p->role], &co, b);
        if (rc == 0) party_set_budgets(p, b);
        mem_free(b);
        TRY(rc);
    }
    party_stats(p, &s0);
    TRY(lin_setup(&lin, exec_lin_ops(j->cfg->mode), p));
    if (p->role == MPC_SERVER) lin_use_prepared(&lin, j->cfg->prep);
    party_stats(p, &s1);
    if (c) c->he_sent[p->role] = s1.bytes_sent - s0.bytes_sent;
    exec_opts o = {.lin = &lin, .reveal_label = j->cfg->reveal_label};
    uint64_t *y = NULL;
    size_t ny = 0;
    exec_report *rep = c && p->role == MPC_SERVER ? &c->rep : NULL;
    int rc = exec_infer(p, j->net[p->role], &o, p->role == MPC_CLIENT ? j->x : NULL, &y, &ny, rep);
    if (c && lin.ctx) c->he_stat_bits[p->role] = lin_stat_bits(&lin);
    if (c && lin.ctx && p->role == MPC_SERVER && j->cfg->mode == MODE_HE)
        c->he_cache_polys = lin_he_wcache_polys_used(lin.ctx);
    if (rc == 0 && p->role == MPC_CLIENT) {
        j->out = y;
        j->nout = ny;
    } else {
        mem_free(y);
    }
    lin_teardown(&lin);
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
    if (cfg->costs) memset(cfg->costs, 0, sizeof *cfg->costs);
    const ferret_params *was = run2_party_ferret;
    const vole4_params *was4 = run2_party_vole4;
    run2_party_ferret = cfg->ferret;
    run2_party_vole4 = cfg->vole4;
    rc = run2_party(secure_party, &j, cfg->lanes);
    run2_party_ferret = was;
    run2_party_vole4 = was4;
    qnet_free(pub);
    if (cfg->costs) {
        secure_costs *c = cfg->costs;
        c->setup = run2_party_setup_stats[0].bytes_sent + run2_party_setup_stats[1].bytes_sent;
        c->he_setup = c->he_sent[0] + c->he_sent[1];
        c->cots = run2_party_sil[0].cots;
        c->corrs = run2_party_sil[0].corrs;
    }
    if (rc < 0) {
        mem_free(j.out);
        return rc;
    }
    *out = j.out;
    *nout = j.nout;
    return 0;
}

int secure_check_costs(const qnet *net, const secure_cfg *cfg, const secure_costs *c) {
    cost_opts o = opts_of(cfg);
    cost_report r;
    int rc = cost_predict(&r, net, &o);
    if (rc < 0) {
        cost_report_free(&r);
        return rc;
    }
    const exec_report *e = &c->rep;
    if (e->nlayers != net->nlayers) rc = err_set(PARLEY_E_MISMATCH, "no report of the run");
    /* The silent COT batches are paid where a lane runs out: the report
     * counts them apart (and run2_party checks their size). */
    for (unsigned i = 0; i < net->nlayers && rc == 0; i++) {
        uint64_t got = e->layers[i].bytes + e->layers[i].bytes_recv - e->layers[i].gen_sent -
                       e->layers[i].gen_recv;
        if (got != r.layer[i])
            rc = err_set(PARLEY_E_MISMATCH, "layer %u (%s %s): %llu bytes, predicted %llu", i + 1,
                         qop_name(net->layers[i].op), net->layers[i].name, (unsigned long long)got,
                         (unsigned long long)r.layer[i]);
    }
    uint64_t gen = e->gen_sent + e->gen_recv, total = e->bytes_sent + e->bytes_recv - gen;
    /* The batches are the ones the flight model's walk makes (whole, some
     * ahead of need, none beyond the pools' budgets). They may come to less
     * than the amortised figure: the set-up's batches leave a stock the
     * inference uses first. */
    if (rc == 0 && c->cots != r.cots)
        rc = err_set(PARLEY_E_MISMATCH, "%llu silent COTs used, predicted %llu",
                     (unsigned long long)c->cots, (unsigned long long)r.cots);
    if (rc == 0 && c->corrs != r.corrs)
        rc = err_set(PARLEY_E_MISMATCH, "%llu 4-bit VOLE correlations used, predicted %llu",
                     (unsigned long long)c->corrs, (unsigned long long)r.corrs);
    if (rc == 0 &&
        (gen != r.gen_made || (r.cots == 0 && r.corrs == 0 && gen != 0)))
        rc = err_set(PARLEY_E_MISMATCH,
                     "silent batches: %llu bytes, predicted %llu (%llu COTs, %llu amortised)",
                     (unsigned long long)gen, (unsigned long long)r.gen_made,
                     (unsigned long long)r.cots, (unsigned long long)r.gen);
    if (rc == 0 && o.ot != OT_BACKEND_SILENT && (gen || r.cots))
        rc = err_set(PARLEY_E_MISMATCH, "silent costs on the IKNP backend");
    if (rc == 0 && total != r.total)
        rc = err_set(
            PARLEY_E_MISMATCH,
            "the inference: %llu bytes, predicted %llu (input %llu, label %llu, reveal %llu)",
            (unsigned long long)total, (unsigned long long)r.total, (unsigned long long)r.input,
            (unsigned long long)r.label, (unsigned long long)r.reveal);
    if (rc == 0 && c->setup + c->he_setup != r.setup)
        rc = err_set(PARLEY_E_MISMATCH, "set-up: %llu + %llu bytes, predicted %llu",
                     (unsigned long long)c->setup, (unsigned long long)c->he_setup,
                     (unsigned long long)r.setup);
    /* HE: both parties state the statistical security the model predicts
     * (the client from the public model), at least 40 bits, and the server's
     * report carries it */
    for (int k = 0; k < 2 && rc == 0 && cfg->mode == MODE_HE; k++)
        if (!(r.he_stat_bits >= HE_STAT_BITS) || fabs(c->he_stat_bits[k] - r.he_stat_bits) > 1e-9 ||
            fabs(e->he_stat_bits - r.he_stat_bits) > 1e-9)
            rc = err_set(PARLEY_E_MISMATCH,
                         "statistical security: %s states %.6f bits, reports %.6f, predicted %.6f",
                         k ? "the client" : "the server", c->he_stat_bits[k], e->he_stat_bits,
                         r.he_stat_bits);
    cost_report_free(&r);
    return rc;
}

int conf_interp_secure(void *ctx, uint64_t **out, const qnet *net, const uint64_t *x) {
    size_t n;
    return secure_run(out, &n, net, x, ctx);
}
