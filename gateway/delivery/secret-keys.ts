/**
 * Keys for endpoint secrets: deriving the generated secrets of config endpoints from
 * `egress.secretKey` (HKDF-SHA256), and sealing endpoint records at rest with `egress.encryptionKey`
 * (AES-256-GCM), with `egress.previousEncryptionKeys` still opening what older keys sealed.
 * Messages and errors name key ids, never a key, a secret or a plaintext.
 */
import { createCipheriv, createDecipheriv, createHash, hkdfSync, randomBytes } from 'node:crypto';
import type { EgressConfig } from '../config/types.js';
import { Errors } from '../errors.js';
import { STANDARD_WEBHOOKS_SECRET_PREFIX } from '../security/standard-webhooks-secret.js';

/** HKDF salt of derived endpoint secrets: fixed, so the same master key always gives the same secret. */
const DERIVE_SALT = 'hookgate/endpoint-secret/v1';

/**
 * The signing secret of config endpoint `endpointId` at rotation `version`:
 * `whsec_` + base64(HKDF-SHA256(secretKey, salt, info = `<endpointId>:<version>`, 32 bytes)).
 * Endpoint ids cannot hold `:`, so the info string names one (id, version) pair only.
 */
export function deriveEndpointSecret(secretKey: string, endpointId: string, version: number): string {
  const okm = hkdfSync('sha256', Buffer.from(secretKey, 'utf8'), DERIVE_SALT, `${endpointId}:${version}`, 32);
  return STANDARD_WEBHOOKS_SECRET_PREFIX + Buffer.from(okm).toString('base64');
}

/** What a sealed value starts with; anything else is read as plaintext. */
const SEALED_PREFIX = 'hgenc:1:';
const HEX_KEY = /^[0-9a-fA-F]{64}$/;
// 43 base64 characters carry 32 bytes; standard or URL-safe alphabet, padding optional.
const BASE64_KEY = /^[A-Za-z0-9+/_-]{43}=?$/;

/** An AES-256 key with its id: the first 8 hex characters of a hash of the key (not of the text it came in). */
export interface SealingKey {
  readonly id: string;
  readonly key: Buffer;
}

/**
 * Reads an encryption key: 64 hex characters, or base64 (standard or URL-safe) of 32 bytes.
 * @throws Error saying what was expected; the message never quotes the value.
 */
export function parseEncryptionKey(text: string): SealingKey {
  let key: Buffer;
  if (HEX_KEY.test(text)) key = Buffer.from(text, 'hex');
  else if (BASE64_KEY.test(text)) key = Buffer.from(text.replace(/-/g, '+').replace(/_/g, '/'), 'base64');
  else throw new Error(`expected 32 bytes as base64 (44 characters) or as 64 hex characters; got ${text.length} characters (not shown: it is a key)`);
  return { id: createHash('sha256').update('hookgate/key-id\0').update(key).digest('hex').slice(0, 8), key };
}

/** What opening a stored value gives: the plaintext, and whether it should be written again under the current key. */
export interface Opened {
  text: string;
  stale: boolean;
}

/**
 * The encryption keys of one config: `current` seals every write (none: values are written as
 * plaintext); `current` and `previous` open. A value sealed under another key, or plaintext while a
 * current key exists, opens as `stale`, so its reader can write it again under the current key.
 */
export class RecordSealer {
  constructor(
    readonly current: SealingKey | undefined,
    readonly previous: readonly SealingKey[] = [],
  ) {}

  /** Whether writes are sealed. */
  get sealing(): boolean {
    return this.current !== undefined;
  }

  /**
   * `hgenc:1:<key id>:<iv>:<ciphertext and tag>` (base64), with a random 96-bit IV per call;
   * `context` (e.g. `ep:<endpoint id>`) is bound as additional data, so a sealed value copied
   * under another record does not open. Without a current key: `text` as is.
   */
  seal(text: string, context: string): string {
    const k = this.current;
    if (!k) return text;
    const iv = randomBytes(12);
    const c = createCipheriv('aes-256-gcm', k.key, iv);
    c.setAAD(Buffer.from(context, 'utf8'));
    const ct = Buffer.concat([c.update(text, 'utf8'), c.final(), c.getAuthTag()]);
    return `${SEALED_PREFIX}${k.id}:${iv.toString('base64')}:${ct.toString('base64')}`;
  }

  /**
   * The plaintext of a stored value (sealed or not).
   * @param what names the record in an error (e.g. `endpoint "acme"`).
   * @throws GatewayError HG_ENDPOINT_UNREADABLE when no configured key opens it, or it fails its
   *   integrity check; the message names key ids only.
   */
  open(stored: string, context: string, what: string): Opened {
    if (!stored.startsWith(SEALED_PREFIX)) return { text: stored, stale: this.current !== undefined };
    const parts = stored.slice(SEALED_PREFIX.length).split(':');
    if (parts.length !== 3) throw Errors.ENDPOINT_UNREADABLE(`${what} is stored in a form hookgate cannot read (a damaged encrypted value)`);
    const [kid, ivText, ctText] = parts as [string, string, string];
    const keys = [this.current, ...this.previous].filter((k): k is SealingKey => k !== undefined && k.id === kid);
    if (keys.length === 0) {
      const have = [this.current && `egress.encryptionKey (key id ${this.current.id})`, this.previous.length ? `previousEncryptionKeys (key ids ${this.previous.map((k) => k.id).join(', ')})` : undefined].filter(Boolean);
      throw Errors.ENDPOINT_UNREADABLE(`${what} is encrypted with key id ${kid}, which is not among ${have.length ? have.join(' or ') : 'the configured keys (egress.encryptionKey is not set)'}; set that key as egress.encryptionKey or in egress.previousEncryptionKeys`);
    }
    const iv = Buffer.from(ivText, 'base64');
    const ct = Buffer.from(ctText, 'base64');
    for (const k of keys) {
      if (iv.length !== 12 || ct.length < 16) break;
      try {
        const d = createDecipheriv('aes-256-gcm', k.key, iv);
        d.setAAD(Buffer.from(context, 'utf8'));
        d.setAuthTag(ct.subarray(ct.length - 16));
        const text = Buffer.concat([d.update(ct.subarray(0, ct.length - 16)), d.final()]).toString('utf8');
        return { text, stale: k !== this.current };
      } catch {
        // Another key with the same id (a 32-bit id can collide), or a damaged value: try the next.
      }
    }
    throw Errors.ENDPOINT_UNREADABLE(`${what} fails its integrity check under key id ${kid} (the value was changed or damaged in the store)`);
  }
}

/** Nothing configured: values are written and read as plaintext. */
export const PLAINTEXT = new RecordSealer(undefined);

/**
 * The sealer of an egress config: `encryptionKey` seals, it and `previousEncryptionKeys` open.
 * @throws Error with the `path` of a key that is not 32 bytes (`['previousEncryptionKeys', 1]`), relative to `egress`.
 */
export function recordSealerOf(egress: Pick<EgressConfig, 'encryptionKey' | 'previousEncryptionKeys'>): RecordSealer {
  const read = (text: string, path: (string | number)[]): SealingKey => {
    try {
      return parseEncryptionKey(text);
    } catch (err) {
      throw Object.assign(new Error((err as Error).message), { path });
    }
  };
  if (egress.encryptionKey === undefined && !egress.previousEncryptionKeys?.length) return PLAINTEXT;
  const current = egress.encryptionKey === undefined ? undefined : read(egress.encryptionKey, ['encryptionKey']);
  const previous = (egress.previousEncryptionKeys ?? []).map((t, i) => read(t, ['previousEncryptionKeys', i]));
  return new RecordSealer(current, previous);
}
