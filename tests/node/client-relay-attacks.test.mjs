// Attacks between mteFetch and the real relay, by a proxy that rewrites
// traffic, each with the upstream proven untouched: replay (570), a flipped
// bit in meta and in the first body chunk (562), a dropped final chunk
// (upstream request aborted, never completed), method or clear target
// swapped (562), a response swapped between two requests (client rejects).

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import {
  newClient, startStack, send, seenAt, sleep, isProtected,
} from './lib/e2e.mjs';

let stack; let upstream; let relay; let proxy;

before(async () => {
  stack = await startStack({ redis: true, proxy: true });
  ({ upstream, relay, proxy } = stack);
});

after(async () => { await stack?.stop(); });

function reset() { proxy.onRequest = null; proxy.onResponse = null; }

// Refused with 562, whether the relay seals that answer (after acceptance) or not.
async function expect562(promise) {
  try {
    const r = await promise;
    assert.equal(r.status, 562);
  } catch (e) {
    assert.equal(e.code, 'DECODE_FAILED', e.message);
    assert.equal(e.status, 562);
    assert.equal(e.relayError.code, 562);
  }
}

test('a replayed request gets 570 and never reaches the upstream twice', async () => {
  reset();
  const { f } = newClient();
  const r = await f(`${proxy.url}/api/replay-me`, { method: 'POST', body: 'pay 10 EUR' });
  assert.equal(r.status, 200);
  await r.text();
  assert.equal(seenAt(upstream, '/api/replay-me').length, 1);
  const captured = proxy.requests.filter(isProtected).at(-1);
  const again = await send(relay.url, captured);
  assert.equal(again.status, 570);
  // the client asked for authenticated answers (flag a): the 570 is sealed
  assert.ok(captured.headers['x-mte-relay'].split(',')[3].includes('a'));
  assert.ok(again.headers['x-mte-relay'] && again.headers['x-mte-relay-eh'], 'sealed');
  await sleep(100);
  assert.equal(seenAt(upstream, '/api/replay-me').length, 1);
});

test('a flipped bit in the meta chunk gets 562; the upstream sees nothing', async () => {
  reset();
  const { f } = newClient();
  proxy.onRequest = (rec) => {
    if (!isProtected(rec)) return;
    const eh = Buffer.from(rec.headers['x-mte-relay-eh'], 'base64url');
    eh[3] ^= 0x01;
    rec.headers['x-mte-relay-eh'] = eh.toString('base64url');
  };
  await expect562(f(`${proxy.url}/api/meta-flip`, { method: 'POST', body: 'x' }));
  await sleep(100);
  assert.equal(seenAt(upstream, '/api/meta-flip').length, 0);
});

test('a flipped bit in the first body chunk gets 562; the upstream never gets a complete request', async () => {
  reset();
  const { f } = newClient();
  proxy.onRequest = (rec) => { if (isProtected(rec) && rec.body.length) rec.body[10] ^= 0x80; };
  await expect562(f(`${proxy.url}/api/body-flip`, { method: 'POST', body: new Blob([Buffer.alloc(150000, 1)]) }));
  await sleep(200);
  assert.equal(seenAt(upstream, '/api/body-flip').filter((r) => r.complete).length, 0);
});

test('a dropped final chunk aborts the upstream request: it is never completed', async () => {
  reset();
  const { f } = newClient();
  const len = 2 * 65536 + 1000; // two full chunks, then a final chunk of 1000 bytes
  proxy.onRequest = (rec) => {
    if (!isProtected(rec) || !rec.body.length) return;
    rec.body = rec.body.subarray(0, 2 * 65552);
    rec.chunked = true; // so the relay cannot tell from a Content-Length
  };
  let status;
  try { status = (await f(`${proxy.url}/api/truncated`, { method: 'POST', body: new Blob([Buffer.alloc(len, 2)]) })).status; } catch (e) { status = e.status; }
  assert.ok(status >= 400, `refused (${status})`);
  await sleep(300);
  const recs = seenAt(upstream, '/api/truncated');
  assert.equal(recs.filter((r) => r.complete).length, 0, 'no complete upstream request');
  for (const r of recs) assert.ok(r.aborted, 'a started upstream request was aborted');
});

test('method swapped in transit gets 562; the upstream sees nothing', async () => {
  reset();
  const { f } = newClient();
  proxy.onRequest = (rec) => { if (isProtected(rec)) rec.method = 'PUT'; };
  // The relay's 562 is tagged for the method it saw (PUT), so to the client,
  // which sent a POST, the answer is not authenticated: not sent again.
  await assert.rejects(f(`${proxy.url}/api/method-swap`, { method: 'POST', body: 'x' }),
    (e) => e.code === 'UNAUTHENTICATED_ANSWER' && e.status === 562);
  assert.equal(proxy.responses.at(-1).status, 562, 'the relay itself answered 562');
  await sleep(100);
  assert.equal(seenAt(upstream, '/api/method-swap').length, 0);
});

test('clear request-target swapped in transit gets 562; the upstream sees neither path', async () => {
  reset();
  const { f } = newClient();
  proxy.onRequest = (rec) => { if (isProtected(rec)) rec.url = '/api/target-b'; };
  await expect562(f(`${proxy.url}/api/target-a`, {}, { encodeUrls: false }));
  await sleep(100);
  assert.equal(seenAt(upstream, '/api/target-a').length + seenAt(upstream, '/api/target-b').length, 0);
});

test('a response swapped between two requests is rejected by the client', async () => {
  reset();
  const { f } = newClient();
  let first = null;
  proxy.onResponse = (rec, resp) => {
    if (!isProtected(rec)) return resp;
    if (!first) { first = resp; return resp; }
    return first; // answer the second request with the first one's sealed response
  };
  const r1 = await f(`${proxy.url}/api/swap-1`);
  assert.equal((await r1.json()).url, '/api/swap-1');
  await assert.rejects(f(`${proxy.url}/api/swap-2`), (e) => { assert.equal(e.code, 'RESPONSE_INVALID'); return true; });
  // and with the echo header rewritten to name the second request, the seal still does not open
  first = null;
  proxy.onResponse = (rec, resp) => {
    if (!isProtected(rec)) return resp;
    if (!first) { first = resp; return resp; }
    return { ...first, headers: { ...first.headers, 'x-mte-relay': resp.headers['x-mte-relay'] } };
  };
  await (await f(`${proxy.url}/api/swap-3`)).text();
  await assert.rejects(f(`${proxy.url}/api/swap-4`), (e) => { assert.equal(e.code, 'RESPONSE_INVALID'); return true; });
});
