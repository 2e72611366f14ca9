import type { Pool } from 'pg';
import type { AuditEvent, AuditQuery, AuditStore, NewAuditEvent } from '../ports.js';
import { type AuditRow, toAuditEvent } from '../rows.js';
import * as sql from './audit-sql.js';
import { query, transaction } from './db.js';

/** Patients inserted per statement. */
const PATIENT_BATCH = 5000;

export class PostgresAuditStore implements AuditStore {
  constructor(private readonly pool: Pool) {}

  async append(events: NewAuditEvent[]): Promise<void> {
    if (events.length > 0) await query(this.pool, sql.appendEvents(events));
  }

  async list(q: AuditQuery): Promise<AuditEvent[]> {
    return (await query<AuditRow>(this.pool, sql.listEvents(q))).map(toAuditEvent);
  }

  async count(q: Omit<AuditQuery, 'beforeId' | 'limit'>): Promise<number> {
    const [row] = await query<{ n: number }>(this.pool, sql.countEvents(q));
    return Number(row?.n ?? 0);
  }

  async addJobPatients(tenant: string, jobId: string, patientIds: string[], at: number): Promise<void> {
    for (let i = 0; i < patientIds.length; i += PATIENT_BATCH) {
      await query(this.pool, sql.addJobPatients(tenant, jobId, patientIds.slice(i, i + PATIENT_BATCH), at));
    }
  }

  async jobsOfPatient(patientId: string, tenant?: string): Promise<string[]> {
    return (await query<{ job_id: string }>(this.pool, sql.jobsOfPatient(patientId, tenant))).map((r) => r.job_id);
  }

  async purgeBefore(before: number): Promise<number> {
    return transaction(this.pool, async (client) => {
      await client.query(sql.purgeJobPatients(before));
      return (await client.query(sql.purgeEvents(before))).rowCount ?? 0;
    });
  }
}
