/* quic-server: serves the files of a directory over HTTP/0.9 on QUIC
 * (ALPN "hq-interop"): a client opens a bidirectional stream and sends
 * "GET /path\r\n"; the server answers with the file and FIN, or resets the
 * stream for an unknown path. With ALPN "echo" it sends every stream back,
 * at the pace the client reads the echo. Streams are read in read mode
 * (quic_conn_stream_read when QUIC_EVENT_TYPE_STREAM_READABLE says so): an
 * echo stream is read only while less than ECHO_LEVEL of its echo waits
 * unacknowledged, and QUIC_EVENT_TYPE_STREAM_WRITABLE says when to go on,
 * so a client that sends but reads slowly makes its own sending wait, and
 * the server holds at most a window plus ECHO_LEVEL per stream.
 *
 * One UDP socket serves many clients through a quic_endpoint: it routes
 * each datagram to its connection, starts connections for new clients,
 * answers unknown versions, sends Retry when asked, and resets what it
 * cannot route; this program only answers requests.
 *
 *   quic-server --listen HOST:PORT --cert PEM --key PEM --root DIR
 *               [--alpn LIST] [--chacha20] [--v2] [--retry] [--zero-rtt]
 *               [--datagram-echo] [--preferred-address HOST:PORT] [--workers N]
 *               [--fleet-id HEX] [--keylog FILE] [--qlog-dir DIR] [-v]
 *
 * --preferred-address HOST:PORT also listens there and offers it to every
 * client as the server's preferred address (RFC 9000 §9.6): a client
 * validates it after the handshake and moves its connection there; this
 * server then answers from that address (quic_conn_send_info says which
 * socket each datagram leaves from).
 *
 * --v2 prefers QUIC version 2: a client that starts in version 1 and
 * offers 2 is switched to it (RFC 9368 compatible negotiation).
 *
 * --retry makes every new client prove its address with a Retry first,
 * unless it presents a token this server gave it earlier (NEW_TOKEN):
 * the endpoint mints and checks the tokens (QUIC_RETRY_POLICY_ALWAYS).
 *
 * --zero-rtt accepts early data: a client resuming a session may send its
 * requests in 0-RTT, and they are answered at once, before the handshake
 * completes. Early data can be replayed by an attacker; libquic takes each
 * ticket's early data once, and HTTP/0.9 GETs are safe to repeat.
 *
 * --datagram-echo offers DATAGRAM frames (RFC 9221) and sends every one a
 * client sends straight back on the same connection.
 *
 * --workers N serves with N processes on one port (SO_REUSEPORT); a BPF
 * program steers each datagram to the worker named in its QUIC-LB
 * connection ID, so clients stay with their worker when they move (see
 * workers.h). --fleet-id HEX puts the fleet's server ID before the
 * worker's byte (also with one process). Not with --zero-rtt or a
 * preferred address.
 *
 * Port 0 picks a free port; the server prints "listening on ADDR". The QUIC
 * Interop Runner's environment (ROLE, TESTCASE, SSLKEYLOGFILE, QLOGDIR) is
 * honoured (--qlog-dir / QLOGDIR: a qlog trace per connection,
 * <odcid>_server.sqlog);
 * an unsupported TESTCASE exits with 127. */
#define _POSIX_C_SOURCE 200809L
#include "common.h"
#include "udp.h"
#include "workers.h"

#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define MAX_CONNS 4096
/* The fleet's part of a QUIC-LB server ID (--fleet-id). */
#define MAX_FLEET_ID 10
#define MAX_REQUESTS 64
#define MAX_REQUEST_LINE 1024
/* Echo not yet acknowledged on one stream above which its reading waits
 * (the writable level). */
#define ECHO_LEVEL (256u * 1024)

struct request {
    uint64_t stream_id;
    char line[MAX_REQUEST_LINE];
    size_t len;
    int used;
    /* Answered, and waiting for the request's FIN (which may come later,
     * in a frame of its own): further bytes are ignored. */
    int answered;
};

/* A file being sent on a stream: read in pieces as the stream drains, so
 * a large file is never held whole (quic_conn_stream_send copies). */
struct sending {
    uint64_t stream_id;
    int fd; /* -1: slot free */
    uint64_t left;
};

/* Bytes a file's stream is topped up to; WRITABLE (below ECHO_LEVEL)
 * asks for more. */
#define FILE_BUDGET (4u << 20)

/* What the server keeps per connection: the endpoint gives it back with
 * every event of the connection (quic_endpoint_set_context), and it is
 * freed on QUIC_ENDPOINT_EVENT_TYPE_CONNECTION_DONE. */
struct client {
    /* Borrowed from the endpoint for the event being handled. */
    quic_conn *conn;
    int echo;
    struct request requests[MAX_REQUESTS];
    struct sending sends[MAX_REQUESTS];
    uint64_t started;
    char peer[64];
    /* Every live client's state, so that what is left at exit is freed. */
    struct client *prev, *next;
};

static struct client *live;
static volatile sig_atomic_t stopping;
/* --retry: new clients without a valid token get a Retry. */
static int retry_mode;
/* --zero-rtt: early data accepted. */
static int zero_rtt;
/* --datagram-echo: DATAGRAM frames offered and echoed. */
static int datagram_echo;
static const char *root;

static void on_signal(int sig) {
    (void)sig;
    stopping = 1;
}

/* SIGINT and SIGTERM set `stopping` (without SA_RESTART: a wait they
 * interrupt returns). */
static void stop_on_signals(void) {
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
}

/* Reads a whole file under `root`; NULL for a path that escapes it or
 * cannot be read. */
static uint8_t *read_file(const char *path, size_t *out_len) {
    if (strstr(path, "..") || path[0] == 0) return NULL;
    while (*path == '/') path++;
    char full[4096];
    snprintf(full, sizeof full, "%s/%s", root, path);
    int fd = open(full, O_RDONLY);
    if (fd < 0) return NULL;
    struct stat st;
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        close(fd);
        return NULL;
    }
    uint8_t *data = malloc((size_t)st.st_size + 1);
    size_t got = 0;
    while (data && got < (size_t)st.st_size) {
        ssize_t n = read(fd, data + got, (size_t)st.st_size - got);
        if (n <= 0) break;
        got += (size_t)n;
    }
    close(fd);
    if (!data || got != (size_t)st.st_size) {
        free(data);
        return NULL;
    }
    *out_len = got;
    return data;
}

static struct request *request_for(struct client *c, uint64_t sid) {
    for (int i = 0; i < MAX_REQUESTS; i++)
        if (c->requests[i].used && c->requests[i].stream_id == sid) return &c->requests[i];
    /* A free slot, else one already answered (its FIN never came). */
    struct request *slot = NULL;
    for (int i = 0; i < MAX_REQUESTS && !slot; i++)
        if (!c->requests[i].used) slot = &c->requests[i];
    for (int i = 0; i < MAX_REQUESTS && !slot; i++)
        if (c->requests[i].answered) slot = &c->requests[i];
    if (!slot) return NULL;
    memset(slot, 0, sizeof *slot);
    slot->used = 1;
    slot->stream_id = sid;
    return slot;
}

/* Tops a file's stream up to FILE_BUDGET bytes buffered; the last piece
 * carries the FIN and frees the slot. */
static void feed(struct client *c, struct sending *s) {
    static uint8_t buf[256 * 1024];
    while (s->fd >= 0) {
        uint64_t buffered = 0;
        if (quic_conn_stream_send_buffered(c->conn, s->stream_id, &buffered) != QUIC_RESULT_OK) {
            close(s->fd); /* reset, or the connection is gone */
            s->fd = -1;
            return;
        }
        if (buffered >= FILE_BUDGET) return; /* WRITABLE calls again */
        size_t want = s->left < sizeof buf ? (size_t)s->left : sizeof buf;
        ssize_t n = want ? read(s->fd, buf, want) : 0;
        if (n < 0 || (n == 0 && want)) {
            quic_conn_stream_reset(c->conn, s->stream_id, 0x10);
            close(s->fd);
            s->fd = -1;
            return;
        }
        s->left -= (uint64_t)n;
        quic_result rc = quic_conn_stream_send(c->conn, s->stream_id, buf, (size_t)n, s->left == 0);
        if (rc != QUIC_RESULT_OK || s->left == 0) {
            if (rc != QUIC_RESULT_OK) report("stream_send", rc, NULL);
            close(s->fd);
            s->fd = -1;
        }
    }
}

/* Opens a file under `root` to send; -1 for a path that escapes it or
 * cannot be read. */
static int open_file(const char *path, uint64_t *size) {
    if (strstr(path, "..") || path[0] == 0) return -1;
    while (*path == '/') path++;
    char full[4096];
    snprintf(full, sizeof full, "%s/%s", root, path);
    int fd = open(full, O_RDONLY);
    struct stat st;
    if (fd >= 0 && (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode))) {
        close(fd);
        fd = -1;
    }
    if (fd >= 0) *size = (uint64_t)st.st_size;
    return fd;
}

static void answer(struct client *c, struct request *r) {
    char path[MAX_REQUEST_LINE];
    r->line[r->len] = 0;
    if (sscanf(r->line, "GET %1000s", path) != 1) {
        quic_conn_stream_reset(c->conn, r->stream_id, 1);
        r->answered = 1;
        return;
    }
    /* A free sending slot streams the file; without one (very many
     * requests at once) it goes whole. */
    struct sending *s = NULL;
    for (int i = 0; i < MAX_REQUESTS && !s; i++)
        if (c->sends[i].fd < 0) s = &c->sends[i];
    uint64_t size = 0;
    int fd = s ? open_file(path, &size) : -1;
    if (fd >= 0) {
        *s = (struct sending){.stream_id = r->stream_id, .fd = fd, .left = size};
        logv("%s: %s (%llu bytes)%s", c->peer, path, (unsigned long long)size,
             quic_conn_is_established(c->conn) ? ""
                                                : ", answered before the handshake completed");
        feed(c, s);
        r->answered = 1;
        return;
    }
    size_t len = 0;
    uint8_t *data = s ? NULL : read_file(path, &len);
    if (!data) {
        logv("%s: %s not found", c->peer, path);
        quic_conn_stream_reset(c->conn, r->stream_id, 0x10);
    } else {
        quic_result rc = quic_conn_stream_send(c->conn, r->stream_id, data, len, true);
        if (rc != QUIC_RESULT_OK) report("stream_send", rc, NULL);
        logv("%s: %s (%zu bytes)%s", c->peer, path, len,
             quic_conn_is_established(c->conn) ? ""
                                                : ", answered before the handshake completed");
        free(data);
    }
    r->answered = 1;
}

/* Echoes what a stream has to read, while less than ECHO_LEVEL of its echo
 * waits: the reading pattern of read mode. Called on READABLE, and on
 * WRITABLE when the echo drained below the level. */
static void echo(struct client *c, uint64_t sid) {
    uint8_t buf[16384];
    for (;;) {
        quic_stream_send_info info = {.struct_size = sizeof info};
        uint64_t waiting = 0;
        if (quic_conn_stream_send_info(c->conn, sid, &info) == QUIC_RESULT_OK)
            waiting = info.unsent + info.unacked;
        if (waiting >= ECHO_LEVEL) {
            /* WRITABLE will call again once the client read some. */
            logv("%s: stream %llu: echo waits, %llu bytes unacknowledged", c->peer,
                 (unsigned long long)sid, (unsigned long long)waiting);
            return;
        }
        size_t cap = ECHO_LEVEL - waiting < sizeof buf ? ECHO_LEVEL - waiting : sizeof buf;
        size_t n;
        bool fin;
        if (quic_conn_stream_read(c->conn, sid, buf, cap, &n, &fin) != QUIC_RESULT_OK)
            return; /* DONE: READABLE will call again; or the stream is over */
        if (quic_conn_stream_send(c->conn, sid, buf, n, fin) != QUIC_RESULT_OK) return;
        if (fin) return;
    }
}

/* Reads an HTTP/0.9 request and answers it; bytes after the request line
 * are read and ignored until the stream's FIN. */
static void on_request_readable(struct client *c, uint64_t sid) {
    struct request *r = request_for(c, sid);
    if (!r) {
        quic_conn_stream_stop(c->conn, sid, 2);
        quic_conn_stream_reset(c->conn, sid, 2);
        return;
    }
    for (;;) {
        char skip[512];
        char *into = r->answered ? skip : r->line + r->len;
        size_t cap = r->answered ? sizeof skip : sizeof r->line - 1 - r->len;
        size_t n = 0;
        bool fin = false;
        quic_result rc = quic_conn_stream_read(c->conn, sid, (uint8_t *)into, cap, &n, &fin);
        if (rc != QUIC_RESULT_OK) {
            if (rc != QUIC_RESULT_DONE) r->used = 0; /* reset, or over */
            return;
        }
        if (!r->answered) {
            r->len += n;
            /* A request may come in any number of frames; an empty one
             * that only ends a stream has nothing to answer. */
            int complete = memchr(r->line, '\n', r->len) || r->len == sizeof r->line - 1 ||
                           (fin && r->len > 0);
            if (complete) answer(c, r);
        }
        if (fin) {
            r->used = 0;
            return;
        }
    }
}

/* One event of a connection; `c->conn` is borrowed for it. */
static void on_event(struct client *c, const quic_event *e) {
    const quic_event ev = *e;
    {
        switch (ev.kind) {
        case QUIC_EVENT_TYPE_HANDSHAKE_COMPLETED: {
            c->echo = ev.alpn_len == 4 && memcmp(ev.alpn, "echo", 4) == 0;
            quic_stats st = {.struct_size = sizeof st};
            quic_conn_stats(c->conn, &st);
            logv("%s: handshake done in %.1f ms: version 0x%08x, ALPN %.*s, cipher 0x%04x%s%s", c->peer,
                 (double)(now_ns() - c->started) / 1e6, st.version, (int)ev.alpn_len,
                 (const char *)ev.alpn, st.cipher_suite,
                 ev.session_resumed ? ", session resumed" : "",
                 ev.early_data_accepted ? ", 0-RTT accepted" : "");
            break;
        }
        case QUIC_EVENT_TYPE_STREAM_READABLE:
            if (c->echo) echo(c, ev.stream_id);
            else on_request_readable(c, ev.stream_id);
            break;
        case QUIC_EVENT_TYPE_STREAM_WRITABLE:
            if (c->echo) {
                logv("%s: stream %llu: echo drained, reading again", c->peer,
                     (unsigned long long)ev.stream_id);
                echo(c, ev.stream_id);
                break;
            }
            for (int i = 0; i < MAX_REQUESTS; i++)
                if (c->sends[i].fd >= 0 && c->sends[i].stream_id == ev.stream_id)
                    feed(c, &c->sends[i]);
            break;
        case QUIC_EVENT_TYPE_DATAGRAM_FRAME_RECEIVED:
            /* The event's data stays valid until the next poll; the send
             * copies it. A full queue drops the echo, as a lossy path
             * would: DATAGRAM is unreliable, and the client sends again. */
            if (datagram_echo) quic_conn_send_datagram(c->conn, ev.data, ev.data_len);
            break;
        case QUIC_EVENT_TYPE_PEER_MIGRATED:
        case QUIC_EVENT_TYPE_PATH_VALIDATED: {
            /* The client moved (NAT rebinding, migration, or to the
             * preferred address): libquic already sends to the new address,
             * from the local address quic_conn_send_info names; only the
             * log changes. */
            struct sockaddr_storage a;
            socklen_t alen;
            char now_at[64], here[80] = "";
            if (ev.local_addr_len) {
                char l[64];
                addr_text((struct sockaddr *)&ev.local_addr, ev.local_addr_len, l, sizeof l);
                snprintf(here, sizeof here, " at %s", l);
            }
            if (quic_conn_peer_address(c->conn, &a, &alen) == QUIC_RESULT_OK) {
                addr_text((struct sockaddr *)&a, alen, now_at, sizeof now_at);
                logv("%s: %s %s%s", c->peer,
                     ev.kind == QUIC_EVENT_TYPE_PATH_VALIDATED ? "address validated:"
                                                               : "client moved to",
                     now_at, here);
                snprintf(c->peer, sizeof c->peer, "%s", now_at);
            }
            break;
        }
        case QUIC_EVENT_TYPE_CONNECTION_TERMINATED: {
            quic_stats st = {.struct_size = sizeof st};
            quic_conn_stats(c->conn, &st);
            logv("%s: %s, code 0x%llx (%.*s); sent %llu B, received %llu B, RTT %.1f ms, lost %llu",
                 c->peer, termination_name(ev.termination), (unsigned long long)ev.error_code,
                 (int)ev.reason_len,
                 (const char *)ev.reason, (unsigned long long)st.bytes_sent,
                 (unsigned long long)st.bytes_received, (double)st.rtt_ns / 1e6,
                 (unsigned long long)st.packets_lost);
            static const char *const ecn_states[] = {"off", "testing", "unknown", "capable",
                                                     "failed"};
            if (st.ecn_state <= 4)
                logv("%s: ecn: path %s; received %llu ECT(0), %llu CE; pmtu %llu bytes",
                     c->peer, ecn_states[st.ecn_state],
                     (unsigned long long)st.ecn_received_ect0,
                     (unsigned long long)st.ecn_received_ce, (unsigned long long)st.pmtu);
            break;
        }
        default:
            break;
        }
    }
}

/* A client started a connection: its state, with the address proof the
 * endpoint reports. */
static void on_new_connection(quic_endpoint *ep, const quic_endpoint_event *e) {
    struct client *c = calloc(1, sizeof *c);
    quic_conn *conn;
    if (quic_endpoint_conn(ep, e->connection, &conn) != QUIC_RESULT_OK) {
        free(c);
        return;
    }
    if (!c) {
        /* No memory: turn the client away rather than serve it blind. */
        quic_conn_close(conn, false, 0x2 /* CONNECTION_REFUSED */, 0, NULL, 0, now_ns());
        return;
    }
    c->started = now_ns();
    for (int i = 0; i < MAX_REQUESTS; i++) c->sends[i].fd = -1;
    c->next = live;
    if (live) live->prev = c;
    live = c;
    struct sockaddr_storage a;
    socklen_t alen;
    if (quic_conn_peer_address(conn, &a, &alen) == QUIC_RESULT_OK)
        addr_text((struct sockaddr *)&a, alen, c->peer, sizeof c->peer);
    quic_endpoint_set_context(ep, e->connection, c);
    logv("%s: new connection%s", c->peer,
         e->address_proof == QUIC_TOKEN_KIND_RETRY       ? " (address validated by Retry)"
         : e->address_proof == QUIC_TOKEN_KIND_NEW_TOKEN ? " (address validated by a token)"
                                                         : "");
}

/* Everything the endpoint has to report, handled in order. */
static void handle_events(quic_endpoint *ep) {
    quic_endpoint_event e = {.struct_size = sizeof e};
    quic_event ev = {.struct_size = sizeof ev};
    while (quic_endpoint_poll_event(ep, &e, &ev) == QUIC_RESULT_OK) {
        struct client *c = e.context;
        switch (e.kind) {
        case QUIC_ENDPOINT_EVENT_TYPE_NEW_CONNECTION:
            on_new_connection(ep, &e);
            break;
        case QUIC_ENDPOINT_EVENT_TYPE_CONNECTION:
            if (c && quic_endpoint_conn(ep, e.connection, &c->conn) == QUIC_RESULT_OK)
                on_event(c, &ev);
            break;
        case QUIC_ENDPOINT_EVENT_TYPE_CONNECTION_DONE:
            if (!c) break;
            for (int i = 0; i < MAX_REQUESTS; i++)
                if (c->sends[i].fd >= 0) close(c->sends[i].fd);
            if (c->prev) c->prev->next = c->next;
            else live = c->next;
            if (c->next) c->next->prev = c->prev;
            free(c);
            break;
        }
    }
}

/* Frees what main made so far (fd -1: no socket yet) and returns `code`. */
static int give_up(quic_config *config, int fd, int code) {
    if (fd >= 0) close(fd);
    quic_config_free(config);
    return code;
}

/* One received buffer (a datagram or a GRO run) into the endpoint. Its
 * events are handled at once, as a 0-RTT request must be answered before
 * a Finished read behind it completes the handshake (on loopback both
 * are often queued). */
static void feed_endpoint(const uint8_t *data, size_t len, quic_datagram_info *info, void *ctx) {
    quic_endpoint *ep = ctx;
    quic_endpoint_recv(ep, data, len, info, now_ns());
    handle_events(ep);
}

/* Serves on `fd` (and the preferred address's `fd2`, or -1) until a
 * signal; frees the config and closes the sockets. `reset_key`: the
 * fleet's stateless reset key, or NULL for a random one. */
static int serve(quic_config *config, int fd, int fd2, const struct sockaddr_storage *addr_in,
                 socklen_t addrlen, const struct sockaddr_storage *pref_in, socklen_t preflen,
                 const uint8_t *reset_key) {
    struct sockaddr_storage addr = *addr_in, pref = *pref_in;
    /* The endpoint: --retry sends every new client without a token a
     * Retry; otherwise the default (a Retry only while 100 handshakes are
     * half-open). Loopback tests start many clients from one address, so
     * the per-address Initial rate is raised from its default of 64/s. */
    quic_endpoint_params ep_params = {
        .struct_size = sizeof ep_params,
        .max_connections = MAX_CONNS,
        .retry_policy = retry_mode ? QUIC_RETRY_POLICY_ALWAYS : QUIC_RETRY_POLICY_DEFAULT,
        .initials_per_address_per_second = 10000,
        .reset_key = reset_key,
    };
    quic_result rc;
    quic_endpoint *ep;
    if ((rc = quic_endpoint_new(config, &ep_params, &ep)) != QUIC_RESULT_OK) {
        report("quic-server: endpoint", rc, config);
        if (fd2 >= 0) close(fd2);
        return give_up(config, fd, 1);
    }

    while (!stopping) {
        /* Wake up at least once a second, so a signal that lands just
         * before poll() still stops the server. */
        uint64_t deadline = quic_endpoint_timeout(ep);
        uint64_t tick = now_ns() + 1000000000ull;
        int ready = wait_readable2(fd, fd2, deadline < tick ? deadline : tick);
        if (ready < 0) continue;
        /* Each socket in turn; the endpoint is told which one a datagram
         * came in on, so its connection answers from there. Each read (up
         * to 16 buffers, each a GRO run of datagrams) is followed by what
         * it calls for, so ACKs free the window without delay. */
        for (int s = 0; ready > 0 && s < 2; s++) {
            int sock = s == 0 ? fd : fd2;
            if (sock < 0) continue;
            while (udp_recv_all(sock, s == 0 ? &addr : &pref, s == 0 ? addrlen : preflen,
                                1, feed_endpoint, ep) > 0)
                flush_endpoint(ep, fd, fd2, &pref, preflen);
        }
        uint64_t now = now_ns();
        if (quic_endpoint_timeout(ep) <= now) quic_endpoint_handle_timer(ep, now);
        handle_events(ep);
        flush_endpoint(ep, fd, fd2, &pref, preflen);
    }
    udp_report();
    if (verbose) {
        quic_endpoint_stats_info st = {.struct_size = sizeof st};
        if (quic_endpoint_stats(ep, &st) == QUIC_RESULT_OK)
            fprintf(stderr,
                    "%squic-server: %llu connections accepted, %llu open; %llu retries, "
                    "%llu version negotiations; refused: %llu at the connection limit, "
                    "%llu at the half-open limit, %llu Initials over the rate; "
                    "%llu stateless resets (%llu rate-limited), %llu unroutable, "
                    "%llu stateless answers dropped\n",
                    log_prefix, (unsigned long long)st.accepted,
                    (unsigned long long)st.connections,
                    (unsigned long long)st.retries,
                    (unsigned long long)st.version_negotiations,
                    (unsigned long long)st.refused_connection_limit,
                    (unsigned long long)st.refused_half_open_limit,
                    (unsigned long long)st.refused_initial_rate,
                    (unsigned long long)st.stateless_resets,
                    (unsigned long long)st.resets_rate_limited,
                    (unsigned long long)st.unroutable, (unsigned long long)st.stateless_dropped);
    }
    /* Frees every connection (their clients time out) and what this
     * program kept for each. */
    quic_endpoint_free(ep);
    while (live) {
        struct client *next = live->next;
        for (int i = 0; i < MAX_REQUESTS; i++)
            if (live->sends[i].fd >= 0) close(live->sends[i].fd);
        free(live);
        live = next;
    }
    quic_config_free(config);
    close(fd);
    if (fd2 >= 0) close(fd2);
    return 0;
}


static void usage(void) {
    fprintf(stderr, "usage: quic-server --listen HOST:PORT --cert PEM --key PEM --root DIR "
                    "[--alpn LIST] [--chacha20] [--v2] [--retry] [--zero-rtt] [--datagram-echo] "
                    "[--preferred-address HOST:PORT] [--workers N] [--fleet-id HEX] "
                    "[--keylog FILE] [--qlog-dir DIR] [--no-gso] [-v]\n");
    exit(2);
}

/* The QUIC-LB configuration of worker `index`: the fleet's part of the
 * server ID, then the worker's byte, then an 8-byte random nonce. */
static quic_result set_worker_ids(quic_config *config, const uint8_t *fleet_id,
                                  size_t fleet_id_len, int index) {
    uint8_t sid[16];
    memcpy(sid, fleet_id, fleet_id_len);
    sid[fleet_id_len] = (uint8_t)index;
    quic_lb_config lb = {.struct_size = sizeof lb, .config_rotation = 0, .server_id = sid,
                         .server_id_len = fleet_id_len + 1, .nonce_len = 8};
    return quic_config_set_quic_lb(config, &lb);
}

/* --workers N: N processes serve one port, each with its own endpoint and
 * socket in one SO_REUSEPORT group, and the kernel steers each datagram
 * to the worker whose index its connection ID carries (workers.c), so a
 * client that changes address stays with its worker. The workers share
 * the keys that must agree across them: session tickets (a client
 * resumes on any worker), address tokens and stateless resets. The
 * parent forwards a signal to every worker and exits 0 when all did. */
static int run_workers(quic_config *config, const struct sockaddr_storage *addr,
                       socklen_t addrlen, int n, const uint8_t *fleet_id, size_t fleet_id_len) {
    int fds[MAX_WORKERS];
    if (open_worker_sockets(addr, addrlen, n, fds) != 0) return give_up(config, -1, 1);
    for (int i = 0; i < n; i++) {
        grow_socket_buffers(fds[i]);
        udp_configure(fds[i], addr->ss_family);
    }
    uint8_t ticket_key[80], token_key[32], reset_key[32];
    int ok = steer_by_connection_id(fds[0], n, fleet_id_len) == 0 &&
             getrandom(ticket_key, sizeof ticket_key, 0) == (ssize_t)sizeof ticket_key &&
             getrandom(token_key, sizeof token_key, 0) == (ssize_t)sizeof token_key &&
             getrandom(reset_key, sizeof reset_key, 0) == (ssize_t)sizeof reset_key &&
             quic_config_set_ticket_keys(config, ticket_key, 1) == QUIC_RESULT_OK &&
             quic_config_set_token_key(config, token_key) == QUIC_RESULT_OK;
    if (!ok) {
        for (int i = 0; i < n; i++) close(fds[i]);
        return give_up(config, -1, 1);
    }
    struct sockaddr_storage bound;
    socklen_t boundlen = sizeof bound;
    getsockname(fds[0], (struct sockaddr *)&bound, &boundlen);
    char text[64];
    printf("listening on %s\n", addr_text((struct sockaddr *)&bound, boundlen, text, sizeof text));
    printf("%d workers\n", n);
    fflush(stdout);
    fflush(stderr);

    stop_on_signals();
    pid_t pids[MAX_WORKERS];
    int started = 0, failed = 0;
    for (; started < n; started++) {
        pid_t pid = fork();
        if (pid < 0) {
            perror("quic-server: fork");
            failed = 1;
            stopping = 1;
            break;
        }
        if (pid == 0) {
            for (int j = 0; j < n; j++)
                if (j != started) close(fds[j]);
            static char prefix[32];
            snprintf(prefix, sizeof prefix, "worker %d: ", started);
            log_prefix = prefix;
            quic_result rc = set_worker_ids(config, fleet_id, fleet_id_len, started);
            if (rc != QUIC_RESULT_OK) {
                report("quic-server: --fleet-id", rc, config);
                exit(give_up(config, fds[started], 2));
            }
            struct sockaddr_storage none = {0};
            exit(serve(config, fds[started], -1, &bound, boundlen, &none, 0, reset_key));
        }
        pids[started] = pid;
    }
    for (int i = 0; i < n; i++) close(fds[i]);
    quic_config_free(config);
    int alive = started, signalled = 0;
    while (alive > 0) {
        int status;
        pid_t pid = waitpid(-1, &status, WNOHANG);
        if (pid > 0) {
            alive--;
            if (!stopping || !WIFEXITED(status) || WEXITSTATUS(status) != 0) {
                /* A worker that fails or ends by itself takes the rest down:
                 * its clients would otherwise be steered nowhere. */
                fprintf(stderr, "quic-server: worker process %d ended (status %d)\n", (int)pid,
                        status);
                failed = 1;
                stopping = 1;
            }
            continue;
        }
        if (pid < 0 && errno != EINTR) break;
        if (stopping && !signalled) {
            for (int i = 0; i < started; i++) kill(pids[i], SIGTERM);
            signalled = 1;
        }
        struct timespec pause = {0, 50 * 1000000L};
        nanosleep(&pause, NULL);
    }
    return failed;
}

int main(int argc, char **argv) {
    const char *listen = NULL, *cert = NULL, *key = NULL, *alpn = "hq-interop,echo";
    const char *keylog = getenv("SSLKEYLOGFILE");
    const char *qlog_dir = getenv("QLOGDIR");
    const char *preferred = NULL;
    int migrate_case = 0;
    int chacha = 0, v2 = 0;
    int workers = 1;
    uint8_t fleet_id[MAX_FLEET_ID];
    size_t fleet_id_len = 0;
    int fleet_ids = 0;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!strcmp(a, "-v")) verbose = 1;
        else if (!strcmp(a, "--no-gso")) udp_no_batching = 1;
        else if (!strcmp(a, "--chacha20")) chacha = 1;
        else if (!strcmp(a, "--retry")) retry_mode = 1;
        else if (!strcmp(a, "--zero-rtt")) zero_rtt = 1;
        else if (!strcmp(a, "--datagram-echo")) datagram_echo = 1;
        else if (!strcmp(a, "--v2")) v2 = 1;
        else if (!strcmp(a, "--listen") && v) listen = argv[++i];
        else if (!strcmp(a, "--cert") && v) cert = argv[++i];
        else if (!strcmp(a, "--key") && v) key = argv[++i];
        else if (!strcmp(a, "--root") && v) root = argv[++i];
        else if (!strcmp(a, "--alpn") && v) alpn = argv[++i];
        else if (!strcmp(a, "--keylog") && v) keylog = argv[++i];
        else if (!strcmp(a, "--qlog-dir") && v) qlog_dir = argv[++i];
        else if (!strcmp(a, "--preferred-address") && v) preferred = argv[++i];
        else if (!strcmp(a, "--workers") && v) {
            workers = atoi(argv[++i]);
            if (workers < 1 || workers > MAX_WORKERS) usage();
        } else if (!strcmp(a, "--fleet-id") && v) {
            const char *hex = argv[++i];
            size_t len = strlen(hex);
            /* 1 + fleet ID + worker byte + 8-byte nonce: 20 at most. */
            if (len % 2 || len / 2 > MAX_FLEET_ID) usage();
            for (size_t j = 0; j < len / 2; j++) {
                unsigned byte;
                if (sscanf(hex + 2 * j, "%2x", &byte) != 1) usage();
                fleet_id[j] = (uint8_t)byte;
            }
            fleet_id_len = len / 2;
            fleet_ids = 1;
        } else usage();
    }
    const char *testcase = getenv("TESTCASE");
    if (testcase && *testcase) {
        /* The interop runner's cases this server supports: those that are
         * ordinary handshakes and transfers at the QUIC level (the client
         * drives chacha20 and keyupdate; libquic follows key updates), and
         * v2, and a client's NAT rebinding (libquic validates the new
         * address and follows it), resumption (the server always issues
         * session tickets), retry (a Retry with a libquic token for every
         * new client), zerortt (early data accepted), connectionmigration
         * (a preferred address: --preferred-address, or the --listen
         * host on the next port), ecn (every socket reads and writes ECN
         * marks; libquic validates the path, udp.c). */
        static const char *const supported[] = {
            "handshake",    "transfer",      "multiconnect", "chacha20",
            "keyupdate",    "multiplexing",  "ipv6",         "longrtt",
            "blackhole",    "handshakeloss", "transferloss", "handshakecorruption",
            "transfercorruption", "amplificationlimit", "goodput", "crosstraffic",
            "v2",           "rebind-port",   "rebind-addr",  "resumption", "retry",
            "zerortt",      "connectionmigration", "ecn", NULL};
        int known = 0;
        for (int i = 0; supported[i]; i++) known |= !strcmp(testcase, supported[i]);
        if (!known) {
            fprintf(stderr, "quic-server: test case %s is not supported\n", testcase);
            return 127;
        }
        if (!strcmp(testcase, "v2")) v2 = 1;
        if (!strcmp(testcase, "retry")) retry_mode = 1;
        if (!strcmp(testcase, "zerortt")) zero_rtt = 1;
        if (!strcmp(testcase, "connectionmigration") && !preferred) migrate_case = 1;
    }
    if (!listen || !cert || !key || !root) usage();

    quic_config *config;
    quic_result rc = quic_config_new(false, &config);
    if (rc != QUIC_RESULT_OK) return report("config", rc, NULL), 1;
    /* Every failure from here frees the config it made. */
    if (apply_common_options(config, alpn, chacha, keylog) != 0 ||
        apply_qlog_dir(config, qlog_dir) != 0)
        return give_up(config, -1, 2);
    /* Clients may resume: tickets sealed with this process's random keys
     * (a fleet would share keys with quic_config_set_ticket_keys). */
    quic_config_set_session_tickets(config, true);
    /* Streams are read at the server's pace, and echo waits are signalled:
     * see echo(). */
    quic_config_set_receive_mode(config, QUIC_RECEIVE_MODE_READ);
    quic_config_set_writable_level(config, ECHO_LEVEL);
    if (zero_rtt) quic_config_set_early_data(config, true);
    if (datagram_echo) quic_config_set_max_datagram_frame_size(config, 65535);
    if (v2) {
        const uint32_t versions[] = {0x6b3343cf, 1};
        quic_config_set_supported_versions(config, versions, 2);
    }
    if ((rc = quic_config_load_cert_chain(config, cert, key, NULL)) != QUIC_RESULT_OK) {
        char what[600];
        snprintf(what, sizeof what, "cannot load certificate %s / key %s", cert, key);
        report(what, rc, config);
        return give_up(config, -1, 1);
    }
    char host[256], port[16];
    struct sockaddr_storage addr;
    socklen_t addrlen;
    if (split_host_port(listen, host, sizeof host, port, sizeof port) != 0) {
        fprintf(stderr, "quic-server: --listen wants HOST:PORT, got %s\n", listen);
        return give_up(config, -1, 2);
    }
    if (resolve(host, port, 1, &addr, &addrlen) != 0) return give_up(config, -1, 1);
    if (workers > 1) {
        /* 0-RTT's replay register and the preferred address's socket are
         * per process: neither is shared by workers yet. */
        if (zero_rtt || preferred || migrate_case) {
            fprintf(stderr, "quic-server: --workers does not combine with --zero-rtt or a "
                            "preferred address (each worker would keep its own replay "
                            "register and socket)\n");
            return give_up(config, -1, 2);
        }
        return run_workers(config, &addr, addrlen, workers, fleet_id, fleet_id_len);
    }
    if (fleet_ids && (rc = set_worker_ids(config, fleet_id, fleet_id_len, 0)) != QUIC_RESULT_OK) {
        report("quic-server: --fleet-id", rc, config);
        return give_up(config, -1, 2);
    }
    int fd = socket(addr.ss_family, SOCK_DGRAM, 0);
    if (fd < 0) return perror("socket"), give_up(config, -1, 1);
    if (addr.ss_family == AF_INET6) {
        int off = 0; /* also accept IPv4 on [::] */
        setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &off, sizeof off);
    }
    grow_socket_buffers(fd);
    udp_configure(fd, addr.ss_family);
    if (bind(fd, (struct sockaddr *)&addr, addrlen) != 0) {
        fprintf(stderr, "quic-server: cannot listen on %s: %s\n", listen, strerror(errno));
        return give_up(config, fd, 1);
    }
    addrlen = sizeof addr;
    getsockname(fd, (struct sockaddr *)&addr, &addrlen);
    char text[64];
    printf("listening on %s\n", addr_text((struct sockaddr *)&addr, addrlen, text, sizeof text));
    /* The preferred address: a second socket, offered to every client. */
    int fd2 = -1;
    struct sockaddr_storage pref = {0};
    socklen_t preflen = 0;
    char derived[300];
    if (migrate_case) {
        /* The runner's connectionmigration: the listening host on the
         * next port (any free one when listening on port 0). */
        int p = atoi(port);
        snprintf(derived, sizeof derived, "%s%s%s:%d", strchr(host, ':') ? "[" : "", host,
                 strchr(host, ':') ? "]" : "", p ? p + 1 : 0);
        preferred = derived;
    }
    if (preferred) {
        if (split_host_port(preferred, host, sizeof host, port, sizeof port) != 0 ||
            resolve(host, port, 1, &pref, &preflen) != 0) {
            fprintf(stderr, "quic-server: --preferred-address wants HOST:PORT, got %s\n",
                    preferred);
            return give_up(config, fd, 2);
        }
        fd2 = socket(pref.ss_family, SOCK_DGRAM, 0);
        if (fd2 >= 0) {
            grow_socket_buffers(fd2);
            udp_configure(fd2, pref.ss_family);
        }
        if (fd2 < 0 || bind(fd2, (struct sockaddr *)&pref, preflen) != 0) {
            fprintf(stderr, "quic-server: cannot listen on %s: %s\n", preferred, strerror(errno));
            if (fd2 >= 0) close(fd2);
            return give_up(config, fd, 1);
        }
        preflen = sizeof pref;
        getsockname(fd2, (struct sockaddr *)&pref, &preflen);
        rc = quic_config_set_preferred_address(config, (struct sockaddr *)&pref, preflen);
        if (rc != QUIC_RESULT_OK) {
            report("quic-server: --preferred-address", rc, config);
            close(fd2);
            return give_up(config, fd, 2);
        }
        printf("preferred address %s\n",
               addr_text((struct sockaddr *)&pref, preflen, text, sizeof text));
    }
    fflush(stdout);

    stop_on_signals();

    return serve(config, fd, fd2, &addr, addrlen, &pref, preflen, NULL);
}
