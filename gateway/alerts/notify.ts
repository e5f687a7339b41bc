/**
 * What an alert transition says on each channel: an operational event (`alert.firing`,
 * `alert.resolved`) on the operational channel, `{"text": ...}` for a Slack-compatible
 * incoming webhook, the same JSON event as the operational one for a generic webhook.
 */
import type { SystemChannel } from '../delivery/system-deliveries.js';
import type { AlertRule } from './rules.js';

/** A transition to announce. */
export interface AlertNotice {
  rule: AlertRule;
  subject: string;
  to: 'firing' | 'resolved';
  value: number;
  at: number;
}

/** The event type of a transition. */
export function noticeType(n: AlertNotice): 'alert.firing' | 'alert.resolved' {
  return n.to === 'firing' ? 'alert.firing' : 'alert.resolved';
}

/** A duration in the largest whole unit (300000 → "5m"). */
export function formatDuration(ms: number): string {
  for (const [unit, size] of [['d', 86_400_000], ['h', 3_600_000], ['m', 60_000], ['s', 1000]] as const) if (ms >= size && ms % size === 0) return `${ms / size}${unit}`;
  return `${ms}ms`;
}

/** The event data of a transition (operational and generic webhook). */
export function noticeData(n: AlertNotice): Record<string, unknown> {
  const r = n.rule;
  const data: Record<string, unknown> = { alert: r.name, state: n.to, metric: r.metric, [r.subjectKey]: n.subject, value: n.value };
  if (r.above !== undefined) data.above = r.above;
  if (r.below !== undefined) data.below = r.below;
  if (r.overMs) data.over = formatDuration(r.overMs);
  data.at = new Date(n.at).toISOString();
  return data;
}

/** One line for people: what fired or resolved, and why. */
export function noticeText(n: AlertNotice): string {
  const r = n.rule;
  const threshold = r.above !== undefined ? `above ${r.above}` : `below ${r.below}`;
  const window = r.overMs ? ` over ${formatDuration(r.overMs)}` : '';
  const value = Number.isInteger(n.value) ? String(n.value) : n.value.toFixed(3);
  const head = n.to === 'firing' ? `[FIRING] hookgate alert ${r.name}` : `[RESOLVED] hookgate alert ${r.name}`;
  return `${head}: ${r.metric} of ${r.subjectKey} "${n.subject}" is ${value} (threshold: ${threshold}${window})`;
}

/** The body a non-operational channel gets. */
export function channelBody(ch: Exclude<SystemChannel, { kind: 'operational' }>, n: AlertNotice): string {
  if (ch.kind === 'slack') return JSON.stringify({ text: noticeText(n) });
  return JSON.stringify({ type: noticeType(n), timestamp: new Date(n.at).toISOString(), data: noticeData(n) });
}
