/* `parley inspect`: what a model is and what a secure inference of it will
 * cost, without running one. Loads the model as `parley serve` does, lists
 * its layers (kind, node, output shape, multiply-accumulates, ReLUs), and
 * gives the predicted traffic (parley_model_predict) in OT and in HE mode:
 * exact bytes, both directions, per layer, by layer kind and in all. */
#include "cli.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <stddef.h>
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
    "                          amortised (a run pays it in whole batches: at most one\n"
    "                          of 205920 bytes more per lane and direction)\n"
    "  --leaves cot|vole4      silent OT: the comparisons' leaf OTs on COTs (default)\n"
    "                          or on 4-bit VOLE (as serve --leaves)\n"
    "  --net RTT_MS,MBYTES_PER_S  also predict the time of the inference over a link\n"
    "                          of that round trip and rate per direction (MB = 10^6\n"
    "                          bytes), or RTT_MS,UP,DOWN for a link whose directions\n"
    "                          differ (up: client to server; 0: unlimited), or\n"
    "                          loopback, lan (0.8,377) or wan (80,40): compute (rates\n"
    "                          calibrated on this machine) + transfer (each party's\n"
    "                          bytes over its direction's rate) + critical flights x\n"
    "                          one-way latency (docs/NETWORK.md)\n"
    "  --json                  print one JSON object instead of the tables\n"
    "\n"
    "Exit status: 0, 1 if the model cannot be loaded, 2 for bad options.\n";

typedef struct inspect_opts {
    const char *model;
    unsigned l, s, lanes, wbits;
    int reveal_label, json, ot, leaves;
    int have_net; /* --net given */
    parley_link net;
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
                    !strcmp(a, "--leaves") ||
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
            bad = opt_uint(v, 1, PARLEY_MAX_THREADS, &o->lanes);
        else if (!strcmp(a, "--ot"))
            bad = (o->ot = cli_ot_parse(v)) < 0 ? -1 : 0;
        else if (!strcmp(a, "--leaves"))
            bad = (o->leaves = cli_leaves_parse(v)) < 0 ? -1 : 0;
        else if (!strcmp(a, "--net")) {
            if (parley_link_parse(&o->net, v) < 0) {
                fprintf(stderr, "parley inspect: %s\n%s", parley_last_error(), inspect_usage);
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
    if (parley_check_ring(o->l, o->s) < 0) {
        fprintf(stderr, "parley inspect: %s\n", parley_last_error());
        return 2;
    }
    if (o->leaves == PARLEY_LEAVES_VOLE4 && o->ot != PARLEY_OT_SILENT) {
        fprintf(stderr, "parley inspect: --leaves vole4 needs --ot silent\n%s", inspect_usage);
        return 2;
    }
    return 0;
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

/* The model's layers, and the kinds in the order they first appear, each
 * with its count and its layers' bytes in each mode. */
typedef struct kinds {
    unsigned n;
    const char **kind; /* n */
    unsigned *count;
    uint64_t (*bytes)[2];
} kinds;

typedef struct model_view {
    parley_model_info info;
    parley_layer_info *layer; /* info.layers */
    parley_prediction p[2];   /* OT, HE */
    kinds k;
} model_view;

static int view_make(model_view *v, const parley_model *m, const inspect_opts *o) {
    v->info.size = sizeof v->info;
    TRY_CLI(parley_model_describe_brief(m, &v->info));
    unsigned n = v->info.layers;
    v->layer = calloc(n ? n : 1, sizeof *v->layer);
    v->k.kind = calloc(n ? n : 1, sizeof *v->k.kind);
    v->k.count = calloc(n ? n : 1, sizeof *v->k.count);
    v->k.bytes = calloc(n ? n : 1, sizeof *v->k.bytes);
    if (!v->layer || !v->k.kind || !v->k.count || !v->k.bytes) return PARLEY_E_NOMEM;
    for (int mode = 0; mode < 2; mode++)
        TRY_CLI(parley_model_predict(m, mode ? PARLEY_MODE_HE : PARLEY_MODE_OT,
                                     o->have_net ? &o->net : NULL, &v->p[mode]));
    for (unsigned i = 0; i < n; i++) {
        v->layer[i].size = sizeof v->layer[i];
        TRY_CLI(parley_model_layer(m, i, &v->layer[i]));
        unsigned j = 0;
        while (j < v->k.n && strcmp(v->k.kind[j], v->layer[i].kind))
            j++;
        if (j == v->k.n) v->k.kind[v->k.n++] = v->layer[i].kind;
        v->k.count[j]++;
        for (int mode = 0; mode < 2; mode++)
            if (v->p[mode].supported) v->k.bytes[j][mode] += v->p[mode].layer_bytes[i];
    }
    return 0;
}

static void view_free(model_view *v) {
    free(v->layer);
    free(v->k.kind);
    free(v->k.count);
    free(v->k.bytes);
    parley_prediction_free(&v->p[0]);
    parley_prediction_free(&v->p[1]);
}

/* The link's rate up (client to server) and down, MB/s (0: unlimited). */
static double link_up(const parley_link *l) {
    return l->up_mbytes_per_s > 0 ? l->up_mbytes_per_s : l->mbytes_per_s;
}
static double link_down(const parley_link *l) {
    return l->down_mbytes_per_s > 0 ? l->down_mbytes_per_s : l->mbytes_per_s;
}

/* "40 MB/s" or "unlimited". */
static const char *rate_str(char *buf, size_t n, double r) {
    if (r > 0)
        snprintf(buf, n, "%g MB/s", r);
    else
        snprintf(buf, n, "unlimited");
    return buf;
}

static void json_mode(FILE *f, const char *key, const model_view *v, int mode) {
    const parley_prediction *p = &v->p[mode];
    fprintf(f, ",\"%s\":{", key);
    if (!p->supported) {
        fprintf(f, "\"supported\":false,\"error\":");
        cli_json_str(f, p->why);
        fputc('}', f);
        return;
    }
    fprintf(f,
            "\"supported\":true,\"bytes\":%llu,\"setup_bytes\":%llu,\"cots\":%llu,"
            "\"cot_making_bytes\":%llu,\"input_bytes\":%llu,"
            "\"linear_bytes\":%llu,\"nonlinear_bytes\":%llu,\"label_bytes\":%llu,"
            "\"reveal_bytes\":%llu,\"critical_flights\":%llu,\"server_sent_bytes\":%llu,"
            "\"client_sent_bytes\":%llu,",
            (unsigned long long)p->bytes, (unsigned long long)p->setup_bytes,
            (unsigned long long)p->cots, (unsigned long long)p->cot_making_bytes,
            (unsigned long long)p->input_bytes, (unsigned long long)p->linear_bytes,
            (unsigned long long)p->nonlinear_bytes, (unsigned long long)p->label_bytes,
            (unsigned long long)p->reveal_bytes, (unsigned long long)p->critical_flights,
            (unsigned long long)p->server_sent_bytes, (unsigned long long)p->client_sent_bytes);
    if (mode == 1) {
        /* No returned coefficient (no linear layer) leaks nothing: the bound
         * is infinite, which JSON writes as null. */
        fprintf(f, "\"returned_coefficients\":%llu,\"statistical_bits\":",
                (unsigned long long)p->returned_coefficients);
        if (isfinite(p->statistical_bits))
            fprintf(f, "%.2f", p->statistical_bits);
        else
            fputs("null", f);
        fprintf(f, ",\"computational_bits\":%u,\"ring\":{\"N\":%u,\"log2_q\":%.2f},",
                p->computational_bits, p->he_ring_n, p->he_log2_q);
    }
    fprintf(f, "\"by_kind\":{");
    int first = 1;
    for (unsigned j = 0; j < v->k.n; j++)
        if (v->k.bytes[j][mode]) {
            fprintf(f, "%s\"%s\":%llu", first ? "" : ",", v->k.kind[j],
                    (unsigned long long)v->k.bytes[j][mode]);
            first = 0;
        }
    fputc('}', f);
    if (p->timed)
        fprintf(f,
                ",\"predicted_seconds\":%.3f,\"compute_seconds\":%.3f,\"transfer_seconds\":%.3f,"
                "\"latency_seconds\":%.3f",
                p->seconds, p->compute_seconds, p->transfer_seconds, p->latency_seconds);
    fputc('}', f);
}

static void print_json(FILE *f, const model_view *v, const inspect_opts *o) {
    char sh[256];
    const parley_model_info *in = &v->info;
    const parley_prediction *p = v->p;
    fprintf(f, "{\"model\":");
    cli_json_str(f, o->model);
    /* "ot_backend": "ot" is the OT mode's object below */
    fprintf(f,
            ",\"bits\":%u,\"scale\":%u,\"threads\":%u,\"reveal\":\"%s\",\"ot_backend\":\"%s\","
            "\"leaves\":\"%s\",",
            in->bits, in->scale, o->lanes, o->reveal_label ? "label" : "logits",
            cli_ot_name(o->ot), o->leaves == PARLEY_LEAVES_VOLE4 ? "vole4" : "cot");
    if (o->have_net)
        fprintf(f, "\"net\":{\"rtt_ms\":%g,\"up_mbytes_per_s\":%g,\"down_mbytes_per_s\":%g},",
                o->net.rtt_ms, link_up(&o->net), link_down(&o->net));
    fprintf(f, "\"input\":{\"name\":");
    cli_json_str(f, in->input_name);
    fprintf(f, ",\"shape\":%s},\"output\":{\"name\":",
            cli_shape_str(sh, sizeof sh, in->input_rank, in->input_shape));
    cli_json_str(f, in->output_name);
    fprintf(f,
            ",\"shape\":%s},\"layers_count\":%u,\"params\":%llu,\"macs\":%llu,\"relus\":%llu,"
            "\"public_model_bytes\":%llu,\"layers\":[",
            cli_shape_str(sh, sizeof sh, in->output_rank, in->output_shape), in->layers,
            (unsigned long long)in->params, (unsigned long long)in->macs,
            (unsigned long long)in->relus, (unsigned long long)in->public_model_bytes);
    for (unsigned i = 0; i < in->layers; i++) {
        const parley_layer_info *L = &v->layer[i];
        fprintf(f, "%s{\"index\":%u,\"op\":\"%s\",\"name\":", i ? "," : "", i + 1, L->kind);
        cli_json_str(f, L->name);
        fprintf(f, ",\"shape\":%s,\"macs\":%llu,\"relus\":%llu",
                cli_shape_str(sh, sizeof sh, L->rank, L->shape), (unsigned long long)L->macs,
                (unsigned long long)L->relus);
        static const char *const key[2] = {"ot_bytes", "he_bytes"};
        static const char *const fkey[2] = {"ot_flights", "he_flights"};
        for (int k = 0; k < 2; k++)
            if (p[k].supported) {
                fprintf(f, ",\"%s\":%llu,\"%s\":%llu", key[k],
                        (unsigned long long)p[k].layer_bytes[i], fkey[k],
                        (unsigned long long)p[k].layer_flights[i]);
                if (p[k].timed)
                    fprintf(f, ",\"%s_seconds\":%.4f", k ? "he" : "ot", p[k].layer_seconds[i]);
            }
        if (p[0].supported && o->ot == PARLEY_OT_SILENT)
            fprintf(f, ",\"cots\":%llu", (unsigned long long)p[0].layer_cots[i]);
        fputc('}', f);
    }
    fputc(']', f);
    json_mode(f, "ot", v, 0);
    json_mode(f, "he", v, 1);
    fprintf(f, "}\n");
}

/* A byte column: the figure, or "-" where the mode cannot run the model. */
static const char *cell(char *buf, size_t cap, const parley_prediction *p, uint64_t b) {
    if (!p->supported) return "-";
    return human(buf, cap, b);
}

/* A row of the traffic table: the byte count at `off` in both modes'
 * predictions (m[0] OT, m[1] HE). */
static void bytes_row(FILE *f, const char *label, const parley_prediction m[2], size_t off) {
    char a[64], b[64];
    uint64_t v[2];
    for (int k = 0; k < 2; k++)
        memcpy(&v[k], (const char *)&m[k] + off, sizeof v[k]);
    fprintf(f, "  %-22s %6s %14s %14s\n", label, "", cell(a, sizeof a, &m[0], v[0]),
            cell(b, sizeof b, &m[1], v[1]));
}

static void print_text(FILE *f, const model_view *v, const inspect_opts *o) {
    char a[64], b[64], c[64], d[64], sh[256];
    const parley_model_info *in = &v->info;
    const parley_prediction *m = v->p;
    fprintf(f, "%s: %u layers, l = %u, s = %u\n", o->model, in->layers, in->bits, in->scale);
    fprintf(f, "input %s %s, output %s %s\n\n", in->input_name,
            cli_shape_str(a, sizeof a, in->input_rank, in->input_shape), in->output_name,
            cli_shape_str(b, sizeof b, in->output_rank, in->output_shape));
    fprintf(f, "%5s  %-10s %-28s %-18s %10s %10s %12s %12s\n", "#", "kind", "node", "output",
            "MACs", "ReLUs", "OT", "HE");
    for (unsigned i = 0; i < in->layers; i++) {
        const parley_layer_info *L = &v->layer[i];
        fprintf(f, "%5u  %-10s %-28.28s %-18s %10s %10s %12s %12s\n", i + 1, L->kind, L->name,
                cli_shape_str(sh, sizeof sh, L->rank, L->shape), count_str(a, sizeof a, L->macs),
                count_str(b, sizeof b, L->relus),
                cell(c, sizeof c, &m[0], m[0].supported ? m[0].layer_bytes[i] : 0),
                cell(d, sizeof d, &m[1], m[1].supported ? m[1].layer_bytes[i] : 0));
    }
    fprintf(f, "\nparameters %s, MACs %s, ReLUs %s\n", count_str(a, sizeof a, in->params),
            count_str(b, sizeof b, in->macs), count_str(c, sizeof c, in->relus));
    fprintf(f,
            "\npredicted traffic of a secure inference, %u lane%s, revealing the %s, %s OT%s\n"
            "(exact bytes, both directions together%s):\n",
            o->lanes, o->lanes > 1 ? "s" : "", o->reveal_label ? "label" : "logits",
            cli_ot_name(o->ot), o->leaves == PARLEY_LEAVES_VOLE4 ? ", leaves on 4-bit VOLE" : "",
            o->ot == PARLEY_OT_SILENT ? "; the silent COTs' making amortised" : "");
    fprintf(f, "  %-22s %6s %14s %14s\n", "", "count", "OT mode", "HE mode");
    for (unsigned j = 0; j < v->k.n; j++)
        fprintf(f, "  %-22s %6u %14s %14s\n", v->k.kind[j], v->k.count[j],
                cell(a, sizeof a, &m[0], v->k.bytes[j][0]),
                cell(b, sizeof b, &m[1], v->k.bytes[j][1]));
    bytes_row(f, "input sharing", m, offsetof(parley_prediction, input_bytes));
    if (o->reveal_label)
        bytes_row(f, "argmax (label)", m, offsetof(parley_prediction, label_bytes));
    bytes_row(f, "output reveal", m, offsetof(parley_prediction, reveal_bytes));
    if (o->ot == PARLEY_OT_SILENT)
        bytes_row(f, "silent COTs' making", m, offsetof(parley_prediction, cot_making_bytes));
    bytes_row(f, "total (inference)", m, offsetof(parley_prediction, bytes));
    bytes_row(f, "  sent by the client", m, offsetof(parley_prediction, client_sent_bytes));
    bytes_row(f, "  sent by the server", m, offsetof(parley_prediction, server_sent_bytes));
    bytes_row(f, "set-up (OT, HE keys)", m, offsetof(parley_prediction, setup_bytes));
    fprintf(f,
            "  (and on the control connection: the public model, %llu bytes, hellos and reports)\n",
            (unsigned long long)in->public_model_bytes);
    snprintf(a, sizeof a, "%llu", (unsigned long long)m[0].critical_flights);
    snprintf(b, sizeof b, "%llu", (unsigned long long)m[1].critical_flights);
    fprintf(f, "  %-22s %6s %14s %14s\n", "critical flights", "", m[0].supported ? a : "-",
            m[1].supported ? b : "-");
    if (o->have_net) {
        char ru[32], rd[32];
        double up = link_up(&o->net), down = link_down(&o->net);
        if (up == down)
            fprintf(f, "\npredicted time over a link of %g ms round trip and %s each way\n",
                    o->net.rtt_ms, rate_str(ru, sizeof ru, up));
        else
            fprintf(f,
                    "\npredicted time over a link of %g ms round trip, %s up (client to\n"
                    "server) and %s down\n",
                    o->net.rtt_ms, rate_str(ru, sizeof ru, up), rate_str(rd, sizeof rd, down));
        fprintf(f, "(compute + transfer + critical flights x one-way latency; docs/NETWORK.md):\n");
        static const char *const row[4] = {"compute", "transfer", "latency", "total"};
        for (int k = 0; k < 4; k++) {
            double t[2];
            for (int j = 0; j < 2; j++)
                t[j] = k == 0   ? m[j].compute_seconds
                       : k == 1 ? m[j].transfer_seconds
                       : k == 2 ? m[j].latency_seconds
                                : m[j].seconds;
            snprintf(a, sizeof a, "%.2f s", t[0]);
            snprintf(b, sizeof b, "%.2f s", t[1]);
            fprintf(f, "  %-22s %6s %14s %14s\n", row[k], "", m[0].supported ? a : "-",
                    m[1].supported ? b : "-");
        }
    }
    if (m[1].supported)
        fprintf(f,
                "HE mode security: %.1f bits statistical for the whole inference (all of its\n"
                "  %llu returned coefficients together), %u bits computational (RLWE, N = %u,\n"
                "  log2 Q = %.0f)\n",
                m[1].statistical_bits, (unsigned long long)m[1].returned_coefficients,
                m[1].computational_bits, m[1].he_ring_n, m[1].he_log2_q);
    for (int k = 0; k < 2; k++)
        if (!m[k].supported)
            fprintf(f, "%s mode cannot run this model: %s\n", k ? "HE" : "OT", m[k].why);
}

int cli_inspect(int argc, char **argv) {
    inspect_opts o = {.l = 37, .s = 12, .lanes = 2, .ot = PARLEY_OT_SILENT};
    int pr = parse(&o, argc, argv);
    if (pr) return pr == 1 ? 0 : 2;
    parley_model_opts mo;
    parley_model_opts_init(&mo);
    mo.bits = o.l;
    mo.scale = o.s;
    mo.wbits = o.wbits;
    mo.threads = o.lanes;
    mo.ot = o.ot;
    mo.leaves = o.leaves;
    mo.reveal = o.reveal_label ? PARLEY_REVEAL_LABEL : PARLEY_REVEAL_LOGITS;
    parley_model *m = NULL;
    model_view v;
    memset(&v, 0, sizeof v);
    const char *why = NULL; /* a failure of this command's own, else parley_last_error() */
    int rc = parley_model_load(&m, o.model, &mo);
    if (rc == 0 && parley_model_notes(m)[0])
        fprintf(stderr, "parley inspect: %s", parley_model_notes(m));
    if (rc == 0) rc = view_make(&v, m, &o);
    if (rc == 0) {
        if (o.json)
            print_json(stdout, &v, &o);
        else
            print_text(stdout, &v, &o);
        if (fflush(stdout) != 0 || ferror(stdout)) {
            rc = -1;
            why = strerror(errno);
        }
    }
    if (rc < 0 && why)
        fprintf(stderr, "parley inspect: writing the report: %s\n", why);
    else if (rc < 0)
        fprintf(stderr, "parley inspect: %s\n", parley_last_error());
    view_free(&v);
    parley_model_free(m);
    return rc < 0 ? 1 : 0;
}
