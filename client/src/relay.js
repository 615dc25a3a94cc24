// relay.js - HTTP to the relay: the header names and statuses the client
// parts share (protocol.md "The relay header", "Error statuses"), and fetch
// with a network failure reported as MteNetworkError.

import { abortReason } from './body.js';
import { ErrorCodes, MteNetworkError } from './errors.js';

export const HDR = 'x-mte-relay';
export const HDR_EH = 'x-mte-relay-eh';
export const SIGNED_ID_RE = /^([0-9a-f]{32})\.[0-9a-f]{64}$/;
export const STATUS_BAD_CLIENT_ID = 566;

/** The page's URL, the base of relative request URLs (none in Node). */
export function baseUrl() {
  try { return globalThis.location && globalThis.location.href ? globalThis.location.href : undefined; } catch { return undefined; }
}

function pageOrigin() {
  try { return globalThis.location && globalThis.location.origin ? globalThis.location.origin : null; } catch { return null; }
}

/** The origin of a relay's base (origin + pathPrefix, see client.js). */
function originOf(base) {
  try { return new URL(base).origin; } catch { return base; }
}

function networkError(err, base, what) {
  const page = pageOrigin();
  const origin = originOf(base);
  if (page && page !== origin) {
    return new MteNetworkError(ErrorCodes.CORS,
      `${what}: could not reach the relay at ${origin}, or it refused this page's origin (CORS): ` +
      `check that the relay is up and that its CORS_ORIGINS lists ${page}`, { cause: err });
  }
  return new MteNetworkError(ErrorCodes.RELAY_UNREACHABLE,
    `${what}: could not reach the relay at ${base}: ${err && err.message ? err.message : err}`, { cause: err });
}

/**
 * relayFetch(url, init, origin, what) over fetchImpl: an abort rejects with
 * the signal's reason, a network failure (fetch's TypeError) with an
 * MteNetworkError saying what was being done.
 */
export function createRelayFetch(fetchImpl) {
  return async function relayFetch(url, init, origin, what) {
    try {
      return await fetchImpl(url, init);
    } catch (e) {
      if (init.signal && init.signal.aborted) throw abortReason(init.signal);
      if (e instanceof TypeError) throw networkError(e, origin, what);
      throw e;
    }
  };
}

/** Drops a response body that will not be read. */
export function discard(res) {
  if (res && res.body) res.body.cancel().catch(() => {});
}
