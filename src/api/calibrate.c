/* parley_calibrate (include/parley.h): choose the ring width l and scale s
 * for a model from sample inputs. For each candidate s the model runs in
 * the plaintext fixed-point reference on exact 64-bit values (as `parley
 * plain`'s range check does), which gives the largest magnitude every layer
 * forms (its values, and an average pool's window sums) and so the l that
 * holds them; the output is compared with the run at the largest s that
 * fits 64 bits, which stands in for real arithmetic (its error is about
 * 2^-s_max). The recommendation is the smallest l, with `margin` bits of
 * head-room over the samples, whose s keeps the output error within
 * `tolerance` of the largest output and every sample's top-1 label; it is
 * then checked: each sample runs at (l, s) without wrap-around. A
 * candidate s the importer refuses (weights that all round to 0, a bias
 * past 64 bits, a kind's domain) is skipped with its reason.
 * docs/MODELS.md, "Choosing (l, s)". `parley calibrate` prints it.
 *
 * Also the server's start-up check on the same samples (api_check_samples,
 * parley_server_opts.calibration): the checked reference at the served
 * (l, s), refusing with calibrate's recommendation; docs/MODELS.md,
 * "Range". */
#include "api/api.h"

#include "nn/kind.h"
#include "nn/model.h"
#include "nn/ref.h"
#include "util/err.h"
#include "util/mem.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

#define MAX_INPUTS 64

typedef struct sample {
    fgraph *g;   /* the model imported at this input's batch */
    nn_tensor x; /* the caller's data, borrowed */
} sample;

/* One candidate s over all samples. */
typedef struct cand {
    unsigned s;
    int ok;        /* every value fitted 62 bits exactly */
    unsigned need; /* bits the largest value needs (sign included) */
    double err;    /* largest |y - y_ref| over all outputs */
    unsigned top1; /* samples whose top-1 equals the reference's */
    float *y;      /* the outputs of all samples, concatenated */
    char why[256]; /* !ok: the importer's refusal at this s, or the 2^62 bound */
} cand;

/* The bits a magnitude needs in a signed ring: log2 and a sign bit. */
static unsigned bits_for(uint64_t m) {
    unsigned b = 1;
    while (b < 64 && (m >> (b - 1)) != 0)
        b++;
    return b;
}

/* Run one sample at (64, s) on exact values: per layer the largest
 * magnitude (*lmax, in units of the layer's output scale; maxima taken with
 * what is there) and the output as reals (*y, the caller's). 1 if a bound
 * reaches 2^62 (not exact: the candidate is out), 0 done, < 0 error. */
static int run_wide(const qnet *net, const nn_tensor *x, uint64_t *lmax, float *y) {
    uint64_t *in = mem_alloc(net->t[net->input].size, sizeof *in);
    if (!in) return PARLEY_E_NOMEM;
    int rc = qnet_encode_input(net, in, x);
    qstore st;
    int have = 0;
    if (rc == 0 && (rc = qstore_init(&st, net)) == 0) have = 1;
    uint64_t *buf;
    if (rc == 0 && (rc = qstore_out(&st, &buf, net->input)) == 0)
        memcpy(buf, in, net->t[net->input].size * sizeof *buf);
    for (unsigned i = 0; i < net->nlayers && rc == 0; i++) {
        const qlayer *L = &net->layers[i];
        const qkind *k = qkind_of(L->op);
        double inmax[2] = {0, 0}, bound = 0;
        uint64_t inner = 0;
        for (unsigned j = 0; j < L->nin; j++) {
            double m = (double)ref_wide_max(st.buf[L->in[j]], net->t[L->in[j]].size);
            if (j < 2) inmax[j] = m;
            if (m > bound) bound = m;
        }
        if (k->reach && L->nin <= 2) {
            const uint64_t *one[2] = {L->nin > 0 ? st.buf[L->in[0]] : NULL,
                                      L->nin > 1 ? st.buf[L->in[1]] : NULL};
            qctx c = {.net = net, .L = L, .n = net->t[L->out].size, .l = 64, .x = one, .owner = 1};
            k->reach(&c, inmax, &bound, &inner);
        }
        if (!(bound < ldexp(1.0, 62))) {
            rc = 1;
            break;
        }
        if ((rc = ref_layer(net, &st, i)) < 0) break;
        uint64_t m = ref_wide_max(st.buf[L->out], net->t[L->out].size);
        if (inner > m) m = inner;
        if (m > lmax[i]) lmax[i] = m;
        qstore_done(&st, i);
    }
    if (rc == 0) qnet_decode(net, y, net->output, st.buf[net->output]);
    if (have) qstore_free(&st);
    mem_free_wipe(in, net->t[net->input].size * sizeof *in);
    return rc;
}

/* The index of the largest of n values. */
static size_t argmax_f(const float *v, size_t n) {
    size_t b = 0;
    for (size_t i = 1; i < n; i++)
        if (v[i] > v[b]) b = i;
    return b;
}

typedef struct calib {
    sample smp[MAX_INPUTS];
    unsigned nsmp;
    size_t nout;       /* outputs of all samples */
    size_t rows, cols; /* the outputs as rows of the last axis (top-1 per row) */
    int labels;        /* the output is indices (scale 0): compare exactly */
    const char *const *names; /* the samples' names in messages (may be NULL) */
    unsigned nlayers;
    uint64_t *lmax; /* per layer, at the candidate being run */
} calib;

/* Candidate c.s over every sample; c->y gets the outputs. */
static int run_cand(calib *cb, cand *c, qnet **keep) {
    c->ok = 1;
    c->need = 1;
    c->y = mem_calloc(cb->nout ? cb->nout : 1, sizeof *c->y);
    if (!c->y) return PARLEY_E_NOMEM;
    size_t at = 0;
    for (unsigned k = 0; k < cb->nsmp && c->ok; k++) {
        qnet *net;
        int qr = quant_net(&net, cb->smp[k].g, 64, c->s, 0);
        if (qr == PARLEY_E_NOMEM) return qr;
        if (qr < 0) { /* the importer refuses this s (the weights decide, not the sample) */
            c->ok = 0;
            snprintf(c->why, sizeof c->why, "refused at this scale: %s", err_msg());
            return 0;
        }
        if (!cb->lmax) {
            cb->nlayers = net->nlayers;
            cb->lmax = mem_calloc(net->nlayers ? net->nlayers : 1, sizeof *cb->lmax);
            if (!cb->lmax) {
                qnet_free(net);
                return PARLEY_E_NOMEM;
            }
        }
        int rc =
            net->nlayers == cb->nlayers ? 0 : err_set(PARLEY_E_ARG, "inputs of different shapes");
        if (rc == 0) rc = run_wide(net, &cb->smp[k].x, cb->lmax, c->y + at);
        if (rc == 1) {
            c->ok = 0;
            snprintf(c->why, sizeof c->why,
                     "values reach 2^62 on %s: beyond what parley checks exactly",
                     cb->names && cb->names[k] ? cb->names[k] : "a sample");
        }
        at += net->t[net->output].size;
        if (keep && k == 0 && rc == 0) {
            *keep = net;
        } else {
            qnet_free(net);
        }
        if (rc < 0) return rc;
    }
    for (unsigned i = 0; i < cb->nlayers && c->ok; i++) {
        unsigned b = bits_for(cb->lmax[i]);
        if (b > c->need) c->need = b;
    }
    return 0;
}

static void compare(const calib *cb, cand *c, const cand *ref) {
    c->err = 0;
    c->top1 = 0;
    for (size_t i = 0; i < cb->nout; i++)
        c->err = fmax(c->err, fabs((double)c->y[i] - ref->y[i]));
    for (size_t r = 0; r < cb->rows; r++) {
        const float *a = c->y + r * cb->cols, *b = ref->y + r * cb->cols;
        int same = cb->labels ? !memcmp(a, b, cb->cols * sizeof *a)
                              : argmax_f(a, cb->cols) == argmax_f(b, cb->cols);
        c->top1 += (unsigned)same;
    }
}

static unsigned l_of(unsigned need, unsigned margin, unsigned s) {
    unsigned l = need + margin;
    if (l < 2 * s + 2) l = 2 * s + 2;
    if (l < 8) l = 8;
    return l;
}

void parley_calibrate_opts_init(parley_calibrate_opts *o) {
    if (!o) return;
    memset(o, 0, sizeof *o);
    o->size = sizeof *o;
    o->margin = 2;
    o->tolerance = 0.01;
    o->smin = 4;
    o->smax = 24;
}

void parley_calibration_free(parley_calibration *c) {
    if (!c) return;
    mem_free(c->candidates);
    mem_free(c->layers);
    memset(c, 0, sizeof *c);
}

static int check_opts(const parley_calibrate_opts *o) {
    if (o->margin > 16)
        return err_set(PARLEY_E_ARG, "margin is %u bits: it must be 0..16 (--margin)", o->margin);
    if (!(o->tolerance > 0 && o->tolerance < 1))
        return err_set(PARLEY_E_ARG, "tolerance is %g: it must be in (0, 1) (--tolerance)",
                       o->tolerance);
    if (o->smin < 1 || o->smin > 31 || o->smax < 1 || o->smax > 31 || o->smin > o->smax)
        return err_set(PARLEY_E_ARG,
                       "the candidate scales are %u..%u: they must be 1..31 with smin <= smax "
                       "(--smin, --smax)",
                       o->smin, o->smax);
    return 0;
}

/* The samples' output layout, from the models at scale s. */
static int layout(calib *cb, unsigned s) {
    size_t n = 0;
    for (unsigned k = 0; k < cb->nsmp; k++) {
        qnet *net;
        TRY(quant_net(&net, cb->smp[k].g, 64, s, 0));
        const qtensor *T = &net->t[net->output];
        n += T->size;
        cb->cols = T->shape.rank ? T->shape.d[T->shape.rank - 1] : 1;
        cb->labels = T->scale == 0;
        qnet_free(net);
    }
    cb->nout = n;
    cb->rows = cb->cols ? n / cb->cols : 0;
    return 0;
}

/* Fill the result: candidates and, from the net at the recommendation, the
 * layers (lmax is the recommendation's). */
static int result(parley_calibration *out, const calib *cb, const cand *cs, unsigned nc,
                  unsigned margin, const qnet *net) {
    out->candidates = mem_calloc(nc, sizeof *out->candidates);
    out->layers = mem_calloc(net->nlayers ? net->nlayers : 1, sizeof *out->layers);
    if (!out->candidates || !out->layers) return PARLEY_E_NOMEM;
    out->ncandidates = nc;
    for (unsigned i = 0; i < nc; i++) {
        parley_calibrate_candidate *d = &out->candidates[i];
        d->s = cs[i].s;
        d->ok = cs[i].ok;
        snprintf(d->why, sizeof d->why, "%s", cs[i].why);
        if (!d->ok) continue;
        d->need = cs[i].need;
        d->bits = l_of(cs[i].need, margin, cs[i].s);
        d->error = cs[i].err;
        d->top1 = cs[i].top1;
    }
    out->nlayers = net->nlayers;
    for (unsigned i = 0; i < net->nlayers; i++) {
        const qlayer *Ly = &net->layers[i];
        parley_calibrate_layer *d = &out->layers[i];
        unsigned sc = net->t[Ly->out].scale, b = bits_for(cb->lmax[i]);
        snprintf(d->kind, sizeof d->kind, "%s", qop_name(Ly->op));
        snprintf(d->name, sizeof d->name, "%s", Ly->name ? Ly->name : "");
        d->max_abs = ldexp((double)cb->lmax[i], -(int)sc);
        d->bits = b;
        d->headroom = (int)out->bits - (int)b;
    }
    return 0;
}

static int calibrate(parley_calibration *out, calib *cb, cand *cs, const char *model,
                     const parley_tensor *inputs, unsigned nin, const parley_calibrate_opts *o) {
    unsigned margin = o->margin, smin = o->smin, smax = o->smax;
    char what[64];
    for (unsigned k = 0; k < nin; k++) {
        sample *sm = &cb->smp[cb->nsmp];
        snprintf(what, sizeof what, "input %u", k);
        TRY(api_tensor_in(&sm->x, &inputs[k], what));
        onnx_opts oo = {.batch = sm->x.shape.rank ? sm->x.shape.d[0] : 1};
        TRY(onnx_import_file(&sm->g, model, &oo));
        cb->nsmp++;
    }
    cb->names = o->input_names;
    /* The output's layout, from the smallest candidate the importer takes
     * (the shapes do not depend on s). */
    int lr = PARLEY_E_ARG;
    char first[512] = "";
    unsigned s0 = smin;
    for (; s0 <= smax; s0++) {
        if ((lr = layout(cb, s0)) == 0 || lr == PARLEY_E_NOMEM) break;
        if (!first[0]) snprintf(first, sizeof first, "%s", err_msg());
    }
    if (lr < 0 && lr != PARLEY_E_NOMEM)
        return err_set(lr, "the model is refused at every candidate scale s = %u..%u (at s = %u: %s)",
                       smin, smax, smin, first);
    TRY(lr);
    unsigned nc = 0;
    for (unsigned s = smin; s <= smax; s++) {
        cand *c = &cs[nc++];
        c->s = s;
        if (cb->lmax) memset(cb->lmax, 0, cb->nlayers * sizeof *cb->lmax);
        TRY(run_cand(cb, c, NULL));
    }
    /* The reference: the largest s that ran exactly with room in 64 bits. */
    int ref = -1;
    for (unsigned i = 0; i < nc; i++)
        if (cs[i].ok && l_of(cs[i].need, margin, cs[i].s) <= 64) ref = (int)i;
    if (ref < 0)
        return err_set(PARLEY_E_RANGE,
                       "no scale in %u..%u keeps the samples' values within 64 bits with %u bits "
                       "of margin: the inputs or the weights are too large for fixed point",
                       smin, smax, margin);
    int pick = -1;
    double big = 0;
    for (size_t i = 0; i < cb->nout; i++)
        big = fmax(big, fabs((double)cs[ref].y[i]));
    for (unsigned i = 0; i < nc; i++) {
        if (!cs[i].ok) continue;
        compare(cb, &cs[i], &cs[ref]);
        unsigned l = l_of(cs[i].need, margin, cs[i].s);
        int good = l <= 64 && cs[i].err <= o->tolerance * big && cs[i].top1 == cb->rows;
        if (good && (pick < 0 || l <= l_of(cs[pick].need, margin, cs[pick].s))) pick = (int)i;
    }
    if (pick < 0) pick = ref;
    unsigned L = l_of(cs[pick].need, margin, cs[pick].s), S = cs[pick].s;
    out->bits = L;
    out->scale = S;
    out->ref_scale = cs[ref].s;
    out->fallback = pick == ref;
    out->samples = cb->nsmp;
    out->rows = cb->rows;
    out->largest_output = big;
    out->recommended = (unsigned)pick;
    /* Check: every sample runs at (L, S) without wrap-around; the per-layer
     * head-room. The candidate's outputs are kept for the rows above. */
    cand again = {.s = S};
    if (cb->lmax) memset(cb->lmax, 0, cb->nlayers * sizeof *cb->lmax);
    qnet *best = NULL;
    int rc = run_cand(cb, &again, &best);
    mem_free(again.y);
    for (unsigned k = 0; k < cb->nsmp && rc == 0; k++) {
        qnet *net;
        nn_tensor y = {0};
        rc = quant_net(&net, cb->smp[k].g, L, S, 0);
        if (rc == 0) rc = ref_run_float_ex(net, &y, &cb->smp[k].x, 1);
        if (rc < 0) {
            if (o->input_names && o->input_names[k])
                rc = err_wrap(rc, "checking %s at (%u, %u)", o->input_names[k], L, S);
            else
                rc = err_wrap(rc, "checking input %u at (%u, %u)", k, L, S);
        }
        nn_tensor_free(&y);
        qnet_free(net);
    }
    if (rc == 0 && !best)
        rc = err_set(PARLEY_E_RANGE, "the recommendation (%u, %u) did not run exactly", L, S);
    if (rc == 0) rc = result(out, cb, cs, nc, margin, best);
    qnet_free(best);
    return rc;
}

int parley_calibrate(parley_calibration *c, const char *onnx_path, const parley_tensor *inputs,
                     unsigned n, const parley_calibrate_opts *o) {
    if (!c) return err_set(PARLEY_E_ARG, "the calibration (c) is NULL");
    memset(c, 0, sizeof *c);
    if (!onnx_path) return err_set(PARLEY_E_ARG, "the model's path (onnx_path) is NULL");
    if (!inputs || n == 0)
        return err_set(PARLEY_E_ARG, "no sample inputs: calibration needs at least one (--input)");
    if (n > MAX_INPUTS) return err_set(PARLEY_E_ARG, "%u sample inputs: at most %d", n, MAX_INPUTS);
    parley_calibrate_opts oo;
    parley_calibrate_opts_init(&oo);
    if (o) TRY(api_opts_in(&oo, sizeof oo, o, "parley_calibrate_opts"));
    TRY(check_opts(&oo));
    calib cb;
    memset(&cb, 0, sizeof cb);
    cand cs[32];
    memset(cs, 0, sizeof cs);
    int rc = calibrate(c, &cb, cs, onnx_path, inputs, n, &oo);
    for (unsigned i = 0; i < 32; i++)
        mem_free(cs[i].y);
    mem_free(cb.lmax);
    for (unsigned k = 0; k < cb.nsmp; k++)
        fgraph_free(cb.smp[k].g);
    if (rc < 0) parley_calibration_free(c);
    return rc < 0 ? rc : 0;
}

/* ---- the server's check of its (l, s) on sample inputs ---- */

/* Why the samples do not fit, with what parley_calibrate recommends on
 * them (the current message is sample k's range error). */
static int refuse_samples(const parley_model *m, const parley_tensor *x, unsigned n,
                          const char *const *names, const char *name) {
    char why[2048];
    snprintf(why, sizeof why, "%s", err_msg());
    unsigned l = m->net->l, s = m->net->s;
    if (!m->path)
        return err_set(PARLEY_E_RANGE,
                       "calibration sample %s does not fit (l, s) = (%u, %u): %s; run parley "
                       "calibrate (parley_calibrate) on the samples for a pair that holds them",
                       name, l, s, why);
    parley_calibrate_opts o;
    parley_calibrate_opts_init(&o);
    o.input_names = names;
    parley_calibration c;
    if (parley_calibrate(&c, m->path, x, n, &o) < 0)
        return err_set(PARLEY_E_RANGE,
                       "calibration sample %s does not fit (l, s) = (%u, %u): %s; and parley "
                       "calibrate finds no pair for the samples: %s",
                       name, l, s, why, err_msg());
    err_set(PARLEY_E_RANGE,
            "calibration sample %s does not fit (l, s) = (%u, %u): %s; on the %u sample%s "
            "parley calibrate recommends --bits %u --scale %u",
            name, l, s, why, n, n == 1 ? "" : "s", c.bits, c.scale);
    parley_calibration_free(&c);
    return PARLEY_E_RANGE;
}

/* One sample through the checked reference at m's (l, s), at its batch. */
static int check_sample(const parley_model *m, const nn_tensor *v, const char *name) {
    const qnet *net = m->net;
    qnet *at = NULL;
    const nn_shape *want = &net->t[net->input].shape;
    if (!nn_shape_eq(want, &v->shape) && m->path && v->shape.rank == want->rank &&
        v->shape.rank >= 2) { /* another batch of a model with a batch axis */
        int rc = api_model_at_batch(&at, m, v->shape.d[0]);
        if (rc < 0) return err_wrap(rc, "calibration sample %s", name);
        net = at;
        want = &net->t[net->input].shape;
    }
    int rc = 0;
    if (!nn_shape_eq(want, &v->shape)) {
        char a[128], b[128];
        rc = err_set(PARLEY_E_ARG, "calibration sample %s has shape %s, the model expects %s",
                     name, nn_shape_str(a, sizeof a, &v->shape), nn_shape_str(b, sizeof b, want));
    }
    size_t nin = net->t[net->input].size;
    uint64_t *xq = rc == 0 ? mem_alloc(nin, sizeof *xq) : NULL, *y = NULL;
    if (rc == 0 && !xq) rc = PARLEY_E_NOMEM;
    if (rc == 0) rc = qnet_encode_input(net, xq, v);
    if (rc == 0) rc = ref_run_checked(net, &y, xq);
    if (y) mem_free_wipe(y, net->t[net->output].size * sizeof *y);
    if (xq) mem_free_wipe(xq, nin * sizeof *xq);
    qnet_free(at);
    return rc;
}

int api_check_samples(const parley_model *m, const parley_tensor *x, unsigned n,
                      const char *const *names) {
    if (n > MAX_INPUTS)
        return err_set(PARLEY_E_ARG, "%u calibration samples: at most %d", n, MAX_INPUTS);
    if (n && !x) return err_set(PARLEY_E_ARG, "ncalibration is %u but calibration is NULL", n);
    for (unsigned k = 0; k < n; k++) {
        char name[300];
        if (names && names[k])
            snprintf(name, sizeof name, "'%s'", names[k]);
        else
            snprintf(name, sizeof name, "%u", k);
        nn_tensor v;
        char what[320];
        snprintf(what, sizeof what, "calibration sample %s", name);
        TRY(api_tensor_in(&v, &x[k], what));
        int rc = check_sample(m, &v, name);
        if (rc == PARLEY_E_RANGE) return refuse_samples(m, x, n, names, name);
        if (rc < 0) return rc;
    }
    return 0;
}
