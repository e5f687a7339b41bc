/**
 * One signature verifier per provider preset. Every verifier works on the raw body bytes exactly
 * as received, accepts several secrets at once (rotation), compares in constant time and checks
 * timestamps in both directions. Verifiers are pure: the clock is an explicit argument, so the
 * providers' published test vectors (with old timestamps) can be checked as they are.
 */
import { hmacPresetVerifier, hmacVerifier } from './hmac.js';
import { standardWebhooksVerifier, svixVerifier } from './standard-webhooks.js';
import { stripeVerifier } from './stripe.js';
import { twilioVerifier } from './twilio.js';
import { HMAC_ONLY, type Secret, type Verifier, type VerifySignatureParams } from './verifier.js';

export {
  DEFAULT_TOLERANCE_SEC,
  FAILURE_REASONS,
  PRESETS,
  type FailureReason,
  type HmacAlgorithm,
  type Preset,
  type Secret,
  type SignatureEncoding,
  type SignedRequest,
  type Verified,
  type Verifier,
  type VerifySignatureParams,
} from './verifier.js';
export { decodeStandardWebhooksPublicKey, standardWebhooksVerifier, svixVerifier, type StandardWebhooksOptions } from './standard-webhooks.js';
export { stripeVerifier, type StripeOptions } from './stripe.js';
export { twilioVerifier, type TwilioOptions } from './twilio.js';
export {
  githubVerifier,
  hmacPresetVerifier,
  hmacVerifier,
  shopifyVerifier,
  slackVerifier,
  type HmacOptions,
  type HmacPreset,
  type SimpleOptions,
} from './hmac.js';

/**
 * Builds the verifier for `params.preset`. Throws an Error for semantic config problems
 * (empty secret list, bad secret format, missing publicUrl...). `publicUrl` is the route's;
 * a `publicUrl` param overrides it. `secrets` replaces `params.secrets` (the diagnostics'
 * re-interpretations of them).
 */
export function createVerifier(params: VerifySignatureParams, publicUrl?: string, secrets: readonly Secret[] | undefined = params.secrets): Verifier {
  const url = params.publicUrl ?? publicUrl;
  // Params that belong to another preset are almost always a copy-paste slip: say so rather than ignore them.
  if (params.publicKeys?.length && params.preset !== 'standard-webhooks' && params.preset !== 'svix') {
    throw new Error(`verify-signature: publicKeys only apply to presets standard-webhooks and svix, not ${params.preset}`);
  }
  if (params.preset !== 'hmac') {
    const stray = HMAC_ONLY.filter((k) => params[k] !== undefined);
    if (stray.length) throw new Error(`verify-signature: ${stray.join(', ')} only apply to preset hmac, not ${params.preset}`);
  }
  const base = { secrets, toleranceSec: params.toleranceSec };
  switch (params.preset) {
    case 'standard-webhooks':
      return standardWebhooksVerifier({ ...base, publicKeys: params.publicKeys });
    case 'svix':
      return svixVerifier({ ...base, publicKeys: params.publicKeys });
    case 'stripe':
      return stripeVerifier(base);
    case 'github':
    case 'shopify':
    case 'slack':
      return hmacPresetVerifier(params.preset, base);
    case 'twilio':
      return twilioVerifier({ secrets, publicUrl: url ?? '' });
    case 'hmac':
      return hmacVerifier({
        ...base,
        header: params.header,
        algorithm: params.algorithm,
        encoding: params.encoding,
        prefix: params.prefix,
        template: params.template,
        timestampHeader: params.timestampHeader,
        idHeader: params.idHeader,
        publicUrl: url,
      });
    default:
      throw new Error(`verify-signature: unknown preset "${String((params as { preset: unknown }).preset)}"`);
  }
}
