/* `parley inspect`: what a model is and what a secure inference of it will
 * cost, without running one. Loads the model as `parley serve` does, lists
 * its layers (kind, node, output shape, multiply-accumulates, ReLUs), and
 * gives nn/cost's prediction of the traffic in OT and in HE mode: exact
 * bytes, both directions, per layer, by layer kind and in all. */
#include "cli/cli.h"

#include "he/he.h"
#include "net/link.h"
#include "nn/cost.h"
#include "nn/hello.h"
#include "nn/model.h"
#include "nn/predict.h"
#include "ot/lane.h"
#include "util/mem.h"
#include "util/opt.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char inspect_usage[] =
    "usage: parley inspect M.onnx [options]\n"
    "\n"
    "Lists the model's layers (kind, node, output shape, multiply-accumulates,\n"
    "ReLUs), its parameter, MAC and ReLU counts, and the traffic a secure\n"
    "inference would move in OT and in HE mode: exact bytes, both directions,\n"
    "per layer, by layer kind and in all, predicted from the architecture alone\n"
    "(nothing is run).\n"
    "\n"
    "options:\n"
    "  --bits L                ring width l, 8..64 (default 37)\n"
    "  --scale S               fixed-point scale s, 1..(l - 2) / 2 (default 12)\n"
    "  --wbits W               the public weight width, 1..l (default s + 4: real\n"
    "                          weights in (-8, 8)), as serve would use it\n"
    "  --threads T             lanes of the secure run, 1..64 (default 2)\n"
    "  --reveal logits|label   what the client learns (default logits)\n"
    "  --ot silent|iknp        OT backend of the secure run (default silent): silent OT\n"
    "                          figures are the OTs' exact bytes plus the COTs' making,\n"
    "                          amortised (a run pays it in whole batches: up to one batch\n"
    "                          of 430560 bytes more per lane and direction)\n"
    "  --net RTT_MS,MBYTES_PER_S  also predict the time of the inference over a link\n"
    "                          of that round trip and rate per direction (MB = 10^6\n"
    "                          bytes), or loopback, lan (0.8,377) or wan (80,40):\n"
    "                          compute (rates calibrated on this machine) + transfer\n"
    "                          (bytes / rate) + critical flights x one-way latency\n"
    "                          (docs/NETWORK.md)\n"
    "  --json                  print one JSON object instead of the tables\n"
    "\n"
    "Exit status: 0, 1 if the model cannot be loaded, 2 for bad options.\n";

typedef struct inspect_opts {
    const char *model;
    unsigned l, s, lanes, wbits;
    int reveal_label, json, ot;
    int have_net; /* --net given */
    predict_net net;
    size_t public_bytes; /* the public model's encoding (qnet_public_encode) */
} inspect_opts;

/* 0 ok, 1 --help shown, 2 error shown. */
static int parse(inspect_opts *o, int argc, char **argv) {
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
            fputs(inspect_usage, stdout);
            return 1;
        }
        if (!strcmp(a, "--json")) {
            o->json = 1;
            continue;
        }
        if (strncmp(a, "--", 2) != 0) {
            if (o->model) {
                fprintf(stderr, "parley inspect: one model only, got '%s' too\n%s", a,
                        inspect_usage);
                return 2;
            }
            o->model = a;
            continue;
        }
        int known = !strcmp(a, "--bits") || !strcmp(a, "--scale") || !strcmp(a, "--threads") ||
                    !strcmp(a, "--reveal") || !strcmp(a, "--ot") || !strcmp(a, "--wbits") ||
                    !strcmp(a, "--net");
        if (!known) {
            fprintf(stderr, "parley inspect: unknown option %s\n%s", a, inspect_usage);
            return 2;
        }
        if (i + 1 >= argc) {
            fprintf(stderr, "parley inspect: option %s needs a value\n", a);
            return 2;
        }
        const char *v = argv[++i];
        int bad = 0;
        if (!strcmp(a, "--bits")) /* the domain is checked below, with its message */
            bad = opt_uint(v, 0, 1u << 16, &o->l);
        else if (!strcmp(a, "--scale"))
            bad = opt_uint(v, 0, 1u << 16, &o->s);
        else if (!strcmp(a, "--wbits"))
            bad = opt_uint(v, 1, 64, &o->wbits);
        else if (!strcmp(a, "--threads"))
            bad = opt_uint(v, 1, LANES_MAX, &o->lanes);
        else if (!strcmp(a, "--ot"))
            bad = (o->ot = ot_backend_parse(v)) < 0 ? -1 : 0;
        else if (!strcmp(a, "--net")) {
            if (predict_net_parse(&o->net, v) < 0) {
                fprintf(stderr, "parley inspect: %s\n%s", err_msg(), inspect_usage);
                return 2;
            }
            o->have_net = 1;
        } else if (!strcmp(v, "logits") || !strcmp(v, "label"))
            o->reveal_label = !strcmp(v, "label");
        else
            bad = -1;
        if (bad) {
            fprintf(stderr, "parley inspect: bad value '%s' for %s\n%s", v, a, inspect_usage);
            return 2;
        }
    }
    if (!o->model) {
        fprintf(stderr, "parley inspect: which model?\n%s", inspect_usage);
        return 2;
    }
    if (quant_check_ls(o->l, o->s) < 0) {
        fprintf(stderr, "parley inspect: %s\n", err_msg());
        return 2;
    }
    return 0;
}

/* Per-layer sizes, as qnet_stats_get counts them. */
static uint64_t layer_macs(const qnet *net, const qlayer *L) {
    qnet_stats st;
    qlayer_stats(&st, net, L);
    return st.macs;
}

static uint64_t layer_relus(const qnet *net, const qlayer *L) {
    qnet_stats st;
    qlayer_stats(&st, net, L);
    return st.relus;
}

/* 1234567 -> "1.18 MiB". */
static const char *human(char *buf, size_t cap, uint64_t b) {
    static const char *const unit[] = {"B", "KiB", "MiB", "GiB", "TiB"};
    double v = (double)b;
    int u = 0;
    while (v >= 1024 && u < 4) {
        v /= 1024;
        u++;
    }
    if (u == 0)
        snprintf(buf, cap, "%llu B", (unsigned long long)b);
    else
        snprintf(buf, cap, "%.2f %s", v, unit[u]);
    return buf;
}

/* 1234567 -> "1.23 M". */
static const char *count_str(char *buf, size_t cap, uint64_t n) {
    if (n < 10000)
        snprintf(buf, cap, "%llu", (unsigned long long)n);
    else if (n < 1000000)
        snprintf(buf, cap, "%.1f k", (double)n / 1e3);
    else if (n < 1000000000)
        snprintf(buf, cap, "%.2f M", (double)n / 1e6);
    else
        snprintf(buf, cap, "%.2f G", (double)n / 1e9);
    return buf;
}

/* One mode's prediction, or why there is none. */
typedef struct mode_cost {
    int ok;
    cost_report r;
    predict_time t; /* with --net */
    char why[512];
} mode_cost;

static int predict(mode_cost *m, const qnet *net, const inspect_opts *o, int mode) {
    cost_opts co = {.mode = mode, .lanes = o->lanes, .reveal_label = o->reveal_label, .ot = o->ot};
    int rc = cost_predict(&m->r, net, &co);
    m->ok = rc == 0;
    if (rc == PARLEY_E_UNSUPPORTED) { /* a fact about the model, not a failure */
        snprintf(m->why, sizeof m->why, "%s", err_msg());
        return 0;
    }
    if (rc == 0 && o->have_net) rc = predict_time_of(&m->t, &m->r, net, &co, &o->net);
    return rc;
}

static void json_mode(FILE *f, const char *key, const mode_cost *m) {
    fprintf(f, ",\"%s\":{", key);
    if (!m->ok) {
        fprintf(f, "\"supported\":false,\"error\":");
        cli_json_str(f, m->why);
        fputc('}', f);
        return;
    }
    const cost_report *r = &m->r;
    fprintf(f,
            "\"supported\":true,\"bytes\":%llu,\"setup_bytes\":%llu,\"cots\":%llu,"
            "\"cot_making_bytes\":%llu,\"input_bytes\":%llu,"
            "\"linear_bytes\":%llu,\"nonlinear_bytes\":%llu,\"label_bytes\":%llu,"
            "\"reveal_bytes\":%llu,\"critical_flights\":%llu,",
            (unsigned long long)(r->total + r->gen), (unsigned long long)r->setup,
            (unsigned long long)r->cots, (unsigned long long)r->gen,
            (unsigned long long)r->input, (unsigned long long)r->linear,
            (unsigned long long)r->nonlinear, (unsigned long long)r->label,
            (unsigned long long)r->reveal, (unsigned long long)r->flights);
    if (!strcmp(key, "he")) {
        const he_params *P = he_params_get();
        fprintf(f,
                "\"returned_coefficients\":%llu,\"statistical_bits\":%.2f,"
                "\"computational_bits\":%d,\"ring\":{\"N\":%u,\"log2_q\":%.2f},",
                (unsigned long long)r->he_outputs, r->he_stat_bits, HE_COMP_BITS, HE_N, P->log2Q);
    }
    fprintf(f, "\"by_kind\":{");
    int first = 1;
    for (int op = 1; op < QOP_END_; op++)
        if (r->by_kind[op]) {
            fprintf(f, "%s\"%s\":%llu", first ? "" : ",", qop_name((qop)op),
                    (unsigned long long)r->by_kind[op]);
            first = 0;
        }
    fputc('}', f);
    if (m->t.layer)
        fprintf(f,
                ",\"predicted_seconds\":%.3f,\"compute_seconds\":%.3f,\"transfer_seconds\":%.3f,"
                "\"latency_seconds\":%.3f",
                m->t.total, m->t.compute, m->t.transfer, m->t.latency);
    fputc('}', f);
}

static void print_json(FILE *f, const qnet *net, const inspect_opts *o, const qnet_stats *st,
                       const mode_cost *m) {
    char sh[256];
    const qtensor *in = &net->t[net->input], *out = &net->t[net->output];
    fprintf(f, "{\"model\":");
    cli_json_str(f, o->model);
    /* "ot_backend": "ot" is the OT mode's object below */
    fprintf(f, ",\"bits\":%u,\"scale\":%u,\"threads\":%u,\"reveal\":\"%s\",\"ot_backend\":\"%s\",",
            net->l, net->s, o->lanes, o->reveal_label ? "label" : "logits", ot_backend_name(o->ot));
    if (o->have_net)
        fprintf(f, "\"net\":{\"rtt_ms\":%g,\"mbytes_per_s\":%g},", o->net.rtt_ms,
                o->net.mbytes_per_s);
    fprintf(f, "\"input\":{\"name\":");
    cli_json_str(f, in->name);
    fprintf(f, ",\"shape\":%s},\"output\":{\"name\":", nn_shape_str(sh, sizeof sh, &in->shape));
    cli_json_str(f, out->name);
    fprintf(f,
            ",\"shape\":%s},\"layers_count\":%u,\"params\":%llu,\"macs\":%llu,\"relus\":%llu,"
            "\"public_model_bytes\":%zu,\"layers\":[",
            nn_shape_str(sh, sizeof sh, &out->shape), net->nlayers, (unsigned long long)st->weights,
            (unsigned long long)st->macs, (unsigned long long)st->relus, o->public_bytes);
    for (unsigned i = 0; i < net->nlayers; i++) {
        const qlayer *L = &net->layers[i];
        fprintf(f, "%s{\"index\":%u,\"op\":\"%s\",\"name\":", i ? "," : "", i + 1, qop_name(L->op));
        cli_json_str(f, L->name);
        fprintf(f, ",\"shape\":%s,\"macs\":%llu,\"relus\":%llu",
                nn_shape_str(sh, sizeof sh, &net->t[L->out].shape),
                (unsigned long long)layer_macs(net, L), (unsigned long long)layer_relus(net, L));
        static const char *const key[2] = {"ot_bytes", "he_bytes"};
        static const char *const fkey[2] = {"ot_flights", "he_flights"};
        for (int k = 0; k < 2; k++)
            if (m[k].ok) {
                fprintf(f, ",\"%s\":%llu,\"%s\":%llu", key[k], (unsigned long long)m[k].r.layer[i],
                        fkey[k], (unsigned long long)m[k].r.layer_flights[i]);
                if (m[k].t.layer)
                    fprintf(f, ",\"%s_seconds\":%.4f", k ? "he" : "ot", m[k].t.layer[i]);
            }
        if (m[0].ok && o->ot == OT_BACKEND_SILENT)
            fprintf(f, ",\"cots\":%llu", (unsigned long long)m[0].r.layer_cots[i]);
        fputc('}', f);
    }
    fputc(']', f);
    json_mode(f, "ot", &m[0]);
    json_mode(f, "he", &m[1]);
    fprintf(f, "}\n");
}

/* A byte column: the figure, or "-" where the mode cannot run the model. */
static const char *cell(char *buf, size_t cap, const mode_cost *m, uint64_t b) {
    if (!m->ok) return "-";
    return human(buf, cap, b);
}

static void print_text(FILE *f, const qnet *net, const inspect_opts *o, const qnet_stats *st,
                       const mode_cost *m) {
    char a[64], b[64], c[64], d[64], sh[256];
    const qtensor *in = &net->t[net->input], *out = &net->t[net->output];
    fprintf(f, "%s: %u layers, l = %u, s = %u\n", o->model, net->nlayers, net->l, net->s);
    fprintf(f, "input %s %s, output %s %s\n\n", in->name, nn_shape_str(a, sizeof a, &in->shape),
            out->name, nn_shape_str(b, sizeof b, &out->shape));
    fprintf(f, "%5s  %-10s %-28s %-18s %10s %10s %12s %12s\n", "#", "kind", "node", "output",
            "MACs", "ReLUs", "OT", "HE");
    for (unsigned i = 0; i < net->nlayers; i++) {
        const qlayer *L = &net->layers[i];
        fprintf(f, "%5u  %-10s %-28.28s %-18s %10s %10s %12s %12s\n", i + 1, qop_name(L->op),
                L->name ? L->name : "", nn_shape_str(sh, sizeof sh, &net->t[L->out].shape),
                count_str(a, sizeof a, layer_macs(net, L)),
                count_str(b, sizeof b, layer_relus(net, L)),
                cell(c, sizeof c, &m[0], m[0].ok ? m[0].r.layer[i] : 0),
                cell(d, sizeof d, &m[1], m[1].ok ? m[1].r.layer[i] : 0));
    }
    fprintf(f, "\nparameters %s, MACs %s, ReLUs %s\n", count_str(a, sizeof a, st->weights),
            count_str(b, sizeof b, st->macs), count_str(c, sizeof c, st->relus));
    fprintf(f,
            "\npredicted traffic of a secure inference, %u lane%s, revealing the %s, %s OT\n"
            "(exact bytes, both directions together%s):\n",
            o->lanes, o->lanes > 1 ? "s" : "", o->reveal_label ? "label" : "logits",
            ot_backend_name(o->ot),
            o->ot == OT_BACKEND_SILENT ? "; the silent COTs' making amortised" : "");
    fprintf(f, "  %-22s %6s %14s %14s\n", "", "count", "OT mode", "HE mode");
    unsigned cnt[QOP_END_] = {0};
    for (unsigned i = 0; i < net->nlayers; i++)
        cnt[net->layers[i].op]++;
    for (int op = 1; op < QOP_END_; op++) {
        if (!cnt[op]) continue;
        fprintf(f, "  %-22s %6u %14s %14s\n", qop_name((qop)op), cnt[op],
                cell(a, sizeof a, &m[0], m[0].r.by_kind[op]),
                cell(b, sizeof b, &m[1], m[1].r.by_kind[op]));
    }
    fprintf(f, "  %-22s %6s %14s %14s\n", "input sharing", "",
            cell(a, sizeof a, &m[0], m[0].r.input), cell(b, sizeof b, &m[1], m[1].r.input));
    if (o->reveal_label)
        fprintf(f, "  %-22s %6s %14s %14s\n", "argmax (label)", "",
                cell(a, sizeof a, &m[0], m[0].r.label), cell(b, sizeof b, &m[1], m[1].r.label));
    fprintf(f, "  %-22s %6s %14s %14s\n", "output reveal", "",
            cell(a, sizeof a, &m[0], m[0].r.reveal), cell(b, sizeof b, &m[1], m[1].r.reveal));
    if (o->ot == OT_BACKEND_SILENT)
        fprintf(f, "  %-22s %6s %14s %14s\n", "silent COTs' making", "",
                cell(a, sizeof a, &m[0], m[0].r.gen), cell(b, sizeof b, &m[1], m[1].r.gen));
    fprintf(f, "  %-22s %6s %14s %14s\n", "total (inference)", "",
            cell(a, sizeof a, &m[0], m[0].r.total + m[0].r.gen),
            cell(b, sizeof b, &m[1], m[1].r.total + m[1].r.gen));
    fprintf(f, "  %-22s %6s %14s %14s\n", "set-up (OT, HE keys)", "",
            cell(a, sizeof a, &m[0], m[0].r.setup), cell(b, sizeof b, &m[1], m[1].r.setup));
    fprintf(f,
            "  (and on the control connection: the public model, %zu bytes, hellos and reports)\n",
            o->public_bytes);
    snprintf(a, sizeof a, "%llu", (unsigned long long)m[0].r.flights);
    snprintf(b, sizeof b, "%llu", (unsigned long long)m[1].r.flights);
    fprintf(f, "  %-22s %6s %14s %14s\n", "critical flights", "", m[0].ok ? a : "-",
            m[1].ok ? b : "-");
    if (o->have_net) {
        fprintf(f,
                "\npredicted time over a link of %g ms round trip and %g MB/s each way\n"
                "(compute + transfer + critical flights x one-way latency; docs/NETWORK.md):\n",
                o->net.rtt_ms, o->net.mbytes_per_s);
        static const char *const row[4] = {"compute", "transfer", "latency", "total"};
        for (int k = 0; k < 4; k++) {
            double v[2];
            for (int j = 0; j < 2; j++)
                v[j] = k == 0   ? m[j].t.compute
                       : k == 1 ? m[j].t.transfer
                       : k == 2 ? m[j].t.latency
                                : m[j].t.total;
            snprintf(a, sizeof a, "%.2f s", v[0]);
            snprintf(b, sizeof b, "%.2f s", v[1]);
            fprintf(f, "  %-22s %6s %14s %14s\n", row[k], "", m[0].ok ? a : "-", m[1].ok ? b : "-");
        }
    }
    if (m[1].ok) {
        const he_params *P = he_params_get();
        fprintf(f,
                "HE mode security: %.1f bits statistical for the whole inference (union bound\n"
                "  over its %llu returned coefficients), %d bits computational (RLWE, N = %u,\n"
                "  log2 Q = %.0f)\n",
                m[1].r.he_stat_bits, (unsigned long long)m[1].r.he_outputs, HE_COMP_BITS, HE_N,
                P->log2Q);
    }
    for (int k = 0; k < 2; k++)
        if (!m[k].ok) fprintf(f, "%s mode cannot run this model: %s\n", k ? "HE" : "OT", m[k].why);
}

int cli_inspect(int argc, char **argv) {
    inspect_opts o = {.l = 37, .s = 12, .lanes = 2, .ot = OT_BACKEND_DEFAULT};
    int pr = parse(&o, argc, argv);
    if (pr) return pr == 1 ? 0 : 2;
    qnet *net = NULL;
    char *notes = NULL;
    mode_cost m[2];
    memset(m, 0, sizeof m);
    nn_model_opts mo = {.l = o.l, .s = o.s, .batch = 1, .wbits = o.wbits};
    int rc = nn_model_load_opts(&net, &notes, o.model, &mo);
    if (rc == 0 && notes) fprintf(stderr, "parley inspect: %s", notes);
    if (rc == 0) {
        uint8_t *pub = NULL;
        rc = qnet_public_encode(net, &pub, &o.public_bytes);
        mem_free(pub);
    }
    if (rc == 0) rc = predict(&m[0], net, &o, MODE_OT);
    if (rc == 0) rc = predict(&m[1], net, &o, MODE_HE);
    if (rc == 0) {
        qnet_stats st;
        qnet_stats_get(&st, net);
        if (o.json)
            print_json(stdout, net, &o, &st, m);
        else
            print_text(stdout, net, &o, &st, m);
        if (fflush(stdout) != 0 || ferror(stdout))
            rc = err_set(PARLEY_E_IO, "writing the report: %s", strerror(errno));
    }
    if (rc < 0) fprintf(stderr, "parley inspect: %s\n", err_msg());
    cost_report_free(&m[0].r);
    cost_report_free(&m[1].r);
    predict_time_free(&m[0].t);
    predict_time_free(&m[1].t);
    mem_free(notes);
    qnet_free(net);
    return rc < 0 ? 1 : 0;
}
