// tls.test.mjs - the relay serving HTTPS itself (TLS_CERT_FILE, TLS_KEY_FILE)
// with a certificate from a throwaway CA (tests/node/lib/pki.mjs), in headless
// Debian chromium: the leaf's SPKI is accepted with
// --ignore-certificate-errors-spki-list, so the page is a real secure
// context, and the Login demo makes its round trip through mteFetch over
// https to the relay and the demo upstream.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { chromium } from 'playwright-core';
import { CHROMIUM, SECRET, PAGE, freePort, clickLogin, wireRecords } from './lib.mjs';
import { startStack } from '../node/lib/e2e.mjs';
import { makeCA, spkiHash } from '../node/lib/pki.mjs';
import { startDemoUpstream } from '../../demo/upstream.mjs';

let ca; let leaf; let stack; let browser; let origin;

before(async () => {
  ca = makeCA();
  leaf = ca.leaf('ec');
  const port = await freePort();
  origin = `https://localhost:${port}`;
  stack = await startStack({
    upstream: startDemoUpstream,
    env: { CLIENT_ID_SECRET: SECRET, CORS_ORIGINS: origin, PORT: port, TLS_CERT_FILE: leaf.chain, TLS_KEY_FILE: leaf.key },
  });
  browser = await chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    chromiumSandbox: false,
    args: ['--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking',
      '--disable-component-update', '--disable-sync', `--ignore-certificate-errors-spki-list=${spkiHash(leaf.cert)}`],
  });
});

after(async () => {
  await browser?.close();
  await stack?.stop();
  ca?.cleanup();
});

test('over https the page is a secure context and the Login demo round-trips through mteFetch', async () => {
  const context = await browser.newContext();
  const page = await context.newPage();
  const errors = [];
  page.on('pageerror', (e) => errors.push(e.message));
  const resp = await page.goto(origin + PAGE);
  assert.equal(resp.status(), 200);
  assert.equal((await resp.securityDetails())?.protocol, 'TLS 1.2');
  assert.deepEqual(await page.evaluate(() => [location.protocol, isSecureContext]), ['https:', true]);
  await page.waitForSelector('#relay-status[data-state=success]');
  await page.fill('#login-email', 'ada@example.com');
  await page.fill('#login-password', 'correct horse battery staple');
  const r = await clickLogin(page);
  assert.equal(r.state, 'success', r.text);
  assert.match(r.text, /Hello, ada@example\.com!/);
  const recs = await wireRecords(page);
  assert.deepEqual(recs.map((x) => x.kind), ['client id', 'pairing', 'protected']);
  assert.equal(recs[2].status, 200);
  const routes = stack.relay.lines().filter((l) => l.msg === 'request').map((l) => `${l.route} ${l.status}`);
  assert.ok(routes.includes('pair 200') && routes.includes('protected 200'), routes.join());
  assert.deepEqual(errors, []);
  await context.close();
});
