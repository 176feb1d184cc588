// libquic's Node binding against the C example programs over UDP, and two
// Connections in memory. make binding-test sets LIBQUIC, CERT_DIR,
// QUIC_SERVER and QUIC_CLIENT; the defaults are the built tree's.
'use strict';
const test = require('node:test');
const assert = require('node:assert');
const crypto = require('node:crypto');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { spawn, execFile } = require('node:child_process');
const quic = require('..');

const root = path.join(__dirname, '..', '..', '..');
const certs = process.env.CERT_DIR || path.join(root, 'build/certs');
const quicServer = process.env.QUIC_SERVER || path.join(root, 'build/quic-server');
const quicClient = process.env.QUIC_CLIENT || path.join(root, 'build/quic-client');

const clientConfig = (alpn) => quic.Config.client({
  alpn: [alpn], serverName: 'localhost', caFile: path.join(certs, 'ca.pem'), idleTimeout: 30000,
});
const serverConfig = (alpn) => quic.Config.server({
  alpn: [alpn], certFile: path.join(certs, 'server.pem'), keyFile: path.join(certs, 'server.key'), idleTimeout: 30000,
});

function tempDir() { return fs.mkdtempSync(path.join(os.tmpdir(), 'libquic-node-')); }

function randomFile(dir, name, size) {
  const data = crypto.randomBytes(size);
  fs.writeFileSync(path.join(dir, name), data);
  return data;
}

/** Starts quic-server on a free port serving `www`; resolves with {port, stop}. */
function startQuicServer(www) {
  return new Promise((resolve, reject) => {
    const p = spawn(quicServer, ['--listen', '127.0.0.1:0', '--cert', path.join(certs, 'server.pem'),
      '--key', path.join(certs, 'server.key'), '--root', www], { stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    p.on('error', reject);
    p.stdout.on('data', (chunk) => {
      out += chunk;
      const m = out.match(/listening on .*:(\d+)\n/);
      if (m) resolve({ port: Number(m[1]), stop: () => p.kill() });
    });
  });
}

test('two Connections in memory: handshake, a stream echoed, the close seen by the peer', () => {
  const saddr = { address: '127.0.0.1', port: 4433 }, caddr = { address: '127.0.0.1', port: 5000 };
  const client = quic.Connection.client(clientConfig('echo'), saddr, 0n);
  const scfg = serverConfig('echo');
  let server = null;
  const buf = Buffer.alloc(2048);
  let now = 0n;
  let echoed = Buffer.alloc(0), alpn = null, terminated = null;
  const message = Buffer.from('hello from node');
  const pump = () => {
    let moved = false;
    for (let d; (d = client.send(buf, now));) {
      assert.deepStrictEqual({ address: d.address, port: d.port }, saddr);
      const dgram = Buffer.from(buf.subarray(0, d.length));
      if (!server) server = quic.Connection.server(scfg, dgram);
      server.recv(dgram, caddr, now);
      moved = true;
    }
    for (let d; server && (d = server.send(buf, now));) {
      client.recv(Buffer.from(buf.subarray(0, d.length)), saddr, now);
      moved = true;
    }
    for (const ev of client.events()) {
      if (ev.type === 'handshakeCompleted') {
        alpn = ev.alpn;
        client.streamSend(client.openStream(), message, true);
      } else if (ev.type === 'streamDataReceived') {
        echoed = Buffer.concat([echoed, ev.data]);
        if (ev.endStream) client.close(7, 'done', now);
      }
    }
    for (const ev of server ? server.events() : []) {
      if (ev.type === 'streamDataReceived') server.streamSend(ev.streamId, ev.data, ev.endStream);
      if (ev.type === 'connectionTerminated') terminated = ev;
    }
    return moved;
  };
  for (let i = 0; i < 1000 && !terminated; i++) {
    if (!pump()) {
      const t = client.timeout();
      now = t !== null && t > now ? t : now + 1000000n;
      client.handleTimer(now);
      if (server) server.handleTimer(now);
    }
  }
  assert.strictEqual(alpn, 'echo');
  assert.deepStrictEqual(echoed, message);
  assert.ok(terminated, 'the server saw the close');
  assert.strictEqual(terminated.termination, quic.Termination.PEER_APPLICATION);
  assert.strictEqual(Number(terminated.errorCode), 7);
  assert.strictEqual(terminated.reason, 'done');
  client.free();
  server.free();
});

test('errors carry the library result code', () => {
  assert.throws(() => quic.Config.client({ alpn: ['x'.repeat(300)] }),
    (e) => e instanceof quic.QuicError && e.code === quic.Result.INVALID_ARGUMENT && e.op === 'alpn');
  assert.throws(() => quic.Config.server({ certFile: '/nonexistent.pem', keyFile: '/nonexistent.key' }),
    (e) => e instanceof quic.QuicError && e.code < 0 && e.op === 'certificate');
  const c = quic.Connection.client(clientConfig('x'), { address: '127.0.0.1', port: 1 });
  c.free();
  assert.throws(() => c.streamSend(0, 'x'), (e) => e.code === quic.Result.INVALID_STATE);
});

async function download(port, names, want, host = '127.0.0.1') {
  const session = await quic.connect({ host, port, config: clientConfig('hq-interop'), family: 4 });
  for (const name of names) {
    const body = await quic.get(session, `https://127.0.0.1:${port}/${name}`);
    assert.ok(body.equals(want[name]), `${name}: ${body.length} bytes arrived, want the ${want[name].length} of the file`);
  }
  assert.ok(Number(session.stats().bytesReceived) > 0);
  await session.close();
  assert.strictEqual(session.closed, true);
  assert.strictEqual(session.error, null);
}

test('connect and get from quic-server over UDP', async () => {
  const www = tempDir();
  const want = { 'big.bin': randomFile(www, 'big.bin', 5_000_000), 'small.txt': randomFile(www, 'small.txt', 100) };
  const srv = await startQuicServer(www);
  try {
    await download(srv.port, ['big.bin', 'small.txt'], want);
    await download(srv.port, ['small.txt'], want, 'localhost'); // a name, looked up
  } finally {
    srv.stop();
  }
});

test('listen serves quic-client and the Node client', async () => {
  const www = tempDir(), out = tempDir();
  const want = { 'a.bin': randomFile(www, 'a.bin', 3_000_000) };
  const controller = new AbortController();
  const server = await quic.listen({ config: serverConfig('hq-interop'), signal: controller.signal });
  server.on('session', (s) => {
    const requests = new Map();
    s.on('streamDataReceived', (ev) => {
      requests.set(ev.streamId, Buffer.concat([requests.get(ev.streamId) || Buffer.alloc(0), ev.data]));
      if (!ev.endStream) return;
      const line = requests.get(ev.streamId).toString().trim();
      const file = path.join(www, path.basename(line.replace(/^GET /, '')));
      if (fs.existsSync(file)) s.streamSend(ev.streamId, fs.readFileSync(file), true);
      else s.streamReset(ev.streamId, 0x10);
    });
  });
  const { port } = server.address();
  await new Promise((resolve, reject) => {
    execFile(quicClient, ['--ca', path.join(certs, 'ca.pem'), '--output', out, `https://127.0.0.1:${port}/a.bin`],
      (err, stdout, stderr) => (err ? reject(new Error(`quic-client: ${err}\n${stderr}`)) : resolve()));
  });
  assert.ok(fs.readFileSync(path.join(out, 'a.bin')).equals(want['a.bin']), 'quic-client got the file');
  await download(port, ['a.bin'], want);
  const closed = new Promise((resolve) => server.once('close', resolve));
  controller.abort();
  await closed;
});

test('connect gives up when its signal aborts', async () => {
  const dgram = require('node:dgram');
  const silent = dgram.createSocket('udp4');
  await new Promise((resolve) => silent.bind(0, '127.0.0.1', resolve));
  const { port } = silent.address();
  const started = Date.now();
  await assert.rejects(quic.connect({ host: '127.0.0.1', port, config: clientConfig('hq-interop'),
    signal: AbortSignal.timeout(300) }), (e) => e.name === 'TimeoutError');
  assert.ok(Date.now() - started < 5000);
  silent.close();
});

test('example/get.js downloads a file from quic-server', async () => {
  const www = tempDir(), out = tempDir();
  const want = randomFile(www, 'e.bin', 1_000_000);
  const srv = await startQuicServer(www);
  try {
    await new Promise((resolve, reject) => {
      execFile(process.execPath, [path.join(__dirname, '..', 'example', 'get.js'), '--ca', path.join(certs, 'ca.pem'),
        '--output', out, `https://127.0.0.1:${srv.port}/e.bin`],
      (err, stdout, stderr) => (err ? reject(new Error(`get.js: ${err}\n${stderr}`)) : resolve()));
    });
    assert.ok(fs.readFileSync(path.join(out, 'e.bin')).equals(want), 'the file arrived intact');
  } finally {
    srv.stop();
  }
});
