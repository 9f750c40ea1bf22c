/* The silent back-end: a COT pool per direction, filled by Ferret and
 * consumed by the flavours of ot/silent.c; see lane.h. */
#include "util/ct.h"
#include "ot/lane.h"

#include "util/mem.h"

#include <sodium.h>
#include <string.h>

typedef struct silent_lane {
    const ferret_params *par;
    cot_pool ps, pr; /* we send (Delta ours) / we receive */
    ferret fs, fr;   /* their producers */
    int v4;              /* ot_lane_opts.vole4: the pools below exist */
    cot_pool ps4, pr4;   /* 4-bit VOLE correlations, each way */
    vole4 f4s, f4r;      /* their producers */
    silent_stats st; /* what making COTs cost on this lane */
} silent_lane;

static const ferret_params *params_of(const ot_lane_opts *o) {
    return o && o->ferret ? o->ferret : &FERRET_DEFAULT;
}

/* The code key of the direction in which `from` sends COTs to `to`: a
 * hash of both parties' code seeds, the sender's first, so the two
 * directions of a lane differ and neither party alone fixes a code. The
 * bootstrap instance (boot = 1, FERRET_BOOT) and the 4-bit VOLE (boot = 2)
 * have keys of their own. */
static block code_key(block from, block to, int boot) {
    static const char dom[] = "parley ferret LPN code v1", dom_boot[] = "parley ferret LPN boot v1",
                      dom_v4[] = "parley vole4 LPN code v1 ";
    _Static_assert(sizeof dom == sizeof dom_boot && sizeof dom == sizeof dom_v4,
                   "one layout for every domain");
    uint8_t in[sizeof dom + 32];
    memcpy(in, boot == 2 ? dom_v4 : boot ? dom_boot : dom, sizeof dom);
    memcpy(in + sizeof dom, from.b, 16);
    memcpy(in + sizeof dom + 16, to.b, 16);
    block k;
    crypto_generichash(k.b, sizeof k.b, in, sizeof in, NULL, 0);
    mem_wipe(in, sizeof in);
    return k;
}

/* The first `need` outputs of a ferret's one and only batch: its reserved
 * base (the batch's first m COTs), then the pool's, in output order. */
static void boot_outputs(ferret *f, cot_pool *p, block *out, size_t need) {
    size_t m = ferret_m(f->par), done = need < m ? need : m;
    memcpy(out, f->base, done * sizeof(block));
    while (done < need) {
        size_t take = need - done < COT_POOL_CARRY ? need - done : COT_POOL_CARRY;
        uint64_t idx;
        memcpy(out + done, cot_pool_take(p, take, &idx), take * sizeof(block));
        done += take;
    }
}

/* One FERRET_BOOT batch each way from the m0 rows (q, t), into the first
 * base of the production instances (qo, to: ferret_m(fp) each), under the
 * same Delta: both parties send their trees, then read the peer's (one
 * flight per party, as a refill of both directions). */
static int boot_base(ot_lane *ln, const ferret_params *fp, block delta, const block *q,
                     const block *t, block mine, block theirs, block *qo, block *to) {
    const ferret_params *bp = &FERRET_BOOT;
    ferret fs, fr;
    cot_pool ps, pr;
    memset(&fs, 0, sizeof fs);
    memset(&fr, 0, sizeof fr);
    cot_pool_init(&pr, 0, block_make(0, 0), ferret_n(bp));
    cot_pool_init(&ps, 1, delta, ferret_n(bp));
    int rc = ferret_init(&fr, bp, 0, block_make(0, 0), t, block_make(0, 0),
                         code_key(theirs, mine, 1), &pr);
    if (rc == 0)
        rc = ferret_init(&fs, bp, 1, delta, q, prg_block(&ln->rng), code_key(mine, theirs, 1), &ps);
    if (rc == 0) rc = cot_pool_refill_send(&ps, ln->ch, NULL);
    if (rc == 0) rc = chan_flush(ln->ch);
    if (rc == 0) rc = cot_pool_refill_recv(&pr, ln->ch);
    if (rc == 0) {
        cot_pool_refill_finish(&ps);
        boot_outputs(&fs, &ps, qo, ferret_m(fp));
        boot_outputs(&fr, &pr, to, ferret_m(fp));
    }
    ferret_clear(&fs);
    ferret_clear(&fr);
    cot_pool_clear(&ps);
    cot_pool_clear(&pr);
    return rc;
}

/* The first base COTs of both Ferret instances: m0 = ferret_first_rows
 * raw IKNP rows each way (one flight per party), and where the set boots
 * (ferret_boots, ferret.h) one FERRET_BOOT batch each way made from them
 * (one more flight per party). Rows are COTs with Delta = s, whose bit 0
 * is set: the sender clears bit 0 of its q, the receiver sets bit 0 of its
 * t to its choice (t ^ q = c * s keeps holding, as bit 0 of q is bit 0 of
 * t xor c). The rows' flights carry each party's code seed (16 bytes),
 * drawn after the base OTs: the LPN codes of each direction are keyed by
 * both (code_key), fresh for every lane of every session. */
static int silent_setup(ot_lane *ln, const ot_lane_opts *o) {
    const ferret_params *fp = params_of(o);
    silent_lane *sl = mem_calloc(1, sizeof *sl);
    if (!sl) return err_set(PARLEY_E_NOMEM, "out of memory for silent-OT set-up");
    ln->st = sl;
    sl->par = fp;
    const int boots = ferret_boots(fp);
    const size_t m0 = ferret_first_rows(fp), m = ferret_m(fp);
    block *t = mem_alloc(m0, sizeof(block)), *q = mem_alloc(m0, sizeof(block));
    block *tb = boots ? mem_alloc(m, sizeof(block)) : NULL, *qb = boots ? mem_alloc(m, sizeof(block)) : NULL;
    uint8_t *c = mem_alloc(m0, 1);
    block mine = prg_block(&ln->rng), theirs = block_make(0, 0);
    ct_declassify(&mine, sizeof mine); /* sent in the clear: the code is public */
    int rc = (!t || !q || !c || (boots && (!tb || !qb)))
                 ? err_set(PARLEY_E_NOMEM, "out of memory for silent-OT set-up")
                 : 0;
    if (rc == 0) {
        prg_bits(&ln->rng, c, m0);
        rc = iknp_raw_recv(&ln->iknp_r, ln->ch, t, c, m0);
    }
    if (rc == 0) rc = chan_send(ln->ch, mine.b, sizeof mine.b);
    if (rc == 0) rc = chan_flush(ln->ch);
    if (rc == 0) rc = iknp_raw_send(&ln->iknp_s, ln->ch, q, m0);
    if (rc == 0) rc = chan_recv(ln->ch, theirs.b, sizeof theirs.b);
    block delta = ln->iknp_s.s[0];
    if (rc == 0) {
        for (size_t i = 0; i < m0; i++) {
            t[i].w[0] = (t[i].w[0] & ~(uint64_t)1) | c[i];
            q[i].w[0] &= ~(uint64_t)1;
        }
        if (boots) rc = boot_base(ln, fp, delta, q, t, mine, theirs, qb, tb);
    }
    if (rc == 0) {
        cot_pool_init(&sl->pr, 0, block_make(0, 0), ferret_n(fp));
        cot_pool_init(&sl->ps, 1, delta, ferret_n(fp));
        rc = ferret_init(&sl->fr, fp, 0, block_make(0, 0), boots ? tb : t, block_make(0, 0),
                         code_key(theirs, mine, 0), &sl->pr);
        if (rc == 0)
            rc = ferret_init(&sl->fs, fp, 1, delta, boots ? qb : q, prg_block(&ln->rng),
                             code_key(mine, theirs, 0), &sl->ps);
    }
    /* The 4-bit VOLE pools: each party sets up the direction it sends
     * first, so each sends its Ferret batch, then reads the peer's. */
    if (rc == 0 && o && o->vole4) {
        rc = vole4_pool_setup(&sl->f4s, &sl->ps4, o->vole4, &sl->ps, ln->ch, prg_block(&ln->rng),
                              code_key(mine, theirs, 2));
        if (rc == 0)
            rc = vole4_pool_setup(&sl->f4r, &sl->pr4, o->vole4, &sl->pr, ln->ch,
                                  block_make(0, 0), code_key(theirs, mine, 2));
        if (rc == 0) sl->v4 = 1;
    }
    if (t) mem_free_wipe(t, m0 * sizeof(block));
    if (q) mem_free_wipe(q, m0 * sizeof(block));
    if (tb) mem_free_wipe(tb, m * sizeof(block));
    if (qb) mem_free_wipe(qb, m * sizeof(block));
    if (c) mem_free_wipe(c, m0);
    mem_wipe(&mine, sizeof mine);
    mem_wipe(&theirs, sizeof theirs);
    mem_wipe(&delta, sizeof delta);
    return rc;
}

static void silent_clear(ot_lane *ln) {
    silent_lane *sl = ln->st;
    if (!sl) return;
    vole4_pool_clear(&sl->f4s, &sl->ps4);
    vole4_pool_clear(&sl->f4r, &sl->pr4);
    ferret_clear(&sl->fs);
    ferret_clear(&sl->fr);
    cot_pool_clear(&sl->ps);
    cot_pool_clear(&sl->pr);
    mem_free_wipe(sl, sizeof *sl);
    ln->st = NULL;
}

static void silent_bind(ot_lane *ln, ot_task *t, int we_send) {
    silent_lane *sl = ln->st;
    PARLEY_CHECK(t->kind >= OT_TASK_KK && t->kind <= OT_TASK_RROT);
    t->steps = &silent_steps;
    if (sl->v4 && t->kind == OT_TASK_KK && vole4_takes(t->N)) /* one correlation per OT */
        t->src = we_send ? &sl->ps4 : &sl->pr4;
    else
        t->src = we_send ? &sl->ps : &sl->pr;
}

static int silent_run(ot_lane *ln, const ot_chunk *R, size_t nr, const ot_chunk *S, size_t ns) {
    silent_lane *sl = ln->st;
    return silent_steps_run4(&sl->ps, sl->v4 ? &sl->ps4 : NULL, &sl->pr, sl->v4 ? &sl->pr4 : NULL,
                             ln->ch, R, nr, S, ns, &sl->st);
}

/* The COTs a 4-bit VOLE producer took: its first base's 4 m and each
 * batch's trees. */
static uint64_t v4_took(const vole4 *f) {
    return 4 * (uint64_t)vole4_m(f->par) + f->batches * vole4_cots(f->par);
}

static void silent_lane_stats(const ot_lane *ln, silent_stats *out) {
    const silent_lane *sl = ln->st;
    *out = sl->st;
    out->cots = sl->ps.used + sl->pr.used - (sl->v4 ? v4_took(&sl->f4s) + v4_took(&sl->f4r) : 0);
    out->corrs = sl->ps4.used + sl->pr4.used;
}

static void silent_budget(ot_lane *ln, const uint64_t send[2], const uint64_t recv[2]) {
    silent_lane *sl = ln->st;
    cot_pool_set_budget(&sl->ps, send[0]);
    cot_pool_set_budget(&sl->pr, recv[0]);
    if (sl->v4) {
        cot_pool_set_budget(&sl->ps4, send[1]);
        cot_pool_set_budget(&sl->pr4, recv[1]);
    }
}

static void *silent_instance(ot_lane *ln, int which) {
    silent_lane *sl = ln->st;
    if (which == OT_INST_COTS_SEND) return &sl->ps;
    if (which == OT_INST_COTS_RECV) return &sl->pr;
    return NULL;
}

/* Each way: the m0 raw IKNP rows (16 bytes per row, per chunk of
 * OTE_CHUNK rounded up to 128), the 16-byte code seed and, where the set
 * boots, one FERRET_BOOT batch's tree messages; with 4-bit VOLE pools, the
 * Ferret batches their first base takes. */
static uint64_t silent_setup_bytes(const ot_lane_opts *o) {
    const ferret_params *fp = params_of(o);
    size_t m = ferret_first_rows(fp);
    uint64_t ext = 16 + (ferret_boots(fp) ? ferret_batch_bytes(&FERRET_BOOT) : 0);
    for (size_t i0 = 0; i0 < m; i0 += OTE_CHUNK)
        ext += 16 * ote_padded(m - i0 < OTE_CHUNK ? m - i0 : OTE_CHUNK);
    if (o && o->vole4) { /* the first 4-bit VOLE base: 4 m COTs from fresh batches */
        uint64_t need = 4 * (uint64_t)vole4_m(o->vole4), u = ferret_usable(fp);
        ext += (need + u - 1) / u * ferret_batch_bytes(fp);
    }
    return 2 * ext;
}

static void silent_job_bytes_of(int kind, size_t n, unsigned N, uint64_t per,
                                uint64_t *by_receiver, uint64_t *by_sender) {
    silent_job_bytes_split(n, kind == OT_TASK_RROT ? 0 : silent_cots_per_ot(kind, N), per,
                           by_receiver, by_sender);
}

static uint64_t silent_job_cots(int kind, size_t n, unsigned N) {
    return (uint64_t)n * silent_cots_per_ot(kind, N);
}

static double silent_ot_bits(int kind, unsigned N) {
    return kind == OT_TASK_RROT ? 0.0 : (double)silent_cots_per_ot(kind, N);
}

/* Each way a Ferret instance: its pool (room + n blocks, cotpool.h), its
 * base (m blocks) and tree messages (t h blocks); with 4-bit VOLE, each
 * way also a correlations' pool (the receiver's with a nibble per entry),
 * base, tree messages (t (2h + 1) blocks) and tree COTs (t h blocks). */
static uint64_t silent_memory(const ot_lane_opts *o) {
    const ferret_params *fp = params_of(o);
    uint64_t n = ferret_n(fp), mem = 2 * 16 * (cot_pool_room(n) + n + ferret_m(fp) +
                                               (uint64_t)fp->t * fp->h);
    if (o && o->vole4) {
        const vole4_params *v = o->vole4;
        uint64_t n4 = vole4_n(v), m4 = vole4_m(v);
        uint64_t one = 16 * (cot_pool_room(n4) + n4 + m4 + (uint64_t)v->t * (2 * v->h + 1) +
                             vole4_cots(v));
        mem += 2 * one + cot_pool_room(n4) + n4 + m4; /* the receiver's nibbles */
    }
    return mem;
}

static uint64_t silent_gen_bytes(const ot_lane_opts *o, uint64_t cots) {
    const ferret_params *fp = params_of(o);
    uint64_t u = ferret_usable(fp);
    return (uint64_t)(((unsigned __int128)cots * ferret_batch_bytes(fp) + u - 1) / u);
}

static double silent_gen_bits(const ot_lane_opts *o) {
    const ferret_params *fp = params_of(o);
    return 8.0 * (double)ferret_batch_bytes(fp) / (double)ferret_usable(fp);
}

const ot_backend ot_backend_silent = {
    .name = "silent",
    .id = OT_BACKEND_SILENT,
    .caps = OT_CAP_RANDOM_OT | OT_CAP_KK_IMPLIED,
    .row_lsb_set = 1,
    .setup = silent_setup,
    .clear = silent_clear,
    .bind = silent_bind,
    .run = silent_run,
    .stats = silent_lane_stats,
    .instance = silent_instance,
    .budget = silent_budget,
    .setup_bytes = silent_setup_bytes,
    .memory = silent_memory,
    .job_bytes = silent_job_bytes_of,
    .job_cots = silent_job_cots,
    .ot_bits = silent_ot_bits,
    .gen_bytes = silent_gen_bytes,
    .gen_bits_per_cot = silent_gen_bits,
};
