// pairing.js - pairs with the relay (protocol.md "Pairing: POST /api/mte-pair"):
// X-Wing key pairs made here, one POST /api/mte-pair for numberOfPairs of
// them, and the pool of pairs of each identity.  Requests spread over the
// pool round-robin; each pair numbers its requests with its own counter, so
// any number may be in flight.

import { ml_kem768_x25519 as xwing } from '@noble/post-quantum/hybrid.js';
import { b64uDecode, b64uEncode } from './codec.js';
import { confirmsPin, derivePairKeys, openAnswerKey, pairInfo, pinnedSecret, randomBytes, relayKeyId } from './crypto.js';
import { ErrorCodes, MtePairingError, describeRelayError, readRelayError } from './errors.js';
import { HDR } from './relay.js';

const PAIR_ID_BYTES = 24;                 // 32 base64url characters
const PERSONALIZATION_LEN = 32;           // printable ASCII characters

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

/**
 * count entries of a pairing request, and by pairId the secrets that open
 * their answers.  pin: {pk, id} of a pinned relay key (PROTOCOL.md section
 * 12) that each entry also encapsulates to, or null.
 */
function newEntries(count, pin) {
  const entries = [];
  const secrets = new Map();
  for (let i = 0; i < count; i++) {
    const seed = randomBytes(32);
    const { publicKey, secretKey } = xwing.keygen(seed);
    seed.fill(0);
    const pairId = b64uEncode(randomBytes(PAIR_ID_BYTES));
    const personalization = printableRandom(PERSONALIZATION_LEN);
    // answers: the relay's refusals come sealed or tagged (PROTOCOL.md section 11)
    // stream: a stream may come back as records, each as written (PROTOCOL.md section 13)
    const entry = { pairId, publicKey: b64uEncode(publicKey), personalization, answers: true, stream: true };
    const secret = { secretKey, personalization, ssStatic: null };
    if (pin) {
      const { cipherText, sharedSecret } = xwing.encapsulate(pin.pk);
      entry.relayKeyId = pin.id;
      entry.relayCiphertext = b64uEncode(cipherText);
      secret.ssStatic = sharedSecret;
    }
    secrets.set(pairId, secret);
    entries.push(entry);
  }
  return { entries, secrets };
}

const RETRY_AFTER_MAX_S = 3600;           // a longer Retry-After is read as this

/** The error of a pairing refused by the relay's limits (PROTOCOL.md "Pairing limits"). */
function rateLimited(st, retryAfter, relayError) {
  return new MtePairingError(ErrorCodes.PAIRING_RATE_LIMITED,
    `pairing with ${st.origin} refused: too many pairings (${relayError?.limit ?? 'relay'} limit); retry in ${retryAfter} s`,
    { status: 429, relayError, retryAfter });
}

/** Until a 429's Retry-After has passed, pairing fails at once, unsent:
 * a refused client must never pair in a loop. */
function checkNotLimited(st) {
  const left = Math.ceil(((st.pairingBlockedUntil || 0) - Date.now()) / 1000);
  if (left > 0) throw rateLimited(st, left, st.pairingBlockedBy);
}

/** POST /api/mte-pair; the relay's answers by pairId. */
async function postEntries(relayFetch, st, identity, entries) {
  checkNotLimited(st);
  const res = await relayFetch(`${st.origin}/api/mte-pair`, {
    method: 'POST',
    headers: { [HDR]: identity.signedId, 'content-type': 'application/json' },
    body: JSON.stringify(entries),
  }, st.origin, 'pairing');
  if (res.status === 429) {
    const relayError = await readRelayError(res);
    // A browser reads Retry-After only if exposed; the body says it too.
    let retryAfter = Number.parseInt(res.headers.get('retry-after') ?? '', 10);
    if (!(retryAfter >= 1)) retryAfter = Number(relayError?.retryAfter);
    if (!(retryAfter >= 1)) retryAfter = 1;
    retryAfter = Math.ceil(retryAfter);
    retryAfter = Math.min(retryAfter, RETRY_AFTER_MAX_S);
    st.pairingBlockedUntil = Date.now() + retryAfter * 1000;
    st.pairingBlockedBy = relayError;
    throw rateLimited(st, retryAfter, relayError);
  }
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
  return byId;
}

/** The pair of entry e from the relay's answer a: decapsulate, derive its keys. */
async function openAnswer(st, identity, e, a, secret) {
  const { secretKey, personalization } = secret;
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
  let ss = xwing.decapsulate(ct, secretKey);
  if (secret.ssStatic) {
    const pinned = await pinnedSecret(secret.ssStatic, ss);
    ss.fill(0);
    ss = pinned;
  }
  const keys = await derivePairKeys(ss, nonce, pairInfo(identity.clientId, e.pairId, personalization));
  const pair = { pairId: e.pairId, kReq: keys.kReq, kRes: keys.kRes, seq: 0, slot: -1, answerKey: null, stream: a.stream === true };
  if (secret.ssStatic && !await confirmsPin(pair, identity.clientId, a.confirm)) {
    throw new MtePairingError(ErrorCodes.PAIRING_FAILED,
      `pairing with ${st.origin} failed: the answer does not prove it comes from the holder of the pinned relay key (relayKey); something on the way answered in the relay's place`,
      { status: 200 });
  }
  // A relay without the extension sends no answerKey: the pair then never sets flag a.
  if (a.answerKey !== undefined) {
    try {
      pair.answerKey = await openAnswerKey(pair, identity.clientId, b64uDecode(String(a.answerKey)));
    } catch (err) {
      throw new MtePairingError(ErrorCodes.PAIRING_FAILED, `pairing with ${st.origin} failed: the answer key of pair ${e.pairId} does not open`, { cause: err, status: 200 });
    }
  }
  return pair;
}

/** count new pairs for identity, made by one pairing request (pinned to pin, or not). */
async function pairCallWith(relayFetch, st, identity, count, pin) {
  checkNotLimited(st);   // before any key is made
  const { entries, secrets } = newEntries(count, pin);
  try {
    const byId = await postEntries(relayFetch, st, identity, entries);
    const pairs = [];
    for (const e of entries) pairs.push(await openAnswer(st, identity, e, byId.get(e.pairId), secrets.get(e.pairId)));
    return pairs;
  } finally {
    for (const { secretKey, ssStatic } of secrets.values()) { secretKey.fill(0); if (ssStatic) ssStatic.fill(0); }
  }
}

const UNKNOWN_RELAY_KEY = 'relayKeyId names no key of this relay';

/** count new pairs: with each pinned relay key in turn until the relay knows one, or unpinned. */
async function pairCall(relayFetch, st, identity, count, relayKeys) {
  if (!relayKeys || relayKeys.length === 0) return pairCallWith(relayFetch, st, identity, count, null);
  let last;
  for (const k of relayKeys) {
    const pk = b64uDecode(k);
    try {
      return await pairCallWith(relayFetch, st, identity, count, { pk, id: await relayKeyId(pk) });
    } catch (e) {
      if (!(e instanceof MtePairingError) || e.relayError?.error !== UNKNOWN_RELAY_KEY) throw e;
      last = e;
    }
  }
  throw new MtePairingError(ErrorCodes.PAIRING_FAILED,
    `pairing with ${st.origin} failed: the relay holds none of the pinned keys (relayKey)`, { status: last.status, relayError: last.relayError, cause: last });
}

/**
 * The pair pool of a client: identity.slots holds config.numberOfPairs slots
 * {promise, pair, failed}; a failed slot is paired again when next used.
 */
export function createPairing(relayFetch, config) {
  function makeSlot(promise, index) {
    const slot = { promise: null, pair: null, failed: false };
    slot.promise = promise.then((p) => { p.slot = index; slot.pair = p; return p; });
    slot.promise.catch(() => { slot.failed = true; });
    return slot;
  }

  function fillSlots(st, identity) {
    const n = config.numberOfPairs;
    const all = pairCall(relayFetch, st, identity, n, config.relayKeys);
    identity.slots = [];
    for (let i = 0; i < n; i++) identity.slots.push(makeSlot(all.then((a) => a[i]), i));
  }

  function replaceSlot(st, identity, i) {
    identity.slots[i] = makeSlot(pairCall(relayFetch, st, identity, 1, config.relayKeys).then((a) => a[0]), i);
    return identity.slots[i];
  }

  /** A pair for the next request: slot preferred when given, else the next one round-robin. */
  function getPair(st, identity, preferred) {
    if (identity.slots.length === 0 || identity.slots.every((s) => s.failed)) fillSlots(st, identity);
    const i = preferred !== undefined && preferred >= 0 && preferred < identity.slots.length
      ? preferred : identity.rr++ % identity.slots.length;
    let slot = identity.slots[i];
    if (slot.failed) slot = replaceSlot(st, identity, i);
    return slot.promise;
  }

  /** Replaces a pair the relay no longer knows (unless it was replaced already). */
  function dropPair(st, identity, pair) {
    const i = pair.slot;
    if (i >= 0 && identity.slots[i] && identity.slots[i].pair === pair) replaceSlot(st, identity, i);
  }

  return { getPair, dropPair };
}
