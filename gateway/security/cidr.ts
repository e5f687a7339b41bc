/**
 * IPv4/IPv6 addresses and CIDR blocks.
 *
 * Addresses are parsed into `{ family, value }` where `value` is the address as an unsigned
 * integer (32 bits for IPv4, 128 bits for IPv6), for the callers that read bits out of an address
 * (the IPv4 inside an IPv6 one). Validation is delegated to `node:net` `isIP` so we accept exactly
 * what Node's sockets accept; the parsers below only run on input that already passed it.
 * Membership is `node:net` `BlockList`'s.
 */
import { BlockList, isIP } from 'node:net';

/** A parsed IP address. */
export interface IpAddress {
  family: 4 | 6;
  /** The address as an unsigned integer (32 or 128 bits). */
  value: bigint;
}

/** A parsed CIDR block. `network` has its host bits cleared. */
export interface Cidr {
  family: 4 | 6;
  network: bigint;
  /** Prefix length: 0..32 (IPv4) or 0..128 (IPv6). */
  prefix: number;
}

const V4_BITS = 32;
const V6_BITS = 128;
const V4_ALL = (1n << 32n) - 1n;
const V6_ALL = (1n << 128n) - 1n;

/**
 * Strips what commonly surrounds an address but is not part of it: URL brackets (`[::1]`)
 * and an IPv6 zone id (`fe80::1%eth0` — the zone selects an interface, not an address).
 */
export function normalizeIpText(ip: string): string {
  let s = ip.trim();
  if (s.startsWith('[') && s.endsWith(']')) s = s.slice(1, -1);
  const zone = s.indexOf('%');
  if (zone !== -1 && s.includes(':')) s = s.slice(0, zone);
  return s;
}

function parseV4(s: string): bigint {
  let v = 0n;
  for (const part of s.split('.')) v = (v << 8n) | BigInt(Number(part));
  return v;
}

function parseV6(s: string): bigint {
  // A trailing dotted quad (::ffff:1.2.3.4) stands for the last two 16-bit groups.
  let tail: number[] = [];
  const lastColon = s.lastIndexOf(':');
  if (s.includes('.', lastColon)) {
    const v4 = Number(parseV4(s.slice(lastColon + 1)));
    tail = [v4 >>> 16, v4 & 0xffff];
    s = s.slice(0, lastColon + 1);
    // "::1.2.3.4" leaves "::", "a::1.2.3.4" leaves "a::", "a:b:1.2.3.4" leaves "a:b:" — drop the dangling colon.
    if (!s.endsWith('::')) s = s.slice(0, -1);
  }
  const groups = (part: string): number[] => (part === '' ? [] : part.split(':').map((g) => parseInt(g, 16)));
  let words: number[];
  const gap = s.indexOf('::');
  if (gap === -1) {
    words = [...groups(s), ...tail];
  } else {
    const head = groups(s.slice(0, gap));
    const rest = [...groups(s.slice(gap + 2)), ...tail];
    words = [...head, ...new Array<number>(8 - head.length - rest.length).fill(0), ...rest];
  }
  let v = 0n;
  for (const w of words) v = (v << 16n) | BigInt(w);
  return v;
}

/**
 * Parses an IPv4 or IPv6 address (brackets and zone ids are tolerated).
 * Returns `undefined` when the text is not an IP address.
 */
export function parseIp(ip: string): IpAddress | undefined {
  const s = normalizeIpText(ip);
  const family = isIP(s);
  if (family === 4) return { family: 4, value: parseV4(s) };
  if (family === 6) return { family: 6, value: parseV6(s) };
  return undefined;
}

/** Formats a 32-bit integer as dotted-quad IPv4. */
export function formatIpv4(value: bigint): string {
  const n = Number(value & V4_ALL);
  return `${n >>> 24}.${(n >>> 16) & 255}.${(n >>> 8) & 255}.${n & 255}`;
}

/**
 * Formats a 128-bit integer as IPv6 in RFC 5952 form: lower case, no leading zeros, the longest
 * run of two or more zero groups (the first of equal runs) compressed to `::`.
 */
function formatIpv6(value: bigint): string {
  const words: number[] = [];
  for (let i = 7; i >= 0; i--) words.push(Number((value >> BigInt(i * 16)) & 0xffffn));
  let best = -1;
  let bestLen = 1; // a single zero group is not compressed (RFC 5952 §4.2.2)
  for (let i = 0; i < 8; ) {
    if (words[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && words[j] === 0) j++;
    if (j - i > bestLen) [best, bestLen] = [i, j - i];
    i = j;
  }
  const hex = (ws: number[]) => ws.map((w) => w.toString(16)).join(':');
  if (best === -1) return hex(words);
  return `${hex(words.slice(0, best))}::${hex(words.slice(best + bestLen))}`;
}

/** Formats a parsed address: dotted quad, or IPv6 in RFC 5952 form. */
export function formatIp(addr: IpAddress): string {
  return addr.family === 4 ? formatIpv4(addr.value) : formatIpv6(addr.value);
}

/**
 * The one spelling of an address that logs, rate-limit keys and ip-filter decisions use: IPv4
 * as a dotted quad, IPv4-mapped IPv6 (`::ffff:1.2.3.4`, how a dual-stack socket reports IPv4
 * peers) as that IPv4, other IPv6 in RFC 5952 form. Undefined when `ip` is not an address.
 */
export function canonicalIp(ip: string): string | undefined {
  const addr = parseIp(ip);
  return addr ? formatIp(unmapIpv4(addr)) : undefined;
}

/** `addr` itself, or the IPv4 address inside it when it is IPv4-mapped IPv6. */
export function unmapIpv4(addr: IpAddress): IpAddress {
  const v4 = mappedIpv4(addr);
  return v4 === undefined ? addr : { family: 4, value: v4 };
}

/** `addr` with the bits beyond `prefix` cleared (`2001:db8::1` /64 → `2001:db8::`). */
export function maskIp(addr: IpAddress, prefix: number): IpAddress {
  return { family: addr.family, value: addr.value & maskOf(addr.family === 4 ? V4_BITS : V6_BITS, prefix) };
}

/** If `addr` is IPv4-mapped IPv6 (`::ffff:a.b.c.d`), the embedded IPv4 as an integer. */
export function mappedIpv4(addr: IpAddress): bigint | undefined {
  if (addr.family !== 6) return undefined;
  return addr.value >> 32n === 0xffffn ? addr.value & V4_ALL : undefined;
}

function maskOf(bits: number, prefix: number): bigint {
  const all = bits === V4_BITS ? V4_ALL : V6_ALL;
  return prefix === 0 ? 0n : (all << BigInt(bits - prefix)) & all;
}

/**
 * Parses `a.b.c.d/n`, `x:y::z/n` or a bare address (meaning /32 or /128).
 * Host bits beyond the prefix are cleared (`10.1.2.3/8` is `10.0.0.0/8`).
 * @throws Error describing what is wrong with the input.
 */
export function parseCidr(s: string): Cidr {
  if (typeof s !== 'string') throw new Error(`invalid CIDR ${JSON.stringify(s)}: expected a string`);
  const text = s.trim();
  const slash = text.indexOf('/');
  const addrText = slash === -1 ? text : text.slice(0, slash);
  const addr = parseIp(addrText);
  if (!addr || addrText.includes('%')) {
    throw new Error(`invalid CIDR "${s}": "${addrText}" is not an IPv4 or IPv6 address`);
  }
  const bits = addr.family === 4 ? V4_BITS : V6_BITS;
  let prefix = bits;
  if (slash !== -1) {
    const p = text.slice(slash + 1);
    if (!/^\d{1,3}$/.test(p) || Number(p) > bits) {
      throw new Error(`invalid CIDR "${s}": prefix length must be an integer 0..${bits}`);
    }
    prefix = Number(p);
  }
  return { family: addr.family, network: addr.value & maskOf(bits, prefix), prefix };
}

/** Formats a CIDR back to text (`10.0.0.0/8`, `fc00::/7`). */
export function formatCidr(cidr: Cidr): string {
  return `${formatIp({ family: cidr.family, value: cidr.network })}/${cidr.prefix}`;
}

/**
 * A set of CIDR blocks with membership tests, on a `node:net` `BlockList`.
 *
 * IPv4-mapped IPv6 addresses (`::ffff:1.2.3.4`) match IPv4 blocks, and IPv4 addresses match
 * IPv6 blocks through their mapped form, because a dual-stack socket reports IPv4 peers that way
 * and both spellings reach the same host. `BlockList` matches across the two families exactly so.
 */
export class CidrList {
  private readonly blocks = new BlockList();
  private count = 0;

  /** @throws Error (from `parseCidr`) naming the first bad entry. */
  constructor(cidrs: readonly string[] = []) {
    for (const c of cidrs) {
      const parsed = parseCidr(c);
      this.blocks.addSubnet(formatIp({ family: parsed.family, value: parsed.network }), parsed.prefix, familyName(parsed.family));
      this.count++;
    }
  }

  /** Number of blocks in the list. */
  get size(): number {
    return this.count;
  }

  /** True if `ip` falls in any block. Non-IP input is never a member. */
  has(ip: string): boolean {
    const addr = parseIp(ip);
    if (!addr) return false;
    return this.hasAddress(addr);
  }

  /** Like `has` for an already-parsed address. */
  hasAddress(addr: IpAddress): boolean {
    return this.blocks.check(formatIp(addr), familyName(addr.family));
  }
}

function familyName(family: 4 | 6): 'ipv4' | 'ipv6' {
  return family === 4 ? 'ipv4' : 'ipv6';
}
