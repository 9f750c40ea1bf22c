/* Small helpers shared by the subcommands. */
#include "cli/cli.h"

#include "util/json.h"

static void put_file(void *f, const char *p, size_t n) {
    fwrite(p, 1, n, f);
}

void cli_json_str(FILE *f, const char *s) {
    json_str(put_file, f, s);
}
