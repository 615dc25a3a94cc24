// client.js - mteFetch: fetch() through an mte-relay (protocol.md "Client rules").
//
// State per relay origin: the signed client id (also in localStorage when the
// platform has it) and, in memory only, numberOfPairs pairs made by one
// POST /api/mte-pair.  Requests spread over the pairs round-robin; each pair
// numbers its requests with its own counter, so any number may be in flight.

import { ml_kem768_x25519 as xwing } from '@noble/post-quantum/hybrid.js';
import { b64uDecode, b64uEncode, utf8Decode, utf8Encode } from './codec.js';
import {
  ITEM_META, derivePairKeys, messageKeys, openChunk, pairInfo, randomBytes,
  requestAad, responseAad, sealChunk, wireLength, CHUNK_PLAIN,
} from './crypto.js';
import {
  abortReason, createBodyOpener, erroredStream, guardWireBody, normalizeBody, sealedBodyBlob, sealedBodyStream,
} from './body.js';
import { ErrorCodes, MteDecodeError, MteNetworkError, MtePairingError, MteRelayError } from './errors.js';

const HDR = 'x-mte-relay';
const HDR_EH = 'x-mte-relay-eh';
const STORAGE_PREFIX = 'mte-relay:clientId:';
const SIGNED_ID_RE = /^([0-9a-f]{32})\.[0-9a-f]{64}$/;
const MAX_PAIRS_PER_CALL = 16;            // protocol.md: 1..16 entries per pairing
const PAIR_ID_BYTES = 24;                 // 32 base64url characters
const PERSONALIZATION_LEN = 32;           // printable ASCII characters
const MAX_META_PLAIN = CHUNK_PLAIN - 1;   // the meta item is one final chunk
const MAX_ERROR_BODY = 64 * 1024;         // bytes of a relay error body we read
const STREAM_UPLOAD_MIN = 1024 * 1024;    // smaller bodies go as one Blob anyway

// Statuses after which the pair is dropped, a new one made, and the request retried once.
const REPAIR_STATUSES = new Set([559, 560, 561, 562, 563, 564, 565, 567, 568]);
const STATUS_REPLAY = 570;
const STATUS_BAD_CLIENT_ID = 566;

// Never sent in meta nor in the clear: the relay and fetch own them.
const DROPPED_REQUEST_HEADERS = new Set([
  HDR, HDR_EH, 'content-length', 'host', 'connection', 'keep-alive', 'transfer-encoding',
  'te', 'trailer', 'upgrade', 'proxy-connection',
]);
// Wire response headers that describe the sealed transport, not the response.
const DROPPED_RESPONSE_HEADERS = new Set([HDR, HDR_EH, 'content-length', 'transfer-encoding', 'content-encoding']);
const NULL_BODY_STATUSES = new Set([101, 103, 204, 205, 304]);
const DECOMPRESSIBLE = new Set(['gzip', 'x-gzip', 'deflate']);

function printableRandom(n) {
  // 95 printable characters 0x20..0x7e; rejection sampling keeps them uniform.
  let out = '';
  while (out.length < n) {
    for (const b of randomBytes(n)) {
      if (b < 190 && out.length < n) out += String.fromCharCode(0x20 + (b % 95));
    }
  }
  return out;
}

function isNode() {
  return typeof process !== 'undefined' && process.versions != null && typeof process.versions.node === 'string';
}

function defaultStorage() {
  const mem = new Map();
  let ls;
  const local = () => {
    if (ls === undefined) {
      ls = null;
      try {
        const s = globalThis.localStorage;
        if (s && typeof s.getItem === 'function') {
          s.setItem('mte-relay:probe', '1');
          s.removeItem('mte-relay:probe');
          ls = s;
        }
      } catch { ls = null; }
    }
    return ls;
  };
  return {
    get(k) {
      try { const s = local(); if (s) { const v = s.getItem(k); if (v !== null) return v; } } catch { /* memory */ }
      return mem.has(k) ? mem.get(k) : null;
    },
    set(k, v) { mem.set(k, v); try { const s = local(); if (s) s.setItem(k, v); } catch { /* memory only */ } },
    remove(k) { mem.delete(k); try { const s = local(); if (s) s.removeItem(k); } catch { /* memory only */ } },
  };
}

function memoryStorage() {
  const mem = new Map();
  return {
    get: (k) => (mem.has(k) ? mem.get(k) : null),
    set: (k, v) => { mem.set(k, v); },
    remove: (k) => { mem.delete(k); },
  };
}

function withAbort(promise, signal) {
  if (!signal) return promise;
  if (signal.aborted) return Promise.reject(abortReason(signal));
  return new Promise((resolve, reject) => {
    const onAbort = () => reject(abortReason(signal));
    signal.addEventListener('abort', onAbort, { once: true });
    promise.then(
      (v) => { signal.removeEventListener('abort', onAbort); resolve(v); },
      (e) => { signal.removeEventListener('abort', onAbort); reject(e); },
    );
  });
}

function normalizeMethod(m) {
  const s = String(m);
  const up = s.toUpperCase();
  // fetch upper-cases only these; any other method goes on the wire as given.
  return ['DELETE', 'GET', 'HEAD', 'OPTIONS', 'POST', 'PUT'].includes(up) ? up : s;
}

function baseUrl() {
  try { return globalThis.location && globalThis.location.href ? globalThis.location.href : undefined; } catch { return undefined; }
}

function pageOrigin() {
  try { return globalThis.location && globalThis.location.origin ? globalThis.location.origin : null; } catch { return null; }
}

/**
 * The request-target: path and query, never the fragment.  An empty query
 * ("/p?") is dropped: browsers send the bare "?" and Node's fetch does not, so
 * the wire URL is built from this target and both send the same bytes.
 */
export function requestTarget(url) {
  return (url.pathname || '/') + url.search;
}

async function readRelayError(res) {
  let text = '';
  try {
    if (res.body) {
      const reader = res.body.getReader();
      const parts = [];
      let n = 0;
      for (;;) {
        const { done, value } = await reader.read();
        if (done) break;
        parts.push(value);
        n += value.length;
        if (n >= MAX_ERROR_BODY) { reader.cancel().catch(() => {}); break; }
      }
      const all = new Uint8Array(Math.min(n, MAX_ERROR_BODY));
      let o = 0;
      for (const p of parts) { const k = Math.min(p.length, all.length - o); all.set(p.subarray(0, k), o); o += k; if (o >= all.length) break; }
      text = new TextDecoder().decode(all);
    }
  } catch { /* the status alone still says what happened */ }
  try {
    const j = JSON.parse(text);
    if (j && typeof j === 'object') return j;
  } catch { /* not JSON */ }
  return text ? { error: text.slice(0, 512) } : undefined;
}

function describeRelayError(status, relayError) {
  const msg = relayError && typeof relayError.error === 'string' ? relayError.error : 'no error message';
  return `${status} ${msg}`;
}

function discard(res) {
  if (res && res.body) res.body.cancel().catch(() => {});
}

function checkOptions(o, where) {
  if (o.encodeUrls !== undefined && typeof o.encodeUrls !== 'boolean') throw new TypeError(`${where}: encodeUrls must be a boolean`);
  if (o.encodeHeaders !== undefined && typeof o.encodeHeaders !== 'boolean' &&
      !(Array.isArray(o.encodeHeaders) && o.encodeHeaders.every((h) => typeof h === 'string'))) {
    throw new TypeError(`${where}: encodeHeaders must be true, false or an array of header names`);
  }
  if (o.numberOfPairs !== undefined &&
      !(Number.isInteger(o.numberOfPairs) && o.numberOfPairs >= 1 && o.numberOfPairs <= MAX_PAIRS_PER_CALL)) {
    throw new TypeError(`${where}: numberOfPairs must be an integer from 1 to ${MAX_PAIRS_PER_CALL}`);
  }
}

/**
 * Creates an independent client.  env (for tests and embedding):
 *   fetch: the fetch to use (default globalThis.fetch)
 *   storage: {get,set,remove} for signed client ids, or null for memory only
 *            (default: localStorage when present, memory otherwise)
 *   streamUploads: send large bodies as a streamed request body (default: in Node)
 */
export function createClient(env = {}) {
  const fetchImpl = env.fetch || ((...a) => globalThis.fetch(...a));
  const storage = env.storage === null ? memoryStorage() : (env.storage || defaultStorage());
  const config = {
    encodeUrls: true,
    encodeHeaders: true,
    numberOfPairs: 1,
    streamUploads: env.streamUploads !== undefined ? !!env.streamUploads : isNode(),
  };
  const origins = new Map();

  function originState(origin) {
    let st = origins.get(origin);
    if (!st) { st = { origin, identity: null, current: null }; origins.set(origin, st); }
    return st;
  }

  function networkError(err, origin, what) {
    const page = pageOrigin();
    if (page && page !== origin) {
      return new MteNetworkError(ErrorCodes.CORS,
        `${what}: could not reach the relay at ${origin}, or it refused this page's origin (CORS): ` +
        `check that the relay is up and that its CORS_ORIGINS lists ${page}`, { cause: err });
    }
    return new MteNetworkError(ErrorCodes.RELAY_UNREACHABLE,
      `${what}: could not reach the relay at ${origin}: ${err && err.message ? err.message : err}`, { cause: err });
  }

  async function relayFetch(url, init, origin, what) {
    try {
      return await fetchImpl(url, init);
    } catch (e) {
      if (init.signal && init.signal.aborted) throw abortReason(init.signal);
      if (e instanceof TypeError) throw networkError(e, origin, what);
      throw e;
    }
  }

  // ---- identity: the signed client id -------------------------------------

  async function headClientId(origin, signedId) {
    const headers = signedId ? { [HDR]: signedId } : {};
    const res = await relayFetch(`${origin}/api/mte-relay`, { method: 'HEAD', headers }, origin, 'getting a client id');
    discard(res);
    return res;
  }

  async function obtainIdentity(st) {
    const key = STORAGE_PREFIX + st.origin;
    let stored = storage.get(key);
    if (stored && !SIGNED_ID_RE.test(stored)) { storage.remove(key); stored = null; }
    let res = await headClientId(st.origin, stored);
    if (res.status === STATUS_BAD_CLIENT_ID && stored) {
      // Stale or forged stored id (e.g. the relay's secret was rotated): start afresh.
      storage.remove(key);
      res = await headClientId(st.origin, null);
    }
    const signedId = res.headers.get(HDR);
    const m = signedId ? SIGNED_ID_RE.exec(signedId) : null;
    if (res.status !== 200 || !m) {
      throw new MtePairingError(ErrorCodes.CLIENT_ID_FAILED,
        `HEAD ${st.origin}/api/mte-relay answered ${res.status}${m ? '' : ' without a valid signed client id'}`,
        { status: res.status });
    }
    storage.set(key, signedId);
    return { signedId, clientId: m[1], slots: [], rr: 0 };
  }

  function getIdentity(st) {
    if (!st.identity) {
      const p = obtainIdentity(st).then((id) => { if (st.identity === p) st.current = id; return id; });
      st.identity = p;
      p.catch(() => { if (st.identity === p) { st.identity = null; st.current = null; } });
    }
    return st.identity;
  }

  function forgetIdentity(st, identity) {
    if (st.current !== identity) return; // someone already replaced it
    const key = STORAGE_PREFIX + st.origin;
    if (storage.get(key) === identity.signedId) storage.remove(key);
    st.identity = null;
    st.current = null;
  }

  /** The relay re-signs ids (secret rotation); keep the newest form of the same id. */
  function refreshSignedId(st, identity, signedId) {
    if (signedId === identity.signedId) return;
    const m = SIGNED_ID_RE.exec(signedId);
    if (!m || m[1] !== identity.clientId) return;
    identity.signedId = signedId;
    storage.set(STORAGE_PREFIX + st.origin, signedId);
  }

  // ---- pairing ----------------------------------------------------------------

  async function pairCall(st, identity, count) {
    const entries = [];
    const secrets = new Map();
    for (let i = 0; i < count; i++) {
      const seed = randomBytes(32);
      const { publicKey, secretKey } = xwing.keygen(seed);
      seed.fill(0);
      const pairId = b64uEncode(randomBytes(PAIR_ID_BYTES));
      const personalization = printableRandom(PERSONALIZATION_LEN);
      secrets.set(pairId, { secretKey, personalization });
      entries.push({ pairId, publicKey: b64uEncode(publicKey), personalization });
    }
    try {
      const res = await relayFetch(`${st.origin}/api/mte-pair`, {
        method: 'POST',
        headers: { [HDR]: identity.signedId, 'content-type': 'application/json' },
        body: JSON.stringify(entries),
      }, st.origin, 'pairing');
      if (res.status !== 200) {
        const relayError = await readRelayError(res);
        throw new MtePairingError(ErrorCodes.PAIRING_FAILED,
          `pairing with ${st.origin} failed: ${describeRelayError(res.status, relayError)}`,
          { status: res.status, relayError });
      }
      let answer;
      try { answer = await res.json(); } catch (e) {
        throw new MtePairingError(ErrorCodes.PAIRING_FAILED, `pairing with ${st.origin} failed: the answer is not JSON`, { cause: e, status: 200 });
      }
      if (!Array.isArray(answer)) {
        throw new MtePairingError(ErrorCodes.PAIRING_FAILED, `pairing with ${st.origin} failed: the answer is not a JSON array`, { status: 200 });
      }
      const byId = new Map();
      for (const a of answer) if (a && typeof a.pairId === 'string') byId.set(a.pairId, a);
      const pairs = [];
      for (const e of entries) {
        const a = byId.get(e.pairId);
        const { secretKey, personalization } = secrets.get(e.pairId);
        let ct; let nonce;
        try {
          if (!a) throw new Error('missing');
          ct = b64uDecode(a.ciphertext);
          nonce = b64uDecode(a.nonce);
        } catch (err) {
          throw new MtePairingError(ErrorCodes.PAIRING_FAILED, `pairing with ${st.origin} failed: no valid answer for pair ${e.pairId}`, { cause: err, status: 200 });
        }
        if (ct.length !== xwing.lengths.cipherText || nonce.length !== 32) {
          throw new MtePairingError(ErrorCodes.PAIRING_FAILED,
            `pairing with ${st.origin} failed: ciphertext ${ct.length} bytes (want ${xwing.lengths.cipherText}), nonce ${nonce.length} bytes (want 32)`, { status: 200 });
        }
        const ss = xwing.decapsulate(ct, secretKey);
        const keys = await derivePairKeys(ss, nonce, pairInfo(identity.clientId, e.pairId, personalization));
        pairs.push({ pairId: e.pairId, kReq: keys.kReq, kRes: keys.kRes, seq: 0, slot: -1 });
      }
      return pairs;
    } finally {
      for (const { secretKey } of secrets.values()) secretKey.fill(0);
    }
  }

  function makeSlot(promise, index) {
    const slot = { promise: null, pair: null, failed: false };
    slot.promise = promise.then((p) => { p.slot = index; slot.pair = p; return p; });
    slot.promise.catch(() => { slot.failed = true; });
    return slot;
  }

  function fillSlots(st, identity) {
    const n = config.numberOfPairs;
    const all = pairCall(st, identity, n);
    identity.slots = [];
    for (let i = 0; i < n; i++) identity.slots.push(makeSlot(all.then((a) => a[i]), i));
  }

  function replaceSlot(st, identity, i) {
    identity.slots[i] = makeSlot(pairCall(st, identity, 1).then((a) => a[0]), i);
    return identity.slots[i];
  }

  function getPair(st, identity, preferred) {
    if (identity.slots.length === 0 || identity.slots.every((s) => s.failed)) fillSlots(st, identity);
    const i = preferred !== undefined && preferred >= 0 && preferred < identity.slots.length
      ? preferred : identity.rr++ % identity.slots.length;
    let slot = identity.slots[i];
    if (slot.failed) slot = replaceSlot(st, identity, i);
    return slot.promise;
  }

  function dropPair(st, identity, pair) {
    const i = pair.slot;
    if (i >= 0 && identity.slots[i] && identity.slots[i].pair === pair) replaceSlot(st, identity, i);
  }

  // ---- requests ----------------------------------------------------------------

  function resolveRequest(input, init) {
    const isReq = typeof Request !== 'undefined' && input instanceof Request;
    let url;
    try {
      url = new URL(isReq ? input.url : String(input instanceof URL ? input.href : input), baseUrl());
    } catch (e) {
      throw new TypeError(`mteFetch: invalid URL ${JSON.stringify(String(isReq ? input.url : input))}`, { cause: e });
    }
    if (url.username || url.password) {
      throw new TypeError('mteFetch: Request cannot be constructed from a URL that includes credentials');
    }
    if (url.protocol !== 'http:' && url.protocol !== 'https:') {
      throw new MteRelayError(ErrorCodes.UNSUPPORTED, `mteFetch: only http and https URLs can be protected, not ${url.protocol}`);
    }
    const method = normalizeMethod(init.method !== undefined ? init.method : (isReq ? input.method : 'GET'));
    const headers = new Headers(init.headers !== undefined ? init.headers : (isReq ? input.headers : undefined));
    let body = init.body;
    if (body === undefined && isReq && input.body) body = input;
    if (body !== undefined && body !== null && (method === 'GET' || method === 'HEAD')) {
      throw new TypeError('mteFetch: Request with GET/HEAD method cannot have body.');
    }
    if ((init.mode !== undefined ? init.mode : (isReq ? input.mode : undefined)) === 'no-cors') {
      throw new MteRelayError(ErrorCodes.UNSUPPORTED, "mteFetch: mode 'no-cors' cannot carry the relay's headers");
    }
    const signal = init.signal !== undefined ? init.signal : (isReq ? input.signal : undefined);
    const pass = {};
    for (const k of ['credentials', 'mode', 'cache', 'referrer', 'referrerPolicy', 'keepalive', 'priority']) {
      if (init[k] !== undefined) pass[k] = init[k];
      else if (isReq && input[k] !== undefined && k !== 'referrer' && k !== 'mode') pass[k] = input[k];
    }
    return { url, method, headers, body, signal: signal || undefined, pass };
  }

  function splitHeaders(headers, encodeHeaders) {
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

  async function sendOnce(st, req, opts, body, attemptState) {
    const { signal } = req;
    const identity = await withAbort(getIdentity(st), signal);
    const pair = await withAbort(getPair(st, identity, attemptState.preferredSlot), signal);
    const seq = ++pair.seq;
    const flags = (opts.encodeUrls ? 'u' : '') + (body ? 'b' : '');
    const target = requestTarget(req.url);
    const { mkReq, mkRes } = await messageKeys(pair, seq);
    const aad = requestAad(identity.clientId, pair.pairId, seq, flags, req.method, opts.encodeUrls ? '' : target);

    const metaObj = opts.encodeUrls ? { url: target, headers: opts.metaHeaders } : { headers: opts.metaHeaders };
    // The names sent in the clear on purpose: the relay forwards no other
    // clear field than those browsers add themselves, so a hop on the way
    // cannot add fields to the request.
    if (opts.clearHeaders.length) metaObj.clear = [...new Set(opts.clearHeaders.map(([name]) => name))];
    const metaPlain = utf8Encode(JSON.stringify(metaObj));
    if (metaPlain.length > MAX_META_PLAIN) {
      throw new MteRelayError(ErrorCodes.UNSUPPORTED, `mteFetch: the encrypted URL and headers take ${metaPlain.length} bytes, more than ${MAX_META_PLAIN}`);
    }
    const meta = await sealChunk(mkReq, ITEM_META, true, 0, aad, metaPlain);

    const headers = new Headers(opts.clearHeaders);
    headers.set(HDR, `${identity.signedId},${pair.pairId},${seq},${flags}`);
    headers.set(HDR_EH, b64uEncode(meta));
    const init = { method: req.method, headers, signal, redirect: 'manual', ...req.pass };
    if (body) {
      if (config.streamUploads && opts.streamUploads !== false && body.size >= STREAM_UPLOAD_MIN) {
        init.body = sealedBodyStream(body, mkReq, aad);
        init.duplex = 'half';
        headers.set('content-length', String(wireLength(body.size)));
      } else {
        init.body = await sealedBodyBlob(body, mkReq, aad, signal);
      }
    }
    const wireUrl = opts.encodeUrls ? `${st.origin}/` : `${st.origin}${target}`;
    const res = await relayFetch(wireUrl, init, st.origin, `${req.method} ${opts.encodeUrls ? '(encrypted URL)' : target}`);
    return { res, identity, pair, seq, mkRes };
  }

  function verifyEcho(st, identity, pair, seq, res) {
    const echo = res.headers.get(HDR);
    const parts = echo.split(',');
    const m = parts.length === 4 ? SIGNED_ID_RE.exec(parts[0].trim()) : null;
    if (!m || m[1] !== identity.clientId || parts[1].trim() !== pair.pairId || parts[2].trim() !== String(seq) ||
        !/^u?b?$/.test(parts[3].trim())) {
      throw new MteDecodeError(ErrorCodes.RESPONSE_INVALID,
        'the response is not for this request (its x-mte-relay header names another client, pair or sequence number)',
        { status: res.status });
    }
    refreshSignedId(st, identity, parts[0].trim());
    return parts[3].trim();
  }

  async function openResponse(st, sent, req) {
    const { res, identity, pair, seq, mkRes } = sent;
    if (res.type === 'opaqueredirect') {
      throw new MteDecodeError(ErrorCodes.RESPONSE_INVALID, 'the relay answered with a redirect in the clear', { status: res.status });
    }
    const flags = verifyEcho(st, identity, pair, seq, res);
    const aad = responseAad(identity.clientId, pair.pairId, seq, flags, res.status);
    const eh = res.headers.get(HDR_EH);
    let metaJson;
    try {
      if (!eh) throw new Error(`no ${HDR_EH} header`);
      const plain = await openChunk(mkRes, ITEM_META, true, 0, aad, b64uDecode(eh.trim()));
      metaJson = JSON.parse(utf8Decode(plain));
      if (!metaJson || typeof metaJson !== 'object') throw new Error('meta is not a JSON object');
    } catch (e) {
      throw new MteDecodeError(ErrorCodes.RESPONSE_INVALID,
        'the response failed authentication (its encrypted headers do not open for this request: tampered, swapped or its status changed)',
        { cause: e, status: res.status });
    }
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

    let body = null;
    if (flags.includes('b') && !NULL_BODY_STATUSES.has(res.status) && req.method !== 'HEAD') {
      body = res.body
        ? guardWireBody(res.body, req.signal).pipeThrough(createBodyOpener(mkRes, aad), { signal: req.signal })
        : erroredStream(new MteDecodeError(ErrorCodes.TRUNCATED, 'response body missing although the relay announced one', { status: res.status }));
      const enc = (headers.get('content-encoding') || '').trim().toLowerCase();
      if (DECOMPRESSIBLE.has(enc) && typeof DecompressionStream !== 'undefined') {
        // fetch would have decoded an upstream's content-coding; do the same.
        body = body.pipeThrough(new DecompressionStream(enc === 'x-gzip' ? 'gzip' : enc));
        headers.delete('content-encoding');
        headers.delete('content-length');
      }
    } else {
      discard(res);
    }
    const out = new Response(body, { status: res.status, statusText: res.statusText, headers });
    try { Object.defineProperty(out, 'url', { value: req.url.href.split('#')[0], enumerable: true }); } catch { /* read-only */ }
    return out;
  }

  async function mteFetch(input, init, mteOptions) {
    init = init || {};
    mteOptions = mteOptions || {};
    checkOptions(mteOptions, 'mteFetch');
    const req = resolveRequest(input, init);
    if (req.signal && req.signal.aborted) throw abortReason(req.signal);
    const encodeUrls = mteOptions.encodeUrls !== undefined ? mteOptions.encodeUrls : config.encodeUrls;
    const encodeHeaders = mteOptions.encodeHeaders !== undefined ? mteOptions.encodeHeaders : config.encodeHeaders;

    const normalized = await withAbort(
      normalizeBody(req.body instanceof Request ? await req.body.blob() : req.body), req.signal);
    if (normalized && normalized.contentType && !req.headers.has('content-type')) {
      req.headers.set('content-type', normalized.contentType);
    }
    const { meta, clear } = splitHeaders(req.headers, encodeHeaders);
    const opts = { encodeUrls, metaHeaders: meta, clearHeaders: clear, streamUploads: mteOptions.streamUploads };
    const body = normalized ? normalized.blob : null;
    const st = originState(req.url.origin);
    const attemptState = { preferredSlot: undefined };

    for (let attempt = 0; ; attempt++) {
      const last = attempt >= 1;
      let sent;
      try {
        sent = await sendOnce(st, req, opts, body, attemptState);
      } catch (e) {
        // A stale client id found while pairing: forget it and start over, once.
        if (!last && e instanceof MtePairingError && e.status === STATUS_BAD_CLIENT_ID) {
          if (st.current) forgetIdentity(st, st.current);
          continue;
        }
        throw e;
      }
      const { res, identity, pair } = sent;
      if (res.headers.has(HDR)) return openResponse(st, sent, req);

      // No relay header: the relay refused the request before accepting it.
      const relayError = await readRelayError(res);
      const status = res.status;
      if (status >= 559 && status <= 570) {
        if (!last && REPAIR_STATUSES.has(status)) {
          dropPair(st, identity, pair);
          attemptState.preferredSlot = pair.slot;
          continue;
        }
        if (!last && status === STATUS_REPLAY) { attemptState.preferredSlot = pair.slot; continue; }
        if (!last && status === STATUS_BAD_CLIENT_ID) { forgetIdentity(st, identity); continue; }
        throw new MteDecodeError(ErrorCodes.DECODE_FAILED,
          `the relay refused the protected request: ${describeRelayError(status, relayError)}`, { status, relayError });
      }
      throw new MteDecodeError(ErrorCodes.RELAY_REJECTED,
        `the relay answered ${describeRelayError(status, relayError)} without protection`, { status, relayError });
    }
  }

  async function init(options) {
    options = options || {};
    checkOptions(options, 'initMteRelayClient');
    if (options.encodeUrls !== undefined) config.encodeUrls = options.encodeUrls;
    if (options.encodeHeaders !== undefined) config.encodeHeaders = Array.isArray(options.encodeHeaders) ? options.encodeHeaders.slice() : options.encodeHeaders;
    if (options.numberOfPairs !== undefined) config.numberOfPairs = options.numberOfPairs;
    if (options.streamUploads !== undefined) config.streamUploads = !!options.streamUploads;
    const relay = options.relayUrl || options.serverUrl;
    if (relay) {
      // Pair now rather than on the first request.
      const st = originState(new URL(String(relay), baseUrl()).origin);
      const identity = await getIdentity(st);
      await getPair(st, identity);
    }
  }

  return {
    mteFetch,
    initMteRelayClient: init,
    /** For tests: the in-memory state of one origin. */
    _state: (origin) => origins.get(origin),
    _config: config,
  };
}
