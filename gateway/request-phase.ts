import type { Context } from './context.js';
import type { PluginInstance, PluginResponse } from './plugin.js';

/** Where the request phase goes next: a plugin answered, every plugin passed, or one threw. */
export interface RequestPhaseExits<T> {
  answer(it: T, r: PluginResponse): void;
  proceed(it: T): void;
  fail(it: T, err: unknown): void;
}

/**
 * Runs the plugins' `onRequest` from `from` on. Synchronous while every plugin is: a promise is
 * awaited only where a plugin returns one, so a route whose plugins are all synchronous costs no
 * promise per request. `it` is handed back to the exits (the pipeline's exchange, or an upgrade),
 * so the exits can be built once rather than per request.
 */
export function runRequestPhase<T>(list: readonly PluginInstance[], ctx: Context, from: number, it: T, exits: RequestPhaseExits<T>): void {
  try {
    for (let i = from; i < list.length; i++) {
      const r = list[i]!.onRequest!(ctx);
      if (!r) continue;
      if (typeof (r as Promise<unknown>).then === 'function') {
        (r as Promise<void | PluginResponse>).then(
          (v) => (v ? exits.answer(it, v) : runRequestPhase(list, ctx, i + 1, it, exits)),
          (err) => exits.fail(it, err),
        );
        return;
      }
      return exits.answer(it, r as PluginResponse);
    }
  } catch (err) {
    return exits.fail(it, err);
  }
  exits.proceed(it);
}
