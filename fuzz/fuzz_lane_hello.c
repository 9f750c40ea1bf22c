/* Fuzz the lane hello parser: any bytes give ok or PARLEY_E_PROTO, and an
 * accepted hello re-encodes to the same bytes. */
#include "net/lanes.h"

#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    lane_hello h;
    int rc = lane_hello_parse(&h, data, size);
    if (rc == 0) {
        uint8_t again[LANE_HELLO_BYTES];
        lane_hello_encode(again, &h);
        if (size != LANE_HELLO_BYTES || memcmp(again, data, size) != 0 || h.index >= h.count)
            abort();
    } else if (rc != PARLEY_E_PROTO) {
        abort();
    }
    return 0;
}
