/* ONNX operators that become layers of the float graph: shapes inferred,
 * attributes checked, constants copied into the nodes. See onnx.h for the
 * list and docs/MODELS.md for the attributes. */
#include "nn/onnx/imp.h"

#include "util/mem.h"

#include <float.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

/* ---- spatial windows (Conv, pools) --------------------------------------- */

typedef struct window {
    unsigned k[2], st[2], dl[2], lo[2], hi[2];
} window;

static int read_list(imp *m, const char *name, unsigned n, unsigned def, unsigned min,
                     unsigned *out) {
    const int64_t *v;
    size_t cnt;
    TRY(imp_attr_ints(m, name, &v, &cnt));
    for (unsigned i = 0; i < n; i++)
        out[i] = def;
    if (!v) return 0;
    if (cnt != n)
        return imp_err(m, PARLEY_E_FORMAT, "attribute '%s' has %zu values, expected %u", name, cnt,
                       n);
    for (unsigned i = 0; i < n; i++) {
        if (v[i] < min || v[i] > MAX_ATTR_VALUE)
            return imp_err(m, PARLEY_E_UNSUPPORTED, "attribute %s[%u] = %lld is outside %u..%d",
                           name, i, (long long)v[i], min, MAX_ATTR_VALUE);
        out[i] = (unsigned)v[i];
    }
    return 0;
}

/* nsp spatial dims of sizes in[]; kernel from the weights (conv) or from
 * kernel_shape (pools). */
static int read_window(imp *m, window *w, unsigned nsp, const uint32_t *in, const uint32_t *kernel,
                       int dilations) {
    memset(w, 0, sizeof *w);
    unsigned ks[2];
    const Onnx__AttributeProto *a = imp_attr(m, "kernel_shape");
    if (a || !kernel) {
        if (!a) return imp_err(m, PARLEY_E_FORMAT, "attribute 'kernel_shape' is missing");
        TRY(read_list(m, "kernel_shape", nsp, 1, 1, ks));
        for (unsigned i = 0; kernel && i < nsp; i++)
            if (ks[i] != kernel[i])
                return imp_err(m, PARLEY_E_FORMAT, "kernel_shape does not match the weights");
    } else {
        for (unsigned i = 0; i < nsp; i++)
            ks[i] = kernel[i];
    }
    memcpy(w->k, ks, sizeof ks);
    TRY(read_list(m, "strides", nsp, 1, 1, w->st));
    if (dilations)
        TRY(read_list(m, "dilations", nsp, 1, 1, w->dl));
    else
        for (unsigned i = 0; i < nsp; i++)
            w->dl[i] = 1;
    unsigned pads[4];
    TRY(read_list(m, "pads", 2 * nsp, 0, 0, pads));
    for (unsigned i = 0; i < nsp; i++) {
        w->lo[i] = pads[i];
        w->hi[i] = pads[nsp + i];
    }
    char ap[32];
    TRY(imp_attr_s(m, "auto_pad", "NOTSET", ap, sizeof ap));
    if (strcmp(ap, "NOTSET") == 0 || ap[0] == 0) return 0;
    if (strcmp(ap, "VALID") == 0) {
        memset(w->lo, 0, sizeof w->lo);
        memset(w->hi, 0, sizeof w->hi);
        return 0;
    }
    int upper = strcmp(ap, "SAME_UPPER") == 0;
    if (!upper && strcmp(ap, "SAME_LOWER") != 0)
        return imp_err(m, PARLEY_E_UNSUPPORTED, "auto_pad '%s' is not supported", ap);
    for (unsigned i = 0; i < nsp; i++) {
        int64_t out = ((int64_t)in[i] + w->st[i] - 1) / w->st[i];
        int64_t ext = (int64_t)(w->k[i] - 1) * w->dl[i] + 1;
        int64_t total = (out - 1) * w->st[i] + ext - in[i];
        if (total < 0) total = 0;
        unsigned small = (unsigned)(total / 2), big = (unsigned)(total - total / 2);
        w->lo[i] = upper ? small : big;
        w->hi[i] = upper ? big : small;
    }
    return 0;
}

/* Expand constant c (numpy broadcasting, onto `to`) times `mul`. */
static int expand(imp *m, float **out, const ctensor *c, const nn_shape *to, double mul) {
    char a[96], b[96];
    if (c->shape.rank > to->rank) goto mismatch;
    unsigned off = to->rank - c->shape.rank;
    for (unsigned i = 0; i < c->shape.rank; i++)
        if (c->shape.d[i] != 1 && c->shape.d[i] != to->d[off + i]) goto mismatch;
    size_t n = nn_shape_count(to);
    float *f = mem_alloc(n, sizeof *f);
    if (!f) return PARLEY_E_NOMEM;
    uint32_t idx[NN_MAX_RANK] = {0};
    for (size_t i = 0; i < n; i++) {
        size_t ci = 0;
        for (unsigned d = 0; d < c->shape.rank; d++)
            ci = ci * c->shape.d[d] + (c->shape.d[d] == 1 ? 0 : idx[off + d]);
        f[i] = (float)(imp_const_f(c, ci) * mul);
        for (unsigned d = to->rank; d-- > 0;) {
            if (++idx[d] < to->d[d]) break;
            idx[d] = 0;
        }
    }
    *out = f;
    return 0;
mismatch:
    return imp_err(m, PARLEY_E_UNSUPPORTED, "constant of shape %s does not broadcast to %s",
                   imp_shp(a, sizeof a, &c->shape), imp_shp(b, sizeof b, to));
}

/* ---- operators ----------------------------------------------------------- */

/* Unless rc says an earlier step failed: a node of kind op from value x
 * into value y with the constants w and b (owned from here on: freed if
 * the node cannot be added; b may be NULL) and public parameters: `size`
 * bytes of a member of qparams (they all start at its first byte), the
 * rest zero. */
static int add_weighted(imp *m, int rc, qop op, unsigned x, unsigned y, const void *params,
                        size_t size, float *w, float *b) {
    fnode *n;
    if (rc == 0) rc = imp_add_node(m, &n, op, &x, 1, y);
    if (rc < 0) {
        mem_free(w);
        mem_free(b);
        return rc;
    }
    PARLEY_CHECK(size <= sizeof n->p);
    if (size) memcpy(&n->p, params, size); /* the node starts zeroed (fgraph_node) */
    n->w = w;
    n->b = b;
    return 0;
}

/* Conv and Gemm: the attributes allowed, a computed input, a constant
 * weight and an optional constant bias. */
static int weighted_inputs(imp *m, const char *const *ok, unsigned *x, const ctensor **W,
                           const ctensor **B) {
    TRY(imp_attrs_allowed(m, ok));
    *B = NULL;
    TRY(imp_in_value(m, 0, x));
    TRY(imp_in_const(m, 1, W));
    return imp_has_in(m, 2) ? imp_in_const(m, 2, B) : 0;
}

static int op_conv(imp *m) {
    static const char *const ok[] = {"auto_pad", "dilations", "group", "kernel_shape",
                                     "pads",     "strides",   NULL};
    unsigned x;
    const ctensor *W, *B;
    TRY(weighted_inputs(m, ok, &x, &W, &B));
    const nn_shape *xs = imp_vshape(m, x);
    char a[96], b[96];
    if (xs->rank == 5)
        return imp_err(m, PARLEY_E_UNSUPPORTED, "3-D convolutions are not supported");
    if (xs->rank != 3 && xs->rank != 4)
        return imp_err(m, PARLEY_E_UNSUPPORTED, "input %s is not N x C x H x W or N x C x W",
                       imp_shp(a, sizeof a, xs));
    if (W->shape.rank != xs->rank)
        return imp_err(m, PARLEY_E_FORMAT, "weights %s do not match the input %s",
                       imp_shp(a, sizeof a, &W->shape), imp_shp(b, sizeof b, xs));
    int64_t group;
    TRY(imp_attr_i_range(m, "group", 1, 1, xs->d[1], &group));
    unsigned O = W->shape.d[0], cg = W->shape.d[1], nsp = xs->rank - 2;
    if ((uint64_t)cg * (uint64_t)group != xs->d[1] || O % group)
        return imp_err(m, PARLEY_E_FORMAT,
                       "weights %s with group %lld do not fit %u input channels",
                       imp_shp(a, sizeof a, &W->shape), (long long)group, xs->d[1]);
    window w;
    TRY(read_window(m, &w, nsp, xs->d + 2, W->shape.d + 2, 1));
    lin_conv c = {.N = xs->d[0], .C = xs->d[1], .O = O, .groups = (unsigned)group, .wbits = 1};
    if (nsp == 2) {
        c.H = xs->d[2], c.W = xs->d[3];
        c.kh = w.k[0], c.kw = w.k[1], c.sh = w.st[0], c.sw = w.st[1], c.dh = w.dl[0],
        c.dw = w.dl[1];
        c.pt = w.lo[0], c.pl = w.lo[1], c.pb = w.hi[0], c.pr = w.hi[1];
    } else {
        c.H = 1, c.W = xs->d[2], c.kh = 1, c.kw = w.k[0], c.sh = 1, c.sw = w.st[0], c.dh = 1;
        c.dw = w.dl[0], c.pl = w.lo[0], c.pr = w.hi[0];
    }
    if (lin_conv_check(&c) < 0) return imp_err(m, PARLEY_E_UNSUPPORTED, "%s", err_msg());
    if (B && B->n != O)
        return imp_err(m, PARLEY_E_FORMAT, "bias has %zu elements for %u output channels", B->n, O);
    nn_shape ys = {.rank = xs->rank, .d = {c.N, O}};
    if (nsp == 2)
        ys.d[2] = c.OH, ys.d[3] = c.OW;
    else
        ys.d[2] = c.OW;
    /* Copy the constants first: binding the output may move the symbols. */
    float *wf = imp_const_floats(W), *bf = B ? imp_const_floats(B) : NULL;
    unsigned y = 0;
    int rc = wf && (bf || !B) ? imp_out_value(m, 0, &ys, &y) : PARLEY_E_NOMEM;
    return add_weighted(m, rc, QOP_CONV, x, y, &c, sizeof c, wf, bf);
}

/* An FC node from value x ([.., K]) with weights w (O x K, owned) and bias
 * b (O, owned, may be NULL) into value y. */
static int add_fc(imp *m, unsigned x, unsigned y, unsigned O, float *w, float *b) {
    const nn_shape *xs = imp_vshape(m, x);
    unsigned K = xs->d[xs->rank - 1];
    lin_fc f = {.N = (unsigned)(nn_shape_count(xs) / K), .K = K, .O = O, .wbits = 1};
    int rc = lin_fc_check(&f) < 0 ? imp_err(m, PARLEY_E_UNSUPPORTED, "%s", err_msg()) : 0;
    return add_weighted(m, rc, QOP_FC, x, y, &f, sizeof f, w, b);
}

static int add_transpose2(imp *m, unsigned x, unsigned *y, const char *suffix) {
    const nn_shape *xs = imp_vshape(m, x);
    nn_shape ts = {.rank = 2, .d = {xs->d[1], xs->d[0]}};
    fnode *n;
    TRY(fgraph_value(m->g, y, imp_gen_name(m, suffix), &ts));
    TRY(imp_add_node(m, &n, QOP_TRANSPOSE, &x, 1, *y));
    n->p.perm[0] = 1;
    n->p.perm[1] = 0;
    return 0;
}

static int op_gemm(imp *m) {
    static const char *const ok[] = {"alpha", "beta", "transA", "transB", "broadcast", NULL};
    unsigned a;
    const ctensor *B, *C;
    TRY(weighted_inputs(m, ok, &a, &B, &C));
    double alpha, beta;
    int64_t ta, tb;
    TRY(imp_attr_f(m, "alpha", 1.0, &alpha));
    TRY(imp_attr_f(m, "beta", 1.0, &beta));
    TRY(imp_attr_i_range(m, "transA", 0, 0, 1, &ta));
    TRY(imp_attr_i_range(m, "transB", 0, 0, 1, &tb));
    char s1[96], s2[96];
    if (imp_vshape(m, a)->rank != 2 || B->shape.rank != 2)
        return imp_err(m, PARLEY_E_FORMAT, "operands %s and %s are not matrices",
                       imp_shp(s1, sizeof s1, imp_vshape(m, a)), imp_shp(s2, sizeof s2, &B->shape));
    if (ta) TRY(add_transpose2(m, a, &a, "#transA"));
    unsigned M = imp_vshape(m, a)->d[0], K = imp_vshape(m, a)->d[1];
    unsigned N = tb ? B->shape.d[0] : B->shape.d[1], KB = tb ? B->shape.d[1] : B->shape.d[0];
    if (KB != K) return imp_err(m, PARLEY_E_FORMAT, "inner dimensions differ (%u and %u)", K, KB);
    float *w = mem_alloc((size_t)N * K, sizeof *w), *bias = NULL, *full = NULL;
    if (!w) return PARLEY_E_NOMEM;
    for (size_t o = 0; o < N; o++)
        for (size_t k = 0; k < K; k++)
            w[o * K + k] = (float)(alpha * imp_const_f(B, tb ? o * K + k : k * N + o));
    nn_shape ys = {.rank = 2, .d = {M, N}};
    if (C) {
        int rc = expand(m, &full, C, &ys, beta);
        if (rc < 0) {
            mem_free(w);
            return rc;
        }
        /* Rows all equal (C is [N], [1, N], a scalar, ...): a per-output bias. */
        int rows_equal = 1;
        for (size_t i = N; i < (size_t)M * N && rows_equal; i++)
            rows_equal = full[i] == full[i % N];
        if (rows_equal) {
            bias = full;
            full = NULL;
        }
    }
    unsigned y, f;
    int rc = 0;
    if (!full) {
        rc = imp_out_value(m, 0, &ys, &y);
        if (rc == 0) return add_fc(m, a, y, N, w, bias);
        mem_free(w);
        mem_free(bias);
        return rc;
    }
    /* A full-matrix C: FC, then add the constant. */
    rc = fgraph_value(m->g, &f, imp_gen_name(m, "#gemm"), &ys);
    if (rc == 0)
        rc = add_fc(m, a, f, N, w, NULL);
    else
        mem_free(w);
    if (rc == 0) rc = imp_out_value(m, 0, &ys, &y);
    return add_weighted(m, rc, QOP_ADDC, f, y, NULL, 0, full, NULL);
}

/* A TRANSPOSE of value x exchanging its last two dimensions into a new
 * value *y. */
static int add_swap_last(imp *m, unsigned x, unsigned *y, const char *suffix, int to_output) {
    nn_shape ts = *imp_vshape(m, x);
    unsigned r = ts.rank;
    uint32_t t = ts.d[r - 1];
    ts.d[r - 1] = ts.d[r - 2];
    ts.d[r - 2] = t;
    fnode *n;
    TRY(to_output ? imp_out_value(m, 0, &ts, y) : fgraph_value(m->g, y, imp_gen_name(m, suffix), &ts));
    TRY(imp_add_node(m, &n, QOP_TRANSPOSE, &x, 1, *y));
    for (unsigned d = 0; d < r; d++)
        n->p.perm[d] = d;
    n->p.perm[r - 1] = r - 2;
    n->p.perm[r - 2] = r - 1;
    return 0;
}

/* The constant operand of a MatMul as a matrix: rank 2, or rank 1 (a
 * vector), or leading dimensions all 1 (the same matrix for every batch).
 * *rows x *cols (a vector of K: K x 1 on the right, 1 x K on the left). */
static int matmul_const(imp *m, const ctensor *c, int right, unsigned *rows, unsigned *cols) {
    char s1[96];
    const nn_shape *cs = &c->shape;
    for (unsigned d = 0; d + 2 < cs->rank; d++)
        if (cs->d[d] != 1)
            return imp_err(m, PARLEY_E_UNSUPPORTED,
                           "the constant operand %s differs per batch (only one matrix for every "
                           "row, leading dimensions of 1, is a linear layer)",
                           imp_shp(s1, sizeof s1, cs));
    if (cs->rank == 0) return imp_err(m, PARLEY_E_FORMAT, "a scalar operand");
    if (cs->rank == 1) {
        *rows = right ? cs->d[0] : 1;
        *cols = right ? 1 : cs->d[0];
    } else {
        *rows = cs->d[cs->rank - 2];
        *cols = cs->d[cs->rank - 1];
    }
    return 0;
}

/* MatMul's output shape (numpy): the batch dimensions of the two operands
 * broadcast, then rows of a and columns of b, with the dimension a 1-D
 * operand was given dropped. */
static int matmul_shape(imp *m, nn_shape *ys, const nn_shape *as, const nn_shape *bs) {
    char s1[96], s2[96];
    nn_shape a = *as, b = *bs, ba = {0}, bb = {0}, bt;
    if (a.rank == 1) a = (nn_shape){.rank = 2, .d = {1, as->d[0]}};
    if (b.rank == 1) b = (nn_shape){.rank = 2, .d = {bs->d[0], 1}};
    ba.rank = a.rank - 2, bb.rank = b.rank - 2;
    memcpy(ba.d, a.d, ba.rank * sizeof *ba.d);
    memcpy(bb.d, b.d, bb.rank * sizeof *bb.d);
    if (a.d[a.rank - 1] != b.d[b.rank - 2] || nn_shape_broadcast(&bt, &ba, &bb) < 0 ||
        bt.rank + 2 > NN_MAX_RANK)
        return imp_err(m, PARLEY_E_FORMAT, "operands %s and %s do not multiply",
                       imp_shp(s1, sizeof s1, as), imp_shp(s2, sizeof s2, bs));
    *ys = bt;
    if (as->rank > 1) ys->d[ys->rank++] = a.d[a.rank - 2];
    if (bs->rank > 1) ys->d[ys->rank++] = b.d[b.rank - 1];
    return 0;
}

/* A RESHAPE of value v into the node's output when shapes differ, else v
 * is aliased... (the caller made v the output already when they agree). */
static int matmul_finish(imp *m, unsigned v, const nn_shape *ys) {
    unsigned y;
    fnode *n;
    TRY(imp_out_value(m, 0, ys, &y));
    return imp_add_node(m, &n, QOP_RESHAPE, &v, 1, y);
}

/* MatMul with one constant operand, a per-row linear map:
 *   X W   (W constant, K x O): FC on the last axis of X, any rank;
 *   A X   (A constant, M x K, X of rank >= 2: ... x K x N): TRANSPOSE of
 *         X's last two axes, FC with weights A, TRANSPOSE back; X of rank
 *         1: FC on it.
 * A 1-D operand and leading 1s of the constant follow numpy (a RESHAPE
 * when the FC's shape is not the output's). */
static int op_matmul(imp *m) {
    TRY(imp_attrs_allowed(m, (const char *const[]){NULL}));
    sym *A, *B;
    TRY(imp_in_sym(m, 0, &A));
    TRY(imp_in_sym(m, 1, &B));
    char s1[96];
    nn_shape ys;
    unsigned R, Cc;
    if (A->kind == SYM_VALUE && B->kind == SYM_CONST) {
        const nn_shape as = *imp_vshape(m, A->value);
        TRY(matmul_const(m, &B->c, 1, &R, &Cc));
        TRY(matmul_shape(m, &ys, &as, &B->c.shape));
        unsigned K = R, O = Cc;
        (void)s1;
        float *w = mem_alloc((size_t)O * K, sizeof *w);
        if (!w) return PARLEY_E_NOMEM;
        for (size_t o = 0; o < O; o++)
            for (size_t k = 0; k < K; k++)
                w[o * K + k] = (float)imp_const_f(&B->c, k * O + o);
        nn_shape fs = as; /* the FC's output: X with its last axis O */
        fs.d[fs.rank - 1] = O;
        unsigned x = A->value, y;
        int same = nn_shape_eq(&fs, &ys);
        int rc = same ? imp_out_value(m, 0, &ys, &y)
                      : fgraph_value(m->g, &y, imp_gen_name(m, "#fc"), &fs);
        if (rc < 0) {
            mem_free(w);
            return rc;
        }
        TRY(add_fc(m, x, y, O, w, NULL));
        return same ? 0 : matmul_finish(m, y, &ys);
    }
    if (A->kind == SYM_CONST && B->kind == SYM_VALUE) {
        /* Y = A X = (X^T A^T)^T: FC with weights A on X with its last two
         * axes exchanged. */
        const nn_shape bs = *imp_vshape(m, B->value);
        TRY(matmul_const(m, &A->c, 0, &R, &Cc));
        TRY(matmul_shape(m, &ys, &A->c.shape, &bs));
        unsigned M = R, t1, t2;
        float *w = imp_const_floats(&A->c); /* M x K, row-major */
        if (!w) return PARLEY_E_NOMEM;
        if (bs.rank == 1) { /* A x: the FC on the vector */
            nn_shape fs = {.rank = 1, .d = {M}};
            int same = nn_shape_eq(&fs, &ys);
            int rc = same ? imp_out_value(m, 0, &ys, &t2)
                          : fgraph_value(m->g, &t2, imp_gen_name(m, "#fc"), &fs);
            if (rc == 0) rc = add_fc(m, B->value, t2, M, w, NULL);
            else mem_free(w);
            if (rc < 0) return rc;
            return same ? 0 : matmul_finish(m, t2, &ys);
        }
        int rc = add_swap_last(m, B->value, &t1, "#xT", 0);
        nn_shape fs = *imp_vshape(m, t1);
        fs.d[fs.rank - 1] = M;
        if (rc == 0) rc = fgraph_value(m->g, &t2, imp_gen_name(m, "#fc"), &fs);
        if (rc == 0) rc = add_fc(m, t1, t2, M, w, NULL);
        else mem_free(w);
        if (rc < 0) return rc;
        nn_shape ts = fs; /* swapped back */
        ts.d[ts.rank - 1] = fs.d[fs.rank - 2];
        ts.d[ts.rank - 2] = M;
        int same = nn_shape_eq(&ts, &ys);
        unsigned t3;
        TRY(add_swap_last(m, t2, &t3, "#yT", same));
        return same ? 0 : matmul_finish(m, t3, &ys);
    }
    if (A->kind == SYM_CONST && B->kind == SYM_CONST)
        return imp_err(m, PARLEY_E_UNSUPPORTED, "a product of two constants is not supported");
    return imp_err(
        m, PARLEY_E_UNSUPPORTED,
        "exactly one operand must be a constant (a product of two computed tensors is not "
        "a linear layer with the server's weights)");
}

/* Shape of a legacy (opset < 7) broadcast operand, made numpy-style. */
static int legacy_broadcast(imp *m, const nn_shape *to, ctensor *c) {
    if (m->opset >= 7) return 0;
    int64_t bc, ax;
    TRY(imp_attr_i(m, "broadcast", 0, &bc));
    if (!bc || !imp_attr(m, "axis")) return 0;
    TRY(imp_attr_i(m, "axis", 0, &ax));
    unsigned a;
    TRY(imp_axis_norm(m, ax, to->rank, 0, &a));
    if (a + c->shape.rank > to->rank)
        return imp_err(m, PARLEY_E_FORMAT, "broadcast axis out of range");
    while (c->shape.rank < to->rank - a)
        c->shape.d[c->shape.rank++] = 1;
    return 0;
}

/* Add, Sub, Mul, Div with constants; Add of two computed tensors. */
/* Mul of two computed tensors: a MUL layer (the product, truncated back
 * to the operands' scale), numpy broadcasting between them. */
static int mul_values(imp *m, unsigned a, unsigned b) {
    const nn_shape *as = imp_vshape(m, a), *bs = imp_vshape(m, b);
    char s1[96], s2[96];
    nn_shape ys;
    if (nn_shape_broadcast(&ys, as, bs) < 0)
        return imp_err(m, PARLEY_E_UNSUPPORTED, "operands %s and %s do not broadcast",
                       imp_shp(s1, sizeof s1, as), imp_shp(s2, sizeof s2, bs));
    unsigned in[2] = {a, b}, y;
    fnode *n;
    TRY(imp_out_value(m, 0, &ys, &y));
    return imp_add_node(m, &n, QOP_MUL, in, 2, y);
}

static int op_arith(imp *m) {
    static const char *const ok[] = {"broadcast", "axis", "consumed_inputs", NULL};
    TRY(imp_attrs_allowed(m, ok));
    const char *op = m->node->op_type;
    sym *A, *B;
    TRY(imp_in_sym(m, 0, &A));
    TRY(imp_in_sym(m, 1, &B));
    char s1[96], s2[96];
    int add = strcmp(op, "Add") == 0, sub = strcmp(op, "Sub") == 0, mul = strcmp(op, "Mul") == 0;
    if (A->kind == SYM_VALUE && B->kind == SYM_VALUE && mul) return mul_values(m, A->value, B->value);
    if (A->kind == SYM_VALUE && B->kind == SYM_VALUE) {
        if (!add)
            return imp_err(m, PARLEY_E_UNSUPPORTED, "%s of two computed tensors is not supported",
                           op);
        const nn_shape *as = imp_vshape(m, A->value), *bs = imp_vshape(m, B->value);
        if (!nn_shape_eq(as, bs))
            return imp_err(m, PARLEY_E_UNSUPPORTED,
                           "operands %s and %s differ in shape (broadcasting between two computed "
                           "tensors is not supported)",
                           imp_shp(s1, sizeof s1, as), imp_shp(s2, sizeof s2, bs));
        unsigned in[2] = {A->value, B->value}, y;
        fnode *n;
        TRY(imp_out_value(m, 0, as, &y));
        return imp_add_node(m, &n, QOP_ADD, in, 2, y);
    }
    if (A->kind != SYM_VALUE && B->kind != SYM_VALUE) {
        ctensor a = A->c, b = B->c;
        return imp_fold_arith(m, &a, &b, add ? '+' : sub ? '-' : mul ? '*' : '/');
    }
    int const_first = A->kind == SYM_CONST;
    unsigned x = const_first ? B->value : A->value;
    ctensor c = const_first ? A->c : B->c;
    const nn_shape *xs = imp_vshape(m, x);
    TRY(legacy_broadcast(m, xs, &c));
    if ((sub || strcmp(op, "Div") == 0) && const_first)
        return imp_err(m, PARLEY_E_UNSUPPORTED, "%s with a constant first operand is not supported",
                       op);
    float *full;
    TRY(expand(m, &full, &c, xs, sub ? -1.0 : 1.0));
    unsigned y;
    int rc = imp_out_value(m, 0, xs, &y);
    if (rc < 0) goto fail;
    if (add || sub) return add_weighted(m, 0, QOP_ADDC, x, y, NULL, 0, full, NULL);
    /* Mul/Div: a per-channel (dimension 1) or scalar factor: a SCALE. */
    if (xs->rank < 2) {
        rc = imp_err(m, PARLEY_E_UNSUPPORTED, "%s needs a tensor with channels (rank >= 2)", op);
        goto fail;
    }
    size_t C = xs->d[1], per = nn_shape_count(xs) / xs->d[0] / C, total = nn_shape_count(xs);
    for (size_t i = 0; i < total; i++)
        if (full[i] != full[((i / per) % C) * per]) {
            rc =
                imp_err(m, PARLEY_E_UNSUPPORTED,
                        "%s by a constant that varies other than per channel is not supported", op);
            goto fail;
        }
    float *g = mem_alloc(C, sizeof *g), *beta = mem_calloc(C, sizeof *beta);
    if (!g || !beta) {
        mem_free(g);
        mem_free(beta);
        rc = PARLEY_E_NOMEM;
        goto fail;
    }
    for (size_t ch = 0; ch < C; ch++) {
        double v = full[ch * per];
        if (!mul && v == 0.0) {
            mem_free(g);
            mem_free(beta);
            rc = imp_err(m, PARLEY_E_UNSUPPORTED, "division by zero");
            goto fail;
        }
        g[ch] = (float)(mul ? v : 1.0 / v);
    }
    mem_free(full);
    lin_scale sc = {.N = xs->d[0], .C = (unsigned)C, .S = (unsigned)per, .wbits = 1};
    return add_weighted(m, 0, QOP_SCALE, x, y, &sc, sizeof sc, g, beta);
fail:
    mem_free(full);
    return rc;
}

static int op_batchnorm(imp *m) {
    static const char *const ok[] = {"epsilon",       "momentum",        "spatial", "is_test",
                                     "training_mode", "consumed_inputs", NULL};
    TRY(imp_attrs_allowed(m, ok));
    unsigned x;
    const ctensor *p[4];
    TRY(imp_in_value(m, 0, &x));
    for (unsigned k = 0; k < 4; k++)
        TRY(imp_in_const(m, k + 1, &p[k]));
    double eps;
    int64_t spatial, training;
    TRY(imp_attr_f(m, "epsilon", 1e-5, &eps));
    TRY(imp_attr_i(m, "spatial", 1, &spatial));
    TRY(imp_attr_i(m, "training_mode", 0, &training));
    if (training) return imp_err(m, PARLEY_E_UNSUPPORTED, "training mode is not supported");
    if (spatial != 1) return imp_err(m, PARLEY_E_UNSUPPORTED, "spatial = 0 is not supported");
    const nn_shape *xs = imp_vshape(m, x);
    if (xs->rank < 2) return imp_err(m, PARLEY_E_FORMAT, "input has no channel dimension");
    unsigned C = xs->d[1];
    for (unsigned k = 0; k < 4; k++)
        if (p[k]->n != C)
            return imp_err(m, PARLEY_E_FORMAT, "parameter %u has %zu elements for %u channels",
                           k + 1, p[k]->n, C);
    float *g = mem_alloc(C, sizeof *g), *b = mem_alloc(C, sizeof *b);
    if (!g || !b) {
        mem_free(g);
        mem_free(b);
        return PARLEY_E_NOMEM;
    }
    for (unsigned c = 0; c < C; c++) {
        double var = imp_const_f(p[3], c) + eps;
        if (!(var > 0)) {
            mem_free(g);
            mem_free(b);
            return imp_err(m, PARLEY_E_UNSUPPORTED,
                           "variance + epsilon of channel %u is not positive", c);
        }
        double ga = imp_const_f(p[0], c) / sqrt(var);
        g[c] = (float)ga;
        b[c] = (float)(imp_const_f(p[1], c) - ga * imp_const_f(p[2], c));
    }
    unsigned y = 0;
    int rc = imp_out_value(m, 0, xs, &y);
    lin_scale sc = {
        .N = xs->d[0], .C = C, .S = (unsigned)(nn_shape_count(xs) / xs->d[0] / C), .wbits = 1};
    TRY(add_weighted(m, rc, QOP_SCALE, x, y, &sc, sizeof sc, g, b));
    return imp_outs_unavailable(m, 1, "a training-mode statistic of BatchNormalization");
}

int imp_elementwise(imp *m, qop k) {
    TRY(imp_attrs_allowed(m, (const char *const[]){"consumed_inputs", NULL}));
    unsigned x, y;
    fnode *n;
    TRY(imp_in_value(m, 0, &x));
    TRY(imp_out_value(m, 0, imp_vshape(m, x), &y));
    return imp_add_node(m, &n, k, &x, 1, y);
}

/* An activation with public real constants c (quantized with the net). */
static int activation(imp *m, qop k, const double *c, unsigned nc) {
    unsigned x, y;
    fnode *n;
    TRY(imp_in_value(m, 0, &x));
    TRY(imp_out_value(m, 0, imp_vshape(m, x), &y));
    TRY(imp_add_node(m, &n, k, &x, 1, y));
    for (unsigned i = 0; i < nc; i++)
        n->c[i] = c[i];
    return 0;
}

/* A scalar constant input k (a one-element tensor), or def when absent. */
static int scalar_in(imp *m, unsigned k, double def, double *v) {
    *v = def;
    if (!imp_has_in(m, k)) return 0;
    const ctensor *c;
    TRY(imp_in_const(m, k, &c));
    if (c->n != 1) return imp_err(m, PARLEY_E_UNSUPPORTED, "input %u must be one constant", k);
    *v = imp_const_f(c, 0);
    if (!isfinite(*v)) return imp_err(m, PARLEY_E_UNSUPPORTED, "input %u is not finite", k);
    return 0;
}

/* Clip: bounds as attributes (opset < 11) or constant inputs; an absent
 * bound is +-FLT_MAX, left out by the quantizer. */
static int op_clip(imp *m) {
    double c[2];
    if (m->opset < 11) {
        TRY(imp_attrs_allowed(m, (const char *const[]){"min", "max", "consumed_inputs", NULL}));
        TRY(imp_attr_f(m, "min", -FLT_MAX, &c[0]));
        TRY(imp_attr_f(m, "max", FLT_MAX, &c[1]));
    } else {
        TRY(imp_attrs_allowed(m, (const char *const[]){NULL}));
        TRY(scalar_in(m, 1, -FLT_MAX, &c[0]));
        TRY(scalar_in(m, 2, FLT_MAX, &c[1]));
    }
    if (c[0] > c[1]) return imp_err(m, PARLEY_E_UNSUPPORTED, "min %g exceeds max %g", c[0], c[1]);
    return activation(m, QOP_CLIP, c, 2);
}

static int op_leaky_relu(imp *m) {
    TRY(imp_attrs_allowed(m, (const char *const[]){"alpha", "consumed_inputs", NULL}));
    double a;
    TRY(imp_attr_f(m, "alpha", 0.01, &a));
    return activation(m, QOP_LEAKY_RELU, &a, 1);
}

/* PRelu with a constant slope: one value for every channel (any shape
 * that broadcasts, all elements equal) is a LeakyRelu. Slopes that differ
 * by channel (dimension 1): a SCALE by alpha of x plus a SCALE by 1 - alpha
 * of relu(x), added at 2s and truncated once: alpha x + (1 - alpha) relu(x)
 * (the slopes are the server's, as a SCALE's factors are). */
static int op_prelu(imp *m) {
    TRY(imp_attrs_allowed(m, (const char *const[]){"consumed_inputs", NULL}));
    const ctensor *c;
    TRY(imp_in_const(m, 1, &c));
    if (c->n == 0) return imp_err(m, PARLEY_E_UNSUPPORTED, "the slope is empty");
    double a = imp_const_f(c, 0);
    int same = 1;
    for (size_t i = 0; i < c->n; i++) {
        if (!isfinite(imp_const_f(c, i)))
            return imp_err(m, PARLEY_E_UNSUPPORTED, "a slope is not finite");
        same &= imp_const_f(c, i) == a;
    }
    if (same) return activation(m, QOP_LEAKY_RELU, &a, 1);
    unsigned x;
    TRY(imp_in_value(m, 0, &x));
    const nn_shape *xs = imp_vshape(m, x);
    float *full;
    if (xs->rank < 2)
        return imp_err(m, PARLEY_E_UNSUPPORTED, "slopes that differ need a tensor with channels");
    TRY(expand(m, &full, c, xs, 1.0));
    size_t C = xs->d[1], per = nn_shape_count(xs) / xs->d[0] / C, total = nn_shape_count(xs);
    for (size_t i = 0; i < total; i++)
        if (full[i] != full[((i / per) % C) * per]) {
            mem_free(full);
            return imp_err(m, PARLEY_E_UNSUPPORTED,
                           "slopes that vary other than per channel are not supported");
        }
    float *g[2] = {mem_alloc(C, sizeof(float)), mem_alloc(C, sizeof(float))};
    float *b[2] = {mem_calloc(C, sizeof(float)), mem_calloc(C, sizeof(float))};
    if (!g[0] || !g[1] || !b[0] || !b[1]) {
        for (int k = 0; k < 2; k++) mem_free(g[k]), mem_free(b[k]);
        mem_free(full);
        return PARLEY_E_NOMEM;
    }
    for (size_t ch = 0; ch < C; ch++) {
        g[0][ch] = full[ch * per];
        g[1][ch] = (float)(1.0 - (double)full[ch * per]);
    }
    mem_free(full);
    lin_scale sc = {.N = xs->d[0], .C = (unsigned)C, .S = (unsigned)per, .wbits = 1};
    unsigned r, t[2], y;
    fnode *n;
    int rc = fgraph_value(m->g, &r, imp_gen_name(m, "#relu"), xs);
    if (rc == 0) rc = imp_add_node(m, &n, QOP_RELU, &x, 1, r);
    if (rc == 0) rc = fgraph_value(m->g, &t[0], imp_gen_name(m, "#ax"), xs);
    rc = add_weighted(m, rc, QOP_SCALE, x, t[0], &sc, sizeof sc, g[0], b[0]);
    if (rc == 0) rc = fgraph_value(m->g, &t[1], imp_gen_name(m, "#br"), xs);
    rc = add_weighted(m, rc, QOP_SCALE, r, t[1], &sc, sizeof sc, g[1], b[1]);
    if (rc == 0) rc = imp_out_value(m, 0, xs, &y);
    if (rc == 0) rc = imp_add_node(m, &n, QOP_ADD, t, 2, y);
    return rc;
}

/* HardSwish: x * HardSigmoid(x) with alpha 1/6, beta 1/2. */
static int op_hard_swish(imp *m) {
    TRY(imp_attrs_allowed(m, (const char *const[]){NULL}));
    double c[2] = {1.0 / 6, 0.5};
    return activation(m, QOP_HARD_SWISH, c, 2);
}

static int op_hard_sigmoid(imp *m) {
    TRY(imp_attrs_allowed(m, (const char *const[]){"alpha", "beta", "consumed_inputs", NULL}));
    double c[2];
    TRY(imp_attr_f(m, "alpha", 0.2, &c[0]));
    TRY(imp_attr_f(m, "beta", 0.5, &c[1]));
    return activation(m, QOP_HARD_SIGMOID, c, 2);
}

static int pool_common(imp *m, qop op, unsigned x, const window *w, unsigned nsp, int ceil_mode,
                       int cip) {
    const nn_shape *xs = imp_vshape(m, x);
    nl_pool p = {.N = xs->d[0],
                 .C = xs->d[1],
                 .ceil_mode = (unsigned)ceil_mode,
                 .count_include_pad = (unsigned)cip};
    if (nsp == 2) {
        p.H = xs->d[2], p.W = xs->d[3], p.kh = w->k[0], p.kw = w->k[1], p.sh = w->st[0];
        p.sw = w->st[1], p.dh = w->dl[0], p.dw = w->dl[1], p.pt = w->lo[0], p.pl = w->lo[1];
        p.pb = w->hi[0], p.pr = w->hi[1];
    } else {
        p.H = 1, p.W = xs->d[2], p.kh = 1, p.kw = w->k[0], p.sh = 1, p.sw = w->st[0], p.dh = 1;
        p.dw = w->dl[0], p.pl = w->lo[0], p.pr = w->hi[0];
    }
    if (nl_pool_check(&p) < 0) return imp_err(m, PARLEY_E_UNSUPPORTED, "%s", err_msg());
    nn_shape ys = {.rank = xs->rank, .d = {p.N, p.C}};
    if (nsp == 2)
        ys.d[2] = p.OH, ys.d[3] = p.OW;
    else
        ys.d[2] = p.OW;
    unsigned y;
    fnode *n;
    TRY(imp_out_value(m, 0, &ys, &y));
    TRY(imp_add_node(m, &n, op, &x, 1, y));
    n->p.pool = p;
    return 0;
}

static int pool_input(imp *m, unsigned *x) {
    char a[96];
    TRY(imp_in_value(m, 0, x));
    const nn_shape *xs = imp_vshape(m, *x);
    if (xs->rank == 5) return imp_err(m, PARLEY_E_UNSUPPORTED, "3-D pooling is not supported");
    if (xs->rank != 3 && xs->rank != 4)
        return imp_err(m, PARLEY_E_UNSUPPORTED, "input %s is not N x C x H x W or N x C x W",
                       imp_shp(a, sizeof a, xs));
    return 0;
}

static int op_pool(imp *m) {
    int is_max = strcmp(m->node->op_type, "MaxPool") == 0;
    static const char *const okmax[] = {"auto_pad", "ceil_mode",     "dilations", "kernel_shape",
                                        "pads",     "storage_order", "strides",   NULL};
    static const char *const okavg[] = {
        "auto_pad", "ceil_mode", "count_include_pad", "kernel_shape", "pads", "strides", NULL};
    TRY(imp_attrs_allowed(m, is_max ? okmax : okavg));
    unsigned x;
    TRY(pool_input(m, &x));
    const nn_shape *xs = imp_vshape(m, x);
    unsigned nsp = xs->rank - 2;
    window w;
    TRY(read_window(m, &w, nsp, xs->d + 2, NULL, is_max));
    int64_t ceil_mode, cip = 0;
    TRY(imp_attr_i_range(m, "ceil_mode", 0, 0, 1, &ceil_mode));
    if (!is_max) TRY(imp_attr_i_range(m, "count_include_pad", 0, 0, 1, &cip));
    TRY(pool_common(m, is_max ? QOP_MAXPOOL : QOP_AVGPOOL, x, &w, nsp, (int)ceil_mode, (int)cip));
    return imp_outs_unavailable(m, 1, "MaxPool's indices, which parley does not compute");
}

static int op_global_pool(imp *m) {
    TRY(imp_attrs_allowed(m, (const char *const[]){NULL}));
    unsigned x;
    TRY(pool_input(m, &x));
    const nn_shape *xs = imp_vshape(m, x);
    unsigned nsp = xs->rank - 2;
    window w;
    for (unsigned i = 0; i < 2; i++) {
        w.k[i] = i < nsp ? xs->d[2 + i] : 1;
        w.st[i] = w.dl[i] = 1;
        w.lo[i] = w.hi[i] = 0;
    }
    int is_max = strcmp(m->node->op_type, "GlobalMaxPool") == 0;
    return pool_common(m, is_max ? QOP_MAXPOOL : QOP_AVGPOOL, x, &w, nsp, 0, 0);
}

static int op_concat(imp *m) {
    static const char *const ok[] = {"axis", NULL};
    TRY(imp_attrs_allowed(m, ok));
    unsigned nin = (unsigned)m->node->n_input;
    if (nin < 1 || nin > QNET_MAX_INPUTS)
        return imp_err(m, PARLEY_E_UNSUPPORTED, "bad number of inputs");
    if (!imp_attr(m, "axis") && m->opset >= 4)
        return imp_err(m, PARLEY_E_FORMAT, "attribute 'axis' is missing");
    int all_const = 1;
    for (unsigned k = 0; k < nin; k++) {
        sym *s;
        TRY(imp_in_sym(m, k, &s));
        all_const &= s->kind == SYM_CONST;
    }
    if (all_const) { /* shape arithmetic: fold */
        int64_t ax;
        unsigned a;
        TRY(imp_attr_i(m, "axis", 1, &ax));
        TRY(imp_axis_norm(m, ax, imp_in_shape(m, 0)->rank, 0, &a));
        return imp_fold_concat(m, a);
    }
    unsigned *in = mem_alloc(nin, sizeof *in);
    if (!in) return PARLEY_E_NOMEM;
    int rc = 0;
    for (unsigned k = 0; k < nin && rc == 0; k++) {
        /* A constant operand becomes a CONST value (shared as c and 0). */
        sym *s;
        rc = imp_in_sym(m, k, &s);
        if (rc == 0 && s->kind == SYM_VALUE) in[k] = s->value;
        if (rc < 0 || s->kind != SYM_CONST) continue;
        float *f = imp_const_floats(&s->c);
        fnode *cn;
        char nm[QNET_MAX_NAME + 1];
        snprintf(nm, sizeof nm, "%s#const", m->node->input[k]);
        rc = f ? fgraph_value(m->g, &in[k], nm, &s->c.shape) : PARLEY_E_NOMEM;
        if (rc == 0) rc = imp_add_node(m, &cn, QOP_CONST, NULL, 0, in[k]);
        if (rc == 0)
            cn->w = f;
        else
            mem_free(f);
    }
    int64_t ax = 0;
    unsigned a = 0;
    nn_shape ys = {0};
    if (rc == 0) rc = imp_attr_i(m, "axis", 1, &ax); /* the default before opset 4 */
    if (rc == 0) {
        ys = *imp_vshape(m, in[0]);
        rc = imp_axis_norm(m, ax, ys.rank, 0, &a);
    }
    uint64_t sum = 0;
    for (unsigned k = 0; k < nin && rc == 0; k++) {
        const nn_shape *s = imp_vshape(m, in[k]);
        char s1[96], s2[96];
        for (unsigned d = 0; d < ys.rank && s->rank == ys.rank; d++)
            if (d != a && s->d[d] != ys.d[d]) rc = -1;
        if (rc < 0 || s->rank != ys.rank)
            rc = imp_err(m, PARLEY_E_FORMAT, "operands %s and %s do not fit together",
                         imp_shp(s1, sizeof s1, imp_vshape(m, in[0])), imp_shp(s2, sizeof s2, s));
        sum += s->d[a];
    }
    if (rc == 0 && sum > UINT32_MAX) rc = imp_err(m, PARLEY_E_UNSUPPORTED, "result too large");
    unsigned y;
    fnode *n;
    if (rc == 0) {
        ys.d[a] = (uint32_t)sum;
        rc = imp_out_value(m, 0, &ys, &y);
    }
    if (rc == 0) rc = imp_add_node(m, &n, QOP_CONCAT, in, nin, y);
    if (rc == 0) n->p.axis = a;
    mem_free(in);
    return rc;
}

/* Output 0 is input 0 with a new shape: a RESHAPE of a value, or the same
 * constant data with the new shape. */
static int reshape_to(imp *m, const nn_shape *ys) {
    sym *s;
    TRY(imp_in_sym(m, 0, &s));
    size_t n;
    char a[96], b[96];
    if (nn_shape_check(&n, ys) < 0) return imp_err(m, PARLEY_E_UNSUPPORTED, "%s", err_msg());
    const nn_shape *xs = s->kind == SYM_VALUE ? imp_vshape(m, s->value) : &s->c.shape;
    if (n != nn_shape_count(xs))
        return imp_err(m, PARLEY_E_FORMAT, "cannot reshape %s to %s", imp_shp(a, sizeof a, xs),
                       imp_shp(b, sizeof b, ys));
    if (s->kind == SYM_CONST) {
        ctensor c = s->c;
        c.shape = *ys;
        c.own = NULL;
        return imp_bind_const(m, imp_out_name(m, 0), &c);
    }
    unsigned x = s->value, y;
    fnode *node;
    TRY(imp_out_value(m, 0, ys, &y));
    return imp_add_node(m, &node, QOP_RESHAPE, &x, 1, y);
}

static int op_flatten(imp *m) {
    static const char *const ok[] = {"axis", NULL};
    TRY(imp_attrs_allowed(m, ok));
    const nn_shape *xs = imp_in_shape(m, 0);
    if (!xs) return PARLEY_E_FORMAT;
    int64_t ax;
    unsigned a;
    TRY(imp_attr_i(m, "axis", 1, &ax));
    TRY(imp_axis_norm(m, ax, xs->rank, 1, &a));
    size_t lead = 1;
    for (unsigned d = 0; d < a; d++)
        lead *= xs->d[d];
    nn_shape ys = {.rank = 2, .d = {(uint32_t)lead, (uint32_t)(nn_shape_count(xs) / lead)}};
    return reshape_to(m, &ys);
}

static int op_reshape(imp *m) {
    static const char *const ok[] = {"allowzero", "shape", "consumed_inputs", NULL};
    TRY(imp_attrs_allowed(m, ok));
    const nn_shape *xs = imp_in_shape(m, 0);
    if (!xs) return PARLEY_E_FORMAT;
    int64_t v[MAX_SHAPE_CONST], allowzero;
    size_t n;
    TRY(imp_attr_i(m, "allowzero", 0, &allowzero));
    if (m->opset < 5) { /* Reshape-1: the shape is an attribute */
        const int64_t *a;
        TRY(imp_attr_ints(m, "shape", &a, &n));
        if (!a) return imp_err(m, PARLEY_E_FORMAT, "attribute 'shape' is missing");
        if (n > MAX_SHAPE_CONST) return imp_err(m, PARLEY_E_UNSUPPORTED, "shape too long");
        memcpy(v, a, n * sizeof *v);
    } else {
        TRY(imp_in_ints(m, 1, v, &n, MAX_SHAPE_CONST));
    }
    if (n > NN_MAX_RANK)
        return imp_err(m, PARLEY_E_UNSUPPORTED, "more than %d dimensions", NN_MAX_RANK);
    nn_shape ys = {.rank = (unsigned)n};
    int infer = -1;
    uint64_t known = 1;
    for (unsigned i = 0; i < n; i++) {
        if (v[i] == 0 && !allowzero) {
            if (i >= xs->rank)
                return imp_err(m, PARLEY_E_FORMAT, "shape copies a missing dimension");
            ys.d[i] = xs->d[i];
        } else if (v[i] == -1) {
            if (infer >= 0) return imp_err(m, PARLEY_E_FORMAT, "shape has two -1 entries");
            infer = (int)i;
            continue;
        } else if (v[i] < 1 || v[i] > UINT32_MAX) {
            return imp_err(m, PARLEY_E_UNSUPPORTED, "shape entry %lld is not supported",
                           (long long)v[i]);
        } else {
            ys.d[i] = (uint32_t)v[i];
        }
        known *= ys.d[i];
        if (known > NN_MAX_ELEMS) return imp_err(m, PARLEY_E_UNSUPPORTED, "shape too large");
    }
    if (infer >= 0) {
        size_t total = nn_shape_count(xs);
        if (total % known) return imp_err(m, PARLEY_E_FORMAT, "cannot infer the -1 dimension");
        ys.d[infer] = (uint32_t)(total / known);
    }
    return reshape_to(m, &ys);
}

/* Squeeze / Unsqueeze: the input's shape, and the axes from the attribute
 * (opset < 13) or input 1. */
static int read_axes(imp *m, const nn_shape **xs, int64_t *v, size_t *n, int required) {
    static const char *const ok[] = {"axes", NULL};
    TRY(imp_attrs_allowed(m, ok));
    if (!(*xs = imp_in_shape(m, 0))) return PARLEY_E_FORMAT;
    *n = 0;
    if (m->opset < 13) {
        const int64_t *a;
        TRY(imp_attr_ints(m, "axes", &a, n));
        if (*n > NN_MAX_RANK) return imp_err(m, PARLEY_E_UNSUPPORTED, "too many axes");
        if (a) memcpy(v, a, *n * sizeof *v);
        if (!a && required) return imp_err(m, PARLEY_E_FORMAT, "attribute 'axes' is missing");
        return 0;
    }
    if (!imp_has_in(m, 1))
        return required ? imp_err(m, PARLEY_E_FORMAT, "input 'axes' is missing") : 0;
    return imp_in_ints(m, 1, v, n, NN_MAX_RANK);
}

static int op_squeeze(imp *m) {
    const nn_shape *xs;
    int64_t v[NN_MAX_RANK];
    size_t n;
    TRY(read_axes(m, &xs, v, &n, 0));
    unsigned drop = 0;
    for (size_t i = 0; i < n; i++) {
        unsigned a;
        TRY(imp_axis_norm(m, v[i], xs->rank, 0, &a));
        if (xs->d[a] != 1)
            return imp_err(m, PARLEY_E_FORMAT, "axis %u has size %u, not 1", a, xs->d[a]);
        drop |= 1u << a;
    }
    nn_shape ys = {0};
    for (unsigned d = 0; d < xs->rank; d++)
        if (n ? !(drop >> d & 1) : xs->d[d] != 1) ys.d[ys.rank++] = xs->d[d];
    return reshape_to(m, &ys);
}

static int op_unsqueeze(imp *m) {
    const nn_shape *xs;
    int64_t v[NN_MAX_RANK];
    size_t n;
    TRY(read_axes(m, &xs, v, &n, 1));
    unsigned r = xs->rank + (unsigned)n, add = 0;
    if (r > NN_MAX_RANK)
        return imp_err(m, PARLEY_E_UNSUPPORTED, "more than %d dimensions", NN_MAX_RANK);
    for (size_t i = 0; i < n; i++) {
        unsigned a;
        TRY(imp_axis_norm(m, v[i], r, 0, &a));
        if (add >> a & 1) return imp_err(m, PARLEY_E_FORMAT, "axis %u given twice", a);
        add |= 1u << a;
    }
    nn_shape ys = {.rank = r};
    for (unsigned d = 0, k = 0; d < r; d++)
        ys.d[d] = (add >> d & 1) ? 1 : xs->d[k++];
    return reshape_to(m, &ys);
}

static int op_transpose(imp *m) {
    static const char *const ok[] = {"perm", NULL};
    TRY(imp_attrs_allowed(m, ok));
    sym *s;
    TRY(imp_in_sym(m, 0, &s));
    const nn_shape *xs = s->kind == SYM_VALUE ? imp_vshape(m, s->value) : &s->c.shape;
    unsigned r = xs->rank, perm[NN_MAX_RANK] = {0}, seen = 0;
    const int64_t *p;
    size_t n;
    TRY(imp_attr_ints(m, "perm", &p, &n));
    if (p && n != r) return imp_err(m, PARLEY_E_FORMAT, "perm has %zu entries for rank %u", n, r);
    for (unsigned d = 0; d < r; d++) {
        int64_t v = p ? p[d] : (int64_t)(r - 1 - d);
        if (v < 0 || v >= r || (seen >> v & 1))
            return imp_err(m, PARLEY_E_FORMAT, "perm is not a permutation");
        seen |= 1u << v;
        perm[d] = (unsigned)v;
    }
    nn_shape ys = {.rank = r};
    for (unsigned d = 0; d < r; d++)
        ys.d[d] = xs->d[perm[d]];
    if (s->kind == SYM_CONST) {
        /* Fold (PyTorch exports a Linear without bias as Transpose + MatMul). */
        float *f = mem_alloc(s->c.n, sizeof *f);
        if (!f) return PARLEY_E_NOMEM;
        size_t xst[NN_MAX_RANK], acc = 1;
        for (unsigned d = r; d-- > 0;)
            xst[d] = acc, acc *= xs->d[d];
        uint32_t idx[NN_MAX_RANK] = {0};
        for (size_t i = 0; i < s->c.n; i++) {
            size_t off = 0;
            for (unsigned d = 0; d < r; d++)
                off += idx[d] * xst[perm[d]];
            f[i] = (float)imp_const_f(&s->c, off);
            for (unsigned d = r; d-- > 0;) {
                if (++idx[d] < ys.d[d]) break;
                idx[d] = 0;
            }
        }
        ctensor c = {.shape = ys, .n = s->c.n, .f = f, .own = f};
        return imp_bind_const(m, imp_out_name(m, 0), &c);
    }
    unsigned x = s->value, y;
    fnode *node;
    TRY(imp_out_value(m, 0, &ys, &y));
    TRY(imp_add_node(m, &node, QOP_TRANSPOSE, &x, 1, y));
    memcpy(node->p.perm, perm, sizeof perm);
    return 0;
}

static int op_pad(imp *m) {
    static const char *const ok[] = {"mode", "pads", "paddings", "value", NULL};
    TRY(imp_attrs_allowed(m, ok));
    unsigned x;
    TRY(imp_in_value(m, 0, &x));
    const nn_shape *xs = imp_vshape(m, x);
    unsigned r = xs->rank;
    int64_t pads[2 * NN_MAX_RANK];
    size_t n;
    double value = 0;
    char mode[32];
    TRY(imp_attr_s(m, "mode", "constant", mode, sizeof mode));
    if (strcmp(mode, "constant") != 0)
        return imp_err(m, PARLEY_E_UNSUPPORTED, "mode '%s' is not supported (only constant 0)",
                       mode);
    if (m->opset < 11) {
        const int64_t *p;
        TRY(imp_attr_ints(m, m->opset < 2 ? "paddings" : "pads", &p, &n));
        if (!p) return imp_err(m, PARLEY_E_FORMAT, "attribute 'pads' is missing");
        if (n > 2 * NN_MAX_RANK) return imp_err(m, PARLEY_E_FORMAT, "too many pads");
        memcpy(pads, p, n * sizeof *p);
        TRY(imp_attr_f(m, "value", 0.0, &value));
    } else {
        TRY(imp_in_ints(m, 1, pads, &n, 2 * NN_MAX_RANK));
        if (imp_has_in(m, 2)) {
            const ctensor *c;
            TRY(imp_in_const(m, 2, &c));
            if (c->n != 1) return imp_err(m, PARLEY_E_FORMAT, "constant_value is not a scalar");
            value = imp_const_f(c, 0);
        }
        if (imp_has_in(m, 3))
            return imp_err(m, PARLEY_E_UNSUPPORTED, "the axes input is not supported");
    }
    if (value != 0.0) return imp_err(m, PARLEY_E_UNSUPPORTED, "only zero padding is supported");
    if (n != 2 * r) return imp_err(m, PARLEY_E_FORMAT, "%zu pads for rank %u", n, r);
    nn_shape ys = *xs;
    int any = 0;
    for (unsigned d = 0; d < r; d++) {
        if (pads[d] < 0 || pads[r + d] < 0)
            return imp_err(m, PARLEY_E_UNSUPPORTED, "negative pads (cropping) are not supported");
        if (pads[d] > MAX_ATTR_VALUE || pads[r + d] > MAX_ATTR_VALUE)
            return imp_err(m, PARLEY_E_UNSUPPORTED, "pads too large");
        uint64_t v = (uint64_t)xs->d[d] + (uint64_t)pads[d] + (uint64_t)pads[r + d];
        if (v > UINT32_MAX) return imp_err(m, PARLEY_E_UNSUPPORTED, "result too large");
        ys.d[d] = (uint32_t)v;
        any |= pads[d] || pads[r + d];
    }
    sym *s;
    TRY(imp_in_sym(m, 0, &s));
    if (!any) return imp_out_alias(m, 0, s);
    unsigned y;
    fnode *node;
    TRY(imp_out_value(m, 0, &ys, &y));
    TRY(imp_add_node(m, &node, QOP_PAD, &x, 1, y));
    for (unsigned d = 0; d < r; d++) {
        node->p.pad.lo[d] = (uint32_t)pads[d];
        node->p.pad.hi[d] = (uint32_t)pads[r + d];
    }
    return 0;
}

static int op_identity(imp *m) {
    TRY(imp_attrs_allowed(m, (const char *const[]){NULL}));
    sym *s;
    TRY(imp_in_sym(m, 0, &s));
    return imp_out_alias(m, 0, s);
}

static int op_dropout(imp *m) {
    static const char *const ok[] = {"ratio", "is_test", "seed", "consumed_inputs", NULL};
    TRY(imp_attrs_allowed(m, ok));
    sym *s;
    TRY(imp_in_sym(m, 0, &s));
    if (m->opset >= 12 && imp_has_in(m, 2)) {
        const ctensor *t;
        TRY(imp_in_const(m, 2, &t));
        if (t->n != 1 || imp_const_f(t, 0) != 0.0)
            return imp_err(m, PARLEY_E_UNSUPPORTED, "training mode is not supported");
    }
    TRY(imp_out_alias(m, 0, s));
    return imp_outs_unavailable(m, 1, "Dropout's mask, which parley does not compute");
}

static int op_constant(imp *m) {
    if (m->node->n_attribute != 1)
        return imp_err(m, PARLEY_E_FORMAT, "a Constant needs exactly one attribute");
    const Onnx__AttributeProto *a = m->node->attribute[0];
    const char *name = imp_str(a->name);
    ctensor c = {0};
    if (strcmp(name, "value") == 0) {
        if (!a->t) return imp_err(m, PARLEY_E_FORMAT, "attribute 'value' holds no tensor");
        int rc = imp_const_from_proto(&c, a->t, "constant");
        if (rc < 0) return err_wrap(rc, "node '%s'", m->nname);
        return imp_bind_const(m, imp_out_name(m, 0), &c);
    }
    int is_f = strcmp(name, "value_float") == 0, is_fs = strcmp(name, "value_floats") == 0;
    int is_i = strcmp(name, "value_int") == 0, is_is = strcmp(name, "value_ints") == 0;
    if (!is_f && !is_fs && !is_i && !is_is) {
        char nm[80];
        imp_printable(nm, sizeof nm, name);
        return imp_err(m, PARLEY_E_UNSUPPORTED, "attribute '%s' is not supported", nm);
    }
    size_t n = is_fs ? a->n_floats : is_is ? a->n_ints : 1;
    if (n < 1 || n > NN_MAX_ELEMS)
        return imp_err(m, PARLEY_E_UNSUPPORTED, "empty or huge constant");
    c.shape.rank = (is_fs || is_is) ? 1 : 0;
    c.shape.d[0] = (uint32_t)n;
    c.n = n;
    /* The one value or the list, copied. */
    int fl = is_f || is_fs;
    const void *src = is_f    ? (const void *)&a->f
                      : is_fs ? (const void *)a->floats
                      : is_i  ? (const void *)&a->i
                              : (const void *)a->ints;
    size_t es = fl ? sizeof(float) : sizeof(int64_t);
    if (!(c.own = mem_alloc(n, es))) return PARLEY_E_NOMEM;
    memcpy(c.own, src, n * es);
    if (fl)
        c.f = c.own;
    else
        c.i = c.own;
    c.is_int = !fl;
    return imp_bind_const(m, imp_out_name(m, 0), &c);
}

static int op_argmax(imp *m) {
    static const char *const ok[] = {"axis", "keepdims", "select_last_index", NULL};
    TRY(imp_attrs_allowed(m, ok));
    unsigned x, a;
    TRY(imp_in_value(m, 0, &x));
    const nn_shape *xs = imp_vshape(m, x);
    int64_t ax, keep, last;
    TRY(imp_attr_i(m, "axis", 0, &ax));
    TRY(imp_attr_i_range(m, "keepdims", 1, 0, 1, &keep));
    TRY(imp_attr_i_range(m, "select_last_index", 0, 0, 1, &last));
    if (last) return imp_err(m, PARLEY_E_UNSUPPORTED, "select_last_index = 1 is not supported");
    if (xs->rank < 1) return imp_err(m, PARLEY_E_FORMAT, "input is a scalar");
    TRY(imp_axis_norm(m, ax, xs->rank, 0, &a));
    nn_shape ys = *xs;
    if (keep) {
        ys.d[a] = 1;
    } else {
        for (unsigned d = a; d + 1 < xs->rank; d++)
            ys.d[d] = ys.d[d + 1];
        ys.rank--;
    }
    unsigned y;
    fnode *n;
    TRY(imp_out_value(m, 0, &ys, &y));
    TRY(imp_add_node(m, &n, QOP_ARGMAX, &x, 1, y));
    n->p.argmax.axis = a;
    n->p.argmax.keepdims = (unsigned)keep;
    return 0;
}

static int op_softmax(imp *m) {
    static const char *const ok[] = {"axis", NULL};
    TRY(imp_attrs_allowed(m, ok));
    const Onnx__GraphProto *g = m->graph;
    const char *out = imp_str(imp_out_name(m, 0));
    int last = g->n_output == 1 && strcmp(imp_str(g->output[0]->name), out) == 0;
    for (size_t i = m->node_index + 1; i < g->n_node && last; i++)
        for (size_t k = 0; k < g->node[i]->n_input; k++)
            if (strcmp(imp_str(g->node[i]->input[k]), out) == 0) last = 0;
    sym *s;
    TRY(imp_in_sym(m, 0, &s));
    if (s->kind != SYM_VALUE) return imp_err(m, PARLEY_E_UNSUPPORTED, "Softmax of a constant");
    if (!last) { /* a real layer (ops-smooth): over axis, or (opset < 13) all dims from it on */
        nn_shape xs = *imp_vshape(m, s->value);
        int64_t ax;
        unsigned a, x = s->value, y;
        TRY(imp_attr_i(m, "axis", m->opset >= 13 ? -1 : 1, &ax));
        if (xs.rank < 1) return imp_err(m, PARLEY_E_FORMAT, "input is a scalar");
        TRY(imp_axis_norm(m, ax, xs.rank, 0, &a));
        fnode *n;
        TRY(imp_out_value(m, 0, &xs, &y));
        TRY(imp_add_node(m, &n, QOP_SOFTMAX, &x, 1, y));
        n->p.softmax.axis = a;
        n->p.softmax.flat = m->opset < 13;
        return 0;
    }
    m->g->softmax_dropped = 1;
    TRY(fgraph_note(m->g,
                    "node '%s' (Softmax): the final Softmax is dropped (it does not change the "
                    "label); the output is the logits",
                    m->nname));
    return imp_out_alias(m, 0, s);
}

/* ---- data movement and sums (ops-move) ------------------------------------ */

/* A node of local kind op from value x into a new value (output k of the
 * node, or a generated one when k < 0) of shape ys; *n gets it. */
static int move_node(imp *m, fnode **n, qop op, unsigned x, int k, const nn_shape *ys, unsigned *y,
                     const char *suffix) {
    if (k >= 0)
        TRY(imp_out_value(m, (unsigned)k, ys, y));
    else
        TRY(fgraph_value(m->g, y, imp_gen_name(m, suffix), ys));
    if (k <= 0) return imp_add_node(m, n, op, &x, 1, *y);
    char nm[QNET_MAX_NAME + 1];
    snprintf(nm, sizeof nm, "%.*s#%d", QNET_MAX_NAME - 12, m->nname, k);
    int rc = fgraph_node(m->g, n, op, nm, &x, 1, *y);
    return rc < 0 ? err_wrap(rc, "node '%s'", m->nname) : 0;
}

/* Split: each output a SLICE along the axis; sizes from `split` (an
 * attribute before opset 13, else input 1) or equal parts. */
static int op_split(imp *m) {
    static const char *const ok[] = {"axis", "split", NULL};
    TRY(imp_attrs_allowed(m, ok));
    unsigned x;
    TRY(imp_in_value(m, 0, &x));
    const nn_shape xs = *imp_vshape(m, x);
    int64_t ax, parts[MAX_SHAPE_CONST];
    unsigned a;
    size_t np = 0, nout = m->node->n_output;
    TRY(imp_attr_i(m, "axis", 0, &ax));
    TRY(imp_axis_norm(m, ax, xs.rank, 0, &a));
    if (nout > MAX_SHAPE_CONST)
        return imp_err(m, PARLEY_E_UNSUPPORTED, "more than %d outputs", MAX_SHAPE_CONST);
    if (m->opset < 13) {
        const int64_t *v;
        TRY(imp_attr_ints(m, "split", &v, &np));
        if (np > MAX_SHAPE_CONST) return imp_err(m, PARLEY_E_UNSUPPORTED, "split too long");
        if (v) memcpy(parts, v, np * sizeof *v);
    } else if (imp_has_in(m, 1)) {
        TRY(imp_in_ints(m, 1, parts, &np, MAX_SHAPE_CONST));
    }
    if (!np) {
        if (xs.d[a] % nout)
            return imp_err(m, PARLEY_E_FORMAT,
                           "axis %u of size %u does not split in %zu equal parts", a, xs.d[a],
                           nout);
        for (size_t k = 0; k < nout; k++)
            parts[k] = xs.d[a] / nout;
        np = nout;
    }
    if (np != nout)
        return imp_err(m, PARLEY_E_FORMAT, "split has %zu sizes for %zu outputs", np, nout);
    int64_t sum = 0;
    for (size_t k = 0; k < np; k++) {
        if (parts[k] < 1)
            return imp_err(m, PARLEY_E_UNSUPPORTED, "an empty output is not supported");
        if (parts[k] > UINT32_MAX) return imp_err(m, PARLEY_E_FORMAT, "split too large");
        sum += parts[k];
    }
    if (sum != xs.d[a])
        return imp_err(m, PARLEY_E_FORMAT, "split sizes add up to %lld, not %u", (long long)sum,
                       xs.d[a]);
    int64_t at = 0;
    for (size_t k = 0; k < nout; at += parts[k], k++) {
        const char *o = imp_out_name(m, (unsigned)k);
        if (!o || !o[0]) continue; /* an unused output */
        nn_shape ys = xs;
        ys.d[a] = (uint32_t)parts[k];
        fnode *n;
        unsigned y;
        TRY(move_node(m, &n, QOP_SLICE, x, (int)k, &ys, &y, NULL));
        for (unsigned d = 0; d < xs.rank; d++)
            n->p.slice.step[d] = 1;
        n->p.slice.start[a] = (uint32_t)at;
    }
    return 0;
}

/* ONNX Resize's source coordinate of output o along an axis of in -> out
 * elements (scale = out / in), then its nearest_mode; -1 if the mode is
 * not known. */
static int64_t resize_src(const char *ct, const char *nm, int64_t o, uint32_t in, uint32_t out) {
    double sc = (double)out / in, v;
    if (!strcmp(ct, "half_pixel") || (!strcmp(ct, "pytorch_half_pixel") && out > 1))
        v = (o + 0.5) / sc - 0.5;
    else if (!strcmp(ct, "pytorch_half_pixel"))
        v = 0;
    else if (!strcmp(ct, "asymmetric"))
        v = o / sc;
    else if (!strcmp(ct, "align_corners"))
        v = out > 1 ? (double)o * (in - 1) / (out - 1) : 0;
    else if (!strcmp(ct, "tf_half_pixel_for_nearest"))
        v = (o + 0.5) / sc;
    else
        return -1;
    double f = floor(v), r;
    if (!strcmp(nm, "floor"))
        r = f;
    else if (!strcmp(nm, "ceil"))
        r = ceil(v);
    else if (!strcmp(nm, "round_prefer_floor"))
        r = v - f == 0.5 ? f : round(v);
    else if (!strcmp(nm, "round_prefer_ceil"))
        r = v - f == 0.5 ? f + 1 : round(v);
    else
        return -1;
    return r < 0 ? 0 : r > in - 1 ? in - 1 : (int64_t)r;
}

/* A scale as an exact fraction num / den, both below 2^31: the value of
 * the float the model holds (a float is m * 2^e exactly). */
static int scale_fraction(double v, uint32_t *num, uint32_t *den) {
    if (!(v > 0) || !isfinite(v)) return -1;
    uint64_t d = 1;
    while (v * (double)d != floor(v * (double)d) && d < ((uint64_t)1 << 30))
        d <<= 1;
    double n = v * (double)d;
    if (n != floor(n) || n >= 2147483648.0 || n < 1) return -1;
    uint64_t a = (uint64_t)n, b = d;
    while (b) { /* reduce by the gcd */
        uint64_t t = a % b;
        a = b;
        b = t;
    }
    *num = (uint32_t)((uint64_t)n / a);
    *den = (uint32_t)(d / a);
    return 0;
}

/* Resize mode linear (bilinear on N x C x H x W): a RESIZE_LINEAR layer
 * with public coefficients; the scale of each axis from `scales` (the
 * float's exact value) or from `sizes` (out / in), the output floor(in *
 * scale) as ONNX says. */
static int resize_linear(imp *m, unsigned x, const nn_shape *xs, const char *ct, const double *sc,
                         const int64_t *sz) {
    static const char *const modes[QRESIZE_MODES_] = {"half_pixel", "pytorch_half_pixel",
                                                      "align_corners", "asymmetric"};
    unsigned mode = QRESIZE_MODES_, r = xs->rank, na = 0;
    for (unsigned k = 0; k < QRESIZE_MODES_; k++)
        if (!strcmp(ct, modes[k])) mode = k;
    if (mode == QRESIZE_MODES_)
        return imp_err(m, PARLEY_E_UNSUPPORTED,
                       "coordinate_transformation_mode '%s' is not supported with mode linear "
                       "(half_pixel, pytorch_half_pixel, align_corners, asymmetric are)",
                       ct);
    uint32_t num[NN_MAX_RANK] = {0}, den[NN_MAX_RANK] = {0};
    nn_shape ys = *xs;
    for (unsigned d = 0; d < r; d++) {
        if (sz) {
            if (sz[d] < 1 || sz[d] > INT32_MAX)
                return imp_err(m, PARLEY_E_UNSUPPORTED, "size %lld of axis %u is not supported",
                               (long long)sz[d], d);
            num[d] = (uint32_t)sz[d];
            den[d] = xs->d[d];
        } else if (scale_fraction(sc[d], &num[d], &den[d]) < 0) {
            return imp_err(m, PARLEY_E_UNSUPPORTED,
                           "scale %g of axis %u is not supported (a positive fraction with "
                           "numerator and denominator below 2^31)",
                           sc[d], d);
        }
        if (xs->d[d] > INT32_MAX)
            return imp_err(m, PARLEY_E_UNSUPPORTED, "axis %u is too long", d);
        uint64_t o = (uint64_t)xs->d[d] * num[d] / den[d];
        if (o < 1 || o > UINT32_MAX)
            return imp_err(m, PARLEY_E_UNSUPPORTED,
                           "axis %u of %u elements at scale %u/%u gives %llu elements", d,
                           xs->d[d], num[d], den[d], (unsigned long long)o);
        ys.d[d] = (uint32_t)o;
        if (num[d] == den[d]) continue;
        if (++na > QRESIZE_MAX_AXES)
            return imp_err(m, PARLEY_E_UNSUPPORTED,
                           "linear interpolation along more than %d axes is not supported",
                           QRESIZE_MAX_AXES);
    }
    sym *s;
    TRY(imp_in_sym(m, 0, &s));
    if (!na) return imp_out_alias(m, 0, s);
    fnode *n;
    unsigned y;
    TRY(move_node(m, &n, QOP_RESIZE_LINEAR, x, 0, &ys, &y, NULL));
    n->p.resize.mode = mode;
    memcpy(n->p.resize.num, num, sizeof num);
    memcpy(n->p.resize.den, den, sizeof den);
    return 0;
}

/* Resize and Upsample, mode nearest, by integer factors: an UPSAMPLE (each
 * element repeated), when the coordinate transformation and nearest_mode
 * pick input floor(o / factor) for every output o, as they do for
 * PyTorch's nn.Upsample(mode='nearest'). */
static int op_resize(imp *m) {
    static const char *const okr[] = {"mode",
                                      "coordinate_transformation_mode",
                                      "nearest_mode",
                                      "cubic_coeff_a",
                                      "exclude_outside",
                                      "extrapolation_value",
                                      NULL};
    static const char *const oku[] = {"mode", "scales", "height_scale", "width_scale", NULL};
    int up = !strcmp(m->node->op_type, "Upsample");
    TRY(imp_attrs_allowed(m, up ? oku : okr));
    unsigned x;
    TRY(imp_in_value(m, 0, &x));
    const nn_shape xs = *imp_vshape(m, x);
    unsigned r = xs.rank;
    char mode[32], ct[40], nm[40];
    TRY(imp_attr_s(m, "mode", "nearest", mode, sizeof mode));
    int lin = !strcmp(mode, "linear") || (up && !strcmp(mode, "bilinear"));
    if (strcmp(mode, "nearest") != 0 && !lin)
        return imp_err(m, PARLEY_E_UNSUPPORTED,
                       "mode '%s' is not supported (only nearest and linear)", mode);
    /* Upsample and Resize-10 take input floor(o / scale). */
    int v11 = !up && m->opset >= 11;
    TRY(imp_attr_s(m, "coordinate_transformation_mode", v11 ? "half_pixel" : "asymmetric", ct,
                   sizeof ct));
    TRY(imp_attr_s(m, "nearest_mode", v11 ? "round_prefer_floor" : "floor", nm, sizeof nm));
    double sc[NN_MAX_RANK];
    int64_t sz[NN_MAX_RANK];
    int sized = 0;
    size_t ns = 0;
    const ctensor *c = NULL;
    if (up && m->opset < 9) {
        const Onnx__AttributeProto *a = imp_attr(m, "scales");
        if (!a || !a->n_floats)
            return imp_err(m, PARLEY_E_UNSUPPORTED, "attribute 'scales' is missing");
        ns = a->n_floats;
        for (size_t k = 0; k < ns && k < NN_MAX_RANK; k++)
            sc[k] = a->floats[k];
    } else {
        /* Upsample-9, Resize-10: scales is input 1; Resize-11: roi, scales, sizes. */
        unsigned ki = v11 ? 2 : 1;
        if (imp_has_in(m, ki)) TRY(imp_in_const(m, ki, &c));
        if (c && c->n) {
            ns = c->n;
            for (size_t k = 0; k < ns && k < NN_MAX_RANK; k++)
                sc[k] = imp_const_f(c, k);
        } else if (v11 && imp_has_in(m, 3)) {
            sized = 1;
            TRY(imp_in_ints(m, 3, sz, &ns, NN_MAX_RANK));
            for (size_t k = 0; k < ns && k < r; k++)
                sc[k] = (double)sz[k] / xs.d[k];
        } else {
            return imp_err(m, PARLEY_E_FORMAT, "neither scales nor sizes are given");
        }
    }
    if (ns != r) return imp_err(m, PARLEY_E_FORMAT, "%zu scales for rank %u", ns, r);
    if (lin) return resize_linear(m, x, &xs, ct, sc, sized ? sz : NULL);
    nn_shape ys = xs;
    uint32_t f[NN_MAX_RANK] = {0};
    int any = 0;
    for (unsigned d = 0; d < r; d++) {
        double v = sc[d];
        if (!(v >= 1 && v <= 1 << 16 && v == floor(v)))
            return imp_err(m, PARLEY_E_UNSUPPORTED,
                           "scale %g of axis %u is not supported (only whole factors >= 1)", v, d);
        f[d] = (uint32_t)v;
        uint64_t o = (uint64_t)xs.d[d] * f[d];
        if (o > UINT32_MAX) return imp_err(m, PARLEY_E_UNSUPPORTED, "result too large");
        ys.d[d] = (uint32_t)o;
        any |= f[d] > 1;
        for (uint64_t i = 0; f[d] > 1 && i < o; i++) {
            int64_t src = resize_src(ct, nm, (int64_t)i, xs.d[d], ys.d[d]);
            if (src < 0)
                return imp_err(m, PARLEY_E_UNSUPPORTED,
                               "coordinate_transformation_mode '%s' with nearest_mode '%s' is "
                               "not supported",
                               ct, nm);
            if ((uint64_t)src != i / f[d])
                return imp_err(m, PARLEY_E_UNSUPPORTED,
                               "coordinate_transformation_mode '%s' with nearest_mode '%s' does "
                               "not repeat each element %u times (only that is supported)",
                               ct, nm, f[d]);
        }
    }
    sym *s;
    TRY(imp_in_sym(m, 0, &s));
    if (!any) return imp_out_alias(m, 0, s);
    fnode *n;
    unsigned y;
    TRY(move_node(m, &n, QOP_UPSAMPLE, x, 0, &ys, &y, NULL));
    memcpy(n->p.factor, f, sizeof f);
    return 0;
}

/* ReduceMean and ReduceSum over spatial axes of N x C x H x W (axes 2, 3
 * or both) or N x C x W (axis 2): a window of the reduced extent, AVGPOOL
 * (floor of the sum over the count, as GlobalAveragePool) or SUMPOOL
 * (the sum); keepdims 0 adds a RESHAPE. */
static int op_reduce(imp *m) {
    static const char *const ok[] = {"axes", "keepdims", "noop_with_empty_axes", NULL};
    TRY(imp_attrs_allowed(m, ok));
    int mean = !strcmp(m->node->op_type, "ReduceMean");
    unsigned x;
    TRY(imp_in_value(m, 0, &x));
    const nn_shape xs = *imp_vshape(m, x);
    unsigned r = xs.rank, mask = 0;
    int64_t keep, noop, axes[NN_MAX_RANK];
    size_t na = 0;
    TRY(imp_attr_i_range(m, "keepdims", 1, 0, 1, &keep));
    TRY(imp_attr_i_range(m, "noop_with_empty_axes", 0, 0, 1, &noop));
    if (mean || m->opset < 13) {
        const int64_t *v;
        TRY(imp_attr_ints(m, "axes", &v, &na));
        if (na > NN_MAX_RANK) return imp_err(m, PARLEY_E_FORMAT, "too many axes");
        if (v) memcpy(axes, v, na * sizeof *v);
    } else if (imp_has_in(m, 1)) {
        TRY(imp_in_ints(m, 1, axes, &na, NN_MAX_RANK));
    }
    if (!na && noop) {
        sym *s;
        TRY(imp_in_sym(m, 0, &s));
        return imp_out_alias(m, 0, s);
    }
    for (size_t k = 0; k < na; k++) {
        unsigned a;
        TRY(imp_axis_norm(m, axes[k], r, 0, &a));
        mask |= 1u << a;
    }
    if (!na) mask = (1u << r) - 1;
    if ((r != 3 && r != 4) || (mask & 3) || !mask)
        return imp_err(m, PARLEY_E_UNSUPPORTED,
                       "%s is supported over the spatial axes of N x C x H x W or N x C x W "
                       "only (axes 2, 3)",
                       m->node->op_type);
    nl_pool p = {.N = xs.d[0], .C = xs.d[1], .H = r == 4 ? xs.d[2] : 1, .W = xs.d[r - 1]};
    p.kh = r == 4 && (mask & 4) ? p.H : 1;
    p.kw = mask & (1u << (r - 1)) ? p.W : 1;
    p.sh = p.sw = p.dh = p.dw = 1;
    if (nl_pool_check(&p) < 0) return imp_err(m, PARLEY_E_UNSUPPORTED, "%s", err_msg());
    nn_shape ks = xs, ys = {0};
    for (unsigned d = 2; d < r; d++)
        if (mask >> d & 1) ks.d[d] = 1;
    for (unsigned d = 0; d < r; d++)
        if (!(mask >> d & 1) || keep) ys.d[ys.rank++] = ks.d[d];
    fnode *n;
    unsigned y, z;
    TRY(move_node(m, &n, mean ? QOP_AVGPOOL : QOP_SUMPOOL, x, keep ? 0 : -1, &ks, &y, "#keep"));
    n->p.pool = p;
    if (keep) return 0;
    TRY(imp_out_value(m, 0, &ys, &z));
    return imp_add_node(m, &n, QOP_RESHAPE, &y, 1, z);
}

/* ConvTranspose (1-D, 2-D) as a convolution: the input with stride - 1
 * zeros between elements (a DILATE layer, when a stride is above 1), then
 * a CONV of stride 1 with the kernel flipped and its input and output
 * channels exchanged (per group), padded by dilation * (kernel - 1) - pads
 * (plus output_padding at the end). */
static int op_convtranspose(imp *m) {
    static const char *const ok[] = {"auto_pad",     "dilations",      "group",
                                     "kernel_shape", "output_padding", "output_shape",
                                     "pads",         "strides",        NULL};
    unsigned x;
    const ctensor *W, *B;
    TRY(weighted_inputs(m, ok, &x, &W, &B));
    const nn_shape xs = *imp_vshape(m, x);
    char a[96], b[96], ap[32];
    if (xs.rank != 3 && xs.rank != 4)
        return imp_err(m, PARLEY_E_UNSUPPORTED, "input %s is not N x C x H x W or N x C x W",
                       imp_shp(a, sizeof a, &xs));
    if (W->shape.rank != xs.rank || W->shape.d[0] != xs.d[1])
        return imp_err(m, PARLEY_E_FORMAT, "weights %s do not match the input %s",
                       imp_shp(a, sizeof a, &W->shape), imp_shp(b, sizeof b, &xs));
    TRY(imp_attr_s(m, "auto_pad", "NOTSET", ap, sizeof ap));
    int upper = !strcmp(ap, "SAME_UPPER"), same = upper || !strcmp(ap, "SAME_LOWER");
    if (!same && strcmp(ap, "NOTSET") != 0 && strcmp(ap, "VALID") != 0 && ap[0])
        return imp_err(m, PARLEY_E_UNSUPPORTED, "auto_pad '%s' is not supported", ap);
    int64_t group;
    TRY(imp_attr_i_range(m, "group", 1, 1, xs.d[1], &group));
    unsigned C = xs.d[1], g = (unsigned)group, nsp = xs.rank - 2;
    if (C % g) return imp_err(m, PARLEY_E_FORMAT, "%u input channels in %u groups", C, g);
    unsigned cg = C / g, og = W->shape.d[1];
    uint64_t O = (uint64_t)og * g;
    if (O > UINT32_MAX) return imp_err(m, PARLEY_E_UNSUPPORTED, "too many output channels");
    window w;
    unsigned opad[2];
    TRY(read_window(m, &w, nsp, xs.d + 2, W->shape.d + 2, 1));
    TRY(read_list(m, "output_padding", nsp, 0, 0, opad));
    /* The pads: given, or from output_shape (or, with SAME_*, the input
     * times the strides) as ONNX says: the total padding that gives that
     * size, split in halves (floor), the larger half at the end for
     * SAME_UPPER, else at the start. */
    const int64_t *os;
    size_t nos;
    int64_t plo[2] = {w.lo[0], w.lo[1]}, phi[2] = {w.hi[0], w.hi[1]};
    TRY(imp_attr_ints(m, "output_shape", &os, &nos));
    if (os && nos != nsp && nos != nsp + 2)
        return imp_err(m, PARLEY_E_FORMAT, "output_shape has %zu entries", nos);
    for (unsigned i = 0; i < nsp && (os || same); i++) {
        int64_t want = os ? os[nos - nsp + i] : (int64_t)xs.d[2 + i] * w.st[i];
        if (want < 1 || want > UINT32_MAX)
            return imp_err(m, PARLEY_E_UNSUPPORTED, "output size %lld", (long long)want);
        int64_t total = (int64_t)w.st[i] * (xs.d[2 + i] - 1) + opad[i] +
                        (int64_t)(w.k[i] - 1) * w.dl[i] + 1 - want;
        int64_t half = total >= 0 ? total / 2 : -((-total + 1) / 2);
        plo[i] = upper ? half : total - half;
        phi[i] = upper ? total - half : half;
    }
    unsigned lo[2], hi[2];
    uint32_t f[NN_MAX_RANK] = {0};
    int dil = 0;
    nn_shape ds = xs;
    for (unsigned d = 0; d < xs.rank; d++)
        f[d] = 1;
    for (unsigned i = 0; i < nsp; i++) {
        int64_t ext = (int64_t)w.dl[i] * (w.k[i] - 1);
        int64_t l2 = ext - plo[i], h2 = ext - phi[i] + opad[i];
        if (l2 < 0 || h2 < 0)
            return imp_err(m, PARLEY_E_UNSUPPORTED,
                           "pads larger than dilation x (kernel - 1) are not supported");
        if (l2 > MAX_ATTR_VALUE || h2 > MAX_ATTR_VALUE)
            return imp_err(m, PARLEY_E_UNSUPPORTED, "output too large");
        lo[i] = (unsigned)l2;
        hi[i] = (unsigned)h2;
        f[2 + i] = w.st[i];
        dil |= w.st[i] > 1;
        uint64_t e = (uint64_t)(xs.d[2 + i] - 1) * w.st[i] + 1;
        if (e > UINT32_MAX) return imp_err(m, PARLEY_E_UNSUPPORTED, "result too large");
        ds.d[2 + i] = (uint32_t)e;
    }
    lin_conv c = {
        .N = xs.d[0], .C = C, .O = (unsigned)O, .groups = g, .wbits = 1, .sh = 1, .sw = 1};
    if (nsp == 2) {
        c.H = ds.d[2], c.W = ds.d[3], c.kh = w.k[0], c.kw = w.k[1], c.dh = w.dl[0], c.dw = w.dl[1];
        c.pt = lo[0], c.pb = hi[0], c.pl = lo[1], c.pr = hi[1];
    } else {
        c.H = 1, c.W = ds.d[2], c.kh = 1, c.kw = w.k[0], c.dh = 1, c.dw = w.dl[0];
        c.pl = lo[0], c.pr = hi[0];
    }
    if (lin_conv_check(&c) < 0) return imp_err(m, PARLEY_E_UNSUPPORTED, "%s", err_msg());
    if (B && B->n != O)
        return imp_err(m, PARLEY_E_FORMAT, "bias has %zu elements for %llu output channels", B->n,
                       (unsigned long long)O);
    nn_shape ys = {.rank = xs.rank, .d = {c.N, c.O}};
    if (nsp == 2)
        ys.d[2] = c.OH, ys.d[3] = c.OW;
    else
        ys.d[2] = c.OW;
    /* W is C x og x kh x kw; the conv's weights O x cg x kh x kw. */
    size_t kk = (size_t)c.kh * c.kw, nw = (size_t)O * cg * kk;
    float *wf = mem_alloc(nw, sizeof *wf), *bf = B ? imp_const_floats(B) : NULL;
    if (!wf || (B && !bf)) {
        mem_free(wf);
        mem_free(bf);
        return PARLEY_E_NOMEM;
    }
    for (size_t o = 0; o < O; o++)
        for (size_t cl = 0; cl < cg; cl++)
            for (size_t t = 0; t < kk; t++) {
                size_t ci = (o / og) * cg + cl, ol = o % og;
                wf[(o * cg + cl) * kk + t] =
                    (float)imp_const_f(W, (ci * og + ol) * kk + kk - 1 - t);
            }
    unsigned in = x, y = 0;
    int rc = 0;
    if (dil) {
        fnode *n;
        rc = move_node(m, &n, QOP_DILATE, x, -1, &ds, &in, "#dilate");
        if (rc == 0) memcpy(n->p.factor, f, sizeof f);
    }
    if (rc == 0) rc = imp_out_value(m, 0, &ys, &y);
    return add_weighted(m, rc, QOP_CONV, in, y, &c, sizeof c, wf, bf);
}

/* Value x repeated rep[d] times along each axis d into the node's output:
 * along each axis repeated r > 1 times, a CONCAT of r copies of the tensor
 * so far (local on shares); an alias of x when every rep is 1. */
static int tile_value(imp *m, unsigned x, const int64_t *rep) {
    nn_shape cur = *imp_vshape(m, x);
    unsigned last = cur.rank; /* the last axis repeated */
    uint64_t total = nn_shape_count(&cur);
    for (unsigned d = 0; d < cur.rank; d++) {
        if (rep[d] < 1)
            return imp_err(m, PARLEY_E_UNSUPPORTED,
                           "repeat %lld of axis %u is not supported (an empty result)",
                           (long long)rep[d], d);
        if (rep[d] > QNET_MAX_INPUTS || (uint64_t)cur.d[d] * (uint64_t)rep[d] > UINT32_MAX)
            return imp_err(m, PARLEY_E_UNSUPPORTED, "repeat %lld of axis %u is too large",
                           (long long)rep[d], d);
        total *= (uint64_t)rep[d];
        if (total > ((uint64_t)1 << 28))
            return imp_err(m, PARLEY_E_UNSUPPORTED, "the result is too large");
        if (rep[d] > 1) last = d;
    }
    if (last == cur.rank) {
        sym s = {.kind = SYM_VALUE, .value = x};
        return imp_out_alias(m, 0, &s);
    }
    unsigned *in = mem_alloc(QNET_MAX_INPUTS, sizeof *in);
    if (!in) return PARLEY_E_NOMEM;
    int rc = 0;
    for (unsigned d = 0; d <= last && rc == 0; d++) {
        if (rep[d] == 1) continue;
        for (int64_t k = 0; k < rep[d]; k++)
            in[k] = x;
        cur.d[d] *= (uint32_t)rep[d];
        fnode *n;
        rc = d == last ? imp_out_value(m, 0, &cur, &x)
                       : fgraph_value(m->g, &x, imp_gen_name(m, "#tile"), &cur);
        if (rc == 0) rc = imp_add_node(m, &n, QOP_CONCAT, in, (unsigned)rep[d], x);
        if (rc == 0) n->p.axis = d;
    }
    mem_free(in);
    return rc;
}

/* Tile with constant repeats (input 1). */
static int op_tile(imp *m) {
    TRY(imp_attrs_allowed(m, (const char *const[]){NULL}));
    unsigned x;
    TRY(imp_in_value(m, 0, &x));
    int64_t rep[NN_MAX_RANK];
    size_t nr;
    sym *rs;
    TRY(imp_in_sym(m, 1, &rs));
    if (rs->kind != SYM_CONST)
        return imp_err(m, PARLEY_E_UNSUPPORTED, "the repeats (input 1) must be a constant");
    TRY(imp_in_ints(m, 1, rep, &nr, NN_MAX_RANK));
    if (nr != imp_vshape(m, x)->rank)
        return imp_err(m, PARLEY_E_FORMAT, "%zu repeats for rank %u", nr, imp_vshape(m, x)->rank);
    return tile_value(m, x, rep);
}

/* Expand to a constant shape (numpy broadcasting): a RESHAPE that
 * prepends axes of 1 when the rank grows, then the axes of 1 repeated as
 * Tile does (PyTorch's x.repeat exports Expand then Tile). */
static int op_expand(imp *m) {
    TRY(imp_attrs_allowed(m, (const char *const[]){NULL}));
    unsigned x;
    TRY(imp_in_value(m, 0, &x));
    const nn_shape xs = *imp_vshape(m, x);
    int64_t sh[NN_MAX_RANK], rep[NN_MAX_RANK];
    size_t ns;
    sym *ss;
    TRY(imp_in_sym(m, 1, &ss));
    if (ss->kind != SYM_CONST)
        return imp_err(m, PARLEY_E_UNSUPPORTED, "the shape (input 1) must be a constant");
    TRY(imp_in_ints(m, 1, sh, &ns, NN_MAX_RANK));
    nn_shape want = {.rank = (unsigned)ns}, ys, xr = {.rank = 0};
    char s1[96], s2[96];
    for (size_t d = 0; d < ns; d++) {
        if (sh[d] < 1 || sh[d] > UINT32_MAX)
            return imp_err(m, PARLEY_E_UNSUPPORTED, "shape entry %lld is not supported",
                           (long long)sh[d]);
        want.d[d] = (uint32_t)sh[d];
    }
    if (nn_shape_broadcast(&ys, &xs, &want) < 0)
        return imp_err(m, PARLEY_E_FORMAT, "input %s does not broadcast to %s",
                       imp_shp(s1, sizeof s1, &xs), imp_shp(s2, sizeof s2, &want));
    for (unsigned d = 0; d + xs.rank < ys.rank; d++)
        xr.d[xr.rank++] = 1;
    for (unsigned d = 0; d < xs.rank; d++)
        xr.d[xr.rank++] = xs.d[d];
    for (unsigned d = 0; d < ys.rank; d++)
        rep[d] = ys.d[d] / xr.d[d];
    int all1 = 1;
    for (unsigned d = 0; d < ys.rank; d++)
        all1 &= rep[d] == 1;
    if (xr.rank != xs.rank) { /* only new axes: the reshape is the result */
        fnode *n;
        unsigned r;
        TRY(all1 ? imp_out_value(m, 0, &ys, &r)
                 : fgraph_value(m->g, &r, imp_gen_name(m, "#rank"), &xr));
        TRY(imp_add_node(m, &n, QOP_RESHAPE, &x, 1, r));
        if (all1) return 0;
        x = r;
    }
    return tile_value(m, x, rep);
}

/* InstanceNormalization normalises by each instance's own mean and
 * variance: statistics of the client's secret input, a secret division
 * and square root, not an affine map with constants. Refused, saying so. */
static int op_instance_norm(imp *m) {
    return imp_err(m, PARLEY_E_UNSUPPORTED,
                   "InstanceNormalization is not supported: it divides by the standard "
                   "deviation of each instance of the secret input (not an affine map with "
                   "constants that could be folded; BatchNormalization in inference mode is)");
}

const imp_op imp_layer_ops[] = {
    {"Conv", op_conv},
    {"Gemm", op_gemm},
    {"MatMul", op_matmul},
    {"Add", op_arith},
    {"Sub", op_arith},
    {"Mul", op_arith},
    {"Div", op_arith},
    {"BatchNormalization", op_batchnorm},
    {"MaxPool", op_pool},
    {"AveragePool", op_pool},
    {"GlobalAveragePool", op_global_pool},
    {"GlobalMaxPool", op_global_pool},
    {"Concat", op_concat},
    {"Flatten", op_flatten},
    {"Reshape", op_reshape},
    {"Squeeze", op_squeeze},
    {"Unsqueeze", op_unsqueeze},
    {"Transpose", op_transpose},
    {"Pad", op_pad},
    {"Identity", op_identity},
    {"Dropout", op_dropout},
    {"Constant", op_constant},
    {"ArgMax", op_argmax},
    {"Softmax", op_softmax},
    {"Clip", op_clip},
    {"LeakyRelu", op_leaky_relu},
    {"PRelu", op_prelu},
    {"HardSigmoid", op_hard_sigmoid},
    /* data movement and sums (ops-move) */
    {"Split", op_split},
    {"Resize", op_resize},
    {"Upsample", op_resize},
    {"ReduceMean", op_reduce},
    {"ReduceSum", op_reduce},
    {"ConvTranspose", op_convtranspose},
    {"HardSwish", op_hard_swish},
    /* data movement and linear maps (ops-move3) */
    {"Tile", op_tile},
    {"Expand", op_expand},
    {"InstanceNormalization", op_instance_norm},
    {NULL, NULL},
};
