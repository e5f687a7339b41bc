/**
 * Egress endpoints over TLS: a CA to trust, a client certificate, a servername, from gateway.yaml
 * (files) and the admin API (PEM text). Verification is always on; the private key is never shown
 * or logged; the SSRF guard still pins the address it dialled.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { pino } from 'pino';
import { EndpointDirectory } from '../../gateway/delivery/endpoints.js';
import { OperationalEvents } from '../../gateway/delivery/operational.js';
import { MemoryRepository } from '../../gateway/delivery/repository.js';
import { createDeliveryService } from '../../gateway/delivery/service.js';
import { sendSigned } from '../../gateway/delivery/transport.js';
import { ConfigError } from '../../gateway/errors.js';
import { startGateway, type TestGateway } from '../support/gateway.js';
import { waitUntil } from '../support/http.js';
import { compileConfig, compileText } from '../support/snapshot.js';
import { startTlsReceiver, testPki } from '../support/test-certs-egress.js';
import { openResources } from './resources.js';

const { onClose } = openResources();
const silent = pino({ level: 'silent' });
const pki = testPki();
const PKI_FILES = { 'pki/ca.crt': pki.ca, 'pki/client.crt': pki.clientCert, 'pki/client.key': pki.clientKey, 'pki/other-ca.crt': pki.otherCa };
const VERIFY_FAILED = /self[- ]signed|unable to (get|verify)|UNABLE_TO|DEPTH_ZERO/i;

async function receiver(opts: { requireClientCert?: boolean } = {}) {
  const r = await startTlsReceiver(opts);
  onClose(() => r.close());
  return r;
}

async function gatewayWith(endpoints: string, allow = '["127.0.0.1/32"]'): Promise<TestGateway> {
  const g = await startGateway(
    `
routes:
  - { name: events, path: /events, methods: [POST], publish: {} }
egress:
  allowCidrs: ${allow}
  retry: { schedule: [0] }
  endpoints:
${endpoints}
`,
    { services: createDeliveryService, files: PKI_FILES },
  );
  onClose(() => g.stop());
  return g;
}

async function publish(g: TestGateway, type: string): Promise<string> {
  const r = await g.request({ method: 'POST', path: '/events', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ type, data: {} }) });
  assert.equal(r.status, 202, r.text);
  return r.json().id;
}

/** The delivery's final state and its attempts, once it is no longer pending. */
async function settled(g: TestGateway, id: string, ep: string): Promise<{ status: string; attempts: { status: number; error?: string }[] }> {
  let d: { status: string; attempts: { status: number; error?: string }[] } | undefined;
  await waitUntil(
    async () => {
      d = (await g.admin('GET', `/admin/messages/${id}`)).json().deliveries[ep];
      return d !== undefined && d.status !== 'pending';
    },
    10000,
    `delivery to ${ep}`,
  );
  return d!;
}

describe('endpoint TLS from gateway.yaml', () => {
  test('client certificate, own CA and servername work; without the right CA or client certificate the attempt fails', async () => {
    const mtls = await receiver({ requireClientCert: true });
    const plain = await receiver();
    const g = await gatewayWith(`
    - { id: mtls, url: "${mtls.url}/mtls", events: ["m.*"], tls: { ca: pki/ca.crt, cert: pki/client.crt, key: pki/client.key } }
    - { id: named, url: "${plain.url}/named", events: ["n.*"], tls: { ca: pki/ca.crt, servername: upstream.test } }
    - { id: default-roots, url: "${plain.url}/default", events: ["d.*"] }
    - { id: wrong-ca, url: "${plain.url}/wrong", events: ["w.*"], tls: { ca: pki/other-ca.crt } }
    - { id: no-client-cert, url: "${mtls.url}/nocert", events: ["c.*"], tls: { ca: pki/ca.crt } }
`);
    const ids = { mtls: await publish(g, 'm.x'), named: await publish(g, 'n.x'), 'default-roots': await publish(g, 'd.x'), 'wrong-ca': await publish(g, 'w.x'), 'no-client-cert': await publish(g, 'c.x') };

    assert.equal((await settled(g, ids.mtls, 'mtls')).status, 'delivered');
    const got = mtls.requests.find((r) => r.url === '/mtls')!;
    assert.equal(got.clientCert, 'hookgate-client', 'the endpoint saw the client certificate');
    assert.ok(got.headers['webhook-signature'], 'and a signed webhook');

    assert.equal((await settled(g, ids.named, 'named')).status, 'delivered');
    assert.equal(plain.requests.find((r) => r.url === '/named')?.servername, 'upstream.test', 'SNI is the configured servername');

    for (const ep of ['default-roots', 'wrong-ca'] as const) {
      const d = await settled(g, ids[ep], ep);
      assert.equal(d.status, 'failed', ep);
      assert.equal(d.attempts[0]!.status, 0);
      assert.match(d.attempts[0]!.error ?? '', VERIFY_FAILED, ep);
    }
    const noCert = await settled(g, ids['no-client-cert'], 'no-client-cert');
    assert.equal(noCert.status, 'failed');
    assert.deepEqual(
      [...plain.requests, ...mtls.requests].map((r) => r.url).sort(),
      ['/mtls', '/named'],
      'nothing reached a server whose certificate did not verify, or that wanted a client certificate',
    );
    assert.ok(!JSON.stringify(g.log.lines).includes('PRIVATE KEY'), 'the key is never logged');
    const view = (await g.admin('GET', '/admin/endpoints/mtls')).json();
    assert.equal(view.tls.ca, true);
    assert.match(view.tls.clientCertificate.subject, /CN=hookgate-client/);
    assert.ok(!JSON.stringify(view).includes('PRIVATE KEY'));
  });

  test('the SSRF guard still decides at connect time with tls settings (a name that resolves to loopback)', async () => {
    const r = await receiver();
    // No allowCidrs: loopback is blocked. sendSigned skips the early URL check, so only the
    // guarded lookup of the TLS connection stands between the attempt and 127.0.0.1.
    const snap = await compileConfig({});
    onClose(() => snap.dispose());
    const res = await sendSigned(snap, { url: `https://localhost:${r.port}/g`, msgId: 'msg_1', body: Buffer.from('{}'), secrets: ['whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw'], tls: { ca: pki.ca, cert: pki.clientCert, key: pki.clientKey }, nowMs: Date.now(), timeoutMs: 15000 });
    assert.equal(res.status, 0);
    assert.match(res.error ?? '', /blocked by the SSRF guard/);
    assert.equal(r.requests.length, 0);
  });

  test('keys from gateway.yaml stay in memory: the stored record has no TLS material, attempts get it from the snapshot', async () => {
    const snap = await compileConfig({ egress: { allowCidrs: ['127.0.0.1/32'], endpoints: [{ id: 'ep', url: 'https://127.0.0.1:9/x', tls: { ca: pki.files.ca, cert: pki.files.clientCert, key: pki.files.clientKey } }] } });
    onClose(() => snap.dispose());
    const repo = new MemoryRepository();
    const dir = new EndpointDirectory({ repo, logger: silent, now: Date.now, snapshot: () => snap, events: new OperationalEvents({ logger: silent, now: Date.now, snapshot: () => snap }) });
    await dir.sync();
    const stored = (await repo.getEndpoint('ep'))!;
    assert.equal(stored.tls, undefined);
    assert.ok(!JSON.stringify(stored).includes('PRIVATE KEY'));
    const tls = dir.tlsOf(stored)!;
    assert.equal(tls.key, pki.clientKey);
    assert.equal(tls.ca, pki.ca);
  });

  test('unreadable or unusable files are located config errors that never quote the key', async () => {
    const yaml = (tls: string, url = 'https://127.0.0.1:9/hook') => `egress:\n  allowCidrs: ["127.0.0.1/32"]\n  endpoints:\n    - id: ep\n      url: "${url}"\n      tls: ${tls}\n`;
    const cases: [string, RegExp, string, string?][] = [
      [`{ ca: missing.pem }`, /cannot read ca file .*missing\.pem: ENOENT/, 'egress.endpoints[0].tls.ca'],
      [`{ ca: "${pki.files.clientKey}" }`, /holds no PEM certificate/, 'egress.endpoints[0].tls.ca'],
      [`{ cert: "${pki.files.clientCert}" }`, /needs both "cert" and "key"/, 'egress.endpoints[0].tls.key'],
      [`{ cert: "${pki.files.clientCert}", key: "${pki.files.serverKey}" }`, /does not belong to/, 'egress.endpoints[0].tls.key'],
      [`{ cert: "${pki.files.ca}", key: "${pki.files.ca}" }`, /not a PEM private key/, 'egress.endpoints[0].tls.key'],
      [`{ ca: "${pki.files.ca}" }`, /tls settings but an http:\/\/ URL/, 'egress.endpoints[0].tls', 'http://127.0.0.1:9/hook'],
    ];
    for (const [tls, re, path, url] of cases) {
      await assert.rejects(compileText(yaml(tls, url)), (err: unknown) => {
        assert.ok(err instanceof ConfigError, String(err));
        assert.match(err.message, re);
        assert.equal(err.path, path);
        assert.ok(err.line !== undefined, 'located');
        assert.ok(!err.message.includes('PRIVATE KEY'));
        return true;
      });
    }
  });
});

/** A config endpoint no test event matches (the list cannot be empty in the template). */
const PLACEHOLDER = '    - { id: placeholder, url: "http://127.0.0.1:9/x", events: ["none"] }';

describe('endpoint TLS through the admin API', () => {
  test('PEM text on create; shown as what is set, never the key; delivered with the client certificate', async () => {
    const mtls = await receiver({ requireClientCert: true });
    const g = await gatewayWith(PLACEHOLDER);
    const r = await g.admin('POST', '/admin/endpoints', { id: 'api-mtls', url: `${mtls.url}/api`, tls: { ca: pki.ca, cert: pki.clientCert, key: pki.clientKey, servername: 'localhost' } });
    assert.equal(r.status, 201, r.text);
    assert.ok(!r.text.includes('PRIVATE KEY') && !r.text.includes('BEGIN CERTIFICATE'), 'neither the key nor the PEM is echoed');
    assert.deepEqual(Object.keys(r.json().tls).sort(), ['ca', 'clientCertificate', 'servername']);
    assert.equal(r.json().tls.servername, 'localhost');
    for (const path of ['/admin/endpoints', '/admin/endpoints/api-mtls']) {
      const v = await g.admin('GET', path);
      assert.ok(!v.text.includes('PRIVATE KEY'), path);
    }
    const id = await publish(g, 'a.b');
    assert.equal((await settled(g, id, 'api-mtls')).status, 'delivered');
    assert.equal(mtls.requests[0]?.clientCert, 'hookgate-client');
    assert.equal(mtls.requests[0]?.servername, 'localhost');
    assert.ok(!JSON.stringify(g.log.lines).includes('PRIVATE KEY'), 'the key is never logged');

    // PATCH with null clears it.
    const cleared = await g.admin('PATCH', '/admin/endpoints/api-mtls', { tls: null });
    assert.equal(cleared.status, 200, cleared.text);
    assert.equal(cleared.json().tls, null);
  });

  test('bad TLS input is 400 HG_ADMIN_BAD_INPUT and never quotes the key', async () => {
    const g = await gatewayWith(PLACEHOLDER);
    const url = 'https://127.0.0.1:9/hook';
    const bad: [Record<string, unknown>, RegExp][] = [
      [{ url, tls: 'x' }, /"tls" must be (an )?object/],
      [{ url, tls: { ca: 'not a pem' } }, /"tls.ca" holds no PEM certificate/],
      [{ url, tls: { cert: pki.clientCert } }, /needs both "cert" and "key"/],
      [{ url, tls: { cert: pki.clientCert, key: pki.serverKey } }, /"tls.key" does not belong to "tls.cert"/],
      [{ url, tls: { cert: pki.clientCert, key: 'garbage' } }, /"tls.key" is not a PEM private key/],
      [{ url, tls: { pfx: 'x' } }, /unknown field "(tls\.)?pfx"/],
      [{ url, tls: { servername: 'a b' } }, /"servername" must be a DNS name/],
      [{ url: 'http://127.0.0.1:9/hook', tls: { ca: pki.ca } }, /"tls" needs an https:\/\/ URL/],
    ];
    for (const [body, re] of bad) {
      const r = await g.admin('POST', '/admin/endpoints', body);
      assert.equal(r.status, 400, r.text);
      assert.equal(r.json().error.code, 'HG_ADMIN_BAD_INPUT');
      assert.match(r.json().error.message, re);
      assert.ok(!r.text.includes('PRIVATE KEY'));
    }
  });
});
