// bench-capacity.mjs - capacity at real API latency (make bench-capacity;
// tests/bench/bench-capacity.sh installs nginx and wrk first).
//
// One upstream (its own node process) answers every request 20 ms after its
// body arrived.  In front of it, side by side in one run:
//   nginx          a plain reverse proxy (Debian's nginx, keep-alive upstream)
//   relay          build/mte-relay at default settings (the elastic pool),
//                  pass-through (/api/*) and protected (mteFetch)
// Load: 1 KiB POSTs on keep-alive connections, 64 and 256 of them.  wrk
// drives nginx and the pass-through route; protected requests need sealing
// per request, so the project's own generator (build/tests/bench/loadgen, C,
// the relay's sealing code; it opens and checks every answer) drives them,
// and drives nginx the same way (plain mode) for the ratio.  Both servers log
// every request to a file (nginx's access_log, the relay's JSON lines), as a
// service would, so neither pays for a log the other skips.  Each relay row
// starts a fresh relay and reports how long its pool took to reach the
// connection count, and the relay's memory per worker after the run.
// Ratios are to nginx in the same run, with the same load generator; the
// figures are taken after a warm-up, the pool's growth time from the start.
//   BENCH_SECONDS  seconds per row (default 8)
import { spawn } from 'node:child_process';
import { createServer } from 'node:http';
import { mkdtempSync, writeFileSync, readFileSync, rmSync, existsSync } from 'node:fs';
import { tmpdir, cpus, loadavg } from 'node:os';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { performance } from 'node:perf_hooks';

const SELF = fileURLToPath(import.meta.url);
const DELAY_MS = 20;
const LOADGEN = process.env.LOADGEN_BIN || join(dirname(SELF), '..', '..', 'build', 'tests', 'bench', 'loadgen');

if (process.argv[2] === 'upstream') {
  const server = createServer((req, res) => {
    req.resume();
    req.on('end', () => setTimeout(() => {
      res.writeHead(200, { 'content-type': 'application/json', 'content-length': 11 });
      res.end('{"ok":true}');
    }, DELAY_MS));
  });
  server.keepAliveTimeout = 120000;
  server.headersTimeout = 130000;
  server.maxRequestsPerSocket = 0;
  server.listen(0, '127.0.0.1', () => console.log(`port ${server.address().port}`));
} else {
  await main();
}

function toMs(v, unit) {
  return unit === 'us' ? v / 1000 : unit === 's' ? v * 1000 : v;
}

// Runs cmd without blocking the event loop (the relay's log pipe must keep
// draining, or the relay stalls on it); resolves with its standard output.
function run(cmd, args) {
  return new Promise((resolve, reject) => {
    const p = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '', err = '';
    p.stdout.on('data', (d) => { out += d; });
    p.stderr.on('data', (d) => { err += d; });
    p.once('exit', (code) => (code === 0 ? resolve(out) : reject(new Error(`${cmd}: ${err || out}`))));
  });
}

// wrk's figures: requests/s, p50, p99 (ms), errors; after a 2 s warm-up
// (the pool grows during it: its time is reported on its own).
async function wrk(url, conns, seconds, script) {
  await run('wrk', ['-t2', `-c${conns}`, '-d2s', '-s', script, url]);
  const out = await run('wrk', ['-t2', `-c${conns}`, `-d${seconds}s`, '--latency', '-s', script, url]);
  const rate = Number(/Requests\/sec:\s+([\d.]+)/.exec(out)[1]);
  const pct = (p) => { const m = new RegExp(`^\\s+${p}%\\s+([\\d.]+)(us|ms|s)`, 'm').exec(out); return toMs(Number(m[1]), m[2]); };
  const err = /Non-2xx or 3xx responses: (\d+)/.exec(out);
  const sock = /Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)/.exec(out);
  const errors = (err ? Number(err[1]) : 0) + (sock ? sock.slice(1).reduce((s, x) => s + Number(x), 0) : 0);
  return { rate, p50: pct(50), p99: pct(99), errors };
}

// The C load generator: 1 KiB POSTs on conns connections (two threads, as
// wrk), a 2 s warm-up, then seconds of measurement; every answer checked
// (protected: opened and authenticated).
async function loadgen(url, mode, conns, seconds, extra = []) {
  const out = await run(LOADGEN, ['-u', url, '-m', mode, '-c', String(conns), '-t', '2',
    '-w', '2', '-d', String(seconds), '-b', '1k', '-X', 'POST', '--timeout', '30000', ...extra]);
  const j = JSON.parse(out.trim().split('\n').find((l) => l.startsWith('{')));
  return { rate: j.rps, p50: j.latency_ms.p50, p99: j.latency_ms.p99, errors: j.errors };
}

function kids(pid) {
  try { return readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8').trim().split(/\s+/).filter(Boolean).map(Number); } catch { return []; }
}

// Per-worker memory (kB): mean Pss and Private_Dirty over the live workers.
function workerMemory(pid) {
  const ws = kids(pid);
  let pss = 0, priv = 0, n = 0;
  for (const w of ws) {
    try {
      const t = readFileSync(`/proc/${w}/smaps_rollup`, 'utf8');
      pss += Number(/^Pss:\s+(\d+)/m.exec(t)[1]);
      priv += Number(/^Private_Dirty:\s+(\d+)/m.exec(t)[1]);
      n++;
    } catch { /* exited */ }
  }
  return { workers: n, pss: n ? pss / n : 0, priv: n ? priv / n : 0 };
}

// Watches the pool from the start of the load: ms until it held target workers.
function watchGrowth(pid, target) {
  const t0 = performance.now();
  let reached = null, most = 0, run = true;
  const loop = (async () => {
    while (run) {
      const n = kids(pid).length;
      most = Math.max(most, n);
      if (reached === null && n >= target) reached = performance.now() - t0;
      await new Promise((r) => setTimeout(r, 20));
    }
  })();
  return async () => { run = false; await loop; return { reached, most }; };
}

function nginxConf(dir, port, upPort) {
  const root = process.getuid?.() === 0 ? 'user root;\n' : '';
  const conf = `${root}worker_processes auto;
daemon off;
pid ${dir}/nginx.pid;
error_log ${dir}/error.log warn;
events { worker_connections 4096; }
http {
  access_log ${dir}/access.log;
  client_body_temp_path ${dir}/body; proxy_temp_path ${dir}/proxy;
  fastcgi_temp_path ${dir}/fcgi; uwsgi_temp_path ${dir}/uwsgi; scgi_temp_path ${dir}/scgi;
  keepalive_requests 1000000;
  upstream up { server 127.0.0.1:${upPort}; keepalive 512; }
  server {
    listen 127.0.0.1:${port};
    location / { proxy_pass http://up; proxy_http_version 1.1; proxy_set_header Connection ""; }
  }
}
`;
  writeFileSync(join(dir, 'nginx.conf'), conf);
  return join(dir, 'nginx.conf');
}

async function main() {
  const { startRelay, freePort, RELAY_BIN } = await import('../node/lib/harness.mjs');
  const SECONDS = Number(process.env.BENCH_SECONDS || 8);
  const SECRET = 'bench-capacity-secret-0123456789abcdef0';
  if (!existsSync(RELAY_BIN)) throw new Error(`${RELAY_BIN} is missing: run make first`);
  if (!existsSync(LOADGEN)) throw new Error(`${LOADGEN} is missing: run make loadgen first`);
  const dir = mkdtempSync(join(tmpdir(), 'bench-capacity-'));
  writeFileSync(join(dir, 'post.lua'),
    'wrk.method = "POST"\nwrk.body = string.rep("x", 1024)\nwrk.headers["Content-Type"] = "application/octet-stream"\n');
  const procs = [];
  const cleanup = async () => { for (const p of procs.reverse()) { try { p.kill('SIGTERM'); } catch { /* gone */ } } };
  process.on('exit', () => { for (const p of procs) { try { p.kill('SIGKILL'); } catch { /* gone */ } } });

  const up = spawn(process.execPath, [SELF, 'upstream'], { stdio: ['ignore', 'pipe', 'inherit'] });
  procs.push(up);
  const upPort = await new Promise((resolve) => {
    let out = '';
    up.stdout.on('data', (d) => { out += d; const m = /port (\d+)/.exec(out); if (m) resolve(Number(m[1])); });
  });
  const ngPort = await freePort();
  const nginxBin = existsSync('/usr/sbin/nginx') ? '/usr/sbin/nginx' : 'nginx';
  const ng = spawn(nginxBin, ['-c', nginxConf(dir, ngPort, upPort), '-p', dir], { stdio: 'inherit' });
  procs.push(ng);
  await new Promise((r) => setTimeout(r, 500));
  const NGINX = `http://127.0.0.1:${ngPort}`;
  const relayEnv = { UPSTREAM: `http://127.0.0.1:${upPort}`, CORS_ORIGINS: 'http://app.example',
    CLIENT_ID_SECRET: SECRET, PASS_THROUGH_ROUTES: '/api/*', METRICS: 'true', MAX_POOL_SIZE: undefined };

  console.log(`== bench-capacity: ${cpus().length} CPUs, load average ${loadavg().map((x) => x.toFixed(2)).join(' ')};`);
  console.log(`   upstream answers after ${DELAY_MS} ms; 1 KiB POSTs on keep-alive connections, ${SECONDS} s per row;`);
  console.log('   the relay at default settings (MAX_POOL_SIZE 256, MIN_SPARE_WORKERS 4, MAX_SPARE_WORKERS 16);');
  console.log('   every process (load generator, nginx, upstream, relay) shares this machine.');
  console.log();
  const rows = [];
  const print = (r) => console.log(`${r.what.padEnd(34)} ${String(r.conns).padStart(4)}  ${r.rate.toFixed(0).padStart(7)} rps  p50 ${r.p50.toFixed(1).padStart(6)} ms  p99 ${r.p99.toFixed(1).padStart(6)} ms  err ${String(r.errors).padStart(4)}${r.extra ?? ''}`);

  const relayRow = async (what, conns, run) => {
    const relay = await startRelay(relayEnv, { logFile: join(dir, `relay-${rows.length}.log`) });
    try {
      const grown = watchGrowth(relay.child.pid, conns);
      const r = await run(relay);
      const g = await grown();
      const mem = workerMemory(relay.child.pid);
      r.extra = `  pool ${g.most} (>= ${conns} after ${g.reached === null ? 'never' : (g.reached / 1000).toFixed(2) + ' s'}),` +
        ` per worker PSS ${(mem.pss / 1024).toFixed(2)} MiB, private dirty ${(mem.priv / 1024).toFixed(2)} MiB`;
      return { what, conns, ...r, mem, growth: g };
    } finally {
      await relay.stop();
    }
  };

  try {
    for (const conns of [64, 256]) {
      const secs = String(SECONDS);
      const n1 = { what: 'nginx, wrk', conns, ...await wrk(`${NGINX}/api/x`, conns, secs, join(dir, 'post.lua')) };
      print(n1); rows.push(n1);
      const r1 = await relayRow('relay pass-through, wrk', conns,
        async (relay) => wrk(`${relay.url}/api/x`, conns, secs, join(dir, 'post.lua')));
      print(r1); rows.push(r1);
      const n2 = { what: 'nginx, loadgen', conns, ...await loadgen(`${NGINX}/api/x`, 'plain', conns, SECONDS) };
      print(n2); rows.push(n2);
      // 16 client ids of 4 pairs each, as many browsers would hold.
      const r2 = await relayRow('relay protected, loadgen', conns,
        async (relay) => loadgen(`${relay.url}/api/x`, 'protected', conns, SECONDS, ['--clients', '16', '--pairs', '4']));
      print(r2); rows.push(r2);
      console.log(`   ratios at ${conns}: pass-through ${(r1.rate / n1.rate).toFixed(2)}x nginx rps, p99 ${(r1.p99 / n1.p99).toFixed(2)}x;` +
        ` protected ${(r2.rate / n2.rate).toFixed(2)}x nginx rps, p99 ${(r2.p99 / n2.p99).toFixed(2)}x (same generator)`);
      console.log();
    }
    console.log('targets (issue 12): >= 0.9x nginx rps with p99 <= 1.2x at 64 connections, >= 0.8x at 256;');
    console.log('the pool at the size it needs within 2 s of the load starting.');
  } finally {
    await cleanup();
    rmSync(dir, { recursive: true, force: true });
  }
}
