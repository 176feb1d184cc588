"""The c-examples quic-server and quic-client over real UDP on loopback,
against each other and against aioquic's asyncio endpoints (hq.py).
Run by `make test` with BUILD pointing at the built programs."""

import hashlib
import threading
import os
import re
import select
import socket
import subprocess
import sys
import time

import pytest

BUILD = os.environ.get("BUILD", os.path.join(os.path.dirname(__file__), "../../build"))
CERTS = os.path.join(BUILD, "certs")
CA, CERT, KEY = (os.path.join(CERTS, f) for f in ("ca.pem", "server.pem", "server.key"))
SERVER, CLIENT = os.path.join(BUILD, "quic-server"), os.path.join(BUILD, "quic-client")
HQ = os.path.join(os.path.dirname(__file__), "hq.py")
VALGRIND = os.environ.get("VALGRIND", "").split()


def digest(path):
    with open(path, "rb") as f:
        return hashlib.sha256(f.read()).hexdigest()


@pytest.fixture(scope="module")
def www(tmp_path_factory):
    root = tmp_path_factory.mktemp("www")
    sizes = {"10mb.bin": 10 << 20, "1mb.bin": 1 << 20}
    sizes.update({f"f{i}.txt": 1000 + 37 * i for i in range(50)})
    for name, size in sizes.items():
        (root / name).write_bytes(os.urandom(size))
    return root


class Server:
    def __init__(self, root, host="127.0.0.1", extra=(), env=None):
        self.proc = subprocess.Popen(
            VALGRIND + [SERVER, "--listen", f"{host}:0", "--cert", CERT, "--key", KEY,
                        "--root", str(root), *extra],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
        line = self.proc.stdout.readline()
        m = re.match(r"listening on (.*):(\d+)", line)
        assert m, f"server did not start: {line!r} {self.proc.stderr.read()}"
        self.port = int(m.group(2))
        self.host = host
        # Its log is read as it comes: a server that writes -v lines into
        # a full pipe would block, and its clients would see it fall silent.
        self._err = []
        self._reader = threading.Thread(target=lambda: self._err.extend(self.proc.stderr),
                                        daemon=True)
        self._reader.start()

    def url(self, name):
        h = f"[{self.host}]" if ":" in self.host else self.host
        return f"https://{h}:{self.port}/{name}"

    def stop(self):
        self.proc.terminate()
        self.proc.wait(timeout=30)
        self._reader.join(timeout=30)
        return self.proc.returncode, "".join(self._err)


@pytest.fixture
def server(www):
    s = Server(www)
    yield s
    code, err = s.stop()
    assert code == 0, err


def fetch(urls, out, *extra, ca=CA, env=None, timeout=120):
    args = VALGRIND + [CLIENT, "--output", str(out), *(("--ca", ca) if ca else ("--insecure",)),
                       *extra, *urls]
    return subprocess.run(args, capture_output=True, text=True, timeout=timeout, env=env)


def test_ten_megabyte_file(server, www, tmp_path):
    r = fetch([server.url("10mb.bin")], tmp_path, "-v")
    assert r.returncode == 0, r.stderr
    assert digest(tmp_path / "10mb.bin") == digest(www / "10mb.bin")


def read_qlog(path):
    """The records of a JSON-SEQ qlog file (RFC 7464): each starts with RS
    and ends with a newline; the header record first. Checks the draft's
    required fields and ordering; returns (header, events)."""
    import json
    data = path.read_bytes()
    assert data[:1] == b"\x1e", path
    chunks = data.split(b"\x1e")[1:]
    assert all(c.endswith(b"\n") for c in chunks), path
    header = json.loads(chunks[0])
    assert header["file_schema"] == "urn:ietf:params:qlog:file:sequential"
    assert header["serialization_format"] == "application/qlog+json-seq"
    assert header["trace"]["event_schemas"] == ["urn:ietf:params:qlog:events:quic"]
    events, last = [], float("-inf")
    for c in chunks[1:]:
        e = json.loads(c)
        assert isinstance(e["time"], (int, float)) and e["time"] >= last, (path, e)
        assert e["name"].startswith("quic:") and isinstance(e["data"], dict), e
        last = e["time"]
        events.append(e)
    return header, events


def test_qlog_dir_and_qlogdir_write_traces_that_load(www, tmp_path):
    """--qlog-dir on the server, QLOGDIR for the client: one trace each,
    named by the same original DCID, loading as qlog JSON-SEQ, ending with
    the close; the client's trace counts every byte it received."""
    sdir, cdir = tmp_path / "sq", tmp_path / "cq"
    sdir.mkdir()
    cdir.mkdir()
    s = Server(www, extra=["--qlog-dir", str(sdir)])
    r = fetch([s.url("1mb.bin")], tmp_path, env={**os.environ, "QLOGDIR": str(cdir)})
    time.sleep(0.5)  # the server's connection ends (closing period)
    code, err = s.stop()
    assert r.returncode == 0, r.stderr
    assert code == 0, err
    (cfile,), (sfile,) = list(cdir.iterdir()), list(sdir.iterdir())
    assert re.fullmatch(r"[0-9a-f]{16,40}_client\.sqlog", cfile.name), cfile.name
    assert sfile.name == cfile.name.replace("_client", "_server")
    for f, side in ((cfile, "client"), (sfile, "server")):
        header, events = read_qlog(f)
        assert header["trace"]["vantage_point"]["type"] == side
        names = [e["name"] for e in events]
        for n in ("quic:connection_started", "quic:parameters_set", "quic:packet_sent",
                  "quic:packet_received", "quic:connection_closed"):
            assert n in names, (side, n)
    _, events = read_qlog(cfile)
    received = sum(e["data"]["raw"][0]["length"] for e in events
                   if e["name"] == "quic:udp_datagrams_received")
    assert received > 1 << 20
    # And through quiche's qlog reader and typed events
    # (examples/qlog-check.rs), when make test built it.
    check = os.environ.get("QLOG_CHECK")
    if check:
        for d in (cdir, sdir):
            r = subprocess.run([check, str(d)], capture_output=True, text=True, timeout=60)
            assert r.returncode == 0, r.stderr
            assert "loads" in r.stdout, r.stdout


def test_a_qlog_dir_that_is_not_there_is_refused(www, tmp_path):
    r = fetch(["https://127.0.0.1:9/x"], tmp_path, "--qlog-dir", str(tmp_path / "missing"))
    assert r.returncode != 0 and "--qlog-dir" in r.stderr, r.stderr


def udp_counts(log):
    """(sent datagrams, send buffers, received datagrams, receive buffers)
    from a -v log's udp: line (a GSO or GRO run is one buffer)."""
    m = re.search(r"udp: sent (\d+) datagrams in (\d+) buffers, \d+ calls; "
                  r"received (\d+) in (\d+) buffers", log)
    assert m, log
    return tuple(int(g) for g in m.groups())


def test_batches_on_the_wire_and_without(www, tmp_path):
    """GSO/GRO on: the server hands the kernel runs of datagrams in one
    buffer and the client takes them so; --no-gso on both: one datagram
    per buffer. The file arrives intact either way."""
    for mode in ((), ("--no-gso",)):
        s = Server(www, extra=("-v", *mode))
        out = tmp_path / ("plain" if mode else "batched")
        out.mkdir()
        r = fetch([s.url("10mb.bin")], out, "-v", *mode)
        code, err = s.stop()
        assert r.returncode == 0 and code == 0, r.stderr + err
        assert digest(out / "10mb.bin") == digest(www / "10mb.bin")
        _, _, c_received, c_buffers = udp_counts(r.stderr)
        s_sent, s_buffers, _, _ = udp_counts(err)
        if mode:
            assert s_buffers == s_sent and c_buffers == c_received, (r.stderr, err)
            assert "(--no-gso)" in err
        elif "(no GSO)" not in err and VALGRIND == []:
            # Under valgrind the server sends too slowly for runs to form.
            assert s_sent > 4 * s_buffers, err
            assert c_received > 4 * c_buffers, r.stderr


@pytest.mark.skipif(VALGRIND != [], reason="valgrind's own memory hides the server's")
def test_a_large_file_is_sent_in_pieces(tmp_path):
    """quic-server reads a file as its stream drains, never whole: serving
    200 MB, its peak resident memory stays far below the file's size."""
    root = tmp_path / "big"
    root.mkdir()
    chunk = os.urandom(1 << 20)
    with open(root / "200mb.bin", "wb") as f:
        for _ in range(200):
            f.write(chunk)
    s = Server(root)
    out = tmp_path / "out"
    out.mkdir()
    r = fetch([s.url("200mb.bin")], out)
    with open(f"/proc/{s.proc.pid}/status") as f:
        peak_kb = next(int(l.split()[1]) for l in f if l.startswith("VmHWM:"))
    code, err = s.stop()
    assert r.returncode == 0 and code == 0, r.stderr + err
    assert digest(out / "200mb.bin") == digest(root / "200mb.bin")
    assert peak_kb < 60 * 1024, f"server peak RSS {peak_kb} KB for a 200 MB file"


def test_ecn_case_marks_and_validates_both_ways(www, tmp_path):
    """The runner's ecn case: each side's datagrams carry ECT(0) (the
    client counts the server's), and each side's counts reach the other in
    ACK_ECN (the client's path validated)."""
    env = dict(os.environ, TESTCASE="ecn")
    s = Server(www, env=env)
    r = fetch([s.url("1mb.bin")], tmp_path, "-v", env=env)
    code, err = s.stop()
    assert r.returncode == 0 and code == 0, r.stderr + err
    assert digest(tmp_path / "1mb.bin") == digest(www / "1mb.bin")
    m = re.search(r"ecn: path (\w+); received (\d+) ECT\(0\), (\d+) CE", r.stderr)
    assert m, r.stderr
    assert m.group(1) == "capable" and int(m.group(2)) > 100, m.group(0)


def test_fifty_files_on_one_connection(server, www, tmp_path):
    names = [f"f{i}.txt" for i in range(50)]
    r = fetch([server.url(n) for n in names], tmp_path)
    assert r.returncode == 0, r.stderr
    for n in names:
        assert digest(tmp_path / n) == digest(www / n), n


def test_twenty_clients_at_once(server, www, tmp_path):
    procs = []
    for i in range(20):
        out = tmp_path / str(i)
        out.mkdir()
        procs.append((out, subprocess.Popen(
            VALGRIND + [CLIENT, "--ca", CA, "--output", str(out), server.url("1mb.bin")],
            stderr=subprocess.PIPE, text=True)))
    for out, p in procs:
        _, err = p.communicate(timeout=180)
        assert p.returncode == 0, err
        assert digest(out / "1mb.bin") == digest(www / "1mb.bin")


def test_chacha20_only(www, tmp_path):
    s = Server(www, extra=["--chacha20", "-v"])
    try:
        r = fetch([s.url("1mb.bin")], tmp_path, "--chacha20", "-v")
        assert r.returncode == 0, r.stderr
        assert "cipher 0x1303" in r.stderr
    finally:
        code, err = s.stop()
    assert code == 0
    assert "cipher 0x1303" in err


def test_ipv6(www, tmp_path):
    try:
        socket.socket(socket.AF_INET6, socket.SOCK_DGRAM).bind(("::1", 0))
    except OSError:
        pytest.skip("no IPv6 loopback on this machine")
    s = Server(www, host="::1")
    try:
        r = fetch([s.url("1mb.bin")], tmp_path)
        assert r.returncode == 0, r.stderr
        assert digest(tmp_path / "1mb.bin") == digest(www / "1mb.bin")
    finally:
        assert s.stop()[0] == 0


def test_wrong_ca_fails_clearly(server, tmp_path):
    other = tmp_path / "other"
    subprocess.run(["sh", os.path.join(os.path.dirname(__file__), "../make-certs.sh"), str(other)],
                   check=True)
    r = fetch([server.url("1mb.bin")], tmp_path, ca=str(other / "ca.pem"))
    # Exactly 1: under valgrind, its own error code (99) must not pass.
    assert r.returncode == 1, (r.returncode, r.stderr)
    assert "TLS alert" in r.stderr or "0x1" in r.stderr, r.stderr
    # OpenSSL's verify result reaches the user in words (a CA of the same
    # name but another key: the signature check is what fails).
    assert "certificate signature failure" in r.stderr or "unknown CA" in r.stderr, r.stderr
    assert not (tmp_path / "1mb.bin").exists() or (tmp_path / "1mb.bin").stat().st_size == 0


def test_bad_input_gets_clear_messages(tmp_path):
    r = fetch(["not-a-url"], tmp_path)
    assert r.returncode == 2 and "cannot parse URL" in r.stderr
    r = fetch(["https://no-such-host.invalid:4433/x"], tmp_path)
    assert r.returncode == 1 and "cannot resolve" in r.stderr, (r.returncode, r.stderr)
    r = fetch(["https://127.0.0.1:4433/x"], tmp_path, ca="/nonexistent/ca.pem")
    assert r.returncode == 1 and "cannot load CA" in r.stderr, (r.returncode, r.stderr)
    r = subprocess.run(VALGRIND + [SERVER, "--listen", "127.0.0.1:0", "--cert",
                                   "/nonexistent.pem", "--key", KEY, "--root", "."],
                       capture_output=True, text=True)
    assert r.returncode == 1 and "cannot load certificate" in r.stderr, (r.returncode, r.stderr)


def test_port_in_use_is_reported(www):
    s = Server(www)
    try:
        r = subprocess.run([SERVER, "--listen", f"127.0.0.1:{s.port}", "--cert", CERT,
                            "--key", KEY, "--root", str(www)], capture_output=True, text=True,
                           timeout=10)
        assert r.returncode == 1 and "cannot listen" in r.stderr, (r.returncode, r.stderr)
    finally:
        s.stop()


def test_server_survives_garbage(server, www, tmp_path):
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    for i in range(500):
        size = [0, 1, 20, 1200, 1500][i % 5]
        data = os.urandom(size)
        if i % 3 == 0 and size:
            data = bytes([0xc0]) + data[1:]  # looks like a long header
        sock.sendto(data, ("127.0.0.1", server.port))
    time.sleep(0.2)
    assert server.proc.poll() is None, "the server died"
    r = fetch([server.url("1mb.bin")], tmp_path)
    assert r.returncode == 0, r.stderr


def test_unknown_testcase_exits_127(tmp_path):
    env = dict(os.environ, TESTCASE="no-such-testcase")
    r = fetch(["https://127.0.0.1:1/x"], tmp_path, env=env)
    assert r.returncode == 127
    r = subprocess.run([SERVER, "--listen", "127.0.0.1:0", "--cert", CERT, "--key", KEY,
                        "--root", "."], capture_output=True, text=True, env=env)
    assert r.returncode == 127


# ---- interop with aioquic's asyncio endpoints over UDP ----

def aioquic_server_with(www, options):
    """hq.py's aioquic server with HQ_OPTIONS; (process, port)."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    env = dict(os.environ, HQ_OPTIONS=options)
    p = subprocess.Popen([sys.executable, HQ, "serve", "127.0.0.1", str(port), CERT, KEY,
                          str(www)], stdout=subprocess.PIPE, text=True, env=env)
    assert p.stdout.readline().strip() == "listening"
    return p, port


@pytest.fixture(scope="module")
def aioquic_server(www):
    p, port = aioquic_server_with(www, "")
    yield port
    p.terminate()
    p.wait(timeout=30)


@pytest.mark.parametrize("names", [["1mb.bin"], ["10mb.bin"], [f"f{i}.txt" for i in range(10)]])
def test_quic_client_with_aioquic_server(aioquic_server, www, tmp_path, names):
    r = fetch([f"https://127.0.0.1:{aioquic_server}/{n}" for n in names], tmp_path, timeout=300)
    assert r.returncode == 0, r.stderr
    for n in names:
        assert digest(tmp_path / n) == digest(www / n)


@pytest.mark.parametrize("mode,says", [("--migrate", "migrated to"), ("--rebind", "rebound")])
def test_quic_client_moves_with_aioquic_server(aioquic_server, www, tmp_path, mode, says):
    """RFC 9000 §9: quic-client moves to a new local port after 100 KB,
    with a new connection ID after validating the path (--migrate), or
    unannounced as behind a NAT (--rebind); aioquic's server follows and
    the 10 MB arrive intact."""
    r = fetch([f"https://127.0.0.1:{aioquic_server}/10mb.bin"], tmp_path, mode, "-v",
              timeout=300)
    assert r.returncode == 0, r.stderr
    assert says in r.stderr, r.stderr
    assert digest(tmp_path / "10mb.bin") == digest(www / "10mb.bin")


def test_aioquic_client_follows_the_preferred_address(www, tmp_path):
    """RFC 9000 §9.6: quic-server --preferred-address offers a second
    port; aioquic's client validates it and moves there, and the server,
    having proved the client's end at that address, answers from it."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.bind(("127.0.0.1", 0))
        preferred = f"127.0.0.1:{sock.getsockname()[1]}"
    srv = Server(www, extra=["--preferred-address", preferred, "-v"])
    try:
        r = subprocess.run([sys.executable, HQ, "get", CA, str(tmp_path),
                            srv.url("10mb.bin")], capture_output=True, text=True, timeout=300)
    finally:
        code, err = srv.stop()
    assert r.returncode == 0, r.stderr
    assert digest(tmp_path / "10mb.bin") == digest(www / "10mb.bin")
    assert code == 0, err
    assert "address validated: 127.0.0.1:" in err and f" at {preferred}" in err, err


def test_an_application_close_is_not_called_a_tls_alert(aioquic_server, tmp_path):
    r = fetch([f"https://127.0.0.1:{aioquic_server}/close-0x106"], tmp_path)
    assert r.returncode == 1
    assert "application error 0x106" in r.stderr and "TLS alert" not in r.stderr, r.stderr


@pytest.mark.parametrize("names", [["1mb.bin"], ["10mb.bin"], [f"f{i}.txt" for i in range(10)]])
def test_aioquic_client_with_quic_server(server, www, tmp_path, names):
    r = subprocess.run([sys.executable, HQ, "get", CA, str(tmp_path),
                        *[server.url(n) for n in names]], capture_output=True, text=True,
                       timeout=300)
    assert r.returncode == 0, r.stderr
    for n in names:
        assert digest(tmp_path / n) == digest(www / n)


def test_echo_example(server):
    echo = os.path.join(BUILD, "quic-echo")
    r = subprocess.run(VALGRIND + [echo, f"127.0.0.1:{server.port}", CA, "hello over QUIC"],
                       capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == "hello over QUIC"


def test_unknown_version_gets_version_negotiation(server):
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.settimeout(5)
    dcid, scid = os.urandom(8), os.urandom(5)
    first = bytes([0xc0]) + bytes.fromhex("1a2a3a4a") + bytes([8]) + dcid + bytes([5]) + scid
    sock.sendto(first + bytes(1200 - len(first)), ("127.0.0.1", server.port))
    vn, _ = sock.recvfrom(2048)
    assert vn[0] & 0x80 and vn[1:5] == b"\0\0\0\0", vn[:8].hex()
    # RFC 9000 §17.2.1: the client's CIDs come back swapped.
    assert vn[5] == 5 and vn[6:11] == scid
    assert vn[11] == 8 and vn[12:20] == dcid
    versions = {int.from_bytes(vn[i:i + 4], "big") for i in range(20, len(vn), 4)}
    assert {1, 0x6B3343CF} <= versions
    # A short datagram of an unknown version gets nothing (RFC 9000 §6.1).
    sock.sendto(first, ("127.0.0.1", server.port))
    with pytest.raises(socket.timeout):
        sock.settimeout(0.5)
        sock.recvfrom(2048)


# ---- failures end fast and say why; versions and key updates ----

def test_nothing_listening_fails_at_once(tmp_path):
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    start = time.monotonic()
    r = fetch([f"https://127.0.0.1:{port}/x"], tmp_path, "--handshake-timeout", "60")
    assert r.returncode == 1
    # The ICMP error ended it, not the 60 s handshake timeout; the bound
    # leaves a loaded 2-core machine (or valgrind) all the room it needs.
    assert time.monotonic() - start < 30
    assert "connection refused" in r.stderr and len(r.stderr.strip().splitlines()) == 1, r.stderr
    assert not (tmp_path / "x").exists()


def test_a_silent_server_hits_the_handshake_timeout(tmp_path):
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as silent:
        silent.bind(("127.0.0.1", 0))
        port = silent.getsockname()[1]
        start = time.monotonic()
        r = fetch([f"https://127.0.0.1:{port}/x"], tmp_path, "--handshake-timeout", "1")
        elapsed = time.monotonic() - start
    assert r.returncode == 1
    # Not before the timeout; the message says what ended it (the idle
    # timeout, 60 s, would say otherwise), so the upper bound is loose.
    assert 0.9 < elapsed < 30, elapsed
    assert "Handshake timeout" in r.stderr and len(r.stderr.strip().splitlines()) == 1, r.stderr


def test_a_failed_download_leaves_no_file(server, www, tmp_path):
    r = fetch([server.url("1mb.bin"), server.url("missing.bin")], tmp_path)
    assert r.returncode == 1
    assert "missing.bin" in r.stderr
    assert not (tmp_path / "missing.bin").exists()


def test_v2_by_compatible_negotiation(www, tmp_path):
    s = Server(www, extra=["--v2", "-v"])
    try:
        r = fetch([s.url("1mb.bin")], tmp_path, "--v2", "-v")
        assert r.returncode == 0, r.stderr
        assert "version 0x6b3343cf" in r.stderr, r.stderr
        assert digest(tmp_path / "1mb.bin") == digest(www / "1mb.bin")
    finally:
        code, err = s.stop()
    assert code == 0 and "version 0x6b3343cf" in err


def test_client_key_update(server, www, tmp_path):
    r = fetch([server.url("10mb.bin")], tmp_path, "--key-update", "-v")
    assert r.returncode == 0, r.stderr
    assert "keys updated: generation 1" in r.stderr, r.stderr
    assert digest(tmp_path / "10mb.bin") == digest(www / "10mb.bin")


@pytest.mark.parametrize("case", ["keyupdate", "v2", "multiplexing", "longrtt", "handshakeloss",
                                  "transferloss", "blackhole", "amplificationlimit", "ipv6",
                                  "goodput", "crosstraffic", "transfercorruption",
                                  "handshakecorruption", "rebind-port", "rebind-addr",
                                  "resumption", "retry", "zerortt", "connectionmigration"])
def test_runner_cases_that_work_are_accepted(case, tmp_path):
    env = dict(os.environ, TESTCASE=case)
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    r = fetch([f"https://127.0.0.1:{port}/x"], tmp_path, env=env)
    assert r.returncode == 1, (case, r.stderr)  # refused, not 127
    srv = subprocess.Popen([SERVER, "--listen", "127.0.0.1:0", "--cert", CERT, "--key", KEY,
                            "--root", str(tmp_path)], stdout=subprocess.PIPE, text=True, env=env)
    try:
        assert srv.stdout.readline().startswith("listening"), case
    finally:
        srv.terminate()
        srv.wait(timeout=10)


def test_session_ticket_file_resumes_the_next_run(www, tmp_path):
    """quic-client --session-ticket saves the server's ticket; the next run
    resumes with it (no certificate in its handshake), and a damaged
    ticket file just means a full handshake."""
    s = Server(www, extra=["-v"])
    try:
        ticket = tmp_path / "ticket"
        runs = []
        for i in range(3):
            out = tmp_path / str(i)
            out.mkdir()
            if i == 2:
                ticket.write_bytes(b"garbage")
            r = fetch([s.url("1mb.bin")], out, "--session-ticket", str(ticket), "-v")
            assert r.returncode == 0, r.stderr
            assert digest(out / "1mb.bin") == digest(www / "1mb.bin")
            runs.append(r.stderr)
            if i == 0:
                assert ticket.stat().st_size > 0
        assert ["session resumed" in e for e in runs] == [False, True, False], runs
    finally:
        code, err = s.stop()
    assert code == 0
    assert err.count("session resumed") == 1, err


def test_workers_keep_rebinding_clients_on_their_worker(www, tmp_path):
    """quic-server --workers 4: four processes on one port, the kernel
    steering each datagram by the worker byte of its QUIC-LB connection
    ID. Eight clients each change port mid-download (--rebind), so the
    4-tuple hash would send most of them to a worker that does not know
    them; every download still completes on the worker that started it,
    no worker sends a stateless reset, and a session ticket from one
    worker resumes on whichever worker the next Initial reaches (the
    workers share their ticket keys)."""
    s = Server(www, extra=["--workers", "4", "-v"])
    try:
        assert s.proc.stdout.readline().strip() == "4 workers"
        ticket = tmp_path / "ticket"
        for i in range(8):
            out = tmp_path / str(i)
            out.mkdir()
            r = fetch([s.url("1mb.bin")], out, "--rebind", "--session-ticket", str(ticket), "-v")
            assert r.returncode == 0, r.stderr
            assert "rebound to a new local port" in r.stderr
            assert digest(out / "1mb.bin") == digest(www / "1mb.bin")
            assert (i > 0) == ("session resumed" in r.stderr), r.stderr
    finally:
        code, err = s.stop()
    assert code == 0, err
    served = {line.split(":")[0] for line in err.splitlines() if "new connection" in line}
    assert len(served) > 1, err
    moved = [line for line in err.splitlines() if "client moved to" in line]
    assert len(moved) == 8, err
    totals = [line for line in err.splitlines() if "connections accepted" in line]
    assert len(totals) == 4, err
    assert sum(int(t.split("quic-server: ")[1].split()[0]) for t in totals) == 8, err
    assert all(" 0 stateless resets" in t for t in totals), totals


def test_workers_refuse_what_they_cannot_share(www):
    r = subprocess.run([SERVER, "--listen", "127.0.0.1:0", "--cert", CERT, "--key", KEY,
                        "--root", str(www), "--workers", "2", "--zero-rtt"],
                       capture_output=True, text=True, timeout=10)
    assert r.returncode == 2 and "--workers does not combine" in r.stderr, r.stderr


def test_runner_resumption_case(www, tmp_path):
    """TESTCASE=resumption: the first file on one connection, the rest on a
    second that resumes."""
    env = dict(os.environ, TESTCASE="resumption")
    s = Server(www, extra=["-v"], env=env)
    try:
        names = ["f1.txt", "f2.txt", "f3.txt"]
        r = fetch([s.url(n) for n in names], tmp_path, "-v", env=env)
        assert r.returncode == 0, r.stderr
        for n in names:
            assert digest(tmp_path / n) == digest(www / n)
        assert r.stderr.count("handshake done") == 2, r.stderr
        assert r.stderr.count("session resumed") == 1, r.stderr
    finally:
        code, err = s.stop()
    assert code == 0


@pytest.fixture
def aioquic_v2_only_server(www):
    p, port = aioquic_server_with(www, "v2only")
    yield port
    p.terminate()
    p.wait(timeout=30)


def test_quic_client_with_a_v2_only_server(aioquic_v2_only_server, www, tmp_path):
    # quic-client starts in version 1; the Version Negotiation packet sends
    # it to version 2, which it offers.
    start = time.monotonic()
    r = fetch([f"https://127.0.0.1:{aioquic_v2_only_server}/1mb.bin"], tmp_path, "-v")
    assert r.returncode == 0, r.stderr
    assert "version 0x6b3343cf" in r.stderr
    # Well below the 20 s handshake timeout it would wait on failure.
    assert time.monotonic() - start < 15
    assert digest(tmp_path / "1mb.bin") == digest(www / "1mb.bin")


def test_aioquic_client_updating_keys_and_splitting_fins(server, www, tmp_path):
    names = [f"f{i}.txt" for i in range(5)] + ["1mb.bin"]
    env = dict(os.environ, HQ_OPTIONS="keyupdate,splitfin")
    r = subprocess.run([sys.executable, HQ, "get", CA, str(tmp_path),
                        *[server.url(n) for n in names]], capture_output=True, text=True,
                       timeout=120, env=env)
    assert r.returncode == 0, r.stderr
    for n in names:
        assert digest(tmp_path / n) == digest(www / n)


# ---- backpressure through quic-server's echo, over UDP ----

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "interop"))


class UdpClient:
    """A libquic client (ctypes) on a real UDP socket, that reads at its
    own pace: it credits received bytes only when it consumes them."""

    def __init__(self, port, **options):
        import lq
        self.lq = lq
        config = lq.Config(True, alpn=["echo"], server_name="localhost", cafile=CA,
                                credit_on_consume=True, **options)
        self.conn = lq.Connection(config)
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.setblocking(False)
        self.server = ("127.0.0.1", port)
        self.received, self.finished, self.established = bytearray(), False, False
        self.conn.connect(self.server, time.monotonic())

    def pump(self, seconds):
        """Drives the connection for `seconds`: send, wait, receive, timers,
        events (taken, not consumed)."""
        import select
        end = time.monotonic() + seconds
        while time.monotonic() < end:
            now = time.monotonic()
            for data, addr in self.conn.datagrams_to_send(now):
                self.sock.sendto(data, addr)
            timer = self.conn.get_timer()
            wait = max(0.0, min(end, timer if timer is not None else end) - now)
            if select.select([self.sock], [], [], wait)[0]:
                while True:
                    try:
                        data, addr = self.sock.recvfrom(65536)
                    except BlockingIOError:
                        break
                    self.conn.receive_datagram(data, addr, time.monotonic())
            timer = self.conn.get_timer()
            if timer is not None and timer <= time.monotonic():
                self.conn.handle_timer(time.monotonic())
            while (e := self.conn.next_event()) is not None:
                if e["kind"] == self.lq.HANDSHAKE_COMPLETED:
                    self.established = True
                elif e["kind"] == self.lq.STREAM_DATA_RECEIVED:
                    self.received += e["data"]
                    self.finished |= e["end_stream"]
                elif e["kind"] == self.lq.CONNECTION_TERMINATED:
                    raise AssertionError(f"connection ended: {e}")


def test_echo_server_reads_at_the_pace_the_client_reads(www):
    """A client uploads 24 MB to the echo server and reads none of the echo
    for a while: the server stops reading the stream (its echo cannot
    drain), so the upload stops with data left; once the client consumes,
    STREAM_WRITABLE sets the server reading again and everything comes back
    intact."""
    s = Server(www, extra=["-v"])
    try:
        client = UdpClient(s.port)
        client.pump(0.0)
        deadline = time.monotonic() + 10
        while not client.established:
            assert time.monotonic() < deadline, "no handshake"
            client.pump(0.05)
        upload = os.urandom(24 << 20)
        client.conn.send_stream_data(0, upload, True)
        # Not consuming: the upload comes to a stop (nothing acknowledged
        # for a second) with data still waiting.
        deadline = time.monotonic() + 60
        last, still_since = None, time.monotonic()
        while True:
            client.pump(0.1)
            waiting = client.conn.send_buffered(0)
            if waiting != last:
                last, still_since = waiting, time.monotonic()
            elif time.monotonic() - still_since > 1.0:
                break
            assert time.monotonic() < deadline, "the upload never stopped"
        assert last > 0, "the server took the whole upload without its echo draining"
        # Consuming: the rest goes up and all of it comes back.
        consumed = 0
        deadline = time.monotonic() + 120
        while not (client.finished and consumed == len(client.received)):
            assert time.monotonic() < deadline, (len(upload), len(client.received))
            if len(client.received) > consumed:
                client.conn.stream_consumed(0, len(client.received) - consumed)
                consumed = len(client.received)
            client.pump(0.01)
        assert bytes(client.received) == upload
    finally:
        code, err = s.stop()
    assert code == 0, err
    assert "stream 0: echo waits" in err and "stream 0: echo drained" in err, err


def test_retry_and_tokens_through_the_examples(www, tmp_path):
    """quic-server --retry sends every new client a Retry with a libquic
    token; quic-client --token saves the server's NEW_TOKEN, and the next
    run presents it and skips the Retry. A token is good for one
    connection: a run presenting one that was used already (a replay)
    goes through a Retry again."""
    s = Server(www, extra=["--retry", "-v"])
    try:
        token = tmp_path / "token"
        used = tmp_path / "used-token"
        for i in range(3):
            out = tmp_path / str(i)
            out.mkdir()
            if i == 2:
                token.write_bytes(used.read_bytes())  # the one run 1 used
            r = fetch([s.url("1mb.bin")], out, "--token", str(token))
            assert r.returncode == 0, r.stderr
            assert digest(out / "1mb.bin") == digest(www / "1mb.bin")
            if i == 0:
                assert token.stat().st_size > 0
                used.write_bytes(token.read_bytes())
    finally:
        code, err = s.stop()
    assert code == 0, err
    assert err.count("address validated by Retry") == 2, err
    assert err.count("address validated by a token") == 1, err


def test_zero_rtt_through_the_examples(www, tmp_path):
    """quic-client --session-ticket F --zero-rtt against quic-server
    --zero-rtt: the second connection requests in 0-RTT, and the server
    answers before its handshake completed, so the response leaves with
    the server's first flight and reaches the client one round trip after
    the client's first packet."""
    s = Server(www, extra=["--zero-rtt", "-v"])
    try:
        ticket = tmp_path / "ticket"
        logs = []
        for i in range(2):
            out = tmp_path / str(i)
            out.mkdir()
            r = fetch([s.url("f1.txt")], out, "--session-ticket", str(ticket), "--zero-rtt",
                      "-v")
            assert r.returncode == 0, r.stderr
            assert digest(out / "f1.txt") == digest(www / "f1.txt")
            logs.append(r.stderr)
        assert "requested in 0-RTT" not in logs[0] and "requested in 0-RTT" in logs[1], logs
        assert "early data accepted" in logs[1], logs[1]
    finally:
        code, err = s.stop()
    assert code == 0, err
    assert err.count("answered before the handshake completed") == 1, err
    # The server says so too (a peer whose own report cannot be trusted,
    # as aiopquic's, is judged by this line in make interop).
    assert err.count("0-RTT accepted") == 1, err


def test_runner_zerortt_case(www, tmp_path):
    env = dict(os.environ, TESTCASE="zerortt")
    s = Server(www, extra=["-v"], env=env)
    try:
        names = [f"f{i}.txt" for i in range(1, 11)]
        r = fetch([s.url(n) for n in names], tmp_path, "-v", env=env)
        assert r.returncode == 0, r.stderr
        for n in names:
            assert digest(tmp_path / n) == digest(www / n)
        assert r.stderr.count("requested in 0-RTT") == len(names) - 1, r.stderr
    finally:
        code, err = s.stop()
    assert code == 0
    assert err.count("answered before the handshake completed") == len(names) - 1, err


def test_quic_client_through_an_aioquic_retry(www, tmp_path):
    p, port = aioquic_server_with(www, "retry")
    try:
        r = fetch([f"https://127.0.0.1:{port}/1mb.bin"], tmp_path)
        assert r.returncode == 0, r.stderr
        assert digest(tmp_path / "1mb.bin") == digest(www / "1mb.bin")
    finally:
        p.terminate()
        p.wait(timeout=30)


def test_quic_client_resumes_with_0rtt_against_aioquic(www, tmp_path):
    """The second run resumes the session with aioquic's ticket and sends
    its request in 0-RTT, which aioquic accepts."""
    p, port = aioquic_server_with(www, "tickets")
    try:
        ticket = tmp_path / "ticket"
        logs = []
        for i in range(2):
            out = tmp_path / str(i)
            out.mkdir()
            r = fetch([f"https://127.0.0.1:{port}/f3.txt"], out, "--session-ticket", str(ticket),
                      "--zero-rtt", "-v")
            assert r.returncode == 0, r.stderr
            assert digest(out / "f3.txt") == digest(www / "f3.txt")
            logs.append(r.stderr)
        assert "session resumed" not in logs[0]
        assert "requested in 0-RTT" in logs[1] and "early data accepted" in logs[1], logs[1]
    finally:
        p.terminate()
        p.wait(timeout=30)


def test_datagrams_between_the_examples(www, tmp_path):
    s = Server(www, extra=["--datagram-echo"])
    try:
        r = fetch([s.url("f1.txt")], tmp_path, "--datagram", "300", "-v")
        assert r.returncode == 0, r.stderr
        assert "300 datagram(s) echoed" in r.stderr, r.stderr
    finally:
        s.stop()


def test_quic_client_datagrams_need_a_server_that_offers_them(server, tmp_path):
    r = fetch([server.url("f1.txt")], tmp_path, "--datagram", "5")
    assert r.returncode == 1
    assert "does not accept DATAGRAM frames" in r.stderr, r.stderr


def test_quic_client_datagrams_with_an_aioquic_echo_server(www, tmp_path):
    p, port = aioquic_server_with(www, "datagram-echo")
    try:
        r = fetch([f"https://127.0.0.1:{port}/f1.txt"], tmp_path, "--datagram", "200", "-v")
        assert r.returncode == 0, r.stderr
        assert "200 datagram(s) echoed" in r.stderr, r.stderr
    finally:
        p.terminate()
        p.wait(timeout=30)


def test_aioquic_client_datagrams_with_the_echo_server(www, tmp_path):
    s = Server(www, extra=["--datagram-echo"])
    try:
        env = dict(os.environ, HQ_DATAGRAMS="200")
        r = subprocess.run([sys.executable, HQ, "get", CA, str(tmp_path), s.url("f1.txt")],
                           capture_output=True, text=True, timeout=120, env=env)
        assert r.returncode == 0, r.stderr
        assert digest(tmp_path / "f1.txt") == digest(www / "f1.txt")
    finally:
        s.stop()


class CuttingRelay:
    """A UDP relay between quic-client and a server that passes the first
    `limit` bytes from the server, then falls silent (`close=False`: the
    server's host is gone, nothing answers) or closes its port (`close=True`:
    the client's next datagram gets an ICMP port unreachable)."""

    def __init__(self, server_port, limit, close):
        self.front = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.front.bind(("127.0.0.1", 0))
        self.back = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.back.connect(("127.0.0.1", server_port))
        self.port = self.front.getsockname()[1]
        self.limit, self.close, self.passed, self.stop = limit, close, 0, False
        self.thread = threading.Thread(target=self.run, daemon=True)
        self.thread.start()

    def run(self):
        import select
        client = None
        while not self.stop:
            ready = select.select([self.front, self.back], [], [], 0.05)[0]
            for sock in ready:
                data, addr = sock.recvfrom(65536)
                if sock is self.front:
                    client = addr
                    if self.passed < self.limit:
                        self.back.send(data)
                elif client and self.passed < self.limit:
                    self.passed += len(data)
                    self.front.sendto(data, client)
            if self.passed >= self.limit and self.close:
                self.front.close()
                return

    def shutdown(self):
        self.stop = True
        self.thread.join(timeout=5)


def cut_download(server, tmp_path, close, idle_timeout):
    """Downloads 10 MB through a CuttingRelay that passes 2 MB; the client's
    result and how long it took."""
    relay = CuttingRelay(server.port, 2 << 20, close=close)
    try:
        start = time.monotonic()
        r = fetch([f"https://127.0.0.1:{relay.port}/10mb.bin"], tmp_path,
                  "--idle-timeout", str(idle_timeout))
        return r, time.monotonic() - start
    finally:
        relay.shutdown()


def test_a_server_that_falls_silent_is_given_up_within_the_idle_timeout(server, tmp_path):
    """The server stops answering mid-download (its host vanished): the
    client's keep-alive PINGs go unanswered and it gives up after its idle
    timeout, not the 60 s default, and leaves no partial file."""
    r, elapsed = cut_download(server, tmp_path, close=False, idle_timeout=2)
    assert r.returncode == 1 and "idle" in r.stderr, r.stderr
    assert 1.5 < elapsed < 10, elapsed
    assert not (tmp_path / "10mb.bin").exists()


def test_a_server_whose_port_closed_is_given_up_at_once(server, tmp_path):
    """The server's port closes mid-download. A downloading client sends
    nothing until its next keep-alive PING (a third of the idle timeout,
    2 s here); the ICMP port unreachable that PING provokes ends the
    connection at once (quic_conn_abandon), well before the idle timeout."""
    r, elapsed = cut_download(server, tmp_path, close=True, idle_timeout=6)
    assert r.returncode == 1 and "refused" in r.stderr, r.stderr
    assert elapsed < 5, elapsed
    assert not (tmp_path / "10mb.bin").exists()


def test_a_thousand_connections_from_one_socket(www):
    """1,000 connections from one process over UDP: a libquic client
    endpoint (ctypes) opens them all on one socket to quic-server, whose
    own endpoint routes them; each fetches a file, and every file arrives
    intact while all of them are open at once. The client keeps at most
    100 handshakes in flight, as a well-behaved client does: 1,000
    Initials in one burst overflow a receive buffer of the kernel's
    default size (208 KB) on the way in, and connections started together
    retransmit together (their PTOs back off in step)."""
    import lq
    n, window = 1000, 100
    s = Server(www)
    try:
        config = lq.Config(True, alpn=["hq-interop"], server_name="localhost", cafile=CA)
        ep = lq.Endpoint(max_connections=n)
        sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        sock.bind(("127.0.0.1", 0))
        sock.setblocking(False)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4 << 20)
        server = ("127.0.0.1", s.port)
        start = time.monotonic()
        now = lambda: time.monotonic() - start
        handles = {}
        received = {}
        finished, established, ended = set(), set(), {}
        want = (www / "f1.txt").read_bytes()
        deadline = time.monotonic() + 120
        while len(finished) < n:
            assert time.monotonic() < deadline, (len(established), len(finished))
            assert not ended, f"connections ended early: {list(ended.values())[:3]}"
            while len(handles) < n and len(handles) - len(established) < window:
                h = ep.connect(config, server, now())
                handles[h] = len(handles)
                received[h] = bytearray()
            for data, addr in ep.datagrams_to_send(now()):
                try:
                    sock.sendto(data, addr)
                except BlockingIOError:
                    pass  # lost, as on a full link; recovered
            while (e := ep.next_event()) is not None:
                kind, h, ev = e
                if kind != lq.ENDPOINT_CONNECTION:
                    continue
                if ev["kind"] == lq.HANDSHAKE_COMPLETED:
                    established.add(h)
                    ep.conn(h).send_stream_data(0, b"GET /f1.txt\r\n", True)
                elif ev["kind"] == lq.STREAM_DATA_RECEIVED:
                    received[h].extend(ev["data"])
                    if ev["end_stream"]:
                        finished.add(h)
                elif ev["kind"] == lq.CONNECTION_TERMINATED:
                    ended[h] = ev
            t = ep.get_timer()
            wait = 0.05 if t is None else max(0.0, min(0.05, t - now()))
            select.select([sock], [], [], wait)
            while True:
                try:
                    data, addr = sock.recvfrom(65536)
                except BlockingIOError:
                    break
                ep.receive_datagram(data, addr, now())
            t = ep.get_timer()
            if t is not None and t <= now():
                ep.handle_timer(now())
        assert all(bytes(received[h]) == want for h in handles)
        assert ep.stats()["connections"] == n, "all open at once"
    finally:
        code, err = s.stop()
    assert code == 0, err
