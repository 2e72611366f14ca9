/**
 * The README's "Your own data" section, end to end: a tenant, the Synthea population imported, a static group
 * of 25 of its patients and a dynamic one (an Encounter in 2009 and a hypertension Condition), a client with a
 * generated key, a token, the groups found by name, both exported; the exported patients checked against sets
 * computed here from the fixture files.
 */
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import type { Command } from 'commander';
import { type CryptoKey, importJWK, type JWK } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { clientCommand } from '../src/cli/client-command.js';
import { groupCommand } from '../src/cli/group-command.js';
import { importCommand } from '../src/cli/import-command.js';
import { openManagement } from '../src/cli/manage-open.js';
import { tenantCommand } from '../src/cli/tenant-command.js';
import { getAccessToken } from './helpers/auth.js';
import { auth, runExport, startServer, type TestServer } from './helpers/server.js';

const ADMIN = 'walkthrough-admin-token-0123456789';
const T = 'hospital';
const SYNTHEA = join(import.meta.dirname, 'fixtures', 'synthea-100');

let server: TestServer;
beforeAll(async () => {
  server = await startServer({ auth: { adminToken: ADMIN } });
});
afterAll(async () => {
  await server?.close();
});

const fixture = async (type: string): Promise<Record<string, unknown>[]> =>
  gunzipSync(await readFile(join(SYNTHEA, `${type}.ndjson.gz`)))
    .toString('utf8')
    .split('\n')
    .filter((l) => l !== '')
    .map((l) => JSON.parse(l) as Record<string, unknown>);

function quiet(cmd: Command): Command {
  cmd.exitOverride().configureOutput({ writeOut: () => {}, writeErr: () => {} });
  for (const sub of cmd.commands) quiet(sub);
  return cmd;
}

/** Runs a management command against the server (`--server URL --admin-token T`) and parses what it prints. */
async function manage<R>(make: typeof tenantCommand | typeof groupCommand, args: string[]): Promise<R> {
  let out = '';
  const cmd = quiet(make(openManagement, { stdout: { write: (s: string) => (out += s) } }));
  await cmd.parseAsync([...args, '--server', server.origin, '--admin-token', ADMIN], { from: 'user' });
  return JSON.parse(out) as R;
}

describe('walkthrough: your own data', () => {
  it('goes from an empty server to two exported groups', async () => {
    // 1. A tenant.
    expect(await manage(tenantCommand, ['create', T, '--name', 'General Hospital'])).toMatchObject({ id: T, name: 'General Hospital' });

    // 2. The Synthea population: `flatfhir import --tenant hospital --data DIR test/fixtures/synthea-100`.
    const write = process.stdout.write.bind(process.stdout);
    process.stdout.write = (() => true) as typeof process.stdout.write;
    try {
      await quiet(importCommand()).parseAsync(['--tenant', T, '--data', server.dataDir, SYNTHEA], { from: 'user' });
    } finally {
      process.stdout.write = write;
    }
    expect(process.exitCode ?? 0).toBe(0);
    const shown = await manage<{ counts: { resources: Record<string, number> } }>(tenantCommand, ['show', T]);
    expect(shown.counts.resources['Patient']).toBe(100);

    // 3. A static group of 25 patients, from a file.
    const patients = (await fixture('Patient')).map((p) => p['id'] as string).sort();
    const study = patients.slice(0, 25);
    const file = join(server.dataDir, 'study.txt');
    await writeFile(file, `${study.join('\n')}\n`);
    const staticGroup = await manage<{ id: string; member_count: number }>(groupCommand, ['create', '--tenant', T, '--name', 'Study cohort', '--patients-file', file]);
    expect(staticGroup.member_count).toBe(25);

    // 4. A dynamic group: a finished Encounter in 2009 and a hypertension Condition.
    const dynamicGroup = await manage<{ id: string; kind: string }>(groupCommand, [
      'create',
      '--tenant',
      T,
      '--name',
      'Hypertension, seen in 2009',
      '--member-filter',
      'Encounter?status=finished&date=ge2009-01-01&date=le2009-12-31',
      '--member-filter',
      'Condition?code=http://snomed.info/sct|59621000',
    ]);
    expect(dynamicGroup.kind).toBe('dynamic');

    // The same sets, computed from the fixture files.
    const from = Date.UTC(2009, 0, 1);
    const to = Date.UTC(2010, 0, 1) - 1;
    const seen2009 = new Set(
      (await fixture('Encounter'))
        .filter((e) => {
          const period = e['period'] as { start: string; end?: string };
          const end = period.end === undefined ? Infinity : Date.parse(period.end) + 999;
          return e['status'] === 'finished' && end >= from && Date.parse(period.start) <= to;
        })
        .map((e) => (e['subject'] as { reference: string }).reference.replace('Patient/', '')),
    );
    const hypertensive = new Set(
      (await fixture('Condition'))
        .filter((c) => (c['code'] as { coding: { system: string; code: string }[] }).coding.some((x) => x.system === 'http://snomed.info/sct' && x.code === '59621000'))
        .map((c) => (c['subject'] as { reference: string }).reference.replace('Patient/', '')),
    );
    const expectedDynamic = [...seen2009].filter((p) => hypertensive.has(p)).sort();
    expect(expectedDynamic.length).toBeGreaterThan(0);
    expect(expectedDynamic.length).toBeLessThan(23);

    // 5. A client with a generated key: `flatfhir client register --generate-key --client-file-out F`.
    const clientFile = join(server.dataDir, 'my-client.json');
    const store = server.runtime.store;
    const register = quiet(
      clientCommand(async () => ({ clients: store.clients, tenants: () => store.resources.listTenants(), fhirBase: (t: string) => server.base(t), close: async () => {} }), {
        stdout: { write: () => true },
      }),
    );
    await register.parseAsync(['register', '--tenant', T, '--generate-key', '--scope', 'system/*.rs', '--client-file-out', clientFile], { from: 'user' });
    const credentials = JSON.parse(await readFile(clientFile, 'utf8')) as { clientId: string; privateJwk: JWK & { kid: string; alg?: string } };

    // 6. A token.
    const alg = (credentials.privateJwk.alg ?? 'ES384') as 'ES384' | 'RS384';
    const key = (await importJWK(credentials.privateJwk, alg)) as CryptoKey;
    const token = await getAccessToken(server.tokenUrl(T), { clientId: credentials.clientId, privateKey: key, kid: credentials.privateJwk.kid, alg }, 'system/*.rs');

    // 7. The groups, found by name.
    const find = async (name: string): Promise<string> => {
      const res = await fetch(`${server.base(T)}/Group?name=${encodeURIComponent(name)}`, { headers: auth(token) });
      expect(res.status).toBe(200);
      const bundle = (await res.json()) as { total: number; entry: { resource: { id: string } }[] };
      expect(bundle.total).toBe(1);
      return bundle.entry[0]?.resource.id as string;
    };
    expect(await find('study')).toBe(staticGroup.id);
    expect(await find('Hypertension')).toBe(dynamicGroup.id);

    // 8. Both exported: exactly the expected patients, and their data.
    for (const [id, expected] of [
      [staticGroup.id, study],
      [dynamicGroup.id, expectedDynamic],
    ] as const) {
      const { byType } = await runExport(server, token, `${server.base(T)}/Group/${id}/$export?_type=Patient,Condition`);
      expect((byType.get('Patient') ?? []).map((p) => p['id']).sort()).toEqual(expected);
      const conditionSubjects = new Set((byType.get('Condition') ?? []).map((c) => (c['subject'] as { reference: string }).reference.replace('Patient/', '')));
      for (const s of conditionSubjects) expect(expected).toContain(s);
    }
  });
});
