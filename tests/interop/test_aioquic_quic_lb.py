"""A fleet of two libquic server endpoints behind a stateless load
balancer, with aioquic clients, in one process. With QUIC-LB connection
IDs (quic_config_set_quic_lb) the balancer reads the server ID from each
packet's destination CID (quic_lb_server_id) and sends new clients'
Initials by a hash of their DCID; every client changes address and
connection ID mid-download, and every download still finishes on the
server that started it. The control: the usual 4-tuple hash with random
IDs sends moved clients to the wrong server, which answers with
stateless resets."""

import hashlib

import lq
from aioquic.quic import events as ev
from test_aioquic_memory import ALPN, CERT, KEY, SERVER_ADDR, aioquic_client, payload

CLIENTS = 16
SIZE = 300_000
CID_LEN = 10  # 1 + 2-byte server ID + 7-byte nonce
SERVER_IDS = (b"\x01\xaa", b"\x02\xbb")


def digest_index(data, n):
    return hashlib.sha256(data).digest()[0] % n


def dcid_of(datagram):
    """The destination CID, as a balancer that knows the fleet's ID length
    reads it (long headers carry the length; short ones do not)."""
    if datagram[0] & 0x80:
        return datagram[6:6 + datagram[5]]
    return datagram[1:1 + CID_LEN]


def run_fleet(quic_lb):
    """Downloads with a mid-transfer address change; returns (intact
    downloads, each server endpoint's stats)."""
    servers = []
    for sid in SERVER_IDS:
        config = lq.Config(False, alpn=[ALPN], certfile=CERT, keyfile=KEY,
                                quic_lb=(1, sid, CID_LEN - 3) if quic_lb else None)
        servers.append(lq.Endpoint(config, retry_policy=lq.RETRY_NEVER))
    by_sid = dict(zip(SERVER_IDS, servers))

    def balance(datagram, addr):
        if quic_lb:
            read = lq.quic_lb_server_id(dcid_of(datagram), 2)
            if read and read[0] == 1 and read[1] in by_sid:
                return by_sid[read[1]]
            return servers[digest_index(dcid_of(datagram), len(servers))]
        return servers[digest_index(repr(addr).encode(), len(servers))]

    clients = [aioquic_client().conn for _ in range(CLIENTS)]
    addr_of = [("10.1.0.%d" % (i + 1), 40000) for i in range(CLIENTS)]
    client_at = {a: i for i, a in enumerate(addr_of)}
    replies = [bytearray() for _ in range(CLIENTS)]
    moved, finished = set(), set()
    requests = {}
    now = 0.0

    def step():
        count = 0
        for i, c in enumerate(clients):
            for data, _ in c.datagrams_to_send(now):
                balance(data, addr_of[i]).receive_datagram(data, addr_of[i], now)
                count += 1
        for s in servers:
            for data, addr in s.datagrams_to_send(now):
                clients[client_at[addr]].receive_datagram(data, SERVER_ADDR, now)
                count += 1
            while (e := s.next_event()) is not None:
                kind, handle, conn_event = e
                if kind != lq.ENDPOINT_CONNECTION:
                    continue
                if conn_event["kind"] == lq.STREAM_DATA_RECEIVED:
                    req = requests.setdefault((id(s), handle), bytearray())
                    req.extend(conn_event["data"])
                    if conn_event["end_stream"]:
                        i = int(req.decode().split()[1])
                        s.conn(handle).send_stream_data(conn_event["stream_id"],
                                                        payload(SIZE, i), True)
        for i, c in enumerate(clients):
            while (e := c.next_event()) is not None:
                if isinstance(e, ev.HandshakeCompleted):
                    c.send_stream_data(0, f"GET {i}".encode(), True)
                elif isinstance(e, ev.StreamDataReceived):
                    replies[i].extend(e.data)
                    if e.end_stream:
                        finished.add(i)
                elif isinstance(e, ev.ConnectionTerminated):
                    finished.add(i)
            # Mid-download: a new port (a NAT rebinding) and a new
            # connection ID, as a client moving to another network does.
            if i not in moved and len(replies[i]) > SIZE // 3:
                moved.add(i)
                addr_of[i] = (addr_of[i][0], 50000 + i)
                client_at[addr_of[i]] = i
                c.change_connection_id()
        return count

    while len(finished) < CLIENTS and now < 60.0:
        if step():
            continue
        timers = [t for t in [s.get_timer() for s in servers] + [c.get_timer() for c in clients]
                  if t is not None]
        if not timers:
            break
        now = max(now + 1e-6, min(timers))
        for x in servers + clients:
            t = x.get_timer()
            if t is not None and t <= now:
                x.handle_timer(now)
    assert len(moved) == CLIENTS, "every client moved mid-download"
    intact = sum(bytes(replies[i]) == payload(SIZE, i) for i in range(CLIENTS))
    return intact, [s.stats() for s in servers]


def test_quic_lb_keeps_moving_clients_on_their_server():
    intact, stats = run_fleet(quic_lb=True)
    assert intact == CLIENTS, stats
    assert sum(s["accepted"] for s in stats) == CLIENTS
    assert all(s["accepted"] > 0 for s in stats), "new clients spread by hash"
    for s in stats:
        assert s["stateless_resets"] == 0 and s["unroutable"] == 0, s


def test_without_quic_lb_a_four_tuple_balancer_loses_moving_clients():
    intact, stats = run_fleet(quic_lb=False)
    assert intact < CLIENTS
    assert sum(s["stateless_resets"] for s in stats) > 0, stats
