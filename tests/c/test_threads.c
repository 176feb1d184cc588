#define _POSIX_C_SOURCE 200809L
/* One client and one server configuration, frozen, then shared `const` by 4
 * threads that each make connections from them at once and run handshakes
 * and a stream in memory: a full handshake that brings a session ticket,
 * then a resumption that sends the stream in 0-RTT. So the server's ticket
 * keys, its 0-RTT strike register and the application's shared register
 * (a callback, below) are used from several threads at once. Each thread
 * holds its own references to the configurations and frees them while its
 * last connections still run; the main thread frees its own as soon as the
 * threads start, so the last free happens under live connections.
 *
 * Built with ASan by `make c-test`, run under valgrind by `make
 * valgrind-test`, and under ThreadSanitizer by `make tsan-test`, against a
 * library whose Rust code (the standard library too, rebuilt) and OpenSSL
 * are instrumented, so the orderings through Rust's locks and reference
 * counts are visible to it (with Rust's TSan runtime linked in). Argument:
 * the certificate directory. */
#include "testutil.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define THREADS 4
#define PAIRS_PER_THREAD 3
#define MS 1000000ull
#define BODY 20000

/* The application's register of used tickets and tokens: a table behind
 * a mutex, asked from every thread that drives a server connection. */
struct fleet {
    pthread_mutex_t lock;
    uint8_t ids[2 * THREADS * PAIRS_PER_THREAD][64];
    size_t lens[2 * THREADS * PAIRS_PER_THREAD];
    size_t count;
    int early_asks;
};

static int fleet_register(void *userdata, const quic_register_query *q) {
    struct fleet *f = userdata;
    if (q->struct_size < sizeof *q || q->id_len == 0 || q->id_len > 64) return -1;
    int first = 1;
    pthread_mutex_lock(&f->lock);
    if (q->kind == QUIC_REGISTER_KIND_EARLY_DATA) f->early_asks++;
    for (size_t i = 0; i < f->count && first; i++)
        if (f->lens[i] == q->id_len && memcmp(f->ids[i], q->id, q->id_len) == 0) first = 0;
    if (first && f->count < sizeof f->lens / sizeof *f->lens) {
        memcpy(f->ids[f->count], q->id, q->id_len);
        f->lens[f->count++] = q->id_len;
    } else {
        first = 0;
    }
    pthread_mutex_unlock(&f->lock);
    return first;
}

struct worker {
    pthread_barrier_t *start;
    /* This thread's own references, freed before its last pair ends. */
    quic_config *client_config, *server_config;
    int index;
    int failures, resumed, early;
};

struct side {
    quic_conn *conn;
    int established, stream_done, resumed, early;
    size_t received;
    uint8_t ticket[4096];
    size_t ticket_len;
};

static void drain(struct side *s) {
    quic_event ev = {.struct_size = sizeof ev};
    while (s->conn && quic_conn_poll_event(s->conn, &ev) == QUIC_RESULT_OK) {
        if (ev.kind == QUIC_EVENT_TYPE_HANDSHAKE_COMPLETED) {
            s->established = 1;
            s->resumed = ev.session_resumed;
            s->early = ev.early_data_accepted;
        }
        if (ev.kind == QUIC_EVENT_TYPE_SESSION_TICKET && ev.data_len <= sizeof s->ticket) {
            memcpy(s->ticket, ev.data, ev.data_len);
            s->ticket_len = ev.data_len;
        }
        if (ev.kind == QUIC_EVENT_TYPE_STREAM_DATA_RECEIVED) {
            s->received += ev.data_len;
            if (ev.end_stream) s->stream_done = 1;
        }
    }
}

/* A handshake and a 20 KB stream between two connections made from the
 * worker's configurations: with `ticket`, a resumption whose stream goes
 * in 0-RTT right after connect; without, a full handshake that waits for a
 * ticket (copied to `c_out`). With `free_configs`, the worker's references
 * are freed as soon as both connections exist. Returns failed checks. */
static int one_pair(struct worker *w, int seed, const struct side *with, struct side *c_out,
                    int free_configs) {
    struct sockaddr_storage caddr, saddr;
    socklen_t clen, slen;
    char text[32];
    snprintf(text, sizeof text, "127.0.0.%d:%d", 1 + seed % 200, 5000 + seed);
    if (quic_sockaddr_parse(text, &caddr, &clen) != QUIC_RESULT_OK) return 1;
    if (quic_sockaddr_parse("127.0.0.1:4433", &saddr, &slen) != QUIC_RESULT_OK) return 1;
    struct side c = {0}, s = {0};
    quic_conn_params cp = {.struct_size = sizeof cp};
    if (with) {
        cp.session_ticket = with->ticket;
        cp.session_ticket_len = with->ticket_len;
    }
    if (quic_conn_new(w->client_config, &cp, &c.conn) != QUIC_RESULT_OK) return 1;
    if (quic_conn_connect(c.conn, (struct sockaddr *)&saddr, slen, 0) != QUIC_RESULT_OK) return 1;
    static const uint8_t body[BODY];
    int sent = 0, failures = 0;
    if (with) {
        /* The ticket's limits allow the whole stream in 0-RTT. */
        if (quic_conn_stream_send(c.conn, 0, body, sizeof body, true) != QUIC_RESULT_OK)
            failures++;
        sent = 1;
    }
    uint8_t buf[1500];
    uint64_t now = 0;
    while (now < 10000 * MS && !(s.stream_done && (with || c.ticket_len))) {
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
                    if (quic_conn_new(w->server_config, &p, &s.conn) != QUIC_RESULT_OK)
                        return failures + 1;
                    if (free_configs) {
                        quic_config_free(w->client_config);
                        quic_config_free(w->server_config);
                        w->client_config = w->server_config = NULL;
                    }
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
    if (!c.established || !s.established || s.received != sizeof body ||
        (!with && !c.ticket_len)) {
        fprintf(stderr, "pair %d: established %d/%d, %zu bytes, ticket %zu\n", seed,
                c.established, s.established, s.received, c.ticket_len);
        failures++;
    }
    w->resumed += with && c.resumed && s.resumed;
    w->early += with && c.early && s.early;
    if (c_out) *c_out = c;
    quic_conn_free(c.conn);
    quic_conn_free(s.conn);
    return failures;
}

static void *work(void *arg) {
    struct worker *w = arg;
    pthread_barrier_wait(w->start);
    for (int i = 0; i < PAIRS_PER_THREAD; i++) {
        int seed = w->index * PAIRS_PER_THREAD + i;
        struct side *first = calloc(1, sizeof *first);
        if (!first) {
            w->failures++;
            continue;
        }
        w->failures += one_pair(w, 2 * seed, NULL, first, 0);
        w->failures += one_pair(w, 2 * seed + 1, first, NULL, i == PAIRS_PER_THREAD - 1);
        free(first);
    }
    return NULL;
}

int main(int argc, char **argv) {
    if (argc != 2) {
        fprintf(stderr, "usage: %s CERT_DIR\n", argv[0]);
        return 2;
    }
    quic_config *cc, *sc;
    make_configs(argv[1], &cc, &sc);
    struct fleet fleet = {.count = 0};
    pthread_mutex_init(&fleet.lock, NULL);
    uint8_t keys[QUIC_TICKET_KEY_LEN];
    for (size_t i = 0; i < sizeof keys; i++) keys[i] = (uint8_t)(i * 7 + 3);
    MUST(quic_config_set_session_tickets(cc, true));
    MUST(quic_config_set_early_data(cc, true));
    MUST(quic_config_set_session_tickets(sc, true));
    MUST(quic_config_set_early_data(sc, true));
    MUST(quic_config_set_ticket_keys(sc, keys, 1));
    MUST(quic_config_set_shared_register(sc, fleet_register, &fleet));
    /* Frozen here, so TLS setup errors surface before the sharing starts. */
    if (quic_config_freeze(cc) || quic_config_freeze(sc) || !quic_config_is_frozen(cc) ||
        quic_config_set_idle_timeout(sc, 1) != QUIC_RESULT_ALREADY_USED) {
        fprintf(stderr, "freeze failed\n");
        return 1;
    }
    pthread_barrier_t start;
    pthread_barrier_init(&start, NULL, THREADS + 1);
    pthread_t threads[THREADS];
    struct worker workers[THREADS];
    for (int i = 0; i < THREADS; i++) {
        workers[i] = (struct worker){.start = &start,
                                     .client_config = quic_config_ref(cc),
                                     .server_config = quic_config_ref(sc),
                                     .index = i};
        pthread_create(&threads[i], NULL, work, &workers[i]);
    }
    pthread_barrier_wait(&start);
    /* The threads hold the last references now. */
    quic_config_free(cc);
    quic_config_free(sc);
    int failures = 0, resumed = 0, early = 0;
    for (int i = 0; i < THREADS; i++) {
        pthread_join(threads[i], NULL);
        failures += workers[i].failures;
        resumed += workers[i].resumed;
        early += workers[i].early;
        if (workers[i].client_config || workers[i].server_config) failures++;
    }
    pthread_barrier_destroy(&start);
    pthread_mutex_destroy(&fleet.lock);
    const int resumptions = THREADS * PAIRS_PER_THREAD;
    if (resumed != resumptions || early != resumptions || fleet.early_asks != resumptions) {
        fprintf(stderr, "test_threads: %d/%d resumed, %d with 0-RTT, register asked %d times\n",
                resumed, resumptions, early, fleet.early_asks);
        failures++;
    }
    if (failures) {
        fprintf(stderr, "test_threads: %d failures\n", failures);
        return 1;
    }
    printf("test_threads: %d threads x %d pairs (full, then 0-RTT) from shared configs passed\n",
           THREADS, PAIRS_PER_THREAD);
    return 0;
}
