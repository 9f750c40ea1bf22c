/* TCP and socketpair channels; see chan.h for the contract. */
#include "net/chan.h"

#include "util/mem.h"

#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdarg.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define SBUF_CAP (1u << 18)
#define RBUF_MIN (1u << 18)
#define DIRECT_MIN (1u << 16) /* reads/writes this large bypass the buffers */

struct chan {
    int fd;
    int timeout_ms;
    int err;
    char errmsg[256];
    uint8_t *sbuf;
    size_t slen;
    uint8_t *rbuf;
    size_t rpos, rend, rcap;
    uint64_t sent_since_flush;
    chan_stats stats;
};

struct chan_listener {
    int fd;
    int port;
};

static int chan_fail(chan *c, int code, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static int chan_fail(chan *c, int code, const char *fmt, ...) {
    if (!c->err) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(c->errmsg, sizeof c->errmsg, fmt, ap);
        va_end(ap);
        c->err = code;
    }
    return err_set(c->err, "%s", c->errmsg);
}

static int set_nonblock(int fd) {
    int fl = fcntl(fd, F_GETFL);
    return fl < 0 ? -1 : fcntl(fd, F_SETFL, fl | O_NONBLOCK);
}

static int chan_wrap_fd(chan **out, int fd) {
    chan *c = mem_calloc(1, sizeof *c);
    if (!c) {
        close(fd);
        return PARLEY_E_NOMEM;
    }
    c->fd = fd;
    c->timeout_ms = CHAN_DEFAULT_TIMEOUT_MS;
    c->sbuf = mem_alloc(SBUF_CAP, 1);
    c->rbuf = mem_alloc(RBUF_MIN, 1);
    c->rcap = RBUF_MIN;
    if (!c->sbuf || !c->rbuf || set_nonblock(fd) < 0) {
        chan_close(c);
        return err_set(PARLEY_E_NOMEM, "cannot set up a channel");
    }
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one); /* fails harmlessly on AF_UNIX */
    *out = c;
    return 0;
}

/* Wait for `events` on the socket; returns revents, or a negative status. */
static int chan_wait(chan *c, short events) {
    struct pollfd p = {.fd = c->fd, .events = events};
    for (;;) {
        int r = poll(&p, 1, c->timeout_ms);
        if (r > 0) return p.revents;
        if (r == 0)
            return chan_fail(c, PARLEY_E_TIMEOUT, "the peer sent nothing for %d ms", c->timeout_ms);
        if (errno != EINTR) return chan_fail(c, PARLEY_E_IO, "poll: %s", strerror(errno));
    }
}

/* Read whatever is available into the receive buffer (growing it).
 * Returns bytes read (0 if none available), or a negative status. */
static int chan_stash_incoming(chan *c) {
    if (c->rpos == c->rend) c->rpos = c->rend = 0;
    if (c->rend == c->rcap) {
        if (c->rpos > 0) {
            memmove(c->rbuf, c->rbuf + c->rpos, c->rend - c->rpos);
            c->rend -= c->rpos;
            c->rpos = 0;
        } else {
            size_t ncap = c->rcap * 2;
            uint8_t *nb = mem_alloc(ncap, 1);
            if (!nb) return chan_fail(c, PARLEY_E_NOMEM, "receive buffer of %zu bytes", ncap);
            memcpy(nb, c->rbuf, c->rend);
            mem_free(c->rbuf);
            c->rbuf = nb;
            c->rcap = ncap;
        }
    }
    ssize_t r = read(c->fd, c->rbuf + c->rend, c->rcap - c->rend);
    if (r > 0) {
        c->rend += (size_t)r;
        return (int)(r > 0);
    }
    if (r == 0) return chan_fail(c, PARLEY_E_CLOSED, "the peer closed the connection");
    if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR) return 0;
    return chan_fail(c, errno == ECONNRESET ? PARLEY_E_CLOSED : PARLEY_E_IO,
                     "read: %s", strerror(errno));
}

/* Write all n bytes; while the socket is full, keep reading incoming data so
 * two parties sending at once cannot deadlock. */
static int chan_write_all(chan *c, const uint8_t *p, size_t n) {
    while (n > 0) {
        ssize_t w = send(c->fd, p, n, MSG_NOSIGNAL);
        if (w > 0) {
            p += w;
            n -= (size_t)w;
            continue;
        }
        if (w < 0 && errno == EINTR) continue;
        if (w < 0 && errno != EAGAIN && errno != EWOULDBLOCK) {
            int closed = errno == EPIPE || errno == ECONNRESET;
            return chan_fail(c, closed ? PARLEY_E_CLOSED : PARLEY_E_IO,
                             closed ? "the peer closed the connection (%s)" : "send: %s",
                             strerror(errno));
        }
        int ev = chan_wait(c, POLLOUT | POLLIN);
        if (ev < 0) return ev;
        if (ev & POLLIN) {
            int r = chan_stash_incoming(c);
            /* A peer that closed while we still have to send: report it. */
            if (r < 0) return r;
        } else if (ev & (POLLERR | POLLHUP | POLLNVAL)) {
            if (!(ev & POLLOUT))
                return chan_fail(c, PARLEY_E_CLOSED, "the peer closed the connection");
        }
    }
    return 0;
}

static int chan_drain(chan *c) {
    if (c->slen == 0) return 0;
    size_t n = c->slen;
    c->slen = 0;
    return chan_write_all(c, c->sbuf, n);
}

int chan_send(chan *c, const void *buf, size_t n) {
    if (c->err) return chan_fail(c, c->err, "%s", c->errmsg);
    c->stats.bytes_sent += n;
    c->sent_since_flush += n;
    const uint8_t *p = buf;
    if (n >= DIRECT_MIN) {
        TRY(chan_drain(c));
        return chan_write_all(c, p, n);
    }
    while (n > 0) {
        size_t k = SBUF_CAP - c->slen;
        if (k > n) k = n;
        memcpy(c->sbuf + c->slen, p, k);
        c->slen += k;
        p += k;
        n -= k;
        if (c->slen == SBUF_CAP) TRY(chan_drain(c));
    }
    return 0;
}

int chan_flush(chan *c) {
    if (c->err) return chan_fail(c, c->err, "%s", c->errmsg);
    if (c->sent_since_flush) c->stats.flights++;
    c->sent_since_flush = 0;
    return chan_drain(c);
}

int chan_recv(chan *c, void *buf, size_t n) {
    if (c->err) return chan_fail(c, c->err, "%s", c->errmsg);
    c->stats.bytes_recv += n;
    /* Whatever we queued may be what the peer waits for before it answers. */
    TRY(chan_drain(c));
    uint8_t *p = buf;
    size_t want = n;
    while (n > 0) {
        size_t avail = c->rend - c->rpos;
        if (avail) {
            size_t k = avail < n ? avail : n;
            memcpy(p, c->rbuf + c->rpos, k);
            c->rpos += k;
            p += k;
            n -= k;
            continue;
        }
        ssize_t r;
        if (n >= DIRECT_MIN) {
            r = read(c->fd, p, n);
            if (r > 0) {
                p += r;
                n -= (size_t)r;
                continue;
            }
        } else {
            c->rpos = c->rend = 0;
            r = read(c->fd, c->rbuf, c->rcap);
            if (r > 0) {
                c->rend = (size_t)r;
                continue;
            }
        }
        if (r == 0)
            return chan_fail(c, PARLEY_E_CLOSED,
                             "the peer closed the connection with %zu of %zu expected bytes "
                             "still to come",
                             n, want);
        if (errno == EINTR) continue;
        if (errno != EAGAIN && errno != EWOULDBLOCK)
            return chan_fail(c, errno == ECONNRESET ? PARLEY_E_CLOSED : PARLEY_E_IO, "read: %s",
                             strerror(errno));
        int ev = chan_wait(c, POLLIN);
        if (ev < 0) return ev;
    }
    return 0;
}

int chan_peek(chan *c, void *buf, size_t n) {
    PARLEY_CHECK(n <= RBUF_MIN);
    if (c->err) return chan_fail(c, c->err, "%s", c->errmsg);
    while (c->rend - c->rpos < n) {
        if (c->rpos > 0 && c->rcap - c->rpos < n) { /* make room at the end */
            memmove(c->rbuf, c->rbuf + c->rpos, c->rend - c->rpos);
            c->rend -= c->rpos;
            c->rpos = 0;
        }
        int r = chan_stash_incoming(c);
        if (r < 0) return r;
        if (r == 0) {
            int ev = chan_wait(c, POLLIN);
            if (ev < 0) return ev;
        }
    }
    memcpy(buf, c->rbuf + c->rpos, n);
    return 0;
}

int chan_send_u64(chan *c, uint64_t v) {
    uint8_t b[8];
    for (int i = 0; i < 8; i++) b[i] = (uint8_t)(v >> (8 * i));
    return chan_send(c, b, 8);
}

int chan_recv_u64(chan *c, uint64_t *v) {
    uint8_t b[8];
    TRY(chan_recv(c, b, 8));
    *v = 0;
    for (int i = 0; i < 8; i++) *v |= (uint64_t)b[i] << (8 * i);
    return 0;
}

void chan_set_timeout(chan *c, int timeout_ms) { c->timeout_ms = timeout_ms > 0 ? timeout_ms : -1; }
int chan_status(const chan *c) { return c->err; }
const char *chan_error(const chan *c) { return c->err ? c->errmsg : "ok"; }
const chan_stats *chan_get_stats(const chan *c) { return &c->stats; }
void chan_reset_stats(chan *c) {
    memset(&c->stats, 0, sizeof c->stats);
    c->sent_since_flush = 0;
}

int chan_shutdown(chan *c) {
    TRY(chan_flush(c));
    if (shutdown(c->fd, SHUT_WR) < 0)
        return chan_fail(c, PARLEY_E_IO, "shutdown: %s", strerror(errno));
    return 0;
}

void chan_abort(chan *c) {
    if (c->fd >= 0) shutdown(c->fd, SHUT_RDWR);
    (void)chan_fail(c, PARLEY_E_CLOSED, "the channel was aborted");
}

void chan_close(chan *c) {
    if (!c) return;
    if (c->fd >= 0) close(c->fd);
    mem_free(c->sbuf);
    mem_free(c->rbuf);
    mem_free(c);
}

int chan_pair(chan **a, chan **b) {
    int sv[2];
    if (socketpair(AF_UNIX, SOCK_STREAM, 0, sv) < 0)
        return err_set(PARLEY_E_IO, "socketpair: %s", strerror(errno));
    /* Large buffers make the in-process transport behave like loopback TCP. */
    int sz = 1 << 21;
    for (int i = 0; i < 2; i++) {
        setsockopt(sv[i], SOL_SOCKET, SO_SNDBUF, &sz, sizeof sz);
        setsockopt(sv[i], SOL_SOCKET, SO_RCVBUF, &sz, sizeof sz);
    }
    int rc = chan_wrap_fd(a, sv[0]);
    if (rc < 0) {
        close(sv[1]);
        return rc;
    }
    rc = chan_wrap_fd(b, sv[1]);
    if (rc < 0) {
        chan_close(*a);
        *a = NULL;
    }
    return rc;
}

static int resolve(struct addrinfo **res, const char *host, int port, int passive) {
    char ps[16];
    snprintf(ps, sizeof ps, "%d", port);
    struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM};
    if (passive) hints.ai_flags = AI_PASSIVE;
    int g = getaddrinfo(host, ps, &hints, res);
    if (g != 0)
        return err_set(PARLEY_E_ARG, "cannot resolve host '%s': %s", host ? host : "*",
                       gai_strerror(g));
    return 0;
}

int chan_listen(chan_listener **out, const char *host, int port) {
    if (port < 0 || port > 65535) return err_set(PARLEY_E_ARG, "port %d is out of range", port);
    struct addrinfo *res;
    TRY(resolve(&res, host, port, 1));
    int fd = -1, saved = 0;
    for (struct addrinfo *ai = res; ai; ai = ai->ai_next) {
        fd = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC, ai->ai_protocol);
        if (fd < 0) continue;
        int one = 1;
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
        if (bind(fd, ai->ai_addr, ai->ai_addrlen) == 0 && listen(fd, 64) == 0) break;
        saved = errno;
        close(fd);
        fd = -1;
    }
    freeaddrinfo(res);
    if (fd < 0) {
        if (saved == EADDRINUSE)
            return err_set(PARLEY_E_IO, "cannot listen on %s:%d: the address is already in use",
                           host ? host : "*", port);
        return err_set(PARLEY_E_IO, "cannot listen on %s:%d: %s", host ? host : "*", port,
                       strerror(saved));
    }
    struct sockaddr_storage ss;
    socklen_t sl = sizeof ss;
    getsockname(fd, (struct sockaddr *)&ss, &sl);
    chan_listener *l = mem_calloc(1, sizeof *l);
    if (!l) {
        close(fd);
        return PARLEY_E_NOMEM;
    }
    l->fd = fd;
    l->port = ntohs(ss.ss_family == AF_INET6 ? ((struct sockaddr_in6 *)&ss)->sin6_port
                                             : ((struct sockaddr_in *)&ss)->sin_port);
    *out = l;
    return 0;
}

int chan_listener_port(const chan_listener *l) { return l->port; }

void chan_listener_close(chan_listener *l) {
    if (!l) return;
    close(l->fd);
    mem_free(l);
}

int chan_accept(chan_listener *l, chan **out, int timeout_ms) {
    struct pollfd p = {.fd = l->fd, .events = POLLIN};
    for (;;) {
        int r = poll(&p, 1, timeout_ms > 0 ? timeout_ms : -1);
        if (r == 0)
            return err_set(PARLEY_E_TIMEOUT, "no client connected within %d ms", timeout_ms);
        if (r < 0) {
            if (errno == EINTR) continue;
            return err_set(PARLEY_E_IO, "poll: %s", strerror(errno));
        }
        int fd = accept4(l->fd, NULL, NULL, SOCK_CLOEXEC);
        if (fd < 0) {
            if (errno == EINTR || errno == EAGAIN || errno == ECONNABORTED) continue;
            return err_set(PARLEY_E_IO, "accept: %s", strerror(errno));
        }
        return chan_wrap_fd(out, fd);
    }
}

static double now_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec * 1e-6;
}

/* One non-blocking connect attempt bounded by the remaining time. */
static int try_connect(const struct addrinfo *ai, int wait_ms, int *fd_out) {
    int fd = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC | SOCK_NONBLOCK, ai->ai_protocol);
    if (fd < 0) return -errno;
    if (connect(fd, ai->ai_addr, ai->ai_addrlen) == 0) {
        *fd_out = fd;
        return 0;
    }
    if (errno != EINPROGRESS) {
        int e = errno;
        close(fd);
        return -e;
    }
    struct pollfd p = {.fd = fd, .events = POLLOUT};
    int r = poll(&p, 1, wait_ms);
    int soerr = ETIMEDOUT;
    socklen_t sl = sizeof soerr;
    if (r > 0) getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &sl);
    if (r > 0 && soerr == 0) {
        *fd_out = fd;
        return 0;
    }
    close(fd);
    return -soerr;
}

int chan_connect(chan **out, const char *host, int port, int timeout_ms) {
    if (port <= 0 || port > 65535) return err_set(PARLEY_E_ARG, "port %d is out of range", port);
    struct addrinfo *res;
    TRY(resolve(&res, host, port, 0));
    double deadline = now_ms() + (timeout_ms > 0 ? timeout_ms : 1e12);
    int last = ECONNREFUSED;
    for (;;) {
        for (struct addrinfo *ai = res; ai; ai = ai->ai_next) {
            double left = deadline - now_ms();
            int fd = -1;
            int r = try_connect(ai, left > 1000 ? 1000 : (int)(left > 1 ? left : 1), &fd);
            if (r == 0) {
                freeaddrinfo(res);
                return chan_wrap_fd(out, fd);
            }
            last = -r;
        }
        if (now_ms() >= deadline) break;
        struct timespec nap = {0, 50 * 1000 * 1000};
        nanosleep(&nap, NULL);
    }
    freeaddrinfo(res);
    if (last == ECONNREFUSED)
        return err_set(PARLEY_E_REFUSED, "nobody is listening at %s:%d (gave up after %d ms)",
                       host, port, timeout_ms);
    if (last == ETIMEDOUT)
        return err_set(PARLEY_E_TIMEOUT, "connecting to %s:%d timed out after %d ms", host, port,
                       timeout_ms);
    return err_set(PARLEY_E_IO, "cannot connect to %s:%d: %s", host, port, strerror(last));
}
