// stream.test.mjs - streamed responses in Chromium (PROTOCOL.md section 13):
// MteEventSource and a raw mteFetch reader get server-sent events one by one
// (the upstream writes event n+1 only after the page has shown event n; with
// the v1 layout this would hang), and the test page's "Live events" demo
// shows ticks from the demo upstream while its stream is still open.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import {
  launchBrowser, newPage, startOwnStack, PAGE, startStack as startDemoStack,
} from './lib.mjs';
import { startUpstream } from '../node/lib/harness.mjs';

let browser;
let stack;
let origin;
const gates = new Map();

function lockstepUpstream() {
  return startUpstream((req, res) => {
    const m = /^\/sse\/(\w+)$/.exec(req.url);
    if (!m) return false;
    res.writeHead(200, { 'content-type': 'text/event-stream' });
    (async () => {
      for (let n = 0; n < 5; n++) {
        if (n > 0) await new Promise((resolve) => gates.set(m[1], resolve));
        res.write(`id: ${n}\ndata: event ${n}\n\n`);
      }
      res.end();
    })();
    return true;
  });
}

before(async () => {
  [browser, stack] = await Promise.all([launchBrowser(), startOwnStack({ upstream: lockstepUpstream })]);
  ({ origin } = stack);
});

after(async () => {
  await browser?.close();
  await stack?.stop();
});

/** Lets the upstream write the next event each time the page has got one more. */
async function lockstep(page, id, count) {
  for (let n = 1; n <= count; n++) {
    await page.waitForFunction((k) => window.got.length >= k, n);
    if (n < count) {
      for (let i = 0; i < 500 && !gates.has(id); i++) await new Promise((r) => setTimeout(r, 10));
      gates.get(id)();
      gates.delete(id);
    }
  }
  return page.evaluate(() => window.got);
}

test('MteEventSource in Chromium: events one by one, in lockstep with the upstream', async () => {
  const page = await newPage(browser);
  try {
    await page.goto(origin + PAGE);
    await page.waitForFunction(() => typeof MteEventSource === 'function');
    await page.evaluate(() => {
      window.got = [];
      const es = new MteEventSource('/sse/es');
      es.onmessage = (e) => { window.got.push([e.data, e.lastEventId]); if (window.got.length === 5) es.close(); };
    });
    const got = await lockstep(page, 'es', 5);
    assert.deepEqual(got, [0, 1, 2, 3, 4].map((n) => [`event ${n}`, String(n)]));
    assert.deepEqual(page.errors, []);
  } finally {
    await page.context().close();
  }
});

test('a raw mteFetch reader in Chromium gets each piece as it is written', async () => {
  const page = await newPage(browser);
  try {
    await page.goto(origin + PAGE);
    await page.waitForFunction(() => typeof mteFetch === 'function');
    await page.evaluate(() => {
      window.got = [];
      (async () => {
        const r = await mteFetch('/sse/raw');
        const reader = r.body.pipeThrough(new TextDecoderStream()).getReader();
        let text = '';
        for (;;) {
          const { done, value } = await reader.read();
          if (done) break;
          text += value;
          const parts = text.split('\n\n');
          text = parts.pop();
          for (const p of parts) window.got.push(p);
        }
      })();
    });
    const got = await lockstep(page, 'raw', 5);
    assert.deepEqual(got, [0, 1, 2, 3, 4].map((n) => `id: ${n}\ndata: event ${n}`));
  } finally {
    await page.context().close();
  }
});

test('the test page\'s Live events demo shows ticks, each with its delay, while the stream is open', async () => {
  const demo = await startDemoStack();
  const page = await newPage(browser);
  try {
    await page.goto(demo.origin + PAGE);
    await page.waitForSelector('#relay-status[data-state=success]');
    await page.click('#events-start');
    await page.waitForFunction(() => relayTest.events.length >= 3);
    // the ticker writes 20 ticks, one every half second: 3 shown means it is still running
    assert.equal(await page.textContent('#events-status'), 'open');
    const items = await page.$$eval('#events-list li', (lis) => lis.map((li) => li.textContent));
    assert.ok(items.length >= 3);
    items.forEach((t, i) => assert.match(t, new RegExp(`^tick ${i}: -?\\d+ ms after it was written$`)));
    await page.click('#events-stop');
    assert.equal(await page.textContent('#events-status'), 'stopped');
    assert.deepEqual(page.errors, []);
  } finally {
    await page.context().close();
    await demo.stop();
  }
});
