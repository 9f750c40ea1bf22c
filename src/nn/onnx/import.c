/* ONNX import; see onnx.h. Operator semantics follow the ONNX operator
 * specification (docs/Operators.md of the ONNX project) for opsets 7-17.
 *
 * Each name of the ONNX graph is bound to a symbol: a value computed at run
 * time from the network input (an fgraph value), a constant (an
 * initializer, a Constant node, a bound graph input, or a shape operation
 * folded on constants), or "unavailable" (an output parley does not compute,
 * such as Dropout's mask), which is an error only if something reads it.
 * Nodes must come in topological order, as ONNX requires. */
#include "nn/onnx/imp.h"

#include "nn/kind.h"

#include "util/mem.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

const char *imp_str(const char *s) {
    return s ? s : "";
}

void imp_printable(char *dst, size_t cap, const char *src) {
    size_t n = 0;
    for (; src && src[n] && n + 1 < cap; n++)
        dst[n] = (unsigned char)src[n] < 0x20 || (unsigned char)src[n] > 0x7e ? '?' : src[n];
    dst[n] = 0;
}

/* "node 'name' (Op): why" */
int imp_err(imp *m, int code, const char *fmt, ...) {
    char why[400], op[64];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(why, sizeof why, fmt, ap);
    va_end(ap);
    imp_printable(op, sizeof op, m->node ? m->node->op_type : "");
    return err_set(code, "node '%s' (%s): %s", m->nname, op, why);
}

/* ---- constants ----------------------------------------------------------- */

/* ---- ONNX data types and where a TensorProto keeps its elements --------- */

/* Without raw_data, the repeated field that holds the elements. */
enum { IN_FLOAT, IN_DOUBLE, IN_INT64, IN_UINT64, IN_INT32 };

#define DT(x) ONNX__TENSOR_PROTO__DATA_TYPE__##x

/* Each data type: its name; bytes per element (0: parley does not take
 * it); whether it is a signed integer; the field that holds it. */
static const struct dtype {
    const char *name;
    unsigned size, is_signed, field;
} dtypes[] = {
    [0] = {"undefined", 0, 0, 0},
    [DT(FLOAT)] = {"float", 4, 0, IN_FLOAT},
    [DT(UINT8)] = {"uint8", 1, 0, IN_INT32},
    [DT(INT8)] = {"int8", 1, 1, IN_INT32},
    [DT(UINT16)] = {"uint16", 2, 0, IN_INT32},
    [DT(INT16)] = {"int16", 2, 1, IN_INT32},
    [DT(INT32)] = {"int32", 4, 1, IN_INT32},
    [DT(INT64)] = {"int64", 8, 1, IN_INT64},
    [DT(STRING)] = {"string", 0, 0, 0},
    [DT(BOOL)] = {"bool", 1, 0, IN_INT32},
    [DT(FLOAT16)] = {"float16", 0, 0, 0},
    [DT(DOUBLE)] = {"double", 8, 0, IN_DOUBLE},
    [DT(UINT32)] = {"uint32", 4, 0, IN_UINT64},
    [DT(UINT64)] = {"uint64", 8, 0, IN_UINT64},
    [DT(COMPLEX64)] = {"complex64", 0, 0, 0},
    [DT(COMPLEX128)] = {"complex128", 0, 0, 0},
    [DT(BFLOAT16)] = {"bfloat16", 0, 0, 0},
};

static const struct dtype *dtype(int t) {
    static const struct dtype unknown = {"unknown", 0, 0, 0};
    return t >= 0 && t < (int)(sizeof dtypes / sizeof *dtypes) ? &dtypes[t] : &unknown;
}

unsigned imp_dtype_size(int t) {
    return dtype(t)->size;
}

const char *imp_dtype_name(int t) {
    return dtype(t)->name;
}

int imp_dtype_is_float(int t) {
    return t == DT(FLOAT) || t == DT(DOUBLE);
}

static size_t field_count(const Onnx__TensorProto *t, int dt) {
    switch (dtype(dt)->field) {
    case IN_FLOAT:
        return t->n_float_data;
    case IN_DOUBLE:
        return t->n_double_data;
    case IN_INT64:
        return t->n_int64_data;
    case IN_UINT64:
        return t->n_uint64_data;
    default:
        return t->n_int32_data;
    }
}

static uint64_t le(const uint8_t *p, unsigned n) {
    uint64_t v = 0;
    for (unsigned i = 0; i < n; i++)
        v |= (uint64_t)p[i] << (8 * i);
    return v;
}

/* An element as stored: a floating-point value, or an integer's 64 bits
 * (sign-extended when its type is signed). */
typedef struct elem {
    int is_float, is_signed;
    double f;
    uint64_t u;
} elem;

static elem proto_elem(const Onnx__TensorProto *t, int dt, size_t i) {
    elem e = {0};
    if (t->has_raw_data) {
        unsigned es = imp_dtype_size(dt);
        uint64_t v = le(t->raw_data.data + i * es, es);
        if (dt == DT(FLOAT)) {
            uint32_t u = (uint32_t)v;
            float f;
            memcpy(&f, &u, 4);
            return (elem){.is_float = 1, .f = f};
        }
        if (dt == DT(DOUBLE)) {
            memcpy(&e.f, &v, 8);
            e.is_float = 1;
            return e;
        }
        e.is_signed = (int)dtype(dt)->is_signed;
        if (e.is_signed && es < 8 && (v >> (8 * es - 1) & 1)) v |= ~(uint64_t)0 << (8 * es);
        e.u = v;
        return e;
    }
    switch (dtype(dt)->field) {
    case IN_FLOAT:
        return (elem){.is_float = 1, .f = t->float_data[i]};
    case IN_DOUBLE:
        return (elem){.is_float = 1, .f = t->double_data[i]};
    case IN_INT64:
        return (elem){.is_signed = 1, .u = (uint64_t)t->int64_data[i]};
    case IN_UINT64:
        return (elem){.u = t->uint64_data[i]};
    default:
        return (elem){.is_signed = 1, .u = (uint64_t)(int64_t)t->int32_data[i]};
    }
}

/* Check a TensorProto and describe it as a constant (no copy). */
int imp_const_from_proto(ctensor *c, const Onnx__TensorProto *t, const char *what) {
    char nm[80];
    imp_printable(nm, sizeof nm, t->name);
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
    if (nn_shape_check(&c->n, &c->shape) < 0)
        return err_wrap(PARLEY_E_UNSUPPORTED, "%s '%s'", what, nm);
    if ((t->has_data_location && t->data_location == ONNX__TENSOR_PROTO__DATA_LOCATION__EXTERNAL) ||
        t->n_external_data)
        return err_set(PARLEY_E_UNSUPPORTED,
                       "%s '%s' keeps its data in an external file, which parley does not read",
                       what, nm);
    if (t->segment) return err_set(PARLEY_E_UNSUPPORTED, "%s '%s' is segmented", what, nm);
    int dt = t->has_data_type ? t->data_type : 0;
    unsigned es = imp_dtype_size(dt);
    if (!es)
        return err_set(PARLEY_E_UNSUPPORTED, "%s '%s' has data type %s, which parley does not take",
                       what, nm, imp_dtype_name(dt));
    if (t->has_raw_data) {
        if (t->raw_data.len / es != c->n || t->raw_data.len % es)
            return err_set(PARLEY_E_FORMAT, "%s '%s': raw_data holds %zu bytes for %zu elements",
                           what, nm, t->raw_data.len, c->n);
    } else {
        size_t have = field_count(t, dt);
        if (have != c->n)
            return err_set(PARLEY_E_FORMAT, "%s '%s' holds %zu values for %zu elements", what, nm,
                           have, c->n);
    }
    c->src = t;
    c->dtype = dt;
    c->is_int = !imp_dtype_is_float(dt);
    return 0;
}

double imp_const_f(const ctensor *c, size_t i) {
    if (c->f) return c->f[i];
    if (c->i) return (double)c->i[i];
    elem e = proto_elem(c->src, c->dtype, i);
    return e.is_float ? e.f : e.is_signed ? (double)(int64_t)e.u : (double)e.u;
}

/* A double as int64, out-of-range values (and NaN) as INT64_MIN. */
int64_t imp_d2i(double v) {
    return v >= -9.2e18 && v <= 9.2e18 ? (int64_t)v : INT64_MIN;
}

int64_t imp_const_i(const ctensor *c, size_t i) {
    if (c->i) return c->i[i];
    if (c->f) return imp_d2i(c->f[i]);
    elem e = proto_elem(c->src, c->dtype, i);
    return e.is_float ? imp_d2i(e.f) : (int64_t)e.u;
}

/* A fresh float copy of a constant (the caller's to mem_free). */
float *imp_const_floats(const ctensor *c) {
    float *f = mem_alloc(c->n ? c->n : 1, sizeof *f);
    if (!f) return NULL;
    if (c->src && c->src->has_raw_data && c->dtype == ONNX__TENSOR_PROTO__DATA_TYPE__FLOAT) {
        const uint8_t *p = c->src->raw_data.data;
        for (size_t i = 0; i < c->n; i++) {
            uint32_t u = (uint32_t)le(p + 4 * i, 4);
            memcpy(&f[i], &u, 4);
        }
    } else {
        for (size_t i = 0; i < c->n; i++)
            f[i] = (float)imp_const_f(c, i);
    }
    return f;
}

/* ---- symbols ------------------------------------------------------------- */

static int reserve_syms(imp *m, unsigned n) {
    if (n <= m->capsyms) return 0;
    unsigned ncap = m->capsyms ? m->capsyms : 64;
    while (ncap < n)
        ncap *= 2;
    sym *p = mem_calloc(ncap, sizeof *p);
    if (!p) return PARLEY_E_NOMEM;
    if (m->syms) memcpy(p, m->syms, m->nsyms * sizeof *p);
    mem_free(m->syms);
    m->syms = p;
    m->capsyms = ncap;
    return 0;
}

int imp_bind(imp *m, const char *name, const sym *s) {
    if (!name || !name[0]) return 0; /* an unnamed optional output */
    char nm[80];
    unsigned old;
    if (strmap_get(&m->map, name, &old)) {
        imp_printable(nm, sizeof nm, name);
        return m->node ? imp_err(m, PARLEY_E_FORMAT, "value '%s' is defined twice", nm)
                       : err_set(PARLEY_E_FORMAT, "value '%s' is defined twice", nm);
    }
    TRY(reserve_syms(m, m->nsyms + 1));
    m->syms[m->nsyms] = *s;
    TRY(strmap_put(&m->map, name, m->nsyms));
    m->nsyms++;
    return 0;
}

int imp_bind_const(imp *m, const char *name, const ctensor *c) {
    sym s = {.kind = SYM_CONST, .c = *c};
    /* An unnamed output is dropped, and so is its data. */
    int rc = name && name[0] ? imp_bind(m, name, &s) : -1;
    if (rc < 0) mem_free(c->own);
    return rc < 0 && name && name[0] ? rc : 0;
}

int imp_has_in(imp *m, unsigned k) {
    return k < m->node->n_input && m->node->input[k] && m->node->input[k][0];
}

int imp_in_sym(imp *m, unsigned k, sym **s) {
    char nm[80];
    if (!imp_has_in(m, k)) return imp_err(m, PARLEY_E_FORMAT, "input %u is missing", k);
    unsigned id;
    if (!strmap_get(&m->map, m->node->input[k], &id)) {
        imp_printable(nm, sizeof nm, m->node->input[k]);
        return imp_err(
            m, PARLEY_E_FORMAT,
            "input '%s' is not defined before this node (nodes must be in topological order)", nm);
    }
    *s = &m->syms[id];
    if ((*s)->kind == SYM_NONE || (*s)->kind == SYM_SKIP) {
        imp_printable(nm, sizeof nm, m->node->input[k]);
        return imp_err(m, PARLEY_E_UNSUPPORTED, "reads '%s', which is %s", nm, (*s)->why);
    }
    return 0;
}

/* Input k as a symbol of the given kind, or an error saying what it must be. */
static int in_kind(imp *m, unsigned k, int kind, sym **s) {
    TRY(imp_in_sym(m, k, s));
    if ((*s)->kind == kind) return 0;
    char nm[80];
    imp_printable(nm, sizeof nm, m->node->input[k]);
    if (kind == SYM_VALUE)
        return imp_err(
            m, PARLEY_E_UNSUPPORTED,
            "input %u ('%s') is a constant; parley needs it computed from the network input", k,
            nm);
    return imp_err(m, PARLEY_E_UNSUPPORTED,
                   "input %u ('%s') must be a constant (an initializer or a Constant node): the "
                   "server's weights cannot depend on the client's input",
                   k, nm);
}

int imp_in_value(imp *m, unsigned k, unsigned *v) {
    sym *s;
    TRY(in_kind(m, k, SYM_VALUE, &s));
    *v = s->value;
    return 0;
}

int imp_in_const(imp *m, unsigned k, const ctensor **c) {
    sym *s;
    TRY(in_kind(m, k, SYM_CONST, &s));
    *c = &s->c;
    return 0;
}

/* Integer constant input k as a short list (shapes, axes, pads). */
int imp_in_ints(imp *m, unsigned k, int64_t *v, size_t *n, size_t cap) {
    const ctensor *c;
    TRY(imp_in_const(m, k, &c));
    if (c->shape.rank > 1 || c->n > cap)
        return imp_err(m, PARLEY_E_UNSUPPORTED, "input %u must be a list of at most %zu integers",
                       k, cap);
    for (size_t i = 0; i < c->n; i++) {
        /* Integral floats are taken too (a bound input arrives as floats). */
        if (!c->is_int && imp_const_f(c, i) != (double)imp_d2i(imp_const_f(c, i)))
            return imp_err(m, PARLEY_E_FORMAT, "input %u must hold integers", k);
        v[i] = imp_const_i(c, i);
    }
    *n = c->n;
    return 0;
}

const char *imp_out_name(imp *m, unsigned k) {
    return k < m->node->n_output ? m->node->output[k] : NULL;
}

int imp_out_value(imp *m, unsigned k, const nn_shape *shape, unsigned *v) {
    const char *name = imp_out_name(m, k);
    if (!name || !name[0]) return imp_err(m, PARLEY_E_FORMAT, "output %u has no name", k);
    unsigned id;
    int rc = fgraph_value(m->g, &id, name, shape);
    if (rc < 0) return err_wrap(rc, "node '%s'", m->nname);
    sym s = {.kind = SYM_VALUE, .value = id};
    TRY(imp_bind(m, name, &s));
    if (v) *v = id;
    return 0;
}

int imp_out_alias(imp *m, unsigned k, const sym *src) {
    sym s = *src;
    s.c.own = NULL; /* the original keeps ownership */
    return imp_bind(m, imp_out_name(m, k), &s);
}

/* Outputs from k on are not computed; reading them is an error. */
int imp_outs_unavailable(imp *m, unsigned from, const char *why) {
    for (unsigned k = from; k < m->node->n_output; k++) {
        sym s = {.kind = SYM_NONE, .why = why};
        TRY(imp_bind(m, m->node->output[k], &s));
    }
    return 0;
}

/* A name for an intermediate value the importer adds. */
const char *imp_gen_name(imp *m, const char *suffix) {
    snprintf(m->gen, sizeof m->gen, "%s%s", imp_str(imp_out_name(m, 0)), suffix);
    return m->gen;
}

int imp_add_node(imp *m, fnode **n, qop op, const unsigned *in, unsigned nin, unsigned out) {
    int rc = fgraph_node(m->g, n, op, m->nname, in, nin, out);
    return rc < 0 ? err_wrap(rc, "node '%s'", m->nname) : 0;
}

/* ---- attributes ---------------------------------------------------------- */

const Onnx__AttributeProto *imp_attr(imp *m, const char *name) {
    for (size_t i = 0; i < m->node->n_attribute; i++)
        if (strcmp(imp_str(m->node->attribute[i]->name), name) == 0) return m->node->attribute[i];
    return NULL;
}

static int attr_type_is(const Onnx__AttributeProto *a, int type, int present) {
    return a->has_type ? (int)a->type == type : present;
}

int imp_attr_i(imp *m, const char *name, int64_t def, int64_t *v) {
    const Onnx__AttributeProto *a = imp_attr(m, name);
    *v = def;
    if (!a) return 0;
    if (!attr_type_is(a, ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__INT, a->has_i))
        return imp_err(m, PARLEY_E_FORMAT, "attribute '%s' must be an integer", name);
    *v = a->i;
    return 0;
}

int imp_attr_i_range(imp *m, const char *name, int64_t def, int64_t lo, int64_t hi, int64_t *v) {
    TRY(imp_attr_i(m, name, def, v));
    if (*v < lo || *v > hi)
        return imp_err(m, PARLEY_E_UNSUPPORTED, "attribute %s = %lld is outside %lld..%lld", name,
                       (long long)*v, (long long)lo, (long long)hi);
    return 0;
}

int imp_attr_f(imp *m, const char *name, double def, double *v) {
    const Onnx__AttributeProto *a = imp_attr(m, name);
    *v = def;
    if (!a) return 0;
    if (!attr_type_is(a, ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__FLOAT, a->has_f))
        return imp_err(m, PARLEY_E_FORMAT, "attribute '%s' must be a float", name);
    *v = a->f;
    if (!isfinite(*v))
        return imp_err(m, PARLEY_E_UNSUPPORTED, "attribute '%s' is not finite", name);
    return 0;
}

/* NULL/0 when absent. */
int imp_attr_ints(imp *m, const char *name, const int64_t **v, size_t *n) {
    const Onnx__AttributeProto *a = imp_attr(m, name);
    *v = NULL;
    *n = 0;
    if (!a) return 0;
    if (!attr_type_is(a, ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__INTS, 1))
        return imp_err(m, PARLEY_E_FORMAT, "attribute '%s' must be a list of integers", name);
    *v = a->ints;
    *n = a->n_ints;
    return 0;
}

int imp_attr_s(imp *m, const char *name, const char *def, char *buf, size_t cap) {
    const Onnx__AttributeProto *a = imp_attr(m, name);
    snprintf(buf, cap, "%s", def);
    if (!a) return 0;
    if (!attr_type_is(a, ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__STRING, a->has_s))
        return imp_err(m, PARLEY_E_FORMAT, "attribute '%s' must be a string", name);
    size_t n = a->s.len < cap - 1 ? a->s.len : cap - 1;
    for (size_t i = 0; i < n; i++)
        buf[i] = (a->s.data[i] < 0x20 || a->s.data[i] > 0x7e) ? '?' : (char)a->s.data[i];
    buf[n] = 0;
    return 0;
}

/* Every attribute of the node must be in the NULL-terminated list. */
int imp_attrs_allowed(imp *m, const char *const *ok) {
    for (size_t i = 0; i < m->node->n_attribute; i++) {
        const char *name = imp_str(m->node->attribute[i]->name);
        int found = 0;
        for (const char *const *p = ok; *p && !found; p++)
            found = strcmp(*p, name) == 0;
        if (!found) {
            char nm[80];
            imp_printable(nm, sizeof nm, name);
            return imp_err(m, PARLEY_E_UNSUPPORTED, "attribute '%s' is not supported", nm);
        }
    }
    return 0;
}

/* Normalise an axis in [-r, r) (or [-r, r] when `end` allows the end). */
int imp_axis_norm(imp *m, int64_t a, unsigned r, int end, unsigned *out) {
    int64_t hi = end ? r : (int64_t)r - 1;
    *out = 0;
    if (a < -(int64_t)r || a > hi)
        return imp_err(m, PARLEY_E_UNSUPPORTED, "axis %lld is out of range for rank %u",
                       (long long)a, r);
    *out = (unsigned)(a < 0 ? a + r : a);
    return 0;
}

/* ---- shapes -------------------------------------------------------------- */

const nn_shape *imp_vshape(imp *m, unsigned v) {
    return &m->g->v[v].shape;
}

const char *imp_shp(char *buf, size_t cap, const nn_shape *s) {
    return nn_shape_str(buf, cap, s);
}

const nn_shape *imp_in_shape(imp *m, unsigned k) {
    sym *s;
    if (imp_in_sym(m, k, &s) < 0) return NULL;
    return s->kind == SYM_VALUE ? imp_vshape(m, s->value) : &s->c.shape;
}

/* ---- the model ----------------------------------------------------------- */

static int define_input(imp *m, const Onnx__ValueInfoProto *vi) {
    char nm[80];
    imp_printable(nm, sizeof nm, vi->name);
    const Onnx__TypeProto *t = vi->type;
    if (!t || t->value_case != ONNX__TYPE_PROTO__VALUE_TENSOR_TYPE || !t->tensor_type)
        return err_set(PARLEY_E_UNSUPPORTED, "input '%s' is not a tensor", nm);
    const Onnx__TypeProto__Tensor *tt = t->tensor_type;
    int et = tt->has_elem_type ? tt->elem_type : 0;
    if (!imp_dtype_is_float(et))
        return err_set(PARLEY_E_UNSUPPORTED, "input '%s' has element type %s; parley takes float",
                       nm, imp_dtype_name(et));
    if (!tt->shape)
        return err_set(PARLEY_E_UNSUPPORTED, "input '%s' has no shape; parley needs fixed shapes",
                       nm);
    nn_shape s = {0};
    if (tt->shape->n_dim > NN_MAX_RANK)
        return err_set(PARLEY_E_UNSUPPORTED, "input '%s' has more than %d dimensions", nm,
                       NN_MAX_RANK);
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
    TRY(imp_bind(m, vi->name, &sy));
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
    const nn_shape *s = imp_vshape(m, v);
    char nm[80], a[96];
    imp_printable(nm, sizeof nm, vi->name);
    int bad = sp->n_dim != s->rank;
    for (unsigned i = 0; !bad && i < s->rank; i++)
        if (sp->dim[i]->value_case == ONNX__TENSOR_SHAPE_PROTO__DIMENSION__VALUE_DIM_VALUE &&
            sp->dim[i]->dim_value != s->d[i] && i > 0)
            bad = 1;
    if (bad)
        return err_set(PARLEY_E_FORMAT, "output '%s': the model declares a shape other than %s", nm,
                       imp_shp(a, sizeof a, s));
    return 0;
}

/* The node's operator: one of the importers of ops.c and fold.c, or an
 * element-wise layer kind that names it (nn/kind.h); NULL (*ew 0) if
 * parley knows no such operator. */
static const imp_op *find_op(const char *op_type, qop *ew) {
    const imp_op *const tables[] = {imp_layer_ops, imp_fold_ops};
    *ew = 0;
    for (size_t t = 0; t < sizeof tables / sizeof *tables; t++)
        for (const imp_op *e = tables[t]; e->name; e++)
            if (strcmp(e->name, op_type) == 0) return e;
    *ew = qkind_by_onnx(op_type);
    return NULL;
}

static int import_node(imp *m, const char *op_type) {
    qop k;
    const imp_op *e = find_op(op_type, &k);
    if (e) return e->fn(m);
    if (k) return imp_elementwise(m, k);
    return imp_err(m, PARLEY_E_UNSUPPORTED, "operator is not supported");
}

/* ---- every unsupported node at once ---------------------------------------
 *
 * A node refused as unsupported (PARLEY_E_UNSUPPORTED: an unknown operator,
 * an attribute or a form parley does not take) does not end the import:
 * it is recorded, its outputs are bound as SYM_SKIP, the nodes that read
 * them are skipped (unknown operators among them are recorded too), and
 * the import fails at the end with the whole list. A malformed model
 * (PARLEY_E_FORMAT, ...) still fails at once. */

/* Record the current node (its message: err_msg()). */
static void note_bad(imp *m, const char *op_type) {
    const char *msg = err_msg();
    if (m->nbad++ == 0) snprintf(m->first_bad, sizeof m->first_bad, "%s", msg);
    /* The reason without imp_err's "node 'name' (Op): ". */
    char op[48], prefix[QNET_MAX_NAME + 80];
    imp_printable(op, sizeof op, op_type);
    snprintf(prefix, sizeof prefix, "node '%s' (%s): ", m->nname, op);
    const char *why = strncmp(msg, prefix, strlen(prefix)) == 0 ? msg + strlen(prefix) : msg;
    imp_group *g = NULL;
    for (unsigned i = 0; i < m->ngroups && !g; i++)
        if (!strcmp(m->groups[i].op, op) && !strncmp(m->groups[i].why, why, sizeof g->why - 1))
            g = &m->groups[i];
    if (!g && m->ngroups == IMP_MAX_GROUPS) {
        m->nbad_other++;
        return;
    }
    if (!g) {
        g = &m->groups[m->ngroups++];
        memset(g, 0, sizeof *g);
        snprintf(g->op, sizeof g->op, "%s", op);
        snprintf(g->why, sizeof g->why, "%s", why);
    }
    if (g->count < IMP_GROUP_NAMES)
        snprintf(g->names[g->count], sizeof g->names[0], "%s", m->nname);
    g->count++;
}

/* Bind the node's outputs that are not bound yet as SYM_SKIP. */
static int skip_outputs(imp *m) {
    for (size_t k = 0; k < m->node->n_output; k++) {
        const char *o = m->node->output[k];
        unsigned id;
        if (!o || !o[0] || strmap_get(&m->map, o, &id)) continue;
        sym s = {.kind = SYM_SKIP, .why = "the output of a node parley does not support"};
        TRY(imp_bind(m, o, &s));
    }
    return 0;
}

/* Whether the node reads the output of an unsupported node. */
static int reads_skipped(imp *m) {
    for (size_t k = 0; k < m->node->n_input; k++) {
        unsigned id;
        const char *in = m->node->input[k];
        if (in && in[0] && strmap_get(&m->map, in, &id) && m->syms[id].kind == SYM_SKIP) return 1;
    }
    return 0;
}

/* The error listing every unsupported node (one: its own message). */
static int bad_nodes_err(imp *m) {
    if (m->nbad == 1)
        return err_set(PARLEY_E_UNSUPPORTED, "%s%s", m->first_bad,
                       m->nskipped ? " (the nodes that read its result were not checked)" : "");
    char buf[3072];
    size_t at = 0;
#define PUT(...)                                                                                   \
    do {                                                                                           \
        if (at < sizeof buf) at += (size_t)snprintf(buf + at, sizeof buf - at, __VA_ARGS__);       \
    } while (0)
    PUT("%u node%s of the model %s not supported (docs/MODELS.md lists what parley takes):",
        m->nbad, m->nbad == 1 ? "" : "s", m->nbad == 1 ? "is" : "are");
    for (unsigned i = 0; i < m->ngroups; i++) {
        const imp_group *g = &m->groups[i];
        PUT("\n  %s x %u (", g->op, g->count);
        for (unsigned k = 0; k < g->count && k < IMP_GROUP_NAMES; k++)
            PUT("%s'%s'", k ? ", " : "", g->names[k]);
        PUT("%s): %s", g->count > IMP_GROUP_NAMES ? ", ..." : "", g->why);
    }
    if (m->nbad_other) PUT("\n  and %u more of other operators or reasons", m->nbad_other);
    if (m->nskipped)
        PUT("\n  (%u supported node%s reading their results %s not checked)", m->nskipped,
            m->nskipped == 1 ? "" : "s", m->nskipped == 1 ? "was" : "were");
#undef PUT
    return err_set(PARLEY_E_UNSUPPORTED, "%s", buf);
}

/* One node of the graph: imported, or recorded as unsupported. */
static int graph_node(imp *m, const char *op_type) {
    const char *dom = imp_str(m->node->domain);
    if (reads_skipped(m)) { /* behind an unsupported node: only its operator is checked */
        qop k;
        if (find_op(op_type, &k) || k || (dom[0] && strcmp(dom, "ai.onnx") != 0))
            m->nskipped++;
        else {
            (void)imp_err(m, PARLEY_E_UNSUPPORTED, "operator is not supported");
            note_bad(m, op_type);
        }
        return skip_outputs(m);
    }
    int rc;
    if (dom[0] && strcmp(dom, "ai.onnx") != 0) {
        char d[80];
        imp_printable(d, sizeof d, dom);
        rc = imp_err(m, PARLEY_E_UNSUPPORTED, "operator domain '%s' is not supported", d);
    } else {
        rc = import_node(m, op_type);
    }
    if (rc != PARLEY_E_UNSUPPORTED) return rc;
    note_bad(m, op_type);
    return skip_outputs(m);
}

static int import_graph(imp *m, const Onnx__ModelProto *mp) {
    m->opset = -1;
    for (size_t i = 0; i < mp->n_opset_import; i++) {
        const char *d = imp_str(mp->opset_import[i]->domain);
        if ((d[0] == 0 || strcmp(d, "ai.onnx") == 0) && mp->opset_import[i]->has_version)
            m->opset = mp->opset_import[i]->version;
    }
    if (m->opset < 0)
        return err_set(PARLEY_E_FORMAT, "the model imports no opset of the ONNX domain");
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
        TRY(imp_const_from_proto(&c, t, "initializer"));
        TRY(imp_bind_const(m, t->name, &c));
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
                TRY(imp_bind_const(m, vi->name, &c));
                bound = 1;
            }
        if (bound) continue;
        if (ninputs++ == 0) {
            imp_printable(first, sizeof first, vi->name);
            TRY(define_input(m, vi));
        } else {
            imp_printable(other, sizeof other, vi->name);
        }
    }
    if (ninputs == 0)
        return err_set(PARLEY_E_UNSUPPORTED, "the model has no input (only constants)");
    if (ninputs > 1)
        return err_set(PARLEY_E_UNSUPPORTED,
                       "the model has %u inputs ('%s', '%s', ...); parley takes exactly one",
                       ninputs, first, other);
    for (size_t i = 0; i < g->n_node; i++) {
        const Onnx__NodeProto *n = g->node[i];
        m->node = n;
        m->node_index = (unsigned)i;
        if (n->name && n->name[0])
            imp_printable(m->nname, sizeof m->nname, n->name);
        else
            snprintf(m->nname, sizeof m->nname, "%.60s_%zu", imp_str(n->op_type), i);
        for (size_t k = 0; k < sizeof m->nname && m->nname[k]; k++)
            if ((unsigned char)m->nname[k] < 0x20 || (unsigned char)m->nname[k] > 0x7e)
                m->nname[k] = '?';
        if (n->n_output < 1) return imp_err(m, PARLEY_E_FORMAT, "the node has no output");
        if (n->n_input < 1 && strcmp(imp_str(n->op_type), "Constant") != 0)
            return imp_err(m, PARLEY_E_FORMAT, "the node has no input");
        /* Handlers hold pointers to values and symbols while they add some:
         * make room first so neither array moves under them. */
        size_t more = n->n_input + n->n_output + 8;
        if (more > QNET_MAX_INPUTS)
            return imp_err(m, PARLEY_E_UNSUPPORTED, "too many inputs or outputs");
        TRY(fgraph_reserve(m->g, m->g->nv + (unsigned)more));
        TRY(reserve_syms(m, m->nsyms + (unsigned)more));
        TRY(graph_node(m, imp_str(n->op_type)));
    }
    m->node = NULL;
    if (m->nbad) return bad_nodes_err(m);
    if (g->n_output != 1)
        return err_set(PARLEY_E_UNSUPPORTED, "the model has %zu outputs; parley takes exactly one",
                       g->n_output);
    const char *oname = imp_str(g->output[0]->name);
    char nm[80];
    imp_printable(nm, sizeof nm, oname);
    unsigned id;
    if (!strmap_get(&m->map, oname, &id))
        return err_set(PARLEY_E_FORMAT, "output '%s' is not computed by any node", nm);
    if (m->syms[id].kind == SYM_NONE)
        return err_set(PARLEY_E_UNSUPPORTED, "output '%s' is %s", nm, m->syms[id].why);
    if (m->syms[id].kind != SYM_VALUE)
        return err_set(PARLEY_E_UNSUPPORTED,
                       "output '%s' is a constant (it does not depend on the input)", nm);
    m->g->output = m->syms[id].value;
    TRY(check_output(m, g->output[0], m->g->output));
    return fgraph_optimize(m->g);
}

int onnx_import(fgraph **out, const uint8_t *buf, size_t len, const onnx_opts *opts) {
    *out = NULL;
    if (len == 0) return err_set(PARLEY_E_FORMAT, "the file is empty (0 bytes), not an ONNX model");
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
    int rc = imp_const_from_proto(&c, t, "tensor");
    if (rc == 0) rc = nn_tensor_alloc(out, &c.shape);
    if (rc == 0)
        for (size_t i = 0; i < c.n; i++)
            out->data[i] = (float)imp_const_f(&c, i);
    onnx__tensor_proto__free_unpacked(t, NULL);
    return rc;
}
