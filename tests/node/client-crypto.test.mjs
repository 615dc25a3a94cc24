// Unit tests of the client's building blocks (client/src/internals.js):
// encodings, chunk framing, AAD bytes, key schedule and sealing, each checked
// against protocol.md and against node:crypto as an independent implementation.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createCipheriv, createDecipheriv, createHmac, hkdfSync, randomBytes as nodeRandom } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import * as C from '../../client/src/internals.js';

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const vectorsDir = process.env.VECTORS_DIR || join(root, '..', 'shared', 'vectors');
const hex = (s) => Uint8Array.from(Buffer.from(s, 'hex'));
const toHex = (b) => Buffer.from(b).toString('hex');
const ID = '0123456789abcdef0123456789abcdef';
const PAIR = 'AAAAbbbbCCCCdddd_-_-0000111122223';

test('base64url: RFC 4648 vectors, no padding', () => {
  const cases = [['', ''], ['f', 'Zg'], ['fo', 'Zm8'], ['foo', 'Zm9v'], ['foob', 'Zm9vYg'], ['fooba', 'Zm9vYmE'], ['foobar', 'Zm9vYmFy']];
  for (const [plain, enc] of cases) {
    assert.equal(C.b64uEncode(C.utf8Encode(plain)), enc);
    assert.equal(C.utf8Decode(C.b64uDecode(enc)), plain);
  }
  assert.equal(C.b64uEncode(Uint8Array.of(0xfb, 0xff, 0xbf)), '-_-_');
});

test('base64url: agrees with Buffer for every length 0..300', () => {
  for (let n = 0; n <= 300; n++) {
    const b = nodeRandom(n);
    const e = C.b64uEncode(b);
    assert.equal(e, b.toString('base64url'), `length ${n}`);
    assert.deepEqual(Buffer.from(C.b64uDecode(e)), b);
  }
});

test('base64url: rejects padding, foreign alphabets, impossible lengths, non-canonical tails', () => {
  for (const bad of ['Zg==', 'Zm9v+', 'ab/c', 'Z', 'Zm9vY', 'Zh', 'Zm9', 'Zm9vYmF', ' Zg', 'Zg\n', 'Zé']) {
    // 'Zm9' and 'Zm9vYmF' are valid only if their tail bits are zero: 'Zm8' / 'Zm9vYmE' are the canonical forms.
    assert.throws(() => C.b64uDecode(bad), TypeError, JSON.stringify(bad));
  }
});

test('u64be: big-endian 8 bytes, safe integers only', () => {
  assert.equal(toHex(C.u64be(0)), '0000000000000000');
  assert.equal(toHex(C.u64be(1)), '0000000000000001');
  assert.equal(toHex(C.u64be(0x0102030405)), '0000000102030405');
  assert.equal(toHex(C.u64be(2 ** 32)), '0000000100000000');
  assert.equal(toHex(C.u64be(Number.MAX_SAFE_INTEGER)), '001fffffffffffff');
  assert.throws(() => C.u64be(-1), RangeError);
  assert.throws(() => C.u64be(2 ** 53), RangeError);
  assert.throws(() => C.u64be(1.5), RangeError);
});

test('wire length formula of protocol.md', () => {
  const table = [
    [0, 16, 1], [1, 17, 1], [65535, 65551, 1], [65536, 65568, 2], [65537, 65569, 2],
    [3 * 65536, 3 * 65536 + 64, 4], [3 * 65536 - 1, 3 * 65536 - 1 + 48, 3],
  ];
  for (const [len, wire, chunks] of table) {
    assert.equal(C.wireLength(len), wire, `W(${len})`);
    assert.equal(C.plainLength(wire), len, `len(${wire})`);
    assert.equal(C.chunkCount(len), chunks, `chunks(${len})`);
  }
  // W mod 65552 < 16 is malformed
  for (const w of [0, 1, 15, 65552, 65567, 2 * 65552 + 15]) assert.equal(C.plainLength(w), -1, `W=${w}`);
  assert.equal(C.plainLength(65552 + 16), 65536);
  assert.throws(() => C.wireLength(-1), RangeError);
});

test('chunk nonce: item || final || 0x0000 || u64be(index)', () => {
  assert.equal(toHex(C.chunkNonce(1, true, 0)), '010100000000000000000000');
  assert.equal(toHex(C.chunkNonce(2, false, 258)), '020000000000000000000102');
  assert.equal(toHex(C.chunkNonce(2, true, 2 ** 40)), '020100000000010000000000');
});

test('AAD bytes are exactly those of protocol.md', () => {
  const td = new TextDecoder();
  assert.equal(td.decode(C.requestAad(ID, PAIR, 7, 'ub', 'POST', '')),
    `mte-relay/1 req ${ID} ${PAIR} 7 ub POST `);
  assert.equal(td.decode(C.requestAad(ID, PAIR, 18446744073709, 'b', 'PATCH', '/api/x?a=1&b=%20')),
    `mte-relay/1 req ${ID} ${PAIR} 18446744073709 b PATCH /api/x?a=1&b=%20`);
  assert.equal(td.decode(C.requestAad(ID, PAIR, 1, '', 'GET', '/')), `mte-relay/1 req ${ID} ${PAIR} 1  GET /`);
  assert.equal(td.decode(C.responseAad(ID, PAIR, 9, 'b', 200)), `mte-relay/1 res ${ID} ${PAIR} 9 b 200`);
  assert.equal(td.decode(C.responseAad(ID, PAIR, 9, '', 204)), `mte-relay/1 res ${ID} ${PAIR} 9  204`);
  assert.throws(() => C.responseAad(ID, PAIR, 9, '', 20));
  assert.throws(() => C.requestAad(`${ID} x`, PAIR, 1, '', 'GET', '/'));
  assert.equal(toHex(C.pairInfo(ID, 'P', 'S x')),
    Buffer.from(`mte-relay/1 pair\0${ID}\0P\0S x`, 'utf8').toString('hex'));
  assert.equal(C.pairInfo(ID, 'P', '').length, 'mte-relay/1 pair'.length + 1 + 32 + 1 + 1 + 1);
});

test('request target: path and query, never the fragment nor an empty "?"', () => {
  assert.equal(C.requestTarget(new URL('http://h:1/a/b?x=1#frag')), '/a/b?x=1');
  assert.equal(C.requestTarget(new URL('http://h:1/p?')), '/p');
  assert.equal(C.requestTarget(new URL('http://h:1')), '/');
  assert.equal(C.requestTarget(new URL('http://h:1/ü space?q=ä')), '/%C3%BC%20space?q=%C3%A4');
  assert.equal(C.requestTarget(new URL('http://u:p@h:1/a?b')), '/a?b');
  assert.equal(C.requestTarget(new URL('http://h:1/a?#x')), '/a');
  assert.equal(C.requestTarget(new URL('http://h:1/a#x?')), '/a');
});

test('HKDF-Expand by HMAC matches RFC 5869 vectors (PRK given directly)', async () => {
  const v = JSON.parse(readFileSync(join(vectorsDir, 'hkdf-sha256.json'), 'utf8'));
  assert.ok(v.tests.length >= 3);
  for (const t of v.tests) {
    const prk = await C.importPrk(hex(t.prk));
    const len = Math.min(32, t.L);
    const got = await C.hkdfExpand32(prk, hex(t.info), len);
    assert.equal(toHex(got), t.okm.slice(0, 2 * len), t.name);
    // and node:crypto's full HKDF agrees on the whole output
    assert.equal(Buffer.from(hkdfSync('sha256', hex(t.ikm), hex(t.salt), hex(t.info), t.L)).toString('hex'), t.okm);
  }
});

test('pair keys and message keys agree with node:crypto hkdfSync + HMAC', async () => {
  const ss = nodeRandom(32);
  const nonce = nodeRandom(32);
  const info = C.pairInfo(ID, PAIR, 'p3rs0n~"\\');
  const okm = Buffer.from(hkdfSync('sha256', ss, nonce, info, 64));
  const ssCopy = Uint8Array.from(ss);
  const pair = await C.derivePairKeys(ssCopy, nonce, info);
  assert.ok(ssCopy.every((b) => b === 0), 'shared secret wiped');
  assert.equal(pair.kReq.extractable, false);
  assert.equal(pair.kRes.extractable, false);
  const seq = 2 ** 33 + 5;
  const expand = (prk, label) => createHmac('sha256', prk).update(Buffer.concat([Buffer.from(label), Buffer.from(C.u64be(seq)), Buffer.of(1)])).digest();
  const mkReq = expand(okm.subarray(0, 32), 'req');
  const mkRes = expand(okm.subarray(32, 64), 'res');
  const { mkReq: kq, mkRes: ks } = await C.messageKeys(pair, seq);
  assert.equal(kq.extractable, false);
  // Seal with the client's key, open with node's independently derived one.
  const aad = C.requestAad(ID, PAIR, seq, 'b', 'PUT', '/x');
  const sealed = await C.sealChunk(kq, C.ITEM_BODY, true, 3, aad, C.utf8Encode('hello'));
  const d = createDecipheriv('aes-256-gcm', mkReq, C.chunkNonce(2, true, 3));
  d.setAAD(aad);
  d.setAuthTag(sealed.subarray(sealed.length - 16));
  assert.equal(Buffer.concat([d.update(sealed.subarray(0, sealed.length - 16)), d.final()]).toString(), 'hello');
  // Node seals a response chunk; the client opens it with mk_res.
  const raad = C.responseAad(ID, PAIR, seq, 'b', 201);
  const c = createCipheriv('aes-256-gcm', mkRes, C.chunkNonce(1, true, 0));
  c.setAAD(raad);
  const ct = Buffer.concat([c.update('{"headers":{}}'), c.final(), c.getAuthTag()]);
  assert.equal(C.utf8Decode(await C.openChunk(ks, C.ITEM_META, true, 0, raad, ct)), '{"headers":{}}');
  // k_req and k_res are different keys: mk_res does not open request chunks.
  await assert.rejects(C.openChunk(ks, C.ITEM_BODY, true, 3, aad, sealed));
});

test('sealChunk/openChunk: round trip and every tamper is rejected', async () => {
  const key = await C.importAesKey(nodeRandom(32));
  const aad = C.requestAad(ID, PAIR, 1, 'ub', 'POST', '');
  const plain = nodeRandom(1000);
  const sealed = await C.sealChunk(key, C.ITEM_BODY, false, 0, aad, plain);
  assert.equal(sealed.length, 1016);
  assert.deepEqual(Buffer.from(await C.openChunk(key, C.ITEM_BODY, false, 0, aad, sealed)), plain);
  const flipped = (i) => { const s = Uint8Array.from(sealed); s[i] ^= 1; return s; };
  await assert.rejects(C.openChunk(key, C.ITEM_BODY, false, 0, aad, flipped(0)), 'ciphertext bit');
  await assert.rejects(C.openChunk(key, C.ITEM_BODY, false, 0, aad, flipped(1010)), 'tag bit');
  await assert.rejects(C.openChunk(key, C.ITEM_META, false, 0, aad, sealed), 'item');
  await assert.rejects(C.openChunk(key, C.ITEM_BODY, true, 0, aad, sealed), 'final flag');
  await assert.rejects(C.openChunk(key, C.ITEM_BODY, false, 1, aad, sealed), 'index');
  await assert.rejects(C.openChunk(key, C.ITEM_BODY, false, 0, C.requestAad(ID, PAIR, 1, 'ub', 'PUT', ''), sealed), 'method in aad');
  await assert.rejects(C.openChunk(key, C.ITEM_BODY, false, 0, C.requestAad(ID, PAIR, 2, 'ub', 'POST', ''), sealed), 'seq in aad');
  await assert.rejects(C.openChunk(key, C.ITEM_BODY, false, 0, aad, sealed.subarray(0, 1015)), 'truncated');
});

async function collect(stream) {
  const parts = [];
  for await (const p of stream) parts.push(Buffer.from(p));
  return Buffer.concat(parts);
}

// Splits bytes into pieces of pseudo-random sizes, as a network would.
function pieces(buf, seed) {
  const out = [];
  let s = seed;
  for (let o = 0; o < buf.length;) {
    s = (s * 1103515245 + 12345) >>> 0;
    const n = 1 + (s % 90000);
    out.push(buf.subarray(o, o + n));
    o += n;
  }
  return out;
}

function streamOf(parts) {
  return new ReadableStream({ start(c) { for (const p of parts) c.enqueue(Uint8Array.from(p)); c.close(); } });
}

test('body sealing: wire sizes, chunk layout and streaming open for boundary lengths', async () => {
  const key = await C.importAesKey(nodeRandom(32));
  const aad = C.responseAad(ID, PAIR, 4, 'b', 200);
  for (const len of [0, 1, 65535, 65536, 65537, 3 * 65536]) {
    const plain = nodeRandom(len);
    const blob = new Blob([plain]);
    const wire = await collect(C.sealedBodyStream(blob, key, aad));
    assert.equal(wire.length, C.wireLength(len), `stream W(${len})`);
    const wireBlob = Buffer.from(await (await C.sealedBodyBlob(blob, key, aad)).arrayBuffer());
    assert.equal(wireBlob.length, C.wireLength(len), `blob W(${len})`);
    // last chunk opens as final with index n-1, its predecessors as non-final
    const n = C.chunkCount(len);
    const last = wire.subarray((n - 1) * C.CHUNK_WIRE);
    const tail = await C.openChunk(key, C.ITEM_BODY, true, n - 1, aad, last);
    assert.equal(tail.length, len % 65536);
    const opened = await collect(streamOf(pieces(wire, len + 1)).pipeThrough(C.createBodyOpener(key, aad)));
    assert.ok(opened.equals(plain), `round trip ${len}`);
  }
});

test('body opener: truncation, reordering and tampering error the stream', async () => {
  const key = await C.importAesKey(nodeRandom(32));
  const aad = C.responseAad(ID, PAIR, 4, 'b', 200);
  const plain = nodeRandom(2 * 65536 + 100);
  const wire = await collect(C.sealedBodyStream(new Blob([plain]), key, aad));
  const W = C.CHUNK_WIRE;
  const open = (buf) => collect(streamOf(pieces(buf, 7)).pipeThrough(C.createBodyOpener(key, aad)));
  const code = (c) => (e) => { assert.equal(e.code, c, e.message); return true; };
  await assert.rejects(open(wire.subarray(0, 2 * W)), code('TRUNCATED'), 'final chunk dropped');
  await assert.rejects(open(wire.subarray(0, wire.length - 1)), code('TRUNCATED'), 'last byte dropped');
  await assert.rejects(open(wire.subarray(0, W + 10)), code('TRUNCATED'), 'cut inside a chunk');
  await assert.rejects(open(Buffer.alloc(0)), code('TRUNCATED'), 'empty body');
  const swapped = Buffer.concat([wire.subarray(W, 2 * W), wire.subarray(0, W), wire.subarray(2 * W)]);
  await assert.rejects(open(swapped), code('RESPONSE_INVALID'), 'chunks reordered');
  const flipped = Buffer.from(wire); flipped[5] ^= 0x80;
  await assert.rejects(open(flipped), code('RESPONSE_INVALID'), 'bit flipped in first chunk');
  const otherAad = C.responseAad(ID, PAIR, 5, 'b', 200);
  await assert.rejects(collect(streamOf([wire]).pipeThrough(C.createBodyOpener(key, otherAad))), code('RESPONSE_INVALID'), 'other seq');
  assert.ok((await open(wire)).equals(plain));
});

test('request bodies: content types and bytes as fetch would send them', async () => {
  let n = await C.normalizeBody('héllo');
  assert.equal(n.contentType, 'text/plain;charset=UTF-8');
  assert.equal(await n.blob.text(), 'héllo');
  n = await C.normalizeBody(new URLSearchParams({ a: '1 2', b: 'x&y' }));
  assert.equal(n.contentType, 'application/x-www-form-urlencoded;charset=UTF-8');
  assert.equal(await n.blob.text(), 'a=1+2&b=x%26y');
  n = await C.normalizeBody(new Uint16Array([1, 2]));
  assert.equal(n.contentType, null);
  assert.deepEqual([...new Uint8Array(await n.blob.arrayBuffer())], [1, 0, 2, 0]);
  n = await C.normalizeBody(new Blob(['x'], { type: 'image/png' }));
  assert.equal(n.contentType, 'image/png');
  n = await C.normalizeBody(streamOf([Buffer.from('ab'), Buffer.from('cd')]));
  assert.equal(await n.blob.text(), 'abcd');
  assert.equal(await C.normalizeBody(null), null);
  const fd = new FormData();
  fd.append('field', 'value');
  fd.append('file', new Blob([Buffer.from([0, 1, 2, 255])], { type: 'application/octet-stream' }), 'a.bin');
  n = await C.normalizeBody(fd);
  const m = /^multipart\/form-data; boundary=(.+)$/.exec(n.contentType);
  assert.ok(m, n.contentType);
  const text = Buffer.from(await n.blob.arrayBuffer()).toString('latin1');
  assert.ok(text.startsWith(`--${m[1]}\r\n`), 'body starts with the boundary of the content-type');
  assert.ok(text.includes('filename="a.bin"'));
  assert.ok(text.includes('\x00\x01\x02\xff'));
  assert.ok(text.endsWith(`--${m[1]}--\r\n`));
});

test('X-Wing through @noble/post-quantum: vectors and a round trip', () => {
  const v = JSON.parse(readFileSync(join(vectorsDir, 'xwing.json'), 'utf8'));
  assert.equal(v.tests.length, 13);
  for (const t of v.tests) {
    const { publicKey, secretKey } = C.xwing.keygen(hex(t.seed));
    assert.equal(toHex(publicKey), t.pk);
    assert.equal(toHex(C.xwing.decapsulate(hex(t.ct), secretKey)), t.ss);
  }
  const { publicKey, secretKey } = C.xwing.keygen(C.randomBytes(32));
  assert.equal(publicKey.length, 1216);
  const { cipherText, sharedSecret } = C.xwing.encapsulate(publicKey);
  assert.equal(cipherText.length, 1120);
  assert.deepEqual(C.xwing.decapsulate(cipherText, secretKey), sharedSecret);
});

test('randomBytes fills large buffers (getRandomValues is limited to 64 KiB a call)', () => {
  const r = C.randomBytes(200000);
  assert.equal(r.length, 200000);
  assert.notEqual(toHex(r.subarray(100000, 100032)), '0'.repeat(64));
  assert.notEqual(toHex(r.subarray(199968)), '0'.repeat(64));
});
