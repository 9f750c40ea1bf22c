/* Status codes and error messages.
 *
 * Expected failures (I/O, a bad file, a bad peer message, out of memory)
 * return a negative status; the human-readable message of the most recent
 * failure is kept per thread and read with err_msg(). Programmer errors
 * (NULL pointers, size mismatches) go through PARLEY_CHECK and abort. */
#ifndef PARLEY_UTIL_ERR_H
#define PARLEY_UTIL_ERR_H

#include "parley.h"

#include <stdio.h>
#include <stdlib.h>

#define WUR __attribute__((warn_unused_result))

/* Record `code` with a printf-style message for this thread; returns code. */
int err_set(int code, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Prefix the current message with context ("while X: <old message>"). */
int err_wrap(int code, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
const char *err_msg(void);
void err_clear(void);

/* Propagate a failing status. */
#define TRY(expr)                                                                                  \
    do {                                                                                           \
        int try_rc_ = (expr);                                                                      \
        if (try_rc_ < 0) return try_rc_;                                                           \
    } while (0)

/* Abort on a programmer error; never use on data from a file or the peer. */
#define PARLEY_CHECK(cond)                                                                         \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            fprintf(stderr, "parley: internal error: %s (%s:%d)\n", #cond, __FILE__, __LINE__);    \
            abort();                                                                               \
        }                                                                                          \
    } while (0)

#endif
