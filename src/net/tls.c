/* TLS 1.3 with OpenSSL; see tls.h. */
#include "net/tls.h"

#include "util/mem.h"

#include <openssl/bio.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

struct tls_ctx {
    SSL_CTX *ctx;
    int server;
    int has_ca;
    int has_pin;
    uint8_t pin[32]; /* client: the pin the server's key must have */
    char own_pin[80];
};

struct tls_conn {
    SSL *ssl;
    int fd;
    const tls_ctx *t;
    int pin_failed;  /* the verify callback refused the server's key */
    char peer_pin[80];
    tls_first *first; /* handshake only */
    char desc[96];
};

/* ---- a socket BIO that never raises SIGPIPE and records the first bytes ---- */

static BIO_METHOD *sock_method;
static pthread_once_t sock_once = PTHREAD_ONCE_INIT;

static int sock_write(BIO *b, const char *buf, size_t n, size_t *done) {
    tls_conn *c = BIO_get_data(b);
    BIO_clear_retry_flags(b);
    ssize_t w = send(c->fd, buf, n, MSG_NOSIGNAL);
    if (w >= 0) {
        *done = (size_t)w;
        return 1;
    }
    if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR) BIO_set_retry_write(b);
    return 0;
}

static int sock_read(BIO *b, char *buf, size_t n, size_t *done) {
    tls_conn *c = BIO_get_data(b);
    BIO_clear_retry_flags(b);
    ssize_t r = recv(c->fd, buf, n, 0);
    if (r > 0) {
        if (c->first && c->first->n < sizeof c->first->b) {
            size_t k = sizeof c->first->b - c->first->n;
            if (k > (size_t)r) k = (size_t)r;
            memcpy(c->first->b + c->first->n, buf, k);
            c->first->n += k;
        }
        *done = (size_t)r;
        return 1;
    }
    if (r < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)) BIO_set_retry_read(b);
    return 0;
}

static long sock_ctrl(BIO *b, int cmd, long num, void *ptr) {
    (void)b, (void)num, (void)ptr;
    return cmd == BIO_CTRL_FLUSH ? 1 : 0;
}

static int sock_create(BIO *b) {
    BIO_set_init(b, 1);
    return 1;
}

static void sock_method_init(void) {
    sock_method = BIO_meth_new(BIO_get_new_index() | BIO_TYPE_SOURCE_SINK, "parley socket");
    if (!sock_method) return;
    BIO_meth_set_write_ex(sock_method, sock_write);
    BIO_meth_set_read_ex(sock_method, sock_read);
    BIO_meth_set_ctrl(sock_method, sock_ctrl);
    BIO_meth_set_create(sock_method, sock_create);
}

/* ---- errors ---- */

/* The reason of OpenSSL's last error on this thread (and clear the queue). */
static const char *ossl_reason(char *buf, size_t cap, int *reason) {
    unsigned long e = ERR_peek_last_error();
    *reason = e ? ERR_GET_REASON(e) : 0;
    const char *r = e ? ERR_reason_error_string(e) : NULL;
    snprintf(buf, cap, "%s", r ? r : "no reason given");
    ERR_clear_error();
    return buf;
}

/* ---- contexts ---- */

static int pin_hex(char *out, size_t cap, const uint8_t d[32]) {
    int k = snprintf(out, cap, "sha256:");
    for (int i = 0; i < 32 && (size_t)k + 2 < cap; i++)
        k += snprintf(out + k, cap - (size_t)k, "%02x", d[i]);
    return 0;
}

/* SHA-256 of the DER SubjectPublicKeyInfo of x. */
static int spki_sha256(uint8_t out[32], X509 *x) {
    unsigned char *der = NULL;
    int n = i2d_X509_PUBKEY(X509_get_X509_PUBKEY(x), &der);
    if (n <= 0) return -1;
    unsigned len = 32;
    int ok = EVP_Digest(der, (size_t)n, out, &len, EVP_sha256(), NULL);
    OPENSSL_free(der);
    return ok && len == 32 ? 0 : -1;
}

static int parse_pin(uint8_t out[32], const char *s) {
    if (!strncmp(s, "sha256:", 7) || !strncmp(s, "SHA256:", 7)) s += 7;
    size_t k = 0;
    for (; *s; s++) {
        if (*s == ':') continue;
        int v;
        if (*s >= '0' && *s <= '9')
            v = *s - '0';
        else if (*s >= 'a' && *s <= 'f')
            v = *s - 'a' + 10;
        else if (*s >= 'A' && *s <= 'F')
            v = *s - 'A' + 10;
        else
            return -1;
        if (k >= 64) return -1;
        if (k % 2 == 0)
            out[k / 2] = (uint8_t)(v << 4);
        else
            out[k / 2] |= (uint8_t)v;
        k++;
    }
    return k == 64 ? 0 : -1;
}

static int ctx_fail(tls_ctx *t, const char *what, const char *file) {
    char buf[256];
    int reason;
    ossl_reason(buf, sizeof buf, &reason);
    tls_ctx_free(t);
    return err_set(PARLEY_E_ARG, "%s %s: %s", what, file, buf);
}

static int file_readable(const char *what, const char *path) {
    if (access(path, R_OK) != 0)
        return err_set(PARLEY_E_ARG, "%s %s: %s", what, path, strerror(errno));
    return 0;
}

int tls_ctx_new(tls_ctx **out, const tls_opts *o) {
    *out = NULL;
    pthread_once(&sock_once, sock_method_init);
    if (!sock_method) return err_set(PARLEY_E_NOMEM, "cannot set up OpenSSL");
    if (o->server && (!o->cert || !o->key))
        return err_set(PARLEY_E_ARG, "a TLS server needs a certificate and a key");
    if ((o->cert != NULL) != (o->key != NULL))
        return err_set(PARLEY_E_ARG, "a TLS certificate needs its key, and a key its certificate");
    if (!o->server && !o->ca && !o->pin)
        return err_set(PARLEY_E_ARG, "a TLS client needs a CA or a pin to check the server with");
    if (o->server && o->pin) return err_set(PARLEY_E_ARG, "a TLS server takes no pin");
    if (o->cert) TRY(file_readable("TLS certificate", o->cert));
    if (o->key) TRY(file_readable("TLS key", o->key));
    if (o->ca) TRY(file_readable("TLS CA", o->ca));
    tls_ctx *t = mem_calloc(1, sizeof *t);
    if (!t) return PARLEY_E_NOMEM;
    t->server = o->server;
    ERR_clear_error();
    t->ctx = SSL_CTX_new(o->server ? TLS_server_method() : TLS_client_method());
    if (!t->ctx) return ctx_fail(t, "cannot create a TLS context", "");
    SSL_CTX_set_min_proto_version(t->ctx, TLS1_3_VERSION);
    SSL_CTX_set_mode(t->ctx, SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
    SSL_CTX_set_num_tickets(t->ctx, 0); /* no resumption: one session per connection */
    if (o->cert) {
        if (SSL_CTX_use_certificate_chain_file(t->ctx, o->cert) != 1)
            return ctx_fail(t, "cannot use the TLS certificate", o->cert);
        if (SSL_CTX_use_PrivateKey_file(t->ctx, o->key, SSL_FILETYPE_PEM) != 1) {
            if (ERR_GET_REASON(ERR_peek_last_error()) == X509_R_KEY_VALUES_MISMATCH) {
                ERR_clear_error();
                tls_ctx_free(t);
                return err_set(PARLEY_E_ARG, "the TLS key %s does not belong to the certificate %s",
                               o->key, o->cert);
            }
            return ctx_fail(t, "cannot use the TLS key", o->key);
        }
        if (SSL_CTX_check_private_key(t->ctx) != 1)
            return ctx_fail(t, "the TLS key does not belong to the certificate", o->cert);
        uint8_t d[32];
        X509 *x = SSL_CTX_get0_certificate(t->ctx);
        if (!x || spki_sha256(d, x) < 0) return ctx_fail(t, "cannot hash the key of", o->cert);
        pin_hex(t->own_pin, sizeof t->own_pin, d);
    }
    if (o->ca) {
        if (SSL_CTX_load_verify_locations(t->ctx, o->ca, NULL) != 1)
            return ctx_fail(t, "cannot load the TLS CA", o->ca);
        t->has_ca = 1;
        if (o->server) {
            STACK_OF(X509_NAME) *names = SSL_load_client_CA_file(o->ca);
            if (names) SSL_CTX_set_client_CA_list(t->ctx, names);
            SSL_CTX_set_verify(t->ctx, SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT, NULL);
        }
    }
    if (o->pin) {
        if (parse_pin(t->pin, o->pin) < 0) {
            tls_ctx_free(t);
            return err_set(PARLEY_E_ARG,
                           "the TLS pin '%s' is not 64 hex digits (a SHA-256, 'sha256:' optional)",
                           o->pin);
        }
        t->has_pin = 1;
    }
    *out = t;
    return 0;
}

void tls_ctx_free(tls_ctx *t) {
    if (!t) return;
    SSL_CTX_free(t->ctx);
    mem_free_wipe(t, sizeof *t);
}

const char *tls_ctx_pin(const tls_ctx *t) { return t->own_pin; }
int tls_ctx_is_server(const tls_ctx *t) { return t->server; }

/* ---- connections ---- */

static int conn_index = -1;
static pthread_once_t conn_once = PTHREAD_ONCE_INIT;
static void conn_index_init(void) { conn_index = SSL_get_ex_new_index(0, NULL, NULL, NULL, NULL); }

/* Client: chain errors decide only when a CA was given; the pin (if any)
 * is checked on the server's own certificate. */
static int verify_cb(int ok, X509_STORE_CTX *xs) {
    SSL *ssl = X509_STORE_CTX_get_ex_data(xs, SSL_get_ex_data_X509_STORE_CTX_idx());
    tls_conn *c = ssl ? SSL_get_ex_data(ssl, conn_index) : NULL;
    if (!c) return ok;
    if (!c->t->has_ca) ok = 1;
    if (X509_STORE_CTX_get_error_depth(xs) == 0 && c->t->has_pin) {
        uint8_t d[32];
        X509 *x = X509_STORE_CTX_get_current_cert(xs);
        if (!x || spki_sha256(d, x) < 0 || CRYPTO_memcmp(d, c->t->pin, 32) != 0) {
            if (x && spki_sha256(d, x) == 0) pin_hex(c->peer_pin, sizeof c->peer_pin, d);
            c->pin_failed = 1;
            X509_STORE_CTX_set_error(xs, X509_V_ERR_APPLICATION_VERIFICATION);
            return 0;
        }
    }
    return ok;
}

static double now_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec * 1e-6;
}

static int is_ip(const char *s) {
    unsigned char b[16];
    return inet_pton(AF_INET, s, b) == 1 || inet_pton(AF_INET6, s, b) == 1;
}

/* A handshake or I/O failure, in words for the side that sees it. */
static int conn_fail(tls_conn *c, int ssl_err, const char *during) {
    char buf[256];
    int reason;
    ossl_reason(buf, sizeof buf, &reason);
    int server = c->t->server;
    if (ssl_err == SSL_ERROR_ZERO_RETURN || (ssl_err == SSL_ERROR_SYSCALL && reason == 0) ||
        reason == SSL_R_UNEXPECTED_EOF_WHILE_READING)
        return err_set(PARLEY_E_CLOSED, "the peer closed the connection%s%s", during[0] ? " " : "",
                       during);
    if (ssl_err == SSL_ERROR_SYSCALL)
        return err_set(PARLEY_E_CLOSED, "the connection failed%s%s: %s", during[0] ? " " : "",
                       during, strerror(errno));
    if (!server && c->pin_failed)
        return err_set(PARLEY_E_AUTH,
                       "the server's public key does not match --tls-pin (the server's pin is %s)",
                       c->peer_pin[0] ? c->peer_pin : "unknown");
    if (reason == SSL_R_CERTIFICATE_VERIFY_FAILED) {
        long v = SSL_get_verify_result(c->ssl);
        const char *vs = v != X509_V_OK ? X509_verify_cert_error_string(v) : buf;
        return err_set(PARLEY_E_AUTH, "the %s's certificate is not trusted: %s",
                       server ? "client" : "server", vs);
    }
    if (server && (reason == SSL_R_PEER_DID_NOT_RETURN_A_CERTIFICATE))
        return err_set(PARLEY_E_AUTH, "the client presented no certificate (this server admits "
                                      "only clients with a certificate from its client CA)");
    if (!server && reason == SSL_R_TLSV13_ALERT_CERTIFICATE_REQUIRED)
        return err_set(PARLEY_E_AUTH,
                       "the server admits only clients with a certificate (--tls-cert, --tls-key)");
    if (reason == SSL_R_TLSV1_ALERT_UNKNOWN_CA || reason == SSL_R_SSLV3_ALERT_BAD_CERTIFICATE ||
        reason == SSL_R_SSLV3_ALERT_CERTIFICATE_UNKNOWN ||
        reason == SSL_R_TLSV1_ALERT_ACCESS_DENIED ||
        reason == SSL_R_SSLV3_ALERT_UNSUPPORTED_CERTIFICATE ||
        reason == SSL_R_SSLV3_ALERT_CERTIFICATE_EXPIRED ||
        reason == SSL_R_SSLV3_ALERT_HANDSHAKE_FAILURE)
        return err_set(PARLEY_E_AUTH, "the %s did not accept this %s's certificate (%s)",
                       server ? "client" : "server", server ? "server" : "client", buf);
    if (reason == SSL_R_WRONG_VERSION_NUMBER || reason == SSL_R_PACKET_LENGTH_TOO_LONG ||
        reason == SSL_R_RECORD_LENGTH_MISMATCH || reason == SSL_R_HTTP_REQUEST)
        return err_set(PARLEY_E_PROTO, "the peer does not speak TLS (%s)", buf);
    if (reason == SSL_R_UNSUPPORTED_PROTOCOL || reason == SSL_R_TLSV1_ALERT_PROTOCOL_VERSION)
        return err_set(PARLEY_E_PROTO, "the peer does not speak TLS 1.3 (%s)", buf);
    return err_set(PARLEY_E_AUTH, "TLS failed%s%s: %s", during[0] ? " " : "", during, buf);
}

int tls_handshake(tls_conn **out, const tls_ctx *t, int fd, const char *name, int timeout_ms,
                  tls_first *first) {
    *out = NULL;
    pthread_once(&conn_once, conn_index_init);
    if (first) first->n = 0;
    tls_conn *c = mem_calloc(1, sizeof *c);
    if (!c) return PARLEY_E_NOMEM;
    c->fd = fd;
    c->t = t;
    c->first = first;
    ERR_clear_error();
    c->ssl = SSL_new(t->ctx);
    BIO *b = c->ssl ? BIO_new(sock_method) : NULL;
    if (!c->ssl || !b) {
        BIO_free(b);
        tls_close(c);
        return err_set(PARLEY_E_NOMEM, "cannot set up a TLS connection");
    }
    BIO_set_data(b, c);
    SSL_set_bio(c->ssl, b, b);
    SSL_set_ex_data(c->ssl, conn_index, c);
    if (t->server) {
        SSL_set_accept_state(c->ssl);
    } else {
        SSL_set_connect_state(c->ssl);
        SSL_set_verify(c->ssl, SSL_VERIFY_PEER, verify_cb);
        if (name && t->has_ca) {
            if (is_ip(name)) {
                X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(c->ssl), name);
            } else {
                SSL_set1_host(c->ssl, name);
                SSL_set_tlsext_host_name(c->ssl, name);
            }
        } else if (name && !is_ip(name)) {
            SSL_set_tlsext_host_name(c->ssl, name);
        }
    }
    double deadline = now_ms() + (timeout_ms > 0 ? timeout_ms : 1e12);
    for (;;) {
        ERR_clear_error();
        int r = SSL_do_handshake(c->ssl);
        if (r == 1) break;
        int e = SSL_get_error(c->ssl, r);
        if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE) {
            double left = deadline - now_ms();
            struct pollfd p = {.fd = fd, .events = e == SSL_ERROR_WANT_READ ? POLLIN : POLLOUT};
            int pr = left > 0 ? poll(&p, 1, (int)(left + 1)) : 0;
            if (pr < 0 && errno == EINTR) continue;
            if (pr <= 0) {
                tls_close(c);
                return err_set(PARLEY_E_TIMEOUT, "the TLS handshake took more than %d ms",
                               timeout_ms);
            }
            continue;
        }
        int rc = conn_fail(c, e, "during the TLS handshake");
        c->first = NULL;
        SSL_free(c->ssl);
        c->ssl = NULL;
        mem_free(c);
        return rc;
    }
    c->first = NULL;
    snprintf(c->desc, sizeof c->desc, "%s %s", SSL_get_version(c->ssl),
             SSL_get_cipher_name(c->ssl));
    *out = c;
    return 0;
}

/* What SSL_read_ex or SSL_write_ex's result r means: the bytes moved, 0
 * with *want the poll event to wait for, or the failure. */
static ssize_t io_result(tls_conn *c, int r, size_t moved, short *want) {
    if (r == 1) return (ssize_t)moved;
    int e = SSL_get_error(c->ssl, r);
    if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE) {
        *want = e == SSL_ERROR_WANT_READ ? POLLIN : POLLOUT;
        return 0;
    }
    return conn_fail(c, e, "");
}

ssize_t tls_read(tls_conn *c, void *buf, size_t n, short *want) {
    ERR_clear_error();
    size_t got = 0;
    int r = SSL_read_ex(c->ssl, buf, n, &got);
    return io_result(c, r, got, want);
}

ssize_t tls_write(tls_conn *c, const void *buf, size_t n, short *want) {
    ERR_clear_error();
    size_t done = 0;
    int r = SSL_write_ex(c->ssl, buf, n, &done);
    return io_result(c, r, done, want);
}

int tls_pending(tls_conn *c) { return SSL_has_pending(c->ssl); }

void tls_close(tls_conn *c) {
    if (!c) return;
    if (c->ssl) {
        ERR_clear_error();
        (void)SSL_shutdown(c->ssl); /* non-blocking: one try */
        ERR_clear_error();
        SSL_free(c->ssl);
    }
    mem_free(c);
}

const char *tls_desc(const tls_conn *c) { return c->desc; }

/* ---- the shared token ---- */

#define TOKEN_MAX 4096

int tls_token_file(uint8_t out[32], const char *path) {
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return err_set(PARLEY_E_ARG, "token file %s: %s", path, strerror(errno));
    uint8_t *buf = mem_alloc(TOKEN_MAX + 1, 1);
    if (!buf) {
        close(fd);
        return PARLEY_E_NOMEM;
    }
    size_t n = 0;
    int rc = 0;
    for (;;) {
        ssize_t r = read(fd, buf + n, TOKEN_MAX + 1 - n);
        if (r < 0 && errno == EINTR) continue;
        if (r < 0) {
            rc = err_set(PARLEY_E_ARG, "token file %s: %s", path, strerror(errno));
            break;
        }
        if (r == 0) break;
        n += (size_t)r;
        if (n > TOKEN_MAX) {
            rc = err_set(PARLEY_E_ARG, "token file %s: more than %d bytes", path, TOKEN_MAX);
            break;
        }
    }
    close(fd);
    while (rc == 0 && n > 0 && (buf[n - 1] == '\n' || buf[n - 1] == '\r'))
        n--;
    if (rc == 0 && n == 0) rc = err_set(PARLEY_E_ARG, "token file %s is empty", path);
    if (rc == 0) {
        static const char dom[] = "parley link token v1";
        EVP_MD_CTX *md = EVP_MD_CTX_new();
        unsigned len = 0;
        if (!md || EVP_DigestInit_ex(md, EVP_sha256(), NULL) != 1 ||
            EVP_DigestUpdate(md, dom, sizeof dom) != 1 || EVP_DigestUpdate(md, buf, n) != 1 ||
            EVP_DigestFinal_ex(md, out, &len) != 1 || len != 32)
            rc = err_set(PARLEY_E_NOMEM, "cannot hash the token");
        EVP_MD_CTX_free(md);
    }
    mem_free_wipe(buf, TOKEN_MAX + 1);
    return rc;
}

int tls_memcmp(const void *a, const void *b, size_t n) { return CRYPTO_memcmp(a, b, n); }
