"""ECN (RFC 9000 §13.4) against aioquic, which neither marks datagrams
nor reports ECN counts: in both roles libquic marks its first datagrams
ECT(0), as its caller's socket would send them, finds that aioquic's
ACKs of them carry no counts, and stops marking; the transfer is not
disturbed. (Validation that succeeds is shown against quinn-proto, which
does ECN: tests/quinn.)"""

import pytest

import lq
from test_aioquic_memory import (ALPN, CA, CERT, KEY, SERVER_ADDR, Lib, Run, aioquic_client,
                                 aioquic_server, payload, responder)


class MarkingLib(Lib):
    """A libquic connection driven as a caller with ECN-capable sockets
    drives it: each datagram goes with the codepoint quic_conn_send_info
    gives, and arrives with the one it was sent with (aioquic's: none)."""

    def __init__(self, conn):
        super().__init__(conn)
        self.marks = []

    def datagrams_to_send(self, now):
        out = []
        for data, addr, ecn in self.conn.marked_datagrams_to_send(now):
            self.marks.append(ecn)
            out.append((data, addr))
        return out

    def receive_datagram(self, data, addr, now):
        self.conn.receive_marked(data, addr, 0, now)


@pytest.mark.parametrize("direction", ["libquic-client", "aioquic-client"])
def test_validation_fails_cleanly_against_a_peer_without_ecn(direction):
    made = {}
    if direction == "libquic-client":
        config = lq.Config(True, alpn=[ALPN], server_name="localhost", cafile=CA)
        lib = MarkingLib(lq.Connection(config))
        lib.connect(SERVER_ADDR, 0.0)
        client, make_server = lib, aioquic_server()
    else:
        config = lq.Config(False, alpn=[ALPN], certfile=CERT, keyfile=KEY)
        client = aioquic_client()

        def make_server(first):
            made["lib"] = MarkingLib(lq.Connection(
                config, original_dcid=lq.header_dcid(first)))
            return made["lib"]
    body = payload(2 << 20, 3)
    run = Run(client, make_server, on_step=lambda r: responder(r, answer=lambda s, d: body))
    assert run.until(lambda r: r.handshake_done())
    client.send_stream_data(0, b"get", True)
    assert run.until(lambda r: 0 in r.c.finished)
    assert bytes(run.c.streams[0]) == body
    lib = made.get("lib", client)
    stats = lib.conn.stats()
    assert stats.ecn_state == lq.ECN_FAILED
    assert stats.ecn_received_ect0 == 0 and stats.ecn_congestion_events == 0
    # Marked while testing (at most 10 packets, coalesced or not), never
    # after: the 2 MB went unmarked.
    marked = [i for i, m in enumerate(lib.marks) if m]
    assert 0 < len(marked) <= 10, lib.marks[:20]
    assert all(m in (0, 2) for m in lib.marks)
    assert len(lib.marks) > 500 and marked[-1] < 40
