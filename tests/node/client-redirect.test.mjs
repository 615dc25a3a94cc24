// mteFetch follows redirects as fetch does (PROTOCOL.md section 10), through
// the real relay to a real upstream: 301/302/303/307/308 on GET and POST,
// a chain, a loop stopped at 20, manual and error modes, Locations on
// another origin and the upstream's own absolute URL, the pass-through
// Location rewrite; each hop checked at the upstream and on the wire.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import {
  newClient, startStack, startRelay, relayEnv, sha256, isProtected, redirectingUpstream,
} from './lib/e2e.mjs';

let stack; let upstream; let proxy; let other;

before(async () => {
  stack = await startStack({ upstream: redirectingUpstream, proxy: true, env: { PASS_THROUGH_ROUTES: '/pt/*' } });
  ({ upstream, proxy } = stack);
  // A second relay (another origin) in front of the same upstream.
  other = await startRelay(relayEnv(upstream));
});

after(async () => { await other?.stop(); await stack?.stop(); });

/** What the upstream received from index start on, as "METHOD url". */
const seenSince = (start) => upstream.received.slice(start).map((r) => `${r.method} ${r.url}`);

/** A client that records every URL it sends to. */
function recordingClient(opts = {}) {
  const urls = [];
  const c = newClient({ fetch: (url, init) => { urls.push(String(url)); return fetch(url, init); }, ...opts });
  return { ...c, urls };
}

for (const status of [301, 302, 303, 307, 308]) {
  test(`GET through ${status}: followed to the Location, redirected and url set`, async () => {
    const { f } = newClient();
    const start = upstream.received.length;
    const r = await f(`${proxy.url}/r/${status}`);
    assert.equal(r.status, 200);
    assert.equal(r.redirected, true);
    assert.equal(r.url, `${proxy.url}/api/dest`);
    const j = await r.json();
    assert.equal(j.method, 'GET');
    assert.deepEqual(seenSince(start), [`GET /r/${status}`, 'GET /api/dest']);
  });
}

for (const [status, method] of [[301, 'GET'], [302, 'GET'], [303, 'GET'], [307, 'POST'], [308, 'POST']]) {
  test(`POST through ${status}: ${method === 'GET' ? 'becomes a GET without its body' : 'keeps its method and body'}`, async () => {
    const { f } = newClient();
    const start = upstream.received.length;
    const body = `order=${status}&amount=42`;
    const r = await f(`${proxy.url}/r/${status}`, { method: 'POST', body, headers: { 'content-type': 'application/x-www-form-urlencoded' } });
    assert.equal(r.status, 200);
    assert.equal(r.redirected, true);
    const j = await r.json();
    assert.equal(j.method, method);
    assert.deepEqual(seenSince(start), [`POST /r/${status}`, `${method} /api/dest`]);
    const [first, second] = upstream.received.slice(start);
    assert.equal(first.sha256, sha256(Buffer.from(body)), 'the first hop carried the body');
    if (method === 'GET') {
      assert.equal(second.length, 0, 'no body after the method change');
      assert.equal(second.headers['content-type'], undefined, 'the body headers went with it');
    } else {
      assert.equal(second.sha256, sha256(Buffer.from(body)), 'the same body sent again');
      assert.equal(second.headers['content-type'], 'application/x-www-form-urlencoded');
    }
  });
}

test('PUT: 303 turns it into a GET, 301 and 302 keep it (only POST changes there)', async () => {
  const { f } = newClient();
  for (const [status, method] of [[303, 'GET'], [301, 'PUT'], [302, 'PUT']]) {
    const start = upstream.received.length;
    const r = await f(`${proxy.url}/r/${status}`, { method: 'PUT', body: 'x' });
    assert.equal((await r.json()).method, method, String(status));
    assert.deepEqual(seenSince(start), [`PUT /r/${status}`, `${method} /api/dest`]);
  }
});

test('a chain of 3 redirects is followed hop by hop, each hop sealed on the wire', async () => {
  const { f } = newClient();
  const start = upstream.received.length;
  const wireStart = proxy.requests.length;
  const r = await f(`${proxy.url}/chain/3`, { headers: { 'x-secret-header': 's3cret' } });
  assert.equal(r.status, 200);
  assert.equal(r.redirected, true);
  assert.equal(r.url, `${proxy.url}/chain/0`);
  assert.deepEqual(seenSince(start), ['GET /chain/3', 'GET /chain/2', 'GET /chain/1', 'GET /chain/0']);
  for (const rec of upstream.received.slice(start)) assert.equal(rec.headers['x-secret-header'], 's3cret', 'headers go with every hop');
  const wire = proxy.requests.slice(wireStart).filter(isProtected);
  assert.equal(wire.length, 4, 'one protected request per hop');
  const seqs = new Set(wire.map((w) => w.headers['x-mte-relay'].split(',')[2]));
  assert.equal(seqs.size, 4, 'each hop has a seq of its own');
  for (const w of wire) {
    assert.equal(w.url, '/', 'the path is sealed');
    assert.equal(w.headers['x-secret-header'], undefined, 'the header is sealed');
  }
  const answers = proxy.responses.slice(-4);
  for (const a of answers) assert.equal(a.headers.location, undefined, 'no Location in the clear');
});

test('a redirect loop stops after 20 redirects with a TypeError, as fetch', async () => {
  const { f } = newClient();
  const start = upstream.received.length;
  await assert.rejects(f(`${proxy.url}/loop`), (e) => e instanceof TypeError && /too many redirects/.test(e.message));
  assert.equal(seenSince(start).length, 21, 'the first request and 20 redirects followed');
});

test("redirect: 'manual' returns the 3xx with its Location readable", async () => {
  const { f } = newClient();
  const start = upstream.received.length;
  const r = await f(`${proxy.url}/r/302`, { redirect: 'manual' });
  assert.equal(r.status, 302);
  assert.equal(r.redirected, false);
  assert.equal(r.headers.get('location'), '/api/dest');
  assert.equal(await r.text(), 'moved');
  assert.deepEqual(seenSince(start), ['GET /r/302']);
});

test("redirect: 'error' rejects with a TypeError and sends nothing more", async () => {
  const { f } = newClient();
  const start = upstream.received.length;
  await assert.rejects(f(`${proxy.url}/r/307`, { method: 'POST', body: 'x', redirect: 'error' }), TypeError);
  await assert.rejects(f(`${proxy.url}/r/307`, { redirect: 'bogus' }), TypeError);
  assert.deepEqual(seenSince(start), ['POST /r/307']);
});

test("a Request's redirect mode counts like init's", async () => {
  const { f } = newClient();
  const r = await f(new Request(`${proxy.url}/r/301`, { redirect: 'manual' }));
  assert.equal(r.status, 301);
  assert.equal(r.headers.get('location'), '/api/dest');
});

test('a Location with the upstream\'s own absolute URL is mapped to the relay and followed', async () => {
  const { f } = newClient();
  const start = upstream.received.length;
  const m = await f(`${proxy.url}/abs`, { redirect: 'manual' });
  assert.equal(m.headers.get('location'), '/api/dest?from=abs', 'the relay maps it to its own path');
  await m.arrayBuffer();
  const r = await f(`${proxy.url}/abs`);
  assert.equal(r.status, 200);
  assert.equal(r.url, `${proxy.url}/api/dest?from=abs`);
  assert.deepEqual(seenSince(start), ['GET /abs', 'GET /abs', 'GET /api/dest?from=abs']);
});

test('a Location on another origin is not followed by default: REDIRECT_OTHER_ORIGIN, nothing sent there', async () => {
  const { f, urls } = recordingClient();
  const start = upstream.received.length;
  const to = `${other.url}/api/dest`;
  const path = `/r/307?to=${encodeURIComponent(to)}`;
  await assert.rejects(f(`${proxy.url}${path}`, { method: 'POST', body: 'pay 100' }),
    (e) => e.code === 'REDIRECT_OTHER_ORIGIN' && e.location === to && e.status === 307);
  assert.equal(urls.filter((u) => u.startsWith(other.url)).length, 0, 'no request to the other origin');
  assert.deepEqual(seenSince(start), [`POST ${path}`]);
});

test("crossOriginRedirect 'manual' returns the 3xx; 'follow' pairs with the other relay and drops Authorization", async () => {
  const to = `${other.url}/api/dest`;
  const { f: fm } = newClient();
  const m = await fm(`${proxy.url}/r/302?to=${encodeURIComponent(to)}`, {}, { crossOriginRedirect: 'manual' });
  assert.equal(m.status, 302);
  assert.equal(m.headers.get('location'), to);
  await m.arrayBuffer();

  const { f, urls } = recordingClient();
  const start = upstream.received.length;
  const r = await f(`${proxy.url}/r/308?to=${encodeURIComponent(to)}`,
    { method: 'POST', body: 'b', headers: { authorization: 'Bearer t', 'x-keep': '1' } }, { crossOriginRedirect: 'follow' });
  assert.equal(r.status, 200);
  assert.equal(r.url, to);
  assert.ok(urls.some((u) => u.startsWith(`${other.url}/api/mte-pair`)), 'paired with the other relay');
  assert.ok(urls.filter((u) => u.startsWith(other.url)).every((u) => !u.includes('/api/dest')), 'its path sealed there too');
  const [first, second] = upstream.received.slice(start);
  assert.equal(first.headers.authorization, 'Bearer t');
  assert.equal(second.headers.authorization, undefined, 'credentials stay with their origin');
  assert.equal(second.headers['x-keep'], '1');
  assert.equal(second.method, 'POST');
  await assert.rejects(f('http://x/', {}, { crossOriginRedirect: 'sometimes' }), TypeError);
});

test('a ReadableStream body cannot be sent again: 307 fails as fetch fails, 303 drops it and goes on', async () => {
  const { f } = newClient();
  const stream = () => new ReadableStream({ start(c) { c.enqueue(new TextEncoder().encode('once')); c.close(); } });
  const start = upstream.received.length;
  await assert.rejects(f(`${proxy.url}/r/307`, { method: 'POST', body: stream(), duplex: 'half' }), TypeError);
  assert.deepEqual(seenSince(start), ['POST /r/307']);
  const r = await f(`${proxy.url}/r/303`, { method: 'POST', body: stream(), duplex: 'half' });
  assert.equal((await r.json()).method, 'GET');
});

test('pass-through: a Location naming the upstream itself names the relay', async () => {
  const res = await new Promise((resolve, reject) => {
    http.get(`${stack.relay.url}/pt/abs`, (r) => { r.resume(); r.on('end', () => resolve(r)); }).on('error', reject);
  });
  assert.equal(res.statusCode, 302);
  assert.equal(res.headers.location, '/api/dest?from=abs');
  const rel = await new Promise((resolve, reject) => {
    http.get(`${stack.relay.url}/pt/301?to=${encodeURIComponent('http://elsewhere.invalid/x')}`, (r) => { r.resume(); r.on('end', () => resolve(r)); }).on('error', reject);
  });
  assert.equal(rel.headers.location, 'http://elsewhere.invalid/x', 'another origin is left as it is');
});

test('a Location added on the way is refused as tampering, never retried: the upstream runs the POST once', async () => {
  const { f } = newClient();
  await (await f(`${proxy.url}/api/warm`)).arrayBuffer();   // paired before the trap is set
  const start = upstream.received.length;
  let forged = 0;
  proxy.onResponse = (rec) => {
    if (!isProtected(rec) || forged++ > 0) return undefined;
    return { status: 307, headers: { location: `${proxy.url}/`, 'content-type': 'text/plain' }, body: Buffer.from('moved') };
  };
  try {
    await assert.rejects(f(`${proxy.url}/api/pay`, { method: 'POST', body: 'amount=100' }),
      (e) => e.code === 'RESPONSE_INVALID' && /redirected on the way/.test(e.message));
  } finally {
    proxy.onResponse = null;
  }
  assert.equal(forged, 2, 'the platform followed the forged Location once');
  assert.deepEqual(seenSince(start), ['POST /api/pay'], 'the upstream saw the POST exactly once');
});
