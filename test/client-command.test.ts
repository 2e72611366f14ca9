/**
 * `flatfhir export`, invoked as users do: in-process through `exportCommand().parseAsync([...], { from: 'user' })`
 * with its output captured, and once as a real process (`node --import tsx src/cli/main.ts export …`) for the exit
 * code. Against flatfhir with the sandbox client file (the README quick start) and against the stand-in vendor.
 */
import { spawn } from 'node:child_process';
import { mkdtemp, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { exportJWK } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ensureSandboxClient, sandboxClientFile } from '../src/auth/sandbox-client.js';
import { exportCommand, type ExportCommandIo } from '../src/cli/export-command.js';
import { importPaths } from '../src/import/importer.js';
import { fixtureResources, GROUP_MEMBERS, writeNdjson } from './fixtures/population.js';
import { generateClientKey } from './helpers/auth.js';
import { parseNdjson, startServer, type TestServer } from './helpers/server.js';
import { type StandIn, type StandInOptions, startStandInServer } from './helpers/stand-in-server.js';

const TENANT = 'tenant-cli';
let server: TestServer;
let work: string;
let clientFile: string;

const ndjson = (rows: Record<string, unknown>[]): string => rows.map((r) => `${JSON.stringify(r)}\n`).join('');
const PATIENTS = ndjson([{ resourceType: 'Patient', id: 'a' }, { resourceType: 'Patient', id: 'b' }]);

interface Captured {
  io: ExportCommandIo;
  stdout: () => string;
  stderr: () => string;
}

function capture(extra: ExportCommandIo = {}): Captured {
  let out = '';
  let err = '';
  return {
    io: {
      stdout: { write: (t: string) => (out += t) },
      stderr: { write: (t: string) => (err += t) },
      isTTY: false,
      clientOptions: { retry: { baseDelayMs: 50, maxDelayMs: 200 } },
      ...extra,
    },
    stdout: () => out,
    stderr: () => err,
  };
}

/** Waits until `condition()` holds (checked every 20 ms); fails after 15 s. */
async function waitFor(condition: () => boolean, what: string): Promise<void> {
  const deadline = Date.now() + 15_000;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** Runs the command in-process; resolves with the error it failed with, if any. */
async function run(args: string[], c: Captured): Promise<Error | undefined> {
  const cmd = exportCommand(c.io).exitOverride().configureOutput({ writeErr: (t) => c.io.stderr?.write(t), writeOut: (t) => c.io.stdout?.write(t) });
  try {
    await cmd.parseAsync(args, { from: 'user' });
    return undefined;
  } catch (e) {
    return e as Error;
  }
}

/** A stand-in vendor and a key file for it. */
async function standInWithKey(options: Partial<StandInOptions>): Promise<{ standIn: StandIn; keyFile: string; clientId: string }> {
  const key = await generateClientKey('ES384');
  const clientId = 'cli-client';
  const standIn = await startStandInServer({ clientId, publicJwk: key.publicJwk, files: [{ type: 'Patient', body: PATIENTS, count: 2 }], ...options });
  const keyFile = join(await mkdtemp(join(work, 'key-')), 'private.jwk.json');
  await writeFile(keyFile, JSON.stringify({ ...(await exportJWK(key.privateKey)), kid: key.kid, alg: 'ES384' }));
  return { standIn, keyFile, clientId };
}

beforeAll(async () => {
  work = await mkdtemp(join(tmpdir(), 'flatfhir-cli-'));
  server = await startServer();
  const dir = await mkdtemp(join(work, 'fixture-'));
  await writeNdjson(dir, fixtureResources());
  await importPaths({ resources: server.runtime.store.resources, tenant: TENANT, paths: [dir], maxGroupMembers: 100 });
  // The client file `flatfhir serve` writes for the sandbox tenant.
  const dataDir = await mkdtemp(join(work, 'data-'));
  await ensureSandboxClient({
    clients: server.runtime.store.clients,
    dataDir,
    tenant: TENANT,
    fhirBaseUrl: server.base(TENANT),
    tokenUrl: server.tokenUrl(TENANT),
  });
  clientFile = sandboxClientFile(dataDir);
});

afterAll(async () => {
  await server?.close();
  await rm(work, { recursive: true, force: true });
});

describe('flatfhir export', () => {
  it('exports a group with --client-file alone giving the FHIR URL (the README quick start)', async () => {
    const out = join(work, 'quick-start');
    const c = capture();
    const error = await run(['--client-file', clientFile, '--group', 'grp-main', '--out', out], c);
    expect(error).toBeUndefined();
    // The summary table on stdout.
    const table = c.stdout();
    expect(table).toMatch(/^type\s+files\s+resources\s+bytes$/m);
    expect(table).toMatch(/^Patient\s+1\s+2\s+\d+(\.\d)? (B|KiB)$/m);
    expect(table).toMatch(/^total\s+\d+\s+\d+/m);
    expect(table).toContain('the job was deleted on the server');
    // Log lines on stderr (not a terminal).
    expect(c.stderr()).toContain('export started');
    expect(c.stderr()).toContain('in progress');
    const files = await readdir(out);
    expect(files).toContain('manifest.json');
    // patient data: a 0700 folder of 0600 files
    expect((await stat(out)).mode & 0o777).toBe(0o700);
    for (const f of files) expect((await stat(join(out, f))).mode & 0o777, f).toBe(0o600);
    expect(files).toContain('Patient.000.ndjson');
    const ids = parseNdjson(await readFile(join(out, 'Patient.000.ndjson'), 'utf8')).map((p) => p['id']);
    expect(ids.sort()).toEqual(GROUP_MEMBERS);
  });

  it('prints JSON events on stdout with --json, with --type, --patient and --keep', async () => {
    const out = join(work, 'json');
    const c = capture();
    const error = await run(['--client-file', clientFile, '--patient', 'pat-1', 'Patient/pat-3', '--type', 'Patient,Encounter', '--keep', '--json', '--out', out], c);
    expect(error).toBeUndefined();
    const events = c.stdout().trim().split('\n').map((l) => JSON.parse(l) as { event: string; [k: string]: unknown });
    const names = events.map((e) => e.event);
    for (const n of ['discovered', 'token', 'kickoff', 'status', 'manifest', 'file-start', 'file-done', 'done']) expect(names).toContain(n);
    expect(names.at(-1)).toBe('done');
    expect(names).not.toContain('job-deleted');
    const done = events.at(-1) as unknown as { ok: boolean; jobDeleted: boolean; summary: { type: string; resources: number }[] };
    expect(done.ok).toBe(true);
    expect(done.jobDeleted).toBe(false);
    expect(done.summary).toEqual([
      expect.objectContaining({ type: 'Encounter', resources: 2 }),
      expect.objectContaining({ type: 'Patient', resources: 2 }),
    ]);
    expect(c.stderr()).toBe('');
  });

  it('shows progress bars on a terminal', async () => {
    const { standIn, keyFile, clientId } = await standInWithKey({ pollsBeforeComplete: 1 });
    try {
      let screen = '';
      const tty = Object.assign(
        new Writable({
          write(chunk: Buffer, _enc, cb) {
            screen += chunk.toString();
            cb();
          },
        }),
        { isTTY: true, columns: 120, rows: 40 },
      );
      const c = capture({ isTTY: true, stderr: tty });
      const error = await run(['--fhir-url', standIn.fhirBase, '--client-id', clientId, '--private-key', keyFile, '--all-patients', '--out', join(work, 'tty')], c);
      expect(error).toBeUndefined();
      expect(screen).toContain('export started');
      expect(screen).toContain('downloaded Patient.000.ndjson: 2 resources');
      expect(screen).toMatch(/total \[.*\] 100%/);
      expect(c.stdout()).toMatch(/^Patient\s+1\s+2\s/m);
    } finally {
      await standIn.close();
    }
  });

  it('exits non-zero when a file fails its check, and says how to retry', async () => {
    const { standIn, keyFile, clientId } = await standInWithKey({
      pollsBeforeComplete: 0,
      files: [
        { type: 'Patient', body: PATIENTS, count: 2 },
        { type: 'Observation', body: PATIENTS, count: 2 },
      ],
    });
    try {
      const out = join(work, 'bad');
      const c = capture();
      const error = await run(['--fhir-url', standIn.fhirBase, '--client-id', clientId, '--private-key', keyFile, '--system', '--out', out], c);
      expect(error?.message).toBe('1 of 2 file(s) failed.');
      expect(c.stderr()).toMatch(/failed: Observation\.000\.ndjson: check failed: line 1 has resourceType "Patient", expected Observation/);
      expect(c.stderr()).toContain(`flatfhir export --resume ${standIn.origin}/jobs/1`);
      expect(c.stdout()).toMatch(/^type\s+files\s+resources\s+bytes\s+failed$/m);
      expect(standIn.deleted).toBe(false);

      // The same as a real process: exit code 1 and the message on stderr.
      const child = spawn(
        process.execPath,
        ['--import', 'tsx', 'src/cli/main.ts', 'export', '--fhir-url', standIn.fhirBase, '--client-id', clientId, '--private-key', keyFile, '--system', '--out', join(work, 'bad-process')],
        { cwd: process.cwd(), stdio: ['ignore', 'pipe', 'pipe'] },
      );
      let stderr = '';
      child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
      child.stdout.resume();
      const code = await new Promise<number | null>((resolve) => child.on('close', resolve));
      expect(stderr).toContain('flatfhir: 1 of 2 file(s) failed.');
      expect(code).toBe(1);
    } finally {
      await standIn.close();
    }
  });

  it('prints how to resume when interrupted, and --resume finishes the export', async () => {
    const { standIn, keyFile, clientId } = await standInWithKey({ pollsBeforeComplete: 2, retryAfterDate: false });
    try {
      const out = join(work, 'resume');
      const controller = new AbortController();
      const c = capture({ signal: controller.signal });
      const args = ['--fhir-url', standIn.fhirBase, '--client-id', clientId, '--private-key', keyFile];
      const running = run([...args, '--all-patients', '--out', out], c);
      await waitFor(() => c.stderr().includes('in progress'), 'the first poll');
      controller.abort();
      const error = await running;
      expect(error?.message).toBe('The export was aborted.');
      const hint = `flatfhir export --resume ${standIn.origin}/jobs/1 --fhir-url ${standIn.fhirBase} --client-id ${clientId} --private-key ${keyFile} --out ${out}`;
      expect(c.stderr()).toContain(hint);
      expect(standIn.deleted).toBe(false);

      const again = capture();
      expect(await run(hint.split(' ').slice(2), again)).toBeUndefined();
      expect(again.stdout()).toMatch(/^Patient\s+1\s+2\s/m);
      expect(standIn.kickoffs).toHaveLength(1);
      expect(standIn.deleted).toBe(true);
    } finally {
      await standIn.close();
    }
  });

  it('on Ctrl-C (SIGINT) stops, and with --delete-after deletes the job', async () => {
    const { standIn, keyFile, clientId } = await standInWithKey({ pollsBeforeComplete: 100, retryAfterDate: false });
    try {
      const child = spawn(
        process.execPath,
        ['--import', 'tsx', 'src/cli/main.ts', 'export', '--fhir-url', standIn.fhirBase, '--client-id', clientId, '--private-key', keyFile, '--all-patients', '--delete-after', '--out', join(work, 'sigint')],
        { cwd: process.cwd(), stdio: ['ignore', 'pipe', 'pipe'] },
      );
      let stderr = '';
      child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
      child.stdout.resume();
      const closed = new Promise<number | null>((resolve) => child.on('close', resolve));
      await waitFor(() => stderr.includes('in progress'), 'the first poll');
      child.kill('SIGINT');
      expect(await closed).toBe(1);
      expect(stderr).toContain('Interrupted: stopping');
      expect(stderr).toContain('The job was deleted on the server.');
      expect(stderr).toContain('flatfhir: The export was aborted.');
      expect(standIn.deleted).toBe(true);
    } finally {
      await standIn.close();
    }
  });

  it('refuses incomplete or contradictory options', async () => {
    const c = capture();
    expect((await run(['--client-file', clientFile, '--out', join(work, 'x')], c))?.message).toMatch(/Choose what to export/);
    expect((await run(['--client-file', clientFile, '--group', 'g', '--system', '--out', join(work, 'x')], c))?.message).toMatch(/Choose one of/);
    expect((await run(['--group', 'g', '--out', join(work, 'x')], c))?.message).toMatch(/--client-file, or --client-id with --private-key/);
    expect((await run(['--client-file', clientFile, '--group', 'g', '--keep', '--delete-after', '--out', join(work, 'x')], c))?.message).toMatch(
      /cannot be used with/,
    );
    expect((await run(['--client-file', clientFile, '--resume', 'http://x/jobs/1', '--group', 'g', '--out', join(work, 'x')], c))?.message).toMatch(
      /--resume continues an existing export/,
    );
    expect((await run(['--client-file', clientFile, '--group', 'g', '--parallel', '0', '--out', join(work, 'x')], c))?.message).toMatch(/--parallel/);
  });
});
