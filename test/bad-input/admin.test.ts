import assert from 'node:assert/strict';
import { after, afterEach, before, test } from 'node:test';
import { ADMIN_TOKEN } from '../support/gateway.js';
import { httpRequest } from '../support/http.js';
import { startCorpusGateway, type CorpusEnv } from './corpus.js';

/** Admin calls a careless operator or an attacker sends: each refused with its code, nothing changed. */

let env: CorpusEnv;
before(async () => {
  env = await startCorpusGateway();
});
after(() => env.stop());

function admin(method: string, path: string, o: { body?: string; headers?: Record<string, string> } = {}) {
  const headers: Record<string, string> = { 'content-type': 'application/json', ...(o.headers ?? { authorization: `Bearer ${ADMIN_TOKEN}` }) };
  return httpRequest({ port: env.gw.adminPort, method, path, headers, body: o.body });
}

async function endpointIds(): Promise<string[]> {
  const list = await admin('GET', '/admin/endpoints');
  assert.equal(list.status, 200);
  return (list.json().endpoints as Array<{ id: string }>).map((e) => e.id);
}

// Remove what a failing case created, so one failure does not fail the cases after it.
afterEach(async () => {
  for (const id of await endpointIds()) await admin('DELETE', `/admin/endpoints/${id}`);
});

const json = (o: unknown) => JSON.stringify(o);
const CASES: Array<{ name: string; method: string; path: string; body?: string; headers?: Record<string, string>; status: number; code: string }> = [
  { name: 'no token', method: 'GET', path: '/admin/routes', headers: {}, status: 401, code: 'HG_ADMIN_UNAUTHORIZED' },
  { name: 'a wrong token of the same length', method: 'GET', path: '/admin/routes', headers: { authorization: `Bearer ${ADMIN_TOKEN.replace(/.$/, 'x')}` }, status: 401, code: 'HG_ADMIN_UNAUTHORIZED' },
  { name: 'the token without the Bearer scheme', method: 'GET', path: '/admin/routes', headers: { authorization: ADMIN_TOKEN }, status: 401, code: 'HG_ADMIN_UNAUTHORIZED' },
  { name: 'the token as Basic auth', method: 'GET', path: '/admin/routes', headers: { authorization: `Basic ${Buffer.from(`x:${ADMIN_TOKEN}`).toString('base64')}` }, status: 401, code: 'HG_ADMIN_UNAUTHORIZED' },
  { name: 'no token on an unknown route', method: 'GET', path: '/admin/nope', headers: {}, status: 401, code: 'HG_ADMIN_UNAUTHORIZED' },
  { name: 'an unknown route', method: 'GET', path: '/admin/nope', status: 404, code: 'HG_ADMIN_NOT_FOUND' },
  { name: 'a body that is not JSON', method: 'POST', path: '/admin/endpoints', body: '{"url":', status: 400, code: 'HG_ADMIN_BAD_INPUT' },
  { name: 'a JSON array body', method: 'POST', path: '/admin/endpoints', body: '[]', status: 400, code: 'HG_ADMIN_BAD_INPUT' },
  { name: 'an endpoint without a url', method: 'POST', path: '/admin/endpoints', body: json({ events: ['*'] }), status: 400, code: 'HG_ADMIN_BAD_INPUT' },
  { name: 'an endpoint url that is not http(s)', method: 'POST', path: '/admin/endpoints', body: json({ url: 'file:///etc/passwd' }), status: 400, code: 'HG_ENDPOINT_URL_INVALID' },
  { name: 'an endpoint on a private address', method: 'POST', path: '/admin/endpoints', body: json({ url: 'http://10.0.0.1/hook' }), status: 400, code: 'HG_ENDPOINT_URL_BLOCKED' },
  { name: 'an endpoint on the metadata address', method: 'POST', path: '/admin/endpoints', body: json({ url: 'http://169.254.169.254/latest' }), status: 400, code: 'HG_ENDPOINT_URL_BLOCKED' },
  { name: 'an endpoint id with a slash', method: 'POST', path: '/admin/endpoints', body: json({ id: 'a/b', url: 'https://hooks.example.com/x' }), status: 400, code: 'HG_ADMIN_BAD_INPUT' },
  { name: 'an endpoint header with CR/LF', method: 'POST', path: '/admin/endpoints', body: json({ url: 'https://hooks.example.com/x', headers: { 'x-a': 'b\r\nx-injected: 1' } }), status: 400, code: 'HG_ADMIN_BAD_INPUT' },
  { name: 'an endpoint header with non-Latin-1 text', method: 'POST', path: '/admin/endpoints', body: json({ url: 'https://hooks.example.com/x', headers: { 'x-a': 'naïve ✓' } }), status: 400, code: 'HG_ADMIN_BAD_INPUT' },
  { name: 'an endpoint Host header', method: 'POST', path: '/admin/endpoints', body: json({ url: 'https://hooks.example.com/x', headers: { host: 'internal' } }), status: 400, code: 'HG_ADMIN_BAD_INPUT' },
  { name: 'an endpoint Content-Length header', method: 'POST', path: '/admin/endpoints', body: json({ url: 'https://hooks.example.com/x', headers: { 'Content-Length': '0' } }), status: 400, code: 'HG_ADMIN_BAD_INPUT' },
  { name: 'an endpoint Transfer-Encoding header', method: 'POST', path: '/admin/endpoints', body: json({ url: 'https://hooks.example.com/x', headers: { 'transfer-encoding': 'chunked' } }), status: 400, code: 'HG_ADMIN_BAD_INPUT' },
  { name: 'an endpoint with a negative rate limit', method: 'POST', path: '/admin/endpoints', body: json({ url: 'https://hooks.example.com/x', rateLimitPerSec: -1 }), status: 400, code: 'HG_ADMIN_BAD_INPUT' },
  { name: 'an unknown endpoint', method: 'GET', path: '/admin/endpoints/nope', status: 404, code: 'HG_ENDPOINT_NOT_FOUND' },
  { name: 'patching the read-only config endpoint… that does not exist', method: 'PATCH', path: '/admin/endpoints/nope', body: json({ url: 'https://hooks.example.com/y' }), status: 404, code: 'HG_ENDPOINT_NOT_FOUND' },
  { name: 'an unknown message', method: 'GET', path: '/admin/messages/msg_nope', status: 404, code: 'HG_MESSAGE_NOT_FOUND' },
  { name: 'a message list limit out of range', method: 'GET', path: '/admin/messages?limit=100000', status: 400, code: 'HG_ADMIN_BAD_INPUT' },
  { name: 'a message list with an unknown status', method: 'GET', path: '/admin/messages?status=everything', status: 400, code: 'HG_ADMIN_BAD_INPUT' },
  { name: 'a tenant without an id', method: 'POST', path: '/admin/tenants', body: json({ name: 'x' }), status: 400, code: 'HG_ADMIN_BAD_INPUT' },
  { name: 'a tenant id with a slash', method: 'POST', path: '/admin/tenants', body: json({ id: 'a/b' }), status: 400, code: 'HG_ADMIN_BAD_INPUT' },
  { name: 'a tenant with an unknown quota', method: 'POST', path: '/admin/tenants', body: json({ id: 'acme', quotas: { everything: 1 } }), status: 400, code: 'HG_ADMIN_BAD_INPUT' },
  { name: 'a tenant with a negative endpoint quota', method: 'POST', path: '/admin/tenants', body: json({ id: 'acme', quotas: { maxEndpoints: -1 } }), status: 400, code: 'HG_ADMIN_BAD_INPUT' },
  { name: 'creating the default tenant', method: 'POST', path: '/admin/tenants', body: json({ id: 'default' }), status: 409, code: 'HG_TENANT_EXISTS' },
  { name: 'an unknown tenant', method: 'GET', path: '/admin/tenants/nope', status: 404, code: 'HG_TENANT_NOT_FOUND' },
  { name: 'deleting the default tenant', method: 'DELETE', path: '/admin/tenants/default', status: 409, code: 'HG_TENANT_READONLY' },
  { name: 'an endpoint in an unknown tenant', method: 'POST', path: '/admin/endpoints', body: json({ url: 'https://hooks.example.com/x', tenant: 'nope' }), status: 404, code: 'HG_TENANT_NOT_FOUND' },
  { name: "an endpoint in an unknown tenant's path", method: 'POST', path: '/admin/tenants/nope/endpoints', body: json({ url: 'https://hooks.example.com/x' }), status: 404, code: 'HG_TENANT_NOT_FOUND' },
  { name: 'a tenant endpoint naming another tenant in its body', method: 'POST', path: '/admin/tenants/default/endpoints', body: json({ url: 'https://hooks.example.com/x', tenant: 'acme' }), status: 400, code: 'HG_ADMIN_BAD_INPUT' },
  { name: 'a message list with a malformed tenant', method: 'GET', path: '/admin/messages?tenant=a%2Fb', status: 400, code: 'HG_ADMIN_BAD_INPUT' },
  { name: 'recover on an unknown endpoint with a bad date', method: 'POST', path: '/admin/endpoints/nope/recover', body: json({ since: 'yesterday' }), status: 404, code: 'HG_ENDPOINT_NOT_FOUND' },
];

for (const c of CASES) {
  test(`bad admin call: ${c.name} → ${c.status} ${c.code}, nothing created`, async () => {
    const r = await admin(c.method, c.path, { body: c.body, headers: c.headers });
    assert.equal(r.status, c.status, r.text);
    assert.equal(r.json().error.code, c.code);
    assert.ok(!r.text.includes(ADMIN_TOKEN), 'the token is never echoed');
    assert.deepEqual(await endpointIds(), [], 'no endpoint was created');
    const tenants = await admin('GET', '/admin/tenants');
    assert.deepEqual(tenants.json().tenants.map((t: { id: string }) => t.id), ['default'], 'no tenant was created');
  });
}
