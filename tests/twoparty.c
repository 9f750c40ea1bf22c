/* Two-party runner for tests; see twoparty.h. */
#include "twoparty.h"

#include <pthread.h>
#include <stdio.h>

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
