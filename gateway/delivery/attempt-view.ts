import type { IncomingHttpHeaders, OutgoingHttpHeaders } from 'node:http';
import { redactSecrets } from '../security/redact.js';

/**
 * What the attempt log keeps of the request sent and of the response's headers: enough for an
 * operator to see what went over the wire, small enough for every attempt of every message
 * (`AttemptRecord.request`, `.responseHeaders`). Values of headers whose names look secret
 * (authorization, cookies, tokens, keys) are redacted; the webhook signature is not a secret
 * (it is an HMAC of this one message) and stays.
 */

/** The most of the response headers kept, in bytes of names and values. */
export const RESPONSE_HEADERS_LIMIT = 2048;

const SECRET_HEADER = /^(authorization|proxy-authorization|cookie|set-cookie)$|token|secret|password|api[-_]?key|session/i;

/** The sent request as the attempt log shows it: the URL without its password, the headers redacted. */
export function sentRequest(url: string, headers: OutgoingHttpHeaders | Record<string, string>): { url: string; headers: Record<string, string> } {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(headers)) {
    if (v === undefined) continue;
    const name = k.toLowerCase();
    out[name] = SECRET_HEADER.test(name) ? '[redacted]' : Array.isArray(v) ? v.join(', ') : String(v);
  }
  return { url: redactSecrets(url) as string, headers: out };
}

/** A response's headers, secret-looking values redacted, cut at RESPONSE_HEADERS_LIMIT bytes. */
export function keptResponseHeaders(headers: IncomingHttpHeaders | Record<string, string | string[] | undefined>): Record<string, string> {
  const out: Record<string, string> = {};
  let size = 0;
  for (const [k, v] of Object.entries(headers)) {
    if (v === undefined) continue;
    const name = k.toLowerCase();
    const value = SECRET_HEADER.test(name) ? '[redacted]' : Array.isArray(v) ? v.join(', ') : String(v);
    size += name.length + value.length + 4;
    if (size > RESPONSE_HEADERS_LIMIT) break;
    out[name] = value;
  }
  return out;
}
