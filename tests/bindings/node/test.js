// Node loads libquic through the koffi FFI: a client and a server
// connection complete a handshake in memory and echo a stream.
// LIBQUIC and CERT_DIR come from the Makefile (make binding-test).
'use strict';
const test = require('node:test');
const assert = require('node:assert');
const path = require('node:path');
const koffi = require('koffi');

const root = path.join(__dirname, '..', '..', '..');
const lib = koffi.load(process.env.LIBQUIC || path.join(root, 'target/release/libquic.so'));
const certs = process.env.CERT_DIR || path.join(root, 'build/certs');

const OK = 0, DONE = 1;
const EV_HANDSHAKE_COMPLETED = 1, EV_STREAM_DATA_RECEIVED = 3;

// struct_size first (the growth rule): set to koffi.sizeof before each call.
const quic_event = koffi.struct('quic_event', {
  struct_size: 'size_t', kind: 'uint32_t', stream_id: 'uint64_t', data: 'void *', data_len: 'size_t',
  end_stream: 'bool', error_code: 'uint64_t', frame_type: 'uint64_t', has_frame_type: 'bool',
  reason: 'void *', reason_len: 'size_t', alpn: 'void *', alpn_len: 'size_t',
  session_resumed: 'bool', early_data_accepted: 'bool', ping_uid: 'uint64_t',
  cid: 'void *', cid_len: 'size_t',
});
// struct_size first; fields are only ever added at the end.
const conn_params = koffi.struct('quic_conn_params', {
  struct_size: 'size_t',
  original_dcid: 'const uint8_t *',
  original_dcid_len: 'size_t',
  retry_scid: 'const uint8_t *',
  retry_scid_len: 'size_t',
});
const header_info = koffi.struct('quic_header_info', {
  struct_size: 'size_t', packet_type: 'uint32_t', is_long: 'bool', fixed_bit: 'bool', version: 'uint32_t',
  dcid: 'void *', dcid_len: 'size_t', scid: 'void *', scid_len: 'size_t',
  token: 'void *', token_len: 'size_t', supported_versions: 'void *',
  supported_versions_count: 'size_t', packet_len: 'size_t',
});

const f = {
  result_str: lib.func('const char *quic_result_str(int32_t)'),
  config_new: lib.func('int32_t quic_config_new(bool, _Out_ void **out)'),
  config_free: lib.func('void quic_config_free(void *)'),
  set_alpn: lib.func('int32_t quic_config_set_alpn_protocols(void *, const char **, size_t)'),
  set_server_name: lib.func('int32_t quic_config_set_server_name(void *, const char *)'),
  load_ca: lib.func('int32_t quic_config_load_verify_locations(void *, const char *, const char *, const uint8_t *, size_t)'),
  load_cert: lib.func('int32_t quic_config_load_cert_chain(void *, const char *, const char *, const char *)'),
  conn_new: lib.func('int32_t quic_conn_new(void *, const quic_conn_params *, _Out_ void **out)'),
  conn_free: lib.func('void quic_conn_free(void *)'),
  connect: lib.func('int32_t quic_conn_connect(void *, const uint8_t *, uint32_t, uint64_t)'),
  recv: lib.func('int32_t quic_conn_recv(void *, const uint8_t *, size_t, const uint8_t *, uint32_t, uint64_t)'),
  send: lib.func('int32_t quic_conn_send(void *, _Out_ uint8_t *, size_t, _Out_ size_t *out_len, _Out_ uint8_t *addr, _Out_ uint32_t *addrlen, uint64_t)'),
  timer: lib.func('uint64_t quic_conn_timer(void *)'),
  handle_timer: lib.func('int32_t quic_conn_handle_timer(void *, uint64_t)'),
  poll_event: lib.func('int32_t quic_conn_poll_event(void *, _Inout_ quic_event *ev)'),
  stream_send: lib.func('int32_t quic_conn_stream_send(void *, uint64_t, const uint8_t *, size_t, bool)'),
  sockaddr_parse: lib.func('int32_t quic_sockaddr_parse(const char *, _Out_ uint8_t *, _Out_ uint32_t *out_len)'),
  header_parse: lib.func('int32_t quic_header_parse(const uint8_t *, size_t, size_t, _Inout_ quic_header_info *info)'),
};

function ok(rc, what) {
  if (rc !== OK && rc !== DONE) throw new Error(`${what}: ${f.result_str(rc)}`);
  return rc;
}

function sockaddr(text) {
  const buf = Buffer.alloc(128);
  const len = [0];
  ok(f.sockaddr_parse(text, buf, len), 'sockaddr');
  return [buf, len[0]];
}

function bytes(ptr, len) {
  return len ? Buffer.from(koffi.decode(ptr, koffi.array('uint8_t', Number(len)))) : Buffer.alloc(0);
}

test('handshake and stream echo through libquic', () => {
  const alpn = ['echo'];
  const cc = [null], sc = [null];
  ok(f.config_new(true, cc), 'client config');
  ok(f.set_alpn(cc[0], alpn, 1), 'alpn');
  ok(f.set_server_name(cc[0], 'localhost'), 'server name');
  ok(f.load_ca(cc[0], path.join(certs, 'ca.pem'), null, null, 0), 'ca');
  ok(f.config_new(false, sc), 'server config');
  ok(f.set_alpn(sc[0], alpn, 1), 'alpn');
  ok(f.load_cert(sc[0], path.join(certs, 'server.pem'), path.join(certs, 'server.key'), null), 'cert');

  const [caddr, caddrLen] = sockaddr('127.0.0.1:5000');
  const [saddr, saddrLen] = sockaddr('127.0.0.1:4433');
  const client = [null];
  ok(f.conn_new(cc[0], null, client), 'new client');
  ok(f.connect(client[0], saddr, saddrLen, 0), 'connect');
  let server = null;
  let now = 0n;
  const buf = Buffer.alloc(65536), to = Buffer.alloc(128);
  const state = { clientDone: false, serverDone: false, echoed: Buffer.alloc(0), sent: false };
  const message = Buffer.from('hello from node');

  function pump() {
    let moved = false;
    for (;;) {
      const len = [0], tolen = [0];
      if (ok(f.send(client[0], buf, buf.length, len, to, tolen, now), 'send') === DONE) break;
      const dgram = buf.subarray(0, Number(len[0]));
      if (!server) {
        const info = { struct_size: koffi.sizeof(header_info) };
        ok(f.header_parse(dgram, dgram.length, 8, info), 'header');
        const dcid = bytes(info.dcid, info.dcid_len);
        const out = [null];
        const params = {
          struct_size: koffi.sizeof(conn_params),
          original_dcid: dcid,
          original_dcid_len: dcid.length,
          retry_scid: null,
          retry_scid_len: 0,
        };
        ok(f.conn_new(sc[0], params, out), 'new server');
        server = out[0];
      }
      ok(f.recv(server, dgram, dgram.length, caddr, caddrLen, now), 'server recv');
      moved = true;
    }
    while (server) {
      const len = [0], tolen = [0];
      if (ok(f.send(server, buf, buf.length, len, to, tolen, now), 'send') === DONE) break;
      ok(f.recv(client[0], buf.subarray(0, Number(len[0])), Number(len[0]), saddr, saddrLen, now), 'client recv');
      moved = true;
    }
    const ev = { struct_size: koffi.sizeof(quic_event) };
    while (ok(f.poll_event(client[0], ev), 'poll') === OK) {
      if (ev.kind === EV_HANDSHAKE_COMPLETED) {
        state.clientDone = true;
        ok(f.stream_send(client[0], 0, message, message.length, true), 'stream send');
      } else if (ev.kind === EV_STREAM_DATA_RECEIVED) {
        state.echoed = Buffer.concat([state.echoed, bytes(ev.data, ev.data_len)]);
      }
    }
    while (server && ok(f.poll_event(server, ev), 'poll') === OK) {
      if (ev.kind === EV_HANDSHAKE_COMPLETED) state.serverDone = true;
      if (ev.kind === EV_STREAM_DATA_RECEIVED) {
        const d = bytes(ev.data, ev.data_len);
        ok(f.stream_send(server, ev.stream_id, d, d.length, ev.end_stream), 'echo');
      }
    }
    return moved;
  }

  for (let i = 0; i < 10000 && !state.echoed.equals(message); i++) {
    if (!pump()) {
      const t = [f.timer(client[0]), server ? f.timer(server) : 2n ** 64n - 1n].map(BigInt);
      const next = t[0] < t[1] ? t[0] : t[1];
      now = next > now ? next : now + 1000n;
      if (BigInt(f.timer(client[0])) <= now) f.handle_timer(client[0], now);
      if (server && BigInt(f.timer(server)) <= now) f.handle_timer(server, now);
    }
  }
  assert.ok(state.clientDone && state.serverDone, 'handshake completed on both sides');
  assert.strictEqual(state.echoed.toString(), message.toString());
  f.conn_free(client[0]);
  f.conn_free(server);
  f.config_free(cc[0]);
  f.config_free(sc[0]);
});
