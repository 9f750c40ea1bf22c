/* parley as a library: a secure inference in one program.
 *
 * Loads a model, runs the plaintext reference on an input, serves one
 * secure session in a thread on 127.0.0.1 (a port the kernel picks),
 * infers against it as the client, and checks that the secure output
 * equals the reference bit for bit. Builds against the installed library:
 *
 *   cc api_client.c $(pkg-config --cflags --libs parley) -lpthread -o api_client
 *   ./api_client model.onnx input.npy [ot|he]
 *
 * Exit status 0 if the outputs agree, 1 otherwise. */
#include <parley.h>

#include <pthread.h>
#include <stdio.h>
#include <string.h>

static void *serve(void *srv) {
    parley_report rep = {0};
    int rc = parley_server_serve_one(srv, &rep);
    if (rc != PARLEY_OK) fprintf(stderr, "server: %s\n", parley_last_error());
    parley_report_free(&rep);
    return NULL;
}

static int fail(const char *what) {
    fprintf(stderr, "api_client: %s: %s\n", what, parley_last_error());
    return 1;
}

int main(int argc, char **argv) {
    if (argc < 3) {
        fprintf(stderr, "usage: api_client model.onnx input.npy [ot|he]\n");
        return 2;
    }
    parley_model_opts mo;
    parley_model_opts_init(&mo);
    mo.mode = argc > 3 && !strcmp(argv[3], "he") ? PARLEY_MODE_HE : PARLEY_MODE_OT;

    parley_model *m;
    if (parley_model_load(&m, argv[1], &mo) != PARLEY_OK) return fail("loading the model");
    parley_tensor x = {0}, ref = {0}, y = {0};
    if (parley_tensor_load_npy(&x, argv[2]) != PARLEY_OK) return fail("reading the input");
    if (parley_plain(m, &x, &ref) != PARLEY_OK) return fail("the plaintext reference");

    parley_server *srv;
    int port;
    if (parley_server_new(&srv, m, NULL) != PARLEY_OK) return fail("the server");
    if (parley_server_listen(srv, "127.0.0.1", 0, &port) != PARLEY_OK) return fail("listening");
    pthread_t t;
    pthread_create(&t, NULL, serve, srv);

    parley_report rep = {0};
    int rc = parley_infer("127.0.0.1", port, &x, &y, &rep, NULL);
    pthread_join(t, NULL);
    if (rc != PARLEY_OK) return fail("the secure inference");

    int same = y.count == ref.count && !memcmp(y.ring, ref.ring, y.count * sizeof *y.ring);
    char json[1 << 16];
    parley_report_json(&rep, json, sizeof json);
    printf("%s\n", json);
    printf("secure output %s the reference (%zu values, first %g); %.2f s, %llu bytes\n",
           same ? "equals" : "DIFFERS FROM", y.count, (double)y.data[0], rep.seconds,
           (unsigned long long)(rep.bytes_sent + rep.bytes_recv));

    parley_report_free(&rep);
    parley_tensor_free(&y);
    parley_tensor_free(&ref);
    parley_tensor_free(&x);
    parley_server_free(srv);
    parley_model_free(m);
    return same ? 0 : 1;
}
