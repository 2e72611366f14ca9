/**
 * The README's curl session, pasted whole into bash as a new user would, against a real server with the sandbox
 * seeded: the poll loop waits for 200, the file downloads, the job is deleted.
 */
import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ensureSandboxClient } from '../src/auth/sandbox-client.js';
import { SANDBOX_TENANT } from '../src/config/index.js';
import { seedSandbox } from '../src/main.js';
import { REPO } from './helpers/process.js';
import { parseNdjson, startServer, type TestServer } from './helpers/server.js';

let server: TestServer;
let work: string;

beforeAll(async () => {
  server = await startServer({ sandboxPatients: 12 });
  await seedSandbox(server.runtime.config, server.runtime.store, server.runtime.log);
  work = await mkdtemp(join(tmpdir(), 'flatfhir-readme-'));
  await ensureSandboxClient({
    clients: server.runtime.store.clients,
    dataDir: join(work, 'data'),
    tenant: SANDBOX_TENANT,
    fhirBaseUrl: server.base(SANDBOX_TENANT),
    tokenUrl: server.tokenUrl(SANDBOX_TENANT),
  });
}, 120_000);

afterAll(async () => {
  await server?.close();
  if (work) await rm(work, { recursive: true, force: true });
});

/** The first ```sh block after a heading of the README. */
async function readmeBlock(heading: string): Promise<string> {
  const readme = await readFile(join(REPO, 'README.md'), 'utf8');
  const section = readme.slice(readme.indexOf(`\n${heading}\n`));
  const m = /```sh\n([\s\S]*?)```/.exec(section);
  if (!m?.[1]) throw new Error(`no sh block under ${heading}`);
  return m[1];
}

describe('the README', () => {
  it('"A complete export session" runs pasted whole: it waits for 200, downloads the file and deletes the job', async () => {
    const block = (await readmeBlock('## A complete export session')).replaceAll('http://127.0.0.1:8080', server.origin);
    // `npx flatfhir` of a clone, run from the sources
    const npx = `npx() { [ "$1" = flatfhir ] && shift; node --import "${fileURLToPath(import.meta.resolve('tsx'))}" "${join(REPO, 'src/cli/main.ts')}" "$@"; }\n`;
    const { stdout } = await promisify(execFile)('bash', ['-c', npx + block], { cwd: work, timeout: 60_000 });
    expect(stdout).toMatch(/^status URL: http:\/\/127\.0\.0\.1:\d+\/r4\/[^\s]+\/bulk-export\/jobs\//m);
    expect(stdout).toContain('HTTP 200');
    expect(stdout).toMatch(/^\s*10 Patient\.ndjson$/m);
    expect(stdout).toMatch(/^HTTP\/1\.1 202 Accepted/m);
    const patients = parseNdjson(await readFile(join(work, 'Patient.ndjson'), 'utf8'));
    expect(patients).toHaveLength(10);
    expect(patients.every((p) => p['resourceType'] === 'Patient')).toBe(true);
    const manifest = JSON.parse(await readFile(join(work, 'manifest.json'), 'utf8')) as { output: { type: string }[] };
    expect(manifest.output.map((o) => o.type)).toEqual(expect.arrayContaining(['Patient', 'Condition']));
  }, 120_000);
});
