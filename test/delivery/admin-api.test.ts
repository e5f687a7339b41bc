/**
 * The endpoint half of the delivery admin API (/admin/endpoints) through a real gateway with the
 * delivery service, on the memory store and on Redis: CRUD and validation, secret handling and
 * rotation (checked with the official standardwebhooks library), and the operational events.
 */
import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { Webhook } from 'standardwebhooks';
import type { DeliveryEngine } from '../../gateway/delivery/engine.js';
import type { OperationalEvent } from '../../gateway/delivery/operational.js';
import { httpRequest, waitUntil } from '../support/http.js';
import { ADMIN_TOKEN } from '../support/gateway.js';
import { SECRET_RE, WAIT_MS, createEndpoint, deleteSetupKeys, errCode, expectError, publishOk, setup, webhookHeadersOf } from './admin-env.js';

after(deleteSetupKeys);

for (const mode of ['memory', 'redis'] as const) {
  describe(`delivery admin API: endpoints (${mode} store)`, () => {
    it('creates, lists, reads, updates and deletes endpoints; the secret is shown once', async () => {
      const env = await setup(mode);
      try {
        const created = await createEndpoint(env, { id: 'ep1', url: `${env.rx.up.url}/ep1`, events: ['order.*'], description: 'orders' });
        const m = SECRET_RE.exec(created.secret);
        assert.ok(m, `secret format: ${created.secret}`);
        assert.equal(Buffer.from(m[1]!, 'base64').length, 32, 'whsec_ + base64 of 32 bytes');
        assert.equal(created.id, 'ep1');
        assert.equal(created.state, 'enabled');
        assert.equal(created.source, 'api');
        assert.deepEqual(created.events, ['order.*']);

        // An id is generated when none is given.
        const anon = await createEndpoint(env, { url: `${env.rx.up.url}/anon` });
        assert.match(anon.id, /^[A-Za-z0-9_.-]{1,64}$/);
        assert.deepEqual(anon.events, ['*']);

        const list = await env.gw.admin('GET', '/admin/endpoints');
        assert.equal(list.status, 200);
        const ids = list.json().endpoints.map((e: { id: string }) => e.id).sort();
        assert.deepEqual(ids, [anon.id, 'cfg-ep', 'ep1'].sort());
        assert.doesNotMatch(list.text, /whsec_/, 'GET never shows a secret');
        const cfg = list.json().endpoints.find((e: { id: string }) => e.id === 'cfg-ep');
        assert.equal(cfg.source, 'config');

        const one = await env.gw.admin('GET', '/admin/endpoints/ep1');
        assert.equal(one.status, 200);
        assert.doesNotMatch(one.text, /whsec_/);
        assert.equal(one.json().description, 'orders');

        const patched = await env.gw.admin('PATCH', '/admin/endpoints/ep1', { events: ['order.paid', 'refund.*'], description: 'changed', headers: { 'x-tenant': 'acme' } });
        assert.equal(patched.status, 200, patched.text);
        assert.deepEqual(patched.json().events, ['order.paid', 'refund.*']);
        assert.equal(patched.json().description, 'changed');
        assert.doesNotMatch(patched.text, /whsec_/);
        assert.deepEqual((await env.gw.admin('GET', '/admin/endpoints/ep1')).json().headers, { 'x-tenant': 'acme' });

        const disabled = await env.gw.admin('PATCH', '/admin/endpoints/ep1', { disabled: true });
        assert.equal(disabled.json().state, 'disabled');
        const enabled = await env.gw.admin('PATCH', '/admin/endpoints/ep1', { disabled: false });
        assert.equal(enabled.json().state, 'enabled');

        const del = await env.gw.admin('DELETE', '/admin/endpoints/ep1');
        assert.equal(del.status, 200, del.text);
        await expectError(env.gw.admin('GET', '/admin/endpoints/ep1'), 404, 'HG_ENDPOINT_NOT_FOUND', 'GET after DELETE');
        await expectError(env.gw.admin('DELETE', '/admin/endpoints/ep1'), 404, 'HG_ENDPOINT_NOT_FOUND', 'DELETE twice');
      } finally {
        await env.stop();
      }
    });

    it('rejects bad input with stable codes', async () => {
      const env = await setup(mode);
      try {
        const url = `${env.rx.up.url}/x`;
        const bad = (method: string, path: string, body: unknown, what: string) => expectError(env.gw.admin(method, path, body), 400, 'HG_ADMIN_BAD_INPUT', what);
        await bad('POST', '/admin/endpoints', { id: 'a', url, bogus: 1 }, 'unknown field');
        await bad('POST', '/admin/endpoints', { id: 'a' }, 'missing url');
        await expectError(env.gw.admin('POST', '/admin/endpoints', { id: 'a', url: 'not a url' }), 400, 'HG_ENDPOINT_URL_INVALID', 'unparsable url');
        await expectError(env.gw.admin('POST', '/admin/endpoints', { id: 'a', url: 'ftp://127.0.0.1/x' }), 400, 'HG_ENDPOINT_URL_INVALID', 'non-http url');
        await bad('POST', '/admin/endpoints', { id: 'a', url: 42 }, 'url not a string');
        await bad('POST', '/admin/endpoints', { id: 'a', url, events: [] }, 'empty events');
        await bad('POST', '/admin/endpoints', { id: 'a', url, events: 'order.*' }, 'events not an array');
        await bad('POST', '/admin/endpoints', { id: 'a', url, events: [''] }, 'empty event pattern');
        await bad('POST', '/admin/endpoints', { id: 'a', url, events: [1] }, 'event pattern not a string');
        await bad('POST', '/admin/endpoints', { id: 'has space', url }, 'bad id');
        await bad('POST', '/admin/endpoints', { id: 'a', url, secret: 'plain' }, 'bad secret');
        await bad('POST', '/admin/endpoints', [1, 2], 'array body');
        await bad('PATCH', '/admin/endpoints/cfg-ep', { bogus: true }, 'unknown field on PATCH');
        await bad('POST', '/admin/endpoints/cfg-ep/rotate-secret', { graceSec: -1 }, 'negative graceSec');
        await bad('POST', '/admin/endpoints/cfg-ep/rotate-secret', { graceSec: '60' }, 'graceSec string');
        await bad('POST', '/admin/endpoints/cfg-ep/rotate-secret', { graceSec: 10 * 86400 }, 'graceSec over 7 days');
        await bad('POST', '/admin/endpoints/cfg-ep/rotate-secret', { graceSec: 60, extra: 1 }, 'unknown field on rotate');
        await bad('POST', '/admin/endpoints/cfg-ep/recover', { since: 'yesterday' }, 'bad since');
        await bad('POST', '/admin/endpoints/cfg-ep/recover', {}, 'missing since');
        await bad('POST', '/admin/endpoints/cfg-ep/recover', { since: 1700000000 }, 'since in seconds, not epoch ms');
        for (const q of ['limit=0', 'limit=501', 'limit=abc', 'limit=1.5', 'status=done', 'status=', 'bogus=1']) {
          await expectError(env.gw.admin('GET', `/admin/messages?${q}`), 400, 'HG_ADMIN_BAD_INPUT', `GET /admin/messages?${q}`);
        }
        // Invalid JSON body.
        const notJson = await httpRequest({ port: env.gw.adminPort, method: 'POST', path: '/admin/endpoints', headers: { authorization: `Bearer ${ADMIN_TOKEN}`, 'content-type': 'application/json' }, body: '{nope' });
        assert.equal(notJson.status, 400);
        assert.equal(errCode(notJson), 'HG_ADMIN_BAD_INPUT');

        // A literal address the SSRF guard blocks: its own code, naming the setting that allows it.
        for (const u of ['http://10.0.0.1/hook', 'http://169.254.169.254/latest', 'http://[::1]:8080/x']) {
          const r = await expectError(env.gw.admin('POST', '/admin/endpoints', { id: 'blocked', url: u }), 400, 'HG_ENDPOINT_URL_BLOCKED', `blocked ${u}`);
          assert.match(r.json().error.message, /egress\.allowCidrs/);
        }
        await expectError(env.gw.admin('POST', '/admin/endpoints', { id: 'api1', url }).then(async (r) => {
          assert.equal(r.status, 201);
          return env.gw.admin('PATCH', '/admin/endpoints/api1', { url: 'http://10.1.2.3/x' });
        }), 400, 'HG_ENDPOINT_URL_BLOCKED', 'PATCH to a blocked url');
        assert.equal((await env.gw.admin('GET', '/admin/endpoints/api1')).json().url, url, 'a refused PATCH changes nothing');

        // Unknown ids.
        for (const [method, path, body] of [
          ['GET', '/admin/endpoints/nope', undefined],
          ['PATCH', '/admin/endpoints/nope', { description: 'x' }],
          ['DELETE', '/admin/endpoints/nope', undefined],
          ['POST', '/admin/endpoints/nope/rotate-secret', { graceSec: 60 }],
          ['POST', '/admin/endpoints/nope/recover', { since: new Date().toISOString() }],
        ] as const) {
          await expectError(env.gw.admin(method, path, body), 404, 'HG_ENDPOINT_NOT_FOUND', `${method} ${path}`);
        }
        await expectError(env.gw.admin('GET', '/admin/messages/msg_doesnotexist'), 404, 'HG_MESSAGE_NOT_FOUND', 'GET unknown message');
        await expectError(env.gw.admin('POST', '/admin/messages/msg_doesnotexist/retry', {}), 404, 'HG_MESSAGE_NOT_FOUND', 'retry unknown message');

        // Config endpoints are read-only, except for disabling them.
        await expectError(env.gw.admin('PATCH', '/admin/endpoints/cfg-ep', { url: `${env.rx.up.url}/other` }), 409, 'HG_ENDPOINT_READONLY', 'PATCH config url');
        await expectError(env.gw.admin('PATCH', '/admin/endpoints/cfg-ep', { events: ['*'], disabled: true }), 409, 'HG_ENDPOINT_READONLY', 'PATCH config events + disabled');
        await expectError(env.gw.admin('DELETE', '/admin/endpoints/cfg-ep'), 409, 'HG_ENDPOINT_READONLY', 'DELETE config endpoint');
        const dis = await env.gw.admin('PATCH', '/admin/endpoints/cfg-ep', { disabled: true });
        assert.equal(dis.status, 200, dis.text);
        assert.equal(dis.json().state, 'disabled');
        const en = await env.gw.admin('PATCH', '/admin/endpoints/cfg-ep', { disabled: false });
        assert.equal(en.json().state, 'enabled');

        // Duplicate ids, including a config endpoint's.
        await expectError(env.gw.admin('POST', '/admin/endpoints', { id: 'api1', url }), 409, 'HG_ENDPOINT_EXISTS', 'duplicate api id');
        await expectError(env.gw.admin('POST', '/admin/endpoints', { id: 'cfg-ep', url }), 409, 'HG_ENDPOINT_EXISTS', 'duplicate config id');

        // The admin API needs the token.
        const anon = await env.gw.admin('GET', '/admin/endpoints', undefined, 'wrong-token');
        assert.equal(anon.status, 401);
      } finally {
        await env.stop();
      }
    });

    it('signs with both secrets during a rotation grace period (standardwebhooks verifies either)', async () => {
      const env = await setup(mode);
      try {
        const ep = await createEndpoint(env, { id: 'rot', url: `${env.rx.up.url}/rot`, events: ['rot.*'] });
        const oldSecret = ep.secret as string;
        const first = await publishOk(env, 'rot.before', { n: 1 });
        await waitUntil(() => env.rx.to('/rot').some((r) => r.headers['webhook-id'] === first), WAIT_MS, 'first delivery');
        const r1 = env.rx.to('/rot').find((r) => r.headers['webhook-id'] === first)!;
        assert.equal(String(r1.headers['webhook-signature']).split(' ').length, 1);
        new Webhook(oldSecret).verify(r1.body.toString('utf8'), webhookHeadersOf(r1.headers));

        const rot = await env.gw.admin('POST', '/admin/endpoints/rot/rotate-secret', { graceSec: 3600 });
        assert.equal(rot.status, 200, rot.text);
        const newSecret = rot.json().secret as string;
        assert.match(newSecret, SECRET_RE);
        assert.notEqual(newSecret, oldSecret);
        const expires = Date.parse(rot.json().previousSecretsExpireAt);
        assert.ok(Math.abs(expires - (Date.now() + 3600_000)) < 60_000, 'old secret expires after the grace period');
        const view = await env.gw.admin('GET', '/admin/endpoints/rot');
        assert.doesNotMatch(view.text, /whsec_/);
        assert.equal(view.json().secrets.length, 2);

        const second = await publishOk(env, 'rot.after', { n: 2 });
        await waitUntil(() => env.rx.to('/rot').some((r) => r.headers['webhook-id'] === second), WAIT_MS, 'delivery after rotation');
        const r2 = env.rx.to('/rot').find((r) => r.headers['webhook-id'] === second)!;
        const sigs = String(r2.headers['webhook-signature']).split(' ');
        assert.equal(sigs.length, 2, 'two signatures during the grace period');
        assert.ok(sigs.every((s) => s.startsWith('v1,')));
        const body = r2.body.toString('utf8');
        const payload = new Webhook(oldSecret).verify(body, webhookHeadersOf(r2.headers)) as { type: string; data: unknown };
        assert.equal(payload.type, 'rot.after');
        assert.deepEqual(payload.data, { n: 2 });
        new Webhook(newSecret).verify(body, webhookHeadersOf(r2.headers));
        assert.throws(() => new Webhook(`whsec_${Buffer.alloc(32, 7).toString('base64')}`).verify(body, webhookHeadersOf(r2.headers)));

        // graceSec 0 drops the old secrets at once: one signature, by the newest secret only.
        const rot2 = await env.gw.admin('POST', '/admin/endpoints/rot/rotate-secret', { graceSec: 0 });
        assert.equal(rot2.status, 200, rot2.text);
        const newest = rot2.json().secret as string;
        const third = await publishOk(env, 'rot.third', { n: 3 });
        await waitUntil(() => env.rx.to('/rot').some((r) => r.headers['webhook-id'] === third), WAIT_MS, 'delivery after the second rotation');
        const r3 = env.rx.to('/rot').find((r) => r.headers['webhook-id'] === third)!;
        assert.equal(String(r3.headers['webhook-signature']).split(' ').length, 1);
        new Webhook(newest).verify(r3.body.toString('utf8'), webhookHeadersOf(r3.headers));
        assert.throws(() => new Webhook(newSecret).verify(r3.body.toString('utf8'), webhookHeadersOf(r3.headers)));
      } finally {
        await env.stop();
      }
    });

    it('every endpoint change through the API raises its operational event, rotate-secret included', async () => {
      const env = await setup(mode);
      try {
        const events: OperationalEvent[] = [];
        (env.gw.gw.service as unknown as { engine: DeliveryEngine }).engine.events.on('operational', (ev) => events.push(ev));
        const seen = () => events.splice(0).map((e) => `${e.type} ${String(e.data.endpointId)}`);
        await createEndpoint(env, { id: 'ev', url: `${env.rx.up.url}/ev` });
        assert.deepEqual(seen(), ['endpoint.created ev']);
        assert.equal((await env.gw.admin('PATCH', '/admin/endpoints/ev', { description: 'x' })).status, 200);
        assert.deepEqual(seen(), ['endpoint.updated ev']);
        assert.equal((await env.gw.admin('POST', '/admin/endpoints/ev/rotate-secret', { graceSec: 60 })).status, 200);
        assert.deepEqual(seen(), ['endpoint.updated ev']);
        assert.equal((await env.gw.admin('POST', '/admin/endpoints/cfg-ep/rotate-secret', {})).status, 200);
        assert.deepEqual(seen(), ['endpoint.updated cfg-ep']);
        assert.equal((await env.gw.admin('DELETE', '/admin/endpoints/ev')).status, 200);
        assert.deepEqual(seen(), ['endpoint.deleted ev']);
        // Refused changes raise nothing.
        await expectError(env.gw.admin('POST', '/admin/endpoints/ev/rotate-secret', {}), 404, 'HG_ENDPOINT_NOT_FOUND', 'rotate after DELETE');
        await expectError(env.gw.admin('DELETE', '/admin/endpoints/cfg-ep'), 409, 'HG_ENDPOINT_READONLY', 'DELETE a config endpoint');
        assert.deepEqual(seen(), []);
        assert.ok(env.gw.log.lines.some((l) => l.event === 'endpoint.updated' && l.endpointId === 'cfg-ep'), 'logged as well');
      } finally {
        await env.stop();
      }
    });
  });
}
