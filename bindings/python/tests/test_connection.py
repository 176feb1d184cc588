"""A port of aioquic's connection tests (tests/test_connection.py in
aioquic) that drive its public API, run on every pairing of libquic with
itself and with aioquic in both roles (conftest.py). Properties are
asserted, not one stack's datagram counts. Which aioquic tests were ported
and which do not apply: README.md in this directory."""

import io
import pickle

import pytest

from libquic import LibquicError, StreamError, Termination
from libquic.quic import events
from libquic.quic.packet import QuicErrorCode, QuicProtocolVersion
from libquic.tls import CipherSuite, SessionTicket

from conftest import CERTFILE, CAFILE, SERVER_ADDR


def names(evs):
    return [type(e).__name__ for e in evs]


def kind(event, name):
    """Whether event is aioquic's or libquic's event class of that name
    (the pairings mix both modules)."""
    return type(event).__name__ == name


def fields(event):
    return (type(event).__name__, vars(event))


def is_libquic(conn):
    return type(conn).__module__.startswith("libquic")


def check_handshake(pair, alpn="hq-interop"):
    """aioquic's check_handshake: ProtocolNegotiated then HandshakeCompleted
    (no early data, no resumption), then connection IDs for the peer."""
    for conn in (pair.client, pair.server):
        evs = pair.events(conn)
        assert names(evs[:2]) == ["ProtocolNegotiated", "HandshakeCompleted"], names(evs)
        assert evs[0].alpn_protocol == alpn and evs[1].alpn_protocol == alpn
        assert evs[1].early_data_accepted is False and evs[1].session_resumed is False
        rest = [e for e in evs[2:] if not kind(e, "PathMtuChanged")]
        assert rest and all(kind(e, "ConnectionIdIssued") for e in rest), names(evs)
        assert len({e.connection_id for e in rest}) == len(rest)


def version_of(conn):
    return conn.stats().version if is_libquic(conn) else conn._version


def test_connect(client_and_server):
    with client_and_server() as pair:
        check_handshake(pair)
        assert pair.client.original_destination_connection_id == pair.server.original_destination_connection_id
        assert len(pair.client.original_destination_connection_id) >= 8  # RFC 9000 §7.2


def test_connect_with_alpn(client_and_server):
    with client_and_server(client_options={"alpn_protocols": ["h3", "hq-interop"]},
                           server_options={"alpn_protocols": ["hq-interop"]}) as pair:
        check_handshake(pair, alpn="hq-interop")


def test_connect_with_secrets_log(client_and_server):
    client_log, server_log = io.StringIO(), io.StringIO()
    with client_and_server(client_options={"secrets_log_file": client_log},
                           server_options={"secrets_log_file": server_log}) as pair:
        check_handshake(pair)
        for log in (client_log, server_log):
            labels = {line.split(" ")[0] for line in log.getvalue().splitlines()}
            assert {"CLIENT_HANDSHAKE_TRAFFIC_SECRET", "SERVER_HANDSHAKE_TRAFFIC_SECRET",
                    "CLIENT_TRAFFIC_SECRET_0", "SERVER_TRAFFIC_SECRET_0"} <= labels
        # Both sides logged the same traffic secrets for the same client
        # random (OpenSSL also logs EXPORTER_SECRET, aioquic does not).
        traffic = [sorted(line for line in log.getvalue().splitlines() if "TRAFFIC_SECRET" in line)
                   for log in (client_log, server_log)]
        assert traffic[0] == traffic[1] and len(traffic[0]) == 4


def test_connect_with_cert_chain(client_and_server, tmp_path):
    chain = tmp_path / "chain.pem"
    chain.write_bytes(open(CERTFILE, "rb").read() + open(CAFILE, "rb").read())
    with client_and_server(server_certfile=str(chain)) as pair:
        check_handshake(pair)


@pytest.mark.parametrize("suite", list(CipherSuite))
def test_connect_with_cipher_suite(client_and_server, suite):
    with client_and_server(client_options={"cipher_suites": [suite]},
                           server_options={"cipher_suites": [suite]}) as pair:
        check_handshake(pair)
        for conn in (pair.client, pair.server):
            if is_libquic(conn):
                assert conn.stats().cipher_suite == suite


def test_connect_with_custom_packet_size(client_and_server):
    """Datagrams stay within max_datagram_size (no probing above it by
    default, as in aioquic)."""
    with client_and_server(client_options={"max_datagram_size": 1300},
                           server_options={"max_datagram_size": 1300}, handshake=False) as pair:
        sizes = []
        for _ in range(50):
            for sender, receiver in ((pair.client, pair.server), (pair.server, pair.client)):
                out = sender.datagrams_to_send(now=pair.clock.now)
                sizes += [len(d) for d, _ in out]
                for data, _ in out:
                    receiver.receive_datagram(data, SERVER_ADDR if sender is pair.server else ("1.2.3.4", 1234),
                                              now=pair.clock.now)
            if not pair.run_timers():
                break
        check_handshake(pair)
        assert sizes and max(sizes) <= 1300


@pytest.mark.parametrize("lost", ["client's first flight", "server's first flight"])
def test_connect_with_loss(client_and_server, lost):
    """aioquic's test_connect_with_loss_*: a lost flight is sent again when
    the loss timer fires, and the handshake completes."""
    with client_and_server(handshake=False) as pair:
        if lost == "client's first flight":
            assert pair.transfer(pair.client, pair.server, drop=True) >= 1
        else:
            pair.transfer(pair.client, pair.server)
            assert pair.transfer(pair.server, pair.client, drop=True) >= 1
        for _ in range(20):
            pair.roundtrip(pair.client, pair.server)
            if pair.run_timers(horizon=5.0) is False:
                break
        pair.settle()
        check_handshake(pair)


V1, V2 = QuicProtocolVersion.VERSION_1, QuicProtocolVersion.VERSION_2


@pytest.mark.parametrize("client_versions,original,server_versions,version", [
    ([V1], None, [V1, V2], V1),
    ([V2], None, [V1, V2], V2),
    ([V2, V1], V1, [V2, V1], V2),
    ([V1, V2], V2, [V1, V2], V1),
], ids=["1", "2", "1_to_2", "2_to_1"])
def test_connect_with_compatible_version_negotiation(client_and_server, client_versions, original,
                                                     server_versions, version):
    """RFC 9368: a client that starts in one version and offers another the
    server prefers ends in that one (here both sides prefer the same: the
    RFC lets a server use its own preference, which libquic does)."""
    options = {"supported_versions": client_versions}
    if original is not None:
        options["original_version"] = original
    with client_and_server(client_options=options,
                           server_options={"supported_versions": server_versions}) as pair:
        check_handshake(pair)
        assert version_of(pair.client) == version
        assert version_of(pair.server) == version


def test_connect_with_0rtt(client_and_server):
    """A ticket from a first connection resumes the second, whose first
    flight carries stream data in 0-RTT."""
    tickets = []
    store = {}

    def server_kwargs():
        return {"session_ticket_handler": lambda t: store.__setitem__(t.ticket, t),
                "session_ticket_fetcher": lambda label: store.pop(label, None)}

    with client_and_server(client_kwargs={"session_ticket_handler": tickets.append},
                           server_kwargs=server_kwargs()) as pair:
        check_handshake(pair)
    assert tickets, "the server sent no session ticket"
    ticket = pickle.loads(pickle.dumps(tickets[-1]))

    with client_and_server(client_options={"session_ticket": ticket}, server_kwargs=server_kwargs(),
                           handshake=False) as pair:
        stream_id = pair.client.get_next_available_stream_id()
        pair.client.send_stream_data(stream_id, b"hello", end_stream=True)
        pair.transfer(pair.client, pair.server)
        early = pair.events(pair.server)
        assert any(kind(e, "StreamDataReceived") and e.data == b"hello" for e in early), \
            f"no 0-RTT data in the first flight: {names(early)}"
        assert not any(kind(e, "HandshakeCompleted") for e in early)
        pair.settle()
        done = [e for e in pair.events(pair.client) if kind(e, "HandshakeCompleted")]
        assert done and done[0].session_resumed and done[0].early_data_accepted


def test_change_connection_id(client_and_server):
    with client_and_server() as pair:
        check_handshake(pair)
        pair.client.change_connection_id()
        pair.client.send_stream_data(0, b"after the change", end_stream=True)
        pair.settle()
        evs = pair.events(pair.server)
        assert any(kind(e, "ConnectionIdRetired") for e in evs), names(evs)
        assert any(kind(e, "StreamDataReceived") and e.data == b"after the change" for e in evs)


def test_get_next_available_stream_id(client_and_server):
    """RFC 9000 §2.1: the low bits say who opened a stream and which way."""
    with client_and_server() as pair:
        for conn, bidi, uni in ((pair.client, [0, 4], [2, 6]), (pair.server, [1, 5], [3, 7])):
            for want in bidi:
                assert conn.get_next_available_stream_id() == want
                conn.send_stream_data(want, b"hello")
            for want in uni:
                assert conn.get_next_available_stream_id(is_unidirectional=True) == want
                conn.send_stream_data(want, b"hello")
        pair.settle()
        got = {e.stream_id for e in pair.events(pair.server) if kind(e, "StreamDataReceived")}
        assert got == {0, 4, 2, 6}
        got = {e.stream_id for e in pair.events(pair.client) if kind(e, "StreamDataReceived")}
        assert got == {1, 5, 3, 7}


def test_send_stream_data_before_handshake(client_and_server):
    """Stream data written right after connect(), before the handshake
    has brought the server's limits, is sent once it has (aioquic queues
    it; so does the package), on the stream IDs it was given."""
    with client_and_server(handshake=False) as pair:
        first = pair.client.get_next_available_stream_id()
        pair.client.send_stream_data(first, b"one", end_stream=True)
        second = pair.client.get_next_available_stream_id()
        pair.client.send_stream_data(second, b"two", end_stream=True)
        assert (first, second) == (0, 4)
        pair.settle()
        got = {e.stream_id: e.data for e in pair.events(pair.server) if kind(e, "StreamDataReceived")}
        assert got == {0: b"one", 4: b"two"}


def test_datagram_frame(client_and_server):
    opts = {"max_datagram_frame_size": 65536}
    with client_and_server(client_options=opts, server_options=opts) as pair:
        check_handshake(pair)
        pair.client.send_datagram_frame(b"hello")
        assert pair.transfer(pair.client, pair.server) == 1
        assert [fields(e) for e in pair.events(pair.server)] == [("DatagramFrameReceived", {"data": b"hello"})]


def test_datagram_frame_2(client_and_server):
    """Datagrams that each fill a packet, more than the congestion window
    lets out at once: every one arrives whole, in order, once."""
    payload = [bytes([i]) * 1150 for i in range(20)]
    opts = {"max_datagram_frame_size": 65536}
    with client_and_server(client_options=opts, server_options=opts) as pair:
        check_handshake(pair)
        for p in payload:
            pair.client.send_datagram_frame(p)
        pair.settle()
        got = [e.data for e in pair.events(pair.server) if kind(e, "DatagramFrameReceived")]
        assert got == payload


def test_datagram_frame_not_allowed(client_and_server):
    """A peer that did not offer max_datagram_frame_size gets none."""
    with client_and_server(client_options={"max_datagram_frame_size": 65536}) as pair:
        if not is_libquic(pair.client):
            pytest.skip("aioquic queues the frame and fails the connection later")
        with pytest.raises(LibquicError):
            pair.client.send_datagram_frame(b"hello")


def test_tls_error(client_and_server, tmp_path):
    """A server certificate the client cannot verify ends both sides with a
    CRYPTO_ERROR (0x100 + the TLS alert, RFC 9001 §4.8)."""
    other_ca = tmp_path / "other-ca.pem"
    import subprocess
    subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256",
                    "-nodes", "-keyout", str(tmp_path / "k.pem"), "-out", str(other_ca), "-days", "1",
                    "-subj", "/CN=other"], check=True, capture_output=True)
    with client_and_server(cafile=str(other_ca), handshake=False) as pair:
        pair.settle()
        pair.drain()
        for conn in (pair.client, pair.server):
            terminated = [e for e in pair.events(conn) if kind(e, "ConnectionTerminated")]
            assert terminated, f"{conn} did not end"
            assert 0x100 <= terminated[0].error_code < 0x200


def test_receive_datagram_garbage(client_and_server):
    with client_and_server() as pair:
        check_handshake(pair)
        pair.server.receive_datagram(bytes.fromhex("c00000000080"), ("1.2.3.4", 1234), now=pair.clock.now)
        pair.server.receive_datagram(b"\x40" + bytes(30), ("1.2.3.4", 1234), now=pair.clock.now)
        pair.client.send_stream_data(0, b"still here", end_stream=True)
        pair.settle()
        assert [e.data for e in pair.events(pair.server) if kind(e, "StreamDataReceived")] == \
            [b"still here"]


def test_send_ping(client_and_server):
    with client_and_server() as pair:
        check_handshake(pair)
        pair.client.send_ping(12345)
        pair.settle()
        assert ("PingAcknowledged", {"uid": 12345}) in [fields(e) for e in pair.events(pair.client)]


def test_send_reset_stream(client_and_server):
    with client_and_server() as pair:
        check_handshake(pair)
        pair.client.send_stream_data(0, b"hello")
        pair.settle()
        pair.client.reset_stream(0, 0x42)
        pair.settle()
        resets = [e for e in pair.events(pair.server) if kind(e, "StreamReset")]
        assert [(e.stream_id, e.error_code) for e in resets] == [(0, 0x42)]


def test_send_stop_sending(client_and_server):
    """STOP_SENDING is answered with RESET_STREAM (RFC 9000 §3.5)."""
    with client_and_server() as pair:
        check_handshake(pair)
        pair.client.send_stream_data(0, b"hello")
        pair.settle()
        pair.client.stop_stream(0, QuicErrorCode.NO_ERROR)
        pair.settle()
        stops = [e for e in pair.events(pair.server) if kind(e, "StopSendingReceived")]
        assert [(e.stream_id, e.error_code) for e in stops] == [(0, QuicErrorCode.NO_ERROR)]
        resets = [e for e in pair.events(pair.client) if kind(e, "StreamReset")]
        assert [(e.stream_id, e.error_code) for e in resets] == [(0, QuicErrorCode.NO_ERROR)]


def test_send_stop_sending_uni_stream(client_and_server):
    with client_and_server() as pair:
        check_handshake(pair)
        with pytest.raises(ValueError):
            pair.client.stop_stream(2, QuicErrorCode.NO_ERROR)


def test_send_stop_sending_unknown_stream(client_and_server):
    with client_and_server() as pair:
        check_handshake(pair)
        with pytest.raises(ValueError):
            pair.client.stop_stream(0, QuicErrorCode.NO_ERROR)


def test_send_stream_data_peer_initiated(client_and_server):
    with client_and_server() as pair:
        check_handshake(pair)
        pair.server.send_stream_data(1, b"hello")
        pair.server.send_stream_data(3, b"hello")
        pair.settle()
        pair.client.send_stream_data(0, b"hello")
        pair.client.send_stream_data(1, b"hello")  # the server's bidirectional stream
        pair.client.send_stream_data(2, b"hello")
        pair.settle()
        got = {e.stream_id for e in pair.events(pair.server) if kind(e, "StreamDataReceived")}
        assert got == {0, 1, 2}
        for call in (lambda: pair.client.reset_stream(3, 0), lambda: pair.client.reset_stream(5, 0),
                     lambda: pair.client.send_stream_data(3, b"hello"),
                     lambda: pair.client.send_stream_data(5, b"hello")):
            with pytest.raises(ValueError):
                call()


def test_stream_data_both_ways_intact(client_and_server):
    """1 MB each way on one bidirectional stream arrives intact and ends."""
    up = bytes(range(256)) * 4096
    down = up[::-1]
    with client_and_server() as pair:
        check_handshake(pair)
        pair.client.send_stream_data(0, up, end_stream=True)
        got_up, got_down, ended = bytearray(), bytearray(), [False, False]
        for _ in range(2000):
            moved = pair.roundtrip(pair.client, pair.server) != (0, 0)
            for e in pair.events(pair.server):
                if kind(e, "StreamDataReceived"):
                    got_up.extend(e.data)
                    if e.end_stream:
                        ended[0] = True
                        pair.server.send_stream_data(0, down, end_stream=True)
            for e in pair.events(pair.client):
                if kind(e, "StreamDataReceived"):
                    got_down.extend(e.data)
                    ended[1] = ended[1] or e.end_stream
            if all(ended) or (not moved and not pair.run_timers()):
                break
        assert bytes(got_up) == up and bytes(got_down) == down and all(ended)


def test_key_update(client_and_server):
    """RFC 9001 §6: after the client's key update, data still flows both
    ways; libquic sides report KeyUpdated and a new key generation."""
    with client_and_server() as pair:
        check_handshake(pair)
        pair.client.send_stream_data(0, b"before")
        pair.settle()
        pair.client.request_key_update()
        pair.client.send_stream_data(0, b"after", end_stream=True)
        pair.settle()
        pair.server.send_stream_data(0, b"reply", end_stream=True)
        pair.settle()
        server_evs, client_evs = pair.events(pair.server), pair.events(pair.client)
        assert b"".join(e.data for e in server_evs if kind(e, "StreamDataReceived")) == b"beforeafter"
        assert b"".join(e.data for e in client_evs if kind(e, "StreamDataReceived")) == b"reply"
        for conn, evs in ((pair.client, client_evs), (pair.server, server_evs)):
            if is_libquic(conn):
                assert any(kind(e, "KeyUpdated") for e in evs), names(evs)
                assert conn.key_generation == 1


@pytest.mark.parametrize("frame_type", [None, 0x08])
def test_close(client_and_server, frame_type):
    """The peer sees the close's code, reason and, for a transport close,
    frame type (aioquic's rule: no frame type is an application close)."""
    with client_and_server() as pair:
        check_handshake(pair)
        pair.client.close(error_code=0x42 if frame_type is None else QuicErrorCode.PROTOCOL_VIOLATION,
                          frame_type=frame_type, reason_phrase="bye")
        pair.transfer(pair.client, pair.server)
        pair.drain()
        terminated = [e for e in pair.events(pair.server) if kind(e, "ConnectionTerminated")]
        assert len(terminated) == 1
        t = terminated[0]
        assert t.reason_phrase == "bye"
        if frame_type is None:
            assert (t.error_code, t.frame_type) == (0x42, None)
        else:
            assert (t.error_code, t.frame_type) == (QuicErrorCode.PROTOCOL_VIOLATION, 0x08)
        if is_libquic(pair.server):
            want = Termination.PEER_APPLICATION if frame_type is None else Termination.PEER_TRANSPORT
            assert t.termination == want
        # The closing side ends after its closing period; then it is closed.
        if is_libquic(pair.client):
            assert pair.client.is_closed


def test_write_connection_close_early(client_and_server):
    """An application close before the handshake is confirmed goes out as a
    transport APPLICATION_ERROR without the reason (RFC 9000 §10.2.3)."""
    with client_and_server(handshake=False) as pair:
        pair.transfer(pair.client, pair.server)
        pair.transfer(pair.server, pair.client)
        pair.client.close(error_code=123, reason_phrase="some reason")
        pair.transfer(pair.client, pair.server)
        pair.drain()
        terminated = [e for e in pair.events(pair.server) if kind(e, "ConnectionTerminated")]
        assert len(terminated) == 1
        assert terminated[0].error_code == QuicErrorCode.APPLICATION_ERROR
        assert terminated[0].reason_phrase == ""


def version_negotiation(first_datagram, versions):
    """A Version Negotiation packet (RFC 8999 §6) answering a client's first
    Initial: its connection IDs swapped, then the versions."""
    dcid_len = first_datagram[5]
    dcid = first_datagram[6:6 + dcid_len]
    scid_len = first_datagram[6 + dcid_len]
    scid = first_datagram[7 + dcid_len:7 + dcid_len + scid_len]
    return (bytes([0xC0]) + bytes(4) + bytes([len(scid)]) + scid + bytes([len(dcid)]) + dcid
            + b"".join(v.to_bytes(4, "big") for v in versions))


def test_version_negotiation_fail(client_and_server):
    """No version in common: the client ends, saying so (libquic's reason
    also lists the versions; aioquic's is a fixed phrase)."""
    with client_and_server(handshake=False) as pair:
        first = pair.client.datagrams_to_send(now=pair.clock.now)[0][0]
        pair.client.receive_datagram(version_negotiation(first, [0x1A2A3A4A]), SERVER_ADDR,
                                     now=pair.clock.now)
        assert pair.client.datagrams_to_send(now=pair.clock.now) == []
        pair.drain()
        terminated = [e for e in pair.events(pair.client) if kind(e, "ConnectionTerminated")]
        assert len(terminated) == 1
        reason = terminated[0].reason_phrase.lower()
        assert "common" in reason and "version" in reason, reason
        if is_libquic(pair.client):
            assert terminated[0].termination == Termination.VERSION_NEGOTIATION
            assert pair.client.is_closed


def test_version_negotiation_ignore(client_and_server):
    """A Version Negotiation packet that lists the version in use is
    ignored (RFC 9000 §6.2): the handshake goes on."""
    with client_and_server(client_options={"supported_versions": [QuicProtocolVersion.VERSION_1]},
                           handshake=False) as pair:
        first = pair.client.datagrams_to_send(now=pair.clock.now)[0][0]
        pair.client.receive_datagram(version_negotiation(first, [QuicProtocolVersion.VERSION_1]), SERVER_ADDR,
                                     now=pair.clock.now)
        pair.server.receive_datagram(first, ("1.2.3.4", 1234), now=pair.clock.now)
        pair.settle()
        check_handshake(pair)


def test_session_ticket_pickles():
    t = SessionTicket(ticket=b"\x01\x02")
    assert pickle.loads(pickle.dumps(t)) == t


def test_stream_error_is_value_error():
    assert issubclass(StreamError, ValueError) and issubclass(StreamError, LibquicError)


@pytest.mark.parametrize("field,value", [("idle_timeout", -1.0), ("max_data", -5), ("max_data", 1 << 64),
                                         ("connection_id_length", -1)])
def test_configuration_values_out_of_range_are_refused(field, value):
    """A negative or too large setting is refused, not wrapped by ctypes
    into a huge unsigned one."""
    from libquic.quic.configuration import QuicConfiguration
    from libquic.quic.connection import QuicConnection
    config = QuicConfiguration(is_client=True, alpn_protocols=["hq-interop"], **{field: value})
    with pytest.raises(ValueError, match=field):
        QuicConnection(configuration=config)


def test_clock_values_are_clamped(client_and_server):
    """A caller clock before zero or past uint64_t neither wraps nor goes
    back: libquic's time only moves forward."""
    with client_and_server() as pair:
        if not is_libquic(pair.client):
            pytest.skip("libquic's clock conversion")
        check_handshake(pair)
        pair.client.handle_timer(now=-5.0)
        assert pair.client._ns(None) >= int(pair.clock.now * 1e9)
        pair.client.handle_timer(now=1e12)
        assert pair.client._ns(None) <= 2**63
