/* Predicted time over a network; see predict.h and docs/NETWORK.md. */
#include "nn/predict.h"

#include "mpc/party.h"
#include "nn/hello.h"
#include "ot/lane.h"
#include "util/mem.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

/* Silent: he_mac and nl_cot fitted by scripts/calibrate-compute on the
 * three HE-mode loopback runs of bench-networks of 2026-12-06 (dev-2c, an
 * AMD EPYC with AVX-512 IFMA, 2 lanes; each run's fitted compute within
 * -15 % .. +16 % of its measured time); ot_lin_byte from the six runs of
 * 2026-12-05 (both modes, the host before, without AVX-512). IKNP's
 * non-linear rate: ReLU + truncation at 2^20 elements (l = 37), 826 MB in
 * 1.53 s on one lane (docs/BENCHMARKS.md, non-linear protocols); its
 * linear rates are the silent fit's (HE and the OT linear layers do not
 * use the non-linear layers' OT). */
static const predict_rates RATES_SILENT = {
    .source = "dev-2c, 2 lanes: bench-networks loopback runs of 2026-12-05 and -06",
    .he_mac = 5.66e-9,
    .ot_lin_byte = 2.75e-9,
    .nl_byte = 0.0,
    .nl_cot = 3.02e-8,
};
static const predict_rates RATES_IKNP = {
    .source = "dev-2c: bench-nl ReLU + truncation (non-linear), as silent (linear)",
    .he_mac = 5.66e-9,
    .ot_lin_byte = 2.75e-9,
    .nl_byte = 1.85e-9,
    .nl_cot = 0.0,
};

const predict_rates *predict_rates_for(int backend, unsigned lanes) {
    (void)lanes;
    return backend == OT_BACKEND_SILENT ? &RATES_SILENT : &RATES_IKNP;
}

uint64_t predict_layer_macs(const qnet *net, const qlayer *L) {
    qnet_stats st;
    qlayer_stats(&st, net, L);
    return st.macs;
}

static double compute_of(const predict_rates *k, const cost_report *r, const qnet *net, unsigned i,
                         int mode) {
    const qlayer *L = &net->layers[i];
    if (qop_is_linear(L->op))
        return mode == MODE_HE ? k->he_mac * (double)predict_layer_macs(net, L)
                               : k->ot_lin_byte * (double)r->layer[i];
    return k->nl_byte * (double)r->layer[i] + k->nl_cot * (double)r->layer_cots[i];
}

void predict_time_free(predict_time *t) {
    if (!t) return;
    mem_free(t->layer);
    memset(t, 0, sizeof *t);
}

/* Seconds to send `bytes` at `mbps` (10^6 bytes/s; 0: unlimited). */
static double over(uint64_t bytes, double mbps) {
    return mbps > 0 ? (double)bytes / (mbps * 1e6) : 0;
}

int predict_time_of(predict_time *t, const cost_report *r, const qnet *net, const cost_opts *o,
                    const predict_net *n) {
    memset(t, 0, sizeof *t);
    t->layer = mem_calloc(r->nlayers ? r->nlayers : 1, sizeof *t->layer);
    if (!t->layer) return err_set(PARLEY_E_NOMEM, "out of memory for the time prediction");
    const predict_rates *k = predict_rates_for(o->ot, o->lanes);
    double ow = n->rtt_ms / 2e3;
    uint64_t fl = 0, in_layers[2] = {0, 0};
    for (unsigned i = 0; i < r->nlayers; i++) {
        const uint64_t *s = r->layer_sent[i];
        int turns = o->mode == MODE_HE && qop_is_linear(net->layers[i].op);
        double xs = over(s[MPC_SERVER], n->down), xc = over(s[MPC_CLIENT], n->up);
        double c = compute_of(k, r, net, i, o->mode);
        double x = turns ? xs + xc : xs > xc ? xs : xc;
        double y = (double)r->layer_flights[i] * ow;
        t->layer[i] = c + x + y;
        t->compute += c;
        t->transfer += x;
        fl += r->layer_flights[i];
        in_layers[MPC_SERVER] += s[MPC_SERVER];
        in_layers[MPC_CLIENT] += s[MPC_CLIENT];
    }
    /* Input sharing, the label's ArgMax and the reveal: their bytes one
     * after another, and the flights outside the layers. */
    t->transfer += over(r->sent[MPC_SERVER] - in_layers[MPC_SERVER], n->down) +
                   over(r->sent[MPC_CLIENT] - in_layers[MPC_CLIENT], n->up);
    t->latency = (double)(r->flights > fl ? r->flights : fl) * ow; /* r->flights counts all */
    t->total = t->compute + t->transfer + t->latency;
    return 0;
}

#define NET_USAGE "--net wants RTT_MS,MBYTES_PER_S, RTT_MS,UP,DOWN or loopback, lan, wan; got '%s'"

/* One number of a --net spec at s, ending at `end` (',' or '\0'), in
 * [0, max]; 0 or -1. */
static int net_num(double *v, const char *s, char **end, double max) {
    errno = 0;
    *v = strtod(s, end);
    if (errno || *end == s || (**end != ',' && **end) || !isfinite(*v) || *v < 0 || *v > max)
        return -1;
    return 0;
}

int predict_net_parse(predict_net *n, const char *s) {
    if (!strcmp(s, "loopback")) {
        *n = (predict_net){0, 0, 0};
        return 0;
    }
    if (!strcmp(s, "lan")) {
        *n = (predict_net){0.8, 377, 377};
        return 0;
    }
    if (!strcmp(s, "wan")) {
        *n = (predict_net){80, 40, 40};
        return 0;
    }
    double v[3];
    unsigned k = 0;
    const char *p = s;
    for (;;) {
        char *end;
        if (k == 3 || net_num(&v[k], p, &end, k ? 1e6 : 60000) < 0)
            return err_set(PARLEY_E_ARG, NET_USAGE, s);
        k++;
        if (!*end) break;
        p = end + 1;
    }
    if (k < 2) return err_set(PARLEY_E_ARG, NET_USAGE, s);
    n->rtt_ms = v[0];
    n->up = v[1];
    n->down = v[k - 1];
    return 0;
}
