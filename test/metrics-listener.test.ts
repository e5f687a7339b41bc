import { test } from 'node:test';
import assert from 'node:assert/strict';
import { startGateway } from './support/gateway.js';
import { httpRequest } from './support/http.js';

const CONFIG = `metrics: { host: 127.0.0.1, port: 0 }
routes:
  - { name: hello, path: /hello, respond: { status: 200 } }
`;

test('the metrics listener serves /metrics without a token, with Node\'s standard process_* and nodejs_* names', async () => {
  const g = await startGateway(CONFIG);
  try {
    const port = g.gw.metricsAddress()!.port;
    assert.ok(port > 0 && port !== g.port && port !== g.adminPort);
    assert.equal((await g.request({ path: '/hello' })).status, 200);
    const r = await httpRequest({ port, path: '/metrics' });
    assert.equal(r.status, 200);
    assert.match(String(r.headers['content-type']), /^text\/plain; version=0\.0\.4/);
    assert.match(r.text, /^process_cpu_user_seconds_total \d/m);
    assert.match(r.text, /^process_resident_memory_bytes \d/m);
    assert.match(r.text, /^nodejs_eventloop_lag_seconds \d/m);
    assert.match(r.text, /^nodejs_heap_size_used_bytes \d/m);
    assert.doesNotMatch(r.text, /hookgate_process_|hookgate_nodejs_/);
    assert.match(r.text, /^hookgate_requests_total\{route="hello",status="200"\} 1$/m);
    const head = await httpRequest({ port, method: 'HEAD', path: '/metrics' });
    assert.equal(head.status, 200);
    assert.equal(head.body.length, 0);
  } finally {
    await g.stop();
  }
});

test('the metrics listener serves nothing else: 404 and 405 as JSON with a code', async () => {
  const g = await startGateway(CONFIG);
  try {
    const port = g.gw.metricsAddress()!.port;
    for (const path of ['/', '/admin/routes', '/metrics/', '/hello', '/healthz']) {
      const r = await httpRequest({ port, path });
      assert.equal(r.status, 404, path);
      assert.equal(r.json().error.code, 'HG_ROUTE_NOT_FOUND', path);
    }
    const post = await httpRequest({ port, method: 'POST', path: '/metrics', body: 'x' });
    assert.equal(post.status, 405);
    assert.equal(post.headers.allow, 'GET, HEAD');
    assert.equal(post.json().error.code, 'HG_METHOD_NOT_ALLOWED');
  } finally {
    await g.stop();
  }
});

test('/metrics on the admin listener stays, and still needs the token; without a metrics block there is no listener', async () => {
  const g = await startGateway('routes: []\n');
  try {
    assert.equal(g.gw.metricsAddress(), undefined);
    assert.equal((await httpRequest({ port: g.adminPort, path: '/metrics' })).status, 401);
    const r = await g.admin('GET', '/metrics');
    assert.equal(r.status, 200);
    assert.match(r.text, /^process_cpu_user_seconds_total \d/m);
  } finally {
    await g.stop();
  }
});
