// pool-slow-peers.test.mjs - slow peers cannot hold the pool (conn.c's
// pressure floor, prefork.c's pressure): with the pool at a small ceiling,
// attackers trickling bodies or heads into every worker do not stop a
// legitimate request from being served, and the slow ones are closed and
// logged; without pressure an honest slow upload is not cut.  Counts only,
// no timing assertions.
import { test, after, before } from 'node:test';
import assert from 'node:assert/strict';
import {
  slowUpstream, startPoolRelay, get, metrics, trickler, slowUpload, until,
} from './lib/pool.mjs';

const SMALL = ['--max-pool-size=4', '--min-spare-workers=4', '--max-spare-workers=4'];
let upstream;
before(async () => { upstream = await slowUpstream(0); });
after(async () => { await upstream.stop(); });

test('slow-body and slow-header attackers holding every worker do not stop a legitimate request', async () => {
  const r = await startPoolRelay(upstream, {}, SMALL);
  // Four bodies at 2,000 B/s (above the 1,024 B/s floor of CONN_MIN_RATE_BPS)
  // and eight heads at 2 B/s: more attackers than workers.
  const attackers = [
    ...Array.from({ length: 4 }, () => trickler(r.port, { body: 1 << 20, bytes: 200, everyMs: 100 })),
    ...Array.from({ length: 8 }, () => trickler(r.port, { bytes: 1, everyMs: 500 })),
  ];
  try {
    assert.ok(await until(() => attackers.every((a) => a.stats.connections >= 1), 5000));
    const legit = [];
    for (let i = 0; i < 3; i++) legit.push(await get(r.port, `/api/legit?i=${i}`, 30000));
    assert.deepEqual(legit.map((x) => x.status), [200, 200, 200], JSON.stringify(legit));
    const cut = r.lines().filter((l) => l.msg === 'slow connection closed under pressure');
    assert.ok(cut.length >= 1, 'the slow peers were closed');
    assert.ok(cut.every((l) => ['head', 'body'].includes(l.phase) && l.rate_bps < l.floor_bps));
    assert.ok(attackers.some((a) => a.stats.statuses.includes(408)), 'a cut request got 408');
  } finally {
    for (const a of attackers) await a.stop();
  }
  try {
    const m = await metrics(r.port);
    assert.ok(m.get('mte_relay_slow_peers_closed_total') >= 1);
  } finally {
    await r.stop();
  }
});

test('without pressure an honest slow upload (2,000 B/s, longer than the grace) is not cut', async () => {
  const r = await startPoolRelay(upstream, {}, SMALL);
  try {
    const res = await slowUpload(r.port, '/api/upload', 6000, 200, 100);
    assert.deepEqual(res, { status: 200 });
    const rec = upstream.received.find((x) => x.url === '/api/upload');
    assert.equal(rec.length, 6000);
    assert.ok(!r.lines().some((l) => l.msg === 'slow connection closed under pressure'));
  } finally {
    await r.stop();
  }
});
