/* The flight model; see flights.h.
 *
 * An otb_run (or a cotv call) is replayed as two action lists, one per
 * party, made by walking that party's schedule loop as the code walks it:
 * SEND of a message, or RECV of one of the peer's. The two lists then run
 * against each other: a SEND stamps the message with the sender's clock,
 * a RECV waits for the message and moves the clock to its stamp plus one.
 * Messages are named by their owner, a kind and an index:
 *   M  a chunk's first half from the party that receives the OTs (IKNP:
 *      the extension matrix; silent: the choice corrections; cotv: the
 *      extension), indexed by the owner's R list (= the peer's S list);
 *   C  a chunk's answer from the OT sender (the corrections), indexed by
 *      the owner's S list;
 *   T  a silent refill's trees, from the COT sender of that direction,
 *      indexed by its refills in this run;
 *   T4 the same for a 4-bit VOLE pool's refill. */
#include "mpc/flights.h"

#include "mpc/otb.h"
#include "net/frame.h"
#include "ot/ot.h"
#include "ot/silent.h"
#include "util/mem.h"

#include <string.h>

enum { K_M, K_C, K_T, K_T4, K_N };
enum { A_SEND, A_RECV };

typedef struct act {
    uint8_t type, owner, kind;
    size_t idx;
} act;

typedef struct alist {
    act *a;
    size_t n, cap;
} alist;

typedef struct fchunk {
    uint64_t cots; /* silent: COTs (or correlations) the chunk takes */
    int wire;      /* whether the chunk sends anything (RROT does not) */
    int pool;      /* silent: 0 the COTs, 1 the 4-bit VOLE correlations */
} fchunk;

typedef struct fjob {
    int sender, wire, pool;
    size_t n;
    unsigned cpo; /* silent: COTs (correlations) per OT */
} fjob;

typedef struct flane {
    uint64_t clk[2];
    uint64_t avail[2];  /* silent: COTs at hand, by the direction's COT sender */
    uint64_t avail4[2]; /* the same for 4-bit VOLE correlations */
    /* by the direction's COT sender, then [0] COTs, [1] correlations: */
    int64_t rem[2][2];   /* budgeted: what the consumers will still take beyond the stock */
    uint64_t took[2][2]; /* what they took (the budgets' walk) */
    int used;           /* touched since the fork */
} flane;

struct fsim {
    int backend, err;
    unsigned lanes;
    uint64_t usable, batch; /* silent: COTs and bytes of a batch */
    uint64_t room;          /* silent: a pool's room (cot_pool_room) */
    uint64_t batches;       /* silent: batches made (trees sent) so far */
    int v4;                 /* 4-bit VOLE pools for the (4 < N <= 16 choose 1)-OTs */
    uint64_t usable4, batch4, room4, cots4; /* their batch: correlations, bytes, room, tree COTs */
    uint64_t batches4;
    int budgeted;           /* fsim_set_budgets: no batch ahead of need beyond them */
    uint64_t clk[2];        /* the parties outside party_run */
    uint64_t sent[2];       /* bytes, by sender */
    int forked;
    unsigned cur;
    flane lane[LANES_MAX];
    fjob *jobs;
    size_t nj, cj;
};

int fsim_new(fsim **out, int backend, unsigned lanes, const ferret_params *fp) {
    return fsim_new4(out, backend, lanes, fp, NULL);
}

int fsim_new4(fsim **out, int backend, unsigned lanes, const ferret_params *fp,
              const vole4_params *vp) {
    *out = NULL;
    if (lanes < 1 || lanes > LANES_MAX)
        return err_set(PARLEY_E_ARG, "flight model: %u lanes, not in 1..%d", lanes, LANES_MAX);
    fsim *s = mem_calloc(1, sizeof *s);
    if (!s) return err_set(PARLEY_E_NOMEM, "out of memory for the flight model");
    s->backend = backend;
    s->lanes = lanes;
    s->usable = ferret_usable(fp ? fp : &FERRET_DEFAULT);
    s->batch = ferret_batch_bytes(fp ? fp : &FERRET_DEFAULT);
    s->room = cot_pool_room(ferret_n(fp ? fp : &FERRET_DEFAULT));
    if (vp && backend == OT_BACKEND_SILENT) {
        s->v4 = 1;
        s->usable4 = vole4_usable(vp);
        s->batch4 = vole4_batch_bytes(vp);
        s->room4 = cot_pool_room(vole4_n(vp));
        s->cots4 = vole4_cots(vp);
        /* each way, the first base took 4 m COTs from fresh batches
         * (silent_rcot_*: what is left is used up before a refill) */
        uint64_t need = 4 * (uint64_t)vole4_m(vp), made = (need + s->usable - 1) / s->usable;
        for (unsigned i = 0; i < LANES_MAX; i++)
            s->lane[i].avail[0] = s->lane[i].avail[1] = made * s->usable - need;
    }
    *out = s;
    return 0;
}

void fsim_set_budgets(fsim *s, const ot_budgets *b) {
    s->budgeted = 1;
    for (unsigned i = 0; i < s->lanes; i++)
        for (int d = 0; d < 2; d++) {
            flane *L = &s->lane[i];
            L->rem[d][0] = (int64_t)b->takes[i][d][0] - (int64_t)L->avail[d];
            L->rem[d][1] = (int64_t)b->takes[i][d][1] - (int64_t)L->avail4[d];
        }
}

void fsim_budgets(const fsim *s, ot_budgets *out) {
    memset(out, 0, sizeof *out);
    for (unsigned i = 0; i < s->lanes; i++)
        memcpy(out->takes[i], s->lane[i].took, sizeof out->takes[i]);
}

uint64_t fsim_gen_bytes(const fsim *s) {
    return s->batches * s->batch + s->batches4 * s->batch4;
}

void fsim_free(fsim *s) {
    if (!s) return;
    mem_free(s->jobs);
    mem_free(s);
}

int fsim_status(const fsim *s) {
    return s->err;
}

static uint64_t max64(uint64_t a, uint64_t b) {
    return a > b ? a : b;
}

uint64_t fsim_batches(const fsim *s) {
    return s->batches;
}

uint64_t fsim_flights(const fsim *s) {
    return max64(s->clk[0], s->clk[1]);
}

/* The clocks and stock the next step runs on. */
static flane *cur_lane(fsim *s) {
    return &s->lane[s->forked ? s->cur : 0];
}
static uint64_t *cur_clk(fsim *s) {
    return s->forked ? s->lane[s->cur].clk : s->clk;
}

void fsim_sent(const fsim *s, uint64_t out[2]) {
    out[0] = s->sent[0];
    out[1] = s->sent[1];
}

void fsim_msg(fsim *s, int sender, uint64_t bytes) {
    uint64_t *c = cur_clk(s);
    c[1 - sender] = max64(c[1 - sender], c[sender] + 1);
    s->sent[sender] += bytes;
}

void fsim_round(fsim *s, uint64_t bytes) { fsim_round2(s, bytes, bytes); }

void fsim_round2(fsim *s, uint64_t server_bytes, uint64_t client_bytes) {
    s->sent[MPC_SERVER] += server_bytes;
    s->sent[MPC_CLIENT] += client_bytes;
    uint64_t *c = cur_clk(s);
    uint64_t a = c[0], b = c[1];
    c[0] = max64(a, b + 1);
    c[1] = max64(b, a + 1);
}

void fsim_fork(fsim *s) {
    s->forked = 1;
    for (unsigned i = 0; i < s->lanes; i++)
        s->lane[i].used = 0;
}

void fsim_lane(fsim *s, unsigned i) {
    if (i >= s->lanes) i = s->lanes - 1;
    s->cur = i;
    flane *L = &s->lane[i];
    L->clk[0] = s->clk[0];
    L->clk[1] = s->clk[1];
    L->used = 1;
}

void fsim_join(fsim *s) {
    for (unsigned i = 0; i < s->lanes; i++)
        if (s->lane[i].used)
            for (int p = 0; p < 2; p++)
                s->clk[p] = max64(s->clk[p], s->lane[i].clk[p]);
    s->forked = 0;
}

void fsim_job(fsim *s, const otb_job *j) {
    if (j->n == 0) return; /* skipped on both sides */
    if (s->nj == s->cj) {
        size_t nc = s->cj ? 2 * s->cj : 16;
        fjob *n = mem_alloc(nc, sizeof *n);
        if (!n) {
            s->err = PARLEY_E_NOMEM;
            return;
        }
        if (s->nj) memcpy(n, s->jobs, s->nj * sizeof *n);
        mem_free(s->jobs);
        s->jobs = n;
        s->cj = nc;
    }
    uint64_t rx, tx;
    int v4 = s->v4 && otb_job_on_vole4(j);
    otb_job_bytes_split(s->backend, j, &rx, &tx);
    if (v4) rx = otb_vole4_choice_bytes(j);
    s->sent[1 - j->sender] += rx;
    s->sent[j->sender] += tx;
    fjob *f = &s->jobs[s->nj++];
    f->sender = j->sender;
    f->n = j->n;
    f->wire = j->kind != OTB_RROT;
    f->pool = v4;
    f->cpo = v4 ? 1 : (unsigned)(otb_job_cots(OT_BACKEND_SILENT, j) / j->n);
}

/* ---- action lists ---- */

static void push(fsim *s, alist *L, int type, int owner, int kind, size_t idx) {
    if (L->n == L->cap) {
        size_t nc = L->cap ? 2 * L->cap : 64;
        act *n = mem_alloc(nc, sizeof *n);
        if (!n) {
            s->err = PARLEY_E_NOMEM;
            return;
        }
        if (L->n) memcpy(n, L->a, L->n * sizeof *n);
        mem_free(L->a);
        L->a = n;
        L->cap = nc;
    }
    L->a[L->n++] = (act){(uint8_t)type, (uint8_t)owner, (uint8_t)kind, idx};
}

/* What the last send of a segment carries: trees, in order. */
typedef struct fhook {
    int n;
    uint8_t kind[8];
    size_t idx[8];
} fhook;

static void hook_push(fsim *s, alist *L, int me, const fhook *h) {
    for (int k = 0; k < h->n; k++) push(s, L, A_SEND, me, h->kind[k], h->idx[k]);
}

/* One party's walk of ot_steps_run_ahead (src/ot/sched.c) over R[r0, r0 +
 * nr) and S[s0, s0 + ns); h non-empty: the last send carries its trees. */
static void walk_steps(fsim *s, alist *L, int me, const fchunk *R, size_t r0, size_t nr,
                       const fchunk *S, size_t s0, size_t ns, const fhook *h, size_t ahead) {
    int peer = 1 - me;
    size_t ib = 0, ie = 0;
    int f1 = nr == 0, hooked = h == NULL || h->n == 0;
    for (size_t i = 0; ie < nr || i < ns; i++) {
        while (ib < nr && ib <= i + ahead) {
            if (R[r0 + ib].wire) push(s, L, A_SEND, me, K_M, r0 + ib);
            ib++;
        }
        if (ib == nr && !f1) {
            if (!hooked && i >= ns) {
                hook_push(s, L, me, h);
                hooked = 1;
            }
            f1 = 1;
        }
        if (i < ns) {
            if (S[s0 + i].wire) {
                push(s, L, A_RECV, peer, K_M, s0 + i);
                push(s, L, A_SEND, me, K_C, s0 + i);
            }
            if (i + 1 == ns && !hooked && ib == nr) {
                hook_push(s, L, me, h);
                hooked = 1;
            }
        }
        while (ie < nr && ie < ib && (ie + ahead <= i || (i + 1 >= ns && ib == nr))) {
            if (R[r0 + ie].wire) push(s, L, A_RECV, peer, K_C, r0 + ie);
            ie++;
        }
    }
}

/* One party's walk of silent_steps_run4 (src/ot/silent.c): segments that
 * fit the stocks at hand, each after the refills it needs. av_s / av_r:
 * this party's stocks as sender / receiver, [0] COTs and [1] 4-bit VOLE
 * correlations, updated. */
typedef struct fwalk {
    fsim *s;
    alist *L;
    int me;
    uint64_t *av_s, *av_r;
    int64_t *rm_s, *rm_r;  /* the same for what is still wanted beyond the stocks */
    uint64_t *tk_s, *tk_r; /* what the consumers take (NULL: not counted) */
    size_t ts, tr, ts4, tr4; /* trees sent / received so far, by kind */
    int pend[2];             /* trees sent, the batch not yet added */
} fwalk;

static void hook_add(fhook *h, int kind, size_t idx) {
    if (h->n < 8) {
        h->kind[h->n] = (uint8_t)kind;
        h->idx[h->n++] = idx;
    }
}

/* A batch of kind k made in our sending (snd) or receiving direction. */
static void fw_made(fwalk *w, int snd, int k) {
    uint64_t u = k ? w->s->usable4 : w->s->usable;
    (snd ? w->av_s : w->av_r)[k] += u;
    (snd ? w->rm_s : w->rm_r)[k] -= (int64_t)u;
}

/* A 4-bit VOLE batch's tree COTs from the COT stock of its direction, as
 * silent_rcot_* takes them: what is left first, a COT batch whenever the
 * stock is empty (our trees, pushed now or carried by h, or the peer's). */
static void fw_take_trees(fwalk *w, int we_send, fhook *h) {
    fsim *s = w->s;
    uint64_t *av = we_send ? &w->av_s[0] : &w->av_r[0];
    uint64_t *tk = we_send ? w->tk_s : w->tk_r;
    if (tk) tk[0] += s->cots4;
    for (uint64_t need = s->cots4; need > 0;) {
        if (*av == 0) {
            if (!we_send)
                push(s, w->L, A_RECV, 1 - w->me, K_T, w->tr++);
            else if (h)
                hook_add(h, K_T, w->ts++);
            else
                push(s, w->L, A_SEND, w->me, K_T, w->ts++);
            fw_made(w, we_send, 0);
        }
        uint64_t t = *av < need ? *av : need;
        *av -= t;
        need -= t;
    }
}

/* A refill's trees from us: pushed now (h NULL) or carried by the next
 * hook. A 4-bit VOLE batch first finishes a pending COT batch, then takes
 * its tree COTs (fw_take_trees), whose batch's trees go ahead of its own. */
static void fw_send(fwalk *w, int k, fhook *h) {
    fsim *s = w->s;
    if (k == 1) {
        if (w->pend[0]) {
            fw_made(w, 1, 0);
            w->pend[0] = 0;
        }
        fw_take_trees(w, 1, h);
    }
    if (h)
        hook_add(h, k ? K_T4 : K_T, k ? w->ts4++ : w->ts++);
    else
        push(s, w->L, A_SEND, w->me, k ? K_T4 : K_T, k ? w->ts4++ : w->ts++);
    w->pend[k] = 1;
}

static void fw_finish(fwalk *w, int k) {
    if (!w->pend[k]) return;
    fw_made(w, 1, k);
    w->pend[k] = 0;
}

/* The peer's trees for our receiving direction's next batch of kind k. */
static void fw_recv(fwalk *w, int k) {
    fsim *s = w->s;
    int peer = 1 - w->me;
    if (k == 1) fw_take_trees(w, 0, NULL);
    push(s, w->L, A_RECV, peer, k ? K_T4 : K_T, k ? w->tr4++ : w->tr++);
    fw_made(w, 0, k);
}

/* The chunks from j on that fit the stocks a[] (updated); tk (if not
 * NULL) counts what they take. */
static size_t fw_fit(const fchunk *C, size_t j, size_t n, uint64_t a[2], uint64_t *tk) {
    while (j < n && C[j].cots <= a[C[j].pool]) {
        a[C[j].pool] -= C[j].cots;
        if (tk) tk[C[j].pool] += C[j].cots;
        j++;
    }
    return j;
}

static void walk_silent(fsim *s, alist *L, int me, const fchunk *R, size_t nr, const fchunk *S,
                        size_t ns, uint64_t av_s[2], uint64_t av_r[2], int64_t rm_s[2],
                        int64_t rm_r[2], uint64_t *tk_s, uint64_t *tk_r) {
    fwalk w = {s, L, me, av_s, av_r, rm_s, rm_r, tk_s, tk_r, 0, 0, 0, 0, {0, 0}};
    size_t is = 0, ir = 0;
    int used_s[2] = {0, 0}, used_r[2] = {0, 0};
    while ((is < ns || ir < nr) && !s->err) {
        int ks = is < ns ? S[is].pool : 0, kr = ir < nr ? R[ir].pool : 0;
        int ref_s = is < ns && S[is].cots > av_s[ks];
        int ref_r = ir < nr && R[ir].cots > av_r[kr];
        if (ref_s && !w.pend[ks]) fw_send(&w, ks, NULL);
        if (ref_r) fw_recv(&w, kr);
        if (ref_s) fw_finish(&w, ks);
        for (int k = 0; k < 2; k++) fw_finish(&w, k);
        size_t js = fw_fit(S, is, ns, av_s, tk_s), jr = fw_fit(R, ir, nr, av_r, tk_r);
        if (js == is && jr == ir) { /* cannot happen: a refill makes room for a chunk */
            s->err = PARLEY_E_ARG;
            return;
        }
        for (size_t j = is; j < js; j++) used_s[S[j].pool] = 1;
        for (size_t j = ir; j < jr; j++) used_r[R[j].pool] = 1;
        int want[2] = {0, 0};
        if (js < ns && js > is) want[S[js].pool] = 1;
        /* the last segment makes a short pool's next batch ahead (the
         * correlations' only after the exchange drew on them) */
        int last = js == ns && jr == nr, ahead_s[2] = {0, 0}, ahead_r[2] = {0, 0};
        for (int k = 0; k < 1 + s->v4; k++) {
            uint64_t room = k ? s->room4 : s->room;
            ahead_s[k] = last && js > is && av_s[k] < room && (k == 0 || used_s[1]) &&
                         (!s->budgeted || rm_s[k] > 0);
            ahead_r[k] = last && jr > ir && av_r[k] < room && (k == 0 || used_r[1]) &&
                         (!s->budgeted || rm_r[k] > 0);
            if (ahead_s[k]) want[k] = 1;
        }
        fhook h = {0};
        for (int k = 0; k < 2; k++)
            if (want[k]) fw_send(&w, k, &h);
        walk_steps(s, L, me, R, ir, jr - ir, S, is, js - is, &h, OT_AHEAD_SILENT);
        for (int k = 0; k < 2; k++)
            if (ahead_s[k]) fw_finish(&w, k);
        for (int k = 0; k < 2; k++)
            if (ahead_r[k]) fw_recv(&w, k);
        is = js;
        ir = jr;
    }
}

/* Run both parties' lists against each other on clocks clk[2]. cnt[p][k]:
 * how many messages of kind k party p owns. */
static void replay(fsim *s, alist *L, uint64_t *clk, size_t cnt[2][K_N]) {
    uint64_t *ts[2][K_N];
    memset(ts, 0, sizeof ts);
    int ok = !s->err;
    for (int p = 0; p < 2 && ok; p++)
        for (int k = 0; k < K_N && ok; k++) {
            ts[p][k] = mem_alloc(cnt[p][k] + 1, sizeof(uint64_t));
            if (!ts[p][k])
                ok = 0;
            else
                for (size_t i = 0; i <= cnt[p][k]; i++)
                    ts[p][k][i] = UINT64_MAX; /* not sent */
        }
    size_t pos[2] = {0, 0};
    while (ok && (pos[0] < L[0].n || pos[1] < L[1].n)) {
        int moved = 0;
        for (int p = 0; p < 2; p++)
            while (pos[p] < L[p].n) {
                const act *a = &L[p].a[pos[p]];
                if (a->idx >= cnt[a->owner][a->kind]) { /* a walk out of step: a bug */
                    ok = 0;
                    break;
                }
                uint64_t *t = &ts[a->owner][a->kind][a->idx];
                if (a->type == A_SEND) {
                    *t = clk[p];
                    if (a->kind == K_T) { /* a refill's trees */
                        s->sent[p] += s->batch;
                        s->batches++;
                    } else if (a->kind == K_T4) {
                        s->sent[p] += s->batch4;
                        s->batches4++;
                    }
                } else {
                    if (*t == UINT64_MAX) break; /* wait for the peer */
                    clk[p] = max64(clk[p], *t + 1);
                }
                pos[p]++;
                moved = 1;
            }
        if (!moved && ok) ok = 0; /* deadlock: the walks disagree */
    }
    if (!ok && !s->err) s->err = PARLEY_E_ARG;
    for (int p = 0; p < 2; p++)
        for (int k = 0; k < K_N; k++)
            mem_free(ts[p][k]);
}

/* The chunks of the pending jobs in which `me` sends (snd = 1) or
 * receives. */
static fchunk *chunks_of(fsim *s, int me, int snd, size_t *n) {
    size_t total = 0;
    for (size_t i = 0; i < s->nj; i++)
        if ((s->jobs[i].sender == me) == snd) total += (s->jobs[i].n + OTE_CHUNK - 1) / OTE_CHUNK;
    *n = total;
    fchunk *c = mem_alloc(total ? total : 1, sizeof *c);
    if (!c) {
        s->err = PARLEY_E_NOMEM;
        return NULL;
    }
    size_t k = 0;
    for (size_t i = 0; i < s->nj; i++) {
        const fjob *j = &s->jobs[i];
        if ((j->sender == me) != snd) continue;
        for (size_t i0 = 0; i0 < j->n; i0 += OTE_CHUNK) {
            size_t len = j->n - i0 < OTE_CHUNK ? j->n - i0 : OTE_CHUNK;
            c[k++] = (fchunk){(uint64_t)j->cpo * len, j->wire, j->pool};
        }
    }
    return c;
}

void fsim_otb_run(fsim *s) {
    if (s->nj == 0 || s->err) {
        s->nj = 0;
        return;
    }
    flane *ln = cur_lane(s);
    fchunk *R[2] = {NULL, NULL}, *S[2] = {NULL, NULL};
    size_t nr[2] = {0, 0}, ns[2] = {0, 0};
    for (int p = 0; p < 2; p++) {
        R[p] = chunks_of(s, p, 0, &nr[p]);
        S[p] = chunks_of(s, p, 1, &ns[p]);
    }
    alist L[2];
    memset(L, 0, sizeof L);
    uint64_t av[2] = {ln->avail[0], ln->avail[1]}, av4[2] = {ln->avail4[0], ln->avail4[1]};
    int64_t rm[2][2];
    memcpy(rm, ln->rem, sizeof rm);
    if (!s->err) {
        for (int p = 0; p < 2; p++) {
            if (s->backend == OT_BACKEND_SILENT) {
                /* Each party walks with its own view of the stocks (they
                 * mirror each other); keep the server's. */
                uint64_t as[2] = {ln->avail[p], ln->avail4[p]};
                uint64_t ar[2] = {ln->avail[1 - p], ln->avail4[1 - p]};
                int64_t rs[2] = {ln->rem[p][0], ln->rem[p][1]};
                int64_t rr[2] = {ln->rem[1 - p][0], ln->rem[1 - p][1]};
                /* the server's walk counts the takes (the client's mirrors it) */
                walk_silent(s, &L[p], p, R[p], nr[p], S[p], ns[p], as, ar, rs, rr,
                            p == 0 ? ln->took[0] : NULL, p == 0 ? ln->took[1] : NULL);
                if (p == 0) {
                    av[0] = as[0];
                    av[1] = ar[0];
                    av4[0] = as[1];
                    av4[1] = ar[1];
                    memcpy(rm[0], rs, sizeof rs);
                    memcpy(rm[1], rr, sizeof rr);
                } else if (as[0] != av[1] || ar[0] != av[0] || as[1] != av4[1] ||
                           ar[1] != av4[0] || memcmp(rs, rm[1], sizeof rs) ||
                           memcmp(rr, rm[0], sizeof rr)) {
                    s->err = PARLEY_E_ARG; /* the two walks disagree on a stock: a bug */
                }
            } else {
                walk_steps(s, &L[p], p, R[p], 0, nr[p], S[p], 0, ns[p], NULL, OT_AHEAD);
            }
        }
        size_t cnt[2][K_N];
        for (int p = 0; p < 2; p++) {
            cnt[p][K_M] = nr[p];
            cnt[p][K_C] = ns[p];
            /* refills: at most one per chunk of either list, two more
             * made ahead, and a COT batch inside each 4-bit VOLE one */
            cnt[p][K_T] = 2 * (ns[p] + nr[p]) + 4;
            cnt[p][K_T4] = ns[p] + nr[p] + 2;
        }
        replay(s, L, cur_clk(s), cnt);
        ln->avail[0] = av[0];
        ln->avail[1] = av[1];
        ln->avail4[0] = av4[0];
        ln->avail4[1] = av4[1];
        memcpy(ln->rem, rm, sizeof rm);
    }
    for (int p = 0; p < 2; p++) {
        mem_free(R[p]);
        mem_free(S[p]);
        mem_free(L[p].a);
    }
    s->nj = 0;
}

void fsim_cotv(fsim *s, int receiver, size_t chunks, uint64_t rx, uint64_t tx) {
    s->sent[receiver] += rx;
    s->sent[1 - receiver] += tx;
    if (chunks == 0 || s->err) return;
    int snd = 1 - receiver;
    alist L[2];
    memset(L, 0, sizeof L);
    /* Receiver: extend chunks 0 .. COTV_AHEAD - 1, then per chunk k read
     * the answers of k and extend k + COTV_AHEAD. Sender: per chunk, read
     * the extension, answer. */
    for (size_t k = 0; k < chunks && k < COTV_AHEAD; k++)
        push(s, &L[receiver], A_SEND, receiver, K_M, k);
    for (size_t k = 0; k < chunks; k++) {
        push(s, &L[receiver], A_RECV, snd, K_C, k);
        if (k + COTV_AHEAD < chunks) push(s, &L[receiver], A_SEND, receiver, K_M, k + COTV_AHEAD);
        push(s, &L[snd], A_RECV, receiver, K_M, k);
        push(s, &L[snd], A_SEND, snd, K_C, k);
    }
    size_t cnt[2][K_N];
    memset(cnt, 0, sizeof cnt);
    cnt[receiver][K_M] = chunks;
    cnt[snd][K_C] = chunks;
    replay(s, L, cur_clk(s), cnt);
    mem_free(L[0].a);
    mem_free(L[1].a);
}

void otb_cost_run(const ot_costing *oc) {
    if (oc->fs) fsim_otb_run(oc->fs);
}

void otb_cost_round(const ot_costing *oc, uint64_t bytes_each) {
    if (oc->fs) fsim_round(oc->fs, bytes_each);
}

void otb_cost_round2(const ot_costing *oc, uint64_t server_bytes, uint64_t client_bytes) {
    if (oc->fs) fsim_round2(oc->fs, server_bytes, client_bytes);
}
