/* A small string -> unsigned hash map (open addressing, FNV-1a) so name
 * lookups in a model stay linear in the model's size. Keys are not copied:
 * they must outlive the map. */
#ifndef PARLEY_NN_STRMAP_H
#define PARLEY_NN_STRMAP_H

#include "util/err.h"

#include <stddef.h>

typedef struct strmap {
    const char **key;
    unsigned *val;
    size_t cap, n;
} strmap;

void strmap_init(strmap *m);
void strmap_free(strmap *m);
/* Insert or replace. */
int strmap_put(strmap *m, const char *key, unsigned val) WUR;
/* 1 and *val if present, else 0. */
int strmap_get(const strmap *m, const char *key, unsigned *val);

#endif
