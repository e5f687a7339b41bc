import { createPublicKey, createSecretKey, type KeyObject } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import jwt from 'jsonwebtoken';
import { definePlugin, Errors, GatewayError, withoutQueryParam, type Context } from '../../gateway/plugin-api.js';

/**
 * `jwt-auth`: verifies a JSON Web Token (jsonwebtoken) and sets `ctx.consumer`.
 *
 * Keys are turned into `KeyObject`s once, in `create()`: jsonwebtoken re-parses a string
 * secret or PEM on every `verify` (it tries `createPublicKey` first, which throws for a
 * secret), which is about 50x slower than handing it a ready KeyObject.
 */

const ALGORITHMS = ['HS256', 'HS384', 'HS512', 'RS256', 'RS384', 'RS512', 'ES256', 'ES384', 'ES512', 'PS256', 'PS384', 'PS512'] as const;
export type JwtAlgorithm = (typeof ALGORITHMS)[number];

export interface JwtAuthParams {
  /** Accepted signature algorithms. Required; `none` is never accepted. */
  algorithms: JwtAlgorithm[];
  /** HMAC secrets (HS256/384/512), as UTF-8 strings. Several may be listed for rotation. */
  secrets: string[];
  /** Inline PEM public keys (or certificates) for RS/ES/PS algorithms. */
  publicKeys: string[];
  /** PEM files for RS/ES/PS algorithms, relative to the config file's directory. */
  publicKeyFiles: string[];
  /** Expected `iss`: one value or a list of accepted values. */
  issuer?: string | string[];
  /** Expected `aud`: one value or a list; the token must carry at least one of them. */
  audience?: string | string[];
  /** Leeway for `exp` and `nbf`, in seconds. */
  clockToleranceSec: number;
  /** Header that carries `Bearer <token>`. */
  header: string;
  /** Also accept the token from this query parameter. */
  queryParam?: string;
  /** Also accept the token from this cookie. */
  cookie?: string;
  /** Claim whose value becomes `ctx.consumer`. */
  consumerClaim: string;
  /** Claims forwarded upstream as headers: `{ sub: x-user-id }`. */
  forwardClaims: Record<string, string>;
  /** Remove the credential (header, query param or cookie it came from) before forwarding. */
  hideCredentials: boolean;
}

const stringOrList = {
  anyOf: [
    { type: 'string', minLength: 1 },
    { type: 'array', minItems: 1, items: { type: 'string', minLength: 1 } },
  ],
};

const REALM = 'Bearer realm="hookgate"';
const INVALID_TOKEN = { 'www-authenticate': `${REALM}, error="invalid_token"` };
// RFC 6750 §3.1: a request without any credential gets the challenge without an error code.
const NO_TOKEN = { 'www-authenticate': REALM };

/** Hard cap on a token's size; anything bigger is not worth decoding. */
const MAX_TOKEN_CHARS = 16 * 1024;

/** Curves jsonwebtoken requires for each ES algorithm. */
const EC_CURVES: Record<string, string> = { ES256: 'prime256v1', ES384: 'secp384r1', ES512: 'secp521r1' };

/** Whether a key can verify `alg` (mirrors jsonwebtoken's key type checks, so we never try a key it would refuse). */
function keyFits(alg: string, key: KeyObject): boolean {
  if (alg.startsWith('HS')) return key.type === 'secret';
  if (key.type !== 'public') return false;
  if (alg.startsWith('RS')) return key.asymmetricKeyType === 'rsa';
  if (alg.startsWith('PS')) return key.asymmetricKeyType === 'rsa' || key.asymmetricKeyType === 'rsa-pss';
  if (alg.startsWith('ES')) return key.asymmetricKeyType === 'ec' && key.asymmetricKeyDetails?.namedCurve === EC_CURVES[alg];
  return false;
}

function fail(message: string): GatewayError {
  return Errors.AUTH_INVALID(message).with(INVALID_TOKEN);
}

/** Reads the JOSE header without trusting it; undefined when it is not a JSON object. */
function decodeHeader(token: string): Record<string, unknown> | undefined {
  const dot = token.indexOf('.');
  if (dot <= 0) return undefined;
  try {
    const h: unknown = JSON.parse(Buffer.from(token.slice(0, dot), 'base64url').toString('utf8'));
    return h && typeof h === 'object' && !Array.isArray(h) ? (h as Record<string, unknown>) : undefined;
  } catch {
    return undefined;
  }
}

/**
 * RFC 7515 §4.1.11: `crit` lists header parameters the recipient must understand and process, or
 * reject the token. We understand no extension (not even `b64`, RFC 7797, which would change what
 * the signature covers), so any `crit` is refused; a malformed one (not a non-empty array of
 * strings) is refused with its own message. Checked before the signature, like `alg`, so a cached
 * verdict can never be reached for such a token. The message never echoes the listed names.
 */
function checkCrit(crit: unknown): void {
  if (crit === undefined) return;
  if (!Array.isArray(crit) || crit.length === 0 || !crit.every((c) => typeof c === 'string' && c.length > 0)) {
    throw fail('malformed crit header parameter');
  }
  throw fail('token requires header extensions this gateway does not support (crit)');
}

/** Value of one cookie from a Cookie header, or undefined. */
function readCookie(header: string | undefined, name: string): string | undefined {
  if (!header) return undefined;
  for (const part of header.split(';')) {
    const eq = part.indexOf('=');
    if (eq < 0 || part.slice(0, eq).trim() !== name) continue;
    let v = part.slice(eq + 1).trim();
    if (v.length >= 2 && v.startsWith('"') && v.endsWith('"')) v = v.slice(1, -1);
    return v;
  }
  return undefined;
}

/** The Cookie header without one cookie, or undefined when nothing is left. */
function withoutCookie(header: string, name: string): string | undefined {
  const kept = header.split(';').filter((part) => {
    const eq = part.indexOf('=');
    return !(eq >= 0 && part.slice(0, eq).trim() === name);
  });
  const out = kept.map((p) => p.trim()).filter(Boolean).join('; ');
  return out || undefined;
}


type TokenSource = 'header' | 'query' | 'cookie';

/**
 * Claim → header value: printable-ASCII strings as is, anything else as JSON with non-ASCII
 * escaped, so a claim can never smuggle a CR/LF or a byte Node refuses in a header.
 */
function claimHeaderValue(v: unknown): string {
  if (typeof v === 'string' && /^[\x20-\x7e]*$/.test(v)) return v;
  return JSON.stringify(v).replace(/[^\x20-\x7e]/g, (c) => '\\u' + c.charCodeAt(0).toString(16).padStart(4, '0'));
}

export const jwtAuthPlugin = definePlugin<JwtAuthParams>({
  name: 'jwt-auth',
  schema: {
    type: 'object',
    additionalProperties: false,
    required: ['algorithms'],
    properties: {
      algorithms: { type: 'array', minItems: 1, uniqueItems: true, items: { enum: [...ALGORITHMS] } },
      // writeOnly: config errors never echo these values.
      secrets: { type: 'array', writeOnly: true, items: { type: 'string', minLength: 1, writeOnly: true }, default: [] },
      publicKeys: { type: 'array', items: { type: 'string', minLength: 1 }, default: [] },
      publicKeyFiles: { type: 'array', items: { type: 'string', minLength: 1 }, default: [] },
      issuer: stringOrList,
      audience: stringOrList,
      clockToleranceSec: { type: 'integer', minimum: 0, maximum: 3600, default: 30 },
      header: { type: 'string', pattern: '^[A-Za-z0-9-]+$', default: 'authorization' },
      queryParam: { type: 'string', minLength: 1 },
      cookie: { type: 'string', pattern: "^[!#$%&'*+.^_`|~0-9A-Za-z-]+$" },
      consumerClaim: { type: 'string', minLength: 1, default: 'sub' },
      forwardClaims: {
        type: 'object',
        additionalProperties: { type: 'string', pattern: '^[A-Za-z0-9-]+$' },
        default: {},
      },
      hideCredentials: { type: 'boolean', default: false },
    },
  },

  create(params, env) {
    const algorithms = new Set<string>(params.algorithms);
    if (algorithms.has('none')) throw new Error('jwt-auth: algorithm "none" is never allowed');

    const keys: KeyObject[] = [];
    for (const secret of params.secrets) keys.push(createSecretKey(Buffer.from(secret, 'utf8')));
    params.publicKeys.forEach((pem, i) => {
      try {
        keys.push(createPublicKey(pem));
      } catch (err) {
        throw new Error(`jwt-auth: publicKeys[${i}] is not a valid PEM public key (${(err as Error).message})`);
      }
    });
    for (const file of params.publicKeyFiles) {
      const path = resolve(env.configDir, file);
      let pem: string;
      try {
        pem = readFileSync(path, 'utf8');
      } catch (err) {
        throw new Error(`jwt-auth: cannot read public key file ${path}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
      }
      try {
        keys.push(createPublicKey(pem));
      } catch (err) {
        throw new Error(`jwt-auth: ${path} is not a valid PEM public key (${(err as Error).message})`);
      }
    }

    // Candidate keys per algorithm, computed once; an allowed algorithm without a key is a config mistake.
    const keysByAlg = new Map<string, KeyObject[]>();
    for (const alg of algorithms) {
      const fit = keys.filter((k) => keyFits(alg, k));
      if (fit.length === 0) {
        throw new Error(
          alg.startsWith('HS')
            ? `jwt-auth: algorithm ${alg} is allowed but no "secrets" are configured`
            : `jwt-auth: algorithm ${alg} is allowed but no public key (publicKeys / publicKeyFiles) fits it`,
        );
      }
      keysByAlg.set(alg, fit);
    }

    const baseOptions: jwt.VerifyOptions = { clockTolerance: params.clockToleranceSec };
    if (params.issuer !== undefined) baseOptions.issuer = params.issuer as string | [string, ...string[]];
    if (params.audience !== undefined) baseOptions.audience = params.audience as string | [string, ...string[]];

    const headerName = params.header.toLowerCase();
    const consumerClaim = params.consumerClaim;
    const forward = Object.entries(params.forwardClaims ?? {}).map(([claim, h]) => [claim, h.toLowerCase()] as const);
    const hide = params.hideCredentials ?? false;

    /** The token and where it was found; header first, then query, then cookie. */
    function findToken(ctx: Context): { token: string; source: TokenSource } | undefined {
      const auth = ctx.header(headerName);
      if (auth) {
        const m = /^Bearer[ \t]+(\S+)[ \t]*$/i.exec(auth);
        if (m) return { token: m[1]!, source: 'header' };
      }
      if (params.queryParam && ctx.search.length > 1) {
        const q = new URLSearchParams(ctx.search).get(params.queryParam);
        if (q) return { token: q, source: 'query' };
      }
      if (params.cookie) {
        const c = readCookie(ctx.header('cookie'), params.cookie);
        if (c) return { token: c, source: 'cookie' };
      }
      return undefined;
    }

    // Verified tokens, by their exact text (an Envoy-style JWT cache): a partner sends the same
    // token for its lifetime, so the signature is checked once, not per request. A hit still
    // re-checks exp and nbf against the clock; keys cannot change under a plugin instance.
    const cache = new Map<string, jwt.JwtPayload>();
    const CACHE_MAX = 1024;
    const tolerance = params.clockToleranceSec;

    function cached(token: string): jwt.JwtPayload | undefined {
      const claims = cache.get(token);
      if (!claims) return undefined;
      const now = Date.now() / 1000;
      if (typeof claims.exp === 'number' && now >= claims.exp + tolerance) {
        cache.delete(token);
        throw fail('token expired');
      }
      if (typeof claims.nbf === 'number' && now < claims.nbf - tolerance) throw fail('token not yet valid');
      return claims;
    }

    function verify(token: string): jwt.JwtPayload {
      const hit = cached(token);
      if (hit) return hit;
      const claims = verifyUncached(token);
      if (cache.size >= CACHE_MAX) cache.delete(cache.keys().next().value!);
      cache.set(token, claims);
      return claims;
    }

    function verifyUncached(token: string): jwt.JwtPayload {
      if (token.length > MAX_TOKEN_CHARS) throw fail('token too large');
      const header = decodeHeader(token);
      if (!header || typeof header.alg !== 'string') throw fail('malformed token');
      // Decided here, before any key is touched: unsigned tokens and algorithms outside the allowlist never reach verify.
      if (header.alg.toLowerCase() === 'none') throw fail('unsigned tokens are not accepted');
      const candidates = keysByAlg.get(header.alg);
      if (!candidates) throw fail('token algorithm not allowed');
      checkCrit(header.crit);

      const options = { ...baseOptions, algorithms: [header.alg as jwt.Algorithm], complete: false as const };
      for (const key of candidates) {
        try {
          const payload = jwt.verify(token, key, options);
          if (typeof payload === 'string') throw fail('token payload is not a JSON object');
          return payload;
        } catch (err) {
          if (err instanceof GatewayError) throw err;
          // A bad signature means "try the next key"; any other error means the signature was fine
          // (or the token is broken for every key), so it is the answer.
          if (err instanceof jwt.JsonWebTokenError && err.message === 'invalid signature') continue;
          if (err instanceof jwt.TokenExpiredError) throw fail('token expired');
          if (err instanceof jwt.NotBeforeError) throw fail('token not yet valid');
          if (err instanceof jwt.JsonWebTokenError) {
            if (err.message.startsWith('jwt issuer invalid')) throw fail('token issuer not accepted');
            if (err.message.startsWith('jwt audience invalid')) throw fail('token audience not accepted');
            throw fail('invalid token');
          }
          // A plain Error is jsonwebtoken refusing this key for this token (e.g. RSA-PSS parameters): next key.
          continue;
        }
      }
      throw fail('invalid token signature');
    }

    return {
      // The cookie header is redacted by the log on every route.
      credentials: { headers: [headerName], query: params.queryParam ? [params.queryParam] : [] },
      onRequest(ctx) {
        const found = findToken(ctx);
        if (!found) throw Errors.AUTH_INVALID('missing bearer token').with(NO_TOKEN);
        const claims = verify(found.token);

        const consumer = claims[consumerClaim];
        if (typeof consumer === 'string' || typeof consumer === 'number') ctx.consumer = String(consumer);

        const headers = ctx.headers;
        for (const [claim, name] of forward) {
          const v = claims[claim];
          // Always overwrite or drop: a client must not be able to send its own x-user-id.
          if (v === undefined || v === null) delete headers[name];
          else headers[name] = claimHeaderValue(v);
        }

        if (hide) {
          if (found.source === 'header') delete headers[headerName];
          else if (found.source === 'query') ctx.search = withoutQueryParam(ctx.search, params.queryParam!);
          else {
            const rest = withoutCookie(ctx.header('cookie') ?? '', params.cookie!);
            if (rest === undefined) delete headers.cookie;
            else headers.cookie = rest;
          }
        }
      },
    };
  },
});
