/* What the C tests share: checks that count failures instead of stopping,
 * calls that must succeed, and client and server configurations for the
 * test certificates (tests/make-certs.sh). One test program per file, so
 * the definitions here are static. */
#ifndef TESTUTIL_H
#define TESTUTIL_H

#include <quic.h>

#include <stdio.h>
#include <stdlib.h>

static int failures __attribute__((unused));

#define CHECK(cond)                                                                   \
    do {                                                                              \
        if (!(cond)) {                                                                \
            fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, __LINE__, #cond);  \
            failures++;                                                               \
        }                                                                             \
    } while (0)

#define MUST(call)                                                                    \
    do {                                                                              \
        quic_result rc_ = (call);                                                     \
        if (rc_ != QUIC_RESULT_OK) {                                                  \
            fprintf(stderr, "%s:%d: %s: %s\n", __FILE__, __LINE__, #call,             \
                    quic_result_str(rc_));                                            \
            exit(1);                                                                  \
        }                                                                             \
    } while (0)

/* A client configuration trusting the test CA for "localhost" and a server
 * configuration with the test certificate, both offering hq-interop; `dir`
 * is the certificate directory. Exits when they cannot be made. */
static inline void make_configs(const char *dir, quic_config **client, quic_config **server) {
    char ca[512], cert[512], key[512];
    snprintf(ca, sizeof ca, "%s/ca.pem", dir);
    snprintf(cert, sizeof cert, "%s/server.pem", dir);
    snprintf(key, sizeof key, "%s/server.key", dir);
    const char *alpn[] = {"hq-interop"};
    MUST(quic_config_new(true, client));
    MUST(quic_config_set_alpn_protocols(*client, alpn, 1));
    MUST(quic_config_set_server_name(*client, "localhost"));
    MUST(quic_config_load_verify_locations(*client, ca, NULL, NULL, 0));
    MUST(quic_config_new(false, server));
    MUST(quic_config_set_alpn_protocols(*server, alpn, 1));
    MUST(quic_config_load_cert_chain(*server, cert, key, NULL));
}

#endif
