"""Address-validation tokens minted by libquic (RFC 9000 §8.1), with an
aioquic client in one process: a libquic server answers a new client with
a Retry carrying a libquic token and accepts it when the token comes back;
after the handshake it gives the client a NEW_TOKEN token, which the next
connection presents and which spares it the Retry."""

import lq
from test_aioquic_memory import ALPN, CERT, KEY, Lib, Run, aioquic_client


class RetryFront:
    """A libquic server behind a front end that makes every client without
    a valid token go through a Retry (what quic-server --retry does)."""

    def __init__(self, config):
        self.config, self.conn, self.out, self.decisions = config, None, [], []

    def receive_datagram(self, data, addr, now):
        if self.conn is None:
            kind, what = lq.server_front(self.config, data, addr)
            self.decisions.append(kind if kind == "retry" else
                                  "token" if what.get("address_validated") else
                                  "retry-token")
            if kind == "retry":
                self.out.append((what, addr))
                return
            self.conn = Lib(lq.Connection(self.config, **what))
        self.conn.receive_datagram(data, addr, now)

    def datagrams_to_send(self, now):
        out, self.out = self.out, []
        return out + (self.conn.datagrams_to_send(now) if self.conn else [])

    def get_timer(self):
        return self.conn.get_timer() if self.conn else None

    def handle_timer(self, now):
        if self.conn:
            self.conn.handle_timer(now)

    def events(self):
        return self.conn.events() if self.conn else []


def test_aioquic_client_through_libquic_retry_and_new_token():
    config = lq.Config(False, alpn=[ALPN], certfile=CERT, keyfile=KEY)
    tokens = []

    def connect(token=None):
        aio = aioquic_client(dict(token_handler=tokens.append), token=token or b"")
        front = RetryFront(config)
        run = Run(aio, lambda first: front)
        assert run.until(lambda r: r.handshake_done() and tokens), (run.client_events,
                                                                   front.decisions)
        run.client.send_stream_data(0, b"validated", True)
        assert run.until(lambda r: 0 in r.s.finished)
        assert bytes(run.s.streams[0]) == b"validated"
        return front

    first = connect()
    # A Retry (one per Initial datagram of the first flight), then the
    # connection its token validated.
    assert first.decisions[-1] == "retry-token" and "retry" in first.decisions
    second = connect(tokens[-1])
    # The NEW_TOKEN token validated the second client at once: no Retry.
    assert second.decisions == ["token"]
