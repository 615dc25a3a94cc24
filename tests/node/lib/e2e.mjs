// e2e.mjs - shared pieces of the mteFetch <-> relay end-to-end tests.
// Processes (redis-server, build/mte-relay, the node:http upstream) come from
// tests/node/lib/harness.mjs; this adds what the client tests need on top:
// the whole stack of a test started and stopped as one (startStack), a
// client with its own memory storage, a recording/tampering HTTP proxy
// between client and relay, raw sends of captured requests, peak RSS of the
// relay's workers, and a relay restart on the same port.

import http from 'node:http';
import { readFileSync } from 'node:fs';
import { createClient } from '../../../client/src/internals.js';
import {
  startRelay, startUpstream, startRedis, freePort, sleep, childPids, sha256,
} from './harness.mjs';

export { startRelay, startUpstream, startRedis, freePort, sleep, childPids, sha256 };

export const SECRET = 'e2e-client-secret-0123456789abcdef012345';

export function memStore() {
  const m = new Map();
  return { m, get: (k) => (m.has(k) ? m.get(k) : null), set: (k, v) => m.set(k, v), remove: (k) => m.delete(k) };
}

/** A fresh mteFetch with its own state and memory storage. */
export function newClient(env = {}) {
  const storage = env.storage || memStore();
  const c = createClient({ storage, ...env });
  return { f: c.mteFetch, init: c.initMteRelayClient, storage, client: c };
}

/**
 * The upstream: records every request (harness startUpstream) and answers
 *   /api/download/<bytes>  that many deterministic bytes, streamed
 *   /api/form              the parsed multipart form: field values and file sha256s
 *   anything else          JSON {method,url,length,sha256,headers}
 */
export function startAppUpstream() {
  return startUpstream((req, res, rec) => {
    const m = /^\/api\/download\/(\d+)$/.exec(req.url);
    if (m) {
      const total = Number(m[1]);
      res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': String(total) });
      const block = patternBlock();
      let sent = 0;
      const pump = () => {
        while (sent < total) {
          const n = Math.min(block.length, total - sent);
          sent += n;
          if (!res.write(n === block.length ? block : block.subarray(0, n))) return res.once('drain', pump);
        }
        return res.end();
      };
      pump();
      return true;
    }
    if (req.url === '/api/form') {
      const body = Buffer.concat(rec.body);
      new Request('http://x/', { method: 'POST', body, headers: { 'content-type': rec.headers['content-type'] } })
        .formData().then(async (fd) => {
          const out = {};
          for (const [k, v] of fd) out[k] = typeof v === 'string' ? v : { name: v.name, size: v.size, sha256: sha256(Buffer.from(await v.arrayBuffer())) };
          res.writeHead(200, { 'content-type': 'application/json' });
          res.end(JSON.stringify(out));
        }, (e) => { res.writeHead(400); res.end(String(e)); });
      return true;
    }
    return false;
  });
}

/**
 * An upstream that redirects (the redirect tests of Node and Chromium):
 *   /r/<status>?to=<loc>, /pt/<status>?to=<loc>  status with Location loc (default /api/dest)
 *   /chain/<n>   302 to /chain/<n-1>, down to /chain/0
 *   /loop        302 to itself
 *   /abs, /pt/abs  302 to the upstream's own absolute URL /api/dest?from=abs
 *   anything else  harness's JSON echo {method,url,length,sha256,headers}
 */
export async function redirectingUpstream() {
  const self = await startUpstream((req, res) => {
    const u = new URL(req.url, 'http://x');
    const redirect = (status, location) => { res.writeHead(status, { location, 'content-type': 'text/plain' }); res.end('moved'); return true; };
    let m = /^\/(?:r|pt)\/(\d{3})$/.exec(u.pathname);
    if (m) return redirect(Number(m[1]), u.searchParams.get('to') || '/api/dest');
    m = /^\/chain\/(\d+)$/.exec(u.pathname);
    if (m && Number(m[1]) > 0) return redirect(302, `/chain/${Number(m[1]) - 1}`);
    if (u.pathname === '/loop') return redirect(302, '/loop');
    if (u.pathname === '/abs' || u.pathname === '/pt/abs') return redirect(302, `${self.url}/api/dest?from=abs`);
    return false;
  });
  return self;
}

let block;
/** 1 MiB of bytes i % 251: what /api/download streams, repeated. */
export function patternBlock() {
  if (!block) { block = Buffer.alloc(1 << 20); for (let i = 0; i < block.length; i++) block[i] = i % 251; }
  return block;
}

/** Relay env for these tests: the relay in front of upstream, with redis or the embedded store. */
export function relayEnv(upstream, extra = {}) {
  return { UPSTREAM: upstream.url, CORS_ORIGINS: 'http://app.example', CLIENT_ID_SECRET: SECRET, MAX_POOL_SIZE: '2', ...extra };
}

/**
 * The processes of an end-to-end test, started in this order and stopped in
 * the reverse one by stack.stop():
 *   redis     true: a redis-server, which the relay then uses (REDIS_URL)
 *   upstream  a function starting the upstream (default startAppUpstream)
 *   env       relay env on top of relayEnv(upstream); relay: false starts none
 *   proxy     true or startProxy's options: a recording proxy in front of the relay
 * Returns {redis, upstream, relay, proxy, env (the relay's), restartRelay(extra),
 * stop}: restartRelay restarts the relay on its port with env plus extra.
 * When a piece fails to start, those already started are stopped.
 */
export async function startStack({ redis = false, upstream = startAppUpstream, env = {}, relay = true, proxy = false } = {}) {
  const stack = {
    redis: null, upstream: null, relay: null, proxy: null, env: null,
    async restartRelay(extra = {}) {
      stack.relay = await restartRelay(stack.relay, { ...stack.env, ...extra });
      return stack.relay;
    },
    async stop() {
      await stack.proxy?.stop();
      await stack.relay?.stop();
      await stack.upstream?.stop();
      await stack.redis?.stop();
    },
  };
  try {
    if (redis) stack.redis = await startRedis();
    stack.upstream = await upstream();
    stack.env = relayEnv(stack.upstream, { REDIS_URL: stack.redis?.url, ...env });
    if (relay) stack.relay = await startRelay(stack.env);
    if (proxy) stack.proxy = await startProxy([stack.relay], proxy === true ? {} : proxy);
  } catch (e) {
    await stack.stop();
    throw e;
  }
  return stack;
}

/** Stops a relay and starts another with the same port (so the same origin) and env overrides. */
export async function restartRelay(relay, env) {
  await relay.stop();
  return startRelay({ ...env, PORT: String(relay.port) });
}

/** Peak resident set (VmHWM, KiB) of a process. */
export function peakRssKiB(pid) {
  const m = /VmHWM:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Number(m[1]) : 0;
}

/**
 * An HTTP proxy between the client and one or more relays (requests go to the
 * targets round-robin).  It buffers each request, records it in .requests,
 * lets .onRequest(rec) rewrite it ({method,url,headers,body,chunked}) and
 * .onResponse(rec, resp) replace the answer ({status,headers,body}).
 * When .onRequest returns an answer ({status,headers,body}) the proxy sends
 * that instead and the relay never sees the request (rec.answered is set).
 * An answer with cutAfter: n announces its whole body, sends its first n
 * bytes and then drops the connection.
 * newConnections: use a new TCP connection for every forwarded request.
 */
export async function startProxy(targets, { newConnections = false } = {}) {
  const agents = targets.map(() => new http.Agent({ keepAlive: !newConnections }));
  const proxy = { requests: [], responses: [], onRequest: null, onResponse: null, perTarget: targets.map(() => 0), next: 0 };
  const server = http.createServer(async (req, res) => {
    const parts = [];
    for await (const p of req) parts.push(p);
    const rec = { method: req.method, url: req.url, headers: { ...req.headers }, body: Buffer.concat(parts), chunked: false };
    delete rec.headers.connection;
    proxy.requests.push(rec);
    const answer = proxy.onRequest ? await proxy.onRequest(rec) : undefined;
    let resp;
    if (answer && typeof answer.status === 'number') {
      rec.answered = true;
      resp = { headers: {}, body: Buffer.alloc(0), ...answer };
    } else {
      const t = proxy.next++ % targets.length;
      proxy.perTarget[t] += 1;
      try {
        resp = await send(targets[t].url, rec, agents[t]);
      } catch (e) {
        res.writeHead(502, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ error: `proxy: ${e.message}`, code: 502 }));
        return;
      }
      proxy.responses.push(resp);
      if (proxy.onResponse) resp = (await proxy.onResponse(rec, resp)) || resp;
    }
    const h = { ...resp.headers };
    delete h['transfer-encoding'];
    delete h.connection;
    h['content-length'] = String(resp.body.length);
    res.writeHead(resp.status, h);
    if (typeof resp.cutAfter === 'number') {
      res.write(resp.body.subarray(0, resp.cutAfter), () => res.destroy());
      return;
    }
    res.end(resp.body);
  });
  await new Promise((r) => server.listen(0, '127.0.0.1', r));
  proxy.url = `http://127.0.0.1:${server.address().port}`;
  proxy.stop = () => new Promise((r) => { server.closeAllConnections(); for (const a of agents) a.destroy(); server.close(r); });
  return proxy;
}

/**
 * Sends a (captured, maybe altered) request to origin and buffers the answer.
 * rec.chunked sends the body with chunked transfer coding (no Content-Length).
 */
export function send(origin, rec, agent) {
  return new Promise((resolve, reject) => {
    const u = new URL(origin);
    const headers = { ...rec.headers, host: u.host };
    delete headers['content-length'];
    delete headers['transfer-encoding'];
    if (rec.body && rec.body.length && !rec.chunked) headers['content-length'] = String(rec.body.length);
    const req = http.request({ host: u.hostname, port: u.port, method: rec.method, path: rec.url, headers, agent }, (res) => {
      const parts = [];
      res.on('data', (d) => parts.push(d));
      res.on('end', () => resolve({ status: res.statusCode, headers: { ...res.headers }, body: Buffer.concat(parts) }));
      res.on('error', reject);
    });
    req.on('error', reject);
    if (rec.body && rec.body.length) req.write(rec.body);
    req.end();
  });
}

/** A protected request: its x-mte-relay header has the 4 fields of one. */
export const isProtected = (rec) => typeof rec.headers['x-mte-relay'] === 'string' && rec.headers['x-mte-relay'].split(',').length === 4;

/** Upstream records for a path (method-independent). */
export const seenAt = (upstream, path) => upstream.received.filter((r) => r.url === path);
