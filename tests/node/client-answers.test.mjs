// Authenticated answers (PROTOCOL.md section 11, extension a): no answer a
// party on the path forges can make mteFetch send a POST twice; a relay that
// lost its state still costs the user nothing (an authenticated 560).  The
// wire format is checked with raw.mjs, an independent client written from
// the protocol text; v1 clients keep getting v1 answers.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createHmac, randomBytes } from 'node:crypto';
import {
  newClient, startStack, send, isProtected, SECRET,
} from './lib/e2e.mjs';
import {
  newIdentity, makeEntry, pairRequest, finishPair, protectedRequest, messageKey, openChunk, ITEM_META,
} from './lib/raw.mjs';

let stack;

before(async () => { stack = await startStack({ proxy: true }); });
after(async () => { await stack?.stop(); });

const posts = (path) => stack.upstream.received.filter((r) => r.url === path).length;
const forged = (status) => ({
  status, headers: { 'content-type': 'application/json' },
  body: Buffer.from(JSON.stringify({ error: 'forged', code: status })),
});

/** The proxy answers the next protected request with answer(rec) (once) after the relay saw it. */
function trapNext(proxy, answer) {
  let left = 1;
  proxy.onResponse = async (rec, resp) => {
    if (!isProtected(rec) || left === 0) return undefined;
    left -= 1;
    return answer(rec, resp);
  };
  return () => { proxy.onResponse = null; };
}

for (const status of [560, 570, 566, 562]) {
  test(`a forged ${status} after an accepted POST: the upstream runs it once, the client reports it`, async () => {
    const { proxy } = stack;
    const { f } = newClient();
    await (await f(`${proxy.url}/api/warm`)).arrayBuffer();
    const path = `/api/pay/${status}`;
    const untrap = trapNext(proxy, () => forged(status));
    try {
      await assert.rejects(f(`${proxy.url}${path}`, { method: 'POST', body: 'amount=100' }),
        (e) => e.code === 'UNAUTHENTICATED_ANSWER' && e.status === status);
    } finally { untrap(); }
    assert.equal(posts(path), 1, 'the relay forwarded it once and nobody sent it again');
  });
}

test('a forged refusal with a made-up tag is still unauthenticated', async () => {
  const { proxy } = stack;
  const { f } = newClient();
  await (await f(`${proxy.url}/api/warm`)).arrayBuffer();
  const fake = forged(560);
  fake.headers['x-mte-relay-auth'] = randomBytes(32).toString('hex');
  const untrap = trapNext(proxy, () => fake);
  try {
    await assert.rejects(f(`${proxy.url}/api/pay/faketag`, { method: 'PATCH', body: 'x' }),
      (e) => e.code === 'UNAUTHENTICATED_ANSWER');
  } finally { untrap(); }
  assert.equal(posts('/api/pay/faketag'), 1);
});

for (const status of [560, 570, 566, 562]) {
  test(`a forged ${status} to a GET: retried once as before (idempotent)`, async () => {
    const { proxy } = stack;
    const { f } = newClient();
    const path = `/api/read/${status}`;
    const untrap = trapNext(proxy, () => forged(status));
    try {
      const r = await f(`${proxy.url}${path}`);
      assert.equal(r.status, 200);
      await r.arrayBuffer();
    } finally { untrap(); }
    assert.equal(posts(path), 2, 'the forged answer hid the first; the retry is the second');
  });
}

test('the answer dropped and the request replayed: the genuine, sealed 570 says ALREADY_RECEIVED', async () => {
  const { proxy, relay } = stack;
  const { f } = newClient();
  const untrap = trapNext(proxy, async (rec) => {
    const again = await send(relay.url, rec);
    assert.equal(again.status, 570);
    assert.ok(again.headers['x-mte-relay'], 'sealed: the relay held the message keys');
    return again;
  });
  try {
    await assert.rejects(f(`${proxy.url}/api/order`, { method: 'POST', body: 'item=1' }),
      (e) => e.code === 'ALREADY_RECEIVED' && e.status === 570);
  } finally { untrap(); }
  assert.equal(posts('/api/order'), 1);
});

test('the answer dropped and a tampered copy replayed: a genuine tagged 562 is not a reason to send the POST again', async () => {
  const { proxy, relay } = stack;
  const { f } = newClient();
  await (await f(`${proxy.url}/api/warm`)).arrayBuffer();
  const untrap = trapNext(proxy, async (rec) => {
    const eh = Buffer.from(rec.headers['x-mte-relay-eh'], 'base64url');
    eh[2] ^= 1;
    const again = await send(relay.url, { ...rec, headers: { ...rec.headers, 'x-mte-relay-eh': eh.toString('base64url') } });
    assert.equal(again.status, 562);
    assert.match(again.headers['x-mte-relay-auth'] || '', /^[0-9a-f]{64}$/, 'tagged');
    return again;
  });
  try {
    await assert.rejects(f(`${proxy.url}/api/order2`, { method: 'POST', body: 'item=2' }),
      (e) => e.code === 'DECODE_FAILED' && e.status === 562);
  } finally { untrap(); }
  assert.equal(posts('/api/order2'), 1);
});

test('a relay restart (embedded store): the POST goes through once, after an authenticated 560', async () => {
  const { f } = newClient();
  const url = stack.relay.url;
  await (await f(`${url}/api/warm`)).arrayBuffer();
  await stack.restartRelay();                  // same port, so the same origin; every pair is gone
  const before = posts('/api/after-restart');
  const r = await f(`${url}/api/after-restart`, { method: 'POST', body: 'x=1' });
  assert.equal(r.status, 200);
  await r.arrayBuffer();
  assert.equal(posts('/api/after-restart') - before, 1, 'exactly once');
});

test('Redis flushed (FLUSHALL): the POST goes through once, after an authenticated 560', async () => {
  const own = await startStack({ redis: true });
  try {
    const { f } = newClient();
    const url = own.relay.url;
    await (await f(`${url}/api/warm`)).arrayBuffer();
    assert.equal(await own.redis.cli('FLUSHALL'), 'OK');
    const r = await f(`${url}/api/after-flush`, { method: 'POST', body: 'x=2' });
    assert.equal(r.status, 200);
    await r.arrayBuffer();
    assert.equal(own.upstream.received.filter((q) => q.url === '/api/after-flush').length, 1);
  } finally { await own.stop(); }
});

test('the 560 after a restart carries tags under both secrets during a rotation, and the client verifies the old one', async () => {
  const { f } = newClient();
  const url = stack.relay.url;
  await (await f(`${url}/api/warm`)).arrayBuffer();   // paired under SECRET
  const rotated = 'rotated-client-secret-0123456789abcdef0123';
  await stack.restartRelay({ CLIENT_ID_SECRET: rotated, CLIENT_ID_SECRET_PREVIOUS: SECRET });
  try {
    const before = posts('/api/rotated');
    const r = await f(`${url}/api/rotated`, { method: 'POST', body: 'y=2' });
    assert.equal(r.status, 200);
    await r.arrayBuffer();
    assert.equal(posts('/api/rotated') - before, 1);
  } finally {
    await stack.restartRelay();                // the stack's own settings again
  }
});

// ---- the wire, with an independent client written from PROTOCOL.md ----

const hmac = (key, msg) => createHmac('sha256', key).update(msg).digest();
const answerKeyOf = (secret, clientId) => hmac(secret, `mte-relay/1 answer-key ${clientId}`);
const tagOf = (key, clientId, pairId, seq, method, status) =>
  hmac(key, `mte-relay/1 answer ${clientId} ${pairId} ${seq} ${method} ${status}`).toString('hex');

async function rawPair(url, answers) {
  const identity = await newIdentity(url);
  const made = makeEntry();
  if (answers) made.entry.answers = true;
  const r = await pairRequest(identity, [made.entry]);
  assert.equal(r.status, 200, r.body);
  const [answer] = JSON.parse(r.body);
  return { identity, answer, p: finishPair(identity, made.secret, answer) };
}

test('wire: answerKey opens under mk_res of seq 0 to HMAC(secret, "mte-relay/1 answer-key " clientId); tags match', async () => {
  const url = stack.relay.url;
  const { identity, answer, p } = await rawPair(url, true);
  const key = openChunk(messageKey(p.kRes, 'res', 0), ITEM_META, true, 0,
    Buffer.from(`mte-relay/1 answer-key ${identity.clientId} ${p.pairId}`), Buffer.from(answer.answerKey, 'base64url'));
  assert.deepEqual(key, answerKeyOf(SECRET, identity.clientId));

  // an unknown pair: 560 in the clear, tagged
  const ghost = { ...p, pairId: 'ghostghostghostghost', seq: 0n };
  const r560 = await protectedRequest(identity, ghost, { flags: 'ua', method: 'POST' });
  assert.equal(r560.status, 560);
  assert.equal(r560.headers['x-mte-relay-auth'], tagOf(key, identity.clientId, ghost.pairId, r560.seq, 'POST', 560));

  // a meta that fails: 562, tagged
  const r562 = await protectedRequest(identity, p, { flags: 'ua', alterMeta: (m) => { m[0] ^= 1; return m; } });
  assert.equal(r562.status, 562);
  assert.equal(r562.headers['x-mte-relay-auth'], tagOf(key, identity.clientId, p.pairId, r562.seq, 'GET', 562));

  // an accepted request replayed: 570, sealed, "from": "relay"
  const ok = await protectedRequest(identity, p, { flags: 'ua', url: '/api/raw' });
  assert.equal(ok.status, 200);
  const replay = await protectedRequest(identity, p, { flags: 'ua', url: '/api/raw', seq: ok.seq });
  assert.equal(replay.status, 570);
  const opened = replay.opened();
  assert.equal(opened.meta.from, 'relay');
  assert.equal(JSON.parse(opened.body.toString()).code, 570);
  assert.equal(replay.headers['x-mte-relay-auth'], undefined, 'sealed, so no tag');
});

test('wire: a v1 client (no "answers", no flag a) gets v1 answers: no answerKey, a clear 570, no tags', async () => {
  const url = stack.relay.url;
  const { identity, answer, p } = await rawPair(url, false);
  assert.equal(answer.answerKey, undefined);
  assert.deepEqual(Object.keys(answer).sort(), ['ciphertext', 'nonce', 'pairId']);
  const ok = await protectedRequest(identity, p, { url: '/api/v1' });
  assert.equal(ok.status, 200);
  const replay = await protectedRequest(identity, p, { url: '/api/v1', seq: ok.seq });
  assert.equal(replay.status, 570);
  assert.equal(replay.headers['x-mte-relay'], undefined, 'in the clear, as v1');
  assert.equal(replay.headers['x-mte-relay-auth'], undefined);
  assert.deepEqual(JSON.parse(replay.body), { error: 'replayed or stale sequence number', code: 570 });
  const ghost = await protectedRequest(identity, { ...p, pairId: 'ghostghostghostghost', seq: 0n }, {});
  assert.equal(ghost.status, 560);
  assert.equal(ghost.headers['x-mte-relay-auth'], undefined);
});
