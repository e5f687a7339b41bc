/**
 * Operational events: what operators hear about endpoints and deliveries, on three channels
 * (the log, the typed in-process emitter, the optional operational webhook).
 */
import { EventEmitter } from 'node:events';
import type { Logger } from 'pino';
import type { Snapshot } from '../compile.js';
import { newMessageId } from './types.js';
import { resolvePolicy } from './effective-policy.js';
import { sendSigned } from './transport.js';

/** Operational events (Svix's names), sent to the log and to the optional operational webhook. */
export interface OperationalEvent {
  type: 'endpoint.created' | 'endpoint.updated' | 'endpoint.deleted' | 'endpoint.disabled' | 'endpoint.breaker.opened' | 'endpoint.breaker.closed' | 'endpoint.recovered' | 'message.attempt.failing' | 'message.attempt.exhausted' | 'message.attempt.recovered';
  timestamp: string;
  data: Record<string, unknown>;
}

/** The in-process channel: `events.on('operational', (ev) => ...)` with `ev` typed. */
export type OperationalEmitter = EventEmitter<{ operational: [OperationalEvent] }>;

export interface OperationalEventsOptions {
  logger: Logger;
  now: () => number;
  /** The current snapshot (for `egress.operationalWebhook`). */
  snapshot: () => Snapshot;
}

/** Raises operational events on every channel. */
export class OperationalEvents {
  readonly emitter: OperationalEmitter = new EventEmitter();

  constructor(private readonly opts: OperationalEventsOptions) {}

  raise(type: OperationalEvent['type'], data: Record<string, unknown>): void {
    const now = this.opts.now();
    const ev: OperationalEvent = { type, timestamp: new Date(now).toISOString(), data };
    this.opts.logger.warn({ event: type, ...data }, 'operational event');
    this.emitter.emit('operational', ev);
    const snap = this.opts.snapshot();
    const hook = snap.egress.operationalWebhook;
    if (!hook) return;
    // Operator-configured and best effort: signed like any delivery, one try, never blocks delivery.
    sendSigned(snap, { url: hook.url, msgId: newMessageId(), body: Buffer.from(JSON.stringify(ev)), secrets: [hook.secret], nowMs: now, timeoutMs: resolvePolicy({ egress: snap.egress }).attemptTimeoutMs }).then(
      (r) => {
        if (r.status < 200 || r.status >= 300) this.opts.logger.warn({ status: r.status, error: r.error }, 'operational webhook failed');
      },
      () => {},
    );
  }
}
