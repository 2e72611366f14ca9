/**
 * The console's groups in real headless Chromium against a real server: the group detail panel (a static group's
 * members with their state; a dynamic group's criteria and the members they evaluate to now), the groups a client
 * created through the Bulk Cohort API told apart with their criteria and creator, and a client registered with the
 * Bulk Cohort scope (system/Group.cd) that then creates a group. Each view passes axe-core (no serious violation).
 */
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { importJWK, type JWK } from 'jose';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { prepareResource } from '../src/fhir/prepare.js';
import { getAccessToken, type TestClient } from './helpers/auth.js';
import { launchBrowser, newPage, screenshot, seriousViolations } from './helpers/browser.js';
import { auth, startServer, type TestServer } from './helpers/server.js';

const ADMIN = 'console-admin-credential-groups-012';
const T = 'console-groups';
const MEMBER_FILTER = 'http://hl7.org/fhir/uv/bulkdata/StructureDefinition/member-filter';
/** p1…p6: odd ones female, even ones male. */
const PATIENTS = ['p1', 'p2', 'p3', 'p4', 'p5', 'p6'];
const FEMALE = ['p1', 'p3', 'p5'];
const MALE = ['p2', 'p4', 'p6'];

const cohort = (name: string, expression: string): Record<string, unknown> => ({
  resourceType: 'Group',
  name,
  type: 'person',
  actual: false,
  modifierExtension: [{ url: MEMBER_FILTER, valueExpression: { language: 'application/x-fhir-query', expression } }],
});

describe('console groups in Chromium', () => {
  let server: TestServer;
  let browser: Browser;
  let page: Page;
  let dataDir: string;
  let cohortId = '';
  let cohortClient = '';

  const admin = async (path: string, method = 'GET', body?: unknown): Promise<Response> =>
    fetch(`${server.origin}${path}`, {
      method,
      headers: { authorization: `Bearer ${ADMIN}`, ...(body !== undefined ? { 'content-type': 'application/json' } : {}) },
      ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
    });
  const postGroup = (token: string, body: unknown): Promise<Response> =>
    fetch(`${server.base(T)}/Group`, { method: 'POST', headers: auth(token, { 'content-type': 'application/fhir+json' }), body: JSON.stringify(body) });
  const chooseTenant = async (): Promise<void> => {
    const field = page.getByLabel('Tenant', { exact: true });
    await field.waitFor();
    if ((await field.evaluate((el) => el.tagName)) === 'SELECT') await field.selectOption(T);
    else await field.fill(T);
  };
  let visits = 0;
  const visit = async (name: string): Promise<void> => {
    await page.goto(`/console/?v=${++visits}#/${name}`);
    await page.getByRole('heading', { level: 2 }).first().waitFor();
    await chooseTenant();
  };
  const panel = () => page.getByRole('region', { name: /^Group / });
  const row = (name: string | RegExp) => page.getByRole('row').filter({ has: page.getByRole('rowheader', { name }) });

  beforeAll(async () => {
    server = await startServer({ auth: { adminToken: ADMIN } }, { worker: false });
    await server.runtime.store.tenants.createTenant(T, 'Console groups', Date.now());
    await server.runtime.store.resources.writeBatch(
      T,
      PATIENTS.map((id, i) => prepareResource({ resourceType: 'Patient', id, gender: i % 2 === 0 ? 'female' : 'male' })),
    );
    expect((await admin(`/admin/tenants/${T}/groups`, 'POST', { name: 'Ward A', id: 'ward-a', patients: ['p1', 'p2', 'p3'] })).status).toBe(201);
    expect((await admin(`/admin/tenants/${T}/groups/ward-a/members/inactive`, 'POST', { patients: ['p3'], inactive: true })).status).toBe(200);
    expect((await admin(`/admin/tenants/${T}/groups`, 'POST', { name: 'Women', id: 'women', member_filter: ['Patient?gender=female'] })).status).toBe(201);
    const client = await server.client(T, 'system/*.rs system/Group.cd');
    cohortClient = client.clientId;
    const made = await postGroup(client.token, cohort('Men (cohort)', 'Patient?gender=male'));
    expect(made.status).toBe(201);
    cohortId = ((await made.json()) as { id: string }).id;
    dataDir = await mkdtemp(join(tmpdir(), 'flatfhir-console-groups-'));
    browser = await launchBrowser();
    page = await newPage(browser, server.origin);
    await page.goto('/console/');
    await page.getByLabel('Admin credential').fill(ADMIN);
    await page.getByRole('button', { name: 'Log in' }).click();
    await page.getByRole('navigation', { name: 'Console pages' }).waitFor();
  });
  afterAll(async () => {
    await browser?.close();
    await server?.close();
    if (dataDir) await rm(dataDir, { recursive: true, force: true });
  });

  it('lists the groups, marking the one a client created through the Bulk Cohort API, with its criteria', async () => {
    await visit('groups');
    const made = row(/Men \(cohort\)/);
    await made.waitFor();
    const cells = await made.locator('td').allTextContents();
    expect(cells[0]).toBe('dynamicBulk Cohort API');
    expect(cells[2]).toBe('Patient?gender=male');
    const women = await row(/^Women/).locator('td').allTextContents();
    expect(women[0]).toBe('dynamic');
    expect(women[2]).toBe('Patient?gender=female');
    expect(await row(/Ward A/).locator('td').first().textContent()).toBe('static');
    await screenshot(page, 'groups-origin');
    expect(await seriousViolations(page)).toEqual([]);
  });

  it('opens a static group: its members, each with its state, and the member count', async () => {
    await page.getByRole('button', { name: 'Open group Ward A' }).click();
    const p = panel();
    await p.getByRole('table', { name: 'Members' }).waitFor();
    expect(await p.getByRole('heading', { level: 3 }).textContent()).toBe('Group Ward A');
    expect(await p.locator('p').first().textContent()).toMatch(/^static group ward-a, version 2 of .*: 3 members/);
    const members = p.getByRole('table', { name: 'Members' }).getByRole('row');
    expect(await members.count()).toBe(4);
    const rows = await Promise.all(['p1', 'p2', 'p3'].map(async (id) => (await members.filter({ has: page.getByRole('rowheader', { name: id, exact: true }) }).locator('td').allTextContents()).slice(-1)));
    expect(rows).toEqual([['no'], ['no'], ['yes']]);
    // A static group lists no criteria and offers the member changes.
    expect(await p.getByRole('list', { name: 'Membership criteria' }).count()).toBe(0);
    await p.getByRole('button', { name: 'Add members' }).waitFor();
    const history = p.getByRole('list', { name: 'Changes of the group, newest first' });
    await expect.poll(async () => (await history.getByRole('listitem').allTextContents()).map((t) => t.replace(/^[\d-]+ [\d:]+Z: /, ''))).toEqual(['set-inactive (success)', 'create (success) — group ward-a']);
    await screenshot(page, 'group-panel-static');
    expect(await seriousViolations(page)).toEqual([]);
    // A member change from the panel: the table, the history and the stored group follow.
    await p.getByRole('checkbox', { name: 'Select member p2' }).check();
    await p.getByRole('button', { name: 'Mark selected inactive' }).click();
    await p.getByRole('status').filter({ hasText: '1 member(s) marked inactive.' }).waitFor();
    const p2 = members.filter({ has: page.getByRole('rowheader', { name: 'p2', exact: true }) });
    await expect.poll(async () => (await p2.locator('td').allTextContents()).slice(-1)).toEqual(['yes']);
    await expect.poll(async () => (await history.getByRole('listitem').count())).toBe(3);
    const shown = (await (await admin(`/admin/tenants/${T}/groups/ward-a`)).json()) as { version: number; members: { patient: string; inactive: boolean }[] };
    expect(shown.version).toBe(3);
    expect(shown.members.filter((m) => m.inactive).map((m) => m.patient)).toEqual(['p2', 'p3']);
    await p.getByRole('button', { name: 'Close' }).click();
    await expect.poll(() => panel().count()).toBe(0);
  });

  it('opens a dynamic group: its criteria and the members they evaluate to now, with no member changes offered', async () => {
    await page.getByRole('button', { name: 'Open group Women' }).click();
    const p = panel();
    const criteria = p.getByRole('list', { name: 'Membership criteria' });
    await criteria.waitFor();
    expect(await criteria.getByRole('listitem').allTextContents()).toEqual(['Patient?gender=female']);
    await p.getByRole('table', { name: 'Members' }).waitFor();
    expect(await p.locator('p').first().textContent()).toMatch(/^dynamic group women, version 1 of .*: 3 members.*\(criteria evaluated \d{4}-\d{2}-\d{2} /);
    const ids = await p.getByRole('table', { name: 'Members' }).getByRole('rowheader').allTextContents();
    expect(ids.sort()).toEqual(FEMALE);
    expect(await p.getByRole('checkbox').count()).toBe(0);
    expect(await p.getByRole('button', { name: 'Add members' }).count()).toBe(0);
    // Made by the management API, not by a client.
    expect(await p.getByText('Bulk Cohort API').count()).toBe(0);
    await screenshot(page, 'group-panel-dynamic');
    expect(await seriousViolations(page)).toEqual([]);
    await p.getByRole('button', { name: 'Close' }).click();
  });

  it('opens the Bulk Cohort group: which client created it, its criteria and members, and its creation in the history', async () => {
    await page.getByRole('button', { name: 'Open group Men (cohort)' }).click();
    const p = panel();
    await p.getByRole('table', { name: 'Members' }).waitFor();
    expect(await p.getByRole('list', { name: 'Membership criteria' }).getByRole('listitem').allTextContents()).toEqual(['Patient?gender=male']);
    expect((await p.getByRole('table', { name: 'Members' }).getByRole('rowheader').allTextContents()).sort()).toEqual(MALE);
    await expect.poll(async () => (await p.getByText(/^Bulk Cohort API Created by/).textContent()) ?? '').toContain(`client ${cohortClient}`);
    const history = p.getByRole('list', { name: 'Changes of the group, newest first' });
    await expect.poll(async () => (await history.textContent()) ?? '').toContain(`create by client ${cohortClient} (Bulk Cohort API) (success) — Group/${cohortId}`);
    await screenshot(page, 'group-panel-cohort');
    expect(await seriousViolations(page)).toEqual([]);
  });

  it('removes the Bulk Cohort group after a confirmation that says what it is', async () => {
    await page.getByRole('button', { name: 'Remove group Men (cohort)' }).click();
    const dialog = page.getByRole('dialog', { name: 'Remove group Men (cohort)?' });
    expect(await dialog.textContent()).toContain(`Group ${cohortId} and its criteria are removed (a client created it through the Bulk Cohort API); the patients' data stays.`);
    await screenshot(page, 'groups-remove-cohort');
    expect(await seriousViolations(page)).toEqual([]);
    await dialog.getByRole('button', { name: 'Remove group' }).click();
    await page.getByRole('status').filter({ hasText: 'Group Men (cohort) removed.' }).waitFor();
    await expect.poll(() => row(/Men \(cohort\)/).count()).toBe(0);
    expect((await admin(`/admin/tenants/${T}/groups/${cohortId}`)).status).toBe(404);
  });

  it('registers a client with the Bulk Cohort scope, which then creates a group shown as such', async () => {
    await visit('clients');
    await page.getByLabel('Name', { exact: true }).fill('Cohort builder');
    await page.getByLabel('Generate a key pair').check();
    const form = page.getByRole('form', { name: /Register a client application/ });
    await expect.poll(async () => (await form.locator('p').filter({ hasText: 'Scope:' }).textContent()) ?? '').toBe('Scope: system/*.rs');
    await page.getByRole('checkbox', { name: /Bulk Cohort API: create and delete groups/ }).check();
    expect(await form.locator('p').filter({ hasText: 'Scope:' }).textContent()).toBe('Scope: system/*.rs system/Group.cd');
    await page.getByLabel('Patient', { exact: true }).check();
    expect(await form.locator('p').filter({ hasText: 'Scope:' }).textContent()).toBe('Scope: system/Patient.rs system/Group.cd');
    await page.getByLabel('Patient', { exact: true }).uncheck();
    await screenshot(page, 'clients-cohort-scope');
    expect(await seriousViolations(page)).toEqual([]);
    const downloaded = page.waitForEvent('download');
    await page.getByRole('button', { name: 'Register client' }).click();
    const path = join(dataDir, 'client.json');
    await (await downloaded).saveAs(path);
    const file = JSON.parse(await readFile(path, 'utf8')) as { clientId: string; tokenUrl: string; scope: string; privateJwk: JWK & { kid: string; alg: 'ES384' } };
    expect(file.scope).toBe('system/*.rs system/Group.cd');
    expect((await server.runtime.store.clients.getClient(file.clientId))?.scope).toBe('system/*.rs system/Group.cd');
    // The form is ready for the next client, without the grant.
    await page.getByRole('rowheader', { name: /Cohort builder/ }).waitFor();
    expect(await page.getByRole('checkbox', { name: /Bulk Cohort API: create and delete groups/ }).isChecked()).toBe(false);

    const client: TestClient = {
      clientId: file.clientId,
      privateKey: (await importJWK(file.privateJwk, file.privateJwk.alg)) as TestClient['privateKey'],
      kid: file.privateJwk.kid,
      alg: file.privateJwk.alg,
    };
    const token = await getAccessToken(file.tokenUrl, client, 'system/*.rs system/Group.cd', server.tokenUrl(T));
    const made = await postGroup(token, cohort('Everyone (cohort)', 'Patient?gender=female,male'));
    expect(made.status).toBe(201);
    await visit('groups');
    await row(/Everyone \(cohort\)/).waitFor();
    expect(await row(/Everyone \(cohort\)/).locator('td').first().textContent()).toBe('dynamicBulk Cohort API');
  });
});
