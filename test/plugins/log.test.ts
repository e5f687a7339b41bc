import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { redactQuery } from '../../plugins/log/index.js';
import { closedPort, startUpstream, waitUntil, type TestUpstream } from '../support/http.js';
import { startGateway, type TestGateway } from '../support/gateway.js';

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

  test('the broader default list, and the extra names a route declares (case-insensitive)', () => {
    assert.equal(redactQuery('?jwt=a&client_secret=b&refresh_token=c&id_token=d&q=1'), '?jwt=[redacted]&client_secret=[redacted]&refresh_token=[redacted]&id_token=[redacted]&q=1');
    assert.equal(redactQuery('?Partner_Key=k&q=1', ['partner_key']), '?Partner_Key=[redacted]&q=1');
    assert.equal(redactQuery('?partner_key=k'), '?partner_key=k');
  });

  test('never throws on malformed percent-encoding and still redacts', () => {
    assert.equal(redactQuery('?%E0=1&token=abc'), '?%E0=1&token=[redacted]');
    assert.equal(redactQuery('?bad%zz=1&password=p'), '?bad%zz=1&password=[redacted]');
  });
});

describe('log plugin writing to a file', () => {
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
  const PARTNER_KEY = 'sekret-partner-key-0042';

  before(async () => {
    up = await startUpstream();
    const dead = await closedPort();
    g = await startGateway(`
upstreams:
  up: { targets: [ { url: "${up.url}" } ] }
  down: { targets: [ { url: "http://127.0.0.1:${dead}" } ] }
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
  - name: broken
    path: /broken
    plugins:
      - request-id: {}
      - log: { destination: ./logs/plain.log }
    upstream: down
  - name: keyed
    path: /keyed
    plugins:
      - request-id: {}
      - log: { destination: ./logs/full.log, headers: true, query: true }
      - key-auth: { header: X-Partner-Key, queryParam: partner_key, hideCredentials: false, keys: [ { key: "${PARTNER_KEY}", consumer: partner } ] }
    upstream: up
  - name: jwt
    path: /jwt
    plugins:
      - request-id: {}
      - log: { destination: ./logs/full.log, headers: true, query: true }
      - jwt-auth: { algorithms: [HS256], secrets: [a-secret-long-enough-for-this-test], header: X-Session-Token, queryParam: session_jwt }
    upstream: up
  - name: signed
    path: /signed
    plugins:
      - request-id: {}
      - log: { destination: ./logs/full.log, headers: true }
      - verify-signature: { preset: hmac, header: X-My-Signature, secrets: [sig-secret] }
    upstream: up
  - name: limited
    path: /limited
    plugins:
      - request-id: {}
      - log: { destination: ./logs/plain.log }
      - size-limit: { bytes: 8 }
    upstream: up
`);
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
    assert.equal(line.level, 'info', 'level as a label, as in the operational log');
    assert.equal(line.clientIp, '127.0.0.1');
    assert.equal(line.userAgent, undefined, 'this client sends no User-Agent');
    assert.equal(typeof line.time, 'string');
    assert.match(line.time, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
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
    assert.equal(l.level, 'warn', '4xx lines are at warn');

    const down = await g.request({ path: '/broken', headers: { 'x-request-id': 'log-502-1', 'user-agent': 'curl/8.5.0' } });
    assert.equal(down.status, 502);
    const d = await lineFor(plainFile, 'log-502-1');
    assert.equal(d.level, 'error', '5xx lines are at error');
    assert.equal(d.userAgent, 'curl/8.5.0');
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

  test('credentials that the auth plugins of the route read (custom header, query param) and the broader default list are redacted', async () => {
    const defaults = { 'x-auth-token': 'sekret-auth-token', 'x-access-token': 'sekret-access-token', 'x-gitlab-token': 'sekret-gitlab-token' };
    const ok = await g.request({ path: `/keyed?partner_key=${PARTNER_KEY}&client_secret=sekret-cs&page=3`, headers: { 'x-partner-key': PARTNER_KEY, 'x-request-id': 'log-keyed-1', ...defaults } });
    assert.equal(ok.status, 200);
    const k = await lineFor(fullFile, 'log-keyed-1');
    assert.equal(k.consumer, 'partner');
    assert.equal(k.headers['x-partner-key'], '[redacted]');
    for (const name of Object.keys(defaults)) assert.equal(k.headers[name], '[redacted]', name);
    assert.equal(k.query, '?partner_key=[redacted]&client_secret=[redacted]&page=3');

    const jwtToken = 'eyJhbGciOiJIUzI1NiJ9.sekret-jwt-payload.sekret-jwt-sig';
    const j = await g.request({ path: `/jwt?session_jwt=${jwtToken}&jwt=${jwtToken}`, headers: { 'x-session-token': `Bearer ${jwtToken}`, 'x-request-id': 'log-jwt-1' } });
    assert.equal(j.status, 401);
    const jl = await lineFor(fullFile, 'log-jwt-1');
    assert.equal(jl.headers['x-session-token'], '[redacted]');
    assert.equal(jl.query, '?session_jwt=[redacted]&jwt=[redacted]');

    const s = await g.request({ method: 'POST', path: '/signed', headers: { 'x-my-signature': 'sekret-signature-abc', 'x-request-id': 'log-signed-1' }, body: 'x' });
    assert.equal(s.status, 401);
    assert.equal((await lineFor(fullFile, 'log-signed-1')).headers['x-my-signature'], '[redacted]');

    // The same header on a route that does not read it is not a credential there.
    const plain = await g.request({ path: '/rewritten', headers: { 'x-partner-key': 'not-a-key-here', 'x-request-id': 'log-notkey-1' } });
    assert.equal(plain.status, 200);
    assert.equal((await lineFor(fullFile, 'log-notkey-1')).headers['x-partner-key'], 'not-a-key-here');

    const text = readFileSync(fullFile, 'utf8');
    for (const value of [PARTNER_KEY, 'sekret-jwt', 'sekret-signature', 'sekret-cs', ...Object.values(defaults)]) assert.ok(!text.includes(value), `the log contains ${value}`);
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

test('captureBody: off by default; on, the instance asks for the body and never writes it to the line', async () => {
  const { logPlugin } = await import('../../plugins/log/index.js');
  const props = (logPlugin.schema as { properties: Record<string, { default?: unknown }> }).properties;
  assert.equal(props.captureBody?.default, false);
  const g = await startGateway(`
routes:
  - name: cap
    path: /cap
    methods: [POST]
    plugins: [ { log: { destination: ./cap.log, captureBody: true } } ]
    respond: { status: 200 }
  - name: plain
    path: /plain
    plugins: [ { log: { destination: ./cap.log } } ]
    respond: { status: 200 }
`);
  try {
    assert.equal(g.gw.snapshot!.routes[0]!.needsBody, true);
    const r = await g.request({ method: 'POST', path: '/cap', headers: { 'x-request-id': 'cap-1' }, body: 'do-not-log-this-body' });
    assert.equal(r.status, 200);
    const line = await lineFor(join(g.dir, 'cap.log'), 'cap-1');
    assert.ok(!JSON.stringify(line).includes('do-not-log-this-body'));
    assert.equal(g.gw.snapshot!.routes[1]!.needsBody, false, 'without captureBody the body is not buffered');
  } finally {
    await g.stop();
  }
});
