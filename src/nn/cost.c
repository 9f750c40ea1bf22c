/* Predicted traffic of a secure inference; see cost.h. Each case below
 * mirrors the call run_layer (nn/exec.c) makes for that layer kind. */
#include "nn/cost.h"

#include "lin/he/lin_he.h"
#include "lin/ot/lin_ot.h"
#include "nl/nl.h"
#include "nn/exec.h"
#include "nn/hello.h"
#include "util/bits.h"
#include "util/mem.h"

#include <math.h>
#include <stdio.h>
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

/* A linear layer: the OT orientation the layer picks, or HE (in a session
 * returning `outs` coefficients; *sd gets the layer's statistical distance).
 * 0 from HE means the planner refused the layer (its message says why). */
static int linear_bytes(uint64_t *b, double *sd, const qnet *net, const qlayer *L, int mode,
                        uint64_t outs) {
    unsigned l = net->l;
    err_clear();
    if (mode == MODE_HE) {
        *b = L->op == QOP_CONV ? lin_he_conv_bytes(&L->p.conv, l, outs, sd)
             : L->op == QOP_FC ? lin_he_fc_bytes(&L->p.fc, l, outs, sd)
                               : lin_he_scale_bytes(&L->p.scale, l, outs, sd);
        if (*b == 0) {
            char why[256];
            const char *m = err_msg();
            snprintf(why, sizeof why, "%s",
                     strcmp(m, "no error") ? m : "the HE planner refuses it");
            return err_set(PARLEY_E_UNSUPPORTED, "%s", why);
        }
        return 0;
    }
    *b = L->op == QOP_CONV ? lin_ot_conv_bytes(&L->p.conv, l, LIN_OT_AUTO)
         : L->op == QOP_FC ? lin_ot_fc_bytes(&L->p.fc, l, LIN_OT_AUTO)
                           : lin_ot_scale_bytes(&L->p.scale, l, LIN_OT_AUTO);
    return 0;
}

static int layer_bytes(uint64_t *b, double *sd, const ot_costing *oc, const qnet *net,
                       const qlayer *L, const cost_opts *o, const uint8_t *nonneg, uint64_t outs) {
    size_t n = net->t[L->out].size;
    unsigned l = net->l, lanes = o->lanes;
    *b = 0;
    *sd = 0;
    switch (L->op) {
    case QOP_CONV:
    case QOP_FC:
    case QOP_SCALE:
        return linear_bytes(b, sd, net, L, o->mode, outs);
    case QOP_TRUNC:
        *b = nl_trunc_bytes(oc, n, l, L->p.shift, lanes);
        return 0;
    case QOP_RELU:
        *b = nl_relu_bytes(oc, n, l, lanes);
        return 0;
    case QOP_RELU_TRUNC:
        *b = nl_relu_trunc_bytes(oc, n, l, L->p.shift, lanes);
        return 0;
    case QOP_MAXPOOL:
        *b = nl_maxpool_bytes(oc, &L->p.pool, l,
                              NL_POOL_TREE | (nonneg[L->in[0]] ? NL_POOL_NONNEG : 0), lanes);
        return 0;
    case QOP_AVGPOOL:
        *b = nl_avgpool_bytes(oc, &L->p.pool, l, lanes);
        return 0;
    case QOP_ARGMAX: {
        size_t outer, cols, inner;
        qnet_argmax_geom(net, L, &outer, &cols, &inner);
        *b = nl_argmax_bytes(oc, outer * inner, cols, l, lanes);
        return 0;
    }
    default:
        return 0; /* ADD, ADDC, CONCAT, RESHAPE, PAD, TRANSPOSE, CONST: local */
    }
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
    int rc = 0;
    const uint64_t outs = cost_he_outputs(net);
    double sd = 0;
    for (unsigned i = 0; i < net->nlayers && rc == 0; i++) {
        const qlayer *L = &net->layers[i];
        ot_costing oc = {o->ot, &r->layer_cots[i]};
        double lsd;
        rc = layer_bytes(&r->layer[i], &lsd, &oc, net, L, o, nonneg, outs);
        sd += lsd;
        r->cots += r->layer_cots[i];
        if (rc < 0) {
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
