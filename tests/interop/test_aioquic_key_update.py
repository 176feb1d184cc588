"""1-RTT key update (RFC 9001 §6) between libquic and aioquic, in one
process: each stack starts an update in each role and the other follows;
libquic's automatic updates by packet count on a lossy link."""

import random

import pytest
from aioquic import tls

import lq
from test_aioquic_memory import (ALPN, CA, CERT, KEY, SERVER_ADDR, Lib, Run, aioquic_client,
                                 aioquic_server, payload, responder)


def aioquic_phases(aio):
    """(send, receive) key phase bits of an aioquic connection."""
    pair = aio.conn._cryptos[tls.Epoch.ONE_RTT]
    return pair.send.key_phase, pair.recv.key_phase


def setup(direction, **lib_options):
    """(run, libquic side, aioquic side) after the handshake; the server
    echoes every finished stream."""
    made = {}

    def remember(name, make):
        def wrapped(first):
            made[name] = make(first)
            return made[name]
        return wrapped

    if direction == "libquic-client":
        config = lq.Config(True, alpn=[ALPN], server_name="localhost", cafile=CA,
                                **lib_options)
        lib = Lib(lq.Connection(config))
        lib.connect(SERVER_ADDR, 0.0)
        run = Run(lib, remember("aio", aioquic_server()),
                  on_step=lambda r: responder(r, answer=lambda s, d: d))
        assert run.until(lambda r: r.handshake_done())
        return run, lib, made["aio"], run.c.events
    config = lq.Config(False, alpn=[ALPN], certfile=CERT, keyfile=KEY, **lib_options)
    aio = aioquic_client()
    run = Run(aio, remember("lib", lambda first: Lib(lq.Connection(
        config, original_dcid=lq.header_dcid(first)))),
        on_step=lambda r: responder(r, answer=lambda s, d: d))
    assert run.until(lambda r: r.handshake_done())
    return run, made["lib"], aio, run.s.events


def echo(run, sid, size, seed):
    body = payload(size, seed)
    run.client.send_stream_data(sid, body, True)
    assert run.until(lambda r: sid in r.c.finished), len(run.s.streams.get(sid, b""))
    assert bytes(run.s.streams[sid]) == body
    assert bytes(run.c.streams[sid]) == body


def key_updates(events):
    return [e[1] for e in events if e[0] == "key_updated"]


DIRECTIONS = ["libquic-client", "aioquic-client"]


@pytest.mark.parametrize("direction", DIRECTIONS)
def test_libquic_starts_a_key_update(direction):
    run, lib, aio, lib_events = setup(direction)
    # The echo brings a client HANDSHAKE_DONE: its handshake is confirmed.
    echo(run, 0, 20_000, 1)
    lib.request_key_update()
    echo(run, 4, 200_000, 2)
    assert lib.key_generation == 1
    assert key_updates(lib_events) == [1]
    assert aioquic_phases(aio) == (1, 1)


@pytest.mark.parametrize("direction", DIRECTIONS)
def test_aioquic_starts_a_key_update(direction):
    run, lib, aio, lib_events = setup(direction)
    echo(run, 0, 20_000, 3)
    aio.conn.request_key_update()
    echo(run, 4, 200_000, 4)
    assert lib.key_generation == 1
    assert key_updates(lib_events) == [1]
    assert aioquic_phases(aio) == (1, 1)


@pytest.mark.parametrize("direction", DIRECTIONS)
def test_libquic_updates_by_packet_count_under_loss(direction):
    run, lib, aio, lib_events = setup(direction, key_update_interval=200)
    run.loss, run.rng = 0.02, random.Random(5)
    echo(run, 0, 2 << 20, 5)
    assert lib.key_generation >= 3, lib.key_generation
    gens = key_updates(lib_events)
    assert gens == list(range(1, len(gens) + 1))
    assert aioquic_phases(aio) == (lib.key_generation % 2,) * 2
    assert run.lost > 10
