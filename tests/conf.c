/* ONNX backend test cases; see conf.h. */
#include "conf.h"

#include "nn/kind.h"
#include "nn/onnx/onnx.h"
#include "nn/quant.h"
#include "nn/ref.h"
#include "onnx.pb-c.h"
#include "util/bits.h"
#include "util/mem.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

static int load_pb(nn_tensor *t, const char *dir, const char *file) {
    char path[4096];
    snprintf(path, sizeof path, "%s/test_data_set_0/%s", dir, file);
    uint8_t *buf;
    size_t len;
    TRY(nn_read_file(&buf, &len, path, (size_t)1 << 30));
    int rc = onnx_tensor_parse(t, buf, len);
    mem_free(buf);
    return rc < 0 ? err_wrap(rc, "%s", path) : 0;
}

/* Names of the graph inputs that are not initializers, in order. */
static int input_names(char names[][128], unsigned *n, const uint8_t *buf, size_t len) {
    *n = 0;
    Onnx__ModelProto *mp = onnx__model_proto__unpack(NULL, len, buf);
    if (!mp || !mp->graph) {
        if (mp) onnx__model_proto__free_unpacked(mp, NULL);
        return err_set(PARLEY_E_FORMAT, "model does not parse");
    }
    const Onnx__GraphProto *g = mp->graph;
    for (size_t i = 0; i < g->n_input && *n < 8; i++) {
        int init = 0;
        for (size_t k = 0; k < g->n_initializer; k++)
            init |= strcmp(g->initializer[k]->name ? g->initializer[k]->name : "",
                           g->input[i]->name) == 0;
        if (!init) snprintf(names[(*n)++], 128, "%s", g->input[i]->name);
    }
    onnx__model_proto__free_unpacked(mp, NULL);
    return 0;
}

int conf_load(conf_case *c, const char *dir, unsigned l, unsigned s) {
    memset(c, 0, sizeof *c);
    char path[4096], names[8][128];
    unsigned nin;
    uint8_t *buf;
    size_t len;
    snprintf(path, sizeof path, "%s/model.onnx", dir);
    TRY(nn_read_file(&buf, &len, path, ONNX_MAX_FILE));
    int rc = input_names(names, &nin, buf, len);
    nn_tensor extra[8] = {0};
    onnx_const consts[8];
    unsigned nconst = 0;
    if (rc == 0 && nin >= 1) rc = load_pb(&c->input, dir, "input_0.pb");
    for (unsigned k = 1; k < nin && rc == 0; k++) {
        char f[32];
        snprintf(f, sizeof f, "input_%u.pb", k);
        rc = load_pb(&extra[k], dir, f);
        consts[nconst].name = names[k];
        consts[nconst++].value = &extra[k];
    }
    if (rc == 0) rc = load_pb(&c->expect, dir, "output_0.pb");
    fgraph *g = NULL;
    onnx_opts o = {.batch = c->input.shape.rank ? c->input.shape.d[0] : 1,
                   .consts = consts,
                   .nconsts = nconst};
    if (rc == 0) rc = onnx_import(&g, buf, len, &o);
    if (rc == 0) rc = quant_net(&c->net, g, l, s, 0);
    fgraph_free(g);
    mem_free(buf);
    for (unsigned k = 0; k < 8; k++)
        nn_tensor_free(&extra[k]);
    if (rc == 0) {
        c->x = mem_alloc(c->net->t[c->net->input].size, sizeof *c->x);
        rc = c->x ? qnet_encode_input(c->net, c->x, &c->input) : PARLEY_E_NOMEM;
    }
    if (rc < 0) conf_free(c);
    return rc;
}

void conf_free(conf_case *c) {
    qnet_free(c->net);
    nn_tensor_free(&c->input);
    nn_tensor_free(&c->expect);
    mem_free(c->x);
    memset(c, 0, sizeof *c);
}

int conf_interp_ref(void *ctx, uint64_t **out, const qnet *net, const uint64_t *x) {
    (void)ctx;
    return ref_run(net, out, NULL, x);
}

static double max_abs(const uint64_t *v, size_t n, unsigned l, unsigned scale) {
    int64_t m = 0;
    for (size_t i = 0; i < n; i++) {
        int64_t a = bits_signed(v[i], l);
        if (a < 0) a = -a;
        if (a > m) m = a;
    }
    return ldexp((double)m, -(int)scale);
}

int conf_error_bound(double *bound, const qnet *net, const uint64_t *x) {
    double *e = mem_calloc(net->ntensors, sizeof *e), *mx = mem_calloc(net->ntensors, sizeof *mx);
    qstore st;
    int rc = e && mx ? qstore_init(&st, net) : PARLEY_E_NOMEM;
    if (rc < 0) {
        mem_free(e);
        mem_free(mx);
        return rc;
    }
    unsigned l = net->l, s = net->s;
    double dw = ldexp(1.0, -(int)s - 1); /* rounding at scale s */
    uint64_t *in;
    rc = qstore_out(&st, &in, net->input);
    if (rc == 0) {
        memcpy(in, x, net->t[net->input].size * sizeof *in);
        e[net->input] = dw;
        mx[net->input] = max_abs(in, net->t[net->input].size, l, s);
    }
    for (unsigned i = 0; i < net->nlayers && rc == 0; i++) {
        const qlayer *L = &net->layers[i];
        if ((rc = ref_layer(net, &st, i)) < 0) break;
        const qtensor *Y = &net->t[L->out];
        unsigned xi = L->nin ? L->in[0] : 0, y = L->out;
        double ex = L->nin ? e[xi] : 0, xm = L->nin ? mx[xi] : 0;
        mx[y] = max_abs(st.buf[y], Y->size, l, Y->scale);
        double K = 1;
        switch (L->op) {
        case QOP_CONV:
            K = (double)(L->p.lin.conv.C / L->p.lin.conv.groups) * L->p.lin.conv.kh *
                L->p.lin.conv.kw;
            /* fall through */
        case QOP_FC:
            if (L->op == QOP_FC) K = L->p.lin.fc.K;
            /* fall through */
        case QOP_SCALE: {
            size_t nw, nb;
            qlayer_private(net, L, &nw, &nb);
            double wm = max_abs(L->w, nw, l, s);
            e[y] = K * (wm * ex + dw * (xm + ex)) + ldexp(1.0, -2 * (int)s - 1);
            break;
        }
        case QOP_TRUNC:
        case QOP_RELU_TRUNC:
        case QOP_AVGPOOL:
            e[y] = ex + ldexp(1.0, -(int)Y->scale);
            break;
        case QOP_ADD:
            e[y] = ex + e[L->in[1]];
            break;
        case QOP_ADDC:
        case QOP_BN_RELU: /* its addend rounded, then a 1-Lipschitz ReLU (of +-z) */
            e[y] = ex + ldexp(1.0, -(int)Y->scale - 1);
            break;
        case QOP_CONST:
            e[y] = dw;
            break;
        case QOP_CONCAT:
            e[y] = 0;
            for (unsigned k = 0; k < L->nin; k++)
                e[y] = fmax(e[y], e[L->in[k]]);
            break;
        case QOP_ARGMAX:
            e[y] = 0;
            break;
        case QOP_SUMPOOL: /* a sum of kh x kw errors */
            e[y] = ex * L->p.pool.kh * L->p.pool.kw;
            break;
        case QOP_CLIP: /* 1-Lipschitz; each bound rounds by half a unit */
        case QOP_LEAKY_RELU:
        case QOP_HARD_SIGMOID: {
            /* |alpha| times the input's error, alpha's rounding times |x|,
             * the floor, and beta's and the bounds' rounding. */
            double u = ldexp(1.0, -(int)Y->scale);
            double a = L->op == QOP_CLIP ? 1
                                         : fabs((double)bits_signed(nl_act_get(L->p.act.alpha), l)) /
                                               ldexp(1.0, (int)L->p.act.shift);
            e[y] = fmax(a, 1) * ex + u / 2;
            if (L->op != QOP_CLIP) e[y] += xm * ldexp(1.0, -(int)s - 1) + u + u / 2;
            break;
        }
        case QOP_HARD_SWISH: /* slope at most 3/2, then the division's floor */
            e[y] = 1.5 * ex + ldexp(1.0, -(int)Y->scale);
            break;
        case QOP_SIGMOID: /* 1/4-Lipschitz, then nl/act2.h's bound */
            e[y] = ex / 4 + 1.7e-5 + 1.91 * ldexp(1.0, -(int)Y->scale);
            break;
        case QOP_TANH: /* 1-Lipschitz, then nl/act2.h's bound */
            e[y] = ex + 3.3e-5 + 1.70 * ldexp(1.0, -(int)Y->scale);
            break;
        case QOP_EXP: /* 1-Lipschitz on x <= 0, then nl/act2.h's bound */
            e[y] = ex + 1.2e-4 + 1.75 * ldexp(1.0, -(int)Y->scale);
            break;
        case QOP_SOFTMAX: { /* each output moves at most half the inputs' error */
            size_t o, cols, inn;
            qkind_softmax_geom(&net->t[xi].shape, &L->p, &o, &cols, &inn);
            e[y] = ex / 2 + 2.5e-4 + ((double)cols + 4) * 1.75 * ldexp(1.0, -(int)Y->scale);
            break;
        }
        case QOP_MUL: {
            /* x0 x1 - t0 t1 = x0 (x1 - t1) + t1 (x0 - t0), then the floor. */
            double e1 = e[L->in[1]], m1 = mx[L->in[1]];
            e[y] = xm * e1 + (m1 + e1) * ex + ldexp(1.0, -(int)Y->scale);
            break;
        }
        case QOP_RESIZE_LINEAR: {
            /* Coefficients summing to 1, each of the (at most 4) rounded
             * by half a unit at s: sum |w_q| <= 1 + 4 dw, sum |w_q - w| <= 4 dw. */
            e[y] = (1 + 4 * dw) * ex + 4 * dw * (xm + ex);
            break;
        }
        default:
            e[y] = ex;
            break; /* relu, maxpool, data movement: 1-Lipschitz */
        }
        qstore_done(&st, i);
    }
    if (rc == 0) *bound = e[net->output];
    qstore_free(&st);
    mem_free(e);
    mem_free(mx);
    return rc;
}

int conf_check(const conf_case *c, conf_interp f, void *ctx, double *maxerr, double *bound) {
    const qnet *net = c->net;
    const qtensor *T = &net->t[net->output];
    char a[96], b[96];
    if (c->expect.n != T->size || c->expect.shape.rank != T->shape.rank)
        return err_set(PARLEY_E_MISMATCH, "output shape %s, expected %s",
                       nn_shape_str(a, sizeof a, &T->shape),
                       nn_shape_str(b, sizeof b, &c->expect.shape));
    double bd;
    TRY(conf_error_bound(&bd, net, c->x));
    uint64_t *out;
    TRY(f(ctx, &out, net, c->x));
    float *y = mem_alloc(T->size, sizeof *y);
    if (!y) {
        mem_free(out);
        return PARLEY_E_NOMEM;
    }
    qnet_decode(net, y, net->output, out);
    double worst = 0;
    int rc = 0;
    for (size_t i = 0; i < T->size && rc == 0; i++) {
        double ex = c->expect.data[i], d = fabs((double)y[i] - ex);
        if (d > worst) worst = d;
        if (d > bd + 1e-5 * fmax(1.0, fabs(ex)))
            rc = err_set(PARLEY_E_MISMATCH, "element %zu: %.8g, expected %.8g (bound %.3g)", i,
                         (double)y[i], ex, bd);
    }
    mem_free(y);
    mem_free(out);
    if (maxerr) *maxerr = worst;
    if (bound) *bound = bd;
    return rc;
}

int conf_same(const qnet *net, const uint64_t *a, const uint64_t *b) {
    return memcmp(a, b, net->t[net->output].size * sizeof *a) == 0;
}
