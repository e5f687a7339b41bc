/**
 * verify-signature: checks a provider's webhook signature on the raw body bytes, then answers
 * replays and provider retries of an already delivered message without forwarding them again.
 *
 * What identifies a message (`dedupeKey`): its id where the provider signs the id (standard-
 * webhooks, svix, Stripe's body id, hmac with `{id}`), since retries reuse the id under a fresh
 * timestamp and signature. Where the id is a bare header (GitHub, Shopify, Twilio, hmac without
 * `{id}`) or there is none (Slack), keying on it would let a captured request through again under
 * a made-up id, so the key is a digest of the verified signature: a replay needs the same signed
 * content, hence the same signature, whatever the unsigned headers say.
 *
 * Dedupe protocol, shared by every gateway instance on the same store:
 *  - onRequest, after a valid signature: claim `vs:<route>:<preset>:<id>` (or
 *    `vs:<route>:<preset>:sig:<digest>`) as `inflight` (60 s); if already claimed, answer 200
 *    `duplicate` when `done`, or 409 HG_DUPLICATE_IN_FLIGHT.
 *  - onLog: on a 2xx outcome mark the key `done` for the dedupe window; otherwise delete it, so
 *    the provider's retry after a failed forward is forwarded.
 * Store failures fail open: the request goes through and a warning is logged.
 *
 * A refusal says why in one word (diagnostics.ts): in the access line's `reason`, in
 * `hookgate_signature_failures_total{route,reason}` and, with `diagnostics: true`, in the
 * `Hookgate-Signature-Diagnosis` response header.
 */
import { createHash } from 'node:crypto';
import { definePlugin, Errors, GatewayError, type Context, type PluginInstance, type PluginResponse } from '../../gateway/plugin-api.js';
import { createDiagnosis, secretFormatWarnings } from './diagnostics.js';
import { verifySignatureSchema } from './schema.js';
import { createVerifier, DEFAULT_TOLERANCE_SEC, type SignedRequest, type Verified, type Verifier, type VerifySignatureParams } from './schemes/index.js';

export type { VerifySignatureParams } from './schemes/index.js';

const NAME = 'verify-signature';
/** How long a claim lives while the request is being forwarded; bounds a crashed instance's lock. */
export const INFLIGHT_TTL_MS = 60_000;
const DAY_MS = 24 * 60 * 60 * 1000;
const EMPTY = Buffer.alloc(0);
/** The response header that carries the refusal's reason when the route sets `diagnostics: true`. */
export const DIAGNOSIS_HEADER = 'hookgate-signature-diagnosis';
/** The counter of refusals, labelled by route and reason. */
export const FAILURES_METRIC = 'hookgate_signature_failures_total';

/**
 * The store key (below `vs:<route>:<preset>:`) that identifies a verified message: its id when the
 * scheme signs the id, else `sig:` and the base64url SHA-256 of the signature bytes. A signed-id
 * scheme without an id in this message (a Stripe body that is not JSON) falls back to the digest.
 * Id keys keep the format they always had, so instances of two versions sharing a store during a
 * rolling upgrade still agree on them; a signed id spelled `sig:` + 43 characters would be needed
 * to meet a digest key, and only the provider chooses signed ids.
 */
export function dedupeKey(verifier: Pick<Verifier, 'idSigned'>, verified: Verified): string {
  if (verifier.idSigned && verified.id !== undefined) return verified.id;
  return 'sig:' + createHash('sha256').update(verified.signature).digest('base64url');
}

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
    // Off by default only for a scheme with neither an id nor a signed timestamp (hmac over the
    // body alone): two identical bodies are then indistinguishable, and may both be meant.
    const dedupe = params.dedupe ?? (verifier.carriesId || verifier.hasTimestamp);
    const toleranceSec = params.toleranceSec ?? DEFAULT_TOLERANCE_SEC;
    // With a signed timestamp, a replay is only accepted within ±tolerance of it, so remembering
    // ids for 2 x tolerance after delivery covers every replay that could still pass.
    const windowMs = params.dedupeWindowSec
      ? params.dedupeWindowSec * 1000
      : verifier.hasTimestamp
        ? Math.max(toleranceSec * 1000 * 2, INFLIGHT_TTL_MS)
        : DAY_MS;
    const { store, logger } = env;
    const diagnose = createDiagnosis(params, env.publicUrl, verifier);
    const failures = env.metrics.counter(FAILURES_METRIC, 'Requests verify-signature refused, by route and reason', ['route', 'reason']);
    for (const w of secretFormatWarnings(params.preset, params.secrets ?? [])) {
      logger.warn({ code: 'HG_SIGNATURE_SECRET_FORMAT', plugin: NAME, route: env.routeName }, `verify-signature: ${w}`);
    }

    /** Tags a verifier's refusal with its reason, counts it, and adds the diagnosis header if asked to. */
    function refusal(ctx: Context, req: SignedRequest, nowMs: number, err: unknown): unknown {
      if (!(err instanceof GatewayError)) return err;
      const reason = diagnose(req, nowMs, err);
      err.because(reason);
      failures.inc({ route: ctx.routeName, reason });
      if (params.diagnostics) err.with({ [DIAGNOSIS_HEADER]: reason });
      return err;
    }

    const warn = (err: unknown, key: string, what: string) =>
      logger.warn({ err: err instanceof Error ? err.message : String(err), code: 'HG_STORE_UNAVAILABLE', plugin: NAME, key },
        `verify-signature: dedupe ${what} failed; letting the request through`);

    /** Claims the key; returns a duplicate response, throws 409, or returns true when claimed (false: fail open). */
    async function claim(key: string, id: string | undefined): Promise<boolean | PluginResponse> {
      try {
        if (await store.setIfAbsent(key, 'inflight', INFLIGHT_TTL_MS)) return true;
        let current = await store.get(key);
        // The holder settled it (deleted) between our two calls: try once more.
        if (current === null) {
          if (await store.setIfAbsent(key, 'inflight', INFLIGHT_TTL_MS)) return true;
          current = await store.get(key);
        }
        if (current === 'done') {
          return { status: 200, headers: { 'hookgate-duplicate': 'true' }, body: id === undefined ? { duplicate: true } : { duplicate: true, id } };
        }
      } catch (err) {
        warn(err, key, 'claim');
        return false;
      }
      throw Errors.DUPLICATE_IN_FLIGHT(id ?? 'with this signature');
    }

    return {
      needsBody: true,
      // The presets' signature headers are on the log's default list; the generic one is configured.
      credentials: { headers: params.header ? [params.header] : [] },

      async onRequest(ctx: Context) {
        const req: SignedRequest = { header: (n) => ctx.header(n), body: ctx.body ?? EMPTY, search: ctx.search };
        const nowMs = Date.now();
        let verified: Verified;
        try {
          verified = verifier.verify(req, nowMs);
        } catch (err) {
          throw refusal(ctx, req, nowMs, err);
        }
        const state: VerifySignatureState = { id: verified.id };
        ctx.state[NAME] = state;
        if (!dedupe) return;
        const key = `vs:${ctx.routeName}:${verifier.preset}:${dedupeKey(verifier, verified)}`;
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
