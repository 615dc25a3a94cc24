// cors.test.mjs - the test page hosted on another origin than the relay, as
// a separate web app would be: it works when that origin is in CORS_ORIGINS,
// and fails with the CORS reason shown when it is not.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import {
  launchBrowser, newPage, screenshot, startStack, startPageServer, randomFile, waitResult, clickLogin, PAGE,
} from './lib.mjs';

let browser;
let stack;
let allowed;
let refused;

before(async () => {
  let relayOrigin = null;
  [allowed, refused] = await Promise.all([startPageServer(() => relayOrigin), startPageServer(() => relayOrigin)]);
  [browser, stack] = await Promise.all([launchBrowser(), startStack({ env: { CORS_ORIGINS: allowed.origin } })]);
  relayOrigin = stack.origin;
});

after(async () => {
  await browser?.close();
  await stack?.stop();
  await allowed?.stop();
  await refused?.stop();
});

test('a page on an origin listed in CORS_ORIGINS logs in and uploads cross-origin', async () => {
  const page = await newPage(browser);
  const file = randomFile('cross-origin.bin', 300000);
  try {
    await page.goto(`${allowed.origin}${PAGE}?relay=${encodeURIComponent(stack.origin)}`);
    await page.waitForSelector('#relay-status[data-state=success]');
    const r = await clickLogin(page);
    assert.equal(r.state, 'success', r.text);
    await page.setInputFiles('#upload-files', file.path);
    await page.click('#upload-button');
    const u = await waitResult(page, '#upload-result');
    assert.equal(u.state, 'success', u.text);
    assert.equal(await page.textContent('#upload-result .sha-upstream'), file.sha256);
    // Cross-origin, the relay header and the sealed length are still readable (exposed by CORS).
    const recs = await page.evaluate(() => relayTest.wire.filter((x) => x.kind === 'protected'));
    assert.ok(recs.every((x) => x.responseRelayHeader && x.receivedBytes > 0));
    assert.deepEqual(page.errors, []);
    await screenshot(page, 'cross-origin-success.png');
  } finally {
    file.cleanup();
    await page.context().close();
  }
});

test('the ES module from the relay imports and works on an allowed origin (the README\'s snippet)', async () => {
  const page = await newPage(browser);
  try {
    await page.goto(`${allowed.origin}${PAGE}?relay=${encodeURIComponent(stack.origin)}`);
    const got = await page.evaluate(async (relay) => {
      const mod = await import(`${relay}/public/mte-relay-client.mjs`);
      await mod.initMteRelayClient({ relayUrl: relay });
      const res = await mod.mteFetch(`${relay}/api/echo?from=module`, { method: 'PUT', body: 'hello' });
      return { status: res.status, body: await res.json(), exports: Object.keys(mod).sort() };
    }, stack.origin);
    assert.equal(got.status, 200);
    assert.equal(got.body.method, 'PUT');
    assert.deepEqual(got.body.query, { from: 'module' });
    assert.equal(got.body.body.start, 'hello');
    for (const name of ['initMteRelayClient', 'mteFetch', 'MteRelayError']) assert.ok(got.exports.includes(name), name);
  } finally {
    await page.context().close();
  }
});

test('a page on an origin not in CORS_ORIGINS fails with the CORS reason shown', async () => {
  const page = await newPage(browser);
  try {
    await page.goto(`${refused.origin}${PAGE}?relay=${encodeURIComponent(stack.origin)}`);
    await page.waitForSelector('#relay-status[data-state=failure]');
    assert.equal(await page.textContent('#relay-status'), 'CORS');
    const r = await clickLogin(page);
    assert.equal(r.state, 'failure');
    assert.equal(r.code, 'CORS');
    assert.match(r.text, /CORS: this page's origin is not allowed/);
    assert.ok(r.text.includes(`Add ${refused.origin} to its CORS_ORIGINS`), r.text);
    // Nothing protected was sent: the browser stopped at the client id request.
    const recs = await page.evaluate(() => relayTest.wire);
    assert.deepEqual(recs.map((x) => [x.kind, x.error]), [['client id', 'network error']]);
    await screenshot(page, 'cors-failure.png');
  } finally {
    await page.context().close();
  }
});
