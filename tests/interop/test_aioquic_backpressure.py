"""Receive backpressure against aioquic, in one process: aioquic sends
2 MB to a libquic reader that either credits only what it consumed
(QUIC_RECEIVE_CREDIT_ON_CONSUME) or pauses the stream. aioquic's sending
stops while the reader does not keep up and resumes when it does; the
reader never holds more than its largest window unconsumed; the bytes
arrive intact. Both roles: libquic as the server receiving an upload and
as the client receiving a download."""

import pytest

import lq
from test_aioquic_memory import (ALPN, CA, CERT, KEY, SERVER_ADDR, Lib, Run, aioquic_client,
                                 aioquic_server, payload)

WINDOW = 64 * 1024
MAX_WINDOW = 256 * 1024
TOTAL = 2 << 20
STEP = 32 * 1024  # bytes consumed per 10 ms


def setup(direction, mode):
    """(run, libquic side, aioquic side, libquic's received streams) once
    aioquic is sending TOTAL bytes on stream 0 and the first arrived."""
    options = dict(max_stream_data=WINDOW, max_data=4 * MAX_WINDOW,
                   max_windows=(MAX_WINDOW, 4 * MAX_WINDOW),
                   credit_on_consume=mode == "consume")
    made = {}
    body = payload(TOTAL, 11)
    if direction == "libquic-client":
        config = lq.Config(True, alpn=[ALPN], server_name="localhost", cafile=CA, **options)
        lib = Lib(lq.Connection(config))
        lib.connect(SERVER_ADDR, 0.0)
        make = aioquic_server()
        run = Run(lib, lambda first: made.setdefault("aio", make(first)))
        assert run.until(lambda r: r.handshake_done())
        lib.send_stream_data(0, b"GET /big")
        assert run.until(lambda r: 0 in r.s.streams)
        made["aio"].send_stream_data(0, body, True)
        rx = run.c
    else:
        config = lq.Config(False, alpn=[ALPN], certfile=CERT, keyfile=KEY, **options)
        aio = made["aio"] = aioquic_client()
        run = Run(aio, lambda first: made.setdefault("lib", Lib(lq.Connection(
            config, original_dcid=lq.header_dcid(first)))))
        assert run.until(lambda r: r.handshake_done())
        aio.send_stream_data(0, body, True)
        lib = made["lib"]
        rx = run.s
    assert run.until(lambda r: len(rx.streams.get(0, b"")) > 0)
    return run, lib, made["aio"], rx, body


def run_for(run, seconds):
    end = run.now + seconds
    run.until(lambda r: r.now >= end, limit=end)


def aioquic_sent(aio):
    """How far aioquic's stream 0 got: the next offset it would send."""
    return aio.conn._streams[0].sender.next_offset


def received(rx):
    return len(rx.streams.get(0, b""))


@pytest.mark.parametrize("direction", ["libquic-server", "libquic-client"])
def test_aioquic_sends_at_the_pace_libquic_consumes(direction):
    run, lib, aio, rx, body = setup(direction, "consume")
    # Nothing consumed: aioquic stops at the stream's window.
    run_for(run, 1.0)
    got, sent = received(rx), aioquic_sent(aio)
    assert got <= WINDOW and sent <= WINDOW, (got, sent)
    run_for(run, 2.0)
    assert (received(rx), aioquic_sent(aio)) == (got, sent), "aioquic kept sending"
    # Consume at 32 KB per 10 ms: the rest comes, never more than the
    # largest window ahead of what was consumed.
    consumed = 0
    while not (0 in rx.finished and consumed == received(rx)):
        assert run.now < 120.0, (received(rx), consumed)
        n = min(received(rx) - consumed, STEP)
        lib.stream_consumed(0, n)
        consumed += n
        run_for(run, 0.01)
        assert received(rx) - consumed <= MAX_WINDOW
        assert aioquic_sent(aio) - consumed <= MAX_WINDOW
    assert bytes(rx.streams[0]) == body


@pytest.mark.parametrize("direction", ["libquic-server", "libquic-client"])
def test_aioquic_waits_while_libquic_pauses_a_stream(direction):
    run, lib, aio, rx, body = setup(direction, "pause")
    lib.pause_reading(0)
    got = received(rx)
    run_for(run, 1.0)
    sent = aioquic_sent(aio)
    run_for(run, 2.0)
    assert received(rx) == got, "delivered while paused"
    assert aioquic_sent(aio) == sent, "aioquic kept sending"
    # Held for the paused stream: at most the window beyond what was taken.
    assert sent - got <= MAX_WINDOW, (sent, got)
    lib.resume_reading(0)
    assert run.until(lambda r: 0 in r.c.finished or 0 in r.s.finished, limit=run.now + 60.0)
    assert bytes(rx.streams[0]) == body
