import { readdir } from 'node:fs/promises';
import { join } from 'node:path';
import type { Command } from 'commander';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openManagement } from '../src/cli/manage-open.js';
import { tenantCommand } from '../src/cli/tenant-command.js';
import { prepareResource } from '../src/fhir/prepare.js';
import { runExport, startServer, type TestServer } from './helpers/server.js';

const ADMIN = 'admin-token-for-the-tenant-tests';
let server: TestServer;

beforeAll(async () => {
  server = await startServer({ auth: { adminToken: ADMIN } });
});
afterAll(async () => {
  await server?.close();
});

const admin = (path: string, method = 'GET', body?: unknown): Promise<Response> =>
  fetch(`${server.origin}${path}`, {
    method,
    headers: { authorization: `Bearer ${ADMIN}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });

function quiet(cmd: Command): void {
  cmd.exitOverride().configureOutput({ writeOut: () => {}, writeErr: () => {} });
  for (const sub of cmd.commands) quiet(sub);
}

/** Runs `flatfhir tenant …` and parses what it prints. */
async function cli(args: string[]): Promise<unknown> {
  let out = '';
  const cmd = tenantCommand(openManagement, { stdout: { write: (s: string) => (out += s) } });
  quiet(cmd);
  await cmd.parseAsync(args, { from: 'user' });
  return JSON.parse(out);
}

const remote = (): string[] => ['--server', server.origin, '--admin-token', ADMIN];
const local = (): string[] => ['--data', server.dataDir];

describe('tenants', () => {
  it('creates, lists and shows tenants through the admin API, one id rule', async () => {
    const created = await admin('/admin/tenants', 'POST', { id: 'hospital-a', name: 'Hospital A' });
    expect(created.status).toBe(201);
    expect(await created.json()).toMatchObject({ id: 'hospital-a', name: 'Hospital A' });
    expect((await admin('/admin/tenants', 'POST', { id: 'hospital-a' })).status).toBe(409);
    for (const id of ['../x', 'a..b', '-x', 'x'.repeat(65), 'a_b', '']) {
      const res = await admin('/admin/tenants', 'POST', { id });
      expect(res.status, id).toBe(400);
    }
    expect((await admin('/admin/tenants', 'POST', { id: 'ok', extra: 1 })).status).toBe(400);
    expect((await admin('/admin/tenants', 'POST', { name: 'no id' })).status).toBe(400);
    const list = (await (await admin('/admin/tenants')).json()) as { tenants: { id: string }[] };
    expect(list.tenants.map((t) => t.id)).toContain('hospital-a');
    const shown = await admin('/admin/tenants/hospital-a');
    expect(await shown.json()).toMatchObject({ id: 'hospital-a', counts: { resources: {}, groups: 0, clients: 0, jobs: 0 } });
    expect((await admin('/admin/tenants/nope')).status).toBe(404);
  });

  it('works the same from the CLI on the store and against the server', async () => {
    expect(await cli(['create', 'cli-local', '--name', 'Local', ...local()])).toMatchObject({ id: 'cli-local', name: 'Local' });
    expect(await cli(['create', 'cli-remote', '--name', 'Remote', ...remote()])).toMatchObject({ id: 'cli-remote', name: 'Remote' });
    for (const where of [local(), remote()]) {
      const ids = ((await cli(['list', ...where])) as { id: string }[]).map((t) => t.id);
      expect(ids).toEqual(expect.arrayContaining(['cli-local', 'cli-remote']));
      expect(await cli(['show', 'cli-local', ...where])).toMatchObject({ id: 'cli-local', name: 'Local', counts: { clients: 0 } });
    }
    await expect(cli(['create', 'cli-local', ...remote()])).rejects.toThrow(/exists already/);
    await expect(cli(['create', 'bad/id', ...local()])).rejects.toThrow(/tenant id/);
    await expect(cli(['show', 'cli-none', ...remote()])).rejects.toThrow(/No tenant/);
    await expect(cli(['list', '--server', server.origin, '--admin-token', 'wrong-wrong-wrong-wrong'])).rejects.toThrow(/admin token/i);
  });

  it('removes a tenant only with --force, with its data, clients, jobs and files', async () => {
    const T = 'to-remove';
    await cli(['create', T, ...remote()]);
    await server.runtime.store.resources.writeBatch(T, [
      prepareResource({ resourceType: 'Patient', id: 'p1' }),
      prepareResource({ resourceType: 'Observation', id: 'o1', status: 'final', code: { text: 'x' }, subject: { reference: 'Patient/p1' } }),
    ]);
    const client = await server.client(T);
    const { manifest } = await runExport(server, client.token, `${server.base(T)}/Patient/$export`);
    expect(manifest.output.length).toBeGreaterThan(0);
    const exportsDir = join(server.dataDir, 'exports', 'jobs');
    const jobsBefore = await readdir(exportsDir);
    expect(jobsBefore.length).toBeGreaterThan(0);

    expect(await cli(['show', T, ...local()])).toMatchObject({ counts: { resources: { Patient: 1, Observation: 1 }, clients: 1, jobs: 1 } });
    await expect(cli(['remove', T, ...remote()])).rejects.toThrow(/--force/);
    expect((await admin(`/admin/tenants/${T}`, 'DELETE')).status).toBe(409);
    expect(await cli(['remove', T, '--force', ...remote()])).toEqual({ id: T, removed: true, resources: 2, clients: 1, jobs: 1 });
    expect((await admin(`/admin/tenants/${T}`)).status).toBe(404);
    expect(await server.runtime.store.resources.countByType(T)).toEqual({});
    expect(await server.runtime.store.clients.listClients(T)).toEqual([]);
    expect((await readdir(exportsDir)).length).toBe(jobsBefore.length - 1);
    expect(((await (await admin('/admin/tenants')).json()) as { tenants: { id: string }[] }).tenants.map((t) => t.id)).not.toContain(T);
  });
});
