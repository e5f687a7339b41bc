/**
 * The circuit breaker and lifecycle of endpoints: healthy → failing → open → half-open → healthy,
 * and disabled. The one owner of the shared health records (shared-state.ts): the engine asks
 * `gate` before an attempt and reports every attempt's outcome; transitions are written here,
 * counted in `hookgate_breaker_transitions_total` and raised as operational events.
 */
import type { Snapshot } from '../../compile.js';
import type { EndpointStates, Metrics } from '../../metrics.js';
import type { Store } from '../../store/types.js';
import type { EndpointDirectory } from '../endpoints.js';
import type { OperationalEvents } from '../operational.js';
import type { EndpointRecord } from '../types.js';
import { FailureWindows } from './failure-window.js';
import { breakerSettings, openInterval, type BreakerSettings } from './settings.js';
import { CACHE_MS, HEALTH_STATES, SharedHealth, type DisableCause, type HealthRecord, type HealthState } from './shared-state.js';
import type { ReceiverSignal } from './signals.js';

/** How long a job waits when another instance's probe is deciding. */
const PROBE_WAIT_MS = 1000;

/** Before an attempt: send it (as the half-open probe, maybe), or hold the job without an attempt. */
export type Gate = { kind: 'send'; probe: boolean } | { kind: 'hold'; delayMs: number };

/** An endpoint's health as the admin API shows it (times in ms; the view makes them ISO). */
export interface EndpointHealthView {
  state: HealthState;
  reason: string | null;
  since: number | null;
  nextProbeAt: number | null;
  slowedUntil: number | null;
}

export interface EndpointHealthOptions {
  store: Store;
  endpoints: EndpointDirectory;
  events: OperationalEvents;
  metrics?: Metrics;
  now: () => number;
  rand: () => number;
  snapshot: () => Snapshot;
}

export class EndpointHealth {
  readonly shared: SharedHealth;
  private readonly windows = new FailureWindows();
  /** Endpoints this instance saw fail since their last success: their next success ends the run. */
  private readonly failedHere = new Set<string>();

  constructor(private readonly opts: EndpointHealthOptions) {
    this.shared = new SharedHealth(opts.store, opts.now);
  }

  private settings(): BreakerSettings {
    return breakerSettings(this.opts.snapshot().egress);
  }

  /** A hold of `ms`, spread a little so held jobs do not come back in one burst. */
  private hold(ms: number): Gate {
    return { kind: 'hold', delayMs: Math.max(0, Math.round(ms)) + Math.floor(this.opts.rand() * 250) };
  }

  private transition(to: HealthState, from: HealthState): void {
    if (to === from) return;
    this.opts.metrics?.breakerTransitions.inc({ to });
  }

  /**
   * Whether an attempt to `ep` goes out now. Reads the cached shared state (no store round trip
   * for a healthy endpoint within `CACHE_MS`). Open: held until the probe time. Past it: the one
   * caller that takes the episode's probe lock (SET NX PX) sends the probe; the rest wait.
   * `probeLockMs`: how long the probe may take (its attempt timeout and some room).
   */
  async gate(ep: EndpointRecord, probeLockMs: number): Promise<Gate> {
    const now = this.opts.now();
    const { rec, slowUntil } = await this.shared.read(ep.id);
    if (slowUntil > now) return this.hold(slowUntil - now);
    if (!rec || rec.state === 'failing') return { kind: 'send', probe: false };
    if (rec.state === 'disabled') {
      // The cached endpoint says enabled: either it was enabled again since (operator, recovery
      // elsewhere) and the record is stale, or it was disabled elsewhere within the cache's second.
      const stored = await this.opts.endpoints.find(ep.id);
      if (stored?.disabled) return this.hold(CACHE_MS);
      // Whoever enabled it may have cleared the record already (auto-recovery does).
      const cur = (await this.shared.fresh(ep.id)).rec;
      if (cur?.state === 'disabled') await this.close(ep.id, cur, 'the endpoint was enabled again');
      return { kind: 'send', probe: false };
    }
    if (!this.settings().enabled) {
      await this.close(ep.id, rec, 'the circuit breaker was turned off');
      return { kind: 'send', probe: false };
    }
    const until = rec.until ?? now;
    if (now < until) return this.hold(rec.state === 'open' ? until - now : Math.min(until - now, PROBE_WAIT_MS));
    // The probe lock is per episode (the record's start): one probe for it across all instances,
    // and a stale "open" cached elsewhere cannot start a second one after the breaker closed.
    if (!(await this.shared.lock(ep.id, `probe:${rec.since}`, probeLockMs))) {
      this.shared.invalidate(ep.id);
      return this.hold(PROBE_WAIT_MS);
    }
    await this.shared.write(ep.id, { state: 'half-open', reason: rec.reason, since: now, until: now + probeLockMs, opens: rec.opens });
    this.transition('half-open', rec.state);
    return { kind: 'send', probe: true };
  }

  /** A probe that took its lock but did not go out (rate limit, slots, shutdown): the next job probes. */
  async probeNotSent(id: string): Promise<void> {
    const { rec } = await this.shared.fresh(id);
    if (rec?.state === 'half-open') await this.shared.write(id, { ...rec, state: 'open', until: this.opts.now() });
  }

  /** A 2xx from the endpoint: a probe closes the breaker; any success ends a run of failures. */
  async succeeded(id: string, probe: boolean): Promise<void> {
    const s = this.settings();
    this.windows.add(id, false, this.opts.now(), s.ratioWindowMs);
    const rec = this.shared.peek(id)?.rec ?? null;
    if (probe) return this.close(id, rec, 'the probe delivery succeeded');
    if (rec?.state === 'failing' || this.failedHere.has(id)) {
      this.failedHere.delete(id);
      // Open and half-open are the probe's to decide; an attempt from before the opening that succeeds does not.
      if (rec?.state === 'failing') return this.close(id, rec, 'a delivery succeeded');
      await this.shared.clearFailures(id);
    }
  }

  /**
   * A failed attempt (network error, timeout, non-2xx other than a receiver signal). A probe
   * reopens the breaker for the next, longer interval; otherwise the failure counts toward
   * `consecutiveFailures` (shared) and `failureRatio` (this instance), which open it.
   */
  private async failed(id: string, probe: boolean, why: string): Promise<void> {
    const s = this.settings();
    const now = this.opts.now();
    const w = this.windows.add(id, true, now, s.ratioWindowMs);
    this.failedHere.add(id);
    if (!s.enabled) return;
    const rec = this.shared.peek(id)?.rec ?? null;
    if (probe) return this.open(id, rec, `the probe failed: ${why}`, (rec?.opens ?? 0) + 1);
    const n = await this.shared.countFailure(id);
    if (rec && rec.state !== 'failing') return; // open or half-open already: only the probe decides
    const ratio = w.attempts >= s.ratioMinAttempts && w.failures / w.attempts >= s.failureRatio;
    if (ratio || n >= s.consecutiveFailures) {
      // At the threshold and not open as far as the cache knows: ask the store (failures only),
      // so an attempt in flight elsewhere never reopens an open breaker or a disabled endpoint.
      const cur = (await this.shared.fresh(id)).rec;
      if (cur && cur.state !== 'failing') return;
      // Failures in flight on several instances can all get here: one per failing run opens.
      if (!(await this.shared.lock(id, `open:${cur?.since ?? 'none'}`, 2 * CACHE_MS))) return;
      const reason = ratio ? `${Math.round((100 * w.failures) / w.attempts)} % of ${Math.round(w.attempts)} attempts failed (last: ${why})` : `${n} failed attempts in a row (last: ${why})`;
      return this.open(id, cur, reason, 0);
    }
    // Only where there is no record: a "failing" never overwrites an opening made elsewhere.
    if (!rec && (await this.shared.writeIfAbsent(id, { state: 'failing', reason: why, since: now, opens: 0 }))) this.transition('failing', 'healthy');
  }

  /**
   * An attempt that did not deliver, read with its receiver signal: a slow-down holds every
   * delivery to the endpoint until then (shared); a slow-down or an abort comes from a receiver
   * that is up, so neither counts toward the breaker (a probe answered so lets the next job probe).
   */
  async attemptFailed(id: string, probe: boolean, signal: ReceiverSignal, why: string): Promise<void> {
    if (signal.kind === 'slow-down') await this.shared.slowDown(id, signal.untilMs);
    if (signal.kind === 'slow-down' || signal.kind === 'abort-message') {
      if (probe) await this.probeNotSent(id);
      return;
    }
    return this.failed(id, probe, why);
  }

  /** Every endpoint's state as stored now (`hookgate_endpoint_state`, read at scrape time). */
  async states(): Promise<EndpointStates> {
    const list = await this.opts.endpoints.list();
    const views = await Promise.all(list.map((ep) => this.view(ep)));
    return { states: HEALTH_STATES, byEndpoint: Object.fromEntries(list.map((ep, i) => [ep.id, views[i]!.state])) };
  }

  /**
   * Disables the endpoint (410, the receiver's `webhook-delivery: disable`, a failing streak of
   * `disableAfterHours`) and records why: auto-recover probes only `failing` ones back.
   */
  async disable(ep: EndpointRecord, cause: DisableCause, reason: string): Promise<void> {
    if (!(await this.opts.endpoints.disable(ep, reason, cause))) return;
    const now = this.opts.now();
    const s = this.settings();
    const { rec } = await this.shared.fresh(ep.id);
    const next: HealthRecord = { state: 'disabled', reason, since: now, opens: 0, cause };
    if (cause === 'failing' && s.autoRecover) next.nextProbeAt = now + s.probeEveryMs;
    await this.shared.write(ep.id, next);
    await this.shared.clearFailures(ep.id);
    this.failedHere.delete(ep.id);
    this.transition('disabled', rec?.state ?? 'healthy');
  }

  private async open(id: string, prev: HealthRecord | null, reason: string, opens: number): Promise<void> {
    const now = this.opts.now();
    const until = now + openInterval(this.settings(), opens);
    await this.shared.write(id, { state: 'open', reason, since: now, until, opens });
    this.transition('open', prev?.state ?? 'healthy');
    this.opts.events.raise('endpoint.breaker.opened', { endpointId: id, reason, probeAt: new Date(until).toISOString(), reopened: opens > 0 });
  }

  /** Back to healthy: the record and the failure run are gone. */
  async close(id: string, prev: HealthRecord | null, reason: string): Promise<void> {
    await this.shared.write(id, null);
    await this.shared.clearFailures(id);
    this.failedHere.delete(id);
    this.transition('healthy', prev?.state ?? 'healthy');
    if (prev && (prev.state === 'open' || prev.state === 'half-open')) {
      // A closed breaker starts its ratio afresh; a success after a failure only ends the run.
      this.windows.reset(id);
      this.opts.events.raise('endpoint.breaker.closed', { endpointId: id, reason });
    }
  }

  /**
   * The endpoint's health as stored now. An endpoint disabled without a record of it (by an
   * operator, or before this version) is `disabled` with its reason, and never probed back.
   */
  async view(ep: EndpointRecord): Promise<EndpointHealthView> {
    const { rec, slowUntil } = await this.shared.fresh(ep.id);
    const slowedUntil = slowUntil > this.opts.now() ? slowUntil : null;
    if (ep.disabled) {
      const ours = rec?.state === 'disabled' && rec.reason === ep.disabledReason ? rec : undefined;
      return { state: 'disabled', reason: ep.disabledReason ?? null, since: ours?.since ?? ep.updatedAt, nextProbeAt: ours?.nextProbeAt ?? null, slowedUntil };
    }
    if (!rec || rec.state === 'disabled') return { state: 'healthy', reason: null, since: null, nextProbeAt: null, slowedUntil };
    const nextProbeAt = rec.state === 'open' ? rec.until ?? null : null;
    return { state: rec.state, reason: rec.reason, since: rec.since, nextProbeAt, slowedUntil };
  }
}
