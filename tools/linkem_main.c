/* parley-linkem: the link emulator as a program (linkem.h, docs/NETWORK.md).
 * Runs until SIGINT or SIGTERM, then prints what crossed as one JSON line. */
#include "linkem.h"

#include <errno.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static const char usage[] =
    "usage: parley-linkem --upstream HOST:PORT [options]\n"
    "\n"
    "A TCP relay that emulates a network link between two parties on one\n"
    "machine: it listens, connects every connection it accepts to the upstream\n"
    "address (e.g. a `parley serve`), and delays and paces the bytes in each\n"
    "direction. All connections share the link, as between two hosts.\n"
    "\n"
    "options:\n"
    "  --listen HOST:PORT   where clients connect (default 127.0.0.1:0: the kernel\n"
    "                       picks a port; the first line on stderr says which)\n"
    "  --upstream HOST:PORT where to relay to (required)\n"
    "  --net loopback|lan|wan  CrypTFlow2's settings: lan = 0.8 ms round trip and\n"
    "                       377 MB/s, wan = 80 ms and 40 MB/s (per direction);\n"
    "                       loopback = no delay, no limit\n"
    "  --rtt MS             round-trip time in ms: a one-way delay of MS/2 each way\n"
    "  --delay MS           one-way delay in ms, both directions\n"
    "  --rate MBPS          rate in MB/s (10^6 bytes per second) per direction;\n"
    "                       0 = unlimited\n"
    "  --delay-up MS, --delay-down MS, --rate-up MBPS, --rate-down MBPS\n"
    "                       one direction only (up: client to server)\n"
    "  --queue KB           bottleneck buffer per direction, KB (10^3 bytes): bytes\n"
    "                       accepted ahead of the pacer (default: one round trip at\n"
    "                       the rate, at least 64 KiB)\n"
    "  --burst KB           token bucket depth per direction (default 16 KiB)\n"
    "  --max-conns N        connections at once (default 1024)\n"
    "  --stats FILE         write the closing JSON line to FILE instead of stderr\n"
    "  --trace FILE         a line per flight as it reaches a party: monotonic\n"
    "                       seconds, direction (up/down), the chain depth it reached\n"
    "\n"
    "Options apply in order: `--net wan --rate 100` is WAN's delay at 100 MB/s.\n"
    "On SIGINT or SIGTERM it prints {\"conns\", \"bytes_up\", \"bytes_down\",\n"
    "\"chain\", ...}: chain is the longest chain of one-way flights it saw (see\n"
    "docs/NETWORK.md; measure it with a delay of a few ms or more).\n"
    "Exit status: 0, 1 if it cannot listen or relay, 2 for bad options.\n";

static int stop_pipe[2] = {-1, -1};

static void on_signal(int sig) {
    (void)sig;
    int e = errno;
    if (write(stop_pipe[1], "x", 1) < 0) { /* nothing more to do in a handler */
    }
    errno = e;
}

static int parse_hostport(const char *v, char *host, size_t cap, int *port) {
    const char *c = strrchr(v, ':');
    if (!c || (size_t)(c - v) >= cap) return -1;
    char *end;
    errno = 0;
    long p = strtol(c + 1, &end, 10);
    if (errno || *end || !c[1] || p < 0 || p > 65535) return -1;
    memcpy(host, v, (size_t)(c - v));
    host[c - v] = 0;
    if (!host[0]) snprintf(host, cap, "127.0.0.1");
    *port = (int)p;
    return 0;
}

static int parse_num(const char *v, double lo, double hi, double *out) {
    char *end;
    errno = 0;
    double x = strtod(v, &end);
    if (errno || *end || !v[0] || !isfinite(x) || x < lo || x > hi) return -1;
    *out = x;
    return 0;
}

int main(int argc, char **argv) {
    linkem_cfg cfg;
    memset(&cfg, 0, sizeof cfg);
    char lhost[256] = "127.0.0.1", uhost[256] = "";
    int lport = 0, uport = 0;
    const char *stats = NULL, *trace = NULL;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
            fputs(usage, stdout);
            return 0;
        }
        static const char *const known[] = {
            "--listen",    "--upstream",   "--net",     "--rtt",       "--delay", "--rate",
            "--delay-up",  "--delay-down", "--rate-up", "--rate-down", "--queue", "--burst",
            "--max-conns", "--stats",      "--trace",   NULL};
        int k = 0;
        while (known[k] && strcmp(known[k], a))
            k++;
        if (!known[k]) {
            fprintf(stderr, "parley-linkem: unknown option '%s'\n%s", a, usage);
            return 2;
        }
        if (i + 1 >= argc) {
            fprintf(stderr, "parley-linkem: option %s needs a value\n", a);
            return 2;
        }
        const char *v = argv[++i];
        double x = 0;
        int bad = 0;
        if (!strcmp(a, "--listen")) {
            bad = parse_hostport(v, lhost, sizeof lhost, &lport);
        } else if (!strcmp(a, "--upstream")) {
            bad = parse_hostport(v, uhost, sizeof uhost, &uport) || uport == 0;
        } else if (!strcmp(a, "--net")) {
            double rtt, rate;
            if (!strcmp(v, "loopback"))
                rtt = 0, rate = 0;
            else if (!strcmp(v, "lan"))
                rtt = 0.8, rate = 377;
            else if (!strcmp(v, "wan"))
                rtt = 80, rate = 40;
            else {
                fprintf(stderr, "parley-linkem: --net wants loopback, lan or wan, not '%s'\n", v);
                return 2;
            }
            cfg.delay_ms[0] = cfg.delay_ms[1] = rtt / 2;
            cfg.rate_bps[0] = cfg.rate_bps[1] = rate * 1e6;
        } else if (!strcmp(a, "--stats")) {
            stats = v;
        } else if (!strcmp(a, "--trace")) {
            trace = v;
        } else if (!strcmp(a, "--max-conns")) {
            bad = parse_num(v, 1, 1e6, &x);
            cfg.max_conns = (unsigned)x;
        } else if (!strcmp(a, "--rtt") || !strncmp(a, "--delay", 7)) {
            bad = parse_num(v, 0, 60000, &x);
            if (!strcmp(a, "--rtt")) x /= 2;
            if (strcmp(a, "--delay-down")) cfg.delay_ms[LINKEM_UP] = x;
            if (strcmp(a, "--delay-up")) cfg.delay_ms[LINKEM_DOWN] = x;
        } else if (!strncmp(a, "--rate", 6)) {
            bad = parse_num(v, 0, 1e6, &x) || (x > 0 && x < 0.001);
            if (strcmp(a, "--rate-down")) cfg.rate_bps[LINKEM_UP] = x * 1e6;
            if (strcmp(a, "--rate-up")) cfg.rate_bps[LINKEM_DOWN] = x * 1e6;
        } else { /* --queue, --burst */
            bad = parse_num(v, 1, 16000, &x);
            uint64_t *q = !strcmp(a, "--queue") ? cfg.queue : cfg.burst;
            q[0] = q[1] = (uint64_t)(x * 1e3);
        }
        if (bad) {
            fprintf(stderr, "parley-linkem: bad value '%s' for %s\n%s", v, a, usage);
            return 2;
        }
    }
    if (!uhost[0]) {
        fprintf(stderr, "parley-linkem: --upstream HOST:PORT is required\n%s", usage);
        return 2;
    }
    cfg.listen_host = lhost;
    cfg.listen_port = lport;
    cfg.up_host = uhost;
    cfg.up_port = uport;
    if (trace && !(cfg.trace = fopen(trace, "w"))) {
        fprintf(stderr, "parley-linkem: %s: %s\n", trace, strerror(errno));
        return 1;
    }
    char err[256];
    linkem *e;
    if (linkem_open(&e, &cfg, err, sizeof err) < 0) {
        fprintf(stderr, "parley-linkem: %s\n", err);
        return 1;
    }
    if (pipe(stop_pipe) < 0) {
        fprintf(stderr, "parley-linkem: pipe: %s\n", strerror(errno));
        return 1;
    }
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);
    fprintf(
        stderr,
        "parley-linkem: on %s:%d to %s:%d, up %g ms %g MB/s, down %g ms %g MB/s, queue %llu/%llu "
        "bytes\n",
        lhost, linkem_port(e), uhost, uport, cfg.delay_ms[0], cfg.rate_bps[0] / 1e6,
        cfg.delay_ms[1], cfg.rate_bps[1] / 1e6, (unsigned long long)linkem_queue_of(&cfg, 0),
        (unsigned long long)linkem_queue_of(&cfg, 1));
    fflush(stderr);
    int rc = linkem_run(e, stop_pipe[0], err, sizeof err);
    if (rc < 0) fprintf(stderr, "parley-linkem: %s\n", err);
    linkem_stats st;
    linkem_stats_get(e, &st);
    FILE *f = stats ? fopen(stats, "w") : stderr;
    if (!f) {
        fprintf(stderr, "parley-linkem: %s: %s\n", stats, strerror(errno));
        f = stderr;
    }
    fprintf(f,
            "{\"conns\":%llu,\"bytes_up\":%llu,\"bytes_down\":%llu,\"chain\":%llu,"
            "\"seconds\":%.6f,\"delay_ms_up\":%g,\"delay_ms_down\":%g,\"rate_mbps_up\":%g,"
            "\"rate_mbps_down\":%g}\n",
            (unsigned long long)st.conns, (unsigned long long)st.bytes[0],
            (unsigned long long)st.bytes[1], (unsigned long long)st.chain,
            st.last_s > st.first_s ? st.last_s - st.first_s : 0.0, cfg.delay_ms[0], cfg.delay_ms[1],
            cfg.rate_bps[0] / 1e6, cfg.rate_bps[1] / 1e6);
    if (f != stderr) fclose(f);
    if (cfg.trace) fclose(cfg.trace);
    linkem_close(e);
    return rc < 0 ? 1 : 0;
}
