// index.js - the public API of the mte-relay browser/Node client.
//   initMteRelayClient(options?)      defaults for every later request (optional)
//   mteFetch(input, init?, options?)  fetch() through the relay, end to end protected
//   MteEventSource(url, options?)     EventSource (server-sent events) through the relay

import { createClient } from './client.js';

export { MteRelayError, MteNetworkError, MtePairingError, MteDecodeError, ErrorCodes } from './errors.js';

const client = createClient();

export function initMteRelayClient(options) {
  return client.initMteRelayClient(options);
}

export function mteFetch(input, init, mteOptions) {
  return client.mteFetch(input, init, mteOptions);
}

/** EventSource over mteFetch: new MteEventSource(url, {withCredentials, headers, mteOptions}). */
export const MteEventSource = client.MteEventSource;
