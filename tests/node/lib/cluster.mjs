// cluster.mjs - a real Redis Cluster for integration tests: 3 primaries and
// (by default) one replica each, redis-server --cluster-enabled yes on free
// loopback ports, joined by redis-cli --cluster create, each node in its own
// temporary directory.  Everything is bounded in time and torn down by stop().
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort, sleep } from './harness.mjs';

export const NODE_TIMEOUT_MS = 1000;

/** Runs redis-cli with args; resolves its stdout (trimmed), rejects on a non-zero exit or after timeoutMs. */
export function redisCli(args, timeoutMs = 60000) {
  return new Promise((resolve, reject) => {
    const p = spawn('redis-cli', args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    const t = setTimeout(() => { p.kill('SIGKILL'); reject(new Error(`redis-cli ${args.join(' ')}: timed out`)); }, timeoutMs);
    p.stdout.on('data', (d) => { out += d; });
    p.stderr.on('data', (d) => { err += d; });
    p.on('exit', (code) => {
      clearTimeout(t);
      if (code === 0) resolve(out.trim());
      else reject(new Error(`redis-cli ${args.join(' ')}: exit ${code}: ${err}${out.slice(-500)}`));
    });
  });
}

async function startNode(port, dir) {
  const child = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '',
    '--appendonly', 'no', '--dir', dir, '--cluster-enabled', 'yes', '--cluster-config-file', 'nodes.conf',
    '--cluster-node-timeout', String(NODE_TIMEOUT_MS)], { stdio: 'ignore' });
  const t0 = Date.now();
  for (;;) {
    try { if ((await redisCli(['-p', String(port), 'PING'], 2000)) === 'PONG') return child; } catch { /* not yet */ }
    if (child.exitCode !== null || Date.now() - t0 > 10000) throw new Error(`redis-server on ${port} did not start`);
    await sleep(30);
  }
}

/**
 * Starts the cluster.  Returns {nodes: [{port, dir, child}], url (node 0),
 * cli(port, ...args), primaryOf(key) (the node index), nodeId(i), kill(i),
 * restart(i) (same port and nodes.conf: it rejoins), waitOk(), stop()}.
 */
export async function startCluster({ replicas = 1 } = {}) {
  const n = 3 * (1 + replicas);
  const cluster = {
    nodes: [],
    get url() { return `redis://127.0.0.1:${this.nodes[0].port}`; },
    cli(port, ...args) { return redisCli(['-p', String(port), ...args]); },
    async nodeId(i) { return this.cli(this.nodes[i].port, 'CLUSTER', 'MYID'); },
    async primaryOf(key) {
      for (let i = 0; i < this.nodes.length; i++) {
        if (!this.nodes[i].child) continue;
        const out = await this.cli(this.nodes[i].port, 'EXISTS', key).catch(() => 'MOVED');
        if (/^\d+$/.test(out)) return i;
      }
      return -1;
    },
    async kill(i) {
      const c = this.nodes[i].child;
      this.nodes[i].child = null;
      if (c && c.exitCode === null) {
        c.kill('SIGKILL');
        await new Promise((r) => c.once('exit', r));
      }
    },
    async restart(i) { this.nodes[i].child = await startNode(this.nodes[i].port, this.nodes[i].dir); },
    // Every live node says cluster_state:ok, every live replica is in sync.
    async waitOk(timeoutMs = 30000) {
      const t0 = Date.now();
      for (;;) {
        let ok = true;
        for (const node of this.nodes) {
          if (!node.child) continue;
          const info = await this.cli(node.port, 'CLUSTER', 'INFO').catch(() => '');
          const repl = await this.cli(node.port, 'INFO', 'replication').catch(() => '');
          if (!info.includes('cluster_state:ok')) ok = false;
          if (repl.includes('role:slave') && !repl.includes('master_link_status:up')) ok = false;
        }
        if (ok) return;
        if (Date.now() - t0 > timeoutMs) throw new Error('the cluster did not become ready');
        await sleep(50);
      }
    },
    async stop() {
      for (let i = 0; i < this.nodes.length; i++) await this.kill(i);
      for (const node of this.nodes) rmSync(node.dir, { recursive: true, force: true });
    },
  };
  try {
    for (let i = 0; i < n; i++) {
      const port = await freePort();
      const dir = mkdtempSync(join(tmpdir(), 'mte-cluster-'));
      cluster.nodes.push({ port, dir, child: null });
      cluster.nodes[i].child = await startNode(port, dir);
    }
    await redisCli(['--cluster', 'create', ...cluster.nodes.map((x) => `127.0.0.1:${x.port}`),
      '--cluster-replicas', String(replicas), '--cluster-yes']);
    await cluster.waitOk();
  } catch (e) {
    await cluster.stop();
    throw e;
  }
  return cluster;
}
