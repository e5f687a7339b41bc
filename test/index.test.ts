import assert from 'node:assert/strict';
import { test } from 'node:test';
import { pino } from 'pino';
import * as hookgate from '../gateway/index.js';
import { httpRequest } from './support/http.js';

test('the package entry embeds a gateway, with a plugin written against the public API', async () => {
  const stamp = hookgate.definePlugin<{ value: string }>({
    name: 'stamp',
    schema: { type: 'object', additionalProperties: false, properties: { value: { type: 'string', default: 'x' } } },
    create: (params) => ({ onResponse: (_ctx, headers) => void (headers['x-stamp'] = params.value) }),
  });
  const gw = await hookgate.Gateway.start({
    configText: `listen: { host: 127.0.0.1, port: 0 }
routes:
  - name: hi
    path: /hi
    plugins: [ { stamp: { value: embedded } } ]
    respond: { status: 200, body: { hi: true } }
`,
    plugins: [stamp],
    logger: pino({ level: 'silent' }),
  });
  try {
    const r = await httpRequest({ port: gw.address().port, path: '/hi' });
    assert.equal(r.status, 200);
    assert.deepEqual(r.json(), { hi: true });
    assert.equal(r.headers['x-stamp'], 'embedded');
    assert.ok(hookgate.builtinPlugins.some((p) => p.name === 'verify-signature'));
    assert.match(hookgate.generateSecret(), /^whsec_/);
  } finally {
    await gw.stop(1000);
  }
});
