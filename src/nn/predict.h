/* The time of a secure inference over a network, predicted from the cost
 * model (nn/cost.h) and a link's round trip and rate (docs/NETWORK.md):
 *
 *   time = compute + transfer + critical flights * one-way latency
 *
 *   compute   each layer's work at rates calibrated on this machine at
 *             loopback (predict_rates; scripts/calibrate-compute fits them
 *             from bench-networks runs): HE linear layers per multiply-
 *             accumulate, OT linear layers per byte of their COTs, non-
 *             linear layers per byte (IKNP) or per silent COT consumed;
 *   transfer  per layer, each direction's bytes over its own rate (the
 *             client's over the uplink, the server's over the downlink),
 *             the busier of the two (a link's directions are independent
 *             and the protocols send both ways at once), but the two added
 *             in HE's linear layers, which take turns (the client's
 *             ciphertexts, then the server's answer); the silent COTs'
 *             batches where the flight model makes them;
 *   latency   the cost model's critical flights times half the round trip.
 *
 * The three add up, as if nothing overlapped: a bound on a quiet machine
 * more than an estimate, and the parts say which one to attack. */
#ifndef PARLEY_NN_PREDICT_H
#define PARLEY_NN_PREDICT_H

#include "nn/cost.h"

/* Seconds per unit of work, for one backend and lane count. */
typedef struct predict_rates {
    const char *source; /* where the figures come from (machine, date, runs) */
    double he_mac;      /* HE conv/fc/scale: per multiply-accumulate */
    double ot_lin_byte; /* OT conv/fc/scale: per byte of traffic */
    double nl_byte;     /* non-linear layers: per byte of traffic ... */
    double nl_cot;      /* ... plus per silent COT consumed (silent only) */
} predict_rates;

/* The calibrated rates of an OT backend (OT_BACKEND_*) at `lanes` lanes:
 * the figures were measured with 2 lanes on 2 cores; other lane counts
 * reuse them (compute does not scale past the cores). */
const predict_rates *predict_rates_for(int backend, unsigned lanes);

/* Multiply-accumulates of a CONV, FC or SCALE layer (0 for the others). */
uint64_t predict_layer_macs(const qnet *net, const qlayer *L);

typedef struct predict_net {
    double rtt_ms; /* round trip, ms (>= 0) */
    double up;     /* client to server, 10^6 bytes/s; 0 = unlimited */
    double down;   /* server to client, likewise */
} predict_net;

typedef struct predict_time {
    double compute, transfer, latency, total; /* seconds */
    double *layer;                            /* each layer's total (mem_free) */
} predict_time;

/* Predict the inference (exec_infer: input sharing to reveal; not the
 * set-up) of net for the report r that cost_predict made with options o.
 * 0 or PARLEY_E_NOMEM. */
int predict_time_of(predict_time *t, const cost_report *r, const qnet *net, const cost_opts *o,
                    const predict_net *n) WUR;
void predict_time_free(predict_time *t);

/* "R,B" (round trip ms, MB/s each way), "R,U,D" (round trip, MB/s up, the
 * client's direction, and down) or a preset: loopback (0, 0), lan (0.8,
 * 377), wan (80, 40): CrypTFlow2's settings. 0 or PARLEY_E_ARG. */
int predict_net_parse(predict_net *n, const char *s) WUR;

#endif
