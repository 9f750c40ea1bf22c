/* Tensor shapes and float tensors: what the ONNX importer, the .npy reader
 * and the quantizer exchange.
 *
 * A shape has rank 0..NN_MAX_RANK; every dimension is at least 1 (parley
 * has no empty tensors) and the element count is capped at NN_MAX_ELEMS, so
 * any size computed from a checked shape fits in size_t with room for 8-byte
 * elements. Dimension 0 is the batch dimension wherever a layer cares (NCHW
 * for convolutions and pools). Data is row-major (C order). */
#ifndef PARLEY_NN_TENSOR_H
#define PARLEY_NN_TENSOR_H

#include "util/err.h"

#include <stddef.h>
#include <stdint.h>

#define NN_MAX_RANK 8
#define NN_MAX_ELEMS ((size_t)1 << 28) /* 2 GiB of ring elements */

typedef struct nn_shape {
    unsigned rank;
    uint32_t d[NN_MAX_RANK];
} nn_shape;

/* Check the shape (rank, dims >= 1, count <= NN_MAX_ELEMS) and give its
 * element count. PARLEY_E_ARG with a message naming the shape. */
int nn_shape_check(size_t *count, const nn_shape *s) WUR;
/* Element count of a checked shape (1 for rank 0). */
size_t nn_shape_count(const nn_shape *s);
int nn_shape_eq(const nn_shape *a, const nn_shape *b);
/* Numpy broadcasting of a and b (trailing dimensions aligned, each pair
 * equal or one of them 1): 0 and *out, or -1 if they do not broadcast. */
int nn_shape_broadcast(nn_shape *out, const nn_shape *a, const nn_shape *b);
/* The index in a tensor of shape `from` (which broadcasts to `to`) of the
 * element that lands at index i of `to`. */
size_t nn_broadcast_index(const nn_shape *from, const nn_shape *to, size_t i);
/* "[1,3,224,224]" (cut to the buffer). */
const char *nn_shape_str(char *buf, size_t cap, const nn_shape *s);

/* A float tensor; `data` is owned (mem_alloc) and released by nn_tensor_free. */
typedef struct nn_tensor {
    nn_shape shape;
    size_t n;
    float *data;
} nn_tensor;

/* Allocate an uninitialised tensor of a shape (checked). */
int nn_tensor_alloc(nn_tensor *t, const nn_shape *s) WUR;
void nn_tensor_free(nn_tensor *t);

/* Whole-file I/O with a size cap; the buffer is the caller's to mem_free.
 * PARLEY_E_IO naming the path, PARLEY_E_FORMAT if the file exceeds `max`. */
int nn_read_file(uint8_t **buf, size_t *len, const char *path, size_t max) WUR;
/* Write through a temporary file and rename, so a reader never sees half a
 * file. */
int nn_write_file(const char *path, const void *buf, size_t len) WUR;

#endif
