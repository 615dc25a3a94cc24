// relay-test-page.test.mjs - the relay test page in headless Debian chromium
// against the real relay (its state in a real redis-server) and the demo
// upstream: the Login and File Upload demos, many mteFetch calls from the
// page, a reload, a relay restart, and the failure states.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import {
  launchBrowser, newPage, screenshot, startStack, startTamperProxy, randomFile, waitResult,
  clickLogin, wireRecords, storedClientId, freePort, PAGE,
} from './lib.mjs';

let browser;
let stack;
let page;
const clientIdOf = (rec) => rec.relayHeader && rec.relayHeader.slice(0, 32);

before(async () => {
  [browser, stack] = await Promise.all([launchBrowser(), startStack({ redis: true })]);
  page = await newPage(browser);
  await page.goto(stack.origin + PAGE);
});

after(async () => {
  await browser?.close();
  await stack?.stop();
});

test('the page loads from the relay, with the client, and finds the relay reachable', async () => {
  assert.equal(await page.inputValue('#relay-url'), stack.origin);
  await page.waitForSelector('#relay-status[data-state=success]');
  assert.equal(await page.isVisible('#client-missing'), false);
  assert.equal(await page.evaluate(() => typeof mteFetch), 'function');
});

test('Login demo succeeds and shows the sealed wire beside what the upstream received', async () => {
  await page.fill('#login-email', 'ada@example.com');
  await page.fill('#login-password', 'correct horse battery staple');
  const r = await clickLogin(page);
  assert.equal(r.state, 'success', r.text);
  assert.match(r.text, /Hello, ada@example\.com!/);
  assert.doesNotMatch(r.text, /correct horse/, 'the upstream does not echo the password');
  // The wire: the opaque path and a body that is the JSON plus one GCM tag.
  const body = JSON.stringify({ email: 'ada@example.com', password: 'correct horse battery staple' });
  assert.equal(await page.textContent('#login-wire .wire-path'), 'POST /');
  assert.equal(await page.textContent('#login-wire .upstream-path'), 'POST /api/login');
  assert.equal(await page.textContent('#login-wire .upstream-bytes'), `${body.length} bytes`);
  assert.match(await page.textContent('#login-wire .wire-sent'), new RegExp(`^${body.length + 16} bytes`));
  const recs = await wireRecords(page);
  assert.deepEqual(recs.map((x) => x.kind), ['client id', 'pairing', 'protected']);
  assert.equal(recs[2].path, '/');
  assert.equal(recs[2].sentBytes, body.length + 16);
  assert.equal(recs[2].status, 200);
  // The relay's answer announced its sealed length.
  assert.ok(recs[2].receivedBytes > 0);
  // The client id's signature is never shown.
  const signed = await storedClientId(page, stack.origin);
  assert.match(signed, /^[0-9a-f]{32}\.[0-9a-f]{64}$/);
  const shown = await page.innerText('body');
  assert.ok(shown.includes(signed.slice(0, 32)));
  assert.ok(!shown.includes(signed.slice(33)), 'signature visible on the page');
  await screenshot(page, 'login-success.png');
});

test('File Upload demo: a 20 MiB file and a small one arrive with matching sha256', { timeout: 120000 }, async () => {
  const big = randomFile('twenty-mib.bin', 20 * 1024 * 1024);
  const small = randomFile('naïve "quoted" ✓.txt', 1234);
  try {
    await page.setInputFiles('#upload-files', [big.path, small.path]);
    await page.click('#upload-button');
    const r = await waitResult(page, '#upload-result', 100000);
    assert.equal(r.state, 'success', r.text);
    assert.match(r.text, /Upload succeeded: 2 files, every sha256 matches/);
    const rows = await page.$$eval('#upload-result .file-row', (trs) => trs.map((tr) => ({
      name: tr.querySelector('.file-name').textContent,
      size: tr.querySelector('.file-size').title,
      upstream: tr.querySelector('.sha-upstream').textContent,
      local: tr.querySelector('.sha-local').textContent,
      match: tr.dataset.match,
    })));
    assert.deepEqual(rows, [
      { name: big.name, size: '20,971,520 bytes', upstream: big.sha256, local: big.sha256, match: 'yes' },
      // Browsers escape " in multipart file names; the page compares accordingly.
      { name: 'naïve %22quoted%22 ✓.txt', size: '1,234 bytes', upstream: small.sha256, local: small.sha256, match: 'yes' },
    ]);
    assert.equal(await page.getAttribute('#upload-progress', 'data-step'), 'done');
    // The sealed body is exactly the multipart body plus one tag per 64 KiB chunk (protocol.md).
    const upBytes = Number((await page.textContent('#upload-wire .upstream-bytes')).replace(/\D/g, ''));
    const last = (await wireRecords(page)).filter((x) => x.kind === 'protected').pop();
    assert.ok(upBytes > big.size + small.size);
    assert.equal(last.sentBytes, upBytes + 16 * (Math.floor(upBytes / 65536) + 1));
    assert.equal(await page.textContent('#upload-wire .upstream-path'), 'POST /api/upload');
    await screenshot(page, 'upload-success.png');
    await screenshot(page, 'test-page.png');
  } finally {
    big.cleanup();
    small.cleanup();
  }
});

test('the page\'s incremental SHA-256 agrees with WebCrypto at every block boundary', async () => {
  const bad = await page.evaluate(async () => {
    const hex = (b) => Array.from(new Uint8Array(b), (x) => x.toString(16).padStart(2, '0')).join('');
    const out = [];
    const sizes = [0, 1, 3, 55, 56, 57, 63, 64, 65, 119, 120, 127, 128, 129, 1000, 65536 * 3 + 5, 5 * 1024 * 1024 + 7];
    for (const n of sizes) {
      const data = new Uint8Array(n);
      for (let o = 0; o < n; o += 65536) crypto.getRandomValues(data.subarray(o, Math.min(n, o + 65536)));
      const want = hex(await crypto.subtle.digest('SHA-256', data));
      // Fed in uneven pieces, so the block buffering is exercised too.
      const h = new relayTest.Sha256();
      for (let o = 0, step = 1; o < n; o += step, step = (step * 7 + 3) % 997 + 1) h.update(data.subarray(o, Math.min(n, o + step)));
      const got = h.hex();
      if (got !== want) out.push({ n, got, want });
    }
    return out;
  });
  assert.deepEqual(bad, []);
});

test('500 sequential and 50 parallel mteFetch calls from the page all succeed', { timeout: 120000 }, async () => {
  const result = await page.evaluate(async (origin) => {
    const call = async (i) => {
      const body = `request ${i} ${'x'.repeat(i % 300)}`;
      const res = await mteFetch(`${origin}/api/echo?i=${i}`, { method: 'POST', headers: { 'x-call': String(i) }, body });
      const j = await res.json();
      // Each answer must be the one for its own request.
      return res.status === 200 && j.query.i === String(i) && j.headers['x-call'] === String(i) &&
        j.body.bytes === body.length && j.body.start === body;
    };
    let sequential = 0;
    const errors = [];
    for (let i = 0; i < 500; i++) {
      try { if (await call(i)) sequential++; } catch (e) { errors.push(`${i}: ${e.code} ${e.message}`); }
    }
    const par = await Promise.allSettled(Array.from({ length: 50 }, (_, k) => call(1000 + k)));
    for (const p of par) if (p.status === 'rejected') errors.push(`${p.reason.code} ${p.reason.message}`);
    return { sequential, parallel: par.filter((p) => p.status === 'fulfilled' && p.value).length, errors: errors.slice(0, 5) };
  }, stack.origin);
  assert.deepEqual(result, { sequential: 500, parallel: 50, errors: [] });
  // All on the one pair made at the first login: no re-pairing was needed.
  const recs = await wireRecords(page);
  assert.equal(recs.filter((x) => x.kind === 'pairing').length, 1);
  assert.equal(new Set(recs.filter((x) => x.kind === 'protected').map((x) => x.pairId)).size, 1);
});

test('a page reload keeps the client id and makes a new pair', async () => {
  const before_ = (await wireRecords(page)).filter((x) => x.kind === 'protected');
  const oldId = clientIdOf(before_[0]);
  const oldPairs = new Set(before_.map((x) => x.pairId));
  await page.reload();
  const r = await clickLogin(page);
  assert.equal(r.state, 'success', r.text);
  const recs = await wireRecords(page);
  assert.deepEqual(recs.map((x) => x.kind), ['client id', 'pairing', 'protected']);
  assert.equal(clientIdOf(recs[2]), oldId, 'same client id after the reload');
  assert.ok(!oldPairs.has(recs[2].pairId), 'a new pair after the reload');
  assert.equal(recs[2].seq, 1);
});

test('the relay restarted between two clicks is transparent', async () => {
  let r = await clickLogin(page);
  assert.equal(r.state, 'success', r.text);
  const n = (await wireRecords(page)).length;
  await stack.restartRelay();
  r = await clickLogin(page);
  assert.equal(r.state, 'success', r.text);
  // The pair lives in Redis, so the restarted relay goes on with it.
  const after_ = (await wireRecords(page)).slice(n);
  assert.deepEqual(after_.map((x) => [x.kind, x.status]), [['protected', 200]]);
});

test('a relay restart that loses its state (embedded store) is transparent too: the client pairs again', async () => {
  const local = await startStack({ redis: false });
  const p = await newPage(browser);
  try {
    await p.goto(local.origin + PAGE);
    let r = await clickLogin(p);
    assert.equal(r.state, 'success', r.text);
    const n = (await wireRecords(p)).length;
    await local.restartRelay();
    r = await clickLogin(p);
    assert.equal(r.state, 'success', r.text);
    const after_ = (await wireRecords(p)).slice(n);
    // The login is a POST: sent again only because the relay's 560 carries a
    // tag the client verified (authenticated answers, PROTOCOL.md section 11).
    assert.deepEqual(after_.map((x) => [x.kind, x.status]), [['protected', 560], ['pairing', 200], ['protected', 200]]);
    assert.match(await p.innerText('#login-wire'), /Sent 2 times/);
  } finally {
    await p.context().close();
    await local.stop();
  }
});

test('failure: relay unreachable is named as such', async () => {
  const p = await newPage(browser);
  try {
    const dead = `http://127.0.0.1:${await freePort()}`;
    await p.goto(`${stack.origin}${PAGE}?relay=${encodeURIComponent(dead)}`);
    await p.waitForSelector('#relay-status[data-state=failure]');
    assert.equal(await p.textContent('#relay-status'), 'unreachable');
    const r = await clickLogin(p);
    assert.equal(r.state, 'failure');
    assert.equal(r.code, 'RELAY_UNREACHABLE');
    assert.match(r.text, /Relay unreachable/);
    await screenshot(p, 'failure-unreachable.png');
  } finally {
    await p.context().close();
  }
});

test('failure: a sealed request that does not authenticate is named "Decode failed"', async () => {
  const proxy = await startTamperProxy(stack.origin, 'meta');
  const p = await newPage(browser);
  try {
    await p.goto(proxy.origin + PAGE);
    const r = await clickLogin(p);
    assert.equal(r.state, 'failure');
    assert.equal(r.code, 'DECODE_FAILED');
    assert.match(r.text, /Decode failed/);
    assert.match(r.text, /562/);
    // The login is a POST: after a 562 it is not sent again (a genuine 562 can
    // be had for a tampered copy of an accepted request: PROTOCOL.md section 11).
    assert.equal(proxy.seen.meta, 1, 'one try, no retry');
    await screenshot(p, 'failure-decode.png');
  } finally {
    await p.context().close();
    await proxy.stop();
  }
});

test('failure: an invalid pairing answer is named "Pairing failed"', async () => {
  const proxy = await startTamperProxy(stack.origin, 'pair');
  const p = await newPage(browser);
  try {
    await p.goto(proxy.origin + PAGE);
    const r = await clickLogin(p);
    assert.equal(r.state, 'failure');
    assert.equal(r.code, 'PAIRING_FAILED');
    assert.match(r.text, /Pairing failed/);
    assert.equal(proxy.seen.pair, 1);
  } finally {
    await p.context().close();
    await proxy.stop();
  }
});

test('failure: the upstream down gives the relay\'s sealed 502, named as such', async () => {
  const dead = await startStack({ env: { UPSTREAM: `http://127.0.0.1:${await freePort()}` } });
  const p = await newPage(browser);
  try {
    await p.goto(dead.origin + PAGE);
    const r = await clickLogin(p);
    assert.equal(r.state, 'failure');
    assert.equal(r.code, 'HTTP_502');
    assert.match(r.text, /could not get an answer from its upstream/);
    // It was accepted and answered sealed: the wire shows the protected exchange.
    const recs = await wireRecords(p);
    assert.deepEqual(recs.map((x) => [x.kind, x.status]), [['client id', 200], ['pairing', 200], ['protected', 502]]);
    assert.ok(recs[2].responseRelayHeader, 'the 502 is sealed');
  } finally {
    await p.context().close();
    await dead.stop();
  }
});

test('no page errors', () => {
  assert.deepEqual(page.errors, []);
});
