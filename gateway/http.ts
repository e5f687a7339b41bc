import type { IncomingMessage, OutgoingHttpHeaders, ServerResponse } from 'node:http';
import { Transform, type TransformCallback } from 'node:stream';
import { Errors, type GatewayError } from './errors.js';

/** HTTP plumbing shared by the pipeline, the forwarder and the admin listener. */

// RFC 9110 §7.6.1 hop-by-hop headers, plus proxy credentials that are meant for us. `expect` is
// answered by Node's server itself (100-continue), so it is not passed on either.
export const HOP_BY_HOP = new Set(['connection', 'keep-alive', 'proxy-connection', 'proxy-authenticate', 'proxy-authorization', 'te', 'trailer', 'transfer-encoding', 'upgrade', 'expect']);

// Connection-specific headers that HTTP/2 forbids in a response (RFC 9113 §8.2.2): node:http2
// throws on them, so they are dropped from responses to HTTP/2 clients.
const HTTP1_ONLY_RESPONSE = new Set(['connection', 'keep-alive', 'proxy-connection', 'transfer-encoding', 'upgrade', 'host', 'http2-settings', 'te']);

/** Drops the headers an HTTP/2 response may not carry (a plugin's `connection: close`, say). */
export function dropHttp1OnlyHeaders(headers: Record<string, unknown>): void {
  for (const k in headers) if (HTTP1_ONLY_RESPONSE.has(k)) delete headers[k];
}

/**
 * True when a body follows with no declared length: chunked on HTTP/1.1, DATA frames without a
 * `content-length` on HTTP/2 (where there is no transfer-encoding).
 */
export function hasUnsizedBody(req: IncomingMessage): boolean {
  if (req.headers['transfer-encoding'] !== undefined) return true;
  if (req.httpVersionMajor !== 2 || req.headers['content-length'] !== undefined) return false;
  return !(req as unknown as { stream: { endAfterHeaders: boolean } }).stream.endAfterHeaders;
}

/**
 * The header names a `Connection` header lists (besides close/keep-alive): hop-by-hop too.
 * Added to `into`; undefined when there are none (the usual `keep-alive`), so callers skip work.
 */
export function connectionTokens(value: string, into?: string[]): string[] | undefined {
  if (value === 'keep-alive' || value === 'close') return into;
  for (const t of value.split(',')) {
    const n = t.trim().toLowerCase();
    if (n && n !== 'close' && n !== 'keep-alive') (into ??= []).push(n);
  }
  return into;
}

/** `X-Forwarded-For` with `peer` appended to what earlier proxies wrote. */
export function appendForwardedFor(prior: string | string[] | undefined, peer: string): string {
  return prior ? `${Array.isArray(prior) ? prior.join(', ') : prior}, ${peer}` : peer;
}

/** True when the raw header list names `Host` more than once (`req.headers` keeps only the first). */
export function hasDuplicateHost(raw: string[]): boolean {
  let seen = false;
  for (let i = 0; i < raw.length; i += 2) {
    const name = raw[i]!;
    if (name.length === 4 && name.toLowerCase() === 'host') {
      if (seen) return true;
      seen = true;
    }
  }
  return false;
}

/**
 * Reads the whole body under a cap, with callbacks (no promise on the hot path). Fails with 413
 * as soon as the cap is passed, and with HG_CLIENT_ABORTED when the client goes away first.
 */
export function collectBody(req: IncomingMessage, limit: number, done: (err: GatewayError | Error | null, body?: Buffer) => void): void {
  const chunks: Buffer[] = [];
  let size = 0;
  let ended = false;
  const onData = (c: Buffer) => {
    if (ended) return;
    size += c.length;
    if (size > limit) {
      cleanup();
      done(Errors.BODY_TOO_LARGE(limit));
      return;
    }
    chunks.push(c);
  };
  // A body read to its end leaves the listeners on the request, which is done and goes with its
  // exchange: four removeListener calls per request cost more than the flag they are replaced by.
  const onEnd = () => {
    if (ended) return;
    ended = true;
    done(null, chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks, size));
  };
  const onError = (e: Error) => {
    if (ended) return;
    cleanup();
    done(e);
  };
  const onAborted = () => {
    if (ended) return;
    cleanup();
    done(Errors.CLIENT_ABORTED());
  };
  const cleanup = () => {
    ended = true;
    req.off('data', onData);
    req.off('end', onEnd);
    req.off('error', onError);
    req.off('aborted', onAborted);
  };
  req.on('data', onData);
  req.on('end', onEnd);
  req.on('error', onError);
  req.on('aborted', onAborted);
}

/** `collectBody` as a promise, for callers off the hot path (the admin listener). */
export function readBody(req: IncomingMessage, limit: number): Promise<Buffer> {
  return new Promise((resolve, reject) => collectBody(req, limit, (err, body) => (err ? reject(err) : resolve(body!))));
}

/** Counts streamed body bytes against the cap, so a chunked upload cannot pass it. */
export class BodyLimit extends Transform {
  private seen = 0;
  constructor(private readonly limit: number) {
    super();
  }
  override _transform(chunk: Buffer, _enc: BufferEncoding, cb: TransformCallback): void {
    this.seen += chunk.length;
    if (this.seen > this.limit) cb(Errors.BODY_TOO_LARGE(this.limit));
    else cb(null, chunk);
  }
}

/** The one JSON reply writer, for the main and the admin listener. */
export function sendJson(res: ServerResponse, status: number, body: unknown, headers: OutgoingHttpHeaders = {}): void {
  const buf = Buffer.from(JSON.stringify(body));
  res.writeHead(status, { ...headers, 'content-type': 'application/json', 'content-length': buf.length });
  res.end(buf);
}
