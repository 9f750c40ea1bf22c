/* Party set-up and the lane splitter; see party.h. */
#include "mpc/party.h"

#include "util/mem.h"

#include <pthread.h>
#include <stdio.h>
#include <string.h>

typedef struct lane_task {
    mpc_lane *L;
    party_job fn;
    void *ctx;
    size_t first, count;
    chan *ch;   /* set-up only */
    block seed; /* set-up only */
    const ot_lane_opts *opts;
    int rc;
    char msg[256]; /* a failed lane's message (messages are per thread) */
} lane_task;

/* Abort ch so that the peer's lane sees the end at once, keeping this
 * thread's message: the reason for the abort, not the abort's own "the
 * channel was aborted". Returns rc. */
static int abort_keeping_reason(chan *ch, int rc) {
    char why[512];
    snprintf(why, sizeof why, "%s", err_msg());
    chan_abort(ch);
    return err_set(rc, "%s", why);
}

static void task_fail(lane_task *t, chan *ch) {
    abort_keeping_reason(ch, t->rc);
    snprintf(t->msg, sizeof t->msg, "%s", err_msg());
}

int mpc_swap(mpc_lane *L, const void *mine, size_t nm, void *theirs, size_t nt) {
    TRY(chan_send(L->ot.ch, mine, nm));
    TRY(chan_flush(L->ot.ch));
    return chan_recv(L->ot.ch, theirs, nt);
}

int party_fail(party *p, int rc) {
    for (unsigned i = 0; i < p->nlanes; i++)
        abort_keeping_reason(p->lanes[i].ot.ch, rc);
    return rc;
}

static void *setup_main(void *v) {
    lane_task *t = v;
    t->rc = ot_lane_setup_ex(&t->L->ot, t->ch, t->seed, t->opts);
    if (t->rc < 0) task_fail(t, t->ch);
    return NULL;
}

static void *job_main(void *v) {
    lane_task *t = v;
    t->rc = t->fn(t->L, t->ctx, t->first, t->count);
    if (t->rc < 0) task_fail(t, t->L->ot.ch);
    return NULL;
}

/* Run tasks[0..n-1]: task 0 here, the rest on threads; first failure wins. */
static int run_tasks(lane_task *tasks, unsigned n, void *(*main_fn)(void *)) {
    pthread_t th[LANES_MAX];
    int started[LANES_MAX] = {0};
    for (unsigned i = 1; i < n; i++)
        started[i] = pthread_create(&th[i], NULL, main_fn, &tasks[i]) == 0;
    int rc = 0;
    for (unsigned i = 1; i < n; i++)
        if (!started[i]) { /* no thread: run it here, in order */
            main_fn(&tasks[i]);
            started[i] = -1;
        }
    if (n > 0) main_fn(&tasks[0]);
    for (unsigned i = 1; i < n; i++)
        if (started[i] == 1) pthread_join(th[i], NULL);
    for (unsigned i = 0; i < n; i++)
        if (tasks[i].rc < 0 && rc == 0) {
            rc = tasks[i].rc;
            err_set(rc, "%s", tasks[i].msg);
        }
    return rc;
}

int party_setup(party *p, int role, chan **chans, unsigned nlanes, block seed) {
    return party_setup_ex(p, role, chans, nlanes, seed, NULL);
}

int party_setup_ex(party *p, int role, chan **chans, unsigned nlanes, block seed,
                   const ot_lane_opts *o) {
    ot_lane_opts def = {.backend = OT_BACKEND_DEFAULT};
    if (!o) o = &def;
    PARLEY_CHECK(nlanes >= 1 && nlanes <= LANES_MAX);
    PARLEY_CHECK(role == MPC_SERVER || role == MPC_CLIENT);
    memset(p, 0, sizeof *p);
    p->role = role;
    p->lanes = mem_calloc(nlanes, sizeof *p->lanes);
    lane_task *tasks = mem_calloc(nlanes, sizeof *tasks);
    if (!p->lanes || !tasks) {
        mem_free(p->lanes);
        mem_free(tasks);
        p->lanes = NULL;
        return PARLEY_E_NOMEM;
    }
    p->nlanes = nlanes;
    prg g;
    prg_seed(&g, seed);
    for (unsigned i = 0; i < nlanes; i++) {
        p->lanes[i].role = role;
        p->lanes[i].index = i;
        tasks[i].L = &p->lanes[i];
        tasks[i].ch = chans[i];
        tasks[i].seed = prg_block(&g);
        tasks[i].opts = o;
    }
    prg_clear(&g);
    int rc = run_tasks(tasks, nlanes, setup_main);
    mem_free_wipe(tasks, nlanes * sizeof *tasks);
    if (rc < 0) party_clear(p);
    return rc;
}

void party_clear(party *p) {
    if (p->lanes) {
        for (unsigned i = 0; i < p->nlanes; i++)
            ot_lane_clear(&p->lanes[i].ot);
        mem_free_wipe(p->lanes, p->nlanes * sizeof *p->lanes);
    }
    memset(p, 0, sizeof *p);
}

void party_split(size_t *count, size_t n, size_t grain, unsigned nlanes) {
    if (grain == 0) grain = 1;
    /* Equal shares of whole grains; the last lane with work takes the
     * remainder. */
    size_t units = (n + grain - 1) / grain, per = units / nlanes, extra = units % nlanes;
    size_t first = 0;
    for (unsigned i = 0; i < nlanes; i++) {
        size_t c = (per + (i < extra ? 1 : 0)) * grain;
        if (c > n - first) c = n - first;
        count[i] = c;
        first += c;
    }
}

/* The chain counter at a fork or join (net/frame.h): work after it may
 * depend on anything any lane received before it, so every lane goes on
 * from the deepest flight any of them consumed. */
static void depth_sync(party *p) {
    uint64_t d = 0;
    for (unsigned i = 0; i < p->nlanes; i++) {
        uint64_t k = chan_depth(p->lanes[i].ot.ch);
        if (k > d) d = k;
    }
    for (unsigned i = 0; i < p->nlanes; i++)
        chan_depth_raise(p->lanes[i].ot.ch, d);
}

int party_run(party *p, size_t n, size_t grain, party_job fn, void *ctx) {
    PARLEY_CHECK(p->nlanes >= 1 && p->nlanes <= LANES_MAX);
    if (n == 0) return 0;
    depth_sync(p);
    lane_task tasks[LANES_MAX];
    size_t count[LANES_MAX];
    party_split(count, n, grain, p->nlanes);
    unsigned used = 0;
    size_t first = 0;
    for (unsigned i = 0; i < p->nlanes; i++) {
        if (count[i] == 0) continue;
        tasks[used] =
            (lane_task){.L = &p->lanes[i], .fn = fn, .ctx = ctx, .first = first, .count = count[i]};
        first += count[i];
        used++;
    }
    int rc = run_tasks(tasks, used, job_main);
    depth_sync(p);
    return rc;
}

void party_stats(const party *p, chan_stats *out) {
    memset(out, 0, sizeof *out);
    for (unsigned i = 0; i < p->nlanes; i++) {
        const chan_stats *s = chan_get_stats(p->lanes[i].ot.ch);
        out->bytes_sent += s->bytes_sent;
        out->bytes_recv += s->bytes_recv;
        if (s->flights > out->flights) out->flights = s->flights;
        if (s->depth > out->depth) out->depth = s->depth;
    }
}

void party_set_budgets(party *p, const ot_budgets *b) {
    for (unsigned i = 0; i < p->nlanes; i++) {
        ot_lane *ln = &p->lanes[i].ot;
        int r = p->lanes[i].role;
        if (ln->be->budget) ln->be->budget(ln, b->takes[i][r], b->takes[i][1 - r]);
    }
}

void party_silent_stats(const party *p, silent_stats *out) {
    memset(out, 0, sizeof *out);
    for (unsigned i = 0; i < p->nlanes; i++) {
        const ot_lane *ln = &p->lanes[i].ot;
        silent_stats s;
        ln->be->stats(ln, &s);
        out->batches_sent += s.batches_sent;
        out->batches_recv += s.batches_recv;
        out->gen_bytes += s.gen_bytes;
        out->gen_bytes_recv += s.gen_bytes_recv;
        out->cots += s.cots;
        out->corrs += s.corrs;
        if (s.extra_flights > out->extra_flights) out->extra_flights = s.extra_flights;
    }
}
