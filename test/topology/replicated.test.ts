/**
 * `store.durability: replicated` on a private primary: without a replica a publish is refused
 * 503 HG_STORE_NOT_REPLICATED (stored, not lost), the retry with the same Idempotency-Key answers
 * 202 with the same id once a replica is attached, and the message is delivered once; a deliver
 * route and an admin endpoint creation wait the same way. Plus TLS and an ACL user to Redis.
 */
import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { createDeliveryService } from '../../gateway/delivery/service.js';
import { createStore } from '../../gateway/store/index.js';
import { startGateway, type TestGateway } from '../support/gateway.js';
import { startUpstream, waitUntil, type TestUpstream } from '../support/http.js';
import { cli, RedisGroup, RedisProcess } from '../support/redis-topology.js';
import { closedPort } from '../support/http.js';
import { issue, makeCa } from '../support/tls.js';

const stops: (() => Promise<void>)[] = [];
after(async () => {
  for (const s of stops.reverse()) await s().catch(() => {});
});

/** A primary with nothing replicating from it (yet). */
async function lonePrimary(): Promise<{ group: RedisGroup; port: number; dir: string; addReplica(): Promise<RedisProcess> }> {
  const t = new RedisGroup();
  stops.push(() => t.stop());
  const primary = await t.node('primary', []);
  await primary.start();
  return {
    group: t,
    port: primary.port,
    dir: t.dir,
    addReplica: async () => {
      const r = await t.node('replica', ['--replicaof', '127.0.0.1', String(primary.port)]);
      await r.start();
      await waitUntil(async () => (await cli(primary.port, 'INFO', 'replication')).includes('state=online'), 10000, 'the replica to sync');
      return r;
    },
  };
}

describe('store.durability: replicated', () => {
  it('refuses with HG_STORE_NOT_REPLICATED without a replica, keeps the message, and acknowledges the idempotent retry once a replica has it', async () => {
    const redis = await lonePrimary();
    const seen: string[] = [];
    const rx: TestUpstream = await startUpstream((req, res) => {
      seen.push(String(req.headers['webhook-id'] ?? req.headers['hookgate-message-id']));
      res.end('ok');
    });
    stops.push(() => rx.close());
    const gw: TestGateway = await startGateway(
      `
store: { driver: redis, url: "redis://127.0.0.1:${redis.port}", prefix: "hgr:", durability: replicated, waitTimeoutMs: 1000 }
upstreams:
  recv: { targets: [ { url: "${rx.url}" } ] }
egress:
  allowCidrs: ["127.0.0.1/32"]
  endpoints:
    - { id: ep, url: "${rx.url}/hook", secret: "whsec_dG9wb2xvZ3ktdGVzdC1zZWNyZXQtMDEyMzQ1Njc4OQ==" }
routes:
  - { name: events, path: /events, methods: [POST], publish: {} }
  - { name: in, path: /in, methods: [POST], deliver: { upstream: recv } }
`,
      { services: createDeliveryService },
    );
    stops.push(() => gw.stop());
    const send = () => gw.request({ method: 'POST', path: '/events', headers: { 'content-type': 'application/json', 'idempotency-key': 'order-1' }, body: JSON.stringify({ type: 'a.b', data: { n: 1 } }) });

    const refused = await send();
    assert.equal(refused.status, 503, refused.text);
    assert.equal(refused.json().error.code, 'HG_STORE_NOT_REPLICATED');
    assert.equal(refused.headers['retry-after'], '1');
    const ingress = await gw.request({ method: 'POST', path: '/in', body: 'x' });
    assert.equal(ingress.json().error.code, 'HG_STORE_NOT_REPLICATED', 'a deliver route waits too');
    const created = await gw.admin('POST', '/admin/endpoints', { id: 'later', url: `${rx.url}/later` });
    assert.equal(created.status, 503, created.text);
    assert.equal(created.json().error.code, 'HG_STORE_NOT_REPLICATED', 'an endpoint creation waits too');
    // Not lost: the primary has it, and it is delivered.
    await waitUntil(() => seen.length >= 1, 10000, 'the refused publish to be delivered anyway');

    await redis.addReplica();
    // Retried as a client would (on a busy machine the first ack may still miss the deadline).
    let again = await send();
    const end = Date.now() + 15000;
    while (again.status === 503 && again.json().error.code === 'HG_STORE_NOT_REPLICATED' && Date.now() < end) again = await send();
    assert.equal(again.status, 202, again.text);
    assert.equal(again.json().id, seen[0], 'the retry answers with the id of the message already stored');
    const fresh = await gw.request({ method: 'POST', path: '/events', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ type: 'a.b', data: { n: 2 } }) });
    assert.equal(fresh.status, 202, 'with a replica, publishes are acknowledged');
    await waitUntil(() => seen.includes(fresh.json().id as string), 10000, 'the new message delivered');
    assert.equal(seen.filter((id) => id === seen[0]).length, 1, 'the idempotent retry queued nothing twice');
  });

  it('reaches Redis over TLS with a CA file and an ACL user; a wrong password is refused without echoing it', async () => {
    const ca = await makeCa('redis-test-ca');
    const server = await issue(ca, { commonName: 'localhost' }, { dns: ['localhost'], ips: ['127.0.0.1'] });
    const redis = await lonePrimary();
    for (const [f, text] of Object.entries({ 'ca.pem': ca.cert, 'server.pem': server.cert, 'server-key.pem': server.key })) writeFileSync(join(redis.dir, f), text);
    const port = await closedPort();
    const tlsArgs = ['--port', '0', '--tls-port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--dir', redis.dir];
    const caFile = join(redis.dir, 'ca.pem');
    const p = redis.group.add(new RedisProcess(port, [...tlsArgs, '--tls-cert-file', join(redis.dir, 'server.pem'), '--tls-key-file', join(redis.dir, 'server-key.pem'), '--tls-ca-cert-file', caFile, '--tls-auth-clients', 'no', '--user', 'hg', 'on', '>s3cret-pw', '~*', '&*', '+@all'], ['--tls', '--cacert', caFile, '--user', 'hg', '--pass', 's3cret-pw']));
    await p.start();
    const store = createStore({ driver: 'redis', url: `rediss://127.0.0.1:${port}`, prefix: 'hgtls:', username: 'hg', password: 's3cret-pw', tls: { ca: 'ca.pem', rejectUnauthorized: true } }, undefined, redis.dir);
    stops.push(() => store.close());
    assert.equal(store.driver, 'redis');
    if (store.driver !== 'redis') return;
    await store.waitReady(10000);
    await store.set('k', 'v', 10000);
    assert.equal(await store.get('k'), 'v');

    const wrong = createStore({ driver: 'redis', url: `rediss://127.0.0.1:${port}`, prefix: 'hgtls:', username: 'hg', password: 'not-the-pw', tls: { ca: join(redis.dir, 'ca.pem'), rejectUnauthorized: true } });
    stops.push(() => wrong.close());
    const err = await wrong.get('k').then(() => undefined, (e: Error) => e);
    assert.ok(err, 'a wrong password is refused');
    assert.doesNotMatch(String(err.message), /not-the-pw/);
    assert.doesNotMatch(wrong.driver === 'redis' ? wrong.url : '', /not-the-pw/);
  });
});
