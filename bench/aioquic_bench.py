"""aioquic's side of `make bench`: the same workloads as the Rust drivers,
through aioquic's sans-I/O QuicConnection, one client and one server in
this process, datagrams handed over in memory, at most BATCH per side per
turn, on a virtual clock.

    python aioquic_bench.py CERT_DIR bulk BATCH BYTES
    python aioquic_bench.py CERT_DIR streams BATCH COUNT SIZE
    python aioquic_bench.py CERT_DIR handshakes BATCH COUNT
    python aioquic_bench.py CERT_DIR memory BATCH PAIRS

Prints one JSON line: the work done ("units": bytes, streams or
handshakes), the process CPU seconds the workload took (interpreter start
and imports excluded), and the negotiated cipher suite and group, which
the caller checks against the pinned ones. The memory workload holds PAIRS
established pairs at once and reports bytes per connection: "heap" of
Python's allocator (tracemalloc; the cryptography library's own C heap is
not in it) and "rss"."""

import json
import os
import sys
import time
import tracemalloc

from aioquic import tls
from aioquic.quic import events as ev
from aioquic.quic.configuration import QuicConfiguration
from aioquic.quic.connection import QuicConnection

ALPN = "bench"
CLIENT_ADDR = ("10.0.0.1", 1)
SERVER_ADDR = ("10.0.0.2", 2)
MDS = 1350
QUEUE_CAP = 16 << 20
PIECE = 1 << 20

# aioquic offers a key share for every group it knows; pin X25519 as the
# other stacks do (it has no configuration setting for groups).
_context_init = tls.Context.__init__


def _pinned_init(self, *args, **kwargs):
    _context_init(self, *args, **kwargs)
    self._supported_groups = [tls.Group.X25519]


tls.Context.__init__ = _pinned_init

# The group the client saw in the server's key share.
negotiated = {"group": None}
_decode_public_key = tls.decode_public_key


def _recording_decode(key_share):
    negotiated["group"] = key_share[0]
    return _decode_public_key(key_share)


tls.decode_public_key = _recording_decode


def configs(certs):
    common = dict(
        alpn_protocols=[ALPN],
        cipher_suites=[tls.CipherSuite.AES_128_GCM_SHA256],
        max_datagram_size=MDS,
        max_data=16 << 20,
        max_stream_data=8 << 20,
    )
    client = QuicConfiguration(is_client=True, server_name="localhost", **common)
    client.load_verify_locations(os.path.join(certs, "ca.pem"))
    server = QuicConfiguration(is_client=False, **common)
    server.load_cert_chain(os.path.join(certs, "server.pem"), os.path.join(certs, "server.key"))
    return client, server


class Pair:
    """A client and a server with a lossless in-memory link."""

    def __init__(self, cconf, sconf, batch):
        self.client = QuicConnection(configuration=cconf)
        self.server = None
        self.sconf = sconf
        self.batch = batch
        self.now = 0.0
        # Datagrams sent but not yet delivered (the link takes BATCH a turn).
        self.to_server = []
        self.to_client = []
        self.client.connect(SERVER_ADDR, now=self.now)

    def turn(self):
        moved = False
        self.to_server += [d for d, _ in self.client.datagrams_to_send(self.now)]
        for d in self.to_server[: self.batch]:
            if self.server is None:
                self.server = QuicConnection(
                    configuration=self.sconf,
                    original_destination_connection_id=self.client.original_destination_connection_id,
                )
            self.server.receive_datagram(d, CLIENT_ADDR, self.now)
            moved = True
        del self.to_server[: self.batch]
        if self.server is not None:
            self.to_client += [d for d, _ in self.server.datagrams_to_send(self.now)]
            for d in self.to_client[: self.batch]:
                self.client.receive_datagram(d, SERVER_ADDR, self.now)
                moved = True
            del self.to_client[: self.batch]
        if not moved:
            timers = [t for t in (self.client.get_timer(), self.server and self.server.get_timer()) if t]
            # No delay on the link: let time pass so RTT and pacing stay finite.
            self.now = max(min(timers, default=self.now), self.now + 1e-5)
            for c in (self.client, self.server):
                if c is not None and (t := c.get_timer()) is not None and t <= self.now:
                    c.handle_timer(self.now)

    def events(self, conn):
        while conn is not None and (e := conn.next_event()) is not None:
            yield e

    def handshake(self):
        done = [False, False]
        while not all(done):
            self.turn()
            for i, c in enumerate((self.client, self.server)):
                for e in self.events(c):
                    done[i] |= isinstance(e, ev.HandshakeCompleted)

    def bulk(self, data):
        """Sends `data` on one stream, with the same backpressure as the
        Rust drivers (aioquic has no query for it, so the driver counts
        what the server has received); returns the bytes received."""
        written = got = 0
        done = False
        while not done:
            while written < len(data) and written - got + PIECE <= QUEUE_CAP:
                end = min(written + PIECE, len(data))
                self.client.send_stream_data(0, data[written:end], end_stream=end == len(data))
                written = end
            self.turn()
            for _ in self.events(self.client):
                pass
            for e in self.events(self.server):
                if isinstance(e, ev.StreamDataReceived):
                    got += len(e.data)
                    done |= e.end_stream
        return got

    def streams(self, n, size):
        """`n` request/response streams of `size` bytes each way, at most
        the server's stream limit open at once; returns those completed."""
        body = bytes([7]) * size
        opened = finished = 0
        limit = 100  # aioquic's default max_streams_bidi
        while finished < n:
            while opened < n and opened - finished < limit:
                self.client.send_stream_data(opened * 4, body, end_stream=True)
                opened += 1
            self.turn()
            for e in self.events(self.client):
                if isinstance(e, ev.StreamDataReceived) and e.end_stream:
                    finished += 1
            for e in self.events(self.server):
                if isinstance(e, ev.StreamDataReceived) and e.end_stream:
                    self.server.send_stream_data(e.stream_id, body, end_stream=True)
        return finished

    def negotiated(self):
        return int(self.client.tls.key_schedule.cipher_suite), negotiated["group"]


def rss():
    """Resident set size in bytes."""
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def main():
    certs, workload, batch = sys.argv[1], sys.argv[2], int(sys.argv[3])
    cconf, sconf = configs(certs)
    start = time.process_time()
    if workload == "bulk":
        size = int(sys.argv[4])
        data = bytes((i * 7 + (i >> 12)) & 0xFF for i in range(min(size, 1 << 20)))
        data = (data * (size // len(data) + 1))[:size]
        start = time.process_time()
        p = Pair(cconf, sconf, batch)
        p.handshake()
        units = p.bulk(data)
    elif workload == "streams":
        p = Pair(cconf, sconf, batch)
        p.handshake()
        units = p.streams(int(sys.argv[4]), int(sys.argv[5]))
    elif workload == "handshakes":
        units = 0
        for _ in range(int(sys.argv[4])):
            p = Pair(cconf, sconf, batch)
            p.handshake()
            units += 1
    elif workload == "memory":
        pairs = int(sys.argv[4])
        out = {"units": pairs}
        tracemalloc.start()
        heap0, rss0 = tracemalloc.get_traced_memory()[0], rss()
        held = []
        for _ in range(pairs):
            p = Pair(cconf, sconf, batch)
            p.handshake()
            held.append(p)
        out["heap"] = (tracemalloc.get_traced_memory()[0] - heap0) / (2 * pairs)
        out["rss"] = (rss() - rss0) / (2 * pairs)
        out["cpu"] = time.process_time() - start
        out["suite"], out["group"] = p.negotiated()
        print(json.dumps(out))
        return
    else:
        sys.exit(f"unknown workload {workload}")
    cpu = time.process_time() - start
    suite, group = p.negotiated()
    print(json.dumps({"units": units, "cpu": cpu, "suite": suite, "group": group}))


if __name__ == "__main__":
    main()
