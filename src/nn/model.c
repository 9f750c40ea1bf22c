/* Model loading; see model.h. */
#include "nn/model.h"

#include "util/mem.h"

int nn_model_load(qnet **out, char **notes, const char *path, unsigned l, unsigned s,
                  unsigned batch) {
    *out = NULL;
    if (notes) *notes = NULL;
    onnx_opts o = {.batch = batch};
    fgraph *g;
    TRY(onnx_import_file(&g, path, &o));
    int rc = quant_net(out, g, l, s);
    if (rc < 0) rc = err_wrap(rc, "%s", path);
    if (notes && rc == 0) {
        *notes = g->notes;
        g->notes = NULL;
    }
    fgraph_free(g);
    return rc;
}
