/* Shapes, float tensors and whole-file I/O; see tensor.h. */
#include "nn/tensor.h"

#include "util/mem.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

int nn_shape_check(size_t *count, const nn_shape *s) {
    char b[128];
    if (s->rank > NN_MAX_RANK)
        return err_set(PARLEY_E_ARG, "rank %u exceeds %d", s->rank, NN_MAX_RANK);
    size_t n = 1;
    for (unsigned i = 0; i < s->rank; i++) {
        if (s->d[i] == 0)
            return err_set(PARLEY_E_ARG, "shape %s has an empty dimension",
                           nn_shape_str(b, sizeof b, s));
        if (size_mul(&n, n, s->d[i]) < 0 || n > NN_MAX_ELEMS)
            return err_set(PARLEY_E_ARG, "shape %s has more than %zu elements",
                           nn_shape_str(b, sizeof b, s), NN_MAX_ELEMS);
    }
    if (count) *count = n;
    return 0;
}

size_t nn_shape_count(const nn_shape *s) {
    size_t n = 1;
    for (unsigned i = 0; i < s->rank; i++)
        n *= s->d[i];
    return n;
}

int nn_shape_eq(const nn_shape *a, const nn_shape *b) {
    if (a->rank != b->rank) return 0;
    for (unsigned i = 0; i < a->rank; i++)
        if (a->d[i] != b->d[i]) return 0;
    return 1;
}

int nn_shape_broadcast(nn_shape *out, const nn_shape *a, const nn_shape *b) {
    unsigned r = a->rank > b->rank ? a->rank : b->rank;
    if (r > NN_MAX_RANK) return -1;
    out->rank = r;
    for (unsigned i = 0; i < r; i++) {
        uint32_t da = i < r - a->rank ? 1 : a->d[i - (r - a->rank)];
        uint32_t db = i < r - b->rank ? 1 : b->d[i - (r - b->rank)];
        if (da != db && da != 1 && db != 1) return -1;
        out->d[i] = da == 1 ? db : da;
    }
    return 0;
}

size_t nn_broadcast_index(const nn_shape *from, const nn_shape *to, size_t i) {
    size_t src = 0, stride = 1;
    unsigned off = to->rank - from->rank;
    for (unsigned d = to->rank; d-- > off;) {
        uint32_t fd = from->d[d - off];
        size_t k = i % to->d[d];
        i /= to->d[d];
        if (fd != 1) src += k * stride;
        stride *= fd;
    }
    return src;
}

const char *nn_shape_str(char *buf, size_t cap, const nn_shape *s) {
    size_t at = 0;
    if (cap == 0) return buf;
    buf[0] = 0;
    at += (size_t)snprintf(buf + at, cap - at, "[");
    unsigned r = s->rank > NN_MAX_RANK ? NN_MAX_RANK : s->rank;
    for (unsigned i = 0; i < r && at < cap; i++)
        at += (size_t)snprintf(buf + at, cap - at, "%s%u", i ? "," : "", (unsigned)s->d[i]);
    if (at < cap) snprintf(buf + at, cap - at, "]");
    return buf;
}

int nn_tensor_alloc(nn_tensor *t, const nn_shape *s) {
    memset(t, 0, sizeof *t);
    size_t n;
    TRY(nn_shape_check(&n, s));
    t->data = mem_alloc(n, sizeof(float));
    if (!t->data) return PARLEY_E_NOMEM;
    t->shape = *s;
    t->n = n;
    return 0;
}

void nn_tensor_free(nn_tensor *t) {
    if (!t) return;
    mem_free(t->data);
    memset(t, 0, sizeof *t);
}

int nn_read_file(uint8_t **buf, size_t *len, const char *path, size_t max) {
    *buf = NULL;
    *len = 0;
    FILE *f = fopen(path, "rb");
    if (!f) return err_set(PARLEY_E_IO, "cannot open %s: %s", path, strerror(errno));
    size_t cap = 1 << 16, n = 0;
    uint8_t *b = mem_alloc(cap, 1);
    if (!b) {
        fclose(f);
        return PARLEY_E_NOMEM;
    }
    for (;;) {
        if (n == cap) {
            if (cap > max) break;
            size_t ncap = cap * 2;
            uint8_t *nb = mem_alloc(ncap, 1);
            if (!nb) {
                mem_free(b);
                fclose(f);
                return PARLEY_E_NOMEM;
            }
            memcpy(nb, b, n);
            mem_free(b);
            b = nb;
            cap = ncap;
        }
        size_t r = fread(b + n, 1, cap - n, f);
        if (r == 0) break;
        n += r;
    }
    int bad = ferror(f);
    fclose(f);
    if (bad) {
        mem_free(b);
        return err_set(PARLEY_E_IO, "cannot read %s", path);
    }
    if (n > max) {
        mem_free(b);
        return err_set(PARLEY_E_FORMAT, "%s is larger than %zu bytes", path, max);
    }
    *buf = b;
    *len = n;
    return 0;
}

int nn_write_file(const char *path, const void *buf, size_t len) {
    char tmp[4096];
    if ((size_t)snprintf(tmp, sizeof tmp, "%s.tmp", path) >= sizeof tmp)
        return err_set(PARLEY_E_ARG, "path too long: %s", path);
    FILE *f = fopen(tmp, "wb");
    if (!f) return err_set(PARLEY_E_IO, "cannot create %s: %s", tmp, strerror(errno));
    int ok = fwrite(buf, 1, len, f) == len;
    ok &= fclose(f) == 0;
    if (!ok || rename(tmp, path) != 0) {
        int e = errno;
        remove(tmp);
        return err_set(PARLEY_E_IO, "cannot write %s: %s", path, strerror(e));
    }
    return 0;
}
