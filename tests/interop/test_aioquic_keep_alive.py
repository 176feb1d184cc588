"""libquic's keep-alive (quic_config_set_keep_alive) against aioquic, in
both roles, in one process: PINGs every second hold a quiet connection
open past both sides' 3 s idle timeout (RFC 9000 §10.1.2); without them,
both sides end it by idle timeout."""

import pytest

import lq
from test_aioquic_memory import (ALPN, CA, CERT, KEY, SERVER_ADDR, Lib, Run,
                                 aioquic_client, aioquic_server, libquic_server)

IDLE_S = 3.0


def make_pair(direction, keep_alive_s):
    if direction == "libquic-client":
        config = lq.Config(True, alpn=[ALPN], server_name="localhost", cafile=CA,
                                idle_timeout_s=IDLE_S, keep_alive_s=keep_alive_s)
        client = Lib(lq.Connection(config))
        client.connect(SERVER_ADDR, 0.0)
        return client, aioquic_server(idle_timeout=IDLE_S)
    config = lq.Config(False, alpn=[ALPN], certfile=CERT, keyfile=KEY,
                            idle_timeout_s=IDLE_S, keep_alive_s=keep_alive_s)
    return aioquic_client(idle_timeout=IDLE_S), libquic_server(config)


@pytest.mark.parametrize("direction", ["libquic-client", "aioquic-client"])
def test_keep_alive_holds_a_quiet_connection_open(direction):
    client, make_server = make_pair(direction, keep_alive_s=1.0)
    run = Run(client, make_server)
    assert run.until(lambda r: r.handshake_done())
    assert not run.until(lambda r: r.terminated(r.client_events) or r.terminated(r.server_events),
                         limit=30.0)
    assert run.now >= 30.0
    # Still usable: a request is answered.
    client.send_stream_data(0, b"ping", True)
    assert run.until(lambda r: 0 in r.s.finished, limit=31.0)


@pytest.mark.parametrize("direction", ["libquic-client", "aioquic-client"])
def test_without_keep_alive_the_idle_timeout_ends_it(direction):
    client, make_server = make_pair(direction, keep_alive_s=None)
    run = Run(client, make_server)
    assert run.until(lambda r: r.handshake_done())
    started = run.now
    assert run.until(lambda r: r.terminated(r.client_events) and r.terminated(r.server_events),
                     limit=30.0)
    # RFC 9000 §10.1: within the idle timeout (plus at most 3 PTOs).
    assert run.now - started <= IDLE_S + 1.5
