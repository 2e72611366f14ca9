import { Command } from 'commander';
import { auditBundle, auditEventView, auditQuery, type AuditQueryInput } from '../manage/audit.js';
import { FhirError } from '../fhir/errors.js';
import type { AdminCommandIo } from './jobs-command.js';
import { commandConfig, openStoreFor, storeOptions } from './shared.js';
import { formatTable } from './table.js';

/**
 * `flatfhir audit list`: the audit trail, newest first.
 *
 *   flatfhir audit list [--tenant T] [--client C] [--patient P] [--job J] [--action A] [--outcome success|failure]
 *                       [--from DATE] [--to DATE] [--limit N] [--json | --fhir]
 *
 * With --patient (and no --action): the jobs whose patient set held that patient, one line per job.
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
      const store = await openStoreFor(commandConfig(list));
      try {
        const events = await store.audit.list(query);
        if (options.fhir) {
          const { beforeId: _b, limit: _l, ...counted } = query;
          out.write(`${JSON.stringify(auditBundle(events, await store.audit.count(counted), 'flatfhir audit list'), null, 2)}\n`);
        } else if (options.json) {
          out.write(`${JSON.stringify(events.map(auditEventView), null, 2)}\n`);
        } else if (query.patient !== undefined && options.action === undefined) {
          out.write(formatTable(['TIME', 'JOB', 'TENANT', 'CLIENT', 'REQUEST'], events.map((e) => [new Date(e.at).toISOString(), e.jobId ?? '', e.tenant ?? '', e.clientId ?? '', e.request ?? ''])));
        } else {
          out.write(
            formatTable(
              ['TIME', 'ACTION', 'OUTCOME', 'STATUS', 'TENANT', 'CLIENT', 'SOURCE', 'JOB', 'DETAIL'],
              events.map((e) => [
                new Date(e.at).toISOString(),
                e.action,
                e.outcome,
                e.status === null ? '' : String(e.status),
                e.tenant ?? '',
                e.clientId ?? '',
                e.source ?? '',
                e.jobId ?? '',
                e.detail ?? '',
              ]),
            ),
          );
        }
      } finally {
        await store.close();
      }
    });
  storeOptions(list);
  return audit;
}
