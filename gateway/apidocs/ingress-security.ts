import type { PluginDefinition } from '../plugin.js';
import { jwtAuthPlugin } from '../../plugins/jwt-auth/index.js';
import { keyAuthPlugin } from '../../plugins/key-auth/index.js';
import { readSchemaFile } from './event-types.js';
import type { Json } from './openapi-common.js';

/**
 * What each built-in plugin on a route means for its OpenAPI operation: security schemes (the
 * alternatives a client may use), extra header parameters, the error codes it can answer and,
 * for validate-body, the body schema. Plugins without an effect on the contract add nothing.
 */
export interface PluginContract {
  /** Alternatives (OR); each is a list of scheme names that all apply (AND). */
  security?: string[][];
  parameters?: Json[];
  errors: string[];
  notes?: string[];
  body?: { schema: Json; contentTypes: string[] };
  responseHeaders?: Record<string, Json>;
}

/** Collects security schemes, reusing a name when the same scheme appears on several routes. */
export class SchemeRegistry {
  readonly schemes: Record<string, Json> = {};

  add(base: string, scheme: Json): string {
    const text = JSON.stringify(scheme);
    for (let n = 1; ; n++) {
      const name = n === 1 ? base : `${base}-${n}`;
      const have = this.schemes[name];
      if (!have) {
        this.schemes[name] = scheme;
        return name;
      }
      if (JSON.stringify(have) === text) return name;
    }
  }
}

/** A documented header of a signature scheme. */
interface SchemeHeader {
  name: string;
  required: boolean;
  description: string;
}

/** The signature header and the other headers of each verify-signature preset (README "verify-signature"). */
const PRESETS: Record<string, { header: string; description: string; timestamp: boolean; others: SchemeHeader[] }> = {
  'standard-webhooks': {
    header: 'webhook-signature',
    description: 'Standard Webhooks: `webhook-signature: v1,<base64>` (space-separated list), HMAC-SHA256 of `{webhook-id}.{webhook-timestamp}.{body}` with the base64 part of a `whsec_` secret; `v1a` entries are ed25519 signatures.',
    timestamp: true,
    others: [
      { name: 'webhook-id', required: true, description: 'Message id (replays are answered without forwarding).' },
      { name: 'webhook-timestamp', required: true, description: 'Unix seconds; must be within the tolerance.' },
    ],
  },
  svix: {
    header: 'svix-signature',
    description: 'Svix: `svix-signature: v1,<base64>`, HMAC-SHA256 of `{svix-id}.{svix-timestamp}.{body}` (the `webhook-*` names are accepted too).',
    timestamp: true,
    others: [
      { name: 'svix-id', required: true, description: 'Message id.' },
      { name: 'svix-timestamp', required: true, description: 'Unix seconds; must be within the tolerance.' },
    ],
  },
  stripe: { header: 'Stripe-Signature', description: 'Stripe: `Stripe-Signature: t=<unix>,v1=<hex>[,v1=<hex>]`, HMAC-SHA256 of `{t}.{body}` with the whole `whsec_` secret.', timestamp: true, others: [] },
  github: { header: 'X-Hub-Signature-256', description: 'GitHub: `X-Hub-Signature-256: sha256=<hex>`, HMAC-SHA256 of the body.', timestamp: false, others: [{ name: 'X-GitHub-Delivery', required: false, description: 'Delivery id (replays are answered without forwarding).' }] },
  shopify: { header: 'X-Shopify-Hmac-Sha256', description: 'Shopify: `X-Shopify-Hmac-Sha256: <base64>`, HMAC-SHA256 of the body.', timestamp: false, others: [{ name: 'X-Shopify-Webhook-Id', required: false, description: 'Webhook id (replays are answered without forwarding).' }] },
  slack: { header: 'X-Slack-Signature', description: 'Slack: `X-Slack-Signature: v0=<hex>`, HMAC-SHA256 of `v0:{timestamp}:{body}`.', timestamp: true, others: [{ name: 'X-Slack-Request-Timestamp', required: true, description: 'Unix seconds; must be within the tolerance.' }] },
  twilio: { header: 'X-Twilio-Signature', description: 'Twilio: `X-Twilio-Signature: <base64>`, HMAC-SHA1 of the public URL (with query) plus the sorted form parameters; a JSON body is covered by `bodySHA256` in the URL.', timestamp: false, others: [{ name: 'I-Twilio-Idempotency-Token', required: false, description: 'Idempotency token (replays are answered without forwarding).' }] },
};

function defaultOf(def: PluginDefinition, key: string): unknown {
  return ((def.schema.properties as Record<string, Json> | undefined)?.[key] as Json | undefined)?.default;
}

function headerParam(h: SchemeHeader): Json {
  return { name: h.name, in: 'header', required: h.required, description: h.description, schema: { type: 'string' } };
}

function verifySignature(p: Json, reg: SchemeRegistry): PluginContract {
  const preset = String(p.preset);
  let header: string;
  let description: string;
  let timestamp: boolean;
  let others: SchemeHeader[];
  if (preset === 'hmac') {
    header = String(p.header ?? 'x-signature');
    const algorithm = String(p.algorithm ?? 'sha256');
    const encoding = String(p.encoding ?? 'hex');
    description = `HMAC-${algorithm.toUpperCase()} (${encoding}) of \`${String(p.template ?? '{body}')}\`, sent as \`${header}: ${String(p.prefix ?? '')}<signature>\`.`;
    timestamp = typeof p.timestampHeader === 'string';
    others = [
      ...(typeof p.timestampHeader === 'string' ? [{ name: p.timestampHeader, required: true, description: 'Unix seconds; must be within the tolerance.' }] : []),
      ...(typeof p.idHeader === 'string' ? [{ name: p.idHeader, required: false, description: 'Message id (replays are answered without forwarding).' }] : []),
    ];
  } else {
    const known = PRESETS[preset];
    if (!known) return { errors: [] };
    ({ header, description, timestamp, others } = known);
  }
  const name = reg.add(`signature.${preset === 'hmac' ? `hmac.${header.toLowerCase()}` : preset}`, { type: 'apiKey', in: 'header', name: header, description: `Provider signature, verified over the raw body as received. ${description}` });
  return {
    security: [[name]],
    parameters: others.map(headerParam),
    errors: ['HG_SIGNATURE_MISSING', 'HG_SIGNATURE_INVALID', ...(timestamp ? ['HG_TIMESTAMP_OUT_OF_RANGE'] : []), 'HG_DUPLICATE_IN_FLIGHT'],
    notes: [
      'A replayed message id is answered `200` with `Hookgate-Duplicate: true` and not forwarded.',
      ...(p.diagnostics === true ? ['A refusal carries `Hookgate-Signature-Diagnosis: <word>`, why it was refused (README "Signature diagnostics").'] : []),
    ],
  };
}

function jwtAuth(p: Json, reg: SchemeRegistry): PluginContract {
  const header = String(p.header ?? defaultOf(jwtAuthPlugin, 'header'));
  const what = [`algorithms ${(p.algorithms as string[] | undefined)?.join(', ') ?? ''}`, p.issuer ? `issuer ${String(p.issuer)}` : '', p.audience ? `audience ${String(p.audience)}` : ''].filter(Boolean).join('; ');
  const alternatives: string[][] = [];
  alternatives.push([
    header.toLowerCase() === 'authorization'
      ? reg.add('jwt', { type: 'http', scheme: 'bearer', bearerFormat: 'JWT', description: `A JWT (${what}).` })
      : reg.add(`jwt.header.${header.toLowerCase()}`, { type: 'apiKey', in: 'header', name: header, description: `\`Bearer <JWT>\` (${what}).` }),
  ]);
  if (typeof p.queryParam === 'string') alternatives.push([reg.add(`jwt.query.${p.queryParam}`, { type: 'apiKey', in: 'query', name: p.queryParam, description: `A JWT (${what}).` })]);
  if (typeof p.cookie === 'string') alternatives.push([reg.add(`jwt.cookie.${p.cookie}`, { type: 'apiKey', in: 'cookie', name: p.cookie, description: `A JWT (${what}).` })]);
  return { security: alternatives, errors: ['HG_AUTH_INVALID'] };
}

function keyAuth(p: Json, reg: SchemeRegistry): PluginContract {
  const header = String(p.header ?? defaultOf(keyAuthPlugin, 'header'));
  const alternatives = [[reg.add(`apiKey.header.${header.toLowerCase()}`, { type: 'apiKey', in: 'header', name: header, description: 'An API key of a consumer.' })]];
  if (typeof p.queryParam === 'string') alternatives.push([reg.add(`apiKey.query.${p.queryParam}`, { type: 'apiKey', in: 'query', name: p.queryParam, description: 'An API key of a consumer.' })]);
  return { security: alternatives, errors: ['HG_AUTH_INVALID'] };
}

const RATE_HEADERS: Record<string, Json> = {
  'RateLimit-Limit': { description: 'Requests allowed per window.', schema: { type: 'integer' } },
  'RateLimit-Remaining': { description: 'Requests left in this window.', schema: { type: 'integer' } },
  'RateLimit-Reset': { description: 'Seconds until the window resets.', schema: { type: 'integer' } },
};

/** The contract of one plugin entry; `dir` resolves schema files of validate-body. */
export function pluginContract(name: string, params: Json, reg: SchemeRegistry, dir: string): PluginContract {
  switch (name) {
    case 'verify-signature':
      return verifySignature(params, reg);
    case 'jwt-auth':
      return jwtAuth(params, reg);
    case 'key-auth':
      return keyAuth(params, reg);
    case 'rate-limit':
      return { errors: ['HG_RATE_LIMITED', ...(params.onStoreError === 'deny' ? ['HG_STORE_UNAVAILABLE'] : [])], responseHeaders: RATE_HEADERS };
    case 'ip-filter':
      return { errors: ['HG_IP_FORBIDDEN'], notes: ['Only some client addresses are allowed.'] };
    case 'validate-body': {
      const schema = (params.schema as Json | undefined) ?? (typeof params.schemaFile === 'string' ? readSchemaFile(dir, params.schemaFile) : undefined);
      const contentTypes = (params.contentTypes as string[] | undefined) ?? ['application/json'];
      return {
        errors: ['HG_BODY_SCHEMA_MISMATCH', 'HG_BODY_INVALID_JSON'],
        ...(schema ? { body: { schema, contentTypes } } : {}),
        ...(typeof params.openapi === 'string' ? { notes: [`The body is validated against the operation of ${params.openapi}.`] } : {}),
      };
    }
    default:
      return { errors: [] };
  }
}
