// The client's options for apps that come from the Eclypses client
// (mte-relay-browser), against real relays: names with our meaning map to
// ours (pathPrefix, encodeUrl, useStreaming, numberEncoderDecoderPairs,
// storage, fetch), names that mean nothing here are warned about once each,
// and two spellings of one setting that disagree are refused.  pathPrefix
// runs against relays mounted under /a and /b of one origin by a reverse
// proxy that strips the prefix, as a load balancer's path rule would.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { newClient, startStack, startRelay, relayEnv, memStore } from './lib/e2e.mjs';
import { ROOT } from './lib/harness.mjs';
import { MteRelayError, ECLYPSES_ALIASES, ECLYPSES_IGNORED } from '../../client/src/internals.js';

let stack; let relayB; let mount;

/**
 * A reverse proxy mounting relays under path prefixes: "/a/x" goes to
 * mounts["/a"] as "/x".  Anything else answers 404.  .requests records each
 * request as received: {method, url, headers}.
 */
async function startMountProxy(mounts) {
  const proxy = { requests: [] };
  const server = http.createServer((req, res) => {
    proxy.requests.push({ method: req.method, url: req.url, headers: { ...req.headers } });
    const prefix = Object.keys(mounts).find((p) => req.url === p || req.url.startsWith(`${p}/`) || req.url.startsWith(`${p}?`));
    if (!prefix) { req.resume(); res.writeHead(404, { 'content-type': 'text/plain' }); res.end('no such mount'); return; }
    const target = new URL(mounts[prefix]);
    const rest = req.url.slice(prefix.length);
    const path = rest === '' || rest.startsWith('?') ? `/${rest}` : rest;
    const up = http.request({
      host: target.hostname, port: target.port, method: req.method, path, headers: { ...req.headers, host: target.host },
    }, (ures) => { res.writeHead(ures.statusCode, ures.headers); ures.pipe(res); });
    up.on('error', (e) => { if (!res.headersSent) res.writeHead(502); res.end(String(e)); });
    req.pipe(up);
  });
  await new Promise((r) => server.listen(0, '127.0.0.1', r));
  proxy.url = `http://127.0.0.1:${server.address().port}`;
  proxy.stop = () => new Promise((r) => { server.closeAllConnections(); server.close(r); });
  proxy.since = (n) => proxy.requests.slice(n);
  return proxy;
}

before(async () => {
  stack = await startStack();
  // A second relay with another CLIENT_ID_SECRET: its client ids are not the first one's.
  relayB = await startRelay(relayEnv(stack.upstream, { CLIENT_ID_SECRET: 'another-secret-for-relay-b-0123456789abcdef' }));
  mount = await startMountProxy({ '/a': stack.relay.url, '/b': relayB.url });
});

after(async () => {
  await mount?.stop();
  await relayB?.stop();
  await stack?.stop();
});

/** Captures console.warn while fn runs; returns the messages. */
async function warnings(fn) {
  const seen = [];
  const orig = console.warn;
  console.warn = (...a) => { seen.push(a.join(' ')); };
  try { await fn(); } finally { console.warn = orig; }
  return seen;
}

test('pathPrefix: every request goes under the prefix, the upstream sees the API path, encodeUrl (Eclypses) false puts it in the clear', async () => {
  const { f, init } = newClient();
  await init({ pathPrefix: '/a' });
  const n = mount.requests.length;
  const r = await f(`${mount.url}/api/items?x=1`, { method: 'POST', body: 'hello', headers: { 'content-type': 'text/plain' } });
  assert.equal(r.status, 200);
  const j = await r.json();
  assert.equal(j.url, '/api/items?x=1', 'the upstream gets the path as the app wrote it');
  assert.equal(j.length, 5);
  assert.deepEqual(mount.since(n).map((q) => `${q.method} ${q.url}`),
    ['HEAD /a/api/mte-relay', 'POST /a/api/mte-pair', 'POST /a/'], 'client id, pairing and the sealed request all under /a');

  const m = mount.requests.length;
  const r2 = await f(`${mount.url}/api/items?y=2`, {}, { encodeUrl: false });
  assert.equal(r2.status, 200);
  assert.equal((await r2.json()).url, '/api/items?y=2');
  assert.deepEqual(mount.since(m).map((q) => `${q.method} ${q.url}`), ['GET /a/api/items?y=2'],
    'with the URL in the clear it is the prefix followed by the API path');
});

test('pathPrefix per request: two relays under /a and /b of one origin, each with its own client id; none without the prefix', async () => {
  const storage = memStore();
  const { f, client } = newClient({ storage });
  const n = mount.requests.length;
  for (const p of ['/a', '/b', '/a/', '/b']) {
    const r = await f(`${mount.url}/api/where`, {}, { pathPrefix: p });
    assert.equal(r.status, 200, p);
    assert.equal((await r.json()).url, '/api/where');
  }
  const heads = mount.since(n).filter((q) => q.method === 'HEAD').map((q) => q.url);
  assert.deepEqual(heads, ['/a/api/mte-relay', '/b/api/mte-relay'], 'one client id per relay, never a stale one sent to the other');
  const idA = storage.get(`mte-relay:clientId:${mount.url}/a`);
  const idB = storage.get(`mte-relay:clientId:${mount.url}/b`);
  assert.match(idA, /^[0-9a-f]{32}\.[0-9a-f]{64}$/);
  assert.match(idB, /^[0-9a-f]{32}\.[0-9a-f]{64}$/);
  assert.notEqual(idA, idB);
  assert.equal(storage.get(`mte-relay:clientId:${mount.url}`), null);
  assert.ok(client._state(`${mount.url}/a`).current, 'the state is kept by relay base (origin + prefix)');

  await assert.rejects(f(`${mount.url}/api/where`), (e) => e instanceof MteRelayError && e.code === 'CLIENT_ID_FAILED' && e.status === 404,
    'without the prefix the proxy has no relay there');
});

test('a pathPrefix that is no path is refused before anything is sent', async () => {
  const { f, init } = newClient();
  const n = mount.requests.length;
  for (const bad of ['relay', '/a?x=1', '/a#f', '/a/../b', '/%2e%2E', '/a b', 42, null]) {
    await assert.rejects(init({ pathPrefix: bad }), (e) => e instanceof TypeError && /pathPrefix/.test(e.message), String(bad));
    await assert.rejects(f(`${mount.url}/api/x`, {}, { pathPrefix: bad }), TypeError, String(bad));
  }
  assert.equal(mount.requests.length, n);
});

test('numberEncoderDecoderPairs (the Eclypses v3 name) is numberOfPairs: one pairing call of 3 pairs', async () => {
  const pairBodies = [];
  const { f, init } = newClient({
    fetch: async (url, reqInit) => {
      if (String(url).endsWith('/api/mte-pair')) pairBodies.push(JSON.parse(reqInit.body));
      return fetch(url, reqInit);
    },
  });
  await init({ pathPrefix: '/a', numberEncoderDecoderPairs: 3 });
  for (let i = 0; i < 4; i++) assert.equal((await f(`${mount.url}/api/p${i}`)).status, 200);
  assert.equal(pairBodies.length, 1);
  assert.equal(pairBodies[0].length, 3);
});

test('encodeUrl (Eclypses) at init sets encodeUrls; per request it overrides', async () => {
  const { f, init } = newClient();
  await init({ pathPrefix: '/a', encodeUrl: false });
  const n = mount.requests.length;
  assert.equal((await f(`${mount.url}/api/clear?q=1`)).status, 200);
  assert.equal((await f(`${mount.url}/api/sealed?q=2`, {}, { encodeUrl: true })).status, 200);
  const sent = mount.since(n).filter((q) => !q.url.includes('/api/mte-')).map((q) => q.url);
  assert.deepEqual(sent, ['/a/api/clear?q=1', '/a/'], 'first in the clear, then sealed');
});

test('fetch and useStreaming (Eclypses): the given fetch carries every relay request; useStreaming false sends a large body whole', async () => {
  const seen = [];
  const myFetch = (url, reqInit) => {
    seen.push({ url: String(url), stream: reqInit.body instanceof ReadableStream, blob: reqInit.body instanceof Blob });
    return fetch(url, reqInit);
  };
  const big = new Uint8Array(2 << 20).fill(7);
  const { f, init } = newClient();
  await init({ pathPrefix: '/a', fetch: myFetch });
  const n = mount.requests.length;
  assert.equal((await f(`${mount.url}/api/up1`, { method: 'POST', body: big })).status, 200);
  assert.equal((await f(`${mount.url}/api/up2`, { method: 'POST', body: big }, { useStreaming: false })).status, 200);
  assert.equal(seen.length, mount.requests.length - n, 'every request the relay saw went through the given fetch');
  const uploads = seen.filter((s) => s.url === `${mount.url}/a/`);
  assert.deepEqual(uploads.map((s) => (s.stream ? 'stream' : s.blob ? 'blob' : 'other')), ['stream', 'blob'],
    'Node streams large uploads by default; useStreaming: false (streamUploads: false) sends the sealed body as one Blob');

  const c2 = newClient({ fetch: myFetch });
  await c2.init({ pathPrefix: '/a', useStreaming: false });
  seen.length = 0;
  assert.equal((await c2.f(`${mount.url}/api/up3`, { method: 'POST', body: big })).status, 200);
  assert.deepEqual(seen.filter((s) => s.url === `${mount.url}/a/`).map((s) => s.blob), [true], 'useStreaming: false at init');
});

test('storage of the localStorage shape, async: the signed client id is kept there and a second client reuses it', async () => {
  const m = new Map();
  const storage = {
    getItem: async (k) => (m.has(k) ? m.get(k) : null),
    setItem: async (k, v) => { m.set(k, v); },
    removeItem: async (k) => { m.delete(k); },
  };
  const key = `mte-relay:clientId:${mount.url}/a`;
  const one = newClient({ storage: null });
  await one.init({ pathPrefix: '/a', storage });
  assert.equal((await one.f(`${mount.url}/api/s1`)).status, 200);
  const signed = m.get(key);
  assert.match(signed, /^[0-9a-f]{32}\.[0-9a-f]{64}$/);

  const two = newClient({ storage: null });
  await two.init({ pathPrefix: '/a', storage });
  const n = mount.requests.length;
  assert.equal((await two.f(`${mount.url}/api/s2`)).status, 200);
  const head = mount.since(n).find((q) => q.method === 'HEAD');
  assert.equal(head.headers['x-mte-relay'], signed, 'the second client asked with the stored id');
  assert.equal(two.client._state(`${mount.url}/a`).current.signedId, signed);

  await assert.rejects(newClient().init({ storage: { getItem() {} } }), (e) => e instanceof TypeError && /storage/.test(e.message));
  await assert.rejects(newClient().init({ fetch: 'fetch' }), (e) => e instanceof TypeError && /fetch/.test(e.message));
});

test('Eclypses options that mean nothing here: one console.warn per name, then silence; requests work as without them', async () => {
  const ignored = {
    licenseKey: 'LICENSE-KEY', licenseCompany: 'ACME', companyName: 'ACME', mtePoolSize: 2, mkePoolSize: 5,
    encoderDecoderPoolSize: 5, encodeType: 'MKE', defaultEncodeType: 'MTE',
  };
  assert.deepEqual(Object.keys(ignored).sort(), Object.keys(ECLYPSES_IGNORED).sort(), 'the test covers every ignored name');
  const { f, init } = newClient();
  const seen = await warnings(async () => {
    await init({ ...ignored, pathPrefix: '/a' });
    await init({ ...ignored });
    for (const encodeType of ['MTE', 'MKE', 'MTE']) {
      const r = await f(`${mount.url}/api/w`, {}, { encodeType });
      assert.equal(r.status, 200);
    }
  });
  assert.equal(seen.length, Object.keys(ignored).length, seen.join('\n'));
  for (const name of Object.keys(ignored)) {
    const mine = seen.filter((w) => w.includes(`option ${name} is ignored`));
    assert.equal(mine.length, 1, name);
  }
  assert.ok(!seen.join('\n').includes('LICENSE-KEY'), 'a warning never repeats the licence key');
  assert.match(seen.find((w) => w.includes('licenseKey')), /needs no licence/);

  const again = await warnings(async () => { await newClient().init({ licenseKey: 'k' }); });
  assert.equal(again.length, 1, 'each client warns on its own');

  await assert.rejects(newClient().init({ encodeType: 'AES' }), (e) => e instanceof TypeError && /'MTE' or 'MKE'/.test(e.message));
});

test('two spellings of one setting that disagree are refused: MteRelayError OPTION_CONFLICT, nothing sent; agreeing ones are fine', async () => {
  const { f, init } = newClient();
  const n = mount.requests.length;
  await assert.rejects(init({ encodeUrl: false, encodeUrls: true }),
    (e) => e instanceof MteRelayError && e.code === 'OPTION_CONFLICT' && /encodeUrl .*encodeUrls/.test(e.message));
  await assert.rejects(init({ numberEncoderDecoderPairs: 2, numberOfPairs: 3 }), (e) => e instanceof MteRelayError && e.code === 'OPTION_CONFLICT');
  await assert.rejects(f(`${mount.url}/api/c`, {}, { pathPrefix: '/a', useStreaming: true, streamUploads: false }),
    (e) => e instanceof MteRelayError && e.code === 'OPTION_CONFLICT' && /useStreaming/.test(e.message));
  assert.equal(mount.requests.length, n, 'nothing reached the relay');

  await init({ encodeUrl: false, encodeUrls: false, pathPrefix: '/a' });
  assert.equal((await f(`${mount.url}/api/agree`)).status, 200);
  assert.equal(mount.requests.at(-1).url, '/a/api/agree');
});

test('the README and the package README list every Eclypses name in their migration tables', () => {
  const names = [...Object.keys(ECLYPSES_ALIASES), ...Object.keys(ECLYPSES_IGNORED), 'pathPrefix', 'numberOfPairs', 'encodeHeaders', 'encodeUrls', 'storage', 'fetch'];
  for (const file of ['README.md', join('client', 'README.md')]) {
    const text = readFileSync(join(ROOT, file), 'utf8');
    const rows = text.split('\n').filter((l) => l.startsWith('|'));
    for (const name of names) {
      assert.ok(rows.some((l) => l.includes(`\`${name}\``)), `${file}: no table row names ${name}`);
    }
  }
});
