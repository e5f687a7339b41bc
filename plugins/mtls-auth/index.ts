import type { PeerCertificate, TLSSocket } from 'node:tls';
import { definePlugin, Errors, type Context } from '../../gateway/plugin-api.js';

/**
 * `mtls-auth`: allows a route to clients whose TLS certificate (verified by the listener against
 * `listen.tls.ca`) matches an `allow` entry, by subject attributes, a subject alternative name or
 * the SHA-256 fingerprint, and makes the entry's consumer the request's consumer. Works the same
 * over HTTP/1.1 and HTTP/2 (both expose the connection's TLS socket).
 */

export interface MtlsAllowEntry {
  /** Subject attributes that must all be equal, e.g. `{ CN: partner-a, O: Acme }`. */
  subject?: Record<string, string>;
  /** A subject alternative name: `DNS:host`, `URI:spiffe://...` or `email:addr`. */
  san?: string;
  /** SHA-256 fingerprint of the certificate, hex, colons optional. */
  fingerprint?: string;
  /** Consumer name; default the certificate's CN, else its fingerprint. */
  consumer?: string;
}

export interface MtlsAuthParams {
  allow: MtlsAllowEntry[];
}

interface Matcher {
  subject: [string, string][] | undefined;
  san: string | undefined;
  fingerprint: string | undefined;
  consumer: string | undefined;
}

const SAN_KINDS: Record<string, string> = { dns: 'DNS', uri: 'URI', email: 'email' };

/** `DNS:Host.Example` → `DNS:host.example`: DNS names and mail addresses compare case-insensitively, URIs exactly. */
function normalizeSan(kind: string, value: string): string | undefined {
  const k = SAN_KINDS[kind.toLowerCase()];
  if (!k) return undefined;
  return `${k}:${k === 'URI' ? value : value.toLowerCase()}`;
}

/**
 * The names in Node's `subjectaltname` text (`DNS:a, URI:b, email:c`), normalised. Node quotes a
 * value that holds a comma or a quote as a JSON string, so a name cannot smuggle in another.
 */
export function parseSubjectAltNames(text: string | undefined): Set<string> {
  const out = new Set<string>();
  if (!text) return out;
  const re = /(?:^|, )([A-Za-z ]+):("(?:[^"\\]|\\.)*"|[^,]*)/g;
  for (let m = re.exec(text); m; m = re.exec(text)) {
    let value = m[2]!;
    if (value.startsWith('"')) {
      try {
        value = JSON.parse(value) as string;
      } catch {
        continue;
      }
    }
    const n = normalizeSan(m[1]!, value);
    if (n) out.add(n);
  }
  return out;
}

const normalizeFingerprint = (f: string) => f.replace(/:/g, '').toUpperCase();

/** The first value of a subject attribute (Node gives an array when it repeats). */
function attribute(subject: PeerCertificate['subject'] | undefined, name: string): string[] {
  const v = (subject as unknown as Record<string, string | string[] | undefined> | undefined)?.[name];
  return v === undefined ? [] : Array.isArray(v) ? v : [v];
}

function matches(m: Matcher, cert: PeerCertificate, sans: () => Set<string>, fingerprint: string): boolean {
  if (m.fingerprint !== undefined && m.fingerprint !== fingerprint) return false;
  if (m.subject) for (const [name, value] of m.subject) if (!attribute(cert.subject, name).includes(value)) return false;
  if (m.san !== undefined && !sans().has(m.san)) return false;
  return true;
}

/** The connection's TLS socket, or undefined on a plain-HTTP listener. */
function tlsSocket(ctx: Context): TLSSocket | undefined {
  const s = ctx.req.socket as Partial<TLSSocket> | undefined;
  return s && typeof s.getPeerCertificate === 'function' ? (s as TLSSocket) : undefined;
}

export const mtlsAuthPlugin = definePlugin<MtlsAuthParams>({
  name: 'mtls-auth',
  schema: {
    type: 'object',
    additionalProperties: false,
    required: ['allow'],
    properties: {
      allow: {
        type: 'array',
        minItems: 1,
        items: {
          type: 'object',
          additionalProperties: false,
          anyOf: [{ required: ['subject'] }, { required: ['san'] }, { required: ['fingerprint'] }],
          properties: {
            subject: { type: 'object', minProperties: 1, additionalProperties: { type: 'string', minLength: 1 } },
            san: { type: 'string', pattern: '^(DNS|URI|email|dns|uri|EMAIL):.+$' },
            fingerprint: { type: 'string', pattern: '^[0-9A-Fa-f]{2}(:?[0-9A-Fa-f]{2}){31}$' },
            consumer: { type: 'string', minLength: 1 },
          },
        },
      },
    },
  },

  create(params) {
    const matchers: Matcher[] = params.allow.map((a) => {
      const colon = a.san?.indexOf(':') ?? -1;
      return {
        subject: a.subject ? Object.entries(a.subject) : undefined,
        san: a.san !== undefined ? normalizeSan(a.san.slice(0, colon), a.san.slice(colon + 1)) : undefined,
        fingerprint: a.fingerprint !== undefined ? normalizeFingerprint(a.fingerprint) : undefined,
        consumer: a.consumer,
      };
    });

    return {
      onRequest(ctx) {
        const socket = tlsSocket(ctx);
        if (!socket) throw Errors.CLIENT_CERT_REQUIRED('a client certificate is required: connect over TLS');
        const cert = socket.getPeerCertificate();
        if (!cert || !cert.raw) throw Errors.CLIENT_CERT_REQUIRED('a client certificate is required');
        // With clientAuth: optional the handshake admits any certificate; only a verified one counts.
        if (!socket.authorized) throw Errors.CLIENT_CERT_REQUIRED(`the client certificate is not trusted (${String(socket.authorizationError ?? 'unverified')})`);
        const fingerprint = normalizeFingerprint(cert.fingerprint256);
        let sans: Set<string> | undefined;
        const lazySans = () => (sans ??= parseSubjectAltNames(cert.subjectaltname));
        for (const m of matchers) {
          if (!matches(m, cert, lazySans, fingerprint)) continue;
          ctx.consumer = m.consumer ?? attribute(cert.subject, 'CN')[0] ?? fingerprint;
          return;
        }
        throw Errors.CLIENT_CERT_FORBIDDEN();
      },
    };
  },
});
