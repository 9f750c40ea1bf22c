/* Subcommands of the parley command, built on the public API (parley.h)
 * alone: the CLI's sources include parley.h and the CLI's own headers,
 * nothing under src/ (tests/cli_includes.sh checks it, and the parley
 * binary links libparley.so, which exports the API only). Each subcommand
 * returns the process exit status. */
#ifndef PARLEY_CLI_CLI_H
#define PARLEY_CLI_CLI_H

#include "parley.h"

#include <stdio.h>

int cli_plain(int argc, char **argv);
int cli_run(int argc, char **argv);
int cli_serve(int argc, char **argv);
int cli_infer(int argc, char **argv);
int cli_inspect(int argc, char **argv);
int cli_calibrate(int argc, char **argv);

/* Return a failed API call's status (its message is parley_last_error()). */
#define TRY_CLI(expr)                                                                              \
    do {                                                                                           \
        int rc_ = (expr);                                                                          \
        if (rc_ < 0) return rc_;                                                                   \
    } while (0)

/* A JSON string literal of s: quotes, backslashes and non-printable bytes
 * escaped (names in models are the model author's bytes). */
void cli_json_str(FILE *f, const char *s);
/* A decimal option value in lo..hi into *out: 0, or -1 if it is not one. */
/* A decimal unsigned in [lo, hi], strictly: src/util/opt.c, the one parser
 * of the benchmarks, tests and library, compiled into the command too. */
int opt_uint(const char *s, unsigned lo, unsigned hi, unsigned *out);
/* --bits auto: the model calibrated on the n (1..64) input files
 * (parley_calibrate's defaults; `parley calibrate` prints the reasoning)
 * into *l and *s, which are printed on stderr unless quiet. 0, or the
 * failed call's status (its message is parley_last_error()). */
int cli_bits_auto(const char *cmd, const char *model, const char *const *inputs, unsigned n,
                  unsigned *l, unsigned *s, int quiet);
/* Seconds on a monotonic clock. */
double cli_now(void);
/* "ot" / "he", "silent" / "iknp" (parley_model_opts' mode and ot). */
const char *cli_mode_name(int mode);
const char *cli_ot_name(int ot);
/* "silent" or "iknp" into PARLEY_OT_*, or -1. */
int cli_ot_parse(const char *s);
/* "cot" / "vole4" (--leaves): PARLEY_LEAVES_*, -1 for anything else. */
int cli_leaves_parse(const char *s);
/* "[1,1,8,8]". */
const char *cli_shape_str(char *buf, size_t cap, unsigned rank, const uint32_t *d);

#endif
