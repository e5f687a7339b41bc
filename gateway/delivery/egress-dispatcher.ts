/**
 * The undici dispatchers egress attempts go through. Every connection they open is vetted by
 * the SSRF guard at connect time: a blocked literal-IP host is refused before any socket exists,
 * and a hostname resolves through the guarded lookup, which refuses the connection if any
 * resolved address is blocked (so DNS rebinding stays blocked).
 *
 * One shared agent serves endpoints without TLS settings of their own. An endpoint with its own
 * CA, client certificate or servername gets its own agent: undici pools sockets per origin only,
 * so a shared agent would hand a socket opened with one endpoint's client certificate to another
 * endpoint on the same origin (and share TLS sessions across them).
 */
import { createHash } from 'node:crypto';
import type { LookupFunction, Socket } from 'node:net';
import { Agent, buildConnector, type Dispatcher } from 'undici';
import type { ClientTlsPem } from '../client-tls.js';

/** What the dispatchers need from the SSRF guard (an interface, so this file has no runtime import of ssrf.ts). */
export interface ConnectGuard {
  /** Guarded DNS lookup for `net.connect`/`tls.connect`. */
  readonly lookup: LookupFunction;
  /** The refusal for a host that is a blocked literal IP, or undefined to go on and connect. */
  refusal(host: string): Error | undefined;
}

export interface EgressDispatcherOptions {
  /** Sockets per origin, as `maxSockets` was for the node:http agents; undefined means no limit. */
  connections?: number;
  /** How many per-endpoint TLS agents are kept; the least recently used one is closed beyond that. */
  tlsAgents?: number;
}

/** Enough for every endpoint with its own TLS on a typical gateway; a miss only costs a new handshake. */
const DEFAULT_TLS_AGENTS = 64;

/** The error a connect cut by `connectTimeoutMs` fails with; the attempt reports it as its timeout. */
export const CONNECT_TIMEOUT = 'HG_EGRESS_CONNECT_TIMEOUT';

/**
 * A connector that asks the guard first. Node skips `lookup` for IP literals, so the literal check
 * here is what stops `https://127.0.0.1/`; names go through `lookup` inside net/tls.connect.
 *
 * undici's own connect timer is off (`timeout: 0`) and replaced by `limit()`, the longest attempt
 * deadline seen so far: undici gives an attempt that is still waiting for its connection no way
 * to cancel it, so a connect or TLS handshake that stalls must end by itself, but never before the
 * deadline of an attempt that may be waiting on it (a blackholed endpoint is a timeout, not a
 * connect error, as with node:http, which destroyed the socket at the deadline).
 */
function guardedConnector(guard: ConnectGuard, tls: ClientTlsPem | undefined, limit: () => number): buildConnector.connector {
  const base = buildConnector({
    lookup: guard.lookup,
    timeout: 0,
    ...(tls?.ca ? { ca: tls.ca } : {}),
    ...(tls?.cert ? { cert: tls.cert } : {}),
    ...(tls?.key ? { key: tls.key } : {}),
    ...(tls?.servername ? { servername: tls.servername } : {}),
  });
  return (options, callback) => {
    const refused = guard.refusal(options.hostname);
    if (refused) return callback(refused, null);
    const ms = limit();
    let timer: NodeJS.Timeout | undefined;
    // buildConnector's connect returns the socket it dials (its type says void).
    const socket = (base as unknown as (o: buildConnector.Options, cb: buildConnector.Callback) => Socket)(options, (...args) => {
      clearTimeout(timer);
      callback(...args);
    });
    timer = setTimeout(() => socket.destroy(Object.assign(new Error(`connect timed out after ${ms} ms`), { code: CONNECT_TIMEOUT })), ms);
  };
}

/** A cache key for a set of PEMs: a digest, so the map holds no second copy of key material. */
function tlsKey(tls: ClientTlsPem): string {
  const h = createHash('sha256');
  for (const part of [tls.ca, tls.cert, tls.key, tls.servername]) h.update(`${part?.length ?? -1}:${part ?? ''}`);
  return h.digest('base64');
}

/** The egress agents of one SSRF guard: created on first use, closed with the guard. */
export class EgressDispatchers {
  private shared: Agent | undefined;
  private readonly byTls = new Map<string, Agent>();
  private readonly maxTlsAgents: number;
  private closed = false;
  /** The longest attempt deadline seen: how long a connect may take (see guardedConnector). */
  private connectTimeoutMs = 1;

  constructor(
    private readonly guard: ConnectGuard,
    private readonly opts: EgressDispatcherOptions = {},
  ) {
    this.maxTlsAgents = opts.tlsAgents ?? DEFAULT_TLS_AGENTS;
  }

  private agent(tls: ClientTlsPem | undefined): Agent {
    return new Agent({
      connect: guardedConnector(this.guard, tls, () => this.connectTimeoutMs),
      // One request per socket at a time: pipelining would hold a webhook behind a slow one.
      pipelining: 1,
      ...(this.opts.connections !== undefined ? { connections: this.opts.connections } : {}),
    });
  }

  /**
   * The dispatcher for an attempt with these TLS settings (none: the shared agent) and deadline.
   * @throws Error once the guard is closed (the caller reports it as the attempt's error).
   */
  for(tls: ClientTlsPem | undefined, timeoutMs: number): Dispatcher {
    if (this.closed) throw new Error('the egress dispatcher is closed');
    if (timeoutMs > this.connectTimeoutMs) this.connectTimeoutMs = timeoutMs;
    if (!tls || (!tls.ca && !tls.cert && !tls.key && !tls.servername)) return (this.shared ??= this.agent(undefined));
    const key = tlsKey(tls);
    let a = this.byTls.get(key);
    if (a) {
      // Re-inserted so the Map's order is least recently used first.
      this.byTls.delete(key);
    } else {
      a = this.agent(tls);
      if (this.byTls.size >= this.maxTlsAgents) {
        const [oldKey, oldest] = this.byTls.entries().next().value!;
        this.byTls.delete(oldKey);
        // close(), not destroy(): attempts already dispatched on it still finish.
        oldest.close().catch(() => {});
      }
    }
    this.byTls.set(key, a);
    return a;
  }

  /** How many per-endpoint TLS agents are open (for tests of the bound). */
  get tlsAgentCount(): number {
    return this.byTls.size;
  }

  private take(): Agent[] {
    this.closed = true;
    const all = [...(this.shared ? [this.shared] : []), ...this.byTls.values()];
    this.shared = undefined;
    this.byTls.clear();
    return all;
  }

  /** Closes every agent once its in-flight attempts are done. */
  async close(): Promise<void> {
    await Promise.all(this.take().map((a) => a.close().catch(() => {})));
  }

  /** Destroys every agent and its sockets now (a snapshot that has drained has nothing in flight). */
  destroy(): void {
    for (const a of this.take()) a.destroy().catch(() => {});
  }
}
