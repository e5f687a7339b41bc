import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { Context } from '../../gateway/context.js';
import { GatewayError } from '../../gateway/errors.js';
import type { PluginInstance } from '../../gateway/plugin.js';
import { ipFilterPlugin } from '../../plugins/ip-filter/index.js';
import { startGateway } from '../support/gateway.js';
import { fakeContext, pluginHarness } from '../support/plugin.js';

const { validate, create: make } = pluginHarness(ipFilterPlugin);

function ctxOf(remote: string, xff?: string | string[], trustedProxies?: string[]): Context {
  return fakeContext({ method: 'GET', remoteAddress: remote, headers: xff === undefined ? {} : { 'x-forwarded-for': xff }, trustedProxies });
}

/** Runs the plugin; returns the client ip it decided on when allowed, or 'FORBIDDEN'. */
async function run(inst: PluginInstance, remote: string, xff?: string | string[], trustedProxies?: string[]): Promise<string> {
  const ctx = ctxOf(remote, xff, trustedProxies);
  try {
    await inst.onRequest!(ctx);
  } catch (err) {
    assert.ok(err instanceof GatewayError, String(err));
    assert.equal(err.code, 'HG_IP_FORBIDDEN');
    assert.equal(err.status, 403);
    return 'FORBIDDEN';
  }
  return ctx.clientIp;
}

test('no lists: everything passes; the address is canonical', async () => {
  const inst = await make({});
  assert.equal(await run(inst, '203.0.113.9'), '203.0.113.9');
  assert.equal(await run(inst, '::ffff:203.0.113.9'), '203.0.113.9');
  assert.equal(await run(inst, '2001:DB8::1'), '2001:db8::1');
});

test('IPv4 allow list: only listed blocks pass', async () => {
  const inst = await make({ allow: ['10.0.0.0/8', '192.168.1.7'] });
  assert.equal(await run(inst, '10.1.2.3'), '10.1.2.3');
  assert.equal(await run(inst, '192.168.1.7'), '192.168.1.7');
  assert.equal(await run(inst, '192.168.1.8'), 'FORBIDDEN');
  assert.equal(await run(inst, '11.0.0.1'), 'FORBIDDEN');
  assert.equal(await run(inst, '2001:db8::1'), 'FORBIDDEN');
});

test('IPv6 allow and deny lists', async () => {
  const allow = await make({ allow: ['2001:db8::/32'] });
  assert.equal(await run(allow, '2001:db8:1::5'), '2001:db8:1::5');
  assert.equal(await run(allow, '2001:db9::1'), 'FORBIDDEN');
  assert.equal(await run(allow, '10.0.0.1'), 'FORBIDDEN');
  const deny = await make({ deny: ['fc00::/7', '::1'] });
  assert.equal(await run(deny, 'fd12::1'), 'FORBIDDEN');
  assert.equal(await run(deny, '::1'), 'FORBIDDEN');
  assert.equal(await run(deny, '2001:db8::1'), '2001:db8::1');
  assert.equal(await run(deny, '127.0.0.1'), '127.0.0.1');
});

test('IPv4 deny list; deny wins over allow', async () => {
  const inst = await make({ allow: ['10.0.0.0/8'], deny: ['10.1.0.0/16'] });
  assert.equal(await run(inst, '10.1.2.3'), 'FORBIDDEN');
  assert.equal(await run(inst, '10.2.0.1'), '10.2.0.1');
  assert.equal(await run(inst, '8.8.8.8'), 'FORBIDDEN');
  const denyOnly = await make({ deny: ['198.51.100.0/24'] });
  assert.equal(await run(denyOnly, '198.51.100.200'), 'FORBIDDEN');
  assert.equal(await run(denyOnly, '198.51.101.1'), '198.51.101.1');
});

test('IPv4-mapped IPv6 peers match IPv4 blocks and are read as IPv4', async () => {
  const inst = await make({ allow: ['10.0.0.0/8'], deny: ['10.9.0.0/16'] });
  assert.equal(await run(inst, '::ffff:10.1.2.3'), '10.1.2.3');
  assert.equal(await run(inst, '::FFFF:10.1.2.3'), '10.1.2.3');
  assert.equal(await run(inst, '::ffff:10.9.0.1'), 'FORBIDDEN');
  assert.equal(await run(inst, '::ffff:11.0.0.1'), 'FORBIDDEN');
});

test('decides on the core-resolved client address (listen.trustedProxies), not on X-Forwarded-For itself', async () => {
  const inst = await make({ allow: ['203.0.113.0/24'] });
  const trusted = ['127.0.0.1', '10.0.0.0/8'];
  // Trusted peer: the nearest untrusted hop decides; a prepended allowed address does not get in.
  assert.equal(await run(inst, '127.0.0.1', '1.1.1.1, 203.0.113.5, 10.0.0.2', trusted), '203.0.113.5');
  assert.equal(await run(inst, '127.0.0.1', '203.0.113.5, 8.8.8.8', trusted), 'FORBIDDEN');
  // Without trusted proxies (or from an untrusted peer) X-Forwarded-For is ignored.
  assert.equal(await run(inst, '127.0.0.1', '203.0.113.5'), 'FORBIDDEN');
  assert.equal(await run(inst, '198.51.100.7', '203.0.113.5', trusted), 'FORBIDDEN');
});

test('an unparseable socket address fails closed when a list is set', async () => {
  assert.equal(await run(await make({ deny: ['10.0.0.0/8'] }), ''), 'FORBIDDEN');
  assert.equal(await run(await make({ allow: ['10.0.0.0/8'] }), 'garbage'), 'FORBIDDEN');
  assert.equal(await run(await make({}), ''), '');
});

test('its old trustedProxies param is refused with where the setting went', async () => {
  await assert.rejects(async () => make({ trustedProxies: ['10.0.0.0/8'] }), /listen\.trustedProxies/);
});

test('through the gateway: listen.trustedProxies lets a forwarded client in, a spoofed one is refused', async () => {
  const g = await startGateway(`
listen: { host: 127.0.0.1, port: 0, trustedProxies: [127.0.0.1] }
routes:
  - name: r
    path: /r
    plugins:
      - ip-filter: { allow: ["203.0.113.0/24"] }
    respond: { status: 200, body: ok }
`);
  try {
    assert.equal((await g.request({ path: '/r', headers: { 'x-forwarded-for': '203.0.113.9' } })).status, 200);
    const spoofed = await g.request({ path: '/r', headers: { 'x-forwarded-for': '203.0.113.9, 198.51.100.1' } });
    assert.equal(spoofed.status, 403);
    assert.equal(spoofed.json().error.code, 'HG_IP_FORBIDDEN');
  } finally {
    await g.stop();
  }
});

test('bad CIDRs make create() throw a clear error', async () => {
  await assert.rejects(async () => make({ allow: ['10.0.0.0/33'] }), /ip-filter: allow: .*10\.0\.0\.0\/33/);
  await assert.rejects(async () => make({ deny: ['not-an-ip'] }), /ip-filter: deny: .*not-an-ip/);
});

test('schema: additionalProperties false, defaults applied', () => {
  assert.equal(validate({ allowed: ['10.0.0.0/8'] }), false);
  assert.equal(validate({ allow: '10.0.0.0/8' }), false);
  const p: Record<string, unknown> = {};
  assert.equal(validate(p), true);
  assert.deepEqual(p, { allow: [], deny: [] });
});
