/**
 * One signature verifier per provider preset. Every verifier works on the raw body bytes exactly
 * as received, accepts several secrets at once (rotation), compares in constant time and checks
 * timestamps in both directions. Verifiers are pure: the clock is an explicit argument, so the
 * providers' published test vectors (with old timestamps) can be checked as they are.
 */
import { createHash, createHmac, createPublicKey, verify as cryptoVerify, type KeyObject } from 'node:crypto';
import { checkTimestamp, decodeStandardWebhooksSecret, Errors, GatewayError, parseStripeSignatureHeader, parseVersionedSignatures, signatureEqual } from '../../gateway/plugin-api.js';

export const PRESETS = ['standard-webhooks', 'svix', 'stripe', 'github', 'shopify', 'slack', 'twilio', 'hmac'] as const;
export type Preset = (typeof PRESETS)[number];

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
const HMAC_ONLY = ['header', 'algorithm', 'encoding', 'prefix', 'template', 'timestampHeader', 'idHeader'] as const;

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
  /** Message id for dedupe, when the scheme carries one. */
  id?: string;
  /** The signed timestamp (Unix seconds), when the scheme has one. */
  timestamp?: number;
}

export interface Verifier {
  readonly preset: Preset;
  /** The scheme can carry a message id, so dedupe defaults to on. */
  readonly carriesId: boolean;
  /** The scheme signs a timestamp (replays are bounded by `toleranceSec`). */
  readonly hasTimestamp: boolean;
  /** Throws a GatewayError (HG_SIGNATURE_MISSING / HG_SIGNATURE_INVALID / HG_TIMESTAMP_OUT_OF_RANGE) or returns. */
  verify(req: SignedRequest, nowMs: number): Verified;
}

export const DEFAULT_TOLERANCE_SEC = 300;

// ---------------------------------------------------------------------------------------------
// Errors: one wording per failure kind. The message never names a secret or says which one was close.

function missing(header: string): GatewayError {
  return Errors.SIGNATURE_MISSING(header);
}
function invalid(detail = 'signature does not match'): GatewayError {
  return Errors.SIGNATURE_INVALID(detail);
}
function checkTs(ts: number, toleranceSec: number, nowMs: number): void {
  const r = checkTimestamp(ts, toleranceSec, nowMs);
  if (r !== 'ok') {
    throw Errors.TIMESTAMP_OUT_OF_RANGE(
      `signature timestamp is ${r === 'stale' ? 'too old' : 'in the future'} (tolerance ${toleranceSec}s)`,
    );
  }
}

const INT_SECONDS = /^\d{1,15}$/;
const HEX = /^[0-9a-fA-F]+$/;
// Standard or URL-safe alphabet, optional padding.
const BASE64 = /^[A-Za-z0-9+/_-]+={0,2}$/;

function parseSeconds(v: string | undefined): number | undefined {
  return v !== undefined && INT_SECONDS.test(v.trim()) ? Number(v.trim()) : undefined;
}

function hmac(algorithm: HmacAlgorithm, key: Buffer | string, ...parts: Array<Buffer | string>): Buffer {
  const h = createHmac(algorithm, key);
  // Fed in parts so a large body is never copied to prepend a short prefix.
  for (const p of parts) h.update(p);
  return h.digest();
}

function requireSecrets(secrets: string[] | undefined, allowEmpty = false): string[] {
  const list = (secrets ?? []).filter((s) => typeof s === 'string');
  if (!allowEmpty && list.length === 0) throw new Error('verify-signature: secrets must not be empty');
  if (list.some((s) => s.length === 0)) throw new Error('verify-signature: secrets must not contain an empty string');
  return list;
}

// ---------------------------------------------------------------------------------------------
// standard-webhooks / svix

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

export interface StandardWebhooksOptions {
  secrets?: string[];
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
  const keys = requireSecrets(opts.secrets, true).map(standardWebhooksKey);
  const pubKeys = (opts.publicKeys ?? []).map(decodeStandardWebhooksPublicKey);
  if (keys.length === 0 && pubKeys.length === 0) throw new Error('verify-signature: secrets must not be empty');
  const tol = opts.toleranceSec ?? DEFAULT_TOLERANCE_SEC;
  const sets = opts.headerSets ?? [WEBHOOK_HEADERS];
  return {
    preset: opts.preset ?? 'standard-webhooks',
    carriesId: true,
    hasTimestamp: true,
    verify(req, nowMs) {
      // Use one header set as a whole, so ids/timestamps are never mixed across the two namings.
      const names = sets.find((s) => req.header(s.signature) !== undefined) ?? sets[0]!;
      const id = req.header(names.id);
      if (!id) throw missing(names.id);
      const tsText = req.header(names.timestamp);
      const ts = parseSeconds(tsText);
      if (ts === undefined) throw missing(names.timestamp);
      const entries = parseVersionedSignatures(req.header(names.signature));
      if (entries.length === 0) throw missing(names.signature);

      const prefix = Buffer.from(`${id}.${tsText!.trim()}.`, 'utf8');
      let ok = false;
      const v1 = entries.filter((e) => e.version === 'v1');
      if (v1.length > 0) {
        for (const key of keys) {
          const expected = hmac('sha256', key, prefix, req.body).toString('base64');
          for (const e of v1) if (signatureEqual(expected, e.signature)) ok = true;
        }
      }
      const v1a = entries.filter((e) => e.version === 'v1a');
      if (!ok && v1a.length > 0 && pubKeys.length > 0) {
        const signed = Buffer.concat([prefix, req.body]);
        for (const e of v1a) {
          const sig = BASE64.test(e.signature) ? Buffer.from(e.signature, 'base64') : undefined;
          if (!sig || sig.length !== 64) continue;
          for (const pk of pubKeys) {
            try {
              if (cryptoVerify(null, signed, pk, sig)) ok = true;
            } catch {
              // A malformed signature is just a non-match.
            }
          }
          if (ok) break;
        }
      }
      if (!ok) throw invalid();
      checkTs(ts, tol, nowMs);
      return { id, timestamp: ts };
    },
  };
}

/** svix: the standard-webhooks scheme with `svix-*` headers, falling back to `webhook-*`. */
export function svixVerifier(opts: Omit<StandardWebhooksOptions, 'headerSets' | 'preset'>): Verifier {
  return standardWebhooksVerifier({ ...opts, headerSets: [SVIX_HEADERS, WEBHOOK_HEADERS], preset: 'svix' });
}

// ---------------------------------------------------------------------------------------------
// stripe

export interface StripeOptions {
  secrets?: string[];
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
    hasTimestamp: true,
    verify(req, nowMs) {
      const parsed = parseStripeSignatureHeader(req.header('stripe-signature'));
      if (!parsed) throw missing('Stripe-Signature');
      let ok = false;
      for (const secret of secrets) {
        const expected = hmac('sha256', secret, `${parsed.timestamp}.`, req.body).toString('hex');
        for (const sig of parsed.v1) if (signatureEqual(expected, sig)) ok = true;
      }
      if (!ok) throw invalid();
      checkTs(parsed.timestamp, tol, nowMs);
      return { id: jsonId(req.body), timestamp: parsed.timestamp };
    },
  };
}

// ---------------------------------------------------------------------------------------------
// twilio

export interface TwilioOptions {
  secrets?: string[];
  /** The public URL Twilio calls, without the query string (that comes from the request). */
  publicUrl: string;
}

/** Twilio signs the URL as configured; like twilio-node, accept it with and without the default port. */
function urlPortVariants(url: string): string[] {
  const m = /^([a-z][a-z0-9+.-]*:\/\/)([^/?#]*)(.*)$/is.exec(url);
  if (!m) return [url];
  const [, scheme, authority, rest] = m as unknown as [string, string, string, string];
  const at = authority.lastIndexOf('@');
  const userInfo = authority.slice(0, at + 1);
  const hostPort = authority.slice(at + 1);
  const colon = hostPort.indexOf(':', hostPort.lastIndexOf(']') + 1);
  const host = colon === -1 ? hostPort : hostPort.slice(0, colon);
  const defaultPort = scheme.toLowerCase() === 'https://' ? ':443' : ':80';
  const variants = new Set([url, scheme + userInfo + host + rest]);
  if (colon === -1) variants.add(scheme + userInfo + host + defaultPort + rest);
  return [...variants];
}

/** Twilio's form-parameter string: keys sorted, each key+value; repeated keys once per distinct value, sorted. */
function twilioParamString(body: Buffer): string {
  const grouped = new Map<string, string[]>();
  for (const [k, v] of new URLSearchParams(body.toString('utf8'))) {
    const list = grouped.get(k);
    if (list) list.push(v);
    else grouped.set(k, [v]);
  }
  let out = '';
  for (const k of [...grouped.keys()].sort()) {
    for (const v of [...new Set(grouped.get(k)!)].sort()) out += k + v;
  }
  return out;
}

/**
 * twilio: `X-Twilio-Signature`, base64 HMAC-SHA1 over the public URL (+ query string) followed,
 * for form bodies, by the sorted params. Other bodies must be covered by a `bodySHA256` query
 * param (hex SHA-256 of the body); the signature is then over the URL alone. A non-empty body
 * that is neither form-encoded nor hash-covered is rejected, since nothing would authenticate it.
 */
export function twilioVerifier(opts: TwilioOptions): Verifier {
  const secrets = requireSecrets(opts.secrets);
  if (!opts.publicUrl) throw new Error('verify-signature: preset twilio needs the route publicUrl (or a publicUrl param)');
  const publicUrl = opts.publicUrl;
  return {
    preset: 'twilio',
    carriesId: true,
    hasTimestamp: false,
    verify(req) {
      const given = req.header('x-twilio-signature')?.trim();
      if (!given || !BASE64.test(given)) throw missing('X-Twilio-Signature');
      const url = publicUrl + req.search;
      const bodyHash = new URLSearchParams(req.search).get('bodySHA256');
      const contentType = (req.header('content-type') ?? '').split(';')[0]!.trim().toLowerCase();
      let params = '';
      if (bodyHash !== null) {
        if (!signatureEqual(createHash('sha256').update(req.body).digest('hex'), bodyHash.toLowerCase())) {
          throw invalid('body does not match the signed bodySHA256');
        }
      } else if (contentType === 'application/x-www-form-urlencoded') {
        params = twilioParamString(req.body);
      } else if (req.body.length > 0) {
        throw invalid('body is not covered by the signature (no bodySHA256 in the URL)');
      }
      let ok = false;
      for (const secret of secrets) {
        for (const u of urlPortVariants(url)) {
          if (signatureEqual(hmac('sha1', secret, u, params).toString('base64'), given)) ok = true;
        }
      }
      if (!ok) throw invalid();
      return { id: req.header('i-twilio-idempotency-token') || undefined };
    },
  };
}

// ---------------------------------------------------------------------------------------------
// generic hmac

/** The presets that are configurations of the generic HMAC verifier. */
export type HmacPreset = 'hmac' | 'github' | 'shopify' | 'slack';

export interface HmacOptions extends Pick<VerifySignatureParams, 'secrets' | 'toleranceSec' | 'publicUrl' | (typeof HMAC_ONLY)[number]> {
  /** The preset this configuration is (default `hmac`); it names the verifier in dedupe keys. */
  preset?: HmacPreset;
  /**
   * base64 only: the signature must be the exact text of the standard encoding, as Shopify's own
   * library compares it. Otherwise the decoded bytes are compared, which also accepts URL-safe and
   * unpadded spellings.
   */
  exactBase64?: boolean;
}

type TemplatePart = { literal: string } | { field: 'id' | 'timestamp' | 'body' | 'url' };

function parseTemplate(template: string): TemplatePart[] {
  const parts: TemplatePart[] = [];
  const re = /\{([a-zA-Z_]+)\}/g;
  let last = 0;
  for (let m = re.exec(template); m; m = re.exec(template)) {
    const name = m[1]!;
    if (name !== 'id' && name !== 'timestamp' && name !== 'body' && name !== 'url') {
      throw new Error(`verify-signature: unknown template placeholder {${name}} (known: {id}, {timestamp}, {body}, {url})`);
    }
    if (m.index > last) parts.push({ literal: template.slice(last, m.index) });
    parts.push({ field: name });
    last = m.index + m[0].length;
  }
  if (last < template.length) parts.push({ literal: template.slice(last) });
  return parts;
}

/**
 * Generic HMAC, for providers without a preset: `header` carries `prefix` + the encoded digest of
 * `template` (placeholders `{id}`, `{timestamp}`, `{body}`, `{url}`); the timestamp, when
 * `timestampHeader` is set, is Unix seconds and is range-checked.
 */
export function hmacVerifier(opts: HmacOptions): Verifier {
  const secrets = requireSecrets(opts.secrets);
  if (!opts.header) throw new Error('verify-signature: preset hmac needs a "header" param');
  const header = opts.header.toLowerCase();
  const algorithm = opts.algorithm ?? 'sha256';
  const encoding = opts.encoding ?? 'hex';
  const prefix = opts.prefix ?? '';
  const tol = opts.toleranceSec ?? DEFAULT_TOLERANCE_SEC;
  const parts = parseTemplate(opts.template ?? '{body}');
  const uses = (f: string) => parts.some((p) => 'field' in p && p.field === f);
  if (uses('timestamp') && !opts.timestampHeader) throw new Error('verify-signature: template uses {timestamp} but no timestampHeader is set');
  if (uses('id') && !opts.idHeader) throw new Error('verify-signature: template uses {id} but no idHeader is set');
  if (uses('url') && !opts.publicUrl) throw new Error('verify-signature: template uses {url} but the route has no publicUrl');
  const tsHeader = opts.timestampHeader?.toLowerCase();
  const idHeader = opts.idHeader?.toLowerCase();
  const digestBytes = createHash(algorithm).digest().length;

  return {
    preset: opts.preset ?? 'hmac',
    carriesId: idHeader !== undefined,
    hasTimestamp: tsHeader !== undefined,
    verify(req, nowMs) {
      const raw = req.header(header)?.trim();
      if (!raw || !raw.startsWith(prefix)) throw missing(opts.header!);
      const text = raw.slice(prefix.length);
      const ok = encoding === 'hex' ? HEX.test(text) && text.length === digestBytes * 2 : BASE64.test(text);
      if (!ok) throw missing(opts.header!);
      const given = encoding === 'hex' ? Buffer.from(text, 'hex') : opts.exactBase64 ? text : Buffer.from(text, 'base64');

      let tsText: string | undefined;
      let ts: number | undefined;
      if (tsHeader) {
        tsText = req.header(tsHeader)?.trim();
        ts = parseSeconds(tsText);
        if (ts === undefined) throw missing(opts.timestampHeader!);
      }
      const id = idHeader ? req.header(idHeader) || undefined : undefined;
      if (uses('id') && id === undefined) throw missing(opts.idHeader!);

      const pieces: Array<Buffer | string> = parts.map((p) => {
        if ('literal' in p) return p.literal;
        switch (p.field) {
          case 'body':
            return req.body;
          case 'id':
            return id!;
          case 'timestamp':
            return tsText!;
          case 'url':
            return opts.publicUrl! + req.search;
        }
      });
      let match = false;
      for (const secret of secrets) {
        const digest = hmac(algorithm, secret, ...pieces);
        if (signatureEqual(typeof given === 'string' ? digest.toString('base64') : digest, given)) match = true;
      }
      if (!match) throw invalid();
      if (ts !== undefined) checkTs(ts, tol, nowMs);
      const verified: Verified = {};
      if (id !== undefined) verified.id = id;
      if (ts !== undefined) verified.timestamp = ts;
      return verified;
    },
  };
}

// ---------------------------------------------------------------------------------------------
// github / shopify / slack: rows of the generic verifier

export type SimpleOptions = Pick<HmacOptions, 'secrets' | 'toleranceSec'>;

const HMAC_ROWS = {
  /** `X-Hub-Signature-256: sha256=<hex>` over the body; id from `X-GitHub-Delivery`. No timestamp. */
  github: { header: 'X-Hub-Signature-256', prefix: 'sha256=', idHeader: 'X-GitHub-Delivery' },
  /** `X-Shopify-Hmac-Sha256: <base64>` over the body; id from `X-Shopify-Webhook-Id`. No timestamp. */
  shopify: { header: 'X-Shopify-Hmac-Sha256', encoding: 'base64', exactBase64: true, idHeader: 'X-Shopify-Webhook-Id' },
  /** `X-Slack-Signature: v0=<hex>` over `v0:{ts}:{body}`, ts from `X-Slack-Request-Timestamp`. No id. */
  slack: { header: 'X-Slack-Signature', prefix: 'v0=', template: 'v0:{timestamp}:{body}', timestampHeader: 'X-Slack-Request-Timestamp' },
} as const satisfies Record<Exclude<HmacPreset, 'hmac'>, HmacOptions>;

/** The verifier of a preset that is a row of the generic HMAC verifier (sha256, hex unless the row says otherwise). */
export function hmacPresetVerifier(preset: keyof typeof HMAC_ROWS, opts: SimpleOptions): Verifier {
  return hmacVerifier({ secrets: opts.secrets, toleranceSec: opts.toleranceSec, ...HMAC_ROWS[preset], preset });
}

export const githubVerifier = (opts: SimpleOptions): Verifier => hmacPresetVerifier('github', opts);
export const shopifyVerifier = (opts: SimpleOptions): Verifier => hmacPresetVerifier('shopify', opts);
export const slackVerifier = (opts: SimpleOptions): Verifier => hmacPresetVerifier('slack', opts);

// ---------------------------------------------------------------------------------------------

/**
 * Builds the verifier for `params.preset`. Throws an Error for semantic config problems
 * (empty secret list, bad secret format, missing publicUrl...). `publicUrl` is the route's;
 * a `publicUrl` param overrides it.
 */
export function createVerifier(params: VerifySignatureParams, publicUrl?: string): Verifier {
  const url = params.publicUrl ?? publicUrl;
  // Params that belong to another preset are almost always a copy-paste slip: say so rather than ignore them.
  if (params.publicKeys?.length && params.preset !== 'standard-webhooks' && params.preset !== 'svix') {
    throw new Error(`verify-signature: publicKeys only apply to presets standard-webhooks and svix, not ${params.preset}`);
  }
  if (params.preset !== 'hmac') {
    const stray = HMAC_ONLY.filter((k) => params[k] !== undefined);
    if (stray.length) throw new Error(`verify-signature: ${stray.join(', ')} only apply to preset hmac, not ${params.preset}`);
  }
  const base = { secrets: params.secrets, toleranceSec: params.toleranceSec };
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
      return twilioVerifier({ secrets: params.secrets, publicUrl: url ?? '' });
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
