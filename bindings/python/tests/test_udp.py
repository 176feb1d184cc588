"""The package over real UDP: examples/get.py downloads files from
quic-server (the C example), and a libquic server made with the package
serves aioquic's asyncio client."""

import asyncio
import os
import socket
import subprocess
import sys
import time

import pytest

from conftest import CAFILE, CERTFILE, KEYFILE, ROOT
from libquic.quic.configuration import QuicConfiguration
from libquic.quic.connection import QuicConnection
from libquic.quic.events import StreamDataReceived

EXAMPLE = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "examples", "get.py")
QUIC_SERVER = os.environ.get("QUIC_SERVER", os.path.join(ROOT, "build", "quic-server"))


@pytest.fixture
def quic_server(tmp_path):
    www = tmp_path / "www"
    www.mkdir()
    files = {"a.bin": os.urandom(3_000_000), "b.txt": b"hello\n"}
    for name, data in files.items():
        (www / name).write_bytes(data)
    p = subprocess.Popen([QUIC_SERVER, "--listen", "127.0.0.1:0", "--cert", CERTFILE, "--key", KEYFILE,
                          "--root", str(www)], stdout=subprocess.PIPE, text=True)
    line = p.stdout.readline()
    assert line.startswith("listening"), line
    yield int(line.rsplit(":", 1)[1]), files
    p.kill()
    p.wait()


def test_example_downloads_from_quic_server(quic_server, tmp_path):
    port, files = quic_server
    out = tmp_path / "out"
    out.mkdir()
    r = subprocess.run([sys.executable, EXAMPLE, "--ca", CAFILE, "--output", str(out)]
                       + [f"https://127.0.0.1:{port}/{name}" for name in files],
                       capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    for name, data in files.items():
        assert (out / name).read_bytes() == data


def test_package_server_serves_aioquic_client():
    """A server loop on the package's QuicConnection (one connection, made
    from the client's first datagram) answers aioquic's asyncio client."""
    from aioquic.asyncio import connect
    from aioquic.quic.configuration import QuicConfiguration as AioConfiguration

    body = os.urandom(1_000_000)
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.bind(("127.0.0.1", 0))
    sock.setblocking(False)
    port = sock.getsockname()[1]
    config = QuicConfiguration(is_client=False, alpn_protocols=["hq-interop"])
    config.load_cert_chain(CERTFILE, KEYFILE)
    state = {"conn": None}

    def on_datagram():
        data, addr = sock.recvfrom(65536)
        now = time.monotonic()
        if state["conn"] is None:
            dcid_len = data[5]
            state["conn"] = QuicConnection(configuration=config,
                                           original_destination_connection_id=data[6:6 + dcid_len])
        conn = state["conn"]
        conn.receive_datagram(data, addr, now=now)
        while (event := conn.next_event()) is not None:
            if isinstance(event, StreamDataReceived) and event.end_stream:
                conn.send_stream_data(event.stream_id, body, end_stream=True)
        flush()

    def flush():
        conn = state["conn"]
        for data, addr in conn.datagrams_to_send(now=time.monotonic()):
            sock.sendto(data, addr)
        timer = conn.get_timer()
        if timer is not None:
            loop = asyncio.get_running_loop()
            state["handle"] = loop.call_later(max(0.0, timer - time.monotonic()), on_timer)

    def on_timer():
        state["conn"].handle_timer(now=time.monotonic())
        flush()

    async def client():
        asyncio.get_running_loop().add_reader(sock.fileno(), on_datagram)
        cfg = AioConfiguration(is_client=True, alpn_protocols=["hq-interop"], server_name="localhost")
        cfg.load_verify_locations(cafile=CAFILE)
        async with connect("127.0.0.1", port, configuration=cfg) as protocol:
            reader, writer = await protocol.create_stream()
            writer.write(b"GET /x\r\n")
            writer.write_eof()
            return await asyncio.wait_for(reader.read(), 30)

    assert asyncio.run(client()) == body
    sock.close()
