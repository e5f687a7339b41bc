/**
 * Signature diagnostics: why verify-signature refused a request, in one stable word (see
 * FAILURE_REASONS). The schemes tag each refusal with its reason; a refusal where no secret
 * matched is then looked at twice more, only after it failed:
 *  - `secret-format`: the signature matches with a configured secret read another way (a
 *    `whsec_` secret given to a preset that keys HMAC with the secret's text, or a non-`whsec_`
 *    one given to standard-webhooks / svix, which base64-decode it);
 *  - `body-changed-after-signing`: the signature matches a JSON re-serialisation of the body
 *    (compact, or pretty-printed with 2 spaces), so something between the sender and the
 *    gateway parsed and re-encoded it.
 * Both re-run the route's own verifiers on the changed input, so they check exactly what the
 * preset checks, and say nothing about which secret came close.
 */
import { decodeStandardWebhooksSecret, GatewayError, STANDARD_WEBHOOKS_SECRET_PREFIX } from '../../gateway/plugin-api.js';
import { createVerifier, type FailureReason, type Preset, type Secret, type SignedRequest, type Verifier, type VerifySignatureParams } from './schemes/index.js';

/**
 * Bodies up to this size are re-serialised to look for `body-changed-after-signing`. The work is
 * done for refused requests, which anyone can send: the cap bounds what a refusal costs.
 */
export const REENCODE_MAX_BYTES = 64 * 1024;

/** Presets that key HMAC with the secret's text as it is (Stripe too, but its secrets are `whsec_` by design). */
const TEXT_KEY_PRESETS: ReadonlySet<Preset> = new Set(['github', 'shopify', 'slack', 'twilio', 'hmac']);
const DECODED_KEY_PRESETS: ReadonlySet<Preset> = new Set(['standard-webhooks', 'svix']);
const WHSEC = STANDARD_WEBHOOKS_SECRET_PREFIX;

/**
 * The keys the configured secrets may have been meant as: for a text-key preset, a `whsec_`
 * secret's decoded bytes and its text without the prefix; for standard-webhooks / svix, each
 * secret's text as the key. Stripe keys HMAC with the whole `whsec_` string, so it has none.
 */
export function reinterpretedSecrets(preset: Preset, secrets: readonly string[]): Secret[] {
  const out: Secret[] = [];
  if (TEXT_KEY_PRESETS.has(preset)) {
    for (const s of secrets) {
      if (!s.startsWith(WHSEC) || s.length === WHSEC.length) continue;
      out.push(s.slice(WHSEC.length));
      try {
        out.push(decodeStandardWebhooksSecret(s));
      } catch {
        // Not base64 after the prefix: only the text reading is left.
      }
    }
  } else if (DECODED_KEY_PRESETS.has(preset)) {
    for (const s of secrets) out.push(Buffer.from(s, 'utf8'));
  }
  return out;
}

/**
 * Config warnings for secrets that look meant for another kind of preset. They name the secret's
 * position, never its value.
 */
export function secretFormatWarnings(preset: Preset, secrets: readonly string[]): string[] {
  const out: string[] = [];
  secrets.forEach((s, i) => {
    if (TEXT_KEY_PRESETS.has(preset) && s.startsWith(WHSEC)) {
      out.push(`secrets[${i}] starts with "${WHSEC}" (a Standard Webhooks secret, the base64 of its key), but preset ${preset} keys HMAC with the secret's text as it is`);
    } else if (DECODED_KEY_PRESETS.has(preset) && !s.startsWith(WHSEC)) {
      out.push(`secrets[${i}] does not start with "${WHSEC}": preset ${preset} reads it as the base64 of the key, not as the key's text`);
    }
  });
  return out;
}

/** The body's JSON re-serialisations that differ from it (none for a non-JSON or too large body). */
export function reencodings(body: Buffer): Buffer[] {
  if (body.length === 0 || body.length > REENCODE_MAX_BYTES) return [];
  const first = body.toString('latin1', 0, Math.min(body.length, 64)).trimStart()[0];
  if (first !== '{' && first !== '[') return [];
  let value: unknown;
  try {
    value = JSON.parse(body.toString('utf8'));
  } catch {
    return [];
  }
  const out: Buffer[] = [];
  for (const text of [JSON.stringify(value), JSON.stringify(value, null, 2)]) {
    const b = Buffer.from(text, 'utf8');
    if (!b.equals(body) && !out.some((o) => o.equals(b))) out.push(b);
  }
  return out;
}

/** True when the verifier accepts the request, or refuses it only for its timestamp (checked after a match). */
function signatureMatches(verifier: Verifier, req: SignedRequest, nowMs: number): boolean {
  try {
    verifier.verify(req, nowMs);
    return true;
  } catch (err) {
    return err instanceof GatewayError && (err.reason === 'timestamp-too-old' || err.reason === 'timestamp-in-future');
  }
}

/** Finds the reason of a refusal by the route's verifier: `(request, clock, the verifier's error) => reason`. */
export type Diagnose = (req: SignedRequest, nowMs: number, err: GatewayError) => FailureReason;

/** The diagnosis of one plugin instance: its verifier, and one built from the reinterpreted secrets. */
export function createDiagnosis(params: VerifySignatureParams, publicUrl: string | undefined, verifier: Verifier): Diagnose {
  const alternates = reinterpretedSecrets(params.preset, params.secrets ?? []);
  let reread: Verifier | undefined;
  if (alternates.length > 0) {
    try {
      // Without public keys: v1a signatures do not depend on the secrets, and they already failed.
      reread = createVerifier({ ...params, publicKeys: undefined }, publicUrl, alternates);
    } catch {
      // A secret that cannot be read the other way either: nothing to diagnose with it.
    }
  }
  return (req, nowMs, err) => {
    const reason = (err.reason as FailureReason | undefined) ?? 'no-secret-matched';
    if (reason !== 'no-secret-matched') return reason;
    if (reread && signatureMatches(reread, req, nowMs)) return 'secret-format';
    for (const body of reencodings(req.body)) if (signatureMatches(verifier, { ...req, body }, nowMs)) return 'body-changed-after-signing';
    return reason;
  };
}
