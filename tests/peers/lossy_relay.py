"""A UDP relay that loses, reorders and duplicates datagrams, seeded, for
comparing QUIC servers on a lossy path over real sockets.

    python lossy_relay.py LISTEN_PORT SERVER_PORT [--loss P] [--reorder P]
        [--reorder-ms MS] [--dup P] [--corrupt P] [--delay-ms MS] [--seed N]

Clients talk to 127.0.0.1:LISTEN_PORT; the relay forwards to
127.0.0.1:SERVER_PORT and back to the last client address it saw. Each
datagram, each way: lost with probability --loss; otherwise delayed by
--delay-ms, plus --reorder-ms more with probability --reorder (so later
datagrams overtake it); one bit flipped with probability --corrupt; and
sent twice with probability --dup. It prints
"relaying" when ready and a summary on SIGTERM or SIGINT.
"""

import argparse
import heapq
import random
import select
import signal
import socket
import sys
import time


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("listen", type=int)
    ap.add_argument("server", type=int)
    ap.add_argument("--loss", type=float, default=0.0)
    ap.add_argument("--reorder", type=float, default=0.0)
    ap.add_argument("--reorder-ms", type=float, default=5.0)
    ap.add_argument("--dup", type=float, default=0.0)
    ap.add_argument("--corrupt", type=float, default=0.0)
    ap.add_argument("--delay-ms", type=float, default=0.0)
    ap.add_argument("--seed", type=int, default=1)
    args = ap.parse_args()
    rng = random.Random(args.seed)

    front = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    front.bind(("127.0.0.1", args.listen))
    back = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    back.bind(("127.0.0.1", 0))
    for s in (front, back):
        s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4 << 20)
        s.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 4 << 20)
        s.setblocking(False)
    server = ("127.0.0.1", args.server)
    client = None
    pending = []  # (due, seq, to_server, datagram)
    seq = 0
    counts = {"in": 0, "lost": 0, "reordered": 0, "duplicated": 0, "corrupted": 0}

    def summary(*_):
        print("relay: %(in)d datagrams, %(lost)d lost, %(reordered)d reordered, "
              "%(duplicated)d duplicated, %(corrupted)d corrupted" % counts, flush=True)
        sys.exit(0)

    signal.signal(signal.SIGTERM, summary)
    signal.signal(signal.SIGINT, summary)
    print("relaying", flush=True)
    while True:
        now = time.monotonic()
        while pending and pending[0][0] <= now:
            _, _, to_server, d = heapq.heappop(pending)
            try:
                if to_server:
                    back.sendto(d, server)
                elif client is not None:
                    front.sendto(d, client)
            except (BlockingIOError, OSError):
                pass  # a full socket buffer drops, as a router would
        timeout = max(0.0, pending[0][0] - now) if pending else 0.5
        ready, _, _ = select.select([front, back], [], [], timeout)
        for s in ready:
            while True:
                try:
                    d, addr = s.recvfrom(65535)
                except BlockingIOError:
                    break
                to_server = s is front
                if to_server:
                    client = addr
                counts["in"] += 1
                if rng.random() < args.loss:
                    counts["lost"] += 1
                    continue
                if rng.random() < args.corrupt:
                    counts["corrupted"] += 1
                    bit = rng.randrange(len(d) * 8)
                    d = bytearray(d)
                    d[bit // 8] ^= 1 << (bit % 8)
                    d = bytes(d)
                delay = args.delay_ms / 1000
                if rng.random() < args.reorder:
                    counts["reordered"] += 1
                    delay += args.reorder_ms / 1000
                copies = 2 if rng.random() < args.dup else 1
                counts["duplicated"] += copies - 1
                for _ in range(copies):
                    seq += 1
                    heapq.heappush(pending, (time.monotonic() + delay, seq, to_server, d))


if __name__ == "__main__":
    main()
