// The worker's pair cache (issue 16: one store round trip per protected
// request).  Against a real Redis, counted by Redis itself (INFO
// commandstats): a worker reads a pair's keys once, then each protected
// request is one script call.  A stale cache never gives a wrong answer: a
// pair deleted and paired again under the same ids (MAX_PAIRS_PER_CLIENT=1
// evicts it) is caught by its generation, with Redis and with the embedded
// store.  Requests go over one keep-alive connection, so one worker serves
// them all and its cache is the one exercised.

import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import { randomBytes } from 'node:crypto';
import { spawnSync } from 'node:child_process';
import { startRelay, startUpstream, startRedis } from './lib/harness.mjs';
import { newIdentity, makeEntry, pair, protectedRequest } from './lib/raw.mjs';
import { metrics } from './lib/pool.mjs';

const SECRET = `cache-${randomBytes(16).toString('hex')}`;
const started = [];
after(async () => { for (const p of started.reverse()) await p.stop(); });

async function stack(env = {}) {
  const upstream = await startUpstream();
  started.push(upstream);
  const relay = await startRelay({ UPSTREAM: upstream.url, CLIENT_ID_SECRET: SECRET, METRICS: 'true', ...env });
  started.push(relay);
  return { upstream, relay };
}

function commandCalls(port) {
  const r = spawnSync('redis-cli', ['-p', String(port), 'INFO', 'commandstats'], { encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
  const calls = {};
  for (const m of r.stdout.matchAll(/^cmdstat_([a-z|]+):calls=(\d+)/gm)) calls[m[1]] = Number(m[2]);
  return (name) => calls[name] || 0;
}

test('Redis: one round trip per protected request once a worker holds the pair', async () => {
  const redis = await startRedis();
  started.push(redis);
  const { relay, upstream } = await stack({ REDIS_URL: redis.url });
  const id = await newIdentity(relay.url);
  const [p] = await pair(id, 1);
  const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
  try {
    const before = commandCalls(redis.port);
    for (let i = 0; i < 20; i++) {
      const r = await protectedRequest(id, p, { url: `/api/c/${i}`, agent });
      assert.equal(r.status, 200);
      assert.equal(JSON.parse(r.opened().body.toString()).url, `/api/c/${i}`);
    }
    const afterCalls = commandCalls(redis.port);
    const scripts = afterCalls('evalsha') - before('evalsha');
    assert.equal(scripts, 20, 'one window script per request');
    // the window script reads the pair with HMGET too (counted by Redis)
    assert.equal(afterCalls('hmget') - before('hmget') - scripts, 1, 'the keys are read once');
    assert.equal(upstream.received.filter((q) => q.url.startsWith('/api/c/')).length, 20);
    const m = await metrics(relay.port);
    assert.equal(m.get('mte_relay_store_cache_hits_total'), 19);
  } finally { agent.destroy(); }
});

for (const backend of ['redis', 'embedded']) {
  test(`${backend}: a pair paired again under the same ids is never opened with cached keys`, async () => {
    const env = { MAX_PAIRS_PER_CLIENT: '1' };
    if (backend === 'redis') {
      const redis = await startRedis();
      started.push(redis);
      env.REDIS_URL = redis.url;
    }
    const { relay, upstream } = await stack(env);
    const id = await newIdentity(relay.url);
    const pairId = `same-ids-${randomBytes(8).toString('hex')}`;
    const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
    const seen = () => upstream.received.filter((q) => q.url.startsWith('/api/s/')).length;
    try {
      const [old] = await pair(id, [makeEntry({ pairId })]);
      assert.equal((await protectedRequest(id, old, { url: '/api/s/first', agent })).status, 200);
      // another pair evicts it (MAX_PAIRS_PER_CLIENT=1), then the same ids are
      // paired again: new keys, new generation, an empty window
      await pair(id, 1);
      const [fresh] = await pair(id, [makeEntry({ pairId })]);
      assert.equal(seen(), 1);
      const hitsBefore = (await metrics(relay.port)).get('mte_relay_store_cache_hits_total');

      // a replay of a request sealed with the old keys, at a seq the new window
      // has not seen: the cached keys open it, the generation refuses it
      let r = await protectedRequest(id, { ...old, seq: 0n }, { url: '/api/s/replayed', seq: 1, agent });
      assert.equal(r.status, 562, `old keys refused: ${r.status} ${r.body}`);
      assert.equal(seen(), 1, 'the replay never reached the upstream');
      const hitsAfter = (await metrics(relay.port)).get('mte_relay_store_cache_hits_total');
      assert.equal(hitsAfter - hitsBefore, 1, 'the worker answered from its cache first');

      // the client's new pair works at once on the same worker
      r = await protectedRequest(id, fresh, { url: '/api/s/new', agent });
      assert.equal(r.status, 200);
      assert.equal(JSON.parse(r.opened().body.toString()).url, '/api/s/new');
      // and the old request, sent again, is still refused
      r = await protectedRequest(id, { ...old, seq: 0n }, { url: '/api/s/replayed', seq: 1, agent });
      assert.notEqual(r.status, 200);
      assert.equal(seen(), 2);

      // gone and not paired again: 560, whatever the cache held
      await pair(id, 1);
      r = await protectedRequest(id, fresh, { url: '/api/s/gone', agent });
      assert.equal(r.status, 560);
      assert.equal(seen(), 2);
    } finally { agent.destroy(); }
  });
}
