// client.js - createClient: one mteFetch with state of its own (protocol.md
// "Client rules"), composed of
//   identity.js  the signed client id of each relay origin (HEAD /api/mte-relay)
//   pairing.js   the pairs of each client id (POST /api/mte-pair), used round-robin
//   seal.js      a request sealed for the wire, the relay's answer opened
//   fetch.js     mteFetch itself: fetch's arguments in, a Response out, retries
//   eventsource.js  MteEventSource: server-sent events over mteFetch
//   relay.js     HTTP to the relay; errors.js what all of them throw
//
// State per relay: the signed client id (also in localStorage when the
// platform has it) and, in memory only, numberOfPairs pairs made by one
// POST /api/mte-pair.  A relay is named by its base, the origin of the
// request URL followed by pathPrefix ("" unless the relay is mounted under a
// path), and the state's .origin holds that base: every URL of the relay is
// the base followed by the relay's own path.

import { createMteEventSource } from './eventsource.js';
import { createMteFetch } from './fetch.js';
import { createIdentities, defaultStorage, memoryStorage } from './identity.js';
import { applyOptions, checkOptions, createWarnOnce, defaultConfig, translateOptions } from './options.js';
import { createPairing } from './pairing.js';
import { baseUrl, createRelayFetch } from './relay.js';

/**
 * Creates an independent client.  env (for tests and embedding):
 *   fetch: the fetch to use (default globalThis.fetch)
 *   storage: {get,set,remove} for signed client ids, or null for memory only
 *            (default: localStorage when present, memory otherwise)
 *   streamUploads: send large bodies as a streamed request body (default: in Node)
 */
export function createClient(env = {}) {
  const config = defaultConfig(env);
  // Option fetch (initMteRelayClient) wins over env.fetch, looked up per call.
  const relayFetch = createRelayFetch((...a) => {
    const f = config.fetch || env.fetch;
    return f ? f(...a) : globalThis.fetch(...a);
  });
  const envStorage = env.storage === null ? memoryStorage() : (env.storage || defaultStorage());
  const warnOnce = createWarnOnce();
  const origins = new Map();

  function originState(origin) {
    let st = origins.get(origin);
    if (!st) { st = { origin, identity: null, current: null }; origins.set(origin, st); }
    return st;
  }

  const identities = createIdentities(relayFetch, () => config.storage || envStorage);
  const pairing = createPairing(relayFetch, config);
  const mteFetch = createMteFetch({ config, originState, relayFetch, identities, pairing, warnOnce });

  async function init(options) {
    options = translateOptions(options || {}, 'initMteRelayClient', warnOnce);
    checkOptions(options, 'initMteRelayClient');
    applyOptions(config, options);
    const relay = options.relayUrl || options.serverUrl;
    if (relay) {
      // Pair now rather than on the first request.
      const st = originState(new URL(String(relay), baseUrl()).origin + config.pathPrefix);
      const identity = await identities.getIdentity(st);
      await pairing.getPair(st, identity);
    }
  }

  return {
    mteFetch,
    initMteRelayClient: init,
    MteEventSource: createMteEventSource(mteFetch),
    /** For tests: the in-memory state of one relay base (origin + pathPrefix). */
    _state: (origin) => origins.get(origin),
    _config: config,
  };
}
