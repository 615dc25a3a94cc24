// codec.js - byte encodings of protocol.md "Encodings": base64url without
// padding, UTF-8, u64be, hex.  Pure functions over Uint8Array; no globals
// beyond TextEncoder/TextDecoder, so the same code runs in browsers and Node.

const B64U = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';
const B64U_REV = new Int16Array(128).fill(-1);
for (let i = 0; i < B64U.length; i++) B64U_REV[B64U.charCodeAt(i)] = i;

const utf8enc = new TextEncoder();
const utf8dec = new TextDecoder('utf-8', { fatal: true });

/** Encodes bytes as base64url without padding (RFC 4648 section 5). */
export function b64uEncode(bytes) {
  let out = '';
  const n = bytes.length;
  let i = 0;
  for (; i + 3 <= n; i += 3) {
    const v = (bytes[i] << 16) | (bytes[i + 1] << 8) | bytes[i + 2];
    out += B64U[v >>> 18] + B64U[(v >>> 12) & 63] + B64U[(v >>> 6) & 63] + B64U[v & 63];
  }
  if (n - i === 1) {
    const v = bytes[i] << 16;
    out += B64U[v >>> 18] + B64U[(v >>> 12) & 63];
  } else if (n - i === 2) {
    const v = (bytes[i] << 16) | (bytes[i + 1] << 8);
    out += B64U[v >>> 18] + B64U[(v >>> 12) & 63] + B64U[(v >>> 6) & 63];
  }
  return out;
}

/**
 * Decodes unpadded base64url.  Throws on any character outside the alphabet,
 * on padding, on an impossible length (len mod 4 == 1) and on non-zero
 * trailing bits, so every byte string has exactly one accepted encoding.
 */
export function b64uDecode(text) {
  if (typeof text !== 'string') throw new TypeError('base64url: not a string');
  const n = text.length;
  if (n % 4 === 1) throw new TypeError('base64url: impossible length');
  const out = new Uint8Array(Math.floor((n * 3) / 4));
  let o = 0;
  let acc = 0;
  let bits = 0;
  for (let i = 0; i < n; i++) {
    const c = text.charCodeAt(i);
    const v = c < 128 ? B64U_REV[c] : -1;
    if (v < 0) throw new TypeError('base64url: invalid character');
    acc = ((acc << 6) | v) & 0xffffff;
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out[o++] = (acc >>> bits) & 0xff;
    }
  }
  if (bits > 0 && (acc & ((1 << bits) - 1)) !== 0) throw new TypeError('base64url: non-zero trailing bits');
  return out;
}

export function utf8Encode(text) {
  return utf8enc.encode(text);
}

export function utf8Decode(bytes) {
  return utf8dec.decode(bytes);
}

/** 8-byte big-endian encoding of a non-negative safe integer. */
export function u64be(n) {
  if (!Number.isSafeInteger(n) || n < 0) throw new RangeError('u64be: not a non-negative safe integer');
  const out = new Uint8Array(8);
  const hi = Math.floor(n / 0x100000000);
  const lo = n >>> 0;
  out[0] = hi >>> 24; out[1] = (hi >>> 16) & 0xff; out[2] = (hi >>> 8) & 0xff; out[3] = hi & 0xff;
  out[4] = lo >>> 24; out[5] = (lo >>> 16) & 0xff; out[6] = (lo >>> 8) & 0xff; out[7] = lo & 0xff;
  return out;
}

export function hexEncode(bytes) {
  let out = '';
  for (let i = 0; i < bytes.length; i++) out += (bytes[i] < 16 ? '0' : '') + bytes[i].toString(16);
  return out;
}

export function concatBytes(...parts) {
  let n = 0;
  for (const p of parts) n += p.length;
  const out = new Uint8Array(n);
  let o = 0;
  for (const p of parts) { out.set(p, o); o += p.length; }
  return out;
}

/** A Uint8Array view of any BufferSource (no copy). */
export function asBytes(src) {
  if (src instanceof Uint8Array) return src;
  if (ArrayBuffer.isView(src)) return new Uint8Array(src.buffer, src.byteOffset, src.byteLength);
  if (src instanceof ArrayBuffer || Object.prototype.toString.call(src) === '[object ArrayBuffer]' ||
      Object.prototype.toString.call(src) === '[object SharedArrayBuffer]') return new Uint8Array(src);
  throw new TypeError('not a BufferSource');
}
