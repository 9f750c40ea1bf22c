/* What the files of the public API (include/parley.h) share: the model
 * handle, option structs that grow by their size field, tensors between
 * the API's type and nn's, and the guard that keeps SIGPIPE out of a call.
 * Nothing here is exported; only PARLEY_API functions leave libparley.so. */
#ifndef PARLEY_API_API_H
#define PARLEY_API_API_H

#include "parley.h"

#include "nn/qnet.h"
#include "nn/tensor.h"

#include <signal.h>

struct parley_model {
    qnet *net; /* with weights */
    char *notes;
    char *path; /* the ONNX file, for other batches (NULL: loaded from bytes) */
    parley_model_opts o;
};

/* m's model at another batch (its file loaded again; a model loaded from
 * bytes has none). *net is the caller's (qnet_free). */
int api_model_at_batch(qnet **net, const parley_model *m, unsigned batch) WUR;

/* The server's start-up check (parley_server_opts.calibration): each of
 * the n samples runs through the checked reference (parley_plain's) at m's
 * (l, s) and its own batch; a value that wraps around is PARLEY_E_RANGE
 * naming the sample (names[k], may be NULL), the layer and the bits it is
 * out by, and the (l, s) parley_calibrate recommends on the samples
 * (src/api/calibrate.c). */
int api_check_samples(const parley_model *m, const parley_tensor *x, unsigned n,
                      const char *const *names) WUR;

/* Copy a caller's options struct (its first field is its size) over dst,
 * which holds the defaults: the caller's fields that this library knows;
 * fields it does not know must be zero (else PARLEY_E_UNSUPPORTED). A size
 * of 0 is PARLEY_E_ARG naming `what` and its init function. */
int api_opts_in(void *dst, size_t dsz, const void *src, const char *what) WUR;
/* Copy a filled result struct to the caller's, as far as its size field
 * says (keeping that field). */
int api_struct_out(void *dst, const void *src, size_t ssz, const char *what) WUR;

/* A view of a caller's input tensor as nn's (data borrowed), its shape and
 * count checked; what names it in messages. */
int api_tensor_in(nn_tensor *x, const parley_tensor *in, const char *what) WUR;
/* Fill an output tensor from n ring values of the net's output (or, with
 * label, the n labels). The tensor must be {0} or freed. */
int api_tensor_out(parley_tensor *y, const qnet *net, int label, const uint64_t *v,
                   size_t n) WUR;
/* The output tensor's argument check ({0} or freed, not NULL). */
int api_tensor_out_check(const parley_tensor *y, const char *what) WUR;

/* SIGPIPE blocked for a call, and discarded if the call raised it. */
typedef struct api_sigpipe {
    sigset_t old;
    int pending_before;
} api_sigpipe;
void api_sigpipe_block(api_sigpipe *g);
void api_sigpipe_restore(api_sigpipe *g);

#endif
