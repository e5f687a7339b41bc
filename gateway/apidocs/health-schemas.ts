/** The OpenAPI schema of an endpoint's `health` (gateway/delivery/health/view.ts). */
type Schema = Record<string, unknown>;
const NULLABLE_TIME = { type: ['string', 'null'], format: 'date-time' };

export const endpointHealthView: Schema = {
  type: 'object',
  required: ['state', 'reason', 'since', 'nextProbeAt', 'slowedUntil'],
  description: 'The lifecycle state (README: Circuit breaker and endpoint lifecycle).',
  properties: {
    state: { enum: ['healthy', 'failing', 'open', 'half-open', 'disabled'], description: 'healthy; failing (recent attempts failed); open (no attempts go out until nextProbeAt); half-open (one probe is deciding); disabled.' },
    reason: { type: ['string', 'null'], description: 'Why it is in this state (null when healthy).' },
    since: { ...NULLABLE_TIME, description: 'When it entered this state (null when healthy).' },
    nextProbeAt: { ...NULLABLE_TIME, description: 'open: when the half-open probe goes; disabled for failing with autoRecover: the next recovery probe; else null.' },
    slowedUntil: { ...NULLABLE_TIME, description: 'A receiver asked (429/503 with Retry-After) to hold every delivery until then; null when not.' },
  },
};
