import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { prepareResource } from '../src/fhir/prepare.js';
import { importPaths } from '../src/import/importer.js';
import { belongsTo, fixtureResources, GROUP_MEMBERS, PATIENTS, type R, writeNdjson } from './fixtures/population.js';
import { getAccessToken } from './helpers/auth.js';
import { freshSchema, TEST_DATABASE_URL } from './helpers/postgres.js';
import { auth, download, KICKOFF_HEADERS, parseNdjson, runExport, startServer, type TestServer, waitForJob } from './helpers/server.js';

const TENANT = 'tenant-a';
const OTHER_TENANT = 'tenant-b';
const STORES = [
  { name: 'SQLite', schema: undefined },
  { name: 'PostgreSQL', schema: freshSchema('e2e') },
];
let server: TestServer;
let token: string;
let base: string;
const resources = fixtureResources();

const ids = (list: Record<string, unknown>[] | undefined): string[] => (list ?? []).map((r) => r['id'] as string).sort();
const expectedIds = (type: string, patients: string[]): string[] =>
  resources
    .filter((r) => r.resourceType === type && patients.some((p) => belongsTo(r, p)))
    .map((r) => r.id)
    .sort();

describe.each(STORES)('on $name', ({ schema }) => {
  beforeAll(async () => {
    server = await startServer(schema ? { databaseUrl: `${TEST_DATABASE_URL}?schema=${schema.name}` } : {});
    const dir = await mkdtemp(join(tmpdir(), 'flatfhir-fixture-'));
    await writeNdjson(dir, resources);
    const result = await importPaths({ resources: server.runtime.store.resources, tenant: TENANT, paths: [dir], maxGroupMembers: 100 });
    expect(result.rejectedCount).toBe(0);
    await importPaths({ resources: server.runtime.store.resources, tenant: OTHER_TENANT, paths: [dir], maxGroupMembers: 100 });
    await rm(dir, { recursive: true });
    token = (await server.client(TENANT)).token;
    base = server.base(TENANT);
  });

  afterAll(async () => {
    await server?.close();
    await schema?.drop();
  });

  describe('group export end to end', () => {
    it('walks kick-off, poll, 307, download without Authorization and delete', async () => {
      const kick = await fetch(`${base}/Group/grp-main/$export`, { headers: { ...KICKOFF_HEADERS, ...auth(token) } });
      expect(kick.status).toBe(202);
      const statusUrl = kick.headers.get('content-location') as string;
      expect(statusUrl).toMatch(new RegExp(`^${base}/bulk-export/jobs/[0-9a-f-]{36}$`));

      const { response, first } = await waitForJob(statusUrl, token);
      expect(first.status).toBe(202);
      expect(first.headers.get('retry-after')).toMatch(/^\d+$/);
      expect(Number(first.headers.get('retry-after'))).toBeLessThanOrEqual(10);
      expect((first.headers.get('x-progress') ?? '').length).toBeGreaterThan(0);
      expect((first.headers.get('x-progress') ?? '').length).toBeLessThan(100);

      expect(response.status).toBe(200);
      expect(response.headers.get('content-type')).toMatch(/^application\/json/);
      const expires = Date.parse(response.headers.get('expires') ?? '');
      expect(expires).toBeGreaterThan(Date.parse(response.headers.get('date') ?? ''));
      const manifest = (await response.json()) as { transactionTime: string; request: string; requiresAccessToken: boolean; output: { type: string; url: string; count: number }[]; error: unknown[] };
      expect(manifest.request).toBe(`${base}/Group/grp-main/$export`);
      expect(manifest.requiresAccessToken).toBe(true);
      expect(Number.isNaN(Date.parse(manifest.transactionTime))).toBe(false);
      expect(manifest.error).toEqual([]);
      expect(manifest).not.toHaveProperty('deleted');

      const byType = new Map<string, Record<string, unknown>[]>();
      for (const o of manifest.output) {
        expect(o.url.startsWith(`${base}/bulk-export/files/`)).toBe(true);
        const { text, redirect, file } = await download(o.url, token);
        expect(redirect.headers.get('location')).toMatch(/^http:\/\/127\.0\.0\.1:\d+\//);
        expect(file.status).toBe(200);
        expect(file.headers.get('content-type')).toMatch(/^application\/fhir\+ndjson/);
        expect(text.endsWith('\n')).toBe(true);
        expect(text).not.toMatch(/\n\n/);
        const lines = parseNdjson(text);
        expect(lines.length).toBe(o.count);
        for (const l of lines) expect(l['resourceType']).toBe(o.type);
        byType.set(o.type, [...(byType.get(o.type) ?? []), ...lines]);
      }
      // Exactly the group's active members: not the inactive, ended or future ones.
      expect(ids(byType.get('Patient'))).toEqual(GROUP_MEMBERS);
      for (const type of ['Condition', 'Observation', 'Encounter']) {
        expect(ids(byType.get(type)), type).toEqual(expectedIds(type, GROUP_MEMBERS));
      }
      // obs-shared is in two members' compartments and appears once.
      expect(byType.get('Observation')?.filter((o) => o['id'] === 'obs-shared')).toHaveLength(1);
      // Shared resources: only those the exported resources reference.
      expect(ids(byType.get('Location'))).toEqual(['loc-1']);
      expect(ids(byType.get('Practitioner'))).toEqual(['prac-1', 'prac-3']);
      expect(ids(byType.get('Organization'))).toEqual(['org-1']);
      // Provenance: every one targeting an exported resource; none for Location; none for non-members.
      expect(ids(byType.get('Provenance'))).toEqual(['prov-new', 'prov-old']);
      expect(byType.has('Binary')).toBe(false);
      expect(byType.has('Group')).toBe(false);
      // Stored resources carry versionId and lastUpdated.
      const patient = byType.get('Patient')?.[0] as { meta: { versionId: string; lastUpdated: string } };
      expect(patient.meta.versionId).toBe('1');

      // Attachments: only html, xml and xhtml, each with an absolute Binary URL; a document left with none is dropped.
      expect(ids(byType.get('DocumentReference'))).toEqual(['doc-1', 'doc-2']);
      const doc2 = byType.get('DocumentReference')?.find((d) => d['id'] === 'doc-2') as { content: { attachment: { url: string } }[] };
      expect(doc2.content.map((c) => c.attachment.url)).toEqual([`${base}/Binary/bin-html`]);
      const doc = byType.get('DocumentReference')?.find((d) => d['id'] === 'doc-1') as { content: { attachment: { contentType: string; url: string; data?: string } }[] };
      expect(doc.content.map((c) => c.attachment.contentType).sort()).toEqual(['text/html', 'text/xml']);
      for (const c of doc.content) {
        expect(c.attachment.url).toMatch(new RegExp(`^${base}/Binary/[A-Za-z0-9.-]+$`));
        expect(c.attachment.data).toBeUndefined();
      }
      const dr = byType.get('DiagnosticReport')?.[0] as { presentedForm: { contentType: string; url: string }[] };
      expect(dr.presentedForm.map((a) => a.contentType)).toEqual(['application/xhtml+xml']);
      expect(dr.presentedForm[0]?.url).toBe(`${base}/Binary/bin-xhtml`);

      // The attachment URL is readable with a token, and its content is the original.
      const xml = doc.content.find((c) => c.attachment.contentType === 'text/xml')?.attachment.url as string;
      expect((await fetch(xml)).status).toBe(401);
      const binary = await fetch(xml, { headers: auth(token) });
      expect(binary.status).toBe(200);
      expect(await binary.text()).toBe('<note>hello</note>');

      // Delete: 202; afterwards status, a second delete and the file URLs answer 404.
      const fileUrl = manifest.output[0]?.url as string;
      const del = await fetch(statusUrl, { method: 'DELETE', headers: auth(token) });
      expect(del.status).toBe(202);
      for (const r of [
        await fetch(statusUrl, { headers: auth(token) }),
        await fetch(statusUrl, { method: 'DELETE', headers: auth(token) }),
        await fetch(fileUrl, { headers: auth(token), redirect: 'manual' }),
      ]) {
        expect(r.status).toBe(404);
        expect(r.headers.get('content-type')).toMatch(/^application\/fhir\+json/);
        const body = (await r.json()) as { resourceType: string; issue: { code: string }[] };
        expect(body.resourceType).toBe('OperationOutcome');
        expect(body.issue[0]?.code).toBe('not-found');
      }
    });

    it('exports nothing for an empty group', async () => {
      const { manifest } = await runExport(server, token, `${base}/Group/grp-empty/$export`);
      expect(manifest.output).toEqual([]);
      expect(manifest.error).toEqual([]);
    });

    it('answers 404 for an unknown group', async () => {
      const r = await fetch(`${base}/Group/nope/$export`, { headers: { ...KICKOFF_HEADERS, ...auth(token) } });
      expect(r.status).toBe(404);
      expect(((await r.json()) as { issue: { code: string }[] }).issue[0]?.code).toBe('not-found');
    });

    it('honours _type with Provenance and includeAssociatedData=LatestProvenanceResources', async () => {
      const { byType } = await runExport(
        server,
        token,
        `${base}/Group/grp-main/$export?_type=Condition,Provenance&includeAssociatedData=LatestProvenanceResources`,
      );
      expect([...byType.keys()].sort()).toEqual(['Condition', 'Provenance']);
      expect(ids(byType.get('Provenance'))).toEqual(['prov-new']);
    });

    it('exports only the Provenance of resources the _typeFilter lets through', async () => {
      const q = `_type=Condition,Provenance&_typeFilter=${encodeURIComponent('Condition?clinical-status=resolved')}`;
      const resolved = await runExport(server, token, `${base}/Group/grp-main/$export?${q}`);
      expect(ids(resolved.byType.get('Condition'))).toEqual(['cond-resolved-pat-1', 'cond-resolved-pat-4']);
      // prov-old and prov-new target cond-active-pat-1, which this export leaves out
      expect(resolved.byType.has('Provenance')).toBe(false);
      const active = await runExport(server, token, `${base}/Group/grp-main/$export?${q.replace('resolved', 'active')}`);
      expect(ids(active.byType.get('Provenance'))).toEqual(['prov-new', 'prov-old']);
    });

    it('exports only the shared resources that resources passing the _typeFilter reference', async () => {
      const finished = await runExport(
        server,
        token,
        `${base}/Group/grp-main/$export?_type=Encounter,Practitioner,Location&_typeFilter=${encodeURIComponent('Encounter?status=finished')}`,
      );
      expect(ids(finished.byType.get('Encounter'))).toEqual(['enc-pat-1', 'enc-pat-4']);
      // prac-3 is referenced only by the planned Encounter, which the filter leaves out
      expect(ids(finished.byType.get('Practitioner'))).toEqual(['prac-1']);
      expect(ids(finished.byType.get('Location'))).toEqual(['loc-1']);
      const planned = await runExport(
        server,
        token,
        `${base}/Group/grp-main/$export?_type=Encounter,Practitioner,Location&_typeFilter=${encodeURIComponent('Encounter?status=planned')}`,
      );
      expect(ids(planned.byType.get('Practitioner'))).toEqual(['prac-3']);
      expect(planned.byType.has('Location')).toBe(false);
    });

    it('filters with _typeFilter (repeats OR-ed) and subsets with _elements', async () => {
      const q = new URLSearchParams();
      q.set('_type', 'Patient,Condition,Observation');
      q.append('_typeFilter', 'Condition?clinical-status=active');
      q.append('_typeFilter', 'Observation?category=laboratory');
      q.append('_typeFilter', 'Observation?date=ge2022-01-01');
      q.set('_elements', 'Patient.gender,Observation.subject');
      const { byType } = await runExport(server, token, `${base}/Group/grp-main/$export?${q}`);
      expect(ids(byType.get('Condition'))).toEqual(['cond-active-pat-1', 'cond-active-pat-4']);
      // laboratory (obs-*-0) OR effective in 2022 (obs-*-2)
      expect(ids(byType.get('Observation'))).toEqual(['obs-pat-1-0', 'obs-pat-1-2', 'obs-pat-4-0', 'obs-pat-4-2']);
      for (const p of byType.get('Patient') ?? []) {
        expect(p['gender']).toBe('female');
        expect(p['name']).toBeUndefined();
        // exactly this Coding, no display: independent testers compare it whole
        expect((p['meta'] as { tag: unknown[] }).tag).toContainEqual({ system: 'http://terminology.hl7.org/CodeSystem/v3-ObservationValue', code: 'SUBSETTED' });
        expect(JSON.stringify((p['meta'] as { tag: unknown[] }).tag)).not.toContain('display');
      }
      for (const o of byType.get('Observation') ?? []) {
        // mandatory elements stay
        expect(o['status']).toBe('final');
        expect(o['code']).toBeDefined();
        expect(o['subject']).toBeDefined();
        expect(o['valueQuantity']).toBeUndefined();
      }
      // _elements on other types does not touch Condition
      expect((byType.get('Condition')?.[0] as { meta: { tag?: unknown } }).meta.tag).toBeUndefined();
    });

    it('refuses a _typeFilter it cannot evaluate, and reports it under lenient handling', async () => {
      const url = `${base}/Group/grp-main/$export?_type=Observation&_typeFilter=${encodeURIComponent('Observation?value-quantity=gt5')}`;
      const strict = await fetch(url, { headers: { ...KICKOFF_HEADERS, ...auth(token) } });
      expect(strict.status).toBe(400);
      expect(((await strict.json()) as { issue: { diagnostics: string }[] }).issue[0]?.diagnostics).toMatch(/value-quantity/);
      const { byType, errors } = await runExport(server, token, url, { headers: { prefer: 'respond-async, handling=lenient' } });
      // unfiltered rather than silently wrong
      expect(ids(byType.get('Observation'))).toEqual(expectedIds('Observation', GROUP_MEMBERS));
      expect(JSON.stringify(errors)).toMatch(/value-quantity/);
    });
  });

  describe('patient and system exports', () => {
    it('POST Patient/$export exports only the listed patients', async () => {
      const body = {
        resourceType: 'Parameters',
        parameter: [
          { name: 'patient', valueReference: { reference: 'Patient/pat-2' } },
          { name: 'patient', valueReference: { reference: 'Patient/pat-6' } },
          { name: '_type', valueString: 'Patient,Condition,Encounter,Practitioner' },
        ],
      };
      const { byType, manifest } = await runExport(server, token, `${base}/Patient/$export`, {
        method: 'POST',
        headers: { 'content-type': 'application/fhir+json' },
        body: JSON.stringify(body),
      });
      expect(manifest.request).toBe(`${base}/Patient/$export`);
      expect(ids(byType.get('Patient'))).toEqual(['pat-2', 'pat-6']);
      expect(ids(byType.get('Condition'))).toEqual(expectedIds('Condition', ['pat-2', 'pat-6']));
      expect(ids(byType.get('Practitioner'))).toEqual(['prac-1', 'prac-2']);
    });

    it('refuses unknown patients and, for a group, non-members', async () => {
      const post = (url: string, refs: string[]) =>
        fetch(url, {
          method: 'POST',
          headers: { ...KICKOFF_HEADERS, ...auth(token), 'content-type': 'application/fhir+json' },
          body: JSON.stringify({ resourceType: 'Parameters', parameter: refs.map((r) => ({ name: 'patient', valueReference: { reference: r } })) }),
        });
      const unknown = await post(`${base}/Patient/$export`, ['Patient/pat-1', 'Patient/ghost']);
      expect(unknown.status).toBe(400);
      expect(JSON.stringify(await unknown.json())).toMatch(/ghost/);
      const nonMember = await post(`${base}/Group/grp-main/$export`, ['Patient/pat-2']);
      expect(nonMember.status).toBe(400);
      const member = await post(`${base}/Group/grp-main/$export`, ['Patient/pat-4']);
      expect(member.status).toBe(202);
      const statusUrl = member.headers.get('content-location') as string;
      const { response } = await waitForJob(statusUrl, token);
      const manifest = (await response.json()) as { output: { type: string; url: string }[] };
      const patients = manifest.output.filter((o) => o.type === 'Patient');
      expect(parseNdjson((await download(patients[0]?.url as string, token)).text).map((p) => p['id'])).toEqual(['pat-4']);
      await fetch(statusUrl, { method: 'DELETE', headers: auth(token) });
    });

    it('GET Patient/$export exports every patient of the tenant', async () => {
      const { byType } = await runExport(server, token, `${base}/Patient/$export?_type=Patient,Observation`);
      expect(ids(byType.get('Patient'))).toEqual([...PATIENTS].sort());
      expect(ids(byType.get('Observation'))).toEqual(expectedIds('Observation', PATIENTS));
    });

    it('system export returns every resource of each type once, and never Binary', async () => {
      const { byType } = await runExport(server, token, `${base}/$export`);
      for (const type of ['Patient', 'Condition', 'Observation', 'Encounter', 'DiagnosticReport']) {
        expect(ids(byType.get(type)), type).toEqual(resources.filter((r) => r.resourceType === type).map((r) => r.id).sort());
      }
      // at system level, every shared resource, referenced or not
      expect(ids(byType.get('Location'))).toEqual(['loc-1', 'loc-2']);
      expect(ids(byType.get('Practitioner'))).toEqual(['prac-1', 'prac-2', 'prac-3', 'prac-unused']);
      expect(ids(byType.get('Organization'))).toEqual(['org-1', 'org-unused']);
      // Provenance of exported resources, never of a Location
      expect(ids(byType.get('Provenance'))).toEqual(['prov-new', 'prov-old', 'prov-pat-6']);
      expect(byType.has('Binary')).toBe(false);
    });
  });

  describe('_since, _until and the transaction-time snapshot', () => {
    it('exports what changed, the deleted, and the full history of members who joined since', async () => {
      const first = await runExport(server, token, `${base}/Group/grp-main/$export?_type=Patient,Condition,Observation`);
      const t0 = first.manifest.transactionTime;
      await fetch(first.statusUrl, { method: 'DELETE', headers: auth(token) });
      await new Promise((r) => setTimeout(r, 5));
      const store = server.runtime.store.resources;
      const changed = resources.find((r) => r.id === 'cond-active-pat-1') as R;
      await store.writeBatch(TENANT, [prepareResource({ ...changed, note: [{ text: 'updated' }] } as never)]);
      expect(await store.deleteResource(TENANT, 'Observation', 'obs-pat-1-1')).toBe(true);
      const group = resources.find((r) => r.id === 'grp-main') as R;
      await store.writeBatch(TENANT, [
        prepareResource({ ...group, member: [...(group['member'] as unknown[]), { entity: { reference: 'Patient/pat-6' } }] } as never),
      ]);

      const since = await runExport(server, token, `${base}/Group/grp-main/$export?_type=Patient,Condition,Observation&_since=${t0}`);
      expect(ids(since.byType.get('Condition'))).toEqual(['cond-active-pat-1', ...expectedIds('Condition', ['pat-6'])].sort());
      expect((since.byType.get('Condition')?.find((c) => c['id'] === 'cond-active-pat-1') as { meta: { versionId: string } }).meta.versionId).toBe('2');
      expect(ids(since.byType.get('Patient'))).toEqual(['pat-6']);
      expect(ids(since.byType.get('Observation'))).toEqual(expectedIds('Observation', ['pat-6']));
      expect(since.manifest.deleted).toBeDefined();
      const deletedUrls = since.deleted.flatMap((b) => ((b['entry'] as { request: { method: string; url: string } }[]) ?? []).map((e) => `${e.request.method} ${e.request.url}`));
      expect(deletedUrls).toEqual(['DELETE Observation/obs-pat-1-1']);
      for (const b of since.deleted) expect(b['type']).toBe('transaction');
      await fetch(since.statusUrl, { method: 'DELETE', headers: auth(token) });

      // _until at the first transaction time gives the store as it was then.
      const until = await runExport(server, token, `${base}/Group/grp-main/$export?_type=Condition,Observation&_until=${t0}`);
      const cond = until.byType.get('Condition')?.find((c) => c['id'] === 'cond-active-pat-1') as { meta: { versionId: string }; note?: unknown };
      expect(cond.meta.versionId).toBe('1');
      expect(cond.note).toBeUndefined();
      expect(ids(until.byType.get('Observation'))).toContain('obs-pat-1-1');
      await fetch(until.statusUrl, { method: 'DELETE', headers: auth(token) });
    });
  });

  describe('files', () => {
    it('serves ranges, gzip, and refuses bad or expired signatures and missing tokens', async () => {
      const { manifest, statusUrl } = await runExport(server, token, `${base}/Group/grp-main/$export?_type=Observation`);
      const url = manifest.output[0]?.url as string;
      const noToken = await fetch(url, { redirect: 'manual' });
      expect(noToken.status).toBe(401);
      expect(noToken.headers.get('www-authenticate')).toMatch(/^Bearer/);
      const { text, redirect } = await download(url, token);
      const location = redirect.headers.get('location') as string;
      const ranged = await fetch(location, { headers: { range: 'bytes=10-' } });
      expect(ranged.status).toBe(206);
      expect(ranged.headers.get('content-range')).toBe(`bytes 10-${Buffer.byteLength(text) - 1}/${Buffer.byteLength(text)}`);
      expect(Buffer.from(await ranged.arrayBuffer()).toString()).toBe(Buffer.from(text).subarray(10).toString());
      const gz = await fetch(location, { headers: { 'accept-encoding': 'gzip' } });
      expect(gz.status).toBe(200);
      expect(gz.headers.get('content-encoding')).toBe('gzip');
      // fetch decodes gzip transparently: the text is identical.
      expect(await gz.text()).toBe(text);
      const tampered = location.replace(/signature=[^&]+/, 'signature=AAAA');
      const bad = await fetch(tampered);
      expect(bad.status).toBe(403);
      expect(((await bad.json()) as { resourceType: string }).resourceType).toBe('OperationOutcome');
      const expired = location.replace(/expires=\d+/, 'expires=1000');
      expect((await fetch(expired)).status).toBe(403);
      void gunzipSync;
      await fetch(statusUrl, { method: 'DELETE', headers: auth(token) });
    });

    it('refuses a file of a type outside the token scopes, and another client sees no job', async () => {
      const owner = await server.client(TENANT);
      const { manifest, statusUrl } = await runExport(server, owner.token, `${base}/Group/grp-main/$export?_type=Patient,Condition`);
      const condition = manifest.output.find((o) => o.type === 'Condition')?.url as string;
      const patient = manifest.output.find((o) => o.type === 'Patient')?.url as string;
      const narrow = await getAccessToken(server.tokenUrl(TENANT), owner, 'system/Patient.rs');
      const refused = await fetch(condition, { headers: auth(narrow), redirect: 'manual' });
      expect(refused.status).toBe(403);
      expect(((await refused.json()) as { issue: { code: string }[] }).issue[0]?.code).toBe('forbidden');
      expect((await fetch(patient, { headers: auth(narrow), redirect: 'manual' })).status).toBe(307);
      const other = await server.client(TENANT);
      expect((await fetch(condition, { headers: auth(other.token), redirect: 'manual' })).status).toBe(404);
      expect((await fetch(statusUrl, { headers: auth(other.token) })).status).toBe(404);
      expect((await fetch(statusUrl, { method: 'DELETE', headers: auth(other.token) })).status).toBe(404);
      await fetch(statusUrl, { method: 'DELETE', headers: auth(owner.token) });
    });
  });
});
