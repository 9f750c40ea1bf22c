/* Model loading; see model.h. */
#include "nn/model.h"

#include "util/mem.h"

int nn_model_load_opts(qnet **out, char **notes, const char *path, const nn_model_opts *mo) {
    *out = NULL;
    if (notes) *notes = NULL;
    onnx_opts o = {.batch = mo->batch};
    fgraph *g;
    TRY(onnx_import_file(&g, path, &o));
    int rc = quant_net(out, g, mo->l, mo->s, mo->wbits);
    if (rc == 0 && (rc = quant_precision_notes(g, mo->s)) < 0) {
        qnet_free(*out);
        *out = NULL;
    }
    if (rc < 0) rc = err_wrap(rc, "%s", path);
    if (notes && rc == 0) {
        *notes = g->notes;
        g->notes = NULL;
    }
    fgraph_free(g);
    return rc;
}

int nn_model_load(qnet **out, char **notes, const char *path, unsigned l, unsigned s,
                  unsigned batch) {
    nn_model_opts o = {.l = l, .s = s, .batch = batch};
    return nn_model_load_opts(out, notes, path, &o);
}
