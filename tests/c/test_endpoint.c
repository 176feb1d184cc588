/* The endpoint through quic.h, in memory: a server endpoint and a client
 * endpoint whose 20 connections share one socket; each client asks, the
 * server answers through borrowed connections; then every connection ends
 * and is freed, stale handles are refused, the calls an endpoint owns are
 * refused on a borrowed connection, and an unknown version gets Version
 * Negotiation. The server's IDs come from the application's generator,
 * then (a second round) from the built-in QUIC-LB one. */
#include "testutil.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stddef.h>
#include <string.h>

#define MS 1000000ULL
#define CLIENTS 20

static struct sockaddr_in addr(const char *ip, uint16_t port) {
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(port)};
    inet_pton(AF_INET, ip, &a.sin_addr);
    return a;
}

static struct sockaddr_in server_addr, client_addr;

/* Everything `from` (whose socket is `from_addr`) sends goes straight
 * into `to`. */
static int move_datagrams(quic_endpoint *from, const struct sockaddr_in *from_addr,
                          quic_endpoint *to, uint64_t now) {
    uint8_t buf[2048];
    size_t len;
    int moved = 0;
    quic_datagram_info out = {.struct_size = sizeof out};
    while (quic_endpoint_send(from, buf, sizeof buf, &len, &out, now) == QUIC_RESULT_OK) {
        quic_datagram_info in = {.struct_size = sizeof in};
        /* Where it went is the receiver's local address. */
        memcpy(&in.local, &out.remote, out.remote_len);
        in.local_len = out.remote_len;
        memcpy(&in.remote, from_addr, sizeof *from_addr);
        in.remote_len = sizeof *from_addr;
        MUST(quic_endpoint_recv(to, buf, len, &in, now));
        moved++;
    }
    return moved;
}

/* The fleet's connection IDs: server ID 0x5a first, then a counter (this
 * test's IDs need only be unique, not unpredictable). */
static void fleet_cid(void *counter, uint8_t *out, size_t len) {
    uint64_t n = ++*(uint64_t *)counter;
    memset(out, 0, len);
    out[0] = 0x5a;
    for (size_t i = 1; i < len && i < 9; i++) out[i] = (uint8_t)(n >> (8 * (i - 1)));
}

/* Whether a connection ID the server issued is the fleet's. */
static int generated_cid(const uint8_t *cid, size_t len) { return len == 8 && cid[0] == 0x5a; }

static const uint8_t LB_SERVER_ID[3] = {0xc4, 0x60, 0x5e};

static int quic_lb_cid(const uint8_t *cid, size_t len) {
    uint8_t rotation = 9, sid[3];
    return len == 10 && quic_lb_server_id(cid, len, 3, &rotation, sid) == QUIC_RESULT_OK &&
           rotation == 2 && !memcmp(sid, LB_SERVER_ID, 3);
}

static int (*issued_cid_ok)(const uint8_t *cid, size_t len) = generated_cid;

static struct state {
    int new_connections, done, answered, replies_ok, established, fleet_cids;
    uint64_t handles[CLIENTS];
    uint64_t first_server_handle;
} cs, ss;

static void server_events(quic_endpoint *ep) {
    quic_endpoint_event e = {.struct_size = sizeof e};
    quic_event ce = {.struct_size = sizeof ce};
    while (quic_endpoint_poll_event(ep, &e, &ce) == QUIC_RESULT_OK) {
        if (e.kind == QUIC_ENDPOINT_EVENT_TYPE_NEW_CONNECTION) {
            if (!ss.new_connections) ss.first_server_handle = e.connection;
            ss.new_connections++;
            CHECK(e.address_proof == QUIC_TOKEN_KIND_NONE && e.context == NULL);
            /* The application's state for the connection, freed on DONE
             * (ASan's leak check sees one that is not). */
            int *mine = malloc(sizeof *mine);
            *mine = ss.new_connections;
            MUST(quic_endpoint_set_context(ep, e.connection, mine));
        } else if (e.kind == QUIC_ENDPOINT_EVENT_TYPE_CONNECTION_DONE) {
            CHECK(e.context != NULL);
            free(e.context);
            ss.done++;
        } else if (ce.kind == QUIC_EVENT_TYPE_CONNECTION_ID_ISSUED) {
            CHECK(issued_cid_ok(ce.cid, ce.cid_len));
            ss.fleet_cids++;
        } else if (ce.kind == QUIC_EVENT_TYPE_STREAM_DATA_RECEIVED && ce.end_stream) {
            CHECK(e.context != NULL);
            quic_conn *c;
            MUST(quic_endpoint_conn(ep, e.connection, &c));
            /* The endpoint drives it: these are its calls. */
            uint8_t buf[1500];
            size_t n;
            struct sockaddr_storage a;
            socklen_t alen;
            CHECK(quic_conn_send(c, buf, sizeof buf, &n, &a, &alen, 0) ==
                  QUIC_RESULT_INVALID_STATE);
            CHECK(quic_conn_handle_timer(c, 0) == QUIC_RESULT_INVALID_STATE);
            quic_conn_free(c); /* ignored */
            char reply[32];
            int len = snprintf(reply, sizeof reply, "answer %d", ce.data_len ? ce.data[0] : -1);
            MUST(quic_conn_stream_send(c, ce.stream_id, (const uint8_t *)reply, (size_t)len, true));
            ss.answered++;
        }
    }
}

static void client_events(quic_endpoint *ep) {
    quic_endpoint_event e = {.struct_size = sizeof e};
    quic_event ce = {.struct_size = sizeof ce};
    while (quic_endpoint_poll_event(ep, &e, &ce) == QUIC_RESULT_OK) {
        if (e.kind == QUIC_ENDPOINT_EVENT_TYPE_CONNECTION_DONE) {
            cs.done++;
            continue;
        }
        if (e.kind != QUIC_ENDPOINT_EVENT_TYPE_CONNECTION) continue;
        int i = 0;
        while (i < CLIENTS && cs.handles[i] != e.connection) i++;
        CHECK(i < CLIENTS);
        if (ce.kind == QUIC_EVENT_TYPE_HANDSHAKE_COMPLETED) {
            cs.established++;
            quic_conn *c;
            MUST(quic_endpoint_conn(ep, e.connection, &c));
            uint64_t sid;
            MUST(quic_conn_next_stream_id(c, false, &sid));
            uint8_t req = (uint8_t)('a' + i);
            MUST(quic_conn_stream_send(c, sid, &req, 1, true));
        } else if (ce.kind == QUIC_EVENT_TYPE_STREAM_DATA_RECEIVED && ce.end_stream) {
            char want[32];
            int len = snprintf(want, sizeof want, "answer %d", 'a' + i);
            CHECK(ce.data_len == (size_t)len && !memcmp(ce.data, want, (size_t)len));
            cs.replies_ok++;
        }
    }
}

/* Runs both endpoints until `done` or `limit`; returns the time. */
static uint64_t run(quic_endpoint *srv, quic_endpoint *cli, uint64_t now, uint64_t limit,
                    int (*done)(void)) {
    while (now < limit && !done()) {
        int moved = move_datagrams(cli, &client_addr, srv, now) +
                    move_datagrams(srv, &server_addr, cli, now);
        server_events(srv);
        client_events(cli);
        if (moved) continue;
        uint64_t t = quic_endpoint_timeout(srv), u = quic_endpoint_timeout(cli);
        uint64_t next = t < u ? t : u;
        if (next == UINT64_MAX) break;
        now = next > now ? next : now + 1;
        quic_endpoint_handle_timer(srv, now);
        quic_endpoint_handle_timer(cli, now);
    }
    return now;
}

static int all_replied(void) { return cs.replies_ok == CLIENTS; }
static int all_done(void) { return ss.done == CLIENTS && cs.done == CLIENTS; }

int main(int argc, char **argv) {
    const char *certs = argc > 1 ? argv[1] : "build/certs";
    server_addr = addr("10.0.0.1", 443);
    client_addr = addr("10.0.0.2", 5555);
    quic_config *client_config, *server_config;
    make_configs(certs, &client_config, &server_config);

    quic_endpoint_params params = {.struct_size = sizeof params,
                                   .retry_policy = QUIC_RETRY_POLICY_NEVER};
    quic_endpoint *srv, *cli;
    uint64_t issued = 0;
    MUST(quic_config_set_cid_generator(server_config, fleet_cid, &issued));
    CHECK(quic_endpoint_new(client_config, &params, &srv) == QUIC_RESULT_INVALID_ARGUMENT);
    MUST(quic_endpoint_new(server_config, &params, &srv));
    MUST(quic_endpoint_new(NULL, NULL, &cli));
    uint64_t now = 1000 * MS;
    for (int i = 0; i < CLIENTS; i++)
        MUST(quic_endpoint_connect(cli, client_config, NULL, (struct sockaddr *)&server_addr,
                                   sizeof server_addr, now, &cs.handles[i]));
    CHECK(quic_endpoint_connect(cli, server_config, NULL, (struct sockaddr *)&server_addr,
                                sizeof server_addr, now, &cs.handles[0]) ==
          QUIC_RESULT_INVALID_ARGUMENT);
    now = run(srv, cli, now, now + 5000 * MS, all_replied);
    CHECK(cs.established == CLIENTS && ss.new_connections == CLIENTS);
    CHECK(ss.answered == CLIENTS && cs.replies_ok == CLIENTS);
    /* Every ID the server's connections issued is the fleet's. */
    CHECK(ss.fleet_cids >= CLIENTS && issued >= (uint64_t)ss.fleet_cids);

    quic_endpoint_stats_info st = {.struct_size = sizeof st};
    MUST(quic_endpoint_stats(srv, &st));
    CHECK(st.connections == CLIENTS && st.accepted == CLIENTS && st.half_open == 0);

    /* Every client closes; both sides free every connection. */
    for (int i = 0; i < CLIENTS; i++) {
        quic_conn *c;
        MUST(quic_endpoint_conn(cli, cs.handles[i], &c));
        MUST(quic_conn_close(c, true, 0, 0, (const uint8_t *)"bye", 3, now));
    }
    now = run(srv, cli, now, now + 10000 * MS, all_done);
    CHECK(ss.done == CLIENTS && cs.done == CLIENTS);
    MUST(quic_endpoint_stats(srv, &st));
    CHECK(st.connections == 0);
    quic_conn *stale;
    CHECK(quic_endpoint_conn(cli, cs.handles[3], &stale) == QUIC_RESULT_NO_SUCH_CONNECTION);
    CHECK(quic_endpoint_conn(srv, ss.first_server_handle, &stale) ==
          QUIC_RESULT_NO_SUCH_CONNECTION);
    CHECK(quic_endpoint_conn(srv, 0, &stale) == QUIC_RESULT_NO_SUCH_CONNECTION);
    CHECK(quic_endpoint_set_context(srv, ss.first_server_handle, NULL) ==
          QUIC_RESULT_NO_SUCH_CONNECTION);
    CHECK(quic_endpoint_timeout(srv) == UINT64_MAX);

    /* An unknown version, in a full-size datagram: Version Negotiation. */
    uint8_t probe[1200] = {0xc0, 0x1a, 0x2a, 0x3a, 0x4a, 8, 1, 1, 1, 1, 1, 1, 1, 1, 8,
                           2,    2,    2,    2,    2,    2, 2, 2};
    quic_datagram_info in = {.struct_size = sizeof in};
    memcpy(&in.remote, &client_addr, sizeof client_addr);
    in.remote_len = sizeof client_addr;
    MUST(quic_endpoint_recv(srv, probe, sizeof probe, &in, now));
    uint8_t out[1500];
    size_t len;
    quic_datagram_info where = {.struct_size = sizeof where};
    MUST(quic_endpoint_send(srv, out, sizeof out, &len, &where, now));
    quic_header_info h = {.struct_size = sizeof h};
    MUST(quic_header_parse(out, len, 8, &h));
    CHECK(h.packet_type == QUIC_PACKET_TYPE_VERSION_NEGOTIATION);
    CHECK(where.remote_len == sizeof client_addr &&
          !memcmp(&where.remote, &client_addr, sizeof client_addr));
    CHECK(quic_endpoint_send(srv, out, 100, &len, &where, now) == QUIC_RESULT_BUFFER_TOO_SMALL);
    MUST(quic_endpoint_stats(srv, &st));
    CHECK(st.version_negotiations == 1);

    /* GRO: two full-size probes and a 100-byte tail coalesced into one
     * buffer with a 1200-byte segment size: each segment is a datagram of
     * its own (two Version Negotiations; the short tail fits none). A
     * caller whose struct ends before segment_size passes one datagram. */
    static uint8_t coalesced[2500];
    memcpy(coalesced, probe, 1200);
    memcpy(coalesced + 1200, probe, 1200);
    memcpy(coalesced + 2400, probe, 100);
    quic_datagram_info gro = in;
    gro.segment_size = 1200;
    MUST(quic_endpoint_recv(srv, coalesced, sizeof coalesced, &gro, now));
    int answers = 0;
    while (quic_endpoint_send(srv, out, sizeof out, &len, &where, now) == QUIC_RESULT_OK) answers++;
    CHECK(answers == 2);
    quic_endpoint_stats_info before = {.struct_size = sizeof before};
    MUST(quic_endpoint_stats(srv, &before));
    CHECK(before.version_negotiations == 3);
    gro.struct_size = offsetof(quic_datagram_info, segment_size);
    MUST(quic_endpoint_recv(srv, coalesced, sizeof coalesced, &gro, now));
    answers = 0;
    while (quic_endpoint_send(srv, out, sizeof out, &len, &where, now) == QUIC_RESULT_OK) answers++;
    CHECK(answers == 1);

    CHECK(quic_endpoint_recv(NULL, probe, 1, &in, now) == QUIC_RESULT_NULL_PARAMETER);
    quic_endpoint_free(srv);
    quic_endpoint_free(cli);
    quic_endpoint_free(NULL);
    quic_config_free(client_config);
    quic_config_free(server_config);

    /* QUIC-LB: the draft's plaintext vector reads back; bad
     * configurations are refused with a reason. */
    const uint8_t vector[8] = {0x07, 0xc4, 0x60, 0x5e, 0x45, 0x04, 0xcc, 0x4f};
    uint8_t rotation = 9, sid[3];
    MUST(quic_lb_server_id(vector, sizeof vector, 3, &rotation, sid));
    CHECK(rotation == 0 && !memcmp(sid, LB_SERVER_ID, 3));
    const uint8_t unroutable[8] = {0xe7, 0xc4, 0x60, 0x5e, 0x45, 0x04, 0xcc, 0x4f};
    CHECK(quic_lb_server_id(unroutable, 8, 3, NULL, sid) == QUIC_RESULT_INVALID_ARGUMENT);
    CHECK(quic_lb_server_id(vector, 7, 3, NULL, sid) == QUIC_RESULT_INVALID_ARGUMENT);
    CHECK(quic_lb_server_id(vector, 8, 3, NULL, NULL) == QUIC_RESULT_NULL_PARAMETER);
    make_configs(certs, &client_config, &server_config);
    quic_lb_config lb = {.struct_size = sizeof lb, .config_rotation = 7,
                         .server_id = LB_SERVER_ID, .server_id_len = 3, .nonce_len = 6};
    CHECK(quic_config_set_quic_lb(server_config, &lb) == QUIC_RESULT_INVALID_ARGUMENT);
    CHECK(strstr(quic_config_last_error(server_config), "rotation") != NULL);
    lb.config_rotation = 2;
    lb.nonce_len = 3;
    CHECK(quic_config_set_quic_lb(server_config, &lb) == QUIC_RESULT_INVALID_ARGUMENT);
    lb.nonce_len = 6;
    lb.struct_size = 4;
    CHECK(quic_config_set_quic_lb(server_config, &lb) == QUIC_RESULT_INVALID_ARGUMENT);
    lb.struct_size = sizeof lb;
    MUST(quic_config_set_quic_lb(server_config, &lb));
    /* The QUIC-LB configuration fixed the length (1 + 3 + 6 bytes). */
    CHECK(quic_config_set_connection_id_length(server_config, 8) == QUIC_RESULT_INVALID_ARGUMENT);
    CHECK(strstr(quic_config_last_error(server_config), "QUIC-LB") != NULL);
    MUST(quic_config_set_connection_id_length(server_config, 10));
    /* A running endpoint takes a new server config (key rotation) only
     * with its connection ID length, and a new reset key. */
    MUST(quic_endpoint_new(server_config, &params, &srv));
    CHECK(quic_endpoint_set_server_config(srv, client_config) == QUIC_RESULT_INVALID_ARGUMENT);
    quic_config *other_len, *unused;
    make_configs(certs, &unused, &other_len);
    CHECK(quic_endpoint_set_server_config(srv, other_len) == QUIC_RESULT_INVALID_ARGUMENT);
    CHECK(quic_endpoint_set_server_config(srv, NULL) == QUIC_RESULT_NULL_PARAMETER);
    MUST(quic_endpoint_set_server_config(srv, server_config));
    const uint8_t new_key[32] = {7};
    MUST(quic_endpoint_set_reset_key(srv, new_key));
    CHECK(quic_endpoint_set_reset_key(srv, NULL) == QUIC_RESULT_NULL_PARAMETER);
    CHECK(quic_endpoint_set_reset_key(NULL, new_key) == QUIC_RESULT_NULL_PARAMETER);
    quic_endpoint_free(srv);
    quic_config_free(other_len);
    quic_config_free(unused);
    /* A second round of clients, each issued ID carrying the server ID
     * (the endpoint takes the 10-byte length from the config). */
    memset(&cs, 0, sizeof cs);
    memset(&ss, 0, sizeof ss);
    issued_cid_ok = quic_lb_cid;
    MUST(quic_endpoint_new(server_config, &params, &srv));
    MUST(quic_endpoint_new(NULL, NULL, &cli));
    for (int i = 0; i < CLIENTS; i++)
        MUST(quic_endpoint_connect(cli, client_config, NULL, (struct sockaddr *)&server_addr,
                                   sizeof server_addr, now, &cs.handles[i]));
    now = run(srv, cli, now, now + 5000 * MS, all_replied);
    CHECK(cs.replies_ok == CLIENTS && ss.fleet_cids >= CLIENTS);
    for (int i = 0; i < CLIENTS; i++) {
        quic_conn *c;
        MUST(quic_endpoint_conn(cli, cs.handles[i], &c));
        MUST(quic_conn_close(c, true, 0, 0, NULL, 0, now));
    }
    now = run(srv, cli, now, now + 10000 * MS, all_done);
    CHECK(ss.done == CLIENTS);
    quic_endpoint_free(srv);
    quic_endpoint_free(cli);
    quic_config_free(client_config);
    quic_config_free(server_config);
    if (failures) {
        fprintf(stderr, "test_endpoint: %d check(s) failed\n", failures);
        return 1;
    }
    printf("test_endpoint: %d connections through one client and one server endpoint, "
           "freed handles refused, Version Negotiation, QUIC-LB IDs\n",
           CLIENTS);
    return 0;
}
