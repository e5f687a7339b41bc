/**
 * A throwaway CA with a server and a client certificate, made at run time with the `openssl`
 * CLI (no npm dependency; the machine and CI images have it). Generated once per process.
 * The egress/upstream TLS tests use it; a shared generator may replace it later.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import type { IncomingHttpHeaders } from 'node:http';
import { createServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import type { TLSSocket } from 'node:tls';

/** PEM text of each file, and the files themselves (in `dir`). */
export interface TestPki {
  dir: string;
  ca: string;
  serverCert: string;
  serverKey: string;
  clientCert: string;
  clientKey: string;
  /** A second, unrelated CA: a certificate it did not sign must not verify against it. */
  otherCa: string;
  files: { ca: string; serverCert: string; serverKey: string; clientCert: string; clientKey: string; otherCa: string };
}

let cached: TestPki | undefined;

function openssl(dir: string, args: string[]): void {
  execFileSync('openssl', args, { cwd: dir, stdio: ['ignore', 'ignore', 'pipe'] });
}

const EC = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes'];

function makeCa(dir: string, name: string, cn: string): void {
  openssl(dir, ['req', '-x509', ...EC, '-keyout', `${name}.key`, '-out', `${name}.crt`, '-days', '2', '-subj', `/CN=${cn}`, '-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign,cRLSign']);
}

function makeLeaf(dir: string, name: string, cn: string, ext: string): void {
  writeFileSync(join(dir, `${name}.ext`), ext);
  openssl(dir, ['req', ...EC, '-keyout', `${name}.key`, '-out', `${name}.csr`, '-subj', `/CN=${cn}`]);
  openssl(dir, ['x509', '-req', '-in', `${name}.csr`, '-CA', 'ca.crt', '-CAkey', 'ca.key', '-CAcreateserial', '-out', `${name}.crt`, '-days', '2', '-extfile', `${name}.ext`]);
}

/** The test PKI: CA, a server certificate for localhost, upstream.test and 127.0.0.1, a client certificate. */
export function testPki(): TestPki {
  if (cached) return cached;
  const dir = mkdtempSync(join(tmpdir(), 'hookgate-pki-'));
  makeCa(dir, 'ca', 'hookgate test CA');
  makeCa(dir, 'other-ca', 'unrelated test CA');
  makeLeaf(dir, 'server', 'localhost', 'subjectAltName=DNS:localhost,DNS:upstream.test,IP:127.0.0.1\nextendedKeyUsage=serverAuth\n');
  makeLeaf(dir, 'client', 'hookgate-client', 'extendedKeyUsage=clientAuth\n');
  const files = {
    ca: join(dir, 'ca.crt'),
    serverCert: join(dir, 'server.crt'),
    serverKey: join(dir, 'server.key'),
    clientCert: join(dir, 'client.crt'),
    clientKey: join(dir, 'client.key'),
    otherCa: join(dir, 'other-ca.crt'),
  };
  const read = (f: string) => readFileSync(f, 'utf8');
  cached = {
    dir,
    ca: read(files.ca),
    serverCert: read(files.serverCert),
    serverKey: read(files.serverKey),
    clientCert: read(files.clientCert),
    clientKey: read(files.clientKey),
    otherCa: read(files.otherCa),
    files,
  };
  return cached;
}

export interface TlsReceiver {
  port: number;
  /** `https://127.0.0.1:<port>` */
  url: string;
  requests: { url: string; headers: IncomingHttpHeaders; body: Buffer; clientCert: string | undefined; servername: string | false }[];
  close(): Promise<void>;
}

/**
 * A loopback HTTPS server with the test PKI's server certificate that records requests (and the
 * client certificate's CN, when one was presented) and answers 200. `requireClientCert` makes it
 * refuse handshakes without a client certificate signed by the test CA.
 */
export async function startTlsReceiver(opts: { requireClientCert?: boolean } = {}): Promise<TlsReceiver> {
  const pki = testPki();
  const requests: TlsReceiver['requests'] = [];
  const server = createServer({ cert: pki.serverCert, key: pki.serverKey, ca: pki.ca, requestCert: opts.requireClientCert ?? false, rejectUnauthorized: opts.requireClientCert ?? false }, (req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const socket = req.socket as TLSSocket;
      const peer = socket.getPeerCertificate();
      requests.push({ url: req.url ?? '', headers: req.headers, body: Buffer.concat(chunks), clientCert: peer && peer.subject ? String(peer.subject.CN) : undefined, servername: (socket as TLSSocket & { servername: string | false }).servername });
      res.writeHead(200, { 'content-type': 'application/json' }).end('{"ok":true}');
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  const port = (server.address() as AddressInfo).port;
  return {
    port,
    url: `https://127.0.0.1:${port}`,
    requests,
    close: () =>
      new Promise<void>((r) => {
        server.close(() => r());
        server.closeAllConnections();
      }),
  };
}
