/* ONNX backend test cases for any interpreter of a qnet.
 *
 * A case is a directory with model.onnx and test_data_set_0/ holding
 * input_<k>.pb and output_0.pb (serialized TensorProtos), as in ONNX's own
 * test data (/usr/share/libonnx-testdata/data/node/..., .../pytorch-
 * converted/...). input_0 is the client's input; the later inputs (ONNX's
 * node tests pass weights that way) are bound to the model's other graph
 * inputs as constants, in order.
 *
 * conf_check runs an interpreter on the encoded input and compares its
 * output with the expected float output within conf_error_bound: a
 * rigorous bound on what fixed point can lose against exact arithmetic
 * (rounding of the input, weights, biases and constants to 2^-s and 2^-2s,
 * floor truncation and floor division), propagated layer by layer from the
 * reference's own values, plus 1e-5 relative for the float32 arithmetic of
 * the expected outputs. A second interpreter (the secure executor) plugs in
 * as another conf_interp and should also equal the reference bit for bit. */
#ifndef PARLEY_TESTS_CONF_H
#define PARLEY_TESTS_CONF_H

#include "nn/qnet.h"

typedef struct conf_case {
    qnet *net;        /* with weights */
    nn_tensor input;  /* input_0 */
    nn_tensor expect; /* output_0 */
    uint64_t *x;      /* input encoded at (l, s) */
} conf_case;

/* Load `dir` at ring width l and scale s. Import errors come back as the
 * importer's status and message (the conformance list uses them to check
 * that skipped cases fail for the documented reason). */
int conf_load(conf_case *c, const char *dir, unsigned l, unsigned s);
void conf_free(conf_case *c);

/* An interpreter: *out (output size elements, the caller's to mem_free). */
typedef int (*conf_interp)(void *ctx, uint64_t **out, const qnet *net, const uint64_t *x);
int conf_interp_ref(void *ctx, uint64_t **out, const qnet *net, const uint64_t *x);

/* Bound (real units) on |output - exact output| for this input. */
int conf_error_bound(double *bound, const qnet *net, const uint64_t *x);

/* Run `f` and compare. 0 if every element is within the bound (ArgMax
 * indices: equal); PARLEY_E_MISMATCH with a message naming the first bad
 * element otherwise. maxerr/bound (may be NULL) report the figures. */
int conf_check(const conf_case *c, conf_interp f, void *ctx, double *maxerr, double *bound);

/* Both interpreters' outputs equal, element for element. */
int conf_same(const qnet *net, const uint64_t *a, const uint64_t *b);

#endif
