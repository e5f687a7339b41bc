/**
 * The "done when": `hookgate start` on the example config (config/gateway.yaml, as `npm
 * start` runs it), then the console at /console/ signed in with the example token shows the
 * example's routes, the demo deliveries and their attempts. The README's screenshots come from here.
 */
import assert from 'node:assert/strict';
import { cpSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import type { Browser, Page } from 'playwright-core';
import { startCli, type Started } from '../support/cli.js';
import { httpRequest } from '../support/http.js';
import { ROOT, WAIT_MS, assertClean, openWatchedBrowser, screenshot, signIn, skipBrowserTests, type Watch } from './browser.js';

const skip = skipBrowserTests('the example-config browser test');

const TOKEN = 'change-me'; // the example's ${HOOKGATE_ADMIN_TOKEN:-change-me}

/** A port nothing listens on right now (the example config needs fixed ports: its demo endpoint names the listener's). */
function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => resolve(port));
    });
  });
}

async function until<T>(what: string, probe: () => Promise<T | undefined>): Promise<T> {
  const deadline = Date.now() + WAIT_MS;
  while (Date.now() < deadline) {
    const v = await probe().catch(() => undefined);
    if (v !== undefined) return v;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`${what}: not within ${WAIT_MS} ms`);
}

describe('console on the example config', { skip }, () => {
  let cli: Started;
  let browser: Browser;
  let page: Page;
  let watch: Watch;
  let port: number;
  let adminPort: number;
  const messages: string[] = [];

  before(async () => {
    [port, adminPort] = [await freePort(), await freePort()];
    const dir = mkdtempSync(join(tmpdir(), 'hookgate-console-example-'));
    cpSync(join(ROOT, 'config/my-plugins'), join(dir, 'my-plugins'), { recursive: true });
    const text = readFileSync(join(ROOT, 'config/gateway.yaml'), 'utf8').replaceAll('8080', String(port)).replaceAll('8081', String(adminPort));
    assert.match(text, new RegExp(`^admin:[^]*?port: ${adminPort}\\b`, 'm'), 'the admin listener moved to a free port');
    assert.ok(text.includes('${HOOKGATE_ADMIN_TOKEN:-change-me}'), 'the example token is change-me');
    writeFileSync(join(dir, 'gateway.yaml'), text);
    cli = startCli(join(dir, 'gateway.yaml'));
    await until('the admin API answers', async () => ((await httpRequest({ port: adminPort, path: '/admin/routes', headers: { authorization: `Bearer ${TOKEN}` } })).status === 200 ? true : undefined));
    // The quickstart's publish, twice, and a few ingress requests for the charts.
    for (const [type, data] of [['invoice.paid', { id: 'in_1', amount: 4200 }], ['customer.created', { id: 'cus_1', email: 'ada@example.com' }]] as const) {
      const r = await httpRequest({ port, method: 'POST', path: '/events', headers: { apikey: 'dev-publisher-key', 'content-type': 'application/json' }, body: JSON.stringify({ type, data }) });
      assert.equal(r.status, 202, r.text);
      messages.push(r.json().id);
    }
    for (const path of ['/webhook/v1/hello', '/webhook/v1/hello', '/nope']) await httpRequest({ port, path });
    for (const id of messages)
      await until(`message ${id} delivered`, async () => {
        const r = await httpRequest({ port: adminPort, path: `/admin/messages/${id}`, headers: { authorization: `Bearer ${TOKEN}` } });
        return r.json().deliveries?.['demo-receiver']?.status === 'delivered' ? true : undefined;
      });
    // Delivery counts reach the stats when they are sampled (every 5 s).
    await until('the stats count the deliveries', async () => {
      const r = await httpRequest({ port: adminPort, path: '/admin/stats?minutes=60', headers: { authorization: `Bearer ${TOKEN}` } });
      const ok = r.json().buckets.reduce((n: number, b: { deliveries: { succeeded: number } }) => n + b.deliveries.succeeded, 0);
      return ok >= messages.length ? true : undefined;
    });
    ({ browser, page, watch } = await openWatchedBrowser());
  });
  after(async () => {
    await browser?.close();
    await cli?.kill();
  });

  test("signed in with the example token, the overview lists the example's routes", async () => {
    await signIn(page, `http://127.0.0.1:${adminPort}`, TOKEN);
    const routes = page.getByRole('table').filter({ hasText: 'Routes of config generation 1' });
    for (const name of ['hello', 'demo', 'orders-v1', 'github', 'stripe', 'orders-async', 'events', 'tenants'])
      await routes.getByRole('link', { name, exact: true }).waitFor();
    const success = page.getByRole('img', { name: /^Delivery success rate/ });
    await success.waitFor();
    assert.match(String(await success.getAttribute('aria-label')), /success: 100% now/);
    await page.getByRole('img', { name: /^Requests per second, by route\. Latest: .*hello: /s }).waitFor();
    await screenshot(page, 'overview');
  });

  test('the demo deliveries are listed, and a message shows its attempt to the demo receiver', async () => {
    await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Messages' }).click();
    for (const id of messages) {
      const row = page.locator(`tr[data-message="${id}"]`);
      await row.waitFor();
      assert.match(await row.innerText(), /demo-receiver: delivered/);
    }
    await screenshot(page, 'messages');
    await page.getByRole('link', { name: messages[0]! }).click();
    const card = page.locator('section[data-target="demo-receiver"]');
    await card.getByRole('heading', { name: 'Delivery to demo-receiver: delivered' }).waitFor();
    const attempt = card.locator('li[data-attempt="1"]');
    assert.match(await attempt.innerText(), /Attempt 1 at .*200/);
    await attempt.getByText('Response received').click();
    assert.match(await attempt.getByLabel('Response body of attempt 1').innerText(), /"echoed":true/);
    assert.match(await page.getByLabel('Message payload').innerText(), /"amount": 4200/);
    await attempt.getByText('Request sent').click();
    await screenshot(page, 'message-detail');
  });

  test('the endpoints and the config pages show the example', async () => {
    await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Endpoints' }).click();
    const row = page.locator('tr[data-endpoint="demo-receiver"]');
    await row.waitFor();
    assert.match(await row.innerText(), /enabled/);
    await screenshot(page, 'endpoints');
    await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Config' }).click();
    const config = page.getByLabel('Running config', { exact: true });
    await config.waitFor();
    assert.match(await config.innerText(), /"demo-receiver"/);
    assert.ok(!(await config.innerText()).includes('dev-publisher-key'), 'the publisher key is redacted');
    await screenshot(page, 'config');
    assertClean(watch);
  });
});
