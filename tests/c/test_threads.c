#define _POSIX_C_SOURCE 200809L
/* One client and one server configuration, frozen, then shared `const` by 4
 * threads that each make connections from them at once and run handshakes
 * and a stream in memory. Built with ASan by `make c-test`, run under
 * valgrind by `make valgrind-test`, and under ThreadSanitizer, against a
 * library whose OpenSSL is instrumented too, by `make tsan-test`.
 * Argument: the certificate directory.
 *
 * The configurations are frozen before the threads start and freed after
 * they are joined, so every ordering TSan must know of goes through
 * pthreads or OpenSSL: Rust's futex-based locks and atomic reference
 * counts are not instrumented and would be invisible to it. */
#include "testutil.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define THREADS 4
#define PAIRS_PER_THREAD 3
#define MS 1000000ull

struct shared {
    const quic_config *client_config, *server_config;
    pthread_barrier_t start;
};

struct side {
    quic_conn *conn;
    int established, stream_done;
    size_t received;
};

struct worker {
    struct shared *shared;
    int index;
    int failures;
};

static void drain(struct side *s) {
    quic_event ev = {.struct_size = sizeof ev};
    while (s->conn && quic_conn_poll_event(s->conn, &ev) == QUIC_RESULT_OK) {
        if (ev.kind == QUIC_EVENT_TYPE_HANDSHAKE_COMPLETED) s->established = 1;
        if (ev.kind == QUIC_EVENT_TYPE_STREAM_DATA_RECEIVED) {
            s->received += ev.data_len;
            if (ev.end_stream) s->stream_done = 1;
        }
    }
}

/* A handshake and a 20 KB stream between two connections made from the
 * shared configurations; returns the number of failed checks. */
static int one_pair(const struct shared *sh, int seed) {
    struct sockaddr_storage caddr, saddr;
    socklen_t clen, slen;
    char text[32];
    snprintf(text, sizeof text, "127.0.0.%d:%d", 1 + seed % 200, 5000 + seed);
    if (quic_sockaddr_parse(text, &caddr, &clen) != QUIC_RESULT_OK) return 1;
    if (quic_sockaddr_parse("127.0.0.1:4433", &saddr, &slen) != QUIC_RESULT_OK) return 1;
    struct side c = {0}, s = {0};
    if (quic_conn_new(sh->client_config, NULL, &c.conn) != QUIC_RESULT_OK) return 1;
    if (quic_conn_connect(c.conn, (struct sockaddr *)&saddr, slen, 0) != QUIC_RESULT_OK) return 1;
    static const uint8_t body[20000];
    int sent = 0, failures = 0;
    uint8_t buf[1500];
    uint64_t now = 0;
    while (now < 10000 * MS && !s.stream_done) {
        int moved = 1;
        while (moved) {
            moved = 0;
            size_t len;
            struct sockaddr_storage to;
            socklen_t tolen;
            while (quic_conn_send(c.conn, buf, sizeof buf, &len, &to, &tolen, now) ==
                   QUIC_RESULT_OK) {
                moved = 1;
                if (!s.conn) {
                    quic_header_info h = {.struct_size = sizeof h};
                    if (quic_header_parse(buf, len, 8, &h) != QUIC_RESULT_OK) return failures + 1;
                    quic_conn_params p = {.struct_size = sizeof p,
                                          .original_dcid = h.dcid,
                                          .original_dcid_len = h.dcid_len};
                    if (quic_conn_new(sh->server_config, &p, &s.conn) != QUIC_RESULT_OK)
                        return failures + 1;
                }
                quic_conn_recv(s.conn, buf, len, (struct sockaddr *)&caddr, clen, now);
            }
            while (s.conn && quic_conn_send(s.conn, buf, sizeof buf, &len, &to, &tolen, now) ==
                                 QUIC_RESULT_OK) {
                moved = 1;
                quic_conn_recv(c.conn, buf, len, (struct sockaddr *)&saddr, slen, now);
            }
            drain(&c);
            drain(&s);
            if (c.established && !sent) {
                if (quic_conn_stream_send(c.conn, 0, body, sizeof body, true) != QUIC_RESULT_OK)
                    failures++;
                sent = 1;
                moved = 1;
            }
        }
        uint64_t t = quic_conn_timer(c.conn), ts = s.conn ? quic_conn_timer(s.conn) : UINT64_MAX;
        uint64_t next = t < ts ? t : ts;
        now = next > now + MS ? next : now + MS;
        if (quic_conn_timer(c.conn) <= now) quic_conn_handle_timer(c.conn, now);
        if (s.conn && quic_conn_timer(s.conn) <= now) quic_conn_handle_timer(s.conn, now);
    }
    if (!c.established || !s.established || s.received != sizeof body) {
        fprintf(stderr, "pair %d: established %d/%d, %zu bytes\n", seed, c.established,
                s.established, s.received);
        failures++;
    }
    quic_conn_free(c.conn);
    quic_conn_free(s.conn);
    return failures;
}

static void *work(void *arg) {
    struct worker *w = arg;
    pthread_barrier_wait(&w->shared->start);
    for (int i = 0; i < PAIRS_PER_THREAD; i++)
        w->failures += one_pair(w->shared, w->index * PAIRS_PER_THREAD + i);
    return NULL;
}

int main(int argc, char **argv) {
    if (argc != 2) {
        fprintf(stderr, "usage: %s CERT_DIR\n", argv[0]);
        return 2;
    }
    quic_config *cc, *sc;
    make_configs(argv[1], &cc, &sc);
    /* Frozen here, so TLS setup errors surface before the sharing starts. */
    if (quic_config_freeze(cc) || quic_config_freeze(sc) || !quic_config_is_frozen(cc) ||
        quic_config_set_idle_timeout(sc, 1) != QUIC_RESULT_ALREADY_USED) {
        fprintf(stderr, "freeze failed\n");
        return 1;
    }
    struct shared sh = {.client_config = cc, .server_config = sc};
    pthread_barrier_init(&sh.start, NULL, THREADS + 1);
    pthread_t threads[THREADS];
    struct worker workers[THREADS];
    for (int i = 0; i < THREADS; i++) {
        workers[i] = (struct worker){.shared = &sh, .index = i};
        pthread_create(&threads[i], NULL, work, &workers[i]);
    }
    pthread_barrier_wait(&sh.start);
    int failures = 0;
    for (int i = 0; i < THREADS; i++) {
        pthread_join(threads[i], NULL);
        failures += workers[i].failures;
    }
    quic_config_free(cc);
    quic_config_free(sc);
    pthread_barrier_destroy(&sh.start);
    if (failures) {
        fprintf(stderr, "test_threads: %d failures\n", failures);
        return 1;
    }
    printf("test_threads: %d threads x %d pairs from shared configs passed\n", THREADS,
           PAIRS_PER_THREAD);
    return 0;
}
