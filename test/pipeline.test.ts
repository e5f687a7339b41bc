import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { definePlugin } from '../gateway/plugin-api.js';
import { startGateway, type TestGateway } from './support/gateway.js';
import { startUpstream, waitUntil } from './support/http.js';

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

/** The value of one exposition line of GET /metrics on the admin listener, or undefined. */
async function metric(g: TestGateway, line: string): Promise<number | undefined> {
  const r = await g.admin('GET', '/metrics');
  assert.equal(r.status, 200);
  const hit = r.text.split('\n').find((l) => l.startsWith(line + ' '));
  return hit === undefined ? undefined : Number(hit.slice(line.length + 1));
}

const ROUTES = `
routes:
  - name: only-post
    path: /hook
    methods: [POST]
    respond: { status: 204 }
`;

test('unmatched requests (404, 405, 400) get a request id, an access line and a metric sample', async () => {
  const g = await startGateway(ROUTES);
  try {
    const nf = await g.request({ path: '/nope?token=sekret-unmatched', headers: { 'user-agent': 'scanner/1.0' } });
    assert.equal(nf.status, 404);
    assert.equal(nf.json().error.code, 'HG_ROUTE_NOT_FOUND');
    const id = String(nf.headers['x-request-id']);
    assert.match(id, UUID);
    // No global log plugin: the core's operational logger writes the access line.
    await waitUntil(() => g.log.lines.some((l) => l.msg === 'request' && l.requestId === id), 5000, 'the 404 access line');
    const line = g.log.lines.find((l) => l.requestId === id)!;
    assert.equal(line.route, '(unmatched)');
    assert.equal(line.status, 404);
    assert.equal(line.error, 'HG_ROUTE_NOT_FOUND');
    assert.equal(line.level, 'warn');
    assert.equal(line.path, '/nope');
    assert.equal(line.clientIp, '127.0.0.1');
    assert.equal(line.userAgent, 'scanner/1.0');
    assert.ok(!JSON.stringify(g.log.lines).includes('sekret-unmatched'), 'the query is not logged');

    // A valid incoming id is reused; a malformed one is replaced.
    const reused = await g.request({ method: 'GET', path: '/hook', headers: { 'x-request-id': 'client-id-405' } });
    assert.equal(reused.status, 405);
    assert.equal(reused.headers['x-request-id'], 'client-id-405');
    const bad = await g.request({ path: '/%zz', headers: { 'x-request-id': 'has spaces' } });
    assert.equal(bad.status, 400);
    assert.match(String(bad.headers['x-request-id']), UUID);

    await waitUntil(() => g.log.lines.filter((l) => l.route === '(unmatched)').length >= 3, 5000, 'three unmatched lines');
    assert.equal(await metric(g, 'hookgate_requests_total{route="(unmatched)",status="404"}'), 1);
    assert.equal(await metric(g, 'hookgate_requests_total{route="(unmatched)",status="405"}'), 1);
    assert.equal(await metric(g, 'hookgate_requests_total{route="(unmatched)",status="400"}'), 1);
    assert.equal(await metric(g, 'hookgate_request_duration_seconds_count{route="(unmatched)"}'), 3);
  } finally {
    await g.stop();
  }
});

test('with a global log plugin, it writes the unmatched line (and the core does not write a second)', async () => {
  const g = await startGateway(`
plugins:
  - request-id: {}
  - log: { destination: ./access.log }
${ROUTES}`);
  try {
    const r = await g.request({ path: '/nope', headers: { 'x-request-id': 'global-log-404' } });
    assert.equal(r.status, 404);
    assert.equal(r.headers['x-request-id'], 'global-log-404');
    const file = join(g.dir, 'access.log');
    await waitUntil(() => existsSync(file) && readFileSync(file, 'utf8').includes('global-log-404'), 10000, 'the line in access.log');
    const line = JSON.parse(readFileSync(file, 'utf8').split('\n').find((l) => l.includes('global-log-404'))!);
    assert.equal(line.route, '(unmatched)');
    assert.equal(line.level, 'warn');
    assert.equal(g.log.lines.some((l) => l.requestId === 'global-log-404'), false);
  } finally {
    await g.stop();
  }
});

test('routes without the request-id plugin: the core answers with X-Request-Id, the one it forwarded', async () => {
  const up = await startUpstream();
  const g = await startGateway(`
upstreams:
  up: { targets: [ { url: "${up.url}" } ] }
routes:
  - name: fixed
    path: /fixed
    respond: { status: 200, body: ok }
  - name: proxied
    path: /proxied
    upstream: up
  - name: quiet
    path: /quiet
    plugins: [ { request-id: { responseHeader: false } } ]
    respond: { status: 200 }
`);
  try {
    const fixed = await g.request({ path: '/fixed' });
    assert.match(String(fixed.headers['x-request-id']), UUID);
    const reused = await g.request({ path: '/fixed', headers: { 'x-request-id': 'mine-1' } });
    assert.equal(reused.headers['x-request-id'], 'mine-1');
    const p = await g.request({ path: '/proxied' });
    assert.equal(p.status, 200);
    assert.match(String(p.headers['x-request-id']), UUID);
    assert.equal(p.headers['x-request-id'], up.requests.at(-1)!.headers['x-request-id']);
    const p2 = await g.request({ path: '/proxied', headers: { 'x-request-id': 'mine-2' } });
    assert.equal(p2.headers['x-request-id'], 'mine-2');
    assert.equal(up.requests.at(-1)!.headers['x-request-id'], 'mine-2');
    // The request-id plugin, where present, decides.
    assert.equal((await g.request({ path: '/quiet' })).headers['x-request-id'], undefined);
  } finally {
    await g.stop();
    await up.close();
  }
});

test('error lines carry the request id', async () => {
  const boom = definePlugin({
    name: 'boom',
    schema: { type: 'object' },
    create: () => ({
      onRequest() {
        throw new Error('plugin bug');
      },
      onResponse() {
        throw new Error('response bug');
      },
    }),
  });
  const g = await startGateway(
    `
routes:
  - name: r
    path: /r
    plugins: [ { boom: {} } ]
    respond: { status: 200 }
`,
    { plugins: [boom] },
  );
  try {
    const r = await g.request({ path: '/r', headers: { 'x-request-id': 'err-line-1' } });
    assert.equal(r.status, 500);
    assert.equal(r.json().error.code, 'HG_INTERNAL');
    await waitUntil(() => g.log.lines.some((l) => l.msg === 'onResponse failed'), 5000, 'the onResponse error line');
    for (const msg of ['unexpected error', 'onResponse failed']) {
      const line = g.log.lines.find((l) => l.msg === msg)!;
      assert.equal(line.requestId, 'err-line-1', msg);
      assert.equal(line.level, 'error', msg);
      assert.ok(!Number.isNaN(Date.parse(line.time)), `ISO time: ${line.time}`);
    }
  } finally {
    await g.stop();
  }
});
