/**
 * Alerting beside a delivery engine: the shared store for the driver, the evaluator, where its
 * notifications go (the operational channel through the engine's operational events, Slack and
 * generic webhooks as system messages on the engine's queue), `GET /admin/alerts` and the
 * `hookgate_alerts_firing` gauge.
 */
import type { Logger } from 'pino';
import type { AdminServer } from '../admin/server.js';
import type { DeliveryEngine } from '../delivery/engine.js';
import type { Metrics } from '../metrics.js';
import type { Store } from '../store/types.js';
import { slottedPrefix } from '../store/redis-topology.js';
import { registerAlertAdmin } from './admin-alerts.js';
import { MemoryAlertStore, RedisAlertStore } from './alert-store.js';
import { AlertEvaluator } from './evaluator.js';
import { channelBody, noticeData, noticeType, type AlertNotice } from './notify.js';

export interface AlertingDeps {
  engine: DeliveryEngine;
  store: Store;
  metrics: Metrics;
  logger: Logger;
  admin: AdminServer | undefined;
}

/** Sends a transition to each channel of its rule; every send is queued and retried by the engine. */
async function notify(engine: DeliveryEngine, n: AlertNotice): Promise<void> {
  for (const ch of n.rule.channels) {
    if (ch.kind === 'operational') engine.ops.raise(noticeType(n), noticeData(n));
    else await engine.system.enqueue(ch, noticeType(n), channelBody(ch, n));
  }
}

/** Starts alerting for an engine; stop the evaluator it returns before the engine. */
export function startAlerting({ engine, store, metrics, logger, admin }: AlertingDeps): AlertEvaluator {
  const alertStore = store.driver === 'redis' ? new RedisAlertStore(store.redis, slottedPrefix(store.prefix, store.cluster, `hga:${store.prefix}`)) : new MemoryAlertStore();
  const evaluator = new AlertEvaluator({
    store: alertStore,
    metrics,
    logger,
    now: Date.now,
    snapshot: () => engine.currentSnapshot(),
    lag: async () => (await engine.queue.stats()).lagSeconds,
    notify: (n) => notify(engine, n),
  });
  metrics.alertsSource = () => evaluator.firing();
  if (admin) registerAlertAdmin(admin, { snapshot: () => engine.currentSnapshot(), store: alertStore });
  evaluator.start();
  return evaluator;
}
