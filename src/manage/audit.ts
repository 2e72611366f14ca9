import { invalid } from '../fhir/errors.js';
import type { AuditEvent, AuditOutcome, AuditQuery } from '../store/ports.js';
import { AUDIT_MAX_PAGE } from '../store/rows.js';
import type { AuditTrail } from './audit-trail.js';
import type { AuditEventView, ClientActivity } from './views.js';

/**
 * Reading the audit trail (`flatfhir audit list`, `/admin/audit`): the query from user input, the JSON view of a
 * record, the FHIR AuditEvent view (a searchset Bundle), and a client's activity.
 */

/** A query as the CLI and the admin API take it (text values). */
export interface AuditQueryInput {
  tenant?: string | undefined;
  client?: string | undefined;
  patient?: string | undefined;
  job?: string | undefined;
  action?: string | undefined;
  outcome?: string | undefined;
  /** Instants (ISO 8601, or a date): from inclusive, to exclusive. */
  from?: string | undefined;
  to?: string | undefined;
  /** The next page: records with an id below this one. */
  before?: string | number | undefined;
  limit?: string | number | undefined;
}

function instant(value: string, name: string): number {
  const t = Date.parse(value);
  if (!/^\d{4}-\d{2}-\d{2}/.test(value) || Number.isNaN(t)) throw invalid(`${name} must be an ISO 8601 date or instant, e.g. 2026-01-31 or 2026-01-31T12:00:00Z.`);
  return t;
}

function positive(value: string | number, name: string, max = Number.MAX_SAFE_INTEGER): number {
  const n = typeof value === 'number' ? value : Number(value);
  if (!Number.isSafeInteger(n) || n < 1 || n > max) throw invalid(`${name} must be a whole number from 1 to ${max}.`);
  return n;
}

/**
 * The store query for user input. With a patient and no action, the query names the jobs whose patient set held
 * that patient: their accepted kick-offs (one record per job).
 */
export function auditQuery(input: AuditQueryInput): AuditQuery {
  const q: AuditQuery = {};
  const text = (v: string | undefined): string | undefined => (v === undefined || v === '' ? undefined : v);
  const tenant = text(input.tenant);
  if (tenant !== undefined) q.tenant = tenant;
  const client = text(input.client);
  if (client !== undefined) q.clientId = client;
  const patient = text(input.patient);
  if (patient !== undefined) q.patient = patient.replace(/^Patient\//, '');
  const job = text(input.job);
  if (job !== undefined) q.jobId = job;
  const action = text(input.action);
  if (action !== undefined) {
    if (!/^[a-z]+(\.[a-z-]+)*$/.test(action)) throw invalid(`action "${action}" is not an action name (e.g. export.kickoff, token, admin).`);
    q.action = action;
  }
  const outcome = text(input.outcome);
  if (outcome !== undefined) {
    if (outcome !== 'success' && outcome !== 'failure') throw invalid('outcome must be success or failure.');
    q.outcome = outcome as AuditOutcome;
  }
  if (q.patient !== undefined && q.action === undefined) {
    q.action = 'export.kickoff';
    q.outcome ??= 'success';
  }
  const from = text(input.from);
  if (from !== undefined) q.from = instant(from, 'from');
  const to = text(input.to);
  if (to !== undefined) q.to = instant(to, 'to');
  if (input.before !== undefined && input.before !== '') q.beforeId = positive(input.before, 'before');
  if (input.limit !== undefined && input.limit !== '') q.limit = positive(input.limit, 'limit', AUDIT_MAX_PAGE);
  return q;
}

export type { AuditEventView, ClientActivity } from './views.js';

export const auditEventView = (e: AuditEvent): AuditEventView => ({
  id: e.id,
  time: new Date(e.at).toISOString(),
  action: e.action,
  outcome: e.outcome,
  status: e.status,
  tenant: e.tenant,
  client_id: e.clientId,
  source: e.source,
  job_id: e.jobId,
  request: e.request,
  detail: e.detail,
});

export const AUDIT_ACTION_SYSTEM = 'urn:flatfhir:audit-action';
export const CLIENT_ID_SYSTEM = 'urn:flatfhir:client-id';
export const EXPORT_JOB_SYSTEM = 'urn:flatfhir:export-job';
const DCM = 'http://dicom.nema.org/resources/ontology/DCM';

/** The AuditEvent type and CRUDE action of a record's action. */
function classify(action: string): { type: Record<string, string>; code: 'C' | 'R' | 'U' | 'D' | 'E' } {
  if (action === 'token') return { type: { system: DCM, code: '110114', display: 'User Authentication' }, code: 'E' };
  if (action.startsWith('export.')) {
    const type = { system: DCM, code: '110106', display: 'Export' };
    if (action === 'export.status' || action === 'export.download') return { type, code: 'R' };
    if (action === 'export.delete' || action === 'export.expire') return { type, code: 'D' };
    return { type, code: 'E' };
  }
  const type = { system: 'http://terminology.hl7.org/CodeSystem/audit-event-type', code: 'rest', display: 'RESTful Operation' };
  if (/\.(create|register|add-members)$/.test(action)) return { type, code: 'C' };
  if (/\.(remove|purge|cancel|delete)$/.test(action)) return { type, code: 'D' };
  return { type, code: 'U' };
}

/** A record as a FHIR R4 AuditEvent. */
export function toFhirAuditEvent(e: AuditEvent): Record<string, unknown> {
  const { type, code } = classify(e.action);
  const failed = e.outcome === 'failure';
  const agent: Record<string, unknown> = {
    type: { coding: [{ system: 'http://terminology.hl7.org/CodeSystem/extra-security-role-type', code: 'datacollector' }] },
    who: e.clientId ? { identifier: { system: CLIENT_ID_SYSTEM, value: e.clientId } } : { display: e.source === 'cli' ? 'operator (command line)' : 'unidentified caller' },
    requestor: true,
    ...(e.source && e.source !== 'cli' ? { network: { address: e.source, type: /^[0-9a-f:.]+$/i.test(e.source) ? '2' : '1' } } : {}),
  };
  const entity: Record<string, unknown>[] = [];
  if (e.jobId || e.request) {
    entity.push({
      ...(e.jobId ? { what: { identifier: { system: EXPORT_JOB_SYSTEM, value: e.jobId } } } : {}),
      type: { system: 'http://terminology.hl7.org/CodeSystem/audit-entity-type', code: '2', display: 'System Object' },
      ...(e.request ? { detail: [{ type: 'request', valueString: e.request }] } : {}),
    });
  }
  return {
    resourceType: 'AuditEvent',
    id: String(e.id),
    type,
    subtype: [{ system: AUDIT_ACTION_SYSTEM, code: e.action }],
    action: code,
    recorded: new Date(e.at).toISOString(),
    outcome: failed ? ((e.status ?? 500) >= 500 ? '8' : '4') : '0',
    ...(e.detail ? { outcomeDesc: e.detail } : {}),
    agent: [agent],
    source: {
      ...(e.tenant ? { site: e.tenant } : {}),
      observer: { display: 'flatfhir' },
      type: [{ system: 'http://terminology.hl7.org/CodeSystem/security-source-type', code: '4', display: 'Application Server' }],
    },
    ...(entity.length > 0 ? { entity } : {}),
  };
}

/** Records as a searchset Bundle of AuditEvent, with a `next` link when a further page may exist. */
export function auditBundle(events: AuditEvent[], total: number, self: string, next?: string): Record<string, unknown> {
  return {
    resourceType: 'Bundle',
    type: 'searchset',
    total,
    link: [{ relation: 'self', url: self }, ...(next ? [{ relation: 'next', url: next }] : [])],
    entry: events.map((e) => ({ fullUrl: `urn:flatfhir:audit-event:${e.id}`, resource: toFhirAuditEvent(e), search: { mode: 'match' } })),
  };
}

/** A client's activity from the audit trail: its last token, its last accepted export, its failed token requests in the last hour. */
export async function clientActivity(audit: Pick<AuditTrail, 'list' | 'count'>, clientId: string, now: number): Promise<ClientActivity> {
  const [token, kickoff, failures] = await Promise.all([
    audit.list({ clientId, action: 'token', outcome: 'success', limit: 1 }),
    audit.list({ clientId, action: 'export.kickoff', outcome: 'success', limit: 1 }),
    audit.count({ clientId, action: 'token', outcome: 'failure', from: now - 3_600_000 }),
  ]);
  const lastExport = kickoff[0];
  return {
    last_token_issued: token[0] ? new Date(token[0].at).toISOString() : null,
    last_export: lastExport ? { time: new Date(lastExport.at).toISOString(), job_id: lastExport.jobId, request: lastExport.request } : null,
    failed_authentications_last_hour: failures,
  };
}
