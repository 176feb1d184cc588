"""libquic's endpoint (quic_endpoint) with aioquic, in one process, in
both roles: aioquic clients through one libquic server endpoint, and
libquic client connections sharing one client endpoint towards aioquic
servers. The endpoint routes every datagram, the application uses
connections it borrows by handle, and once they close every connection is
freed and its handle refused."""

import lq
from aioquic.quic import events as ev
from test_aioquic_memory import (ALPN, CA, CERT, KEY, SERVER_ADDR, aioquic_client,
                                 aioquic_server, payload)

CLIENTS = 8


def client_addr(i):
    return ("127.0.0.1", 5000 + i)


def test_aioquic_clients_through_one_endpoint():
    config = lq.Config(False, alpn=[ALPN], certfile=CERT, keyfile=KEY)
    ep = lq.Endpoint(config, retry_policy=lq.RETRY_NEVER)
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
            if kind == lq.ENDPOINT_NEW_CONNECTION:
                new.append(handle)
            elif kind == lq.ENDPOINT_CONNECTION_DONE:
                done.append(handle)
            elif conn_event["kind"] == lq.STREAM_DATA_RECEIVED:
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


def test_libquic_client_endpoint_with_aioquic_servers():
    """Eight libquic client connections on one client endpoint (one
    socket), each to its own aioquic server: every response comes back
    through the endpoint's routing by connection ID, intact."""
    config = lq.Config(True, alpn=[ALPN], server_name="localhost", cafile=CA)
    ep = lq.Endpoint()
    here = ("127.0.0.1", 4000)
    make_server = aioquic_server()
    servers, handles = {}, {}
    now = 0.0
    for i in range(CLIENTS):
        addr = ("127.0.0.1", 6000 + i)
        handles[ep.connect(config, addr, now)] = i
        servers[addr] = None
    received = {i: bytearray() for i in range(CLIENTS)}
    finished, done, asked = set(), set(), set()

    def step():
        moved = 0
        for data, addr in ep.datagrams_to_send(now):
            if servers[addr] is None:
                servers[addr] = make_server(data)
            servers[addr].receive_datagram(data, here, now)
            moved += 1
        for addr, s in servers.items():
            if s is None:
                continue
            for data, _ in s.datagrams_to_send(now):
                ep.receive_datagram(data, addr, now)
                moved += 1
            for e in s.events():
                if e[0] == "data" and e[3]:
                    i = addr[1] - 6000
                    s.send_stream_data(e[1], payload(150_000, i), True)
        while (e := ep.next_event()) is not None:
            kind, handle, conn_event = e
            if kind == lq.ENDPOINT_CONNECTION_DONE:
                done.add(handle)
                continue
            if kind != lq.ENDPOINT_CONNECTION:
                continue
            i = handles[handle]
            if conn_event["kind"] == lq.HANDSHAKE_COMPLETED and i not in asked:
                asked.add(i)
                ep.conn(handle).send_stream_data(0, b"GET /", True)
            elif conn_event["kind"] == lq.STREAM_DATA_RECEIVED:
                received[i].extend(conn_event["data"])
                if conn_event["end_stream"]:
                    finished.add(i)
        return moved

    def run(done_when, limit):
        nonlocal now
        while not done_when() and now < limit:
            if step():
                continue
            timers = [t for t in [ep.get_timer()] +
                      [s.get_timer() for s in servers.values() if s] if t is not None]
            if not timers:
                break
            now = max(now + 1e-6, min(timers))
            if ep.get_timer() is not None and ep.get_timer() <= now:
                ep.handle_timer(now)
            for s in servers.values():
                if s and s.get_timer() is not None and s.get_timer() <= now:
                    s.handle_timer(now)
        return done_when()

    assert run(lambda: len(finished) == CLIENTS, 30.0), (finished, ep.stats())
    for i in range(CLIENTS):
        assert bytes(received[i]) == payload(150_000, i), i
    for h in handles:
        ep.conn(h).close(now=now)
    assert run(lambda: len(done) == CLIENTS, now + 30.0), ep.stats()
    assert ep.stats()["connections"] == 0
    assert all(ep.conn(h) is None for h in handles)
