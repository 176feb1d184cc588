/* packet-tour: what a QUIC server does with a datagram before it has a
 * connection, through libquic's C API.
 *
 *  1. parse the header of a client Initial (the RFC 9001 Appendix A.2 one);
 *  2. answer an Initial of an unknown version with Version Negotiation;
 *  3. ask the client to prove its address with a Retry packet, protected by
 *     its integrity tag, and check that tag as the client would.
 *
 * Build: make examples; run: make demo. */
#include <quic.h>

#include <stdio.h>
#include <string.h>

static void hexdump(const char *label, const uint8_t *p, size_t n) {
    printf("  %-10s", label);
    for (size_t i = 0; i < n; i++) printf("%02x", p[i]);
    printf("\n");
}

static int fail(const char *what, quic_result rc) {
    fprintf(stderr, "packet-tour: %s: %s\n", what, quic_result_str(rc));
    return 1;
}

/* The RFC 9001 A.2 client Initial header, padded to its 1200-byte datagram. */
static size_t sample_initial(uint8_t *buf, uint32_t version) {
    static const uint8_t hdr[] = {0xc3, 0, 0, 0, 1, 0x08, 0x83, 0x94, 0xc8, 0xf0, 0x3e, 0x51,
                                  0x57, 0x08, 0x00, 0x00, 0x44, 0x9e, 0, 0, 0, 2};
    memcpy(buf, hdr, sizeof hdr);
    buf[1] = (uint8_t)(version >> 24);
    buf[2] = (uint8_t)(version >> 16);
    buf[3] = (uint8_t)(version >> 8);
    buf[4] = (uint8_t)version;
    memset(buf + sizeof hdr, 0, 1200 - sizeof hdr);
    return 1200;
}

int main(void) {
    uint8_t datagram[1200];
    quic_header_info h = {.struct_size = sizeof h};
    quic_result rc;

    printf("%s\n\n", quic_version_string());

    printf("1. A client Initial arrives (RFC 9001 A.2)\n");
    size_t len = sample_initial(datagram, 1);
    if ((rc = quic_header_parse(datagram, len, 8, &h)) != QUIC_RESULT_OK)
        return fail("parse", rc);
    printf("  type %s, version 0x%08x, packet of %zu bytes\n",
           h.packet_type == QUIC_PACKET_TYPE_INITIAL ? "Initial" : "other", h.version,
           h.packet_len);
    hexdump("dcid", h.dcid, h.dcid_len);

    printf("\n2. An Initial of unknown version 0x1a2a3a4a gets Version Negotiation\n");
    uint8_t unknown[1200];
    quic_header_info u = {.struct_size = sizeof u};
    sample_initial(unknown, 0x1a2a3a4a);
    if ((rc = quic_header_parse(unknown, sizeof unknown, 8, &u)) != QUIC_RESULT_OK)
        return fail("parse", rc);
    uint8_t vn[64];
    size_t vn_len;
    rc = quic_version_negotiation_encode(u.dcid, u.dcid_len, u.scid, u.scid_len, NULL, 0, vn,
                                         sizeof vn, &vn_len);
    if (rc != QUIC_RESULT_OK) return fail("version negotiation", rc);
    hexdump("packet", vn, vn_len);
    quic_header_info v = {.struct_size = sizeof v};
    if ((rc = quic_header_parse(vn, vn_len, 0, &v)) != QUIC_RESULT_OK) return fail("parse", rc);
    for (size_t i = 0; i < v.supported_versions_count; i++) {
        uint32_t ver;
        quic_header_supported_version(&v, i, &ver);
        printf("  offers    0x%08x\n", ver);
    }

    printf("\n3. The server answers the Initial with a Retry\n");
    static const uint8_t new_cid[8] = {0xf0, 0x67, 0xa5, 0x50, 0x2a, 0x42, 0x62, 0xb5};
    static const uint8_t token[] = {'t', 'o', 'k', 'e', 'n'};
    uint8_t retry[128];
    size_t retry_len;
    rc = quic_retry_encode(h.version, h.dcid, h.dcid_len, h.scid, h.scid_len, new_cid,
                           sizeof new_cid, token, sizeof token, retry, sizeof retry, &retry_len);
    if (rc != QUIC_RESULT_OK) return fail("retry", rc);
    hexdump("packet", retry, retry_len);
    rc = quic_retry_verify(h.version, h.dcid, h.dcid_len, retry, retry_len);
    printf("  integrity tag: %s\n", rc == QUIC_RESULT_OK ? "valid" : quic_result_str(rc));
    if (rc != QUIC_RESULT_OK) return 1;
    retry[retry_len - 1] ^= 1;
    rc = quic_retry_verify(h.version, h.dcid, h.dcid_len, retry, retry_len);
    printf("  with one bit flipped: %s\n", quic_result_str(rc));
    return rc == QUIC_RESULT_RETRY_TAG_MISMATCH ? 0 : 1;
}
