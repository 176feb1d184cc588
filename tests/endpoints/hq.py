"""HTTP/0.9 over QUIC (ALPN hq-interop) with aioquic's asyncio API: a
server for a directory and a client that downloads URLs, used to test
quic-server and quic-client over real UDP.

    python hq.py serve HOST PORT CERT KEY ROOT       (prints "listening")
    python hq.py get CAFILE OUTDIR URL...            (exit 0 when all arrived)

HQ_OPTIONS (comma-separated) changes behaviour: "v2only" (the server speaks
only QUIC version 2), "retry" (the server sends every new client a Retry),
"tickets" (the server issues session tickets and resumes, with 0-RTT),
"keyupdate" (the client updates its 1-RTT keys right
after the handshake), "splitfin" (the client sends each request's FIN in a
STREAM frame of its own, after the request line), "v2" (the server prefers
QUIC version 2 and switches clients that offer it; the client starts in
version 1 and offers 2), "datagram-echo" (the server sends every DATAGRAM
frame back), "zerortt" (the client sends its requests in 0-RTT when its
ticket allows).

HQ_DATAGRAMS=N makes the client also send N DATAGRAM frames and wait until
all come back (each sent again after 0.5 s without its echo, 5 times at
most). HQ_TICKET=FILE makes the client resume the session whose ticket is
in FILE and save the newest ticket there. The client prints what the
handshake gave ("resumed", "0-RTT accepted", the version) on stderr.
"""

import asyncio
import os
import pickle
import sys
from urllib.parse import urlparse

from aioquic.asyncio import QuicConnectionProtocol, connect, serve
from aioquic.quic.configuration import QuicConfiguration
from aioquic.quic.events import (
    DatagramFrameReceived,
    HandshakeCompleted,
    StreamDataReceived,
    StreamReset,
)
from aioquic.quic.packet import QuicProtocolVersion

ALPN = ["hq-interop"]
OPTIONS = set(filter(None, os.environ.get("HQ_OPTIONS", "").split(",")))


class HqServer(QuicConnectionProtocol):
    root = "."

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.requests = {}

    def quic_event_received(self, event):
        if isinstance(event, DatagramFrameReceived) and "datagram-echo" in OPTIONS:
            self._quic.send_datagram_frame(event.data)
            self.transmit()
        if isinstance(event, StreamDataReceived):
            buf = self.requests.setdefault(event.stream_id, bytearray())
            buf.extend(event.data)
            if event.end_stream or b"\n" in buf:
                path = bytes(buf).split()[1].decode().lstrip("/")
                if path.startswith("close-"):
                    # /close-0x106: the application closes the connection
                    # with that code (as HTTP/3 does with its errors).
                    self._quic.close(error_code=int(path[6:], 16), reason_phrase="asked to")
                    self.transmit()
                    return
                full = os.path.join(self.root, path)
                if ".." in path or not os.path.isfile(full):
                    self._quic.reset_stream(event.stream_id, 0x10)
                else:
                    with open(full, "rb") as f:
                        self._quic.send_stream_data(event.stream_id, f.read(), end_stream=True)
                self.transmit()


class HqClient(QuicConnectionProtocol):
    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.buffers, self.waiters = {}, {}
        self.echoed = set()
        self.echo_event = asyncio.Event()

    def quic_event_received(self, event):
        if isinstance(event, HandshakeCompleted):
            print(f"handshake: version 0x{self._quic._version:08x}"
                  f"{', resumed' if event.session_resumed else ''}"
                  f"{', 0-RTT accepted' if event.early_data_accepted else ''}",
                  file=sys.stderr, flush=True)
        elif isinstance(event, DatagramFrameReceived):
            self.echoed.add(bytes(event.data))
            self.echo_event.set()
        elif isinstance(event, StreamDataReceived):
            self.buffers.setdefault(event.stream_id, bytearray()).extend(event.data)
            if event.end_stream:
                self.waiters.pop(event.stream_id).set_result(bytes(self.buffers[event.stream_id]))
        elif isinstance(event, StreamReset) and event.stream_id in self.waiters:
            self.waiters.pop(event.stream_id).set_exception(Exception("stream reset"))

    async def get(self, path):
        sid = self._quic.get_next_available_stream_id()
        done = self.waiters[sid] = asyncio.get_running_loop().create_future()
        line = b"GET " + path.encode() + b"\r\n"
        if "splitfin" in OPTIONS:
            self._quic.send_stream_data(sid, line, end_stream=False)
            self.transmit()
            await asyncio.sleep(0.05)
            self._quic.send_stream_data(sid, b"", end_stream=True)
        else:
            self._quic.send_stream_data(sid, line, end_stream=True)
        self.transmit()
        return await done

    async def datagrams(self, count):
        """Sends `count` DATAGRAM frames until each has come back."""
        await self.wait_connected()
        want = [f"aioquic datagram {i}".encode() for i in range(count)]
        for _ in range(5):
            missing = [d for d in want if d not in self.echoed]
            if not missing:
                return
            for i in range(0, len(missing), 32):
                for d in missing[i:i + 32]:
                    self._quic.send_datagram_frame(d)
                self.transmit()
                await asyncio.sleep(0.01)
            try:
                await asyncio.wait_for(self._all_echoed(want), 0.5)
            except asyncio.TimeoutError:
                pass
        missing = [d for d in want if d not in self.echoed]
        if missing:
            raise Exception(f"{len(missing)} of {count} datagrams never came back")

    async def _all_echoed(self, want):
        while any(d not in self.echoed for d in want):
            self.echo_event.clear()
            await self.echo_event.wait()


async def run_server(host, port, cert, key, root):
    HqServer.root = root
    cfg = QuicConfiguration(is_client=False, alpn_protocols=ALPN, max_datagram_frame_size=65536)
    if "v2only" in OPTIONS:
        cfg.supported_versions = [QuicProtocolVersion.VERSION_2]
    elif "v2" in OPTIONS:
        cfg.supported_versions = [QuicProtocolVersion.VERSION_2, QuicProtocolVersion.VERSION_1]
    cfg.load_cert_chain(cert, key)
    tickets = {}
    extra = {}
    if "tickets" in OPTIONS:
        extra = dict(session_ticket_handler=lambda t: tickets.__setitem__(t.ticket, t),
                     session_ticket_fetcher=tickets.get)
    await serve(host, int(port), configuration=cfg, create_protocol=HqServer,
                retry="retry" in OPTIONS, **extra)
    print("listening", flush=True)
    await asyncio.Future()


async def run_client(cafile, outdir, urls):
    u = urlparse(urls[0])
    cfg = QuicConfiguration(is_client=True, alpn_protocols=ALPN, server_name="localhost",
                            max_datagram_frame_size=65536)
    cfg.load_verify_locations(cafile)
    if "v2" in OPTIONS:
        cfg.supported_versions = [QuicProtocolVersion.VERSION_2, QuicProtocolVersion.VERSION_1]
        cfg.original_version = QuicProtocolVersion.VERSION_1
    ticket_file = os.environ.get("HQ_TICKET")
    if ticket_file and os.path.exists(ticket_file):
        with open(ticket_file, "rb") as f:
            cfg.session_ticket = pickle.load(f)

    def save_ticket(ticket):
        with open(ticket_file, "wb") as f:
            pickle.dump(ticket, f)

    async with connect(u.hostname, u.port, configuration=cfg, create_protocol=HqClient,
                       session_ticket_handler=save_ticket if ticket_file else None,
                       wait_connected="zerortt" not in OPTIONS) as client:
        if "keyupdate" in OPTIONS:
            client._quic.request_key_update()
        count = int(os.environ.get("HQ_DATAGRAMS", "0"))
        bodies = await asyncio.wait_for(
            asyncio.gather(*(client.get(urlparse(url).path) for url in urls)), 120)
        if count:
            await asyncio.wait_for(client.datagrams(count), 30)
        if ticket_file:
            await asyncio.sleep(0.2)  # the ticket comes with the server's first 1-RTT data
    for url, body in zip(urls, bodies):
        with open(os.path.join(outdir, os.path.basename(urlparse(url).path)), "wb") as f:
            f.write(body)


if __name__ == "__main__":
    if sys.argv[1] == "serve":
        asyncio.run(run_server(*sys.argv[2:7]))
    else:
        asyncio.run(run_client(sys.argv[2], sys.argv[3], sys.argv[4:]))
