/**
 * The compile-time checks of tenants in gateway.yaml (run by compile.ts after the endpoint checks): unique tenant ids, every config endpoint's
 * tenant declared (or the default), and no more config endpoints than a tenant's maxEndpoints;
 * and a queue-only instance (egress.concurrency 0) only on the redis store.
 * Located config errors, so `hookgate validate`, start and reload refuse them alike.
 */
import { DEFAULT_TENANT, type LoadedConfig } from '../config/types.js';
import { ConfigError } from '../errors.js';

export function checkTenants(loaded: LoadedConfig): void {
  const where = (path: (string | number)[], shown: string) => ({ file: loaded.file, line: loaded.lineOf(path), path: shown });
  // A queue-only instance hands its work to others through Redis; in memory nobody else could deliver it.
  if (loaded.config.egress.concurrency === 0 && loaded.config.store.driver !== 'redis') {
    throw new ConfigError('egress.concurrency 0 (queue, never deliver) needs store.driver: redis, where other instances deliver what this one queues', where(['egress', 'concurrency'], 'egress.concurrency'));
  }
  // The default tenant exists without a declaration; declaring it gives it a name or quotas.
  const tenants = new Map<string, { max: number | undefined; count: number }>([[DEFAULT_TENANT, { max: undefined, count: 0 }]]);
  const declared = new Set<string>();
  (loaded.config.tenants ?? []).forEach((t, i) => {
    if (declared.has(t.id)) throw new ConfigError(`duplicate tenant id "${t.id}"`, where(['tenants', i, 'id'], `tenants[${i}].id`));
    declared.add(t.id);
    tenants.set(t.id, { max: t.quotas?.maxEndpoints, count: 0 });
  });
  loaded.config.egress.endpoints.forEach((ep, i) => {
    const at = where(['egress', 'endpoints', i, 'tenant'], `egress.endpoints[${i}].tenant`);
    const t = tenants.get(ep.tenant);
    if (!t) throw new ConfigError(`endpoint "${ep.id}" names tenant "${ep.tenant}", which tenants does not declare`, at);
    t.count++;
    if (t.max !== undefined && t.count > t.max) throw new ConfigError(`tenant "${ep.tenant}" declares maxEndpoints ${t.max}, and this is its endpoint number ${t.count}`, at);
  });
}
