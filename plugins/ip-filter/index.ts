import { CidrList, definePlugin, Errors, parseIp } from '../../gateway/plugin-api.js';

/**
 * `ip-filter`: allow / deny by client address (IPv4 and IPv6 CIDRs).
 *
 * The address is `ctx.clientIp`, which the core resolves once per request from the socket peer
 * and `listen.trustedProxies`; this plugin has no trust settings of its own, so it and
 * rate-limit and the log always agree on who the client is.
 */

export interface IpFilterParams {
  /** When non-empty, only these blocks may pass. */
  allow: string[];
  /** These blocks never pass; deny wins over allow. */
  deny: string[];
  /** Moved to `listen.trustedProxies`; refused with a message saying so. */
  trustedProxies?: string[];
}

function cidrList(field: string, cidrs: readonly string[]): CidrList {
  try {
    return new CidrList(cidrs);
  } catch (err) {
    throw new Error(`ip-filter: ${field}: ${(err as Error).message}`);
  }
}

export const ipFilterPlugin = definePlugin<IpFilterParams>({
  name: 'ip-filter',
  schema: {
    type: 'object',
    additionalProperties: false,
    properties: {
      allow: { type: 'array', items: { type: 'string', minLength: 1 }, default: [] },
      deny: { type: 'array', items: { type: 'string', minLength: 1 }, default: [] },
      // Kept in the schema only to answer old configs with where the setting went.
      trustedProxies: { type: 'array', items: { type: 'string' } },
    },
  },

  create(params) {
    if (params.trustedProxies !== undefined) {
      throw new Error('ip-filter: trustedProxies moved to listen.trustedProxies (one setting for ip-filter, rate-limit and the log)');
    }
    const allow = cidrList('allow', params.allow);
    const deny = cidrList('deny', params.deny);
    return {
      onRequest(ctx) {
        if (deny.size === 0 && allow.size === 0) return;
        const addr = parseIp(ctx.clientIp);
        // Fail closed: an address we cannot parse (e.g. the socket is already gone) cannot be checked.
        if (!addr || deny.hasAddress(addr) || (allow.size > 0 && !allow.hasAddress(addr))) throw Errors.IP_FORBIDDEN();
      },
    };
  },
});
