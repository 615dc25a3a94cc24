// x25519-base-table.test.mjs - the committed fixed-base table of our X25519
// (src/crypto/x25519_base.h) is exactly what tools/gen-x25519-base.mjs, plain
// BigInt arithmetic independent of the C field code, computes from the curve.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import path from 'node:path';
import { generate } from '../../tools/gen-x25519-base.mjs';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');

test('src/crypto/x25519_base.h equals the generator output', () => {
  const committed = readFileSync(path.join(root, 'src/crypto/x25519_base.h'), 'utf8');
  const fresh = generate();
  // 32 rows x 8 entries x 3 elements x 5 limbs
  assert.equal((fresh.match(/0x[0-9a-f]{13}/g) || []).length, 32 * 8 * 3 * 5);
  assert.equal(committed, fresh, 'regenerate: node tools/gen-x25519-base.mjs > src/crypto/x25519_base.h');
});

test('the first entry is the base point B: (1 + y) / (1 - y) = 9', () => {
  const p = 2n ** 255n - 19n;
  const committed = readFileSync(path.join(root, 'src/crypto/x25519_base.h'), 'utf8');
  const limbs = committed.match(/0x[0-9a-f]{13}/g).slice(0, 10).map((h) => BigInt(h));
  const fe = (l) => l.reduce((acc, v, i) => acc + (v << (51n * BigInt(i))), 0n);
  const ypx = fe(limbs.slice(0, 5)), ymx = fe(limbs.slice(5, 10));
  const y = (((ypx + ymx) * ((p + 1n) / 2n)) % p + p) % p;    // (ypx + ymx) / 2
  const pow = (b, e) => { let r = 1n; for (b %= p; e > 0n; e >>= 1n, b = b * b % p) if (e & 1n) r = r * b % p; return r; };
  const u = (1n + y) * pow(((1n - y) % p + p) % p, p - 2n) % p;
  assert.equal(u, 9n);
});
