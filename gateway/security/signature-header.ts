/** One entry of a standard-webhooks signature header, e.g. `v1,<base64>`. */
export interface VersionedSignature {
  /** Scheme version: `v1` (HMAC-SHA256) or `v1a` (ed25519); unknown versions are kept for the caller to skip. */
  version: string;
  /** The signature text after the comma (base64). */
  signature: string;
}

/**
 * Parses a standard-webhooks / svix signature header: a space-separated list of
 * `<version>,<signature>` entries (`v1,abc= v1,def= v1a,ghi=`). Entries without a comma or
 * with an empty part are ignored; an empty result means the header is unusable.
 */
export function parseVersionedSignatures(header: string | undefined): VersionedSignature[] {
  if (!header) return [];
  const out: VersionedSignature[] = [];
  for (const entry of header.split(' ')) {
    if (!entry) continue;
    const comma = entry.indexOf(',');
    if (comma <= 0 || comma === entry.length - 1) continue;
    out.push({ version: entry.slice(0, comma), signature: entry.slice(comma + 1) });
  }
  return out;
}

/** A parsed `Stripe-Signature` header. */
export interface StripeSignatureHeader {
  /** The `t=` timestamp (Unix seconds). */
  timestamp: number;
  /** Every `v1=` signature (hex); several appear while Stripe rolls a secret. */
  v1: string[];
}

/**
 * Parses `Stripe-Signature: t=1492774577,v1=5257a8...,v1=...,v0=...`. Returns undefined when
 * there is no integer `t=` or no `v1=` entry. Other schemes (`v0`) are ignored on purpose:
 * v0 is Stripe's test-mode scheme and must not be accepted as a downgrade.
 */
export function parseStripeSignatureHeader(header: string | undefined): StripeSignatureHeader | undefined {
  if (!header) return undefined;
  let timestamp: number | undefined;
  const v1: string[] = [];
  for (const part of header.split(',')) {
    const eq = part.indexOf('=');
    if (eq <= 0) continue;
    const k = part.slice(0, eq).trim();
    const v = part.slice(eq + 1).trim();
    if (k === 't') {
      if (!/^\d{1,15}$/.test(v)) return undefined;
      timestamp = Number(v);
    } else if (k === 'v1' && v) {
      v1.push(v);
    }
  }
  if (timestamp === undefined || v1.length === 0) return undefined;
  return { timestamp, v1 };
}
