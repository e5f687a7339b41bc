/**
 * Operational events: what operators hear about endpoints, deliveries and alerts, on three
 * channels (the log, the typed in-process emitter, the optional operational webhook). The
 * webhook is durable: each event is a system message queued and retried by the delivery engine
 * (system-deliveries.ts), signed with the webhook's secret.
 */
import { EventEmitter } from 'node:events';
import type { Logger } from 'pino';
import type { Snapshot } from '../compile.js';
import type { SystemDeliveries } from './system-deliveries.js';

/** Operational events (Svix's names), sent to the log and to the optional operational webhook. */
export interface OperationalEvent {
  type: 'endpoint.created' | 'endpoint.updated' | 'endpoint.deleted' | 'endpoint.disabled' | 'endpoint.breaker.opened' | 'endpoint.breaker.closed' | 'endpoint.recovered' | 'message.attempt.failing' | 'message.attempt.exhausted' | 'message.attempt.recovered' | 'alert.firing' | 'alert.resolved';
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
  /** Queues the webhook's messages; without it (a bare directory in tests) nothing is sent. */
  system?: SystemDeliveries;
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
    if (!this.opts.snapshot().egress.operationalWebhook || !this.opts.system) return;
    // Queued, not sent: raise() never waits on the store or the receiver (it runs on the delivery path).
    this.opts.system.enqueue({ kind: 'operational' }, type, JSON.stringify(ev)).catch((err: Error) => this.opts.logger.error({ err: err.message, event: type, code: 'HG_QUEUE_UNAVAILABLE' }, 'operational event could not be queued for the operational webhook'));
  }
}
