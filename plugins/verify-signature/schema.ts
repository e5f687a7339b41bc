import type { JsonSchema } from '../../gateway/plugin-api.js';
import { PRESETS } from './schemes/index.js';

/**
 * Params of `verify-signature` (JSON Schema draft 2020-12). The generic `hmac` fields carry no
 * schema defaults on purpose: defaults would be filled in for every preset, and create() rejects
 * hmac-only fields on other presets. Their defaults (sha256, hex, "", "{body}") live in the code.
 */
export const verifySignatureSchema: JsonSchema = {
  type: 'object',
  additionalProperties: false,
  required: ['preset'],
  properties: {
    preset: { enum: [...PRESETS], description: 'Signature scheme of the provider.' },
    // writeOnly: config errors never echo these values (gateway/config/load.ts).
    secrets: {
      type: 'array',
      writeOnly: true,
      items: { type: 'string', minLength: 1, writeOnly: true },
      description: 'Signing secrets; several are accepted at once while rotating.',
    },
    publicKeys: {
      type: 'array',
      items: { type: 'string', minLength: 1 },
      description: 'standard-webhooks / svix: whpk_ ed25519 public keys for v1a signatures.',
    },
    toleranceSec: {
      type: 'integer',
      minimum: 1,
      default: 300,
      description: 'Allowed clock difference for signed timestamps, in both directions.',
    },
    dedupe: {
      type: 'boolean',
      description:
        'Answer a replayed or retried message without forwarding it, keyed by its id where the id is signed, else by its signature. ' +
        'Default: on, except for hmac with neither idHeader nor timestampHeader.',
    },
    dedupeWindowSec: {
      type: 'integer',
      minimum: 1,
      description: 'How long a delivered message is remembered. Default: 2 x toleranceSec with a signed timestamp, else 24 h.',
    },
    diagnostics: {
      type: 'boolean',
      default: false,
      description:
        'Also tell the sender why a request was refused, in a Hookgate-Signature-Diagnosis response header (one word; the access log and ' +
        'hookgate_signature_failures_total always have it). For setting an integration up: it tells a prober which check failed.',
    },
    publicUrl: {
      type: 'string',
      pattern: '^https?://',
      description: 'The URL the provider calls (twilio, hmac {url}); overrides the route publicUrl.',
    },
    header: { type: 'string', minLength: 1, description: 'hmac: header carrying the signature.' },
    algorithm: { enum: ['sha1', 'sha256', 'sha512'], description: 'hmac: digest (default sha256).' },
    encoding: { enum: ['hex', 'base64'], description: 'hmac: signature encoding (default hex).' },
    prefix: { type: 'string', description: 'hmac: text before the signature, e.g. "sha256=" (default "").' },
    template: {
      type: 'string',
      minLength: 1,
      description: 'hmac: signed content from {id}, {timestamp}, {body}, {url} (default "{body}").',
    },
    timestampHeader: { type: 'string', minLength: 1, description: 'hmac: header with a Unix-seconds timestamp; the template must sign {timestamp}.' },
    idHeader: { type: 'string', minLength: 1, description: 'hmac: header with the message id; dedupe keys on it only when the template signs {id}.' },
  },
};
