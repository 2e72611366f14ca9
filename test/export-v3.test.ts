/**
 * Bulk Data v3 (STU3) options of the export, checked against the synthea-100 population: expectations are
 * computed here from the fixture files themselves (references read from the JSON), not from the server's code.
 */
import { join } from 'node:path';
import { readFileSync } from 'node:fs';
import { gunzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { importPaths } from '../src/import/importer.js';
import { auth, download, KICKOFF_HEADERS, parseNdjson, startServer, type TestServer, waitForJob } from './helpers/server.js';

const TENANT = 'v3-tenant';
const SYNTHEA = join(import.meta.dirname, 'fixtures', 'synthea-100');
/** A subset of synthea-100 small enough for a quick test: 100 patients and about 6,000 resources. */
const TYPES = ['Patient', 'Condition', 'AllergyIntolerance', 'Immunization', 'CareTeam', 'Device', 'Practitioner', 'Organization'];

type R = Record<string, unknown> & { resourceType: string; id: string };
const fixture = new Map<string, R[]>(
  TYPES.map((t) => [t, parseNdjson(gunzipSync(readFileSync(join(SYNTHEA, `${t}.ndjson.gz`))).toString('utf8')) as R[]]),
);

let server: TestServer;
let token: string;
let base: string;

beforeAll(async () => {
  // Small files, chunks and manifest pages, so a few thousand resources make many of each.
  server = await startServer({ export: { manifestPageFiles: 3, maxFileResources: 150, chunkResources: 400 } });
  const result = await importPaths({
    resources: server.runtime.store.resources,
    tenant: TENANT,
    paths: TYPES.map((t) => join(SYNTHEA, `${t}.ndjson.gz`)),
    maxGroupMembers: 100,
  });
  expect(result.rejectedCount).toBe(0);
  token = (await server.client(TENANT)).token;
  base = server.base(TENANT);
}, 60_000);

afterAll(async () => {
  await server?.close();
});

const kickoff = async (url: string, headers: Record<string, string> = {}, init: RequestInit = {}): Promise<Response> =>
  fetch(url, { ...init, headers: { ...KICKOFF_HEADERS, ...auth(token), ...headers } });

/** Polls a status URL of a job kicked off with separate-export-status until X-Export-Status is no longer 202. */
async function waitSeparate(statusUrl: string): Promise<Response> {
  const deadline = Date.now() + 60_000;
  for (;;) {
    const r = await fetch(statusUrl, { headers: auth(token) });
    if (r.headers.get('x-export-status') !== '202 Accepted' || Date.now() > deadline) return r;
    await r.arrayBuffer();
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
}

const ids = (list: R[]): string[] => list.map((r) => r.id).sort();

describe('Prefer: respond-async, separate-export-status', () => {
  it('applies the preference at kick-off; status answers 200 with the job status in X-Export-Status', async () => {
    const kick = await kickoff(`${base}/Patient/$export?_type=Patient,AllergyIntolerance`, { prefer: 'respond-async, separate-export-status' });
    expect(kick.status).toBe(202);
    const applied = (kick.headers.get('preference-applied') ?? '').split(',').map((v) => v.trim()).sort();
    expect(applied).toEqual(['respond-async', 'separate-export-status']);
    const statusUrl = kick.headers.get('content-location') as string;
    // The first poll comes while the job is in progress (it shows so for a second at least).
    const first = await fetch(statusUrl, { headers: auth(token) });
    await first.arrayBuffer();
    expect(first.status).toBe(200);
    expect(first.headers.get('x-export-status')).toBe('202 Accepted');
    expect(first.headers.get('retry-after')).toMatch(/^\d+$/);
    const done = await waitSeparate(statusUrl);
    expect(done.status).toBe(200);
    expect(done.headers.get('x-export-status')).toBe('200 OK');
    const manifest = (await done.json()) as { output: { type: string; url: string }[] };
    const allergies: R[] = [];
    for (const o of manifest.output.filter((f) => f.type === 'AllergyIntolerance')) allergies.push(...(parseNdjson((await download(o.url, token)).text) as R[]));
    expect(ids(allergies)).toEqual(ids(fixture.get('AllergyIntolerance') ?? []));
  });

  it('is accepted as a repeated Prefer header too', async () => {
    const headers = new Headers({ ...KICKOFF_HEADERS, ...auth(token) });
    headers.append('prefer', 'separate-export-status');
    const kick = await fetch(`${base}/Patient/$export?_type=Device`, { headers });
    expect(kick.status).toBe(202);
    expect(kick.headers.get('preference-applied')).toContain('separate-export-status');
    const done = await waitSeparate(kick.headers.get('content-location') as string);
    expect(done.status).toBe(200);
    expect(done.headers.get('x-export-status')).toBe('200 OK');
  });

  it('a failed job answers 200 with X-Export-Status 500 and an OperationOutcome; without the preference, 500 as before', async () => {
    // No worker: each job stays in progress until failed here the way a worker fails it.
    const idle = await startServer({}, { worker: false });
    try {
      await idle.runtime.store.resources.ensureTenant(TENANT);
      const idleToken = (await idle.client(TENANT)).token;
      for (const prefer of ['respond-async, separate-export-status', 'respond-async']) {
        const kick = await fetch(`${idle.base(TENANT)}/Patient/$export?_type=Device`, { headers: { ...KICKOFF_HEADERS, ...auth(idleToken), prefer } });
        expect(kick.status).toBe(202);
        const statusUrl = kick.headers.get('content-location') as string;
        const jobId = statusUrl.split('/').pop() as string;
        expect(await idle.runtime.store.jobs.finishJob(jobId, 'failed', Date.now(), 'a chunk failed for good')).toBe(true);
        const r = await fetch(statusUrl, { headers: auth(idleToken) });
        expect(r.headers.get('content-type')).toMatch(/^application\/fhir\+json/);
        const body = (await r.json()) as { resourceType: string; issue: { diagnostics: string }[] };
        expect(body.resourceType).toBe('OperationOutcome');
        expect(body.issue[0]?.diagnostics).toContain('a chunk failed for good');
        if (prefer.includes('separate')) {
          expect(r.status).toBe(200);
          expect(r.headers.get('x-export-status')).toBe('500 Internal Server Error');
        } else {
          expect(r.status).toBe(500);
          expect(r.headers.get('x-export-status')).toBeNull();
        }
      }
    } finally {
      await idle.close();
    }
  });

  it('without the preference: no Preference-Applied, no X-Export-Status, 202 while running', async () => {
    const kick = await kickoff(`${base}/Patient/$export?_type=Device`);
    expect(kick.headers.get('preference-applied')).toBeNull();
    const { first, response } = await waitForJob(kick.headers.get('content-location') as string, token);
    expect(first.status).toBe(202);
    expect(first.headers.get('x-export-status')).toBeNull();
    expect(response.headers.get('x-export-status')).toBeNull();
  });
});

interface Page {
  output: { type: string; url: string; count: number }[];
  error: { url: string }[];
  link?: { relation: string; url: string }[];
  transactionTime: string;
  request: string;
}

/** The fixture's resources of a type in some patient's compartment (a reference to Patient/… in its JSON). */
const inCompartments = (type: string): R[] => (fixture.get(type) ?? []).filter((r) => type === 'Patient' || JSON.stringify(r).includes('"reference":"Patient/'));

describe('allowPartialManifests', () => {
  it('pages the manifest; a page once returned never changes; the pages together hold every resource once', async () => {
    const types = ['Patient', 'Condition', 'Immunization', 'CareTeam'];
    const kick = await kickoff(`${base}/Patient/$export?_type=${types.join(',')}&allowPartialManifests=true`);
    expect(kick.status).toBe(202);
    const statusUrl = kick.headers.get('content-location') as string;
    const first = new Map<string, string>();
    const pageUrls = [statusUrl];
    const downloaded = new Map<string, R[]>();
    const deadline = Date.now() + 60_000;
    for (let finished = false; !finished; ) {
      expect(Date.now()).toBeLessThan(deadline);
      for (const url of [...pageUrls]) {
        const r = await fetch(url, { headers: auth(token, { accept: 'application/json' }) });
        const text = await r.text();
        if (r.status === 202 && text === '') continue;
        expect([200, 202]).toContain(r.status);
        const page = JSON.parse(text) as Page;
        const { link, ...body } = page;
        const before = first.get(url);
        if (before === undefined) {
          first.set(url, JSON.stringify(body));
          expect(page.output.length).toBeLessThanOrEqual(3);
          // Files are readable as soon as a page lists them.
          for (const o of page.output) downloaded.set(o.url, parseNdjson((await download(o.url, token)).text) as R[]);
        } else {
          expect(JSON.stringify(body), url).toBe(before);
        }
        const next = link?.find((l) => l.relation === 'next')?.url;
        if (next && !pageUrls.includes(next)) pageUrls.push(next);
        if (r.status === 200 && !next) finished = true;
      }
      await new Promise((r) => setTimeout(r, 100));
    }
    expect(pageUrls.length).toBeGreaterThan(2);
    for (const [k, url] of pageUrls.entries()) if (k > 0) expect(url).toBe(`${statusUrl}/manifests/${k}`);
    // After completion every page answers 200 with what it held when first returned.
    const finalOutputs: string[] = [];
    for (const url of pageUrls) {
      const r = await fetch(url, { headers: auth(token) });
      expect(r.status).toBe(200);
      const { link: _link, ...body } = (await r.json()) as Page;
      expect(JSON.stringify(body)).toBe(first.get(url));
      finalOutputs.push(...body.output.map((o) => o.url));
    }
    expect(new Set(finalOutputs).size).toBe(finalOutputs.length);
    expect([...downloaded.keys()].sort()).toEqual([...finalOutputs].sort());
    const all = [...downloaded.values()].flat();
    for (const type of types) {
      expect(ids(all.filter((r) => r.resourceType === type)), type).toEqual(ids(inCompartments(type)));
    }
    // Beyond the last page: nothing.
    expect((await fetch(`${statusUrl}/manifests/${pageUrls.length}`, { headers: auth(token) })).status).toBe(404);
    expect((await fetch(`${statusUrl}/manifests/x`, { headers: auth(token) })).status).toBe(404);
  });

  it('is read from a POSTed Parameters valueBoolean; false leaves the manifest whole', async () => {
    const body = (value: boolean) =>
      JSON.stringify({
        resourceType: 'Parameters',
        parameter: [
          { name: '_type', valueString: 'Condition' },
          { name: 'allowPartialManifests', valueBoolean: value },
        ],
      });
    for (const value of [true, false]) {
      const kick = await kickoff(`${base}/Patient/$export`, { 'content-type': 'application/fhir+json' }, { method: 'POST', body: body(value) });
      expect(kick.status).toBe(202);
      const statusUrl = kick.headers.get('content-location') as string;
      let page = (await (await waitForJob(statusUrl, token)).response.json()) as Page;
      const files = [...page.output];
      let pages = 1;
      while (page.link) {
        page = (await (await waitForJob(page.link[0]?.url as string, token)).response.json()) as Page;
        files.push(...page.output);
        pages++;
      }
      // 639 Conditions in files of at most 150: more than 3 files, so more than one page of 3 when allowed.
      expect(files.reduce((n, f) => n + f.count, 0)).toBe(inCompartments('Condition').length);
      expect(files.length).toBeGreaterThan(3);
      expect(pages).toBe(value ? Math.floor(files.length / 3) + 1 : 1);
    }
  });

  it('a failed export answers an OperationOutcome on the next link; the pages returned before stay', async () => {
    const idle = await startServer({ export: { manifestPageFiles: 2 } }, { worker: false });
    try {
      await idle.runtime.store.resources.ensureTenant(TENANT);
      const idleToken = (await idle.client(TENANT)).token;
      const kick = await fetch(`${idle.base(TENANT)}/$export?allowPartialManifests=true`, { headers: { ...KICKOFF_HEADERS, ...auth(idleToken) } });
      const statusUrl = kick.headers.get('content-location') as string;
      const jobId = statusUrl.split('/').pop() as string;
      const jobs = idle.runtime.store.jobs;
      // A worker's moves: plan two chunks, commit the first with three files, then the second fails for good.
      const at = Date.now();
      const lease = { owner: 'test-worker', until: at + 60_000 };
      await jobs.claimChunk(jobId, 0, lease, at);
      const planned = await jobs.completePlan(jobId, 0, [1, 2].map(() => ({ type: 'Patient', slice: { mode: 'ids' }, estimate: 10 })), 20, at);
      const [one] = planned?.seqs ?? [];
      await jobs.claimChunk(jobId, one as number, lease, at);
      const file = (part: number) => ({ id: `${jobId}-p-${part}`, kind: 'output' as const, type: 'Patient', part, objectKey: `jobs/${jobId}/x-${part}`, count: 1, bytes: 10 });
      await jobs.completeChunk(jobId, one as number, [file(0), file(1), file(2)], 3, at);
      const get = (url: string) => fetch(url, { headers: auth(idleToken) });
      const running = await get(statusUrl);
      expect(running.status).toBe(202);
      const page0 = (await running.json()) as Page;
      expect(page0.output.map((o) => o.url)).toEqual([0, 1].map((p) => `${idle.base(TENANT)}/bulk-export/files/${jobId}-p-${p}`));
      expect(page0.link).toEqual([{ relation: 'next', url: `${statusUrl}/manifests/1` }]);
      const pending = await get(`${statusUrl}/manifests/1`);
      expect(pending.status).toBe(202);
      expect(await pending.text()).toBe('');
      expect(await jobs.finishJob(jobId, 'failed', Date.now(), 'a chunk failed for good')).toBe(true);
      const after = await get(statusUrl);
      expect(after.status).toBe(200);
      expect(await after.json()).toEqual(page0);
      const failed = await get(`${statusUrl}/manifests/1`);
      expect(failed.status).toBe(500);
      expect(((await failed.json()) as { resourceType: string }).resourceType).toBe('OperationOutcome');
      expect((await get(`${statusUrl}/manifests/2`)).status).toBe(404);
    } finally {
      await idle.close();
    }
  });
});

interface Block {
  patient: string;
  resources: R[];
}

/** Reads organized files (in manifest order) into blocks, joining a block continued in the next file. */
function readBlocks(files: { url: string; continuesInFile?: string; lines: R[] }[]): Block[] {
  const blocks: Block[] = [];
  files.forEach((file, i) => {
    const header = file.lines[0] as { resourceType: string; parameter?: { name: string; valueReference?: { reference: string } }[] };
    expect(header.resourceType, `${file.url} starts with a header`).toBe('Parameters');
    let current: Block | undefined;
    for (const line of file.lines) {
      const h = line as unknown as { resourceType: string; parameter?: { name: string; valueReference?: { reference: string } }[] };
      if (h.resourceType === 'Parameters') {
        expect(h.parameter?.[0]?.name).toBe('header');
        const patient = (h.parameter?.[0]?.valueReference?.reference ?? '').replace(/^Patient\//, '');
        const previous = blocks[blocks.length - 1];
        // The first header of a file repeats the last block of the file before exactly when that one says it continues here.
        const continued = current === undefined && i > 0 && files[i - 1]?.continuesInFile === file.url;
        if (continued) {
          expect(previous?.patient).toBe(patient);
          current = previous;
        } else {
          current = { patient, resources: [] };
          blocks.push(current);
        }
        continue;
      }
      current?.resources.push(line);
    }
  });
  return blocks;
}

describe('organizeOutputBy=Patient', () => {
  it("writes blocks, each one patient's compartment with what it references, continuing across files where the manifest says so", async () => {
    const types = ['Patient', 'Condition', 'AllergyIntolerance', 'Immunization', 'CareTeam', 'Practitioner', 'Organization'];
    const kick = await kickoff(`${base}/Patient/$export?_type=${types.join(',')}&organizeOutputBy=Patient`);
    expect(kick.status).toBe(202);
    const { response } = await waitForJob(kick.headers.get('content-location') as string, token);
    const manifest = (await response.json()) as { outputOrganizedBy?: string; output: { type?: string; url: string; count: number; continuesInFile?: string }[] };
    expect(manifest.outputOrganizedBy).toBe('Patient');
    const files: { url: string; continuesInFile?: string; lines: R[] }[] = [];
    for (const o of manifest.output) {
      expect(o).not.toHaveProperty('type');
      const lines = parseNdjson((await download(o.url, token)).text) as R[];
      // count is of resources: the headers are not counted.
      expect(lines.filter((l) => l.resourceType !== 'Parameters').length).toBe(o.count);
      expect(lines.length).toBeLessThanOrEqual(150);
      files.push({ url: o.url, lines, ...(o.continuesInFile ? { continuesInFile: o.continuesInFile } : {}) });
    }
    // Forced by 150-line files: some blocks span two files, and each names a file of the manifest.
    const continuing = manifest.output.filter((o) => o.continuesInFile);
    expect(continuing.length).toBeGreaterThan(0);
    for (const o of continuing) expect(manifest.output.map((f) => f.url)).toContain(o.continuesInFile);

    const blocks = readBlocks(files);
    const patients = ids(fixture.get('Patient') ?? []);
    expect(blocks.map((b) => b.patient).sort()).toEqual(patients);
    const byId = new Map([...fixture.values()].flat().map((r) => [`${r.resourceType}/${r.id}`, r]));
    for (const block of blocks) {
      const p = block.patient;
      const compartment = types
        .filter((t) => t !== 'Practitioner' && t !== 'Organization')
        .flatMap((t) => (fixture.get(t) ?? []).filter((r) => (t === 'Patient' ? r.id === p : JSON.stringify(r).includes(`"reference":"Patient/${p}"`))));
      const referenced = new Set<string>();
      for (const r of compartment) {
        for (const m of JSON.stringify(r).matchAll(/"reference":"((?:Practitioner|Organization)\/[^"]+)"/g)) if (byId.has(m[1] as string)) referenced.add(m[1] as string);
      }
      const expected = [...compartment.map((r) => `${r.resourceType}/${r.id}`), ...referenced].sort();
      const got = block.resources.map((r) => `${r.resourceType}/${r.id}`);
      expect(got.sort(), `block of ${p}`).toEqual(expected);
      // The Patient comes first in its block.
      expect(block.resources[0]?.resourceType === 'Patient' && block.resources[0]?.id === p).toBe(true);
    }
  });

  it('puts a resource of two members in both blocks, and the Provenance of a block resource in that block', async () => {
    const { belongsTo, fixtureResources, GROUP_MEMBERS, writeNdjson } = await import('./fixtures/population.js');
    const { mkdtemp, rm } = await import('node:fs/promises');
    const { tmpdir } = await import('node:os');
    const other = await startServer();
    try {
      const dir = await mkdtemp(join(tmpdir(), 'flatfhir-fixture-'));
      const population = fixtureResources();
      await writeNdjson(dir, population);
      await importPaths({ resources: other.runtime.store.resources, tenant: TENANT, paths: [dir], maxGroupMembers: 100 });
      await rm(dir, { recursive: true });
      const otherToken = (await other.client(TENANT)).token;
      const types = ['Patient', 'Condition', 'Observation', 'Provenance'];
      const kick = await fetch(`${other.base(TENANT)}/Group/grp-main/$export?_type=${types.join(',')}&organizeOutputBy=Patient`, {
        headers: { ...KICKOFF_HEADERS, ...auth(otherToken) },
      });
      const manifest = (await (await waitForJob(kick.headers.get('content-location') as string, otherToken)).response.json()) as {
        output: { url: string; continuesInFile?: string }[];
      };
      const files = [];
      for (const o of manifest.output) files.push({ url: o.url, lines: parseNdjson((await download(o.url, otherToken)).text) as R[], ...(o.continuesInFile ? { continuesInFile: o.continuesInFile } : {}) });
      const blocks = readBlocks(files);
      expect(blocks.map((b) => b.patient).sort()).toEqual([...GROUP_MEMBERS].sort());
      for (const block of blocks) {
        const compartment = population.filter((r) => types.includes(r.resourceType) && r.resourceType !== 'Provenance' && belongsTo(r, block.patient));
        const inBlock = new Set(compartment.map((r) => `${r.resourceType}/${r.id}`));
        const provenance = population.filter(
          (r) => r.resourceType === 'Provenance' && ((r['target'] as { reference: string }[]) ?? []).some((t) => inBlock.has(t.reference)),
        );
        expect(block.resources.map((r) => `${r.resourceType}/${r.id}`).sort(), block.patient).toEqual([...inBlock, ...provenance.map((r) => `Provenance/${r.id}`)].sort());
      }
      // obs-shared (in the compartments of two members) is in both blocks; prov-old and prov-new in pat-1's.
      expect(blocks.filter((b) => b.resources.some((r) => r.id === 'obs-shared')).length).toBe(2);
      expect(blocks.find((b) => b.patient === 'pat-1')?.resources.filter((r) => r.resourceType === 'Provenance').map((r) => r.id).sort()).toEqual(['prov-new', 'prov-old']);
    } finally {
      await other.close();
    }
  });

  it('is refused for another type, and ignored with Prefer: handling=lenient', async () => {
    const refused = await kickoff(`${base}/Patient/$export?_type=Device&organizeOutputBy=Encounter`);
    expect(refused.status).toBe(400);
    expect(((await refused.json()) as { issue: { diagnostics: string }[] }).issue[0]?.diagnostics).toContain('organizeOutputBy');
    const lenient = await kickoff(`${base}/Patient/$export?_type=Device&organizeOutputBy=Encounter`, { prefer: 'respond-async, handling=lenient' });
    expect(lenient.status).toBe(202);
    const { response } = await waitForJob(lenient.headers.get('content-location') as string, token);
    const manifest = (await response.json()) as { outputOrganizedBy?: string; output: { type: string }[] };
    expect(manifest.outputOrganizedBy).toBeUndefined();
    expect(manifest.output.map((o) => o.type)).toEqual(['Device']);
  });
});

describe('manifest extension', () => {
  it('names the version of the group a Group export read and its active members; other exports carry none', async () => {
    const members = ids(fixture.get('Patient') ?? []).slice(0, 7);
    const group = { resourceType: 'Group', id: 'v3-cohort', type: 'person', actual: true, member: members.map((p) => ({ entity: { reference: `Patient/${p}` } })) };
    const { prepareResource } = await import('../src/fhir/prepare.js');
    const resources = server.runtime.store.resources;
    await resources.writeBatch(TENANT, [prepareResource(group)]);
    await resources.writeBatch(TENANT, [prepareResource({ ...group, member: [...group.member, { entity: { reference: `Patient/${ids(fixture.get('Patient') ?? [])[7]}` }, inactive: true }] })]);
    const kick = await kickoff(`${base}/Group/v3-cohort/$export?_type=Patient`);
    const manifest = (await (await waitForJob(kick.headers.get('content-location') as string, token)).response.json()) as {
      extension?: Record<string, { reference: string; activeMembers: number }>;
      output: { count: number }[];
    };
    expect(manifest.extension).toEqual({ 'urn:flatfhir:manifest:group': { reference: 'Group/v3-cohort/_history/2', activeMembers: 7 } });
    expect(manifest.output.reduce((n, o) => n + o.count, 0)).toBe(7);
    const system = await kickoff(`${base}/$export?_type=Device`);
    const other = (await (await waitForJob(system.headers.get('content-location') as string, token)).response.json()) as object;
    expect(other).not.toHaveProperty('extension');
  });
});

describe('manifest extension across group versions', () => {
  it('counts the members of the version each export read, the same version twice and a new version once it is stored', async () => {
    const all = ids(fixture.get('Patient') ?? []);
    const group = { resourceType: 'Group', id: 'v3-versions', type: 'person', actual: true, member: all.slice(0, 5).map((p) => ({ entity: { reference: `Patient/${p}` } })) };
    const { prepareResource } = await import('../src/fhir/prepare.js');
    const resources = server.runtime.store.resources;
    const exported = async (): Promise<{ reference: string; activeMembers: number }> => {
      const kick = await kickoff(`${base}/Group/v3-versions/$export?_type=Patient`);
      const manifest = (await (await waitForJob(kick.headers.get('content-location') as string, token)).response.json()) as {
        extension: Record<string, { reference: string; activeMembers: number }>;
      };
      await fetch(kick.headers.get('content-location') as string, { method: 'DELETE', headers: auth(token) });
      return manifest.extension['urn:flatfhir:manifest:group'] as { reference: string; activeMembers: number };
    };
    await resources.writeBatch(TENANT, [prepareResource(group)]);
    const first = await exported();
    expect(await exported()).toEqual(first);
    await resources.writeBatch(TENANT, [prepareResource({ ...group, member: group.member.slice(0, 3) })]);
    const second = await exported();
    expect([first, second]).toEqual([
      { reference: 'Group/v3-versions/_history/1', activeMembers: 5 },
      { reference: 'Group/v3-versions/_history/2', activeMembers: 3 },
    ]);
    // A member whose period has ended by the export's snapshot is not counted.
    await resources.writeBatch(TENANT, [prepareResource({ ...group, member: [...group.member.slice(0, 3), { entity: { reference: `Patient/${all[5]}` }, period: { end: '2001-01-01' } }] })]);
    expect(await exported()).toEqual({ reference: 'Group/v3-versions/_history/3', activeMembers: 3 });
  });
});

describe('ready for STU4', () => {
  const MAX = 65_536;

  it('_maximumFileSize: no file is larger, patient blocks continue across files where the manifest says, nothing is lost', async () => {
    const types = ['Patient', 'Condition', 'Immunization'];
    for (const organized of [false, true]) {
      const kick = await kickoff(`${base}/Patient/$export?_type=${types.join(',')}&_maximumFileSize=${MAX}${organized ? '&organizeOutputBy=Patient' : ''}`);
      expect(kick.status).toBe(202);
      const manifest = (await (await waitForJob(kick.headers.get('content-location') as string, token)).response.json()) as {
        output: { type?: string; url: string; count: number; fileSize: number; continuesInFile?: string }[];
        error: unknown[];
      };
      expect(manifest.error).toEqual([]);
      const files: { url: string; continuesInFile?: string; lines: R[] }[] = [];
      for (const o of manifest.output) {
        const { text } = await download(o.url, token);
        expect(Buffer.byteLength(text)).toBe(o.fileSize);
        expect(o.fileSize).toBeLessThanOrEqual(MAX);
        files.push({ url: o.url, lines: parseNdjson(text) as R[], ...(o.continuesInFile ? { continuesInFile: o.continuesInFile } : {}) });
      }
      const all = organized ? readBlocks(files).flatMap((b) => b.resources) : files.flatMap((f) => f.lines);
      for (const type of types) expect(ids(all.filter((r) => r.resourceType === type)), type).toEqual(ids(inCompartments(type)));
      if (organized) {
        expect(manifest.output.some((o) => o.continuesInFile)).toBe(true);
        expect(readBlocks(files).map((b) => b.patient).sort()).toEqual(ids(fixture.get('Patient') ?? []));
      }
    }
  });

  it('_maximumFileSize and _minimumFileSize outside the fixed bounds are refused', async () => {
    for (const q of ['_maximumFileSize=1000', '_maximumFileSize=big', '_minimumFileSize=99999999999', `_maximumFileSize=${MAX}&_minimumFileSize=${MAX + 1}`]) {
      const r = await kickoff(`${base}/Patient/$export?_type=Device&${q}`);
      expect(r.status, q).toBe(400);
      expect(((await r.json()) as { resourceType: string }).resourceType).toBe('OperationOutcome');
    }
    // Above the server's own bound: accepted (files stay within the server's bound).
    const big = await kickoff(`${base}/Patient/$export?_type=Device&_maximumFileSize=${10 ** 12}&_minimumFileSize=1`);
    expect(big.status).toBe(202);
    await waitForJob(big.headers.get('content-location') as string, token);
  });

  it('fileSize on every output, error and deleted item, and count on deleted items', async () => {
    const before = new Date(Date.now() - 1000).toISOString();
    const device = (fixture.get('Device') ?? [])[0] as R;
    const resources = server.runtime.store.resources;
    expect(await resources.deleteResource(TENANT, 'Device', device.id)).toBe(true);
    try {
      const kick = await kickoff(`${base}/$export?_type=Device,Condition&_since=${before}&unknown=1`, { prefer: 'respond-async, handling=lenient' });
      const manifest = (await (await waitForJob(kick.headers.get('content-location') as string, token)).response.json()) as Record<
        'output' | 'error' | 'deleted',
        { url: string; count?: number; fileSize: number }[]
      >;
      expect(manifest.deleted).toHaveLength(1);
      expect(manifest.error).toHaveLength(1);
      for (const item of [...manifest.output, ...manifest.error, ...manifest.deleted]) {
        expect(item.fileSize).toBe(Buffer.byteLength((await download(item.url, token)).text));
      }
      const deleted = manifest.deleted[0] as { url: string; count?: number };
      const bundles = parseNdjson((await download(deleted.url, token)).text) as { entry: { request: { url: string } }[] }[];
      expect(deleted.count).toBe(bundles.length);
      expect(bundles.flatMap((b) => b.entry.map((e) => e.request.url))).toEqual([`Device/${device.id}`]);
    } finally {
      const { prepareResource } = await import('../src/fhir/prepare.js');
      await resources.writeBatch(TENANT, [prepareResource(device)]);
    }
  });

  it('includeAssociatedData as a Coding in POST Parameters, as a code', async () => {
    const post = (parameter: object[]) =>
      kickoff(`${base}/Patient/$export`, { 'content-type': 'application/fhir+json' }, { method: 'POST', body: JSON.stringify({ resourceType: 'Parameters', parameter }) });
    const coding = (code: string) => ({ name: 'includeAssociatedData', valueCoding: { system: 'http://hl7.org/fhir/uv/bulkdata/CodeSystem/include-associated-data', code } });
    // Read as the code: without Provenance in _type the request is refused for that reason, an unknown code for its own.
    const noProvenance = await post([{ name: '_type', valueString: 'Patient' }, coding('LatestProvenanceResources')]);
    expect(noProvenance.status).toBe(400);
    expect(((await noProvenance.json()) as { issue: { diagnostics: string }[] }).issue[0]?.diagnostics).toContain('requires _type to include Provenance');
    const unknown = await post([{ name: '_type', valueString: 'Patient,Provenance' }, coding('Nonsense')]);
    expect(unknown.status).toBe(400);
    expect(((await unknown.json()) as { issue: { diagnostics: string }[] }).issue[0]?.diagnostics).toContain('"Nonsense" is not supported');
    const ok = await post([{ name: '_type', valueString: 'Patient,Provenance' }, coding('LatestProvenanceResources')]);
    expect(ok.status).toBe(202);
    await waitForJob(ok.headers.get('content-location') as string, token);
  });

  it('repeated parameters wherever comma lists are accepted (GET and POST), with the same result', async () => {
    const exported = async (kick: Response): Promise<R[]> => {
      expect(kick.status).toBe(202);
      const manifest = (await (await waitForJob(kick.headers.get('content-location') as string, token)).response.json()) as { output: { url: string }[] };
      const out: R[] = [];
      for (const o of manifest.output) out.push(...(parseNdjson((await download(o.url, token)).text) as R[]));
      return out.sort((a, b) => `${a.resourceType}/${a.id}`.localeCompare(`${b.resourceType}/${b.id}`));
    };
    const comma = await exported(await kickoff(`${base}/Patient/$export?_type=Patient,AllergyIntolerance&_elements=gender,code`));
    const repeated = await exported(await kickoff(`${base}/Patient/$export?_type=Patient&_type=AllergyIntolerance&_elements=gender&_elements=code`));
    const posted = await exported(
      await kickoff(
        `${base}/Patient/$export`,
        { 'content-type': 'application/fhir+json' },
        {
          method: 'POST',
          body: JSON.stringify({
            resourceType: 'Parameters',
            parameter: [
              { name: '_type', valueString: 'Patient' },
              { name: '_type', valueString: 'AllergyIntolerance' },
              { name: '_elements', valueString: 'gender' },
              { name: '_elements', valueString: 'code' },
            ],
          }),
        },
      ),
    );
    expect(ids(comma.filter((r) => r.resourceType === 'AllergyIntolerance'))).toEqual(ids(fixture.get('AllergyIntolerance') ?? []));
    expect(ids(comma.filter((r) => r.resourceType === 'Patient'))).toEqual(ids(fixture.get('Patient') ?? []));
    expect(comma.find((r) => r.resourceType === 'Patient')).not.toHaveProperty('name');
    expect(comma.find((r) => r.resourceType === 'Patient')).toHaveProperty('gender');
    expect(repeated).toEqual(comma);
    expect(posted).toEqual(comma);
  });
});
