/* Fuzz the link's parsers: the frame header and link hello parsers on the
 * first bytes (an accepted header or hello re-encodes to the same bytes),
 * then the whole input as what a peer sends a server link after the
 * hellos, read on a few streams. Any input gives data or a clean error on
 * every stream: no crash, no hang, no allocation past the stash cap. */
#include "net/link.h"
#include "util/mem.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

typedef struct srv {
    int fd;
    net_link *lk;
    int rc;
} srv;

static void *srv_main(void *v) {
    srv *s = v;
    link_opts o = {.timeout_ms = 2000, .max_stash = LINK_MAX_STASH_MIN};
    s->rc = link_server(&s->lk, s->fd, &o);
    return NULL;
}

static void write_all(int fd, const uint8_t *p, size_t n) {
    while (n > 0) {
        ssize_t w = send(fd, p, n, MSG_NOSIGNAL); /* the link may have hung up */
        if (w <= 0) return;
        p += w;
        n -= (size_t)w;
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size >= FRAME_HEADER_BYTES) {
        frame_hdr f;
        if (frame_parse(&f, data) == 0) {
            uint8_t again[FRAME_HEADER_BYTES];
            frame_encode(again, &f);
            if (memcmp(again, data, FRAME_HEADER_BYTES) != 0) abort();
        }
    }
    if (size >= LINK_HELLO_BYTES) {
        link_hello h;
        if (link_hello_parse(&h, data) == 0 && h.version == LINK_VERSION) {
            uint8_t again[LINK_HELLO_BYTES];
            link_hello_encode(again, &h);
            if (memcmp(again, data, LINK_HELLO_BYTES) != 0) abort();
        }
    }
    if (size > (1u << 20)) size = 1u << 20;
    int sv[2];
    if (socketpair(AF_UNIX, SOCK_STREAM, 0, sv) < 0) return 0;
    srv s = {sv[0], NULL, 0};
    pthread_t th;
    if (pthread_create(&th, NULL, srv_main, &s) != 0) {
        close(sv[0]);
        close(sv[1]);
        return 0;
    }
    link_hello h = {.version = LINK_VERSION, .kind = LINK_HELLO_CLIENT, .window = 1 << 20};
    uint8_t b[LINK_HELLO_BYTES];
    link_hello_encode(b, &h);
    write_all(sv[1], b, sizeof b);
    size_t got = 0;
    while (got < sizeof b) {
        ssize_t k = read(sv[1], b + got, sizeof b - got);
        if (k <= 0) break;
        got += (size_t)k;
    }
    pthread_join(th, NULL);
    if (s.rc != 0) {
        close(sv[1]);
        return 0;
    }
    write_all(sv[1], data, size);
    shutdown(sv[1], SHUT_WR);
    uint8_t *buf = mem_alloc(1 << 16, 1);
    for (unsigned id = 0; id < 4 && buf; id++) {
        chan *c = link_chan(s.lk, id);
        chan_set_timeout(c, 2000);
        int rc = 0;
        for (int k = 0; k < 64 && rc == 0; k++)
            rc = chan_recv(c, buf, (size_t)1 << (k % 17));
        if (rc > 0) abort();
    }
    mem_free(buf);
    link_close(s.lk);
    close(sv[1]);
    return 0;
}
