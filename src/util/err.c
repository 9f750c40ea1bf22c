/* Per-thread error message store; see err.h. */
#include "util/err.h"

#include <stdarg.h>
#include <string.h>

/* Room for an importer's list of every unsupported node of a model. */
static _Thread_local char err_buf[4096];

int err_set(int code, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err_buf, sizeof err_buf, fmt, ap);
    va_end(ap);
    return code;
}

int err_wrap(int code, const char *fmt, ...) {
    char old[sizeof err_buf];
    memcpy(old, err_buf, sizeof old);
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(err_buf, sizeof err_buf, fmt, ap);
    va_end(ap);
    if (n >= 0 && (size_t)n < sizeof err_buf)
        snprintf(err_buf + n, sizeof err_buf - (size_t)n, ": %s", old);
    return code;
}

const char *err_msg(void) { return err_buf[0] ? err_buf : "no error"; }
void err_clear(void) { err_buf[0] = 0; }

const char *parley_strerror(int status) {
    switch (status) {
    case PARLEY_OK: return "ok";
    case PARLEY_E_IO: return "I/O error";
    case PARLEY_E_CLOSED: return "peer closed the connection";
    case PARLEY_E_TIMEOUT: return "timed out";
    case PARLEY_E_REFUSED: return "connection refused";
    case PARLEY_E_PROTO: return "malformed or unexpected peer message";
    case PARLEY_E_NOMEM: return "out of memory";
    case PARLEY_E_ARG: return "invalid argument";
    case PARLEY_E_FORMAT: return "malformed input file";
    case PARLEY_E_UNSUPPORTED: return "unsupported";
    case PARLEY_E_MISMATCH: return "parties disagree on parameters";
    case PARLEY_E_AUTH: return "authentication refused";
    case PARLEY_E_LIMIT: return "over a limit";
    case PARLEY_E_STOPPED: return "the server was stopped";
    case PARLEY_E_RANGE: return "out of the ring's range";
    default: return "unknown error";
    }
}

const char *parley_last_error(void) { return err_msg(); }
