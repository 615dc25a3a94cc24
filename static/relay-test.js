// relay-test.js - the relay test page (relay-test.html): a Login demo and a
// File Upload demo sent with mteFetch() to the relay named in "Relay Server
// URL", with what crossed the wire beside what the upstream received.
//
// "What crossed the wire" is observed, not reconstructed: the client sends
// every request through the page's fetch(), so this page wraps fetch() and
// records exactly what the client hands the browser for the relay's origin
// (method, URL, the x-mte-relay header, the sealed sizes) and what the browser
// hands back (status, x-mte-relay, Content-Length).  The upstream's side comes
// from the demo upstream itself, which reports in its (sealed) answer what it
// saw after the relay opened the request.
(function () {
  'use strict';

  const $ = (sel) => document.querySelector(sel);
  const RELAY_HEADER = 'x-mte-relay';
  const SUBTLE_HASH_MAX = 16 * 1024 * 1024; // larger files: incremental SHA-256 below
  const HASH_SLICE = 4 * 1024 * 1024;
  const WIRE_KEEP = 2000;                   // records kept for the log and for tests
  const LOG_ROWS = 25;                      // rows shown in the wire log

  const state = { relayOrigin: null };      // the origin requests go to (from the URL field)

  // ---- formatting ----------------------------------------------------------

  const nf = new Intl.NumberFormat('en');
  function fmtBytes(n) {
    if (n === null || n === undefined || Number.isNaN(n)) return '?';
    if (n < 1024) return `${nf.format(n)} B`;
    const units = ['KiB', 'MiB', 'GiB', 'TiB'];
    let v = n / 1024;
    let u = 0;
    while (v >= 1024 && u < units.length - 1) { v /= 1024; u++; }
    return `${v.toFixed(v < 10 ? 2 : 1)} ${units[u]}`;
  }
  const fmtExact = (n) => `${nf.format(n)} bytes`;
  const hex = (buf) => Array.from(new Uint8Array(buf), (b) => b.toString(16).padStart(2, '0')).join('');

  /** Builds an element: el('p', {class: 'x'}, 'text', child, ...). */
  function el(tag, attrs, ...children) {
    const e = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs || {})) {
      if (v === undefined || v === null || v === false) continue;
      if (k === 'class') e.className = v;
      else if (k === 'dataset') Object.assign(e.dataset, v);
      else e.setAttribute(k, v === true ? '' : String(v));
    }
    for (const c of children.flat(Infinity)) {
      if (c === null || c === undefined || c === false) continue;
      e.append(c instanceof Node ? c : document.createTextNode(String(c)));
    }
    return e;
  }

  /** The x-mte-relay header without the client id's signature. */
  function redactRelayHeader(v) {
    if (!v) return null;
    return v.replace(/^([0-9a-f]{32})\.[0-9a-f]+/i, '$1.‹signature hidden›');
  }

  /** protocol.md: a body of len bytes is len + 16 per 65536-byte chunk (and one more) on the wire. */
  const sealedLength = (len) => len + 16 * (Math.floor(len / 65536) + 1);
  const plainLength = (wire) => wire - 16 * (Math.floor(wire / 65552) + 1);

  // ---- SHA-256 -------------------------------------------------------------
  // WebCrypto's digest() takes the whole input at once and cannot be fed in
  // pieces, so files above SUBTLE_HASH_MAX are hashed with this incremental
  // SHA-256 (FIPS 180-4), slice by slice, in constant memory.

  const SHA256_K = new Uint32Array([
    0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5,
    0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174,
    0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da,
    0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967,
    0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85,
    0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070,
    0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
    0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2,
  ]);

  class Sha256 {
    constructor() {
      this.h = new Uint32Array([0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a,
        0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19]);
      this.w = new Uint32Array(64);
      this.pending = new Uint8Array(64);
      this.pendingLen = 0;
      this.total = 0;
    }

    /** Adds bytes (a Uint8Array); returns this. */
    update(data) {
      let i = 0;
      this.total += data.length;
      if (this.pendingLen > 0) {
        i = Math.min(64 - this.pendingLen, data.length);
        this.pending.set(data.subarray(0, i), this.pendingLen);
        this.pendingLen += i;
        if (this.pendingLen < 64) return this;
        this.block(this.pending, 0);
        this.pendingLen = 0;
      }
      for (; i + 64 <= data.length; i += 64) this.block(data, i);
      if (i < data.length) { this.pending.set(data.subarray(i)); this.pendingLen = data.length - i; }
      return this;
    }

    /** The digest as lower-case hex; the object is spent afterwards. */
    hex() {
      const bytes = this.total;
      const tail = new Uint8Array(this.pendingLen < 56 ? 64 : 128);
      tail.set(this.pending.subarray(0, this.pendingLen));
      tail[this.pendingLen] = 0x80;
      // The length in bits, big-endian, in the last 8 bytes (exact up to 2^53 bytes).
      const dv = new DataView(tail.buffer);
      dv.setUint32(tail.length - 8, Math.floor(bytes / 0x20000000));
      dv.setUint32(tail.length - 4, (bytes % 0x20000000) * 8);
      for (let o = 0; o < tail.length; o += 64) this.block(tail, o);
      let out = '';
      for (const x of this.h) out += x.toString(16).padStart(8, '0');
      return out;
    }

    block(d, o) {
      const w = this.w;
      const K = SHA256_K;
      for (let t = 0; t < 16; t++, o += 4) w[t] = (d[o] << 24) | (d[o + 1] << 16) | (d[o + 2] << 8) | d[o + 3];
      for (let t = 16; t < 64; t++) {
        const x = w[t - 15];
        const y = w[t - 2];
        const s0 = ((x >>> 7) | (x << 25)) ^ ((x >>> 18) | (x << 14)) ^ (x >>> 3);
        const s1 = ((y >>> 17) | (y << 15)) ^ ((y >>> 19) | (y << 13)) ^ (y >>> 10);
        w[t] = w[t - 16] + s0 + w[t - 7] + s1;
      }
      const h = this.h;
      let a = h[0]; let b = h[1]; let c = h[2]; let e = h[4]; let f = h[5]; let g = h[6];
      let dd = h[3]; let hh = h[7];
      for (let t = 0; t < 64; t++) {
        const S1 = ((e >>> 6) | (e << 26)) ^ ((e >>> 11) | (e << 21)) ^ ((e >>> 25) | (e << 7));
        const ch = (e & f) ^ (~e & g);
        const t1 = (hh + S1 + ch + K[t] + w[t]) | 0;
        const S0 = ((a >>> 2) | (a << 30)) ^ ((a >>> 13) | (a << 19)) ^ ((a >>> 22) | (a << 10));
        const maj = (a & b) ^ (a & c) ^ (b & c);
        const t2 = (S0 + maj) | 0;
        hh = g; g = f; f = e; e = (dd + t1) | 0; dd = c; c = b; b = a; a = (t1 + t2) | 0;
      }
      h[0] += a; h[1] += b; h[2] += c; h[3] += dd; h[4] += e; h[5] += f; h[6] += g; h[7] += hh;
    }
  }

  /** sha256 of a Blob/File as hex; onProgress(doneBytes) as it goes. */
  async function sha256Blob(blob, onProgress) {
    if (blob.size <= SUBTLE_HASH_MAX && globalThis.crypto && crypto.subtle) {
      const d = await crypto.subtle.digest('SHA-256', await blob.arrayBuffer());
      if (onProgress) onProgress(blob.size);
      return hex(d);
    }
    const h = new Sha256();
    for (let o = 0; o < blob.size; o += HASH_SLICE) {
      const part = new Uint8Array(await blob.slice(o, o + HASH_SLICE).arrayBuffer());
      h.update(part);
      if (onProgress) onProgress(Math.min(blob.size, o + HASH_SLICE));
    }
    if (blob.size === 0 && onProgress) onProgress(0);
    return h.hex();
  }

  // ---- the wire tap --------------------------------------------------------

  const realFetch = globalThis.fetch.bind(globalThis);
  const wire = [];           // every request to the relay's origin, oldest first
  let wireCount = 0;
  const listeners = new Set();

  function headerOf(headers, name) {
    if (!headers) return null;
    try { return new Headers(headers).get(name); } catch { return null; }
  }

  function bodySize(body) {
    if (body === undefined || body === null) return 0;
    if (typeof body === 'string') return new TextEncoder().encode(body).length;
    if (body instanceof Blob) return body.size;
    if (body instanceof ArrayBuffer) return body.byteLength;
    if (ArrayBuffer.isView(body)) return body.byteLength;
    return null; // a stream: its length is not known here
  }

  function classify(method, url, relayHeader) {
    if (url.pathname === '/api/mte-relay' && method === 'HEAD') return 'client id';
    if (url.pathname === '/api/mte-pair') return 'pairing';
    if (relayHeader && relayHeader.split(',').length === 4) return 'protected';
    return 'other';
  }

  function publish(event, rec) { for (const l of listeners) l(event, rec); }

  globalThis.fetch = async function fetchThroughTap(input, init) {
    let url;
    try { url = new URL(input instanceof Request ? input.url : String(input), location.href); } catch { return realFetch(input, init); }
    if (url.origin !== state.relayOrigin) return realFetch(input, init);
    const method = ((init && init.method) || (input instanceof Request ? input.method : 'GET')).toUpperCase();
    const headers = (init && init.headers) || (input instanceof Request ? input.headers : null);
    const relayHeader = headerOf(headers, RELAY_HEADER);
    const eh = headerOf(headers, 'x-mte-relay-eh');
    const rec = {
      n: ++wireCount,
      kind: classify(method, url, relayHeader),
      method,
      path: url.pathname + url.search,
      relayHeader: redactRelayHeader(relayHeader),
      pairId: relayHeader && relayHeader.split(',').length === 4 ? relayHeader.split(',')[1] : null,
      seq: relayHeader && relayHeader.split(',').length === 4 ? Number(relayHeader.split(',')[2]) : null,
      sealedMetaBytes: eh ? Math.floor((eh.length * 3) / 4) : null,
      contentType: headerOf(headers, 'content-type') || (init && init.body instanceof Blob && init.body.type) || null,
      sentBytes: bodySize(init && init.body),
      status: null,
      responseRelayHeader: null,
      receivedBytes: null,
      error: null,
    };
    wire.push(rec);
    if (wire.length > WIRE_KEEP) wire.splice(0, wire.length - WIRE_KEEP);
    publish('request', rec);
    try {
      const res = await realFetch(input, init);
      rec.status = res.status;
      rec.responseRelayHeader = redactRelayHeader(res.headers.get(RELAY_HEADER));
      const cl = res.headers.get('content-length');
      rec.receivedBytes = cl !== null ? Number(cl) : null;
      publish('response', rec);
      return res;
    } catch (e) {
      rec.error = e && e.name === 'AbortError' ? 'aborted' : 'network error';
      publish('response', rec);
      throw e;
    }
  };

  /** Records every wire request from now until stop(); onEvent(event, rec) live. */
  function captureWire(onEvent) {
    const recs = [];
    const l = (event, rec) => { if (event === 'request') recs.push(rec); if (onEvent) onEvent(event, rec); };
    listeners.add(l);
    return { recs, stop() { listeners.delete(l); return recs; } };
  }

  // ---- relay URL and reachability ------------------------------------------

  function relayOriginFromInput() {
    const raw = $('#relay-url').value.trim();
    let u;
    try { u = new URL(raw); } catch { u = null; }
    if (!u || (u.protocol !== 'http:' && u.protocol !== 'https:')) {
      const err = new Error(`"${raw}" is not an http:// or https:// URL`);
      err.code = 'BAD_URL';
      throw err;
    }
    state.relayOrigin = u.origin;
    return u.origin;
  }

  /**
   * Whether anything answers at origin at all.  A no-cors request needs no
   * CORS grant, so it succeeds (opaquely) when the relay is up even if it does
   * not allow this page's origin: that tells "CORS" from "unreachable".
   */
  async function reachable(origin) {
    try {
      await realFetch(`${origin}/api/mte-echo/relay-test`, { mode: 'no-cors', cache: 'no-store' });
      return true;
    } catch {
      return false;
    }
  }

  function setPill(stateName, label, text) {
    const pill = $('#relay-status');
    pill.dataset.state = stateName;
    pill.textContent = label;
    $('#relay-status-text').textContent = text || '';
  }

  let checkRun = 0;
  async function checkRelay() {
    const run = ++checkRun;
    let origin;
    try { origin = relayOriginFromInput(); } catch (e) { setPill('failure', 'invalid URL', e.message); return; }
    setPill('busy', 'checking…', origin);
    let verdict;
    try {
      const res = await realFetch(`${origin}/api/mte-echo/relay-test`, { cache: 'no-store' });
      const j = await res.json().catch(() => null);
      verdict = res.ok && j && j.echo === 'relay-test'
        ? ['success', 'reachable', `${origin} answered its echo route${j.time ? ` at ${j.time}` : ''}`]
        : ['failure', `HTTP ${res.status}`, `${origin}/api/mte-echo answered ${res.status}: is this an mte-relay?`];
    } catch {
      verdict = (await reachable(origin))
        ? ['failure', 'CORS', `${origin} is up but does not allow this page's origin ${location.origin}: add it to CORS_ORIGINS`]
        : ['failure', 'unreachable', `nothing answers at ${origin}`];
    }
    if (run === checkRun) setPill(...verdict);
  }

  // ---- errors --------------------------------------------------------------

  /** What went wrong, for people: {title, reason, code, hint}. */
  async function explain(err, origin) {
    const code = err && err.code;
    const reason = (err && (err.reason || err.message)) || String(err);
    switch (code) {
      case 'BAD_URL':
        return { code, title: 'Invalid relay URL', reason, hint: 'Enter the relay\'s address, for example https://relay.example.com' };
      case 'CORS':
        if (!(await reachable(origin))) {
          return { code: 'RELAY_UNREACHABLE', title: 'Relay unreachable', reason: `nothing answers at ${origin}`,
            hint: 'Check the Relay Server URL and that the relay is running.' };
        }
        return { code, title: 'CORS: this page\'s origin is not allowed', reason,
          hint: `The relay at ${origin} is up. Add ${location.origin} to its CORS_ORIGINS and restart it.` };
      case 'RELAY_UNREACHABLE':
        return { code, title: 'Relay unreachable', reason, hint: 'Check the Relay Server URL and that the relay is running.' };
      case 'CLIENT_ID_FAILED':
      case 'PAIRING_FAILED':
        return { code, title: 'Pairing failed', reason, status: err.status,
          hint: 'The relay did not complete the key exchange; its log says why.' };
      case 'DECODE_FAILED':
      case 'RESPONSE_INVALID':
      case 'TRUNCATED':
        return { code, title: 'Decode failed', reason, status: err.status,
          hint: 'A sealed message did not authenticate on one side; the relay logs the reason (never the content).' };
      case 'RELAY_REJECTED':
        return { code, title: `The relay rejected the request (${err.status})`, reason, status: err.status };
      case 'UNSUPPORTED':
        return { code, title: 'Request not supported', reason };
      default:
        if (err && err.name === 'AbortError') return { code: 'ABORTED', title: 'Aborted', reason };
        return { code: code || (err && err.name) || 'ERROR', title: 'Request failed', reason };
    }
  }

  /** The upstream answered, sealed, with an error status: explain that instead. */
  function upstreamFailure(res, body) {
    const msg = body && typeof body === 'object' && body.error ? body.error : (typeof body === 'string' ? body.slice(0, 300) : '');
    if (res.status === 502 || res.status === 504) {
      return { code: `HTTP_${res.status}`, title: `The relay could not get an answer from its upstream (${res.status})`,
        reason: msg || res.statusText, hint: 'The request reached the relay and was opened; check UPSTREAM.' };
    }
    return { code: `HTTP_${res.status}`, title: `The upstream answered ${res.status}`, reason: msg || res.statusText,
      hint: 'This answer travelled sealed and was decoded: the relay path works.' };
  }

  function showFailure(box, f) {
    box.dataset.state = 'failure';
    box.dataset.code = f.code;
    box.replaceChildren(
      el('p', { class: 'result-title' }, el('span', { class: 'icon', 'aria-hidden': 'true' }, '✕'), f.title),
      el('p', { class: 'reason' }, f.reason),
      f.hint ? el('p', { class: 'hint small' }, f.hint) : null,
      el('p', { class: 'small muted' }, 'code ', el('code', { class: 'error-code' }, f.code), f.status ? ` · HTTP ${f.status}` : ''),
    );
  }

  function showBusy(box, text) {
    box.dataset.state = 'busy';
    delete box.dataset.code;
    box.replaceChildren(el('p', { class: 'result-title' }, el('span', { class: 'spinner', 'aria-hidden': 'true' }), text));
  }

  /** The decrypted answer: {value (JSON or text), status, bytes}. */
  async function readBody(res) {
    const bytes = new Uint8Array(await res.arrayBuffer());
    const text = new TextDecoder().decode(bytes);
    let value = text;
    try { value = JSON.parse(text); } catch { /* not JSON */ }
    return { value, status: res.status, bytes: bytes.length };
  }

  // ---- what crossed the wire -----------------------------------------------

  /**
   * The panel: what the client handed the browser for the relay (sealed)
   * beside what the upstream reported it received after the relay opened it.
   * answer: {status, bytes} of the decrypted answer, when there was one.
   */
  function renderWire(container, recs, upstream, plainSent, answer) {
    const prot = recs.filter((r) => r.kind === 'protected');
    const last = prot[prot.length - 1];
    const before = recs.filter((r) => r.kind !== 'protected');
    const up = upstream && typeof upstream === 'object' ? upstream : null;
    const unknown = el('span', { class: 'muted' }, up ? '—' : 'not reported');
    const parts = [el('h3', { class: 'wire-title' }, 'What crossed the wire')];
    if (before.length) {
      parts.push(el('p', { class: 'small wire-before' }, 'First: ',
        before.map((r, i) => [i ? ', ' : '', el('code', {}, `${r.method} ${r.path}`), ` → ${r.status ?? r.error}`]),
        before.some((r) => r.kind === 'pairing') ? ' (X-Wing key exchange; the keys never travel)' : ''));
    }
    if (!last) {
      parts.push(el('p', { class: 'small muted' }, 'No protected request was sent.'));
      container.replaceChildren(...parts);
      container.hidden = false;
      return;
    }
    const sealedBody = last.sentBytes
      ? `${fmtExact(last.sentBytes)}${plainSent !== undefined ? ` = ${nf.format(plainSent)} + ${nf.format(last.sentBytes - plainSent)} of GCM tags` : ''}`
      : 'none';
    const row = (label, wireSide, upSide, cls) => el('tr', { class: cls }, el('th', { scope: 'row' }, label),
      el('td', { class: 'wire-side' }, wireSide), el('td', { class: 'up-side' }, upSide));
    parts.push(el('div', { class: 'table-scroll' }, el('table', { class: 'wire-table' },
      el('thead', {}, el('tr', {}, el('th', {}, ''), el('th', {}, 'browser ⇄ relay (sealed)'), el('th', {}, 'upstream side (after the relay opened it)'))),
      el('tbody', {},
        row('request', el('code', { class: 'wire-path' }, `${last.method} ${last.path}`),
          up ? el('code', { class: 'upstream-path' }, `${up.method} ${up.path}`) : unknown.cloneNode(true), 'r-request'),
        row('content-type', last.contentType ? el('code', {}, last.contentType) : el('span', { class: 'muted' }, 'none (sealed inside)'),
          up ? (up.contentType ? el('code', { class: 'break' }, up.contentType) : 'none') : unknown.cloneNode(true), 'r-type'),
        row('URL + headers', last.sealedMetaBytes !== null ? `${fmtExact(last.sealedMetaBytes)} sealed` : '—',
          el('span', { class: 'muted' }, 'opened into the request line and headers above'), 'r-meta'),
        row('body', el('span', { class: 'wire-sent' }, sealedBody),
          up ? el('span', { class: 'upstream-bytes' }, fmtExact(up.bytes)) : unknown.cloneNode(true), 'r-body'),
        row('answer', last.status !== null
          ? el('span', { class: 'wire-received' }, `${last.status}, `, last.responseRelayHeader
            ? (last.receivedBytes !== null ? `${fmtExact(last.receivedBytes)} sealed` : 'sealed (length not announced)')
            : `${last.receivedBytes !== null ? fmtExact(last.receivedBytes) : 'a body'} in the clear (the relay's own refusal)`)
          : (last.error || '…'),
        answer ? `${answer.status}, ${fmtExact(answer.bytes)} (opened here)` : unknown.cloneNode(true), 'r-answer')))));
    parts.push(el('p', { class: 'small kv-line' }, el('span', { class: 'muted' }, 'x-mte-relay: '),
      el('code', { class: 'break wire-header' }, last.relayHeader)));
    if (prot.length > 1) {
      parts.push(el('p', { class: 'small' }, `Sent ${prot.length} times: the relay asked for a new pair or sequence number, and the client retried as the protocol says.`));
    }
    parts.push(el('p', { class: 'small muted' }, 'The real route travels inside the sealed headers; on the wire the path is ',
      el('code', {}, '/'), ' for every request.'));
    container.replaceChildren(...parts);
    container.hidden = false;
  }

  function renderLog() {
    const tbody = $('#wire-log tbody');
    const rows = wire.slice(-LOG_ROWS).reverse().map((r) => el('tr', { dataset: { kind: r.kind } },
      el('td', { class: 'num' }, r.n),
      el('td', { class: 'mono' }, `${r.method} ${r.path}`, el('span', { class: 'tag' }, r.kind)),
      el('td', { class: 'mono break' }, r.relayHeader || '—'),
      el('td', { class: 'num' }, r.sentBytes === null ? 'stream' : fmtBytes(r.sentBytes)),
      el('td', {}, r.status !== null ? String(r.status) : (r.error || '…')),
      el('td', { class: 'num' }, r.receivedBytes !== null ? fmtBytes(r.receivedBytes) : '—')));
    tbody.replaceChildren(...rows);
  }
  let logQueued = false;
  listeners.add(() => {
    if (logQueued) return;
    logQueued = true;
    requestAnimationFrame(() => { logQueued = false; renderLog(); });
  });

  // ---- Login demo ----------------------------------------------------------

  async function runLogin(ev) {
    ev.preventDefault();
    const box = $('#login-result');
    const button = $('#login-button');
    const email = $('#login-email').value;
    const password = $('#login-password').value;
    button.disabled = true;
    showBusy(box, 'Sending the login, sealed…');
    const cap = captureWire();
    let origin = null;
    try {
      origin = relayOriginFromInput();
      const body = JSON.stringify({ email, password });
      const res = await mteFetch(`${origin}/api/login`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body,
      });
      const got = await readBody(res);
      const answer = got.value;
      renderWire($('#login-wire'), cap.recs, answer && answer.received, new TextEncoder().encode(body).length, got);
      if (!res.ok) { showFailure(box, upstreamFailure(res, answer)); return; }
      box.dataset.state = 'success';
      delete box.dataset.code;
      box.replaceChildren(
        el('p', { class: 'result-title' }, el('span', { class: 'icon', 'aria-hidden': 'true' }, '✓'), 'Login request succeeded'),
        el('p', { class: 'greeting' }, answer.greeting || 'The upstream answered.'),
        el('p', { class: 'small muted' }, 'The upstream\'s answer, decrypted in this browser:'),
        el('pre', { class: 'json' }, JSON.stringify(answer, null, 2)));
    } catch (e) {
      showFailure(box, await explain(e, origin));
      renderWire($('#login-wire'), cap.recs, null);
    } finally {
      cap.stop();
      button.disabled = false;
    }
  }

  // ---- File Upload demo ----------------------------------------------------

  function setStep(step) {
    if (step === 'failed') {
      for (const li of document.querySelectorAll('#upload-progress .steps li')) if (li.dataset.state === 'active') li.dataset.state = 'failed';
      $('#upload-progress').dataset.step = step;
      return;
    }
    const order = ['sealing', 'uploading', 'done'];
    const at = order.indexOf(step);
    for (const li of document.querySelectorAll('#upload-progress .steps li')) {
      const i = order.indexOf(li.dataset.step);
      li.dataset.state = i < at || step === 'done' ? 'done' : (i === at ? 'active' : 'todo');
    }
    $('#upload-progress').dataset.step = step;
  }

  function setBar(bar, fraction) {
    const span = bar.querySelector('span');
    if (fraction === null) { bar.classList.add('indeterminate'); span.style.width = ''; bar.removeAttribute('aria-valuenow'); return; }
    bar.classList.remove('indeterminate');
    span.style.width = `${Math.round(fraction * 1000) / 10}%`;
    bar.setAttribute('aria-valuenow', String(Math.round(fraction * 100)));
  }

  /** A file name as browsers write it into multipart/form-data (HTML's escaping of ", CR and LF). */
  const multipartName = (name) => name.replace(/"/g, '%22').replace(/\r/g, '%0D').replace(/\n/g, '%0A');

  async function runUpload(ev) {
    ev.preventDefault();
    const box = $('#upload-result');
    const button = $('#upload-button');
    const files = Array.from($('#upload-files').files || []);
    if (files.length === 0) {
      showFailure(box, { code: 'NO_FILES', title: 'Choose at least one file', reason: 'No file was selected.' });
      return;
    }
    const total = files.reduce((n, f) => n + f.size, 0);
    button.disabled = true;
    showBusy(box, `Uploading ${files.length} file${files.length > 1 ? 's' : ''} (${fmtBytes(total)}), sealed…`);
    $('#upload-progress').hidden = false;
    setStep('sealing');
    setBar($('#upload-bar'), null);
    $('#upload-phase').textContent = `Sealing ${fmtBytes(total)} in 64 KiB chunks…`;
    setBar($('#hash-bar'), 0);
    $('#hash-phase').textContent = 'Hashing in this browser…';

    // The browser's own digests, computed while the upload runs.
    let hashed = 0;
    const localHashes = (async () => {
      const out = [];
      for (const f of files) {
        const base = hashed;
        out.push(await sha256Blob(f, (done) => {
          hashed = base + done;
          setBar($('#hash-bar'), total ? hashed / total : 1);
          $('#hash-phase').textContent = `Hashed ${fmtBytes(hashed)} of ${fmtBytes(total)} in this browser (${f.size > SUBTLE_HASH_MAX ? 'incremental SHA-256: WebCrypto cannot hash in pieces' : 'WebCrypto'})`;
        }));
      }
      return out;
    })();
    localHashes.catch(() => {});

    const cap = captureWire((event, rec) => {
      if (rec.kind === 'pairing' && event === 'request') $('#upload-phase').textContent = 'Pairing with the relay (X-Wing key exchange)…';
      if (rec.kind === 'protected' && event === 'request') {
        setStep('uploading');
        $('#upload-phase').textContent = `Uploading ${rec.sentBytes !== null ? fmtBytes(rec.sentBytes) : ''} sealed (this client does not report byte progress)…`;
      }
      if (rec.kind === 'protected' && event === 'response' && rec.status !== null) {
        $('#upload-phase').textContent = `The relay answered ${rec.status}; opening the answer…`;
      }
    });
    let origin = null;
    try {
      origin = relayOriginFromInput();
      const form = new FormData();
      for (const f of files) form.append('files', f, f.name);
      const res = await mteFetch(`${origin}/api/upload`, { method: 'POST', body: form });
      const got = await readBody(res);
      const answer = got.value;
      const plainSent = cap.recs.filter((r) => r.kind === 'protected').map((r) => r.sentBytes).pop();
      renderWire($('#upload-wire'), cap.recs, answer && answer.received,
        typeof plainSent === 'number' ? plainLength(plainSent) : undefined, got);
      if (!res.ok) { setStep('failed'); setBar($('#upload-bar'), 0); showFailure(box, upstreamFailure(res, answer)); return; }
      $('#upload-phase').textContent = 'Uploaded; comparing digests…';
      const mine = await localHashes;
      const big = files.filter((f) => f.size > SUBTLE_HASH_MAX).length;
      $('#hash-phase').textContent = `Hashed ${fmtBytes(total)} in this browser: ${[
        big ? `${big} file${big > 1 ? 's' : ''} with the page's incremental SHA-256 (WebCrypto cannot hash in pieces)` : '',
        files.length - big ? `${files.length - big} with WebCrypto` : '',
      ].filter(Boolean).join(', ')}.`;
      setStep('done');
      setBar($('#upload-bar'), 1);
      $('#upload-phase').textContent = `Done: ${fmtBytes(total)} uploaded.`;
      const theirs = Array.isArray(answer.files) ? answer.files : [];
      const rows = files.map((f, i) => {
        const t = theirs[i] || {};
        const ok = t.name === multipartName(f.name) && t.size === f.size && t.sha256 === mine[i];
        return { f, t, ok, local: mine[i] };
      });
      const allOk = rows.length === theirs.length && rows.every((r) => r.ok);
      box.dataset.state = allOk ? 'success' : 'failure';
      box.dataset.code = allOk ? '' : 'MISMATCH';
      box.replaceChildren(
        el('p', { class: 'result-title' }, el('span', { class: 'icon', 'aria-hidden': 'true' }, allOk ? '✓' : '✕'),
          allOk ? `Upload succeeded: ${rows.length} file${rows.length > 1 ? 's' : ''}, every sha256 matches`
            : 'Upload finished, but what the upstream received differs from these files'),
        el('div', { class: 'table-scroll' }, el('table', { class: 'files' },
          el('thead', {}, el('tr', {}, el('th', {}, 'file'), el('th', { class: 'num' }, 'size'), el('th', {}, 'sha256 (upstream / this browser)'), el('th', {}, ''))),
          el('tbody', {}, rows.map((r) => el('tr', { class: 'file-row', dataset: { match: r.ok ? 'yes' : 'no' } },
            el('td', { class: 'break file-name' }, r.t.name ?? r.f.name),
            el('td', { class: 'num file-size', title: fmtExact(r.t.size ?? 0) }, r.t.size !== undefined ? fmtBytes(r.t.size) : 'missing'),
            el('td', { class: 'mono break' }, el('span', { class: 'sha-upstream' }, r.t.sha256 || '—'), el('br'), el('span', { class: 'sha-local' }, r.local)),
            el('td', { class: r.ok ? 'ok' : 'bad' }, r.ok ? '✓ match' : '✕ differs')))))));
    } catch (e) {
      setStep('failed');
      setBar($('#upload-bar'), 0);
      $('#upload-phase').textContent = 'Failed.';
      showFailure(box, await explain(e, origin));
      renderWire($('#upload-wire'), cap.recs, null);
    } finally {
      cap.stop();
      button.disabled = false;
    }
  }

  // ---- start ---------------------------------------------------------------

  function start() {
    $('#page-origin').textContent = location.origin;
    const fromQuery = new URLSearchParams(location.search).get('relay');
    $('#relay-url').value = fromQuery || location.origin;
    try { relayOriginFromInput(); } catch { /* shown by the check */ }
    if (typeof globalThis.mteFetch !== 'function') {
      $('#client-missing').hidden = false;
      for (const b of document.querySelectorAll('button')) b.disabled = true;
      return;
    }
    $('#relay-form').addEventListener('submit', (ev) => { ev.preventDefault(); checkRelay(); });
    $('#relay-url').addEventListener('change', () => { checkRelay(); });
    $('#login-form').addEventListener('submit', runLogin);
    $('#upload-form').addEventListener('submit', runUpload);
    $('#events-start').addEventListener('click', startEvents);
    $('#events-stop').addEventListener('click', () => { stopEvents(); setEventsState('idle', 'stopped'); });
    checkRelay();
    document.body.dataset.ready = 'yes';
  }

  // ---- Live events -----------------------------------------------------------

  const events = { source: null, received: [] };

  function setEventsState(state, text) {
    const pill = $('#events-status');
    pill.dataset.state = state;
    pill.textContent = text;
  }

  function startEvents() {
    let origin;
    try { origin = relayOriginFromInput(); } catch (e) { setEventsState('failure', `invalid relay URL: ${e.message}`); return; }
    if (typeof MteEventSource !== 'function') { setEventsState('failure', 'the client has no MteEventSource'); return; }
    stopEvents();
    $('#events-list').textContent = '';
    events.received.length = 0;
    setEventsState('working', 'connecting');
    const es = new MteEventSource(`${origin}/api/ticker?count=20`);
    events.source = es;
    $('#events-start').disabled = true;
    $('#events-stop').disabled = false;
    es.onopen = () => setEventsState('success', 'open');
    es.addEventListener('tick', (e) => {
      const at = Date.now();
      let tick;
      try { tick = JSON.parse(e.data); } catch { return; }
      const delay = at - tick.sentAt;
      events.received.push({ n: tick.n, delay, id: e.lastEventId });
      $('#events-list').append(el('li', { 'data-n': String(tick.n) }, `tick ${tick.n}: ${delay} ms after it was written`));
    });
    es.onerror = (e) => {
      if (es.readyState === MteEventSource.CLOSED) {
        setEventsState('failure', `closed: ${e.error && e.error.message ? e.error.message : 'not an event stream'}`);
        stopEvents();
      } else {
        setEventsState('working', events.received.length >= 20 ? 'done (the ticker ended)' : 'reconnecting');
        if (events.received.length >= 20) stopEvents();
      }
    };
  }

  function stopEvents() {
    if (events.source) events.source.close();
    events.source = null;
    $('#events-start').disabled = false;
    $('#events-stop').disabled = true;
  }


  // For the browser tests and the curious: read-only views of what the page saw.
  globalThis.relayTest = Object.freeze({
    get wire() { return wire.slice(); },
    get events() { return events.received.slice(); },
    Sha256,
    sha256Blob,
    sealedLength,
  });

  if (document.readyState === 'loading') document.addEventListener('DOMContentLoaded', start);
  else start();
}());
