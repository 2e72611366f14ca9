/**
 * The console end to end, in real headless Chromium against a real server (SQLite, local files, the export
 * worker): log in; create a tenant; import a few Synthea patients through the CLI; create a static and a dynamic
 * group; register a client with a key pair generated in the page (its client file downloaded); start an export
 * through the FHIR API with that client and watch its progress reach 100% in the page; cancel a second export from
 * the page; find the first export in the audit view by one of its patients. Screenshots go to test-artifacts/console/.
 */
import { createReadStream } from 'node:fs';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { createGunzip } from 'node:zlib';
import { importJWK, type JWK } from 'jose';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it, type TestContext } from 'vitest';
import { getAccessToken, type TestClient } from './helpers/auth.js';
import { launchBrowser, newPage, screenshot, seriousViolations } from './helpers/browser.js';
import { runFlatfhir } from './helpers/process.js';
import { KICKOFF_HEADERS, startServer, type TestServer } from './helpers/server.js';

const ADMIN = 'console-admin-credential-e2e-0123456';
const T = 'console-e2e';
const FIXTURES = join(import.meta.dirname, 'fixtures', 'synthea-100');
const PATIENTS = 5;

/** The first few Synthea patients and every fixture line that names one of them (plus all Organizations and Practitioners). */
async function fewPatients(dir: string): Promise<string[]> {
  const read = async (file: string): Promise<string[]> => {
    const lines: string[] = [];
    for await (const line of createInterface({ input: createReadStream(join(FIXTURES, file)).pipe(createGunzip()) })) if (line) lines.push(line);
    return lines;
  };
  const patients = (await read('Patient.ndjson.gz')).slice(0, PATIENTS);
  const ids = patients.map((l) => (JSON.parse(l) as { id: string }).id);
  await writeFile(join(dir, 'Patient.ndjson'), `${patients.join('\n')}\n`);
  for (const type of ['Condition', 'Encounter', 'Observation', 'Immunization', 'Procedure', 'Organization', 'Practitioner']) {
    const lines = await read(`${type}.ndjson.gz`);
    const kept = type === 'Organization' || type === 'Practitioner' ? lines : lines.filter((l) => ids.some((id) => l.includes(id)));
    await writeFile(join(dir, `${type}.ndjson`), `${kept.join('\n')}\n`);
  }
  return ids;
}

describe('the console end to end', () => {
  let server: TestServer;
  let browser: Browser;
  let page: Page;
  let dataDir: string;
  let patientIds: string[] = [];
  let clientFile: { clientId: string; tokenUrl: string; fhirBaseUrl: string; scope: string; privateJwk: JWK & { kid: string; alg: 'ES384' } };
  let token = '';
  let firstJob = '';
  let secondJob = '';
  const routes: Record<string, boolean> = {};

  const admin = (path: string) => fetch(`${server.origin}${path}`, { headers: { authorization: `Bearer ${ADMIN}` } });
  /** A step's admin routes must be in the build's OpenAPI description (a renamed route fails here, not silently). */
  const needs = (_ctx: TestContext, ...names: string[]) => {
    for (const n of names) expect(routes[n], `admin route ${n}`).toBe(true);
  };
  const chooseTenant = async () => {
    const field = page.getByLabel('Tenant', { exact: true });
    await field.waitFor();
    if ((await field.evaluate((el) => el.tagName)) === 'SELECT') await field.selectOption(T);
    else await field.fill(T);
  };
  let visits = 0;
  /** Opens a page afresh (a new document, so it loads its data again). */
  const visit = async (name: string) => {
    await page.goto(`/console/?v=${++visits}#/${name}`);
    await page.getByRole('heading', { level: 2 }).first().waitFor();
  };

  beforeAll(async () => {
    server = await startServer({ auth: { adminToken: ADMIN } });
    // Which admin routes this build has, from its OpenAPI description (the console's own routes are always there).
    const openapi = (await (await admin('/admin/openapi.json')).json()) as { paths: Record<string, unknown> };
    for (const [name, path] of [
      ['tenants', '/admin/tenants'],
      ['groups', '/admin/tenants/{tenant}/groups'],
      ['jobs', '/admin/jobs'],
      ['audit', '/admin/audit'],
    ] as const) {
      routes[name] = path in openapi.paths;
    }
    dataDir = await mkdtemp(join(tmpdir(), 'flatfhir-console-e2e-'));
    browser = await launchBrowser();
    page = await newPage(browser, server.origin);
  });
  afterAll(async () => {
    await browser?.close();
    await server?.close();
    if (dataDir) await rm(dataDir, { recursive: true, force: true });
  });

  it('logs in with the admin credential', async () => {
    await page.goto('/console/');
    await page.getByLabel('Admin credential').fill(ADMIN);
    await page.getByRole('button', { name: 'Log in' }).click();
    await page.getByRole('navigation', { name: 'Console pages' }).waitFor();
  });

  it('creates a tenant', async (ctx) => {
    needs(ctx, 'tenants');
    await visit('tenants');
    await page.getByLabel('Tenant id').fill(T);
    await page.getByLabel('Display name').fill('Console test hospital');
    await page.getByRole('button', { name: 'Create tenant' }).click();
    await page.getByRole('rowheader', { name: T, exact: true }).waitFor();
    expect((await admin(`/admin/tenants/${T}`)).status).toBe(200);
  });

  it('imports a few Synthea patients through the CLI, and the tenant page counts them', async () => {
    patientIds = await fewPatients(dataDir);
    const run = runFlatfhir(['import', '--tenant', T, '--data', server.dataDir, dataDir]);
    expect(await run.exited, run.stderr()).toBe(0);
    const stored = await server.runtime.store.resources.read(T, 'Patient', patientIds[0] as string);
    expect(stored?.deleted).toBe(false);
    if (routes['tenants']) {
      await visit('tenants');
      const row = page.getByRole('row').filter({ has: page.getByRole('rowheader', { name: T, exact: true }) });
      await expect.poll(async () => (await row.textContent()) ?? '').toMatch(/5 types|[1-9]\d* types/);
      await screenshot(page, 'e2e-tenants');
      expect(await seriousViolations(page)).toEqual([]);
    }
  });

  it('creates a static group from pasted ids and a dynamic group from criteria after a preview', async (ctx) => {
    needs(ctx, 'groups');
    await visit('groups');
    await chooseTenant();
    await page.getByLabel('Group name').fill('First three');
    await page.getByLabel('Patient ids', { exact: true }).fill(patientIds.slice(0, 3).join('\n'));
    await page.getByRole('button', { name: 'Create group' }).click();
    await page.getByRole('rowheader', { name: /First three/ }).waitFor();

    await page.getByLabel('Group name').fill('Women');
    await page.getByLabel('Dynamic: from criteria').check();
    await page.getByLabel(/^Criteria/).fill('Patient?gender=female');
    await page.getByRole('button', { name: 'Preview members' }).click();
    const preview = page.getByRole('status').filter({ hasText: 'patients' });
    await expect.poll(async () => (await preview.textContent()) ?? '').toMatch(/\d+ patients/);
    await screenshot(page, 'e2e-groups-preview');
    await page.getByRole('button', { name: 'Create group' }).click();
    await page.getByRole('rowheader', { name: /Women/ }).waitFor();
    await screenshot(page, 'e2e-groups');
    expect(await seriousViolations(page)).toEqual([]);
  });

  it('registers a client with a key pair generated in the page and offers its client file once', async () => {
    await visit('clients');
    await chooseTenant();
    await page.getByLabel('Name', { exact: true }).fill('Research warehouse');
    await page.getByLabel('Generate a key pair').check();
    const downloaded = page.waitForEvent('download');
    await page.getByRole('button', { name: 'Register client' }).click();
    const download = await downloaded;
    const path = join(dataDir, 'client.json');
    await download.saveAs(path);
    clientFile = JSON.parse(await readFile(path, 'utf8')) as typeof clientFile;
    expect(clientFile.privateJwk.d).toBeTruthy();
    expect(clientFile.fhirBaseUrl).toBe(`${server.origin}/r4/${T}`);
    expect(clientFile.scope).toBe('system/*.rs');
    await page.getByRole('rowheader', { name: /Research warehouse/ }).waitFor();
    const stored = await server.runtime.store.clients.getClient(clientFile.clientId);
    expect(stored?.tenant).toBe(T);
    // The server keeps the public key only.
    expect(JSON.stringify(stored?.jwks)).not.toContain('"d"');
    await screenshot(page, 'e2e-clients');
    expect(await seriousViolations(page)).toEqual([]);
  });

  it('exports with that client through the FHIR API while the page shows the progress reach 100%', async (ctx) => {
    const client: TestClient = {
      clientId: clientFile.clientId,
      privateKey: (await importJWK(clientFile.privateJwk, clientFile.privateJwk.alg)) as TestClient['privateKey'],
      kid: clientFile.privateJwk.kid,
      alg: clientFile.privateJwk.alg,
    };
    token = await getAccessToken(clientFile.tokenUrl, client, clientFile.scope, server.tokenUrl(T));
    const kick = await fetch(`${server.base(T)}/Patient/$export`, { headers: { ...KICKOFF_HEADERS, authorization: `Bearer ${token}` } });
    expect(kick.status).toBe(202);
    firstJob = (kick.headers.get('content-location') ?? '').split('/').pop() as string;
    needs(ctx, 'jobs');
    await visit('exports');
    await chooseTenant();
    const row = page.locator(`tr[data-job="${firstJob}"]`);
    await expect.poll(async () => (await row.locator('.progress-text').textContent()) ?? '', { timeout: 30_000 }).toBe('100%');
    await row.getByText('completed').waitFor();
    await row.getByRole('button', { name: /Details/ }).click();
    await page.getByRole('button', { name: 'Open manifest' }).click();
    await expect.poll(async () => (await page.getByLabel('Manifest').textContent()) ?? '').toContain('"transactionTime"');
    await screenshot(page, 'e2e-exports');
    expect(await seriousViolations(page)).toEqual([]);
  });

  it('cancels a second export from the page', async (ctx) => {
    needs(ctx, 'jobs');
    // With the worker stopped the job stays in progress until cancelled.
    await server.runtime.worker.stop();
    const kick = await fetch(`${server.base(T)}/Patient/$export?_type=Patient`, { headers: { ...KICKOFF_HEADERS, authorization: `Bearer ${token}` } });
    expect(kick.status).toBe(202);
    const second = (kick.headers.get('content-location') ?? '').split('/').pop() as string;
    secondJob = second;
    const row = page.locator(`tr[data-job="${second}"]`);
    await row.getByText('in-progress').waitFor();
    await row.getByRole('button', { name: /Cancel job/ }).click();
    await screenshot(page, 'e2e-exports-cancel');
    await page.getByRole('button', { name: 'Cancel the job' }).click();
    await page.getByRole('status').filter({ hasText: `Export job ${second} cancelled.` }).waitFor();
    // Cancelled: its files removed and its client's status URL 404; the job stays listed as deleted until the
    // retention sweep purges it (then it leaves the list).
    await expect.poll(async () => (await row.count()) === 0 || ((await row.textContent()) ?? '').includes('deleted')).toBe(true);
    expect((await server.runtime.store.jobs.getJob(second))?.status ?? 'purged').toMatch(/^(deleted|purged)$/);
    const status = await fetch(kick.headers.get('content-location') as string, { headers: { authorization: `Bearer ${token}` } });
    expect(status.status).toBe(404);
  });

  it('finds the first export in the audit view by one of its patients', async (ctx) => {
    needs(ctx, 'audit', 'jobs');
    await visit('audit');
    await chooseTenant();
    await page.getByLabel('Patient id', { exact: true }).fill(patientIds[1] as string);
    await page.getByRole('button', { name: 'Search' }).click();
    await page.locator(`tr[data-job="${firstJob}"]`).waitFor();
    await screenshot(page, 'e2e-audit');
    expect(await seriousViolations(page)).toEqual([]);
  });

  it("shows the client's last token and last export", async () => {
    await visit('clients');
    await chooseTenant();
    const row = page.locator(`tr[data-client="${clientFile.clientId}"]`);
    // The last accepted kick-off is the second (cancelled) export.
    await expect.poll(async () => (await row.textContent()) ?? '').toContain(secondJob.slice(0, 8));
    const cells = await row.locator('td').allTextContents();
    expect(cells[2]).toMatch(/^\d{4}-\d{2}-\d{2} /);
    await screenshot(page, 'e2e-clients-activity');
  });

  it('removes a tenant after a confirmation that names what goes', async (ctx) => {
    needs(ctx, 'tenants');
    const created = await fetch(`${server.origin}/admin/tenants`, {
      method: 'POST',
      headers: { authorization: `Bearer ${ADMIN}`, 'content-type': 'application/json' },
      body: JSON.stringify({ id: 'scratch', name: 'Scratch' }),
    });
    expect(created.status).toBe(201);
    await visit('tenants');
    await page.getByRole('button', { name: 'Remove tenant scratch' }).click();
    const dialog = page.getByRole('dialog', { name: 'Remove tenant scratch?' });
    await expect.poll(async () => (await dialog.textContent()) ?? '').toContain('0 client applications');
    await screenshot(page, 'e2e-tenants-remove');
    await dialog.getByRole('button', { name: 'Cancel' }).click();
    expect((await admin('/admin/tenants/scratch')).status).toBe(200);
    await page.getByRole('button', { name: 'Remove tenant scratch' }).click();
    await dialog.getByRole('button', { name: /^Remove scratch/ }).click();
    await page.getByRole('status').filter({ hasText: 'Tenant scratch removed.' }).waitFor();
    expect((await admin('/admin/tenants/scratch')).status).toBe(404);
    await expect.poll(() => page.getByRole('rowheader', { name: 'scratch', exact: true }).count()).toBe(0);
  });

  it('shows the export on the dashboard', async () => {
    await visit('dashboard');
    await chooseTenant();
    const finished = page.locator('.card').filter({ hasText: 'exports finished' });
    await expect.poll(async () => (await finished.locator('.value').textContent()) ?? '', { timeout: 20_000 }).toBe('1');
    const bars = await page.locator('svg.chart rect.bar').count();
    expect(bars).toBe(24);
    await screenshot(page, 'e2e-dashboard');
    expect(await seriousViolations(page)).toEqual([]);
  });
});
