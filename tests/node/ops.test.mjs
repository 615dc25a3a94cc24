// ops.test.mjs - operations behaviour of the real binary: SIGTERM drains an
// in-flight streamed download to completion; a request that never ends is
// killed at DRAIN_TIMEOUT and the relay still exits 0; started as root with
// RUN_AS, the parent and the workers run as that user; a RUN_AS user that
// does not exist is a configuration error (78); GET /metrics aggregates the
// counters of every worker and the parent, behind METRICS_TOKEN; the relay
// runs on a read-only root file system (ECS readonlyRootFilesystem).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { request } from 'node:http';
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { execFileSync } from 'node:child_process';
import { RELAY_BIN, startRelay, startUpstream, sleep, sha256 } from './lib/harness.mjs';

// GET through the relay on a fresh connection; resolves with status, headers
// and body, or with { error } when the response is cut.  onData sees chunks.
function get(url, { headers = {}, onData } = {}) {
  return new Promise((resolve) => {
    const req = request(url, { agent: false, headers }, (res) => {
      const chunks = [];
      res.on('data', (d) => { chunks.push(d); onData?.(d); });
      res.on('end', () => resolve({ status: res.statusCode, headers: res.headers,
        body: Buffer.concat(chunks), complete: res.complete }));
      res.on('error', (error) => resolve({ status: res.statusCode, error, body: Buffer.concat(chunks) }));
      res.on('aborted', () => resolve({ status: res.statusCode, error: new Error('aborted'),
        body: Buffer.concat(chunks) }));
    });
    req.on('error', (error) => resolve({ error }));
    req.end();
  });
}

test('SIGTERM drains an in-flight streamed download: the client gets every byte, exit 0', async () => {
  const CHUNKS = 30, SIZE = 4096;
  const payload = randomBytes(CHUNKS * SIZE);
  let sent = 0;
  const up = await startUpstream((req, res) => {
    if (req.url !== '/slow/download') return false;
    res.writeHead(200, { 'content-type': 'application/octet-stream' });   // chunked, no length
    const timer = setInterval(() => {
      res.write(payload.subarray(sent * SIZE, (sent + 1) * SIZE));
      if (++sent === CHUNKS) { clearInterval(timer); res.end(); }
    }, 100);                                                               // ~3 s in all
    return true;
  });
  const r = await startRelay({ UPSTREAM: up.url, PASS_THROUGH_ROUTES: '/slow/*', DRAIN_TIMEOUT: '20' });
  try {
    let first;
    const firstBytes = new Promise((res) => { first = res; });
    const pending = get(`${r.url}/slow/download`, { onData: () => first() });
    await firstBytes;
    await sleep(500);
    const sentAtTerm = sent;
    r.child.kill('SIGTERM');
    const res = await pending;
    const exit = await r.waitExit();

    assert.ok(sentAtTerm < CHUNKS, 'the download was still streaming when SIGTERM came');
    assert.equal(res.error, undefined, String(res.error));
    assert.equal(res.status, 200);
    assert.equal(res.body.length, payload.length);
    assert.equal(sha256(res.body), sha256(payload));
    assert.deepEqual(exit, { code: 0, signal: null });
    const msgs = r.lines().map((l) => l.msg);
    assert.ok(msgs.includes('draining'));
    assert.ok(msgs.includes('stopped'));
    assert.ok(!msgs.includes('drain timeout: killing worker'), 'finished within DRAIN_TIMEOUT');
    // The access log line of the drained request shows a complete 200.
    const done = r.lines().find((l) => l.msg === 'request' && l.path === '/slow/download');
    assert.equal(done.status, 200);
    assert.ok(done.bytes_out > payload.length);
  } finally {
    if (!r.exited) await r.stop('SIGKILL');
    await up.stop();
  }
});

test('a request that never finishes is killed at DRAIN_TIMEOUT; the relay exits 0 and logs it', async () => {
  const up = await startUpstream((req, res) => {
    if (req.url !== '/slow/forever') return false;
    res.writeHead(200, { 'content-type': 'application/octet-stream' });
    res.write(Buffer.alloc(1024, 1));          // then nothing, ever
    return true;
  });
  const r = await startRelay({ UPSTREAM: up.url, PASS_THROUGH_ROUTES: '/slow/*', DRAIN_TIMEOUT: '2' });
  try {
    let first;
    const firstBytes = new Promise((res) => { first = res; });
    const pending = get(`${r.url}/slow/forever`, { onData: () => first() });
    await firstBytes;
    await sleep(500);
    const t0 = Date.now();
    r.child.kill('SIGTERM');
    const exit = await r.waitExit();
    const waited = Date.now() - t0;
    const res = await pending;

    assert.deepEqual(exit, { code: 0, signal: null });
    const kill = r.lines().find((l) => l.msg === 'drain timeout: killing worker');
    assert.ok(kill, 'the kill is logged');
    assert.ok(r.workers().length === 0);
    const drain = r.lines().find((l) => l.msg === 'draining');
    assert.equal(drain.drain_timeout_s, 2);
    // The drain waited for the request (a lower bound: not a speed check).
    assert.ok(waited >= 1500, `exited after ${waited} ms, before DRAIN_TIMEOUT`);
    // The client saw its response cut short, not completed.
    assert.ok(res.error || res.complete === false, 'the response did not complete');
    assert.equal(res.body.length, 1024);
    assert.ok(r.lines().some((l) => l.msg === 'stopped'));
  } finally {
    if (!r.exited) await r.stop('SIGKILL');
    await up.stop();
  }
});

function ids(pid) {
  const s = readFileSync(`/proc/${pid}/status`, 'utf8');
  const uid = /^Uid:\s+(.*)$/m.exec(s)[1].trim().split(/\s+/).map(Number);
  const gid = /^Gid:\s+(.*)$/m.exec(s)[1].trim().split(/\s+/).map(Number);
  const groups = (/^Groups:\s*(.*)$/m.exec(s)?.[1] ?? '').trim().split(/\s+/).filter(Boolean).map(Number);
  const capEff = /^CapEff:\s+(\S+)$/m.exec(s)[1];
  return { uid, gid, groups, capEff };
}

const isRoot = process.getuid?.() === 0;

test('started as root with RUN_AS=nobody, the parent and every worker run as nobody after binding',
  { skip: isRoot ? false : 'needs to start the relay as root' }, async () => {
    const nobodyUid = Number(execFileSync('id', ['-u', 'nobody'], { encoding: 'utf8' }));
    const nobodyGid = Number(execFileSync('id', ['-g', 'nobody'], { encoding: 'utf8' }));
    assert.notEqual(nobodyUid, 0);
    const r = await startRelay({ RUN_AS: 'nobody', MAX_POOL_SIZE: '2' });
    try {
      const pids = [r.child.pid, ...r.workers()];
      assert.equal(pids.length, 3);
      for (const pid of pids) {
        const id = ids(pid);
        assert.deepEqual(id.uid, [nobodyUid, nobodyUid, nobodyUid, nobodyUid], `uid of ${pid}`);
        assert.deepEqual(id.gid, [nobodyGid, nobodyGid, nobodyGid, nobodyGid], `gid of ${pid}`);
        assert.ok(!id.groups.includes(0), `root group kept by ${pid}: ${id.groups}`);
        assert.equal(id.capEff, '0000000000000000', `capabilities kept by ${pid}`);
      }
      assert.ok(r.lines().some((l) => l.msg === 'privileges dropped' && l.user === 'nobody'));
      // Still serving, and a worker replaced after a crash runs as nobody too.
      assert.equal((await get(`${r.url}/api/mte-echo/x`)).status, 200);
      const victim = r.workers()[0];
      process.kill(victim, 'SIGKILL');
      await r.waitLog((l) => l.msg === 'worker replaced');
      const fresh = r.workers().filter((p) => p !== victim);
      assert.equal(fresh.length, 2);
      for (const pid of fresh) assert.equal(ids(pid).uid[0], nobodyUid);
      assert.deepEqual(await r.stop(), { code: 0, signal: null });
    } finally {
      if (!r.exited) await r.stop('SIGKILL');
    }
  });

test('a RUN_AS user that does not exist is a configuration error (exit 78)', async () => {
  const r = await startRelay({ RUN_AS: 'no-such-user-mte' }, { expectFail: true });
  assert.deepEqual(r.result, { code: 78, signal: null });
  assert.match(r.stderr + r.logs.join('\n'),
    /config error: RUN_AS must name an existing user \(flag --run-as\)/);
  assert.ok(!r.logs.some((l) => l.includes('Server listening')));
});

// ---- metrics over HTTP ----

function scrape(r, token) {
  return get(`${r.url}/metrics`, { headers: token ? { authorization: `Bearer ${token}` } : {} });
}

function sample(text, series) {
  const line = text.split('\n').find((l) => l.startsWith(series + ' '));
  return line === undefined ? undefined : Number(line.slice(series.length + 1));
}

// Sends n echo requests while only worker `only` may accept (the others are
// stopped), so that the counts come from a known worker.
async function echoVia(r, only, n) {
  const others = r.workers().filter((p) => p !== only);
  for (const p of others) process.kill(p, 'SIGSTOP');
  try {
    for (let i = 0; i < n; i++) assert.equal((await get(`${r.url}/api/mte-echo/m${i}`)).status, 200);
    return await scrape(r, 'metrics-token-0123456789');
  } finally {
    for (const p of others) process.kill(p, 'SIGCONT');
  }
}

test('GET /metrics: token enforced, counts summed over every worker, worker restarts counted', async () => {
  const TOKEN = 'metrics-token-0123456789';
  const r = await startRelay({ METRICS: 'true', METRICS_TOKEN: TOKEN, MAX_POOL_SIZE: '2' });
  try {
    const none = await scrape(r);
    assert.equal(none.status, 401);
    assert.match(none.headers['www-authenticate'], /^Bearer/);
    assert.match(none.headers['content-type'], /application\/json/);
    assert.equal((await scrape(r, 'wrong')).status, 401);
    assert.equal((await scrape(r, TOKEN + 'x')).status, 401);
    const ok = await scrape(r, TOKEN);
    assert.equal(ok.status, 200);
    assert.match(ok.headers['content-type'], /^text\/plain; version=0\.0\.4/);
    for (const line of ok.body.toString().trimEnd().split('\n'))
      assert.match(line, /^(# (HELP|TYPE) \S+ .+|[a-zA-Z_:][a-zA-Z0-9_:]*(\{[^}]*\})? \S+)$/);
    // Nothing leaks the token.
    assert.ok(!ok.body.toString().includes(TOKEN));
    assert.ok(!r.logs.join('\n').includes(TOKEN));

    const [a, b] = r.workers();
    await echoVia(r, a, 3);
    const last = await echoVia(r, b, 4);
    // Scraped from b alone, the total includes a's three requests.
    const echo = 'mte_relay_requests_total{route="echo",status="200"}';
    let total = sample(last.body.toString(), echo);
    for (let i = 0; i < 50 && total !== 7; i++) {    // the count lands just after the response
      await sleep(20);
      total = sample((await scrape(r, TOKEN)).body.toString(), echo);
    }
    assert.equal(total, 7);
    const text = (await scrape(r, TOKEN)).body.toString();
    assert.equal(sample(text, 'mte_relay_requests_total{route="metrics",status="401"}'), 3);
    assert.equal(sample(text, 'mte_relay_worker_restarts_total'), 0);

    process.kill(a, 'SIGKILL');
    await r.waitLog((l) => l.msg === 'worker replaced');
    assert.equal(sample((await scrape(r, TOKEN)).body.toString(), 'mte_relay_worker_restarts_total'), 1);
    // The replacement kept counting into the same totals.
    assert.ok(sample((await scrape(r, TOKEN)).body.toString(), echo) >= 7);
  } finally {
    await r.stop();
  }
});

test('without METRICS=true, /metrics is not served', async () => {
  const r = await startRelay({ METRICS_TOKEN: undefined });
  try {
    const res = await scrape(r);
    assert.notEqual(res.status, 200);
    assert.ok(!res.body.toString().includes('mte_relay_'));
  } finally {
    await r.stop();
  }
});

test('the relay writes no file: it serves on a read-only root file system',
  { skip: isRoot ? false : 'needs root to remount / read-only in a private mount namespace' }, async () => {
    const up = await startUpstream();
    // unshare execs sh, which execs the relay: the pid stays the relay's.
    const r = await startRelay({ UPSTREAM: up.url, PASS_THROUGH_ROUTES: '/p/*', METRICS: 'true' }, {
      bin: 'unshare',
      args: ['--mount', '--propagation', 'private', 'sh', '-c',
        'mount -o remount,ro,bind / && touch /mte-ro-probe 2>/dev/null && exit 99; exec "$0"', RELAY_BIN],
    });
    try {
      for (const path of ['/api/mte-echo/ro', '/public/mte-relay-client.js', '/p/get'])
        assert.equal((await get(`${r.url}${path}`)).status, 200, path);
      const body = randomBytes(4 << 20);
      const res = await fetch(`${r.url}/p/upload`, { method: 'POST', body });
      assert.equal(res.status, 200);
      assert.equal((await res.json()).sha256, sha256(body));
      assert.deepEqual(await r.stop(), { code: 0, signal: null });
      assert.ok(!r.lines().some((l) => l.level === 'error'), r.logs.join('\n'));
    } finally {
      if (!r.exited) await r.stop('SIGKILL');
      await up.stop();
    }
  });

test('GET /metrics counts the protected path: pairings, store and upstream timings, replays, decode failures', async () => {
  const { newClient, startStack, send, isProtected } = await import('./lib/e2e.mjs');
  const stack = await startStack({ redis: true, env: { METRICS: 'true' }, proxy: true });
  const { redis, relay: r, proxy } = stack;
  try {
    const { f } = newClient();
    for (let i = 0; i < 3; i++) {
      const res = await f(`${proxy.url}/api/m/${i}`, { method: 'POST', body: `n=${i}` });
      assert.equal(res.status, 200);
      await res.text();
    }
    // a replay of the last protected request
    const captured = proxy.requests.filter(isProtected).at(-1);
    assert.equal((await send(r.url, captured)).status, 570);
    // a flipped bit in the meta chunk
    const eh = Buffer.from(captured.headers['x-mte-relay-eh'], 'base64url');
    eh[3] ^= 1;
    const flipped = { ...captured, headers: { ...captured.headers, 'x-mte-relay-eh': eh.toString('base64url') } };
    assert.equal((await send(r.url, flipped)).status, 562);
    // a relay header that does not parse, and a forged client id
    assert.equal((await get(`${r.url}/api/x`, { headers: { 'x-mte-relay': 'a,b,c,d' } })).status, 569);
    assert.equal((await get(`${r.url}/api/x`, { headers: {
      'x-mte-relay': `${'0'.repeat(32)}.${'0'.repeat(64)},pairpairpairpair0000,1,` } })).status, 566);
    // an unknown pair under a valid client id
    const signed = captured.headers['x-mte-relay'].split(',')[0];
    assert.equal((await get(`${r.url}/api/x`, { headers: {
      'x-mte-relay': `${signed},unknownpairunknownpair,1,` } })).status, 560);

    let text = '';
    const want = { 'mte_relay_requests_total{route="protected",status="200"}': 3 };
    for (let i = 0; i < 50; i++) {          // counts land just after each response
      text = (await scrape(r)).body.toString();
      if (sample(text, 'mte_relay_requests_total{route="protected",status="560"}') === 1) break;
      await sleep(20);
    }
    for (const [k, v] of Object.entries(want)) assert.equal(sample(text, k), v, k);
    assert.equal(sample(text, 'mte_relay_requests_total{route="pair",status="200"}'), 1);
    assert.equal(sample(text, 'mte_relay_pairings_total'), 1);
    assert.equal(sample(text, 'mte_relay_replay_rejections_total'), 1);
    assert.equal(sample(text, 'mte_relay_requests_total{route="protected",status="570"}'), 1);
    assert.equal(sample(text, 'mte_relay_decode_failures_total{reason="meta_auth"}'), 1);
    assert.equal(sample(text, 'mte_relay_decode_failures_total{reason="relay_header"}'), 1);
    assert.equal(sample(text, 'mte_relay_decode_failures_total{reason="client_id"}'), 1);
    assert.equal(sample(text, 'mte_relay_decode_failures_total{reason="pair_not_found"}'), 1);
    assert.equal(sample(text, 'mte_relay_decode_failures_total{reason="body_auth"}'), 0);
    // pairing: the address and client budgets + the live-pair lookup + 1 put;
    // the 3 requests and the replay: an accept each, and a read of the pair
    // unless the worker had it cached (a cache hit); the flip: one read
    // either way (cached keys that do not open are read again once, fresh
    // ones are not); the unknown pair: a read.  The store times every one of
    // them itself: ops + hits = 4 + 4 * 2 + 1 + 1, plus 1 when the flip hit.
    const ops = sample(text, 'mte_relay_store_duration_seconds_count');
    const hits = sample(text, 'mte_relay_store_cache_hits_total');
    assert.ok(ops + hits === 14 || ops + hits === 15, `ops ${ops}, cache hits ${hits}`);
    assert.ok(hits <= 5);
    assert.equal(sample(text, 'mte_relay_store_errors_total'), 0);
    assert.equal(sample(text, 'mte_relay_upstream_duration_seconds_count'), 3);
    assert.ok(sample(text, 'mte_relay_upstream_duration_seconds_sum') > 0);

    // Redis gone: store operations fail and are counted.
    await redis.stop();         // stack.stop() stops it again: a no-op
    const { f: f2 } = newClient();
    await f2(`${r.url}/api/m/down`, { method: 'POST', body: 'x' }).catch(() => {});
    text = (await scrape(r)).body.toString();
    assert.ok(sample(text, 'mte_relay_store_errors_total') >= 1);
  } finally {
    await stack.stop();
  }
});
