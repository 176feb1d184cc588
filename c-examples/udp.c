/* Batched UDP for the example programs; see udp.h. Linux-specific where
 * it must be (recvmmsg, sendmmsg, UDP_SEGMENT, UDP_GRO); each feature the
 * kernel refuses is turned off with one -v line. */
#define _GNU_SOURCE
#include "udp.h"

#include "common.h"

#include <errno.h>
#include <netinet/in.h>
#include <netinet/udp.h>
#include <stdio.h>
#include <string.h>

#ifndef SOL_UDP
#define SOL_UDP 17
#endif
#ifndef UDP_SEGMENT
#define UDP_SEGMENT 103
#endif
#ifndef UDP_GRO
#define UDP_GRO 104
#endif

/* Buffers in one recvmmsg or sendmmsg call. */
#define BATCH 16
/* The largest UDP payload over IPv4, so one GSO batch is one send. */
#define BUF_SIZE 65507

int udp_no_batching;
struct udp_counters udp_counters;

/* What the kernel turned out to support (cleared on the first refusal). */
static int gso_works = 1, gro_works = 1;

static void say_once(int *said, const char *what) {
    if (*said) return;
    *said = 1;
    logv("udp: %s", what);
}

void udp_configure(int fd, int family) {
    static int said_gro, said_df;
    int on = 1;
    if (!udp_no_batching && gro_works &&
        setsockopt(fd, SOL_UDP, UDP_GRO, &on, sizeof on) != 0) {
        gro_works = 0;
        say_once(&said_gro, "UDP_GRO refused by the kernel; one datagram per receive");
    }
    /* DF: never fragment; IP_PMTUDISC_PROBE also ignores the kernel's
     * cached path MTU, so QUIC's own discovery decides the sizes. */
    int df = family == AF_INET6 ? IPV6_PMTUDISC_PROBE : IP_PMTUDISC_PROBE;
    int rc = family == AF_INET6
                 ? setsockopt(fd, IPPROTO_IPV6, IPV6_MTU_DISCOVER, &df, sizeof df)
                 : setsockopt(fd, IPPROTO_IP, IP_MTU_DISCOVER, &df, sizeof df);
    if (rc != 0) say_once(&said_df, "cannot set DF; datagrams may be fragmented");
}

/* Receive buffers and their headers. */
static uint8_t rbuf[BATCH][BUF_SIZE];
static struct mmsghdr rmsg[BATCH];
static struct iovec riov[BATCH];
static struct sockaddr_storage rfrom[BATCH];
static char rctrl[BATCH][CMSG_SPACE(sizeof(int)) * 4];

int udp_recv_all(int fd, const struct sockaddr_storage *local, socklen_t local_len,
                 int max_rounds, udp_recv_fn fn, void *ctx) {
    int total = 0;
    int n_msgs = udp_no_batching ? 1 : BATCH;
    for (int round = 0; round < max_rounds; round++) {
        for (int i = 0; i < n_msgs; i++) {
            riov[i] = (struct iovec){.iov_base = rbuf[i], .iov_len = BUF_SIZE};
            rmsg[i].msg_hdr = (struct msghdr){
                .msg_name = &rfrom[i],
                .msg_namelen = sizeof rfrom[i],
                .msg_iov = &riov[i],
                .msg_iovlen = 1,
                .msg_control = rctrl[i],
                .msg_controllen = sizeof rctrl[i],
            };
        }
        int n = recvmmsg(fd, rmsg, (unsigned)n_msgs, MSG_DONTWAIT, NULL);
        udp_counters.recv_calls++;
        if (n < 0) return errno == ECONNREFUSED ? -1 : total;
        for (int i = 0; i < n; i++) {
            quic_datagram_info info = {.struct_size = sizeof info};
            memcpy(&info.remote, &rfrom[i], rmsg[i].msg_hdr.msg_namelen);
            info.remote_len = rmsg[i].msg_hdr.msg_namelen;
            if (local) {
                info.local = *local;
                info.local_len = local_len;
            }
            size_t len = rmsg[i].msg_len;
            uint64_t segments = 1;
            for (struct cmsghdr *c = CMSG_FIRSTHDR(&rmsg[i].msg_hdr); c;
                 c = CMSG_NXTHDR(&rmsg[i].msg_hdr, c)) {
                if (c->cmsg_level == SOL_UDP && c->cmsg_type == UDP_GRO) {
                    int seg;
                    memcpy(&seg, CMSG_DATA(c), sizeof seg);
                    if (seg > 0) {
                        info.segment_size = (uint64_t)seg;
                        segments = (len + (size_t)seg - 1) / (size_t)seg;
                    }
                }
            }
            udp_counters.received_datagrams += segments;
            fn(rbuf[i], len, &info, ctx);
            total++;
        }
        if (n < n_msgs) break;
    }
    return total;
}

/* The send queue: buffers filled by the caller, sent by udp_flush. */
static uint8_t sbuf[BATCH][BUF_SIZE];
static struct mmsghdr smsg[BATCH];
static struct iovec siov[BATCH];
static struct sockaddr_storage sto[BATCH];
static int sfd[BATCH];
static char sctrl[BATCH][CMSG_SPACE(sizeof(uint16_t))];
static int queued;

int udp_gso(void) { return !udp_no_batching && gso_works; }

uint8_t *udp_buffer(size_t *cap) {
    if (queued == BATCH) udp_flush();
    *cap = BUF_SIZE;
    return sbuf[queued];
}

void udp_commit(int fd, size_t len, const quic_datagram_info *info) {
    int i = queued++;
    sfd[i] = fd;
    memcpy(&sto[i], &info->remote, info->remote_len);
    siov[i] = (struct iovec){.iov_base = sbuf[i], .iov_len = len};
    smsg[i].msg_hdr = (struct msghdr){
        .msg_name = &sto[i],
        .msg_namelen = info->remote_len,
        .msg_iov = &siov[i],
        .msg_iovlen = 1,
    };
    uint64_t seg = info->segment_size;
    uint64_t segments = seg && seg < len ? (len + seg - 1) / seg : 1;
    udp_counters.sent_datagrams += segments;
    if (segments > 1) {
        smsg[i].msg_hdr.msg_control = sctrl[i];
        smsg[i].msg_hdr.msg_controllen = sizeof sctrl[i];
        struct cmsghdr *c = CMSG_FIRSTHDR(&smsg[i].msg_hdr);
        c->cmsg_level = SOL_UDP;
        c->cmsg_type = UDP_SEGMENT;
        c->cmsg_len = CMSG_LEN(sizeof(uint16_t));
        uint16_t s = (uint16_t)seg;
        memcpy(CMSG_DATA(c), &s, sizeof s);
    }
    if (queued == BATCH) udp_flush();
}

/* Sends message `i` again as separate datagrams (GSO refused). */
static int send_split(int i) {
    struct msghdr *m = &smsg[i].msg_hdr;
    uint16_t seg;
    memcpy(&seg, CMSG_DATA(CMSG_FIRSTHDR(m)), sizeof seg);
    for (size_t off = 0; off < siov[i].iov_len; off += seg) {
        size_t n = siov[i].iov_len - off < seg ? siov[i].iov_len - off : seg;
        udp_counters.send_calls++;
        if (sendto(sfd[i], sbuf[i] + off, n, 0, m->msg_name, m->msg_namelen) < 0 &&
            errno == ECONNREFUSED)
            return -1;
    }
    return 0;
}

int udp_flush(void) {
    static int said_gso;
    int refused = 0;
    int i = 0;
    while (i < queued) {
        /* One sendmmsg per run of messages for the same socket. */
        int run = 1;
        while (i + run < queued && sfd[i + run] == sfd[i]) run++;
        udp_counters.send_calls++;
        int n = sendmmsg(sfd[i], &smsg[i], (unsigned)run, 0);
        if (n > 0) {
            i += n;
            continue;
        }
        int gso = smsg[i].msg_hdr.msg_controllen != 0;
        if (gso && (errno == EIO || errno == EINVAL || errno == ENOPROTOOPT ||
                    errno == EOPNOTSUPP)) {
            gso_works = 0;
            say_once(&said_gso, "UDP_SEGMENT refused by the kernel; one datagram per send");
            refused |= send_split(i) < 0;
        } else if (errno == ECONNREFUSED) {
            refused = 1;
        } else if (errno == EINTR) {
            continue;
        }
        /* A full buffer or an unreachable peer: this message is lost, as
         * on the network. */
        i++;
    }
    queued = 0;
    if (refused) errno = ECONNREFUSED;
    return refused ? -1 : 0;
}

void udp_report(void) {
    logv("udp: sent %llu datagrams in %llu calls, received %llu in %llu calls%s",
         (unsigned long long)udp_counters.sent_datagrams,
         (unsigned long long)udp_counters.send_calls,
         (unsigned long long)udp_counters.received_datagrams,
         (unsigned long long)udp_counters.recv_calls,
         udp_no_batching ? " (--no-gso)" : !gso_works ? " (no GSO)" : !gro_works ? " (no GRO)" : "");
}
