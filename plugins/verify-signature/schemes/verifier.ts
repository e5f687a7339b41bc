/**
 * What every scheme module shares: the preset list, the plugin params as the verifiers read them,
 * the request a verifier sees, and the Verifier contract itself.
 */
export const PRESETS = ['standard-webhooks', 'svix', 'stripe', 'github', 'shopify', 'slack', 'twilio', 'hmac'] as const;
export type Preset = (typeof PRESETS)[number];

/**
 * Why a request was refused, in one stable word: the access line's `reason`, the
 * `hookgate_signature_failures_total{reason}` label and, with `diagnostics: true`, the
 * `Hookgate-Signature-Diagnosis` response header. None of them says anything about the secrets.
 */
export const FAILURE_REASONS = [
  'no-signature-header',
  'malformed-header',
  'timestamp-too-old',
  'timestamp-in-future',
  'no-secret-matched',
  'body-changed-after-signing',
  'secret-format',
] as const;
export type FailureReason = (typeof FAILURE_REASONS)[number];

/**
 * A signing secret as a verifier takes it: a string is read the preset's way (standard-webhooks
 * decodes `whsec_` base64, the others key HMAC with its UTF-8 text); a Buffer is the key bytes as
 * they are (only the diagnostics' re-interpretations of a secret pass one).
 */
export type Secret = string | Buffer;

export type HmacAlgorithm = 'sha1' | 'sha256' | 'sha512';
export type SignatureEncoding = 'hex' | 'base64';

/** The plugin params (after schema defaults), as the verifiers read them. */
export interface VerifySignatureParams {
  preset: Preset;
  secrets?: string[];
  /** standard-webhooks / svix only: `whpk_` + base64 raw ed25519 public keys, for `v1a` signatures. */
  publicKeys?: string[];
  toleranceSec?: number;
  dedupe?: boolean;
  dedupeWindowSec?: number;
  /** Also say why a request was refused in a `Hookgate-Signature-Diagnosis` response header. */
  diagnostics?: boolean;
  /** Overrides the route's publicUrl (twilio, or hmac with `{url}`). */
  publicUrl?: string;
  // Generic `hmac` preset (HMAC_ONLY); `header` is spelled as error messages name it.
  header?: string;
  algorithm?: HmacAlgorithm;
  encoding?: SignatureEncoding;
  prefix?: string;
  template?: string;
  timestampHeader?: string;
  idHeader?: string;
}

/** The params only the generic `hmac` preset reads (its rows set them in code). */
export const HMAC_ONLY = ['header', 'algorithm', 'encoding', 'prefix', 'template', 'timestampHeader', 'idHeader'] as const;

/** The parts of a request a verifier reads. */
export interface SignedRequest {
  /** Header lookup; names are passed lower-case. */
  header(name: string): string | undefined;
  /** The raw body bytes as received (empty Buffer when there is none). */
  body: Buffer;
  /** The query string with its leading `?`, or ''. */
  search: string;
}

/** What a valid signature tells us. */
export interface Verified {
  /** Message id, when the scheme carries one (signed or not: see `Verifier.idSigned`). */
  id?: string;
  /** The signed timestamp (Unix seconds), when the scheme has one. */
  timestamp?: number;
  /**
   * The signature that matched, as canonical bytes (the MAC we computed, or the ed25519
   * signature), never the header text: a replay that re-spells the header (hex case, base64
   * alphabet or padding, decoy entries) has the same bytes. Dedupe keys on it when the id is
   * not signed.
   */
  signature: Buffer;
}

export interface Verifier {
  readonly preset: Preset;
  /** The scheme can carry a message id (provider retries reuse it), so dedupe defaults to on. */
  readonly carriesId: boolean;
  /**
   * The id is covered by the signature, so a captured request cannot be replayed under another
   * id and dedupe can key on it. False where the id is a bare header (GitHub, Shopify, Twilio,
   * hmac without `{id}` in its template): dedupe then keys on the signature instead.
   */
  readonly idSigned: boolean;
  /** The scheme signs a timestamp (replays are bounded by `toleranceSec`). */
  readonly hasTimestamp: boolean;
  /**
   * Throws a GatewayError (HG_SIGNATURE_MISSING / HG_SIGNATURE_INVALID / HG_TIMESTAMP_OUT_OF_RANGE)
   * whose `reason` is a FailureReason, or returns. The timestamp is checked only once a signature
   * matched, so a timestamp reason also says the signature was right.
   */
  verify(req: SignedRequest, nowMs: number): Verified;
}

export const DEFAULT_TOLERANCE_SEC = 300;
