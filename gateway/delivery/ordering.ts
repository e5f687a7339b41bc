/**
 * Ordered delivery per key: the rule an `orderingKey` follows, which deliveries of a message are
 * ordered, and the skip that ends a key's blocked head. The queues keep the order itself
 * (ordered-keys.ts for memory, stream-ordering.ts and its scripts for Redis).
 */
import { Errors } from '../errors.js';
import type { DeliveryQueue, NewJob, QueueJob, SkippedHead } from './queue.js';
import type { DeliveryRepository, EndpointRecord, StoredMessage } from './types.js';

/** 1-256 characters, no control characters (a tab separates keys from targets in the store). */
export const ORDERING_KEY = /^[^\p{Cc}]{1,256}$/u;
export const ORDERING_KEY_RULE = '1-256 characters, none of them control characters';

/** Whether deliveries of `msg` to `ep` are ordered: the endpoint orders per key and the message has one. */
export function orderedFor(msg: Pick<StoredMessage, 'orderingKey'>, ep: Pick<EndpointRecord, 'ordering'> | null | undefined): boolean {
  return msg.orderingKey !== undefined && ep?.ordering === 'per-key';
}

/** The jobs of `msg` for `targets`: with its ordering key for the targets in `ordered`. */
export function jobsOf(msg: StoredMessage, targets: readonly string[], ordered: ReadonlySet<string>, attempts?: ReadonlyMap<string, number>): NewJob[] {
  return targets.map((target) => {
    const job: NewJob = { msgId: msg.id, target, tenant: msg.tenant };
    if (attempts) job.attempts = attempts.get(target) ?? 0;
    if (ordered.has(target)) job.orderingKey = msg.orderingKey;
    return job;
  });
}

/**
 * Ends the head of `key`'s deliveries to `ep` without delivering it: it becomes a dead letter
 * (status failed, in the failed index: a retry or recover queues it again, at the key's tail)
 * and the key's next delivery goes. A head whose delivery succeeded just before (its done not
 * yet written) stays delivered. Resolves to the head and its status now.
 * @throws GatewayError HG_ORDERING_KEY_NOT_FOUND when the key has nothing queued for `ep`.
 */
export async function skipHead(queue: DeliveryQueue, repo: DeliveryRepository, ep: EndpointRecord, key: string, retentionMs: number): Promise<SkippedHead & { status: 'failed' | 'delivered' }> {
  const head = await queue.skipHead(ep.id, key);
  if (!head) throw Errors.ORDERING_KEY_NOT_FOUND(ep.id, key);
  if ((await repo.getStatuses(head.msgId))[ep.id] === 'delivered') return { ...head, status: 'delivered' };
  await repo.setStatus(head.msgId, ep.id, 'failed', retentionMs);
  return { ...head, status: 'failed' };
}

/**
 * A skipped head's attempt that was running during the skip may have recorded its delivery
 * pending afterwards: the queue reports the job once it finds it queued nowhere, and it is made
 * a dead letter again (a delivered one stays delivered).
 */
export async function deadLetterSkipped(repo: DeliveryRepository, job: QueueJob, retentionMs: number): Promise<void> {
  if ((await repo.getStatuses(job.msgId))[job.target] === 'pending') await repo.setStatus(job.msgId, job.target, 'failed', retentionMs);
}
