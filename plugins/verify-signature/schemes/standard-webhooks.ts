/** standard-webhooks and svix: HMAC-SHA256 (`v1`) and ed25519 (`v1a`) over `{id}.{timestamp}.{body}`. */
import { createPublicKey, verify as cryptoVerify, type KeyObject } from 'node:crypto';
import { decodeStandardWebhooksSecret, parseVersionedSignatures, signatureEqual } from '../../../gateway/plugin-api.js';
import { BASE64, checkTs, hmac, invalid, missing, parseSeconds, requireSecrets } from './checks.js';
import { DEFAULT_TOLERANCE_SEC, type Secret, type Verifier } from './verifier.js';

/** The HMAC key of a standard-webhooks secret, with the plugin's name in the config error. */
function standardWebhooksKey(secret: string): Buffer {
  try {
    return decodeStandardWebhooksSecret(secret);
  } catch (err) {
    // The secret itself is not echoed: it may be a real one with a typo.
    throw new Error(`verify-signature: ${(err as Error).message}`);
  }
}

/** Builds an ed25519 KeyObject from `whpk_<base64 of the 32-byte raw public key>`. */
export function decodeStandardWebhooksPublicKey(publicKey: string): KeyObject {
  const b64 = publicKey.startsWith('whpk_') ? publicKey.slice(5) : publicKey;
  const raw = BASE64.test(b64) ? Buffer.from(b64, 'base64') : Buffer.alloc(0);
  if (raw.length !== 32) throw new Error('verify-signature: a public key must be "whpk_" followed by base64 of 32 raw ed25519 bytes');
  return createPublicKey({ key: { kty: 'OKP', crv: 'Ed25519', x: raw.toString('base64url') }, format: 'jwk' });
}

/**
 * Most `v1a` (ed25519) entries one signature header may carry: one per signing key the sender
 * holds, a few while rotating. Beyond that the header is refused (HG_SIGNATURE_INVALID) instead
 * of spending an asymmetric verification on each entry.
 */
export const MAX_ED25519_SIGNATURES = 4;

export interface StandardWebhooksOptions {
  secrets?: readonly Secret[];
  publicKeys?: string[];
  toleranceSec?: number;
  /** Header name sets tried in order; the first set whose signature header is present is used. */
  headerSets?: Array<{ id: string; timestamp: string; signature: string }>;
  preset?: 'standard-webhooks' | 'svix';
}

const WEBHOOK_HEADERS = { id: 'webhook-id', timestamp: 'webhook-timestamp', signature: 'webhook-signature' };
const SVIX_HEADERS = { id: 'svix-id', timestamp: 'svix-timestamp', signature: 'svix-signature' };

/**
 * standard-webhooks: HMAC-SHA256 (`v1`) and/or ed25519 (`v1a`) over `{id}.{timestamp}.{body}`,
 * header a space-separated list of `<version>,<base64>`; any valid entry wins.
 */
export function standardWebhooksVerifier(opts: StandardWebhooksOptions): Verifier {
  const keys = requireSecrets(opts.secrets, true).map((s) => (typeof s === 'string' ? standardWebhooksKey(s) : s));
  const pubKeys = (opts.publicKeys ?? []).map(decodeStandardWebhooksPublicKey);
  if (keys.length === 0 && pubKeys.length === 0) throw new Error('verify-signature: secrets must not be empty');
  const tol = opts.toleranceSec ?? DEFAULT_TOLERANCE_SEC;
  const sets = opts.headerSets ?? [WEBHOOK_HEADERS];
  return {
    preset: opts.preset ?? 'standard-webhooks',
    carriesId: true,
    // The id is the first part of the signed content `{id}.{timestamp}.{body}`.
    idSigned: true,
    hasTimestamp: true,
    verify(req, nowMs) {
      // Use one header set as a whole, so ids/timestamps are never mixed across the two namings.
      const names = sets.find((s) => req.header(s.signature) !== undefined) ?? sets[0]!;
      if (!req.header(names.signature)) throw missing(names.signature, 'no-signature-header');
      const id = req.header(names.id);
      if (!id) throw missing(names.id);
      const tsText = req.header(names.timestamp);
      const ts = parseSeconds(tsText);
      if (ts === undefined) throw missing(names.timestamp);
      const entries = parseVersionedSignatures(req.header(names.signature));
      if (entries.length === 0) throw missing(names.signature);

      const prefix = Buffer.from(`${id}.${tsText!.trim()}.`, 'utf8');
      let matched: Buffer | undefined;
      const v1 = entries.filter((e) => e.version === 'v1');
      if (v1.length > 0) {
        for (const key of keys) {
          const expected = hmac('sha256', key, prefix, req.body);
          const text = expected.toString('base64');
          for (const e of v1) if (signatureEqual(text, e.signature)) matched = expected;
        }
      }
      const v1a = entries.filter((e) => e.version === 'v1a');
      // Each v1a entry costs an ed25519 verification per public key: refuse a header that lists
      // more than a sender with several keys would, whether or not a v1 entry already matched.
      if (v1a.length > MAX_ED25519_SIGNATURES) throw invalid(`more than ${MAX_ED25519_SIGNATURES} v1a signatures`, 'malformed-header');
      if (!matched && v1a.length > 0 && pubKeys.length > 0) {
        const signed = Buffer.concat([prefix, req.body]);
        for (const e of v1a) {
          const sig = BASE64.test(e.signature) ? Buffer.from(e.signature, 'base64') : undefined;
          if (!sig || sig.length !== 64) continue;
          for (const pk of pubKeys) {
            try {
              if (cryptoVerify(null, signed, pk, sig)) matched = sig;
            } catch {
              // A malformed signature is just a non-match.
            }
          }
          if (matched) break;
        }
      }
      if (!matched) throw invalid();
      checkTs(ts, tol, nowMs);
      return { id, timestamp: ts, signature: matched };
    },
  };
}

/** svix: the standard-webhooks scheme with `svix-*` headers, falling back to `webhook-*`. */
export function svixVerifier(opts: Omit<StandardWebhooksOptions, 'headerSets' | 'preset'>): Verifier {
  return standardWebhooksVerifier({ ...opts, headerSets: [SVIX_HEADERS, WEBHOOK_HEADERS], preset: 'svix' });
}
