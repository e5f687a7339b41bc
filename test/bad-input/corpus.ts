/**
 * The bad-input corpus: a gateway with one route per defence, and the requests a careless client
 * or an attacker sends. Every case names the status and stable code it must get; the runners
 * (requests.test.ts, raw.test.ts, admin.test.ts) also check that nothing reached the upstream that
 * should not, and that the process still answers the next request.
 */
import { createHmac } from 'node:crypto';
import { createDeliveryService } from '../../gateway/delivery/service.js';
import { startGateway, type TestGateway } from '../support/gateway.js';
import { startUpstream, type TestUpstream } from '../support/http.js';

export const GITHUB_SECRET = 'corpus-github-secret';
export const JWT_SECRET = 'corpus-jwt-secret-0123456789abcdef';
export const PARTNER_KEY = 'corpus-partner-key-0123';

export interface BadRequest {
  name: string;
  method?: string;
  path: string;
  headers?: Record<string, string | string[]>;
  body?: string | Buffer;
  status: number;
  code: string;
}

export interface CorpusEnv {
  gw: TestGateway;
  up: TestUpstream;
  stop(): Promise<void>;
}

export async function startCorpusGateway(): Promise<CorpusEnv> {
  const up = await startUpstream();
  const gw = await startGateway(
    `
upstreams:
  app: { targets: [ { url: "${up.url}/base" } ] }
routes:
  - { name: ok, path: /ok, respond: { status: 200, body: { ok: true } } }
  - name: github
    path: /webhook/v1/github
    methods: [POST]
    upstream: app
    plugins:
      - verify-signature: { preset: github, secrets: ["${GITHUB_SECRET}"] }
  - name: jwt
    path: /api/*
    upstream: app
    plugins:
      - jwt-auth: { algorithms: [HS256], secrets: ["${JWT_SECRET}"] }
  - name: keys
    path: /keys/*
    upstream: app
    plugins:
      - key-auth: { keys: [ { key: "${PARTNER_KEY}", consumer: partner } ] }
  - name: small
    path: /small
    upstream: app
    plugins:
      - size-limit: { bytes: 64 }
  - name: proxied
    path: /app/*
    upstream: app
  - name: asyncb
    path: /asyncb/*
    deliver: { upstream: app }
  - name: events
    path: /events
    methods: [POST]
    publish: {}
`,
    { services: createDeliveryService },
  );
  return {
    gw,
    up,
    stop: async () => {
      await gw.stop();
      await up.close();
    },
  };
}

export function githubSignature(body: string, secret = GITHUB_SECRET): string {
  return `sha256=${createHmac('sha256', secret).update(body).digest('hex')}`;
}

/** A compact JWS with any header and payload, HMAC-signed (or unsigned for alg none). */
export function jwt(header: Record<string, unknown>, payload: Record<string, unknown>, secret = JWT_SECRET): string {
  const b64 = (o: unknown) => Buffer.from(JSON.stringify(o)).toString('base64url');
  const input = `${b64(header)}.${b64(payload)}`;
  if (header.alg === 'none') return `${input}.`;
  return `${input}.${createHmac('sha256', secret).update(input).digest('base64url')}`;
}

const now = () => Math.floor(Date.now() / 1000);
const body = '{"action":"opened"}';

/** Requests a normal HTTP client can send; each must be refused with its code. */
export function httpCorpus(): BadRequest[] {
  return [
    { name: 'unknown path', path: '/nope', status: 404, code: 'HG_ROUTE_NOT_FOUND' },
    { name: 'wrong method', method: 'GET', path: '/webhook/v1/github', status: 405, code: 'HG_METHOD_NOT_ALLOWED' },
    { name: 'malformed percent-encoding', path: '/app/%zz', status: 400, code: 'HG_BAD_PATH' },
    { name: 'encoded NUL in the path', path: '/app/a%00b', status: 400, code: 'HG_BAD_PATH' },
    { name: 'dot segments climbing out of a prefix route', path: '/app/../../admin', status: 404, code: 'HG_ROUTE_NOT_FOUND' },
    { name: 'encoded dot segments climbing out of a prefix route', path: '/app/%2e%2e/%2E%2E/admin', status: 404, code: 'HG_ROUTE_NOT_FOUND' },
    { name: 'signature missing', method: 'POST', path: '/webhook/v1/github', body, status: 401, code: 'HG_SIGNATURE_MISSING' },
    { name: 'signature not hex', method: 'POST', path: '/webhook/v1/github', headers: { 'x-hub-signature-256': 'sha256=zz' }, body, status: 401, code: 'HG_SIGNATURE_MISSING' },
    { name: 'signature with the wrong secret', method: 'POST', path: '/webhook/v1/github', headers: { 'x-hub-signature-256': githubSignature(body, 'guess') }, body, status: 401, code: 'HG_SIGNATURE_INVALID' },
    { name: 'signature of another body', method: 'POST', path: '/webhook/v1/github', headers: { 'x-hub-signature-256': githubSignature('{}') }, body, status: 401, code: 'HG_SIGNATURE_INVALID' },
    { name: 'signature header repeated', method: 'POST', path: '/webhook/v1/github', headers: { 'x-hub-signature-256': [githubSignature(body), githubSignature(body)] }, body, status: 401, code: 'HG_SIGNATURE_MISSING' },
    { name: 'jwt missing', path: '/api/x', status: 401, code: 'HG_AUTH_INVALID' },
    { name: 'jwt alg none', path: '/api/x', headers: { authorization: `Bearer ${jwt({ alg: 'none', typ: 'JWT' }, { sub: 'a', exp: now() + 60 })}` }, status: 401, code: 'HG_AUTH_INVALID' },
    { name: 'jwt alg switched to HS512', path: '/api/x', headers: { authorization: `Bearer ${jwt({ alg: 'HS512', typ: 'JWT' }, { sub: 'a', exp: now() + 60 })}` }, status: 401, code: 'HG_AUTH_INVALID' },
    { name: 'jwt expired', path: '/api/x', headers: { authorization: `Bearer ${jwt({ alg: 'HS256', typ: 'JWT' }, { sub: 'a', exp: now() - 3600 })}` }, status: 401, code: 'HG_AUTH_INVALID' },
    { name: 'jwt not yet valid', path: '/api/x', headers: { authorization: `Bearer ${jwt({ alg: 'HS256', typ: 'JWT' }, { sub: 'a', nbf: now() + 3600 })}` }, status: 401, code: 'HG_AUTH_INVALID' },
    { name: 'jwt with the wrong secret', path: '/api/x', headers: { authorization: `Bearer ${jwt({ alg: 'HS256' }, { sub: 'a' }, 'guess-guess-guess')}` }, status: 401, code: 'HG_AUTH_INVALID' },
    { name: 'jwt garbage', path: '/api/x', headers: { authorization: 'Bearer a.b.c' }, status: 401, code: 'HG_AUTH_INVALID' },
    { name: 'jwt with an unknown crit parameter', path: '/api/x', headers: { authorization: `Bearer ${jwt({ alg: 'HS256', crit: ['exp-x'], 'exp-x': 1 }, { sub: 'a', exp: now() + 60 })}` }, status: 401, code: 'HG_AUTH_INVALID' },
    { name: 'api key missing', path: '/keys/x', status: 401, code: 'HG_AUTH_INVALID' },
    { name: 'api key wrong', path: '/keys/x', headers: { apikey: 'corpus-partner-key-0124' }, status: 401, code: 'HG_AUTH_INVALID' },
    { name: 'api key prefix of the real one', path: '/keys/x', headers: { apikey: PARTNER_KEY.slice(0, -1) }, status: 401, code: 'HG_AUTH_INVALID' },
    { name: 'body over the route limit (declared)', method: 'POST', path: '/small', body: 'x'.repeat(65), status: 413, code: 'HG_BODY_TOO_LARGE' },
    { name: 'declared length over limits.bodyBytes', method: 'POST', path: '/app/x', headers: { 'content-length': String(2 * 1024 * 1024 * 1024) }, status: 413, code: 'HG_BODY_TOO_LARGE' },
    { name: 'event not JSON', method: 'POST', path: '/events', headers: { 'content-type': 'application/json' }, body: '{"type":', status: 400, code: 'HG_EVENT_INVALID' },
    { name: 'event without a type', method: 'POST', path: '/events', headers: { 'content-type': 'application/json' }, body: '{"data":{}}', status: 400, code: 'HG_EVENT_INVALID' },
    { name: 'event with invalid UTF-8', method: 'POST', path: '/events', headers: { 'content-type': 'application/json' }, body: Buffer.concat([Buffer.from('{"type":"a.b","data":{"x":"'), Buffer.from([0xc3, 0x28]), Buffer.from('"}}')]), status: 400, code: 'HG_EVENT_INVALID' },
    { name: 'event into an unknown tenant', method: 'POST', path: '/events', headers: { 'content-type': 'application/json' }, body: '{"type":"a.b","data":{},"tenant":"nope"}', status: 404, code: 'HG_TENANT_NOT_FOUND' },
    { name: 'event with a malformed tenant', method: 'POST', path: '/events', headers: { 'content-type': 'application/json' }, body: '{"type":"a.b","data":{},"tenant":"../x"}', status: 400, code: 'HG_EVENT_INVALID' },
    { name: 'event narrowed to an unknown endpoint', method: 'POST', path: '/events', headers: { 'content-type': 'application/json' }, body: '{"type":"a.b","data":{},"endpoints":["nope"]}', status: 400, code: 'HG_EVENT_INVALID' },
    { name: 'event with a bad Idempotency-Key', method: 'POST', path: '/events', headers: { 'content-type': 'application/json', 'idempotency-key': 'x'.repeat(1000) }, body: '{"type":"a.b","data":{}}', status: 400, code: 'HG_EVENT_INVALID' },
    { name: 'upgrade on a route without websocket', path: '/app/ws', headers: { connection: 'upgrade', upgrade: 'websocket' }, status: 400, code: 'HG_UPGRADE_REFUSED' },
  ];
}
