/* Two-process benchmark harness; see bench_common.h. */
#include "bench_common.h"

#include "net/link.h"
#include "util/err.h"
#include "util/mem.h"
#include "util/timer.h"

#include <stdlib.h>

#include <errno.h>
#include <time.h>
#include <signal.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

int bench_barrier(chan *ch, int who) {
    chan_stats keep = *chan_get_stats(ch);
    uint8_t b = 0x5a;
    if (who == 0) {
        TRY(chan_send(ch, &b, 1));
        TRY(chan_flush(ch));
        TRY(chan_recv(ch, &b, 1));
    } else {
        TRY(chan_recv(ch, &b, 1));
        TRY(chan_send(ch, &b, 1));
        TRY(chan_flush(ch));
    }
    /* The barrier is not part of what is measured. */
    chan_stats *st = (chan_stats *)chan_get_stats(ch);
    *st = keep;
    return 0;
}

/* Fork into server (parent) and client (child); each runs side_fn and the
 * child reports its bench_side back through a pipe. */
typedef int (*side_fn)(int who, void *arg, bench_side *side);

static int fork_two(side_fn fn, void *arg, bench_side out[2]) {
    int pfd[2];
    if (pipe(pfd) < 0) return err_set(PARLEY_E_IO, "pipe: %s", strerror(errno));
    fflush(NULL);
    pid_t pid = fork();
    if (pid < 0) {
        close(pfd[0]);
        close(pfd[1]);
        return err_set(PARLEY_E_IO, "fork: %s", strerror(errno));
    }
    if (pid == 0) { /* client */
        close(pfd[0]);
        bench_side me = {0};
        me.rc = fn(1, arg, &me);
        if (me.rc != 0) fprintf(stderr, "parley-bench: client: %s\n", err_msg());
        ssize_t w = write(pfd[1], &me, sizeof me);
        _exit(w == (ssize_t)sizeof me && me.rc == 0 ? 0 : 1);
    }
    close(pfd[1]);
    memset(out, 0, 2 * sizeof *out);
    int rc = fn(0, arg, &out[0]);
    char msg[512];
    snprintf(msg, sizeof msg, "%s", err_msg());
    if (rc != 0) kill(pid, SIGTERM);
    ssize_t r = read(pfd[0], &out[1], sizeof out[1]);
    close(pfd[0]);
    int status = 0;
    waitpid(pid, &status, 0);
    if (rc != 0) return err_set(rc, "server: %s", msg);
    if (r != (ssize_t)sizeof out[1] || out[1].rc != 0)
        return err_set(out[1].rc ? out[1].rc : PARLEY_E_IO, "the client process failed");
    return 0;
}

typedef struct chan_bench {
    bench_chan_fn fn;
    void *arg;
    chan_listener *l;
    int port;
} chan_bench;

static int chan_side(int who, void *arg, bench_side *side) {
    chan_bench *b = arg;
    chan *ch = NULL;
    int rc = who == 0 ? chan_accept(b->l, &ch, 10000)
                      : chan_connect(&ch, "127.0.0.1", b->port, 10000);
    if (rc == 0) rc = b->fn(who, ch, b->arg, side);
    chan_close(ch);
    return rc;
}

int bench_fork(bench_chan_fn fn, void *arg, bench_side out[2]) {
    chan_bench b = {fn, arg, NULL, 0};
    TRY(chan_listen(&b.l, "127.0.0.1", 0));
    b.port = chan_listener_port(b.l);
    int rc = fork_two(chan_side, &b, out);
    chan_listener_close(b.l);
    return rc;
}

void bench_print(FILE *f, const char *bench, uint64_t n, unsigned bits, const bench_side s[2],
                 const char *extra) {
    double sec = s[0].seconds > s[1].seconds ? s[0].seconds : s[1].seconds;
    double setup = s[0].setup_seconds > s[1].setup_seconds ? s[0].setup_seconds : s[1].setup_seconds;
    uint64_t total = s[0].bytes_sent + s[1].bytes_sent;
    fprintf(f,
            "{\"bench\":\"%s\",\"n\":%llu,\"bits\":%u,\"seconds\":%.6f,\"setup_seconds\":%.6f,"
            "\"bytes_server\":%llu,\"bytes_client\":%llu,\"bits_per_item\":%.4f,"
            "\"items_per_second\":%.1f,\"rounds\":%llu,\"setup_bytes\":%llu%s%s%s%s}\n",
            bench, (unsigned long long)n, bits, sec, setup, (unsigned long long)s[0].bytes_sent,
            (unsigned long long)s[1].bytes_sent, n ? (double)total * 8.0 / (double)n : 0.0,
            sec > 0 ? (double)n / sec : 0.0, (unsigned long long)(s[0].flights + s[1].flights),
            (unsigned long long)(s[0].setup_bytes + s[1].setup_bytes), s[0].ot ? ",\"ot\":\"" : "",
            s[0].ot ? ot_backend_name(s[0].ot - 1) : "", s[0].ot ? "\"" : "", extra);
    fflush(f);
}

/* ---- whole parties ---- */

typedef struct party_bench {
    bench_party_fn fn;
    void *arg;
    unsigned lanes;
    int backend;
    int port;
    chan_listener *l;
} party_bench;

static int party_side(int who, void *arg, bench_side *side) {
    party_bench *b = arg;
    chan *chans[LANES_MAX] = {0};
    double t0 = time_now();
    net_link *lk = NULL;
    int fd;
    int rc = who == 0 ? net_accept(b->l, &fd, NULL, 0, 10000)
                      : net_connect(&fd, "127.0.0.1", b->port, 10000);
    if (rc == 0) rc = who == 0 ? link_server(&lk, fd, NULL) : link_client(&lk, fd, NULL);
    if (rc < 0) return rc;
    for (unsigned i = 0; i < b->lanes; i++) /* stream 0 is the control stream */
        chans[i] = link_chan(lk, 1 + i);
    block seed;
    rand_os(&seed, sizeof seed);
    party p;
    ot_lane_opts o = {.backend = b->backend};
    if (bench_leaves_vole4 && b->backend == OT_BACKEND_SILENT) o.vole4 = &VOLE4_H10K18;
    rc = party_setup_ex(&p, who, chans, b->lanes, seed, &o);
    mem_wipe(&seed, sizeof seed);
    side->ot = b->backend + 1;
    if (rc == 0) {
        chan_stats st;
        party_stats(&p, &st);
        side->setup_seconds = time_now() - t0;
        side->setup_bytes = st.bytes_sent;
        bench_clock clk = {.p = &p, .side = side};
        rc = b->fn(&p, b->arg, &clk);
        party_clear(&p);
    }
    link_close(lk);
    return rc;
}

int bench_leaves_vole4;

int bench_fork_party(bench_party_fn fn, void *arg, unsigned lanes, int backend, bench_side out[2]) {
    party_bench b = {fn, arg, lanes, backend, 0, NULL};
    TRY(chan_listen(&b.l, "127.0.0.1", 0));
    b.port = chan_listener_port(b.l);
    int rc = fork_two(party_side, &b, out);
    chan_listener_close(b.l);
    return rc;
}

/* This process's CPU time, all threads, seconds. */
static double cpu_now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

int bench_begin(bench_clock *clk) {
    TRY(bench_barrier(clk->p->lanes[0].ot.ch, clk->p->role));
    party_stats(clk->p, &clk->s0);
    clk->t0 = time_now();
    clk->cpu0 = cpu_now();
    return 0;
}

int bench_end(bench_clock *clk) {
    chan_stats st;
    party_stats(clk->p, &st);
    TRY(bench_barrier(clk->p->lanes[0].ot.ch, clk->p->role));
    clk->side->seconds = time_now() - clk->t0;
    clk->side->cpu_seconds = cpu_now() - clk->cpu0;
    clk->side->bytes_sent = st.bytes_sent - clk->s0.bytes_sent;
    clk->side->flights = st.flights - clk->s0.flights;
    return 0;
}
