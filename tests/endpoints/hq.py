"""HTTP/0.9 over QUIC (ALPN hq-interop) with aioquic's asyncio API: a
server for a directory and a client that downloads URLs, used to test
quic-server and quic-client over real UDP.

    python hq.py serve HOST PORT CERT KEY ROOT       (prints "listening")
    python hq.py get CAFILE OUTDIR URL...            (exit 0 when all arrived)
"""

import asyncio
import os
import sys
from urllib.parse import urlparse

from aioquic.asyncio import QuicConnectionProtocol, connect, serve
from aioquic.quic.configuration import QuicConfiguration
from aioquic.quic.events import StreamDataReceived, StreamReset

ALPN = ["hq-interop"]


class HqServer(QuicConnectionProtocol):
    root = "."

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.requests = {}

    def quic_event_received(self, event):
        if isinstance(event, StreamDataReceived):
            buf = self.requests.setdefault(event.stream_id, bytearray())
            buf.extend(event.data)
            if event.end_stream or b"\n" in buf:
                path = bytes(buf).split()[1].decode().lstrip("/")
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

    def quic_event_received(self, event):
        if isinstance(event, StreamDataReceived):
            self.buffers.setdefault(event.stream_id, bytearray()).extend(event.data)
            if event.end_stream:
                self.waiters.pop(event.stream_id).set_result(bytes(self.buffers[event.stream_id]))
        elif isinstance(event, StreamReset) and event.stream_id in self.waiters:
            self.waiters.pop(event.stream_id).set_exception(Exception("stream reset"))

    async def get(self, path):
        sid = self._quic.get_next_available_stream_id()
        self.waiters[sid] = asyncio.get_running_loop().create_future()
        self._quic.send_stream_data(sid, b"GET " + path.encode() + b"\r\n", end_stream=True)
        self.transmit()
        return await self.waiters[sid]


async def run_server(host, port, cert, key, root):
    HqServer.root = root
    cfg = QuicConfiguration(is_client=False, alpn_protocols=ALPN, max_datagram_frame_size=65536)
    cfg.load_cert_chain(cert, key)
    await serve(host, int(port), configuration=cfg, create_protocol=HqServer)
    print("listening", flush=True)
    await asyncio.Future()


async def run_client(cafile, outdir, urls):
    u = urlparse(urls[0])
    cfg = QuicConfiguration(is_client=True, alpn_protocols=ALPN, server_name="localhost")
    cfg.load_verify_locations(cafile)
    async with connect(u.hostname, u.port, configuration=cfg, create_protocol=HqClient) as client:
        bodies = await asyncio.wait_for(
            asyncio.gather(*(client.get(urlparse(url).path) for url in urls)), 120)
    for url, body in zip(urls, bodies):
        with open(os.path.join(outdir, os.path.basename(urlparse(url).path)), "wb") as f:
            f.write(body)


if __name__ == "__main__":
    if sys.argv[1] == "serve":
        asyncio.run(run_server(*sys.argv[2:7]))
    else:
        asyncio.run(run_client(sys.argv[2], sys.argv[3], sys.argv[4:]))
