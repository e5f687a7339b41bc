/** twilio: `X-Twilio-Signature`, HMAC-SHA1 over the public URL and the form params (or a bodySHA256). */
import { createHash } from 'node:crypto';
import { signatureEqual } from '../../../gateway/plugin-api.js';
import { BASE64, hmac, invalid, missing, requireSecrets } from './checks.js';
import type { Secret, Verifier } from './verifier.js';

export interface TwilioOptions {
  secrets?: readonly Secret[];
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
    // I-Twilio-Idempotency-Token is a bare header: Twilio signs the URL and the params only.
    idSigned: false,
    hasTimestamp: false,
    verify(req) {
      const given = req.header('x-twilio-signature')?.trim();
      if (!given) throw missing('X-Twilio-Signature', 'no-signature-header');
      if (!BASE64.test(given)) throw missing('X-Twilio-Signature');
      const url = publicUrl + req.search;
      const bodyHash = new URLSearchParams(req.search).get('bodySHA256');
      const contentType = (req.header('content-type') ?? '').split(';')[0]!.trim().toLowerCase();
      let params = '';
      if (bodyHash === null) {
        if (contentType === 'application/x-www-form-urlencoded') params = twilioParamString(req.body);
        else if (req.body.length > 0) throw invalid('body is not covered by the signature (no bodySHA256 in the URL)', 'malformed-header');
      }
      let matched: Buffer | undefined;
      for (const secret of secrets) {
        for (const u of urlPortVariants(url)) {
          const expected = hmac('sha1', secret, u, params);
          if (signatureEqual(expected.toString('base64'), given)) matched = expected;
        }
      }
      if (!matched) throw invalid();
      // Checked after the signature over the URL (which carries bodySHA256): a mismatch then means
      // the body is not the one the sender signed.
      if (bodyHash !== null && !signatureEqual(createHash('sha256').update(req.body).digest('hex'), bodyHash.toLowerCase())) {
        throw invalid('body does not match the signed bodySHA256', 'body-changed-after-signing');
      }
      const id = req.header('i-twilio-idempotency-token') || undefined;
      return id === undefined ? { signature: matched } : { id, signature: matched };
    },
  };
}
