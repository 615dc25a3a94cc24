// Pairing limits (PROTOCOL.md "Pairing limits", "Fresh pairs"; issue 17),
// tried as an attacker would against the real relay: a flood of pairings
// with a fresh client id each, then one client id pairing 16 entries per
// request, against the embedded store and against Redis.  An existing user's
// pair survives and keeps working, the limits answer 429, and Redis memory
// stays under a bound computed from the settings.  Then TRUSTED_PROXIES, each
// budget at its limit and limit+1, and what mteFetch makes of a 429.

import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { spawnSync } from 'node:child_process';
import { startRelay, startUpstream, startRedis } from './lib/harness.mjs';
import { newIdentity, makeEntry, pair, pairRequest, protectedRequest, randomPairId } from './lib/raw.mjs';
import { newClient } from './lib/e2e.mjs';
import { metrics } from './lib/pool.mjs';

const SECRET = `limits-${randomBytes(16).toString('hex')}`;
const started = [];
let upstream;

after(async () => {
  for (const p of started.reverse()) await p.stop();
});

async function relayWith(env) {
  if (!upstream) { upstream = await startUpstream(); started.push(upstream); }
  const r = await startRelay({ UPSTREAM: upstream.url, CLIENT_ID_SECRET: SECRET, METRICS: 'true', ...env });
  started.push(r);
  return r;
}

// One X-Wing key for every entry: the relay encapsulates to each entry anyway,
// and the flood is about the relay's work, not the sender's.
const shared = makeEntry().entry;
const entries = (n) => Array.from({ length: n }, () => ({ ...shared, pairId: randomPairId() }));

/** A user who paired and made a protected request: its pair is in use. */
async function activeUser(relay) {
  const id = await newIdentity(relay.url);
  const [p] = await pair(id, 1);
  const r = await protectedRequest(id, p, { url: '/api/me' });
  assert.equal(r.status, 200);
  return { id, p };
}

async function stillWorks(relay, user) {
  const r = await protectedRequest(user.id, user.p, { url: '/api/me/again' });
  assert.equal(r.status, 200, `the user's pair still works: ${r.status} ${r.body}`);
  const opened = r.opened();
  assert.equal(JSON.parse(opened.body.toString()).url, '/api/me/again');
}

/**
 * requests pairing requests of n entries from `senders` concurrent senders:
 * each with a fresh client id, or all with `identity`.  Returns the statuses
 * and the bodies of the 429s.
 */
async function flood(relay, { requests, n = 1, senders = 8, identity = null, headers = {} }) {
  const out = { ok: 0, refused: [], other: [] };
  let next = 0;
  async function sender() {
    while (next < requests) {
      next++;
      const id = identity || await newIdentity(relay.url);
      const r = await pairRequest(id, entries(n), { headers });
      if (r.status === 200) out.ok++;
      else if (r.status === 429) out.refused.push({ body: JSON.parse(r.body), retryAfter: r.headers['retry-after'] });
      else out.other.push(`${r.status} ${r.body}`);
    }
  }
  await Promise.all(Array.from({ length: senders }, sender));
  return out;
}

const sample = (m, name) => m.get(name);

test('embedded store: a flood of fresh client ids is held by the address budget and evicts only fresh pairs', async () => {
  const relay = await relayWith({ STORE_CAPACITY: '64', PAIR_RATE_PER_ADDRESS: '200', PAIR_RATE_PER_INSTANCE: '0' });
  const user = await activeUser(relay);
  const f = await flood(relay, { requests: 300 });
  assert.deepEqual(f.other, []);
  assert.equal(f.ok, 199, 'the address budget of 200 entries, one taken by the user');
  assert.equal(f.refused.length, 101);
  for (const r of f.refused) {
    assert.equal(r.body.code, 429);
    assert.equal(r.body.error, 'too many pairings');
    assert.equal(r.body.limit, 'address');
    assert.ok(r.body.retryAfter >= 1 && r.body.retryAfter <= 60, JSON.stringify(r.body));
    assert.equal(r.retryAfter, String(r.body.retryAfter));
  }
  await stillWorks(relay, user);
  const m = await metrics(relay.port);
  assert.equal(sample(m, 'mte_relay_store_evictions_total{kind="used"}'), 0);
  assert.equal(sample(m, 'mte_relay_store_evictions_total{kind="fresh"}'), 200 - 64);
  assert.equal(sample(m, 'mte_relay_pairings_refused_total{limit="address"}'), 101);
  assert.equal(sample(m, 'mte_relay_pairings_total'), 200);
});

test('embedded store: one client id pairing 16 entries per request is held by the client budget', async () => {
  const relay = await relayWith({ PAIR_RATE_PER_ADDRESS: '0', PAIR_RATE_PER_INSTANCE: '0' });
  const user = await activeUser(relay);
  const attacker = await newIdentity(relay.url);
  const f = await flood(relay, { requests: 40, n: 16, identity: attacker });
  assert.deepEqual(f.other, []);
  assert.equal(f.ok, 4, 'PAIR_RATE_PER_CLIENT 64 = four requests of 16');
  assert.equal(f.refused.length, 36);
  assert.ok(f.refused.every((r) => r.body.limit === 'client'));
  await stillWorks(relay, user);
  const m = await metrics(relay.port);
  assert.equal(sample(m, 'mte_relay_pairings_total'), 1 + 64, 'refused requests encapsulated nothing');
});

function redisCmd(port, ...args) {
  const r = spawnSync('redis-cli', ['-p', String(port), '--raw', ...args], { encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
  return r.stdout.trim();
}

test('Redis: the flood grows memory only within the budgets, and its pairs live FRESH_PAIR_TTL', async () => {
  const redis = await startRedis();
  started.push(redis);
  const env = { REDIS_URL: redis.url, PAIR_RATE_PER_ADDRESS: '150', PAIR_RATE_PER_INSTANCE: '0', FRESH_PAIR_TTL: '120' };
  const relay = await relayWith(env);
  const user = await activeUser(relay);
  const memBefore = Number(/used_memory:(\d+)/.exec(redisCmd(redis.port, 'INFO', 'memory'))[1]);
  const f = await flood(relay, { requests: 400 });
  assert.deepEqual(f.other, []);
  assert.equal(f.ok, 149);
  assert.equal(f.refused.length, 251);
  // the attacker, now with one id and 16 entries a request, from another
  // relay instance on the same Redis: the address budget is shared
  const second = await relayWith(env);
  const more = await flood(second, { requests: 20, n: 16, identity: await newIdentity(second.url) });
  assert.equal(more.ok, 0, 'the address budget is spent on every instance');
  assert.ok(more.refused.every((r) => r.body.limit === 'address'));
  await stillWorks(relay, user);

  // Bound from the settings: at most PAIR_RATE_PER_ADDRESS pairs were made,
  // each with its client id's index and client rate counter (60 s), plus
  // the address counters.
  const pairs = Number(redisCmd(redis.port, 'EVAL',
    "return #redis.call('KEYS', ARGV[1])", '0', 'mte:*:p:*'));
  assert.equal(pairs, 150, 'the user\'s pair and the 149 admitted');
  const keys = Number(redisCmd(redis.port, 'DBSIZE'));
  assert.ok(keys <= 150 * 3 + 8, `keys ${keys}`);
  const memAfter = Number(/used_memory:(\d+)/.exec(redisCmd(redis.port, 'INFO', 'memory'))[1]);
  const bound = 150 * 3072 + 64 * 1024;
  assert.ok(memAfter - memBefore <= bound, `memory grew ${memAfter - memBefore} B, bound ${bound} B`);
  // every pair that never carried a request expires within FRESH_PAIR_TTL;
  // the user's lives STATE_TTL
  const ttls = redisCmd(redis.port, 'EVAL',
    "local t={} for _,k in ipairs(redis.call('KEYS', ARGV[1])) do t[#t+1]=redis.call('PTTL',k) end return t",
    '0', 'mte:*:p:*').split('\n').map(Number);
  const long = ttls.filter((t) => t > 120000);
  assert.equal(long.length, 1, 'only the used pair outlives FRESH_PAIR_TTL');
  assert.ok(long[0] > 86000000, `the used pair has STATE_TTL: ${long[0]}`);
  assert.ok(ttls.every((t) => t > 0), 'every pair expires');
});

test('TRUSTED_PROXIES: X-Forwarded-For counts only from a trusted proxy, and names the peer in the log', async () => {
  // the peer (127.0.0.1) is not trusted: a spoofed X-Forwarded-For changes nothing
  let relay = await relayWith({ TRUSTED_PROXIES: '10.0.0.0/8', PAIR_RATE_PER_ADDRESS: '3', PAIR_RATE_PER_CLIENT: '0' });
  let f = await flood(relay, { requests: 6, senders: 1, headers: {} });
  for (let i = 0; i < 3; i++) {
    const id = await newIdentity(relay.url);
    const r = await pairRequest(id, entries(1), { headers: { 'x-forwarded-for': `198.51.100.${i + 10}` } });
    assert.equal(r.status, 429, 'a spoofed address does not get a budget of its own');
  }
  assert.equal(f.ok, 3);
  await relay.waitLog((l) => l.msg === 'request' && l.status === 429);
  assert.ok(relay.lines().filter((l) => l.msg === 'request').every((l) => l.peer === '127.0.0.1'));

  // behind a trusted proxy (the loopback peer), the client the proxy names
  relay = await relayWith({ TRUSTED_PROXIES: '127.0.0.1', PAIR_RATE_PER_ADDRESS: '3', PAIR_RATE_PER_CLIENT: '0' });
  const via = (xff) => ({ 'x-forwarded-for': xff });
  f = await flood(relay, { requests: 4, senders: 1, headers: via('198.51.100.1') });
  assert.equal(f.ok, 3);
  assert.equal(f.refused.length, 1);
  f = await flood(relay, { requests: 3, senders: 1, headers: via('198.51.100.2') });
  assert.equal(f.ok, 3, 'another client behind the proxy has its own budget');
  // the client claims an address, the proxy appends the real one: the real one counts
  f = await flood(relay, { requests: 1, senders: 1, headers: via('203.0.113.50, 198.51.100.1') });
  assert.equal(f.refused.length, 1);
  const peers = new Set(relay.lines().filter((l) => l.msg === 'request' && l.path === '/api/mte-pair').map((l) => l.peer));
  assert.deepEqual([...peers].sort(), ['198.51.100.1', '198.51.100.2']);
});

test('each budget at its limit and at limit + 1; a refusal encapsulates and stores nothing', async () => {
  const one = async (relay, n, id) => pairRequest(id || await newIdentity(relay.url), entries(n));
  // instance: n > limit is refused whatever the clock says
  let relay = await relayWith({ PAIR_RATE_PER_INSTANCE: '16' });
  assert.equal((await one(relay, 16)).status, 200, 'at the limit');
  relay = await relayWith({ PAIR_RATE_PER_INSTANCE: '15' });
  let r = await one(relay, 16);
  assert.equal(r.status, 429, 'limit + 1');
  assert.equal(JSON.parse(r.body).limit, 'instance');
  assert.equal(r.headers['retry-after'], '1');
  assert.equal(r.headers['content-type'], 'application/json');
  // client
  relay = await relayWith({ PAIR_RATE_PER_CLIENT: '5' });
  const id = await newIdentity(relay.url);
  assert.equal((await one(relay, 5, id)).status, 200, 'at the limit');
  r = await one(relay, 1, id);
  assert.equal(r.status, 429, 'limit + 1');
  assert.deepEqual(Object.keys(JSON.parse(r.body)), ['error', 'code', 'limit', 'retryAfter']);
  assert.equal(JSON.parse(r.body).limit, 'client');
  // the window is PAIR_RATE_CLIENT_WINDOW_S (60): what is left of it, in whole seconds
  const left = JSON.parse(r.body).retryAfter;
  assert.ok(Number.isInteger(left) && left >= 1 && left <= 60, `retryAfter ${left}`);
  assert.ok(left > 1, `retryAfter ${left}: the client window is not the instance's 1 s`);
  assert.equal(r.headers['retry-after'], String(left));
  assert.equal((await one(relay, 5)).status, 200, 'another client id has its own budget');
  // address
  relay = await relayWith({ PAIR_RATE_PER_ADDRESS: '5', PAIR_RATE_PER_CLIENT: '0' });
  assert.equal((await one(relay, 2)).status, 200);
  assert.equal((await one(relay, 3)).status, 200, 'at the limit');
  r = await one(relay, 1);
  assert.equal(r.status, 429, 'limit + 1');
  assert.equal(JSON.parse(r.body).limit, 'address');
  const m = await metrics(relay.port);
  assert.equal(sample(m, 'mte_relay_pairings_total'), 5);
  assert.equal(sample(m, 'mte_relay_pairings_refused_total{limit="address"}'), 1);
  // the instance budget is taken last: what the address budget refuses
  // (no encapsulation) does not spend it
  relay = await relayWith({ TRUSTED_PROXIES: '127.0.0.1', PAIR_RATE_PER_ADDRESS: '5', PAIR_RATE_PER_INSTANCE: '16' });
  const from = async (addr, n) => pairRequest(await newIdentity(relay.url), entries(n), { headers: { 'x-forwarded-for': addr } });
  r = await from('198.51.100.1', 16);
  assert.equal(JSON.parse(r.body).limit, 'address');
  assert.equal((await from('198.51.100.2', 5)).status, 200, 'the instance budget was not spent by the refusal');
  // 0 turns a budget off
  relay = await relayWith({ PAIR_RATE_PER_CLIENT: '0', PAIR_RATE_PER_INSTANCE: '0' });
  const lone = await newIdentity(relay.url);
  for (let i = 0; i < 5; i++) assert.equal((await one(relay, 16, lone)).status, 200);
});

test('mteFetch: a 429 on pairing is PAIRING_RATE_LIMITED with retryAfter, and no pairing is sent again before it', async () => {
  const relay = await relayWith({ PAIR_RATE_PER_INSTANCE: '1', CORS_ORIGINS: 'http://app.example' });
  const { f, client } = newClient();
  const limited = (e) => {
      assert.equal(e.code, 'PAIRING_RATE_LIMITED');
      assert.equal(e.name, 'MtePairingError');
      assert.equal(e.status, 429);
      assert.ok(e.retryAfter >= 1 && e.retryAfter <= 1, `retryAfter ${e.retryAfter}`);
      assert.equal(e.relayError.limit, 'instance');
      return true;
  };
  // init pairs at once: refused (2 entries, a budget of 1 per second)
  await assert.rejects(client.initMteRelayClient({ numberOfPairs: 2, relayUrl: relay.url }), limited);
  for (let i = 0; i < 3; i++) await assert.rejects(f(`${relay.url}/api/x${i}`), limited);
  const m = await metrics(relay.port);
  assert.equal(sample(m, 'mte_relay_pairings_refused_total{limit="instance"}'), 1,
    'one pairing request reached the relay; the others failed unsent');
  assert.equal(upstream.received.filter((q) => q.url.startsWith('/api/x')).length, 0);
});
