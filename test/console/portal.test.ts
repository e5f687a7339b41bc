/**
 * The customer portal and the read-only token in a real browser: a portal link shows only its
 * tenant's endpoints and messages, another tenant's id in the URL is refused by the server, and a
 * read token cannot press replay or see secrets.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { assertClean, screenshot, signIn, skipBrowserTests, unnamedControls } from './browser.js';
import { READ_TOKEN, consoleInBrowser, createEndpoint, waitDelivery } from './env.js';

const skip = skipBrowserTests('the portal browser tests');

describe('customer portal and read-only token', { skip }, () => {
  let acmeMessage: string;
  let globexMessage: string;
  const ui = consoleInBrowser(async (env) => {
    await createEndpoint(env, { id: 'acme-ep', tenant: 'acme', url: `${env.rx.up.url}/acme`, events: ['order.*'] });
    await createEndpoint(env, { id: 'globex-ep', tenant: 'globex', url: `${env.rx.up.url}/globex`, events: ['order.*'] });
    await createEndpoint(env, { id: 'default-ep', url: `${env.rx.up.url}/default`, events: ['order.*'] });
    env.rx.status.set('/acme', 500);
    acmeMessage = await env.publish('order.created', { id: 'acme_1' }, 'acme');
    globexMessage = await env.publish('order.created', { id: 'globex_1' }, 'globex');
    await waitDelivery(env, acmeMessage, 'acme-ep', 'failed');
    await waitDelivery(env, globexMessage, 'globex-ep', 'delivered');
  });

  async function portalLink(tenant: string, expiresInSec = 600): Promise<string> {
    const r = await ui.env.gw.admin('POST', `/admin/tenants/${tenant}/portal-link`, { expiresInSec });
    assert.equal(r.status, 201, r.text);
    const { url, token } = r.json();
    const u = new URL(url);
    assert.equal(u.pathname, '/console/');
    assert.equal(u.hash, `#/portal?token=${token}`);
    // The link names the admin listener's configured address; the test's listener is on an ephemeral port.
    return `${ui.env.base}/console/${u.hash}`;
  }

  test("a portal link opens the tenant's own endpoints, and the token leaves the location", async () => {
    await ui.page.goto(await portalLink('acme'));
    await ui.page.getByRole('heading', { name: 'Endpoints of tenant acme' }).waitFor();
    await ui.page.locator('tr[data-endpoint="acme-ep"]').waitFor();
    assert.equal(await ui.page.locator('tr[data-endpoint]').count(), 1, 'only acme-ep is listed');
    assert.equal(await ui.page.locator('tr[data-endpoint="globex-ep"]').count(), 0);
    const url = ui.page.url();
    assert.ok(!url.includes('token'), `the token is stripped from the location: ${url}`);
    assert.match(url, /#\/tenants\/acme\/endpoints$/);
    assert.match(String(await ui.page.evaluate<string | null>("sessionStorage.getItem('hookgate.token')")), /^hgp_/);
    const nav = ui.page.getByRole('navigation', { name: 'Main' });
    assert.deepEqual(await nav.getByRole('link').allInnerTexts(), ['Endpoints', 'Messages', 'Event catalogue']);
    assert.deepEqual(await unnamedControls(ui.page), []);
    await screenshot(ui.page, 'portal');
  });

  test("the portal shows its own messages and can replay them, but not another tenant's", async () => {
    await ui.page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Messages' }).click();
    await ui.page.getByRole('heading', { name: 'Messages of tenant acme' }).waitFor();
    await ui.page.locator(`tr[data-message="${acmeMessage}"]`).waitFor();
    assert.equal(await ui.page.locator(`tr[data-message="${globexMessage}"]`).count(), 0);
    await ui.page.getByRole('link', { name: acmeMessage }).click();
    ui.env.rx.status.set('/acme', 200);
    const card = ui.page.locator('section[data-target="acme-ep"]');
    await card.getByRole('button', { name: 'Retry delivery to acme-ep' }).click();
    await card.getByRole('heading', { name: /delivered/ }).waitFor();
    await ui.page.goto(`${ui.env.base}/console/#/messages/${globexMessage}`);
    assert.match(await ui.page.getByRole('alert').innerText(), /HG_PORTAL_SCOPE/);
  });

  test("another tenant's id in the URL is refused", async () => {
    await ui.page.goto(`${ui.env.base}/console/#/tenants/globex/endpoints`);
    const refused = ui.page.getByRole('alert');
    await refused.waitFor();
    assert.match(await refused.innerText(), /HG_PORTAL_SCOPE.*403/s);
    assert.equal(await ui.page.locator('tr[data-endpoint="globex-ep"]').count(), 0, 'no globex endpoint is shown');
    await ui.page.goto(`${ui.env.base}/console/#/endpoints/globex-ep`);
    assert.match(await ui.page.getByRole('alert').innerText(), /HG_PORTAL_SCOPE/);
    await ui.page.goto(`${ui.env.base}/console/#/config`);
    await ui.page.getByRole('heading', { name: 'Not part of the portal' }).waitFor();
  });

  test('an expired or forged portal link asks for a new one', async () => {
    const link = await portalLink('acme');
    // From another document, so the link is a full load and the app starts on it (a goto that only
    // changes the hash of the open console would not restart the app).
    await ui.page.goto('about:blank');
    await ui.page.goto(link.replace(/.$/, (c) => (c === 'A' ? 'B' : 'A')));
    await ui.page.getByText('This portal link has expired or is not valid').waitFor();
    assert.equal(await ui.page.evaluate<string | null>("sessionStorage.getItem('hookgate.token')"), null);
  });

  test('a read-only token sees messages and endpoints but cannot replay, change or reveal', async () => {
    await ui.page.evaluate('sessionStorage.clear()');
    await signIn(ui.page, ui.env.base, READ_TOKEN);
    await ui.page.getByText('read token').waitFor();
    await ui.page.goto(`${ui.env.base}/console/#/messages/${globexMessage}`);
    const retry = ui.page.getByRole('button', { name: 'Resend delivery to globex-ep' });
    await retry.waitFor();
    assert.equal(await retry.isDisabled(), true, 'replay is disabled');
    assert.equal(await ui.page.getByRole('button', { name: 'Retry all failed deliveries' }).isDisabled(), true);
    await ui.page.getByRole('note').filter({ hasText: 'read-only' }).first().waitFor();
    assert.equal(await retry.getAttribute('aria-describedby'), 'read-only-note', 'the disabled button says why');
    await ui.page.goto(`${ui.env.base}/console/#/endpoints/acme-ep`);
    await ui.page.getByRole('heading', { name: 'Endpoint acme-ep', exact: true }).waitFor();
    assert.equal(await ui.page.getByRole('button', { name: 'Pause endpoint' }).isDisabled(), true);
    assert.equal(await ui.page.getByRole('button', { name: 'Reveal secrets' }).count(), 0, 'no reveal for a read token');
    assert.equal(await ui.page.getByRole('button', { name: 'Rotate secret' }).count(), 0);
    await ui.page.getByText('Rotating and revealing secrets needs a write token.').waitFor();
    await ui.page.goto(`${ui.env.base}/console/#/endpoints`);
    await ui.page.locator('tr[data-endpoint="globex-ep"]').waitFor();
    assert.equal(await ui.page.getByRole('link', { name: 'New endpoint' }).count(), 0);
    await ui.page.goto(`${ui.env.base}/console/#/config`);
    assert.equal(await ui.page.getByRole('button', { name: 'Reload config' }).isDisabled(), true);
  });

  test('no request off loopback, no CSP violation, no page error', () => {
    assertClean(ui.watch);
  });
});
