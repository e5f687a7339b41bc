/**
 * System deliveries: what hookgate itself sends to operators (operational events, alert
 * notifications), queued and retried through the delivery engine's own queue and repository
 * like any message, never best effort. They belong to a reserved system tenant and go to
 * reserved system targets (`sys:...`), outside what the admin API can create: tenant and
 * endpoint ids never contain ':' (their schema pattern), so neither can be named, listed,
 * edited or counted against a quota through it. The engine hands their jobs here instead of
 * to its endpoint path, so no breaker, rate limit or failing streak applies to them, and
 * their own failures never raise operational events (that would queue more of them).
 */
import { createHash } from 'node:crypto';
import type { Logger } from 'pino';
import type { Snapshot } from '../compile.js';
import { resolvePolicy } from './effective-policy.js';
import type { AttemptPolicy } from './policy.js';
import type { DeliveryQueue, JobOutcome, QueueJob } from './queue.js';
import { retentionMs } from './repository.js';
import { sendJson, sendSigned, type AttemptResult } from './transport.js';
import { newMessageId, type AttemptRecord, type DeliveryRepository, type StoredMessage } from './types.js';

/** The reserved tenant of system messages (':' is outside the tenant id pattern, so no tenant can take it). */
export const SYSTEM_TENANT = 'hookgate:system';

/** The target of the operational webhook (`egress.operationalWebhook`). */
export const OPERATIONAL_TARGET = 'sys:operational';

/** Where a system message goes: the operational webhook (signed), a Slack-compatible incoming webhook, a generic JSON webhook. */
export type SystemChannel = { kind: 'operational' } | { kind: 'slack'; url: string } | { kind: 'webhook'; url: string };

/** The reserved target of a channel: `sys:operational`, `sys:slack:<hash>`, `sys:webhook:<hash>` (the URL's SHA-256, so no URL is written to the queue). */
export function systemTarget(ch: SystemChannel): string {
  if (ch.kind === 'operational') return OPERATIONAL_TARGET;
  return `sys:${ch.kind}:${createHash('sha256').update(ch.url).digest('hex').slice(0, 24)}`;
}

/** True for the targets of system messages. */
export function isSystemTarget(target: string): boolean {
  return target.startsWith('sys:');
}

export interface SystemDeliveriesOptions {
  repo: DeliveryRepository;
  queue: DeliveryQueue;
  logger: Logger;
  now: () => number;
  /** The current snapshot: the operational webhook and the alert channels are looked up in it at each attempt. */
  snapshot: () => Snapshot;
  /** The engine's attempt policy: a system attempt is judged as an async-ingress one (no endpoint rules). */
  attempts: AttemptPolicy;
}

/** Queues system messages and runs their attempts (the engine hands it every `sys:` job). */
export class SystemDeliveries {
  constructor(private readonly opts: SystemDeliveriesOptions) {}

  /**
   * Stores a message for one channel and queues it. Resolves once stored (durable with Redis).
   * The body is sent as it is: a JSON event for the operational webhook and generic webhooks,
   * `{"text": ...}` for Slack.
   */
  async enqueue(channel: SystemChannel, eventType: string, body: string): Promise<string> {
    const target = systemTarget(channel);
    const msg: StoredMessage = { id: newMessageId(), kind: 'event', tenant: SYSTEM_TENANT, createdAt: this.opts.now(), eventType, body, bodyEncoding: 'utf8', targets: [target] };
    await this.opts.repo.saveMessage(msg, retentionMs(this.opts.snapshot().egress));
    await this.opts.queue.add([{ msgId: msg.id, target, tenant: SYSTEM_TENANT }]);
    return msg.id;
  }

  /** The channel a target names in `snap`, or undefined when the config no longer has it. */
  private resolve(target: string, snap: Snapshot): { send: (msg: StoredMessage, timeoutMs: number) => Promise<AttemptResult> } | undefined {
    if (target === OPERATIONAL_TARGET) {
      const hook = snap.egress.operationalWebhook;
      if (!hook) return undefined;
      return { send: (msg, timeoutMs) => sendSigned(snap, { url: hook.url, msgId: msg.id, body: Buffer.from(msg.body, 'utf8'), secrets: [hook.secret], headers: { 'user-agent': 'hookgate' }, nowMs: this.opts.now(), timeoutMs }) };
    }
    const ch = snap.alerts.channels.get(target);
    if (!ch || ch.kind === 'operational') return undefined;
    return { send: (msg, timeoutMs) => sendJson(snap, ch.url, Buffer.from(msg.body, 'utf8'), timeoutMs) };
  }

  /** One attempt of a system job, retried on the global egress retry schedule. */
  async run(job: QueueJob, snap: Snapshot): Promise<JobOutcome> {
    const msg = await this.opts.repo.getMessage(job.msgId);
    if (!msg) return { kind: 'done' };
    const attemptNo = job.attempts + 1;
    const policy = resolvePolicy({ egress: snap.egress });
    const channel = this.resolve(job.target, snap);
    const r: AttemptResult = channel ? await channel.send(msg, policy.attemptTimeoutMs) : { status: 0, durationMs: 0, timedOut: false, error: 'the channel is no longer configured' };
    const v = channel ? this.opts.attempts.judge(r, attemptNo, null, policy.retry) : undefined;
    const ok = v?.kind === 'delivered';
    const delayMs = v?.kind === 'retry' ? v.delayMs : null;
    const rec: AttemptRecord = { target: job.target, attempt: attemptNo, at: this.opts.now(), status: r.status, durationMs: r.durationMs };
    if (r.error) rec.error = r.error;
    if (r.response) rec.response = r.response;
    await this.opts.repo.recordAttempt(msg.id, rec, ok ? 'delivered' : delayMs === null ? 'failed' : 'pending', retentionMs(snap.egress));
    if (ok) return { kind: 'done' };
    // Logged only: an operational event about the operational channel would queue another message to it.
    this.opts.logger.warn({ msgId: msg.id, target: job.target, attempt: attemptNo, status: r.status, error: r.error, final: delayMs === null }, delayMs === null ? 'system message failed for good' : 'system message attempt failed; will retry');
    return delayMs === null ? { kind: 'done' } : { kind: 'retry', delayMs, attempted: true };
  }
}
