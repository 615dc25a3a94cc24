// Cross-implementation test of X-Wing: the relay's C code (through
// tests/tools/xwing_tool, batch mode) against @noble/post-quantum's
// ml_kem768_x25519, on 1,000 random key pairs made by noble, both directions.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { randomBytes } from 'node:crypto';
import { ml_kem768_x25519 as xwing } from '@noble/post-quantum/hybrid.js';

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const tool = join(root, process.env.BUILD || 'build', 'tests', 'tools', 'xwing_tool');
const PAIRS = 1000;
const hex = (b) => Buffer.from(b).toString('hex');
const unhex = (s) => Uint8Array.from(Buffer.from(s, 'hex'));

// Runs commands through the C tool in one process; returns one answer per command.
function runTool(lines) {
  const r = spawnSync(tool, [], { input: lines.join('\n') + '\n', encoding: 'utf8', maxBuffer: 64 << 20 });
  assert.equal(r.status, 0, `xwing_tool failed: ${r.stderr}`);
  const out = r.stdout.split('\n').filter((l) => l.length > 0);
  assert.equal(out.length, lines.length, 'one answer per command');
  return out;
}

const pairs = [];
for (let i = 0; i < PAIRS; i++) {
  const seed = randomBytes(32);
  const { publicKey, secretKey } = xwing.keygen(seed);
  pairs.push({ seed, publicKey, secretKey });
}

test('tool is built', () => {
  assert.ok(existsSync(tool), `${tool} missing: run make test-node`);
});

test(`noble keys: C keygen agrees, C encapsulates, noble decapsulates (${PAIRS} pairs)`, () => {
  const lines = [];
  for (const p of pairs) {
    lines.push(`keygen ${hex(p.seed)}`);
    lines.push(`encaps ${hex(p.publicKey)}`); // eseed drawn by the C side (getrandom)
  }
  const out = runTool(lines);
  const seen = new Set();
  let agreed = 0;
  pairs.forEach((p, i) => {
    assert.equal(out[2 * i], hex(p.publicKey), `pair ${i}: public keys differ`);
    const [ct, ss] = out[2 * i + 1].split(' ');
    assert.equal(ct.length, 2 * 1120, `pair ${i}: encaps answered ${out[2 * i + 1].slice(0, 20)}`);
    const mine = xwing.decapsulate(unhex(ct), p.secretKey);
    assert.equal(hex(mine), ss, `pair ${i}: shared secrets differ`);
    seen.add(ss);
    agreed++;
  });
  assert.equal(agreed, PAIRS);
  assert.equal(seen.size, PAIRS, 'shared secrets repeat');
  console.log(`xwing cross C->noble: ${agreed}/${PAIRS} equal secrets`);
});

test(`noble encapsulates, C decapsulates (${PAIRS} pairs)`, () => {
  const sent = pairs.map((p) => xwing.encapsulate(p.publicKey));
  const out = runTool(sent.map((e, i) => `decaps ${hex(e.cipherText)} ${hex(pairs[i].seed)}`));
  let agreed = 0;
  sent.forEach((e, i) => {
    assert.equal(out[i], hex(e.sharedSecret), `pair ${i}: shared secrets differ`);
    agreed++;
  });
  assert.equal(agreed, PAIRS);
  console.log(`xwing cross noble->C: ${agreed}/${PAIRS} equal secrets`);
});

test('C side refuses malformed input', () => {
  const pk = pairs[0].publicKey;
  const bad = Uint8Array.from(pk);
  bad[0] = 0xff; bad[1] = 0xff; // coefficient 4095 >= q
  const out = runTool([
    `encaps ${hex(pk.subarray(0, 1215))}`,
    `encaps ${hex(bad)}`,
    `decaps ${hex(randomBytes(1119))} ${hex(pairs[0].seed)}`,
    'encaps zz',
  ]);
  assert.deepEqual(out, ['error', 'error', 'error', 'error']);
});
