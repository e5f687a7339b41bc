/**
 * The admin API and secrets: `GET /admin/endpoints/{id}/secret` through a rotation, URL passwords
 * redacted in every endpoint answer (list, get, create, patch, errors) while deliveries still use
 * them, keys redacted in `/admin/config`, and `HG_ENDPOINT_SECRET_NOT_DURABLE` at start.
 */
import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import { Webhook } from 'standardwebhooks';
import { createDeliveryService } from '../../gateway/delivery/service.js';
import { startGateway } from '../support/gateway.js';
import { waitUntil } from '../support/http.js';
import { createEndpoint, deleteSetupKeys, expectError, publishOk, setup, WAIT_MS, webhookHeadersOf, type Mode } from './admin-env.js';

after(deleteSetupKeys);

const PASSWORD = 'p4ss-w0rd-for-the-url';

for (const mode of ['memory', 'redis'] as Mode[]) {
  describe(`endpoint secrets through the admin API (${mode} store)`, () => {
    it('GET /admin/endpoints/{id}/secret: the current key and every live secret with its expiry, through a rotation', async () => {
      const env = await setup(mode);
      try {
        const created = await createEndpoint(env, { id: 'sec', url: `${env.rx.up.url}/sec`, events: ['sec.*'] });
        const r0 = await env.gw.admin('GET', '/admin/endpoints/sec/secret');
        assert.equal(r0.status, 200, r0.text);
        assert.deepEqual(r0.json(), { id: 'sec', key: created.secret, secrets: [{ secret: created.secret, expiresAt: null }] });
        assert.equal(r0.headers['cache-control'], 'no-store');
        const rot = await env.gw.admin('POST', '/admin/endpoints/sec/rotate-secret', { graceSec: 3600 });
        assert.equal(rot.status, 200, rot.text);
        const r1 = (await env.gw.admin('GET', '/admin/endpoints/sec/secret')).json();
        assert.equal(r1.key, rot.json().secret);
        assert.deepEqual(r1.secrets.map((s: { secret: string }) => s.secret), [rot.json().secret, created.secret]);
        assert.equal(r1.secrets[1].expiresAt, rot.json().previousSecretsExpireAt);
        // What the route reveals is what signs.
        const id = await publishOk(env, 'sec.x');
        await waitUntil(() => env.rx.to('/sec').some((r) => r.headers['webhook-id'] === id), WAIT_MS, 'delivery');
        const got = env.rx.to('/sec').find((r) => r.headers['webhook-id'] === id)!;
        for (const s of r1.secrets) new Webhook(s.secret).verify(got.body.toString('utf8'), webhookHeadersOf(got.headers));
        // A config endpoint's generated secret is readable too (there was no way before).
        const cfg = await env.gw.admin('GET', '/admin/endpoints/cfg-ep/secret');
        assert.equal(cfg.status, 200, cfg.text);
        assert.match(cfg.json().key, /^whsec_/);
        await expectError(env.gw.admin('GET', '/admin/endpoints/nope/secret'), 404, 'HG_ENDPOINT_NOT_FOUND', 'unknown endpoint');
        const anon = await env.gw.admin('GET', '/admin/endpoints/sec/secret', undefined, 'wrong-token-0000000000');
        assert.equal(anon.status, 401);
        assert.doesNotMatch(anon.text, /whsec_/);
        // Other endpoint answers still never list secrets.
        assert.doesNotMatch((await env.gw.admin('GET', '/admin/endpoints/sec')).text, /whsec_/);
        assert.ok(!JSON.stringify(env.gw.log.lines).includes(r1.key.slice(6)), 'the secret is never logged');
        if (mode === 'redis') {
          const warned = env.gw.log.lines.filter((l) => l.code === 'HG_ENDPOINT_SECRET_NOT_DURABLE');
          assert.equal(warned.length, 1, 'redis store, cfg-ep without secret, no secretKey: warned once');
          assert.deepEqual(warned[0].endpoints, ['cfg-ep']);
        } else {
          assert.equal(env.gw.log.lines.filter((l) => l.code === 'HG_ENDPOINT_SECRET_NOT_DURABLE').length, 0);
        }
      } finally {
        await env.stop();
      }
    });

    it('a URL password is never echoed (create, list, get, patch, errors, logs) but is used for delivery', async () => {
      const env = await setup(mode);
      try {
        const port = env.rx.up.port;
        const url = `http://hook-user:${PASSWORD}@127.0.0.1:${port}/basic`;
        const redacted = `http://[redacted]@127.0.0.1:${port}/basic`;
        const created = await env.gw.admin('POST', '/admin/endpoints', { id: 'pw', url, events: ['pw.*'] });
        assert.equal(created.status, 201, created.text);
        assert.equal(created.json().url, redacted);
        const answers = [
          created,
          await env.gw.admin('GET', '/admin/endpoints'),
          await env.gw.admin('GET', '/admin/endpoints/pw'),
          await env.gw.admin('PATCH', '/admin/endpoints/pw', { description: 'changed' }),
          await env.gw.admin('PATCH', '/admin/endpoints/pw', { url: `${url}2` }),
          await env.gw.admin('POST', '/admin/endpoints', { url: `http://u:${PASSWORD}@` }),
          await env.gw.admin('POST', '/admin/endpoints', { id: 'pw', url }),
        ];
        for (const r of answers) assert.ok(!r.text.includes(PASSWORD), `echoed: ${r.text.slice(0, 300)}`);
        assert.equal(answers[2]!.json().url, redacted);
        assert.equal(answers[4]!.json().url, `${redacted}2`);
        assert.equal(answers[1]!.json().endpoints.find((e: { id: string }) => e.id === 'pw').url, redacted);
        assert.equal(answers[5]!.json().error.code, 'HG_ENDPOINT_URL_INVALID');
        // The stored URL keeps the password: the delivery carries it as Basic credentials.
        const id = await publishOk(env, 'pw.x');
        await waitUntil(() => env.rx.to('/basic2').some((r) => r.headers['webhook-id'] === id), WAIT_MS, 'delivery');
        const got = env.rx.to('/basic2').find((r) => r.headers['webhook-id'] === id)!;
        assert.equal(got.headers.authorization, `Basic ${Buffer.from(`hook-user:${PASSWORD}`).toString('base64')}`);
        assert.ok(!JSON.stringify(env.gw.log.lines).includes(PASSWORD), 'a log line (operational events included) holds the password');
      } finally {
        await env.stop();
      }
    });
  });
}

describe('GET /admin/config with secret and encryption keys', () => {
  it('redacts egress.secretKey, encryptionKey, previousEncryptionKeys and config endpoint URL passwords', async () => {
    const keys = { HK_SECRET: 'config-master-key-abcdefghijklmnopqrstuvwxyz012345', HK_ENC: Buffer.alloc(32, 7).toString('hex'), HK_OLD: Buffer.alloc(32, 8).toString('base64') };
    const gw = await startGateway(
      `
egress:
  allowCidrs: ["127.0.0.1/32"]
  secretKey: "\${HK_SECRET}"
  encryptionKey: "\${HK_ENC}"
  previousEncryptionKeys: ["\${HK_OLD}"]
  endpoints:
    - { id: e, url: "http://u:${PASSWORD}@127.0.0.1:9/x" }
routes:
  - { name: events, path: /events, methods: [POST], publish: {} }
`,
      { services: createDeliveryService, env: keys },
    );
    try {
      const r = await gw.admin('GET', '/admin/config');
      assert.equal(r.status, 200, r.text);
      for (const v of [...Object.values(keys), PASSWORD]) assert.ok(!r.text.includes(v), `/admin/config shows a key: ${r.text.slice(0, 300)}`);
      const egress = r.json().egress;
      assert.equal(egress.secretKey, '[redacted]');
      assert.equal(egress.encryptionKey, '[redacted]');
      assert.deepEqual(egress.previousEncryptionKeys, ['[redacted]']);
      assert.equal(egress.endpoints[0].url, 'http://[redacted]@127.0.0.1:9/x');
      // The endpoint API shows the same URL redacted.
      assert.equal((await gw.admin('GET', '/admin/endpoints/e')).json().url, 'http://[redacted]@127.0.0.1:9/x');
    } finally {
      await gw.stop();
    }
  });
});
