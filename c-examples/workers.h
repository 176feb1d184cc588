/* Several worker processes on one UDP port (SO_REUSEPORT), with a classic
 * BPF program that sends every datagram to the worker named in its
 * destination connection ID: the last byte of a QUIC-LB server ID
 * (quic_config_set_quic_lb) is the worker's index. */
#ifndef WORKERS_H
#define WORKERS_H

#include <stddef.h>
#include <sys/socket.h>

#define MAX_WORKERS 64

/* Opens `n` UDP sockets bound to `addr` (port 0: a free one, the same for
 * all) in one SO_REUSEPORT group, in order, so that socket i is index i of
 * the group; fills `fds`. 0, or -1 with a message on stderr. */
int open_worker_sockets(const struct sockaddr_storage *addr, socklen_t addrlen, int n, int *fds);

/* Attaches the steering program to the group of `fd`: a datagram goes to
 * worker (byte % n) where byte is the destination CID's byte at
 * 1 + `fleet_id_len` (the worker byte after the first octet and the
 * fleet's part of the server ID). A new client's Initial carries a DCID
 * it chose at random, so that byte is a hash of it and every Initial of
 * one attempt lands on the same worker; from then on the client uses the
 * worker's own IDs, whatever its address. A datagram too short to hold
 * the byte goes by the kernel's 4-tuple hash. 0, or -1 with a message. */
int steer_by_connection_id(int fd, int n, size_t fleet_id_len);

#endif
