"""QUIC version 2 by compatible version negotiation (RFC 9368 §2.3, RFC 9369
§4) between libquic and aioquic, in one process, in both roles: a client
that starts in version 1 and offers 2 ends up in 2 when the server prefers
it, and stays in 1 when both prefer 1. (aioquic as a server follows the
client's order of preference, which RFC 9368 §3 allows.)"""

import pytest
from aioquic.quic.configuration import QuicConfiguration
from aioquic.quic.connection import QuicConnection
from aioquic.quic.packet import QuicProtocolVersion

import lq
from test_aioquic_memory import (ALPN, CA, CERT, KEY, SERVER_ADDR, Aio, Lib, Run, payload,
                                 responder)

V1, V2 = QuicProtocolVersion.VERSION_1, QuicProtocolVersion.VERSION_2


def run_pair(direction, client_versions, server_versions):
    """Handshake and a 100 KB echo; returns (libquic's version, aioquic's)."""
    made = {}
    if direction == "libquic-client":
        config = lq.Config(True, alpn=[ALPN], server_name="localhost", cafile=CA,
                                supported_versions=client_versions, original_version=V1)
        lib = Lib(lq.Connection(config))
        lib.connect(SERVER_ADDR, 0.0)
        cfg = QuicConfiguration(is_client=False, alpn_protocols=[ALPN],
                                supported_versions=server_versions)
        cfg.load_cert_chain(CERT, KEY)

        def make(first):
            made["aio"] = Aio(QuicConnection(configuration=cfg,
                                             original_destination_connection_id=lq.header_dcid(first)))
            return made["aio"]
        client = lib
    else:
        cfg = QuicConfiguration(is_client=True, alpn_protocols=[ALPN], server_name="localhost",
                                supported_versions=client_versions, original_version=V1)
        cfg.load_verify_locations(CA)
        aio = QuicConnection(configuration=cfg)
        aio.connect(SERVER_ADDR, now=0.0)
        client = Aio(aio)
        made["aio"] = client
        config = lq.Config(False, alpn=[ALPN], certfile=CERT, keyfile=KEY,
                                supported_versions=server_versions)

        def make(first):
            made["lib"] = Lib(lq.Connection(config, original_dcid=lq.header_dcid(first)))
            return made["lib"]
    run = Run(client, make, on_step=lambda r: responder(r, answer=lambda s, d: d))
    assert run.until(lambda r: r.handshake_done()), (run.client_events, run.server_events)
    body = payload(100_000, 9)
    client.send_stream_data(0, body, True)
    assert run.until(lambda r: 0 in r.c.finished)
    assert bytes(run.c.streams[0]) == body
    lib = client if direction == "libquic-client" else made["lib"]
    return lib.version, made["aio"].conn._version


@pytest.mark.parametrize("direction", ["libquic-client", "aioquic-client"])
def test_v1_client_offering_v2_is_upgraded_by_a_server_preferring_v2(direction):
    assert run_pair(direction, [V2, V1], [V2, V1]) == (V2, V2)


@pytest.mark.parametrize("direction", ["libquic-client", "aioquic-client"])
def test_v1_client_stays_in_v1_when_both_prefer_v1(direction):
    assert run_pair(direction, [V1, V2], [V1, V2]) == (V1, V1)
