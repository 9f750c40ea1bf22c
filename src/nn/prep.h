/* A model's input-independent work, made once when the server loads it,
 * before any client connects (docs/PROTOCOLS.md §7, "Weights made ready
 * before the input"). HE mode: the weight polynomials of the linear layers
 * in the NTT domain (lin_he_wcache), as many layers as a memory cap allows,
 * the most CPU saved per byte first; the others are transformed during the
 * inference as without it. The session's back-end reads them through
 * lin_use_prepared (server_cfg.lin_prepared). */
#ifndef PARLEY_NN_PREP_H
#define PARLEY_NN_PREP_H

#include "lin/he/lin_he.h"
#include "nn/qnet.h"

/* The default cap of the HE weight cache, MiB (parley serve / run
 * --he-weight-cache, parley_server_opts.he_weight_cache_mib): SqueezeNet
 * 1.1's whole cache fits; ResNet50's and DenseNet121's are much larger
 * (docs/BENCHMARKS.md) and fill it with their best layers. */
#define PREP_HE_CACHE_MIB_DEFAULT 512

typedef struct prep_stats {
    uint64_t total;      /* bytes caching every linear layer would take */
    uint64_t bytes;      /* bytes cached (<= the cap) */
    unsigned layers;     /* linear layers HE computes (not the SCALEs run over OT) */
    unsigned cached;     /* of them, in the cache */
    double ns_total;     /* estimated server CPU per inference of all the transforms, ns */
    double ns_saved;     /* of it, what the cache saves */
    double seconds;      /* making it */
} prep_stats;

/* The HE weight cache of net (with weights) within cap bytes (0: *out =
 * NULL, nothing made; st still gets the totals). The plans are those of
 * a session over net (its l, its linear layers' outputs declared). */
int prep_he_wcache(const qnet *net, uint64_t cap, lin_he_wcache **out, prep_stats *st) WUR;

#endif
