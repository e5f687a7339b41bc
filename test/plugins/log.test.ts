import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { redactQuery } from '../../plugins/log/index.js';
import { startUpstream, waitUntil, type TestUpstream } from '../support/http.js';
import { startGateway, type TestGateway } from '../support/gateway.js';
import { PROTOCOLS } from '../support/tls.js';

type Line = Record<string, any>;

function readLines(file: string): Line[] {
  if (!existsSync(file)) return [];
  return readFileSync(file, 'utf8')
    .split('\n')
    .filter((l) => l.trim())
    .map((l) => JSON.parse(l) as Line);
}

/** Polls the log file until a line for this request id is there. */
async function lineFor(file: string, requestId: string): Promise<Line> {
  let found: Line | undefined;
  await waitUntil(
    () => {
      found = readLines(file).find((l) => l.requestId === requestId);
      return found !== undefined;
    },
    10000,
    `a log line for ${requestId} in ${file}`,
  );
  return found!;
}

describe('redactQuery', () => {
  test('redacts credential parameters and keeps the rest in order', () => {
    assert.equal(redactQuery('?a=1&token=abc&b=2&API_KEY=k&sig=s'), '?a=1&token=[redacted]&b=2&API_KEY=[redacted]&sig=[redacted]');
    assert.equal(redactQuery('?%74oken=abc'), '?%74oken=[redacted]');
    assert.equal(redactQuery(''), '');
  });

  test('never throws on malformed percent-encoding and still redacts', () => {
    assert.equal(redactQuery('?%E0=1&token=abc'), '?%E0=1&token=[redacted]');
    assert.equal(redactQuery('?bad%zz=1&password=p'), '?bad%zz=1&password=[redacted]');
  });
});

// These cases run over HTTP/1.1 and over HTTP/2 (TLS, ALPN): the plugin must behave the same.
for (const proto of PROTOCOLS) {
  describe(`log plugin writing to a file [${proto}]`, () => {
    let up: TestUpstream;
    let g: TestGateway;
    let plainFile: string;
    let fullFile: string;

    const SECRETS = {
      authorization: 'Bearer sekret-bearer-9f8e7d',
      cookie: 'session=sekret-cookie-1a2b3c',
      apikey: 'sekret-apikey-4d5e6f',
      'x-hub-signature-256': 'sha256=5ec0e7a11a11a11a11a11a11a11a11a11a11a11a11a11a11a11a11a11a11a11a',
      'x-custom-secret': 'sekret-custom-777',
      'stripe-signature': 't=1,v1=sekretstripe000',
    };
    const QUERY_TOKEN = 'sekret-query-token-321';

    before(async () => {
      up = await startUpstream();
      g = await startGateway(`
upstreams:
  up: { targets: [ { url: "${up.url}" } ] }
routes:
  - name: plain
    path: /plain/*
    plugins:
      - request-id: {}
      - log: { destination: ./logs/plain.log }
    upstream: up
  - name: full
    path: /full
    plugins:
      - request-id: {}
      - log: { destination: ./logs/full.log, headers: true, query: true, redact: [X-Custom-Secret] }
    upstream: up
  - name: rewritten
    path: /rewritten
    plugins:
      - request-id: {}
      - headers: { request: { remove: [x-visible], add: { x-added: "by-plugin" } } }
      - log: { destination: ./logs/full.log, headers: true }
    upstream: up
  - name: answer
    path: /answer
    plugins:
      - request-id: {}
      - log: { destination: ./logs/plain.log }
    respond: { status: 202, body: "accepted" }
  - name: limited
    path: /limited
    plugins:
      - request-id: {}
      - log: { destination: ./logs/plain.log }
      - size-limit: { bytes: 8 }
    upstream: up
`, { protocol: proto });
      plainFile = join(g.dir, 'logs/plain.log');
      fullFile = join(g.dir, 'logs/full.log');
    });

    after(async () => {
      await g?.stop();
      await up?.close();
    });

    test('one JSON line per request with the documented fields, without waiting for a stop or a full buffer', async () => {
      const body = JSON.stringify({ hello: 'world' });
      const r = await g.request({ method: 'POST', path: '/plain/orders?x=1', headers: { 'x-request-id': 'log-plain-1', 'content-type': 'application/json' }, body });
      assert.equal(r.status, 200);
      const line = await lineFor(plainFile, 'log-plain-1');
      assert.equal(typeof line.time, 'string');
      assert.ok(!Number.isNaN(Date.parse(line.time)), `time is a date: ${line.time}`);
      assert.equal(line.route, 'plain');
      assert.equal(line.method, 'POST');
      assert.equal(line.path, '/plain/orders');
      assert.equal(line.status, 200);
      assert.equal(line.upstream, up.url);
      assert.equal(typeof line.latencyMs, 'number');
      assert.ok(line.latencyMs >= 0);
      assert.equal(line.bytesIn, Buffer.byteLength(body));
      assert.equal(line.bytesOut, r.body.length);
      assert.equal(line.query, undefined, 'the query is not logged unless asked for');
      assert.equal(line.headers, undefined, 'headers are not logged unless asked for');
    });

    test('answers written by the gateway and its errors are logged with their status and code', async () => {
      const ok = await g.request({ path: '/answer', headers: { 'x-request-id': 'log-answer-1' } });
      assert.equal(ok.status, 202);
      const a = await lineFor(plainFile, 'log-answer-1');
      assert.equal(a.route, 'answer');
      assert.equal(a.status, 202);
      assert.equal(a.upstream, undefined);
      assert.equal(a.bytesOut, Buffer.byteLength('accepted'));

      const big = await g.request({ method: 'POST', path: '/limited', headers: { 'x-request-id': 'log-413-1' }, body: 'way more than eight bytes' });
      assert.equal(big.status, 413);
      const l = await lineFor(plainFile, 'log-413-1');
      assert.equal(l.status, 413);
      assert.equal(l.error, 'HG_BODY_TOO_LARGE');
    });

    test('with headers: true the log shows the headers as received, not as plugins rewrote them for the upstream', async () => {
      const r = await g.request({ path: '/rewritten', headers: { 'x-request-id': 'log-rewritten-1', 'x-visible': 'shown' } });
      assert.equal(r.status, 200);
      const line = await lineFor(fullFile, 'log-rewritten-1');
      assert.equal(line.headers['x-visible'], 'shown');
      assert.equal(line.headers['x-added'], undefined);
      const seen = up.requests.at(-1)!.headers;
      assert.equal(seen['x-visible'], undefined, 'the upstream got the rewritten headers');
      assert.equal(seen['x-added'], 'by-plugin');
    });

    test('with headers: true credentials are "[redacted]" and no secret value reaches the file', async () => {
      const r = await g.request({
        method: 'POST',
        path: `/full?token=${QUERY_TOKEN}&page=2&access_token=${QUERY_TOKEN}`,
        headers: { ...SECRETS, 'x-request-id': 'log-full-1', 'x-visible': 'shown' },
        body: 'payload',
      });
      assert.equal(r.status, 200);
      const line = await lineFor(fullFile, 'log-full-1');
      for (const name of Object.keys(SECRETS)) assert.equal(line.headers[name], '[redacted]', name);
      assert.equal(line.headers['x-visible'], 'shown');
      assert.equal(line.query, '?token=[redacted]&page=2&access_token=[redacted]');
      assert.equal(line.path, '/full');
      // The upstream did get them: redaction is for the log only.
      assert.equal(up.requests.at(-1)!.headers.authorization, SECRETS.authorization);

      const text = readFileSync(fullFile, 'utf8');
      for (const value of [...Object.values(SECRETS), QUERY_TOKEN, 'sekret']) assert.ok(!text.includes(value), `the log contains ${value}`);
    });

    test('a malformed query string does not lose the log line, and its token is still redacted', async () => {
      const r = await g.request({ path: `/full?%E0%A4=1&token=${QUERY_TOKEN}`, headers: { 'x-request-id': 'log-badquery-1' } });
      assert.equal(r.status, 200);
      const line = await lineFor(fullFile, 'log-badquery-1');
      assert.equal(line.query, '?%E0%A4=1&token=[redacted]');
      assert.ok(!readFileSync(fullFile, 'utf8').includes(QUERY_TOKEN));
    });

    test('every request gets its own line', async () => {
      const ids = Array.from({ length: 20 }, (_, i) => `log-many-${i}`);
      await Promise.all(ids.map((id) => g.request({ path: `/plain/${id}`, headers: { 'x-request-id': id } })));
      await waitUntil(() => {
        const seen = new Set(readLines(plainFile).map((l) => l.requestId));
        return ids.every((id) => seen.has(id));
      }, 10000, 'all 20 lines');
      const lines = readLines(plainFile).filter((l) => ids.includes(l.requestId));
      assert.equal(lines.length, 20);
      for (const l of lines) assert.equal(l.path, `/plain/${l.requestId}`);
    });
  });
}
