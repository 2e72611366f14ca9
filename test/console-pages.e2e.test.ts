/**
 * Every console page in real headless Chromium at 1366×768: logs in through the page, opens each page, writes its
 * screenshot to test-artifacts/console/ and checks it with axe-core (no serious or critical violation); keyboard
 * navigation reaches the menu with a visible focus ring.
 */
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { focused, launchBrowser, newPage, screenshot, seriousViolations } from './helpers/browser.js';
import { startServer, type TestServer } from './helpers/server.js';

const ADMIN = 'console-admin-credential-pages-0123';
const PAGES = ['dashboard', 'tenants', 'groups', 'clients', 'exports', 'audit'];

describe('console pages in Chromium', () => {
  let server: TestServer;
  let browser: Browser;
  let page: Page;
  beforeAll(async () => {
    server = await startServer({ auth: { adminToken: ADMIN } }, { worker: false });
    browser = await launchBrowser();
    page = await newPage(browser, server.origin);
  });
  afterAll(async () => {
    await browser?.close();
    await server?.close();
  });

  it('refuses a wrong credential, then logs in', async () => {
    await page.goto('/console/');
    await page.getByLabel('Admin credential').waitFor();
    await screenshot(page, 'login');
    expect(await seriousViolations(page)).toEqual([]);
    await page.getByLabel('Admin credential').fill('wrong-credential-0000');
    await page.getByRole('button', { name: 'Log in' }).click();
    await expect.poll(() => page.getByRole('alert').textContent()).toContain('Invalid admin credential');
    await page.getByLabel('Admin credential').fill(ADMIN);
    await page.keyboard.press('Enter');
    await page.getByRole('navigation', { name: 'Console pages' }).waitFor();
    const cookies = await page.context().cookies();
    const session = cookies.find((c) => c.name === 'flatfhir_console');
    expect(session?.httpOnly).toBe(true);
    expect(session?.sameSite).toBe('Strict');
    // Script on the page cannot read the session cookie.
    expect(await page.evaluate('document.cookie')).not.toContain('flatfhir_console');
  });

  for (const name of PAGES) {
    it(`shows the ${name} page with no serious accessibility violation`, async () => {
      await page.goto(`/console/#/${name}`);
      await page.getByRole('heading', { level: 2 }).first().waitFor();
      await page.waitForLoadState('networkidle');
      await screenshot(page, name);
      expect(await seriousViolations(page)).toEqual([]);
    });
  }

  it('reaches the menu by keyboard with a visible focus ring, and logs out', async () => {
    await page.goto('/console/#/dashboard');
    await page.reload();
    await page.getByRole('navigation', { name: 'Console pages' }).waitFor();
    await page.keyboard.press('Tab');
    expect((await focused(page)).text).toBe('Skip to content');
    await page.keyboard.press('Tab');
    const menu = await focused(page);
    expect(menu).toMatchObject({ text: 'Dashboard', tag: 'a', outlineStyle: 'solid', outlineWidth: '3px' });
    await page.keyboard.press('Tab');
    await page.keyboard.press('Enter');
    await page.getByRole('heading', { level: 2, name: 'Tenants' }).waitFor();
    expect(page.url()).toMatch(/#\/tenants$/);
    await page.getByRole('button', { name: 'Log out' }).click();
    await page.getByLabel('Admin credential').waitFor();
    await page.goto('/console/#/tenants');
    await page.getByLabel('Admin credential').waitFor();
  });
});
