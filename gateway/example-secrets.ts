import { isIP } from 'node:net';
import { formatPath } from './config/load.js';
import type { GatewayConfig } from './config/types.js';
import { Errors, type GatewayError } from './errors.js';
import { safeEqual } from './security/compare.js';

/**
 * The secrets `config/gateway.yaml` falls back to when their variables are unset (`${VAR:-…}`),
 * and the Standard Webhooks test-vector secret it uses. They are published with the code, so a
 * gateway reachable from the network with one of them is open to anyone who read the README.
 * A test keeps this list in step with the example config's defaults.
 */
export const EXAMPLE_SECRETS: readonly string[] = [
  'change-me',
  'change-me-read',
  'change-me-github',
  'whsec_change_me_stripe',
  'whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw',
  'dev-publisher-key',
];

/** True for a host that only the machine itself can reach (127.0.0.0/8, ::1, localhost). */
export function isLoopbackHost(host: string): boolean {
  const h = host.replace(/^\[|\]$/g, '').toLowerCase();
  if (h === 'localhost') return true;
  if (isIP(h) === 4) return h.startsWith('127.');
  if (isIP(h) === 6) return h === '::1' || /^::ffff:127\./.test(h);
  return false;
}

function isExampleSecret(value: string): boolean {
  // Constant time although this only reads the operator's own config: it is still a secret.
  let hit = false;
  for (const known of EXAMPLE_SECRETS) hit = safeEqual(value, known) || hit;
  return hit;
}

/** YAML paths (`routes[5].plugins[0].verify-signature.secrets[0]`) of every example secret under `node`. */
function findIn(node: unknown, path: (string | number)[], out: string[]): void {
  if (typeof node === 'string') {
    if (isExampleSecret(node)) out.push(formatPath(path));
  } else if (Array.isArray(node)) {
    node.forEach((v, i) => findIn(v, [...path, i], out));
  } else if (node && typeof node === 'object') {
    for (const [k, v] of Object.entries(node)) findIn(v, [...path, k], out);
  }
}

/** The hosts the listeners are bound to: on a reload, the running ones (they change only on restart). */
export interface ListenerHosts {
  listen: string;
  admin: string | undefined;
  /** The plain-HTTP listener beside an HTTPS one (`listen.http`), when there is one. */
  http?: string;
}

/**
 * The keys holding an example secret that a non-loopback listener exposes: `admin.token` when
 * the admin listener is not on loopback; any other key (plugin params, egress) when the main
 * listener is not. Only paths are returned, never a value.
 */
export function exposedExampleSecrets(config: GatewayConfig, hosts: ListenerHosts = { listen: config.listen.host, admin: config.admin?.host, http: config.listen.http?.host }): string[] {
  const found: string[] = [];
  if (config.admin && hosts.admin !== undefined && !isLoopbackHost(hosts.admin)) {
    findIn(config.admin.token, ['admin', 'token'], found);
    findIn(config.admin.tokens, ['admin', 'tokens'], found);
    findIn(config.console?.portal?.signingKey, ['console', 'portal', 'signingKey'], found);
  }
  // The plain-HTTP listener serves the same routes as the main one.
  if (!isLoopbackHost(hosts.listen) || (hosts.http !== undefined && !isLoopbackHost(hosts.http))) {
    const { admin: _admin, console: _console, ...rest } = config;
    findIn(rest, [], found);
  }
  return found;
}

/** The refusal for a config with exposed example secrets, or undefined when there is none. */
export function exampleSecretsError(config: GatewayConfig, hosts?: ListenerHosts): GatewayError | undefined {
  const keys = exposedExampleSecrets(config, hosts);
  if (!keys.length) return undefined;
  return Errors.EXAMPLE_SECRETS(
    `refusing to serve the example config's published secrets on a non-loopback listener; set your own values for: ${keys.join(', ')} ` +
      `(the example config reads them from HOOKGATE_ADMIN_TOKEN, HOOKGATE_READ_TOKEN, GITHUB_WEBHOOK_SECRET, STRIPE_WEBHOOK_SECRET, ORDERS_WEBHOOK_SECRET and PUBLISHER_API_KEY), ` +
      `or pass --allow-example-secrets for a throwaway demo`,
  );
}
