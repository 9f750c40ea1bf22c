/* See json.h. */
#include "util/json.h"

#include <stdio.h>

void json_str(void (*put)(void *ctx, const char *p, size_t n), void *ctx, const char *s) {
    put(ctx, "\"", 1);
    for (; s && *s; s++) {
        unsigned char c = (unsigned char)*s;
        char e[8];
        if (c == '"' || c == '\\') {
            e[0] = '\\';
            e[1] = (char)c;
            put(ctx, e, 2);
        } else if (c < 0x20 || c > 0x7e) {
            snprintf(e, sizeof e, "\\u%04x", c);
            put(ctx, e, 6);
        } else {
            put(ctx, (const char *)&c, 1);
        }
    }
    put(ctx, "\"", 1);
}
