import { X509Certificate } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { isAbsolute, resolve } from 'node:path';
import { createSecureContext, type SecureContext, type SecureContextOptions } from 'node:tls';
import type { Logger } from 'pino';
import type { ListenTlsConfig, LoadedConfig } from './config/types.js';
import { ConfigError } from './errors.js';
import { formatPath } from './config/load.js';
import { ConfigWatcher } from './watch.js';

/** The main listener's TLS material, read from the files `listen.tls` names, as built contexts. */
export interface TlsMaterial {
  /** Options of the default certificate (for `setSecureContext`). */
  readonly options: SecureContextOptions;
  /** SNI contexts by lower-cased server name (`*.example.com` for a wildcard entry). */
  readonly sni: ReadonlyMap<string, SecureContext>;
  /** Every file read, absolute: what the reloader watches. */
  readonly files: string[];
}

/** A TLS file or context that cannot be used, with the config path (`['listen','tls','cert']`) it came from. */
export class TlsMaterialError extends Error {
  constructor(
    message: string,
    readonly path: (string | number)[],
  ) {
    super(message);
    this.name = 'TlsMaterialError';
  }
}

/** The files `listen.tls` names, absolute. */
export function tlsFiles(tls: ListenTlsConfig, dir: string): string[] {
  const abs = (f: string) => (isAbsolute(f) ? f : resolve(dir, f));
  return [tls.cert, tls.key, ...(tls.ca ? [tls.ca] : []), ...tls.sni.flatMap((s) => [s.cert, s.key])].map(abs);
}

/**
 * Reads and checks everything `listen.tls` names: each file is readable, each certificate parses,
 * each key matches its certificate, the CA bundle holds a certificate and the cipher list is known
 * to OpenSSL. Throws a TlsMaterialError naming the config path at fault.
 */
export function readTlsMaterial(tls: ListenTlsConfig, dir: string): TlsMaterial {
  const files: string[] = [];
  const read = (file: string, path: (string | number)[]): Buffer => {
    const abs = isAbsolute(file) ? file : resolve(dir, file);
    files.push(abs);
    try {
      return readFileSync(abs);
    } catch (err) {
      throw new TlsMaterialError(`cannot read ${abs}: ${(err as Error).message}`, path);
    }
  };
  const base = ['listen', 'tls'];
  const ca = tls.ca ? read(tls.ca, [...base, 'ca']) : undefined;
  if (ca) {
    try {
      new X509Certificate(ca);
    } catch (err) {
      throw new TlsMaterialError(`the CA bundle holds no readable PEM certificate: ${(err as Error).message}`, [...base, 'ca']);
    }
  }
  // The CA goes into every context: with SNI, client certificates are verified against the
  // context the server name selected.
  const contextOptions = (cert: Buffer, key: Buffer): SecureContextOptions => ({ cert, key, ca, minVersion: tls.minVersion, ...(tls.ciphers ? { ciphers: tls.ciphers } : {}) });
  const build = (options: SecureContextOptions, path: (string | number)[]): SecureContext => {
    try {
      new X509Certificate(options.cert as Buffer);
    } catch (err) {
      throw new TlsMaterialError(`not a PEM certificate: ${(err as Error).message}`, [...path, 'cert']);
    }
    try {
      return createSecureContext(options);
    } catch (err) {
      const e = err as NodeJS.ErrnoException;
      const at = e.code === 'ERR_SSL_NO_CIPHER_MATCH' ? [...base, 'ciphers'] : [...path, 'key'];
      throw new TlsMaterialError(`unusable certificate or key: ${e.message}`, at);
    }
  };
  const options = contextOptions(read(tls.cert, [...base, 'cert']), read(tls.key, [...base, 'key']));
  build(options, base);
  const sni = new Map<string, SecureContext>();
  tls.sni.forEach((s, i) => {
    const path = [...base, 'sni', i];
    sni.set(s.servername.toLowerCase(), build(contextOptions(read(s.cert, [...path, 'cert']), read(s.key, [...path, 'key'])), path));
  });
  return { options, sni, files };
}

/** `readTlsMaterial` for compile and `validate`: a failure is a ConfigError located in gateway.yaml. */
export function checkListenerTls(loaded: LoadedConfig): void {
  const tls = loaded.config.listen.tls;
  if (!tls) return;
  try {
    readTlsMaterial(tls, loaded.dir);
  } catch (err) {
    if (!(err instanceof TlsMaterialError)) throw err;
    throw new ConfigError(err.message, { file: loaded.file, line: loaded.lineOf(err.path), path: formatPath(err.path) });
  }
}

/** The SNI context for a server name: an exact entry, else a `*.` wildcard one level up. */
export function sniContext(sni: ReadonlyMap<string, SecureContext>, servername: string): SecureContext | undefined {
  const name = servername.toLowerCase();
  const exact = sni.get(name);
  if (exact) return exact;
  const dot = name.indexOf('.');
  return dot > 0 ? sni.get('*' + name.slice(dot)) : undefined;
}

/**
 * Keeps the main listener's certificates current without a restart: watches the directories of
 * the files `listen.tls` names (cert-manager swaps a symlinked directory, certbot rewrites in
 * place), and when their content changed, reads and checks everything again and hands the new
 * material to `apply`. Connections already open keep the context they were made with. A bad new
 * set (a key that no longer matches, a half-written file) is logged and the old one keeps serving.
 */
export class CertificateReloader {
  private current: TlsMaterial;
  private readonly watcher: ConfigWatcher;

  constructor(
    private readonly tls: ListenTlsConfig,
    private readonly dir: string,
    private readonly logger: Logger,
    private readonly apply: (m: TlsMaterial) => void,
    watch = true,
  ) {
    this.current = readTlsMaterial(tls, dir);
    this.watcher = new ConfigWatcher(() => this.reload(), logger);
    if (watch) this.watcher.watch(this.current.files);
  }

  /** The material serving new connections. */
  get material(): TlsMaterial {
    return this.current;
  }

  /** Reads the files again and applies them if they are good; returns whether it did. */
  reload(): boolean {
    let next: TlsMaterial;
    try {
      next = readTlsMaterial(this.tls, this.dir);
    } catch (err) {
      const path = err instanceof TlsMaterialError ? formatPath(err.path) : undefined;
      this.logger.error({ err: (err as Error).message, path, code: 'HG_CONFIG_INVALID' }, 'new TLS certificate files are unusable; the previous ones keep serving');
      this.rewatch();
      return false;
    }
    this.current = next;
    this.apply(next);
    this.rewatch();
    this.logger.info({ files: next.files }, 'TLS certificates reloaded');
    return true;
  }

  /** The content just read is the new baseline, so only a later change triggers again. */
  private rewatch(): void {
    this.watcher.watch(tlsFiles(this.tls, this.dir));
  }

  close(): void {
    this.watcher.close();
  }
}
