/* TLS 1.3 for a link (OpenSSL): contexts from PEM files, the handshake on a
 * connected socket, non-blocking reads and writes, and the shared token.
 *
 * Server: its certificate (chain) and key; optionally a CA whose
 * certificates it demands from clients. Client: a CA to verify the
 * server's certificate chain and name, and/or the SHA-256 pin of the
 * server's public key (the hash of its DER SubjectPublicKeyInfo, as
 *   openssl x509 -in cert.pem -pubkey -noout |
 *     openssl pkey -pubin -outform der | openssl dgst -sha256
 * prints it); optionally its own certificate and key. Only TLS 1.3 is
 * spoken. Failures name what was refused, on the side that refused and,
 * through TLS alerts, on the other side.
 *
 * A tls_conn is used by one thread at a time (the link's I/O thread after
 * the handshake). Keys stay inside OpenSSL, which wipes them when the
 * context is freed; the token is read, hashed and wiped at once. */
#ifndef PARLEY_NET_TLS_H
#define PARLEY_NET_TLS_H

#include "util/err.h"

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

typedef struct tls_ctx tls_ctx;
typedef struct tls_conn tls_conn;

typedef struct tls_opts {
    int server;
    const char *cert, *key; /* PEM files: our certificate chain and private key */
    const char *ca;         /* server: CA of client certificates; client: CA of servers */
    const char *pin;        /* client: the server key's pin, 64 hex digits ("sha256:" and
                             * colons allowed) */
} tls_opts;

int tls_ctx_new(tls_ctx **out, const tls_opts *o) WUR;
void tls_ctx_free(tls_ctx *t);
/* "sha256:<64 hex digits>" of our own certificate's public key, "" if none. */
const char *tls_ctx_pin(const tls_ctx *t);
int tls_ctx_is_server(const tls_ctx *t);

/* The first bytes a TLS client read from a server whose handshake failed:
 * if they are not TLS, the link layer can say what the server said. */
typedef struct tls_first {
    uint8_t b[64];
    size_t n;
} tls_first;

/* Handshake on the connected non-blocking socket fd (not owned) within
 * timeout_ms. Client: name is the server's name (DNS name or IP literal)
 * its certificate must carry when the context has a CA (NULL: not
 * checked); first (may be NULL) gets what the server sent first. */
int tls_handshake(tls_conn **out, const tls_ctx *t, int fd, const char *name, int timeout_ms,
                  tls_first *first) WUR;
/* Non-blocking I/O: > 0 bytes moved; 0: would block, *want says on what
 * (POLLIN or POLLOUT); < 0: a failure (PARLEY_E_CLOSED at the peer's end of
 * the stream), with a message. */
ssize_t tls_read(tls_conn *c, void *buf, size_t n, short *want);
ssize_t tls_write(tls_conn *c, const void *buf, size_t n, short *want);
/* Decrypted or undecrypted bytes OpenSSL holds that poll cannot see. */
int tls_pending(tls_conn *c);
/* Send close_notify (best effort, never blocks) and free. */
void tls_close(tls_conn *c);
/* "TLSv1.3 TLS_AES_256_GCM_SHA384" */
const char *tls_desc(const tls_conn *c);

/* The shared token of a file: its bytes (a trailing newline dropped; 1 to
 * 4096 bytes) hashed to 32 bytes; the file's bytes are wiped. */
int tls_token_file(uint8_t out[32], const char *path) WUR;
/* Constant-time comparison of n bytes: 0 if equal. */
int tls_memcmp(const void *a, const void *b, size_t n);

#endif
