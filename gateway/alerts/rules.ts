/**
 * Compiles `alerting` and `alerts:` of gateway.yaml into the snapshot's alert rules: durations
 * parsed, each rule's subject checked against its metric, routes it names declared, channel URLs
 * passed through the SSRF guard. Every problem is a located config error, so start and reload
 * refuse the whole config.
 */
import type { AlertChannelConfig, AlertMetric, LoadedConfig } from '../config/types.js';
import type { SsrfGuard } from '../delivery/ssrf.js';
import { systemTarget, type SystemChannel } from '../delivery/system-deliveries.js';
import { parseDuration } from '../delivery/retry.js';
import { formatPath } from '../config/load.js';
import { ConfigError } from '../errors.js';

/** The subject key each metric is measured per. */
export const SUBJECT_OF: Readonly<Record<AlertMetric, 'endpoint' | 'route' | 'tenant'>> = {
  delivery_failure_ratio: 'endpoint',
  delivery_lag_seconds: 'tenant',
  upstream_5xx_ratio: 'route',
  signature_failures: 'route',
};

/** The window of a ratio or count when a rule gives none. */
const DEFAULT_OVER_MS = 5 * 60 * 1000;
/** Evaluating faster than this would put the store's round trips on a hot loop. */
const MIN_EVALUATE_MS = 50;

/** One rule, ready to evaluate. */
export interface AlertRule {
  name: string;
  metric: AlertMetric;
  /** The subject key (`endpoint`, `route` or `tenant`) and its value: an id, or `*` for each one separately. */
  subjectKey: 'endpoint' | 'route' | 'tenant';
  subject: string;
  /** The window (0 for delivery_lag_seconds, an instant value). */
  overMs: number;
  above?: number;
  below?: number;
  cooldownMs: number;
  channels: SystemChannel[];
}

/** The snapshot's alerting: the rules, the evaluation interval, and every channel by its system target. */
export interface CompiledAlerts {
  evaluateEveryMs: number;
  rules: AlertRule[];
  /** What the system deliveries look a channel target up in (the config is the truth about its URL). */
  channels: ReadonlyMap<string, SystemChannel>;
}

function channelOf(c: AlertChannelConfig): SystemChannel {
  if (c === 'operational') return { kind: 'operational' };
  if ('slack' in c) return { kind: 'slack', url: c.slack };
  return { kind: 'webhook', url: c.webhook };
}

/** Parses a duration of the config, or a located error. */
function durationAt(loaded: LoadedConfig, v: number | string, path: (string | number)[]): number {
  try {
    return parseDuration(v);
  } catch (err) {
    throw new ConfigError((err as Error).message, { file: loaded.file, line: loaded.lineOf(path), path: formatPath(path) });
  }
}

/** Compiles the alert rules of a config (see the module comment). */
export function compileAlerts(loaded: LoadedConfig, ssrf: SsrfGuard): CompiledAlerts {
  const { config } = loaded;
  const fail = (message: string, path: (string | number)[]): never => {
    throw new ConfigError(message, { file: loaded.file, line: loaded.lineOf(path), path: formatPath(path) });
  };
  const evaluateEveryMs = durationAt(loaded, config.alerting.evaluateEvery, ['alerting', 'evaluateEvery']);
  if (evaluateEveryMs < MIN_EVALUATE_MS) fail(`evaluateEvery must be at least ${MIN_EVALUATE_MS}ms`, ['alerting', 'evaluateEvery']);
  const routes = new Set(config.routes.map((r) => r.name));
  const names = new Map<string, number>();
  const channels = new Map<string, SystemChannel>();
  const rules = config.alerts.map((r, i): AlertRule => {
    const at = (...sub: (string | number)[]) => ['alerts', i, ...sub];
    const w = r.when;
    const name = r.name ?? `${w.metric}-${i + 1}`;
    const prev = names.get(name);
    if (prev !== undefined) fail(`duplicate alert name "${name}" (first used at alerts[${prev}])`, at('name'));
    names.set(name, i);
    const subjectKey = SUBJECT_OF[w.metric];
    for (const k of ['endpoint', 'route', 'tenant'] as const) {
      if (k !== subjectKey && w[k] !== undefined) fail(`${w.metric} is measured per ${subjectKey}; "${k}" does not apply`, at('when', k));
    }
    const subject = w[subjectKey] ?? '*';
    if (subjectKey === 'route' && subject !== '*' && !routes.has(subject)) fail(`unknown route "${subject}" (declared: ${[...routes].join(', ') || 'none'})`, at('when', 'route'));
    if ((w.above === undefined) === (w.below === undefined)) fail('a rule needs exactly one of "above" and "below"', at('when'));
    let overMs = 0;
    if (w.metric === 'delivery_lag_seconds') {
      if (w.over !== undefined) fail('delivery_lag_seconds is the current lag; "over" does not apply', at('when', 'over'));
    } else {
      overMs = w.over === undefined ? DEFAULT_OVER_MS : durationAt(loaded, w.over, at('when', 'over'));
      if (overMs < evaluateEveryMs) fail(`"over" must be at least alerting.evaluateEvery (${evaluateEveryMs}ms)`, at('when', 'over'));
    }
    const list = (r.channels ?? ['operational']).map((c, j) => {
      const ch = channelOf(c);
      if (ch.kind !== 'operational') {
        try {
          ssrf.checkUrl(ch.url);
        } catch (err) {
          fail((err as Error).message, at('channels', j));
        }
      }
      channels.set(systemTarget(ch), ch);
      return ch;
    });
    const rule: AlertRule = { name, metric: w.metric, subjectKey, subject, overMs, cooldownMs: durationAt(loaded, r.cooldown, at('cooldown')), channels: list };
    if (w.above !== undefined) rule.above = w.above;
    if (w.below !== undefined) rule.below = w.below;
    return rule;
  });
  return { evaluateEveryMs, rules, channels };
}
