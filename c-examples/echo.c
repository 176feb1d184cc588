/* quic-echo: the whole drive loop of a libquic client in one page.
 * Connects to a quic-server (ALPN "echo"), sends a message on a stream,
 * prints what comes back, and closes.
 *
 *   quic-echo HOST:PORT CA.pem MESSAGE */
#define _POSIX_C_SOURCE 200809L
#include "common.h"

#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

int main(int argc, char **argv) {
    if (argc != 4) {
        fprintf(stderr, "usage: quic-echo HOST:PORT CA.pem MESSAGE\n");
        return 2;
    }
    char host[256], port[16];
    struct sockaddr_storage server;
    socklen_t server_len;
    if (split_host_port(argv[1], host, sizeof host, port, sizeof port) != 0 ||
        resolve(host, port, 0, &server, &server_len) != 0)
        return 2;

    /* 1. A configuration: ALPN, the server's name, the CA to trust. */
    quic_config *config;
    const char *alpn[] = {"echo"};
    quic_config_new(true, &config);
    quic_config_set_alpn_protocols(config, alpn, 1);
    quic_config_set_server_name(config, "localhost");
    quic_result rc = quic_config_load_verify_locations(config, argv[2], NULL, NULL, 0);
    if (rc != QUIC_RESULT_OK) return report("CA", rc, config), 1;

    /* 2. A connection, started towards the server. */
    quic_conn *conn;
    if ((rc = quic_conn_new(config, NULL, &conn)) != QUIC_RESULT_OK) return report("conn", rc, config), 1;
    quic_config_free(config); /* the connection keeps what it needs */
    int fd = socket(server.ss_family, SOCK_DGRAM, 0);
    quic_conn_connect(conn, (struct sockaddr *)&server, server_len, now_ns());

    /* 3. The loop: send what is due, wait for a datagram or the timer,
     *    feed it in, then handle events. */
    const char *message = argv[3];
    size_t echoed = 0;
    int status = 1;
    while (!quic_conn_is_closed(conn)) {
        flush_conn(fd, conn);
        struct pollfd pfd = {.fd = fd, .events = POLLIN};
        if (poll(&pfd, 1, quic_conn_timeout_ms(conn, now_ns())) > 0) {
            uint8_t buf[65536];
            struct sockaddr_storage from;
            socklen_t from_len = sizeof from;
            ssize_t n = recvfrom(fd, buf, sizeof buf, 0, (struct sockaddr *)&from, &from_len);
            if (n > 0) quic_conn_recv(conn, buf, (size_t)n, (struct sockaddr *)&from, from_len, now_ns());
        }
        if (quic_conn_timer(conn) <= now_ns()) quic_conn_handle_timer(conn, now_ns());

        quic_event ev = {.struct_size = sizeof ev};
        while (quic_conn_poll_event(conn, &ev) == QUIC_RESULT_OK) {
            switch (ev.kind) {
            case QUIC_EVENT_TYPE_HANDSHAKE_COMPLETED: {
                /* 4. Connected: send the message on a new stream, with FIN. */
                uint64_t sid;
                if (quic_conn_open_stream(conn, false, &sid) == QUIC_RESULT_OK)
                    quic_conn_stream_send(conn, sid, (const uint8_t *)message, strlen(message),
                                          true);
                break;
            }
            case QUIC_EVENT_TYPE_STREAM_DATA_RECEIVED:
                /* 5. The echo arrives, maybe in pieces. */
                fwrite(ev.data, 1, ev.data_len, stdout);
                echoed += ev.data_len;
                if (ev.end_stream) {
                    putchar('\n');
                    status = echoed == strlen(message) ? 0 : 1;
                    /* 6. Done: close; the loop runs until the close is over. */
                    quic_conn_close(conn, true, 0, 0, (const uint8_t *)"bye", 3, now_ns());
                }
                break;
            case QUIC_EVENT_TYPE_CONNECTION_TERMINATED:
                if (ev.error_code != 0)
                    fprintf(stderr, "quic-echo: connection closed with error 0x%llx\n",
                            (unsigned long long)ev.error_code);
                break;
            default:
                break;
            }
        }
    }
    quic_conn_free(conn);
    close(fd);
    return status;
}
