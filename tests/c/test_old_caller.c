/* A program built against an older quic.h, whose output structs are
 * prefixes of today's (the growth rule: fields are only appended, and the
 * caller's struct_size says how much it has). It runs a handshake and a
 * stream with those smaller structs, each allocated to its exact size with
 * a canary behind it: the library must fill what they have and never write
 * past struct_size (ASan in `make c-test`, memcheck in `make
 * valgrind-test`). Argument: the certificate directory. */
#include "testutil.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MS 1000000ull

/* The "old" layouts: today's leading fields only. */
struct old_event {
    size_t struct_size;
    enum quic_event_type kind;
    uint64_t stream_id;
    const uint8_t *data;
    size_t data_len;
    bool end_stream;
};
struct old_stats {
    size_t struct_size;
    uint32_t version;
    uint16_t cipher_suite;
};
struct old_close_info {
    size_t struct_size;
    bool is_app;
    uint64_t error_code;
};
struct old_header_info {
    size_t struct_size;
    enum quic_packet_type packet_type;
    bool is_long;
    bool fixed_bit;
    uint32_t version;
    const uint8_t *dcid;
    size_t dcid_len;
};

/* They are prefixes of today's structs. */
_Static_assert(offsetof(struct old_event, end_stream) == offsetof(quic_event, end_stream),
               "event prefix");
_Static_assert(offsetof(struct old_stats, cipher_suite) == offsetof(quic_stats, cipher_suite),
               "stats prefix");
_Static_assert(offsetof(struct old_close_info, error_code) ==
                   offsetof(quic_close_info, error_code),
               "close info prefix");
_Static_assert(offsetof(struct old_header_info, dcid_len) ==
                   offsetof(quic_header_info, dcid_len),
               "header prefix");
_Static_assert(sizeof(struct old_event) < sizeof(quic_event), "event is smaller");

#define CANARY 0xa5
#define GUARD 64

/* A block of `size` bytes followed by GUARD canary bytes. */
static void *guarded(size_t size) {
    unsigned char *p = malloc(size + GUARD);
    if (!p) exit(1);
    memset(p, 0, size);
    memset(p + size, CANARY, GUARD);
    return p;
}

static int intact(const void *block, size_t size) {
    const unsigned char *p = block;
    for (size_t i = 0; i < GUARD; i++)
        if (p[size + i] != CANARY) return 0;
    return 1;
}

struct side {
    quic_conn *conn;
    int established, done;
    size_t received;
};

static void drain(struct side *s, struct old_event *ev) {
    while (s->conn && quic_conn_poll_event(s->conn, (quic_event *)ev) == QUIC_RESULT_OK) {
        CHECK(ev->struct_size == sizeof *ev);
        if (ev->kind == QUIC_EVENT_TYPE_HANDSHAKE_COMPLETED) s->established = 1;
        if (ev->kind == QUIC_EVENT_TYPE_STREAM_DATA_RECEIVED) {
            for (size_t i = 0; i < ev->data_len; i++)
                CHECK(ev->data[i] == (uint8_t)(s->received + i));
            s->received += ev->data_len;
            if (ev->end_stream) s->done = 1;
        }
    }
}

int main(int argc, char **argv) {
    if (argc != 2) {
        fprintf(stderr, "usage: %s CERT_DIR\n", argv[0]);
        return 2;
    }
    quic_config *cc, *sc;
    make_configs(argv[1], &cc, &sc);
    struct old_event *ev = guarded(sizeof *ev);
    struct old_header_info *hdr = guarded(sizeof *hdr);
    ev->struct_size = sizeof *ev;
    hdr->struct_size = sizeof *hdr;

    struct sockaddr_storage caddr, saddr;
    socklen_t clen, slen;
    quic_sockaddr_parse("127.0.0.1:5000", &caddr, &clen);
    quic_sockaddr_parse("127.0.0.1:4433", &saddr, &slen);
    struct side c = {0}, s = {0};
    CHECK(quic_conn_new(cc, NULL, &c.conn) == QUIC_RESULT_OK);
    CHECK(quic_conn_connect(c.conn, (struct sockaddr *)&saddr, slen, 0) == QUIC_RESULT_OK);
    static uint8_t body[100000];
    for (size_t i = 0; i < sizeof body; i++) body[i] = (uint8_t)i;
    int sent = 0;
    uint8_t buf[1500];
    uint64_t now = 0;
    while (now < 10000 * MS && !s.done && c.conn) {
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
                    CHECK(quic_header_parse(buf, len, 8, (quic_header_info *)hdr) ==
                          QUIC_RESULT_OK);
                    CHECK(hdr->packet_type == QUIC_PACKET_TYPE_INITIAL && hdr->dcid_len == 8);
                    quic_conn_params p = {.struct_size = sizeof p,
                                          .original_dcid = hdr->dcid,
                                          .original_dcid_len = hdr->dcid_len};
                    CHECK(quic_conn_new(sc, &p, &s.conn) == QUIC_RESULT_OK);
                }
                quic_conn_recv(s.conn, buf, len, (struct sockaddr *)&caddr, clen, now);
            }
            while (s.conn && quic_conn_send(s.conn, buf, sizeof buf, &len, &to, &tolen, now) ==
                                 QUIC_RESULT_OK) {
                moved = 1;
                quic_conn_recv(c.conn, buf, len, (struct sockaddr *)&saddr, slen, now);
            }
            drain(&c, ev);
            drain(&s, ev);
            if (c.established && !sent) {
                CHECK(quic_conn_stream_send(c.conn, 0, body, sizeof body, true) ==
                      QUIC_RESULT_OK);
                sent = moved = 1;
            }
        }
        if (s.done) break; /* no more timers: the close below is ours */
        uint64_t t = quic_conn_timer(c.conn), ts = s.conn ? quic_conn_timer(s.conn) : UINT64_MAX;
        uint64_t next = t < ts ? t : ts;
        now = next > now + MS ? next : now + MS;
        if (quic_conn_timer(c.conn) <= now) quic_conn_handle_timer(c.conn, now);
        if (s.conn && quic_conn_timer(s.conn) <= now) quic_conn_handle_timer(s.conn, now);
    }
    CHECK(c.established && s.established);
    CHECK(s.received == sizeof body);

    /* Statistics into a struct that has version and suite only. */
    struct old_stats *st = guarded(sizeof *st);
    st->struct_size = sizeof *st;
    CHECK(quic_conn_stats(c.conn, (quic_stats *)st) == QUIC_RESULT_OK);
    CHECK(st->version == 1 && st->cipher_suite != 0);
    CHECK(intact(st, sizeof *st));

    /* A close, read back into a struct without the frame type or reason. */
    CHECK(quic_conn_close(c.conn, true, 7, 0, (const uint8_t *)"old", 3, now) == QUIC_RESULT_OK);
    struct old_close_info *ci = guarded(sizeof *ci);
    ci->struct_size = sizeof *ci;
    CHECK(quic_conn_local_error(c.conn, (quic_close_info *)ci) == QUIC_RESULT_OK);
    CHECK(ci->is_app && ci->error_code == 7);
    CHECK(intact(ci, sizeof *ci));

    /* A struct_size that does not reach the first field is refused, and
     * nothing is written. */
    ci->struct_size = sizeof(size_t);
    ci->error_code = 99;
    CHECK(quic_conn_local_error(c.conn, (quic_close_info *)ci) == QUIC_RESULT_INVALID_ARGUMENT);
    CHECK(ci->error_code == 99);
    ev->struct_size = 0;
    CHECK(quic_conn_poll_event(c.conn, (quic_event *)ev) == QUIC_RESULT_INVALID_ARGUMENT);
    /* The header's supported-version list is beyond the old struct. */
    uint32_t v;
    CHECK(quic_header_supported_version((const quic_header_info *)hdr, 0, &v) ==
          QUIC_RESULT_INVALID_ARGUMENT);

    CHECK(intact(ev, sizeof *ev));
    CHECK(intact(hdr, sizeof *hdr));
    free(ev);
    free(hdr);
    free(st);
    free(ci);
    quic_conn_free(c.conn);
    quic_conn_free(s.conn);
    quic_config_free(cc);
    quic_config_free(sc);
    if (failures) {
        fprintf(stderr, "test_old_caller: %d failures\n", failures);
        return 1;
    }
    printf("test_old_caller: smaller structs filled, never written past\n");
    return 0;
}
