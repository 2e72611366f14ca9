/**
 * The operations part of the management plane, over HTTP against a real server (SQLite, files, worker): a client
 * finding and deleting its own lost job, token revocation, the audit trail (which jobs held a patient, what is
 * recorded and what never is), jobs and client activity for the operator, through the admin API and the CLI.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { join } from 'node:path';
import { auditCommand } from '../src/cli/audit-command.js';
import { clientCommand } from '../src/cli/client-command.js';
import { jobsCommand } from '../src/cli/jobs-command.js';
import { prepareResource } from '../src/fhir/prepare.js';
import { openSqliteStore } from '../src/store/sqlite/index.js';
import { postForm, TEST_ADMIN_TOKEN } from './helpers/auth.js';
import { auth, KICKOFF_HEADERS, runExport, startServer, type TestServer } from './helpers/server.js';

const T = 'tenant-ops';
let server: TestServer;

const admin = (path: string, init: RequestInit = {}): Promise<Response> =>
  fetch(`${server.origin}${path}`, {
    ...init,
    headers: { authorization: `Bearer ${TEST_ADMIN_TOKEN}`, ...(init.body ? { 'content-type': 'application/json' } : {}), ...(init.headers as Record<string, string> | undefined) },
  });

const group = (id: string, members: string[]) =>
  prepareResource({ resourceType: 'Group', id, type: 'person', actual: true, name: id, member: members.map((p) => ({ entity: { reference: `Patient/${p}` } })) });

/** Runs a CLI command in-process on the server's data directory; returns what it printed. */
async function cli(command: 'audit' | 'jobs', args: string[]): Promise<string> {
  let out = '';
  const io = { stdout: { write: (t: string) => (out += t) } };
  const cmd = command === 'audit' ? auditCommand(io) : jobsCommand(io);
  cmd.exitOverride();
  await server.runtime.audit.flush();
  await cmd.parseAsync([...args, '--data', server.dataDir], { from: 'user' });
  return out;
}

beforeAll(async () => {
  // No worker at first: kicked-off jobs stay in progress (a client's lost job) until the worker starts.
  server = await startServer({ auth: { adminToken: TEST_ADMIN_TOKEN, revocationCacheMs: 60_000 } }, { worker: false });
  const patients = ['p1', 'p2', 'p3', 'p4'];
  await server.runtime.store.resources.writeBatch(T, [
    ...patients.map((id) => prepareResource({ resourceType: 'Patient', id })),
    ...patients.map((id) => prepareResource({ resourceType: 'Observation', id: `o-${id}`, status: 'final', code: { text: 'x' }, subject: { reference: `Patient/${id}` } })),
    group('g1', ['p1', 'p2']),
    group('g2', ['p2', 'p3']),
  ]);
});

afterAll(async () => {
  await server?.close();
});

describe('a client lists its own jobs', () => {
  it('finds a lost status URL, deletes the job and kicks off again; never sees another client’s jobs', async () => {
    const a = await server.client(T);
    const b = await server.client(T);
    const listOf = async (token: string) => {
      const res = await fetch(`${server.base(T)}/bulk-export/jobs`, { headers: auth(token, { accept: 'application/json' }) });
      expect(res.status).toBe(200);
      return ((await res.json()) as { jobs: { id: string; status_url: string; state: string; request: string; progress?: string }[] }).jobs;
    };
    expect(await listOf(a.token)).toEqual([]);

    const kick = () => fetch(`${server.base(T)}/Group/g1/$export`, { headers: { ...KICKOFF_HEADERS, ...auth(a.token) } });
    const first = await kick();
    expect(first.status).toBe(202);
    const lost = first.headers.get('content-location') as string;
    const blocked = await kick();
    expect(blocked.status).toBe(429);
    expect(await blocked.text()).toContain('/bulk-export/jobs');

    const otherKick = await fetch(`${server.base(T)}/Patient/$export`, { headers: { ...KICKOFF_HEADERS, ...auth(b.token) } });
    expect(otherKick.status).toBe(202);
    const othersJob = otherKick.headers.get('content-location') as string;

    const mine = await listOf(a.token);
    expect(mine).toHaveLength(1);
    expect(mine[0]).toMatchObject({ status_url: lost, state: 'in-progress', request: `${server.origin}/r4/${T}/Group/g1/$export` });
    expect((await listOf(b.token)).map((j) => j.status_url)).toEqual([othersJob]);
    // Another client's status URL is not found for this one.
    expect((await fetch(othersJob, { method: 'DELETE', headers: auth(a.token) })).status).toBe(404);

    const deleted = await fetch(mine[0]?.status_url as string, { method: 'DELETE', headers: auth(a.token) });
    expect(deleted.status).toBe(202);
    expect(await listOf(a.token)).toEqual([]);
    const again = await kick();
    expect(again.status).toBe(202);
    expect((await listOf(a.token)).map((j) => j.status_url)).toEqual([again.headers.get('content-location')]);
    // Clean up for what follows: neither job will be run.
    for (const [url, token] of [[again.headers.get('content-location') as string, a.token], [othersJob, b.token]] as const) {
      expect((await fetch(url, { method: 'DELETE', headers: auth(token) })).status).toBe(202);
    }
  });

  it('is in the CapabilityStatement as an extension of the IG', async () => {
    const res = await fetch(`${server.base(T)}/metadata`);
    expect(JSON.stringify(await res.json())).toContain('bulk-export/jobs');
  });
});

describe('token revocation', () => {
  it('refuses a disabled client’s token at once, and a removed one’s', async () => {
    const c = await server.client(T);
    const list = () => fetch(`${server.base(T)}/bulk-export/jobs`, { headers: auth(c.token) });
    expect((await list()).status).toBe(200);
    expect((await admin(`/admin/clients/${c.clientId}/disable`, { method: 'POST' })).status).toBe(200);
    const refused = await list();
    expect(refused.status).toBe(401);
    expect(await refused.text()).toContain('revoked');
    expect((await admin(`/admin/clients/${c.clientId}/enable`, { method: 'POST' })).status).toBe(200);
    // Enabling again does not bring back the tokens revoked.
    expect((await list()).status).toBe(401);

    const d = await server.client(T);
    expect((await fetch(`${server.base(T)}/bulk-export/jobs`, { headers: auth(d.token) })).status).toBe(200);
    expect((await admin(`/admin/clients/${d.clientId}`, { method: 'DELETE' })).status).toBe(204);
    expect((await fetch(`${server.base(T)}/bulk-export/jobs`, { headers: auth(d.token) })).status).toBe(401);
  });
});

describe('the audit trail', () => {
  let exporter: Awaited<ReturnType<TestServer['client']>>;
  const jobIds: Record<string, string> = {};

  beforeAll(async () => {
    await server.runtime.worker.start();
    exporter = await server.client(T);
    for (const g of ['g1', 'g2']) {
      const { statusUrl } = await runExport(server, exporter.token, `${server.base(T)}/Group/${g}/$export`);
      jobIds[g] = statusUrl.split('/').pop() as string;
    }
    // A failed token request naming the client.
    const bad = await postForm(server.tokenUrl(T), {
      grant_type: 'client_credentials',
      scope: 'system/*.rs',
      client_assertion_type: 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer',
      client_assertion: 'not-a-jwt',
      client_id: exporter.clientId,
    });
    expect(bad.status).toBe(401);
    await server.runtime.audit.flush();
  });

  it('names exactly the jobs whose patient set held a patient (admin API and CLI)', async () => {
    const jobsOf = async (patient: string): Promise<string[]> => {
      const res = await admin(`/admin/audit?tenant=${T}&patient=${patient}`);
      expect(res.status).toBe(200);
      return ((await res.json()) as { events: { job_id: string; action: string }[] }).events.map((e) => e.job_id).sort();
    };
    expect(await jobsOf('p1')).toEqual([jobIds['g1']]);
    expect(await jobsOf('p2')).toEqual([jobIds['g1'], jobIds['g2']].sort());
    expect(await jobsOf('p3')).toEqual([jobIds['g2']]);
    expect(await jobsOf('p4')).toEqual([]);
    expect(await jobsOf('Patient/p3')).toEqual([jobIds['g2']]);

    const printed = JSON.parse(await cli('audit', ['list', '--patient', 'p2', '--tenant', T, '--json'])) as { job_id: string }[];
    expect(printed.map((e) => e.job_id).sort()).toEqual([jobIds['g1'], jobIds['g2']].sort());
    const table = await cli('audit', ['list', '--patient', 'p1']);
    expect(table).toContain(jobIds['g1']);
    expect(table).not.toContain(jobIds['g2']);
    expect(await cli('audit', ['list', '--patient', 'p4', '--json'])).toBe('[]\n');
  });

  it('records tokens, kick-offs, completed polls, downloads and deletes with tenant, client, source and outcome; never a token', async () => {
    const res = await admin(`/admin/audit?client=${exporter.clientId}&limit=1000`);
    const events = ((await res.json()) as { events: Record<string, unknown>[] }).events;
    const actions = new Set(events.map((e) => `${e['action'] as string}:${e['outcome'] as string}`));
    for (const a of ['token:success', 'token:failure', 'export.kickoff:success', 'export.status:success', 'export.download:success']) expect(actions).toContain(a);
    for (const e of events) expect(e).toMatchObject({ tenant: T, client_id: exporter.clientId, source: '127.0.0.1' });
    const kickoffs = events.filter((e) => e['action'] === 'export.kickoff');
    expect(kickoffs.map((e) => e['job_id']).sort()).toEqual([jobIds['g1'], jobIds['g2']].sort());
    expect(kickoffs[0]?.['request']).toMatch(/^GET \/r4\/tenant-ops\/Group\/g[12]\/\$export$/);
    expect(events.find((e) => e['action'] === 'token' && e['outcome'] === 'failure')).toMatchObject({ status: 401 });

    const everything = JSON.stringify(((await (await admin('/admin/audit?limit=1000')).json()) as { events: unknown[] }).events);
    expect(everything).not.toContain(exporter.token);
    expect(everything).not.toMatch(/eyJ[A-Za-z0-9_-]{10,}/);
    expect(everything).toContain('export.delete');
    expect(everything).toContain('admin.client.disable');
    expect(everything).toContain('"outcome":"failure","status":429');

    // Refused kick-offs are recorded too, with their status.
    const refused = ((await (await admin(`/admin/audit?action=export.kickoff&outcome=failure`)).json()) as { events: Record<string, unknown>[] }).events;
    expect(refused.some((e) => e['status'] === 429)).toBe(true);
  });

  it('serves a Bundle of FHIR AuditEvent, paged', async () => {
    const res = await admin(`/admin/audit?client=${exporter.clientId}&action=export&_format=fhir&limit=2`);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toContain('application/fhir+json');
    const bundle = (await res.json()) as { resourceType: string; type: string; total: number; link: { relation: string; url: string }[]; entry: { resource: Record<string, unknown> }[] };
    expect(bundle).toMatchObject({ resourceType: 'Bundle', type: 'searchset' });
    expect(bundle.entry).toHaveLength(2);
    expect(bundle.total).toBeGreaterThan(2);
    const event = bundle.entry[0]?.resource as Record<string, unknown>;
    expect(event).toMatchObject({ resourceType: 'AuditEvent', type: { code: '110106' }, outcome: '0', source: { site: T } });
    expect(event['agent']).toEqual([expect.objectContaining({ requestor: true, who: { identifier: { system: 'urn:flatfhir:client-id', value: exporter.clientId } } })]);
    const next = bundle.link.find((l) => l.relation === 'next')?.url as string;
    const page2 = (await (await admin(new URL(next).pathname + new URL(next).search)).json()) as { entry: { resource: { id: string } }[] };
    const ids = [...bundle.entry, ...page2.entry].map((e) => Number((e.resource as { id: string }).id));
    expect(new Set(ids).size).toBe(ids.length);
    expect(Math.max(...page2.entry.map((e) => Number(e.resource.id)))).toBeLessThan(Math.min(...bundle.entry.map((e) => Number(e.resource.id))));
  });

  it('refuses bad queries with an OperationOutcome', async () => {
    for (const q of ['from=yesterday', 'outcome=maybe', 'limit=0', 'action=DROP%20TABLE', '_format=xml']) {
      const res = await admin(`/admin/audit?${q}`);
      expect(res.status, q).toBe(400);
      expect(((await res.json()) as { resourceType: string }).resourceType).toBe('OperationOutcome');
    }
  });

  it('shows a client’s activity: last token, last export, failed authentications in the last hour', async () => {
    const res = await admin(`/admin/clients/${exporter.clientId}`);
    expect(res.status).toBe(200);
    const body = (await res.json()) as { client_id: string; activity: { last_token_issued: string; last_export: { job_id: string }; failed_authentications_last_hour: number } };
    expect(body.client_id).toBe(exporter.clientId);
    expect(Date.parse(body.activity.last_token_issued)).toBeGreaterThan(Date.now() - 600_000);
    expect(body.activity.last_export.job_id).toBe(jobIds['g2']);
    expect(body.activity.failed_authentications_last_hour).toBe(1);

    // The same from the command line, on the store.
    let printed = '';
    const cmd = clientCommand(
      async () => {
        const store = openSqliteStore(join(server.dataDir, 'flatfhir.sqlite'));
        return { clients: store.clients, audit: store.audit, tenants: () => store.resources.listTenants(), close: () => store.close() };
      },
      { stdout: { write: (t: string) => (printed += t) } },
    );
    await cmd.parseAsync(['show', exporter.clientId], { from: 'user' });
    expect((JSON.parse(printed) as { activity: unknown }).activity).toEqual(body.activity);
  });
});

describe('jobs for the operator', () => {
  it('lists, shows, cancels and purges jobs (admin API and CLI)', async () => {
    const c = await server.client(T);
    const { statusUrl } = await runExport(server, c.token, `${server.base(T)}/Group/g2/$export`);
    const id = statusUrl.split('/').pop() as string;

    const listed = ((await (await admin(`/admin/jobs?tenant=${T}&client=${c.clientId}&state=completed`)).json()) as { jobs: { id: string; state: string }[] }).jobs;
    expect(listed).toEqual([expect.objectContaining({ id, state: 'completed' })]);
    expect((await admin('/admin/jobs?state=bogus')).status).toBe(400);

    const shown = (await (await admin(`/admin/jobs/${id}`)).json()) as {
      parameters: { kind: string; group: string };
      files: { kind: string; type: string; count: number; bytes: number }[];
      totals: { resources: number; bytes: number };
      timings: { duration_ms: number };
      errors: unknown[];
    };
    expect(shown.parameters).toMatchObject({ kind: 'group', group: 'g2' });
    const patients = shown.files.find((f) => f.type === 'Patient');
    expect(patients).toMatchObject({ kind: 'output', count: 2 });
    expect(patients?.bytes).toBeGreaterThan(20);
    expect(shown.totals.resources).toBe(4);
    expect(shown.timings.duration_ms).toBeGreaterThanOrEqual(0);
    expect(shown.errors).toEqual([]);
    expect((await admin('/admin/jobs/no-such-job')).status).toBe(404);

    const table = await cli('jobs', ['list', '--tenant', T, '--client', c.clientId]);
    expect(table.split('\n')[0]).toMatch(/^JOB\s+STATE\s+TENANT/);
    expect(table).toContain(id);
    expect(await cli('jobs', ['show', id])).toMatch(/files\s+\d+ \(4 resources/);

    // Cancelling: the client's status URL answers 404 and the files are gone.
    expect((await admin(`/admin/jobs/${id}/cancel`, { method: 'POST' })).status).toBe(200);
    expect((await fetch(statusUrl, { headers: auth(c.token) })).status).toBe(404);
    expect(await server.runtime.store.jobs.listFiles(id)).toEqual([]);
    expect((await admin(`/admin/jobs/${id}/cancel`, { method: 'POST' })).status).toBe(404);

    // Purging what completed before a date: the exports above, not a job completed later.
    const before = new Date(Date.now() + 1000).toISOString();
    const purged = JSON.parse(await cli('jobs', ['purge', '--completed-before', before])) as { purged: string[] };
    expect(purged.purged.length).toBeGreaterThanOrEqual(2);
    expect(((await (await admin(`/admin/jobs?tenant=${T}&state=completed`)).json()) as { jobs: unknown[] }).jobs).toEqual([]);
    const viaApi = await admin('/admin/jobs/purge', { method: 'POST', body: JSON.stringify({ completed_before: before }) });
    expect(await viaApi.json()).toEqual({ purged: [] });
    expect((await admin('/admin/jobs/purge', { method: 'POST', body: JSON.stringify({ completed_before: 'soon' }) })).status).toBe(400);
    const audited = ((await (await admin('/admin/audit?action=admin.job')).json()) as { events: { action: string; source: string }[] }).events;
    expect(audited.map((e) => `${e.action}:${e.source}`)).toEqual(expect.arrayContaining(['admin.job.cancel:127.0.0.1', 'admin.job.purge:cli']));
  });

  it('records the expiry of a job; which patients it held outlives it', async () => {
    const short = await startServer({ auth: { adminToken: TEST_ADMIN_TOKEN }, export: { retentionSeconds: 1 } });
    try {
      await short.runtime.store.resources.writeBatch(T, [prepareResource({ resourceType: 'Patient', id: 'px' }), group('gx', ['px'])]);
      const c = await short.client(T);
      const kick = await fetch(`${short.base(T)}/Group/gx/$export`, { headers: { ...KICKOFF_HEADERS, ...auth(c.token) } });
      const id = (kick.headers.get('content-location') as string).split('/').pop() as string;
      // Until the job has run and its second of retention is over (the store's view; its status URL expires with it).
      for (;;) {
        const job = await short.runtime.store.jobs.getJob(id);
        if (job?.status === 'completed' && Date.now() > job.expiresAt) break;
        await new Promise((r) => setTimeout(r, 100));
      }
      expect(await short.runtime.worker.sweep()).toBe(1);
      expect(await short.runtime.store.jobs.getJob(id)).toBeUndefined();
      await short.runtime.audit.flush();
      const expired = await short.runtime.audit.list({ action: 'export.expire' });
      expect(expired).toEqual([expect.objectContaining({ jobId: id, tenant: T, clientId: c.clientId, outcome: 'success' })]);
      expect((await short.runtime.audit.list({ patient: 'px', action: 'export.kickoff' })).map((e) => e.jobId)).toEqual([id]);
    } finally {
      await short.close();
    }
  });
});
