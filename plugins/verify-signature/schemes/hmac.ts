/**
 * The generic HMAC verifier (preset `hmac`), and github / shopify / slack, which are fixed rows of it.
 */
import { createHash } from 'node:crypto';
import { signatureEqual } from '../../../gateway/plugin-api.js';
import { BASE64, checkTs, HEX, hmac, invalid, missing, parseSeconds, requireSecrets } from './checks.js';
import { DEFAULT_TOLERANCE_SEC, type HMAC_ONLY, type Secret, type Verified, type Verifier, type VerifySignatureParams } from './verifier.js';

/** The presets that are configurations of the generic HMAC verifier. */
export type HmacPreset = 'hmac' | 'github' | 'shopify' | 'slack';

export interface HmacOptions extends Pick<VerifySignatureParams, 'toleranceSec' | 'publicUrl' | (typeof HMAC_ONLY)[number]> {
  secrets?: readonly Secret[];
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
 * `timestampHeader` is set, is Unix seconds, must be signed (`{timestamp}`) and is range-checked.
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
  // A timestamp outside the signed content can be rewritten by whoever replays the request, so
  // its range check would bound nothing while looking like replay protection.
  if (opts.timestampHeader && !uses('timestamp')) throw new Error('verify-signature: timestampHeader is set but the template does not sign {timestamp}');
  if (uses('url') && !opts.publicUrl) throw new Error('verify-signature: template uses {url} but the route has no publicUrl');
  const tsHeader = opts.timestampHeader?.toLowerCase();
  const idHeader = opts.idHeader?.toLowerCase();
  const digestBytes = createHash(algorithm).digest().length;

  return {
    preset: opts.preset ?? 'hmac',
    carriesId: idHeader !== undefined,
    // Only an id that is part of the template is covered by the signature.
    idSigned: uses('id'),
    hasTimestamp: tsHeader !== undefined,
    verify(req, nowMs) {
      const raw = req.header(header)?.trim();
      if (!raw) throw missing(opts.header!, 'no-signature-header');
      if (!raw.startsWith(prefix)) throw missing(opts.header!);
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
      let matched: Buffer | undefined;
      for (const secret of secrets) {
        const digest = hmac(algorithm, secret, ...pieces);
        if (signatureEqual(typeof given === 'string' ? digest.toString('base64') : digest, given)) matched = digest;
      }
      if (!matched) throw invalid();
      if (ts !== undefined) checkTs(ts, tol, nowMs);
      const verified: Verified = { signature: matched };
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
