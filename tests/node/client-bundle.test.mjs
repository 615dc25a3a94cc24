// The built client (make runs client/build.mjs): static/mte-relay-client.mjs
// exports the public API only, the classic script defines the globals, the
// typings are there, and the bundle really works end to end.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import vm from 'node:vm';
import { startRelay, startUpstream } from './lib/harness.mjs';

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const mjs = join(root, 'static', 'mte-relay-client.mjs');
const iife = join(root, 'static', 'mte-relay-client.js');
const dts = join(root, 'static', 'mte-relay-client.d.ts');

test('the three outputs exist; no bare imports are left in the bundles', () => {
  for (const f of [mjs, iife, dts]) assert.ok(existsSync(f), `${f} (run make)`);
  for (const f of [mjs, iife]) {
    const src = readFileSync(f, 'utf8');
    assert.doesNotMatch(src, /from\s*["']@noble/);
    assert.doesNotMatch(src, /require\(/);
    assert.match(src, /noble-post-quantum - MIT License/, 'license notices kept');
  }
  const types = readFileSync(dts, 'utf8');
  for (const name of ['mteFetch', 'initMteRelayClient', 'MteRelayClientOptions', 'encodeHeaders', 'numberOfPairs', 'MteRelayErrorCode', 'MteEventSource']) {
    assert.ok(types.includes(name), name);
  }
});

test('ES module exports the public API only', async () => {
  const m = await import(pathToFileURL(mjs).href);
  assert.deepEqual(Object.keys(m).sort(),
    ['ErrorCodes', 'MteDecodeError', 'MteEventSource', 'MteNetworkError', 'MtePairingError', 'MteRelayError', 'initMteRelayClient', 'mteFetch']);
  assert.equal(typeof m.mteFetch, 'function');
});

test('classic script defines mteFetch, initMteRelayClient, MteRelayError and MteEventSource on globalThis', () => {
  const ctx = vm.createContext({ TextEncoder, TextDecoder });
  vm.runInContext(readFileSync(iife, 'utf8'), ctx);
  assert.equal(typeof ctx.mteFetch, 'function');
  assert.equal(typeof ctx.initMteRelayClient, 'function');
  assert.equal(typeof ctx.MteRelayError, 'function');
  assert.equal(typeof ctx.MteEventSource, 'function');
  assert.equal(Object.keys(ctx).filter((k) => !['TextEncoder', 'TextDecoder'].includes(k)).sort().join(','),
    'MteEventSource,MteRelayError,initMteRelayClient,mteFetch', 'no other globals leak');
});

test('the bundled mteFetch pairs and round-trips a POST through the real relay', async () => {
  const upstream = await startUpstream((req, res, rec) => {
    res.writeHead(200, { 'content-type': 'text/plain' });
    res.end(`${req.method} ${req.url} ${Buffer.concat(rec.body)}`);
    return true;
  });
  const relay = await startRelay({ UPSTREAM: upstream.url });
  try {
    const { mteFetch, initMteRelayClient } = await import(pathToFileURL(mjs).href);
    await initMteRelayClient({ numberOfPairs: 2 });
    const r = await mteFetch(`${relay.url}/api/hello?x=1`, { method: 'POST', body: 'world' });
    assert.equal(r.status, 200);
    assert.equal(r.headers.get('content-type'), 'text/plain');
    assert.equal(await r.text(), 'POST /api/hello?x=1 world');
    assert.equal(upstream.received.length, 1);
    await relay.waitLog((l) => l.msg === 'paired' && l.pairs === 2);
  } finally {
    await relay.stop();
    await upstream.stop();
  }
});
