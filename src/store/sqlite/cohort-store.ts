import type Database from 'better-sqlite3';
import type { CohortCriterion } from '../../fhir/member-filter.js';
import { cohortSql } from '../cohort-sql.js';
import type { CohortStore } from '../ports.js';

export class SqliteCohortStore implements CohortStore {
  constructor(private readonly db: Database.Database) {}

  async matchPatients(tenant: string, criteria: CohortCriterion[], limit: number): Promise<string[]> {
    const values: unknown[] = [];
    const text = cohortSql(tenant, criteria, limit, {
      param: (v) => {
        values.push(v);
        return '?';
      },
      contains: (h, n) => `instr(${h}, ${n}) > 0`,
      notDeleted: 'r.deleted = 0',
      index: 'by-value',
    });
    return this.db.prepare(text).pluck().all(...values) as string[];
  }

  async jobPatientIds(jobId: string): Promise<string[]> {
    return this.db.prepare('SELECT patient_id FROM job_patients WHERE job_id = ? ORDER BY patient_id').pluck().all(jobId) as string[];
  }
}
