/* `parley calibrate`: choose the ring width l and scale s for a model from
 * sample inputs. For each candidate s the model runs in the plaintext
 * fixed-point reference on exact 64-bit values (as `parley plain`'s range
 * check does), which gives the largest magnitude every layer forms (its
 * values, and an average pool's window sums) and so the l that holds them;
 * the output is compared with the run at the largest s that fits 64 bits,
 * which stands in for real arithmetic (its error is about 2^-s_max). The
 * recommendation is the smallest l, with `--margin` bits of head-room over
 * the samples, whose s keeps the output error within `--tolerance` of the
 * largest output and every sample's top-1 label; it is then checked: each
 * sample runs at (l, s) without wrap-around. docs/MODELS.md, "Choosing
 * (l, s)". */
#include "cli/cli.h"

#include "nn/kind.h"
#include "nn/model.h"
#include "nn/npy.h"
#include "nn/ref.h"
#include "util/bits.h"
#include "util/mem.h"
#include "util/opt.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char calibrate_usage[] =
    "usage: parley calibrate --model M.onnx --input x.npy [--input y.npy ...] [options]\n"
    "\n"
    "Runs the model on the sample inputs in fixed point at candidate scales s and\n"
    "recommends the smallest ring width l (--bits) and a scale s (--scale) such that\n"
    "no value any layer forms on the samples comes within --margin bits of\n"
    "wrapping around, and the output stays within --tolerance of the most precise\n"
    "run (the largest s that fits 64 bits) with the same top-1 labels. Prints the\n"
    "reasoning: per candidate s, the l it needs and its error; per layer at the\n"
    "recommendation, the largest magnitude and the head-room left.\n"
    "\n"
    "options:\n"
    "  --input X.npy     a sample input (a batch is many samples); repeatable\n"
    "  --margin B        head-room over the samples' largest values, in bits (default 2)\n"
    "  --tolerance T     largest output error allowed, relative to the largest\n"
    "                    output magnitude (default 0.01)\n"
    "  --smin S, --smax S  the candidate scales (default 4..24)\n"
    "  --quiet           print the recommendation only\n"
    "\n"
    "Exit status: 0, 1 if the model or an input cannot be used, 2 for bad options.\n";

#define MAX_INPUTS 64

typedef struct sample {
    fgraph *g; /* the model imported at this input's batch */
    nn_tensor x;
} sample;

/* One candidate s over all samples. */
typedef struct cand {
    unsigned s;
    int ok;        /* every value fitted 62 bits exactly */
    unsigned need; /* bits the largest value needs (sign included) */
    double err;    /* largest |y - y_ref| over all outputs */
    unsigned top1; /* samples whose top-1 equals the reference's */
    float *y;      /* the outputs of all samples, concatenated */
} cand;

/* The bits a magnitude needs in a signed ring: log2 and a sign bit. */
static unsigned bits_for(uint64_t m) {
    unsigned b = 1;
    while (b < 64 && (m >> (b - 1)) != 0)
        b++;
    return b;
}

static uint64_t max_abs64(const uint64_t *v, size_t n) {
    uint64_t m = 0;
    for (size_t i = 0; i < n; i++) {
        int64_t a = (int64_t)v[i];
        uint64_t u = a < 0 ? -(uint64_t)a : (uint64_t)a;
        if (u > m) m = u;
    }
    return m;
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
            double m = (double)max_abs64(st.buf[L->in[j]], net->t[L->in[j]].size);
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
        uint64_t m = max_abs64(st.buf[L->out], net->t[L->out].size);
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
        TRY(quant_net(&net, cb->smp[k].g, 64, c->s, 0));
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
        if (rc == 1) c->ok = 0;
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

int cli_calibrate(int argc, char **argv); /* registered in main.c */

int cli_calibrate(int argc, char **argv) {
    const char *model = NULL, *inputs[MAX_INPUTS];
    unsigned nin = 0, margin = 2, smin = 4, smax = 24;
    double tol = 0.01;
    int quiet = 0;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
            fputs(calibrate_usage, stdout);
            return 0;
        }
        if (!strcmp(a, "--quiet")) {
            quiet = 1;
            continue;
        }
        if (i + 1 >= argc) {
            fprintf(stderr, "parley calibrate: option %s needs a value\n%s", a, calibrate_usage);
            return 2;
        }
        const char *v = argv[++i];
        char *end;
        if (!strcmp(a, "--model"))
            model = v;
        else if (!strcmp(a, "--input") && nin < MAX_INPUTS)
            inputs[nin++] = v;
        else if (!strcmp(a, "--margin") && opt_uint(v, 0, 16, &margin) == 0)
            continue;
        else if (!strcmp(a, "--smin") && opt_uint(v, 1, 31, &smin) == 0)
            continue;
        else if (!strcmp(a, "--smax") && opt_uint(v, 1, 31, &smax) == 0)
            continue;
        else if (!strcmp(a, "--tolerance") &&
                 (tol = strtod(v, &end), *end == 0 && tol > 0 && tol < 1))
            continue;
        else {
            fprintf(stderr, "parley calibrate: bad option or value: %s %s\n%s", a, v,
                    calibrate_usage);
            return 2;
        }
    }
    if (!model || !nin || smin > smax) {
        fprintf(stderr, "parley calibrate: --model and at least one --input are required%s\n%s",
                smin > smax ? ", and --smin <= --smax" : "", calibrate_usage);
        return 2;
    }
    calib cb = {0};
    cand cs[32] = {{0}};
    unsigned nc = 0;
    qnet *best_net = NULL;
    int rc = 0;
    for (unsigned k = 0; k < nin && rc == 0; k++) {
        sample *sm = &cb.smp[cb.nsmp];
        rc = npy_load(&sm->x, inputs[k]);
        onnx_opts o = {.batch = sm->x.shape.rank ? sm->x.shape.d[0] : 1};
        if (rc == 0) rc = onnx_import_file(&sm->g, model, &o);
        if (rc == 0)
            cb.nsmp++;
        else
            nn_tensor_free(&sm->x);
    }
    /* The output's layout, from a run at the smallest candidate. */
    for (unsigned s = smin; s <= smax && rc == 0; s++) {
        cand *c = &cs[nc++];
        c->s = s;
        if (nc == 1) {
            size_t n = 0;
            for (unsigned k = 0; k < cb.nsmp && rc == 0; k++) {
                qnet *net;
                rc = quant_net(&net, cb.smp[k].g, 64, s, 0);
                if (rc < 0) break;
                const qtensor *T = &net->t[net->output];
                n += T->size;
                cb.cols = T->shape.rank ? T->shape.d[T->shape.rank - 1] : 1;
                cb.labels = T->scale == 0;
                qnet_free(net);
            }
            cb.nout = n;
            cb.rows = cb.cols ? n / cb.cols : 0;
        }
        if (rc == 0) {
            if (cb.lmax) memset(cb.lmax, 0, cb.nlayers * sizeof *cb.lmax);
            rc = run_cand(&cb, c, NULL);
        }
    }
    /* The reference: the largest s that ran exactly with room in 64 bits. */
    int ref = -1;
    for (unsigned i = 0; i < nc && rc == 0; i++)
        if (cs[i].ok && l_of(cs[i].need, margin, cs[i].s) <= 64) ref = (int)i;
    if (rc == 0 && ref < 0)
        rc = err_set(PARLEY_E_RANGE,
                     "no scale in %u..%u keeps the samples' values within 64 bits with %u bits of "
                     "margin: the inputs or the weights are too large for fixed point",
                     smin, smax, margin);
    int pick = -1;
    double big = 0;
    if (rc == 0) {
        for (size_t i = 0; i < cb.nout; i++)
            big = fmax(big, fabs((double)cs[ref].y[i]));
        for (unsigned i = 0; i < nc; i++) {
            if (!cs[i].ok) continue;
            compare(&cb, &cs[i], &cs[ref]);
            unsigned l = l_of(cs[i].need, margin, cs[i].s);
            int good = l <= 64 && cs[i].err <= tol * big && cs[i].top1 == cb.rows;
            if (good && (pick < 0 || l <= l_of(cs[pick].need, margin, cs[pick].s))) pick = (int)i;
        }
        if (pick < 0) pick = ref;
    }
    unsigned L = 0, S = 0;
    if (rc == 0) {
        S = cs[pick].s;
        L = l_of(cs[pick].need, margin, S);
        if (!quiet) {
            printf("parley calibrate: %s on %u input file%s (%zu output rows), candidate s = "
                   "%u..%u, margin %u bits, tolerance %g of the largest output (%.4g)\n",
                   model, cb.nsmp, cb.nsmp == 1 ? "" : "s", cb.rows, smin, smax, margin, tol, big);
            printf("  reference: s = %u at l = 64 (stands in for real arithmetic)\n", cs[ref].s);
            printf("  %4s %10s %8s %14s %10s %8s\n", "s", "max bits", "l", "max error", "relative",
                   "top-1");
            for (unsigned i = 0; i < nc; i++) {
                if (!cs[i].ok) {
                    printf("  %4u %10s %8s   (values reach 2^62: out of range)\n", cs[i].s, "-",
                           "-");
                    continue;
                }
                printf("  %4u %10u %8u %14.4g %9.3g%% %4u/%-4zu%s\n", cs[i].s, cs[i].need,
                       l_of(cs[i].need, margin, cs[i].s), cs[i].err,
                       big > 0 ? 100 * cs[i].err / big : 0.0, cs[i].top1, cb.rows,
                       (int)i == pick ? "  <- recommended" : "");
            }
            printf("  the smallest l whose s keeps the error within %g%% and every top-1 label is "
                   "l = %u with s = %u%s\n",
                   100 * tol, L, S,
                   pick == ref ? " (no candidate met the tolerance: the most precise one)" : "");
        }
    }
    /* Check: every sample runs at (L, S) without wrap-around; the per-layer
     * head-room. */
    if (rc == 0) {
        if (cb.lmax) memset(cb.lmax, 0, cb.nlayers * sizeof *cb.lmax);
        mem_free(cs[pick].y);
        cs[pick].y = NULL;
        rc = run_cand(&cb, &cs[pick], &best_net);
    }
    for (unsigned k = 0; k < cb.nsmp && rc == 0; k++) {
        qnet *net;
        nn_tensor y = {0};
        rc = quant_net(&net, cb.smp[k].g, L, S, 0);
        if (rc == 0) rc = ref_run_float_ex(net, &y, &cb.smp[k].x, 1);
        if (rc < 0) rc = err_wrap(rc, "checking %s at (%u, %u)", inputs[k], L, S);
        nn_tensor_free(&y);
        qnet_free(net);
    }
    if (rc == 0 && !quiet && best_net) {
        printf("  per layer at (%u, %u) on the samples (head-room: bits left of l before a value "
               "wraps):\n",
               L, S);
        for (unsigned i = 0; i < best_net->nlayers; i++) {
            const qlayer *Ly = &best_net->layers[i];
            unsigned sc = best_net->t[Ly->out].scale, b = bits_for(cb.lmax[i]);
            printf("    %3u %-14s %-32.32s max |v| %-10.4g bits %2u head-room %2d\n", i,
                   qop_name(Ly->op), Ly->name ? Ly->name : "", ldexp((double)cb.lmax[i], -(int)sc),
                   b, (int)L - (int)b);
        }
        printf("  checked: every sample runs at (%u, %u) without wrap-around\n", L, S);
    }
    if (rc == 0) printf("--bits %u --scale %u\n", L, S);
    if (rc < 0) fprintf(stderr, "parley calibrate: %s\n", err_msg());
    qnet_free(best_net);
    for (unsigned i = 0; i < nc; i++)
        mem_free(cs[i].y);
    mem_free(cb.lmax);
    for (unsigned k = 0; k < cb.nsmp; k++) {
        fgraph_free(cb.smp[k].g);
        nn_tensor_free(&cb.smp[k].x);
    }
    return rc < 0 ? 1 : 0;
}
