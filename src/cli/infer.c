/* `parley serve`, `parley infer` and `parley run`: the two parties of a
 * secure inference, as two programs or, for `run`, as two processes of one
 * command over 127.0.0.1 — on the public API (parley.h): a parley_model
 * and a parley_server on one side, parley_infer on the other. */
#include "cli.h"
#include "serve.h"

#include <errno.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

/* ---- options ---- */

#define CLI_MAX_SAMPLES 64 /* parley_calibrate's and the server's limit */

typedef struct opts {
    const char *model, *input, *output, *listen, *connect;
    int mode, reveal;
    unsigned l, s, threads;
    unsigned wbits; /* 0: s + 4 */
    int ot;         /* OT backend */
    int leaves;     /* PARLEY_LEAVES_* */
    int json, once, quiet, insecure;
    /* the link: TLS files, the pin, the token file, the caps (MiB) */
    const char *tls_cert, *tls_key, *tls_ca, *tls_client_ca, *tls_pin, *tls_name, *token_file;
    unsigned max_stash, max_model_memory;
    /* serve: the forking server (cli/serve.h); 0: the default */
    unsigned max_sessions, queue, session_timeout, idle_timeout, session_memory, max_batch;
    int queue_set, log_json;
    int bits_auto, scale_set; /* run, serve: --bits auto (calibrate), --scale given */
    /* serve: --calibrate, the sample inputs its (l, s) is checked on */
    const char *calib[CLI_MAX_SAMPLES];
    unsigned ncalib;
    unsigned he_cache; /* --he-weight-cache MIB (he_cache_set: given; else the library's) */
    int he_cache_set;
} opts;

/* HOST:PORT (or :PORT, or PORT) into host and port. */
static int parse_hostport(const char *v, char *host, size_t cap, int *port) {
    const char *c = strrchr(v, ':');
    const char *ps = c ? c + 1 : v;
    size_t hl = c ? (size_t)(c - v) : 0;
    unsigned p;
    if (opt_uint(ps, 0, 65535, &p) < 0 || hl >= cap) return -1;
    memcpy(host, v, hl);
    host[hl] = 0;
    if (!host[0]) snprintf(host, cap, "127.0.0.1");
    *port = (int)p;
    return 0;
}

/* Parse the options `allowed` (a space-separated list of option names
 * without dashes) for command `cmd`. 0 ok, 1 --help shown, 2 error shown. */
static int parse_opts(opts *o, int argc, char **argv, const char *cmd, const char *allowed,
                      const char *usage) {
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
            if (usage) fputs(usage, stdout);
            return 1;
        }
        char name[32];
        if (strncmp(a, "--", 2) != 0 || strlen(a) >= sizeof name + 2) {
            fprintf(stderr, "parley %s: unexpected argument '%s'\n%s", cmd, a, usage ? usage : "");
            return 2;
        }
        snprintf(name, sizeof name, "%s", a + 2);
        char pat[40];
        snprintf(pat, sizeof pat, " %s ", name);
        char al[512];
        snprintf(al, sizeof al, " %s ", allowed);
        if (!strstr(al, pat)) {
            fprintf(stderr, "parley %s: unknown option %s\n%s", cmd, a, usage ? usage : "");
            return 2;
        }
        if (!strcmp(name, "json")) {
            o->json = 1;
            continue;
        }
        if (!strcmp(name, "once")) {
            o->once = 1;
            continue;
        }
        if (!strcmp(name, "quiet")) {
            o->quiet = 1;
            continue;
        }
        if (!strcmp(name, "log-json")) {
            o->log_json = 1;
            continue;
        }
        if (!strcmp(name, "insecure")) {
            o->insecure = 1;
            continue;
        }
        if (i + 1 >= argc) {
            fprintf(stderr, "parley %s: option %s needs a value\n", cmd, a);
            return 2;
        }
        const char *v = argv[++i];
        int bad = 0;
        if (!strcmp(name, "model"))
            o->model = v;
        else if (!strcmp(name, "input"))
            o->input = v;
        else if (!strcmp(name, "output"))
            o->output = v;
        else if (!strcmp(name, "listen"))
            o->listen = v;
        else if (!strcmp(name, "connect"))
            o->connect = v;
        else if (!strcmp(name, "bits") && !strcmp(v, "auto"))
            o->bits_auto = 1;
        else if (!strcmp(name, "calibrate")) {
            if (o->ncalib == CLI_MAX_SAMPLES) {
                fprintf(stderr, "parley %s: more than %d --calibrate files\n", cmd,
                        CLI_MAX_SAMPLES);
                return 2;
            }
            o->calib[o->ncalib++] = v;
        }
        else if (!strcmp(name, "bits")) { /* the domain is checked below, with its message */
            bad = opt_uint(v, 0, 1u << 16, &o->l);
            o->bits_auto = 0;
        } else if (!strcmp(name, "scale")) {
            bad = opt_uint(v, 0, 1u << 16, &o->s);
            o->scale_set = 1;
        } else if (!strcmp(name, "wbits"))
            bad = opt_uint(v, 1, 64, &o->wbits);
        else if (!strcmp(name, "threads"))
            bad = opt_uint(v, 1, PARLEY_MAX_THREADS, &o->threads);
        else if (!strcmp(name, "tls-cert"))
            o->tls_cert = v;
        else if (!strcmp(name, "tls-key"))
            o->tls_key = v;
        else if (!strcmp(name, "tls-ca"))
            o->tls_ca = v;
        else if (!strcmp(name, "tls-client-ca"))
            o->tls_client_ca = v;
        else if (!strcmp(name, "tls-pin"))
            o->tls_pin = v;
        else if (!strcmp(name, "tls-name"))
            o->tls_name = v;
        else if (!strcmp(name, "token-file"))
            o->token_file = v;
        else if (!strcmp(name, "max-stash"))
            bad = opt_uint(v, PARLEY_MIN_STASH >> 20, 1u << 20, &o->max_stash);
        else if (!strcmp(name, "max-model-memory"))
            bad = opt_uint(v, 1, 1u << 24, &o->max_model_memory);
        else if (!strcmp(name, "max-sessions"))
            bad = opt_uint(v, 1, 4096, &o->max_sessions);
        else if (!strcmp(name, "queue")) {
            bad = opt_uint(v, 0, 65536, &o->queue);
            o->queue_set = 1;
        } else if (!strcmp(name, "session-timeout"))
            bad = opt_uint(v, 1, 30 * 86400, &o->session_timeout);
        else if (!strcmp(name, "idle-timeout"))
            bad = opt_uint(v, 1, 86400, &o->idle_timeout);
        else if (!strcmp(name, "session-memory"))
            bad = opt_uint(v, 64, 1u << 24, &o->session_memory);
        else if (!strcmp(name, "max-batch"))
            bad = opt_uint(v, 1, PARLEY_MAX_BATCH, &o->max_batch);
        else if (!strcmp(name, "he-weight-cache")) {
            bad = opt_uint(v, 0, 1u << 24, &o->he_cache);
            o->he_cache_set = 1;
        }
        else if (!strcmp(name, "mode")) {
            if (!strcmp(v, "ot"))
                o->mode = PARLEY_MODE_OT;
            else if (!strcmp(v, "he"))
                o->mode = PARLEY_MODE_HE;
            else
                bad = -1;
        } else if (!strcmp(name, "ot")) {
            if ((o->ot = cli_ot_parse(v)) < 0) bad = -1;
        } else if (!strcmp(name, "leaves")) {
            if ((o->leaves = cli_leaves_parse(v)) < 0) bad = -1;
        } else if (!strcmp(name, "reveal")) {
            if (!strcmp(v, "logits"))
                o->reveal = PARLEY_REVEAL_LOGITS;
            else if (!strcmp(v, "label"))
                o->reveal = PARLEY_REVEAL_LABEL;
            else
                bad = -1;
        }
        if (bad) {
            fprintf(stderr, "parley %s: bad value '%s' for %s\n%s", cmd, v, a, usage ? usage : "");
            return 2;
        }
    }
    if (o->leaves == PARLEY_LEAVES_VOLE4 && o->ot != PARLEY_OT_SILENT) {
        fprintf(stderr, "parley %s: --leaves vole4 needs --ot silent\n%s", cmd, usage ? usage : "");
        return 2;
    }
    if (o->bits_auto && o->scale_set) {
        fprintf(stderr, "parley %s: --bits auto chooses the scale too: drop --scale\n%s", cmd,
                usage ? usage : "");
        return 2;
    }
    if (strstr(allowed, "bits") && !o->bits_auto && parley_check_ring(o->l, o->s) < 0) {
        fprintf(stderr, "parley %s: %s\n", cmd, parley_last_error());
        return 2;
    }
    return 0;
}

static void opts_default(opts *o) {
    memset(o, 0, sizeof *o);
    o->mode = PARLEY_MODE_OT;
    o->l = 37;
    o->s = 12;
    o->threads = 2;
    o->reveal = PARLEY_REVEAL_LOGITS;
    o->ot = PARLEY_OT_SILENT;
}

/* The model with the command's options (its notes on stderr unless quiet). */
static int load_model(parley_model **m, const opts *o, unsigned batch, const char *cmd) {
    parley_model_opts mo;
    parley_model_opts_init(&mo);
    mo.bits = o->l;
    mo.scale = o->s;
    mo.wbits = o->wbits;
    mo.batch = batch;
    mo.mode = o->mode;
    mo.ot = o->ot;
    mo.threads = o->threads;
    mo.reveal = o->reveal;
    mo.leaves = o->leaves;
    int rc = parley_model_load(m, o->model, &mo);
    if (rc == 0 && parley_model_notes(*m)[0] && !o->quiet)
        fprintf(stderr, "parley %s: %s", cmd, parley_model_notes(*m));
    return rc;
}

/* Bytes in MiB, rounded up. */
static unsigned long long mib_up(uint64_t b) {
    return (unsigned long long)((b >> 20) + ((b & ((1u << 20) - 1)) != 0));
}

/* ---- progress and reports ---- */

static void progress_line(void *ctx, unsigned i, unsigned n, const char *kind, const char *name,
                          double elapsed, uint64_t bytes) {
    (void)ctx;
    fprintf(stderr, "\r\033[K[%u/%u] %-10s %-24.24s %7.1f s %10.3f MiB", i + 1, n, kind, name,
            elapsed, (double)bytes / 1048576.0);
    if (i + 1 == n) fputc('\n', stderr);
    fflush(stderr);
}

/* The client's report: --json, the API's JSON object (parley_report_json)
 * with "bench":"infer" first and the labels; else a line and a table by
 * layer kind. */
static int print_report(FILE *f, const parley_report *r, int json, const int *label,
                        size_t nlabel) {
    if (json) {
        int n = parley_report_json(r, NULL, 0);
        if (n < 2) return n < 0 ? n : PARLEY_E_NOMEM;
        char *js = malloc((size_t)n + 1);
        if (!js) return PARLEY_E_NOMEM;
        if (parley_report_json(r, js, (size_t)n + 1) != n) {
            free(js);
            return PARLEY_E_NOMEM;
        }
        /* {"bench":"infer", the object's members, "label":[...]} */
        fprintf(f, "{\"bench\":\"infer\",%.*s", n - 2, js + 1);
        free(js);
        if (nlabel) {
            fprintf(f, ",\"label\":[");
            for (size_t i = 0; i < nlabel; i++)
                fprintf(f, "%s%d", i ? "," : "", label[i]);
            fprintf(f, "]");
        }
        fprintf(f, "}\n");
        return 0;
    }
    fprintf(f, "secure inference (%s mode, %s OT, l = %u, s = %u, %u lane%s, %s): %.2f s, %.3f MiB "
               "sent by the server, %.3f MiB by the client, %llu rounds, %llu flights on the "
               "critical path; set-up %.2f s, %.3f MiB\n",
            cli_mode_name(r->mode), cli_ot_name(r->ot), r->bits, r->scale, r->threads,
            r->threads == 1 ? "" : "s", r->transport, r->seconds,
            (double)r->bytes_recv / 1048576.0, (double)r->bytes_sent / 1048576.0,
            (unsigned long long)r->rounds, (unsigned long long)r->critical_flights,
            r->setup_seconds, (double)r->setup_bytes / 1048576.0);
    if (r->mode == PARLEY_MODE_HE)
        fprintf(f,
                "  security: %.1f bits statistical for the whole inference, %u bits "
                "computational\n",
                r->statistical_bits, r->computational_bits);
    if (r->softmax_dropped)
        fprintf(f, "  the model's final Softmax was dropped (it does not change the label): the "
                   "output is its logits\n");
    /* By layer kind, in the order the kinds first appear. */
    fprintf(f, "  %-11s %6s %10s %16s %15s %17s\n", "layer kind", "count", "seconds",
            "MiB (both ways)", "client flights", "critical flights");
    for (unsigned i = 0; i < r->nlayers; i++) {
        const char *kind = r->layers[i].kind;
        int seen = 0;
        for (unsigned j = 0; j < i && !seen; j++)
            seen = !strcmp(r->layers[j].kind, kind);
        if (seen) continue;
        double sec = 0;
        uint64_t by = 0, cnt = 0, fl = 0, cf = 0;
        for (unsigned j = i; j < r->nlayers; j++) {
            const parley_layer_report *L = &r->layers[j];
            if (strcmp(L->kind, kind)) continue;
            sec += L->seconds;
            by += L->bytes_sent + L->bytes_recv;
            fl += L->flights;
            cf += L->critical_flights;
            cnt++;
        }
        fprintf(f, "  %-11s %6llu %10.3f %16.3f %15llu %17llu\n", kind, (unsigned long long)cnt,
                sec, (double)by / 1048576.0, (unsigned long long)fl, (unsigned long long)cf);
    }
    return 0;
}

/* Print the label and top-5 of each row of the output y. */
static void print_result(FILE *f, const parley_report *r, const parley_tensor *y, int *labels,
                         size_t *nlabels) {
    *nlabels = 0;
    if (r->reveal == PARLEY_REVEAL_LABEL || y->scale == 0) { /* indices */
        for (size_t i = 0; i < y->count; i++) {
            labels[(*nlabels)++] = (int)y->data[i];
            fprintf(f, "label: %d\n", (int)y->data[i]);
        }
        return;
    }
    size_t cols = y->rank ? y->shape[y->rank - 1] : 1, rows = cols ? y->count / cols : 0;
    for (size_t row = 0; row < rows; row++) {
        const float *x = y->data + row * cols;
        size_t order[5] = {0, 0, 0, 0, 0};
        size_t k = cols < 5 ? cols : 5;
        for (size_t j = 0; j < k; j++) {
            size_t best = (size_t)-1;
            for (size_t c = 0; c < cols; c++) {
                int used = 0;
                for (size_t q = 0; q < j; q++)
                    used |= order[q] == c;
                if (!used && (best == (size_t)-1 || x[c] > x[best])) best = c;
            }
            order[j] = best;
        }
        double mx = x[order[0]], z = 0;
        for (size_t c = 0; c < cols; c++)
            z += exp((double)x[c] - mx);
        labels[(*nlabels)++] = (int)order[0];
        fprintf(f, "label: %zu\ntop-%zu:\n", order[0], k);
        for (size_t j = 0; j < k; j++)
            fprintf(f, "  %5zu  logit %9.4f  p %.4f\n", order[j], x[order[j]],
                    exp((double)x[order[j]] - mx) / z);
    }
}

/* Print and write what the client learned. */
static int client_finish(const opts *o, const parley_report *r, const parley_tensor *y) {
    int *labels = malloc((y->count ? y->count : 1) * sizeof *labels);
    if (!labels) return PARLEY_E_NOMEM;
    size_t nl = 0;
    print_result(o->json ? stderr : stdout, r, y, labels, &nl);
    fflush(stdout);
    int rc = 0;
    if (o->output) rc = parley_tensor_save_npy(y, o->output);
    if (rc == 0) rc = print_report(o->json ? stdout : stderr, r, o->json, labels, nl);
    free(labels);
    return rc;
}

/* ---- the server ---- */

/* Per-session defaults of parley serve (README, "Serving many clients"). */
#define SERVE_SESSION_TIMEOUT_S 3600 /* ResNet50 in OT mode takes minutes; an hour is a stuck peer */
#define SERVE_IDLE_TIMEOUT_S 120     /* over the longest layer a peer computes alone (~50 s) */
#define SERVE_MAX_BATCH 64
#define SERVE_QUEUE_PER_SESSION 4

/* A server of m with the command's options, its (l, s) checked on the n
 * calibration samples x (serve --calibrate): 0, or the exit status after
 * the message (2 for a configuration the samples refuse). */
static int server_of(parley_server **srv, const parley_model *m, const opts *o, const char *cmd,
                     const parley_tensor *x, unsigned n) {
    parley_server_opts so;
    parley_server_opts_init(&so);
    so.tls_cert = o->tls_cert;
    so.tls_key = o->tls_key;
    so.tls_client_ca = o->tls_client_ca;
    so.token_file = o->token_file;
    so.insecure = o->insecure;
    so.max_stash = (size_t)o->max_stash << 20;
    unsigned idle = o->idle_timeout ? o->idle_timeout : SERVE_IDLE_TIMEOUT_S;
    so.handshake_timeout_ms = idle < 30 ? (int)idle * 1000 : 0;
    so.idle_timeout_ms = (int)idle * 1000;
    so.max_batch = o->max_batch ? o->max_batch : SERVE_MAX_BATCH;
    so.calibration = x;
    so.ncalibration = n;
    so.calibration_names = o->calib;
    if (o->he_cache_set) so.he_weight_cache_mib = o->he_cache;
    int rc = parley_server_new(srv, m, &so);
    if (rc < 0) {
        fprintf(stderr, "parley %s: %s\n", cmd, parley_last_error());
        return rc == PARLEY_E_ARG || rc == PARLEY_E_RANGE ? 2 : 1; /* 1: the options' files */
    }
    return 0;
}

/* Sessions one after another in this process (--once, parley run): the
 * status of the last. */
static int serve_loop(const opts *o, parley_server *srv, int sessions) {
    int last = 0;
    for (int k = 0; k < sessions; k++) {
        parley_report rep;
        double t0 = cli_now();
        int rc = parley_server_serve_one(srv, &rep);
        if (!o->quiet || rc < 0) {
            serve_report sr;
            serve_report_of(&sr, (unsigned long)k + 1, &rep, rc, cli_now() - t0);
            serve_log(stderr, &sr, o->log_json);
        }
        last = rc;
        parley_report_free(&rep);
    }
    return last;
}

static const char serve_usage[] =
    "usage: parley serve --model M.onnx [options]\n"
    "\n"
    "Loads the model and serves secure inferences to clients (parley infer), each\n"
    "session in a process of its own, up to --max-sessions at once. Clients learn\n"
    "the output, never the weights. SIGTERM or SIGINT: no new sessions, the\n"
    "running ones finish, exit 0. One line per session on stderr.\n"
    "\n"
    "options:\n"
    "  --listen HOST:PORT   address to listen on (default 127.0.0.1:7311; port 0 picks one)\n"
    "  --mode ot|he         linear layers over OT or homomorphic encryption (default ot)\n"
    "  --bits L             ring width l, 8..64 (default 37); auto: calibrate on the\n"
    "                       --calibrate samples (as parley calibrate) and use its (l, s)\n"
    "  --scale S            fixed-point scale s, 1..(l - 2) / 2 (default 12)\n"
    "  --calibrate X.npy    a sample input like those the service will see (repeatable,\n"
    "                       up to 64): at start-up each runs in the checked plaintext\n"
    "                       reference at (l, s), and the server refuses to start (exit 2)\n"
    "                       if a value wraps around, which no secure session can see\n"
    "  --wbits W            the public bound on the weights' signed width, 1..l (default\n"
    "                       s + 4: real weights in (-8, 8)); the model is refused if its\n"
    "                       weights exceed it\n"
    "  --threads T          lanes (threads) per session (default 2)\n"
    "  --reveal logits|label  what the client learns (default logits)\n"
    "  --ot silent|iknp     OT for the non-linear layers: silent (Ferret COTs, about 8x\n"
    "                       fewer bytes) or IKNP/KK13 extension (default silent)\n"
    "  --leaves cot|vole4   silent OT: the comparisons' leaf OTs on COTs (default) or on\n"
    "                       4-bit VOLE: non-linear layers about 1.2x as fast, about\n"
    "                       120 MiB more memory per thread on each side\n"
    "  --he-weight-cache MIB  HE mode: memory for the weight polynomials, transformed\n"
    "                       once at start-up and shared by the sessions; layers beyond\n"
    "                       it are transformed in every inference (0: off; default 512)\n"
    "  --tls-cert CERT.pem  serve over TLS 1.3 with this certificate (chain) ...\n"
    "  --tls-key KEY.pem    ... and its private key\n"
    "  --tls-client-ca CA.pem  admit only clients with a certificate from this CA\n"
    "  --token-file FILE    admit only clients that present this token (the file's bytes)\n"
    "  --insecure           allow plaintext on an address other than loopback\n"
    "  --max-stash MIB      cap on what one session buffers from its client (default 512)\n"
    "  --max-sessions K     sessions at once (default: the cores, fewer if the memory\n"
    "                       cannot give each what it needs; this machine: %u)\n"
    "  --queue Q            connections that wait for a free session beyond K; past\n"
    "                       K + Q a client is told \"server busy\" (default 4 K)\n"
    "  --session-timeout S  wall-time limit of one session (default 3600)\n"
    "  --idle-timeout S     a session whose client sends nothing this long ends\n"
    "                       (default 120)\n"
    "  --session-memory MIB address-space limit of one session's process, beside the\n"
    "                       HE weight cache (default: the available memory / K; this\n"
    "                       machine: %llu; and at least what a session needs: the\n"
    "                       model, its lanes' OT pools, 384 MiB and 64 MiB a lane,\n"
    "                       1 GiB at least; a value that cannot hold the model and\n"
    "                       the pools is refused)\n"
    "  --max-batch N        most inputs one client may bring in a session, when the\n"
    "                       model's batch axis is dynamic (default 64)\n"
    "  --log-json           the session lines as one JSON object each\n"
    "  --once               serve one session in this process, then exit with its status\n"
    "  --quiet              print only errors\n";

static void serve_help(void) {
    unsigned k = serve_default_sessions(0);
    printf(serve_usage, k, (unsigned long long)(serve_default_session_memory(k, 0) >> 20));
}

int cli_serve(int argc, char **argv) {
    opts o;
    opts_default(&o);
    int pr = parse_opts(&o, argc, argv, "serve",
                        "model listen mode bits scale wbits threads reveal ot leaves once quiet tls-cert "
                        "tls-key tls-client-ca token-file insecure max-stash max-sessions queue "
                        "session-timeout idle-timeout session-memory max-batch log-json "
                        "calibrate he-weight-cache",
                        NULL);
    if (pr == 1) serve_help();
    if (pr == 2) fprintf(stderr, "parley serve --help lists the options\n");
    if (pr) return pr == 1 ? 0 : 2;
    if (!o.model) {
        fprintf(stderr, "parley serve: --model is required (--help lists the options)\n");
        return 2;
    }
    char host[256];
    int port = 7311;
    snprintf(host, sizeof host, "127.0.0.1");
    if (o.listen && parse_hostport(o.listen, host, sizeof host, &port) < 0) {
        fprintf(stderr, "parley serve: --listen wants HOST:PORT, got '%s'\n", o.listen);
        return 2;
    }
    int tls = o.tls_cert || o.tls_key;
    if (!tls && o.tls_client_ca) {
        fprintf(stderr, "parley serve: --tls-client-ca needs --tls-cert and --tls-key\n");
        return 2;
    }
    if (o.bits_auto && !o.ncalib) {
        fprintf(stderr, "parley serve: --bits auto needs --calibrate X.npy: the server has no "
                        "input of its own to calibrate on\n");
        return 2;
    }
    parley_model *m = NULL;
    parley_server *srv = NULL;
    parley_model_info info = {.size = sizeof info};
    parley_tensor samples[CLI_MAX_SAMPLES];
    memset(samples, 0, sizeof samples);
    int rc = 0;
    for (unsigned k = 0; k < o.ncalib && rc == 0; k++)
        rc = parley_tensor_load_npy(&samples[k], o.calib[k]);
    /* A calibration that finds no (l, s) refuses the configuration too. */
    int auto_st = 0;
    if (rc == 0 && o.bits_auto &&
        (rc = cli_bits_auto("serve", o.model, o.calib, o.ncalib, &o.l, &o.s, o.quiet)) ==
            PARLEY_E_RANGE)
        auto_st = 2;
    if (rc == 0) rc = load_model(&m, &o, 1, "serve");
    if (rc == 0) rc = parley_model_describe_brief(m, &info);
    int bound = 0, st = 0;
    if (rc < 0) {
        fprintf(stderr, "parley serve: %s\n", parley_last_error());
        st = auto_st ? auto_st : 1;
    }
    if (st == 0) st = server_of(&srv, m, &o, "serve", samples, o.ncalib);
    for (unsigned k = 0; k < o.ncalib; k++) /* checked; not kept */
        parley_tensor_free(&samples[k]);
    /* What a session's process needs: this process as it is, less the
     * shared weight cache (which the limit adds), its OT pools and the
     * work allowance (serve.h). */
    uint64_t wc_bytes = 0, own = 0, need = 0;
    if (st == 0) {
        parley_server_he_cache(srv, &wc_bytes, NULL, NULL, NULL, NULL);
        uint64_t vm = serve_own_memory();
        own = vm > wc_bytes ? vm - wc_bytes : 0;
        need = serve_session_need(own, info.ot_memory, o.threads);
    }
    if (st == 0 && !o.once && !o.quiet && need > serve_memory_available())
        fprintf(stderr,
                "parley serve: warning: a session of this model needs about %llu MiB (the model "
                "%llu, the OT pools of %u lane%s %llu, working memory %llu), more than the %llu "
                "MiB available%s\n",
                mib_up(need), mib_up(own), o.threads, o.threads == 1 ? "" : "s",
                mib_up(info.ot_memory),
                mib_up(need - own - info.ot_memory), mib_up(serve_memory_available()),
                o.leaves == PARLEY_LEAVES_VOLE4 ? " (--leaves cot holds half the pools)"
                                                : " (fewer --threads hold fewer pools)");
    if (st == 0 && !o.once && o.session_memory) {
        uint64_t given = (uint64_t)o.session_memory << 20;
        if (given < own + info.ot_memory) {
            fprintf(stderr,
                    "parley serve: --session-memory %u MiB cannot hold a session: the model "
                    "takes %llu MiB and the OT pools of its %u lane%s %llu MiB%s, before any "
                    "layer runs (about %llu MiB would do)\n",
                    o.session_memory, mib_up(own), o.threads, o.threads == 1 ? "" : "s",
                    mib_up(info.ot_memory),
                    o.leaves == PARLEY_LEAVES_VOLE4 ? " (with --leaves vole4)" : "", mib_up(need));
            st = 2;
        } else if (given < need && !o.quiet) {
            fprintf(stderr,
                    "parley serve: warning: --session-memory %u MiB is under the %llu MiB a "
                    "session of this model is estimated to need (the model %llu, the OT pools "
                    "%llu, working memory %llu): sessions may run out of memory\n",
                    o.session_memory, mib_up(need), mib_up(own), mib_up(info.ot_memory),
                    mib_up(need - own - info.ot_memory));
        }
    }
    if (st == 0 && (rc = parley_server_listen(srv, host, port, &bound)) < 0) {
        fprintf(stderr, "parley serve: %s\n", parley_last_error());
        st = rc == PARLEY_E_ARG ? 2 : 1; /* plaintext off loopback, not asked for */
    }
    if (st) {
        parley_server_free(srv);
        parley_model_free(m);
        return st;
    }
    if (!o.quiet) {
        fprintf(stderr,
                "parley serve: %s (%u layers) on %s:%d, %s mode, %s OT, l = %u, s = %u, %u lane%s\n",
                o.model, info.layers, host, bound, cli_mode_name(o.mode), cli_ot_name(o.ot), o.l,
                o.s, o.threads, o.threads == 1 ? "" : "s");
        if (o.ncalib)
            fprintf(stderr, "parley serve: (l, s) = (%u, %u) checked on %u calibration sample "
                            "file%s: no value wraps around on them\n",
                    o.l, o.s, o.ncalib, o.ncalib == 1 ? "" : "s");
        else
            fprintf(stderr, "parley serve: (l, s) = (%u, %u) was not checked against data: a "
                            "value that wraps around inside the network goes unseen in a "
                            "secure session (--calibrate X.npy checks it at start-up)\n",
                    o.l, o.s);
        if (tls)
            fprintf(stderr, "parley serve: TLS 1.3; the key's pin (for parley infer --tls-pin): %s%s%s\n",
                    parley_server_pin(srv), o.tls_client_ca ? "; clients need a certificate" : "",
                    o.token_file ? "; clients need the token" : "");
        else
            fprintf(stderr, "parley serve: plaintext%s\n",
                    o.token_file ? "; clients need the token" : "");
        uint64_t hb, hall;
        unsigned hl, hn;
        double hs;
        parley_server_he_cache(srv, &hb, &hall, &hl, &hn, &hs);
        if (o.mode == PARLEY_MODE_HE)
            fprintf(stderr, "parley serve: HE weight cache %.0f MiB: %u of %u linear layers "
                            "(the whole model's: %.0f MiB), made in %.1f s\n",
                    (double)hb / 1048576.0, hl, hn, (double)hall / 1048576.0, hs);
    }
    signal(SIGPIPE, SIG_IGN);
    if (o.once)
        rc = serve_loop(&o, srv, 1);
    else {
        serve_pool_opts po;
        po.max_sessions = o.max_sessions ? o.max_sessions : serve_default_sessions(need);
        uint64_t mem = serve_default_session_memory(po.max_sessions, need);
        po.queue = o.queue_set ? o.queue : SERVE_QUEUE_PER_SESSION * po.max_sessions;
        po.session_timeout = o.session_timeout ? o.session_timeout : SERVE_SESSION_TIMEOUT_S;
        po.session_memory = o.session_memory ? (uint64_t)o.session_memory << 20 : mem;
        po.session_memory += wc_bytes; /* mapped in every session's process, but shared */
        po.log_json = o.log_json;
        po.quiet = o.quiet;
        po.mode = o.mode;
        if (!o.quiet)
            fprintf(stderr, "parley serve: up to %u session%s at once, %u waiting; per session "
                            "%u s, idle %u s, %llu MiB (about %llu needed); batches up to %u\n",
                    po.max_sessions, po.max_sessions == 1 ? "" : "s", po.queue,
                    (unsigned)po.session_timeout,
                    o.idle_timeout ? o.idle_timeout : SERVE_IDLE_TIMEOUT_S,
                    (unsigned long long)(po.session_memory >> 20), mib_up(need + wc_bytes),
                    o.max_batch ? o.max_batch : SERVE_MAX_BATCH);
        rc = serve_pool(srv, &po);
    }
    parley_server_free(srv);
    parley_model_free(m);
    return rc < 0 ? 1 : 0;
}

/* ---- the client ---- */

static const char infer_usage[] =
    "usage: parley infer --connect HOST:PORT --input x.npy [options]\n"
    "\n"
    "Runs a secure inference of the server's model on the input: the server\n"
    "learns nothing about it; this side learns the output (or only the label).\n"
    "Prints the label and the top-5 with their scores.\n"
    "\n"
    "options:\n"
    "  --output y.npy       write the output tensor as float32 (.npy)\n"
    "  --tls-ca CA.pem      TLS 1.3: check the server's certificate chain and name with this CA\n"
    "  --tls-pin SHA256     TLS 1.3: check the server's public key against this pin\n"
    "                       (parley serve prints it); with --tls-ca, both are checked\n"
    "  --tls-name NAME      the name the server's certificate must carry (default: HOST)\n"
    "  --tls-cert CERT.pem  a client certificate, for servers that admit only known clients\n"
    "  --tls-key KEY.pem    its private key\n"
    "  --token-file FILE    present this token (the file's bytes) to the server\n"
    "  --insecure           allow plaintext to an address other than loopback\n"
    "  --max-model-memory MIB  cap on what the server's model and lanes may make\n"
    "                       this side allocate (default 2048)\n"
    "  --max-stash MIB      cap on what the session buffers from the server (default 512)\n"
    "  --json               print the report as one JSON object on stdout\n"
    "  --quiet              no progress line\n";

/* One secure inference as the client, its output printed and written: 0,
 * or the exit status after the message (2 for options the API refused). */
static int run_client(const opts *o, const char *cmd, const char *host, int port) {
    parley_tensor x = {0}, y = {0};
    parley_report r = {0};
    parley_client_opts co;
    parley_client_opts_init(&co);
    co.tls_ca = o->tls_ca;
    co.tls_pin = o->tls_pin;
    co.tls_name = o->tls_name;
    co.tls_cert = o->tls_cert;
    co.tls_key = o->tls_key;
    co.token_file = o->token_file;
    co.insecure = o->insecure;
    co.max_stash = (size_t)o->max_stash << 20;
    co.max_model_memory = (uint64_t)o->max_model_memory << 20;
    co.progress = !o->quiet && isatty(2) ? progress_line : NULL;
    int st = 0;
    int rc = parley_tensor_load_npy(&x, o->input);
    if (rc == 0) {
        rc = parley_infer(host, port, &x, &y, &r, &co);
        if (rc == PARLEY_E_ARG) st = 2; /* the options: TLS files, the pin, plaintext */
    }
    if (rc == 0) rc = client_finish(o, &r, &y);
    if (rc < 0) fprintf(stderr, "parley %s: %s\n", cmd, parley_last_error());
    parley_tensor_free(&x);
    parley_tensor_free(&y);
    parley_report_free(&r);
    return rc < 0 ? (st ? st : 1) : 0;
}

int cli_infer(int argc, char **argv) {
    opts o;
    opts_default(&o);
    int pr = parse_opts(&o, argc, argv, "infer",
                        "connect input output json quiet tls-ca tls-pin tls-name tls-cert tls-key "
                        "token-file insecure max-stash max-model-memory",
                        infer_usage);
    if (pr) return pr == 1 ? 0 : 2;
    if (!o.connect || !o.input) {
        fprintf(stderr, "parley infer: --connect and --input are required\n%s", infer_usage);
        return 2;
    }
    char host[256];
    int port;
    if (parse_hostport(o.connect, host, sizeof host, &port) < 0 || port == 0) {
        fprintf(stderr, "parley infer: --connect wants HOST:PORT, got '%s'\n", o.connect);
        return 2;
    }
    int tls = o.tls_ca || o.tls_pin;
    if (!tls && (o.tls_cert || o.tls_key || o.tls_name)) {
        fprintf(stderr, "parley infer: --tls-cert, --tls-key and --tls-name need --tls-ca or "
                        "--tls-pin\n");
        return 2;
    }
    signal(SIGPIPE, SIG_IGN);
    return run_client(&o, "infer", host, port);
}

/* ---- both in one command ---- */

static const char run_usage[] =
    "usage: parley run --model M.onnx --input x.npy [options]\n"
    "\n"
    "A secure inference with both parties on this machine: a server process\n"
    "with the model and a client process with the input, over 127.0.0.1\n"
    "(one plaintext connection).\n"
    "\n"
    "options:\n"
    "  --output y.npy   write the output tensor as float32 (.npy)\n"
    "  --mode ot|he     linear layers over OT or homomorphic encryption (default ot)\n"
    "  --bits L         ring width l, 8..64 (default 37); auto: calibrate on the input\n"
    "                   (as parley calibrate) and use its (l, s)\n"
    "  --scale S        fixed-point scale s, 1..(l - 2) / 2 (default 12)\n"
    "  --wbits W        the public weight width, 1..l (default s + 4)\n"
    "  --threads T      lanes (threads) (default 2)\n"
    "  --reveal logits|label  what the client learns (default logits)\n"
    "  --ot silent|iknp OT for the non-linear layers (default silent)\n"
    "  --leaves cot|vole4  silent OT: the leaf OTs on COTs (default) or 4-bit VOLE\n"
    "  --he-weight-cache MIB  HE mode: memory for the server's transformed weight\n"
    "                   polynomials, made before the input (0: off; default 512)\n"
    "  --max-model-memory MIB, --max-stash MIB  the client's and both sides' caps (as infer)\n"
    "  --json           print the report as one JSON object on stdout\n"
    "  --quiet          no progress line\n";

/* run holds both the model and the input: before any cryptography, the
 * checked reference (parley_plain, at the input's batch) makes sure no
 * value leaves the ring, which the secure run cannot see (docs/MODELS.md,
 * "Range"). */
static int range_check(const parley_model *m, const opts *o) {
    parley_tensor x = {0}, y = {0};
    parley_model *at = NULL; /* the model at the input's batch, when that is not m's */
    parley_model_info info = {.size = sizeof info};
    int rc = parley_tensor_load_npy(&x, o->input);
    if (rc == 0) rc = parley_model_describe_brief(m, &info);
    if (rc == 0 && x.rank >= 2 && info.input_rank >= 2 && x.shape[0] != info.input_shape[0]) {
        opts q = *o;
        q.quiet = 1;
        rc = load_model(&at, &q, x.shape[0], "run");
    }
    if (rc == 0) rc = parley_plain(at ? at : m, &x, &y);
    parley_model_free(at);
    parley_tensor_free(&x);
    parley_tensor_free(&y);
    return rc;
}

int cli_run(int argc, char **argv) {
    opts o;
    opts_default(&o);
    int pr = parse_opts(&o, argc, argv, "run",
                        "model input output mode bits scale wbits threads reveal ot leaves json "
                        "quiet max-stash max-model-memory he-weight-cache",
                        run_usage);
    if (pr) return pr == 1 ? 0 : 2;
    if (!o.model || !o.input) {
        fprintf(stderr, "parley run: --model and --input are required\n%s", run_usage);
        return 2;
    }
    signal(SIGPIPE, SIG_IGN);
    parley_model *m = NULL;
    parley_server *srv = NULL;
    int port = 0;
    int rc = o.bits_auto ? cli_bits_auto("run", o.model, &o.input, 1, &o.l, &o.s, o.quiet) : 0;
    if (rc == 0) rc = load_model(&m, &o, 1, "run");
    if (rc == 0) rc = range_check(m, &o);
    if (rc < 0) {
        fprintf(stderr, "parley run: %s\n", parley_last_error());
        parley_model_free(m);
        return 1;
    }
    opts so = o; /* the server: plaintext on loopback, quiet */
    so.quiet = 1;
    int st = server_of(&srv, m, &so, "run", NULL, 0);
    if (st == 0 && parley_server_listen(srv, "127.0.0.1", 0, &port) < 0) {
        fprintf(stderr, "parley run: %s\n", parley_last_error());
        st = 1;
    }
    if (st) {
        parley_server_free(srv);
        parley_model_free(m);
        return st;
    }
    fflush(NULL);
    pid_t pid = fork();
    if (pid < 0) {
        fprintf(stderr, "parley run: fork: %s\n", strerror(errno));
        return 1;
    }
    if (pid == 0) { /* the server */
        rc = serve_loop(&so, srv, 1);
        if (rc < 0) fprintf(stderr, "parley run: server: %s\n", parley_last_error());
        _exit(rc < 0 ? 1 : 0);
    }
    st = run_client(&o, "run", "127.0.0.1", port);
    int status = 0;
    if (st) kill(pid, SIGTERM);
    waitpid(pid, &status, 0);
    /* after the server: freeing wipes the HE weight cache, whose pages the
     * child shares until then (a write here would copy every one of them) */
    parley_server_free(srv);
    parley_model_free(m);
    if (st == 0 && !(WIFEXITED(status) && WEXITSTATUS(status) == 0)) {
        fprintf(stderr, "parley run: the server process failed\n");
        return 1;
    }
    return st ? 1 : 0;
}
