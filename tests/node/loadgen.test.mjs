// loadgen.test.mjs - the load generator (build/tests/bench/loadgen, used by
// make bench-relay) proves that its counts are true: against the real relay
// and a recording upstream it reports exactly the requests it sent, the
// upstream received exactly those (bodies intact), and every kind of bad
// answer it must catch is counted as an error of its kind: answers that
// fail authentication (--tamper), non-2xx, a cut connection, no answer.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { startRelay, startUpstream, sha256, ROOT } from './lib/harness.mjs';

const LOADGEN = process.env.LOADGEN_BIN || join(ROOT, 'build', 'tests', 'bench', 'loadgen');
const BODY = 1000;
// The body the load generator sends: 'a'..'z' repeated.
const expectedBody = Buffer.from(Array.from({ length: BODY }, (_, i) => 97 + (i % 26)));

let upstream;
let relay;

// Runs the load generator (asynchronously: the relay's log pipe must keep
// draining); resolves its exit code and its JSON line.
function loadgen(args) {
  return new Promise((resolve, reject) => {
    const p = spawn(LOADGEN, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    p.stdout.on('data', (d) => { out += d; });
    p.stderr.on('data', (d) => { err += d; });
    p.once('error', reject);
    p.once('exit', (code) => {
      const line = out.split('\n').find((l) => l.startsWith('{'));
      resolve({ code, err, human: out.split('\n')[0], r: line ? JSON.parse(line) : null });
    });
  });
}

// Requests the upstream received since mark, for one path.
const seen = (mark, path) => upstream.received.slice(mark).filter((x) => x.url === path);

before(async () => {
  assert.ok(existsSync(LOADGEN), `${LOADGEN} is missing: make build/tests/bench/loadgen`);
  upstream = await startUpstream((req, res) => {
    if (req.url === '/lg/chunked') {          // no Content-Length: chunked on the wire
      res.writeHead(200, { 'content-type': 'text/plain' });
      res.write('first part, ');
      res.end('second part');
      return true;
    }
    if (req.url === '/lg/missing') {
      res.writeHead(404, { 'content-type': 'application/json' });
      res.end('{"error":"not here"}');
      return true;
    }
    if (req.url === '/lg/cut') {               // a head promising more than comes
      res.socket.end('HTTP/1.1 200 OK\r\ncontent-length: 100\r\n\r\nshort');
      return true;
    }
    if (req.url === '/lg/never') return true;  // never answers
    return false;
  });
  relay = await startRelay({ UPSTREAM: upstream.url, PASS_THROUGH_ROUTES: '/pt/*' });
});

after(async () => {
  await relay?.stop();
  await upstream?.stop();
});

test('protected: N sealed requests, N opened answers, the upstream saw exactly N intact bodies', async () => {
  const mark = upstream.received.length;
  const { code, r, err } = await loadgen(['-u', `${relay.url}/lg/echo`, '-m', 'protected', '-n', '150',
    '-c', '4', '-b', String(BODY), '--clients', '2', '--pairs', '3']);
  assert.equal(code, 0, err);
  assert.equal(r.mode, 'protected');
  assert.equal(r.ok, 150);
  assert.equal(r.errors, 0, r.first_error);
  assert.equal(r.sent, 150);
  const got = seen(mark, '/lg/echo');
  assert.equal(got.length, 150);
  assert.equal(upstream.received.length - mark, 150, 'nothing else reached the upstream');
  const sha = sha256(expectedBody);
  for (const x of got) {
    assert.equal(x.method, 'POST');
    assert.equal(x.sha256, sha, 'the upstream got the body the load generator sealed');
  }
});

test('protected: chunked answers open; a clear URL (no flag u) and GET work too', async () => {
  const mark = upstream.received.length;
  const a = await loadgen(['-u', `${relay.url}/lg/chunked`, '-m', 'protected', '-n', '40', '-c', '2']);
  assert.equal(a.r.ok, 40, a.r.first_error);
  const b = await loadgen(['-u', `${relay.url}/lg/plain-get`, '-m', 'protected', '-n', '30', '-c', '2', '--clear-url']);
  assert.equal(b.r.ok, 30, b.r.first_error);
  assert.equal(seen(mark, '/lg/chunked').length, 40);
  assert.equal(seen(mark, '/lg/plain-get').length, 30);
  assert.ok(seen(mark, '/lg/plain-get').every((x) => x.method === 'GET' && x.length === 0));
});

test('--tamper meta and --tamper body: every answer fails authentication and is counted so', async () => {
  for (const what of ['meta', 'body']) {
    const mark = upstream.received.length;
    const { r } = await loadgen(['-u', `${relay.url}/lg/tampered`, '-m', 'protected', '-n', '60', '-c', '3',
      '-b', String(BODY), '--tamper', what]);
    assert.equal(r.ok, 0, what);
    assert.equal(r.errors, 60, what);
    assert.equal(r.error_kinds.auth, 60, `${what}: ${r.first_error}`);
    assert.equal(r.latency_ms.p50, 0, 'failed requests are not timed');
    // The requests themselves were genuine: the relay accepted and forwarded each.
    assert.equal(seen(mark, '/lg/tampered').length, 60);
  }
});

test('a non-2xx answer is a status error, sealed (protected) or not (plain)', async () => {
  const p = await loadgen(['-u', `${relay.url}/lg/missing`, '-m', 'protected', '-n', '25', '-c', '2']);
  assert.equal(p.r.error_kinds.status, 25, p.r.first_error);
  assert.equal(p.r.error_kinds.auth, 0, 'the sealed 404 opened');
  assert.equal(p.r.first_error, 'status: status 404');
  const d = await loadgen(['-u', `${upstream.url}/lg/missing`, '-n', '25', '-c', '2']);
  assert.equal(d.r.error_kinds.status, 25);
  assert.equal(d.r.ok, 0);
});

test('plain: direct and pass-through count what the upstream saw; chunked answers are read', async () => {
  const mark = upstream.received.length;
  const d = await loadgen(['-u', `${upstream.url}/lg/direct`, '-n', '80', '-c', '4', '-b', String(BODY)]);
  const pt = await loadgen(['-u', `${relay.url}/pt/lg/passed`, '-n', '80', '-c', '4', '-b', String(BODY)]);
  const ch = await loadgen(['-u', `${upstream.url}/lg/chunked`, '-n', '20', '-c', '1']);
  for (const x of [d, pt, ch]) assert.equal(x.r.errors, 0, x.r.first_error);
  assert.equal(d.r.ok, 80);
  assert.equal(pt.r.ok, 80);
  assert.equal(ch.r.ok, 20);
  assert.equal(seen(mark, '/lg/direct').length, 80);
  assert.equal(seen(mark, '/pt/lg/passed').length, 80);
  assert.ok(seen(mark, '/lg/direct').every((x) => x.sha256 === sha256(expectedBody)));
});

test('a cut connection and a missing answer are counted as conn and timeout errors', async () => {
  const cut = await loadgen(['-u', `${upstream.url}/lg/cut`, '-n', '6', '-c', '2']);
  assert.equal(cut.r.error_kinds.conn, 6, cut.r.first_error);
  assert.equal(cut.r.ok, 0);
  const never = await loadgen(['-u', `${upstream.url}/lg/never`, '-n', '2', '-c', '2', '--timeout', '300']);
  assert.equal(never.r.error_kinds.timeout, 2, never.r.first_error);
  assert.equal(never.r.ok, 0);
});

test('pair: every pairing is a fresh pair the relay made', async () => {
  const paired = () => relay.lines().filter((l) => l.msg === 'paired').reduce((n, l) => n + l.pairs, 0);
  const before0 = paired();
  const { r } = await loadgen(['-u', relay.url, '-m', 'pair', '-n', '20', '-c', '2', '--entries', '3']);
  assert.equal(r.ok, 20, r.first_error);
  assert.equal(r.pairings, 60);
  await relay.waitLog(() => paired() - before0 >= 60);
  assert.equal(paired() - before0, 60);
});

test('usage errors exit 2 and name the option', async () => {
  const a = await loadgen(['-u', 'https://example.invalid/']);
  assert.equal(a.code, 2);
  assert.match(a.err, /--url/);
  const b = await loadgen(['-u', relay.url, '-m', 'plain', '--tamper', 'meta']);
  assert.equal(b.code, 2);
  assert.match(b.err, /--tamper/);
});
