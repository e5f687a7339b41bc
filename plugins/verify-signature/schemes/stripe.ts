/** stripe: `Stripe-Signature: t=<ts>,v1=<hex>`, HMAC-SHA256 over `{t}.{body}`. */
import { parseStripeSignatureHeader, signatureEqual } from '../../../gateway/plugin-api.js';
import { checkTs, hmac, invalid, missing, requireSecrets } from './checks.js';
import { DEFAULT_TOLERANCE_SEC, type Secret, type Verifier } from './verifier.js';

export interface StripeOptions {
  secrets?: readonly Secret[];
  toleranceSec?: number;
}

/** Reads a top-level string `id` from a JSON body (Stripe's `evt_...`), or undefined. */
function jsonId(body: Buffer): string | undefined {
  try {
    const v: unknown = JSON.parse(body.toString('utf8'));
    if (v && typeof v === 'object' && !Array.isArray(v)) {
      const id = (v as Record<string, unknown>).id;
      if (typeof id === 'string' && id.length > 0) return id;
    }
  } catch {
    // Not JSON: no id, so no dedupe for this message.
  }
  return undefined;
}

/**
 * stripe: `Stripe-Signature: t=<ts>,v1=<hex>[,v1=<hex>]`, HMAC-SHA256 over `{t}.{body}`, keyed by
 * the whole `whsec_...` string (not decoded). The event id comes from the JSON body.
 */
export function stripeVerifier(opts: StripeOptions): Verifier {
  const secrets = requireSecrets(opts.secrets);
  const tol = opts.toleranceSec ?? DEFAULT_TOLERANCE_SEC;
  return {
    preset: 'stripe',
    carriesId: true,
    // The event id is read from the signed body.
    idSigned: true,
    hasTimestamp: true,
    verify(req, nowMs) {
      const parsed = parseStripeSignatureHeader(req.header('stripe-signature'));
      if (!parsed) throw missing('Stripe-Signature', req.header('stripe-signature') ? 'malformed-header' : 'no-signature-header');
      let matched: Buffer | undefined;
      for (const secret of secrets) {
        const expected = hmac('sha256', secret, `${parsed.timestamp}.`, req.body);
        const text = expected.toString('hex');
        for (const sig of parsed.v1) if (signatureEqual(text, sig)) matched = expected;
      }
      if (!matched) throw invalid();
      checkTs(parsed.timestamp, tol, nowMs);
      return { id: jsonId(req.body), timestamp: parsed.timestamp, signature: matched };
    },
  };
}
