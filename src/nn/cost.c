/* Predicted traffic of a secure inference; see cost.h. Each case below
 * mirrors the call run_layer (nn/exec.c) makes for that layer kind. */
#include "nn/cost.h"

#include "lin/he/lin_he.h"
#include "lin/ot/lin_ot.h"
#include "mpc/flights.h"
#include "nl/nl.h"
#include "nn/exec.h"
#include "nn/hello.h"
#include "util/bits.h"
#include "util/mem.h"

#include <stdio.h>
#include <string.h>

void cost_report_free(cost_report *r) {
    if (!r) return;
    mem_free(r->layer);
    mem_free(r->layer_cots);
    mem_free(r->layer_flights);
    mem_free(r->layer_sent);
    memset(r, 0, sizeof *r);
}

/* A linear layer: the OT orientation the layer picks, or HE. 0 from HE
 * means the planner refused the layer (its message says why). */
static int linear_bytes(uint64_t *b, const qnet *net, const qlayer *L, int mode) {
    unsigned l = net->l;
    err_clear();
    if (mode == MODE_HE) {
        *b = L->op == QOP_CONV ? lin_he_conv_bytes(&L->p.conv, l)
             : L->op == QOP_FC ? lin_he_fc_bytes(&L->p.fc, l)
                               : lin_he_scale_bytes(&L->p.scale, l);
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

static int layer_bytes(uint64_t *b, const ot_costing *oc, const qnet *net, const qlayer *L,
                       const cost_opts *o, const uint8_t *nonneg) {
    size_t n = net->t[L->out].size;
    unsigned l = net->l, lanes = o->lanes;
    *b = 0;
    switch (L->op) {
    case QOP_CONV:
    case QOP_FC:
    case QOP_SCALE:
        return linear_bytes(b, net, L, o->mode);
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

/* The flights of a linear layer: HE, the client's ciphertexts then the
 * server's answer (lin_he.h; a layer past its chunk limit would take two
 * more per chunk); OT, the busiest lane's streamed COTs (lin_ot.h). */
static void linear_flights(fsim *fs, const qnet *net, const qlayer *L, int mode, unsigned lanes,
                           uint64_t bytes) {
    if (mode == MODE_HE) {
        lin_conv c = L->op == QOP_CONV ? L->p.conv
                     : L->op == QOP_FC ? lin_he_fc_as_conv(&L->p.fc)
                                       : lin_he_scale_as_conv(&L->p.scale);
        lin_he_info in;
        if (lin_he_conv_info(&in, &c, net->l) < 0) { /* cost_predict has refused it already */
            err_clear();
            in.bytes_c2s = bytes;
            in.bytes_s2c = 0;
        }
        fsim_msg(fs, MPC_CLIENT, in.bytes_c2s);
        fsim_msg(fs, MPC_SERVER, in.bytes_s2c);
        return;
    }
    int recv = MPC_CLIENT;
    uint64_t rx = 0;
    size_t k = L->op == QOP_CONV ? lin_ot_conv_chunks(&L->p.conv, net->l, lanes, &recv, &rx)
               : L->op == QOP_FC ? lin_ot_fc_chunks(&L->p.fc, net->l, lanes, &recv, &rx)
                                 : lin_ot_scale_chunks(&L->p.scale, net->l, lanes, &recv, &rx);
    fsim_fork(fs);
    fsim_lane(fs, 0);
    fsim_cotv(fs, recv, k, rx, bytes > rx ? bytes - rx : 0);
    fsim_join(fs);
}

int cost_predict(cost_report *r, const qnet *net, const cost_opts *o) {
    memset(r, 0, sizeof *r);
    if (o->mode != MODE_OT && o->mode != MODE_HE)
        return err_set(PARLEY_E_ARG, "cost: mode %d is neither OT nor HE", o->mode);
    if (o->lanes < 1 || o->lanes > LANES_MAX)
        return err_set(PARLEY_E_ARG, "cost: %u lanes, not in 1..%d", o->lanes, LANES_MAX);
    if (o->ot != OT_BACKEND_IKNP && o->ot != OT_BACKEND_SILENT)
        return err_set(PARLEY_E_ARG, "cost: OT backend %d is neither IKNP nor silent", o->ot);
    unsigned l = net->l;
    r->nlayers = net->nlayers;
    r->layer = mem_calloc(net->nlayers ? net->nlayers : 1, sizeof *r->layer);
    r->layer_cots = mem_calloc(net->nlayers ? net->nlayers : 1, sizeof *r->layer_cots);
    r->layer_flights = mem_calloc(net->nlayers ? net->nlayers : 1, sizeof *r->layer_flights);
    r->layer_sent = mem_calloc(net->nlayers ? net->nlayers : 1, sizeof *r->layer_sent);
    uint8_t *nonneg = exec_nonneg_tensors(net);
    fsim *fs = NULL;
    if (!r->layer || !r->layer_cots || !r->layer_flights || !r->layer_sent || !nonneg ||
        fsim_new(&fs, o->ot, o->lanes, o->ferret) < 0) {
        mem_free(nonneg);
        return err_set(PARLEY_E_NOMEM, "out of memory for the cost model");
    }
    /* share_input and reveal: one packed message of l-bit values each. */
    r->input = bits_bytes(net->t[net->input].size * (size_t)l);
    fsim_msg(fs, MPC_CLIENT, r->input); /* share_input, on lane 0 */
    int rc = 0;
    for (unsigned i = 0; i < net->nlayers && rc == 0; i++) {
        const qlayer *L = &net->layers[i];
        ot_costing oc = {.backend = o->ot, .cots = &r->layer_cots[i], .fs = fs};
        uint64_t f0 = fsim_flights(fs), s0[2], s1[2];
        fsim_sent(fs, s0);
        rc = layer_bytes(&r->layer[i], &oc, net, L, o, nonneg);
        if (rc == 0 && qop_is_linear(L->op))
            linear_flights(fs, net, L, o->mode, o->lanes, r->layer[i]);
        r->layer_flights[i] = fsim_flights(fs) - f0;
        fsim_sent(fs, s1);
        for (int p = 0; p < 2; p++)
            r->layer_sent[i][p] = s1[p] - s0[p];
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
    if (rc < 0) {
        fsim_free(fs);
        return rc;
    }
    const qtensor *ot = &net->t[net->output];
    size_t nres = ot->size;
    if (o->reveal_label) {
        size_t cols = ot->shape.rank ? ot->shape.d[ot->shape.rank - 1] : 1;
        nres = ot->size / cols;
        ot_costing oc = {.backend = o->ot, .cots = &r->cots, .fs = fs};
        r->label = nl_argmax_bytes(&oc, nres, cols, l, o->lanes);
    }
    r->reveal = bits_bytes(nres * (size_t)l);
    fsim_msg(fs, MPC_SERVER, r->reveal); /* reveal: the server's share */
    r->flights = fsim_flights(fs);
    fsim_sent(fs, r->sent);
    rc = fsim_status(fs);
    fsim_free(fs);
    if (rc < 0) return err_set(rc, "the flight model failed (out of memory?)");
    r->total = r->input + r->linear + r->nonlinear + r->label + r->reveal;
    ot_lane_opts lo = {.backend = o->ot, .ferret = o->ferret};
    r->setup =
        o->lanes * ot_lane_setup_bytes(&lo) + (o->mode == MODE_HE ? lin_he_setup_bytes() : 0);
    if (o->ot == OT_BACKEND_SILENT) {
        const ferret_params *fp = o->ferret ? o->ferret : &FERRET_B11;
        uint64_t u = ferret_usable(fp);
        r->gen = (uint64_t)(((unsigned __int128)r->cots * ferret_batch_bytes(fp) + u - 1) / u);
    }
    return 0;
}
