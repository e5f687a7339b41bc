/**
 * The console's browser tests drive Debian's chromium (/usr/bin/chromium) with playwright-core.
 * Without it they skip, unless CI is set: then they fail, so a CI machine without the browser
 * cannot pass by running nothing.
 */
import assert from 'node:assert/strict';
import { existsSync, mkdirSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium, type Browser, type Page, type Request } from 'playwright-core';

export const CHROMIUM = '/usr/bin/chromium';
// dist/test/console/browser.js -> the package root.
export const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../../..');
export const WAIT_MS = 15000;

const ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-quic', '--no-first-run', '--disable-component-update', '--disable-sync'];

/** The reason to skip the browser tests, or undefined to run them; throws under CI when chromium is missing. */
export function skipReason(): string | undefined {
  if (existsSync(CHROMIUM)) return undefined;
  const msg = `${CHROMIUM} is missing: install Debian's chromium (apt-get install -y chromium) to run the console's browser tests`;
  if (process.env.CI) throw new Error(`${msg} (CI is set, so this fails instead of skipping)`);
  return msg;
}

/** skipReason(), said once in the test output (naming `what` is skipped) so a skipped run does not look like a pass. */
export function skipBrowserTests(what: string): string | undefined {
  const reason = skipReason();
  if (reason) console.log(`# skipping ${what}: ${reason}`);
  return reason;
}

/** chromium.launch gives each browser a fresh temporary profile (user-data-dir) and removes it on close. */
export function launch(): Promise<Browser> {
  return chromium.launch({ executablePath: CHROMIUM, args: ARGS, headless: true, timeout: 60000 });
}

/** What a page did that the console must never do: leave loopback, break the CSP, throw. */
export interface Watch {
  external: string[];
  cspViolations: string[];
  errors: string[];
}

/** A page that records every non-loopback request, CSP violation and uncaught error. */
export async function watchedPage(browser: Browser): Promise<{ page: Page; watch: Watch }> {
  const context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
  const page = await context.newPage();
  const watch: Watch = { external: [], cspViolations: [], errors: [] };
  page.on('request', (r: Request) => {
    const u = r.url();
    if (u.startsWith('data:') || u.startsWith('blob:')) return;
    const host = new URL(u).hostname;
    if (host !== '127.0.0.1' && host !== 'localhost' && host !== '[::1]') watch.external.push(u);
  });
  page.on('console', (m) => {
    if (/Content Security Policy/i.test(m.text())) watch.cspViolations.push(m.text());
  });
  page.on('pageerror', (e) => watch.errors.push(e.message));
  // Init scripts run through the DevTools protocol, not the page, so the CSP does not apply to them.
  await page.addInitScript({
    content: "document.addEventListener('securitypolicyviolation', (e) => console.error('Content Security Policy violation: ' + e.violatedDirective + ' ' + e.blockedURI));",
  });
  return { page, watch };
}

/** A fresh chromium with one watched page whose waits default to WAIT_MS. Close `browser` when done. */
export async function openWatchedBrowser(): Promise<{ browser: Browser; page: Page; watch: Watch }> {
  const browser = await launch();
  try {
    const { page, watch } = await watchedPage(browser);
    page.setDefaultTimeout(WAIT_MS);
    return { browser, page, watch };
  } catch (e) {
    await browser.close();
    throw e;
  }
}

export function assertClean(watch: Watch): void {
  assert.deepEqual(watch.external, [], 'requests to non-loopback hosts');
  assert.deepEqual(watch.cspViolations, [], 'CSP violations');
  assert.deepEqual(watch.errors, [], 'uncaught page errors');
}

export async function signIn(page: Page, base: string, token: string): Promise<void> {
  await page.goto(`${base}/console/`);
  await page.getByLabel('Admin token').fill(token);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.getByRole('button', { name: 'Sign out' }).waitFor({ timeout: WAIT_MS });
}

/** Screenshots for the README, only with HOOKGATE_SCREENSHOTS=1 (so test runs leave the tree clean). */
export async function screenshot(page: Page, name: string): Promise<void> {
  if (process.env.HOOKGATE_SCREENSHOTS !== '1') return;
  const dir = join(ROOT, 'docs/console');
  mkdirSync(dir, { recursive: true });
  await page.screenshot({ path: join(dir, `${name}.png`), fullPage: true });
}

/** Every button, link, input, select and textarea on the page has an accessible name. */
export async function unnamedControls(page: Page): Promise<string[]> {
  const snapshot = await page.locator('body').ariaSnapshot();
  // Roles of controls that appear in the snapshot without a quoted name.
  const unnamed = snapshot
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => /^- (button|link|textbox|combobox|checkbox|searchbox|spinbutton|radio)(\s*\[[^\]]*\])?\s*(:|$)/.test(l));
  return unnamed;
}

/** Presses Tab until `stop` is reached (or `max` presses) and returns "TAG:text" of each focused element. */
export async function tabUntil(page: Page, stop: string, max = 40): Promise<string[]> {
  const reached: string[] = [];
  for (let i = 0; i < max && !reached.includes(stop); i++) {
    await page.keyboard.press('Tab');
    reached.push(await page.evaluate<string>("`${document.activeElement?.tagName}:${(document.activeElement?.textContent ?? '').trim()}`"));
  }
  return reached;
}
