/* NumPy .npy files: parley's own reader and writer.
 *
 * Reading accepts format versions 1.0, 2.0 and 3.0, C order, and the dtypes
 * float32/float64, int8/16/32/64, uint8/16/32/64 and bool in either byte
 * order; values become float. Every byte of the header is checked: the
 * magic, the version, a header length that fits the file, a dict literal
 * with exactly the keys 'descr', 'fortran_order' and 'shape' (each once),
 * only spaces and one final newline after it, dimensions >= 1 within
 * nn_shape's limits, and a data section of exactly the announced size.
 * Anything else is PARLEY_E_FORMAT (or PARLEY_E_UNSUPPORTED for a valid
 * file parley does not take, such as Fortran order or complex numbers) with
 * a message naming the problem.
 *
 * Writing produces version 1.0, dtype '<f4', with the header padded to 64
 * bytes as NumPy does; the same shape and values give the same bytes. */
#ifndef PARLEY_NN_NPY_H
#define PARLEY_NN_NPY_H

#include "nn/tensor.h"

#define NPY_MAX_FILE ((size_t)1 << 32)

/* Parse a whole .npy file held in memory. On success `out` owns its data. */
int npy_parse(nn_tensor *out, const uint8_t *buf, size_t len) WUR;
int npy_load(nn_tensor *out, const char *path) WUR;

/* Encode float32 values of a shape; *buf is the caller's to mem_free. */
int npy_encode_f32(uint8_t **buf, size_t *len, const nn_shape *s, const float *data) WUR;
int npy_save_f32(const char *path, const nn_shape *s, const float *data) WUR;

#endif
