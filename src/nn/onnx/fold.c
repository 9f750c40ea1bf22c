/* Operators evaluated on constants at import time.
 *
 * Exporters compute shapes and pads with small subgraphs (PyTorch's
 * ZeroPad2d becomes ConstantOfShape, Concat, Reshape, Slice with a negative
 * step, Transpose and Cast; x.view(x.size(0), -1) becomes Shape, Gather,
 * Unsqueeze, Concat and Reshape). All shapes are fixed at load, so these
 * are constants: parley folds them and the layers see plain numbers. A
 * node here that reads a computed tensor (other than Shape, which only
 * reads its shape, and Slice, which becomes a SLICE layer) is an error
 * naming the node. */
#include "nn/onnx/imp.h"

#include "util/mem.h"

#include <math.h>
#include <string.h>

/* A new constant owning a zeroed array of the shape's element count. */
static int const_make(ctensor *c, const nn_shape *s, int is_int) {
    memset(c, 0, sizeof *c);
    TRY(nn_shape_check(&c->n, s));
    c->shape = *s;
    c->is_int = is_int;
    c->own = mem_calloc(c->n, is_int ? sizeof(int64_t) : sizeof(float));
    if (!c->own) return PARLEY_E_NOMEM;
    if (is_int)
        c->i = c->own;
    else
        c->f = c->own;
    return 0;
}

static void const_set(ctensor *c, size_t i, double v, int64_t iv) {
    if (c->is_int)
        ((int64_t *)c->own)[i] = iv;
    else
        ((float *)c->own)[i] = (float)v;
}

static int bind_new(imp *m, ctensor *c) {
    return imp_bind_const(m, imp_out_name(m, 0), c);
}

static int const_in(imp *m, unsigned k, const ctensor **c, const char *what) {
    sym *s;
    *c = NULL;
    TRY(imp_in_sym(m, k, &s));
    if (s->kind != SYM_CONST)
        return imp_err(m, PARLEY_E_UNSUPPORTED, "%s of a computed tensor is not supported", what);
    *c = &s->c;
    return 0;
}

static int op_shape(imp *m) {
    static const char *const ok[] = {"start", "end", NULL};
    TRY(imp_attrs_allowed(m, ok));
    const nn_shape *xs = imp_in_shape(m, 0);
    if (!xs) return PARLEY_E_FORMAT;
    int64_t r = xs->rank, a, b;
    TRY(imp_attr_i(m, "start", 0, &a));
    TRY(imp_attr_i(m, "end", r, &b));
    if (a < 0) a += r;
    if (b < 0) b += r;
    a = a < 0 ? 0 : a > r ? r : a;
    b = b < 0 ? 0 : b > r ? r : b;
    if (b <= a) return imp_err(m, PARLEY_E_UNSUPPORTED, "an empty shape is not supported");
    nn_shape s = {.rank = 1, .d = {(uint32_t)(b - a)}};
    ctensor c;
    TRY(const_make(&c, &s, 1));
    for (int64_t k = a; k < b; k++)
        const_set(&c, (size_t)(k - a), 0, xs->d[k]);
    return bind_new(m, &c);
}

static int op_cast(imp *m) {
    static const char *const ok[] = {"to", "saturate", NULL};
    TRY(imp_attrs_allowed(m, ok));
    int64_t to;
    TRY(imp_attr_i(m, "to", 0, &to));
    int to_float = imp_dtype_is_float((int)to) || to == ONNX__TENSOR_PROTO__DATA_TYPE__FLOAT16;
    if (!to_float && !imp_dtype_size((int)to))
        return imp_err(m, PARLEY_E_UNSUPPORTED, "cast to %s is not supported",
                       imp_dtype_name((int)to));
    sym *s;
    TRY(imp_in_sym(m, 0, &s));
    if (s->kind == SYM_VALUE) {
        if (!to_float)
            return imp_err(m, PARLEY_E_UNSUPPORTED,
                           "cast of a computed tensor to %s is not supported",
                           imp_dtype_name((int)to));
        return imp_out_alias(m, 0, s); /* fixed point stands for any float type */
    }
    const ctensor *x = &s->c;
    ctensor c;
    TRY(const_make(&c, &x->shape, !to_float));
    for (size_t i = 0; i < x->n; i++) {
        double v = imp_const_f(x, i);
        int64_t iv = x->is_int ? imp_const_i(x, i) : imp_d2i(v);
        if (to == ONNX__TENSOR_PROTO__DATA_TYPE__BOOL) iv = v != 0;
        const_set(&c, i, v, iv);
    }
    return bind_new(m, &c);
}

static int op_constant_of_shape(imp *m) {
    static const char *const ok[] = {"value", NULL};
    TRY(imp_attrs_allowed(m, ok));
    int64_t d[NN_MAX_RANK];
    size_t n;
    TRY(imp_in_ints(m, 0, d, &n, NN_MAX_RANK));
    nn_shape s = {.rank = (unsigned)n};
    for (size_t k = 0; k < n; k++) {
        if (d[k] < 1 || d[k] > UINT32_MAX)
            return imp_err(m, PARLEY_E_UNSUPPORTED, "dimension %lld is not supported",
                           (long long)d[k]);
        s.d[k] = (uint32_t)d[k];
    }
    double v = 0;
    int is_int = 0;
    const Onnx__AttributeProto *a = imp_attr(m, "value");
    if (a) {
        ctensor t;
        if (!a->t) return imp_err(m, PARLEY_E_FORMAT, "attribute 'value' holds no tensor");
        TRY(imp_const_from_proto(&t, a->t, "value"));
        if (t.n != 1) return imp_err(m, PARLEY_E_FORMAT, "attribute 'value' is not one element");
        v = imp_const_f(&t, 0);
        is_int = t.is_int;
    }
    ctensor c;
    TRY(const_make(&c, &s, is_int));
    for (size_t i = 0; i < c.n; i++)
        const_set(&c, i, v, imp_d2i(v));
    return bind_new(m, &c);
}

/* Numpy broadcasting of two shapes. */
static int broadcast(imp *m, nn_shape *out, const nn_shape *a, const nn_shape *b) {
    unsigned r = a->rank > b->rank ? a->rank : b->rank;
    out->rank = r;
    for (unsigned k = 0; k < r; k++) {
        uint32_t x = k + a->rank >= r ? a->d[k + a->rank - r] : 1;
        uint32_t y = k + b->rank >= r ? b->d[k + b->rank - r] : 1;
        if (x != y && x != 1 && y != 1) {
            char s1[96], s2[96];
            return imp_err(m, PARLEY_E_FORMAT, "shapes %s and %s do not broadcast",
                           imp_shp(s1, sizeof s1, a), imp_shp(s2, sizeof s2, b));
        }
        out->d[k] = x > y ? x : y;
    }
    return 0;
}

/* Flat index into `s` (right-aligned in the rank-r multi-index idx). */
static size_t bindex(const nn_shape *s, const uint32_t *idx, unsigned r) {
    size_t i = 0;
    for (unsigned k = 0; k < s->rank; k++) {
        uint32_t d = s->d[k];
        i = i * d + (d == 1 ? 0 : idx[k + r - s->rank]);
    }
    return i;
}

int imp_fold_arith(imp *m, const ctensor *a, const ctensor *b, char op) {
    nn_shape s;
    TRY(broadcast(m, &s, &a->shape, &b->shape));
    int is_int = a->is_int && b->is_int;
    ctensor c;
    TRY(const_make(&c, &s, is_int));
    uint32_t idx[NN_MAX_RANK] = {0};
    for (size_t i = 0; i < c.n; i++) {
        size_t ia = bindex(&a->shape, idx, s.rank), ib = bindex(&b->shape, idx, s.rank);
        double x = imp_const_f(a, ia), y = imp_const_f(b, ib), v = 0;
        int64_t p = is_int ? imp_const_i(a, ia) : 0, q = is_int ? imp_const_i(b, ib) : 0, iv = 0;
        switch (op) {
        case '+':
            v = x + y, iv = (int64_t)((uint64_t)p + (uint64_t)q);
            break;
        case '-':
            v = x - y, iv = (int64_t)((uint64_t)p - (uint64_t)q);
            break;
        case '*':
            v = x * y, iv = (int64_t)((uint64_t)p * (uint64_t)q);
            break;
        default:
            if (is_int && (q == 0 || (p == INT64_MIN && q == -1))) {
                mem_free(c.own);
                return imp_err(m, PARLEY_E_UNSUPPORTED, "integer division by zero");
            }
            v = x / y, iv = is_int ? p / q : 0;
        }
        const_set(&c, i, v, iv);
        for (unsigned k = s.rank; k-- > 0;) {
            if (++idx[k] < s.d[k]) break;
            idx[k] = 0;
        }
    }
    return bind_new(m, &c);
}

int imp_fold_concat(imp *m, unsigned axis) {
    unsigned nin = (unsigned)m->node->n_input;
    const ctensor *first;
    TRY(const_in(m, 0, &first, "Concat"));
    nn_shape s = first->shape;
    if (axis >= s.rank) return imp_err(m, PARLEY_E_FORMAT, "axis out of range");
    uint64_t sum = 0;
    int is_int = 1;
    for (unsigned k = 0; k < nin; k++) {
        const ctensor *c;
        TRY(const_in(m, k, &c, "Concat"));
        for (unsigned d = 0; d < s.rank; d++)
            if (c->shape.rank != s.rank || (d != axis && c->shape.d[d] != s.d[d]))
                return imp_err(m, PARLEY_E_FORMAT, "operands do not fit together");
        sum += c->shape.d[axis];
        is_int &= c->is_int;
    }
    if (sum > NN_MAX_ELEMS) return imp_err(m, PARLEY_E_UNSUPPORTED, "result too large");
    s.d[axis] = (uint32_t)sum;
    size_t outer = 1, inner = 1, at = 0;
    for (unsigned d = 0; d < axis; d++)
        outer *= s.d[d];
    for (unsigned d = axis + 1; d < s.rank; d++)
        inner *= s.d[d];
    ctensor out;
    TRY(const_make(&out, &s, is_int));
    for (size_t o = 0; o < outer; o++)
        for (unsigned k = 0; k < nin; k++) {
            const ctensor *c;
            if (const_in(m, k, &c, "Concat") < 0) continue; /* checked above */
            size_t len = c->shape.d[axis] * inner;
            for (size_t j = 0; j < len; j++)
                const_set(&out, at++, imp_const_f(c, o * len + j),
                          c->is_int ? imp_const_i(c, o * len + j) : 0);
        }
    return bind_new(m, &out);
}

/* ONNX Slice on one axis: clamp start/end for the step's direction. */
static int slice_axis(int64_t dim, int64_t start, int64_t end, int64_t step, int64_t *s0,
                      int64_t *count) {
    if (step == 0) return -1;
    if (start < 0) start += dim;
    if (end < 0) end += dim;
    if (step > 0) {
        start = start < 0 ? 0 : start > dim ? dim : start;
        end = end < 0 ? 0 : end > dim ? dim : end;
        *count = end > start ? (end - start + step - 1) / step : 0;
    } else {
        start = start < 0 ? 0 : start > dim - 1 ? dim - 1 : start;
        end = end < -1 ? -1 : end > dim - 1 ? dim - 1 : end;
        *count = start > end ? (start - end + (-step) - 1) / (-step) : 0;
    }
    *s0 = start;
    return 0;
}

/* Slice of a computed tensor: a SLICE layer (positive steps). */
static int slice_value(imp *m, unsigned x, const int64_t *s0, const int64_t *step,
                       const nn_shape *ys) {
    unsigned r = ys->rank, y;
    for (unsigned d = 0; d < r; d++)
        if (step[d] < 1 || step[d] > UINT32_MAX)
            return imp_err(m, PARLEY_E_UNSUPPORTED,
                           "a negative step on a computed tensor is not supported");
    int whole = nn_shape_eq(ys, imp_vshape(m, x));
    for (unsigned d = 0; d < r; d++)
        whole &= s0[d] == 0 && step[d] == 1;
    sym *in;
    TRY(imp_in_sym(m, 0, &in));
    if (whole) return imp_out_alias(m, 0, in); /* the whole tensor */
    fnode *n;
    TRY(imp_out_value(m, 0, ys, &y));
    TRY(imp_add_node(m, &n, QOP_SLICE, &x, 1, y));
    for (unsigned d = 0; d < r; d++) {
        n->p.slice.start[d] = (uint32_t)s0[d];
        n->p.slice.step[d] = (uint32_t)step[d];
    }
    return 0;
}

static int op_slice(imp *m) {
    static const char *const ok[] = {"starts", "ends", "axes", NULL};
    TRY(imp_attrs_allowed(m, ok));
    sym *in;
    TRY(imp_in_sym(m, 0, &in));
    const ctensor *x = in->kind == SYM_CONST ? &in->c : NULL;
    const nn_shape *xs = x ? &x->shape : imp_vshape(m, in->value);
    unsigned r = xs->rank, xv = in->value;
    int64_t st[NN_MAX_RANK], en[NN_MAX_RANK], ax[NN_MAX_RANK], sp[NN_MAX_RANK];
    size_t ns, ne, na = 0, np = 0;
    if (m->opset < 10) {
        const int64_t *a, *b, *c;
        TRY(imp_attr_ints(m, "starts", &a, &ns));
        TRY(imp_attr_ints(m, "ends", &b, &ne));
        TRY(imp_attr_ints(m, "axes", &c, &na));
        if (!a || !b || ns > NN_MAX_RANK || ne > NN_MAX_RANK || na > NN_MAX_RANK)
            return imp_err(m, PARLEY_E_FORMAT, "bad starts/ends/axes");
        memcpy(st, a, ns * sizeof *st);
        memcpy(en, b, ne * sizeof *en);
        if (c) memcpy(ax, c, na * sizeof *ax);
    } else {
        TRY(imp_in_ints(m, 1, st, &ns, NN_MAX_RANK));
        TRY(imp_in_ints(m, 2, en, &ne, NN_MAX_RANK));
        if (imp_has_in(m, 3)) TRY(imp_in_ints(m, 3, ax, &na, NN_MAX_RANK));
        if (imp_has_in(m, 4)) TRY(imp_in_ints(m, 4, sp, &np, NN_MAX_RANK));
    }
    if (ne != ns || (na && na != ns) || (np && np != ns))
        return imp_err(m, PARLEY_E_FORMAT, "starts, ends, axes and steps differ in length");
    int64_t s0[NN_MAX_RANK], step[NN_MAX_RANK];
    nn_shape ys = *xs;
    for (unsigned d = 0; d < r; d++)
        s0[d] = 0, step[d] = 1;
    unsigned seen = 0;
    for (size_t k = 0; k < ns; k++) {
        unsigned a = (unsigned)k;
        if (na)
            TRY(imp_axis_norm(m, ax[k], r, 0, &a));
        else if (k >= r)
            return imp_err(m, PARLEY_E_FORMAT, "more starts than dimensions");
        if (seen >> a & 1) return imp_err(m, PARLEY_E_FORMAT, "axis %u sliced twice", a);
        seen |= 1u << a;
        int64_t cnt;
        step[a] = np ? sp[k] : 1;
        if (slice_axis(xs->d[a], st[k], en[k], step[a], &s0[a], &cnt) < 0)
            return imp_err(m, PARLEY_E_FORMAT, "a step is zero");
        if (cnt < 1) return imp_err(m, PARLEY_E_UNSUPPORTED, "an empty slice is not supported");
        ys.d[a] = (uint32_t)cnt;
    }
    if (!x) return slice_value(m, xv, s0, step, &ys);
    ctensor c;
    TRY(const_make(&c, &ys, x->is_int));
    size_t xst[NN_MAX_RANK], acc = 1;
    for (unsigned d = r; d-- > 0;)
        xst[d] = acc, acc *= x->shape.d[d];
    uint32_t idx[NN_MAX_RANK] = {0};
    for (size_t i = 0; i < c.n; i++) {
        size_t off = 0;
        for (unsigned d = 0; d < r; d++)
            off += (size_t)(s0[d] + (int64_t)idx[d] * step[d]) * xst[d];
        const_set(&c, i, imp_const_f(x, off), x->is_int ? imp_const_i(x, off) : 0);
        for (unsigned d = r; d-- > 0;) {
            if (++idx[d] < ys.d[d]) break;
            idx[d] = 0;
        }
    }
    return bind_new(m, &c);
}

/* Gather of a computed tensor with constant indices: the indices, in
 * order, cut into runs that step evenly upwards (3, 4, 5 or 0, 2, 4; a
 * repeated or descending index starts a new run), one SLICE per run along
 * the axis, their CONCAT, and a RESHAPE to the Gather's shape. All local
 * on shares. */
#define GATHER_MAX_RUNS 4096

static int gather_value(imp *m, unsigned x, unsigned a, const ctensor *ind, const nn_shape *ys) {
    const nn_shape xs = *imp_vshape(m, x);
    size_t n = ind->n, nruns = 0;
    unsigned *runs = mem_alloc(n ? n : 1, sizeof *runs);
    if (!runs) return PARLEY_E_NOMEM;
    int rc = 0;
    nn_shape cs = xs; /* the CONCAT's shape: the axis has n elements */
    cs.d[a] = (uint32_t)n;
    int direct = nn_shape_eq(&cs, ys);
    for (size_t j = 0; j < n && rc == 0;) {
        int64_t dim = xs.d[a], v = imp_const_i(ind, j), v0 = v < 0 ? v + dim : v, step = 1;
        size_t len = 1;
        if (j + 1 < n) {
            int64_t w = imp_const_i(ind, j + 1);
            step = (w < 0 ? w + dim : w) - v0;
            if (step < 1) step = 1;
        }
        while (j + len < n) {
            int64_t w = imp_const_i(ind, j + len);
            if ((w < 0 ? w + dim : w) != v0 + (int64_t)len * step) break;
            len++;
        }
        if (++nruns > GATHER_MAX_RUNS) {
            rc = imp_err(m, PARLEY_E_UNSUPPORTED,
                         "the indices make more than %d runs of evenly spaced values", GATHER_MAX_RUNS);
            break;
        }
        nn_shape ss = xs;
        ss.d[a] = (uint32_t)len;
        int last = nruns == 1 && j + len == n; /* one run: the SLICE is the result */
        if (last && direct)
            rc = imp_out_value(m, 0, &ss, &runs[0]);
        else
            rc = fgraph_value(m->g, &runs[nruns - 1], imp_gen_name(m, "#run"), &ss);
        fnode *sl;
        if (rc == 0) rc = imp_add_node(m, &sl, QOP_SLICE, &x, 1, runs[nruns - 1]);
        if (rc == 0) {
            for (unsigned d = 0; d < xs.rank; d++)
                sl->p.slice.step[d] = 1;
            sl->p.slice.start[a] = (uint32_t)v0;
            sl->p.slice.step[a] = (uint32_t)step;
        }
        j += len;
    }
    unsigned c = runs[0], y;
    fnode *nd;
    int single = nruns == 1;
    if (rc == 0 && !single) {
        rc = direct ? imp_out_value(m, 0, &cs, &c) : fgraph_value(m->g, &c, imp_gen_name(m, "#cat"), &cs);
        if (rc == 0) rc = imp_add_node(m, &nd, QOP_CONCAT, runs, (unsigned)nruns, c);
        if (rc == 0) nd->p.axis = a;
    }
    mem_free(runs);
    if (rc < 0 || direct) return rc;
    TRY(imp_out_value(m, 0, ys, &y));
    return imp_add_node(m, &nd, QOP_RESHAPE, &c, 1, y);
}

static int op_gather(imp *m) {
    static const char *const ok[] = {"axis", NULL};
    TRY(imp_attrs_allowed(m, ok));
    const ctensor *x = NULL, *ind;
    sym *xsym;
    TRY(imp_in_sym(m, 0, &xsym));
    if (xsym->kind == SYM_CONST) x = &xsym->c;
    else if (xsym->kind != SYM_VALUE) return imp_err(m, PARLEY_E_FORMAT, "input 0 is not available");
    unsigned xv = xsym->value;
    const nn_shape xs = x ? x->shape : *imp_vshape(m, xv);
    const char *iname = m->node->n_input > 1 ? imp_str(m->node->input[1]) : "";
    sym *isym;
    TRY(imp_in_sym(m, 1, &isym));
    if (isym->kind != SYM_CONST)
        return imp_err(m, PARLEY_E_UNSUPPORTED,
                       "the indices (input 1, '%.64s') must be a constant (a gather at secret "
                       "positions is not supported)",
                       iname);
    ind = &isym->c;
    int64_t a64;
    unsigned a;
    TRY(imp_attr_i(m, "axis", 0, &a64));
    TRY(imp_axis_norm(m, a64, xs.rank, 0, &a));
    /* Integral floats are taken too (a test's bound inputs arrive as floats). */
    for (size_t j = 0; j < ind->n && !ind->is_int; j++)
        if (imp_const_f(ind, j) != (double)imp_d2i(imp_const_f(ind, j)))
            return imp_err(m, PARLEY_E_FORMAT, "indices must be integers");
    nn_shape ys = {.rank = xs.rank - 1 + ind->shape.rank};
    if (ys.rank > NN_MAX_RANK) return imp_err(m, PARLEY_E_UNSUPPORTED, "result rank too large");
    unsigned k = 0;
    for (unsigned d = 0; d < a; d++)
        ys.d[k++] = xs.d[d];
    for (unsigned d = 0; d < ind->shape.rank; d++)
        ys.d[k++] = ind->shape.d[d];
    for (unsigned d = a + 1; d < xs.rank; d++)
        ys.d[k++] = xs.d[d];
    size_t outer = 1, inner = 1, dim = xs.d[a];
    for (unsigned d = 0; d < a; d++)
        outer *= xs.d[d];
    for (unsigned d = a + 1; d < xs.rank; d++)
        inner *= xs.d[d];
    for (size_t j = 0; j < ind->n; j++) {
        int64_t v = imp_const_i(ind, j);
        if (v < -(int64_t)dim || v >= (int64_t)dim)
            return imp_err(m, PARLEY_E_FORMAT,
                           "index %lld (element %zu of '%.64s') is out of range for axis %u of "
                           "size %zu (-%zu..%zu)",
                           (long long)v, j, iname, a, dim, dim, dim - 1);
    }
    if (!x) {
        if (ind->n < 1) return imp_err(m, PARLEY_E_UNSUPPORTED, "an empty result is not supported");
        if (ind->n > UINT32_MAX) return imp_err(m, PARLEY_E_UNSUPPORTED, "too many indices");
        return gather_value(m, xv, a, ind, &ys);
    }
    ctensor c;
    TRY(const_make(&c, &ys, x->is_int));
    size_t at = 0;
    for (size_t o = 0; o < outer; o++)
        for (size_t j = 0; j < ind->n; j++) {
            int64_t v = imp_const_i(ind, j);
            size_t row = (size_t)(v < 0 ? v + (int64_t)dim : v);
            for (size_t q = 0; q < inner; q++) {
                size_t off = (o * dim + row) * inner + q;
                const_set(&c, at++, imp_const_f(x, off), x->is_int ? imp_const_i(x, off) : 0);
            }
        }
    return bind_new(m, &c);
}

const imp_op imp_fold_ops[] = {
    {"Shape", op_shape}, {"Cast", op_cast},     {"ConstantOfShape", op_constant_of_shape},
    {"Slice", op_slice}, {"Gather", op_gather}, {NULL, NULL},
};
