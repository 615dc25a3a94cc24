// redirect.test.mjs - mteFetch follows redirects in Chromium as fetch does
// (PROTOCOL.md section 10): POST-redirect-GET, 307 with its body, a chain,
// manual and error modes, another origin refused, the upstream's absolute
// Location mapped; each hop is a protected request and no Location or path
// shows on the wire.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { launchBrowser, newPage, startOwnStack, PAGE } from './lib.mjs';
import { redirectingUpstream, sha256 } from '../node/lib/e2e.mjs';

let browser;
let stack;
let origin;

before(async () => {
  [browser, stack] = await Promise.all([launchBrowser(), startOwnStack({ upstream: redirectingUpstream })]);
  ({ origin } = stack);
});

after(async () => {
  await browser?.close();
  await stack?.stop();
});

/** A page of the relay's own origin with the client loaded; wire: what Chromium sent. */
async function relayPage() {
  const page = await newPage(browser);
  page.wire = [];
  page.on('request', (r) => page.wire.push({ url: r.url(), headers: r.headers() }));
  page.on('response', async (r) => { const w = page.wire.find((x) => x.url === r.url() && !x.answer); if (w) w.answer = await r.allHeaders(); });
  await page.goto(`${origin}${PAGE}`);
  await page.waitForFunction(() => typeof mteFetch === 'function');
  page.wire.length = 0;
  return page;
}

/** Runs mteFetch(path, init, opts) in the page: the outcome as plain data. */
function run(page, path, init, opts) {
  return page.evaluate(async ([p, i, o]) => {
    try {
      const r = await mteFetch(p, i, o);
      const text = await r.text();
      return { status: r.status, redirected: r.redirected, url: r.url, location: r.headers.get('location'), text };
    } catch (e) {
      return { error: e.name, code: e.code, location: e.location, message: e.message };
    }
  }, [path, init || {}, opts || {}]);
}

const seenSince = (start) => stack.upstream.received.slice(start).map((r) => `${r.method} ${r.url}`);

test('POST through 302 becomes a GET; through 307 it keeps its body; each hop sealed on the wire', async () => {
  const page = await relayPage();
  try {
    let start = stack.upstream.received.length;
    const a = await run(page, '/r/302', { method: 'POST', body: 'form=1' });
    assert.equal(a.status, 200, JSON.stringify(a));
    assert.equal(a.redirected, true);
    assert.equal(a.url, `${origin}/api/dest`);
    assert.equal(JSON.parse(a.text).method, 'GET');
    assert.deepEqual(seenSince(start), ['POST /r/302', 'GET /api/dest']);

    start = stack.upstream.received.length;
    const b = await run(page, '/r/307', { method: 'POST', body: 'pay=7' });
    assert.equal(JSON.parse(b.text).method, 'POST');
    assert.deepEqual(seenSince(start), ['POST /r/307', 'POST /api/dest']);
    assert.equal(stack.upstream.received.at(-1).sha256, sha256(Buffer.from('pay=7')));

    const protectedSent = page.wire.filter((w) => w.headers['x-mte-relay'] && w.headers['x-mte-relay'].split(',').length === 4);
    assert.equal(protectedSent.length, 4, 'two hops each, all protected');
    for (const w of protectedSent) {
      assert.equal(w.url, `${origin}/`, 'the path is sealed');
      assert.equal(w.answer?.location, undefined, 'no Location in the clear');
    }
    assert.ok(page.wire.every((w) => !w.url.includes('/api/dest') && !w.url.includes('/r/30')), 'no path on the wire');
    assert.deepEqual(page.errors, []);
  } finally {
    await page.context().close();
  }
});

test('a chain of 3, manual and error modes, the upstream\'s absolute Location, another origin', async () => {
  const page = await relayPage();
  try {
    let start = stack.upstream.received.length;
    const logStart = stack.relay.lines().length;
    const chain = await run(page, '/chain/3');
    assert.equal(chain.status, 200);
    assert.equal(chain.url, `${origin}/chain/0`);
    // Each hop once, in order.  Chromium may send a request again by itself
    // when its connection fails before the answer (the relay may have run
    // it): the relay refuses that copy as a replay (570) and mteFetch sends
    // the GET again with a fresh seq, so every extra upstream hit must match
    // one such refusal.
    const hops = seenSince(start);
    assert.deepEqual([...new Set(hops)], ['GET /chain/3', 'GET /chain/2', 'GET /chain/1', 'GET /chain/0']);
    for (let i = 0; i < 100 && stack.relay.lines().slice(logStart).filter((l) => l.msg === 'request' && l.route === 'protected').length < hops.length; i++) await new Promise((r) => setTimeout(r, 20));
    const replays = stack.relay.lines().slice(logStart).filter((l) => l.msg === 'request' && l.status === 570).length;
    assert.equal(hops.length, 4 + replays, JSON.stringify({ hops, replays }));

    const manual = await run(page, '/r/301', { redirect: 'manual' });
    assert.equal(manual.status, 301, 'not an opaque redirect: the 3xx itself');
    assert.equal(manual.location, '/api/dest');
    assert.equal(manual.redirected, false);

    start = stack.upstream.received.length;
    const err = await run(page, '/r/303', { method: 'POST', body: 'x', redirect: 'error' });
    assert.equal(err.error, 'TypeError');
    assert.deepEqual(seenSince(start), ['POST /r/303']);

    const abs = await run(page, '/abs');
    assert.equal(abs.status, 200);
    assert.equal(abs.url, `${origin}/api/dest?from=abs`);

    start = stack.upstream.received.length;
    const away = await run(page, `/r/302?to=${encodeURIComponent('http://127.0.0.2:9/elsewhere')}`);
    assert.equal(away.code, 'REDIRECT_OTHER_ORIGIN', JSON.stringify(away));
    assert.equal(away.location, 'http://127.0.0.2:9/elsewhere');
    assert.ok(page.wire.every((w) => !w.url.startsWith('http://127.0.0.2')), 'nothing sent to the other origin');
    assert.equal(seenSince(start).length, 1);
    assert.deepEqual(page.errors, []);
  } finally {
    await page.context().close();
  }
});
