/* The flight model: how many one-way latencies a protocol's messages cost
 * on the longest chain of waits (docs/NETWORK.md), from public data alone.
 *
 * Each party has a clock counting one-way flights: a message carries its
 * sender's clock, and a party that reads it moves its clock to at least
 * the message's plus one. Sends between two reads go out in one flight; a
 * reply to a reply is the next. With no computation at all, a party's
 * clock times the one-way latency is when it gets there; the critical
 * flights of a run are the larger clock at its end.
 *
 * The cost functions of src/mpc and src/nl drive it through their
 * ot_costing (otb.h) while they count bytes, retracing each protocol:
 * the OT jobs of one otb_run (otb_job_cost adds each job), then the run
 * (otb_cost_run), AND rounds and openings (otb_cost_round), single
 * messages, and party_run's lanes (fork, one lane at a time, join: the
 * lanes run side by side, and a party goes on after its slowest lane).
 * An otb_run is replayed chunk by chunk in the order ot_steps_run
 * (src/ot/sched.c) and, on the silent backend, silent_steps_run
 * (src/ot/silent.c, with each lane's COT stock and its refills; with
 * fsim_new4 also its 4-bit VOLE stock, silent_steps_run4) take the
 * chunks, so the model sees where a schedule waits on the peer's answer
 * instead of running ahead. Linear layers over OT add their streamed COTs
 * (fsim_cotv, src/ot/cotv.c: COTV_AHEAD chunks ahead). A change to any of those
 * schedules must be mirrored here.
 *
 * It also adds up the bytes each party sends (fsim_sent), so a transfer
 * bound per direction can be put beside the flights. */
#ifndef PARLEY_MPC_FLIGHTS_H
#define PARLEY_MPC_FLIGHTS_H

#include "ot/ferret.h"
#include "ot/lane.h"
#include "ot/vole4.h"

#include <stddef.h>
#include <stdint.h>

typedef struct fsim fsim;
struct otb_job;
struct ot_costing;

/* backend: OT_BACKEND_*; lanes 1..LANES_MAX; fp: the silent backend's
 * Ferret parameters (NULL: FERRET_DEFAULT). 0 or PARLEY_E_NOMEM / _ARG. */
int fsim_new(fsim **out, int backend, unsigned lanes, const ferret_params *fp) WUR;
/* The same for lanes with 4-bit VOLE pools of set vp for their (4 < N <=
 * 16 choose 1)-OTs (ot_lane_opts.vole4; vp NULL: none): those jobs take one
 * correlation per OT and 4 choice bits, each pool refills as the
 * schedule walks it (silent_steps_run4), a correlations' batch takes its
 * tree COTs from the Ferret stock of its direction, and every lane starts
 * with the Ferret stock its set-up left (the first bases took 4 m COTs
 * each way). */
int fsim_new4(fsim **out, int backend, unsigned lanes, const ferret_params *fp,
              const vole4_params *vp) WUR;
/* The pools' budgets (cot_pool_set_budget), right after fsim_new4 as a
 * session sets them right after its set-up: from then on no batch is made
 * ahead of need once a stock covers the rest of its budget. */
void fsim_set_budgets(fsim *s, const ot_budgets *b);
/* What the consumers took from each lane's pools since fsim_new4, by the
 * direction's COT sender and kind: a session's budgets (an unbudgeted
 * walk's, whose 4-bit VOLE batches all take their tree COTs). */
void fsim_budgets(const fsim *s, ot_budgets *out);
/* Bytes of every batch made so far, both kinds (the trees the walks sent). */
uint64_t fsim_gen_bytes(const fsim *s);
void fsim_free(fsim *s);
/* 0, or PARLEY_E_NOMEM if some step ran out of memory (the figures are
 * then meaningless). */
int fsim_status(const fsim *s);

/* Flights so far: the larger of the two parties' clocks. */
uint64_t fsim_flights(const fsim *s);

/* Silent COT batches made so far (both directions of every lane): the
 * refills the schedule walks, each one batch's trees. */
uint64_t fsim_batches(const fsim *s);

/* Bytes sent so far by each party (out[MPC_SERVER], out[MPC_CLIENT]). */
void fsim_sent(const fsim *s, uint64_t out[2]);

/* A message of `bytes` from `sender` (MPC_SERVER / MPC_CLIENT) to the
 * other party, on the current lane (outside party_run: the party as a
 * whole). */
void fsim_msg(fsim *s, int sender, uint64_t bytes);
/* Both parties send `bytes` each, then each reads the other's (an AND
 * round, an opening). */
void fsim_round(fsim *s, uint64_t bytes);
/* The same with each party's own byte count (mpc_cot1). */
void fsim_round2(fsim *s, uint64_t server_bytes, uint64_t client_bytes);
/* party_run: fork, then the work of lane i after fsim_lane(s, i), then
 * join. Lanes without work need no fsim_lane. */
void fsim_fork(fsim *s);
void fsim_lane(fsim *s, unsigned i);
void fsim_join(fsim *s);
/* An OT job of the next otb_run on the current lane (otb_job_cost calls
 * it), then the run itself. */
void fsim_job(fsim *s, const struct otb_job *j);
void fsim_otb_run(fsim *s);
/* iknp_cotv on the current lane: `receiver` extends `chunks` chunks, the
 * other party answers each (src/ot/cotv.c); the two send rx and tx bytes
 * in all (every lane's). */
void fsim_cotv(fsim *s, int receiver, size_t chunks, uint64_t rx, uint64_t tx);

/* Hooks for the cost functions: no-ops unless oc->fs is set. */
void otb_cost_run(const struct ot_costing *oc);
void otb_cost_round(const struct ot_costing *oc, uint64_t bytes_each);
void otb_cost_round2(const struct ot_costing *oc, uint64_t server_bytes, uint64_t client_bytes);

#endif
