import { CidrList, definePlugin, Errors, formatIpv4, mappedIpv4, normalizeIpText, parseIp, type Context, type IpAddress } from '../../gateway/plugin-api.js';

/**
 * `ip-filter`: allow / deny by client address (IPv4 and IPv6 CIDRs).
 *
 * The client address is the socket peer, unless that peer is a trusted proxy: then
 * `X-Forwarded-For` is walked from the right (the entry the nearest proxy appended), skipping
 * trusted proxies, and the first untrusted entry is the client. Entries left of it were written
 * by the client itself and are never believed. The resolved address is stored in
 * `ctx.state.clientIp` for later plugins (e.g. rate limiting by IP), even when no list is set.
 */

export interface IpFilterParams {
  /** When non-empty, only these blocks may pass. */
  allow: string[];
  /** These blocks never pass; deny wins over allow. */
  deny: string[];
  /** Peers whose `X-Forwarded-For` is believed. */
  trustedProxies: string[];
}

/** An address as text with IPv4 mapping (`::ffff:1.2.3.4`) undone, plus its parsed form. */
interface ClientAddress {
  text: string;
  addr: IpAddress;
}

/**
 * Parses one address as it may appear in a socket or an `X-Forwarded-For` entry:
 * bare, bracketed (`[::1]`), with a port (`1.2.3.4:80`, `[::1]:80`) or a zone id.
 */
function parseClient(raw: string): ClientAddress | undefined {
  let s = raw.trim();
  const v4Port = /^(\d{1,3}(?:\.\d{1,3}){3}):\d{1,5}$/.exec(s);
  if (v4Port) s = v4Port[1]!;
  const v6Port = /^\[([^\]]+)\]:\d{1,5}$/.exec(s);
  if (v6Port) s = v6Port[1]!;
  const addr = parseIp(s);
  if (!addr) return undefined;
  const v4 = mappedIpv4(addr);
  if (v4 !== undefined) return { text: formatIpv4(v4), addr: { family: 4, value: v4 } };
  return { text: addr.family === 4 ? normalizeIpText(s) : normalizeIpText(s).toLowerCase(), addr };
}

function cidrList(field: string, cidrs: readonly string[]): CidrList {
  try {
    return new CidrList(cidrs);
  } catch (err) {
    throw new Error(`ip-filter: ${field}: ${(err as Error).message}`);
  }
}

export const ipFilterPlugin = definePlugin<IpFilterParams>({
  name: 'ip-filter',
  schema: {
    type: 'object',
    additionalProperties: false,
    properties: {
      allow: { type: 'array', items: { type: 'string', minLength: 1 }, default: [] },
      deny: { type: 'array', items: { type: 'string', minLength: 1 }, default: [] },
      trustedProxies: { type: 'array', items: { type: 'string', minLength: 1 }, default: [] },
    },
  },

  create(params) {
    const allow = cidrList('allow', params.allow);
    const deny = cidrList('deny', params.deny);
    const trusted = cidrList('trustedProxies', params.trustedProxies);

    /** The client address, or undefined when the socket address is not an IP (then nothing is believed). */
    function resolveClient(ctx: Context): ClientAddress | undefined {
      const peer = parseClient(ctx.remoteAddress);
      if (!peer || trusted.size === 0 || !trusted.hasAddress(peer.addr)) return peer;

      const raw = ctx.req.headers['x-forwarded-for'];
      const xff = Array.isArray(raw) ? raw.join(',') : raw;
      if (!xff) return peer;
      const hops = xff.split(',');
      // `last` is the nearest hop resolved so far; a trusted proxy vouches for the entry to its left.
      let last = peer;
      for (let i = hops.length - 1; i >= 0; i--) {
        const hop = hops[i]!.trim();
        if (hop === '') continue;
        const entry = parseClient(hop);
        // Garbage from a trusted proxy: stop at the proxy itself rather than trust a string we cannot match.
        if (!entry) return last;
        if (!trusted.hasAddress(entry.addr)) return entry;
        last = entry;
      }
      // Every hop is a trusted proxy: the leftmost one is the origin.
      return last;
    }

    return {
      onRequest(ctx) {
        const client = resolveClient(ctx);
        ctx.state.clientIp = client ? client.text : ctx.remoteAddress;
        if (deny.size === 0 && allow.size === 0) return;
        // Fail closed: an address we cannot parse (e.g. the socket is already gone) cannot be checked.
        if (!client || deny.hasAddress(client.addr) || (allow.size > 0 && !allow.hasAddress(client.addr)))
          throw Errors.IP_FORBIDDEN();
      },
    };
  },
});
