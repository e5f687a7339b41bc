/**
 * Endpoint headers: values Node cannot send and framing, routing or signature headers are refused
 * when an endpoint is declared (gateway.yaml) or created (admin API); and an attempt whose send
 * throws anyway (a record written before these rules) is recorded, retried and dead-lettered.
 */
import assert from 'node:assert/strict';
import { after, describe, test } from 'node:test';
import { pino } from 'pino';
import { DeliveryEngine } from '../../gateway/delivery/engine.js';
import { endpointHeadersProblem } from '../../gateway/delivery/endpoint-headers.js';
import { MemoryQueue } from '../../gateway/delivery/queue.js';
import { MemoryRepository } from '../../gateway/delivery/repository.js';
import { ConfigError } from '../../gateway/errors.js';
import { MemoryStore } from '../../gateway/store/memory.js';
import { waitUntil } from '../support/http.js';
import { compileConfig, compileText } from '../support/snapshot.js';
import { deleteSetupKeys, expectError, setup } from './admin-env.js';
import { openResources } from './resources.js';

const SECRET = 'whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw';
const silent = pino({ level: 'silent' });
const { onClose, receiver } = openResources();
after(deleteSetupKeys);

const REFUSED_NAMES = ['Host', 'content-length', 'Transfer-Encoding', 'connection', 'keep-alive', 'upgrade', 'te', 'trailer', 'expect', 'proxy-authorization', 'Proxy-Foo', 'webhook-id', 'webhook-timestamp', 'Webhook-Signature'];
const BAD_VALUES = ['a\r\nx-injected: 1', 'a\nb', 'a\rb', 'nul\0', 'snow ☃', 'emoji 😀'];

describe('endpointHeadersProblem', () => {
  test('refuses framing, hop-by-hop, proxy-* and signature names, bad names, duplicates and unsendable values', () => {
    for (const name of REFUSED_NAMES) assert.match(endpointHeadersProblem({ [name]: 'v' }) ?? '', /cannot be set on an endpoint/, name);
    for (const name of ['bad name', 'a:b', 'é', '']) assert.match(endpointHeadersProblem({ [name]: 'v' }) ?? '', /not a valid HTTP header name/, JSON.stringify(name));
    for (const v of BAD_VALUES) {
      const p = endpointHeadersProblem({ 'x-ok': v }) ?? '';
      assert.match(p, /CR, LF, NUL or characters outside Latin-1/, JSON.stringify(v));
      assert.ok(!p.includes(v), 'the value is not echoed');
    }
    assert.match(endpointHeadersProblem({ 'X-A': '1', 'x-a': '2' }) ?? '', /given twice/);
    assert.equal(endpointHeadersProblem({ 'x-tenant': 'acme', Authorization: 'Bearer t', 'x-latin1': 'café\tok' }), undefined);
  });
});

describe('endpoint headers in gateway.yaml', () => {
  test('a refused header or value is a located config error', async () => {
    for (const [headers, re] of [
      ['{ host: evil.example }', /header "host" cannot be set/],
      ['{ x-a: "a\\r\\nb" }', /header "x-a" has a value with CR, LF/],
    ] as const) {
      await assert.rejects(
        compileText(`egress:\n  allowCidrs: ["127.0.0.1/32"]\n  endpoints:\n    - id: ep\n      url: "http://127.0.0.1:9/hook"\n      headers: ${headers}\n`),
        (err: unknown) => err instanceof ConfigError && re.test(err.message) && err.path === 'egress.endpoints[0].headers' && err.line === 6,
      );
    }
  });
});

describe('endpoint headers through the admin API', () => {
  test('create and update refuse them with 400 HG_ADMIN_BAD_INPUT; a good header is sent', async () => {
    const env = await setup('memory');
    onClose(() => env.stop());
    for (const name of REFUSED_NAMES) {
      await expectError(env.gw.admin('POST', '/admin/endpoints', { url: `${env.rx.up.url}/x`, headers: { [name]: 'v' } }), 400, 'HG_ADMIN_BAD_INPUT', name);
    }
    for (const v of BAD_VALUES) {
      const r = await expectError(env.gw.admin('POST', '/admin/endpoints', { url: `${env.rx.up.url}/x`, headers: { 'x-a': v } }), 400, 'HG_ADMIN_BAD_INPUT', JSON.stringify(v));
      assert.ok(!r.text.includes('injected'), 'the value is not echoed');
    }
    const created = await env.gw.admin('POST', '/admin/endpoints', { id: 'ok', url: `${env.rx.up.url}/ok`, headers: { 'x-tenant': 'acme' } });
    assert.equal(created.status, 201, created.text);
    await expectError(env.gw.admin('PATCH', '/admin/endpoints/ok', { headers: { 'x-a': 'a\r\nb' } }), 400, 'HG_ADMIN_BAD_INPUT', 'patch');
    await expectError(env.gw.admin('PATCH', '/admin/endpoints/ok', { headers: { 'Content-Length': '0' } }), 400, 'HG_ADMIN_BAD_INPUT', 'patch');
    const r = await env.publish('a.b');
    assert.equal(r.status, 202, r.text);
    await waitUntil(() => env.rx.to('/ok').length === 1, 10000, 'the delivery');
    assert.equal(env.rx.to('/ok')[0]!.headers['x-tenant'], 'acme');
  });
});

describe('a send that throws', () => {
  test('is a recorded attempt, retried on the schedule and dead-lettered', async () => {
    const rx = await receiver();
    const store = new MemoryStore();
    const repo = new MemoryRepository();
    const snapshot = await compileConfig({ egress: { allowCidrs: ['127.0.0.1/32'], retry: { schedule: [0, '20ms', '20ms'] } } }, store);
    const e = new DeliveryEngine({ store, repo, queue: new MemoryQueue(4), logger: silent, snapshot });
    onClose(() => e.stop(1000).then(() => snapshot.dispose()).then(() => store.close()));
    const t = Date.now();
    // Written straight to the store, as a record from before the create-time rules could be.
    await repo.putEndpoint({ id: 'bad', tenant: 'default', url: `${rx.url}/hook`, events: ['*'], secrets: [{ secret: SECRET }], headers: { 'x-a': 'a\r\nb' }, disabled: false, source: 'api', createdAt: t, updatedAt: t });
    await e.start();
    const { id } = await e.publish({ type: 'a.b', data: {} });
    await waitUntil(async () => (await repo.getStatuses(id)).bad === 'failed', 10000, 'the dead letter');
    const attempts = await repo.getAttempts(id);
    assert.equal(attempts.length, 3, 'each try is an attempt, and the schedule ends');
    for (const a of attempts) {
      assert.equal(a.status, 0);
      assert.match(a.error ?? '', /invalid character in header content/i);
      assert.ok(!(a.error ?? '').includes('a\r\nb'));
    }
    assert.equal(rx.requests.length, 0, 'nothing was sent');
  });
});
