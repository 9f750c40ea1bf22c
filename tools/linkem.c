/* The link emulator's relay; see linkem.h for what it models.
 *
 * Every connection pair has two flows (client -> server, server ->
 * client). A flow holds the bytes read from its source in a ring, and a
 * queue of marks: the stream offset where a segment ends, the time it is
 * due at the receiver and its flight depth. One poll loop reads what the
 * link accepts, writes what is due, and sleeps until the next due time
 * (ppoll: nanosecond timeouts, with the timer slack lowered to 1 us). */
#include "linkem.h"

#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define READ_MAX (256 * 1024) /* bytes per read() */
#define MIN_QUEUE (64 * 1024)
#define MIN_RING (1u << 20)
#define MAX_RING (64u << 20)

typedef struct mark {
    uint64_t end; /* stream offset just past the segment */
    int64_t due;  /* ns, monotonic: when it may be written to the receiver */
    uint64_t depth;
} mark;

typedef struct flow {
    int dir;      /* LINKEM_UP / LINKEM_DOWN */
    uint8_t *buf; /* ring of cap bytes (cap a power of two) */
    size_t cap;
    uint64_t in, out; /* stream offsets: read from the source, written to the receiver */
    uint64_t done;    /* offset up to which marks have been retired */
    mark *mk;         /* ring of marks */
    size_t mcap, mhead, mcount;
    int eof;     /* the source ended its stream */
    int shut;    /* the receiver has been sent the end of the stream */
    int blocked; /* the last write would block: wait for POLLOUT */
} flow;

typedef struct conn {
    int fd[2];      /* [0] the accepted (client) side, [1] upstream */
    int connecting; /* upstream connect in progress */
    int dead;
    flow f[2]; /* f[d] carries direction d: from fd[d] to fd[1 - d] */
    struct conn *next;
} conn;

typedef struct lkdir {
    double ns_per_byte; /* 0: unlimited */
    int64_t delay_ns;
    int64_t burst_ns; /* the bucket's depth, as time at the rate */
    int64_t queue_ns; /* the queue, as time at the rate */
    int64_t free_at;  /* when the link has sent everything accepted so far */
} lkdir;

struct linkem {
    linkem_cfg cfg;
    int lfd, port;
    struct sockaddr_storage up;
    socklen_t uplen;
    lkdir lk[2];
    size_t ring;      /* ring size per flow */
    uint64_t seen[2]; /* largest depth delivered to each side (0 client, 1 server) */
    conn *conns;
    linkem_stats st;
    int have_first;
};

static void seterr(char *err, size_t cap, const char *fmt, ...) {
    if (!err || !cap) return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, cap, fmt, ap);
    va_end(ap);
}

static int64_t now_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

uint64_t linkem_queue_of(const linkem_cfg *cfg, int d) {
    if (cfg->queue[d]) return cfg->queue[d];
    double rtt = (cfg->delay_ms[0] + cfg->delay_ms[1]) / 1e3;
    double q = cfg->rate_bps[d] * rtt;
    return q > MIN_QUEUE ? (uint64_t)q : MIN_QUEUE;
}

uint64_t linkem_burst_of(const linkem_cfg *cfg, int d) {
    return cfg->burst[d] ? cfg->burst[d] : LINKEM_SEGMENT;
}

static int set_nonblock(int fd) {
    int fl = fcntl(fd, F_GETFL);
    return fl < 0 ? -1 : fcntl(fd, F_SETFL, fl | O_NONBLOCK);
}

static int resolve(struct sockaddr_storage *ss, socklen_t *len, const char *host, int port,
                   int passive, char *err, size_t cap) {
    struct addrinfo hints, *res = NULL;
    memset(&hints, 0, sizeof hints);
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = passive ? AI_PASSIVE : 0;
    char ps[16];
    snprintf(ps, sizeof ps, "%d", port);
    int rc = getaddrinfo(host, ps, &hints, &res);
    if (rc != 0 || !res) {
        seterr(err, cap, "cannot resolve %s: %s", host, gai_strerror(rc));
        return -1;
    }
    memcpy(ss, res->ai_addr, res->ai_addrlen);
    *len = res->ai_addrlen;
    freeaddrinfo(res);
    return 0;
}

static int check_cfg(const linkem_cfg *c, char *err, size_t cap) {
    for (int d = 0; d < 2; d++) {
        /* NaN fails both comparisons. */
        if (!(c->delay_ms[d] >= 0 && c->delay_ms[d] <= 60000)) {
            seterr(err, cap, "one-way delay %g ms is not in 0..60000", c->delay_ms[d]);
            return -1;
        }
        if (!(c->rate_bps[d] >= 0 && c->rate_bps[d] <= 1e12)) {
            seterr(err, cap, "rate %g bytes/s is not in 0..1e12 (0: unlimited)", c->rate_bps[d]);
            return -1;
        }
        if (c->rate_bps[d] > 0 && c->rate_bps[d] < 1000) {
            seterr(err, cap, "rate %g bytes/s is below 1 kB/s", c->rate_bps[d]);
            return -1;
        }
        if (linkem_queue_of(c, d) > MAX_RING / 2 || linkem_burst_of(c, d) > MAX_RING / 2) {
            seterr(err, cap, "queue or burst above %u bytes", MAX_RING / 2);
            return -1;
        }
    }
    if (c->listen_port < 0 || c->listen_port > 65535 || c->up_port < 1 || c->up_port > 65535) {
        seterr(err, cap, "port out of range");
        return -1;
    }
    return 0;
}

int linkem_open(linkem **out, const linkem_cfg *cfg, char *err, size_t cap) {
    *out = NULL;
    if (check_cfg(cfg, err, cap) < 0) return -1;
    linkem *e = calloc(1, sizeof *e);
    if (!e) {
        seterr(err, cap, "out of memory");
        return -1;
    }
    e->cfg = *cfg;
    if (!e->cfg.max_conns) e->cfg.max_conns = 1024;
    e->lfd = -1;
    size_t need = 0;
    for (int d = 0; d < 2; d++) {
        lkdir *k = &e->lk[d];
        double r = cfg->rate_bps[d];
        k->ns_per_byte = r > 0 ? 1e9 / r : 0;
        k->delay_ns = (int64_t)(cfg->delay_ms[d] * 1e6 + 0.5);
        k->burst_ns = (int64_t)(linkem_burst_of(cfg, d) * k->ns_per_byte);
        k->queue_ns = (int64_t)(linkem_queue_of(cfg, d) * k->ns_per_byte);
        /* A flow holds the queue, what is in flight and a read's worth. */
        double inflight = r > 0 ? r * cfg->delay_ms[d] / 1e3 : (double)MAX_RING;
        double n = (double)linkem_queue_of(cfg, d) + inflight + 2.0 * READ_MAX;
        size_t want = n > MAX_RING ? MAX_RING : (size_t)n;
        if (want > need) need = want;
    }
    e->ring = MIN_RING;
    while (e->ring < need)
        e->ring <<= 1;
    struct sockaddr_storage la;
    socklen_t ll;
    if (resolve(&e->up, &e->uplen, cfg->up_host, cfg->up_port, 0, err, cap) < 0 ||
        resolve(&la, &ll, cfg->listen_host, cfg->listen_port, 1, err, cap) < 0)
        goto fail;
    e->lfd = socket(la.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
    int one = 1;
    if (e->lfd < 0 || setsockopt(e->lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) < 0) {
        seterr(err, cap, "socket: %s", strerror(errno));
        goto fail;
    }
    if (bind(e->lfd, (struct sockaddr *)&la, ll) < 0) {
        seterr(err, cap, "cannot listen on %s:%d: %s", cfg->listen_host, cfg->listen_port,
               errno == EADDRINUSE ? "address already in use" : strerror(errno));
        goto fail;
    }
    if (listen(e->lfd, 128) < 0 || set_nonblock(e->lfd) < 0) {
        seterr(err, cap, "listen: %s", strerror(errno));
        goto fail;
    }
    getsockname(e->lfd, (struct sockaddr *)&la, &ll);
    e->port = la.ss_family == AF_INET6 ? ntohs(((struct sockaddr_in6 *)&la)->sin6_port)
                                       : ntohs(((struct sockaddr_in *)&la)->sin_port);
    *out = e;
    return 0;
fail:
    if (e->lfd >= 0) close(e->lfd);
    free(e);
    return -1;
}

int linkem_port(const linkem *e) {
    return e->port;
}

static void conn_free(conn *c) {
    for (int s = 0; s < 2; s++) {
        if (c->fd[s] >= 0) close(c->fd[s]);
        free(c->f[s].buf);
        free(c->f[s].mk);
    }
    free(c);
}

void linkem_close(linkem *e) {
    if (!e) return;
    while (e->conns) {
        conn *c = e->conns;
        e->conns = c->next;
        conn_free(c);
    }
    if (e->lfd >= 0) close(e->lfd);
    free(e);
}

void linkem_stats_get(const linkem *e, linkem_stats *st) {
    *st = e->st;
}

/* ---- flows ---- */

static int flow_init(flow *f, int dir, size_t ring) {
    memset(f, 0, sizeof *f);
    f->dir = dir;
    f->cap = ring;
    f->buf = malloc(ring);
    f->mcap = 256;
    f->mk = malloc(f->mcap * sizeof *f->mk);
    return f->buf && f->mk ? 0 : -1;
}

static int mark_push(flow *f, const mark *m) {
    if (f->mcount == f->mcap) {
        mark *n = malloc(2 * f->mcap * sizeof *n);
        if (!n) return -1;
        for (size_t i = 0; i < f->mcount; i++)
            n[i] = f->mk[(f->mhead + i) % f->mcap];
        free(f->mk);
        f->mk = n;
        f->mhead = 0;
        f->mcap *= 2;
    }
    f->mk[(f->mhead + f->mcount) % f->mcap] = *m;
    f->mcount++;
    return 0;
}

/* Offset up to which f's bytes are due at time t. */
static uint64_t flow_due(const flow *f, int64_t t) {
    uint64_t end = f->out;
    for (size_t i = 0; i < f->mcount; i++) {
        const mark *m = &f->mk[(f->mhead + i) % f->mcap];
        if (m->due > t) break;
        end = m->end;
    }
    return end;
}

/* The bytes of n just read from side `dir`: cut into segments, paced and
 * delayed on link k. */
static int flow_stamp(linkem *e, flow *f, size_t n, int64_t t) {
    lkdir *k = &e->lk[f->dir];
    uint64_t depth = e->seen[f->dir] + 1;
    uint64_t off = f->in;
    while (n) {
        size_t seg = n < LINKEM_SEGMENT ? n : LINKEM_SEGMENT;
        int64_t due = t;
        if (k->ns_per_byte > 0) {
            int64_t begin = k->free_at > t - k->burst_ns ? k->free_at : t - k->burst_ns;
            k->free_at = begin + (int64_t)(seg * k->ns_per_byte + 0.5);
            if (k->free_at > due) due = k->free_at;
        }
        off += seg;
        n -= seg;
        mark m = {off, due + k->delay_ns, depth};
        if (mark_push(f, &m) < 0) return -1;
    }
    f->in = off;
    return 0;
}

/* Whether the link lets f read now, and how many bytes. */
static size_t flow_room(const linkem *e, const flow *f, int64_t t) {
    if (f->eof) return 0;
    size_t used = (size_t)(f->in - f->out);
    if (used + LINKEM_SEGMENT > f->cap) return 0;
    size_t room = f->cap - used;
    const lkdir *k = &e->lk[f->dir];
    if (k->ns_per_byte > 0) {
        int64_t backlog = k->free_at - t; /* time the pacer needs for what it holds */
        if (backlog >= k->queue_ns) return 0;
        double q = (double)(k->queue_ns - (backlog > 0 ? backlog : 0)) / k->ns_per_byte;
        size_t qb = q < LINKEM_SEGMENT ? LINKEM_SEGMENT : (size_t)q;
        if (qb < room) room = qb;
    }
    if (room > READ_MAX) room = READ_MAX;
    /* Contiguous space in the ring. */
    size_t at = (size_t)(f->in & (f->cap - 1));
    if (room > f->cap - at) room = f->cap - at;
    return room;
}

/* Retire the marks whose bytes have been written, raising the receiving
 * side's depth. */
static void flow_retire(linkem *e, flow *f) {
    int to = 1 - f->dir;
    while (f->mcount) {
        const mark *m = &f->mk[f->mhead];
        if (f->out <= f->done) break; /* nothing of this mark written yet */
        if (m->depth > e->seen[to]) {
            e->seen[to] = m->depth;
            if (e->cfg.trace) /* seconds (monotonic), direction, depth now reached */
                fprintf(e->cfg.trace, "%.6f %s %llu\n", (double)now_ns() / 1e9,
                        f->dir == LINKEM_UP ? "up" : "down", (unsigned long long)m->depth);
        }
        if (m->depth > e->st.chain) e->st.chain = m->depth;
        if (m->end > f->out) break; /* partly written */
        f->done = m->end;
        f->mhead = (f->mhead + 1) % f->mcap;
        f->mcount--;
    }
}

static void conn_kill(conn *c) {
    c->dead = 1;
}

/* Write what is due on flow f of c. */
static void flow_deliver(linkem *e, conn *c, flow *f, int64_t t) {
    int dst = c->fd[1 - f->dir];
    if (c->dead || c->connecting || f->blocked) return;
    uint64_t due = flow_due(f, t);
    while (f->out < due) {
        size_t at = (size_t)(f->out & (f->cap - 1));
        size_t n = (size_t)(due - f->out);
        if (n > f->cap - at) n = f->cap - at;
        ssize_t w = send(dst, f->buf + at, n, MSG_NOSIGNAL);
        if (w < 0) {
            if (errno == EINTR) continue;
            if (errno == EAGAIN || errno == EWOULDBLOCK) {
                f->blocked = 1;
                break;
            }
            conn_kill(c);
            return;
        }
        if (!e->have_first) {
            e->st.first_s = (double)t / 1e9;
            e->have_first = 1;
        }
        e->st.last_s = (double)t / 1e9;
        f->out += (uint64_t)w;
        e->st.bytes[f->dir] += (uint64_t)w;
        flow_retire(e, f);
    }
    if (f->eof && !f->shut && f->out == f->in) {
        shutdown(dst, SHUT_WR);
        f->shut = 1;
    }
}

/* Read from the source of f what the link accepts. */
static void flow_read(linkem *e, conn *c, flow *f, int64_t t) {
    size_t room = flow_room(e, f, t);
    if (!room) return;
    size_t at = (size_t)(f->in & (f->cap - 1));
    ssize_t r = recv(c->fd[f->dir], f->buf + at, room, 0);
    if (r < 0) {
        if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) conn_kill(c);
        return;
    }
    if (r == 0) {
        f->eof = 1;
        return;
    }
    if (flow_stamp(e, f, (size_t)r, t) < 0) conn_kill(c);
}

/* ---- connections ---- */

static void accept_one(linkem *e) {
    int fd = accept4(e->lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (fd < 0) return;
    conn *c = calloc(1, sizeof *c);
    int one = 1;
    if (!c) {
        close(fd);
        return;
    }
    c->fd[0] = fd;
    c->fd[1] = socket(e->up.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (c->fd[1] < 0 || flow_init(&c->f[0], LINKEM_UP, e->ring) < 0 ||
        flow_init(&c->f[1], LINKEM_DOWN, e->ring) < 0) {
        conn_free(c);
        return;
    }
    setsockopt(c->fd[0], IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    setsockopt(c->fd[1], IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    if (connect(c->fd[1], (struct sockaddr *)&e->up, e->uplen) < 0) {
        if (errno != EINPROGRESS) {
            conn_free(c);
            return;
        }
        c->connecting = 1;
    }
    c->next = e->conns;
    e->conns = c;
    e->st.conns++;
    e->st.active++;
}

/* Close c if it is dead or both directions have ended. */
static int conn_done(const conn *c) {
    return c->dead || (c->f[0].shut && c->f[1].shut);
}

static void reap(linkem *e) {
    conn **pp = &e->conns;
    while (*pp) {
        conn *c = *pp;
        if (conn_done(c)) {
            *pp = c->next;
            if (c->dead) { /* reset both ends so neither waits for data that will not come */
                struct linger lg = {1, 0};
                for (int s = 0; s < 2; s++)
                    if (c->fd[s] >= 0) setsockopt(c->fd[s], SOL_SOCKET, SO_LINGER, &lg, sizeof lg);
            }
            conn_free(c);
            e->st.active--;
        } else {
            pp = &c->next;
        }
    }
}

int linkem_run(linkem *e, int stop_fd, char *err, size_t cap) {
    prctl(PR_SET_TIMERSLACK, 1000UL, 0, 0, 0); /* wake within 1 us of a due time */
    struct pollfd *pf = NULL;
    conn **who = NULL;
    size_t pcap = 0;
    int rc = 0;
    for (;;) {
        int64_t t = now_ns();
        /* Deliver what is due; find the next time something falls due. */
        int64_t next = INT64_MAX;
        size_t nconn = 0;
        for (conn *c = e->conns; c; c = c->next) {
            nconn++;
            for (int d = 0; d < 2; d++) {
                flow *f = &c->f[d];
                flow_deliver(e, c, f, t);
                if (!f->blocked && !c->connecting && f->mcount) {
                    const mark *m = &f->mk[f->mhead];
                    /* A partly written head mark is due already. */
                    if (m->due > t && m->due < next) next = m->due;
                }
                /* A source held back by a full queue: wake when it drains. */
                const lkdir *k = &e->lk[d];
                if (!f->eof && k->ns_per_byte > 0 && k->free_at - t >= k->queue_ns) {
                    int64_t w = k->free_at - k->queue_ns + 1;
                    if (w < next) next = w;
                }
            }
        }
        reap(e);
        size_t need = 2 + 2 * nconn;
        if (need > pcap) {
            size_t ncap = need * 2;
            struct pollfd *np = realloc(pf, ncap * sizeof *np);
            if (!np) {
                seterr(err, cap, "out of memory");
                rc = -1;
                break;
            }
            pf = np;
            conn **nw = realloc(who, ncap * sizeof *nw);
            if (!nw) {
                seterr(err, cap, "out of memory");
                rc = -1;
                break;
            }
            who = nw;
            pcap = ncap;
        }
        size_t np = 0;
        pf[np++] = (struct pollfd){stop_fd, POLLIN, 0};
        pf[np++] = (struct pollfd){e->lfd, e->st.active < e->cfg.max_conns ? POLLIN : 0, 0};
        for (conn *c = e->conns; c; c = c->next) {
            for (int s = 0; s < 2; s++) {
                short ev = 0;
                if (s == 1 && c->connecting) {
                    ev = POLLOUT;
                } else {
                    if (flow_room(e, &c->f[s], t)) ev |= POLLIN;
                    if (c->f[1 - s].blocked) ev |= POLLOUT;
                }
                who[np] = c;
                /* No events wanted: leave the fd out, or a hung-up socket
                 * would wake the loop at once, again and again. */
                pf[np++] = (struct pollfd){ev ? c->fd[s] : -1, ev, 0};
            }
        }
        struct timespec ts, *tp = NULL;
        if (next != INT64_MAX) {
            int64_t w = next - now_ns();
            if (w < 0) w = 0;
            ts.tv_sec = w / 1000000000;
            ts.tv_nsec = w % 1000000000;
            tp = &ts;
        }
        int n = ppoll(pf, np, tp, NULL);
        if (n < 0) {
            if (errno == EINTR) continue;
            seterr(err, cap, "poll: %s", strerror(errno));
            rc = -1;
            break;
        }
        if (pf[0].revents) break; /* asked to stop */
        t = now_ns();
        for (size_t i = 2; i < np; i++) {
            short re = pf[i].revents;
            if (!re) continue;
            conn *c = who[i];
            int s = (int)((i - 2) % 2);
            if (c->dead) continue;
            if (s == 1 && c->connecting) {
                int soerr = 0;
                socklen_t sl = sizeof soerr;
                getsockopt(c->fd[1], SOL_SOCKET, SO_ERROR, &soerr, &sl);
                if (soerr) {
                    conn_kill(c);
                    continue;
                }
                c->connecting = 0;
                continue;
            }
            if (re & POLLERR) {
                conn_kill(c);
                continue;
            }
            if (re & (POLLOUT | POLLHUP)) c->f[1 - s].blocked = 0; /* the write will tell */
            if (re & (POLLIN | POLLHUP)) flow_read(e, c, &c->f[s], t);
        }
        if (pf[1].revents & POLLIN)
            for (unsigned k = 0; k < 64 && e->st.active < e->cfg.max_conns; k++) {
                uint64_t before = e->st.conns;
                accept_one(e);
                if (e->st.conns == before) break;
            }
    }
    free(pf);
    free(who);
    return rc;
}
