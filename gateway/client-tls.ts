/**
 * TLS settings of hookgate's own outgoing connections: to `https://` upstream targets and to
 * egress endpoints. gateway.yaml names PEM files (relative to the config file); the admin API
 * takes PEM text. Both end up as `ClientTls`: checked PEM text, ready for `tls.connect`.
 * Verification is always on unless an upstream says `insecureSkipVerify: true`.
 */
import { X509Certificate, createPrivateKey } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { isAbsolute, resolve } from 'node:path';
import { createSecureContext } from 'node:tls';
import type { Logger } from 'pino';
import type { EndpointTlsConfig, LoadedConfig, UpstreamTlsConfig } from './config/types.js';
import { ConfigError } from './errors.js';

/** Checked TLS options for a client connection (PEM text). */
export interface ClientTls {
  /** Trusted CA certificates instead of Node's bundled roots. */
  ca?: string;
  /** Client certificate (chain) and its private key, for servers that ask for one. */
  cert?: string;
  key?: string;
  /** SNI and the name the server certificate must carry, instead of the URL's host. */
  servername?: string;
  /** False only when the config said `insecureSkipVerify: true`. */
  rejectUnauthorized: boolean;
}

/** `tls` as the admin API takes it: PEM text. */
export interface ClientTlsPem {
  ca?: string;
  cert?: string;
  key?: string;
  servername?: string;
}

/** A TLS setting that cannot be used; `field` is the key under `tls` it is about. Never carries key material. */
export class ClientTlsError extends Error {
  constructor(
    message: string,
    readonly field: 'ca' | 'cert' | 'key' | 'servername',
  ) {
    super(message);
  }
}

const PEM_CERT = /-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g;

/** The certificates of a PEM bundle; throws when there is none or one does not parse. */
function parseCertificates(pem: string, field: 'ca' | 'cert', what: string): X509Certificate[] {
  const blocks = pem.match(PEM_CERT) ?? [];
  if (blocks.length === 0) throw new ClientTlsError(`${what} holds no PEM certificate (expected -----BEGIN CERTIFICATE-----)`, field);
  return blocks.map((b, i) => {
    try {
      return new X509Certificate(b);
    } catch (err) {
      throw new ClientTlsError(`${what}: certificate ${i + 1} does not parse (${(err as Error).message})`, field);
    }
  });
}

/**
 * Checks PEM text: `ca` and `cert` parse as certificates, `key` as a private key, `cert` and
 * `key` come together and belong together. Error messages never quote the key.
 * @throws ClientTlsError naming the field.
 */
export function checkClientTls(pem: ClientTlsPem, rejectUnauthorized = true, names: Partial<Record<'ca' | 'cert' | 'key', string>> = {}): ClientTls {
  const label = (f: 'ca' | 'cert' | 'key') => names[f] ?? `"${f}"`;
  if (pem.ca !== undefined) parseCertificates(pem.ca, 'ca', label('ca'));
  if ((pem.cert === undefined) !== (pem.key === undefined)) {
    throw new ClientTlsError('a client certificate needs both "cert" and "key"', pem.cert === undefined ? 'cert' : 'key');
  }
  if (pem.cert !== undefined && pem.key !== undefined) {
    parseCertificates(pem.cert, 'cert', label('cert'));
    try {
      createPrivateKey(pem.key);
    } catch {
      throw new ClientTlsError(`${label('key')} is not a PEM private key (or it is encrypted; hookgate needs it unencrypted)`, 'key');
    }
    try {
      createSecureContext({ cert: pem.cert, key: pem.key });
    } catch (err) {
      throw new ClientTlsError(`${label('key')} does not belong to ${label('cert')} (${(err as Error).message})`, 'key');
    }
  }
  if (pem.servername !== undefined && !/^[A-Za-z0-9.-]{1,253}$/.test(pem.servername)) {
    throw new ClientTlsError('"servername" must be a DNS name', 'servername');
  }
  const out: ClientTls = { rejectUnauthorized };
  if (pem.ca !== undefined) out.ca = pem.ca;
  if (pem.cert !== undefined) out.cert = pem.cert;
  if (pem.key !== undefined) out.key = pem.key;
  if (pem.servername !== undefined) out.servername = pem.servername;
  return out;
}

/**
 * Reads the PEM files a config names (relative to `dir`, the config file's folder) and checks them.
 * @throws ClientTlsError naming the field whose file is unreadable or unusable.
 */
export function readClientTls(files: EndpointTlsConfig | UpstreamTlsConfig, dir: string): ClientTls {
  const pem: ClientTlsPem = {};
  const names: Partial<Record<'ca' | 'cert' | 'key', string>> = {};
  for (const f of ['ca', 'cert', 'key'] as const) {
    const rel = files[f];
    if (rel === undefined) continue;
    const file = isAbsolute(rel) ? rel : resolve(dir, rel);
    try {
      pem[f] = readFileSync(file, 'utf8');
    } catch (err) {
      throw new ClientTlsError(`cannot read ${f} file ${file}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`, f);
    }
    names[f] = `${f} file ${file}`;
  }
  if (files.servername !== undefined) pem.servername = files.servername;
  return checkClientTls(pem, !('insecureSkipVerify' in files && files.insecureSkipVerify), names);
}

/**
 * `upstreams.<name>.tls` read and checked for the compiled snapshot; undefined when absent.
 * Warns when verification is off: that is a setting for a lab, never for the internet.
 * @throws ConfigError located at the field, for unreadable or unusable files and for TLS settings on an upstream without https targets.
 */
export function compileUpstreamTls(loaded: LoadedConfig, name: string, logger: Logger): ClientTls | undefined {
  const cfg = loaded.config.upstreams[name]!;
  if (!cfg.tls) return undefined;
  const where = (sub: string[]) => ({ file: loaded.file, line: loaded.lineOf(['upstreams', name, 'tls', ...sub]), path: ['upstreams', name, 'tls', ...sub].join('.') });
  if (!cfg.targets.some((t) => t.url.startsWith('https://'))) {
    throw new ConfigError(`upstream "${name}" has tls settings but no https:// target`, where([]));
  }
  let tls: ClientTls;
  try {
    tls = readClientTls(cfg.tls, loaded.dir);
  } catch (err) {
    if (err instanceof ClientTlsError) throw new ConfigError(err.message, where([err.field]));
    throw err;
  }
  if (!tls.rejectUnauthorized) {
    logger.warn({ upstream: name, code: 'HG_TLS_VERIFY_OFF' }, `upstreams.${name}.tls.insecureSkipVerify is true: the upstream's certificate is not verified, so anyone on the path can impersonate it`);
  }
  return tls;
}

/**
 * `egress.endpoints[i].tls` read and checked; undefined when absent.
 * @throws ConfigError located at the field.
 */
export function compileEndpointTls(loaded: LoadedConfig, i: number): ClientTls | undefined {
  const ep = loaded.config.egress.endpoints[i]!;
  if (!ep.tls) return undefined;
  const where = (sub: string[]) => ({ file: loaded.file, line: loaded.lineOf(['egress', 'endpoints', i, 'tls', ...sub]), path: [`egress.endpoints[${i}].tls`, ...sub].join('.') });
  if (!ep.url.startsWith('https://')) throw new ConfigError(`endpoint "${ep.id}" has tls settings but an http:// URL`, where([]));
  try {
    return readClientTls(ep.tls, loaded.dir);
  } catch (err) {
    if (err instanceof ClientTlsError) throw new ConfigError(err.message, where([err.field]));
    throw err;
  }
}
