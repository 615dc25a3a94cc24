// server-limits.test.mjs - the server section of src/limits.h at the limit
// and one past it: PUBLIC_NAME_MAX, CORS_REQUEST_HEADERS_MAX,
// UPSTREAM_HEAD_MAX, UPSTREAM_FIELDS_MAX (pass-through and protected),
// LOG_PATH_MAX and METHOD_MAX in the request log line.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, connect } from 'node:net';
import { mkdtempSync, writeFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startRelay, newClient } from './lib/e2e.mjs';
import { limit } from './lib/harness.mjs';

const PUBLIC_NAME_MAX = 255;
const CORS_REQUEST_HEADERS_MAX = 1024;
const UPSTREAM_HEAD_MAX = 65536;
const UPSTREAM_FIELDS_MAX = 100;

let dir; let relay; let upstream; let upstreamPort;

// A raw upstream: /head/<bytes> answers with a head of exactly that many
// bytes; /fields/<n> with exactly n field lines.  No framework adds fields.
function rawUpstream() {
  return new Promise((resolve) => {
    const srv = createServer((sock) => {
      let buf = '';
      sock.on('data', (d) => {
        buf += d.toString('latin1');
        const end = buf.indexOf('\r\n\r\n');
        if (end < 0) return;
        const path = buf.slice(buf.indexOf(' ') + 1, buf.indexOf(' ', buf.indexOf(' ') + 1));
        const [, kind, num] = path.split('/');
        const n = Number(num);
        let head;
        if (kind === 'head') {
          const start = 'HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n';
          const pad = n - start.length - 'X-Pad: \r\n'.length - 2;
          head = `${start}X-Pad: ${'p'.repeat(pad)}\r\n\r\n`;
        } else {
          const lines = ['Content-Length: 2', 'Connection: close'];
          for (let i = lines.length; i < n; i++) lines.push(`X-F${i}: v`);
          head = `HTTP/1.1 200 OK\r\n${lines.join('\r\n')}\r\n\r\n`;
        }
        if (kind === 'head') assert.equal(Buffer.byteLength(head), n);
        sock.end(head + 'ok');
      });
      sock.on('error', () => {});
    });
    srv.listen(0, '127.0.0.1', () => resolve(srv));
  });
}

before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'mte-public-'));
  writeFileSync(join(dir, 'a'.repeat(PUBLIC_NAME_MAX)), 'longest name');
  upstream = await rawUpstream();
  upstreamPort = upstream.address().port;
  relay = await startRelay({ UPSTREAM: `http://127.0.0.1:${upstreamPort}`, PUBLIC_DIR: dir,
    PASS_THROUGH_ROUTES: '/head/*,/fields/*', CORS_ORIGINS: 'http://app.example' });
});

after(async () => {
  await relay?.stop();
  await new Promise((r) => upstream.close(r));
  rmSync(dir, { recursive: true, force: true });
});

test('PUBLIC_NAME_MAX: a 255-byte name is served, 256 bytes get 404', async () => {
  const ok = await fetch(`${relay.url}/public/${'a'.repeat(PUBLIC_NAME_MAX)}`);
  assert.equal(ok.status, 200);
  assert.equal(await ok.text(), 'longest name');
  const over = await fetch(`${relay.url}/public/${'a'.repeat(PUBLIC_NAME_MAX + 1)}`);
  assert.equal(over.status, 404);
  assert.equal((await over.json()).code, 404);
});

test('LOG_PATH_MAX and METHOD_MAX: the log line holds a path of the limit whole and cuts one byte more; a method is cut at METHOD_MAX', async () => {
  const pathMax = limit('LOG_PATH_MAX');
  const methodMax = limit('METHOD_MAX');
  const atLimit = `/public/${'p'.repeat(pathMax - '/public/'.length)}`;
  assert.equal(atLimit.length, pathMax);
  for (const path of [atLimit, `${atLimit}q`]) {
    const r = await fetch(`${relay.url}${path}`);
    assert.equal(r.status, 404);
    await r.arrayBuffer();
  }
  const pathLines = () => relay.lines().filter((l) => l.msg === 'request' && l.path.startsWith('/public/ppp'));
  // the second request's line is written after the first's (one connection each, in turn)
  await relay.waitLog(() => pathLines().length === 2);
  const paths = pathLines().map((l) => l.path);
  assert.deepEqual(paths, [atLimit, atLimit], 'the longer path is cut to the limit');
  // a pass-through route forwards a method of METHOD_MAX bytes; one more is
  // 501, and its log line holds the first METHOD_MAX bytes
  const send = (method) => new Promise((resolve, reject) => {
    const sock = connect(relay.port, '127.0.0.1', () => sock.end(`${method} /fields/3 HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n`));
    let got = '';
    sock.on('data', (d) => { got += d.toString('latin1'); });
    sock.on('end', () => resolve(got));
    sock.on('error', reject);
  });
  const method = 'M'.repeat(methodMax);
  assert.match(await send(method), /^HTTP\/1\.1 200 /);
  const over = await send(`${method}N`);
  assert.match(over, /^HTTP\/1\.1 501 /);
  assert.deepEqual(JSON.parse(over.slice(over.indexOf('\r\n\r\n') + 4)),
    { error: 'request method too long to forward', code: 501 });
  const methodLines = () => relay.lines().filter((l) => l.msg === 'request' && l.path === '/fields/3' && l.method.startsWith('MMM'));
  await relay.waitLog(() => methodLines().length === 2);
  assert.deepEqual(methodLines().map((l) => `${l.method} ${l.status}`), [`${method} 200`, `${method} 501`]);
});

test('CORS_REQUEST_HEADERS_MAX: a 1024-byte request-headers list is granted, 1025 bytes are not echoed', async () => {
  const list = (len) => {
    const names = [];
    let s = '';
    for (let i = 0; s.length < len; i++) { names.push(`x-h${i}`); s = names.join(','); }
    return (s + 'q'.repeat(len)).slice(0, len);   // cut inside the last name
  };
  for (const [len, granted] of [[CORS_REQUEST_HEADERS_MAX, true], [CORS_REQUEST_HEADERS_MAX + 1, false]]) {
    const asked = list(len);
    assert.equal(asked.length, len);
    const r = await fetch(`${relay.url}/anything`, { method: 'OPTIONS', headers: {
      origin: 'http://app.example', 'access-control-request-method': 'POST', 'access-control-request-headers': asked } });
    assert.equal(r.status, 204);
    const allow = r.headers.get('access-control-allow-headers');
    assert.match(allow, /x-mte-relay-eh/, 'the base grant always holds');
    assert.equal(allow.includes('x-h0'), granted, `${len} bytes`);
  }
});

// Node's own HTTP clients stop at 16 KiB of head: read this answer raw.
function rawGet(port, path) {
  return new Promise((resolve, reject) => {
    const sock = connect(port, '127.0.0.1');
    let data = Buffer.alloc(0);
    sock.on('data', (d) => { data = Buffer.concat([data, d]); });
    sock.on('end', () => {
      const text = data.toString('latin1');
      const end = text.indexOf('\r\n\r\n');
      resolve({ status: Number(text.slice(9, 12)), head: text.slice(0, end), body: text.slice(end + 4) });
    });
    sock.on('error', reject);
    sock.write(`GET ${path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n`);
  });
}

test('UPSTREAM_HEAD_MAX: a 65536-byte response head passes, 65537 bytes get 502; sealed 502 when too big to seal', async () => {
  const ok = await rawGet(relay.port, `/head/${UPSTREAM_HEAD_MAX}`);
  assert.equal(ok.status, 200);
  assert.equal(ok.body, 'ok');
  assert.match(ok.head, /X-Pad: p{60000}/);
  const over = await rawGet(relay.port, `/head/${UPSTREAM_HEAD_MAX + 1}`);
  assert.equal(over.status, 502);
  assert.equal(JSON.parse(over.body).code, 502);
  // Protected: a head this large does not fit in a sealed meta item (META_PLAINTEXT_MAX).
  const { f } = newClient();
  const sealed = await f(`${relay.url}/head/${UPSTREAM_HEAD_MAX}`);
  assert.equal(sealed.status, 502);
  assert.deepEqual(await sealed.json(), { error: 'upstream response head too large to seal', code: 502 });
});

test('UPSTREAM_FIELDS_MAX: 100 response fields pass, 101 get 502, sealed on protected requests', async () => {
  const ok = await fetch(`${relay.url}/fields/${UPSTREAM_FIELDS_MAX}`);
  assert.equal(ok.status, 200);
  assert.equal(ok.headers.get(`x-f${UPSTREAM_FIELDS_MAX - 1}`), 'v');
  const over = await fetch(`${relay.url}/fields/${UPSTREAM_FIELDS_MAX + 1}`);
  assert.equal(over.status, 502);
  const { f } = newClient();
  const sealed = await f(`${relay.url}/fields/${UPSTREAM_FIELDS_MAX + 1}`);
  assert.equal(sealed.status, 502, 'the protected answer is a sealed 502 the client could open');
  assert.equal((await sealed.json()).code, 502);
});
