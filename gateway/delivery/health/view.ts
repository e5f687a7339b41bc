/** An endpoint's health as the admin API answers it (`health` on `GET /admin/endpoints[/{id}]`). */
import type { EndpointRecord } from '../types.js';
import type { EndpointHealthView } from './endpoint-health.js';

const iso = (t: number | null) => (t === null ? null : new Date(t).toISOString());

/** The health of an endpoint known only from its record (just created, or no store read at hand). */
export function recordHealth(ep: EndpointRecord): EndpointHealthView {
  if (ep.disabled) return { state: 'disabled', reason: ep.disabledReason ?? null, since: ep.updatedAt, nextProbeAt: null, slowedUntil: null };
  return { state: 'healthy', reason: null, since: null, nextProbeAt: null, slowedUntil: null };
}

/** `{ state, reason, since, nextProbeAt, slowedUntil }` with ISO times. */
export function healthJson(h: EndpointHealthView): Record<string, unknown> {
  return { state: h.state, reason: h.reason, since: iso(h.since), nextProbeAt: iso(h.nextProbeAt), slowedUntil: iso(h.slowedUntil) };
}
