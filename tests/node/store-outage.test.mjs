// store-outage.test.mjs - the relay with a real redis-server that fails:
// start-up outcomes, 503 while Redis is down (echo and pass-through keep
// working), one log line per outage, recovery without a restart.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  newClient, startStack, startRelay, freePort, sleep,
} from './lib/e2e.mjs';

const PASSWORD = 'redis-pass-Zq81x/%40';   // '%40' decodes to '@' in the URL
const DECODED = 'redis-pass-Zq81x/@';
const cleanup = [];
after(async () => { for (const f of cleanup.reverse()) await f(); });

// A redis-server on a fixed port (so it can come back on the same one).
async function redisOn(port, args = []) {
  const dir = mkdtempSync(join(tmpdir(), 'mte-outage-'));
  const child = spawn('redis-server', ['--port', String(port), '--save', '', '--appendonly', 'no',
    '--dir', dir, ...args], { stdio: 'ignore' });
  const t0 = Date.now();
  for (;;) {
    const ok = await new Promise((resolve) => {
      const p = spawn('redis-cli', ['-p', String(port), ...(args.includes('--requirepass') ? ['-a', DECODED, '--no-auth-warning'] : []), 'PING']);
      let out = '';
      p.stdout.on('data', (d) => { out += d; });
      p.on('exit', () => resolve(out.trim() === 'PONG'));
    });
    if (ok) break;
    if (Date.now() - t0 > 10000) throw new Error('redis-server did not start');
    await sleep(50);
  }
  return {
    async kill() {
      if (child.exitCode === null) { child.kill('SIGKILL'); await new Promise((r) => child.once('exit', r)); }
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

test('Redis down mid-run: 503 JSON for state, echo and pass-through keep working, one line per outage, recovery without restart', async () => {
  const port = await freePort();
  let redis = await redisOn(port, ['--requirepass', DECODED]);
  cleanup.push(() => redis.kill());
  const stack = await startStack({ env: {
    REDIS_URL: `redis://:${PASSWORD}@127.0.0.1:${port}/0`, PASS_THROUGH_ROUTES: '/open/*',
  } });
  cleanup.push(() => stack.stop());
  const { upstream, relay } = stack;

  const connected = await relay.waitLog((l) => l.msg === 'state store connected');
  assert.equal(connected.host, '127.0.0.1');
  assert.equal(connected.tls, 'no');
  assert.equal(connected.auth, 'password');

  const { f } = newClient();
  const ok = await f(`${relay.url}/api/before`, { method: 'POST', body: 'x' });
  assert.equal(ok.status, 200);
  assert.equal((await ok.json()).url, '/api/before');

  await redis.kill();
  for (let i = 0; i < 5; i++) {
    const e = await f(`${relay.url}/api/during/${i}`, { method: 'POST', body: 'y' }).then(() => null, (err) => err);
    assert.ok(e, 'a protected request fails while the store is down');
    assert.equal(e.status, 503);
    assert.deepEqual(e.relayError, { error: 'state store unavailable', code: 503 });
  }
  assert.equal(upstream.received.filter((r) => r.url.startsWith('/api/during')).length, 0, 'nothing reached the upstream');
  const echo = await fetch(`${relay.url}/api/mte-echo/still-up`);
  assert.equal((await echo.json()).echo, 'still-up');
  const open = await fetch(`${relay.url}/open/thing`);
  assert.equal(open.status, 200, 'pass-through works without the store');
  assert.equal(relay.lines().filter((l) => l.msg === 'state store unavailable').length, 1, 'one warn line per outage, not per request');

  redis = await redisOn(port, ['--requirepass', DECODED]);
  let back = null;
  const t0 = Date.now();
  while (Date.now() - t0 < 15000) {
    back = await f(`${relay.url}/api/after`, { method: 'POST', body: 'z' }).catch(() => null);
    if (back && back.status === 200) break;
    await sleep(200);
  }
  assert.equal(back?.status, 200, 'state requests work again once Redis is back (the client re-paired)');
  await relay.waitLog((l) => l.msg === 'state store recovered');
  assert.equal(relay.lines().filter((l) => l.msg === 'state store recovered').length, 1);

  const all = relay.logs.join('\n');
  assert.ok(!all.includes(DECODED) && !all.includes(PASSWORD), 'the Redis password is never logged');
});

test('start-up: bad REDIS_URL exits 78; unreachable and wrong password start, log, and answer 503', async () => {
  const bad = await startRelay({ REDIS_URL: 'redis://127.0.0.1:notaport' }, { expectFail: true });
  assert.equal(bad.result.code, 78);
  assert.match(bad.stderr + bad.logs.join('\n'), /REDIS_URL/);

  const dead = await startRelay({ REDIS_URL: `redis://127.0.0.1:${await freePort()}` });
  cleanup.push(() => dead.stop());
  const warn = await dead.waitLog((l) => typeof l.msg === 'string' && l.msg.startsWith('state store unreachable at start-up'));
  assert.equal(warn.level, 'warn');
  const pair = await fetch(`${dead.url}/api/mte-relay`, { method: 'HEAD' });
  const id = pair.headers.get('x-mte-relay');
  const r = await fetch(`${dead.url}/api/mte-pair`, { method: 'POST', headers: { 'x-mte-relay': id, 'content-type': 'application/json' },
    body: JSON.stringify([{ pairId: 'p'.repeat(20), publicKey: 'A'.repeat(1622), personalization: '' }]) });
  assert.equal(r.status, 503, 'pairing needs the store');
  assert.deepEqual(await r.json(), { error: 'state store unavailable', code: 503 });

  const port = await freePort();
  const redis = await redisOn(port, ['--requirepass', DECODED]);
  cleanup.push(() => redis.kill());
  const wrong = await startRelay({ REDIS_URL: `redis://:wrong-password@127.0.0.1:${port}` });
  cleanup.push(() => wrong.stop());
  const line = await wrong.waitLog((l) => typeof l.msg === 'string' && l.msg.startsWith('state store authentication failed'));
  assert.equal(line.level, 'error');
  assert.ok(!wrong.logs.join('\n').includes('wrong-password'));
  const { f } = newClient();
  const e = await f(`${wrong.url}/api/x`, { method: 'POST', body: 'a' }).then(() => null, (err) => err);
  assert.equal(e?.status, 503);
});
