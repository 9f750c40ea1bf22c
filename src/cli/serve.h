/* `parley serve` for many clients: a forking server (README, "Serving many
 * clients").
 *
 * The parent process only accepts (parley_server_accept), counts and reaps:
 * every accepted connection runs its whole session
 * (parley_server_serve_connection: one connection is one session) in a
 * child process of its own, so a crash, a leak or a bad peer
 * in one session never touches another, and the parent's memory does not
 * grow with the sessions it has served. Up to max_sessions children run at
 * once; up to `queue` more connections wait, accepted, for a free slot;
 * beyond that a client gets a REJECT "server busy" on its control stream,
 * which `parley infer` prints as one line (the refusal runs in a short-lived
 * child too, at most max(8, max_sessions) of them at a time; past that the
 * connection is closed and logged as dropped).
 *
 * Limits per session: wall time (the parent kills the child when it is
 * over), an idle peer (the server's idle and handshake timeouts,
 * parley_server_opts), memory (RLIMIT_AS in the child). SIGTERM or SIGINT: stop
 * accepting, refuse what is queued, let the running sessions finish, exit
 * 0; a second signal ends the running sessions at once (exit 1). One log
 * line per session on stderr, written by the parent when it reaps the
 * child, whatever happened to it. */
#ifndef PARLEY_CLI_SERVE_H
#define PARLEY_CLI_SERVE_H

#include "cli.h"

#include <stdint.h>

typedef struct serve_pool_opts {
    unsigned max_sessions;   /* K >= 1 */
    unsigned queue;          /* Q: accepted connections waiting beyond K */
    double session_timeout;  /* seconds of wall time per session */
    uint64_t session_memory; /* bytes of address space per session (0: no limit) */
    int log_json;            /* one JSON object per line instead of text */
    int quiet;               /* no lines for sessions that succeed */
    int mode;                /* the model's (for the lines of sessions that never ran) */
} serve_pool_opts;

/* What one session's process needs (its address space, beside the HE
 * weight cache that all sessions share): a copy of the serving process as
 * it is (own: the model, without the cache), its lanes' OT pools
 * (parley_model_info.ot_memory) and working memory for the layers' shares
 * and the protocols' arrays: SERVE_SESSION_WORK, and SERVE_LANE_WORK for
 * each lane (its thread's stack and allocator arena). The defaults give a
 * session at least SERVE_MIN_SESSION_MEMORY too. The allowance is
 * measured: on the three ImageNet networks, 1 to 4 lanes, a session's
 * process grew by its pools plus 226-522 MiB (docs/BENCHMARKS.md, "What a
 * session's process needs"). */
#define SERVE_MIN_SESSION_MEMORY ((uint64_t)1 << 30)
#define SERVE_SESSION_WORK ((uint64_t)384 << 20)
#define SERVE_LANE_WORK ((uint64_t)64 << 20)
uint64_t serve_session_need(uint64_t own, uint64_t ot_pools, unsigned lanes);
/* The address space this process maps now (/proc/self/status VmSize; 0
 * if unknown, and in an AddressSanitizer build): what a session's process
 * starts with. */
uint64_t serve_own_memory(void);

/* The memory available to new processes (/proc/meminfo MemAvailable, or
 * the physical memory). */
uint64_t serve_memory_available(void);

/* Defaults from this machine: K = the cores online, lowered so that every
 * session can have what it needs (need: serve_session_need; 0 before a
 * model is loaded, SERVE_MIN_SESSION_MEMORY); each session's address space
 * is the available memory divided among the K sessions, and at least the
 * need. */
unsigned serve_default_sessions(uint64_t need);
uint64_t serve_default_session_memory(unsigned max_sessions, uint64_t need);

/* Serve on srv's listener until SIGTERM or SIGINT. 0 after a graceful
 * stop, negative (the message on stderr) on a failure of the server
 * itself. */
int serve_pool(parley_server *srv, const serve_pool_opts *o);

/* The log line of one session: what the parent knows of it. */
typedef struct serve_report {
    unsigned long id;
    char peer[64];
    unsigned mode, batch;
    double seconds;
    uint64_t bytes_sent, bytes_recv; /* this server's, over the session's connection */
    char transport[96];
    char outcome[16]; /* done, failed, busy, stopping, timeout, crashed, dropped */
    char msg[320];    /* why, for anything but done */
} serve_report;

/* The line of a session that ran (rc its status; a failure's message is
 * parley_last_error()). */
void serve_report_of(serve_report *r, unsigned long id, const parley_report *rep, int rc,
                     double seconds);
void serve_log(FILE *f, const serve_report *r, int json);

#endif
