/**
 * In-process plugin testing: create an instance the way the core does (params validated against
 * the plugin's schema, defaults applied) and run its phases on a Context that never touched a
 * socket.
 */
import assert from 'node:assert/strict';
import type { IncomingMessage } from 'node:http';
import { Ajv2020, type ValidateFunction } from 'ajv/dist/2020.js';
import { pino } from 'pino';
import { ClientIpResolver, type ForwardedHeader } from '../../gateway/client-ip.js';
import { NO_METRICS } from '../../gateway/plugin.js';
import { Context, GatewayError, type CredentialLocations, type PluginDefinition, type PluginEnv, type PluginInstance, type Store } from '../../gateway/plugin-api.js';

// Strict, unlike the core: a plugin's own schema should also pass ajv's strict mode.
const ajv = new Ajv2020({ allErrors: true, useDefaults: true, strict: true });

export interface PluginHarness<P> {
  /** The plugin's schema, compiled; applies defaults to what it validates. */
  readonly validate: ValidateFunction;
  /** A copy of `raw` validated with defaults applied. @throws Error naming what the schema refused. */
  params(raw: Record<string, unknown>): P;
  /** An instance from validated params, with `env` over the harness's own. */
  create(raw: Record<string, unknown>, env?: Partial<PluginEnv>): Promise<PluginInstance>;
}

/**
 * The env the harness hands to `create` unless told otherwise: a silent logger, route `r`, and a
 * store that fails loudly if the plugin uses it.
 */
export function pluginEnv(env: Partial<PluginEnv> = {}): PluginEnv {
  return { store: {} as Store, logger: pino({ level: 'silent' }), metrics: NO_METRICS, configDir: '.', routeName: 'r', publicUrl: undefined, ...env };
}

/** A harness for one plugin definition; `env` fills in what differs from `pluginEnv()`. */
export function pluginHarness<P>(def: PluginDefinition<P>, env: Partial<PluginEnv> = {}): PluginHarness<P> {
  const validate = ajv.compile(def.schema);
  const params = (raw: Record<string, unknown>): P => {
    const p = structuredClone(raw);
    if (!validate(p)) throw new Error(`params invalid: ${ajv.errorsText(validate.errors)}`);
    return p as P;
  };
  return {
    validate,
    params,
    create: async (raw, own = {}) => def.create(params(raw), pluginEnv({ ...env, ...own })),
  };
}

export interface FakeRequest {
  method?: string;
  /** Header names are lower-cased, as Node does. */
  headers?: Record<string, string | string[]>;
  /** The query string with its leading `?`, or ''. */
  search?: string;
  /** The socket's peer address. */
  remoteAddress?: string;
  routeName?: string;
  /** `listen.trustedProxies` of the snapshot the request runs on (none unless given). */
  trustedProxies?: string[];
  forwardedHeader?: ForwardedHeader;
  /** The route's declared credential locations. */
  credentials?: CredentialLocations;
  /** Buffered body bytes (strings as UTF-8); left undefined unless given, as when no plugin asked for it. */
  body?: string | Buffer;
}

/** A Context for a request to `/x` on route `r` from 127.0.0.1 unless told otherwise. */
export function fakeContext(o: FakeRequest = {}): Context {
  const search = o.search ?? '';
  const remoteAddress = o.remoteAddress ?? '127.0.0.1';
  const headers: Record<string, string | string[]> = {};
  for (const [k, v] of Object.entries(o.headers ?? {})) headers[k.toLowerCase()] = v;
  const req = { method: o.method ?? 'POST', url: '/x' + search, headers, socket: { remoteAddress } } as unknown as IncomingMessage;
  const resolver = o.trustedProxies || o.forwardedHeader ? new ClientIpResolver(o.trustedProxies, o.forwardedHeader) : undefined;
  const ctx = new Context(req, o.routeName ?? 'r', '/x', search, remoteAddress, resolver, o.credentials);
  if (o.body !== undefined) ctx.body = Buffer.isBuffer(o.body) ? o.body : Buffer.from(o.body, 'utf8');
  return ctx;
}

/** Runs `onRequest`, expecting a refusal: a GatewayError with this code and status, which it returns. */
export async function expectRefusal(inst: PluginInstance, ctx: Context, code: string, status: number): Promise<GatewayError> {
  try {
    await inst.onRequest!(ctx);
  } catch (err) {
    assert.ok(err instanceof GatewayError, `expected a GatewayError, got ${String(err)}`);
    assert.equal(err.code, code, err.message);
    assert.equal(err.status, status);
    return err;
  }
  assert.fail(`expected ${code}, the request passed`);
}
