import { spawnSync } from 'node:child_process';
import { connect, constants, type ClientSessionOptions, type IncomingHttpHeaders as H2Headers, type OutgoingHttpHeaders } from 'node:http2';
import type { IncomingHttpHeaders } from 'node:http';
import { generate } from 'selfsigned';
import { httpRequest, type HttpOptions, type HttpResult } from './http.js';

/** A certificate and its private key, PEM. */
export interface KeyPair {
  cert: string;
  key: string;
}

/** What a test CA hands out. */
export interface TestPki {
  /** The CA the gateway and the clients trust. */
  ca: KeyPair;
  /** `localhost` / 127.0.0.1, signed by `ca`. */
  server: KeyPair;
  /** A second server certificate (`other.test`), for SNI. */
  other: KeyPair;
  /** A client certificate: CN partner-a, O Acme, SANs DNS/URI/email. */
  client: KeyPair;
  /** A CA nobody trusts, and a client certificate it signed with the same names as `client`. */
  rogueCa: KeyPair;
  rogueClient: KeyPair;
}

type Attr = { name: string; value: string };

interface IssueOptions {
  dns?: string[];
  ips?: string[];
  uris?: string[];
  emails?: string[];
  /** Not-after, in days from now (default 30). */
  days?: number;
}

/** A certificate for `subject`, signed by `ca`. EC P-256 keys, so tests spend milliseconds here. */
export async function issue(ca: KeyPair, subject: Record<string, string>, o: IssueOptions = {}): Promise<KeyPair> {
  const attrs: Attr[] = Object.entries(subject).map(([name, value]) => ({ name, value }));
  const altNames = [
    ...(o.dns ?? []).map((value) => ({ type: 2 as const, value })),
    ...(o.ips ?? []).map((ip) => ({ type: 7 as const, ip })),
    ...(o.uris ?? []).map((value) => ({ type: 6 as const, value })),
    ...(o.emails ?? []).map((value) => ({ type: 1 as const, value })),
  ];
  const pems = await generate(attrs, {
    keyType: 'ec',
    algorithm: 'sha256',
    notAfterDate: new Date(Date.now() + (o.days ?? 30) * 86_400_000),
    ca: { key: ca.key, cert: ca.cert },
    extensions: [
      { name: 'basicConstraints', cA: false },
      { name: 'keyUsage', digitalSignature: true, keyEncipherment: true },
      { name: 'extKeyUsage', serverAuth: true, clientAuth: true },
      ...(altNames.length ? [{ name: 'subjectAltName' as const, altNames }] : []),
    ],
  });
  return { cert: pems.cert, key: pems.private };
}

/** A self-signed CA certificate. */
export async function makeCa(commonName: string): Promise<KeyPair> {
  const pems = await generate([{ name: 'commonName', value: commonName }], {
    keyType: 'ec',
    algorithm: 'sha256',
    notAfterDate: new Date(Date.now() + 30 * 86_400_000),
    extensions: [
      { name: 'basicConstraints', cA: true, critical: true },
      { name: 'keyUsage', keyCertSign: true, cRLSign: true, digitalSignature: true, critical: true },
    ],
  });
  return { cert: pems.cert, key: pems.private };
}

let pki: Promise<TestPki> | undefined;

/** The test PKI, made once per test process (at run time: no network, no openssl binary). */
export function testPki(): Promise<TestPki> {
  pki ??= (async () => {
    const ca = await makeCa('hookgate test CA');
    const rogueCa = await makeCa('untrusted test CA');
    const partner = { commonName: 'partner-a', organizationName: 'Acme' };
    const partnerNames = { dns: ['partner-a.example'], uris: ['spiffe://example/partner-a'], emails: ['ops@partner-a.example'] };
    return {
      ca,
      rogueCa,
      server: await issue(ca, { commonName: 'localhost' }, { dns: ['localhost'], ips: ['127.0.0.1'] }),
      other: await issue(ca, { commonName: 'other.test' }, { dns: ['other.test'] }),
      client: await issue(ca, partner, partnerNames),
      rogueClient: await issue(rogueCa, partner, partnerNames),
    };
  })();
  return pki;
}

/** Files for `startGateway`'s `files`: the server certificate, its key and the CA, under tls/. */
export function pkiFiles(p: TestPki): Record<string, string> {
  return { 'tls/server.pem': p.server.cert, 'tls/server-key.pem': p.server.key, 'tls/ca.pem': p.ca.cert, 'tls/other.pem': p.other.cert, 'tls/other-key.pem': p.other.key };
}

/** The protocols the proxy and plugin cases run over: HTTP/1.1 (plain) and HTTP/2 (TLS, ALPN). */
export type Protocol = 'http1' | 'h2';
export const PROTOCOLS: readonly Protocol[] = ['http1', 'h2'];

/** TLS client options: trust, optional client certificate, server name. */
export interface TlsClientOptions {
  /** Source address of the connection (any 127/8 address is local on Linux). */
  localAddress?: string;
  ca?: string;
  cert?: string;
  key?: string;
  servername?: string;
}

// Headers HTTP/2 cannot carry (RFC 9113 §8.2.2): a case that sends them over HTTP/1.1 sends
// the rest over HTTP/2, and the gateway must behave as if they were stripped.
const CONNECTION_SPECIFIC = new Set(['connection', 'keep-alive', 'proxy-connection', 'transfer-encoding', 'upgrade', 'host']);

/** Response headers without pseudo headers, as node:http shapes them. */
function plainHeaders(h: H2Headers): IncomingHttpHeaders {
  const out: IncomingHttpHeaders = {};
  for (const [k, v] of Object.entries(h)) if (!k.startsWith(':')) (out as Record<string, unknown>)[k] = v;
  return out;
}

/**
 * One HTTP/2 request on its own session (TLS, ALPN h2): the same options and result shape as
 * `httpRequest`. `host` becomes `:authority`; connection-specific headers are not sent.
 */
export function h2Request(o: HttpOptions & TlsClientOptions): Promise<HttpResult> {
  return new Promise((resolve, reject) => {
    const authority = `localhost:${o.port}`;
    const opts: ClientSessionOptions & TlsClientOptions = { ca: o.ca, cert: o.cert, key: o.key, servername: o.servername ?? 'localhost', ...(o.localAddress ? { localAddress: o.localAddress } : {}) };
    const session = connect(`https://${o.host ?? '127.0.0.1'}:${o.port}`, opts);
    session.on('error', reject);
    const headers: OutgoingHttpHeaders = { [constants.HTTP2_HEADER_METHOD]: o.method ?? 'GET', [constants.HTTP2_HEADER_PATH]: o.path ?? '/', [constants.HTTP2_HEADER_AUTHORITY]: authority };
    for (const [k, v] of Object.entries(o.headers ?? {})) {
      const name = k.toLowerCase();
      if (name === 'host') headers[constants.HTTP2_HEADER_AUTHORITY] = String(v);
      else if (!CONNECTION_SPECIFIC.has(name) && !(name === 'te' && v !== 'trailers')) headers[name] = v;
    }
    if (o.body !== undefined && headers['content-length'] === undefined) headers['content-length'] = Buffer.byteLength(o.body);
    const endStream = o.body === undefined && o.chunks === undefined;
    const stream = session.request(headers, { endStream });
    const timer = setTimeout(() => stream.close(constants.NGHTTP2_CANCEL), o.timeoutMs ?? 15000);
    let status = 0;
    let resHeaders: IncomingHttpHeaders = {};
    const chunks: Buffer[] = [];
    stream.on('response', (h) => {
      status = Number(h[':status']);
      resHeaders = plainHeaders(h);
    });
    stream.on('data', (c: Buffer) => chunks.push(c));
    stream.on('error', (err) => {
      clearTimeout(timer);
      session.close();
      reject(err);
    });
    stream.on('end', () => {
      clearTimeout(timer);
      session.close();
      // A session torn down by a TLS alert ends its streams without a response.
      if (!status) return reject(new Error('HTTP/2 stream ended without a response'));
      const body = Buffer.concat(chunks);
      const text = body.toString('utf8');
      resolve({ status, headers: resHeaders, body, text, json: () => JSON.parse(text) });
    });
    stream.on('close', () => {
      clearTimeout(timer);
      if (!status) reject(new Error(`HTTP/2 stream closed without a response (code ${stream.rstCode})`));
    });
    if (o.chunks) {
      for (const c of o.chunks) stream.write(c);
      stream.end();
    } else if (!endStream) stream.end(o.body);
  });
}

/** One HTTPS (HTTP/1.1) request: `httpRequest` with TLS client options (server name `localhost` unless given). */
export function httpsRequest(o: HttpOptions & TlsClientOptions): Promise<HttpResult> {
  const { ca, cert, key, servername, ...rest } = o;
  return httpRequest({ ...rest, tls: { ca, cert, key, servername: servername ?? 'localhost' } });
}

/** Whether a `curl` with HTTP/2 support is on PATH (tests that use it skip otherwise). */
export function curlWithHttp2(): boolean {
  const r = spawnSync('curl', ['--version'], { encoding: 'utf8' });
  return r.status === 0 && /\bHTTP2\b/.test(r.stdout);
}
