/* parley — secure two-party neural-network inference (CrypTFlow2).
 *
 * The only public header. Status codes are shared by every layer: 0 is
 * success, negative values are expected failures whose message is available
 * from parley_last_error() on the failing thread. */
#ifndef PARLEY_H
#define PARLEY_H

#define PARLEY_VERSION_MAJOR 0
#define PARLEY_VERSION_MINOR 1
#define PARLEY_VERSION_STRING "0.1.0"

enum parley_status {
    PARLEY_OK = 0,
    PARLEY_E_IO = -1,          /* a system call failed */
    PARLEY_E_CLOSED = -2,      /* the peer closed the connection */
    PARLEY_E_TIMEOUT = -3,     /* the peer did not answer in time */
    PARLEY_E_REFUSED = -4,     /* nobody listening at the address */
    PARLEY_E_PROTO = -5,       /* malformed or unexpected peer message */
    PARLEY_E_NOMEM = -6,       /* allocation failed or a size overflowed */
    PARLEY_E_ARG = -7,         /* invalid argument from the user */
    PARLEY_E_FORMAT = -8,      /* malformed input file */
    PARLEY_E_UNSUPPORTED = -9, /* valid but not supported */
    PARLEY_E_MISMATCH = -10,   /* the parties disagree on parameters */
    PARLEY_E_AUTH = -11,       /* a certificate, key pin or token was refused */
    PARLEY_E_LIMIT = -12,      /* a peer's demand went past a cap (the message names its option) */
    PARLEY_E_RANGE = -13,      /* a value left the ring's range: the result would wrap around */
};

const char *parley_strerror(int status);
const char *parley_last_error(void);

#endif
