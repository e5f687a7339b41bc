import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { closedPort, httpRequest, waitUntil } from '../support/http.js';
import { deleteKeys, REDIS_URL, testPrefix } from '../support/redis.js';
import { h2Request, testPki } from '../support/tls.js';
import { killAll, startedPids, startWorkers, WORKER_PID_PLUGIN } from '../support/workers.js';

const dir = mkdtempSync(join(tmpdir(), 'hookgate-workers-tls-'));
const prefix = testPrefix('workers-tls');
const pids = new Set<number>();
after(async () => {
  killAll(pids);
  rmSync(dir, { recursive: true, force: true });
  await deleteKeys(prefix);
});

test('--workers 2 share an HTTPS + HTTP/2 listener: both workers terminate TLS, over HTTP/1.1 and h2', async () => {
  const pki = await testPki();
  mkdirSync(join(dir, 'tls'));
  writeFileSync(join(dir, 'tls/server.pem'), pki.server.cert);
  writeFileSync(join(dir, 'tls/server-key.pem'), pki.server.key);
  writeFileSync(join(dir, 'worker-pid.js'), WORKER_PID_PLUGIN);
  const port = await closedPort();
  const file = join(dir, 'gateway.yaml');
  writeFileSync(
    file,
    `listen: { host: 127.0.0.1, port: ${port}, http2: true, tls: { cert: tls/server.pem, key: tls/server-key.pem } }
store: { driver: redis, url: "${REDIS_URL}", prefix: "${prefix}" }
customPlugins: [./worker-pid.js]
routes:
  - { name: who, path: /who, plugins: [ { worker-pid: { tag: tls } } ], respond: { status: 200, body: { ok: true } } }
`,
  );
  const gw = await startWorkers(file, 2);
  try {
    assert.equal(gw.child.exitCode, null, gw.stderr());
    const workers = startedPids(gw);
    workers.forEach((p) => pids.add(p));
    assert.equal(workers.length, 2);
    const seen = new Set<number>();
    await waitUntil(async () => {
      const r = await httpRequest({ port, path: '/who', tls: { ca: pki.ca.cert, servername: 'localhost' } });
      assert.equal(r.status, 200);
      seen.add(Number(r.headers['x-worker-pid']));
      return seen.size === 2;
    }, 30000, 'both workers to answer over HTTPS');
    assert.deepEqual([...seen].sort(), [...workers].sort());
    const h2 = await h2Request({ port, path: '/who', ca: pki.ca.cert });
    assert.equal(h2.status, 200);
    assert.ok(workers.includes(Number(h2.headers['x-worker-pid'])));
    assert.ok(gw.child.kill('SIGTERM'));
    assert.deepEqual(await gw.exited, { code: 0, signal: null });
  } finally {
    await gw.kill();
  }
});
