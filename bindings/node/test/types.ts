// Compiled by tsc --strict --noEmit in make binding-test: the declarations
// in lib/index.d.ts describe the API the tests use.
import * as quic from '..';

async function demo(): Promise<void> {
  const config = quic.Config.client({ alpn: ['hq-interop'], serverName: 'localhost', idleTimeout: 30000 });
  const session: quic.Session = await quic.connect({ host: '127.0.0.1', port: 4433, config });
  session.on('streamDataReceived', (ev) => {
    const data: Buffer = ev.data;
    const id: number = ev.streamId;
    if (ev.endStream) console.log(id, data.length);
  });
  session.on('close', (err) => { if (err) console.error(err.message); });
  const body: Buffer = await quic.get(session, 'https://127.0.0.1:4433/x');
  const id = session.openStream();
  session.streamSend(id, body, true);
  await session.close(0, 'bye');

  const conn = quic.Connection.client(config, { address: '127.0.0.1', port: 4433 }, quic.clock());
  const d = conn.send(Buffer.alloc(1500));
  if (d) console.log(d.length, d.address, d.port);
  for (const ev of conn.events()) {
    if (ev.type === 'connectionTerminated' && ev.termination === quic.Termination.IDLE_TIMEOUT) console.log(ev.reason);
  }
  const t: bigint | null = conn.timeout();
  if (t !== null) conn.handleTimer(t);
  conn.free();

  const server = await quic.listen({ config: quic.Config.server({ certFile: 'c', keyFile: 'k' }) });
  server.on('session', (s) => s.on('datagramFrameReceived', (ev) => s.sendDatagram(ev.data)));
  await server.close();
  try {
    quic.Config.client({ alpn: ['x'] });
  } catch (e) {
    if (e instanceof quic.QuicError && e.code === quic.Result.INVALID_ARGUMENT) console.log(e.op);
  }
}
void demo;
