/* Batched UDP for the example programs: many datagrams per system call.
 * Receiving uses recvmmsg with UDP_GRO (the kernel hands over runs of
 * datagrams from one sender as one buffer plus a segment size); sending
 * queues GSO batches (quic_*_send_batch) and hands them over with
 * sendmmsg, each with UDP_SEGMENT. Every socket has DF set, so a
 * datagram is never fragmented (PMTU discovery decides sizes). Where the
 * kernel lacks a feature, the code falls back to plain datagrams and
 * says so once with -v; --no-gso turns batching off altogether. */
#ifndef QUIC_EXAMPLES_UDP_H
#define QUIC_EXAMPLES_UDP_H

#include <quic.h>

#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

/* Set by --no-gso: no GSO or GRO, one datagram per buffer (sendmmsg and
 * recvmmsg still move several buffers per call). */
extern int udp_no_batching;

/* Sets up a UDP socket for the above (GRO, DF); call once per socket. */
void udp_configure(int fd, int family);

/* Called with each received buffer: `info` has the sender, the
 * receiving socket's `local` address (as passed to udp_recv_all) and the
 * GRO segment size; pass it on to quic_conn_recv_info or
 * quic_endpoint_recv. */
typedef void (*udp_recv_fn)(const uint8_t *data, size_t len, quic_datagram_info *info,
                            void *ctx);

/* Reads what is waiting on `fd` (non-blocking), at most `max_rounds`
 * recvmmsg calls. Returns the number of buffers read, or -1 when the
 * socket reported ECONNREFUSED (nothing listens at its peer). */
int udp_recv_all(int fd, const struct sockaddr_storage *local, socklen_t local_len,
                 int max_rounds, udp_recv_fn fn, void *ctx);

/* Whether to send GSO batches (quic_*_send_batch) or one datagram per
 * buffer (quic_conn_send_info, quic_endpoint_send). */
int udp_gso(void);

/* Sending: take a buffer, fill it with quic_conn_send_batch or
 * quic_endpoint_send_batch, then commit it for `fd`. Full queues are
 * flushed as they fill; udp_flush sends the rest. A buffer that cannot
 * be sent (a full socket buffer, an unreachable peer) is dropped as the
 * network would drop it. */
uint8_t *udp_buffer(size_t *cap);
void udp_commit(int fd, size_t len, const quic_datagram_info *info);
/* Returns -1 when a send failed with ECONNREFUSED (errno kept). */
int udp_flush(void);

/* Counters for -v: datagrams, buffers (a GSO/GRO run is one) and system
 * calls, each way. */
struct udp_counters {
    uint64_t send_calls, sent_buffers, sent_datagrams;
    uint64_t recv_calls, received_buffers, received_datagrams;
};
extern struct udp_counters udp_counters;
/* Prints the counters (with -v). */
void udp_report(void);

#endif
