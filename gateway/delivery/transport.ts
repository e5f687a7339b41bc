/**
 * One delivery attempt over HTTP, and nothing else: egress through the SSRF guard's undici agents,
 * async ingress through the snapshot's undici pool for the upstream (the proxy's pool too).
 * Neither throws: a network error or a timeout is status 0 with an error text. Every timeout
 * is an absolute deadline for the whole attempt, never an idle timer.
 */
import type { IncomingHttpHeaders, OutgoingHttpHeaders } from 'node:http';
import type { Dispatcher } from 'undici';
import type { ClientTlsPem } from '../client-tls.js';
import type { Snapshot } from '../compile.js';
import { CONNECT_TIMEOUT } from './egress-dispatcher.js';
import type { SsrfGuard } from './ssrf.js';
import { webhookHeaders } from './sign.js';
import { keptResponseHeaders, sentRequest } from './attempt-view.js';
import type { AttemptRecord, StoredMessage } from './types.js';

/** The attempt log keeps this much of a response body (`AttemptRecord.response`). */
const RESPONSE_LIMIT = 4096;

/** What one attempt came back with: what the attempt log keeps, and what the policy reads too. */
export interface AttemptResult extends Pick<AttemptRecord, 'status' | 'durationMs' | 'error' | 'response' | 'request' | 'responseHeaders'> {
  retryAfter?: string;
  /** The receiver's `webhook-delivery` header (Standard Webhooks proposal: `disable`, `abort-message`). */
  deliverySignal?: string;
  timedOut: boolean;
}

/** A signed webhook: Standard Webhooks headers over `body` with every given secret. */
export interface SignedPost {
  url: string;
  msgId: string;
  body: Buffer;
  secrets: readonly string[];
  /** Sent as well; the signature headers and content-type win over them. */
  headers?: OutgoingHttpHeaders;
  /** TLS for an https URL (the endpoint's CA, client certificate, servername). */
  tls?: ClientTlsPem;
  nowMs: number;
  /** The deadline for all of the attempt: the effective policy's `attemptTimeoutMs`. */
  timeoutMs: number;
}

/** POSTs a signed webhook through the snapshot's SSRF guard; `post.timeoutMs` is the deadline for all of it. */
export function sendSigned(snap: Snapshot, post: SignedPost): Promise<AttemptResult> {
  const fixed = fixedPartOf(post.url, post.headers);
  const signed = webhookHeaders(post.msgId, Math.floor(post.nowMs / 1000), post.body, post.secrets);
  // The signature headers go last, as they always did: each replaces an endpoint header of its name.
  const view = { ...fixed.view.headers };
  for (const name in signed) view[name] = signed[name]!;
  const request = { url: fixed.view.url, headers: view };
  let wire: Record<string, string | string[]> | Error = fixed.wire;
  if (!(wire instanceof Error)) {
    wire = { ...wire };
    try {
      for (const name in signed) {
        checkHeader(name, signed[name]!);
        wire[name] = signed[name]!;
      }
    } catch (err) {
      wire = err as Error;
    }
  }
  return sendGuarded(snap.ssrf, post.url, 'POST', wire, post.body, post.timeoutMs, post.tls, true).then((r) => ({ ...r, request }));
}

/**
 * What every signed attempt with the same URL and headers shares: the headers as undici takes
 * them (or the refusal of one) and the attempt log's view, both without the signature headers.
 */
interface FixedPart {
  readonly url: string;
  readonly wire: Readonly<Record<string, string | string[]>> | Error;
  readonly view: { readonly url: string; readonly headers: Readonly<Record<string, string>> };
}

/** By the headers object: a caller that passes the same one each time (the engine, per endpoint) builds it once. */
const fixedParts = new WeakMap<object, FixedPart>();
const NO_HEADERS: OutgoingHttpHeaders = Object.freeze({});

function fixedPartOf(url: string, extra: OutgoingHttpHeaders = NO_HEADERS): FixedPart {
  const known = fixedParts.get(extra);
  if (known && known.url === url) return known;
  const headers: OutgoingHttpHeaders = { ...extra, 'content-type': 'application/json' };
  const u = parsedUrl(url);
  let wire: FixedPart['wire'];
  try {
    wire = u ? requestHeaders(headers, u) : {};
  } catch (err) {
    wire = err as Error;
  }
  const part: FixedPart = { url, wire, view: sentRequest(url, headers) };
  fixedParts.set(extra, part);
  return part;
}

/** Keeps the first RESPONSE_LIMIT bytes of a response body, for the attempt log. */
class BodyHead {
  private readonly chunks: Buffer[] = [];
  private size = 0;

  add(c: Buffer): void {
    if (this.size < RESPONSE_LIMIT) this.chunks.push(c);
    this.size += c.length;
  }

  text(): string {
    return Buffer.concat(this.chunks).subarray(0, RESPONSE_LIMIT).toString('utf8');
  }
}

function firstValue(h: string | string[] | undefined): string | undefined {
  return Array.isArray(h) ? h[0] : h;
}

/** The text of a send error, without the request's headers or body. */
function errorText(err: unknown): string {
  const e = err as NodeJS.ErrnoException;
  if (e?.code === 'HG_ENDPOINT_URL_BLOCKED') return e.message;
  return `${e?.code ?? ''} ${e?.message ?? String(err)}`.trim();
}

/**
 * Timers other than the attempt's own that mean the same: undici's headers and body timers (set to
 * the deadline, they fire at about the same moment) and the guard's connect limit (never shorter
 * than this deadline, see egress-dispatcher.ts).
 */
const TIMEOUT_CODES = new Set(['UND_ERR_HEADERS_TIMEOUT', 'UND_ERR_BODY_TIMEOUT', CONNECT_TIMEOUT]);

/** An RFC 9110 token, and what node:http accepts in a value (tab, visible ASCII, space, Latin-1). */
const HEADER_NAME = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/;
const HEADER_VALUE = /^[\t\x20-\x7e\x80-\xff]*$/;

function refused(code: string, message: string): Error {
  return Object.assign(new Error(message), { code });
}

/**
 * Checks a header as node:http did, with its codes and texts: undici refuses the same headers,
 * but its text ("invalid x-a header") does not say why, and the attempt log kept node's.
 * Neither text carries the value.
 */
function checkHeader(name: string, value: string | string[]): void {
  if (!HEADER_NAME.test(name)) throw refused('ERR_INVALID_HTTP_TOKEN', `Header name must be a valid HTTP token ["${name}"]`);
  for (const v of Array.isArray(value) ? value : [value]) {
    if (!HEADER_VALUE.test(v)) throw refused('ERR_INVALID_CHAR', `Invalid character in header content ["${name}"]`);
  }
}

/**
 * The request headers as undici takes them. Names are lowercased in order so a later entry
 * replaces an earlier one case-insensitively, as node:http's setHeader did (the signature
 * headers and content-type win over an endpoint's `Content-Type`); undici would send both.
 */
function requestHeaders(headers: OutgoingHttpHeaders, u: ParsedUrl): Record<string, string | string[]> {
  const out: Record<string, string | string[]> = {};
  for (const [name, value] of Object.entries(headers)) {
    if (value === undefined) continue;
    const v = typeof value === 'number' ? String(value) : value;
    checkHeader(name, v);
    out[name.toLowerCase()] = v;
  }
  // node:http sent URL credentials as Basic auth unless an Authorization header was given.
  if ((u.username || u.password) && out.authorization === undefined) {
    out.authorization = `Basic ${Buffer.from(`${decodeURIComponent(u.username)}:${decodeURIComponent(u.password)}`).toString('base64')}`;
  }
  return out;
}

/**
 * One attempt as an undici dispatch handler (no response stream: the body is read chunk by chunk
 * into the attempt log's head and the rest dropped, so the socket is free for the next attempt).
 * It settles exactly once: on the response's end, on an error, or at the deadline. The deadline is
 * its own timer rather than an abort signal, because undici only looks at a request's signal once
 * the request is on a socket: an attempt still waiting for a connect would outlive its deadline.
 */
class Attempt implements Dispatcher.DispatchHandler {
  private readonly started = performance.now();
  private readonly head = new BodyHead();
  private readonly timer: NodeJS.Timeout;
  private controller: Dispatcher.DispatchController | undefined;
  private status = 0;
  private retryAfter: string | undefined;
  private deliverySignal: string | undefined;
  private responseHeaders: Record<string, string> | undefined;
  private settled = false;

  constructor(
    private readonly timeoutMs: number,
    private readonly resolve: (r: AttemptResult) => void,
  ) {
    this.timer = setTimeout(() => this.expire(), timeoutMs);
  }

  /** Status 0 even when headers arrived: a 2xx whose body never finished is not a delivery. */
  private expire(): void {
    const c = this.controller;
    this.finish({ status: 0, error: `timed out after ${this.timeoutMs} ms` }, true);
    // Aborting mid-response makes undici destroy the socket; a request not yet on a socket is
    // aborted in onRequestStart instead.
    if (c && !c.aborted) c.abort(new Error('attempt deadline'));
  }

  finish(r: Omit<AttemptResult, 'durationMs' | 'timedOut'>, timedOut = false, reusable = false): void {
    if (this.settled) return;
    this.settled = true;
    clearTimeout(this.timer);
    this.controller = undefined;
    const result = { ...r, timedOut, durationMs: Math.round(performance.now() - this.started) };
    if (!reusable) return this.resolve(result);
    // undici hands a finished keep-alive socket back to its pool one event-loop turn later (a
    // setImmediate queued after this handler returns); resolving after that turn lets a caller
    // that sends again at once reuse the socket instead of opening another connection.
    queueMicrotask(() => setImmediate(this.resolve, result));
  }

  onRequestStart(controller: Dispatcher.DispatchController): void {
    if (this.settled) return controller.abort(new Error('attempt deadline'));
    this.controller = controller;
  }

  onResponseStart(_c: Dispatcher.DispatchController, statusCode: number, headers: IncomingHttpHeaders): void {
    // 1xx are informational; node:http skipped them too and waited for the final response.
    if (statusCode < 200) return;
    this.status = statusCode;
    this.retryAfter = firstValue(headers['retry-after']);
    this.deliverySignal = firstValue(headers['webhook-delivery']);
    this.responseHeaders = keptResponseHeaders(headers);
  }

  onResponseData(_c: Dispatcher.DispatchController, chunk: Buffer): void {
    this.head.add(chunk);
  }

  onResponseEnd(): void {
    this.finish({ status: this.status, response: this.head.text(), responseHeaders: this.responseHeaders, retryAfter: this.retryAfter, deliverySignal: this.deliverySignal }, false, true);
  }

  onResponseError(_c: Dispatcher.DispatchController, err: Error): void {
    if (this.settled) return;
    if (TIMEOUT_CODES.has((err as NodeJS.ErrnoException).code ?? '')) return this.expire();
    // An error after the headers keeps the status, as node:http's response 'error' did.
    if (this.status) return this.finish({ status: this.status, error: err.message, responseHeaders: this.responseHeaders });
    this.finish({ status: 0, error: errorText(err) });
  }
}

/** What an attempt reads of its URL. */
interface ParsedUrl {
  readonly protocol: string;
  readonly origin: string;
  readonly path: string;
  readonly username: string;
  readonly password: string;
}

/** Endpoint URLs parsed once each (every attempt to an endpoint sends to the same one). */
const parsedUrls = new Map<string, ParsedUrl | null>();

function parsedUrl(url: string): ParsedUrl | null {
  let p = parsedUrls.get(url);
  if (p !== undefined) return p;
  try {
    const u = new URL(url);
    p = Object.freeze({ protocol: u.protocol, origin: u.origin, path: u.pathname + u.search, username: u.username, password: u.password });
  } catch {
    p = null;
  }
  if (parsedUrls.size >= 10_000) parsedUrls.clear();
  parsedUrls.set(url, p);
  return p;
}

/**
 * One request through the SSRF guard's undici dispatcher. `timeoutMs` is an absolute deadline for
 * the whole attempt (connect, TLS, response headers and the body read); undici's headers and body
 * timers are idle timers, set to the same value only so that their defaults never bind first.
 * Never throws: every failure, a header value undici refuses included, is status 0 with an error.
 */
function sendGuarded(ssrf: SsrfGuard, url: string, method: string, headers: OutgoingHttpHeaders | Error, body: Buffer, timeoutMs: number, tls: ClientTlsPem | undefined, checked = false): Promise<AttemptResult> {
  return new Promise((resolve) => {
    const attempt = new Attempt(timeoutMs, resolve);
    const u = parsedUrl(url);
    if (!u) return attempt.finish({ status: 0, error: 'invalid URL' });
    if (u.protocol !== 'http:' && u.protocol !== 'https:') return attempt.finish({ status: 0, error: `protocol "${u.protocol}" is not supported` });
    try {
      // TLS settings only apply to https (an http URL with them is a config error anyway).
      const dispatcher = ssrf.dispatcher(u.protocol === 'https:' ? tls : undefined, timeoutMs);
      // Redirects are not followed: no redirect interceptor on these agents, a 3xx is the answer.
      // A signed post's headers come checked and lowercased already (`checked`), or as the refusal of one.
      if (headers instanceof Error) throw headers;
      const wire = checked ? (headers as Record<string, string | string[]>) : requestHeaders(headers, u);
      dispatcher.dispatch({ origin: u.origin, path: u.path, method: method as Dispatcher.HttpMethod, headers: wire, body, headersTimeout: timeoutMs, bodyTimeout: timeoutMs }, attempt);
    } catch (err) {
      // undici reports most refusals through onResponseError; this is for the rest.
      attempt.finish({ status: 0, error: errorText(err) });
    }
  });
}

/** Replays an accepted inbound request to `upstream` through the snapshot's pool for it. */
export async function sendIngress(snap: Snapshot, upstream: string, msg: StoredMessage, attemptNo: number): Promise<AttemptResult> {
  const up = snap.upstreams.get(upstream);
  if (!up) return { status: 0, durationMs: 0, timedOut: false, error: `upstream "${upstream}" is no longer configured` };
  const target = up.pick();
  const headers = { ...(msg.headers ?? {}), 'hookgate-message-id': msg.id, 'hookgate-attempt': String(attemptNo) };
  const timeoutMs = msg.timeoutMs ?? up.timeoutMs;
  const request = sentRequest(target.origin + target.basePath + (msg.path ?? '/'), headers);
  const started = performance.now();
  const took = () => Math.round(performance.now() - started);
  // A deadline for the whole attempt, response body included.
  const signal = AbortSignal.timeout(timeoutMs);
  try {
    // The pool's own timers follow the attempt's timeout, so the signal's deadline is the one that binds.
    const res = await target.pool.request({ path: target.basePath + (msg.path ?? '/'), method: (msg.method ?? 'POST') as 'POST', headers, body: Buffer.from(msg.body, 'base64'), signal, headersTimeout: timeoutMs, bodyTimeout: timeoutMs });
    const head = new BodyHead();
    for await (const c of res.body as AsyncIterable<Buffer>) head.add(c);
    up.reportSuccess(target);
    return { status: res.statusCode, durationMs: took(), timedOut: false, request, response: head.text(), responseHeaders: keptResponseHeaders(res.headers), retryAfter: firstValue(res.headers['retry-after']) };
  } catch (err) {
    const e = err as NodeJS.ErrnoException;
    // The upstream's own timers (headers, body idle) are timeouts too, not connect failures.
    const timedOut = signal.aborted || e.code === 'UND_ERR_HEADERS_TIMEOUT' || e.code === 'UND_ERR_BODY_TIMEOUT';
    if (!timedOut) up.reportConnectFailure(target);
    return { status: 0, durationMs: took(), timedOut, request, error: timedOut ? `timed out after ${timeoutMs} ms` : `${e.code ?? ''} ${e.message}`.trim() };
  }
}

/** A plain JSON POST (an alert channel: Slack-compatible or a generic webhook) through the snapshot's SSRF guard; never throws. */
export function sendJson(snap: Snapshot, url: string, body: Buffer, timeoutMs: number): Promise<AttemptResult> {
  return sendGuarded(snap.ssrf, url, 'POST', { 'content-type': 'application/json', 'user-agent': 'hookgate' }, body, timeoutMs, undefined);
}
