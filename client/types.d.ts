// Typings of the mte-relay client: the ES module (static/mte-relay-client.mjs,
// and the npm package mte-relay-client) exports what is above the
// "classic-script globals" line; the classic script (mte-relay-client.js)
// defines the globals below it.  client/build.mjs cuts the file at that
// line for the package's module typings.

export interface MteRelayClientOptions {
  /**
   * Send the URL (path and query) inside the encrypted meta; the wire
   * request-target is then "/". Default true.
   */
  encodeUrls?: boolean;
  /**
   * Which request headers travel encrypted: true (default) all of them,
   * false none (all in the clear), or only the listed names (case-insensitive).
   */
  encodeHeaders?: boolean | string[];
  /** Pairs made in one pairing call; requests are spread over them. 1..16, default 1. */
  numberOfPairs?: number;
  /** Pair with this relay now instead of on the first request (a URL; only its origin counts). */
  relayUrl?: string | URL;
  /** Alias of relayUrl. */
  serverUrl?: string | URL;
  /**
   * Send large bodies as a streamed request body (constant memory). Default: on
   * in Node; off in browsers, which cannot stream uploads over HTTP/1.1 and get
   * the sealed body as a Blob instead.
   */
  streamUploads?: boolean;
  /**
   * What a redirect to another origin than the relay's does (redirect 'follow'):
   * 'error' (default) rejects with an MteRelayError of code REDIRECT_OTHER_ORIGIN
   * whose `location` names the target, and nothing is sent there; 'manual'
   * returns the 3xx response with its Location readable; 'follow' treats the
   * other origin as another relay (pairs with it and sends a protected request;
   * Authorization is dropped, as fetch does), so nothing ever leaves unprotected.
   * Redirects within the relay's origin are followed as fetch follows them, each
   * hop a new protected request (see README, "Redirects").
   */
  crossOriginRedirect?: 'error' | 'manual' | 'follow';
  /**
   * Pin the relay's static key (what `mte-relay --generate-relay-key` prints
   * as "public key", base64url), or a list of keys tried in order (rotation).
   * Pairing then also encapsulates to that key and accepts only an answer
   * that proves the relay holds its private key, so a party that answers the
   * pairing in the relay's place is refused (PAIRING_FAILED).  Default: none
   * (pairing unauthenticated).
   */
  relayKey?: string | string[];
  /**
   * The path the relay is mounted under on its origin, when a reverse proxy
   * routes e.g. "/relay/..." to it and strips "/relay": the client then talks
   * to <origin>/relay/api/mte-relay, /relay/api/mte-pair and /relay/, while
   * request URLs name the API path as the upstream sees it
   * (mteFetch('https://app.example/api/orders') reaches UPSTREAM/api/orders).
   * Default "" (the relay at the origin's root).
   */
  pathPrefix?: string;
  /**
   * Where the signed client id of each relay is kept: anything with the
   * shape of localStorage (sessionStorage, or your own; the methods may
   * return promises).  Default: localStorage when present, else memory.
   */
  storage?: MteRelayStorage;
  /** The fetch used to talk to the relay, called as fetch(url, init). Default: globalThis.fetch. */
  fetch?: (input: string, init: RequestInit) => Promise<Response>;

  // Names of the Eclypses client (mte-relay-browser), accepted so that an app
  // moves over unchanged; see README, "Moving from the Eclypses client".
  /** @deprecated The Eclypses name of encodeUrls. */
  encodeUrl?: boolean;
  /** @deprecated The Eclypses name of streamUploads. */
  useStreaming?: boolean;
  /** @deprecated The Eclypses (v3) name of numberOfPairs. */
  numberEncoderDecoderPairs?: number;
  /** @deprecated Ignored (warned about once): mte-relay needs no licence. */
  licenseKey?: string;
  /** @deprecated Ignored (warned about once): mte-relay needs no licence. */
  licenseCompany?: string;
  /** @deprecated Ignored (warned about once): mte-relay needs no licence. */
  companyName?: string;
  /** @deprecated Ignored (warned about once): there are no encoder objects to pool. */
  mtePoolSize?: number;
  /** @deprecated Ignored (warned about once): there are no encoder objects to pool. */
  mkePoolSize?: number;
  /** @deprecated Ignored (warned about once): there are no encoder objects to pool. */
  encoderDecoderPoolSize?: number;
  /** @deprecated Ignored (warned about once): every request gets the same protection. */
  encodeType?: 'MTE' | 'MKE';
  /** @deprecated Ignored (warned about once): every request gets the same protection. */
  defaultEncodeType?: 'MTE' | 'MKE';
}

/** Storage of signed client ids: the shape of localStorage; results may be promises. */
export interface MteRelayStorage {
  getItem(key: string): string | null | Promise<string | null>;
  setItem(key: string, value: string): void | Promise<void>;
  removeItem(key: string): void | Promise<void>;
}

/** Per-request overrides of the client options. */
export interface MteFetchOptions {
  encodeUrls?: boolean;
  encodeHeaders?: boolean | string[];
  /** Per request, only false counts: it turns streamed uploads off for this request. */
  streamUploads?: boolean;
  crossOriginRedirect?: 'error' | 'manual' | 'follow';
  /** The path the relay is mounted under, for this request (see MteRelayClientOptions.pathPrefix). */
  pathPrefix?: string;
  /** @deprecated The Eclypses name of encodeUrls. */
  encodeUrl?: boolean;
  /** @deprecated The Eclypses name of streamUploads. */
  useStreaming?: boolean;
  /** @deprecated Ignored (warned about once): every request gets the same protection. */
  encodeType?: 'MTE' | 'MKE';
}

export type MteRelayErrorCode =
  | 'RELAY_UNREACHABLE' // network failure talking to the relay
  | 'CORS'              // cross-origin failure in a browser: relay down or this origin not in CORS_ORIGINS
  | 'CLIENT_ID_FAILED'  // HEAD /api/mte-relay gave no signed client id
  | 'PAIRING_FAILED'    // POST /api/mte-pair failed or answered something invalid
  | 'PAIRING_RATE_LIMITED' // the relay's pairing limits answered 429: pairing again only after retryAfter seconds
  | 'DECODE_FAILED'     // the relay refused the request with 559-570 (after the one retry)
  | 'RELAY_REJECTED'    // the relay answered a plain, unprotected HTTP error (400, 404, 413, 502...)
  | 'RESPONSE_INVALID'  // the response failed authentication (tampered, swapped, not for this request)
  | 'TRUNCATED'         // the response body ended without its final chunk
  | 'UNSUPPORTED'       // a request that cannot be protected (non-http URL, oversized headers)
  | 'REDIRECT_OTHER_ORIGIN' // a redirect out of the relay's origin, not followed (crossOriginRedirect 'error')
  | 'UNAUTHENTICATED_ANSWER' // a refusal 559-570 without the relay's tag: a POST/PATCH is not sent again
  | 'ALREADY_RECEIVED'       // the relay had received this request already (570): it may have been performed
  | 'OPTION_CONFLICT';       // an option given under two names (ours and the Eclypses client's) with different values

/** Every error mteFetch throws (except aborts, which reject with the signal's reason as fetch does). */
export declare class MteRelayError extends Error {
  readonly name: string;
  readonly code: MteRelayErrorCode;
  /** A sentence for humans. */
  readonly reason: string;
  /** HTTP status of the relay's answer, when there was one. */
  readonly status?: number;
  /** PAIRING_RATE_LIMITED: seconds until the relay takes a pairing from this client again. */
  readonly retryAfter?: number;
  /** The relay's JSON error body, e.g. {"error": "failed to decode", "code": 562}. */
  readonly relayError?: { error?: string; code?: number; [key: string]: unknown };
  /** REDIRECT_OTHER_ORIGIN: the absolute URL the redirect pointed to. */
  readonly location?: string;
  readonly cause?: unknown;
}
export declare class MteNetworkError extends MteRelayError {}
export declare class MtePairingError extends MteRelayError {}
export declare class MteDecodeError extends MteRelayError {}

export declare const ErrorCodes: { readonly [K in MteRelayErrorCode]: K };

/** Sets the defaults of later requests; pairs at once when relayUrl is given. */
export declare function initMteRelayClient(options?: MteRelayClientOptions): Promise<void>;

/**
 * fetch() through an mte-relay: the URL (by default), headers and body are
 * sealed end to end for the relay, which proxies to its UPSTREAM. Resolves to a
 * real Response whose body streams as it is authenticated. init.redirect works
 * as in fetch ('follow', 'manual', 'error'), except that 'manual' gives the 3xx
 * itself with its status and Location readable, not an opaque redirect.
 */
export declare function mteFetch(
  input: string | URL | Request,
  init?: RequestInit,
  mteOptions?: MteFetchOptions,
): Promise<Response>;

/** Options of MteEventSource: EventSource's, plus request headers and the per-request mteOptions. */
export interface MteEventSourceInit {
  withCredentials?: boolean;
  headers?: HeadersInit;
  mteOptions?: MteFetchOptions;
}

/**
 * EventSource (server-sent events) through the relay: the interface of the
 * platform's EventSource (readyState, onopen, onmessage, onerror,
 * addEventListener for named events, close, reconnection with Last-Event-ID
 * and the server's retry:), each event delivered as soon as the relay has
 * sealed it (a streamed response, PROTOCOL.md section 13).
 */
export declare class MteEventSource extends EventTarget {
  constructor(url: string | URL, init?: MteEventSourceInit);
  static readonly CONNECTING: 0;
  static readonly OPEN: 1;
  static readonly CLOSED: 2;
  readonly CONNECTING: 0;
  readonly OPEN: 1;
  readonly CLOSED: 2;
  readonly url: string;
  readonly withCredentials: boolean;
  readonly readyState: 0 | 1 | 2;
  onopen: ((this: MteEventSource, ev: Event) => unknown) | null;
  onmessage: ((this: MteEventSource, ev: MessageEvent) => unknown) | null;
  onerror: ((this: MteEventSource, ev: Event) => unknown) | null;
  close(): void;
}

// ---- classic-script globals (mte-relay-client.js) ----

type MteRelayErrorConstructor = typeof MteRelayError;
type MteEventSourceConstructor = typeof MteEventSource;

declare global {
  // Defined by the classic-script build (mte-relay-client.js).
  function mteFetch(input: string | URL | Request, init?: RequestInit, mteOptions?: MteFetchOptions): Promise<Response>;
  function initMteRelayClient(options?: MteRelayClientOptions): Promise<void>;
  var MteRelayError: MteRelayErrorConstructor;
  var MteEventSource: MteEventSourceConstructor;
}
