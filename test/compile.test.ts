import assert from 'node:assert/strict';
import { test } from 'node:test';
import { pino } from 'pino';
import { closeSnapshot } from '../gateway/compile.js';
import { ConfigError } from '../gateway/errors.js';
import { definePlugin } from '../gateway/plugin-api.js';
import { startGateway } from './support/gateway.js';
import { startUpstream, waitUntil } from './support/http.js';
import { compileText } from './support/snapshot.js';

const logger = pino({ level: 'silent' });

/** A plugin that counts its instances and their close() calls. */
function countingPlugin() {
  const counts = { created: 0, closed: 0 };
  const plugin = definePlugin<{ tag: string }>({
    name: 'counted',
    schema: { type: 'object', additionalProperties: false, properties: { tag: { type: 'string', default: 'x' } } },
    create() {
      counts.created++;
      return { onRequest: () => undefined, close: () => void counts.closed++ };
    },
  });
  return { plugin, counts };
}

const YAML = (tail: string) => `
upstreams:
  app: { targets: [ { url: "http://127.0.0.1:9" } ] }
plugins:
  - counted: {}
routes:
  - name: a
    path: /a
    plugins: [ { counted: {} } ]
    upstream: app
  - name: b
    path: /b
    plugins: [ { counted: {} }, { counted: {} } ]
    deliver: { upstream: app }
${tail}`;

test('a rejected build closes every plugin instance it had created, wherever it failed', async () => {
  const failures = [
    // A later route's action is wrong: four instances exist by then.
    '  - name: c\n    path: /c\n    plugins: [ { counted: {} } ]\n    upstream: nowhere\n',
    // A later plugin's params are wrong.
    '  - name: c\n    path: /c\n    plugins: [ { counted: {} }, { counted: { tag: 5 } } ]\n    upstream: app\n',
    // The egress part is wrong (a blocked endpoint): checked after the upstream pools exist.
    'egress:\n  endpoints: [ { id: e1, url: "http://10.0.0.1/hook" } ]\n',
  ];
  for (const tail of failures) {
    const { plugin, counts } = countingPlugin();
    await assert.rejects(compileText(YAML(tail), { plugins: [plugin] }), ConfigError, tail);
    assert.equal(counts.closed, counts.created, `every created instance closed (${tail.trim().split('\n')[0]})`);
  }
});

test('a good build, closed, closes each plugin instance exactly once', async () => {
  const { plugin, counts } = countingPlugin();
  const snap = await compileText(YAML(''), { plugins: [plugin] });
  assert.equal(counts.created, 4, 'one global instance plus three route instances');
  assert.equal(counts.closed, 0);
  await closeSnapshot(snap, logger);
  assert.equal(counts.closed, 4);
});

test('one upstream pool per name, shared by the proxy route and the deliver route', async () => {
  const { plugin } = countingPlugin();
  const snap = await compileText(YAML(''), { plugins: [plugin] });
  try {
    const a = snap.routes.find((r) => r.name === 'a')!;
    const b = snap.routes.find((r) => r.name === 'b')!;
    assert.equal(a.action.kind, 'proxy');
    assert.equal(b.action.kind, 'deliver');
    assert.equal(a.action.kind === 'proxy' && a.action.upstream, snap.upstreams.get('app'));
    assert.equal(b.action.kind === 'deliver' && b.action.upstream, 'app');
    assert.equal(snap.upstreams.size, 1);
  } finally {
    await closeSnapshot(snap, logger);
  }
});

test('a reload whose compile fails closes what it built and leaves the running snapshot untouched', async () => {
  const { plugin, counts } = countingPlugin();
  const up = await startUpstream();
  const base = `upstreams:\n  app: { targets: [ { url: "${up.url}" } ] }\nroutes:\n  - name: a\n    path: /a\n    plugins: [ { counted: {} } ]\n    upstream: app\n`;
  const g = await startGateway(base, { plugins: [plugin] });
  try {
    const before = g.gw.snapshot!;
    assert.equal(counts.created, 1);
    g.write(base + '  - name: b\n    path: /b\n    plugins: [ { counted: {} }, { counted: { tag: 5 } } ]\n    upstream: app\n');
    const r = await g.admin('POST', '/admin/reload');
    assert.equal(r.status, 400);
    assert.equal(r.json().error.code, 'HG_CONFIG_INVALID');
    assert.equal(counts.created, 3, 'the rejected build created its own instances');
    assert.equal(counts.closed, 2, 'and closed exactly those');
    assert.equal(g.gw.snapshot, before, 'the running snapshot is the same object');
    assert.equal((await g.request({ path: '/a' })).status, 200);
    // A good reload then retires the old snapshot: its one instance closes once drained.
    g.write(base);
    assert.equal((await g.admin('POST', '/admin/reload')).status, 200);
    await waitUntil(() => counts.closed === 3, 5000, 'the retired snapshot to close');
  } finally {
    await g.stop();
    await up.close();
  }
  assert.equal(counts.closed, counts.created, 'stop closes the last snapshot');
});
