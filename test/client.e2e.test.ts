/**
 * The bulk data client against a real flatfhir server (ephemeral port, fixture population), through a recording
 * proxy that sees every request of an export (the server's public origin is the proxy's, so every URL it hands out
 * leads through the proxy) and
 * injects faults: a download cut mid-file, a 429 and a transient error while polling, slow downloads past a
 * 2-second token.
 */
import { mkdtemp, readdir, readFile, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { BulkExportClient, type BulkExportClientOptions } from '../src/client/client.js';
import type { ExportEventName, ExportEvents } from '../src/client/events.js';
import type { ExportResult } from '../src/client/types.js';
import { importPaths } from '../src/import/importer.js';
import { DOWNLOAD_PATH } from '../src/storage/ports.js';
import { belongsTo, fixtureResources, GROUP_MEMBERS, PATIENTS, writeNdjson } from './fixtures/population.js';
import { createTestClient, getAccessToken, type TestClient } from './helpers/auth.js';
import { download, parseNdjson, startServer, type TestServer } from './helpers/server.js';
import { operationOutcome, type Proxy, type RecordedRequest, startProxy } from './helpers/stand-in-server.js';

const TENANT = 'tenant-a';
const resources = fixtureResources();
const FAST_RETRY = { baseDelayMs: 100, maxDelayMs: 500 };

let server: TestServer;
let proxy: Proxy;
let work: string;
/** The credentials of the latest client newClient made (the server shows a job only to the client that started it). */
let lastCredentials: TestClient;
const tokenOf = (c: TestClient): Promise<string> =>
  getAccessToken(server.tokenUrl(TENANT), c, 'system/*.rs', server.runtime.auth.tokenUrl(server.runtime.origin(), TENANT));

async function loadFixture(s: TestServer): Promise<void> {
  const dir = await mkdtemp(join(tmpdir(), 'flatfhir-client-fixture-'));
  await writeNdjson(dir, resources);
  const result = await importPaths({ resources: s.runtime.store.resources, tenant: TENANT, paths: [dir], maxGroupMembers: 100 });
  expect(result.rejectedCount).toBe(0);
  await rm(dir, { recursive: true });
}

/** A client of a freshly registered flatfhir client (one running export per client), talking through `origin`. */
async function newClient(s: TestServer, origin: string, extra: Partial<BulkExportClientOptions> = {}): Promise<BulkExportClient> {
  const c = await createTestClient(s.runtime.store.clients, TENANT, 'system/*.rs');
  lastCredentials = c;
  return new BulkExportClient({
    fhirBaseUrl: `${origin}/r4/${TENANT}`,
    clientId: c.clientId,
    privateKey: { key: c.privateKey, alg: c.alg, kid: c.kid },
    scope: 'system/*.rs',
    outDir: await mkdtemp(join(work, 'out-')),
    retry: FAST_RETRY,
    ...extra,
  });
}

/** Records every event of a client. */
function record(client: BulkExportClient): { name: ExportEventName; event: unknown }[] {
  const events: { name: ExportEventName; event: unknown }[] = [];
  client.onAny((name, event) => events.push({ name, event }));
  return events;
}
const eventsOf = <K extends ExportEventName>(events: { name: ExportEventName; event: unknown }[], name: K): ExportEvents[K][] =>
  events.filter((e) => e.name === name).map((e) => e.event as ExportEvents[K]);

/** Every resource of a type in the output directory. */
async function readType(result: ExportResult, type: string): Promise<Record<string, unknown>[]> {
  const out: Record<string, unknown>[] = [];
  for (const f of result.files.filter((x) => x.file.kind === 'output' && x.file.type === type)) {
    out.push(...parseNdjson(await readFile(join(result.outDir, f.file.name), 'utf8')));
  }
  return out;
}
const ids = (list: Record<string, unknown>[]): string[] => list.map((r) => r['id'] as string).sort();
const expectedIds = (type: string, patients: string[]): string[] =>
  resources
    .filter((r) => r.resourceType === type && patients.some((p) => belongsTo(r, p)))
    .map((r) => r.id)
    .sort();

const downloads = (requests: RecordedRequest[]): RecordedRequest[] => requests.filter((r) => r.path.startsWith(`${DOWNLOAD_PATH}/`));

/** The protocol rules every export through the proxy must keep. */
function expectCleanProtocol(requests: RecordedRequest[]): void {
  const files = downloads(requests);
  expect(files.length).toBeGreaterThan(0);
  for (const r of files) expect(r.headers.authorization, `${r.url} must not carry Authorization`).toBeUndefined();
  for (const r of requests.filter((x) => x.path.includes('/bulk-export/files/'))) {
    expect(r.headers.authorization).toMatch(/^Bearer /);
    expect(r.status).toBe(307);
  }
  for (const r of requests.filter((x) => x.path.endsWith('/$export'))) {
    expect(r.headers.accept).toBe('application/fhir+json');
    expect(r.headers.prefer).toMatch(/^respond-async/);
  }
}

beforeAll(async () => {
  work = await mkdtemp(join(tmpdir(), 'flatfhir-client-'));
  // Small files: several per type, so that downloads run in parallel.
  proxy = await startProxy();
  server = await startServer({ publicBaseUrl: proxy.origin, export: { maxFileResources: 3 } });
  proxy.target = server.origin;
  await loadFixture(server);
});

beforeEach(() => {
  proxy.requests.length = 0;
  proxy.hooks = {};
});

afterAll(async () => {
  await proxy?.close();
  await server?.close();
  await rm(work, { recursive: true, force: true });
});

describe('BulkExportClient against flatfhir', () => {
  it('exports a group with _type and _typeFilter, in parallel, gzip-encoded, and deletes the job', async () => {
    const client = await newClient(server, proxy.origin);
    const events = record(client);
    const result = await client.export({
      level: { kind: 'group', groupId: 'grp-main' },
      types: ['Patient', 'Condition', 'Observation'],
      typeFilters: ['Condition?clinical-status=active'],
    });
    expect(result.ok).toBe(true);
    expect(ids(await readType(result, 'Patient'))).toEqual(GROUP_MEMBERS);
    expect(ids(await readType(result, 'Observation'))).toEqual(expectedIds('Observation', GROUP_MEMBERS));
    expect(ids(await readType(result, 'Condition'))).toEqual(GROUP_MEMBERS.map((p) => `cond-active-${p}`).sort());
    expect(result.manifest.request).toBe(`${proxy.origin}/r4/${TENANT}/Group/grp-main/$export?_type=Patient%2CCondition%2CObservation&_typeFilter=Condition%3Fclinical-status%3Dactive`);

    // Files named Type.NNN.ndjson, a manifest beside them, no partial files left.
    const names = (await readdir(result.outDir)).sort();
    expect(names).toContain('manifest.json');
    expect(names).toContain('Observation.000.ndjson');
    expect(names).toContain('Observation.001.ndjson');
    expect(names.filter((n) => n.endsWith('.part') || n.endsWith('.invalid'))).toEqual([]);
    const manifest = JSON.parse(await readFile(join(result.outDir, 'manifest.json'), 'utf8')) as { output: { file: string; url: string }[] };
    expect(manifest.output.map((o) => o.file).sort()).toEqual(names.filter((n) => n.endsWith('.ndjson')).sort());

    // The summary adds up.
    const obs = result.summary.find((r) => r.type === 'Observation');
    expect(obs?.resources).toBe(expectedIds('Observation', GROUP_MEMBERS).length);
    expect(obs?.files).toBeGreaterThan(1);

    // Events in order: discovery, token, kick-off, status, manifest, files, delete, done.
    const order = events.map((e) => e.name);
    expect(order[0]).toBe('discovered');
    expect(order.indexOf('token')).toBeLessThan(order.indexOf('kickoff'));
    expect(order.indexOf('kickoff')).toBeLessThan(order.indexOf('manifest'));
    expect(order.at(-1)).toBe('done');
    expect(eventsOf(events, 'discovered')[0]?.source).toBe('smart-configuration');
    expect(eventsOf(events, 'file-done').filter((f) => f.ok)).toHaveLength(result.files.length);
    expect(eventsOf(events, 'status').length).toBeGreaterThan(0); // the first poll is always 202
    expect(eventsOf(events, 'status')[0]?.progress).toBeTruthy();

    // On the wire: token via smart-configuration, gzip for whole files, no Authorization on pre-signed URLs, DELETE.
    expectCleanProtocol(proxy.requests);
    expect(proxy.requests.some((r) => r.path === `/r4/${TENANT}/.well-known/smart-configuration`)).toBe(true);
    for (const r of downloads(proxy.requests)) {
      expect(r.headers['accept-encoding']).toBe('gzip');
      expect(r.responseHeaders?.['content-encoding']).toBe('gzip');
    }
    expect(result.jobDeleted).toBe(true);
    expect(proxy.requests.filter((r) => r.method === 'DELETE').map((r) => r.status)).toEqual([202]);
    const status = await fetch(result.statusUrl, { headers: { authorization: 'Bearer x' } });
    expect(status.status).toBe(401);
  });

  it('exports a patient list with a POST Parameters body', async () => {
    const client = await newClient(server, proxy.origin, { parallel: 2 });
    const result = await client.export({ level: { kind: 'patient' }, patients: ['pat-2', 'Patient/pat-6'], types: ['Patient', 'Encounter'] });
    expect(result.ok).toBe(true);
    expect(ids(await readType(result, 'Patient'))).toEqual(['pat-2', 'pat-6']);
    expect(ids(await readType(result, 'Encounter'))).toEqual(['enc-pat-2', 'enc-pat-6']);
    const kick = proxy.requests.find((r) => r.path.endsWith('/Patient/$export'));
    expect(kick?.method).toBe('POST');
    expect(kick?.headers['content-type']).toBe('application/fhir+json');
    expectCleanProtocol(proxy.requests);
  });

  it('runs a system export with _since, _elements and lenient handling (server warnings land in the error files)', async () => {
    const client = await newClient(server, proxy.origin);
    const result = await client.export({
      level: { kind: 'system' },
      types: ['Patient', 'Condition'],
      since: '2000-01-01T00:00:00Z',
      elements: ['name'],
      includeAssociatedData: ['NotAThing'],
      lenient: true,
    });
    expect(result.ok).toBe(true);
    const patients = await readType(result, 'Patient');
    expect(ids(patients)).toEqual([...PATIENTS].sort());
    expect(patients.every((p) => p['gender'] === undefined && p['name'] !== undefined)).toBe(true);
    const conditions = resources.filter((r) => r.resourceType === 'Condition').map((r) => r.id);
    expect(ids(await readType(result, 'Condition'))).toEqual(conditions.sort());
    expect(result.manifest.deleted).toBeDefined();
    const errors = result.files.filter((f) => f.file.kind === 'error');
    expect(errors.length).toBeGreaterThan(0);
    expect(errors.every((f) => f.ok && f.file.name.startsWith('error.OperationOutcome.'))).toBe(true);
    const warnings = parseNdjson(await readFile(join(result.outDir, errors[0]?.file.name as string), 'utf8'));
    expect(JSON.stringify(warnings)).toContain('NotAThing');
    expect(proxy.requests.find((r) => r.path.endsWith('/$export'))?.headers.prefer).toBe('respond-async, handling=lenient');
    expectCleanProtocol(proxy.requests);
  });

  it('resumes a download cut mid-file with Range and ends with identical bytes', async () => {
    const client = await newClient(server, proxy.origin, { deleteJob: 'never', parallel: 1 });
    const events = record(client);
    const CUT = 300;
    let cut: RecordedRequest | undefined;
    proxy.hooks = {
      // Identity encoding on the first try, so that the cut leaves exactly CUT bytes of the file itself.
      request: (r) => (r.path.startsWith(`${DOWNLOAD_PATH}/`) && !r.headers.range ? { headers: { 'accept-encoding': undefined } } : undefined),
      response: (r, status, headers) => {
        if (cut || !r.path.startsWith(`${DOWNLOAD_PATH}/`) || status !== 200 || Number(headers['content-length']) <= CUT * 2) return undefined;
        cut = r;
        return { cutAfterBytes: CUT };
      },
    };
    const result = await client.export({ level: { kind: 'group', groupId: 'grp-main' }, types: ['Patient', 'Observation'] });
    expect(cut).toBeDefined();
    expect(result.ok).toBe(true);

    const resumed = downloads(proxy.requests).filter((r) => r.headers.range !== undefined);
    expect(resumed).toHaveLength(1);
    expect(resumed[0]?.headers.range).toBe(`bytes=${CUT}-`);
    expect(resumed[0]?.headers['accept-encoding']).toBe('identity');
    expect(resumed[0]?.status).toBe(206);
    // The retry asked the file URL again (a fresh pre-signed link), with the token.
    expect(eventsOf(events, 'retry').filter((e) => e.phase === 'download')).toHaveLength(1);
    expect(eventsOf(events, 'file-start').some((e) => e.offset === CUT && e.attempt === 2)).toBe(true);

    // Every file equals what the server serves.
    const token = await tokenOf(lastCredentials);
    for (const f of result.files) {
      const { text } = await download(f.file.url.replace(proxy.origin, server.origin), token);
      expect(await readFile(join(result.outDir, f.file.name), 'utf8'), f.file.name).toBe(text);
    }
    expectCleanProtocol(proxy.requests);
    expect(await client.deleteJob(result.statusUrl)).toBe('deleted');
    expect(await client.deleteJob(result.statusUrl)).toBe('gone');
  });

  it('resumes an export interrupted mid-download: files on disk are kept, the partial one continues with Range', async () => {
    const outDir = await mkdtemp(join(work, 'interrupted-'));
    const client = await newClient(server, proxy.origin, { outDir, parallel: 1, progressIntervalMs: 0, deleteJob: 'never' });
    const STALL = 200;
    let stalled = false;
    proxy.hooks = {
      request: (r) => (r.path.startsWith(`${DOWNLOAD_PATH}/`) && !r.headers.range ? { headers: { 'accept-encoding': undefined } } : undefined),
      response: (r, status, headers) => {
        // The third download sends STALL bytes and then nothing more.
        if (stalled || !r.path.startsWith(`${DOWNLOAD_PATH}/`) || status !== 200 || Number(headers['content-length']) <= STALL * 2) return undefined;
        if (downloads(proxy.requests).length < 3) return undefined;
        stalled = true;
        return { stallAfterBytes: STALL };
      },
    };
    const controller = new AbortController();
    let partial: string | undefined;
    client.on('file-progress', (e) => {
      if (stalled && e.bytes === STALL && !partial) {
        partial = e.file.name;
        controller.abort(); // Ctrl-C
      }
    });
    const error = await client
      .export({ level: { kind: 'group', groupId: 'grp-main' }, types: ['Patient', 'Condition', 'Observation'] }, { signal: controller.signal })
      .catch((e: unknown) => e);
    expect(error).toMatchObject({ name: 'ExportError', aborted: true, jobDeleted: false, phase: 'download' });
    expect(partial).toBeDefined();
    expect((await stat(join(outDir, `${partial}.part`))).size).toBe(STALL);
    const before = (await readdir(outDir)).filter((n) => n.endsWith('.ndjson'));
    expect(before.length).toBeGreaterThanOrEqual(1);

    proxy.hooks = {};
    proxy.requests.length = 0;
    const result = await client.resume((error as { statusUrl: string }).statusUrl);
    expect(result.ok).toBe(true);
    expect(result.files.filter((f) => f.reused).map((f) => f.file.name).sort()).toEqual(before.sort());
    const ranged = downloads(proxy.requests).filter((r) => r.headers.range !== undefined);
    expect(ranged.map((r) => [r.headers.range, r.status])).toEqual([[`bytes=${STALL}-`, 206]]);
    expect(downloads(proxy.requests)).toHaveLength(result.files.length - before.length);
    const token = await tokenOf(lastCredentials);
    for (const f of result.files) {
      const { text } = await download(f.file.url.replace(proxy.origin, server.origin), token);
      expect(await readFile(join(outDir, f.file.name), 'utf8'), f.file.name).toBe(text);
    }
    expect((await readdir(outDir)).filter((n) => n.endsWith('.part'))).toEqual([]);
    expect(await client.deleteJob(result.statusUrl)).toBe('deleted');
  });

  it('waits out a 429 and a transient OperationOutcome while polling', async () => {
    const client = await newClient(server, proxy.origin);
    const events = record(client);
    let polls = 0;
    proxy.hooks = {
      request: (r) => {
        if (r.method !== 'GET' || !r.path.includes('/bulk-export/jobs/')) return undefined;
        polls++;
        if (polls === 1) {
          return { respond: { status: 429, headers: { 'content-type': 'application/fhir+json', 'retry-after': '1' }, body: operationOutcome('throttled', 'slow down') } };
        }
        if (polls === 2) {
          return { respond: { status: 500, headers: { 'content-type': 'application/fhir+json', 'retry-after': '0' }, body: operationOutcome('transient', 'database busy') } };
        }
        if (polls === 3) {
          return { respond: { status: 400, headers: { 'content-type': 'application/fhir+json', 'retry-after': '0' }, body: operationOutcome('transient', 'try again') } };
        }
        return undefined;
      },
    };
    const started = Date.now();
    const result = await client.export({ level: { kind: 'group', groupId: 'grp-main' }, types: ['Patient'] });
    expect(result.ok).toBe(true);
    expect(ids(await readType(result, 'Patient'))).toEqual(GROUP_MEMBERS);
    const retries = eventsOf(events, 'retry').filter((e) => e.phase === 'status');
    expect(retries.map((e) => e.status)).toEqual([429, 500, 400]);
    expect(retries[0]?.delayMs).toBe(1000); // Retry-After honoured
    expect(retries[0]?.reason).toContain('slow down');
    expect(Date.now() - started).toBeGreaterThanOrEqual(1000);
    expectCleanProtocol(proxy.requests);
  });

  it('reports a kick-off the server refuses, with its OperationOutcome', async () => {
    const client = await newClient(server, proxy.origin);
    const errors: string[] = [];
    client.on('error', (e) => errors.push(e.message));
    await expect(client.export({ level: { kind: 'group', groupId: 'grp-main' }, types: ['NoSuchType'] })).rejects.toMatchObject({
      name: 'ExportError',
      phase: 'kickoff',
      message: expect.stringContaining('400'),
    });
    expect(errors[0]).toContain('NoSuchType');
  });

  it('stops on abort and leaves the job for --resume; resume then finishes it', async () => {
    const client = await newClient(server, proxy.origin);
    const controller = new AbortController();
    client.on('kickoff', () => controller.abort());
    const error = await client.export({ level: { kind: 'group', groupId: 'grp-main' }, types: ['Patient'] }, { signal: controller.signal }).catch((e: unknown) => e);
    expect(error).toMatchObject({ name: 'ExportError', aborted: true, jobDeleted: false });
    const statusUrl = (error as { statusUrl: string }).statusUrl;
    expect(statusUrl).toMatch(/\/bulk-export\/jobs\//);

    const result = await client.resume(statusUrl, {});
    expect(result.ok).toBe(true);
    expect(ids(await readType(result, 'Patient'))).toEqual(GROUP_MEMBERS);
    expect(result.jobDeleted).toBe(true);
  });

  it('resumes into the same directory without downloading again what is already there', async () => {
    const client = await newClient(server, proxy.origin, { deleteJob: 'never', outDir: await mkdtemp(join(work, 'same-')) });
    const first = await client.export({ level: { kind: 'group', groupId: 'grp-main' }, types: ['Patient', 'Condition'] });
    expect(first.files.every((f) => f.ok && !f.reused)).toBe(true);
    // Lose one file, as if the run had been interrupted before it.
    const lost = first.files[0]?.file.name as string;
    await rm(join(first.outDir, lost));
    proxy.requests.length = 0;

    const again = await client.resume(first.statusUrl);
    expect(again.ok).toBe(true);
    expect(again.files.filter((f) => !f.reused).map((f) => f.file.name)).toEqual([lost]);
    expect(downloads(proxy.requests)).toHaveLength(1);

    // Another job resumed into the same directory does not take the first job's files for its own.
    const controller = new AbortController();
    const off = client.on('kickoff', () => controller.abort());
    const aborted = await client.export({ level: { kind: 'group', groupId: 'grp-main' }, types: ['Patient', 'Condition'] }, { signal: controller.signal }).catch((e: unknown) => e);
    off();
    const otherStatusUrl = (aborted as { statusUrl: string }).statusUrl;
    expect(otherStatusUrl).not.toBe(first.statusUrl);
    const other = await client.resume(otherStatusUrl);
    expect(other.ok).toBe(true);
    expect(other.files.some((f) => f.reused)).toBe(false);
    expect(await client.deleteJob(first.statusUrl)).toBe('deleted');
    expect(await client.deleteJob(otherStatusUrl)).toBe('deleted');
  });

  it('deletes the job on abort when asked to (deleteJob: always)', async () => {
    const client = await newClient(server, proxy.origin, { deleteJob: 'always' });
    const controller = new AbortController();
    client.on('kickoff', () => controller.abort());
    const problems: string[] = [];
    client.on('error', (e) => problems.push(e.message));
    const error = await client.export({ level: { kind: 'group', groupId: 'grp-main' } }, { signal: controller.signal }).catch((e: unknown) => e);
    expect(problems).toEqual([]);
    expect(error).toMatchObject({ aborted: true, jobDeleted: true });
    // flatfhir sometimes answers 500 to a DELETE racing its worker, and 404 to the retry: gone either way.
    expect(proxy.requests.filter((r) => r.method === 'DELETE').map((r) => r.status)).toContainEqual(expect.any(Number));
    const status = await fetch((error as { statusUrl: string }).statusUrl, { headers: { authorization: `Bearer ${await tokenOf(lastCredentials)}` } });
    expect(status.status).toBe(404);
  });
});

describe('token renewal', () => {
  let shortServer: TestServer;
  let slowProxy: Proxy;

  beforeAll(async () => {
    slowProxy = await startProxy();
    shortServer = await startServer({ publicBaseUrl: slowProxy.origin, auth: { tokenLifetimeSeconds: 2 }, export: { maxFileResources: 2 } });
    slowProxy.target = shortServer.origin;
    await loadFixture(shortServer);
  });

  afterAll(async () => {
    await slowProxy?.close();
    await shortServer?.close();
  });

  it('renews a 2-second token while slow downloads go on', async () => {
    // Each pre-signed download answers 700 ms late: one at a time, the downloads outlive several tokens.
    slowProxy.hooks = { response: (r) => (r.path.startsWith(`${DOWNLOAD_PATH}/`) ? { delayMs: 700 } : undefined) };
    const client = await newClient(shortServer, slowProxy.origin, { parallel: 1 });
    const events = record(client);
    const result = await client.export({ level: { kind: 'group', groupId: 'grp-main' }, types: ['Patient', 'Observation'] });
    expect(result.ok).toBe(true);
    expect(result.files.length).toBeGreaterThanOrEqual(4);
    const tokenRequests = slowProxy.requests.filter((r) => r.path.endsWith('/token'));
    expect(tokenRequests.length).toBeGreaterThanOrEqual(2);
    expect(tokenRequests.every((r) => r.status === 200)).toBe(true);
    expect(eventsOf(events, 'token').filter((t) => t.renewal).length).toBeGreaterThanOrEqual(1);
    expect(client.tokensIssued).toBe(tokenRequests.length);
    // The file URLs needed a token after the first one had expired.
    const firstTokenExpiry = eventsOf(events, 'token')[0]?.expiresAt as number;
    expect(eventsOf(events, 'file-done').length).toBe(result.files.length);
    expect(firstTokenExpiry).toBeLessThan(Date.now());
    expectCleanProtocol(slowProxy.requests);
  });
});
