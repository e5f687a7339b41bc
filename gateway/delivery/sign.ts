/**
 * Standard Webhooks (https://www.standardwebhooks.com) signing for egress deliveries.
 *
 * signature = base64(HMAC-SHA256(key, `${id}.${timestamp}.${body}`)), sent as `v1,<sig>`;
 * during secret rotation one `v1,<sig>` per live secret is sent, space-separated, so receivers
 * holding either the old or the new secret accept the message.
 */
import { createHmac, randomBytes } from 'node:crypto';
import { decodeStandardWebhooksSecret, STANDARD_WEBHOOKS_SECRET_PREFIX } from '../security/standard-webhooks-secret.js';

/** Decoded keys keyed by secret text. Bounded so rotating secrets at runtime cannot grow it forever. */
const keyCache = new Map<string, Buffer>();
const KEY_CACHE_MAX = 1024;

/** A fresh secret: `whsec_` + base64 of 32 random bytes. */
export function generateSecret(): string {
  return STANDARD_WEBHOOKS_SECRET_PREFIX + randomBytes(32).toString('base64');
}

/**
 * The HMAC key of a secret (`decodeStandardWebhooksSecret`), cached: it is needed for every
 * delivery attempt.
 * @throws Error if the secret is empty or not base64 (the message never contains the secret).
 */
export function secretKey(secret: string): Buffer {
  const cached = keyCache.get(secret);
  if (cached) return cached;
  const key = decodeStandardWebhooksSecret(secret);
  if (keyCache.size >= KEY_CACHE_MAX) keyCache.clear();
  keyCache.set(secret, key);
  return key;
}

/**
 * The `webhook-signature` header value: `v1,<base64>` for each secret, space-separated.
 * @param timestampSec Unix time in whole seconds.
 * @throws Error if no secrets are given or the timestamp is not an integer.
 */
export function signatureHeader(id: string, timestampSec: number, body: Buffer | string, secrets: readonly string[]): string {
  if (secrets.length === 0) throw new Error('at least one signing secret is required');
  if (!Number.isSafeInteger(timestampSec)) throw new Error('webhook timestamp must be an integer number of seconds');
  const prefix = `${id}.${timestampSec}.`;
  return secrets
    .map((s) => 'v1,' + createHmac('sha256', secretKey(s)).update(prefix).update(body).digest('base64'))
    .join(' ');
}

/** Standard Webhooks request headers for one delivery attempt. */
export interface WebhookHeaders {
  'webhook-id': string;
  'webhook-timestamp': string;
  'webhook-signature': string;
  [name: string]: string;
}

/** The three Standard Webhooks headers for `body`, signed with every secret in `secrets`. */
export function webhookHeaders(id: string, timestampSec: number, body: Buffer | string, secrets: readonly string[]): WebhookHeaders {
  return {
    'webhook-id': id,
    'webhook-timestamp': String(timestampSec),
    'webhook-signature': signatureHeader(id, timestampSec, body, secrets),
  };
}
