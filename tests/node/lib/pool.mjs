// pool.mjs - helpers of the elastic pool tests (pool*.test.mjs): a slow
// upstream, concurrent requests on fresh connections, /metrics samples, and
// peers that trickle a request head or body.
import http from 'node:http';
import { connect } from 'node:net';
import { startRelay, startUpstream, sleep } from './harness.mjs';

export { startRelay, sleep };

// An upstream that answers every request after delayMs (the body is read
// first).  inflight() is how many it holds right now.
export async function slowUpstream(delayMs) {
  let inflight = 0;
  const up = await startUpstream((req, res) => {
    inflight++;
    setTimeout(() => { inflight--; res.writeHead(200, { 'content-type': 'text/plain' }); res.end('ok'); }, delayMs);
    return true;
  });
  up.inflight = () => inflight;
  return up;
}

// The relay at default pool settings (the harness pins MAX_POOL_SIZE=2;
// undefined drops it), or with the flags given.
export function startPoolRelay(upstream, env = {}, args = []) {
  return startRelay({ UPSTREAM: upstream.url, PASS_THROUGH_ROUTES: '/api/*', METRICS: 'true',
    MAX_POOL_SIZE: undefined, ...env }, { args });
}

// One GET on a fresh connection: { status, body } or { error }.
export function get(port, path, timeoutMs = 60000) {
  return new Promise((resolve) => {
    const req = http.get({ host: '127.0.0.1', port, path, agent: false, timeout: timeoutMs }, (res) => {
      const chunks = [];
      res.on('data', (d) => chunks.push(d));
      res.on('end', () => resolve({ status: res.statusCode, body: Buffer.concat(chunks).toString() }));
      res.on('error', (e) => resolve({ error: e.code || e.message }));
    });
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', (e) => resolve({ error: e.code || e.message }));
  });
}

// n concurrent GETs, each on its own connection.
export function burst(port, n, path = '/api/slow') {
  return Promise.all(Array.from({ length: n }, (_, i) => get(port, `${path}?i=${i}`)));
}

export function tally(results) {
  const t = { ok: 0, other: 0, errors: 0 };
  for (const r of results) {
    if (r.error) t.errors++;
    else if (r.status === 200) t.ok++;
    else t.other++;
  }
  return t;
}

// The series of a /metrics text: name{labels} -> value.
export async function metrics(port) {
  const r = await get(port, '/metrics', 20000);
  if (r.status !== 200) throw new Error(`/metrics: ${r.status ?? r.error}`);
  const out = new Map();
  for (const line of r.body.split('\n')) {
    const m = /^([a-z_]+(?:\{[^}]*\})?) (\S+)$/.exec(line);
    if (m) out.set(m[1], Number(m[2]));
  }
  return out;
}

// Live workers the scoreboard counted (every state but draining).
export function poolSize(m) {
  let n = 0;
  for (const [k, v] of m) if (k.startsWith('mte_relay_workers{') && !k.includes('draining')) n += v;
  return n;
}

// Samples relay.workers().length every 20 ms until stop() is called.
export function sampleWorkers(relay) {
  let max = 0, run = true;
  const loop = (async () => {
    while (run) { max = Math.max(max, relay.workers().length); await sleep(20); }
  })();
  return { stop: async () => { run = false; await loop; return max; } };
}

// A peer that sends a request head (and, with body, a Content-Length body)
// a few bytes at a time, reconnecting when cut, until stop().  stats counts
// the connections it opened and how many were closed on it.
export function trickler(port, { path = '/api/up', body = 0, bytes = 1, everyMs = 500 } = {}) {
  const stats = { connections: 0, closed: 0, statuses: [] };
  let run = true, sock = null;
  const head = `POST ${path} HTTP/1.1\r\nHost: x\r\nContent-Length: ${body}\r\n\r\n`;
  const one = () => new Promise((resolve) => {
    stats.connections++;
    sock = connect(port, '127.0.0.1');
    let sent = 0, timer = null, got = '';
    const total = body > 0 ? head.length + body : head.length;
    // With a body, the head goes at once and the body trickles.
    if (body > 0) { sock.write(head); sent = head.length; }
    const tick = () => {
      if (!run || sock.destroyed) return;
      const n = Math.min(bytes, total - sent);
      if (n <= 0) return;
      const piece = sent < head.length ? head.slice(sent, sent + n) : 'x'.repeat(n);
      sock.write(piece);
      sent += n;
      timer = setTimeout(tick, everyMs);
    };
    timer = setTimeout(tick, everyMs);
    sock.on('data', (d) => { got += d.toString('latin1'); });
    sock.on('error', () => {});
    sock.on('close', () => {
      clearTimeout(timer);
      stats.closed++;
      const m = /^HTTP\/1\.1 (\d+)/.exec(got);
      stats.statuses.push(m ? Number(m[1]) : 0);
      resolve();
    });
  });
  const loop = (async () => { while (run) await one(); })();
  return { stats, stop: async () => { run = false; sock?.destroy(); await loop; } };
}

// A POST whose body goes out at bytesPerTick every everyMs: { status } or { error }.
export function slowUpload(port, path, total, bytesPerTick, everyMs) {
  return new Promise((resolve) => {
    const req = http.request({ host: '127.0.0.1', port, path, method: 'POST', agent: false,
      headers: { 'content-length': total } }, (res) => {
      res.resume();
      res.on('end', () => resolve({ status: res.statusCode }));
    });
    req.on('error', (e) => resolve({ error: e.code || e.message }));
    let sent = 0;
    const tick = () => {
      const n = Math.min(bytesPerTick, total - sent);
      req.write(Buffer.alloc(n, 0x61));
      sent += n;
      if (sent < total) setTimeout(tick, everyMs); else req.end();
    };
    tick();
  });
}

// Waits (bounded) until pred() holds; returns whether it did.
export async function until(pred, timeoutMs, stepMs = 50) {
  const t0 = Date.now();
  while (Date.now() - t0 < timeoutMs) {
    if (await pred()) return true;
    await sleep(stepMs);
  }
  return !!(await pred());
}
