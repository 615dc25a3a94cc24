// demo.test.mjs - `make demo`'s script (scripts/demo.sh) as a user runs it:
// it starts the demo upstream and the relay, prints the test page's URL, the
// Login demo works there in chromium, and SIGTERM stops both.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { connect } from 'node:net';
import { join } from 'node:path';
import { launchBrowser, newPage, screenshot, clickLogin, startRedis, freePort, ROOT } from './lib.mjs';

let browser;
before(async () => { browser = await launchBrowser(); });
after(async () => { await browser?.close(); });

/** Runs scripts/demo.sh; resolves once it printed the test page URL. */
function startDemo(env) {
  const child = spawn('sh', [join(ROOT, 'scripts', 'demo.sh')], {
    cwd: ROOT, env: { PATH: process.env.PATH, HOME: process.env.HOME, ...env }, stdio: ['ignore', 'pipe', 'pipe'], detached: true,
  });
  const demo = { child, out: '', exited: null };
  child.stdout.on('data', (d) => { demo.out += d; });
  child.stderr.on('data', (d) => { demo.out += d; });
  demo.exit = new Promise((resolve) => child.once('exit', (code, signal) => { demo.exited = { code, signal }; resolve(demo.exited); }));
  demo.kill = () => { try { process.kill(-child.pid, 'SIGKILL'); } catch { /* gone */ } };
  demo.ready = new Promise((resolve, reject) => {
    const look = () => {
      const m = /test page\s+(\S+)/.exec(demo.out);
      if (m) { child.stdout.off('data', look); resolve(m[1]); }
    };
    child.stdout.on('data', look);
    demo.exit.then(() => reject(new Error(`demo.sh exited early:\n${demo.out}`)));
  });
  return demo;
}

function refused(port) {
  return new Promise((resolve) => {
    const s = connect(port, '127.0.0.1');
    s.once('connect', () => { s.destroy(); resolve(false); });
    s.once('error', () => resolve(true));
  });
}

async function loginThrough(url, shot) {
  const page = await newPage(browser);
  try {
    await page.goto(url);
    await page.waitForSelector('#relay-status[data-state=success]');
    const r = await clickLogin(page);
    assert.equal(r.state, 'success', r.text);
    if (shot) await screenshot(page, shot);
  } finally {
    await page.context().close();
  }
}

test('demo.sh serves the test page, the Login demo works, SIGTERM stops relay and upstream', async () => {
  const [port, upstreamPort] = [await freePort(), await freePort()];
  const demo = startDemo({ PORT: String(port), UPSTREAM_PORT: String(upstreamPort) });
  try {
    const url = await demo.ready;
    assert.equal(url, `http://localhost:${port}/public/relay-test.html`);
    assert.match(demo.out, /store: embedded/);
    await loginThrough(url, 'demo-login-success.png');
    assert.match(demo.out, /\[demo upstream\] POST \/api\/login -> 200/);
    demo.child.kill('SIGTERM');
    assert.deepEqual(await demo.exit, { code: 0, signal: null });
    assert.match(demo.out, /demo: stopped/);
    assert.ok(await refused(port), 'relay still listening');
    assert.ok(await refused(upstreamPort), 'demo upstream still listening');
  } finally {
    demo.kill();
  }
});

test('demo.sh with REDIS_URL keeps the relay state in that Redis; Ctrl-C stops it', async () => {
  const redis = await startRedis();
  const [port, upstreamPort] = [await freePort(), await freePort()];
  const demo = startDemo({ PORT: String(port), UPSTREAM_PORT: String(upstreamPort), REDIS_URL: redis.url });
  try {
    const url = await demo.ready;
    assert.match(demo.out, /store: Redis/);
    assert.equal(await redis.cli('DBSIZE'), '0');
    await loginThrough(url.replace('localhost', '127.0.0.1'));
    assert.ok(Number(await redis.cli('DBSIZE')) > 0, 'no pair stored in Redis');
    // Ctrl-C in a terminal: SIGINT to the whole foreground process group.
    process.kill(-demo.child.pid, 'SIGINT');
    assert.deepEqual(await demo.exit, { code: 0, signal: null });
    assert.match(demo.out, /demo: stopped/);
  } finally {
    demo.kill();
    await redis.stop();
  }
});

test('demo.sh refuses to start on a port in use, naming the problem', async () => {
  const port = await freePort();
  const blocker = (await import('node:net')).createServer().listen(port, '127.0.0.1');
  await new Promise((r) => blocker.once('listening', r));
  const demo = startDemo({ PORT: String(await freePort()), UPSTREAM_PORT: String(port) });
  try {
    await assert.rejects(demo.ready, /exited early/);
    assert.equal(demo.exited.code, 1);
    assert.match(demo.out, /the demo upstream exited during start-up/);
  } finally {
    demo.kill();
    blocker.close();
  }
});
