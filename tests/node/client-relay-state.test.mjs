// Relay state changes under a running mteFetch session, all transparent to the
// caller: redis FLUSHALL, relay restarts (redis and embedded store),
// CLIENT_ID_SECRET rotation with and without CLIENT_ID_SECRET_PREVIOUS, two
// relay instances sharing one Redis, several workers sharing the embedded store.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import {
  newClient, startStack, startRelay, startProxy, restartRelay, relayEnv, SECRET,
} from './lib/e2e.mjs';

let stack; let redis; let upstream;

before(async () => {
  stack = await startStack({ redis: true, relay: false }); // each test starts its relays
  ({ redis, upstream } = stack);
});

after(async () => { await stack?.stop(); });

async function ok(f, origin, path, init) {
  const r = await f(`${origin}${path}`, init);
  assert.equal(r.status, 200, path);
  const j = await r.json();
  assert.equal(j.url, path);
  return j;
}

test('redis FLUSHALL mid-session is transparent (re-pair, retry)', async () => {
  const relay = await startRelay(relayEnv(upstream, { REDIS_URL: redis.url }));
  try {
    const { f, client } = newClient();
    await ok(f, relay.url, '/api/s/1', { method: 'POST', body: 'one' });
    const pairBefore = client._state(relay.url).current.slots[0].pair.pairId;
    assert.equal(await redis.cli('FLUSHALL'), 'OK');
    await ok(f, relay.url, '/api/s/2', { method: 'POST', body: 'two' });
    assert.notEqual(client._state(relay.url).current.slots[0].pair.pairId, pairBefore, 'a new pair was made');
    await ok(f, relay.url, '/api/s/3');
  } finally { await relay.stop(); }
});

test('relay restart mid-session is transparent, with redis and with the embedded store', async () => {
  for (const env of [{ REDIS_URL: redis.url }, {}]) {
    let relay = await startRelay(relayEnv(upstream, env));
    try {
      const { f } = newClient();
      await ok(f, relay.url, '/api/r/1');
      relay = await restartRelay(relay, relayEnv(upstream, env));
      await ok(f, relay.url, '/api/r/2', { method: 'PUT', body: 'after restart' });
      await ok(f, relay.url, '/api/r/3');
    } finally { await relay.stop(); }
  }
});

test('CLIENT_ID_SECRET rotation with CLIENT_ID_SECRET_PREVIOUS is transparent; without it, one POST fails clearly', async () => {
  const NEW = 'rotated-secret-fedcba9876543210fedcba98';
  let relay = await startRelay(relayEnv(upstream, { REDIS_URL: redis.url }));
  try {
    const { f, storage } = newClient();
    await ok(f, relay.url, '/api/k/1');
    const key = `mte-relay:clientId:${relay.url}`;
    const idBefore = storage.get(key);
    relay = await restartRelay(relay, relayEnv(upstream, { REDIS_URL: redis.url, CLIENT_ID_SECRET: NEW, CLIENT_ID_SECRET_PREVIOUS: SECRET }));
    await ok(f, relay.url, '/api/k/2', { method: 'POST', body: 'with previous' });
    assert.equal(storage.get(key).slice(0, 32), idBefore.slice(0, 32), 'same client id');

    // A new page load (new client, same storage) re-validates the stored id: re-signed with the new secret.
    const second = newClient({ storage });
    await ok(second.f, relay.url, '/api/k/3');
    assert.equal(storage.get(key).slice(0, 32), idBefore.slice(0, 32));
    assert.notEqual(storage.get(key), idBefore, 're-signed with the current secret');

    relay = await restartRelay(relay, relayEnv(upstream, { REDIS_URL: redis.url, CLIENT_ID_SECRET: 'third-secret-0000111122223333444455556666' }));
    // Without the previous secret the relay cannot authenticate its 566 to a
    // client paired under the old one (PROTOCOL.md section 11): a POST is not
    // sent again, and reaches the upstream with the next try, under a new id.
    await assert.rejects(f(`${relay.url}/api/k/4`, { method: 'POST', body: 'without previous' }),
      (e) => e.code === 'UNAUTHENTICATED_ANSWER' && e.status === 566);
    assert.equal(upstream.received.filter((r) => r.url === '/api/k/4').length, 0);
    await ok(f, relay.url, '/api/k/4', { method: 'POST', body: 'without previous' });
    await ok(f, relay.url, '/api/k/5', { method: 'PUT', body: 'idempotent' });
    assert.notEqual(storage.get(key).slice(0, 32), idBefore.slice(0, 32), 'a new client id');
  } finally { await relay.stop(); }
});

test('two relay instances sharing one Redis serve alternating requests of one client', async () => {
  const env = relayEnv(upstream, { REDIS_URL: redis.url, SERVER_ID: 'e2e-shared-server-id-0123456789abcdef' });
  const a = await startRelay(env);
  const b = await startRelay(env);
  const lb = await startProxy([a, b]);
  try {
    const { f } = newClient();
    for (let i = 0; i < 10; i++) await ok(f, lb.url, `/api/lb/${i}`, i % 2 ? { method: 'POST', body: `n${i}` } : undefined);
    assert.ok(lb.perTarget[0] >= 5 && lb.perTarget[1] >= 5, `both instances served: ${lb.perTarget}`);
  } finally {
    await lb.stop();
    await a.stop();
    await b.stop();
  }
});

test('the embedded store serves several workers of one instance', async () => {
  const relay = await startRelay(relayEnv(upstream, { MAX_POOL_SIZE: '4' }));
  const proxy = await startProxy([relay], { newConnections: true });
  try {
    const { f } = newClient();
    // Two at a time: an idle pool hands sequential connections to the same
    // worker (EPOLLEXCLUSIVE wakes the first idle one), concurrent ones to two.
    for (let i = 0; i < 40; i += 2)
      await Promise.all([i, i + 1].map((j) => ok(f, proxy.url, `/api/w/${j}`, { method: 'POST', body: `w${j}` })));
    const pids = new Set(relay.lines().filter((l) => l.status === 200 && l.pid).map((l) => l.pid));
    assert.ok(pids.size >= 2, `requests were served by ${pids.size} worker(s)`);
    const setup = proxy.requests.filter((r) => r.url === '/api/mte-relay' || r.url === '/api/mte-pair');
    assert.deepEqual(setup.map((r) => r.url), ['/api/mte-relay', '/api/mte-pair'], 'one client id and one pairing for the whole session');
  } finally {
    await proxy.stop();
    await relay.stop();
  }
});
