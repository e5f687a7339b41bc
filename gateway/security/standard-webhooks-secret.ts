/**
 * Standard Webhooks signing secrets (https://www.standardwebhooks.com): `whsec_` followed by the
 * base64 of the HMAC key. One decoder for both sides: egress signing and the verify-signature
 * plugin.
 */

/** The prefix that marks a Standard Webhooks signing secret. */
export const STANDARD_WEBHOOKS_SECRET_PREFIX = 'whsec_';

/**
 * Standard alphabet, optional padding. The spec serialises secrets as base64, and the reference
 * library (`standardwebhooks` on npm) decodes only this alphabet: a secret with `-` or `_` would
 * be refused by receivers using it.
 */
const BASE64 = /^[A-Za-z0-9+/]+={0,2}$/;

/**
 * Decodes a secret to its HMAC key: strips an optional `whsec_` prefix and base64-decodes the
 * rest (the reference libraries accept unprefixed secrets the same way).
 * @throws Error if the secret is not base64 or decodes to an empty key (the message never
 *   contains the secret).
 */
export function decodeStandardWebhooksSecret(secret: string): Buffer {
  const b64 = secret.startsWith(STANDARD_WEBHOOKS_SECRET_PREFIX) ? secret.slice(STANDARD_WEBHOOKS_SECRET_PREFIX.length) : secret;
  if (!BASE64.test(b64)) throw new Error('signing secret must be "whsec_" followed by base64');
  const key = Buffer.from(b64, 'base64');
  if (key.length === 0) throw new Error('signing secret decodes to an empty key');
  return key;
}
