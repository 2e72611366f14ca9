import { Command } from 'commander';
import { createAuditTrail } from '../manage/audit-trail.js';
import { createJobsAdmin, type JobDetailView, type JobsAdmin, parseStates } from '../manage/jobs.js';
import type { Config } from '../config/index.js';
import { FhirError } from '../fhir/errors.js';
import { commandConfig, configFlags, openStoreFor, storeOptions } from './shared.js';
import { formatBytes, formatTable } from './table.js';

export interface AdminCommandIo {
  stdout?: { write(text: string): unknown };
}

const STORAGE_KEYS = ['storage.url', 'storage.s3.endpoint', 'storage.s3.region', 'storage.s3.forcePathStyle'];

/** Runs `fn` with the jobs service over the store (and object storage) a command's configuration names. */
async function withJobs<T>(config: Config, fn: (jobs: JobsAdmin) => Promise<T>): Promise<T> {
  const store = await openStoreFor(config);
  const { openStorage } = await import('../storage/open.js');
  const { pino } = await import('pino');
  const log = pino({ level: config.logLevel === 'info' ? 'warn' : config.logLevel }, process.stderr);
  const storage = await openStorage(config, store.keys);
  const audit = createAuditTrail({ store: store.audit, log });
  try {
    return await fn(createJobsAdmin({ jobs: store.jobs, storage, audit, log }));
  } catch (e) {
    if (e instanceof FhirError) throw new Error(e.message);
    throw e;
  } finally {
    await audit.flush();
    await storage.close();
    await store.close();
  }
}

/** What `jobs show` prints without --json. */
export function formatJob(j: JobDetailView): string {
  const lines = [
    `job         ${j.id}`,
    `state       ${j.state}${j.error ? ` (${j.error})` : ''}`,
    `tenant      ${j.tenant}`,
    `client      ${j.client_id}`,
    `kind        ${j.kind}`,
    `request     ${j.request}`,
    `parameters  ${JSON.stringify(j.parameters)}`,
    `progress    ${j.progress.done} of ${j.progress.total} resources`,
    `chunks      ${Object.entries(j.chunks).map(([k, v]) => `${v} ${k}`).join(', ') || 'none'}`,
    `created     ${j.timings.created_at}`,
    `snapshot    ${j.transaction_time}`,
    `completed   ${j.timings.completed_at ?? '-'}${j.timings.duration_ms !== null ? ` (${(j.timings.duration_ms / 1000).toFixed(1)} s)` : ''}`,
    `expires     ${j.timings.expires_at}`,
    `files       ${j.totals.files} (${j.totals.resources} resources, ${formatBytes(j.totals.bytes)})`,
  ];
  let out = `${lines.join('\n')}\n`;
  if (j.files.length > 0) {
    out += `\n${formatTable(['KIND', 'TYPE', 'COUNT', 'BYTES', 'FILE'], j.files.map((f) => [f.kind, f.type, String(f.count), String(f.bytes), f.id]))}`;
  }
  if (j.errors.length > 0) {
    out += `\nerrors\n${j.errors.map((e) => `  chunk ${e.seq} (${e.type}, ${e.state}, ${e.attempts} attempts): ${e.error}`).join('\n')}\n`;
  }
  return out;
}

/**
 * `flatfhir jobs …`: every export job of the store, for an operator.
 *
 *   flatfhir jobs list [--tenant T] [--client C] [--state in-progress,completed,failed,deleted] [--json]
 *   flatfhir jobs show <job-id> [--json]
 *   flatfhir jobs cancel <job-id>
 *   flatfhir jobs purge --completed-before DATE
 */
export function jobsCommand(io: AdminCommandIo = {}): Command {
  const out = io.stdout ?? process.stdout;
  const print = (value: unknown): void => {
    out.write(`${JSON.stringify(value, null, 2)}\n`);
  };
  const jobs = new Command('jobs').description('List, inspect, cancel and purge export jobs (every tenant and client)');

  const list = jobs
    .command('list')
    .description('List export jobs, newest first')
    .option('--tenant <tenant>', 'only this tenant')
    .option('--client <client-id>', 'only this client')
    .option('--state <states>', 'only these states, comma-separated: in-progress, completed, failed, deleted')
    .option('--limit <n>', 'at most this many', '1000')
    .option('--json', 'print JSON')
    .action(async (options: { tenant?: string; client?: string; state?: string; limit: string; json?: boolean }) => {
      const limit = Number(options.limit);
      if (!Number.isSafeInteger(limit) || limit < 1) throw new Error('--limit must be a positive whole number.');
      let states;
      try {
        states = parseStates(options.state);
      } catch (e) {
        throw new Error((e as Error).message);
      }
      await withJobs(commandConfig(list), async (admin) => {
        const found = await admin.list({
          ...(options.tenant !== undefined ? { tenant: options.tenant } : {}),
          ...(options.client !== undefined ? { clientId: options.client } : {}),
          ...(states ? { states } : {}),
          limit,
        });
        if (options.json) return print(found);
        out.write(
          formatTable(
            ['JOB', 'STATE', 'TENANT', 'CLIENT', 'KIND', 'CREATED', 'PROGRESS'],
            found.map((j) => [j.id, j.state, j.tenant, j.client_id, j.kind, j.created_at, `${j.progress.done}/${j.progress.total}`]),
          ),
        );
      });
    });
  storeOptions(list);

  const show = jobs
    .command('show')
    .description('Show a job: parameters, state, progress, files with counts and bytes, errors, timings')
    .argument('<job-id>')
    .option('--json', 'print JSON')
    .action(async (id: string, options: { json?: boolean }) => {
      await withJobs(commandConfig(show), async (admin) => {
        const job = await admin.show(id);
        if (options.json) print(job);
        else out.write(formatJob(job));
      });
    });
  storeOptions(show);

  const cancel = jobs
    .command('cancel')
    .description('Cancel a job (in progress or finished): it is deleted and its files removed; its status URL answers 404')
    .argument('<job-id>')
    .action(async (id: string) => {
      await withJobs(commandConfig(cancel), async (admin) => print(await admin.cancel(id, { source: 'cli', request: `flatfhir jobs cancel ${id}` })));
    });
  configFlags(storeOptions(cancel), STORAGE_KEYS);

  const purge = jobs
    .command('purge')
    .description('Delete the jobs that completed or failed before a date, with their files')
    .requiredOption('--completed-before <date>', 'an ISO 8601 date or instant, e.g. 2026-01-01')
    .action(async (options: { completedBefore: string }) => {
      const before = Date.parse(options.completedBefore);
      if (!/^\d{4}-\d{2}-\d{2}/.test(options.completedBefore) || Number.isNaN(before)) throw new Error('--completed-before must be an ISO 8601 date or instant.');
      await withJobs(commandConfig(purge), async (admin) =>
        print({ purged: await admin.purge(before, { source: 'cli', request: `flatfhir jobs purge --completed-before ${options.completedBefore}` }) }),
      );
    });
  configFlags(storeOptions(purge), STORAGE_KEYS);
  return jobs;
}
