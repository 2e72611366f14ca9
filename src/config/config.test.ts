import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { configFromEnv, configOptions, loadConfig } from './index.js';
import { configReference } from './reference.js';

describe('configuration', () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'flatfhir-config-'));
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('gives every option an environment variable and a description', () => {
    const options = configOptions();
    expect(options.length).toBeGreaterThan(20);
    for (const o of options) {
      expect(o.env.length, o.key).toBeGreaterThan(0);
      expect(o.description.length, o.key).toBeGreaterThan(5);
    }
    expect(new Set(options.flatMap((o) => o.env)).size).toBe(options.flatMap((o) => o.env).length);
  });

  it('reads the environment through the options, aliases included', () => {
    expect(configFromEnv({ PORT: '9000', FLATFHIR_EXPORT_CONCURRENCY: '4', DATABASE_URL: 'postgres://x/y' })).toEqual({
      port: '9000',
      databaseUrl: 'postgres://x/y',
      export: { concurrency: '4' },
    });
    expect(configFromEnv({ FLATFHIR_PORT: '1', PORT: '2' })).toEqual({ port: '1' });
  });

  it('layers defaults, a YAML or JSON file, the environment and overrides, in that order', async () => {
    const yaml = join(dir, 'flatfhir.yaml');
    await writeFile(yaml, 'port: 7000\nhost: 0.0.0.0\nexport:\n  concurrency: 3\n  threads: 1\n');
    const fromFile = loadConfig({}, {}, yaml);
    expect([fromFile.port, fromFile.host, fromFile.export.concurrency, fromFile.export.threads, fromFile.export.maxFileResources]).toEqual([7000, '0.0.0.0', 3, 1, 100_000]);
    const layered = loadConfig({ export: { threads: 0 } }, { FLATFHIR_CONFIG: yaml, FLATFHIR_EXPORT_CONCURRENCY: '5' });
    expect([layered.port, layered.export.concurrency, layered.export.threads]).toEqual([7000, 5, 0]);
    const json = join(dir, 'flatfhir.json');
    await writeFile(json, JSON.stringify({ auth: { kickoffsPerMinute: 7 } }));
    expect(loadConfig({}, {}, json).auth.kickoffsPerMinute).toBe(7);
  });

  it('names the file and the key of a bad setting', async () => {
    const bad = join(dir, 'bad.yaml');
    await writeFile(bad, 'export:\n  concurrency: none\n');
    expect(() => loadConfig({}, {}, bad)).toThrow(/bad\.yaml.*export\.concurrency/);
    await writeFile(bad, '- a list\n');
    expect(() => loadConfig({}, {}, bad)).toThrow(/must hold an object/);
    expect(() => loadConfig({}, {}, join(dir, 'missing.json'))).toThrow(/Cannot read the configuration file .*ENOENT/);
  });

  it('keeps docs/configuration.md generated from the schema (npm run docs:config)', async () => {
    const docs = await readFile(join(import.meta.dirname, '..', '..', 'docs', 'configuration.md'), 'utf8');
    expect(docs).toBe(configReference());
    for (const o of configOptions()) expect(docs).toContain(`\`${o.key}\``);
  });
});
