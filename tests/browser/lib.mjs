// lib.mjs - shared pieces of the browser tests: Debian's chromium driven by
// playwright-core (never a downloaded browser), the real relay, the demo
// upstream, a real redis-server, a second origin serving the test page, and
// a small tampering proxy for the failure states.
import { chromium } from 'playwright-core';
import http from 'node:http';
import { createHash, randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, rmSync, openSync, writeSync, closeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startRelay, startRedis, freePort, ROOT } from '../node/lib/harness.mjs';
import { startStack as startE2eStack } from '../node/lib/e2e.mjs';
import { startDemoUpstream } from '../../demo/upstream.mjs';

export { startRelay, startRedis, freePort, ROOT };
export const CHROMIUM = process.env.CHROMIUM_BIN || '/usr/bin/chromium';
export const ARTIFACTS = join(ROOT, 'test-artifacts');
export const SECRET = 'browser-test-secret-0123456789abcdef0123';
export const PAGE = '/public/relay-test.html';

/**
 * Headless chromium with the flags this machine needs: no sandbox (root),
 * no GPU, no QUIC, and nothing that phones home.  Playwright gives every
 * launch a fresh, empty user-data-dir of its own.
 */
export function launchBrowser() {
  return chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    chromiumSandbox: false,
    args: ['--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking',
      '--disable-component-update', '--disable-sync'],
  });
}

/** A page of a fresh context (own localStorage), failing loudly on page errors. */
export async function newPage(browser, { width = 1200, height = 900 } = {}) {
  const context = await browser.newContext({ viewport: { width, height } });
  const page = await context.newPage();
  page.errors = [];
  page.on('pageerror', (e) => page.errors.push(e.message));
  return page;
}

export async function screenshot(page, name) {
  mkdirSync(ARTIFACTS, { recursive: true });
  const path = join(ARTIFACTS, name);
  await page.screenshot({ path, fullPage: true });
  return path;
}

/**
 * The relay in front of the demo upstream (the e2e stack of
 * tests/node/lib/e2e.mjs), its own page origin the one allowed; with
 * redis: true a real redis-server holds its state.  stack.restartRelay()
 * stops the relay and starts it again on the same port with the same settings.
 */
export async function startStack({ redis = false, env = {} } = {}) {
  const port = await freePort();
  const origin = `http://127.0.0.1:${port}`;
  const stack = await startE2eStack({
    redis, upstream: startDemoUpstream, env: { CLIENT_ID_SECRET: SECRET, CORS_ORIGINS: origin, ...env, PORT: port },
  });
  return Object.assign(stack, { origin, port });
}

/**
 * The relay in front of an upstream of the test's own (default: the node
 * tests' recording one), serving the test page itself on its origin, the one
 * allowed.  Returns the e2e stack with .origin.
 */
export async function startOwnStack({ upstream, redis = false } = {}) {
  const port = await freePort();
  const origin = `http://127.0.0.1:${port}`;
  const stack = await startE2eStack({
    redis, ...(upstream ? { upstream } : {}), env: { CLIENT_ID_SECRET: SECRET, CORS_ORIGINS: origin, PORT: port },
  });
  return Object.assign(stack, { origin });
}

function listen(server) {
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve(server.address().port)));
}

function closer(server) {
  return () => new Promise((r) => { server.closeAllConnections(); server.close(() => r()); });
}

/**
 * Another origin serving the relay's own /public/ files, as a separate web
 * app would host the page.  relayOrigin: a string, or a function giving it
 * (so the server can exist before the relay that lists it in CORS_ORIGINS).
 */
export async function startPageServer(relayOrigin) {
  const origin = typeof relayOrigin === 'function' ? relayOrigin : () => relayOrigin;
  const server = http.createServer(async (req, res) => {
    if (req.method !== 'GET' || !req.url.startsWith('/public/')) { res.writeHead(404); res.end(); return; }
    try {
      const r = await fetch(origin() + req.url);
      res.writeHead(r.status, { 'content-type': r.headers.get('content-type') || 'application/octet-stream' });
      res.end(Buffer.from(await r.arrayBuffer()));
    } catch (e) { res.writeHead(502); res.end(String(e)); }
  });
  const port = await listen(server);
  return { origin: `http://127.0.0.1:${port}`, stop: closer(server) };
}

/**
 * A proxy in front of the relay (pages are served through it too, so it is
 * the page's own origin) that damages traffic on purpose:
 *   mode 'meta'  flips a bit of every protected request's sealed meta (x-mte-relay-eh)
 *   mode 'pair'  replaces the relay's pairing answer with an empty list
 * proxy.seen counts what it damaged.
 */
export async function startTamperProxy(relayOrigin, mode) {
  const target = new URL(relayOrigin);
  const proxy = { seen: { meta: 0, pair: 0 } };
  const server = http.createServer((req, res) => {
    const headers = { ...req.headers, host: target.host };
    const relayHdr = req.headers['x-mte-relay'];
    if (mode === 'meta' && relayHdr && relayHdr.split(',').length === 4 && headers['x-mte-relay-eh']) {
      const eh = Buffer.from(headers['x-mte-relay-eh'], 'base64url');
      eh[eh.length >> 1] ^= 0x01;
      headers['x-mte-relay-eh'] = eh.toString('base64url');
      proxy.seen.meta++;
    }
    const isPair = mode === 'pair' && req.method === 'POST' && req.url === '/api/mte-pair';
    const up = http.request({ host: target.hostname, port: target.port, method: req.method, path: req.url, headers }, (ures) => {
      if (isPair && ures.statusCode === 200) {
        ures.resume();
        ures.on('end', () => {
          proxy.seen.pair++;
          const h = { ...ures.headers, 'content-length': '2' };
          delete h['transfer-encoding'];
          res.writeHead(200, h);
          res.end('[]');
        });
        return;
      }
      res.writeHead(ures.statusCode, ures.headers);
      ures.pipe(res);
    });
    up.on('error', (e) => { if (!res.headersSent) { res.writeHead(502); } res.end(String(e)); });
    req.pipe(up);
  });
  const port = await listen(server);
  proxy.origin = `http://127.0.0.1:${port}`;
  proxy.stop = closer(server);
  return proxy;
}

/** A file of n random bytes in a fresh temporary folder; {path, sha256, size, cleanup}. */
export function randomFile(name, n) {
  const dir = mkdtempSync(join(tmpdir(), 'mte-browser-'));
  const path = join(dir, name);
  const fd = openSync(path, 'w');
  const h = createHash('sha256');
  for (let left = n; left > 0;) {
    const b = randomBytes(Math.min(left, 1 << 20));
    h.update(b);
    writeSync(fd, b);
    left -= b.length;
  }
  closeSync(fd);
  return { path, name, size: n, sha256: h.digest('hex'), cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}

/** Waits until the result box leaves its busy state; returns {state, code, text}. */
export async function waitResult(page, box, timeout = 60000) {
  const sel = `${box}[data-state=success], ${box}[data-state=failure]`;
  await page.waitForSelector(sel, { timeout });
  return page.$eval(box, (e) => ({ state: e.dataset.state, code: e.dataset.code || '', text: e.innerText }));
}

export async function clickLogin(page) {
  // The previous answer is replaced as soon as the click is handled.
  await page.click('#login-button');
  return waitResult(page, '#login-result');
}

/** The page's wire records (what the client handed the browser for the relay). */
export const wireRecords = (page) => page.evaluate(() => globalThis.relayTest.wire);

/** The signed client id the client keeps in localStorage for origin. */
export const storedClientId = (page, origin) =>
  page.evaluate((o) => localStorage.getItem(`mte-relay:clientId:${o}`), origin);
