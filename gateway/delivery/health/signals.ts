/**
 * Receiver signals: what an endpoint's answer asks of the whole endpoint, beyond the one delivery.
 * 429 and 503 with `Retry-After` slow every delivery to the endpoint down until then; the proposed
 * Standard Webhooks header `webhook-delivery: disable | abort-message` disables the endpoint or
 * fails this message without further retries. (410 Gone is the attempt policy's: it disables.)
 */
import { delivered, type Verdict } from '../policy.js';
import { parseRetryAfter } from '../retry.js';
import type { AttemptResult } from '../transport.js';

/** The longest slow-down a Retry-After may ask for: a receiver's typo must not park an endpoint for days. */
export const MAX_SLOW_DOWN_MS = 3600_000;

/** What an answer asks of the endpoint (at most one). */
export type ReceiverSignal =
  | { kind: 'none' }
  /** 429/503 with Retry-After: hold every delivery to the endpoint until `untilMs`. */
  | { kind: 'slow-down'; untilMs: number }
  /** `webhook-delivery: disable`: the receiver asks to be disabled. */
  | { kind: 'disable' }
  /** `webhook-delivery: abort-message` on a failure: dead-letter this message now. */
  | { kind: 'abort-message' };

/** Reads the signal in an attempt's answer (`r.deliverySignal` is the `webhook-delivery` header). */
export function receiverSignal(r: AttemptResult, nowMs: number): ReceiverSignal {
  const header = r.deliverySignal?.trim().toLowerCase();
  if (header === 'disable') return { kind: 'disable' };
  // A 2xx delivered the message: there is nothing left to abort.
  if (header === 'abort-message' && !delivered(r)) return { kind: 'abort-message' };
  if (r.status === 429 || r.status === 503) {
    const after = parseRetryAfter(r.retryAfter, nowMs);
    if (after !== undefined && after > 0) return { kind: 'slow-down', untilMs: nowMs + Math.min(after, MAX_SLOW_DOWN_MS) };
  }
  return { kind: 'none' };
}

/** No signal (async ingress: upstreams are not endpoints). */
export const NO_SIGNAL: ReceiverSignal = Object.freeze({ kind: 'none' });

/** The disabled reason for `webhook-delivery: disable`. */
export const RECEIVER_DISABLED = 'the receiver asked to be disabled (webhook-delivery: disable)';

/**
 * The attempt policy's verdict as a signal bends it: `abort-message` dead-letters the message
 * now; `disable` on a failure ends it as a 410 does (the engine disables the endpoint).
 */
export function verdictWithSignal(v: Verdict, s: ReceiverSignal): Verdict {
  if (s.kind === 'abort-message') return { kind: 'exhausted', error: 'the receiver aborted this message (webhook-delivery: abort-message)' };
  if (s.kind === 'disable' && v.kind !== 'delivered') return { kind: 'gone', error: RECEIVER_DISABLED };
  return v;
}
