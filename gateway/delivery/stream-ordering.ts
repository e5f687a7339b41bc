/**
 * Ordered delivery on the stream queue (stream-queue.ts): the settle ops of its entries, ordered
 * or not (SETTLE in stream-scripts.ts), the check that an ordered entry is still its key's head
 * before it runs, the skip, and the blocked keys' ages for `hookgate_ordering_blocked_seconds`.
 */
import type { Redis } from 'ioredis';
import type { QueueJob, SkippedHead, SkippedJobHandler } from './queue.js';
import type { QueueKeys } from './stream-scripts.js';
import type { Scripted, SettleOp } from './stream-settles.js';

/** An entry a worker holds: read, running, or finished and waiting for its settle to be written. */
export interface Held {
  key: string;
  id: string;
  msgId: string;
  target: string;
  attempts: number;
  tenant: string;
  retry: boolean;
  /** Since when it has been due (ms): field `w`, else the entry's time. */
  since: number;
  /** Ordered delivery: the entry's ordering key (field `o`). */
  order?: string;
}

/** Done: the entry goes; an ordered one's key moves on to its next delivery. */
export function doneOp(h: Held): SettleOp {
  return h.order === undefined ? ['d', h.msgId, h.target] : ['D', h.msgId, h.target, h.order];
}

/**
 * Run again at `due` with `attempts` made, due since `since`. An ordered entry keeps its key
 * blocked behind it, and marks it blocked since `failedAt` after a failed attempt.
 */
export function retryOp(h: Held, due: number, attempts: number, since: number, failedAt: number | undefined): SettleOp {
  const member = `${h.msgId}\t${h.target}\t${attempts}\t${h.tenant}\t${since}`;
  return h.order === undefined ? ['r', due, member] : ['R', due, `${member}\t${h.order}`, h.target, h.order, failedAt ?? ''];
}

/** Back to the lane's end, never started (a stop). */
export function backOp(h: Held): SettleOp {
  const op: SettleOp = [h.order === undefined ? 'b' : 'B', h.msgId, h.target, h.attempts, h.since];
  if (h.order !== undefined) op.push(h.order);
  return op;
}

/** No longer its key's head (skipped, or a copy after a takeover): the entry goes, unrun. */
export const DROP_OP: SettleOp = ['x'];

/**
 * Whether an ordered entry is its key's head, so it may run (`head`). Entries of a skipped head
 * stay where they were (a lane, `delayed`) and are dropped when they come up: `ended` when the
 * delivery is queued nowhere else (no `ids` member), `queued` when it was queued again since.
 */
export async function orderedState(conn: Redis, keys: QueueKeys, h: Held): Promise<'head' | 'queued' | 'ended'> {
  const [head, queued] = await Promise.all([conn.lindex(keys.ordered(h.target, h.order!), 0), conn.sismember(keys.ids, `${h.msgId}\t${h.target}`)]);
  if (head !== null && head.slice(0, head.indexOf('\t')) === h.msgId) return 'head';
  return queued ? 'queued' : 'ended';
}

/** A skipped head's entry came up: dropped unrun; one queued nowhere else is reported as the skip's dead letter. */
export async function dropSkipped(onSkipped: SkippedJobHandler | undefined, job: QueueJob, state: 'queued' | 'ended'): Promise<'stale'> {
  if (state === 'ended') await onSkipped?.(job).catch(() => {});
  return 'stale';
}

/** Ends the head of `key`'s deliveries to `target` (SKIP in stream-scripts.ts). */
export async function skipOrderedHead(conn: Scripted, keys: QueueKeys, target: string, key: string): Promise<SkippedHead | null> {
  const head = (await conn.hgqSkip(1, keys.ids, target, key)) as string | null;
  if (!head) return null;
  const [msgId, attempts] = head.split('\t');
  return { msgId: msgId!, attempts: Number(attempts) || 0 };
}

/** Per target, the age (s) of its oldest blocked ordering key: one ZRANGE each, pipelined. */
export async function orderingBlocked(conn: Redis, keys: QueueKeys, targets: readonly string[], now: number): Promise<Record<string, number>> {
  const out: Record<string, number> = {};
  await Promise.all(
    targets.map(async (t) => {
      const oldest = (await conn.zrange(keys.blocked(t), 0, 0, 'WITHSCORES')) as string[];
      out[t] = oldest.length ? Math.max(0, (now - Number(oldest[1])) / 1000) : 0;
    }),
  );
  return out;
}
