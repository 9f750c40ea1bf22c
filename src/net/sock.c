/* TCP sockets: listening, accepting, connecting (net/link.h, net/chan.h). */
#include "net/link.h"

#include "util/mem.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

struct chan_listener {
    int fd;
    int port;
};

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
int chan_listener_fd(const chan_listener *l) { return l->fd; }

void chan_listener_close(chan_listener *l) {
    if (!l) return;
    close(l->fd);
    mem_free(l);
}

static void addr_str(char *out, size_t cap, const struct sockaddr_storage *ss) {
    char h[INET6_ADDRSTRLEN] = "?";
    int port = 0;
    if (ss->ss_family == AF_INET) {
        const struct sockaddr_in *a = (const struct sockaddr_in *)ss;
        inet_ntop(AF_INET, &a->sin_addr, h, sizeof h);
        port = ntohs(a->sin_port);
        snprintf(out, cap, "%s:%d", h, port);
    } else if (ss->ss_family == AF_INET6) {
        const struct sockaddr_in6 *a = (const struct sockaddr_in6 *)ss;
        inet_ntop(AF_INET6, &a->sin6_addr, h, sizeof h);
        port = ntohs(a->sin6_port);
        snprintf(out, cap, "[%s]:%d", h, port);
    } else {
        snprintf(out, cap, "local");
    }
}

int net_accept(chan_listener *l, int *fd_out, char *peer, size_t cap, int timeout_ms) {
    struct pollfd p = {.fd = l->fd, .events = POLLIN};
    for (;;) {
        int r = poll(&p, 1, timeout_ms >= 0 ? timeout_ms : -1);
        if (r == 0)
            return err_set(PARLEY_E_TIMEOUT, "no client connected within %d ms", timeout_ms);
        if (r < 0) {
            if (errno == EINTR) continue;
            return err_set(PARLEY_E_IO, "poll: %s", strerror(errno));
        }
        struct sockaddr_storage ss;
        socklen_t sl = sizeof ss;
        int fd = accept4(l->fd, (struct sockaddr *)&ss, &sl, SOCK_CLOEXEC | SOCK_NONBLOCK);
        if (fd < 0) {
            if (errno == EINTR || errno == EAGAIN || errno == ECONNABORTED) continue;
            return err_set(PARLEY_E_IO, "accept: %s", strerror(errno));
        }
        int one = 1;
        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
        if (peer && cap) addr_str(peer, cap, &ss);
        *fd_out = fd;
        return 0;
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

int net_connect(int *fd_out, const char *host, int port, int timeout_ms) {
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
                int one = 1;
                setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
                *fd_out = fd;
                return 0;
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

int net_is_loopback(const char *host) {
    struct addrinfo *res;
    if (resolve(&res, host && host[0] ? host : NULL, 1, !(host && host[0])) < 0)
        return PARLEY_E_ARG;
    int all = 1;
    for (struct addrinfo *ai = res; ai; ai = ai->ai_next) {
        if (ai->ai_family == AF_INET) {
            const struct sockaddr_in *a = (const struct sockaddr_in *)ai->ai_addr;
            all &= (ntohl(a->sin_addr.s_addr) >> 24) == 127;
        } else if (ai->ai_family == AF_INET6) {
            const struct sockaddr_in6 *a = (const struct sockaddr_in6 *)ai->ai_addr;
            all &= IN6_IS_ADDR_LOOPBACK(&a->sin6_addr);
        } else {
            all = 0;
        }
    }
    freeaddrinfo(res);
    return all;
}
