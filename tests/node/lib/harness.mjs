// harness.mjs - start the real relay binary, real upstreams and a real
// redis-server for integration tests; everything is torn down by stop().
import { spawn } from 'node:child_process';
import { createServer } from 'node:http';
import { createServer as netServer } from 'node:net';
import { createHash } from 'node:crypto';
import { readFileSync, mkdtempSync, rmSync, openSync, closeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';

export const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..');

// The value of a plain numeric #define of src/limits.h, so that tests follow
// the header instead of repeating its numbers.
let limitsText;
export function limit(name) {
  limitsText ??= readFileSync(join(ROOT, 'src/limits.h'), 'utf8');
  const m = new RegExp(`^#define ${name}\\s+(\\d+)\\b`, 'm').exec(limitsText);
  if (!m) throw new Error(`src/limits.h has no numeric #define ${name}`);
  return Number(m[1]);
}
export const RELAY_BIN = process.env.MTE_RELAY_BIN || join(ROOT, 'build', 'mte-relay');

export function freePort() {
  return new Promise((resolve, reject) => {
    const s = netServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });
}

export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

// A real HTTP upstream.  Every request is recorded with its method, url,
// headers, body length and sha256 (the body is hashed as it streams).
// routes: optional function (req, res, rec) returning true when it answered.
export async function startUpstream(routes) {
  const received = [];
  const server = createServer((req, res) => {
    const rec = { method: req.method, url: req.url, headers: req.headers, length: 0,
      sha256: null, complete: false, aborted: false, body: [] };
    received.push(rec);
    const hash = createHash('sha256');
    req.on('data', (d) => {
      rec.length += d.length;
      hash.update(d);
      if (rec.length <= 16 << 20) rec.body.push(d);
    });
    req.on('aborted', () => { rec.aborted = true; });
    req.on('error', () => { rec.aborted = true; });
    req.on('end', () => {
      rec.complete = true;
      rec.sha256 = hash.digest('hex');
      rec.text = Buffer.concat(rec.body).toString('utf8');
      if (routes && routes(req, res, rec)) return;
      const body = JSON.stringify({ method: rec.method, url: rec.url, length: rec.length,
        sha256: rec.sha256, headers: rec.headers });
      res.writeHead(200, { 'content-type': 'application/json', 'x-upstream': 'yes' });
      res.end(body);
    });
  });
  server.keepAliveTimeout = 5000;
  await new Promise((r) => server.listen(0, '127.0.0.1', r));
  const port = server.address().port;
  return {
    port, url: `http://127.0.0.1:${port}`, received, server,
    stop: () => new Promise((r) => { server.closeAllConnections?.(); server.close(() => r()); }),
  };
}

// Starts build/mte-relay with env (merged over a minimal valid config).
// Resolves once "Server listening at" is logged.  Logs are kept in .logs.
// Options: args (flags), expectFail (resolve when it exits), bin (another
// binary, e.g. an installed copy), cwd (its working directory), logFile
// (the relay writes its log to this file instead of a pipe, as a service
// would: benchmarks use it so that keeping the log costs the harness nothing).
export async function startRelay(env = {}, { args = [], expectFail = false, bin = RELAY_BIN, cwd, logFile } = {}) {
  const port = env.PORT ?? await freePort();
  const fullEnv = {
    PATH: process.env.PATH,
    UPSTREAM: 'http://127.0.0.1:9',
    CORS_ORIGINS: 'http://allowed.example',
    CLIENT_ID_SECRET: 'test-secret-0123456789abcdef0123456789',
    MAX_POOL_SIZE: '2',
    ...env,
    PORT: String(port),
  };
  for (const k of Object.keys(fullEnv)) if (fullEnv[k] === undefined) delete fullEnv[k];
  const logFd = logFile ? openSync(logFile, 'a') : null;
  const child = spawn(bin, args, { env: fullEnv, cwd,
    stdio: ['ignore', logFd ?? 'pipe', logFd ?? 'pipe'] });
  if (logFd !== null) closeSync(logFd);
  const relay = {
    child, port, url: `http://127.0.0.1:${port}`, logs: [], stderr: '', exited: null,
    lines() { return this.logs.map((l) => { try { return JSON.parse(l); } catch { return { raw: l }; } }); },
    async stop(signal = 'SIGTERM') {
      if (this.exited) return this.exited;
      child.kill(signal);
      return await this.waitExit();
    },
    waitExit(timeoutMs = 30000) {
      if (this.exited) return Promise.resolve(this.exited);
      return new Promise((resolve, reject) => {
        const t = setTimeout(() => { child.kill('SIGKILL'); reject(new Error('relay did not exit')); }, timeoutMs);
        child.once('exit', (code, sig) => { clearTimeout(t); resolve({ code, signal: sig }); });
      });
    },
    async waitLog(pred, timeoutMs = 10000) {
      const t0 = Date.now();
      while (Date.now() - t0 < timeoutMs) {
        const hit = this.lines().find(pred);
        if (hit) return hit;
        await sleep(25);
      }
      throw new Error('log line not seen; logs:\n' + this.logs.slice(-20).join('\n'));
    },
    workers() { return childPids(child.pid); },
  };
  if (logFile) {
    Object.defineProperty(relay, 'logs', {
      get() { try { return readFileSync(logFile, 'utf8').split('\n').filter(Boolean); } catch { return []; } },
    });
  }
  let buf = '';
  if (!logFile) child.stdout.on('data', (d) => {
    buf += d.toString();
    let i;
    while ((i = buf.indexOf('\n')) >= 0) { relay.logs.push(buf.slice(0, i)); buf = buf.slice(i + 1); }
  });
  if (!logFile) child.stderr.on('data', (d) => { relay.stderr += d.toString(); });
  child.once('exit', (code, signal) => { relay.exited = { code, signal }; });
  if (expectFail) {
    relay.result = await relay.waitExit();
    return relay;
  }
  // An outbound-only relay (PROTOCOL.md section 14) binds no PORT: its
  // outbound listener's line is the sign of readiness.
  await relay.waitLog((l) => typeof l.msg === 'string' && (l.msg.startsWith('Server listening at') ||
    (l.msg === 'outbound listener' && !fullEnv.UPSTREAM)))
    .catch((e) => { child.kill('SIGKILL'); throw new Error(e.message + '\nstderr: ' + relay.stderr); });
  // Workers are forked right after that line; wait until they exist.
  const t0 = Date.now();
  while (relay.workers().length < Number(fullEnv.MAX_POOL_SIZE || 2) && Date.now() - t0 < 5000) await sleep(20);
  return relay;
}

export function childPids(pid) {
  try {
    return readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8').trim().split(/\s+/).filter(Boolean).map(Number);
  } catch { return []; }
}

export function rssKiB(pid) {
  const s = readFileSync(`/proc/${pid}/status`, 'utf8');
  const m = /VmRSS:\s+(\d+) kB/.exec(s);
  return m ? Number(m[1]) : 0;
}

// A real redis-server on a free port, no persistence.
export async function startRedis(extraArgs = []) {
  const port = await freePort();
  const dir = mkdtempSync(join(tmpdir(), 'mte-redis-'));
  const child = spawn('redis-server', ['--port', String(port), '--save', '', '--appendonly', 'no',
    '--dir', dir, ...extraArgs], { stdio: ['ignore', 'pipe', 'pipe'] });
  const redis = {
    port, url: `redis://127.0.0.1:${port}`, child,
    async stop() {
      if (child.exitCode === null && child.signalCode === null) {
        child.kill('SIGKILL');
        await new Promise((r) => child.once('exit', r));
      }
      rmSync(dir, { recursive: true, force: true });
    },
    cli(...args) {
      return new Promise((resolve, reject) => {
        const p = spawn('redis-cli', ['-p', String(port), ...args]);
        let out = '';
        p.stdout.on('data', (d) => { out += d; });
        p.on('exit', (code) => (code === 0 ? resolve(out.trim()) : reject(new Error('redis-cli ' + code))));
      });
    },
  };
  const t0 = Date.now();
  for (;;) {
    try { if ((await redis.cli('PING')) === 'PONG') break; } catch { /* not yet */ }
    if (Date.now() - t0 > 10000) throw new Error('redis-server did not start');
    await sleep(50);
  }
  return redis;
}

export function sha256(buf) {
  return createHash('sha256').update(buf).digest('hex');
}
