// mteFetch through the real relay (build/mte-relay, real redis-server) to a
// real upstream: methods, headers, query strings, FormData uploads, 100 MiB
// streamed both ways in bounded relay memory, 200 concurrent requests.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import {
  newClient, startStack, peakRssKiB, sha256, patternBlock, seenAt,
} from './lib/e2e.mjs';

let stack; let upstream; let relay; let proxy;

before(async () => {
  stack = await startStack({ redis: true, proxy: true }); // the proxy only watches the wire
  ({ upstream, relay, proxy } = stack);
});

after(async () => { await stack?.stop(); });

test('GET/POST/PUT/PATCH/DELETE with JSON, query strings and custom headers; the wire shows none of them', async () => {
  const { f } = newClient();
  for (const method of ['GET', 'POST', 'PUT', 'PATCH', 'DELETE']) {
    const path = `/api/items/${method.toLowerCase()}?page=2&q=caf%C3%A9`;
    const body = method === 'GET' ? undefined : JSON.stringify({ method, list: [1, 2, 3], secret: `s3cr3t-${method}` });
    const r = await f(`${proxy.url}${path}`, {
      method, body, headers: { 'content-type': 'application/json', 'x-custom-token': `tok-${method}` },
    });
    assert.equal(r.status, 200, method);
    assert.equal(r.headers.get('content-type'), 'application/json');
    assert.equal(r.headers.get('x-upstream'), 'yes', 'upstream headers come back');
    const j = await r.json();
    assert.equal(j.method, method);
    assert.equal(j.url, path);
    assert.equal(j.headers['x-custom-token'], `tok-${method}`);
    if (body) {
      assert.equal(j.headers['content-type'], 'application/json');
      assert.equal(j.sha256, sha256(Buffer.from(body)));
      assert.equal(j.length, Buffer.byteLength(body));
    }
    assert.equal(j.headers['x-mte-relay'], undefined, 'transport headers are not forwarded upstream');
    assert.equal(j.headers['x-mte-relay-eh'], undefined);
    assert.equal(j.headers['accept-encoding'], undefined,
      "the fetch implementation's own Accept-Encoding is not forwarded (the upstream answers identity)");
    const wire = proxy.requests.at(-1);
    assert.equal(wire.url, '/');
    assert.equal(wire.headers['x-custom-token'], undefined);
    const wireText = JSON.stringify(wire.headers) + wire.body.toString('latin1');
    for (const leak of ['items', 'page=2', 'tok-', 's3cr3t', 'application/json']) assert.ok(!wireText.includes(leak), `${method}: "${leak}" on the wire`);
    const respText = JSON.stringify(proxy.responses.at(-1).headers) + proxy.responses.at(-1).body.toString('latin1');
    for (const leak of ['x-custom-token', 'tok-', 'application/json']) assert.ok(!respText.includes(leak), `${method}: "${leak}" in the wire response`);
  }
});

test('FormData upload of several files: bytes and sha256 intact upstream', async () => {
  const { f } = newClient();
  const files = [Buffer.alloc(200000, 0xab), Buffer.from('small text file\n'), Buffer.from(Array.from({ length: 65536 }, (_, i) => (i * 7) & 255))];
  const fd = new FormData();
  fd.append('title', 'three files');
  files.forEach((b, i) => fd.append(`file${i}`, new Blob([b], { type: 'application/octet-stream' }), `f${i}.bin`));
  const r = await f(`${proxy.url}/api/form`, { method: 'POST', body: fd });
  assert.equal(r.status, 200);
  const j = await r.json();
  assert.equal(j.title, 'three files');
  files.forEach((b, i) => assert.deepEqual(j[`file${i}`], { name: `f${i}.bin`, size: b.length, sha256: sha256(b) }));
  const rec = seenAt(upstream, '/api/form').at(-1);
  assert.match(rec.headers['content-type'], /^multipart\/form-data; boundary=/);
});

test('100 MiB upload and 100 MiB download stream through the relay with worker RSS under 32 MiB', async () => {
  const { f } = newClient();
  const size = 100 * 1024 * 1024;
  const up = Buffer.alloc(size);
  for (let i = 0; i < size; i += 1 << 20) patternBlock().copy(up, i);
  up[size - 1] = 42;
  let r = await f(`${relay.url}/api/upload`, { method: 'PUT', body: new Blob([up]) });
  assert.equal(r.status, 200);
  const j = await r.json();
  assert.equal(j.length, size);
  assert.equal(j.sha256, sha256(up));

  r = await f(`${relay.url}/api/download/${size}`);
  assert.equal(r.status, 200);
  const h = (await import('node:crypto')).createHash('sha256');
  let n = 0;
  for await (const part of r.body) { n += part.length; h.update(part); }
  assert.equal(n, size);
  const want = (await import('node:crypto')).createHash('sha256');
  for (let i = 0; i < size; i += 1 << 20) want.update(patternBlock());
  assert.equal(h.digest('hex'), want.digest('hex'));

  const workers = relay.workers();
  assert.ok(workers.length >= 1);
  for (const pid of workers) assert.ok(peakRssKiB(pid) < 32 * 1024, `worker ${pid} peak RSS ${peakRssKiB(pid)} KiB`);
});

test('200 concurrent requests on one pair all succeed', async () => {
  const { f, client } = newClient();
  const rs = await Promise.all(Array.from({ length: 200 }, (_, i) =>
    f(`${relay.url}/api/c/${i}?n=${i}`, { method: i % 2 ? 'POST' : 'GET', body: i % 2 ? `body ${i}` : undefined })
      .then(async (r) => ({ status: r.status, j: await r.json() }))));
  rs.forEach(({ status, j }, i) => {
    assert.equal(status, 200);
    assert.equal(j.url, `/api/c/${i}?n=${i}`);
    if (i % 2) assert.equal(j.sha256, sha256(Buffer.from(`body ${i}`)));
  });
  const st = client._state(relay.url);
  assert.equal(st.current.slots.length, 1);
  assert.equal(st.current.slots[0].pair.seq, 200, 'one pair carried all 200');
});
