// bench-stream.mjs - streamed responses, figures only (make bench-stream):
//   * per-event added delay of a server-sent event stream and of a token-like
//     stream (one 20-byte write every 10 ms): p50 and p99 of the time from the
//     upstream's write to the client's read, straight to the upstream with
//     fetch and through the relay with mteFetch, in the same run;
//   * a 64 MiB download through the relay with a Content-Length (the v1
//     layout) and without one (framed records, PROTOCOL.md section 13), beside
//     the same download straight from the upstream.
// Client, relay and upstream share this machine's cores: the figures are what
// they reach together.  Nothing passes or fails on speed.
//   BENCH_EVENTS  events per stream (default 100)

import { startStack, newClient } from '../node/lib/e2e.mjs';
import { startUpstream } from '../node/lib/harness.mjs';

const EVENTS = Number(process.env.BENCH_EVENTS || 100);
const BIG = 64 << 20;

function upstream() {
  return startUpstream((req, res) => {
    const u = new URL(req.url, 'http://x');
    if (u.pathname === '/sse' || u.pathname === '/tokens') {
      const sse = u.pathname === '/sse';
      const every = sse ? 50 : 10;
      res.writeHead(200, { 'content-type': sse ? 'text/event-stream' : 'application/x-ndjson' });
      let n = 0;
      const timer = setInterval(() => {
        if (n === EVENTS) { clearInterval(timer); res.end(); return; }
        const t = process.hrtime.bigint().toString();
        // the token stream: 20 bytes a write, the write time in the first 19
        res.write(sse ? `data: ${t}\n\n` : `${t.padStart(19, '0')}\n`);
        n++;
      }, every);
      return true;
    }
    if (u.pathname === '/big' || u.pathname === '/big-len') {
      const h = { 'content-type': 'application/octet-stream' };
      if (u.pathname === '/big-len') h['content-length'] = String(BIG);
      res.writeHead(200, h);
      const block = Buffer.alloc(1 << 20, 7);
      let sent = 0;
      const pump = () => {
        while (sent < BIG) { sent += block.length; if (!res.write(block)) { res.once('drain', pump); return; } }
        res.end();
      };
      pump();
      return true;
    }
    return false;
  });
}

/** Delays (ms) from each write (its timestamp in the data) to its read. */
async function delays(fetchFn, url, sse) {
  const r = await fetchFn(url);
  const reader = r.body.pipeThrough(new TextDecoderStream()).getReader();
  const out = [];
  let text = '';
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    const now = process.hrtime.bigint();
    text += value;
    const sep = sse ? '\n\n' : '\n';
    const parts = text.split(sep);
    text = parts.pop();
    for (const p of parts) {
      const t = BigInt(sse ? p.replace(/^data: /, '') : p);
      out.push(Number(now - t) / 1e6);
    }
  }
  return out;
}

const pct = (xs, p) => { const s = [...xs].sort((a, b) => a - b); return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))]; };

async function download(fetchFn, url) {
  const t0 = process.hrtime.bigint();
  const r = await fetchFn(url);
  let n = 0;
  for await (const piece of r.body) n += piece.length;
  const s = Number(process.hrtime.bigint() - t0) / 1e9;
  if (n !== BIG) throw new Error(`short download ${n}`);
  return BIG / 1048576 / s;
}

const stack = await startStack({ upstream });
try {
  const { f } = newClient();
  await (await f(`${stack.relay.url}/big-len`)).arrayBuffer();   // pairs, warms both paths
  console.log(`== per-event added delay, ${EVENTS} events each (ms: p50 / p99)`);
  for (const [name, path, sse] of [['SSE, one event every 50 ms', '/sse', true], ['tokens, 20 bytes every 10 ms', '/tokens', false]]) {
    const direct = await delays(fetch, `${stack.upstream.url}${path}`, sse);
    const relayed = await delays(f, `${stack.relay.url}${path}`, sse);
    console.log(`${name.padEnd(32)} direct ${pct(direct, 50).toFixed(2)} / ${pct(direct, 99).toFixed(2)}   ` +
      `relay ${pct(relayed, 50).toFixed(2)} / ${pct(relayed, 99).toFixed(2)}   ` +
      `added p50 ${(pct(relayed, 50) - pct(direct, 50)).toFixed(2)}, events ${relayed.length}/${direct.length}`);
  }
  console.log('\n== 64 MiB download (MiB/s, best of 3)');
  const best = async (fn) => Math.max(await fn(), await fn(), await fn());
  const direct = await best(() => download(fetch, `${stack.upstream.url}/big`));
  const v1 = await best(() => download(f, `${stack.relay.url}/big-len`));
  const framed = await best(() => download(f, `${stack.relay.url}/big`));
  console.log(`direct ${direct.toFixed(0)}   relay, Content-Length (v1 layout) ${v1.toFixed(0)}   ` +
    `relay, no length (framed) ${framed.toFixed(0)}   framed / v1 ${(framed / v1).toFixed(2)}`);
} finally {
  await stack.stop();
}
