/* Subcommands of the parley command. Each returns the process exit status. */
#ifndef PARLEY_CLI_CLI_H
#define PARLEY_CLI_CLI_H

#include <stdio.h>

int cli_plain(int argc, char **argv);
int cli_run(int argc, char **argv);
int cli_serve(int argc, char **argv);
int cli_infer(int argc, char **argv);
int cli_inspect(int argc, char **argv);

/* A JSON string literal of s: quotes, backslashes and non-printable bytes
 * escaped (names in models are the model author's bytes). */
void cli_json_str(FILE *f, const char *s);

#endif
