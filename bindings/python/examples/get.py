"""Downloads files with HTTP/0.9 over QUIC (ALPN hq-interop) through
libquic's Python package, driving aioquic's sans-I/O API over a UDP socket:

    python examples/get.py --ca ca.pem --output out https://127.0.0.1:4433/file.bin

The same loop runs on aioquic: import from aioquic.quic instead."""

import argparse
import os
import select
import socket
import sys
import time
from urllib.parse import urlparse

from libquic.quic.configuration import QuicConfiguration
from libquic.quic.connection import QuicConnection
from libquic.quic.events import ConnectionTerminated, StreamDataReceived, StreamReset


def get(urls, cafile=None, output=".", timeout=30.0):
    first = urlparse(urls[0])
    config = QuicConfiguration(is_client=True, alpn_protocols=["hq-interop"], server_name=first.hostname)
    if cafile:
        config.load_verify_locations(cafile=cafile)
    addr = socket.getaddrinfo(first.hostname, first.port, type=socket.SOCK_DGRAM)[0][4][:2]
    sock = socket.socket(socket.AF_INET6 if ":" in addr[0] else socket.AF_INET, socket.SOCK_DGRAM)
    conn = QuicConnection(configuration=config)
    conn.connect(addr, now=time.monotonic())
    bodies, done = {}, set()
    for url in urls:
        stream_id = conn.get_next_available_stream_id()
        conn.send_stream_data(stream_id, f"GET {urlparse(url).path}\r\n".encode(), end_stream=True)
        bodies[stream_id] = (url, bytearray())
    deadline = time.monotonic() + timeout
    while len(done) < len(urls):
        for data, to in conn.datagrams_to_send(now=time.monotonic()):
            sock.sendto(data, to)
        timer = conn.get_timer()
        wait = max(0.0, min(timer - time.monotonic() if timer is not None else 1.0, 1.0))
        if select.select([sock], [], [], wait)[0]:
            data, sender = sock.recvfrom(65536)
            conn.receive_datagram(data, sender, now=time.monotonic())
        elif timer is not None and time.monotonic() >= timer:
            conn.handle_timer(now=time.monotonic())
        while (event := conn.next_event()) is not None:
            if isinstance(event, StreamDataReceived) and event.stream_id in bodies:
                bodies[event.stream_id][1].extend(event.data)
                if event.end_stream:
                    done.add(event.stream_id)
            elif isinstance(event, StreamReset):
                raise RuntimeError(f"{bodies[event.stream_id][0]}: reset by the server")
            elif isinstance(event, ConnectionTerminated):
                raise RuntimeError(f"connection closed: {event.reason_phrase} (0x{event.error_code:x})")
        if time.monotonic() > deadline:
            raise TimeoutError("no answer in time")
    conn.close()
    for data, to in conn.datagrams_to_send(now=time.monotonic()):
        sock.sendto(data, to)
    for url, body in bodies.values():
        with open(os.path.join(output, os.path.basename(urlparse(url).path)), "wb") as f:
            f.write(body)
        print(f"{url}: {len(body)} bytes")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--ca")
    parser.add_argument("--output", default=".")
    parser.add_argument("urls", nargs="+")
    args = parser.parse_args()
    try:
        get(args.urls, args.ca, args.output)
    except (RuntimeError, TimeoutError, OSError) as e:
        sys.exit(f"get: {e}")
