/* Fuzz the .npy reader: any bytes give a tensor or a clean format error; an
 * accepted file re-encodes (as float32) to a file that reads back to the
 * same values, bit for bit. */
#include "nn/npy.h"
#include "util/mem.h"

#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    nn_tensor t, u;
    int rc = npy_parse(&t, data, size);
    if (rc < 0) {
        if (rc != PARLEY_E_FORMAT && rc != PARLEY_E_UNSUPPORTED && rc != PARLEY_E_NOMEM) abort();
        return 0;
    }
    uint8_t *buf;
    size_t len;
    if (npy_encode_f32(&buf, &len, &t.shape, t.data) < 0) abort();
    if (npy_parse(&u, buf, len) < 0) abort();
    if (!nn_shape_eq(&t.shape, &u.shape) || t.n != u.n || memcmp(t.data, u.data, t.n * 4) != 0)
        abort();
    mem_free(buf);
    nn_tensor_free(&t);
    nn_tensor_free(&u);
    return 0;
}
