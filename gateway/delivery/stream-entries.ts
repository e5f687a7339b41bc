/** Small helpers of the stream queue (stream-queue.ts): reading entries, the heartbeat's claims, promotion, its stats, and two utilities. */
import type { Redis } from 'ioredis';
import type { Scripted } from './stream-settles.js';
import type { QueueStats } from './queue.js';
import { GROUP, type QueueKeys } from './stream-scripts.js';

/** A field of a stream entry (`[name, value, name, value, ...]`), '' when absent. */
export function field(f: string[], name: string): string {
  for (let i = 0; i < f.length; i += 2) if (f[i] === name) return f[i + 1]!;
  return '';
}

/** Since when an entry has been due (ms): its field `w`, else the time in its id. */
export function sinceOf(id: string, f: string[]): number {
  return Number(field(f, 'w')) || Number(id.slice(0, id.indexOf('-')));
}

/** `a` rotated left by `by`. */
export function rotate<T>(a: T[], by: number): T[] {
  return [...a.slice(by), ...a.slice(0, by)];
}

/** Waits for `p` (either way) or `ms`, whichever comes first. */
export async function withDeadline(p: Promise<unknown>, ms: number): Promise<void> {
  let t: NodeJS.Timeout | undefined;
  await Promise.race([p.catch(() => {}), new Promise((r) => (t = setTimeout(r, ms)))]);
  clearTimeout(t);
}

/**
 * What a queue holds: entries in the lane streams (waiting, running included) and ordered
 * deliveries behind their key's head (waiting too), retries in the
 * delayed set, and per tenant the age of the oldest entry in its lanes (its field `w` when set).
 */
export async function queueStats(r: Redis, keys: QueueKeys, known: Iterable<string>, now: number): Promise<QueueStats> {
  const tenants = [...new Set([...known, ...((await r.smembers(keys.lanes)) as string[])])];
  const lagSeconds: Record<string, number> = {};
  let waiting = 0;
  await Promise.all(
    tenants.flatMap((tenant) =>
      [keys.first(tenant), keys.retry(tenant)].map(async (key) => {
        const [len, oldest] = await Promise.all([r.xlen(key), r.xrange(key, '-', '+', 'COUNT', 1)]);
        waiting += len;
        const first = oldest[0];
        if (first) lagSeconds[tenant] = Math.max(lagSeconds[tenant] ?? 0, Math.max(0, (now - sinceOf(first[0], first[1])) / 1000));
      }),
    ),
  );
  const [delayed, behind] = await Promise.all([r.zcard(keys.delayed), r.get(keys.orderedWaiting)]);
  return { waiting: waiting + Math.max(0, Number(behind) || 0), delayed, lagSeconds };
}

/** Claims `entries` for `consumer` again, so no other worker takes over a job that is running (the heartbeat). */
export async function claimAgain(r: Redis, consumer: string, entries: Iterable<{ key: string; id: string }>): Promise<void> {
  const byKey = new Map<string, string[]>();
  for (const e of entries) {
    const ids = byKey.get(e.key) ?? [];
    ids.push(e.id);
    byKey.set(e.key, ids);
  }
  const calls: Promise<unknown>[] = [];
  for (const [key, ids] of byKey) {
    for (let i = 0; i < ids.length; i += 500) calls.push(r.call('XCLAIM', key, GROUP, consumer, 0, ...ids.slice(i, i + 500), 'JUSTID'));
  }
  await Promise.all(calls);
}

/** Moves every due retry to its lane (PROMOTE, 500 a call); resolves to the next due time, or Infinity when none waits. */
export async function promoteDue(r: Scripted, keys: QueueKeys, now: () => number): Promise<number> {
  for (;;) {
    const [moved, nextDue] = (await r.hgqPromote(3, keys.delayed, keys.lanes, keys.bell, now(), 500, keys.base)) as [number, string];
    if (moved < 500) return Number(nextDue) >= 0 ? Number(nextDue) : Infinity;
  }
}
