import { createHash } from 'node:crypto';
import { definePlugin, Errors, safeEqual, withoutQueryParam } from '../../gateway/plugin-api.js';

/**
 * `key-auth`: an API key from a header or a query parameter, matched against a list of keys,
 * each naming its consumer. Keys may be stored in plain or as `sha256:<hex>` so the config
 * need not hold the key itself.
 */

export interface KeyAuthKey {
  /** The key in plain, or `sha256:<64 hex digits>` of it. */
  key: string;
  /** Consumer name set on `ctx.consumer` when this key matches. */
  consumer: string;
}

export interface KeyAuthParams {
  keys: KeyAuthKey[];
  /** Header that carries the key. */
  header: string;
  /** Also accept the key from this query parameter. */
  queryParam?: string;
  /** Remove the key (header and query parameter) before forwarding. */
  hideCredentials: boolean;
}

const CHALLENGE = { 'www-authenticate': 'ApiKey realm="hookgate"' };
const HASHED = /^sha256:([0-9a-fA-F]{64})$/;

function sha256(v: string): Buffer {
  return createHash('sha256').update(v, 'utf8').digest();
}


export const keyAuthPlugin = definePlugin<KeyAuthParams>({
  name: 'key-auth',
  schema: {
    type: 'object',
    additionalProperties: false,
    required: ['keys'],
    properties: {
      keys: {
        type: 'array',
        minItems: 1,
        items: {
          type: 'object',
          additionalProperties: false,
          required: ['key', 'consumer'],
          properties: {
            // writeOnly: config errors never echo it.
            key: { type: 'string', minLength: 1, writeOnly: true },
            consumer: { type: 'string', minLength: 1 },
          },
        },
      },
      header: { type: 'string', pattern: '^[A-Za-z0-9-]+$', default: 'apikey' },
      queryParam: { type: 'string', minLength: 1 },
      hideCredentials: { type: 'boolean', default: true },
    },
  },

  create(params) {
    if (!params.keys?.length) throw new Error('key-auth: "keys" must list at least one key');
    // Only digests are kept in memory; the plain keys from the config are dropped here.
    const entries = params.keys.map((k, i) => {
      if (k.key.startsWith('sha256:')) {
        const m = HASHED.exec(k.key);
        if (!m) throw new Error(`key-auth: keys[${i}].key starts with "sha256:" but is not followed by 64 hex digits`);
        return { digest: Buffer.from(m[1]!, 'hex'), consumer: k.consumer };
      }
      return { digest: sha256(k.key), consumer: k.consumer };
    });
    const seen = new Set<string>();
    entries.forEach((e, i) => {
      const hex = e.digest.toString('hex');
      if (seen.has(hex)) throw new Error(`key-auth: keys[${i}] repeats an earlier key`);
      seen.add(hex);
    });

    const header = params.header.toLowerCase();
    const queryParam = params.queryParam;
    const hide = params.hideCredentials ?? true;

    /** The matching consumer, or undefined. Compares against every entry so timing does not say which one matched. */
    function lookup(presented: string): string | undefined {
      const digest = sha256(presented);
      let found: string | undefined;
      for (const e of entries) {
        const eq = safeEqual(digest, e.digest);
        // No early exit; keys are unique, so at most one entry matches.
        found = eq ? e.consumer : found;
      }
      return found;
    }

    return {
      credentials: { headers: [header], query: queryParam ? [queryParam] : [] },
      onRequest(ctx) {
        let presented = ctx.header(header);
        if (!presented && queryParam && ctx.search.length > 1) presented = new URLSearchParams(ctx.search).get(queryParam) ?? undefined;
        if (!presented) throw Errors.AUTH_INVALID('missing API key').with(CHALLENGE);

        const consumer = lookup(presented);
        if (consumer === undefined) throw Errors.AUTH_INVALID('invalid API key').with(CHALLENGE);
        ctx.consumer = consumer;

        if (hide) {
          // Strip both places, whichever was used: upstreams never need the gateway's credential.
          delete ctx.headers[header];
          if (queryParam && ctx.search) ctx.search = withoutQueryParam(ctx.search, queryParam);
        }
      },
    };
  },
});
