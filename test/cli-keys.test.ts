/**
 * Keys as users have them (PEM and JWK files) wherever a command takes one, `client register --generate-key
 * --client-file-out`, `token` discovering its token URL, unknown tenants refused, `client list` as a table, and
 * `export --out` refusing a directory holding another export. In-process against a real server; the error
 * messages once as a real process.
 */
import { generateKeyPairSync } from 'node:crypto';
import { mkdir, mkdtemp, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Command } from 'commander';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { clientCommand, type OpenedClientStore } from '../src/cli/client-command.js';
import { exportCommand } from '../src/cli/export-command.js';
import { tokenCommand } from '../src/cli/token-command.js';
import { importPaths } from '../src/import/importer.js';
import { fixtureResources, writeNdjson } from './fixtures/population.js';
import { runFlatfhir } from './helpers/process.js';
import { auth, startServer, type TestServer } from './helpers/server.js';

const TENANT = 'tenant-keys';
let server: TestServer;
let work: string;

beforeAll(async () => {
  work = await mkdtemp(join(tmpdir(), 'flatfhir-keys-cli-'));
  server = await startServer();
  const dir = await mkdtemp(join(work, 'fixture-'));
  await writeNdjson(dir, fixtureResources());
  await importPaths({ resources: server.runtime.store.resources, tenant: TENANT, paths: [dir], maxGroupMembers: 100 });
});

afterAll(async () => {
  await server?.close();
  await rm(work, { recursive: true, force: true });
});

function quiet(cmd: Command): Command {
  cmd.exitOverride().configureOutput({ writeOut: () => {}, writeErr: () => {} });
  for (const sub of cmd.commands) quiet(sub);
  return cmd;
}

const opened = (): OpenedClientStore => ({
  clients: server.runtime.store.clients,
  tenants: () => server.runtime.store.resources.listTenants(),
  fhirBase: (tenant) => server.base(tenant),
  close: async () => {},
});

/** `flatfhir client ARGS…` against the server's store; resolves with what it printed. */
async function client(args: string[]): Promise<string> {
  let out = '';
  await quiet(clientCommand(async () => opened(), { stdout: { write: (t: string) => (out += t) } })).parseAsync(args, { from: 'user' });
  return out;
}

/** `flatfhir token ARGS…`; resolves with the token it printed. */
async function token(args: string[]): Promise<string> {
  const written: string[] = [];
  const spy = vi.spyOn(process.stdout, 'write').mockImplementation((chunk: string | Uint8Array) => {
    written.push(String(chunk));
    return true;
  });
  try {
    await quiet(tokenCommand()).parseAsync(args, { from: 'user' });
  } finally {
    spy.mockRestore();
  }
  return written.join('').trim();
}

async function expectWorks(accessToken: string): Promise<void> {
  expect(accessToken.split('.')).toHaveLength(3);
  expect((await fetch(`${server.base(TENANT)}/Group/none`, { headers: auth(accessToken) })).status).toBe(404);
}

describe('PEM keys', () => {
  const pairs = [
    { name: 'RSA PKCS#8 / SPKI', type: 'rsa', pub: 'spki', priv: 'pkcs8' },
    { name: 'RSA PKCS#1', type: 'rsa', pub: 'pkcs1', priv: 'pkcs1' },
    { name: 'EC P-384 PKCS#8 / SPKI', type: 'ec', pub: 'spki', priv: 'pkcs8' },
    { name: 'EC P-384 SEC1', type: 'ec', pub: 'spki', priv: 'sec1' },
  ] as const;
  for (const p of pairs) {
    it(`registers a ${p.name} public key and signs with its private key (token discovers the token URL)`, async () => {
      const { publicKey, privateKey } =
        p.type === 'rsa' ? generateKeyPairSync('rsa', { modulusLength: 2048 }) : generateKeyPairSync('ec', { namedCurve: 'P-384' });
      const pubFile = join(work, `${p.type}-${p.pub}-${p.priv}.pub.pem`);
      const privFile = join(work, `${p.type}-${p.pub}-${p.priv}.key.pem`);
      await writeFile(pubFile, publicKey.export({ type: p.pub, format: 'pem' }) as string);
      await writeFile(privFile, privateKey.export({ type: p.priv, format: 'pem' }) as string);
      const registered = JSON.parse(await client(['register', '--tenant', TENANT, '--jwks-file', pubFile, '--scope', 'system/*.rs'])) as { client_id: string };
      await expectWorks(await token(['--client-id', registered.client_id, '--private-key', privFile, '--fhir-url', server.base(TENANT)]));
    });
  }

  it('refuses a private key given as the public one, and a file that is no key', async () => {
    const { privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-384' });
    const file = join(work, 'private-as-public.pem');
    await writeFile(file, privateKey.export({ type: 'pkcs8', format: 'pem' }) as string);
    await expect(client(['register', '--tenant', TENANT, '--jwks-file', file, '--scope', 'system/*.rs'])).rejects.toThrow(/holds a private key/);
    const junk = join(work, 'junk.txt');
    await writeFile(junk, 'hello');
    await expect(client(['register', '--tenant', TENANT, '--jwks-file', junk, '--scope', 'system/*.rs'])).rejects.toThrow(/not a key file: expected a JWK, a JWK Set, or PEM/);
  });

  it('says which key formats are accepted in --help', () => {
    const register = clientCommand(async () => opened()).commands.find((c) => c.name() === 'register');
    expect(register?.helpInformation()).toMatch(/PEM/);
    expect(tokenCommand().helpInformation()).toMatch(/PEM/);
    expect(exportCommand().helpInformation()).toMatch(/PEM/);
  });
});

describe('client register --generate-key --client-file-out', () => {
  for (const alg of ['ES384', 'RS384']) {
    it(`writes a 0600 client file (${alg}) that token and export take`, async () => {
      const file = join(work, `client-${alg}.json`);
      const printed = JSON.parse(
        await client(['register', '--tenant', TENANT, '--generate-key', '--alg', alg, '--scope', 'system/*.rs', '--client-file-out', file, '--name', 'gen']),
      ) as { client_id: string; jwks: { keys: Record<string, unknown>[] } };
      expect((await stat(file)).mode & 0o777).toBe(0o600);
      const content = JSON.parse(await readFile(file, 'utf8')) as { clientId: string; fhirBaseUrl: string; tokenUrl?: string; privateJwk: { alg: string; d?: string } };
      expect(content).toMatchObject({ clientId: printed.client_id, fhirBaseUrl: server.base(TENANT), privateJwk: { alg } });
      expect(content.tokenUrl).toBeUndefined();
      expect(printed.jwks.keys[0]).not.toHaveProperty('d');
      await expectWorks(await token(['--client-file', file]));
      if (alg === 'ES384') {
        const out = join(work, 'gen-export');
        const error = await exportCommand({ stdout: { write: () => true }, stderr: { write: () => true }, isTTY: false })
          .exitOverride()
          .parseAsync(['--client-file', file, '--group', 'grp-main', '--type', 'Patient', '--out', out], { from: 'user' })
          .then(() => undefined, (e: unknown) => e);
        expect(error).toBeUndefined();
        expect(await readdir(out)).toContain('Patient.000.ndjson');
      }
    });
  }

  it('needs --client-file-out with --generate-key', async () => {
    await expect(client(['register', '--tenant', TENANT, '--generate-key', '--scope', 'system/*.rs'])).rejects.toThrow(/--client-file-out/);
  });
});

describe('tenants', () => {
  it('refuses unknown and invalid tenants', async () => {
    const file = join(work, 'unused.json');
    const args = (tenant: string) => ['register', '--tenant', tenant, '--generate-key', '--scope', 'system/*.rs', '--client-file-out', file];
    await expect(client(args('my-tennant'))).rejects.toThrow(/There is no tenant my-tennant/);
    await expect(client(args('my tenant'))).rejects.toThrow(/not a valid tenant id/);
    await expect(client(['list', '--tenant', 'my-tennant'])).rejects.toThrow(/There is no tenant my-tennant/);
    await expect(importPaths({ resources: server.runtime.store.resources, tenant: 'my tenant', paths: [work], maxGroupMembers: 10 })).rejects.toThrow(
      /not a valid tenant id/,
    );
    expect(await server.runtime.store.resources.listTenants()).not.toContain('my tenant');
  });
});

describe('client list', () => {
  it('prints a table, and JSON with --json', async () => {
    const table = await client(['list', '--tenant', TENANT]);
    const [header, ...rows] = table.trimEnd().split('\n');
    expect(header).toMatch(/^CLIENT ID\s+NAME\s+TENANT\s+SCOPES\s+STATE\s+CREATED$/);
    expect(rows.length).toBeGreaterThan(0);
    expect(rows.find((r) => / gen /.test(r))).toMatch(/^[0-9a-f-]{36}\s+gen\s+tenant-keys\s+system\/\*\.rs\s+enabled\s+\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);
    const json = JSON.parse(await client(['list', '--tenant', TENANT, '--json'])) as { tenant: string }[];
    expect(json).toHaveLength(rows.length);
  });
});

describe('export --out', () => {
  it('refuses a directory that holds other files, and --force clears it', async () => {
    const file = join(work, 'client-ES384.json');
    const out = join(work, 'busy');
    await mkdir(out);
    await writeFile(join(out, 'Patient.000.ndjson'), '{"resourceType":"Patient","id":"other-cohort"}\n');
    let err = '';
    const io = { stdout: { write: () => true }, stderr: { write: (t: string) => (err += t) }, isTTY: false };
    const run = (extra: string[]) =>
      exportCommand(io)
        .exitOverride()
        .parseAsync(['--client-file', file, '--group', 'grp-main', '--type', 'Patient', '--out', out, ...extra], { from: 'user' })
        .then(() => undefined, (e: unknown) => e as Error);
    expect((await run([]))?.message).toMatch(/--out .* is not empty.*--force/);
    expect((await readdir(out)).sort()).toEqual(['Patient.000.ndjson']);
    expect(await run(['--force'])).toBeUndefined();
    expect(err).toContain('--force: removed 1 entries');
    expect(await readFile(join(out, 'Patient.000.ndjson'), 'utf8')).not.toContain('other-cohort');
    // a finished export is another job: a second export there is refused too, naming it
    expect((await run([]))?.message).toMatch(/holds the files of another export \(http/);
  });
});

describe('errors as a process', () => {
  it('a server that is down: one message, "is the server running", no --token-url hint', async () => {
    const file = join(work, 'client-ES384.json');
    const p = runFlatfhir(['export', '--client-file', file, '--fhir-url', 'http://127.0.0.1:1/r4/x', '--group', 'g', '--out', join(work, 'down')]);
    expect(await p.exited).toBe(1);
    const err = p.stderr();
    expect(err).toMatch(/Cannot reach http:\/\/127\.0\.0\.1:1\/r4\/x: .*Is the server running/);
    expect(err).not.toContain('--token-url');
    expect(err.match(/Cannot reach/g)).toHaveLength(1);
    const t = runFlatfhir(['token', '--client-file', file, '--fhir-url', 'http://127.0.0.1:1/r4/x']);
    expect(await t.exited).toBe(1);
    expect(t.stderr()).toMatch(/^flatfhir: Cannot reach .*Is the server running/);
    expect(t.stderr().match(/Cannot reach/g)).toHaveLength(1);
  }, 60_000);
});
