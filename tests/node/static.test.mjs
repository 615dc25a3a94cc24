// static.test.mjs - what a fully static binary could get wrong, tested on the
// binary under test (MTE_RELAY_BIN; `make test-static` points it at
// build/static/mte-relay, `make test-node` at the dynamic build/mte-relay):
//   - it is statically linked (checked when it is the static build);
//   - UPSTREAM's host name is resolved through /etc/hosts (glibc's getaddrinfo
//     inside a static binary); "localhost" would not do: libcurl answers that
//     name itself, so the relay runs with a private /etc/hosts (a mount
//     namespace) naming a host that exists nowhere else;
//   - an https:// upstream verifies against UPSTREAM_CA_FILE, and only it;
//   - rediss:// verifies against REDIS_CA_FILE.
// Certificates: a throwaway CA made here with openssl.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { createServer } from 'node:https';
import { mkdtempSync, readFileSync, realpathSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ROOT, RELAY_BIN, freePort, sleep, startRelay, startUpstream } from './lib/harness.mjs';
import { newClient, relayEnv } from './lib/e2e.mjs';

const dir = mkdtempSync(join(tmpdir(), 'mte-static-'));
const isStaticBuild = realpathSync(RELAY_BIN) === join(realpathSync(ROOT), 'build/static/mte-relay');

// ca.crt signs server.crt (localhost, 127.0.0.1); other-ca.crt is unrelated.
function makeCerts() {
  const sh = (cmd) => execFileSync('sh', ['-c', cmd], { cwd: dir, stdio: ['ignore', 'ignore', 'pipe'] });
  const ca = (name, cn) => sh(`openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
    -keyout ${name}.key -out ${name}.crt -days 2 -subj /CN=${cn} \
    -addext basicConstraints=critical,CA:TRUE -addext keyUsage=critical,keyCertSign,cRLSign`);
  ca('ca', 'mte-static-test-ca');
  ca('other-ca', 'mte-static-other-ca');
  sh(`openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout server.key \
    -out server.csr -subj /CN=localhost`);
  writeFileSync(join(dir, 'server.ext'), 'subjectAltName=DNS:localhost,IP:127.0.0.1\n' +
    'basicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\nkeyUsage=digitalSignature\n');
  sh('openssl x509 -req -in server.csr -CA ca.crt -CAkey ca.key -CAcreateserial -out server.crt -days 2 -extfile server.ext');
}

let httpsUp;
const httpsSeen = [];

before(async () => {
  makeCerts();
  const server = createServer({ key: readFileSync(join(dir, 'server.key')), cert: readFileSync(join(dir, 'server.crt')) },
    (req, res) => {
      httpsSeen.push(req.url);
      req.resume();
      req.on('end', () => {
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ tls: true, url: req.url }));
      });
    });
  await new Promise((r) => server.listen(0, '127.0.0.1', r));
  httpsUp = { server, port: server.address().port };
});

after(async () => {
  httpsUp?.server.closeAllConnections();
  await new Promise((r) => (httpsUp ? httpsUp.server.close(r) : r()));
  rmSync(dir, { recursive: true, force: true });
});

test('the static build is one statically linked executable', { skip: !isStaticBuild && `${RELAY_BIN} is not build/static/mte-relay` }, () => {
  const ldd = spawnSync('ldd', [RELAY_BIN], { encoding: 'utf8' });
  assert.match(ldd.stdout + ldd.stderr, /not a dynamic executable/);
  const file = execFileSync('file', ['-b', RELAY_BIN], { encoding: 'utf8' });
  assert.match(file, /statically linked/);
  assert.match(file, /, stripped/);
  assert.doesNotMatch(file, /interpreter/);
});

test('UPSTREAM named only in /etc/hosts is resolved (pairing and a protected request go through)', async () => {
  const name = 'mte-static-hosts-test.invalid';
  // The name resolves nowhere but in the relay's own /etc/hosts.
  assert.notEqual(spawnSync('getent', ['hosts', name]).status, 0, `${name} resolves outside the test`);
  const hosts = join(dir, 'hosts');
  writeFileSync(hosts, `127.0.0.1 localhost\n127.0.0.1 ${name}\n`);
  const probe = spawnSync('unshare', ['-m', 'sh', '-c', `mount --bind '${hosts}' /etc/hosts && getent hosts ${name}`],
    { encoding: 'utf8' });
  assert.equal(probe.status, 0, `a private /etc/hosts needs unshare -m (root): ${probe.stderr}`);

  const upstream = await startUpstream();
  const relay = await startRelay({ ...relayEnv(upstream), UPSTREAM: `http://${name}:${upstream.port}`, PASS_THROUGH_ROUTES: '/open/*' }, {
    bin: 'unshare',
    args: ['-m', 'sh', '-c', `mount --bind '${hosts}' /etc/hosts && exec "$0"`, RELAY_BIN],
  });
  try {
    const { f } = newClient();
    const r = await f(`${relay.url}/api/hosts?x=1`, { method: 'POST', body: 'hello' });
    assert.equal(r.status, 200);
    const j = await r.json();
    assert.equal(j.url, '/api/hosts?x=1');
    assert.equal(j.length, 5);
    assert.equal(j.headers.host, `${name}:${upstream.port}`);
    const p = await fetch(`${relay.url}/open/plain`);
    assert.equal(p.status, 200);
    assert.deepEqual(upstream.received.map((x) => x.url), ['/api/hosts?x=1', '/open/plain']);
  } finally {
    await relay.stop();
    await upstream.stop();
  }
});

test('an https:// upstream is verified against UPSTREAM_CA_FILE, and only against it', async () => {
  const env = (extra) => ({ UPSTREAM: `https://localhost:${httpsUp.port}/base`, PASS_THROUGH_ROUTES: '/open/*', ...extra });
  const seen = httpsSeen.length;
  let relay = await startRelay(env({ UPSTREAM_CA_FILE: join(dir, 'ca.crt') }));
  try {
    const r = await fetch(`${relay.url}/open/a?b=c`);
    assert.equal(r.status, 200);
    assert.deepEqual(await r.json(), { tls: true, url: '/base/open/a?b=c' });
    const { f } = newClient();
    const p = await f(`${relay.url}/api/protected`, { method: 'PUT', body: 'x' });
    assert.equal(p.status, 200);
    assert.deepEqual(await p.json(), { tls: true, url: '/base/api/protected' });
  } finally {
    await relay.stop();
  }
  assert.equal(httpsSeen.length, seen + 2);
  // The system bundle does not know the throwaway CA; another CA file neither.
  for (const extra of [{}, { UPSTREAM_CA_FILE: join(dir, 'other-ca.crt') }]) {
    relay = await startRelay(env(extra));
    try {
      const r = await fetch(`${relay.url}/open/a`);
      assert.equal(r.status, 502, JSON.stringify(extra));
    } finally {
      await relay.stop();
    }
  }
  assert.equal(httpsSeen.length, seen + 2, 'no request reached the upstream over an unverified connection');
});

// redis-server with TLS only (Debian's is built with TLS), trusting nobody's
// client certificate.
async function startTlsRedis() {
  const port = await freePort();
  const child = spawn('redis-server', ['--port', '0', '--tls-port', String(port), '--save', '', '--appendonly', 'no',
    '--dir', dir, '--tls-cert-file', join(dir, 'server.crt'), '--tls-key-file', join(dir, 'server.key'),
    '--tls-ca-cert-file', join(dir, 'ca.crt'), '--tls-auth-clients', 'no'], { stdio: 'ignore' });
  const cli = (...args) => spawnSync('redis-cli', ['--tls', '--cacert', join(dir, 'ca.crt'), '-h', 'localhost',
    '-p', String(port), ...args], { encoding: 'utf8' });
  for (let i = 0; i < 200 && cli('PING').stdout.trim() !== 'PONG'; i++) await sleep(50);
  assert.equal(cli('PING').stdout.trim(), 'PONG', 'redis-server with TLS did not start');
  return { port, cli, stop: () => { child.kill('SIGKILL'); return new Promise((r) => child.once('exit', r)); } };
}

test('rediss:// is verified against REDIS_CA_FILE: pairs land in the TLS Redis', async () => {
  const redis = await startTlsRedis();
  const upstream = await startUpstream();
  const relay = await startRelay({
    ...relayEnv(upstream), REDIS_URL: `rediss://localhost:${redis.port}`, REDIS_CA_FILE: join(dir, 'ca.crt'),
  });
  try {
    assert.equal(redis.cli('DBSIZE').stdout.trim(), '0');
    const { f } = newClient();
    const r = await f(`${relay.url}/api/stored`, { method: 'POST', body: 'abc' });
    assert.equal(r.status, 200);
    assert.equal((await r.json()).url, '/api/stored');
    assert.ok(Number(redis.cli('DBSIZE').stdout.trim()) > 0, 'the pair is in Redis');
  } finally {
    await relay.stop();
    await upstream.stop();
  }
  // With the wrong CA the store is unreachable: pairing is refused, nothing is stored.
  redis.cli('FLUSHALL');
  const relay2 = await startRelay({
    UPSTREAM: 'http://127.0.0.1:9', REDIS_URL: `rediss://localhost:${redis.port}`, REDIS_CA_FILE: join(dir, 'other-ca.crt'),
  });
  try {
    const { f } = newClient();
    const r = await f(`${relay2.url}/api/stored`).catch((e) => e);
    assert.ok(r instanceof Error || r.status >= 500, `answered ${r.status}`);
    assert.equal(redis.cli('DBSIZE').stdout.trim(), '0');
  } finally {
    await relay2.stop();
    await redis.stop();
  }
});

test('UPSTREAM_CA_FILE with an http:// UPSTREAM is accepted with a warning; a missing file is a configuration error', async () => {
  const relay = await startRelay({ UPSTREAM_CA_FILE: join(dir, 'ca.crt') });
  try {
    await relay.waitLog((l) => l.level === 'warn' && l.setting === 'UPSTREAM_CA_FILE' && /no effect/.test(l.msg));
  } finally {
    await relay.stop();
  }
  const bad = await startRelay({ UPSTREAM: 'https://localhost:1', UPSTREAM_CA_FILE: join(dir, 'missing.pem') }, { expectFail: true });
  assert.equal(bad.result.code, 78);
  assert.match(bad.stderr, /UPSTREAM_CA_FILE must be a readable file \(flag --upstream-ca-file\)/);
});
