// redirect.js - what mteFetch does with a 3xx (PROTOCOL.md section 10),
// the Fetch standard's "HTTP-redirect fetch" for protected requests: the
// mode ('follow', 'manual', 'error'), the 20-redirect limit, the method and
// body rewrite, and the rule for a Location on another origin.

import { discard } from './relay.js';
import { ErrorCodes, MteRelayError } from './errors.js';

export const REDIRECT_MODES = ['follow', 'manual', 'error'];
const REDIRECT_STATUSES = new Set([301, 302, 303, 307, 308]);
const MAX_REDIRECTS = 20;   // as fetch: the 21st redirect is a network error
// Fetch's request-body-header names: they go with a dropped body.
const BODY_HEADERS = ['content-encoding', 'content-language', 'content-location', 'content-type'];

/**
 * The next request after response res to req (hops: redirects followed so
 * far), or null when res is the answer.  Throws what fetch would, or an
 * MteRelayError (REDIRECT_OTHER_ORIGIN) for a Location on another origin
 * under crossOrigin 'error'.  req: {url, method, headers, body, bodyIsStream,
 * redirect, signal, pass}; body: the request's Blob or null.
 */
export function nextHop(res, req, body, hops, crossOrigin) {
  const location = REDIRECT_STATUSES.has(res.status) ? res.headers.get('location') : null;
  if (location === null || req.redirect === 'manual') return null;
  if (req.redirect === 'error') {
    discard(res);
    throw new TypeError(`mteFetch: the response is a redirect (${res.status}) and redirect is 'error'`);
  }
  let url;
  try {
    url = new URL(location, req.url);
  } catch (e) {
    discard(res);
    throw new TypeError(`mteFetch: the redirect's Location ${JSON.stringify(location)} is not a URL`, { cause: e });
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    discard(res);
    throw new TypeError(`mteFetch: a redirect to ${url.protocol} cannot be followed`);
  }
  if (hops >= MAX_REDIRECTS) {
    discard(res);
    throw new TypeError(`mteFetch: too many redirects (more than ${MAX_REDIRECTS})`);
  }
  const crossing = url.origin !== req.url.origin;
  if (crossing && crossOrigin === 'manual') return null;
  if (crossing && crossOrigin !== 'follow') {
    discard(res);
    throw new MteRelayError(ErrorCodes.REDIRECT_OTHER_ORIGIN,
      `mteFetch: the answer redirects to another origin (${url.origin}), out of the relay at ${req.url.origin}; ` +
      "not followed (option crossOriginRedirect: 'error')", { status: res.status, location: url.href });
  }
  // A body that was a stream cannot be sent again (fetch: "body's source is null").
  if (res.status !== 303 && body && req.bodyIsStream) {
    discard(res);
    throw new TypeError('mteFetch: cannot follow a redirect with a ReadableStream body');
  }
  discard(res);
  return redirectedRequest(req, body, res.status, url, crossing);
}

/** req sent again to url after status: {req, body}. */
function redirectedRequest(req, body, status, url, crossing) {
  const headers = new Headers(req.headers);
  let { method } = req;
  let nextBody = body;
  if (((status === 301 || status === 302) && method === 'POST') ||
      (status === 303 && method !== 'GET' && method !== 'HEAD')) {
    method = 'GET';
    nextBody = null;
    for (const h of BODY_HEADERS) headers.delete(h);
  }
  // As fetch does across origins: the credentials of one origin stay there.
  if (crossing) headers.delete('authorization');
  return { req: { ...req, url, method, headers, body: nextBody ? req.body : null }, body: nextBody };
}

/** The final Response of a request that followed hops redirects. */
export function markRedirected(res, hops) {
  if (hops > 0) {
    try { Object.defineProperty(res, 'redirected', { value: true, enumerable: true }); } catch { /* read-only */ }
  }
  return res;
}
