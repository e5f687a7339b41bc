/**
 * The alert evaluator. Every `alerting.evaluateEvery`, each instance adds its counts since the
 * last flush to the shared window (one batched write), and the one instance holding the
 * evaluator lease reads the window, computes each rule's value per subject, and changes states
 * by compare-and-set: a rule subject fires once when its value crosses the threshold (unless its
 * cooldown since the last firing is still running) and resolves once when it no longer does.
 * Only the instance whose compare-and-set won sends the transition's notifications.
 */
import { randomUUID } from 'node:crypto';
import type { Logger } from 'pino';
import type { Snapshot } from '../compile.js';
import { SYSTEM_TENANT } from '../delivery/system-deliveries.js';
import type { Metrics } from '../metrics.js';
import { stateKey, type AlertState, type AlertStore, type AlertTransition } from './alert-store.js';
import type { AlertNotice } from './notify.js';
import type { AlertRule } from './rules.js';
import { CounterSampler, FIELD } from './sampler.js';

export interface AlertEvaluatorOptions {
  store: AlertStore;
  metrics: Metrics;
  logger: Logger;
  now: () => number;
  /** The running snapshot: rules and interval are read at every tick, so a reload applies at the next one. */
  snapshot: () => Snapshot;
  /** Per tenant, the age of its oldest due delivery (the engine's queue stats). */
  lag: () => Promise<Record<string, number>>;
  /** Sends a transition to the rule's channels (queued, durable). */
  notify: (n: AlertNotice) => Promise<void>;
}

/** Buckets kept beyond the longest window, so a window read never misses its oldest bucket. */
const SPARE_BUCKETS = 3;

/** A rule's value per subject from the window's counts. */
function valuesOf(rule: AlertRule, window: ReadonlyMap<string, number>, lag: Record<string, number>): Map<string, number> {
  const out = new Map<string, number>();
  if (rule.metric === 'delivery_lag_seconds') {
    for (const [tenant, s] of Object.entries(lag)) if (tenant !== SYSTEM_TENANT) out.set(tenant, s);
    return out;
  }
  const parts = new Map<string, { num: number; den: number }>();
  const add = (subject: string, num: number, den: number) => {
    const p = parts.get(subject) ?? { num: 0, den: 0 };
    p.num += num;
    p.den += den;
    parts.set(subject, p);
  };
  for (const [field, n] of window) {
    const bar = field.indexOf('|');
    const what = field.slice(0, bar);
    const subject = field.slice(bar + 1);
    if (rule.metric === 'delivery_failure_ratio') {
      if (what === 'd.fail') add(subject, n, n);
      else if (what === 'd.ok') add(subject, 0, n);
    } else if (rule.metric === 'upstream_5xx_ratio') {
      if (what === 'r.up') add(subject, n, 0);
      else if (what === 'r.all') add(subject, 0, n);
    } else if (what === 's') add(subject, n, 1);
  }
  for (const [subject, p] of parts) out.set(subject, rule.metric === 'signature_failures' ? p.num : p.den > 0 ? p.num / p.den : 0);
  return out;
}

function breaches(rule: AlertRule, v: number): boolean {
  return rule.above !== undefined ? v > rule.above : v < rule.below!;
}

export class AlertEvaluator {
  private readonly holder = randomUUID();
  private readonly sampler: CounterSampler;
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<void> | undefined;
  private stopped = false;

  constructor(private readonly opts: AlertEvaluatorOptions) {
    this.sampler = new CounterSampler(opts.metrics);
  }

  /** Starts the ticks (nothing is read or written while the config has no rules). */
  start(): void {
    this.schedule();
  }

  private schedule(): void {
    if (this.stopped) return;
    this.timer = setTimeout(() => {
      this.running = this.tick().finally(() => {
        this.running = undefined;
        this.schedule();
      });
    }, this.opts.snapshot().alerts.evaluateEveryMs);
    this.timer.unref();
  }

  /** One flush, and one evaluation when this instance holds the lease. Errors (the store) are logged; the next tick tries again. */
  async tick(): Promise<void> {
    const alerts = this.opts.snapshot().alerts;
    if (alerts.rules.length === 0) {
      // Nothing to alert on: drop the counts, so rules added by a reload start on fresh counts.
      this.sampler.deltas();
      return;
    }
    try {
      await this.flush();
      const width = alerts.evaluateEveryMs;
      if (!(await this.opts.store.lead(this.holder, 3 * width))) return;
      await this.evaluate();
      this.opts.metrics.alertEvaluations.inc();
    } catch (err) {
      this.opts.logger.warn({ err: (err as Error).message }, 'alert evaluation failed; retrying at the next interval');
    }
  }

  private ttlMs(): number {
    const { rules, evaluateEveryMs } = this.opts.snapshot().alerts;
    return Math.max(...rules.map((r) => r.overMs), 0) + (SPARE_BUCKETS + 1) * evaluateEveryMs;
  }

  /** Adds this instance's counts since the last flush to the current bucket, in one write. */
  async flush(): Promise<void> {
    const width = this.opts.snapshot().alerts.evaluateEveryMs;
    const d = this.sampler.deltas();
    if (d.size === 0) return;
    try {
      await this.opts.store.add(width, Math.floor(this.opts.now() / width), d, this.ttlMs());
    } catch (err) {
      this.sampler.restore(d);
      throw err;
    }
  }

  /** Evaluates every rule now (the lease holder's job; tests call it through `tick`). */
  private async evaluate(): Promise<void> {
    const { rules, evaluateEveryMs: width } = this.opts.snapshot().alerts;
    const now = this.opts.now();
    const cur = Math.floor(now / width);
    const span = Math.max(1, ...rules.map((r) => Math.ceil(r.overMs / width)));
    const [buckets, states, lag] = await Promise.all([
      this.opts.store.buckets(width, cur - span + 1, cur),
      this.opts.store.states(),
      rules.some((r) => r.metric === 'delivery_lag_seconds') ? this.opts.lag() : Promise.resolve({}),
    ]);
    const names = new Set(rules.map((r) => r.name));
    const stale = [...states.keys()].filter((k) => !names.has(k.slice(0, k.indexOf('|'))));
    await this.opts.store.forget(stale);
    for (const rule of rules) {
      const window = new Map<string, number>();
      for (const b of buckets.slice(-Math.max(1, Math.ceil(rule.overMs / width)))) for (const [k, n] of b) window.set(k, (window.get(k) ?? 0) + n);
      const values = valuesOf(rule, window, lag);
      const subjects = new Set<string>();
      if (rule.subject !== '*') subjects.add(rule.subject);
      else {
        for (const s of values.keys()) subjects.add(s);
        // A firing subject with no counts left in the window resolves (its value is 0).
        const head = `${rule.name}|`;
        for (const k of states.keys()) if (k.startsWith(head)) subjects.add(k.slice(head.length));
      }
      for (const subject of subjects) await this.decide(rule, subject, values.get(subject) ?? 0, states.get(stateKey(rule.name, subject)) ?? null, now);
    }
  }

  private async decide(rule: AlertRule, subject: string, value: number, raw: string | null, now: number): Promise<void> {
    const cur = raw ? (JSON.parse(raw) as AlertState) : undefined;
    const firing = cur?.state === 'firing';
    const breach = breaches(rule, value);
    let next: AlertState;
    if (breach && !firing) {
      // The cooldown holds back a new firing only; a resolve always goes out.
      if (cur?.lastFiredAt !== undefined && now - cur.lastFiredAt < rule.cooldownMs) return;
      next = { state: 'firing', since: now, value, lastFiredAt: now };
    } else if (!breach && firing) {
      next = { state: 'ok', since: now, value, lastFiredAt: cur!.lastFiredAt };
    } else return;
    const to = next.state === 'firing' ? 'firing' : 'resolved';
    const t: AlertTransition = { alert: rule.name, subject, to, at: now, value };
    if (!(await this.opts.store.transition(stateKey(rule.name, subject), raw, JSON.stringify(next), t))) return;
    this.opts.logger.warn({ alert: rule.name, subject, state: to, value }, `alert ${to}`);
    await this.opts.notify({ rule, subject, to, value, at: now }).catch((err: Error) => this.opts.logger.error({ err: err.message, alert: rule.name, subject }, 'alert notification could not be queued'));
  }

  /** Per rule, how many subjects fire now (`hookgate_alerts_firing`), from the shared states. */
  async firing(): Promise<Record<string, number>> {
    const out: Record<string, number> = {};
    const rules = this.opts.snapshot().alerts.rules;
    for (const r of rules) out[r.name] = 0;
    for (const [k, raw] of await this.opts.store.states()) {
      const name = k.slice(0, k.indexOf('|'));
      if (name in out && (JSON.parse(raw) as AlertState).state === 'firing') out[name]!++;
    }
    return out;
  }

  /** Stops the ticks; waits for a running one, flushes what is left and gives the lease up (best effort). */
  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.timer);
    await this.running;
    if (this.opts.snapshot().alerts.rules.length) await this.flush().catch(() => {});
    await this.opts.store.resign(this.holder).catch(() => {});
  }
}
