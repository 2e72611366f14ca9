import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../src/config/index.js';
import { importPaths } from '../src/import/importer.js';
import { createLogger, createRuntime, type Runtime } from '../src/main.js';
import { fixtureResources, writeNdjson } from './fixtures/population.js';
import { createTestClient, signAssertion, tokenForm } from './helpers/auth.js';
import { KICKOFF_HEADERS, waitForJob } from './helpers/server.js';

let runtime: Runtime;
let dataDir: string;
let origin: string;
const lines: string[] = [];

beforeAll(async () => {
  dataDir = await mkdtemp(join(tmpdir(), 'flatfhir-logs-'));
  const config = loadConfig({ dataDir, port: 0, logLevel: 'trace', seedSandbox: false, export: { threads: 0 } }, {});
  const sink = new PassThrough();
  sink.on('data', (d: Buffer) => lines.push(...d.toString().split('\n').filter(Boolean)));
  runtime = await createRuntime(config, { log: createLogger(config, sink) });
  await runtime.app.listen({ port: 0, host: '127.0.0.1' });
  const address = runtime.app.server.address();
  origin = `http://127.0.0.1:${typeof address === 'object' && address ? address.port : 0}`;
  await runtime.worker.start();
  const dir = await mkdtemp(join(tmpdir(), 'flatfhir-fixture-'));
  await writeNdjson(dir, fixtureResources());
  await importPaths({ resources: runtime.store.resources, tenant: 't', paths: [dir], maxGroupMembers: 100 });
  await rm(dir, { recursive: true });
});

afterAll(async () => {
  await runtime?.close();
  await rm(dataDir, { recursive: true, force: true });
});

describe('logs', () => {
  it('carry no tokens, assertions, keys, query strings or patient data, even at trace level', async () => {
    const client = await createTestClient(runtime.store.clients, 't');
    const tokenUrl = runtime.auth.tokenUrl(origin, 't');
    const assertion = await signAssertion(client, tokenUrl);
    const tokenResponse = await fetch(tokenUrl, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams(tokenForm(assertion)),
    });
    const { access_token: token } = (await tokenResponse.json()) as { access_token: string };
    // a replayed assertion fails, and is logged as a failure without the assertion
    await fetch(tokenUrl, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: new URLSearchParams(tokenForm(assertion)) });
    const marker = 'FamPatientSecretName';
    const kick = await fetch(`${origin}/r4/t/Patient/$export?_type=Patient&_typeFilter=${encodeURIComponent(`Patient?family=${marker}`)}`, {
      headers: { ...KICKOFF_HEADERS, authorization: `Bearer ${token}` },
    });
    expect(kick.status).toBe(202);
    const { response } = await waitForJob(kick.headers.get('content-location') as string, token);
    expect(response.status).toBe(200);
    await fetch(`${origin}/r4/t/Patient/$export`, { headers: { ...KICKOFF_HEADERS, authorization: 'Bearer garbage-token-value' } });

    const all = lines.join('\n');
    expect(lines.length).toBeGreaterThan(5);
    expect(all).not.toContain(token);
    expect(all).not.toContain(assertion);
    expect(all).not.toContain(assertion.split('.')[2] as string);
    expect(all).not.toContain('garbage-token-value');
    expect(all).not.toContain(marker);
    expect(all).not.toContain('_typeFilter');
    expect(all).not.toMatch(/"d":"/);
    expect(all).not.toContain('Ann');
  });
});
