/**
 * What `flatfhir serve` writes: off a terminal, one JSON object per line on stdout and nothing else, "listening"
 * once, no sandbox URL when there is no sandbox (`--no-seed` on a fresh store); at the default level (info) no
 * request lines, but kick-offs and job completions.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { afterAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../src/config/index.js';
import { importPaths } from '../src/import/importer.js';
import { createLogger, createRuntime } from '../src/main.js';
import { fixtureResources, writeNdjson } from './fixtures/population.js';
import { createTestClient, signAssertion, tokenForm } from './helpers/auth.js';
import { runFlatfhir, stop } from './helpers/process.js';
import { KICKOFF_HEADERS, waitForJob } from './helpers/server.js';

const dirs: string[] = [];
afterAll(async () => {
  for (const d of dirs) await rm(d, { recursive: true, force: true });
});

describe('flatfhir serve output', () => {
  it('is JSON lines only, says "listening" once, and gives no sandbox URL with --no-seed', async () => {
    const dataDir = await mkdtemp(join(tmpdir(), 'flatfhir-serve-out-'));
    dirs.push(dataDir);
    const p = runFlatfhir(['serve', '--no-seed', '--data', dataDir, '--port', '0'], { FLATFHIR_EXPORT_THREADS: '0' });
    try {
      const origin = await p.listening;
      expect((await fetch(`${origin}/no/such/path`)).status).toBe(404);
      expect((await fetch(`${origin}/r4/ec2458f2-1e24-41c8-b71b-0e701af7583d/metadata`)).status).toBeLessThan(500);
    } finally {
      expect(await stop(p)).toBe(0);
    }
    const lines = p.stdout().split('\n').filter((l) => l !== '');
    const parsed = lines.map((l) => {
      expect(() => JSON.parse(l), `not a JSON line: ${l}`).not.toThrow();
      return JSON.parse(l) as { level: number; msg: string };
    });
    expect(parsed.filter((l) => /listening/i.test(l.msg)).map((l) => l.msg)).toEqual([expect.stringMatching(/^flatfhir is listening on http:\/\//)]);
    expect(p.stdout()).not.toContain('Sandbox FHIR base URL');
    expect(p.stdout()).not.toContain('sandbox client ready');
    expect(parsed.filter((l) => /request/.test(l.msg))).toEqual([]);
  }, 60_000);

  it('logs kick-offs and completed jobs at info, requests only at debug', async () => {
    const dataDir = await mkdtemp(join(tmpdir(), 'flatfhir-serve-info-'));
    dirs.push(dataDir);
    const config = loadConfig({ dataDir, port: 0, seedSandbox: false, export: { threads: 0 } }, {});
    expect(config.logLevel).toBe('info');
    const lines: { level: number; msg: string }[] = [];
    const sink = new PassThrough();
    sink.on('data', (d: Buffer) => lines.push(...d.toString().split('\n').filter(Boolean).map((l) => JSON.parse(l) as { level: number; msg: string })));
    const runtime = await createRuntime(config, { log: createLogger(config, sink) });
    try {
      await runtime.app.listen({ port: 0, host: '127.0.0.1' });
      const origin = runtime.origin();
      await runtime.worker.start();
      const fixture = join(dataDir, 'fixture');
      await writeNdjson(fixture, fixtureResources());
      await importPaths({ resources: runtime.store.resources, tenant: 't', paths: [fixture], maxGroupMembers: 100 });
      const client = await createTestClient(runtime.store.clients, 't');
      const tokenUrl = runtime.auth.tokenUrl(origin, 't');
      const tokenResponse = await fetch(tokenUrl, {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        body: new URLSearchParams(tokenForm(await signAssertion(client, tokenUrl))),
      });
      const { access_token: token } = (await tokenResponse.json()) as { access_token: string };
      const kick = await fetch(`${origin}/r4/t/Patient/$export?_type=Patient`, { headers: { ...KICKOFF_HEADERS, authorization: `Bearer ${token}` } });
      expect(kick.status).toBe(202);
      expect((await waitForJob(kick.headers.get('content-location') as string, token)).response.status).toBe(200);
    } finally {
      await runtime.close();
    }
    const info = lines.filter((l) => l.level === 30).map((l) => l.msg);
    expect(info).toContain('export job accepted');
    expect(info).toContain('export job completed');
    expect(lines.filter((l) => l.msg === 'incoming request' || l.msg === 'request completed')).toEqual([]);
  }, 60_000);
});
