/* The link: one connection, many streams; see link.h and frame.h. */
#include "net/link.h"

#include "util/ct.h"
#include "util/mem.h"

#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#define SBUF_CAP (1u << 18)      /* a lane's send buffer */
#define DIRECT_MIN (1u << 16)    /* sends this large are handed over where they are */
#define INBUF_CAP (1u << 18)     /* the I/O thread's read buffer */
#define OUT_MAX 48               /* frames in one write */
#define OUT_BYTES (1u << 20)     /* payload bytes in one write */
#define SLICE_SHARED (64u << 10) /* frame size while several streams have bytes to send */
#define READ_BUDGET (2u << 20)   /* bytes read before the I/O thread looks at its writes */
#define MARKS_MAX 4096           /* depth changes buffered per stream */
#define CLOSE_DRAIN_MS 5000
#define CLOSE_LINGER_MS 2000
#define NOTSENT_LOWAT (256u << 10)

enum { WAIT_NONE = 0, WAIT_RECV, WAIT_SEND };

typedef struct mark {
    uint64_t off, depth; /* from stream offset off on, bytes have this depth */
} mark;

struct chan {
    net_link *lk;
    unsigned id;
    int owner; /* chan_close closes the link */
    int timeout_ms;
    /* The lane's own (one thread at a time). */
    int err;
    char errmsg[256];
    uint8_t *sbuf;
    size_t slen;
    uint64_t sent_since_flush;
    chan_stats stats;
    uint64_t depth; /* the deepest depth consumed */
    /* Shared with the I/O thread, under lk->mu. */
    const uint8_t *jp; /* the bytes being sent (the lane waits for them) */
    size_t jn, jqueued, jdone;
    uint64_t jdepth;
    int jactive;
    uint64_t credit;       /* bytes we may still send */
    uint64_t credit_total; /* all credit received, the peer's window included */
    int blocked_said;      /* a BLOCKED went out for this stall */
    int peer_blocked;      /* the peer is blocked at all we granted */
    int lane_wait;
    int aborted; /* given up here: ABORT to send, nothing more */
    int abort_pending, end_pending, blocked_pending;
    uint64_t credit_pending;
    int peer_end, peer_abort;
    uint8_t *rb; /* receive ring */
    size_t rcap, rhead, rlen;
    mark *mk; /* depth marks, a ring */
    size_t mcap, mhead, mlen;
    uint64_t rx_total, rx_consumed, granted, rx_depth;
    uint8_t *dst; /* a waiting lane's buffer, filled directly */
    size_t dst_n, dst_got;
    pthread_cond_t cv;
};

typedef struct out_ent {
    uint8_t hdr[FRAME_HEADER_BYTES];
    const uint8_t *p;
    size_t n;
    size_t written; /* of FRAME_HEADER_BYTES + n */
    chan *owner;    /* DATA of a lane's job: credited as written */
    uint8_t *own;   /* the payload copied here when its job was cancelled */
} out_ent;

struct net_link {
    int fd;
    tls_conn *tls;
    pthread_mutex_t mu;
    pthread_cond_t cv; /* the I/O thread stopped */
    pthread_t io;
    int io_running;
    int wake_fd;
    int stop; /* 1: send what is queued, then stop; 2: stop now */
    int dead; /* the I/O thread has stopped */
    int err;
    char errmsg[256];
    int eof;     /* the peer closed the connection */
    int aborted; /* link_abort: close at once */
    size_t max_stash;
    uint32_t window, peer_window;
    uint64_t reserved; /* what the peer may still make us buffer, all streams */
    uint64_t buffered;
    chan *st[LINK_STREAMS_MAX];
    unsigned rr;
    out_ent out[OUT_MAX];
    unsigned nout, out_first;
    uint8_t *stage; /* TLS: the batch, contiguous */
    size_t stage_len, stage_off;
    short tls_read_wants;
    uint8_t *in;
    size_t in_pos, in_end;
    frame_hdr cur;
    uint32_t cur_left;
    link_stats stats;
    char desc[96];
};

/* ---- small helpers ---- */

static double now_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec * 1e-6;
}

static void deadline_ts(struct timespec *ts, double ms_from_now) {
    clock_gettime(CLOCK_MONOTONIC, ts);
    if (ms_from_now > 1e9) ms_from_now = 1e9;
    long long ns = ts->tv_nsec + (long long)(ms_from_now * 1e6);
    ts->tv_sec += ns / 1000000000LL;
    ts->tv_nsec = ns % 1000000000LL;
}

static const char *stream_name(char *buf, size_t cap, unsigned id) {
    if (id == 0)
        snprintf(buf, cap, "the control stream");
    else
        snprintf(buf, cap, "lane %u", id - 1);
    return buf;
}

static void wake_io(net_link *lk) {
    uint64_t one = 1;
    ssize_t w = write(lk->wake_fd, &one, sizeof one);
    (void)w;
}

static void wake_all(net_link *lk) {
    for (unsigned i = 0; i < LINK_STREAMS_MAX; i++)
        if (lk->st[i]) pthread_cond_broadcast(&lk->st[i]->cv);
    pthread_cond_broadcast(&lk->cv);
}

/* A sticky failure (the link's or a lane's): the first code and message
 * stay. Whether this one was the first. */
static int sticky_fail(int *err, char *msg, size_t cap, int code, const char *fmt, va_list ap) {
    if (*err) return 0;
    vsnprintf(msg, cap, fmt, ap);
    *err = code;
    return 1;
}

/* A failure of the whole link (under mu): every stream fails with it, and
 * the peer sees the connection end at once. */
static int link_fail(net_link *lk, int code, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static int link_fail(net_link *lk, int code, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    if (sticky_fail(&lk->err, lk->errmsg, sizeof lk->errmsg, code, fmt, ap)) {
        shutdown(lk->fd, SHUT_RDWR);
        wake_all(lk);
    }
    va_end(ap);
    return lk->err;
}

static int chan_refail(chan *c) { return err_set(c->err, "%s", c->errmsg); }

/* A lane's sticky failure. */
static int chan_fail(chan *c, int code, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static int chan_fail(chan *c, int code, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    (void)sticky_fail(&c->err, c->errmsg, sizeof c->errmsg, code, fmt, ap);
    va_end(ap);
    return chan_refail(c);
}

/* ---- streams ---- */

static void grant(net_link *lk, chan *s, uint64_t n) {
    s->granted += n;
    s->credit_pending += n;
    lk->reserved += n;
    s->peer_blocked = 0; /* more is on its way to the peer */
}

/* Stream id, made on first use (under mu). */
static chan *stream_get(net_link *lk, unsigned id) {
    if (lk->st[id]) return lk->st[id];
    chan *s = mem_calloc(1, sizeof *s);
    if (!s) return NULL;
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&s->cv, &ca);
    pthread_condattr_destroy(&ca);
    s->lk = lk;
    s->id = id;
    s->timeout_ms = CHAN_DEFAULT_TIMEOUT_MS;
    s->credit = s->credit_total = lk->peer_window;
    s->granted = lk->window;
    lk->reserved += lk->window;
    lk->st[id] = s;
    return s;
}

static void stream_free(chan *s) {
    if (!s) return;
    if (s->sbuf) mem_free_wipe(s->sbuf, SBUF_CAP);
    if (s->rb) mem_free_wipe(s->rb, s->rcap);
    mem_free(s->mk);
    pthread_cond_destroy(&s->cv);
    mem_free(s);
}

/* Make room for n more bytes in the receive ring. */
static int ring_reserve(net_link *lk, chan *s, size_t n) {
    if (s->rcap - s->rlen >= n) return 0;
    size_t want = s->rlen + n, cap = s->rcap ? s->rcap : (64u << 10);
    while (cap < want)
        cap *= 2;
    uint8_t *nb = mem_alloc(cap, 1);
    if (!nb) {
        char nm[32];
        return link_fail(lk, PARLEY_E_NOMEM, "cannot buffer %zu bytes of %s", want,
                         stream_name(nm, sizeof nm, s->id));
    }
    size_t first = s->rcap - s->rhead < s->rlen ? s->rcap - s->rhead : s->rlen;
    if (first) memcpy(nb, s->rb + s->rhead, first);
    if (s->rlen > first) memcpy(nb + first, s->rb, s->rlen - first);
    if (s->rb) mem_free_wipe(s->rb, s->rcap);
    s->rb = nb;
    s->rcap = cap;
    s->rhead = 0;
    return 0;
}

static void ring_put(chan *s, const uint8_t *p, size_t n) {
    size_t tail = (s->rhead + s->rlen) % s->rcap;
    size_t k = s->rcap - tail < n ? s->rcap - tail : n;
    memcpy(s->rb + tail, p, k);
    if (n > k) memcpy(s->rb, p + k, n - k);
    s->rlen += n;
}

static void ring_get(chan *s, uint8_t *p, size_t n, int consume) {
    size_t k = s->rcap - s->rhead < n ? s->rcap - s->rhead : n;
    memcpy(p, s->rb + s->rhead, k);
    if (n > k) memcpy(p + k, s->rb, n - k);
    if (consume) {
        s->rhead = (s->rhead + n) % s->rcap;
        s->rlen -= n;
        if (s->rlen == 0) s->rhead = 0;
    }
}

/* n more bytes of s are the lane's (under mu): what the peer may still
 * make us buffer shrinks, and credit goes back once a quarter of the
 * window is free. */
static void account(net_link *lk, chan *s, size_t n) {
    s->rx_consumed += n;
    lk->reserved -= n;
    uint64_t held = s->granted - s->rx_consumed;
    if (held + lk->window / 4 <= lk->window && !s->aborted && !lk->err)
        grant(lk, s, lk->window - held); /* sent by pump() or the I/O thread */
}

/* ---- the I/O thread: receiving ---- */

static void note_buffered(net_link *lk, int64_t delta) {
    lk->buffered = (uint64_t)((int64_t)lk->buffered + delta);
    if (lk->buffered > lk->stats.stash_peak) lk->stats.stash_peak = lk->buffered;
}

/* Payload bytes of the current DATA frame: into the waiting lane's buffer
 * while it has room, the rest into the stream's ring. */
static int deliver(net_link *lk, const uint8_t *p, size_t n) {
    chan *s = lk->st[lk->cur.stream];
    s->rx_total += n;
    if (s->aborted) return 0; /* given up here: dropped */
    if (s->dst && s->rlen == 0 && s->dst_got < s->dst_n) {
        size_t k = s->dst_n - s->dst_got < n ? s->dst_n - s->dst_got : n;
        memcpy(s->dst + s->dst_got, p, k);
        s->dst_got += k;
        account(lk, s, k);
        p += k;
        n -= k;
    }
    if (n) {
        TRY(ring_reserve(lk, s, n));
        ring_put(s, p, n);
        note_buffered(lk, (int64_t)n);
    }
    pthread_cond_broadcast(&s->cv);
    return 0;
}

/* Where the rest of the current DATA frame can be read to directly, if
 * anywhere: the waiting lane's buffer, or the ring's free space. */
static int direct_target(net_link *lk, uint8_t **p, size_t *n) {
    chan *s = lk->st[lk->cur.stream];
    *p = NULL;
    *n = 0;
    if (s->aborted) return 0;
    if (s->dst && s->rlen == 0 && s->dst_got < s->dst_n) {
        *p = s->dst + s->dst_got;
        *n = s->dst_n - s->dst_got < lk->cur_left ? s->dst_n - s->dst_got : lk->cur_left;
        return 0;
    }
    TRY(ring_reserve(lk, s, lk->cur_left));
    size_t tail = (s->rhead + s->rlen) % s->rcap;
    size_t contig = s->rcap - tail;
    if (s->rlen > 0 && tail < s->rhead) contig = s->rhead - tail;
    *p = s->rb + tail;
    *n = contig < lk->cur_left ? contig : lk->cur_left;
    return 0;
}

/* n bytes were read straight to the direct target. */
static void commit_direct(net_link *lk, uint8_t *p, size_t n) {
    chan *s = lk->st[lk->cur.stream];
    s->rx_total += n;
    if (s->dst && p == s->dst + s->dst_got) {
        s->dst_got += n;
        account(lk, s, n);
    } else {
        s->rlen += n;
        note_buffered(lk, (int64_t)n);
    }
    lk->cur_left -= (uint32_t)n;
    pthread_cond_broadcast(&s->cv);
}

static int on_frame(net_link *lk, const frame_hdr *f) {
    chan *s = stream_get(lk, f->stream);
    char nm[32];
    if (!s) return link_fail(lk, PARLEY_E_NOMEM, "cannot open stream %u", f->stream);
    switch (f->kind) {
    case FRAME_DATA:
        if (s->peer_end || s->peer_abort)
            return link_fail(lk, PARLEY_E_PROTO, "the peer sent data on %s after ending it",
                             stream_name(nm, sizeof nm, f->stream));
        if (f->len > s->granted - s->rx_total)
            return link_fail(lk, PARLEY_E_PROTO,
                             "the peer sent %u bytes on %s, more than the %llu its window allows",
                             f->len, stream_name(nm, sizeof nm, f->stream),
                             (unsigned long long)(s->granted - s->rx_total));
        if (f->arg < s->rx_depth)
            return link_fail(lk, PARLEY_E_PROTO, "the depth of %s went back from %llu to %llu",
                             stream_name(nm, sizeof nm, f->stream),
                             (unsigned long long)s->rx_depth, (unsigned long long)f->arg);
        if (f->arg > s->rx_depth) {
            if (s->mlen == MARKS_MAX)
                return link_fail(lk, PARLEY_E_PROTO,
                                 "the peer changed the depth of %s more than %d times unread",
                                 stream_name(nm, sizeof nm, f->stream), MARKS_MAX);
            if (s->mlen == s->mcap) {
                size_t nc = s->mcap ? s->mcap * 2 : 16;
                mark *nm2 = mem_alloc(nc, sizeof *nm2);
                if (!nm2) return link_fail(lk, PARLEY_E_NOMEM, "cannot track depths");
                for (size_t i = 0; i < s->mlen; i++)
                    nm2[i] = s->mk[(s->mhead + i) % s->mcap];
                mem_free(s->mk);
                s->mk = nm2;
                s->mcap = nc;
                s->mhead = 0;
            }
            s->mk[(s->mhead + s->mlen++) % s->mcap] = (mark){s->rx_total, f->arg};
            s->rx_depth = f->arg;
        }
        lk->cur = *f;
        lk->cur_left = f->len;
        return 0;
    case FRAME_CREDIT:
        if (s->credit_total + f->len > ((uint64_t)1 << 62))
            return link_fail(lk, PARLEY_E_PROTO, "the peer granted too much credit");
        s->credit += f->len;
        s->credit_total += f->len;
        s->blocked_said = 0;
        return 0;
    case FRAME_BLOCKED:
        if (f->arg > s->granted)
            return link_fail(lk, PARLEY_E_PROTO, "the peer claims credit on %s it was never given",
                             stream_name(nm, sizeof nm, f->stream));
        if (f->arg == s->granted) s->peer_blocked = 1; /* else stale: more is on its way */
        return 0;
    case FRAME_END:
        s->peer_end = 1;
        pthread_cond_broadcast(&s->cv);
        return 0;
    default: /* FRAME_ABORT */
        s->peer_abort = 1;
        pthread_cond_broadcast(&s->cv);
        return 0;
    }
}

/* Parse and hand out what the read buffer holds. */
static int process_inbuf(net_link *lk) {
    while (lk->in_pos < lk->in_end) {
        size_t avail = lk->in_end - lk->in_pos;
        if (lk->cur_left) {
            size_t k = avail < lk->cur_left ? avail : lk->cur_left;
            TRY(deliver(lk, lk->in + lk->in_pos, k));
            lk->in_pos += k;
            lk->cur_left -= (uint32_t)k;
            continue;
        }
        if (avail < FRAME_HEADER_BYTES) {
            memmove(lk->in, lk->in + lk->in_pos, avail);
            lk->in_pos = 0;
            lk->in_end = avail;
            return 0;
        }
        frame_hdr f;
        if (frame_parse(&f, lk->in + lk->in_pos) < 0)
            return link_fail(lk, PARLEY_E_PROTO, "bad frame from the peer: %s", err_msg());
        lk->in_pos += FRAME_HEADER_BYTES;
        lk->stats.frames_recv++;
        lk->stats.overhead_recv += FRAME_HEADER_BYTES;
        TRY(on_frame(lk, &f));
    }
    lk->in_pos = lk->in_end = 0;
    return 0;
}

static int read_failed(net_link *lk, ssize_t r) {
    if (r == 0) {
        lk->eof = 1;
        return link_fail(lk, PARLEY_E_CLOSED, "the peer closed the connection");
    }
    if (errno == ECONNRESET || errno == EPIPE) {
        lk->eof = 1;
        return link_fail(lk, PARLEY_E_CLOSED, "the peer closed the connection (%s)",
                         strerror(errno));
    }
    return link_fail(lk, PARLEY_E_IO, "read: %s", strerror(errno));
}

static void do_read(net_link *lk) {
    size_t budget = READ_BUDGET;
    while (!lk->err && budget > 0) {
        if (process_inbuf(lk) < 0) return;
        uint8_t *tp = NULL;
        size_t tn = 0;
        /* At a payload's continuation, read it where it goes. */
        if (lk->cur_left && lk->in_end == 0 && direct_target(lk, &tp, &tn) < 0) return;
        ssize_t r;
        if (lk->tls) {
            short want = 0;
            r = tp ? tls_read(lk->tls, tp, tn, &want)
                   : tls_read(lk->tls, lk->in + lk->in_end, INBUF_CAP - lk->in_end, &want);
            if (r < 0) {
                if (r == PARLEY_E_CLOSED) lk->eof = 1;
                link_fail(lk, (int)r, "%s", err_msg());
                return;
            }
            lk->tls_read_wants = r == 0 ? want : 0;
            if (r == 0) return;
            if (tp)
                commit_direct(lk, tp, (size_t)r);
            else
                lk->in_end += (size_t)r;
        } else {
            struct iovec iov[2];
            int k = 0;
            if (tp) iov[k++] = (struct iovec){tp, tn};
            iov[k++] = (struct iovec){lk->in + lk->in_end, INBUF_CAP - lk->in_end};
            r = readv(lk->fd, iov, k);
            if (r < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)) return;
            if (r <= 0) {
                read_failed(lk, r);
                return;
            }
            size_t got = (size_t)r;
            if (tp) {
                size_t d = got < tn ? got : tn;
                commit_direct(lk, tp, d);
                got -= d;
            }
            lk->in_end += got;
        }
        budget = (size_t)r < budget ? budget - (size_t)r : 0;
    }
    if (!lk->err) process_inbuf(lk);
}

/* ---- the I/O thread: sending ---- */

static out_ent *out_add(net_link *lk, const frame_hdr *f, const uint8_t *p, chan *owner) {
    out_ent *e = &lk->out[lk->nout++];
    frame_encode(e->hdr, f);
    e->p = p;
    e->n = f->kind == FRAME_DATA ? f->len : 0;
    e->written = 0;
    e->owner = owner;
    e->own = NULL;
    lk->stats.frames_sent++;
    lk->stats.overhead_sent += FRAME_HEADER_BYTES;
    return e;
}

static int has_data(const chan *s) {
    return s && s->jactive && s->jqueued < s->jn && s->credit > 0 && !s->aborted &&
           !s->peer_abort;
}

/* Lanes waiting on each other's credit: say BLOCKED once per stall, and
 * when both sides wait to send on one stream, grant more (up to the cap). */
static void check_stalls(net_link *lk) {
    for (unsigned i = 0; i < LINK_STREAMS_MAX && !lk->err; i++) {
        chan *s = lk->st[i];
        if (!s) continue;
        int stalled = s->jactive && s->jqueued < s->jn && s->credit == 0 && !s->aborted &&
                      !s->peer_abort;
        if (stalled && !s->blocked_said) {
            s->blocked_pending = 1;
            s->blocked_said = 1;
        }
        if (stalled && s->peer_blocked && s->lane_wait == WAIT_SEND) {
            uint64_t room = lk->max_stash > lk->reserved ? lk->max_stash - lk->reserved : 0;
            uint64_t e = room < lk->window ? room : lk->window;
            if (e == 0) {
                char nm[32];
                link_fail(lk, PARLEY_E_LIMIT,
                          "both parties are sending on %s at once and this side's receive "
                          "stash is full (%zu MiB; --max-stash raises it)",
                          stream_name(nm, sizeof nm, i), lk->max_stash >> 20);
                return;
            }
            grant(lk, s, e);
        }
    }
}

/* The next batch of frames: control frames first, then data from the
 * streams in turn. */
static void plan_output(net_link *lk) {
    check_stalls(lk);
    if (lk->err || lk->nout) return;
    for (unsigned i = 0; i < LINK_STREAMS_MAX && lk->nout + 3 <= OUT_MAX; i++) {
        chan *s = lk->st[i];
        if (!s) continue;
        if (s->abort_pending) {
            out_add(lk, &(frame_hdr){.kind = FRAME_ABORT, .stream = i}, NULL, NULL);
            s->abort_pending = 0;
        }
        while (s->credit_pending && lk->nout < OUT_MAX) {
            uint32_t k = s->credit_pending > FRAME_CREDIT_MAX ? FRAME_CREDIT_MAX
                                                              : (uint32_t)s->credit_pending;
            out_add(lk, &(frame_hdr){.kind = FRAME_CREDIT, .stream = i, .len = k}, NULL, NULL);
            s->credit_pending -= k;
        }
        if (s->blocked_pending && lk->nout < OUT_MAX) {
            out_add(lk, &(frame_hdr){.kind = FRAME_BLOCKED, .stream = i, .arg = s->credit_total},
                    NULL, NULL);
            s->blocked_pending = 0;
        }
    }
    unsigned active = 0;
    for (unsigned i = 0; i < LINK_STREAMS_MAX; i++)
        active += has_data(lk->st[i]);
    size_t slice = active > 1 ? SLICE_SHARED : FRAME_PAYLOAD_MAX, bytes = 0;
    while (active && lk->nout < OUT_MAX && bytes < OUT_BYTES) {
        chan *s = NULL;
        for (unsigned k = 0; k < LINK_STREAMS_MAX; k++) {
            unsigned i = (lk->rr + k) % LINK_STREAMS_MAX;
            if (has_data(lk->st[i])) {
                s = lk->st[i];
                lk->rr = (i + 1) % LINK_STREAMS_MAX;
                break;
            }
        }
        if (!s) break;
        size_t n = s->jn - s->jqueued;
        if (n > slice) n = slice;
        if (n > OUT_BYTES - bytes) n = OUT_BYTES - bytes;
        if (n > s->credit) n = (size_t)s->credit;
        out_add(lk, &(frame_hdr){.kind = FRAME_DATA, .stream = s->id, .len = (uint32_t)n,
                             .arg = s->jdepth},
                s->jp + s->jqueued, s);
        s->jqueued += n;
        s->credit -= n;
        bytes += n;
        if (!has_data(s)) active--;
    }
    for (unsigned i = 0; i < LINK_STREAMS_MAX && lk->nout < OUT_MAX; i++) {
        chan *s = lk->st[i];
        if (s && s->end_pending && !s->jactive) {
            out_add(lk, &(frame_hdr){.kind = FRAME_END, .stream = i}, NULL, NULL);
            s->end_pending = 0;
        }
    }
    lk->out_first = 0;
}

/* w more bytes of the batch went out. */
static void out_written(net_link *lk, size_t w) {
    while (w > 0 && lk->out_first < lk->nout) {
        out_ent *e = &lk->out[lk->out_first];
        size_t total = FRAME_HEADER_BYTES + e->n, take = total - e->written;
        if (take > w) take = w;
        size_t before = e->written > FRAME_HEADER_BYTES ? e->written - FRAME_HEADER_BYTES : 0;
        e->written += take;
        w -= take;
        size_t after = e->written > FRAME_HEADER_BYTES ? e->written - FRAME_HEADER_BYTES : 0;
        if (e->owner && after > before) {
            e->owner->jdone += after - before;
            if (e->owner->jdone == e->owner->jn) pthread_cond_broadcast(&e->owner->cv);
        }
        if (e->written == total) {
            if (e->own) mem_free_wipe(e->own, e->n);
            e->own = NULL;
            lk->out_first++;
        }
    }
    if (lk->out_first == lk->nout) lk->nout = lk->out_first = 0;
}

static void do_write(net_link *lk) {
    while (lk->nout && !lk->err) {
        if (lk->tls) {
            if (lk->stage_len == 0) { /* the batch, contiguous (OpenSSL copies anyway) */
                size_t n = 0;
                for (unsigned i = lk->out_first; i < lk->nout; i++) {
                    const out_ent *e = &lk->out[i];
                    memcpy(lk->stage + n, e->hdr, FRAME_HEADER_BYTES);
                    if (e->n) memcpy(lk->stage + n + FRAME_HEADER_BYTES, e->own ? e->own : e->p, e->n);
                    n += FRAME_HEADER_BYTES + e->n;
                }
                lk->stage_len = n;
                lk->stage_off = 0;
            }
            short want = 0;
            ct_declassify(lk->stage + lk->stage_off, lk->stage_len - lk->stage_off); /* sent */
            ssize_t w = tls_write(lk->tls, lk->stage + lk->stage_off, lk->stage_len - lk->stage_off,
                                  &want);
            if (w < 0) {
                if (w == PARLEY_E_CLOSED) lk->eof = 1;
                link_fail(lk, (int)w, "%s", err_msg());
                return;
            }
            if (w == 0) return;
            lk->stage_off += (size_t)w;
            if (lk->stage_off == lk->stage_len) lk->stage_len = lk->stage_off = 0;
            out_written(lk, (size_t)w);
            continue;
        }
        struct iovec iov[2 * OUT_MAX];
        int k = 0;
        for (unsigned i = lk->out_first; i < lk->nout; i++) {
            const out_ent *e = &lk->out[i];
            if (e->written < FRAME_HEADER_BYTES)
                iov[k++] = (struct iovec){(void *)(e->hdr + e->written),
                                          FRAME_HEADER_BYTES - e->written};
            size_t pw = e->written > FRAME_HEADER_BYTES ? e->written - FRAME_HEADER_BYTES : 0;
            if (e->n > pw)
                iov[k++] = (struct iovec){(void *)((e->own ? e->own : e->p) + pw), e->n - pw};
        }
        /* What a party sends is public (the protocols mask it): here the
         * bytes computed from secrets leave (tests/test_ctime.c). */
        for (int i = 0; i < k; i++)
            ct_declassify(iov[i].iov_base, iov[i].iov_len);
        struct msghdr m = {.msg_iov = iov, .msg_iovlen = (size_t)k};
        ssize_t w = sendmsg(lk->fd, &m, MSG_NOSIGNAL);
        if (w < 0) {
            if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR) return;
            int closed = errno == EPIPE || errno == ECONNRESET;
            if (closed) lk->eof = 1;
            link_fail(lk, closed ? PARLEY_E_CLOSED : PARLEY_E_IO,
                      closed ? "the peer closed the connection (%s)" : "send: %s",
                      strerror(errno));
            return;
        }
        out_written(lk, (size_t)w);
    }
}

/* A lane gives up on its job: frames of it already in the batch must still
 * go out whole (their headers promise the bytes), from a copy. */
static int detach_job(net_link *lk, chan *s) {
    for (unsigned i = lk->out_first; i < lk->nout; i++) {
        out_ent *e = &lk->out[i];
        if (e->owner != s) continue;
        e->owner = NULL;
        if (e->n && !e->own) {
            e->own = mem_alloc(e->n, 1);
            if (!e->own)
                return link_fail(lk, PARLEY_E_NOMEM, "cannot keep a frame being sent");
            memcpy(e->own, e->p, e->n);
        }
    }
    s->jactive = 0;
    s->jp = NULL;
    return 0;
}

static void *io_main(void *v) {
    net_link *lk = v;
    sigset_t ss;
    sigemptyset(&ss);
    sigaddset(&ss, SIGPIPE);
    pthread_sigmask(SIG_BLOCK, &ss, NULL);
    pthread_mutex_lock(&lk->mu);
    for (;;) {
        if (lk->err || lk->stop == 2) break;
        plan_output(lk);
        if (lk->err) break;
        int want_out = lk->nout > 0;
        if (lk->stop == 1 && !want_out) break;
        int pend = lk->tls && tls_pending(lk->tls);
        short ev = POLLIN;
        if (want_out || lk->tls_read_wants == POLLOUT) ev |= POLLOUT;
        int tmo = pend ? 0 : lk->stop ? 50 : -1;
        pthread_mutex_unlock(&lk->mu);
        struct pollfd p[2] = {{.fd = lk->fd, .events = ev}, {.fd = lk->wake_fd, .events = POLLIN}};
        int r = poll(p, 2, tmo);
        int perr = r < 0 ? errno : 0;
        pthread_mutex_lock(&lk->mu);
        if (r < 0 && perr != EINTR) {
            link_fail(lk, PARLEY_E_IO, "poll: %s", strerror(perr));
            break;
        }
        if (r < 0) continue;
        if (p[1].revents & POLLIN) {
            uint64_t x;
            ssize_t rd = read(lk->wake_fd, &x, sizeof x);
            (void)rd;
        }
        short rev = p[0].revents;
        if (pend || (rev & (POLLIN | POLLHUP | POLLERR)) ||
            (lk->tls_read_wants == POLLOUT && (rev & POLLOUT)))
            do_read(lk);
        if (lk->err) break;
        if (want_out && (rev & (POLLOUT | POLLERR | POLLHUP))) do_write(lk);
    }
    lk->dead = 1;
    wake_all(lk);
    pthread_mutex_unlock(&lk->mu);
    return NULL;
}

/* ---- the lane's side: the chan API ---- */

/* A lane writes what can go out at once itself (under mu), with the same
 * turn-taking as the I/O thread: a flight that fits the socket leaves
 * without waking anyone. What is left, the I/O thread sends. */
static void pump(net_link *lk) {
    if (lk->err || lk->dead) return;
    plan_output(lk);
    if (lk->nout) do_write(lk);
    if (!lk->nout && !lk->err) plan_output(lk);
    if (lk->nout) wake_io(lk);
}

/* A lane about to wait for data reads what has already arrived (under mu),
 * rather than wait for the I/O thread to be scheduled. */
static void pull(net_link *lk) {
    if (!lk->err && !lk->dead) do_read(lk);
}

/* A lane's wait for its peer (under mu): the deadline restarts whenever
 * the lane's progress counter moves, so only timeout_ms without any
 * progress fails. */
typedef struct idle_clock {
    size_t last;  /* the progress counter when the deadline was set */
    double until; /* now_ms() of the deadline */
} idle_clock;

static idle_clock idle_start(const chan *c) {
    return (idle_clock){0, now_ms() + c->timeout_ms};
}

/* Wait on c's condition once: 0 when woken (or the deadline's wait ended),
 * PARLEY_E_TIMEOUT when timeout_ms (> 0) passed with progress not moving. */
static int idle_wait(idle_clock *w, chan *c, size_t progress) {
    if (c->timeout_ms <= 0) {
        pthread_cond_wait(&c->cv, &c->lk->mu);
        return 0;
    }
    if (progress != w->last) {
        w->last = progress;
        w->until = now_ms() + c->timeout_ms;
    }
    double left = w->until - now_ms();
    if (left <= 0) return PARLEY_E_TIMEOUT;
    struct timespec ts;
    deadline_ts(&ts, left);
    pthread_cond_timedwait(&c->cv, &c->lk->mu, &ts);
    return 0;
}

/* Why a stream cannot go on (under mu), or 0. */
static int stream_broken(chan *s) {
    net_link *lk = s->lk;
    if (s->aborted) return chan_fail(s, PARLEY_E_CLOSED, "the channel was aborted");
    if (s->peer_abort) {
        char nm[32];
        return chan_fail(s, PARLEY_E_CLOSED, "the peer closed the connection (it stopped %s)",
                         stream_name(nm, sizeof nm, s->id));
    }
    if (lk->err) return chan_fail(s, lk->err, "%s", lk->errmsg);
    if (lk->dead) return chan_fail(s, PARLEY_E_CLOSED, "the link is closed");
    return 0;
}

/* Give up on a stream here (under mu): the peer is told. */
static void stream_abort(chan *s) {
    if (s->aborted) return;
    s->aborted = 1;
    s->abort_pending = 1;
    if (s->jactive) (void)detach_job(s->lk, s);
    s->dst = NULL;
    wake_io(s->lk);
    pthread_cond_broadcast(&s->cv);
}

/* Hand n bytes at p to the I/O thread and wait until they are written. */
static int submit(chan *c, const uint8_t *p, size_t n) {
    net_link *lk = c->lk;
    pthread_mutex_lock(&lk->mu);
    int rc = stream_broken(c);
    if (rc == 0) {
        c->jp = p;
        c->jn = n;
        c->jqueued = c->jdone = 0;
        c->jdepth = c->depth + 1;
        c->jactive = 1;
        c->lane_wait = WAIT_SEND;
        pump(lk);
        idle_clock ic = idle_start(c);
        while (c->jdone < c->jn) {
            if ((rc = stream_broken(c)) < 0) break;
            if (idle_wait(&ic, c, c->jdone) < 0) {
                char nm[32];
                rc = chan_fail(c, PARLEY_E_TIMEOUT,
                               "could not send on %s for %d ms: the peer does not read",
                               stream_name(nm, sizeof nm, c->id), c->timeout_ms);
                stream_abort(c);
                break;
            }
        }
        if (c->jactive && c->jdone < c->jn) (void)detach_job(lk, c);
        c->jactive = 0;
        c->jp = NULL;
        c->lane_wait = WAIT_NONE;
    }
    pthread_mutex_unlock(&lk->mu);
    return rc < 0 ? chan_refail(c) : 0;
}

static int drain_sbuf(chan *c) {
    if (c->slen == 0) return 0;
    size_t n = c->slen;
    c->slen = 0;
    return submit(c, c->sbuf, n);
}

int chan_send(chan *c, const void *buf, size_t n) {
    if (c->err) return chan_refail(c);
    c->stats.bytes_sent += n;
    c->sent_since_flush += n;
    const uint8_t *p = buf;
    if (n >= DIRECT_MIN) {
        TRY(drain_sbuf(c));
        return submit(c, p, n);
    }
    if (n && !c->sbuf && !(c->sbuf = mem_alloc(SBUF_CAP, 1)))
        return chan_fail(c, PARLEY_E_NOMEM, "cannot allocate a send buffer");
    while (n > 0) {
        size_t k = SBUF_CAP - c->slen;
        if (k > n) k = n;
        memcpy(c->sbuf + c->slen, p, k);
        c->slen += k;
        p += k;
        n -= k;
        if (c->slen == SBUF_CAP) TRY(drain_sbuf(c));
    }
    return 0;
}

int chan_flush(chan *c) {
    if (c->err) return chan_refail(c);
    int had = c->sent_since_flush > 0;
    if (had) c->stats.flights++;
    c->sent_since_flush = 0;
    TRY(drain_sbuf(c));
    if (had && c->depth + 1 > c->stats.depth) c->stats.depth = c->depth + 1;
    return 0;
}

/* The depths of the bytes the lane has consumed (under mu). */
static void take_depth(chan *c) {
    while (c->mlen && c->mk[c->mhead].off < c->rx_consumed) {
        if (c->mk[c->mhead].depth > c->depth) c->depth = c->mk[c->mhead].depth;
        c->mhead = (c->mhead + 1) % c->mcap;
        c->mlen--;
    }
    if (c->depth > c->stats.depth) c->stats.depth = c->depth;
}

/* The failure of a read that got `got` of `want` bytes (under mu). */
static int recv_failed(chan *c, size_t got, size_t want) {
    net_link *lk = c->lk;
    if (c->aborted) return chan_fail(c, PARLEY_E_CLOSED, "the channel was aborted");
    if (lk->err && !lk->eof) return stream_broken(c); /* e.g. the peer broke the protocol */
    if (c->peer_end || c->peer_abort || lk->eof)
        return chan_fail(c, PARLEY_E_CLOSED,
                         "the peer closed the connection with %zu of %zu expected bytes still to "
                         "come",
                         want - got, want);
    return stream_broken(c);
}

int chan_recv(chan *c, void *buf, size_t n) {
    if (c->err) return chan_refail(c);
    c->stats.bytes_recv += n;
    /* Whatever we queued may be what the peer waits for before it answers. */
    TRY(drain_sbuf(c));
    net_link *lk = c->lk;
    uint8_t *p = buf;
    int rc = 0;
    pthread_mutex_lock(&lk->mu);
    size_t got = c->rlen < n ? c->rlen : n;
    if (got) {
        ring_get(c, p, got, 1);
        note_buffered(lk, -(int64_t)got);
        account(lk, c, got);
    }
    if (got < n && !c->aborted) {
        c->dst = p + got;
        c->dst_n = n - got;
        c->dst_got = 0;
        c->lane_wait = WAIT_RECV;
        pull(lk);
        pump(lk); /* the credit for what we took must go out before we wait */
        idle_clock ic = idle_start(c);
        while (c->dst_got < c->dst_n) {
            if (c->peer_end || c->peer_abort || c->aborted || lk->err || lk->dead) break;
            if (idle_wait(&ic, c, c->dst_got) < 0) {
                rc = chan_fail(c, PARLEY_E_TIMEOUT, "the peer sent nothing for %d ms",
                               c->timeout_ms);
                break;
            }
        }
        got += c->dst_got;
        c->dst = NULL;
        c->lane_wait = WAIT_NONE;
    }
    take_depth(c);
    if (got < n && rc == 0) rc = recv_failed(c, got, n);
    if (rc == PARLEY_E_TIMEOUT) stream_abort(c);
    pump(lk); /* credit we granted, or another lane's, after a pull */
    pthread_mutex_unlock(&lk->mu);
    return rc < 0 ? chan_refail(c) : 0;
}

int chan_peek(chan *c, void *buf, size_t n) {
    PARLEY_CHECK(n <= LINK_WINDOW_MIN);
    if (c->err) return chan_refail(c);
    net_link *lk = c->lk;
    int rc = 0;
    pthread_mutex_lock(&lk->mu);
    double until = now_ms() + c->timeout_ms;
    while (c->rlen < n) {
        if (c->peer_end || c->peer_abort || c->aborted || lk->err || lk->dead) {
            rc = recv_failed(c, c->rlen, n);
            break;
        }
        double left = until - now_ms();
        if (c->timeout_ms > 0 && left <= 0) {
            rc = chan_fail(c, PARLEY_E_TIMEOUT, "the peer sent nothing for %d ms", c->timeout_ms);
            break;
        }
        struct timespec ts;
        deadline_ts(&ts, c->timeout_ms > 0 ? left : 1e9);
        pthread_cond_timedwait(&c->cv, &lk->mu, &ts);
    }
    if (rc == 0) ring_get(c, buf, n, 0);
    pthread_mutex_unlock(&lk->mu);
    return rc < 0 ? chan_refail(c) : 0;
}

int chan_send_u64(chan *c, uint64_t v) {
    uint8_t b[8];
    for (int i = 0; i < 8; i++)
        b[i] = (uint8_t)(v >> (8 * i));
    return chan_send(c, b, 8);
}

int chan_recv_u64(chan *c, uint64_t *v) {
    uint8_t b[8];
    TRY(chan_recv(c, b, 8));
    *v = 0;
    for (int i = 0; i < 8; i++)
        *v |= (uint64_t)b[i] << (8 * i);
    return 0;
}

void chan_set_timeout(chan *c, int timeout_ms) { c->timeout_ms = timeout_ms > 0 ? timeout_ms : -1; }
int chan_status(const chan *c) { return c->err; }
const char *chan_error(const chan *c) { return c->err ? c->errmsg : "ok"; }
const chan_stats *chan_get_stats(const chan *c) { return &c->stats; }

void chan_reset_stats(chan *c) {
    uint64_t d = c->stats.depth;
    memset(&c->stats, 0, sizeof c->stats);
    c->stats.depth = d;
    c->sent_since_flush = 0;
}

uint64_t chan_depth(const chan *c) { return c->depth; }

void chan_depth_raise(chan *c, uint64_t depth) {
    if (depth > c->depth) c->depth = depth;
    if (c->depth > c->stats.depth) c->stats.depth = c->depth;
}

int chan_shutdown(chan *c) {
    TRY(chan_flush(c));
    net_link *lk = c->lk;
    pthread_mutex_lock(&lk->mu);
    int rc = stream_broken(c);
    if (rc == 0) {
        c->end_pending = 1;
        wake_io(lk);
    }
    pthread_mutex_unlock(&lk->mu);
    return rc < 0 ? chan_refail(c) : 0;
}

void chan_abort(chan *c) {
    net_link *lk = c->lk;
    pthread_mutex_lock(&lk->mu);
    stream_abort(c);
    pthread_mutex_unlock(&lk->mu);
    (void)chan_fail(c, PARLEY_E_CLOSED, "the channel was aborted");
}

void chan_close(chan *c) {
    if (c && c->owner) link_close(c->lk);
}

/* ---- links ---- */

static void linger_close(int fd, int ms);

static int link_new(net_link **out, int fd, size_t max_stash) {
    *out = NULL;
    if (max_stash == 0) max_stash = LINK_MAX_STASH_DEFAULT;
    if (max_stash < LINK_MAX_STASH_MIN) {
        close(fd);
        return err_set(PARLEY_E_ARG, "a receive-stash cap of %zu MiB is below the least, %zu MiB",
                       max_stash >> 20, LINK_MAX_STASH_MIN >> 20);
    }
    net_link *lk = mem_calloc(1, sizeof *lk);
    if (!lk) {
        close(fd);
        return PARLEY_E_NOMEM;
    }
    lk->fd = fd;
    lk->wake_fd = -1;
    pthread_mutex_init(&lk->mu, NULL);
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&lk->cv, &ca);
    pthread_condattr_destroy(&ca);
    lk->max_stash = max_stash;
    size_t w = max_stash / (2 * LINK_STREAMS_MAX);
    if (w > LINK_WINDOW_DEFAULT) w = LINK_WINDOW_DEFAULT;
    lk->window = (uint32_t)(w & ~(size_t)4095);
    lk->peer_window = lk->window;
    snprintf(lk->desc, sizeof lk->desc, "plaintext");
    int fl = fcntl(fd, F_GETFL);
    lk->wake_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    lk->in = mem_alloc(INBUF_CAP, 1);
    if (fl < 0 || fcntl(fd, F_SETFL, fl | O_NONBLOCK) < 0 || lk->wake_fd < 0 || !lk->in) {
        link_close(lk);
        return err_set(PARLEY_E_NOMEM, "cannot set up a link");
    }
    *out = lk;
    return 0;
}

static int link_start(net_link *lk) {
    if (lk->tls && !(lk->stage = mem_alloc(OUT_BYTES + (size_t)OUT_MAX * FRAME_HEADER_BYTES, 1)))
        return PARLEY_E_NOMEM;
    if (pthread_create(&lk->io, NULL, io_main, lk) != 0)
        return err_set(PARLEY_E_IO, "cannot start the link's I/O thread");
    lk->io_running = 1;
    return 0;
}

chan *link_chan(net_link *lk, unsigned id) {
    PARLEY_CHECK(id < LINK_STREAMS_MAX);
    pthread_mutex_lock(&lk->mu);
    chan *s = stream_get(lk, id);
    pthread_mutex_unlock(&lk->mu);
    PARLEY_CHECK(s != NULL); /* a few hundred bytes; out of memory here is fatal anyway */
    return s;
}

void link_get_stats(const net_link *lk, link_stats *out) {
    pthread_mutex_lock((pthread_mutex_t *)&lk->mu);
    *out = lk->stats;
    pthread_mutex_unlock((pthread_mutex_t *)&lk->mu);
}

const char *link_desc(const net_link *lk) { return lk->desc; }

void link_abort(net_link *lk) {
    pthread_mutex_lock(&lk->mu);
    link_fail(lk, PARLEY_E_CLOSED, "the connection was aborted");
    lk->aborted = 1;
    lk->stop = 2;
    wake_io(lk);
    pthread_mutex_unlock(&lk->mu);
}

void link_close(net_link *lk) {
    if (!lk) return;
    if (lk->io_running) {
        pthread_mutex_lock(&lk->mu);
        if (!lk->stop) lk->stop = 1;
        wake_io(lk);
        struct timespec ts;
        deadline_ts(&ts, CLOSE_DRAIN_MS);
        while (!lk->dead && pthread_cond_timedwait(&lk->cv, &lk->mu, &ts) == 0) {
        }
        lk->stop = 2;
        wake_io(lk);
        pthread_mutex_unlock(&lk->mu);
        pthread_join(lk->io, NULL);
    }
    if (lk->tls) tls_close(lk->tls);
    if (lk->fd >= 0) {
        if (lk->io_running && !lk->aborted) linger_close(lk->fd, CLOSE_LINGER_MS);
        close(lk->fd);
    }
    if (lk->wake_fd >= 0) close(lk->wake_fd);
    for (unsigned i = 0; i < LINK_STREAMS_MAX; i++)
        stream_free(lk->st[i]);
    for (unsigned i = 0; i < lk->nout; i++)
        if (lk->out[i].own) mem_free_wipe(lk->out[i].own, lk->out[i].n);
    if (lk->in) mem_free_wipe(lk->in, INBUF_CAP);
    if (lk->stage) mem_free_wipe(lk->stage, OUT_BYTES + (size_t)OUT_MAX * FRAME_HEADER_BYTES);
    pthread_cond_destroy(&lk->cv);
    pthread_mutex_destroy(&lk->mu);
    mem_free(lk);
}

/* ---- set-up: raw I/O with a deadline, before the I/O thread runs ---- */

static int raw_wait(net_link *lk, short ev, double deadline, const char *what) {
    for (;;) {
        double left = deadline - now_ms();
        if (left <= 0) return err_set(PARLEY_E_TIMEOUT, "%s took too long", what);
        struct pollfd p = {.fd = lk->fd, .events = ev};
        int r = poll(&p, 1, (int)left + 1);
        if (r > 0) return 0;
        if (r < 0 && errno != EINTR) return err_set(PARLEY_E_IO, "poll: %s", strerror(errno));
    }
}

static int raw_write(net_link *lk, const void *buf, size_t n, double deadline) {
    const uint8_t *p = buf;
    while (n > 0) {
        ssize_t w;
        short want = POLLOUT;
        if (lk->tls) {
            w = tls_write(lk->tls, p, n, &want);
            if (w < 0) return (int)w;
        } else {
            w = send(lk->fd, p, n, MSG_NOSIGNAL);
            if (w < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)
                return err_set(errno == EPIPE || errno == ECONNRESET ? PARLEY_E_CLOSED : PARLEY_E_IO,
                               "the peer closed the connection during the set-up (%s)",
                               strerror(errno));
            if (w < 0) w = 0;
        }
        if (w == 0) {
            TRY(raw_wait(lk, want, deadline, "sending the link hello"));
            continue;
        }
        p += w;
        n -= (size_t)w;
        lk->stats.overhead_sent += (size_t)w;
    }
    return 0;
}

static int raw_read(net_link *lk, void *buf, size_t n, double deadline, const char *what) {
    uint8_t *p = buf;
    while (n > 0) {
        ssize_t r;
        short want = POLLIN;
        if (lk->tls) {
            r = tls_read(lk->tls, p, n, &want);
            if (r < 0) return (int)r;
        } else {
            r = recv(lk->fd, p, n, 0);
            if (r == 0) return err_set(PARLEY_E_CLOSED, "the peer closed the connection %s", what);
            if (r < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)
                return err_set(PARLEY_E_CLOSED, "the connection failed %s: %s", what,
                               strerror(errno));
            if (r < 0) r = 0;
        }
        if (r == 0) {
            if (raw_wait(lk, want, deadline, what) < 0)
                return err_set(PARLEY_E_TIMEOUT, "the peer sent nothing %s in time", what);
            continue;
        }
        p += r;
        n -= (size_t)r;
        lk->stats.overhead_recv += (size_t)r;
    }
    return 0;
}

/* Let the peer read all we sent before the connection ends: close our
 * side, and read until the peer closes its own (or ms pass), so no unread
 * byte makes the kernel reset the connection and drop what was in flight. */
static void linger_close(int fd, int ms) {
    shutdown(fd, SHUT_WR);
    double until = now_ms() + ms;
    uint8_t junk[4096];
    for (;;) {
        double left = until - now_ms();
        struct pollfd p = {.fd = fd, .events = POLLIN};
        if (left <= 0 || poll(&p, 1, (int)left + 1) <= 0) break;
        ssize_t r = recv(fd, junk, sizeof junk, 0);
        if (r == 0 || (r < 0 && errno != EINTR && errno != EAGAIN)) break;
    }
}

/* Tell the peer why, in one line (through TLS when it is up). */
static void refuse(net_link *lk, int status, double deadline, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static void refuse(net_link *lk, int status, double deadline, const char *fmt, ...) {
    char line[LINK_REFUSAL_MAX + 1];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(line, sizeof line, fmt, ap);
    va_end(ap);
    uint8_t b[LINK_HELLO_BYTES + LINK_REFUSAL_MAX];
    link_hello h = {.version = LINK_VERSION, .kind = LINK_HELLO_REFUSAL,
                    .refusal_len = (uint32_t)strlen(line), .status = status};
    link_hello_encode(b, &h);
    memcpy(b + LINK_HELLO_BYTES, line, h.refusal_len);
    double d = deadline < now_ms() + 1000 ? now_ms() + 1000 : deadline;
    char keep[512];
    snprintf(keep, sizeof keep, "%s", err_msg());
    (void)raw_write(lk, b, LINK_HELLO_BYTES + h.refusal_len, d);
    err_set(0, "%s", keep);
    if (!lk->tls) linger_close(lk->fd, 500);
}

/* The line of a refusal whose hello is h (its bytes follow). */
static int read_refusal(net_link *lk, const link_hello *h, double deadline, const char *who) {
    char line[LINK_REFUSAL_MAX + 1];
    int rc = raw_read(lk, line, h->refusal_len, deadline, "in its refusal");
    if (rc < 0) return rc;
    line[h->refusal_len] = 0;
    for (size_t i = 0; i < h->refusal_len; i++) /* the peer's bytes: printable only */
        if ((unsigned char)line[i] < 0x20 || (unsigned char)line[i] > 0x7e) line[i] = '?';
    return err_set(h->status ? h->status : PARLEY_E_PROTO, "%s refused: %s", who, line);
}

/* The first bytes of an accepted connection, without consuming them. */
static int peek_first(net_link *lk, uint8_t *b, size_t want, size_t *got, double deadline) {
    *got = 0;
    for (;;) {
        ssize_t r = recv(lk->fd, b, want, MSG_PEEK);
        if (r == 0) {
            if (*got == 0)
                return err_set(PARLEY_E_CLOSED, "the client closed the connection without a word");
            return 0;
        }
        if (r > 0) {
            *got = (size_t)r;
            if ((size_t)r >= 4) return 0; /* enough to tell what speaks */
        } else if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) {
            return err_set(PARLEY_E_CLOSED, "the connection failed: %s", strerror(errno));
        }
        double left = deadline - now_ms();
        if (left <= 0) return err_set(PARLEY_E_TIMEOUT, "the client said nothing");
        if (r > 0) { /* a few bytes: poll would not wait for more */
            struct timespec nap = {0, 10 * 1000 * 1000};
            nanosleep(&nap, NULL);
            continue;
        }
        struct pollfd p = {.fd = lk->fd, .events = POLLIN};
        int pr = poll(&p, 1, (int)left + 1);
        if (pr < 0 && errno != EINTR) return err_set(PARLEY_E_IO, "poll: %s", strerror(errno));
    }
}

/* A client of parley 0.1 (one connection per lane) sends a control frame
 * [type 1 u32][16 u32] first; answer in its own format so it prints why. */
static void refuse_old_client(net_link *lk) {
    const char line[] = "this server speaks parley session protocol 2 (one connection per session); "
                        "upgrade the client";
    uint8_t b[8 + sizeof line];
    uint32_t n = (uint32_t)(sizeof line - 1);
    b[0] = 2; /* REJECT */
    b[1] = b[2] = b[3] = 0;
    for (int i = 0; i < 4; i++)
        b[4 + i] = (uint8_t)(n >> (8 * i));
    memcpy(b + 8, line, n);
    (void)!send(lk->fd, b, 8 + n, MSG_NOSIGNAL);
    linger_close(lk->fd, 500);
}

static int setup_timeout(const link_opts *o) {
    return o && o->timeout_ms > 0 ? o->timeout_ms : LINK_SETUP_TIMEOUT_MS;
}

int link_server(net_link **out, int fd, const link_opts *o) {
    static const link_opts none = {0};
    if (!o) o = &none;
    *out = NULL;
    net_link *lk;
    TRY(link_new(&lk, fd, o->max_stash));
    int one = 1;
    unsigned lowat = NOTSENT_LOWAT;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    setsockopt(fd, IPPROTO_TCP, TCP_NOTSENT_LOWAT, &lowat, sizeof lowat);
    int tmo = setup_timeout(o);
    double deadline = now_ms() + tmo;
    uint8_t first[8];
    size_t nf = 0;
    int rc = peek_first(lk, first, sizeof first, &nf, deadline);
    if (rc == PARLEY_E_TIMEOUT)
        rc = err_set(PARLEY_E_TIMEOUT, "the client said nothing for %d ms", tmo);
    int is_link = rc == 0 && nf >= 4 && memcmp(first, "PRLX", 4) == 0;
    int is_tls = rc == 0 && nf >= 2 && first[0] == 0x16 && first[1] == 0x03;
    int is_old = rc == 0 && nf >= 4 && first[0] == 1 && !first[1] && !first[2] && !first[3];
    if (rc == 0 && is_old) {
        refuse_old_client(lk);
        rc = err_set(PARLEY_E_MISMATCH, "the client speaks parley session protocol 1 (one "
                                        "connection per lane), this server 2");
    } else if (rc == 0 && o->tls && is_link) {
        refuse(lk, PARLEY_E_AUTH, deadline,
               "this server speaks TLS only: connect with --tls-ca or --tls-pin");
        rc = err_set(PARLEY_E_AUTH, "the client does not speak TLS (refused: this server is TLS "
                                    "only)");
    } else if (rc == 0 && !o->tls && is_tls) {
        refuse(lk, PARLEY_E_PROTO, deadline,
               "this server does not speak TLS: connect without --tls-ca/--tls-pin, or start "
               "the server with --tls-cert and --tls-key");
        rc = err_set(PARLEY_E_PROTO, "the client speaks TLS, this server does not (refused)");
    } else if (rc == 0 && !(o->tls ? is_tls : is_link)) {
        rc = err_set(PARLEY_E_PROTO,
                     "the client is not a parley client (its first bytes are %02x %02x %02x %02x)",
                     first[0], nf > 1 ? first[1] : 0, nf > 2 ? first[2] : 0,
                     nf > 3 ? first[3] : 0);
    }
    if (rc == 0 && o->tls) {
        double left = deadline - now_ms();
        rc = tls_handshake(&lk->tls, o->tls, fd, NULL, left > 1 ? (int)left : 1, NULL);
        if (rc == 0) snprintf(lk->desc, sizeof lk->desc, "%s", tls_desc(lk->tls));
    }
    uint8_t b[LINK_HELLO_BYTES];
    link_hello h;
    if (rc == 0) rc = raw_read(lk, b, sizeof b, deadline, "before its link hello");
    if (rc == PARLEY_E_TIMEOUT)
        rc = err_set(PARLEY_E_TIMEOUT, "the client sent no link hello within %d ms", tmo);
    if (rc == 0) rc = link_hello_parse(&h, b);
    if (rc == 0 && h.version != LINK_VERSION) {
        refuse(lk, PARLEY_E_MISMATCH, deadline, "this server speaks link version %u, the client %u",
               LINK_VERSION, h.version);
        rc = err_set(PARLEY_E_MISMATCH, "the client speaks link version %u, this server %u",
                     h.version, LINK_VERSION);
    } else if (rc == 0 && h.kind != LINK_HELLO_CLIENT) {
        rc = err_set(PARLEY_E_PROTO, "the peer's link hello is not a client's");
    } else if (rc == 0 && o->token && !h.has_token) {
        refuse(lk, PARLEY_E_AUTH, deadline,
               "this server admits only clients with its token (--token-file)");
        rc = err_set(PARLEY_E_AUTH, "the client presented no token");
    } else if (rc == 0 && o->token && tls_memcmp(h.token, o->token, LINK_TOKEN_BYTES) != 0) {
        refuse(lk, PARLEY_E_AUTH, deadline, "the client's token is not this server's");
        rc = err_set(PARLEY_E_AUTH, "the client's token is wrong");
    }
    mem_wipe(b, sizeof b);
    mem_wipe(h.token, sizeof h.token);
    if (rc == 0) {
        lk->peer_window = h.window;
        link_hello sh = {.version = LINK_VERSION, .kind = LINK_HELLO_SERVER, .window = lk->window};
        link_hello_encode(b, &sh);
        rc = raw_write(lk, b, sizeof b, deadline);
    }
    if (rc == 0) rc = link_start(lk);
    if (rc < 0) {
        char keep[512];
        snprintf(keep, sizeof keep, "%s", err_msg());
        /* A TLS alert or refusal must reach the client before a reset does. */
        if (rc != PARLEY_E_TIMEOUT) linger_close(lk->fd, 500);
        link_close(lk);
        return err_set(rc, "%s", keep);
    }
    *out = lk;
    return 0;
}

int link_client(net_link **out, int fd, const link_opts *o) {
    static const link_opts none = {0};
    if (!o) o = &none;
    *out = NULL;
    net_link *lk;
    TRY(link_new(&lk, fd, o->max_stash));
    unsigned lowat = NOTSENT_LOWAT;
    setsockopt(fd, IPPROTO_TCP, TCP_NOTSENT_LOWAT, &lowat, sizeof lowat);
    int tmo = setup_timeout(o);
    double deadline = now_ms() + tmo;
    int rc = 0;
    uint8_t b[LINK_HELLO_BYTES];
    link_hello h;
    if (o->tls) {
        tls_first first;
        rc = tls_handshake(&lk->tls, o->tls, fd, o->server_name, tmo, &first);
        if (rc < 0 && first.n >= 4 && memcmp(first.b, "PRLX", 4) == 0 &&
            first.n <= LINK_HELLO_BYTES) {
            /* A plaintext server's refusal: the rest is still in the socket. */
            char keep[512];
            snprintf(keep, sizeof keep, "%s", err_msg());
            memcpy(b, first.b, first.n);
            tls_conn *t = lk->tls;
            lk->tls = NULL; /* what follows is plaintext */
            int r2 = raw_read(lk, b + first.n, LINK_HELLO_BYTES - first.n, now_ms() + 2000,
                              "in its refusal");
            if (r2 == 0 && link_hello_parse(&h, b) == 0 && h.kind == LINK_HELLO_REFUSAL &&
                h.version == LINK_VERSION) {
                rc = read_refusal(lk, &h, now_ms() + 2000, "the server");
                snprintf(keep, sizeof keep, "%s", err_msg());
            }
            lk->tls = t;
            err_set(rc, "%s", keep);
        }
        if (rc == 0) snprintf(lk->desc, sizeof lk->desc, "%s", tls_desc(lk->tls));
    }
    if (rc == 0) {
        link_hello ch = {.version = LINK_VERSION, .kind = LINK_HELLO_CLIENT, .window = lk->window,
                         .has_token = o->token != NULL};
        if (o->token) memcpy(ch.token, o->token, LINK_TOKEN_BYTES);
        link_hello_encode(b, &ch);
        rc = raw_write(lk, b, sizeof b, deadline);
        mem_wipe(b, sizeof b);
        mem_wipe(ch.token, sizeof ch.token);
    }
    if (rc == 0) rc = raw_read(lk, b, sizeof b, deadline, "before its link hello");
    if (rc == PARLEY_E_TIMEOUT)
        rc = err_set(PARLEY_E_TIMEOUT, "the server sent no link hello within %d ms", tmo);
    if (rc == 0) rc = link_hello_parse(&h, b);
    if (rc == 0 && h.version != LINK_VERSION)
        rc = err_set(PARLEY_E_MISMATCH, "the server speaks link version %u, this client %u",
                     h.version, LINK_VERSION);
    else if (rc == 0 && h.kind == LINK_HELLO_REFUSAL)
        rc = read_refusal(lk, &h, deadline, "the server");
    else if (rc == 0 && h.kind != LINK_HELLO_SERVER)
        rc = err_set(PARLEY_E_PROTO, "the peer's link hello is not a server's");
    if (rc == 0) {
        lk->peer_window = h.window;
        rc = link_start(lk);
    }
    if (rc < 0) {
        char keep[512];
        snprintf(keep, sizeof keep, "%s", err_msg());
        link_close(lk);
        return err_set(rc, "%s", keep);
    }
    *out = lk;
    return 0;
}

int link_pair(net_link **a, net_link **b, size_t max_stash) {
    *a = *b = NULL;
    int sv[2];
    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0)
        return err_set(PARLEY_E_IO, "socketpair: %s", strerror(errno));
    /* Large buffers make the in-process transport behave like loopback TCP. */
    int sz = 1 << 21;
    for (int i = 0; i < 2; i++) {
        setsockopt(sv[i], SOL_SOCKET, SO_SNDBUF, &sz, sizeof sz);
        setsockopt(sv[i], SOL_SOCKET, SO_RCVBUF, &sz, sizeof sz);
    }
    int rc = link_new(a, sv[0], max_stash);
    if (rc < 0) {
        close(sv[1]);
        return rc;
    }
    rc = link_new(b, sv[1], max_stash);
    if (rc == 0) rc = link_start(*a);
    if (rc == 0) rc = link_start(*b);
    if (rc < 0) {
        link_close(*a);
        link_close(*b);
        *a = *b = NULL;
    }
    return rc;
}

/* ---- one-stream links as channels ---- */

static chan *owner_chan(net_link *lk) {
    chan *c = link_chan(lk, 0);
    c->owner = 1;
    return c;
}

int chan_pair(chan **a, chan **b) {
    net_link *x, *y;
    TRY(link_pair(&x, &y, 0));
    *a = owner_chan(x);
    *b = owner_chan(y);
    return 0;
}

int chan_accept(chan_listener *l, chan **out, int timeout_ms) {
    int fd;
    TRY(net_accept(l, &fd, NULL, 0, timeout_ms));
    link_opts o = {.timeout_ms = timeout_ms > 0 ? timeout_ms : 0};
    net_link *lk;
    TRY(link_server(&lk, fd, &o));
    *out = owner_chan(lk);
    return 0;
}

int chan_connect(chan **out, const char *host, int port, int timeout_ms) {
    int fd;
    TRY(net_connect(&fd, host, port, timeout_ms));
    link_opts o = {.timeout_ms = timeout_ms > 0 ? timeout_ms : 0};
    net_link *lk;
    TRY(link_client(&lk, fd, &o));
    *out = owner_chan(lk);
    return 0;
}
