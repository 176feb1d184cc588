"""Pairs of connections driven in memory, with aioquic's helpers' shape
(client_and_server, transfer, roundtrip), for libquic and aioquic alike:
the package mirrors aioquic's API, so one test runs every pairing."""

import contextlib
import os

import pytest

import libquic.quic.configuration
import libquic.quic.connection

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))
CERTS = os.environ.get("CERT_DIR", os.path.join(ROOT, "build", "certs"))
CAFILE = os.path.join(CERTS, "ca.pem")
CERTFILE = os.path.join(CERTS, "server.pem")
KEYFILE = os.path.join(CERTS, "server.key")

CLIENT_ADDR = ("1.2.3.4", 1234)
SERVER_ADDR = ("2.3.4.5", 4433)


class Stack:
    """One implementation of aioquic's API: QuicConfiguration, QuicConnection."""

    def __init__(self, name, configuration, connection):
        self.name = name
        self.QuicConfiguration = configuration
        self.QuicConnection = connection


LIBQUIC = Stack("libquic", libquic.quic.configuration.QuicConfiguration,
                libquic.quic.connection.QuicConnection)


def aioquic_stack():
    from aioquic.quic.configuration import QuicConfiguration
    from aioquic.quic.connection import QuicConnection
    return Stack("aioquic", QuicConfiguration, QuicConnection)


class Clock:
    """Virtual seconds, so that timers can be run without waiting."""

    def __init__(self):
        self.now = 1000.0


class Pair:
    def __init__(self, client, server, clock, client_stack, server_stack):
        self.client, self.server, self.clock = client, server, clock
        self.client_stack, self.server_stack = client_stack, server_stack

    def transfer(self, sender, receiver, drop=False):
        """Sends `sender`'s datagrams to `receiver` (or drops them); how many."""
        from_addr = CLIENT_ADDR if sender is self.client else SERVER_ADDR
        if getattr(sender, "_network_paths", None) == []:
            return 0  # an aioquic server that has heard nothing cannot be asked
        sent = sender.datagrams_to_send(now=self.clock.now)
        if not drop:
            for data, _addr in sent:
                receiver.receive_datagram(data, from_addr, now=self.clock.now)
        return len(sent)

    def roundtrip(self, sender, receiver):
        return self.transfer(sender, receiver), self.transfer(receiver, sender)

    def run_timers(self, horizon=0.2):
        """Advances the clock to the nearest timer within `horizon` seconds
        and runs it; False when none is that close."""
        timers = [t for t in (self.client.get_timer(), self.server.get_timer()) if t is not None]
        if not timers or min(timers) > self.clock.now + horizon:
            return False
        self.clock.now = max(self.clock.now, min(timers))
        for conn in (self.client, self.server):
            t = conn.get_timer()
            if t is not None and t <= self.clock.now:
                conn.handle_timer(now=self.clock.now)
        return True

    def settle(self, rounds=200):
        """Exchanges datagrams, running near timers (pacing, ACK delay,
        loss), until both sides are quiet."""
        for _ in range(rounds):
            if self.roundtrip(self.client, self.server) == (0, 0) and not self.run_timers():
                return
        raise AssertionError("the connections never went quiet")

    def drain(self, seconds=10.0):
        """Runs every timer due in the next `seconds` (closing and draining
        periods: aioquic reports ConnectionTerminated only once they end)."""
        end = self.clock.now + seconds
        while True:
            timers = [t for t in (self.client.get_timer(), self.server.get_timer()) if t is not None]
            if not timers or min(timers) > end:
                return
            self.clock.now = max(self.clock.now, min(timers))
            for conn in (self.client, self.server):
                t = conn.get_timer()
                if t is not None and t <= self.clock.now:
                    conn.handle_timer(now=self.clock.now)
            self.roundtrip(self.client, self.server)

    def events(self, conn):
        out = []
        while (ev := conn.next_event()) is not None:
            out.append(ev)
        return out


PAIRINGS = ["libquic-libquic", "libquic-aioquic", "aioquic-libquic"]


@pytest.fixture(params=PAIRINGS)
def pairing(request):
    """(client stack, server stack): libquic against itself and both roles
    against aioquic."""
    client_name, server_name = request.param.split("-")
    aio = aioquic_stack()
    stacks = {"libquic": LIBQUIC, "aioquic": aio}
    return stacks[client_name], stacks[server_name]


@pytest.fixture
def client_and_server(pairing):
    client_stack, server_stack = pairing

    @contextlib.contextmanager
    def make(client_kwargs=None, client_options=None, server_kwargs=None, server_options=None,
             handshake=True, server_certfile=CERTFILE, cafile=CAFILE):
        clock = Clock()
        options = dict(server_name="localhost", alpn_protocols=["hq-interop"])
        options.update(client_options or {})
        client_configuration = client_stack.QuicConfiguration(is_client=True, **options)
        if cafile:
            client_configuration.load_verify_locations(cafile=cafile)
        client = client_stack.QuicConnection(configuration=client_configuration, **(client_kwargs or {}))
        client.connect(SERVER_ADDR, now=clock.now)

        options = dict(alpn_protocols=["hq-interop"])
        options.update(server_options or {})
        server_configuration = server_stack.QuicConfiguration(is_client=False, **options)
        server_configuration.load_cert_chain(server_certfile, KEYFILE)
        server = server_stack.QuicConnection(
            configuration=server_configuration,
            original_destination_connection_id=client.original_destination_connection_id,
            **(server_kwargs or {}))
        pair = Pair(client, server, clock, client_stack, server_stack)
        if handshake:
            pair.settle()
        yield pair

    return make
