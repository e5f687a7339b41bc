import { test } from 'node:test';
import assert from 'node:assert/strict';
import { X509Certificate } from 'node:crypto';
import { definePlugin } from '../../gateway/plugin-api.js';
import { parseSubjectAltNames } from '../../plugins/mtls-auth/index.js';
import { startGateway, type TestGateway } from '../support/gateway.js';
import { httpRequest } from '../support/http.js';
import { compileText } from '../support/snapshot.js';
import { h2Request, httpsRequest, issue, pkiFiles, testPki, type KeyPair, type TestPki } from '../support/tls.js';

// Echoes the consumer the request ended with, so the tests can see what mtls-auth set.
const showConsumer = definePlugin({
  name: 'show-consumer',
  schema: { type: 'object' },
  create: () => ({ onResponse: (ctx, headers) => void (headers['x-consumer'] = ctx.consumer ?? '-') }),
});

function routesYaml(fingerprint: string): string {
  const route = (name: string, allow: string) => `
  - name: ${name}
    path: /${name}
    plugins: [ { mtls-auth: { allow: [ ${allow} ] } }, { show-consumer: {} } ]
    respond: { status: 200, body: { ok: true } }`;
  return `
routes:${route('by-subject', '{ subject: { CN: partner-a, O: Acme }, consumer: acme-partner }')}${route('by-san', '{ san: "URI:spiffe://example/partner-a" }, { san: "DNS:nobody.example" }')}${route('by-dns', '{ san: "DNS:Partner-A.example" }')}${route('by-fingerprint', `{ fingerprint: "${fingerprint}" }`)}${route('others-only', '{ subject: { CN: someone-else } }, { san: "email:ops@elsewhere.example" }')}
`;
}

const listenYaml = (clientAuth: string, http2: boolean) =>
  `listen: { host: 127.0.0.1, port: 0, http2: ${http2}, tls: { cert: tls/server.pem, key: tls/server-key.pem, ca: tls/ca.pem, clientAuth: ${clientAuth} }, http: { host: 127.0.0.1, port: 0 } }`;

async function start(pki: TestPki, clientAuth: string, http2: boolean): Promise<TestGateway> {
  const fp = new X509Certificate(pki.client.cert).fingerprint256;
  return startGateway(`${listenYaml(clientAuth, http2)}\n${routesYaml(fp)}`, { files: pkiFiles(pki), plugins: [showConsumer] });
}

for (const proto of ['http1', 'h2'] as const) {
  const send = (g: TestGateway, path: string, id: KeyPair | undefined, pki: TestPki) =>
    (proto === 'h2' ? h2Request : httpsRequest)({ port: g.port, path, ca: pki.ca.cert, ...(id ? { cert: id.cert, key: id.key } : {}) });

  test(`[${proto}] clientAuth optional: allowed by subject, SAN or fingerprint with the consumer set; refused without a trusted certificate or when no entry matches`, async () => {
    const pki = await testPki();
    const g = await start(pki, 'optional', proto === 'h2');
    try {
      const bySubject = await send(g, '/by-subject', pki.client, pki);
      assert.equal(bySubject.status, 200);
      assert.equal(bySubject.headers['x-consumer'], 'acme-partner');
      for (const path of ['/by-san', '/by-dns', '/by-fingerprint']) {
        const r = await send(g, path, pki.client, pki);
        assert.equal(r.status, 200, path);
        assert.equal(r.headers['x-consumer'], 'partner-a', `${path}: the consumer defaults to the CN`);
      }
      const other = await send(g, '/others-only', pki.client, pki);
      assert.equal(other.status, 403);
      assert.equal(other.json().error.code, 'HG_CLIENT_CERT_FORBIDDEN');

      const none = await send(g, '/by-subject', undefined, pki);
      assert.equal(none.status, 401);
      assert.equal(none.json().error.code, 'HG_CLIENT_CERT_REQUIRED');
      // Same names, signed by a CA the listener does not trust: the handshake admits it (optional), the plugin does not.
      const rogue = await send(g, '/by-fingerprint', pki.rogueClient, pki);
      assert.equal(rogue.status, 401);
      assert.equal(rogue.json().error.code, 'HG_CLIENT_CERT_REQUIRED');
      assert.match(rogue.json().error.message, /not trusted/);
      assert.equal((await send(g, '/by-subject', pki.rogueClient, pki)).status, 401);

      // The plain-HTTP listener beside it has no certificate to offer.
      const plain = await httpRequest({ port: g.gw.httpAddress()!.port, path: '/by-subject' });
      assert.equal(plain.status, 401);
      assert.equal(plain.json().error.code, 'HG_CLIENT_CERT_REQUIRED');
    } finally {
      await g.stop();
    }
  });

  test(`[${proto}] clientAuth require: the handshake refuses a missing or untrusted certificate`, async () => {
    const pki = await testPki();
    const g = await start(pki, 'require', proto === 'h2');
    try {
      assert.equal((await send(g, '/by-subject', pki.client, pki)).status, 200);
      await assert.rejects(send(g, '/by-subject', undefined, pki));
      await assert.rejects(send(g, '/by-subject', pki.rogueClient, pki));
      // A second certificate from the trusted CA with other names: through the handshake, refused by the route.
      const stranger = await issue(pki.ca, { commonName: 'stranger' });
      const r = await send(g, '/by-subject', stranger, pki);
      assert.equal(r.status, 403);
      assert.equal(r.json().error.code, 'HG_CLIENT_CERT_FORBIDDEN');
    } finally {
      await g.stop();
    }
  });
}

test('subject alternative names are parsed with Node\'s quoting, so a value cannot smuggle in another name', () => {
  assert.deepEqual([...parseSubjectAltNames('DNS:A.example, URI:spiffe://x/y, email:Ops@X.example, IP Address:127.0.0.1')], ['DNS:a.example', 'URI:spiffe://x/y', 'email:ops@x.example']);
  assert.deepEqual([...parseSubjectAltNames('URI:"http://x/?a=1, DNS:evil.example"')], ['URI:http://x/?a=1, DNS:evil.example']);
  assert.equal(parseSubjectAltNames(undefined).size, 0);
});

test('params are checked: an entry needs a matcher, fingerprints are SHA-256', async () => {
  const bad = [
    '{ mtls-auth: { allow: [ { consumer: x } ] } }',
    '{ mtls-auth: { allow: [ { fingerprint: "AB:CD" } ] } }',
    '{ mtls-auth: { allow: [ { san: "IP:127.0.0.1" } ] } }',
    '{ mtls-auth: { allow: [] } }',
  ];
  for (const plugin of bad) {
    await assert.rejects(compileText(`routes:\n  - name: r\n    path: /r\n    plugins: [ ${plugin} ]\n    respond: { status: 200 }\n`), /plugin "mtls-auth"/, plugin);
  }
});
