/* The stateless server helpers through quic.h only: header parsing, Version
 * Negotiation, Retry, and Retry with a library token. Built with AddressSanitizer and UBSan by `make c-test`,
 * and against an installed copy by `make install-check`. */
#include "testutil.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define CHECK_RC(call, expected)                                                \
    do {                                                                        \
        quic_result rc_ = (call);                                               \
        if (rc_ != (expected)) {                                                \
            fprintf(stderr, "%s:%d: %s returned %d (%s), expected %d\n", __FILE__, \
                    __LINE__, #call, (int)rc_, quic_result_str(rc_), (int)(expected)); \
            failures++;                                                         \
        }                                                                       \
    } while (0)

static const uint8_t ODCID[8] = {0x83, 0x94, 0xc8, 0xf0, 0x3e, 0x51, 0x57, 0x08};
static const uint8_t SERVER_CID[8] = {0xf0, 0x67, 0xa5, 0x50, 0x2a, 0x42, 0x62, 0xb5};

/* A client Initial to `dcid` carrying `token` (under 64 bytes): header,
 * then 1182 bytes. */
static size_t initial_to(uint8_t *buf, uint32_t version, const uint8_t *dcid, size_t dcid_len,
                         const uint8_t *token, size_t token_len) {
    size_t n = 0;
    buf[n++] = 0xc3;
    buf[n++] = (uint8_t)(version >> 24);
    buf[n++] = (uint8_t)(version >> 16);
    buf[n++] = (uint8_t)(version >> 8);
    buf[n++] = (uint8_t)version;
    buf[n++] = (uint8_t)dcid_len;
    memcpy(buf + n, dcid, dcid_len);
    n += dcid_len;
    buf[n++] = 0; /* SCID length */
    buf[n++] = (uint8_t)token_len;
    if (token_len) memcpy(buf + n, token, token_len);
    n += token_len;
    buf[n++] = 0x44; /* Length 1182 as a 2-byte varint */
    buf[n++] = 0x9e;
    memset(buf + n, 0xab, 1182);
    return n + 1182;
}

/* A client Initial shaped like RFC 9001 A.2. */
static size_t client_initial(uint8_t *buf, uint32_t version) {
    return initial_to(buf, version, ODCID, sizeof ODCID, NULL, 0);
}

/* Retry with a token the library mints, and the token checked when the
 * client's next Initial brings it back. */
static void test_library_tokens(void) {
    quic_config *server, *client;
    MUST(quic_config_new(false, &server));
    MUST(quic_config_new(true, &client));
    uint8_t key[32];
    memset(key, 0x5a, sizeof key);
    MUST(quic_config_set_token_key(server, key));
    struct sockaddr_storage peer, moved;
    socklen_t peer_len, moved_len;
    MUST(quic_sockaddr_parse("192.0.2.1:4000", &peer, &peer_len));
    MUST(quic_sockaddr_parse("192.0.2.1:4001", &moved, &moved_len));
    const struct sockaddr *p = (const struct sockaddr *)&peer;

    uint8_t pkt[1400], retry[600];
    size_t len = client_initial(pkt, 1), retry_len;
    quic_header_info info = {.struct_size = sizeof info};
    MUST(quic_header_parse(pkt, len, 8, &info));
    quic_token_info tok = {.struct_size = sizeof tok};
    CHECK_RC(quic_token_check(server, &info, p, peer_len, &tok), QUIC_RESULT_OK);
    CHECK(tok.kind == QUIC_TOKEN_KIND_NONE);
    CHECK_RC(quic_token_check(client, &info, p, peer_len, &tok), QUIC_RESULT_INVALID_ARGUMENT);
    CHECK_RC(quic_token_check(server, NULL, p, peer_len, &tok), QUIC_RESULT_NULL_PARAMETER);
    CHECK_RC(quic_retry_with_token(server, &info, p, peer_len, retry, 20, &retry_len),
             QUIC_RESULT_BUFFER_TOO_SMALL);
    MUST(quic_retry_with_token(server, &info, p, peer_len, retry, sizeof retry, &retry_len));
    quic_header_info r = {.struct_size = sizeof r};
    MUST(quic_header_parse(retry, retry_len, 8, &r));
    CHECK(r.packet_type == QUIC_PACKET_TYPE_RETRY && r.token_len > 0 && r.token_len < 64);
    CHECK(quic_retry_verify(1, ODCID, sizeof ODCID, retry, retry_len) == QUIC_RESULT_OK);

    /* The client's next Initial goes to the Retry's SCID with its token. */
    len = initial_to(pkt, 1, r.scid, r.scid_len, r.token, r.token_len);
    MUST(quic_header_parse(pkt, len, 8, &info));
    CHECK_RC(quic_token_check(server, &info, p, peer_len, &tok), QUIC_RESULT_OK);
    CHECK(tok.kind == QUIC_TOKEN_KIND_RETRY);
    CHECK(tok.original_dcid_len == sizeof ODCID &&
          memcmp(tok.original_dcid, ODCID, sizeof ODCID) == 0);
    CHECK(tok.retry_scid_len == r.scid_len && memcmp(tok.retry_scid, r.scid, r.scid_len) == 0);
    /* From another port, or sent to another connection ID: no proof. */
    CHECK_RC(quic_token_check(server, &info, (const struct sockaddr *)&moved, moved_len, &tok),
             QUIC_RESULT_OK);
    CHECK(tok.kind == QUIC_TOKEN_KIND_INVALID);
    len = initial_to(pkt, 1, ODCID, sizeof ODCID, r.token, r.token_len);
    MUST(quic_header_parse(pkt, len, 8, &info));
    CHECK_RC(quic_token_check(server, &info, p, peer_len, &tok), QUIC_RESULT_OK);
    CHECK(tok.kind == QUIC_TOKEN_KIND_INVALID);
    quic_config_free(server);
    quic_config_free(client);
}

static void test_version_and_results(void) {
    CHECK(strstr(quic_version_string(), "libquic") != NULL);
    CHECK(QUIC_VERSION_MAJOR == 0);
    CHECK(strcmp(quic_result_str(QUIC_RESULT_OK), "success") == 0);
    CHECK(quic_result_str(12345) != NULL);
    CHECK(quic_result_is_fatal(QUIC_RESULT_PANIC));
    CHECK(!quic_result_is_fatal(QUIC_RESULT_BUFFER_TOO_SMALL));
}

static void test_header_parse(void) {
    uint8_t pkt[1300];
    size_t len = client_initial(pkt, 1);
    quic_header_info info = {.struct_size = sizeof info};
    CHECK_RC(quic_header_parse(pkt, len, 8, &info), QUIC_RESULT_OK);
    CHECK(info.packet_type == QUIC_PACKET_TYPE_INITIAL);
    CHECK(info.is_long && info.fixed_bit);
    CHECK(info.version == 1);
    CHECK(info.dcid_len == 8 && memcmp(info.dcid, ODCID, 8) == 0);
    CHECK(info.scid_len == 0 && info.token_len == 0 && info.token == NULL);
    CHECK(info.packet_len == 1200);

    /* Every truncation is an error, never a crash. */
    for (size_t n = 0; n < len; n++) {
        quic_result rc = quic_header_parse(pkt, n, 8, &info);
        CHECK(rc == QUIC_RESULT_PACKET_TRUNCATED);
    }

    /* A short header with our 8-byte CIDs. */
    uint8_t shorthdr[] = {0x41, 1, 2, 3, 4, 5, 6, 7, 8, 0xaa, 0xbb};
    CHECK_RC(quic_header_parse(shorthdr, sizeof shorthdr, 8, &info), QUIC_RESULT_OK);
    CHECK(info.packet_type == QUIC_PACKET_TYPE_ONE_RTT && !info.is_long);
    CHECK(info.dcid_len == 8 && info.dcid == shorthdr + 1);

    /* Bad arguments. */
    CHECK_RC(quic_header_parse(NULL, 10, 8, &info), QUIC_RESULT_NULL_PARAMETER);
    CHECK_RC(quic_header_parse(pkt, len, 8, NULL), QUIC_RESULT_NULL_PARAMETER);
    CHECK_RC(quic_header_parse(pkt, len, 21, &info), QUIC_RESULT_INVALID_ARGUMENT);
    CHECK_RC(quic_header_parse(NULL, 0, 8, &info), QUIC_RESULT_PACKET_TRUNCATED);

    /* A 21-byte DCID in a v1 long header. */
    uint8_t longcid[64] = {0xc0, 0, 0, 0, 1, 21};
    CHECK_RC(quic_header_parse(longcid, sizeof longcid, 8, &info),
             QUIC_RESULT_CONNECTION_ID_TOO_LONG);

    /* Random garbage never crashes (the sanitizers watch). */
    srand(7);
    for (int i = 0; i < 20000; i++) {
        uint8_t junk[64];
        size_t n = (size_t)(rand() % (int)sizeof junk);
        for (size_t j = 0; j < n; j++) junk[j] = (uint8_t)rand();
        if (i % 3 == 0 && n > 0) junk[0] |= 0x80;
        (void)quic_header_parse(junk, n, (size_t)(rand() % 21), &info);
    }
}

static void test_version_negotiation(void) {
    uint8_t pkt[1300];
    size_t len = client_initial(pkt, 0x1a2a3a4a);
    quic_header_info info = {.struct_size = sizeof info};
    CHECK_RC(quic_header_parse(pkt, len, 8, &info), QUIC_RESULT_OK);
    CHECK(info.packet_type == QUIC_PACKET_TYPE_UNKNOWN_VERSION);

    uint8_t vn[128];
    size_t vn_len = 0;
    CHECK_RC(quic_version_negotiation_encode(info.dcid, info.dcid_len, info.scid, info.scid_len,
                                             NULL, 0, vn, sizeof vn, &vn_len),
             QUIC_RESULT_OK);
    quic_header_info vi = {.struct_size = sizeof vi};
    CHECK_RC(quic_header_parse(vn, vn_len, 0, &vi), QUIC_RESULT_OK);
    CHECK(vi.packet_type == QUIC_PACKET_TYPE_VERSION_NEGOTIATION);
    /* RFC 9000 §17.2.1: the client's SCID becomes the DCID and vice versa. */
    CHECK(vi.scid_len == 8 && memcmp(vi.scid, ODCID, 8) == 0);
    CHECK(vi.dcid_len == 0);
    CHECK(vi.supported_versions_count == 2);
    uint32_t v = 0;
    CHECK_RC(quic_header_supported_version(&vi, 0, &v), QUIC_RESULT_OK);
    CHECK(v == 1);
    CHECK_RC(quic_header_supported_version(&vi, 1, &v), QUIC_RESULT_OK);
    CHECK(v == 0x6b3343cf);
    CHECK_RC(quic_header_supported_version(&vi, 2, &v), QUIC_RESULT_INVALID_ARGUMENT);

    /* Explicit versions, and a buffer one byte too small. */
    const uint32_t mine[1] = {1};
    size_t need = 7 + info.dcid_len + info.scid_len + 4;
    size_t untouched = 999;
    CHECK_RC(quic_version_negotiation_encode(info.dcid, info.dcid_len, NULL, 0, mine, 1, vn,
                                             need - 1, &untouched),
             QUIC_RESULT_BUFFER_TOO_SMALL);
    CHECK(untouched == 999);
    CHECK_RC(quic_version_negotiation_encode(info.dcid, info.dcid_len, NULL, 0, mine, 1, vn, need,
                                             &vn_len),
             QUIC_RESULT_OK);
    CHECK(vn_len == need);
    CHECK_RC(quic_version_negotiation_encode(NULL, 4, NULL, 0, NULL, 0, vn, sizeof vn, &vn_len),
             QUIC_RESULT_NULL_PARAMETER);
    CHECK_RC(quic_version_negotiation_encode(NULL, 0, NULL, 0, NULL, 3, vn, sizeof vn, &vn_len),
             QUIC_RESULT_NULL_PARAMETER);
    CHECK_RC(quic_version_negotiation_encode(NULL, 0, NULL, 0, NULL, 0, NULL, 0, &vn_len),
             QUIC_RESULT_NULL_PARAMETER);
}

static void test_retry(void) {
    const uint8_t token[] = "token";
    uint8_t retry[128];
    size_t retry_len = 0;
    for (uint32_t version = 1; version; version = version == 1 ? 0x6b3343cf : 0) {
        CHECK_RC(quic_retry_encode(version, ODCID, 8, NULL, 0, SERVER_CID, 8, token, 5, retry,
                                   sizeof retry, &retry_len),
                 QUIC_RESULT_OK);
        /* RFC 9001 A.4: 1 + 4 + 1 + 0 + 1 + 8 + 5 + 16 bytes. */
        CHECK(retry_len == 36);
        quic_header_info info = {.struct_size = sizeof info};
        CHECK_RC(quic_header_parse(retry, retry_len, 0, &info), QUIC_RESULT_OK);
        CHECK(info.packet_type == QUIC_PACKET_TYPE_RETRY);
        CHECK(info.version == version);
        CHECK(info.token_len == 5 && memcmp(info.token, "token", 5) == 0);
        CHECK_RC(quic_retry_verify(version, ODCID, 8, retry, retry_len), QUIC_RESULT_OK);
        retry[10] ^= 1;
        CHECK_RC(quic_retry_verify(version, ODCID, 8, retry, retry_len),
                 QUIC_RESULT_RETRY_TAG_MISMATCH);
    }
    CHECK_RC(quic_retry_encode(0x1a2a3a4a, ODCID, 8, NULL, 0, SERVER_CID, 8, token, 5, retry,
                               sizeof retry, &retry_len),
             QUIC_RESULT_UNSUPPORTED_VERSION);
    CHECK_RC(quic_retry_encode(1, ODCID, 8, NULL, 0, ODCID, 8, token, 5, retry, sizeof retry,
                               &retry_len),
             QUIC_RESULT_INVALID_ARGUMENT);
    CHECK_RC(quic_retry_encode(1, ODCID, 8, NULL, 0, SERVER_CID, 8, NULL, 0, retry, sizeof retry,
                               &retry_len),
             QUIC_RESULT_INVALID_ARGUMENT);
    CHECK_RC(quic_retry_encode(1, ODCID, 8, NULL, 0, SERVER_CID, 8, token, 5, retry, 35,
                               &retry_len),
             QUIC_RESULT_BUFFER_TOO_SMALL);
    uint8_t long_cid[21] = {0};
    CHECK_RC(quic_retry_encode(1, long_cid, 21, NULL, 0, SERVER_CID, 8, token, 5, retry,
                               sizeof retry, &retry_len),
             QUIC_RESULT_CONNECTION_ID_TOO_LONG);
    CHECK_RC(quic_retry_verify(1, ODCID, 8, retry, 15), QUIC_RESULT_PACKET_TRUNCATED);
}

int main(void) {
    test_version_and_results();
    test_header_parse();
    test_version_negotiation();
    test_retry();
    test_library_tokens();
    if (failures) {
        fprintf(stderr, "test_server_helpers: %d failure(s)\n", failures);
        return 1;
    }
    printf("test_server_helpers: all checks passed\n");
    return 0;
}
