// deploy.test.mjs - the single-binary (EC2) deployment: `make install` into a
// DESTDIR, the installed binary runs from an empty directory with its assets
// embedded, the systemd unit verifies with systemd-analyze and keeps its
// hardening, deploy/mte-relay.env.example names every setting with its real
// default and passes --check-config, and `make static` gives a static executable.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { copyFileSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { ROOT, RELAY_BIN, startRelay } from './lib/harness.mjs';

const UNIT = join(ROOT, 'deploy/mte-relay.service');
const ENV_EXAMPLE = join(ROOT, 'deploy/mte-relay.env.example');

function walk(dir) {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
    e.isDirectory() ? walk(join(dir, e.name)) : [join(dir, e.name)]);
}

// The settings table of src/config.c: name -> default text (null: none).
function settings() {
  const src = readFileSync(join(ROOT, 'src/config.c'), 'utf8');
  const defs = Object.fromEntries([...src.matchAll(/^#define (\w+) "([^"]*)"$/gm)].map((m) => [m[1], m[2]]));
  const out = new Map();
  for (const m of src.matchAll(/^\t\{ "([A-Z_]+)", "[a-z-]+", (?:NULL|"[A-Z_]+"), (?:NULL|"[a-z-]+"), K_\w+, [^,]+, (NULL|"[^"]*"|\w+),/gm)) {
    const d = m[2] === 'NULL' ? null : m[2].startsWith('"') ? m[2].slice(1, -1) : defs[m[2]];
    out.set(m[1], d);
  }
  assert.ok(out.size >= 25, `parsed ${out.size} settings from src/config.c`);
  return out;
}

// systemd EnvironmentFile lines: NAME=value, single-quoted values verbatim.
function envFile(text) {
  const env = {};
  for (const line of text.split('\n')) {
    const m = /^([A-Z_][A-Z0-9_]*)=(.*)$/.exec(line);
    if (!m) continue;
    let v = m[2];
    if (/^'.*'$/.test(v)) v = v.slice(1, -1);
    env[m[1]] = v;
  }
  return env;
}

function unitKeys() {
  const keys = {};
  let section = '';
  for (const line of readFileSync(UNIT, 'utf8').split('\n')) {
    if (/^\s*(#|;|$)/.test(line)) continue;
    const s = /^\[(\w+)\]$/.exec(line);
    if (s) { section = s[1]; continue; }
    const m = /^(\w+)=(.*)$/.exec(line);
    assert.ok(m, `unit line not KEY=value: ${line}`);
    (keys[`${section}.${m[1]}`] ??= []).push(m[2]);
  }
  return keys;
}

test('make install puts the binary and the man page under DESTDIR/PREFIX, nothing else', () => {
  const dest = mkdtempSync(join(tmpdir(), 'mte-install-'));
  try {
    const r = spawnSync('make', ['--no-print-directory', 'install', `DESTDIR=${dest}`, 'PREFIX=/opt/mte'],
      { cwd: ROOT, encoding: 'utf8' });
    assert.equal(r.status, 0, r.stdout + r.stderr);
    const files = walk(dest).map((f) => relative(dest, f)).sort();
    assert.deepEqual(files, ['opt/mte/bin/mte-relay', 'opt/mte/share/man/man1/mte-relay.1']);
    const bin = join(dest, 'opt/mte/bin/mte-relay');
    assert.equal(statSync(bin).mode & 0o777, 0o755);
    assert.equal(statSync(join(dest, 'opt/mte/share/man/man1/mte-relay.1')).mode & 0o777, 0o644);
    assert.deepEqual(readFileSync(bin), readFileSync(join(ROOT, 'build/mte-relay')));
    assert.deepEqual(readFileSync(join(dest, 'opt/mte/share/man/man1/mte-relay.1')),
      readFileSync(join(ROOT, 'man/mte-relay.1')));
    assert.match(execFileSync(bin, ['--version'], { encoding: 'utf8' }), /^mte-relay \d+\.\d+\.\d+/);
    // The unit's ExecStart is the default PREFIX's binary.
    const mk = readFileSync(join(ROOT, 'Makefile'), 'utf8');
    const prefix = /^PREFIX\s*\?=\s*(\S+)$/m.exec(mk)[1];
    assert.deepEqual(unitKeys()['Service.ExecStart'], [`${prefix}/bin/mte-relay`]);
  } finally {
    rmSync(dest, { recursive: true, force: true });
  }
});

test('the binary needs no file beside it: run from an empty directory, it serves the embedded client', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'mte-alone-'));
  try {
    const bin = join(dir, 'mte-relay');
    copyFileSync(RELAY_BIN, bin);
    execFileSync('chmod', ['0755', bin]);
    const r = await startRelay({}, { bin, cwd: dir });
    try {
      const res = await fetch(`${r.url}/public/mte-relay-client.js`);
      assert.equal(res.status, 200);
      assert.match(res.headers.get('content-type'), /javascript/);
      assert.match(await res.text(), /mteFetch/);
    } finally {
      assert.equal((await r.stop()).code, 0);
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('systemd-analyze verify accepts the unit with no warning, and its exposure stays low', () => {
  const dir = mkdtempSync(join(tmpdir(), 'mte-unit-'));
  try {
    // verify checks that ExecStart exists: point it at the built binary.
    const unit = readFileSync(UNIT, 'utf8').replace(/^ExecStart=.*$/m, `ExecStart=${RELAY_BIN}`);
    const path = join(dir, 'mte-relay.service');
    writeFileSync(path, unit);
    const v = spawnSync('systemd-analyze', ['verify', '--man=no', path], { encoding: 'utf8' });
    assert.equal(v.error, undefined, 'systemd-analyze is missing: scripts/setup.sh installs systemd');
    assert.equal(v.status, 0, v.stderr);
    // It only warns (exit 0) on unknown keys or bad values: none allowed.
    assert.equal((v.stdout + v.stderr).trim(), '');
    // A unit with a mistake does produce output, so the check above can fail.
    const bad = join(dir, 'bad.service');
    writeFileSync(bad, unit.replace(/^KillMode=mixed$/m, 'KillMode=sometimes'));
    const vb = spawnSync('systemd-analyze', ['verify', '--man=no', bad], { encoding: 'utf8' });
    assert.match(vb.stdout + vb.stderr, /KillMode|kill mode/i);
    const s = spawnSync('systemd-analyze', ['security', '--offline=true', '--no-pager', path], { encoding: 'utf8' });
    const m = /Overall exposure level for mte-relay\.service: ([0-9.]+)/.exec(s.stdout + s.stderr);
    assert.ok(m, s.stdout + s.stderr);
    assert.ok(Number(m[1]) <= 2.5, `exposure ${m[1]}`);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('the unit is hardened, drains within its stop timeout, and reads the env file', () => {
  const k = unitKeys();
  const one = (key) => { assert.ok(k[key], `${key} missing`); return k[key].at(-1); };
  for (const [key, val] of Object.entries({
    DynamicUser: 'yes', NoNewPrivileges: 'yes', ProtectSystem: 'strict', ProtectHome: 'yes',
    PrivateTmp: 'yes', PrivateDevices: 'yes', MemoryDenyWriteExecute: 'yes', LockPersonality: 'yes',
    RestrictAddressFamilies: 'AF_INET AF_INET6 AF_UNIX', SystemCallFilter: '@system-service',
    CapabilityBoundingSet: 'CAP_NET_BIND_SERVICE', KillSignal: 'SIGTERM', Restart: 'on-failure',
    EnvironmentFile: '/etc/mte-relay/mte-relay.env',
  })) assert.equal(one(`Service.${key}`), val, key);
  assert.equal(k['Service.AmbientCapabilities'], undefined, 'no capability unless a low port needs it');
  assert.match(readFileSync(UNIT, 'utf8'), /^#AmbientCapabilities=CAP_NET_BIND_SERVICE$/m);
  assert.equal(one('Service.RestartPreventExitStatus'), '78');
  const drain = Number(settings().get('DRAIN_TIMEOUT'));
  assert.ok(Number(one('Service.TimeoutStopSec')) > drain, `TimeoutStopSec must exceed DRAIN_TIMEOUT ${drain}`);
});

test('the env example names every setting, shows its real default, and passes --check-config', () => {
  const text = readFileSync(ENV_EXAMPLE, 'utf8');
  const all = settings();
  for (const [name, def] of all) {
    const m = new RegExp(`^#?${name}=(.*)$`, 'm').exec(text);
    assert.ok(m, `${name} is missing from the env example`);
    if (def !== null && !['UPSTREAM', 'CORS_ORIGINS', 'CLIENT_ID_SECRET'].includes(name))
      assert.equal(m[1], def, `${name} shows ${m[1]}, default is ${def}`);
    // A comment line explains it.
    const before = text.slice(0, m.index).trimEnd().split('\n').at(-1);
    assert.match(before, /^# \S/, `${name} has no comment`);
  }
  // Every NAME= line is a real setting (or a NAME_FILE of a secret).
  for (const m of text.matchAll(/^#?([A-Z_]+)=/gm))
    assert.ok(all.has(m[1]) || all.has(m[1].replace(/_FILE$/, '')), `unknown setting ${m[1]}`);

  // As shipped, with the required values filled in and every default line
  // uncommented, the configuration checks out.
  const shown = envFile(text.replace(/^#([A-Z_]+=)/gm, (s, kv) => {
    const name = kv.slice(0, -1);
    const line = new RegExp(`^#${name}=(.*)$`, 'm').exec(text)[1];
    return all.get(name) !== null && line === all.get(name) ? kv : s;
  }));
  assert.equal(shown.CLIENT_ID_SECRET, '', 'the shipped secret is empty, so nobody runs with an example secret');
  shown.CLIENT_ID_SECRET = 'x'.repeat(40);
  assert.equal(shown.DRAIN_TIMEOUT, '20');
  const r = spawnSync(RELAY_BIN, ['--check-config'], { env: { PATH: process.env.PATH, ...shown }, encoding: 'utf8' });
  assert.equal(r.status, 0, r.stdout + r.stderr);
  // Without the secret it is a configuration error (78) naming it.
  delete shown.CLIENT_ID_SECRET;
  const e = spawnSync(RELAY_BIN, ['--check-config'], { env: { PATH: process.env.PATH, ...shown }, encoding: 'utf8' });
  assert.equal(e.status, 78);
  assert.match(e.stderr + e.stdout, /config error: CLIENT_ID_SECRET is required/);
});

test('make static builds one fully static, stripped executable and reports its size', () => {
  const r = spawnSync('make', ['--no-print-directory', 'static'], { cwd: ROOT, encoding: 'utf8' });
  assert.equal(r.status, 0, r.stdout + r.stderr);
  const bin = join(ROOT, 'build/static/mte-relay');
  assert.match(r.stdout, /^static: {3}ldd: not a dynamic executable$/m);
  const size = /^static: {3}size: (\d+) bytes/m.exec(r.stdout);
  assert.ok(size, r.stdout);
  assert.equal(Number(size[1]), statSync(bin).size);
  const l = spawnSync('ldd', [bin], { encoding: 'utf8' });
  assert.match(l.stdout + l.stderr, /not a dynamic executable/);
  assert.match(execFileSync('file', ['-b', bin], { encoding: 'utf8' }), /statically linked.*, stripped/);
  assert.match(execFileSync(bin, ['--version'], { encoding: 'utf8' }), /^mte-relay /);
  // The libraries Debian has no archive for came from its source packages, cached.
  for (const pkg of ['curl', 'cjson']) {
    const dir = readdirSync(join(ROOT, 'build/static-deps')).find((d) => d.startsWith(`${pkg}-`) && !d.endsWith('.log'));
    assert.ok(dir, `no build/static-deps/${pkg}-<version>`);
    assert.match(readFileSync(join(ROOT, 'build/static-deps', dir, '.stamp'), 'utf8'), new RegExp(`^${pkg} \\S+ [0-9a-f]{16}$`, 'm'));
    assert.match(r.stderr, new RegExp(`static-deps: ${pkg} \\S+: (cached|built in \\d+ s)`));
  }
});
