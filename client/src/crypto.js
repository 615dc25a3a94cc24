// crypto.js - the key schedule and chunk sealing of protocol.md ("Pairing",
// "Message keys", "Items and chunks") on WebCrypto.  Keys stay inside
// CryptoKey objects marked non-extractable; the few raw secrets that must pass
// through JS memory (the X-Wing shared secret, the 64-byte okm, a message key
// before import) are overwritten with zeros as soon as they are imported.

import { concatBytes, u64be, utf8Encode } from './codec.js';

export const CHUNK_PLAIN = 65536;        // plaintext bytes in every chunk but the last
export const TAG_LEN = 16;               // AES-GCM tag
export const CHUNK_WIRE = CHUNK_PLAIN + TAG_LEN; // 65552: a full sealed chunk
export const ITEM_META = 1;
export const ITEM_BODY = 2;
export const ITEM_FRAMED = 3;           // a framed body's records (PROTOCOL.md section 13)
export const PROTOCOL = 'mte-relay/1';

function subtle() {
  const c = globalThis.crypto;
  if (!c || !c.subtle) throw new Error('WebCrypto (crypto.subtle) is not available: a secure context (https or localhost) is required');
  return c.subtle;
}

export function randomBytes(n) {
  const out = new Uint8Array(n);
  // getRandomValues fills at most 65536 bytes per call.
  for (let o = 0; o < n; o += 65536) globalThis.crypto.getRandomValues(out.subarray(o, Math.min(n, o + 65536)));
  return out;
}

/** Wire length W of a body item of len plaintext bytes (protocol.md). */
export function wireLength(len) {
  if (!Number.isSafeInteger(len) || len < 0) throw new RangeError('wireLength: bad length');
  return len + TAG_LEN * (Math.floor(len / CHUNK_PLAIN) + 1);
}

/** Plaintext length of a body item W bytes long on the wire, or -1 when W is malformed. */
export function plainLength(wire) {
  if (!Number.isSafeInteger(wire) || wire < 0) return -1;
  if (wire % CHUNK_WIRE < TAG_LEN) return -1;
  return wire - TAG_LEN * (Math.floor(wire / CHUNK_WIRE) + 1);
}

/** Number of chunks of an item of len plaintext bytes (always >= 1). */
export function chunkCount(len) {
  return Math.floor(len / CHUNK_PLAIN) + 1;
}

/** nonce = item || final || 0x0000 || u64be(index): 12 bytes. */
export function chunkNonce(item, final, index) {
  const n = new Uint8Array(12);
  n[0] = item;
  n[1] = final ? 1 : 0;
  n.set(u64be(index), 4);
  return n;
}

function checkToken(name, v) {
  if (typeof v !== 'string' || /[\s]/.test(v)) throw new TypeError(`aad: bad ${name}`);
}

/** aad (request) as the exact UTF-8 bytes of protocol.md. */
export function requestAad(clientId, pairId, seq, flags, method, clearTarget) {
  checkToken('clientId', clientId); checkToken('pairId', pairId); checkToken('method', method);
  return utf8Encode(`${PROTOCOL} req ${clientId} ${pairId} ${seq} ${flags} ${method} ${clearTarget}`);
}

/** aad (response): status is always written with 3 digits. */
export function responseAad(clientId, pairId, seq, flags, status) {
  checkToken('clientId', clientId); checkToken('pairId', pairId);
  if (!Number.isInteger(status) || status < 100 || status > 999) throw new TypeError('aad: bad status');
  return utf8Encode(`${PROTOCOL} res ${clientId} ${pairId} ${seq} ${flags} ${String(status).padStart(3, '0')}`);
}

/** "mte-relay/1 pair" 0x00 clientId 0x00 P 0x00 S */
export function pairInfo(clientId, pairId, personalization) {
  return utf8Encode(`${PROTOCOL} pair\0${clientId}\0${pairId}\0${personalization}`);
}

/**
 * Pair keys from the X-Wing shared secret: HKDF-SHA256 with salt = nonce,
 * 64 bytes, split into k_req and k_res.  Both are returned as non-extractable
 * HMAC-SHA256 keys because they are only ever used as HKDF-Expand PRKs.
 * ss is zeroed.
 */
export async function derivePairKeys(ss, nonce, info) {
  const s = subtle();
  const ikm = await s.importKey('raw', ss, 'HKDF', false, ['deriveBits']);
  ss.fill(0);
  const okm = new Uint8Array(await s.deriveBits({ name: 'HKDF', hash: 'SHA-256', salt: nonce, info }, ikm, 512));
  try {
    const kReq = await importPrk(okm.subarray(0, 32));
    const kRes = await importPrk(okm.subarray(32, 64));
    return { kReq, kRes };
  } finally {
    okm.fill(0);
  }
}

/** Imports a 32-byte PRK (HKDF-Expand key) as a non-extractable HMAC key. */
export function importPrk(raw) {
  return subtle().importKey('raw', raw, { name: 'HMAC', hash: 'SHA-256' }, false, ['sign']);
}

/**
 * HKDF-Expand (RFC 5869 section 2.3) for L <= 32: T(1) = HMAC(PRK, info || 0x01).
 * WebCrypto's HKDF always runs Extract first, so Expand alone is done with HMAC.
 */
export async function hkdfExpand32(prkKey, info, len = 32) {
  if (len < 1 || len > 32) throw new RangeError('hkdfExpand32: 1..32 bytes only');
  const t1 = new Uint8Array(await subtle().sign('HMAC', prkKey, concatBytes(info, Uint8Array.of(1))));
  return len === 32 ? t1 : t1.slice(0, len);
}

/**
 * Message keys of one request: mk_req = Expand(k_req, "req" || u64be(seq)),
 * mk_res = Expand(k_res, "res" || u64be(seq)), as non-extractable AES-GCM keys.
 */
export async function messageKeys(pair, seq) {
  const [req, res] = await Promise.all([
    hkdfExpand32(pair.kReq, concatBytes(utf8Encode('req'), u64be(seq))),
    hkdfExpand32(pair.kRes, concatBytes(utf8Encode('res'), u64be(seq))),
  ]);
  try {
    const [mkReq, mkRes] = await Promise.all([importAesKey(req, ['encrypt']), importAesKey(res, ['decrypt'])]);
    return { mkReq, mkRes };
  } finally {
    req.fill(0);
    res.fill(0);
  }
}

export function importAesKey(raw, usages = ['encrypt', 'decrypt']) {
  return subtle().importKey('raw', raw, { name: 'AES-GCM' }, false, usages);
}

/** Seals one chunk: ciphertext || tag. */
export async function sealChunk(key, item, final, index, aad, plaintext) {
  const iv = chunkNonce(item, final, index);
  return new Uint8Array(await subtle().encrypt({ name: 'AES-GCM', iv, additionalData: aad, tagLength: 128 }, key, plaintext));
}

/** Opens one chunk; throws (OperationError) when authentication fails. */
export async function openChunk(key, item, final, index, aad, sealed) {
  const iv = chunkNonce(item, final, index);
  return new Uint8Array(await subtle().decrypt({ name: 'AES-GCM', iv, additionalData: aad, tagLength: 128 }, key, sealed));
}

/**
 * The answer key of a pair (PROTOCOL.md section 11): the pairing answer's
 * answerKey chunk opened under mk_res of seq 0, as an HMAC key that only
 * verifies the relay's x-mte-relay-auth tags.  Throws when it does not open.
 */
export async function openAnswerKey(pair, clientId, sealed) {
  const { mkRes } = await messageKeys(pair, 0);
  const aad = utf8Encode(`${PROTOCOL} answer-key ${clientId} ${pair.pairId}`);
  const raw = await openChunk(mkRes, ITEM_META, true, 0, aad, sealed);
  try {
    return await subtle().importKey('raw', raw, { name: 'HMAC', hash: 'SHA-256' }, false, ['verify']);
  } finally {
    raw.fill(0);
  }
}

/** true when tagHex is the relay's tag of status answering (clientId, pairId, seq, method). */
export async function verifyAnswerTag(key, tagHex, clientId, pairId, seq, method, status) {
  if (!/^[0-9a-f]{64}$/.test(tagHex)) return false;
  const tag = new Uint8Array(32);
  for (let i = 0; i < 32; i++) tag[i] = parseInt(tagHex.slice(2 * i, 2 * i + 2), 16);
  const msg = utf8Encode(`${PROTOCOL} answer ${clientId} ${pairId} ${seq} ${method} ${String(status).padStart(3, '0')}`);
  return subtle().verify('HMAC', key, tag, msg);
}

/** ss' = HMAC(ss_s, "mte-relay/1 pinned " || ss): a pinned pairing's secret (PROTOCOL.md section 12). */
export async function pinnedSecret(ssStatic, ss) {
  const key = await subtle().importKey('raw', ssStatic, { name: 'HMAC', hash: 'SHA-256' }, false, ['sign']);
  return new Uint8Array(await subtle().sign('HMAC', key, concatBytes(utf8Encode(`${PROTOCOL} pinned `), ss)));
}

/** The id of a relay key: hex(SHA-256(pk))[0..16). */
export async function relayKeyId(pk) {
  const d = new Uint8Array(await subtle().digest('SHA-256', pk));
  return Array.from(d.subarray(0, 8), (b) => b.toString(16).padStart(2, '0')).join('');
}

/** true when confirmHex is HMAC(k_res, "mte-relay/1 confirm " clientId " " pairId): the relay holds the pinned key. */
export async function confirmsPin(pair, clientId, confirmHex) {
  if (typeof confirmHex !== 'string' || !/^[0-9a-f]{64}$/.test(confirmHex)) return false;
  const want = new Uint8Array(await subtle().sign('HMAC', pair.kRes, utf8Encode(`${PROTOCOL} confirm ${clientId} ${pair.pairId}`)));
  let diff = 0;
  for (let i = 0; i < 32; i++) diff |= want[i] ^ parseInt(confirmHex.slice(2 * i, 2 * i + 2), 16);
  return diff === 0;
}
