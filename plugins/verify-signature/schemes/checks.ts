/**
 * The checks every scheme shares: one error wording per failure kind, the timestamp window, the
 * encodings a signature may be written in, the HMAC itself and the secret list.
 */
import { createHmac } from 'node:crypto';
import { checkTimestamp, Errors, GatewayError } from '../../../gateway/plugin-api.js';
import type { FailureReason, HmacAlgorithm, Secret } from './verifier.js';

// Errors: one wording per failure kind. The message never names a secret or says which one was close.

/** The signature header is absent (`no-signature-header`), or it or a header signed with it is unreadable. */
export function missing(header: string, reason: 'no-signature-header' | 'malformed-header' = 'malformed-header'): GatewayError {
  return Errors.SIGNATURE_MISSING(header).because(reason);
}
export function invalid(detail = 'signature does not match', reason: FailureReason = 'no-secret-matched'): GatewayError {
  return Errors.SIGNATURE_INVALID(detail).because(reason);
}
export function checkTs(ts: number, toleranceSec: number, nowMs: number): void {
  const r = checkTimestamp(ts, toleranceSec, nowMs);
  if (r !== 'ok') {
    throw Errors.TIMESTAMP_OUT_OF_RANGE(
      `signature timestamp is ${r === 'stale' ? 'too old' : 'in the future'} (tolerance ${toleranceSec}s)`,
    ).because(r === 'stale' ? 'timestamp-too-old' : 'timestamp-in-future');
  }
}

const INT_SECONDS = /^\d{1,15}$/;
export const HEX = /^[0-9a-fA-F]+$/;
// Standard or URL-safe alphabet, optional padding.
export const BASE64 = /^[A-Za-z0-9+/_-]+={0,2}$/;

export function parseSeconds(v: string | undefined): number | undefined {
  return v !== undefined && INT_SECONDS.test(v.trim()) ? Number(v.trim()) : undefined;
}

export function hmac(algorithm: HmacAlgorithm, key: Buffer | string, ...parts: Array<Buffer | string>): Buffer {
  const h = createHmac(algorithm, key);
  // Fed in parts so a large body is never copied to prepend a short prefix.
  for (const p of parts) h.update(p);
  return h.digest();
}

export function requireSecrets(secrets: readonly Secret[] | undefined, allowEmpty = false): Secret[] {
  const list = (secrets ?? []).filter((s) => typeof s === 'string' || Buffer.isBuffer(s));
  if (!allowEmpty && list.length === 0) throw new Error('verify-signature: secrets must not be empty');
  if (list.some((s) => s.length === 0)) throw new Error('verify-signature: secrets must not contain an empty string');
  return list;
}
