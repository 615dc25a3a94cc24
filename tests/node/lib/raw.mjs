// raw.mjs - a low-level client of the mte-relay wire protocol (protocol.md),
// for tests that must send exactly crafted requests: every field of the relay
// header, the meta plaintext, the body chunks and the wire framing can be set
// or overridden.  Written from protocol.md with node:crypto (HKDF, HMAC,
// AES-256-GCM); only X-Wing comes from @noble/post-quantum (via the client's
// internals), which node:crypto lacks.  Requests go out with node:http on a
// fresh connection each, so a refused request cannot disturb the next one.

import http from 'node:http';
import { createCipheriv, createDecipheriv, createHmac, hkdfSync, randomBytes } from 'node:crypto';
import { xwing } from '../../../client/src/internals.js';

export const CHUNK = 65536;              // plaintext bytes of every chunk but the last
export const TAG = 16;                   // AES-GCM tag
export const WIRE_CHUNK = CHUNK + TAG;   // one full sealed chunk
export const ITEM_META = 1;
export const ITEM_BODY = 2;

/** 8-byte big-endian of a u64 given as number, bigint or decimal string. */
export function u64be(n) {
  const b = Buffer.alloc(8);
  b.writeBigUInt64BE(BigInt(n));
  return b;
}

/** nonce = item || final || 0x0000 || u64be(index) */
export function chunkNonce(item, final, index) {
  return Buffer.concat([Buffer.from([item, final ? 1 : 0, 0, 0]), u64be(index)]);
}

export function sealChunk(key, item, final, index, aad, plain) {
  const c = createCipheriv('aes-256-gcm', key, chunkNonce(item, final, index));
  c.setAAD(aad);
  return Buffer.concat([c.update(plain), c.final(), c.getAuthTag()]);
}

/** Opens one chunk; throws when it does not authenticate. */
export function openChunk(key, item, final, index, aad, sealed) {
  if (sealed.length < TAG) throw new Error('chunk shorter than its tag');
  const d = createDecipheriv('aes-256-gcm', key, chunkNonce(item, final, index));
  d.setAAD(aad);
  d.setAuthTag(sealed.subarray(sealed.length - TAG));
  return Buffer.concat([d.update(sealed.subarray(0, sealed.length - TAG)), d.final()]);
}

/** W = len + 16 * (floor(len / 65536) + 1) */
export const wireLength = (len) => len + TAG * (Math.floor(len / CHUNK) + 1);

/** A body item: full chunks of 65536 bytes, then a final chunk of len mod 65536. */
export function sealBody(key, aad, plain) {
  const parts = [];
  let i = 0;
  let o = 0;
  for (; plain.length - o >= CHUNK; o += CHUNK, i++) parts.push(sealChunk(key, ITEM_BODY, false, i, aad, plain.subarray(o, o + CHUNK)));
  parts.push(sealChunk(key, ITEM_BODY, true, i, aad, plain.subarray(o)));
  return Buffer.concat(parts);
}

/** Opens a whole body item; throws on a bad chunk or a missing final chunk. */
export function openBody(key, aad, wire) {
  const parts = [];
  let i = 0;
  let o = 0;
  for (; wire.length - o >= WIRE_CHUNK; o += WIRE_CHUNK, i++) parts.push(openChunk(key, ITEM_BODY, false, i, aad, wire.subarray(o, o + WIRE_CHUNK)));
  parts.push(openChunk(key, ITEM_BODY, true, i, aad, wire.subarray(o)));
  return Buffer.concat(parts);
}

/** HKDF-Expand(PRK, label || u64be(seq), 32): one HMAC block. */
export function messageKey(prk, label, seq) {
  return createHmac('sha256', prk).update(Buffer.concat([Buffer.from(label), u64be(seq), Buffer.of(1)])).digest();
}

export const requestAad = (clientId, pairId, seq, flags, method, clearTarget) =>
  Buffer.from(`mte-relay/1 req ${clientId} ${pairId} ${seq} ${flags} ${method} ${clearTarget}`);
export const responseAad = (clientId, pairId, seq, flags, status) =>
  Buffer.from(`mte-relay/1 res ${clientId} ${pairId} ${seq} ${flags} ${String(status).padStart(3, '0')}`);

/**
 * One HTTP request on a new connection; the answer is buffered.
 * opts: method, path, headers (sent as given: the caller sets content-length
 * or transfer-encoding), body (Buffer).
 */
export function httpRequest(origin, { method = 'GET', path = '/', headers = {}, body, agent = false } = {}) {
  const u = new URL(origin);
  return new Promise((resolve, reject) => {
    const req = http.request({ host: u.hostname, port: u.port, method, path, headers, agent, setHost: true }, (res) => {
      const parts = [];
      res.on('data', (d) => parts.push(d));
      res.on('end', () => resolve({ status: res.statusCode, headers: res.headers, body: Buffer.concat(parts), complete: res.complete }));
      res.on('error', reject);
    });
    req.on('error', reject);
    if (body !== undefined && body !== null) req.end(body); else req.end();
  });
}

/** A body with an exact Content-Length, or chunked transfer coding when chunked. */
export function bodyHeaders(body, chunked = false) {
  return chunked ? { 'transfer-encoding': 'chunked' } : { 'content-length': String(body.length) };
}

/** HEAD /api/mte-relay: a fresh signed client id. */
export async function newIdentity(origin) {
  const r = await httpRequest(origin, { method: 'HEAD', path: '/api/mte-relay' });
  if (r.status !== 200) throw new Error(`HEAD /api/mte-relay answered ${r.status}`);
  const signedId = r.headers['x-mte-relay'];
  const m = /^([0-9a-f]{32})\.([0-9a-f]{64})$/.exec(signedId || '');
  if (!m) throw new Error(`bad signed id ${signedId}`);
  return { origin, signedId, clientId: m[1], mac: m[2] };
}

/** A random pair id of n characters of [A-Za-z0-9_-]. */
export function randomPairId(n = 32) {
  return randomBytes(n).toString('base64url').slice(0, n);
}

/** A pairing entry with a fresh X-Wing key; .secret keeps what finishing needs. */
export function makeEntry({ pairId = randomPairId(), personalization = randomBytes(12).toString('hex') } = {}) {
  const { publicKey, secretKey } = xwing.keygen(randomBytes(32));
  return {
    entry: { pairId, publicKey: Buffer.from(publicKey).toString('base64url'), personalization },
    secret: { secretKey, personalization, pairId },
  };
}

/** POST /api/mte-pair with a raw body (string or Buffer) or entries (JSON-encoded). */
export function pairRequest(identity, body, { headers = {}, chunked = false } = {}) {
  const buf = Buffer.isBuffer(body) ? body : Buffer.from(typeof body === 'string' ? body : JSON.stringify(body));
  return httpRequest(identity.origin, {
    method: 'POST', path: '/api/mte-pair', body: buf,
    headers: { 'x-mte-relay': identity.signedId, 'content-type': 'application/json', ...bodyHeaders(buf, chunked), ...headers },
  });
}

/** Decapsulates one answer entry and derives the pair keys (protocol.md, Pairing). */
export function finishPair(identity, secret, answer) {
  if (!answer || answer.pairId !== secret.pairId) throw new Error(`no answer for ${secret.pairId}`);
  const ct = Buffer.from(answer.ciphertext, 'base64url');
  const nonce = Buffer.from(answer.nonce, 'base64url');
  if (ct.length !== 1120 || nonce.length !== 32) throw new Error('bad ciphertext or nonce length');
  const ss = xwing.decapsulate(ct, secret.secretKey);
  const info = Buffer.from(`mte-relay/1 pair\0${identity.clientId}\0${secret.pairId}\0${secret.personalization}`);
  const okm = Buffer.from(hkdfSync('sha256', ss, nonce, info, 64));
  return { pairId: secret.pairId, kReq: okm.subarray(0, 32), kRes: okm.subarray(32, 64), seq: 0n };
}

/** Pairs the given entries (makeEntry results, or a count of fresh ones); returns the pairs in order. */
export async function pair(identity, made = 1) {
  if (typeof made === 'number') made = Array.from({ length: made }, () => makeEntry());
  const r = await pairRequest(identity, made.map((m) => m.entry));
  if (r.status !== 200) throw new Error(`pairing answered ${r.status}: ${r.body}`);
  const answer = JSON.parse(r.body);
  const byId = new Map(answer.map((a) => [a.pairId, a]));
  return made.map((m) => finishPair(identity, m.secret, byId.get(m.secret.pairId)));
}

/**
 * A protected request.  opts:
 *   seq        u64 (number, bigint or string); default: pair.seq + 1 (kept in pair.seq)
 *   flags      default: 'u' + ('b' when body)
 *   method     default GET
 *   url        the URL sealed in meta (with u), default '/'
 *   target     the wire request-target; default '/' with u, else url
 *   headers    sealed request headers (meta)
 *   meta       raw meta plaintext (string or Buffer), replaces {url, headers}
 *   clear      clear headers added to the wire request
 *   body       body plaintext (Buffer or string), sealed as the body item
 *   wireBody   the body bytes exactly as sent (replaces the sealed body)
 *   chunked    send the body with chunked transfer coding
 *   relayHeader, eh   override x-mte-relay / x-mte-relay-eh (eh null: omitted)
 *   alterMeta(sealedMeta), alterBody(wire)   tamper after sealing
 *   agent      an http.Agent (e.g. keep-alive, so requests stay on one worker)
 * Returns the answer plus .opened() which checks the echo header and opens
 * the sealed meta and body (throws when it does not authenticate).
 */
export async function protectedRequest(identity, p, opts = {}) {
  const seq = opts.seq !== undefined ? BigInt(opts.seq) : p.seq + 1n;
  if (seq > p.seq) p.seq = seq;
  const body = opts.body === undefined ? undefined : Buffer.from(opts.body);
  const flags = opts.flags !== undefined ? opts.flags : `u${body !== undefined || opts.wireBody !== undefined ? 'b' : ''}`;
  const method = opts.method || 'GET';
  const url = opts.url || '/';
  const u = flags.includes('u');
  const target = opts.target !== undefined ? opts.target : (u ? '/' : url);
  const mkReq = messageKey(p.kReq, 'req', seq);
  const mkRes = messageKey(p.kRes, 'res', seq);
  const aad = requestAad(identity.clientId, p.pairId, seq, flags, method, u ? '' : target);
  let metaPlain;
  if (opts.meta !== undefined) metaPlain = Buffer.from(opts.meta);
  else metaPlain = Buffer.from(JSON.stringify(u ? { url, headers: opts.headers || {} } : { headers: opts.headers || {} }));
  let sealedMeta = sealChunk(mkReq, ITEM_META, true, 0, aad, metaPlain);
  if (opts.alterMeta) sealedMeta = opts.alterMeta(sealedMeta) || sealedMeta;
  let wire = opts.wireBody !== undefined ? Buffer.from(opts.wireBody) : (body !== undefined ? sealBody(mkReq, aad, body) : undefined);
  if (wire !== undefined && opts.alterBody) wire = opts.alterBody(wire) || wire;
  const headers = {
    ...(opts.clear || {}),
    'x-mte-relay': opts.relayHeader !== undefined ? opts.relayHeader : `${identity.signedId},${p.pairId},${seq},${flags}`,
  };
  const eh = opts.eh !== undefined ? opts.eh : sealedMeta.toString('base64url');
  if (eh !== null) headers['x-mte-relay-eh'] = eh;
  if (wire !== undefined) Object.assign(headers, bodyHeaders(wire, opts.chunked));
  const res = await httpRequest(identity.origin, { method, path: target, headers, body: wire, agent: opts.agent });
  res.seq = seq;
  res.opened = () => openResponse(identity, p, seq, method, res, mkRes);
  return res;
}

/**
 * Opens a sealed response: the echo names this client, pair and seq, the
 * meta opens under mk_res with the response AAD, and so does the body.
 */
export function openResponse(identity, p, seq, method, res, mkRes = messageKey(p.kRes, 'res', seq)) {
  const echo = res.headers['x-mte-relay'];
  if (typeof echo !== 'string') throw new Error(`response ${res.status} is not sealed: ${res.body}`);
  const [signed, pairId, seqText, flags, ...rest] = echo.split(',');
  if (rest.length || signed.slice(0, 32) !== identity.clientId || pairId !== p.pairId || seqText !== String(seq) || !/^b?$/.test(flags)) {
    throw new Error(`echo ${echo} is not for this request`);
  }
  const aad = responseAad(identity.clientId, p.pairId, seqText, flags, res.status);
  const meta = JSON.parse(openChunk(mkRes, ITEM_META, true, 0, aad, Buffer.from(res.headers['x-mte-relay-eh'], 'base64url')).toString('utf8'));
  const body = flags === 'b' && method !== 'HEAD' ? openBody(mkRes, aad, res.body) : null;
  return { status: res.status, flags, meta, headers: meta.headers, body };
}
