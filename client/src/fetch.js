// fetch.js - mteFetch, the fetch() adapter (protocol.md "Client rules"): a
// fetch input and init become one protected request, sent with the origin's
// identity and a pair of its pool; the answer becomes a Response.  A refusal
// 559-570 is retried once as the error table says: 559-565, 567 and 568 with
// a new pair, 570 (replay) as it is, 566 with a new client id.  A redirect
// is followed as fetch follows one (redirect.js), each hop a new protected
// request.

import { abortReason, isStream, normalizeBody } from './body.js';
import { ErrorCodes, MteDecodeError, MtePairingError, MteRelayError, describeRelayError, readRelayError } from './errors.js';
import { checkOptions, normalizePathPrefix, translateOptions } from './options.js';
import { REDIRECT_MODES, markRedirected, nextHop } from './redirect.js';
import { HDR, STATUS_BAD_CLIENT_ID, baseUrl, discard } from './relay.js';
import { verifyAnswerTag } from './crypto.js';
import { openResponse, responseEcho, sealRequest, splitHeaders } from './seal.js';

// Statuses after which the pair is dropped, a new one made, and the request retried once.
const REPAIR_STATUSES = new Set([559, 560, 561, 562, 563, 564, 565, 567, 568]);
const STATUS_NO_PAIR = 560;
const STATUS_REPLAY = 570;
const HDR_AUTH = 'x-mte-relay-auth';
// RFC 9110 section 9.2.2: sending these again does what sending them once does.
const IDEMPOTENT = new Set(['GET', 'HEAD', 'OPTIONS', 'TRACE', 'PUT', 'DELETE']);

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

/** fetch's (input, init) as {url, method, headers, body, bodyIsStream, redirect, signal, pass}, refused where fetch would refuse it. */
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
  const redirect = init.redirect !== undefined ? init.redirect : (isReq && input.redirect ? input.redirect : 'follow');
  if (!REDIRECT_MODES.includes(redirect)) {
    throw new TypeError(`mteFetch: redirect must be 'follow', 'manual' or 'error', not ${JSON.stringify(String(redirect))}`);
  }
  const signal = init.signal !== undefined ? init.signal : (isReq ? input.signal : undefined);
  const pass = {};
  for (const k of ['credentials', 'mode', 'cache', 'referrer', 'referrerPolicy', 'keepalive', 'priority']) {
    if (init[k] !== undefined) pass[k] = init[k];
    else if (isReq && input[k] !== undefined && k !== 'referrer' && k !== 'mode') pass[k] = input[k];
  }
  return { url, method, headers, body, bodyIsStream: isStream(body), redirect, signal: signal || undefined, pass };
}

/** How req is protected: its headers split into meta and clear, and the path the relay is mounted under. */
function protection(req, mteOptions, config) {
  const encodeUrls = mteOptions.encodeUrls !== undefined ? mteOptions.encodeUrls : config.encodeUrls;
  const encodeHeaders = mteOptions.encodeHeaders !== undefined ? mteOptions.encodeHeaders : config.encodeHeaders;
  const pathPrefix = mteOptions.pathPrefix !== undefined ? normalizePathPrefix(mteOptions.pathPrefix) : config.pathPrefix;
  const { meta, clear } = splitHeaders(req.headers, encodeHeaders);
  return { encodeUrls, metaHeaders: meta, clearHeaders: clear, streamUploads: mteOptions.streamUploads, pathPrefix };
}

/** The request to protect: resolved, its body read into a Blob, its headers split into meta and clear. */
async function prepareRequest(input, init, mteOptions, config) {
  checkOptions(mteOptions, 'mteFetch');
  const req = resolveRequest(input, init);
  if (req.signal && req.signal.aborted) throw abortReason(req.signal);
  const normalized = await withAbort(
    normalizeBody(req.body instanceof Request ? await req.body.blob() : req.body), req.signal);
  if (normalized && normalized.contentType && !req.headers.has('content-type')) {
    req.headers.set('content-type', normalized.contentType);
  }
  return { req, body: normalized ? normalized.blob : null };
}

/**
 * The mteFetch of a client.  parts: config (options.js), originState(origin)
 * (the state of one relay origin), relayFetch (relay.js), identities
 * (identity.js) and pairing (pairing.js).
 */
export function createMteFetch({ config, originState, relayFetch, identities, pairing, warnOnce }) {
  async function sendOnce(st, req, opts, body, attemptState) {
    const { signal } = req;
    const identity = await withAbort(identities.getIdentity(st), signal);
    const pair = await withAbort(pairing.getPair(st, identity, attemptState.preferredSlot), signal);
    const seq = ++pair.seq;
    const stream = config.streamUploads && opts.streamUploads !== false;
    const wire = await sealRequest(st.origin, identity, pair, seq, req, opts, body, stream);
    const res = await relayFetch(wire.url, wire.init, st.origin, wire.what);
    return { res, identity, pair, seq, mkRes: wire.mkRes };
  }

  /**
   * What to do with a refusal of the relay (PROTOCOL.md sections 9 and 11):
   * 'repair' (drop the pair, retry once), 'again' (retry once, fresh seq),
   * 'identity' (forget the client id, retry once), or an error to throw.
   * authenticated: sealed by the relay or carrying its valid tag.
   */
  function refusal(status, authenticated, method, relayError) {
    if (!IDEMPOTENT.has(method)) {
      // A POST runs at most once: only a refusal that proves the relay did
      // not take it (an authenticated 560 or 566) lets it go again.
      if (!authenticated) {
        return new MteDecodeError(ErrorCodes.UNAUTHENTICATED_ANSWER,
          `the relay's refusal ${describeRelayError(status, relayError)} is not authenticated (it may come from a party on the way), so the ${method} is not sent again`,
          { status, relayError });
      }
      if (status === STATUS_REPLAY) {
        return new MteDecodeError(ErrorCodes.ALREADY_RECEIVED,
          `the relay had already received this request (a replayed sequence number): it may have been performed, so the ${method} is not sent again`,
          { status, relayError });
      }
      if (status !== STATUS_NO_PAIR && status !== STATUS_BAD_CLIENT_ID) {
        return new MteDecodeError(ErrorCodes.DECODE_FAILED,
          `the relay refused the protected request: ${describeRelayError(status, relayError)}`, { status, relayError });
      }
    }
    if (REPAIR_STATUSES.has(status)) return 'repair';
    if (status === STATUS_REPLAY) return 'again';
    if (status === STATUS_BAD_CLIENT_ID) return 'identity';
    return new MteDecodeError(ErrorCodes.DECODE_FAILED,
      `the relay refused the protected request: ${describeRelayError(status, relayError)}`, { status, relayError });
  }

  /** true when a clear refusal carries the relay's tag for this request (extension a). */
  async function tagged(sent, req, res) {
    const { pair, identity, seq } = sent;
    const header = res.headers.get(HDR_AUTH);
    if (!pair.answerKey || !header) return false;
    for (const tag of header.split(',')) {
      if (await verifyAnswerTag(pair.answerKey, tag.trim(), identity.clientId, pair.pairId, seq, req.method, res.status)) return true;
    }
    return false;
  }

  /** One protected request and its answer, with the protocol's one retry. */
  async function fetchProtected(req, opts, body) {
    // The relay is at the URL's origin, under pathPrefix; the URL's path is the upstream's.
    const st = originState(req.url.origin + opts.pathPrefix);
    const attemptState = { preferredSlot: undefined };

    for (let attempt = 0; ; attempt++) {
      const last = attempt >= 1;
      let sent;
      try {
        sent = await sendOnce(st, req, opts, body, attemptState);
      } catch (e) {
        // A stale client id found while pairing: forget it and start over, once.
        if (!last && e instanceof MtePairingError && e.status === STATUS_BAD_CLIENT_ID) {
          if (st.current) identities.forgetIdentity(st, st.current);
          continue;
        }
        throw e;
      }
      const { res, identity, pair } = sent;
      if (res.redirected) {
        // The platform followed a Location in the clear: the relay never
        // sends one, so a party on the way added it.  Never a reason to retry.
        discard(res);
        throw new MteDecodeError(ErrorCodes.RESPONSE_INVALID,
          'the answer was redirected on the way (a Location in the clear, which the relay never sends)', { status: res.status });
      }
      let status; let relayError; let authenticated;
      if (res.headers.has(HDR)) {
        const echo = responseEcho(sent);
        identities.refreshSignedId(st, identity, echo.signedId);
        const { response, fromRelay } = await openResponse(sent, req, echo.flags);
        if (!fromRelay || response.status < 559 || response.status > 570) return response;
        // A refusal the relay sealed (extension a): authentic by construction.
        status = response.status;
        relayError = await readRelayError(response);
        authenticated = true;
      } else {
        // No relay header: the relay refused the request before accepting it.
        status = res.status;
        authenticated = status >= 559 && status <= 570 && await tagged(sent, req, res);
        relayError = await readRelayError(res);
        if (status < 559 || status > 570) {
          throw new MteDecodeError(ErrorCodes.RELAY_REJECTED,
            `the relay answered ${describeRelayError(status, relayError)} without protection`, { status, relayError });
        }
      }
      const action = refusal(status, authenticated, req.method, relayError);
      if (action instanceof Error || last) {
        if (!(action instanceof Error)) {
          throw new MteDecodeError(ErrorCodes.DECODE_FAILED,
            `the relay refused the protected request: ${describeRelayError(status, relayError)}`, { status, relayError });
        }
        if (!authenticated) pairing.dropPair(st, identity, pair);
        throw action;
      }
      if (action === 'repair') {
        pairing.dropPair(st, identity, pair);
        attemptState.preferredSlot = pair.slot;
        continue;
      }
      if (action === 'again') { attemptState.preferredSlot = pair.slot; continue; }
      identities.forgetIdentity(st, identity);   // 'identity'
    }
  }

  return async function mteFetch(input, init, mteOptions) {
    mteOptions = translateOptions(mteOptions || {}, 'mteFetch', warnOnce);
    let { req, body } = await prepareRequest(input, init || {}, mteOptions, config);
    const crossOrigin = mteOptions.crossOriginRedirect !== undefined ? mteOptions.crossOriginRedirect : config.crossOriginRedirect;

    for (let hops = 0; ; hops++) {
      const res = await fetchProtected(req, protection(req, mteOptions, config), body);
      const next = nextHop(res, req, body, hops, crossOrigin);
      if (!next) return markRedirected(res, hops);
      ({ req, body } = next);
    }
  };
}
