/**
 * The bulk data client against a stand-in for another vendor's server (test/helpers/stand-in-server.ts): its own
 * token endpoint found through smart-configuration (or only through the CapabilityStatement), Retry-After as an
 * HTTP-date, a 429 while polling, `requiresAccessToken: false` with direct file URLs, gzip.
 */
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { exportJWK } from 'jose';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { BulkExportClient, type BulkExportClientOptions } from '../src/client/client.js';
import type { ExportEventName, ExportEvents } from '../src/client/events.js';
import { generateClientKey, type TestAlg } from './helpers/auth.js';
import { type StandIn, type StandInFile, type StandInOptions, startStandInServer } from './helpers/stand-in-server.js';

const ndjson = (rows: Record<string, unknown>[]): string => rows.map((r) => `${JSON.stringify(r)}\n`).join('');
const patients = ndjson([1, 2, 3].map((i) => ({ resourceType: 'Patient', id: `p${i}`, gender: 'other' })));
const observations = ndjson([1, 2, 3, 4, 5].map((i) => ({ resourceType: 'Observation', id: `o${i}`, status: 'final', subject: { reference: 'Patient/p1' } })));
const FILES: StandInFile[] = [
  { type: 'Patient', body: patients, count: 3 },
  { type: 'Observation', body: observations, count: 5 },
  { type: 'Observation', body: ndjson([{ resourceType: 'Observation', id: 'o6', status: 'final' }]) }, // no count
];
const WARNINGS: StandInFile[] = [{ type: 'OperationOutcome', body: ndjson([{ resourceType: 'OperationOutcome', issue: [{ severity: 'warning', code: 'informational', diagnostics: 'partial data' }] }]) }];

let work: string;
const servers: StandIn[] = [];

beforeAll(async () => {
  work = await mkdtemp(join(tmpdir(), 'flatfhir-stand-in-'));
});
afterEach(async () => {
  for (const s of servers.splice(0)) await s.close();
});
afterAll(async () => {
  await rm(work, { recursive: true, force: true });
});

/** A stand-in server and a client with a key it trusts. */
async function setUp(
  options: Partial<StandInOptions> = {},
  alg: TestAlg = 'ES384',
  clientOptions: Partial<BulkExportClientOptions> = {},
): Promise<{ standIn: StandIn; client: BulkExportClient; events: { name: ExportEventName; event: unknown }[] }> {
  const key = await generateClientKey(alg);
  const clientId = `stand-in-client-${alg}`;
  const standIn = await startStandInServer({ clientId, publicJwk: key.publicJwk, files: FILES, ...options });
  servers.push(standIn);
  const privateJwk = { ...(await exportJWK(key.privateKey)), kid: key.kid, alg };
  const client = new BulkExportClient({
    fhirBaseUrl: standIn.fhirBase,
    clientId,
    privateKey: privateJwk,
    scope: 'system/*.read',
    outDir: await mkdtemp(join(work, 'out-')),
    retry: { baseDelayMs: 50, maxDelayMs: 200 },
    ...clientOptions,
  });
  const events: { name: ExportEventName; event: unknown }[] = [];
  client.onAny((name, event) => events.push({ name, event }));
  return { standIn, client, events };
}
const eventsOf = <K extends ExportEventName>(events: { name: ExportEventName; event: unknown }[], name: K): ExportEvents[K][] =>
  events.filter((e) => e.name === name).map((e) => e.event as ExportEvents[K]);

describe('BulkExportClient against another vendor', () => {
  it('discovers the token endpoint, honours an HTTP-date Retry-After and a 429, downloads direct file URLs without a token', async () => {
    const { standIn, client, events } = await setUp({ throttlePolls: [2], pollsBeforeComplete: 3, errorFiles: WARNINGS });
    const started = Date.now();
    const result = await client.export({ level: { kind: 'patient' }, types: ['Patient', 'Observation'], since: '2020-01-01T00:00:00Z' });
    expect(result.ok).toBe(true);

    // Discovery and token.
    expect(eventsOf(events, 'discovered')).toEqual([{ tokenUrl: standIn.tokenUrl, source: 'smart-configuration' }]);
    expect(standIn.tokensIssued).toBe(1);
    // Kick-off: GET with the parameters in the query.
    expect(standIn.kickoffs).toHaveLength(1);
    const kick = standIn.kickoffs[0];
    expect(kick?.method).toBe('GET');
    expect(kick?.url).toBe('/fhir/Patient/$export?_type=Patient%2CObservation&_since=2020-01-01T00%3A00%3A00Z');
    expect(kick?.headers.prefer).toBe('respond-async');

    // Polls: 202 (HTTP-date), 429 once (1 s), 202, then the manifest. An HTTP-date is whole seconds: 0–1 s.
    const statuses = eventsOf(events, 'status');
    expect(statuses.map((s) => s.progress)).toEqual(['step 1 of 3', 'step 3 of 3']);
    for (const s of statuses) {
      expect(s.waitMs).toBeGreaterThanOrEqual(100);
      expect(s.waitMs).toBeLessThanOrEqual(1000);
    }
    const retries = eventsOf(events, 'retry');
    expect(retries).toHaveLength(1);
    expect(retries[0]).toMatchObject({ phase: 'status', status: 429, delayMs: 1000 });
    expect(Date.now() - started).toBeGreaterThanOrEqual(1000);

    // Files: fetched directly (200, no redirect), without Authorization, gzip-decoded, checked, named by type.
    const fileRequests = standIn.requests.filter((r) => r.path.startsWith('/files/'));
    expect(fileRequests).toHaveLength(4);
    for (const r of fileRequests) {
      expect(r.headers.authorization).toBeUndefined();
      expect(r.status).toBe(200);
      expect(r.responseHeaders?.['content-encoding']).toBe('gzip');
    }
    expect(standIn.authorizationOnFiles).toBe(0);
    expect((await readdir(result.outDir)).sort()).toEqual([
      'Observation.000.ndjson',
      'Observation.001.ndjson',
      'Patient.000.ndjson',
      'error.OperationOutcome.000.ndjson',
      'manifest.json',
    ]);
    expect(await readFile(join(result.outDir, 'Observation.000.ndjson'), 'utf8')).toBe(observations);
    expect(await readFile(join(result.outDir, 'Patient.000.ndjson'), 'utf8')).toBe(patients);
    expect(result.summary).toEqual([
      { type: 'Observation', kind: 'output', files: 2, resources: 6, bytes: Buffer.byteLength(observations) + Buffer.byteLength(FILES[2]?.body ?? ''), failed: 0 },
      { type: 'Patient', kind: 'output', files: 1, resources: 3, bytes: Buffer.byteLength(patients), failed: 0 },
      { type: 'OperationOutcome', kind: 'error', files: 1, resources: 1, bytes: Buffer.byteLength(WARNINGS[0]?.body ?? ''), failed: 0 },
    ]);
    // Deleted after a complete download.
    expect(standIn.deleted).toBe(true);
    expect(standIn.requests.find((r) => r.method === 'DELETE')?.headers.authorization).toMatch(/^Bearer /);
  });

  it('falls back to the CapabilityStatement, signs RS384, and POSTs the patients of a group as Parameters', async () => {
    const { standIn, client, events } = await setUp({ smartConfiguration: false, pollsBeforeComplete: 1, retryAfterDate: false }, 'RS384');
    const result = await client.export({
      level: { kind: 'group', groupId: 'g 1' },
      patients: ['p1', 'Patient/p2'],
      types: ['Patient'],
      typeFilters: ['Patient?gender=other', 'Patient?active=true'],
      elements: ['id', 'gender'],
      includeAssociatedData: ['LatestProvenanceResources'],
      outputFormat: 'application/fhir+ndjson',
      lenient: true,
    });
    expect(result.ok).toBe(true);
    expect(eventsOf(events, 'discovered')[0]?.source).toBe('capability-statement');
    const kick = standIn.kickoffs[0];
    expect(kick?.method).toBe('POST');
    expect(kick?.url).toBe('/fhir/Group/g%201/$export');
    expect(kick?.headers['content-type']).toBe('application/fhir+json');
    expect(kick?.headers.prefer).toBe('respond-async, handling=lenient');
    expect(JSON.parse(kick?.body ?? '')).toEqual({
      resourceType: 'Parameters',
      parameter: [
        { name: '_outputFormat', valueString: 'application/fhir+ndjson' },
        { name: '_type', valueString: 'Patient' },
        { name: '_typeFilter', valueString: 'Patient?gender=other' },
        { name: '_typeFilter', valueString: 'Patient?active=true' },
        { name: '_elements', valueString: 'id,gender' },
        { name: 'includeAssociatedData', valueCode: 'LatestProvenanceResources' },
        { name: 'patient', valueReference: { reference: 'Patient/p1' } },
        { name: 'patient', valueReference: { reference: 'Patient/p2' } },
      ],
    });
  });

  it('sends the token to file URLs when the manifest requires it', async () => {
    const { standIn, client } = await setUp({ requiresAccessToken: true, pollsBeforeComplete: 0 });
    // The stand-in refuses file requests that carry Authorization: with requiresAccessToken the files fail.
    const result = await client.export({ level: { kind: 'system' } });
    expect(result.ok).toBe(false);
    expect(standIn.authorizationOnFiles).toBeGreaterThan(0);
    expect(result.files.every((f) => !f.ok && /400/.test(f.error ?? ''))).toBe(true);
    expect(standIn.deleted).toBe(false); // kept for a retry (--resume)
  });

  it('fails the files that do not check out, keeps them as .invalid, and does not delete the job', async () => {
    const { standIn, client, events } = await setUp({
      pollsBeforeComplete: 0,
      files: [
        { type: 'Patient', body: patients, count: 4 },
        { type: 'Condition', body: patients },
        { type: 'Observation', body: `${observations}{not json\n` },
        { type: 'Observation', body: observations, count: 5 },
      ],
    });
    const result = await client.export({ level: { kind: 'system' } });
    expect(result.ok).toBe(false);
    const byName = new Map(result.files.map((f) => [f.file.name, f]));
    expect(byName.get('Patient.000.ndjson')?.error).toMatch(/3 resources, but the manifest's count is 4/);
    expect(byName.get('Condition.000.ndjson')?.error).toMatch(/line 1 has resourceType "Patient", expected Condition/);
    expect(byName.get('Observation.000.ndjson')?.error).toMatch(/line 6 is not JSON/);
    expect(byName.get('Observation.001.ndjson')?.ok).toBe(true);
    expect(eventsOf(events, 'error').filter((e) => e.phase === 'download')).toHaveLength(3);
    expect((await readdir(result.outDir)).sort()).toEqual([
      'Condition.000.ndjson.invalid',
      'Observation.000.ndjson.invalid',
      'Observation.001.ndjson',
      'Patient.000.ndjson.invalid',
      'manifest.json',
    ]);
    expect(result.summary.find((r) => r.type === 'Observation')?.failed).toBe(1);
    expect(standIn.deleted).toBe(false);
    expect(result.jobDeleted).toBe(false);
  });

  it('fails with the token endpoint\'s error when the client is not trusted', async () => {
    const { standIn } = await setUp({ pollsBeforeComplete: 0 });
    const other = await generateClientKey('ES384');
    const stranger = new BulkExportClient({
      fhirBaseUrl: standIn.fhirBase,
      clientId: 'stand-in-client-ES384',
      privateKey: { key: other.privateKey, alg: 'ES384', kid: other.kid },
      scope: 'system/*.read',
      outDir: await mkdtemp(join(work, 'out-')),
    });
    await expect(stranger.export({ level: { kind: 'system' } })).rejects.toMatchObject({
      name: 'ExportError',
      phase: 'token',
      statusUrl: undefined,
      message: expect.stringMatching(/invalid_client: unknown kid/),
    });
  });
});
