import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import type { LookupAddress } from 'node:dns';
import { GatewayError } from '../../gateway/errors.js';
import { SsrfGuard, classifyAddress } from '../../gateway/delivery/ssrf.js';

// Classification is pure: none of these addresses is ever connected to.
describe('classifyAddress', () => {
  const blocked: [string, string][] = [
    // IPv4
    ['10.0.0.1', 'private'],
    ['10.255.255.255', 'private'],
    ['172.16.0.1', 'private'],
    ['172.31.255.254', 'private'],
    ['192.168.1.1', 'private'],
    ['127.0.0.1', 'loopback'],
    ['127.255.255.254', 'loopback'],
    ['169.254.169.254', 'link-local'],
    ['100.64.0.1', 'cgnat'],
    ['100.127.255.255', 'cgnat'],
    ['224.0.0.1', 'multicast'],
    ['239.255.255.250', 'multicast'],
    ['240.0.0.1', 'reserved'],
    ['255.255.255.255', 'reserved'],
    ['0.1.2.3', 'reserved'],
    ['0.0.0.0', 'unspecified'],
    ['192.0.0.8', 'reserved'],
    ['192.0.2.10', 'reserved'],
    ['198.18.0.1', 'reserved'],
    ['198.19.255.255', 'reserved'],
    ['198.51.100.7', 'reserved'],
    ['203.0.113.9', 'reserved'],
    ['192.88.99.1', 'reserved'],
    // IPv6
    ['::', 'unspecified'],
    ['::1', 'loopback'],
    ['fc00::1', 'private'],
    ['fd12:3456:789a::1', 'private'],
    ['fe80::1', 'link-local'],
    ['fe80::1%eth0', 'link-local'],
    ['febf::1', 'link-local'],
    ['fec0::1', 'private'],
    ['ff02::1', 'multicast'],
    ['ff0e::1', 'multicast'],
    ['2001:db8::1', 'reserved'],
    ['3fff::1', 'reserved'],
    ['2001::1', 'teredo'],
    ['2001:0:4136:e378:8000:63bf:3fff:fdd2', 'teredo'],
    ['2001:2::1', 'reserved'],
    ['2001:20::1', 'reserved'],
    ['100::1', 'reserved'], // discard-only, outside global unicast
    ['5f00::1', 'reserved'],
    ['4000::1', 'reserved'],
    ['::ffff:0:0:1', 'reserved'], // IPv4-translated (SIIT), not global unicast
    // IPv4-mapped, dotted and hex
    ['::ffff:127.0.0.1', 'ipv4-mapped-embedded-loopback'],
    ['::ffff:7f00:1', 'ipv4-mapped-embedded-loopback'],
    ['::ffff:10.0.0.1', 'ipv4-mapped-embedded-private'],
    ['::ffff:a9fe:a9fe', 'ipv4-mapped-embedded-link-local'],
    ['::ffff:0.0.0.0', 'ipv4-mapped-embedded-unspecified'],
    ['[::ffff:192.168.0.1]', 'ipv4-mapped-embedded-private'],
    // IPv4-compatible (deprecated): always blocked
    ['::127.0.0.1', 'ipv4-compatible-embedded-loopback'],
    ['::7f00:1', 'ipv4-compatible-embedded-loopback'],
    ['::8.8.8.8', 'ipv4-compatible'],
    // NAT64 well-known and local-use prefixes
    ['64:ff9b::10.0.0.1', 'nat64-embedded-private'],
    ['64:ff9b::7f00:1', 'nat64-embedded-loopback'],
    ['64:ff9b::169.254.169.254', 'nat64-embedded-link-local'],
    ['64:ff9b:1::192.168.0.1', 'nat64-embedded-private'],
    ['64:ff9b:1:7f00:1::', 'nat64-local-use'], // /48-style embedding: can't judge, refused
    // 6to4: IPv4 in bits 16..47
    ['2002:7f00:1::1', '6to4-embedded-loopback'],
    ['2002:c0a8:101::1', '6to4-embedded-private'],
    ['2002:a9fe:a9fe::', '6to4-embedded-link-local'],
    // not an address at all: fail closed
    ['localhost', 'invalid'],
    ['', 'invalid'],
    ['1.2.3', 'invalid'],
  ];
  for (const [ip, reason] of blocked) {
    it(`blocks ${ip || '(empty)'} as ${reason}`, () => {
      assert.deepEqual(classifyAddress(ip), { blocked: true, reason });
    });
  }

  const allowed = [
    '8.8.8.8',
    '1.1.1.1',
    '93.184.216.34',
    '172.15.255.255', // just below 172.16/12
    '172.32.0.1', // just above
    '100.63.255.255', // just below 100.64/10
    '100.128.0.0', // just above
    '192.169.0.1',
    '198.17.255.255',
    '198.20.0.0',
    '223.255.255.255', // just below multicast
    '11.0.0.0',
    '2606:4700::1111',
    '2001:4860:4860::8888',
    '2a00:1450:4001::1',
    '2001:200::1', // just above 2001::/23
    '3ffe::1', // below 3fff::/20
    '::ffff:8.8.8.8',
    '::ffff:808:808',
    '64:ff9b::8.8.8.8',
    '64:ff9b:1::1.1.1.1',
    '2002:808:808::1',
  ];
  for (const ip of allowed) {
    it(`allows ${ip}`, () => {
      assert.deepEqual(classifyAddress(ip), { blocked: false, reason: 'public' });
    });
  }
});

describe('SsrfGuard.check', () => {
  it('allowCidrs overrides a block, including mapped forms; other blocks stay', () => {
    const g = new SsrfGuard({ allowCidrs: ['10.1.0.0/16', '::1/128'] });
    assert.deepEqual(g.check('10.1.2.3'), { blocked: false, reason: 'private (allowed)' });
    assert.equal(g.check('::ffff:10.1.2.3').blocked, false);
    assert.equal(g.check('::1').blocked, false);
    assert.deepEqual(g.check('10.2.0.1'), { blocked: true, reason: 'private' });
    assert.deepEqual(g.check('127.0.0.1'), { blocked: true, reason: 'loopback' });
    assert.deepEqual(g.check('8.8.8.8'), { blocked: false, reason: 'public' });
    g.destroy();
  });
  it('rejects a bad allowCidrs entry', () => {
    assert.throws(() => new SsrfGuard({ allowCidrs: ['10.0.0.0/99'] }), /invalid CIDR "10.0.0.0\/99"/);
  });
});

describe('SsrfGuard.checkUrl', () => {
  const guard = new SsrfGuard({});
  after(() => guard.destroy());

  function codeOf(fn: () => void): { code: string; status: number; message: string } {
    try {
      fn();
    } catch (e) {
      assert.ok(e instanceof GatewayError, 'expected a GatewayError');
      return { code: e.code, status: e.status, message: e.message };
    }
    assert.fail('expected checkUrl to throw');
  }

  it('accepts public http(s) URLs and hostnames (resolved later, at connect time)', () => {
    guard.checkUrl('https://example.com/hook');
    guard.checkUrl('http://8.8.8.8:8080/x?y=1');
    guard.checkUrl('https://[2606:4700::1111]/');
    guard.checkUrl('https://internal.example/'); // names are checked by the guarded lookup
  });

  it('rejects unparsable and non-http(s) URLs with HG_ENDPOINT_URL_INVALID', () => {
    for (const u of ['not a url', '/relative/path', '', 'ftp://example.com/', 'file:///etc/passwd', 'gopher://x/', 'javascript:alert(1)']) {
      const e = codeOf(() => guard.checkUrl(u));
      assert.equal(e.code, 'HG_ENDPOINT_URL_INVALID', u);
      assert.equal(e.status, 400);
    }
  });

  it('rejects a blocked literal IP, naming the address, the reason and egress.allowCidrs', () => {
    const e = codeOf(() => guard.checkUrl('http://127.0.0.1:8080/hook'));
    assert.equal(e.code, 'HG_ENDPOINT_URL_BLOCKED');
    assert.equal(e.status, 400);
    assert.match(e.message, /127\.0\.0\.1/);
    assert.match(e.message, /loopback/);
    assert.match(e.message, /add "127\.0\.0\.1\/32" to egress\.allowCidrs/);

    const m = codeOf(() => guard.checkUrl('http://169.254.169.254/latest/meta-data/'));
    assert.match(m.message, /169\.254\.169\.254.*link-local.*"169\.254\.169\.254\/32" to egress\.allowCidrs/);

    const v6 = codeOf(() => guard.checkUrl('http://[fd00::5]/'));
    assert.equal(v6.code, 'HG_ENDPOINT_URL_BLOCKED');
    assert.match(v6.message, /fd00::5.*private.*"fd00::5\/128" to egress\.allowCidrs/);
  });

  it('rejects obfuscated loopback spellings (the URL parser normalises them to IPs)', () => {
    for (const u of ['http://2130706433/', 'http://0x7f.1/', 'http://127.1/', 'http://[::ffff:127.0.0.1]/', 'http://[::ffff:7f00:1]/', 'http://0/']) {
      assert.equal(codeOf(() => guard.checkUrl(u)).code, 'HG_ENDPOINT_URL_BLOCKED', u);
    }
    // a mapped address suggests the IPv4 CIDR
    assert.match(codeOf(() => guard.checkUrl('http://[::ffff:10.0.0.1]/')).message, /add "10\.0\.0\.1\/32"/);
  });

  it('rejects localhost names unless loopback is allowed', () => {
    for (const u of ['http://localhost:3000/', 'http://LOCALHOST/', 'http://localhost./', 'http://api.localhost/']) {
      const e = codeOf(() => guard.checkUrl(u));
      assert.equal(e.code, 'HG_ENDPOINT_URL_BLOCKED', u);
      assert.match(e.message, /loopback/);
      assert.match(e.message, /egress\.allowCidrs/);
    }
    const open = new SsrfGuard({ allowCidrs: ['127.0.0.1/32', '::1/128'] });
    open.checkUrl('http://localhost:3000/');
    open.checkUrl('http://127.0.0.1:3000/');
    open.checkUrl('http://[::1]:3000/');
    open.destroy();
  });
});

describe('SsrfGuard.lookup', () => {
  function lookup(guard: SsrfGuard, host: string, all: boolean): Promise<{ address: string | LookupAddress[]; family?: number }> {
    return new Promise((resolve, reject) => {
      guard.lookup(host, { all }, (err, address, family) => (err ? reject(err) : resolve({ address, family })));
    });
  }

  it('refuses names resolving to blocked addresses', async () => {
    const g = new SsrfGuard({});
    await assert.rejects(lookup(g, 'localhost', true), (e: GatewayError) => {
      assert.equal(e.code, 'HG_ENDPOINT_URL_BLOCKED');
      assert.match(e.message, /resolved from "localhost"/);
      assert.match(e.message, /loopback/);
      assert.match(e.message, /egress\.allowCidrs/);
      return true;
    });
    g.destroy();
  });

  it('honours options.all when allowed', async () => {
    const g = new SsrfGuard({ allowCidrs: ['127.0.0.0/8', '::1/128'] });
    const all = await lookup(g, 'localhost', true);
    assert.ok(Array.isArray(all.address) && all.address.length > 0);
    const one = await lookup(g, 'localhost', false);
    assert.equal(typeof one.address, 'string');
    assert.ok(one.family === 4 || one.family === 6);
    g.destroy();
  });

  it('passes DNS errors through', async () => {
    const g = new SsrfGuard({});
    await assert.rejects(lookup(g, 'does-not-exist.invalid', true), (e: NodeJS.ErrnoException) => e.code !== 'HG_ENDPOINT_URL_BLOCKED');
    g.destroy();
  });
});

describe('SsrfGuard agents (loopback end to end)', () => {
  let server: http.Server;
  let port: number;
  let hits = 0;

  before(async () => {
    server = http.createServer((_req, res) => {
      hits++;
      res.end('ok');
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    port = (server.address() as AddressInfo).port;
  });
  after(async () => {
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  });

  function get(url: string, agent: http.Agent): Promise<number> {
    return new Promise((resolve, reject) => {
      const req = http.get(url, { agent }, (res) => {
        res.resume();
        res.on('end', () => resolve(res.statusCode ?? 0));
      });
      req.on('error', reject);
    });
  }

  const isBlocked = (e: NodeJS.ErrnoException): boolean => {
    assert.equal(e.code, 'HG_ENDPOINT_URL_BLOCKED');
    assert.match(e.message, /egress\.allowCidrs/);
    return true;
  };

  it('refuses a literal loopback IP and a name resolving to loopback by default', async () => {
    const guard = new SsrfGuard({});
    const before = hits;
    await assert.rejects(get(`http://127.0.0.1:${port}/`, guard.httpAgent), isBlocked);
    await assert.rejects(get(`http://localhost:${port}/`, guard.httpAgent), isBlocked);
    assert.equal(hits, before, 'the server must not have been reached');
    guard.destroy();
  });

  it('the https agent refuses a literal loopback IP before any TLS', async () => {
    const guard = new SsrfGuard({});
    const req = (await import('node:https')).get(`https://127.0.0.1:${port}/`, { agent: guard.httpsAgent });
    await assert.rejects(new Promise((_, reject) => req.on('error', reject)), isBlocked);
    guard.destroy();
  });

  it('lets both through when loopback is in allowCidrs, reusing keep-alive sockets', async () => {
    const guard = new SsrfGuard({ allowCidrs: ['127.0.0.1/32', '::1/128'] });
    const before = hits;
    assert.equal(await get(`http://127.0.0.1:${port}/`, guard.httpAgent), 200);
    assert.equal(await get(`http://localhost:${port}/`, guard.httpAgent), 200);
    assert.equal(await get(`http://127.0.0.1:${port}/again`, guard.httpAgent), 200);
    assert.equal(hits, before + 3);
    guard.destroy();
  });

  it('an allow list for other ranges does not open loopback', async () => {
    const guard = new SsrfGuard({ allowCidrs: ['10.0.0.0/8'] });
    await assert.rejects(get(`http://127.0.0.1:${port}/`, guard.httpAgent), isBlocked);
    await assert.rejects(get(`http://localhost:${port}/`, guard.httpAgent), isBlocked);
    guard.destroy();
  });
});
