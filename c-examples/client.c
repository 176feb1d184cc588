/* quic-client: downloads URLs over HTTP/0.9 on QUIC (ALPN "hq-interop"),
 * all over one connection, one stream each, concurrently, into an output
 * directory. Exits 0 only when every file arrived complete.
 *
 *   quic-client (--ca PEM | --insecure) --output DIR [--alpn LIST]
 *               [--chacha20] [--v2] [--key-update] [--handshake-timeout S]
 *               [--idle-timeout S] [--session-ticket FILE] [--zero-rtt] [--token FILE] [--keylog FILE]
 *               [--datagram N] [--migrate | --rebind] [--no-gso] [--qlog-dir DIR] [-v] URL...
 *
 * --migrate moves the connection to a new local port after 100 KB arrived,
 * with a new connection ID (quic_conn_migrate: the new path is validated
 * first, then used); the run fails if the move does not happen. --rebind
 * switches to a new local port at the same point without telling the
 * connection, as a NAT rebinding would: the server follows by itself.
 * A server that offers a preferred address (RFC 9000 §9.6) is followed
 * there once the handshake is confirmed, through a socket of its own.
 *
 * URLs look like https://127.0.0.1:4433/a.bin or https://[::1]:4433/a.bin.
 * --v2 starts in QUIC version 1 and offers and prefers version 2, which a
 * server that supports it switches to (RFC 9368 compatible negotiation).
 * --key-update starts a 1-RTT key update after the first 100 KB arrived.
 * A handshake that has not finished after --handshake-timeout seconds
 * (default 20) fails. A server that falls silent is given up after
 * --idle-timeout seconds (default 10): the client sends a keep-alive PING
 * after a third of that without traffic (quic_config_set_keep_alive), so a
 * server that is merely slow to answer keeps the connection. "Connection
 * refused" (an ICMP port unreachable on the connected socket) ends the
 * connection at once, without a closing period (quic_conn_abandon). Every
 * failure prints one line to stderr and exits 1; files that did not arrive
 * completely are removed.
 *
 * --session-ticket FILE resumes the session saved in FILE, if there is
 * one (a ticket that no longer works just means a full handshake), and
 * saves the newest ticket the server sends into FILE. --zero-rtt sends
 * the requests in 0-RTT, before the handshake completes, when the ticket
 * allows it (the server decides whether it takes them; either way every
 * file arrives). --token FILE does the same as --session-ticket with the
 * address-validation token a server gives (NEW_TOKEN), which spares the
 * next connection a Retry.
 *
 * --datagram N also sends N DATAGRAM frames (RFC 9221) once the handshake
 * is done, each carrying its number, and succeeds only when the server has
 * echoed all N back (quic-server --datagram-echo does). DATAGRAM frames are
 * unreliable: at most 32 are outstanding at a time, one not echoed within
 * 500 ms is sent again, and one sent 5 times without an echo fails the run.
 *
 * The QUIC Interop Runner's environment is honoured: REQUESTS (URLs),
 * TESTCASE, SSLKEYLOGFILE, QLOGDIR (--qlog-dir: a qlog trace per
 * connection, <odcid>_client.sqlog, for qvis). Test cases: handshake, transfer, chacha20,
 * keyupdate, v2, retry, multiconnect (one connection per URL), resumption
 * (the first URL on one connection, the rest on a second one that resumes
 * its session), zerortt (the same, the rest requested in 0-RTT), and the
 * names of the runner's cases that are plain transfers or handshakes at
 * the QUIC level, and ecn (the sockets always carry ECN marks; -v prints
 * whether the path validated); anything else exits 127. */
#define _POSIX_C_SOURCE 200809L
#include "common.h"
#include "udp.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define MAX_URLS 4096

struct download {
    char path[1024];
    char file[2048];
    uint64_t stream_id;
    int fd;
    int done;
    uint64_t bytes;
};

static struct download downloads[MAX_URLS];
static int n_downloads;
static const char *output;
/* --key-update: bytes received after which a key update starts (0 = no). */
static uint64_t key_update_after;
/* Session tickets: on when --session-ticket or the resumption case asks;
 * the newest ticket, and the file it is kept in. */
static int want_tickets;
/* --zero-rtt: requests go before the handshake completes when allowed. */
static int zero_rtt;
/* --migrate: after MOVE_AFTER bytes, move to a new local port with a new
 * connection ID (quic_conn_migrate). --rebind: the same without telling
 * the connection, as a NAT would (same connection ID). */
static int migrate_mode, rebind_mode;
#define MOVE_AFTER (100 * 1024)

/* The client's UDP sockets, each connected to one server address (a
 * connected socket hears ICMP errors: "nothing listening" fails at once
 * instead of at the handshake timeout). The first goes to the server
 * named on the command line; --migrate adds one; a server's preferred
 * address (RFC 9000 §9.6), which libquic moves to by itself, gets one. */
#define MAX_SOCKETS 4
struct path_socket {
    int fd;
    struct sockaddr_storage local, remote;
    socklen_t local_len, remote_len;
};
static struct path_socket sockets[MAX_SOCKETS];
static int n_sockets;

/* Opens a socket connected to `remote`; its index, or -1. */
static int open_socket(const struct sockaddr *remote, socklen_t remote_len) {
    if (n_sockets == MAX_SOCKETS) return -1;
    struct path_socket *s = &sockets[n_sockets];
    s->fd = socket(remote->sa_family, SOCK_DGRAM, 0);
    if (s->fd < 0) return perror("socket"), -1;
    grow_socket_buffers(s->fd);
    udp_configure(s->fd, remote->sa_family);
    s->local_len = sizeof s->local;
    if (connect(s->fd, remote, remote_len) != 0 ||
        getsockname(s->fd, (struct sockaddr *)&s->local, &s->local_len) != 0) {
        perror("quic-client: connect");
        close(s->fd);
        return -1;
    }
    memcpy(&s->remote, remote, remote_len);
    s->remote_len = remote_len;
    return n_sockets++;
}

static void close_sockets(void) {
    for (int i = 0; i < n_sockets; i++) close(sockets[i].fd);
    n_sockets = 0;
}

static int same(const struct sockaddr_storage *a, socklen_t alen,
                const struct sockaddr_storage *b, socklen_t blen) {
    return alen == blen && memcmp(a, b, alen) == 0;
}

/* The socket a datagram to `info->remote` leaves from: the one bound to
 * `info->local` when that socket goes there, else the newest one that
 * goes there, else a new one. */
static int socket_for(const quic_datagram_info *info) {
    for (int i = n_sockets - 1; i >= 0; i--)
        if (info->local_len && same(&sockets[i].local, sockets[i].local_len, &info->local,
                                    info->local_len) &&
            same(&sockets[i].remote, sockets[i].remote_len, &info->remote, info->remote_len))
            return i;
    for (int i = n_sockets - 1; i >= 0; i--)
        if (same(&sockets[i].remote, sockets[i].remote_len, &info->remote, info->remote_len))
            return i;
    return open_socket((const struct sockaddr *)&info->remote, info->remote_len);
}

/* Sends what the connection has, each datagram from its socket. */
static int pick_socket(const quic_datagram_info *info, void *ctx) {
    (void)ctx;
    int i = socket_for(info);
    return i < 0 ? -1 : sockets[i].fd;
}

static int send_all(quic_conn *conn) { return flush_with(conn, pick_socket, NULL); }

/* Feeds what waits on the sockets, one read (up to 16 buffers, each a
 * GRO run) per socket, so that the ACKs it calls for go out soon; with
 * --migrate the connection is told which local address each came in on.
 * Returns -1 on ECONNREFUSED. */
static void feed_conn(const uint8_t *data, size_t len, quic_datagram_info *info, void *ctx) {
    if (!migrate_mode) info->local_len = 0;
    quic_conn_recv_info(ctx, data, len, info, now_ns());
}

static int read_all(quic_conn *conn) {
    int refused = 0;
    for (int i = 0; i < n_sockets; i++)
        refused |= udp_recv_all(sockets[i].fd, &sockets[i].local, sockets[i].local_len, 1,
                                feed_conn, conn) < 0;
    return refused ? -1 : 0;
}

/* Waits until a socket is readable or `deadline`. */
static int wait_sockets(uint64_t deadline) {
    struct pollfd p[MAX_SOCKETS];
    for (int i = 0; i < n_sockets; i++) p[i] = (struct pollfd){.fd = sockets[i].fd, .events = POLLIN};
    return wait_any(p, n_sockets, deadline);
}
static uint8_t ticket[16384];
static size_t ticket_len;
static const char *ticket_file;
/* --token: the newest address-validation token, and its file. */
static uint8_t token[1024];
static size_t token_len;
static const char *token_file;

/* --datagram N: datagrams to have echoed, and each one's state. */
#define MAX_DATAGRAMS 10000
#define DATAGRAM_WINDOW 32
#define DATAGRAM_RESEND_NS 500000000ull
#define DATAGRAM_TRIES 5
static unsigned datagram_count;
static unsigned datagrams_echoed;
static struct {
    uint64_t sent_at;
    uint8_t tries;
    uint8_t echoed;
} datagrams[MAX_DATAGRAMS];

/* Sends what datagrams the window allows; returns when the loop must wake
 * for a resend (UINT64_MAX: never), or 0 after printing why it failed. */
static uint64_t send_datagrams(quic_conn *conn, uint64_t now) {
    unsigned outstanding = 0;
    uint64_t wake = UINT64_MAX;
    for (unsigned i = 0; i < datagram_count; i++)
        if (!datagrams[i].echoed && datagrams[i].tries &&
            now - datagrams[i].sent_at < DATAGRAM_RESEND_NS)
            outstanding++;
    for (unsigned i = 0; i < datagram_count; i++) {
        if (datagrams[i].echoed) continue;
        if (datagrams[i].tries && now - datagrams[i].sent_at < DATAGRAM_RESEND_NS) {
            uint64_t due = datagrams[i].sent_at + DATAGRAM_RESEND_NS;
            if (due < wake) wake = due;
            continue;
        }
        if (outstanding >= DATAGRAM_WINDOW) break;
        if (datagrams[i].tries >= DATAGRAM_TRIES) {
            fprintf(stderr, "quic-client: datagram %u was sent %d times and never echoed\n", i,
                    DATAGRAM_TRIES);
            return 0;
        }
        char msg[64];
        int n = snprintf(msg, sizeof msg, "libquic datagram %u", i);
        quic_result rc = quic_conn_send_datagram(conn, (const uint8_t *)msg, (size_t)n);
        if (rc == QUIC_RESULT_WOULD_BLOCK) break; /* the queue is full: later */
        if (rc == QUIC_RESULT_DATAGRAM_UNSUPPORTED) {
            fprintf(stderr, "quic-client: the server does not accept DATAGRAM frames "
                            "(it sent no max_datagram_frame_size)\n");
            return 0;
        }
        if (rc != QUIC_RESULT_OK) {
            fprintf(stderr, "quic-client: sending a datagram: %s\n", quic_result_str(rc));
            return 0;
        }
        datagrams[i].sent_at = now;
        datagrams[i].tries++;
        outstanding++;
        if (now + DATAGRAM_RESEND_NS < wake) wake = now + DATAGRAM_RESEND_NS;
    }
    return wake;
}

/* An echo came back: marks its datagram. */
static void on_datagram(const uint8_t *data, size_t len) {
    char msg[64];
    unsigned i;
    if (len >= sizeof msg) return;
    memcpy(msg, data, len);
    msg[len] = 0;
    if (sscanf(msg, "libquic datagram %u", &i) != 1 || i >= datagram_count) return;
    if (!datagrams[i].echoed) {
        datagrams[i].echoed = 1;
        datagrams_echoed++;
    }
}

/* Loads `file` into buf (at most cap bytes), if there is one; 0 if not. */
static size_t load_blob(const char *file, uint8_t *buf, size_t cap) {
    FILE *f = file ? fopen(file, "rb") : NULL;
    if (!f) return 0;
    size_t n = fread(buf, 1, cap, f);
    if (!feof(f)) n = 0; /* larger than any ticket or token: not one */
    fclose(f);
    return n;
}

/* Keeps what the server gave (a ticket or a token) in memory and in its
 * file, written whole and then renamed, so a crash never leaves half. */
static void keep_blob(const char *file, uint8_t *buf, size_t cap, size_t *len,
                      const uint8_t *data, size_t n) {
    if (n > cap) return;
    memcpy(buf, data, n);
    *len = n;
    if (!file) return;
    char tmp[4200];
    snprintf(tmp, sizeof tmp, "%s.tmp", file);
    FILE *f = fopen(tmp, "wb");
    if (!f) return;
    int ok = fwrite(data, 1, n, f) == n;
    ok &= fclose(f) == 0;
    if (ok) rename(tmp, file);
    else unlink(tmp);
}

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
    snprintf(d->file, sizeof d->file, "%s/%s", output, name);
    d->fd = open(d->file, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (d->fd < 0) {
        fprintf(stderr, "quic-client: cannot write %s: %s\n", d->file, strerror(errno));
        d->file[0] = 0;
        return -1;
    }
    return 0;
}

/* What ended a connection, in words (the event's `termination`). */
static const char *termination_text(quic_termination t, int established) {
    switch (t) {
    case QUIC_TERMINATION_LOCAL_ERROR: return "libquic closed the connection on a protocol error";
    case QUIC_TERMINATION_LOCAL_CLOSE: return "connection closed";
    case QUIC_TERMINATION_PEER_TRANSPORT: return "the server closed the connection";
    case QUIC_TERMINATION_PEER_APPLICATION: return "the server's application closed the connection";
    case QUIC_TERMINATION_IDLE_TIMEOUT:
        return established ? "connection idle too long" : "connection failed";
    case QUIC_TERMINATION_HANDSHAKE_TIMEOUT: return "connection failed";
    case QUIC_TERMINATION_STATELESS_RESET: return "the server reset the connection";
    case QUIC_TERMINATION_VERSION_NEGOTIATION: return "connection failed";
    default: return "connection ended"; /* a cause newer than this program */
    }
}

/* Says why the connection ended, in one line. A transport close in the
 * CRYPTO_ERROR range (0x100-0x1ff) carries a TLS alert; an application
 * close with such a code does not. */
static void report_close(quic_conn *conn, const quic_event *ev, int established) {
    quic_close_info info = {.struct_size = sizeof info};
    int by_peer = quic_conn_peer_error(conn, &info) == QUIC_RESULT_OK;
    if (!by_peer && quic_conn_local_error(conn, &info) != QUIC_RESULT_OK) info.is_app = false;
    const char *who = termination_text(ev->termination, established);
    fprintf(stderr, "quic-client: %s: %s error 0x%llx%s%.*s", who,
            info.is_app ? "application" : "transport", (unsigned long long)ev->error_code,
            ev->reason_len ? ": " : "", (int)ev->reason_len, (const char *)ev->reason);
    if (!info.is_app && ev->error_code >= 0x100 && ev->error_code < 0x200)
        fprintf(stderr, " (TLS alert %llu; 48: unknown CA, 42: bad certificate, "
                        "see --ca / --insecure)",
                (unsigned long long)(ev->error_code - 0x100));
    if (!info.is_app && ev->error_code == 0x11)
        fprintf(stderr, " (no QUIC version in common; --v2 offers version 2)");
    fputc('\n', stderr);
}

/* Runs one connection that fetches downloads[first .. first+count). */
static int fetch(quic_config *config, const struct sockaddr *peer, socklen_t peerlen, int first,
                 int count) {
    if (open_socket(peer, peerlen) < 0) return -1;
    int moved = 0, migrated = 0;
    quic_conn *conn;
    /* Resume the last session, if a ticket is at hand. */
    quic_conn_params params = {.struct_size = sizeof params, .session_ticket = ticket,
                               .session_ticket_len = ticket_len, .address_token = token,
                               .address_token_len = token_len};
    quic_result rc = quic_conn_new(config, &params, &conn);
    if (rc != QUIC_RESULT_OK) {
        report("quic-client", rc, config);
        close_sockets();
        return -1;
    }
    uint64_t start = now_ns();
    quic_conn_connect(conn, peer, peerlen, start);
    int next = first, finished = 0, failed = 0, established = 0, closing = 0, reported = 0;
    int refused = 0;
    uint64_t received = 0;
    int key_update_done = 0;
    int tickets = 0;
    uint64_t done_at = 0;
    for (;;) {
        if (!quic_conn_is_closed(conn) && send_all(conn) != 0) {
            if (errno == ECONNREFUSED) refused = 1;
            else failed = 1;
        }
        if (refused) {
            /* Nobody is listening: no closing period toward a dead port. */
            quic_conn_abandon(conn, (const uint8_t *)"connection refused", 18);
            char where[64];
            fprintf(stderr, "quic-client: %s: connection refused (is a QUIC server listening "
                            "there?)\n", addr_text(peer, peerlen, where, sizeof where));
            failed = reported = 1;
            break;
        }
        quic_event ev = {.struct_size = sizeof ev};
        /* Events are read even after the connection closed: the last one
         * says why. */
        while (quic_conn_poll_event(conn, &ev) == QUIC_RESULT_OK) {
            if (ev.kind == QUIC_EVENT_TYPE_HANDSHAKE_COMPLETED) {
                established = 1;
                quic_stats st = {.struct_size = sizeof st};
                quic_conn_stats(conn, &st);
                logv("handshake done in %.1f ms: version 0x%08x, ALPN %.*s, cipher 0x%04x%s%s",
                     (double)(now_ns() - start) / 1e6, st.version, (int)ev.alpn_len,
                     (const char *)ev.alpn, st.cipher_suite,
                     ev.session_resumed ? ", session resumed" : "",
                     ev.early_data_accepted ? ", early data accepted" : "");
            } else if (ev.kind == QUIC_EVENT_TYPE_EARLY_DATA_REJECTED) {
                logv("the server refused early data: the requests go again");
            } else if (ev.kind == QUIC_EVENT_TYPE_SESSION_TICKET) {
                keep_blob(ticket_file, ticket, sizeof ticket, &ticket_len, ev.data, ev.data_len);
                tickets++;
            } else if (ev.kind == QUIC_EVENT_TYPE_NEW_TOKEN) {
                keep_blob(token_file, token, sizeof token, &token_len, ev.data, ev.data_len);
            } else if (ev.kind == QUIC_EVENT_TYPE_STREAM_DATA_RECEIVED) {
                for (int i = first; i < first + count; i++) {
                    struct download *d = &downloads[i];
                    if (d->stream_id != ev.stream_id || d->done || d->fd < 0) continue;
                    if (ev.data_len && write(d->fd, ev.data, ev.data_len) != (ssize_t)ev.data_len) {
                        perror("quic-client: write");
                        failed = 1;
                    }
                    d->bytes += ev.data_len;
                    received += ev.data_len;
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
            } else if (ev.kind == QUIC_EVENT_TYPE_DATAGRAM_FRAME_RECEIVED) {
                on_datagram(ev.data, ev.data_len);
            } else if (ev.kind == QUIC_EVENT_TYPE_MIGRATED) {
                char here[64] = "the same socket", there[64];
                if (ev.local_addr_len)
                    addr_text((const struct sockaddr *)&ev.local_addr, ev.local_addr_len, here,
                              sizeof here);
                addr_text((const struct sockaddr *)&ev.remote_addr, ev.remote_addr_len, there,
                          sizeof there);
                logv("migrated to %s -> %s", here, there);
                /* --migrate's own move (not one to a preferred address). */
                migrated |= migrate_mode && moved;
            } else if (ev.kind == QUIC_EVENT_TYPE_PATH_FAILED) {
                /* Fatal only for the move --migrate asked for; a server's
                 * preferred address that does not answer is just not used. */
                if (migrate_mode && moved) {
                    fprintf(stderr, "quic-client: the new path failed: %.*s\n",
                            (int)ev.reason_len, (const char *)ev.reason);
                    failed = 1;
                } else {
                    logv("the server's preferred address did not answer: %.*s",
                         (int)ev.reason_len, (const char *)ev.reason);
                }
            } else if (ev.kind == QUIC_EVENT_TYPE_KEY_UPDATED) {
                logv("1-RTT keys updated: generation %llu",
                     (unsigned long long)quic_conn_key_generation(conn));
            } else if (ev.kind == QUIC_EVENT_TYPE_CONNECTION_TERMINATED && !closing) {
                report_close(conn, &ev, established);
                failed = reported = 1;
                closing = 1;
            }
        }
        if (quic_conn_is_closed(conn)) break;
        if (key_update_after && !key_update_done && received >= key_update_after) {
            rc = quic_conn_request_key_update(conn);
            if (rc == QUIC_RESULT_OK) {
                key_update_done = 1;
                logv("key update requested after %llu bytes", (unsigned long long)received);
            }
        }
        if ((migrate_mode || rebind_mode) && !moved && established && received >= MOVE_AFTER) {
            moved = 1;
            /* A new socket to where the connection sends now. */
            struct sockaddr_storage now_peer;
            socklen_t now_peerlen;
            quic_conn_peer_address(conn, &now_peer, &now_peerlen);
            int i = open_socket((struct sockaddr *)&now_peer, now_peerlen);
            if (i < 0) {
                failed = 1;
            } else if (rebind_mode) {
                /* The old ports are gone, as behind a NAT that rebound. */
                for (int j = 0; j < i; j++) close(sockets[j].fd);
                sockets[0] = sockets[i];
                n_sockets = 1;
                /* The server learns the new port from our next packet: a
                 * receiver that only acknowledges might not send one until
                 * data reaches it, and none can until the server knows. */
                quic_conn_send_ping(conn, 0);
                logv("rebound to a new local port after %llu bytes", (unsigned long long)received);
            } else {
                rc = quic_conn_migrate(conn, (struct sockaddr *)&sockets[i].local,
                                       sockets[i].local_len, now_ns());
                if (rc != QUIC_RESULT_OK) {
                    report("quic-client: migrate", rc, NULL);
                    failed = 1;
                }
                logv("migrating after %llu bytes", (unsigned long long)received);
            }
        }
        /* Requests go out once the handshake is done, all at once; with
         * --zero-rtt as soon as the ticket's limits allow (0-RTT). */
        while ((established || zero_rtt) && !closing && next < first + count) {
            struct download *d = &downloads[next];
            if (quic_conn_next_stream_id(conn, false, &d->stream_id) != QUIC_RESULT_OK) break;
            char req[1100];
            int n = snprintf(req, sizeof req, "GET %s\r\n", d->path);
            rc = quic_conn_stream_send(conn, d->stream_id, (const uint8_t *)req, (size_t)n, true);
            if (rc == QUIC_RESULT_STREAM_LIMIT) break; /* more once streams close */
            if (rc == QUIC_RESULT_HANDSHAKE_PENDING) break; /* no 0-RTT: after the handshake */
            if (rc == QUIC_RESULT_OK && !established) logv("%s requested in 0-RTT", d->path);
            if (rc != QUIC_RESULT_OK || open_output(d) != 0) {
                failed = 1;
                break;
            }
            next++;
        }
        uint64_t datagram_wake = UINT64_MAX;
        if (datagram_count && established && !closing && datagrams_echoed < datagram_count) {
            datagram_wake = send_datagrams(conn, now_ns());
            if (datagram_wake == 0) {
                failed = reported = 1;
                datagram_wake = UINT64_MAX;
            }
        }
        /* Done; a client that wants a ticket waits a little for one (a
         * server sends it with its first 1-RTT flight). */
        if (finished == count && datagrams_echoed == datagram_count && !done_at) {
            done_at = now_ns();
            if (datagram_count) logv("%u datagram(s) echoed", datagrams_echoed);
        }
        int ticket_due = want_tickets && !tickets && !failed && now_ns() - done_at < 1000000000ull;
        if (!closing && (failed || (done_at && !ticket_due))) {
            quic_stats st = {.struct_size = sizeof st};
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
        if (send_all(conn) != 0) {
            if (errno == ECONNREFUSED) refused = 1;
            else failed = 1;
        }
        uint64_t deadline = quic_conn_timer(conn);
        if (datagram_wake < deadline) deadline = datagram_wake;
        if (done_at && !closing && deadline > done_at + 1000000000ull)
            deadline = done_at + 1000000000ull;
        if (wait_sockets(deadline) > 0 && read_all(conn) != 0) refused = 1;
        if (quic_conn_timer(conn) <= now_ns()) quic_conn_handle_timer(conn, now_ns());
    }
    if (verbose) {
        static const char *const ecn_states[] = {"off", "testing", "unknown", "capable", "failed"};
        quic_stats st = {.struct_size = sizeof st};
        if (quic_conn_stats(conn, &st) == QUIC_RESULT_OK && st.ecn_state <= 4)
            logv("ecn: path %s; received %llu ECT(0), %llu CE; %llu CE reported by the server",
                 ecn_states[st.ecn_state], (unsigned long long)st.ecn_received_ect0,
                 (unsigned long long)st.ecn_received_ce, (unsigned long long)st.ecn_ce_reported);
        logv("pmtu: %llu bytes (%llu probes, %llu lost, %llu black holes)",
             (unsigned long long)st.pmtu, (unsigned long long)st.pmtu_probes_sent,
             (unsigned long long)st.pmtu_probes_lost, (unsigned long long)st.pmtu_black_holes);
    }
    quic_conn_free(conn);
    close_sockets();
    udp_report();
    if (migrate_mode && !migrated && !reported) {
        fprintf(stderr, "quic-client: --migrate: the connection did not move\n");
        failed = 1;
    }
    /* A file that did not arrive whole must not look complete. */
    int incomplete = 0;
    for (int i = first; i < first + count; i++) {
        struct download *d = &downloads[i];
        if (d->fd >= 0) close(d->fd);
        d->fd = -1;
        if (!d->done) {
            incomplete++;
            if (d->file[0]) unlink(d->file);
        }
    }
    if (incomplete && !reported)
        fprintf(stderr, "quic-client: %d of %d file(s) did not arrive\n", incomplete, count);
    if (datagrams_echoed < datagram_count && !reported)
        fprintf(stderr, "quic-client: %u of %u datagram(s) came back\n", datagrams_echoed,
                datagram_count);
    return failed || finished != count || datagrams_echoed < datagram_count ? -1 : 0;
}

static void usage(void) {
    fprintf(stderr, "usage: quic-client (--ca PEM | --insecure) --output DIR [--alpn LIST] "
                    "[--chacha20] [--v2] [--key-update] [--handshake-timeout S] [--idle-timeout S] "
                    "[--session-ticket FILE] [--zero-rtt] [--token FILE] [--keylog FILE] "
                    "[--datagram N] [--migrate | --rebind] [--no-gso] [--qlog-dir DIR] [-v] URL...\n");
    exit(2);
}

int main(int argc, char **argv) {
    const char *ca = NULL, *alpn = "hq-interop";
    const char *keylog = getenv("SSLKEYLOGFILE");
    const char *qlog_dir = getenv("QLOGDIR");
    int insecure = 0, chacha = 0, v2 = 0;
    double handshake_timeout = 20, idle_timeout = 10;
    const char *urls[MAX_URLS];
    int n_urls = 0;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        int has_value = i + 1 < argc;
        if (!strcmp(a, "-v")) verbose = 1;
        else if (!strcmp(a, "--no-gso")) udp_no_batching = 1;
        else if (!strcmp(a, "--insecure")) insecure = 1;
        else if (!strcmp(a, "--chacha20")) chacha = 1;
        else if (!strcmp(a, "--v2")) v2 = 1;
        else if (!strcmp(a, "--key-update")) key_update_after = 100000;
        else if (!strcmp(a, "--migrate")) migrate_mode = 1;
        else if (!strcmp(a, "--rebind")) rebind_mode = 1;
        else if (!strcmp(a, "--handshake-timeout") && has_value) {
            handshake_timeout = strtod(argv[++i], NULL);
            if (!(handshake_timeout > 0 && handshake_timeout <= 86400)) usage();
        }
        else if (!strcmp(a, "--idle-timeout") && has_value) {
            idle_timeout = strtod(argv[++i], NULL);
            if (!(idle_timeout >= 1 && idle_timeout <= 86400)) usage();
        }
        else if (!strcmp(a, "--ca") && has_value) ca = argv[++i];
        else if (!strcmp(a, "--session-ticket") && has_value) ticket_file = argv[++i];
        else if (!strcmp(a, "--token") && has_value) token_file = argv[++i];
        else if (!strcmp(a, "--zero-rtt")) zero_rtt = 1;
        else if (!strcmp(a, "--datagram") && has_value) {
            char *end;
            unsigned long n = strtoul(argv[++i], &end, 10);
            if (*end || n == 0 || n > MAX_DATAGRAMS) usage();
            datagram_count = (unsigned)n;
        }
        else if (!strcmp(a, "--output") && has_value) output = argv[++i];
        else if (!strcmp(a, "--alpn") && has_value) alpn = argv[++i];
        else if (!strcmp(a, "--keylog") && has_value) keylog = argv[++i];
        else if (!strcmp(a, "--qlog-dir") && has_value) qlog_dir = argv[++i];
        else if (a[0] == '-') usage();
        else if (n_urls < MAX_URLS) urls[n_urls++] = a;
    }
    const char *testcase = getenv("TESTCASE");
    int multiconnect = 0, resumption = 0;
    if (testcase && *testcase) {
        /* The runner's names for cases that are, at the QUIC level, an
         * ordinary transfer, handshake or series of handshakes. */
        static const char *const plain[] = {
            "handshake",   "transfer",      "multiplexing",       "ipv6",
            "longrtt",     "blackhole",     "transferloss",       "transfercorruption",
            "goodput",     "crosstraffic",  "amplificationlimit", "retry",
            "rebind-port", "rebind-addr",   "ecn",                NULL};
        int known = 0;
        for (int i = 0; plain[i]; i++) known |= !strcmp(testcase, plain[i]);
        if (!strcmp(testcase, "multiconnect") || !strcmp(testcase, "handshakeloss") ||
            !strcmp(testcase, "handshakecorruption"))
            known = multiconnect = 1;
        else if (!strcmp(testcase, "chacha20"))
            known = chacha = 1;
        else if (!strcmp(testcase, "connectionmigration"))
            known = migrate_mode = 1;
        else if (!strcmp(testcase, "resumption"))
            known = resumption = 1;
        else if (!strcmp(testcase, "zerortt"))
            known = resumption = zero_rtt = 1;
        else if (!strcmp(testcase, "keyupdate")) {
            known = 1;
            key_update_after = 1; /* as early as the handshake allows */
        } else if (!strcmp(testcase, "v2"))
            known = v2 = 1;
        if (!known) {
            fprintf(stderr, "quic-client: test case %s is not supported\n", testcase);
            return 127;
        }
        /* 50 handshakes in a row under 30% loss: allow each the full
         * idle timeout. */
        if (multiconnect) handshake_timeout = idle_timeout = 60;
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
    /* Every failure from here frees the config it made. */
    if (apply_common_options(config, alpn, chacha, keylog) != 0 ||
        apply_qlog_dir(config, qlog_dir) != 0) {
        quic_config_free(config);
        return 2;
    }
    if ((rc = quic_config_set_server_name(config, host)) != QUIC_RESULT_OK) {
        report("server name", rc, config);
        quic_config_free(config);
        return 2;
    }
    if (insecure) {
        quic_config_set_verify_peer(config, false);
    } else if ((rc = quic_config_load_verify_locations(config, ca, NULL, NULL, 0)) != QUIC_RESULT_OK) {
        char what[600];
        snprintf(what, sizeof what, "quic-client: cannot load CA %s", ca);
        report(what, rc, config);
        quic_config_free(config);
        return 1;
    }
    if (v2) {
        /* Start in version 1 (every server parses it) and offer version 2,
         * preferred: a server that has it switches without a round trip. */
        const uint32_t versions[] = {0x6b3343cf, 1};
        quic_config_set_supported_versions(config, versions, 2);
        quic_config_set_original_version(config, 1);
    }
    quic_config_set_handshake_timeout(config, (uint64_t)(handshake_timeout * 1e9));
    /* A dead server is noticed within the idle timeout; keep-alive PINGs
     * keep a live but quiet one from reaching it. */
    quic_config_set_idle_timeout(config, (uint64_t)(idle_timeout * 1e9));
    quic_config_set_keep_alive(config, (uint64_t)(idle_timeout / 3 * 1e9));
    want_tickets = resumption || ticket_file;
    if (want_tickets) quic_config_set_session_tickets(config, true);
    if (zero_rtt) quic_config_set_early_data(config, true);
    if (datagram_count) quic_config_set_max_datagram_frame_size(config, 65535);
    ticket_len = load_blob(ticket_file, ticket, sizeof ticket);
    token_len = load_blob(token_file, token, sizeof token);
    /* Large windows for large files. */
    quic_config_set_max_data(config, 16u << 20);
    quic_config_set_max_stream_data(config, 8u << 20);

    int status = 0;
    if (multiconnect) {
        for (int i = 0; i < n_downloads && status == 0; i++)
            status = fetch(config, (struct sockaddr *)&peer, peerlen, i, 1);
    } else if (resumption && n_downloads > 1) {
        /* The first file on one connection, the rest on a second that
         * resumes the first one's session. */
        status = fetch(config, (struct sockaddr *)&peer, peerlen, 0, 1);
        if (status == 0)
            status = fetch(config, (struct sockaddr *)&peer, peerlen, 1, n_downloads - 1);
    } else {
        status = fetch(config, (struct sockaddr *)&peer, peerlen, 0, n_downloads);
    }
    quic_config_free(config);
    return status == 0 ? 0 : 1;
}
