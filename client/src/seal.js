// seal.js - one protected request and its answer (protocol.md "The relay
// header", "Items and chunks"): the request's URL and headers sealed as its
// meta item and its body as the body item; the answer's echoed relay header
// checked, its meta opened into headers and its body opened as it streams.

import { b64uDecode, b64uEncode, utf8Decode, utf8Encode } from './codec.js';
import {
  ITEM_META, messageKeys, openChunk, requestAad, responseAad, sealChunk, wireLength, CHUNK_PLAIN,
} from './crypto.js';
import { createBodyOpener, createFramedOpener, erroredStream, guardWireBody, sealedBodyBlob, sealedBodyStream } from './body.js';
import { ErrorCodes, MteDecodeError, MteRelayError } from './errors.js';
import { HDR, HDR_EH, SIGNED_ID_RE, discard } from './relay.js';

const MAX_META_PLAIN = CHUNK_PLAIN - 1;   // the meta item is one final chunk
const STREAM_UPLOAD_MIN = 1024 * 1024;    // smaller bodies go as one Blob anyway

// Never sent in meta nor in the clear: the relay and fetch own them.
const DROPPED_REQUEST_HEADERS = new Set([
  HDR, HDR_EH, 'content-length', 'host', 'connection', 'keep-alive', 'transfer-encoding',
  'te', 'trailer', 'upgrade', 'proxy-connection',
]);
// Wire response headers that describe the sealed transport, not the response.
const DROPPED_RESPONSE_HEADERS = new Set([HDR, HDR_EH, 'x-mte-relay-auth', 'content-length', 'transfer-encoding', 'content-encoding']);
const NULL_BODY_STATUSES = new Set([101, 103, 204, 205, 304]);
const DECOMPRESSIBLE = new Set(['gzip', 'x-gzip', 'deflate']);

/**
 * The request-target: path and query, never the fragment.  An empty query
 * ("/p?") is dropped: browsers send the bare "?" and Node's fetch does not, so
 * the wire URL is built from this target and both send the same bytes.
 */
export function requestTarget(url) {
  return (url.pathname || '/') + url.search;
}

/** The request headers to seal in meta (by name, joined) and to send in the clear. */
export function splitHeaders(headers, encodeHeaders) {
  const meta = {};
  const clear = [];
  const only = Array.isArray(encodeHeaders) ? new Set(encodeHeaders.map((h) => h.toLowerCase())) : null;
  for (const [name, value] of headers) {
    if (DROPPED_REQUEST_HEADERS.has(name)) continue;
    const inMeta = only ? only.has(name) : encodeHeaders === true;
    if (inMeta) meta[name] = name in meta ? `${meta[name]}, ${value}` : value;
    else clear.push([name, value]);
  }
  return { meta, clear };
}

async function sealMeta(mkReq, aad, target, opts) {
  const metaObj = opts.encodeUrls ? { url: target, headers: opts.metaHeaders } : { headers: opts.metaHeaders };
  // The names sent in the clear on purpose: the relay forwards no other
  // clear field than those browsers add themselves, so a hop on the way
  // cannot add fields to the request.
  if (opts.clearHeaders.length) metaObj.clear = [...new Set(opts.clearHeaders.map(([name]) => name))];
  const metaPlain = utf8Encode(JSON.stringify(metaObj));
  if (metaPlain.length > MAX_META_PLAIN) {
    throw new MteRelayError(ErrorCodes.UNSUPPORTED, `mteFetch: the encrypted URL and headers take ${metaPlain.length} bytes, more than ${MAX_META_PLAIN}`);
  }
  return sealChunk(mkReq, ITEM_META, true, 0, aad, metaPlain);
}

/**
 * Seals request req as request seq of pair: the wire {url, init, what} for
 * relayFetch and mkRes, the key of its answer.  opts: {encodeUrls,
 * metaHeaders, clearHeaders}; body: a Blob or null; stream: send a large body
 * as a stream rather than as a Blob.
 */
export async function sealRequest(origin, identity, pair, seq, req, opts, body, stream) {
  const { signal } = req;
  // a: the relay's refusals come sealed or tagged (PROTOCOL.md section 11)
  // s: a stream may come back as records, each as it is written (section 13)
  const flags = (opts.encodeUrls ? 'u' : '') + (body ? 'b' : '') + (pair.answerKey ? 'a' : '') + (pair.stream ? 's' : '');
  const target = requestTarget(req.url);
  const { mkReq, mkRes } = await messageKeys(pair, seq);
  const aad = requestAad(identity.clientId, pair.pairId, seq, flags, req.method, opts.encodeUrls ? '' : target);
  const meta = await sealMeta(mkReq, aad, target, opts);

  const headers = new Headers(opts.clearHeaders);
  headers.set(HDR, `${identity.signedId},${pair.pairId},${seq},${flags}`);
  headers.set(HDR_EH, b64uEncode(meta));
  // 'follow': the relay's 3xx carries its Location sealed, so the platform
  // has nothing to follow (a browser's 'manual' would make every 3xx an
  // opaque response); a Location added on the way is caught by fetch.js.
  const init = { method: req.method, headers, signal, redirect: 'follow', ...req.pass };
  if (body) {
    if (stream && body.size >= STREAM_UPLOAD_MIN) {
      init.body = sealedBodyStream(body, mkReq, aad);
      init.duplex = 'half';
      headers.set('content-length', String(wireLength(body.size)));
    } else {
      init.body = await sealedBodyBlob(body, mkReq, aad, signal);
    }
  }
  const url = opts.encodeUrls ? `${origin}/` : `${origin}${target}`;
  return { url, init, what: `${req.method} ${opts.encodeUrls ? '(encrypted URL)' : target}`, mkRes };
}

/**
 * Checks that a sealed answer is for this request (its x-mte-relay header
 * echoes client id, pair and sequence number); returns its flags and the
 * signed client id it names.
 */
export function responseEcho({ res, identity, pair, seq }) {
  if (res.type === 'opaqueredirect') {
    throw new MteDecodeError(ErrorCodes.RESPONSE_INVALID, 'the relay answered with a redirect in the clear', { status: res.status });
  }
  const echo = res.headers.get(HDR);
  const parts = echo.split(',');
  const m = parts.length === 4 ? SIGNED_ID_RE.exec(parts[0].trim()) : null;
  if (!m || m[1] !== identity.clientId || parts[1].trim() !== pair.pairId || parts[2].trim() !== String(seq) ||
      !/^(b|bs)?$/.test(parts[3].trim())) {
    throw new MteDecodeError(ErrorCodes.RESPONSE_INVALID,
      'the response is not for this request (its x-mte-relay header names another client, pair or sequence number)',
      { status: res.status });
  }
  return { flags: parts[3].trim(), signedId: parts[0].trim() };
}

async function openMeta(res, mkRes, aad) {
  const eh = res.headers.get(HDR_EH);
  try {
    if (!eh) throw new Error(`no ${HDR_EH} header`);
    const plain = await openChunk(mkRes, ITEM_META, true, 0, aad, b64uDecode(eh.trim()));
    const metaJson = JSON.parse(utf8Decode(plain));
    if (!metaJson || typeof metaJson !== 'object') throw new Error('meta is not a JSON object');
    return metaJson;
  } catch (e) {
    throw new MteDecodeError(ErrorCodes.RESPONSE_INVALID,
      'the response failed authentication (its encrypted headers do not open for this request: tampered, swapped or its status changed)',
      { cause: e, status: res.status });
  }
}

/** The clear wire headers but the transport's own, overridden by the sealed ones. */
function responseHeaders(res, metaJson) {
  const headers = new Headers();
  for (const [name, value] of res.headers) if (!DROPPED_RESPONSE_HEADERS.has(name)) headers.append(name, value);
  if (typeof res.headers.getSetCookie === 'function') {
    // Node exposes set-cookie; browsers never do.  Keep them as separate fields.
    headers.delete('set-cookie');
    for (const c of res.headers.getSetCookie()) { try { headers.append('set-cookie', c); } catch { /* forbidden */ } }
  }
  const mh = metaJson.headers && typeof metaJson.headers === 'object' ? metaJson.headers : {};
  for (const name of Object.keys(mh)) {
    const v = mh[name];
    try {
      if (Array.isArray(v)) { headers.delete(name); for (const x of v) headers.append(name, String(x)); } else headers.set(name, String(v));
    } catch { /* a name or value the platform refuses */ }
  }
  return headers;
}

/** The opened body stream (decompressed as fetch would), or null when flags announce none. */
function responseBody(res, headers, flags, req, mkRes, aad) {
  if (!flags.includes('b') || NULL_BODY_STATUSES.has(res.status) || req.method === 'HEAD') {
    discard(res);
    return null;
  }
  let body = res.body
    ? guardWireBody(res.body, req.signal).pipeThrough(flags.includes('s') ? createFramedOpener(mkRes, aad) : createBodyOpener(mkRes, aad), { signal: req.signal })
    : erroredStream(new MteDecodeError(ErrorCodes.TRUNCATED, 'response body missing although the relay announced one', { status: res.status }));
  const enc = (headers.get('content-encoding') || '').trim().toLowerCase();
  if (DECOMPRESSIBLE.has(enc) && typeof DecompressionStream !== 'undefined') {
    // fetch would have decoded an upstream's content-coding; do the same.
    body = body.pipeThrough(new DecompressionStream(enc === 'x-gzip' ? 'gzip' : enc));
    headers.delete('content-encoding');
    headers.delete('content-length');
  }
  return body;
}

/**
 * The Response of a sealed answer whose echo (responseEcho) gave flags, and
 * whether the relay made it itself (its meta says "from": "relay": a refusal
 * of extension a, PROTOCOL.md section 11).
 */
export async function openResponse({ res, identity, pair, seq, mkRes }, req, flags) {
  const aad = responseAad(identity.clientId, pair.pairId, seq, flags, res.status);
  const metaJson = await openMeta(res, mkRes, aad);
  const headers = responseHeaders(res, metaJson);
  const body = responseBody(res, headers, flags, req, mkRes, aad);
  const response = new Response(body, { status: res.status, statusText: res.statusText, headers });
  try { Object.defineProperty(response, 'url', { value: req.url.href.split('#')[0], enumerable: true }); } catch { /* read-only */ }
  return { response, fromRelay: metaJson.from === 'relay' };
}
