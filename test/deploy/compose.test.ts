import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { parse } from 'yaml';
import { loadConfigText } from '../../gateway/config/load.js';
import { packageRoot } from '../../gateway/paths.js';

const deployDir = join(packageRoot, 'deploy');
// Compose resolves `<<: *anchor` merge keys (YAML 1.1); so does this parse.
const compose = parse(readFileSync(join(deployDir, 'compose.yaml'), 'utf8'), { merge: true }) as { services: Record<string, Record<string, any>>; networks: Record<string, any> };
const { services } = compose;
const gateways = ['hookgate-a', 'hookgate-b'];

test('compose: two hookgate instances, Redis and the demo receiver; the instances built from the Dockerfile', () => {
  assert.deepEqual(Object.keys(services).sort(), ['hookgate-a', 'hookgate-b', 'receiver', 'redis']);
  for (const name of [...gateways, 'receiver']) {
    assert.equal(services[name]!.image, 'hookgate:local', name);
    assert.deepEqual(services[name]!.build, { context: '..', dockerfile: 'Dockerfile' }, name);
  }
  assert.ok(existsSync(join(deployDir, '..', 'Dockerfile')));
  assert.match(services.redis!.image, /^redis:7/);
});

test('compose: every service has a healthcheck, and the instances wait for healthy Redis and receiver', () => {
  for (const [name, s] of Object.entries(services)) {
    assert.ok(Array.isArray(s.healthcheck?.test) && s.healthcheck.test[0] === 'CMD', `${name} has an exec healthcheck`);
  }
  for (const name of gateways) {
    const s = services[name]!;
    assert.deepEqual(s.depends_on, { redis: { condition: 'service_healthy' }, receiver: { condition: 'service_healthy' } });
    assert.deepEqual(s.healthcheck.test, ['CMD', 'node', '/app/dist/gateway/healthcheck.js']);
    assert.ok(/^\d+s$/.test(s.stop_grace_period) && parseInt(s.stop_grace_period, 10) > 30, 'longer than the default drain');
  }
  const receiver = services.receiver!;
  assert.equal(receiver.entrypoint[0], '/usr/bin/tini');
  for (const m of receiver.volumes as string[]) assert.ok(existsSync(join(deployDir, m.split(':')[0]!)), `${m} exists`);
});

test('compose: ports are published on 127.0.0.1 only, each once, and the secrets are required', () => {
  const published: string[] = [];
  for (const [name, s] of Object.entries(services)) {
    for (const p of (s.ports ?? []) as string[]) {
      assert.match(p, /^127\.0\.0\.1:\d+:\d+$/, `${name} publishes ${p} on loopback`);
      published.push(p.split(':')[1]!);
    }
  }
  assert.equal(new Set(published).size, published.length);
  assert.deepEqual(services.redis!.ports, undefined, 'Redis is not published');
  for (const name of gateways) {
    for (const v of Object.values(services[name]!.environment as Record<string, string>)) assert.match(v, /^\$\{[A-Z_]+:\?/, 'no default: compose refuses to start without it');
  }
});

test('compose: the instances share one config on one Redis, and egress may reach the receiver', () => {
  for (const name of gateways) assert.deepEqual(services[name]!.volumes, ['./gateway.yaml:/etc/hookgate/gateway.yaml:ro']);
  const text = readFileSync(join(deployDir, 'gateway.yaml'), 'utf8');
  const { config } = loadConfigText(text, 'deploy/gateway.yaml', { HOOKGATE_ADMIN_TOKEN: 'a-long-admin-token', PUBLISHER_API_KEY: 'pk-123456' });
  assert.equal(config.store.driver, 'redis');
  assert.equal(new URL(config.store.url!).hostname, 'redis');
  assert.equal(config.listen.host, '0.0.0.0');
  assert.ok(config.routes.some((r) => r.deliver), 'an async route that either instance delivers');
  assert.ok(config.egress.endpoints.some((e) => new URL(e.url).hostname === 'receiver'));
  const subnet = compose.networks.hookgate.ipam.config[0].subnet as string;
  assert.deepEqual(config.egress.allowCidrs, [subnet]);
  // Both listeners are reachable: nothing may fall back to a published secret.
  assert.throws(() => loadConfigText(text, 'deploy/gateway.yaml', { PUBLISHER_API_KEY: 'pk-123456' }), /HOOKGATE_ADMIN_TOKEN is not set/);
});
