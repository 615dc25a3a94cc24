// global.js - entry of the classic-script build (static/mte-relay-client.js):
// <script src="/public/mte-relay-client.js"></script> defines the globals.

import * as api from './index.js';

globalThis.mteFetch = api.mteFetch;
globalThis.initMteRelayClient = api.initMteRelayClient;
globalThis.MteRelayError = api.MteRelayError;
globalThis.MteEventSource = api.MteEventSource;
