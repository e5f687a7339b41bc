/**
 * Secrets end to end on a private redis-server (its own port, stopped by pid): a config endpoint's
 * derived secret is read through `GET /admin/endpoints/{id}/secret`, signs deliveries (verified by
 * the official standardwebhooks library at a loopback receiver), and is the same after a FLUSHALL
 * and a restart; with `egress.encryptionKey` no Redis value holds it.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { Redis } from 'ioredis';
import { Webhook } from 'standardwebhooks';
import { createDeliveryService } from '../../gateway/delivery/service.js';
import { deriveEndpointSecret, parseEncryptionKey } from '../../gateway/delivery/secret-keys.js';
import { startGateway, type TestGateway } from '../support/gateway.js';
import { waitUntil } from '../support/http.js';
import { startRedisServer, type PrivateRedis } from '../support/redis-server.js';
import { startReceiver, WAIT_MS, webhookHeadersOf, type Receiver } from './admin-env.js';

const MASTER = 'survive-master-key-9f8e7d6c5b4a39281706f5e4d3c2b1a0';
const ENC = Buffer.alloc(32, 5).toString('base64');

describe('a derived secret survives FLUSHALL of a private Redis', () => {
  let redis: PrivateRedis;
  let rx: Receiver;
  let client: Redis;
  const gateways: TestGateway[] = [];

  before(async () => {
    redis = await startRedisServer();
    rx = await startReceiver();
    client = new Redis(redis.url, { maxRetriesPerRequest: 2 });
  });
  after(async () => {
    for (const g of gateways) await g.stop().catch(() => {});
    client.disconnect();
    await rx.close();
    await redis.stop();
  });

  const start = async () => {
    const g = await startGateway(
      `
store: { driver: redis, url: "${redis.url}", prefix: "hgsv:" }
egress:
  allowCidrs: ["127.0.0.1/32"]
  secretKey: "\${HOOKGATE_SECRET_KEY}"
  encryptionKey: "\${HOOKGATE_ENCRYPTION_KEY}"
  retry: { schedule: ["50ms", "100ms"] }
  lockDurationMs: 2000
  endpoints:
    - { id: cfg, url: "${rx.up.url}/cfg", events: ["s.*"], headers: { x-partner-token: "partner-header-value" } }
routes:
  - name: events
    path: /events
    methods: [POST]
    publish: {}
`,
      { services: createDeliveryService, env: { HOOKGATE_SECRET_KEY: MASTER, HOOKGATE_ENCRYPTION_KEY: ENC } },
    );
    gateways.push(g);
    return g;
  };
  const secretOf = async (g: TestGateway) => {
    const r = await g.admin('GET', '/admin/endpoints/cfg/secret');
    assert.equal(r.status, 200, r.text);
    return r.json() as { id: string; key: string; secrets: { secret: string; expiresAt: string | null }[] };
  };
  const deliveredAndVerified = async (g: TestGateway, secret: string, n: number) => {
    const p = await g.request({ method: 'POST', path: '/events', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ type: 's.sent', data: { n } }) });
    assert.equal(p.status, 202, p.text);
    const id = p.json().id as string;
    await waitUntil(() => rx.to('/cfg').some((r) => r.headers['webhook-id'] === id), WAIT_MS, `delivery ${n}`);
    const got = rx.to('/cfg').find((r) => r.headers['webhook-id'] === id)!;
    assert.equal(got.headers['x-partner-token'], 'partner-header-value', 'the sealed header is sent');
    const payload = new Webhook(secret).verify(got.body.toString('utf8'), webhookHeadersOf(got.headers)) as { data: unknown };
    assert.deepEqual(payload.data, { n });
  };

  test('read, delivered, FLUSHALL, restored, restarted: the same secret signs', async () => {
    const g1 = await start();
    const first = await secretOf(g1);
    assert.equal(first.id, 'cfg');
    assert.equal(first.key, deriveEndpointSecret(MASTER, 'cfg', 1));
    assert.deepEqual(first.secrets, [{ secret: first.key, expiresAt: null }]);
    // The route needs the admin token, like every admin route.
    const anon = await g1.admin('GET', '/admin/endpoints/cfg/secret', undefined, 'not-the-admin-token-000');
    assert.equal(anon.status, 401);
    assert.doesNotMatch(anon.text, /whsec_/);
    await deliveredAndVerified(g1, first.key, 1);

    // Encrypted at rest: no value in this Redis holds the secret (or its key bytes) or the header value.
    const raw = await client.get('hgsv:dlv:ep:cfg');
    assert.ok(raw?.startsWith('hgenc:1:'), raw ?? 'missing');
    for (const k of await client.keys('*')) {
      if ((await client.type(k)) !== 'string') continue;
      const v = (await client.get(k)) ?? '';
      assert.ok(!v.includes(first.key.slice(6)) && !v.includes('partner-header-value'), `key ${k} holds a secret`);
    }

    assert.equal(await client.flushall(), 'OK');
    assert.equal(await client.get('hgsv:dlv:ep:cfg'), null, 'the data is gone');
    // The running gateway restores its config endpoint on the next read, with the same secret.
    assert.equal((await secretOf(g1)).key, first.key);
    await g1.stop();
    gateways.splice(gateways.indexOf(g1), 1);

    await client.flushall();
    const g2 = await start();
    assert.equal((await secretOf(g2)).key, first.key, 'a fresh start on an empty Redis derives the same secret');
    await deliveredAndVerified(g2, first.key, 2);
    assert.equal(g2.log.lines.filter((l) => l.code === 'HG_ENDPOINT_SECRET_NOT_DURABLE').length, 0, 'no warning with secretKey');
    // The secret is never logged (the admin route included).
    for (const g of [g1, g2]) assert.ok(!JSON.stringify(g.log.lines).includes(first.key.slice(6)), 'a log line holds the secret');

    // A derived secret rotates in gateway.yaml, not through the API.
    const rot = await g2.admin('POST', '/admin/endpoints/cfg/rotate-secret', { graceSec: 60 });
    assert.equal(rot.status, 409, rot.text);
    assert.equal(rot.json().error.code, 'HG_ENDPOINT_READONLY');
    assert.match(rot.json().error.message, /secretVersion/);
  });

  test('encryption key rotation through a reload re-encrypts every record; a start with a wrong key fails with HG_ENDPOINT_UNREADABLE', async () => {
    await client.flushall();
    const key1 = Buffer.alloc(32, 31).toString('base64');
    const key2 = Buffer.alloc(32, 32).toString('hex');
    const yaml = (keys: string) => `
store: { driver: redis, url: "${redis.url}", prefix: "hgrot:" }
egress:
  allowCidrs: ["127.0.0.1/32"]
${keys}
routes:
  - { name: events, path: /events, methods: [POST], publish: {} }
`;
    const g = await startGateway(yaml(`  encryptionKey: "${key1}"`), { services: createDeliveryService });
    gateways.push(g);
    const made = await g.admin('POST', '/admin/endpoints', { id: 'api', url: `${rx.up.url}/api`, headers: { 'x-token': 'rotating-header-value' } });
    assert.equal(made.status, 201, made.text);
    const kid = async () => (await client.get('hgrot:dlv:ep:api'))?.split(':')[2];
    assert.equal(await kid(), parseEncryptionKey(key1).id);
    g.write(yaml(`  encryptionKey: "${key2}"\n  previousEncryptionKeys: ["${key1}"]`));
    const reloaded = await g.admin('POST', '/admin/reload');
    assert.equal(reloaded.status, 200, reloaded.text);
    assert.equal(await kid(), parseEncryptionKey(key2).id, 're-encrypted under key2 by the reload');
    const secret = (await g.admin('GET', '/admin/endpoints/api/secret')).json().key;
    assert.equal(secret, made.json().secret, 'the secret reads back');
    await g.stop();
    gateways.splice(gateways.indexOf(g), 1);

    // key1 alone cannot open what key2 sealed: the start fails with a clear error, not plaintext.
    await assert.rejects(startGateway(yaml(`  encryptionKey: "${key1}"`), { services: createDeliveryService }), (err: Error & { code?: string }) => {
      assert.equal(err.code, 'HG_ENDPOINT_UNREADABLE', err.stack);
      assert.match(err.message, new RegExp(`endpoint "api" is encrypted with key id ${parseEncryptionKey(key2).id}`));
      assert.ok(!err.message.includes(secret) && !err.message.includes('rotating-header-value'));
      return true;
    });
  });
});
