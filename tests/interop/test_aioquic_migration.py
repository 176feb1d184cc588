"""A client whose address changes in the middle of a transfer (NAT
rebinding, RFC 9000 §9), between libquic and aioquic in one process, in
both roles: the server follows the client after validating the new path,
and the client answers the server's PATH_CHALLENGE."""

import pytest

from test_aioquic_memory import Run, pairs, payload, responder

NEW_ADDR = ("127.0.0.1", 5555)


@pytest.mark.parametrize("direction", ["libquic-client", "aioquic-client"])
def test_nat_rebinding_mid_download(direction):
    client, make_server = pairs()[direction]()
    reply = payload(4 << 20, 8)
    run = Run(client, make_server,
              on_step=lambda r: responder(r, answer=lambda sid, data: reply))
    assert run.until(lambda r: r.handshake_done())
    client.send_stream_data(0, b"GET /big\r\n", True)
    assert run.until(lambda r: len(r.c.streams.get(0, b"")) > (1 << 20))
    run.client_addr = NEW_ADDR
    assert run.until(lambda r: 0 in r.c.finished), len(run.c.streams.get(0, b""))
    assert bytes(run.c.streams[0]) == reply
    if direction == "aioquic-client":
        # libquic, the server, moved to the new address and proved it.
        assert ("migrated", NEW_ADDR) in run.s.events
        assert ("validated", NEW_ADDR) in run.s.events
