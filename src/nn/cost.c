/* Predicted traffic of a secure inference; see cost.h. Each layer costs
 * what its kind's secure step sends (qkind_bytes, nn/kind.h): the step
 * exec_infer runs, priced on the same linear back-end. */
#include "nn/cost.h"

#include "he/he.h"
#include "mpc/flights.h"
#include "nl/nl.h"
#include "nn/exec.h"
#include "nn/hello.h"
#include "nn/kind.h"
#include "util/bits.h"
#include "util/mem.h"

#include <math.h>
#include <string.h>

void cost_report_free(cost_report *r) {
    if (!r) return;
    mem_free(r->layer);
    mem_free(r->layer_cots);
    mem_free(r->layer_flights);
    mem_free(r->layer_sent);
    memset(r, 0, sizeof *r);
}

uint64_t cost_he_outputs(const qnet *net) {
    uint64_t n = 0;
    for (unsigned i = 0; i < net->nlayers; i++)
        if (qop_is_linear(net->layers[i].op)) n += net->t[net->layers[i].out].size;
    return n;
}

/* use: the pools' budgets the walk applies (NULL: none); took: where to
 * record what the consumers take (NULL: nowhere). */
static int predict_at(cost_report *r, const qnet *net, const cost_opts *o, const ot_budgets *use,
                      ot_budgets *took) {
    memset(r, 0, sizeof *r);
    const lin_ops *lops = exec_lin_ops(o->mode);
    if (!lops) return err_set(PARLEY_E_ARG, "cost: mode %d is neither OT nor HE", o->mode);
    if (o->lanes < 1 || o->lanes > LANES_MAX)
        return err_set(PARLEY_E_ARG, "cost: %u lanes, not in 1..%d", o->lanes, LANES_MAX);
    const ot_backend *be = ot_backend_get(o->ot);
    if (!be)
        return err_set(PARLEY_E_ARG, "cost: OT backend %d is neither IKNP nor silent", o->ot);
    unsigned l = net->l;
    const vole4_params *v4 = o->ot == OT_BACKEND_SILENT ? o->vole4 : NULL;
    r->nlayers = net->nlayers;
    r->layer = mem_calloc(net->nlayers ? net->nlayers : 1, sizeof *r->layer);
    r->layer_cots = mem_calloc(net->nlayers ? net->nlayers : 1, sizeof *r->layer_cots);
    r->layer_flights = mem_calloc(net->nlayers ? net->nlayers : 1, sizeof *r->layer_flights);
    r->layer_sent = mem_calloc(net->nlayers ? net->nlayers : 1, sizeof *r->layer_sent);
    uint8_t *nonneg = exec_nonneg_tensors(net), *width = exec_width_tensors(net);
    fsim *fs = NULL;
    if (!r->layer || !r->layer_cots || !r->layer_flights || !r->layer_sent || !nonneg || !width ||
        fsim_new4(&fs, o->ot, o->lanes, o->ferret, v4) < 0) {
        mem_free(nonneg);
        mem_free(width);
        return err_set(PARLEY_E_NOMEM, "out of memory for the cost model");
    }
    if (use) fsim_set_budgets(fs, use);
    /* share_input and reveal: one packed message of l-bit values each. */
    r->input = bits_bytes(net->t[net->input].size * (size_t)l);
    const uint64_t outs = cost_he_outputs(net);
    lin_backend lin = {.ops = lops}; /* pricing: no session state */
    lin_set_outputs(&lin, outs);
    /* The linear back-end's set-up (HE: the client's key message, which
     * the input's share joins): its flights are counted with the set-up. */
    const uint64_t lin_setup = lin_setup_cost(lops, fs);
    const uint64_t setup_flights = fsim_flights(fs);
    fsim_msg(fs, MPC_CLIENT, r->input); /* share_input, on lane 0 */
    int rc = 0;
    double h2 = 0;
    for (unsigned i = 0; i < net->nlayers && rc == 0; i++) {
        const qlayer *L = &net->layers[i];
        /* siblings run as one step (exec_step_end): priced on the first */
        size_t n;
        lin_shape merged;
        int lgroup;
        unsigned j = exec_step_end(net, i, &lin, &n, &merged, &lgroup);
        ot_costing oc = {.backend = o->ot, .cots = &r->layer_cots[i], .fs = fs,
                         .leaf_sender = lops->leaf_sender, .vole4 = v4 != NULL,
                         .corrs = &r->corrs};
        uint64_t f0 = fsim_flights(fs), s0[2], s1[2];
        fsim_sent(fs, s0);
        qctx c = {.net = net,
                  .L = L,
                  .n = n,
                  .l = l,
                  .lin = &lin,
                  .nonneg = nonneg,
                  .width = width,
                  .oc = &oc,
                  .lanes = o->lanes,
                  .h2 = &h2};
        if (lgroup) {
            double lh2;
            rc = lin_cost(&lin, &r->layer[i], &lh2, &merged, l, o->lanes, fs);
            if (rc == 0) h2 += lh2;
        } else {
            rc = qkind_bytes(&r->layer[i], &c);
        }
        r->layer_flights[i] = fsim_flights(fs) - f0;
        fsim_sent(fs, s1);
        for (int p = 0; p < 2; p++)
            r->layer_sent[i][p] = s1[p] - s0[p];
        r->cots += r->layer_cots[i];
        if (rc < 0) { /* a back-end that cannot run the layer */
            if (rc != PARLEY_E_NOMEM) rc = PARLEY_E_UNSUPPORTED;
            err_wrap(rc, "layer %u (%s %s) in %s mode", i + 1, qop_name(L->op), L->name,
                     lops->name);
            break;
        }
        r->by_kind[L->op] += r->layer[i];
        if (qop_is_linear(L->op))
            r->linear += r->layer[i];
        else
            r->nonlinear += r->layer[i];
        i = j;
    }
    mem_free(nonneg);
    mem_free(width);
    if (rc < 0) {
        fsim_free(fs);
        return rc;
    }
    if (lin_spends_outputs(lops)) {
        r->he_outputs = outs;
        r->he_stat_bits = he_stat_bits_of(h2);
    }
    const qtensor *ot = &net->t[net->output];
    size_t nres = ot->size;
    if (o->reveal_label) {
        size_t cols = ot->shape.rank ? ot->shape.d[ot->shape.rank - 1] : 1;
        nres = ot->size / cols;
        ot_costing oc = {.backend = o->ot, .cots = &r->cots, .fs = fs,
                         .leaf_sender = lops->leaf_sender, .vole4 = v4 != NULL,
                         .corrs = &r->corrs};
        r->label = nl_argmax_bytes(&oc, nres, cols, l, o->lanes);
    }
    r->reveal = bits_bytes(nres * (size_t)l);
    fsim_msg(fs, MPC_SERVER, r->reveal); /* reveal: the server's share */
    r->flights = fsim_flights(fs) - setup_flights;
    r->gen_made = fsim_gen_bytes(fs);
    fsim_sent(fs, r->sent);
    if (took) fsim_budgets(fs, took);
    rc = fsim_status(fs);
    fsim_free(fs);
    if (rc < 0) return err_set(rc, "the flight model failed (out of memory?)");
    r->total = r->input + r->linear + r->nonlinear + r->label + r->reveal;
    ot_lane_opts lo = {.backend = o->ot, .ferret = o->ferret, .vole4 = v4};
    r->setup = o->lanes * ot_lane_setup_bytes(&lo) + lin_setup;
    r->gen = be->gen_bytes(&lo, r->cots) + (v4 ? vole4_gen_bytes(v4, o->ferret, r->corrs) : 0);
    return 0;
}

/* The session's set (cost_session_ferret); where it is the small one, *r
 * keeps the walk on it (else r is freed). */
static const ferret_params *session_ferret(const qnet *net, const cost_opts *o, cost_report *r) {
    memset(r, 0, sizeof *r);
    /* leaves on 4-bit VOLE: the default set (their first bases alone take
     * 4 m COTs each way, more than the small set's fit) */
    if (o->ot != OT_BACKEND_SILENT || o->vole4) return NULL;
    const ferret_params *small = &FERRET_BOOT;
    /* An element through a ReLU takes at least 4 COTs (a comparison of k
     * bits takes k - 1 for its leaves, the MUX 2): a model with more than
     * fit / 4 of them cannot fit, and is not walked twice. The bound only
     * saves time: were it wrong for some model, that model would run on
     * the default set, which is always correct, on both sides alike. */
    qnet_stats st;
    qnet_stats_get(&st, net);
    const uint64_t fit = 2 * (uint64_t)o->lanes * ferret_usable(small);
    if (st.relus > fit / 4) return NULL;
    cost_opts b = *o;
    b.ferret = small;
    if (predict_at(r, net, &b, NULL, NULL) == 0 &&
        r->gen_made <= 2 * (uint64_t)o->lanes * ferret_batch_bytes(small))
        return small;
    cost_report_free(r);
    err_clear();
    return NULL;
}

const ferret_params *cost_session_ferret(const qnet *net, const cost_opts *o) {
    cost_report r;
    const ferret_params *fp = session_ferret(net, o, &r);
    cost_report_free(&r);
    return fp;
}

const vole4_params *cost_session_vole4(int ot, unsigned leaves) {
    return ot == OT_BACKEND_SILENT && leaves == LEAVES_VOLE4 ? &VOLE4_H10K18 : NULL;
}

int cost_session_budgets(const qnet *net, const cost_opts *o, ot_budgets *out) {
    cost_report r;
    memset(out, 0, sizeof *out);
    int rc = predict_at(&r, net, o, NULL, out);
    cost_report_free(&r);
    return rc;
}

int cost_predict(cost_report *r, const qnet *net, const cost_opts *o) {
    if (o->ot != OT_BACKEND_SILENT) return predict_at(r, net, o, NULL, NULL);
    cost_opts b = *o;
    if (!b.ferret) b.ferret = cost_session_ferret(net, o);
    ot_budgets *bu = mem_alloc(1, sizeof *bu);
    if (!bu) return err_set(PARLEY_E_NOMEM, "out of memory for the cost model");
    int rc = cost_session_budgets(net, &b, bu);
    if (rc == 0) rc = predict_at(r, net, &b, bu, NULL);
    else memset(r, 0, sizeof *r);
    mem_free(bu);
    return rc;
}
