/* GSO batches and GRO input through quic.h, in memory: a server endpoint
 * sends a 2 MB answer with quic_endpoint_send_batch, a client connection
 * uploads 512 KB with quic_conn_send_batch, and each side feeds every
 * batch whole to the other, as the kernel's UDP_GRO would hand it over
 * (segment_size set). Every batch is checked to be a GSO run: at most
 * QUIC_MAX_BATCH_SEGMENTS datagrams within the buffer, all of
 * segment_size bytes but the last, which is not longer; both bodies
 * arrive intact. ECN: the client's marks reach the server
 * (info.ecn passed on), the server's are bleached (passed as 0): the
 * client's path validates, the server's fails. A buffer queued with
 * quic_conn_stream_send_owned on the endpoint's connection is released
 * when the endpoint is freed. */
#include "testutil.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stddef.h>
#include <string.h>

#define MS 1000000ULL
#define DOWN (2u << 20)
#define UP (512u << 10)
#define BATCH_CAP 65507

static struct sockaddr_in server_addr, client_addr;
static uint8_t *down_got, *up_got;
static size_t down_len, up_len;
static int down_fin, up_fin, batches, multi, max_segments;
static uint64_t client_mtu_event;
/* Server batches stamped for later (its pacing horizon), and any stamped
 * beyond the horizon. */
static int ahead, too_far;
#define HORIZON (1 * MS)
static uint64_t server_handle;

static int owned_releases;
static void count_release(void *ctx, const uint8_t *data, size_t len) {
    (void)data;
    (void)len;
    (*(int *)ctx)++;
}

static uint8_t body_byte(size_t i, uint8_t seed) { return (uint8_t)(i * 31 + seed + (i >> 9)); }

/* A batch must be a GSO run within the buffer. */
static void check_batch(size_t len, const quic_datagram_info *info) {
    size_t seg = (size_t)info->segment_size;
    CHECK(seg > 0 && seg <= 1500 && len <= BATCH_CAP);
    if (!seg) return;
    size_t n = (len + seg - 1) / seg;
    CHECK(n >= 1 && n <= QUIC_MAX_BATCH_SEGMENTS);
    batches++;
    if (n > 1) multi++;
    if ((int)n > max_segments) max_segments = (int)n;
}

static void take(uint8_t *got, size_t *len, size_t cap, const quic_event *e, int *fin) {
    CHECK(*len + e->data_len <= cap);
    if (*len + e->data_len <= cap) memcpy(got + *len, e->data, e->data_len);
    *len += e->data_len;
    if (e->end_stream) *fin = 1;
}

static void server_events(quic_endpoint *ep) {
    quic_endpoint_event e = {.struct_size = sizeof e};
    quic_event ce = {.struct_size = sizeof ce};
    while (quic_endpoint_poll_event(ep, &e, &ce) == QUIC_RESULT_OK) {
        if (e.kind == QUIC_ENDPOINT_EVENT_TYPE_NEW_CONNECTION) server_handle = e.connection;
        if (ce.kind != QUIC_EVENT_TYPE_STREAM_DATA_RECEIVED) continue;
        take(up_got, &up_len, UP, &ce, &up_fin);
        if (!up_fin) continue;
        quic_conn *c;
        MUST(quic_endpoint_conn(ep, e.connection, &c));
        static uint8_t body[DOWN];
        for (size_t i = 0; i < DOWN; i++) body[i] = body_byte(i, 2);
        MUST(quic_conn_stream_send(c, ce.stream_id, body, DOWN, true));
    }
}

static void client_events(quic_conn *conn) {
    quic_event e = {.struct_size = sizeof e};
    while (quic_conn_poll_event(conn, &e) == QUIC_RESULT_OK) {
        if (e.kind == QUIC_EVENT_TYPE_HANDSHAKE_COMPLETED) {
            static uint8_t body[UP];
            for (size_t i = 0; i < UP; i++) body[i] = body_byte(i, 1);
            MUST(quic_conn_stream_send(conn, 0, body, UP, true));
        } else if (e.kind == QUIC_EVENT_TYPE_STREAM_DATA_RECEIVED) {
            take(down_got, &down_len, DOWN, &e, &down_fin);
        } else if (e.kind == QUIC_EVENT_TYPE_PATH_MTU_CHANGED) {
            CHECK(!e.black_hole);
            client_mtu_event = e.mtu;
        }
    }
}

/* Moves every batch each side has; returns how many. */
static int move(quic_endpoint *srv, quic_conn *cli, uint64_t now) {
    static uint8_t buf[BATCH_CAP];
    size_t len;
    int moved = 0;
    quic_datagram_info out = {.struct_size = sizeof out};
    while (quic_conn_send_batch(cli, buf, sizeof buf, &len, &out, now) == QUIC_RESULT_OK) {
        check_batch(len, &out);
        CHECK(out.ecn <= 3);
        quic_datagram_info in = {.struct_size = sizeof in, .segment_size = out.segment_size,
                                 .ecn = out.ecn};
        memcpy(&in.remote, &client_addr, sizeof client_addr);
        in.remote_len = sizeof client_addr;
        MUST(quic_endpoint_recv(srv, buf, len, &in, now));
        moved++;
    }
    server_events(srv);
    while (quic_endpoint_send_batch(srv, buf, sizeof buf, &len, &out, now) == QUIC_RESULT_OK) {
        check_batch(len, &out);
        ahead += out.send_time_ns > now;
        too_far += out.send_time_ns > now + HORIZON;
        CHECK(out.remote_len == sizeof client_addr &&
              !memcmp(&out.remote, &client_addr, sizeof client_addr));
        quic_datagram_info in = {.struct_size = sizeof in, .segment_size = out.segment_size};
        memcpy(&in.remote, &server_addr, sizeof server_addr);
        in.remote_len = sizeof server_addr;
        MUST(quic_conn_recv_info(cli, buf, len, &in, now));
        moved++;
    }
    client_events(cli);
    return moved;
}

int main(int argc, char **argv) {
    const char *certs = argc > 1 ? argv[1] : "build/certs";
    server_addr = (struct sockaddr_in){.sin_family = AF_INET, .sin_port = htons(443)};
    client_addr = (struct sockaddr_in){.sin_family = AF_INET, .sin_port = htons(5555)};
    inet_pton(AF_INET, "10.0.0.1", &server_addr.sin_addr);
    inet_pton(AF_INET, "10.0.0.2", &client_addr.sin_addr);
    down_got = malloc(DOWN);
    up_got = malloc(UP);
    quic_config *client_config, *server_config;
    make_configs(certs, &client_config, &server_config);
    /* The server starts at 1452; the client at 1200 and finds 1452 by
     * PMTU discovery (nothing in memory limits it but the ceiling). */
    MUST(quic_config_set_max_datagram_size(server_config, 1452));
    /* The server hands out batches up to 1 ms before they may leave (the
     * move below delivers them at once: this checks the stamps only). */
    MUST(quic_config_set_pacing_horizon(server_config, HORIZON));
    CHECK(quic_config_set_pacing_horizon(server_config, 2000000000ull) ==
          QUIC_RESULT_INVALID_ARGUMENT);
    MUST(quic_config_set_max_pmtu(client_config, 1452));
    CHECK(quic_config_set_max_pmtu(client_config, 1199) == QUIC_RESULT_INVALID_ARGUMENT);
    CHECK(quic_config_set_max_pmtu(client_config, 65528) == QUIC_RESULT_INVALID_ARGUMENT);
    quic_endpoint_params params = {.struct_size = sizeof params,
                                   .retry_policy = QUIC_RETRY_POLICY_NEVER};
    quic_endpoint *srv;
    MUST(quic_endpoint_new(server_config, &params, &srv));
    quic_conn *cli;
    quic_conn_params cp = {.struct_size = sizeof cp};
    MUST(quic_conn_new(client_config, &cp, &cli));
    uint64_t now = 1000 * MS;
    MUST(quic_conn_connect(cli, (struct sockaddr *)&server_addr, sizeof server_addr, now));

    /* A buffer too small for one datagram is refused; nothing is lost. */
    uint8_t small[100];
    size_t len;
    quic_datagram_info info = {.struct_size = sizeof info};
    CHECK(quic_conn_send_batch(cli, small, sizeof small, &len, &info, now) ==
          QUIC_RESULT_BUFFER_TOO_SMALL);
    CHECK(quic_conn_send_batch(cli, small, sizeof small, &len, NULL, now) ==
          QUIC_RESULT_NULL_PARAMETER);
    CHECK(quic_endpoint_send_batch(NULL, small, sizeof small, &len, &info, now) ==
          QUIC_RESULT_NULL_PARAMETER);

    uint64_t limit = now + 60000 * MS;
    while (now < limit && !(down_fin && up_fin)) {
        if (move(srv, cli, now)) continue;
        uint64_t t = quic_endpoint_timeout(srv), u = quic_conn_timer(cli);
        uint64_t next = t < u ? t : u;
        if (next == UINT64_MAX) break;
        now = next > now ? next : now + 1;
        quic_endpoint_handle_timer(srv, now);
        quic_conn_handle_timer(cli, now);
    }
    CHECK(down_fin && up_fin);
    CHECK(down_len == DOWN && up_len == UP);
    int intact = 1;
    for (size_t i = 0; i < DOWN && i < down_len; i++) intact &= down_got[i] == body_byte(i, 2);
    for (size_t i = 0; i < UP && i < up_len; i++) intact &= up_got[i] == body_byte(i, 1);
    CHECK(intact);
    /* In memory nothing is lost and the window grows: most of the bytes
     * went in runs of several datagrams. */
    CHECK(multi > 20 && max_segments > 4);
    CHECK(ahead > 0 && too_far == 0);
    printf("%d server batches stamped ahead of now\n", ahead);
    quic_stats st = {.struct_size = sizeof st};
    MUST(quic_conn_stats(cli, &st));
    CHECK(st.ecn_state == QUIC_ECN_STATE_CAPABLE);
    CHECK(st.ecn_received_ect0 == 0);
    CHECK(st.pmtu == 1452 && client_mtu_event == 1452 && st.pmtu_probes_sent >= 1);
    CHECK(st.pmtu_black_holes == 0);
    quic_conn *srv_conn;
    MUST(quic_endpoint_conn(srv, server_handle, &srv_conn));
    MUST(quic_conn_stats(srv_conn, &st));
    CHECK(st.ecn_state == QUIC_ECN_STATE_FAILED);
    CHECK(st.ecn_received_ect0 > 100 && st.ecn_received_ce == 0);
    /* A caller whose buffer holds 1200 bytes still gets datagrams that
     * fit, whatever PMTU discovery found. */
    MUST(quic_conn_send_ping(cli, 7));
    MUST(quic_conn_stream_send(cli, 4, down_got, 5000, true));
    uint8_t small_buf[1200];
    size_t small_len;
    struct sockaddr_storage to;
    socklen_t tolen;
    int sent_small = 0;
    quic_result src;
    while ((src = quic_conn_send(cli, small_buf, sizeof small_buf, &small_len, &to, &tolen, now)) ==
           QUIC_RESULT_OK) {
        CHECK(small_len <= sizeof small_buf);
        sent_small++;
    }
    CHECK(src == QUIC_RESULT_DONE && sent_small >= 4);
    /* An older caller's struct, ending before `ecn`, is still taken. */
    quic_datagram_info old = {.struct_size = offsetof(quic_datagram_info, ecn)};
    size_t n;
    uint8_t buf[1500];
    CHECK(quic_conn_send_info(cli, buf, sizeof buf, &n, &old, now) != QUIC_RESULT_INVALID_ARGUMENT);
    printf("%d batches, %d of several datagrams, at most %d\n", batches, multi, max_segments);

    /* A buffer queued without a copy on a connection the endpoint holds,
     * never acknowledged: freeing the endpoint gives it back, once. */
    static uint8_t owned_body[4096];
    MUST(quic_conn_stream_send_owned(srv_conn, 1, owned_body, sizeof owned_body, true,
                                     count_release, &owned_releases));
    CHECK(owned_releases == 0);

    quic_conn_free(cli);
    quic_endpoint_free(srv);
    CHECK(owned_releases == 1);
    quic_config_free(client_config);
    quic_config_free(server_config);
    free(down_got);
    free(up_got);
    if (failures) fprintf(stderr, "%d checks failed\n", failures);
    return failures ? 1 : 0;
}
