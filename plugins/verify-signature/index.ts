/**
 * verify-signature: checks a provider's webhook signature on the raw body bytes, then (where the
 * scheme carries a message id) answers replays and provider retries of an already delivered
 * message without forwarding them again.
 *
 * Dedupe protocol, shared by every gateway instance on the same store:
 *  - onRequest, after a valid signature: claim `vs:<route>:<preset>:<id>` as `inflight` (60 s);
 *    if already claimed, answer 200 `duplicate` when `done`, or 409 HG_DUPLICATE_IN_FLIGHT.
 *  - onLog: on a 2xx outcome mark the key `done` for the dedupe window; otherwise delete it, so
 *    the provider's retry after a failed forward is forwarded.
 * Store failures fail open: the request goes through and a warning is logged.
 */
import { definePlugin, Errors, type Context, type PluginInstance, type PluginResponse } from '../../gateway/plugin-api.js';
import { verifySignatureSchema } from './schema.js';
import { createVerifier, DEFAULT_TOLERANCE_SEC, type SignedRequest, type VerifySignatureParams } from './schemes/index.js';

export type { VerifySignatureParams } from './schemes/index.js';

const NAME = 'verify-signature';
/** How long a claim lives while the request is being forwarded; bounds a crashed instance's lock. */
export const INFLIGHT_TTL_MS = 60_000;
const DAY_MS = 24 * 60 * 60 * 1000;
const EMPTY = Buffer.alloc(0);

/** What this plugin keeps in `ctx.state['verify-signature']`. */
export interface VerifySignatureState {
  /** The verified message id, if the scheme carried one. */
  id?: string;
  /** The dedupe key this request claimed; cleared once onLog has settled it. */
  claimedKey?: string;
}

export const verifySignaturePlugin = definePlugin<VerifySignatureParams>({
  name: NAME,
  schema: verifySignatureSchema,
  create(params, env): PluginInstance {
    const verifier = createVerifier(params, env.publicUrl);
    if (params.dedupe === true && !verifier.carriesId) {
      throw new Error(`verify-signature: dedupe needs a message id, and preset ${params.preset} carries none` +
        (params.preset === 'hmac' ? ' (set idHeader)' : ''));
    }
    const dedupe = params.dedupe ?? verifier.carriesId;
    const toleranceSec = params.toleranceSec ?? DEFAULT_TOLERANCE_SEC;
    // With a signed timestamp, a replay is only accepted within ±tolerance of it, so remembering
    // ids for 2 x tolerance after delivery covers every replay that could still pass.
    const windowMs = params.dedupeWindowSec
      ? params.dedupeWindowSec * 1000
      : verifier.hasTimestamp
        ? Math.max(toleranceSec * 1000 * 2, INFLIGHT_TTL_MS)
        : DAY_MS;
    const { store, logger } = env;

    const warn = (err: unknown, key: string, what: string) =>
      logger.warn({ err: err instanceof Error ? err.message : String(err), code: 'HG_STORE_UNAVAILABLE', plugin: NAME, key },
        `verify-signature: dedupe ${what} failed; letting the request through`);

    /** Claims the key; returns a duplicate response, throws 409, or returns true when claimed (false: fail open). */
    async function claim(key: string, id: string): Promise<boolean | PluginResponse> {
      try {
        if (await store.setIfAbsent(key, 'inflight', INFLIGHT_TTL_MS)) return true;
        let current = await store.get(key);
        // The holder settled it (deleted) between our two calls: try once more.
        if (current === null) {
          if (await store.setIfAbsent(key, 'inflight', INFLIGHT_TTL_MS)) return true;
          current = await store.get(key);
        }
        if (current === 'done') {
          return { status: 200, headers: { 'hookgate-duplicate': 'true' }, body: { duplicate: true, id } };
        }
      } catch (err) {
        warn(err, key, 'claim');
        return false;
      }
      throw Errors.DUPLICATE_IN_FLIGHT(id);
    }

    return {
      needsBody: true,
      // The presets' signature headers are on the log's default list; the generic one is configured.
      credentials: { headers: params.header ? [params.header] : [] },

      async onRequest(ctx: Context) {
        const req: SignedRequest = { header: (n) => ctx.header(n), body: ctx.body ?? EMPTY, search: ctx.search };
        const verified = verifier.verify(req, Date.now());
        const state: VerifySignatureState = { id: verified.id };
        ctx.state[NAME] = state;
        if (!dedupe || verified.id === undefined) return;
        const key = `vs:${ctx.routeName}:${verifier.preset}:${verified.id}`;
        const r = await claim(key, verified.id);
        if (r === true) state.claimedKey = key;
        else if (r !== false) return r;
      },

      onLog(ctx: Context) {
        const state = ctx.state[NAME] as VerifySignatureState | undefined;
        const key = state?.claimedKey;
        if (!key) return;
        state.claimedKey = undefined;
        // 2xx: the upstream took it (or it was queued, 202): remember it. Anything else: release
        // the claim so the provider's retry is forwarded.
        const delivered = ctx.status >= 200 && ctx.status < 300;
        void (async () => {
          try {
            if (delivered) await store.set(key, 'done', windowMs);
            else await store.del(key);
          } catch (err) {
            warn(err, key, delivered ? 'mark-done' : 'release');
          }
        })();
      },
    };
  },
});
