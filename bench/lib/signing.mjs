// Request material for the ingress pipeline, made at bench time: a 1 KB JSON body, an HS256 JWT,
// and standard-webhooks headers (signed now, so well inside the 300 s tolerance for one run).
import { createHmac, randomUUID } from 'node:crypto';
import { JWT_SECRET, WH_SECRET } from './env.mjs';

const b64url = (b) => Buffer.from(b).toString('base64url');

/** A JSON document of exactly `bytes` bytes (ASCII). */
export function jsonBody(bytes = 1024, extra = {}) {
  const base = { type: 'order.created', id: 'ord_1234567890', amount: 4200, currency: 'EUR', ...extra, pad: '' };
  const without = Buffer.byteLength(JSON.stringify(base));
  base.pad = 'x'.repeat(Math.max(0, bytes - without));
  return JSON.stringify(base);
}

/** HS256 JWT valid for an hour. */
export function hs256(claims = {}, secret = JWT_SECRET) {
  const now = Math.floor(Date.now() / 1000);
  const head = b64url(JSON.stringify({ alg: 'HS256', typ: 'JWT' }));
  const body = b64url(JSON.stringify({ sub: 'bench-client', iat: now, exp: now + 3600, ...claims }));
  const sig = createHmac('sha256', secret).update(`${head}.${body}`).digest('base64url');
  return `${head}.${body}.${sig}`;
}

/** standard-webhooks headers for `body`, signed with `secret` at the current time. */
export function standardWebhooksHeaders(body, secret = WH_SECRET, id = `msg_${randomUUID()}`) {
  const ts = String(Math.floor(Date.now() / 1000));
  const key = Buffer.from(secret.replace(/^whsec_/, ''), 'base64');
  const sig = createHmac('sha256', key).update(`${id}.${ts}.${body}`).digest('base64');
  return { 'webhook-id': id, 'webhook-timestamp': ts, 'webhook-signature': `v1,${sig}` };
}

/** Headers+body of the fixed scenario 2 request: JSON, Bearer JWT, standard-webhooks signature. */
export function pipelineRequest() {
  const body = jsonBody(1024);
  return {
    body,
    headers: {
      'Content-Type': 'application/json',
      Authorization: `Bearer ${hs256()}`,
      ...standardWebhooksHeaders(body),
    },
  };
}
