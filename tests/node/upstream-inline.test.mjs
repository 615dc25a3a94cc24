// A request body of known length up to UPSTREAM_INLINE_BODY_MAX (16384) is
// read whole before the upstream is contacted and handed to libcurl in one
// piece; one byte more streams as before.  Both must reach the upstream as the
// client sent them, on one reused worker (the curl handle switches between
// the two ways and back to bodiless methods), and a small body the client
// never finishes must not reach the upstream at all.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import net from 'node:net';
import { startRelay, startUpstream, sha256, sleep } from './lib/harness.mjs';

const INLINE_MAX = 16384;

function request(port, agent, method, path, body, headers = {}) {
  return new Promise((resolve, reject) => {
    const h = { ...headers };
    if (body) h['content-length'] = String(body.length);
    const req = http.request({ host: '127.0.0.1', port, method, path, agent, headers: h }, (res) => {
      const parts = [];
      res.on('data', (d) => parts.push(d));
      res.on('end', () => resolve({ status: res.statusCode, body: Buffer.concat(parts), port: req.socket?.localPort }));
    });
    req.on('error', reject);
    if (body) req.write(body);
    req.end();
  });
}

// Sockets the agent holds free (kept alive, ready for the next request).
const freeSockets = (agent) => Object.values(agent.freeSockets).reduce((n, l) => n + l.length, 0);

test('bodies at the inline limit and one byte over reach the upstream intact, methods and content types unchanged', async () => {
  const upstream = await startUpstream();
  const relay = await startRelay({ UPSTREAM: upstream.url, PASS_THROUGH_ROUTES: '/api/*' });
  const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
  const ports = [];
  try {
    const cases = [
      ['POST', INLINE_MAX, {}],
      ['POST', INLINE_MAX + 1, {}],
      ['GET', 0, {}],
      ['PUT', 1, { 'content-type': 'text/plain' }],
      ['PATCH', INLINE_MAX, { 'content-type': 'application/json' }],
      ['DELETE', 0, {}],
      ['DELETE', 10, {}],
      ['POST', INLINE_MAX + 1, { 'content-type': 'application/octet-stream' }],
      ['GET', 0, {}],
      // last: Node's agent does not keep a socket after a HEAD once it is
      // idle (the relay does: a raw client sees the connection served on)
      ['HEAD', 0, {}],
    ];
    for (const [i, [method, size, headers]] of cases.entries()) {
      const body = size ? Buffer.alloc(size, 0x61 + (i % 26)) : null;
      const r = await request(relay.port, agent, method, `/api/c${i}`, body, headers);
      assert.equal(r.status, 200, `${method} ${size}`);
      ports.push(r.port);
      // The agent frees the socket after the response has ended: wait for
      // it, or the next request may get a new one.  A socket the relay
      // closed never comes back, so that still shows as a second connection.
      for (let k = 0; i < cases.length - 1 && k < 200 && freeSockets(agent) === 0; k++) await sleep(5);
      const rec = upstream.received.at(-1);
      assert.equal(rec.url, `/api/c${i}`);
      assert.equal(rec.method, method, `case ${i}`);
      assert.equal(rec.length, size, `case ${i}: length`);
      assert.equal(rec.complete, true);
      if (body) assert.equal(rec.sha256, sha256(body), `case ${i}: body`);
      // curl adds no type of its own to a body it is handed whole.
      assert.equal(rec.headers['content-type'], headers['content-type'], `case ${i}: content-type`);
      assert.equal(rec.headers['content-length'], size ? String(size) : undefined, `case ${i}: content-length`);
      assert.equal(rec.headers['transfer-encoding'], undefined);
      assert.equal(rec.headers.expect, undefined);
    }
    assert.equal(upstream.received.length, cases.length);
    // One kept-alive connection, so one worker and one curl handle served them all.
    const isCase = (l) => typeof l.path === 'string' && l.path.startsWith('/api/c');
    for (let i = 0; i < 100 && relay.lines().filter(isCase).length < cases.length; i++) await sleep(20);
    const served = relay.lines().filter(isCase);
    assert.equal(served.length, cases.length);
    assert.ok(served.every((l) => Number.isInteger(l.pid)));
    assert.deepEqual(new Set(ports).size, 1, `client sockets per case: ${ports}`);
    assert.equal(new Set(served.map((l) => l.pid)).size, 1);
  } finally {
    agent.destroy();
    await relay.stop();
    await upstream.stop();
  }
});

test('a small body the client never finishes never reaches the upstream', async () => {
  const upstream = await startUpstream();
  const relay = await startRelay({ UPSTREAM: upstream.url, PASS_THROUGH_ROUTES: '/api/*', HEADER_TIMEOUT: '2',
    IDLE_TIMEOUT: '2' });
  try {
    for (const announced of [100, INLINE_MAX]) {
      const sock = net.connect(relay.port, '127.0.0.1');
      await new Promise((r) => sock.once('connect', r));
      sock.write(`POST /api/cut HTTP/1.1\r\nHost: x\r\nContent-Length: ${announced}\r\n\r\n`);
      sock.write(Buffer.alloc(announced - 1, 0x62));
      await sleep(200);
      sock.destroy();
    }
    // The relay has seen both connections go; a request after them is answered.
    const r = await request(relay.port, undefined, 'POST', '/api/after', Buffer.from('ok'));
    assert.equal(r.status, 200);
    assert.deepEqual(upstream.received.map((x) => x.url), ['/api/after']);
  } finally {
    await relay.stop();
    await upstream.stop();
  }
});

// One byte over the limit, the body streams: the upstream is contacted
// before the body ends, so the same unfinished body reaches it, cut.
test('an unfinished body one byte over the inline limit streams: the upstream sees it begin, never complete', async () => {
  const upstream = await startUpstream();
  const relay = await startRelay({ UPSTREAM: upstream.url, PASS_THROUGH_ROUTES: '/api/*', HEADER_TIMEOUT: '2',
    IDLE_TIMEOUT: '2' });
  try {
    const sock = net.connect(relay.port, '127.0.0.1');
    await new Promise((r) => sock.once('connect', r));
    sock.write(`POST /api/streamed HTTP/1.1\r\nHost: x\r\nContent-Length: ${INLINE_MAX + 1}\r\n\r\n`);
    sock.write(Buffer.alloc(INLINE_MAX, 0x62));
    for (let i = 0; i < 250 && upstream.received.length === 0; i++) await sleep(20);
    sock.destroy();
    assert.equal(upstream.received.length, 1, 'the upstream was contacted while the body was unfinished');
    const rec = upstream.received[0];
    assert.equal(rec.url, '/api/streamed');
    assert.equal(rec.headers['content-length'], String(INLINE_MAX + 1));
    for (let i = 0; i < 250 && !rec.aborted; i++) await sleep(20);
    assert.equal(rec.complete, false);
    assert.equal(rec.aborted, true);
    assert.ok(rec.length <= INLINE_MAX, `${rec.length} bytes reached it`);
  } finally {
    await relay.stop();
    await upstream.stop();
  }
});

// curl sends a request again when its kept-alive upstream connection dies
// before any byte of the answer; the upstream may have run it, so only an
// idempotent method goes again.
test('a kept-alive upstream connection that dies unanswered: a POST is not sent twice (502), a GET is sent again', async () => {
  let killNext = false;
  const seen = [];
  const server = http.createServer((req, res) => {
    req.resume();
    req.on('end', () => {
      seen.push(`${req.method} ${req.url}`);
      if (killNext && req.socket.servedBefore) { killNext = false; req.socket.destroy(); return; }
      req.socket.servedBefore = true;
      res.writeHead(200, { 'content-type': 'text/plain' });
      res.end('ok');
    });
  });
  server.keepAliveTimeout = 60000;
  await new Promise((r) => server.listen(0, '127.0.0.1', r));
  const relay = await startRelay({ UPSTREAM: `http://127.0.0.1:${server.address().port}`, PASS_THROUGH_ROUTES: '/api/*',
    METRICS: 'true' });
  const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
  try {
    assert.equal((await request(relay.port, agent, 'GET', '/api/warm1')).status, 200);
    killNext = true;
    const post = await request(relay.port, agent, 'POST', '/api/once', Buffer.from('pay=1'));
    assert.equal(post.status, 502);
    assert.equal(seen.filter((s) => s === 'POST /api/once').length, 1, JSON.stringify(seen));
    assert.equal((await request(relay.port, agent, 'GET', '/api/warm2')).status, 200);
    killNext = true;
    const get = await request(relay.port, agent, 'GET', '/api/again');
    assert.equal(get.status, 200);
    assert.equal(seen.filter((s) => s === 'GET /api/again').length, 2, JSON.stringify(seen));
    const m = (await request(relay.port, undefined, 'GET', '/metrics')).body.toString();
    assert.match(m, /^mte_relay_upstream_resends_total\{outcome="refused"\} 1$/m);
    assert.match(m, /^mte_relay_upstream_resends_total\{outcome="sent"\} 1$/m);
  } finally {
    agent.destroy();
    await relay.stop();
    server.closeAllConnections();
    await new Promise((r) => server.close(r));
  }
});

// libcurl's proxy variables still apply to upstream requests (the relay reads
// them once at start and, without any, tells curl there is none).  A forward
// proxy that answers itself shows whether a request went through it.
test('http_proxy in the environment routes upstream requests through that proxy; without it they go direct', async () => {
  const upstream = await startUpstream();
  const seen = [];
  const proxy = http.createServer((req, res) => {
    seen.push(req.url);
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end('{"via":"proxy"}');
  });
  await new Promise((r) => proxy.listen(0, '127.0.0.1', r));
  const proxyUrl = `http://127.0.0.1:${proxy.address().port}`;
  const viaProxy = await startRelay({ UPSTREAM: upstream.url, PASS_THROUGH_ROUTES: '/api/*', http_proxy: proxyUrl });
  const direct = await startRelay({ UPSTREAM: upstream.url, PASS_THROUGH_ROUTES: '/api/*' });
  const excluded = await startRelay({ UPSTREAM: upstream.url, PASS_THROUGH_ROUTES: '/api/*', http_proxy: proxyUrl,
    no_proxy: '127.0.0.1' });
  const agent = new http.Agent({ keepAlive: false });
  try {
    for (let i = 0; i < 2; i++) {   // the second on the kept curl handle
      const r = await request(viaProxy.port, agent, 'GET', `/api/p${i}`, null);
      assert.equal(r.status, 200);
      assert.equal(r.body.toString(), '{"via":"proxy"}');
    }
    assert.deepEqual(seen, [`${upstream.url}/api/p0`, `${upstream.url}/api/p1`], 'absolute-form targets to the proxy');
    const before = upstream.received.length;
    for (const relay of [direct, excluded]) {
      const r = await request(relay.port, agent, 'GET', '/api/d', null);
      assert.equal(r.status, 200);
      assert.notEqual(r.body.toString(), '{"via":"proxy"}');
    }
    assert.equal(seen.length, 2, 'no more requests through the proxy');
    assert.equal(upstream.received.length, before + 2, 'both reached the upstream directly');
  } finally {
    agent.destroy();
    await Promise.all([viaProxy.stop(), direct.stop(), excluded.stop()]);
    proxy.close();
    await upstream.stop();
  }
});
