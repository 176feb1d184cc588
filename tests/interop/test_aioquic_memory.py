"""libquic against aioquic, in one process: datagrams are handed between
libquic (through ctypes) and aioquic's sans-I/O QuicConnection on a virtual
clock. Run by `make test` with CERT_DIR pointing at tests/make-certs.sh
output."""

import heapq
import os
import random

import pytest
from aioquic.quic import events as ev
from aioquic.quic.configuration import QuicConfiguration
from aioquic.quic.connection import QuicConnection
from aioquic.tls import CipherSuite

import lq

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
                out.append(("resumed", e.session_resumed))
                out.append(("early", e.early_data_accepted))
            elif isinstance(e, ev.ConnectionTerminated):
                out.append(("terminated", e.error_code, e.frame_type, e.reason_phrase.encode()))
            elif isinstance(e, ev.PingAcknowledged):
                out.append(("ping", e.uid))
            elif isinstance(e, ev.StreamDataReceived):
                out.append(("data", e.stream_id, e.data, e.end_stream))
            elif isinstance(e, ev.StreamReset):
                out.append(("reset", e.stream_id, e.error_code))
            elif isinstance(e, ev.StopSendingReceived):
                out.append(("stop", e.stream_id, e.error_code))
            elif isinstance(e, ev.DatagramFrameReceived):
                out.append(("datagram", e.data))
        return out

    def send_stream_data(self, stream_id, data, end_stream=False):
        self.conn.send_stream_data(stream_id, data, end_stream)

    def reset_stream(self, stream_id, error_code):
        self.conn.reset_stream(stream_id, error_code)

    def stop_stream(self, stream_id, error_code):
        self.conn.stop_stream(stream_id, error_code)

    def send_datagram_frame(self, data):
        self.conn.send_datagram_frame(data)


class Lib:
    """libquic's connection, same interface."""

    def __init__(self, conn):
        self.conn = conn

    def __getattr__(self, name):
        return getattr(self.conn, name)

    def events(self):
        out = []
        while (e := self.conn.next_event()) is not None:
            if e["kind"] == lq.HANDSHAKE_COMPLETED:
                out.append(("handshake", e["alpn"]))
                out.append(("resumed", e["session_resumed"]))
                out.append(("early", e["early_data_accepted"]))
            elif e["kind"] == lq.SESSION_TICKET:
                out.append(("ticket", e["data"]))
            elif e["kind"] == lq.EARLY_DATA_REJECTED:
                out.append(("early_rejected",))
            elif e["kind"] == lq.CONNECTION_TERMINATED:
                out.append(("terminated", e["error_code"], e["frame_type"], e["reason"]))
            elif e["kind"] == lq.PING_ACKNOWLEDGED:
                out.append(("ping", e["ping_uid"]))
            elif e["kind"] == lq.STREAM_DATA_RECEIVED:
                out.append(("data", e["stream_id"], e["data"], e["end_stream"]))
            elif e["kind"] == lq.STREAM_RESET:
                out.append(("reset", e["stream_id"], e["error_code"]))
            elif e["kind"] == lq.STOP_SENDING_RECEIVED:
                out.append(("stop", e["stream_id"], e["error_code"]))
            elif e["kind"] == lq.DATAGRAM_FRAME_RECEIVED:
                out.append(("datagram", e["data"]))
            elif e["kind"] == lq.CONNECTION_ID_ISSUED:
                out.append(("cid_issued", e["cid"]))
            elif e["kind"] == lq.CONNECTION_ID_RETIRED:
                out.append(("cid_retired", e["cid"]))
            elif e["kind"] == lq.KEY_UPDATED:
                out.append(("key_updated", self.conn.key_generation))
            elif e["kind"] in (lq.PEER_MIGRATED, lq.PATH_VALIDATED):
                kind = "migrated" if e["kind"] == lq.PEER_MIGRATED else "validated"
                out.append((kind, self.conn.peer_address()))
        return out


class Side:
    """What one endpoint received: stream bytes, ends, other events."""

    def __init__(self):
        self.streams, self.finished, self.events = {}, set(), []

    def take(self, events):
        for e in events:
            if e[0] == "data":
                self.streams.setdefault(e[1], bytearray()).extend(e[2])
                if e[3]:
                    self.finished.add(e[1])
            else:
                self.events.append(e)


class Run:
    """Moves datagrams over a link with a one-way `delay` (seconds) and
    fires timers until a condition holds; `loss` drops that share of
    datagrams (seeded). A real delay keeps both stacks' RTT estimates and
    pacers meaningful."""

    def __init__(self, client, make_server, loss=0.0, seed=1, on_step=None, delay=0.005):
        self.client, self.server, self.make_server = client, None, make_server
        self.now = 0.0
        self.c, self.s = Side(), Side()
        self.loss, self.rng, self.on_step = loss, random.Random(seed), on_step
        self.delay = delay
        self.lost = 0
        # The client's address as the server sees it (a NAT may change
        # it); the server's datagrams to another address are lost.
        self.client_addr = CLIENT_ADDR
        self.queue = []  # (deliver_at, seq, to_server, datagram)
        self.seq = 0

    @property
    def client_events(self):
        return self.c.events

    @property
    def server_events(self):
        return self.s.events

    def collect(self):
        self.c.take(self.client.events())
        if self.server:
            self.s.take(self.server.events())
        if self.on_step:
            self.on_step(self)

    def dropped(self):
        if self.loss and self.rng.random() < self.loss:
            self.lost += 1
            return True
        return False

    def _send(self, data, to_server):
        # The first datagram always gets through: it creates the server.
        if self.server is not None or not to_server:
            if self.dropped():
                return
        self.seq += 1
        heapq.heappush(self.queue, (self.now + self.delay, self.seq, to_server, data))

    def _send_all(self):
        for data, addr in self.client.datagrams_to_send(self.now):
            assert addr == SERVER_ADDR
            self._send(data, True)
        if self.server:
            for data, addr in self.server.datagrams_to_send(self.now):
                if addr == self.client_addr:
                    self._send(data, False)

    def until(self, done, limit=600.0):
        for _ in range(5_000_000):
            # The drive loop of quic.h: send, take events, send what
            # taking them queued (credit, answers), then wait.
            self._send_all()
            self.collect()
            self._send_all()
            if done(self):
                return True
            if self.queue and self.queue[0][0] <= self.now:
                _, _, to_server, data = heapq.heappop(self.queue)
                if to_server:
                    if self.server is None:
                        self.server = self.make_server(data)
                    self.server.receive_datagram(data, self.client_addr, self.now)
                else:
                    self.client.receive_datagram(data, SERVER_ADDR, self.now)
                continue
            times = [t for t in (self.client.get_timer(), self.server and self.server.get_timer()) if t]
            if self.queue:
                times.append(self.queue[0][0])
            if not times or self.now > limit:
                return done(self)
            if min(times) > limit:
                # Never past the limit: a test that waits on purpose must
                # not have the idle timer fire behind its back.
                self.now = max(self.now, limit)
                return done(self)
            # A timer already due that handling did not move (aioquic's
            # loss timer can land exactly on `now` and stay there by float
            # rounding: sent_time + loss_delay - loss_delay < sent_time)
            # would spin forever in virtual time; real time moves on, so
            # the clock does too, by a microsecond.
            nearest = min(times)
            self.now = self.now + 1e-6 if nearest <= self.now else nearest
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


def aioquic_server(suite="aes128", **options):
    cfg = QuicConfiguration(is_client=False, alpn_protocols=[ALPN], cipher_suites=[SUITES[suite]],
                            **options)
    cfg.load_cert_chain(CERT, KEY)

    def make(first_datagram):
        dcid = lq.header_dcid(first_datagram)
        return Aio(QuicConnection(configuration=cfg, original_destination_connection_id=dcid))

    return make


def libquic_server(config):
    def make(first_datagram):
        return Lib(lq.Connection(config, original_dcid=lq.header_dcid(first_datagram)))

    return make


@pytest.mark.parametrize("suite", ["aes128", "chacha20"])
def test_libquic_client_aioquic_server(suite):
    config = lq.Config(True, alpn=[ALPN], server_name="localhost", cafile=CA,
                            cipher_suites=[int(SUITES[suite])])
    client = Lib(lq.Connection(config))
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


def test_libquic_client_reads_past_aioquic_session_tickets():
    """libquic lets its TLS state go once established and keeps no tickets
    yet: the NewSessionTicket messages aioquic's server sends in 1-RTT
    CRYPTO frames are skipped, and the connection carries on."""
    config = lq.Config(True, alpn=[ALPN], server_name="localhost", cafile=CA)
    client = Lib(lq.Connection(config))
    client.connect(SERVER_ADDR, 0.0)
    issued = []
    cfg = QuicConfiguration(is_client=False, alpn_protocols=[ALPN])
    cfg.load_cert_chain(CERT, KEY)

    def make(first_datagram):
        return Aio(QuicConnection(configuration=cfg,
                                  original_destination_connection_id=lq.header_dcid(
                                      first_datagram),
                                  session_ticket_handler=issued.append))

    run = Run(client, make, on_step=lambda r: responder(r, answer=lambda s, d: d))
    assert run.until(lambda r: r.handshake_done() and issued)
    body = payload(50_000, 4)
    client.send_stream_data(0, body, True)
    assert run.until(lambda r: 0 in r.c.finished)
    assert bytes(run.c.streams[0]) == body
    assert run.terminated(run.client_events) is None
    client.close(error_code=0, reason_phrase="", now=run.now)
    assert run.until(lambda r: r.terminated(r.server_events))
    assert run.terminated(run.server_events)[1] == 0


def test_libquic_server_without_alpn_leaves_the_decision_to_the_client():
    """A server configured with no ALPN (aioquic's alpn_protocols=None)
    takes part in no negotiation instead of failing the handshake itself;
    aioquic's client, which offered ALPN, then closes with
    no_application_protocol (RFC 9001 §8.1), as libquic's client does."""
    server_config = lq.Config(False, certfile=CERT, keyfile=KEY)
    cfg = QuicConfiguration(is_client=True, alpn_protocols=[ALPN], server_name="localhost")
    cfg.load_verify_locations(CA)
    aio = QuicConnection(configuration=cfg)
    aio.connect(SERVER_ADDR, now=0.0)
    run = Run(Aio(aio), libquic_server(server_config))
    assert run.until(lambda r: r.terminated(r.server_events))
    # The close came from the client: the server heard it, it did not send it.
    assert run.server.peer_error() == (False, 0x178, b"No common ALPN protocols")


@pytest.mark.parametrize("suite", ["aes128", "chacha20"])
def test_aioquic_client_libquic_server(suite):
    server_config = lq.Config(False, alpn=[ALPN], certfile=CERT, keyfile=KEY)
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
    server_config = lq.Config(False, alpn=["h3"], certfile=CERT, keyfile=KEY)
    cfg = QuicConfiguration(is_client=True, alpn_protocols=[ALPN], server_name="localhost")
    cfg.load_verify_locations(CA)
    aio = QuicConnection(configuration=cfg)
    aio.connect(SERVER_ADDR, now=0.0)
    run = Run(Aio(aio), libquic_server(server_config))
    assert run.until(lambda r: r.terminated(r.client_events) and r.terminated(r.server_events))
    assert run.terminated(run.client_events)[1] == 0x178
    assert run.terminated(run.server_events)[1] == 0x178


def test_aioquic_transport_close_reaches_libquic():
    config = lq.Config(True, alpn=[ALPN], server_name="localhost", cafile=CA)
    client = Lib(lq.Connection(config))
    client.connect(SERVER_ADDR, 0.0)
    run = Run(client, aioquic_server("aes128"))
    assert run.until(lambda r: r.handshake_done())
    # aioquic closes with a transport error code and the frame type.
    run.server.conn.close(error_code=0x0A, frame_type=0x08, reason_phrase="violation")
    assert run.until(lambda r: r.terminated(r.client_events))
    assert run.terminated(run.client_events) == ("terminated", 0x0A, 0x08, b"violation")
    assert client.peer_error() == (False, 0x0A, b"violation")


# ---- streams, flow control, datagrams ----

def payload(n, seed):
    return random.Random(seed).randbytes(n)


def responder(run, side_name="server", answer=lambda sid, data: bytes(reversed(data[:64])) * 2):
    """An application that answers every finished stream once."""
    answered = run.__dict__.setdefault("_answered", set())
    side = run.s if side_name == "server" else run.c
    conn = run.server if side_name == "server" else run.client
    if conn is None:
        return
    for sid in list(side.finished - answered):
        conn.send_stream_data(sid, answer(sid, bytes(side.streams[sid])), True)
        answered.add(sid)


def libquic_client(**options):
    config = lq.Config(True, alpn=[ALPN], server_name="localhost", cafile=CA, **options)
    client = Lib(lq.Connection(config))
    client.connect(SERVER_ADDR, 0.0)
    return client


def aioquic_client(handlers=None, **options):
    """An aioquic client, connecting; `handlers` go to QuicConnection
    (session_ticket_handler, token_handler), `options` to its config."""
    cfg = QuicConfiguration(is_client=True, alpn_protocols=[ALPN], server_name="localhost", **options)
    cfg.load_verify_locations(CA)
    aio = QuicConnection(configuration=cfg, **(handlers or {}))
    aio.connect(SERVER_ADDR, now=0.0)
    return Aio(aio)


def pairs():
    """(client, server factory) for both directions of interop."""
    server_config = lq.Config(False, alpn=[ALPN], certfile=CERT, keyfile=KEY,
                                   max_datagram_frame_size=65536)
    return {
        "libquic-client": lambda: (libquic_client(max_datagram_frame_size=65536),
                                   aioquic_server(max_datagram_frame_size=65536)),
        "aioquic-client": lambda: (aioquic_client(max_datagram_frame_size=65536),
                                   libquic_server(server_config)),
    }


DIRECTIONS = ["libquic-client", "aioquic-client"]


@pytest.mark.parametrize("direction", DIRECTIONS)
@pytest.mark.parametrize("size", [1 << 20, 10 << 20])
def test_bulk_transfer_on_one_stream(direction, size):
    client, make_server = pairs()[direction]()
    request = payload(size, 1)
    reply = payload(size, 2)
    run = Run(client, make_server,
              on_step=lambda r: responder(r, answer=lambda sid, data: reply))
    assert run.until(lambda r: r.handshake_done())
    client.send_stream_data(0, request, True)
    assert run.until(lambda r: 0 in r.c.finished), len(run.s.streams.get(0, b""))
    assert bytes(run.s.streams[0]) == request
    assert bytes(run.c.streams[0]) == reply


@pytest.mark.parametrize("direction", DIRECTIONS)
def test_fifty_concurrent_streams(direction):
    client, make_server = pairs()[direction]()
    run = Run(client, make_server, on_step=responder)
    assert run.until(lambda r: r.handshake_done())
    bodies = {i * 4: payload(10_000 + i, i) for i in range(50)}
    for sid, body in bodies.items():
        client.send_stream_data(sid, body, True)
    assert run.until(lambda r: len(r.c.finished) == 50)
    for sid, body in bodies.items():
        assert bytes(run.s.streams[sid]) == body
        assert bytes(run.c.streams[sid]) == bytes(reversed(body[:64])) * 2


@pytest.mark.parametrize("direction", DIRECTIONS)
def test_two_thousand_sequential_small_streams(direction):
    client, make_server = pairs()[direction]()
    run = Run(client, make_server, on_step=responder)
    assert run.until(lambda r: r.handshake_done())
    for i in range(2000):
        sid = i * 4
        client.send_stream_data(sid, b"GET /%d\r\n" % i, True)
        assert run.until(lambda r: sid in r.c.finished), i
    assert len(run.c.finished) == 2000


@pytest.mark.parametrize("direction", DIRECTIONS)
def test_datagram_echo(direction):
    client, make_server = pairs()[direction]()

    def echo(r):
        for e in list(r.s.events):
            if e[0] == "datagram" and e not in r.__dict__.setdefault("_echoed", []):
                r.server.send_datagram_frame(b"echo:" + e[1])
                r._echoed.append(e)

    run = Run(client, make_server, on_step=echo)
    assert run.until(lambda r: r.handshake_done())
    for i in range(5):
        client.send_datagram_frame(b"hello %d" % i)
    assert run.until(lambda r: sum(e[0] == "datagram" for e in r.c.events) == 5)
    got = sorted(e[1] for e in run.c.events if e[0] == "datagram")
    assert got == sorted(b"echo:hello %d" % i for i in range(5))


@pytest.mark.parametrize("direction", DIRECTIONS)
def test_reset_and_stop_sending_codes(direction):
    client, make_server = pairs()[direction]()
    run = Run(client, make_server)
    assert run.until(lambda r: r.handshake_done())
    client.send_stream_data(0, b"partial", False)
    assert run.until(lambda r: 0 in r.s.streams)
    client.reset_stream(0, 0x11)
    client.send_stream_data(4, b"more", False)
    assert run.until(lambda r: 4 in r.s.streams)
    client.stop_stream(4, 0x22)
    assert run.until(lambda r: ("reset", 0, 0x11) in r.s.events and ("stop", 4, 0x22) in r.s.events)
    # The server's send side of stream 4 is reset in answer (libquic does
    # this itself; an aioquic application would do it explicitly).
    if direction == "aioquic-client":
        assert run.until(lambda r: ("reset", 4, 0x22) in r.c.events)


@pytest.mark.parametrize("direction", DIRECTIONS)
def test_ten_megabytes_with_five_percent_loss(direction):
    client, make_server = pairs()[direction]()
    request = payload(10 << 20, 3)
    run = Run(client, make_server, loss=0.05, seed=7,
              on_step=lambda r: responder(r, answer=lambda sid, data: b"ok"))
    assert run.until(lambda r: r.handshake_done())
    client.send_stream_data(0, request, True)
    assert run.until(lambda r: 0 in r.c.finished, limit=3600.0)
    assert bytes(run.s.streams[0]) == request
    assert run.lost > 100
