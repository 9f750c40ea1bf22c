/* Small helpers shared by the subcommands. */
#include "cli.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

void cli_json_str(FILE *f, const char *s) {
    fputc('"', f);
    for (; s && *s; s++) {
        unsigned char c = (unsigned char)*s;
        if (c == '"' || c == '\\')
            fprintf(f, "\\%c", c);
        else if (c < 0x20 || c > 0x7e)
            fprintf(f, "\\u%04x", c);
        else
            fputc(c, f);
    }
    fputc('"', f);
}

int cli_opt_uint(const char *s, unsigned lo, unsigned hi, unsigned *out) {
    if (!s || s[0] < '0' || s[0] > '9') return -1; /* strtoull would take " -1" as 2^64 - 1 */
    char *end;
    errno = 0;
    unsigned long long x = strtoull(s, &end, 10);
    if (errno || *end || x < lo || x > hi) return -1;
    *out = (unsigned)x;
    return 0;
}

double cli_now(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec * 1e-9;
}

const char *cli_mode_name(int mode) {
    return mode == PARLEY_MODE_HE ? "he" : "ot";
}

const char *cli_ot_name(int ot) {
    return ot == PARLEY_OT_IKNP ? "iknp" : ot == PARLEY_OT_SILENT ? "silent" : "?";
}

int cli_ot_parse(const char *s) {
    return !strcmp(s, "silent") ? PARLEY_OT_SILENT : !strcmp(s, "iknp") ? PARLEY_OT_IKNP : -1;
}

const char *cli_shape_str(char *buf, size_t cap, unsigned rank, const uint32_t *d) {
    size_t at = 0;
    if (!cap) return buf;
    buf[0] = 0;
    at += (size_t)snprintf(buf, cap, "[");
    for (unsigned i = 0; i < rank && at < cap; i++)
        at += (size_t)snprintf(buf + at, cap - at, "%s%u", i ? "," : "", (unsigned)d[i]);
    if (at < cap) snprintf(buf + at, cap - at, "]");
    return buf;
}
