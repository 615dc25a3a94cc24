// store-cluster.test.mjs - the relay end to end through a real Redis Cluster
// (3 primaries + 3 replicas made by tests/node/lib/cluster.mjs, cluster mode
// auto-detected from REDIS_URL, which names one node):
//   - 200 clients pair and send 1,000 protected requests: none fails, every
//     primary holds pairs, each request reaches the upstream once, a replayed
//     one is still 570;
//   - slots move between primaries (redis-cli --cluster reshard) while
//     protected requests run: none fails, none is accepted twice;
//   - with REDIS_WAIT_REPLICAS=1 a primary is killed under load, its replica
//     takes over, the old primary rejoins as a replica: the relay serves
//     again, and no request sent before, during or after is accepted twice.
// Figures (time to serve again, WAIT's cost) are reported as diagnostics,
// never asserted.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { newClient, startStack, send, isProtected, sleep } from './lib/e2e.mjs';
import { startCluster, redisCli } from './lib/cluster.mjs';

let cluster; let stack;

before(async () => {
  cluster = await startCluster({ replicas: 1 });
  stack = await startStack({ proxy: true, env: { REDIS_URL: cluster.url, SERVER_ID: 'e2e-cluster', METRICS: 'true' } });
});

after(async () => {
  await stack?.stop();
  await cluster?.stop();
});

// Protected POSTs through the proxy: each client sends `each` requests, `lanes`
// clients at a time.  Returns {ok, failed: [text], paths: [path]}.
async function run(clients, each, tag, lanes = 16) {
  const res = { ok: 0, failed: [], paths: [], ms: [] };
  let next = 0;
  const lane = async () => {
    while (next < clients.length) {
      const i = next++;
      for (let k = 0; k < each; k++) {
        const path = `/api/${tag}/${i}/${k}`;
        const t0 = performance.now();
        try {
          const r = await clients[i].f(`${stack.proxy.url}${path}`, { method: 'POST', body: `${tag} ${i} ${k}` });
          const text = await r.text();
          if (r.status === 200) { res.ok++; res.paths.push(path); res.ms.push(performance.now() - t0); } else res.failed.push(`${path}: ${r.status} ${text.slice(0, 120)}`);
        } catch (e) {
          res.failed.push(`${path}: ${e.message}`);
        }
      }
    }
  };
  await Promise.all(Array.from({ length: lanes }, lane));
  return res;
}

// Keeps `clients` sending until stop() resolves; returns its run() result.
function load(clients, tag) {
  let stopping = false;
  const res = { ok: 0, failed: [], paths: [], ms: [], firstOkAfter: null, lastFailAt: null };
  const lane = async (i) => {
    for (let k = 0; !stopping; k++) {
      const path = `/api/${tag}/${i}/${k}`;
      const t0 = Date.now();
      try {
        const r = await clients[i].f(`${stack.proxy.url}${path}`, { method: 'POST', body: `${tag} ${i} ${k}` });
        const text = await r.text();
        if (r.status === 200) {
          res.ok++;
          res.paths.push(path);
          if (res.mark && t0 >= res.mark && res.firstOkAfter === null) res.firstOkAfter = Date.now() - res.mark;
        } else {
          res.failed.push(`${path}: ${r.status} ${text.slice(0, 120)}`);
          res.lastFailAt = Date.now();
          await sleep(20);
        }
      } catch (e) {
        res.failed.push(`${path}: ${e.message}`);
        res.lastFailAt = Date.now();
        await sleep(20);
      }
    }
  };
  const lanes = clients.map((_, i) => lane(i));
  res.stop = async () => { stopping = true; await Promise.all(lanes); return res; };
  return res;
}

function upstreamCount(path) {
  return stack.upstream.received.filter((r) => r.url === path).length;
}

async function metric(name) {
  const r = await fetch(`${stack.relay.url}/metrics`);
  const text = await r.text();
  return text.split('\n').filter((l) => l.startsWith(name));
}

// Records the relay's status on each captured request (rec.status).
function recordStatuses() {
  stack.proxy.requests.length = 0;
  stack.proxy.onResponse = (rec, resp) => { rec.status = resp.status; };
}

// Sends every captured protected request that the relay accepted (200) again,
// straight to the relay: each must be refused (570; 560 if its pair is gone)
// and the upstream must not see any of `paths` again.  (A request answered
// 503 was never forwarded, so a replay of it may be accepted once.)
async function replayAll(paths) {
  const want = new Set(paths);
  const captured = stack.proxy.requests.filter((r) => isProtected(r) && r.method === 'POST' && r.status === 200);
  let n = 0;
  const before = new Map([...want].map((p) => [p, upstreamCount(p)]));
  for (const rec of captured) {
    const again = await send(stack.relay.url, rec);
    if (again.status === 200) assert.fail(`a replayed request was accepted: ${again.body.toString().slice(0, 200)}`);
    assert.ok(again.status === 570 || again.status === 560, `replay answered ${again.status}`);
    n++;
  }
  for (const [p, c] of before) assert.equal(upstreamCount(p), c, `${p} reached the upstream again`);
  return n;
}

test('200 clients, 1,000 protected requests through the cluster: no failure; a replay is 570', async (t) => {
  const clients = Array.from({ length: 200 }, () => newClient());
  const res = await run(clients, 5, 'e2e');
  assert.deepEqual(res.failed, []);
  assert.equal(res.ok, 1000);
  for (const p of res.paths) assert.equal(upstreamCount(p), 1, p);
  // every primary holds pairs
  const sizes = [];
  for (const node of cluster.nodes) {
    const role = await cluster.cli(node.port, 'ROLE');
    if (role.startsWith('master')) sizes.push(Number(await cluster.cli(node.port, 'DBSIZE')));
  }
  assert.equal(sizes.length, 3);
  for (const s of sizes) assert.ok(s > 0, `a primary holds no keys: ${sizes}`);
  const series = await metric('mte_relay_store_commands_total{');
  assert.ok(series.length >= 3, series.join('\n'));
  // one captured request, replayed: 570, the upstream untouched
  const rec = stack.proxy.requests.filter(isProtected).at(-1);
  const before = stack.upstream.received.length;
  const again = await send(stack.relay.url, rec);
  assert.equal(again.status, 570);
  assert.equal(stack.upstream.received.length, before);
  const ms = res.ms.sort((a, b) => a - b);
  t.diagnostic(`1000 protected requests: median ${ms[500].toFixed(1)} ms, p99 ${ms[990].toFixed(1)} ms (16 at a time); keys per primary ${sizes.join(', ')}`);
});

test('resharding under load: slots move between primaries, no request fails, none is accepted twice', async (t) => {
  recordStatuses();
  const clients = Array.from({ length: 24 }, () => newClient());
  const warm = await run(clients, 1, 'rs-warm', 8);
  assert.deepEqual(warm.failed, []);
  const masters = [];
  for (let i = 0; i < cluster.nodes.length; i++) {
    if ((await cluster.cli(cluster.nodes[i].port, 'ROLE')).startsWith('master')) masters.push(i);
  }
  const from = await cluster.nodeId(masters[0]);
  const to = await cluster.nodeId(masters[1]);
  const movedBefore = await metric('mte_relay_store_redirections_total{kind="moved"}');
  const l = load(clients, 'rs');
  await sleep(300);
  await redisCli(['--cluster', 'reshard', `127.0.0.1:${cluster.nodes[masters[2]].port}`,
    '--cluster-from', from, '--cluster-to', to, '--cluster-slots', '2000', '--cluster-yes'], 120000);
  await sleep(300);
  const res = await l.stop();
  assert.deepEqual(res.failed, []);
  assert.ok(res.ok > 50, `only ${res.ok} requests ran`);
  for (const p of res.paths) assert.equal(upstreamCount(p), 1, p);
  const movedAfter = await metric('mte_relay_store_redirections_total{kind="moved"}');
  assert.notDeepEqual(movedAfter, movedBefore, 'no MOVED was followed');
  const n = await replayAll(res.paths);
  t.diagnostic(`resharding 2000 slots: ${res.ok} protected requests during it, 0 failed; ${n} replayed, all refused; ${movedAfter} ${await metric('mte_relay_store_redirections_total{kind="ask"}')}`);
});

test('failover under load with REDIS_WAIT_REPLICAS=1: served again, nothing accepted twice', async (t) => {
  // WAIT's cost, measured on one client sequentially (a figure, not a check)
  const probe = [newClient()];
  const noWait = await run(probe, 100, 'w0', 1);
  await stack.restartRelay({ REDIS_WAIT_REPLICAS: '1' });
  const probe1 = [newClient()];
  const withWait = await run(probe1, 100, 'w1', 1);
  assert.deepEqual([...noWait.failed, ...withWait.failed], []);
  const mean = (a) => a.reduce((x, y) => x + y, 0) / a.length;
  t.diagnostic(`WAIT cost: mean protected request ${mean(noWait.ms.slice(10)).toFixed(2)} ms without, ${mean(withWait.ms.slice(10)).toFixed(2)} ms with REDIS_WAIT_REPLICAS=1`);

  recordStatuses();
  const clients = Array.from({ length: 24 }, () => newClient());
  const warm = await run(clients, 1, 'fo-warm', 8);
  assert.deepEqual(warm.failed, []);
  // kill the primary that node 0 replicates, or node 0 itself
  let victim = -1;
  for (let i = 0; i < cluster.nodes.length && victim < 0; i++) {
    if ((await cluster.cli(cluster.nodes[i].port, 'ROLE')).startsWith('master')) victim = i;
  }
  const l = load(clients, 'fo');
  await sleep(300);
  const t0 = Date.now();
  l.mark = t0;
  await cluster.kill(victim);
  await cluster.waitOk(30000);            // the replica took over
  const promotedMs = Date.now() - t0;
  await cluster.restart(victim);          // the old primary rejoins as its replica
  await cluster.waitOk(30000);
  await sleep(500);
  const res = await l.stop();
  assert.ok(res.firstOkAfter !== null, 'never served again');
  for (const p of res.paths) assert.equal(upstreamCount(p), 1, p);
  const n = await replayAll([...warm.paths, ...res.paths]);
  assert.ok(n >= res.ok, `${n} replayed, ${res.ok} accepted`);
  t.diagnostic(`failover: cluster ok again ${promotedMs} ms after the kill (node timeout 1000 ms); last failure ${res.lastFailAt ? res.lastFailAt - t0 : 0} ms after the kill; ${res.ok} ok and ${res.failed.length} failed during the run; ${n} replayed, all refused`);
});
