import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { httpCorpus, startCorpusGateway, type CorpusEnv } from './corpus.js';

let env: CorpusEnv;
before(async () => {
  env = await startCorpusGateway();
});
after(() => env.stop());

for (const c of httpCorpus()) {
  test(`bad input: ${c.name} → ${c.status} ${c.code}, nothing forwarded, the gateway answers next`, async () => {
    const before = env.up.requests.length;
    const r = await env.gw.request({ method: c.method ?? 'GET', path: c.path, headers: c.headers, body: c.body });
    assert.equal(r.status, c.status, r.text);
    assert.match(String(r.headers['content-type']), /^application\/json/);
    assert.equal(r.json().error.code, c.code);
    assert.equal(typeof r.json().error.message, 'string');
    assert.equal(env.up.requests.length, before, 'nothing reached the upstream');
    const next = await env.gw.request({ path: '/ok' });
    assert.equal(next.status, 200);
  });
}

test('deliver forwards the normalised, re-encoded path: encoded dot segments never leave the base path', async () => {
  const r = await env.gw.request({ method: 'POST', path: '/asyncb/%252e%252e/%252e%252e/admin/delete-all%3Fx%23y', headers: { 'content-type': 'application/json' }, body: '{}' });
  assert.equal(r.status, 202, r.text);
  const deadline = Date.now() + 10000;
  while (!env.up.requests.some((q) => q.url.includes('delete-all')) && Date.now() < deadline) await new Promise((res) => setTimeout(res, 10));
  const got = env.up.requests.find((q) => q.url.includes('delete-all'));
  assert.ok(got, 'the message was delivered');
  assert.ok(got.url.startsWith('/base/'), got.url);
  assert.ok(!got.url.startsWith('/base/admin'), got.url);
  assert.ok(!got.url.includes('?'), `no query was made from %3F: ${got.url}`);
  assert.ok(got.url.endsWith('%3Fx%23y'), got.url);
});
