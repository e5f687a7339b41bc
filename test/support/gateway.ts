import { mkdtempSync, writeFileSync, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { Writable } from 'node:stream';
import { pino, type Logger } from 'pino';
import { logFormat } from '../../gateway/logger.js';
import { Gateway, type ServiceFactory } from '../../gateway/runtime.js';
import type { PluginDefinition } from '../../gateway/plugin.js';
import { httpRequest, type HttpOptions, type HttpResult } from './http.js';
import { h2Request, pkiFiles, testPki, type Protocol } from './tls.js';

export const ADMIN_TOKEN = 'test-admin-token-0123';

export interface MemoryLogger {
  logger: Logger;
  lines: Record<string, any>[];
}

/** A pino logger in the gateway's log format that keeps its JSON lines in memory, so tests can assert on logs. */
export function memoryLogger(level = 'info'): MemoryLogger {
  const lines: Record<string, any>[] = [];
  const stream = new Writable({
    write(chunk, _enc, cb) {
      for (const l of chunk.toString().split('\n')) if (l.trim()) lines.push(JSON.parse(l));
      cb();
    },
  });
  return { logger: pino({ ...logFormat(), level }, stream), lines };
}

export interface TestGateway {
  gw: Gateway;
  dir: string;
  file: string;
  port: number;
  adminPort: number;
  log: MemoryLogger;
  /** The protocol `request` speaks (and the listener serves). */
  protocol: Protocol;
  request(o: Omit<HttpOptions, 'port'>): Promise<HttpResult>;
  admin(method: string, path: string, body?: unknown, token?: string): Promise<HttpResult>;
  /** Rewrites gateway.yaml (for reload tests). */
  write(yaml: string): void;
  stop(): Promise<void>;
}

export interface StartOptions {
  files?: Record<string, string>;
  watch?: boolean;
  plugins?: PluginDefinition[];
  services?: ServiceFactory;
  env?: NodeJS.ProcessEnv;
  /** The console's static root (a fixture directory). */
  consoleRoot?: string;
  /** `h2`: the listener serves TLS + HTTP/2 with the test PKI's localhost certificate, and `request` speaks HTTP/2. Default `http1` (plain HTTP). */
  protocol?: Protocol;
}

/**
 * Starts a gateway from YAML in a temp dir. `listen` and `admin` are added on ephemeral loopback
 * ports unless the YAML sets them; `files` are written beside gateway.yaml.
 */
export async function startGateway(yaml: string, opts: StartOptions = {}): Promise<TestGateway> {
  const dir = mkdtempSync(join(tmpdir(), 'hookgate-test-'));
  const protocol = opts.protocol ?? 'http1';
  const pki = protocol === 'h2' ? await testPki() : undefined;
  const files = { ...(pki ? pkiFiles(pki) : {}), ...(opts.files ?? {}) };
  for (const [name, text] of Object.entries(files)) {
    mkdirSync(dirname(join(dir, name)), { recursive: true });
    writeFileSync(join(dir, name), text);
  }
  const head = [
    /^listen:/m.test(yaml)
      ? ''
      : pki
        ? 'listen: { host: 127.0.0.1, port: 0, http2: true, tls: { cert: tls/server.pem, key: tls/server-key.pem } }'
        : 'listen: { host: 127.0.0.1, port: 0 }',
    /^admin:/m.test(yaml) ? '' : `admin: { host: 127.0.0.1, port: 0, token: "${ADMIN_TOKEN}" }`,
  ]
    .filter(Boolean)
    .join('\n');
  const full = head ? `${head}\n${yaml}` : yaml;
  const file = join(dir, 'gateway.yaml');
  writeFileSync(file, full);
  const log = memoryLogger();
  const gw = await Gateway.start({ configFile: file, logger: log.logger, watch: opts.watch ?? false, plugins: opts.plugins, services: opts.services, env: opts.env, consoleRoot: opts.consoleRoot });
  const port = gw.address().port;
  const adminPort = gw.adminAddress()?.port ?? 0;
  return {
    gw,
    dir,
    file,
    port,
    adminPort,
    log,
    protocol,
    request: (o) => (pki ? h2Request({ ...o, port, ca: pki.ca.cert }) : httpRequest({ ...o, port })),
    admin: (method, path, body, token = ADMIN_TOKEN) =>
      httpRequest({
        port: adminPort,
        method,
        path,
        headers: { authorization: `Bearer ${token}`, ...(body !== undefined ? { 'content-type': 'application/json' } : {}) },
        body: body === undefined ? undefined : JSON.stringify(body),
      }),
    write: (y: string) => writeFileSync(file, head ? `${head}\n${y}` : y),
    stop: () => gw.stop(2000),
  };
}
