#!/usr/bin/env node
// Downloads files with HTTP/0.9 over QUIC (ALPN hq-interop) through
// libquic's Node binding:
//   node example/get.js --ca ca.pem --output out https://127.0.0.1:4433/file.bin
'use strict';
const fs = require('node:fs');
const path = require('node:path');
const { parseArgs } = require('node:util');
const quic = require('..');

async function main() {
  const { values, positionals } = parseArgs({
    options: { ca: { type: 'string' }, output: { type: 'string', default: '.' } },
    allowPositionals: true,
  });
  if (positionals.length === 0) {
    console.error('usage: get.js [--ca FILE] [--output DIR] https://host:port/path ...');
    process.exit(2);
  }
  const first = new URL(positionals[0]);
  const config = quic.Config.client({
    alpn: ['hq-interop'], serverName: first.hostname, ...(values.ca ? { caFile: values.ca } : {}),
  });
  const session = await quic.connect({
    host: first.hostname, port: Number(first.port), config, signal: AbortSignal.timeout(30000),
  });
  for (const url of positionals) {
    const body = await quic.get(session, url);
    fs.writeFileSync(path.join(values.output, path.basename(new URL(url).pathname)), body);
    console.log(`${url}: ${body.length} bytes`);
  }
  await session.close();
  config.close();
}

main().catch((e) => {
  console.error(`get: ${e.message}`);
  process.exit(1);
});
