import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { importPaths } from '../src/import/importer.js';
import { fixtureResources, writeNdjson } from './fixtures/population.js';
import { auth, startServer, type TestServer } from './helpers/server.js';

const TENANT = 'tenant-a';
let server: TestServer;
let base: string;

beforeAll(async () => {
  server = await startServer();
  const dir = await mkdtemp(join(tmpdir(), 'flatfhir-fixture-'));
  await writeNdjson(dir, fixtureResources());
  await importPaths({ resources: server.runtime.store.resources, tenant: TENANT, paths: [dir], maxGroupMembers: 100 });
  await rm(dir, { recursive: true });
  base = server.base(TENANT);
});

afterAll(async () => {
  await server?.close();
});

describe('discovery', () => {
  it('serves a CapabilityStatement declaring the bulk data operations and the token endpoint, without a token', async () => {
    const r = await fetch(`${base}/metadata`);
    expect(r.status).toBe(200);
    expect(r.headers.get('content-type')).toMatch(/^application\/fhir\+json/);
    const cs = (await r.json()) as {
      instantiates: string[];
      rest: { security: { extension: { url: string; extension: { url: string; valueUri: string }[] }[] }; resource: { type: string; operation?: { name: string; definition: string }[] }[]; operation: { name: string; definition: string }[] }[];
    };
    expect(cs.instantiates).toContain('http://hl7.org/fhir/uv/bulkdata/CapabilityStatement/bulk-data');
    const oauth = cs.rest[0]?.security.extension.find((e) => e.url === 'http://fhir-registry.smarthealthit.org/StructureDefinition/oauth-uris');
    expect(oauth?.extension.find((e) => e.url === 'token')?.valueUri).toBe(server.tokenUrl(TENANT));
    const group = cs.rest[0]?.resource.find((x) => x.type === 'Group');
    expect(group?.operation?.map((o) => o.name).sort()).toEqual(['export', 'group-export']);
    expect(group?.operation?.every((o) => o.definition === 'http://hl7.org/fhir/uv/bulkdata/OperationDefinition/group-export')).toBe(true);
    const patient = cs.rest[0]?.resource.find((x) => x.type === 'Patient');
    expect(patient?.operation?.map((o) => o.name).sort()).toEqual(['export', 'patient-export']);
    expect(cs.rest[0]?.operation.map((o) => o.name)).toEqual(['export']);
    // the _since rule for groups is documented
    expect(JSON.stringify(group)).toMatch(/joined the group after _since/);
    // and clients can find their groups by search, and create and delete cohorts (the Bulk Cohort API)
    const groupSearch = group as { interaction?: { code: string }[]; searchParam?: { name: string }[] } | undefined;
    expect(groupSearch?.interaction?.map((i) => i.code)).toEqual(['read', 'search-type', 'create', 'delete']);
    expect(groupSearch?.searchParam?.map((p) => p.name)).toEqual(['_id', 'identifier', 'name']);
  });

  it('marks what is readable over REST but never exported with the operation-not-supported extension (Bulk Data v3)', async () => {
    const cs = (await (await fetch(`${base}/metadata`)).json()) as {
      rest: { resource: { type: string; interaction?: { code: string }[]; extension?: { url: string; valueCanonical: string }[] }[] }[];
    };
    const resources = cs.rest[0]?.resource ?? [];
    const readable = resources.filter((r) => r.interaction?.some((i) => i.code === 'read')).map((r) => r.type).sort();
    // The REST reads the server answers (fhir-read.ts, metadata.ts) are exported by no bulk operation.
    expect(readable).toEqual(['Binary', 'Group', 'OperationDefinition']);
    const all = ['export', 'group-export', 'patient-export'].map((n) => `http://hl7.org/fhir/uv/bulkdata/OperationDefinition/${n}`);
    for (const type of readable) {
      const ext = resources.find((r) => r.type === type)?.extension ?? [];
      expect(ext.every((e) => e.url === 'http://hl7.org/fhir/uv/bulkdata/Extension/operation-not-supported'), type).toBe(true);
      expect(ext.map((e) => e.valueCanonical).sort(), type).toEqual(all);
    }
    // Exported types carry none.
    expect(resources.filter((r) => r.extension && !readable.includes(r.type))).toEqual([]);
  });

  it('serves the OperationDefinitions', async () => {
    for (const id of ['group-export', 'patient-export', 'export']) {
      const r = await fetch(`${base}/OperationDefinition/${id}`);
      expect(r.status).toBe(200);
      const od = (await r.json()) as { resourceType: string; url: string; code: string; parameter: { name: string }[] };
      expect(od.resourceType).toBe('OperationDefinition');
      expect(od.url).toBe(`http://hl7.org/fhir/uv/bulkdata/OperationDefinition/${id}`);
      expect(od.code).toBe('export');
      expect(od.parameter.map((p) => p.name)).toContain('_typeFilter');
      expect(od.parameter.map((p) => p.name)).toEqual(expect.arrayContaining(['organizeOutputBy', 'allowPartialManifests']));
    }
    expect((await fetch(`${base}/OperationDefinition/nope`)).status).toBe(404);
  });

  it('answers 403 for the metadata of an unknown tenant', async () => {
    const r = await fetch(`${server.base('nobody')}/metadata`);
    expect(r.status).toBe(403);
    expect(((await r.json()) as { resourceType: string }).resourceType).toBe('OperationOutcome');
  });
});

describe('FHIR reads', () => {
  it('reads a Group with a token that covers Group, and not without one', async () => {
    const { token } = await server.client(TENANT);
    const r = await fetch(`${base}/Group/grp-main`, { headers: auth(token) });
    expect(r.status).toBe(200);
    expect(((await r.json()) as { id: string }).id).toBe('grp-main');
    expect((await fetch(`${base}/Group/grp-main`)).status).toBe(401);
    expect((await fetch(`${base}/Group/nope`, { headers: auth(token) })).status).toBe(404);
    const narrow = await server.client(TENANT, 'system/Patient.rs');
    expect((await fetch(`${base}/Group/grp-main`, { headers: auth(narrow.token) })).status).toBe(403);
  });

  it('reads a Binary only with DocumentReference or DiagnosticReport access', async () => {
    const { token } = await server.client(TENANT, 'system/DocumentReference.rs');
    const r = await fetch(`${base}/Binary/bin-html`, { headers: auth(token) });
    expect(r.status).toBe(200);
    expect(r.headers.get('content-type')).toMatch(/^text\/html/);
    expect(await r.text()).toBe('<p>hi</p>');
    const json = await fetch(`${base}/Binary/bin-html`, { headers: auth(token, { accept: 'application/fhir+json' }) });
    expect(((await json.json()) as { resourceType: string }).resourceType).toBe('Binary');
    const narrow = await server.client(TENANT, 'system/Patient.rs');
    expect((await fetch(`${base}/Binary/bin-html`, { headers: auth(narrow.token) })).status).toBe(403);
  });
});
