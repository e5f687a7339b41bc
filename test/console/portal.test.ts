/**
 * The customer portal and the read-only token in a real browser: a portal link shows only its
 * tenant's endpoints and messages, another tenant's id in the URL is refused by the server, and a
 * read token cannot press replay or see secrets.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { Browser, Page } from 'playwright-core';
import { WAIT_MS, assertClean, launch, screenshot, signIn, skipReason, unnamedControls, watchedPage, type Watch } from './browser.js';
import { READ_TOKEN, createEndpoint, startConsoleEnv, waitDelivery, type ConsoleEnv } from './env.js';

const skip = skipReason();
if (skip) console.log(`# skipping the portal browser tests: ${skip}`);

describe('customer portal and read-only token', { skip }, () => {
  let env: ConsoleEnv;
  let browser: Browser;
  let page: Page;
  let watch: Watch;
  let acmeMessage: string;
  let globexMessage: string;

  before(async () => {
    env = await startConsoleEnv();
    await createEndpoint(env, { id: 'acme-ep', tenant: 'acme', url: `${env.rx.up.url}/acme`, events: ['order.*'] });
    await createEndpoint(env, { id: 'globex-ep', tenant: 'globex', url: `${env.rx.up.url}/globex`, events: ['order.*'] });
    await createEndpoint(env, { id: 'default-ep', url: `${env.rx.up.url}/default`, events: ['order.*'] });
    env.rx.status.set('/acme', 500);
    acmeMessage = await env.publish('order.created', { id: 'acme_1' }, 'acme');
    globexMessage = await env.publish('order.created', { id: 'globex_1' }, 'globex');
    await waitDelivery(env, acmeMessage, 'acme-ep', 'failed');
    await waitDelivery(env, globexMessage, 'globex-ep', 'delivered');
    browser = await launch();
    ({ page, watch } = await watchedPage(browser));
    page.setDefaultTimeout(WAIT_MS);
  });
  after(async () => {
    await browser?.close();
    await env?.stop();
  });

  async function portalLink(tenant: string, expiresInSec = 600): Promise<string> {
    const r = await env.gw.admin('POST', `/admin/tenants/${tenant}/portal-link`, { expiresInSec });
    assert.equal(r.status, 201, r.text);
    const { url, token } = r.json();
    const u = new URL(url);
    assert.equal(u.pathname, '/console/');
    assert.equal(u.hash, `#/portal?token=${token}`);
    // The link names the admin listener's configured address; the test's listener is on an ephemeral port.
    return `${env.base}/console/${u.hash}`;
  }

  test("a portal link opens the tenant's own endpoints, and the token leaves the location", async () => {
    await page.goto(await portalLink('acme'));
    await page.getByRole('heading', { name: 'Endpoints of tenant acme' }).waitFor();
    await page.locator('tr[data-endpoint="acme-ep"]').waitFor();
    assert.equal(await page.locator('tr[data-endpoint]').count(), 1, 'only acme-ep is listed');
    assert.equal(await page.locator('tr[data-endpoint="globex-ep"]').count(), 0);
    const url = page.url();
    assert.ok(!url.includes('token'), `the token is stripped from the location: ${url}`);
    assert.match(url, /#\/tenants\/acme\/endpoints$/);
    assert.match(String(await page.evaluate<string | null>("sessionStorage.getItem('hookgate.token')")), /^hgp_/);
    const nav = page.getByRole('navigation', { name: 'Main' });
    assert.deepEqual(await nav.getByRole('link').allInnerTexts(), ['Endpoints', 'Messages', 'Event catalogue']);
    assert.deepEqual(await unnamedControls(page), []);
    await screenshot(page, 'portal');
  });

  test("the portal shows its own messages and can replay them, but not another tenant's", async () => {
    await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Messages' }).click();
    await page.getByRole('heading', { name: 'Messages of tenant acme' }).waitFor();
    await page.locator(`tr[data-message="${acmeMessage}"]`).waitFor();
    assert.equal(await page.locator(`tr[data-message="${globexMessage}"]`).count(), 0);
    await page.getByRole('link', { name: acmeMessage }).click();
    env.rx.status.set('/acme', 200);
    const card = page.locator('section[data-target="acme-ep"]');
    await card.getByRole('button', { name: 'Retry delivery to acme-ep' }).click();
    await card.getByRole('heading', { name: /delivered/ }).waitFor();
    await page.goto(`${env.base}/console/#/messages/${globexMessage}`);
    assert.match(await page.getByRole('alert').innerText(), /HG_PORTAL_SCOPE/);
  });

  test("another tenant's id in the URL is refused", async () => {
    await page.goto(`${env.base}/console/#/tenants/globex/endpoints`);
    const refused = page.getByRole('alert');
    await refused.waitFor();
    assert.match(await refused.innerText(), /HG_PORTAL_SCOPE.*403/s);
    assert.equal(await page.locator('tr[data-endpoint="globex-ep"]').count(), 0, 'no globex endpoint is shown');
    await page.goto(`${env.base}/console/#/endpoints/globex-ep`);
    assert.match(await page.getByRole('alert').innerText(), /HG_PORTAL_SCOPE/);
    await page.goto(`${env.base}/console/#/config`);
    await page.getByRole('heading', { name: 'Not part of the portal' }).waitFor();
  });

  test('an expired or forged portal link asks for a new one', async () => {
    const link = await portalLink('acme');
    // From another document, so the link is a full load and the app starts on it (a goto that only
    // changes the hash of the open console would not restart the app).
    await page.goto('about:blank');
    await page.goto(link.replace(/.$/, (c) => (c === 'A' ? 'B' : 'A')));
    await page.getByText('This portal link has expired or is not valid').waitFor();
    assert.equal(await page.evaluate<string | null>("sessionStorage.getItem('hookgate.token')"), null);
  });

  test('a read-only token sees messages and endpoints but cannot replay, change or reveal', async () => {
    await page.evaluate('sessionStorage.clear()');
    await signIn(page, env.base, READ_TOKEN);
    await page.getByText('read token').waitFor();
    await page.goto(`${env.base}/console/#/messages/${globexMessage}`);
    const retry = page.getByRole('button', { name: 'Resend delivery to globex-ep' });
    await retry.waitFor();
    assert.equal(await retry.isDisabled(), true, 'replay is disabled');
    assert.equal(await page.getByRole('button', { name: 'Retry all failed deliveries' }).isDisabled(), true);
    await page.getByRole('note').filter({ hasText: 'read-only' }).first().waitFor();
    assert.equal(await retry.getAttribute('aria-describedby'), 'read-only-note', 'the disabled button says why');
    await page.goto(`${env.base}/console/#/endpoints/acme-ep`);
    await page.getByRole('heading', { name: 'Endpoint acme-ep', exact: true }).waitFor();
    assert.equal(await page.getByRole('button', { name: 'Pause endpoint' }).isDisabled(), true);
    assert.equal(await page.getByRole('button', { name: 'Reveal secrets' }).count(), 0, 'no reveal for a read token');
    assert.equal(await page.getByRole('button', { name: 'Rotate secret' }).count(), 0);
    await page.getByText('Rotating and revealing secrets needs a write token.').waitFor();
    await page.goto(`${env.base}/console/#/endpoints`);
    await page.locator('tr[data-endpoint="globex-ep"]').waitFor();
    assert.equal(await page.getByRole('link', { name: 'New endpoint' }).count(), 0);
    await page.goto(`${env.base}/console/#/config`);
    assert.equal(await page.getByRole('button', { name: 'Reload config' }).isDisabled(), true);
  });

  test('no request off loopback, no CSP violation, no page error', () => {
    assertClean(watch);
  });
});
