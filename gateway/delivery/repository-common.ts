/** What both delivery repositories share: the overall status of a message, retention, and tenant defaults. */
import { DEFAULT_TENANT, type EgressConfig } from '../config/types.js';
import type { DeliveryStatus } from './types.js';

export function overallStatus(statuses: Record<string, DeliveryStatus>): DeliveryStatus {
  const v = Object.values(statuses);
  if (v.includes('pending')) return 'pending';
  if (v.includes('failed')) return 'failed';
  return 'delivered';
}

/** A stored record from before tenants has none: it is the default tenant's. */
export function tenanted<T extends { tenant?: string }>(r: T): T & { tenant: string } {
  if (typeof r.tenant !== 'string') r.tenant = DEFAULT_TENANT;
  return r as T & { tenant: string };
}

/** How long a message, its statuses and its attempts are kept (`egress.retentionDays`). */
export function retentionMs(egress: EgressConfig): number {
  return egress.retentionDays * 24 * 3600 * 1000;
}
