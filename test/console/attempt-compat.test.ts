import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { createDeliveryService } from '../../gateway/delivery/service.js';
import type { RedisStoreLike } from '../../gateway/store/types.js';
import { startGateway } from '../support/gateway.js';
import { startUpstream, waitUntil } from '../support/http.js';
import { deleteKeys, REDIS_URL, testPrefix } from '../support/redis.js';

const prefix = testPrefix('attempt-compat');
after(() => deleteKeys(prefix));

test('attempt records written before request/responseHeaders were kept stay readable beside new ones', async () => {
  const up = await startUpstream();
  const g = await startGateway(
    `
store: { driver: redis, url: "${REDIS_URL}", prefix: "${prefix}" }
egress:
  allowCidrs: ["127.0.0.1/32"]
  endpoints: [ { id: rx, url: "${up.url}/in", events: ["*"] } ]
routes:
  - { name: events, path: /events, methods: [POST], publish: {} }
`,
    { services: createDeliveryService },
  );
  try {
    const pub = await g.request({ method: 'POST', path: '/events', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ type: 'a.b', data: {} }) });
    assert.equal(pub.status, 202, pub.text);
    const id = pub.json().id as string;
    const read = async () => (await g.admin('GET', `/admin/messages/${id}`)).json();
    await waitUntil(async () => (await read()).deliveries?.rx?.status === 'delivered', 10000, 'delivered');
    // An attempt as an older hookgate stored it (no request, no responseHeaders), earlier in time.
    const old = { target: 'rx', attempt: 1, at: Date.now() - 60_000, status: 500, durationMs: 12, response: 'old answer' };
    await (g.gw.store as RedisStoreLike).redis.hset(`${prefix}dlv:m:${id}`, `a:${old.at}:rx:1`, JSON.stringify(old));
    const attempts = (await read()).deliveries.rx.attempts;
    assert.equal(attempts.length, 2);
    assert.deepEqual(attempts[0], { ...old, at: new Date(old.at).toISOString() });
    assert.equal(attempts[1].request.url, `${up.url}/in`);
    assert.equal(typeof attempts[1].responseHeaders, 'object');
    // What is stored per attempt stays small.
    const stored = await (g.gw.store as RedisStoreLike).redis.hgetall(`${prefix}dlv:m:${id}`);
    const fresh = Object.entries(stored).find(([k]) => k.startsWith('a:') && !k.startsWith(`a:${old.at}:`))!;
    assert.ok(fresh[1].length < 3000, `${fresh[1].length} bytes for one attempt`);
  } finally {
    await g.stop();
    await up.close();
  }
});
