/* Two-party runner for tests; see twoparty.h. */
#include "twoparty.h"

#include "harness.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>

chan_stats run2_stats[2];

typedef struct job {
    party_fn fn;
    void *arg;
    int party;
    chan *ch;
    int rc;
    char msg[512];
    int close_when_done;
    chan_stats stats;
} job;

static void *job_main(void *v) {
    job *j = v;
    j->rc = j->fn(j->party, j->ch, j->arg);
    if (j->rc != 0) snprintf(j->msg, sizeof j->msg, "%s", err_msg());
    j->stats = *chan_get_stats(j->ch);
    if (j->close_when_done) {
        chan_close(j->ch);
        j->ch = NULL;
    }
    return NULL;
}

static int run_on(chan *a, chan *b, party_fn fn, void *arg, int drop) {
    job jobs[2] = {{fn, arg, 0, a, 0, "", 0, {0}}, {fn, arg, 1, b, 0, "", drop, {0}}};
    chan_set_timeout(a, 60000);
    chan_set_timeout(b, 60000);
    pthread_t th[2];
    for (int i = 0; i < 2; i++) pthread_create(&th[i], NULL, job_main, &jobs[i]);
    for (int i = 0; i < 2; i++) pthread_join(th[i], NULL);
    run2_stats[0] = jobs[0].stats;
    run2_stats[1] = jobs[1].stats;
    chan_close(jobs[0].ch);
    chan_close(jobs[1].ch);
    for (int i = 0; i < 2; i++)
        if (jobs[i].rc != 0) {
            fprintf(stderr, "  party %d failed (%d): %s\n", i, jobs[i].rc, jobs[i].msg);
            return err_set(jobs[i].rc, "party %d: %s", i, jobs[i].msg);
        }
    return 0;
}

int run2(party_fn fn, void *arg) {
    chan *a, *b;
    TRY(chan_pair(&a, &b));
    return run_on(a, b, fn, arg, 0);
}

int run2_drop(party_fn fn, void *arg) {
    chan *a, *b;
    TRY(chan_pair(&a, &b));
    return run_on(a, b, fn, arg, 1);
}

typedef struct acc_job {
    chan_listener *l;
    chan *c;
    int rc;
} acc_job;

static void *acc_main(void *v) {
    acc_job *j = v;
    j->rc = chan_accept(j->l, &j->c, 10000);
    return NULL;
}

int run2_tcp(party_fn fn, void *arg) {
    chan_listener *l;
    TRY(chan_listen(&l, "127.0.0.1", 0));
    acc_job aj = {l, NULL, 0};
    pthread_t th;
    pthread_create(&th, NULL, acc_main, &aj);
    chan *b = NULL;
    int rc = chan_connect(&b, "127.0.0.1", chan_listener_port(l), 10000);
    pthread_join(th, NULL);
    chan_listener_close(l);
    if (rc < 0 || aj.rc < 0) {
        chan_close(b);
        chan_close(aj.c);
        return rc < 0 ? rc : aj.rc;
    }
    return run_on(aj.c, b, fn, arg, 0);
}

/* ---- whole parties with lanes ---- */

chan_stats run2_party_stats[2];
chan_stats run2_party_setup_stats[2];

silent_stats run2_party_sil[2];

uint64_t run2_party_gen_bytes(void) {
    return run2_party_sil[0].gen_bytes + run2_party_sil[1].gen_bytes;
}

int test_backend(void) {
    static int b = -1;
    if (b < 0) {
        const char *e = getenv("PARLEY_TEST_OT");
        b = e ? ot_backend_parse(e) : OT_BACKEND_IKNP;
        if (b < 0) {
            fprintf(stderr, "PARLEY_TEST_OT must be iknp or silent, not '%s'\n", e);
            exit(2);
        }
    }
    return b;
}

const ferret_params *run2_party_ferret;
const vole4_params *run2_party_vole4;
typedef struct party_job2 {
    party2_fn fn;
    void *arg;
    int role;
    unsigned nlanes;
    chan **chans;
    int rc;
    char msg[512];
    chan_stats stats, setup;
    silent_stats sil;
} party_job2;

static void *party_main(void *v) {
    party_job2 *j = v;
    party p;
    ot_lane_opts o = {.backend = test_backend(),
                      .ferret = run2_party_ferret ? run2_party_ferret : &FERRET_TOY};
    if (run2_party_vole4) {
        o.backend = OT_BACKEND_SILENT;
        o.vole4 = run2_party_vole4;
    }
    j->rc = party_setup_ex(&p, j->role, j->chans, j->nlanes, harness_block(0x9a27 + (uint64_t)j->role),
                           &o);
    if (j->rc == 0) {
        chan_stats before;
        party_stats(&p, &before);
        j->setup = before;
        j->rc = j->fn(&p, j->arg);
        party_stats(&p, &j->stats);
        party_silent_stats(&p, &j->sil); /* set-up makes no batch and uses no COT */
        j->stats.bytes_sent -= before.bytes_sent;
        j->stats.bytes_recv -= before.bytes_recv;
        j->stats.flights -= before.flights;
        if (!o.vole4 && j->sil.gen_bytes != j->sil.batches_sent * ferret_batch_bytes(o.ferret))
            harness_fail(__FILE__, __LINE__, "party %d: %llu bytes for %llu silent batches", j->role,
                         (unsigned long long)j->sil.gen_bytes,
                         (unsigned long long)j->sil.batches_sent);
        party_clear(&p);
    }
    if (j->rc != 0) {
        snprintf(j->msg, sizeof j->msg, "%s", err_msg());
        /* Unblock the other side. */
        for (unsigned i = 0; i < j->nlanes; i++) chan_abort(j->chans[i]);
    }
    return NULL;
}

int run2_party(party2_fn fn, void *arg, unsigned nlanes) {
    PARLEY_CHECK(nlanes >= 1 && nlanes <= LANES_MAX);
    (void)test_backend(); /* read the environment here, not on the parties' threads */
    /* One link, the lanes its streams 1..nlanes, as in a session. */
    net_link *lk[2];
    TRY(link_pair(&lk[0], &lk[1], 0));
    chan *c[2][LANES_MAX];
    for (unsigned i = 0; i < nlanes; i++)
        for (int r = 0; r < 2; r++) {
            c[r][i] = link_chan(lk[r], 1 + i);
            chan_set_timeout(c[r][i], 120000);
        }
    party_job2 jobs[2];
    for (int r = 0; r < 2; r++)
        jobs[r] = (party_job2){.fn = fn, .arg = arg, .role = r, .nlanes = nlanes, .chans = c[r]};
    pthread_t th[2];
    for (int r = 0; r < 2; r++) pthread_create(&th[r], NULL, party_main, &jobs[r]);
    for (int r = 0; r < 2; r++) pthread_join(th[r], NULL);
    link_close(lk[0]);
    link_close(lk[1]);
    for (int r = 0; r < 2; r++) {
        run2_party_stats[r] = jobs[r].stats;
        run2_party_setup_stats[r] = jobs[r].setup;
        run2_party_sil[r] = jobs[r].sil;
    }
    /* What one side made as sender, the other received. */
    if (jobs[0].rc == 0 && jobs[1].rc == 0 &&
        (jobs[0].sil.batches_sent != jobs[1].sil.batches_recv ||
         jobs[1].sil.batches_sent != jobs[0].sil.batches_recv))
        harness_fail(__FILE__, __LINE__, "the parties disagree on the silent batches made");
    for (int r = 0; r < 2; r++)
        if (jobs[r].rc != 0) {
            fprintf(stderr, "  party %d failed (%d): %s\n", r, jobs[r].rc, jobs[r].msg);
            return err_set(jobs[r].rc, "party %d: %s", r, jobs[r].msg);
        }
    return 0;
}
