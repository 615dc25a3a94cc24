// demo-upstream.test.mjs - the demo upstream API (demo/upstream.mjs) on its
// own, over real HTTP: login, echo, and the streaming multipart parser (every
// split point of a body, large files, malformed bodies).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { request } from 'node:http';
import { MultipartParser, multipartBoundary, startDemoUpstream } from '../../demo/upstream.mjs';
import { sha256 } from '../node/lib/harness.mjs';

let up;
before(async () => { up = await startDemoUpstream(); });
after(async () => { await up.stop(); });

test('login answers what it got minus the password, plus a greeting and what the upstream saw', async () => {
  const body = JSON.stringify({ email: 'ada@example.com', password: 'hunter2', remember: true });
  const res = await fetch(`${up.url}/api/login`, { method: 'POST', headers: { 'content-type': 'application/json' }, body });
  assert.equal(res.status, 200);
  const text = await res.text();
  // A Content-Length lets the relay announce the sealed length too.
  assert.equal(res.headers.get('content-length'), String(Buffer.byteLength(text)));
  const j = JSON.parse(text);
  assert.equal(j.ok, true);
  assert.match(j.greeting, /Hello, ada@example\.com/);
  assert.deepEqual(j.youSent, { email: 'ada@example.com', remember: true });
  assert.equal(j.passwordReceived, true);
  assert.equal(JSON.stringify(j).includes('hunter2'), false);
  assert.deepEqual({ ...j.received }, { method: 'POST', path: '/api/login', contentType: 'application/json',
    contentLength: Buffer.byteLength(body), bytes: Buffer.byteLength(body) });
});

test('login refuses a missing email, bad JSON, a wrong type and GET with reasons', async () => {
  const post = (body, type = 'application/json') => fetch(`${up.url}/api/login`, { method: 'POST', headers: { 'content-type': type }, body });
  let r = await post('{"password":"x"}');
  assert.equal(r.status, 400);
  assert.match((await r.json()).error, /email is required/);
  r = await post('{nope');
  assert.equal(r.status, 400);
  assert.match((await r.json()).error, /not valid JSON/);
  r = await post('email=a', 'application/x-www-form-urlencoded');
  assert.equal(r.status, 415);
  r = await post(JSON.stringify({ email: 'a', pad: 'x'.repeat(70000) }));
  assert.equal(r.status, 413);
  r = await fetch(`${up.url}/api/login`);
  assert.equal(r.status, 405);
  r = await fetch(`${up.url}/api/nothing`);
  assert.equal(r.status, 404);
});

test('echo reports method, path, query, headers and the body digest', async () => {
  const body = randomBytes(100000);
  const res = await fetch(`${up.url}/api/echo?a=1&b=two`, { method: 'PUT', headers: { 'x-demo': 'yes', authorization: 'Bearer s3cret' }, body });
  const j = await res.json();
  assert.equal(j.method, 'PUT');
  assert.equal(j.path, '/api/echo');
  assert.deepEqual(j.query, { a: '1', b: 'two' });
  assert.equal(j.headers['x-demo'], 'yes');
  assert.equal(j.headers.authorization, '(present, not echoed)');
  assert.equal(j.body.bytes, body.length);
  assert.equal(j.body.sha256, sha256(body));
  assert.equal(j.received.path, '/api/echo?a=1&b=two');
});

test('upload: several files and fields from FormData, sizes and sha256 as sent', async () => {
  const a = randomBytes(3 * 65536 + 17);
  const b = Buffer.alloc(0);
  const c = Buffer.from('--not-a-boundary\r\n\r\n--\r\n');
  const fd = new FormData();
  fd.append('note', 'hello "quoted" ünïcode');
  fd.append('files', new Blob([a], { type: 'application/octet-stream' }), 'a.bin');
  fd.append('files', new Blob([b]), 'empty.txt');
  fd.append('files', new Blob([c], { type: 'text/plain' }), 'tricky name.txt');
  const res = await fetch(`${up.url}/api/upload`, { method: 'POST', body: fd });
  assert.equal(res.status, 200);
  const j = await res.json();
  assert.equal(j.fields.note, 'hello "quoted" ünïcode');
  assert.deepEqual(j.files.map((f) => [f.field, f.name, f.size, f.sha256]), [
    ['files', 'a.bin', a.length, sha256(a)],
    ['files', 'empty.txt', 0, sha256(b)],
    ['files', 'tricky name.txt', c.length, sha256(c)],
  ]);
  assert.match(j.received.contentType, /^multipart\/form-data; boundary=/);
});

test('upload: a 64 MiB file streams through in small pieces with the right digest', async () => {
  // Sent from a generator, so neither side holds the file; the digest proves every byte arrived.
  const boundary = 'b0undary-xyz';
  const piece = randomBytes(1 << 20);
  const n = 64;
  const h = createHash('sha256');
  for (let i = 0; i < n; i++) h.update(piece);
  const head = Buffer.from(`--${boundary}\r\nContent-Disposition: form-data; name="f"; filename="big.bin"\r\n\r\n`);
  const tail = Buffer.from(`\r\n--${boundary}--\r\n`);
  const j = await new Promise((resolve, reject) => {
    const req = request(`${up.url}/api/upload`, { method: 'POST', headers: { 'content-type': `multipart/form-data; boundary=${boundary}` } }, (res) => {
      let s = '';
      res.on('data', (d) => { s += d; });
      res.on('end', () => resolve(JSON.parse(s)));
    });
    req.on('error', reject);
    let i = 0;
    req.write(head);
    const pump = () => {
      while (i < n) { i++; if (!req.write(piece)) { req.once('drain', pump); return; } }
      req.end(tail);
    };
    pump();
  });
  assert.equal(j.files.length, 1);
  assert.equal(j.files[0].size, n * piece.length);
  assert.equal(j.files[0].sha256, h.digest('hex'));
});

test('upload: malformed bodies get 400/415 with a reason', async () => {
  const post = (body, type) => fetch(`${up.url}/api/upload`, { method: 'POST', headers: { 'content-type': type }, body });
  let r = await post('x', 'application/octet-stream');
  assert.equal(r.status, 415);
  r = await post('--B\r\nContent-Disposition: form-data; name="f"; filename="x"\r\n\r\nabc', 'multipart/form-data; boundary=B');
  assert.equal(r.status, 400);
  assert.match((await r.json()).error, /ended before its closing boundary/);
  r = await post(`--B\r\n${'X-Pad: y\r\n'.repeat(1000)}\r\nabc\r\n--B--`, 'multipart/form-data; boundary=B');
  assert.equal(r.status, 400);
  assert.match((await r.json()).error, /too large a header block/);
  r = await post('--Bjunk\r\n\r\n\r\n--B--', 'multipart/form-data; boundary=B');
  assert.equal(r.status, 400);
  assert.match((await r.json()).error, /malformed multipart boundary line/);
});

test('multipart parser: the same parts at every split point of the body', () => {
  const boundary = '----x';
  const body = Buffer.from(
    'preamble\r\n' +
    `--${boundary}\r\nContent-Disposition: form-data; name="t"\r\n\r\nvalue\r\n` +
    `--${boundary}  \r\nContent-Disposition: form-data; name="f"; filename="a\\"b.txt"\r\nContent-Type: text/plain\r\n\r\n` +
    `line\r\n--${boundary.slice(0, 3)}almost\r\n\r\n` +
    `--${boundary}\r\n\r\nno headers\r\n` +
    `--${boundary}--\r\nepilogue`);
  const parse = (pieces) => {
    const parts = [];
    const p = new MultipartParser(boundary, {
      partBegin(headers) { const part = { headers, data: [] }; parts.push(part); return { data: (d) => part.data.push(Buffer.from(d)), end: () => { part.done = true; } }; },
    });
    for (const x of pieces) p.write(x);
    p.end();
    return parts.map((x) => ({ headers: x.headers, body: Buffer.concat(x.data).toString(), done: x.done }));
  };
  const want = parse([body]);
  assert.equal(want.length, 3);
  assert.equal(want[0].body, 'value');
  assert.equal(want[1].headers['content-type'], 'text/plain');
  assert.equal(want[1].body, `line\r\n--${boundary.slice(0, 3)}almost\r\n`);
  assert.deepEqual(want[2], { headers: {}, body: 'no headers', done: true });
  for (let i = 0; i <= body.length; i++) {
    for (const j of [i, Math.min(body.length, i + 1), Math.min(body.length, i + 7)]) {
      assert.deepEqual(parse([body.subarray(0, i), body.subarray(i, j), body.subarray(j)]), want, `split at ${i},${j}`);
    }
  }
});

test('multipart boundary parsing', () => {
  assert.equal(multipartBoundary('multipart/form-data; boundary=abc'), 'abc');
  assert.equal(multipartBoundary('Multipart/Form-Data; charset=x; Boundary="a b"'), 'a b');
  assert.equal(multipartBoundary('multipart/form-data'), null);
  assert.equal(multipartBoundary('multipart/form-data; boundary='), null);
  assert.equal(multipartBoundary(`multipart/form-data; boundary=${'x'.repeat(71)}`), null);
  assert.equal(multipartBoundary('text/plain; boundary=abc'), null);
});
