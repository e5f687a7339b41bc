import type { CompiledRoute } from './compile.js';
import { credentialsOf, type PluginInstance } from './plugin.js';

/** The route name that requests matching no route are logged and counted under. */
export const UNMATCHED_ROUTE = '(unmatched)';

/** The pseudo-route of requests that match no route; its action is never run. */
export function unmatchedRoute(globals: { name: string; instance: PluginInstance }[], coreLog: PluginInstance | undefined): CompiledRoute {
  const all = globals.map((p) => p.instance);
  const onLog = all.filter((p) => p.onLog);
  if (coreLog && !globals.some((p) => p.name === 'log')) onLog.push(coreLog);
  return {
    name: UNMATCHED_ROUTE,
    config: { name: UNMATCHED_ROUTE, path: '/*', stripPrefix: false, websocket: false },
    action: { kind: 'respond', status: 404, headers: {}, body: Buffer.alloc(0) },
    onRequest: [],
    onResponse: all.filter((p) => p.onResponse),
    onLog,
    needsBody: false,
    bodyLimit: 0,
    stripPrefix: false,
    extraHeaders: undefined,
    pluginNames: globals.map((p) => p.name),
    credentials: credentialsOf(all),
    echoRequestId: !globals.some((p) => p.name === 'request-id'),
  };
}
