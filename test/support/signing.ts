/**
 * Shared set-up of the verify-signature tests: the providers' published vectors, a plugin harness on
 * route `hooks`, request builders and the pass / refuse assertions.
 */
import assert from 'node:assert/strict';
import { createHash, createHmac } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

import type { Context } from '../../gateway/context.js';
import { GatewayError } from '../../gateway/errors.js';
import type { PluginEnv, PluginInstance, PluginResponse } from '../../gateway/plugin.js';
import { MemoryStore } from '../../gateway/store/memory.js';
import { verifySignaturePlugin } from '../../plugins/verify-signature/index.js';
import type { SignedRequest, VerifySignatureParams } from '../../plugins/verify-signature/schemes/index.js';
import { expectRefusal, fakeContext, pluginHarness } from './plugin.js';

// Compiled to dist/test/support/; the fixture stays in the source tree.
const here = dirname(fileURLToPath(import.meta.url));
const fixturePath = [join(here, '../fixtures/signatures.json'), join(here, '../../../test/fixtures/signatures.json')].find((p) => {
  try {
    readFileSync(p);
    return true;
  } catch {
    return false;
  }
})!;
export const V = JSON.parse(readFileSync(fixturePath, 'utf8')) as {
  'standard-webhooks': Array<{ secret: string; id: string; timestamp: number; body?: string; bodyRepeat?: { char: string; count: number }; signature: string }>;
  'standard-webhooks-ed25519': Array<{ publicKey: string; id: string; timestamp: number; body: string; signature: string }>;
  github: Array<{ secret: string; body: string; header: string; signature: string }>;
  slack: Array<{ secret: string; timestamp: number; body: string; signature: string }>;
  shopify: Array<{ secret: string; body: string; header: string; signature: string }>;
  twilio: Array<{ authToken: string; url: string; params?: Record<string, string>; body?: string; header: string; signature: string }>;
};

const harness = pluginHarness(verifySignaturePlugin, { routeName: 'hooks' });

/** Validates and applies schema defaults, as the core does before create(). */
export const withDefaults = (params: Record<string, unknown>): VerifySignatureParams => harness.params(params);

/** A verify-signature instance on route `hooks`, with a fresh memory store unless `env` names one. */
export async function makePlugin(params: Record<string, unknown>, env: Partial<PluginEnv> = {}): Promise<PluginInstance> {
  return harness.create(params, { store: new MemoryStore(), ...env });
}

export interface ReqOpts {
  headers?: Record<string, string>;
  body?: string | Buffer;
  search?: string;
  routeName?: string;
}

export function makeCtx(o: ReqOpts): Context {
  return fakeContext({ headers: o.headers, search: o.search, routeName: o.routeName ?? 'hooks', body: o.body ?? Buffer.alloc(0) });
}

export function signedReq(headers: Record<string, string>, body: string | Buffer, search = ''): SignedRequest {
  const h: Record<string, string> = {};
  for (const [k, v] of Object.entries(headers)) h[k.toLowerCase()] = v;
  return { header: (n) => h[n], body: Buffer.isBuffer(body) ? body : Buffer.from(body, 'utf8'), search };
}

/** Runs onRequest; returns the response (or undefined) or the thrown GatewayError code. */
export async function run(plugin: PluginInstance, ctx: Context): Promise<{ code?: string; status?: number; res?: PluginResponse | void }> {
  try {
    const res = await plugin.onRequest!(ctx);
    return { res };
  } catch (err) {
    if (err instanceof GatewayError) return { code: err.code, status: err.status };
    throw err;
  }
}

export const expectCode = (plugin: PluginInstance, ctx: Context, code: string): Promise<GatewayError> =>
  expectRefusal(plugin, ctx, code, code === 'HG_DUPLICATE_IN_FLIGHT' ? 409 : 401);

export async function expectPass(plugin: PluginInstance, ctx: Context): Promise<void> {
  const r = await run(plugin, ctx);
  assert.equal(r.code, undefined, `expected pass, got ${r.code}`);
  assert.equal(r.res, undefined);
}

export function expectVerifyCode(fn: () => unknown, code: string): void {
  assert.throws(fn, (err: unknown) => err instanceof GatewayError && err.code === code && err.status === 401);
}

export const nowSec = () => Math.floor(Date.now() / 1000);
export const hmacHex = (key: string, data: string) => createHmac('sha256', key).update(data).digest('hex');
export const hmacB64 = (key: string, data: string) => createHmac('sha256', key).update(data).digest('base64');
export const randomB64Sig = (i: number) => createHash('sha256').update(`decoy-${i}`).digest('base64');
export const randomHexSig = (i: number) => createHash('sha256').update(`decoy-${i}`).digest('hex');

/** A JSON body, and the same value re-encoded by a JSON round trip with different whitespace. */
export const JSON_BODY = '{"type": "invoice.paid",  "data": {"amount": 1200}}';
export const REENCODED = JSON.stringify(JSON.parse(JSON_BODY));
