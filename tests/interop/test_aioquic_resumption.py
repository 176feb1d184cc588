"""Session resumption (RFC 9001 §4.6) between libquic and aioquic, in one
process, both roles: the first connection gets a ticket, the second
presents it and both sides report the session resumed."""

from aioquic.quic.configuration import QuicConfiguration
from aioquic.quic.connection import QuicConnection

import lq
from test_aioquic_memory import (ALPN, CA, CERT, KEY, SERVER_ADDR, Aio, Lib, Run,
                                 aioquic_client)


def resumed(events):
    return next(e[1] for e in events if e[0] == "resumed")


def tickets(events):
    return [e[1] for e in events if e[0] == "ticket"]


def test_libquic_client_resumes_with_an_aioquic_server():
    store = {}
    cfg = QuicConfiguration(is_client=False, alpn_protocols=[ALPN])
    cfg.load_cert_chain(CERT, KEY)

    def make_server(first):
        return Aio(QuicConnection(
            configuration=cfg, original_destination_connection_id=lq.header_dcid(first),
            session_ticket_handler=lambda t: store.__setitem__(t.ticket, t),
            session_ticket_fetcher=store.pop))
    config = lq.Config(True, alpn=[ALPN], server_name="localhost", cafile=CA,
                            session_tickets=True)

    def connect(ticket=None):
        client = Lib(lq.Connection(config, session_ticket=ticket))
        client.connect(SERVER_ADDR, 0.0)
        run = Run(client, make_server)
        assert run.until(lambda r: r.handshake_done() and tickets(r.client_events))
        return run

    first = connect()
    assert (resumed(first.client_events), resumed(first.server_events)) == (False, False)
    second = connect(tickets(first.client_events)[-1])
    assert (resumed(second.client_events), resumed(second.server_events)) == (True, True)
    # Data flows on the resumed connection.
    second.client.send_stream_data(0, b"resumed", True)
    assert second.until(lambda r: 0 in r.s.finished)
    assert bytes(second.s.streams[0]) == b"resumed"


def test_aioquic_client_resumes_with_a_libquic_server():
    config = lq.Config(False, alpn=[ALPN], certfile=CERT, keyfile=KEY, session_tickets=True)

    def make_server(first):
        return Lib(lq.Connection(config, original_dcid=lq.header_dcid(first)))

    got = []

    def connect(ticket=None):
        aio = aioquic_client(dict(session_ticket_handler=got.append), session_ticket=ticket)
        run = Run(aio, make_server)
        assert run.until(lambda r: r.handshake_done() and got)
        return run

    first = connect()
    assert (resumed(first.client_events), resumed(first.server_events)) == (False, False)
    ticket = got.pop()
    second = connect(ticket)
    assert (resumed(second.client_events), resumed(second.server_events)) == (True, True)
    second.client.send_stream_data(0, b"resumed", True)
    assert second.until(lambda r: 0 in r.s.finished)
    assert bytes(second.s.streams[0]) == b"resumed"
