// libquic for Node.js: a sans-I/O QUIC connection (Connection) driven by
// the caller, and a client and server (connect, listen) that drive it over
// a dgram socket with an EventEmitter API.
'use strict';
const { C, sizes, bytesAt, fromSockaddr } = require('./ffi');

/** Result codes (quic_result); quic.h documents each. */
const Result = Object.freeze({
  OK: 0, DONE: 1, NULL_PARAMETER: -1, INVALID_ARGUMENT: -2, BUFFER_TOO_SMALL: -3, INVALID_STATE: -4,
  ALREADY_USED: -5, FILE_UNREADABLE: -6, INVALID_ADDRESS: -7, CLOSING: -8, WOULD_BLOCK: -9,
  HANDSHAKE_PENDING: -10, STREAM_LIMIT: -300, INVALID_STREAM: -301, STREAM_FINISHED: -302,
  STREAM_RESET: -303, DATAGRAM_UNSUPPORTED: -304, DATAGRAM_TOO_LARGE: -305,
  TLS_CERTIFICATE: -201, TLS_PRIVATE_KEY: -202, TLS_CA: -203,
});

/** Why a connection ended (quic_termination). */
const Termination = Object.freeze({
  LOCAL_ERROR: 1, LOCAL_CLOSE: 2, PEER_TRANSPORT: 3, PEER_APPLICATION: 4, IDLE_TIMEOUT: 5,
  HANDSHAKE_TIMEOUT: 6, STATELESS_RESET: 7, VERSION_NEGOTIATION: 8, ABANDONED: 9,
});

/** A failed libquic call: `op`, the result `code`, and a detail when the library gave one. */
class QuicError extends Error {
  constructor(op, code, detail) {
    super(`quic: ${op}: ${C.result_str(code)}${detail ? ` (${detail})` : ''}`);
    this.name = 'QuicError';
    this.op = op;
    this.code = code;
    this.detail = detail;
  }
}

function check(op, rc) {
  if (rc < 0) throw new QuicError(op, rc);
  return rc;
}

/** The clock libquic is given: monotonic nanoseconds. */
const clock = () => process.hrtime.bigint();
const NO_TIMER = 2n ** 64n - 1n;

// Frees handles whose JavaScript object was collected without close().
const configs = new FinalizationRegistry((h) => C.config_free(h));
const conns = new FinalizationRegistry((h) => C.conn_free(h));

/** Settings connections are made with; a client's (Config.client) or a server's (Config.server). */
class Config {
  constructor(isClient, options = {}) {
    const out = [null];
    check('config', C.config_new(isClient, out));
    this.handle = out[0];
    this.isClient = isClient;
    configs.register(this, this.handle, this);
    try {
      this._apply(options);
    } catch (e) {
      this.close();
      throw e;
    }
  }

  static client(options) { return new Config(true, options); }

  static server(options) { return new Config(false, options); }

  _set(op, rc) {
    if (rc < 0) throw new QuicError(op, rc, C.config_last_error(this.handle) || undefined);
  }

  _apply(o) {
    const h = this.handle;
    const ns = (ms) => BigInt(Math.round(ms * 1e6));
    if (o.alpn) this._set('alpn', C.set_alpn(h, o.alpn, o.alpn.length));
    if (o.serverName !== undefined) this._set('server name', C.set_server_name(h, o.serverName));
    if (o.caFile !== undefined) this._set('CA file', C.load_verify_locations(h, o.caFile, null, null, 0));
    if (o.verifyPeer !== undefined) this._set('verify peer', C.set_verify_peer(h, o.verifyPeer));
    if (o.certFile !== undefined || o.keyFile !== undefined) {
      this._set('certificate', C.load_cert_chain(h, o.certFile, o.keyFile, null));
    }
    if (o.idleTimeout !== undefined) this._set('idle timeout', C.set_idle_timeout(h, ns(o.idleTimeout)));
    if (o.handshakeTimeout !== undefined) {
      this._set('handshake timeout', C.set_handshake_timeout(h, ns(o.handshakeTimeout)));
    }
    if (o.keepAlive !== undefined) this._set('keep alive', C.set_keep_alive(h, ns(o.keepAlive)));
    if (o.maxData !== undefined) this._set('max data', C.set_max_data(h, BigInt(o.maxData)));
    if (o.maxStreamData !== undefined) this._set('max stream data', C.set_max_stream_data(h, BigInt(o.maxStreamData)));
    if (o.maxStreams !== undefined) {
      this._set('max streams', C.set_max_streams(h, BigInt(o.maxStreams.bidi), BigInt(o.maxStreams.uni)));
    }
    if (o.datagrams !== undefined) this._set('datagrams', C.set_max_datagram_frame_size(h, BigInt(o.datagrams)));
    if (o.qlogDir !== undefined) this._set('qlog dir', C.set_qlog_dir(h, o.qlogDir));
    if (o.secretsLogFile !== undefined) this._set('secrets log', C.set_secrets_log_file(h, o.secretsLogFile));
  }

  /** Releases the config; connections made from it keep their own reference. */
  close() {
    if (this.handle) {
      configs.unregister(this);
      C.config_free(this.handle);
      this.handle = null;
    }
  }
}

// Parsed socket addresses of recent peers, so that a datagram costs no
// parse; cleared when it grows past a bound a peer could push it to.
const addrCache = new Map();
function sockaddr(address, port) {
  const key = `${address}|${port}`;
  let hit = addrCache.get(key);
  if (!hit) {
    const text = address.includes(':') ? `[${address}]:${port}` : `${address}:${port}`;
    const ss = {}, len = [0];
    check('address', C.sockaddr_parse(text, ss, len));
    hit = { ss, len: len[0] };
    if (addrCache.size >= 1024) addrCache.clear();
    addrCache.set(key, hit);
  }
  return hit;
}

/** Copies a C event into a plain object whose `type` names it (aioquic's names, camelCase). */
function convertEvent(ev) {
  switch (ev.kind) {
    case 1: return { type: 'handshakeCompleted', alpn: bytesAt(ev.alpn, ev.alpn_len).toString(),
      sessionResumed: ev.session_resumed, earlyDataAccepted: ev.early_data_accepted };
    case 2: return { type: 'protocolNegotiated', alpn: bytesAt(ev.alpn, ev.alpn_len).toString() };
    case 3: return { type: 'streamDataReceived', streamId: Number(ev.stream_id),
      data: bytesAt(ev.data, ev.data_len), endStream: ev.end_stream };
    case 4: return { type: 'streamReset', streamId: Number(ev.stream_id), errorCode: ev.error_code };
    case 5: return { type: 'stopSendingReceived', streamId: Number(ev.stream_id), errorCode: ev.error_code };
    case 6: return { type: 'datagramFrameReceived', data: bytesAt(ev.data, ev.data_len) };
    case 7: return { type: 'pingAcknowledged', uid: ev.ping_uid };
    case 8: return { type: 'connectionIdIssued', connectionId: bytesAt(ev.cid, ev.cid_len) };
    case 9: return { type: 'connectionIdRetired', connectionId: bytesAt(ev.cid, ev.cid_len) };
    case 10: return { type: 'connectionTerminated', termination: ev.termination, errorCode: ev.error_code,
      frameType: ev.has_frame_type ? ev.frame_type : null, reason: bytesAt(ev.reason, ev.reason_len).toString() };
    case 11: return { type: 'keyUpdated' };
    case 12: return { type: 'peerMigrated', remote: fromSockaddr(ev.remote_addr, ev.remote_addr_len) };
    case 13: return { type: 'pathValidated', local: fromSockaddr(ev.local_addr, ev.local_addr_len),
      remote: fromSockaddr(ev.remote_addr, ev.remote_addr_len) };
    case 14: return { type: 'streamsAvailable', unidirectional: ev.unidirectional, maxStreams: ev.max_streams };
    case 15: return { type: 'sessionTicket', ticket: bytesAt(ev.data, ev.data_len) };
    case 16: return { type: 'newToken', token: bytesAt(ev.data, ev.data_len) };
    case 17: return { type: 'earlyDataRejected' };
    case 19: return { type: 'streamWritable', streamId: Number(ev.stream_id) };
    case 20: return { type: 'pathFailed', local: fromSockaddr(ev.local_addr, ev.local_addr_len),
      remote: fromSockaddr(ev.remote_addr, ev.remote_addr_len), reason: bytesAt(ev.reason, ev.reason_len).toString() };
    case 21: return { type: 'migrated', local: fromSockaddr(ev.local_addr, ev.local_addr_len),
      remote: fromSockaddr(ev.remote_addr, ev.remote_addr_len) };
    case 22: return { type: 'pathMtuChanged', mtu: Number(ev.mtu), blackHole: ev.black_hole };
    default: return { type: 'unknown', kind: ev.kind };
  }
}

const bytes = (data) => (typeof data === 'string' ? Buffer.from(data) : data);

/**
 * One QUIC connection driven by the caller: after each received datagram
 * (recv), timer (handleTimer) or call that queues data, send() until it
 * returns null and take events(); then wait for a datagram or timeout().
 */
class Connection {
  constructor(handle, borrowed = false) {
    this.handle = handle;
    this.borrowed = borrowed;
    this._ev = { struct_size: sizes.event };
    if (!borrowed) conns.register(this, handle, this);
  }

  /** A client connection to `remote` ({address, port}); its first datagram is ready for send(). */
  static client(config, remote, now = clock()) {
    if (!config || !config.handle || !config.isClient) throw new QuicError('new client', Result.INVALID_ARGUMENT, 'needs a client Config');
    const out = [null];
    check('new client', C.conn_new(config.handle, null, out));
    const conn = new Connection(out[0]);
    const to = sockaddr(remote.address, remote.port);
    try {
      check('connect', C.connect(conn.handle, to.ss, to.len, now));
    } catch (e) {
      conn.free();
      throw e;
    }
    return conn;
  }

  /** A server connection for the client whose first datagram is given; recv() it next. */
  static server(config, first) {
    if (!config || !config.handle || config.isClient) throw new QuicError('new server', Result.INVALID_ARGUMENT, 'needs a server Config');
    const info = { struct_size: sizes.header_info };
    check('header', C.header_parse(first, first.length, 8, info));
    const dcid = bytesAt(info.dcid, info.dcid_len);
    const params = { struct_size: sizes.conn_params, original_dcid: dcid, original_dcid_len: dcid.length,
      retry_scid: null, retry_scid_len: 0, session_ticket: null, session_ticket_len: 0,
      address_token: null, address_token_len: 0, address_validated: false };
    const out = [null];
    check('new server', C.conn_new(config.handle, params, out));
    return new Connection(out[0]);
  }

  _live(op) {
    if (!this.handle) throw new QuicError(op, Result.INVALID_STATE, 'connection freed');
    return this.handle;
  }

  /** Feeds one datagram received from `from` ({address, port}). */
  recv(data, from, now = clock()) {
    const a = sockaddr(from.address, from.port);
    check('recv', C.recv(this._live('recv'), data, data.length, a.ss, a.len, now));
  }

  /** Writes the next datagram into `buf`; {length, address, port}, or null when there is none now. */
  send(buf, now = clock()) {
    const len = [0], to = {}, tolen = [0];
    const rc = check('send', C.send(this._live('send'), buf, buf.length, len, to, tolen, now));
    if (rc === Result.DONE) return null;
    return { length: Number(len[0]), ...fromSockaddr(to, tolen[0]) };
  }

  /** When handleTimer() is next due (clock nanoseconds, a BigInt), or null. */
  timeout() {
    if (!this.handle) return null;
    const t = BigInt(C.timer(this.handle));
    return t === NO_TIMER ? null : t;
  }

  handleTimer(now = clock()) { check('timer', C.handle_timer(this._live('timer'), now)); }

  /** The next event, or null. */
  pollEvent() {
    if (!this.handle) return null;
    this._ev.struct_size = sizes.event;
    if (C.poll_event(this.handle, this._ev) !== Result.OK) return null;
    return convertEvent(this._ev);
  }

  /** Every pending event. */
  events() {
    const out = [];
    for (let ev; (ev = this.pollEvent());) out.push(ev);
    return out;
  }

  openStream(unidirectional = false) {
    const id = [0];
    check('open stream', C.open_stream(this._live('open stream'), unidirectional, id));
    return Number(id[0]);
  }

  /** Queues data (a Buffer or string, copied) on a stream; `fin` ends it. */
  streamSend(streamId, data, fin = false) {
    const b = bytes(data);
    check('stream send', C.stream_send(this._live('stream send'), streamId, b, b.length, fin));
  }

  streamReset(streamId, errorCode) { check('stream reset', C.stream_reset(this._live('stream reset'), streamId, errorCode)); }

  streamStop(streamId, errorCode) { check('stream stop', C.stream_stop(this._live('stream stop'), streamId, errorCode)); }

  sendDatagram(data) {
    const b = bytes(data);
    check('send datagram', C.send_datagram(this._live('send datagram'), b, b.length));
  }

  sendPing(uid) { check('ping', C.send_ping(this._live('ping'), uid)); }

  requestKeyUpdate() { check('key update', C.request_key_update(this._live('key update'))); }

  /** Closes with an application error code (0: none) and reason; keep driving it until isClosed(). */
  close(errorCode = 0, reason = '', now = clock()) {
    const r = Buffer.from(reason);
    check('close', C.close(this._live('close'), true, errorCode, 0, r, r.length, now));
  }

  isEstablished() { return !!this.handle && C.is_established(this.handle); }

  isClosed() { return !this.handle || C.is_closed(this.handle); }

  stats() {
    const s = { struct_size: sizes.stats };
    check('stats', C.stats(this._live('stats'), s));
    return { version: s.version, rttNs: s.rtt_ns, cwnd: s.cwnd, bytesInFlight: s.bytes_in_flight,
      bytesSent: s.bytes_sent, bytesReceived: s.bytes_received, packetsLost: s.packets_lost,
      probeTimeouts: s.probe_timeouts, pmtu: s.pmtu, congestionEvents: s.congestion_events };
  }

  /** Releases the connection (without telling the peer: close() first). */
  free() {
    if (this.handle && !this.borrowed) {
      conns.unregister(this);
      C.conn_free(this.handle);
    }
    this.handle = null;
  }
}

module.exports = { Result, Termination, QuicError, Config, Connection, clock, convertEvent, sockaddr };
Object.assign(module.exports, require('./session'));
