import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { Agent, request } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect, type ConnectionOptions, type PeerCertificate, type TLSSocket } from 'node:tls';
import { compile } from '../gateway/compile.js';
import { loadConfigFile } from '../gateway/config/load.js';
import { ConfigError } from '../gateway/errors.js';
import { sniContext } from '../gateway/tls.js';
import { createSecureContext } from 'node:tls';
import { pluginSet } from '../gateway/runtime.js';
import { MemoryStore } from '../gateway/store/memory.js';
import { pino } from 'pino';
import { startGateway } from './support/gateway.js';
import { httpRequest, waitUntil } from './support/http.js';
import { httpsRequest, issue, pkiFiles, testPki } from './support/tls.js';

const ROUTES = `
routes:
  - name: hello
    path: /hello
    respond: { status: 200, body: { hello: true } }
`;

/** Handshakes with the listener and returns the certificate it served (or the handshake error). */
function peerCertificate(port: number, o: ConnectionOptions = {}): Promise<PeerCertificate> {
  return new Promise((resolve, reject) => {
    const s: TLSSocket = connect({ host: '127.0.0.1', port, servername: 'localhost', rejectUnauthorized: false, ...o }, () => {
      const cert = s.getPeerCertificate();
      s.end();
      resolve(cert);
    });
    s.on('error', reject);
  });
}

test('HTTPS listener with a plain-HTTP listener beside it: same routes, X-Forwarded-Proto says which', async () => {
  const pki = await testPki();
  const g = await startGateway(
    `listen: { host: 127.0.0.1, port: 0, tls: { cert: tls/server.pem, key: tls/server-key.pem }, http: { host: 127.0.0.1, port: 0 } }\n${ROUTES}`,
    { files: pkiFiles(pki) },
  );
  try {
    const s = await httpsRequest({ port: g.port, path: '/hello', ca: pki.ca.cert });
    assert.equal(s.status, 200);
    assert.deepEqual(s.json(), { hello: true });
    const plainPort = g.gw.httpAddress()!.port;
    assert.notEqual(plainPort, g.port);
    const p = await httpRequest({ port: plainPort, path: '/hello' });
    assert.equal(p.status, 200);
    assert.deepEqual(p.json(), { hello: true });
    // The HTTPS port does not speak plain HTTP.
    await assert.rejects(httpRequest({ port: g.port, path: '/hello', timeoutMs: 3000 }));
    // The certificate is verified against the test CA: an unknown CA is refused by the client.
    await assert.rejects(httpsRequest({ port: g.port, path: '/hello', ca: pki.rogueCa.cert }), /self[- ]signed|unable to (get|verify)/i);
  } finally {
    await g.stop();
  }
});

test('minVersion: TLSv1.2 by default refuses a TLSv1.1 client; TLSv1.3 refuses a TLSv1.2 client', async () => {
  const pki = await testPki();
  const files = pkiFiles(pki);
  const g = await startGateway(`listen: { host: 127.0.0.1, port: 0, tls: { cert: tls/server.pem, key: tls/server-key.pem } }\n${ROUTES}`, { files });
  try {
    const ok = await peerCertificate(g.port, { maxVersion: 'TLSv1.2' });
    assert.equal(ok.subject.CN, 'localhost');
    // SECLEVEL=0 lets this OpenSSL offer TLSv1.1 at all; the server must still refuse it.
    await assert.rejects(peerCertificate(g.port, { minVersion: 'TLSv1.1', maxVersion: 'TLSv1.1', ciphers: 'DEFAULT@SECLEVEL=0' }), (err: NodeJS.ErrnoException) => /protocol|version|alert/i.test(`${err.code} ${err.message}`));
  } finally {
    await g.stop();
  }
  const g13 = await startGateway(`listen: { host: 127.0.0.1, port: 0, tls: { cert: tls/server.pem, key: tls/server-key.pem, minVersion: TLSv1.3 } }\n${ROUTES}`, { files });
  try {
    await assert.rejects(peerCertificate(g13.port, { maxVersion: 'TLSv1.2' }), (err: NodeJS.ErrnoException) => /protocol|version|alert/i.test(`${err.code} ${err.message}`));
    const c = await peerCertificate(g13.port, { minVersion: 'TLSv1.3' });
    assert.equal(c.subject.CN, 'localhost');
  } finally {
    await g13.stop();
  }
});

test('SNI picks the certificate for the server name; other names get the default one', async () => {
  const pki = await testPki();
  const g = await startGateway(
    `listen: { host: 127.0.0.1, port: 0, tls: { cert: tls/server.pem, key: tls/server-key.pem, sni: [ { servername: other.test, cert: tls/other.pem, key: tls/other-key.pem } ] } }\n${ROUTES}`,
    { files: pkiFiles(pki) },
  );
  try {
    assert.equal((await peerCertificate(g.port, { servername: 'other.test' })).subject.CN, 'other.test');
    assert.equal((await peerCertificate(g.port, { servername: 'OTHER.test' })).subject.CN, 'other.test');
    assert.equal((await peerCertificate(g.port, { servername: 'localhost' })).subject.CN, 'localhost');
    assert.equal((await peerCertificate(g.port, { servername: 'unknown.test' })).subject.CN, 'localhost');
    // A request under the SNI name verifies against its certificate.
    const r = await httpsRequest({ port: g.port, path: '/hello', ca: pki.ca.cert, servername: 'other.test', headers: { host: 'other.test' } });
    assert.equal(r.status, 200);
  } finally {
    await g.stop();
  }
});

test('certificate files rewritten in place are served to new connections; an open keep-alive connection keeps working; a bad file keeps the old certificate', async () => {
  const pki = await testPki();
  const g = await startGateway(`listen: { host: 127.0.0.1, port: 0, tls: { cert: tls/server.pem, key: tls/server-key.pem } }\n${ROUTES}`, { files: pkiFiles(pki) });
  const agent = new Agent({ keepAlive: true, maxSockets: 1, ca: pki.ca.cert, servername: 'localhost' });
  const sockets = new Set<TLSSocket>();
  const viaAgent = () =>
    new Promise<{ status: number; fingerprint: string }>((resolve, reject) => {
      const req = request({ host: '127.0.0.1', port: g.port, path: '/hello', agent }, (res) => {
        res.resume();
        res.on('end', () => resolve({ status: res.statusCode ?? 0, fingerprint: (req.socket as TLSSocket).getPeerCertificate().fingerprint256 }));
      });
      req.on('socket', (s) => sockets.add(s as TLSSocket));
      req.on('error', reject);
      req.end();
    });
  try {
    const before = await viaAgent();
    assert.equal(before.status, 200);
    const oldFp = (await peerCertificate(g.port)).fingerprint256;
    assert.equal(before.fingerprint, oldFp);

    const renewed = await issue(pki.ca, { commonName: 'localhost' }, { dns: ['localhost'], ips: ['127.0.0.1'], days: 60 });
    // certbot-style: the key first, then the certificate, each rewritten in place.
    writeFileSync(join(g.dir, 'tls/server-key.pem'), renewed.key);
    writeFileSync(join(g.dir, 'tls/server.pem'), renewed.cert);
    await waitUntil(async () => (await peerCertificate(g.port)).fingerprint256 !== oldFp, 10000, 'the renewed certificate');
    const newFp = (await peerCertificate(g.port)).fingerprint256;
    const fresh = await httpsRequest({ port: g.port, path: '/hello', ca: pki.ca.cert });
    assert.equal(fresh.status, 200);

    // The connection opened before the renewal still carries requests, with its old certificate.
    const after = await viaAgent();
    assert.equal(after.status, 200);
    assert.equal(after.fingerprint, oldFp);
    assert.equal(sockets.size, 1, 'the keep-alive connection was reused, not reopened');

    // A broken certificate file: logged, and the renewed certificate keeps serving.
    writeFileSync(join(g.dir, 'tls/server.pem'), '-----BEGIN CERTIFICATE-----\nnot a certificate\n-----END CERTIFICATE-----\n');
    await waitUntil(() => g.log.lines.some((l) => /unusable/.test(String(l.msg)) && l.path === 'listen.tls.cert'), 10000, 'the rejected-certificate log line');
    assert.equal(g.gw.reloadCertificates(), false);
    assert.equal((await peerCertificate(g.port)).fingerprint256, newFp);
    assert.equal((await httpsRequest({ port: g.port, path: '/hello', ca: pki.ca.cert })).status, 200);
  } finally {
    agent.destroy();
    await g.stop();
  }
});

test('validate and compile refuse unusable TLS settings with a located error', async () => {
  const pki = await testPki();
  const dir = mkdtempSync(join(tmpdir(), 'hookgate-tls-'));
  const other = await issue(pki.ca, { commonName: 'mismatch' });
  const files: Record<string, string> = { ...pkiFiles(pki), 'tls/garbage.pem': 'hello', 'tls/mismatch-key.pem': other.key };
  for (const [name, text] of Object.entries(files)) {
    const p = join(dir, name);
    mkdirSync(join(p, '..'), { recursive: true });
    writeFileSync(p, text);
  }
  const store = new MemoryStore();
  const silent = pino({ level: 'silent' });
  const build = async (listen: string) => {
    const file = join(dir, 'gateway.yaml');
    writeFileSync(file, `listen:\n${listen}\n${ROUTES}`);
    return compile(loadConfigFile(file, {}), { builtins: pluginSet(), store, logger: silent, id: 1 });
  };
  const cases: [string, RegExp][] = [
    ['  tls: { cert: tls/missing.pem, key: tls/server-key.pem }', /gateway\.yaml:2 at listen\.tls\.cert: cannot read .*missing\.pem/],
    ['  tls: { cert: tls/garbage.pem, key: tls/server-key.pem }', /gateway\.yaml:2 at listen\.tls\.cert: not a PEM certificate/],
    ['  tls: { cert: tls/server.pem, key: tls/mismatch-key.pem }', /gateway\.yaml:2 at listen\.tls\.key: unusable certificate or key: .*mismatch/],
    ['  tls: { cert: tls/server.pem, key: tls/server-key.pem, ca: tls/garbage.pem, clientAuth: require }', /at listen\.tls\.ca: the CA bundle holds no readable PEM certificate/],
    ['  tls: { cert: tls/server.pem, key: tls/server-key.pem, ciphers: NOT-A-CIPHER }', /at listen\.tls\.ciphers: unusable/],
    ['  tls:\n    cert: tls/server.pem\n    key: tls/server-key.pem\n    sni:\n      - { servername: other.test, cert: tls/other.pem, key: tls/nope.pem }', /gateway\.yaml:6 at listen\.tls\.sni\[0\]\.key: cannot read/],
    ['  tls: { cert: tls/server.pem, key: tls/server-key.pem, clientAuth: optional }', /listen\.tls: missing required key "ca"/],
    ['  http2: true', /listen: missing required key "tls"/],
    ['  http: { port: 0 }', /listen.*tls/],
  ];
  try {
    for (const [listen, expected] of cases) {
      await assert.rejects(build(listen), (err: unknown) => {
        assert.ok(err instanceof ConfigError, `expected a ConfigError for ${listen}, got ${String(err)}`);
        assert.match(err.message, expected);
        return true;
      });
    }
    // And a good one compiles.
    const snap = await build('  tls: { cert: tls/server.pem, key: tls/server-key.pem, ca: tls/ca.pem, clientAuth: optional }');
    assert.equal(snap.config.listen.tls?.minVersion, 'TLSv1.2');
    assert.equal(snap.config.listen.http2, undefined);
  } finally {
    await store.close();
  }
});

test('sniContext: an exact name first, then a wildcard one label up, case-insensitively', async () => {
  const pki = await testPki();
  const exact = createSecureContext({ cert: pki.server.cert, key: pki.server.key });
  const wild = createSecureContext({ cert: pki.other.cert, key: pki.other.key });
  const map = new Map([['api.example.com', exact], ['*.example.com', wild]]);
  assert.equal(sniContext(map, 'API.example.com'), exact);
  assert.equal(sniContext(map, 'hooks.example.com'), wild);
  assert.equal(sniContext(map, 'a.b.example.com'), undefined, 'a wildcard covers one label only');
  assert.equal(sniContext(map, 'example.com'), undefined);
});
