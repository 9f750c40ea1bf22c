/* The IKNP back-end: IKNP flavours on w = 128, KK13 on w = 256; see lane.h. */
#include "ot/lane.h"
#include "ot/task_impl.h"

#include "util/bits.h"
#include "util/mem.h"

typedef struct kk_lane {
    ote_sender s; /* KK13: we send */
    ote_receiver r;
} kk_lane;

/* KK13 base OTs: 256 random OTs each way over IKNP. Our KK sender needs
 * keys for its secret s' as OT receiver; our KK receiver needs key pairs as
 * OT sender. Both parties receive first, then send. */
static int iknp_setup(ot_lane *ln, const ot_lane_opts *o) {
    (void)o;
    kk_lane *k = mem_calloc(1, sizeof *k);
    block(*keys_s)[2] = mem_alloc(256, sizeof *keys_s);
    if (!k || !keys_s) {
        mem_free(k);
        mem_free(keys_s);
        return err_set(PARLEY_E_NOMEM, "out of memory for KK13 set-up");
    }
    ln->st = k;
    uint8_t sbits[256];
    block keys_r[256];
    prg_bits(&ln->rng, sbits, 256);
    int rc = iknp_rot_recv(&ln->iknp_r, ln->ch, keys_r, sbits, 256);
    if (rc == 0) rc = iknp_rot_send(&ln->iknp_s, ln->ch, keys_s, 256);
    if (rc == 0) rc = ote_sender_init(&k->s, 256, sbits, keys_r);
    if (rc == 0) rc = ote_receiver_init(&k->r, 256, (const block(*)[2])keys_s);
    mem_wipe(sbits, sizeof sbits);
    mem_wipe(keys_r, sizeof keys_r);
    mem_free_wipe(keys_s, 256 * sizeof *keys_s);
    return rc;
}

static void iknp_clear(ot_lane *ln) {
    kk_lane *k = ln->st;
    if (!k) return;
    if (k->s.keys) ote_sender_clear(&k->s);
    if (k->r.k0) ote_receiver_clear(&k->r);
    mem_free_wipe(k, sizeof *k);
    ln->st = NULL;
}

static void iknp_bind(ot_lane *ln, ot_task *t, int we_send) {
    kk_lane *k = ln->st;
    PARLEY_CHECK(t->kind == OT_TASK_KK || t->kind == OT_TASK_OT || t->kind == OT_TASK_COT);
    if (t->kind == OT_TASK_KK) {
        t->steps = &kk_steps;
        t->src = we_send ? (void *)&k->s : (void *)&k->r;
    } else {
        t->steps = &iknp_steps;
        t->src = we_send ? (void *)&ln->iknp_s : (void *)&ln->iknp_r;
    }
}

static int iknp_run(ot_lane *ln, const ot_chunk *R, size_t nr, const ot_chunk *S, size_t ns) {
    return ot_steps_run(ln->ch, R, nr, S, ns);
}

static void iknp_stats(const ot_lane *ln, silent_stats *out) {
    (void)ln;
    memset(out, 0, sizeof *out);
}

static void *iknp_instance(ot_lane *ln, int which) {
    kk_lane *k = ln->st;
    if (which == OT_INST_KK_SEND) return &k->s;
    if (which == OT_INST_KK_RECV) return &k->r;
    return NULL;
}

static uint64_t iknp_setup_bytes(const ot_lane_opts *o) {
    (void)o;
    return 2 * (256 * 128 / 8); /* the extension matrix of 256 random OTs, each way */
}

static uint64_t iknp_memory(const ot_lane_opts *o) {
    (void)o;
    return 0; /* the extension's state is a few KiB; chunks are freed after use */
}

/* Per chunk of OTE_CHUNK: the extension matrix (n rounded up to 128), then
 * the packed corrections. */
static void iknp_job_bytes(int kind, size_t n, unsigned N, uint64_t per, uint64_t *by_receiver,
                           uint64_t *by_sender) {
    (void)N;
    PARLEY_CHECK(kind == OT_TASK_KK || kind == OT_TASK_OT || kind == OT_TASK_COT);
    uint64_t w = kind == OT_TASK_KK ? 256 : 128;
    *by_receiver = *by_sender = 0;
    for (size_t i0 = 0; i0 < n; i0 += OTE_CHUNK) {
        size_t mm = n - i0 < OTE_CHUNK ? n - i0 : OTE_CHUNK;
        *by_receiver += w * ote_padded(mm) / 8;
        *by_sender += bits_bytes(mm * per);
    }
}

static uint64_t iknp_job_cots(int kind, size_t n, unsigned N) {
    (void)kind, (void)n, (void)N;
    return 0;
}

static double iknp_ot_bits(int kind, unsigned N) {
    (void)N;
    return kind == OT_TASK_KK ? 256.0 : 128.0;
}

static uint64_t iknp_gen_bytes(const ot_lane_opts *o, uint64_t cots) {
    (void)o, (void)cots;
    return 0;
}

static double iknp_gen_bits(const ot_lane_opts *o) {
    (void)o;
    return 0;
}

const ot_backend ot_backend_iknp = {
    .name = "iknp",
    .id = OT_BACKEND_IKNP,
    .caps = 0,
    .row_lsb_set = 0,
    .setup = iknp_setup,
    .clear = iknp_clear,
    .bind = iknp_bind,
    .run = iknp_run,
    .stats = iknp_stats,
    .instance = iknp_instance,
    .setup_bytes = iknp_setup_bytes,
    .memory = iknp_memory,
    .job_bytes = iknp_job_bytes,
    .job_cots = iknp_job_cots,
    .ot_bits = iknp_ot_bits,
    .gen_bytes = iknp_gen_bytes,
    .gen_bits_per_cot = iknp_gen_bits,
};
