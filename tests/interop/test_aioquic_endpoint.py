"""aioquic clients through one libquic server endpoint (quic_endpoint), in
one process: the endpoint routes every client's datagrams, the server
application answers through connections it borrows by handle, and once
the clients close every connection is freed and its handle refused."""

import libquic
from aioquic.quic import events as ev
from test_aioquic_memory import ALPN, CERT, KEY, SERVER_ADDR, aioquic_client, payload

CLIENTS = 8


def client_addr(i):
    return ("127.0.0.1", 5000 + i)


def test_aioquic_clients_through_one_endpoint():
    config = libquic.Config(False, alpn=[ALPN], certfile=CERT, keyfile=KEY)
    ep = libquic.Endpoint(config, retry_policy=libquic.RETRY_NEVER)
    clients = {client_addr(i): aioquic_client().conn for i in range(CLIENTS)}
    replies = {addr: bytearray() for addr in clients}
    finished, terminated = set(), set()
    new, done, requests = [], [], {}
    now = 0.0

    def step():
        moved = 0
        for addr, c in clients.items():
            for data, _ in c.datagrams_to_send(now):
                ep.receive_datagram(data, addr, now)
                moved += 1
        for data, addr in ep.datagrams_to_send(now):
            clients[addr].receive_datagram(data, SERVER_ADDR, now)
            moved += 1
        while (e := ep.next_event()) is not None:
            kind, handle, conn_event = e
            if kind == libquic.ENDPOINT_NEW_CONNECTION:
                new.append(handle)
            elif kind == libquic.ENDPOINT_CONNECTION_DONE:
                done.append(handle)
            elif conn_event["kind"] == libquic.STREAM_DATA_RECEIVED:
                req = requests.setdefault(handle, bytearray())
                req.extend(conn_event["data"])
                if conn_event["end_stream"]:
                    i = int(req.decode().split()[1])
                    ep.conn(handle).send_stream_data(conn_event["stream_id"],
                                                     payload(200_000, i), True)
        for i, (addr, c) in enumerate(clients.items()):
            while (e := c.next_event()) is not None:
                if isinstance(e, ev.HandshakeCompleted):
                    c.send_stream_data(0, f"GET {i}".encode(), True)
                elif isinstance(e, ev.StreamDataReceived):
                    replies[addr].extend(e.data)
                    if e.end_stream:
                        finished.add(addr)
                elif isinstance(e, ev.ConnectionTerminated):
                    terminated.add(addr)
        return moved

    def run(done_when, limit):
        nonlocal now
        while not done_when() and now < limit:
            if step():
                continue
            timers = [t for t in [ep.get_timer()] + [c.get_timer() for c in clients.values()]
                      if t is not None]
            if not timers:
                break
            now = max(now + 1e-6, min(timers))
            if ep.get_timer() is not None and ep.get_timer() <= now:
                ep.handle_timer(now)
            for c in clients.values():
                if c.get_timer() is not None and c.get_timer() <= now:
                    c.handle_timer(now)
        return done_when()

    assert run(lambda: len(finished) == CLIENTS, 30.0), (len(finished), ep.stats())
    for i in range(CLIENTS):
        assert bytes(replies[client_addr(i)]) == payload(200_000, i), i
    stats = ep.stats()
    assert stats["accepted"] == CLIENTS and stats["connections"] == CLIENTS, stats
    assert len(new) == CLIENTS

    for c in clients.values():
        c.close(error_code=0, reason_phrase="bye")
    assert run(lambda: len(done) == CLIENTS, now + 30.0), ep.stats()
    assert ep.stats()["connections"] == 0
    assert all(ep.conn(h) is None for h in new), "freed handles are refused"
