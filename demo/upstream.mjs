#!/usr/bin/env node
// demo/upstream.mjs - the demo API that mte-relay proxies to in `make demo`
// and in the browser tests.  Node only, no dependencies.
//
// It is an ordinary, unprotected HTTP API: it sees requests after the relay
// has opened them.  Every JSON answer carries `received`, what this upstream
// saw (method, real path, content-type, body bytes), so the test page can show
// it beside what crossed the wire between the browser and the relay.
//
//   POST /api/login   JSON {email, password, ...} -> what it got, minus the
//                     password, plus a greeting (not a real login)
//   POST /api/upload  multipart/form-data, parsed as it streams (no file is
//                     held in memory) -> per file: field, name, type, size, sha256
//   ANY  /api/echo    method, path, query, headers, body size/sha256/start
//   GET  /            the list of routes
//
// Run: node demo/upstream.mjs [--port N] [--host ADDR]   (or PORT, HOST;
// defaults 3000 and 127.0.0.1).  As a module: startDemoUpstream({port, host}).

import { createServer } from 'node:http';
import { createHash } from 'node:crypto';
import { pathToFileURL } from 'node:url';

const JSON_BODY_MAX = 64 * 1024;      // login and other JSON bodies
const MULTIPART_HEADERS_MAX = 8192;   // header block of one part
const MULTIPART_PARTS_MAX = 1000;     // parts in one upload
const FIELD_VALUE_MAX = 8192;         // bytes kept of a non-file field
const ECHO_TEXT_MAX = 4096;           // bytes of an echoed body shown as text
const BOUNDARY_MAX = 70;              // RFC 2046

class HttpError extends Error {
  constructor(status, message) { super(message); this.status = status; }
}

// ---- multipart/form-data, streamed ----------------------------------------

/** The boundary of a multipart/form-data content-type, or null. */
export function multipartBoundary(contentType) {
  if (typeof contentType !== 'string') return null;
  const [type, ...params] = contentType.split(';');
  if (type.trim().toLowerCase() !== 'multipart/form-data') return null;
  for (const p of params) {
    const eq = p.indexOf('=');
    if (eq < 0) continue;
    if (p.slice(0, eq).trim().toLowerCase() !== 'boundary') continue;
    let v = p.slice(eq + 1).trim();
    if (v.length >= 2 && v.startsWith('"') && v.endsWith('"')) v = v.slice(1, -1);
    if (v.length >= 1 && v.length <= BOUNDARY_MAX && !/[\r\n]/.test(v)) return v;
    return null;
  }
  return null;
}

/** Parses `form-data; name="a"; filename="b"` into {name, filename}. */
function parseDisposition(value) {
  const out = {};
  const re = /;\s*([A-Za-z0-9!#$%&'*+.^_`|~-]+)\s*=\s*(?:"((?:[^"\\]|\\.)*)"|([^;\s]*))/g;
  let m;
  while ((m = re.exec(value)) !== null) {
    const key = m[1].toLowerCase();
    const v = m[2] !== undefined ? m[2].replace(/\\(.)/g, '$1') : m[3];
    if (!(key in out)) out[key] = v;
  }
  return out;
}

/**
 * A push parser for a multipart body: write() the request's chunks as they
 * arrive, then end().  It holds at most one chunk plus the delimiter's length
 * (and one part's header block), whatever the size of the files.
 * sink: partBegin(headers) -> {data(buf), end()}.  Throws HttpError(400) on a
 * malformed body.
 */
export class MultipartParser {
  constructor(boundary, sink) {
    this.delim = Buffer.from(`\r\n--${boundary}`, 'latin1');
    // A CRLF in front lets the first delimiter, which has none, match like the rest.
    this.buf = Buffer.from('\r\n');
    this.state = 'preamble';
    this.sink = sink;
    this.part = null;
    this.parts = 0;
  }

  write(chunk) {
    this.buf = this.buf.length ? Buffer.concat([this.buf, chunk]) : chunk;
    this.run();
  }

  end() {
    this.run();
    if (this.state !== 'epilogue') {
      throw new HttpError(400, 'the multipart body ended before its closing boundary');
    }
  }

  run() {
    const { delim } = this;
    for (;;) {
      const buf = this.buf;
      switch (this.state) {
        case 'preamble': {
          const i = buf.indexOf(delim);
          if (i < 0) {
            this.buf = buf.subarray(Math.max(0, buf.length - (delim.length - 1)));
            return;
          }
          this.buf = buf.subarray(i + delim.length);
          this.state = 'delimiter';
          break;
        }
        case 'delimiter': {
          // After a delimiter: "--" closes the body; else optional blanks, then CRLF.
          if (buf.length < 2) return;
          if (buf[0] === 0x2d && buf[1] === 0x2d) { this.state = 'epilogue'; break; }
          let j = 0;
          while (j < buf.length && (buf[j] === 0x20 || buf[j] === 0x09)) j++;
          if (j > 64) throw new HttpError(400, 'malformed multipart boundary line');
          if (buf.length < j + 2) return;
          if (buf[j] !== 0x0d || buf[j + 1] !== 0x0a) throw new HttpError(400, 'malformed multipart boundary line');
          this.buf = buf.subarray(j + 2);
          this.state = 'headers';
          break;
        }
        case 'headers': {
          let end;
          let skip;
          if (buf.length >= 2 && buf[0] === 0x0d && buf[1] === 0x0a) { end = 0; skip = 2; } else {
            end = buf.indexOf('\r\n\r\n');
            skip = 4;
          }
          if (end < 0) {
            if (buf.length > MULTIPART_HEADERS_MAX) throw new HttpError(400, 'a multipart part has too large a header block');
            return;
          }
          if (end > MULTIPART_HEADERS_MAX) throw new HttpError(400, 'a multipart part has too large a header block');
          if (++this.parts > MULTIPART_PARTS_MAX) throw new HttpError(400, `more than ${MULTIPART_PARTS_MAX} multipart parts`);
          const headers = {};
          for (const line of buf.subarray(0, end).toString('utf8').split('\r\n')) {
            if (!line) continue;
            const c = line.indexOf(':');
            if (c <= 0) throw new HttpError(400, 'malformed multipart part header');
            headers[line.slice(0, c).trim().toLowerCase()] = line.slice(c + 1).trim();
          }
          this.part = this.sink.partBegin(headers);
          this.buf = buf.subarray(end + skip);
          this.state = 'body';
          break;
        }
        case 'body': {
          const i = buf.indexOf(delim);
          if (i >= 0) {
            if (i > 0) this.part.data(buf.subarray(0, i));
            this.part.end();
            this.part = null;
            this.buf = buf.subarray(i + delim.length);
            this.state = 'delimiter';
            break;
          }
          // Everything but a possible start of the delimiter is part data.
          const keep = Math.min(buf.length, delim.length - 1);
          if (buf.length > keep) this.part.data(buf.subarray(0, buf.length - keep));
          this.buf = Buffer.from(buf.subarray(buf.length - keep)); // copy: do not pin the whole chunk
          return;
        }
        case 'epilogue':
          this.buf = Buffer.alloc(0);
          return;
        default:
          throw new Error(`bad state ${this.state}`);
      }
    }
  }
}

// ---- the API ---------------------------------------------------------------

function sendJson(res, status, obj, extraHeaders = {}) {
  const body = JSON.stringify(obj, null, 1);
  res.writeHead(status, {
    'content-type': 'application/json; charset=utf-8',
    'content-length': Buffer.byteLength(body),
    'cache-control': 'no-store',
    ...extraHeaders,
  });
  res.end(body);
}

/** What this upstream saw of a request, filled in as its body streams. */
function seen(req, url) {
  return {
    method: req.method,
    path: url.pathname + url.search,
    contentType: req.headers['content-type'] || null,
    contentLength: req.headers['content-length'] !== undefined ? Number(req.headers['content-length']) : null,
    bytes: 0,
  };
}

/**
 * Reads the body, calling onData for each chunk; resolves at its end, rejects
 * when the client (the relay) aborts it, so an aborted upload is never answered
 * as complete.
 */
function consume(req, received, onData) {
  return new Promise((resolve, reject) => {
    let done = false;
    req.on('data', (d) => {
      received.bytes += d.length;
      if (onData) onData(d);
    });
    req.on('end', () => { done = true; resolve(); });
    req.on('error', (e) => { if (!done) reject(e); });
    req.on('close', () => { if (!done) reject(new Error('request aborted')); });
  });
}

async function handleLogin(req, res, received) {
  if (req.method !== 'POST') return sendJson(res, 405, { error: 'use POST', received }, { allow: 'POST' });
  const parts = [];
  let n = 0;
  let tooLarge = false;
  await consume(req, received, (d) => {
    n += d.length;
    if (n > JSON_BODY_MAX) tooLarge = true; else parts.push(d);
  });
  if (tooLarge) throw new HttpError(413, `the JSON body is larger than ${JSON_BODY_MAX} bytes`);
  if (!/^application\/json\b/i.test(received.contentType || '')) {
    throw new HttpError(415, 'send the login as application/json');
  }
  let body;
  try { body = JSON.parse(Buffer.concat(parts).toString('utf8')); } catch {
    throw new HttpError(400, 'the body is not valid JSON');
  }
  if (!body || typeof body !== 'object' || Array.isArray(body)) throw new HttpError(400, 'send a JSON object');
  const { password, ...rest } = body;
  const email = typeof body.email === 'string' ? body.email.trim() : '';
  if (!email) throw new HttpError(400, 'an email is required');
  return sendJson(res, 200, {
    ok: true,
    greeting: `Hello, ${email}! The demo upstream received your login.`,
    note: 'This is a demo: nothing was checked, and the password is not echoed.',
    youSent: rest,
    passwordReceived: typeof password === 'string' && password.length > 0,
    time: new Date().toISOString(),
    received,
  });
}

async function handleUpload(req, res, received) {
  if (req.method !== 'POST') return sendJson(res, 405, { error: 'use POST', received }, { allow: 'POST' });
  const boundary = multipartBoundary(received.contentType);
  const files = [];
  const fields = {};
  let failure = boundary ? null : new HttpError(415, 'send the upload as multipart/form-data with a boundary');
  const parser = boundary && new MultipartParser(boundary, {
    partBegin(headers) {
      const disp = parseDisposition(headers['content-disposition'] || '');
      const name = disp.name !== undefined ? disp.name : '';
      if (disp.filename !== undefined) {
        const file = { field: name, name: disp.filename, type: headers['content-type'] || null, size: 0, sha256: null };
        const hash = createHash('sha256');
        return {
          data(b) { file.size += b.length; hash.update(b); },
          end() { file.sha256 = hash.digest('hex'); files.push(file); },
        };
      }
      const kept = [];
      let size = 0;
      return {
        data(b) { if (size < FIELD_VALUE_MAX) kept.push(b.subarray(0, FIELD_VALUE_MAX - size)); size += b.length; },
        end() { fields[name] = Buffer.concat(kept).toString('utf8') + (size > FIELD_VALUE_MAX ? '…' : ''); },
      };
    },
  });
  await consume(req, received, (d) => {
    if (failure) return; // keep reading (and dropping) so the answer reaches the relay
    try { parser.write(d); } catch (e) { failure = e; }
  });
  if (!failure) {
    try { parser.end(); } catch (e) { failure = e; }
  }
  if (failure) throw failure;
  return sendJson(res, 200, { ok: true, files, fields, received });
}

async function handleEcho(req, res, received, url) {
  const hash = createHash('sha256');
  const start = [];
  let kept = 0;
  await consume(req, received, (d) => {
    hash.update(d);
    if (kept < ECHO_TEXT_MAX) { start.push(d.subarray(0, ECHO_TEXT_MAX - kept)); kept += Math.min(d.length, ECHO_TEXT_MAX - kept); }
  });
  const headers = { ...req.headers };
  for (const secret of ['authorization', 'cookie', 'proxy-authorization']) {
    if (headers[secret] !== undefined) headers[secret] = '(present, not echoed)';
  }
  return sendJson(res, 200, {
    ok: true,
    method: req.method,
    path: url.pathname,
    query: Object.fromEntries(url.searchParams),
    headers,
    body: { bytes: received.bytes, sha256: hash.digest('hex'), start: Buffer.concat(start).toString('utf8') },
    received,
  });
}

/**
 * GET /api/ticker?count=N&every=MS: server-sent events, one "tick" every MS
 * milliseconds (default 500), N of them (default 10, at most 100), each
 * with the time it was written, so the page can show its end-to-end delay.
 */
async function handleTicker(req, res, received, url) {
  req.resume();
  const count = Math.min(Math.max(Number(url.searchParams.get('count')) || 10, 1), 100);
  const every = Math.min(Math.max(Number(url.searchParams.get('every')) || 500, 10), 10000);
  const from = Number(req.headers['last-event-id']);
  let n = Number.isInteger(from) && from >= 0 ? from + 1 : 0;
  res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-store' });
  res.write('retry: 1000\n\n');
  await new Promise((resolve) => {
    const timer = setInterval(() => {
      if (n >= count || res.destroyed) {
        clearInterval(timer);
        res.end();
        resolve();
        return;
      }
      res.write(`id: ${n}\nevent: tick\ndata: ${JSON.stringify({ n, sentAt: Date.now() })}\n\n`);
      n++;
    }, every);
    res.on('close', () => { clearInterval(timer); resolve(); });
  });
}

const ROUTES = {
  '/api/login': handleLogin,
  '/api/upload': handleUpload,
  '/api/echo': handleEcho,
  '/api/ticker': handleTicker,
};

/** The demo API as an http.Server (not listening). log(line) gets one line per request. */
export function createDemoUpstream({ log = null } = {}) {
  return createServer((req, res) => {
    let url;
    try { url = new URL(req.url, 'http://upstream.invalid'); } catch {
      return sendJson(res, 400, { error: 'malformed request target' });
    }
    const received = seen(req, url);
    const t0 = Date.now();
    res.on('finish', () => {
      if (log) log(`${req.method} ${url.pathname} -> ${res.statusCode} (${received.bytes} bytes in, ${Date.now() - t0} ms)`);
    });
    const route = ROUTES[url.pathname] || ROUTES[url.pathname.replace(/\/+$/, '')];
    if (!route) {
      req.resume();
      if (url.pathname === '/' && req.method === 'GET') {
        return sendJson(res, 200, { demo: 'mte-relay demo upstream', routes: ['POST /api/login', 'POST /api/upload', 'ANY /api/echo', 'GET /api/ticker'] });
      }
      return sendJson(res, 404, { error: `no route ${url.pathname} on the demo upstream`, received });
    }
    route(req, res, received, url).catch((e) => {
      if (res.headersSent || res.destroyed) return;
      if (e instanceof HttpError) return sendJson(res, e.status, { error: e.message, received });
      // The request was aborted (e.g. the relay stopped a body that failed
      // authentication): there is nobody to answer.
      if (req.destroyed || req.aborted || /aborted/.test(e.message)) { res.destroy(); return undefined; }
      return sendJson(res, 500, { error: String(e.message || e), received });
    });
    return undefined;
  });
}

/** Starts the demo API; resolves to {server, port, url, stop()}. */
export async function startDemoUpstream({ port = 0, host = '127.0.0.1', log = null } = {}) {
  const server = createDemoUpstream({ log });
  server.keepAliveTimeout = 65_000; // longer than the relay's pooled connections idle
  await new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => { server.off('error', reject); resolve(); });
  });
  const addr = server.address();
  const shown = addr.family === 'IPv6' ? `[${addr.address}]` : addr.address;
  return {
    server,
    port: addr.port,
    url: `http://${shown}:${addr.port}`,
    stop: () => new Promise((r) => { server.closeAllConnections(); server.close(() => r()); }),
  };
}

function cliArgs(argv) {
  const out = { port: process.env.PORT || '3000', host: process.env.HOST || '127.0.0.1' };
  for (let i = 0; i < argv.length; i++) {
    const [flag, inline] = argv[i].split(/=(.*)/s, 2);
    const value = inline !== undefined ? inline : argv[++i];
    if (flag === '--port') out.port = value;
    else if (flag === '--host') out.host = value;
    else { console.error(`usage: node demo/upstream.mjs [--port N] [--host ADDR]`); process.exit(64); }
  }
  if (!/^\d+$/.test(String(out.port)) || Number(out.port) > 65535) {
    console.error(`demo upstream: bad port ${JSON.stringify(out.port)}`);
    process.exit(64);
  }
  return out;
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const { port, host } = cliArgs(process.argv.slice(2));
  const quiet = /^(1|true|yes)$/i.test(process.env.QUIET || '');
  const up = await startDemoUpstream({
    port: Number(port), host, log: quiet ? null : (line) => console.log(`[demo upstream] ${line}`),
  }).catch((e) => { console.error(`demo upstream: cannot listen on ${host}:${port}: ${e.message}`); process.exit(1); });
  console.log(`[demo upstream] listening at ${up.url}`);
  const stop = () => { up.stop().then(() => process.exit(0)); setTimeout(() => process.exit(0), 2000).unref(); };
  process.on('SIGINT', stop);
  process.on('SIGTERM', stop);
}
