/* `parley plain`: run a model on an input with the plaintext fixed-point
 * reference (parley_plain), the exact integer semantics the secure
 * protocols compute, and write the output as float32 .npy (fixed-point
 * values divided by 2^scale, so equal fixed-point results give
 * byte-identical files). */
#include "cli.h"

#include <stdio.h>
#include <string.h>

static const char plain_usage[] =
    "usage: parley plain --model M.onnx --input x.npy --output y.npy [options]\n"
    "\n"
    "Runs the model on the input in plaintext fixed point (the reference the\n"
    "secure computation matches bit for bit) and writes the output as float32.\n"
    "\n"
    "options:\n"
    "  --bits L    ring width l, 8..64 (default 37); auto: calibrate on the input\n"
    "              (as parley calibrate) and use its (l, s)\n"
    "  --scale S   fixed-point scale s, 1..(l - 2) / 2 (default 12)\n"
    "  --wbits W   the public weight width, 1..l (default s + 4: real weights in (-8, 8));\n"
    "              a model whose weights exceed it is refused, as by serve\n"
    "  --quiet     print nothing but errors\n";

int cli_plain(int argc, char **argv) {
    const char *model = NULL, *input = NULL, *output = NULL;
    unsigned l = 37, s = 12, wbits = 0;
    int quiet = 0, bits_auto = 0, scale_set = 0;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
            fputs(plain_usage, stdout);
            return 0;
        }
        if (strcmp(a, "--quiet") == 0) {
            quiet = 1;
            continue;
        }
        if (i + 1 >= argc) {
            fprintf(stderr, "parley plain: option %s needs a value\n%s", a, plain_usage);
            return 2;
        }
        const char *v = argv[++i];
        if (strcmp(a, "--model") == 0)
            model = v;
        else if (strcmp(a, "--input") == 0)
            input = v;
        else if (strcmp(a, "--output") == 0)
            output = v;
        else if (strcmp(a, "--bits") == 0 && strcmp(v, "auto") == 0)
            bits_auto = 1;
        else if (strcmp(a, "--bits") == 0 && opt_uint(v, 0, 1u << 16, &l) == 0)
            bits_auto = 0; /* the (l, s) domain is checked below, with its message */
        else if (strcmp(a, "--scale") == 0 && opt_uint(v, 0, 1u << 16, &s) == 0)
            scale_set = 1;
        else if (strcmp(a, "--wbits") == 0 && opt_uint(v, 1, 64, &wbits) == 0)
            continue;
        else {
            fprintf(stderr, "parley plain: bad option or value: %s %s\n%s", a, v, plain_usage);
            return 2;
        }
    }
    if (!model || !input || !output) {
        fprintf(stderr, "parley plain: --model, --input and --output are required\n%s",
                plain_usage);
        return 2;
    }
    if (bits_auto && scale_set) {
        fprintf(stderr, "parley plain: --bits auto chooses the scale too: drop --scale\n%s",
                plain_usage);
        return 2;
    }
    if (!bits_auto && parley_check_ring(l, s) < 0) {
        fprintf(stderr, "parley plain: %s\n", parley_last_error());
        return 2;
    }
    parley_tensor x = {0}, y = {0};
    parley_model *m = NULL;
    double t0 = cli_now(), t1 = t0, t2 = t0;
    int rc = bits_auto ? cli_bits_auto("plain", model, &input, 1, &l, &s, quiet) : 0;
    if (rc == 0) rc = parley_tensor_load_npy(&x, input);
    if (rc == 0) {
        parley_model_opts mo;
        parley_model_opts_init(&mo);
        mo.bits = l;
        mo.scale = s;
        mo.wbits = wbits;
        mo.batch = x.rank ? x.shape[0] : 1; /* a dynamic batch axis takes the input's */
        rc = parley_model_load(&m, model, &mo);
    }
    if (rc == 0 && parley_model_notes(m)[0] && !quiet)
        fprintf(stderr, "parley plain: %s", parley_model_notes(m));
    t1 = cli_now();
    if (rc == 0) rc = parley_plain(m, &x, &y);
    t2 = cli_now();
    if (rc == 0) rc = parley_tensor_save_npy(&y, output);
    if (rc == 0 && !quiet) {
        parley_model_info info = {.size = sizeof info};
        rc = parley_model_describe_brief(m, &info);
        char sh[128];
        if (rc == 0)
            fprintf(stderr,
                    "parley plain: %u layers, %.3g MACs, %.3g ReLUs, l = %u, s = %u; load %.2f s, "
                    "run %.2f s; output %s -> %s\n",
                    info.layers, (double)info.macs, (double)info.relus, l, s, t1 - t0, t2 - t1,
                    cli_shape_str(sh, sizeof sh, y.rank, y.shape), output);
    }
    if (rc < 0) fprintf(stderr, "parley plain: %s\n", parley_last_error());
    parley_tensor_free(&x);
    parley_tensor_free(&y);
    parley_model_free(m);
    return rc < 0 ? 1 : 0;
}
