/**
 * Auto-recovery: an endpoint disabled for failing (its breaker stayed open for `disableAfterHours`)
 * is probed every `probeEvery` with the oldest delivery it missed while disabled. When the probe
 * succeeds it is enabled again and the rest of what it missed is queued again (`replayMissed`),
 * or only counted. Every instance looks; one takes the probe (a lock per probe time). Endpoints
 * disabled by an operator, by a 410 or by the receiver's `webhook-delivery: disable` are never
 * probed: someone decided, and a probe would overrule them.
 */
import type { Logger } from 'pino';
import type { Snapshot } from '../../compile.js';
import type { EndpointDirectory } from '../endpoints.js';
import type { OperationalEvents } from '../operational.js';
import { delivered } from '../policy.js';
import { retentionMs } from '../repository-common.js';
import type { AttemptResult } from '../transport.js';
import type { AttemptRecord, DeliveryRepository, EndpointRecord, StoredMessage } from '../types.js';
import type { EndpointHealth } from './endpoint-health.js';
import { breakerSettings } from './settings.js';

/** The most missed deliveries one recovery replays (as a bulk recover's limit). */
const REPLAY_LIMIT = 10_000;
/** The most missed deliveries one recovery counts. */
const COUNT_LIMIT = 100_000;

export interface AutoRecoveryOptions {
  health: EndpointHealth;
  endpoints: EndpointDirectory;
  repo: DeliveryRepository;
  events: OperationalEvents;
  logger: Logger;
  now: () => number;
  snapshot: () => Snapshot;
  /** Sends one delivery of `msg` to `ep` now, signed as any attempt (the engine's send). */
  send(ep: EndpointRecord, msg: StoredMessage): Promise<AttemptResult>;
  /** Queues deliveries again (the engine's requeue: attempt numbers continue). */
  requeue(msg: StoredMessage, targets: string[]): Promise<void>;
}

export class AutoRecovery {
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<void> | undefined;
  private stopped = false;

  constructor(private readonly opts: AutoRecoveryOptions) {}

  /** Looks for endpoints to probe a few times per `probeEvery` (at most once a minute, at least every 50 ms). */
  start(): void {
    if (this.stopped || this.timer) return;
    const every = breakerSettings(this.opts.snapshot().egress).probeEveryMs;
    this.timer = setTimeout(() => {
      this.timer = undefined;
      this.running = this.tick()
        .catch((err: Error) => this.opts.logger.warn({ err: err.message }, 'auto-recovery check failed; will look again'))
        .finally(() => {
          this.running = undefined;
          this.start();
        });
    }, Math.min(60_000, Math.max(50, every / 4)));
    this.timer.unref();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.timer);
    this.timer = undefined;
    await this.running;
  }

  /** One look at every disabled endpoint. */
  async tick(): Promise<void> {
    if (!breakerSettings(this.opts.snapshot().egress).autoRecover) return;
    for (const ep of await this.opts.endpoints.list()) {
      if (this.stopped) return;
      if (ep.disabled) await this.consider(ep);
    }
  }

  private async consider(ep: EndpointRecord): Promise<void> {
    const { health, repo } = this.opts;
    const { rec } = await health.shared.fresh(ep.id);
    // Only our own disable for failing, not one an operator made since (its reason differs).
    if (rec?.state !== 'disabled' || rec.cause !== 'failing' || rec.reason !== ep.disabledReason || rec.nextProbeAt === undefined) return;
    const now = this.opts.now();
    if (now < rec.nextProbeAt) return;
    const s = breakerSettings(this.opts.snapshot().egress);
    if (!(await health.shared.lock(ep.id, `recover:${rec.nextProbeAt}`, this.opts.snapshot().egress.attemptTimeoutMs + 10_000))) return;
    const later = { ...rec, nextProbeAt: now + s.probeEveryMs };
    // Nothing missed, nothing to probe with: look again later (a publish to it will be missed, then probed).
    const [oldest] = await repo.failedBetween([ep.id], rec.since, now, 1);
    const msg = oldest ? await repo.getMessage(oldest.id) : null;
    if (!msg) return health.shared.write(ep.id, later);
    const attempt = (await repo.getAttempts(msg.id)).filter((a) => a.target === ep.id).length + 1;
    const r = await this.opts.send(ep, msg);
    const record: AttemptRecord = { target: ep.id, attempt, at: this.opts.now(), status: r.status, durationMs: r.durationMs };
    if (r.error) record.error = r.error;
    if (r.response) record.response = r.response;
    const ok = delivered(r);
    const retention = retentionMs(this.opts.snapshot().egress);
    await repo.recordAttempt(msg.id, record, ok ? 'delivered' : 'failed', retention);
    // Out of the failed index too (the Redis repository's recordAttempt leaves that to a requeue).
    if (ok) await repo.setStatus(msg.id, ep.id, 'delivered', retention);
    if (!ok) {
      this.opts.logger.info({ endpointId: ep.id, status: r.status, error: r.error, nextProbeAt: new Date(later.nextProbeAt).toISOString() }, 'auto-recovery probe failed; the endpoint stays disabled');
      return health.shared.write(ep.id, later);
    }
    await this.opts.endpoints.recover(ep);
    await health.close(ep.id, rec, 'the recovery probe succeeded');
    const { missed, replayed } = await this.replay(ep, rec.since, now, s.replayMissed);
    this.opts.events.raise('endpoint.recovered', { endpointId: ep.id, disabledSince: new Date(rec.since).toISOString(), probeMsgId: msg.id, missed: missed + 1, replayed });
  }

  /** The deliveries `ep` missed while disabled (failed between `since` and `until`): queued again, or counted. */
  private async replay(ep: EndpointRecord, since: number, until: number, replay: boolean): Promise<{ missed: number; replayed: number }> {
    const found = await this.opts.repo.failedBetween([ep.id], since, until, replay ? REPLAY_LIMIT : COUNT_LIMIT);
    if (!replay) return { missed: found.length, replayed: 0 };
    let replayed = 0;
    for (const f of found) {
      const msg = await this.opts.repo.getMessage(f.id);
      if (!msg) continue;
      await this.opts.requeue(msg, [ep.id]);
      replayed++;
    }
    if (found.length === REPLAY_LIMIT) this.opts.logger.warn({ endpointId: ep.id, replayed }, 'auto-recovery replayed its limit of missed deliveries; recover the rest with POST /admin/endpoints/{id}/recover');
    return { missed: found.length, replayed };
  }
}
