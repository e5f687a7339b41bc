import { test } from 'node:test';
import assert from 'node:assert/strict';
import { pino } from 'pino';
import type { GatewayConfig } from '../gateway/config/types.js';
import { EXAMPLE_SECRETS, exposedExampleSecrets, isLoopbackHost } from '../gateway/example-secrets.js';
import { Gateway } from '../gateway/runtime.js';
import { startGateway } from './support/gateway.js';

test('loopback hosts: 127.0.0.0/8, ::1, localhost; everything else is exposed', () => {
  for (const h of ['127.0.0.1', '127.1.2.3', '::1', '[::1]', 'localhost', 'LOCALHOST', '::ffff:127.0.0.1']) assert.equal(isLoopbackHost(h), true, h);
  for (const h of ['0.0.0.0', '::', '10.0.0.1', '192.168.1.2', 'example.internal', '128.0.0.1', '::2']) assert.equal(isLoopbackHost(h), false, h);
});

const cfg = (listenHost: string, adminHost: string, secret: string, token: string) =>
  ({
    listen: { host: listenHost, port: 0 },
    admin: { host: adminHost, port: 0, token },
    routes: [{ name: 'gh', plugins: [{ 'verify-signature': { preset: 'github', secrets: ['own', secret] } }] }],
    egress: { endpoints: [] },
  }) as unknown as GatewayConfig;

test('admin.token counts behind the admin listener, every other key behind the main listener; only paths are returned', () => {
  assert.deepEqual(exposedExampleSecrets(cfg('127.0.0.1', '127.0.0.1', 'change-me-github', 'change-me')), []);
  assert.deepEqual(exposedExampleSecrets(cfg('0.0.0.0', '127.0.0.1', 'change-me-github', 'change-me')), ['routes[0].plugins[0].verify-signature.secrets[1]']);
  assert.deepEqual(exposedExampleSecrets(cfg('127.0.0.1', '0.0.0.0', 'change-me-github', 'change-me')), ['admin.token']);
  assert.deepEqual(exposedExampleSecrets(cfg('0.0.0.0', '::', 'own-secret', 'own-admin-token')), []);
  // On a reload the running listeners' hosts decide (listen and admin hosts change only on restart).
  assert.deepEqual(exposedExampleSecrets(cfg('127.0.0.1', '127.0.0.1', 'change-me-github', 'change-me'), { listen: '0.0.0.0', admin: '0.0.0.0' }), [
    'admin.token',
    'routes[0].plugins[0].verify-signature.secrets[1]',
  ]);
  // A plain-HTTP listener beside the HTTPS one serves the same routes.
  assert.deepEqual(exposedExampleSecrets(cfg('127.0.0.1', '127.0.0.1', 'change-me-github', 'change-me'), { listen: '127.0.0.1', admin: '127.0.0.1', http: '0.0.0.0' }), [
    'routes[0].plugins[0].verify-signature.secrets[1]',
  ]);
  // Exact values only: a secret that merely contains an example value is the operator's own.
  assert.deepEqual(exposedExampleSecrets(cfg('0.0.0.0', '0.0.0.0', 'change-me-github-2', 'xchange-me')), []);
});

test('admin.tokens and console.portal.signingKey count behind the admin listener too', () => {
  const c = (adminHost: string) =>
    ({
      ...cfg('127.0.0.1', adminHost, 'own-secret', 'own-admin-token'),
      admin: { host: adminHost, port: 0, token: 'own-admin-token', tokens: [{ token: 'own-read-token', role: 'read' }, { token: 'change-me-read', role: 'read' }] },
      console: { portal: { signingKey: 'change-me' } },
    }) as unknown as GatewayConfig;
  assert.deepEqual(exposedExampleSecrets(c('0.0.0.0')), ['admin.tokens[1].token', 'console.portal.signingKey']);
  assert.deepEqual(exposedExampleSecrets(c('127.0.0.1')), []);
});

const EXPOSED = (secret: string) => `listen: { host: 0.0.0.0, port: 0 }
routes:
  - name: gh
    path: /gh
    plugins: [ { verify-signature: { preset: github, secrets: ["${secret}"] } } ]
    respond: { status: 200 }
`;

test('a reload that brings in an example secret on 0.0.0.0 is refused with HG_EXAMPLE_SECRETS; the old config keeps serving', async () => {
  const g = await startGateway(EXPOSED('own-github-secret'));
  try {
    g.write(EXPOSED(EXAMPLE_SECRETS[1]!));
    const r = await g.admin('POST', '/admin/reload');
    assert.equal(r.status, 400);
    assert.equal(r.json().error.code, 'HG_EXAMPLE_SECRETS');
    assert.match(r.json().error.message, /routes\[0\]\.plugins\[0\]\.verify-signature\.secrets\[0\]/);
    for (const s of EXAMPLE_SECRETS) assert.ok(!r.text.includes(s), 'the answer names a secret value');
    assert.ok(g.log.lines.some((l) => l.code === 'HG_EXAMPLE_SECRETS' && l.msg.startsWith('reload rejected')));
    // Moving listen to loopback in the same reload does not help: the listener stays on 0.0.0.0 until a restart.
    g.write(EXPOSED(EXAMPLE_SECRETS[1]!).replace('host: 0.0.0.0', 'host: 127.0.0.1'));
    assert.equal((await g.admin('POST', '/admin/reload')).json().error.code, 'HG_EXAMPLE_SECRETS');
    assert.equal(g.gw.snapshot!.id, 1);
  } finally {
    await g.stop();
  }
});

test('Gateway.start refuses it too, unless allowExampleSecrets', async () => {
  await assert.rejects(startGateway(EXPOSED(EXAMPLE_SECRETS[1]!)), (err: Error & { code?: string }) => err.code === 'HG_EXAMPLE_SECRETS');
  const allowed = await Gateway.start({ configText: EXPOSED(EXAMPLE_SECRETS[1]!), watch: false, allowExampleSecrets: true, logger: pino({ level: 'silent' }) });
  try {
    assert.ok(allowed.address().port > 0);
    assert.equal(allowed.snapshot!.routes.length, 1);
  } finally {
    await allowed.stop(1000);
  }
});
