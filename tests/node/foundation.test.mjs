// foundation.test.mjs - the relay binary end to end: start-up, built-in
// routes, pass-through proxy, CORS, keep-alive, worker supervision, drain.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { request } from 'node:http';
import { connect } from 'node:net';
import { randomBytes } from 'node:crypto';
import { startRelay, startUpstream, sleep, sha256, freePort, limit } from './lib/harness.mjs';

let upstream, relay;

before(async () => {
  upstream = await startUpstream((req, res, rec) => {
    if (req.url.startsWith('/api/download/')) {
      // Streams N MiB of deterministic bytes back.
      const mib = Number(req.url.split('/').pop());
      res.writeHead(200, { 'content-type': 'application/octet-stream' });
      const chunk = Buffer.alloc(1 << 20);
      for (let i = 0; i < chunk.length; i++) chunk[i] = i % 251;
      let sent = 0;
      const pump = () => {
        while (sent < mib) { sent++; if (!res.write(chunk)) return res.once('drain', pump); }
        res.end();
      };
      pump();
      return true;
    }
    if (req.url === '/api/slow') {
      setTimeout(() => { res.writeHead(200, { 'content-type': 'text/plain' }); res.end('slow done'); }, 1500);
      return true;
    }
    if (req.url === '/api/hang') return true; // never answers
    if (req.url === '/api/redirect') {
      res.writeHead(302, { location: '/api/elsewhere' });
      res.end();
      return true;
    }
    if (req.url.startsWith('/api/echo-body')) {
      res.writeHead(200, { 'content-type': rec.headers['content-type'] || 'application/octet-stream' });
      res.end(Buffer.concat(rec.body));
      return true;
    }
    return false;
  });
  relay = await startRelay({
    UPSTREAM: upstream.url,
    PASS_THROUGH_ROUTES: '/api/*',
    CORS_ORIGINS: 'http://allowed.example,https://app.example:8443',
    UPSTREAM_TIMEOUT: '2',
    HEADERS: '{"x-relay-test":"on"}',
  });
});

after(async () => {
  await relay?.stop();
  await upstream?.stop();
});

function rawRequest(port, opts, body) {
  return new Promise((resolve, reject) => {
    const headers = { ...(opts.headers || {}) };
    if (body) headers['content-length'] = String(body.length);
    // A fresh connection each time: these tests are not about keep-alive.
    const req = request({ host: '127.0.0.1', port, agent: false, ...opts, headers }, (res) => {
      const chunks = [];
      res.on('data', (d) => chunks.push(d));
      res.on('end', () => resolve({ status: res.statusCode, headers: res.headers, body: Buffer.concat(chunks) }));
      res.on('error', reject);
    });
    req.on('error', reject);
    if (body) req.end(body); else req.end();
  });
}

test('start-up logs the two lines the deployment guide promises', () => {
  const msgs = relay.lines().map((l) => l.msg);
  assert.ok(msgs.includes('MTE instantiated successfully.'));
  assert.ok(msgs.includes(`Server listening at http://0.0.0.0:${relay.port}`));
  for (const l of relay.lines()) {
    assert.ok(l.ts && l.level && l.msg, 'every log line is JSON with ts, level, msg: ' + JSON.stringify(l));
  }
});

test('echo route answers with the message and an ISO-8601 UTC time', async () => {
  const r = await fetch(`${relay.url}/api/mte-echo/test`);
  assert.equal(r.status, 200);
  assert.match(r.headers.get('content-type'), /application\/json/);
  assert.equal(r.headers.get('x-relay-test'), 'on', 'HEADERS are added to every response');
  const j = await r.json();
  assert.equal(j.echo, 'test');
  assert.match(j.time, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
  assert.ok(Math.abs(Date.parse(j.time) - Date.now()) < 60000);

  const r2 = await fetch(`${relay.url}/api/mte-echo`);
  assert.equal((await r2.json()).echo, true);
  const r3 = await fetch(`${relay.url}/api/mte-echo/h%C3%A9llo%20%22x%22`);
  assert.equal((await r3.json()).echo, 'héllo "x"');
  const r4 = await fetch(`${relay.url}/api/mte-echo/%ff`);
  assert.equal(r4.status, 400);
  assert.equal((await r4.json()).code, 400);
  const r5 = await fetch(`${relay.url}/api/mte-echo/x`, { method: 'POST', body: 'a' });
  assert.equal(r5.status, 405);
  assert.equal(upstream.received.filter((q) => q.url.includes('mte-echo')).length, 0);
});

test('HEAD /api/mte-relay mints, re-signs and rejects tampered client ids', async () => {
  const r = await fetch(`${relay.url}/api/mte-relay`, { method: 'HEAD' });
  assert.equal(r.status, 200);
  const id = r.headers.get('x-mte-relay');
  assert.match(id, /^[0-9a-f]{32}\.[0-9a-f]{64}$/);
  const again = await fetch(`${relay.url}/api/mte-relay`, { method: 'HEAD', headers: { 'x-mte-relay': id } });
  assert.equal(again.status, 200);
  assert.equal(again.headers.get('x-mte-relay'), id, 'a valid id comes back unchanged');
  const other = await fetch(`${relay.url}/api/mte-relay`, { method: 'HEAD' });
  assert.notEqual(other.headers.get('x-mte-relay').slice(0, 32), id.slice(0, 32), 'fresh ids differ');
  const last = id.at(-1) === '0' ? '1' : '0';
  const forged = id.slice(0, -1) + last;
  const bad = await fetch(`${relay.url}/api/mte-relay`, { method: 'GET', headers: { 'x-mte-relay': forged } });
  assert.equal(bad.status, 405, 'only HEAD');
  const bad2 = await rawRequest(relay.port, { method: 'HEAD', path: '/api/mte-relay', headers: { 'x-mte-relay': forged } });
  assert.equal(bad2.status, 566);
});

test('GET /api/mte-errors lists 559-570', async () => {
  const r = await fetch(`${relay.url}/api/mte-errors`);
  const j = await r.json();
  assert.deepEqual(j.map((e) => e.code), [559, 560, 561, 562, 563, 564, 565, 566, 567, 568, 569, 570]);
  assert.ok(j.every((e) => typeof e.error === 'string' && e.error.length > 0));
});

test('unrouted requests get 569 with a JSON body and never reach the upstream', async () => {
  const before = upstream.received.length;
  const r = await fetch(`${relay.url}/not-a-route`, { method: 'POST', body: 'secret' });
  assert.equal(r.status, 569);
  const j = await r.json();
  assert.equal(j.code, 569);
  assert.equal(upstream.received.length, before);
});

for (const method of ['GET', 'POST', 'PUT', 'DELETE']) {
  test(`pass-through ${method} streams a 10 MiB body both ways intact`, async () => {
    const body = method === 'GET' ? null : randomBytes(10 << 20);
    const r = await rawRequest(relay.port, { method, path: `/api/echo-body?x=1&y=${method}`,
      headers: { 'x-custom': 'v1', 'transfer_encoding': 'chunked', 'x_user': 'admin',
        ...(body ? { 'content-type': 'application/x-test' } : {}) } }, body);
    assert.equal(r.status, 200);
    const rec = upstream.received.at(-1);
    assert.equal(rec.method, method);
    assert.equal(rec.url, `/api/echo-body?x=1&y=${method}`);
    assert.equal(rec.headers['x-custom'], 'v1');
    assert.equal(rec.headers.transfer_encoding, undefined, 'names with _ are dropped (nginx does too)');
    assert.equal(rec.headers.x_user, undefined);
    assert.equal(rec.headers['x-relay-test'], 'on', 'HEADERS are forwarded upstream');
    assert.equal(rec.headers['x-forwarded-for'], '127.0.0.1');
    if (body) {
      assert.equal(rec.length, body.length);
      assert.equal(rec.sha256, sha256(body));
      assert.equal(sha256(r.body), sha256(body), 'response body intact');
      assert.equal(r.headers['content-type'], 'application/x-test');
    }
  });
}

test('pass-through chunked request body and 10 MiB chunked download', async () => {
  const body = randomBytes(3 << 20);
  const r = await new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port: relay.port, method: 'POST', path: '/api/echo-body' }, (res) => {
      const chunks = [];
      res.on('data', (d) => chunks.push(d));
      res.on('end', () => resolve({ status: res.statusCode, body: Buffer.concat(chunks) }));
    });
    req.on('error', reject);
    for (let i = 0; i < body.length; i += 100000) req.write(body.subarray(i, i + 100000));
    req.end();
  });
  assert.equal(r.status, 200);
  assert.equal(upstream.received.at(-1).sha256, sha256(body));
  const d = await rawRequest(relay.port, { method: 'GET', path: '/api/download/10' });
  assert.equal(d.status, 200);
  assert.equal(d.body.length, 10 << 20);
  const chunk = Buffer.alloc(1 << 20);
  for (let i = 0; i < chunk.length; i++) chunk[i] = i % 251;
  assert.equal(sha256(d.body), sha256(Buffer.concat(Array(10).fill(chunk))));
});

test('redirects from the upstream are passed back, not followed', async () => {
  const r = await fetch(`${relay.url}/api/redirect`, { redirect: 'manual' });
  assert.equal(r.status, 302);
  assert.equal(r.headers.get('location'), '/api/elsewhere');
  assert.ok(!upstream.received.some((q) => q.url === '/api/elsewhere'));
});

test('upstream timeout gives 504 JSON, unreachable upstream 502 JSON', async () => {
  const r = await fetch(`${relay.url}/api/hang`);
  assert.equal(r.status, 504);
  assert.equal((await r.json()).code, 504);
  const dead = await startRelay({ UPSTREAM: `http://127.0.0.1:${await freePort()}`, PASS_THROUGH_ROUTES: '/*' });
  try {
    const r2 = await fetch(`${dead.url}/x`);
    assert.equal(r2.status, 502);
    assert.equal((await r2.json()).code, 502);
    await dead.waitLog((l) => l.msg === 'upstream request failed');
  } finally {
    await dead.stop();
  }
});

test('dot segments cannot smuggle a clear request past the pass-through match', async () => {
  const before = upstream.received.length;
  const r = await rawRequest(relay.port, { method: 'GET', path: '/api/%2e%2e/admin' });
  assert.equal(r.status, 400);
  assert.equal(upstream.received.length, before);
});

test('CORS: preflight and actual responses grant listed origins only', async () => {
  const pre = await rawRequest(relay.port, { method: 'OPTIONS', path: '/api/thing', headers: {
    origin: 'https://app.example:8443', 'access-control-request-method': 'POST',
    'access-control-request-headers': 'X-Custom, content-type' } });
  assert.equal(pre.status, 204);
  assert.equal(pre.headers['access-control-allow-origin'], 'https://app.example:8443');
  assert.equal(pre.headers['access-control-allow-credentials'], 'true');
  assert.match(pre.headers['access-control-allow-methods'], /POST/);
  assert.match(pre.headers['access-control-allow-methods'], /OPTIONS/);
  const allowHeaders = pre.headers['access-control-allow-headers'];
  for (const h of ['x-mte-relay', 'x-mte-relay-eh', 'content-type', 'x-custom']) assert.match(allowHeaders, new RegExp(h));
  assert.match(pre.headers.vary, /Origin/);
  assert.equal(pre.headers['access-control-max-age'], String(limit('CORS_MAX_AGE_S')), 'browsers cache the grant for CORS_MAX_AGE_S');

  const act = await fetch(`${relay.url}/api/mte-echo/x`, { headers: { origin: 'http://allowed.example' } });
  assert.equal(act.headers.get('access-control-allow-origin'), 'http://allowed.example');
  assert.match(act.headers.get('access-control-expose-headers'), /x-mte-relay-eh/);

  const denied = await rawRequest(relay.port, { method: 'OPTIONS', path: '/api/thing', headers: {
    origin: 'http://evil.example', 'access-control-request-method': 'POST' } });
  assert.equal(denied.headers['access-control-allow-origin'], undefined);
  const denied2 = await fetch(`${relay.url}/api/mte-echo/x`, { headers: { origin: 'http://allowed.example.evil' } });
  assert.equal(denied2.headers.get('access-control-allow-origin'), null);
  assert.equal(upstream.received.filter((q) => q.method === 'OPTIONS').length, 0, 'preflights are answered by the relay');
});

test('100 keep-alive requests on one connection', async () => {
  const sock = connect(relay.port, '127.0.0.1');
  await new Promise((r) => sock.once('connect', r));
  let data = '';
  let waiter = null;
  sock.on('data', (d) => { data += d.toString('latin1'); waiter?.(); });
  const until = (want) => new Promise((resolve, reject) => {
    const t = setTimeout(() => reject(new Error('no response: ' + want)), 5000);
    const check = () => { if (data.includes(want)) { clearTimeout(t); waiter = null; resolve(); } };
    waiter = check;
    check();
  });
  for (let i = 0; i < 100; i++) {
    sock.write(`GET /api/mte-echo/n${i} HTTP/1.1\r\nHost: x\r\n\r\n`);
    await until(`"echo":"n${i}"`);
  }
  sock.end();
  assert.equal((data.match(/HTTP\/1\.1 200 OK/g) || []).length, 100);
  assert.ok(!/connection: close/i.test(data));
});

test('a worker killed with SIGKILL is logged and replaced; service continues', async () => {
  const workers = relay.workers();
  assert.equal(workers.length, 2);
  process.kill(workers[0], 'SIGKILL');
  await relay.waitLog((l) => l.msg === 'worker exited' && l.worker === workers[0] && l.signal === 9);
  await relay.waitLog((l) => l.msg === 'worker replaced');
  const t0 = Date.now();
  while (relay.workers().length < 2 && Date.now() - t0 < 5000) await sleep(20);
  const now = relay.workers();
  assert.equal(now.length, 2);
  assert.ok(!now.includes(workers[0]));
  for (let i = 0; i < 10; i++) assert.equal((await fetch(`${relay.url}/api/mte-echo/ok`)).status, 200);
});

test('SIGHUP (a terminal hang-up of the process group) stops nothing', async () => {
  const before = relay.workers();
  const exits = relay.lines().filter((l) => l.msg === 'worker exited').length;
  process.kill(relay.child.pid, 'SIGHUP');
  for (const pid of before) process.kill(pid, 'SIGHUP');
  // An echo round trip through each worker's accept loop shows they are alive.
  for (let i = 0; i < 6; i++) assert.equal((await fetch(`${relay.url}/api/mte-echo/hup`)).status, 200);
  assert.deepEqual(relay.workers().sort(), before.sort());
  assert.equal(relay.lines().filter((l) => l.msg === 'worker exited').length, exits);
  assert.equal(relay.exited, null);
});

test('SIGTERM drains an in-flight slow request, then exits 0', async () => {
  const r = await startRelay({ UPSTREAM: upstream.url, PASS_THROUGH_ROUTES: '/api/*', DRAIN_TIMEOUT: '10' });
  const inflight = rawRequest(r.port, { method: 'GET', path: '/api/slow' });
  await sleep(300);
  r.child.kill('SIGTERM');
  await r.waitLog((l) => l.msg === 'draining');
  await sleep(200);
  // Every process has let go of the listener: new connections are refused
  // at once instead of waiting out the drain in the backlog.
  const refused = await new Promise((resolve) => {
    const sock = connect(r.port, '127.0.0.1');
    sock.once('connect', () => { sock.destroy(); resolve('connected'); });
    sock.once('error', (e) => resolve(e.code));
  });
  assert.equal(refused, 'ECONNREFUSED');
  const res = await inflight;
  assert.equal(res.status, 200);
  assert.equal(res.body.toString(), 'slow done');
  const ex = await r.waitExit();
  assert.deepEqual(ex, { code: 0, signal: null });
  assert.ok(r.lines().some((l) => l.msg === 'draining'));
});

test('configuration errors exit 78 naming the variable and its flag', async () => {
  const r = await startRelay({ UPSTREAM: undefined, CORS_ORIGINS: undefined }, { expectFail: true });
  assert.equal(r.result.code, 78);
  assert.match(r.stderr, /config error: UPSTREAM is required \(flag --upstream\)/);
  assert.match(r.stderr, /CORS_ORIGINS/);
  const ok = await startRelay({ UPSTREAM: 'http://127.0.0.1:1' }, { args: ['--check-config'], expectFail: true });
  assert.equal(ok.result.code, 0);
});
