import type Database from 'better-sqlite3';
import type { AuditEvent, AuditQuery, AuditStore, NewAuditEvent } from '../ports.js';
import { AUDIT_COLUMNS, AUDIT_MAX_PAGE, AUDIT_PAGE, type AuditRow, auditValues, auditWhere, toAuditEvent } from '../rows.js';
import { inSlices, writeTransaction } from './write-transaction.js';

export class SqliteAuditStore implements AuditStore {
  constructor(private readonly db: Database.Database) {}

  async append(events: NewAuditEvent[]): Promise<void> {
    if (events.length === 0) return;
    const db = this.db;
    const add = db.prepare(`INSERT INTO audit_events (${AUDIT_COLUMNS.join(', ')}) VALUES (${AUDIT_COLUMNS.map(() => '?').join(', ')})`);
    await writeTransaction(db, () => {
      for (const e of events) add.run(...auditValues(e));
    });
  }

  private where(q: Omit<AuditQuery, 'limit'>): { clause: string; params: unknown[] } {
    const params: unknown[] = [];
    const clause = auditWhere(q, (v) => {
      params.push(v);
      return '?';
    });
    return { clause, params };
  }

  async list(q: AuditQuery): Promise<AuditEvent[]> {
    const { clause, params } = this.where(q);
    const limit = Math.min(Math.max(q.limit ?? AUDIT_PAGE, 1), AUDIT_MAX_PAGE);
    const rows = this.db.prepare(`SELECT e.* FROM audit_events e ${clause} ORDER BY e.id DESC LIMIT ?`).all(...params, limit) as AuditRow[];
    return rows.map(toAuditEvent);
  }

  async count(q: Omit<AuditQuery, 'beforeId' | 'limit'>): Promise<number> {
    const { clause, params } = this.where(q);
    return this.db.prepare(`SELECT count(*) FROM audit_events e ${clause}`).pluck().get(...params) as number;
  }

  async addJobPatients(tenant: string, jobId: string, patientIds: string[], at: number): Promise<void> {
    if (patientIds.length === 0) return;
    const db = this.db;
    const add = db.prepare('INSERT OR IGNORE INTO audit_job_patients (patient_id, job_id, tenant, at) VALUES (?, ?, ?, ?)');
    await inSlices(db, [...patientIds].sort(), (ids) => {
      for (const id of ids) add.run(id, jobId, tenant, at);
    });
  }

  async jobsOfPatient(patientId: string, tenant?: string): Promise<string[]> {
    const rows =
      tenant === undefined
        ? this.db.prepare('SELECT job_id FROM audit_job_patients WHERE patient_id = ?').pluck().all(patientId)
        : this.db.prepare('SELECT job_id FROM audit_job_patients WHERE patient_id = ? AND tenant = ?').pluck().all(patientId, tenant);
    return rows as string[];
  }

  async purgeBefore(before: number): Promise<number> {
    const db = this.db;
    return writeTransaction(db, (): number => {
      db.prepare('DELETE FROM audit_job_patients WHERE at < ?').run(before);
      return db.prepare('DELETE FROM audit_events WHERE at < ?').run(before).changes;
    });
  }
}
