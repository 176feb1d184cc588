"""libquic against aioquic, in one process: datagrams are handed between
libquic (through ctypes) and aioquic's sans-I/O QuicConnection on a virtual
clock. Run by `make test` with CERT_DIR pointing at tests/make-certs.sh
output."""

import os

import pytest
from aioquic.quic import events as ev
from aioquic.quic.configuration import QuicConfiguration
from aioquic.quic.connection import QuicConnection
from aioquic.tls import CipherSuite

import libquic

CERTS = os.environ.get("CERT_DIR", os.path.join(os.path.dirname(__file__), "../../build/certs"))
CA, CERT, KEY = (os.path.join(CERTS, f) for f in ("ca.pem", "server.pem", "server.key"))
CLIENT_ADDR = ("127.0.0.1", 4321)
SERVER_ADDR = ("127.0.0.1", 4433)
ALPN = "hq-interop"
SUITES = {"aes128": CipherSuite.AES_128_GCM_SHA256, "chacha20": CipherSuite.CHACHA20_POLY1305_SHA256}


class Aio:
    """aioquic's connection with events normalised like libquic's."""

    def __init__(self, conn):
        self.conn = conn

    def receive_datagram(self, data, addr, now):
        self.conn.receive_datagram(data, addr, now)

    def datagrams_to_send(self, now):
        return self.conn.datagrams_to_send(now)

    def get_timer(self):
        return self.conn.get_timer()

    def handle_timer(self, now):
        self.conn.handle_timer(now)

    def events(self):
        out = []
        while (e := self.conn.next_event()) is not None:
            if isinstance(e, ev.HandshakeCompleted):
                out.append(("handshake", e.alpn_protocol.encode() if e.alpn_protocol else b""))
            elif isinstance(e, ev.ConnectionTerminated):
                out.append(("terminated", e.error_code, e.frame_type, e.reason_phrase.encode()))
            elif isinstance(e, ev.PingAcknowledged):
                out.append(("ping", e.uid))
        return out


class Lib:
    """libquic's connection, same interface."""

    def __init__(self, conn):
        self.conn = conn

    def __getattr__(self, name):
        return getattr(self.conn, name)

    def events(self):
        out = []
        while (e := self.conn.next_event()) is not None:
            if e["kind"] == libquic.HANDSHAKE_COMPLETED:
                out.append(("handshake", e["alpn"]))
            elif e["kind"] == libquic.CONNECTION_TERMINATED:
                out.append(("terminated", e["error_code"], e["frame_type"], e["reason"]))
            elif e["kind"] == libquic.PING_ACKNOWLEDGED:
                out.append(("ping", e["ping_uid"]))
        return out


class Run:
    """Moves datagrams and fires timers until a condition holds."""

    def __init__(self, client, make_server):
        self.client, self.server, self.make_server = client, None, make_server
        self.now = 0.0
        self.client_events, self.server_events = [], []

    def collect(self):
        self.client_events += self.client.events()
        if self.server:
            self.server_events += self.server.events()

    def until(self, done, limit=60.0):
        for _ in range(100_000):
            moved = False
            for data, addr in self.client.datagrams_to_send(self.now):
                assert addr == SERVER_ADDR
                if self.server is None:
                    self.server = self.make_server(data)
                self.server.receive_datagram(data, CLIENT_ADDR, self.now)
                moved = True
            if self.server:
                for data, addr in self.server.datagrams_to_send(self.now):
                    assert addr == CLIENT_ADDR
                    self.client.receive_datagram(data, SERVER_ADDR, self.now)
                    moved = True
            self.collect()
            if done(self):
                return True
            if moved:
                continue
            timers = [t for t in (self.client.get_timer(), self.server and self.server.get_timer()) if t]
            if not timers or self.now > limit:
                return done(self)
            self.now = max(self.now, min(timers))
            for side in (self.client, self.server):
                if side and side.get_timer() is not None and side.get_timer() <= self.now:
                    side.handle_timer(self.now)
        return done(self)

    def handshake_done(self):
        return any(e[0] == "handshake" for e in self.client_events) and any(
            e[0] == "handshake" for e in self.server_events)

    @staticmethod
    def terminated(events):
        return next((e for e in events if e[0] == "terminated"), None)


def aioquic_server(suite):
    cfg = QuicConfiguration(is_client=False, alpn_protocols=[ALPN], cipher_suites=[SUITES[suite]])
    cfg.load_cert_chain(CERT, KEY)

    def make(first_datagram):
        dcid = libquic.header_dcid(first_datagram)
        return Aio(QuicConnection(configuration=cfg, original_destination_connection_id=dcid))

    return make


def libquic_server(config):
    def make(first_datagram):
        return Lib(libquic.Connection(config, original_dcid=libquic.header_dcid(first_datagram)))

    return make


@pytest.mark.parametrize("suite", ["aes128", "chacha20"])
def test_libquic_client_aioquic_server(suite):
    config = libquic.Config(True, alpn=[ALPN], server_name="localhost", cafile=CA,
                            cipher_suites=[int(SUITES[suite])])
    client = Lib(libquic.Connection(config))
    client.connect(SERVER_ADDR, 0.0)
    run = Run(client, aioquic_server(suite))
    assert run.until(lambda r: r.handshake_done()), (run.client_events, run.server_events)
    assert ("handshake", ALPN.encode()) in run.client_events
    assert ("handshake", ALPN.encode()) in run.server_events
    assert run.server.conn.tls.key_schedule.cipher_suite == SUITES[suite]

    client.send_ping(9)
    assert run.until(lambda r: ("ping", 9) in r.client_events)

    client.close(error_code=5, reason_phrase="bye", now=run.now)
    assert run.until(lambda r: r.terminated(r.server_events) and client.is_closed)
    assert run.terminated(run.server_events) == ("terminated", 5, None, b"bye")
    assert run.terminated(run.client_events)[1] == 5


@pytest.mark.parametrize("suite", ["aes128", "chacha20"])
def test_aioquic_client_libquic_server(suite):
    server_config = libquic.Config(False, alpn=[ALPN], certfile=CERT, keyfile=KEY)
    cfg = QuicConfiguration(is_client=True, alpn_protocols=[ALPN], server_name="localhost",
                            cipher_suites=[SUITES[suite]])
    cfg.load_verify_locations(CA)
    aio = QuicConnection(configuration=cfg)
    aio.connect(SERVER_ADDR, now=0.0)
    run = Run(Aio(aio), libquic_server(server_config))
    assert run.until(lambda r: r.handshake_done()), (run.client_events, run.server_events)
    assert ("handshake", ALPN.encode()) in run.client_events
    assert ("handshake", ALPN.encode()) in run.server_events
    assert aio.tls.key_schedule.cipher_suite == SUITES[suite]

    aio.send_ping(11)
    assert run.until(lambda r: ("ping", 11) in r.client_events)

    run.server.close(error_code=3, reason_phrase="server done", now=run.now)
    assert run.until(lambda r: r.terminated(r.client_events) and run.server.is_closed)
    assert run.terminated(run.client_events) == ("terminated", 3, None, b"server done")
    assert run.server.peer_error() is None


def test_alpn_mismatch_is_no_application_protocol_at_both_ends():
    server_config = libquic.Config(False, alpn=["h3"], certfile=CERT, keyfile=KEY)
    cfg = QuicConfiguration(is_client=True, alpn_protocols=[ALPN], server_name="localhost")
    cfg.load_verify_locations(CA)
    aio = QuicConnection(configuration=cfg)
    aio.connect(SERVER_ADDR, now=0.0)
    run = Run(Aio(aio), libquic_server(server_config))
    assert run.until(lambda r: r.terminated(r.client_events) and r.terminated(r.server_events))
    assert run.terminated(run.client_events)[1] == 0x178
    assert run.terminated(run.server_events)[1] == 0x178


def test_aioquic_transport_close_reaches_libquic():
    config = libquic.Config(True, alpn=[ALPN], server_name="localhost", cafile=CA)
    client = Lib(libquic.Connection(config))
    client.connect(SERVER_ADDR, 0.0)
    run = Run(client, aioquic_server("aes128"))
    assert run.until(lambda r: r.handshake_done())
    # aioquic closes with a transport error code and the frame type.
    run.server.conn.close(error_code=0x0A, frame_type=0x08, reason_phrase="violation")
    assert run.until(lambda r: r.terminated(r.client_events))
    assert run.terminated(run.client_events) == ("terminated", 0x0A, 0x08, b"violation")
    assert client.peer_error() == (False, 0x0A, b"violation")
