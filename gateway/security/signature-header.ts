/**
 * Parsing of multi-signature headers. Both parsers are bounded: a header with more than
 * `MAX_SIGNATURE_ENTRIES` entries is refused as a whole (it is not a provider's, and every entry
 * may cost a verification), and they stop reading at the entry past the cap instead of splitting
 * the whole header first.
 */

/**
 * Most entries a signature header may list. Providers send one per active secret (two while
 * rotating, plus Stripe's `v0`); 16 leaves room for that and bounds the work per request.
 */
export const MAX_SIGNATURE_ENTRIES = 16;

/** One entry of a standard-webhooks signature header, e.g. `v1,<base64>`. */
export interface VersionedSignature {
  /** Scheme version: `v1` (HMAC-SHA256) or `v1a` (ed25519); unknown versions are kept for the caller to skip. */
  version: string;
  /** The signature text after the comma (base64). */
  signature: string;
}

/**
 * Calls `fn` on each non-empty `sep`-separated part of `header`, in order. Returns false, having
 * stopped early, when there are more than `MAX_SIGNATURE_ENTRIES` non-empty parts.
 */
function eachEntry(header: string, sep: string, fn: (entry: string) => void): boolean {
  let count = 0;
  let start = 0;
  while (start <= header.length) {
    let end = header.indexOf(sep, start);
    if (end === -1) end = header.length;
    if (end > start) {
      if (++count > MAX_SIGNATURE_ENTRIES) return false;
      fn(header.slice(start, end));
    }
    start = end + sep.length;
  }
  return true;
}

/**
 * Parses a standard-webhooks / svix signature header: a space-separated list of
 * `<version>,<signature>` entries (`v1,abc= v1,def= v1a,ghi=`). Entries without a comma or
 * with an empty part are ignored; an empty result means the header is unusable, which includes a
 * header of more than `MAX_SIGNATURE_ENTRIES` entries (counting ignored ones).
 */
export function parseVersionedSignatures(header: string | undefined): VersionedSignature[] {
  if (!header) return [];
  const out: VersionedSignature[] = [];
  const withinCap = eachEntry(header, ' ', (entry) => {
    const comma = entry.indexOf(',');
    if (comma <= 0 || comma === entry.length - 1) return;
    out.push({ version: entry.slice(0, comma), signature: entry.slice(comma + 1) });
  });
  return withinCap ? out : [];
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
 * there is no integer `t=`, no `v1=` entry, or more than `MAX_SIGNATURE_ENTRIES` entries. Other
 * schemes (`v0`) are ignored on purpose: v0 is Stripe's test-mode scheme and must not be
 * accepted as a downgrade.
 */
export function parseStripeSignatureHeader(header: string | undefined): StripeSignatureHeader | undefined {
  if (!header) return undefined;
  let timestamp: number | undefined;
  let badTimestamp = false;
  const v1: string[] = [];
  const withinCap = eachEntry(header, ',', (part) => {
    const eq = part.indexOf('=');
    if (eq <= 0) return;
    const k = part.slice(0, eq).trim();
    const v = part.slice(eq + 1).trim();
    if (k === 't') {
      if (!/^\d{1,15}$/.test(v)) badTimestamp = true;
      else timestamp = Number(v);
    } else if (k === 'v1' && v) {
      v1.push(v);
    }
  });
  if (!withinCap || badTimestamp || timestamp === undefined || v1.length === 0) return undefined;
  return { timestamp, v1 };
}
