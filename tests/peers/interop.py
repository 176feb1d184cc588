#!/usr/bin/env python3
"""make interop: libquic's example client and server against every other
QUIC stack that can be installed here, in both roles, over UDP loopback.

    python3 tests/peers/interop.py [--install] [--only PEER,...] [--case NAME,...] [-v]

Peers (their programs live in PEERS_DIR, by default ../shared/peers beside
the checkout; they are built or installed into CACHE, by default
~/.cache/libquic-interop, never into the tree):

- aioquic  tests/endpoints/hq.py on aioquic from the test venv (build/venv)
- quinn    quinn-peer (quinn 0.11 + rustls), built with cargo
- picoquic pquic_peer.py on the PyPI package aiopquic (needs Python >= 3.12)
- quiche   hq_server.mjs / hq_client.mjs on the npm package @matrixai/quic
           (quiche 0.18)

--install builds or installs every peer that is missing and can be had
(cargo, a Python >= 3.12, npm); a peer that cannot is skipped with the
command that would install it. Each case prints one line: PASS, FAIL (with
the reason and the last lines of output), KNOWN (a failure that is the
peer's, understood and documented in README.md) or N/A (the peer has no
such feature), then a summary. Exit status 1 when any case failed.

BUILD (default build/) holds quic-server, quic-client, the test certificates
and the venv, as `make` leaves them.
"""

import argparse
import hashlib
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
BUILD = Path(os.environ.get("BUILD", ROOT / "build")).resolve()
PEERS_DIR = Path(os.environ.get("PEERS_DIR", ROOT.parent / "shared" / "peers")).resolve()
CACHE = Path(os.environ.get("CACHE", Path.home() / ".cache" / "libquic-interop")).resolve()
CERTS = BUILD / "certs"
SERVER = BUILD / "quic-server"
CLIENT = BUILD / "quic-client"
VENV_PY = BUILD / "venv" / "bin" / "python"
HQ = ROOT / "tests" / "endpoints" / "hq.py"
V2 = "0x6b3343cf"
CASE_TIMEOUT = 60

QUINN_BIN = CACHE / "quinn-target" / "release" / "quinn-peer"
PQUIC_VENV = CACHE / "pquic-venv"
QUICHE_DIR = CACHE / "node-quiche"

verbose = False


def log(msg):
    print(msg, flush=True)


# ---------------------------------------------------------------- install

def find_python312():
    """A Python >= 3.12 that runs (aiopquic needs it): one on PATH, or one
    of pyenv's versions (its shims may name versions that are not active)."""
    candidates = [shutil.which(n) for n in ("python3.13", "python3.12", "python3")]
    pyenv = Path.home() / ".pyenv" / "versions"
    if pyenv.is_dir():
        candidates += [str(v / "bin" / "python3") for v in sorted(pyenv.iterdir(), reverse=True)]
    for c in filter(None, candidates):
        try:
            r = subprocess.run([c, "-c", "import sys, venv; print(sys.version_info >= (3, 12))"],
                               capture_output=True, text=True, timeout=30)
        except OSError:
            continue
        if r.returncode == 0 and r.stdout.strip() == "True":
            return c
    return None


def installed():
    """Peer name -> None when usable, else how to get it."""
    out = {}
    out["aioquic"] = None if VENV_PY.exists() else "make build/venv/.installed"
    if not PEERS_DIR.is_dir():
        hint = f"the peer programs are not in {PEERS_DIR} (set PEERS_DIR)"
        for p in ("quinn", "picoquic", "quiche"):
            out[p] = hint
        return out
    out["quinn"] = None if QUINN_BIN.exists() else \
        f"cd {PEERS_DIR}/quinn-peer && CARGO_TARGET_DIR={CACHE}/quinn-target cargo build --release"
    out["picoquic"] = None if (PQUIC_VENV / "bin" / "python").exists() else \
        f"python3.12 -m venv {PQUIC_VENV} && {PQUIC_VENV}/bin/pip install 'aiopquic==0.6.1'"
    out["quiche"] = None if (QUICHE_DIR / "node_modules" / "@matrixai" / "quic").is_dir() else \
        f"cp -r {PEERS_DIR}/node-quiche {QUICHE_DIR} && cd {QUICHE_DIR} && npm install"
    return out


def install():
    """Builds or installs each missing peer that the machine can have."""
    CACHE.mkdir(parents=True, exist_ok=True)
    state = installed()
    if state["quinn"] and PEERS_DIR.is_dir() and shutil.which("cargo"):
        log("interop: building quinn-peer (a few minutes the first time)")
        env = dict(os.environ, CARGO_TARGET_DIR=str(CACHE / "quinn-target"))
        subprocess.run(["cargo", "build", "--release", "--quiet"], cwd=PEERS_DIR / "quinn-peer",
                       env=env, check=False)
    if state["picoquic"] and PEERS_DIR.is_dir():
        py = find_python312()
        if py:
            log(f"interop: installing aiopquic into {PQUIC_VENV} with {py}")
            made = subprocess.run([py, "-m", "venv", str(PQUIC_VENV)], check=False)
            if made.returncode == 0:
                subprocess.run([str(PQUIC_VENV / "bin" / "pip"), "install", "-q",
                                "--disable-pip-version-check", "aiopquic==0.6.1"], check=False)
    if state["quiche"] and PEERS_DIR.is_dir() and shutil.which("npm"):
        log(f"interop: installing @matrixai/quic into {QUICHE_DIR}")
        shutil.rmtree(QUICHE_DIR, ignore_errors=True)
        shutil.copytree(PEERS_DIR / "node-quiche", QUICHE_DIR)
        for p in QUICHE_DIR.rglob("*"):
            p.chmod(p.stat().st_mode | 0o200)
        QUICHE_DIR.chmod(QUICHE_DIR.stat().st_mode | 0o200)
        subprocess.run(["npm", "install", "--no-audit", "--no-fund", "--silent"], cwd=QUICHE_DIR,
                       check=False)


# ---------------------------------------------------------------- fixtures

def free_port(host):
    fam = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(fam, socket.SOCK_DGRAM) as s:
        s.bind((host, 0))
        return s.getsockname()[1]


def make_www(root):
    root.mkdir(parents=True, exist_ok=True)
    (root / "1mb.bin").write_bytes(os.urandom(1 << 20))
    (root / "10mb.bin").write_bytes(os.urandom(10 << 20))
    for i in range(40):
        (root / f"f{i}.txt").write_bytes(os.urandom(500 + 97 * i))


def make_rsa_cert(dir):
    """An RSA-2048 server certificate signed by the test CA."""
    key, pem = dir / "rsa.key", dir / "rsa.pem"
    if pem.exists():
        return pem, key
    csr, ext = dir / "rsa.csr", dir / "rsa.ext"
    subprocess.run(["openssl", "req", "-newkey", "rsa:2048", "-nodes", "-keyout", str(key),
                    "-out", str(csr), "-subj", "/CN=localhost"], check=True, capture_output=True)
    ext.write_text("subjectAltName=DNS:localhost,IP:127.0.0.1,IP:::1\n")
    subprocess.run(["openssl", "x509", "-req", "-in", str(csr), "-CA", str(CERTS / "ca.pem"),
                    "-CAkey", str(CERTS / "ca.key"), "-CAcreateserial", "-out", str(pem),
                    "-days", "30", "-extfile", str(ext)], check=True, capture_output=True)
    return pem, key


def digest(path):
    return hashlib.sha256(path.read_bytes()).hexdigest() if path.exists() else None


class Failed(Exception):
    pass


class Proc:
    """A server process whose output goes to a file; waits for its ready
    line."""

    def __init__(self, argv, ready, log_path, env=None, cwd=None):
        self.log_path = log_path
        self.log = open(log_path, "w")
        self.proc = subprocess.Popen(argv, stdout=self.log, stderr=subprocess.STDOUT, env=env,
                                     cwd=cwd, start_new_session=True)
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            if re.search(ready, Path(log_path).read_text(errors="replace")):
                return
            if self.proc.poll() is not None:
                break
            time.sleep(0.05)
        self.stop()
        raise Failed(f"server did not start: {tail(log_path)}")

    def text(self):
        return Path(self.log_path).read_text(errors="replace")

    def stop(self):
        if self.proc.poll() is None:
            try:
                os.killpg(self.proc.pid, 15)
                self.proc.wait(timeout=10)
            except (ProcessLookupError, subprocess.TimeoutExpired):
                os.killpg(self.proc.pid, 9)
        self.log.close()


def tail(path_or_text, n=6):
    text = Path(path_or_text).read_text(errors="replace") if isinstance(path_or_text, Path) \
        else path_or_text
    return " | ".join(text.strip().splitlines()[-n:])


def run(argv, env=None, cwd=None, timeout=CASE_TIMEOUT):
    try:
        r = subprocess.run(argv, capture_output=True, text=True, env=env, cwd=cwd,
                           timeout=timeout)
    except subprocess.TimeoutExpired:
        raise Failed(f"timed out after {timeout} s: {' '.join(map(str, argv[:3]))} ...")
    return r


# ---------------------------------------------------------------- cases
#
# A case is a name and a set of features. Features the peer lacks make the
# case N/A for it. libquic client -> peer server:

CLIENT_CASES = {
    "1mb": {"files": ["1mb.bin"]},
    "10mb": {"files": ["10mb.bin"]},
    "40files": {"files": [f"f{i}.txt" for i in range(40)]},
    "keylog": {"files": ["1mb.bin"], "keylog": True},
    "rsa": {"files": ["f1.txt"], "rsa": True},
    "ipv6": {"files": ["1mb.bin"], "host": "::1"},
    "retry": {"files": ["f2.txt"], "need": "retry"},
    "chacha20": {"files": ["1mb.bin"], "args": ["--chacha20"], "need": "chacha20"},
    "keyupdate": {"files": ["1mb.bin"], "args": ["--key-update"], "need": "keyupdate"},
    "resumption": {"files": ["f3.txt"], "tickets": True, "need": "tickets",
                   "expect2": "session resumed"},
    "zerortt": {"files": ["f4.txt"], "tickets": True, "args": ["--zero-rtt"], "need": "tickets",
                "expect2": "early data accepted"},
    "v2": {"files": ["1mb.bin"], "args": ["--v2"], "need": "v2", "expect": f"version {V2}"},
    "datagram": {"files": ["f5.txt"], "args": ["--datagram", "100"], "need": "datagram",
                 "expect": "100 datagram(s) echoed"},
    # RFC 9000 §9: a new local port with a new CID after 100 KB, validated
    # first; and the same port change unannounced, as a NAT rebinding.
    "migrate": {"files": ["10mb.bin"], "args": ["--migrate"], "need": "migration",
                "expect": "migrated to"},
    "rebind": {"files": ["10mb.bin"], "args": ["--rebind"], "need": "migration",
               "expect": "rebound"},
    # RFC 9000 §13.4: a peer that does ECN counts our marks and validates
    # the path; one that does not leaves it failed, the file intact.
    "ecn": {"files": ["1mb.bin"], "need": "ecn", "expect": "ecn: path capable"},
    "ecn-off": {"files": ["1mb.bin"], "need": "no-ecn", "expect": "ecn: path failed"},
    # RFC 8899: probes above 1200 bytes are answered on loopback (within
    # the peer's max_udp_payload_size), so datagrams grow.
    "pmtu": {"files": ["10mb.bin"], "expect_re": r"pmtu: (1[3-4]\d\d) bytes"},
}

# peer client -> libquic server:

SERVER_CASES = {
    "1mb": {"files": ["1mb.bin"]},
    "10mb": {"files": ["10mb.bin"]},
    "40files": {"files": [f"f{i}.txt" for i in range(40)]},
    "ipv6": {"files": ["1mb.bin"], "host": "::1"},
    "retry": {"files": ["f2.txt"], "server": ["--retry"], "need": "retry",
              "expect_server": "address validated by Retry"},
    "chacha20": {"files": ["1mb.bin"], "server": ["--chacha20"], "need": "chacha20",
                 "expect_server": "cipher 0x1303"},
    "keyupdate": {"files": ["10mb.bin"], "need": "keyupdate"},
    "resumption": {"files": ["f3.txt"], "need": "tickets", "expect_server": "session resumed"},
    "zerortt": {"files": ["f4.txt"], "server": ["--zero-rtt"], "need": "zerortt",
                "expect_server": "0-RTT accepted"},
    "v2": {"files": ["1mb.bin"], "server": ["--v2"], "need": "v2",
           "expect_server": f"version {V2}"},
    "datagram": {"files": ["f5.txt"], "server": ["--datagram-echo"], "need": "datagram"},
    "rebind": {"files": ["10mb.bin"], "need": "rebind", "expect_server": "client moved to"},
    # RFC 9000 §9.6: quic-server --preferred-address on a second port; the
    # client validates it and moves there (the server logs the path it
    # validated at that address).
    "preferred": {"files": ["10mb.bin"], "need": "preferred", "preferred": True},
    "ecn": {"files": ["1mb.bin"], "need": "ecn", "expect_server": "ecn: path capable"},
    "ecn-off": {"files": ["1mb.bin"], "need": "no-ecn", "expect_server": "ecn: path failed"},
    "pmtu": {"files": ["10mb.bin"], "expect_server_re": r"pmtu (1[3-4]\d\d) bytes"},
}


# Failures that are the peer's, understood and documented (README:
# Interoperability): they print KNOWN with the reason and do not fail the
# run; a pass prints PASS as usual.
KNOWN = {
    ("quiche", "libquic-client", "40files"):
        "quiche 0.18 drops a stream whose only pending frame is a zero-length FIN from its "
        "send queue when a packet has no room for it, and never queues it again",
}


# ---------------------------------------------------------------- peers as servers

def peer_server(peer, feats, host, port, cert, key, www, logdir):
    """Starts `peer` as a server with the features in `feats`."""
    lp = logdir / f"{peer}-server.log"
    if peer == "aioquic":
        opts = [o for o, f in (("retry", "retry"), ("tickets", "tickets"), ("v2", "v2"),
                               ("datagram-echo", "datagram")) if f in feats]
        env = dict(os.environ, HQ_OPTIONS=",".join(opts))
        return Proc([str(VENV_PY), "-u", str(HQ), "serve", host, str(port), str(cert), str(key),
                     str(www)], r"listening", lp, env=env)
    if peer == "quinn":
        h = f"[{host}]" if ":" in host else host
        argv = [str(QUINN_BIN), "server", "--listen", f"{h}:{port}", "--cert", str(cert),
                "--key", str(key), "--root", str(www)]
        argv += ["--retry"] if "retry" in feats else []
        argv += ["--datagram-echo"] if "datagram" in feats else []
        return Proc(argv, r"LISTENING", lp)
    if peer == "picoquic":
        argv = [str(PQUIC_VENV / "bin" / "python"), "-u", str(PEERS_DIR / "pquic_peer.py"),
                "server", "--host", host, "--port", str(port), "--root", str(www),
                "--cert", str(cert), "--key", str(key)]
        argv += ["--retry"] if "retry" in feats else []
        return Proc(argv, r"LISTENING", lp)
    if peer == "quiche":
        return Proc(["node", str(QUICHE_DIR / "hq_server.mjs"), "--host", host, "--port",
                     str(port), "--root", str(www), "--cert", str(cert), "--key", str(key)],
                    r"LISTENING", lp, cwd=QUICHE_DIR)
    raise ValueError(peer)


# What each peer's server can do (features of CLIENT_CASES' "need").
SERVER_FEATURES = {
    "aioquic": {"retry", "chacha20", "keyupdate", "tickets", "v2", "datagram", "migration",
                "no-ecn"},
    "quinn": {"retry", "chacha20", "keyupdate", "tickets", "datagram", "migration", "ecn"},
    "picoquic": {"retry", "chacha20", "keyupdate", "tickets", "v2", "migration", "ecn"},
    # quiche's Node server sends a Retry to every new client, so every
    # case against it goes through one; it has no ticket or DATAGRAM
    # settings and speaks v1 only. It sends disable_active_migration
    # (quic-client --migrate is refused with MIGRATION_DISABLED) and drops
    # packets from a client's new address, as RFC 9000 §9 allows it to.
    "quiche": {"retry", "chacha20", "keyupdate", "no-ecn"},
}


def case_libquic_client(peer, name, spec, www, tmp):
    feats = {spec["need"]} if "need" in spec else set()
    host = spec.get("host", "127.0.0.1")
    cert, key = (make_rsa_cert(tmp.parent) if spec.get("rsa")
                 else (CERTS / "server.pem", CERTS / "server.key"))
    port = free_port(host)
    srv = peer_server(peer, feats, host, port, cert, key, www, tmp)
    try:
        h = f"[{host}]" if ":" in host else host
        urls = [f"https://{h}:{port}/{f}" for f in spec["files"]]
        args = [str(CLIENT), "--ca", str(CERTS / "ca.pem"), "-v", *spec.get("args", [])]
        runs = 2 if spec.get("tickets") else 1
        if spec.get("tickets"):
            args += ["--session-ticket", str(tmp / "ticket")]
        if spec.get("keylog"):
            args += ["--keylog", str(tmp / "keys.log")]
        for i in range(runs):
            out = tmp / f"out{i}"
            out.mkdir()
            r = run(args + ["--output", str(out), *urls])
            if r.returncode != 0:
                raise Failed(f"run {i + 1}: exit {r.returncode}: {tail(r.stderr)}")
            for f in spec["files"]:
                if digest(out / f) != digest(www / f):
                    raise Failed(f"{f} differs")
            if "expect" in spec and spec["expect"] not in r.stderr:
                raise Failed(f"no '{spec['expect']}': {tail(r.stderr)}")
            if "expect_re" in spec and not re.search(spec["expect_re"], r.stderr):
                raise Failed(f"no match for {spec['expect_re']}: {tail(r.stderr)}")
        if "expect2" in spec and spec["expect2"] not in r.stderr:
            raise Failed(f"second run: no '{spec['expect2']}': {tail(r.stderr)}")
        if spec.get("keylog"):
            labels = {line.split()[0] for line in (tmp / "keys.log").read_text().splitlines()
                      if line.strip()}
            want = {"CLIENT_HANDSHAKE_TRAFFIC_SECRET", "SERVER_HANDSHAKE_TRAFFIC_SECRET",
                    "CLIENT_TRAFFIC_SECRET_0", "SERVER_TRAFFIC_SECRET_0"}
            if not want <= labels:
                raise Failed(f"key log lacks {sorted(want - labels)}")
    finally:
        srv.stop()


# ---------------------------------------------------------------- peers as clients

CLIENT_FEATURES = {
    "aioquic": {"retry", "keyupdate", "tickets", "zerortt", "v2", "datagram", "preferred",
                "no-ecn"},
    # quinn 0.11's client takes the preferred address's connection ID but
    # never moves there (quinn-proto's set_peer_params).
    "quinn": {"retry", "chacha20", "keyupdate", "tickets", "zerortt", "datagram", "rebind",
              "ecn"},
    "picoquic": {"retry", "chacha20", "keyupdate", "tickets", "zerortt", "v2", "preferred",
                 "ecn"},
    "quiche": {"retry", "no-ecn"},
}


def peer_client(peer, name, host, port, files, out, tmp):
    """Runs `peer`'s client for SERVER_CASES[name]; returns its result."""
    h = f"[{host}]" if ":" in host else host
    urls = [f"https://{h}:{port}/{f}" for f in files]
    ca = str(CERTS / "ca.pem")
    if peer == "aioquic":
        opts = {"keyupdate": "keyupdate", "zerortt": "zerortt", "v2": "v2"}
        env = dict(os.environ, HQ_OPTIONS=opts.get(name, ""))
        if name == "datagram":
            env["HQ_DATAGRAMS"] = "100"
        runs = 1
        if name in ("resumption", "zerortt"):
            env["HQ_TICKET"] = str(tmp / "ticket")
            runs = 2
        for _ in range(runs):
            r = run([str(VENV_PY), str(HQ), "get", ca, str(out), *urls], env=env)
            if r.returncode:
                return r
        return r
    if peer == "quinn":
        extra = {"chacha20": ["--chacha20"], "keyupdate": ["--key-update"],
                 "resumption": ["--resume"], "zerortt": ["--zero-rtt"],
                 "datagram": ["--datagram", "100"], "rebind": ["--rebind"]}.get(name, [])
        return run([str(QUINN_BIN), "client", "--ca", ca, "--output", str(out), *extra, *urls])
    if peer == "picoquic":
        py = str(PQUIC_VENV / "bin" / "python")
        base = [py, str(PEERS_DIR / "pquic_peer.py"), "client", "--ca", ca, "-o", str(out)]
        extra = {"chacha20": ["--chacha20"], "keyupdate": ["--key-update-interval", "200"],
                 "v2": ["--v2"]}.get(name, [])
        runs = 1
        if name in ("resumption", "zerortt"):
            extra = ["--session-ticket", str(tmp / "ticket")]
            extra += ["--zero-rtt"] if name == "zerortt" else []
            runs = 2
        for _ in range(runs):
            r = run(base + extra + urls)
            if r.returncode:
                return r
        return r
    if peer == "quiche":
        return run(["node", str(QUICHE_DIR / "hq_client.mjs"), "--ca", ca, "--output", str(out),
                    *urls], cwd=QUICHE_DIR)
    raise ValueError(peer)


def case_libquic_server(peer, name, spec, www, tmp):
    host = spec.get("host", "127.0.0.1")
    port = free_port(host)
    h = f"[{host}]" if ":" in host else host
    extra = list(spec.get("server", []))
    expect = spec.get("expect_server")
    if spec.get("preferred"):
        preferred = f"{h}:{free_port(host)}"
        extra += ["--preferred-address", preferred]
        expect = f"at {preferred}"
    srv = Proc([str(SERVER), "--listen", f"{h}:{port}", "--cert", str(CERTS / "server.pem"),
                "--key", str(CERTS / "server.key"), "--root", str(www), "-v", *extra],
               r"listening on", tmp / "quic-server.log")
    try:
        out = tmp / "out"
        out.mkdir()
        r = peer_client(peer, name, host, port, spec["files"], out, tmp)
        if r.returncode != 0:
            raise Failed(f"exit {r.returncode}: {tail(r.stdout + r.stderr)}")
        for f in spec["files"]:
            if digest(out / f) != digest(www / f):
                raise Failed(f"{f} differs or is missing")
        if expect and expect not in srv.text():
            raise Failed(f"server log lacks '{expect}': {tail(srv.text())}")
        expect_re = spec.get("expect_server_re")
        if expect_re and not re.search(expect_re, srv.text()):
            raise Failed(f"server log lacks {expect_re}: {tail(srv.text())}")
    finally:
        srv.stop()


# ---------------------------------------------------------------- main

def main():
    global verbose
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--install", action="store_true", help="install missing peers first")
    ap.add_argument("--only", help="comma-separated peers")
    ap.add_argument("--case", help="comma-separated case names")
    ap.add_argument("-v", action="store_true")
    a = ap.parse_args()
    verbose = a.v
    for need in (SERVER, CLIENT, CERTS / "ca.pem"):
        if not need.exists():
            sys.exit(f"interop: {need} is missing: run make first")
    if a.install:
        install()
    state = installed()
    peers = [p for p in ("aioquic", "quinn", "picoquic", "quiche")
             if not a.only or p in a.only.split(",")]
    cases = set(a.case.split(",")) if a.case else None
    results = {"PASS": 0, "FAIL": 0, "N/A": 0, "KNOWN": 0}
    skipped = {p: state[p] for p in peers if state[p]}
    work = Path(tempfile.mkdtemp(prefix="libquic-interop-"))
    www = work / "www"
    make_www(www)
    started = time.monotonic()
    for peer in peers:
        if peer in skipped:
            continue
        for role, table, feats, fn in (
                ("libquic-client", CLIENT_CASES, SERVER_FEATURES, case_libquic_client),
                ("libquic-server", SERVER_CASES, CLIENT_FEATURES, case_libquic_server)):
            for name, spec in table.items():
                if cases and name not in cases:
                    continue
                label = f"{peer:9} {role:15} {name:11}"
                if "need" in spec and spec["need"] not in feats[peer]:
                    results["N/A"] += 1
                    if verbose:
                        log(f"N/A   {label}")
                    continue
                tmp = work / f"{peer}-{role}-{name}"
                tmp.mkdir()
                t = time.monotonic()
                try:
                    fn(peer, name, spec, www, tmp)
                    results["PASS"] += 1
                    log(f"PASS  {label} {time.monotonic() - t:5.1f} s")
                except Failed as e:
                    known = KNOWN.get((peer, role, name))
                    verdict = "KNOWN" if known else "FAIL"
                    results[verdict] += 1
                    log(f"{verdict:5} {label} {time.monotonic() - t:5.1f} s  {known or e}")
    for peer, how in skipped.items():
        log(f"SKIP {peer}: not installed; make interop installs it, or: {how}")
    log(f"interop: {results['PASS']} passed, {results['FAIL']} failed, {results['KNOWN']} known "
        f"failure(s) of a peer, {results['N/A']} not applicable, {len(skipped)} peer(s) skipped, "
        f"in {time.monotonic() - started:.0f} s")
    if results["FAIL"] or results["KNOWN"]:
        log(f"interop: logs of every case in {work}")
    else:
        shutil.rmtree(work, ignore_errors=True)
    return 1 if results["FAIL"] else 0


if __name__ == "__main__":
    sys.exit(main())
