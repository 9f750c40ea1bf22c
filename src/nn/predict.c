/* Predicted time over a network; see predict.h and docs/NETWORK.md. */
#include "nn/predict.h"

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

int predict_time_of(predict_time *t, const cost_report *r, const qnet *net, const cost_opts *o,
                    const predict_net *n) {
    memset(t, 0, sizeof *t);
    t->layer = mem_calloc(r->nlayers ? r->nlayers : 1, sizeof *t->layer);
    if (!t->layer) return err_set(PARLEY_E_NOMEM, "out of memory for the time prediction");
    const predict_rates *k = predict_rates_for(o->ot, o->lanes);
    double ow = n->rtt_ms / 2e3, rate = n->mbytes_per_s * 1e6;
    uint64_t fl = 0, in_layers = 0;
    for (unsigned i = 0; i < r->nlayers; i++) {
        const uint64_t *s = r->layer_sent[i];
        int turns = o->mode == MODE_HE && qop_is_linear(net->layers[i].op);
        uint64_t b = turns ? s[0] + s[1] : s[0] > s[1] ? s[0] : s[1];
        double c = compute_of(k, r, net, i, o->mode);
        double x = rate > 0 ? (double)b / rate : 0;
        double y = (double)r->layer_flights[i] * ow;
        t->layer[i] = c + x + y;
        t->compute += c;
        t->transfer += x;
        fl += r->layer_flights[i];
        in_layers += s[0] + s[1];
    }
    /* Input sharing, the label's ArgMax and the reveal: their bytes one
     * after another, and the flights outside the layers. */
    uint64_t rest = r->sent[0] + r->sent[1] - in_layers;
    if (rate > 0) t->transfer += (double)rest / rate;
    t->latency = (double)(r->flights > fl ? r->flights : fl) * ow; /* r->flights counts all */
    t->total = t->compute + t->transfer + t->latency;
    return 0;
}

int predict_net_parse(predict_net *n, const char *s) {
    if (!strcmp(s, "loopback")) {
        *n = (predict_net){0, 0};
        return 0;
    }
    if (!strcmp(s, "lan")) {
        *n = (predict_net){0.8, 377};
        return 0;
    }
    if (!strcmp(s, "wan")) {
        *n = (predict_net){80, 40};
        return 0;
    }
    char *end;
    errno = 0;
    double a = strtod(s, &end);
    if (errno || end == s || *end != ',' || !isfinite(a) || a < 0 || a > 60000)
        return err_set(PARLEY_E_ARG,
                       "--net wants RTT_MS,MBYTES_PER_S or loopback, lan, wan; got '%s'", s);
    const char *b = end + 1;
    double m = strtod(b, &end);
    if (errno || end == b || *end || !isfinite(m) || m < 0 || m > 1e6)
        return err_set(PARLEY_E_ARG,
                       "--net wants RTT_MS,MBYTES_PER_S or loopback, lan, wan; got '%s'", s);
    n->rtt_ms = a;
    n->mbytes_per_s = m;
    return 0;
}
