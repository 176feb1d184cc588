"""How much memory quic-server's echo holds for clients that read slowly.

    python slow_readers.py BUILD CERT_DIR [--clients 100] [--mb 2]
        [--read-kb 32] [--every-ms 100] [--server PATH]

N libquic clients (through tests/interop/lq.py, in read mode, one UDP
socket each, all in this process) connect to quic-server with ALPN "echo"
at once, each uploads MB megabytes on one stream with FIN, and each reads
its echo at READ_KB kilobytes every EVERY_MS milliseconds: far slower than
loopback carries it, so the server's echo cannot drain and the clients'
uploads must wait for it. The clients check every byte that comes back.

The server's resident memory is sampled (/proc/PID/status) after the
handshakes (the baseline) and while the echoes run; its peak (VmHWM) less
the baseline, per client, is what one slow reader costs. Prints one summary
line; exits 1 if an echo did not come back intact. `make bench-echo` runs
it.
"""

import argparse
import os
import select
import socket
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "interop"))
import lq  # noqa: E402


def pattern(seed, offset, n):
    """The bytes of client `seed`'s upload at `offset`: cheap to check."""
    base = (seed * 131) & 0xFF
    return bytes((base + ((offset + i) * 7 & 0xFF)) & 0xFF for i in range(n))


def memory_kb(pid, field):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    return 0


class Client:
    def __init__(self, seed, config, port, size):
        self.seed, self.size = seed, size
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.setblocking(False)
        self.conn = lq.Connection(config)
        self.peer = ("127.0.0.1", port)
        self.conn.connect(self.peer, time.monotonic())
        self.established = self.sent = self.done = False
        self.received = 0
        self.next_read = 0.0

    def flush(self):
        for data, addr in self.conn.datagrams_to_send(time.monotonic()):
            try:
                self.sock.sendto(data, addr)
            except BlockingIOError:
                pass  # a full socket buffer loses the datagram, as a path would

    def on_readable(self):
        while True:
            try:
                data, addr = self.sock.recvfrom(65536)
            except BlockingIOError:
                break
            self.conn.receive_datagram(data, addr, time.monotonic())

    def events(self):
        while (e := self.conn.next_event()) is not None:
            if e["kind"] == lq.HANDSHAKE_COMPLETED:
                self.established = True
            elif e["kind"] == lq.CONNECTION_TERMINATED:
                raise SystemExit(f"client {self.seed}: connection ended after {self.received} of "
                                 f"{self.size} bytes (established: {self.established}): {e}")

    def upload(self):
        self.conn.send_stream_data(0, pattern(self.seed, 0, self.size), True)
        self.sent = True

    def read(self, cap):
        got = self.conn.stream_read(0, cap)
        if got is None:
            return
        data, fin = got
        if data != pattern(self.seed, self.received, len(data)):
            raise SystemExit(f"client {self.seed}: corrupt echo at {self.received}")
        self.received += len(data)
        if fin:
            if self.received != self.size:
                raise SystemExit(f"client {self.seed}: echo ended at {self.received}")
            self.done = True


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("build")
    ap.add_argument("certs")
    ap.add_argument("--clients", type=int, default=100)
    ap.add_argument("--mb", type=float, default=2)
    ap.add_argument("--read-kb", type=int, default=32)
    ap.add_argument("--every-ms", type=int, default=100)
    ap.add_argument("--server", default=None, help="another quic-server binary to measure")
    ap.add_argument("--server-log", default=None, help="run the server with -v, its log here")
    args = ap.parse_args()
    certs = args.certs
    server = subprocess.Popen(
        [args.server or os.path.join(args.build, "quic-server"), "--listen", "127.0.0.1:0",
         "--cert", os.path.join(certs, "server.pem"), "--key", os.path.join(certs, "server.key"),
         "--root", certs] + (["-v"] if args.server_log else []),
        stdout=subprocess.PIPE,
        stderr=open(args.server_log, "w") if args.server_log else subprocess.DEVNULL, text=True)
    line = server.stdout.readline()
    if not line.startswith("listening on"):
        server.kill()
        raise SystemExit(f"quic-server did not start: {line!r}")
    port = int(line.rsplit(":", 1)[1])
    config = lq.Config(True, alpn=["echo"], server_name="localhost",
                       cafile=os.path.join(certs, "ca.pem"), read_mode=True,
                       max_stream_data=64 * 1024, max_windows=(64 * 1024, 1 << 20))
    size = int(args.mb * (1 << 20))
    start = time.monotonic()
    try:
        clients = [Client(i, config, port, size) for i in range(args.clients)]
        by_fd = {c.sock.fileno(): c for c in clients}
        baseline = peak_rss = 0
        while not all(c.done for c in clients):
            now = time.monotonic()
            if now - start > 600:
                raise SystemExit("the echoes did not finish in 10 minutes")
            timers = [t for c in clients if (t := c.conn.get_timer()) is not None]
            wait = max(0.0, min([now + 0.01] + timers) - now)
            for fd in select.select(list(by_fd), [], [], wait)[0]:
                by_fd[fd].on_readable()
            now = time.monotonic()
            for c in clients:
                t = c.conn.get_timer()
                if t is not None and t <= now:
                    c.conn.handle_timer(now)
                c.events()
            if not baseline and all(c.established for c in clients):
                baseline = memory_kb(server.pid, "VmRSS")
                for c in clients:
                    c.upload()
            for c in clients:
                if c.sent and not c.done and now >= c.next_read:
                    c.read(args.read_kb * 1024)
                    c.next_read = now + args.every_ms / 1000
                c.flush()
            peak_rss = max(peak_rss, memory_kb(server.pid, "VmRSS"))
        took = time.monotonic() - start
        hwm = memory_kb(server.pid, "VmHWM")
    finally:
        server.terminate()
        server.wait(timeout=10)
    per_client = (hwm - baseline) / args.clients
    print(f"quic-server echo, {args.clients} clients x {args.mb:g} MB read at "
          f"{args.read_kb} KB per {args.every_ms} ms: all intact in {took:.1f} s; server RSS "
          f"{baseline / 1024:.1f} MB after the handshakes, peak {hwm / 1024:.1f} MB: "
          f"{per_client:.0f} KB per slow reader")


if __name__ == "__main__":
    main()
