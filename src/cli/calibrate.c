/* `parley calibrate`: choose the ring width l and scale s for a model from
 * sample inputs, and print the reasoning. The computation is the library's
 * (parley_calibrate, src/api/calibrate.c; docs/MODELS.md, "Choosing
 * (l, s)"); this file reads the options and the inputs and prints. */
#include "cli.h"

#include "parley.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char calibrate_usage[] =
    "usage: parley calibrate --model M.onnx --input x.npy [--input y.npy ...] [options]\n"
    "\n"
    "Runs the model on the sample inputs in fixed point at candidate scales s and\n"
    "recommends the smallest ring width l (--bits) and a scale s (--scale) such that\n"
    "no value any layer forms on the samples comes within --margin bits of\n"
    "wrapping around, and the output stays within --tolerance of the most precise\n"
    "run (the largest s that fits 64 bits) with the same top-1 labels. Prints the\n"
    "reasoning: per candidate s, the l it needs and its error; per layer at the\n"
    "recommendation, the largest magnitude and the head-room left.\n"
    "\n"
    "options:\n"
    "  --input X.npy     a sample input (a batch is many samples); repeatable\n"
    "  --margin B        head-room over the samples' largest values, in bits (default 2)\n"
    "  --tolerance T     largest output error allowed, relative to the largest\n"
    "                    output magnitude (default 0.01)\n"
    "  --smin S, --smax S  the candidate scales (default 4..24)\n"
    "  --quiet           print the recommendation only\n"
    "\n"
    "Exit status: 0, 1 if the model or an input cannot be used, 2 for bad options.\n";

#define MAX_INPUTS 64

static void print_reasoning(const parley_calibration *c, const char *model,
                            const parley_calibrate_opts *o) {
    printf("parley calibrate: %s on %u input file%s (%zu output rows), candidate s = "
           "%u..%u, margin %u bits, tolerance %g of the largest output (%.4g)\n",
           model, c->samples, c->samples == 1 ? "" : "s", c->rows, o->smin, o->smax, o->margin,
           o->tolerance, c->largest_output);
    printf("  reference: s = %u at l = 64 (stands in for real arithmetic)\n", c->ref_scale);
    printf("  %4s %10s %8s %14s %10s %8s\n", "s", "max bits", "l", "max error", "relative",
           "top-1");
    double big = c->largest_output;
    for (unsigned i = 0; i < c->ncandidates; i++) {
        const parley_calibrate_candidate *k = &c->candidates[i];
        if (!k->ok) {
            printf("  %4u %10s %8s   skipped: %s\n", k->s, "-", "-", k->why);
            continue;
        }
        printf("  %4u %10u %8u %14.4g %9.3g%% %4u/%-4zu%s\n", k->s, k->need, k->bits, k->error,
               big > 0 ? 100 * k->error / big : 0.0, k->top1, c->rows,
               i == c->recommended ? "  <- recommended" : "");
    }
    printf("  the smallest l whose s keeps the error within %g%% and every top-1 label is "
           "l = %u with s = %u%s\n",
           100 * o->tolerance, c->bits, c->scale,
           c->fallback ? " (no candidate met the tolerance: the most precise one)" : "");
    printf("  per layer at (%u, %u) on the samples (head-room: bits left of l before a value "
           "wraps):\n",
           c->bits, c->scale);
    for (unsigned i = 0; i < c->nlayers; i++) {
        const parley_calibrate_layer *y = &c->layers[i];
        printf("    %3u %-14s %-32.32s max |v| %-10.4g bits %2u head-room %2d\n", i, y->kind,
               y->name, y->max_abs, y->bits, y->headroom);
    }
    printf("  checked: every sample runs at (%u, %u) without wrap-around\n", c->bits, c->scale);
}

int cli_calibrate(int argc, char **argv) {
    const char *model = NULL, *inputs[MAX_INPUTS];
    unsigned nin = 0;
    parley_calibrate_opts o;
    parley_calibrate_opts_init(&o);
    int quiet = 0;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
            fputs(calibrate_usage, stdout);
            return 0;
        }
        if (!strcmp(a, "--quiet")) {
            quiet = 1;
            continue;
        }
        if (i + 1 >= argc) {
            fprintf(stderr, "parley calibrate: option %s needs a value\n%s", a, calibrate_usage);
            return 2;
        }
        const char *v = argv[++i];
        char *end;
        if (!strcmp(a, "--model"))
            model = v;
        else if (!strcmp(a, "--input") && nin < MAX_INPUTS)
            inputs[nin++] = v;
        else if (!strcmp(a, "--margin") && opt_uint(v, 0, 16, &o.margin) == 0)
            continue;
        else if (!strcmp(a, "--smin") && opt_uint(v, 1, 31, &o.smin) == 0)
            continue;
        else if (!strcmp(a, "--smax") && opt_uint(v, 1, 31, &o.smax) == 0)
            continue;
        else if (!strcmp(a, "--tolerance") &&
                 (o.tolerance = strtod(v, &end), *end == 0 && o.tolerance > 0 && o.tolerance < 1))
            continue;
        else {
            fprintf(stderr, "parley calibrate: bad option or value: %s %s\n%s", a, v,
                    calibrate_usage);
            return 2;
        }
    }
    if (!model || !nin || o.smin > o.smax) {
        fprintf(stderr, "parley calibrate: --model and at least one --input are required%s\n%s",
                o.smin > o.smax ? ", and --smin <= --smax" : "", calibrate_usage);
        return 2;
    }
    parley_tensor x[MAX_INPUTS];
    memset(x, 0, sizeof x);
    parley_calibration c = {0};
    int rc = 0;
    for (unsigned k = 0; k < nin && rc == 0; k++)
        rc = parley_tensor_load_npy(&x[k], inputs[k]);
    o.input_names = inputs;
    if (rc == 0) rc = parley_calibrate(&c, model, x, nin, &o);
    if (rc == 0 && !quiet) print_reasoning(&c, model, &o);
    if (rc == 0) printf("--bits %u --scale %u\n", c.bits, c.scale);
    if (rc < 0) fprintf(stderr, "parley calibrate: %s\n", parley_last_error());
    parley_calibration_free(&c);
    for (unsigned k = 0; k < nin; k++)
        parley_tensor_free(&x[k]);
    return rc < 0 ? 1 : 0;
}
