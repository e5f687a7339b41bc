import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { httpRequest, startUpstream, type HttpResult, type TestUpstream } from './support/http.js';
import { ADMIN_TOKEN, startGateway, type TestGateway } from './support/gateway.js';
import { deleteKeys, REDIS_URL, testPrefix } from './support/redis.js';

// Distinctive secret strings: the test asserts none of them ever appears in an admin answer.
const SIG_SECRET = 'sigSecret-7f3a9c1e5b';
const SIG_SECRET_2 = 'whsec_' + Buffer.from('rotatingSecret-44d2').toString('base64');
const JWT_SECRET = 'jwtSecret-1b8e4d6a2c';
const API_KEY = 'apiKey-9d2c7e1f3a';
const REDIS_PW = 'redisPw-5e8a1c3d7b';
const UPSTREAM_KEY = 'upstreamKey-3c9e7a2b1d';

function redisUrlWithPassword(): { url: string; password: string } {
  const u = new URL(REDIS_URL);
  if (!u.password) u.password = REDIS_PW;
  return { url: u.toString(), password: decodeURIComponent(u.password) };
}

const redis = redisUrlWithPassword();
const prefix = testPrefix('admin');

let up: TestUpstream;
let g: TestGateway;

before(async () => {
  up = await startUpstream();
  g = await startGateway(`
store: { driver: redis, url: "${redis.url}", prefix: "${prefix}" }
upstreams:
  app:
    targets: [ { url: "${up.url}" } ]
plugins:
  - request-id: {}
routes:
  - name: hello
    path: /hello
    methods: [GET]
    respond: { status: 200, body: { hello: world } }
  - name: signed
    path: /hooks/github
    methods: [POST]
    plugins:
      - verify-signature: { preset: github, secrets: ["${SIG_SECRET}"] }
      - headers: { request: { add: { x-api-key: "${UPSTREAM_KEY}", x-env: prod } } }
    upstream: app
  - name: sw
    path: /hooks/sw
    plugins:
      - verify-signature: { preset: standard-webhooks, secrets: ["${SIG_SECRET_2}"] }
    upstream: app
  - name: jwt
    path: /api/*
    plugins:
      - jwt-auth: { algorithms: [HS256], secrets: ["${JWT_SECRET}"] }
      - key-auth: { keys: [ { key: "${API_KEY}", consumer: alice } ] }
      - rate-limit: { by: consumer, points: 100, durationSec: 60 }
    upstream: app
`);
});

after(async () => {
  await g?.stop();
  await up?.close();
  await deleteKeys(prefix);
});

const CALLS: [string, string][] = [
  ['POST', '/admin/reload'],
  ['GET', '/admin/routes'],
  ['GET', '/admin/config'],
  ['GET', '/metrics'],
  ['GET', '/admin/metrics'],
  ['GET', '/admin/no-such-thing'],
  ['DELETE', '/admin/routes'],
];

function raw(method: string, path: string, headers: Record<string, string>, body?: string): Promise<HttpResult> {
  return httpRequest({ port: g.adminPort, method, path, headers, body });
}

test('every admin call without a valid token → 401 HG_ADMIN_UNAUTHORIZED with WWW-Authenticate, never echoing the credential', async () => {
  const wrong = 'wrong-token-abcdef-0123';
  const presented: Record<string, string>[] = [
    {},
    { authorization: `Bearer ${wrong}` },
    { authorization: `Bearer ${ADMIN_TOKEN}x` },
    { authorization: `Bearer ${ADMIN_TOKEN.slice(0, -1)}` },
    { authorization: `Basic ${Buffer.from(`admin:${ADMIN_TOKEN}`).toString('base64')}` },
    { authorization: `bearer-${ADMIN_TOKEN}` },
    { authorization: 'Bearer ' },
    { 'x-admin-token': ADMIN_TOKEN },
  ];
  for (const [method, path] of CALLS) {
    for (const headers of presented) {
      const r = await raw(method, path, headers, method === 'POST' ? '{}' : undefined);
      const what = `${method} ${path} with ${JSON.stringify(headers)}`;
      assert.equal(r.status, 401, what);
      assert.equal(r.json().error.code, 'HG_ADMIN_UNAUTHORIZED', what);
      assert.match(String(r.headers['www-authenticate']), /^Bearer realm=/, what);
      const everything = r.text + JSON.stringify(r.headers);
      assert.ok(!everything.includes(wrong), `${what}: the presented token was echoed`);
      assert.ok(!everything.includes(ADMIN_TOKEN), `${what}: the admin token leaked`);
    }
  }
  assert.equal(g.gw.snapshot!.id, 1, 'an unauthorized reload did nothing');
});

test('GET /admin/routes lists every route with its plugins and action', async () => {
  const r = await g.admin('GET', '/admin/routes');
  assert.equal(r.status, 200);
  const body = r.json();
  assert.equal(body.generation, g.gw.snapshot!.id);
  const byName = Object.fromEntries(body.routes.map((x: { name: string }) => [x.name, x]));
  assert.deepEqual(Object.keys(byName), ['hello', 'signed', 'sw', 'jwt']);
  assert.deepEqual(byName.hello, {
    name: 'hello',
    path: '/hello',
    methods: ['GET'],
    host: null,
    headers: null,
    action: 'respond',
    upstream: null,
    websocket: false,
    plugins: ['request-id'],
    deprecated: null,
  });
  assert.equal(byName.signed.action, 'proxy');
  assert.equal(byName.signed.upstream, 'app');
  assert.deepEqual(byName.signed.plugins, ['request-id', 'verify-signature', 'headers']);
  assert.deepEqual(byName.jwt.plugins, ['request-id', 'jwt-auth', 'key-auth', 'rate-limit']);
  assert.equal(byName.jwt.path, '/api/*');
  for (const s of [SIG_SECRET, SIG_SECRET_2, JWT_SECRET, API_KEY]) assert.ok(!r.text.includes(s));
});

test('GET /admin/config redacts every secret', async () => {
  const r = await g.admin('GET', '/admin/config');
  assert.equal(r.status, 200);
  const leaks = [SIG_SECRET, SIG_SECRET_2, JWT_SECRET, API_KEY, ADMIN_TOKEN, redis.password, UPSTREAM_KEY].filter((s) => r.text.includes(s));
  assert.deepEqual(leaks, [], 'raw secrets in /admin/config');
  const c = r.json();
  // The shape is kept, so the answer is still useful.
  assert.equal(c.routes.length, 4);
  assert.equal(c.routes[1].plugins[0]['verify-signature'].preset, 'github');
  assert.equal(c.routes[1].plugins[0]['verify-signature'].secrets.length, 1);
  assert.equal(c.routes[3].plugins[1]['key-auth'].keys[0].consumer, 'alice');
  assert.equal(c.routes[1].plugins[1].headers.request.add['x-env'], 'prod');
  assert.match(c.store.url, /^redis:\/\/.*\[redacted\]@/);
  assert.equal(c.upstreams.app.targets[0].url, up.url, 'non-secret values are untouched');
  assert.equal(c.admin.port, 0);
});

test('GET /metrics is Prometheus text with hookgate_requests_total after some requests', async () => {
  for (let i = 0; i < 3; i++) assert.equal((await g.request({ path: '/hello' })).status, 200);
  assert.equal((await g.request({ path: '/hello', method: 'DELETE' })).status, 405);
  for (const path of ['/metrics', '/admin/metrics']) {
    const r = await g.admin('GET', path);
    assert.equal(r.status, 200);
    assert.match(String(r.headers['content-type']), /^text\/plain/);
    assert.match(r.text, /^# HELP hookgate_requests_total /m);
    assert.match(r.text, /^# TYPE hookgate_requests_total counter$/m);
    assert.match(r.text, /^hookgate_requests_total\{route="hello",status="200"\} 3$/m);
    assert.match(r.text, /^hookgate_request_duration_seconds_count\{route="hello"\} \d+$/m);
    assert.match(r.text, /^hookgate_inflight_requests 0$/m);
  }
});

test('unknown admin path → 404 HG_ADMIN_NOT_FOUND; wrong method → 405; bad JSON → 400', async () => {
  const n = await g.admin('GET', '/admin/nothing/here');
  assert.equal(n.status, 404);
  assert.equal(n.json().error.code, 'HG_ADMIN_NOT_FOUND');
  const enc = await g.admin('GET', '/admin/%E0%A4%A');
  assert.equal(enc.status, 400, 'malformed percent-encoding is bad input, not an internal error');
  assert.equal(enc.json().error.code, 'HG_ADMIN_BAD_INPUT');
  const m = await g.admin('DELETE', '/admin/config');
  assert.equal(m.status, 405);
  assert.equal(m.json().error.code, 'HG_METHOD_NOT_ALLOWED');
  const bad = await raw('POST', '/admin/reload', { authorization: `Bearer ${ADMIN_TOKEN}`, 'content-type': 'application/json' }, '{"not": json');
  assert.equal(bad.status, 400);
  assert.equal(bad.json().error.code, 'HG_ADMIN_BAD_INPUT');
  assert.equal(g.gw.snapshot!.id, 1, 'a reload with a bad body did not run');
});

test('POST /admin/reload → 200; a reloaded admin token replaces the old one', async () => {
  const before = g.gw.snapshot!.id;
  const r = await g.admin('POST', '/admin/reload');
  assert.equal(r.status, 200, r.text);
  assert.equal(r.json().reloaded, true);
  assert.equal(r.json().generation, before + 1);
  assert.equal(r.json().routes, 4);
  assert.deepEqual(r.json().restartRequired, []);

  const text = readFileSync(g.file, 'utf8');
  const newToken = 'rotated-admin-token-9876';
  writeFileSync(g.file, text.replace(`token: "${ADMIN_TOKEN}"`, `token: "${newToken}"`));
  try {
    assert.equal((await g.admin('POST', '/admin/reload')).status, 200);
    assert.equal((await g.admin('GET', '/admin/routes')).status, 401, 'the old token no longer works');
    assert.equal((await g.admin('GET', '/admin/routes', undefined, newToken)).status, 200);
  } finally {
    writeFileSync(g.file, text);
    assert.equal((await g.admin('POST', '/admin/reload', undefined, newToken)).status, 200);
  }
  assert.equal((await g.admin('GET', '/admin/routes')).status, 200);
});
