/* Shared helpers of the example programs: clock, addresses, sockets,
 * logging. libc and quic.h only. */
#ifndef QUIC_EXAMPLES_COMMON_H
#define QUIC_EXAMPLES_COMMON_H

#include <quic.h>

#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

/* Set by -v: log per connection. */
extern int verbose;
/* What every -v line starts with (a worker's name, say). */
extern const char *log_prefix;

/* The monotonic clock in nanoseconds: libquic's notion of "now". */
uint64_t now_ns(void);

/* Splits "host:port" or "[v6]:port" into its parts; 0 on success. */
int split_host_port(const char *text, char *host, size_t host_cap, char *port, size_t port_cap);

/* Resolves host and port (names allowed) to one socket address; prints
 * why not and returns -1 on failure. `passive` for a listening address. */
int resolve(const char *host, const char *port, int passive, struct sockaddr_storage *out,
            socklen_t *out_len);

/* "a.b.c.d:port" / "[v6]:port" for messages. */
const char *addr_text(const struct sockaddr *addr, socklen_t len, char *buf, size_t cap);

/* Waits until `fd` is readable or the absolute `deadline` (ns, UINT64_MAX
 * for none) passes. Returns 1 readable, 0 timeout, -1 error or signal. */
int wait_readable(int fd, uint64_t deadline);
/* The same for two sockets (`fd2` -1: only `fd`). */
int wait_readable2(int fd, int fd2, uint64_t deadline);
/* The same for `n` sockets in `fds` (events set by the caller). */
struct pollfd;
int wait_any(struct pollfd *fds, int n, uint64_t deadline);

/* Splits a comma-separated ALPN list into at most `max` strings kept in
 * `storage`; returns how many. */
/* Asks for large socket buffers (capped by the kernel's maximum). */
void grow_socket_buffers(int fd);

int split_alpn(const char *list, char *storage, size_t storage_cap, const char **out, int max);

/* Sends every datagram the connection has through `fd`; returns -1 on a
 * socket error, with errno set (ECONNREFUSED: nothing listens there). */
int flush_conn(int fd, quic_conn *conn);
/* Sends through quic_conn_send_info until QUIC_RESULT_DONE, each datagram
 * from the socket `socket_for` picks for its addresses (-1: drop it). */
int flush_with(quic_conn *conn, int (*socket_for)(const quic_datagram_info *, void *),
               void *ctx);
/* Sends every datagram the endpoint has (quic_endpoint_send until DONE),
 * each from the socket of its local address: `fd2` when that is
 * `local2`, else `fd` (with `fd2` -1, always `fd`). */
int flush_endpoint(quic_endpoint *ep, int fd, int fd2, const struct sockaddr_storage *local2,
                   socklen_t local2len);

/* Applies the options both programs share: the ALPN list, --chacha20
 * (only TLS_CHACHA20_POLY1305_SHA256) and the key log file. Prints why and
 * returns -1 when one is refused. */
int apply_common_options(quic_config *config, const char *alpn, int chacha, const char *keylog);

/* Writes a qlog trace of every connection into `dir` (one
 * <odcid>_<side>.sqlog file each); nothing when `dir` is NULL or empty.
 * Returns 0, or -1 after printing why (not a directory). */
int apply_qlog_dir(quic_config *config, const char *dir);

/* Prints "what: message" for a libquic result (with the config's detail)
 * to stderr. */
/* A short name for why a connection ended (a CONNECTION_TERMINATED
 * event's `termination`). */
const char *termination_name(quic_termination t);

void report(const char *what, quic_result rc, const quic_config *config);

/* Verbose logging to stderr. */
void logv(const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 1, 2)))
#endif
    ;

#endif
