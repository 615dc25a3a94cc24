// internals.js - the client's building blocks, exported for the node tests
// only.  Not part of the public bundle (client/build.mjs builds index.js and
// global.js).

export * from './codec.js';
export * from './crypto.js';
export {
  normalizeBody, sealedBodyStream, sealedBodyBlob, createBodyOpener, createFramedOpener,
} from './body.js';
export { createEventStreamParser } from './eventsource.js';
export { createClient } from './client.js';
export { requestTarget } from './seal.js';
export { ECLYPSES_ALIASES, ECLYPSES_IGNORED } from './options.js';
export * from './errors.js';
export { ml_kem768_x25519 as xwing } from '@noble/post-quantum/hybrid.js';
