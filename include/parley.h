/* parley — secure two-party neural-network inference (CrypTFlow2).
 *
 * The public C API, and the only public header. A server owns a model
 * (ONNX), a client owns an input; together they compute the model's output
 * so that the client learns only the result and the server learns nothing
 * about the input. docs/API.md walks through it with examples.
 *
 * Conventions
 *   - Every handle is opaque (parley_model, parley_server); no internal type
 *     appears in a signature. The object a function works on comes first.
 *   - Functions that can fail return a status: PARLEY_OK (0), or a negative
 *     enum parley_status. The failure's message, naming what was wrong, is
 *     then parley_last_error() on the calling thread (thread-local: another
 *     thread's failures do not overwrite it).
 *   - A NULL pointer where an object is required is PARLEY_E_ARG, with a
 *     message naming the argument (never a crash).
 *   - Option structs start with a `size` field, set by their *_init
 *     function (or to sizeof the struct), so fields can be added in later
 *     versions without breaking callers built against this one.
 *   - Memory that parley returns (output tensors, reports) is released by
 *     the matching *_free function.
 *   - parley never changes the process's signal dispositions. Writes to a
 *     connection whose peer is gone cannot raise SIGPIPE in a call of this
 *     API (the signal is blocked and discarded for the call's duration).
 *
 * Thread safety is stated for each function below. In short: a model is
 * immutable after loading and may be shared by any number of threads
 * (plain runs, servers, descriptions) until parley_model_free; a server may
 * serve sessions from several threads at once; parley_server_stop may be
 * called from any thread (and from a signal handler). */
#ifndef PARLEY_H
#define PARLEY_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* The library is built with hidden visibility; only what PARLEY_API marks
 * is exported from libparley.so. */
#if defined(__GNUC__)
#define PARLEY_API __attribute__((visibility("default")))
#else
#define PARLEY_API
#endif

#define PARLEY_VERSION_MAJOR 0
#define PARLEY_VERSION_MINOR 1
#define PARLEY_VERSION_STRING "0.1.0"

enum parley_status {
    PARLEY_OK = 0,
    PARLEY_E_IO = -1,          /* a system call failed */
    PARLEY_E_CLOSED = -2,      /* the peer closed the connection */
    PARLEY_E_TIMEOUT = -3,     /* the peer did not answer in time */
    PARLEY_E_REFUSED = -4,     /* nobody listening at the address */
    PARLEY_E_PROTO = -5,       /* malformed or unexpected peer message */
    PARLEY_E_NOMEM = -6,       /* allocation failed or a size overflowed */
    PARLEY_E_ARG = -7,         /* invalid argument from the user */
    PARLEY_E_FORMAT = -8,      /* malformed input file */
    PARLEY_E_UNSUPPORTED = -9, /* valid but not supported */
    PARLEY_E_MISMATCH = -10,   /* the parties disagree on parameters */
    PARLEY_E_AUTH = -11,       /* a certificate, key pin or token was refused */
    PARLEY_E_LIMIT = -12,      /* a peer's demand went past a cap (the message names its option) */
    PARLEY_E_STOPPED = -13,    /* the server was stopped (parley_server_stop) */
    PARLEY_E_RANGE = -14,      /* a value left the ring's range: the result would wrap around */
};

/* A fixed text for a status ("invalid argument"). Thread-safe. */
PARLEY_API const char *parley_strerror(int status);
/* The message of the calling thread's most recent failure ("no error" if
 * none). Valid until the thread's next call into parley. Thread-safe. */
PARLEY_API const char *parley_last_error(void);
/* "0.1.0": the library's version (may differ from the header's
 * PARLEY_VERSION_STRING if the program runs against a newer library). */
PARLEY_API const char *parley_version(void);

/* 0 if bits (the ring width l) and scale (s) are a pair parley computes
 * with: 8 <= bits <= 64, 1 <= scale and 2 scale + 2 <= bits (products have
 * scale 2s and need two bits of head-room); else PARLEY_E_ARG with a message
 * naming the rule (and the parley command's flags, --bits and --scale).
 * parley_model_load checks the same. Thread-safe. */
PARLEY_API int parley_check_ring(unsigned bits, unsigned scale);

/* ---------------------------------------------------------------- tensors */

#define PARLEY_MAX_RANK 8

/* A tensor: a shape and row-major (C order) data.
 *
 * As an input, the caller fills rank, shape and data (count floats, count =
 * the product of the shape); parley only reads it and never frees it.
 * As an output, parley fills every field: data holds the real values
 * (ring values / 2^scale; for labels the indices), ring the same values as
 * the signed ring elements (two's complement representatives of the values
 * mod 2^l, in [-2^(l-1), 2^(l-1))), scale the fixed-point scale of data (0
 * for labels). Equal ring arrays mean bit-exact equal results. Release an
 * output with parley_tensor_free. Initialise an output to {0} (or by a
 * previous parley_tensor_free) before passing it. */
typedef struct parley_tensor {
    unsigned rank;
    uint32_t shape[PARLEY_MAX_RANK];
    size_t count; /* elements; as an input, 0 means "the product of the shape" */
    float *data;
    int64_t *ring;  /* outputs only */
    unsigned scale; /* outputs only */
} parley_tensor;

/* Release an output tensor's data and ring (NULL is fine; the struct is
 * zeroed). Only for tensors parley filled. Thread-safe on distinct tensors. */
PARLEY_API void parley_tensor_free(parley_tensor *t);
/* Read a .npy file (float32 or float64, C order) into t (an output tensor:
 * parley_tensor_free it; ring stays NULL). Thread-safe. */
PARLEY_API int parley_tensor_load_npy(parley_tensor *t, const char *path);
/* Write t's data as float32 .npy (written whole, then renamed into place).
 * Thread-safe on distinct paths. */
PARLEY_API int parley_tensor_save_npy(const parley_tensor *t, const char *path);

/* ------------------------------------------------------------------ models */

typedef struct parley_model parley_model;

enum parley_mode { PARLEY_MODE_OT = 0, PARLEY_MODE_HE = 1 };
enum parley_ot { PARLEY_OT_IKNP = 0, PARLEY_OT_SILENT = 1 };
enum parley_reveal { PARLEY_REVEAL_LOGITS = 0, PARLEY_REVEAL_LABEL = 1 };
enum parley_leaves { PARLEY_LEAVES_COT = 0, PARLEY_LEAVES_VOLE4 = 1 };

#define PARLEY_MAX_THREADS 64 /* parley_model_opts.threads */
#define PARLEY_MAX_BATCH 65535 /* parley_server_opts.max_batch */
#define PARLEY_MIN_STASH ((size_t)16 << 20) /* max_stash, when not 0 */

/* How a model is quantized and how its secure sessions run. What the
 * server chooses here fixes the session: the client learns it from the
 * server's hello. */
typedef struct parley_model_opts {
    size_t size;      /* sizeof(parley_model_opts); parley_model_opts_init sets it */
    unsigned bits;    /* ring width l, 8..64 (default 37) */
    unsigned scale;   /* fixed-point scale s, 1..31, 2s + 2 <= l (default 12) */
    unsigned wbits;   /* the public bound on the weights' signed width, 1..l; 0: s + 4
                       * (real weights in (-8, 8)); a model whose weights exceed it is
                       * refused, naming the node and the weight */
    unsigned batch;   /* the size of the input's symbolic dimension 0, if it has one;
                       * 0 means 1. Inputs must have exactly this batch size. */
    int mode;         /* PARLEY_MODE_OT (default) or PARLEY_MODE_HE: the linear layers
                       * over oblivious transfer or homomorphic encryption */
    int ot;           /* PARLEY_OT_SILENT (default) or PARLEY_OT_IKNP */
    unsigned threads; /* lanes (threads) per session, 1..64 (default 2) */
    int reveal;       /* PARLEY_REVEAL_LOGITS (default) or PARLEY_REVEAL_LABEL: what the
                       * client learns (the output, or the ArgMax of its last axis) */
    int leaves;       /* silent OT: the comparisons' leaf OTs on COTs (PARLEY_LEAVES_COT,
                       * default) or on 4-bit VOLE (PARLEY_LEAVES_VOLE4: the non-linear
                       * layers about 1.2x as fast, about 120 MiB more memory per thread
                       * on each side, a few batches more traffic; docs/PROTOCOLS.md §2.7) */
} parley_model_opts;

/* Fill o with the defaults above. Thread-safe. */
PARLEY_API void parley_model_opts_init(parley_model_opts *o);

/* Load an ONNX model from a file or from bytes in memory (not kept) and
 * quantize it. o may be NULL for the defaults. On failure *m is NULL and
 * the message names the file, the node and what is unsupported or wrong.
 * Thread-safe (each call makes its own model). */
PARLEY_API int parley_model_load(parley_model **m, const char *onnx_path,
                                 const parley_model_opts *o);
PARLEY_API int parley_model_load_bytes(parley_model **m, const void *onnx, size_t len,
                                       const parley_model_opts *o);
/* Free a model (NULL is fine). No other call may be using it, and every
 * server made from it must have been freed. */
PARLEY_API void parley_model_free(parley_model *m);
/* The importer's notes on the model ("" if none; e.g. a final Softmax
 * dropped). Valid while m lives. Thread-safe. */
PARLEY_API const char *parley_model_notes(const parley_model *m);

/* Predicted cost of one secure inference in a mode, from the public model
 * alone (exact bytes; what `parley inspect` prints). */
typedef struct parley_cost {
    int supported;     /* 0: the mode cannot run this model (why: `why`) */
    char why[256];
    uint64_t bytes;    /* the inference, both directions (silent OT: COT making amortised) */
    uint64_t setup_bytes;      /* before it: base OTs on every lane, HE keys */
    uint64_t critical_flights; /* one-way messages on the longest chain of waits */
    double statistical_bits;   /* HE: the whole inference's statistical security; else 0 */
} parley_cost;

typedef struct parley_model_info {
    size_t size; /* sizeof(parley_model_info): set it before calling */
    unsigned layers;
    unsigned bits, scale;
    unsigned input_rank, output_rank;
    uint32_t input_shape[PARLEY_MAX_RANK], output_shape[PARLEY_MAX_RANK];
    uint64_t params, macs, relus;
    uint64_t public_model_bytes; /* what the server sends the client about the model */
    parley_cost ot, he;          /* with the model's threads, reveal and OT back-end */
    const char *input_name, *output_name; /* the ONNX tensors' (valid while m lives) */
    uint64_t ot_memory; /* what one party's OT pools take in a session of the model (its
                         * mode, threads, OT and leaves): the lanes' silent-OT pools, bases
                         * and batch buffers, and with PARLEY_LEAVES_VOLE4 the 4-bit VOLE
                         * ones (bytes; 0 with IKNP). Both parties hold it for the whole
                         * session, beside the model: a server's per-session memory must
                         * cover it, and a client counts it against max_model_memory. */
} parley_model_info;

/* Describe m (shapes, counts, the predicted cost in both modes).
 * Thread-safe. */
PARLEY_API int parley_model_describe(const parley_model *m, parley_model_info *info);
/* The same without the predicted costs (ot and he are zero), which take
 * seconds on an ImageNet network: the shapes, names and counts at once.
 * Thread-safe. */
PARLEY_API int parley_model_describe_brief(const parley_model *m, parley_model_info *info);

/* One layer of a model (0 <= i < info.layers). kind and name are valid
 * while m lives. Thread-safe. */
typedef struct parley_layer_info {
    size_t size; /* sizeof(parley_layer_info): set it before calling */
    const char *kind, *name;
    unsigned rank;
    uint32_t shape[PARLEY_MAX_RANK]; /* the layer's output */
    uint64_t macs, relus;
} parley_layer_info;
PARLEY_API int parley_model_layer(const parley_model *m, unsigned i, parley_layer_info *info);

/* A network link, for predicted times: round trip and rate per direction.
 * Up is the client's direction (to the server), down the server's; where
 * up_ or down_mbytes_per_s is 0, that direction runs at mbytes_per_s. */
typedef struct parley_link {
    double rtt_ms;            /* >= 0; every figure finite */
    double mbytes_per_s;      /* 10^6 bytes/s each way; 0: unlimited */
    double up_mbytes_per_s;   /* > 0: the client-to-server rate instead */
    double down_mbytes_per_s; /* > 0: the server-to-client rate instead */
} parley_link;

/* "RTT_MS,MBYTES_PER_S" (the same rate each way), "RTT_MS,UP,DOWN" (up:
 * client to server; 0 is unlimited: mbytes_per_s = 0, and up_ and
 * down_mbytes_per_s as given), or loopback (0, 0), lan (0.8, 377) or wan
 * (80, 40), CrypTFlow2's settings. PARLEY_E_ARG naming what is wrong.
 * Thread-safe. */
PARLEY_API int parley_link_parse(parley_link *l, const char *spec);

/* One mode's predicted cost of a secure inference of a model in detail,
 * from the public model alone (what `parley inspect` prints): exact bytes
 * (both directions) in all, by part and by layer, critical flights, and
 * with a link the time. A call overwrites p (also on failure): release it
 * with parley_prediction_free. */
typedef struct parley_prediction {
    int supported;     /* 0: the mode cannot run the model (why: `why`); the rest is 0 */
    char why[256];
    uint64_t bytes;    /* the inference (as parley_cost.bytes) */
    /* What each party sends of it, the silent COTs' batches whole where the
     * run makes them (so the two add up to bytes plus up to a few batches;
     * bytes amortises their making): the link's down and up directions. */
    uint64_t server_sent_bytes, client_sent_bytes;
    uint64_t setup_bytes, critical_flights;
    uint64_t input_bytes;     /* the client's input shares */
    uint64_t linear_bytes;    /* the linear layers' (conv, fc, scale) */
    uint64_t nonlinear_bytes; /* the other layers' */
    uint64_t label_bytes;     /* reveal = label: the ArgMax */
    uint64_t reveal_bytes;    /* the output's reveal */
    uint64_t cots, cot_making_bytes; /* silent OT: COTs consumed, their making (amortised) */
    uint64_t returned_coefficients;  /* HE: coefficients the linear layers return */
    double statistical_bits;         /* HE: the whole inference's statistical security */
    unsigned computational_bits;     /* HE: the ring's computational security */
    unsigned he_ring_n;              /* HE: the ring's degree N ... */
    double he_log2_q;                /* ... and log2 of its modulus Q */
    int timed; /* a link was given: the times below (docs/NETWORK.md) */
    double seconds, compute_seconds, transfer_seconds, latency_seconds;
    unsigned nlayers; /* the arrays' length (the model's layers) */
    uint64_t *layer_bytes, *layer_flights, *layer_cots;
    double *layer_seconds; /* timed only */
} parley_prediction;

/* Predict m's secure inference in mode (PARLEY_MODE_OT or _HE) with the
 * model's threads, reveal and OT back-end; link may be NULL (no times). A
 * mode that cannot run the model is not a failure (supported = 0).
 * Thread-safe. */
PARLEY_API int parley_model_predict(const parley_model *m, int mode, const parley_link *link,
                                    parley_prediction *p);
PARLEY_API void parley_prediction_free(parley_prediction *p);

/* The plaintext fixed-point reference: what a secure inference of m on the
 * same input returns, bit for bit (with reveal = label, the labels).
 * Checked: a value that would leave the ring's signed range (and so wrap
 * around in the secure run too) is PARLEY_E_RANGE naming the layer and the
 * bits it needs, never a wrong answer. output must be {0} or freed;
 * parley_tensor_free it. Thread-safe. */
PARLEY_API int parley_plain(const parley_model *m, const parley_tensor *input,
                            parley_tensor *output);

/* ------------------------------------------------------------- calibration */

/* Choosing the ring width l and scale s for a model from sample inputs
 * (what `parley calibrate` prints; docs/MODELS.md, "Choosing (l, s)"). */
typedef struct parley_calibrate_opts {
    size_t size;         /* sizeof(parley_calibrate_opts); parley_calibrate_opts_init sets it */
    unsigned margin;     /* head-room over the samples' largest values, bits, 0..16 (default 2) */
    double tolerance;    /* largest output error allowed, relative to the largest output
                          * magnitude, in (0, 1) (default 0.01) */
    unsigned smin, smax; /* the candidate scales, 1..31, smin <= smax (default 4..24) */
    const char *const *input_names; /* names of the inputs in messages (may be NULL) */
} parley_calibrate_opts;

/* Fill o with the defaults above. Thread-safe. */
PARLEY_API void parley_calibrate_opts_init(parley_calibrate_opts *o);

/* One candidate scale s, run over every sample at l = 64 on exact values. */
typedef struct parley_calibrate_candidate {
    unsigned s;
    int ok;        /* 1: it ran, every value below 2^62; 0: out (why says why; the rest is 0):
                    * values reach 2^62, or the importer refuses the model at this s (e.g.
                    * every weight of a layer rounds to 0, or a bias does not fit) */
    unsigned need; /* bits the largest value any layer forms needs (sign included) */
    unsigned bits; /* the l it needs: need + margin, at least 2 s + 2 and 8 */
    double error;  /* largest |y - y_ref| over all outputs, against the reference */
    unsigned top1; /* output rows whose top-1 equals the reference's */
    char why[256]; /* ok = 0: the reason ("" when ok) */
} parley_calibrate_candidate;

/* One layer at the recommendation, on the samples. */
typedef struct parley_calibrate_layer {
    char kind[16];
    char name[256];
    double max_abs; /* the largest magnitude the layer forms (as a real value) */
    unsigned bits;  /* the bits it needs, sign included */
    int headroom;   /* bits left of l before a value wraps (l - bits) */
} parley_calibrate_layer;

/* A calibration: the recommendation, the reasoning per candidate s and per
 * layer. Release it with parley_calibration_free. */
typedef struct parley_calibration {
    unsigned bits, scale;  /* the recommendation: --bits and --scale */
    unsigned ref_scale;    /* the reference: the largest s that fits 64 bits */
    int fallback;          /* 1: the recommendation is the reference (the most precise) */
    unsigned samples;      /* input tensors */
    size_t rows;           /* output rows (top-1 compared per row) */
    double largest_output; /* the reference's largest output magnitude */
    unsigned ncandidates;  /* smin..smax */
    parley_calibrate_candidate *candidates;
    unsigned recommended; /* the index in candidates of the recommendation */
    unsigned nlayers;
    parley_calibrate_layer *layers;
} parley_calibration;

/* Recommend (l, s) for the ONNX model at onnx_path from n sample inputs
 * (1..64 tensors; each may be a batch, the model imported at its dimension
 * 0). Each candidate s in smin..smax runs the plaintext fixed-point
 * reference at l = 64 on exact values, which gives the largest magnitude
 * every layer forms and so the l that holds it; the output is compared with
 * the run at the largest s that fits 64 bits (the reference, standing in for
 * real arithmetic). The recommendation is the smallest l, with margin bits
 * of head-room, whose s keeps the output error within tolerance of the
 * largest output and every top-1 label; it is then checked: every sample
 * runs at (l, s) without wrap-around. A candidate s at which the model
 * cannot be quantized (the importer's refusal: every weight of a layer
 * rounds to 0, a bias does not fit 64 bits at 2s, ...) is skipped, its
 * reason in the candidate's why. o may be NULL for the defaults. A
 * call overwrites c (also on failure, then zero): release it with
 * parley_calibration_free. PARLEY_E_RANGE if no candidate fits 64 bits;
 * the importer's status if it refuses every candidate. Thread-safe (each
 * call has its own state). */
PARLEY_API int parley_calibrate(parley_calibration *c, const char *onnx_path,
                                const parley_tensor *inputs, unsigned n,
                                const parley_calibrate_opts *o);
/* Release a calibration's arrays (NULL is fine; the struct is zeroed).
 * Thread-safe on distinct calibrations. */
PARLEY_API void parley_calibration_free(parley_calibration *c);

/* ----------------------------------------------------------------- reports */

enum parley_role { PARLEY_ROLE_SERVER = 0, PARLEY_ROLE_CLIENT = 1 };

typedef struct parley_layer_report {
    char kind[16];
    char name[256];
    double seconds;
    uint64_t bytes_sent, bytes_recv; /* this party's, during the layer */
    uint64_t flights;                /* this party's (the busiest lane) */
    uint64_t critical_flights;
} parley_layer_report;

/* What one session cost, from one party's side. A call that takes a
 * report overwrites it (also on failure, with what the session got to):
 * parley_report_free a previous one first, and release this one with
 * parley_report_free (its layers). */
typedef struct parley_report {
    int role;                        /* PARLEY_ROLE_SERVER or PARLEY_ROLE_CLIENT */
    int mode, ot, reveal;            /* the session's, as the server fixed them */
    unsigned bits, scale, threads;
    double seconds;                  /* the inference (input sharing to reveal) */
    double setup_seconds;            /* connection, hellos, model, OT and HE set-up */
    uint64_t bytes_sent, bytes_recv; /* this party's, during the inference */
    uint64_t setup_bytes;            /* the set-up, both directions */
    uint64_t rounds;                 /* client: flights of both parties; server: its own */
    uint64_t critical_flights;
    uint64_t frame_bytes;      /* the link's framing, both directions */
    uint64_t stash_peak_bytes; /* most bytes buffered at once from the peer */
    double peer_seconds;       /* client: the server's time for the inference */
    double statistical_bits;   /* HE mode: the inference's statistical security */
    char transport[96];        /* "plaintext" or the TLS version and cipher */
    char peer[64];             /* server: the client's address */
    unsigned nlayers;
    parley_layer_report *layers; /* nlayers entries */
    unsigned batch;              /* the session's inputs (0: the hellos agreed none) */
    uint64_t link_bytes_sent, link_bytes_recv; /* all of this party's traffic on the
                                  * connection, each way: set-up, inference, framing */
    uint64_t macs, relus;        /* the model's (as parley_model_info) */
    unsigned computational_bits; /* HE mode: the ring's computational security; else 0 */
    unsigned softmax_dropped;    /* 1: the model ended in a Softmax that the server dropped
                                  * (it does not change the label): the output is its logits */
    int leaves;                  /* the session's PARLEY_LEAVES_*, as the server fixed it */
} parley_report;

PARLEY_API void parley_report_free(parley_report *r);
/* r as one JSON object. Writes at most cap bytes, NUL included (buf may
 * be NULL with cap 0), and returns the length of the whole object (without
 * the NUL) as snprintf does: a result >= cap means buf was too small.
 * Negative on a NULL report. Thread-safe.
 * Keys: role, mode, ot, reveal, bits, scale, threads, batch, seconds,
 * setup_seconds, bytes_sent, bytes_recv, bytes_server, bytes_client (the
 * inference's bytes by the party that sent them), setup_bytes, rounds,
 * critical_flights, frame_bytes, stash_peak_bytes, link_bytes_sent,
 * link_bytes_recv, peer_seconds, server_seconds, layers_count, macs, relus,
 * in HE mode statistical_bits and computational_bits, softmax_dropped
 * (true: the output is the logits of a dropped final Softmax), transport, peer, and
 * layers: [{kind, op (= kind), name, seconds, bytes (both ways), bytes_sent,
 * bytes_recv, bytes_server, bytes_client, flights, critical_flights, and for
 * a client flights_client}]. */
PARLEY_API int parley_report_json(const parley_report *r, char *buf, size_t cap);

/* Called by a server after each session (ok or not): status, and the
 * session's report (valid during the call); for a failed session
 * parley_last_error() in the callback is its message. Called on the thread
 * that served the session. */
typedef void (*parley_session_fn)(void *ctx, int status, const parley_report *r);

/* ----------------------------------------------------------------- servers */

typedef struct parley_server parley_server;

typedef struct parley_server_opts {
    size_t size;          /* sizeof(parley_server_opts); parley_server_opts_init sets it */
    const char *tls_cert; /* TLS 1.3: the server's certificate (chain), PEM ... */
    const char *tls_key;  /* ... and its private key */
    const char *tls_client_ca; /* admit only clients with a certificate from this CA */
    const char *token_file;    /* admit only clients presenting this token (the file's bytes) */
    int insecure;              /* allow plaintext on an address other than loopback */
    size_t max_stash;          /* cap on what a session buffers from its client, bytes
                                * (0: 512 MiB; at least 16 MiB) */
    int handshake_timeout_ms;  /* a client's set-up and control messages (0: 30 s) */
    parley_session_fn on_session; /* may be NULL */
    void *on_session_ctx;
    int idle_timeout_ms; /* a session whose client sends nothing this long during the
                          * inference fails (0: 300 s) */
    unsigned max_batch;  /* most inputs one client may bring in a session when the
                          * model's batch axis is dynamic (0: 1, the model's own batch).
                          * Other batches are loaded per session from the model's file:
                          * a model loaded from bytes serves only its own batch. */
    /* Calibration: sample inputs like the ones the service will see (may be
     * NULL; read during parley_server_new only, not kept). A secure session
     * cannot see its values, so parley_server_new runs each sample through
     * the checked fixed-point reference (parley_plain) at the model's (l, s)
     * and its own batch, and refuses the server with PARLEY_E_RANGE if any
     * value wraps around: the message names the sample, the layer, the bits
     * it is out by and the (l, s) parley_calibrate recommends on the samples
     * (docs/MODELS.md, "Range"). A statement about the samples only. */
    const parley_tensor *calibration;
    unsigned ncalibration;                /* 0..64 */
    const char *const *calibration_names; /* the samples' names in messages (may be NULL) */
    unsigned he_weight_cache_mib; /* HE mode: memory for the linear layers' weight
                                   * polynomials, transformed once here (before any client)
                                   * and shared by the sessions, MiB; the layers that do not
                                   * fit are transformed in every inference. 0: off;
                                   * parley_server_opts_init sets the default, 512 */
} parley_server_opts;

PARLEY_API void parley_server_opts_init(parley_server_opts *o);

/* A server for model m (which must outlive it). TLS files are read here,
 * and the calibration samples checked. o may be NULL (plaintext, loopback
 * only). Thread-safe. */
PARLEY_API int parley_server_new(parley_server **s, const parley_model *m,
                                 const parley_server_opts *o);
/* Listen on host:port (host NULL or "": 127.0.0.1; port 0: the kernel picks
 * one, *bound_port gets it; bound_port may be NULL). Plaintext on an address
 * other than loopback needs opts.insecure. Once per server; not
 * concurrently with other calls on s. */
PARLEY_API int parley_server_listen(parley_server *s, const char *host, int port,
                                    int *bound_port);
/* "sha256:<hex>": the pin of the server's TLS key, for clients' tls_pin
 * ("" without TLS). Valid while s lives. Thread-safe. */
PARLEY_API const char *parley_server_pin(const parley_server *s);
/* HE mode: the weight cache parley_server_new made (he_weight_cache_mib):
 * its bytes, what the whole model's would take, the linear layers in it and
 * in the model, and the seconds making it took (all 0 in OT mode; with the
 * cache off, only model_bytes and linear_layers). Any pointer may be NULL.
 * Thread-safe. */
PARLEY_API void parley_server_he_cache(const parley_server *s, uint64_t *bytes,
                                       uint64_t *model_bytes, unsigned *layers,
                                       unsigned *linear_layers, double *seconds);
/* Wait for the next client on the listener and run one whole session with
 * it. report (may be NULL) gets the session's costs (parley_report_free).
 * A failed session returns its status (the server can go on). Returns
 * PARLEY_E_STOPPED, at once or while waiting, once parley_server_stop was
 * called. May be called from several threads at once on one server: each
 * call serves its own client. */
PARLEY_API int parley_server_serve_one(parley_server *s, parley_report *report);
/* Serve sessions one after another until parley_server_stop; each
 * session's outcome goes to opts.on_session. Returns PARLEY_E_STOPPED
 * after a stop, or another status if the listener fails. Thread-safe as
 * parley_server_serve_one. */
PARLEY_API int parley_server_serve(parley_server *s);
/* One whole session on a socket the application accepted (connected TCP,
 * or any stream socket). fd is taken: closed when the call returns. peer
 * (may be NULL) names the client in messages. Needs no listener. Thread-safe
 * (several connections at once). */
PARLEY_API int parley_server_serve_connection(parley_server *s, int fd, const char *peer,
                                              parley_report *report);
/* The listening socket (for poll, in a program that runs its own accept
 * loop), or -1 before parley_server_listen. Thread-safe. */
PARLEY_API int parley_server_fd(const parley_server *s);
/* Accept the next client on the listener without serving it: *fd (the
 * caller's: give it to parley_server_serve_connection or
 * parley_server_refuse_connection, possibly in another thread or a forked
 * process) and peer ("host:port", cap bytes; may be NULL). Waits up to
 * timeout_ms (-1: until a client or a stop; 0: PARLEY_E_TIMEOUT at once if
 * none is waiting). PARLEY_E_STOPPED once stopped. Thread-safe. */
PARLEY_API int parley_server_accept(parley_server *s, int *fd, char *peer, size_t cap,
                                    int timeout_ms);
/* Refuse the client on fd (taken: closed when the call returns) with one
 * line, e.g. "server busy: ...": the link is set up (TLS, token) and the
 * client's hello read, then it is answered with a refusal carrying line,
 * which the client's call returns as its error. Takes at most timeout_ms
 * (0: 5 s). Thread-safe. */
PARLEY_API int parley_server_refuse_connection(parley_server *s, int fd, const char *line,
                                               int timeout_ms);
/* A graceful stop: make waiting and future serve and accept calls return
 * PARLEY_E_STOPPED; a session already running finishes first. From any
 * thread, or a signal handler (async-signal-safe). */
PARLEY_API void parley_server_stop(parley_server *s);
/* Stop now: parley_server_stop, and end every session running in this
 * process's serve calls at once (their connection is shut down, so each
 * side fails at its next message; their calls return PARLEY_E_STOPPED and
 * the clients get an error). From any thread (not a signal handler). */
PARLEY_API void parley_server_abort(parley_server *s);
/* Close the listener and free (NULL is fine). No call may still be using s. */
PARLEY_API void parley_server_free(parley_server *s);

/* ----------------------------------------------------------------- clients */

/* Called by a client after each layer of the inference: the layer's index
 * (0-based) of layers, its kind and node name, the seconds since the
 * inference began and this party's bytes so far. On the calling thread. */
typedef void (*parley_progress_fn)(void *ctx, unsigned layer, unsigned layers, const char *kind,
                                   const char *name, double seconds, uint64_t bytes);

typedef struct parley_client_opts {
    size_t size;          /* sizeof(parley_client_opts); parley_client_opts_init sets it */
    const char *tls_ca;   /* TLS 1.3: check the server's chain and name with this CA */
    const char *tls_pin;  /* TLS 1.3: check the server's key against this pin */
    const char *tls_name; /* the name the server's certificate must carry (default: host) */
    const char *tls_cert, *tls_key; /* a client certificate and key, for servers that ask */
    const char *token_file;         /* present this token (the file's bytes) */
    int insecure;              /* allow plaintext to an address other than loopback */
    size_t max_stash;          /* cap on what the session buffers from the server (0: 512 MiB) */
    uint64_t max_model_memory; /* cap on what the server's model and its lanes' OT
                                * pools may make us allocate (0: 2 GiB) */
    int connect_timeout_ms;    /* retrying refused connects (0: 10 s) */
    parley_progress_fn progress; /* may be NULL */
    void *progress_ctx;
} parley_client_opts;

PARLEY_API void parley_client_opts_init(parley_client_opts *o);

/* Run a secure inference of the server's model at host:port on input.
 * output ({0} or freed) gets the result (parley_tensor_free), report (may
 * be NULL) the costs; o may be NULL (plaintext, loopback only).
 * Thread-safe (each call is its own session). */
PARLEY_API int parley_infer(const char *host, int port, const parley_tensor *input,
                            parley_tensor *output, parley_report *report,
                            const parley_client_opts *o);
/* The same on a socket the application connected. fd is taken: closed
 * when the call returns. host (may be NULL) is the name the server's
 * certificate must carry with tls_ca (tls_name wins). */
PARLEY_API int parley_infer_fd(int fd, const char *host, const parley_tensor *input,
                               parley_tensor *output, parley_report *report,
                               const parley_client_opts *o);

#ifdef __cplusplus
}
#endif

#endif
