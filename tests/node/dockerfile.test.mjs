// dockerfile.test.mjs - the Dockerfile, checked without a Docker engine
// (tests/container builds and runs the image with podman): what it copies
// exists and is not dockerignored, its build stage runs the same setup
// script as CI and `make static` (and the copied files alone build), the
// runtime stage is FROM scratch with exactly the files of
// scripts/static-rootfs.sh, and the runtime settings (user, port, stop
// signal, health check, env-only configuration) are what ECS needs.  The
// health check is the binary's own --healthcheck, tested here.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { cpSync, existsSync, mkdtempSync, readFileSync, rmSync, symlinkSync, statSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ROOT, RELAY_BIN, freePort, startRelay, limit } from './lib/harness.mjs';

// ---- a small Dockerfile reader: instructions with continuation lines joined ----
function parseDockerfile(text) {
  const lines = text.split('\n');
  const out = [];
  let cur = '';
  for (const raw of lines) {
    if (!cur && /^\s*#/.test(raw)) continue;
    if (/^\s*#/.test(raw)) continue;              // comments inside continuations
    const line = raw.replace(/\s+$/, '');
    if (line.endsWith('\\')) { cur += line.slice(0, -1) + ' '; continue; }
    cur += line;
    if (cur.trim()) {
      const m = /^\s*([A-Za-z]+)\s+(.*)$/s.exec(cur.trim());
      assert.ok(m, `unparsable Dockerfile line: ${cur}`);
      out.push({ op: m[1].toUpperCase(), args: m[2].replace(/\s+/g, ' ').trim() });
    }
    cur = '';
  }
  const stages = [];
  const globals = [];     // ARGs before the first FROM
  for (const ins of out) {
    if (ins.op === 'FROM') stages.push({ from: ins.args, ins: [] });
    else if (!stages.length) {
      assert.equal(ins.op, 'ARG', `${ins.op} before FROM`);
      globals.push(ins);
    } else stages.at(-1).ins.push(ins);
  }
  return { stages, globals };
}

// JSON-array ("exec") form or whitespace-separated words.
function words(args) {
  if (args.startsWith('[')) return JSON.parse(args);
  return args.split(' ');
}

// .dockerignore matching (Go filepath.Match per path element, '**' any
// depth, '!' re-includes, the last matching pattern wins).
function dockerignore() {
  const pats = readFileSync(join(ROOT, '.dockerignore'), 'utf8').split('\n')
    .map((l) => l.trim()).filter((l) => l && !l.startsWith('#'))
    .map((l) => {
      const neg = l.startsWith('!');
      const p = (neg ? l.slice(1) : l).replace(/^\/+/, '').replace(/\/+$/, '');
      const re = p.split('/').map((seg) => (seg === '**' ? '.*' :
        seg.replace(/[.+^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '[^/]*').replace(/\?/g, '[^/]')))
        .join('/');
      return { neg, re: new RegExp(`^${re}$`) };
    });
  return (path) => {
    const parts = path.split('/');
    let excluded = false;
    for (let i = 1; i <= parts.length; i++) {
      const prefix = parts.slice(0, i).join('/');
      for (const p of pats) if (p.re.test(prefix)) excluded = !p.neg;
      if (excluded && i < parts.length) return true;   // a parent directory is excluded
    }
    return excluded;
  };
}

const { stages, globals } = parseDockerfile(readFileSync(join(ROOT, 'Dockerfile'), 'utf8'));
const build = stages[0];
const runtime = stages.at(-1);
const byName = (n) => stages.find((st) => new RegExp(` AS ${n}$`, 'i').test(st.from));
const buildCopies = build.ins.filter((i) => i.op === 'COPY').map((i) => {
  const w = words(i.args).filter((x) => !x.startsWith('--'));
  return { sources: w.slice(0, -1), dest: w.at(-1) };
});
const ROOTFS = `${build.ins.filter((i) => i.op === 'WORKDIR').at(-1).args}/build/container/rootfs/`;
const ENV = { UPSTREAM: 'http://127.0.0.1:9', CORS_ORIGINS: 'http://allowed.example',
  CLIENT_ID_SECRET: 'test-secret-0123456789abcdef0123456789' };

// What scripts/static-rootfs.sh lays out (from build/static/mte-relay): path -> mode.
function rootfsFiles() {
  if (!existsSync(join(ROOT, 'build/static/mte-relay'))) {
    const m = spawnSync('make', ['--no-print-directory', 'static'], { cwd: ROOT, encoding: 'utf8' });
    assert.equal(m.status, 0, m.stdout + m.stderr);
  }
  const dir = mkdtempSync(join(tmpdir(), 'mte-rootfs-'));
  try {
    execFileSync('sh', ['scripts/static-rootfs.sh', dir], { cwd: ROOT, stdio: 'ignore' });
    const out = execFileSync('find', ['rootfs', '-type', 'f', '-printf', '%P %m\\n'], { cwd: dir, encoding: 'utf8' });
    return Object.fromEntries(out.trim().split('\n').map((l) => l.split(' ')));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

test('stages: Debian 12 build, host files, the chosen one, and a runtime FROM scratch', () => {
  assert.equal(stages.length, 4);
  assert.match(build.from, /^debian:12 AS build$/i);
  assert.match(stages[1].from, /^scratch AS host$/i);
  assert.match(stages[2].from, /^\$\{RUNTIME_FILES\} AS files$/i);
  assert.equal(runtime.from, 'scratch');
  // The full build by default; "host" only when asked for.
  assert.deepEqual(globals.map((g) => g.args), ['RUNTIME_FILES=build']);
});

test('every file and directory the build stage copies exists and is not dockerignored', () => {
  const ignored = dockerignore();
  assert.ok(buildCopies.length > 0);
  for (const { sources } of buildCopies) {
    for (const s of sources) {
      const p = s.replace(/\/+$/, '');
      assert.ok(existsSync(join(ROOT, p)), `COPY source ${s} does not exist`);
      assert.ok(!ignored(p), `COPY source ${s} is excluded by .dockerignore`);
      if (s.endsWith('/')) assert.ok(statSync(join(ROOT, p)).isDirectory(), `${s} is not a directory`);
    }
  }
  // Every tracked file that `make static` and the rootfs script read is inside the context and copied.
  const tracked = execFileSync('git', ['ls-files', 'Makefile', 'main.c', 'src', 'tools', 'client',
    'static', 'scripts', 'man', 'package.json', 'package-lock.json'], { cwd: ROOT, encoding: 'utf8' })
    .split('\n').filter(Boolean);
  const copied = buildCopies.flatMap((c) => c.sources.map((s) => s.replace(/\/+$/, '')));
  for (const f of tracked) {
    if (!existsSync(join(ROOT, f))) continue;   // deleted in the work tree
    assert.ok(copied.some((c) => f === c || f.startsWith(c + '/')), `${f} is not copied`);
    assert.ok(!ignored(f), `${f} is excluded by .dockerignore`);
  }
  // Local state never enters the context.
  for (const p of ['build/mte-relay', 'build/static/mte-relay', 'build/static-deps/curl-x/lib/libcurl.a',
    'node_modules/esbuild', '.git/HEAD', 'static/mte-relay-client.js'])
    assert.ok(ignored(p), `${p} should be dockerignored`);
});

test('the build stage runs what CI runs (scripts/setup.sh), make static and the rootfs script; no tests', () => {
  const runs = build.ins.filter((i) => i.op === 'RUN').map((i) => i.args);
  assert.deepEqual(runs, ['sh scripts/setup.sh', 'make static', 'sh scripts/static-rootfs.sh build/container']);
  for (const r of runs) assert.doesNotMatch(r, /\btest|valgrind|--test/, `build runs tests: ${r}`);
  // CI: .ci/run -> make test; in the Makefile `test` depends on `setup`, whose
  // recipe is scripts/setup.sh; `static` runs scripts/static.sh.
  assert.match(readFileSync(join(ROOT, '.ci/run'), 'utf8'), /^make test$/m);
  const mk = readFileSync(join(ROOT, 'Makefile'), 'utf8');
  assert.match(mk, /^setup:\n\t@?sh scripts\/setup\.sh$/m);
  assert.match(mk, /^test: setup\n\t@?\$\(MAKE\)[^\n]* all$/m);
  assert.match(mk, /^static: [^\n]*\n\t@?[^\n]*sh scripts\/static\.sh$/m);
  assert.match(readFileSync(join(ROOT, 'scripts/static-rootfs.sh'), 'utf8'), /^bin=\$\{BUILD:-build\}\/static\/mte-relay$/m);
  // Both sources of the files put them where the runtime stage takes them.
  assert.deepEqual(byName('host').ins.map((i) => [i.op, words(i.args)]), [['COPY', ['rootfs/', ROOTFS]]]);
  assert.deepEqual(byName('files').ins, []);
});

test('the runtime stage holds the static executable, the CA bundle and the manual, nothing else', () => {
  const copies = runtime.ins.filter((i) => i.op === 'COPY' || i.op === 'ADD');
  assert.equal(copies.length, 1);
  assert.deepEqual(words(copies[0].args), ['--from=files', ROOTFS, '/']);
  assert.equal(runtime.ins.filter((i) => i.op === 'RUN').length, 0, 'FROM scratch has nothing to run');
  assert.deepEqual(rootfsFiles(), {
    'usr/local/bin/mte-relay': '755',
    'etc/ssl/certs/ca-certificates.crt': '644',
    'usr/local/share/man/man1/mte-relay.1': '644',
  });
});

test('the build stage builds from the copied files alone (assets embedded)', () => {
  const dir = mkdtempSync(join(tmpdir(), 'mte-docker-'));
  try {
    for (const { sources, dest } of buildCopies)
      for (const s of sources) {
        const p = s.replace(/\/+$/, '');
        cpSync(join(ROOT, p), join(dir, dest === './' ? p : dest.replace(/\/+$/, '')), { recursive: true });
      }
    // Stand-in for the `npm ci` that setup.sh runs in the image.  The objects
    // built here are what `make static` links (tests/node/deploy.test.mjs
    // runs that; building libcurl again here would only cost minutes).
    symlinkSync(join(ROOT, 'node_modules'), join(dir, 'node_modules'));
    const r = spawnSync('make', ['-j2', 'build/main.o', 'build/libmterelay.a', 'all'], { cwd: dir, encoding: 'utf8' });
    assert.equal(r.status, 0, r.stdout.slice(-2000) + r.stderr.slice(-2000));
    const v = execFileSync(join(dir, 'build/mte-relay'), ['--version'], { encoding: 'utf8' });
    assert.match(v, /^mte-relay \d+\.\d+\.\d+/);
    const names = (f) => [...readFileSync(f, 'utf8').matchAll(/^\t\{ "([^"]+)", "/gm)].map((m) => m[1]).sort();
    const got = names(join(dir, 'build/gen/assets.c'));
    assert.ok(got.includes('mte-relay-client.js'), `embedded: ${got}`);
    assert.deepEqual(got, names(join(ROOT, 'build/gen/assets.c')));
    for (const f of ['scripts/static.sh', 'scripts/static-deps.sh', 'scripts/static-rootfs.sh', 'man/mte-relay.1'])
      assert.ok(existsSync(join(dir, f)), `${f} is not in the build stage`);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('runtime: non-root numeric user, port 8080, SIGTERM, configuration from the environment only', () => {
  const ins = (op) => runtime.ins.filter((i) => i.op === op);
  const user = ins('USER').at(-1)?.args ?? 'root';
  assert.match(user, /^\d+:\d+$/, 'numeric: the image has no /etc/passwd');
  assert.ok(!/^0(:|$)/.test(user), `runs as ${user}`);
  assert.deepEqual(ins('EXPOSE').map((i) => i.args), ['8080']);
  assert.deepEqual(ins('STOPSIGNAL').map((i) => i.args), ['SIGTERM']);
  assert.equal(ins('CMD').length, 0, 'no CMD: flags would override the environment');
  assert.deepEqual(words(ins('ENTRYPOINT')[0].args), ['/usr/local/bin/mte-relay']);
  // No setting or secret is baked into the image.
  for (const i of [...ins('ENV'), ...ins('ARG'), ...globals, ...build.ins.filter((x) => x.op === 'ENV' || x.op === 'ARG')])
    assert.doesNotMatch(i.args, /SECRET|TOKEN|REDIS_URL|UPSTREAM|CORS/, i.args);
});

// The HEALTHCHECK's command, run with the host's binary standing in for the
// image's /usr/local/bin/mte-relay (spawned, not spawnSync: the fake servers
// below live in this process's event loop).
function healthcheck() {
  const hc = runtime.ins.find((i) => i.op === 'HEALTHCHECK');
  assert.ok(hc, 'no HEALTHCHECK');
  const m = /^(.*)CMD (\[.*\])$/.exec(hc.args);
  assert.ok(m, 'exec form: the image has no shell');
  const argv = JSON.parse(m[2]);
  assert.deepEqual(argv, ['/usr/local/bin/mte-relay', '--healthcheck']);
  return {
    timeout: Number(/--timeout=(\d+)s/.exec(m[1])[1]),
    run: (env) => new Promise((resolve) => {
      const child = spawn(RELAY_BIN, argv.slice(1), { env: { ...ENV, ...env } });
      let out = '';
      child.stdout.on('data', (d) => { out += d; });
      child.stderr.on('data', (d) => { out += d; });
      child.once('exit', (status) => resolve({ status, out }));
    }),
  };
}

test('HEALTHCHECK is the binary\'s --healthcheck: 0 while the relay answers GET /api/mte-echo, else 1', async () => {
  const hc = healthcheck();
  const giveUp = limit('HEALTHCHECK_TIMEOUT_S');
  assert.ok(giveUp < hc.timeout, `--healthcheck gives up after ${giveUp} s, before the runtime's ${hc.timeout} s`);
  const r = await startRelay();
  try {
    const ok = await hc.run({ PORT: String(r.port) });
    assert.equal(ok.status, 0, ok.out);
    assert.equal(ok.out, '', 'a passing check prints nothing (no configuration warnings either)');
    await r.waitLog((l) => l.msg === 'request' && l.method === 'GET' && l.path === '/api/mte-echo' && l.status === 200);
    // A bad configuration is a configuration error, as for a start.
    assert.equal((await hc.run({ PORT: '0' })).status, 78);
  } finally {
    await r.stop();
  }
  const down = await hc.run({ PORT: String(r.port) });
  assert.equal(down.status, 1, 'the check passes with no relay running');
  assert.match(down.out, /^healthcheck: cannot connect to 127\.0\.0\.1 port \d+: Connection refused\n$/);
  // BIND names the address to probe; a wildcard means the loopback.
  const bound = await startRelay({ BIND: '127.0.0.1' });
  try {
    assert.equal((await hc.run({ PORT: String(bound.port), BIND: '127.0.0.1' })).status, 0);
    assert.equal((await hc.run({ PORT: String(bound.port), BIND: '0.0.0.0' })).status, 0);
    assert.equal((await hc.run({ PORT: String(bound.port), BIND: '127.0.0.2' })).status, 1);
  } finally {
    await bound.stop();
  }
});

// A listener that answers every connection's first bytes with reply (null: never).
async function fakeServer(reply) {
  const sockets = [];
  const server = createServer((s) => {
    sockets.push(s);
    s.on('error', () => {});
    s.once('data', () => { if (reply !== null) s.end(reply); });
  });
  const port = await freePort();
  await new Promise((res) => server.listen(port, '127.0.0.1', res));
  return { port, stop: () => new Promise((res) => { for (const s of sockets) s.destroy(); server.close(res); }) };
}

test('--healthcheck: 200 passes; another status, garbage, a close or silence (HEALTHCHECK_TIMEOUT_S) fails', async () => {
  const hc = healthcheck();
  const cases = [
    ['HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\n{}', 0, /^$/],
    ['HTTP/1.0 200 OK\r\n\r\n', 0, /^$/],
    ['HTTP/1.1 503 Service Unavailable\r\ncontent-length: 0\r\n\r\n', 1, /answered: HTTP\/1\.1 503 Service Unavailable\n$/],
    ['HTTP/1.1 2000 OK\r\n\r\n', 1, /answered: HTTP\/1\.1 2000 OK\n$/],
    ['SSH-2.0-OpenSSH_9\r\n\u0001', 1, /answered: SSH-2\.0-OpenSSH_9\n$/],
    ['HTTP/1.1 200', 1, /connection closed before a status line/],
    [null, 1, /no answer in time/],
  ];
  for (const [reply, status, why] of cases) {
    const srv = await fakeServer(reply);
    try {
      const got = await hc.run({ PORT: String(srv.port) });
      assert.equal(got.status, status, `${JSON.stringify(reply)}: ${got.out}`);
      assert.match(got.out, why);
    } finally {
      await srv.stop();
    }
  }
});
