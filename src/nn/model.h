/* Loading a model for either interpreter: ONNX file -> float graph ->
 * quantized net, with the importer's notes handed back for the user. */
#ifndef PARLEY_NN_MODEL_H
#define PARLEY_NN_MODEL_H

#include "nn/onnx/onnx.h"
#include "nn/quant.h"

typedef struct nn_model_opts {
    unsigned l, s;  /* ring width and scale */
    unsigned batch; /* size of a symbolic dimension 0 of the model's input (0 means 1) */
    unsigned wbits; /* the public weight width (nn/quant.h); 0: the policy quant_wbits(l, s) */
} nn_model_opts;

/* notes (may be NULL) gets the importer's notes (NULL if none), the
 * caller's to mem_free. Errors name the file and the node. */
int nn_model_load_opts(qnet **out, char **notes, const char *path, const nn_model_opts *o) WUR;
/* The same from an ONNX model's bytes in memory (not kept). */
int nn_model_load_buf(qnet **out, char **notes, const uint8_t *buf, size_t len,
                      const nn_model_opts *o) WUR;
/* The same with the default wbits. */
int nn_model_load(qnet **out, char **notes, const char *path, unsigned l, unsigned s,
                  unsigned batch) WUR;

#endif
