"""0-RTT (RFC 9001 §4.6) between libquic and aioquic, in one process, both
roles: the second connection sends its request before the handshake
completes, the server reads it from the client's first flight, and both
sides report early data accepted."""

from aioquic.quic.configuration import QuicConfiguration
from aioquic.quic.connection import QuicConnection

import lq
from test_aioquic_memory import (ALPN, CA, CERT, KEY, SERVER_ADDR, Aio, Lib, Run,
                                 aioquic_client)


def first(events, kind):
    return next(e[1] for e in events if e[0] == kind)


def request_arrives_early(run):
    """Runs until the server has the request; True when its handshake had
    not completed by then (the request came in 0-RTT)."""
    assert run.until(lambda r: 0 in r.s.finished)
    return not any(e[0] == "handshake" for e in run.server_events)


def check_early_request(client, make_server):
    """A resuming client sends a request right after connecting: the
    server reads it in 0-RTT, and both sides report early data accepted."""
    client.send_stream_data(0, b"GET /early", True)
    run = Run(client, make_server)
    assert request_arrives_early(run)
    assert bytes(run.s.streams[0]) == b"GET /early"
    assert run.until(lambda r: r.handshake_done())
    assert first(run.client_events, "early") is True
    assert first(run.server_events, "early") is True


def test_libquic_client_sends_early_data_to_an_aioquic_server():
    store = {}
    cfg = QuicConfiguration(is_client=False, alpn_protocols=[ALPN])
    cfg.load_cert_chain(CERT, KEY)

    def make_server(first_datagram):
        return Aio(QuicConnection(
            configuration=cfg,
            original_destination_connection_id=lq.header_dcid(first_datagram),
            session_ticket_handler=lambda t: store.__setitem__(t.ticket, t),
            session_ticket_fetcher=store.pop))

    config = lq.Config(True, alpn=[ALPN], server_name="localhost", cafile=CA,
                            session_tickets=True, early_data=True)
    client = Lib(lq.Connection(config))
    client.connect(SERVER_ADDR, 0.0)
    run = Run(client, make_server)
    assert run.until(lambda r: r.handshake_done() and any(e[0] == "ticket" for e in r.c.events))
    ticket = [e[1] for e in run.client_events if e[0] == "ticket"][-1]

    client = Lib(lq.Connection(config, session_ticket=ticket))
    client.connect(SERVER_ADDR, 0.0)
    check_early_request(client, make_server)


def test_aioquic_client_sends_early_data_to_a_libquic_server():
    config = lq.Config(False, alpn=[ALPN], certfile=CERT, keyfile=KEY, session_tickets=True,
                            early_data=True)

    def make_server(first_datagram):
        return Lib(lq.Connection(config, original_dcid=lq.header_dcid(first_datagram)))

    got = []
    handlers = dict(session_ticket_handler=got.append)
    run = Run(aioquic_client(handlers), make_server)
    assert run.until(lambda r: r.handshake_done() and got)
    check_early_request(aioquic_client(handlers, session_ticket=got[-1]), make_server)


def test_aioquic_client_early_data_refused_by_libquic_arrives_in_1rtt():
    """A libquic server without 0-RTT: aioquic's early request is refused,
    resent in 1-RTT, and arrives whole."""
    keys = [bytes([1]) * 16 + bytes([2]) * 32 + bytes([3]) * 32]
    issuing = lq.Config(False, alpn=[ALPN], certfile=CERT, keyfile=KEY,
                             session_tickets=True, early_data=True, ticket_keys=keys)
    refusing = lq.Config(False, alpn=[ALPN], certfile=CERT, keyfile=KEY,
                              session_tickets=True, ticket_keys=keys)
    got = []

    def run_with(config, ticket=None, request=None):
        aio = aioquic_client(dict(session_ticket_handler=got.append), session_ticket=ticket)
        if request:
            aio.send_stream_data(0, request, True)
        return Run(aio, lambda d: Lib(lq.Connection(
            config, original_dcid=lq.header_dcid(d))))

    run = run_with(issuing)
    assert run.until(lambda r: r.handshake_done() and got)
    request = bytes(range(256)) * 8
    run = run_with(refusing, got[-1], request)
    assert run.until(lambda r: 0 in r.s.finished)
    assert bytes(run.s.streams[0]) == request
    assert first(run.server_events, "early") is False
    assert first(run.server_events, "resumed") is True
