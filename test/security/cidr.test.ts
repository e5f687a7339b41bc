import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { CidrList, formatCidr, parseCidr, parseIp } from '../../gateway/security/cidr.js';

describe('parseIp', () => {
  it('parses IPv4 and IPv6 forms to integers', () => {
    assert.deepEqual(parseIp('1.2.3.4'), { family: 4, value: 0x01020304n });
    assert.deepEqual(parseIp('::1'), { family: 6, value: 1n });
    assert.deepEqual(parseIp('::'), { family: 6, value: 0n });
    assert.deepEqual(parseIp('2001:db8::1'), { family: 6, value: (0x20010db8n << 96n) | 1n });
    assert.deepEqual(parseIp('1:2:3:4:5:6:7:8'), { family: 6, value: 0x00010002000300040005000600070008n });
    assert.deepEqual(parseIp('fe80::'), { family: 6, value: 0xfe80n << 112n });
  });
  it('handles an embedded dotted quad, brackets and zone ids', () => {
    const mapped = (0xffffn << 32n) | 0x7f000001n;
    assert.deepEqual(parseIp('::ffff:127.0.0.1'), { family: 6, value: mapped });
    assert.deepEqual(parseIp('::ffff:7f00:1'), { family: 6, value: mapped });
    assert.deepEqual(parseIp('::1.2.3.4'), { family: 6, value: 0x01020304n });
    assert.deepEqual(parseIp('64:ff9b::10.0.0.1'), { family: 6, value: (0x64ff9bn << 96n) | 0x0a000001n });
    assert.deepEqual(parseIp('1:2:3:4:5:6:1.2.3.4'), { family: 6, value: 0x00010002000300040005000601020304n });
    assert.deepEqual(parseIp('[::1]'), { family: 6, value: 1n });
    assert.deepEqual(parseIp('fe80::1%eth0'), { family: 6, value: (0xfe80n << 112n) | 1n });
  });
  it('rejects non-addresses', () => {
    for (const s of ['', 'localhost', '1.2.3', '1.2.3.256', '::g', '1::2::3', '12345::', '01.2.3.4']) {
      assert.equal(parseIp(s), undefined, s);
    }
  });
});

describe('parseCidr', () => {
  it('parses v4/v6 blocks and bare addresses', () => {
    assert.equal(formatCidr(parseCidr('10.0.0.0/8')), '10.0.0.0/8');
    assert.equal(formatCidr(parseCidr('1.2.3.4')), '1.2.3.4/32');
    assert.equal(formatCidr(parseCidr('0.0.0.0/0')), '0.0.0.0/0');
    assert.equal(formatCidr(parseCidr('::1')), '::1/128');
    assert.equal(formatCidr(parseCidr('fc00::/7')), 'fc00::/7');
    assert.equal(parseCidr('::/0').prefix, 0);
    assert.equal(parseCidr(' 192.168.0.0/16 ').prefix, 16);
  });
  it('clears host bits', () => {
    assert.equal(formatCidr(parseCidr('10.1.2.3/8')), '10.0.0.0/8');
    assert.equal(formatCidr(parseCidr('172.31.255.255/12')), '172.16.0.0/12');
  });
  it('throws on bad input', () => {
    for (const s of ['', '/8', '10.0.0.0/', '10.0.0.0/33', '::/129', '10.0.0.0/-1', '10.0.0.0/8/8', 'x/8', '10.0.0/8', '10.0.0.0/ 8', 'fe80::1%eth0/64', '10.0.0.0/1e1']) {
      assert.throws(() => parseCidr(s), /invalid CIDR/, s);
    }
    assert.throws(() => parseCidr(42 as unknown as string), /invalid CIDR/);
  });
});

describe('CidrList', () => {
  const list = new CidrList(['10.0.0.0/8', '192.168.1.0/24', '2001:db8::/32', '8.8.8.8']);

  it('matches IPv4 and IPv6 members', () => {
    assert.equal(list.has('10.255.1.2'), true);
    assert.equal(list.has('192.168.1.77'), true);
    assert.equal(list.has('8.8.8.8'), true);
    assert.equal(list.has('2001:db8:ffff::1'), true);
  });
  it('rejects non-members and non-IPs', () => {
    assert.equal(list.has('11.0.0.1'), false);
    assert.equal(list.has('192.168.2.1'), false);
    assert.equal(list.has('8.8.4.4'), false);
    assert.equal(list.has('2001:db9::1'), false);
    assert.equal(list.has('localhost'), false);
    assert.equal(list.has(''), false);
  });
  it('matches IPv4-mapped IPv6 against IPv4 blocks (dotted and hex forms)', () => {
    assert.equal(list.has('::ffff:10.1.2.3'), true);
    assert.equal(list.has('::ffff:a01:203'), true);
    assert.equal(list.has('::ffff:8.8.8.8'), true);
    assert.equal(list.has('::ffff:11.1.2.3'), false);
    // IPv4-compatible and NAT64 forms are different addresses, not the IPv4 itself.
    assert.equal(list.has('::10.1.2.3'), false);
    assert.equal(list.has('64:ff9b::10.1.2.3'), false);
  });
  it('matches IPv4 against an IPv4-mapped IPv6 block', () => {
    const l = new CidrList(['::ffff:127.0.0.0/104']);
    assert.equal(l.has('127.0.0.1'), true);
    assert.equal(l.has('::ffff:127.9.9.9'), true);
    assert.equal(l.has('128.0.0.1'), false);
  });
  it('does not mix families otherwise', () => {
    const l = new CidrList(['0.0.0.0/0']);
    assert.equal(l.has('1.2.3.4'), true);
    assert.equal(l.has('2001:4860::8888'), false);
    assert.equal(l.has('::'), false);
    const l6 = new CidrList(['::/0']);
    assert.equal(l6.has('2001:4860::8888'), true);
    assert.equal(l6.has('1.2.3.4'), true); // via ::ffff:1.2.3.4
  });
  it('empty list matches nothing; bad entry throws naming it', () => {
    assert.equal(new CidrList([]).has('127.0.0.1'), false);
    assert.equal(new CidrList([]).size, 0);
    assert.equal(list.size, 4);
    assert.throws(() => new CidrList(['10.0.0.0/8', 'nope']), /"nope"/);
  });
  it('accepts zone ids and brackets in queried addresses', () => {
    const l = new CidrList(['fe80::/10', '::1']);
    assert.equal(l.has('fe80::1%eth0'), true);
    assert.equal(l.has('[::1]'), true);
  });
});
