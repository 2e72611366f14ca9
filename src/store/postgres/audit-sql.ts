import type { AuditQuery, NewAuditEvent } from '../ports.js';
import { AUDIT_MAX_PAGE, AUDIT_PAGE, auditWhere } from '../rows.js';
import { Params, type Sql } from './db.js';

/** The SQL of the PostgreSQL audit store. */

/** Appends records in one statement (one array per column). */
export const appendEvents = (events: NewAuditEvent[]): Sql => ({
  text: `INSERT INTO audit_events (at, action, outcome, status, tenant, client_id, source, job_id, request, detail)
    SELECT * FROM unnest($1::bigint[], $2::text[], $3::text[], $4::int[], $5::text[], $6::text[], $7::text[], $8::text[], $9::text[], $10::text[])`,
  values: [
    events.map((e) => e.at),
    events.map((e) => e.action),
    events.map((e) => e.outcome),
    events.map((e) => e.status),
    events.map((e) => e.tenant),
    events.map((e) => e.clientId),
    events.map((e) => e.source),
    events.map((e) => e.jobId),
    events.map((e) => e.request),
    events.map((e) => e.detail),
  ],
});

export function listEvents(q: AuditQuery): Sql {
  const p = new Params();
  const where = auditWhere(q, (v) => p.add(v));
  const limit = p.add(Math.min(Math.max(q.limit ?? AUDIT_PAGE, 1), AUDIT_MAX_PAGE), 'int');
  return { text: `SELECT e.* FROM audit_events e ${where} ORDER BY e.id DESC LIMIT ${limit}`, values: p.values };
}

export function countEvents(q: Omit<AuditQuery, 'beforeId' | 'limit'>): Sql {
  const p = new Params();
  return { text: `SELECT count(*)::bigint AS n FROM audit_events e ${auditWhere(q, (v) => p.add(v))}`, values: p.values };
}

export const addJobPatients = (tenant: string, jobId: string, patientIds: string[], at: number): Sql => ({
  text: `INSERT INTO audit_job_patients (patient_id, job_id, tenant, at)
    SELECT u.patient_id, $2, $3, $4 FROM unnest($1::text[]) AS u(patient_id)
    ON CONFLICT DO NOTHING`,
  values: [patientIds, jobId, tenant, at],
});

export const jobsOfPatient = (patientId: string, tenant?: string): Sql =>
  tenant === undefined
    ? { text: 'SELECT job_id FROM audit_job_patients WHERE patient_id = $1', values: [patientId] }
    : { text: 'SELECT job_id FROM audit_job_patients WHERE patient_id = $1 AND tenant = $2', values: [patientId, tenant] };

export const purgeJobPatients = (before: number): Sql => ({ text: 'DELETE FROM audit_job_patients WHERE at < $1', values: [before] });
export const purgeEvents = (before: number): Sql => ({ text: 'DELETE FROM audit_events WHERE at < $1', values: [before] });
