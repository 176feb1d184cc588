/* qlog through quic.h: a client writing its trace into a directory
 * (quic_config_set_qlog_dir) and a server handing records to a callback
 * (quic_config_set_qlog_callback) that refuses them for a while, over a
 * handshake, 200 KB and a close in memory. The client's file is named by
 * the original DCID and holds JSON-SEQ records, header first; the
 * callback gets whole records, in order, none lost to its refusals; a
 * path that is no directory is refused. */
#define _DEFAULT_SOURCE
#include "testutil.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdbool.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define MS 1000000ULL
#define BODY (200u * 1024)

static struct sockaddr_in server_addr, client_addr;
static uint8_t odcid[20];
static size_t odcid_len;
static size_t got;
static int fin, closed_client, closed_server;

/* The server's records, as the callback took them. */
static uint8_t *records;
static size_t records_len, records_cap;
static int record_count, refused, refusing, bad_record, wrong_odcid;

static bool take_record(void *userdata, const uint8_t *id, size_t id_len, bool is_server,
                        const uint8_t *record, size_t len) {
    CHECK(userdata == &records);
    if (!is_server || id_len != odcid_len || memcmp(id, odcid, id_len) != 0) wrong_odcid++;
    if (refusing) {
        refused++;
        return false;
    }
    if (len < 3 || record[0] != 0x1e || record[len - 1] != '\n' || record[1] != '{') bad_record++;
    if (records_len + len > records_cap) {
        records_cap = (records_len + len) * 2;
        records = realloc(records, records_cap);
        if (!records) exit(1);
    }
    memcpy(records + records_len, record, len);
    records_len += len;
    record_count++;
    return true;
}

static int contains(const uint8_t *hay, size_t len, const char *needle) {
    size_t n = strlen(needle);
    for (size_t i = 0; i + n <= len; i++)
        if (memcmp(hay + i, needle, n) == 0) return 1;
    return 0;
}

static void events(quic_conn *c, int server) {
    quic_event e = {.struct_size = sizeof e};
    while (quic_conn_poll_event(c, &e) == QUIC_RESULT_OK) {
        if (!server && e.kind == QUIC_EVENT_TYPE_STREAM_DATA_RECEIVED) {
            got += e.data_len;
            if (e.end_stream) fin = 1;
        }
        if (server && e.kind == QUIC_EVENT_TYPE_HANDSHAKE_COMPLETED) {
            static uint8_t body[BODY];
            memset(body, 'q', sizeof body);
            MUST(quic_conn_stream_send(c, 1, body, BODY, true));
        }
        if (e.kind == QUIC_EVENT_TYPE_CONNECTION_TERMINATED) *(server ? &closed_server : &closed_client) = 1;
    }
}

int main(int argc, char **argv) {
    if (argc < 2) return 2;
    quic_config *ccfg, *scfg;
    make_configs(argv[1], &ccfg, &scfg);

    char dir[] = "/tmp/libquic-qlog-XXXXXX";
    CHECK(mkdtemp(dir) != NULL);
    char notdir[600];
    snprintf(notdir, sizeof notdir, "%s/nothing-here", dir);
    CHECK(quic_config_set_qlog_dir(ccfg, notdir) == QUIC_RESULT_FILE_UNREADABLE);
    MUST(quic_config_set_qlog_dir(ccfg, dir));
    MUST(quic_config_set_qlog_callback(scfg, take_record, &records));

    server_addr.sin_family = client_addr.sin_family = AF_INET;
    server_addr.sin_port = htons(4433);
    client_addr.sin_port = htons(50000);
    inet_pton(AF_INET, "127.0.0.1", &server_addr.sin_addr);
    inet_pton(AF_INET, "127.0.0.1", &client_addr.sin_addr);

    quic_conn *client, *server = NULL;
    MUST(quic_conn_new(ccfg, NULL, &client));
    uint64_t now = 1000 * MS;
    MUST(quic_conn_connect(client, (struct sockaddr *)&server_addr, sizeof server_addr, now));

    uint8_t buf[1500];
    size_t len;
    struct sockaddr_storage to;
    socklen_t tolen;
    int closing = 0;
    for (int round = 0; round < 20000 && !(closed_client && closed_server); round++) {
        /* The callback refuses records in some rounds: they wait. */
        refusing = (round / 7) % 3 == 1;
        int moved = 0;
        while (quic_conn_send(client, buf, sizeof buf, &len, &to, &tolen, now) == QUIC_RESULT_OK) {
            moved = 1;
            if (!server) {
                quic_header_info h = {.struct_size = sizeof h};
                MUST(quic_header_parse(buf, len, 8, &h));
                memcpy(odcid, h.dcid, h.dcid_len);
                odcid_len = h.dcid_len;
                quic_conn_params p = {.struct_size = sizeof p,
                                      .original_dcid = h.dcid,
                                      .original_dcid_len = h.dcid_len};
                MUST(quic_conn_new(scfg, &p, &server));
            }
            MUST(quic_conn_recv(server, buf, len, (struct sockaddr *)&client_addr,
                                sizeof client_addr, now));
        }
        while (server &&
               quic_conn_send(server, buf, sizeof buf, &len, &to, &tolen, now) == QUIC_RESULT_OK) {
            moved = 1;
            MUST(quic_conn_recv(client, buf, len, (struct sockaddr *)&server_addr,
                                sizeof server_addr, now));
        }
        events(client, 0);
        if (server) events(server, 1);
        if (fin && !closing) {
            closing = 1;
            MUST(quic_conn_close(client, true, 0, 0, (const uint8_t *)"bye", 3, now));
        }
        if (!moved) {
            uint64_t t = quic_conn_timer(client);
            uint64_t ts = server ? quic_conn_timer(server) : UINT64_MAX;
            if (ts < t) t = ts;
            now = t == UINT64_MAX ? now + MS : (t > now ? t : now);
            quic_conn_handle_timer(client, now);
            if (server) quic_conn_handle_timer(server, now);
        }
    }
    CHECK(got == BODY && fin && closed_client && closed_server);
    CHECK(refused > 0);
    quic_stats st = {.struct_size = sizeof st};
    MUST(quic_conn_stats(server, &st));
    CHECK(st.qlog_records_dropped == 0);
    refusing = 0;
    quic_conn_free(client);
    quic_conn_free(server); /* hands over what waited */

    /* The server's records: header first, then events, all taken. */
    CHECK(!bad_record && !wrong_odcid);
    CHECK(record_count > 20);
    CHECK(contains(records, records_len, "\"file_schema\":\"urn:ietf:params:qlog:file:sequential\""));
    CHECK(contains(records, records_len, "\"type\":\"server\""));
    CHECK(contains(records, records_len, "\"name\":\"quic:packet_received\""));
    CHECK(contains(records, records_len, "\"name\":\"quic:connection_closed\""));
    CHECK(records_len > 0 && records[0] == 0x1e &&
          contains(records, records_len < 300 ? records_len : 300, "file_schema"));

    /* The client's file: <odcid>_client.sqlog. */
    char path[700], hex[41];
    for (size_t i = 0; i < odcid_len; i++) snprintf(hex + 2 * i, 3, "%02x", odcid[i]);
    snprintf(path, sizeof path, "%s/%s_client.sqlog", dir, hex);
    FILE *f = fopen(path, "rb");
    CHECK(f != NULL);
    if (f) {
        static uint8_t file[4 << 20];
        size_t n = fread(file, 1, sizeof file, f);
        fclose(f);
        CHECK(n > 0 && file[0] == 0x1e && file[n - 1] == '\n');
        CHECK(contains(file, n, "\"type\":\"client\""));
        CHECK(contains(file, n, "\"name\":\"quic:packet_sent\""));
        CHECK(contains(file, n, "\"name\":\"quic:connection_closed\""));
        CHECK(contains(file, n, "\"reason\":\"bye\""));
        unlink(path);
    }
    rmdir(dir);
    free(records);
    quic_config_free(ccfg);
    quic_config_free(scfg);
    if (failures) fprintf(stderr, "test_qlog: %d failures\n", failures);
    else printf("test_qlog: ok (%d server records, %d refusals)\n", record_count, refused);
    return failures != 0;
}
