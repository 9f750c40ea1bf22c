/* Model loading; see model.h. */
#include "nn/model.h"

#include "util/mem.h"

/* Quantize an imported graph (freed here); `what` names the model in
 * messages. */
static int from_graph(qnet **out, char **notes, fgraph *g, const char *what,
                      const nn_model_opts *mo) {
    int rc = quant_net(out, g, mo->l, mo->s, mo->wbits);
    if (rc == 0 && (rc = quant_precision_notes(g, mo->s)) < 0) {
        qnet_free(*out);
        *out = NULL;
    }
    if (rc < 0) rc = err_wrap(rc, "%s", what);
    if (notes && rc == 0) {
        *notes = g->notes;
        g->notes = NULL;
    }
    fgraph_free(g);
    return rc;
}

int nn_model_load_opts(qnet **out, char **notes, const char *path, const nn_model_opts *mo) {
    *out = NULL;
    if (notes) *notes = NULL;
    onnx_opts o = {.batch = mo->batch};
    fgraph *g;
    TRY(onnx_import_file(&g, path, &o));
    return from_graph(out, notes, g, path, mo);
}

int nn_model_load_buf(qnet **out, char **notes, const uint8_t *buf, size_t len,
                      const nn_model_opts *mo) {
    *out = NULL;
    if (notes) *notes = NULL;
    onnx_opts o = {.batch = mo->batch};
    fgraph *g;
    int rc = onnx_import(&g, buf, len, &o);
    if (rc < 0) return err_wrap(rc, "the ONNX model in memory");
    return from_graph(out, notes, g, "the ONNX model in memory", mo);
}

int nn_model_load(qnet **out, char **notes, const char *path, unsigned l, unsigned s,
                  unsigned batch) {
    nn_model_opts o = {.l = l, .s = s, .batch = batch};
    return nn_model_load_opts(out, notes, path, &o);
}
