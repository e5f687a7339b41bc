import type { IncomingHttpHeaders } from 'node:http';
import { canonicalIp, CidrList, formatIp, parseIp, unmapIpv4, type IpAddress } from './security/cidr.js';

/** Which request header carries the proxies' hop list. */
export type ForwardedHeader = 'x-forwarded-for' | 'forwarded';

/**
 * The client address of a request, as `listen.trustedProxies` says to find it. Compiled once
 * per snapshot and handed to every request's Context, which asks it once (on first use).
 *
 * The socket peer is the start. While the hop nearest to us is a trusted proxy, the entry that
 * proxy appended (the rightmost one not yet read) is believed; the first address that is not a
 * trusted proxy is the client. Entries left of it were written by the client itself (or by a
 * proxy we do not know) and are never believed. Only one header is walked: with both, a client
 * could write the one the proxy does not, and that would be read as the proxy's.
 */
export class ClientIpResolver {
  private readonly trusted: CidrList;

  /** @throws Error (from `parseCidr`) naming the first bad CIDR. */
  constructor(
    trustedProxies: readonly string[] = [],
    private readonly header: ForwardedHeader = 'x-forwarded-for',
  ) {
    this.trusted = new CidrList(trustedProxies);
  }

  /** The canonical client address; the peer text as it is when it is not an IP address. */
  resolve(peer: string, headers: IncomingHttpHeaders): string {
    const start = parseIp(peer);
    if (!start) return peer;
    let last = unmapIpv4(start);
    if (this.trusted.size === 0 || !this.trusted.hasAddress(last)) return formatIp(last);
    const hops = this.header === 'forwarded' ? forwardedFor(headers.forwarded) : forwardedForList(headers['x-forwarded-for']);
    for (let i = hops.length - 1; i >= 0; i--) {
      const hop = hops[i]!;
      if (hop === '') continue;
      const addr = parseHop(hop);
      // Garbage, `unknown` or an obfuscated node from a trusted proxy: stop at that proxy rather
      // than believe a string we cannot match.
      if (!addr) return formatIp(last);
      if (!this.trusted.hasAddress(addr)) return formatIp(addr);
      last = addr;
    }
    // Every hop is a trusted proxy: the leftmost one is the origin.
    return formatIp(last);
  }
}

/** The socket peer in canonical form, for a Context built without a resolver (tests, tools). */
export function peerAddress(peer: string): string {
  return canonicalIp(peer) ?? peer;
}

/** `X-Forwarded-For` entries left to right; several header lines are one list. */
function forwardedForList(raw: string | string[] | undefined): string[] {
  if (raw === undefined) return [];
  return (Array.isArray(raw) ? raw.join(',') : raw).split(',').map((s) => s.trim());
}

/**
 * RFC 7239 `Forwarded`: the `for=` value of each element, left to right. An element without
 * `for=` yields '-', which no address parses as, so the walk stops there. Quotes are dropped
 * while scanning (`for="[2001:db8::1]:80"`); commas and semicolons inside them do not split.
 */
export function forwardedFor(raw: string | string[] | undefined): string[] {
  if (raw === undefined) return [];
  const text = Array.isArray(raw) ? raw.join(',') : raw;
  const out: string[] = [];
  let element: string[] = [];
  let pair = '';
  let quoted = false;
  const endPair = () => {
    element.push(pair);
    pair = '';
  };
  const endElement = () => {
    endPair();
    let value = '-';
    for (const p of element) {
      const eq = p.indexOf('=');
      if (eq !== -1 && p.slice(0, eq).trim().toLowerCase() === 'for') value = p.slice(eq + 1).trim();
    }
    if (element.some((p) => p.trim() !== '')) out.push(value);
    element = [];
  };
  for (let i = 0; i < text.length; i++) {
    const c = text[i]!;
    if (quoted) {
      if (c === '\\' && i + 1 < text.length) pair += text[++i];
      else if (c === '"') quoted = false;
      else pair += c;
      continue;
    }
    if (c === '"') quoted = true;
    else if (c === ';') endPair();
    else if (c === ',') endElement();
    else pair += c;
  }
  endElement();
  return out;
}

/**
 * One hop as proxies write it: a bare address, `1.2.3.4:80`, `[2001:db8::1]` or
 * `[2001:db8::1]:80`. IPv4-mapped IPv6 is read as its IPv4 address.
 */
export function parseHop(hop: string): IpAddress | undefined {
  let s = hop.trim();
  if (s.startsWith('[')) {
    const close = s.indexOf(']');
    if (close === -1) return undefined;
    const rest = s.slice(close + 1);
    if (rest !== '' && !/^:\d{1,5}$/.test(rest)) return undefined;
    s = s.slice(1, close);
  } else {
    const v4Port = /^(\d{1,3}(?:\.\d{1,3}){3}):\d{1,5}$/.exec(s);
    if (v4Port) s = v4Port[1]!;
  }
  // A zone id names an interface of the proxy's host, not a client: refuse rather than guess.
  if (s.includes('%')) return undefined;
  const addr = parseIp(s);
  return addr ? unmapIpv4(addr) : undefined;
}
