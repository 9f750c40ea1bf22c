/* String map; see strmap.h. */
#include "nn/strmap.h"

#include "util/mem.h"

#include <stdint.h>
#include <string.h>

static uint64_t hash(const char *s) {
    uint64_t h = 1469598103934665603ULL;
    for (; *s; s++)
        h = (h ^ (unsigned char)*s) * 1099511628211ULL;
    return h;
}

void strmap_init(strmap *m) {
    memset(m, 0, sizeof *m);
}

void strmap_free(strmap *m) {
    mem_free(m->key);
    mem_free(m->val);
    memset(m, 0, sizeof *m);
}

static size_t slot(const strmap *m, const char *key) {
    size_t i = (size_t)hash(key) & (m->cap - 1);
    while (m->key[i] && strcmp(m->key[i], key) != 0)
        i = (i + 1) & (m->cap - 1);
    return i;
}

int strmap_put(strmap *m, const char *key, unsigned val) {
    if ((m->n + 1) * 2 > m->cap) {
        size_t ncap = m->cap ? m->cap * 2 : 64;
        strmap bigger = {mem_calloc(ncap, sizeof(char *)), mem_alloc(ncap, sizeof(unsigned)), ncap,
                         0};
        if (!bigger.key || !bigger.val) {
            strmap_free(&bigger);
            return PARLEY_E_NOMEM;
        }
        for (size_t i = 0; i < m->cap; i++)
            if (m->key[i]) {
                size_t j = slot(&bigger, m->key[i]);
                bigger.key[j] = m->key[i];
                bigger.val[j] = m->val[i];
                bigger.n++;
            }
        strmap_free(m);
        *m = bigger;
    }
    size_t i = slot(m, key);
    if (!m->key[i]) {
        m->key[i] = key;
        m->n++;
    }
    m->val[i] = val;
    return 0;
}

int strmap_get(const strmap *m, const char *key, unsigned *val) {
    if (!m->cap) return 0;
    size_t i = slot(m, key);
    if (!m->key[i]) return 0;
    *val = m->val[i];
    return 1;
}
