/**
 * A gateway with the delivery service, two tenants, a write and a read token, and a loopback
 * receiver whose answer per path can be switched (fail, then succeed), for the browser tests.
 */
import assert from 'node:assert/strict';
import { after, before } from 'node:test';
import type { Browser, Page } from 'playwright-core';
import { createDeliveryService } from '../../gateway/delivery/service.js';
import { ADMIN_TOKEN, startGateway, type TestGateway } from '../support/gateway.js';
import { startReceiver, type Receiver } from '../delivery/admin-env.js';
import { WAIT_MS, openWatchedBrowser, type Watch } from './browser.js';

export const READ_TOKEN = 'test-read-token-4567';
export { ADMIN_TOKEN };

export interface ConsoleEnv {
  gw: TestGateway;
  rx: Receiver;
  base: string;
  publish(type: string, data?: unknown, tenant?: string): Promise<string>;
  stop(): Promise<void>;
}

export async function startConsoleEnv(): Promise<ConsoleEnv> {
  const rx = await startReceiver();
  const gw = await startGateway(
    `
admin:
  host: 127.0.0.1
  port: 0
  token: "${ADMIN_TOKEN}"
  tokens: [ { token: "${READ_TOKEN}", role: read, name: viewer } ]
store: { driver: memory }
tenants:
  - { id: acme, name: Acme Corp }
  - { id: globex, name: Globex }
eventTypes:
  - name: order.created
    description: An order was placed.
    schema: { type: object, required: [id], properties: { id: { type: string } } }
    examples: [ { id: ord_example } ]
egress:
  allowCidrs: ["127.0.0.1/32"]
  breaker: { enabled: false }
  retry: { schedule: ["50ms"] }
  lockDurationMs: 2000
routes:
  - name: events
    path: /events
    methods: [POST]
    publish: {}
  - name: hello
    path: /hello
    respond: { status: 200, body: { ok: true } }
`,
    { services: createDeliveryService },
  ).catch(async (e: unknown) => {
    await rx.close();
    throw e;
  });
  const env: ConsoleEnv = {
    gw,
    rx,
    base: `http://127.0.0.1:${gw.adminPort}`,
    async publish(type, data = { id: 'ord_1' }, tenant) {
      const r = await gw.request({
        method: 'POST',
        path: '/events',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ type, data, ...(tenant ? { tenant } : {}) }),
      });
      assert.equal(r.status, 202, r.text);
      return r.json().id as string;
    },
    async stop() {
      await gw.stop();
      await rx.close();
    },
  };
  return env;
}

export async function createEndpoint(env: ConsoleEnv, body: Record<string, unknown>): Promise<Record<string, any>> {
  const r = await env.gw.admin('POST', '/admin/endpoints', body);
  assert.equal(r.status, 201, r.text);
  return r.json();
}

/** Polls the admin API until the message's delivery to `endpoint` has `status`. */
export async function waitDelivery(env: ConsoleEnv, id: string, endpoint: string, status: string): Promise<void> {
  const deadline = Date.now() + WAIT_MS;
  let last = '';
  while (Date.now() < deadline) {
    const r = await env.gw.admin('GET', `/admin/messages/${id}`);
    last = r.json().deliveries?.[endpoint]?.status;
    if (last === status) return;
    await new Promise((res) => setTimeout(res, 50));
  }
  assert.fail(`delivery of ${id} to ${endpoint} is ${last}, not ${status}, after ${WAIT_MS} ms`);
}

/** The gateway and a watched chromium page of one browser test suite; set once its before hook has run. */
export interface ConsoleInBrowser {
  env: ConsoleEnv;
  page: Page;
  watch: Watch;
}

/**
 * Registers the suite's before and after hooks (call it inside `describe`): before starts the
 * gateway, runs `prepare` on it (endpoints, messages), then opens the browser; after closes both.
 */
export function consoleInBrowser(prepare?: (env: ConsoleEnv) => Promise<unknown>): ConsoleInBrowser {
  const ui = {} as ConsoleInBrowser;
  let browser: Browser | undefined;
  before(async () => {
    ui.env = await startConsoleEnv();
    await prepare?.(ui.env);
    ({ browser, page: ui.page, watch: ui.watch } = await openWatchedBrowser());
  });
  after(async () => {
    await browser?.close();
    await ui.env?.stop();
  });
  return ui;
}
