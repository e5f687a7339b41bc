/**
 * SSRF guard for egress: decides which destination addresses hookgate may connect to.
 *
 * The decision is made at connect time, on the address actually being dialled (after DNS),
 * so a hostname that resolves to a public address at config time and to 127.0.0.1 later
 * (DNS rebinding) is still refused. `checkUrl` is only an early, friendlier check for config
 * and API validation; the agents are what enforce the policy.
 *
 * Policy: IPv4 is allowed unless it is in a special-purpose range (RFC 6890 registry).
 * IPv6 is allowed only inside global unicast 2000::/3 minus special ranges, plus the forms
 * that embed an IPv4 address (mapped, NAT64, 6to4), which are judged by the embedded IPv4.
 * Operators can punch holes with `egress.allowCidrs`.
 */
import dns from 'node:dns';
import http from 'node:http';
import https from 'node:https';
import { isIP, type LookupFunction } from 'node:net';
import type { Duplex } from 'node:stream';
import type { Dispatcher } from 'undici';
import type { ClientTlsPem } from '../client-tls.js';
import { Errors, GatewayError } from '../errors.js';
import { CidrList, formatIpv4, mappedIpv4, parseIp, type IpAddress } from '../security/cidr.js';
import { redactSecrets } from '../security/redact.js';
import { EgressDispatchers } from './egress-dispatcher.js';

/** Result of classifying a destination address. `reason` is a short label, 'public' when allowed. */
export interface AddressClass {
  blocked: boolean;
  reason: string;
}

/** The config setting that lets operators allow blocked ranges; named in every refusal. */
export const ALLOW_SETTING = 'egress.allowCidrs';

type Range = readonly [CidrList, string];
const range = (cidr: string, reason: string): Range => [new CidrList([cidr]), reason];

/** IPv4 special-purpose ranges. First match wins, so more specific entries come first. */
const V4_RANGES: readonly Range[] = [
  range('0.0.0.0/32', 'unspecified'),
  range('0.0.0.0/8', 'reserved'), // "this network"
  range('10.0.0.0/8', 'private'),
  range('100.64.0.0/10', 'cgnat'),
  range('127.0.0.0/8', 'loopback'),
  range('169.254.0.0/16', 'link-local'),
  range('172.16.0.0/12', 'private'),
  range('192.0.0.0/24', 'reserved'), // IETF protocol assignments
  range('192.0.2.0/24', 'reserved'), // TEST-NET-1
  range('192.88.99.0/24', 'reserved'), // deprecated 6to4 relay anycast
  range('192.168.0.0/16', 'private'),
  range('198.18.0.0/15', 'reserved'), // benchmarking
  range('198.51.100.0/24', 'reserved'), // TEST-NET-2
  range('203.0.113.0/24', 'reserved'), // TEST-NET-3
  range('224.0.0.0/4', 'multicast'),
  range('240.0.0.0/4', 'reserved'), // includes 255.255.255.255 (limited broadcast)
];

/** IPv6 ranges that are decided without looking at an embedded IPv4. */
const V6_RANGES: readonly Range[] = [
  range('::/128', 'unspecified'),
  range('::1/128', 'loopback'),
  range('fc00::/7', 'private'), // unique local
  range('fe80::/10', 'link-local'),
  range('fec0::/10', 'private'), // deprecated site-local
  range('ff00::/8', 'multicast'),
  range('2001::/32', 'teredo'), // tunnels to an (obfuscated) IPv4 we can't vet
  range('2001::/23', 'reserved'), // IETF protocol assignments (ORCHID, benchmarking, AMT, ...)
  range('2001:db8::/32', 'reserved'), // documentation
  range('3fff::/20', 'reserved'), // documentation (RFC 9637)
];

// IPv6-only blocks: they are only ever asked about IPv6 addresses, so the IPv4 mapping of
// `CidrList` never applies to them. The mapped prefix (::ffff:0:0/96) is `mappedIpv4`.
const GLOBAL_UNICAST = new CidrList(['2000::/3']);
const COMPATIBLE = new CidrList(['::/96']);
const NAT64_WKP = new CidrList(['64:ff9b::/96']);
const NAT64_LOCAL = new CidrList(['64:ff9b:1::/48']);
const NAT64_LOCAL_96 = new CidrList(['64:ff9b:1::/96']);
const SIX_TO_FOUR = new CidrList(['2002::/16']);

function match(ranges: readonly Range[], addr: IpAddress): string | undefined {
  for (const [blocks, reason] of ranges) if (blocks.hasAddress(addr)) return reason;
  return undefined;
}

function classifyV4(value: bigint): AddressClass {
  const reason = match(V4_RANGES, { family: 4, value });
  return reason ? { blocked: true, reason } : { blocked: false, reason: 'public' };
}

/** Judges an IPv6 address that carries an IPv4 address by that IPv4; labels say which form it was. */
function embedded(kind: string, v4: bigint): AddressClass {
  const inner = classifyV4(v4);
  return inner.blocked ? { blocked: true, reason: `${kind}-embedded-${inner.reason}` } : inner;
}

function classifyParsed(addr: IpAddress): AddressClass {
  if (addr.family === 4) return classifyV4(addr.value);
  const v = addr.value;
  const low32 = v & 0xffffffffn;
  const fixed = match(V6_RANGES, addr);
  if (fixed) return { blocked: true, reason: fixed };
  const mapped = mappedIpv4(addr);
  if (mapped !== undefined) return embedded('ipv4-mapped', mapped);
  if (COMPATIBLE.hasAddress(addr)) {
    // Deprecated since RFC 4291 and never a legitimate destination: always refused.
    const inner = classifyV4(low32);
    return { blocked: true, reason: inner.blocked ? `ipv4-compatible-embedded-${inner.reason}` : 'ipv4-compatible' };
  }
  if (NAT64_WKP.hasAddress(addr)) return embedded('nat64', low32);
  if (NAT64_LOCAL.hasAddress(addr)) {
    // The local-use prefix may be deployed at /48../96 and the IPv4 sits at a different offset
    // for each. Only the /96 form (IPv4 in the last 32 bits, middle bits zero) can be judged;
    // anything else is refused rather than guessed.
    return NAT64_LOCAL_96.hasAddress(addr) ? embedded('nat64', low32) : { blocked: true, reason: 'nat64-local-use' };
  }
  if (SIX_TO_FOUR.hasAddress(addr)) return embedded('6to4', (v >> 80n) & 0xffffffffn);
  if (!GLOBAL_UNICAST.hasAddress(addr)) return { blocked: true, reason: 'reserved' };
  return { blocked: false, reason: 'public' };
}

/**
 * Classifies a destination address. Pure; never touches the network.
 * Anything that is not an IP address is blocked with reason 'invalid' (fail closed).
 */
export function classifyAddress(ip: string): AddressClass {
  const addr = parseIp(ip);
  return addr ? classifyParsed(addr) : { blocked: true, reason: 'invalid' };
}

/** The single-host CIDR to suggest for `egress.allowCidrs` (mapped IPv6 suggests the IPv4). */
function suggestion(ip: string): string {
  const addr = parseIp(ip);
  const mapped = addr && mappedIpv4(addr);
  if (mapped !== undefined) return `${formatIpv4(mapped)}/32`;
  return addr?.family === 4 ? `${ip}/32` : `${ip}/128`;
}

function blockedMessage(ip: string, reason: string, host?: string): string {
  const from = host && host !== ip ? ` (resolved from "${host}")` : '';
  return (
    `destination ${ip}${from} is blocked by the SSRF guard (${reason}); ` +
    `to allow it, add "${suggestion(ip)}" to ${ALLOW_SETTING}`
  );
}

function blockedError(ip: string, reason: string, host?: string): GatewayError {
  return Errors.ENDPOINT_URL_BLOCKED(blockedMessage(ip, reason, host));
}

/** Strips URL brackets from an IPv6 host. */
function bareHost(host: string): string {
  return host.startsWith('[') && host.endsWith(']') ? host.slice(1, -1) : host;
}

function isLocalhostName(host: string): boolean {
  const h = host.toLowerCase().replace(/\.$/, '');
  return h === 'localhost' || h.endsWith('.localhost'); // RFC 6761: all of *.localhost is loopback
}

export interface SsrfGuardOptions {
  /** CIDRs (or bare IPs) that are allowed even though they would be blocked. `egress.allowCidrs`. */
  allowCidrs?: string[];
  /** Agent options for the keep-alive agents (keepAlive is always on); `maxSockets` also caps the undici egress sockets per origin. */
  agentOptions?: http.AgentOptions;
}

type CreateConnectionCallback = (err: Error | null, stream: Duplex) => void;
type ConnectionOptions = http.ClientRequestArgs & { lookup?: LookupFunction };

/**
 * Refuses literal-IP destinations before connecting. Node skips `lookup` when the host is
 * already an IP, so the guarded lookup alone would let `http://127.0.0.1/` through.
 * Returns the error to report, or undefined to proceed.
 */
function refuseLiteral(guard: SsrfGuard, options: ConnectionOptions): GatewayError | undefined {
  if (options.socketPath) {
    return Errors.ENDPOINT_URL_BLOCKED('unix socket destinations are not allowed for egress');
  }
  return guard.refusal(String(options.host ?? options.hostname ?? 'localhost'));
}

/**
 * Reports a refusal through the Agent's callback. Throwing would escape synchronously from
 * `http.request()`; the callback makes it an 'error' event on the request, like any connect error.
 */
function fail(err: Error, cb: CreateConnectionCallback | undefined): undefined {
  if (cb) {
    cb(err, undefined as unknown as Duplex);
    return undefined;
  }
  throw err;
}

/**
 * The guarded version of an Agent class (`http.Agent` or `https.Agent`): every connection it
 * opens resolves through the guarded lookup, and a blocked literal-IP host is refused before
 * any socket (or TLS) exists.
 */
function guardedAgentClass<O, A extends http.Agent>(Base: new (opts: O) => A): new (guard: SsrfGuard, opts: O) => A {
  class GuardedAgent extends (Base as new (opts: O) => http.Agent) {
    constructor(
      private readonly guard: SsrfGuard,
      opts: O,
    ) {
      super(opts);
    }
    override createConnection(options: ConnectionOptions, cb?: CreateConnectionCallback): Duplex | null | undefined {
      const err = refuseLiteral(this.guard, options);
      if (err) return fail(err, cb);
      return super.createConnection({ ...options, lookup: this.guard.lookup } as http.ClientRequestArgs, cb);
    }
  }
  return GuardedAgent as unknown as new (guard: SsrfGuard, opts: O) => A;
}

const GuardedHttpAgent = guardedAgentClass(http.Agent);
const GuardedHttpsAgent = guardedAgentClass(https.Agent);

/**
 * Egress SSRF policy plus the plumbing that enforces it.
 *
 * - `check(ip)`: the classification with `allowCidrs` applied.
 * - `lookup`: a `net`/`http` `lookup` that resolves all addresses and refuses the connection
 *   (error code HG_ENDPOINT_URL_BLOCKED) if ANY of them is blocked — with Happy Eyeballs
 *   (`autoSelectFamily`) Node may dial any of them, and a mixed answer is itself suspicious.
 * - `dispatcher(tls)`: the undici agent egress attempts go through (one per set of endpoint TLS
 *   settings); its connector refuses blocked literal-IP hosts and resolves names through `lookup`.
 * - `httpAgent` / `httpsAgent`: node:http keep-alive agents with the same two checks, for callers
 *   that still use node:http.
 * - `checkUrl(url)`: early validation for config/API input.
 */
export class SsrfGuard {
  readonly allow: CidrList;
  readonly httpAgent: http.Agent;
  readonly httpsAgent: https.Agent;
  private readonly egress: EgressDispatchers;

  /** @throws Error if an allowCidrs entry is not a valid CIDR. */
  constructor(opts: SsrfGuardOptions = {}) {
    this.allow = new CidrList(opts.allowCidrs ?? []);
    const agentOptions = { ...opts.agentOptions, keepAlive: true };
    this.httpAgent = new GuardedHttpAgent(this, agentOptions);
    this.httpsAgent = new GuardedHttpsAgent(this, agentOptions);
    const max = opts.agentOptions?.maxSockets;
    this.egress = new EgressDispatchers(this, max !== undefined && Number.isFinite(max) ? { connections: max } : {});
  }

  /**
   * The undici dispatcher for an egress attempt with these endpoint TLS settings and deadline
   * (a connect may take as long as the longest deadline asked for).
   * @throws Error once the guard is closed.
   */
  dispatcher(tls: ClientTlsPem | undefined, timeoutMs: number): Dispatcher {
    return this.egress.for(tls, timeoutMs);
  }

  /** The refusal (HG_ENDPOINT_URL_BLOCKED) for a host that is a blocked literal IP; undefined for names and allowed IPs. */
  refusal(host: string): GatewayError | undefined {
    const ip = bareHost(host);
    if (isIP(ip) === 0) return undefined;
    const c = this.check(ip);
    return c.blocked ? blockedError(ip, c.reason) : undefined;
  }

  /** Classifies `ip`, letting `allowCidrs` override a block (reason then ends in '(allowed)'). */
  check(ip: string): AddressClass {
    const addr = parseIp(ip);
    if (!addr) return { blocked: true, reason: 'invalid' };
    const c = classifyParsed(addr);
    if (c.blocked && this.allow.hasAddress(addr)) return { blocked: false, reason: `${c.reason} (allowed)` };
    return c;
  }

  /**
   * Guarded DNS lookup for the `lookup` option of `net.connect`/`http.Agent`. Honours
   * `options.all` (Happy Eyeballs asks for all addresses; otherwise the first is returned).
   */
  readonly lookup: LookupFunction = (hostname, options, callback) => {
    const opts = typeof options === 'object' && options !== null ? options : {};
    dns.lookup(hostname, { ...opts, all: true }, (err, addresses) => {
      if (err) return callback(err, '', 0);
      if (addresses.length === 0) {
        const e: NodeJS.ErrnoException = new Error(`no addresses for "${hostname}"`);
        e.code = 'ENOTFOUND';
        return callback(e, '', 0);
      }
      for (const a of addresses) {
        const c = this.check(a.address);
        if (c.blocked) return callback(blockedError(a.address, c.reason, hostname), '', 0);
      }
      if (opts.all) return callback(null, addresses);
      const first = addresses[0]!;
      return callback(null, first.address, first.family);
    });
  };

  /**
   * Validates an endpoint URL without resolving it.
   * @throws GatewayError HG_ENDPOINT_URL_INVALID (400) for unparsable or non-http(s) URLs.
   * @throws GatewayError HG_ENDPOINT_URL_BLOCKED (400) when the host is a blocked literal IP or a
   *   localhost name; the message names the address, the reason and the `egress.allowCidrs` fix.
   */
  checkUrl(url: string): void {
    let u: URL;
    try {
      u = new URL(url);
    } catch {
      throw Errors.ENDPOINT_URL_INVALID(`endpoint URL ${JSON.stringify(redactSecrets(url))} is not a valid absolute URL`);
    }
    if (u.protocol !== 'http:' && u.protocol !== 'https:') {
      throw Errors.ENDPOINT_URL_INVALID(`endpoint URL scheme "${u.protocol.replace(/:$/, '')}" is not allowed; use http or https`);
    }
    const host = bareHost(u.hostname);
    if (host === '') throw Errors.ENDPOINT_URL_INVALID(`endpoint URL ${JSON.stringify(redactSecrets(url))} has no host`);
    if (isIP(host)) {
      const c = this.check(host);
      if (c.blocked) throw blockedError(host, c.reason);
      return;
    }
    // localhost never reaches DNS in most resolvers, so refuse it up front unless loopback is allowed.
    // The connect-time lookup still checks every address it resolves to.
    if (isLocalhostName(host) && this.check('127.0.0.1').blocked && this.check('::1').blocked) {
      throw Errors.ENDPOINT_URL_BLOCKED(
        `destination host "${host}" is blocked by the SSRF guard (loopback); ` +
          `to allow it, add "127.0.0.1/32" and "::1/128" to ${ALLOW_SETTING}`,
      );
    }
  }

  /** Destroys the sockets of every agent, node:http and undici (call once nothing is in flight). */
  destroy(): void {
    this.httpAgent.destroy();
    this.httpsAgent.destroy();
    this.egress.destroy();
  }

  /** Like `destroy`, but lets in-flight undici attempts finish first. */
  async close(): Promise<void> {
    this.httpAgent.destroy();
    this.httpsAgent.destroy();
    await this.egress.close();
  }
}
