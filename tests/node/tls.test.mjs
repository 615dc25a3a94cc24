// tls.test.mjs - HTTPS on the relay itself (TLS_CERT_FILE, TLS_KEY_FILE)
// with a throwaway CA made by the openssl CLI (tests/node/lib/pki.mjs):
// curl and Node's https module trusting that CA, mteFetch in a Node process
// that trusts it (NODE_EXTRA_CA_CERTS), RSA and ECDSA keys, streaming both
// ways, the configuration errors (exit 78 naming the setting), old protocol
// versions and CBC suites refused, the handshake inside the head deadline,
// --healthcheck over TLS, and a SIGHUP reload while requests are in flight.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFile, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { copyFileSync, writeFileSync, mkdirSync, readFileSync, chmodSync } from 'node:fs';
import https from 'node:https';
import net from 'node:net';
import tls from 'node:tls';
import { join } from 'node:path';
import { startRelay, startUpstream, sleep, RELAY_BIN, ROOT } from './lib/harness.mjs';
import { makeCA } from './lib/pki.mjs';

const SECRET = 'tls-test-secret-0123456789abcdef0123456789';
let ca; let upstream;
let rsa; let ec; let rsa2; let expired; let future;
let gate = null;            // /hold answers when this resolves

before(async () => {
  ca = makeCA();
  rsa = ca.leaf('rsa');
  ec = ca.leaf('ec');
  rsa2 = ca.leaf('rsa');
  expired = ca.leaf('rsa', { start: '20200101000000Z', end: '20210101000000Z' });
  future = ca.leaf('ec', { start: '20900101000000Z', end: '20910101000000Z' });
  upstream = await startUpstream((req, res, rec) => {
    if (req.url === '/big') {
      res.writeHead(200, { 'content-type': 'application/octet-stream' });
      let i = 0;
      const pump = () => {
        while (i < 128) { if (!res.write(Buffer.alloc(65536, i++))) return res.once('drain', pump); }
        return res.end();
      };
      pump();
      return true;
    }
    if (req.url === '/hold') {
      (gate ?? Promise.resolve()).then(() => {
        res.writeHead(200, { 'content-type': 'text/plain' });
        res.end(`held ${rec.length}`);
      });
      return true;
    }
    return false;
  });
});

after(async () => {
  await upstream?.stop();
  ca?.cleanup();
});

const env = (leaf, extra = {}) => ({
  UPSTREAM: upstream.url, CLIENT_ID_SECRET: SECRET, CORS_ORIGINS: 'https://app.example',
  TLS_CERT_FILE: leaf.chain ?? leaf.cert, TLS_KEY_FILE: leaf.key, ...extra,
});

/** GET or POST over https trusting the test CA; a fresh connection unless agent. */
function request(port, path, { method = 'GET', body, agent = false, host = '127.0.0.1' } = {}) {
  return new Promise((resolve, reject) => {
    const req = https.request({ host, port, path, method, ca: readFileSync(ca.caFile), agent, servername: 'localhost' }, (res) => {
      const chunks = [];
      res.on('data', (d) => chunks.push(d));
      res.on('end', () => resolve({ status: res.statusCode, headers: res.headers, body: Buffer.concat(chunks),
        serial: res.socket.getPeerCertificate?.()?.serialNumber }));
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end(body);
  });
}

/** The serial of the certificate a new TLS connection sees (verified against the CA). */
function peerSerial(port) {
  return new Promise((resolve, reject) => {
    const s = tls.connect({ host: '127.0.0.1', port, ca: readFileSync(ca.caFile), servername: 'localhost' }, () => {
      const serial = s.getPeerCertificate().serialNumber;
      s.end();
      resolve(serial);
    });
    s.on('error', reject);
  });
}

function curl(args) {
  return new Promise((resolve) => {
    execFile('curl', ['-sS', '--cacert', ca.caFile, ...args], { encoding: 'buffer', maxBuffer: 64 << 20 },
      (err, stdout, stderr) => resolve({ code: err ? err.code : 0, stdout, stderr: stderr.toString() }));
  });
}

function opensslClient(port, args) {
  return spawnSync('openssl', ['s_client', '-connect', `127.0.0.1:${port}`, '-CAfile', ca.caFile, ...args],
    { input: '', encoding: 'utf8', timeout: 20000 });
}

const sha256 = (b) => createHash('sha256').update(b).digest('hex');

async function metric(port, name) {
  const r = await curl([`https://localhost:${port}/metrics`]);
  const m = new RegExp(`^${name} (\\d+)$`, 'm').exec(r.stdout.toString());
  return m ? Number(m[1]) : null;
}

test('RSA key with its chain: curl verifies it against the CA, keep-alive reuses the connection, --check-config and the log say TLS is on', async () => {
  const relay = await startRelay(env(rsa, { METRICS: 'true' }));
  try {
    assert.ok(relay.lines().some((l) => l.msg === `Server listening at https://0.0.0.0:${relay.port}`));
    const on = relay.lines().find((l) => l.msg === 'TLS on');
    assert.equal(on.key, 'RSA 2048');
    assert.equal(on.chain, 2);
    assert.equal(on.serial, rsa.serial.toLowerCase());
    const r = await curl(['-w', '\\n%{http_code} %{ssl_verify_result} %{num_connects}\\n',
      `https://localhost:${relay.port}/api/mte-echo`, `https://localhost:${relay.port}/api/mte-echo`]);
    assert.equal(r.code, 0, r.stderr);
    const out = r.stdout.toString();
    assert.match(out, /"echo":true/);
    // Two requests, one connection: the second reused the first's TLS session.
    assert.deepEqual(out.split('\n').filter((l) => /^\d{3} /.test(l)), ['200 0 1', '200 0 0']);
    // Plain HTTP to the HTTPS port gets no answer, and counts as a failed handshake.
    const before = await metric(relay.port, 'mte_relay_tls_handshake_failures_total');
    assert.equal(before, 0);
    const plain = await curl([`http://127.0.0.1:${relay.port}/api/mte-echo`]);
    assert.notEqual(plain.code, 0);
    assert.equal(await metric(relay.port, 'mte_relay_tls_handshake_failures_total'), 1);
  } finally {
    assert.equal((await relay.stop()).code, 0);
  }
  const check = spawnSync(RELAY_BIN, ['--check-config'], { env: { PATH: process.env.PATH, ...env(rsa) }, encoding: 'utf8' });
  assert.equal(check.status, 0, check.stderr);
  assert.match(check.stdout, new RegExp(`^tls: on \\(RSA 2048 key, certificate serial ${rsa.serial.toLowerCase()}, expires \\S+Z, chain of 2\\)$`, 'm'));
  const { TLS_CERT_FILE, TLS_KEY_FILE, ...plainEnv } = env(rsa);
  const off = spawnSync(RELAY_BIN, ['--check-config'], { env: { PATH: process.env.PATH, ...plainEnv }, encoding: 'utf8' });
  assert.equal(off.status, 0, off.stderr);
  assert.match(off.stdout, /^tls: off /m);
});

test('ECDSA key: ECDHE-ECDSA with AES-GCM, TLS 1.2; TLS 1.1 and CBC-only clients are refused and counted', async () => {
  const relay = await startRelay(env(ec, { METRICS: 'true' }));
  try {
    const ok = opensslClient(relay.port, ['-servername', 'localhost', '-verify_return_error']);
    assert.match(ok.stdout, /New, TLSv1\.2, Cipher is ECDHE-ECDSA-AES128-GCM-SHA256/);
    assert.match(ok.stdout, /Verify return code: 0 \(ok\)/);
    const chacha = opensslClient(relay.port, ['-tls1_2', '-cipher', 'ECDHE-ECDSA-CHACHA20-POLY1305']);
    assert.match(chacha.stdout, /Cipher is ECDHE-ECDSA-CHACHA20-POLY1305/);
    const old = opensslClient(relay.port, ['-tls1_1', '-cipher', 'ALL:@SECLEVEL=0']);
    assert.notEqual(old.status, 0);
    assert.match(old.stdout + old.stderr, /Cipher is \(NONE\)|alert|wrong version/i);
    const cbc = opensslClient(relay.port, ['-tls1_2', '-cipher', 'ECDHE-ECDSA-AES128-SHA256:ECDHE-ECDSA-AES128-SHA:AES128-SHA256']);
    assert.notEqual(cbc.status, 0);
    assert.match(cbc.stdout + cbc.stderr, /handshake failure|Cipher is \(NONE\)/);
    const tls13 = opensslClient(relay.port, ['-tls1_3']);
    assert.notEqual(tls13.status, 0, 'no TLS 1.3 (BearSSL)');
    assert.equal(await metric(relay.port, 'mte_relay_tls_handshake_failures_total'), 3);
    const r = await curl([`https://localhost:${relay.port}/api/mte-echo`]);
    assert.equal(r.code, 0, r.stderr);
  } finally {
    await relay.stop();
  }
});

test('streaming both ways over TLS: an 8 MiB download and a 6 MiB upload arrive intact', async () => {
  const relay = await startRelay(env(rsa, { PASS_THROUGH_ROUTES: '/big,/up' }));
  try {
    const down = await request(relay.port, '/big');
    assert.equal(down.status, 200);
    let expect = createHash('sha256');
    for (let i = 0; i < 128; i++) expect.update(Buffer.alloc(65536, i));
    assert.equal(down.body.length, 128 * 65536);
    assert.equal(sha256(down.body), expect.digest('hex'));
    const body = Buffer.alloc(6 << 20);
    for (let i = 0; i < body.length; i += 4096) body[i] = i & 0xff;
    const up = await request(relay.port, '/up', { method: 'POST', body });
    assert.equal(up.status, 200);
    const rec = upstream.received.filter((x) => x.url === '/up').at(-1);
    assert.equal(rec.length, body.length);
    assert.equal(rec.sha256, sha256(body));
  } finally {
    await relay.stop();
  }
});

test("Node's mteFetch over HTTPS: the echo, a pairing and a protected request", async () => {
  const relay = await startRelay(env(ec));
  try {
    const script = `
      import { createClient } from ${JSON.stringify(join(ROOT, 'client/src/internals.js'))};
      const m = new Map();
      const storage = { get: (k) => (m.has(k) ? m.get(k) : null), set: (k, v) => m.set(k, v), remove: (k) => m.delete(k) };
      const { mteFetch } = createClient({ storage });
      const base = process.argv[1];
      const echo = await fetch(base + '/api/mte-echo');
      const r = await mteFetch(base + '/api/login?x=1', { method: 'POST', headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ user: 'ada', password: 'over tls' }) });
      const j = await r.json();
      console.log(JSON.stringify({ echo: echo.status, status: r.status, up: j }));
    `;
    const out = await new Promise((resolve, reject) => {
      execFile(process.execPath, ['--input-type=module', '-e', script, `https://localhost:${relay.port}`],
        { env: { ...process.env, NODE_EXTRA_CA_CERTS: ca.caFile }, encoding: 'utf8', timeout: 30000 },
        (err, stdout, stderr) => (err ? reject(new Error(stderr || err.message)) : resolve(stdout)));
    });
    const res = JSON.parse(out.trim().split('\n').at(-1));
    assert.equal(res.echo, 200);
    assert.equal(res.status, 200);
    assert.equal(res.up.method, 'POST');
    assert.equal(res.up.url, '/api/login?x=1');
    const rec = upstream.received.filter((x) => x.url === '/api/login?x=1').at(-1);
    assert.equal(rec.text, JSON.stringify({ user: 'ada', password: 'over tls' }));
    const routes = relay.lines().filter((l) => l.msg === 'request').map((l) => `${l.route} ${l.status}`);
    assert.ok(routes.includes('pair 200'), routes.join());
    assert.ok(routes.includes('protected 200'), routes.join());
  } finally {
    await relay.stop();
  }
});

test('--healthcheck speaks TLS to its own port', async () => {
  const relay = await startRelay(env(rsa));
  try {
    const h = spawnSync(RELAY_BIN, ['--healthcheck'], { env: { PATH: process.env.PATH, ...env(rsa), PORT: String(relay.port) }, encoding: 'utf8' });
    assert.equal(h.status, 0, h.stderr);
    // Without TLS the same port does not answer the probe.
    const { TLS_CERT_FILE, TLS_KEY_FILE, ...plainEnv } = env(rsa);
    const p = spawnSync(RELAY_BIN, ['--healthcheck'], { env: { PATH: process.env.PATH, ...plainEnv, PORT: String(relay.port) }, encoding: 'utf8' });
    assert.equal(p.status, 1);
    assert.match(p.stderr, /^healthcheck: /);
  } finally {
    await relay.stop();
  }
});

test('the handshake counts inside the head deadline: a client that stops mid-handshake is closed', async () => {
  const relay = await startRelay(env(rsa, { HEADER_TIMEOUT: '1' }));
  try {
    const closed = await new Promise((resolve, reject) => {
      const s = net.connect(relay.port, '127.0.0.1', () => s.write(Buffer.from([0x16, 0x03, 0x01, 0x02, 0x00, 0x01])));
      s.on('data', () => {});
      s.on('close', () => resolve(true));
      s.on('error', () => resolve(true));
      setTimeout(() => { s.destroy(); reject(new Error('not closed')); }, 15000);
    });
    assert.equal(closed, true);
    // The relay still serves.
    assert.equal((await request(relay.port, '/api/mte-echo')).status, 200);
  } finally {
    await relay.stop();
  }
});

// ---- configuration errors ----

function check(extra) {
  const { TLS_CERT_FILE, TLS_KEY_FILE } = extra;
  const e = { PATH: process.env.PATH, UPSTREAM: 'http://127.0.0.1:9', CLIENT_ID_SECRET: SECRET, CORS_ORIGINS: 'https://a.example' };
  if (TLS_CERT_FILE) e.TLS_CERT_FILE = TLS_CERT_FILE;
  if (TLS_KEY_FILE) e.TLS_KEY_FILE = TLS_KEY_FILE;
  return spawnSync(RELAY_BIN, ['--check-config'], { env: e, encoding: 'utf8' });
}

test('a mismatched, missing, unreadable, expired, not yet valid or lone file is a configuration error naming it (exit 78)', async () => {
  const cases = [
    [{ TLS_CERT_FILE: rsa.chain, TLS_KEY_FILE: rsa2.key }, /^config error: TLS_KEY_FILE .*does not belong to the certificate/m],
    [{ TLS_CERT_FILE: rsa.chain, TLS_KEY_FILE: ec.key }, /^config error: TLS_KEY_FILE .*does not belong/m],
    [{ TLS_CERT_FILE: join(ca.dir, 'none.pem'), TLS_KEY_FILE: rsa.key }, /^config error: TLS_CERT_FILE .*must be a readable file/m],
    [{ TLS_CERT_FILE: rsa.chain, TLS_KEY_FILE: join(ca.dir, 'none.key') }, /^config error: TLS_KEY_FILE .*must be a readable file/m],
    [{ TLS_CERT_FILE: ca.dir, TLS_KEY_FILE: rsa.key }, /^config error: TLS_CERT_FILE .*must be a readable file/m],
    [{ TLS_CERT_FILE: expired.cert, TLS_KEY_FILE: expired.key }, /^config error: TLS_CERT_FILE .*the certificate expired at 2021-01-01T00:00:00Z/m],
    [{ TLS_CERT_FILE: future.cert, TLS_KEY_FILE: future.key }, /^config error: TLS_CERT_FILE .*not valid before 2090-01-01T00:00:00Z/m],
    [{ TLS_CERT_FILE: rsa.chain }, /^config error: TLS_KEY_FILE is required when TLS_CERT_FILE is set/m],
    [{ TLS_KEY_FILE: rsa.key }, /^config error: TLS_CERT_FILE is required when TLS_KEY_FILE is set/m],
    [{ TLS_CERT_FILE: rsa.key, TLS_KEY_FILE: rsa.key }, /^config error: TLS_CERT_FILE .*holds no PEM CERTIFICATE/m],
    [{ TLS_CERT_FILE: rsa.chain, TLS_KEY_FILE: rsa.cert }, /^config error: TLS_KEY_FILE .*holds no usable PEM private key/m],
  ];
  // An encrypted key.
  const enc = join(ca.dir, 'enc.key');
  spawnSync('openssl', ['pkcs8', '-topk8', '-in', rsa.key, '-out', enc, '-passout', 'pass:x']);
  cases.push([{ TLS_CERT_FILE: rsa.chain, TLS_KEY_FILE: enc }, /^config error: TLS_KEY_FILE .*an encrypted key/m]);
  if (process.getuid() !== 0) {       // root reads any file
    const locked = join(ca.dir, 'locked.key');
    copyFileSync(rsa.key, locked);
    chmodSync(locked, 0);
    cases.push([{ TLS_CERT_FILE: rsa.chain, TLS_KEY_FILE: locked }, /^config error: TLS_KEY_FILE .*must be a readable file/m]);
  }
  for (const [e, re] of cases) {
    const r = check(e);
    assert.equal(r.status, 78, `${JSON.stringify(e)}: ${r.stdout}${r.stderr}`);
    assert.match(r.stderr, re, JSON.stringify(e));
  }
  // The relay itself refuses to start on an expired certificate.
  const relay = await startRelay(env(expired), { expectFail: true });
  assert.equal(relay.result.code, 78);
  assert.match(relay.stderr, /config error: TLS_CERT_FILE .*expired/);
});

test('limits: TLS_SERVER_CHAIN_MAX (8) certificates load, 9 do not; a file over TLS_SERVER_FILE_MAX (256 KiB) is refused', () => {
  const limits = readFileSync(join(ROOT, 'src/limits.h'), 'utf8');
  assert.match(limits, /#define TLS_SERVER_CHAIN_MAX\s+8\b/);
  assert.match(limits, /#define TLS_SERVER_FILE_MAX\s+\(256 \* 1024\)/);
  const leaf = readFileSync(rsa.cert, 'utf8');
  const caPem = readFileSync(ca.caFile, 'utf8');
  const dir = join(ca.dir, 'limits');
  mkdirSync(dir, { recursive: true });
  const eight = join(dir, 'eight.pem');
  writeFileSync(eight, leaf + caPem.repeat(7));
  const r8 = check({ TLS_CERT_FILE: eight, TLS_KEY_FILE: rsa.key });
  assert.equal(r8.status, 0, r8.stderr);
  assert.match(r8.stdout, /chain of 8\)/);
  const nine = join(dir, 'nine.pem');
  writeFileSync(nine, leaf + caPem.repeat(8));
  const r9 = check({ TLS_CERT_FILE: nine, TLS_KEY_FILE: rsa.key });
  assert.equal(r9.status, 78);
  assert.match(r9.stderr, /config error: TLS_CERT_FILE .*more than 8 certificates/);
  // Exactly the limit (padding comments outside the PEM blocks) loads; one byte more does not.
  const at = join(dir, 'at.pem');
  const pad = (n) => leaf + '#'.repeat(n - Buffer.byteLength(leaf) - 1) + '\n';
  writeFileSync(at, pad(256 * 1024));
  assert.equal(check({ TLS_CERT_FILE: at, TLS_KEY_FILE: rsa.key }).status, 0);
  const over = join(dir, 'over.pem');
  writeFileSync(over, pad(256 * 1024 + 1));
  const ro = check({ TLS_CERT_FILE: over, TLS_KEY_FILE: rsa.key });
  assert.equal(ro.status, 78);
  assert.match(ro.stderr, /config error: TLS_CERT_FILE .*larger than 262144 bytes/);
  const keyOver = join(dir, 'key-over.pem');
  const key = readFileSync(rsa.key, 'utf8');
  writeFileSync(keyOver, key + '#'.repeat(256 * 1024 + 1 - Buffer.byteLength(key) - 1) + '\n');
  const rk = check({ TLS_CERT_FILE: rsa.chain, TLS_KEY_FILE: keyOver });
  assert.equal(rk.status, 78);
  assert.match(rk.stderr, /config error: TLS_KEY_FILE .*larger than 262144 bytes/);
});

test('EC keys on P-384 and P-521 load and serve, as the man page says', async () => {
  for (const [kind, curve] of [['ec384', 'P-384'], ['ec521', 'P-521']]) {
    const leaf = ca.leaf(kind);
    const r = check({ TLS_CERT_FILE: leaf.chain, TLS_KEY_FILE: leaf.key });
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stdout, new RegExp(`^tls: on \\(EC ${curve} key,`, 'm'));
    const relay = await startRelay(env(leaf));
    try {
      const res = await request(relay.port, '/api/mte-echo');
      assert.equal(res.status, 200, curve);
      assert.equal(res.serial, leaf.serial, curve);
    } finally {
      await relay.stop();
    }
  }
});

test('limits: RSA keys of TLS_RSA_BITS_MIN (2048) to TLS_RSA_BITS_MAX (4096) bits load and serve; 2047 and 4098 do not; a 4096-bit key of another certificate is refused', async () => {
  const limits = readFileSync(join(ROOT, 'src/limits.h'), 'utf8');
  assert.match(limits, /#define TLS_RSA_BITS_MIN\s+2048\b/);
  assert.match(limits, /#define TLS_RSA_BITS_MAX\s+4096\b/);
  const at = ca.leaf('rsa4096');
  const r = check({ TLS_CERT_FILE: at.chain, TLS_KEY_FILE: at.key });
  assert.equal(r.status, 0, r.stderr);
  assert.match(r.stdout, /^tls: on \(RSA 4096 key,/m);
  const relay = await startRelay(env(at));
  try {
    const res = await request(relay.port, '/api/mte-echo');
    assert.equal(res.status, 200);
    assert.equal(res.serial, at.serial);
  } finally {
    await relay.stop();
  }
  const other = ca.leaf('rsa4096');
  const rx = check({ TLS_CERT_FILE: at.chain, TLS_KEY_FILE: other.key });
  assert.equal(rx.status, 78);
  assert.match(rx.stderr, /^config error: TLS_KEY_FILE .*does not belong to the certificate/m);
  // Above the limit, 4098: openssl makes 4096 bits when asked for 4097.
  for (const bits of [2047, 4098]) {
    const leaf = ca.leaf(`rsa:${bits}`);
    const rb = check({ TLS_CERT_FILE: leaf.chain, TLS_KEY_FILE: leaf.key });
    assert.equal(rb.status, 78, `${bits}: ${rb.stdout}${rb.stderr}`);
    assert.match(rb.stderr, new RegExp(`^config error: TLS_KEY_FILE .*an RSA key of ${bits} bits \\(2048 to 4096 supported\\)`, 'm'));
  }
});

// ---- reload ----

test('SIGHUP under load: requests in flight finish, new connections get the new certificate, a bad reload keeps the old one', async () => {
  const dir = join(ca.dir, 'live');
  mkdirSync(dir, { recursive: true });
  const certFile = join(dir, 'fullchain.pem');
  const keyFile = join(dir, 'privkey.pem');
  copyFileSync(rsa.chain, certFile);
  copyFileSync(rsa.key, keyFile);
  const relay = await startRelay(env({ chain: certFile, key: keyFile },
    { PASS_THROUGH_ROUTES: '/hold', MAX_POOL_SIZE: '16', MIN_SPARE_WORKERS: '2' }), {});
  try {
    assert.equal(await peerSerial(relay.port), rsa.serial);
    // Four requests held at the upstream while the certificate changes.
    let release;
    gate = new Promise((r) => { release = r; });
    const seenBefore = upstream.received.filter((x) => x.url === '/hold').length;
    const held = [0, 1, 2, 3].map((i) => request(relay.port, '/hold', { method: 'POST', body: Buffer.alloc(1000 + i) }));
    while (upstream.received.filter((x) => x.url === '/hold').length < seenBefore + 4) await sleep(20);
    // Steady load on fresh connections and on a kept-alive agent meanwhile.
    let stop = false; const results = { ok: 0, failed: [] };
    const loop = async () => {
      while (!stop) {
        try {
          const r = await request(relay.port, '/api/mte-echo');
          if (r.status === 200) results.ok++; else results.failed.push(r.status);
        } catch (e) { results.failed.push(e.message); }
      }
    };
    const loops = [loop(), loop()];
    await sleep(200);
    copyFileSync(rsa2.chain, certFile);
    copyFileSync(rsa2.key, keyFile);
    process.kill(relay.child.pid, 'SIGHUP');
    await relay.waitLog((l) => l.msg === 'TLS certificate reloaded');
    assert.equal(relay.lines().find((l) => l.msg === 'TLS certificate reloaded').serial, rsa2.serial.toLowerCase());
    await relay.waitLog((l) => l.msg === 'workers renewed');
    // New connections see the new certificate (old workers only finish what they hold).
    for (let i = 0; i < 6; i++) assert.equal(await peerSerial(relay.port), rsa2.serial);
    const okBeforeRelease = results.ok;
    release();
    const done = await Promise.all(held);
    gate = null;
    for (const [i, r] of done.entries()) {
      assert.equal(r.status, 200);
      assert.equal(r.body.toString(), `held ${1000 + i}`);
      assert.equal(r.serial, rsa.serial, 'answered on the connection it began on, with the old certificate');
      assert.equal(r.headers.connection, 'close', 'a retiring worker closes after its request');
    }
    await sleep(200);
    stop = true;
    await Promise.all(loops);
    assert.deepEqual(results.failed, []);
    assert.ok(okBeforeRelease > 0 && results.ok > okBeforeRelease, `${okBeforeRelease} ${results.ok}`);

    // A bad reload: the key of another certificate.  Logged, the current one stays.
    copyFileSync(ec.key, keyFile);
    process.kill(relay.child.pid, 'SIGHUP');
    const bad = await relay.waitLog((l) => l.msg === 'TLS reload failed: still serving the previous certificate');
    assert.equal(bad.setting, 'TLS_KEY_FILE');
    assert.equal(bad.level, 'error');
    assert.equal(await peerSerial(relay.port), rsa2.serial);
    assert.equal(relay.lines().filter((l) => l.msg === 'workers renewed').length, 1);
    assert.equal(relay.exited, null, 'still running');
    assert.equal((await request(relay.port, '/api/mte-echo')).status, 200);
  } finally {
    gate = null;
    assert.equal((await relay.stop()).code, 0);
  }
});

test('SIGHUP without TLS changes nothing', async () => {
  const relay = await startRelay({ UPSTREAM: upstream.url, CLIENT_ID_SECRET: SECRET });
  try {
    const pids = relay.workers().sort();
    process.kill(relay.child.pid, 'SIGHUP');
    await relay.waitLog((l) => l.msg === 'SIGHUP: nothing to reload (TLS_CERT_FILE is not set)');
    assert.deepEqual(relay.workers().sort(), pids);
  } finally {
    await relay.stop();
  }
});

test('outbound over HTTPS: A (its listener plain on loopback, also serving HTTPS inbound) calls partner B over TLS, verified with UPSTREAM_CA_FILE', async () => {
  const B = await startRelay(env(rsa));
  const oport = await (await import('./lib/harness.mjs')).freePort();
  // A serves both roles: HTTPS inbound on PORT, the outbound listener plain.
  const A = await startRelay(env(ec, { OUTBOUND_PORT: String(oport), OUTBOUND_RELAY: `https://localhost:${B.port}`,
    UPSTREAM_CA_FILE: ca.caFile }));
  try {
    const before = upstream.received.length;
    const r = await new Promise((resolve, reject) => {
      const req = (net.connect(oport, '127.0.0.1'));
      let data = '';
      req.on('data', (d) => { data += d; });
      req.on('end', () => resolve(data));
      req.on('error', reject);
      req.write(`POST /over-tls?q=1 HTTP/1.1\r\nHost: x\r\nContent-Type: text/plain\r\nContent-Length: 5\r\nConnection: close\r\n\r\nhello`);
    });
    assert.match(r, /^HTTP\/1\.1 200 /, r.slice(0, 200));
    const rec = upstream.received.at(-1);
    assert.equal(upstream.received.length, before + 1);
    assert.equal(rec.url, '/over-tls?q=1');
    assert.equal(rec.method, 'POST');
    assert.equal(rec.text, 'hello');
    // A's inbound listener is still HTTPS, with its own certificate.
    const e = await request(A.port, '/api/mte-echo/x');
    assert.equal(e.status, 200);
  } finally {
    await A.stop();
    await B.stop();
  }
});
