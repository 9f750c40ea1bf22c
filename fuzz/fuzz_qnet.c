/* Fuzz the public-model decoder (what a client reads from the server): any
 * bytes give a net that passes qnet_check or a clean format error; an
 * accepted message re-encodes to the same bytes. */
#include "nn/qnet.h"
#include "util/mem.h"

#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    qnet *net;
    int rc = qnet_public_decode(&net, data, size);
    if (rc < 0) {
        if (rc != PARLEY_E_FORMAT && rc != PARLEY_E_NOMEM) abort();
        return 0;
    }
    if (net->has_weights) abort();
    uint8_t *b;
    size_t len;
    if (qnet_public_encode(net, &b, &len) < 0) abort();
    if (len != size || memcmp(b, data, size) != 0) abort();
    qnet_stats st;
    qnet_stats_get(&st, net);
    mem_free(b);
    qnet_free(net);
    return 0;
}
