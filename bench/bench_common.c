/* Two-process benchmark harness; see bench_common.h. */
#include "bench_common.h"

#include "util/err.h"

#include <errno.h>
#include <signal.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

int bench_barrier(chan *ch, int party) {
    chan_stats keep = *chan_get_stats(ch);
    uint8_t b = 0x5a;
    if (party == 0) {
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

int bench_fork(bench_party_fn fn, void *arg, bench_side out[2]) {
    chan_listener *l;
    TRY(chan_listen(&l, "127.0.0.1", 0));
    int port = chan_listener_port(l);
    int pfd[2];
    if (pipe(pfd) < 0) {
        chan_listener_close(l);
        return err_set(PARLEY_E_IO, "pipe: %s", strerror(errno));
    }
    fflush(NULL);
    pid_t pid = fork();
    if (pid < 0) {
        chan_listener_close(l);
        return err_set(PARLEY_E_IO, "fork: %s", strerror(errno));
    }
    if (pid == 0) { /* client */
        chan_listener_close(l);
        close(pfd[0]);
        bench_side me = {0};
        chan *ch = NULL;
        me.rc = chan_connect(&ch, "127.0.0.1", port, 10000);
        if (me.rc == 0) me.rc = fn(1, ch, arg, &me);
        if (me.rc != 0) fprintf(stderr, "parley bench: client: %s\n", err_msg());
        chan_close(ch);
        ssize_t w = write(pfd[1], &me, sizeof me);
        _exit(w == (ssize_t)sizeof me && me.rc == 0 ? 0 : 1);
    }
    close(pfd[1]);
    chan *ch = NULL;
    int rc = chan_accept(l, &ch, 10000);
    chan_listener_close(l);
    memset(out, 0, 2 * sizeof *out);
    if (rc == 0) rc = fn(0, ch, arg, &out[0]);
    char msg[512];
    snprintf(msg, sizeof msg, "%s", err_msg());
    chan_close(ch);
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

void bench_print(FILE *f, const char *bench, uint64_t n, unsigned bits, const bench_side s[2],
                 const char *extra) {
    double sec = s[0].seconds > s[1].seconds ? s[0].seconds : s[1].seconds;
    double setup = s[0].setup_seconds > s[1].setup_seconds ? s[0].setup_seconds : s[1].setup_seconds;
    uint64_t total = s[0].bytes_sent + s[1].bytes_sent;
    fprintf(f,
            "{\"bench\":\"%s\",\"n\":%llu,\"bits\":%u,\"seconds\":%.6f,\"setup_seconds\":%.6f,"
            "\"bytes_server\":%llu,\"bytes_client\":%llu,\"bits_per_item\":%.4f,"
            "\"items_per_second\":%.1f,\"rounds\":%llu,\"setup_bytes\":%llu%s}\n",
            bench, (unsigned long long)n, bits, sec, setup, (unsigned long long)s[0].bytes_sent,
            (unsigned long long)s[1].bytes_sent, n ? (double)total * 8.0 / (double)n : 0.0,
            sec > 0 ? (double)n / sec : 0.0, (unsigned long long)(s[0].flights + s[1].flights),
            (unsigned long long)(s[0].setup_bytes + s[1].setup_bytes), extra);
    fflush(f);
}
