// pool.test.mjs - the elastic prefork pool (prefork.c): it grows under load
// up to MAX_POOL_SIZE, shrinks back to MAX_SPARE_WORKERS when idle, survives
// SIGKILLs and crash loops, and drains a full pool.  Assertions are on
// counts (requests answered, workers seen in /proc and in /metrics), never
// on timing.
import { test, after, before } from 'node:test';
import assert from 'node:assert/strict';
import {
  slowUpstream, startPoolRelay, burst, tally, metrics, poolSize, sampleWorkers, until, get, sleep,
} from './lib/pool.mjs';

let upstream;
before(async () => { upstream = await slowUpstream(500); });
after(async () => { await upstream.stop(); });

test('default settings: 200 concurrent requests to a 500 ms upstream all succeed; the pool grows to serve them', async () => {
  const r = await startPoolRelay(upstream);
  try {
    const m0 = await metrics(r.port);
    assert.equal(m0.get('mte_relay_workers_max'), 256, 'the default ceiling');
    const seen = sampleWorkers(r);
    const t = tally(await burst(r.port, 200));
    const most = await seen.stop();
    assert.deepEqual(t, { ok: 200, other: 0, errors: 0 });
    const m = await metrics(r.port);
    // 200 requests of 500 ms in well under 200 x 500 ms: many workers at once.
    assert.ok(poolSize(m) >= 100, `pool after the burst: ${poolSize(m)}`);
    assert.ok(most >= 100 && most <= 256, `most workers seen: ${most}`);
    assert.ok(m.get('mte_relay_workers_spawned_total') >= 100);
    assert.equal(m.get('mte_relay_worker_restarts_total'), 0);
  } finally {
    await r.stop();
  }
});

test('the pool never exceeds MAX_POOL_SIZE, and shrinks back to MAX_SPARE_WORKERS when idle', async () => {
  const r = await startPoolRelay(upstream, {}, ['--max-pool-size=12', '--min-spare-workers=2', '--max-spare-workers=3']);
  try {
    assert.equal(r.workers().length, 2, 'starts with MIN_SPARE_WORKERS');
    const seen = sampleWorkers(r);
    const t = tally(await burst(r.port, 60));
    const most = await seen.stop();
    assert.deepEqual(t, { ok: 60, other: 0, errors: 0 });
    assert.equal(most, 12, 'grew to the ceiling and no further');
    // Idle for PREFORK_RETIRE_IDLE_MS: retired down to the spares.
    assert.ok(await until(() => r.workers().length === 3, 20000), `workers: ${r.workers().length}`);
    await sleep(300);
    assert.equal(r.workers().length, 3, 'and stays there');
    const m = await metrics(r.port);
    assert.equal(m.get('mte_relay_workers_retired_total'), 9);
    assert.equal(poolSize(m), 3);
    assert.ok(r.lines().filter((l) => l.msg === 'worker exited' && l.level === 'error').length === 0,
      'retirements are not crashes');
  } finally {
    await r.stop();
  }
});

test('SIGKILL of workers under load is survived: each is logged and replaced, the rest are served', async () => {
  const r = await startPoolRelay(upstream);
  try {
    const load = burst(r.port, 100);
    assert.ok(await until(() => upstream.inflight() >= 50, 10000));
    const victims = r.workers().slice(0, 3);
    for (const pid of victims) process.kill(pid, 'SIGKILL');
    const t = tally(await load);
    // A request on a killed worker fails; every other one is answered.
    assert.ok(t.ok >= 97 && t.ok + t.errors + t.other === 100, JSON.stringify(t));
    for (const pid of victims)
      await r.waitLog((l) => l.msg === 'worker exited' && l.worker === pid && l.signal === 9);
    assert.equal(r.lines().filter((l) => l.msg === 'worker replaced').length, 3);
    assert.deepEqual(tally(await burst(r.port, 50)), { ok: 50, other: 0, errors: 0 });
    assert.equal((await metrics(r.port)).get('mte_relay_worker_restarts_total'), 3);
  } finally {
    await r.stop();
  }
});

// Per-slot start-up backoff alone (100 ms doubling to 5 s) let a crash every
// 0.5 s empty the pool down to one worker: each slot kept dying young.
test('a crash loop does not take the capacity: a worker killed every 150 ms is replaced at once, the pool stays full', async () => {
  const r = await startPoolRelay(upstream, {}, ['--max-pool-size=4', '--min-spare-workers=4', '--max-spare-workers=4']);
  try {
    let served = 0, asked = 0;
    const ROUNDS = 30;
    for (let i = 0; i < ROUNDS; i++) {
      const pool = r.workers();
      assert.ok(pool.length >= 3, `round ${i}: ${pool.length} workers`);
      process.kill(pool[0], 'SIGKILL');
      asked++;
      if ((await get(r.port, `/api/mte-echo/x${i}`)).status === 200) served++;
      await sleep(150);
    }
    assert.equal(served, asked);
    assert.ok(await until(() => r.workers().length === 4, 5000));
    assert.equal(r.lines().filter((l) => l.msg === 'worker exited' && l.signal === 9).length, ROUNDS,
      'one log line per crash');
    assert.equal((await metrics(r.port)).get('mte_relay_worker_restarts_total'), ROUNDS);
  } finally {
    await r.stop();
  }
});

test('a drain with 200 requests in flight finishes them all, then exits 0', async () => {
  const slow = await slowUpstream(3000);
  const r = await startPoolRelay(slow, { DRAIN_TIMEOUT: '20' });
  try {
    const load = burst(r.port, 200);
    assert.ok(await until(() => slow.inflight() === 200, 15000), `in flight: ${slow.inflight()}`);
    r.child.kill('SIGTERM');
    const t = tally(await load);
    assert.deepEqual(t, { ok: 200, other: 0, errors: 0 });
    assert.deepEqual(await r.waitExit(), { code: 0, signal: null });
    assert.ok(!r.lines().some((l) => l.msg === 'drain timeout: killing worker'));
  } finally {
    await r.stop();
    await slow.stop();
  }
});
