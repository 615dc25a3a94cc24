// errors.js - what mteFetch throws.  Every error is an MteRelayError (an
// Error) with a stable `code` a UI can switch on, a human `reason`, and where
// known the HTTP `status` and the relay's JSON error body (`relayError`).
// Aborts are not wrapped: they reject with the signal's reason, as fetch does.
// Also here: reading the error body of a relay's refusal into `relayError`.

export class MteRelayError extends Error {
  constructor(code, reason, extra = {}) {
    super(reason, extra.cause !== undefined ? { cause: extra.cause } : undefined);
    this.name = 'MteRelayError';
    this.code = code;
    this.reason = reason;
    if (extra.status !== undefined) this.status = extra.status;
    if (extra.relayError !== undefined) this.relayError = extra.relayError;
    if (extra.url !== undefined) this.url = extra.url;
    if (extra.location !== undefined) this.location = extra.location;
    if (extra.retryAfter !== undefined) this.retryAfter = extra.retryAfter;
  }
}

/** The relay could not be reached (network, DNS, refused) or the browser blocked it (CORS). */
export class MteNetworkError extends MteRelayError {
  constructor(code, reason, extra) { super(code, reason, extra); this.name = 'MteNetworkError'; }
}

/** Getting a client id or pairing with the relay failed. */
export class MtePairingError extends MteRelayError {
  constructor(code, reason, extra) { super(code, reason, extra); this.name = 'MtePairingError'; }
}

/** The relay refused the protected request, or its response failed authentication. */
export class MteDecodeError extends MteRelayError {
  constructor(code, reason, extra) { super(code, reason, extra); this.name = 'MteDecodeError'; }
}

export const ErrorCodes = Object.freeze({
  RELAY_UNREACHABLE: 'RELAY_UNREACHABLE', // network failure talking to the relay
  CORS: 'CORS',                           // cross-origin browser failure: relay down or origin not in CORS_ORIGINS
  CLIENT_ID_FAILED: 'CLIENT_ID_FAILED',   // HEAD /api/mte-relay did not give a signed client id
  PAIRING_FAILED: 'PAIRING_FAILED',       // POST /api/mte-pair failed or answered something invalid
  PAIRING_RATE_LIMITED: 'PAIRING_RATE_LIMITED', // the relay's pairing limits answered 429: retry after .retryAfter seconds
  DECODE_FAILED: 'DECODE_FAILED',         // the relay answered 559-570 (after the protocol's one retry)
  RELAY_REJECTED: 'RELAY_REJECTED',       // the relay answered a plain (unsealed) HTTP error, e.g. 400/404/413/502
  RESPONSE_INVALID: 'RESPONSE_INVALID',   // the response failed authentication (tampered, swapped, not for this request)
  TRUNCATED: 'TRUNCATED',                 // the response body ended without its authenticated final chunk
  UNSUPPORTED: 'UNSUPPORTED',             // a request the client cannot protect (bad URL, body type)
  REDIRECT_OTHER_ORIGIN: 'REDIRECT_OTHER_ORIGIN', // a redirect to another origin than the relay's (crossOriginRedirect 'error')
  UNAUTHENTICATED_ANSWER: 'UNAUTHENTICATED_ANSWER', // a refusal 559-570 without the relay's tag: not a reason to send a POST again
  ALREADY_RECEIVED: 'ALREADY_RECEIVED',   // the relay had received this request already (570): it may have been performed
  OPTION_CONFLICT: 'OPTION_CONFLICT',     // an option given under two names (ours and the Eclypses client's) with different values
});

const MAX_ERROR_BODY = 64 * 1024; // bytes of a relay error body we read

/** The relay's error body: its JSON object, else {error: <text>}, else undefined. */
export async function readRelayError(res) {
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

export function describeRelayError(status, relayError) {
  const msg = relayError && typeof relayError.error === 'string' ? relayError.error : 'no error message';
  return `${status} ${msg}`;
}
