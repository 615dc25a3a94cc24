// identity.js - the signed client id of each relay origin (protocol.md
// "Identity: the client id"): got by HEAD /api/mte-relay, kept in storage
// (localStorage when the platform has it), forgotten when the relay no
// longer accepts it, and refreshed when the relay re-signs it.  A storage's
// get/set/remove may return promises (option storage, as the Eclypses client
// allowed); writes are not waited for, and their failures leave memory only.

import { ErrorCodes, MtePairingError } from './errors.js';
import { HDR, SIGNED_ID_RE, STATUS_BAD_CLIENT_ID, discard } from './relay.js';

const STORAGE_PREFIX = 'mte-relay:clientId:';

/** localStorage when present and usable, memory otherwise (or as well). */
export function defaultStorage() {
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

export function memoryStorage() {
  const mem = new Map();
  return {
    get: (k) => (mem.has(k) ? mem.get(k) : null),
    set: (k, v) => { mem.set(k, v); },
    remove: (k) => { mem.delete(k); },
  };
}

const isPromise = (v) => v !== null && typeof v === 'object' && typeof v.then === 'function';

/** Runs a storage write; a failure of an async one is dropped (memory keeps the id). */
function write(op) {
  try {
    const r = op();
    if (isPromise(r)) r.then(undefined, () => {});
  } catch { /* memory only */ }
}

/**
 * The identities of a client.  st is the state of one relay (client.js):
 * {origin (the relay's base), identity (the promise of it), current (once it
 * resolved)}.  An identity is {signedId, clientId, slots, rr}; slots and rr
 * belong to pairing.js.  storageOf() gives the storage in use now.
 */
export function createIdentities(relayFetch, storageOf) {
  async function headClientId(origin, signedId) {
    const headers = signedId ? { [HDR]: signedId } : {};
    const res = await relayFetch(`${origin}/api/mte-relay`, { method: 'HEAD', headers }, origin, 'getting a client id');
    discard(res);
    return res;
  }

  async function obtainIdentity(st) {
    const storage = storageOf();
    const key = STORAGE_PREFIX + st.origin;
    let stored = storage.get(key);
    if (isPromise(stored)) stored = await stored.then((v) => v, () => null);
    if (typeof stored !== 'string') stored = null;
    if (stored && !SIGNED_ID_RE.test(stored)) { write(() => storage.remove(key)); stored = null; }
    let res = await headClientId(st.origin, stored);
    if (res.status === STATUS_BAD_CLIENT_ID && stored) {
      // Stale or forged stored id (e.g. the relay's secret was rotated): start afresh.
      write(() => storage.remove(key));
      res = await headClientId(st.origin, null);
    }
    const signedId = res.headers.get(HDR);
    const m = signedId ? SIGNED_ID_RE.exec(signedId) : null;
    if (res.status !== 200 || !m) {
      throw new MtePairingError(ErrorCodes.CLIENT_ID_FAILED,
        `HEAD ${st.origin}/api/mte-relay answered ${res.status}${m ? '' : ' without a valid signed client id'}`,
        { status: res.status });
    }
    write(() => storage.set(key, signedId));
    return { signedId, clientId: m[1], slots: [], rr: 0 };
  }

  /** The identity of st's origin; one HEAD at a time, again after a failure. */
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
    const storage = storageOf();
    const key = STORAGE_PREFIX + st.origin;
    // Only the id given up: another tab may have stored a newer one.
    const drop = (v) => { if (v === identity.signedId) write(() => storage.remove(key)); };
    try {
      const v = storage.get(key);
      if (isPromise(v)) v.then(drop, () => {}); else drop(v);
    } catch { /* memory only */ }
    st.identity = null;
    st.current = null;
  }

  /** The relay re-signs ids (secret rotation); keep the newest form of the same id. */
  function refreshSignedId(st, identity, signedId) {
    if (signedId === identity.signedId) return;
    const m = SIGNED_ID_RE.exec(signedId);
    if (!m || m[1] !== identity.clientId) return;
    identity.signedId = signedId;
    const storage = storageOf();
    write(() => storage.set(STORAGE_PREFIX + st.origin, signedId));
  }

  return { getIdentity, forgetIdentity, refreshSignedId };
}
