/**
 * Bulk admin operations on failed deliveries: `POST /admin/messages/retry`, and the selection,
 * dry run and requeue that recover (`POST /admin/endpoints/{id}/recover`, in admin.ts) shares.
 * Both read the failed index by failure time, answer a count first when asked (`dryRun`), and
 * refuse a selection of more than `BULK_LIMIT` deliveries whole, so one call never walks or
 * queues an unbounded range.
 */
import type { AdminReply, AdminServer } from '../admin/server.js';
import { bulkSpecs } from '../apidocs/admin-bulk-schemas.js';
import { DEFAULT_TENANT } from '../config/types.js';
import { Errors } from '../errors.js';
import type { DeliveryEngine } from './engine.js';
import { eventMatches } from './endpoints.js';
import { upstreamOf, type StoredMessage } from './types.js';

const bad = Errors.ADMIN_BAD_INPUT;

/** The most deliveries one bulk call selects; more is 422 HG_ADMIN_BULK_TOO_LARGE. */
export const BULK_LIMIT = 10_000;
/** Epoch milliseconds below this (2001-09-09) are refused: they are seconds sent by mistake. */
const EPOCH_MS_MIN = 1e12;
/** The largest time a Date holds. */
const EPOCH_MS_MAX = 8.64e15;
/** A date, or a date and time with a zone (a time without one would be read as local time). */
const ISO_8601 = /^\d{4}-\d{2}-\d{2}(T\d{2}:\d{2}(:\d{2}(\.\d{1,9})?)?(Z|[+-]\d{2}:\d{2}))?$/;
/** Messages read (and requeued) at a time. */
const PARALLEL = 8;

/** A time in a bulk request: ISO 8601 text or epoch milliseconds. */
export function parseTime(v: unknown, field: string): number {
  if (typeof v === 'number') {
    if (!Number.isInteger(v) || v < EPOCH_MS_MIN || v > EPOCH_MS_MAX) throw bad(`"${field}" as a number is epoch milliseconds, at least 1000000000000 (a smaller number looks like seconds)`);
    return v;
  }
  const t = typeof v === 'string' && ISO_8601.test(v) ? Date.parse(v) : NaN;
  if (Number.isNaN(t)) throw bad(`"${field}" must be an ISO 8601 time such as 2026-11-24T00:00:00Z, or epoch milliseconds`);
  return t;
}

/** The failure times a bulk call covers, inclusive. */
export interface TimeRange {
  since: number;
  until: number;
}

/** `since` (required) and `until` (default: now) of a bulk request body. */
export function parseRange(b: Record<string, unknown>, now: number): TimeRange {
  const since = parseTime(b.since, 'since');
  if (b.until === undefined) return { since, until: now };
  const until = parseTime(b.until, 'until');
  if (until < since) throw bad('"until" must not be before "since"');
  return { since, until };
}

/** The failed deliveries a bulk call selected: per message (oldest failure first), its targets. */
export interface Selection {
  items: { msg: StoredMessage; targets: string[] }[];
  deliveries: number;
}

/**
 * The deliveries to `targets` that are failed now and failed within `range`, whose message
 * `keep` accepts. Refused whole when the range holds more than `BULK_LIMIT` of them (counted
 * before `keep`, which needs each message read: the bound is on the work, not the answer).
 */
export async function selectFailed(engine: DeliveryEngine, targets: string[], range: TimeRange, keep: (msg: StoredMessage) => boolean = () => true): Promise<Selection> {
  const found = await engine.repo.failedBetween(targets, range.since, range.until, BULK_LIMIT + 1);
  if (found.length > BULK_LIMIT) throw Errors.ADMIN_BULK_TOO_LARGE(BULK_LIMIT);
  found.sort((a, b) => a.at - b.at);
  const byId = new Map<string, string[]>();
  for (const f of found) byId.set(f.id, [...(byId.get(f.id) ?? []), f.target]);
  const ids = [...byId.keys()];
  const msgs = await mapLimited(ids, PARALLEL, (id) => engine.repo.getMessage(id));
  const sel: Selection = { items: [], deliveries: 0 };
  ids.forEach((id, i) => {
    const msg = msgs[i];
    if (!msg || !keep(msg)) return;
    sel.items.push({ msg, targets: byId.get(id)! });
    sel.deliveries += byId.get(id)!.length;
  });
  return sel;
}

/** Queues a selection again: attempt numbers continue, each delivery gets a fresh schedule. */
export async function queueSelection(engine: DeliveryEngine, sel: Selection): Promise<void> {
  await mapLimited(sel.items, PARALLEL, (it) => engine.requeue(it.msg, it.targets));
}

/** Runs the selection (queueing it unless `dryRun`) and answers: 200 `{dryRun, count}` or 202 `{queued}`. */
export async function bulkReply(engine: DeliveryEngine, sel: Selection, range: TimeRange, dryRun: boolean, scope: Record<string, string> = {}): Promise<AdminReply> {
  const base = { ...scope, since: new Date(range.since).toISOString(), until: new Date(range.until).toISOString(), messages: sel.items.length };
  if (dryRun) return { status: 200, body: { ...base, dryRun: true, count: sel.deliveries } };
  await queueSelection(engine, sel);
  return { status: 202, body: { ...base, queued: sel.deliveries } };
}

/** The tenant of a message (`default` for one that names none). */
function tenantOf(msg: StoredMessage): string {
  return (msg as { tenant?: string }).tenant ?? DEFAULT_TENANT;
}

/** `endpoint` in a bulk retry: an endpoint id, or `up_<upstream>` of the running config. */
async function knownTarget(engine: DeliveryEngine, id: string): Promise<string> {
  const upstream = upstreamOf(id);
  if (upstream !== undefined ? !engine.currentSnapshot().upstreams.has(upstream) : !(await engine.endpoints.find(id))) throw Errors.ENDPOINT_NOT_FOUND(id);
  return id;
}

/** Registers `POST /admin/messages/retry`. */
export function registerBulkAdmin(admin: AdminServer, engine: DeliveryEngine, now: () => number = Date.now): void {
  admin.route('POST', '/admin/messages/retry', async (req) => {
    // The declared schema has checked the fields and their types.
    const b = req.body as { status: 'failed'; eventType?: string; tenant?: string; endpoint?: string; dryRun?: boolean } & Record<string, unknown>;
    const range = parseRange(b, now());
    const targets = b.endpoint !== undefined ? [await knownTarget(engine, b.endpoint)] : await engine.deliveryTargets(b.tenant);
    const { eventType, tenant } = b;
    const sel = await selectFailed(engine, targets, range, (m) =>
      (eventType === undefined || (m.eventType !== undefined && eventMatches([eventType], m.eventType))) && (tenant === undefined || tenantOf(m) === tenant));
    return bulkReply(engine, sel, range, b.dryRun === true);
  }, bulkSpecs.retryMessages);
}

/** `f` over `items`, at most `n` at a time; results in order. */
async function mapLimited<T, R>(items: T[], n: number, f: (item: T) => Promise<R>): Promise<R[]> {
  const out: R[] = new Array(items.length);
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const i = next++;
      out[i] = await f(items[i]!);
    }
  };
  await Promise.all(Array.from({ length: Math.min(n, items.length) }, worker));
  return out;
}
