/* .npy reading and writing; see npy.h. The header grammar follows NumPy's
 * format description (numpy/lib/format.py): magic "\x93NUMPY", a version
 * byte pair, a little-endian header length (2 bytes in 1.0, 4 bytes later),
 * then a Python dict literal padded with spaces and ended by '\n'. */
#include "nn/npy.h"

#include "util/mem.h"

#include <string.h>

#define NPY_MAX_HEADER 65536

static int bad(const char *why) {
    return err_set(PARLEY_E_FORMAT, ".npy: %s", why);
}

typedef struct cursor {
    const char *p, *end;
} cursor;

static void skip_ws(cursor *c) {
    while (c->p < c->end && *c->p == ' ')
        c->p++;
}

static int eat(cursor *c, char ch) {
    skip_ws(c);
    if (c->p < c->end && *c->p == ch) {
        c->p++;
        return 1;
    }
    return 0;
}

/* A quoted Python string without escapes, up to cap-1 characters. */
static int parse_str(cursor *c, char *out, size_t cap) {
    skip_ws(c);
    if (c->p >= c->end || (*c->p != '\'' && *c->p != '"')) return bad("expected a string");
    char q = *c->p++;
    size_t n = 0;
    while (c->p < c->end && *c->p != q) {
        char ch = *c->p++;
        if (ch == '\\' || (unsigned char)ch < 0x20 || (unsigned char)ch > 0x7e)
            return bad("unexpected character in a string");
        if (n + 1 >= cap) return bad("string too long");
        out[n++] = ch;
    }
    if (c->p >= c->end) return bad("unterminated string");
    c->p++;
    out[n] = 0;
    return 0;
}

static int parse_bool(cursor *c, int *v) {
    skip_ws(c);
    size_t left = (size_t)(c->end - c->p);
    if (left >= 4 && memcmp(c->p, "True", 4) == 0) {
        c->p += 4;
        *v = 1;
        return 0;
    }
    if (left >= 5 && memcmp(c->p, "False", 5) == 0) {
        c->p += 5;
        *v = 0;
        return 0;
    }
    return bad("fortran_order must be True or False");
}

static int parse_shape(cursor *c, nn_shape *s) {
    memset(s, 0, sizeof *s);
    if (!eat(c, '(')) return bad("shape must be a tuple");
    int comma = 0;
    for (;;) {
        if (eat(c, ')')) break;
        if (s->rank > 0 && !comma) return bad("malformed shape tuple");
        skip_ws(c);
        if (c->p >= c->end || *c->p < '0' || *c->p > '9') return bad("malformed shape tuple");
        uint64_t v = 0;
        int digits = 0;
        while (c->p < c->end && *c->p >= '0' && *c->p <= '9') {
            v = v * 10 + (uint64_t)(*c->p++ - '0');
            if (++digits > 12) return bad("dimension too large");
        }
        if (v == 0) return bad("empty arrays are not supported");
        if (v > UINT32_MAX) return bad("dimension too large");
        if (s->rank == NN_MAX_RANK) return bad("more dimensions than parley supports (8)");
        s->d[s->rank++] = (uint32_t)v;
        comma = eat(c, ',');
    }
    /* (3) is not a tuple in Python: one element needs its trailing comma. */
    if (s->rank == 1 && !comma) return bad("a one-element shape needs a trailing comma");
    return 0;
}

enum { K_F, K_I, K_U, K_B };

static int parse_descr(const char *d, int *kind, unsigned *size, int *big) {
    size_t n = strlen(d);
    if (n < 3 || n > 4)
        return err_set(PARLEY_E_UNSUPPORTED, ".npy: dtype '%s' is not supported", d);
    char order = d[0], k = d[1];
    unsigned sz = 0;
    for (size_t i = 2; i < n; i++) {
        if (d[i] < '0' || d[i] > '9') return bad("malformed descr");
        sz = sz * 10 + (unsigned)(d[i] - '0');
    }
    if (order != '<' && order != '>' && order != '|' && order != '=')
        return bad("malformed descr byte order");
    int kd;
    switch (k) {
    case 'f':
        kd = K_F;
        if (sz != 4 && sz != 8) goto unsup;
        break;
    case 'i':
        kd = K_I;
        if (sz != 1 && sz != 2 && sz != 4 && sz != 8) goto unsup;
        break;
    case 'u':
        kd = K_U;
        if (sz != 1 && sz != 2 && sz != 4 && sz != 8) goto unsup;
        break;
    case 'b':
        kd = K_B;
        if (sz != 1) goto unsup;
        break;
    default:
        goto unsup;
    }
    if (order == '|' && sz != 1) return bad("'|' byte order on a multi-byte dtype");
    *kind = kd;
    *size = sz;
    *big = order == '>';
    return 0;
unsup:
    return err_set(PARLEY_E_UNSUPPORTED, ".npy: dtype '%s' is not supported", d);
}

static uint64_t load_uint(const uint8_t *p, unsigned size, int big) {
    uint64_t v = 0;
    for (unsigned i = 0; i < size; i++)
        v |= (uint64_t)p[big ? size - 1 - i : i] << (8 * i);
    return v;
}

static float convert(const uint8_t *p, int kind, unsigned size, int big) {
    uint64_t v = load_uint(p, size, big);
    switch (kind) {
    case K_F:
        if (size == 4) {
            uint32_t u = (uint32_t)v;
            float f;
            memcpy(&f, &u, 4);
            return f;
        } else {
            double f;
            memcpy(&f, &v, 8);
            return (float)f;
        }
    case K_I: {
        unsigned sh = 64 - 8 * size;
        return (float)((int64_t)(v << sh) >> sh);
    }
    case K_U:
        return (float)v;
    default:
        return v ? 1.0f : 0.0f;
    }
}

int npy_parse(nn_tensor *out, const uint8_t *buf, size_t len) {
    memset(out, 0, sizeof *out);
    if (len < 10 || memcmp(buf, "\x93NUMPY", 6) != 0) return bad("not a .npy file (bad magic)");
    unsigned major = buf[6], minor = buf[7];
    if (minor != 0 || major < 1 || major > 3)
        return err_set(PARLEY_E_UNSUPPORTED, ".npy: format version %u.%u is not supported", major,
                       minor);
    size_t hlen, at;
    if (major == 1) {
        hlen = (size_t)buf[8] | (size_t)buf[9] << 8;
        at = 10;
    } else {
        if (len < 12) return bad("truncated header");
        hlen = (size_t)buf[8] | (size_t)buf[9] << 8 | (size_t)buf[10] << 16 | (size_t)buf[11] << 24;
        at = 12;
    }
    if (hlen > NPY_MAX_HEADER) return bad("header too long");
    if (hlen > len - at) return bad("header runs past the end of the file");
    if (hlen == 0) return bad("empty header");
    const char *h = (const char *)buf + at;
    if (h[hlen - 1] != '\n') return bad("header does not end with a newline");
    for (size_t i = 0; i < hlen - 1; i++)
        if ((unsigned char)h[i] < 0x20 || (unsigned char)h[i] > 0x7e)
            return bad("header holds a non-printable byte");

    cursor c = {h, h + hlen - 1};
    char key[32], descr[16] = {0};
    int have_descr = 0, have_fortran = 0, have_shape = 0, fortran = 0;
    nn_shape shape;
    if (!eat(&c, '{')) return bad("header is not a dict");
    for (;;) {
        skip_ws(&c);
        if (eat(&c, '}')) break;
        TRY(parse_str(&c, key, sizeof key));
        if (!eat(&c, ':')) return bad("expected ':' in the header dict");
        if (strcmp(key, "descr") == 0) {
            if (have_descr++) return bad("'descr' appears twice");
            TRY(parse_str(&c, descr, sizeof descr));
        } else if (strcmp(key, "fortran_order") == 0) {
            if (have_fortran++) return bad("'fortran_order' appears twice");
            TRY(parse_bool(&c, &fortran));
        } else if (strcmp(key, "shape") == 0) {
            if (have_shape++) return bad("'shape' appears twice");
            TRY(parse_shape(&c, &shape));
        } else {
            return bad("unknown key in the header dict");
        }
        if (!eat(&c, ',')) {
            if (!eat(&c, '}')) return bad("expected ',' or '}' in the header dict");
            break;
        }
    }
    skip_ws(&c);
    if (c.p != c.end) return bad("trailing characters after the header dict");
    if (!have_descr || !have_fortran || !have_shape)
        return bad("header lacks 'descr', 'fortran_order' or 'shape'");
    int kind = 0, big = 0;
    unsigned size = 1;
    TRY(parse_descr(descr, &kind, &size, &big));
    size_t n;
    if (nn_shape_check(&n, &shape) < 0) return err_wrap(PARLEY_E_FORMAT, ".npy");
    if (fortran && shape.rank > 1)
        return err_set(PARLEY_E_UNSUPPORTED, ".npy: Fortran-ordered arrays are not supported");
    size_t data_len = len - at - hlen;
    if (data_len / size != n || data_len % size != 0)
        return err_set(PARLEY_E_FORMAT,
                       ".npy: data holds %zu bytes, the header announces %zu elements of %u bytes",
                       data_len, n, size);
    TRY(nn_tensor_alloc(out, &shape));
    const uint8_t *d = buf + at + hlen;
    for (size_t i = 0; i < n; i++)
        out->data[i] = convert(d + i * size, kind, size, big);
    return 0;
}

int npy_load(nn_tensor *out, const char *path) {
    uint8_t *buf;
    size_t len;
    memset(out, 0, sizeof *out);
    TRY(nn_read_file(&buf, &len, path, NPY_MAX_FILE));
    int rc = npy_parse(out, buf, len);
    mem_free(buf);
    if (rc < 0) return err_wrap(rc, "%s", path);
    return 0;
}

int npy_encode_f32(uint8_t **buf, size_t *len, const nn_shape *s, const float *data) {
    *buf = NULL;
    *len = 0;
    size_t n;
    TRY(nn_shape_check(&n, s));
    char dict[256];
    size_t at =
        (size_t)snprintf(dict, sizeof dict, "{'descr': '<f4', 'fortran_order': False, 'shape': (");
    for (unsigned i = 0; i < s->rank; i++)
        at +=
            (size_t)snprintf(dict + at, sizeof dict - at, "%s%u", i ? ", " : "", (unsigned)s->d[i]);
    at += (size_t)snprintf(dict + at, sizeof dict - at, "%s), }", s->rank == 1 ? "," : "");
    size_t total_h = (10 + at + 1 + 63) / 64 * 64; /* magic..dict..'\n', 64-aligned */
    size_t hlen = total_h - 10, bytes;
    if (size_mul(&bytes, n, 4) < 0 || size_add(&bytes, bytes, total_h) < 0) return PARLEY_E_NOMEM;
    uint8_t *b = mem_alloc(bytes, 1);
    if (!b) return PARLEY_E_NOMEM;
    memcpy(b, "\x93NUMPY\x01\x00", 8);
    b[8] = (uint8_t)hlen;
    b[9] = (uint8_t)(hlen >> 8);
    memcpy(b + 10, dict, at);
    memset(b + 10 + at, ' ', hlen - at - 1);
    b[total_h - 1] = '\n';
    for (size_t i = 0; i < n; i++) {
        uint32_t u;
        memcpy(&u, &data[i], 4);
        uint8_t *p = b + total_h + 4 * i;
        p[0] = (uint8_t)u;
        p[1] = (uint8_t)(u >> 8);
        p[2] = (uint8_t)(u >> 16);
        p[3] = (uint8_t)(u >> 24);
    }
    *buf = b;
    *len = bytes;
    return 0;
}

int npy_save_f32(const char *path, const nn_shape *s, const float *data) {
    uint8_t *buf;
    size_t len;
    TRY(npy_encode_f32(&buf, &len, s, data));
    int rc = nn_write_file(path, buf, len);
    mem_free(buf);
    return rc;
}
