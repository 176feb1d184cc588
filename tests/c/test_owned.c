/* quic_conn_stream_send_owned through quic.h, in memory: a client hands
 * four heap buffers (3 MB in all, one with FIN) to a stream without a
 * copy, and the server receives every byte intact. Each buffer is
 * released exactly once, only after the server holds all of its bytes
 * (the release scribbles over it and frees it, so a later read would show
 * as corrupt data at the server, or under ASan as a use after free).
 * Calls that fail release the buffer before they return; so does a
 * connection freed with buffers still queued. */
#include "testutil.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <string.h>

#define MS 1000000ull
#define PIECES 4
#define PIECE_LEN (768 * 1024)
#define TOTAL ((size_t)PIECES * PIECE_LEN)

static struct sockaddr_in server_addr, client_addr;

static uint8_t body_byte(size_t i) { return (uint8_t)(i * 13 + (i >> 10)); }

/* What the release callback saw. */
struct owned {
    uint8_t *data;
    size_t len;
    int releases;
    /* Bytes the server held when the buffer came back. */
    size_t server_had;
    int bad_args;
};

static size_t server_got;
static int server_fin, corrupt;
/* The server, whose events the release callback takes first (another
 * connection than the one calling it, so allowed). */
static quic_conn *server;
static void server_events(quic_conn *s);

static void release(void *ctx, const uint8_t *data, size_t len) {
    struct owned *o = ctx;
    if (data != o->data || len != o->len) o->bad_args++;
    o->releases++;
    if (server) server_events(server);
    o->server_had = server_got;
    memset(o->data, 0xAA, o->len);
    free(o->data);
}

static struct owned make_owned(size_t start, size_t len) {
    struct owned o = {.data = malloc(len), .len = len};
    if (!o.data) exit(1);
    for (size_t i = 0; i < len; i++) o.data[i] = body_byte(start + i);
    return o;
}

static quic_conn *ensure_server(quic_config *server_config, quic_conn **s, const uint8_t *buf,
                                size_t len) {
    if (*s) return *s;
    quic_header_info h = {.struct_size = sizeof h};
    MUST(quic_header_parse(buf, len, 8, &h));
    quic_conn_params params = {.struct_size = sizeof params,
                               .original_dcid = h.dcid,
                               .original_dcid_len = h.dcid_len};
    MUST(quic_conn_new(server_config, &params, s));
    server = *s;
    return *s;
}

static void server_events(quic_conn *s) {
    quic_event e = {.struct_size = sizeof e};
    while (quic_conn_poll_event(s, &e) == QUIC_RESULT_OK) {
        if (e.kind != QUIC_EVENT_TYPE_STREAM_DATA_RECEIVED) continue;
        for (size_t i = 0; i < e.data_len; i++)
            if (e.data[i] != body_byte(server_got + i)) corrupt++;
        server_got += e.data_len;
        if (e.end_stream) server_fin = 1;
    }
}

static int client_ready(quic_conn *c) {
    quic_event e = {.struct_size = sizeof e};
    int done = 0;
    while (quic_conn_poll_event(c, &e) == QUIC_RESULT_OK)
        if (e.kind == QUIC_EVENT_TYPE_HANDSHAKE_COMPLETED) done = 1;
    return done;
}

/* Moves datagrams both ways until neither side has any, then lets time
 * reach the next timer; returns the new time. */
static uint64_t turn(quic_config *server_config, quic_conn *c, quic_conn **s, uint64_t now) {
    uint8_t buf[1500];
    size_t len;
    struct sockaddr_storage to;
    socklen_t tolen;
    int moved = 0;
    while (quic_conn_send(c, buf, sizeof buf, &len, &to, &tolen, now) == QUIC_RESULT_OK) {
        moved = 1;
        MUST(quic_conn_recv(ensure_server(server_config, s, buf, len), buf, len,
                            (struct sockaddr *)&client_addr, sizeof client_addr, now));
    }
    while (*s && quic_conn_send(*s, buf, sizeof buf, &len, &to, &tolen, now) == QUIC_RESULT_OK) {
        moved = 1;
        MUST(quic_conn_recv(c, buf, len, (struct sockaddr *)&server_addr, sizeof server_addr,
                            now));
    }
    if (*s) server_events(*s);
    if (moved) return now + MS / 10;
    uint64_t t = quic_conn_timer(c), ts = *s ? quic_conn_timer(*s) : UINT64_MAX;
    uint64_t next = t < ts ? t : ts;
    if (next == UINT64_MAX) return now + MS;
    now = next > now ? next : now;
    if (quic_conn_timer(c) <= now) MUST(quic_conn_handle_timer(c, now));
    if (*s && quic_conn_timer(*s) <= now) MUST(quic_conn_handle_timer(*s, now));
    return now;
}

static void test_transfer(quic_config *client_config, quic_config *server_config) {
    quic_conn *c = NULL, *s = NULL;
    MUST(quic_conn_new(client_config, NULL, &c));
    MUST(quic_conn_connect(c, (struct sockaddr *)&server_addr, sizeof server_addr, 0));
    uint64_t now = 0;
    int ready = 0;
    for (int i = 0; i < 1000 && !ready; i++) {
        now = turn(server_config, c, &s, now);
        ready = client_ready(c);
    }
    CHECK(ready);

    struct owned pieces[PIECES];
    for (int i = 0; i < PIECES; i++) {
        pieces[i] = make_owned((size_t)i * PIECE_LEN, PIECE_LEN);
        MUST(quic_conn_stream_send_owned(c, 0, pieces[i].data, PIECE_LEN, i == PIECES - 1,
                                         release, &pieces[i]));
    }
    /* Queued, none sent: all still held. */
    for (int i = 0; i < PIECES; i++) CHECK(pieces[i].releases == 0);
    uint64_t queued;
    MUST(quic_conn_stream_send_buffered(c, 0, &queued));
    CHECK(queued == TOTAL);

    for (int i = 0; i < 100000 && !(server_fin && pieces[PIECES - 1].releases); i++)
        now = turn(server_config, c, &s, now);
    CHECK(server_fin && server_got == TOTAL && corrupt == 0);
    for (int i = 0; i < PIECES; i++) {
        CHECK(pieces[i].releases == 1 && pieces[i].bad_args == 0);
        /* Released only once the server had every byte of it. */
        CHECK(pieces[i].server_had >= (size_t)(i + 1) * PIECE_LEN);
    }
    MUST(quic_conn_stream_send_buffered(c, 0, &queued));
    CHECK(queued == 0);

    /* After FIN, a further send fails and releases at once. */
    struct owned late = make_owned(0, 100);
    CHECK(quic_conn_stream_send_owned(c, 0, late.data, late.len, false, release, &late) ==
          QUIC_RESULT_STREAM_FINISHED);
    CHECK(late.releases == 1);

    /* Queued, never acknowledged, then the connection is freed: released
     * by quic_conn_free. */
    struct owned pending = make_owned(0, 64 * 1024);
    MUST(quic_conn_stream_send_owned(c, 4, pending.data, pending.len, false, release, &pending));
    CHECK(pending.releases == 0);
    server = NULL;
    quic_conn_free(s);
    quic_conn_free(c);
    CHECK(pending.releases == 1);
}

static void test_argument_checks(quic_config *client_config) {
    /* A NULL connection, or NULL data with a length: refused, released. */
    struct owned o = make_owned(0, 10);
    CHECK(quic_conn_stream_send_owned(NULL, 0, o.data, o.len, false, release, &o) ==
          QUIC_RESULT_NULL_PARAMETER);
    CHECK(o.releases == 1);
    quic_conn *c;
    MUST(quic_conn_new(client_config, NULL, &c));
    MUST(quic_conn_connect(c, (struct sockaddr *)&server_addr, sizeof server_addr, 0));
    CHECK(quic_conn_stream_send_owned(c, 0, NULL, 10, false, NULL, NULL) ==
          QUIC_RESULT_NULL_PARAMETER);
    /* Before the handshake, our stream cannot open yet. */
    struct owned early = make_owned(0, 10);
    CHECK(quic_conn_stream_send_owned(c, 0, early.data, early.len, false, release, &early) ==
          QUIC_RESULT_HANDSHAKE_PENDING);
    CHECK(early.releases == 1);
    /* Static data needs no release: NULL is allowed. */
    static const uint8_t hello[] = "hello";
    CHECK(quic_conn_stream_send_owned(c, 0, hello, sizeof hello, false, NULL, NULL) ==
          QUIC_RESULT_HANDSHAKE_PENDING);
    quic_conn_free(c);
}

int main(int argc, char **argv) {
    const char *certs = argc > 1 ? argv[1] : "build/certs";
    server_addr = (struct sockaddr_in){.sin_family = AF_INET, .sin_port = htons(443)};
    client_addr = (struct sockaddr_in){.sin_family = AF_INET, .sin_port = htons(5555)};
    inet_pton(AF_INET, "10.0.0.1", &server_addr.sin_addr);
    inet_pton(AF_INET, "10.0.0.2", &client_addr.sin_addr);
    quic_config *client_config, *server_config;
    make_configs(certs, &client_config, &server_config);
    test_argument_checks(client_config);
    test_transfer(client_config, server_config);
    quic_config_free(client_config);
    quic_config_free(server_config);
    if (failures) {
        fprintf(stderr, "%d check(s) failed\n", failures);
        return 1;
    }
    printf("owned sends: ok\n");
    return 0;
}
