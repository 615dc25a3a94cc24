// container.test.mjs - the container image, built and run with podman
// (Debian's podman and runc; scripts/setup.sh installs them): the Dockerfile's
// runtime stage from the host's static build/static/mte-relay
// (RUNTIME_FILES=host: the Debian build stage cannot be pulled here).
// Storage is a throwaway vfs store in a temporary directory; runc, because
// crun refuses this machine's hybrid cgroups; host networking and the limits
// the machine has (raising them is not permitted).
// The image: only its three files, non-root, health check.  The container:
// read-only root, an UPSTREAM named by --add-host (the image's /etc/hosts
// comes from the runtime), the echo route, a pairing and a protected request,
// the health check both ways, and SIGTERM exits 0.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ROOT, freePort, sleep, startUpstream } from '../node/lib/harness.mjs';
import { newClient, SECRET } from '../node/lib/e2e.mjs';

const IMAGE = 'localhost/mte-relay-test:latest';
const tmp = mkdtempSync(join(tmpdir(), 'mte-container-'));
const store = ['--root', join(tmp, 'root'), '--runroot', join(tmp, 'run'), '--storage-driver=vfs', '--runtime', 'runc'];
const RUN = ['--network=host', '--ulimit', 'nofile=4096:4096', '--ulimit', 'nproc=4096:4096'];

function podman(...args) {
  const r = spawnSync('podman', [...store, ...args], { encoding: 'utf8', maxBuffer: 64 << 20 });
  assert.equal(r.error, undefined, `podman: ${r.error}`);
  return r;
}
function ok(...args) {
  const r = podman(...args);
  assert.equal(r.status, 0, `podman ${args.join(' ')}: ${r.stdout}${r.stderr}`);
  return r.stdout.trim();
}

before(() => {
  for (const tool of ['podman', 'runc'])
    assert.equal(spawnSync('sh', ['-c', `command -v ${tool}`]).status, 0, `${tool} is missing: run make setup`);
  assert.ok(existsSync(join(ROOT, 'build/static/mte-relay')), 'build/static/mte-relay is missing: run make static');
  const ctx = join(tmp, 'ctx');
  const r = spawnSync('sh', ['scripts/static-rootfs.sh', ctx], { cwd: ROOT, encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
  ok('build', '--format', 'docker', '--build-arg', 'RUNTIME_FILES=host', '-f', join(ROOT, 'Dockerfile'), '-t', IMAGE, ctx);
});

after(() => {
  podman('rm', '-af');
  podman('rmi', '-af');
  rmSync(tmp, { recursive: true, force: true });
});

test('the image: three files, a numeric non-root user, the binary\'s own health check', (t) => {
  const info = JSON.parse(ok('image', 'inspect', IMAGE))[0];
  t.diagnostic(`image size: ${info.Size} bytes (${(info.Size / 1048576).toFixed(1)} MiB)`);
  assert.ok(info.Size < 16 << 20, `the image is ${info.Size} bytes`);
  const c = info.Config;
  assert.equal(c.User, '10001:10001');
  assert.deepEqual(c.Entrypoint, ['/usr/local/bin/mte-relay']);
  assert.equal(c.Cmd ?? null, null);
  const hc = info.Healthcheck ?? c.Healthcheck;     // podman shows it beside Config
  assert.deepEqual(hc.Test, ['CMD', '/usr/local/bin/mte-relay', '--healthcheck']);
  assert.equal(hc.Timeout, 5e9);
  assert.equal(c.StopSignal, 'SIGTERM');
  assert.deepEqual(Object.keys(c.ExposedPorts), ['8080/tcp']);
  ok('create', '--name', 'mte-files', IMAGE);
  const tar = spawnSync('sh', ['-c', `podman ${store.join(' ')} export mte-files | tar -t`], { encoding: 'utf8', maxBuffer: 64 << 20 });
  assert.equal(tar.status, 0, tar.stderr);
  const files = tar.stdout.split('\n').filter((l) => l && !l.endsWith('/')).sort();
  assert.deepEqual(files, ['etc/ssl/certs/ca-certificates.crt',
    'usr/local/bin/mte-relay', 'usr/local/share/man/man1/mte-relay.1']);
  ok('rm', 'mte-files');
});

test('a read-only container serves the echo route, a pairing and a protected request; health check; SIGTERM exits 0', async () => {
  const upstream = await startUpstream();
  const port = await freePort();
  const name = 'mte-run';
  ok('run', '-d', '--name', name, '--read-only', ...RUN, '--add-host', `mte-upstream.test:127.0.0.1`,
    '-e', `UPSTREAM=http://mte-upstream.test:${upstream.port}`, '-e', `PORT=${port}`,
    '-e', 'CORS_ORIGINS=http://app.example', '-e', `CLIENT_ID_SECRET=${SECRET}`, '-e', 'MAX_POOL_SIZE=2', IMAGE);
  try {
    const url = `http://127.0.0.1:${port}`;
    let echo;
    for (let i = 0; i < 200 && !echo; i++) {
      echo = await fetch(`${url}/api/mte-echo/container`).catch(() => null);
      if (!echo) await sleep(50);
    }
    assert.ok(echo, `the container never answered; logs:\n${podman('logs', name).stdout}`);
    assert.equal(echo.status, 200);
    assert.equal((await echo.json()).echo, 'container');

    const { f } = newClient();
    const r = await f(`${url}/api/orders?id=7`, { method: 'POST', body: JSON.stringify({ n: 1 }), headers: { 'content-type': 'application/json' } });
    assert.equal(r.status, 200);
    const j = await r.json();
    assert.equal(j.url, '/api/orders?id=7');
    assert.equal(j.headers.host, `mte-upstream.test:${upstream.port}`);
    assert.equal(upstream.received.length, 1);

    // It runs as the image's user.
    const pid = ok('inspect', name, '--format', '{{.State.Pid}}');
    assert.match(readFileSync(`/proc/${pid}/status`, 'utf8'), /^Uid:\s+10001\s+10001\s+10001\s+10001$/m);
    // The health check: podman's, and the same command by hand.
    assert.equal(podman('healthcheck', 'run', name).status, 0);
    assert.equal(ok('inspect', name, '--format', '{{.State.Health.Status}}'), 'healthy');
    assert.equal(podman('exec', name, '/usr/local/bin/mte-relay', '--healthcheck').status, 0);
    const wrong = podman('exec', '-e', `PORT=${await freePort()}`, name, '/usr/local/bin/mte-relay', '--healthcheck');
    assert.equal(wrong.status, 1, 'the check fails where nothing answers');
    assert.match(wrong.stderr, /healthcheck: cannot connect/);

    ok('stop', '-t', '30', name);
    assert.equal(ok('inspect', name, '--format', '{{.State.ExitCode}}'), '0');
    const logs = podman('logs', name).stdout.trim().split('\n').map((l) => { try { return JSON.parse(l); } catch { return {}; } });
    assert.ok(logs.some((l) => l.msg === 'MTE instantiated successfully.'));
    assert.equal(logs.at(-1).msg, 'stopped');
  } finally {
    podman('rm', '-f', name);
    await upstream.stop();
  }
});
