/* Shared helpers of the example programs; see common.h. */
#define _GNU_SOURCE
#include "common.h"
#include "udp.h"

#include <errno.h>
#include <netdb.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

int verbose;
const char *log_prefix = "";

uint64_t now_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

int split_host_port(const char *text, char *host, size_t host_cap, char *port, size_t port_cap) {
    const char *colon;
    size_t hlen;
    if (text[0] == '[') {
        const char *end = strchr(text, ']');
        if (!end || end[1] != ':') return -1;
        hlen = (size_t)(end - text - 1);
        text++;
        colon = end + 1;
    } else {
        colon = strrchr(text, ':');
        if (!colon) return -1;
        hlen = (size_t)(colon - text);
    }
    if (hlen == 0 || hlen >= host_cap || strlen(colon + 1) == 0 || strlen(colon + 1) >= port_cap)
        return -1;
    memcpy(host, text, hlen);
    host[hlen] = 0;
    strcpy(port, colon + 1);
    return 0;
}

int resolve(const char *host, const char *port, int passive, struct sockaddr_storage *out,
            socklen_t *out_len) {
    struct addrinfo hints, *res = NULL;
    memset(&hints, 0, sizeof hints);
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_DGRAM;
    hints.ai_flags = passive ? AI_PASSIVE : 0;
    int rc = getaddrinfo(host, port, &hints, &res);
    if (rc != 0 || !res) {
        fprintf(stderr, "cannot resolve %s port %s: %s\n", host, port, gai_strerror(rc));
        return -1;
    }
    memcpy(out, res->ai_addr, res->ai_addrlen);
    *out_len = (socklen_t)res->ai_addrlen;
    freeaddrinfo(res);
    return 0;
}

const char *addr_text(const struct sockaddr *addr, socklen_t len, char *buf, size_t cap) {
    if (quic_sockaddr_format(addr, len, buf, cap) != QUIC_RESULT_OK) snprintf(buf, cap, "?");
    return buf;
}

int wait_readable(int fd, uint64_t deadline) { return wait_readable2(fd, -1, deadline); }

int wait_readable2(int fd, int fd2, uint64_t deadline) {
    struct pollfd p[2] = {{.fd = fd, .events = POLLIN}, {.fd = fd2, .events = POLLIN}};
    return wait_any(p, fd2 < 0 ? 1 : 2, deadline);
}

int wait_any(struct pollfd *fds, int n, uint64_t deadline) {
    /* ppoll with a nanosecond timeout: poll's milliseconds would round a
     * pacing deadline 100 us away up to 1 ms and halve a fast transfer. */
    struct timespec ts, *timeout = NULL;
    if (deadline != UINT64_MAX) {
        uint64_t now = now_ns();
        uint64_t wait = deadline <= now ? 0 : deadline - now;
        if (wait > 60000000000ull) wait = 60000000000ull;
        ts.tv_sec = (time_t)(wait / 1000000000ull);
        ts.tv_nsec = (long)(wait % 1000000000ull);
        timeout = &ts;
    }
    int rc = ppoll(fds, (nfds_t)n, timeout, NULL);
    return rc < 0 ? -1 : rc > 0;
}

/* Asks for 4 MB socket buffers: a server that a burst of Initials reaches
 * faster than it can run handshakes (or a client fetching fast) loses
 * datagrams in the kernel with the default 208 KB, and every loss costs a
 * PTO. The kernel caps the size at net.core.rmem_max / wmem_max. */
void grow_socket_buffers(int fd) {
    int want = 4 << 20;
    setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &want, sizeof want);
    setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &want, sizeof want);
    if (verbose) {
        int got = 0;
        socklen_t len = sizeof got;
        getsockopt(fd, SOL_SOCKET, SO_RCVBUF, &got, &len);
        fprintf(stderr, "socket receive buffer: %d bytes\n", got);
    }
}

int split_alpn(const char *list, char *storage, size_t storage_cap, const char **out, int max) {
    int n = 0;
    snprintf(storage, storage_cap, "%s", list);
    for (char *tok = strtok(storage, ","); tok && n < max; tok = strtok(NULL, ",")) out[n++] = tok;
    return n;
}

/* The next datagram or GSO batch of `conn` into `out`. */
static quic_result conn_next(quic_conn *conn, uint8_t *out, size_t cap, size_t *len,
                             quic_datagram_info *info) {
    return udp_gso() ? quic_conn_send_batch(conn, out, cap, len, info, now_ns())
                     : quic_conn_send_info(conn, out, cap, len, info, now_ns());
}

static int one_socket(const quic_datagram_info *info, void *ctx) {
    (void)info;
    return *(int *)ctx;
}

int flush_conn(int fd, quic_conn *conn) { return flush_with(conn, one_socket, &fd); }

int flush_with(quic_conn *conn, int (*socket_for)(const quic_datagram_info *, void *),
               void *ctx) {
    size_t cap, len;
    quic_datagram_info info = {.struct_size = sizeof info};
    quic_result rc;
    uint8_t *out = udp_buffer(&cap);
    while ((rc = conn_next(conn, out, cap, &len, &info)) == QUIC_RESULT_OK) {
        int fd = socket_for(&info, ctx);
        if (fd < 0) continue; /* no socket for it: as if lost */
        udp_commit(fd, len, &info);
        out = udp_buffer(&cap);
    }
    /* The caller explains a refused connection (errno is kept). */
    if (udp_flush() < 0) return -1;
    return rc == QUIC_RESULT_DONE ? 0 : -1;
}

struct two_sockets {
    int fd, fd2;
    const struct sockaddr_storage *local2;
    socklen_t local2len;
};

static int by_local(const quic_datagram_info *info, void *ctx) {
    const struct two_sockets *t = ctx;
    int second = t->fd2 >= 0 && info->local_len == t->local2len &&
                 memcmp(&info->local, t->local2, t->local2len) == 0;
    return second ? t->fd2 : t->fd;
}

int flush_endpoint(quic_endpoint *ep, int fd, int fd2, const struct sockaddr_storage *local2,
                   socklen_t local2len) {
    struct two_sockets t = {fd, fd2, local2, local2len};
    size_t cap, len;
    quic_datagram_info info = {.struct_size = sizeof info};
    quic_result rc;
    uint8_t *out = udp_buffer(&cap);
    for (;;) {
        rc = udp_gso() ? quic_endpoint_send_batch(ep, out, cap, &len, &info, now_ns())
                       : quic_endpoint_send(ep, out, cap, &len, &info, now_ns());
        if (rc != QUIC_RESULT_OK) break;
        /* A full socket buffer or an unreachable client loses the
         * datagram, as the network would: the connection recovers. */
        udp_commit(by_local(&info, &t), len, &info);
        out = udp_buffer(&cap);
    }
    (void)udp_flush();
    return rc == QUIC_RESULT_DONE ? 0 : -1;
}

void report(const char *what, quic_result rc, const quic_config *config) {
    const char *detail = config ? quic_config_last_error(config) : "";
    fprintf(stderr, "%s: %s%s%s\n", what, quic_result_str(rc), *detail ? ": " : "", detail);
}

void logv(const char *fmt, ...) {
    if (!verbose) return;
    va_list ap;
    va_start(ap, fmt);
    fputs(log_prefix, stderr);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
}

int apply_common_options(quic_config *config, const char *alpn, int chacha, const char *keylog) {
    char alpn_buf[256];
    const char *protos[8];
    int n = split_alpn(alpn, alpn_buf, sizeof alpn_buf, protos, 8);
    quic_result rc = quic_config_set_alpn_protocols(config, protos, (size_t)n);
    if (rc != QUIC_RESULT_OK) return report("--alpn", rc, config), -1;
    if (chacha) {
        const uint16_t suite = 0x1303;
        quic_config_set_cipher_suites(config, &suite, 1);
    }
    if (keylog && *keylog && (rc = quic_config_set_secrets_log_file(config, keylog)) != QUIC_RESULT_OK)
        return report("--keylog", rc, config), -1;
    return 0;
}

int apply_qlog_dir(quic_config *config, const char *dir) {
    if (!dir || !*dir) return 0;
    quic_result rc = quic_config_set_qlog_dir(config, dir);
    if (rc != QUIC_RESULT_OK) return report("--qlog-dir", rc, config), -1;
    return 0;
}

const char *termination_name(quic_termination t) {
    switch (t) {
    case QUIC_TERMINATION_LOCAL_ERROR: return "protocol error found here";
    case QUIC_TERMINATION_LOCAL_CLOSE: return "closed here";
    case QUIC_TERMINATION_PEER_TRANSPORT: return "peer closed (transport)";
    case QUIC_TERMINATION_PEER_APPLICATION: return "peer closed (application)";
    case QUIC_TERMINATION_IDLE_TIMEOUT: return "idle timeout";
    case QUIC_TERMINATION_HANDSHAKE_TIMEOUT: return "handshake timeout";
    case QUIC_TERMINATION_STATELESS_RESET: return "stateless reset";
    case QUIC_TERMINATION_VERSION_NEGOTIATION: return "no common version";
    default: return "unknown cause";
    }
}
