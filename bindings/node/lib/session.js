// Sessions: connections driven over a dgram socket, with their events
// emitted. A client's (connect) owns its socket; a server's (listen)
// share the server's socket and libquic endpoint, which routes datagrams.
'use strict';
const dgram = require('node:dgram');
const dns = require('node:dns').promises;
const { EventEmitter } = require('node:events');
const { C, sizes, fromSockaddr } = require('./ffi');

// Required lazily: index.js requires this file at its end.
const core = () => require('./index');

const MAX_DATAGRAM = 65535;

/**
 * Runs emits in order even when a handler calls back into the session
 * (which flushes again): nested flushes queue, the outermost emits.
 */
class Emitter {
  constructor() {
    this.queue = [];
    this.busy = false;
  }

  push(fn) { this.queue.push(fn); }

  run() {
    if (this.busy) return;
    this.busy = true;
    try {
      // A handler that throws leaves the rest queued for the next run.
      while (this.queue.length) this.queue.shift()();
    } finally {
      this.busy = false;
    }
  }
}

/**
 * A connection over UDP. Events: every connection event under its `type`
 * ('streamDataReceived', 'datagramFrameReceived', 'connectionTerminated',
 * ...) and under 'event'; 'close' (with an Error, or null for a close
 * without error) once it is over. Its methods are those of Connection.
 */
class Session extends EventEmitter {
  constructor(driver, borrow, remote) {
    super();
    this._driver = driver;
    this._borrow = borrow;
    this.remoteAddress = remote;
    this.closed = false;
    this.established = false;
    this.error = null;
  }

  _with(op, fn) {
    const { QuicError, Result } = core();
    if (this.closed) throw new QuicError(op, Result.CLOSING, 'the connection is over');
    const r = fn(this._borrow());
    this._driver.flush();
    return r;
  }

  openStream(unidirectional = false) { return this._with('open stream', (c) => c.openStream(unidirectional)); }

  streamSend(streamId, data, fin = false) { this._with('stream send', (c) => c.streamSend(streamId, data, fin)); }

  streamReset(streamId, errorCode) { this._with('stream reset', (c) => c.streamReset(streamId, errorCode)); }

  streamStop(streamId, errorCode) { this._with('stream stop', (c) => c.streamStop(streamId, errorCode)); }

  sendDatagram(data) { this._with('send datagram', (c) => c.sendDatagram(data)); }

  sendPing(uid) { this._with('ping', (c) => c.sendPing(uid)); }

  requestKeyUpdate() { this._with('key update', (c) => c.requestKeyUpdate()); }

  stats() { return this._with('stats', (c) => c.stats()); }

  /** Closes with an application error code and reason; resolves once the closing period is over. */
  close(errorCode = 0, reason = '') {
    if (this.closed) return Promise.resolve();
    const done = new Promise((resolve) => this.once('close', () => resolve()));
    try {
      this._with('close', (c) => c.close(errorCode, reason));
    } catch (e) {
      if (e.code !== core().Result.CLOSING) throw e;
    }
    return done;
  }

  // Called by the driver, through its Emitter.
  _event(ev) {
    if (ev.type === 'handshakeCompleted') this.established = true;
    if (ev.type === 'connectionTerminated') this.error = terminationError(ev);
    this.emit('event', ev);
    this.emit(ev.type, ev);
  }

  _finish(error) {
    if (this.closed) return;
    this.closed = true;
    if (!this.error) this.error = error || null;
    this.emit('close', this.error);
  }
}

const TERMINATIONS = {
  1: 'closed by us with an error', 2: 'closed by us', 3: 'closed by the peer (transport error)',
  4: 'closed by the peer', 5: 'idle timeout', 6: 'handshake timeout', 7: 'stateless reset by the peer',
  8: 'no QUIC version in common', 9: 'abandoned',
};

/** null for a close without error by either side, else an Error saying how it ended. */
function terminationError(ev) {
  const clean = [2, 3, 4].includes(ev.termination) && BigInt(ev.errorCode) === 0n;
  if (clean) return null;
  const what = TERMINATIONS[ev.termination] || `termination ${ev.termination}`;
  const err = new Error(`quic: connection ${what}: error 0x${BigInt(ev.errorCode).toString(16)}${ev.reason ? `: ${ev.reason}` : ''}`);
  err.termination = ev.termination;
  err.errorCode = ev.errorCode;
  err.reason = ev.reason;
  return err;
}

/** Re-arms one timer to a clock deadline (BigInt ns) or none. */
function armTimer(holder, deadline, fire) {
  if (holder.timer) clearTimeout(holder.timer);
  holder.timer = null;
  if (deadline === null) return;
  const ms = Number(deadline - core().clock()) / 1e6;
  holder.timer = setTimeout(fire, Math.max(0, Math.ceil(ms)));
}

/** A client's loop: one connection on its own socket. */
class ClientDriver {
  constructor(conn, socket, remote) {
    this.conn = conn;
    this.socket = socket;
    this.out = Buffer.alloc(MAX_DATAGRAM);
    this.emitter = new Emitter();
    this.session = new Session(this, () => conn, remote);
    this.timer = null;
    socket.on('message', (msg, rinfo) => {
      if (!this.conn.handle) return;
      // A datagram libquic rejects changes nothing: the connection goes on.
      try { this.conn.recv(msg, { address: rinfo.address, port: rinfo.port }); } catch (_) { /* dropped */ }
      this.flush();
    });
    socket.on('error', (err) => this.end(err));
  }

  flush() {
    const conn = this.conn;
    if (!conn.handle) return;
    const now = core().clock();
    for (let d; (d = conn.send(this.out, now));) {
      this.socket.send(Buffer.from(this.out.subarray(0, d.length)), d.port, d.address);
    }
    for (;;) {
      const ev = conn.pollEvent();
      if (!ev) break;
      this.emitter.push(() => this.session._event(ev));
    }
    if (conn.isClosed()) {
      this.emitter.push(() => this.end(null));
    } else {
      armTimer(this, conn.timeout(), () => {
        if (!this.conn.handle) return;
        this.conn.handleTimer();
        this.flush();
      });
    }
    this.emitter.run();
  }

  end(error) {
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    if (this.conn.handle) {
      this.conn.free();
      try { this.socket.close(); } catch (_) { /* already closed */ }
    }
    this.session._finish(error);
  }
}

/**
 * Connects to a QUIC server: options {host (a name or an address), port,
 * config, signal, family (4 or 6, for a name)}. Resolves
 * with the Session once the handshake completed; rejects if the connection
 * ends first or `signal` aborts (the attempt is then abandoned).
 */
async function connect({ host, port, config, signal, family: wanted }) {
  const { Connection } = core();
  // A host name is looked up first (`family` 4 or 6 restricts it); libquic
  // takes addresses.
  const { address, family } = await dns.lookup(host, wanted ? { family: wanted } : {});
  return new Promise((resolve, reject) => {
    const socket = dgram.createSocket(family === 6 ? 'udp6' : 'udp4');
    socket.bind(0, () => {
      let driver;
      const remote = { address, port };
      try {
        driver = new ClientDriver(Connection.client(config, remote), socket, remote);
      } catch (e) {
        socket.close();
        reject(e);
        return;
      }
      const s = driver.session;
      const onAbort = () => {
        reject(signal.reason || new Error('quic: connect aborted'));
        driver.end(new Error('quic: connect aborted'));
      };
      if (signal) {
        if (signal.aborted) { onAbort(); return; }
        signal.addEventListener('abort', onAbort, { once: true });
      }
      s.once('handshakeCompleted', () => {
        if (signal) signal.removeEventListener('abort', onAbort);
        resolve(s);
      });
      s.once('close', (err) => {
        if (signal) signal.removeEventListener('abort', onAbort);
        if (!s.established) reject(err || new Error('quic: the connection ended during the handshake'));
      });
      driver.flush();
    });
  });
}

/**
 * A QUIC server on one UDP socket: libquic's endpoint routes datagrams to
 * connections, answers Retry and Version Negotiation, and bounds what
 * peers can start. Emits 'session' (a Session whose handshake completed)
 * and 'close'.
 */
class Server extends EventEmitter {
  constructor(config, socket) {
    super();
    const { check } = internals();
    const out = [null];
    check('endpoint', C.endpoint_new(config.handle, null, out));
    this.ep = out[0];
    this.socket = socket;
    this.sessions = new Map();
    this.out = Buffer.alloc(MAX_DATAGRAM);
    this.emitter = new Emitter();
    this.timer = null;
    this._info = { struct_size: sizes.datagram_info };
    socket.on('message', (msg, rinfo) => {
      if (!this.ep) return;
      const a = core().sockaddr(rinfo.address, rinfo.port);
      const info = { struct_size: sizes.datagram_info, local_len: 0, remote: a.ss, remote_len: a.len,
        segment_size: 0, ecn: 0, send_time_ns: 0 };
      C.endpoint_recv(this.ep, msg, msg.length, info, core().clock());
      this.flush();
    });
  }

  /** {address, port} the server receives on. */
  address() { return this.socket.address(); }

  _borrow(handle) {
    const { Connection, QuicError } = core();
    const out = [null];
    const rc = this.ep ? C.endpoint_conn(this.ep, handle, out) : -13;
    if (rc < 0) throw new QuicError('connection', rc);
    return new Connection(out[0], true);
  }

  flush() {
    if (!this.ep) return;
    const now = core().clock();
    const len = [0];
    for (;;) {
      const info = this._info;
      info.struct_size = sizes.datagram_info;
      if (C.endpoint_send(this.ep, this.out, this.out.length, len, info, now) !== 0) break;
      const to = fromSockaddr(info.remote, info.remote_len);
      if (to) this.socket.send(Buffer.from(this.out.subarray(0, Number(len[0]))), to.port, to.address);
    }
    const ev = { struct_size: sizes.endpoint_event };
    const cev = { struct_size: sizes.event };
    for (;;) {
      ev.struct_size = sizes.endpoint_event;
      cev.struct_size = sizes.event;
      if (C.endpoint_poll_event(this.ep, ev, cev) !== 0) break;
      const handle = ev.connection;
      if (ev.kind === 1) {
        const borrowed = this._borrow(handle);
        const ss = {}, n = [0];
        const remote = C.peer_address(borrowed.handle, ss, n) === 0 ? fromSockaddr(ss, n[0]) : null;
        this.sessions.set(handle, new Session(this, () => this._borrow(handle), remote));
      } else if (ev.kind === 2) {
        const s = this.sessions.get(handle);
        if (!s) continue;
        const e = core().convertEvent(cev);
        this.emitter.push(() => s._event(e));
        if (e.type === 'handshakeCompleted') this.emitter.push(() => this.emit('session', s));
      } else if (ev.kind === 3) {
        const s = this.sessions.get(handle);
        this.sessions.delete(handle);
        if (s) this.emitter.push(() => s._finish(null));
      }
    }
    armTimer(this, this._timeout(), () => {
      if (!this.ep) return;
      C.endpoint_handle_timer(this.ep, core().clock());
      this.flush();
    });
    this.emitter.run();
  }

  _timeout() {
    const t = BigInt(C.endpoint_timeout(this.ep));
    return t === 2n ** 64n - 1n ? null : t;
  }

  /** Closes every connection (telling each peer) and the socket. */
  close() {
    if (!this.ep) return Promise.resolve();
    for (const s of this.sessions.values()) {
      try { s._borrow().close(0, 'server closing'); } catch (_) { /* already closing */ }
    }
    this.flush();
    if (this.timer) clearTimeout(this.timer);
    C.endpoint_free(this.ep);
    this.ep = null;
    const ended = [...this.sessions.values()];
    this.sessions.clear();
    for (const s of ended) s._finish(new Error('quic: the server was closed'));
    return new Promise((resolve) => this.socket.close(() => { this.emit('close'); resolve(); }));
  }
}

function internals() {
  return {
    check(op, rc) {
      if (rc < 0) throw new (core().QuicError)(op, rc);
      return rc;
    },
  };
}

/** Listens on {host = '127.0.0.1', port = 0, config, signal}; resolves with the Server once bound. */
function listen({ host = '127.0.0.1', port = 0, config, signal }) {
  if (!config || !config.handle || config.isClient) {
    return Promise.reject(new (core().QuicError)('listen', core().Result.INVALID_ARGUMENT, 'needs a server Config'));
  }
  return new Promise((resolve, reject) => {
    const socket = dgram.createSocket(host.includes(':') ? 'udp6' : 'udp4');
    socket.once('error', reject);
    socket.bind(port, host, () => {
      socket.removeListener('error', reject);
      let server;
      try {
        server = new Server(config, socket);
      } catch (e) {
        socket.close();
        reject(e);
        return;
      }
      if (signal) signal.addEventListener('abort', () => server.close(), { once: true });
      resolve(server);
    });
  });
}

/**
 * Downloads one URL ("https://host:port/path") with HTTP/0.9 over QUIC
 * (ALPN "hq-interop", the interop runner's protocol) on a Session:
 * resolves with the response body.
 */
function get(session, url) {
  const path = new URL(url).pathname || '/';
  return new Promise((resolve, reject) => {
    const id = session.openStream();
    const chunks = [];
    const cleanup = () => {
      session.off('streamDataReceived', onData);
      session.off('streamReset', onReset);
      session.off('close', onClose);
    };
    const onData = (ev) => {
      if (ev.streamId !== id) return;
      chunks.push(ev.data);
      if (ev.endStream) { cleanup(); resolve(Buffer.concat(chunks)); }
    };
    const onReset = (ev) => {
      if (ev.streamId !== id) return;
      cleanup();
      reject(new Error(`quic: the server reset the stream for ${path} (error ${ev.errorCode})`));
    };
    const onClose = (err) => { cleanup(); reject(err || new Error(`quic: connection closed before ${path} arrived`)); };
    session.on('streamDataReceived', onData);
    session.on('streamReset', onReset);
    session.on('close', onClose);
    session.streamSend(id, `GET ${path}\r\n`, true);
  });
}

module.exports = { Session, Server, connect, listen, get };
