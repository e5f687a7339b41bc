/**
 * The container's HEALTHCHECK: reads the config the gateway was started with
 * (`HOOKGATE_CONFIG`, default /etc/hookgate/gateway.yaml) and asks the main listener's
 * `/healthz` on loopback, so the check follows whatever port and TLS the config says.
 * Exits 0 on a 200, 1 otherwise. `node dist/gateway/healthcheck.js [config]`.
 */
import { get as httpGet } from 'node:http';
import { get as httpsGet } from 'node:https';
import { isIPv6 } from 'node:net';
import { pathToFileURL } from 'node:url';
import { loadConfigFile } from './config/load.js';
import type { ListenConfig } from './config/types.js';

/** Where to ask: the plain-HTTP listener when there is one, else the main one, always on loopback. */
export function healthzUrl(listen: ListenConfig): string {
  const host = (h: string): string => (h === '::' || isIPv6(h.replace(/^\[|\]$/g, '')) ? '[::1]' : '127.0.0.1');
  if (listen.http) return `http://${host(listen.http.host)}:${listen.http.port}/healthz`;
  return `${listen.tls ? 'https' : 'http'}://${host(listen.host)}:${listen.port}/healthz`;
}

/** Resolves to the status code of `GET url`, or rejects on a connection error or after `timeoutMs`. */
export function probe(url: string, timeoutMs: number): Promise<number> {
  return new Promise((resolve, reject) => {
    // The certificate names the service, not 127.0.0.1; this only asks whether the process answers.
    const req = url.startsWith('https:') ? httpsGet(url, { rejectUnauthorized: false }) : httpGet(url);
    req.setTimeout(timeoutMs, () => req.destroy(new Error(`no answer within ${timeoutMs} ms`)));
    req.on('response', (res) => {
      res.resume();
      resolve(res.statusCode ?? 0);
    });
    req.on('error', reject);
  });
}

async function main(): Promise<void> {
  const file = process.argv[2] ?? process.env.HOOKGATE_CONFIG ?? '/etc/hookgate/gateway.yaml';
  try {
    const status = await probe(healthzUrl(loadConfigFile(file).config.listen), 2500);
    process.exit(status === 200 ? 0 : 1);
  } catch (err) {
    process.stderr.write(`healthcheck: ${(err as Error).message}\n`);
    process.exit(1);
  }
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) void main();
