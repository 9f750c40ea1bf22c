/* Predicted traffic of a secure inference; see cost.h. Each layer costs
 * what its kind's secure step sends (qkind_bytes, nn/kind.h): the step
 * exec_infer runs, priced on the same linear back-end. */
#include "nn/cost.h"

#include "lin/he/lin_he.h"
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
    memset(r, 0, sizeof *r);
}

uint64_t cost_he_outputs(const qnet *net) {
    uint64_t n = 0;
    for (unsigned i = 0; i < net->nlayers; i++)
        if (qop_is_linear(net->layers[i].op)) n += net->t[net->layers[i].out].size;
    return n;
}

int cost_predict(cost_report *r, const qnet *net, const cost_opts *o) {
    memset(r, 0, sizeof *r);
    if (o->mode != MODE_OT && o->mode != MODE_HE)
        return err_set(PARLEY_E_ARG, "cost: mode %d is neither OT nor HE", o->mode);
    if (o->lanes < 1 || o->lanes > LANES_MAX)
        return err_set(PARLEY_E_ARG, "cost: %u lanes, not in 1..%d", o->lanes, LANES_MAX);
    const ot_backend *be = ot_backend_get(o->ot);
    if (!be)
        return err_set(PARLEY_E_ARG, "cost: OT backend %d is neither IKNP nor silent", o->ot);
    unsigned l = net->l;
    r->nlayers = net->nlayers;
    r->layer = mem_calloc(net->nlayers ? net->nlayers : 1, sizeof *r->layer);
    r->layer_cots = mem_calloc(net->nlayers ? net->nlayers : 1, sizeof *r->layer_cots);
    uint8_t *nonneg = exec_nonneg_tensors(net);
    if (!r->layer || !r->layer_cots || !nonneg) {
        mem_free(nonneg);
        return err_set(PARLEY_E_NOMEM, "out of memory for the cost model");
    }
    /* share_input and reveal: one packed message of l-bit values each. */
    r->input = bits_bytes(net->t[net->input].size * (size_t)l);
    const uint64_t outs = cost_he_outputs(net);
    lin_backend lin = exec_lin_backend(o->mode, NULL, outs);
    int rc = 0;
    double sd = 0;
    for (unsigned i = 0; i < net->nlayers && rc == 0; i++) {
        const qlayer *L = &net->layers[i];
        ot_costing oc = {o->ot, &r->layer_cots[i]};
        qctx c = {.net = net,
                  .L = L,
                  .n = net->t[L->out].size,
                  .l = l,
                  .lin = &lin,
                  .nonneg = nonneg,
                  .oc = &oc,
                  .lanes = o->lanes,
                  .sd = &sd};
        rc = qkind_bytes(&r->layer[i], &c);
        r->cots += r->layer_cots[i];
        if (rc < 0) { /* a back-end that cannot run the layer */
            if (rc != PARLEY_E_NOMEM) rc = PARLEY_E_UNSUPPORTED;
            err_wrap(rc, "layer %u (%s %s) in %s mode", i + 1, qop_name(L->op), L->name,
                     o->mode == MODE_HE ? "HE" : "OT");
            break;
        }
        r->by_kind[L->op] += r->layer[i];
        if (qop_is_linear(L->op))
            r->linear += r->layer[i];
        else
            r->nonlinear += r->layer[i];
    }
    mem_free(nonneg);
    if (rc < 0) return rc;
    if (o->mode == MODE_HE) {
        r->he_outputs = outs;
        r->he_stat_bits = sd > 0 ? -log2(sd) : INFINITY;
    }
    const qtensor *ot = &net->t[net->output];
    size_t nres = ot->size;
    if (o->reveal_label) {
        size_t cols = ot->shape.rank ? ot->shape.d[ot->shape.rank - 1] : 1;
        nres = ot->size / cols;
        ot_costing oc = {o->ot, &r->cots};
        r->label = nl_argmax_bytes(&oc, nres, cols, l, o->lanes);
    }
    r->reveal = bits_bytes(nres * (size_t)l);
    r->total = r->input + r->linear + r->nonlinear + r->label + r->reveal;
    ot_lane_opts lo = {.backend = o->ot, .ferret = o->ferret};
    r->setup =
        o->lanes * ot_lane_setup_bytes(&lo) + (o->mode == MODE_HE ? lin_he_setup_bytes() : 0);
    r->gen = be->gen_bytes(&lo, r->cots);
    return 0;
}
