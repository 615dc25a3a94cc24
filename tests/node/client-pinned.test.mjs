// A pinned relay key (PROTOCOL.md section 12): mte-relay --generate-relay-key,
// RELAY_KEY_FILE and RELAY_KEY_FILE_PREVIOUS, the client option relayKey.
// A party that answers pairing in the relay's place (another relay, with
// another key or none) is refused; rotation keeps pairing working.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  newClient, startStack, startRelay, relayEnv, startProxy, send,
} from './lib/e2e.mjs';
import { RELAY_BIN, limit } from './lib/harness.mjs';

let dir; let stack; let k1; let k2; let k3;

function generate(name) {
  const file = join(dir, name);
  const out = execFileSync(RELAY_BIN, ['--generate-relay-key', file], { encoding: 'utf8' });
  const pk = /^public key: ([A-Za-z0-9_-]{1622})$/m.exec(out);
  const id = /^key id: ([0-9a-f]{16})$/m.exec(out);
  assert.ok(pk && id, out);
  return { file, pk: pk[1], id: id[1] };
}

before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'mte-pin-'));
  [k1, k2, k3] = [generate('k1'), generate('k2'), generate('k3')];
  stack = await startStack({ env: { RELAY_KEY_FILE: k1.file } });
});

after(async () => {
  await stack?.stop();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

/** A client pinned to keys that records its pairing requests and answers. */
function pinnedClient(keys) {
  const pairings = [];
  const c = newClient({
    fetch: async (url, init) => {
      const res = await fetch(url, init);
      if (String(url).endsWith('/api/mte-pair')) pairings.push({ sent: JSON.parse(init.body), answer: await res.clone().json().catch(() => null) });
      return res;
    },
  });
  return { ...c, pairings, ready: c.init({ relayKey: keys }) };
}

test('--generate-relay-key writes a 0600 key file and refuses to overwrite it', () => {
  assert.equal(statSync(k1.file).mode & 0o777, 0o600);
  const again = spawnSync(RELAY_BIN, ['--generate-relay-key', k1.file], { encoding: 'utf8' });
  assert.equal(again.status, 1);
  assert.match(again.stderr, /cannot create .*File exists/);
  assert.notEqual(k1.id, k2.id);
});

test('pinned to the relay\'s key: pairing encapsulates to it, the answer confirms it, requests work', async () => {
  const c = pinnedClient(k1.pk);
  await c.ready;
  const r = await c.f(`${stack.relay.url}/api/pinned`, { method: 'POST', body: 'p' });
  assert.equal(r.status, 200);
  await r.arrayBuffer();
  const [{ sent, answer }] = c.pairings;
  assert.equal(sent[0].relayKeyId, k1.id);
  assert.equal(sent[0].relayCiphertext.length, 1494);
  assert.match(answer[0].confirm, /^[0-9a-f]{64}$/);
});

test('a party that answers pairing with a relay of its own, without the key, is refused', async () => {
  const impostor = await startRelay(relayEnv(stack.upstream));   // no RELAY_KEY_FILE
  const proxy = await startProxy([stack.relay]);
  proxy.onRequest = async (rec) => {
    if (rec.url !== '/api/mte-pair') return undefined;
    // it strips what it cannot use and pairs in the relay's place
    const entries = JSON.parse(rec.body).map(({ relayKeyId, relayCiphertext, ...rest }) => rest);
    return send(impostor.url, { ...rec, body: Buffer.from(JSON.stringify(entries)) });
  };
  try {
    const c = newClient();
    await assert.rejects(c.init({ relayKey: k1.pk, relayUrl: proxy.url }),
      (e) => e.code === 'PAIRING_FAILED' && /pinned relay key/.test(e.message));
  } finally {
    await proxy.stop();
    await impostor.stop();
  }
});

test('a relay of another key (the impostor has a key of its own) is refused clearly', async () => {
  const impostor = await startRelay(relayEnv(stack.upstream, { RELAY_KEY_FILE: k3.file }));
  try {
    const c = newClient();
    await assert.rejects(c.init({ relayKey: k1.pk, relayUrl: impostor.url }),
      (e) => e.code === 'PAIRING_FAILED' && /none of the pinned keys/.test(e.message) && e.status === 400);
  } finally {
    await impostor.stop();
  }
});

test('rotation: with RELAY_KEY_FILE_PREVIOUS, clients pinned to the old key, the new one, or a list all pair', async () => {
  const rotated = await startRelay(relayEnv(stack.upstream, { RELAY_KEY_FILE: k2.file, RELAY_KEY_FILE_PREVIOUS: k1.file }));
  try {
    for (const keys of [k1.pk, k2.pk, [k3.pk, k2.pk]]) {
      const c = pinnedClient(keys);
      const r = await c.f(`${rotated.url}/api/rotated`);
      assert.equal(r.status, 200, JSON.stringify(keys).slice(0, 40));
      await r.arrayBuffer();
    }
    const unknown = newClient();
    await assert.rejects(unknown.init({ relayKey: k3.pk, relayUrl: rotated.url }),
      (e) => e.code === 'PAIRING_FAILED' && /none of the pinned keys/.test(e.message));
  } finally {
    await rotated.stop();
  }
});

test('a bad relayKey option is a TypeError; RELAY_KEY_FILE that is no key file, or the same key twice, exits 78', async () => {
  await assert.rejects(newClient().init({ relayKey: 'short' }), TypeError);
  await assert.rejects(newClient().init({ relayKey: [] }), TypeError);
  const bad = join(dir, 'bad');
  writeFileSync(bad, 'not a key\n');
  const r1 = await startRelay(relayEnv(stack.upstream, { RELAY_KEY_FILE: bad }), { expectFail: true });
  assert.equal(r1.result.code, 78);
  assert.match(r1.stderr, /RELAY_KEY_FILE: .* is not a key file/);
  const r2 = await startRelay(relayEnv(stack.upstream, { RELAY_KEY_FILE: k1.file, RELAY_KEY_FILE_PREVIOUS: k1.file }), { expectFail: true });
  assert.equal(r2.result.code, 78);
  assert.match(r2.stderr, /RELAY_KEY_FILE_PREVIOUS: holds the same key/);
});

// RELAY_KEY_FILE_MAX from src/limits.h: a key file padded with newlines to
// the limit loads; one byte more is refused, not read in part (the first
// RELAY_KEY_FILE_MAX bytes would be a valid key).
test('RELAY_KEY_FILE_MAX: a key file of exactly the limit loads; one byte more exits 78 naming the setting', () => {
  const max = limit('RELAY_KEY_FILE_MAX');
  const key = readFileSync(k2.file);
  assert.ok(key.length < max);
  const atLimit = join(dir, 'at-limit');
  const over = join(dir, 'over');
  writeFileSync(atLimit, Buffer.concat([key, Buffer.alloc(max - key.length, 0x0a)]), { mode: 0o600 });
  writeFileSync(over, Buffer.concat([key, Buffer.alloc(max + 1 - key.length, 0x0a)]), { mode: 0o600 });
  assert.equal(statSync(atLimit).size, max);
  assert.equal(statSync(over).size, max + 1);
  const check = (extra) => spawnSync(RELAY_BIN, ['--check-config'],
    { encoding: 'utf8', env: relayEnv(stack.upstream, extra) });
  const ok = check({ RELAY_KEY_FILE: atLimit, RELAY_KEY_FILE_PREVIOUS: k3.file });
  assert.equal(ok.status, 0, ok.stderr);
  const okPrev = check({ RELAY_KEY_FILE: k3.file, RELAY_KEY_FILE_PREVIOUS: atLimit });
  assert.equal(okPrev.status, 0, okPrev.stderr);
  const bad = check({ RELAY_KEY_FILE: over });
  assert.equal(bad.status, 78);
  assert.match(bad.stderr, new RegExp(`RELAY_KEY_FILE: .*over is longer than ${max} bytes`));
  const badPrev = check({ RELAY_KEY_FILE: k3.file, RELAY_KEY_FILE_PREVIOUS: over });
  assert.equal(badPrev.status, 78);
  assert.match(badPrev.stderr, new RegExp(`RELAY_KEY_FILE_PREVIOUS: .*over is longer than ${max} bytes`));
});
