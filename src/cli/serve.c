/* The forking server of `parley serve`; see serve.h. */
#include "serve.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

/* AddressSanitizer reserves terabytes of address space for its shadow
 * memory: under it an address-space limit would stop every session at its
 * first allocation, so --session-memory is not applied (and says so). */
#if defined(__SANITIZE_ADDRESS__)
#define SERVE_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define SERVE_ASAN 1
#endif
#endif
#ifndef SERVE_ASAN
#define SERVE_ASAN 0
#endif

#define REFUSE_TIMEOUT_MS 5000 /* a refused client's link set-up and hello */
#define REFUSERS_MIN 8         /* refusals at once: at least this, at least K */

/* ---- the log line ---- */

void serve_report_of(serve_report *r, unsigned long id, const parley_report *rep, int rc,
                     double seconds) {
    memset(r, 0, sizeof *r);
    r->id = id;
    snprintf(r->peer, sizeof r->peer, "%s", rep->peer);
    r->mode = (unsigned)rep->mode;
    r->batch = rep->batch;
    r->seconds = seconds;
    r->bytes_sent = rep->link_bytes_sent;
    r->bytes_recv = rep->link_bytes_recv;
    snprintf(r->transport, sizeof r->transport, "%s", rep->transport);
    snprintf(r->outcome, sizeof r->outcome, "%s", rc < 0 ? "failed" : "done");
    if (rc < 0) snprintf(r->msg, sizeof r->msg, "%s", parley_last_error());
}

void serve_log(FILE *f, const serve_report *r, int json) {
    const char *mode = cli_mode_name((int)r->mode);
    if (json) {
        fprintf(f, "{\"session\":%lu,\"peer\":", r->id);
        cli_json_str(f, r->peer);
        fprintf(f, ",\"mode\":\"%s\",\"batch\":%u,\"seconds\":%.3f,\"bytes_sent\":%llu,"
                   "\"bytes_recv\":%llu,\"transport\":",
                mode, r->batch, r->seconds, (unsigned long long)r->bytes_sent,
                (unsigned long long)r->bytes_recv);
        cli_json_str(f, r->transport);
        fprintf(f, ",\"outcome\":\"%s\",\"error\":", r->outcome);
        cli_json_str(f, r->msg);
        fprintf(f, "}\n");
        fflush(f);
        return;
    }
    char batch[24] = "";
    if (r->batch) snprintf(batch, sizeof batch, ", batch %u", r->batch);
    fprintf(f, "parley serve: session %lu (%s, %s%s%s%s) %s: %s%s%.2f s, %.3f MiB sent, %.3f MiB "
               "received\n",
            r->id, r->peer[0] ? r->peer : "?", mode, batch, r->transport[0] ? ", " : "",
            r->transport, r->outcome, r->msg, r->msg[0] ? "; " : "", r->seconds,
            (double)r->bytes_sent / 1048576.0, (double)r->bytes_recv / 1048576.0);
    fflush(f);
}

/* ---- defaults from the machine ---- */

/* The "KEY: N kB" line of a /proc file, in bytes; 0 if there is none. */
static uint64_t proc_kb(const char *path, const char *key) {
    FILE *f = fopen(path, "r");
    unsigned long long kb = 0;
    if (f) {
        char line[128];
        size_t n = strlen(key);
        while (fgets(line, sizeof line, f))
            if (!strncmp(line, key, n) && line[n] == ':' && sscanf(line + n + 1, "%llu", &kb) == 1)
                break;
        fclose(f);
    }
    return (uint64_t)kb << 10;
}

uint64_t serve_memory_available(void) {
    uint64_t b = proc_kb("/proc/meminfo", "MemAvailable");
    if (b) return b;
    long pages = sysconf(_SC_PHYS_PAGES), psz = sysconf(_SC_PAGESIZE);
    return pages > 0 && psz > 0 ? (uint64_t)pages * (uint64_t)psz : SERVE_MIN_SESSION_MEMORY;
}

uint64_t serve_session_need(uint64_t own, uint64_t ot_pools, unsigned lanes) {
    return own + ot_pools + SERVE_SESSION_WORK + (uint64_t)lanes * SERVE_LANE_WORK;
}

uint64_t serve_own_memory(void) {
    if (SERVE_ASAN) return 0; /* its shadow is terabytes of address space, and no limit applies */
    return proc_kb("/proc/self/status", "VmSize");
}

unsigned serve_default_sessions(uint64_t need) {
    if (need < SERVE_MIN_SESSION_MEMORY) need = SERVE_MIN_SESSION_MEMORY;
    long cores = sysconf(_SC_NPROCESSORS_ONLN);
    uint64_t k = cores > 0 ? (uint64_t)cores : 1, by_mem = serve_memory_available() / need;
    if (k > by_mem) k = by_mem;
    return k < 1 ? 1 : (unsigned)k;
}

uint64_t serve_default_session_memory(unsigned max_sessions, uint64_t need) {
    if (need < SERVE_MIN_SESSION_MEMORY) need = SERVE_MIN_SESSION_MEMORY;
    uint64_t m = serve_memory_available() / (max_sessions ? max_sessions : 1);
    return m < need ? need : m;
}

/* ---- the parent ---- */

enum { KID_SESSION = 1, KID_REFUSAL = 2 };

typedef struct kid {
    pid_t pid; /* 0: a free slot */
    int kind;
    int pipe;  /* the child's report, read when it is reaped */
    double start, deadline;
    int killed; /* for its deadline, or by a second signal */
    serve_report r;
} kid;

typedef struct waiting {
    int fd;
    unsigned long id;
    char peer[64];
} waiting;

typedef struct pool {
    parley_server *srv;
    const serve_pool_opts *o;
    kid *kids; /* K session slots, then nrefusers refusal slots */
    unsigned nkids, nrefusers, running, refusing;
    waiting *q; /* a ring of Q */
    unsigned qhead, qlen;
    unsigned long next_id;
} pool;

static volatile sig_atomic_t stop_signals;
static int wake[2] = {-1, -1};

static void on_signal(int sig) {
    int e = errno;
    if (sig != SIGCHLD) stop_signals++;
    ssize_t w = write(wake[1], "x", 1);
    (void)w;
    errno = e;
}

static void set_handler(int sig, void (*fn)(int)) {
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = fn;
    sigemptyset(&sa.sa_mask);
    sigaction(sig, &sa, NULL);
}

/* In the child: nothing of the parent's but the one connection. */
static void child_setup(pool *p, int keep_fd) {
    set_handler(SIGCHLD, SIG_DFL);
    /* The parent decides when a session ends; a Ctrl-C in the terminal
     * reaches the whole process group, and a running session finishes. */
    set_handler(SIGINT, SIG_IGN);
    set_handler(SIGTERM, SIG_IGN);
    close(wake[0]);
    close(wake[1]);
    close(parley_server_fd(p->srv));
    for (unsigned i = 0; i < p->qlen; i++) {
        int fd = p->q[(p->qhead + i) % p->o->queue].fd;
        if (fd != keep_fd) close(fd);
    }
    for (unsigned i = 0; i < p->nkids; i++)
        if (p->kids[i].pid) close(p->kids[i].pipe);
    if (p->o->session_memory && !SERVE_ASAN) {
        struct rlimit rl = {.rlim_cur = p->o->session_memory, .rlim_max = p->o->session_memory};
        setrlimit(RLIMIT_AS, &rl);
    }
}

static void child_report(int pipe_fd, const serve_report *r) {
    const char *b = (const char *)r;
    size_t n = sizeof *r; /* under PIPE_BUF: one atomic write */
    while (n) {
        ssize_t w = write(pipe_fd, b, n);
        if (w < 0 && errno == EINTR) continue;
        if (w <= 0) break;
        b += w;
        n -= (size_t)w;
    }
}

/* Why the last step of the pool failed (the pool's own failures; a
 * session's are parley_last_error()). */
static char pool_err[256];

/* Start a child for the connection fd (closed here in the parent): a
 * session, or a refusal with `line`. 0, or -1 with pool_err. */
static int spawn(pool *p, int kind, int fd, unsigned long id, const char *peer, const char *line) {
    kid *k = NULL;
    unsigned lo = kind == KID_SESSION ? 0 : p->o->max_sessions;
    unsigned hi = kind == KID_SESSION ? p->o->max_sessions : p->nkids;
    for (unsigned i = lo; i < hi; i++)
        if (!p->kids[i].pid) {
            k = &p->kids[i];
            break;
        }
    if (!k) { /* the callers count the slots: a bug */
        fprintf(stderr, "parley serve: no free slot for a %s\n",
                kind == KID_SESSION ? "session" : "refusal");
        abort();
    }
    memset(k, 0, sizeof *k);
    k->kind = kind;
    k->r.id = id;
    k->r.mode = (unsigned)p->o->mode;
    snprintf(k->r.peer, sizeof k->r.peer, "%s", peer);
    int pp[2];
    if (pipe2(pp, O_CLOEXEC) < 0) {
        close(fd);
        snprintf(pool_err, sizeof pool_err, "pipe: %s", strerror(errno));
        return -1;
    }
    fflush(NULL);
    pid_t pid = fork();
    if (pid < 0) {
        close(fd);
        close(pp[0]);
        close(pp[1]);
        snprintf(pool_err, sizeof pool_err, "fork: %s", strerror(errno));
        return -1;
    }
    if (pid == 0) {
        close(pp[0]);
        child_setup(p, fd);
        serve_report r;
        double t0 = cli_now();
        int rc;
        if (kind == KID_SESSION) {
            parley_report rep;
            rc = parley_server_serve_connection(p->srv, fd, peer, &rep);
            serve_report_of(&r, id, &rep, rc, cli_now() - t0);
            parley_report_free(&rep);
        } else {
            rc = parley_server_refuse_connection(p->srv, fd, line, REFUSE_TIMEOUT_MS);
            memset(&r, 0, sizeof r);
            r.id = id;
            snprintf(r.peer, sizeof r.peer, "%s", peer);
            r.mode = (unsigned)p->o->mode;
            r.seconds = cli_now() - t0;
            snprintf(r.outcome, sizeof r.outcome, "%s",
                     strstr(line, "busy") ? "busy" : "stopping");
            snprintf(r.msg, sizeof r.msg, "%s%s%s", line, rc < 0 ? "; " : "",
                     rc < 0 ? parley_last_error() : "");
        }
        child_report(pp[1], &r);
        _exit(rc < 0 ? 1 : 0);
    }
    close(fd);
    close(pp[1]);
    k->pid = pid;
    k->pipe = pp[0];
    k->start = cli_now();
    k->deadline =
        k->start + (kind == KID_SESSION ? p->o->session_timeout : 2.0 * REFUSE_TIMEOUT_MS / 1e3);
    if (kind == KID_SESSION)
        p->running++;
    else
        p->refusing++;
    return 0;
}

/* A child has ended: its line, and its slot is free. */
static void reaped(pool *p, kid *k, int status) {
    serve_report r;
    ssize_t n = read(k->pipe, &r, sizeof r);
    close(k->pipe);
    if (n != (ssize_t)sizeof r) { /* it died before it could say */
        r = k->r;
        r.seconds = cli_now() - k->start;
        if (k->killed && WIFSIGNALED(status)) {
            snprintf(r.outcome, sizeof r.outcome, "timeout");
            snprintf(r.msg, sizeof r.msg, "over the session's time limit of %.0f s "
                                          "(--session-timeout); ended",
                     k->kind == KID_SESSION ? p->o->session_timeout : 2.0 * REFUSE_TIMEOUT_MS / 1e3);
        } else if (WIFSIGNALED(status)) {
            snprintf(r.outcome, sizeof r.outcome, "crashed");
            snprintf(r.msg, sizeof r.msg, "the session's process died of signal %d (%s)",
                     WTERMSIG(status), strsignal(WTERMSIG(status)));
        } else {
            snprintf(r.outcome, sizeof r.outcome, "crashed");
            snprintf(r.msg, sizeof r.msg, "the session's process exited %d without a report",
                     WIFEXITED(status) ? WEXITSTATUS(status) : -1);
        }
    }
    if (k->kind == KID_SESSION)
        p->running--;
    else
        p->refusing--;
    k->pid = 0;
    if (!p->o->quiet || strcmp(r.outcome, "done") != 0) serve_log(stderr, &r, p->o->log_json);
}

static void reap(pool *p) {
    int status;
    pid_t pid;
    while ((pid = waitpid(-1, &status, WNOHANG)) > 0)
        for (unsigned i = 0; i < p->nkids; i++)
            if (p->kids[i].pid == pid) {
                reaped(p, &p->kids[i], status);
                break;
            }
}

/* What happens to a connection the sessions cannot take now. */
static void refuse(pool *p, int fd, unsigned long id, const char *peer, const char *line) {
    if (p->refusing < p->nrefusers) {
        if (spawn(p, KID_REFUSAL, fd, id, peer, line) == 0) return; /* fd is closed either way */
    } else {
        close(fd);
        snprintf(pool_err, sizeof pool_err, "every refusal slot is busy");
    }
    serve_report r;
    memset(&r, 0, sizeof r);
    r.id = id;
    r.mode = (unsigned)p->o->mode;
    snprintf(r.peer, sizeof r.peer, "%s", peer);
    snprintf(r.outcome, sizeof r.outcome, "dropped");
    snprintf(r.msg, sizeof r.msg, "closed without a word (%s): %s", pool_err, line);
    serve_log(stderr, &r, p->o->log_json);
}

static void busy_line(const pool *p, char *line, size_t cap) {
    snprintf(line, cap, "server busy: %u session%s running and %u waiting, its limits; try again "
                        "later", p->running, p->running == 1 ? "" : "s", p->qlen);
}

static void on_accept(pool *p) {
    int fd;
    char peer[64];
    if (parley_server_accept(p->srv, &fd, peer, sizeof peer, 0) < 0)
        return; /* gone before we looked */
    unsigned long id = ++p->next_id;
    if (p->running < p->o->max_sessions && p->qlen == 0) {
        if (spawn(p, KID_SESSION, fd, id, peer, NULL) < 0)
            fprintf(stderr, "parley serve: session %lu (%s): %s\n", id, peer, pool_err);
        return;
    }
    if (p->qlen < p->o->queue) {
        waiting *w = &p->q[(p->qhead + p->qlen++) % p->o->queue];
        w->fd = fd;
        w->id = id;
        snprintf(w->peer, sizeof w->peer, "%s", peer);
        return;
    }
    char line[160];
    busy_line(p, line, sizeof line);
    refuse(p, fd, id, peer, line);
}

static waiting dequeue(pool *p) {
    waiting w = p->q[p->qhead];
    p->qhead = (p->qhead + 1) % p->o->queue;
    p->qlen--;
    return w;
}

int serve_pool(parley_server *srv, const serve_pool_opts *o) {
    if (o->max_sessions < 1) {
        fprintf(stderr, "parley serve: --max-sessions must be at least 1\n");
        return -1;
    }
    if (SERVE_ASAN && o->session_memory && !o->quiet)
        fprintf(stderr, "parley serve: an AddressSanitizer build: the per-session memory "
                        "limit is not applied\n");
    pool p = {.srv = srv, .o = o};
    p.nrefusers = o->max_sessions > REFUSERS_MIN ? o->max_sessions : REFUSERS_MIN;
    p.nkids = o->max_sessions + p.nrefusers;
    p.kids = calloc(p.nkids, sizeof *p.kids);
    p.q = calloc(o->queue ? o->queue : 1, sizeof *p.q);
    if (!p.kids || !p.q || pipe2(wake, O_CLOEXEC | O_NONBLOCK) < 0) {
        free(p.kids);
        free(p.q);
        fprintf(stderr, "parley serve: cannot set up the server: %s\n", strerror(errno));
        return -1;
    }
    stop_signals = 0;
    set_handler(SIGCHLD, on_signal);
    set_handler(SIGTERM, on_signal);
    set_handler(SIGINT, on_signal);
    int stopping = 0, killed_all = 0, rc = 0;
    for (;;) {
        reap(&p);
        if (stop_signals && !stopping) {
            stopping = 1;
            fprintf(stderr, "parley serve: stopping: no new sessions; %u running will finish, "
                            "%u waiting are refused\n",
                    p.running, p.qlen);
            while (p.qlen) {
                waiting w = dequeue(&p);
                refuse(&p, w.fd, w.id, w.peer, "the server is stopping; try again later");
            }
        }
        if (stop_signals >= 2 && !killed_all) {
            killed_all = 1;
            fprintf(stderr, "parley serve: stopped by a second signal: running sessions ended\n");
            rc = -1;
            for (unsigned i = 0; i < p.nkids; i++)
                if (p.kids[i].pid) {
                    p.kids[i].killed = 1;
                    kill(p.kids[i].pid, SIGKILL);
                }
        }
        while (!stopping && p.qlen && p.running < o->max_sessions) {
            waiting w = dequeue(&p);
            if (spawn(&p, KID_SESSION, w.fd, w.id, w.peer, NULL) < 0)
                fprintf(stderr, "parley serve: session %lu (%s): %s\n", w.id, w.peer, pool_err);
        }
        if (stopping && p.running == 0 && p.refusing == 0) break;
        double now = cli_now(), next = now + 1.0;
        for (unsigned i = 0; i < p.nkids; i++) {
            kid *k = &p.kids[i];
            if (!k->pid || k->killed) continue;
            if (now >= k->deadline) {
                k->killed = 1;
                kill(k->pid, SIGKILL);
            } else if (k->deadline < next)
                next = k->deadline;
        }
        struct pollfd pf[2] = {{.fd = wake[0], .events = POLLIN},
                               {.fd = stopping ? -1 : parley_server_fd(srv), .events = POLLIN}};
        int ms = (int)((next - now) * 1e3) + 1;
        int n = poll(pf, 2, ms);
        if (n < 0 && errno != EINTR) {
            fprintf(stderr, "parley serve: poll: %s\n", strerror(errno));
            rc = -1;
            break;
        }
        if (n > 0 && (pf[0].revents & POLLIN)) {
            char b[64];
            while (read(wake[0], b, sizeof b) > 0) {
            }
        }
        if (n > 0 && (pf[1].revents & POLLIN)) on_accept(&p);
    }
    for (unsigned i = 0; i < p.nkids; i++) /* only after a poll failure */
        if (p.kids[i].pid) {
            kill(p.kids[i].pid, SIGKILL);
            waitpid(p.kids[i].pid, NULL, 0);
            close(p.kids[i].pipe);
        }
    while (p.qlen)
        close(dequeue(&p).fd);
    set_handler(SIGCHLD, SIG_DFL);
    set_handler(SIGTERM, SIG_DFL);
    set_handler(SIGINT, SIG_DFL);
    close(wake[0]);
    close(wake[1]);
    wake[0] = wake[1] = -1;
    free(p.kids);
    free(p.q);
    if (rc == 0) fprintf(stderr, "parley serve: stopped after %lu connections\n", p.next_id);
    return rc;
}
