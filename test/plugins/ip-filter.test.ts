import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { Context } from '../../gateway/context.js';
import { GatewayError } from '../../gateway/errors.js';
import type { PluginInstance } from '../../gateway/plugin.js';
import { ipFilterPlugin } from '../../plugins/ip-filter/index.js';
import { fakeContext, pluginHarness } from '../support/plugin.js';

const { validate, create: make } = pluginHarness(ipFilterPlugin);

function ctxOf(remote: string, xff?: string | string[]): Context {
  return fakeContext({ method: 'GET', remoteAddress: remote, headers: xff === undefined ? {} : { 'x-forwarded-for': xff } });
}

/** Runs the plugin; returns the resolved client ip when allowed, or 'FORBIDDEN'. */
async function run(inst: PluginInstance, remote: string, xff?: string | string[]): Promise<string> {
  const ctx = ctxOf(remote, xff);
  try {
    await inst.onRequest!(ctx);
  } catch (err) {
    assert.ok(err instanceof GatewayError, String(err));
    assert.equal(err.code, 'HG_IP_FORBIDDEN');
    assert.equal(err.status, 403);
    assert.equal(typeof ctx.state.clientIp, 'string');
    return 'FORBIDDEN';
  }
  assert.equal(typeof ctx.state.clientIp, 'string');
  return ctx.state.clientIp as string;
}

test('no lists: everything passes and the client ip is recorded', async () => {
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

test('IPv4-mapped IPv6 peers match IPv4 blocks and are recorded as IPv4', async () => {
  const inst = await make({ allow: ['10.0.0.0/8'], deny: ['10.9.0.0/16'] });
  assert.equal(await run(inst, '::ffff:10.1.2.3'), '10.1.2.3');
  assert.equal(await run(inst, '::FFFF:10.1.2.3'), '10.1.2.3');
  assert.equal(await run(inst, '::ffff:10.9.0.1'), 'FORBIDDEN');
  assert.equal(await run(inst, '::ffff:11.0.0.1'), 'FORBIDDEN');
});

test('X-Forwarded-For is used only when the peer is a trusted proxy', async () => {
  const inst = await make({ allow: ['203.0.113.0/24'], trustedProxies: ['127.0.0.1', '10.0.0.0/8'] });
  // Trusted peer: walk right to left, skip trusted proxies, the leftmost spoofed entry is ignored.
  assert.equal(await run(inst, '127.0.0.1', '1.1.1.1, 203.0.113.5, 10.0.0.2'), '203.0.113.5');
  assert.equal(await run(inst, '::ffff:127.0.0.1', '203.0.113.6'), '203.0.113.6');
  // The client cannot get in by prepending an allowed address: the nearest untrusted hop decides.
  assert.equal(await run(inst, '127.0.0.1', '203.0.113.5, 8.8.8.8'), 'FORBIDDEN');
  // Untrusted peer: XFF ignored entirely.
  assert.equal(await run(inst, '198.51.100.7', '203.0.113.5'), 'FORBIDDEN');
  const open = await make({ trustedProxies: ['10.0.0.0/8'] });
  assert.equal(await run(open, '198.51.100.7', '203.0.113.5'), '198.51.100.7');
  // Trusted peer without XFF: the peer itself.
  assert.equal(await run(open, '10.0.0.1'), '10.0.0.1');
});

test('X-Forwarded-For: several headers, ports, brackets, mapped and IPv6 entries', async () => {
  const inst = await make({ trustedProxies: ['10.0.0.0/8', 'fd00::/8'] });
  assert.equal(await run(inst, '10.0.0.1', ['9.9.9.9', '203.0.113.5, 10.0.0.3']), '203.0.113.5');
  assert.equal(await run(inst, '10.0.0.1', '203.0.113.5:51234'), '203.0.113.5');
  assert.equal(await run(inst, '10.0.0.1', '[2001:db8::7]:443'), '2001:db8::7');
  assert.equal(await run(inst, 'fd00::1', '2001:DB8::8, fd00::2'), '2001:db8::8');
  assert.equal(await run(inst, '10.0.0.1', '::ffff:203.0.113.9'), '203.0.113.9');
  assert.equal(await run(inst, '10.0.0.1', ' , 203.0.113.10 ,'), '203.0.113.10');
  // All hops trusted: the leftmost is the origin.
  assert.equal(await run(inst, '10.0.0.1', '10.0.0.3, 10.0.0.2'), '10.0.0.3');
  // Garbage from a trusted proxy: stop at that proxy instead of believing an unparseable string.
  assert.equal(await run(inst, '10.0.0.1', '203.0.113.5, unknown, 10.0.0.4'), '10.0.0.4');
});

test('an unparseable socket address fails closed when a list is set', async () => {
  assert.equal(await run(await make({ deny: ['10.0.0.0/8'] }), ''), 'FORBIDDEN');
  assert.equal(await run(await make({ allow: ['10.0.0.0/8'] }), 'garbage'), 'FORBIDDEN');
  assert.equal(await run(await make({}), ''), '');
});

test('bad CIDRs make create() throw a clear error', async () => {
  await assert.rejects(async () => make({ allow: ['10.0.0.0/33'] }), /ip-filter: allow: .*10\.0\.0\.0\/33/);
  await assert.rejects(async () => make({ deny: ['not-an-ip'] }), /ip-filter: deny: .*not-an-ip/);
  await assert.rejects(async () => make({ trustedProxies: ['fe80::/129'] }), /ip-filter: trustedProxies/);
});

test('schema: additionalProperties false, defaults applied', () => {
  assert.equal(validate({ allowed: ['10.0.0.0/8'] }), false);
  assert.equal(validate({ allow: '10.0.0.0/8' }), false);
  const p: Record<string, unknown> = {};
  assert.equal(validate(p), true);
  assert.deepEqual(p, { allow: [], deny: [], trustedProxies: [] });
});
