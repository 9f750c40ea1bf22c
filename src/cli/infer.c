/* `parley serve`, `parley infer` and `parley run`: the two parties of a
 * secure inference (nn/session.h), as two programs or, for `run`, as two
 * processes of one command over 127.0.0.1. */
#include "cli/cli.h"
#include "cli/serve.h"

#include "he/he.h"
#include "nn/model.h"
#include "nn/npy.h"
#include "nn/ref.h"
#include "net/link.h"
#include "nn/session.h"
#include "ot/lane.h"
#include "util/mem.h"
#include "util/opt.h"
#include "util/timer.h"

#include <errno.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

/* ---- options ---- */

typedef struct opts {
    const char *model, *input, *output, *listen, *connect;
    unsigned mode, l, s, threads, reveal;
    unsigned wbits; /* 0: the policy quant_wbits(l, s) */
    int ot; /* OT backend */
    int json, once, quiet, insecure;
    /* the link: TLS files, the pin, the token file, the caps (MiB) */
    const char *tls_cert, *tls_key, *tls_ca, *tls_client_ca, *tls_pin, *tls_name, *token_file;
    unsigned max_stash, max_model_memory;
    /* serve: the forking server (cli/serve.h); 0: the default */
    unsigned max_sessions, queue, session_timeout, idle_timeout, session_memory, max_batch;
    int queue_set, log_json;
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
            if (strstr(allowed, "MODELARG") && !o->model) { /* inspect's positional model */
                o->model = a;
                continue;
            }
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
        else if (!strcmp(name, "bits")) /* the domain is checked below, with its message */
            bad = opt_uint(v, 0, 1u << 16, &o->l);
        else if (!strcmp(name, "scale"))
            bad = opt_uint(v, 0, 1u << 16, &o->s);
        else if (!strcmp(name, "wbits"))
            bad = opt_uint(v, 1, 64, &o->wbits);
        else if (!strcmp(name, "threads"))
            bad = opt_uint(v, 1, LANES_MAX, &o->threads);
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
            bad = opt_uint(v, (unsigned)(LINK_MAX_STASH_MIN >> 20), 1u << 20, &o->max_stash);
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
            bad = opt_uint(v, 1, HELLO_MAX_BATCH, &o->max_batch);
        else if (!strcmp(name, "mode")) {
            if (!strcmp(v, "ot"))
                o->mode = MODE_OT;
            else if (!strcmp(v, "he"))
                o->mode = MODE_HE;
            else
                bad = -1;
        } else if (!strcmp(name, "ot")) {
            if ((o->ot = ot_backend_parse(v)) < 0) bad = -1;
        } else if (!strcmp(name, "reveal")) {
            if (!strcmp(v, "logits"))
                o->reveal = REVEAL_LOGITS;
            else if (!strcmp(v, "label"))
                o->reveal = REVEAL_LABEL;
            else
                bad = -1;
        }
        if (bad) {
            fprintf(stderr, "parley %s: bad value '%s' for %s\n%s", cmd, v, a, usage ? usage : "");
            return 2;
        }
    }
    if (strstr(allowed, "bits") && quant_check_ls(o->l, o->s) < 0) {
        fprintf(stderr, "parley %s: %s\n", cmd, err_msg());
        return 2;
    }
    return 0;
}

static void opts_default(opts *o) {
    memset(o, 0, sizeof *o);
    o->mode = MODE_OT;
    o->l = 37;
    o->s = 12;
    o->threads = 2;
    o->reveal = REVEAL_LOGITS;
    o->ot = OT_BACKEND_DEFAULT;
}

/* ---- progress and reports ---- */

static int progress_line(void *ctx, const qnet *net, unsigned i, const exec_layer_stat *st,
                         double elapsed, uint64_t bytes) {
    (void)ctx;
    (void)st;
    const qlayer *L = &net->layers[i];
    fprintf(stderr, "\r\033[K[%u/%u] %-10s %-24.24s %7.1f s %10.3f MiB", i + 1, net->nlayers,
            qop_name(L->op), L->name ? L->name : "", elapsed, (double)bytes / 1048576.0);
    if (i + 1 == net->nlayers) fputc('\n', stderr);
    fflush(stderr);
    return 0;
}

static const char *mode_name(unsigned m) {
    return m == MODE_HE ? "he" : "ot";
}

/* The client's view of the costs: its own bytes sent are bytes_client, the
 * bytes it received are bytes_server; rounds = flights of both parties. */
static void print_report(FILE *f, const session_result *r, int json, const int *label,
                         size_t nlabel) {
    const qnet *net = r->net;
    const exec_report *rep = &r->rep;
    uint64_t rounds = rep->flights + r->peer_flights;
    if (json) {
        fprintf(f,
                "{\"bench\":\"infer\",\"mode\":\"%s\",\"ot\":\"%s\",\"bits\":%u,\"scale\":%u,"
                "\"threads\":%u,\"seconds\":%.6f,\"setup_seconds\":%.6f,\"bytes_server\":%llu,"
                "\"bytes_client\":%llu,\"rounds\":%llu,\"critical_flights\":%llu,"
                "\"setup_bytes\":%llu,\"transport\":",
                mode_name(r->mode), ot_backend_name((int)r->ot), net->l, net->s, r->lanes,
                rep->seconds, r->setup_seconds,
                (unsigned long long)rep->bytes_recv, (unsigned long long)rep->bytes_sent,
                (unsigned long long)rounds, (unsigned long long)rep->critical_flights,
                (unsigned long long)(r->setup_bytes_sent + r->setup_bytes_recv));
        cli_json_str(f, r->transport);
        fprintf(f, ",\"frame_bytes\":%llu,\"stash_peak_bytes\":%llu",
                (unsigned long long)(r->link.overhead_sent + r->link.overhead_recv),
                (unsigned long long)r->link.stash_peak);
        qnet_stats qs;
        qnet_stats_get(&qs, net);
        fprintf(f, ",\"layers_count\":%u,\"macs\":%llu,\"relus\":%llu,\"server_seconds\":%.6f",
                net->nlayers, (unsigned long long)qs.macs, (unsigned long long)qs.relus,
                r->peer_seconds);
        if (r->mode == MODE_HE) /* the client's own figure, from the public model */
            fprintf(f, ",\"statistical_bits\":%.2f,\"computational_bits\":%d",
                    rep->he_stat_bits, HE_COMP_BITS);
        if (nlabel) {
            fprintf(f, ",\"label\":[");
            for (size_t i = 0; i < nlabel; i++)
                fprintf(f, "%s%d", i ? "," : "", label[i]);
            fprintf(f, "]");
        }
        fprintf(f, ",\"layers\":[");
        for (unsigned i = 0; i < rep->nlayers; i++) {
            const qlayer *L = &net->layers[i];
            const exec_layer_stat *s = &rep->layers[i];
            fprintf(f, "%s{\"op\":\"%s\",\"name\":", i ? "," : "", qop_name(L->op));
            cli_json_str(f, L->name);
            fprintf(f,
                    ",\"seconds\":%.6f,\"bytes\":%llu,\"bytes_server\":%llu,\"bytes_client\":%llu,"
                    "\"flights_client\":%llu,\"critical_flights\":%llu}",
                    s->seconds, (unsigned long long)(s->bytes + s->bytes_recv),
                    (unsigned long long)s->bytes_recv, (unsigned long long)s->bytes,
                    (unsigned long long)s->flights, (unsigned long long)s->critical_flights);
        }
        fprintf(f, "]}\n");
        return;
    }
    fprintf(f, "secure inference (%s mode, %s OT, l = %u, s = %u, %u lane%s, %s): %.2f s, %.3f MiB "
               "sent by the server, %.3f MiB by the client, %llu rounds, %llu flights on the "
               "critical path; set-up %.2f s, %.3f MiB\n",
            mode_name(r->mode), ot_backend_name((int)r->ot), net->l, net->s, r->lanes,
            r->lanes == 1 ? "" : "s", r->transport, rep->seconds,
            (double)rep->bytes_recv / 1048576.0, (double)rep->bytes_sent / 1048576.0,
            (unsigned long long)rounds, (unsigned long long)rep->critical_flights,
            r->setup_seconds, (double)(r->setup_bytes_sent + r->setup_bytes_recv) / 1048576.0);
    if (r->mode == MODE_HE)
        fprintf(f,
                "  security: %.1f bits statistical for the whole inference, %d bits "
                "computational\n",
                rep->he_stat_bits, HE_COMP_BITS);
    /* By layer kind. */
    double sec[QOP_END_] = {0};
    uint64_t by[QOP_END_] = {0}, cnt[QOP_END_] = {0}, fl[QOP_END_] = {0}, cf[QOP_END_] = {0};
    for (unsigned i = 0; i < rep->nlayers; i++) {
        qop op = net->layers[i].op;
        sec[op] += rep->layers[i].seconds;
        by[op] += rep->layers[i].bytes + rep->layers[i].bytes_recv;
        fl[op] += rep->layers[i].flights;
        cf[op] += rep->layers[i].critical_flights;
        cnt[op]++;
    }
    fprintf(f, "  %-11s %6s %10s %16s %15s %17s\n", "layer kind", "count", "seconds",
            "MiB (both ways)", "client flights", "critical flights");
    for (int op = 1; op < QOP_END_; op++)
        if (cnt[op])
            fprintf(f, "  %-11s %6llu %10.3f %16.3f %15llu %17llu\n", qop_name((qop)op),
                    (unsigned long long)cnt[op], sec[op], (double)by[op] / 1048576.0,
                    (unsigned long long)fl[op], (unsigned long long)cf[op]);
}

/* Print the label and top-5 of each row of the output. */
static void print_result(FILE *f, const session_result *r, const float *v, const nn_shape *sh,
                         int *labels, size_t *nlabels) {
    const qnet *net = r->net;
    const qtensor *ot = &net->t[net->output];
    *nlabels = 0;
    if (r->reveal == REVEAL_LABEL || ot->scale == 0) { /* indices */
        for (size_t i = 0; i < r->nout; i++) {
            labels[(*nlabels)++] = (int)v[i];
            fprintf(f, "label: %d\n", (int)v[i]);
        }
        return;
    }
    size_t cols = sh->rank ? sh->d[sh->rank - 1] : 1, rows = r->nout / cols;
    for (size_t row = 0; row < rows; row++) {
        const float *x = v + row * cols;
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
        fprintf(f, "%slabel: %zu\ntop-%zu:\n", rows > 1 ? "" : "", order[0], k);
        for (size_t j = 0; j < k; j++)
            fprintf(f, "  %5zu  logit %9.4f  p %.4f\n", order[j], x[order[j]],
                    exp((double)x[order[j]] - mx) / z);
    }
}

/* Decode, print and write what the client learned. */
static int client_finish(const opts *o, session_result *r) {
    const qnet *net = r->net;
    const qtensor *ot = &net->t[net->output];
    nn_shape sh = ot->shape;
    if (r->reveal == REVEAL_LABEL && ot->scale != 0) { /* one index per row */
        if (sh.rank) sh.d[sh.rank - 1] = 1;
    }
    float *v = mem_alloc(r->nout ? r->nout : 1, sizeof *v);
    int *labels = mem_alloc(r->nout ? r->nout : 1, sizeof *labels);
    if (!v || !labels) {
        mem_free(v);
        mem_free(labels);
        return PARLEY_E_NOMEM;
    }
    if (r->reveal == REVEAL_LABEL && ot->scale != 0)
        for (size_t i = 0; i < r->nout; i++)
            v[i] = (float)r->out[i];
    else
        qnet_decode(net, v, net->output, r->out);
    size_t nl = 0;
    print_result(o->json ? stderr : stdout, r, v, &sh, labels, &nl);
    fflush(stdout);
    int rc = 0;
    if (o->output) rc = npy_save_f32(o->output, &sh, v);
    if (rc == 0) print_report(o->json ? stdout : stderr, r, o->json, labels, nl);
    mem_free(v);
    mem_free(labels);
    return rc;
}

/* ---- the link: TLS, token, caps ---- */

/* The link options of a command, from its flags. Keys stay in OpenSSL's
 * context, the token's digest in tok (wiped by link_cfg_free). */
typedef struct link_cfg {
    link_opts lo;
    tls_ctx *tls;
    uint8_t tok[LINK_TOKEN_BYTES];
} link_cfg;

static int link_cfg_make(link_cfg *c, const opts *o, int server) {
    memset(c, 0, sizeof *c);
    c->lo.max_stash = (size_t)o->max_stash << 20;
    int tls = server ? o->tls_cert || o->tls_key || o->tls_client_ca : o->tls_ca || o->tls_pin;
    if (tls) {
        tls_opts t = {.server = server, .cert = o->tls_cert, .key = o->tls_key,
                      .ca = server ? o->tls_client_ca : o->tls_ca, .pin = server ? NULL : o->tls_pin};
        TRY(tls_ctx_new(&c->tls, &t));
        c->lo.tls = c->tls;
        c->lo.server_name = o->tls_name;
    }
    if (o->token_file) {
        TRY(tls_token_file(c->tok, o->token_file));
        c->lo.token = c->tok;
    }
    return 0;
}

static void link_cfg_free(link_cfg *c) {
    tls_ctx_free(c->tls);
    mem_wipe(c->tok, sizeof c->tok);
    memset(c, 0, sizeof *c);
}

/* Plaintext leaves this machine only when asked for by name. */
static int plaintext_allowed(const opts *o, const char *cmd, const char *host, int tls) {
    if (tls || o->insecure) return 1;
    int lb = net_is_loopback(host);
    if (lb == 1) return 1;
    if (!strcmp(cmd, "serve"))
        fprintf(stderr,
                "parley serve: refusing to serve %s in plaintext: give --tls-cert and --tls-key "
                "(TLS 1.3), or --insecure if the network between the parties is trusted\n",
                host[0] ? host : "all addresses");
    else
        fprintf(stderr,
                "parley infer: refusing to connect to %s in plaintext: give --tls-ca or --tls-pin "
                "to check the server (TLS 1.3), or --insecure if the network is trusted\n",
                host);
    return 0;
}

/* ---- the server ---- */

static int load_model(qnet **net, const opts *o, const char *cmd) {
    char *notes = NULL;
    nn_model_opts mo = {.l = o->l, .s = o->s, .batch = 1, .wbits = o->wbits};
    int rc = nn_model_load_opts(net, &notes, o->model, &mo);
    if (notes && !o->quiet) fprintf(stderr, "parley %s: %s", cmd, notes);
    mem_free(notes);
    return rc;
}

/* Per-session defaults of parley serve (README, "Serving many clients"). */
#define SERVE_SESSION_TIMEOUT_S 3600 /* ResNet50 in OT mode takes minutes; an hour is a stuck peer */
#define SERVE_IDLE_TIMEOUT_S 120     /* over the longest layer a peer computes alone (~50 s) */
#define SERVE_MAX_BATCH 64
#define SERVE_QUEUE_PER_SESSION 4

/* The served model at another batch, loaded when a client asks for it (in
 * the session's own process when the server forks). */
typedef struct batch_ctx {
    const opts *o;
    qnet *net;
} batch_ctx;

static int batch_net(void *ctx, unsigned batch, const qnet **out) {
    batch_ctx *b = ctx;
    qnet_free(b->net);
    b->net = NULL;
    nn_model_opts mo = {.l = b->o->l, .s = b->o->s, .batch = batch, .wbits = b->o->wbits};
    TRY(nn_model_load_opts(&b->net, NULL, b->o->model, &mo));
    *out = b->net;
    return 0;
}

static server_cfg server_cfg_of(const opts *o, const qnet *net, const link_opts *lo,
                                batch_ctx *bc) {
    unsigned idle = o->idle_timeout ? o->idle_timeout : SERVE_IDLE_TIMEOUT_S;
    server_cfg cfg = {.net = net, .mode = o->mode, .lanes = o->threads, .reveal = o->reveal,
                      .ot = (unsigned)o->ot, .link = lo,
                      .hello_timeout_ms = idle < 30 ? (int)idle * 1000 : 0,
                      .idle_timeout_ms = (int)idle * 1000,
                      .max_batch = o->max_batch ? o->max_batch : SERVE_MAX_BATCH,
                      .batch_net = o->model ? batch_net : NULL,
                      .batch_ctx = bc};
    return cfg;
}

/* Sessions one after another in this process (--once, parley run). */
static int serve_loop(const opts *o, qnet *net, chan_listener *l, const link_opts *lo,
                      int sessions) {
    batch_ctx bc = {.o = o};
    server_cfg cfg = server_cfg_of(o, net, lo, &bc);
    session_server *srv;
    TRY(session_server_new(&srv, l));
    int last = 0;
    for (int k = 0; sessions < 0 || k < sessions; k++) {
        session_result r;
        double t0 = time_now();
        int rc = session_serve_one(srv, &cfg, -1, &r);
        if (!o->quiet || rc < 0) {
            serve_report sr;
            serve_report_of(&sr, (unsigned long)k + 1, &r, rc, time_now() - t0);
            serve_log(stderr, &sr, o->log_json);
        }
        last = rc;
        session_result_free(&r);
    }
    session_server_free(srv);
    qnet_free(bc.net);
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
    "  --bits L             ring width l, 8..64 (default 37)\n"
    "  --scale S            fixed-point scale s, 1..(l - 2) / 2 (default 12)\n"
    "  --wbits W            the public bound on the weights' signed width, 1..l (default\n"
    "                       s + 4: real weights in (-8, 8)); the model is refused if its\n"
    "                       weights exceed it\n"
    "  --threads T          lanes (threads) per session (default 2)\n"
    "  --reveal logits|label  what the client learns (default logits)\n"
    "  --ot silent|iknp     OT for the non-linear layers: silent (Ferret COTs, about 8x\n"
    "                       fewer bytes) or IKNP/KK13 extension (default silent)\n"
    "  --tls-cert CERT.pem  serve over TLS 1.3 with this certificate (chain) ...\n"
    "  --tls-key KEY.pem    ... and its private key\n"
    "  --tls-client-ca CA.pem  admit only clients with a certificate from this CA\n"
    "  --token-file FILE    admit only clients that present this token (the file's bytes)\n"
    "  --insecure           allow plaintext on an address other than loopback\n"
    "  --max-stash MIB      cap on what one session buffers from its client (default 512)\n"
    "  --max-sessions K     sessions at once (default: the cores, fewer if the memory\n"
    "                       cannot give each 1 GiB; this machine: %u)\n"
    "  --queue Q            connections that wait for a free session beyond K; past\n"
    "                       K + Q a client is told \"server busy\" (default 4 K)\n"
    "  --session-timeout S  wall-time limit of one session (default 3600)\n"
    "  --idle-timeout S     a session whose client sends nothing this long ends\n"
    "                       (default 120)\n"
    "  --session-memory MIB address-space limit of one session's process (default:\n"
    "                       the available memory / K; this machine: %llu)\n"
    "  --max-batch N        most inputs one client may bring in a session, when the\n"
    "                       model's batch axis is dynamic (default 64)\n"
    "  --log-json           the session lines as one JSON object each\n"
    "  --once               serve one session in this process, then exit with its status\n"
    "  --quiet              print only errors\n";

static void serve_help(void) {
    unsigned k = serve_default_sessions();
    printf(serve_usage, k, (unsigned long long)(serve_default_session_memory(k) >> 20));
}

int cli_serve(int argc, char **argv) {
    opts o;
    opts_default(&o);
    int pr = parse_opts(&o, argc, argv, "serve",
                        "model listen mode bits scale wbits threads reveal ot once quiet tls-cert "
                        "tls-key tls-client-ca token-file insecure max-stash max-sessions queue "
                        "session-timeout idle-timeout session-memory max-batch log-json",
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
    if (!plaintext_allowed(&o, "serve", host, tls)) return 2;
    link_cfg lc;
    int rc = link_cfg_make(&lc, &o, 1);
    if (rc < 0) {
        fprintf(stderr, "parley serve: %s\n", err_msg());
        link_cfg_free(&lc);
        return 2;
    }
    qnet *net = NULL;
    chan_listener *l = NULL;
    rc = load_model(&net, &o, "serve");
    if (rc == 0) rc = chan_listen(&l, host, port);
    if (rc < 0) {
        fprintf(stderr, "parley serve: %s\n", err_msg());
        qnet_free(net);
        link_cfg_free(&lc);
        return 1;
    }
    if (!o.quiet) {
        fprintf(stderr,
                "parley serve: %s (%u layers) on %s:%d, %s mode, %s OT, l = %u, s = %u, %u lane%s\n",
                o.model, net->nlayers, host, chan_listener_port(l), mode_name(o.mode),
                ot_backend_name(o.ot), o.l, o.s, o.threads, o.threads == 1 ? "" : "s");
        if (tls)
            fprintf(stderr, "parley serve: TLS 1.3; the key's pin (for parley infer --tls-pin): %s%s%s\n",
                    tls_ctx_pin(lc.tls), o.tls_client_ca ? "; clients need a certificate" : "",
                    o.token_file ? "; clients need the token" : "");
        else
            fprintf(stderr, "parley serve: plaintext%s\n",
                    o.token_file ? "; clients need the token" : "");
    }
    signal(SIGPIPE, SIG_IGN);
    if (o.once)
        rc = serve_loop(&o, net, l, &lc.lo, 1);
    else {
        serve_pool_opts po;
        po.max_sessions = o.max_sessions ? o.max_sessions : serve_default_sessions();
        uint64_t mem = serve_default_session_memory(po.max_sessions);
        po.queue = o.queue_set ? o.queue : SERVE_QUEUE_PER_SESSION * po.max_sessions;
        po.session_timeout = o.session_timeout ? o.session_timeout : SERVE_SESSION_TIMEOUT_S;
        po.session_memory = o.session_memory ? (uint64_t)o.session_memory << 20 : mem;
        po.log_json = o.log_json;
        po.quiet = o.quiet;
        if (!o.quiet)
            fprintf(stderr, "parley serve: up to %u sessions at once, %u waiting; per session "
                            "%u s, idle %u s, %llu MiB; batches up to %u\n",
                    po.max_sessions, po.queue, (unsigned)po.session_timeout,
                    o.idle_timeout ? o.idle_timeout : SERVE_IDLE_TIMEOUT_S,
                    (unsigned long long)(po.session_memory >> 20),
                    o.max_batch ? o.max_batch : SERVE_MAX_BATCH);
        batch_ctx bc = {.o = &o};
        server_cfg cfg = server_cfg_of(&o, net, &lc.lo, &bc);
        rc = serve_pool(l, &cfg, &po);
        if (rc < 0) fprintf(stderr, "parley serve: %s\n", err_msg());
    }
    chan_listener_close(l);
    qnet_free(net);
    link_cfg_free(&lc);
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
    "  --max-model-memory MIB  cap on what the server's model may make this side\n"
    "                       allocate (default 2048)\n"
    "  --max-stash MIB      cap on what the session buffers from the server (default 512)\n"
    "  --json               print the report as one JSON object on stdout\n"
    "  --quiet              no progress line\n";

static int run_client(const opts *o, const char *host, int port, const link_opts *lo) {
    nn_tensor x = {0};
    session_result r;
    memset(&r, 0, sizeof r);
    client_cfg cfg = {.link = lo,
                      .max_model_memory = (uint64_t)o->max_model_memory << 20,
                      .progress = !o->quiet && isatty(2) ? progress_line : NULL};
    int rc = npy_load(&x, o->input);
    if (rc == 0) rc = session_infer_ex(&cfg, host, port, &x, &r);
    if (rc == 0) rc = client_finish(o, &r);
    if (rc < 0) fprintf(stderr, "parley infer: %s\n", err_msg());
    nn_tensor_free(&x);
    session_result_free(&r);
    return rc;
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
    if (!plaintext_allowed(&o, "infer", host, tls)) return 2;
    link_cfg lc;
    int rc = link_cfg_make(&lc, &o, 0);
    if (rc < 0) {
        fprintf(stderr, "parley infer: %s\n", err_msg());
        link_cfg_free(&lc);
        return 2;
    }
    signal(SIGPIPE, SIG_IGN);
    rc = run_client(&o, host, port, &lc.lo);
    link_cfg_free(&lc);
    return rc < 0 ? 1 : 0;
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
    "  --bits L         ring width l, 8..64 (default 37)\n"
    "  --scale S        fixed-point scale s, 1..(l - 2) / 2 (default 12)\n"
    "  --wbits W        the public weight width, 1..l (default s + 4)\n"
    "  --threads T      lanes (threads) (default 2)\n"
    "  --reveal logits|label  what the client learns (default logits)\n"
    "  --ot silent|iknp OT for the non-linear layers (default silent)\n"
    "  --max-model-memory MIB, --max-stash MIB  the client's and both sides' caps (as infer)\n"
    "  --json           print the report as one JSON object on stdout\n"
    "  --quiet          no progress line\n";

/* run holds both the model and the input: before any cryptography, the
 * checked reference (ref_run_checked) makes sure no value leaves the ring,
 * which the secure run cannot see (docs/MODELS.md, "Range"). */
static int range_check(const qnet *net, const opts *o) {
    nn_tensor x = {0}, y = {0};
    qnet *at = NULL; /* the model at the input's batch, when that is not net's */
    int rc = npy_load(&x, o->input);
    const nn_shape *in = &net->t[net->input].shape;
    if (rc == 0 && x.shape.rank >= 2 && in->rank >= 2 && x.shape.d[0] != in->d[0]) {
        nn_model_opts mo = {.l = o->l, .s = o->s, .batch = (unsigned)x.shape.d[0],
                            .wbits = o->wbits};
        rc = nn_model_load_opts(&at, NULL, o->model, &mo);
    }
    if (rc == 0) rc = ref_run_float_ex(at ? at : net, &y, &x, 1);
    qnet_free(at);
    nn_tensor_free(&x);
    nn_tensor_free(&y);
    return rc;
}

int cli_run(int argc, char **argv) {
    opts o;
    opts_default(&o);
    int pr = parse_opts(&o, argc, argv, "run",
                        "model input output mode bits scale wbits threads reveal ot json quiet "
                        "max-stash max-model-memory",
                        run_usage);
    if (pr) return pr == 1 ? 0 : 2;
    if (!o.model || !o.input) {
        fprintf(stderr, "parley run: --model and --input are required\n%s", run_usage);
        return 2;
    }
    signal(SIGPIPE, SIG_IGN);
    qnet *net = NULL;
    chan_listener *l = NULL;
    opts so = o;
    so.quiet = 1;
    link_opts lo = {.max_stash = (size_t)o.max_stash << 20};
    int rc = load_model(&net, &o, "run");
    if (rc == 0) rc = range_check(net, &o);
    if (rc == 0) rc = chan_listen(&l, "127.0.0.1", 0);
    if (rc < 0) {
        fprintf(stderr, "parley run: %s\n", err_msg());
        qnet_free(net);
        return 1;
    }
    int port = chan_listener_port(l);
    fflush(NULL);
    pid_t pid = fork();
    if (pid < 0) {
        fprintf(stderr, "parley run: fork: %s\n", strerror(errno));
        return 1;
    }
    if (pid == 0) { /* the server */
        rc = serve_loop(&so, net, l, &lo, 1);
        if (rc < 0) fprintf(stderr, "parley run: server: %s\n", err_msg());
        _exit(rc < 0 ? 1 : 0);
    }
    chan_listener_close(l);
    qnet_free(net);
    rc = run_client(&o, "127.0.0.1", port, &lo);
    int status = 0;
    if (rc < 0) kill(pid, SIGTERM);
    waitpid(pid, &status, 0);
    if (rc == 0 && !(WIFEXITED(status) && WEXITSTATUS(status) == 0)) {
        fprintf(stderr, "parley run: the server process failed\n");
        return 1;
    }
    return rc < 0 ? 1 : 0;
}
