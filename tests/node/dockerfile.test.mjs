// dockerfile.test.mjs - the Dockerfile, checked without a Docker engine:
// what it copies exists and is not dockerignored, its build stage runs the
// same setup script and build target as CI (and really builds from only the
// copied files), the runtime packages exist and provide every shared library
// the binary links, and the runtime settings (user, port, stop signal,
// health check, env-only configuration) are what ECS needs.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { cpSync, existsSync, mkdtempSync, readFileSync, rmSync, symlinkSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ROOT, RELAY_BIN, startRelay } from './lib/harness.mjs';

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
  for (const ins of out) {
    if (ins.op === 'FROM') stages.push({ from: ins.args, ins: [] });
    else {
      assert.ok(stages.length, `${ins.op} before FROM`);
      stages.at(-1).ins.push(ins);
    }
  }
  return stages;
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

const stages = parseDockerfile(readFileSync(join(ROOT, 'Dockerfile'), 'utf8'));
const build = stages[0];
const runtime = stages.at(-1);
const buildCopies = build.ins.filter((i) => i.op === 'COPY').map((i) => {
  const w = words(i.args).filter((x) => !x.startsWith('--'));
  return { sources: w.slice(0, -1), dest: w.at(-1) };
});

function runtimePackages() {
  const run = runtime.ins.filter((i) => i.op === 'RUN').map((i) => i.args).join(' ');
  const m = /apt-get install ((?:-\S+ )*)(.*?)(?:&&|;|$)/.exec(run);
  assert.ok(m, 'runtime stage installs packages with apt-get install');
  return m[2].trim().split(' ').filter((w) => w && !w.startsWith('-'));
}

test('two stages: a Debian 12 build stage and a Debian 12 slim runtime', () => {
  assert.equal(stages.length, 2);
  assert.match(build.from, /^debian:12 AS build$/i);
  assert.equal(runtime.from, 'debian:12-slim');
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
  // Every tracked file that `make` reads is inside the context and copied.
  const tracked = execFileSync('git', ['ls-files', 'Makefile', 'main.c', 'src', 'tools', 'client',
    'static', 'scripts', 'package.json', 'package-lock.json'], { cwd: ROOT, encoding: 'utf8' })
    .split('\n').filter(Boolean);
  const copied = buildCopies.flatMap((c) => c.sources.map((s) => s.replace(/\/+$/, '')));
  for (const f of tracked) {
    if (!existsSync(join(ROOT, f))) continue;   // deleted in the work tree
    assert.ok(copied.some((c) => f === c || f.startsWith(c + '/')), `${f} is not copied`);
    assert.ok(!ignored(f), `${f} is excluded by .dockerignore`);
  }
  // Local state never enters the context.
  for (const p of ['build/mte-relay', 'node_modules/esbuild', '.git/HEAD', 'static/mte-relay-client.js'])
    assert.ok(ignored(p), `${p} should be dockerignored`);
});

test('the build stage runs the scripts CI runs: scripts/setup.sh, then make (no tests)', () => {
  const runs = build.ins.filter((i) => i.op === 'RUN').map((i) => i.args);
  assert.deepEqual(runs.slice(0, 2), ['sh scripts/setup.sh', 'make']);
  for (const r of runs) assert.doesNotMatch(r, /\btest|valgrind|--test/, `build runs tests: ${r}`);
  // CI: .ci/run -> make test; in the Makefile `test` depends on `setup`, whose
  // recipe is scripts/setup.sh, and then builds `all` = build/mte-relay.
  assert.match(readFileSync(join(ROOT, '.ci/run'), 'utf8'), /^make test$/m);
  const mk = readFileSync(join(ROOT, 'Makefile'), 'utf8');
  assert.match(mk, /^setup:\n\t@?sh scripts\/setup\.sh$/m);
  assert.match(mk, /^test: setup\n\t@?\$\(MAKE\)[^\n]* all$/m);
  assert.match(mk, /^all: \$\(BIN\)$/m);
  assert.match(mk, /^BIN +:= \$\(BUILD\)\/mte-relay$/m);
  // The runtime copies exactly that binary from the build stage.
  const from = runtime.ins.filter((i) => i.op === 'COPY' && /--from=build/.test(i.args));
  assert.equal(from.length, 1);
  const [src, dest] = words(from[0].args).filter((x) => !x.startsWith('--'));
  const workdir = build.ins.filter((i) => i.op === 'WORKDIR').at(-1).args;
  assert.equal(src, `${workdir}/build/mte-relay`);
  assert.deepEqual(words(runtime.ins.find((i) => i.op === 'ENTRYPOINT').args), [dest]);
});

test('the build stage builds from the copied files alone (assets embedded)', () => {
  const dir = mkdtempSync(join(tmpdir(), 'mte-docker-'));
  try {
    for (const { sources, dest } of buildCopies)
      for (const s of sources) {
        const p = s.replace(/\/+$/, '');
        cpSync(join(ROOT, p), join(dir, dest === './' ? p : dest.replace(/\/+$/, '')), { recursive: true });
      }
    // Stand-in for the `npm ci` that setup.sh runs in the image.
    symlinkSync(join(ROOT, 'node_modules'), join(dir, 'node_modules'));
    const r = spawnSync('make', ['-j2'], { cwd: dir, encoding: 'utf8' });
    assert.equal(r.status, 0, r.stdout.slice(-2000) + r.stderr.slice(-2000));
    const v = execFileSync(join(dir, 'build/mte-relay'), ['--version'], { encoding: 'utf8' });
    assert.match(v, /^mte-relay \d+\.\d+\.\d+/);
    const names = (f) => [...readFileSync(f, 'utf8').matchAll(/^\t\{ "([^"]+)", "/gm)].map((m) => m[1]).sort();
    const got = names(join(dir, 'build/gen/assets.c'));
    assert.ok(got.includes('mte-relay-client.js'), `embedded: ${got}`);
    assert.deepEqual(got, names(join(ROOT, 'build/gen/assets.c')));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('runtime packages are Debian 12 packages (installed here as the -dev packages\' dependencies)', () => {
  const pkgs = runtimePackages();
  for (const p of ['libbearssl0', 'libhiredis0.14', 'libcurl4', 'libcjson1', 'ca-certificates'])
    assert.ok(pkgs.includes(p), `${p} missing from the runtime stage`);
  assert.equal(readFileSync('/etc/debian_version', 'utf8').trim().split('.')[0], '12');
  for (const p of pkgs) {
    const s = spawnSync('dpkg', ['-s', p], { encoding: 'utf8' });
    assert.equal(s.status, 0, `dpkg -s ${p}: ${s.stderr}`);
    assert.match(s.stdout, /^Status: install ok installed$/m, p);
  }
  assert.match(runtime.ins.find((i) => i.op === 'RUN').args, /--no-install-recommends/);
});

// Installed packages reachable from roots through Depends/Pre-Depends.
function closure(roots) {
  const seen = new Set();
  const todo = [...roots];
  while (todo.length) {
    const p = todo.pop();
    if (seen.has(p)) continue;
    const r = spawnSync('dpkg-query', ['-W', '-f=${Status}\n${Depends}, ${Pre-Depends}', p], { encoding: 'utf8' });
    if (r.status !== 0 || !r.stdout.startsWith('install ok installed')) continue;
    seen.add(p);
    const deps = r.stdout.split('\n')[1];
    for (const alt of deps.split(',').map((d) => d.trim()).filter(Boolean))
      for (const d of alt.split('|')) todo.push(d.trim().split(/[\s(]/)[0].replace(/:any$/, ''));
  }
  return seen;
}

test('every shared library of the binary comes from the runtime packages', () => {
  const out = execFileSync('ldd', [RELAY_BIN], { encoding: 'utf8' });
  const libs = [...out.matchAll(/=> (\/\S+)/g)].map((m) => m[1]);
  assert.ok(libs.length >= 5, out);
  assert.doesNotMatch(out, /not found/);
  const provided = closure(runtimePackages());
  const owners = {};
  for (const lib of libs) {
    // merged /usr: dpkg may have recorded either spelling of the path
    const tries = [lib, lib.replace(/^\/usr\/lib\//, '/lib/'), lib.replace(/^\/lib\//, '/usr/lib/')];
    let pkg = null;
    for (const t of tries) {
      const r = spawnSync('dpkg', ['-S', t], { encoding: 'utf8' });
      if (r.status === 0) { pkg = r.stdout.split(':')[0].trim(); break; }
    }
    assert.ok(pkg, `no package owns ${lib}`);
    owners[lib] = pkg;
    assert.ok(provided.has(pkg), `${lib} is in ${pkg}, which the runtime packages do not bring`);
  }
  for (const direct of ['libbearssl0', 'libhiredis0.14', 'libcurl4', 'libcjson1'])
    assert.ok(Object.values(owners).includes(direct), `${direct} is listed but not linked`);
});

test('runtime: non-root user, port 8080, SIGTERM, configuration from the environment only', () => {
  const ins = (op) => runtime.ins.filter((i) => i.op === op);
  const user = ins('USER').at(-1)?.args ?? 'root';
  assert.ok(!/^(0|root)(:|$)/.test(user), `runs as ${user}`);
  assert.match(runtime.ins.find((i) => i.op === 'RUN').args, /useradd --system --uid 10001/);
  assert.deepEqual(ins('EXPOSE').map((i) => i.args), ['8080']);
  assert.deepEqual(ins('STOPSIGNAL').map((i) => i.args), ['SIGTERM']);
  assert.equal(ins('CMD').length, 0, 'no CMD: flags would override the environment');
  assert.equal(words(ins('ENTRYPOINT')[0].args).length, 1, 'entrypoint without flags');
  // No setting or secret is baked into the image.
  for (const i of [...ins('ENV'), ...ins('ARG'), ...build.ins.filter((x) => x.op === 'ENV' || x.op === 'ARG')])
    assert.doesNotMatch(i.args, /SECRET|TOKEN|REDIS_URL|UPSTREAM|CORS/, i.args);
});

test('HEALTHCHECK probes the echo route and fails when the relay does not answer', async () => {
  const hc = runtime.ins.find((i) => i.op === 'HEALTHCHECK');
  assert.ok(hc, 'no HEALTHCHECK');
  const m = /CMD (.*)$/.exec(hc.args);
  assert.ok(m);
  assert.match(m[1], /\/api\/mte-echo\/health/);
  assert.ok(runtimePackages().includes('curl'), 'the check needs curl in the image');
  // Run the check the way Docker does (sh -c, the container's environment).
  const r = await startRelay();
  try {
    const ok = spawnSync('sh', ['-c', m[1]], { env: { PATH: process.env.PATH, PORT: String(r.port) } });
    assert.equal(ok.status, 0, String(ok.stderr));
    await r.waitLog((l) => l.msg === 'request' && l.path === '/api/mte-echo/health' && l.status === 200);
  } finally {
    await r.stop();
  }
  const down = spawnSync('sh', ['-c', m[1]], { env: { PATH: process.env.PATH, PORT: String(r.port) } });
  assert.notEqual(down.status, 0, 'the check passes with no relay running');
});
