/* A full handshake, a PING, a key update, 1 MB on a stream and a close between a client
 * and a server connection in memory, through quic.h only; then a server that reads at
 * its own pace (receive credit on consume, a paused stream, read mode). Run with the directory made by
 * tests/make-certs.sh as its argument; built with ASan and UBSan by
 * `make c-test`. */
#include "testutil.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MS 1000000ull

#define BULK (1024 * 1024)

struct side {
    quic_conn *conn;
    int handshake_completed, ping_acked, terminated, stream_done, key_updates;
    uint8_t *rx;
    size_t rx_len;
    uint64_t terminated_code;
    enum quic_termination termination;
    /* Echo: data on streams other than 0 goes straight back, the event's
     * own pointer handed to quic_conn_stream_send (quic.h says it lives
     * until the next poll). */
    int echo;
    char echoed[64];
    size_t echoed_len;
    int echo_done;
    char reason[64];
    char alpn[32];
    /* Stream 0 checked against slow_byte() and counted, not stored. */
    int count_only;
    uint64_t rx_total;
    /* Read mode: READABLE and WRITABLE events seen. */
    int readable_events, writable_events;
    /* Session tickets: the newest one, and whether the handshake resumed. */
    uint8_t ticket[4096];
    size_t ticket_len;
    int tickets, resumed, early;
    /* Path events, in order (V validated, F failed, M migrated), and the
     * local address of the last one. */
    char path_events[8];
    int path_event_count;
    /* Connection IDs issued and retired, from events. */
    int cids_issued, cids_retired;
    struct sockaddr_storage path_local;
    socklen_t path_local_len;
};

/* The bytes of the backpressure test's stream, by offset. */
static uint8_t slow_byte(uint64_t off) { return (uint8_t)(off * 7 + (off >> 12)); }

static void drain_events(struct side *s) {
    quic_event ev = {.struct_size = sizeof ev};
    while (s->conn && quic_conn_poll_event(s->conn, &ev) == QUIC_RESULT_OK) {
        switch (ev.kind) {
        case QUIC_EVENT_TYPE_CONNECTION_ID_ISSUED:
            s->cids_issued++;
            break;
        case QUIC_EVENT_TYPE_CONNECTION_ID_RETIRED:
            s->cids_retired++;
            break;
        case QUIC_EVENT_TYPE_SESSION_TICKET:
            s->tickets++;
            CHECK(ev.data_len > 0 && ev.data_len <= sizeof s->ticket);
            if (ev.data_len <= sizeof s->ticket) {
                memcpy(s->ticket, ev.data, ev.data_len);
                s->ticket_len = ev.data_len;
            }
            break;
        case QUIC_EVENT_TYPE_HANDSHAKE_COMPLETED:
            s->handshake_completed = 1;
            s->resumed = ev.session_resumed;
            s->early = ev.early_data_accepted;
            if (ev.alpn_len < sizeof s->alpn) {
                memcpy(s->alpn, ev.alpn, ev.alpn_len);
                s->alpn[ev.alpn_len] = 0;
            }
            break;
        case QUIC_EVENT_TYPE_STREAM_DATA_RECEIVED:
            if (ev.stream_id != 0 && s->echo) {
                MUST(quic_conn_stream_send(s->conn, ev.stream_id, ev.data, ev.data_len,
                                           ev.end_stream));
            } else if (ev.stream_id != 0) {
                if (s->echoed_len + ev.data_len <= sizeof s->echoed) {
                    if (ev.data_len) memcpy(s->echoed + s->echoed_len, ev.data, ev.data_len);
                    s->echoed_len += ev.data_len;
                }
                if (ev.end_stream) s->echo_done = 1;
            } else if (ev.stream_id == 0 && s->count_only) {
                int intact = 1;
                for (size_t i = 0; i < ev.data_len; i++)
                    intact &= ev.data[i] == slow_byte(s->rx_total + i);
                CHECK(intact);
                s->rx_total += ev.data_len;
                if (ev.end_stream) s->stream_done = 1;
            } else if (ev.stream_id == 0 && s->rx) {
                CHECK(s->rx_len + ev.data_len <= BULK);
                if (s->rx_len + ev.data_len <= BULK) {
                    if (ev.data_len) memcpy(s->rx + s->rx_len, ev.data, ev.data_len);
                    s->rx_len += ev.data_len;
                }
                if (ev.end_stream) s->stream_done = 1;
            }
            break;
        case QUIC_EVENT_TYPE_STREAM_READABLE:
            s->readable_events++;
            break;
        case QUIC_EVENT_TYPE_STREAM_WRITABLE:
            s->writable_events++;
            break;
        case QUIC_EVENT_TYPE_KEY_UPDATED:
            s->key_updates++;
            break;
        case QUIC_EVENT_TYPE_PATH_VALIDATED:
        case QUIC_EVENT_TYPE_PATH_FAILED:
        case QUIC_EVENT_TYPE_MIGRATED:
            if (s->path_event_count < (int)sizeof s->path_events - 1)
                s->path_events[s->path_event_count++] =
                    ev.kind == QUIC_EVENT_TYPE_PATH_VALIDATED ? 'V'
                    : ev.kind == QUIC_EVENT_TYPE_PATH_FAILED  ? 'F'
                                                              : 'M';
            CHECK(ev.remote_addr_len > 0);
            s->path_local = ev.local_addr;
            s->path_local_len = ev.local_addr_len;
            break;
        case QUIC_EVENT_TYPE_PING_ACKNOWLEDGED:
            s->ping_acked = ev.ping_uid == 42;
            break;
        case QUIC_EVENT_TYPE_CONNECTION_TERMINATED:
            s->terminated = 1;
            s->terminated_code = ev.error_code;
            s->termination = ev.termination;
            if (ev.reason_len < sizeof s->reason) {
                memcpy(s->reason, ev.reason, ev.reason_len);
                s->reason[ev.reason_len] = 0;
            }
            break;
        default:
            break;
        }
    }
}

static quic_config *server_config;
/* When set, `exchange` loses every n-th client datagram (and counts them). */
static unsigned lose_every, client_sent, client_lost;
static struct sockaddr_storage client_addr, server_addr;
static socklen_t client_addrlen, server_addrlen;
/* When set, `exchange` moves datagrams with quic_conn_send_info and
 * quic_conn_recv_info, and the client also has a socket at `client_addr2`
 * (no NAT: the server sees it as it is). */
static int paths_api;
static struct sockaddr_storage client_addr2, server_pref;
static socklen_t client_addr2len, server_preflen;

static int same_addr(const struct sockaddr_storage *a, socklen_t alen,
                     const struct sockaddr_storage *b, socklen_t blen) {
    return alen == blen && memcmp(a, b, alen) == 0;
}

/* Creates the server connection from the client's first datagram. */
static void ensure_server(struct side *s, const uint8_t *buf, size_t len) {
    if (s->conn) return;
    quic_header_info h = {.struct_size = sizeof h};
    MUST(quic_header_parse(buf, len, 8, &h));
    CHECK(h.packet_type == QUIC_PACKET_TYPE_INITIAL);
    quic_conn_params params = {.struct_size = sizeof params,
                               .original_dcid = h.dcid,
                               .original_dcid_len = h.dcid_len};
    MUST(quic_conn_new(server_config, &params, &s->conn));
}

/* `exchange` with per-datagram addresses. */
static void exchange_paths(struct side *c, struct side *s, uint64_t now) {
    uint8_t buf[1500];
    size_t len;
    for (;;) {
        int moved = 0;
        quic_datagram_info info = {.struct_size = sizeof info};
        while (quic_conn_send_info(c->conn, buf, sizeof buf, &len, &info, now) ==
               QUIC_RESULT_OK) {
            moved = 1;
            CHECK(same_addr(&info.remote, info.remote_len, &server_addr, server_addrlen) ||
                  same_addr(&info.remote, info.remote_len, &server_pref, server_preflen));
            /* The server receives it at the address the client sent to. */
            quic_datagram_info in = {.struct_size = sizeof in};
            in.local = info.remote;
            in.local_len = info.remote_len;
            if (info.local_len == 0) {
                in.remote = client_addr;
                in.remote_len = client_addrlen;
            } else {
                in.remote = info.local;
                in.remote_len = info.local_len;
            }
            ensure_server(s, buf, len);
            MUST(quic_conn_recv_info(s->conn, buf, len, &in, now));
        }
        while (s->conn && quic_conn_send_info(s->conn, buf, sizeof buf, &len, &info, now) ==
               QUIC_RESULT_OK) {
            moved = 1;
            /* From the server address it was sent from. */
            quic_datagram_info in = {.struct_size = sizeof in};
            in.remote = info.local_len ? info.local : server_addr;
            in.remote_len = info.local_len ? info.local_len : server_addrlen;
            in.local = info.remote;
            in.local_len = info.remote_len;
            CHECK(same_addr(&info.remote, info.remote_len, &client_addr, client_addrlen) ||
                  same_addr(&info.remote, info.remote_len, &client_addr2, client_addr2len));
            MUST(quic_conn_recv_info(c->conn, buf, len, &in, now));
        }
        drain_events(c);
        drain_events(s);
        if (!moved) return;
    }
}

/* Moves every datagram each side has to send; creates the server
 * connection from the first client datagram. */
static void exchange(struct side *c, struct side *s, uint64_t now) {
    if (paths_api) {
        exchange_paths(c, s, now);
        return;
    }
    uint8_t buf[1500];
    size_t len;
    struct sockaddr_storage to;
    socklen_t tolen;
    for (;;) {
        int moved = 0;
        while (quic_conn_send(c->conn, buf, sizeof buf, &len, &to, &tolen, now) ==
               QUIC_RESULT_OK) {
            moved = 1;
            if (lose_every && ++client_sent % lose_every == 0) {
                client_lost++;
                continue;
            }
            ensure_server(s, buf, len);
            MUST(quic_conn_recv(s->conn, buf, len, (struct sockaddr *)&client_addr,
                                client_addrlen, now));
        }
        while (s->conn && quic_conn_send(s->conn, buf, sizeof buf, &len, &to, &tolen, now) ==
                              QUIC_RESULT_OK) {
            moved = 1;
            MUST(quic_conn_recv(c->conn, buf, len, (struct sockaddr *)&server_addr,
                                server_addrlen, now));
        }
        drain_events(c);
        drain_events(s);
        if (!moved) return;
    }
}

/* Runs the pair, firing timers on a virtual clock, until `done` or 60 s. */
static uint64_t run(struct side *c, struct side *s, uint64_t now,
                    int (*done)(struct side *, struct side *)) {
    while (now < 60000 * MS && !done(c, s)) {
        exchange(c, s, now);
        if (done(c, s)) break;
        uint64_t t = quic_conn_timer(c->conn);
        uint64_t ts = s->conn ? quic_conn_timer(s->conn) : UINT64_MAX;
        uint64_t next = t < ts ? t : ts;
        if (next == UINT64_MAX) break;
        if (next > now) now = next;
        if (quic_conn_timer(c->conn) <= now) MUST(quic_conn_handle_timer(c->conn, now));
        if (s->conn && quic_conn_timer(s->conn) <= now) MUST(quic_conn_handle_timer(s->conn, now));
    }
    return now;
}

/* Runs the pair for `span` ns of virtual time, never past it (so the idle
 * timer does not fire while a side waits on purpose). */
static uint64_t run_for(struct side *c, struct side *s, uint64_t now, uint64_t span) {
    uint64_t end = now + span;
    for (;;) {
        exchange(c, s, now);
        uint64_t t = quic_conn_timer(c->conn);
        uint64_t ts = quic_conn_timer(s->conn);
        uint64_t next = t < ts ? t : ts;
        if (next > end) return end;
        if (next > now) now = next;
        if (quic_conn_timer(c->conn) <= now) MUST(quic_conn_handle_timer(c->conn, now));
        if (quic_conn_timer(s->conn) <= now) MUST(quic_conn_handle_timer(s->conn, now));
    }
}

static int established(struct side *c, struct side *s) {
    return c->handshake_completed && s->handshake_completed;
}
static int ticketed(struct side *c, struct side *s) {
    return c->handshake_completed && s->handshake_completed && c->tickets > 0;
}
static int pinged(struct side *c, struct side *s) { (void)s; return c->ping_acked; }
static int delivered(struct side *c, struct side *s) { (void)c; return s->stream_done; }
static int echoed(struct side *c, struct side *s) { (void)s; return c->echo_done; }
static int heard(struct side *c, struct side *s) { return established(c, s) && s->echo_done; }
static int closed(struct side *c, struct side *s) {
    return quic_conn_is_closed(c->conn) && quic_conn_is_closed(s->conn);
}

static void test_argument_checks(quic_config *client_config) {
    quic_conn *conn = NULL;
    quic_event ev = {.struct_size = sizeof ev};
    CHECK(quic_conn_new(NULL, NULL, &conn) == QUIC_RESULT_NULL_PARAMETER);
    CHECK(quic_conn_new(client_config, NULL, NULL) == QUIC_RESULT_NULL_PARAMETER);
    /* A server needs the client's original DCID. */
    CHECK(quic_conn_new(server_config, NULL, &conn) == QUIC_RESULT_NULL_PARAMETER);
    uint8_t dcid[8] = {1, 2, 3, 4, 5, 6, 7, 8};
    quic_conn_params params = {.struct_size = sizeof params, .original_dcid = dcid,
                               .original_dcid_len = sizeof dcid};
    /* ...which a client has no use for. */
    CHECK(quic_conn_new(client_config, &params, &conn) == QUIC_RESULT_INVALID_ARGUMENT);
    /* A struct_size smaller than any version of the struct. */
    params.struct_size = sizeof(size_t);
    CHECK(quic_conn_new(server_config, &params, &conn) == QUIC_RESULT_INVALID_ARGUMENT);
    /* A larger struct (a newer caller): the fields this library knows
     * are read, the rest ignored. */
    struct { quic_conn_params known; uint64_t newer_field; } bigger = {
        .known = {.struct_size = sizeof bigger, .original_dcid = dcid,
                  .original_dcid_len = sizeof dcid},
        .newer_field = 42};
    quic_conn *accepted = NULL;
    MUST(quic_conn_new(server_config, &bigger.known, &accepted));
    quic_conn_free(accepted);
    /* Freezing: the server config was used, so its settings are fixed. */
    CHECK(quic_config_is_frozen(server_config));
    CHECK(quic_config_set_idle_timeout(server_config, 1000000000) == QUIC_RESULT_ALREADY_USED);
    /* A failed setter always says why. */
    quic_config *fresh;
    MUST(quic_config_new(true, &fresh));
    CHECK(!quic_config_is_frozen(fresh));
    CHECK(quic_config_set_cipher_suites(fresh, NULL, 1) == QUIC_RESULT_NULL_PARAMETER);
    CHECK(strstr(quic_config_last_error(fresh), "quic_config_set_cipher_suites") != NULL);
    CHECK(quic_config_set_idle_timeout(fresh, 1000000000) == QUIC_RESULT_OK);
    CHECK(strcmp(quic_config_last_error(fresh), "") == 0);
    /* Verification modes: the three of aioquic's, nothing else. */
    CHECK(quic_config_set_verify_mode(fresh, QUIC_VERIFY_MODE_OPTIONAL) == QUIC_RESULT_OK);
    CHECK(quic_config_set_verify_mode(fresh, 3) == QUIC_RESULT_INVALID_ARGUMENT);
    CHECK(strstr(quic_config_last_error(fresh), "quic_verify_mode") != NULL);
    /* References: the config lives until the last one goes. */
    quic_config *second = quic_config_ref(fresh);
    CHECK(second == fresh);
    quic_config_free(fresh);
    CHECK(quic_config_set_idle_timeout(second, 2000000000) == QUIC_RESULT_OK);
    quic_config_free(second);
    CHECK(quic_conn_recv(NULL, NULL, 0, NULL, 0, 0) == QUIC_RESULT_NULL_PARAMETER);
    CHECK(quic_conn_poll_event(NULL, &ev) == QUIC_RESULT_NULL_PARAMETER);
    CHECK(quic_conn_timer(NULL) == UINT64_MAX);
    CHECK(quic_conn_is_closed(NULL));
    CHECK(!quic_conn_is_established(NULL));
    quic_conn_free(NULL);

    MUST(quic_conn_new(client_config, NULL, &conn));
    uint8_t small[100];
    size_t len;
    struct sockaddr_storage to;
    socklen_t tolen;
    CHECK(quic_conn_send(conn, small, sizeof small, &len, &to, &tolen, 0) ==
          QUIC_RESULT_BUFFER_TOO_SMALL);
    CHECK(quic_conn_send_ping(conn, 1) == QUIC_RESULT_INVALID_STATE);
    struct sockaddr bogus = {0};
    bogus.sa_family = 12345;
    CHECK(quic_conn_connect(conn, &bogus, sizeof bogus, 0) == QUIC_RESULT_INVALID_ADDRESS);
    MUST(quic_conn_connect(conn, (struct sockaddr *)&server_addr, server_addrlen, 0));
    CHECK(quic_conn_connect(conn, (struct sockaddr *)&server_addr, server_addrlen, 0) ==
          QUIC_RESULT_INVALID_STATE);
    quic_conn_free(conn);

    quic_config *cfg;
    MUST(quic_config_new(true, &cfg));
    CHECK(quic_config_set_connection_id_length(cfg, 21) == QUIC_RESULT_INVALID_ARGUMENT);
    /* The core's Config validates and explains; the C layer translates. */
    CHECK(quic_config_set_max_streams(cfg, 1ull << 61, 1) == QUIC_RESULT_INVALID_ARGUMENT);
    CHECK(strstr(quic_config_last_error(cfg), "2^60") != NULL);
    CHECK(strlen(quic_config_last_error(cfg)) > 0);
    CHECK(quic_config_load_verify_locations(cfg, "/nonexistent.pem", NULL, NULL, 0) ==
          QUIC_RESULT_FILE_UNREADABLE);
    CHECK(quic_config_load_verify_locations(cfg, NULL, NULL, (const uint8_t *)"junk", 4) ==
          QUIC_RESULT_TLS_CA);
    const uint16_t ccm8 = 0x1305;
    CHECK(quic_config_set_cipher_suites(cfg, &ccm8, 1) == QUIC_RESULT_INVALID_ARGUMENT);
    /* The message names the suite. */
    CHECK(strstr(quic_config_last_error(cfg), "0x1305") != NULL);
    quic_config_free(cfg);
}

#define SLOW_TOTAL (4u << 20)
#define SLOW_WINDOW (64 * 1024)
#define SLOW_MAX_WINDOW (256 * 1024)
#define SLOW_STEP (32 * 1024)

/* A server that credits only what it consumed, 32 KB per 10 ms, and pauses
 * the stream for a while: the client's sending follows that pace, what the
 * server holds unconsumed never exceeds the largest window, and all 4 MB
 * arrive intact. */
static void test_backpressure(const char *certs) {
    quic_config *client_config;
    make_configs(certs, &client_config, &server_config);
    CHECK(quic_config_set_receive_credit(server_config, 2) == QUIC_RESULT_INVALID_ARGUMENT);
    CHECK(strstr(quic_config_last_error(server_config), "quic_receive_credit") != NULL);
    MUST(quic_config_set_receive_credit(server_config, QUIC_RECEIVE_CREDIT_ON_CONSUME));
    MUST(quic_config_set_max_data(server_config, 4 * SLOW_MAX_WINDOW));
    MUST(quic_config_set_max_stream_data(server_config, SLOW_WINDOW));
    MUST(quic_config_set_max_windows(server_config, SLOW_MAX_WINDOW, 4 * SLOW_MAX_WINDOW));
    struct side c = {0}, s = {.count_only = 1};
    MUST(quic_conn_new(client_config, NULL, &c.conn));
    quic_config_free(client_config);
    MUST(quic_conn_connect(c.conn, (struct sockaddr *)&server_addr, server_addrlen, 0));
    uint64_t now = run(&c, &s, 0, established);
    CHECK(established(&c, &s));

    uint8_t *data = malloc(SLOW_TOTAL);
    CHECK(data != NULL);
    for (uint64_t i = 0; i < SLOW_TOTAL; i++) data[i] = slow_byte(i);
    MUST(quic_conn_stream_send(c.conn, 0, data, SLOW_TOTAL, true));
    free(data);

    /* Nothing consumed: the client stops at the stream's window. */
    now = run_for(&c, &s, now, 2000 * MS);
    uint64_t queued;
    MUST(quic_conn_stream_send_buffered(c.conn, 0, &queued));
    CHECK(s.rx_total > 0 && s.rx_total <= SLOW_WINDOW);
    CHECK(queued >= SLOW_TOTAL - SLOW_WINDOW);
    /* Misuse: more than was delivered; credit on a client that credits on
     * poll. */
    CHECK(quic_conn_stream_consumed(s.conn, 0, s.rx_total + 1) == QUIC_RESULT_INVALID_STREAM);
    CHECK(quic_conn_stream_consumed(c.conn, 0, 1) == QUIC_RESULT_INVALID_STATE);
    CHECK(quic_conn_stream_consumed(NULL, 0, 1) == QUIC_RESULT_NULL_PARAMETER);
    CHECK(quic_conn_stream_pause_reading(s.conn, 8) == QUIC_RESULT_INVALID_STREAM);

    uint64_t consumed = 0;
    int paused_once = 0;
    while (!(s.stream_done && consumed == s.rx_total) && now < 600000 * MS) {
        uint64_t n = s.rx_total - consumed;
        if (n > SLOW_STEP) n = SLOW_STEP;
        MUST(quic_conn_stream_consumed(s.conn, 0, n));
        consumed += n;
        if (!paused_once && s.rx_total > SLOW_TOTAL / 2) {
            /* Paused: no data for 2 s, however much credit is out. */
            paused_once = 1;
            MUST(quic_conn_stream_pause_reading(s.conn, 0));
            uint64_t before = s.rx_total;
            now = run_for(&c, &s, now, 2000 * MS);
            CHECK(s.rx_total == before);
            MUST(quic_conn_stream_resume_reading(s.conn, 0));
        }
        now = run_for(&c, &s, now, 10 * MS);
        CHECK(s.rx_total - consumed <= SLOW_MAX_WINDOW);
    }
    CHECK(paused_once);
    CHECK(s.stream_done && s.rx_total == SLOW_TOTAL);
    quic_conn_free(c.conn);
    quic_conn_free(s.conn);
    quic_config_free(server_config);
    server_config = NULL;
}

/* Reads up to `cap` bytes of stream 0 in read mode, checking them against
 * slow_byte(); returns the bytes read. */
static size_t read_some(struct side *s, size_t cap) {
    uint8_t buf[8192];
    size_t total = 0;
    while (total < cap && !s->stream_done) {
        size_t want = cap - total < sizeof buf ? cap - total : sizeof buf, n = 0;
        bool fin = false;
        quic_result rc = quic_conn_stream_read(s->conn, 0, buf, want, &n, &fin);
        if (rc == QUIC_RESULT_DONE) break;
        MUST(rc);
        int intact = 1;
        for (size_t i = 0; i < n; i++) intact &= buf[i] == slow_byte(s->rx_total + i);
        CHECK(intact);
        s->rx_total += n;
        total += n;
        if (fin) s->stream_done = 1;
    }
    return total;
}

/* Read mode and the writable level through quic.h: the server reads
 * SLOW_STEP bytes every 10 ms with quic_conn_stream_read; the client
 * writes 256 KB whenever QUIC_EVENT_TYPE_STREAM_WRITABLE says its buffer
 * fell below 64 KB. The data arrives intact, and what the client sent
 * beyond what the server read never exceeds the server's largest window. */
static void test_read_mode(const char *certs) {
    quic_config *client_config;
    make_configs(certs, &client_config, &server_config);
    CHECK(quic_config_set_receive_mode(server_config, 2) == QUIC_RESULT_INVALID_ARGUMENT);
    MUST(quic_config_set_receive_mode(server_config, QUIC_RECEIVE_MODE_READ));
    MUST(quic_config_set_max_stream_data(server_config, SLOW_WINDOW));
    MUST(quic_config_set_max_windows(server_config, SLOW_MAX_WINDOW, 4 * SLOW_MAX_WINDOW));
    MUST(quic_config_set_writable_level(client_config, 64 * 1024));
    struct side c = {0}, s = {0};
    MUST(quic_conn_new(client_config, NULL, &c.conn));
    quic_config_free(client_config);
    MUST(quic_conn_connect(c.conn, (struct sockaddr *)&server_addr, server_addrlen, 0));
    uint64_t now = run(&c, &s, 0, established);
    CHECK(established(&c, &s));
    /* Events mode refuses reads. */
    size_t n;
    bool fin;
    uint8_t one[1];
    CHECK(quic_conn_stream_read(c.conn, 0, one, 1, &n, &fin) == QUIC_RESULT_INVALID_STATE);
    CHECK(quic_conn_stream_read(s.conn, 0, NULL, 1, &n, &fin) == QUIC_RESULT_NULL_PARAMETER);

    uint8_t *chunk = malloc(256 * 1024);
    CHECK(chunk != NULL);
    uint64_t written = 0;
    int writes_seen = -1;
    while (!s.stream_done && now < 600000 * MS) {
        /* The writer: 256 KB at the start and on each WRITABLE event. */
        if (c.writable_events != writes_seen && written < SLOW_TOTAL) {
            writes_seen = c.writable_events;
            for (uint64_t i = 0; i < 256 * 1024; i++) chunk[i] = slow_byte(written + i);
            MUST(quic_conn_stream_send(c.conn, 0, chunk, 256 * 1024,
                                       written + 256 * 1024 == SLOW_TOTAL));
            written += 256 * 1024;
        }
        now = run_for(&c, &s, now, 10 * MS);
        read_some(&s, SLOW_STEP);
        quic_stream_send_info info = {.struct_size = sizeof info};
        if (quic_conn_stream_send_info(c.conn, 0, &info) == QUIC_RESULT_OK)
            CHECK(written - info.unsent - s.rx_total <= SLOW_MAX_WINDOW);
    }
    free(chunk);
    CHECK(s.stream_done && s.rx_total == SLOW_TOTAL && written == SLOW_TOTAL);
    /* One WRITABLE per refill but the last; READABLE events, not data. */
    CHECK(c.writable_events == SLOW_TOTAL / (256 * 1024) - 1);
    CHECK(s.readable_events > 0 && s.rx_len == 0);
    CHECK(quic_conn_stream_read(s.conn, 0, one, 1, &n, &fin) == QUIC_RESULT_STREAM_FINISHED);
    quic_conn_free(c.conn);
    quic_conn_free(s.conn);
    quic_config_free(server_config);
    server_config = NULL;
}

/* Keep-alive and abandon through quic.h: with a 3 s idle timeout and a 1 s
 * keep-alive, a quiet connection is still open after 20 s; abandoning it
 * ends it at once with QUIC_TERMINATION_ABANDONED. */
static void test_keep_alive_and_abandon(const char *certs) {
    quic_config *client_config;
    make_configs(certs, &client_config, &server_config);
    MUST(quic_config_set_idle_timeout(client_config, 3000 * MS));
    MUST(quic_config_set_idle_timeout(server_config, 3000 * MS));
    CHECK(quic_config_set_keep_alive(client_config, 100000000 * MS) ==
          QUIC_RESULT_INVALID_ARGUMENT);
    MUST(quic_config_set_keep_alive(client_config, 1000 * MS));
    struct side c = {0}, s = {0};
    MUST(quic_conn_new(client_config, NULL, &c.conn));
    quic_config_free(client_config);
    MUST(quic_conn_connect(c.conn, (struct sockaddr *)&server_addr, server_addrlen, 0));
    uint64_t now = run(&c, &s, 0, established);
    /* Connection IDs change until the server's spare ones run out, and
     * come back once the retirements reached it. */
    CHECK(quic_conn_change_connection_id(NULL) == QUIC_RESULT_NULL_PARAMETER);
    int changed = 0;
    quic_result rc;
    while ((rc = quic_conn_change_connection_id(c.conn)) == QUIC_RESULT_OK) changed++;
    CHECK(rc == QUIC_RESULT_NO_CONNECTION_ID && changed >= 1);
    now = run_for(&c, &s, now, 200 * MS);
    CHECK(quic_conn_change_connection_id(c.conn) == QUIC_RESULT_OK);
    /* The server replaces all its IDs: the client retires every old one
     * (Retire Prior To), and only then may the server do it again. */
    CHECK(quic_conn_rotate_connection_ids(NULL) == QUIC_RESULT_NULL_PARAMETER);
    drain_events(&s);
    int issued = s.cids_issued, retired = s.cids_retired;
    MUST(quic_conn_rotate_connection_ids(s.conn));
    drain_events(&s);
    int fresh = s.cids_issued - issued;
    CHECK(fresh >= 2);
    CHECK(quic_conn_rotate_connection_ids(s.conn) == QUIC_RESULT_WOULD_BLOCK);
    now = run_for(&c, &s, now, 500 * MS);
    /* Every ID issued before the rotation is gone: the live ones (fresh)
     * equal issued minus retired, counting the first ID, never issued as
     * an event. */
    CHECK(1 + s.cids_issued - s.cids_retired == fresh);
    CHECK(s.cids_retired > retired);
    MUST(quic_conn_rotate_connection_ids(s.conn));
    now = run_for(&c, &s, now, 20000 * MS);
    CHECK(!c.terminated && !s.terminated);
    CHECK(!quic_conn_is_closed(c.conn) && !quic_conn_is_closed(s.conn));
    const char why[] = "port unreachable";
    MUST(quic_conn_abandon(c.conn, (const uint8_t *)why, sizeof why - 1));
    CHECK(quic_conn_is_closed(c.conn));
    drain_events(&c);
    CHECK(c.terminated && c.termination == QUIC_TERMINATION_ABANDONED &&
          strcmp(c.reason, why) == 0);
    CHECK(quic_conn_abandon(NULL, NULL, 0) == QUIC_RESULT_NULL_PARAMETER);
    quic_conn_free(c.conn);
    quic_conn_free(s.conn);
    quic_config_free(server_config);
    server_config = NULL;
}

/* A client migrating through quic.h: per-datagram addresses in and out,
 * quic_conn_migrate to a second local address with an upload, PATH_VALIDATED
 * then MIGRATED, the server following, and the upload intact. */
static void test_migration(const char *certs) {
    quic_config *client_config;
    make_configs(certs, &client_config, &server_config);
    struct side c = {0}, s = {0};
    MUST(quic_conn_new(client_config, NULL, &c.conn));
    quic_config_free(client_config);
    MUST(quic_conn_connect(c.conn, (struct sockaddr *)&server_addr, server_addrlen, 0));
    uint64_t now = run(&c, &s, 0, established);
    paths_api = 1;
    now = run_for(&c, &s, now, 200 * MS);
    MUST(quic_sockaddr_parse("127.0.0.2:5555", &client_addr2, &client_addr2len));
    CHECK(quic_conn_migrate(NULL, (struct sockaddr *)&client_addr2, client_addr2len, now) ==
          QUIC_RESULT_NULL_PARAMETER);
    CHECK(quic_conn_migrate(s.conn, (struct sockaddr *)&client_addr2, client_addr2len, now) ==
          QUIC_RESULT_INVALID_STATE);
    quic_datagram_info bad = {.struct_size = 0};
    uint8_t one = 0;
    CHECK(quic_conn_recv_info(c.conn, &one, 1, &bad, now) == QUIC_RESULT_INVALID_ARGUMENT);
    size_t len;
    CHECK(quic_conn_send_info(c.conn, &one, 1, &len, &bad, now) == QUIC_RESULT_INVALID_ARGUMENT);
    CHECK(quic_conn_recv_info(c.conn, &one, 1, NULL, now) == QUIC_RESULT_NULL_PARAMETER);
    /* A datagram must say where it came from; lengths must fit. */
    quic_datagram_info odd = {.struct_size = sizeof odd};
    CHECK(quic_conn_recv_info(c.conn, &one, 1, &odd, now) == QUIC_RESULT_INVALID_ADDRESS);
    odd.remote = server_addr;
    odd.remote_len = server_addrlen;
    odd.local_len = sizeof odd.local + 1;
    CHECK(quic_conn_recv_info(c.conn, &one, 1, &odd, now) == QUIC_RESULT_INVALID_ADDRESS);
    odd.local_len = 1;
    CHECK(quic_conn_recv_info(c.conn, &one, 1, &odd, now) == QUIC_RESULT_INVALID_ADDRESS);
    s.count_only = 1;
    uint8_t *bulk = malloc(BULK);
    CHECK(bulk != NULL);
    for (size_t i = 0; i < BULK; i++) bulk[i] = slow_byte(i);
    /* The upload starts on the old path (the link in memory has no delay:
     * it may end there too); the move happens while it runs. */
    MUST(quic_conn_migrate(c.conn, (struct sockaddr *)&client_addr2, client_addr2len, now));
    MUST(quic_conn_stream_send(c.conn, 0, bulk, BULK, true));
    free(bulk);
    now = run(&c, &s, now, delivered);
    CHECK(s.stream_done && s.rx_total == BULK);
    CHECK(strcmp(c.path_events, "VM") == 0);
    CHECK(same_addr(&c.path_local, c.path_local_len, &client_addr2, client_addr2len));
    struct sockaddr_storage peer;
    socklen_t peerlen;
    MUST(quic_conn_peer_address(s.conn, &peer, &peerlen));
    CHECK(same_addr(&peer, peerlen, &client_addr2, client_addr2len));
    paths_api = 0;
    quic_conn_free(c.conn);
    quic_conn_free(s.conn);
    quic_config_free(server_config);
    server_config = NULL;
}

/* A server's preferred address through quic.h: the server config offers
 * it, the client validates it after the handshake and moves there (events
 * V then M, `remote_addr` the preferred address), and the server answers
 * from it (quic_conn_send_info's local address). */
static void test_preferred_address(const char *certs) {
    quic_config *client_config;
    make_configs(certs, &client_config, &server_config);
    MUST(quic_sockaddr_parse("127.0.0.3:4434", &server_pref, &server_preflen));
    CHECK(quic_config_set_preferred_address(client_config, (struct sockaddr *)&server_pref,
                                            server_preflen) == QUIC_RESULT_INVALID_ARGUMENT);
    MUST(quic_config_set_preferred_address(server_config, (struct sockaddr *)&server_pref,
                                           server_preflen));
    struct side c = {0}, s = {0};
    MUST(quic_conn_new(client_config, NULL, &c.conn));
    quic_config_free(client_config);
    MUST(quic_conn_connect(c.conn, (struct sockaddr *)&server_addr, server_addrlen, 0));
    paths_api = 1;
    uint64_t now = run(&c, &s, 0, established);
    now = run_for(&c, &s, now, 1000 * MS);
    CHECK(strcmp(c.path_events, "VM") == 0);
    struct sockaddr_storage peer;
    socklen_t peerlen;
    MUST(quic_conn_peer_address(c.conn, &peer, &peerlen));
    CHECK(same_addr(&peer, peerlen, &server_pref, server_preflen));
    /* The server proved the client's end of its path at the new address. */
    CHECK(strchr(s.path_events, 'V') != NULL);
    CHECK(same_addr(&s.path_local, s.path_local_len, &server_pref, server_preflen));
    MUST(quic_conn_send_ping(c.conn, 42));
    now = run(&c, &s, now, pinged);
    CHECK(c.ping_acked);
    paths_api = 0;
    server_preflen = 0;
    quic_conn_free(c.conn);
    quic_conn_free(s.conn);
    quic_config_free(server_config);
    server_config = NULL;
}

/* A fleet's shared register through quic.h (quic_config_set_shared_register):
 * a table of the identifiers taken, as a database all servers reach. */
struct fleet {
    uint8_t ids[16][64];
    size_t lens[16];
    size_t count;
    int early_asks;
};

static int fleet_register(void *userdata, const quic_register_query *q) {
    struct fleet *f = userdata;
    CHECK(q->struct_size >= sizeof *q && q->id_len > 0 && q->id_len <= 64 && q->keep_seconds > 0);
    if (q->kind == QUIC_REGISTER_KIND_EARLY_DATA) {
        f->early_asks++;
        CHECK(q->id_len == 16);
    }
    for (size_t i = 0; i < f->count; i++)
        if (f->lens[i] == q->id_len && memcmp(f->ids[i], q->id, q->id_len) == 0) return 0;
    if (f->count == 16 || q->id_len > 64) return 0;
    memcpy(f->ids[f->count], q->id, q->id_len);
    f->lens[f->count++] = q->id_len;
    return 1;
}

/* A server config of the fleet: tickets and 0-RTT, the fleet's ticket
 * keys, and `fleet` as its shared register (none when NULL). */
static quic_config *fleet_server(const char *certs, const uint8_t *keys, struct fleet *fleet) {
    quic_config *client, *server;
    make_configs(certs, &client, &server);
    quic_config_free(client);
    MUST(quic_config_set_session_tickets(server, true));
    MUST(quic_config_set_early_data(server, true));
    MUST(quic_config_set_ticket_keys(server, keys, 2));
    MUST(quic_config_set_ticket_lifetime(server, 3600));
    if (fleet) MUST(quic_config_set_shared_register(server, fleet_register, fleet));
    return server;
}

/* Resumes with `ticket` through server_config, sending a request in 0-RTT
 * right after connect; the finished pair (the caller frees it). */
static uint64_t resume(quic_config *client_config, const struct side *with, struct side *c,
                       struct side *s, uint64_t now) {
    quic_conn_params params = {.struct_size = sizeof params, .session_ticket = with->ticket,
                               .session_ticket_len = with->ticket_len};
    MUST(quic_conn_new(client_config, &params, &c->conn));
    MUST(quic_conn_connect(c->conn, (struct sockaddr *)&server_addr, server_addrlen, now));
    const char early[] = "early request";
    MUST(quic_conn_stream_send(c->conn, 4, (const uint8_t *)early, sizeof early - 1, true));
    now = run(c, s, now, heard);
    CHECK(established(c, s) && c->resumed && s->resumed);
    CHECK(s->echo_done && s->echoed_len == sizeof early - 1 &&
          memcmp(s->echoed, early, sizeof early - 1) == 0);
    return now;
}

/* Session tickets through quic.h: the first connection's ticket, given in
 * quic_conn_params, resumes the session on a second one, which sends its
 * request in 0-RTT; the server's ticket keys are the application's, and so
 * is the register that takes each ticket's early data once across the
 * fleet. A server with those keys and no shared register refuses 0-RTT in
 * its first seconds, and the request arrives in 1-RTT. */
static void test_resumption(const char *certs) {
    quic_config *client_config;
    make_configs(certs, &client_config, &server_config);
    MUST(quic_config_set_session_tickets(client_config, true));
    MUST(quic_config_set_early_data(client_config, true));
    uint8_t keys[2 * QUIC_TICKET_KEY_LEN];
    for (size_t i = 0; i < sizeof keys; i++) keys[i] = (uint8_t)(i * 13 + 5);
    CHECK(quic_config_set_ticket_keys(server_config, keys, 0) == QUIC_RESULT_INVALID_ARGUMENT);
    CHECK(quic_config_set_ticket_keys(server_config, NULL, 1) == QUIC_RESULT_NULL_PARAMETER);
    CHECK(quic_config_set_ticket_lifetime(server_config, 0) == QUIC_RESULT_INVALID_ARGUMENT);
    CHECK(quic_config_set_shared_register(NULL, fleet_register, NULL) == QUIC_RESULT_NULL_PARAMETER);
    quic_config_free(server_config);
    struct fleet fleet = {0};
    quic_config *first = fleet_server(certs, keys, &fleet);
    server_config = first;

    struct side c1 = {0}, s1 = {0};
    MUST(quic_conn_new(client_config, NULL, &c1.conn));
    MUST(quic_conn_connect(c1.conn, (struct sockaddr *)&server_addr, server_addrlen, 0));
    uint64_t now = run(&c1, &s1, 0, ticketed);
    CHECK(ticketed(&c1, &s1) && !c1.resumed && !s1.resumed);
    CHECK(quic_config_set_shared_register(first, NULL, NULL) == QUIC_RESULT_ALREADY_USED);

    struct side c2 = {0}, s2 = {0};
    now = resume(client_config, &c1, &c2, &s2, now);
    CHECK(c2.early && s2.early && fleet.early_asks == 1);

    /* Another server of the fleet: its own register never saw the ticket,
     * the fleet's did. */
    server_config = fleet_server(certs, keys, &fleet);
    struct side c3 = {0}, s3 = {0};
    now = resume(client_config, &c1, &c3, &s3, now);
    CHECK(!c3.early && !s3.early && fleet.early_asks == 2);
    quic_config_free(server_config);

    /* A server with the fleet's keys and only its own register, just
     * started: early data is refused though it never saw the ticket. */
    server_config = fleet_server(certs, keys, NULL);
    struct side c4 = {0}, s4 = {0};
    now = resume(client_config, &c1, &c4, &s4, now);
    CHECK(!c4.early && !s4.early && fleet.early_asks == 2);
    quic_config_free(server_config);
    server_config = first;

    /* A server takes no ticket. */
    quic_conn *bad = NULL;
    uint8_t dcid[8] = {0};
    quic_conn_params server_params = {.struct_size = sizeof server_params,
                                      .original_dcid = dcid, .original_dcid_len = 8,
                                      .session_ticket = c1.ticket,
                                      .session_ticket_len = c1.ticket_len};
    CHECK(quic_conn_new(server_config, &server_params, &bad) == QUIC_RESULT_INVALID_ARGUMENT);

    struct side *all[] = {&c1, &s1, &c2, &s2, &c3, &s3, &c4, &s4};
    for (size_t i = 0; i < sizeof all / sizeof *all; i++) quic_conn_free(all[i]->conn);
    quic_config_free(client_config);
    quic_config_free(server_config);
    server_config = NULL;
}

int main(int argc, char **argv) {
    if (argc != 2) {
        fprintf(stderr, "usage: %s CERT_DIR\n", argv[0]);
        return 2;
    }
    MUST(quic_sockaddr_parse("127.0.0.1:4321", &client_addr, &client_addrlen));
    MUST(quic_sockaddr_parse("127.0.0.1:4433", &server_addr, &server_addrlen));

    quic_config *client_config;
    make_configs(argv[1], &client_config, &server_config);

    test_argument_checks(client_config);

    struct side c = {0}, s = {0};
    MUST(quic_conn_new(client_config, NULL, &c.conn));
    /* The configs may go now: connections keep what they need. */
    quic_config_free(client_config);
    /* Before the handshake the peer's stream limits are unknown. */
    uint64_t blocked;
    CHECK(quic_conn_open_stream(c.conn, false, &blocked) == QUIC_RESULT_HANDSHAKE_PENDING);
    CHECK(quic_conn_stream_send(c.conn, 0, (const uint8_t *)"x", 1, false) ==
          QUIC_RESULT_HANDSHAKE_PENDING);
    MUST(quic_conn_connect(c.conn, (struct sockaddr *)&server_addr, server_addrlen, 0));

    uint64_t now = run(&c, &s, 0, established);
    CHECK(established(&c, &s));
    /* open_stream reserves: two calls, two streams; next_stream_id only
     * peeks at the one after. */
    uint64_t first, second, peek;
    MUST(quic_conn_open_stream(c.conn, false, &first));
    MUST(quic_conn_open_stream(c.conn, false, &second));
    MUST(quic_conn_next_stream_id(c.conn, false, &peek));
    CHECK(first == 0 && second == 4 && peek == 8);
    /* The poll() helper rounds up, so the loop never wakes early. */
    uint64_t deadline = quic_conn_timer(c.conn);
    CHECK(deadline != UINT64_MAX && quic_conn_timeout_ms(c.conn, deadline - 1) == 1);
    CHECK(quic_conn_timeout_ms(c.conn, deadline) == 0);
    CHECK(quic_conn_timeout_ms(NULL, 0) == -1);
    CHECK(quic_conn_is_established(c.conn) && quic_conn_is_established(s.conn));
    CHECK(strcmp(c.alpn, "hq-interop") == 0 && strcmp(s.alpn, "hq-interop") == 0);

    MUST(quic_conn_send_ping(c.conn, 42));
    now = run(&c, &s, now, pinged);
    CHECK(c.ping_acked);

    /* The client's handshake is confirmed now: a key update goes with the
     * bulk data below, and the server follows it (RFC 9001 §6). */
    CHECK(quic_conn_request_key_update(NULL) == QUIC_RESULT_NULL_PARAMETER);
    CHECK(quic_conn_key_generation(c.conn) == 0);
    MUST(quic_conn_request_key_update(c.conn));

    /* 1 MB on the client's first bidirectional stream. */
    uint8_t *bulk = malloc(BULK);
    s.rx = malloc(BULK);
    CHECK(bulk && s.rx);
    for (size_t i = 0; i < BULK; i++) bulk[i] = (uint8_t)(i * 31 + (i >> 10));
    uint64_t sid = first; /* opened above: stream 0 */
    MUST(quic_conn_stream_send(c.conn, sid, bulk, BULK, true));
    uint64_t queued = 0;
    MUST(quic_conn_stream_send_buffered(c.conn, sid, &queued));
    CHECK(queued == BULK);
    CHECK(quic_conn_stream_send_buffered(c.conn, sid, NULL) == QUIC_RESULT_NULL_PARAMETER);
    CHECK(quic_conn_stream_send(c.conn, sid, bulk, 1, false) == QUIC_RESULT_STREAM_FINISHED);
    CHECK(quic_conn_stream_send(c.conn, 3, bulk, 1, false) == QUIC_RESULT_INVALID_STREAM);
    /* One client datagram in 16 is lost on the way: the data still
     * arrives whole, and quic_stats says how the losses were found. */
    lose_every = 16;
    now = run(&c, &s, now, delivered);
    lose_every = 0;
    CHECK(s.stream_done && s.rx_len == BULK && memcmp(s.rx, bulk, BULK) == 0);
    quic_stats st = {.struct_size = sizeof st};
    MUST(quic_conn_stats(c.conn, &st));
    CHECK(client_lost >= 20);
    /* Lost datagrams are found from ACKs (not only by probe timeouts), and
     * each loss episode cuts the window once at most. */
    CHECK(st.lost_by_packet_threshold + st.lost_by_time_threshold >= client_lost / 2);
    CHECK(st.lost_by_packet_threshold + st.lost_by_time_threshold <= st.packets_lost);
    CHECK(st.congestion_events >= 1 && st.congestion_events <= st.packets_lost);
    CHECK(st.persistent_congestion == 0);
    CHECK(quic_conn_key_generation(c.conn) == 1 && quic_conn_key_generation(s.conn) == 1);
    CHECK(c.key_updates == 1 && s.key_updates == 1);
    /* Acknowledged data is released (the final ACK may still be in flight). */
    MUST(quic_conn_stream_send_buffered(c.conn, sid, &queued));
    CHECK(queued < BULK);
    free(bulk);
    free(s.rx);
    s.rx = NULL;

    /* An echo of the event's own bytes, under ASan: no copy in between. */
    s.echo = 1;
    const char hello[] = "echo me, straight from the event";
    MUST(quic_conn_stream_send(c.conn, second, (const uint8_t *)hello, sizeof hello - 1, true));
    now = run(&c, &s, now, echoed);
    CHECK(c.echo_done && c.echoed_len == sizeof hello - 1 &&
          memcmp(c.echoed, hello, sizeof hello - 1) == 0);

    const char reason[] = "done";
    /* An application close has no frame type: whatever is passed is
     * ignored, not checked. */
    MUST(quic_conn_close(c.conn, true, 7, UINT64_MAX, (const uint8_t *)reason, 4, now));
    now = run(&c, &s, now, closed);
    CHECK(closed(&c, &s));
    CHECK(c.terminated && c.terminated_code == 7);
    CHECK(s.terminated && s.terminated_code == 7 && strcmp(s.reason, "done") == 0);
    /* Who closed: the client's application; the server heard it. */
    CHECK(c.termination == QUIC_TERMINATION_LOCAL_CLOSE);
    CHECK(s.termination == QUIC_TERMINATION_PEER_APPLICATION);
    quic_close_info info = {.struct_size = sizeof info};
    CHECK(quic_conn_peer_error(s.conn, &info) == QUIC_RESULT_OK);
    CHECK(info.is_app && info.error_code == 7 && info.reason_len == 4);
    CHECK(quic_conn_peer_error(c.conn, &info) == QUIC_RESULT_DONE);
    CHECK(quic_conn_local_error(c.conn, &info) == QUIC_RESULT_OK && info.error_code == 7);

    char text[64];
    MUST(quic_sockaddr_format((struct sockaddr *)&server_addr, server_addrlen, text, sizeof text));
    CHECK(strcmp(text, "127.0.0.1:4433") == 0);

    quic_conn_free(c.conn);
    quic_conn_free(s.conn);
    quic_config_free(server_config);

    test_backpressure(argv[1]);
    test_read_mode(argv[1]);
    test_keep_alive_and_abandon(argv[1]);
    test_migration(argv[1]);
    test_preferred_address(argv[1]);
    test_resumption(argv[1]);
    if (failures) {
        fprintf(stderr, "test_handshake: %d failure(s)\n", failures);
        return 1;
    }
    printf("test_handshake: handshake, ping, key update, 1 MB, close, backpressure, read mode, keep-alive, migration, preferred address and resumption passed "
           "(%llu ms virtual)\n",
           (unsigned long long)(now / MS));
    return 0;
}
