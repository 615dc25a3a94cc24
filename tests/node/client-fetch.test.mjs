// mteFetch end to end against client-peer.mjs, an independent Node
// implementation of the relay's side of protocol.md (the C relay's protected
// path is tested by tests/e2e-pending until it lands).  Each test makes its own
// client (createClient) with memory storage, so tests do not share pairs.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { gzipSync } from 'node:zlib';
import http from 'node:http';
import { createClient } from '../../client/src/internals.js';
import { startPeer, seal } from './client-peer.mjs';

let peer;
let app = async () => ({ status: 200, body: Buffer.from('default') });

before(async () => { peer = await startPeer((req, ctx) => app(req, ctx)); });
after(async () => { await peer.close(); });

function fresh(opts = {}) {
  peer.log.length = 0;
  peer.upstreamSeen.length = 0;
  peer.hooks = {};
  const storage = opts.storage || memStore();
  const client = createClient({ storage, ...(opts.env || {}) });
  return { client, storage, f: client.mteFetch };
}

function memStore() {
  const m = new Map();
  return { m, get: (k) => (m.has(k) ? m.get(k) : null), set: (k, v) => m.set(k, v), remove: (k) => m.delete(k) };
}

const echoApp = async (req) => ({
  status: 200,
  headers: { 'content-type': 'application/json', 'x-app': 'yes' },
  body: Buffer.from(JSON.stringify({
    method: req.method, url: req.url, headers: req.headers,
    body: req.body ? req.body.toString('base64') : null,
  })),
});
const sha = (b) => createHash('sha256').update(b).digest('hex');
const protectedLog = () => peer.log.filter((e) => e.kind === 'protected');

test('GET/POST/PUT/PATCH/DELETE with JSON, query strings and custom headers; the wire shows none of them', async () => {
  const { f, storage } = fresh();
  app = echoApp;
  for (const method of ['GET', 'POST', 'PUT', 'PATCH', 'DELETE']) {
    const body = method === 'GET' ? undefined : JSON.stringify({ m: method, n: [1, 2, 3] });
    const r = await f(`${peer.origin}/api/items/42?sort=desc&q=a%20b#frag`, {
      method, body, headers: { 'Content-Type': 'application/json', 'X-Custom': `v-${method}` },
    });
    assert.equal(r.status, 200);
    assert.equal(r.headers.get('content-type'), 'application/json');
    assert.equal(r.headers.get('x-app'), 'yes');
    assert.equal(r.headers.get('x-mte-relay'), null, 'transport headers are not shown to the app');
    const j = await r.json();
    assert.equal(j.method, method);
    assert.equal(j.url, '/api/items/42?sort=desc&q=a%20b');
    assert.equal(j.headers['x-custom'], `v-${method}`);
    assert.equal(j.headers['content-type'], 'application/json');
    if (body) assert.equal(Buffer.from(j.body, 'base64').toString(), body);
    const wire = protectedLog().at(-1);
    assert.equal(wire.wireTarget, '/', 'the URL travels encrypted');
    assert.equal(wire.wireHeaders['x-custom'], undefined);
    assert.equal(wire.wireHeaders['content-type'], undefined);
    assert.equal(wire.flags, body ? 'ub' : 'u');
    if (body) assert.equal(Number(wire.wireHeaders['content-length']), Buffer.byteLength(body) + 16);
  }
  // one HEAD, one pairing, five requests with seq 1..5 on one pair
  assert.deepEqual(peer.log.map((e) => e.kind), ['head', 'pair', 'protected', 'protected', 'protected', 'protected', 'protected']);
  assert.deepEqual(protectedLog().map((e) => e.seq), [1, 2, 3, 4, 5]);
  assert.match(storage.get(`mte-relay:clientId:${peer.origin}`), /^[0-9a-f]{32}\.[0-9a-f]{64}$/);
});

test('encodeUrls false and encodeHeaders false / list; input as Request, URL, header forms', async () => {
  const { f } = fresh();
  app = echoApp;
  let r = await f(new URL(`${peer.origin}/plain/path?x=1`), { headers: [['X-A', '1'], ['X-A', '2'], ['X-B', 'b']] },
    { encodeUrls: false, encodeHeaders: ['x-b'] });
  let j = await r.json();
  let wire = protectedLog().at(-1);
  assert.equal(wire.wireTarget, '/plain/path?x=1');
  assert.equal(wire.flags, '');
  assert.equal(j.url, '/plain/path?x=1');
  assert.deepEqual(j.headers, { 'x-b': 'b' });
  assert.equal(wire.wireHeaders['x-a'], '1, 2');
  assert.equal(wire.wireHeaders['x-b'], undefined);

  r = await f(new Request(`${peer.origin}/from/request?y=2`, { method: 'POST', body: 'abc', headers: new Headers({ 'X-R': 'r' }) }),
    undefined, { encodeHeaders: false });
  j = await r.json();
  wire = protectedLog().at(-1);
  assert.equal(j.method, 'POST');
  assert.equal(j.url, '/from/request?y=2');
  assert.deepEqual(j.headers, {});
  assert.equal(wire.wireHeaders['x-r'], 'r');
  assert.equal(wire.wireHeaders['content-type'], 'text/plain;charset=UTF-8');
  assert.equal(Buffer.from(j.body, 'base64').toString(), 'abc');

  // the clear target in the AAD is byte for byte what fetch puts on the wire
  for (const path of ['/q?', '/ü/ä b?x=ö&y=%41', '/a//b/./c/../d']) {
    r = await f(`${peer.origin}${path}#frag`, {}, { encodeUrls: false });
    assert.equal(r.status, 200, path);
    assert.equal((await r.json()).url, protectedLog().at(-1).wireTarget);
  }
});

test('body types: URLSearchParams, ArrayBuffer, typed array, Blob, ReadableStream, empty string', async () => {
  const { f } = fresh();
  app = echoApp;
  const cases = [
    [new URLSearchParams({ a: '1', b: 'two words' }), 'a=1&b=two+words', 'application/x-www-form-urlencoded;charset=UTF-8'],
    [Uint8Array.from([1, 2, 3]).buffer, '\x01\x02\x03', undefined],
    [new Uint32Array([0x41424344]), 'DCBA', undefined],
    [new Blob(['blob!'], { type: 'text/x-blob' }), 'blob!', 'text/x-blob'],
    [new ReadableStream({ start(c) { c.enqueue(new TextEncoder().encode('str')); c.enqueue(new TextEncoder().encode('eam')); c.close(); } }), 'stream', undefined],
    ['', '', 'text/plain;charset=UTF-8'],
  ];
  for (const [body, text, ct] of cases) {
    const r = await f(`${peer.origin}/b`, { method: 'POST', body, duplex: 'half' });
    const j = await r.json();
    assert.equal(Buffer.from(j.body, 'base64').toString('latin1'), text);
    assert.equal(j.headers['content-type'], ct);
    assert.equal(protectedLog().at(-1).flags, 'ub');
  }
});

test('FormData upload of several files: multipart boundary preserved, bytes and sha256 intact', async () => {
  const { f } = fresh();
  const files = [Buffer.alloc(70000, 7), Buffer.from('hello file'), Buffer.from(Array.from({ length: 300000 }, (_, i) => i & 255))];
  app = async (req) => {
    const fd = await new Request('http://x/', { method: 'POST', body: req.body, headers: { 'content-type': req.headers['content-type'] } }).formData();
    const out = {};
    for (const [name, v] of fd) out[name] = typeof v === 'string' ? v : { name: v.name, type: v.type, sha: sha(Buffer.from(await v.arrayBuffer())) };
    return { status: 201, headers: { 'content-type': 'application/json' }, body: Buffer.from(JSON.stringify(out)) };
  };
  const fd = new FormData();
  fd.append('title', 'three files');
  files.forEach((b, i) => fd.append(`f${i}`, new Blob([b], { type: 'application/octet-stream' }), `file${i}.bin`));
  const r = await f(`${peer.origin}/upload`, { method: 'POST', body: fd });
  assert.equal(r.status, 201);
  const j = await r.json();
  assert.equal(j.title, 'three files');
  files.forEach((b, i) => assert.deepEqual(j[`f${i}`], { name: `file${i}.bin`, type: 'application/octet-stream', sha: sha(b) }));
  assert.match(peer.upstreamSeen[0].headers['content-type'], /^multipart\/form-data; boundary=/);
});

test('large bodies stream both ways (6 MiB up as a streamed request body, 6 MiB down)', async () => {
  const { f } = fresh();
  const up = Buffer.alloc(6 * 1024 * 1024 + 123);
  for (let i = 0; i < up.length; i += 4096) up[i] = (i / 4096) & 255;
  async function* down() { for (let i = 0; i < 96; i++) yield Buffer.alloc(65536 + 1, i); }
  app = async (req) => ({ status: 200, headers: { 'x-up-sha': sha(req.body) }, body: down() });
  const r = await f(`${peer.origin}/big`, { method: 'PUT', body: new Blob([up]) });
  assert.equal(r.headers.get('x-up-sha'), sha(up));
  const wire = protectedLog().at(-1);
  assert.equal(wire.wireLength, up.length + 16 * (Math.floor(up.length / 65536) + 1));
  assert.equal(Number(wire.wireHeaders['content-length']), wire.wireLength);
  let n = 0;
  const h = createHash('sha256');
  for await (const part of r.body) { n += part.length; h.update(part); }
  assert.equal(n, 96 * 65537);
  const want = createHash('sha256');
  for (let i = 0; i < 96; i++) want.update(Buffer.alloc(65537, i));
  assert.equal(h.digest('hex'), want.digest('hex'));
});

test('response helpers: text, blob, arrayBuffer, headers merged, status, statusText, url; gzip decoded', async () => {
  const { f } = fresh();
  app = async (req) => (req.url === '/gz'
    ? { status: 200, headers: { 'content-type': 'text/plain', 'content-encoding': 'gzip' }, body: gzipSync(Buffer.from('zipped text')) }
    : { status: 202, headers: { 'content-type': 'text/plain' }, clearHeaders: { 'cache-control': 'no-store' }, body: Buffer.from('accepted') });
  let r = await f(`${peer.origin}/x#y`);
  assert.equal(r.status, 202);
  assert.equal(r.statusText, 'Accepted');
  assert.equal(r.url, `${peer.origin}/x`);
  assert.equal(r.headers.get('cache-control'), 'no-store');
  assert.equal(await r.text(), 'accepted');
  r = await f(`${peer.origin}/x`);
  assert.equal((await r.blob()).size, 8);
  r = await f(`${peer.origin}/x`);
  assert.equal(new TextDecoder().decode(await r.arrayBuffer()), 'accepted');
  r = await f(`${peer.origin}/gz`);
  assert.equal(r.headers.get('content-encoding'), null);
  assert.equal(await r.text(), 'zipped text');
});

test('no-body responses: 204 and HEAD', async () => {
  const { f } = fresh();
  app = async (req) => (req.method === 'HEAD' ? { status: 200, headers: { 'x-h': '1' } } : { status: 204 });
  let r = await f(`${peer.origin}/nothing`, { method: 'DELETE' });
  assert.equal(r.status, 204);
  assert.equal(r.body, null);
  r = await f(`${peer.origin}/head`, { method: 'HEAD' });
  assert.equal(r.headers.get('x-h'), '1');
});

test('200 concurrent requests on one pair all succeed with distinct seqs', async () => {
  const { f } = fresh();
  app = async (req) => ({ status: 200, body: Buffer.from(req.url) });
  const rs = await Promise.all(Array.from({ length: 200 }, (_, i) => f(`${peer.origin}/c/${i}`).then((r) => r.text())));
  rs.forEach((t, i) => assert.equal(t, `/c/${i}`));
  const seqs = protectedLog().map((e) => e.seq).sort((a, b) => a - b);
  assert.deepEqual(seqs, Array.from({ length: 200 }, (_, i) => i + 1));
  assert.equal(peer.log.filter((e) => e.kind === 'pair').length, 1, 'concurrent first requests share one pairing');
  assert.equal(new Set(protectedLog().map((e) => e.pairId)).size, 1);
});

test('numberOfPairs: one pairing call for all, requests spread round-robin', async () => {
  const { client, f } = fresh();
  await client.initMteRelayClient({ numberOfPairs: 3, relayUrl: `${peer.origin}/anything` });
  assert.deepEqual(peer.log.map((e) => [e.kind, e.count]), [['head', undefined], ['pair', 3]]);
  app = async () => ({ status: 200, body: Buffer.from('ok') });
  for (let i = 0; i < 6; i++) await (await f(`${peer.origin}/r`)).text();
  const byPair = new Map();
  for (const e of protectedLog()) byPair.set(e.pairId, (byPair.get(e.pairId) || 0) + 1);
  assert.deepEqual([...byPair.values()], [2, 2, 2]);
});

test('retry rules: 559-565/567/568 re-pair and retry once; 570 fresh seq; 566 new client id', async () => {
  app = echoApp;
  for (const status of [559, 560, 561, 562, 563, 564, 565, 567, 568]) {
    const { f } = fresh();
    await (await f(`${peer.origin}/warm`)).text();
    let forced = 0;
    peer.hooks.beforeAccept = () => (forced++ === 0 ? status : undefined);
    const r = await f(`${peer.origin}/after`, { method: 'POST', body: 'payload' });
    const j = await r.json();
    assert.equal(Buffer.from(j.body, 'base64').toString(), 'payload', `${status}: the retry re-sent the body`);
    const kinds = peer.log.map((e) => e.kind);
    assert.deepEqual(kinds, ['head', 'pair', 'protected', 'protected', 'pair', 'protected'], `${status}`);
    const [, second, third] = protectedLog();
    assert.notEqual(second.pairId, third.pairId, `${status}: retried on a new pair`);
    assert.equal(third.seq, 1);
  }
  {
    const { f } = fresh();
    let forced = 0;
    peer.hooks.beforeAccept = () => (forced++ === 0 ? 570 : undefined);
    await (await f(`${peer.origin}/x`, { method: 'PUT', body: 'again' })).text();
    const [a, b] = protectedLog();
    assert.equal(a.pairId, b.pairId);
    assert.deepEqual([a.seq, b.seq], [1, 2]);
    assert.equal(peer.log.filter((e) => e.kind === 'pair').length, 1);
  }
  {
    const { f, storage } = fresh();
    let forced = 0;
    peer.hooks.beforeAccept = () => (forced++ === 0 ? 566 : undefined);
    await (await f(`${peer.origin}/x`)).text();
    assert.deepEqual(peer.log.map((e) => e.kind), ['head', 'pair', 'protected', 'head', 'pair', 'protected']);
    assert.equal(peer.log[3].sent, null, 'the forgotten id is not sent again');
    assert.equal(storage.get(`mte-relay:clientId:${peer.origin}`).split('.')[0], peer.log[5].wireHeaders['x-mte-relay'].slice(0, 32));
  }
  {
    const { f } = fresh();
    peer.hooks.beforeAccept = () => 562;
    await assert.rejects(f(`${peer.origin}/x`), (e) => {
      assert.equal(e.name, 'MteDecodeError');
      assert.equal(e.code, 'DECODE_FAILED');
      assert.equal(e.status, 562);
      assert.deepEqual(e.relayError, { error: 'forced 562', code: 562 });
      return true;
    });
    assert.equal(protectedLog().length, 2, 'only one retry');
  }
});

test('relay state lost (pairs gone) and secret rotation are transparent', async () => {
  const { f, storage } = fresh();
  app = echoApp;
  await (await f(`${peer.origin}/a`)).text();
  peer.pairs.clear(); // like FLUSHALL or an embedded-store restart
  assert.equal((await f(`${peer.origin}/b`)).status, 200);
  // rotation with the previous secret still accepted: the echo re-signs the id, the client keeps it
  const oldSecret = peer.secret;
  const key = `mte-relay:clientId:${peer.origin}`;
  const before = storage.get(key);
  peer.secret = 'rotated-secret-abcdefabcdefabcdefabcdef';
  peer.previous = oldSecret;
  try {
    assert.equal((await f(`${peer.origin}/c`)).status, 200);
    assert.notEqual(storage.get(key), before);
    assert.equal(storage.get(key), peer.sign(before.slice(0, 32)));
    // rotation without the previous secret: 566, new id, new pair, retried once
    peer.secret = 'another-secret-0000000000000000000000';
    peer.previous = null;
    const r = await f(`${peer.origin}/d`, { method: 'POST', body: 'x' });
    assert.equal(r.status, 200);
    assert.notEqual(storage.get(key).slice(0, 32), before.slice(0, 32));
  } finally {
    peer.secret = oldSecret;
    peer.previous = null;
  }
});

test('stored client id is reused by the next client and re-validated with HEAD', async () => {
  const storage = memStore();
  let { f } = fresh({ storage });
  app = echoApp;
  await (await f(`${peer.origin}/1`)).text();
  const id = storage.get(`mte-relay:clientId:${peer.origin}`);
  ({ f } = fresh({ storage }));
  await (await f(`${peer.origin}/2`)).text();
  assert.equal(peer.log[0].kind, 'head');
  assert.equal(peer.log[0].sent, id);
  assert.ok(peer.log[2].wireHeaders['x-mte-relay'].startsWith(`${id},`));
  // a forged stored id: HEAD answers 566, the client asks for a fresh one
  storage.set(`mte-relay:clientId:${peer.origin}`, `${'0'.repeat(32)}.${'1'.repeat(64)}`);
  ({ f } = fresh({ storage }));
  assert.equal((await f(`${peer.origin}/3`)).status, 200);
  assert.deepEqual(peer.log.slice(0, 2).map((e) => e.sent), [`${'0'.repeat(32)}.${'1'.repeat(64)}`, null]);
});

test('attacks on responses: swapped between requests, status changed, meta or body tampered, truncated', async () => {
  const { f } = fresh();
  app = async (req) => ({ status: 200, headers: { 'content-type': 'text/plain' }, body: Buffer.from(`for ${req.url}`) });
  // capture the sealed response to request 1, then serve it for request 2
  let captured = null;
  peer.hooks.sealResponse = async (ctx, res) => {
    const body = seal(ctx.mkRes, 2, true, 0, ctx.raad, Buffer.from(`for seq ${ctx.seq}`));
    if (!captured) { captured = { headers: ctx.headers, body }; return false; }
    res.writeHead(200, captured.headers);
    res.end(captured.body);
    return true;
  };
  await (await f(`${peer.origin}/one`)).text();
  await assert.rejects(f(`${peer.origin}/two`), (e) => e.code === 'RESPONSE_INVALID' && /not for this request/.test(e.message));
  // same, but the echo header rewritten to name request 2: the meta is sealed for seq 1, so it fails to open
  peer.hooks.sealResponse = async (ctx, res) => {
    const h = { ...captured.headers, 'x-mte-relay': ctx.headers['x-mte-relay'] };
    res.writeHead(200, h);
    res.end(captured.body);
    return true;
  };
  await assert.rejects(f(`${peer.origin}/three`), (e) => e.code === 'RESPONSE_INVALID' && /failed authentication/.test(e.message));
  // status changed in transit
  peer.hooks.sealResponse = async (ctx, res) => {
    res.writeHead(201, ctx.headers);
    res.end(seal(ctx.mkRes, 2, true, 0, ctx.raad, Buffer.from('x')));
    return true;
  };
  await assert.rejects(f(`${peer.origin}/four`), (e) => e.code === 'RESPONSE_INVALID');
  // flipped bit in the first body chunk
  peer.hooks.sealResponse = async (ctx, res) => {
    const b = seal(ctx.mkRes, 2, true, 0, ctx.raad, Buffer.from('secret body'));
    b[0] ^= 1;
    res.writeHead(200, ctx.headers);
    res.end(b);
    return true;
  };
  let r = await f(`${peer.origin}/five`);
  await assert.rejects(r.text(), (e) => e.code === 'TRUNCATED' || e.code === 'RESPONSE_INVALID');
  // dropped final chunk of a multi-chunk body: the stream errors, it does not end normally
  peer.hooks = {};
  app = async () => ({ status: 200, body: Buffer.alloc(200000, 1), dropFinal: true });
  r = await f(`${peer.origin}/six`);
  await assert.rejects(r.arrayBuffer(), (e) => { assert.equal(e.code, 'TRUNCATED'); return true; });
  // the connection cut mid-body: reported as truncation too, not as a bare TypeError
  app = async () => ({ status: 200, body: Buffer.alloc(200000, 1), cutConnection: true });
  r = await f(`${peer.origin}/seven`);
  await assert.rejects(r.arrayBuffer(), (e) => { assert.equal(e.code, 'TRUNCATED'); assert.ok(e.cause); return true; });
});

test('unsealed relay errors, unreachable relay, bad input', async () => {
  const { f } = fresh();
  app = echoApp;
  await (await f(`${peer.origin}/warm`)).text();
  peer.hooks.sealResponse = async (ctx, res) => {
    res.writeHead(404, { 'content-type': 'application/json' });
    res.end('{"error":"not found","code":404}');
    return true;
  };
  await assert.rejects(f(`${peer.origin}/nope`), (e) => e.code === 'RELAY_REJECTED' && e.status === 404 && e.relayError.error === 'not found');
  // a port nobody listens on
  const s = http.createServer();
  await new Promise((r) => s.listen(0, '127.0.0.1', r));
  const port = s.address().port;
  await new Promise((r) => s.close(r));
  await assert.rejects(f(`http://127.0.0.1:${port}/x`), (e) => e.name === 'MteNetworkError' && e.code === 'RELAY_UNREACHABLE' && e instanceof Error);
  await assert.rejects(f('ftp://example.invalid/x'), (e) => e.code === 'UNSUPPORTED');
  await assert.rejects(f(`${peer.origin}/x`, { mode: 'no-cors' }), (e) => e.code === 'UNSUPPORTED');
  await assert.rejects(f(`http://u:p@127.0.0.1:1/x`), TypeError);
  await assert.rejects(f(`${peer.origin}/x`, { method: 'GET', body: 'no' }), TypeError);
  await assert.rejects(f(`${peer.origin}/x`, {}, { numberOfPairs: 0, encodeHeaders: 'yes' }), TypeError);
});

test('pairing failure is reported with the relay error', async () => {
  const { f } = fresh();
  const srv = http.createServer((req, res) => {
    if (req.method === 'HEAD') { res.writeHead(200, { 'x-mte-relay': `${'a'.repeat(32)}.${'b'.repeat(64)}` }); return res.end(); }
    res.writeHead(503, { 'content-type': 'application/json' });
    res.end('{"error":"store unavailable","code":503}');
  });
  await new Promise((r) => srv.listen(0, '127.0.0.1', r));
  try {
    await assert.rejects(f(`http://127.0.0.1:${srv.address().port}/x`), (e) =>
      e.name === 'MtePairingError' && e.code === 'PAIRING_FAILED' && e.status === 503 && e.relayError.error === 'store unavailable');
  } finally { srv.closeAllConnections(); await new Promise((r) => srv.close(r)); }
});

test('AbortSignal: before sending, and in the middle of a streamed response', async () => {
  const { f } = fresh();
  const ac0 = new AbortController();
  ac0.abort();
  await assert.rejects(f(`${peer.origin}/x`, { signal: ac0.signal }), (e) => e.name === 'AbortError');
  let release;
  const gate = new Promise((r) => { release = r; });
  async function* slow() { yield Buffer.alloc(65536 * 2 + 5, 3); await gate; yield Buffer.alloc(10); }
  app = async () => ({ status: 200, body: slow() });
  const ac = new AbortController();
  const r = await f(`${peer.origin}/slow`, { signal: ac.signal });
  const reader = r.body.getReader();
  const first = await reader.read();
  assert.equal(first.value.length, 65536);
  ac.abort();
  await assert.rejects((async () => { for (;;) { const { done } = await reader.read(); if (done) break; } })(), (e) => e.name === 'AbortError');
  release();
});
