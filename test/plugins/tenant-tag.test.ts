import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { packageRoot } from '../../gateway/paths.js';
import { startGateway } from '../support/gateway.js';
import { startUpstream } from '../support/http.js';

// The shipped example custom plugin (config/my-plugins/tenant-tag.js), loaded as a user would.
const example = join(packageRoot, 'config', 'my-plugins', 'tenant-tag.js');

test('the tenant-tag example refuses an unknown tenant with its 403 (its response phase no longer breaks the answer) and tags known ones', async () => {
  const up = await startUpstream();
  const g = await startGateway(`
customPlugins: [ "${example}" ]
upstreams:
  up: { targets: [ { url: "${up.url}" } ] }
routes:
  - name: tenants
    path: /webhook/v1/tenants/*
    plugins: [ { tenant-tag: { allowed: [acme] } } ]
    upstream: up
`);
  try {
    const refused = await g.request({ path: '/webhook/v1/tenants/other/x' });
    assert.equal(refused.status, 403);
    assert.equal(refused.json().error.code, 'TENANT_UNKNOWN');
    assert.equal(refused.headers['x-tenant'], undefined);
    assert.equal(up.requests.length, 0);

    const ok = await g.request({ path: '/webhook/v1/tenants/acme/x' });
    assert.equal(ok.status, 200);
    assert.equal(ok.headers['x-tenant'], 'acme');
    assert.equal(up.requests[0]!.headers['x-tenant'], 'acme');
  } finally {
    await g.stop();
    await up.close();
  }
});
