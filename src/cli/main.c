/* The parley command: dispatches subcommands. */
#include "cli.h"

#include "parley.h"

#include <stdio.h>
#include <string.h>

static void usage(FILE *f) {
    fprintf(f,
            "usage: parley <command> [options]\n"
            "\n"
            "commands:\n"
            "  run        secure inference of a model on an input, both parties on this machine\n"
            "  serve      serve secure inferences of a model (the model owner's side)\n"
            "  infer      run a secure inference against a server (the input owner's side)\n"
            "  plain      run a model in plaintext fixed point (the reference)\n"
            "  inspect    list a model's layers and predict the traffic of a secure inference\n"
            "  calibrate  choose the ring width and scale (--bits, --scale) from sample inputs\n"
            "  version    print the version\n"
            "\n"
            "Run 'parley <command> --help' for the options of a command. The benchmarks\n"
            "are a program of their own: parley-bench --help.\n");
}

int main(int argc, char **argv) {
    if (argc < 2) {
        usage(stderr);
        return 2;
    }
    const char *cmd = argv[1];
    if (strcmp(cmd, "--help") == 0 || strcmp(cmd, "-h") == 0 || strcmp(cmd, "help") == 0) {
        usage(stdout);
        return 0;
    }
    if (strcmp(cmd, "version") == 0 || strcmp(cmd, "--version") == 0) {
        printf("parley %s\n", PARLEY_VERSION_STRING);
        return 0;
    }
    if (strcmp(cmd, "bench") == 0) {
        fprintf(stderr, "parley: the benchmarks are a program of their own, parley-bench "
                        "(built next to parley: build/parley-bench)\n");
        return 2;
    }
    if (strcmp(cmd, "plain") == 0) return cli_plain(argc - 1, argv + 1);
    if (strcmp(cmd, "run") == 0) return cli_run(argc - 1, argv + 1);
    if (strcmp(cmd, "serve") == 0) return cli_serve(argc - 1, argv + 1);
    if (strcmp(cmd, "infer") == 0) return cli_infer(argc - 1, argv + 1);
    if (strcmp(cmd, "inspect") == 0) return cli_inspect(argc - 1, argv + 1);
    if (strcmp(cmd, "calibrate") == 0) return cli_calibrate(argc - 1, argv + 1);
    fprintf(stderr, "parley: unknown command '%s'\n", cmd);
    usage(stderr);
    return 2;
}
