/* The public API (include/parley.h): options, tensors, models, their
 * description and the plaintext reference. Loading is nn/model's, the
 * description nn/cost's (what `parley inspect` prints), the reference
 * nn/ref's. */
#include "api/api.h"

#include "net/frame.h"
#include "net/link.h"
#include "nl/plain.h"
#include "he/he.h"
#include "mpc/party.h"
#include "nn/cost.h"
#include "nn/hello.h"
#include "nn/model.h"
#include "nn/npy.h"
#include "nn/predict.h"
#include "nn/quant.h"
#include "nn/ref.h"
#include "nn/session.h"
#include "ot/lane.h"
#include "util/mem.h"

#include <math.h>
#include <pthread.h>
#include <string.h>
#include <time.h>

/* ---- shared helpers ---- */

int api_opts_in(void *dst, size_t dsz, const void *src, const char *what) {
    size_t sz;
    memcpy(&sz, src, sizeof sz);
    if (sz < sizeof sz)
        return err_set(PARLEY_E_ARG,
                       "%s: its size field is %zu; initialise it with %s_init (or set size to "
                       "sizeof the struct)",
                       what, sz, what);
    if (sz > dsz) {
        const unsigned char *extra = (const unsigned char *)src + dsz;
        for (size_t i = 0; i < sz - dsz; i++)
            if (extra[i])
                return err_set(PARLEY_E_UNSUPPORTED,
                               "%s: the program sets fields this library (%s) does not know", what,
                               PARLEY_VERSION_STRING);
        sz = dsz;
    }
    memcpy((char *)dst + sizeof sz, (const char *)src + sizeof sz, sz - sizeof sz);
    memcpy(dst, &dsz, sizeof dsz);
    return 0;
}

int api_struct_out(void *dst, const void *src, size_t ssz, const char *what) {
    size_t sz;
    memcpy(&sz, dst, sizeof sz);
    if (sz < sizeof sz)
        return err_set(PARLEY_E_ARG, "%s: set its size field to sizeof(%s) before the call", what,
                       what);
    if (sz > ssz) sz = ssz;
    memcpy((char *)dst + sizeof sz, (const char *)src + sizeof sz, sz - sizeof sz);
    return 0;
}

int api_tensor_in(nn_tensor *x, const parley_tensor *in, const char *what) {
    memset(x, 0, sizeof *x);
    if (!in) return err_set(PARLEY_E_ARG, "%s is NULL", what);
    if (in->rank > PARLEY_MAX_RANK)
        return err_set(PARLEY_E_ARG, "%s has rank %u, more than %d", what, in->rank,
                       PARLEY_MAX_RANK);
    x->shape.rank = in->rank;
    for (unsigned i = 0; i < in->rank; i++)
        x->shape.d[i] = in->shape[i];
    size_t n;
    int rc = nn_shape_check(&n, &x->shape);
    if (rc < 0) return err_wrap(rc, "%s", what);
    if (in->count && in->count != n)
        return err_set(PARLEY_E_ARG, "%s: count is %zu, its shape holds %zu elements", what,
                       in->count, n);
    if (!in->data) return err_set(PARLEY_E_ARG, "%s has no data (data is NULL)", what);
    x->n = n;
    x->data = in->data;
    return 0;
}

int api_tensor_out_check(const parley_tensor *y, const char *what) {
    if (!y) return err_set(PARLEY_E_ARG, "%s is NULL", what);
    if (y->data || y->ring)
        return err_set(PARLEY_E_ARG,
                       "%s already holds data: initialise it to {0} or parley_tensor_free it",
                       what);
    return 0;
}

int api_tensor_out(parley_tensor *y, const qnet *net, int label, const uint64_t *v, size_t n) {
    const qtensor *ot = &net->t[net->output];
    memset(y, 0, sizeof *y);
    nn_shape sh = ot->shape;
    if (label && sh.rank) sh.d[sh.rank - 1] = 1; /* one index per row */
    if (nn_shape_count(&sh) != n)
        return err_set(PARLEY_E_PROTO, "the output has %zu values, its shape holds %zu", n,
                       nn_shape_count(&sh));
    y->data = mem_alloc(n ? n : 1, sizeof *y->data);
    y->ring = mem_alloc(n ? n : 1, sizeof *y->ring);
    if (!y->data || !y->ring) {
        mem_free(y->data);
        mem_free(y->ring);
        memset(y, 0, sizeof *y);
        return PARLEY_E_NOMEM;
    }
    y->rank = sh.rank;
    for (unsigned i = 0; i < sh.rank; i++)
        y->shape[i] = sh.d[i];
    y->count = n;
    unsigned l = net->l;
    for (size_t i = 0; i < n; i++) {
        uint64_t u = v[i];
        y->ring[i] = label || l == 64 ? (int64_t)u : (int64_t)(u << (64 - l)) >> (64 - l);
    }
    if (label) {
        for (size_t i = 0; i < n; i++)
            y->data[i] = (float)v[i];
        y->scale = 0;
    } else {
        qnet_decode(net, y->data, net->output, v);
        y->scale = ot->scale;
    }
    return 0;
}

void api_sigpipe_block(api_sigpipe *g) {
    sigset_t ss, pend;
    sigemptyset(&ss);
    sigaddset(&ss, SIGPIPE);
    sigemptyset(&pend);
    sigpending(&pend);
    g->pending_before = sigismember(&pend, SIGPIPE) == 1;
    pthread_sigmask(SIG_BLOCK, &ss, &g->old);
}

void api_sigpipe_restore(api_sigpipe *g) {
    sigset_t ss, pend;
    sigemptyset(&ss);
    sigaddset(&ss, SIGPIPE);
    sigemptyset(&pend);
    if (!g->pending_before && sigpending(&pend) == 0 && sigismember(&pend, SIGPIPE) == 1) {
        struct timespec zero = {0, 0};
        (void)sigtimedwait(&ss, NULL, &zero); /* ours: discard it */
    }
    pthread_sigmask(SIG_SETMASK, &g->old, NULL);
}

/* ---- version, tensors ---- */

const char *parley_version(void) { return PARLEY_VERSION_STRING; }

void parley_tensor_free(parley_tensor *t) {
    if (!t) return;
    if (t->data) mem_free_wipe(t->data, t->count * sizeof *t->data);
    if (t->ring) mem_free_wipe(t->ring, t->count * sizeof *t->ring);
    memset(t, 0, sizeof *t);
}

int parley_tensor_load_npy(parley_tensor *t, const char *path) {
    TRY(api_tensor_out_check(t, "the tensor"));
    if (!path) return err_set(PARLEY_E_ARG, "the path is NULL");
    nn_tensor x;
    TRY(npy_load(&x, path));
    memset(t, 0, sizeof *t);
    t->rank = x.shape.rank;
    for (unsigned i = 0; i < x.shape.rank; i++)
        t->shape[i] = x.shape.d[i];
    t->count = x.n;
    t->data = x.data; /* mem_alloc'd: parley_tensor_free */
    return 0;
}

int parley_tensor_save_npy(const parley_tensor *t, const char *path) {
    if (!path) return err_set(PARLEY_E_ARG, "the path is NULL");
    nn_tensor x;
    TRY(api_tensor_in(&x, t, "the tensor"));
    return npy_save_f32(path, &x.shape, x.data);
}

/* ---- models ---- */

void parley_model_opts_init(parley_model_opts *o) {
    if (!o) return;
    memset(o, 0, sizeof *o);
    o->size = sizeof *o;
    o->bits = 37;
    o->scale = 12;
    o->wbits = 0;
    o->batch = 1;
    o->mode = PARLEY_MODE_OT;
    o->ot = PARLEY_OT_SILENT;
    o->threads = 2;
    o->reveal = PARLEY_REVEAL_LOGITS;
    o->leaves = PARLEY_LEAVES_COT;
}

/* The options, checked, each bad one named. */
static int model_opts(parley_model_opts *o, const parley_model_opts *in) {
    parley_model_opts_init(o);
    if (in) TRY(api_opts_in(o, sizeof *o, in, "parley_model_opts"));
    if (o->bits < 8 || o->bits > 64)
        return err_set(PARLEY_E_ARG, "bits (the ring width l) is %u: it must be 8..64", o->bits);
    if (o->scale < 1 || o->scale > 31)
        return err_set(PARLEY_E_ARG, "scale (s) is %u: it must be 1..31", o->scale);
    if (2 * o->scale + 2 > o->bits)
        return err_set(PARLEY_E_ARG,
                       "scale %u is too large for bits %u: 2 x scale + 2 must be at most bits",
                       o->scale, o->bits);
    if (o->wbits > o->bits)
        return err_set(PARLEY_E_ARG, "wbits is %u: it must be 1..bits (%u), or 0 for the default",
                       o->wbits, o->bits);
    if (o->batch > 65536)
        return err_set(PARLEY_E_ARG, "batch is %u: at most 65536", o->batch);
    if (o->mode != PARLEY_MODE_OT && o->mode != PARLEY_MODE_HE)
        return err_set(PARLEY_E_ARG, "mode is %d: PARLEY_MODE_OT or PARLEY_MODE_HE", o->mode);
    if (o->ot != PARLEY_OT_IKNP && o->ot != PARLEY_OT_SILENT)
        return err_set(PARLEY_E_ARG, "ot is %d: PARLEY_OT_SILENT or PARLEY_OT_IKNP", o->ot);
    if (o->threads < 1 || o->threads > LANES_MAX)
        return err_set(PARLEY_E_ARG, "threads is %u: it must be 1..%d", o->threads, LANES_MAX);
    if (o->reveal != PARLEY_REVEAL_LOGITS && o->reveal != PARLEY_REVEAL_LABEL)
        return err_set(PARLEY_E_ARG, "reveal is %d: PARLEY_REVEAL_LOGITS or PARLEY_REVEAL_LABEL",
                       o->reveal);
    if (o->leaves != PARLEY_LEAVES_COT && o->leaves != PARLEY_LEAVES_VOLE4)
        return err_set(PARLEY_E_ARG, "leaves is %d: PARLEY_LEAVES_COT or PARLEY_LEAVES_VOLE4",
                       o->leaves);
    if (o->leaves == PARLEY_LEAVES_VOLE4 && o->ot != PARLEY_OT_SILENT)
        return err_set(PARLEY_E_ARG,
                       "leaves is PARLEY_LEAVES_VOLE4, which needs ot = PARLEY_OT_SILENT");
    return 0;
}

/* The API's values are the internal ones; checked here once. */
_Static_assert((int)PARLEY_MODE_OT == (int)MODE_OT && (int)PARLEY_MODE_HE == (int)MODE_HE, "modes");
_Static_assert((int)PARLEY_OT_IKNP == (int)OT_BACKEND_IKNP &&
                   (int)PARLEY_OT_SILENT == (int)OT_BACKEND_SILENT,
               "ot");
_Static_assert((int)PARLEY_REVEAL_LOGITS == (int)REVEAL_LOGITS &&
                   (int)PARLEY_REVEAL_LABEL == (int)REVEAL_LABEL,
               "reveal");
_Static_assert((int)PARLEY_LEAVES_COT == (int)LEAVES_COT &&
                   (int)PARLEY_LEAVES_VOLE4 == (int)LEAVES_VOLE4,
               "leaves");
_Static_assert(PARLEY_MAX_RANK == NN_MAX_RANK, "rank");
_Static_assert(PARLEY_MAX_THREADS == LANES_MAX, "threads");
_Static_assert(PARLEY_MAX_BATCH == HELLO_MAX_BATCH, "batch");
_Static_assert(PARLEY_MIN_STASH == LINK_MAX_STASH_MIN, "stash");

int parley_check_ring(unsigned bits, unsigned scale) {
    return quant_check_ls(bits, scale);
}

/* The loader's options for m at a batch. */
static nn_model_opts loader_opts(const parley_model_opts *o, unsigned batch) {
    return (nn_model_opts){.l = o->bits, .s = o->scale, .batch = batch ? batch : 1,
                           .wbits = o->wbits};
}

int api_model_at_batch(qnet **net, const parley_model *m, unsigned batch) {
    *net = NULL;
    if (!m->path)
        return err_set(PARLEY_E_UNSUPPORTED, "a model loaded from bytes serves only its own batch");
    nn_model_opts mo = loader_opts(&m->o, batch);
    return nn_model_load_opts(net, NULL, m->path, &mo);
}

static int model_load(parley_model **m, const char *path, const void *buf, size_t len,
                      const parley_model_opts *in) {
    if (!m) return err_set(PARLEY_E_ARG, "the model pointer (m) is NULL");
    *m = NULL;
    parley_model_opts o;
    TRY(model_opts(&o, in));
    parley_model *md = mem_calloc(1, sizeof *md);
    if (!md) return PARLEY_E_NOMEM;
    md->o = o;
    nn_model_opts mo = loader_opts(&o, o.batch);
    if (path) {
        size_t n = strlen(path) + 1;
        if (!(md->path = mem_alloc(n, 1))) {
            mem_free(md);
            return PARLEY_E_NOMEM;
        }
        memcpy(md->path, path, n);
    }
    int rc = path ? nn_model_load_opts(&md->net, &md->notes, path, &mo)
                  : nn_model_load_buf(&md->net, &md->notes, buf, len, &mo);
    if (rc < 0) {
        parley_model_free(md);
        return rc;
    }
    *m = md;
    return 0;
}

int parley_model_load(parley_model **m, const char *onnx_path, const parley_model_opts *o) {
    if (!onnx_path) {
        if (m) *m = NULL;
        return err_set(PARLEY_E_ARG, "the model's path (onnx_path) is NULL");
    }
    return model_load(m, onnx_path, NULL, 0, o);
}

int parley_model_load_bytes(parley_model **m, const void *onnx, size_t len,
                            const parley_model_opts *o) {
    if (!onnx || !len) {
        if (m) *m = NULL;
        return err_set(PARLEY_E_ARG, "the model's bytes are %s", onnx ? "empty (len 0)" : "NULL");
    }
    return model_load(m, NULL, onnx, len, o);
}

void parley_model_free(parley_model *m) {
    if (!m) return;
    qnet_free(m->net);
    mem_free(m->notes);
    mem_free(m->path);
    mem_free(m);
}

const char *parley_model_notes(const parley_model *m) {
    return m && m->notes ? m->notes : "";
}

static void shape_out(unsigned *rank, uint32_t *d, const nn_shape *s) {
    *rank = s->rank;
    for (unsigned i = 0; i < s->rank; i++)
        d[i] = s->d[i];
}

int parley_link_parse(parley_link *l, const char *spec) {
    if (!l) return err_set(PARLEY_E_ARG, "the link pointer is NULL");
    if (!spec) return err_set(PARLEY_E_ARG, "the link's spec is NULL");
    predict_net n;
    TRY(predict_net_parse(&n, spec));
    l->rtt_ms = n.rtt_ms;
    l->mbytes_per_s = n.up == n.down ? n.up : 0;
    l->up_mbytes_per_s = n.up == n.down ? 0 : n.up;
    l->down_mbytes_per_s = n.up == n.down ? 0 : n.down;
    return 0;
}

void parley_prediction_free(parley_prediction *p) {
    if (!p) return;
    mem_free(p->layer_bytes);
    mem_free(p->layer_flights);
    mem_free(p->layer_cots);
    mem_free(p->layer_seconds);
    memset(p, 0, sizeof *p);
}

/* A copy of n values (NULL for none), into *out. */
static int copy_u64(uint64_t **out, const uint64_t *v, unsigned n) {
    *out = mem_alloc(n ? n : 1, sizeof **out);
    if (!*out) return PARLEY_E_NOMEM;
    for (unsigned i = 0; i < n; i++)
        (*out)[i] = v ? v[i] : 0;
    return 0;
}

static int prediction_fill(parley_prediction *p, const parley_model *m, int mode,
                           const cost_report *r, const cost_opts *co, const parley_link *link) {
    p->supported = 1;
    p->bytes = r->total + r->gen;
    p->server_sent_bytes = r->sent[MPC_SERVER];
    p->client_sent_bytes = r->sent[MPC_CLIENT];
    p->setup_bytes = r->setup;
    p->critical_flights = r->flights;
    p->input_bytes = r->input;
    p->linear_bytes = r->linear;
    p->nonlinear_bytes = r->nonlinear;
    p->label_bytes = r->label;
    p->reveal_bytes = r->reveal;
    p->cots = r->cots;
    p->cot_making_bytes = r->gen;
    if (mode == MODE_HE) {
        p->returned_coefficients = r->he_outputs;
        p->statistical_bits = r->he_stat_bits;
        p->computational_bits = HE_COMP_BITS;
        p->he_ring_n = HE_N;
        p->he_log2_q = he_params_get()->log2Q;
    }
    unsigned n = m->net->nlayers;
    p->nlayers = n;
    TRY(copy_u64(&p->layer_bytes, r->layer, n));
    TRY(copy_u64(&p->layer_flights, r->layer_flights, n));
    TRY(copy_u64(&p->layer_cots, r->layer_cots, n));
    if (!link) return 0;
    predict_net pn = {
        .rtt_ms = link->rtt_ms,
        .up = link->up_mbytes_per_s > 0 ? link->up_mbytes_per_s : link->mbytes_per_s,
        .down = link->down_mbytes_per_s > 0 ? link->down_mbytes_per_s : link->mbytes_per_s,
    };
    predict_time t;
    memset(&t, 0, sizeof t);
    int rc = predict_time_of(&t, r, m->net, co, &pn);
    if (rc == 0) {
        p->timed = 1;
        p->seconds = t.total;
        p->compute_seconds = t.compute;
        p->transfer_seconds = t.transfer;
        p->latency_seconds = t.latency;
        p->layer_seconds = mem_alloc(n ? n : 1, sizeof *p->layer_seconds);
        if (!p->layer_seconds) rc = PARLEY_E_NOMEM;
        for (unsigned i = 0; rc == 0 && i < n; i++)
            p->layer_seconds[i] = t.layer ? t.layer[i] : 0;
    }
    predict_time_free(&t);
    return rc;
}

/* A link's figure: finite and not negative (NaN fails both). */
static int link_ok(double v) {
    return v >= 0 && isfinite(v);
}

int parley_model_predict(const parley_model *m, int mode, const parley_link *link,
                         parley_prediction *p) {
    if (!p) return err_set(PARLEY_E_ARG, "the prediction pointer (p) is NULL");
    memset(p, 0, sizeof *p);
    if (!m) return err_set(PARLEY_E_ARG, "the model (m) is NULL");
    if (mode != PARLEY_MODE_OT && mode != PARLEY_MODE_HE)
        return err_set(PARLEY_E_ARG, "mode is %d: PARLEY_MODE_OT or PARLEY_MODE_HE", mode);
    if (link && (!link_ok(link->rtt_ms) || !link_ok(link->mbytes_per_s) ||
                 !link_ok(link->up_mbytes_per_s) || !link_ok(link->down_mbytes_per_s)))
        return err_set(PARLEY_E_ARG, "the link's round trip and rates must be finite, 0 or more");
    cost_opts co = {.mode = mode,
                    .lanes = m->o.threads,
                    .reveal_label = m->o.reveal == PARLEY_REVEAL_LABEL,
                    .ot = m->o.ot,
                    .vole4 = cost_session_vole4(m->o.ot, (unsigned)m->o.leaves)};
    cost_report r;
    memset(&r, 0, sizeof r);
    int rc = cost_predict(&r, m->net, &co);
    if (rc == PARLEY_E_UNSUPPORTED) { /* a fact about the model, not a failure */
        snprintf(p->why, sizeof p->why, "%s", err_msg());
        rc = 0;
    } else if (rc == 0) {
        rc = prediction_fill(p, m, mode, &r, &co, link);
    }
    cost_report_free(&r);
    if (rc < 0) parley_prediction_free(p);
    return rc;
}

/* One mode's prediction in brief, or why the mode cannot run the model. */
static int predict(parley_cost *c, const parley_model *m, int mode) {
    memset(c, 0, sizeof *c);
    parley_prediction p;
    TRY(parley_model_predict(m, mode, NULL, &p));
    c->supported = p.supported;
    snprintf(c->why, sizeof c->why, "%s", p.why);
    c->bytes = p.bytes;
    c->setup_bytes = p.setup_bytes;
    c->critical_flights = p.critical_flights;
    c->statistical_bits = p.statistical_bits;
    parley_prediction_free(&p);
    return 0;
}

/* The description, with the predictions (the costly part) if predicted. */
static int describe(const parley_model *m, parley_model_info *info, int predicted) {
    if (!m) return err_set(PARLEY_E_ARG, "the model (m) is NULL");
    if (!info) return err_set(PARLEY_E_ARG, "the info pointer is NULL");
    parley_model_info d;
    memset(&d, 0, sizeof d);
    d.size = sizeof d;
    const qnet *net = m->net;
    d.layers = net->nlayers;
    d.bits = net->l;
    d.scale = net->s;
    shape_out(&d.input_rank, d.input_shape, &net->t[net->input].shape);
    shape_out(&d.output_rank, d.output_shape, &net->t[net->output].shape);
    qnet_stats st;
    qnet_stats_get(&st, net);
    d.params = st.weights;
    d.macs = st.macs;
    d.relus = st.relus;
    uint8_t *pub = NULL;
    size_t plen = 0;
    TRY(qnet_public_encode(net, &pub, &plen));
    mem_free(pub);
    d.public_model_bytes = plen;
    d.input_name = net->t[net->input].name ? net->t[net->input].name : "";
    d.output_name = net->t[net->output].name ? net->t[net->output].name : "";
    d.ot_memory = session_ot_memory(net, (unsigned)m->o.mode, m->o.threads, (unsigned)m->o.reveal,
                                    (unsigned)m->o.ot, (unsigned)m->o.leaves);
    if (predicted) {
        TRY(predict(&d.ot, m, MODE_OT));
        TRY(predict(&d.he, m, MODE_HE));
    }
    return api_struct_out(info, &d, sizeof d, "parley_model_info");
}

int parley_model_describe(const parley_model *m, parley_model_info *info) {
    return describe(m, info, 1);
}

int parley_model_describe_brief(const parley_model *m, parley_model_info *info) {
    return describe(m, info, 0);
}

int parley_model_layer(const parley_model *m, unsigned i, parley_layer_info *info) {
    if (!m) return err_set(PARLEY_E_ARG, "the model (m) is NULL");
    if (!info) return err_set(PARLEY_E_ARG, "the info pointer is NULL");
    if (i >= m->net->nlayers)
        return err_set(PARLEY_E_ARG, "layer %u: the model has %u layers (0..%u)", i,
                       m->net->nlayers, m->net->nlayers - 1);
    const qlayer *L = &m->net->layers[i];
    parley_layer_info d;
    memset(&d, 0, sizeof d);
    d.size = sizeof d;
    d.kind = qop_name(L->op);
    d.name = L->name ? L->name : "";
    shape_out(&d.rank, d.shape, &m->net->t[L->out].shape);
    qnet_stats st;
    qlayer_stats(&st, m->net, L);
    d.macs = st.macs;
    d.relus = st.relus;
    return api_struct_out(info, &d, sizeof d, "parley_layer_info");
}

/* The input against the model's: a clear message naming both shapes. */
static int check_input_shape(const qnet *net, const nn_tensor *x) {
    const nn_shape *want = &net->t[net->input].shape;
    if (nn_shape_eq(want, &x->shape)) return 0;
    char a[128], b[128];
    return err_set(PARLEY_E_ARG, "the input has shape %s, the model expects %s",
                   nn_shape_str(a, sizeof a, &x->shape), nn_shape_str(b, sizeof b, want));
}

int parley_plain(const parley_model *m, const parley_tensor *input, parley_tensor *output) {
    if (!m) return err_set(PARLEY_E_ARG, "the model (m) is NULL");
    TRY(api_tensor_out_check(output, "the output tensor"));
    nn_tensor x;
    TRY(api_tensor_in(&x, input, "the input tensor"));
    const qnet *net = m->net;
    TRY(check_input_shape(net, &x));
    size_t nin = net->t[net->input].size;
    uint64_t *xq = mem_alloc(nin, sizeof *xq), *y = NULL, *lab = NULL;
    if (!xq) return PARLEY_E_NOMEM;
    int rc = qnet_encode_input(net, xq, &x);
    if (rc == 0) rc = ref_run_checked(net, &y, xq);
    mem_free_wipe(xq, nin * sizeof *xq);
    if (rc < 0) return rc;
    const qtensor *ot = &net->t[net->output];
    size_t n = ot->size;
    int label = m->o.reveal == PARLEY_REVEAL_LABEL;
    if (label) { /* what the secure run appends: ArgMax over the last axis */
        size_t cols = ot->shape.rank ? ot->shape.d[ot->shape.rank - 1] : 1;
        n = ot->size / cols;
        lab = mem_alloc(n, sizeof *lab);
        if (!lab) rc = PARLEY_E_NOMEM;
        else nl_argmax_plain(lab, y, n, cols, net->l);
    }
    if (rc == 0) rc = api_tensor_out(output, net, label, label ? lab : y, n);
    mem_free_wipe(y, ot->size * sizeof *y);
    if (lab) mem_free_wipe(lab, n * sizeof *lab);
    return rc;
}
