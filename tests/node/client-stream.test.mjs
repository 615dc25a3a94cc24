// Streamed responses (PROTOCOL.md section 13, extension s): server-sent
// events, NDJSON and bodies without a length arrive as they are written.
// Delivery is shown without clocks: the upstream writes event n+1 only
// after the client has read event n (with the v1 layout that would hang).
// The framed layout is checked with an independent parser (node:crypto),
// tampered with record by record, and fed to the client's opener split at
// every offset; v1 clients and known-length bodies keep the v1 layout.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createDecipheriv, createHash } from 'node:crypto';
import {
  newClient, startStack, isProtected, peakRssKiB,
} from './lib/e2e.mjs';
import { startUpstream } from './lib/harness.mjs';
import {
  newIdentity, makeEntry, pairRequest, finishPair, protectedRequest, messageKey, responseAad, openBody,
} from './lib/raw.mjs';
import { createFramedOpener, createEventStreamParser, importAesKey } from '../../client/src/internals.js';

let stack;
const gates = new Map();   // lockstep id -> resolve of the client's "read event n"

function waitFor(id) {
  return new Promise((resolve) => gates.set(id, resolve));
}
function advance(id) {
  const g = gates.get(id);
  if (g) { gates.delete(id); g(); }
}

const BIG = Number(process.env.STREAM_BIG || (1 << 30));   // 1 GiB, no Content-Length

function streamingUpstream() {
  return startUpstream((req, res) => {
    const u = new URL(req.url, 'http://x');
    let m = /^\/sse\/lockstep\/(\w+)$/.exec(u.pathname);
    if (m) {
      const id = m[1];
      res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-store' });
      (async () => {
        for (let n = 0; n < 6; n++) {
          if (n > 0) await waitFor(id);
          res.write(`event: tick\nid: ${n}\ndata: event ${n}\n\n`);
        }
        res.end();
      })();
      return true;
    }
    if (u.pathname === '/sse/reconnect') {
      res.writeHead(200, { 'content-type': 'text/event-stream' });
      const last = req.headers['last-event-id'];
      if (!last) res.end('retry: 20\nid: 7\ndata: first\n\n');
      else res.end(`data: again after ${last}\n\n`);
      return true;
    }
    if (u.pathname === '/sse/fixed') {
      res.writeHead(200, { 'content-type': 'text/event-stream' });
      let n = 0;
      const next = () => { if (n === 4) { res.end(); return; } res.write(`data: record ${n++}\n\n`); setTimeout(next, 15); };
      next();
      return true;
    }
    m = /^\/ndjson\/(\d+)$/.exec(u.pathname);
    if (m) {
      const lines = Number(m[1]);
      res.writeHead(200, { 'content-type': 'application/x-ndjson' });
      let i = 0;
      const pump = () => {
        while (i < lines) {
          let batch = '';
          for (let k = 0; k < 100 && i < lines; k++, i++) batch += `${JSON.stringify({ i, sq: i * i })}\n`;
          if (!res.write(batch)) { res.once('drain', pump); return; }
        }
        res.end();
      };
      pump();
      return true;
    }
    if (u.pathname === '/big') {
      res.writeHead(200, { 'content-type': 'application/octet-stream' });
      const block = Buffer.alloc(1 << 20);
      for (let i = 0; i < block.length; i++) block[i] = (i * 7) % 256;
      let sent = 0;
      const pump = () => {
        while (sent < BIG) { sent += block.length; if (!res.write(block)) { res.once('drain', pump); return; } }
        res.end();
      };
      pump();
      return true;
    }
    m = /^\/sized\/(\d+)$/.exec(u.pathname);
    if (m) {
      const body = Buffer.alloc(Number(m[1]), 'z');
      res.writeHead(200, { 'content-type': 'text/plain', 'content-length': String(body.length) });
      res.end(body);
      return true;
    }
    return false;
  });
}

before(async () => { stack = await startStack({ upstream: streamingUpstream, proxy: true }); });
after(async () => { await stack?.stop(); });

test('SSE through mteFetch arrives event by event: the upstream writes the next only after the client read one', async () => {
  const { f } = newClient();
  const r = await f(`${stack.relay.url}/sse/lockstep/raw`);
  assert.equal(r.status, 200);
  assert.equal(r.headers.get('content-type'), 'text/event-stream');
  const got = [];
  const parser = createEventStreamParser({ dispatch: (type, data) => { got.push([type, data]); advance('raw'); }, retry: () => {} });
  const reader = r.body.pipeThrough(new TextDecoderStream()).getReader();
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    parser.feed(value);
  }
  assert.deepEqual(got, [0, 1, 2, 3, 4, 5].map((n) => ['tick', `event ${n}`]));
});

test('MteEventSource: open, named events in lockstep, lastEventId, readyState, close', async () => {
  const { client } = newClient();
  const es = new client.MteEventSource(`${stack.relay.url}/sse/lockstep/es`);
  assert.equal(es.readyState, client.MteEventSource.CONNECTING);
  const events = [];
  let opened = 0;
  await new Promise((resolve, reject) => {
    es.onopen = () => { opened++; };
    es.onerror = (e) => { if (events.length < 6) reject(e.error || new Error('error event')); };
    es.addEventListener('tick', (e) => {
      events.push([e.data, e.lastEventId, es.readyState]);
      if (events.length === 6) resolve(); else advance('es');
    });
  });
  es.close();
  assert.equal(es.readyState, client.MteEventSource.CLOSED);
  assert.equal(opened, 1);
  assert.deepEqual(events, [0, 1, 2, 3, 4, 5].map((n) => [`event ${n}`, String(n), 1]));
});

test('MteEventSource reconnects after the stream ends, with Last-Event-ID and the server\'s retry', async () => {
  const { client } = newClient();
  const es = new client.MteEventSource(`${stack.relay.url}/sse/reconnect`);
  const messages = [];
  let errors = 0;
  await new Promise((resolve) => {
    es.onerror = () => { errors++; };
    es.onmessage = (e) => { messages.push(e.data); if (messages.length === 2) resolve(); };
  });
  es.close();
  assert.deepEqual(messages, ['first', 'again after 7']);
  assert.ok(errors >= 1, 'the end of the first stream is an error event, then a reconnect');
  const hits = stack.upstream.received.filter((q) => q.url === '/sse/reconnect');
  assert.equal(hits[1].headers['last-event-id'], '7');
});

test('MteEventSource fails (no reconnect) on an answer that is not an event stream', async () => {
  const { client } = newClient();
  const es = new client.MteEventSource(`${stack.relay.url}/sized/10`);
  await new Promise((resolve) => { es.onerror = resolve; });
  assert.equal(es.readyState, client.MteEventSource.CLOSED);
});

// ---- the framed layout on the wire ----

/** Pairs a raw client (raw.mjs, an independent implementation) asking for streams. */
async function rawStreamPair() {
  const identity = await newIdentity(stack.relay.url);
  const made = makeEntry();
  made.entry.stream = true;
  const r = await pairRequest(identity, [made.entry]);
  const [answer] = JSON.parse(r.body);
  assert.equal(answer.stream, true, 'the relay supports streams');
  return { identity, p: finishPair(identity, made.secret, answer) };
}

/** The records of a framed body: [{final, chunk}], checked against the layout. */
function records(wire) {
  const out = [];
  let o = 0;
  while (o < wire.length) {
    const head = wire.readUInt32BE(o);
    const len = head & 0x7fffffff;
    out.push({ final: head >>> 31 === 1, chunk: wire.subarray(o + 4, o + 4 + len) });
    o += 4 + len;
  }
  assert.equal(o, wire.length);
  return out;
}

function openRecords(mk, aad, recs) {
  return Buffer.concat(recs.map(({ final, chunk }, i) => {
    const iv = Buffer.alloc(12);                   // item 3 || final || 0x0000 || u64be(index)
    iv[0] = 3;
    iv[1] = final ? 1 : 0;
    iv.writeBigUInt64BE(BigInt(i), 4);
    const d = createDecipheriv('aes-256-gcm', mk, iv);
    d.setAAD(Buffer.from(aad));
    d.setAuthTag(chunk.subarray(chunk.length - 16));
    return Buffer.concat([d.update(chunk.subarray(0, chunk.length - 16)), d.final()]);
  }));
}

test('wire: an s request gets records (flags bs), each opening under item 3 with its index; the last is final', async () => {
  const { identity, p } = await rawStreamPair();
  const r = await protectedRequest(identity, p, { flags: 'us', url: '/sse/fixed' });
  assert.equal(r.status, 200);
  const flags = r.headers['x-mte-relay'].split(',')[3];
  assert.equal(flags, 'bs');
  assert.equal(r.headers['content-length'], undefined, 'chunked on the wire');
  const recs = records(r.body);
  assert.ok(recs.length >= 5, `one record per upstream write, then the final one (${recs.length})`);
  assert.deepEqual(recs.map((x) => x.final), recs.map((_, i) => i === recs.length - 1));
  const mk = messageKey(p.kRes, 'res', r.seq);
  const plain = openRecords(mk, responseAad(identity.clientId, p.pairId, r.seq, 'bs', 200), recs).toString();
  assert.equal(plain, [0, 1, 2, 3].map((n) => `data: record ${n}\n\n`).join(''));

  // the client's opener, fed the same wire split at every offset
  const key = await importAesKey(mk, ['decrypt']);
  const aad = Buffer.from(responseAad(identity.clientId, p.pairId, r.seq, 'bs', 200));
  for (let k = 0; k <= r.body.length; k++) {
    const out = [];
    const s = new ReadableStream({ start(c) { c.enqueue(r.body.subarray(0, k)); c.enqueue(r.body.subarray(k)); c.close(); } })
      .pipeThrough(createFramedOpener(key, aad));
    for await (const piece of s) out.push(Buffer.from(piece));
    assert.equal(Buffer.concat(out).toString(), plain, `split at ${k}`);
  }
});

test('wire: a v1 request (no s) to the same stream gets the v1 layout; a known length keeps v1 with s', async () => {
  const { identity, p } = await rawStreamPair();
  const v1 = await protectedRequest(identity, p, { url: '/sse/fixed' });
  assert.equal(v1.headers['x-mte-relay'].split(',')[3], 'b');
  const opened = openBody(messageKey(p.kRes, 'res', v1.seq), responseAad(identity.clientId, p.pairId, v1.seq, 'b', 200), v1.body);
  assert.match(opened.toString(), /record 3/);
  const sized = await protectedRequest(identity, p, { flags: 'us', url: '/sized/70000' });
  assert.equal(sized.headers['x-mte-relay'].split(',')[3], 'b', 'not a stream type, and a known length');
  assert.equal(Number(sized.headers['content-length']), 70000 + 16 * 2, 'the v1 wire length');
});

test('tampered framed bodies: reordered, repeated, dropped, resized, cut, flag flipped, extra bytes - an error, never wrong data', async () => {
  const { proxy } = stack;
  const { f } = newClient();
  const want = [0, 1, 2, 3].map((n) => `data: record ${n}\n\n`).join('');
  assert.equal(await (await f(`${proxy.url}/sse/fixed`)).text(), want);
  const frame = (recs) => Buffer.concat(recs.map(({ final, chunk }) => {
    const h = Buffer.alloc(4);
    h.writeUInt32BE((chunk.length | (final ? 0x80000000 : 0)) >>> 0);
    return Buffer.concat([h, chunk]);
  }));
  const cases = {
    reordered: (rs) => [rs[1], rs[0], ...rs.slice(2)],
    repeated: (rs) => [rs[0], rs[0], ...rs.slice(1)],
    dropped: (rs) => [rs[0], ...rs.slice(2)],
    'final cut': (rs) => rs.slice(0, -1),
    'final flag flipped': (rs) => [{ ...rs[0], final: true }, ...rs.slice(1)],
  };
  for (const [name, change] of Object.entries(cases)) {
    proxy.onResponse = (rec, resp) => (isProtected(rec) ? { ...resp, body: frame(change(records(resp.body))) } : resp);
    const r = await f(`${proxy.url}/sse/fixed`);
    await assert.rejects(r.text(), (e) => ['RESPONSE_INVALID', 'TRUNCATED'].includes(e.code), name);
  }
  for (const [name, change] of Object.entries({
    'length changed': (b) => { const c = Buffer.from(b); c[3] += 1; return c; },
    'bytes after the final record': (b) => Buffer.concat([b, Buffer.from([0, 0, 0, 16])]),
    'cut inside a record': (b) => b.subarray(0, b.length - 7),
  })) {
    proxy.onResponse = (rec, resp) => (isProtected(rec) ? { ...resp, body: change(resp.body) } : resp);
    const r = await f(`${proxy.url}/sse/fixed`);
    await assert.rejects(r.text(), (e) => ['RESPONSE_INVALID', 'TRUNCATED'].includes(e.code), name);
  }
  proxy.onResponse = null;
});

test('NDJSON: 10,000 lines, all of them, in order', async () => {
  const { f } = newClient();
  const r = await f(`${stack.relay.url}/ndjson/10000`);
  const lines = (await r.text()).trim().split('\n').map((l) => JSON.parse(l));
  assert.equal(lines.length, 10000);
  lines.forEach((l, i) => { assert.equal(l.i, i); assert.equal(l.sq, i * i); });
});

test('1 GiB without a Content-Length: every byte, framed, in constant relay memory', async () => {
  const { f } = newClient();
  const r = await f(`${stack.relay.url}/big`);
  const hash = createHash('sha256');
  let n = 0;
  for await (const piece of r.body) { hash.update(piece); n += piece.length; }
  assert.equal(n, BIG);
  const block = Buffer.alloc(1 << 20);
  for (let i = 0; i < block.length; i++) block[i] = (i * 7) % 256;
  const want = createHash('sha256');
  for (let i = 0; i < BIG / block.length; i++) want.update(block);
  assert.equal(hash.digest('hex'), want.digest('hex'));
  for (const pid of stack.relay.workers()) {
    assert.ok(peakRssKiB(pid) < 64 * 1024, `worker ${pid} peak RSS ${peakRssKiB(pid)} KiB`);
  }
});
