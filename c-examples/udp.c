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
static int gso_works = 1, gro_works = 1, ecn_works = 1;

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
    /* ECN: the TOS / traffic class byte of what arrives, for its marks. */
    static int said_tos;
    rc = family == AF_INET6
             ? setsockopt(fd, IPPROTO_IPV6, IPV6_RECVTCLASS, &on, sizeof on)
             : setsockopt(fd, IPPROTO_IP, IP_RECVTOS, &on, sizeof on);
    if (family == AF_INET6) /* IPv4 peers of a dual-stack socket */
        (void)setsockopt(fd, IPPROTO_IP, IP_RECVTOS, &on, sizeof on);
    if (rc != 0) say_once(&said_tos, "cannot read ECN marks; ECN stays off");
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
    int n_msgs = BATCH;
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
                if ((c->cmsg_level == IPPROTO_IP && c->cmsg_type == IP_TOS) ||
                    (c->cmsg_level == IPPROTO_IPV6 && c->cmsg_type == IPV6_TCLASS)) {
                    /* IP_TOS arrives as one byte, IPV6_TCLASS as an int. */
                    int tos = *CMSG_DATA(c);
                    if (c->cmsg_len >= CMSG_LEN(sizeof(int)))
                        memcpy(&tos, CMSG_DATA(c), sizeof tos); /* may be unaligned */
                    info.ecn = (uint8_t)(tos & 3);
                } else if (c->cmsg_level == SOL_UDP && c->cmsg_type == UDP_GRO) {
                    int seg;
                    memcpy(&seg, CMSG_DATA(c), sizeof seg);
                    if (seg > 0) {
                        info.segment_size = (uint64_t)seg;
                        segments = (len + (size_t)seg - 1) / (size_t)seg;
                    }
                }
            }
            udp_counters.received_datagrams += segments;
            udp_counters.received_buffers++;
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
static char sctrl[BATCH][CMSG_SPACE(sizeof(uint16_t)) + CMSG_SPACE(sizeof(int))];
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
    udp_counters.sent_buffers++;
    /* Control messages: the segment size of a GSO batch, the ECN mark. */
    memset(sctrl[i], 0, sizeof sctrl[i]);
    smsg[i].msg_hdr.msg_control = sctrl[i];
    smsg[i].msg_hdr.msg_controllen = sizeof sctrl[i];
    size_t used = 0;
    struct cmsghdr *c = CMSG_FIRSTHDR(&smsg[i].msg_hdr);
    if (segments > 1) {
        c->cmsg_level = SOL_UDP;
        c->cmsg_type = UDP_SEGMENT;
        c->cmsg_len = CMSG_LEN(sizeof(uint16_t));
        uint16_t s = (uint16_t)seg;
        memcpy(CMSG_DATA(c), &s, sizeof s);
        used += CMSG_SPACE(sizeof(uint16_t));
        c = CMSG_NXTHDR(&smsg[i].msg_hdr, c);
    }
    if (info->ecn && ecn_works && c) {
        int v6 = info->remote.ss_family == AF_INET6;
        c->cmsg_level = v6 ? IPPROTO_IPV6 : IPPROTO_IP;
        c->cmsg_type = v6 ? IPV6_TCLASS : IP_TOS;
        c->cmsg_len = CMSG_LEN(sizeof(int));
        int tos = info->ecn & 3;
        memcpy(CMSG_DATA(c), &tos, sizeof tos);
        used += CMSG_SPACE(sizeof(int));
    }
    smsg[i].msg_hdr.msg_controllen = used;
    if (!used) smsg[i].msg_hdr.msg_control = NULL;
    if (queued == BATCH) udp_flush();
}

/* Sends message `i` again as separate datagrams (GSO refused). */
static int send_split(int i) {
    struct msghdr *m = &smsg[i].msg_hdr;
    uint16_t seg;
    memcpy(&seg, CMSG_DATA(CMSG_FIRSTHDR(m)), sizeof seg);
    /* Without the segment size, and with the ECN mark if there was one. */
    struct cmsghdr *ecn = CMSG_NXTHDR(m, CMSG_FIRSTHDR(m));
    struct msghdr one = *m;
    struct iovec iov;
    one.msg_iov = &iov;
    one.msg_iovlen = 1;
    one.msg_control = ecn;
    one.msg_controllen = ecn ? CMSG_SPACE(sizeof(int)) : 0;
    if (!ecn) one.msg_control = NULL;
    for (size_t off = 0; off < siov[i].iov_len; off += seg) {
        size_t n = siov[i].iov_len - off < seg ? siov[i].iov_len - off : seg;
        iov = (struct iovec){.iov_base = sbuf[i] + off, .iov_len = n};
        udp_counters.send_calls++;
        if (sendmsg(sfd[i], &one, 0) < 0 && errno == ECONNREFUSED) return -1;
    }
    return 0;
}

int udp_flush(void) {
    static int said_gso, said_ecn;
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
        struct cmsghdr *first = CMSG_FIRSTHDR(&smsg[i].msg_hdr);
        int gso = first && first->cmsg_level == SOL_UDP;
        int refusal = errno == EIO || errno == EINVAL || errno == ENOPROTOOPT ||
                      errno == EOPNOTSUPP;
        if (gso && refusal) {
            gso_works = 0;
            say_once(&said_gso, "UDP_SEGMENT refused by the kernel; one datagram per send");
            refused |= send_split(i) < 0;
        } else if (first && refusal) {
            /* Only an ECN mark: send without, and mark nothing more. */
            ecn_works = 0;
            say_once(&said_ecn, "the kernel refused to send ECN marks; ECN off");
            smsg[i].msg_hdr.msg_control = NULL;
            smsg[i].msg_hdr.msg_controllen = 0;
            continue;
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
    logv("udp: sent %llu datagrams in %llu buffers, %llu calls; received %llu in %llu "
         "buffers, %llu calls%s",
         (unsigned long long)udp_counters.sent_datagrams,
         (unsigned long long)udp_counters.sent_buffers,
         (unsigned long long)udp_counters.send_calls,
         (unsigned long long)udp_counters.received_datagrams,
         (unsigned long long)udp_counters.received_buffers,
         (unsigned long long)udp_counters.recv_calls,
         udp_no_batching ? " (--no-gso)" : !gso_works ? " (no GSO)" : !gro_works ? " (no GRO)" : "");
}
