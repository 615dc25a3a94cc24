// bench-relay.mjs - end-to-end figures of the relay (make bench-relay;
// tests/bench/bench-relay.sh installs nginx first).
//
// Everything in one run on this machine, measured by the project's load
// generator (build/tests/bench/loadgen, C, the relay's own sealing code):
//   upstream      nginx: `return 200 '{"ok":true}'` for any request (it reads
//                 and discards the body), and a 64 MiB file under /dl/.  nginx
//                 is the upstream because it is faster than anything we would
//                 write here, so the rows above it show the proxies' cost.
//   nginx         the same nginx, a second server: a plain reverse proxy to
//                 the upstream with a keep-alive upstream pool (the reference);
//                 it logs every request to a file (access_log), as the relay
//                 does (its JSON lines), so neither pays for a log the other
//                 skips (the upstream server logs nothing)
//   relay         build/mte-relay at default pool settings: pass-through
//                 (/pt/*), protected with the embedded store, with Redis (a
//                 redis-server on a free port) and with a Redis Cluster (3
//                 primaries + 3 replicas; then REDIS_WAIT_REPLICAS=1)
// Rows: 1 KiB POSTs at 4 and at 32 keep-alive connections (requests/s, ratio
// to nginx at the same connection count, p50/p99/p99.9, errors); pairings/s
// (POST /api/mte-pair of one fresh pair each); a 64 MiB upload and download
// (MB/s, ratio to direct); server to server (PROTOCOL.md section 14): 1 KiB
// POSTs to relay A's outbound listener, sealed by A to relay B, at 4 and 32
// connections, beside the direct and single-relay rows (ratios printed under
// the table).  Each row has a warm-up first (the relay's pool
// grows then).  Figures only: nothing passes or fails on speed.
// Left out from the earlier version that drove Node's fetch and mteFetch: GET
// rows and concurrency 1 and 16 (the 1 KiB POST at 4 and 32 connections
// replaces them), and "pairing, new client", which timed the JS client's own
// X-Wing key generation (make bench-crypto has the C figures; the pairing
// rows here are the relay's side, one key per connection).
// The pairing limits (PAIR_RATE_*, issue 17) are off in these rows, so the
// pairing rows show what the relay can do; two rows more run at the default
// limits: protected requests of legitimate clients alone, and the same while
// a second load generator floods the relay with pairings (8 connections, 16
// entries per POST), with the flood's admitted and refused (429) counts.
//   BENCH_SECONDS  seconds per row (default 5)
//   BENCH_WARMUP   warm-up seconds per row (default 1)
//   BENCH_THREADS  load generator threads (default 1)
//   BENCH_MIB      size of the transfers (default 64; 0 leaves them out)
//   BENCH_CLUSTER  0 leaves the Redis Cluster rows out (default 1)
import { spawn } from 'node:child_process';
import { openSync, closeSync, ftruncateSync, readFileSync, writeFileSync, mkdirSync, mkdtempSync,
  rmSync, existsSync } from 'node:fs';
import { tmpdir, loadavg, cpus } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { freePort, sleep, startRedis, RELAY_BIN, ROOT } from '../node/lib/harness.mjs';
import { startCluster } from '../node/lib/cluster.mjs';

const LOADGEN = process.env.LOADGEN_BIN || join(ROOT, 'build', 'tests', 'bench', 'loadgen');
const SECONDS = Number(process.env.BENCH_SECONDS || 5);
const WARMUP = Number(process.env.BENCH_WARMUP || 1);
const THREADS = Number(process.env.BENCH_THREADS || 1);
const MIB = Number(process.env.BENCH_MIB ?? 64);
const CLUSTER = process.env.BENCH_CLUSTER !== '0';
const CONNS = [4, 32];
const SECRET = 'bench-client-id-secret-0123456789abcdef';
const TICK = 100; // USER_HZ: /proc/<pid>/stat counts CPU in 1/100 s

for (const bin of [RELAY_BIN, LOADGEN]) if (!existsSync(bin)) throw new Error(`${bin} is missing: run make first`);

// ---- CPU of a process tree (a relay's workers, nginx's) -------------------------
function procCpu(pid) {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(f[11]) + Number(f[12]) + Number(f[13]) + Number(f[14])) / TICK; // utime stime cutime cstime
  } catch { return 0; }
}
function kids(pid) {
  try { return readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8').trim().split(/\s+/).filter(Boolean).map(Number); } catch { return []; }
}
const treeCpu = (pid) => (pid ? procCpu(pid) + kids(pid).reduce((s, k) => s + procCpu(k), 0) : 0);

function nprocs() {
  try {
    const m = /Cpus_allowed_list:\s*(\S+)/.exec(readFileSync('/proc/self/status', 'utf8'));
    return m[1].split(',').reduce((n, r) => { const [a, b] = r.split('-').map(Number); return n + (b === undefined ? 1 : b - a + 1); }, 0);
  } catch { return cpus().length; }
}
const load = () => loadavg().map((x) => x.toFixed(2)).join(' ');

// ---- processes ---------------------------------------------------------------------
const dir = mkdtempSync(join(tmpdir(), 'bench-relay-'));
const children = [];
process.on('exit', () => { for (const c of children) { try { c.kill('SIGKILL'); } catch { /* gone */ } } });

function nginxConf(upPort, ngPort) {
  const root = process.getuid?.() === 0 ? 'user root;\n' : '';
  return `${root}worker_processes auto;
daemon off;
pid ${dir}/nginx.pid;
error_log ${dir}/nginx-error.log warn;
events { worker_connections 4096; }
http {
  access_log off;
  client_body_temp_path ${dir}/body; proxy_temp_path ${dir}/proxy;
  fastcgi_temp_path ${dir}/fcgi; uwsgi_temp_path ${dir}/uwsgi; scgi_temp_path ${dir}/scgi;
  keepalive_requests 10000000;
  client_max_body_size 0;
  default_type application/json;
  upstream up { server 127.0.0.1:${upPort}; keepalive 512; }
  server {
    listen 127.0.0.1:${upPort};
    location /pt/ { rewrite ^/pt(/.*)$ $1 last; }
    location /dl/ { root ${dir}; }
    location / { return 200 '{"ok":true}'; }
  }
  server {
    listen 127.0.0.1:${ngPort};
    access_log ${dir}/access.log;
    location / { proxy_pass http://up; proxy_http_version 1.1; proxy_set_header Connection ""; }
  }
}
`;
}

// Runs the load generator; resolves its JSON line (plus .human), or {failed}.
function loadgen(args) {
  return new Promise((resolve) => {
    const p = spawn(LOADGEN, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    p.stdout.on('data', (d) => { out += d; });
    p.stderr.on('data', (d) => { err += d; });
    p.once('exit', (code) => {
      const lines = out.trim().split('\n');
      const json = lines.find((l) => l.startsWith('{'));
      if (code !== 0 || !json) resolve({ failed: (err || out).trim() || `exit ${code}` });
      else resolve({ ...JSON.parse(json), human: lines.find((l) => !l.startsWith('{')) });
    });
  });
}

// Waits until url answers (any status) to a plain GET from the load generator.
async function waitHttp(url, what) {
  const t0 = Date.now();
  for (;;) {
    const r = await loadgen(['-u', url, '-n', '1', '-c', '1', '--timeout', '1000']);
    if (!r.failed && r.error_kinds.conn === 0 && r.error_kinds.timeout === 0) return;
    if (Date.now() - t0 > 15000) throw new Error(`${what} did not start: ${r.failed || r.first_error}`);
    await sleep(100);
  }
}

// The relay, its output into a file (truncated after every row: a request
// log line each), stopped by SIGTERM.
const relayLog = join(dir, 'relay.log');
async function startRelayProc(extra) {
  const port = await freePort();
  const fd = openSync(relayLog, 'a');
  const child = spawn(RELAY_BIN, [], {
    env: { PATH: process.env.PATH, UPSTREAM: UP, CORS_ORIGINS: 'http://app.example', CLIENT_ID_SECRET: SECRET,
      PASS_THROUGH_ROUTES: '/pt/*', PORT: String(port), BIND: '127.0.0.1',
      PAIR_RATE_PER_INSTANCE: '0', PAIR_RATE_PER_ADDRESS: '0', PAIR_RATE_PER_CLIENT: '0', ...extra },
    stdio: ['ignore', fd, fd],
  });
  closeSync(fd);
  children.push(child);
  const relay = { child, url: `http://127.0.0.1:${port}`,
    async stop() {
      if (child.exitCode !== null || child.signalCode !== null) return;
      child.kill('SIGTERM');
      const t = setTimeout(() => child.kill('SIGKILL'), 30000);
      await new Promise((r) => child.once('exit', r));
      clearTimeout(t);
    } };
  try {
    await waitHttp(`${relay.url}/api/mte-errors`, 'the relay');
  } catch (e) {
    await relay.stop();
    throw new Error(`${e.message}\n${readFileSync(relayLog, 'utf8').slice(-2000)}`);
  }
  return relay;
}

const upPort = await freePort();
const ngPort = await freePort();
const UP = `http://127.0.0.1:${upPort}`;
const NGINX = `http://127.0.0.1:${ngPort}`;
const BIG = MIB * 1024 * 1024;

// ---- rows ---------------------------------------------------------------------------
const rows = [];
let nginxPid = 0;

// One row: the load generator with args, the CPU of the relay (relayPid) and
// of nginx (upstream and proxy) over the whole run, warm-up included.
async function row(key, label, args, relayPid) {
  // threads: at most one per connection and per client id
  const arg = (name, dflt) => (args.includes(name) ? Number(args[args.indexOf(name) + 1]) : dflt);
  const threads = Math.min(THREADS, arg('-c', 4), args.includes('-m') ? arg('--clients', 4) : Infinity);
  const lgArgs = [...args, '-t', String(threads)];
  if (!args.includes('-n')) lgArgs.push('-d', String(SECONDS), '-w', String(WARMUP));
  const c0 = [treeCpu(relayPid), treeCpu(nginxPid)];
  const t0 = performance.now();
  const r = await loadgen(lgArgs);
  const wall = (performance.now() - t0) / 1000;
  r.cpuRelay = relayPid ? (treeCpu(relayPid) - c0[0]) / wall : NaN;
  r.cpuNginx = (treeCpu(nginxPid) - c0[1]) / wall;
  if (existsSync(relayLog)) { const fd = openSync(relayLog, 'r+'); ftruncateSync(fd, 0); closeSync(fd); }
  rows.push({ key, label, r });
  const f = (x, d = 1) => (Number.isFinite(x) ? x.toFixed(d) : '-');
  process.stdout.write(r.failed ? `  ${label}: FAILED ${r.failed}\n`
    : `  ${label}: ${f(key.startsWith('pair') ? r.pairings_per_s : r.rps)}/s, ${r.errors} errors\n`);
  return r;
}

const post = (url) => ['-u', url, '-b', '1k'];
const t00 = performance.now();
const load0 = load();
console.log(`== bench-relay: nproc ${nprocs()}, load average ${load0} at the start`);
console.log(`   loadgen (C, ${THREADS} thread${THREADS > 1 ? 's' : ''}), nginx, the relay and Redis share these cores;` +
  ` ${SECONDS} s per row after ${WARMUP} s of warm-up`);
console.log('   measuring:');

try {
  mkdirSync(join(dir, 'dl'));
  if (MIB > 0) {
    const block = Buffer.alloc(1 << 20);
    for (let i = 0; i < block.length; i++) block[i] = i % 251;
    const fd = openSync(join(dir, 'dl', 'blob'), 'w');
    for (let i = 0; i < MIB; i++) writeFileSync(fd, block);
    closeSync(fd);
  }
  writeFileSync(join(dir, 'nginx.conf'), nginxConf(upPort, ngPort));
  const nginxBin = existsSync('/usr/sbin/nginx') ? '/usr/sbin/nginx' : 'nginx';
  const ng = spawn(nginxBin, ['-c', join(dir, 'nginx.conf'), '-p', dir], { stdio: ['ignore', 'ignore', 'inherit'] });
  children.push(ng);
  nginxPid = ng.pid;
  await waitHttp(`${UP}/`, 'nginx (upstream)');
  await waitHttp(`${NGINX}/`, 'nginx (proxy)');

  for (const c of CONNS) {
    await row(`direct ${c}`, `direct upstream, c=${c}`, [...post(`${UP}/api/x`), '-c', String(c)], 0);
    await row(`nginx ${c}`, `nginx proxy, c=${c}`, [...post(`${NGINX}/api/x`), '-c', String(c)], 0);
  }
  const transfers = async (relay, via, base, extra) => {
    if (MIB <= 0) return;
    await row(`up ${via}`, `upload ${MIB} MiB, ${via}`, ['-u', `${base}/api/upload`, '-b', `${MIB}M`, '-c', '1', '-n', '5', '--timeout', '120000', ...extra], relay);
    await row(`down ${via}`, `download ${MIB} MiB, ${via}`, ['-u', `${base}/dl/blob`, '-c', '1', '-n', '5', '--timeout', '120000', ...extra], relay);
  };
  await transfers(0, 'direct', UP, []);

  // The relay with each store; pass-through and transfers once (no store in them).
  const stores = [['embedded', {}], ['redis', null]];
  if (CLUSTER) stores.push(['cluster', 'cluster'], ['cluster+W1', 'clusterW1']);
  let redis = null;
  let cluster = null;
  for (const [store, how] of stores) {
    let env = how || {};
    if (how === null) { redis = await startRedis(); env = { REDIS_URL: redis.url }; }
    if (how === 'cluster' || how === 'clusterW1') {
      cluster ??= await startCluster({ replicas: 1 });
      env = { REDIS_URL: cluster.url, ...(how === 'clusterW1' ? { REDIS_WAIT_REPLICAS: '1' } : {}) };
    }
    const relay = await startRelayProc(env);
    const pid = relay.child.pid;
    try {
      for (const c of CONNS) {
        if (store === 'embedded') await row(`pt ${c}`, `relay pass-through, c=${c}`, [...post(`${relay.url}/pt/api/x`), '-c', String(c)], pid);
        await row(`prot ${store} ${c}`, `relay protected, ${store}, c=${c}`,
          [...post(`${relay.url}/api/x`), '-m', 'protected', '--clients', '4', '--pairs', '4', '-c', String(c)], pid);
        await row(`pair ${store} ${c}`, `pairings, ${store}, c=${c}`, ['-u', relay.url, '-m', 'pair', '--clients', '4', '-c', String(c)], pid);
      }
      if (store === 'embedded') {
        await transfers(pid, 'pass-through', `${relay.url}/pt`, []);
        await transfers(pid, 'protected', relay.url, ['-m', 'protected', '--clients', '1', '--pairs', '1']);
      }
    } finally {
      await relay.stop();
    }
    if (redis) { await redis.stop(); redis = null; }
  }
  if (cluster) await cluster.stop();

  // Server to server (PROTOCOL.md section 14): relay A's outbound listener ->
  // relay B (inbound, embedded store) -> the upstream, plain 1 KiB POSTs to A,
  // beside the direct and single-relay rows above.  A is a second instance of
  // the relay (its inbound role on too, unused), with the embedded store.
  {
    const B = await startRelayProc({});
    const oport = await freePort();
    const A = await startRelayProc({ OUTBOUND_PORT: String(oport), OUTBOUND_RELAY: B.url });
    try {
      for (const c of CONNS) {
        await row(`outbound ${c}`, `A -> B -> upstream, c=${c}`, [...post(`http://127.0.0.1:${oport}/api/x`), '-c', String(c)], A.child.pid);
      }
    } finally {
      await A.stop();
      await B.stop();
    }
  }

  // A pairing flood at the default pairing limits, beside the same requests
  // without it (embedded store and Redis).
  for (const store of ['embedded', 'redis']) {
    if (store === 'redis') redis = await startRedis();
    const limits = { PAIR_RATE_PER_INSTANCE: '1000', PAIR_RATE_PER_ADDRESS: '1024', PAIR_RATE_PER_CLIENT: '64' };
    const relay = await startRelayProc({ ...limits, ...(redis ? { REDIS_URL: redis.url } : {}) });
    const pid = relay.child.pid;
    const legit = [...post(`${relay.url}/api/x`), '-m', 'protected', '--clients', '4', '--pairs', '1', '-c', '4'];
    try {
      await row(`quiet ${store} 4`, `protected, ${store}, no flood, c=4`, legit, pid);
      const floodArgs = ['-u', relay.url, '-m', 'pair', '--clients', '64', '--entries', '16', '-c', '8',
        '-d', String(SECONDS + WARMUP)];
      // The legitimate clients pair first: on loopback the flood has their
      // address, so once it runs the address budget refuses everybody's pairing.
      const legitRow = row(`flood ${store} 4`, `protected, ${store}, pairing flood, c=4`, legit, pid);
      await sleep(300);
      const flooding = loadgen(floodArgs);
      const r = await legitRow;
      r.flood = await flooding;
    } finally {
      await relay.stop();
    }
    if (redis) { await redis.stop(); redis = null; }
  }
} finally {
  for (const ch of children) { try { ch.kill('SIGTERM'); } catch { /* gone */ } }
  await sleep(200);
  rmSync(dir, { recursive: true, force: true });
}

// ---- the table ------------------------------------------------------------------------
const byKey = new Map(rows.map((x) => [x.key, x.r]));
const f = (x, d) => (Number.isFinite(x) ? x.toFixed(d) : '-');
const col = (s, n) => String(s).padStart(n);
console.log();
console.log(`${'row'.padEnd(34)}${col('value', 10)} ${'unit'.padEnd(7)}${col('ratio', 8)}${col('p50 ms', 9)}${col('p99 ms', 9)}` +
  `${col('p99.9 ms', 10)}${col('errors', 8)}${col('cpu lg', 8)}${col('relay', 7)}${col('nginx', 7)}`);
const failed = [];
for (const { key, label, r } of rows) {
  if (r.failed) { console.log(`${label.padEnd(34)} FAILED: ${r.failed.split('\n')[0]}`); continue; }
  const c = key.split(' ').at(-1);
  let value; let unit; let ratio;
  if (key.startsWith('quiet ') || key.startsWith('flood ')) {
    value = r.rps; unit = 'req/s'; ratio = NaN;
  } else if (key.startsWith('pair ')) {
    value = r.pairings_per_s; unit = 'pair/s'; ratio = NaN;
  } else if (key.startsWith('up ') || key.startsWith('down ')) {
    const mbs = (x) => (x && !x.failed ? (x.ok * (key.startsWith('up ') ? x.body : MIB * 1024 * 1024)) / x.seconds / 1e6 : NaN);
    value = mbs(r); unit = 'MB/s'; ratio = value / mbs(byKey.get(`${key.split(' ')[0]} direct`));
  } else {
    value = r.rps; unit = 'req/s'; ratio = r.rps / byKey.get(`nginx ${c}`)?.rps;
  }
  if (r.errors) failed.push(`${label}: ${r.errors} errors (${Object.entries(r.error_kinds).filter(([, n]) => n).map(([k, n]) => `${k} ${n}`).join(', ')}), first: ${r.first_error}`);
  console.log(`${label.padEnd(34)}${col(f(value, 1), 10)} ${unit.padEnd(7)}${col(Number.isFinite(ratio) ? `${f(ratio, 2)}x` : '-', 8)}` +
    `${col(f(r.latency_ms.p50, 3), 9)}${col(f(r.latency_ms.p99, 3), 9)}${col(f(r.latency_ms.p999, 3), 10)}${col(r.errors, 8)}` +
    `${col(f(r.cpu, 2), 8)}${col(f(r.cpuRelay, 2), 7)}${col(f(r.cpuNginx, 2), 7)}`);
}
for (const { key, label, r } of rows) {
  if (!key.startsWith('flood ') || !r.flood) continue;
  const fl = r.flood;
  const quiet = byKey.get(key.replace('flood', 'quiet'));
  console.log(`  ${label}: p50 ${f(r.latency_ms?.p50, 3)} ms (without the flood ${f(quiet?.latency_ms?.p50, 3)} ms),` +
    ` p99 ${f(r.latency_ms?.p99, 3)} ms (${f(quiet?.latency_ms?.p99, 3)} ms); the flood: ` +
    (fl.failed ? `FAILED ${fl.failed}` : `${fl.ok} pairing requests admitted, ${fl.error_kinds?.status ?? '?'} refused (429), ` +
      `${f((fl.ok + fl.errors) / fl.seconds, 0)} pairing requests/s sent`));
}
console.log();
console.log('ratio: requests/s over nginx\'s at the same connection count (transfers: MB/s over direct).');
console.log('A -> B -> upstream: plain POSTs to relay A\'s outbound listener, which seals them to relay B (pairs');
console.log('shared in A\'s store, seqs from its counter); its relay CPU column is A\'s alone.');
for (const c of CONNS) {
  const ob = byKey.get(`outbound ${c}`); const pr = byKey.get(`prot embedded ${c}`); const di = byKey.get(`direct ${c}`);
  if (ob && !ob.failed) console.log(`  c=${c}: A -> B -> upstream ${f(ob.rps, 0)} req/s, ${f(ob.rps / pr?.rps, 2)}x a single protected relay's, ` +
    `${f(ob.rps / di?.rps, 2)}x direct; p50 ${f(ob.latency_ms.p50, 3)} ms vs ${f(pr?.latency_ms.p50, 3)} ms and ${f(di?.latency_ms.p50, 3)} ms`);
}
console.log('Requests: 1 KiB POSTs on keep-alive connections, one in flight each; protected ones sealed per request');
console.log('(4 client ids x 4 pairs) and every answer opened and checked.  Pairings: one fresh pair per POST');
console.log('/api/mte-pair, the answer checked.  Transfers: 5 in a row, one connection.  Latency: of the successful');
console.log('requests, from sealing to the end of opening.  cpu: CPU seconds per second (1.00 = one core) of the');
console.log('load generator, the relay (master and workers) and nginx (upstream and proxy), warm-up included;');
console.log(`a load generator near 1.00 is the limit of its row.  Every process shares these ${nprocs()} cores, so`);
console.log('the figures are what they reach together on this machine.  Nothing passes or fails on speed.');
if (failed.length) {
  console.log('errors:');
  for (const x of failed) console.log(`  ${x}`);
}
console.log(`load average at the end: ${load()} on ${nprocs()} cores (nproc); ${((performance.now() - t00) / 1000).toFixed(0)} s`);
