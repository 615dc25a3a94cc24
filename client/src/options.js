// options.js - the client's settings: their defaults, and the options of
// initMteRelayClient and the per-request mteOptions, checked alike.
// Also the names of the Eclypses client (mte-relay-browser) that apps bring
// along when they move here: those with the same meaning map to ours, those
// that mean nothing here are warned about once each (README, "Moving from
// the Eclypses client"), and two spellings of one setting that disagree are
// refused rather than one of them guessed.

import { ErrorCodes, MteRelayError } from './errors.js';

const MAX_PAIRS_PER_CALL = 16;            // protocol.md: 1..16 entries per pairing
const CROSS_ORIGIN_REDIRECT = ['error', 'manual', 'follow'];
const ENCODE_TYPES = ['MTE', 'MKE'];
// A path of RFC 3986 segments (pchar), each "/"-led; no query or fragment.
const PATH_PREFIX_RE = /^(\/[A-Za-z0-9\-._~!$&'()*+,;=:@%]+)*$/;

/** Eclypses names with the meaning of one of ours: theirs -> ours. */
export const ECLYPSES_ALIASES = Object.freeze({
  encodeUrl: 'encodeUrls',                  // their per-request spelling
  useStreaming: 'streamUploads',            // their per-request upload streaming
  numberEncoderDecoderPairs: 'numberOfPairs', // their v3 name
});

const NO_LICENCE = 'mte-relay needs no licence: nothing reads it (remove it; it is a credential of another product in your page)';
const NO_POOL = 'there are no encoder/decoder objects to pool here: a pair is two AES-256-GCM keys, and any number of requests share it';
const ONE_PROTECTION = "every request gets the same protection (AES-256-GCM under keys from an X-Wing pairing); there is no 'MTE'/'MKE' choice to make";

/** Eclypses names that mean nothing here, and why: warned about once, then ignored. */
export const ECLYPSES_IGNORED = Object.freeze({
  licenseKey: NO_LICENCE,
  licenseCompany: NO_LICENCE,
  companyName: NO_LICENCE,
  mtePoolSize: NO_POOL,
  mkePoolSize: NO_POOL,
  encoderDecoderPoolSize: NO_POOL,
  encodeType: ONE_PROTECTION,
  defaultEncodeType: ONE_PROTECTION,
});

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
    pathPrefix: '',
    fetch: null,
    storage: null,
    streamUploads: env.streamUploads !== undefined ? !!env.streamUploads : isNode(),
  };
}

/**
 * A warnOnce(name, reason) for one client: console.warn the first time an
 * ignored option shows up, silence after that (it would come with every
 * request otherwise).
 */
export function createWarnOnce() {
  const warned = new Set();
  return function warnOnce(name, reason) {
    if (warned.has(name)) return;
    warned.add(name);
    const c = globalThis.console;
    if (c && typeof c.warn === 'function') {
      c.warn(`mte-relay client: option ${name} is ignored: ${reason}. See "Moving from the Eclypses client" in the README.`);
    }
  };
}

/**
 * The options o with the Eclypses names translated (a new object; o is not
 * changed): an alias becomes our name, an ignored name is checked, warned
 * about and dropped.  Throws MteRelayError OPTION_CONFLICT when an alias and
 * our name are both given with different values.
 */
export function translateOptions(o, where, warnOnce) {
  const out = { ...o };
  for (const [theirs, ours] of Object.entries(ECLYPSES_ALIASES)) {
    if (out[theirs] === undefined) { delete out[theirs]; continue; }
    if (out[ours] !== undefined && out[ours] !== out[theirs]) {
      throw new MteRelayError(ErrorCodes.OPTION_CONFLICT,
        `${where}: ${theirs} (the Eclypses name of ${ours}) is ${JSON.stringify(out[theirs])} but ${ours} is ${JSON.stringify(out[ours])}; give one of them`);
    }
    out[ours] = out[theirs];
    delete out[theirs];
  }
  for (const [name, reason] of Object.entries(ECLYPSES_IGNORED)) {
    if (out[name] === undefined) { delete out[name]; continue; }
    if ((name === 'encodeType' || name === 'defaultEncodeType') && !ENCODE_TYPES.includes(out[name])) {
      throw new TypeError(`${where}: ${name} must be 'MTE' or 'MKE' (and is ignored here: ${ONE_PROTECTION})`);
    }
    warnOnce(name, reason);
    delete out[name];
  }
  return out;
}

/** The pinned relay keys of option relayKey (one or a list of base64url
 * X-Wing public keys, 1622 characters each), or null when malformed. */
function relayKeyList(v) {
  const list = Array.isArray(v) ? v : [v];
  if (list.length === 0) return null;
  for (const k of list) if (typeof k !== 'string' || !/^[A-Za-z0-9_-]{1622}$/.test(k)) return null;
  return list.slice();
}

/** A pathPrefix without its trailing slashes ("/relay/" is "/relay", "/" is ""), or null when it is no path. */
export function normalizePathPrefix(v) {
  if (typeof v !== 'string') return null;
  const p = v.replace(/\/+$/, '');
  if (!PATH_PREFIX_RE.test(p)) return null;
  // Dot segments would be resolved away by URL parsing and leave the prefix.
  if (p.split('/').some((seg) => /^\.\.?$/.test(seg.replace(/%2e/gi, '.')))) return null;
  return p;
}

function isStorage(s) {
  return s !== null && typeof s === 'object' &&
    typeof s.getItem === 'function' && typeof s.setItem === 'function' && typeof s.removeItem === 'function';
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
  if (o.pathPrefix !== undefined && normalizePathPrefix(o.pathPrefix) === null) {
    throw new TypeError(`${where}: pathPrefix must be the path the relay is mounted under, like "/relay" (segments led by "/", no query, fragment or dot segments)`);
  }
  if (o.fetch !== undefined && typeof o.fetch !== 'function') throw new TypeError(`${where}: fetch must be a function called as fetch(url, init)`);
  if (o.storage !== undefined && !isStorage(o.storage)) {
    throw new TypeError(`${where}: storage must have getItem, setItem and removeItem (as localStorage has; they may return promises)`);
  }
}

/** Storage of the Web Storage shape (getItem/setItem/removeItem, maybe async) as identity.js uses it. */
function storageOf(s) {
  return { get: (k) => s.getItem(k), set: (k, v) => s.setItem(k, v), remove: (k) => s.removeItem(k) };
}

/** Applies the (translated, checked) options of initMteRelayClient to config. */
export function applyOptions(config, options) {
  if (options.encodeUrls !== undefined) config.encodeUrls = options.encodeUrls;
  if (options.encodeHeaders !== undefined) config.encodeHeaders = Array.isArray(options.encodeHeaders) ? options.encodeHeaders.slice() : options.encodeHeaders;
  if (options.numberOfPairs !== undefined) config.numberOfPairs = options.numberOfPairs;
  if (options.streamUploads !== undefined) config.streamUploads = !!options.streamUploads;
  if (options.crossOriginRedirect !== undefined) config.crossOriginRedirect = options.crossOriginRedirect;
  if (options.relayKey !== undefined) config.relayKeys = relayKeyList(options.relayKey);
  if (options.pathPrefix !== undefined) config.pathPrefix = normalizePathPrefix(options.pathPrefix);
  if (options.fetch !== undefined) config.fetch = options.fetch;
  if (options.storage !== undefined) config.storage = storageOf(options.storage);
}
