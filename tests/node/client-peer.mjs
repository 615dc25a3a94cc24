// client-peer.mjs - an independent implementation of the relay's side of
// protocol.md in Node (node:crypto for HKDF, HMAC and AES-GCM; noble only for
// X-Wing encapsulation, which node:crypto lacks), for testing mteFetch while
// the C relay's protected path does not exist yet.  It is deliberately small
// and written from protocol.md, not from the client's code, so a
// misunderstanding on either side shows up as a failing test.
//
// The peer answers HEAD /api/mte-relay, POST /api/mte-pair and protected
// requests, which it opens and hands to app(req) -> {status, headers, body,
// clearHeaders}.  Tests steer it through peer.hooks and read peer.log.
// opts.files: {path: {type, body}} served as plain GETs (a test page).

import http from 'node:http';
import { createCipheriv, createDecipheriv, createHmac, hkdfSync, randomBytes, timingSafeEqual } from 'node:crypto';
import { ml_kem768_x25519 as xwing } from '@noble/post-quantum/hybrid.js';

const CHUNK = 65536;
const WIRE = CHUNK + 16;
const HOP = new Set(['connection', 'keep-alive', 'transfer-encoding', 'te', 'trailer', 'upgrade', 'proxy-connection', 'host', 'content-length']);

const u64be = (n) => { const b = Buffer.alloc(8); b.writeBigUInt64BE(BigInt(n)); return b; };
export const nonceOf = (item, final, index) => Buffer.concat([Buffer.from([item, final ? 1 : 0, 0, 0]), u64be(index)]);

export function seal(key, item, final, index, aad, plain) {
  const c = createCipheriv('aes-256-gcm', key, nonceOf(item, final, index));
  c.setAAD(aad);
  return Buffer.concat([c.update(plain), c.final(), c.getAuthTag()]);
}

export function open(key, item, final, index, aad, sealed) {
  if (sealed.length < 16) throw new Error('short chunk');
  const d = createDecipheriv('aes-256-gcm', key, nonceOf(item, final, index));
  d.setAAD(aad);
  d.setAuthTag(sealed.subarray(sealed.length - 16));
  return Buffer.concat([d.update(sealed.subarray(0, sealed.length - 16)), d.final()]);
}

const expand = (prk, label, seq) => createHmac('sha256', prk).update(Buffer.concat([Buffer.from(label), u64be(seq), Buffer.of(1)])).digest();

function errorBody(res, status, msg) {
  res.writeHead(status, { 'content-type': 'application/json' });
  res.end(JSON.stringify({ error: msg, code: status }));
}

export async function startPeer(app, opts = {}) {
  const peer = {
    secret: opts.secret || 'peer-secret-0123456789abcdef0123456789',
    previous: opts.previous || null,
    pairs: new Map(), // clientId + ' ' + pairId -> {kReq, kRes, seen:Set}
    log: [],          // one entry per request the peer saw: {kind, ...}
    hooks: {},        // beforeAccept(ctx) -> status | undefined; sealResponse(ctx) -> override
    upstreamSeen: [],
  };
  const sign = (id, secret = peer.secret) => `${id}.${createHmac('sha256', secret).update(id).digest('hex')}`;
  peer.sign = sign;
  const verify = (signed) => {
    const m = /^([0-9a-f]{32})\.([0-9a-f]{64})$/.exec(signed || '');
    if (!m) return null;
    for (const s of [peer.secret, peer.previous]) {
      if (!s) continue;
      const want = Buffer.from(sign(m[1], s).slice(33), 'hex');
      if (timingSafeEqual(want, Buffer.from(m[2], 'hex'))) return m[1];
    }
    return null;
  };

  async function readAll(req) {
    const parts = [];
    for await (const p of req) parts.push(p);
    return Buffer.concat(parts);
  }

  async function handle(req, res) {
    const url = req.url;
    const relayHdr = req.headers['x-mte-relay'];
    if (opts.files && req.method === 'GET' && opts.files[url]) {
      res.writeHead(200, { 'content-type': opts.files[url].type });
      return res.end(opts.files[url].body);
    }
    if (req.method === 'HEAD' && url === '/api/mte-relay') {
      peer.log.push({ kind: 'head', sent: relayHdr || null });
      let id;
      if (relayHdr) {
        id = verify(relayHdr.split(',')[0]);
        if (!id) return errorBody(res, 566, 'invalid client id');
      } else id = randomBytes(16).toString('hex');
      res.writeHead(200, { 'x-mte-relay': sign(id) });
      return res.end();
    }
    if (req.method === 'POST' && url === '/api/mte-pair') {
      const id = verify(relayHdr);
      const body = JSON.parse((await readAll(req)).toString());
      peer.log.push({ kind: 'pair', count: Array.isArray(body) ? body.length : -1 });
      if (!id) return errorBody(res, 566, 'invalid client id');
      const out = [];
      for (const e of body) {
        if (!/^[A-Za-z0-9_-]{16,64}$/.test(e.pairId) || typeof e.personalization !== 'string' ||
            !/^[\x20-\x7e]{0,128}$/.test(e.personalization)) return errorBody(res, 400, 'bad entry');
        const pk = Buffer.from(e.publicKey, 'base64url');
        if (pk.length !== 1216) return errorBody(res, 400, 'bad key');
        const { cipherText, sharedSecret } = xwing.encapsulate(pk);
        const nonce = randomBytes(32);
        const info = Buffer.from(`mte-relay/1 pair\0${id}\0${e.pairId}\0${e.personalization}`);
        const okm = Buffer.from(hkdfSync('sha256', sharedSecret, nonce, info, 64));
        peer.pairs.set(`${id} ${e.pairId}`, { kReq: okm.subarray(0, 32), kRes: okm.subarray(32), seen: new Set() });
        out.push({ pairId: e.pairId, ciphertext: Buffer.from(cipherText).toString('base64url'), nonce: nonce.toString('base64url') });
      }
      res.writeHead(200, { 'content-type': 'application/json' });
      return res.end(JSON.stringify(out));
    }
    if (!relayHdr || relayHdr.split(',').length !== 4) return errorBody(res, 569, 'missing or malformed relay header');
    // ---- protected request (order of checks of protocol.md) ----
    const [signed, pairId, seqText, flags] = relayHdr.split(',');
    const entry = { kind: 'protected', wireTarget: url, wireHeaders: { ...req.headers }, pairId, seq: Number(seqText), flags };
    peer.log.push(entry);
    if (!/^[1-9][0-9]*$/.test(seqText) || !/^u?b?$/.test(flags)) return errorBody(res, 569, 'malformed relay header');
    const clientId = verify(signed);
    if (!clientId) return errorBody(res, 566, 'invalid client id');
    const pair = peer.pairs.get(`${clientId} ${pairId}`);
    if (!pair) return errorBody(res, 560, 'state not found');
    const seq = Number(seqText);
    const mkReq = expand(pair.kReq, 'req', seq);
    const mkRes = expand(pair.kRes, 'res', seq);
    const aad = Buffer.from(`mte-relay/1 req ${clientId} ${pairId} ${seq} ${flags} ${req.method} ${flags.includes('u') ? '' : url}`);
    let meta;
    try {
      meta = JSON.parse(open(mkReq, 1, true, 0, aad, Buffer.from(req.headers['x-mte-relay-eh'] || '', 'base64url')).toString());
    } catch { return errorBody(res, 562, 'failed to decode'); }
    const forced = peer.hooks.beforeAccept && peer.hooks.beforeAccept({ seq, pairId, meta, entry });
    if (forced) { req.resume(); return errorBody(res, forced, `forced ${forced}`); }
    if (pair.seen.has(seq)) return errorBody(res, 570, 'replayed sequence number');
    pair.seen.add(seq);
    entry.accepted = true;
    // body: buffered here (the peer is a test tool; the C relay streams)
    let body = null;
    if (flags.includes('b')) {
      const wire = await readAll(req);
      entry.wireLength = wire.length;
      const parts = [];
      let i = 0;
      let o = 0;
      try {
        for (; wire.length - o >= WIRE; o += WIRE, i++) parts.push(open(mkReq, 2, false, i, aad, wire.subarray(o, o + WIRE)));
        parts.push(open(mkReq, 2, true, i, aad, wire.subarray(o)));
      } catch { entry.bodyRejected = true; return errorBody(res, 562, 'failed to decode body'); }
      body = Buffer.concat(parts);
    }
    const appReq = { method: req.method, url: flags.includes('u') ? meta.url : url, headers: meta.headers, body, clearHeaders: req.headers };
    peer.upstreamSeen.push(appReq);
    const out = await app(appReq, { seq, pairId });
    const status = out.status || 200;
    const hasBody = out.body !== undefined && out.body !== null;
    const rflags = hasBody ? 'b' : '';
    const raad = Buffer.from(`mte-relay/1 res ${clientId} ${pairId} ${seq} ${rflags} ${String(status).padStart(3, '0')}`);
    const metaSealed = seal(mkRes, 1, true, 0, raad, Buffer.from(JSON.stringify({ headers: out.headers || {} })));
    const headers = {
      ...(out.clearHeaders || {}),
      'x-mte-relay': `${out.echoSigned || sign(clientId)},${pairId},${seq},${rflags}`,
      'x-mte-relay-eh': metaSealed.toString('base64url'),
    };
    const ctx = { seq, pairId, clientId, status, headers, mkRes, raad, out };
    if (peer.hooks.sealResponse) {
      const done = await peer.hooks.sealResponse(ctx, res);
      if (done) return undefined;
    }
    if (!hasBody) { res.writeHead(status, headers); return res.end(); }
    // Stream the body sealed chunk by chunk; out.body is a Buffer or an async iterable of Buffers.
    res.writeHead(status, headers);
    let pending = Buffer.alloc(0);
    let i = 0;
    const src = Buffer.isBuffer(out.body) ? [out.body] : out.body;
    for await (const part of src) {
      pending = pending.length ? Buffer.concat([pending, part]) : Buffer.from(part);
      while (pending.length > CHUNK) {
        const ok = res.write(seal(mkRes, 2, false, i++, raad, pending.subarray(0, CHUNK)));
        pending = pending.subarray(CHUNK);
        if (!ok) await new Promise((r) => res.once('drain', r));
      }
    }
    if (pending.length === CHUNK) { res.write(seal(mkRes, 2, false, i++, raad, pending)); pending = Buffer.alloc(0); }
    if (out.dropFinal) { res.end(); return undefined; } // a clean end without the final chunk
    if (out.cutConnection) { res.destroy(); return undefined; }
    res.end(seal(mkRes, 2, true, i, raad, pending));
    return undefined;
  }

  peer.server = http.createServer((req, res) => {
    handle(req, res).catch((e) => { try { errorBody(res, 500, String(e && e.message)); } catch { res.destroy(); } });
  });
  await new Promise((r) => peer.server.listen(opts.port || 0, '127.0.0.1', r));
  peer.origin = `http://127.0.0.1:${peer.server.address().port}`;
  peer.close = () => new Promise((r) => { peer.server.closeAllConnections(); peer.server.close(r); });
  return peer;
}
