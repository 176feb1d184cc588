"""Over real UDP on loopback, through lossy_relay.py: how long aioquic's
client (tests/endpoints/hq.py) takes to download one file from quic-server
and from aioquic's own server (hq.py), on the same lossy path, in turns.

    python loss_compare.py BUILD CERT_DIR [--mb 5] [--loss 0.10]
        [--reorder 0] [--dup 0] [--corrupt 0] [--runs 5]

What each side does: the server serves a directory over HTTP/0.9 (ALPN
hq-interop) with its defaults (quic-server: CUBIC; aioquic: its Reno); the
client is the same aioquic program for both, fetching one URL and writing
it to a file, which is compared with the original. Run r uses relay seed r
for both servers, so they meet the same loss pattern per datagram index.
Wall-clock time on a shared machine: compare the ratio of medians, not
the seconds. `make bench-udp` runs it.
"""

import argparse
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
HQ = os.path.join(HERE, "..", "endpoints", "hq.py")
RELAY = os.path.join(HERE, "lossy_relay.py")


def free_port():
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start(cmd, ready):
    p = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    line = p.stdout.readline()
    if not line.startswith(ready):
        p.kill()
        raise SystemExit(f"{cmd[0]} did not start: {line!r}")
    return p, line


def stop(p):
    p.terminate()
    try:
        p.wait(timeout=10)
    except subprocess.TimeoutExpired:
        p.kill()


def one(server_kind, args, root, name, seed):
    certs = args.certs
    cert, key, ca = (os.path.join(certs, f) for f in ("server.pem", "server.key", "ca.pem"))
    if server_kind == "libquic":
        srv, line = start([os.path.join(args.build, "quic-server"), "--listen", "127.0.0.1:0",
                           "--cert", cert, "--key", key, "--root", root], "listening on")
        port = int(line.rsplit(":", 1)[1])
    else:
        port = free_port()
        srv, _ = start([sys.executable, HQ, "serve", "127.0.0.1", str(port), cert, key, root],
                       "listening")
    front = free_port()
    relay, _ = start([sys.executable, RELAY, str(front), str(port), "--loss", str(args.loss),
                      "--reorder", str(args.reorder), "--dup", str(args.dup),
                      "--corrupt", str(args.corrupt),
                      "--seed", str(seed)], "relaying")
    try:
        with tempfile.TemporaryDirectory() as out:
            t0 = time.monotonic()
            r = subprocess.run([sys.executable, HQ, "get", ca, out,
                                f"https://127.0.0.1:{front}/{name}"],
                               capture_output=True, text=True, timeout=600)
            elapsed = time.monotonic() - t0
            got = os.path.join(out, name)
            with open(os.path.join(root, name), "rb") as a:
                intact = r.returncode == 0 and os.path.exists(got) and open(got, "rb").read() == a.read()
            if not intact:
                raise SystemExit(f"{server_kind}: the download failed: {r.stderr[-500:]}")
            return elapsed
    finally:
        stop(relay)
        stop(srv)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("build")
    ap.add_argument("certs")
    ap.add_argument("--mb", type=int, default=5)
    ap.add_argument("--loss", type=float, default=0.10)
    ap.add_argument("--reorder", type=float, default=0.0)
    ap.add_argument("--dup", type=float, default=0.0)
    ap.add_argument("--corrupt", type=float, default=0.0)
    ap.add_argument("--runs", type=int, default=5)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as root:
        name = "body.bin"
        with open(os.path.join(root, name), "wb") as f:
            f.write(os.urandom(args.mb << 20))
        times = {"libquic": [], "aioquic": []}
        for seed in range(1, args.runs + 1):
            for kind in ("libquic", "aioquic"):
                t = one(kind, args, root, name, seed)
                times[kind].append(t)
                print(f"run {seed}: {kind:8} server {t:6.2f} s", flush=True)
    lib, aio = statistics.median(times["libquic"]), statistics.median(times["aioquic"])
    print(f"\n{args.mb} MB to aioquic's client through the relay (loss {args.loss:.0%}, "
          f"reorder {args.reorder:.0%}, duplicate {args.dup:.0%}, corrupt {args.corrupt:.0%}), "
          f"median of {args.runs}:")
    print(f"  quic-server  {lib:6.2f} s")
    print(f"  aioquic      {aio:6.2f} s")
    print(f"  quic-server takes {lib / aio:.2f}x aioquic's time")


if __name__ == "__main__":
    main()
