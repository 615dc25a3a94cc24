// options.js - the client's settings: their defaults, and the options of
// initMteRelayClient and the per-request mteOptions, checked alike.

const MAX_PAIRS_PER_CALL = 16;            // protocol.md: 1..16 entries per pairing
const CROSS_ORIGIN_REDIRECT = ['error', 'manual', 'follow'];

function isNode() {
  return typeof process !== 'undefined' && process.versions != null && typeof process.versions.node === 'string';
}

/** The settings of a new client (env.streamUploads: see createClient). */
export function defaultConfig(env) {
  return {
    encodeUrls: true,
    encodeHeaders: true,
    numberOfPairs: 1,
    crossOriginRedirect: 'error',
    relayKeys: [],
    streamUploads: env.streamUploads !== undefined ? !!env.streamUploads : isNode(),
  };
}

/** The pinned relay keys of option relayKey (one or a list of base64url
 * X-Wing public keys, 1622 characters each), or null when malformed. */
function relayKeyList(v) {
  const list = Array.isArray(v) ? v : [v];
  if (list.length === 0) return null;
  for (const k of list) if (typeof k !== 'string' || !/^[A-Za-z0-9_-]{1622}$/.test(k)) return null;
  return list.slice();
}

/** Throws a TypeError naming where for an option of the wrong type or range. */
export function checkOptions(o, where) {
  if (o.encodeUrls !== undefined && typeof o.encodeUrls !== 'boolean') throw new TypeError(`${where}: encodeUrls must be a boolean`);
  if (o.encodeHeaders !== undefined && typeof o.encodeHeaders !== 'boolean' &&
      !(Array.isArray(o.encodeHeaders) && o.encodeHeaders.every((h) => typeof h === 'string'))) {
    throw new TypeError(`${where}: encodeHeaders must be true, false or an array of header names`);
  }
  if (o.numberOfPairs !== undefined &&
      !(Number.isInteger(o.numberOfPairs) && o.numberOfPairs >= 1 && o.numberOfPairs <= MAX_PAIRS_PER_CALL)) {
    throw new TypeError(`${where}: numberOfPairs must be an integer from 1 to ${MAX_PAIRS_PER_CALL}`);
  }
  if (o.relayKey !== undefined && relayKeyList(o.relayKey) === null) {
    throw new TypeError(`${where}: relayKey must be a relay's public key (base64url, as mte-relay --generate-relay-key prints it) or a list of them`);
  }
  if (o.crossOriginRedirect !== undefined && !CROSS_ORIGIN_REDIRECT.includes(o.crossOriginRedirect)) {
    throw new TypeError(`${where}: crossOriginRedirect must be 'error', 'manual' or 'follow'`);
  }
}

/** Applies the (checked) options of initMteRelayClient to config. */
export function applyOptions(config, options) {
  if (options.encodeUrls !== undefined) config.encodeUrls = options.encodeUrls;
  if (options.encodeHeaders !== undefined) config.encodeHeaders = Array.isArray(options.encodeHeaders) ? options.encodeHeaders.slice() : options.encodeHeaders;
  if (options.numberOfPairs !== undefined) config.numberOfPairs = options.numberOfPairs;
  if (options.streamUploads !== undefined) config.streamUploads = !!options.streamUploads;
  if (options.crossOriginRedirect !== undefined) config.crossOriginRedirect = options.crossOriginRedirect;
  if (options.relayKey !== undefined) config.relayKeys = relayKeyList(options.relayKey);
}
