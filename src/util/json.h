/* JSON text for the reports (the CLI's and the library's). */
#ifndef PARLEY_UTIL_JSON_H
#define PARLEY_UTIL_JSON_H

#include <stddef.h>

/* The JSON string of s (NULL: ""), quotes included, handed to put in
 * pieces: '"' and '\\' escaped, bytes outside printable ASCII as \u00XX
 * (names in models are the model author's bytes, not necessarily UTF-8). */
void json_str(void (*put)(void *ctx, const char *p, size_t n), void *ctx, const char *s);

#endif
