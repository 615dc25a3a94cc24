// bench-relay.mjs - end-to-end figures of the relay (make bench-relay).
//
// Starts a node:http upstream (its own process), build/mte-relay in front of
// it (embedded store, MAX_POOL_SIZE=2, pass-through route /pt/*), and then
// measures with Node's fetch, the same stack mteFetch uses:
//   small requests  GET and 200-byte JSON POST, requests/s and latency,
//                   at concurrency 1 and 16: directly to the upstream (the
//                   reference), through the pass-through route, and
//                   protected by mteFetch (client/src, one pair)
//   large transfers a 64 MiB upload and a 64 MiB download, MB/s, same three
//   pairings        a new mteFetch client each time (HEAD /api/mte-relay +
//                   POST /api/mte-pair, with the client's JS X-Wing keygen and
//                   decapsulation), and the same two calls with one
//                   precomputed key (the relay's side of the cost)
// then the store-dependent rows again with a real redis-server, and with a
// real Redis Cluster (3 primaries + 3 replicas, tests/node/lib/cluster.mjs),
// without and with REDIS_WAIT_REPLICAS=1 (clust+W1).  Every loop
// stops at BENCH_REQUESTS requests or BENCH_SECONDS, whichever comes first.
// Ratios are to the direct figure measured in the same run.  Figures only:
// nothing passes or fails on speed.
//   BENCH_SECONDS   time per loop (default 2)
//   BENCH_REQUESTS  requests per loop at most (default 20000)
//   BENCH_MIB       size of the large transfers (default 64), best of up to 5

import { spawn } from 'node:child_process';
import { createServer } from 'node:http';
import { readFileSync, existsSync } from 'node:fs';
import { cpus, loadavg } from 'node:os';
import { fileURLToPath } from 'node:url';
import { performance } from 'node:perf_hooks';

const SELF = fileURLToPath(import.meta.url);

// ---- upstream mode: `node bench-relay.mjs upstream` ----------------------------
// Answers with little work so that the relay's own cost shows.  A /pt prefix
// (the pass-through route) is ignored.
//   GET  /api/small           a small JSON object
//   POST /api/echo            the JSON body back (up to 64 KiB)
//   PUT  /api/upload          reads the body, answers {"length":n}
//   GET  /api/download/<n>    n bytes, streamed in 1 MiB writes

function patternBlock() {
  const b = Buffer.alloc(1 << 20);
  for (let i = 0; i < b.length; i++) b[i] = i % 251;
  return b;
}

function runUpstream() {
  const block = patternBlock();
  const small = Buffer.from(JSON.stringify({ ok: true, id: 42, name: 'small answer', tags: ['a', 'b', 'c'] }));
  const server = createServer((req, res) => {
    const path = req.url.startsWith('/pt/') ? req.url.slice(3) : req.url;
    const dl = /^\/api\/download\/(\d+)$/.exec(path);
    if (req.method === 'GET' && path === '/api/small') {
      res.writeHead(200, { 'content-type': 'application/json', 'content-length': small.length });
      res.end(small);
    } else if (req.method === 'GET' && dl) {
      const total = Number(dl[1]);
      res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': total });
      let sent = 0;
      const pump = () => {
        while (sent < total) {
          const n = Math.min(block.length, total - sent);
          sent += n;
          if (!res.write(n === block.length ? block : block.subarray(0, n))) return void res.once('drain', pump);
        }
        res.end();
      };
      pump();
    } else if (path === '/api/echo' || path === '/api/upload') {
      const parts = [];
      let length = 0;
      req.on('data', (d) => { length += d.length; if (path === '/api/echo' && length <= 65536) parts.push(d); });
      req.on('end', () => {
        const body = path === '/api/echo' ? Buffer.concat(parts) : Buffer.from(JSON.stringify({ length }));
        res.writeHead(200, { 'content-type': 'application/json', 'content-length': body.length });
        res.end(body);
      });
    } else {
      res.writeHead(404, { 'content-type': 'application/json' });
      res.end('{"error":"not found"}');
    }
  });
  server.keepAliveTimeout = 30000;
  server.listen(0, '127.0.0.1', () => process.stdout.write(`port ${server.address().port}\n`));
  process.on('SIGTERM', () => process.exit(0));
}

if (process.argv[2] === 'upstream') {
  runUpstream();
} else {
  await main();
}

// ---- measuring ----------------------------------------------------------------

async function main() {
  const { startRelay, startRedis, RELAY_BIN } = await import('../node/lib/harness.mjs');
  const { newClient } = await import('../node/lib/e2e.mjs');
  const { startCluster } = await import('../node/lib/cluster.mjs');
  const { b64uEncode, randomBytes, xwing } = await import('../../client/src/internals.js');

  const SECONDS = Number(process.env.BENCH_SECONDS || 2);
  const MAX_REQUESTS = Number(process.env.BENCH_REQUESTS || 20000);
  const MIB = Number(process.env.BENCH_MIB || 64);
  const BIG = MIB << 20;
  const SECRET = 'bench-client-id-secret-0123456789abcdef';
  const TICK = 100; // USER_HZ on Linux: /proc/<pid>/stat counts CPU in 1/100 s

  if (!existsSync(RELAY_BIN)) throw new Error(`${RELAY_BIN} is missing: run make first`);
  const t00 = performance.now();
  const load0 = loadavg().map((x) => x.toFixed(2)).join(' ');

  // CPU seconds a process and its live children (the relay's workers) used.
  const procCpu = (pid) => {
    try {
      const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
      const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      return (Number(f[11]) + Number(f[12]) + Number(f[13]) + Number(f[14])) / TICK; // utime stime cutime cstime
    } catch { return 0; }
  };
  const treeCpu = (pid) => {
    let kids = [];
    try { kids = readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8').trim().split(/\s+/).filter(Boolean); } catch { /* gone */ }
    return procCpu(pid) + kids.reduce((s, k) => s + procCpu(k), 0);
  };
  const selfCpu = () => { const u = process.cpuUsage(); return (u.user + u.system) / 1e6; };

  // ---- processes ----
  const upstream = spawn(process.execPath, [SELF, 'upstream'], { stdio: ['ignore', 'pipe', 'inherit'] });
  const upPort = await new Promise((resolve, reject) => {
    let out = '';
    upstream.stdout.on('data', (d) => { out += d; const m = /port (\d+)/.exec(out); if (m) resolve(Number(m[1])); });
    upstream.once('exit', (c) => reject(new Error(`upstream exited ${c}`)));
  });
  const UP = `http://127.0.0.1:${upPort}`;
  const cleanups = [async () => { upstream.kill('SIGTERM'); }];
  const relayEnv = (extra) => ({
    UPSTREAM: UP, CORS_ORIGINS: 'http://app.example', CLIENT_ID_SECRET: SECRET, MAX_POOL_SIZE: '2',
    PASS_THROUGH_ROUTES: '/pt/*', ...extra,
  });

  const rows = [];
  let current = null; // the relay being measured: its pid's CPU is counted

  // Runs one() from conc loops until MAX_REQUESTS or SECONDS; a short warm-up
  // first (connections, JIT).  Failed requests are counted, not timed.
  async function loop(one, conc, { seconds = SECONDS, max = MAX_REQUESTS, warm = true } = {}) {
    if (warm) await runLoop(one, conc, Math.min(0.3, seconds / 4), conc * 4);
    return runLoop(one, conc, seconds, max);
  }
  async function runLoop(one, conc, seconds, max) {
    const lat = [];
    let started = 0; let errors = 0; let firstError = null;
    const cpu = [selfCpu(), treeCpu(upstream.pid), current ? treeCpu(current.child.pid) : 0];
    const t0 = performance.now();
    const end = t0 + seconds * 1000;
    const worker = async () => {
      while (started < max && performance.now() < end) {
        started++;
        const s = performance.now();
        try { await one(); lat.push(performance.now() - s); } catch (e) { errors++; firstError ??= e; }
      }
    };
    await Promise.all(Array.from({ length: conc }, worker));
    const wall = (performance.now() - t0) / 1000;
    if (current) current.logs.length = 0; // the harness keeps every log line
    if (!lat.length) throw new Error(`every request failed: ${firstError?.message}`, { cause: firstError });
    lat.sort((a, b) => a - b);
    const pct = (p) => lat[Math.min(lat.length - 1, Math.floor(p * lat.length))];
    return {
      n: lat.length, errors, firstError, wall, rate: lat.length / wall, p50: pct(0.5), p99: pct(0.99),
      cpuClient: (selfCpu() - cpu[0]) / wall, cpuUp: (treeCpu(upstream.pid) - cpu[1]) / wall,
      cpuRelay: current ? (treeCpu(current.child.pid) - cpu[2]) / wall : 0,
    };
  }

  const ok = async (r, status = 200) => {
    if (r.status !== status) throw new Error(`status ${r.status}: ${(await r.text()).slice(0, 200)}`);
    return r;
  };
  const jsonBody = JSON.stringify({ user: 'bench', items: Array.from({ length: 12 }, (_, i) => ({ id: i, v: `value-${i}` })) });
  const small = {
    GET: (f, base) => async () => { await (await ok(await f(`${base}/api/small`))).arrayBuffer(); },
    POST: (f, base) => async () => {
      const r = await ok(await f(`${base}/api/echo`, { method: 'POST', body: jsonBody, headers: { 'content-type': 'application/json' } }));
      if ((await r.text()).length !== jsonBody.length) throw new Error('echo differs');
    },
  };
  const bigBody = Buffer.alloc(BIG);
  { const b = patternBlock(); for (let i = 0; i < BIG; i += b.length) b.copy(bigBody, i); }
  // Best of up to five transfers, fewer once they have taken 3 s; the cpu
  // figures are over all of them (one transfer is too short for 10 ms ticks).
  async function transfer(fn) {
    let best = null; let wall = 0; let n = 0; const cpu = { cpuClient: 0, cpuUp: 0, cpuRelay: 0 };
    for (; n < 5 && wall < 3; n++) {
      const r = await runLoop(fn, 1, 60, 1);
      if (!best || r.rate > best.rate) best = r;
      wall += r.wall;
      for (const k of Object.keys(cpu)) cpu[k] += r[k] * r.wall;
    }
    for (const k of Object.keys(cpu)) cpu[k] /= wall;
    return { ...best, ...cpu, n, mbs: BIG / 1e6 / best.p50 * 1000 };
  }
  const upload = (f, base, asBlob) => async () => {
    const r = await ok(await f(`${base}/api/upload`, { method: 'PUT', body: asBlob ? new Blob([bigBody]) : bigBody }));
    const j = await r.json();
    if (j.length !== BIG) throw new Error(`upstream got ${j.length} bytes`);
  };
  const download = (f, base) => async () => {
    const r = await ok(await f(`${base}/api/download/${BIG}`));
    let n = 0;
    for await (const part of r.body) n += part.length;
    if (n !== BIG) throw new Error(`got ${n} bytes`);
  };

  // A protected client, paired once before it is measured.
  async function pairedClient(relay) {
    const c = newClient();
    await c.init({ relayUrl: relay.url });
    return c.f;
  }
  // The relay's side of a pairing: the client's two calls with one precomputed
  // X-Wing key (a new pair id, so a new pair, each time).
  const { publicKey } = xwing.keygen(randomBytes(32));
  const pk = b64uEncode(publicKey);
  const rawPairing = (relay) => async () => {
    const h = await ok(await fetch(`${relay.url}/api/mte-relay`, { method: 'HEAD' }));
    const id = h.headers.get('x-mte-relay');
    const pers = b64uEncode(randomBytes(24));
    const r = await ok(await fetch(`${relay.url}/api/mte-pair`, {
      method: 'POST', headers: { 'x-mte-relay': id, 'content-type': 'application/json' },
      body: JSON.stringify([{ pairId: b64uEncode(randomBytes(24)), publicKey: pk, personalization: pers }]),
    }));
    const j = await r.json();
    if (!Array.isArray(j) || !j[0].ciphertext) throw new Error('no pairing answer');
  };
  const clientPairing = (relay) => async () => { await newClient().init({ relayUrl: relay.url }); };

  const ref = {};
  const add = (group, what, via, r, unit, refKey) => {
    const fig = unit === 'MB/s' ? r.mbs : r.rate;
    if (via === 'direct') ref[refKey] = fig;
    rows.push({ group, what, via, fig, unit, ratio: ref[refKey] ? fig / ref[refKey] : NaN, r });
    printRow(rows.at(-1));
  };

  console.log(`== mte-relay end to end: ${cpus().length} CPUs (nproc ${nprocs()}), load average ${load0} at the start`);
  console.log(`   node ${process.version} client and node:http upstream on this machine; relay MAX_POOL_SIZE=2;`);
  console.log(`   loops of at most ${MAX_REQUESTS} requests or ${SECONDS} s; ${MIB} MiB transfers best of up to 5`);
  console.log('   cpu columns: CPU seconds per second (1.00 = one core) of the client (this node process),');
  console.log('   the upstream and the relay (master and workers); on 2 cores they compete with each other.');
  console.log();
  printHeader();

  try {
    // ---- run 1: embedded store ----
    const relay = await startRelay(relayEnv({}));
    cleanups.push(() => relay.stop());
    current = relay;
    const protectedF = await pairedClient(relay);
    const targets = [
      ['direct', fetch, UP],
      ['pass-through', fetch, `${relay.url}/pt`],
      ['protected', protectedF, relay.url],
    ];
    for (const method of ['GET', 'POST']) {
      for (const conc of [1, 16]) {
        for (const [via, f, base] of targets) {
          add('embedded', `${method} small c=${conc}`, via, await loop(small[method](f, base), conc), 'req/s', `${method}${conc}`);
        }
      }
    }
    for (const [via, f, base] of targets) {
      add('embedded', `upload ${MIB} MiB`, via, await transfer(upload(f, base, via === 'protected')), 'MB/s', 'up');
    }
    for (const [via, f, base] of targets) {
      add('embedded', `download ${MIB} MiB`, via, await transfer(download(f, base)), 'MB/s', 'down');
    }
    add('embedded', 'pairing, new client', 'protected', await loop(clientPairing(relay), 1, { max: 500 }), 'pair/s', 'GET1');
    add('embedded', 'pairing, relay side', 'protected', await loop(rawPairing(relay), 1, { max: 2000 }), 'pair/s', 'GET1');
    await relay.stop();
    cleanups.pop();

    // ---- run 2: the same relay with a real redis-server ----
    const redis = await startRedis();
    cleanups.push(() => redis.stop());
    current = null;
    const relayR = await startRelay(relayEnv({ REDIS_URL: redis.url }));
    cleanups.push(() => relayR.stop());
    current = relayR;
    const protectedR = await pairedClient(relayR);
    for (const method of ['GET', 'POST']) {
      for (const conc of [1, 16]) {
        add('redis', `${method} small c=${conc}`, 'protected', await loop(small[method](protectedR, relayR.url), conc), 'req/s', `${method}${conc}`);
      }
    }
    add('redis', `upload ${MIB} MiB`, 'protected', await transfer(upload(protectedR, relayR.url, true)), 'MB/s', 'up');
    add('redis', `download ${MIB} MiB`, 'protected', await transfer(download(protectedR, relayR.url)), 'MB/s', 'down');
    add('redis', 'pairing, new client', 'protected', await loop(clientPairing(relayR), 1, { max: 500 }), 'pair/s', 'GET1');
    add('redis', 'pairing, relay side', 'protected', await loop(rawPairing(relayR), 1, { max: 2000 }), 'pair/s', 'GET1');
    await relayR.stop();
    cleanups.pop();

    // ---- run 3: a Redis Cluster, 3 primaries + 3 replicas; then REDIS_WAIT_REPLICAS=1 ----
    const cluster = await startCluster({ replicas: 1 });
    cleanups.push(() => cluster.stop());
    for (const [group, extra] of [['cluster', {}], ['clust+W1', { REDIS_WAIT_REPLICAS: '1' }]]) {
      current = null;
      const relayC = await startRelay(relayEnv({ REDIS_URL: cluster.url, ...extra }));
      cleanups.push(() => relayC.stop());
      current = relayC;
      const protectedC = await pairedClient(relayC);
      for (const method of ['GET', 'POST']) {
        for (const conc of [1, 16]) {
          add(group, `${method} small c=${conc}`, 'protected', await loop(small[method](protectedC, relayC.url), conc), 'req/s', `${method}${conc}`);
        }
      }
      add(group, 'pairing, relay side', 'protected', await loop(rawPairing(relayC), 1, { max: 2000 }), 'pair/s', 'GET1');
      await relayC.stop();
      cleanups.pop();
    }
  } finally {
    for (const c of cleanups.reverse()) await c().catch(() => {});
  }

  const failed = rows.filter((x) => x.r.errors);
  console.log();
  console.log('ratio: the figure over the direct one of the same row; pairings over direct GET c=1 (1/ratio is how');
  console.log('many small direct GETs one pairing costs).  p50/p99: latency of one request (transfers: the fastest one).');
  if (failed.length) {
    console.log('failed requests (counted in err, not timed):');
    for (const x of failed) console.log(`  ${x.group} ${x.what} ${x.via}: ${x.r.errors}, first: ${x.r.firstError?.message}`);
  }
  console.log(`The client (Node, one thread), the upstream and the relay share these ${nprocs()} cores: a figure here is`);
  console.log('what the three reach together on this machine, not what the relay alone could serve; a client near');
  console.log('1.00 cpu is the limit of its row.  Nothing passes or fails on speed.');
  console.log(`load average at the end: ${loadavg().map((x) => x.toFixed(2)).join(' ')} on ${nprocs()} cores;` +
    ` ${((performance.now() - t00) / 1000).toFixed(0)} s`);
}

function nprocs() {
  // What nproc prints: the CPUs this process may run on.
  try {
    const m = /Cpus_allowed_list:\s*(\S+)/.exec(readFileSync('/proc/self/status', 'utf8'));
    return m[1].split(',').reduce((n, r) => { const [a, b] = r.split('-').map(Number); return n + (b === undefined ? 1 : b - a + 1); }, 0);
  } catch { return cpus().length; }
}

function printHeader() {
  console.log(`${'store'.padEnd(9)}${'figure'.padEnd(22)}${'via'.padEnd(13)}${'value'.padStart(12)} ${'unit'.padEnd(7)}` +
    `${'ratio'.padStart(7)}${'p50 ms'.padStart(9)}${'p99 ms'.padStart(9)}${'n'.padStart(7)}${'err'.padStart(5)}` +
    `${'cpu cli'.padStart(8)}${'up'.padStart(6)}${'relay'.padStart(6)}`);
}

function printRow({ group, what, via, fig, unit, ratio, r }) {
  const f = (x, d) => (Number.isFinite(x) ? x.toFixed(d) : 'n/a');
  console.log(`${group.padEnd(9)}${what.padEnd(22)}${via.padEnd(13)}${f(fig, 1).padStart(12)} ${unit.padEnd(7)}` +
    `${(f(ratio, 2) + 'x').padStart(7)}${f(r.p50, 2).padStart(9)}${f(r.p99, 2).padStart(9)}${String(r.n).padStart(7)}` +
    `${String(r.errors).padStart(5)}${f(r.cpuClient, 2).padStart(8)}${f(r.cpuUp, 2).padStart(6)}${f(r.cpuRelay, 2).padStart(6)}`);
}
