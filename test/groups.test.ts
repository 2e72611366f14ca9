import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Command } from 'commander';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { groupCommand } from '../src/cli/group-command.js';
import { openManagement } from '../src/cli/manage-open.js';
import { prepareResource } from '../src/fhir/prepare.js';
import type { GroupView } from '../src/manage/groups.js';
import { auth, runExport, startServer, type TestServer } from './helpers/server.js';

const ADMIN = 'admin-token-for-the-group-tests';
const T = 'groups-test';
/** Written only through the server (whose store runs on the test clock): the weekly case's tenant. */
const W = 'groups-weekly';
const DAY = 86_400_000;
const T0 = Date.UTC(2024, 4, 8, 6);
/** The store's clock (the kick-off instant of each export): running, from T0, moved a week on by the weekly test. */
const clock = { offset: T0 - Date.now() };
const setClock = (at: number): void => {
  clock.offset = at - Date.now();
};

let server: TestServer;

const iso = (ms: number): string => new Date(ms).toISOString();
const encounter = (id: string, subject: string, start: number, status = 'finished') =>
  prepareResource({
    resourceType: 'Encounter',
    id,
    status,
    class: { code: 'IMP' },
    period: { start: iso(start), end: iso(start + 3_600_000) },
    subject: { reference: `Patient/${subject}` },
    reasonCode: [{ coding: [{ system: 'http://snomed.info/sct', code: '44054006' }] }],
  });

beforeAll(async () => {
  server = await startServer({ auth: { adminToken: ADMIN }, export: { maxGroupMembers: 6 } }, { storeNow: () => Date.now() + clock.offset });
  for (const t of [T, W]) await writeData(t);
});

async function writeData(t: string): Promise<void> {
  await server.runtime.store.tenants.createTenant(t, 'Groups', 1);
  const patients = ['p1', 'p2', 'p3', 'p4', 'p5', 'p6', 'p7'].map((id, i) => prepareResource({ resourceType: 'Patient', id, gender: i % 2 === 0 ? 'female' : 'male' }));
  await server.runtime.store.resources.writeBatch(t, [
    ...patients,
    encounter('e1', 'p1', T0 - 2 * DAY),
    encounter('e2', 'p2', T0 - 10 * DAY),
    encounter('e3', 'p3', T0 + 3 * DAY),
    encounter('e4a', 'p4', T0 - 1 * DAY),
    encounter('e4b', 'p4', T0 + 5 * DAY),
    encounter('e5', 'p5', T0 - 1 * DAY, 'cancelled'),
    prepareResource({ resourceType: 'Observation', id: 'o1', status: 'final', code: { text: 'x' }, subject: { reference: 'Patient/p1' } }),
  ]);
}
afterAll(async () => {
  await server?.close();
});

function quiet(cmd: Command): void {
  cmd.exitOverride().configureOutput({ writeOut: () => {}, writeErr: () => {} });
  for (const sub of cmd.commands) quiet(sub);
}

async function cli<R = GroupView>(args: string[], remote = false, tenant = T): Promise<R> {
  let out = '';
  const cmd = groupCommand(openManagement, { stdout: { write: (s: string) => (out += s) } });
  quiet(cmd);
  const where = remote ? ['--server', server.origin, '--admin-token', ADMIN] : ['--data', server.dataDir];
  await cmd.parseAsync([...args, '--tenant', tenant, ...where], { from: 'user' });
  return JSON.parse(out) as R;
}

const admin = (path: string, method = 'GET', body?: unknown): Promise<Response> =>
  fetch(`${server.origin}${path}`, {
    method,
    headers: { authorization: `Bearer ${ADMIN}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });

const exportedPatients = async (token: string, groupId: string, tenant = T): Promise<{ ids: string[]; jobId: string }> => {
  const { byType, statusUrl } = await runExport(server, token, `${server.base(tenant)}/Group/${groupId}/$export?_type=Patient`);
  return { ids: (byType.get('Patient') ?? []).map((p) => p['id'] as string).sort(), jobId: statusUrl.split('/').pop() as string };
};

describe('static groups', () => {
  it('are created, changed and shown from the CLI, locally and remotely, each change a new Group version', async () => {
    const created = await cli(['create', '--name', 'Cardiology cohort', '--id', 'cardio', '--identifier', 'https://h.example/groups|C-1', '--patient', 'p1', '--patient', 'p2,Patient/p3']);
    expect(created).toMatchObject({ id: 'cardio', kind: 'static', name: 'Cardiology cohort', member_count: 3, version: 1 });
    const file = join(server.dataDir, 'more.txt');
    await writeFile(file, 'p4\n# a comment\np5\n');
    const added = await cli(['add-members', 'cardio', '--patients-file', file], true);
    expect(added).toMatchObject({ member_count: 5, version: 2 });
    expect((await cli(['remove-members', 'cardio', '--patient', 'p2'])).member_count).toBe(4);
    await cli(['set-inactive', 'cardio', '--patient', 'p3'], true);
    const shown = await cli(['show', 'cardio'], true);
    expect(shown.version).toBe(4);
    expect(shown.members?.map((m) => [m.patient, m.inactive])).toEqual([
      ['p1', false],
      ['p3', true],
      ['p4', false],
      ['p5', false],
    ]);
    for (const m of shown.members ?? []) expect(Number.isNaN(Date.parse(m.period_start ?? ''))).toBe(false);
    // The history keeps who was a member when: version 1 had p2.
    const v1 = await server.runtime.store.resources.readAt(T, 'Group', 'cardio', Date.parse(created.last_updated));
    expect(v1?.json).toContain('Patient/p2');
    expect((await cli(['set-inactive', 'cardio', '--patient', 'p3', '--active'])).version).toBe(5);
    const list = await cli<GroupView[]>(['list'], true);
    expect(list.map((g) => g.id)).toContain('cardio');
    // Every change is in the audit trail, made on the store (source cli) or through the admin API (its address).
    const audit = (await (await admin(`/admin/audit?tenant=${T}&action=admin.group`)).json()) as {
      events: { action: string; outcome: string; source: string; request: string; detail: string | null }[];
    };
    const changes = audit.events
      .filter((e) => e.request.includes('/groups/cardio') || (e.detail ?? '').includes('cardio'))
      .map((e) => [e.action, e.source === 'cli' ? 'cli' : 'api', e.outcome])
      .reverse();
    expect(changes).toEqual([
      ['admin.group.create', 'cli', 'success'],
      ['admin.group.add-members', 'api', 'success'],
      ['admin.group.remove-members', 'cli', 'success'],
      ['admin.group.set-inactive', 'api', 'success'],
      ['admin.group.set-inactive', 'cli', 'success'],
    ]);
  });

  it('refuses unknown patients, too many members, and a dynamic change of members', async () => {
    await expect(cli(['create', '--name', 'x', '--patient', 'nobody'])).rejects.toThrow(/No such patients/);
    await expect(cli(['create', '--name', 'x', '--patient', 'p1,p2,p3,p4,p5,p6,p7'], true)).rejects.toThrow(/at most 6 members/);
    await expect(cli(['create', '--name', 'x', '--patient', 'bad id!'])).rejects.toThrow(/not a Patient id/);
    await expect(cli(['create', '--name', 'x'])).rejects.toThrow(/exactly one/);
    await expect(cli(['add-members', 'cardio', '--patient', 'p2,p6,p7'], true)).rejects.toThrow(/at most 6 members/);
    await expect(cli(['show', 'nope'], true)).rejects.toThrow(/No Group\/nope/);
  });

  it('snapshots a search into a static group', async () => {
    const g = await cli(['create', '--name', 'Women', '--from-search', 'Patient?gender=female'], true);
    expect(g.kind).toBe('static');
    expect((await cli(['show', g.id])).members?.map((m) => m.patient)).toEqual(['p1', 'p3', 'p5', 'p7']);
  });
});

describe('dynamic groups', () => {
  it('refuses criteria the store cannot evaluate, at creation', async () => {
    for (const [criteria, message] of [
      ['Encounter?reason-reference=Condition/x', /not indexed/],
      ['Encounter?status:not=finished', /modifier/],
      ['Encounter?subject.name=x', /chained/],
      ['Encounter?date=ap2024', /prefix/],
      ['Encounter?date=ge-7months', /neither a FHIR date/],
      ['Basic?code=x', /cannot be used/],
      ['Encounter', /not of the form/],
    ] as const) {
      const res = await admin(`/admin/tenants/${T}/groups`, 'POST', { name: 'bad', member_filter: [criteria] });
      expect(res.status, criteria).toBe(400);
      const body = (await res.json()) as { issue: { diagnostics: string }[] };
      expect(body.issue[0]?.diagnostics, criteria).toMatch(message);
    }
  });

  it('exports the members of each window: the weekly case, one stored group, the clock a week apart', async () => {
    const res = await admin(`/admin/tenants/${W}/groups`, 'POST', {
      name: 'Discharged last week',
      id: 'weekly',
      member_filter: ['Encounter?status=finished&date=ge-7d&date=le+0d&reason-code=http://snomed.info/sct|44054006'],
    });
    expect(res.status).toBe(201);
    expect(await res.json()).toMatchObject({ kind: 'dynamic', relative: true });
    const client = await server.client(W, 'system/*.rs');
    // A group defined by its criteria lists no members: `actual` is false, as the Bulk Cohort profile has it.
    const stored = (await (await fetch(`${server.base(W)}/Group/weekly`, { headers: auth(client.token) })).json()) as { actual: boolean; meta: { profile: string[] } };
    expect(stored.actual).toBe(false);
    expect(stored.meta.profile).toEqual(['http://hl7.org/fhir/uv/bulkdata/StructureDefinition/bulk-cohort-group']);

    setClock(T0);
    const week1 = await exportedPatients(client.token, 'weekly', W);
    expect(week1.ids).toEqual(['p1', 'p4']);
    setClock(T0 + 7 * DAY);
    const week2 = await exportedPatients(client.token, 'weekly', W);
    expect(week2.ids).toEqual(['p3', 'p4']);

    // Each job keeps the member set it used.
    expect((await cli(['show', 'weekly', '--as-of', week1.jobId], false, W)).members?.map((m) => m.patient)).toEqual(['p1', 'p4']);
    expect((await cli(['show', 'weekly', '--as-of', week2.jobId], true, W)).members?.map((m) => m.patient)).toEqual(['p3', 'p4']);
    await expect(cli(['show', 'cardio', '--as-of', week1.jobId])).rejects.toThrow(/No export job/);
    setClock(T0);
  });

  it('fails an export of an evaluated group beyond the member limit with a clear OperationOutcome', async () => {
    await cli(['create', '--name', 'Everyone', '--id', 'everyone', '--member-filter', 'Patient?gender=female,male']);
    const client = await server.client(T, 'system/*.rs');
    const kick = await fetch(`${server.base(T)}/Group/everyone/$export`, { headers: auth(client.token, { accept: 'application/fhir+json', prefer: 'respond-async' }) });
    expect(kick.status).toBe(202);
    const status = kick.headers.get('content-location') as string;
    let res: Response;
    for (;;) {
      res = await fetch(status, { headers: auth(client.token) });
      if (res.status !== 202) break;
      await new Promise((r) => setTimeout(r, 100));
    }
    expect(res.status).toBeGreaterThanOrEqual(400);
    const body = (await res.json()) as { resourceType: string; issue: { diagnostics: string }[] };
    expect(body.resourceType).toBe('OperationOutcome');
    expect(body.issue[0]?.diagnostics).toMatch(/more than 6 members/);
  });
});

describe('FHIR Group read for clients', () => {
  it('finds groups by name, identifier and _id, counts them and pages through them', async () => {
    const client = await server.client(T, 'system/Group.rs system/Patient.rs');
    const search = async (q: string): Promise<{ total: number; entry?: { resource: { id: string } }[]; link: { relation: string; url: string }[] }> => {
      const res = await fetch(`${server.base(T)}/Group${q}`, { headers: auth(client.token) });
      expect(res.status, q).toBe(200);
      expect(res.headers.get('content-type')).toMatch(/^application\/fhir\+json/);
      return (await res.json()) as never;
    };
    const byName = await search('?name=cardio');
    expect(byName.entry?.map((e) => e.resource.id)).toEqual(['cardio']);
    expect((await search('?name:exact=Cardiology')).total).toBe(0);
    expect((await search('?name:contains=VERYO')).entry?.map((e) => e.resource.id)).toEqual(['everyone']);
    expect((await search('?identifier=https://h.example/groups|C-1')).entry?.map((e) => e.resource.id)).toEqual(['cardio']);
    expect((await search('?identifier=C-1')).total).toBe(1);
    expect((await search('?_id=cardio,everyone')).total).toBe(2);
    const all = await search('?_summary=count');
    expect(all.total).toBe(3);
    expect(all.entry).toBeUndefined();
    const page1 = await search('?_count=2');
    expect(page1.entry).toHaveLength(2);
    const next = page1.link.find((l) => l.relation === 'next')?.url as string;
    expect(next).toContain('_offset=2');
    const page2 = (await (await fetch(next, { headers: auth(client.token) })).json()) as { entry: { resource: { id: string } }[] };
    expect(page2.entry[0]?.resource.id).not.toBe(page1.entry?.[0]?.resource.id);
    const read = await fetch(`${server.base(T)}/Group/cardio`, { headers: auth(client.token) });
    expect(((await read.json()) as { member: unknown[] }).member).toHaveLength(4);

    const bad = await fetch(`${server.base(T)}/Group?code=x`, { headers: auth(client.token) });
    expect(bad.status).toBe(400);
    const noScope = await server.client(T, 'system/Patient.rs');
    expect((await fetch(`${server.base(T)}/Group?name=cardio`, { headers: auth(noScope.token) })).status).toBe(403);
    expect((await fetch(`${server.base(T)}/Group?name=cardio`)).status).toBe(401);
  });

  it('removes a group', async () => {
    expect(await cli(['remove', 'cardio'], true)).toEqual({ id: 'cardio', tenant: T, removed: true });
    expect((await admin(`/admin/tenants/${T}/groups/cardio`)).status).toBe(404);
  });
});

describe('groups created through the Bulk Cohort API', () => {
  it('are marked in the admin API list and detail (bulk_cohort_api), with their criteria; the others are not', async () => {
    const client = await server.client(W, 'system/*.rs system/Group.cd');
    const posted = await fetch(`${server.base(W)}/Group`, {
      method: 'POST',
      headers: auth(client.token, { 'content-type': 'application/fhir+json' }),
      body: JSON.stringify({
        resourceType: 'Group',
        name: 'Women (cohort)',
        type: 'person',
        actual: false,
        modifierExtension: [{ url: 'http://hl7.org/fhir/uv/bulkdata/StructureDefinition/member-filter', valueExpression: { language: 'application/x-fhir-query', expression: 'Patient?gender=female' } }],
      }),
    });
    expect(posted.status).toBe(201);
    const id = ((await posted.json()) as { id: string }).id;
    const list = (await (await admin(`/admin/tenants/${W}/groups`)).json()) as { groups: GroupView[] };
    expect(list.groups.find((g) => g.id === id)).toMatchObject({ kind: 'dynamic', bulk_cohort_api: true, criteria: ['Patient?gender=female'] });
    expect(list.groups.find((g) => g.id === 'weekly')).toMatchObject({ kind: 'dynamic', bulk_cohort_api: false });
    const shown = (await (await admin(`/admin/tenants/${W}/groups/${id}`)).json()) as GroupView;
    expect(shown).toMatchObject({ bulk_cohort_api: true, member_count: 4 });
    expect(shown.members?.map((m) => m.patient).sort()).toEqual(['p1', 'p3', 'p5', 'p7']);
  });

  it('name the group an admin API create made in its audit record, as the CLI does', async () => {
    const events = (await (await admin(`/admin/audit?tenant=${W}&action=admin.group.create`)).json()) as { events: { outcome: string; detail: string | null; request: string }[] };
    expect(events.events.find((e) => e.outcome === 'success' && e.request === `POST /admin/tenants/${W}/groups`)?.detail).toBe('group weekly');
  });
});
