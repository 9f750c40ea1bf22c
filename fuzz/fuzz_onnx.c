/* Fuzz the ONNX importer and the quantizer: any bytes give a graph or a
 * clean error; an accepted graph quantizes or fails cleanly; a quantized
 * net's public model encodes, decodes and re-encodes to the same bytes; a
 * small one runs in the reference. */
#include "nn/onnx/onnx.h"
#include "nn/quant.h"
#include "nn/ref.h"
#include "util/mem.h"

#include <stdlib.h>
#include <string.h>

static void check_rc(int rc) {
    if (rc > 0 || (rc < 0 && rc != PARLEY_E_FORMAT && rc != PARLEY_E_UNSUPPORTED &&
                   rc != PARLEY_E_NOMEM && rc != PARLEY_E_ARG))
        abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    fgraph *g;
    int rc = onnx_import(&g, data, size, NULL);
    check_rc(rc);
    if (rc < 0) return 0;
    qnet *net;
    rc = quant_net(&net, g, 37, 12, 0);
    check_rc(rc);
    fgraph_free(g);
    if (rc < 0) return 0;
    uint8_t *a, *b;
    size_t alen, blen;
    qnet *pub;
    if (qnet_public_encode(net, &a, &alen) < 0) abort();
    if (qnet_public_decode(&pub, a, alen) < 0) abort();
    if (qnet_public_encode(pub, &b, &blen) < 0) abort();
    if (alen != blen || memcmp(a, b, alen) != 0) abort();
    qnet_stats st;
    qnet_stats_get(&st, net);
    if (st.macs < 1000000 && st.peak_elems < 1000000 && net->t[net->input].size < 100000) {
        uint64_t *x = mem_calloc(net->t[net->input].size, sizeof *x), *y;
        if (x && ref_run(net, &y, NULL, x) == 0) mem_free(y);
        mem_free(x);
    }
    mem_free(a);
    mem_free(b);
    qnet_free(pub);
    qnet_free(net);
    return 0;
}
