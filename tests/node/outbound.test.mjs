// The outbound mode (PROTOCOL.md section 14): relay A (outbound listener)
// -> relay B (inbound) -> upstream, all real processes (and a real
// redis-server or a Redis Cluster for the shared state), and a tamper proxy between A
// and B.
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import { readFileSync } from 'node:fs';
import { createHash } from 'node:crypto';
import { startRelay, startRedis, freePort, sleep, sha256, limit } from './lib/harness.mjs';
import { startAppUpstream, startProxy, peakRssKiB, newClient } from './lib/e2e.mjs';
import { startCluster } from './lib/cluster.mjs';

const TOKEN = 'outbound-token-0123456789abcdef';
const SECRET_B = 'partner-b-secret-0123456789abcdef0123';

// An outbound-only relay A: no UPSTREAM, CORS_ORIGINS or CLIENT_ID_SECRET.
async function startA(partner, env = {}) {
  const oport = await freePort();
  const a = await startRelay({ UPSTREAM: undefined, CORS_ORIGINS: undefined, CLIENT_ID_SECRET: undefined,
    OUTBOUND_PORT: String(oport), OUTBOUND_RELAY: partner, ...env });
  a.out = `http://127.0.0.1:${oport}`;
  a.oport = oport;
  return a;
}

function startB(upstream, env = {}) {
  return startRelay({ UPSTREAM: upstream.url, CLIENT_ID_SECRET: SECRET_B, ...env });
}

// One plain HTTP/1.1 request to the outbound listener.  body: Buffer, or
// { size } for a streamed body of that many pattern bytes.  Resolves with
// status, headers, body (or its sha256 and length with hashOnly) and
// error when the response was cut.
function call(base, path, { method = 'GET', headers = {}, body, hashOnly = false, agent = false } = {}) {
  const u = new URL(base);
  return new Promise((resolve, reject) => {
    const h = { ...headers };
    if (Buffer.isBuffer(body)) h['content-length'] = String(body.length);
    else if (body && body.size !== undefined) h['content-length'] = String(body.size);
    const req = http.request({ host: u.hostname, port: u.port, method, path, headers: h, agent }, (res) => {
      const parts = [];
      const hash = createHash('sha256');
      let length = 0;
      res.on('data', (d) => { length += d.length; if (hashOnly) hash.update(d); else parts.push(d); });
      res.on('end', () => resolve({ status: res.statusCode, headers: res.headers, length,
        body: hashOnly ? null : Buffer.concat(parts), sha256: hashOnly ? hash.digest('hex') : null,
        complete: res.complete }));
      res.on('error', (e) => resolve({ status: res.statusCode, headers: res.headers, error: e, length }));
      res.on('aborted', () => {});
    });
    req.on('error', reject);
    if (Buffer.isBuffer(body)) req.end(body);
    else if (body && body.size !== undefined) {
      const block = Buffer.alloc(1 << 20, 0x5a);
      let left = body.size;
      const pump = () => {
        while (left > 0) {
          const n = Math.min(left, block.length);
          left -= n;
          if (!req.write(n === block.length ? block : block.subarray(0, n))) return req.once('drain', pump);
        }
        req.end();
      };
      pump();
    } else req.end();
  });
}

const json = (r) => JSON.parse(r.body.toString('utf8'));
const hits = (up, id) => up.received.filter((r) => r.headers['x-req-id'] === id);

// A's workers' peak RSS (KiB), the largest.
const workersPeak = (relay) => Math.max(...relay.workers().map(peakRssKiB));

// cluster: A and B share one Redis Cluster (3 primaries, as one ElastiCache
// serving both relays would), each under its own SERVER_ID.
for (const store of ['embedded', 'redis', 'cluster']) {
  describe(`A -> B -> upstream, A's store ${store}`, () => {
    let up, B, A, redis;
    before(async () => {
      up = await startAppUpstream();
      const envB = { MAX_POOL_SIZE: '3' };
      const env = { MAX_POOL_SIZE: '4', MIN_SPARE_WORKERS: '4' };
      if (store === 'redis') {
        redis = await startRedis();
        env.REDIS_URL = redis.url;
        env.SERVER_ID = 'ob-test';
      } else if (store === 'cluster') {
        redis = await startCluster({ replicas: 0 });
        env.REDIS_URL = envB.REDIS_URL = redis.url;
        env.SERVER_ID = 'ob-test-a';
        envB.SERVER_ID = 'ob-test-b';
      }
      B = await startB(up, envB);
      A = await startA(B.url, env);
    });
    after(async () => {
      await A?.stop(); await B?.stop(); await up?.stop(); await redis?.stop?.();
    });

    test('methods, query strings and headers reach the upstream; the answer comes back', async () => {
      for (const method of ['GET', 'POST', 'PUT', 'DELETE', 'PATCH']) {
        const body = method === 'GET' || method === 'DELETE' ? undefined : Buffer.from(`body of ${method}`);
        const r = await call(A.out, `/api/x/${method}?y=1&z=%20two`, { method, body,
          headers: { 'x-app': 'v1', 'x-req-id': `m-${method}`, 'content-type': 'text/plain',
            connection: 'keep-alive, x-hop', 'x-hop': 'gone', 'x-mte-relay': 'forged' } });
        assert.equal(r.status, 200, r.body?.toString());
        assert.equal(r.headers['x-upstream'], 'yes', 'a sealed answer header of the upstream');
        const got = json(r);
        assert.equal(got.method, method);
        assert.equal(got.url, `/api/x/${method}?y=1&z=%20two`, 'path and query unchanged');
        assert.equal(got.headers['x-app'], 'v1');
        assert.equal(got.headers['x-hop'], undefined, 'a field Connection names is hop-by-hop');
        assert.notEqual(got.headers['x-mte-relay'], 'forged');
        if (body) {
          assert.equal(got.length, body.length);
          assert.equal(got.sha256, sha256(body));
        }
        assert.equal(hits(up, `m-${method}`).length, 1);
      }
    });

    test('the C client (A) and the JS client interoperate with the same relay B at once', async () => {
      const { f } = newClient();
      const [js, c] = await Promise.all([
        f(`${B.url}/api/both?from=js`, { method: 'POST', body: 'js', headers: { 'x-req-id': `js-${store}` } }),
        call(A.out, '/api/both?from=c', { method: 'POST', body: Buffer.from('c'), headers: { 'x-req-id': `c-${store}` } }),
      ]);
      assert.equal(js.status, 200);
      assert.equal((await js.json()).url, '/api/both?from=js');
      assert.equal(c.status, 200);
      assert.equal(json(c).url, '/api/both?from=c');
      assert.equal(hits(up, `js-${store}`).length, 1);
      assert.equal(hits(up, `c-${store}`).length, 1);
    });

    test('200 concurrent requests over several workers: each reaches the upstream once, no seq replayed', async () => {
      const before570 = B.lines().filter((l) => l.status === 570).length;
      const ids = Array.from({ length: 200 }, (_, i) => `c-${store}-${i}`);
      const agent = new http.Agent({ keepAlive: true, maxSockets: 32 });
      const res = await Promise.all(ids.map((id, i) => call(A.out, `/api/c/${i}`, {
        method: i % 2 ? 'POST' : 'GET', body: i % 2 ? Buffer.from(id) : undefined,
        headers: { 'x-req-id': id }, agent })));
      agent.destroy();
      assert.deepEqual(res.map((r) => r.status), ids.map(() => 200));
      for (const id of ids) assert.equal(hits(up, id).length, 1, id);
      assert.equal(B.lines().filter((l) => l.status === 570).length, before570, 'B never answered a replay');
      const pids = new Set(A.lines().filter((l) => l.msg === 'request' && l.route === 'outbound' &&
        l.path.startsWith('/api/c/')).map((l) => l.pid));
      assert.ok(pids.size >= 2, `served by ${pids.size} workers`);
      // at most OUTBOUND_PAIRS (4) pairs, shared by all workers
      assert.ok(A.lines().filter((l) => l.msg === 'outbound pair made').length <= 8);
    });

    if (store === 'cluster') {
      test("A's partner slots and B's pairs are in the one cluster, each under its own SERVER_ID", async () => {
        const keys = [];
        for (const n of redis.nodes) {
          keys.push(...(await redis.cli(n.port, 'KEYS', 'mte:*')).split('\n').filter(Boolean));
        }
        const slotsA = keys.filter((k) => /^mte:\{ob-test-a:s:[^}]+\}:\d+$/.test(k));
        const pairsB = keys.filter((k) => /^mte:\{ob-test-b:[^}]+\}:(p:.+|pairs)$/.test(k));
        assert.ok(slotsA.length >= 2, `A's slots (its id and at least one pair): ${slotsA}`);
        assert.ok(pairsB.length >= 2, `B's pair keys: ${pairsB}`);
        const other = keys.filter((k) => !/^mte:\{ob-test-[ab][:}]/.test(k));
        assert.deepEqual(other, [], 'no key outside the two SERVER_IDs');
        // one partner's slots share a hash tag, hence one primary
        const homes = new Set();
        for (const k of slotsA) homes.add(await redis.primaryOf(k));
        assert.equal(homes.size, 1, `A's slots on primaries ${[...homes]}`);
      });
    }

    test('100 MiB both ways in constant memory', async (t) => {
      const size = 100 << 20;
      const upR = await call(A.out, '/api/upload', { method: 'POST', body: { size }, headers: { 'x-req-id': `u-${store}` } });
      assert.equal(upR.status, 200);
      const got = json(upR);
      assert.equal(got.length, size);
      const want = createHash('sha256');
      const block = Buffer.alloc(1 << 20, 0x5a);
      for (let i = 0; i < 100; i++) want.update(block);
      assert.equal(got.sha256, want.digest('hex'));
      const down = await call(A.out, `/api/download/${size}`, { hashOnly: true });
      assert.equal(down.status, 200);
      assert.equal(down.length, size);
      assert.equal(Number(down.headers['content-length']), size, 'the plaintext length, computed from the wire');
      const peak = workersPeak(A);
      // 6.7 MiB measured (16 MiB under ASan): far below one body, whatever its size
      t.diagnostic(`A's worker peak RSS (VmHWM) after 100 MiB each way: ${peak} KiB`);
      assert.ok(peak < 32 * 1024, `A's worker peak RSS ${peak} KiB`);
    });
  });
}

describe('failures between A and B', () => {
  let up, B, A;
  before(async () => {
    up = await startAppUpstream();
    B = await startB(up);
    A = await startA(B.url, { OUTBOUND_TOKEN: TOKEN });
  });
  after(async () => { await A?.stop(); await B?.stop(); await up?.stop(); });
  const auth = { authorization: `Bearer ${TOKEN}` };

  test('a caller without the token, or with another, gets 403 and a log line without the token', async () => {
    let r = await call(A.out, '/api/t', { headers: { 'x-req-id': 't1' } });
    assert.equal(r.status, 403);
    assert.deepEqual(json(r), { error: 'outbound token required', code: 403 });
    r = await call(A.out, '/api/t', { headers: { authorization: 'Bearer wrong-token-0123456789abcdef', 'x-req-id': 't2' } });
    assert.equal(r.status, 403);
    assert.equal(hits(up, 't1').length + hits(up, 't2').length, 0);
    r = await call(A.out, '/api/t', { headers: { ...auth, 'x-req-id': 't3' } });
    assert.equal(r.status, 200);
    const h = hits(up, 't3');
    assert.equal(h.length, 1);
    assert.equal(h[0].headers.authorization, undefined, 'our bearer is not forwarded');
    assert.ok(A.lines().some((l) => l.msg === 'outbound refused' && l.status === 403));
    assert.ok(!A.logs.join('\n').includes(TOKEN) && !A.logs.join('\n').includes('wrong-token'));
  });

  test('METHOD_MAX: a method of the limit is sealed to B; one byte more is 501 and reaches neither B nor the upstream', async () => {
    const max = limit('METHOD_MAX');
    const atLimit = 'M'.repeat(max);
    const seenByB = (m) => B.lines().filter((l) => l.msg === 'request' && l.method === m).length;
    // B opens it and forwards it; the upstream (Node's HTTP server) refuses
    // an unknown method, which is not A's business: only B's log line counts.
    const r = await call(A.out, '/api/method', { method: atLimit, headers: auth });
    assert.notEqual(r.status, 501, r.body?.toString());
    await B.waitLog((l) => l.msg === 'request' && l.method === atLimit);
    assert.equal(seenByB(atLimit), 1);
    const over = await call(A.out, '/api/method', { method: `${atLimit}M`, headers: { ...auth, 'x-req-id': 'long-method' } });
    assert.equal(over.status, 501);
    assert.deepEqual(json(over), { error: 'request method too long to forward', code: 501 });
    // a request after it, seen by B: B's log has caught up past the refused one
    const after = await call(A.out, '/api/method-after', { method: 'PROPFIND', headers: auth });
    assert.equal(after.status, 200);
    await B.waitLog((l) => l.msg === 'request' && l.method === 'PROPFIND');
    assert.equal(seenByB(`${atLimit}M`), 0);
    assert.equal(hits(up, 'long-method').length, 0);
  });

  test('the listener is bound to loopback by default', () => {
    const port = A.oport.toString(16).toUpperCase().padStart(4, '0');
    const rows = readFileSync('/proc/net/tcp', 'utf8').split('\n').filter((l) => l.includes(`:${port} `) && / 0A /.test(l));
    assert.ok(rows.length >= 1, 'listening');
    for (const row of rows) assert.equal(row.trim().split(/\s+/)[1], `0100007F:${port}`);
    const rows6 = readFileSync('/proc/net/tcp6', 'utf8').split('\n').filter((l) => l.includes(`:${port} `) && / 0A /.test(l));
    assert.equal(rows6.length, 0, 'not on any IPv6 address');
  });

  test('B restarted mid-run (its pairs gone): A pairs again, every request answered once', async () => {
    const ids = [];
    for (let i = 0; i < 6; i++) {
      const id = `r1-${i}`; ids.push(id);
      const r = await call(A.out, `/api/r/${i}`, { method: i % 2 ? 'POST' : 'GET', body: i % 2 ? Buffer.from(id) : undefined, headers: { ...auth, 'x-req-id': id } });
      assert.equal(r.status, 200);
    }
    // requests keep coming while B restarts: each is answered once; one
    // that met B down gets 502 and never reached the upstream
    let stop = false;
    const during = [];
    const loop = (async () => {
      for (let i = 0; !stop; i++) {
        const id = `rd-${i}`;
        const r = await call(A.out, `/api/rd/${i}`, { method: i % 2 ? 'POST' : 'GET', body: i % 2 ? Buffer.from(id) : undefined, headers: { ...auth, 'x-req-id': id } });
        during.push({ id, status: r.status });
      }
    })();
    await sleep(100);
    await B.stop();
    B = await startB(up, { PORT: String(B.port) });
    await sleep(200);
    stop = true;
    await loop;
    assert.ok(during.length >= 2);
    for (const d of during) {
      assert.ok(d.status === 200 || d.status === 502 || d.status === 504, `${d.id}: ${d.status}`);
      assert.equal(hits(up, d.id).length, d.status === 200 ? 1 : hits(up, d.id).length, d.id);
      assert.ok(hits(up, d.id).length <= 1, `${d.id} reached the upstream twice`);
      if (d.status !== 200) assert.equal(hits(up, d.id).length, 0, `${d.id} failed but ran`);
    }
    for (let i = 0; i < 12; i++) {
      const id = `r2-${i}`; ids.push(id);
      const r = await call(A.out, `/api/r2/${i}`, { method: i % 2 ? 'POST' : 'GET', body: i % 2 ? Buffer.from(id) : undefined, headers: { ...auth, 'x-req-id': id } });
      assert.equal(r.status, 200, r.body.toString());
    }
    for (const id of ids) assert.equal(hits(up, id).length, 1, id);
    assert.ok(A.lines().some((l) => l.msg === 'outbound retry' && l.relay_status === 560), 'an authenticated 560 was retried');
  });

  test("B's CLIENT_ID_SECRET rotated: A takes a new client id; a POST is not sent twice", async () => {
    for (let i = 0; i < 24; i++)    // pairs most of the slots under the old id
      assert.equal((await call(A.out, `/api/rot/warm/${i}`, { headers: auth })).status, 200);
    const ids0 = A.lines().filter((l) => l.msg === 'outbound client id taken').length;
    await B.stop();
    B = await startB(up, { PORT: String(B.port), CLIENT_ID_SECRET: 'rotated-secret-0123456789abcdef012345' });
    // A POST on the old id: 566 tagged under a secret A's answer key is not
    // from, so unauthenticated: not sent again, and the upstream never saw it.
    let r = await call(A.out, '/api/rot/post', { method: 'POST', body: Buffer.from('x'), headers: { ...auth, 'x-req-id': 'rot-post' } });
    // On a slot paired under the old id it is sent and refused (566, tagged
    // under a secret A's answer key is not from: unauthenticated), so not
    // sent again; on a slot not paired yet the pairing itself meets the 566,
    // A takes a new id first, and the POST goes once.  Never twice.
    if (r.status === 502) {
      assert.equal(json(r).relayStatus, 566);
      assert.equal(hits(up, 'rot-post').length, 0);
    } else {
      assert.equal(r.status, 200);
      assert.equal(hits(up, 'rot-post').length, 1);
    }
    for (let i = 0; i < 8; i++) {
      r = await call(A.out, `/api/rot/${i}`, { headers: { ...auth, 'x-req-id': `rot-${i}` } });
      assert.equal(r.status, 200, r.body.toString());
      assert.equal(hits(up, `rot-${i}`).length, 1);
    }
    assert.ok(A.lines().filter((l) => l.msg === 'outbound client id taken').length > ids0, 'a new client id');
  });

  test('outbound only: --healthcheck probes the outbound listener, --check-config names the roles', async () => {
    const { spawnSync } = await import('node:child_process');
    const { RELAY_BIN } = await import('./lib/harness.mjs');
    const env = { PATH: process.env.PATH, OUTBOUND_PORT: String(A.oport), OUTBOUND_RELAY: B.url };
    let r = spawnSync(RELAY_BIN, ['--healthcheck'], { env, encoding: 'utf8' });
    assert.equal(r.status, 0, r.stderr);
    assert.ok(hits(up, undefined).every((h) => h.url !== '/api/mte-echo'), 'answered by A itself');
    r = spawnSync(RELAY_BIN, ['--check-config'], { env, encoding: 'utf8' });
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stdout, /inbound role: off/);
    assert.match(r.stdout, /outbound role: on \(OUTBOUND_BIND 127\.0\.0\.1/);
  });

  test('an upstream that answers before it reads the body (B sends its 100 Continue even then)', async () => {
    const early = http.createServer((req, res) => { res.writeHead(200, { 'content-type': 'text/plain' }); res.end('early'); req.resume(); });
    await new Promise((r) => early.listen(0, '127.0.0.1', r));
    const B2 = await startRelay({ UPSTREAM: `http://127.0.0.1:${early.address().port}`, CLIENT_ID_SECRET: SECRET_B });
    const A2 = await startA(B2.url, {});
    try {
      for (let i = 0; i < 3; i++) {
        const r = await call(A2.out, '/api/early', { method: 'POST', body: Buffer.alloc(3000, 1) });
        assert.equal(r.status, 200);
        assert.equal(r.body.toString(), 'early');
      }
    } finally { await A2.stop(); await B2.stop(); early.closeAllConnections(); early.close(); }
  });

  test('B unreachable: 502 JSON; no partner for a path: 403', async () => {
    const C = await startA('http://127.0.0.1:9', {});
    try {
      const r = await call(C.out, '/api/none');
      assert.equal(r.status, 502);
      assert.equal(json(r).code, 502);
    } finally { await C.stop(); }
    const D = await startA(undefined, { OUTBOUND_RELAYS: `/pay=${B.url},/kyc=http://127.0.0.1:9` });
    try {
      let r = await call(D.out, '/other/x', { headers: { 'x-req-id': 'np' } });
      assert.equal(r.status, 403);
      assert.deepEqual(json(r), { error: 'no partner relay for this path', code: 403 });
      r = await call(D.out, '/payx', {});
      assert.equal(r.status, 403, 'a prefix matches on a segment boundary');
      r = await call(D.out, '/pay/x?q=1', { headers: { 'x-req-id': 'pay' } });
      assert.equal(r.status, 200);
      assert.equal(json(r).url, '/pay/x?q=1', 'the prefix is not stripped');
      assert.ok(D.lines().some((l) => l.msg === 'outbound refused' && l.reason === 'unknown partner'));
    } finally { await D.stop(); }
  });
});

describe('through a tamper proxy between A and B', () => {
  let up, B, A, proxy;
  before(async () => {
    up = await startAppUpstream();
    B = await startB(up);
    proxy = await startProxy([B]);
    A = await startA(proxy.url);
    const r = await call(A.out, '/api/warm');
    assert.equal(r.status, 200);
  });
  after(async () => { await A?.stop(); await proxy?.stop(); await B?.stop(); await up?.stop(); });
  const isProt = (r) => typeof r.headers['x-mte-relay'] === 'string' && r.headers['x-mte-relay'].split(',').length === 4;
  const protectedReqs = () => proxy.requests.filter(isProt);
  // tampers with protected exchanges only (pairing and client ids pass)
  const onProtected = (fn) => { proxy.onResponse = (rec, resp) => (isProt(rec) ? fn(rec, resp) : resp); };

  test('a replayed request never reaches the upstream twice', async () => {
    const r = await call(A.out, '/api/once', { method: 'POST', body: Buffer.from('pay 10'), headers: { 'x-req-id': 'rep' } });
    assert.equal(r.status, 200);
    const rec = protectedReqs().at(-1);
    const again = await new Promise((resolve) => {
      delete rec.headers.host;
      const q = http.request(`${B.url}/`, { method: rec.method, headers: { ...rec.headers, 'content-length': rec.body.length } }, (res) => { res.resume(); res.on('end', () => resolve(res.statusCode)); });
      q.end(rec.body);
    });
    assert.equal(again, 570);
    assert.equal(hits(up, 'rep').length, 1);
  });

  test('an answer swapped for another one fails: the caller gets 502, never the other answer', async () => {
    let old = null;
    onProtected((rec, resp) => { if (!old) { old = resp; return resp; } return old; });
    const r1 = await call(A.out, '/api/swap/1', { headers: { 'x-req-id': 'sw1' } });
    const r2 = await call(A.out, '/api/swap/2', { headers: { 'x-req-id': 'sw2' } });
    proxy.onResponse = null;
    assert.equal(r1.status, 200);
    assert.equal(r2.status, 502);
    assert.equal(json(r2).error, "the partner relay's answer failed authentication");
  });

  test('a cut answer body: the caller sees a broken response, never short data as whole', async () => {
    for (const size of [100000, 131072]) {
      // cut on the wire, and a whole final chunk dropped with a matching length
      onProtected((rec, resp) => ({ ...resp, cutAfter: 70000 }));
      let r = await call(A.out, `/api/download/${size}`, { hashOnly: true });
      assert.ok(r.error || r.complete === false || r.length < size, `cut ${size}: ${JSON.stringify({ s: r.status, l: r.length })}`);
      onProtected((rec, resp) => {
        const last = resp.body.length % 65552 || 65552;
        return { ...resp, body: resp.body.subarray(0, resp.body.length - (last < 65552 ? last : 16)) };
      });
      r = await call(A.out, `/api/download/${size}`, { hashOnly: true });
      proxy.onResponse = null;
      // a length no sealed body has: 502 before anything; else the body is cut
      assert.ok(r.status === 502 || r.error || r.complete === false,
        `final chunk dropped, ${size}: got ${r.status} and ${r.length} bytes as complete`);
      assert.ok(r.status !== 200 || r.length < size);
    }
  });

  test('a forged request body never reaches the upstream whole', async () => {
    proxy.onRequest = (rec) => { if (rec.body.length > 20) rec.body[10] ^= 1; };
    const r = await call(A.out, '/api/forged', { method: 'POST', body: Buffer.alloc(5000, 1), headers: { 'x-req-id': 'forged' } });
    proxy.onRequest = null;
    assert.notEqual(r.status, 200);
    assert.ok(hits(up, 'forged').every((h) => !h.complete), 'never a complete forged body');
  });

  test('a forged 560 on an accepted POST: not sent again (extension a)', async () => {
    onProtected((rec, resp) => (rec.method === 'POST' ? { status: 560, headers: { 'content-type': 'application/json' }, body: Buffer.from('{"error":"state not found","code":560}') } : resp));
    const r = await call(A.out, '/api/pay', { method: 'POST', body: Buffer.from('pay 10'), headers: { 'x-req-id': 'pay-once' } });
    proxy.onResponse = null;
    assert.equal(r.status, 502);
    assert.equal(json(r).relayStatus, 560);
    assert.equal(hits(up, 'pay-once').length, 1, 'the upstream ran it once, and only once');
  });

  test('a forged 570 on a GET: sent again once with a fresh seq', async () => {
    let n = 0;
    onProtected((rec, resp) => (rec.method === 'GET' && n++ === 0 ? { status: 570, headers: {}, body: Buffer.from('{}') } : resp));
    const r = await call(A.out, '/api/idem', { headers: { 'x-req-id': 'idem' } });
    proxy.onResponse = null;
    assert.equal(r.status, 200);
    assert.equal(hits(up, 'idem').length, 2, 'the first ran (the proxy dropped its answer), the retry too: GET is idempotent');
  });

  test('OUTBOUND_ATTEMPTS_MAX (2): a forged 570 on every send of a GET: sent twice, never a third time, then 502', async () => {
    let sends = 0;
    onProtected((rec, resp) => {
      if (rec.method !== 'GET') return resp;
      sends++;
      return { status: 570, headers: {}, body: Buffer.from('{}') };
    });
    const r = await call(A.out, '/api/twice', { headers: { 'x-req-id': 'twice' } });
    proxy.onResponse = null;
    assert.equal(r.status, 502);
    assert.equal(json(r).relayStatus, 570);
    assert.equal(sends, 2, 'the first send and one retry');
    assert.equal(hits(up, 'twice').length, 2);
  });
});

describe('OUTBOUND_ANSWER_MAX (16384): the partner\'s pairing answer', () => {
  const MAX = 16384;
  // A fresh A each time (its own embedded store, so it pairs); the proxy pads
  // B's pairing answer with JSON whitespace to exactly size bytes.
  async function throughPadded(size) {
    const up = await startAppUpstream();
    const B = await startB(up);
    const proxy = await startProxy([B]);
    proxy.onResponse = (rec, resp) => {
      if (rec.url !== '/api/mte-pair') return resp;
      assert.ok(resp.body.length < size, 'the real answer is smaller than the padding');
      return { ...resp, body: Buffer.concat([resp.body, Buffer.alloc(size - resp.body.length, 0x20)]) };
    };
    const A = await startA(proxy.url);
    try {
      const r = await call(A.out, '/api/limit', { headers: { 'x-req-id': `limit-${size}` } });
      return { status: r.status, pairings: proxy.requests.filter((x) => x.url === '/api/mte-pair').length, hits: up.received.length };
    } finally {
      await A.stop(); await proxy.stop(); await B.stop(); await up.stop();
    }
  }

  test('an answer of exactly the limit pairs; one byte more is a 502 and nothing reaches the upstream', async () => {
    const at = await throughPadded(MAX);
    assert.equal(at.status, 200);
    assert.equal(at.hits, 1);
    const over = await throughPadded(MAX + 1);
    assert.equal(over.status, 502);
    assert.ok(over.pairings >= 1);
    assert.equal(over.hits, 0);
  });
});
