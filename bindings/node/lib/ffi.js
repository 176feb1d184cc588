// The C declarations of libquic (include/quic.h, ABI 1) for koffi. Every
// struct that starts with struct_size follows quic.h's growth rule: this
// binding sets it to the size it knows, and the library writes no further.
'use strict';
const { execFileSync } = require('node:child_process');
const path = require('node:path');
const koffi = require('koffi');

/** Where the library is: $LIBQUIC, else pkg-config's libdir, else the loader's search path. */
function libraryPath() {
  if (process.env.LIBQUIC) return process.env.LIBQUIC;
  try {
    const dir = execFileSync('pkg-config', ['--variable=libdir', 'quic'], { stdio: ['ignore', 'pipe', 'ignore'] })
      .toString().trim();
    if (dir) return path.join(dir, 'libquic.so.1');
  } catch (_) {
    // No pkg-config, or no quic.pc: let the dynamic loader look.
  }
  return 'libquic.so.1';
}

const lib = koffi.load(libraryPath());

// struct sockaddr_storage: 128 bytes, 8-byte aligned (glibc's layout).
const sockaddr_storage = koffi.struct('sockaddr_storage', {
  family: 'uint16_t', bytes: koffi.array('uint8_t', 118), align: 'uint64_t',
});

const quic_event = koffi.struct('quic_event', {
  struct_size: 'size_t', kind: 'uint32_t', stream_id: 'uint64_t', data: 'void *', data_len: 'size_t',
  end_stream: 'bool', error_code: 'uint64_t', frame_type: 'uint64_t', has_frame_type: 'bool',
  reason: 'void *', reason_len: 'size_t', alpn: 'void *', alpn_len: 'size_t',
  session_resumed: 'bool', early_data_accepted: 'bool', ping_uid: 'uint64_t',
  cid: 'void *', cid_len: 'size_t', termination: 'uint32_t', unidirectional: 'bool',
  max_streams: 'uint64_t', local_addr: 'sockaddr_storage', local_addr_len: 'uint32_t',
  remote_addr: 'sockaddr_storage', remote_addr_len: 'uint32_t', mtu: 'uint64_t', black_hole: 'bool',
});

const quic_conn_params = koffi.struct('quic_conn_params', {
  struct_size: 'size_t', original_dcid: 'const uint8_t *', original_dcid_len: 'size_t',
  retry_scid: 'const uint8_t *', retry_scid_len: 'size_t',
  session_ticket: 'const uint8_t *', session_ticket_len: 'size_t',
  address_token: 'const uint8_t *', address_token_len: 'size_t', address_validated: 'bool',
});

const quic_header_info = koffi.struct('quic_header_info', {
  struct_size: 'size_t', packet_type: 'uint32_t', is_long: 'bool', fixed_bit: 'bool', version: 'uint32_t',
  dcid: 'void *', dcid_len: 'size_t', scid: 'void *', scid_len: 'size_t',
  token: 'void *', token_len: 'size_t', supported_versions: 'void *',
  supported_versions_count: 'size_t', packet_len: 'size_t',
});

const quic_datagram_info = koffi.struct('quic_datagram_info', {
  struct_size: 'size_t', local: 'sockaddr_storage', local_len: 'uint32_t',
  remote: 'sockaddr_storage', remote_len: 'uint32_t', segment_size: 'uint64_t', ecn: 'uint8_t',
  send_time_ns: 'uint64_t',
});

const quic_endpoint_event = koffi.struct('quic_endpoint_event', {
  struct_size: 'size_t', kind: 'uint32_t', connection: 'uint64_t', context: 'void *', address_proof: 'uint32_t',
});

const quic_stats = koffi.struct('quic_stats', {
  struct_size: 'size_t', version: 'uint32_t', cipher_suite: 'uint16_t', key_exchange_group: 'uint16_t',
  rtt_ns: 'uint64_t', cwnd: 'uint64_t', bytes_in_flight: 'uint64_t', bytes_sent: 'uint64_t',
  bytes_received: 'uint64_t', packets_lost: 'uint64_t', spurious_losses: 'uint64_t',
  lost_by_packet_threshold: 'uint64_t', lost_by_time_threshold: 'uint64_t', probe_timeouts: 'uint64_t',
  congestion_events: 'uint64_t', persistent_congestion: 'uint64_t', ecn_state: 'uint32_t',
  ecn_received_ect0: 'uint64_t', ecn_received_ect1: 'uint64_t', ecn_received_ce: 'uint64_t',
  ecn_ce_reported: 'uint64_t', ecn_congestion_events: 'uint64_t', pmtu: 'uint64_t',
  pmtu_probes_sent: 'uint64_t', pmtu_probes_lost: 'uint64_t', pmtu_black_holes: 'uint64_t',
  qlog_records_dropped: 'uint64_t',
});

const C = {
  result_str: lib.func('const char *quic_result_str(int32_t)'),
  result_is_fatal: lib.func('bool quic_result_is_fatal(int32_t)'),
  sockaddr_parse: lib.func('int32_t quic_sockaddr_parse(const char *, _Out_ sockaddr_storage *out, _Out_ uint32_t *len)'),
  header_parse: lib.func('int32_t quic_header_parse(const uint8_t *, size_t, size_t, _Inout_ quic_header_info *info)'),

  config_new: lib.func('int32_t quic_config_new(bool, _Out_ void **out)'),
  config_free: lib.func('void quic_config_free(void *)'),
  config_last_error: lib.func('const char *quic_config_last_error(void *)'),
  set_alpn: lib.func('int32_t quic_config_set_alpn_protocols(void *, const char **, size_t)'),
  set_server_name: lib.func('int32_t quic_config_set_server_name(void *, const char *)'),
  set_verify_peer: lib.func('int32_t quic_config_set_verify_peer(void *, bool)'),
  load_verify_locations: lib.func('int32_t quic_config_load_verify_locations(void *, const char *, const char *, const uint8_t *, size_t)'),
  load_cert_chain: lib.func('int32_t quic_config_load_cert_chain(void *, const char *, const char *, const char *)'),
  set_idle_timeout: lib.func('int32_t quic_config_set_idle_timeout(void *, uint64_t)'),
  set_handshake_timeout: lib.func('int32_t quic_config_set_handshake_timeout(void *, uint64_t)'),
  set_keep_alive: lib.func('int32_t quic_config_set_keep_alive(void *, uint64_t)'),
  set_max_data: lib.func('int32_t quic_config_set_max_data(void *, uint64_t)'),
  set_max_stream_data: lib.func('int32_t quic_config_set_max_stream_data(void *, uint64_t)'),
  set_max_streams: lib.func('int32_t quic_config_set_max_streams(void *, uint64_t, uint64_t)'),
  set_max_datagram_frame_size: lib.func('int32_t quic_config_set_max_datagram_frame_size(void *, uint64_t)'),
  set_qlog_dir: lib.func('int32_t quic_config_set_qlog_dir(void *, const char *)'),
  set_secrets_log_file: lib.func('int32_t quic_config_set_secrets_log_file(void *, const char *)'),

  conn_new: lib.func('int32_t quic_conn_new(void *, const quic_conn_params *, _Out_ void **out)'),
  conn_free: lib.func('void quic_conn_free(void *)'),
  connect: lib.func('int32_t quic_conn_connect(void *, const sockaddr_storage *, uint32_t, uint64_t)'),
  recv: lib.func('int32_t quic_conn_recv(void *, const uint8_t *, size_t, const sockaddr_storage *, uint32_t, uint64_t)'),
  send: lib.func('int32_t quic_conn_send(void *, _Out_ uint8_t *, size_t, _Out_ size_t *len, _Out_ sockaddr_storage *to, _Out_ uint32_t *tolen, uint64_t)'),
  timer: lib.func('uint64_t quic_conn_timer(void *)'),
  handle_timer: lib.func('int32_t quic_conn_handle_timer(void *, uint64_t)'),
  poll_event: lib.func('int32_t quic_conn_poll_event(void *, _Inout_ quic_event *ev)'),
  open_stream: lib.func('int32_t quic_conn_open_stream(void *, bool, _Out_ uint64_t *id)'),
  stream_send: lib.func('int32_t quic_conn_stream_send(void *, uint64_t, const uint8_t *, size_t, bool)'),
  stream_reset: lib.func('int32_t quic_conn_stream_reset(void *, uint64_t, uint64_t)'),
  stream_stop: lib.func('int32_t quic_conn_stream_stop(void *, uint64_t, uint64_t)'),
  send_datagram: lib.func('int32_t quic_conn_send_datagram(void *, const uint8_t *, size_t)'),
  send_ping: lib.func('int32_t quic_conn_send_ping(void *, uint64_t)'),
  request_key_update: lib.func('int32_t quic_conn_request_key_update(void *)'),
  close: lib.func('int32_t quic_conn_close(void *, bool, uint64_t, uint64_t, const uint8_t *, size_t, uint64_t)'),
  is_established: lib.func('bool quic_conn_is_established(void *)'),
  is_closed: lib.func('bool quic_conn_is_closed(void *)'),
  stats: lib.func('int32_t quic_conn_stats(void *, _Inout_ quic_stats *out)'),
  peer_address: lib.func('int32_t quic_conn_peer_address(void *, _Out_ sockaddr_storage *addr, _Out_ uint32_t *len)'),

  endpoint_new: lib.func('int32_t quic_endpoint_new(void *, void *, _Out_ void **out)'),
  endpoint_free: lib.func('void quic_endpoint_free(void *)'),
  endpoint_recv: lib.func('int32_t quic_endpoint_recv(void *, const uint8_t *, size_t, const quic_datagram_info *, uint64_t)'),
  endpoint_send: lib.func('int32_t quic_endpoint_send(void *, _Out_ uint8_t *, size_t, _Out_ size_t *len, _Inout_ quic_datagram_info *info, uint64_t)'),
  endpoint_timeout: lib.func('uint64_t quic_endpoint_timeout(void *)'),
  endpoint_handle_timer: lib.func('int32_t quic_endpoint_handle_timer(void *, uint64_t)'),
  endpoint_poll_event: lib.func('int32_t quic_endpoint_poll_event(void *, _Inout_ quic_endpoint_event *ev, _Inout_ quic_event *cev)'),
  endpoint_conn: lib.func('int32_t quic_endpoint_conn(void *, uint64_t, _Out_ void **out)'),
};

const sizes = {
  event: koffi.sizeof(quic_event),
  conn_params: koffi.sizeof(quic_conn_params),
  header_info: koffi.sizeof(quic_header_info),
  datagram_info: koffi.sizeof(quic_datagram_info),
  endpoint_event: koffi.sizeof(quic_endpoint_event),
  stats: koffi.sizeof(quic_stats),
};

/** Copies `len` bytes at a C pointer into a Buffer (the pointer lives only until the next poll). */
function bytesAt(ptr, len) {
  const n = Number(len);
  if (!n || !ptr) return Buffer.alloc(0);
  return Buffer.from(koffi.decode(ptr, koffi.array('uint8_t', n)));
}

const AF_INET = 2, AF_INET6 = 10;

/** A sockaddr_storage object from koffi as {address, port}, or null. */
function fromSockaddr(ss, len) {
  const b = ss.bytes;
  if (ss.family === AF_INET && len >= 16) {
    return { address: `${b[2]}.${b[3]}.${b[4]}.${b[5]}`, port: (b[0] << 8) | b[1] };
  }
  if (ss.family === AF_INET6 && len >= 28) {
    const groups = [];
    for (let i = 6; i < 22; i += 2) groups.push(((b[i] << 8) | b[i + 1]).toString(16));
    return { address: groups.join(':'), port: (b[0] << 8) | b[1] };
  }
  return null;
}

module.exports = { koffi, C, sizes, bytesAt, fromSockaddr, libraryPath };
