/* quic-client: downloads URLs over HTTP/0.9 on QUIC (ALPN "hq-interop"),
 * all over one connection, one stream each, concurrently, into an output
 * directory. Exits 0 only when every file arrived complete.
 *
 *   quic-client (--ca PEM | --insecure) --output DIR [--alpn LIST]
 *               [--chacha20] [--keylog FILE] [-v] URL...
 *
 * URLs look like https://127.0.0.1:4433/a.bin or https://[::1]:4433/a.bin.
 * The QUIC Interop Runner's environment is honoured: REQUESTS (URLs),
 * TESTCASE (handshake, transfer, chacha20, multiconnect: one connection per
 * URL; anything else exits 127), SSLKEYLOGFILE. */
#define _POSIX_C_SOURCE 200809L
#include "common.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define MAX_URLS 4096

struct download {
    char path[1024];
    uint64_t stream_id;
    int fd;
    int done;
    uint64_t bytes;
};

static struct download downloads[MAX_URLS];
static int n_downloads;
static const char *output;

/* https://HOST:PORT/PATH -> host, port, path; 0 on success. */
static int parse_url(const char *url, char *host, size_t hcap, char *port, size_t pcap, char *path,
                     size_t pathcap) {
    const char *p = strstr(url, "://");
    if (!p) return -1;
    p += 3;
    const char *slash = strchr(p, '/');
    if (!slash) slash = p + strlen(p);
    char hostport[300];
    size_t hp = (size_t)(slash - p);
    if (hp == 0 || hp >= sizeof hostport) return -1;
    memcpy(hostport, p, hp);
    hostport[hp] = 0;
    if (!strchr(hostport, ':') || (hostport[0] == '[' && !strstr(hostport, "]:"))) {
        /* no port: https's 443 */
        if (hostport[0] == '[') snprintf(hostport + hp, sizeof hostport - hp, ":443");
        else if (strlen(hostport) + 5 < sizeof hostport) strcat(hostport, ":443");
    }
    if (split_host_port(hostport, host, hcap, port, pcap) != 0) return -1;
    snprintf(path, pathcap, "%s", *slash ? slash : "/");
    return 0;
}

static int open_output(struct download *d) {
    const char *name = strrchr(d->path, '/');
    name = name && name[1] ? name + 1 : "index.html";
    char full[2048];
    snprintf(full, sizeof full, "%s/%s", output, name);
    d->fd = open(full, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (d->fd < 0) {
        fprintf(stderr, "quic-client: cannot write %s: %s\n", full, strerror(errno));
        return -1;
    }
    return 0;
}

/* Runs one connection that fetches downloads[first .. first+count). */
static int fetch(quic_config *config, const struct sockaddr *peer, socklen_t peerlen, int first,
                 int count) {
    int fd = socket(peer->sa_family, SOCK_DGRAM, 0);
    if (fd < 0) return perror("socket"), -1;
    quic_conn *conn;
    quic_result rc = quic_conn_new_client(config, &conn);
    if (rc != QUIC_RESULT_OK) {
        report("quic-client", rc, config);
        close(fd);
        return -1;
    }
    uint64_t start = now_ns();
    quic_conn_connect(conn, peer, peerlen, start);
    int next = first, finished = 0, failed = 0, established = 0, closing = 0;
    uint8_t buf[65536];
    while (!quic_conn_is_closed(conn)) {
        if (flush_conn(fd, conn) != 0) failed = 1;
        quic_event ev;
        while (quic_conn_poll_event(conn, &ev) == QUIC_RESULT_OK) {
            if (ev.kind == QUIC_EVENT_TYPE_HANDSHAKE_COMPLETED) {
                established = 1;
                quic_stats st;
                quic_conn_stats(conn, &st);
                logv("handshake done in %.1f ms: version 0x%08x, ALPN %.*s, cipher 0x%04x",
                     (double)(now_ns() - start) / 1e6, st.version, (int)ev.alpn_len,
                     (const char *)ev.alpn, st.cipher_suite);
            } else if (ev.kind == QUIC_EVENT_TYPE_STREAM_DATA_RECEIVED) {
                for (int i = first; i < first + count; i++) {
                    struct download *d = &downloads[i];
                    if (d->stream_id != ev.stream_id || d->done || d->fd < 0) continue;
                    if (ev.data_len && write(d->fd, ev.data, ev.data_len) != (ssize_t)ev.data_len) {
                        perror("quic-client: write");
                        failed = 1;
                    }
                    d->bytes += ev.data_len;
                    if (ev.end_stream) {
                        d->done = 1;
                        finished++;
                        close(d->fd);
                        d->fd = -1;
                        logv("%s: %llu bytes", d->path, (unsigned long long)d->bytes);
                    }
                }
            } else if (ev.kind == QUIC_EVENT_TYPE_STREAM_RESET) {
                for (int i = first; i < first + count; i++)
                    if (downloads[i].stream_id == ev.stream_id && !downloads[i].done) {
                        fprintf(stderr, "quic-client: %s: the server reset the stream (0x%llx)\n",
                                downloads[i].path, (unsigned long long)ev.error_code);
                        failed = 1;
                    }
            } else if (ev.kind == QUIC_EVENT_TYPE_CONNECTION_TERMINATED && !closing) {
                fprintf(stderr, "quic-client: connection closed: error 0x%llx%s%.*s\n",
                        (unsigned long long)ev.error_code, ev.reason_len ? ": " : "",
                        (int)ev.reason_len, (const char *)ev.reason);
                if (ev.error_code >= 0x100 && ev.error_code < 0x200)
                    fprintf(stderr, "quic-client: TLS alert %llu (e.g. 48: unknown CA, 42: bad "
                                    "certificate; see --ca / --insecure)\n",
                            (unsigned long long)(ev.error_code - 0x100));
                failed = 1;
                closing = 1;
            }
        }
        /* Requests go out once the handshake is done, all at once. */
        while (established && !closing && next < first + count) {
            struct download *d = &downloads[next];
            if (quic_conn_next_stream_id(conn, false, &d->stream_id) != QUIC_RESULT_OK) break;
            char req[1100];
            int n = snprintf(req, sizeof req, "GET %s\r\n", d->path);
            rc = quic_conn_stream_send(conn, d->stream_id, (const uint8_t *)req, (size_t)n, true);
            if (rc == QUIC_RESULT_STREAM_LIMIT) break; /* more once streams close */
            if (rc != QUIC_RESULT_OK || open_output(d) != 0) {
                failed = 1;
                break;
            }
            next++;
        }
        if (!closing && (failed || finished == count)) {
            quic_stats st;
            quic_conn_stats(conn, &st);
            double secs = (double)(now_ns() - start) / 1e9;
            logv("%d file(s), %llu bytes received in %.2f s (%.1f Mbit/s), RTT %.1f ms, lost %llu",
                 finished, (unsigned long long)st.bytes_received, secs,
                 (double)st.bytes_received * 8 / secs / 1e6, (double)st.rtt_ns / 1e6,
                 (unsigned long long)st.packets_lost);
            quic_conn_close(conn, true, failed ? 1 : 0, 0, NULL, 0, now_ns());
            closing = 1;
            continue;
        }
        if (flush_conn(fd, conn) != 0) failed = 1;
        uint64_t deadline = quic_conn_timer(conn);
        int ready = wait_readable(fd, deadline);
        while (ready > 0) {
            struct sockaddr_storage from;
            socklen_t fromlen = sizeof from;
            ssize_t n = recvfrom(fd, buf, sizeof buf, MSG_DONTWAIT, (struct sockaddr *)&from, &fromlen);
            if (n < 0) break;
            quic_conn_recv(conn, buf, (size_t)n, (struct sockaddr *)&from, fromlen, now_ns());
        }
        if (quic_conn_timer(conn) <= now_ns()) quic_conn_handle_timer(conn, now_ns());
    }
    quic_conn_free(conn);
    close(fd);
    for (int i = first; i < first + count; i++)
        if (downloads[i].fd >= 0 && !downloads[i].done) close(downloads[i].fd);
    return failed || finished != count ? -1 : 0;
}

static void usage(void) {
    fprintf(stderr, "usage: quic-client (--ca PEM | --insecure) --output DIR [--alpn LIST] "
                    "[--chacha20] [--keylog FILE] [-v] URL...\n");
    exit(2);
}

int main(int argc, char **argv) {
    const char *ca = NULL, *alpn = "hq-interop";
    const char *keylog = getenv("SSLKEYLOGFILE");
    int insecure = 0, chacha = 0;
    const char *urls[MAX_URLS];
    int n_urls = 0;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        int has_value = i + 1 < argc;
        if (!strcmp(a, "-v")) verbose = 1;
        else if (!strcmp(a, "--insecure")) insecure = 1;
        else if (!strcmp(a, "--chacha20")) chacha = 1;
        else if (!strcmp(a, "--ca") && has_value) ca = argv[++i];
        else if (!strcmp(a, "--output") && has_value) output = argv[++i];
        else if (!strcmp(a, "--alpn") && has_value) alpn = argv[++i];
        else if (!strcmp(a, "--keylog") && has_value) keylog = argv[++i];
        else if (a[0] == '-') usage();
        else if (n_urls < MAX_URLS) urls[n_urls++] = a;
    }
    const char *testcase = getenv("TESTCASE");
    int multiconnect = 0;
    if (testcase && *testcase) {
        if (!strcmp(testcase, "multiconnect")) multiconnect = 1;
        else if (!strcmp(testcase, "chacha20")) chacha = 1;
        else if (strcmp(testcase, "handshake") && strcmp(testcase, "transfer")) {
            fprintf(stderr, "quic-client: test case %s is not supported\n", testcase);
            return 127;
        }
    }
    char requests_buf[65536];
    const char *requests = getenv("REQUESTS");
    if (n_urls == 0 && requests) {
        snprintf(requests_buf, sizeof requests_buf, "%s", requests);
        for (char *t = strtok(requests_buf, " "); t && n_urls < MAX_URLS; t = strtok(NULL, " "))
            urls[n_urls++] = t;
    }
    if (!output || n_urls == 0 || (!ca && !insecure)) usage();

    char host[256] = "", port[16] = "";
    for (int i = 0; i < n_urls; i++) {
        char h[256], p[16];
        if (parse_url(urls[i], h, sizeof h, p, sizeof p, downloads[i].path,
                      sizeof downloads[i].path) != 0) {
            fprintf(stderr, "quic-client: cannot parse URL %s (expected https://HOST:PORT/PATH)\n",
                    urls[i]);
            return 2;
        }
        if (i == 0) {
            snprintf(host, sizeof host, "%s", h);
            snprintf(port, sizeof port, "%s", p);
        } else if (strcmp(h, host) || strcmp(p, port)) {
            fprintf(stderr, "quic-client: all URLs must name the same server\n");
            return 2;
        }
        downloads[i].fd = -1;
    }
    n_downloads = n_urls;
    struct stat st;
    if (stat(output, &st) != 0 || !S_ISDIR(st.st_mode)) {
        fprintf(stderr, "quic-client: output directory %s does not exist\n", output);
        return 2;
    }
    struct sockaddr_storage peer;
    socklen_t peerlen;
    if (resolve(host, port, 0, &peer, &peerlen) != 0) return 1;

    quic_config *config;
    quic_result rc = quic_config_new(true, &config);
    if (rc != QUIC_RESULT_OK) return report("config", rc, NULL), 1;
    if (apply_common_options(config, alpn, chacha, keylog) != 0) return 2;
    if ((rc = quic_config_set_server_name(config, host)) != QUIC_RESULT_OK)
        return report("server name", rc, config), 2;
    if (insecure) {
        quic_config_set_verify_peer(config, false);
    } else if ((rc = quic_config_load_verify_locations(config, ca, NULL, NULL, 0)) != QUIC_RESULT_OK) {
        char what[600];
        snprintf(what, sizeof what, "quic-client: cannot load CA %s", ca);
        report(what, rc, config);
        return 1;
    }
    /* Large windows for large files. */
    quic_config_set_max_data(config, 16u << 20);
    quic_config_set_max_stream_data(config, 8u << 20);

    int status = 0;
    if (multiconnect) {
        for (int i = 0; i < n_downloads && status == 0; i++)
            status = fetch(config, (struct sockaddr *)&peer, peerlen, i, 1);
    } else {
        status = fetch(config, (struct sockaddr *)&peer, peerlen, 0, n_downloads);
    }
    quic_config_free(config);
    return status == 0 ? 0 : 1;
}
