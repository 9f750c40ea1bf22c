/* parley-bench, the benchmark program: the table of benchmarks and the
 * options they share. A program of its own, apart from the parley command:
 * the two share only the library (and util/opt.h's option parsing). */
#include "bench_common.h"

#include "util/opt.h"

#include <stdlib.h>
#include <string.h>

typedef struct bench_entry {
    const char *name;
    int (*main)(int argc, char **argv); /* argv[1] is the name */
    const char *what;
} bench_entry;

static const bench_entry benches[] = {
    {"ot", bench_ot_main, "oblivious transfer extension (rot, cot, ot, kkot)"},
    {"relu", bench_nl_main, "ReLU on shares (--bits, --threads)"},
    {"trunc", bench_nl_main, "faithful truncation by 2^scale, sign unknown"},
    {"relu-trunc", bench_nl_main, "ReLU fused with truncation by 2^scale"},
    {"mill", bench_nl_main, "millionaires' protocol [x > y] on --bits bits (digits --m, 0: automatic)"},
    {"maxpool", bench_nl_main, "max pooling, --window K, --kind tree|linear"},
    {"avgpool", bench_nl_main, "average pooling (window sums, then Div_ring)"},
    {"argmax", bench_nl_main, "index of the first maximum per row (--window columns)"},
    {"conv", bench_conv_main, "OT-mode convolution (orientation A, B or auto)"},
    {"fc", bench_fc_main, "OT-mode fully connected layer (orientation A, B or auto)"},
    {"he-conv", bench_he_conv_main, "one HE-mode convolution (coefficient encoding)"},
    {"he-fc", bench_he_fc_main, "one HE-mode fully-connected layer"},
    {"he-net", bench_he_net_main, "every linear layer of an ImageNet network in HE mode"},
    {"he-pack", bench_he_pack_main, "HE output packing: he_pack of 2^K ciphertexts (one core)"},
};
#define NBENCH (sizeof benches / sizeof *benches)

static void bench_usage(FILE *f) {
    fprintf(f, "usage: parley-bench <benchmark> [options]\n\n"
               "Runs the server and the client as two processes over 127.0.0.1 and prints\n"
               "one JSON line per run. Benchmarks:\n");
    for (size_t i = 0; i < NBENCH; i++)
        fprintf(f, "  %-12s %s\n", benches[i].name, benches[i].what);
    fprintf(f, "\nRun 'parley-bench <benchmark> --help' for its options.\n");
}

int main(int argc, char **argv) {
    if (argc < 2) {
        bench_usage(stderr);
        return 2;
    }
    if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0) {
        bench_usage(stdout);
        return 0;
    }
    for (size_t i = 0; i < NBENCH; i++)
        if (strcmp(argv[1], benches[i].name) == 0) return benches[i].main(argc, argv);
    fprintf(stderr, "parley-bench: unknown benchmark '%s'\n", argv[1]);
    bench_usage(stderr);
    return 2;
}

static const struct {
    const char *flag;
    size_t off;
    uint64_t lo, hi;
} nums[] = {
    {"--n", offsetof(bench_opts, n), 0, UINT64_MAX},
    {"--bits", offsetof(bench_opts, bits), 1, 64},
    {"--scale", offsetof(bench_opts, scale), 0, 63},
    {"--window", offsetof(bench_opts, window), 1, 1024},
    {"--stride", offsetof(bench_opts, stride), 1, 1024},
    {"--threads", offsetof(bench_opts, threads), 1, 64},
    {"--d", offsetof(bench_opts, d), 1, UINT32_MAX},
    {"--m", offsetof(bench_opts, m), 0, 8},
    {"--C", offsetof(bench_opts, C), 1, UINT32_MAX},
    {"--H", offsetof(bench_opts, H), 1, UINT32_MAX},
    {"--W", offsetof(bench_opts, W), 1, UINT32_MAX},
    {"--O", offsetof(bench_opts, O), 1, UINT32_MAX},
    {"--K", offsetof(bench_opts, K), 1, UINT32_MAX},
    {"--batch", offsetof(bench_opts, batch), 1, UINT32_MAX},
    {"--pad", offsetof(bench_opts, pad), 0, 1024},
    {"--groups", offsetof(bench_opts, groups), 1, UINT32_MAX},
    {"--wbits", offsetof(bench_opts, wbits), 0, 64},
    {"--k", offsetof(bench_opts, window), 1, 1024}, /* the kernel size, as --window */
    {"--dil", offsetof(bench_opts, dil), 1, 1024},
    {"--he-cache", offsetof(bench_opts, he_cache), 0, 1},
    {"--calls", offsetof(bench_opts, calls), 1, BENCH_CALLS_MAX},
};
#define NNUMS (sizeof nums / sizeof *nums)

int bench_given(const bench_opts *o, const char *flag) {
    for (size_t k = 0; k < NNUMS; k++)
        if (strcmp(flag, nums[k].flag) == 0) return (int)((o->given >> k) & 1);
    return 0;
}

int bench_parse(bench_opts *o, int argc, char **argv, int first, const char *name,
                const char *usage) {
    for (int i = first; i < argc; i++) {
        const char *a = argv[i];
        if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
            fputs(usage, stdout);
            return 1;
        }
        if (i + 1 >= argc) {
            fprintf(stderr, "parley-bench %s: option %s needs a value\n", name, a);
            return 2;
        }
        const char *v = argv[++i];
        if (strcmp(a, "--kind") == 0) {
            o->kind = v;
            continue;
        }
        if (strcmp(a, "--net") == 0) {
            o->net = v;
            continue;
        }
        if (strcmp(a, "--leaves") == 0) {
            if (strcmp(v, "cot") && strcmp(v, "vole4")) {
                fprintf(stderr, "parley-bench %s: --leaves must be cot or vole4, got '%s'\n", name,
                        v);
                return 2;
            }
            bench_leaves_vole4 = strcmp(v, "vole4") == 0;
            continue;
        }
        if (strcmp(a, "--ot") == 0) {
            if ((o->backend = ot_backend_parse(v)) < 0) {
                fprintf(stderr, "parley-bench %s: --ot must be iknp or silent, got '%s'\n", name,
                        v);
                return 2;
            }
            continue;
        }
        size_t k = 0;
        while (k < NNUMS && strcmp(a, nums[k].flag) != 0)
            k++;
        if (k == NNUMS) {
            fprintf(stderr, "parley-bench %s: unknown option %s\n%s", name, a, usage);
            return 2;
        }
        uint64_t x;
        if (opt_u64(v, nums[k].lo, nums[k].hi, &x) < 0) {
            fprintf(stderr, "parley-bench %s: %s must be an integer in %llu..%llu, got '%s'\n",
                    name, a, (unsigned long long)nums[k].lo, (unsigned long long)nums[k].hi, v);
            return 2;
        }
        if (k == 0)
            o->n = x;
        else
            *(unsigned *)((char *)o + nums[k].off) = (unsigned)x;
        o->given |= (uint64_t)1 << k;
    }
    return 0;
}
