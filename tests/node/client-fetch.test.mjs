// mteFetch end to end against the real relay (build/mte-relay with a real
// redis-server) and a real upstream.  A recording proxy (tests/node/lib/e2e.mjs)
// sits between client and relay where a test must see or alter the wire: it
// shows what travels in the clear, replays requests (570), answers with the
// relay statuses the relay itself never sends (559, 561, 563-565, 567, 568), and
// tampers with responses.  Each test makes its own client (createClient) with
// memory storage, so tests do not share pairs.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, createHmac } from 'node:crypto';
import { gzipSync } from 'node:zlib';
import http from 'node:http';
import {
  newClient, memStore, startStack, startUpstream, startRelay, relayEnv, send, freePort, SECRET, sha256, isProtected,
} from './lib/e2e.mjs';

let stack; let redis; let upstream; let relay; let proxy;
let gate = null;          // the /slow route waits on this before its last bytes

const sign = (id, secret) => `${id}.${createHmac('sha256', secret).update(id).digest('hex')}`;

// The application behind the relay.
function app(req, res, rec) {
  const body = Buffer.concat(rec.body);
  const path = req.url.split('?')[0];
  if (path === '/upload') {
    new Request('http://x/', { method: 'POST', body, headers: { 'content-type': req.headers['content-type'] } }).formData().then(async (fd) => {
      const out = {};
      for (const [name, v] of fd) out[name] = typeof v === 'string' ? v : { name: v.name, type: v.type, sha: sha256(Buffer.from(await v.arrayBuffer())) };
      res.writeHead(201, { 'content-type': 'application/json' });
      res.end(JSON.stringify(out));
    }, (e) => { res.writeHead(400); res.end(String(e)); });
    return true;
  }
  if (path === '/big') {
    res.writeHead(200, { 'x-up-sha': rec.sha256, 'x-up-length': String(rec.length) });
    let i = 0;
    const pump = () => {
      while (i < 96) { if (!res.write(Buffer.alloc(65537, i++))) return res.once('drain', pump); }
      return res.end();
    };
    pump();
    return true;
  }
  if (path === '/resp/gz') {
    res.writeHead(200, { 'content-type': 'text/plain', 'content-encoding': 'gzip' });
    res.end(gzipSync(Buffer.from('zipped text')));
    return true;
  }
  if (path === '/resp/x') {
    res.writeHead(202, { 'content-type': 'text/plain', 'cache-control': 'no-store' });
    res.end('accepted');
    return true;
  }
  if (path === '/nothing') { res.writeHead(204); res.end(); return true; }
  if (path === '/head') { res.writeHead(200, { 'x-h': '1', 'content-type': 'text/plain' }); res.end(); return true; }
  if (path.startsWith('/c/') || path.startsWith('/for/')) {
    res.writeHead(200, { 'content-type': 'text/plain' });
    res.end(path.startsWith('/for/') ? `for ${req.url}` : req.url);
    return true;
  }
  const bytes = /^\/bytes\/(\d+)$/.exec(path);
  // a known length: the v1 layout (a stream without one goes framed, client-stream.test.mjs)
  if (bytes) { res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': bytes[1] }); res.end(Buffer.alloc(Number(bytes[1]), 1)); return true; }
  if (path === '/slow') {
    res.writeHead(200, { 'content-type': 'application/octet-stream' });
    res.write(Buffer.alloc(65536 * 2 + 5, 3));
    const g = gate;
    (g ? g.promise : Promise.resolve()).then(() => res.end(Buffer.alloc(10)));
    return true;
  }
  res.writeHead(200, { 'content-type': 'application/json', 'x-app': 'yes' });
  res.end(JSON.stringify({ method: req.method, url: req.url, headers: req.headers, body: rec.length ? body.toString('base64') : null }));
  return true;
}

before(async () => {
  // a new connection per request: relays are restarted on the same port below
  stack = await startStack({ redis: true, upstream: () => startUpstream(app), proxy: { newConnections: true } });
  ({ redis, upstream, relay, proxy } = stack);
});

after(async () => {
  gate?.release();
  await stack?.stop();
});

/** A fresh client and a clean proxy. */
function fresh(opts = {}) {
  proxy.requests.length = 0;
  proxy.responses.length = 0;
  proxy.onRequest = null;
  proxy.onResponse = null;
  const storage = opts.storage || memStore();
  const { f, client } = newClient({ storage, ...(opts.env || {}) });
  return { f, client, storage };
}

const kindOf = (r) => {
  if (r.method === 'HEAD' && r.url === '/api/mte-relay') return 'head';
  if (r.url === '/api/mte-pair') return 'pair';
  return isProtected(r) ? 'protected' : 'other';
};
const kinds = () => proxy.requests.map(kindOf);
/** The protected requests as the wire shows them. */
const wire = () => proxy.requests.filter(isProtected).map((r) => {
  const [signed, pairId, seq, flags] = r.headers['x-mte-relay'].split(',');
  return { signed, pairId, seq: Number(seq), flags, target: r.url, headers: r.headers, length: r.body.length, rec: r };
});
const pairCalls = () => proxy.requests.filter((r) => kindOf(r) === 'pair').map((r) => JSON.parse(r.body));
const upstreamAt = (path) => upstream.received.filter((r) => r.url === path);

test('GET/POST/PUT/PATCH/DELETE with JSON, query strings and custom headers; the wire shows none of them', async () => {
  const { f, storage } = fresh();
  for (const method of ['GET', 'POST', 'PUT', 'PATCH', 'DELETE']) {
    const body = method === 'GET' ? undefined : JSON.stringify({ m: method, n: [1, 2, 3] });
    const r = await f(`${proxy.url}/api/items/42?sort=desc&q=a%20b#frag`, {
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
    const w = wire().at(-1);
    assert.equal(w.target, '/', 'the URL travels encrypted');
    assert.equal(w.headers['x-custom'], undefined);
    assert.equal(w.headers['content-type'], undefined);
    // a: the relay's refusals come sealed or tagged (PROTOCOL.md section 11)
    assert.equal(w.flags, body ? 'ubas' : 'uas');
    if (body) assert.equal(Number(w.headers['content-length']), Buffer.byteLength(body) + 16);
    assert.ok(!w.rec.body.toString('latin1').includes('"m"'), 'the body travels encrypted');
  }
  // one HEAD, one pairing, five requests with seq 1..5 on one pair
  assert.deepEqual(kinds(), ['head', 'pair', 'protected', 'protected', 'protected', 'protected', 'protected']);
  assert.deepEqual(wire().map((w) => w.seq), [1, 2, 3, 4, 5]);
  assert.equal(new Set(wire().map((w) => w.pairId)).size, 1);
  assert.match(storage.get(`mte-relay:clientId:${proxy.url}`), /^[0-9a-f]{32}\.[0-9a-f]{64}$/);
});

test('encodeUrls false and encodeHeaders false / list; input as Request, URL, header forms', async () => {
  const { f } = fresh();
  let r = await f(new URL(`${proxy.url}/plain/path?x=1`), { headers: [['X-A', '1'], ['X-A', '2'], ['X-B', 'b']] },
    { encodeUrls: false, encodeHeaders: ['x-b'] });
  let j = await r.json();
  let w = wire().at(-1);
  assert.equal(w.target, '/plain/path?x=1');
  assert.equal(w.flags, 'as');
  assert.equal(j.url, '/plain/path?x=1');
  assert.equal(j.headers['x-b'], 'b', 'the sealed header reached the upstream');
  assert.equal(j.headers['x-a'], '1, 2', 'the clear header reached the upstream');
  assert.equal(w.headers['x-a'], '1, 2');
  assert.equal(w.headers['x-b'], undefined, 'x-b was sealed');

  r = await f(new Request(`${proxy.url}/from/request?y=2`, { method: 'POST', body: 'abc', headers: new Headers({ 'X-R': 'r' }) }),
    undefined, { encodeHeaders: false });
  j = await r.json();
  w = wire().at(-1);
  assert.equal(j.method, 'POST');
  assert.equal(j.url, '/from/request?y=2');
  assert.equal(j.headers['x-r'], 'r');
  assert.equal(w.headers['x-r'], 'r', 'nothing sealed: x-r in the clear');
  assert.equal(w.headers['content-type'], 'text/plain;charset=UTF-8');
  assert.equal(Buffer.from(j.body, 'base64').toString(), 'abc');

  // the clear target in the AAD is byte for byte what fetch puts on the wire
  for (const path of ['/q?', '/ü/ä b?x=ö&y=%41', '/a//b/./c/../d']) {
    r = await f(`${proxy.url}${path}#frag`, {}, { encodeUrls: false });
    assert.equal(r.status, 200, path);
    assert.equal((await r.json()).url, wire().at(-1).target);
  }
});

test('body types: URLSearchParams, ArrayBuffer, typed array, Blob, ReadableStream, empty string', async () => {
  const { f } = fresh();
  const cases = [
    [new URLSearchParams({ a: '1', b: 'two words' }), 'a=1&b=two+words', 'application/x-www-form-urlencoded;charset=UTF-8'],
    [Uint8Array.from([1, 2, 3]).buffer, '\x01\x02\x03', undefined],
    [new Uint32Array([0x41424344]), 'DCBA', undefined],
    [new Blob(['blob!'], { type: 'text/x-blob' }), 'blob!', 'text/x-blob'],
    [new ReadableStream({ start(c) { c.enqueue(new TextEncoder().encode('str')); c.enqueue(new TextEncoder().encode('eam')); c.close(); } }), 'stream', undefined],
    ['', '', 'text/plain;charset=UTF-8'],
  ];
  for (const [body, text, ct] of cases) {
    const r = await f(`${proxy.url}/b`, { method: 'POST', body, duplex: 'half' });
    const j = await r.json();
    assert.equal(j.body === null ? '' : Buffer.from(j.body, 'base64').toString('latin1'), text);
    assert.equal(j.headers['content-type'], ct);
    assert.equal(j.headers['content-length'], String(Buffer.byteLength(text, 'latin1')));
    assert.equal(wire().at(-1).flags, 'ubas');
  }
});

test('FormData upload of several files: multipart boundary preserved, bytes and sha256 intact', async () => {
  const { f } = fresh();
  const files = [Buffer.alloc(70000, 7), Buffer.from('hello file'), Buffer.from(Array.from({ length: 300000 }, (_, i) => i & 255))];
  const fd = new FormData();
  fd.append('title', 'three files');
  files.forEach((b, i) => fd.append(`f${i}`, new Blob([b], { type: 'application/octet-stream' }), `file${i}.bin`));
  const r = await f(`${proxy.url}/upload`, { method: 'POST', body: fd });
  assert.equal(r.status, 201);
  const j = await r.json();
  assert.equal(j.title, 'three files');
  files.forEach((b, i) => assert.deepEqual(j[`f${i}`], { name: `file${i}.bin`, type: 'application/octet-stream', sha: sha256(b) }));
  assert.match(upstreamAt('/upload').at(-1).headers['content-type'], /^multipart\/form-data; boundary=/);
  assert.equal(wire().at(-1).headers['content-type'], undefined, 'the boundary travels sealed');
});

test('large bodies stream both ways (6 MiB up as a streamed request body, 6 MiB down)', async () => {
  const { f } = fresh();
  const up = Buffer.alloc(6 * 1024 * 1024 + 123);
  for (let i = 0; i < up.length; i += 4096) up[i] = (i / 4096) & 255;
  const r = await f(`${proxy.url}/big`, { method: 'PUT', body: new Blob([up]) });
  assert.equal(r.headers.get('x-up-sha'), sha256(up));
  assert.equal(r.headers.get('x-up-length'), String(up.length));
  const w = wire().at(-1);
  assert.equal(w.length, up.length + 16 * (Math.floor(up.length / 65536) + 1));
  assert.equal(Number(w.headers['content-length']), w.length, 'the streamed upload announced its wire length');
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
  let r = await f(`${proxy.url}/resp/x#y`);
  assert.equal(r.status, 202);
  assert.equal(r.statusText, 'Accepted');
  assert.equal(r.url, `${proxy.url}/resp/x`);
  assert.equal(r.headers.get('cache-control'), 'no-store');
  assert.equal(proxy.responses.at(-1).headers['cache-control'], 'no-store', 'cache-control travels in the clear');
  assert.equal(r.headers.get('content-type'), 'text/plain');
  assert.equal(await r.text(), 'accepted');
  r = await f(`${proxy.url}/resp/x`);
  assert.equal((await r.blob()).size, 8);
  r = await f(`${proxy.url}/resp/x`);
  assert.equal(new TextDecoder().decode(await r.arrayBuffer()), 'accepted');
  r = await f(`${proxy.url}/resp/gz`);
  assert.equal(r.headers.get('content-encoding'), null);
  assert.equal(await r.text(), 'zipped text');
});

test('no-body responses: 204 and HEAD', async () => {
  const { f } = fresh();
  let r = await f(`${proxy.url}/nothing`, { method: 'DELETE' });
  assert.equal(r.status, 204);
  assert.equal(r.body, null);
  r = await f(`${proxy.url}/head`, { method: 'HEAD' });
  assert.equal(r.status, 200);
  assert.equal(r.headers.get('x-h'), '1');
  assert.equal(r.body, null);
  assert.equal(upstreamAt('/head').at(-1).method, 'HEAD');
});

test('200 concurrent requests on one pair all succeed with distinct seqs', async () => {
  const { f } = fresh();
  const rs = await Promise.all(Array.from({ length: 200 }, (_, i) => f(`${proxy.url}/c/${i}`).then((r) => r.text())));
  rs.forEach((t, i) => assert.equal(t, `/c/${i}`));
  const seqs = wire().map((w) => w.seq).sort((a, b) => a - b);
  assert.deepEqual(seqs, Array.from({ length: 200 }, (_, i) => i + 1));
  assert.equal(pairCalls().length, 1, 'concurrent first requests share one pairing');
  assert.equal(new Set(wire().map((w) => w.pairId)).size, 1);
});

test('numberOfPairs: one pairing call for all, requests spread round-robin', async () => {
  const { client, f } = fresh();
  await client.initMteRelayClient({ numberOfPairs: 3, relayUrl: `${proxy.url}/anything` });
  assert.deepEqual(kinds(), ['head', 'pair']);
  assert.equal(pairCalls()[0].length, 3);
  for (let i = 0; i < 6; i++) assert.equal(await (await f(`${proxy.url}/c/r${i}`)).text(), `/c/r${i}`);
  const byPair = new Map();
  for (const w of wire()) byPair.set(w.pairId, (byPair.get(w.pairId) || 0) + 1);
  assert.deepEqual([...byPair.values()], [2, 2, 2]);
  assert.deepEqual([...byPair.keys()].sort(), pairCalls()[0].map((e) => e.pairId).sort());
});

/** Runs one protected POST whose first attempt the proxy or the relay refuses; returns the upstream's view. */
// PUT: an idempotent method, which the client sends again after any refusal
// (a POST goes again only after an authenticated 560 or 566: client-answers.test.mjs).
async function retried(f, path) {
  const r = await f(`${proxy.url}${path}`, { method: 'PUT', body: 'payload' });
  assert.equal(r.status, 200);
  const j = await r.json();
  assert.equal(Buffer.from(j.body, 'base64').toString(), 'payload', 'the retry re-sent the body');
  assert.equal(upstreamAt(path).length, 1, 'the upstream saw the request once');
  return j;
}

test('retry rules: 559-565, 567, 568 re-pair and retry once (the relay itself sends 560 and 562)', async () => {
  // statuses only a relay in another state would send: answered by the proxy
  for (const status of [559, 561, 563, 564, 565, 567, 568]) {
    const { f } = fresh();
    await (await f(`${proxy.url}/warm`)).text();
    let forced = 0;
    proxy.onRequest = (rec) => {
      if (!isProtected(rec) || forced++) return undefined;
      return { status, headers: { 'content-type': 'application/json' }, body: Buffer.from(JSON.stringify({ error: `forced ${status}`, code: status })) };
    };
    await retried(f, `/after/${status}`);
    assert.deepEqual(kinds(), ['head', 'pair', 'protected', 'protected', 'pair', 'protected'], `${status}`);
    const [, second, third] = wire();
    assert.notEqual(second.pairId, third.pairId, `${status}: retried on a new pair`);
    assert.equal(third.seq, 1);
  }
  // 560: the relay lost the pair (FLUSHALL)
  {
    const { f } = fresh();
    await (await f(`${proxy.url}/warm`)).text();
    assert.equal(await redis.cli('FLUSHALL'), 'OK');
    await retried(f, '/after/560');
    assert.deepEqual(kinds(), ['head', 'pair', 'protected', 'protected', 'pair', 'protected']);
    assert.equal(proxy.responses[3].status, 560, 'the relay itself answered 560');
    assert.notEqual(wire()[1].pairId, wire()[2].pairId);
  }
  // 562: the relay cannot open a meta chunk changed in transit
  {
    const { f } = fresh();
    await (await f(`${proxy.url}/warm`)).text();
    let n = 0;
    proxy.onRequest = (rec) => {
      if (!isProtected(rec) || n++) return;
      const eh = Buffer.from(rec.headers['x-mte-relay-eh'], 'base64url');
      eh[0] ^= 1;
      rec.headers['x-mte-relay-eh'] = eh.toString('base64url');
    };
    await retried(f, '/after/562');
    assert.deepEqual(kinds(), ['head', 'pair', 'protected', 'protected', 'pair', 'protected']);
    assert.equal(proxy.responses[3].status, 562, 'the relay itself answered 562');
  }
});

test('retry rules: 570 retries once with a fresh seq on the same pair (a request replayed ahead of the client)', async () => {
  const { f } = fresh();
  await (await f(`${proxy.url}/warm`)).text();
  let replayed = 0;
  let played = null;
  proxy.onRequest = async (rec) => {
    // an attacker plays the client's request to the relay first; the client's own copy is then a replay
    if (!isProtected(rec) || replayed++) return;
    played = await send(relay.url, rec);
  };
  const r = await f(`${proxy.url}/again`, { method: 'PUT', body: 'again' });
  assert.equal(Buffer.from((await r.json()).body, 'base64').toString(), 'again');
  const [, a, b] = wire();
  assert.equal(a.pairId, b.pairId);
  assert.deepEqual([a.seq, b.seq], [2, 3]);
  assert.equal(played.status, 200, 'the relay accepted the copy played first');
  assert.equal(proxy.responses[3].status, 570, 'the relay itself answered 570');
  assert.equal(pairCalls().length, 1);
  assert.equal(upstreamAt('/again').length, 2, 'the played copy and the retry');
});

test('retry rules: 566 (relay restarted with a new CLIENT_ID_SECRET) gets a new client id; a second refusal is final', async () => {
  const NEW = 'fetch-rotated-secret-0123456789abcdef0123';
  {
    const { f, storage } = fresh();
    await (await f(`${proxy.url}/warm`)).text();
    const before = storage.get(`mte-relay:clientId:${proxy.url}`);
    relay = await stack.restartRelay({ CLIENT_ID_SECRET: NEW });
    try {
      const r = await f(`${proxy.url}/x`);
      assert.equal(r.status, 200);
      await r.text();
      assert.deepEqual(kinds(), ['head', 'pair', 'protected', 'protected', 'head', 'pair', 'protected']);
      assert.equal(proxy.responses[3].status, 566, 'the relay itself answered 566');
      assert.equal(proxy.requests[4].headers['x-mte-relay'], undefined, 'the forgotten id is not sent again');
      const now = storage.get(`mte-relay:clientId:${proxy.url}`);
      assert.notEqual(now.slice(0, 32), before.slice(0, 32));
      assert.equal(now, sign(now.slice(0, 32), NEW));
      assert.equal(wire().at(-1).signed, now);
    } finally {
      relay = await stack.restartRelay();
    }
  }
  {
    // the relay refuses every try: one retry, then the error
    const { f } = fresh();
    proxy.onRequest = (rec) => {
      if (!isProtected(rec)) return;
      const eh = Buffer.from(rec.headers['x-mte-relay-eh'], 'base64url');
      eh[0] ^= 1;
      rec.headers['x-mte-relay-eh'] = eh.toString('base64url');
    };
    await assert.rejects(f(`${proxy.url}/refused`), (e) => {
      assert.equal(e.name, 'MteDecodeError');
      assert.equal(e.code, 'DECODE_FAILED');
      assert.equal(e.status, 562);
      assert.deepEqual(e.relayError, { error: 'failed to decode', code: 562 });
      return true;
    });
    assert.equal(wire().length, 2, 'only one retry');
    assert.equal(upstreamAt('/refused').length, 0);
  }
});

test('relay state lost (FLUSHALL) and secret rotation are transparent', async () => {
  const { f, storage } = fresh();
  await (await f(`${proxy.url}/a`)).text();
  assert.equal(await redis.cli('FLUSHALL'), 'OK');
  assert.equal((await f(`${proxy.url}/b`)).status, 200);
  // rotation with the previous secret still accepted: the relay re-signs the id, the client keeps it
  const key = `mte-relay:clientId:${proxy.url}`;
  const before = storage.get(key);
  const ROTATED = 'fetch-rotated-secret-abcdefabcdefabcdefab';
  relay = await stack.restartRelay({ CLIENT_ID_SECRET: ROTATED, CLIENT_ID_SECRET_PREVIOUS: SECRET });
  try {
    assert.equal((await f(`${proxy.url}/c`)).status, 200);
    assert.notEqual(storage.get(key), before);
    assert.equal(storage.get(key), sign(before.slice(0, 32), ROTATED));
    // rotation without the previous secret: 566, new id, new pair, retried once
    // (a PUT; the 566 cannot be authenticated for a client paired under a
    // secret the relay no longer has, so a POST would not go again)
    relay = await stack.restartRelay({ CLIENT_ID_SECRET: 'fetch-another-secret-000000000000000000000' });
    const r = await f(`${proxy.url}/d`, { method: 'PUT', body: 'x' });
    assert.equal(r.status, 200);
    assert.equal(Buffer.from((await r.json()).body, 'base64').toString(), 'x');
    assert.notEqual(storage.get(key).slice(0, 32), before.slice(0, 32));
  } finally {
    relay = await stack.restartRelay();
  }
});

test('stored client id is reused by the next client and re-validated with HEAD', async () => {
  const storage = memStore();
  let { f } = fresh({ storage });
  await (await f(`${proxy.url}/1`)).text();
  const id = storage.get(`mte-relay:clientId:${proxy.url}`);
  ({ f } = fresh({ storage }));
  await (await f(`${proxy.url}/2`)).text();
  assert.equal(kindOf(proxy.requests[0]), 'head');
  assert.equal(proxy.requests[0].headers['x-mte-relay'], id);
  assert.ok(wire()[0].rec.headers['x-mte-relay'].startsWith(`${id},`));
  // a forged stored id: HEAD answers 566, the client asks for a fresh one
  const forged = `${'0'.repeat(32)}.${'1'.repeat(64)}`;
  storage.set(`mte-relay:clientId:${proxy.url}`, forged);
  ({ f } = fresh({ storage }));
  assert.equal((await f(`${proxy.url}/3`)).status, 200);
  assert.deepEqual(proxy.requests.slice(0, 2).map((r) => [kindOf(r), r.headers['x-mte-relay']]), [['head', forged], ['head', undefined]]);
  assert.equal(proxy.responses[0].status, 566);
  assert.notEqual(storage.get(`mte-relay:clientId:${proxy.url}`), forged);
});

test('attacks on responses: swapped between requests, status changed, meta or body tampered, truncated', async () => {
  const { f } = fresh();
  // the sealed response to request 1, served for request 2
  let captured = null;
  proxy.onResponse = (rec, resp) => {
    if (!isProtected(rec)) return resp;
    if (!captured) { captured = resp; return resp; }
    return captured;
  };
  assert.equal(await (await f(`${proxy.url}/for/one`)).text(), 'for /for/one');
  await assert.rejects(f(`${proxy.url}/for/two`), (e) => e.code === 'RESPONSE_INVALID' && /not for this request/.test(e.message));
  // same, but the echo header rewritten to name request 3: the meta is sealed for seq 1, so it fails to open
  proxy.onResponse = (rec, resp) => (isProtected(rec) ? { ...captured, headers: { ...captured.headers, 'x-mte-relay': resp.headers['x-mte-relay'] } } : resp);
  await assert.rejects(f(`${proxy.url}/for/three`), (e) => e.code === 'RESPONSE_INVALID' && /failed authentication/.test(e.message));
  // status changed in transit
  proxy.onResponse = (rec, resp) => (isProtected(rec) ? { ...resp, status: 201 } : resp);
  await assert.rejects(f(`${proxy.url}/for/four`), (e) => e.code === 'RESPONSE_INVALID');
  // flipped bit in the meta chunk
  proxy.onResponse = (rec, resp) => {
    if (!isProtected(rec)) return resp;
    const eh = Buffer.from(resp.headers['x-mte-relay-eh'], 'base64url');
    eh[eh.length - 1] ^= 1;
    return { ...resp, headers: { ...resp.headers, 'x-mte-relay-eh': eh.toString('base64url') } };
  };
  await assert.rejects(f(`${proxy.url}/for/meta`), (e) => e.code === 'RESPONSE_INVALID');
  // flipped bit in the first body chunk
  proxy.onResponse = (rec, resp) => {
    if (!isProtected(rec)) return resp;
    const body = Buffer.from(resp.body);
    body[0] ^= 1;
    return { ...resp, body };
  };
  let r = await f(`${proxy.url}/for/five`);
  await assert.rejects(r.text(), (e) => e.code === 'TRUNCATED' || e.code === 'RESPONSE_INVALID');
  // dropped final chunk of a multi-chunk body: the stream errors, it does not end normally
  const n = 200000; // three full chunks and a final one
  proxy.onResponse = (rec, resp) => (isProtected(rec) ? { ...resp, body: resp.body.subarray(0, 3 * 65552) } : resp);
  r = await f(`${proxy.url}/bytes/${n}`);
  await assert.rejects(r.arrayBuffer(), (e) => { assert.equal(e.code, 'TRUNCATED'); return true; });
  assert.equal(proxy.responses.at(-1).body.length, n + 16 * 4, 'the relay sent all four chunks');
  // the connection cut mid-body: reported as truncation too, not as a bare TypeError
  proxy.onResponse = (rec, resp) => (isProtected(rec) ? { ...resp, cutAfter: 65552 + 100 } : resp);
  r = await f(`${proxy.url}/bytes/${n}`);
  await assert.rejects(r.arrayBuffer(), (e) => { assert.equal(e.code, 'TRUNCATED'); assert.ok(e.cause); return true; });
  // untouched, the same request works
  proxy.onResponse = null;
  assert.equal((await (await f(`${proxy.url}/bytes/${n}`)).arrayBuffer()).byteLength, n);
});

test('unsealed relay errors, unreachable relay, bad input', async () => {
  const { f } = fresh();
  await (await f(`${relay.url}/warm`)).text();
  // a clear header too large for the relay: 431 before the request is accepted, unsealed
  await assert.rejects(f(`${relay.url}/big-header`, { headers: { 'x-big': 'a'.repeat(70000) } }, { encodeHeaders: false }), (e) => {
    assert.equal(e.code, 'RELAY_REJECTED');
    assert.equal(e.status, 431);
    assert.equal(e.relayError.code, 431);
    assert.equal(typeof e.relayError.error, 'string');
    return true;
  });
  assert.equal(upstreamAt('/big-header').length, 0);
  // a port nobody listens on
  const port = await freePort();
  await assert.rejects(f(`http://127.0.0.1:${port}/x`), (e) => e.name === 'MteNetworkError' && e.code === 'RELAY_UNREACHABLE' && e instanceof Error);
  await assert.rejects(f('ftp://example.invalid/x'), (e) => e.code === 'UNSUPPORTED');
  await assert.rejects(f(`${relay.url}/x`, { mode: 'no-cors' }), (e) => e.code === 'UNSUPPORTED');
  await assert.rejects(f('http://u:p@127.0.0.1:1/x'), TypeError);
  await assert.rejects(f(`${relay.url}/x`, { method: 'GET', body: 'no' }), TypeError);
  await assert.rejects(f(`${relay.url}/x`, {}, { numberOfPairs: 0, encodeHeaders: 'yes' }), TypeError);
});

test('pairing failure is reported with the relay error (state store unreachable: 503)', async () => {
  const { f } = fresh();
  const deadRedis = await freePort();
  const lost = await startRelay(relayEnv(upstream, { REDIS_URL: `redis://127.0.0.1:${deadRedis}` }));
  try {
    await assert.rejects(f(`${lost.url}/never-paired`), (e) => {
      assert.equal(e.name, 'MtePairingError');
      assert.equal(e.code, 'PAIRING_FAILED');
      assert.equal(e.status, 503);
      assert.equal(e.relayError.code, 503);
      assert.match(e.relayError.error, /store/);
      return true;
    });
  } finally { await lost.stop(); }
  assert.equal(upstreamAt('/never-paired').length, 0);
});

test('AbortSignal: before sending, and in the middle of a streamed response', async () => {
  const { f } = fresh();
  const ac0 = new AbortController();
  ac0.abort();
  await assert.rejects(f(`${relay.url}/x`, { signal: ac0.signal }), (e) => e.name === 'AbortError');
  let release;
  gate = { promise: new Promise((r) => { release = r; }), release: () => release() };
  try {
    const ac = new AbortController();
    // straight to the relay: the proxy would buffer the response
    const r = await f(`${relay.url}/slow`, { signal: ac.signal });
    const reader = r.body.getReader();
    const first = await reader.read();
    // no Content-Length: the framed layout delivers what arrived, before the end
    assert.ok(first.value.length > 0 && first.value.length <= 65536 * 2 + 5);
    ac.abort();
    await assert.rejects((async () => { for (;;) { const { done } = await reader.read(); if (done) break; } })(), (e) => e.name === 'AbortError');
  } finally { gate.release(); gate = null; }
  // the relay serves the next request normally
  assert.equal((await f(`${relay.url}/c/after-abort`)).status, 200);
});

test('a relay that is not an mte-relay (no signed id from HEAD) fails with CLIENT_ID_FAILED', async () => {
  const { f } = fresh();
  const srv = http.createServer((req, res) => { res.writeHead(200); res.end(); });
  await new Promise((r) => srv.listen(0, '127.0.0.1', r));
  try {
    await assert.rejects(f(`http://127.0.0.1:${srv.address().port}/x`), (e) => e.name === 'MtePairingError' && e.code === 'CLIENT_ID_FAILED');
  } finally { srv.closeAllConnections(); await new Promise((r) => srv.close(r)); }
});
