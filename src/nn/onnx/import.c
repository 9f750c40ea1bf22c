/* ONNX import; see onnx.h. Operator semantics follow the ONNX operator
 * specification (docs/Operators.md of the ONNX project) for opsets 7-17.
 *
 * Each name of the ONNX graph is bound to a symbol: a value computed at run
 * time from the network input (an fgraph value), a constant (an
 * initializer, a Constant node, a bound graph input, or a shape operation
 * folded on constants), or "unavailable" (an output parley does not compute,
 * such as Dropout's mask), which is an error only if something reads it.
 * Nodes must come in topological order, as ONNX requires. */
#include "nn/onnx/onnx.h"

#include "nn/strmap.h"
#include "onnx.pb-c.h"
#include "util/mem.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#define MAX_ATTR_VALUE (1 << 20) /* kernels, strides, pads, dilations */
#define MAX_SHAPE_CONST 64       /* elements of a shape/axes/pads constant */

enum { SYM_VALUE, SYM_CONST, SYM_NONE };

/* A constant known at import time. Data comes from a TensorProto, or from
 * an array (owned when `own` is set, else borrowed from something that
 * outlives the import). */
typedef struct ctensor {
    nn_shape shape;
    size_t n;
    int is_int;
    int dtype; /* ONNX data type when src is set */
    const Onnx__TensorProto *src;
    const float *f;
    const int64_t *i;
    void *own;
} ctensor;

typedef struct sym {
    int kind;
    unsigned value;
    ctensor c;
    const char *why; /* SYM_NONE */
} sym;

typedef struct imp {
    fgraph *g;
    const onnx_opts *opts;
    const Onnx__GraphProto *graph;
    strmap map;
    sym *syms;
    unsigned nsyms, capsyms;
    int64_t opset;
    const Onnx__NodeProto *node;
    unsigned node_index;
    char nname[QNET_MAX_NAME + 1];
    char gen[QNET_MAX_NAME + 32]; /* scratch for generated value names */
} imp;

static const char *S(const char *s) { return s ? s : ""; }

static void printable(char *dst, size_t cap, const char *src) {
    size_t n = 0;
    for (; src && src[n] && n + 1 < cap; n++)
        dst[n] = (unsigned char)src[n] < 0x20 || (unsigned char)src[n] > 0x7e ? '?' : src[n];
    dst[n] = 0;
}

/* "node 'name' (Op): why" */
static int nerr(imp *m, int code, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static int nerr(imp *m, int code, const char *fmt, ...) {
    char why[400], op[64];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(why, sizeof why, fmt, ap);
    va_end(ap);
    printable(op, sizeof op, m->node ? m->node->op_type : "");
    return err_set(code, "node '%s' (%s): %s", m->nname, op, why);
}

/* ---- constants ----------------------------------------------------------- */

static unsigned dtype_size(int t) {
    switch (t) {
    case ONNX__TENSOR_PROTO__DATA_TYPE__FLOAT:
    case ONNX__TENSOR_PROTO__DATA_TYPE__INT32:
    case ONNX__TENSOR_PROTO__DATA_TYPE__UINT32: return 4;
    case ONNX__TENSOR_PROTO__DATA_TYPE__DOUBLE:
    case ONNX__TENSOR_PROTO__DATA_TYPE__INT64:
    case ONNX__TENSOR_PROTO__DATA_TYPE__UINT64: return 8;
    case ONNX__TENSOR_PROTO__DATA_TYPE__INT16:
    case ONNX__TENSOR_PROTO__DATA_TYPE__UINT16: return 2;
    case ONNX__TENSOR_PROTO__DATA_TYPE__INT8:
    case ONNX__TENSOR_PROTO__DATA_TYPE__UINT8:
    case ONNX__TENSOR_PROTO__DATA_TYPE__BOOL: return 1;
    default: return 0;
    }
}

static const char *dtype_name(int t) {
    static const char *const names[] = {"undefined", "float",  "uint8",     "int8",     "uint16",
                                        "int16",     "int32",  "int64",     "string",   "bool",
                                        "float16",   "double", "uint32",    "uint64",   "complex64",
                                        "complex128", "bfloat16"};
    return t >= 0 && t < (int)(sizeof names / sizeof *names) ? names[t] : "unknown";
}

static int is_float_type(int t) {
    return t == ONNX__TENSOR_PROTO__DATA_TYPE__FLOAT || t == ONNX__TENSOR_PROTO__DATA_TYPE__DOUBLE;
}

/* Check a TensorProto and describe it as a constant (no copy). */
static int ct_from_proto(ctensor *c, const Onnx__TensorProto *t, const char *what) {
    char nm[80];
    printable(nm, sizeof nm, t->name);
    memset(c, 0, sizeof *c);
    if (t->n_dims > NN_MAX_RANK)
        return err_set(PARLEY_E_UNSUPPORTED, "%s '%s' has %zu dimensions (at most %d)", what, nm,
                       t->n_dims, NN_MAX_RANK);
    c->shape.rank = (unsigned)t->n_dims;
    for (size_t i = 0; i < t->n_dims; i++) {
        if (t->dims[i] < 1 || t->dims[i] > UINT32_MAX)
            return err_set(PARLEY_E_UNSUPPORTED, "%s '%s' has a dimension of %lld", what, nm,
                           (long long)t->dims[i]);
        c->shape.d[i] = (uint32_t)t->dims[i];
    }
    if (nn_shape_check(&c->n, &c->shape) < 0) return err_wrap(PARLEY_E_UNSUPPORTED, "%s '%s'", what, nm);
    if ((t->has_data_location && t->data_location == ONNX__TENSOR_PROTO__DATA_LOCATION__EXTERNAL) ||
        t->n_external_data)
        return err_set(PARLEY_E_UNSUPPORTED,
                       "%s '%s' keeps its data in an external file, which parley does not read",
                       what, nm);
    if (t->segment) return err_set(PARLEY_E_UNSUPPORTED, "%s '%s' is segmented", what, nm);
    int dt = t->has_data_type ? t->data_type : 0;
    unsigned es = dtype_size(dt);
    if (!es)
        return err_set(PARLEY_E_UNSUPPORTED, "%s '%s' has data type %s, which parley does not take",
                       what, nm, dtype_name(dt));
    size_t have;
    if (t->has_raw_data) {
        if (t->raw_data.len / es != c->n || t->raw_data.len % es)
            return err_set(PARLEY_E_FORMAT, "%s '%s': raw_data holds %zu bytes for %zu elements", what,
                           nm, t->raw_data.len, c->n);
    } else {
        switch (dt) {
        case ONNX__TENSOR_PROTO__DATA_TYPE__FLOAT: have = t->n_float_data; break;
        case ONNX__TENSOR_PROTO__DATA_TYPE__DOUBLE: have = t->n_double_data; break;
        case ONNX__TENSOR_PROTO__DATA_TYPE__INT64: have = t->n_int64_data; break;
        case ONNX__TENSOR_PROTO__DATA_TYPE__UINT32:
        case ONNX__TENSOR_PROTO__DATA_TYPE__UINT64: have = t->n_uint64_data; break;
        default: have = t->n_int32_data; break;
        }
        if (have != c->n)
            return err_set(PARLEY_E_FORMAT, "%s '%s' holds %zu values for %zu elements", what, nm, have,
                           c->n);
    }
    c->src = t;
    c->dtype = dt;
    c->is_int = !is_float_type(dt);
    return 0;
}

static uint64_t le(const uint8_t *p, unsigned n) {
    uint64_t v = 0;
    for (unsigned i = 0; i < n; i++) v |= (uint64_t)p[i] << (8 * i);
    return v;
}

static double ct_f(const ctensor *c, size_t i) {
    if (c->f) return c->f[i];
    if (c->i) return (double)c->i[i];
    const Onnx__TensorProto *t = c->src;
    int dt = c->dtype;
    if (t->has_raw_data) {
        unsigned es = dtype_size(dt);
        uint64_t v = le(t->raw_data.data + i * es, es);
        switch (dt) {
        case ONNX__TENSOR_PROTO__DATA_TYPE__FLOAT: {
            uint32_t u = (uint32_t)v;
            float f;
            memcpy(&f, &u, 4);
            return f;
        }
        case ONNX__TENSOR_PROTO__DATA_TYPE__DOUBLE: {
            double f;
            memcpy(&f, &v, 8);
            return f;
        }
        case ONNX__TENSOR_PROTO__DATA_TYPE__INT64: return (double)(int64_t)v;
        case ONNX__TENSOR_PROTO__DATA_TYPE__INT32: return (double)(int32_t)(uint32_t)v;
        case ONNX__TENSOR_PROTO__DATA_TYPE__INT16: return (double)(int16_t)(uint16_t)v;
        case ONNX__TENSOR_PROTO__DATA_TYPE__INT8: return (double)(int8_t)(uint8_t)v;
        default: return (double)v;
        }
    }
    switch (dt) {
    case ONNX__TENSOR_PROTO__DATA_TYPE__FLOAT: return t->float_data[i];
    case ONNX__TENSOR_PROTO__DATA_TYPE__DOUBLE: return t->double_data[i];
    case ONNX__TENSOR_PROTO__DATA_TYPE__INT64: return (double)t->int64_data[i];
    case ONNX__TENSOR_PROTO__DATA_TYPE__UINT32:
    case ONNX__TENSOR_PROTO__DATA_TYPE__UINT64: return (double)t->uint64_data[i];
    default: return (double)t->int32_data[i];
    }
}

/* A double as int64, out-of-range values (and NaN) as INT64_MIN. */
static int64_t d2i(double v) {
    return v >= -9.2e18 && v <= 9.2e18 ? (int64_t)v : INT64_MIN;
}

static int64_t ct_i(const ctensor *c, size_t i) {
    if (c->i) return c->i[i];
    if (c->f) return d2i(c->f[i]);
    const Onnx__TensorProto *t = c->src;
    int dt = c->dtype;
    if (t->has_raw_data) {
        unsigned es = dtype_size(dt);
        uint64_t v = le(t->raw_data.data + i * es, es);
        switch (dt) {
        case ONNX__TENSOR_PROTO__DATA_TYPE__FLOAT:
        case ONNX__TENSOR_PROTO__DATA_TYPE__DOUBLE: return d2i(ct_f(c, i));
        case ONNX__TENSOR_PROTO__DATA_TYPE__INT32: return (int32_t)(uint32_t)v;
        case ONNX__TENSOR_PROTO__DATA_TYPE__INT16: return (int16_t)(uint16_t)v;
        case ONNX__TENSOR_PROTO__DATA_TYPE__INT8: return (int8_t)(uint8_t)v;
        default: return (int64_t)v;
        }
    }
    switch (dt) {
    case ONNX__TENSOR_PROTO__DATA_TYPE__FLOAT:
    case ONNX__TENSOR_PROTO__DATA_TYPE__DOUBLE: return d2i(ct_f(c, i));
    case ONNX__TENSOR_PROTO__DATA_TYPE__INT64: return t->int64_data[i];
    case ONNX__TENSOR_PROTO__DATA_TYPE__UINT32:
    case ONNX__TENSOR_PROTO__DATA_TYPE__UINT64: return (int64_t)t->uint64_data[i];
    default: return t->int32_data[i];
    }
}

/* A fresh float copy of a constant (the caller's to mem_free). */
static float *ct_floats(const ctensor *c) {
    float *f = mem_alloc(c->n ? c->n : 1, sizeof *f);
    if (!f) return NULL;
    if (c->src && c->src->has_raw_data && c->dtype == ONNX__TENSOR_PROTO__DATA_TYPE__FLOAT) {
        const uint8_t *p = c->src->raw_data.data;
        for (size_t i = 0; i < c->n; i++) {
            uint32_t u = (uint32_t)le(p + 4 * i, 4);
            memcpy(&f[i], &u, 4);
        }
    } else {
        for (size_t i = 0; i < c->n; i++) f[i] = (float)ct_f(c, i);
    }
    return f;
}

/* ---- symbols ------------------------------------------------------------- */

static int bind(imp *m, const char *name, const sym *s) {
    if (!name || !name[0]) return 0; /* an unnamed optional output */
    char nm[80];
    unsigned old;
    if (strmap_get(&m->map, name, &old)) {
        printable(nm, sizeof nm, name);
        return m->node ? nerr(m, PARLEY_E_FORMAT, "value '%s' is defined twice", nm)
                       : err_set(PARLEY_E_FORMAT, "value '%s' is defined twice", nm);
    }
    if (m->nsyms == m->capsyms) {
        unsigned ncap = m->capsyms ? m->capsyms * 2 : 64;
        sym *n = mem_calloc(ncap, sizeof *n);
        if (!n) return PARLEY_E_NOMEM;
        if (m->syms) memcpy(n, m->syms, m->nsyms * sizeof *n);
        mem_free(m->syms);
        m->syms = n;
        m->capsyms = ncap;
    }
    m->syms[m->nsyms] = *s;
    TRY(strmap_put(&m->map, name, m->nsyms));
    m->nsyms++;
    return 0;
}

static int bind_const(imp *m, const char *name, const ctensor *c) {
    sym s = {.kind = SYM_CONST, .c = *c};
    int rc = bind(m, name, &s);
    if (rc < 0) mem_free(c->own);
    return rc;
}

static int has_in(imp *m, unsigned k) {
    return k < m->node->n_input && m->node->input[k] && m->node->input[k][0];
}

static int in_sym(imp *m, unsigned k, sym **s) {
    char nm[80];
    if (!has_in(m, k)) return nerr(m, PARLEY_E_FORMAT, "input %u is missing", k);
    unsigned id;
    if (!strmap_get(&m->map, m->node->input[k], &id)) {
        printable(nm, sizeof nm, m->node->input[k]);
        return nerr(m, PARLEY_E_FORMAT,
                    "input '%s' is not defined before this node (nodes must be in topological order)",
                    nm);
    }
    *s = &m->syms[id];
    if ((*s)->kind == SYM_NONE) {
        printable(nm, sizeof nm, m->node->input[k]);
        return nerr(m, PARLEY_E_UNSUPPORTED, "reads '%s', which is %s", nm, (*s)->why);
    }
    return 0;
}

static int in_value(imp *m, unsigned k, unsigned *v) {
    sym *s;
    TRY(in_sym(m, k, &s));
    if (s->kind != SYM_VALUE) {
        char nm[80];
        printable(nm, sizeof nm, m->node->input[k]);
        return nerr(m, PARLEY_E_UNSUPPORTED,
                    "input %u ('%s') is a constant; parley needs it computed from the network input",
                    k, nm);
    }
    *v = s->value;
    return 0;
}

static int in_const(imp *m, unsigned k, const ctensor **c) {
    sym *s;
    TRY(in_sym(m, k, &s));
    if (s->kind != SYM_CONST) {
        char nm[80];
        printable(nm, sizeof nm, m->node->input[k]);
        return nerr(m, PARLEY_E_UNSUPPORTED,
                    "input %u ('%s') must be a constant (an initializer or a Constant node): the "
                    "server's weights cannot depend on the client's input",
                    k, nm);
    }
    *c = &s->c;
    return 0;
}

/* Integer constant input k as a short list (shapes, axes, pads). */
static int in_ints(imp *m, unsigned k, int64_t *v, size_t *n, size_t cap) {
    const ctensor *c;
    TRY(in_const(m, k, &c));
    if (c->shape.rank > 1 || c->n > cap)
        return nerr(m, PARLEY_E_UNSUPPORTED, "input %u must be a list of at most %zu integers", k, cap);
    for (size_t i = 0; i < c->n; i++) {
        /* Integral floats are taken too (a bound input arrives as floats). */
        if (!c->is_int && ct_f(c, i) != (double)d2i(ct_f(c, i)))
            return nerr(m, PARLEY_E_FORMAT, "input %u must hold integers", k);
        v[i] = ct_i(c, i);
    }
    *n = c->n;
    return 0;
}

static const char *out_name(imp *m, unsigned k) {
    return k < m->node->n_output ? m->node->output[k] : NULL;
}

static int out_value(imp *m, unsigned k, const nn_shape *shape, unsigned *v) {
    const char *name = out_name(m, k);
    if (!name || !name[0]) return nerr(m, PARLEY_E_FORMAT, "output %u has no name", k);
    unsigned id;
    int rc = fgraph_value(m->g, &id, name, shape);
    if (rc < 0) return err_wrap(rc, "node '%s'", m->nname);
    sym s = {.kind = SYM_VALUE, .value = id};
    TRY(bind(m, name, &s));
    if (v) *v = id;
    return 0;
}

static int out_alias(imp *m, unsigned k, const sym *src) {
    sym s = *src;
    s.c.own = NULL; /* the original keeps ownership */
    return bind(m, out_name(m, k), &s);
}

/* Outputs from k on are not computed; reading them is an error. */
static int outs_unavailable(imp *m, unsigned from, const char *why) {
    for (unsigned k = from; k < m->node->n_output; k++) {
        sym s = {.kind = SYM_NONE, .why = why};
        TRY(bind(m, m->node->output[k], &s));
    }
    return 0;
}

/* A name for an intermediate value the importer adds. */
static const char *gen_name(imp *m, const char *suffix) {
    snprintf(m->gen, sizeof m->gen, "%s%s", S(out_name(m, 0)), suffix);
    return m->gen;
}

static int add_node(imp *m, fnode **n, qop op, const unsigned *in, unsigned nin, unsigned out) {
    int rc = fgraph_node(m->g, n, op, m->nname, in, nin, out);
    return rc < 0 ? err_wrap(rc, "node '%s'", m->nname) : 0;
}

/* ---- attributes ---------------------------------------------------------- */

static const Onnx__AttributeProto *attr(imp *m, const char *name) {
    for (size_t i = 0; i < m->node->n_attribute; i++)
        if (strcmp(S(m->node->attribute[i]->name), name) == 0) return m->node->attribute[i];
    return NULL;
}

static int attr_type_is(const Onnx__AttributeProto *a, int type, int present) {
    return a->has_type ? (int)a->type == type : present;
}

static int attr_i(imp *m, const char *name, int64_t def, int64_t *v) {
    const Onnx__AttributeProto *a = attr(m, name);
    *v = def;
    if (!a) return 0;
    if (!attr_type_is(a, ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__INT, a->has_i))
        return nerr(m, PARLEY_E_FORMAT, "attribute '%s' must be an integer", name);
    *v = a->i;
    return 0;
}

static int attr_i_range(imp *m, const char *name, int64_t def, int64_t lo, int64_t hi,
                        int64_t *v) {
    TRY(attr_i(m, name, def, v));
    if (*v < lo || *v > hi)
        return nerr(m, PARLEY_E_UNSUPPORTED, "attribute %s = %lld is outside %lld..%lld", name,
                    (long long)*v, (long long)lo, (long long)hi);
    return 0;
}

static int attr_f(imp *m, const char *name, double def, double *v) {
    const Onnx__AttributeProto *a = attr(m, name);
    *v = def;
    if (!a) return 0;
    if (!attr_type_is(a, ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__FLOAT, a->has_f))
        return nerr(m, PARLEY_E_FORMAT, "attribute '%s' must be a float", name);
    *v = a->f;
    if (!isfinite(*v)) return nerr(m, PARLEY_E_UNSUPPORTED, "attribute '%s' is not finite", name);
    return 0;
}

/* NULL/0 when absent. */
static int attr_ints(imp *m, const char *name, const int64_t **v, size_t *n) {
    const Onnx__AttributeProto *a = attr(m, name);
    *v = NULL;
    *n = 0;
    if (!a) return 0;
    if (!attr_type_is(a, ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__INTS, 1))
        return nerr(m, PARLEY_E_FORMAT, "attribute '%s' must be a list of integers", name);
    *v = a->ints;
    *n = a->n_ints;
    return 0;
}

static int attr_s(imp *m, const char *name, const char *def, char *buf, size_t cap) {
    const Onnx__AttributeProto *a = attr(m, name);
    snprintf(buf, cap, "%s", def);
    if (!a) return 0;
    if (!attr_type_is(a, ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__STRING, a->has_s))
        return nerr(m, PARLEY_E_FORMAT, "attribute '%s' must be a string", name);
    size_t n = a->s.len < cap - 1 ? a->s.len : cap - 1;
    for (size_t i = 0; i < n; i++) buf[i] = (a->s.data[i] < 0x20 || a->s.data[i] > 0x7e) ? '?' : (char)a->s.data[i];
    buf[n] = 0;
    return 0;
}

/* Every attribute of the node must be in the NULL-terminated list. */
static int attrs_allowed(imp *m, const char *const *ok) {
    for (size_t i = 0; i < m->node->n_attribute; i++) {
        const char *name = S(m->node->attribute[i]->name);
        int found = 0;
        for (const char *const *p = ok; *p && !found; p++) found = strcmp(*p, name) == 0;
        if (!found) {
            char nm[80];
            printable(nm, sizeof nm, name);
            return nerr(m, PARLEY_E_UNSUPPORTED, "attribute '%s' is not supported", nm);
        }
    }
    return 0;
}

/* Normalise an axis in [-r, r) (or [-r, r] when `end` allows the end). */
static int axis_norm(imp *m, int64_t a, unsigned r, int end, unsigned *out) {
    int64_t hi = end ? r : (int64_t)r - 1;
    *out = 0;
    if (a < -(int64_t)r || a > hi)
        return nerr(m, PARLEY_E_UNSUPPORTED, "axis %lld is out of range for rank %u", (long long)a, r);
    *out = (unsigned)(a < 0 ? a + r : a);
    return 0;
}

/* ---- spatial windows (Conv, pools) --------------------------------------- */

typedef struct window {
    unsigned k[2], st[2], dl[2], lo[2], hi[2];
} window;

static int read_list(imp *m, const char *name, unsigned n, unsigned def, unsigned min,
                     unsigned *out) {
    const int64_t *v;
    size_t cnt;
    TRY(attr_ints(m, name, &v, &cnt));
    for (unsigned i = 0; i < n; i++) out[i] = def;
    if (!v) return 0;
    if (cnt != n) return nerr(m, PARLEY_E_FORMAT, "attribute '%s' has %zu values, expected %u", name, cnt, n);
    for (unsigned i = 0; i < n; i++) {
        if (v[i] < min || v[i] > MAX_ATTR_VALUE)
            return nerr(m, PARLEY_E_UNSUPPORTED, "attribute %s[%u] = %lld is outside %u..%d", name, i,
                        (long long)v[i], min, MAX_ATTR_VALUE);
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
    const Onnx__AttributeProto *a = attr(m, "kernel_shape");
    if (a || !kernel) {
        if (!a) return nerr(m, PARLEY_E_FORMAT, "attribute 'kernel_shape' is missing");
        TRY(read_list(m, "kernel_shape", nsp, 1, 1, ks));
        for (unsigned i = 0; kernel && i < nsp; i++)
            if (ks[i] != kernel[i])
                return nerr(m, PARLEY_E_FORMAT, "kernel_shape does not match the weights");
    } else {
        for (unsigned i = 0; i < nsp; i++) ks[i] = kernel[i];
    }
    memcpy(w->k, ks, sizeof ks);
    TRY(read_list(m, "strides", nsp, 1, 1, w->st));
    if (dilations) TRY(read_list(m, "dilations", nsp, 1, 1, w->dl));
    else for (unsigned i = 0; i < nsp; i++) w->dl[i] = 1;
    unsigned pads[4];
    TRY(read_list(m, "pads", 2 * nsp, 0, 0, pads));
    for (unsigned i = 0; i < nsp; i++) {
        w->lo[i] = pads[i];
        w->hi[i] = pads[nsp + i];
    }
    char ap[32];
    TRY(attr_s(m, "auto_pad", "NOTSET", ap, sizeof ap));
    if (strcmp(ap, "NOTSET") == 0 || ap[0] == 0) return 0;
    if (strcmp(ap, "VALID") == 0) {
        memset(w->lo, 0, sizeof w->lo);
        memset(w->hi, 0, sizeof w->hi);
        return 0;
    }
    int upper = strcmp(ap, "SAME_UPPER") == 0;
    if (!upper && strcmp(ap, "SAME_LOWER") != 0)
        return nerr(m, PARLEY_E_UNSUPPORTED, "auto_pad '%s' is not supported", ap);
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

/* ---- shapes -------------------------------------------------------------- */

static const nn_shape *vshape(imp *m, unsigned v) { return &m->g->v[v].shape; }

static const char *shp(char *buf, size_t cap, const nn_shape *s) { return nn_shape_str(buf, cap, s); }

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
        f[i] = (float)(ct_f(c, ci) * mul);
        for (unsigned d = to->rank; d-- > 0;) {
            if (++idx[d] < to->d[d]) break;
            idx[d] = 0;
        }
    }
    *out = f;
    return 0;
mismatch:
    return nerr(m, PARLEY_E_UNSUPPORTED, "constant of shape %s does not broadcast to %s",
                shp(a, sizeof a, &c->shape), shp(b, sizeof b, to));
}

/* ---- operators ----------------------------------------------------------- */

static int op_conv(imp *m) {
    static const char *const ok[] = {"auto_pad", "dilations", "group", "kernel_shape", "pads",
                                     "strides", NULL};
    TRY(attrs_allowed(m, ok));
    unsigned x;
    const ctensor *W, *B = NULL;
    TRY(in_value(m, 0, &x));
    TRY(in_const(m, 1, &W));
    if (has_in(m, 2)) TRY(in_const(m, 2, &B));
    const nn_shape *xs = vshape(m, x);
    char a[96], b[96];
    if (xs->rank == 5) return nerr(m, PARLEY_E_UNSUPPORTED, "3-D convolutions are not supported");
    if (xs->rank != 3 && xs->rank != 4)
        return nerr(m, PARLEY_E_UNSUPPORTED, "input %s is not N x C x H x W or N x C x W",
                    shp(a, sizeof a, xs));
    if (W->shape.rank != xs->rank)
        return nerr(m, PARLEY_E_FORMAT, "weights %s do not match the input %s",
                    shp(a, sizeof a, &W->shape), shp(b, sizeof b, xs));
    int64_t group;
    TRY(attr_i_range(m, "group", 1, 1, xs->d[1], &group));
    unsigned O = W->shape.d[0], cg = W->shape.d[1], nsp = xs->rank - 2;
    if ((uint64_t)cg * (uint64_t)group != xs->d[1] || O % group)
        return nerr(m, PARLEY_E_FORMAT, "weights %s with group %lld do not fit %u input channels",
                    shp(a, sizeof a, &W->shape), (long long)group, xs->d[1]);
    window w;
    TRY(read_window(m, &w, nsp, xs->d + 2, W->shape.d + 2, 1));
    lin_conv c = {.N = xs->d[0], .C = xs->d[1], .O = O, .groups = (unsigned)group, .wbits = 1};
    if (nsp == 2) {
        c.H = xs->d[2], c.W = xs->d[3];
        c.kh = w.k[0], c.kw = w.k[1], c.sh = w.st[0], c.sw = w.st[1], c.dh = w.dl[0], c.dw = w.dl[1];
        c.pt = w.lo[0], c.pl = w.lo[1], c.pb = w.hi[0], c.pr = w.hi[1];
    } else {
        c.H = 1, c.W = xs->d[2], c.kh = 1, c.kw = w.k[0], c.sh = 1, c.sw = w.st[0], c.dh = 1;
        c.dw = w.dl[0], c.pl = w.lo[0], c.pr = w.hi[0];
    }
    if (lin_conv_check(&c) < 0) return nerr(m, PARLEY_E_UNSUPPORTED, "%s", err_msg());
    if (B && B->n != O)
        return nerr(m, PARLEY_E_FORMAT, "bias has %zu elements for %u output channels", B->n, O);
    nn_shape ys = {.rank = xs->rank, .d = {c.N, O}};
    if (nsp == 2) ys.d[2] = c.OH, ys.d[3] = c.OW;
    else ys.d[2] = c.OW;
    /* Copy the constants first: binding the output may move the symbols. */
    float *wf = ct_floats(W), *bf = B ? ct_floats(B) : NULL;
    unsigned y;
    fnode *n;
    int rc = wf && (bf || !B) ? out_value(m, 0, &ys, &y) : PARLEY_E_NOMEM;
    if (rc == 0) rc = add_node(m, &n, QOP_CONV, &x, 1, y);
    if (rc < 0) {
        mem_free(wf);
        mem_free(bf);
        return rc;
    }
    n->p.conv = c;
    n->w = wf;
    n->b = bf;
    return 0;
}

/* An FC node from value x ([.., K]) with weights w (O x K, owned) and bias
 * b (O, owned, may be NULL) into value y. */
static int add_fc(imp *m, unsigned x, unsigned y, unsigned O, float *w, float *b) {
    const nn_shape *xs = vshape(m, x);
    fnode *n;
    int rc = add_node(m, &n, QOP_FC, &x, 1, y);
    if (rc < 0) {
        mem_free(w);
        mem_free(b);
        return rc;
    }
    n->w = w;
    n->b = b;
    n->p.fc.K = xs->d[xs->rank - 1];
    n->p.fc.O = O;
    n->p.fc.N = (unsigned)(nn_shape_count(xs) / n->p.fc.K);
    n->p.fc.wbits = 1;
    if (lin_fc_check(&n->p.fc) < 0) return nerr(m, PARLEY_E_UNSUPPORTED, "%s", err_msg());
    return 0;
}

static int add_transpose2(imp *m, unsigned x, unsigned *y, const char *suffix) {
    const nn_shape *xs = vshape(m, x);
    nn_shape ts = {.rank = 2, .d = {xs->d[1], xs->d[0]}};
    fnode *n;
    TRY(fgraph_value(m->g, y, gen_name(m, suffix), &ts));
    TRY(add_node(m, &n, QOP_TRANSPOSE, &x, 1, *y));
    n->p.perm[0] = 1;
    n->p.perm[1] = 0;
    return 0;
}

static int op_gemm(imp *m) {
    static const char *const ok[] = {"alpha", "beta", "transA", "transB", "broadcast", NULL};
    TRY(attrs_allowed(m, ok));
    unsigned a;
    const ctensor *B, *C = NULL;
    TRY(in_value(m, 0, &a));
    TRY(in_const(m, 1, &B));
    if (has_in(m, 2)) TRY(in_const(m, 2, &C));
    double alpha, beta;
    int64_t ta, tb;
    TRY(attr_f(m, "alpha", 1.0, &alpha));
    TRY(attr_f(m, "beta", 1.0, &beta));
    TRY(attr_i_range(m, "transA", 0, 0, 1, &ta));
    TRY(attr_i_range(m, "transB", 0, 0, 1, &tb));
    char s1[96], s2[96];
    if (vshape(m, a)->rank != 2 || B->shape.rank != 2)
        return nerr(m, PARLEY_E_FORMAT, "operands %s and %s are not matrices",
                    shp(s1, sizeof s1, vshape(m, a)), shp(s2, sizeof s2, &B->shape));
    if (ta) TRY(add_transpose2(m, a, &a, "#transA"));
    unsigned M = vshape(m, a)->d[0], K = vshape(m, a)->d[1];
    unsigned N = tb ? B->shape.d[0] : B->shape.d[1], KB = tb ? B->shape.d[1] : B->shape.d[0];
    if (KB != K)
        return nerr(m, PARLEY_E_FORMAT, "inner dimensions differ (%u and %u)", K, KB);
    float *w = mem_alloc((size_t)N * K, sizeof *w), *bias = NULL, *full = NULL;
    if (!w) return PARLEY_E_NOMEM;
    for (size_t o = 0; o < N; o++)
        for (size_t k = 0; k < K; k++)
            w[o * K + k] = (float)(alpha * ct_f(B, tb ? o * K + k : k * N + o));
    nn_shape ys = {.rank = 2, .d = {M, N}};
    if (C) {
        int rc = expand(m, &full, C, &ys, beta);
        if (rc < 0) {
            mem_free(w);
            return rc;
        }
        /* Rows all equal (C is [N], [1, N], a scalar, ...): a per-output bias. */
        int rows_equal = 1;
        for (size_t i = N; i < (size_t)M * N && rows_equal; i++) rows_equal = full[i] == full[i % N];
        if (rows_equal) {
            bias = full;
            full = NULL;
        }
    }
    unsigned y, f;
    int rc = 0;
    if (!full) {
        rc = out_value(m, 0, &ys, &y);
        if (rc == 0) return add_fc(m, a, y, N, w, bias);
        mem_free(w);
        mem_free(bias);
        return rc;
    }
    /* A full-matrix C: FC, then add the constant. */
    rc = fgraph_value(m->g, &f, gen_name(m, "#gemm"), &ys);
    if (rc == 0) rc = add_fc(m, a, f, N, w, NULL);
    else mem_free(w);
    fnode *n;
    if (rc == 0) rc = out_value(m, 0, &ys, &y);
    if (rc == 0) rc = add_node(m, &n, QOP_ADDC, &f, 1, y);
    if (rc < 0) {
        mem_free(full);
        return rc;
    }
    n->w = full;
    return 0;
}

static int op_matmul(imp *m) {
    TRY(attrs_allowed(m, (const char *const[]){NULL}));
    sym *A, *B;
    TRY(in_sym(m, 0, &A));
    TRY(in_sym(m, 1, &B));
    char s1[96];
    if (A->kind == SYM_VALUE && B->kind == SYM_CONST) {
        const nn_shape *as = vshape(m, A->value);
        if (B->c.shape.rank != 2)
            return nerr(m, PARLEY_E_UNSUPPORTED, "the constant operand %s is not a matrix",
                        shp(s1, sizeof s1, &B->c.shape));
        unsigned K = B->c.shape.d[0], O = B->c.shape.d[1];
        if (as->rank < 1 || as->d[as->rank - 1] != K)
            return nerr(m, PARLEY_E_FORMAT, "input %s does not have %u columns",
                        shp(s1, sizeof s1, as), K);
        nn_shape ys = *as;
        ys.d[ys.rank - 1] = O;
        float *w = mem_alloc((size_t)O * K, sizeof *w);
        if (!w) return PARLEY_E_NOMEM;
        for (size_t o = 0; o < O; o++)
            for (size_t k = 0; k < K; k++) w[o * K + k] = (float)ct_f(&B->c, k * O + o);
        unsigned x = A->value, y;
        int rc = out_value(m, 0, &ys, &y);
        if (rc < 0) {
            mem_free(w);
            return rc;
        }
        return add_fc(m, x, y, O, w, NULL);
    }
    if (A->kind == SYM_CONST && B->kind == SYM_VALUE) {
        /* Y = A X = (X^T A^T)^T: FC with weights A on the transposed input. */
        const nn_shape *bs = vshape(m, B->value);
        if (A->c.shape.rank != 2 || bs->rank != 2 || bs->d[0] != A->c.shape.d[1])
            return nerr(m, PARLEY_E_UNSUPPORTED,
                        "a constant left operand needs two matrices with matching inner sizes");
        unsigned M = A->c.shape.d[0], t1, t2, y;
        TRY(add_transpose2(m, B->value, &t1, "#xT"));
        nn_shape fs = {.rank = 2, .d = {bs->d[1], M}};
        TRY(fgraph_value(m->g, &t2, gen_name(m, "#fc"), &fs));
        float *w = ct_floats(&A->c);
        if (!w) return PARLEY_E_NOMEM;
        TRY(add_fc(m, t1, t2, M, w, NULL));
        nn_shape ys = {.rank = 2, .d = {M, bs->d[1]}};
        fnode *n;
        TRY(out_value(m, 0, &ys, &y));
        TRY(add_node(m, &n, QOP_TRANSPOSE, &t2, 1, y));
        n->p.perm[0] = 1;
        n->p.perm[1] = 0;
        return 0;
    }
    return nerr(m, PARLEY_E_UNSUPPORTED,
                "exactly one operand must be a constant (a product of two computed tensors is not "
                "a linear layer with the server's weights)");
}

/* Shape of a legacy (opset < 7) broadcast operand, made numpy-style. */
static int legacy_broadcast(imp *m, const nn_shape *to, ctensor *c) {
    if (m->opset >= 7) return 0;
    int64_t bc, ax;
    TRY(attr_i(m, "broadcast", 0, &bc));
    if (!bc || !attr(m, "axis")) return 0;
    TRY(attr_i(m, "axis", 0, &ax));
    unsigned a;
    TRY(axis_norm(m, ax, to->rank, 0, &a));
    if (a + c->shape.rank > to->rank) return nerr(m, PARLEY_E_FORMAT, "broadcast axis out of range");
    while (c->shape.rank < to->rank - a) c->shape.d[c->shape.rank++] = 1;
    return 0;
}

/* Add, Sub, Mul, Div with constants; Add of two computed tensors. */
static int op_arith(imp *m) {
    static const char *const ok[] = {"broadcast", "axis", "consumed_inputs", NULL};
    TRY(attrs_allowed(m, ok));
    const char *op = m->node->op_type;
    sym *A, *B;
    TRY(in_sym(m, 0, &A));
    TRY(in_sym(m, 1, &B));
    char s1[96], s2[96];
    int add = strcmp(op, "Add") == 0, sub = strcmp(op, "Sub") == 0, mul = strcmp(op, "Mul") == 0;
    if (A->kind == SYM_VALUE && B->kind == SYM_VALUE) {
        if (!add)
            return nerr(m, PARLEY_E_UNSUPPORTED, "%s of two computed tensors is not supported", op);
        const nn_shape *as = vshape(m, A->value), *bs = vshape(m, B->value);
        if (!nn_shape_eq(as, bs))
            return nerr(m, PARLEY_E_UNSUPPORTED,
                        "operands %s and %s differ in shape (broadcasting between two computed "
                        "tensors is not supported)",
                        shp(s1, sizeof s1, as), shp(s2, sizeof s2, bs));
        unsigned in[2] = {A->value, B->value}, y;
        fnode *n;
        TRY(out_value(m, 0, as, &y));
        return add_node(m, &n, QOP_ADD, in, 2, y);
    }
    if (A->kind != SYM_VALUE && B->kind != SYM_VALUE)
        return nerr(m, PARLEY_E_UNSUPPORTED, "%s of two constants is not supported", op);
    int const_first = A->kind == SYM_CONST;
    unsigned x = const_first ? B->value : A->value;
    ctensor c = const_first ? A->c : B->c;
    const nn_shape *xs = vshape(m, x);
    TRY(legacy_broadcast(m, xs, &c));
    if ((sub || strcmp(op, "Div") == 0) && const_first)
        return nerr(m, PARLEY_E_UNSUPPORTED, "%s with a constant first operand is not supported", op);
    float *full;
    TRY(expand(m, &full, &c, xs, sub ? -1.0 : 1.0));
    unsigned y;
    fnode *n;
    int rc = out_value(m, 0, xs, &y);
    if (rc < 0) goto fail;
    if (add || sub) {
        rc = add_node(m, &n, QOP_ADDC, &x, 1, y);
        if (rc < 0) goto fail;
        n->w = full;
        return 0;
    }
    /* Mul/Div: a per-channel (dimension 1) or scalar factor: a SCALE. */
    if (xs->rank < 2) {
        rc = nerr(m, PARLEY_E_UNSUPPORTED, "%s needs a tensor with channels (rank >= 2)", op);
        goto fail;
    }
    size_t C = xs->d[1], per = nn_shape_count(xs) / xs->d[0] / C, total = nn_shape_count(xs);
    for (size_t i = 0; i < total; i++)
        if (full[i] != full[((i / per) % C) * per]) {
            rc = nerr(m, PARLEY_E_UNSUPPORTED,
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
            rc = nerr(m, PARLEY_E_UNSUPPORTED, "division by zero");
            goto fail;
        }
        g[ch] = (float)(mul ? v : 1.0 / v);
    }
    mem_free(full);
    rc = add_node(m, &n, QOP_SCALE, &x, 1, y);
    if (rc < 0) {
        mem_free(g);
        mem_free(beta);
        return rc;
    }
    n->w = g;
    n->b = beta;
    n->p.scale = (lin_scale){.N = xs->d[0], .C = (unsigned)C, .S = (unsigned)per, .wbits = 1};
    return 0;
fail:
    mem_free(full);
    return rc;
}

static int op_batchnorm(imp *m) {
    static const char *const ok[] = {"epsilon", "momentum", "spatial", "is_test",
                                     "training_mode", "consumed_inputs", NULL};
    TRY(attrs_allowed(m, ok));
    unsigned x;
    const ctensor *p[4];
    TRY(in_value(m, 0, &x));
    for (unsigned k = 0; k < 4; k++) TRY(in_const(m, k + 1, &p[k]));
    double eps;
    int64_t spatial, training;
    TRY(attr_f(m, "epsilon", 1e-5, &eps));
    TRY(attr_i(m, "spatial", 1, &spatial));
    TRY(attr_i(m, "training_mode", 0, &training));
    if (training) return nerr(m, PARLEY_E_UNSUPPORTED, "training mode is not supported");
    if (spatial != 1) return nerr(m, PARLEY_E_UNSUPPORTED, "spatial = 0 is not supported");
    const nn_shape *xs = vshape(m, x);
    if (xs->rank < 2) return nerr(m, PARLEY_E_FORMAT, "input has no channel dimension");
    unsigned C = xs->d[1];
    for (unsigned k = 0; k < 4; k++)
        if (p[k]->n != C)
            return nerr(m, PARLEY_E_FORMAT, "parameter %u has %zu elements for %u channels", k + 1,
                        p[k]->n, C);
    float *g = mem_alloc(C, sizeof *g), *b = mem_alloc(C, sizeof *b);
    if (!g || !b) {
        mem_free(g);
        mem_free(b);
        return PARLEY_E_NOMEM;
    }
    for (unsigned c = 0; c < C; c++) {
        double var = ct_f(p[3], c) + eps;
        if (!(var > 0)) {
            mem_free(g);
            mem_free(b);
            return nerr(m, PARLEY_E_UNSUPPORTED, "variance + epsilon of channel %u is not positive", c);
        }
        double ga = ct_f(p[0], c) / sqrt(var);
        g[c] = (float)ga;
        b[c] = (float)(ct_f(p[1], c) - ga * ct_f(p[2], c));
    }
    unsigned y;
    fnode *n;
    int rc = out_value(m, 0, xs, &y);
    if (rc == 0) rc = add_node(m, &n, QOP_SCALE, &x, 1, y);
    if (rc < 0) {
        mem_free(g);
        mem_free(b);
        return rc;
    }
    n->w = g;
    n->b = b;
    n->p.scale = (lin_scale){.N = xs->d[0], .C = C, .S = (unsigned)(nn_shape_count(xs) / xs->d[0] / C),
                             .wbits = 1};
    return outs_unavailable(m, 1, "a training-mode statistic of BatchNormalization");
}

static int op_relu(imp *m) {
    TRY(attrs_allowed(m, (const char *const[]){"consumed_inputs", NULL}));
    unsigned x, y;
    fnode *n;
    TRY(in_value(m, 0, &x));
    TRY(out_value(m, 0, vshape(m, x), &y));
    return add_node(m, &n, QOP_RELU, &x, 1, y);
}

static int pool_common(imp *m, qop op, unsigned x, const window *w, unsigned nsp, int ceil_mode,
                       int cip) {
    const nn_shape *xs = vshape(m, x);
    nl_pool p = {.N = xs->d[0], .C = xs->d[1], .ceil_mode = (unsigned)ceil_mode,
                 .count_include_pad = (unsigned)cip};
    if (nsp == 2) {
        p.H = xs->d[2], p.W = xs->d[3], p.kh = w->k[0], p.kw = w->k[1], p.sh = w->st[0];
        p.sw = w->st[1], p.dh = w->dl[0], p.dw = w->dl[1], p.pt = w->lo[0], p.pl = w->lo[1];
        p.pb = w->hi[0], p.pr = w->hi[1];
    } else {
        p.H = 1, p.W = xs->d[2], p.kh = 1, p.kw = w->k[0], p.sh = 1, p.sw = w->st[0], p.dh = 1;
        p.dw = w->dl[0], p.pl = w->lo[0], p.pr = w->hi[0];
    }
    if (nl_pool_check(&p) < 0) return nerr(m, PARLEY_E_UNSUPPORTED, "%s", err_msg());
    nn_shape ys = {.rank = xs->rank, .d = {p.N, p.C}};
    if (nsp == 2) ys.d[2] = p.OH, ys.d[3] = p.OW;
    else ys.d[2] = p.OW;
    unsigned y;
    fnode *n;
    TRY(out_value(m, 0, &ys, &y));
    TRY(add_node(m, &n, op, &x, 1, y));
    n->p.pool = p;
    return 0;
}

static int pool_input(imp *m, unsigned *x) {
    char a[96];
    TRY(in_value(m, 0, x));
    const nn_shape *xs = vshape(m, *x);
    if (xs->rank == 5) return nerr(m, PARLEY_E_UNSUPPORTED, "3-D pooling is not supported");
    if (xs->rank != 3 && xs->rank != 4)
        return nerr(m, PARLEY_E_UNSUPPORTED, "input %s is not N x C x H x W or N x C x W",
                    shp(a, sizeof a, xs));
    return 0;
}

static int op_pool(imp *m) {
    int is_max = strcmp(m->node->op_type, "MaxPool") == 0;
    static const char *const okmax[] = {"auto_pad", "ceil_mode", "dilations", "kernel_shape",
                                        "pads", "storage_order", "strides", NULL};
    static const char *const okavg[] = {"auto_pad", "ceil_mode", "count_include_pad",
                                        "kernel_shape", "pads", "strides", NULL};
    TRY(attrs_allowed(m, is_max ? okmax : okavg));
    unsigned x;
    TRY(pool_input(m, &x));
    const nn_shape *xs = vshape(m, x);
    unsigned nsp = xs->rank - 2;
    window w;
    TRY(read_window(m, &w, nsp, xs->d + 2, NULL, is_max));
    int64_t ceil_mode, cip = 0;
    TRY(attr_i_range(m, "ceil_mode", 0, 0, 1, &ceil_mode));
    if (!is_max) TRY(attr_i_range(m, "count_include_pad", 0, 0, 1, &cip));
    TRY(pool_common(m, is_max ? QOP_MAXPOOL : QOP_AVGPOOL, x, &w, nsp, (int)ceil_mode, (int)cip));
    return outs_unavailable(m, 1, "MaxPool's indices, which parley does not compute");
}

static int op_global_pool(imp *m) {
    TRY(attrs_allowed(m, (const char *const[]){NULL}));
    unsigned x;
    TRY(pool_input(m, &x));
    const nn_shape *xs = vshape(m, x);
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
    TRY(attrs_allowed(m, ok));
    unsigned nin = (unsigned)m->node->n_input;
    if (nin < 1 || nin > QNET_MAX_INPUTS) return nerr(m, PARLEY_E_UNSUPPORTED, "bad number of inputs");
    if (!attr(m, "axis") && m->opset >= 4)
        return nerr(m, PARLEY_E_FORMAT, "attribute 'axis' is missing");
    unsigned *in = mem_alloc(nin, sizeof *in);
    if (!in) return PARLEY_E_NOMEM;
    int rc = 0;
    for (unsigned k = 0; k < nin && rc == 0; k++) {
        /* A constant operand becomes a CONST value (shared as c and 0). */
        sym *s;
        rc = in_sym(m, k, &s);
        if (rc == 0 && s->kind == SYM_VALUE) in[k] = s->value;
        if (rc < 0 || s->kind != SYM_CONST) continue;
        float *f = ct_floats(&s->c);
        fnode *cn;
        char nm[QNET_MAX_NAME + 1];
        snprintf(nm, sizeof nm, "%s#const", m->node->input[k]);
        rc = f ? fgraph_value(m->g, &in[k], nm, &s->c.shape) : PARLEY_E_NOMEM;
        if (rc == 0) rc = add_node(m, &cn, QOP_CONST, NULL, 0, in[k]);
        if (rc == 0) cn->w = f;
        else mem_free(f);
    }
    int64_t ax = 0;
    unsigned a = 0;
    nn_shape ys = {0};
    if (rc == 0) rc = attr_i(m, "axis", 1, &ax); /* the default before opset 4 */
    if (rc == 0) {
        ys = *vshape(m, in[0]);
        rc = axis_norm(m, ax, ys.rank, 0, &a);
    }
    uint64_t sum = 0;
    for (unsigned k = 0; k < nin && rc == 0; k++) {
        const nn_shape *s = vshape(m, in[k]);
        char s1[96], s2[96];
        for (unsigned d = 0; d < ys.rank && s->rank == ys.rank; d++)
            if (d != a && s->d[d] != ys.d[d]) rc = -1;
        if (rc < 0 || s->rank != ys.rank)
            rc = nerr(m, PARLEY_E_FORMAT, "operands %s and %s do not fit together",
                      shp(s1, sizeof s1, vshape(m, in[0])), shp(s2, sizeof s2, s));
        sum += s->d[a];
    }
    if (rc == 0 && sum > UINT32_MAX) rc = nerr(m, PARLEY_E_UNSUPPORTED, "result too large");
    unsigned y;
    fnode *n;
    if (rc == 0) {
        ys.d[a] = (uint32_t)sum;
        rc = out_value(m, 0, &ys, &y);
    }
    if (rc == 0) rc = add_node(m, &n, QOP_CONCAT, in, nin, y);
    if (rc == 0) n->p.axis = a;
    mem_free(in);
    return rc;
}

/* Output 0 is input 0 with a new shape: a RESHAPE of a value, or the same
 * constant data with the new shape. */
static int reshape_to(imp *m, const nn_shape *ys) {
    sym *s;
    TRY(in_sym(m, 0, &s));
    size_t n;
    char a[96], b[96];
    if (nn_shape_check(&n, ys) < 0) return nerr(m, PARLEY_E_UNSUPPORTED, "%s", err_msg());
    const nn_shape *xs = s->kind == SYM_VALUE ? vshape(m, s->value) : &s->c.shape;
    if (n != nn_shape_count(xs))
        return nerr(m, PARLEY_E_FORMAT, "cannot reshape %s to %s", shp(a, sizeof a, xs),
                    shp(b, sizeof b, ys));
    if (s->kind == SYM_CONST) {
        ctensor c = s->c;
        c.shape = *ys;
        c.own = NULL;
        return bind_const(m, out_name(m, 0), &c);
    }
    unsigned x = s->value, y;
    fnode *node;
    TRY(out_value(m, 0, ys, &y));
    return add_node(m, &node, QOP_RESHAPE, &x, 1, y);
}

static const nn_shape *in_shape(imp *m, unsigned k) {
    sym *s;
    if (in_sym(m, k, &s) < 0) return NULL;
    return s->kind == SYM_VALUE ? vshape(m, s->value) : &s->c.shape;
}

static int op_flatten(imp *m) {
    static const char *const ok[] = {"axis", NULL};
    TRY(attrs_allowed(m, ok));
    const nn_shape *xs = in_shape(m, 0);
    if (!xs) return PARLEY_E_FORMAT;
    int64_t ax;
    unsigned a;
    TRY(attr_i(m, "axis", 1, &ax));
    TRY(axis_norm(m, ax, xs->rank, 1, &a));
    size_t lead = 1;
    for (unsigned d = 0; d < a; d++) lead *= xs->d[d];
    nn_shape ys = {.rank = 2, .d = {(uint32_t)lead, (uint32_t)(nn_shape_count(xs) / lead)}};
    return reshape_to(m, &ys);
}

static int op_reshape(imp *m) {
    static const char *const ok[] = {"allowzero", "shape", "consumed_inputs", NULL};
    TRY(attrs_allowed(m, ok));
    const nn_shape *xs = in_shape(m, 0);
    if (!xs) return PARLEY_E_FORMAT;
    int64_t v[MAX_SHAPE_CONST], allowzero;
    size_t n;
    TRY(attr_i(m, "allowzero", 0, &allowzero));
    if (m->opset < 5) { /* Reshape-1: the shape is an attribute */
        const int64_t *a;
        TRY(attr_ints(m, "shape", &a, &n));
        if (!a) return nerr(m, PARLEY_E_FORMAT, "attribute 'shape' is missing");
        if (n > MAX_SHAPE_CONST) return nerr(m, PARLEY_E_UNSUPPORTED, "shape too long");
        memcpy(v, a, n * sizeof *v);
    } else {
        TRY(in_ints(m, 1, v, &n, MAX_SHAPE_CONST));
    }
    if (n > NN_MAX_RANK) return nerr(m, PARLEY_E_UNSUPPORTED, "more than %d dimensions", NN_MAX_RANK);
    nn_shape ys = {.rank = (unsigned)n};
    int infer = -1;
    uint64_t known = 1;
    for (unsigned i = 0; i < n; i++) {
        if (v[i] == 0 && !allowzero) {
            if (i >= xs->rank) return nerr(m, PARLEY_E_FORMAT, "shape copies a missing dimension");
            ys.d[i] = xs->d[i];
        } else if (v[i] == -1) {
            if (infer >= 0) return nerr(m, PARLEY_E_FORMAT, "shape has two -1 entries");
            infer = (int)i;
            continue;
        } else if (v[i] < 1 || v[i] > UINT32_MAX) {
            return nerr(m, PARLEY_E_UNSUPPORTED, "shape entry %lld is not supported", (long long)v[i]);
        } else {
            ys.d[i] = (uint32_t)v[i];
        }
        known *= ys.d[i];
        if (known > NN_MAX_ELEMS) return nerr(m, PARLEY_E_UNSUPPORTED, "shape too large");
    }
    if (infer >= 0) {
        size_t total = nn_shape_count(xs);
        if (total % known) return nerr(m, PARLEY_E_FORMAT, "cannot infer the -1 dimension");
        ys.d[infer] = (uint32_t)(total / known);
    }
    return reshape_to(m, &ys);
}

/* Squeeze / Unsqueeze: axes from the attribute (opset < 13) or input 1. */
static int read_axes(imp *m, int64_t *v, size_t *n, int required) {
    *n = 0;
    if (m->opset < 13) {
        const int64_t *a;
        TRY(attr_ints(m, "axes", &a, n));
        if (*n > NN_MAX_RANK) return nerr(m, PARLEY_E_UNSUPPORTED, "too many axes");
        if (a) memcpy(v, a, *n * sizeof *v);
        if (!a && required) return nerr(m, PARLEY_E_FORMAT, "attribute 'axes' is missing");
        return 0;
    }
    if (!has_in(m, 1)) return required ? nerr(m, PARLEY_E_FORMAT, "input 'axes' is missing") : 0;
    return in_ints(m, 1, v, n, NN_MAX_RANK);
}

static int op_squeeze(imp *m) {
    static const char *const ok[] = {"axes", NULL};
    TRY(attrs_allowed(m, ok));
    const nn_shape *xs = in_shape(m, 0);
    if (!xs) return PARLEY_E_FORMAT;
    int64_t v[NN_MAX_RANK];
    size_t n;
    TRY(read_axes(m, v, &n, 0));
    unsigned drop = 0;
    for (size_t i = 0; i < n; i++) {
        unsigned a;
        TRY(axis_norm(m, v[i], xs->rank, 0, &a));
        if (xs->d[a] != 1) return nerr(m, PARLEY_E_FORMAT, "axis %u has size %u, not 1", a, xs->d[a]);
        drop |= 1u << a;
    }
    nn_shape ys = {0};
    for (unsigned d = 0; d < xs->rank; d++)
        if (n ? !(drop >> d & 1) : xs->d[d] != 1) ys.d[ys.rank++] = xs->d[d];
    return reshape_to(m, &ys);
}

static int op_unsqueeze(imp *m) {
    static const char *const ok[] = {"axes", NULL};
    TRY(attrs_allowed(m, ok));
    const nn_shape *xs = in_shape(m, 0);
    if (!xs) return PARLEY_E_FORMAT;
    int64_t v[NN_MAX_RANK];
    size_t n;
    TRY(read_axes(m, v, &n, 1));
    unsigned r = xs->rank + (unsigned)n, add = 0;
    if (r > NN_MAX_RANK) return nerr(m, PARLEY_E_UNSUPPORTED, "more than %d dimensions", NN_MAX_RANK);
    for (size_t i = 0; i < n; i++) {
        unsigned a;
        TRY(axis_norm(m, v[i], r, 0, &a));
        if (add >> a & 1) return nerr(m, PARLEY_E_FORMAT, "axis %u given twice", a);
        add |= 1u << a;
    }
    nn_shape ys = {.rank = r};
    for (unsigned d = 0, k = 0; d < r; d++) ys.d[d] = (add >> d & 1) ? 1 : xs->d[k++];
    return reshape_to(m, &ys);
}

static int op_transpose(imp *m) {
    static const char *const ok[] = {"perm", NULL};
    TRY(attrs_allowed(m, ok));
    sym *s;
    TRY(in_sym(m, 0, &s));
    const nn_shape *xs = s->kind == SYM_VALUE ? vshape(m, s->value) : &s->c.shape;
    unsigned r = xs->rank, perm[NN_MAX_RANK], seen = 0;
    const int64_t *p;
    size_t n;
    TRY(attr_ints(m, "perm", &p, &n));
    if (p && n != r) return nerr(m, PARLEY_E_FORMAT, "perm has %zu entries for rank %u", n, r);
    for (unsigned d = 0; d < r; d++) {
        int64_t v = p ? p[d] : (int64_t)(r - 1 - d);
        if (v < 0 || v >= r || (seen >> v & 1)) return nerr(m, PARLEY_E_FORMAT, "perm is not a permutation");
        seen |= 1u << v;
        perm[d] = (unsigned)v;
    }
    nn_shape ys = {.rank = r};
    for (unsigned d = 0; d < r; d++) ys.d[d] = xs->d[perm[d]];
    if (s->kind == SYM_CONST) {
        /* Fold (PyTorch exports a Linear without bias as Transpose + MatMul). */
        float *f = mem_alloc(s->c.n, sizeof *f);
        if (!f) return PARLEY_E_NOMEM;
        size_t xst[NN_MAX_RANK], acc = 1;
        for (unsigned d = r; d-- > 0;) xst[d] = acc, acc *= xs->d[d];
        uint32_t idx[NN_MAX_RANK] = {0};
        for (size_t i = 0; i < s->c.n; i++) {
            size_t off = 0;
            for (unsigned d = 0; d < r; d++) off += idx[d] * xst[perm[d]];
            f[i] = (float)ct_f(&s->c, off);
            for (unsigned d = r; d-- > 0;) {
                if (++idx[d] < ys.d[d]) break;
                idx[d] = 0;
            }
        }
        ctensor c = {.shape = ys, .n = s->c.n, .f = f, .own = f};
        return bind_const(m, out_name(m, 0), &c);
    }
    unsigned x = s->value, y;
    fnode *node;
    TRY(out_value(m, 0, &ys, &y));
    TRY(add_node(m, &node, QOP_TRANSPOSE, &x, 1, y));
    memcpy(node->p.perm, perm, sizeof perm);
    return 0;
}

static int op_pad(imp *m) {
    static const char *const ok[] = {"mode", "pads", "paddings", "value", NULL};
    TRY(attrs_allowed(m, ok));
    unsigned x;
    TRY(in_value(m, 0, &x));
    const nn_shape *xs = vshape(m, x);
    unsigned r = xs->rank;
    int64_t pads[2 * NN_MAX_RANK];
    size_t n;
    double value = 0;
    char mode[32];
    TRY(attr_s(m, "mode", "constant", mode, sizeof mode));
    if (strcmp(mode, "constant") != 0)
        return nerr(m, PARLEY_E_UNSUPPORTED, "mode '%s' is not supported (only constant 0)", mode);
    if (m->opset < 11) {
        const int64_t *p;
        TRY(attr_ints(m, m->opset < 2 ? "paddings" : "pads", &p, &n));
        if (!p) return nerr(m, PARLEY_E_FORMAT, "attribute 'pads' is missing");
        if (n > 2 * NN_MAX_RANK) return nerr(m, PARLEY_E_FORMAT, "too many pads");
        memcpy(pads, p, n * sizeof *p);
        TRY(attr_f(m, "value", 0.0, &value));
    } else {
        TRY(in_ints(m, 1, pads, &n, 2 * NN_MAX_RANK));
        if (has_in(m, 2)) {
            const ctensor *c;
            TRY(in_const(m, 2, &c));
            if (c->n != 1) return nerr(m, PARLEY_E_FORMAT, "constant_value is not a scalar");
            value = ct_f(c, 0);
        }
        if (has_in(m, 3)) return nerr(m, PARLEY_E_UNSUPPORTED, "the axes input is not supported");
    }
    if (value != 0.0) return nerr(m, PARLEY_E_UNSUPPORTED, "only zero padding is supported");
    if (n != 2 * r) return nerr(m, PARLEY_E_FORMAT, "%zu pads for rank %u", n, r);
    nn_shape ys = *xs;
    int any = 0;
    for (unsigned d = 0; d < r; d++) {
        if (pads[d] < 0 || pads[r + d] < 0)
            return nerr(m, PARLEY_E_UNSUPPORTED, "negative pads (cropping) are not supported");
        if (pads[d] > MAX_ATTR_VALUE || pads[r + d] > MAX_ATTR_VALUE)
            return nerr(m, PARLEY_E_UNSUPPORTED, "pads too large");
        uint64_t v = (uint64_t)xs->d[d] + (uint64_t)pads[d] + (uint64_t)pads[r + d];
        if (v > UINT32_MAX) return nerr(m, PARLEY_E_UNSUPPORTED, "result too large");
        ys.d[d] = (uint32_t)v;
        any |= pads[d] || pads[r + d];
    }
    sym *s;
    TRY(in_sym(m, 0, &s));
    if (!any) return out_alias(m, 0, s);
    unsigned y;
    fnode *node;
    TRY(out_value(m, 0, &ys, &y));
    TRY(add_node(m, &node, QOP_PAD, &x, 1, y));
    for (unsigned d = 0; d < r; d++) {
        node->p.pad.lo[d] = (uint32_t)pads[d];
        node->p.pad.hi[d] = (uint32_t)pads[r + d];
    }
    return 0;
}

static int op_identity(imp *m) {
    TRY(attrs_allowed(m, (const char *const[]){NULL}));
    sym *s;
    TRY(in_sym(m, 0, &s));
    return out_alias(m, 0, s);
}

static int op_dropout(imp *m) {
    static const char *const ok[] = {"ratio", "is_test", "seed", "consumed_inputs", NULL};
    TRY(attrs_allowed(m, ok));
    sym *s;
    TRY(in_sym(m, 0, &s));
    if (m->opset >= 12 && has_in(m, 2)) {
        const ctensor *t;
        TRY(in_const(m, 2, &t));
        if (t->n != 1 || ct_f(t, 0) != 0.0)
            return nerr(m, PARLEY_E_UNSUPPORTED, "training mode is not supported");
    }
    TRY(out_alias(m, 0, s));
    return outs_unavailable(m, 1, "Dropout's mask, which parley does not compute");
}

static int op_constant(imp *m) {
    if (m->node->n_attribute != 1)
        return nerr(m, PARLEY_E_FORMAT, "a Constant needs exactly one attribute");
    const Onnx__AttributeProto *a = m->node->attribute[0];
    const char *name = S(a->name);
    ctensor c = {0};
    if (strcmp(name, "value") == 0) {
        if (!a->t) return nerr(m, PARLEY_E_FORMAT, "attribute 'value' holds no tensor");
        int rc = ct_from_proto(&c, a->t, "constant");
        if (rc < 0) return err_wrap(rc, "node '%s'", m->nname);
        return bind_const(m, out_name(m, 0), &c);
    }
    int is_f = strcmp(name, "value_float") == 0, is_fs = strcmp(name, "value_floats") == 0;
    int is_i = strcmp(name, "value_int") == 0, is_is = strcmp(name, "value_ints") == 0;
    if (!is_f && !is_fs && !is_i && !is_is) {
        char nm[80];
        printable(nm, sizeof nm, name);
        return nerr(m, PARLEY_E_UNSUPPORTED, "attribute '%s' is not supported", nm);
    }
    size_t n = is_fs ? a->n_floats : is_is ? a->n_ints : 1;
    if (n < 1 || n > NN_MAX_ELEMS) return nerr(m, PARLEY_E_UNSUPPORTED, "empty or huge constant");
    c.shape.rank = (is_fs || is_is) ? 1 : 0;
    c.shape.d[0] = (uint32_t)n;
    c.n = n;
    if (is_f || is_fs) {
        float *f = mem_alloc(n, sizeof *f);
        if (!f) return PARLEY_E_NOMEM;
        if (is_f) f[0] = a->f;
        else memcpy(f, a->floats, n * sizeof *f);
        c.f = f;
        c.own = f;
    } else {
        int64_t *v = mem_alloc(n, sizeof *v);
        if (!v) return PARLEY_E_NOMEM;
        if (is_i) v[0] = a->i;
        else memcpy(v, a->ints, n * sizeof *v);
        c.i = v;
        c.own = v;
        c.is_int = 1;
    }
    return bind_const(m, out_name(m, 0), &c);
}

static int op_argmax(imp *m) {
    static const char *const ok[] = {"axis", "keepdims", "select_last_index", NULL};
    TRY(attrs_allowed(m, ok));
    unsigned x, a;
    TRY(in_value(m, 0, &x));
    const nn_shape *xs = vshape(m, x);
    int64_t ax, keep, last;
    TRY(attr_i(m, "axis", 0, &ax));
    TRY(attr_i_range(m, "keepdims", 1, 0, 1, &keep));
    TRY(attr_i_range(m, "select_last_index", 0, 0, 1, &last));
    if (last) return nerr(m, PARLEY_E_UNSUPPORTED, "select_last_index = 1 is not supported");
    if (xs->rank < 1) return nerr(m, PARLEY_E_FORMAT, "input is a scalar");
    TRY(axis_norm(m, ax, xs->rank, 0, &a));
    nn_shape ys = *xs;
    if (keep) {
        ys.d[a] = 1;
    } else {
        for (unsigned d = a; d + 1 < xs->rank; d++) ys.d[d] = ys.d[d + 1];
        ys.rank--;
    }
    unsigned y;
    fnode *n;
    TRY(out_value(m, 0, &ys, &y));
    TRY(add_node(m, &n, QOP_ARGMAX, &x, 1, y));
    n->p.argmax.axis = a;
    n->p.argmax.keepdims = (unsigned)keep;
    return 0;
}

static int op_softmax(imp *m) {
    static const char *const ok[] = {"axis", NULL};
    TRY(attrs_allowed(m, ok));
    const Onnx__GraphProto *g = m->graph;
    const char *out = S(out_name(m, 0));
    int last = g->n_output == 1 && strcmp(S(g->output[0]->name), out) == 0;
    for (size_t i = m->node_index + 1; i < g->n_node && last; i++)
        for (size_t k = 0; k < g->node[i]->n_input; k++)
            if (strcmp(S(g->node[i]->input[k]), out) == 0) last = 0;
    if (!last)
        return nerr(m, PARLEY_E_UNSUPPORTED,
                    "Softmax is only supported as the last node (it is dropped; the label does "
                    "not change)");
    sym *s;
    TRY(in_sym(m, 0, &s));
    if (s->kind != SYM_VALUE) return nerr(m, PARLEY_E_UNSUPPORTED, "Softmax of a constant");
    TRY(fgraph_note(m->g,
                    "node '%s' (Softmax): the final Softmax is dropped (it does not change the "
                    "label); the output is the logits",
                    m->nname));
    return out_alias(m, 0, s);
}

typedef struct op_entry {
    const char *name;
    int (*fn)(imp *);
} op_entry;

static const op_entry ops[] = {
    {"Conv", op_conv},
    {"Gemm", op_gemm},
    {"MatMul", op_matmul},
    {"Add", op_arith},
    {"Sub", op_arith},
    {"Mul", op_arith},
    {"Div", op_arith},
    {"BatchNormalization", op_batchnorm},
    {"Relu", op_relu},
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
};

/* ---- the model ----------------------------------------------------------- */

static int define_input(imp *m, const Onnx__ValueInfoProto *vi) {
    char nm[80];
    printable(nm, sizeof nm, vi->name);
    const Onnx__TypeProto *t = vi->type;
    if (!t || t->value_case != ONNX__TYPE_PROTO__VALUE_TENSOR_TYPE || !t->tensor_type)
        return err_set(PARLEY_E_UNSUPPORTED, "input '%s' is not a tensor", nm);
    const Onnx__TypeProto__Tensor *tt = t->tensor_type;
    int et = tt->has_elem_type ? tt->elem_type : 0;
    if (!is_float_type(et))
        return err_set(PARLEY_E_UNSUPPORTED, "input '%s' has element type %s; parley takes float",
                       nm, dtype_name(et));
    if (!tt->shape)
        return err_set(PARLEY_E_UNSUPPORTED, "input '%s' has no shape; parley needs fixed shapes", nm);
    nn_shape s = {0};
    if (tt->shape->n_dim > NN_MAX_RANK)
        return err_set(PARLEY_E_UNSUPPORTED, "input '%s' has more than %d dimensions", nm, NN_MAX_RANK);
    s.rank = (unsigned)tt->shape->n_dim;
    unsigned batch = m->opts && m->opts->batch ? m->opts->batch : 1;
    for (unsigned i = 0; i < s.rank; i++) {
        const Onnx__TensorShapeProto__Dimension *d = tt->shape->dim[i];
        if (d->value_case == ONNX__TENSOR_SHAPE_PROTO__DIMENSION__VALUE_DIM_VALUE) {
            if (d->dim_value < 1 || d->dim_value > UINT32_MAX)
                return err_set(PARLEY_E_UNSUPPORTED, "input '%s' has a dimension of %lld", nm,
                               (long long)d->dim_value);
            s.d[i] = (uint32_t)d->dim_value;
        } else if (i == 0) {
            s.d[i] = batch; /* a symbolic batch size */
        } else {
            return err_set(PARLEY_E_UNSUPPORTED,
                           "input '%s' has a symbolic dimension %u; parley needs fixed shapes "
                           "(only dimension 0, the batch, may be symbolic)",
                           nm, i);
        }
    }
    unsigned id;
    int rc = fgraph_value(m->g, &id, vi->name, &s);
    if (rc < 0) return err_wrap(rc, "input '%s'", nm);
    sym sy = {.kind = SYM_VALUE, .value = id};
    TRY(bind(m, vi->name, &sy));
    m->g->input = id;
    return 0;
}

/* Compare the declared shape of the output (where known) with the inferred. */
static int check_output(imp *m, const Onnx__ValueInfoProto *vi, unsigned v) {
    const Onnx__TypeProto *t = vi->type;
    if (!t || t->value_case != ONNX__TYPE_PROTO__VALUE_TENSOR_TYPE || !t->tensor_type ||
        !t->tensor_type->shape)
        return 0;
    const Onnx__TensorShapeProto *sp = t->tensor_type->shape;
    const nn_shape *s = vshape(m, v);
    char nm[80], a[96];
    printable(nm, sizeof nm, vi->name);
    int bad = sp->n_dim != s->rank;
    for (unsigned i = 0; !bad && i < s->rank; i++)
        if (sp->dim[i]->value_case == ONNX__TENSOR_SHAPE_PROTO__DIMENSION__VALUE_DIM_VALUE &&
            sp->dim[i]->dim_value != s->d[i] && i > 0)
            bad = 1;
    if (bad)
        return err_set(PARLEY_E_FORMAT, "output '%s': the model declares a shape other than %s", nm,
                       shp(a, sizeof a, s));
    return 0;
}

static int import_graph(imp *m, const Onnx__ModelProto *mp) {
    m->opset = -1;
    for (size_t i = 0; i < mp->n_opset_import; i++) {
        const char *d = S(mp->opset_import[i]->domain);
        if ((d[0] == 0 || strcmp(d, "ai.onnx") == 0) && mp->opset_import[i]->has_version)
            m->opset = mp->opset_import[i]->version;
    }
    if (m->opset < 0) return err_set(PARLEY_E_FORMAT, "the model imports no opset of the ONNX domain");
    if (m->opset < ONNX_OPSET_MIN || m->opset > ONNX_OPSET_MAX)
        return err_set(PARLEY_E_UNSUPPORTED, "opset %lld is not supported (parley takes %d to %d)",
                       (long long)m->opset, ONNX_OPSET_MIN, ONNX_OPSET_MAX);
    const Onnx__GraphProto *g = mp->graph;
    m->graph = g;
    if (!g) return err_set(PARLEY_E_FORMAT, "the model has no graph");
    if (g->n_node > QNET_MAX_LAYERS / 4)
        return err_set(PARLEY_E_UNSUPPORTED, "the graph has %zu nodes (at most %u)", g->n_node,
                       QNET_MAX_LAYERS / 4);
    if (g->n_sparse_initializer)
        return err_set(PARLEY_E_UNSUPPORTED, "sparse initializers are not supported");
    for (size_t i = 0; i < g->n_initializer; i++) {
        const Onnx__TensorProto *t = g->initializer[i];
        if (!t->name || !t->name[0]) return err_set(PARLEY_E_FORMAT, "an initializer has no name");
        ctensor c;
        TRY(ct_from_proto(&c, t, "initializer"));
        TRY(bind_const(m, t->name, &c));
    }
    unsigned ninputs = 0;
    char first[80] = "", other[80] = "";
    for (size_t i = 0; i < g->n_input; i++) {
        const Onnx__ValueInfoProto *vi = g->input[i];
        unsigned id;
        if (!vi->name || !vi->name[0]) return err_set(PARLEY_E_FORMAT, "a graph input has no name");
        if (strmap_get(&m->map, vi->name, &id)) continue; /* an initializer */
        int bound = 0;
        for (size_t k = 0; m->opts && k < m->opts->nconsts && !bound; k++)
            if (strcmp(m->opts->consts[k].name, vi->name) == 0) {
                const nn_tensor *t = m->opts->consts[k].value;
                ctensor c = {.shape = t->shape, .n = t->n, .f = t->data};
                TRY(bind_const(m, vi->name, &c));
                bound = 1;
            }
        if (bound) continue;
        if (ninputs++ == 0) {
            printable(first, sizeof first, vi->name);
            TRY(define_input(m, vi));
        } else {
            printable(other, sizeof other, vi->name);
        }
    }
    if (ninputs == 0) return err_set(PARLEY_E_UNSUPPORTED, "the model has no input (only constants)");
    if (ninputs > 1)
        return err_set(PARLEY_E_UNSUPPORTED,
                       "the model has %u inputs ('%s', '%s', ...); parley takes exactly one",
                       ninputs, first, other);
    for (size_t i = 0; i < g->n_node; i++) {
        const Onnx__NodeProto *n = g->node[i];
        m->node = n;
        m->node_index = (unsigned)i;
        if (n->name && n->name[0]) printable(m->nname, sizeof m->nname, n->name);
        else snprintf(m->nname, sizeof m->nname, "%.60s_%zu", S(n->op_type), i);
        for (size_t k = 0; k < sizeof m->nname && m->nname[k]; k++)
            if ((unsigned char)m->nname[k] < 0x20 || (unsigned char)m->nname[k] > 0x7e) m->nname[k] = '?';
        const char *dom = S(n->domain);
        if (dom[0] && strcmp(dom, "ai.onnx") != 0) {
            char d[80];
            printable(d, sizeof d, dom);
            return nerr(m, PARLEY_E_UNSUPPORTED, "operator domain '%s' is not supported", d);
        }
        if (n->n_output < 1) return nerr(m, PARLEY_E_FORMAT, "the node has no output");
        if (n->n_input < 1 && strcmp(S(n->op_type), "Constant") != 0)
            return nerr(m, PARLEY_E_FORMAT, "the node has no input");
        const op_entry *e = NULL;
        for (size_t k = 0; k < sizeof ops / sizeof *ops && !e; k++)
            if (strcmp(ops[k].name, S(n->op_type)) == 0) e = &ops[k];
        if (!e) return nerr(m, PARLEY_E_UNSUPPORTED, "operator is not supported");
        TRY(e->fn(m));
    }
    m->node = NULL;
    if (g->n_output != 1)
        return err_set(PARLEY_E_UNSUPPORTED, "the model has %zu outputs; parley takes exactly one",
                       g->n_output);
    const char *oname = S(g->output[0]->name);
    char nm[80];
    printable(nm, sizeof nm, oname);
    unsigned id;
    if (!strmap_get(&m->map, oname, &id))
        return err_set(PARLEY_E_FORMAT, "output '%s' is not computed by any node", nm);
    if (m->syms[id].kind == SYM_NONE)
        return err_set(PARLEY_E_UNSUPPORTED, "output '%s' is %s", nm, m->syms[id].why);
    if (m->syms[id].kind != SYM_VALUE)
        return err_set(PARLEY_E_UNSUPPORTED, "output '%s' is a constant (it does not depend on the input)",
                       nm);
    m->g->output = m->syms[id].value;
    TRY(check_output(m, g->output[0], m->g->output));
    return fgraph_optimize(m->g);
}

int onnx_import(fgraph **out, const uint8_t *buf, size_t len, const onnx_opts *opts) {
    *out = NULL;
    TRY(onnx_check_depth(buf, len, ONNX_MAX_DEPTH));
    Onnx__ModelProto *mp = onnx__model_proto__unpack(NULL, len, buf);
    if (!mp) return err_set(PARLEY_E_FORMAT, "not an ONNX model (the protobuf does not parse)");
    imp m = {.opts = opts};
    strmap_init(&m.map);
    int rc = fgraph_new(&m.g);
    if (rc == 0) rc = import_graph(&m, mp);
    for (unsigned i = 0; i < m.nsyms; i++)
        if (m.syms[i].kind == SYM_CONST) mem_free(m.syms[i].c.own);
    mem_free(m.syms);
    strmap_free(&m.map);
    onnx__model_proto__free_unpacked(mp, NULL);
    if (rc < 0) {
        fgraph_free(m.g);
        return rc;
    }
    *out = m.g;
    return 0;
}

int onnx_import_file(fgraph **out, const char *path, const onnx_opts *opts) {
    uint8_t *buf;
    size_t len;
    *out = NULL;
    TRY(nn_read_file(&buf, &len, path, ONNX_MAX_FILE));
    int rc = onnx_import(out, buf, len, opts);
    mem_free(buf);
    return rc < 0 ? err_wrap(rc, "%s", path) : 0;
}

int onnx_tensor_parse(nn_tensor *out, const uint8_t *buf, size_t len) {
    memset(out, 0, sizeof *out);
    Onnx__TensorProto *t = onnx__tensor_proto__unpack(NULL, len, buf);
    if (!t) return err_set(PARLEY_E_FORMAT, "not a serialized ONNX tensor");
    ctensor c;
    int rc = ct_from_proto(&c, t, "tensor");
    if (rc == 0) rc = nn_tensor_alloc(out, &c.shape);
    if (rc == 0)
        for (size_t i = 0; i < c.n; i++) out->data[i] = (float)ct_f(&c, i);
    onnx__tensor_proto__free_unpacked(t, NULL);
    return rc;
}
