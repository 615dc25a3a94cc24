// protocol-regressions.test.mjs - relay bugs found while writing
// protocol-limits.test.mjs, kept as regression tests: a refused pairing
// stored earlier entries; a JSON \u0000 cut a pairId short; a clear
// Content-Type of a sealed body was dropped.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { newClient, startStack, startRelay, startUpstream } from './lib/e2e.mjs';
import { newIdentity, makeEntry, pairRequest, protectedRequest, randomPairId } from './lib/raw.mjs';

let stack; let upstream; let relay;
before(async () => { stack = await startStack({ upstream: startUpstream }); ({ upstream, relay } = stack); });
after(async () => { await stack?.stop(); });

// 560: no pair clientId+pairId in the store; 562: there is one (its keys are unknown to us)
async function pairState(id, pairId) {
  const fake = { pairId, kReq: randomBytes(32), kRes: randomBytes(32), seq: 0n };
  return (await protectedRequest(id, fake, { url: '/x' })).status;
}

test('a pairing request refused for a later entry stores none of its entries', async () => {
  const id = await newIdentity(relay.url);
  const line = execFileSync('gzip', ['-dc', new URL('../../../shared/vectors/mlkem768-modulus-full.txt.gz', import.meta.url).pathname], { maxBuffer: 4 << 20 }).toString().split('\n')[0];
  const good = makeEntry();
  const bad = makeEntry();
  bad.entry.publicKey = Buffer.concat([Buffer.from(line, 'hex'), randomBytes(32)]).toString('base64url');
  const r = await pairRequest(id, [good.entry, bad.entry]);
  assert.equal(r.status, 400);
  assert.equal(await pairState(id, good.entry.pairId), 560, 'docs/PROTOCOL.md: "a key that fails the check gets 400 ... and nothing is stored in that case"');
});

test('a JSON \\u0000 in pairId or personalization is refused, never cut short', async () => {
  const id = await newIdentity(relay.url);
  const p = makeEntry({ pairId: `${randomPairId(16)}\u0000zz` });
  let r = await pairRequest(id, [p.entry]);
  assert.equal(r.status, 400, `pairId with NUL answered ${r.status}: ${r.body.toString().slice(0, 60)}`);
  const s = makeEntry({ personalization: 'ab\u0000cd' });
  r = await pairRequest(id, [s.entry]);
  assert.equal(r.status, 400, `personalization with NUL answered ${r.status}`);
});

test('with encodeHeaders false the clear Content-Type of a sealed body reaches the upstream', async () => {
  const { f } = newClient();
  for (const encodeHeaders of [false, ['x-other']]) {
    const r = await f(`${relay.url}/p`, { method: 'POST', body: '{"a":1}', headers: { 'content-type': 'application/json' } }, { encodeHeaders });
    assert.equal(r.status, 200);
    const j = await r.json();
    // the client sends content-type in the clear; the relay once dropped it
    assert.equal(j.headers['content-type'], 'application/json', `encodeHeaders ${JSON.stringify(encodeHeaders)}`);
  }
});

test('a client can neither replace X-Forwarded-For nor a HEADERS field, sealed or clear', async () => {
  const r2 = await startRelay({ UPSTREAM: upstream.url, HEADERS: '{"x-relay-auth":"from-relay"}', PASS_THROUGH_ROUTES: '/open/*' });
  try {
    const { f } = newClient();
    const spoof = { 'x-forwarded-for': '6.6.6.6', 'x-relay-auth': 'spoofed' };
    for (const encodeHeaders of [true, false]) {
      const r = await f(`${r2.url}/p`, { method: 'POST', body: 'x', headers: spoof }, { encodeHeaders });
      assert.equal(r.status, 200);
      const j = await r.json();
      assert.equal(j.headers['x-relay-auth'], 'from-relay', `encodeHeaders ${encodeHeaders}`);
      assert.equal(j.headers['x-forwarded-for'], encodeHeaders ? '127.0.0.1' : '6.6.6.6, 127.0.0.1',
        'a sealed X-Forwarded-For is dropped; a clear one (as a load balancer sets it) starts the chain');
    }
    const open = await fetch(`${r2.url}/open/x`, { headers: spoof });
    const j = await open.json();
    assert.equal(j.headers['x-relay-auth'], 'from-relay', 'pass-through too');
    assert.equal(j.headers['x-forwarded-for'], '6.6.6.6, 127.0.0.1');
  } finally {
    await r2.stop();
  }
});

test('a hop between page and relay cannot add clear fields to an accepted request', async () => {
  const { pair } = await import('./lib/raw.mjs');
  const id = await newIdentity(relay.url);
  const [p] = await pair(id, 1);
  const added = { 'x-http-method-override': 'DELETE', 'x-user': 'admin', cookie: 'session=abc',
    'user-agent': 'test-agent', 'x-app': 'clear-on-purpose' };
  const r = await protectedRequest(id, p, { method: 'POST', url: '/added', body: 'x', clear: added });
  assert.equal(r.status, 200);
  let got = upstream.received.at(-1).headers;
  assert.equal(got['x-http-method-override'], undefined, 'an added field is dropped');
  assert.equal(got['x-user'], undefined);
  assert.equal(got['x-app'], undefined, 'not named in the sealed meta: dropped');
  assert.equal(got.cookie, 'session=abc', 'browser-set fields pass');
  assert.equal(got['user-agent'], 'test-agent');
  // Named in the sealed "clear" list: the client sent it in the clear on purpose.
  const meta = JSON.stringify({ url: '/named', headers: {}, clear: ['x-app'] });
  const r2 = await protectedRequest(id, p, { method: 'POST', url: '/named', meta, body: 'y', clear: added });
  assert.equal(r2.status, 200);
  got = upstream.received.at(-1).headers;
  assert.equal(upstream.received.at(-1).url, '/named');
  assert.equal(got['x-app'], 'clear-on-purpose');
  assert.equal(got['x-user'], undefined);
  // A malformed clear list is a sealed 400.
  const bad = await protectedRequest(id, p, { url: '/bad', meta: JSON.stringify({ url: '/bad', headers: {}, clear: ['bad name'] }) });
  assert.equal(bad.status, 400);
  assert.equal((await bad.opened()).status, 400);
});

test('pairing again with a live pairId is refused, so a seen request cannot be replayed into a fresh window', async () => {
  const { pair } = await import('./lib/raw.mjs');
  const id = await newIdentity(relay.url);
  const [p] = await pair(id, 1);
  const first = await protectedRequest(id, p, { seq: 1, url: '/once' });
  assert.equal(first.status, 200);
  const again = makeEntry({ pairId: p.pairId });
  const r = await pairRequest(id, [again.entry]);
  assert.equal(r.status, 400);
  assert.match(JSON.parse(r.body).error, /pairId already in use/);
  const before = upstream.received.filter((q) => q.url === '/once').length;
  const replay = await protectedRequest(id, p, { seq: 1, url: '/once' });
  assert.equal(replay.status, 570);
  assert.equal(upstream.received.filter((q) => q.url === '/once').length, before);
});
