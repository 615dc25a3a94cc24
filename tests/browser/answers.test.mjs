// answers.test.mjs - authenticated answers in Chromium (PROTOCOL.md section
// 11): after Redis lost every pair (FLUSHALL), a POST goes through once, sent
// again only because the relay's 560 carries a tag the client verified; a
// forged refusal after an accepted POST is reported and never sent again.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { launchBrowser, newPage, startOwnStack, PAGE } from './lib.mjs';

let browser;
let stack;
let origin;

before(async () => {
  [browser, stack] = await Promise.all([launchBrowser(), startOwnStack({ redis: true })]);
  ({ origin } = stack);
});

after(async () => {
  await browser?.close();
  await stack?.stop();
});

const post = (page, path) => page.evaluate(async (p) => {
  try {
    const r = await mteFetch(p, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"n":1}' });
    await r.text();
    return { status: r.status };
  } catch (e) {
    return { code: e.code, status: e.status };
  }
}, path);

const seen = (path) => stack.upstream.received.filter((r) => r.url === path).length;

test('FLUSHALL between two POSTs: the second goes through once, after an authenticated 560', async () => {
  const page = await newPage(browser);
  try {
    await page.goto(origin + PAGE);
    await page.waitForFunction(() => typeof mteFetch === 'function');
    assert.equal((await post(page, '/api/echo-a')).status, 200);
    assert.equal(await stack.redis.cli('FLUSHALL'), 'OK');
    const statuses = [];
    page.on('response', (r) => { if (r.request().headers()['x-mte-relay']?.split(',').length === 4) statuses.push([r.status(), !!r.headers()['x-mte-relay-auth']]); });
    assert.equal((await post(page, '/api/echo-b')).status, 200);
    assert.deepEqual(statuses, [[560, true], [200, false]], 'a tagged 560, then the answer');
    assert.equal(seen('/api/echo-b'), 1);
    assert.deepEqual(page.errors, []);
  } finally {
    await page.context().close();
  }
});

test('a forged 560 after an accepted POST: UNAUTHENTICATED_ANSWER, the upstream runs it once', async () => {
  const page = await newPage(browser);
  try {
    await page.goto(origin + PAGE);
    await page.waitForFunction(() => typeof mteFetch === 'function');
    assert.equal((await post(page, '/api/echo-c')).status, 200);
    // a party on the way: the relay takes the POST, the page gets a forged 560
    await page.route('**/*', async (route) => {
      const req = route.request();
      if (req.headers()['x-mte-relay']?.split(',').length !== 4) return route.continue();
      await route.fetch();
      return route.fulfill({ status: 560, contentType: 'application/json', body: '{"error":"state not found","code":560}' });
    });
    const r = await post(page, '/api/echo-d');
    assert.deepEqual(r, { code: 'UNAUTHENTICATED_ANSWER', status: 560 });
    assert.equal(seen('/api/echo-d'), 1);
  } finally {
    await page.context().close();
  }
});
