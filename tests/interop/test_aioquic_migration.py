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


@pytest.mark.parametrize("direction", ["libquic-client", "aioquic-client"])
def test_connection_id_changes_mid_download(direction):
    """RFC 9000 §5.1.2: the client moves to a new connection ID of the
    server's every 256 KB of a 4 MB download (aioquic's
    change_connection_id, libquic's quic_conn_change_connection_id),
    retiring the old one; the server keeps issuing replacements, and every
    byte arrives."""
    client, make_server = pairs()[direction]()
    reply = payload(4 << 20, 9)
    run = Run(client, make_server,
              on_step=lambda r: responder(r, answer=lambda sid, data: reply))
    assert run.until(lambda r: r.handshake_done())
    client.send_stream_data(0, b"GET /big\r\n", True)
    changes = 0
    for step in range(1, 13):
        assert run.until(lambda r: len(r.c.streams.get(0, b"")) >= step * (256 << 10))
        if direction == "libquic-client":
            changes += client.change_connection_id()
        else:
            # aioquic does nothing when it has no unused ID: count only
            # real changes (its private sequence number of the ID in use).
            before = client.conn._peer_cid.sequence_number
            client.conn.change_connection_id()
            changes += client.conn._peer_cid.sequence_number != before
    assert run.until(lambda r: 0 in r.c.finished), len(run.c.streams.get(0, b""))
    assert bytes(run.c.streams[0]) == reply
    # More changes than either server's first batch of spare IDs (at most
    # 7 beside the one in use): it replaced the ones retired.
    assert changes == 12


@pytest.mark.parametrize("direction", ["aioquic-client", "libquic-client"])
def test_libquic_replaces_all_its_connection_ids_mid_download(direction):
    """RFC 9000 §5.1.2, Retire Prior To: libquic (the server, or the
    client) replaces every connection ID it gave aioquic three times
    during a 4 MB download with 2% loss. aioquic retires each old ID,
    sends nothing to one once it is retired, and every byte arrives."""
    client, make_server = pairs()[direction]()
    reply = payload(4 << 20, 10)
    server_rotates = direction == "aioquic-client"
    # Destination CIDs of aioquic's short-header datagrams, in send order.
    seen = []

    class Recording(Run):
        def _send(self, data, to_server):
            if to_server == server_rotates and not data[0] & 0x80:
                seen.append(bytes(data[1:9]))
            super()._send(data, to_server)

    run = Recording(client, make_server, loss=0.02,
                    on_step=lambda r: responder(r, answer=lambda sid, data: reply))
    assert run.until(lambda r: r.handshake_done())

    def lib():
        return run.server if server_rotates else run.client

    def events():
        return run.server_events if server_rotates else run.client_events

    def live():
        ids = {lib().local_cid()}
        for e in events():
            if e[0] == "cid_issued":
                ids.add(e[1])
            elif e[0] == "cid_retired":
                ids.discard(e[1])
        return ids

    client.send_stream_data(0, b"GET /big\r\n", True)
    for step in range(1, 4):
        assert run.until(lambda r: len(r.c.streams.get(0, b"")) >= step * (1 << 20))
        run.collect()
        old = live()
        assert lib().rotate_connection_ids()
        assert not lib().rotate_connection_ids(), "one rotation at a time"
        run.collect()
        new = live() - old
        assert len(new) >= 2
        assert run.until(lambda r: live() == new), (step, live(), new)
        sent_before = len(seen)
        assert run.until(lambda r: len(seen) > sent_before + 20)
        assert set(seen[sent_before:]) <= new, step
    assert run.until(lambda r: 0 in r.c.finished), len(run.c.streams.get(0, b""))
    assert bytes(run.c.streams[0]) == reply
