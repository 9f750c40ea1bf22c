/* Small helpers shared by the subcommands. */
#include "cli.h"

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

int cli_bits_auto(const char *cmd, const char *model, const char *const *inputs, unsigned n,
                  unsigned *l, unsigned *s, int quiet) {
    parley_tensor x[64];
    memset(x, 0, sizeof x);
    parley_calibration c = {0};
    int rc = n <= 64 ? 0 : -1; /* the callers cap n */
    for (unsigned k = 0; k < n && rc == 0; k++)
        rc = parley_tensor_load_npy(&x[k], inputs[k]);
    parley_calibrate_opts o;
    parley_calibrate_opts_init(&o);
    o.input_names = inputs;
    if (rc == 0) rc = parley_calibrate(&c, model, x, n, &o);
    if (rc == 0) {
        *l = c.bits;
        *s = c.scale;
        if (!quiet) {
            fprintf(stderr, "parley %s: --bits auto: calibrated on ", cmd);
            for (unsigned k = 0; k < n; k++)
                fprintf(stderr, "%s%s", k ? ", " : "", inputs[k]);
            fprintf(stderr, ": --bits %u --scale %u\n", c.bits, c.scale);
        }
    }
    parley_calibration_free(&c);
    for (unsigned k = 0; k < n && k < 64; k++)
        parley_tensor_free(&x[k]);
    return rc;
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

int cli_leaves_parse(const char *s) {
    return !strcmp(s, "cot") ? PARLEY_LEAVES_COT : !strcmp(s, "vole4") ? PARLEY_LEAVES_VOLE4 : -1;
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
