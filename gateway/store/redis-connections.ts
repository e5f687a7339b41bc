import type { Redis } from 'ioredis';
import type { RedisConnectionKind } from './redis-connection.js';
import { endedForGood } from './redis-revive.js';
import { connectRedis, isCluster, type RedisTarget } from './redis-topology.js';

/**
 * Every Redis connection one hookgate process opened to its store's Redis, made here and tracked
 * until it ends, so readiness is one question: is each of them ready? A request that finds a
 * connection still connecting fails (fail-fast: no offline queue) or waits (the replica WAIT), so
 * `/readyz` must not answer 200 while any is: the store's own, the replica WAIT's, the delivery
 * queue's. On Cluster, `ready` also means the slots are loaded (ioredis turns a Cluster client
 * ready only after its first slot refresh and CLUSTER INFO).
 */
export class RedisConnections {
  private readonly open = new Map<Redis, string>();

  constructor(private readonly target: RedisTarget) {}

  /** Opens a connection (see {@link connectRedis}); `purpose` names it in readiness messages. */
  connect(kind: RedisConnectionKind, purpose: string, autoPipelining = false): Redis {
    const conn = connectRedis(this.target, kind, { autoPipelining });
    this.open.set(conn, purpose);
    // A connection closed on purpose (disconnect, quit) no longer counts; one that ioredis ended
    // on its own is connected again (reviveOnUnexpectedEnd) and stays not ready until it is.
    conn.on('end', () => {
      if (endedForGood(conn)) this.open.delete(conn);
    });
    return conn;
  }

  /** The connections not ready now, as `<purpose> <status>` (empty when all are). */
  notReady(): string[] {
    const out: string[] = [];
    for (const [conn, purpose] of this.open) {
      if (conn.status !== 'ready') out.push(`${purpose} ${conn.status}`);
      else if (isCluster(conn) && (conn as unknown as { slots: unknown[] }).slots.length === 0) out.push(`${purpose} without slots`);
    }
    return out;
  }

  /** Throws HG_NOT_READY's detail when a connection is not ready. */
  checkReady(): void {
    const bad = this.notReady();
    if (bad.length) throw new Error(`redis connection not ready: ${bad.join(', ')}`);
  }

  /** How many are open (for tests and logs). */
  get size(): number {
    return this.open.size;
  }
}
