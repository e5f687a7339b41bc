/**
 * `egress.breaker` as the health code reads it: durations in ms, compiled once per config
 * (the egress object is immutable within a snapshot, so a reload brings a new one).
 */
import type { BreakerConfig, EgressConfig } from '../../config/types.js';
import { parseDuration } from '../retry.js';

/** The breaker settings of one snapshot, durations in ms. */
export interface BreakerSettings {
  enabled: boolean;
  consecutiveFailures: number;
  failureRatio: number;
  ratioWindowMs: number;
  ratioMinAttempts: number;
  /** Open intervals: index n after the n-th failed probe in a row; the last repeats. */
  openForMs: readonly number[];
  autoRecover: boolean;
  probeEveryMs: number;
  replayMissed: boolean;
}

const compiled = new WeakMap<EgressConfig, BreakerSettings>();

/** Compiles `egress.breaker` (schema defaults applied by ajv) of `egress`; cached per config object. */
export function breakerSettings(egress: EgressConfig): BreakerSettings {
  let s = compiled.get(egress);
  if (s) return s;
  const b: BreakerConfig = egress.breaker;
  s = {
    enabled: b.enabled,
    consecutiveFailures: b.consecutiveFailures,
    failureRatio: b.failureRatio,
    ratioWindowMs: parseDuration(b.ratioWindow),
    ratioMinAttempts: b.ratioMinAttempts,
    openForMs: b.openFor.map(parseDuration),
    autoRecover: b.autoRecover,
    probeEveryMs: parseDuration(b.probeEvery),
    replayMissed: b.replayMissed,
  };
  compiled.set(egress, s);
  return s;
}

/** How long the breaker stays open after its `opens`-th opening in a row (0 = the first). */
export function openInterval(s: BreakerSettings, opens: number): number {
  return s.openForMs[Math.min(opens, s.openForMs.length - 1)]!;
}
