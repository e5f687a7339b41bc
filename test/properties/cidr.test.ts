// Properties of the address and CIDR parsers (gateway/security/cidr.ts). Pure functions only: no
// socket is opened. Oracles: node:net isIP for what is an address, bigint prefix arithmetic and a
// node:net BlockList built from this file's own spelling of each block for membership.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { BlockList, isIP } from 'node:net';
import fc from 'fast-check';

import { CidrList, formatCidr, formatIp, normalizeIpText, parseCidr, parseIp } from '../../gateway/security/cidr.js';

// HG_PROPERTY_RUNS=5000 explores further locally; the suite keeps each file to a few seconds.
const RUNS = { numRuns: Number(process.env.HG_PROPERTY_RUNS) || 400 };

const V4_ALL = (1n << 32n) - 1n;
const V6_ALL = (1n << 128n) - 1n;
const v4Value = fc.bigInt({ min: 0n, max: V4_ALL });
// Many zero groups, so that `::` compression and mapped forms are exercised, as well as dense values.
const v6Value = fc.oneof(
  fc.bigInt({ min: 0n, max: V6_ALL }),
  fc.array(fc.oneof(fc.constant(0), fc.integer({ min: 0, max: 0xffff })), { minLength: 8, maxLength: 8 }).map((w) => w.reduce((v, g) => (v << 16n) | BigInt(g), 0n)),
  v4Value.map((v) => (0xffffn << 32n) | v),
);

const dotted = (v: bigint) => [24n, 16n, 8n, 0n].map((s) => String((v >> s) & 255n)).join('.');
const groupsOf = (v: bigint) => Array.from({ length: 8 }, (_, i) => Number((v >> BigInt((7 - i) * 16)) & 0xffffn));

type V6Style = 'full' | 'padded' | 'compressed' | 'upper' | 'dotted';
/** This file's own spellings of an IPv6 address, independent of the module's formatter. */
function v6Text(v: bigint, style: V6Style): string {
  const g = groupsOf(v).map((x) => x.toString(16));
  if (style === 'full') return g.join(':');
  if (style === 'padded') return g.map((x) => x.padStart(4, '0')).join(':');
  if (style === 'dotted') return g.slice(0, 6).join(':') + ':' + dotted(v & V4_ALL);
  // Longest run of zero groups (first on ties) becomes `::`.
  let best = -1;
  let bestLen = 0;
  for (let i = 0; i < 8; ) {
    let j = i;
    while (j < 8 && g[j] === '0') j++;
    if (j - i > bestLen) [best, bestLen] = [i, j - i];
    i = j === i ? i + 1 : j;
  }
  const text = bestLen < 2 ? g.join(':') : `${g.slice(0, best).join(':')}::${g.slice(best + bestLen).join(':')}`;
  return style === 'upper' ? text.toUpperCase() : text;
}
const v6Style = fc.constantFrom<V6Style>('full', 'padded', 'compressed', 'upper', 'dotted');

const inPrefix = (a: bigint, net: bigint, prefix: number, bits: number) => (a ^ net) >> BigInt(bits - prefix) === 0n;

// Text an address parser could be handed: address-ish characters in random order, or anything.
const addressish = fc.oneof(
  fc.string({ unit: fc.constantFrom('0', '1', '9', 'a', 'f', 'F', 'g', ':', '::', '.', '/', '%', '[', ']', ' ', '-', 'ffff', '255', '256'), maxLength: 24 }),
  fc.string({ maxLength: 40 }),
);

describe('parseIp', () => {
  it('never throws, and accepts exactly what node:net isIP accepts (after brackets and zone ids)', () => {
    fc.assert(
      fc.property(addressish, (s) => {
        const r = parseIp(s);
        const family = isIP(normalizeIpText(s));
        assert.equal(r === undefined ? 0 : r.family, family, JSON.stringify(s));
      }),
      RUNS,
    );
  });

  it('reads every spelling of an address as the same integer, and formatIp round-trips', () => {
    fc.assert(
      fc.property(v4Value, v6Value, v6Style, (a4, a6, style) => {
        assert.deepEqual(parseIp(dotted(a4)), { family: 4, value: a4 });
        const text = v6Text(a6, style);
        assert.deepEqual(parseIp(text), { family: 6, value: a6 }, text);
        assert.deepEqual(parseIp(`[${text}]`), { family: 6, value: a6 });
        assert.deepEqual(parseIp(formatIp({ family: 6, value: a6 })), { family: 6, value: a6 });
        assert.deepEqual(parseIp(formatIp({ family: 4, value: a4 })), { family: 4, value: a4 });
      }),
      RUNS,
    );
  });
});

describe('parseCidr', () => {
  it('never throws anything but an "invalid CIDR" Error', () => {
    const cidrish = fc.oneof(addressish, fc.tuple(addressish, fc.string({ maxLength: 5 })).map(([a, p]) => `${a}/${p}`));
    fc.assert(
      fc.property(cidrish, (s) => {
        try {
          const c = parseCidr(s);
          assert.ok(c.prefix >= 0 && c.prefix <= (c.family === 4 ? 32 : 128));
        } catch (err) {
          assert.ok(err instanceof Error && /^invalid CIDR /.test(err.message), String(err));
        }
      }),
      RUNS,
    );
  });

  it('clears host bits, and formatCidr round-trips', () => {
    fc.assert(
      fc.property(v4Value, fc.integer({ min: 0, max: 32 }), v6Value, fc.integer({ min: 0, max: 128 }), v6Style, (a4, p4, a6, p6, style) => {
        const c4 = parseCidr(`${dotted(a4)}/${p4}`);
        assert.deepEqual(c4, { family: 4, network: p4 === 0 ? 0n : (a4 >> BigInt(32 - p4)) << BigInt(32 - p4), prefix: p4 });
        assert.deepEqual(parseCidr(formatCidr(c4)), c4);
        const c6 = parseCidr(`${v6Text(a6, style)}/${p6}`);
        assert.deepEqual(c6, { family: 6, network: p6 === 0 ? 0n : (a6 >> BigInt(128 - p6)) << BigInt(128 - p6), prefix: p6 });
        assert.deepEqual(parseCidr(formatCidr(c6)), c6);
      }),
      RUNS,
    );
  });
});

describe('CidrList', () => {
  /** An address inside the block (host bits random), just outside it (a prefix bit flipped), or anywhere. */
  const near = (net: bigint, prefix: number, bits: number) =>
    fc.oneof(
      fc.bigInt({ min: 0n, max: (1n << BigInt(bits - prefix)) - 1n }).map((h) => net | h),
      fc.integer({ min: 0, max: Math.max(prefix - 1, 0) }).map((i) => (prefix === 0 ? net : net ^ (1n << BigInt(bits - 1 - i)))),
      fc.bigInt({ min: 0n, max: bits === 32 ? V4_ALL : V6_ALL }),
    );

  it('IPv4: has() agrees with prefix arithmetic and with a BlockList of the same block; mapped IPv6 matches too', () => {
    const block = fc.tuple(v4Value, fc.integer({ min: 0, max: 32 })).chain(([a, p]) => fc.tuple(fc.constant(a), fc.constant(p), near(a, p, 32)));
    fc.assert(
      fc.property(block, ([a, prefix, addr]) => {
        const list = new CidrList([`${dotted(a)}/${prefix}`]);
        const ref = new BlockList();
        ref.addSubnet(dotted(prefix === 0 ? 0n : (a >> BigInt(32 - prefix)) << BigInt(32 - prefix)), prefix, 'ipv4');
        const expected = inPrefix(addr, a, prefix, 32);
        assert.equal(ref.check(dotted(addr), 'ipv4'), expected);
        assert.equal(list.has(dotted(addr)), expected, `${dotted(addr)} in ${dotted(a)}/${prefix}`);
        assert.equal(list.has(`::ffff:${dotted(addr)}`), expected, 'mapped form');
      }),
      RUNS,
    );
  });

  it('IPv6: has() agrees with prefix arithmetic and with a BlockList, for every spelling', () => {
    const block = fc.tuple(v6Value, fc.integer({ min: 0, max: 128 })).chain(([a, p]) => fc.tuple(fc.constant(a), fc.constant(p), near(a, p, 128), v6Style, v6Style));
    fc.assert(
      fc.property(block, ([a, prefix, addr, blockStyle, addrStyle]) => {
        const list = new CidrList([`${v6Text(a, blockStyle)}/${prefix}`]);
        const net = prefix === 0 ? 0n : (a >> BigInt(128 - prefix)) << BigInt(128 - prefix);
        const ref = new BlockList();
        ref.addSubnet(v6Text(net, 'full'), prefix, 'ipv6');
        const expected = inPrefix(addr, a, prefix, 128);
        const text = v6Text(addr, addrStyle);
        // BlockList relates IPv4-mapped addresses to IPv4 rules only; within IPv6 it is plain prefix matching.
        assert.equal(ref.check(text, 'ipv6'), expected, `BlockList: ${text}`);
        assert.equal(list.has(text), expected, `${text} in ${v6Text(a, blockStyle)}/${prefix}`);
      }),
      RUNS,
    );
  });

  it('non-addresses are never members, even of ::/0 and 0.0.0.0/0', () => {
    const all = new CidrList(['0.0.0.0/0', '::/0']);
    fc.assert(
      fc.property(addressish, (s) => {
        if (parseIp(s) === undefined) assert.equal(all.has(s), false, s);
        else assert.equal(all.has(s), true, s);
      }),
      RUNS,
    );
  });
});
