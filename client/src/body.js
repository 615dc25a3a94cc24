// body.js - request bodies in, sealed bytes out; sealed bytes in, response
// bodies out (protocol.md "Items and chunks").

import { asBytes } from './codec.js';
import {
  CHUNK_PLAIN, CHUNK_WIRE, ITEM_BODY, ITEM_FRAMED, TAG_LEN, chunkCount, openChunk, sealChunk,
} from './crypto.js';
import { ErrorCodes, MteDecodeError } from './errors.js';

const BLOB_BATCH = 64; // sealed chunks per Blob piece (about 4 MiB)

const isType = (v, name) => Object.prototype.toString.call(v) === `[object ${name}]`;
const isBlob = (v) => typeof Blob !== 'undefined' && (v instanceof Blob || isType(v, 'Blob') || isType(v, 'File'));
const isFormData = (v) => typeof FormData !== 'undefined' && (v instanceof FormData || isType(v, 'FormData'));
const isParams = (v) => typeof URLSearchParams !== 'undefined' && (v instanceof URLSearchParams || isType(v, 'URLSearchParams'));
export const isStream = (v) => typeof ReadableStream !== 'undefined' && (v instanceof ReadableStream || isType(v, 'ReadableStream'));
const isBufferSource = (v) => ArrayBuffer.isView(v) || isType(v, 'ArrayBuffer') || isType(v, 'SharedArrayBuffer');

/**
 * Turns any fetch BodyInit into a Blob (re-readable, so a retry can re-send it)
 * and the content-type fetch itself would have given it.  Returns null for no
 * body.  FormData is serialized by the platform (new Request), so the
 * multipart body and its boundary are exactly what fetch would send.
 * A ReadableStream is read once into a Blob: it cannot be read twice, and its
 * length must be known to seal and send it.
 */
export async function normalizeBody(body) {
  if (body === null || body === undefined) return null;
  if (typeof body === 'string') return { blob: new Blob([body]), contentType: 'text/plain;charset=UTF-8' };
  if (isParams(body)) return { blob: new Blob([body.toString()]), contentType: 'application/x-www-form-urlencoded;charset=UTF-8' };
  if (isBlob(body)) return { blob: body, contentType: body.type || null };
  if (isBufferSource(body)) return { blob: new Blob([asBytes(body)]), contentType: null };
  if (isFormData(body)) {
    const req = new Request('http://mte-relay.invalid/', { method: 'POST', body });
    return { blob: await req.blob(), contentType: req.headers.get('content-type') };
  }
  if (isStream(body)) {
    const parts = [];
    const reader = body.getReader();
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      if (!isBufferSource(value)) throw new TypeError('mteFetch: a ReadableStream body must yield Uint8Array chunks');
      parts.push(asBytes(value).slice());
    }
    return { blob: new Blob(parts), contentType: null };
  }
  // fetch stringifies anything else (numbers, objects with toString).
  return { blob: new Blob([String(body)]), contentType: 'text/plain;charset=UTF-8' };
}

async function readSlice(blob, start, end) {
  return new Uint8Array(await blob.slice(start, end).arrayBuffer());
}

/** Seals chunk i of a plaintext Blob as the body item. */
async function sealBodyChunk(blob, key, aad, i, n) {
  const start = i * CHUNK_PLAIN;
  const end = Math.min(blob.size, start + CHUNK_PLAIN);
  const plain = await readSlice(blob, start, end);
  return sealChunk(key, ITEM_BODY, i === n - 1, i, aad, plain);
}

/**
 * The sealed body as a ReadableStream that seals one 64 KiB chunk per pull:
 * constant memory whatever the size (used where fetch can stream a request
 * body over HTTP/1.1, i.e. Node).
 */
export function sealedBodyStream(blob, key, aad) {
  const n = chunkCount(blob.size);
  let i = 0;
  return new ReadableStream({
    async pull(ctl) {
      ctl.enqueue(await sealBodyChunk(blob, key, aad, i, n));
      i += 1;
      if (i === n) ctl.close();
    },
  }, { highWaterMark: 1 });
}

/**
 * The sealed body as a Blob, sealed slice by slice.  Browsers cannot stream a
 * request body over HTTP/1.1, so they get a Blob: only one plaintext chunk is
 * in JS memory at a time, and the browser's blob store holds the rest.
 */
export async function sealedBodyBlob(blob, key, aad, signal) {
  const n = chunkCount(blob.size);
  const pieces = [];
  let batch = [];
  for (let i = 0; i < n; i++) {
    if (signal && signal.aborted) throw abortReason(signal);
    batch.push(await sealBodyChunk(blob, key, aad, i, n));
    // Hand every 4 MiB to the blob store so sealed bytes do not pile up in the JS heap.
    if (batch.length === BLOB_BATCH) { pieces.push(new Blob(batch)); batch = []; }
  }
  if (batch.length) pieces.push(new Blob(batch));
  return new Blob(pieces);
}

export function abortReason(signal) {
  if (signal.reason !== undefined) return signal.reason;
  return new DOMException('This operation was aborted', 'AbortError');
}

/**
 * A TransformStream from the sealed response body to its plaintext.  It keeps
 * at most one wire chunk (65552 bytes) buffered: a full 65552-byte piece is
 * never the final chunk (a final one holds at most 65535 + 16 bytes), and what
 * remains when the input ends is the final chunk.  An input that ends without
 * an authentic final chunk errors the stream: truncation is never reported as
 * a normal end.
 */
export function createBodyOpener(key, aad) {
  const pending = [];
  let pendingLen = 0;
  let index = 0;

  function take(n) {
    const out = new Uint8Array(n);
    let o = 0;
    while (o < n) {
      const p = pending[0];
      const k = Math.min(p.length, n - o);
      out.set(k === p.length ? p : p.subarray(0, k), o);
      o += k;
      if (k === p.length) pending.shift(); else pending[0] = p.subarray(k);
    }
    pendingLen -= n;
    return out;
  }

  return new TransformStream({
    async transform(chunk, ctl) {
      const b = asBytes(chunk);
      if (b.length === 0) return;
      pending.push(b);
      pendingLen += b.length;
      while (pendingLen >= CHUNK_WIRE) {
        const sealed = take(CHUNK_WIRE);
        let plain;
        try {
          plain = await openChunk(key, ITEM_BODY, false, index, aad, sealed);
        } catch (e) {
          throw new MteDecodeError(ErrorCodes.RESPONSE_INVALID,
            `response body chunk ${index} failed authentication (tampered or not for this request)`, { cause: e });
        }
        index += 1;
        ctl.enqueue(plain);
      }
    },
    async flush(ctl) {
      if (pendingLen < TAG_LEN) {
        throw new MteDecodeError(ErrorCodes.TRUNCATED,
          `response body truncated: it ended after ${index} chunk(s) without its final chunk`);
      }
      const sealed = take(pendingLen);
      let plain;
      try {
        plain = await openChunk(key, ITEM_BODY, true, index, aad, sealed);
      } catch (e) {
        throw new MteDecodeError(ErrorCodes.TRUNCATED,
          `response body truncated or tampered: its last ${sealed.length} bytes are not a valid final chunk ${index}`, { cause: e });
      }
      if (plain.length) ctl.enqueue(plain);
    },
  });
}

const RECORD_HEADER = 4;

/**
 * A TransformStream from a framed response body (PROTOCOL.md section 13:
 * records u32be(L | final << 31) || chunk) to its plaintext, each record's
 * plaintext passed on as soon as it authenticates.  A record out of order,
 * repeated, dropped, resized or cut, bytes after the final record, and a
 * body that ends without it all error the stream.
 */
export function createFramedOpener(key, aad) {
  let buf = new Uint8Array(0);   // unread bytes are buf[off..]
  let off = 0;
  let index = 0;
  let done = false;

  function append(b) {
    const rest = buf.length - off;
    if (rest === 0) { buf = b; off = 0; return; }
    const next = new Uint8Array(rest + b.length);
    next.set(buf.subarray(off), 0);
    next.set(b, rest);
    buf = next;
    off = 0;
  }

  return new TransformStream({
    async transform(chunk, ctl) {
      const b = asBytes(chunk);
      if (b.length === 0) return;
      if (done) {
        throw new MteDecodeError(ErrorCodes.RESPONSE_INVALID, 'response body has bytes after its final record');
      }
      append(b);
      // Every whole record in hand is opened at once (in parallel, passed on
      // in order): a bulk stream costs one round of WebCrypto per read.
      const opening = [];
      while (!done && buf.length - off >= RECORD_HEADER) {
        const head = ((buf[off] << 24) | (buf[off + 1] << 16) | (buf[off + 2] << 8) | buf[off + 3]) >>> 0;
        const final = head >>> 31 === 1;
        const len = head & 0x7fffffff;
        if (len < TAG_LEN || len > CHUNK_WIRE) {
          throw new MteDecodeError(ErrorCodes.RESPONSE_INVALID, `response body record ${index} has an invalid length ${len}`);
        }
        if (buf.length - off < RECORD_HEADER + len) break;
        const sealed = buf.subarray(off + RECORD_HEADER, off + RECORD_HEADER + len);
        const i = index;
        off += RECORD_HEADER + len;
        opening.push(openChunk(key, ITEM_FRAMED, final, i, aad, sealed).catch((e) => {
          throw new MteDecodeError(ErrorCodes.RESPONSE_INVALID,
            `response body record ${i} failed authentication (tampered, reordered or not for this request)`, { cause: e });
        }));
        index += 1;
        done = final;
      }
      if (done && buf.length > off) {
        await Promise.allSettled(opening);
        throw new MteDecodeError(ErrorCodes.RESPONSE_INVALID, 'response body has bytes after its final record');
      }
      const results = await Promise.allSettled(opening);
      for (const r of results) {
        if (r.status === 'rejected') throw r.reason;
        if (r.value.length) ctl.enqueue(r.value);
      }
    },
    flush() {
      if (!done) {
        throw new MteDecodeError(ErrorCodes.TRUNCATED,
          `response body truncated: it ended after ${index} record(s) without its final record`);
      }
    },
  });
}

/**
 * The wire body, with a connection lost mid-body reported as truncation (a
 * MteDecodeError with code TRUNCATED, the network error as its cause) rather
 * than as a bare TypeError; an abort stays the signal's reason.
 */
export function guardWireBody(body, signal) {
  const reader = body.getReader();
  return new ReadableStream({
    async pull(ctl) {
      let r;
      try {
        r = await reader.read();
      } catch (e) {
        if (signal && signal.aborted) throw abortReason(signal);
        throw new MteDecodeError(ErrorCodes.TRUNCATED,
          `response body truncated: the connection to the relay was lost (${e && e.message ? e.message : e})`, { cause: e });
      }
      if (r.done) ctl.close(); else ctl.enqueue(r.value);
    },
    cancel(reason) { return reader.cancel(reason); },
  }, { highWaterMark: 0 });
}

/** A stream that errors at once (a body promised by flag b but absent). */
export function erroredStream(err) {
  return new ReadableStream({ start(ctl) { ctl.error(err); } });
}

