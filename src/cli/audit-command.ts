import { Command } from 'commander';
import { auditBundle, type AuditEventView, auditEventView, auditQuery, type AuditQueryInput } from '../manage/audit.js';
import { FhirError } from '../fhir/errors.js';
import { adminCaller, type RemoteOptions, remoteOptions } from './admin-remote.js';
import type { AdminCommandIo } from './jobs-command.js';
import { commandConfig, openStoreFor, storeOptions } from './shared.js';
import { formatTable } from './table.js';

/**
 * `flatfhir audit list`: the audit trail, newest first.
 *
 *   flatfhir audit list [--tenant T] [--client C] [--patient P] [--job J] [--action A] [--outcome success|failure]
 *                       [--from DATE] [--to DATE] [--limit N] [--json | --fhir]
 *
 * With --patient (and no --action): the jobs whose patient set held that patient, one line per job. On the store
 * (--data, --database-url) or, with --server URL, through a running server's admin API.
 */
export function auditCommand(io: AdminCommandIo = {}): Command {
  const out = io.stdout ?? process.stdout;
  const audit = new Command('audit').description('Query the audit trail (token requests, exports, downloads, deletes, expiries, admin changes)');
  const list = audit
    .command('list')
    .description('List audit records, newest first; with --patient, the export jobs that held that patient')
    .option('--tenant <tenant>', 'only this tenant')
    .option('--client <client-id>', 'only this client')
    .option('--patient <id>', 'only export jobs whose patient set held this patient (Patient/<id> or <id>)')
    .option('--job <job-id>', 'only records of this export job')
    .option('--action <action>', 'an action or a prefix: token, export, export.kickoff, export.download, admin, …')
    .option('--outcome <outcome>', 'success or failure')
    .option('--from <date>', 'at or after this instant (ISO 8601)')
    .option('--to <date>', 'before this instant (ISO 8601)')
    .option('--limit <n>', 'at most this many (up to 1000)', '100')
    .option('--json', 'print JSON')
    .option('--fhir', 'print a FHIR Bundle of AuditEvent')
    .action(async (options: AuditQueryInput & { json?: boolean; fhir?: boolean }) => {
      let query;
      try {
        query = auditQuery(options);
      } catch (e) {
        throw new Error(e instanceof FhirError ? e.message : String(e));
      }
      const config = commandConfig(list);
      const call = adminCaller(list.opts<RemoteOptions>(), config);
      let events: AuditEventView[];
      let bundle: unknown;
      if (call) {
        const q = new URLSearchParams();
        for (const key of ['tenant', 'client', 'patient', 'job', 'action', 'outcome', 'from', 'to', 'limit'] as const) {
          const v = options[key];
          if (v !== undefined) q.set(key, String(v));
        }
        if (options.fhir) {
          q.set('_format', 'fhir');
          bundle = await call('GET', `/admin/audit?${q.toString()}`);
        }
        events = options.fhir ? [] : ((await call('GET', `/admin/audit?${q.toString()}`)) as { events: AuditEventView[] }).events;
      } else {
        const store = await openStoreFor(config);
        try {
          const found = await store.audit.list(query);
          events = found.map(auditEventView);
          if (options.fhir) {
            const { beforeId: _b, limit: _l, ...counted } = query;
            bundle = auditBundle(found, await store.audit.count(counted), 'flatfhir audit list');
          }
        } finally {
          await store.close();
        }
      }
      if (options.fhir) out.write(`${JSON.stringify(bundle, null, 2)}\n`);
      else if (options.json) out.write(`${JSON.stringify(events, null, 2)}\n`);
      else if (query.patient !== undefined && options.action === undefined) {
        out.write(formatTable(['TIME', 'JOB', 'TENANT', 'CLIENT', 'REQUEST'], events.map((e) => [e.time, e.job_id ?? '', e.tenant ?? '', e.client_id ?? '', e.request ?? ''])));
      } else {
        out.write(
          formatTable(
            ['TIME', 'ACTION', 'OUTCOME', 'STATUS', 'TENANT', 'CLIENT', 'SOURCE', 'JOB', 'DETAIL'],
            events.map((e) => [e.time, e.action, e.outcome, e.status === null ? '' : String(e.status), e.tenant ?? '', e.client_id ?? '', e.source ?? '', e.job_id ?? '', e.detail ?? '']),
          ),
        );
      }
    });
  remoteOptions(storeOptions(list));
  return audit;
}
