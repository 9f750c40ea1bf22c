/* Loading a model for either interpreter: ONNX file -> float graph ->
 * quantized net, with the importer's notes handed back for the user. */
#ifndef PARLEY_NN_MODEL_H
#define PARLEY_NN_MODEL_H

#include "nn/onnx/onnx.h"
#include "nn/quant.h"

/* batch: size of a symbolic dimension 0 of the model's input (0 means 1).
 * notes (may be NULL) gets the importer's notes (NULL if none), the
 * caller's to mem_free. Errors name the file and the node. */
int nn_model_load(qnet **out, char **notes, const char *path, unsigned l, unsigned s,
                  unsigned batch) WUR;

#endif
