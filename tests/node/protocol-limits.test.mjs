// Protocol limits and the relay's checks, byte for byte, against the real
// relay (build/mte-relay, embedded store) and a real upstream.  Requests are
// crafted with tests/node/lib/raw.mjs (an independent client of protocol.md),
// so every field can be set exactly: each limit of src/limits.h's protocol
// section is tried at the limit (accepted) and at limit+1 (the exact status and
// JSON body), the relay header syntax, the replay window, the sealed errors
// after acceptance, the response meta split, and what the logs must never
// hold.  Every refusal before acceptance also proves the upstream untouched.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import net from 'node:net';
import { startRelay, startUpstream, freePort, limit } from './lib/harness.mjs';
import {
  newIdentity, makeEntry, pair, pairRequest, finishPair, protectedRequest, randomPairId,
  WIRE_CHUNK, CHUNK,
} from './lib/raw.mjs';

const SECRET = `limits-secret-${randomBytes(12).toString('hex')}`;
// Every URL, sealed header value and body below carries MARK, so the last
// test can prove none of them reached a log line.
const MARK = `mk${randomBytes(6).toString('hex')}`;
// shared/ lies beside the checkout (as in CI): ../shared/vectors from the repo root.
const MODULUS_VECTORS = new URL('../../../shared/vectors/mlkem768-modulus-full.txt.gz', import.meta.url).pathname;

let upstream; let relay;
const relays = [];        // every relay started here, for the log checks
const identities = [];    // every signed id used here, for the log checks
const stalled = [];       // upstream answers held back forever

before(async () => {
  upstream = await startUpstream((req, res) => {
    if (req.url === '/api/allowed/headers') {
      res.setHeader('set-cookie', ['session=abc; Path=/; HttpOnly', 'theme=dark']);
      res.setHeader('cache-control', 'private, max-age=60');
      res.setHeader('content-type', 'text/plain; charset=utf-8');
      res.setHeader('x-app', `app-${MARK}`);
      res.setHeader('access-control-allow-origin', '*');
      res.setHeader('access-control-allow-credentials', 'true');
      res.setHeader('access-control-max-age', '999');
      res.end(`headers body ${MARK}`);
      return true;
    }
    if (req.url.startsWith('/api/allowed/stall')) { stalled.push(res); return true; }
    return false;
  });
  relay = await startRelay({ UPSTREAM: upstream.url, CLIENT_ID_SECRET: SECRET, MTE_ROUTES: '/api/allowed/*', DEBUG: 'true' });
  relays.push(relay);
});

after(async () => {
  for (const r of stalled) r.destroy();
  for (const r of relays) await r.stop();
  await upstream?.stop();
});

async function identity(r = relay) {
  const id = await newIdentity(r.url);
  identities.push(id);
  return id;
}

/** Runs fn and asserts that the upstream received nothing meanwhile. */
async function untouched(fn) {
  const n = upstream.received.length;
  const r = await fn();
  assert.equal(upstream.received.length, n, `the upstream was reached (${upstream.received.at(-1)?.url})`);
  return r;
}

/** An unsealed relay error: exact status, JSON {"error", "code"}, no relay header. */
function assertError(r, status, error) {
  assert.equal(r.status, status, `status ${r.status}: ${r.body}`);
  assert.equal(r.headers['x-mte-relay'], undefined, 'a refusal before acceptance is not sealed');
  assert.match(r.headers['content-type'] || '', /^application\/json/);
  const j = JSON.parse(r.body);
  assert.equal(j.code, status);
  assert.equal(typeof j.error, 'string');
  assert.ok(j.error.length > 0);
  if (error) assert.match(j.error, error);
  return j;
}

/** A sealed error: opened under mk_res, JSON {"error", "code"} inside. */
function assertSealedError(r, status, error) {
  assert.equal(r.status, status, `status ${r.status}`);
  const o = r.opened();
  assert.equal(o.headers['content-type'], 'application/json');
  const j = JSON.parse(o.body);
  assert.equal(j.code, status);
  if (error) assert.match(j.error, error);
  return j;
}

/** An accepted request that reached the upstream: 200, sealed, upstream saw url. */
function assertOk(r, url, method = 'GET') {
  assert.equal(r.status, 200, `status ${r.status}: ${r.body}`);
  const o = r.opened();
  const j = JSON.parse(o.body);
  assert.equal(j.method, method);
  assert.equal(j.url, url);
  return j;
}

/** 560 when the relay holds no pair clientId+pairId, 562 when it does (its keys are unknown here). */
async function pairState(id, pairId) {
  const fake = { pairId, kReq: randomBytes(32), kRes: randomBytes(32), seq: 0n };
  const r = await untouched(() => protectedRequest(id, fake, { url: `/api/allowed/${MARK}` }));
  assertError(r, r.status);
  return r.status;
}

const padJson = (text, size) => {
  assert.ok(Buffer.byteLength(text) <= size);
  return text + ' '.repeat(size - Buffer.byteLength(text));
};

// ---- pairing -------------------------------------------------------------

test('PAIR_ENTRIES_MAX: 16 entries are paired and usable; 17 get 400 and none is stored', async () => {
  const id = await identity();
  const pairs = await pair(id, 16);
  assert.equal(pairs.length, 16);
  for (const p of pairs) assertOk(await protectedRequest(id, p, { url: `/api/allowed/p16/${MARK}` }), `/api/allowed/p16/${MARK}`);
  const made = Array.from({ length: 17 }, () => makeEntry());
  const r = await pairRequest(id, made.map((m) => m.entry));
  assertError(r, 400, /1 to 16 entries/);
  for (const m of [made[0], made[16]]) assert.equal(await pairState(id, m.entry.pairId), 560);
});

test('PAIR_BODY_MAX: a 65536-byte body is paired (Content-Length and chunked); 65537 bytes get 413', async () => {
  const id = await identity();
  for (const chunked of [false, true]) {
    const m = makeEntry();
    const body = padJson(JSON.stringify([m.entry]), 65536);
    const r = await pairRequest(id, body, { chunked });
    assert.equal(r.status, 200, `chunked=${chunked}: ${r.body}`);
    const p = finishPair(id, m.secret, JSON.parse(r.body)[0]);
    assertOk(await protectedRequest(id, p, { url: `/api/allowed/pb/${MARK}` }), `/api/allowed/pb/${MARK}`);
  }
  for (const chunked of [false, true]) {
    const m = makeEntry();
    const r = await pairRequest(id, padJson(JSON.stringify([m.entry]), 65537), { chunked });
    assertError(r, 413);
    assert.equal(await pairState(id, m.entry.pairId), 560, `chunked=${chunked}: nothing stored`);
  }
});

test('PAIR_ID_MIN/MAX: pairIds of 16 and 64 characters are paired; 15, 65 and a bad character get 400', async () => {
  const id = await identity();
  for (const n of [16, 64]) {
    const [p] = await pair(id, [makeEntry({ pairId: randomPairId(n) })]);
    assertOk(await protectedRequest(id, p, { url: `/api/allowed/pid/${MARK}` }), `/api/allowed/pid/${MARK}`);
  }
  for (const pairId of [randomPairId(15), randomPairId(65), `${randomPairId(20)}.x`, `${randomPairId(20)}+x`]) {
    const r = await pairRequest(id, [makeEntry({ pairId }).entry]);
    assertError(r, 400, /pairId/);
  }
});

test('PERSONALIZATION_MAX: 128 printable characters (quotes and backslash included) pair; 129 or non-printable get 400', async () => {
  const id = await identity();
  // every printable character, JSON-escaped where needed; the keys must agree
  const all = Array.from({ length: 128 }, (_, i) => String.fromCharCode(0x20 + (i % 95))).join('');
  for (const personalization of ['', all]) {
    const [p] = await pair(id, [makeEntry({ personalization })]);
    assertOk(await protectedRequest(id, p, { url: `/api/allowed/pers/${MARK}` }), `/api/allowed/pers/${MARK}`);
  }
  for (const personalization of [`${all}x`, 'tab\there', 'del\x7f', 'caf\u00e9', 'nl\n']) {
    const m = makeEntry({ personalization });
    assertError(await pairRequest(id, [m.entry]), 400, /personalization/);
    assert.equal(await pairState(id, m.entry.pairId), 560);
  }
});

test('a pairId repeated in one request gets 400 and is not stored', async () => {
  const id = await identity();
  const a = makeEntry();
  const b = makeEntry({ pairId: a.entry.pairId });
  assertError(await pairRequest(id, [a.entry, b.entry]), 400, /repeated/);
  assert.equal(await pairState(id, a.entry.pairId), 560);
});

test('public keys of the wrong length, bad base64url or failing the ML-KEM modulus check get 400; nothing is stored', async () => {
  const id = await identity();
  const good = makeEntry().entry.publicKey;
  assert.equal(good.length, 1622);
  // 1216 bytes leave 4 trailing bits in the last character: 'A','Q','g','w' only
  const lastBits = good.slice(0, -1) + ({ A: 'B', Q: 'R', g: 'h', w: 'x' })[good.at(-1)];
  const bad = [
    ['1215 bytes', Buffer.alloc(1215, 1).toString('base64url')],
    ['1217 bytes', Buffer.alloc(1217, 1).toString('base64url')],
    ['standard base64 alphabet', `${good.slice(0, 100)}+${good.slice(101)}`],
    ['padding', `${good.slice(0, -1)}=`],
    ['non-zero trailing bits', lastBits],
  ];
  const lines = execFileSync('gzip', ['-dc', MODULUS_VECTORS], { maxBuffer: 4 << 20 }).toString().trim().split('\n');
  assert.equal(lines.length, 780);
  for (const i of [0, 389, 779]) {
    const ek = Buffer.from(lines[i].trim(), 'hex');
    assert.equal(ek.length, 1184);
    bad.push([`modulus vector ${i}`, Buffer.concat([ek, randomBytes(32)]).toString('base64url')]);
  }
  for (const [what, publicKey] of bad) {
    const m = makeEntry();
    const r = await pairRequest(id, [{ ...m.entry, publicKey }]);
    assertError(r, 400, /publicKey/);
    assert.equal(await pairState(id, m.entry.pairId), 560, `${what}: nothing stored`);
  }
});

test('pairing with a missing or forged client id: 569 and 566, nothing stored', async () => {
  const id = await identity();
  const m = makeEntry();
  assertError(await pairRequest({ ...id, signedId: '' }, [m.entry]), 569);
  const forged = `${id.signedId.slice(0, -1)}${id.signedId.endsWith('0') ? '1' : '0'}`;
  assertError(await pairRequest({ ...id, signedId: forged }, [m.entry]), 566);
  assert.equal(await pairState(id, m.entry.pairId), 560);
});

// ---- the relay header ------------------------------------------------------

test('RELAY_HEADER_MAX: the longest well-formed header (186 bytes) works; 512 and 513 bytes get 569', async () => {
  const id = await identity();
  const [p] = await pair(id, [makeEntry({ pairId: randomPairId(64) })]);
  const max = '18446744073709551615';
  const r = await protectedRequest(id, p, { seq: max, method: 'POST', url: `/api/allowed/longest/${MARK}`, body: `body ${MARK}` });
  assert.equal(r.headers['x-mte-relay'].length, 97 + 1 + 64 + 1 + 20 + 1 + 1, 'the echo carries the full seq');
  assertOk(r, `/api/allowed/longest/${MARK}`, 'POST');
  // A well-formed header is at most 186 bytes, so a 512-byte one is refused
  // for its content and a 513-byte one for its length: both 569.
  const [q] = await pair(id, 1);
  for (const size of [512, 513]) {
    const head = `${id.signedId},${q.pairId},1,`;
    const hdr = `${head}${'u'.repeat(size - head.length)}`;
    assert.equal(Buffer.byteLength(hdr), size);
    assertError(await untouched(() => protectedRequest(id, q, { seq: 1, relayHeader: hdr, url: `/api/allowed/${MARK}` })), 569);
  }
  // seq 1 was never accepted by those
  assertOk(await protectedRequest(id, q, { seq: 1, url: `/api/allowed/${MARK}` }), `/api/allowed/${MARK}`);
});

// An upstream that answers any method (Node's own HTTP server knows only the
// registered ones): 200 "ok" to every request, its request lines kept.
async function startAnyMethodUpstream() {
  const lines = [];
  const sockets = new Set();
  const server = net.createServer((sock) => {
    sockets.add(sock);
    sock.on('close', () => sockets.delete(sock));
    sock.on('error', () => {});
    let buf = Buffer.alloc(0);
    sock.on('data', (d) => {
      buf = Buffer.concat([buf, d]);
      for (;;) {
        const end = buf.indexOf('\r\n\r\n');
        if (end < 0) return;
        const head = buf.subarray(0, end).toString('latin1');
        const cl = /\r\ncontent-length: *(\d+)/i.exec(head);
        const need = end + 4 + (cl ? Number(cl[1]) : 0);
        if (buf.length < need) return;
        lines.push(head.split('\r\n')[0]);
        buf = buf.subarray(need);
        sock.write('HTTP/1.1 200 OK\r\ncontent-type: text/plain\r\ncontent-length: 2\r\n\r\nok');
      }
    });
  });
  await new Promise((r) => server.listen(0, '127.0.0.1', r));
  return {
    url: `http://127.0.0.1:${server.address().port}`,
    lines,
    stop: () => new Promise((r) => { for (const s of sockets) s.destroy(); server.close(r); }),
  };
}

const METHOD_MAX = limit('METHOD_MAX');

test('METHOD_MAX: a method of exactly the limit is forwarded as it is; one byte more gets 569, the upstream untouched and the seq not taken', async () => {
  const up = await startAnyMethodUpstream();
  const r2 = await startRelay({ UPSTREAM: up.url, CLIENT_ID_SECRET: SECRET, MTE_ROUTES: '/api/allowed/*' });
  relays.push(r2);
  try {
    const id = await identity(r2);
    const [p] = await pair(id, 1);
    const atLimit = 'M'.repeat(METHOD_MAX);
    const url = `/api/allowed/method/${MARK}`;
    const ok = await protectedRequest(id, p, { seq: 1, method: atLimit, url });
    assert.equal(ok.status, 200, `status ${ok.status}: ${ok.body}`);
    assert.equal(ok.opened().body.toString(), 'ok');
    assert.deepEqual(up.lines, [`${atLimit} ${url} HTTP/1.1`]);
    const over = await protectedRequest(id, p, { seq: 2, method: `${atLimit}M`, url });
    assertError(over, 569);
    assert.equal(up.lines.length, 1, 'the longer method never reached the upstream');
    const again = await protectedRequest(id, p, { seq: 2, method: 'GET', url });
    assert.equal(again.status, 200, 'seq 2 was not taken by the refused request');
    assert.deepEqual(up.lines.slice(1), [`GET ${url} HTTP/1.1`]);
  } finally {
    await up.stop();
  }
});

test('a repeated x-mte-relay or x-mte-relay-eh field gets 569 with the upstream untouched', async () => {
  const id = await identity();
  const [p] = await pair(id, 1);
  const hdr = `${id.signedId},${p.pairId},1,u`;
  assertError(await untouched(() => protectedRequest(id, p, { seq: 1, relayHeader: [hdr, hdr], url: `/api/allowed/${MARK}` })), 569);
  const ok = await protectedRequest(id, p, { seq: 2, url: `/api/allowed/${MARK}` });
  assertOk(ok, `/api/allowed/${MARK}`);
});

test('relay header syntax: malformed seq, flags, part count or signed id get 569 with the upstream untouched', async () => {
  const id = await identity();
  const [p] = await pair(id, 1);
  const upperId = id.clientId.toUpperCase() === id.clientId ? null : `${id.clientId.toUpperCase()}.${id.mac}`;
  const upperMac = `${id.clientId}.${id.mac.toUpperCase()}`;
  const cases = [
    ['seq 0', `${id.signedId},${p.pairId},0,u`],
    ['seq with a leading zero', `${id.signedId},${p.pairId},01,u`],
    ['seq 2^64', `${id.signedId},${p.pairId},18446744073709551616,u`],
    ['seq 10^20', `${id.signedId},${p.pairId},100000000000000000000,u`],
    ['seq with a sign', `${id.signedId},${p.pairId},+1,u`],
    ['seq empty', `${id.signedId},${p.pairId},,u`],
    ['flags "bu" (wrong order)', `${id.signedId},${p.pairId},1,bu`],
    ['flags "x"', `${id.signedId},${p.pairId},1,x`],
    ['flags "uu"', `${id.signedId},${p.pairId},1,uu`],
    ['flags "U"', `${id.signedId},${p.pairId},1,U`],
    ['3 parts', `${id.signedId},${p.pairId},1`],
    ['5 parts', `${id.signedId},${p.pairId},1,u,`],
    ['upper-case hex in the MAC', `${upperMac},${p.pairId},1,u`],
    ['signed id one character short', `${id.signedId.slice(0, -1)},${p.pairId},1,u`],
    ['pairId of 15 characters', `${id.signedId},${p.pairId.slice(0, 15)},1,u`],
    ['pairId with a bad character', `${id.signedId},${p.pairId.slice(0, -1)}.,1,u`],
  ];
  if (upperId) cases.push(['upper-case hex in the client id', `${upperId},${p.pairId},1,u`]);
  for (const [what, relayHeader] of cases) {
    const r = await untouched(() => protectedRequest(id, p, { seq: 1, relayHeader, url: `/api/allowed/${MARK}` }));
    assert.equal(r.status, 569, `${what}: ${r.status}`);
    assertError(r, 569);
  }
  // none of them used up seq 1
  assertOk(await protectedRequest(id, p, { seq: 1, url: `/api/allowed/${MARK}` }), `/api/allowed/${MARK}`);
});

test('a wrong signature gets 566, an unknown pair 560', async () => {
  const id = await identity();
  const [p] = await pair(id, 1);
  const flipped = id.mac.slice(0, -1) + (id.mac.endsWith('0') ? '1' : '0');
  assertError(await untouched(() => protectedRequest(id, p, { relayHeader: `${id.clientId}.${flipped},${p.pairId},1,u`, url: `/api/allowed/${MARK}` })), 566);
  const other = await identity();
  // a valid id of another client: its pair does not exist
  assertError(await untouched(() => protectedRequest(id, p, { relayHeader: `${other.signedId},${p.pairId},1,u`, url: `/api/allowed/${MARK}` })), 560);
  assert.equal(await pairState(id, randomPairId(40)), 560);
});

test('flag u with a wire target other than "/" and a body without flag b get 569', async () => {
  const id = await identity();
  const [p] = await pair(id, 1);
  for (const target of [`/api/allowed/${MARK}`, '/?a', '//']) {
    assertError(await untouched(() => protectedRequest(id, p, { seq: 1, target, url: `/api/allowed/${MARK}` })), 569);
  }
  assertError(await untouched(() => protectedRequest(id, p, { seq: 1, flags: 'u', method: 'POST', url: `/api/allowed/${MARK}`, wireBody: Buffer.from(`plain ${MARK}`) })), 569);
  assertError(await untouched(() => protectedRequest(id, p, { seq: 1, flags: 'u', method: 'POST', url: `/api/allowed/${MARK}`, wireBody: Buffer.from(`plain ${MARK}`), chunked: true })), 569);
  assertOk(await protectedRequest(id, p, { seq: 1, url: `/api/allowed/${MARK}` }), `/api/allowed/${MARK}`);
});

test('flag b with a wire length W where W mod 65552 < 16 gets 562; W = 16 and W = 65568 (the boundary) are accepted', async () => {
  const id = await identity();
  const [p] = await pair(id, 1);
  for (const w of [0, 15, WIRE_CHUNK, WIRE_CHUNK + 15, 2 * WIRE_CHUNK + 1]) {
    const r = await untouched(() => protectedRequest(id, p, {
      seq: 1, flags: 'ub', method: 'POST', url: `/api/allowed/${MARK}`, wireBody: randomBytes(w), clear: w === 0 ? { 'content-length': '0' } : {},
    }));
    assertError(r, 562);
  }
  let j = assertOk(await protectedRequest(id, p, { seq: 1, method: 'POST', url: `/api/allowed/w16/${MARK}`, body: Buffer.alloc(0) }), `/api/allowed/w16/${MARK}`, 'POST');
  assert.equal(j.length, 0);
  const full = randomBytes(CHUNK);
  j = assertOk(await protectedRequest(id, p, { method: 'POST', url: `/api/allowed/w65568/${MARK}`, body: full }), `/api/allowed/w65568/${MARK}`, 'POST');
  assert.equal(j.length, CHUNK);
});

test('x-mte-relay-eh missing or not base64url gets 562', async () => {
  const id = await identity();
  const [p] = await pair(id, 1);
  assertError(await untouched(() => protectedRequest(id, p, { seq: 1, eh: null, url: `/api/allowed/${MARK}` })), 562);
  assertError(await untouched(() => protectedRequest(id, p, { seq: 1, eh: 'not*base64url', url: `/api/allowed/${MARK}` })), 562);
  assertOk(await protectedRequest(id, p, { seq: 1, url: `/api/allowed/${MARK}` }), `/api/allowed/${MARK}`);
});

test('META_PLAINTEXT_MAX: a meta of exactly 32768 bytes is accepted; 32769 bytes get 562 with the upstream untouched', async () => {
  const id = await identity();
  const [p] = await pair(id, 1);
  const url = `/api/allowed/meta/${MARK}`;
  const meta = JSON.stringify({ url, headers: { 'x-m': `v-${MARK}` } });
  const j = assertOk(await protectedRequest(id, p, { url, meta: padJson(meta, 32768) }), url);
  assert.equal(j.headers['x-m'], `v-${MARK}`);
  assertError(await untouched(() => protectedRequest(id, p, { url, meta: padJson(meta, 32769) })), 562);
});

test('HTTP_HEADER_COUNT_MAX applies to sealed headers: 100 are forwarded, 101 get a sealed 400', async () => {
  const id = await identity();
  const [p] = await pair(id, 1);
  const url = `/api/allowed/hc/${MARK}`;
  const headers = {};
  for (let i = 0; i < 100; i++) headers[`x-h${i}`] = `${i}-${MARK}`;
  const j = assertOk(await protectedRequest(id, p, { url, headers }), url);
  for (let i = 0; i < 100; i++) assert.equal(j.headers[`x-h${i}`], `${i}-${MARK}`);
  headers['x-h100'] = MARK;
  assertSealedError(await untouched(() => protectedRequest(id, p, { url, headers })), 400);
});

// ---- replay window ---------------------------------------------------------

test('replay window (1024): far ahead then inside the window accepted; duplicates and seq <= hi - 1024 get 570', async () => {
  const id = await identity();
  const [p] = await pair(id, 1);
  const url = `/api/allowed/rw/${MARK}`;
  assertOk(await protectedRequest(id, p, { seq: 5000, url }), url);
  assertOk(await protectedRequest(id, p, { seq: 4000, url }), url);
  for (const seq of [4000, 5000, 3976, 1]) {
    const r = await untouched(() => protectedRequest(id, p, { seq, url }));
    assertError(r, 570);
  }
  assertOk(await protectedRequest(id, p, { seq: 3977, url }), url);
});

// ---- sealed errors after acceptance -----------------------------------------

test('MTE_ROUTES: a decrypted URL outside the routes gets a sealed 404; the upstream is not reached', async () => {
  const id = await identity();
  const [p] = await pair(id, 1);
  for (const url of [`/api/other/${MARK}`, `/api/allowedx/${MARK}`, `/${MARK}?/api/allowed/x`]) {
    assertSealedError(await untouched(() => protectedRequest(id, p, { url })), 404, /not found/);
  }
  // clear targets are matched too
  assertSealedError(await untouched(() => protectedRequest(id, p, { flags: '', url: `/api/other/${MARK}` })), 404);
  // and the seq of a sealed error is spent
  const r = await protectedRequest(id, p, { url: `/api/allowed/${MARK}` });
  assertOk(r, `/api/allowed/${MARK}`);
  assertError(await untouched(() => protectedRequest(id, p, { seq: r.seq - 1n, url: `/api/allowed/${MARK}` })), 570);
});

test('a decrypted URL with dot segments or encoded separators gets a sealed 400', async () => {
  const id = await identity();
  const [p] = await pair(id, 1);
  for (const url of [`/api/allowed/../${MARK}`, `/api/allowed/./${MARK}`, `/api/allowed/%2e%2E/${MARK}`,
    `/api/allowed/a%2f${MARK}`, `/api/allowed/a%5C${MARK}`, `api/allowed/${MARK}`, `/api/allowed/${MARK}#frag`,
    `/api/allowed/${MARK} x`]) {
    assertSealedError(await untouched(() => protectedRequest(id, p, { url })), 400);
  }
  for (const target of [`/api/allowed/../${MARK}`, `/api/allowed/%2E/${MARK}`]) {
    assertSealedError(await untouched(() => protectedRequest(id, p, { flags: '', url: target })), 400);
  }
});

test('request meta that is not JSON, or not the right JSON, gets a sealed 400', async () => {
  const id = await identity();
  const [p] = await pair(id, 1);
  const url = `/api/allowed/${MARK}`;
  const metas = [
    [`not json ${MARK}`, 'u'],
    [`{"url":"${url}","headers":{}`, 'u'],
    [`["${url}"]`, 'u'],
    [JSON.stringify({ url, headers: [`x-${MARK}`] }), 'u'],
    [JSON.stringify({ headers: {} }), 'u'],                      // u without url
    [JSON.stringify({ url: 5, headers: {} }), 'u'],
    [JSON.stringify({ url, headers: {} }), ''],                  // url without u
    [JSON.stringify({ url, headers: { 'x-bad': 1 } }), 'u'],
    [JSON.stringify({ url, headers: { 'bad name': MARK } }), 'u'],
    [JSON.stringify({ url, headers: { 'x-ctl': `a\r\nx-injected: ${MARK}` } }), 'u'],
  ];
  for (const [meta, flags] of metas) {
    assertSealedError(await untouched(() => protectedRequest(id, p, { flags, url, meta })), 400);
  }
});

test('upstream unreachable gets a sealed 502; an upstream that stalls past UPSTREAM_TIMEOUT a sealed 504', async () => {
  const closed = await freePort();
  const r502 = await startRelay({ UPSTREAM: `http://127.0.0.1:${closed}`, CLIENT_ID_SECRET: SECRET, DEBUG: 'true' });
  relays.push(r502);
  const r504 = await startRelay({ UPSTREAM: upstream.url, CLIENT_ID_SECRET: SECRET, UPSTREAM_TIMEOUT: '1', DEBUG: 'true' });
  relays.push(r504);
  try {
    let id = await identity(r502);
    let [p] = await pair(id, 1);
    assertSealedError(await protectedRequest(id, p, { method: 'POST', url: `/api/x/${MARK}`, body: `b ${MARK}` }), 502, /upstream/);
    id = await identity(r504);
    [p] = await pair(id, 1);
    const before = stalled.length;
    assertSealedError(await protectedRequest(id, p, { url: `/api/allowed/stall/${MARK}` }), 504, /timed out/);
    assert.equal(stalled.length, before + 1, 'the stalling upstream had the request');
  } finally {
    await r502.stop();
    await r504.stop();
  }
});

// ---- response meta -------------------------------------------------------------

test('response: set-cookie and cache-control in the clear, content-type and x-app only sealed, upstream CORS dropped', async () => {
  const id = await identity();
  const [p] = await pair(id, 1);
  for (const origin of [undefined, 'http://allowed.example']) {
    const r = await protectedRequest(id, p, { url: '/api/allowed/headers', clear: origin ? { origin } : {} });
    assert.equal(r.status, 200);
    assert.deepEqual(r.headers['set-cookie'], ['session=abc; Path=/; HttpOnly', 'theme=dark']);
    assert.equal(r.headers['cache-control'], 'private, max-age=60');
    assert.equal(r.headers['content-type'], 'application/octet-stream', 'the wire shows the sealed body type only');
    assert.equal(r.headers['x-app'], undefined);
    assert.ok(!JSON.stringify(r.headers).includes(MARK), 'nothing of the sealed headers in the clear');
    const o = r.opened();
    assert.equal(o.headers['content-type'], 'text/plain; charset=utf-8');
    assert.equal(o.headers['x-app'], `app-${MARK}`);
    assert.equal(o.body.toString(), `headers body ${MARK}`);
    assert.equal(o.headers['set-cookie'], undefined, 'set-cookie is not sealed');
    assert.equal(o.headers['cache-control'], undefined, 'cache-control is not sealed');
    assert.deepEqual(Object.keys(o.headers).filter((k) => k.startsWith('access-control-')), [], 'no upstream CORS in meta');
    // the relay owns CORS: no grant without an allowed Origin, its own with one
    assert.equal(r.headers['access-control-allow-origin'], origin);
    assert.equal(r.headers['access-control-allow-credentials'], origin ? 'true' : undefined);
    assert.equal(r.headers['access-control-max-age'], undefined);
  }
});

// ---- configured limits on a second relay ------------------------------------

test('MAX_PAIRS_PER_CLIENT=4: a fifth pair evicts the first (560); the other four and other clients work; REPLAY_WINDOW=8', async () => {
  const small = await startRelay({ UPSTREAM: upstream.url, CLIENT_ID_SECRET: SECRET, MAX_PAIRS_PER_CLIENT: '4', REPLAY_WINDOW: '8', MTE_ROUTES: '/api/allowed/*', DEBUG: 'true' });
  relays.push(small);
  try {
    const url = `/api/allowed/small/${MARK}`;
    const bystander = await identity(small);
    const [b] = await pair(bystander, 1);
    const id = await identity(small);
    const pairs = [];
    for (let i = 0; i < 5; i++) pairs.push((await pair(id, 1))[0]);
    assertError(await untouched(() => protectedRequest(id, pairs[0], { url })), 560);
    for (const p of pairs.slice(1)) assertOk(await protectedRequest(id, p, { url }), url);
    assertOk(await protectedRequest(bystander, b, { url }), url);
    // the replay window of 8: hi = 20 keeps 13..20
    const p = pairs[4];
    assertOk(await protectedRequest(id, p, { seq: 20, url }), url);
    assertError(await untouched(() => protectedRequest(id, p, { seq: 12, url })), 570);
    assertOk(await protectedRequest(id, p, { seq: 13, url }), url);
    assertError(await untouched(() => protectedRequest(id, p, { seq: 13, url })), 570);
    assertError(await untouched(() => protectedRequest(id, p, { seq: 20, url })), 570);
  } finally {
    await small.stop();
  }
});

// ---- logs (keep last: it reads what every test above logged) -------------------

test('logs: decode failures carry client_id, pair_id and reason; no line holds the secret, a MAC, or any sealed content', async () => {
  const id = await identity();
  const [p] = await pair(id, 1);
  const url = `/api/allowed/logs/${MARK}`;
  const headers = { 'x-secret-header': `hdr-${MARK}`, authorization: `Bearer tok-${MARK}` };
  assertOk(await protectedRequest(id, p, { method: 'POST', url, headers, body: `body-${MARK}` }), url, 'POST');
  // failures with the same content: tampered meta, tampered body, replay, bad signature
  assertError(await protectedRequest(id, p, { url, headers, alterMeta: (m) => { m[5] ^= 1; } }), 562);
  const bad = await protectedRequest(id, p, { method: 'POST', url, headers, body: `body-${MARK}`, alterBody: (w) => { w[0] ^= 1; } });
  assertSealedError(bad, 562);
  assertError(await protectedRequest(id, p, { seq: 1, url, headers }), 570);
  assertError(await protectedRequest(id, p, { relayHeader: `${id.clientId}.${'0'.repeat(64)},${p.pairId},9,u`, url, headers }), 566);
  await relay.stop(); // every worker has flushed its lines
  const lines = relay.lines();
  const failures = lines.filter((l) => l.msg === 'decode failure');
  for (const reason of ['meta failed authentication', 'replayed or stale seq', 'client id signature invalid', /body/]) {
    const hit = failures.find((l) => l.client_id === id.clientId && l.pair_id === p.pairId &&
      (typeof reason === 'string' ? l.reason === reason : reason.test(l.reason)));
    assert.ok(hit, `a decode failure line for ${reason}`);
  }
  for (const l of failures) {
    assert.match(l.client_id, /^[0-9a-f]{32}$/);
    assert.equal(typeof l.pair_id, 'string');
    assert.ok(l.reason);
  }
  assert.ok(failures.length >= 10, `decode failures of the whole file logged (${failures.length})`);
  // the scan below sees what the relay logged: the bare client id is there
  assert.ok(relay.logs.some((l) => l.includes(id.clientId)));
  const secrets = [SECRET, MARK, ...identities.map((i) => i.mac)];
  for (const r of relays) {
    for (const text of [...r.logs, r.stderr]) {
      for (const s of secrets) assert.ok(!text.includes(s), `a log line holds ${s === SECRET ? 'CLIENT_ID_SECRET' : s}: ${text}`);
    }
  }
});
