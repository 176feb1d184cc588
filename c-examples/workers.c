#define _GNU_SOURCE
#include "workers.h"

#include <errno.h>
#include <linux/filter.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#ifndef SO_ATTACH_REUSEPORT_CBPF
#define SO_ATTACH_REUSEPORT_CBPF 51
#endif

int open_worker_sockets(const struct sockaddr_storage *addr, socklen_t addrlen, int n, int *fds) {
    struct sockaddr_storage bound = *addr;
    for (int i = 0; i < n; i++) {
        fds[i] = socket(addr->ss_family, SOCK_DGRAM, 0);
        int one = 1, off = 0;
        if (fds[i] < 0 || setsockopt(fds[i], SOL_SOCKET, SO_REUSEPORT, &one, sizeof one) != 0) {
            perror("quic-server: SO_REUSEPORT");
            goto fail;
        }
        if (addr->ss_family == AF_INET6)
            setsockopt(fds[i], IPPROTO_IPV6, IPV6_V6ONLY, &off, sizeof off);
        if (bind(fds[i], (const struct sockaddr *)&bound, addrlen) != 0) {
            fprintf(stderr, "quic-server: worker socket %d cannot bind: %s\n", i, strerror(errno));
            goto fail;
        }
        if (i == 0) {
            /* Port 0 picked a port: every other worker joins that one. */
            socklen_t len = sizeof bound;
            getsockname(fds[0], (struct sockaddr *)&bound, &len);
        }
        continue;
    fail:
        for (int j = 0; j <= i; j++)
            if (fds[j] >= 0) close(fds[j]);
        return -1;
    }
    return 0;
}

int steer_by_connection_id(int fd, int n, size_t fleet_id_len) {
    /* Offsets count from the UDP payload. A short header's DCID starts at
     * byte 1; a long header's at byte 6, after its length at byte 5. The
     * worker byte follows the DCID's first octet and the fleet's part of
     * the server ID. */
    const unsigned short_at = (unsigned)(1 + 1 + fleet_id_len);
    const unsigned long_at = (unsigned)(6 + 1 + fleet_id_len);
    const unsigned long_min_dcid = (unsigned)(1 + fleet_id_len + 1);
    struct sock_filter code[] = {
        /* 0 */ BPF_STMT(BPF_LD | BPF_B | BPF_ABS, 0),
        /* 1 */ BPF_JUMP(BPF_JMP | BPF_JSET | BPF_K, 0x80, 2, 0), /* long: 4 */
        /* 2 */ BPF_STMT(BPF_LD | BPF_B | BPF_ABS, short_at),
        /* 3 */ BPF_STMT(BPF_JMP | BPF_JA, 3), /* to 7 */
        /* 4 */ BPF_STMT(BPF_LD | BPF_B | BPF_ABS, 5),
        /* 5 */ BPF_JUMP(BPF_JMP | BPF_JGE | BPF_K, long_min_dcid, 0, 3), /* short: 9 */
        /* 6 */ BPF_STMT(BPF_LD | BPF_B | BPF_ABS, long_at),
        /* 7 */ BPF_STMT(BPF_ALU | BPF_MOD | BPF_K, (unsigned)n),
        /* 8 */ BPF_STMT(BPF_RET | BPF_A, 0),
        /* 9: an index past the group: the kernel's hash decides */
        BPF_STMT(BPF_RET | BPF_K, 0xffffffffu),
    };
    struct sock_fprog prog = {.len = sizeof code / sizeof code[0], .filter = code};
    if (setsockopt(fd, SOL_SOCKET, SO_ATTACH_REUSEPORT_CBPF, &prog, sizeof prog) != 0) {
        perror("quic-server: SO_ATTACH_REUSEPORT_CBPF");
        return -1;
    }
    return 0;
}
