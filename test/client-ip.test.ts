import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { IncomingHttpHeaders } from 'node:http';
import { ClientIpResolver, forwardedFor, parseHop } from '../gateway/client-ip.js';
import { Context } from '../gateway/context.js';
import { canonicalIp, formatIp, maskIp, parseIp } from '../gateway/security/cidr.js';
import { addressKey } from '../plugins/rate-limit/index.js';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { startGateway } from './support/gateway.js';
import { waitUntil } from './support/http.js';
import { fakeContext } from './support/plugin.js';

const xff = (v: string | string[]): IncomingHttpHeaders => ({ 'x-forwarded-for': v });

describe('canonical addresses', () => {
  test('IPv6 in RFC 5952 form: lower case, no leading zeros, the longest zero run compressed', () => {
    const cases: [string, string][] = [
      ['2001:DB8::1', '2001:db8::1'],
      ['2001:0db8:0000:0000:0000:0000:0000:0001', '2001:db8::1'],
      ['2001:db8:0:0:1:0:0:1', '2001:db8::1:0:0:1'], // equal runs: the first is compressed
      ['2001:db8:0:1:1:1:1:1', '2001:db8:0:1:1:1:1:1'], // a single zero group stays
      ['2001:0:0:1:0:0:0:1', '2001:0:0:1::1'], // the longest run wins
      ['0:0:0:0:0:0:0:0', '::'],
      ['0:0:0:0:0:0:0:1', '::1'],
      ['1:0:0:0:0:0:0:0', '1::'],
      ['FE80::1%eth0', 'fe80::1'],
      ['[2001:db8::a]', '2001:db8::a'],
      ['::ffff:192.0.2.1', '192.0.2.1'], // IPv4-mapped is the IPv4 address
      ['::FFFF:c000:0201', '192.0.2.1'],
      ['64:ff9b::192.0.2.1', '64:ff9b::c000:201'], // NAT64 is not mapped
      ['192.0.2.1', '192.0.2.1'],
    ];
    for (const [input, want] of cases) assert.equal(canonicalIp(input), want, input);
    assert.equal(canonicalIp('not-an-ip'), undefined);
    assert.equal(canonicalIp(''), undefined);
  });

  test('formatIp round-trips through parseIp', () => {
    for (const s of ['::', '::1', '2001:db8::1:0:0:1', 'fe80::', '1:2:3:4:5:6:7:8', '10.0.0.1']) {
      assert.equal(formatIp(parseIp(s)!), s);
    }
  });

  test('maskIp clears the host bits', () => {
    assert.equal(formatIp(maskIp(parseIp('2001:db8:1:2:aaaa:bbbb:cccc:dddd')!, 64)), '2001:db8:1:2::');
    assert.equal(formatIp(maskIp(parseIp('2001:db8:1:2::1')!, 48)), '2001:db8:1::');
    assert.equal(formatIp(maskIp(parseIp('10.1.2.3')!, 8)), '10.0.0.0');
    assert.equal(formatIp(maskIp(parseIp('2001:db8::1')!, 0)), '::');
  });
});

describe('parsing hops', () => {
  test('bare, with a port, bracketed, mapped; garbage and zone ids are refused', () => {
    assert.equal(formatIp(parseHop(' 203.0.113.5 ')!), '203.0.113.5');
    assert.equal(formatIp(parseHop('203.0.113.5:51234')!), '203.0.113.5');
    assert.equal(formatIp(parseHop('[2001:DB8::7]:443')!), '2001:db8::7');
    assert.equal(formatIp(parseHop('[2001:db8::7]')!), '2001:db8::7');
    assert.equal(formatIp(parseHop('::ffff:203.0.113.9')!), '203.0.113.9');
    for (const bad of ['unknown', '_hidden', '', '[2001:db8::7', '[::1]x', 'fe80::1%eth0', '1.2.3.4:x', '2001:db8::1:80:']) {
      assert.equal(parseHop(bad), undefined, bad);
    }
  });

  test('Forwarded: the for= of each element, quoted or not, case-insensitive; elements without for= stop the walk', () => {
    assert.deepEqual(forwardedFor('for=192.0.2.60;proto=http;by=203.0.113.43'), ['192.0.2.60']);
    assert.deepEqual(forwardedFor('For="[2001:db8:cafe::17]:4711", for=198.51.100.17'), ['[2001:db8:cafe::17]:4711', '198.51.100.17']);
    assert.deepEqual(forwardedFor(['for=192.0.2.43', 'for=198.51.100.17;ext="a,b;c"']), ['192.0.2.43', '198.51.100.17']);
    assert.deepEqual(forwardedFor('proto=https, for=10.0.0.1'), ['-', '10.0.0.1']);
    assert.deepEqual(forwardedFor('for=unknown'), ['unknown']);
    assert.deepEqual(forwardedFor(undefined), []);
    assert.deepEqual(forwardedFor(' , '), []);
  });
});

describe('walking the hops', () => {
  const r = new ClientIpResolver(['127.0.0.1', '10.0.0.0/8', 'fd00::/8']);

  test('no trusted proxies: the socket peer, whatever the headers say', () => {
    const none = new ClientIpResolver([]);
    assert.equal(none.resolve('198.51.100.7', xff('203.0.113.5')), '198.51.100.7');
    assert.equal(none.resolve('::ffff:198.51.100.7', {}), '198.51.100.7');
    assert.equal(none.resolve('2001:DB8:0::1', {}), '2001:db8::1');
  });

  test('untrusted peer: X-Forwarded-For is ignored', () => {
    assert.equal(r.resolve('198.51.100.7', xff('203.0.113.5')), '198.51.100.7');
  });

  test('trusted peer: right to left, the first untrusted hop is the client; entries left of it are never believed', () => {
    assert.equal(r.resolve('127.0.0.1', xff('1.1.1.1, 203.0.113.5, 10.0.0.2')), '203.0.113.5');
    assert.equal(r.resolve('::ffff:127.0.0.1', xff('203.0.113.6')), '203.0.113.6');
    assert.equal(r.resolve('127.0.0.1', xff('203.0.113.5, 8.8.8.8')), '8.8.8.8');
    assert.equal(r.resolve('10.0.0.1', {}), '10.0.0.1');
  });

  test('several header lines, ports, brackets, mapped and IPv6 entries, empty entries', () => {
    assert.equal(r.resolve('10.0.0.1', xff(['9.9.9.9', '203.0.113.5, 10.0.0.3'])), '203.0.113.5');
    assert.equal(r.resolve('10.0.0.1', xff('203.0.113.5:51234')), '203.0.113.5');
    assert.equal(r.resolve('10.0.0.1', xff('[2001:db8::7]:443')), '2001:db8::7');
    assert.equal(r.resolve('fd00::1', xff('2001:DB8:0:0::8, fd00::2')), '2001:db8::8');
    assert.equal(r.resolve('10.0.0.1', xff('::ffff:203.0.113.9')), '203.0.113.9');
    assert.equal(r.resolve('10.0.0.1', xff(' , 203.0.113.10 ,')), '203.0.113.10');
  });

  test('all hops trusted: the leftmost; garbage from a trusted proxy: that proxy', () => {
    assert.equal(r.resolve('10.0.0.1', xff('10.0.0.3, 10.0.0.2')), '10.0.0.3');
    assert.equal(r.resolve('10.0.0.1', xff('203.0.113.5, unknown, 10.0.0.4')), '10.0.0.4');
  });

  test('a socket address that is not an IP is kept as it is', () => {
    assert.equal(r.resolve('', xff('203.0.113.5')), '');
  });

  test('forwardedHeader: forwarded walks RFC 7239 for= and ignores X-Forwarded-For (and the other way round)', () => {
    const fwd = new ClientIpResolver(['10.0.0.0/8'], 'forwarded');
    const headers = { forwarded: 'for=203.0.113.1, for="[2001:db8::5]:8080";proto=https, for=10.0.0.9', 'x-forwarded-for': '198.51.100.99' };
    assert.equal(fwd.resolve('10.0.0.1', headers), '2001:db8::5');
    assert.equal(fwd.resolve('10.0.0.1', { forwarded: 'for=_obfuscated, for=10.0.0.9' }), '10.0.0.9');
    assert.equal(r.resolve('10.0.0.1', headers), '198.51.100.99');
  });
});

test('the Context resolves its client once, on first use, from the headers as received', () => {
  let calls = 0;
  class Counting extends ClientIpResolver {
    override resolve(peer: string, headers: IncomingHttpHeaders): string {
      calls++;
      return super.resolve(peer, headers);
    }
  }
  const ctx = fakeContext({ remoteAddress: '10.0.0.1', headers: { 'x-forwarded-for': '203.0.113.5' } });
  // fakeContext has no resolver: the socket peer.
  assert.equal(ctx.clientIp, '10.0.0.1');
  const withResolver = new Context(ctx.req, 'r', '/x', '', '10.0.0.1', new Counting(['10.0.0.0/8']));
  assert.equal(calls, 0, 'nothing resolved before use');
  withResolver.headers['x-forwarded-for'] = '198.51.100.1'; // a plugin's rewrite does not count
  assert.equal(withResolver.clientIp, '203.0.113.5');
  assert.equal(withResolver.clientIp, '203.0.113.5');
  assert.equal(calls, 1);
});

test('rate-limit keys IPv6 clients by their ipv6Prefix network, IPv4 by address', () => {
  assert.equal(addressKey('2001:db8:1:2:aaaa::1', 64), '2001:db8:1:2::/64');
  assert.equal(addressKey('2001:db8:1:2:bbbb::9', 64), '2001:db8:1:2::/64');
  assert.equal(addressKey('2001:db8:1:3::1', 64), '2001:db8:1:3::/64');
  assert.equal(addressKey('2001:db8:1:2::1', 128), '2001:db8:1:2::1');
  assert.equal(addressKey('203.0.113.5', 64), '203.0.113.5');
  assert.equal(addressKey('', 64), '');
});

test('through the gateway: listen.trustedProxies gives the log the forwarded client, and a bad CIDR is a located config error', async () => {
  const g = await startGateway(`
listen: { host: 127.0.0.1, port: 0, trustedProxies: ["127.0.0.0/8"] }
plugins:
  - log: { destination: ./access.log }
routes:
  - name: r
    path: /r
    respond: { status: 200, body: ok }
`);
  try {
    const r = await g.request({ path: '/r', headers: { 'x-forwarded-for': '2001:0DB8::0:1, 127.0.0.2', 'x-request-id': 'cip-1' } });
    assert.equal(r.status, 200);
    const file = join(g.dir, 'access.log');
    let line: Record<string, unknown> | undefined;
    await waitUntil(
      () => {
        if (!existsSync(file)) return false;
        line = readFileSync(file, 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l) as Record<string, unknown>).find((l) => l.requestId === 'cip-1');
        return line !== undefined;
      },
      10000,
      'the access line',
    );
    assert.equal(line!.clientIp, '2001:db8::1');
  } finally {
    await g.stop();
  }
  await assert.rejects(
    startGateway(`
listen: { host: 127.0.0.1, port: 0, trustedProxies: ["10.0.0.0/8", "10.0.0.0/33"] }
routes: []
`),
    (err: Error & { path?: string }) => {
      assert.match(err.message, /10\.0\.0\.0\/33/);
      assert.match(String(err.path ?? err.message), /listen\.trustedProxies\[1\]/);
      return true;
    },
  );
});
