// errors.js - what mteFetch throws.  Every error is an MteRelayError (an
// Error) with a stable `code` a UI can switch on, a human `reason`, and where
// known the HTTP `status` and the relay's JSON error body (`relayError`).
// Aborts are not wrapped: they reject with the signal's reason, as fetch does.

export class MteRelayError extends Error {
  constructor(code, reason, extra = {}) {
    super(reason, extra.cause !== undefined ? { cause: extra.cause } : undefined);
    this.name = 'MteRelayError';
    this.code = code;
    this.reason = reason;
    if (extra.status !== undefined) this.status = extra.status;
    if (extra.relayError !== undefined) this.relayError = extra.relayError;
    if (extra.url !== undefined) this.url = extra.url;
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
  DECODE_FAILED: 'DECODE_FAILED',         // the relay answered 559-570 (after the protocol's one retry)
  RELAY_REJECTED: 'RELAY_REJECTED',       // the relay answered a plain (unsealed) HTTP error, e.g. 400/404/413/502
  RESPONSE_INVALID: 'RESPONSE_INVALID',   // the response failed authentication (tampered, swapped, not for this request)
  TRUNCATED: 'TRUNCATED',                 // the response body ended without its authenticated final chunk
  UNSUPPORTED: 'UNSUPPORTED',             // a request the client cannot protect (bad URL, body type)
});
