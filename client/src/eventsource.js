// eventsource.js - MteEventSource: the EventSource interface (HTML's
// server-sent events) over a protected stream.  Each event arrives as the
// relay seals it (PROTOCOL.md section 13); reconnection sends Last-Event-ID
// and honours the server's retry:, as EventSource does.

const CONNECTING = 0;
const OPEN = 1;
const CLOSED = 2;
const DEFAULT_RETRY_MS = 3000;

function eventOf(type, init) {
  if (typeof MessageEvent === 'function') return new MessageEvent(type, init);
  const e = new Event(type);
  Object.assign(e, init);
  return e;
}

/**
 * The SSE parser (HTML "Interpreting an event stream"): feed(text) with any
 * split, end() at the end of the stream; dispatch(type, data, lastEventId)
 * and retry(ms) are called as the stream says.
 */
export function createEventStreamParser({ dispatch, retry }) {
  let buffer = '';
  let first = true;
  let data = '';
  let type = '';
  let lastId = '';
  let idBuffer = '';

  function field(name, value) {
    if (name === 'data') data += `${value}\n`;
    else if (name === 'event') type = value;
    else if (name === 'id' && !value.includes('\0')) idBuffer = value;
    else if (name === 'retry' && /^[0-9]+$/.test(value)) retry(Number(value));
  }

  function line(l) {
    if (l === '') {
      lastId = idBuffer;
      if (data !== '') dispatch(type || 'message', data.slice(0, -1), lastId);
      data = '';
      type = '';
      return;
    }
    if (l[0] === ':') return;
    const colon = l.indexOf(':');
    if (colon < 0) { field(l, ''); return; }
    let value = l.slice(colon + 1);
    if (value[0] === ' ') value = value.slice(1);
    field(l.slice(0, colon), value);
  }

  return {
    feed(text) {
      buffer += text;
      if (first && buffer.length) { if (buffer[0] === '\uFEFF') buffer = buffer.slice(1); first = false; }
      for (;;) {
        const m = /\r\n|\r|\n/.exec(buffer);
        // a lone CR at the end may be the first half of CRLF: wait for more
        if (!m || (m[0] === '\r' && m.index === buffer.length - 1)) break;
        line(buffer.slice(0, m.index));
        buffer = buffer.slice(m.index + m[0].length);
      }
    },
    end() { if (buffer.endsWith('\r')) { line(buffer.slice(0, -1)); buffer = ''; } },
    get lastEventId() { return lastId; },
  };
}

/**
 * createMteEventSource(mteFetch): the MteEventSource class of one client.
 * new MteEventSource(url, {withCredentials, headers, mteOptions}).
 */
export function createMteEventSource(mteFetch) {
  // A platform without EventTarget (an embedding VM) still loads the bundle.
  const Base = typeof EventTarget === 'function' ? EventTarget : class {};
  class MteEventSource extends Base {
    constructor(url, options = {}) {
      super();
      this.url = String(url instanceof URL ? url.href : url);
      this.withCredentials = !!options.withCredentials;
      this.readyState = CONNECTING;
      this.onopen = null;
      this.onmessage = null;
      this.onerror = null;
      this._options = options;
      this._retry = DEFAULT_RETRY_MS;
      this._lastEventId = '';
      this._abort = null;
      this._timer = null;
      queueMicrotask(() => this._connect());
    }

    close() {
      this.readyState = CLOSED;
      if (this._timer) clearTimeout(this._timer);
      if (this._abort) this._abort.abort();
    }

    _fire(event) {
      const handler = this[`on${event.type}`];
      if (typeof handler === 'function' && (event.type === 'open' || event.type === 'message' || event.type === 'error')) handler.call(this, event);
      this.dispatchEvent(event);
    }

    async _connect() {
      if (this.readyState === CLOSED) return;
      this._abort = new AbortController();
      const headers = new Headers(this._options.headers || {});
      headers.set('accept', 'text/event-stream');
      headers.set('cache-control', 'no-store');
      if (this._lastEventId) headers.set('last-event-id', this._lastEventId);
      let res;
      try {
        res = await mteFetch(this.url, {
          headers, signal: this._abort.signal, credentials: this.withCredentials ? 'include' : 'same-origin',
        }, this._options.mteOptions);
      } catch (e) {
        this._lost(e);
        return;
      }
      const type = (res.headers.get('content-type') || '').split(';')[0].trim().toLowerCase();
      if (res.status !== 200 || type !== 'text/event-stream' || !res.body) {
        // "fail the connection": not retried, as EventSource
        if (res.body) res.body.cancel().catch(() => {});
        this.readyState = CLOSED;
        this._fire(new Event('error'));
        return;
      }
      this.readyState = OPEN;
      this._fire(new Event('open'));
      await this._read(res);
    }

    async _read(res) {
      const origin = new URL(this.url, globalThis.location?.href).origin;
      const parser = createEventStreamParser({
        dispatch: (type, data, lastEventId) => {
          this._lastEventId = lastEventId;
          if (this.readyState !== CLOSED) this._fire(eventOf(type, { data, lastEventId, origin }));
        },
        retry: (ms) => { this._retry = ms; },
      });
      const reader = res.body.pipeThrough(new TextDecoderStream()).getReader();
      try {
        for (;;) {
          const { done, value } = await reader.read();
          if (done) break;
          parser.feed(value);
        }
        parser.end();
        this._lost(null);
      } catch (e) {
        this._lost(e);
      }
    }

    /** The connection ended or failed: reconnect after the retry time, unless closed. */
    _lost(err) {
      if (this.readyState === CLOSED) return;
      this.readyState = CONNECTING;
      const ev = new Event('error');
      if (err) ev.error = err;
      this._fire(ev);
      if (this.readyState === CLOSED) return;
      this._timer = setTimeout(() => { this._timer = null; this._connect(); }, this._retry);
    }
  }
  for (const [k, v] of Object.entries({ CONNECTING, OPEN, CLOSED })) {
    Object.defineProperty(MteEventSource, k, { value: v });
    Object.defineProperty(MteEventSource.prototype, k, { value: v });
  }
  return MteEventSource;
}
